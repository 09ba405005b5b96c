/**
 * ioctl command numbers and the user/kernel copy of an ioctl argument
 * (include/uapi/asm-generic/ioctl.h, include/linux/uaccess.h, fs/ioctl.c).
 *
 * A command number packs a direction, a type (the driver's magic, e.g. 'd' for DRM), a number
 * and the size of the argument struct: `_IOWR("d", 0x0b, 16)`. Drivers define their commands
 * with these helpers and decode them with `_IOC_NR()` and friends.
 *
 * The argument of an ioctl is a plain JS object standing for the user struct (or a number for
 * commands that take an integer). The syscall layer models copy_from_user()/copy_to_user(): the
 * driver works on a deep copy (`copyFromUser()`), and the copy is written back to the user's
 * object (`copyToUser()`) only when the ioctl succeeds. A driver whose kernel code copies out
 * whatever it returns (drm_ioctl()) writes to the user's object itself (`ioctlUserArg()`). A user
 * object that cannot be copied (functions, symbols, getters that throw) is a fault: -EFAULT.
 */

import { EFAULT, type Errno, errPtr } from "../include/errno.js";

/** Models _IOC_NRBITS. */
export const _IOC_NRBITS = 8;
/** Models _IOC_TYPEBITS. */
export const _IOC_TYPEBITS = 8;
/** Models _IOC_SIZEBITS (asm-generic). */
export const _IOC_SIZEBITS = 14;
/** Models _IOC_DIRBITS (asm-generic). */
export const _IOC_DIRBITS = 2;

export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
export const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;

/** No data transfer. */
export const _IOC_NONE = 0;
/** Userspace writes, the kernel reads (copy_from_user). */
export const _IOC_WRITE = 1;
/** The kernel writes, userspace reads (copy_to_user). */
export const _IOC_READ = 2;

const NR_MASK = (1 << _IOC_NRBITS) - 1;
const TYPE_MASK = (1 << _IOC_TYPEBITS) - 1;
const SIZE_MASK = (1 << _IOC_SIZEBITS) - 1;
const DIR_MASK = (1 << _IOC_DIRBITS) - 1;

/**
 * Models ENOIOCTLCMD (include/linux/errno.h, 515): a driver's "not my command", which never
 * reaches userspace: vfs_ioctl() turns it into -ENOTTY.
 */
export const ENOIOCTLCMD = 515;

/** Models FIONCLEX (asm-generic/ioctls.h): clear close-on-exec, handled by do_vfs_ioctl(). */
export const FIONCLEX = 0x5450;
/** Models FIOCLEX (asm-generic/ioctls.h): set close-on-exec, handled by do_vfs_ioctl(). */
export const FIOCLEX = 0x5451;

function field(name: string, v: number, mask: number): number {
  if (!Number.isInteger(v) || v < 0 || v > mask)
    throw new RangeError(`ioctl ${name} ${v} out of range [0, ${mask}]`);
  return v;
}

function typeCode(type: number | string): number {
  if (typeof type === "string") {
    if (type.length !== 1) throw new RangeError(`ioctl type must be one character, got "${type}"`);
    return field("type", type.charCodeAt(0), TYPE_MASK);
  }
  return field("type", type, TYPE_MASK);
}

/**
 * Models _IOC(dir, type, nr, size): an unsigned 32-bit command number. `type` is the driver's
 * magic, a one-character string or a number. Out-of-range fields throw (in C they are a build
 * error, _IOC_TYPECHECK).
 */
export function _IOC(dir: number, type: number | string, nr: number, size: number): number {
  return (
    ((field("dir", dir, DIR_MASK) << _IOC_DIRSHIFT) |
      (typeCode(type) << _IOC_TYPESHIFT) |
      (field("nr", nr, NR_MASK) << _IOC_NRSHIFT) |
      (field("size", size, SIZE_MASK) << _IOC_SIZESHIFT)) >>>
    0
  );
}

/** Models _IO(type, nr): a command without argument data. */
export function _IO(type: number | string, nr: number): number {
  return _IOC(_IOC_NONE, type, nr, 0);
}

/** Models _IOR(type, nr, size): the kernel fills a `size`-byte struct for userspace. */
export function _IOR(type: number | string, nr: number, size: number): number {
  return _IOC(_IOC_READ, type, nr, size);
}

/** Models _IOW(type, nr, size): userspace passes a `size`-byte struct to the kernel. */
export function _IOW(type: number | string, nr: number, size: number): number {
  return _IOC(_IOC_WRITE, type, nr, size);
}

/** Models _IOWR(type, nr, size): in and out. */
export function _IOWR(type: number | string, nr: number, size: number): number {
  return _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);
}

/** Models _IOC_DIR(cmd). */
export function _IOC_DIR(cmd: number): number {
  return (cmd >>> _IOC_DIRSHIFT) & DIR_MASK;
}

/** Models _IOC_TYPE(cmd). */
export function _IOC_TYPE(cmd: number): number {
  return (cmd >>> _IOC_TYPESHIFT) & TYPE_MASK;
}

/** Models _IOC_NR(cmd). */
export function _IOC_NR(cmd: number): number {
  return (cmd >>> _IOC_NRSHIFT) & NR_MASK;
}

/** Models _IOC_SIZE(cmd). */
export function _IOC_SIZE(cmd: number): number {
  return (cmd >>> _IOC_SIZESHIFT) & SIZE_MASK;
}

/**
 * The argument of an ioctl as the driver sees it: the kernel's copy of the user struct (a plain
 * object), an integer argument, or nothing. Drivers narrow it to their own struct type.
 */
export type IoctlArg = object | number | bigint | null | undefined;

/**
 * Models copy_from_user() of a whole ioctl argument: a deep copy (structuredClone) of a user
 * object, so the driver never holds userspace's object. Numbers, bigints, null and undefined
 * pass through. A user value that cannot be copied is -EFAULT.
 *
 * Locking: none; the copy may fault in the real kernel, so no spinlock may be held.
 * References: none.
 */
export function copyFromUser(arg: unknown): IoctlArg | Errno {
  if (arg === null || arg === undefined) return arg;
  if (typeof arg === "number" || typeof arg === "bigint") return arg;
  if (typeof arg !== "object") return errPtr(EFAULT);
  try {
    return structuredClone(arg) as object;
  } catch {
    return errPtr(EFAULT);
  }
}

/**
 * Models copy_to_user() of a whole ioctl argument: writes every own field of the kernel copy
 * back to the user object (deep-copied again, so userspace never aliases kernel memory). Returns
 * 0, or -EFAULT when the user object cannot take the fields (frozen) or the copy fails. Nothing
 * to do for non-object arguments.
 *
 * Locking: none; may fault, so no spinlock may be held.
 * References: none.
 */
export function copyToUser(user: unknown, kdata: IoctlArg): number {
  if (user === null || typeof user !== "object" || kdata === null || typeof kdata !== "object")
    return 0;
  try {
    const out = structuredClone(kdata) as Record<string, unknown>;
    for (const key of Object.keys(out)) (user as Record<string, unknown>)[key] = out[key];
    return 0;
  } catch {
    return -EFAULT;
  }
}

/** The user object each kernel copy was made from, while its ioctl runs. */
const userArgs = new WeakMap<object, unknown>();

/**
 * Records that `kdata` is the kernel's copy of the user argument `user` (the syscall layer does,
 * for the driver's ioctl).
 * Locking: none.
 * References: none.
 */
export function ioctlBindUserArg(kdata: IoctlArg, user: unknown): void {
  if (kdata !== null && typeof kdata === "object") userArgs.set(kdata, user);
}

/**
 * Models the `void __user *arg` of an ioctl: the user object `kdata` was copied from, or `kdata`
 * itself when the driver's ioctl was called directly (kernel-level tests). A driver that calls
 * copy_to_user() whatever its result writes there; the syscall layer's own copy-back happens
 * only on success.
 * Locking: none.
 * References: none.
 */
export function ioctlUserArg(kdata: IoctlArg): unknown {
  if (kdata === null || typeof kdata !== "object") return kdata;
  return userArgs.has(kdata) ? userArgs.get(kdata) : kdata;
}
