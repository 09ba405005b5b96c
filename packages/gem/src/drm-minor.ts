/**
 * DRM minors (drivers/gpu/drm/drm_drv.c: drm_minor_alloc/register/unregister/acquire): the
 * device nodes of a DRM device. The primary node /dev/dri/cardN (minor N, 0..63) is where
 * masters and authentication live; the render node /dev/dri/renderD(128+N) (minors 128..191)
 * allows only DRM_RENDER_ALLOW ioctls and needs no authentication.
 *
 * The nodes are character devices with major DRM_MAJOR (226) registered on the kernel; their
 * inode's i_private is the DrmMinor, which drm_open() reads back (drm_minor_acquire()).
 */

import {
  EINVAL,
  ENODEV,
  ENOSPC,
  type Errno,
  errPtr,
  type FileOperations,
  type Inode,
  isErr,
} from "@primetime/kernel";
import { point, RESOLVED } from "@primetime/sim";
import { type DrmDevice, drmDevGet } from "./drm-device.js";
import { drmFops } from "./drm-file.js";
import { DRM_MAJOR } from "./uapi.js";

/** Models DRM_MINOR_PRIMARY. */
export const DRM_MINOR_PRIMARY = 0;
/** Models DRM_MINOR_RENDER. */
export const DRM_MINOR_RENDER = 2;

export type DrmMinorType = typeof DRM_MINOR_PRIMARY | typeof DRM_MINOR_RENDER;

/**
 * What the DRM core needs of a kernel: a place to register its device nodes (the kernel's
 * character device registry).
 */
export interface DrmKernel {
  registerChrdev(
    path: string,
    fops: FileOperations,
    opts?: { major?: number; minor?: number; private?: unknown },
  ): Inode | Errno;
  unregisterChrdev?(path: string): number;
}

/**
 * Models struct drm_minor.
 *
 * Locking: set up before registration and read-only afterwards.
 * References: none of its own; the device frees it.
 */
export interface DrmMinor {
  readonly dev: DrmDevice;
  readonly type: DrmMinorType;
  /** The minor number: N for primary, 128 + N for render. */
  readonly index: number;
  /** "/dev/dri/card0", "/dev/dri/renderD128". */
  readonly path: string;
  /** The registered inode, while registered. */
  inode: Inode | null;
  readonly kernel: DrmKernel;
}

/** Per kernel: the minor numbers in use (drm_minors_xa). */
const minorsOf = new WeakMap<DrmKernel, Set<number>>();

/** Models DRM_MINOR_LIMIT(type): 64 minors per type, from 64 * type. */
function minorRange(type: DrmMinorType): [number, number] {
  return [64 * type, 64 * type + 63];
}

/** The node path of a minor. */
export function drmMinorPath(type: DrmMinorType, index: number): string {
  return type === DRM_MINOR_RENDER ? `/dev/dri/renderD${index}` : `/dev/dri/card${index}`;
}

/**
 * Models drm_minor_alloc(): the lowest free minor number of the type's range (or exactly
 * `64 * type + want` when given and free). -ENOSPC when the range is full.
 *
 * Locking: the minors' xarray lock (synchronous here).
 * References: none.
 */
export async function drmMinorAlloc(
  dev: DrmDevice,
  type: DrmMinorType,
  kernel: DrmKernel,
  want?: number,
): Promise<DrmMinor | Errno> {
  await point("drm_minor_alloc");
  let used = minorsOf.get(kernel);
  if (!used) {
    used = new Set();
    minorsOf.set(kernel, used);
  }
  const [lo, hi] = minorRange(type);
  let index = -1;
  if (want !== undefined && !used.has(lo + want) && lo + want <= hi) index = lo + want;
  for (let i = lo; index < 0 && i <= hi; i++) if (!used.has(i)) index = i;
  if (index < 0) return errPtr(ENOSPC);
  used.add(index);
  return { dev, type, index, path: drmMinorPath(type, index), inode: null, kernel };
}

/**
 * Models the minor's managed release (drm_minor_alloc_release()): frees its number.
 * Locking: none (the minors' xarray lock in the kernel).
 * References: none.
 */
export function drmMinorFree(minor: DrmMinor): void {
  minorsOf.get(minor.kernel)?.delete(minor.index);
}

/**
 * Models drm_minor_register(): creates the device node with the DRM file operations.
 * Returns 0 or a negative errno.
 *
 * Locking: none.
 * References: none.
 */
export async function drmMinorRegister(minor: DrmMinor): Promise<number> {
  await point(`drm_minor_register(${minor.path})`);
  const inode = minor.kernel.registerChrdev(minor.path, drmFops(minor.dev), {
    major: DRM_MAJOR,
    minor: minor.index,
    private: minor,
  });
  if (isErr(inode)) return inode;
  minor.inode = inode;
  return 0;
}

/**
 * Models drm_minor_unregister(): removes the device node; open files keep working.
 * Locking: none.
 * References: none.
 */
export async function drmMinorUnregister(minor: DrmMinor): Promise<void> {
  await point(`drm_minor_unregister(${minor.path})`);
  if (minor.inode === null) return;
  minor.kernel.unregisterChrdev?.(minor.path);
  minor.inode = null;
}

/**
 * Models drm_minor_acquire(): the minor of an opened inode, with a device reference. -ENODEV if
 * the inode is not a DRM minor or the device is unplugged.
 *
 * Locking: none (the kernel takes the minors' xarray lock).
 * References: takes a device reference, dropped by drmMinorRelease().
 */
export async function drmMinorAcquire(inode: Inode | null): Promise<DrmMinor | Errno> {
  await point("drm_minor_acquire");
  const minor = inode?.iPrivate as DrmMinor | undefined;
  if (!minor || typeof minor !== "object" || !("dev" in minor)) return errPtr(ENODEV);
  if (minor.dev.unplugged) return errPtr(ENODEV);
  if (!minor.dev.checkAccess("drm_minor_acquire")) return errPtr(EINVAL);
  const drmDevGetDone = drmDevGet(minor.dev);
  if (drmDevGetDone !== RESOLVED) await drmDevGetDone;
  return minor;
}
