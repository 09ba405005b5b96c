/**
 * The error a failing system call throws in userspace, shaped like Node's own system errors
 * (`fs.openSync("nope")` throws `{ code: "ENOENT", errno: -2, syscall: "open", path: "nope" }`).
 *
 * The simulated kernel's syscalls return a negative errno, as the kernel does; C userspace turns
 * that into `-1` plus `errno`. libdrm throws instead, so a test reads like Node code:
 *
 * ```ts
 * try {
 *   await drm.gemOpen(0x10101010);
 * } catch (e) {
 *   if (isSysError(e, "ENOENT")) ... // e.message: "ioctl(DRM_IOCTL_GEM_OPEN) failed: ENOENT"
 * }
 * ```
 *
 * `errno` follows Node's convention: the negated errno number (`-2` for ENOENT), what the raw
 * syscall returned. `code` is the symbolic name, `syscall` the system call ("ioctl", "open",
 * "mmap"...), `request` the ioctl's name for ioctls and `path` the path for open().
 */

import { errnoName } from "@primetime/kernel";
import { shorten } from "./args.js";

/** String(v) that never throws (Symbols, objects with a throwing toString). */
function safeString(v: unknown): string {
  try {
    return typeof v === "symbol" ? v.toString() : String(v);
  } catch {
    return "<unprintable>";
  }
}

export interface SysErrorDetails {
  /** The ioctl request's name ("DRM_IOCTL_GEM_OPEN"), for ioctl(). */
  request?: string;
  /** The path, for open(). */
  path?: string;
}

/** A failed system call: `code` ("ENOENT"), `errno` (-2, Node's sign), `syscall` ("ioctl"). */
export class SysError extends Error {
  /** The errno's symbolic name, e.g. "ENOENT" (Node's `err.code`). */
  readonly code: string;
  /** The negated errno, e.g. -2 for ENOENT (Node's `err.errno`): the syscall's return value. */
  readonly errno: number;
  /** The system call that failed: "open", "close", "dup", "ioctl", "mmap", "lseek"... */
  readonly syscall: string;
  /** For ioctl(): the request's name. */
  readonly request?: string;
  /** For open(): the path. */
  readonly path?: string;

  constructor(ret: number, syscall: string, details: SysErrorDetails = {}) {
    const errno = typeof ret === "number" && Number.isFinite(ret) ? -Math.abs(ret) : NaN;
    const code = errnoName(errno);
    // Whatever the caller passed (a Symbol path, a huge string) renders safely and briefly.
    const what = details.request ?? details.path;
    const shown = what === undefined ? "" : `(${shorten(safeString(what), 80)})`;
    super(`${shorten(safeString(syscall), 80)}${shown} failed: ${code}`);
    this.name = "SysError";
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    if (details.request !== undefined) this.request = details.request;
    if (details.path !== undefined) this.path = details.path;
  }
}

/** True if `e` is a SysError (with that `code`, when given). */
export function isSysError(e: unknown, code?: string): e is SysError {
  return e instanceof SysError && (code === undefined || e.code === code);
}

/**
 * Throws a SysError when `ret` is a negative errno, else returns it: the `-1 && errno` check of
 * C userspace.
 */
export function checkRet(ret: number, syscall: string, details?: SysErrorDetails): number {
  if (ret < 0) throw new SysError(ret, syscall, details);
  return ret;
}
