import { baselineFixes, Simulation } from "@primetime/sim";
import { replay } from "@primetime/sim/explore";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { describe, expect, it } from "vitest";
import { classifyRun, fuzzCampaign, fuzzOne, huntToggles } from "./campaign.js";
import { fuzzScenario } from "./fuzz.js";
import { huntKnownWindows } from "./known-windows.js";
import { DIVERGENCE_PREFIX, FuzzModel, readStamp, stampOf } from "./model.js";

const fuzz = { drivers: [vgem] };

describe("the fuzzer's reference model", () => {
  it("stamps name a buffer; anything else is not a stamp", () => {
    expect(readStamp(stampOf(12345, 3))).toEqual({ id: 12345, pages: 3 });
    expect(readStamp(new Uint8Array(8))).toBeNull();
    expect(readStamp(new Uint8Array(3))).toBeNull();
  });

  it("a divergence is a warn splat with the prefix, counted by classifyRun", async () => {
    const r = await new Simulation({ seed: 1 }).run(() => {
      const m = new FuzzModel();
      m.addName(0, 5, 1);
      expect(m.nameHasNamed(0, 5, 1)).toBe(true);
      expect(m.nameHasNamed(0, 5, 2)).toBe(false);
      m.diverge("GEM_OPEN(name 5) opened buffer 2");
      expect(m.divergences).toHaveLength(1);
    });
    expect(r.splats[0]?.message).toBe(`${DIVERGENCE_PREFIX}GEM_OPEN(name 5) opened buffer 2`);
    expect(classifyRun(r)).toMatchObject({ divergences: 1, splats: 0, leaks: 0, hang: false });
  });
});

describe("fuzzing vgem", () => {
  it("with every toggle off (known windows' fixes on) finds nothing in a bounded campaign", async () => {
    const st = await fuzzCampaign({ fuzz, schedules: 120 });
    expect(st.failures).toEqual([]);
    expect(st).toMatchObject({ splats: 0, exceptions: 0, leaks: 0, divergences: 0, hangs: 0 });
    expect(st.syscalls).toBeGreaterThan(120 * 20);
  });

  it("a run replays from its token, step for step", async () => {
    const r = await fuzzOne(fuzz, 7, "random");
    const again = await replay(r.run.token, fuzzScenario(fuzz), { toggles: baselineFixes() });
    expect(again.traceHash).toBe(r.run.traceHash);
  });

  it("finds prime.cache-without-lock without scenario-specific code, within a bounded budget", async () => {
    const [h] = await huntToggles(fuzz, { budget: 60, toggles: ["prime.cache-without-lock"] });
    expect(h?.found).toBe(true);
    expect(h?.first).toMatch(/dmabufs tree not empty|KASAN|refcount/);
  });

  it("reaches the known sw_sync window with it open, never with its fix switch", async () => {
    const [h] = await huntKnownWindows(120);
    expect(h?.window.name).toBe("sw-sync.signal-get-on-zero");
    expect(h?.found?.splats[0]?.message).toMatch(/refcount_t: addition on 0/);
    expect(h?.firedWithFix).toBe(0);
  });
});
