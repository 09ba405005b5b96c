/**
 * The GEM framebuffer helpers (drivers/gpu/drm/drm_gem_framebuffer_helper.c of Linux v6.18):
 * a framebuffer whose planes are GEM objects looked up by handle, for drivers whose
 * ->fb_create is drm_gem_fb_create() or drm_gem_fb_create_with_funcs() (qxl).
 *
 * Each plane's object is held by the lookup's object reference until ->destroy
 * (drm_gem_fb_destroy()) puts it; the handle reference that keeps the object's flink name and
 * dma-buf is drm_framebuffer_init()'s (f6bfc9afc751 moved it there from these helpers, where
 * 5307dce878d4 had first added it).
 */

import { EINVAL, ENOENT, type Errno, isErr, kfree, kmalloc } from "@primetime/kernel";
import { RESOLVED } from "@primetime/sim";
import type { DrmDevice } from "./drm-device.js";
import type { DrmFile } from "./drm-file.js";
import {
  type DrmFormatInfo,
  drmFormatInfoMinPitch,
  drmFormatInfoPlaneHeight,
  drmFormatInfoPlaneWidth,
} from "./drm-fourcc.js";
import {
  DrmFramebuffer,
  type DrmFramebufferFuncs,
  drmFramebufferCache,
  drmFramebufferCleanup,
  drmFramebufferInit,
  drmHelperModeFillFbStruct,
} from "./drm-framebuffer.js";
import {
  drmGemHandleCreate,
  drmGemObjectLookup,
  drmGemObjectPut,
  type GemObject,
} from "./drm-gem.js";
import type { DrmModeFbCmd2 } from "./uapi.js";

/**
 * Models drm_gem_fb_destroy(): puts each plane's object, cleans the framebuffer up and frees it.
 * Locking: none held.
 * References: drops the planes' object references.
 */
export async function drmGemFbDestroy(fb: DrmFramebuffer): Promise<void> {
  for (let i = 0; i < fb.format!.numPlanes; i++) await drmGemObjectPut(fb.obj[i]!);
  await drmFramebufferCleanup(fb);
  kfree(fb);
}

/**
 * Models drm_gem_fb_create_handle(): a new handle of `file` for plane 0's object
 * (drm_gem_handle_create()).
 * Locking: none held; takes the handle creation's locks.
 * References: the new handle holds a handle count.
 */
export function drmGemFbCreateHandle(fb: DrmFramebuffer, file: DrmFile): Promise<number> {
  return drmGemHandleCreate(file, fb.obj[0]!);
}

/**
 * Models drm_gem_fb_funcs (drm_gem_fb_create()'s; qxl's qxl_fb_funcs destroys and creates
 * handles the same way).
 */
export const drmGemFbFuncs: DrmFramebufferFuncs = {
  destroy: drmGemFbDestroy,
  createHandle: drmGemFbCreateHandle,
};

/**
 * Models drm_gem_fb_init(): fills the framebuffer from the request, sets its objects and calls
 * drm_framebuffer_init().
 * Locking: none held.
 * References: the objects' references move into the framebuffer.
 */
async function drmGemFbInit(
  dev: DrmDevice,
  fb: DrmFramebuffer,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
  objs: readonly GemObject[],
  funcs: DrmFramebufferFuncs,
): Promise<number> {
  drmHelperModeFillFbStruct(dev, fb, info, cmd);
  for (let i = 0; i < objs.length; i++) fb.obj[i] = objs[i]!;
  return drmFramebufferInit(dev, fb, funcs);
}

/**
 * Models drm_gem_fb_init_with_funcs(): looks up each plane's handle (-ENOENT for an unknown
 * one), checks the object is large enough for the plane (-EINVAL; the plane's width and height
 * from drm_format_info_plane_width/height(), rounded up for subsampled planes), and initializes
 * `fb`. On
 * error every object looked up is put again.
 * Locking: none held.
 * References: one object reference per plane, kept by the framebuffer.
 */
export async function drmGemFbInitWithFuncs(
  dev: DrmDevice,
  fb: DrmFramebuffer,
  file: DrmFile,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
  funcs: DrmFramebufferFuncs,
): Promise<number> {
  const objs: GemObject[] = [];
  let ret = 0;
  for (let i = 0; i < info.numPlanes; i++) {
    // drm_format_info_plane_width/height(): a subsampled plane's size rounds up.
    const width = drmFormatInfoPlaneWidth(info, cmd.width, i);
    const height = drmFormatInfoPlaneHeight(info, cmd.height, i);
    const obj = await drmGemObjectLookup(file, cmd.handles[i]!);
    if (!obj) {
      ret = -ENOENT; // Failed to lookup GEM object
      break;
    }
    const minSize =
      (height - 1) * cmd.pitches[i]! + drmFormatInfoMinPitch(info, i, width) + cmd.offsets[i]!;
    if (obj.size < minSize) {
      const drmGemObjectPutDone = drmGemObjectPut(obj);
      if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
      ret = -EINVAL;
      break;
    }
    objs.push(obj);
  }
  if (ret === 0) ret = await drmGemFbInit(dev, fb, info, cmd, objs, funcs);
  if (ret === 0) return 0;
  // err_gem_object_put:
  while (objs.length > 0) await drmGemObjectPut(objs.pop()!);
  return ret;
}

/**
 * Models drm_gem_fb_create_with_funcs(): allocates a framebuffer and initializes it with
 * drmGemFbInitWithFuncs(). Returns it with one reference, or a negative errno.
 * Locking: none held.
 * References: returns one.
 */
export async function drmGemFbCreateWithFuncs(
  dev: DrmDevice,
  file: DrmFile,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
  funcs: DrmFramebufferFuncs,
): Promise<DrmFramebuffer | Errno> {
  const fb = kmalloc(drmFramebufferCache, () => new DrmFramebuffer());
  if (isErr(fb)) return fb;
  const ret = await drmGemFbInitWithFuncs(dev, fb, file, info, cmd, funcs);
  if (ret) {
    kfree(fb);
    return ret as Errno;
  }
  return fb;
}

/**
 * Models drm_gem_fb_create(): drmGemFbCreateWithFuncs() with drm_gem_fb_funcs, the
 * ->fb_create of GEM drivers.
 * Locking: none held.
 * References: returns one.
 */
export function drmGemFbCreate(
  dev: DrmDevice,
  file: DrmFile,
  info: DrmFormatInfo,
  cmd: DrmModeFbCmd2,
): Promise<DrmFramebuffer | Errno> {
  return drmGemFbCreateWithFuncs(dev, file, info, cmd, drmGemFbFuncs);
}
