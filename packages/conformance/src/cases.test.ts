/**
 * The case list, without running anything (running a case needs a driver, and this package
 * depends on none: the harness is tested by the drivers that run the suite, see
 * packages/drivers/vgem/src/conformance-harness.test.ts).
 */

import type { DriverUnderTest } from "@primetime/gem";
import { describe, expect, it } from "vitest";
import { CLOSE_ORDERS } from "./cases/prime-cross-driver.js";
import { conformanceCases } from "./cases.js";
import { CASE_ORIGINS } from "./origins.js";

/** Descriptors that are never registered: listing cases does not boot anything. */
const unused = (name: string): DriverUnderTest => ({
  name,
  register() {
    throw new Error(`${name} is not meant to run`);
  },
});
const stub = unused("stub");
const other = unused("other");

describe("the conformance cases", () => {
  it("say where they come from: an IGT port names its own source file, a derived case says it is not IGT's", () => {
    const cases = conformanceCases(stub, [stub, other]);
    const groups = new Set(cases.map((c) => c.group));
    // No stale entry: every origin belongs to a group that exists.
    expect([...groups].sort()).toEqual(Object.keys(CASE_ORIGINS).sort());
    for (const c of cases) {
      expect(c.origin).toBe(CASE_ORIGINS[c.group]);
      if (c.origin.startsWith("IGT ")) expect(c.origin).toContain(`tests/${c.group}.c`);
      else expect(c.origin).toMatch(/^primetime's own case \(/);
    }
    expect(cases.find((c) => c.group === "kms_fb_handle")?.origin).not.toMatch(/^IGT/);
    expect(cases.find((c) => c.group === "gem_flink_race")?.origin).toBe(
      "IGT tests/gem_flink_race.c",
    );
  });

  it("lists the IGT subtests and the cross-driver cases", () => {
    const names = conformanceCases(stub, [stub, other]).map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "gem_flink_basic/basic",
        "gem_flink_basic/double-flink",
        "gem_flink_basic/bad-flink",
        "gem_flink_basic/bad-open",
        "gem_flink_basic/flink-lifetime",
        "gem_flink_race/flink_name",
        "gem_flink_race/flink_close",
        "gem_change_handle/basic",
        "gem_change_handle/change-vs-gem_close-race",
        "syncobj_basic/basic",
        "kms_addfb_basic/basic",
        "kms_fb_handle/gem_close-vs-gem_open-race",
        "core_master/getunique-vs-setmaster-race",
        "prime_self_import/basic-with_one_bo",
        "prime_self_import/basic-with_one_bo_two_files",
        "prime_self_import/basic-with_two_bos",
        "prime_self_import/basic-with_fd_dup",
        "prime_self_import/basic-llseek-size",
        "prime_self_import/basic-llseek-bad",
        "prime_self_import/export-vs-gem_close-race",
        "prime_self_import/reimport-vs-gem_close-race",
        "prime_cross_driver/export-to-stub",
        "prime_cross_driver/export-to-other",
        "prime_cross_driver/import-from-other",
        "prime_busy/before",
        "prime_busy/before-wait",
        "prime_busy/after",
        "prime_busy/after-wait",
        "prime_busy/hang",
        "prime_busy/hang-wait",
        ...[
          "basic-read",
          "basic-write",
          "basic-gtt",
          "coherency-gtt",
          "basic-fence-read",
          "basic-fence-mmap",
          "sync",
          "busy",
          "wait",
          "fence-wait",
          "fence-read-hang",
          "fence-write-hang",
        ].flatMap((s) => [`prime_vgem/${s}-to-stub`, `prime_vgem/${s}-to-other`]),
      ]),
    );
    // A driver against itself: one direction only.
    expect(names).not.toContain("prime_cross_driver/import-from-stub");
    expect(new Set(names).size).toBe(names.length);
    const races = conformanceCases(stub)
      .filter((c) => c.race)
      .map((c) => c.name);
    expect(races).toEqual([
      "gem_flink_race/flink_name",
      "gem_flink_race/flink_close",
      "gem_change_handle/change-vs-gem_close-race",
      "prime_self_import/export-vs-gem_close-race",
      "prime_self_import/export-vs-gem_close-own-handles",
      "prime_self_import/export-vs-gem_close-other-handle-race",
      "prime_self_import/reimport-vs-gem_close-race",
      "dma_buf_poll/poll-vs-fence-replace",
      "dma_buf_poll/epoll-wait-vs-close",
      "kms_fb_handle/gem_close-vs-gem_open-race",
      "core_master/getunique-vs-setmaster-race",
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
});
