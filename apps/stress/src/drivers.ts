/**
 * The drivers the harness runs its scenarios on: every driver package this app depends on, found
 * by the contract every driver package follows (it exports its `DriverUnderTest` as
 * `driverUnderTest`, see CONTRIBUTING). The list is built when this module loads: each
 * `@primetime/*` dependency of the app's package.json is imported and kept if its
 * `driverUnderTest` export passes `isDriverUnderTest()`. So a new driver is picked up by adding
 * it to `dependencies` (and `pnpm install`); every scenario that fits it then runs on it and on
 * every ordered pair it forms with the other drivers.
 */
import { createRequire } from "node:module";
import { type DriverUnderTest, isDriverUnderTest } from "@primetime/gem";

export type { DriverUnderTest } from "@primetime/gem";

const pkg = createRequire(import.meta.url)("../package.json") as {
  dependencies?: Record<string, string>;
};

async function discover(): Promise<DriverUnderTest[]> {
  const found = new Map<string, DriverUnderTest>();
  for (const name of Object.keys(pkg.dependencies ?? {}).sort()) {
    if (!name.startsWith("@primetime/")) continue;
    const mod = (await import(name)) as { driverUnderTest?: unknown };
    if (isDriverUnderTest(mod.driverUnderTest))
      found.set(mod.driverUnderTest.name, mod.driverUnderTest);
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

const DRIVERS: readonly DriverUnderTest[] = await discover();

/** Every installed driver, by name, sorted. */
export function installedDrivers(): readonly DriverUnderTest[] {
  return DRIVERS;
}

/** The installed driver called `name`, or undefined. */
export function findDriver(name: string): DriverUnderTest | undefined {
  return DRIVERS.find((d) => d.name === name);
}
