/**
 * ioctl command numbers and the user/kernel copy of an ioctl argument
 * (include/uapi/asm-generic/ioctl.h, re-exported from @primetime/uapi; include/linux/uaccess.h,
 * fs/ioctl.c).
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

import { SimLocal } from "@primetime/sim";
import { EFAULT, type Errno, errPtr } from "../include/errno.js";

/** The command-number macros of include/uapi/asm-generic/ioctl.h, from @primetime/uapi. */
export {
  _IO,
  _IOC,
  _IOC_DIR,
  _IOC_DIRBITS,
  _IOC_DIRSHIFT,
  _IOC_NONE,
  _IOC_NR,
  _IOC_NRBITS,
  _IOC_NRSHIFT,
  _IOC_READ,
  _IOC_SIZE,
  _IOC_SIZEBITS,
  _IOC_SIZESHIFT,
  _IOC_TYPE,
  _IOC_TYPEBITS,
  _IOC_TYPESHIFT,
  _IOC_WRITE,
  _IOR,
  _IOW,
  _IOWR,
} from "@primetime/uapi";

/**
 * Models ENOIOCTLCMD (include/linux/errno.h, 515): a driver's "not my command", which never
 * reaches userspace: vfs_ioctl() turns it into -ENOTTY.
 */
export const ENOIOCTLCMD = 515;

/** FIONCLEX, FIOCLEX (include/uapi/asm-generic/ioctls.h), from @primetime/uapi. */
export { FIOCLEX, FIONCLEX } from "@primetime/uapi";

/**
 * The argument of an ioctl as the driver sees it: the kernel's copy of the user struct (a plain
 * object), an integer argument, or nothing. Drivers narrow it to their own struct type.
 */
export type IoctlArg = object | number | bigint | null | undefined;

/**
 * A copy of `o` when it is a flat struct (a plain object whose own fields are all numbers,
 * bigints, strings, booleans, null or undefined, as almost every uapi struct is), field by field;
 * null for anything else (nested structs, arrays, class instances), which takes structuredClone.
 * Both give the same plain object: the own enumerable string-keyed fields, in order.
 */
function copyFlat(o: object): Record<string, unknown> | null {
  const proto = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) return null;
  const src = o as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key in src) {
    if (!Object.hasOwn(src, key)) return null;
    const v = src[key];
    if (v !== null && typeof v === "object") return null;
    if (typeof v === "function" || typeof v === "symbol") return null;
    out[key] = v;
  }
  return out;
}

/** Whether copyFlat(o) would copy `o` (and so a field-by-field write of it copies it). */
function isFlat(o: object): boolean {
  const proto = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) return false;
  const src = o as Record<string, unknown>;
  for (const key in src) {
    if (!Object.hasOwn(src, key)) return false;
    const v = src[key];
    if (v !== null && typeof v === "object") return false;
    if (typeof v === "function" || typeof v === "symbol") return false;
  }
  return true;
}

/**
 * Models copy_from_user() of a whole ioctl argument: a deep copy of a user object (field by
 * field for a flat struct, structuredClone otherwise), so the driver never holds userspace's
 * object. Numbers, bigints, null and undefined pass through. A user value that cannot be copied
 * is -EFAULT.
 *
 * Locking: none; the copy may fault in the real kernel, so no spinlock may be held.
 * References: none.
 */
export function copyFromUser(arg: unknown): IoctlArg | Errno {
  if (arg === null || arg === undefined) return arg;
  if (typeof arg === "number" || typeof arg === "bigint") return arg;
  if (typeof arg !== "object") return errPtr(EFAULT);
  try {
    return copyFlat(arg) ?? (structuredClone(arg) as object);
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
    const dst = user as Record<string, unknown>;
    if (isFlat(kdata)) {
      // The fields are primitives: writing them is the copy.
      const src = kdata as Record<string, unknown>;
      for (const key in src) dst[key] = src[key];
      return 0;
    }
    const out = structuredClone(kdata) as Record<string, unknown>;
    for (const key of Object.keys(out)) dst[key] = out[key];
    return 0;
  } catch {
    return -EFAULT;
  }
}

/**
 * The user object each kernel copy was made from, while its ioctl runs: per simulation, the
 * kernel copies in flight and their user objects, in two arrays (one entry per ioctl running
 * now, a handful at most). Not a WeakMap, whose entries cost the garbage collector on every
 * ioctl, nor a Map, which reallocates its table whenever it goes from one entry to none.
 */
interface UserArgs {
  readonly kdata: object[];
  readonly user: unknown[];
}

const userArgs = new SimLocal<UserArgs>(() => ({ kdata: [], user: [] }));

/** The index of `kdata` in `args` (the most recent binding), or -1. */
function userArgIndex(args: UserArgs, kdata: object): number {
  for (let i = args.kdata.length - 1; i >= 0; i--) if (args.kdata[i] === kdata) return i;
  return -1;
}

/**
 * Records that `kdata` is the kernel's copy of the user argument `user` (the syscall layer does,
 * for the driver's ioctl, and unbinds it when the ioctl returns).
 * Locking: none.
 * References: none.
 */
export function ioctlBindUserArg(kdata: IoctlArg, user: unknown): void {
  if (kdata === null || typeof kdata !== "object") return;
  const args = userArgs.get();
  const i = userArgIndex(args, kdata);
  if (i >= 0) {
    args.user[i] = user;
    return;
  }
  args.kdata.push(kdata);
  args.user.push(user);
}

/**
 * Forgets what ioctlBindUserArg() recorded for `kdata`: its ioctl has returned.
 * Locking: none.
 * References: none.
 */
export function ioctlUnbindUserArg(kdata: IoctlArg): void {
  if (kdata === null || typeof kdata !== "object") return;
  const args = userArgs.get();
  const i = userArgIndex(args, kdata);
  if (i < 0) return;
  const n = args.kdata.length - 1;
  for (let j = i; j < n; j++) {
    args.kdata[j] = args.kdata[j + 1]!;
    args.user[j] = args.user[j + 1];
  }
  args.kdata.pop();
  args.user.pop();
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
  const args = userArgs.get();
  const i = userArgIndex(args, kdata);
  return i >= 0 ? args.user[i] : kdata;
}
