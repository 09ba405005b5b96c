/**
 * vmwgfx's memory under pressure in the fuzzer's private runs (`vmwVram`, fuzz-ops-vmw-vram.ts):
 * runs without the option draw as before; with it, each vmwgfx device has a drawn memory
 * configuration and the MOB-filling operations find TTM's known window
 * ttm.walk-put-runs-destroy (a dumb buffer's vmw_bo_free() under EXECBUF's cmdbuf_mutex) with its
 * fix switch off, and are clean with it on.
 */

import { baselineFixes } from "@primetime/sim";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { driverUnderTest as vmwgfx } from "@primetime/vmwgfx";
import { describe, expect, it } from "vitest";
import { fuzzCampaign } from "./campaign.js";
import { fuzzScenario } from "./fuzz.js";
import { vmwFillExpect, vmwVramDriver } from "./fuzz-ops-vmw-vram.js";
import { planScenarioName, privateFromScenarioName, vmwVramFromScenarioName } from "./plan.js";

describe("the vmwVram option", () => {
  it("leaves every driver as it is without the option, and only vmwgfx gets a drawn configuration with it", () => {
    expect(vmwVramDriver(vmwgfx, false)).toBe(vmwgfx);
    expect(vmwVramDriver(vmwgfx, undefined)).toBe(vmwgfx);
    expect(vmwVramDriver(vgem, true)).toBe(vgem);
    const drawn = vmwVramDriver(vmwgfx, true);
    expect(drawn).not.toBe(vmwgfx);
    expect(typeof drawn.registerDrawn).toBe("function");
    expect(vmwgfx.registerDrawn).toBeUndefined();
  });

  it("needs private, and is recorded in the scenario name as ' +priv+vram'", () => {
    expect(() => fuzzScenario({ drivers: [vmwgfx], vmwVram: true })).toThrow(RangeError);
    const name = planScenarioName(undefined, false, "vram", true);
    expect(name).toBe("fuzz +priv+vram +kms");
    expect(privateFromScenarioName(name)).toBe(true);
    expect(vmwVramFromScenarioName(name)).toBe(true);
    expect(vmwVramFromScenarioName("fuzz +priv +kms")).toBe(false);
    expect(privateFromScenarioName("fuzz +priv")).toBe(true);
  });

  it("accepts -ENOMEM from a fill only on a device whose MOB limit is small", () => {
    expect(vmwFillExpect(false, false)).not.toContain(-12);
    expect(vmwFillExpect(true, false)).toContain(-12);
  });

  it("finds the known window ttm.walk-put-runs-destroy with its fix switch off (vmwgfx+vgem, p/r from first seed 1, at schedule 13), and the same schedules are clean with it on", async () => {
    // KNOWN-WINDOWS.md: first finds 13, 33 and 97 on vmwgfx+vgem, 31, 23 and 7 on vmwgfx+qxl
    // from the first seeds 1, 100001 and 200001.
    const window = "ttm.walk-put-runs-destroy";
    const fuzz = { drivers: [vmwgfx, vgem], private: true, vmwVram: true };
    const open = await fuzzCampaign({
      fuzz,
      schedules: 40,
      toggles: baselineFixes().filter((t) => t !== window),
      stopAtFirst: true,
    });
    expect(open.failures[0]?.seed).toBe(13);
    expect(open.failures[0]?.first).toMatch(/possible recursive locking detected/);
    const fixed = await fuzzCampaign({ fuzz, schedules: 13 });
    expect(fixed.failures).toEqual([]);
  }, 300_000);
});
