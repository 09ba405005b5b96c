/**
 * Dumb buffers (drivers/gpu/drm/drm_dumb_buffers.c): driver-independent buffers for CPU
 * rendering: MODE_CREATE_DUMB allocates one (the driver's ->dumb_create), MODE_MAP_DUMB gives
 * its fake mmap offset, MODE_DESTROY_DUMB closes its handle. All three are -ENOSYS for drivers
 * without ->dumb_create. On error the output fields are cleared (the 2025 "clear the memory to 0
 * on errors" change).
 */

import { EINVAL, ENOSYS, PAGE_SIZE } from "@primetime/kernel";
import { point } from "@primetime/sim";
import type { DrmDevice } from "./drm-device.js";
import type { DrmFile } from "./drm-file.js";
import { drmGemDumbMapOffset, drmGemHandleDelete } from "./drm-gem.js";
import type { DrmModeCreateDumb, DrmModeDestroyDumb, DrmModeMapDumb } from "./uapi.js";

const U32_MAX = 0xffff_ffff;

/**
 * Models drm_mode_create_dumb(): validates width, height and bpp (non-zero; no 32-bit overflow of
 * the pitch and size; -EINVAL), clears the outputs and calls ->dumb_create.
 * Locking: none.
 * References: the driver creates the object and a handle for it.
 */
export async function drmModeCreateDumb(
  dev: DrmDevice,
  args: DrmModeCreateDumb,
  file: DrmFile,
): Promise<number> {
  await point("drm_mode_create_dumb");
  if (!dev.driver.dumbCreate) return -ENOSYS;
  if (!args.width || !args.height || !args.bpp) return -EINVAL;
  // overflow checks for 32bit size calculations
  if (args.bpp > U32_MAX - 8) return -EINVAL;
  const cpp = Math.ceil(args.bpp / 8);
  if (cpp > Math.floor(U32_MAX / args.width)) return -EINVAL;
  const stride = cpp * args.width;
  if (args.height > Math.floor(U32_MAX / stride)) return -EINVAL;
  // test for wrap-around
  const size = args.height * stride;
  if ((Math.ceil(size / PAGE_SIZE) * PAGE_SIZE) % 2 ** 32 === 0) return -EINVAL;
  // handle, pitch and size are outputs: zero them so drivers cannot use garbage.
  args.handle = 0;
  args.pitch = 0;
  args.size = 0;
  return dev.driver.dumbCreate(file, dev, args);
}

/**
 * Models drm_mode_create_dumb_ioctl(): MODE_CREATE_DUMB.
 * Locking: none.
 * References: see drmModeCreateDumb().
 */
export async function drmModeCreateDumbIoctl(
  dev: DrmDevice,
  args: DrmModeCreateDumb,
  file: DrmFile,
): Promise<number> {
  const err = await drmModeCreateDumb(dev, args, file);
  if (err) {
    args.handle = 0;
    args.pitch = 0;
    args.size = 0;
  }
  return err;
}

/**
 * Models drm_mode_mmap_dumb(): the fake offset through ->dumb_map_offset, or
 * drm_gem_dumb_map_offset() (-ENOENT for a bad handle, -EINVAL for an import).
 * Locking: see drmGemDumbMapOffset().
 * References: a lookup reference, dropped.
 */
async function drmModeMmapDumb(
  dev: DrmDevice,
  args: DrmModeMapDumb,
  file: DrmFile,
): Promise<number> {
  if (!dev.driver.dumbCreate) return -ENOSYS;
  const off = dev.driver.dumbMapOffset
    ? await dev.driver.dumbMapOffset(file, dev, args.handle)
    : await drmGemDumbMapOffset(file, dev, args.handle);
  if (off < 0) return off;
  args.offset = off;
  return 0;
}

/**
 * Models drm_mode_mmap_dumb_ioctl(): MODE_MAP_DUMB; the offset is 0 on error.
 * Locking: see drmGemDumbMapOffset().
 * References: a lookup reference, dropped.
 */
export async function drmModeMmapDumbIoctl(
  dev: DrmDevice,
  args: DrmModeMapDumb,
  file: DrmFile,
): Promise<number> {
  const err = await drmModeMmapDumb(dev, args, file);
  if (err) args.offset = 0;
  return err;
}

/**
 * Models drm_mode_destroy_dumb(): closes the handle (drm_gem_handle_delete(): -EINVAL for a bad
 * handle).
 * Locking: takes file->table_lock (drmGemHandleDelete()).
 * References: the handle's handle count.
 */
export async function drmModeDestroyDumb(
  dev: DrmDevice,
  handle: number,
  file: DrmFile,
): Promise<number> {
  if (!dev.driver.dumbCreate) return -ENOSYS;
  return drmGemHandleDelete(file, handle);
}

/**
 * Models drm_mode_destroy_dumb_ioctl(): MODE_DESTROY_DUMB.
 * Locking: see drmModeDestroyDumb().
 * References: the handle's handle count.
 */
export async function drmModeDestroyDumbIoctl(
  dev: DrmDevice,
  args: DrmModeDestroyDumb,
  file: DrmFile,
): Promise<number> {
  return drmModeDestroyDumb(dev, args.handle, file);
}
