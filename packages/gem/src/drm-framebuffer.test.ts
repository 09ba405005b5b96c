import {
  allocationCount,
  EACCES,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOMEM,
  ENOSYS,
  EOPNOTSUPP,
  ERANGE,
  injectedFailures,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  setFailslab,
} from "@primetime/kernel";
import {
  DRM_FORMAT_C1,
  DRM_FORMAT_NV12,
  DRM_FORMAT_RGB888,
  DRM_FORMAT_XBGR2101010,
  DRM_FORMAT_XRGB1555,
  DRM_FORMAT_XRGB8888,
  DRM_FORMAT_XRGB2101010,
} from "@primetime/uapi";
import { describe, expect, it } from "vitest";
import { drmAtomicHelperDirtyfb } from "./drm-damage-helper.js";
import type { DrmDevice } from "./drm-device.js";
import { DRIVER_GEM, DRIVER_MODESET, DRIVER_RENDER, type DrmDriver } from "./drm-driver.js";
import type { DrmFramebufferFuncs } from "./drm-framebuffer.js";
import type { GemObject } from "./drm-gem.js";
import {
  drmGemFbCreate,
  drmGemFbCreateWithFuncs,
  drmGemFbDestroy,
} from "./drm-gem-framebuffer-helper.js";
import {
  createBo,
  drmFileOf,
  expectClean,
  flink,
  gemClose,
  gemOpen,
  handleToFd,
  runMachine,
  runProcess,
  splatText,
  tinyDriver,
  withExtraDevice,
} from "./test-support.js";
import { GEM_FB_WITHOUT_HANDLE_REF } from "./toggles.js";
import {
  DRM_IOCTL_DROP_MASTER,
  DRM_IOCTL_MODE_ADDFB,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CLOSEFB,
  DRM_IOCTL_MODE_DIRTYFB,
  DRM_IOCTL_MODE_GETFB,
  DRM_IOCTL_MODE_GETFB2,
  DRM_IOCTL_MODE_RMFB,
  DRM_MODE_FB_DIRTY_ANNOTATE_COPY,
  DRM_MODE_FB_MODIFIERS,
  type DrmModeFbCmd,
  type DrmModeFbCmd2,
} from "./uapi.js";

/** A tiny driver with DRIVER_MODESET whose ->fb_create is drm_gem_fb_create(). */
function kmsDriver(): DrmDriver {
  return { ...tinyDriver("kms"), driverFeatures: DRIVER_GEM | DRIVER_MODESET | DRIVER_RENDER };
}

/** What a KMS driver sets at load (qxl_modeset_init()'s limits). */
function kmsInit(dev: DrmDevice): void {
  dev.modeConfig.funcs = { fbCreate: drmGemFbCreate };
  dev.modeConfig.maxWidth = 8192;
  dev.modeConfig.maxHeight = 8192;
}

/** ADDFB2 of an XRGB8888 framebuffer 1024 x `height` over `handle` (pitch 4096). */
function fbCmd(handle: number, height = 1, over: Partial<DrmModeFbCmd2> = {}): DrmModeFbCmd2 {
  return {
    fb_id: 0,
    width: 1024,
    height,
    pixel_format: DRM_FORMAT_XRGB8888,
    flags: 0,
    handles: [handle, 0, 0, 0],
    pitches: [4096, 0, 0, 0],
    offsets: [0, 0, 0, 0],
    modifier: [0, 0, 0, 0],
    ...over,
  };
}

/** ADDFB2: the fb id, or -errno. */
async function addFb(p: Process, fd: number, cmd: DrmModeFbCmd2): Promise<number> {
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, cmd);
  return ret < 0 ? ret : cmd.fb_id;
}

/** Legacy ADDFB of `width` x `height` over `handle`: the fb id, or -errno (fb_id as it came back). */
async function addFbLegacy(
  p: Process,
  fd: number,
  handle: number,
  bpp: number,
  depth: number,
  pitch: number,
  got?: { fbId?: number },
): Promise<number> {
  const or: DrmModeFbCmd = { fb_id: 99, width: 1024, height: 4, pitch, bpp, depth, handle };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB, or);
  if (got) got.fbId = or.fb_id;
  return ret < 0 ? ret : or.fb_id;
}

/** DIRTYFB: 0 or -errno. */
function dirtyFb(
  p: Process,
  fd: number,
  fbId: number,
  numClips = 0,
  clipsPtr = 0,
  flags = 0,
): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_MODE_DIRTYFB, {
    fb_id: fbId,
    flags,
    color: 0,
    num_clips: numClips,
    clips_ptr: clipsPtr,
  });
}

/** An anonymous page holding `n` drm_clip_rects (0, 0, 16, 16): its address. */
async function clipsPage(p: Process, n: number): Promise<number> {
  const page = await p.mmap(
    0,
    PAGE_SIZE,
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS,
    -1,
    0,
  );
  const b = new Uint8Array(n * 8);
  const v = new DataView(b.buffer);
  for (let i = 0; i < n; i++) {
    v.setUint16(i * 8 + 4, 16, true);
    v.setUint16(i * 8 + 6, 16, true);
  }
  await p.writeMemory(page, b);
  return page;
}

/** drm_gem_fb_funcs with drm_atomic_helper_dirtyfb() as ->dirty (vmwgfx's choice). */
const dirtyFbFuncs: DrmFramebufferFuncs = {
  destroy: drmGemFbDestroy,
  dirty: drmAtomicHelperDirtyfb,
};

/** RMFB: 0 or -errno. */
function rmFb(p: Process, fd: number, fbId: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_MODE_RMFB, { fb_id: fbId });
}

/** CLOSEFB: 0 or -errno. */
function closeFb(p: Process, fd: number, fbId: number, pad = 0): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_MODE_CLOSEFB, { fb_id: fbId, pad });
}

/** GETFB: the struct as the kernel filled it, or -errno. */
async function getFb(p: Process, fd: number, fbId: number): Promise<DrmModeFbCmd | number> {
  const r: DrmModeFbCmd = {
    fb_id: fbId,
    width: 0,
    height: 0,
    pitch: 0,
    bpp: 0,
    depth: 0,
    handle: 0,
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_GETFB, r);
  return ret < 0 ? ret : r;
}

/** GETFB2: the struct as the kernel filled it, or -errno. */
async function getFb2(p: Process, fd: number, fbId: number): Promise<DrmModeFbCmd2 | number> {
  const r = fbCmd(0, 0, { fb_id: fbId, width: 0, pixel_format: 0, pitches: [0, 0, 0, 0] });
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_GETFB2, r);
  return ret < 0 ? ret : r;
}

/** The object of `handle` in `fd`'s file (looked up under table_lock, no reference). */
async function objectOf(p: Process, fd: number, handle: number): Promise<GemObject> {
  const file = drmFileOf(p, fd);
  await file.tableLock.lock();
  const obj = await file.objectIdr.find(handle);
  await file.tableLock.unlock();
  return obj!;
}

/** The handle_count of `handle`'s object in `fd`'s file. */
async function handleCount(p: Process, fd: number, handle: number): Promise<number> {
  return (await objectOf(p, fd, handle)).handleCount;
}

describe("KMS framebuffers (ADDFB2, RMFB; drm_framebuffer.c of v6.18)", () => {
  it("errno: EOPNOTSUPP without DRIVER_MODESET, EINVAL/ERANGE/ENOENT/EACCES for bad input", async () => {
    const got: Record<string, number> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, kmsDriver(), async (dev) => {
        kmsInit(dev);
        await runProcess(m, "igt", async (p) => {
          const plain = await p.open("/dev/dri/card0", O_RDWR);
          const ph = await createBo(p, plain);
          got.noModeset = await addFb(p, plain, fbCmd(ph));
          got.noModesetRm = await rmFb(p, plain, 1);
          await p.close(plain);

          const fd = await p.open("/dev/dri/card1", O_RDWR);
          const h = await createBo(p, fd, 4);
          got.badFormat = await addFb(p, fd, fbCmd(h, 4, { pixel_format: 0x20202020 }));
          got.zeroWidth = await addFb(p, fd, fbCmd(h, 4, { width: 0 }));
          got.tooWide = await addFb(
            p,
            fd,
            fbCmd(h, 4, { width: 8193, pitches: [8193 * 4, 0, 0, 0] }),
          );
          got.badFlags = await addFb(p, fd, fbCmd(h, 4, { flags: 0x80 }));
          got.noHandle = await addFb(p, fd, fbCmd(0, 4));
          got.badPitch = await addFb(p, fd, fbCmd(h, 4, { pitches: [4092, 0, 0, 0] }));
          got.overflow = await addFb(p, fd, fbCmd(h, 4, { pitches: [0x4000_0000, 0, 0, 0] }));
          got.modifierNoFlag = await addFb(p, fd, fbCmd(h, 4, { modifier: [1, 0, 0, 0] }));
          got.unusedPlane = await addFb(
            p,
            fd,
            fbCmd(h, 4, { flags: DRM_MODE_FB_MODIFIERS, handles: [h, h, 0, 0] }),
          );
          got.unknownHandle = await addFb(p, fd, fbCmd(4242, 4));
          got.tooSmall = await addFb(p, fd, fbCmd(h, 5));
          got.nv12Small = await addFb(
            p,
            fd,
            fbCmd(h, 4, {
              pixel_format: DRM_FORMAT_NV12,
              handles: [h, h, 0, 0],
              pitches: [1024, 1024, 0, 0],
              offsets: [0, 4096 * 4 - 1024, 0, 0],
            }),
          );
          got.rmUnknown = await rmFb(p, fd, 77);
          const render = await p.open("/dev/dri/renderD129", O_RDWR);
          got.render = await addFb(p, render, fbCmd(1, 4));
          await p.close(render);
          got.fb = await addFb(p, fd, fbCmd(h, 4));
          // Only the file that created a framebuffer may remove it.
          const other = await p.open("/dev/dri/card1", O_RDWR);
          got.rmOther = await rmFb(p, other, got.fb);
          await p.close(other);
          got.rm = await rmFb(p, fd, got.fb);
          got.rmAgain = await rmFb(p, fd, got.fb);
          got.close = await gemClose(p, fd, h);
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      noModeset: -EOPNOTSUPP,
      noModesetRm: -EOPNOTSUPP,
      badFormat: -EINVAL,
      zeroWidth: -EINVAL,
      tooWide: -EINVAL,
      badFlags: -EINVAL,
      noHandle: -EINVAL,
      badPitch: -EINVAL,
      overflow: -ERANGE,
      modifierNoFlag: -EINVAL,
      unusedPlane: -EINVAL,
      unknownHandle: -ENOENT,
      tooSmall: -EINVAL,
      nv12Small: -EINVAL,
      rmUnknown: -ENOENT,
      render: -EACCES,
      fb: 1,
      rmOther: -ENOENT,
      rm: 0,
      rmAgain: -ENOENT,
      close: 0,
    });
  });

  it("CLOSEFB, GETFB, GETFB2 (v6.12 and v6.18): errno, handles for the current master only", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, kmsDriver(), async (dev) => {
        kmsInit(dev);
        await runProcess(m, "igt", async (p) => {
          const plain = await p.open("/dev/dri/card0", O_RDWR);
          got.noModesetClose = await closeFb(p, plain, 1);
          got.noModesetGet = await getFb(p, plain, 1);
          // drm_mode_getfb2_ioctl() returns -EINVAL, not -EOPNOTSUPP, without DRIVER_MODESET
          got.noModesetGet2 = await getFb2(p, plain, 1);
          await p.close(plain);

          const fd = await p.open("/dev/dri/card1", O_RDWR); // the first opener: master
          const other = await p.open("/dev/dri/card1", O_RDWR);
          const h = await createBo(p, fd, 4);
          const fb = await addFb(p, fd, fbCmd(h, 4));
          got.getUnknown = await getFb(p, fd, 77);
          got.get2Unknown = await getFb2(p, other, 77);
          const mine = (await getFb(p, fd, fb)) as DrmModeFbCmd;
          got.master = mine;
          got.sameObject = (await objectOf(p, fd, mine.handle)) === (await objectOf(p, fd, h));
          got.countAfterGetfb = await handleCount(p, fd, h);
          got.nonMaster = await getFb(p, other, fb);
          const mine2 = (await getFb2(p, fd, fb)) as DrmModeFbCmd2;
          got.master2 = mine2;
          got.nonMaster2 = await getFb2(p, other, fb);
          got.closeMine = await gemClose(p, fd, mine.handle);
          got.closeMine2 = await gemClose(p, fd, mine2.handles[0]!);
          // After DROP_MASTER the file gets handle 0 like any other.
          got.drop = await p.ioctl(fd, DRM_IOCTL_DROP_MASTER, {});
          got.dropped = ((await getFb(p, fd, fb)) as DrmModeFbCmd).handle;

          const nv12 = await addFb(
            p,
            fd,
            fbCmd(h, 4, {
              pixel_format: DRM_FORMAT_NV12,
              handles: [h, h, 0, 0],
              pitches: [1024, 1024, 0, 0],
              offsets: [0, 8192, 0, 0],
            }),
          );
          got.getNv12 = await getFb(p, fd, nv12);
          got.closePad = await closeFb(p, fd, fb, 1);
          got.closeOther = await closeFb(p, other, fb);
          got.closeUnknown = await closeFb(p, fd, 77);
          got.close = await closeFb(p, fd, fb);
          got.closeAgain = await closeFb(p, fd, fb);
          // No plane scans it out: the file's reference was the last, the id is gone.
          got.getClosed = await getFb(p, other, fb);
          await p.close(other);
          await p.close(fd); // drm_fb_release() reaps the NV12 framebuffer
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      noModesetClose: -EOPNOTSUPP,
      noModesetGet: -EOPNOTSUPP,
      noModesetGet2: -EINVAL,
      getUnknown: -ENOENT,
      get2Unknown: -ENOENT,
      master: { fb_id: 1, width: 1024, height: 4, pitch: 4096, bpp: 32, depth: 24, handle: 2 },
      sameObject: true,
      // userspace's handle, the framebuffer's handle reference and GETFB's new handle
      countAfterGetfb: 3,
      nonMaster: { fb_id: 1, width: 1024, height: 4, pitch: 4096, bpp: 32, depth: 24, handle: 0 },
      master2: fbCmd(3, 4, { fb_id: 1, flags: DRM_MODE_FB_MODIFIERS }),
      nonMaster2: fbCmd(0, 4, { fb_id: 1, flags: DRM_MODE_FB_MODIFIERS }),
      closeMine: 0,
      closeMine2: 0,
      drop: 0,
      dropped: 0,
      getNv12: -EINVAL,
      closePad: -EINVAL,
      closeOther: -ENOENT,
      closeUnknown: -ENOENT,
      close: 0,
      closeAgain: -ENOENT,
      getClosed: -ENOENT,
    });
  });

  it("GETFB2 of a two-plane framebuffer over one object: one handle for both planes", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, kmsDriver(), async (dev) => {
        kmsInit(dev);
        await runProcess(m, "igt", async (p) => {
          const fd = await p.open("/dev/dri/card1", O_RDWR);
          const h = await createBo(p, fd, 4);
          const nv12 = await addFb(
            p,
            fd,
            fbCmd(h, 4, {
              pixel_format: DRM_FORMAT_NV12,
              handles: [h, h, 0, 0],
              pitches: [1024, 1024, 0, 0],
              offsets: [0, 8192, 0, 0],
            }),
          );
          const r2 = (await getFb2(p, fd, nv12)) as DrmModeFbCmd2;
          got.handles = r2.handles;
          got.pitches = r2.pitches;
          got.offsets = r2.offsets;
          // the framebuffer's two handle references (one per plane), h, and GETFB2's one
          got.count = await handleCount(p, fd, h);
          got.close = await gemClose(p, fd, r2.handles[0]!);
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      handles: [2, 2, 0, 0],
      pitches: [1024, 1024, 0, 0],
      offsets: [0, 8192, 0, 0],
      count: 4,
      close: 0,
    });
  });

  it("GETFB2 whose second handle creation fails deletes the first (its error path)", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, kmsDriver(), async (dev) => {
        kmsInit(dev);
        await runProcess(m, "igt", async (p) => {
          const fd = await p.open("/dev/dri/card1", O_RDWR);
          const luma = await createBo(p, fd, 4);
          const chroma = await createBo(p, fd, 4);
          const nv12 = await addFb(
            p,
            fd,
            fbCmd(luma, 4, {
              pixel_format: DRM_FORMAT_NV12,
              handles: [luma, chroma, 0, 0],
              pitches: [1024, 1024, 0, 0],
            }),
          );
          // the second idr_alloc() from here on (plane 1's handle) fails
          setFailslab({ failNth: allocationCount() + 2, caches: ["idr_alloc"] });
          got.getfb2 = await getFb2(p, fd, nv12);
          setFailslab(null);
          got.injected = injectedFailures().map((f) => f.what);
          got.lumaCount = await handleCount(p, fd, luma);
          got.chromaCount = await handleCount(p, fd, chroma);
          got.deletedHandle = await gemClose(p, fd, 3);
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      getfb2: -ENOMEM,
      injected: ["idr_alloc"],
      // userspace's and the framebuffer's: GETFB2's handle of plane 0 was deleted again
      lumaCount: 2,
      chromaCount: 2,
      deletedHandle: -EINVAL,
    });
  });

  it("legacy ADDFB (v6.12 and v6.18): drm_driver_legacy_fb_format(), errno, fb_id written back on success only", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, kmsDriver(), async (dev) => {
        kmsInit(dev);
        await runProcess(m, "igt", async (p) => {
          const plain = await p.open("/dev/dri/card0", O_RDWR);
          const ph = await createBo(p, plain, 4);
          got.noModeset = await addFbLegacy(p, plain, ph, 32, 24, 4096);
          await p.close(plain);
          const fd = await p.open("/dev/dri/card1", O_RDWR);
          const h = await createBo(p, fd, 4);
          const failed: { fbId?: number } = {};
          got.badPair = await addFbLegacy(p, fd, h, 32, 16, 4096, failed);
          got.fbIdAfterFailure = failed.fbId;
          got.zero = await addFbLegacy(p, fd, h, 0, 0, 4096);
          got.c1ShortPitch = await addFbLegacy(p, fd, h, 1, 1, 127);
          got.unknownHandle = await addFbLegacy(p, fd, 4242, 32, 24, 4096);
          got.noHandle = await addFbLegacy(p, fd, 0, 32, 24, 4096);
          const render = await p.open("/dev/dri/renderD129", O_RDWR);
          got.render = await addFbLegacy(p, render, 1, 32, 24, 4096);
          await p.close(render);
          const formats: Record<string, unknown> = {};
          for (const [bpp, depth, pitch] of [
            [1, 1, 128],
            [16, 15, 2048],
            [24, 24, 3072],
            [32, 24, 4096],
            [32, 30, 4096],
          ] as const) {
            const id = await addFbLegacy(p, fd, h, bpp, depth, pitch);
            const g = (await getFb(p, fd, id)) as DrmModeFbCmd;
            const g2 = (await getFb2(p, fd, id)) as DrmModeFbCmd2;
            formats[`${bpp}/${depth}`] = [g.bpp, g.depth, g.pitch, g2.pixel_format];
            await gemClose(p, fd, g.handle);
            await gemClose(p, fd, g2.handles[0]!);
            await rmFb(p, fd, id);
          }
          got.formats = formats;
          dev.modeConfig.quirkAddfbPreferXbgr30bpp = true;
          const quirk = await addFbLegacy(p, fd, h, 32, 30, 4096);
          got.quirk = ((await getFb2(p, fd, quirk)) as DrmModeFbCmd2).pixel_format;
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      noModeset: -EOPNOTSUPP,
      badPair: -EINVAL,
      fbIdAfterFailure: 99,
      zero: -EINVAL,
      c1ShortPitch: -EINVAL,
      unknownHandle: -ENOENT,
      noHandle: -EINVAL,
      render: -EACCES,
      formats: {
        "1/1": [1, 1, 128, DRM_FORMAT_C1],
        "16/15": [16, 15, 2048, DRM_FORMAT_XRGB1555],
        "24/24": [24, 24, 3072, DRM_FORMAT_RGB888],
        "32/24": [32, 24, 4096, DRM_FORMAT_XRGB8888],
        "32/30": [32, 30, 4096, DRM_FORMAT_XRGB2101010],
      },
      quirk: DRM_FORMAT_XBGR2101010,
    });
  });

  it("DIRTYFB (v6.12 and v6.18): errno in drm_mode_dirtyfb_ioctl()'s order, -ENOSYS without ->dirty", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, kmsDriver(), async (dev) => {
        kmsInit(dev);
        await runProcess(m, "igt", async (p) => {
          const plain = await p.open("/dev/dri/card0", O_RDWR);
          got.noModeset = await dirtyFb(p, plain, 1);
          await p.close(plain);
          const fd = await p.open("/dev/dri/card1", O_RDWR); // master
          const other = await p.open("/dev/dri/card1", O_RDWR);
          const h = await createBo(p, fd, 4);
          const fb = await addFb(p, fd, fbCmd(h, 4));
          const clips = await clipsPage(p, 3);
          got.notMaster = await dirtyFb(p, other, fb);
          got.unknown = await dirtyFb(p, fd, 77);
          got.countNoPtr = await dirtyFb(p, fd, fb, 1, 0);
          got.ptrNoCount = await dirtyFb(p, fd, fb, 0, clips);
          got.copyOdd = await dirtyFb(p, fd, fb, 3, clips, DRM_MODE_FB_DIRTY_ANNOTATE_COPY);
          got.tooMany = await dirtyFb(p, fd, fb, 257, clips);
          got.negative = await dirtyFb(p, fd, fb, 0x8000_0000, clips);
          got.fault = await dirtyFb(p, fd, fb, 1, 0x10);
          setFailslab({ failNth: allocationCount() + 1, caches: ["kcalloc(drm_clip_rect)"] });
          got.nomem = await dirtyFb(p, fd, fb, 1, clips);
          setFailslab(null);
          // drm_gem_fb_funcs has no ->dirty; unknown flags are masked off, not refused
          got.noDirty = await dirtyFb(p, fd, fb, 3, clips, 0x4);
          got.noDirtyNoClips = await dirtyFb(p, fd, fb);
          // every error path dropped its lookup reference: RMFB frees the framebuffer
          const f = [...dev.modeConfig.fbList][0]!;
          got.refcount = f.base.refcount.read();
          got.rm = await rmFb(p, fd, fb);
          got.left = dev.modeConfig.numFb;
          await p.close(other);
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      noModeset: -EOPNOTSUPP,
      notMaster: -EACCES,
      unknown: -ENOENT,
      countNoPtr: -EINVAL,
      ptrNoCount: -EINVAL,
      copyOdd: -EINVAL,
      tooMany: -EINVAL,
      negative: -EINVAL,
      fault: -EFAULT,
      nomem: -ENOMEM,
      noDirty: -ENOSYS,
      noDirtyNoClips: -ENOSYS,
      refcount: 1,
      rm: 0,
      left: 0,
    });
  });

  it("DIRTYFB through drm_atomic_helper_dirtyfb(): the damage blob takes a mode object id and goes; each allocation's failure is clean", async () => {
    const run = async (failNth: number | null, got: Record<string, unknown>) =>
      runMachine(async (m) => {
        await withExtraDevice(m, kmsDriver(), async (dev) => {
          kmsInit(dev);
          dev.modeConfig.funcs = {
            fbCreate: (d, file, info, cmd) =>
              drmGemFbCreateWithFuncs(d, file, info, cmd, dirtyFbFuncs),
          };
          await runProcess(m, "igt", async (p) => {
            const fd = await p.open("/dev/dri/card1", O_RDWR);
            const h = await createBo(p, fd, 4);
            const fb = await addFb(p, fd, fbCmd(h, 4));
            const clips = await clipsPage(p, 4);
            got.whole = await dirtyFb(p, fd, fb);
            if (failNth !== null) setFailslab({ failNth: allocationCount() + failNth });
            got.copy = await dirtyFb(p, fd, fb, 4, clips, DRM_MODE_FB_DIRTY_ANNOTATE_COPY);
            setFailslab(null);
            got.injected = injectedFailures().map((f) => f.what);
            // the blob's id (2) was freed with it: the next framebuffer gets it
            got.next = await addFb(p, fd, fbCmd(h, 4));
            got.blobs = dev.modeConfig.propertyBlobList.size;
            await p.close(fd);
          });
        });
      });
    const ok: Record<string, unknown> = {};
    expectClean(await run(null, ok));
    expect(ok).toEqual({ whole: 0, copy: 0, injected: [], next: 2, blobs: 0 });
    const failures: unknown[] = [];
    for (let n = 1; n <= 4; n++) {
      const got: Record<string, unknown> = {};
      expectClean(await run(n, got));
      failures.push([got.copy, got.injected]);
    }
    expect(failures).toEqual([
      [-ENOMEM, ["kcalloc(drm_clip_rect)"]],
      [-ENOMEM, ["drm_atomic_state"]],
      [-ENOMEM, ["kcalloc(drm_mode_rect)"]],
      [-ENOMEM, ["drm_property_blob"]],
    ]);
  });

  it("drm_gem_fb_init_with_funcs(): a subsampled plane's size rounds up (drm_format_info_plane_width/height)", async () => {
    // NV12 1024 x 3 over one 4-page object (16384 bytes): plane 1 (CbCr, 2x2 subsampled) is
    // DIV_ROUND_UP(3, 2) = 2 lines of DIV_ROUND_UP(1024, 2) = 512 two-byte pixels, so it needs
    // (2 - 1) * pitch + 1024 + offset bytes: at offset 15360 that is 17408 > 16384 (-EINVAL);
    // at offset 14336 it is 16384, which fits.
    const got: Record<string, number> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, kmsDriver(), async (dev) => {
        kmsInit(dev);
        await runProcess(m, "igt", async (p) => {
          const fd = await p.open("/dev/dri/card1", O_RDWR);
          const h = await createBo(p, fd, 4);
          const nv12 = (offset: number) =>
            fbCmd(h, 3, {
              pixel_format: DRM_FORMAT_NV12,
              handles: [h, h, 0, 0],
              pitches: [1024, 1024, 0, 0],
              offsets: [0, offset, 0, 0],
            });
          got.tooSmall = await addFb(p, fd, nv12(15360));
          got.fits = await addFb(p, fd, nv12(14336));
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({ tooSmall: -EINVAL, fits: 1 });
  });

  it("drm_fb_release() removes the file's framebuffers newest first (ADDFB2's list_add())", async () => {
    const order: number[] = [];
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, kmsDriver(), async (dev) => {
        kmsInit(dev);
        await runProcess(m, "igt", async (p) => {
          const fd = await p.open("/dev/dri/card1", O_RDWR);
          const h = await createBo(p, fd);
          const ids = [await addFb(p, fd, fbCmd(h)), await addFb(p, fd, fbCmd(h))];
          for (const fb of drmFileOf(p, fd).fbs) {
            const destroy = fb.funcs!.destroy;
            const id = fb.base.id; // drm_framebuffer_free() unregisters it before ->destroy
            fb.funcs = {
              destroy: async (x) => {
                order.push(id);
                await destroy(x);
              },
            };
          }
          expect(ids).toEqual([1, 2]);
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(order).toEqual([2, 1]);
  });

  it("a framebuffer holds a handle reference: name and dma-buf outlive the last GEM_CLOSE", async () => {
    const got: Record<string, number | boolean> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, kmsDriver(), async (dev) => {
        kmsInit(dev);
        await runProcess(m, "igt", async (p) => {
          const fd = await p.open("/dev/dri/card1", O_RDWR);
          const h = await createBo(p, fd);
          const name = await flink(p, fd, h);
          const dmaBuf = await handleToFd(p, fd, h);
          const obj = await objectOf(p, fd, h);
          got.before = await handleCount(p, fd, h);
          const fb = await addFb(p, fd, fbCmd(h));
          got.withFb = await handleCount(p, fd, h);
          await gemClose(p, fd, h);
          got.afterClose = obj.handleCount;
          got.dmaBufKept = obj.dmaBuf !== null;
          const h2 = await gemOpen(p, fd, name);
          got.reopened = h2 > 0;
          got.reopenedCount = obj.handleCount;
          await gemClose(p, fd, h2);
          got.rm = await rmFb(p, fd, fb);
          got.afterRm = obj.handleCount;
          got.nameGone = await gemOpen(p, fd, name);
          // A framebuffer left behind is reaped at close (drm_fb_release()).
          const h3 = await createBo(p, fd);
          await addFb(p, fd, fbCmd(h3));
          await p.close(dmaBuf);
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      before: 1,
      withFb: 2,
      afterClose: 1,
      dmaBufKept: true,
      reopened: true,
      reopenedCount: 2,
      rm: 0,
      afterRm: 0,
      nameGone: -ENOENT,
    });
  });

  it(`with ${GEM_FB_WITHOUT_HANDLE_REF.name}: the last GEM_CLOSE drops the name under the framebuffer`, async () => {
    const got: Record<string, number | boolean> = {};
    const r = await runMachine(
      async (m) => {
        await withExtraDevice(m, kmsDriver(), async (dev) => {
          kmsInit(dev);
          await runProcess(m, "igt", async (p) => {
            const fd = await p.open("/dev/dri/card1", O_RDWR);
            const h = await createBo(p, fd);
            const name = await flink(p, fd, h);
            const dmaBuf = await handleToFd(p, fd, h);
            const obj = await objectOf(p, fd, h);
            const fb = await addFb(p, fd, fbCmd(h));
            got.withFb = await handleCount(p, fd, h);
            await gemClose(p, fd, h);
            got.afterClose = obj.handleCount;
            got.dmaBufKept = obj.dmaBuf !== null;
            got.reopen = await gemOpen(p, fd, name);
            got.rm = await rmFb(p, fd, fb);
            await p.close(dmaBuf);
            await p.close(fd);
          });
        });
      },
      { toggles: [GEM_FB_WITHOUT_HANDLE_REF.name] },
    );
    expect(r.outcome, splatText(r)).toBe("ok");
    expect(got).toEqual({
      withFb: 1,
      afterClose: 0,
      dmaBufKept: false,
      reopen: -ENOENT,
      rm: 0,
    });
  });

  /**
   * A buffer is flinked and put in a framebuffer; then one thread closes the buffer's only
   * handle while another opens its name and closes what it got; the framebuffer is removed
   * after both. The name must stay
   * valid until the framebuffer is gone; RMFB of an id the file owns succeeds once. Oracles:
   * refcount, KASAN, the WARNs of drm_framebuffer_free(), kmemleak at the end.
   */
  const scenario = async () => {
    const { Kernel } = await import("@primetime/kernel");
    const kernel = Kernel.boot();
    const m = { kernel, devs: [] };
    await withExtraDevice(m, kmsDriver(), async (dev) => {
      kmsInit(dev);
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        const h = await createBo(p, fd);
        const name = await flink(p, fd, h);
        const fb = await addFb(p, fd, fbCmd(h));
        let closed = false;
        const closer = p.spawnThread("gem_close", async () => {
          if ((await gemClose(p, fd, h)) !== 0) throw new Error("GEM_CLOSE failed");
          closed = true;
        });
        const opener = p.spawnThread("gem_open", async () => {
          const h2 = await gemOpen(p, fd, name);
          if (h2 < 0) throw new Error(`GEM_OPEN of the framebuffer's name: ${h2}`);
          await gemClose(p, fd, h2);
        });
        await opener.join();
        await closer.join();
        if (!closed || (await rmFb(p, fd, fb)) !== 0) throw new Error("RMFB failed");
        await p.close(fd);
      });
    });
    await kernel.checkLeaks();
  };

  it("GEM_CLOSE of the last handle racing GEM_OPEN of its name: clean under PCT, found with the toggle", async () => {
    const { explore, replay } = await import("@primetime/sim/explore");
    const clean = await explore(scenario, { strategy: "pct", depth: 3, schedules: 100, seed: 3 });
    expect(clean.firstFailure?.splats ?? []).toEqual([]);
    expect(clean.schedules).toBe(100);
    const found = await explore(scenario, {
      strategy: "pct",
      depth: 3,
      schedules: 50,
      seed: 1,
      toggles: [GEM_FB_WITHOUT_HANDLE_REF.name],
    });
    expect(found.firstFailure).not.toBeNull();
    expect(splatText(found.firstFailure!)).toMatch(/GEM_OPEN of the framebuffer's name: -2/);
    const again = await replay(found.firstFailure!.token, scenario);
    expect(again.splats.map((x) => x.message)).toEqual(
      found.firstFailure!.splats.map((x) => x.message),
    );
  });
});
