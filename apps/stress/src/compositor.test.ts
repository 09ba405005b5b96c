/**
 * compositor with KMS scanout: on a second driver that scans out (vmwgfx with display units) the
 * compositor is the device's DRM master and shows every frame on every CRTC (SETCRTC, PAGE_FLIP
 * with events read back), directly from the import or composited into its own dumb buffers;
 * other compositors (vgem, qxl) only check the frames, as before. Every ordered pair runs clean
 * over SCHEDULES schedules with every toggle off, and each path really ran with its checks passed
 * (a wrong errno, a lost, duplicated or foreign event is a userspace check: a splat).
 */
import { baselineFixes } from "@primetime/sim";
import { splatLines } from "@primetime/sim/testing";
import { beforeAll, describe, expect, it } from "vitest";
import type { CampaignConfig } from "./campaign/config.js";
import { runSchedule } from "./campaign/schedule.js";
import { scanoutStats } from "./scenarios/sharing/compositor.js";

const DRIVERS = ["vgem", "qxl", "vmwgfx"];
const PAIRS = DRIVERS.flatMap((a) => DRIVERS.map((b) => `${a}+${b}`));
const SCHEDULES = 30;

const config: CampaignConfig = {
  drivers: DRIVERS,
  fixes: baselineFixes(),
  timeMs: null,
  faults: null,
  shard: null,
  stepLimit: 200_000,
  scenarios: ["compositor"],
  strategy: { strategy: "pct", depth: 3 },
  seeds: SCHEDULES,
  seed: 1,
  bugs: [],
  failFast: false,
};

type Stats = typeof scanoutStats;

const failures: string[] = [];
const byPair = new Map<string, Stats>();
/** Per pair: the tasks that ran (numbers kept: drm-master0, drm-master1). */
const tasks = new Map<string, Set<string>>();
/** Per pair: the step labels of its schedules (arguments aside). */
const labels = new Map<string, Set<string>>();

beforeAll(async () => {
  for (const pair of PAIRS) {
    for (const k of Object.keys(scanoutStats) as (keyof Stats)[]) scanoutStats[k] = {};
    const seen = new Set<string>();
    const steps = new Set<string>();
    for (let i = 0; i < SCHEDULES; i++) {
      const { run } = await runSchedule(config, `compositor@${pair}`, i);
      if (run.outcome !== "ok" || run.splats.length > 0)
        failures.push(`${pair} #${i}: ${run.outcome} ${splatLines(run).join(" | ")} ${run.token}`);
      for (const s of run.trace.steps()) {
        seen.add(s.task);
        steps.add(s.label.replace(/\(.*$/, ""));
      }
    }
    byPair.set(pair, structuredClone(scanoutStats));
    tasks.set(pair, seen);
    labels.set(pair, steps);
  }
}, 900_000);

/**
 * Steps only scanout makes: a nonblocking commit's tail (PAGE_FLIP), the flip event sent, the
 * compositor's read(2) of its DRM fd.
 */
const KMS_LABELS = ["commit_tail", "drm_send_event", "drm_read"];

const n = (rec: Record<string, number>, key: string) => rec[key] ?? 0;

describe("compositor", () => {
  it(`is clean on every ordered driver pair over ${SCHEDULES} schedules each, every toggle off`, () => {
    expect(failures).toEqual([]);
  });

  it("scans out on vmwgfx, directly and composited, every flip's event read once", () => {
    for (const a of DRIVERS) {
      const v = byPair.get(`${a}+vmwgfx`)!;
      // Every frame (2-3 a schedule) is shown.
      expect(n(v.direct, "vmwgfx") + n(v.composited, "vmwgfx"), a).toBeGreaterThanOrEqual(
        2 * SCHEDULES,
      );
      expect(n(v.direct, "vmwgfx"), a).toBeGreaterThan(0);
      expect(n(v.composited, "vmwgfx"), a).toBeGreaterThan(0);
      expect(n(v.refused, "vmwgfx"), a).toBe(0);
      // A modeset per CRTC at the first frame, flips after it, each flip's event read once.
      expect(n(v.modesets, "vmwgfx"), a).toBeGreaterThanOrEqual(SCHEDULES);
      expect(n(v.flips, "vmwgfx"), a).toBeGreaterThan(0);
      expect(n(v.events, "vmwgfx"), a).toBe(n(v.flips, "vmwgfx"));
      for (const k of KMS_LABELS)
        expect(labels.get(`${a}+vmwgfx`)!.has(k), `${a}: ${k}`).toBe(true);
    }
  });

  it("a vgem or qxl compositor only checks its frames, as before: no display call, no event", () => {
    for (const a of DRIVERS)
      for (const b of ["vgem", "qxl"]) {
        const s = byPair.get(`${a}+${b}`)!;
        for (const rec of Object.values(s)) expect(rec, `${a}+${b}`).toEqual({});
        const l = labels.get(`${a}+${b}`)!;
        for (const k of KMS_LABELS) expect(l.has(k), `${a}+${b}: ${k}`).toBe(false);
      }
  });
});
