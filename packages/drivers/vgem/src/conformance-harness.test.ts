/**
 * The conformance harness itself, tested here because it needs a driver (@primetime/conformance
 * depends on none): it must catch a driver that leaks, a driver that cannot import, and a
 * failed userspace check, and report each with a replay token; and the case list must be the
 * IGT subtests plus the cross-driver cases.
 */

import {
  bindCase,
  type CaseContext,
  type CaseSpec,
  CLOSE_ORDERS,
  findCase,
  SEQUENTIAL_DEFAULTS,
} from "@primetime/conformance";
import {
  type DriverUnderTest,
  type DrmDriver,
  drmDevAlloc,
  drmDevRegister,
  drmGemObjectLookup,
} from "@primetime/gem";
import { isErr } from "@primetime/kernel";
import { replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { vgemUnderTest } from "./driver-under-test.js";
import { vgemDriver, vgemGemDumbCreate } from "./vgem-drv.js";

/** A driver built from vgem's description with some hooks replaced, registered as a bare DrmDevice. */
function variantOf(name: string, patch: Partial<DrmDriver>): DriverUnderTest {
  const driver: DrmDriver = { ...vgemDriver, ...patch, name };
  return {
    name,
    async register(kernel) {
      const dev = await drmDevAlloc(driver);
      if (isErr(dev)) throw new Error(`drmDevAlloc: ${dev}`);
      const ret = await drmDevRegister(dev, kernel);
      if (ret) throw new Error(`drmDevRegister: ${ret}`);
      return dev;
    },
  };
}

/** Its dumb create keeps a lookup reference it never drops: every buffer leaks. */
const leaky = variantOf("leaky", {
  async dumbCreate(file, dev, args) {
    const ret = await vgemGemDumbCreate(file, dev, args);
    if (ret === 0) await drmGemObjectLookup(file, args.handle);
    return ret;
  },
});

/** Cannot import foreign dma-bufs (no gem_prime_import_sg_table). */
const noImport = variantOf("noimport", { gemPrimeImportSgTable: undefined });

describe("the conformance harness", () => {
  it("catches a driver that leaks every buffer (device counters and kmemleak)", async () => {
    const r = await findCase(leaky, "gem_flink_basic/double-flink").run();
    expect(r.passed).toBe(false);
    const kinds = r.splats.map((s) => s.kind);
    expect(kinds).toContain("kmemleak");
    const warn = r.splats.find((s) => s.kind === "warn" && /GEM state leaked/.test(s.message));
    expect(warn?.message).toMatch(/objects 0 -> 1/);
    // The flink name went with the last handle: only the object itself is left.
    expect(warn?.message).not.toMatch(/names/);
    expect(r.failures.join("\n")).toMatch(/unreferenced object vgem_object/);
  });

  it("passes vgem on the same case (the leak is the driver's, not the harness's)", async () => {
    const r = await findCase(vgemUnderTest, "gem_flink_basic/double-flink").run();
    expect(r.passed, r.failures.join("\n")).toBe(true);
    expect(r.schedules).toBe(1);
  });

  it("catches a driver that cannot import a foreign dma-buf", async () => {
    const r = await findCase(noImport, "prime_cross_driver/import-from-vgem", [
      vgemUnderTest,
    ]).run();
    expect(r.passed).toBe(false);
    expect(r.failedVariant).toBe(0);
    expect(r.failures.join("\n")).toMatch(/ioctl\(DRM_IOCTL_PRIME_FD_TO_HANDLE\) failed: EINVAL/);
    // Exporting to vgem works: vgem imports noimport's buffers.
    const ok = await findCase(noImport, "prime_cross_driver/export-to-vgem", [vgemUnderTest]).run({
      seed: 3,
    });
    expect(ok.passed, ok.failures.join("\n")).toBe(true);
    expect(ok.schedules).toBe(CLOSE_ORDERS.length);
  });

  it("explores flink_name exhaustively within one preemption (bounded DFS completes)", async () => {
    const r = await findCase(vgemUnderTest, "gem_flink_race/flink_name").run({
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 1000,
    });
    expect(r.passed, r.failures.join("\n")).toBe(true);
    expect(r.complete).toBe(true);
    expect(r.schedules).toBeGreaterThan(10);
    expect(r.schedules).toBeLessThan(1000);
  });

  it("reports a failed check with its message and a token that replays it", async () => {
    const spec: CaseSpec = {
      // A group with an origin (every bound case needs one, conformance's CASE_ORIGINS): the
      // case is a broken gem_flink_basic check.
      name: "gem_flink_basic/selftest-failing-check",
      group: "gem_flink_basic",
      race: false,
      description: "a check that fails",
      defaults: SEQUENTIAL_DEFAULTS,
      async body(t: CaseContext) {
        const fd = await t.open();
        const h = await t.createBo(fd, 4096);
        await t.expectErrno(fd.gemFlink(h), "ENOENT", "flink of a good handle");
      },
    };
    const c = bindCase(spec, vgemUnderTest);
    const r = await c.run();
    expect(r.passed).toBe(false);
    expect(r.failures.join("\n")).toMatch(/flink of a good handle: expected ENOENT, got success/);
    const again = await replay(r.token!, c.scenario());
    expect(again.splats.map((s) => s.message)).toEqual(r.splats.map((s) => s.message));
    // The crashed process still released everything: no leak on top of the failed check.
    expect(r.splats.some((s) => s.kind === "kmemleak")).toBe(false);
  });
});
