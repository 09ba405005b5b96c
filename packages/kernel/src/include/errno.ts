/**
 * Errno values (include/uapi/asm-generic/errno-base.h, errno.h) and the kernel's ERR_PTR idiom.
 *
 * A kernel function that can fail returns a negative errno (`number`), or `T | Errno` when it
 * otherwise returns an object: `isErr()` is IS_ERR(), and the value itself is PTR_ERR().
 */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOTTY = 25;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EPIPE = 32;
export const ERANGE = 34;
export const EDEADLK = 35;
export const ENAMETOOLONG = 36;
export const ENOSYS = 38;
export const ENOTEMPTY = 39;
export const ELOOP = 40;
export const ENODATA = 61;
export const ETIME = 62;
export const EOVERFLOW = 75;
export const EBADFD = 77;
/** Socket operation on non-socket. */
export const ENOTSOCK = 88;
/** Protocol not supported. */
export const EPROTONOSUPPORT = 93;
/** Socket type not supported. */
export const ESOCKTNOSUPPORT = 94;
export const EOPNOTSUPP = 95;
/** Address family not supported by protocol. */
export const EAFNOSUPPORT = 97;
/** Address already in use. */
export const EADDRINUSE = 98;
/** Transport endpoint is already connected. */
export const EISCONN = 106;
/** Transport endpoint is not connected. */
export const ENOTCONN = 107;
/** Connection reset by peer. */
export const ECONNRESET = 104;
/** Too many references: cannot splice. */
export const ETOOMANYREFS = 109;
export const ETIMEDOUT = 110;
/** Connection refused. */
export const ECONNREFUSED = 111;
export const EALREADY = 114;
export const ECANCELED = 125;
/**
 * Models ERESTARTSYS (include/linux/errno.h, kernel-internal): an interruptible wait ended by a
 * signal; the syscall is restarted if the handler allows it. A fatal signal kills the thread on
 * its way back to userspace, so userspace never sees this (nor the three below).
 */
export const ERESTARTSYS = 512;
/** Models ERESTARTNOINTR: restart regardless of the handler. */
export const ERESTARTNOINTR = 513;
/** Models ERESTARTNOHAND: restart if there is no handler (do_poll()). */
export const ERESTARTNOHAND = 514;
/** Models ERESTART_RESTARTBLOCK: restart through restart_block (sys_poll()). */
export const ERESTART_RESTARTBLOCK = 516;

const NAMES: Record<number, string> = {
  [EPERM]: "EPERM",
  [ENOENT]: "ENOENT",
  [ESRCH]: "ESRCH",
  [EINTR]: "EINTR",
  [EIO]: "EIO",
  [ENXIO]: "ENXIO",
  [E2BIG]: "E2BIG",
  [EBADF]: "EBADF",
  [EAGAIN]: "EAGAIN",
  [ENOMEM]: "ENOMEM",
  [EACCES]: "EACCES",
  [EFAULT]: "EFAULT",
  [EBUSY]: "EBUSY",
  [EEXIST]: "EEXIST",
  [ENODEV]: "ENODEV",
  [ENOTDIR]: "ENOTDIR",
  [EINVAL]: "EINVAL",
  [ENFILE]: "ENFILE",
  [EMFILE]: "EMFILE",
  [ENOTTY]: "ENOTTY",
  [EFBIG]: "EFBIG",
  [ENOSPC]: "ENOSPC",
  [ESPIPE]: "ESPIPE",
  [EPIPE]: "EPIPE",
  [ERANGE]: "ERANGE",
  [EDEADLK]: "EDEADLK",
  [ENAMETOOLONG]: "ENAMETOOLONG",
  [ENOSYS]: "ENOSYS",
  [ENOTEMPTY]: "ENOTEMPTY",
  [ELOOP]: "ELOOP",
  [ENODATA]: "ENODATA",
  [ETIME]: "ETIME",
  [EOVERFLOW]: "EOVERFLOW",
  [EBADFD]: "EBADFD",
  [EOPNOTSUPP]: "EOPNOTSUPP",
  [EADDRINUSE]: "EADDRINUSE",
  [ECONNRESET]: "ECONNRESET",
  [EISCONN]: "EISCONN",
  [ETIMEDOUT]: "ETIMEDOUT",
  [ECONNREFUSED]: "ECONNREFUSED",
  [EALREADY]: "EALREADY",
  [ECANCELED]: "ECANCELED",
  [ERESTARTSYS]: "ERESTARTSYS",
  [ERESTARTNOINTR]: "ERESTARTNOINTR",
  [ERESTARTNOHAND]: "ERESTARTNOHAND",
  [ERESTART_RESTARTBLOCK]: "ERESTART_RESTARTBLOCK",
};

/** A negative errno carried where an object is expected (ERR_PTR). */
export type Errno = number & { readonly __errno: true };

/** ERR_PTR(-e): `errPtr(ENOENT)` is the value `-2` typed as an Errno. */
export function errPtr(errno: number): Errno {
  return -Math.abs(errno) as Errno;
}

/** IS_ERR(): true for a negative errno. */
export function isErr(v: unknown): v is Errno {
  return typeof v === "number" && v < 0;
}

/** "ENOENT" for 2 or -2; "E?123" for an unknown value. */
export function errnoName(errno: number): string {
  const e = Math.abs(errno);
  return NAMES[e] ?? `E?${e}`;
}

/** The errno for a name ("ENOENT" -> 2), or undefined. */
export function errnoFromName(name: string): number | undefined {
  for (const [k, v] of Object.entries(NAMES)) if (v === name) return Number(k);
  return undefined;
}
