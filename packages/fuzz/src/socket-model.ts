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
  EADDRINUSE,
  EAFNOSUPPORT,
  EAGAIN,
  EBADF,
  ECONNREFUSED,
  ECONNRESET,
  EFAULT,
  EINVAL,
  EISCONN,
  ENOENT,
  ENOTCONN,
  ENOTSOCK,
  EOPNOTSUPP,
  EPIPE,
  EPROTONOSUPPORT,
  ESOCKTNOSUPPORT,
  ETOOMANYREFS,
  MSG_CTRUNC,
  MSG_OOB,
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
  /**
   * Whether the socket is connected (`--sockets listen` only; default "yes"): "no" for a new
   * socket or a listener of the thread (-ENOTCONN after scm_send()'s checks), "maybe" for a
   * file whose state the thread does not know (a received one).
   */
  readonly conn?: Conn;
}

/** What the thread knows of a socket's connection: see SendKnowledge.conn. */
export type Conn = "yes" | "no" | "maybe";

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
  // unix_stream_sendmsg(): after scm_send() and wait_for_unix_gc(), no unix_peer(sk): -ENOTCONN.
  const conn = k.conn ?? "yes";
  if (ret === -ENOTCONN) return conn === "yes" ? "the socket is connected" : null;
  if (conn === "no" && k.sockSure) return "the socket is not connected: -ENOTCONN";
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
  /**
   * Whether the socket is connected (default "yes"): unix_stream_read_generic() refuses a socket
   * that is not TCP_ESTABLISHED (a new socket, a listener) with -EINVAL before anything else.
   */
  readonly conn?: Conn;
  /**
   * The thread holds the peer end's fd throughout (default false): the peer is not released, so
   * its unix_release_sock() has not set this socket's sk_err (no -ECONNRESET).
   */
  readonly peerAlive?: boolean;
  /**
   * A receive through this fd already returned -ECONNRESET (default false): sk_err was consumed
   * (sock_error()'s xchg()), and only the release of the socket's one peer sets it, so never again.
   */
  readonly resetSeen?: boolean;
}

/** A recvmsg(2) result: the new fds and the message flags, or an errno. */
export type RecvResult = { readonly fds: readonly number[]; readonly msgFlags: number } | number;

/**
 * Whether recvmsg() may return `r` (unix_stream_read_generic() of one skb, scm_recv_unix() ->
 * scm_detach_fds() of v6.18): -EBADF and -ENOTSOCK only from an fd that may not be a socket,
 * -EAGAIN only nonblocking; -ECONNRESET (sock_error(), with an empty queue, before end of file)
 * only on a connected socket whose peer may have been released (unix_release_sock() sets sk_err
 * when the peer's queue held an skb, or the peer was an embryo released with its listener), and
 * at most once per socket (the read consumes it: later reads give end of file); a message: at most `maxFds` new fds, distinct and non-negative,
 * msg_flags 0 or MSG_CTRUNC, and MSG_CTRUNC with fewer than `maxFds` only when an fd could not
 * be installed (receive_fd() failed: the table could not grow; the fuzzer's processes never
 * fill RLIMIT_NOFILE). Returns null if it may, else why not.
 */
export function recvmsgVerdict(r: RecvResult, k: RecvKnowledge): string | null {
  const conn = k.conn ?? "yes";
  if (typeof r === "number") {
    if (r === -EBADF || r === -ENOTSOCK)
      return k.sockSure ? "the fd is this thread's socket" : null;
    if (r === -EINVAL && conn !== "yes") return null;
    if (conn === "no" && k.sockSure) return "the socket is not connected: -EINVAL";
    if (r === -EAGAIN) return k.nonblock ? null : "a blocking receive";
    if (r === -ECONNRESET) {
      if (k.peerAlive) return "the peer's fd is held throughout: no sk_err";
      return k.resetSeen
        ? "-ECONNRESET was already read on this socket (sk_err is set once)"
        : null;
    }
    return k.allocMayFail ? null : "not an errno of recvmsg() here";
  }
  if (conn === "no" && k.sockSure) return "a message from a socket that is not connected";
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

// ---------------------------------------------------------------------------------------------
// MSG_OOB (`oob`, `cli --oob on`), read in the 6.18.35 stable tree: net/unix/af_unix.c
// unix_stream_sendmsg()'s MSG_OOB branch, queue_oob(), unix_stream_recv_urg(), manage_oob(),
// unix_stream_read_generic(), unix_ioctl()'s SIOCATMARK.

/** The fuzzer's OOB bytes have the top bit set; its other data bytes never (0x00-0x7f). */
export const OOB_BYTE = 0x80;

/**
 * Whether sendmsg(fd, SCM_RIGHTS, MSG_OOB) of `len` bytes may return `ret`: scm_send()'s errors
 * as sendmsgVerdict() says, then -EOPNOTSUPP for no bytes (before unix_peer()); else the bytes
 * sent: `len`, or `len - 1` when the data went out and queue_oob() failed after it (-EPIPE from a
 * peer released meanwhile, -ENOMEM: `sent ?: err`), or sendmsgVerdict()'s errnos. Null if it
 * may, else why not.
 */
export function oobSendVerdict(ret: number, len: number, k: SendKnowledge): string | null {
  if (ret < 0 && (ret === -EBADF || ret === -ENOTSOCK || (k.allocMayFail && ret !== -EOPNOTSUPP)))
    return sendmsgVerdict(ret, k);
  if (len === 0) {
    if (ret === -EOPNOTSUPP) return k.neverOpen ? "a never-open fd passed: -EBADF first" : null;
    return "MSG_OOB without a byte: -EOPNOTSUPP";
  }
  if (ret === -EOPNOTSUPP) return `MSG_OOB with ${len} bytes`;
  if (ret === len) return sendmsgVerdict(0, k);
  if (len > 1 && ret === len - 1)
    return k.peerAlive && !k.allocMayFail ? "the OOB byte lost with the peer's fd held" : null;
  if (ret >= 0) return `${ret} bytes of ${len}`;
  return sendmsgVerdict(ret, k);
}

/** A recvmsg(2) result with its bytes (a call with MSG_OOB or a byte count). */
export type RecvDataResult =
  | { readonly fds: readonly number[]; readonly msgFlags: number; readonly data?: Uint8Array }
  | number;

/**
 * Whether recvmsg(fd, MSG_OOB) may return `r` (unix_stream_recv_urg()): -EBADF and -ENOTSOCK as
 * recvmsgVerdict() says; -EINVAL (no OOB byte pending, or a socket not connected); never
 * -EAGAIN nor -ECONNRESET (no wait, no sock_error()); else one byte, an OOB byte of the fuzzer,
 * MSG_OOB and no fds (the OOB skb's files stay with it). Null if it may, else why not.
 */
export function oobRecvVerdict(r: RecvDataResult, k: RecvKnowledge): string | null {
  if (typeof r === "number") {
    if (r === -EBADF || r === -ENOTSOCK)
      return k.sockSure ? "the fd is this thread's socket" : null;
    if (r === -EINVAL) return null;
    return k.allocMayFail ? null : "not an errno of recv(MSG_OOB)";
  }
  if ((k.conn ?? "yes") === "no" && k.sockSure) return "the OOB byte of a socket not connected";
  if (r.msgFlags !== MSG_OOB) return `msg_flags ${r.msgFlags}, not MSG_OOB`;
  if (r.fds.length !== 0) return `${r.fds.length} fds with the OOB byte`;
  if (r.data?.length !== 1) return `${r.data?.length ?? "no"} bytes, not one`;
  if ((r.data[0]! & OOB_BYTE) === 0) return `byte ${r.data[0]} was never sent with MSG_OOB`;
  return null;
}

/**
 * Whether recvmsg(fd) of at most `size` bytes (`size` >= 1) may return `r`: what
 * recvmsgVerdict() allows of the fds and errnos, with at most `size` bytes, no MSG_OOB, and no
 * bytes only at end of file (no fds either: every skb the fuzzer queues carries a byte, and a
 * read that reaches one copies it). Null if it may, else why not.
 */
export function sizedRecvVerdict(r: RecvDataResult, size: number, k: RecvKnowledge): string | null {
  const why = recvmsgVerdict(r, k);
  if (why !== null || typeof r === "number") return why;
  const n = r.data?.length ?? -1;
  if (n < 0 || n > size) return `${n} bytes, room for ${size}`;
  if (n === 0 && r.fds.length > 0) return `${r.fds.length} fds with no byte`;
  return null;
}

/**
 * Whether ioctl(fd, SIOCATMARK) may return `ret` with `value` (unix_ioctl()): on the thread's
 * socket, 0 with an answer of 0 or 1; on a file that may be anything else, any errno.
 */
export function atmarkVerdict(ret: number, value: unknown, sockSure: boolean): string | null {
  if (!sockSure) return null;
  if (ret !== 0) return `SIOCATMARK on a socket = ${ret}`;
  return value === 0 || value === 1 ? null : `SIOCATMARK's answer ${String(value)}`;
}

// ---------------------------------------------------------------------------------------------
// Listening sockets (`sockets: "listen"`, `cli --sockets listen`): socket(2), bind(2), listen(2),
// connect(2), accept4(2), read in the 6.18.35 stable tree: net/socket.c __sys_socket_create(),
// __sock_create(), __sys_bind(), move_addr_to_kernel(), __sys_listen_socket(), __sys_connect(),
// __sys_connect_file(), __sys_accept4(), __sys_accept4_file(), do_accept(); net/unix/af_unix.c
// unix_create(), unix_bind(), unix_validate_addr(), unix_autobind(), unix_bind_abstract(),
// unix_listen(), unix_stream_connect(), unix_find_other(), unix_recvq_full_lockless(),
// unix_accept().

/** AF_INET, AF_NETLINK and the last family below AF_MAX: in range, not registered here. */
export const INRANGE_FAMILIES = [2, 16, 45] as const;
/** SOCK_PACKET (include/linux/net.h): below SOCK_MAX, refused by unix_create(). */
export const SOCK_PACKET = 10;

/**
 * socket(family, type, protocol)'s result by its arguments: __sys_socket_create()'s flag check
 * (-EINVAL), then sock_create()'s and unix_create()'s, in socketpair()'s order
 * (socketpairExpected()). An in-range family other than AF_UNIX is -EAFNOSUPPORT here: the
 * kernel model registers AF_UNIX only (a kernel without those families built gives the same).
 * "fd": a new socket (or an allocation failure).
 */
export function socketExpected(family: number, type: number, protocol: number): number | "fd" {
  const r = socketpairExpected(family, type, protocol);
  return r === "pair" ? "fd" : r;
}

/**
 * The addresses bind(2) and connect(2) are given: an abstract name (`name`), a bare sun_family
 * (`auto`: length offsetof(sun_path), autobind for bind()), a pathname (`path`, connect() only:
 * no such file), a length above sizeof(sockaddr_storage) (`len-long`, 129), above
 * sizeof(sockaddr_un) (`len-sun`, 111), too short for a family (`len-short`, 1), a family other
 * than AF_UNIX (`family`), a length longer than the buffer (`fault`).
 */
export type AddrKind =
  | "name"
  | "auto"
  | "path"
  | "len-long"
  | "len-sun"
  | "len-short"
  | "family"
  | "fault";

/**
 * The errno an address gives before any socket state is looked at (null: none):
 * move_addr_to_kernel() (-EINVAL for a length above sizeof(sockaddr_storage), -EFAULT), then
 * unix_bind()'s autobind test and unix_validate_addr() (-EINVAL), or for connect()
 * unix_validate_addr() (a bare family is too short: -EINVAL); a pathname connect() fails in
 * unix_find_other() (unix_find_bsd(): kern_path() -ENOENT), after the address checks and before
 * the listener's.
 */
export function addrErrno(kind: AddrKind, op: "bind" | "connect"): number | null {
  switch (kind) {
    case "fault":
      return -EFAULT;
    case "len-long":
    case "len-sun":
    case "len-short":
    case "family":
      return -EINVAL;
    case "auto":
      return op === "bind" ? null : -EINVAL;
    case "path":
      return -ENOENT;
    default:
      return null;
  }
}

/** What the thread surely knows of one of its own sockets (null: nothing, e.g. it escaped). */
export interface ListenKnown {
  /** TCP_CLOSE (socket()), TCP_LISTEN, TCP_ESTABLISHED (a pair's end, connected, accepted). */
  readonly state: "close" | "listen" | "est";
  /** It has an address: bound, autobound, or accepted (the listener's address). */
  readonly bound: boolean;
}

/** What the thread knows of an abstract name: free, bound to a live socket, or either. */
export type NameState = "free" | "bound" | "unknown";

/**
 * bind(2)'s possible results on a socket fd (after __sys_bind()'s -EBADF and -ENOTSOCK):
 * addrErrno(); autobind 0 (bound or not); unix_bind_abstract(): -EINVAL when the socket has an
 * address (under u->bindlock, before the table), -EADDRINUSE when the name is taken, else 0.
 */
export function bindExpected(
  kind: AddrKind,
  k: ListenKnown | null,
  name: NameState,
): readonly number[] {
  const e = addrErrno(kind, "bind");
  if (e !== null) return [e];
  if (kind === "auto") return [0];
  if (k === null) return [0, -EINVAL, -EADDRINUSE];
  if (k.bound) return [-EINVAL];
  if (name === "free") return [0];
  if (name === "bound") return [-EADDRINUSE];
  return [0, -EADDRINUSE];
}

/**
 * listen(2)'s possible results (unix_listen()): -EINVAL without an address, -EINVAL unless
 * TCP_CLOSE or TCP_LISTEN (a connected socket), else 0 (any backlog: __sys_listen_socket() caps
 * it at somaxconn as an unsigned value).
 */
export function listenExpected(k: ListenKnown | null): readonly number[] {
  if (k === null) return [0, -EINVAL];
  if (!k.bound || k.state === "est") return [-EINVAL];
  return [0];
}

/**
 * What the thread knows of the socket bound at a connect()'s name: nothing bound
 * (-ECONNREFUSED), a socket of its own whose state and backlog it knows, or nothing sure.
 */
export type ConnectTarget =
  | { readonly kind: "none" }
  | { readonly kind: "listener"; readonly listening: boolean; readonly full: boolean }
  | { readonly kind: "unknown" };

/**
 * connect(2)'s possible results (__sys_connect(): -EBADF, move_addr_to_kernel(), -ENOTSOCK; then
 * unix_stream_connect()): addrErrno(); unix_find_other(): -ECONNREFUSED for a name nothing is
 * bound to; the listener's checks: -ECONNREFUSED unless TCP_LISTEN, -EAGAIN when its backlog is
 * full (unix_recvq_full_lockless(): more embryos queued than sk_max_ack_backlog; the fuzzer
 * draws such a connect() only on an O_NONBLOCK socket); only then the connecting socket's state:
 * -EISCONN when connected, -EINVAL when listening; else 0.
 */
export function connectExpected(
  kind: AddrKind,
  k: ListenKnown | null,
  target: ConnectTarget,
): readonly number[] {
  const e = addrErrno(kind, "connect");
  if (e !== null) return [e];
  const out: number[] = [];
  if (target.kind === "none") return [-ECONNREFUSED];
  if (target.kind === "unknown") out.push(-ECONNREFUSED, -EAGAIN);
  else if (!target.listening) return [-ECONNREFUSED];
  else if (target.full) return [-EAGAIN];
  if (k === null) out.push(0, -EISCONN, -EINVAL);
  else out.push(k.state === "close" ? 0 : k.state === "est" ? -EISCONN : -EINVAL);
  return out;
}

/** accept4()'s flag bits the fuzzer draws as bad ones (anything but SOCK_CLOEXEC|SOCK_NONBLOCK). */
export const BAD_ACCEPT_FLAGS = [1, 1 << 20] as const;

/**
 * accept4(2)'s possible results on a socket fd ("fd": a new socket): __sys_accept4_file()'s
 * -EINVAL for bad flags (before the fd and the socket); unix_accept()'s -EINVAL unless
 * TCP_LISTEN; skb_recv_datagram(): an embryo if one is queued, else -EAGAIN (an O_NONBLOCK
 * listener file; the fuzzer never accepts where it could sleep). `queued` null: the thread does
 * not know (others may connect or accept).
 */
export function acceptExpected(
  badFlags: boolean,
  k: ListenKnown | null,
  queued: number | null,
): readonly (number | "fd")[] {
  if (badFlags) return [-EINVAL];
  if (k === null) return ["fd", -EINVAL, -EAGAIN];
  if (k.state !== "listen") return [-EINVAL];
  if (queued === null) return ["fd", -EAGAIN];
  return queued > 0 ? ["fd"] : [-EAGAIN];
}
