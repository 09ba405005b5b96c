/**
 * qxl's historic races (toggles.ts): each is found under PCT within a bounded number of
 * schedules with its toggle on, replays exactly from its token, and the same scenario is clean
 * with every toggle off and the known windows' fix switches on (baselineFixes()); with the known
 * window qxl.reap-reserve-without-ctx open, the reaper case shows exactly that window's report.
 */

import { baselineFixes, formatSplat, type RunResult } from "@primetime/sim";
import { explore, replay, type Scenario } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import {
  dumbCreateVsClose,
  execbufferVsReleaseGc,
  isKnownReapRecursion,
  leaseHeldVsSetmaster,
  leaseLookupVsSetmaster,
  releaseBoRollover,
  surfaceReapVsClose,
} from "./test-scenarios.js";
import {
  QXL_DUAL_REFCOUNT,
  QXL_HANDLE_CREATE_UAF,
  QXL_RELEASE_BO_PIN_LEAK,
  QXL_RELEASE_USE_AFTER_FREE,
} from "./toggles.js";

const text = (r: RunResult | null) => (r ? r.splats.map((s) => formatSplat(s)).join("\n") : "none");

interface ToggleCase {
  toggle: string;
  name: string;
  scenario: Scenario;
  finds: RegExp;
  /** PCT schedules the test allows. */
  schedules: number;
}

const CASES: ToggleCase[] = [
  {
    toggle: QXL_DUAL_REFCOUNT.name,
    name: "qxl/surface-reap-vs-close",
    scenario: surfaceReapVsClose,
    finds: /KASAN: slab-use-after-free in qxl_reap_surf/,
    schedules: 60,
  },
  {
    toggle: QXL_HANDLE_CREATE_UAF.name,
    name: "qxl/dumb-create-vs-close",
    scenario: dumbCreateVsClose,
    finds: /KASAN: slab-use-after-free in qxl_mode_dumb_create/,
    schedules: 200,
  },
  {
    toggle: QXL_RELEASE_USE_AFTER_FREE.name,
    name: "qxl/execbuffer-vs-release-gc",
    scenario: execbufferVsReleaseGc,
    finds: /KASAN: slab-use-after-free in qxl_release_fence_buffer_objects/,
    schedules: 200,
  },
  {
    toggle: "gem.lease-held-master-unlocked",
    name: "qxl/lease-held-vs-setmaster",
    scenario: leaseHeldVsSetmaster,
    finds: /KASAN: slab-use-after-free in drm_lease_held/,
    schedules: 100,
  },
  {
    toggle: QXL_RELEASE_BO_PIN_LEAK.name,
    name: "qxl/release-bo-rollover",
    scenario: releaseBoRollover,
    finds: /ttm_bo_release\(qxl_bo#\d+\): WARN_ON_ONCE\(bo->pin_count\)/,
    schedules: 20,
  },
];

describe("qxl historic races", () => {
  for (const c of CASES) {
    it(`${c.toggle}: found by ${c.name} under pct, replayed from its token`, async () => {
      const isFailure = (r: RunResult) => r.splats.some((s) => c.finds.test(formatSplat(s)));
      const res = await explore(c.scenario, {
        strategy: "pct",
        depth: 3,
        schedules: c.schedules,
        seed: 5,
        toggles: [c.toggle],
        scenario: c.name,
        isFailure,
      });
      const first = res.firstFailure;
      expect(first, `not found in ${res.schedules} schedules`).not.toBeNull();
      const again = await replay(first!.token, c.scenario, {
        scenario: c.name,
        toggles: [c.toggle],
      });
      expect(again.traceHash).toBe(first!.traceHash);
      expect(text(again)).toBe(text(first));
    }, 120_000);

    it(`${c.name} is clean with every toggle off (baselineFixes())`, async () => {
      const res = await explore(c.scenario, {
        strategy: "pct",
        depth: 3,
        schedules: 40,
        seed: 9,
        toggles: baselineFixes(),
        scenario: c.name,
      });
      expect(res.firstFailure, text(res.firstFailure)).toBeNull();
      expect(res.schedules).toBe(40);
    }, 120_000);
  }

  it("window gem.lease-held-put-under-idr-mutex open: qxl/lease-lookup-vs-setmaster deadlocks on idr_mutex (lockdep's recursive locking), replayed; clean with baselineFixes()", async () => {
    // PCT depth 3 with every fix switch off reaches it at schedule 59, 12, 42, 23, 2, 6, 11, 12,
    // 30 for seeds 2-10; seed 5 at 23.
    const res = await explore(leaseLookupVsSetmaster, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      seed: 5,
      scenario: "qxl/lease-lookup-vs-setmaster",
    });
    const first = res.firstFailure;
    expect(first, `not found in ${res.schedules} schedules`).not.toBeNull();
    expect(first!.outcome).toBe("deadlock");
    expect(text(first)).toMatch(/possible recursive locking detected[\s\S]*mode_config\.idr_mutex/);
    const again = await replay(first!.token, leaseLookupVsSetmaster, {
      scenario: "qxl/lease-lookup-vs-setmaster",
    });
    expect(again.traceHash).toBe(first!.traceHash);
    const fixed = await explore(leaseLookupVsSetmaster, {
      strategy: "pct",
      depth: 3,
      schedules: 40,
      seed: 9,
      toggles: baselineFixes(),
      scenario: "qxl/lease-lookup-vs-setmaster",
    });
    expect(fixed.firstFailure, text(fixed.firstFailure)).toBeNull();
    expect(fixed.schedules).toBe(40);
  }, 120_000);

  it("window qxl.reap-reserve-without-ctx open: the reaper's recursive-locking report, nothing else", async () => {
    const res = await explore(surfaceReapVsClose, {
      strategy: "pct",
      schedules: 5,
      seed: 2,
      stopOnFailure: false,
      isFailure: (r) => r.splats.length > 0,
    });
    expect(res.failures.length).toBeGreaterThan(0);
    for (const f of res.failures) {
      expect(f.outcome).toBe("ok");
      expect(f.splats.every(isKnownReapRecursion), text(f)).toBe(true);
    }
  }, 120_000);
});
