import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as sim from "./index.js";

/**
 * Two copies of @primetime/sim in one process, as npm installs them when two packages ask for
 * different versions: the second copy is the package's sources copied to another directory and
 * imported from there (a distinct module graph, like node_modules/a/node_modules/@primetime/sim).
 */
const copies: string[] = [];
function secondCopy(patch?: (src: string) => void): string {
  // Inside the package so that bare imports (pure-rand) still resolve through its node_modules.
  const dir = mkdtempSync(join(import.meta.dirname, "..", ".copy-test-"));
  copies.push(dir);
  cpSync(import.meta.dirname, join(dir, "src"), {
    filter: (f) => !f.endsWith(".test.ts"),
    recursive: true,
  });
  patch?.(join(dir, "src"));
  return join(dir, "src", "index.ts");
}
afterAll(() => {
  for (const d of copies) rmSync(d, { recursive: true, force: true });
});

/**
 * The kref.rst-style race: a lookup that gets a reference after the count may have hit zero.
 * The harness (tasks) comes from this copy; the "model code" (points, splats) from `copy`.
 */
async function racyLookup(copy: typeof sim): Promise<void> {
  let refs = 1;
  let freed = false;
  const put = sim.spawn("put", async () => {
    await copy.point("refcount_dec_and_test");
    refs--;
    if (refs === 0) {
      await copy.point("kfree");
      freed = true;
    }
  });
  const get = sim.spawn("get", async () => {
    await copy.point("lookup");
    await copy.point("refcount_inc");
    if (freed || refs === 0) copy.report("refcount", "refcount_t: addition on 0; use-after-free.");
    refs++;
  });
  await put.join();
  await get.join();
}

describe("two copies of @primetime/sim in one process", () => {
  it("share the running simulation: model code bound to the second copy keeps its points", async () => {
    const other = (await import(secondCopy())) as typeof sim;
    expect(other.point).not.toBe(sim.point); // really another module instance
    // The simulation comes from this copy, the racing code calls the other copy's point().
    const kinds = new Set<string>();
    let interleavings = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const r = await new sim.Simulation({ seed }).run(() => racyLookup(other));
      for (const s of r.splats) kinds.add(s.kind);
      if (r.steps > 6) interleavings++;
    }
    // Without shared state the other copy's points would resolve at once: no race, no splat.
    expect(kinds).toEqual(new Set(["refcount"]));
    expect(interleavings).toBe(200);
    // And the other way round: inside one of its simulations, this copy sees it as active.
    let seen: unknown = null;
    await new other.Simulation({ seed: 1 }).run(() => {
      seen = sim.activeSimulation();
    });
    expect(seen).toBeInstanceOf(other.Simulation);
  });

  it("share the toggle registry", async () => {
    const other = (await import(secondCopy())) as typeof sim;
    other.defineToggle({
      name: "copytest.shared-registry",
      description: "declared through the second copy",
      fixedBy: "none",
      foundBy: "this test",
      kind: "hypothetical",
      kernels: "none",
    });
    expect(sim.findToggle("copytest.shared-registry")?.description).toBe(
      "declared through the second copy",
    );
  });

  it("refuse to load a copy whose process-state layout differs", async () => {
    const entry = secondCopy((src) => {
      const f = join(src, "process-state.ts");
      writeFileSync(f, readFileSync(f, "utf8").replace("SIM_ABI = 1", "SIM_ABI = 999"));
    });
    await expect(import(entry)).rejects.toThrow(/two incompatible copies/);
  });
});
