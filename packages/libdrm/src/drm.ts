/**
 * The DRM ioctl wrappers of libdrm (xf86drm.c, xf86drmMode.c) as functions of (process, fd):
 * each fills the uapi struct, calls ioctl(2) and returns the kernel's answer, or throws a
 * SysError named after the request ("ioctl(DRM_IOCTL_GEM_OPEN) failed: ENOENT").
 *
 * Every request goes through drmIoctl(), which, as libdrm's does, repeats the ioctl while it
 * fails with EINTR or EAGAIN. `DrmFd` (drm-fd.ts) wraps the same calls as methods of an open
 * device.
 */

import { EAGAIN, EINTR, pageAlign } from "@primetime/kernel";
import {
  DRM_CLOEXEC,
  DRM_IOCTL_AUTH_MAGIC,
  DRM_IOCTL_DROP_MASTER,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_GET_MAGIC,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_MODE_RMFB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_SET_CLIENT_CAP,
  DRM_IOCTL_SET_MASTER,
  DRM_IOCTL_VERSION,
  DRM_MODE_FB_MODIFIERS,
  DRM_RDWR,
  type DrmAuth,
  type DrmGemClose,
  type DrmGemFlink,
  type DrmGemOpen,
  type DrmGetCap,
  type DrmModeCreateDumb,
  type DrmModeDestroyDumb,
  type DrmModeFbCmd2,
  type DrmModeMapDumb,
  type DrmPrimeHandle,
  type DrmVersion,
} from "@primetime/uapi";
import { checkBytes, checkNumber, checkObject, checkOptionalObject } from "./args.js";
import { type Mapping, mmap, type UserProcess, withMapping } from "./libc.js";
import { checkRet } from "./sys-error.js";

const CORE_NAMES = new Map<number, string>([
  [DRM_IOCTL_VERSION, "DRM_IOCTL_VERSION"],
  [DRM_IOCTL_GET_MAGIC, "DRM_IOCTL_GET_MAGIC"],
  [DRM_IOCTL_GEM_CLOSE, "DRM_IOCTL_GEM_CLOSE"],
  [DRM_IOCTL_GEM_FLINK, "DRM_IOCTL_GEM_FLINK"],
  [DRM_IOCTL_GEM_OPEN, "DRM_IOCTL_GEM_OPEN"],
  [DRM_IOCTL_GET_CAP, "DRM_IOCTL_GET_CAP"],
  [DRM_IOCTL_SET_CLIENT_CAP, "DRM_IOCTL_SET_CLIENT_CAP"],
  [DRM_IOCTL_AUTH_MAGIC, "DRM_IOCTL_AUTH_MAGIC"],
  [DRM_IOCTL_SET_MASTER, "DRM_IOCTL_SET_MASTER"],
  [DRM_IOCTL_DROP_MASTER, "DRM_IOCTL_DROP_MASTER"],
  [DRM_IOCTL_PRIME_HANDLE_TO_FD, "DRM_IOCTL_PRIME_HANDLE_TO_FD"],
  [DRM_IOCTL_PRIME_FD_TO_HANDLE, "DRM_IOCTL_PRIME_FD_TO_HANDLE"],
  [DRM_IOCTL_MODE_CREATE_DUMB, "DRM_IOCTL_MODE_CREATE_DUMB"],
  [DRM_IOCTL_MODE_MAP_DUMB, "DRM_IOCTL_MODE_MAP_DUMB"],
  [DRM_IOCTL_MODE_DESTROY_DUMB, "DRM_IOCTL_MODE_DESTROY_DUMB"],
  [DRM_IOCTL_MODE_ADDFB2, "DRM_IOCTL_MODE_ADDFB2"],
  [DRM_IOCTL_MODE_RMFB, "DRM_IOCTL_MODE_RMFB"],
]);

/** The name of a core DRM request ("DRM_IOCTL_GEM_OPEN"), else its number in hex. */
export function drmIoctlName(cmd: number): string {
  return CORE_NAMES.get(cmd >>> 0) ?? `0x${(cmd >>> 0).toString(16).padStart(8, "0")}`;
}

/**
 * Models drmIoctl() (libdrm xf86drm.c): ioctl(2) on a DRM fd with request `cmd` and argument
 * `arg` (a uapi struct, updated in place with the kernel's output), repeated while it fails with
 * EINTR or EAGAIN, as libdrm's loop does:
 * `do { ret = ioctl(fd, request, arg); } while (ret == -1 && (errno == EINTR || errno == EAGAIN));`
 * (unbounded, as there). Returns the ioctl's (non-negative) result; throws a SysError named
 * `name` (default: the core request's name) on any other failure. Use it for a driver's own
 * ioctls: `drmIoctl(proc, fd, DRM_IOCTL_VGEM_FENCE_ATTACH, arg, "DRM_IOCTL_VGEM_FENCE_ATTACH")`.
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: none of its own; the request takes or drops what the kernel does.
 */
export function drmIoctl(
  proc: UserProcess,
  fd: number,
  cmd: number,
  arg?: object,
  name?: string,
): Promise<number> {
  try {
    checkNumber(fd, "fd");
    checkNumber(cmd, "cmd");
    checkOptionalObject(arg, "arg");
    return drmIoctlRetry(proc, fd, cmd, arg, name);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * The loop of drmIoctl(): one ioctl(2), again while it returns -EINTR or -EAGAIN. One reaction
 * on the syscall's promise per attempt rather than an async frame per ioctl.
 */
function drmIoctlRetry(
  proc: UserProcess,
  fd: number,
  cmd: number,
  arg: object | undefined,
  name: string | undefined,
): Promise<number> {
  // Promise.resolve(): a process model may return its number directly (await allowed it).
  return Promise.resolve(proc.ioctl(fd, cmd, arg)).then((ret) =>
    ret === -EINTR || ret === -EAGAIN
      ? drmIoctlRetry(proc, fd, cmd, arg, name)
      : checkRet(ret, "ioctl", { request: name ?? drmIoctlName(cmd) }),
  );
}

/**
 * Models drmGetVersion(): the driver's name, description and version.
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: none.
 */
export async function getVersion(
  proc: UserProcess,
  fd: number,
): Promise<{ name: string; desc: string; major: number; minor: number; patchlevel: number }> {
  // Two calls, like libdrm: the first learns the lengths, the second fetches the strings.
  const v: DrmVersion = {
    version_major: 0,
    version_minor: 0,
    version_patchlevel: 0,
    name_len: 0,
    name: "",
    date_len: 0,
    date: "",
    desc_len: 0,
    desc: "",
  };
  await drmIoctl(proc, fd, DRM_IOCTL_VERSION, v);
  await drmIoctl(proc, fd, DRM_IOCTL_VERSION, v);
  return {
    name: v.name,
    desc: v.desc,
    major: v.version_major,
    minor: v.version_minor,
    patchlevel: v.version_patchlevel,
  };
}

/**
 * Models drmGetCap(): the value of capability `capability` (DRM_CAP_*).
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: none.
 */
export async function getCap(proc: UserProcess, fd: number, capability: number): Promise<number> {
  const arg: DrmGetCap = { capability, value: 0 };
  await drmIoctl(proc, fd, DRM_IOCTL_GET_CAP, arg);
  return arg.value;
}

/**
 * Models drmGetMagic(): a magic token this (primary-node) client can have authenticated.
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: none.
 */
export async function getMagic(proc: UserProcess, fd: number): Promise<number> {
  const arg: DrmAuth = { magic: 0 };
  await drmIoctl(proc, fd, DRM_IOCTL_GET_MAGIC, arg);
  return arg.magic;
}

/**
 * Models drmAuthMagic(): the master `fd` authenticates the client that got `magic`.
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: none.
 */
export async function authMagic(proc: UserProcess, fd: number, magic: number): Promise<void> {
  const arg: DrmAuth = { magic };
  await drmIoctl(proc, fd, DRM_IOCTL_AUTH_MAGIC, arg);
}

/**
 * Models drmSetMaster().
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: none.
 */
export async function setMaster(proc: UserProcess, fd: number): Promise<void> {
  await drmIoctl(proc, fd, DRM_IOCTL_SET_MASTER);
}

/**
 * Models drmDropMaster().
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: none.
 */
export async function dropMaster(proc: UserProcess, fd: number): Promise<void> {
  await drmIoctl(proc, fd, DRM_IOCTL_DROP_MASTER);
}

/** GEM_CLOSE: closes a handle (EINVAL for a handle the file does not have). */
export async function gemClose(proc: UserProcess, fd: number, handle: number): Promise<void> {
  const arg: DrmGemClose = { handle, pad: 0 };
  await drmIoctl(proc, fd, DRM_IOCTL_GEM_CLOSE, arg);
}

/** GEM_FLINK: the global name of a handle's object (ENOENT for a bad handle). */
export async function gemFlink(proc: UserProcess, fd: number, handle: number): Promise<number> {
  const arg: DrmGemFlink = { handle, name: 0 };
  await drmIoctl(proc, fd, DRM_IOCTL_GEM_FLINK, arg);
  return arg.name;
}

/** GEM_OPEN: a new handle to the object called `name`, and its size (ENOENT for a bad name). */
export async function gemOpen(
  proc: UserProcess,
  fd: number,
  name: number,
): Promise<{ handle: number; size: number }> {
  const arg: DrmGemOpen = { name, handle: 0, size: 0 };
  await drmIoctl(proc, fd, DRM_IOCTL_GEM_OPEN, arg);
  return { handle: arg.handle, size: arg.size };
}

/**
 * Models drmPrimeHandleToFD(): exports a handle as a dma-buf fd. `flags` default to
 * DRM_CLOEXEC | DRM_RDWR, as IGT's prime_handle_to_fd_for_mmap().
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: the returned fd owns one dma-buf reference (close it).
 */
export async function primeHandleToFd(
  proc: UserProcess,
  fd: number,
  handle: number,
  flags: number = DRM_CLOEXEC | DRM_RDWR,
): Promise<number> {
  const arg: DrmPrimeHandle = { handle, flags, fd: -1 };
  await drmIoctl(proc, fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, arg);
  return arg.fd;
}

/**
 * Models drmPrimeFDToHandle(): imports a dma-buf fd; the handle (the same one for a re-import).
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: the handle holds the object (GEM_CLOSE drops it); the dma-buf fd is
 * left open.
 */
export async function primeFdToHandle(
  proc: UserProcess,
  fd: number,
  dmaBufFd: number,
): Promise<number> {
  const arg: DrmPrimeHandle = { handle: 0, flags: 0, fd: dmaBufFd };
  await drmIoctl(proc, fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, arg);
  return arg.handle;
}

/** What MODE_CREATE_DUMB returns. */
export interface DumbBuffer {
  handle: number;
  pitch: number;
  size: number;
}

/**
 * Models drmModeCreateDumbBuffer(): a dumb buffer of `width` x `height` pixels of `bpp` bits.
 * Throws SysError (EINVAL for a zero size; ENOSYS if the driver has no dumb buffers).
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: the handle holds the new object (destroyDumb() or GEM_CLOSE drops it).
 */
export async function createDumb(
  proc: UserProcess,
  fd: number,
  req: { width: number; height: number; bpp: number; flags?: number },
): Promise<DumbBuffer> {
  checkObject(req, "req");
  const arg: DrmModeCreateDumb = {
    width: req.width,
    height: req.height,
    bpp: req.bpp,
    flags: req.flags ?? 0,
    handle: 0,
    pitch: 0,
    size: 0,
  };
  await drmIoctl(proc, fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
  return { handle: arg.handle, pitch: arg.pitch, size: arg.size };
}

/**
 * Models drmModeMapDumbBuffer(): the fake offset to mmap() the handle's object at.
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: none (the offset is not a reference; each mmap() takes one).
 */
export async function mapDumb(proc: UserProcess, fd: number, handle: number): Promise<number> {
  const arg: DrmModeMapDumb = { handle, pad: 0, offset: 0 };
  await drmIoctl(proc, fd, DRM_IOCTL_MODE_MAP_DUMB, arg);
  return arg.offset;
}

/**
 * Models drmModeDestroyDumbBuffer(): the same as GEM_CLOSE of the handle.
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: drops the handle's.
 */
export async function destroyDumb(proc: UserProcess, fd: number, handle: number): Promise<void> {
  const arg: DrmModeDestroyDumb = { handle };
  await drmIoctl(proc, fd, DRM_IOCTL_MODE_DESTROY_DUMB, arg);
}

/** A framebuffer request: per plane (up to 4) a handle, pitch, offset and modifier. */
export interface FbRequest {
  width: number;
  height: number;
  /** A fourcc code (DRM_FORMAT_XRGB8888...). */
  pixelFormat: number;
  handles: readonly number[];
  pitches: readonly number[];
  offsets?: readonly number[];
  /** With them, DRM_MODE_FB_MODIFIERS is set (drmModeAddFB2WithModifiers()). */
  modifiers?: readonly number[];
  flags?: number;
}

/** Pads a per-plane list to the uapi's four entries. */
function planes(v: readonly number[] | undefined): number[] {
  return [0, 1, 2, 3].map((i) => v?.[i] ?? 0);
}

/**
 * Models drmModeAddFB2() / drmModeAddFB2WithModifiers(): MODE_ADDFB2; the new framebuffer's id
 * (EOPNOTSUPP without KMS, EINVAL for a bad request, ENOENT for an unknown handle).
 * Locking: none in userspace.
 * References: the framebuffer holds its objects (and, since Linux 6.16, their handles) until
 * RMFB or the fd's close.
 */
export async function modeAddFB2(proc: UserProcess, fd: number, req: FbRequest): Promise<number> {
  checkObject(req, "req");
  const arg: DrmModeFbCmd2 = {
    fb_id: 0,
    width: req.width,
    height: req.height,
    pixel_format: req.pixelFormat,
    flags: (req.flags ?? 0) | (req.modifiers ? DRM_MODE_FB_MODIFIERS : 0),
    handles: planes(req.handles),
    pitches: planes(req.pitches),
    offsets: planes(req.offsets),
    modifier: planes(req.modifiers),
  };
  await drmIoctl(proc, fd, DRM_IOCTL_MODE_ADDFB2, arg);
  return arg.fb_id;
}

/**
 * Models drmModeRmFB(): MODE_RMFB (ENOENT for an id this fd did not create).
 * Locking: none in userspace.
 * References: the framebuffer's are dropped once nothing scans it out.
 */
export async function modeRmFB(proc: UserProcess, fd: number, fbId: number): Promise<void> {
  await drmIoctl(proc, fd, DRM_IOCTL_MODE_RMFB, { fb_id: fbId });
}

/**
 * Maps the first `length` bytes (rounded up to pages) of a handle's object through the DRM fd:
 * MODE_MAP_DUMB for the fake offset, then mmap(). The mapping holds an object reference until
 * it is unmapped.
 */
export async function mapBuffer(
  proc: UserProcess,
  fd: number,
  handle: number,
  length: number,
): Promise<Mapping> {
  checkNumber(length, "length");
  const offset = await mapDumb(proc, fd, handle);
  return mmap(proc, fd, offset, pageAlign(length));
}

/** Reads `length` bytes at `offset` of a handle's object (map, load, unmap). */
export async function readBuffer(
  proc: UserProcess,
  fd: number,
  handle: number,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  checkNumber(offset, "offset");
  checkNumber(length, "length");
  return withMapping(await mapBuffer(proc, fd, handle, offset + length), (m) =>
    m.read(offset, length),
  );
}

/** Writes `bytes` at `offset` of a handle's object (map, store, unmap). */
export async function writeBuffer(
  proc: UserProcess,
  fd: number,
  handle: number,
  bytes: Uint8Array,
  offset = 0,
): Promise<void> {
  checkBytes(bytes, "bytes");
  checkNumber(offset, "offset");
  await withMapping(await mapBuffer(proc, fd, handle, offset + bytes.length), (m) =>
    m.write(bytes, offset),
  );
}
