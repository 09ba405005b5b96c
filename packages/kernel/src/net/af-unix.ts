/**
 * Unix stream sockets as files (net/unix/af_unix.c, net/socket.c, Linux v6.18, read in the
 * 6.18.35 stable tree): socketpair(2), sendmsg(2) with SCM_RIGHTS of any file (socket files
 * included, so a socket's fd can be in flight in its own queue), recvmsg(2) with or without
 * MSG_PEEK, and the release of a socket's file (sock_close() -> unix_release() ->
 * unix_release_sock(): the peer shut down, the receive queue purged, the garbage collector run
 * when sockets are in flight). The fds in flight are the garbage collector's graph (garbage.ts).
 *
 * Faithfulness: SOCK_STREAM pairs only (SOCK_DGRAM and SOCK_SEQPACKET are refused with
 * -ESOCKTNOSUPPORT, which the kernel gives only for unknown types); no bind/connect/listen/accept
 * (so no embryos), no data bytes (one sendmsg() is one skb; a recvmsg() reads one skb, as the
 * kernel's stream read stops after an skb with fds), no OOB, no SCM_CREDENTIALS/SO_PEERCRED,
 * SO_PASSRIGHTS always on, no send buffer limit (sendmsg() never blocks), no SIGPIPE, no poll.
 * The per-process SCM_RIGHTS queues of scm.ts (Process.sendFd()/recvmsg()) are separate and
 * unchanged.
 */

import { opLabel, point, TASK_INTERRUPTIBLE } from "@primetime/sim";
import { O_CLOEXEC, O_NONBLOCK } from "@primetime/uapi";
import {
  fdget,
  fdInstall,
  fdput,
  getUnusedFdFlags,
  putUnusedFd,
  receiveFd,
} from "../fs/fdtable.js";
import { allocFile, type File, fileOperations, fput, O_RDWR } from "../fs/file.js";
import {
  EAFNOSUPPORT,
  EAGAIN,
  EBADF,
  EFAULT,
  EINVAL,
  ENOMEM,
  ENOTCONN,
  ENOTSOCK,
  EPIPE,
  EPROTONOSUPPORT,
  ERESTARTSYS,
  ESOCKTNOSUPPORT,
  ETOOMANYREFS,
  isErr,
} from "../include/errno.js";
import {
  RCV_SHUTDOWN,
  SEND_SHUTDOWN,
  SHUTDOWN_MASK,
  SkBuff,
  skbDequeue,
  skbQueueTail,
  skbUnlink,
  skbuffHeadCache,
  TCP_CLOSE,
  TCP_ESTABLISHED,
  UnixSock,
  unixSockCache,
} from "../include/net/af-unix.js";
import { scheduleOn, signalPending } from "../kernel/signal.js";
import { type SyscallProcess, syscall } from "../kernel/syscalls.js";
import { lockdepAssertHeld } from "../locking/lockdep.js";
import { kfree, kmalloc } from "../mm/slab.js";
import {
  unixAddEdges,
  unixDelEdges,
  unixDestroyFpl,
  unixGc,
  unixGcSetKfreeSkb,
  unixGetSocket,
  unixPeekFpl,
  unixPrepareFpl,
  unixSetSocketFile,
  unixTotInflight,
  unixUserInflight,
  waitForUnixGc,
} from "./garbage.js";
import { MSG_CTRUNC, SCM_MAX_FD, type ScmFpList, scmDestroy, scmFpCopy, scmFpDup } from "./scm.js";

/** Models AF_UNIX (include/linux/socket.h). */
export const AF_UNIX = 1;
/** Models SOCK_STREAM (include/linux/net.h). */
export const SOCK_STREAM = 1;
/** Models SOCK_DGRAM. */
export const SOCK_DGRAM = 2;
/** Models SOCK_SEQPACKET. */
export const SOCK_SEQPACKET = 5;
/** Models SOCK_MAX of include/linux/net.h: SOCK_PACKET (10) + 1. */
export const SOCK_MAX = 11;
/** Models NPROTO (= AF_MAX, include/linux/socket.h): the families __sock_create() takes. */
export const NPROTO = 46;
/** Models SOCK_TYPE_MASK. */
export const SOCK_TYPE_MASK = 0xf;
/** Models SOCK_CLOEXEC (= O_CLOEXEC). */
export const SOCK_CLOEXEC = O_CLOEXEC;
/** Models SOCK_NONBLOCK (= O_NONBLOCK). */
export const SOCK_NONBLOCK = O_NONBLOCK;
/** Models MSG_PEEK (include/linux/socket.h). */
export const MSG_PEEK = 2;
/** Models MSG_DONTWAIT. */
export const MSG_DONTWAIT = 0x40;
/** Models MSG_CMSG_CLOEXEC. */
export const MSG_CMSG_CLOEXEC = 0x40000000;

/** Models sk_free() once sk_refcnt is gone (sk_destruct(): unix_sock_destructor()). */
async function skFree(sk: UnixSock): Promise<void> {
  kfree(sk);
}

/**
 * Models sock_put(). Locking: none. References: drops one of `sk`'s.
 */
async function sockPut(sk: UnixSock): Promise<void> {
  await sk.refcnt.put(() => skFree(sk));
}

/**
 * Models kfree_skb() / consume_skb() of a unix skb: the destructor (unix_destruct_scm()), then
 * the free. Locking: none held (the destructor may take unix_gc_lock). References: consumes the
 * skb and, through its destructor, its files' in-flight references.
 */
export async function kfreeSkb(skb: SkBuff): Promise<void> {
  await point(opLabel("kfree_skb", skb.name));
  if (!skb.checkAccess("kfree_skb")) return;
  if (skb.destructor !== null) await skb.destructor(skb);
  kfree(skb);
}

/**
 * Models unix_destruct_scm(): an skb with files still attached detaches them
 * (unix_detach_fds()) and drops their references (scm_destroy()).
 * Locking: none held. References: drops the skb's files' references.
 */
async function unixDestructScm(skb: SkBuff): Promise<void> {
  if (skb.fp === null) return;
  const scm = await unixDetachFds(skb);
  if (scm !== null) await scmDestroy(scm);
}

unixGcSetKfreeSkb(kfreeSkb);

/**
 * Models unix_detach_fds(): takes the fpl off the skb (scm->fp = UNIXCB(skb).fp, NULL) and out
 * of the garbage collector's bookkeeping (unix_destroy_fpl()). Returns it, for scm_destroy()
 * or scm_detach_fds().
 * Locking: none held; u->iolock for a reader. References: the skb's file references move to the
 * returned list.
 */
async function unixDetachFds(skb: SkBuff): Promise<ScmFpList | null> {
  await point(opLabel("unix_detach_fds", skb.name));
  skb.checkAccess("unix_detach_fds");
  const fpl = skb.fp;
  skb.fp = null;
  if (fpl !== null) await unixDestroyFpl(fpl);
  return fpl;
}

/**
 * Models unix_peek_fds(): a copy of the skb's fpl with new file references (scm_fp_dup()), then
 * unix_peek_fpl(), which tells a running garbage collector (not with `unix.gc-peek-no-seqcount`).
 * Locking: u->iolock held by the caller. References: the copy holds one reference per file.
 */
async function unixPeekFds(u: UnixSock, skb: SkBuff): Promise<ScmFpList | null> {
  lockdepAssertHeld(u.iolock);
  await point(opLabel("UNIXCB(skb).fp", skb.name));
  skb.checkAccess("unix_peek_fds");
  const fpl = skb.fp;
  if (fpl === null) return null;
  const copy = await scmFpDup(fpl);
  await unixPeekFpl(copy);
  return copy;
}

/**
 * Models unix_attach_fds(): -ETOOMANYREFS when the user has more files in flight than its
 * RLIMIT_NOFILE (too_many_unix_fds(); no CAP_SYS_RESOURCE here), else the fpl moves to the skb
 * and gets its vertices and edges (unix_prepare_fpl(): -ENOMEM).
 * Locking: none. References: the scm's file references move to the skb.
 */
async function unixAttachFds(
  p: SyscallProcess,
  fpl: ScmFpList,
  skb: SkBuff,
  inflightFiles: number,
): Promise<number> {
  if (inflightFiles > p.files.rlimitNofile) return -ETOOMANYREFS;
  skb.fp = fpl;
  return unixPrepareFpl(fpl);
}

/** Models scm_stat_add(): counts the files and puts the sockets among them in flight. */
async function scmStatAdd(other: UnixSock, skb: SkBuff): Promise<void> {
  const fp = skb.fp;
  if (fp !== null && fp.fp.length > 0) {
    other.nrFds += fp.fp.length;
    await unixAddEdges(fp, other);
  }
}

/** Models scm_stat_del(): the reverse, when a reader takes the skb. */
async function scmStatDel(u: UnixSock, skb: SkBuff): Promise<void> {
  const fp = skb.fp;
  if (fp !== null && fp.fp.length > 0) {
    u.nrFds -= fp.fp.length;
    await unixDelEdges(fp);
  }
}

/** The socket a file is (sockfd_lookup_light()'s sock_from_file()), or null. */
function sockFromFile(file: File): UnixSock | null {
  return unixGetSocket(file);
}

/**
 * Models sock_close() -> __sock_release() -> unix_release(): the file's ->release.
 * Locking: none held. References: drops the file's socket reference (unix_release_sock()).
 */
async function unixSockClose(_inode: unknown, file: File): Promise<number> {
  const sk = file.privateData as UnixSock;
  await unixReleaseSock(sk, false);
  return 0;
}

/** Models socket_file_ops of a unix socket (sock_close() as ->release). */
export const unixSocketFops = fileOperations({ owner: "af_unix", release: unixSockClose });

/**
 * Models unix_release_sock(sk, embrion): orphans the socket and closes it (SHUTDOWN_MASK,
 * TCP_CLOSE, no peer) under unix_state_lock(); shuts the peer down (ECONNRESET when data was
 * unread: not modelled) and drops the peer's reference; purges the receive queue (kfree_skb():
 * the destructors drop the in-flight files); drops the socket's own reference; then runs the
 * garbage collector if any socket is in flight ("if (READ_ONCE(unix_tot_inflight)) unix_gc()").
 *
 * Locking: takes `sk`'s and the peer's unix_state_lock(), the receive queue's lock.
 * References: drops the socket file's reference on `sk` and `sk`'s on its peer.
 */
export async function unixReleaseSock(sk: UnixSock, _embrion: boolean): Promise<void> {
  await sk.lock.lock();
  sk.dead = true; // sock_orphan()
  sk.file = null;
  sk.shutdown = SHUTDOWN_MASK;
  sk.state = TCP_CLOSE;
  const skpair = sk.peer;
  sk.peer = null;
  await sk.lock.unlock();
  sk.wait.wakeAll();
  if (skpair !== null) {
    await skpair.lock.lock();
    await point(opLabel("WRITE_ONCE(skpair->sk_shutdown)", skpair.name));
    skpair.shutdown = SHUTDOWN_MASK;
    await skpair.lock.unlock();
    skpair.wait.wakeAll(); // sk_state_change()
    await sockPut(skpair);
  }
  for (;;) {
    await sk.queueLock.lock();
    const skb = skbDequeue(sk.receiveQueue); // skb_dequeue()
    await sk.queueLock.unlock();
    if (skb === undefined) break;
    await kfreeSkb(skb);
  }
  await sockPut(sk);
  if ((await unixTotInflight()) > 0) await unixGc();
}

/**
 * Models unix_create() + sk_alloc() for one end: a socket with one reference (the socket
 * file's). -ENOMEM.
 */
function unixCreate(): UnixSock | number {
  const sk = kmalloc(unixSockCache, () => new UnixSock());
  if (isErr(sk)) return -ENOMEM;
  sk.refcnt.init();
  return sk;
}

/**
 * Models unix_socketpair(): joins two sockets back to back (each holds the other: sock_hold()),
 * both TCP_ESTABLISHED.
 * Locking: none (the sockets are not published yet). References: takes one on each.
 */
async function unixSocketpair(ska: UnixSock, skb: UnixSock): Promise<void> {
  await ska.refcnt.get();
  await skb.refcnt.get();
  ska.peer = skb;
  skb.peer = ska;
  ska.state = TCP_ESTABLISHED;
  skb.state = TCP_ESTABLISHED;
}

/** Models sock_alloc_file(): the socket's file ("socket:[N]"), or -ENOMEM. */
async function sockAllocFile(sk: UnixSock, flags: number): Promise<File | number> {
  const f = await allocFile(
    unixSocketFops,
    sk,
    `socket:[${sk.name}]`,
    O_RDWR | (flags & O_NONBLOCK),
  );
  if (isErr(f)) return f;
  sk.file = f;
  unixSetSocketFile(f, sk);
  return f;
}

/**
 * Models __sys_socketpair() for AF_UNIX SOCK_STREAM: two unused fds, two sockets joined by
 * unix_socketpair(), their files, then both fds installed. Returns [fd1, fd2], or -EINVAL (flags
 * other than SOCK_CLOEXEC|SOCK_NONBLOCK), -EMFILE (no free fd: the first is put back), then
 * __sock_create()'s -EAFNOSUPPORT (a family outside [0, NPROTO)) before its -EINVAL (a type at or
 * above SOCK_MAX), then its family lookup (-EAFNOSUPPORT: AF_UNIX is the only family here),
 * then unix_create()'s -EPROTONOSUPPORT (a protocol other than 0 or PF_UNIX), -ESOCKTNOSUPPORT (a type other than
 * SOCK_STREAM; see the file comment), -ENOMEM.
 * Nothing is left behind on failure.
 *
 * Locking: takes file_lock. References: each fd holds its file, each file its socket.
 */
export async function sysSocketpairBody(
  family: number,
  type: number,
  protocol: number,
): Promise<[number, number] | number> {
  const flags = type & ~SOCK_TYPE_MASK;
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return -EINVAL;
  const stype = type & SOCK_TYPE_MASK;
  const fd1 = await getUnusedFdFlags(flags);
  if (fd1 < 0) return fd1;
  const fd2 = await getUnusedFdFlags(flags);
  if (fd2 < 0) {
    await putUnusedFd(fd1);
    return fd2;
  }
  const out = async (err: number): Promise<number> => {
    await putUnusedFd(fd2);
    await putUnusedFd(fd1);
    return err;
  };
  // sock_create() -> __sock_create(): the family's range, the type's range, then the family
  // lookup (only AF_UNIX is registered here); then unix_create(): the protocol, the type
  // (SOCK_STREAM only here, see the file comment).
  if (family < 0 || family >= NPROTO) return out(-EAFNOSUPPORT);
  if (stype >= SOCK_MAX) return out(-EINVAL);
  if (family !== AF_UNIX) return out(-EAFNOSUPPORT);
  if (protocol !== 0 && protocol !== AF_UNIX) return out(-EPROTONOSUPPORT);
  if (stype !== SOCK_STREAM) return out(-ESOCKTNOSUPPORT);
  await point("sock_create");
  const ska = unixCreate();
  if (typeof ska === "number") return out(ska);
  const skb = unixCreate();
  if (typeof skb === "number") {
    await unixReleaseSock(ska, false);
    return out(skb);
  }
  await unixSocketpair(ska, skb);
  const f1 = await sockAllocFile(ska, flags);
  if (typeof f1 === "number") {
    await unixReleaseSock(skb, false);
    await unixReleaseSock(ska, false);
    return out(f1);
  }
  const f2 = await sockAllocFile(skb, flags);
  if (typeof f2 === "number") {
    await unixReleaseSock(skb, false);
    await fput(f1);
    return out(f2);
  }
  await fdInstall(fd1, f1);
  await fdInstall(fd2, f2);
  return [fd1, fd2];
}

/**
 * Models unix_stream_sendmsg() of one skb carrying the files at `fds` (SCM_RIGHTS; none: a
 * message without control data): scm_send() (scm_fp_copy(): -EINVAL above SCM_MAX_FD, -EBADF,
 * -ENOMEM), wait_for_unix_gc(), -ENOTCONN without a peer, -EPIPE when this end is shut down for
 * sending; the skb (-ENOMEM), unix_scm_to_skb() -> unix_attach_fds() (-ETOOMANYREFS, -ENOMEM);
 * under the peer's unix_state_lock(): -EPIPE if it is dead or shut down for receiving, else
 * scm_stat_add() (unix_add_edges()) and the skb queued; the peer's readers woken. Returns 0.
 * On failure every reference taken is dropped and nothing is queued.
 *
 * Locking: takes the peer's unix_state_lock() and receive queue lock, unix_gc_lock.
 * References: the queued skb holds one reference per file.
 */
export async function unixStreamSendmsg(
  p: SyscallProcess,
  sk: UnixSock,
  fds: readonly number[],
): Promise<number> {
  const fpl = await scmFpCopy(fds, (f) => unixGetSocket(f) !== null);
  if (typeof fpl === "number") return fpl;
  const scmDestroyAll = async (err: number): Promise<number> => {
    if (fpl !== null) await scmDestroy(fpl);
    return err;
  };
  await waitForUnixGc(fpl);
  await point(opLabel("unix_peer", sk.name));
  const other = sk.peer;
  if (other === null) return scmDestroyAll(-ENOTCONN);
  if (sk.shutdown & SEND_SHUTDOWN) return scmDestroyAll(-EPIPE);
  const skb = kmalloc(skbuffHeadCache, () => new SkBuff());
  if (isErr(skb)) return scmDestroyAll(-ENOMEM);
  skb.destructor = unixDestructScm;
  if (fpl !== null) {
    const err = await unixAttachFds(p, fpl, skb, unixUserInflight());
    if (err < 0) {
      // out_free: consume_skb() runs unix_destruct_scm() on what was attached.
      if (skb.fp === null) await scmDestroy(fpl);
      await kfreeSkb(skb);
      return err;
    }
  }
  await other.lock.lock();
  if (other.dead || other.shutdown & RCV_SHUTDOWN) {
    await other.lock.unlock();
    await kfreeSkb(skb);
    return -EPIPE;
  }
  await scmStatAdd(other, skb);
  await other.queueLock.lock();
  await point(opLabel("__skb_queue_tail", other.name));
  skbQueueTail(other.receiveQueue, skb);
  await other.queueLock.unlock();
  await other.lock.unlock();
  other.wait.wakeOne(); // sk_data_ready()
  return 0;
}

/** What a socket receive delivered: the new fds and the message flags. */
export interface UnixRecvResult {
  /** The new fds, in the message's order (empty for a message without files). */
  fds: number[];
  /** MSG_CTRUNC when some files got no fd. */
  msgFlags: number;
}

/** recvmsg()'s options for a socket. */
export interface UnixRecvOptions {
  /** MSG_PEEK: leave the skb queued, give new fds for copies of its files. */
  peek?: boolean;
  /** MSG_DONTWAIT (or an O_NONBLOCK socket). */
  nonblock?: boolean;
  /** MSG_CMSG_CLOEXEC. */
  cloexec?: boolean;
  /** Room for fds in the control buffer (scm_max_fds()); SCM_MAX_FD by default. */
  maxFds?: number;
}

/**
 * Models unix_stream_read_generic() of one skb and scm_recv_unix() -> scm_detach_fds(): under
 * u->iolock, the head skb is taken under unix_state_lock() (skb_peek(), not the queue lock);
 * without one, -EAGAIN (nonblocking), 0 fds at end of file (the peer shut down), or a
 * TASK_INTERRUPTIBLE sleep (-ERESTARTSYS on a signal). Then, unlocked: without MSG_PEEK,
 * scm_stat_del() and unix_detach_fds() take the files, and the skb is unlinked under the queue
 * lock and consumed; with MSG_PEEK, unix_peek_fds() copies the files with new references and
 * the skb stays. After u->iolock, the files get fds (at most `maxFds`; MSG_CTRUNC for the rest)
 * and the list's references are dropped.
 *
 * Locking: takes u->iolock, unix_state_lock(), the receive queue lock, file_lock.
 * References: new fds hold new references; the detached or copied list's are dropped.
 */
export async function unixStreamRecvmsg(
  sk: UnixSock,
  opts: UnixRecvOptions,
): Promise<UnixRecvResult | number> {
  let skb: SkBuff | undefined;
  for (;;) {
    await sk.iolock.lock();
    await sk.lock.lock();
    skb = sk.receiveQueue[0];
    if (skb !== undefined) {
      await sk.lock.unlock();
      break;
    }
    const shut = (sk.shutdown & RCV_SHUTDOWN) !== 0;
    await sk.lock.unlock();
    await sk.iolock.unlock();
    if (shut) return { fds: [], msgFlags: 0 };
    if (opts.nonblock) return -EAGAIN;
    await scheduleOn(sk.wait, TASK_INTERRUPTIBLE, `unix_stream_data_wait(${sk.name})`);
    if (signalPending()) return -ERESTARTSYS;
  }
  let fpl: ScmFpList | null;
  if (!opts.peek) {
    await point(opLabel("UNIXCB(skb).fp", skb.name));
    skb.checkAccess("unix_stream_read_generic");
    if (skb.fp !== null) await scmStatDel(sk, skb);
    fpl = skb.fp !== null ? await unixDetachFds(skb) : null;
    await sk.queueLock.lock();
    await point(opLabel("__skb_unlink", skb.name));
    skb.checkAccess("__skb_unlink");
    skbUnlink(skb, sk.receiveQueue);
    await sk.queueLock.unlock();
    await kfreeSkb(skb); // consume_skb()
  } else {
    fpl = await unixPeekFds(sk, skb);
  }
  await sk.iolock.unlock();
  return scmDetachFds(fpl, opts);
}

/**
 * Models scm_detach_fds() + scm_destroy() (net/core/scm.c, v6.18): a new fd for each file, at
 * most `maxFds`, stopping at the first failure (MSG_CTRUNC), then the list's references dropped.
 * Locking: takes file_lock. References: each fd takes one; the list's are dropped.
 */
async function scmDetachFds(fpl: ScmFpList | null, opts: UnixRecvOptions): Promise<UnixRecvResult> {
  if (fpl === null) return { fds: [], msgFlags: 0 };
  const count = fpl.fp.length;
  const fdmax = Math.min(opts.maxFds ?? SCM_MAX_FD, count);
  const fds: number[] = [];
  for (let i = 0; i < fdmax; i++) {
    const fd = await receiveFd(fpl.fp[i]!, opts.cloexec ? O_CLOEXEC : 0);
    if (fd < 0) break;
    fds.push(fd);
  }
  const msgFlags = fds.length < count ? MSG_CTRUNC : 0;
  await scmDestroy(fpl);
  return { fds, msgFlags };
}

/**
 * Looks up a socket fd (sockfd_lookup_light(): fdget(), -EBADF, -ENOTSOCK), runs `fn` on its
 * socket, and drops the lookup's reference (fdput()).
 */
async function withSocket<T>(
  fd: unknown,
  fn: (sk: UnixSock, file: File) => Promise<T | number>,
): Promise<T | number> {
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) return -EBADF;
  const f = await fdget(fd);
  if (f.file === null) return -EBADF;
  try {
    const sk = sockFromFile(f.file);
    if (sk === null) return -ENOTSOCK;
    return await fn(sk, f.file);
  } finally {
    await fdput(f);
  }
}

/** Reads sendmsg()'s fd array once: a copy, or null if it is not an array of values. */
function copyFds(fds: unknown): number[] | null {
  try {
    if (!Array.isArray(fds)) return null;
    return Array.from(fds as unknown[], (x) => (typeof x === "number" ? x : -1));
  } catch {
    return null;
  }
}

/**
 * The socketpair(2) syscall: see sysSocketpairBody().
 */
export function sysSocketpair(
  p: SyscallProcess,
  family: unknown,
  type: unknown,
  protocol: unknown,
): Promise<[number, number] | number> {
  return syscall(
    p,
    "socketpair",
    async (_p, a: unknown, b: unknown, c: unknown) => {
      if (!Number.isInteger(a) || !Number.isInteger(b) || !Number.isInteger(c)) return -EINVAL;
      return sysSocketpairBody(a as number, b as number, c as number);
    },
    family,
    type,
    protocol,
  );
}

/**
 * The sendmsg(2) syscall on a unix socket fd with SCM_RIGHTS of `fds` (see unixStreamSendmsg()):
 * -EBADF (fd not open, or an fd in `fds` that is not one: a non-number counts as -1), -ENOTSOCK,
 * -EFAULT (`fds` not an array), -EINVAL, -ENOTCONN, -EPIPE, -ETOOMANYREFS, -ENOMEM.
 */
export function sysSendmsgFds(p: SyscallProcess, fd: unknown, fds: unknown): Promise<number> {
  return syscall(
    p,
    "sendmsg",
    async (pp, a: unknown, b: unknown) => {
      const list = copyFds(b);
      if (list === null) return -EFAULT;
      return withSocket(a, (sk) => unixStreamSendmsg(pp, sk, list));
    },
    fd,
    fds,
  ) as Promise<number>;
}

/**
 * The recvmsg(2) syscall on a unix socket fd (see unixStreamRecvmsg()): `{fds, msgFlags}`, or
 * -EBADF, -ENOTSOCK, -EAGAIN, -EFAULT (options not an object), -EINVAL (bad maxFds).
 */
export function sysRecvmsgFds(
  p: SyscallProcess,
  fd: unknown,
  opts: unknown,
): Promise<UnixRecvResult | number> {
  return syscall(
    p,
    "recvmsg",
    async (_p, a: unknown, b: unknown) => {
      let o: UnixRecvOptions;
      try {
        if (b === null || typeof b !== "object") return -EFAULT;
        const r = b as UnixRecvOptions;
        o = {
          peek: Boolean(r.peek),
          nonblock: Boolean(r.nonblock),
          cloexec: Boolean(r.cloexec),
          maxFds: r.maxFds,
        };
      } catch {
        return -EFAULT;
      }
      if (o.maxFds !== undefined && (!Number.isInteger(o.maxFds) || o.maxFds < 0)) return -EINVAL;
      return withSocket(a, (sk, file) =>
        unixStreamRecvmsg(sk, { ...o, nonblock: o.nonblock || (file.fFlags & O_NONBLOCK) !== 0 }),
      );
    },
    fd,
    opts,
  );
}
