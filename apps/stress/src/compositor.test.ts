/**
 * compositor with KMS scanout: on a second driver that scans out (qxl with CRTCs, vmwgfx with
 * display units) the compositor is the device's DRM master and shows every frame on every CRTC
 * (SETCRTC, PAGE_FLIP with events read back), directly from the import where the device scans
 * one out (vmwgfx) or composited into its own dumb buffers (drawn; always on qxl, which refuses
 * imports: -EINVAL); vgem compositors only check the frames, as before. Every ordered pair runs
 * clean over SCHEDULES schedules with every toggle off, and each path really ran with its checks
 * passed (a wrong errno, a lost, duplicated or foreign event is a userspace check: a splat). With
 * their fix switches off, two of qxl's known windows show within a few schedules.
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

  it("scans out on qxl by composition (the import refused, -EINVAL) and on vmwgfx directly and composited, every flip's event read once", () => {
    for (const a of DRIVERS) {
      const q = byPair.get(`${a}+qxl`)!;
      // Every frame (2-3 a schedule) is shown: composited, the direct attempts refused.
      expect(n(q.composited, "qxl"), a).toBeGreaterThanOrEqual(2 * SCHEDULES);
      expect(n(q.direct, "qxl"), a).toBe(0);
      expect(n(q.refused, "qxl"), a).toBeGreaterThan(0);
      const v = byPair.get(`${a}+vmwgfx`)!;
      expect(n(v.direct, "vmwgfx") + n(v.composited, "vmwgfx"), a).toBeGreaterThanOrEqual(
        2 * SCHEDULES,
      );
      expect(n(v.direct, "vmwgfx"), a).toBeGreaterThan(0);
      expect(n(v.composited, "vmwgfx"), a).toBeGreaterThan(0);
      expect(n(v.refused, "vmwgfx"), a).toBe(0);
      for (const [st, d] of [
        [q, "qxl"],
        [v, "vmwgfx"],
      ] as const) {
        // A modeset per CRTC at the first frame, flips after it, each flip's event read once.
        expect(n(st.modesets, d), `${a}+${d}`).toBeGreaterThanOrEqual(SCHEDULES);
        expect(n(st.flips, d), `${a}+${d}`).toBeGreaterThan(0);
        expect(n(st.events, d), `${a}+${d}`).toBe(n(st.flips, d));
        for (const k of KMS_LABELS)
          expect(labels.get(`${a}+${d}`)!.has(k), `${a}+${d}: ${k}`).toBe(true);
      }
    }
  });

  it("a vgem compositor only checks its frames, as before: no display call, no event", () => {
    for (const a of DRIVERS) {
      const st = byPair.get(`${a}+vgem`)!;
      for (const rec of Object.values(st)) expect(rec, a).toEqual({});
      const l = labels.get(`${a}+vgem`)!;
      for (const k of KMS_LABELS) expect(l.has(k), `${a}+vgem: ${k}`).toBe(false);
    }
  });

  it("the compositor is its device's DRM master: no display server is started for it", () => {
    // qxl clients need one (QXL_ALLOC is DRM_AUTH), the compositor's qxl device none.
    expect(tasks.get("qxl+qxl")!.has("drm-master0")).toBe(true);
    expect(tasks.get("qxl+qxl")!.has("drm-master1")).toBe(false);
    for (const a of ["vgem", "vmwgfx"])
      expect(
        [...tasks.get(`${a}+qxl`)!].some((t) => t.startsWith("drm-master")),
        a,
      ).toBe(false);
    // The qxl clients' display server is still there, and a vgem device needs none.
    expect(tasks.get("qxl+vgem")!.has("drm-master0")).toBe(true);
    expect(tasks.get("vgem+vgem")!.has("drm-master0")).toBe(false);
  });

  it.each([
    // Two CRTCs' flip tails both destroy the one primary surface (first finds, pct:3 seeds 1-3:
    // qxl+qxl 2, 6, 3; vgem+qxl 4, 2, 8; vmwgfx+qxl 33, 3, 20).
    [
      "qxl.primary-destroy-two-tails",
      2,
      /BUG: kernel NULL pointer dereference in qxl_io_destroy_primary\(\): primary_bo is NULL/,
    ],
    // One CRTC's flip tail cleans up the bo the other CRTC's next flip prepares: both drop its
    // shadow (first finds, seeds 1-3: qxl+qxl 2, 21, 1; vgem+qxl 31, 116, 20; vmwgfx+qxl 6, 30, 21).
    ["qxl.shadow-cleanup-vs-prepare", 2, /ttm_bo_unpin\(qxl_bo##\): WARN_ON_ONCE/],
  ] as const)(
    "qxl+qxl finds the known window %s with its fix switch off (pct:3 seed 1, schedule %i) and not with it on",
    async (window, index, splat) => {
      const open = { ...config, fixes: baselineFixes().filter((f) => f !== window) };
      for (let i = 0; i < index; i++) {
        const { run } = await runSchedule(open, "compositor@qxl+qxl", i);
        expect(run.splats, `${window} #${i}`).toEqual([]);
      }
      const { run } = await runSchedule(open, "compositor@qxl+qxl", index);
      expect(splatLines(run)[0]?.replace(/\d+/g, "#")).toMatch(splat);
      const fixed = await runSchedule(config, "compositor@qxl+qxl", index);
      expect(fixed.run.outcome).toBe("ok");
      expect(fixed.run.splats).toEqual([]);
    },
    120_000,
  );
});
