/**
 * The harness itself: it must catch a driver that leaks, a driver that cannot import, and a
 * failed userspace check, and report each with a replay token; and the case list must be the
 * IGT subtests plus the cross-driver cases.
 */

import { type DrmDriver, drmDevAlloc, drmDevRegister, drmGemObjectLookup } from "@primetime/gem";
import { isErr } from "@primetime/kernel";
import { replay } from "@primetime/sim";
import { vgemDriver, vgemGemDumbCreate } from "@primetime/vgem";
import { describe, expect, it } from "vitest";
import { CLOSE_ORDERS } from "./cases/prime-cross-driver.js";
import { conformanceCases, findCase } from "./cases.js";
import type { DriverUnderTest } from "./driver-under-test.js";
import { bindCase, type CaseContext, type CaseSpec, SEQUENTIAL_DEFAULTS } from "./harness.js";
import { vgemUnderTest } from "./vgem-under-test.js";

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
  it("lists the IGT subtests and the cross-driver cases", () => {
    const names = conformanceCases(vgemUnderTest, [vgemUnderTest, leaky]).map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "gem_flink_basic/basic",
        "gem_flink_basic/double-flink",
        "gem_flink_basic/bad-flink",
        "gem_flink_basic/bad-open",
        "gem_flink_basic/flink-lifetime",
        "gem_flink_race/flink_name",
        "gem_flink_race/flink_close",
        "prime_self_import/basic-with_one_bo",
        "prime_self_import/basic-with_one_bo_two_files",
        "prime_self_import/basic-with_two_bos",
        "prime_self_import/basic-with_fd_dup",
        "prime_self_import/basic-llseek-size",
        "prime_self_import/basic-llseek-bad",
        "prime_self_import/export-vs-gem_close-race",
        "prime_self_import/reimport-vs-gem_close-race",
        "prime_cross_driver/export-to-vgem",
        "prime_cross_driver/export-to-leaky",
        "prime_cross_driver/import-from-leaky",
      ]),
    );
    // vgem against itself: one direction only.
    expect(names).not.toContain("prime_cross_driver/import-from-vgem");
    expect(new Set(names).size).toBe(names.length);
    const races = conformanceCases(vgemUnderTest)
      .filter((c) => c.race)
      .map((c) => c.name);
    expect(races).toEqual([
      "gem_flink_race/flink_name",
      "gem_flink_race/flink_close",
      "prime_self_import/export-vs-gem_close-race",
      "prime_self_import/export-vs-gem_close-own-handles",
      "prime_self_import/export-vs-gem_close-other-handle-race",
      "prime_self_import/reimport-vs-gem_close-race",
      "dma_buf_poll/poll-vs-fence-replace",
    ]);
  });

  it("closes the cross-driver buffers in 60 distinct orders", () => {
    expect(CLOSE_ORDERS).toHaveLength(60);
    expect(new Set(CLOSE_ORDERS.map((o) => o.join())).size).toBe(60);
    for (const o of CLOSE_ORDERS) {
      expect(o).toContain("dma-buf fd");
      expect(o).toContain("exporter fd");
      expect(o).toContain("importer fd");
    }
  });

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
      name: "selftest/failing-check",
      group: "selftest",
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
