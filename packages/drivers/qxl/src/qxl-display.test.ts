/**
 * qxl's framebuffers (qxl-display.ts): legacy ADDFB through the GEM framebuffer helpers, and
 * DIRTYFB's ->dirty, qxl_framebuffer_surface_dirty(), which (no bo being the primary surface in
 * the model) takes the modeset lock, reads the bo the framebuffer holds and returns 0.
 */

import {
  DRM_IOCTL_MODE_ADDFB,
  DRM_IOCTL_MODE_DIRTYFB,
  DRM_IOCTL_MODE_RMFB,
  type DrmFramebuffer,
} from "@primetime/gem";
import { EACCES } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import {
  closeFd,
  expectClean,
  gemClose,
  openQxl,
  qxlAlloc,
  runProcess,
  runQxl,
} from "./test-machine.js";

describe("qxl framebuffers (qxl_display.c of v6.12.19 and v6.18.35)", () => {
  it("legacy ADDFB; DIRTYFB is DRM_MASTER's; qxl_framebuffer_surface_dirty() of a non-primary bo returns 0 and leaves nothing held", async () => {
    const got: Record<string, unknown> = {};
    const r = await runQxl(async (m) => {
      await runProcess(m, "client", async (p) => {
        const fd = await openQxl(p, m);
        const h = await qxlAlloc(p, fd, 64 * 4 * 16);
        const or = {
          fb_id: 0,
          width: 64,
          height: 16,
          pitch: 64 * 4,
          bpp: 32,
          depth: 24,
          handle: h,
        };
        got.addfb = await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB, or);
        const dirtyCmd = { fb_id: or.fb_id, flags: 0, color: 0, num_clips: 0, clips_ptr: 0 };
        // the client is not the master (the display server is)
        got.dirtyIoctl = await p.ioctl(fd, DRM_IOCTL_MODE_DIRTYFB, dirtyCmd);
        // ->dirty as DIRTYFB calls it for the master, holding a lookup reference
        const fb = [...m.qxl.device.modeConfig.fbList].find(
          (f: DrmFramebuffer) => f.base.id === or.fb_id,
        )!;
        got.hasDirty = typeof fb.funcs!.dirty;
        got.dirty = await fb.funcs!.dirty!(fb, null, 0, 0, null, 0);
        got.locked = m.qxl.device.modeConfig.connectionMutex.locked;
        got.rm = await p.ioctl(fd, DRM_IOCTL_MODE_RMFB, { fb_id: or.fb_id });
        got.dirtyGone = await p.ioctl(fd, DRM_IOCTL_MODE_DIRTYFB, dirtyCmd);
        got.close = await gemClose(p, fd, h);
        await closeFd(p, fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      addfb: 0,
      dirtyIoctl: -EACCES,
      hasDirty: "function",
      dirty: 0,
      locked: false,
      rm: 0,
      // drm_ioctl_permit() refuses a non-master before the lookup
      dirtyGone: -EACCES,
      close: 0,
    });
  });
});
