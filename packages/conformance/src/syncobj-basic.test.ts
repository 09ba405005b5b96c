/**
 * syncobj_basic/basic on a driver that has DRIVER_SYNCOBJ (none of the driver packages does, as
 * in the kernel: vgem, qxl and vmwgfx do not; their suites run the case's EOPNOTSUPP branch). A
 * minimal GEM driver with the feature, built here from the DRM core, runs the IGT subtests.
 */

import {
  DRIVER_GEM,
  DRIVER_RENDER,
  DRIVER_SYNCOBJ,
  type DriverUnderTest,
  drmDevAlloc,
  drmDevRegister,
} from "@primetime/gem";
import { isErr } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import { findCase } from "./cases.js";
import { formatCaseResult } from "./harness.js";

const withSyncobj: DriverUnderTest = {
  name: "syncobjdrv",
  async register(kernel) {
    const dev = await drmDevAlloc({
      name: "syncobjdrv",
      desc: "a GEM driver with DRIVER_SYNCOBJ",
      major: 1,
      minor: 0,
      patchlevel: 0,
      driverFeatures: DRIVER_GEM | DRIVER_RENDER | DRIVER_SYNCOBJ,
    });
    if (isErr(dev)) throw new Error(`drmDevAlloc: ${dev}`);
    const ret = await drmDevRegister(dev, kernel);
    if (ret) throw new Error(`drmDevRegister: ${ret}`);
    return dev;
  },
};

describe("syncobj_basic/basic with DRIVER_SYNCOBJ", () => {
  it("passes IGT's bad-*, valid-cycle, create-signaled and the binary waits, leaking nothing", async () => {
    const r = await findCase(withSyncobj, "syncobj_basic/basic").run();
    expect(r.passed, formatCaseResult(r)).toBe(true);
  });

  it("finds gem.syncobj-handle-to-fd-extra-get (4.14.y's leaked export reference): kmemleak", async () => {
    const r = await findCase(withSyncobj, "syncobj_basic/basic").run({
      toggles: ["gem.syncobj-handle-to-fd-extra-get"],
    });
    expect(r.passed).toBe(false);
    const leaks = r.splats.filter((s) => s.kind === "kmemleak");
    expect(leaks.length, formatCaseResult(r)).toBeGreaterThan(0);
    expect(leaks.some((s) => /^drm_syncobj#/.test(s.object ?? ""))).toBe(true);
  });
});
