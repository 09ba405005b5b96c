/**
 * Passing files between processes with SCM_RIGHTS (net/core/scm.c, net/unix/af_unix.c).
 *
 * Every process has one receive queue (`UnixSocket`), standing for the receiving end of a unix
 * socket its peers send on. Sending fds copies them into a message (`ScmFpList`), taking a file
 * reference for each (scm_fp_copy() does fget_raw()); the message sits in the receiver's queue
 * holding those references, so the files stay alive while in flight even if the sender closes
 * its fds or exits. Receiving installs each file at the lowest free fd of the receiver (a new
 * reference, receive_fd()) and then drops the message's references (__scm_destroy()): the
 * receiver ends up with a new fd for the same open file. A receiver that goes away with messages
 * still queued drops their references (skb_queue_purge() at unix_release_sock()).
 *
 * Faithfulness: one message holds one scm_fp_list, allocated once (the kernel allocates the list,
 * then the skb, then a duplicate of the list); no data bytes. These per-process queues carry no
 * socket files, so they form no in-flight cycles; unix sockets as files, whose fds can be sent
 * over themselves, and the garbage collector of such cycles are af-unix.ts and garbage.ts, which
 * use scmFpCopy(), scmFpDup() and scmDestroy() from here.
 */

import { point, RESOLVED, TASK_INTERRUPTIBLE, WaitQueue } from "@primetime/sim";
import { fgetRaw, receiveFd } from "../fs/fdtable.js";
import { type File, fput, getFile } from "../fs/file.js";
import { EAGAIN, EBADF, EINVAL, ENOMEM, EPIPE, ERESTARTSYS, isErr } from "../include/errno.js";
import { scheduleOn, signalPending } from "../kernel/signal.js";
import { SpinLock } from "../locking/spinlock.js";
import { KmemCache, kfree, kmalloc, SlabObject } from "../mm/slab.js";

/** Models SCM_MAX_FD: the most fds one message carries. */
export const SCM_MAX_FD = 253;

/** Models MSG_CTRUNC (include/linux/socket.h): control data (fds) discarded. */
export const MSG_CTRUNC = 8;

/** The slab cache of in-flight fd lists. */
export const scmFpListCache = new KmemCache("scm_fp_list");

/**
 * Models struct scm_fp_list inside a queued skb: the files of one SCM_RIGHTS message.
 * References: holds one on each file in `fp`.
 */
export class ScmFpList extends SlabObject {
  /** Models fpl->fp[0..count). */
  readonly fp: File[] = [];
  /**
   * Models fpl->count_unix: how many of `fp` are unix sockets (unix_get_socket()), counted by
   * scm_fp_copy(). The per-process queues below never count any (they send no socket files).
   */
  countUnix = 0;
  /** Models fpl->inflight (CONFIG_UNIX): unix_add_edges() put the list's edges in the graph. */
  inflight = false;
  /** Models fpl->dead: the garbage collector is purging the skb that holds the list. */
  dead = false;
  /** Models fpl->edges: one edge per unix socket of `fp` (garbage.ts), null until prepared. */
  edges: SlabObject | null = null;
  /** Models fpl->vertices: vertices allocated by unix_prepare_fpl() and not yet used or freed. */
  readonly vertices: SlabObject[] = [];
}

/**
 * Models scm_fp_copy() (net/core/scm.c, v6.18) for a socket's sendmsg(): a new list with a
 * reference on the file at each of `fds` (fget_raw()), counting the unix sockets among them
 * (`isUnixSocket`, unix_get_socket()). -EINVAL for more than SCM_MAX_FD, -ENOMEM, -EBADF for a
 * bad fd (the references taken so far are dropped by the caller's scm_destroy(): here, before
 * returning). An empty `fds` is no list (null): "if (num <= 0) return 0".
 *
 * Locking: takes the current file table's lock for each fget_raw().
 * References: the list holds one reference per file.
 */
export async function scmFpCopy(
  fds: readonly number[],
  isUnixSocket: (f: File) => boolean,
): Promise<ScmFpList | null | number> {
  if (fds.length <= 0) return null;
  if (fds.length > SCM_MAX_FD) return -EINVAL;
  await point("scm_fp_copy");
  const fpl = kmalloc(scmFpListCache, () => new ScmFpList());
  if (isErr(fpl)) return -ENOMEM;
  for (const fd of fds) {
    const file = Number.isInteger(fd) && fd >= 0 ? await fgetRaw(fd) : null;
    if (file === null) {
      await scmDestroy(fpl);
      return -EBADF;
    }
    if (isUnixSocket(file)) fpl.countUnix++;
    fpl.fp.push(file);
  }
  return fpl;
}

/**
 * Models scm_fp_dup() (net/core/scm.c, v6.18): a copy of `fpl` (kmemdup()) with a new reference
 * on each of its files (get_file()), not in flight (inflight false, no edges, no vertices). Null
 * when the copy cannot be allocated (the peeker then gets no fds).
 *
 * Locking: none; the caller keeps the skb holding `fpl` from being freed (u->iolock against
 * other readers; nothing against the garbage collector: see unix_peek_fpl()).
 * References: the copy holds one new reference per file.
 */
export async function scmFpDup(fpl: ScmFpList): Promise<ScmFpList | null> {
  await point("scm_fp_dup");
  fpl.checkAccess("scm_fp_dup");
  const copy = kmalloc(scmFpListCache, () => new ScmFpList());
  if (isErr(copy)) return null;
  copy.countUnix = fpl.countUnix;
  const files = fpl.fp.slice();
  for (const f of files) copy.fp.push(await getFile(f));
  return copy;
}

/**
 * The receiving end of a process's unix socket: a queue of in-flight messages.
 *
 * Locking: `lock` (sk_receive_queue.lock) protects `queue` and `dead`.
 * References: each queued message holds its files.
 */
export class UnixSocket {
  /** Models sk->sk_receive_queue. */
  readonly queue: ScmFpList[] = [];
  /** Models sk_receive_queue.lock. */
  readonly lock: SpinLock;
  /** sk_wq, made on first use (see wait). */
  private waitQueue: WaitQueue | null = null;
  /** RCV_SHUTDOWN: the socket was released; sending fails with -EPIPE. */
  dead = false;

  constructor(readonly name: string) {
    this.lock = new SpinLock("sk_receive_queue.lock");
  }

  /**
   * Models sk_wq: receivers sleep here. Made on first use: every process has a socket, and most
   * of a fuzz run's processes (its children) never receive or wake a receiver.
   */
  get wait(): WaitQueue {
    this.waitQueue ??= new WaitQueue(`${this.name} receive queue`);
    return this.waitQueue;
  }

  /** wake_up_all() of sk_wq: wakes every sleeping receiver (none if none ever slept). */
  wakeAllReceivers(): void {
    this.waitQueue?.wakeAll();
  }

  /** Messages waiting (inspection, no scheduling point). */
  get pending(): number {
    return this.queue.length;
  }
}

/**
 * Models __scm_destroy(): drops every file reference of a message and frees it.
 *
 * Locking: none held (fput() may defer the release, never runs it here).
 * References: drops the list's reference on each file.
 */
export async function scmDestroy(fpl: ScmFpList): Promise<void> {
  const files = fpl.fp.splice(0);
  for (const f of files) await fput(f);
  kfree(fpl);
}

/**
 * Models unix_stream_sendmsg() with an SCM_RIGHTS control message: takes a reference on the
 * file at each of the current process's `fds` and queues them on `to`. 0, -EINVAL (no fds or
 * more than SCM_MAX_FD), -ENOMEM, -EBADF (a bad fd: nothing is sent), or -EPIPE (the receiver
 * is gone). Nothing is queued on failure and every reference taken is dropped.
 *
 * Locking: takes the current file table's lock for each fget_raw(), then `to.lock`.
 * References: the queued message holds one reference per file.
 */
export async function scmSendFds(to: UnixSocket, fds: readonly number[]): Promise<number> {
  if (fds.length === 0 || fds.length > SCM_MAX_FD) return -EINVAL;
  await point("scm_fp_copy");
  const fpl = kmalloc(scmFpListCache, () => new ScmFpList());
  if (isErr(fpl)) return -ENOMEM;
  for (const fd of fds) {
    const file = Number.isInteger(fd) && fd >= 0 ? await fgetRaw(fd) : null;
    if (file === null) {
      await scmDestroy(fpl);
      return -EBADF;
    }
    fpl.fp.push(file);
  }
  const lockTaken = to.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  if (to.dead) {
    to.lock.unlockNow();
    await scmDestroy(fpl);
    return -EPIPE;
  }
  to.queue.push(fpl);
  to.lock.unlockNow();
  to.wait.wakeOne();
  return 0;
}

export interface ScmRecvOptions {
  /** MSG_DONTWAIT: -EAGAIN instead of sleeping when nothing is queued. */
  nonblock?: boolean;
  /** Flags for the new fds (O_CLOEXEC, as MSG_CMSG_CLOEXEC gives). */
  oFlags?: number;
  /**
   * Room for fds in the caller's control buffer (scm_max_fds(msg)); SCM_MAX_FD by default.
   */
  maxFds?: number;
}

/** What a receive delivered: the new fds and the message flags (MSG_CTRUNC). */
export interface ScmRecvResult {
  /** The new fds, in the message's order. */
  fds: number[];
  /** msg->msg_flags: MSG_CTRUNC when some of the message's files got no fd. */
  msgFlags: number;
}

/**
 * Models unix_stream_recvmsg() + scm_detach_fds() (net/core/scm.c, v6.18): takes the oldest
 * message off `sk` (sleeping until one arrives unless `nonblock`), installs its files at new fds
 * of the current process, at most `maxFds` of them (scm_max_fds()), stopping at the first that
 * fails (scm_recv_one_fd(): -EMFILE without a free fd, -ENOMEM), then drops the message's
 * references (__scm_destroy()). The failure is not returned: the receive succeeds and sets
 * MSG_CTRUNC when fewer fds were installed than the message carried (or it carried files and
 * there was no room). Returns the fds and flags, or -EAGAIN or -ERESTARTSYS before a message is
 * taken: unix_stream_data_wait() sleeps TASK_INTERRUPTIBLE (and does not sleep with a signal
 * pending), and "if (signal_pending(current)) { err = sock_intr_errno(timeo); ... }" after it
 * gives -ERESTARTSYS for a wait without SO_RCVTIMEO (timeo == MAX_SCHEDULE_TIMEOUT, the only
 * kind here); nothing was taken, so nothing is unwound.
 *
 * Locking: takes `sk.lock`, then the current file table's lock.
 * References: each new fd holds a new reference; the message's are dropped.
 */
export async function scmRecvFds(
  sk: UnixSocket,
  opts: ScmRecvOptions = {},
): Promise<ScmRecvResult | number> {
  let fpl: ScmFpList | undefined;
  for (;;) {
    const lockTaken2 = sk.lock.lock();
    if (lockTaken2 !== RESOLVED) await lockTaken2;
    fpl = sk.queue.shift();
    sk.lock.unlockNow();
    if (fpl !== undefined) break;
    if (opts.nonblock) return -EAGAIN;
    // unix_stream_data_wait(): prepare_to_wait(TASK_INTERRUPTIBLE), then schedule_timeout()
    // unless a signal is pending.
    await scheduleOn(sk.wait, TASK_INTERRUPTIBLE, `unix_stream_data_wait(${sk.name})`);
    if (signalPending()) return -ERESTARTSYS;
  }
  const count = fpl.fp.length;
  const fdmax = Math.min(opts.maxFds ?? SCM_MAX_FD, count);
  const fds: number[] = [];
  for (let i = 0; i < fdmax; i++) {
    const fd = await receiveFd(fpl.fp[i]!, opts.oFlags ?? 0);
    if (fd < 0) break;
    fds.push(fd);
  }
  const msgFlags = fds.length < count || (count > 0 && fdmax <= 0) ? MSG_CTRUNC : 0;
  // All the files that got an fd hold their own reference now: drop the message's.
  await scmDestroy(fpl);
  return { fds, msgFlags };
}

/**
 * The per-process queue's part of unix_release_sock() (af-unix.ts models the function for
 * socket files): the purge of the receive queue: marks the socket dead (senders get
 * -EPIPE from now on) and drops every queued message's file references.
 *
 * Locking: takes `sk.lock`.
 * References: drops the references of every undelivered message.
 */
export async function unixReleaseQueue(sk: UnixSocket): Promise<void> {
  const lockTaken3 = sk.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  sk.dead = true;
  const msgs = sk.queue.splice(0);
  sk.lock.unlockNow();
  sk.wakeAllReceivers();
  for (const m of msgs) await scmDestroy(m);
}
