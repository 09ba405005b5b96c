/**
 * The drivers the harness runs its scenarios on: every driver package installed in the
 * workspace that describes itself as a `DriverUnderTest` (the conformance suite's driver
 * description). Today that is vgem; a driver package that registers itself (see the driver
 * contract in CONTRIBUTING) is picked up here, and every scenario that fits it runs on it and on
 * every ordered pair it forms with the other drivers.
 */
import type { DriverUnderTest } from "@primetime/gem";
import { driverUnderTest as vgem } from "@primetime/vgem";

export type { DriverUnderTest } from "@primetime/gem";

/** Every installed driver, by name, sorted. */
export function installedDrivers(): readonly DriverUnderTest[] {
  const all: DriverUnderTest[] = [vgem];
  return [...new Map(all.map((d) => [d.name, d])).values()].sort((a, b) =>
    a.name.localeCompare(b.name),
  );
}

/** The installed driver called `name`, or undefined. */
export function findDriver(name: string): DriverUnderTest | undefined {
  return installedDrivers().find((d) => d.name === name);
}
