/**
 * TTM's lifetime races, one scenario per toggle: with the toggle on, PCT finds it within a
 * bounded number of schedules (refcount "addition on 0", KASAN, kmemleak); with every toggle
 * off, the same scenarios, and one combining eviction, release and mmap lookup, are clean over
 * many PCT seeds and a bounded DFS.
 */

import { formatSplat, type RunResult } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import {
  busyRelease,
  evictBusyVsRelease,
  evictDeleted,
  evictReleaseMmap,
  evictVsRelease,
  ghostMoveRelease,
  mmapVsLastUnref,
} from "./scenarios.js";
import {
  TTM_EVICT_BUSY_PLAIN_GET,
  TTM_EVICT_DELETED_EXTRA_PUT,
  TTM_GHOST_RESV_NOT_FINI,
  TTM_LRU_WALK_PLAIN_GET,
  TTM_MMAP_LOOKUP_PLAIN_GET,
  TTM_RELEASE_RESURRECT_WITH_GET,
} from "./toggles.js";

function splats(r: RunResult): string {
  return r.splats.map((s) => formatSplat(s)).join("\n");
}

const CASES = [
  { toggle: TTM_MMAP_LOOKUP_PLAIN_GET.name, scenario: mmapVsLastUnref, name: "mmap-vs-last-unref" },
  { toggle: TTM_RELEASE_RESURRECT_WITH_GET.name, scenario: busyRelease, name: "busy-release" },
  { toggle: TTM_LRU_WALK_PLAIN_GET.name, scenario: evictVsRelease, name: "evict-vs-release" },
  { toggle: TTM_EVICT_DELETED_EXTRA_PUT.name, scenario: evictDeleted, name: "evict-deleted" },
  {
    toggle: TTM_EVICT_BUSY_PLAIN_GET.name,
    scenario: evictBusyVsRelease,
    name: "evict-busy-vs-release",
  },
  { toggle: TTM_GHOST_RESV_NOT_FINI.name, scenario: ghostMoveRelease, name: "ghost-move-release" },
];

describe("TTM races as toggles", () => {
  for (const c of CASES) {
    it(`${c.toggle}: found by pct in ${c.name}, replayed from its token`, async () => {
      const r = await explore(c.scenario, { toggles: [c.toggle], schedules: 200, seed: 1 });
      expect(r.failures.length).toBe(1);
      const f = r.failures[0]!;
      const text = splats(f);
      expect(text).toMatch(/refcount_t: (addition on 0|underflow)|use-after-free|kmemleak/);
      const again = await replay(f.token, c.scenario, { toggles: [c.toggle] });
      expect(again.traceHash).toBe(f.traceHash);
      expect(splats(again)).toBe(text);
    });
  }

  for (const c of CASES) {
    it(`${c.name} is clean with every toggle off (pct, 150 schedules)`, async () => {
      const r = await explore(c.scenario, { schedules: 150, seed: 7 });
      expect(r.failures.map(splats)).toEqual([]);
    });
  }

  it("eviction racing release and mmap is clean with every toggle off (pct and bounded DFS)", async () => {
    const pct = await explore(evictReleaseMmap, { schedules: 150, seed: 3 });
    expect(pct.failures.map(splats)).toEqual([]);
    const dfs = await explore(evictReleaseMmap, {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 150,
    });
    expect(dfs.failures.map(splats)).toEqual([]);
  });
});
