/**
 * ADDFB2 on vmwgfx (vmw_kms_fb_create() of v6.12, vmwgfx-kms.ts): a dumb buffer gives a surface
 * framebuffer (vmw_user_object_lookup()'s dumb surface branch), an ALLOC_BO buffer a buffer
 * framebuffer, a surface handle a surface framebuffer; the errno of an unknown handle (-ESRCH)
 * and of bad sizes and formats (-EINVAL); and the framebuffer's references: its buffer or
 * surface lives while it does and is freed after RMFB and the handle's close, with every run
 * ending in a leak check of the whole machine (kmemleak).
 */

import {
  DRM_FRAMEBUFFER_HAS_HANDLE_REF,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_MODE_ADDFB,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_DIRTYFB,
  DRM_IOCTL_MODE_RMFB,
  DRM_MODE_FB_DIRTY_ANNOTATE_COPY,
  DRM_MODE_FB_MODIFIERS,
  type DrmFramebuffer,
  type DrmModeFbCmd2,
  drmFramebufferReadRefcount,
} from "@primetime/gem";
import {
  EINVAL,
  ENOENT,
  ESRCH,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { rcuBarrier } from "@primetime/rcu";
import { describe, expect, it } from "vitest";
import {
  expectClean,
  mobCreate,
  ok,
  openNode,
  runVmw,
  surfaceCreate,
  surfaceUnref,
  type VmwMachine,
} from "./test-machine.js";
import { VmwBo } from "./vmwgfx-bo.js";
import {
  VMW_PRIMARY_PLANE_FORMATS,
  VmwFramebufferBo,
  VmwFramebufferSurface,
  vmwAnyPlaneHasFormat,
  vmwKmsSrfOk,
} from "./vmwgfx-kms.js";
import { VmwUserSurface } from "./vmwgfx-surface.js";
import { drm_vmw_surface_flag_scanout, drm_vmw_surface_flag_shareable } from "./vmwgfx-uapi.js";

const XRGB8888 = VMW_PRIMARY_PLANE_FORMATS[0]!;
/** DRM_FORMAT_XBGR8888 ('XB24'): known to the core, on no vmwgfx plane. */
const XBGR8888 = 0x34324258;

/** An ADDFB2 request: XRGB8888 `width` x `height` over `handle`, pitch width * 4. */
function fbCmd(handle: number, width: number, height: number, over: Partial<DrmModeFbCmd2> = {}) {
  return {
    fb_id: 0,
    width,
    height,
    pixel_format: XRGB8888,
    flags: 0,
    handles: [handle, 0, 0, 0],
    pitches: [width * 4, 0, 0, 0],
    offsets: [0, 0, 0, 0],
    modifier: [0, 0, 0, 0],
    ...over,
  } satisfies DrmModeFbCmd2;
}

/** DRM_IOCTL_MODE_ADDFB2: the framebuffer id, or -errno. */
async function addfb2(p: Process, fd: number, cmd: DrmModeFbCmd2): Promise<number> {
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, cmd);
  return ret < 0 ? ret : cmd.fb_id;
}

function rmfb(p: Process, fd: number, id: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_MODE_RMFB, { fb_id: id });
}

function gemClose(p: Process, fd: number, handle: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle, pad: 0 });
}

async function flink(p: Process, fd: number, handle: number): Promise<number> {
  const arg = { handle, name: 0 };
  const ret = await p.ioctl(fd, DRM_IOCTL_GEM_FLINK, arg);
  return ret < 0 ? ret : arg.name;
}

/** GEM_OPEN of `name`: the handle (closed again at once), or -errno. */
async function gemOpen(p: Process, fd: number, name: number): Promise<number> {
  const arg = { name, handle: 0, size: 0 };
  const ret = await p.ioctl(fd, DRM_IOCTL_GEM_OPEN, arg);
  if (ret < 0) return ret;
  await gemClose(p, fd, arg.handle);
  return arg.handle;
}

/** MODE_CREATE_DUMB (32 bpp): the handle. */
async function dumb(p: Process, fd: number, width: number, height: number): Promise<number> {
  const arg = { width, height, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
  if (ret < 0) throw new Error(`MODE_CREATE_DUMB: ${ret}`);
  return arg.handle;
}

/** The device's framebuffer of id `id`. */
function fbOf(m: VmwMachine, id: number): DrmFramebuffer {
  const fb = [...m.vmw.device.modeConfig.fbList].find((f) => f.base.id === id);
  if (!fb) throw new Error(`no framebuffer ${id}`);
  return fb;
}

describe("vmwgfx ADDFB2 (vmw_kms_fb_create, v6.12)", () => {
  it("a dumb buffer gives a surface framebuffer holding the buffer, freed after RMFB and GEM_CLOSE", async () => {
    let bo: VmwBo | null = null;
    const r = await runVmw(async (p, m) => {
      const fd = await openNode(p, m.vmw.card);
      const h = await dumb(p, fd, 64, 16);
      const id = await addfb2(p, fd, fbCmd(h, 64, 16));
      expect(id).toBeGreaterThan(0);
      const fb = fbOf(m, id);
      expect(fb).toBeInstanceOf(VmwFramebufferSurface);
      const vfbs = fb as VmwFramebufferSurface;
      // The user object is the buffer (vmw_user_object_surface() = its dumb_surface).
      expect(vfbs.uo.buffer).toBeInstanceOf(VmwBo);
      expect(vfbs.uo.surface).toBeNull();
      bo = vfbs.uo.buffer!;
      expect(bo.isDumb).toBe(true);
      expect(bo.dumbSurface).toBeInstanceOf(VmwUserSurface);
      // No obj[]: drm_framebuffer_init() took no handle reference.
      expect(fb.obj[0]).toBeNull();
      expect(fb.internalFlags).toBe(0);
      // handle + the framebuffer's vmw_user_bo_ref() (the lookup's was dropped).
      expect(bo.refcount.read()).toBe(2);
      expect(await gemClose(p, fd, h)).toBe(0);
      await rcuBarrier();
      expect(bo.freed).toBe(false);
      expect(bo.refcount.read()).toBe(1);
      expect(await rmfb(p, fd, id)).toBe(0);
      await rcuBarrier();
      expect(bo.freed).toBe(true);
      await p.close(fd);
    });
    expectClean(r);
    expect(bo).not.toBeNull();
  });

  it("a dumb buffer's surface framebuffer keeps no flink name: GEM_CLOSE of the last handle releases it (no obj[])", async () => {
    const r = await runVmw(async (p, m) => {
      const fd = await openNode(p, m.vmw.card);
      const h = await dumb(p, fd, 64, 16);
      const name = await flink(p, fd, h);
      expect(name).toBeGreaterThan(0);
      const id = await addfb2(p, fd, fbCmd(h, 64, 16));
      expect(id).toBeGreaterThan(0);
      expect(await gemClose(p, fd, h)).toBe(0);
      expect(await gemOpen(p, fd, name)).toBe(-ENOENT);
      expect(await rmfb(p, fd, id)).toBe(0);
      await p.close(fd);
    });
    expectClean(r);
  });

  it("an ALLOC_BO buffer gives a buffer framebuffer with obj[0] and a handle reference: its flink name lives until RMFB", async () => {
    let bo: VmwBo | null = null;
    const r = await runVmw(async (p, m) => {
      const fd = await openNode(p, m.vmw.card);
      const mob = ok(await mobCreate(p, fd, 64 * 4 * 16), "ALLOC_BO");
      const name = await flink(p, fd, mob.handle);
      expect(name).toBeGreaterThan(0);
      const id = await addfb2(p, fd, fbCmd(mob.handle, 64, 16));
      expect(id).toBeGreaterThan(0);
      const fb = fbOf(m, id);
      expect(fb).toBeInstanceOf(VmwFramebufferBo);
      bo = (fb as VmwFramebufferBo).buffer!;
      expect(fb.obj[0]).toBe(bo);
      expect(fb.internalFlags & DRM_FRAMEBUFFER_HAS_HANDLE_REF(0)).not.toBe(0);
      expect(bo.handleCount).toBe(2); // the file's handle + the framebuffer's
      expect(await gemClose(p, fd, mob.handle)).toBe(0);
      expect(await gemOpen(p, fd, name)).toBeGreaterThan(0);
      expect(await rmfb(p, fd, id)).toBe(0);
      await rcuBarrier();
      expect(bo.freed).toBe(true);
      expect(await gemOpen(p, fd, name)).toBe(-ENOENT);
      await p.close(fd);
    });
    expectClean(r);
    expect(bo).not.toBeNull();
  });

  it("gem.fb-without-handle-ref on: the buffer framebuffer holds no handle reference, the name goes with GEM_CLOSE (the buffer lives on its TTM reference)", async () => {
    const r = await runVmw(
      async (p, m) => {
        const fd = await openNode(p, m.vmw.card);
        const mob = ok(await mobCreate(p, fd, 64 * 4 * 16), "ALLOC_BO");
        const name = await flink(p, fd, mob.handle);
        const id = await addfb2(p, fd, fbCmd(mob.handle, 64, 16));
        const bo = (fbOf(m, id) as VmwFramebufferBo).buffer!;
        expect(fbOf(m, id).internalFlags).toBe(0);
        expect(await gemClose(p, fd, mob.handle)).toBe(0);
        expect(await gemOpen(p, fd, name)).toBe(-ENOENT);
        await rcuBarrier();
        expect(bo.freed).toBe(false);
        expect(await rmfb(p, fd, id)).toBe(0);
        await p.close(fd);
      },
      { toggles: ["gem.fb-without-handle-ref"] },
    );
    expectClean(r);
  });

  it("a surface handle gives a surface framebuffer holding the surface's resource", async () => {
    let srf: VmwUserSurface | null = null;
    const r = await runVmw(async (p, m) => {
      const fd = await openNode(p, m.vmw.card);
      const s = ok(
        await surfaceCreate(
          p,
          fd,
          64,
          null,
          drm_vmw_surface_flag_shareable | drm_vmw_surface_flag_scanout,
        ),
        "GB_SURFACE_CREATE",
      );
      const id = await addfb2(p, fd, fbCmd(s.handle, 64, 1));
      expect(id).toBeGreaterThan(0);
      const fb = fbOf(m, id) as VmwFramebufferSurface;
      expect(fb).toBeInstanceOf(VmwFramebufferSurface);
      expect(fb.uo.buffer).toBeNull();
      srf = fb.uo.surface!;
      expect(srf).toBeInstanceOf(VmwUserSurface);
      expect(fb.obj[0]).toBeNull();
      // base's + the framebuffer's vmw_surface_reference() (the lookup's was dropped).
      expect(srf.res.kref.read()).toBe(2);
      expect(await surfaceUnref(p, fd, s.handle)).toBe(0);
      expect(await gemClose(p, fd, s.bufferHandle)).toBe(0);
      await rcuBarrier();
      expect(srf.freed).toBe(false);
      expect(srf.res.kref.read()).toBe(1);
      expect(drmFramebufferReadRefcount(fb)).toBe(1);
      expect(await rmfb(p, fd, id)).toBe(0);
      await rcuBarrier();
      expect(srf.freed).toBe(true);
      await p.close(fd);
    });
    expectClean(r);
    expect(srf).not.toBeNull();
  });

  it("errno: unknown handle -ESRCH; too small, bad format or modifier, no scanout, bad dimensions -EINVAL; nothing left behind", async () => {
    const r = await runVmw(async (p, m) => {
      const fd = await openNode(p, m.vmw.card);
      // Neither a surface nor a GEM handle of the file: vmw_user_bo_lookup()'s -ESRCH.
      expect(await addfb2(p, fd, fbCmd(4242, 64, 16))).toBe(-ESRCH);
      // Buffer framebuffer: height * pitch beyond the buffer.
      const mob = ok(await mobCreate(p, fd, 4096), "ALLOC_BO");
      expect(await addfb2(p, fd, fbCmd(mob.handle, 64, 32))).toBe(-EINVAL);
      // A format no plane has; a modifier other than LINEAR.
      expect(await addfb2(p, fd, fbCmd(mob.handle, 64, 16, { pixel_format: XBGR8888 }))).toBe(
        -EINVAL,
      );
      expect(
        await addfb2(
          p,
          fd,
          fbCmd(mob.handle, 64, 16, { flags: DRM_MODE_FB_MODIFIERS, modifier: [1, 0, 0, 0] }),
        ),
      ).toBe(-EINVAL);
      // Surface framebuffers: larger than the dumb surface, a bad format, not scanout.
      const h = await dumb(p, fd, 64, 16);
      expect(await addfb2(p, fd, fbCmd(h, 64, 17))).toBe(-EINVAL);
      expect(await addfb2(p, fd, fbCmd(h, 65, 16, { pitches: [64 * 4, 0, 0, 0] }))).toBe(-EINVAL);
      expect(await addfb2(p, fd, fbCmd(h, 64, 16, { pixel_format: XBGR8888 }))).toBe(-EINVAL);
      const s = ok(await surfaceCreate(p, fd, 64, null), "GB_SURFACE_CREATE");
      expect(await addfb2(p, fd, fbCmd(s.handle, 64, 1))).toBe(-EINVAL);
      // Beyond the texture limits: the core's mode_config limits (max_width = texture_max_width).
      expect(await addfb2(p, fd, fbCmd(h, 8193, 1))).toBe(-EINVAL);
      expect(m.vmw.device.modeConfig.numFb).toBe(0);
      await p.close(fd);
    });
    expectClean(r);
  });

  it("framebuffers left behind go with their fd (drm_fb_release), the buffers with them", async () => {
    const r = await runVmw(async (p, m) => {
      const fd = await openNode(p, m.vmw.card);
      const h = await dumb(p, fd, 64, 16);
      const mob = ok(await mobCreate(p, fd, 64 * 4 * 16), "ALLOC_BO");
      expect(await addfb2(p, fd, fbCmd(h, 64, 16))).toBeGreaterThan(0);
      expect(await addfb2(p, fd, fbCmd(mob.handle, 64, 16))).toBeGreaterThan(0);
      expect(m.vmw.device.modeConfig.numFb).toBe(2);
      await p.close(fd);
    });
    expectClean(r);
  });

  it("legacy ADDFB and DIRTYFB (drm_atomic_helper_dirtyfb() on both kinds): 0, the damage blob gone, the framebuffers freed as before", async () => {
    const got: Record<string, number> = {};
    const r = await runVmw(async (p, m) => {
      const fd = await openNode(p, m.vmw.card); // the only opener: master
      const h = await dumb(p, fd, 64, 16);
      const legacy = async (bpp: number, depth: number) => {
        const or = { fb_id: 0, width: 64, height: 16, pitch: 64 * 4, bpp, depth, handle: h };
        const ret = await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB, or);
        return ret < 0 ? ret : or.fb_id;
      };
      // 24/24 is RGB888, on no vmwgfx plane; 32/24 is XRGB8888
      got.rgb888 = await legacy(24, 24);
      const surfaceFb = await legacy(32, 24);
      got.surfaceKind = fbOf(m, surfaceFb) instanceof VmwFramebufferSurface ? 1 : 0;
      const mob = ok(await mobCreate(p, fd, 64 * 4 * 16), "ALLOC_BO");
      const boFb = await addfb2(p, fd, fbCmd(mob.handle, 64, 16));
      const page = await p.mmap(
        0,
        PAGE_SIZE,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
      );
      await p.writeMemory(page, new Uint8Array([0, 0, 0, 0, 16, 0, 16, 0, 0, 0, 0, 0, 8, 0, 8, 0]));
      const dirty = (id: number, n: number, flags = 0) =>
        p.ioctl(fd, DRM_IOCTL_MODE_DIRTYFB, {
          fb_id: id,
          flags,
          color: 0,
          num_clips: n,
          clips_ptr: n ? page : 0,
        });
      got.surfaceWhole = await dirty(surfaceFb, 0);
      got.surfaceClips = await dirty(surfaceFb, 2);
      got.boCopy = await dirty(boFb, 2, DRM_MODE_FB_DIRTY_ANNOTATE_COPY);
      got.blobs = m.vmw.device.modeConfig.propertyBlobList.size;
      got.rm = (await rmfb(p, fd, surfaceFb)) + (await rmfb(p, fd, boFb));
      got.gone = await dirty(surfaceFb, 0);
      await p.close(fd);
    });
    expectClean(r);
    expect(got).toEqual({
      rgb888: -EINVAL,
      surfaceKind: 1,
      surfaceWhole: 0,
      surfaceClips: 0,
      boCopy: 0,
      blobs: 0,
      rm: 0,
      gone: -ENOENT,
    });
  });

  it("vmw_kms_srf_ok() and the planes' formats", () => {
    const vmw = {
      textureMaxWidth: 8192,
      textureMaxHeight: 4096,
      activeDisplayUnit: "screen_target",
    } as const;
    expect(vmwKmsSrfOk(vmw, 8192, 4096)).toBe(true);
    expect(vmwKmsSrfOk(vmw, 8193, 1)).toBe(false);
    expect(vmwKmsSrfOk(vmw, 1, 4097)).toBe(false);
    expect(vmwAnyPlaneHasFormat(XRGB8888, 0)).toBe(true);
    expect(vmwAnyPlaneHasFormat(XRGB8888, 1)).toBe(false);
    expect(vmwAnyPlaneHasFormat(XBGR8888, 0)).toBe(false);
  });
});
