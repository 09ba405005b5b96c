/**
 * Unix stream sockets as files (net/unix/af_unix.c, net/socket.c, Linux v6.18, read in the
 * 6.18.35 stable tree): socket(2) and socketpair(2), bind(2) to abstract names (a per-net table of
 * bound sockets), listen(2), connect(2) (unix_stream_connect(): the embryo socket, queued on the
 * listener in an skb, until accept(2) grafts it onto a new file), sendmsg(2) with SCM_RIGHTS of
 * any file (socket files included, so a socket's fd can be in flight in its own queue, or in an
 * embryo's), recvmsg(2) with or without MSG_PEEK, and the release of a socket's file (sock_close()
 * -> unix_release() -> unix_release_sock(): the peer shut down, the receive queue purged (a
 * listener's embryos released with it), the garbage collector run when sockets are in flight).
 * The fds in flight are the garbage collector's graph (garbage.ts).
 *
 * Faithfulness: SOCK_STREAM only (SOCK_DGRAM and SOCK_SEQPACKET are refused with -ESOCKTNOSUPPORT,
 * which the kernel gives only for unknown types); one network namespace per simulation; abstract
 * names only: the model has no filesystem, so a pathname bind() or connect() fails as a lookup in a
 * missing directory does (-ENOENT); autobind (bind() of a bare sun_family) numbers names from 0
 * where the kernel starts at a random number; no unix_nr_socks limit (-ENFILE), no SO_SNDTIMEO (a
 * blocking connect() waits without a timeout), no getname (accept() returns no address), no
 * shutdown(2), no data bytes (one sendmsg() is one skb; a recvmsg() reads one skb, as the kernel's
 * stream read stops after an skb with fds), no OOB, no SCM_CREDENTIALS/SO_PEERCRED
 * (prepare_peercred() and friends are left out), SO_PASSRIGHTS always on, no send buffer limit
 * (sendmsg() never blocks), no SIGPIPE, no poll. sk_err is modelled as the kernel sets and reads it
 * on these paths: unix_release_sock() sets the peer's to ECONNRESET when its own receive queue held
 * an skb or it is an embryo; a reader with an empty queue gets it once (sock_error() before
 * RCV_SHUTDOWN: the queued skbs, then -ECONNRESET, then end of file); a sender gets -EPIPE first
 * (SEND_SHUTDOWN, set with it), and sock_alloc_send_pskb()'s sock_error() runs in the same step as
 * unix_stream_sendmsg()'s shutdown check, so a release between the two (the kernel's -ECONNRESET
 * from sendmsg()) is not reached; unix_accept()'s skb_recv_datagram() calls sock_error() too (a
 * listener's sk_err is never set: it has no peer). lock_set_cmp_fn()'s orderings of two
 * unix_state_lock()s (listener, then the connecting socket) and of two receive queue locks
 * (listener, then embryo) are lockdep subclasses here. The per-process SCM_RIGHTS queues of scm.ts
 * (Process.sendFd()/recvmsg()) are separate and unchanged.
 */

import {
  defineKnownWindow,
  defineToggle,
  opLabel,
  point,
  RESOLVED,
  SimLocal,
  TASK_INTERRUPTIBLE,
  toggleEnabled,
} from "@primetime/sim";
import { O_CLOEXEC, O_NONBLOCK, S_IFSOCK, S_IRWXUGO } from "@primetime/uapi";
import {
  fdget,
  fdInstall,
  fdput,
  getUnusedFdFlags,
  putUnusedFd,
  receiveFd,
} from "../fs/fdtable.js";
import { allocFile, type File, fileOperations, fput, type Inode, O_RDWR } from "../fs/file.js";
import { newInode } from "../fs/inode.js";
import { ENOIOCTLCMD, type IoctlArg } from "../fs/ioctl.js";
import { kernMountSb } from "../fs/super.js";
import {
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
  ENOMEM,
  ENOSPC,
  ENOTCONN,
  ENOTSOCK,
  ENOTTY,
  EOPNOTSUPP,
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
  skbPeekNext,
  skbPeekPrev,
  skbQueueTail,
  skbUnlink,
  skbuffHeadCache,
  TCP_CLOSE,
  TCP_ESTABLISHED,
  TCP_LISTEN,
  UnixAddress,
  UnixSock,
  unixAddressCache,
  unixSkbLen,
  unixSockCache,
} from "../include/net/af-unix.js";
import { sockError } from "../include/net/sock.js";
import { scheduleOn, signalPending } from "../kernel/signal.js";
import { type SyscallProcess, syscall } from "../kernel/syscalls.js";
import { lockdepAssertHeld } from "../locking/lockdep.js";
import { SpinLock } from "../locking/spinlock.js";
import { kfree, kmalloc } from "../mm/slab.js";
import { AddressSpace } from "../mm/vma.js";
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
  unixUpdateEdges,
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
/** Models MSG_OOB (include/linux/socket.h). */
export const MSG_OOB = 1;
/** Models SIOCATMARK (include/uapi/asm-generic/sockios.h). */
export const SIOCATMARK = 0x8905;
/** Models MSG_PEEK (include/linux/socket.h). */
export const MSG_PEEK = 2;
/** Models MSG_DONTWAIT. */
export const MSG_DONTWAIT = 0x40;
/** Models MSG_CMSG_CLOEXEC. */
export const MSG_CMSG_CLOEXEC = 0x40000000;

/** Models offsetof(struct sockaddr_un, sun_path). */
export const SUN_PATH_OFFSET = 2;
/** Models sizeof(struct sockaddr_un). */
export const SOCKADDR_UN_SIZE = 110;
/** Models sizeof(struct sockaddr_storage) (move_addr_to_kernel()'s limit). */
export const SOCKADDR_STORAGE_SIZE = 128;
/** Models net.core.somaxconn's default (SOMAXCONN). */
export const SOMAXCONN = 4096;
/** Models net.unix.max_dgram_qlen's default: a new socket's sk_max_ack_backlog. */
export const UNIX_MAX_DGRAM_QLEN = 10;

/**
 * A struct sockaddr_un with an abstract name (sun_path[0] = 0, then `name`'s bytes), as
 * userspace builds it: the bytes and the length to pass to bind() or connect().
 */
export function sockaddrUnAbstract(name: string): { addr: Uint8Array; len: number } {
  const addr = new Uint8Array(SUN_PATH_OFFSET + 1 + name.length);
  addr[0] = AF_UNIX & 0xff;
  addr[1] = AF_UNIX >> 8;
  for (let i = 0; i < name.length; i++) addr[SUN_PATH_OFFSET + 1 + i] = name.charCodeAt(i) & 0xff;
  return { addr, len: addr.length };
}

/**
 * The per-net unix socket table (net->unx.table, net/unix/af_unix.c) of the simulation's one
 * network namespace: the bound sockets by name. One lock stands for the hash buckets' locks
 * (unix_table_double_lock() of two buckets is one acquisition here).
 */
interface UnixNet {
  /** Models net->unx.table.locks[]. */
  readonly lock: SpinLock;
  /** Models the bound sockets' hash chains: abstract name -> socket. */
  readonly bound: Map<string, UnixSock>;
  /** Models unix_autobind()'s ordernum start (get_random_u32() in the kernel; see the file comment). */
  ordernum: number;
}

const unixNet = new SimLocal<UnixNet>(() => ({
  lock: new SpinLock("&net->unx.table.locks[i]"),
  bound: new Map(),
  ordernum: 0,
}));

/**
 * Models unix_sock_destructor() + __sk_free(): the address's reference dropped, the socket freed.
 * Locking: none. References: drops `sk`'s on its address.
 */
async function unixSockDestructor(sk: UnixSock): Promise<void> {
  const addr = sk.addr;
  if (addr !== null) await addr.refcnt.put(() => kfree(addr)); // unix_release_addr()
  kfree(sk);
}

/**
 * Models sk_free(): sk_refcnt is gone; the socket is freed once sk_wmem_alloc also drops to 0
 * (a connect() skb still queued on a listener keeps its embryo's memory). With no skb charged
 * (sk_wmem_alloc 1) no other task can reach the socket any more, so the last decrement is no
 * scheduling point (ARCHITECTURE.md section 1: an object nobody else can see).
 */
async function skFree(sk: UnixSock): Promise<void> {
  if (sk.wmemAlloc.read() === 1) return unixSockDestructor(sk);
  await sk.wmemAlloc.put(() => unixSockDestructor(sk));
}

/**
 * Models sock_wfree() of a connect() skb (sock_wmalloc(newsk)): drops its charge on the embryo's
 * sk_wmem_alloc, freeing the embryo if its sk_refcnt is gone. Locking: none.
 */
async function sockWfree(skb: SkBuff): Promise<void> {
  const sk = skb.sk;
  if (sk === null) return;
  await sk.wmemAlloc.put(() => unixSockDestructor(sk));
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
 * Models sock_close() -> __sock_release() -> unix_release(): the file's ->release; a file
 * accept() allocated but never grafted a socket onto has none ("if (!sk) return 0").
 * Locking: none held. References: drops the file's socket reference (unix_release_sock()).
 */
async function unixSockClose(_inode: unknown, file: File): Promise<number> {
  const sk = file.privateData as UnixSock | null;
  if (sk === null) return 0;
  await unixReleaseSock(sk, false);
  return 0;
}

/**
 * Models sock_ioctl() -> unix_ioctl() of a stream socket for SIOCATMARK: under u->iolock, 1 when
 * the head skb is the OOB skb, or is a consumed (zero-length) skb with no OOB byte pending or the
 * OOB skb right after it, else 0; put_user() into `arg` (`{ value }`: -EFAULT for anything that is
 * not an object). Other commands: -ENOIOCTLCMD (-ENOTTY to userspace; SIOCINQ, SIOCOUTQ and
 * SIOCUNIXFILE are not modeled). A file accept() has not grafted a socket onto: -ENOTTY.
 *
 * Locking: takes u->iolock; reads the queue and u->oob_skb without their locks, as the kernel's
 * skb_peek() and READ_ONCE() do. References: none.
 */
async function unixIoctl(file: File, cmd: number, arg: IoctlArg): Promise<number> {
  const sk = file.privateData as UnixSock | null;
  if (sk === null) return -ENOTTY;
  if (cmd !== SIOCATMARK) return -ENOIOCTLCMD;
  const iolockTaken = sk.iolock.lock();
  if (iolockTaken !== RESOLVED) await iolockTaken;
  await point(opLabel("skb_peek", sk.name));
  let answ = 0;
  const skb = sk.receiveQueue[0];
  if (skb !== undefined) {
    const oobSkb = sk.oobSkb;
    const nextSkb = skbPeekNext(skb, sk.receiveQueue);
    if (skb === oobSkb || (unixSkbLen(skb) === 0 && (oobSkb === null || nextSkb === oobSkb)))
      answ = 1;
  }
  sk.iolock.unlockNow();
  if (arg === null || typeof arg !== "object") return -EFAULT; // put_user()
  (arg as { value?: number }).value = answ;
  return 0;
}

/** Models socket_file_ops of a unix socket (sock_close() as ->release, sock_ioctl()). */
export const unixSocketFops = fileOperations({
  owner: "af_unix",
  release: unixSockClose,
  unlockedIoctl: unixIoctl,
});

/**
 * Models unix_remove_socket(): a bound socket leaves the net's table (connect() no longer finds
 * it). The kernel also unhashes unbound sockets from the unbound buckets, which nothing here
 * looks up: the model keeps no unbound table, and an unbound socket's removal takes no lock.
 * Locking: takes the table lock. References: none (the table holds none here: see
 * unix_find_abstract()).
 */
async function unixRemoveSocket(sk: UnixSock): Promise<void> {
  if (sk.addr === null) return; // u->addr is set before the socket is hashed by name
  const net = unixNet.get();
  const lockTaken = net.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  const addr = sk.addr;
  if (addr !== null && net.bound.get(addr.path) === sk) net.bound.delete(addr.path);
  net.lock.unlockNow();
}

/**
 * Models unix_release_sock(sk, embrion): out of the net's table (unix_remove_socket()); orphans the
 * socket and closes it (SHUTDOWN_MASK, TCP_CLOSE, no peer) under unix_state_lock(), keeping its
 * state; clears u->oob_skb; wakes connect()s waiting on its backlog (peer_wait); peeks at its
 * receive queue (skb_peek(), no lock; a consumed OOB skb at the head counts as no data, except
 * with `unix.oob-consumed-econnreset`), then under the peer's unix_state_lock() shuts the peer
 * down and sets its sk_err to ECONNRESET when an skb was queued or `embrion` (an embryo released with its listener),
 * wakes it (sk_state_change()) and drops the peer's reference; purges the receive queue
 * (kfree_skb(): the destructors drop the in-flight files), and for a listener releases each queued
 * embryo first (unix_release_sock(skb->sk, 1)); drops the socket's own reference; then runs the
 * garbage collector if any socket is in flight ("if (READ_ONCE(unix_tot_inflight)) unix_gc()").
 *
 * Locking: takes the table lock, `sk`'s and the peer's unix_state_lock(), the receive queue's
 * lock. References: drops the socket file's (or an embryo's own) reference on `sk` and `sk`'s on
 * its peer.
 */
export async function unixReleaseSock(sk: UnixSock, embrion: boolean): Promise<void> {
  await unixRemoveSocket(sk);
  const lockTaken2 = sk.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  sk.dead = true; // sock_orphan()
  sk.file = null;
  sk.shutdown = SHUTDOWN_MASK;
  const state = sk.state;
  sk.state = TCP_CLOSE;
  const skpair = sk.peer;
  sk.peer = null;
  sk.lock.unlockNow();
  // u->oob_skb = NULL: no other task reads it any more (see the skb_peek() below).
  sk.oobSkb = null;
  sk.peerWait.wakeAll(); // wake_up_interruptible_all(&u->peer_wait)
  sk.wait.wakeAll();
  if (skpair !== null) {
    // skb_peek(&sk->sk_receive_queue), no lock and no scheduling point of its own: `sk` is dead
    // and has no peer since the step above, so no sendmsg() or connect() queues on it any more
    // (both check SOCK_DEAD under its unix_state_lock()), and no reader takes from it (a reader
    // holds the file whose last reference this is; an embryo has none): the queue can only change
    // under this task, and the load commutes with what other tasks do (ARCHITECTURE.md section 1).
    // A consumed OOB skb at the head is no unread data (skb_peek_next()); the kernels before
    // 2a5a4841846b tested skb_queue_empty_lockless() (`unix.oob-consumed-econnreset`).
    let head: SkBuff | null = sk.receiveQueue[0] ?? null;
    if (
      head !== null &&
      unixSkbLen(head) === 0 &&
      !toggleEnabled(UNIX_OOB_CONSUMED_ECONNRESET.name)
    )
      head = skbPeekNext(head, sk.receiveQueue);
    const unread = head !== null;
    const lockTaken3 = skpair.lock.lock();
    if (lockTaken3 !== RESOLVED) await lockTaken3;
    await point(opLabel("WRITE_ONCE(skpair->sk_shutdown)", skpair.name));
    skpair.shutdown = SHUTDOWN_MASK;
    if (unread || embrion) skpair.err = ECONNRESET; // WRITE_ONCE(skpair->sk_err, ECONNRESET)
    skpair.lock.unlockNow();
    skpair.wait.wakeAll(); // sk_state_change()
    await sockPut(skpair);
  }
  for (;;) {
    const queueLockTaken = sk.queueLock.lock();
    if (queueLockTaken !== RESOLVED) await queueLockTaken;
    const skb = skbDequeue(sk.receiveQueue); // skb_dequeue()
    sk.queueLock.unlockNow();
    if (skb === undefined) break;
    if (state === TCP_LISTEN && skb.sk !== null) await unixReleaseSock(skb.sk, true);
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
  sk.wmemAlloc.init(); // refcount_set(&sk->sk_wmem_alloc, 1) in sock_init_data()
  sk.maxAckBacklog = UNIX_MAX_DGRAM_QLEN;
  return sk;
}

/**
 * Models unix_socketpair(): joins two sockets back to back (each holds the other: sock_hold()),
 * both TCP_ESTABLISHED.
 * Locking: none (the sockets are not published yet). References: takes one on each.
 */
async function unixSocketpair(ska: UnixSock, skb: UnixSock): Promise<void> {
  const getDone = ska.refcnt.get();
  if (getDone !== RESOLVED) await getDone;
  const getDone2 = skb.refcnt.get();
  if (getDone2 !== RESOLVED) await getDone2;
  ska.peer = skb;
  skb.peer = ska;
  ska.state = TCP_ESTABLISHED;
  skb.state = TCP_ESTABLISHED;
}

/**
 * The argument checks of sock_create() -> __sock_create(): the family's range, the type's range,
 * then the family lookup (only AF_UNIX is registered here); then unix_create()'s: the protocol,
 * the type (SOCK_STREAM only here, see the file comment). 0 or the errno.
 */
function sockCreateCheck(family: number, stype: number, protocol: number): number {
  if (family < 0 || family >= NPROTO) return -EAFNOSUPPORT;
  if (stype >= SOCK_MAX) return -EINVAL;
  if (family !== AF_UNIX) return -EAFNOSUPPORT;
  if (protocol !== 0 && protocol !== AF_UNIX) return -EPROTONOSUPPORT;
  if (stype !== SOCK_STREAM) return -ESOCKTNOSUPPORT;
  return 0;
}

/**
 * Models the inode of sock_alloc() (net/socket.c, v6.12 and v6.18): new_inode_pseudo() on
 * sockfs' super block, i_ino = get_next_ino(), i_mode = S_IFSOCK | S_IRWXUGO; what fstat(2) of
 * the socket's fd reports. (The kernel's socket and inode are one allocation, socket_alloc; the
 * model's file names keep the socket's name rather than "socket:[<i_ino>]".)
 * Locking: none. References: the file's, once it points at it.
 */
export function sockAllocInode(name: string): Inode {
  return newInode(
    kernMountSb("sockfs"),
    S_IFSOCK | S_IRWXUGO,
    name,
    0,
    null,
    undefined,
    sockfsMapping,
  );
}

/** The sockets' i_mapping (one for all: nothing maps a socket in the model). */
const sockfsMapping = new AddressSpace("sockfs");

/** Models sock_alloc_file(): the socket's file ("socket:[N]") on its inode, or -ENOMEM. */
async function sockAllocFile(sk: UnixSock, flags: number): Promise<File | number> {
  const f = await allocFile(
    unixSocketFops,
    sk,
    `socket:[${sk.name}]`,
    O_RDWR | (flags & O_NONBLOCK),
  );
  if (isErr(f)) return f;
  f.fInode = sockAllocInode(f.path);
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
  const err = sockCreateCheck(family, stype, protocol);
  if (err < 0) return out(err);
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
    const fputDone = fput(f1);
    if (fputDone !== RESOLVED) await fputDone;
    return out(f2);
  }
  const fdInstallDone = fdInstall(fd1, f1);
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  const fdInstallDone2 = fdInstall(fd2, f2);
  if (fdInstallDone2 !== RESOLVED) await fdInstallDone2;
  return [fd1, fd2];
}

/**
 * Models __sys_socket() for AF_UNIX SOCK_STREAM: __sys_socket_create() (-EINVAL for flags other
 * than SOCK_CLOEXEC|SOCK_NONBLOCK, then sock_create()'s checks as socketpair()'s, unix_create1()'s
 * -ENOMEM), then sock_map_fd(): an unused fd (-EMFILE: the socket is released), the file
 * (-ENOMEM: released with it), the fd installed. Returns the fd.
 *
 * Locking: takes file_lock. References: the fd holds the file, the file the socket.
 */
export async function sysSocketBody(
  family: number,
  type: number,
  protocol: number,
): Promise<number> {
  const flags = type & ~SOCK_TYPE_MASK;
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return -EINVAL;
  const err = sockCreateCheck(family, type & SOCK_TYPE_MASK, protocol);
  if (err < 0) return err;
  await point("sock_create");
  const sk = unixCreate();
  if (typeof sk === "number") return sk;
  const fd = await getUnusedFdFlags(flags);
  if (fd < 0) {
    await unixReleaseSock(sk, false); // sock_release()
    return fd;
  }
  const f = await sockAllocFile(sk, flags);
  if (typeof f === "number") {
    await unixReleaseSock(sk, false); // sock_alloc_file()'s sock_release()
    await putUnusedFd(fd);
    return f;
  }
  const fdInstallDone3 = fdInstall(fd, f);
  if (fdInstallDone3 !== RESOLVED) await fdInstallDone3;
  return fd;
}

/**
 * Models move_addr_to_kernel(): -EINVAL for a length outside [0, sizeof(sockaddr_storage)],
 * -EFAULT when the buffer is not readable for that length; else the bytes (none for length 0).
 */
function moveAddrToKernel(uaddr: unknown, ulen: unknown): Uint8Array | number {
  if (typeof ulen !== "number" || !Number.isInteger(ulen)) return -EINVAL;
  if (ulen < 0 || ulen > SOCKADDR_STORAGE_SIZE) return -EINVAL;
  const kaddr = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  if (ulen === 0) return kaddr.subarray(0, 0);
  try {
    if (!(uaddr instanceof Uint8Array) || uaddr.length < ulen) return -EFAULT;
    kaddr.set(uaddr.subarray(0, ulen));
  } catch {
    return -EFAULT;
  }
  return kaddr.subarray(0, ulen);
}

/** sun_family of a kernel copy of a sockaddr (0 when too short to hold one). */
function sunFamily(a: Uint8Array): number {
  return a.length >= SUN_PATH_OFFSET ? a[0]! | (a[1]! << 8) : 0;
}

/** sun_path[0..len-2] as a string of byte values (the table's key). */
function sunPath(a: Uint8Array): string {
  return String.fromCharCode(...a.subarray(SUN_PATH_OFFSET));
}

/**
 * Models unix_validate_addr(): -EINVAL unless the length leaves room for a path byte and fits a
 * sockaddr_un, and the family is AF_UNIX.
 */
function unixValidateAddr(a: Uint8Array): number {
  if (a.length <= SUN_PATH_OFFSET || a.length > SOCKADDR_UN_SIZE) return -EINVAL;
  if (sunFamily(a) !== AF_UNIX) return -EINVAL;
  return 0;
}

/** Models unix_create_addr(): a new address with one reference, or null (-ENOMEM). */
function unixCreateAddr(path: string): UnixAddress | null {
  const addr = kmalloc(unixAddressCache, () => new UnixAddress());
  if (isErr(addr)) return null;
  addr.refcnt.init();
  addr.len = SUN_PATH_OFFSET + path.length;
  addr.path = path;
  return addr;
}

/**
 * Models unix_bind_abstract() (and unix_autobind()'s name search, `auto`): the address, then
 * under u->bindlock (mutex_lock_interruptible(): -EINTR on a signal) -EINVAL if
 * the socket is bound already; under the table lock -EADDRINUSE if the name is taken, else the
 * socket is hashed under it (__unix_set_addr_hash()). Autobind tries "\0%05x" names from the
 * net's counter and gives -ENOSPC when all 2^20 are taken; it returns 0 when already bound.
 *
 * Locking: takes u->bindlock, then the table lock. References: the socket owns the address's.
 */
async function unixBindAbstract(sk: UnixSock, path: string | null): Promise<number> {
  const auto = path === null;
  const net = unixNet.get();
  const addr = unixCreateAddr(path ?? "\0xxxxx");
  if (addr === null) return -ENOMEM;
  const release = async (err: number): Promise<number> => {
    await addr.refcnt.put(() => kfree(addr)); // unix_release_addr()
    return err;
  };
  const err = await sk.bindlock.lockInterruptible();
  if (err < 0) return release(err);
  if (sk.addr !== null) {
    sk.bindlock.unlockNow();
    return release(auto ? 0 : -EINVAL);
  }
  const lockTaken4 = net.lock.lock();
  if (lockTaken4 !== RESOLVED) await lockTaken4;
  if (auto) {
    const first = net.ordernum & 0xfffff;
    let n = first;
    for (;;) {
      addr.path = `\0${n.toString(16).padStart(5, "0")}`;
      n = (n + 1) & 0xfffff;
      if (!net.bound.has(addr.path)) break;
      if (n === first) {
        net.lock.unlockNow();
        sk.bindlock.unlockNow();
        return release(-ENOSPC);
      }
    }
    net.ordernum = n;
  } else if (net.bound.has(addr.path)) {
    net.lock.unlockNow();
    sk.bindlock.unlockNow();
    return release(-EADDRINUSE);
  }
  await point(opLabel("__unix_set_addr_hash", sk.name));
  sk.addr = addr;
  net.bound.set(addr.path, sk);
  net.lock.unlockNow();
  sk.bindlock.unlockNow();
  return 0;
}

/**
 * Models unix_bind(): a bare sun_family (length == offsetof(sun_path)) autobinds; else
 * unix_validate_addr() (-EINVAL), then a pathname (-ENOENT here: no filesystem, see the file
 * comment) or an abstract name (unix_bind_abstract(): -EINVAL when bound, -EADDRINUSE, -ENOMEM).
 */
async function unixBind(sk: UnixSock, a: Uint8Array): Promise<number> {
  if (a.length === SUN_PATH_OFFSET && sunFamily(a) === AF_UNIX) return unixBindAbstract(sk, null);
  const err = unixValidateAddr(a);
  if (err < 0) return err;
  if (a[SUN_PATH_OFFSET] !== 0) return -ENOENT; // unix_bind_bsd(): no filesystem here
  return unixBindAbstract(sk, sunPath(a));
}

/**
 * Models unix_listen() after __sys_listen_socket() capped the backlog at somaxconn (an unsigned
 * compare: a negative backlog becomes somaxconn): -EINVAL on an unbound socket, or, under
 * unix_state_lock(), one neither closed nor listening (a connected socket); else the backlog
 * (a larger one wakes connect()s waiting on peer_wait) and TCP_LISTEN.
 *
 * Locking: takes unix_state_lock(). References: none.
 */
async function unixListen(sk: UnixSock, backlog: number): Promise<number> {
  if (backlog < 0 || backlog > SOMAXCONN) backlog = SOMAXCONN;
  await point(opLabel("READ_ONCE(u->addr)", sk.name));
  if (sk.addr === null) return -EINVAL;
  const lockTaken5 = sk.lock.lock();
  if (lockTaken5 !== RESOLVED) await lockTaken5;
  if (sk.state !== TCP_CLOSE && sk.state !== TCP_LISTEN) {
    sk.lock.unlockNow();
    return -EINVAL;
  }
  if (backlog > sk.maxAckBacklog) sk.peerWait.wakeAll();
  sk.maxAckBacklog = backlog;
  sk.state = TCP_LISTEN;
  sk.lock.unlockNow();
  return 0;
}

/**
 * Models unix_find_abstract() -> unix_find_socket_byname(): the socket bound to `path`, with a
 * reference (sock_hold() under the table lock), or -ECONNREFUSED.
 * Locking: takes the table lock. References: the caller owns the returned socket's.
 */
async function unixFindAbstract(path: string): Promise<UnixSock | number> {
  const net = unixNet.get();
  const lockTaken6 = net.lock.lock();
  if (lockTaken6 !== RESOLVED) await lockTaken6;
  const sk = net.bound.get(path);
  if (sk === undefined) {
    net.lock.unlockNow();
    return -ECONNREFUSED;
  }
  await sk.refcnt.get(); // sock_hold()
  net.lock.unlockNow();
  return sk;
}

/** Models unix_recvq_full_lockless(): more skbs queued than the backlog. */
function unixRecvqFull(sk: UnixSock): boolean {
  return sk.receiveQueue.length > sk.maxAckBacklog;
}

/**
 * Models unix_wait_for_peer(): an exclusive TASK_INTERRUPTIBLE sleep on the listener's peer_wait
 * if it is still alive, open and full, after dropping its unix_state_lock().
 * Locking: `other`'s unix_state_lock() held on entry, released.
 */
async function unixWaitForPeer(other: UnixSock): Promise<void> {
  lockdepAssertHeld(other.lock);
  const sched = !other.dead && !(other.shutdown & RCV_SHUTDOWN) && unixRecvqFull(other);
  other.lock.unlockNow();
  if (sched)
    await scheduleOn(other.peerWait, TASK_INTERRUPTIBLE, `unix_wait_for_peer(${other.name})`);
}

/**
 * The window v6.18.35 has between unix_stream_connect() and the collector: the connecting socket
 * can send into the embryo as soon as unix_peer(sk) points at it, while the skb carrying the
 * embryo is queued on the listener only after that. The collector's view of the embryo's
 * in-flight fds already goes through u->listener, so an SCC with the listener can be judged dead
 * and collected before the embryo is on the listener's queue: unix_collect_skb() splices no embryo
 * queue, the SCC is no longer counted as cyclic, and later collections skip the graph. The old
 * collector's form of this race was CVE-2024-26923 (47d8ac011fe1), fixed by a unix_state_lock()
 * flip of candidate listeners in unix_gc(); the v6.10 collector has no such flip.
 */
export const UNIX_GC_EMBRYO_QUEUED_LATE = defineKnownWindow({
  name: "unix.gc-embryo-queued-late",
  what:
    "a listener whose only reference is in flight in its own embryo's queue (sent by the connecting " +
    "socket while connect() has not yet queued the embryo on the listener) is judged dead and " +
    "collected with nothing to collect: the embryo is not on the listener's queue yet, the graph is " +
    "marked not cyclic and no later collection looks again; kmemleak reports the listener, the " +
    "embryo, the connect() skb, the skb carrying the listener's fd and its scm_fp_list, and the " +
    "listener's name stays bound",
  where:
    "net/unix/af_unix.c: unix_stream_connect() (unix_peer(sk) = newsk; unix_state_unlock(sk); then " +
    "__skb_queue_tail(&other->sk_receive_queue, skb)) and unix_stream_sendmsg() into the embryo, " +
    "against net/unix/garbage.c: unix_edge_successor() (the embryo's listener), unix_vertex_dead(), " +
    "unix_collect_skb()'s TCP_LISTEN walk of the listener's queue and __unix_walk_scc()'s " +
    "cyclic count",
  since: "af_unix: Replace garbage collection algorithm.",
  sinceCommit: "4090fa373f0e763c43610853d2774b5979915959",
  kernels:
    "v6.10 onwards with the new collector (and the stable trees it was backported to); v6.18.35 " +
    "has it (af_unix.c and garbage.c read); no upstream report or fix found",
  proposedFix:
    "queue the embryo's skb on the listener (under its receive queue lock, still under both " +
    "unix_state_lock()s) before publishing unix_peer(sk) = newsk, so nothing can be sent into an " +
    "embryo that is not on its listener's queue (proposed here)",
  foundBy:
    "packages/kernel src/net/af-unix-listen.test.ts (connectVsGc: a connect() and a thread " +
    "sending the listener's fd into the new embryo, closing it and running the collector; PCT)",
});

/** Models the queueing of the embryo's skb: __skb_queue_tail() under the listener's queue lock. */
async function unixQueueEmbryo(other: UnixSock, skb: SkBuff): Promise<void> {
  lockdepAssertHeld(other.lock);
  const queueLockTaken2 = other.queueLock.lock();
  if (queueLockTaken2 !== RESOLVED) await queueLockTaken2;
  await point(opLabel("__skb_queue_tail", other.name));
  skbQueueTail(other.receiveQueue, skb);
  other.queueLock.unlockNow();
}

/**
 * Models unix_stream_connect(): unix_validate_addr() (-EINVAL); the embryo `newsk` created
 * before any lock (unix_create1(): -ENOMEM) and the skb that will carry it, charged to it
 * (sock_wmalloc(): -ENOMEM); the listener found (unix_find_other(): -ECONNREFUSED, -ENOENT for a
 * pathname) and locked: a dead one is looked up again; -ECONNREFUSED if it is not listening or
 * shut down for reading; a full backlog gives -EAGAIN (nonblocking) or a sleep on its peer_wait,
 * then the lookup again (-ERESTARTSYS on a signal); -EISCONN (connected) or -EINVAL (listening)
 * from the socket's state, read before and again under its unix_state_lock(). Then: the
 * embryo holds the socket (sock_hold(sk), its peer), is TCP_ESTABLISHED, its listener set
 * (u->listener) and the listener's address shared; the socket becomes TCP_ESTABLISHED and holds
 * the embryo (sock_hold(newsk), its peer); after the socket's lock, the skb is queued on the
 * listener under its queue lock (before publishing the peer with the fix switch of known window
 * `unix.gc-embryo-queued-late`), the listener's lock dropped, its readers woken (sk_data_ready())
 * and the lookup's reference dropped. Failures drop the listener's reference, consume the skb and
 * release the embryo (unix_release_sock(newsk, 0)).
 *
 * Locking: takes the table lock, the listener's unix_state_lock() then the socket's (nested),
 * the listener's receive queue lock. References: see above; the queued skb owns the embryo's
 * initial reference until accept() or the listener's release.
 */
export async function unixStreamConnect(
  sk: UnixSock,
  a: Uint8Array,
  nonblock: boolean,
): Promise<number> {
  let err = unixValidateAddr(a);
  if (err < 0) return err;
  const newsk = unixCreate();
  if (typeof newsk === "number") return newsk;
  await point(opLabel("unix_create1", newsk.name));
  const skb = kmalloc(skbuffHeadCache, () => new SkBuff());
  if (isErr(skb)) {
    await unixReleaseSock(newsk, false);
    return -ENOMEM;
  }
  await newsk.wmemAlloc.get(); // sock_wmalloc(): skb_set_owner_w()
  skb.sk = newsk;
  skb.destructor = sockWfree;
  const outFreeSkb = async (e: number): Promise<number> => {
    await kfreeSkb(skb); // consume_skb()
    await unixReleaseSock(newsk, false);
    return e;
  };
  let other: UnixSock;
  for (;;) {
    // restart: unix_find_other()
    if (a[SUN_PATH_OFFSET] !== 0) return outFreeSkb(-ENOENT); // unix_find_bsd(): no filesystem
    const found = await unixFindAbstract(sunPath(a));
    if (typeof found === "number") return outFreeSkb(found);
    other = found;
    const lockTaken7 = other.lock.lock();
    if (lockTaken7 !== RESOLVED) await lockTaken7;
    if (other.dead) {
      other.lock.unlockNow();
      await sockPut(other);
      continue;
    }
    if (other.state !== TCP_LISTEN || other.shutdown & RCV_SHUTDOWN) {
      err = -ECONNREFUSED;
      break;
    }
    if (unixRecvqFull(other)) {
      if (nonblock) {
        err = -EAGAIN;
        break;
      }
      await unixWaitForPeer(other);
      await sockPut(other);
      if (signalPending()) return outFreeSkb(-ERESTARTSYS); // sock_intr_errno()
      continue;
    }
    await point(opLabel("READ_ONCE(sk->sk_state)", sk.name));
    if (sk.state !== TCP_CLOSE) {
      err = sk.state === TCP_ESTABLISHED ? -EISCONN : -EINVAL;
      break;
    }
    const lockNestedDone = sk.lock.lockNested(1);
    if (lockNestedDone !== RESOLVED) await lockNestedDone;
    if (sk.state !== TCP_CLOSE) {
      err = sk.state === TCP_ESTABLISHED ? -EISCONN : -EINVAL;
      sk.lock.unlockNow();
      break;
    }
    // The way is open.
    await sk.refcnt.get(); // sock_hold(sk)
    newsk.peer = sk;
    newsk.state = TCP_ESTABLISHED;
    newsk.listener = other;
    const addr = other.addr as UnixAddress;
    await addr.refcnt.get(); // refcount_inc(&otheru->addr->refcnt)
    newsk.addr = addr;
    // Known window unix.gc-embryo-queued-late: once unix_peer(sk) is the embryo, the socket can
    // send fds into it, and a collection judging the listener's SCC dead before the skb below
    // is queued collects no embryo queue. The fix switch queues the skb first.
    const queueFirst = toggleEnabled(UNIX_GC_EMBRYO_QUEUED_LATE.name);
    if (queueFirst) await unixQueueEmbryo(other, skb);
    sk.state = TCP_ESTABLISHED;
    await newsk.refcnt.get(); // sock_hold(newsk)
    sk.peer = newsk;
    sk.lock.unlockNow();
    if (!queueFirst) await unixQueueEmbryo(other, skb);
    other.lock.unlockNow();
    other.wait.wakeOne(); // sk_data_ready()
    await sockPut(other);
    return 0;
  }
  // out_unlock
  other.lock.unlockNow();
  await sockPut(other);
  return outFreeSkb(err);
}

/**
 * Models skb_recv_datagram() on a listener, as unix_accept() calls it: sock_error()
 * (__skb_try_recv_datagram()), the head skb dequeued under the queue lock; without one, -EAGAIN
 * (nonblocking), sock_error() again (__skb_wait_for_more_packets()), null with no error once the
 * listener is shut down for reading, else a TASK_INTERRUPTIBLE sleep (-ERESTARTSYS on a signal).
 * A wakeup goes round again (the queue first, then the signal). The sock_error() calls give 0: a
 * listener has no peer, and only a peer's release sets sk_err (they read it in the step of the
 * previous point, lockless as the kernel does).
 * Locking: takes the receive queue lock. References: the caller owns the skb.
 */
async function skbRecvDatagram(sk: UnixSock, nonblock: boolean): Promise<SkBuff | number | null> {
  for (;;) {
    const error = sockError(sk); // __skb_try_recv_datagram(): sock_error() first
    if (error !== 0) return error;
    const queueLockTaken3 = sk.queueLock.lock();
    if (queueLockTaken3 !== RESOLVED) await queueLockTaken3;
    await point(opLabel("__skb_try_recv_datagram", sk.name));
    const skb = skbDequeue(sk.receiveQueue);
    sk.queueLock.unlockNow();
    if (skb !== undefined) return skb;
    if (nonblock) return -EAGAIN; // __skb_recv_datagram(): timeo == 0
    // __skb_wait_for_more_packets(): the kernel queues itself on sk_wq (prepare_to_wait_exclusive())
    // before these checks, so a connect() queueing after the empty queue was seen wakes it; here
    // the checks and the sleep are one step (no scheduling point between them) for the same reason.
    const err = sockError(sk); // "Socket errors?"
    if (err !== 0) return err;
    if (sk.shutdown & RCV_SHUTDOWN) return null;
    if (signalPending()) return -ERESTARTSYS; // sock_intr_errno()
    await scheduleOn(sk.wait, TASK_INTERRUPTIBLE, `__skb_wait_for_more_packets(${sk.name})`);
  }
}

/**
 * Models unix_accept(): -EINVAL unless the socket is listening; the head skb of its queue
 * (skb_recv_datagram(): -EAGAIN, -ERESTARTSYS; -EINVAL once shut down) carries the embryo
 * (skb->sk), the skb is consumed (sock_wfree()) and connect()s waiting on the backlog woken;
 * under the embryo's unix_state_lock(), unix_update_edges() (u->listener cleared, the graph
 * told when fds are in flight to it) and sock_graft() onto the new file.
 *
 * Locking: takes the listener's receive queue lock, the embryo's unix_state_lock(), unix_gc_lock.
 * References: the embryo's initial reference becomes the new file's.
 */
async function unixAccept(sk: UnixSock, newfile: File, nonblock: boolean): Promise<number> {
  await point(opLabel("READ_ONCE(sk->sk_state)", sk.name));
  if (sk.state !== TCP_LISTEN) return -EINVAL;
  const skb = await skbRecvDatagram(sk, nonblock);
  if (skb === null) return -EINVAL;
  if (typeof skb === "number") return skb;
  const tsk = skb.sk as UnixSock;
  await kfreeSkb(skb); // skb_free_datagram(): consume_skb()
  sk.peerWait.wakeOne(); // wake_up_interruptible(&unix_sk(sk)->peer_wait)
  const lockTaken8 = tsk.lock.lock();
  if (lockTaken8 !== RESOLVED) await lockTaken8;
  await unixUpdateEdges(tsk);
  // sock_graft(tsk, newsock)
  tsk.file = newfile;
  newfile.privateData = tsk;
  unixSetSocketFile(newfile, tsk);
  tsk.lock.unlockNow();
  return 0;
}

/**
 * Models __sys_accept4_file() + do_accept() on a unix socket: -EINVAL for flags other than
 * SOCK_CLOEXEC|SOCK_NONBLOCK, an unused fd (-EMFILE), -ENOTSOCK, the new socket's file
 * (sock_alloc_file(): -ENOMEM), then unix_accept() with the listener file's O_NONBLOCK: on
 * failure the new file is put and the fd returned. Returns the new fd.
 *
 * Locking: takes file_lock. References: the fd holds the new file, the file the accepted socket.
 */
async function sysAccept4File(file: File, flags: number): Promise<number> {
  if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return -EINVAL;
  const newfd = await getUnusedFdFlags(flags);
  if (newfd < 0) return newfd;
  const sk = sockFromFile(file);
  if (sk === null) {
    await putUnusedFd(newfd);
    return -ENOTSOCK;
  }
  const newfile = await allocFile(
    unixSocketFops,
    null,
    "socket:[accept]",
    O_RDWR | (flags & O_NONBLOCK),
  );
  if (isErr(newfile)) {
    await putUnusedFd(newfd);
    return newfile;
  }
  newfile.fInode = sockAllocInode(newfile.path);
  const err = await unixAccept(sk, newfile, (file.fFlags & O_NONBLOCK) !== 0);
  if (err < 0) {
    const fputDone2 = fput(newfile);
    if (fputDone2 !== RESOLVED) await fputDone2;
    await putUnusedFd(newfd);
    return err;
  }
  const fdInstallDone4 = fdInstall(newfd, newfile);
  if (fdInstallDone4 !== RESOLVED) await fdInstallDone4;
  return newfd;
}

/** The data bytes of a message, and MSG_OOB (see unixStreamSendmsg()). */
export interface UnixSendMsg {
  /** The bytes (the iov); the legacy call sends one zero byte. */
  data: Uint8Array;
  /** MSG_OOB: the last byte is the OOB byte, queued as an skb of its own (queue_oob()). */
  oob: boolean;
}

/** A legacy sendmsg()'s message: one zero byte (see unixStreamSendmsg()). */
const LEGACY_MSG: UnixSendMsg = { data: new Uint8Array(1), oob: false };

/**
 * Models unix_stream_sendmsg() carrying the files at `fds` (SCM_RIGHTS; none: a message without
 * control data): scm_send() (scm_fp_copy(): -EINVAL above SCM_MAX_FD, -EBADF, -ENOMEM),
 * wait_for_unix_gc(), -EOPNOTSUPP for MSG_OOB without a byte (else the last byte is kept for
 * queue_oob()), -ENOTCONN without a peer, -EPIPE when this end is shut down for sending (before
 * sk_err: a reset peer gives -EPIPE and leaves sk_err for the reader); the data bytes before the
 * OOB byte (if any) in one skb (the kernel splits at half the send buffer; the model's messages
 * are small), which carries the files: the skb (sock_alloc_send_pskb(): sock_error(), -EPIPE,
 * -ENOMEM), unix_scm_to_skb() -> unix_attach_fds() (-ETOOMANYREFS, -ENOMEM); under the peer's
 * unix_state_lock(): -EPIPE if it is dead or shut down for receiving, else scm_stat_add()
 * (unix_add_edges()) and the skb queued; the peer's readers woken. Then queue_oob() for MSG_OOB,
 * with the files if no skb took them. Returns the bytes sent (`sent ?: err`: a failing
 * queue_oob() after queued data gives the data's count); a call without `msg` (the legacy
 * one-skb message) returns 0 for its byte. On failure every reference taken is dropped and
 * nothing more is queued; a message of no bytes queues nothing and drops its files (scm_destroy()).
 *
 * Locking: takes the peer's unix_state_lock() and receive queue lock, unix_gc_lock.
 * References: the queued skb holds one reference per file.
 */
export async function unixStreamSendmsg(
  p: SyscallProcess,
  sk: UnixSock,
  fds: readonly number[],
  msg?: UnixSendMsg,
): Promise<number> {
  const m = msg ?? LEGACY_MSG;
  const copy = await scmFpCopy(fds, (f) => unixGetSocket(f) !== null);
  if (typeof copy === "number") return copy;
  let fpl: ScmFpList | null = copy;
  const scmDestroyAll = async (err: number): Promise<number> => {
    if (fpl !== null) await scmDestroy(fpl);
    return err;
  };
  await waitForUnixGc(fpl);
  let len = m.data.length;
  if (m.oob) {
    if (len === 0) return scmDestroyAll(-EOPNOTSUPP);
    len--;
  }
  await point(opLabel("unix_peer", sk.name));
  const other = sk.peer;
  if (other === null) return scmDestroyAll(-ENOTCONN);
  if (sk.shutdown & SEND_SHUTDOWN) return scmDestroyAll(-EPIPE);
  let sent = 0;
  if (len > 0) {
    const skb = sockAllocSendPskb(sk);
    if (typeof skb === "number") return scmDestroyAll(skb);
    skb.destructor = unixDestructScm;
    if (fpl !== null) {
      const err = await unixAttachFds(p, fpl, skb, unixUserInflight());
      if (err < 0) {
        // out_free: consume_skb() runs unix_destruct_scm() on what was attached.
        if (skb.fp === null) await scmDestroy(fpl);
        await kfreeSkb(skb);
        return err;
      }
      fpl = null; // unix_attach_fds(): scm->fp = NULL
    }
    skb.len = len;
    skb.data = m.data.slice(0, len);
    const lockTaken9 = other.lock.lock();
    if (lockTaken9 !== RESOLVED) await lockTaken9;
    if (other.dead || other.shutdown & RCV_SHUTDOWN) {
      other.lock.unlockNow();
      await kfreeSkb(skb);
      return -EPIPE;
    }
    await scmStatAdd(other, skb);
    const queueLockTaken4 = other.queueLock.lock();
    if (queueLockTaken4 !== RESOLVED) await queueLockTaken4;
    await point(opLabel("__skb_queue_tail", other.name));
    skbQueueTail(other.receiveQueue, skb);
    other.queueLock.unlockNow();
    other.lock.unlockNow();
    other.wait.wakeOne(); // sk_data_ready()
    sent = len;
  }
  if (m.oob) {
    const err = await queueOob(p, sk, other, fpl, m.data[len]!);
    fpl = null;
    if (err < 0) return sent > 0 ? sent : err;
    sent++;
  }
  if (fpl !== null) await scmDestroy(fpl); // no byte carried them
  return msg === undefined ? 0 : sent;
}

/** The historic toggle: see unixStreamRecvUrg(). */
export const UNIX_OOB_CONSECUTIVE_CONSUMED = defineToggle({
  name: "unix.oob-consecutive-consumed",
  description:
    "unix_stream_recv_urg() without the unlink of a consumed OOB skb just before the OOB skb it reads, as from v5.15 (MSG_OOB for unix " +
    "stream sockets) until the fix: two recv(MSG_OOB)s leave two consumed (zero-length) OOB skbs at the head of the queue; a recv() " +
    "without MSG_OOB then drops the first in manage_oob(), which returns the second, and the skip loop of unix_stream_read_generic() " +
    "(skip >= unix_skb_len(skb)) steps over it to the next OOB skb without asking manage_oob(): the OOB byte is read inline (with the " +
    "files the OOB skb carries) and the skb freed while u->oob_skb still points at it. The next recv(MSG_OOB) reads the freed skb: " +
    "KASAN slab-use-after-free in unix_stream_read_actor() (Jann Horn's report, CVE-2025-38236).",
  fixedBy: "af_unix: Don't leave consecutive consumed OOB skbs.",
  commit: "32ca245464e1479bfea8592b9db227fdc1641705",
  kind: "historic",
  kernels:
    "v5.15 until the fix in v6.16 (the June 2025 net pull; backported to the stable trees); v6.12.19 has the bug (its unix_stream_recv_urg() read), v6.18.35 the fix",
  foundBy:
    "packages/kernel src/net/af-unix-oob.test.ts (the reproducer: three OOB bytes with a dma-buf fd on the last, two recv(MSG_OOB), a recv(), a recv(MSG_OOB))",
});

/** The historic toggle: see unixReleaseSock(). */
export const UNIX_OOB_CONSUMED_ECONNRESET = defineToggle({
  name: "unix.oob-consumed-econnreset",
  description:
    "unix_release_sock() setting the peer's sk_err to ECONNRESET when its receive queue is not empty (skb_queue_empty_lockless()), " +
    "as before the fix: a consumed OOB skb (zero bytes left, kept after recv(MSG_OOB) to mark the OOB boundary) counts as unread data, " +
    "so the peer's next recv() after the close gives -ECONNRESET where the fixed kernel gives end of file.",
  fixedBy: "af_unix: Don't set -ECONNRESET for consumed OOB skb.",
  commit: "2a5a4841846b079b5fca5752fe94e59346fbda40",
  kind: "historic",
  kernels:
    "v5.15 until the fix in v6.16 (with the consecutive-consumed fix, the June 2025 net pull; backported to the stable trees); v6.12.19 has the bug (its unix_release_sock() read), v6.18.35 the fix",
  foundBy:
    "packages/kernel src/net/af-unix-oob.test.ts (recv(MSG_OOB), close() of the reader, recv() on the peer: end of file, not -ECONNRESET)",
});

/**
 * Models queue_oob(): the OOB byte in an skb of its own (sock_alloc_send_skb(): sock_error(),
 * -EPIPE, -ENOMEM), carrying the files when no data skb took them (unix_scm_to_skb():
 * -ETOOMANYREFS, -ENOMEM); under the peer's unix_state_lock(): -EPIPE if it is dead or shut down
 * for receiving, else scm_stat_add(), and under its receive queue lock u->oob_skb = skb (no
 * reference of its own) and the skb queued; the peer's readers woken (no SIGURG here).
 * Failures consume the skb (its files dropped with it).
 *
 * Locking: takes the peer's unix_state_lock(), then its receive queue lock. References: the
 * files' references move to the skb; the queue owns the skb.
 */
async function queueOob(
  p: SyscallProcess,
  sk: UnixSock,
  other: UnixSock,
  fpl: ScmFpList | null,
  byte: number,
): Promise<number> {
  const skb = sockAllocSendPskb(sk);
  if (typeof skb === "number") {
    if (fpl !== null) await scmDestroy(fpl);
    return skb;
  }
  skb.destructor = unixDestructScm;
  if (fpl !== null) {
    const err = await unixAttachFds(p, fpl, skb, unixUserInflight());
    if (err < 0) {
      if (skb.fp === null) await scmDestroy(fpl);
      await kfreeSkb(skb); // out: consume_skb()
      return err;
    }
  }
  skb.len = 1; // skb_put(skb, 1)
  skb.data = Uint8Array.of(byte);
  const lockTaken = other.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  if (other.dead || other.shutdown & RCV_SHUTDOWN) {
    other.lock.unlockNow();
    await kfreeSkb(skb);
    return -EPIPE;
  }
  await scmStatAdd(other, skb);
  const queueLockTaken = other.queueLock.lock();
  if (queueLockTaken !== RESOLVED) await queueLockTaken;
  await point(opLabel("WRITE_ONCE(ousk->oob_skb)", other.name));
  other.oobSkb = skb;
  skbQueueTail(other.receiveQueue, skb);
  other.queueLock.unlockNow();
  other.lock.unlockNow();
  other.wait.wakeOne(); // sk_data_ready()
  return 0;
}

/**
 * Models sock_alloc_send_pskb() (net/core/sock.c) as unix_stream_sendmsg() calls it: sock_error()
 * (-ECONNRESET, consumed), -EPIPE when shut down for sending, then the skb (-ENOMEM). No send
 * buffer here, so it never waits for room (no -EAGAIN, no sock_wait_for_wmem()). It runs in
 * unix_stream_sendmsg()'s step after its own SEND_SHUTDOWN check (no scheduling point between
 * them; see the file comment), so sock_error() gives 0 here: a peer's release sets sk_err with
 * SHUTDOWN_MASK, in one step under this socket's unix_state_lock().
 * Locking: none (lockless reads, as the kernel's). References: none; the caller owns the skb.
 */
function sockAllocSendPskb(sk: UnixSock): SkBuff | number {
  const err = sockError(sk);
  if (err !== 0) return err;
  if (sk.shutdown & SEND_SHUTDOWN) return -EPIPE;
  const skb = kmalloc(skbuffHeadCache, () => new SkBuff());
  if (isErr(skb)) return -ENOMEM;
  return skb;
}

/** What a socket receive delivered: the new fds and the message flags. */
export interface UnixRecvResult {
  /** The new fds, in the message's order (empty for a message without files). */
  fds: number[];
  /** MSG_CTRUNC when some files got no fd; MSG_OOB for a recv(MSG_OOB). */
  msgFlags: number;
  /** The bytes read (a call with `size` or `oob` only; the legacy call reads one message). */
  data?: Uint8Array;
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
  /** MSG_OOB: the OOB byte (unix_stream_recv_urg()). */
  oob?: boolean;
  /**
   * The buffer's size in bytes. Without it (the legacy call) the buffer holds exactly the first
   * message the read reaches (its unread bytes), and a MSG_PEEK stops there.
   */
  size?: number;
}

/**
 * Models manage_oob(): under unix_state_lock(), what unix_stream_read_generic() reads at `skb`.
 * An skb with bytes left that is not the OOB skb is read as is (no lock). Else, under the
 * receive queue lock: a consumed (zero-length) skb ends a read that has copied bytes when no OOB
 * byte is pending or it is the OOB skb itself, is stepped over by MSG_PEEK, and is otherwise
 * unlinked and consumed, the read going on at the next skb; at the OOB skb, a read that has copied
 * bytes stops, a read without MSG_PEEK clears u->oob_skb and (without SO_OOBINLINE) unlinks the
 * OOB skb, drops it unread and goes on at the new head, and MSG_PEEK steps over it. The skbs
 * taken off are freed after the queue lock (consume_skb(), kfree_skb()).
 *
 * Locking: unix_state_lock() held; takes the receive queue lock. References: consumes the skbs
 * it unlinks (their files' references dropped with them).
 */
async function manageOob(
  skb: SkBuff,
  sk: UnixSock,
  peek: boolean,
  copied: number,
): Promise<SkBuff | null> {
  lockdepAssertHeld(sk.lock);
  if (unixSkbLen(skb) !== 0 && skb !== sk.oobSkb) return skb; // likely(): no lock
  const queueLockTaken = sk.queueLock.lock();
  if (queueLockTaken !== RESOLVED) await queueLockTaken;
  await point(opLabel("manage_oob", skb.name));
  let readSkb: SkBuff | null = null;
  let unreadSkb: SkBuff | null = null;
  let cur: SkBuff | null = skb;
  if (unixSkbLen(cur) === 0) {
    if (copied && (sk.oobSkb === null || cur === sk.oobSkb)) {
      cur = null;
    } else if (peek) {
      cur = skbPeekNext(cur, sk.receiveQueue);
    } else {
      readSkb = cur;
      cur = skbPeekNext(cur, sk.receiveQueue);
      skbUnlink(readSkb, sk.receiveQueue);
    }
  }
  if (cur !== null && cur === sk.oobSkb) {
    if (copied) {
      cur = null;
    } else if (!peek) {
      sk.oobSkb = null;
      if (!sk.urgInline) {
        skbUnlink(cur, sk.receiveQueue);
        unreadSkb = cur;
        cur = sk.receiveQueue[0] ?? null;
      }
    } else if (!sk.urgInline) {
      cur = skbPeekNext(cur, sk.receiveQueue);
    }
  }
  sk.queueLock.unlockNow();
  if (readSkb !== null) await kfreeSkb(readSkb); // consume_skb()
  if (unreadSkb !== null) await kfreeSkb(unreadSkb); // kfree_skb_reason(UNIX_SKIP_OOB)
  return cur;
}

/**
 * Models unix_stream_recv_urg() (recvmsg() with MSG_OOB): under u->iolock, unix_state_lock() and
 * the receive queue lock, -EINVAL with SO_OOBINLINE or no OOB byte pending; without MSG_PEEK,
 * u->oob_skb is cleared and a consumed OOB skb just before the OOB skb is unlinked (not with
 * `unix.oob-consecutive-consumed`: the kernels before 32ca245464e1 left it); after both locks,
 * the byte is copied (unix_stream_read_actor(): the skb read with no lock but u->iolock) and,
 * without MSG_PEEK, marked consumed (the skb stays queued, zero bytes long, to mark the OOB
 * boundary); the unlinked skb is consumed after u->iolock. The OOB skb's files are not delivered
 * (nothing here attaches them to the scm). Returns the byte with MSG_OOB.
 *
 * Locking: takes u->iolock, unix_state_lock(), the receive queue lock. References: none taken
 * on the OOB skb (u->oob_skb holds none); consumes the unlinked skb.
 */
async function unixStreamRecvUrg(
  sk: UnixSock,
  opts: UnixRecvOptions,
): Promise<UnixRecvResult | number> {
  const peek = opts.peek === true;
  const iolockTaken = sk.iolock.lock();
  if (iolockTaken !== RESOLVED) await iolockTaken;
  const lockTaken = sk.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  const queueLockTaken = sk.queueLock.lock();
  if (queueLockTaken !== RESOLVED) await queueLockTaken;
  await point(opLabel("u->oob_skb", sk.name));
  if (sk.urgInline || sk.oobSkb === null) {
    sk.queueLock.unlockNow();
    sk.lock.unlockNow();
    sk.iolock.unlockNow();
    return -EINVAL;
  }
  const oobSkb: SkBuff = sk.oobSkb;
  let readSkb: SkBuff | null = null;
  if (!peek) {
    sk.oobSkb = null;
    if (!toggleEnabled(UNIX_OOB_CONSECUTIVE_CONSUMED.name)) {
      const prev = skbPeekPrev(oobSkb, sk.receiveQueue); // oob_skb->prev != the queue head
      if (prev !== null && unixSkbLen(prev) === 0) {
        readSkb = prev;
        skbUnlink(readSkb, sk.receiveQueue);
      }
    }
  }
  sk.queueLock.unlockNow();
  sk.lock.unlockNow();
  // state->recv_actor(oob_skb, 0, 1, state): unix_stream_read_actor() copies the byte.
  await point(opLabel("unix_stream_read_actor", oobSkb.name));
  const live = oobSkb.checkAccess("unix_stream_read_actor");
  const byte = live ? (oobSkb.data[oobSkb.consumed] ?? 0) : 0;
  if (!peek && live) oobSkb.consumed += 1;
  sk.iolock.unlockNow();
  if (readSkb !== null) await kfreeSkb(readSkb); // consume_skb(read_skb)
  return { fds: [], msgFlags: MSG_OOB, data: Uint8Array.of(byte) };
}

/**
 * Models unix_stream_read_generic() and scm_recv_unix() -> scm_detach_fds(): -EINVAL unless the
 * socket is connected (TCP_ESTABLISHED: not a new or listening socket); MSG_OOB goes to
 * unix_stream_recv_urg(). Under u->iolock, each round takes the head skb under unix_state_lock()
 * (skb_peek(), not the queue lock; -ECONNRESET first if the socket itself is dead, which a reader
 * holding its file never sees), asks manage_oob() what to read there (the OOB boundary: a read
 * stops before the OOB byte, drops a consumed OOB skb, drops the OOB byte unread at the head) and
 * steps over zero-length skbs (the skip loop, skip 0 without SO_PEEK_OFF: skb_peek_next()
 * without asking manage_oob() again). Without an skb: with bytes copied, the read ends; else, in
 * POSIX 1003.1g's order: sock_error() (-ECONNRESET once after a peer's release with unread data
 * or an embryo's with its listener: sk_err is consumed), 0 bytes at end of file (the peer shut
 * down), -EAGAIN (nonblocking), or a TASK_INTERRUPTIBLE sleep (-ERESTARTSYS on a signal). With an
 * skb, unlocked: its bytes are copied (unix_stream_read_actor(), at most the buffer's room);
 * without MSG_PEEK, they are marked consumed, scm_stat_del() and unix_detach_fds() take the
 * files, and an skb with no bytes left is unlinked under the queue lock and consumed; the read
 * ends after an skb with files, or a partly read one, else goes on while the buffer has room.
 * With MSG_PEEK, unix_peek_fds() copies the files with new references, the skb stays, and the
 * read ends at an skb with files, else goes on at the next skb under unix_state_lock(). After
 * u->iolock, the files get fds (at most `maxFds`; MSG_CTRUNC for the rest) and the list's
 * references are dropped.
 *
 * Locking: takes u->iolock, unix_state_lock(), the receive queue lock, file_lock.
 * References: new fds hold new references; the detached or copied list's are dropped.
 */
export async function unixStreamRecvmsg(
  sk: UnixSock,
  opts: UnixRecvOptions,
): Promise<UnixRecvResult | number> {
  // READ_ONCE(sk->sk_state) != TCP_ESTABLISHED: -EINVAL (an unconnected socket, a listener). No
  // scheduling point: while the caller holds the file only this socket's own connect() or
  // listen() can change the state, and either order gives an answer the kernel can give.
  if (sk.state !== TCP_ESTABLISHED) return -EINVAL;
  if (opts.oob) return unixStreamRecvUrg(sk, opts);
  const peek = opts.peek === true;
  const legacy = opts.size === undefined;
  let size = opts.size ?? -1; // -1: the first skb's unread bytes (see UnixRecvOptions.size)
  let copied = 0;
  let err = 0;
  let fpl: ScmFpList | null = null; // scm.fp
  const bytes: number[] = [];
  redo: for (;;) {
    const iolockTaken = sk.iolock.lock();
    if (iolockTaken !== RESOLVED) await iolockTaken;
    do {
      const lockTaken10 = sk.lock.lock();
      if (lockTaken10 !== RESOLVED) await lockTaken10;
      if (sk.dead) {
        err = -ECONNRESET;
        sk.lock.unlockNow();
        break;
      }
      let skb: SkBuff | null = sk.receiveQueue[0] ?? null;
      // again: (unix_state_lock() held)
      let stop = false;
      for (;;) {
        if (skb !== null) {
          skb = await manageOob(skb, sk, peek, copied);
          if (skb === null && copied) {
            sk.lock.unlockNow();
            stop = true;
            break;
          }
        }
        if (skb === null) {
          if (copied >= 1) {
            sk.lock.unlockNow(); // copied >= target (1: no SO_RCVLOWAT, no MSG_WAITALL)
            stop = true;
            break;
          }
          // sock_error() under unix_state_lock(), which the peer's release writes sk_err under.
          err = sockError(sk);
          const shut = (sk.shutdown & RCV_SHUTDOWN) !== 0;
          sk.lock.unlockNow();
          if (err !== 0 || shut) {
            stop = true;
            break;
          }
          if (opts.nonblock) {
            err = -EAGAIN;
            stop = true;
            break;
          }
          sk.iolock.unlockNow();
          await scheduleOn(sk.wait, TASK_INTERRUPTIBLE, `unix_stream_data_wait(${sk.name})`);
          if (signalPending()) {
            if (fpl !== null) await scmDestroy(fpl);
            return -ERESTARTSYS;
          }
          continue redo;
        }
        // while (skip >= unix_skb_len(skb)): skip is 0, so zero-length skbs are stepped over.
        let next: SkBuff | null = skb;
        while (next !== null && unixSkbLen(next) === 0) next = skbPeekNext(next, sk.receiveQueue);
        if (next === null) {
          skb = null; // goto again with no skb
          continue;
        }
        skb = next;
        break;
      }
      if (stop || skb === null) break;
      sk.lock.unlockNow();
      if (size < 0) size = unixSkbLen(skb);
      const chunk = Math.min(unixSkbLen(skb), size);
      if (!peek) {
        // unix_stream_read_actor(): the bytes copied with u->iolock held.
        await point(opLabel("UNIXCB(skb).fp", skb.name));
        if (skb.checkAccess("unix_stream_read_generic"))
          for (let i = 0; i < chunk; i++) bytes.push(skb.data[skb.consumed + i] ?? 0);
        copied += chunk;
        size -= chunk;
        skb.consumed += chunk;
        if (skb.fp !== null) {
          await scmStatDel(sk, skb);
          fpl = await unixDetachFds(skb);
        }
        if (unixSkbLen(skb) !== 0) break;
        const queueLockTaken5 = sk.queueLock.lock();
        if (queueLockTaken5 !== RESOLVED) await queueLockTaken5;
        await point(opLabel("__skb_unlink", skb.name));
        skb.checkAccess("__skb_unlink");
        skbUnlink(skb, sk.receiveQueue);
        sk.queueLock.unlockNow();
        await kfreeSkb(skb); // consume_skb()
        if (fpl !== null) break;
      } else {
        // unix_stream_read_actor() and, for an skb with files, unix_peek_fds(): one access.
        let cur: SkBuff | null = skb;
        let peekChunk = chunk;
        while (cur !== null) {
          const at = cur.consumed;
          const copy = await unixPeekFds(sk, cur);
          if (!cur.freed) for (let i = 0; i < peekChunk; i++) bytes.push(cur.data[at + i] ?? 0);
          copied += peekChunk;
          size -= peekChunk;
          if (copy !== null) {
            fpl = copy;
            break;
          }
          if (legacy) break;
          const lockTaken11 = sk.lock.lock();
          if (lockTaken11 !== RESOLVED) await lockTaken11;
          cur = skbPeekNext(cur, sk.receiveQueue);
          // goto again: manage_oob() and the skip loop at the next skb.
          while (cur !== null) {
            const m: SkBuff | null = await manageOob(cur, sk, true, copied);
            if (m === null) {
              cur = null;
              break;
            }
            let n: SkBuff | null = m;
            while (n !== null && unixSkbLen(n) === 0) n = skbPeekNext(n, sk.receiveQueue);
            cur = n;
            break;
          }
          sk.lock.unlockNow();
          peekChunk = cur !== null ? Math.min(unixSkbLen(cur), size) : 0;
        }
        break;
      }
    } while (size);
    break;
  }
  sk.iolock.unlockNow();
  if (copied === 0 && err !== 0) {
    if (fpl !== null) await scmDestroy(fpl);
    return err;
  }
  const r = await scmDetachFds(fpl, opts);
  if (!legacy) r.data = Uint8Array.from(bytes);
  return r;
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
    const fdputDone = fdput(f);
    if (fdputDone !== RESOLVED) await fdputDone;
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
export function sysSendmsgFds(
  p: SyscallProcess,
  fd: unknown,
  fds: unknown,
  msg?: unknown,
): Promise<number> {
  return syscall(
    p,
    "sendmsg",
    async (pp, a: unknown, b: unknown, c: unknown) => {
      const list = copyFds(b);
      if (list === null) return -EFAULT;
      let m: UnixSendMsg | undefined;
      if (c !== undefined) {
        const copied = copySendMsg(c);
        if (copied === null) return -EFAULT;
        m = copied;
      }
      return withSocket(a, (sk) => unixStreamSendmsg(pp, sk, list, m));
    },
    fd,
    fds,
    msg,
  ) as Promise<number>;
}

/**
 * Reads sendmsg()'s message once (copy_from_user() of the iov and msg_flags): `{data, oob}`
 * with `data` a Uint8Array, or null (-EFAULT).
 */
function copySendMsg(msg: unknown): UnixSendMsg | null {
  try {
    if (msg === null || typeof msg !== "object") return null;
    const { data, oob } = msg as { data?: unknown; oob?: unknown };
    if (!(data instanceof Uint8Array)) return null;
    return { data: data.slice(), oob: Boolean(oob) };
  } catch {
    return null;
  }
}

/**
 * The recvmsg(2) syscall on a unix socket fd (see unixStreamRecvmsg()): `{fds, msgFlags}`, or
 * -EBADF, -ENOTSOCK, -EAGAIN, -EFAULT (options not an object), -EINVAL (bad maxFds), -ECONNRESET
 * (sk_err, once).
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
        if (r.oob) o.oob = true;
        if (r.size !== undefined) o.size = r.size;
      } catch {
        return -EFAULT;
      }
      if (o.maxFds !== undefined && (!Number.isInteger(o.maxFds) || o.maxFds < 0)) return -EINVAL;
      // A buffer of size bytes: a length that is no size_t fits no iov (-EINVAL, the model's
      // stand-in for import_iovec()'s checks); 0 is allowed.
      if (o.size !== undefined && (!Number.isInteger(o.size) || o.size < 0)) return -EINVAL;
      return withSocket(a, (sk, file) => {
        // o is this call's own copy: set its field rather than spread it into a new object
        // with the field after the spread (V8's slow path for such a literal).
        if ((file.fFlags & O_NONBLOCK) !== 0) o.nonblock = true;
        return unixStreamRecvmsg(sk, o);
      });
    },
    fd,
    opts,
  );
}

/** Looks up fd `fd` (fdget(): -EBADF), runs `fn` on its file, then fdput(). */
async function withFile<T>(
  fd: unknown,
  fn: (file: File) => Promise<T | number>,
): Promise<T | number> {
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) return -EBADF;
  const f = await fdget(fd);
  if (f.file === null) return -EBADF;
  try {
    return await fn(f.file);
  } finally {
    const fdputDone2 = fdput(f);
    if (fdputDone2 !== RESOLVED) await fdputDone2;
  }
}

/**
 * The socket(2) syscall: see sysSocketBody(); -EINVAL for arguments that are not integers.
 */
export function sysSocket(
  p: SyscallProcess,
  family: unknown,
  type: unknown,
  protocol: unknown,
): Promise<number> {
  return syscall(
    p,
    "socket",
    async (_p, a: unknown, b: unknown, c: unknown) => {
      if (!Number.isInteger(a) || !Number.isInteger(b) || !Number.isInteger(c)) return -EINVAL;
      return sysSocketBody(a as number, b as number, c as number);
    },
    family,
    type,
    protocol,
  ) as Promise<number>;
}

/**
 * The bind(2) syscall (__sys_bind()): -EBADF, -ENOTSOCK, then move_addr_to_kernel()'s -EINVAL
 * and -EFAULT (`addr` a Uint8Array of at least `addrlen` bytes: a struct sockaddr_un, see
 * sockaddrUnAbstract()), then unix_bind()'s -EINVAL, -EADDRINUSE, -ENOENT, -ENOSPC, -ENOMEM.
 */
export function sysBind(
  p: SyscallProcess,
  fd: unknown,
  addr: unknown,
  addrlen: unknown,
): Promise<number> {
  return syscall(
    p,
    "bind",
    async (_p, a: unknown, b: unknown, c: unknown) =>
      withSocket(a, async (sk) => {
        const k = moveAddrToKernel(b, c);
        if (typeof k === "number") return k;
        return unixBind(sk, k);
      }),
    fd,
    addr,
    addrlen,
  ) as Promise<number>;
}

/**
 * The listen(2) syscall (__sys_listen()): -EBADF, -ENOTSOCK, then unix_listen()'s -EINVAL (not
 * bound, or connected); -EINVAL for a backlog that is not an integer.
 */
export function sysListen(p: SyscallProcess, fd: unknown, backlog: unknown): Promise<number> {
  return syscall(
    p,
    "listen",
    async (_p, a: unknown, b: unknown) =>
      withSocket(a, async (sk) => {
        if (typeof b !== "number" || !Number.isInteger(b)) return -EINVAL;
        return unixListen(sk, b);
      }),
    fd,
    backlog,
  ) as Promise<number>;
}

/**
 * The connect(2) syscall (__sys_connect()): -EBADF, move_addr_to_kernel()'s -EINVAL and -EFAULT,
 * -ENOTSOCK, then unix_stream_connect() with the file's O_NONBLOCK: -EINVAL, -ECONNREFUSED,
 * -ENOENT, -EAGAIN, -EISCONN, -ENOMEM.
 */
export function sysConnect(
  p: SyscallProcess,
  fd: unknown,
  addr: unknown,
  addrlen: unknown,
): Promise<number> {
  return syscall(
    p,
    "connect",
    async (_p, a: unknown, b: unknown, c: unknown) =>
      withFile(a, async (file) => {
        const k = moveAddrToKernel(b, c);
        if (typeof k === "number") return k;
        const sk = sockFromFile(file);
        if (sk === null) return -ENOTSOCK;
        return unixStreamConnect(sk, k, (file.fFlags & O_NONBLOCK) !== 0);
      }),
    fd,
    addr,
    addrlen,
  ) as Promise<number>;
}

/**
 * The accept4(2) syscall (accept(2) with flags 0; no peer address): -EBADF, then
 * sysAccept4File()'s -EINVAL, -EMFILE, -ENOTSOCK, -ENOMEM and unix_accept()'s -EINVAL (not
 * listening), -EAGAIN; -EINVAL for flags that are not an integer. Returns the new fd.
 */
export function sysAccept4(p: SyscallProcess, fd: unknown, flags: unknown): Promise<number> {
  return syscall(
    p,
    "accept4",
    async (_p, a: unknown, b: unknown) =>
      withFile(a, async (file) => {
        if (typeof b !== "number" || !Number.isInteger(b)) return -EINVAL;
        return sysAccept4File(file, b);
      }),
    fd,
    flags,
  ) as Promise<number>;
}
