/**
 * The reference model of the fuzzer's unix socket syscalls: what socketpair(2), sendmsg(2) with
 * SCM_RIGHTS and recvmsg(2) may return, given what the calling thread knows (Linux v6.18, read in
 * the 6.18.35 stable tree: net/socket.c `__sys_socketpair()`, `__sock_create()`;
 * net/unix/af_unix.c `unix_create()`, `unix_stream_sendmsg()`, `unix_stream_read_generic()`;
 * net/core/scm.c `scm_fp_copy()`, `scm_detach_fds()`; include/linux/net.h SOCK_MAX;
 * include/linux/socket.h AF_MAX, MSG_CTRUNC). Each verdict is a pure function of the arguments
 * and of the thread's knowledge, so that a wrong errno can be fed to it in a test.
 *
 * What an fd a receive installs names is not decided here: fuzz.ts records the receive's new fds
 * as lives of the process's fd model whose objects are resolved at the end of the run (every
 * file a message that may have been queued on the socket carried: fd-model.ts `installedVia()`).
 */

import {
  AF_UNIX,
  EAFNOSUPPORT,
  EAGAIN,
  EBADF,
  EFAULT,
  EINVAL,
  ENOTSOCK,
  EPIPE,
  EPROTONOSUPPORT,
  ESOCKTNOSUPPORT,
  ETOOMANYREFS,
  MSG_CTRUNC,
  SCM_MAX_FD,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOCK_TYPE_MASK,
} from "@primetime/kernel";
import type { FdObject } from "./fd-model.js";

/** AF_MAX of include/linux/socket.h (v6.18): NPROTO, the families __sock_create() accepts. */
export const NPROTO = 46;
/** SOCK_MAX of include/linux/net.h (v6.18): SOCK_PACKET + 1. */
export const KERNEL_SOCK_MAX = 11;

/**
 * The arguments the fuzzer gives socketpair(2) when it means a bad one: families outside
 * [0, NPROTO) (a family inside the range but not registered fails after the type check:
 * socketpairExpected() has that order, the fuzzer does not draw one), types unix_create() refuses (0, SOCK_RDM, SOCK_DCCP) or at or
 * above SOCK_MAX (11, the mask's 15), protocols other than 0 and PF_UNIX, flag bits other than
 * SOCK_CLOEXEC and SOCK_NONBLOCK. Never SOCK_DGRAM, SOCK_SEQPACKET or SOCK_RAW (the kernel model
 * refuses what the kernel accepts: not modelled) nor SOCK_PACKET (10: in range, -ESOCKTNOSUPPORT
 * from unix_create(); not drawn, so that the draws of existing tokens stay as they are).
 */
export const BAD_FAMILIES = [-1, 1000] as const;
export const BAD_TYPES = [0, 4, 6, 11, 15] as const;
export const BAD_PROTOCOLS = [2, -1] as const;
export const BAD_TYPE_FLAGS = [1 << 8, 1 << 20] as const;

/**
 * socketpair(family, type, protocol)'s result by its arguments, in __sys_socketpair()'s order:
 * flags other than SOCK_CLOEXEC | SOCK_NONBLOCK (-EINVAL, before any fd is reserved); then, in
 * __sock_create(), a family outside [0, NPROTO) (-EAFNOSUPPORT), a type at or above SOCK_MAX
 * (-EINVAL), then the family lookup (-EAFNOSUPPORT: the kernel model registers AF_UNIX only); in
 * unix_create(), a protocol other than 0 or PF_UNIX (-EPROTONOSUPPORT) and a type
 * other than SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW (-ESOCKTNOSUPPORT). "pair": the
 * call succeeds (or fails an allocation, or -EMFILE with a full table).
 */
export function socketpairExpected(
  family: number,
  type: number,
  protocol: number,
): number | "pair" {
  const flags = type & ~SOCK_TYPE_MASK;
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return -EINVAL;
  const t = type & SOCK_TYPE_MASK;
  if (family < 0 || family >= NPROTO) return -EAFNOSUPPORT;
  if (t >= KERNEL_SOCK_MAX) return -EINVAL;
  if (family !== AF_UNIX) return -EAFNOSUPPORT;
  if (protocol !== 0 && protocol !== AF_UNIX) return -EPROTONOSUPPORT;
  if (t !== SOCK_STREAM) return -ESOCKTNOSUPPORT;
  return "pair";
}

/** What the sending thread knows of one sendmsg(2) with SCM_RIGHTS. */
export interface SendKnowledge {
  /** The fd is this thread's socket end throughout the call (so no -EBADF, -ENOTSOCK). */
  readonly sockSure: boolean;
  /** The fds passed (their number). */
  readonly count: number;
  /** One of them was never open (-EBADF for sure, once the count is under SCM_MAX_FD). */
  readonly neverOpen: boolean;
  /** Every fd passed surely names a file throughout the call (no -EBADF from them). */
  readonly allSure: boolean;
  /** The peer end's file surely stays open throughout (the thread holds its fd): no -EPIPE. */
  readonly peerAlive: boolean;
  /**
   * Files the fuzzer sent over sockets (any user: one user here) by the call's return, others
   * than this call's: the user's in-flight count cannot exceed it (too_many_unix_fds()).
   */
  readonly sentBefore: number;
  /** The sender's RLIMIT_NOFILE. */
  readonly rlimit: number;
  /** An allocation may have failed during the call (-ENOMEM legitimate). */
  readonly allocMayFail: boolean;
}

/**
 * Whether sendmsg(fd, SCM_RIGHTS of `count` fds) may return `ret` (unix_stream_sendmsg() of
 * v6.18 after sockfd_lookup_light(): scm_send() -> scm_fp_copy(): -EINVAL above SCM_MAX_FD,
 * -ENOMEM, -EBADF; then wait_for_unix_gc(), -ENOTCONN without a peer (a socket released: not
 * while its fd is held), -EPIPE shut down; the skb; unix_attach_fds(): -ETOOMANYREFS when the
 * user's in-flight files exceed RLIMIT_NOFILE; -EPIPE when the peer is dead; else 0).
 * Returns null if it may, else why not.
 */
export function sendmsgVerdict(ret: number, k: SendKnowledge): string | null {
  if (ret === -EBADF || ret === -ENOTSOCK) {
    if (!k.sockSure) return null;
    if (ret === -ENOTSOCK) return "the fd is this thread's socket";
    if (k.count > SCM_MAX_FD) return `${k.count} fds are over SCM_MAX_FD (-EINVAL first)`;
    return k.neverOpen || !k.allSure ? null : "every fd passed is open";
  }
  if (k.sockSure && k.count > SCM_MAX_FD)
    return ret === -EINVAL ? null : `${k.count} fds are over SCM_MAX_FD: -EINVAL`;
  if (k.allocMayFail && ret < 0) return null;
  if (k.neverOpen && k.count <= SCM_MAX_FD) return "a never-open fd passed: -EBADF";
  switch (ret) {
    case 0:
      return k.count > SCM_MAX_FD ? "over SCM_MAX_FD" : null;
    case -EPIPE:
      return k.peerAlive ? "the peer's fd is held throughout" : null;
    case -ETOOMANYREFS:
      return k.count > 0 && k.sentBefore > k.rlimit
        ? null
        : `at most ${k.sentBefore} files in flight, RLIMIT_NOFILE ${k.rlimit}`;
    case -EINVAL:
      return k.count > SCM_MAX_FD ? null : "at most SCM_MAX_FD fds";
    default:
      return "not an errno of unix_stream_sendmsg()";
  }
}

/** What the receiving thread knows of one recvmsg(2). */
export interface RecvKnowledge {
  /** The fd is this thread's socket end throughout the call. */
  readonly sockSure: boolean;
  /** The room for fds given (SCM_MAX_FD by default). */
  readonly maxFds: number;
  /** MSG_DONTWAIT, or an O_NONBLOCK socket, or the thread does not know (-EAGAIN legitimate). */
  readonly nonblock: boolean;
  /** An allocation may have failed (an fd table that could not grow: fewer fds, MSG_CTRUNC). */
  readonly allocMayFail: boolean;
}

/** A recvmsg(2) result: the new fds and the message flags, or an errno. */
export type RecvResult = { readonly fds: readonly number[]; readonly msgFlags: number } | number;

/**
 * Whether recvmsg() may return `r` (unix_stream_read_generic() of one skb, scm_recv_unix() ->
 * scm_detach_fds() of v6.18): -EBADF and -ENOTSOCK only from an fd that may not be a socket,
 * -EAGAIN only nonblocking; a message: at most `maxFds` new fds, distinct and non-negative,
 * msg_flags 0 or MSG_CTRUNC, and MSG_CTRUNC with fewer than `maxFds` only when an fd could not
 * be installed (receive_fd() failed: the table could not grow; the fuzzer's processes never
 * fill RLIMIT_NOFILE). Returns null if it may, else why not.
 */
export function recvmsgVerdict(r: RecvResult, k: RecvKnowledge): string | null {
  if (typeof r === "number") {
    if (r === -EBADF || r === -ENOTSOCK)
      return k.sockSure ? "the fd is this thread's socket" : null;
    if (r === -EAGAIN) return k.nonblock ? null : "a blocking receive";
    return k.allocMayFail ? null : "not an errno of recvmsg() here";
  }
  if (r.msgFlags !== 0 && r.msgFlags !== MSG_CTRUNC) return `msg_flags ${r.msgFlags}`;
  if (r.fds.length > k.maxFds) return `${r.fds.length} fds, room for ${k.maxFds}`;
  if (new Set(r.fds).size !== r.fds.length || r.fds.some((x) => !Number.isInteger(x) || x < 0))
    return `fds ${r.fds.join(", ")}`;
  if (r.msgFlags === MSG_CTRUNC && r.fds.length < k.maxFds && !k.allocMayFail)
    return `MSG_CTRUNC with ${r.fds.length} fds, room for ${k.maxFds}`;
  return null;
}

/** Whether a socket syscall's result `ret` on an fd could come from `o` (-ENOTSOCK: not a socket). */
export function socketCallFits(ret: number): (o: FdObject) => boolean {
  return (o) => (ret === -ENOTSOCK ? o.kind !== "socket" : o.kind === "socket");
}

/** The hostile recvmsg() options: not an object (-EFAULT), a negative room (-EINVAL). */
export const HOSTILE_RECV: readonly [unknown, number][] = [
  [null, -EFAULT],
  [{ maxFds: -1 }, -EINVAL],
];
