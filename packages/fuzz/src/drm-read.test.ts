import { driverUnderTest as qxl } from "@primetime/qxl";
import { decodeToken } from "@primetime/sim/explore";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { driverUnderTest as vmwgfx } from "@primetime/vmwgfx";
import { describe, expect, it } from "vitest";
import { fuzzCampaign, fuzzLog, fuzzOne, fuzzReplay } from "./campaign.js";
import { type DrmReadStats, drmReadStats } from "./drm-read.js";
import type { FuzzOptions } from "./fuzz.js";
import { drmReadFromScenarioName, kmsFromScenarioName, planScenarioName } from "./plan.js";

/** The calls of a logged run that are the DRM read operations', as `<call> <result>` keys. */
function readCalls(call: string, result: string | undefined): string | null {
  const m = /^(read|fstat)\(/.exec(call);
  if (m) return `${m[1]} ${String(result).split(" ")[0]}`;
  if (/DRM_IOCTL_VMW_FENCE_EVENT/.test(call)) return `FENCE_EVENT ${String(result).split(" ")[0]}`;
  if (/^open\(.*0x80802\)|^open\(.*, 2050\)/.test(call)) return "open O_NONBLOCK";
  return null;
}

describe("fuzz: DRM reads, polls and fstat (drmRead: true)", () => {
  it("the scenario name records the option (' +drmread', after every other suffix)", () => {
    expect(planScenarioName(undefined, false, false, false, true)).toBe("fuzz +drmread");
    const all = planScenarioName(undefined, true, true, true, true);
    expect(all).toBe("fuzz +unix +priv +kms +drmread");
    expect(drmReadFromScenarioName(all)).toBe(true);
    expect(kmsFromScenarioName(all)).toBe(true);
    expect(drmReadFromScenarioName("fuzz +kms")).toBe(false);
    expect(drmReadFromScenarioName("stress +drmread")).toBe(false);
  });

  it("vmwgfx+vmwgfx, PCT seeds 1-12: every run clean, and together they read events, get -EAGAIN, poll, fstat every kind of fd and let the alarm end a sleeping read", async () => {
    const sum: DrmReadStats = {
      opens: 0,
      reads: 0,
      eventsRead: 0,
      blockingReads: 0,
      alarms: 0,
      polls: 0,
      fenceEvents: 0,
      fstats: 0,
    };
    const calls = new Set<string>();
    for (let seed = 1; seed <= 12; seed++) {
      const { log, cls } = await fuzzLog(
        { drivers: [vmwgfx, vmwgfx], drmRead: true, ops: 40 },
        { seed, strategy: "pct" },
      );
      expect(cls, `seed ${seed}`).toMatchObject({ splats: 0, divergences: 0, leaks: 0 });
      const st = drmReadStats()!;
      for (const k of Object.keys(sum) as (keyof DrmReadStats)[]) sum[k] += st[k];
      for (const e of log) {
        const k = readCalls(e.call, e.result);
        if (k !== null) calls.add(k);
      }
    }
    expect(sum.eventsRead).toBeGreaterThan(0);
    expect(sum.alarms).toBeGreaterThan(0);
    expect(sum.fenceEvents).toBeGreaterThan(sum.eventsRead);
    for (const c of ["open O_NONBLOCK", "read -11", "read 24", "fstat 0", "FENCE_EVENT 0"])
      expect([...calls], c).toContain(c);
  }, 300_000);

  it("a +drmread token replays from its scenario name alone; without the option a run issues no read(2) or fstat(2)", async () => {
    const opts: FuzzOptions = { drivers: [vmwgfx, vgem], drmRead: true };
    const one = await fuzzOne(opts, 4, "pct");
    expect(one.failed).toBe(false);
    expect(decodeToken(one.run.token).scenario).toBe("fuzz +drmread");
    const again = await fuzzReplay({ drivers: [vmwgfx, vgem] }, one.run.token);
    expect(again.outcome).toBe("ok");
    expect(again.traceHash).toBe(one.run.traceHash);
    expect(again.steps).toBe(one.run.steps);
    const plain = await fuzzLog({ drivers: [vmwgfx, vgem] }, { seed: 4, strategy: "pct" });
    expect(plain.log.some((e) => /^(read|fstat)\(/.test(e.call))).toBe(false);
    expect(plain.log.some((e) => /FENCE_EVENT/.test(e.call))).toBe(false);
    expect(decodeToken(plain.run.token).scenario).toBe("fuzz");
  }, 120_000);

  it("with every toggle off finds nothing: 200 schedules on each of vmwgfx+vgem, vmwgfx+vmwgfx and qxl+vmwgfx", async () => {
    for (const drivers of [
      [vmwgfx, vgem],
      [vmwgfx, vmwgfx],
      [qxl, vmwgfx],
    ]) {
      const st = await fuzzCampaign({ fuzz: { drivers, drmRead: true }, schedules: 200 });
      expect(st.failures, drivers.map((d) => d.name).join("+")).toEqual([]);
      expect(st).toMatchObject({ splats: 0, exceptions: 0, leaks: 0, divergences: 0, hangs: 0 });
    }
  }, 900_000);
});
