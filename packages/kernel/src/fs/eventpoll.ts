/**
 * epoll (fs/eventpoll.c, include/linux/eventpoll.h, Linux v6.18): epoll_create1(),
 * epoll_ctl() and epoll_wait(), the `struct eventpoll` behind an epoll fd and the `struct epitem`
 * of each watched (file, fd) pair.
 *
 * An epitem holds NO reference on the file it watches: `epi.ffd.file` is a non-owning pointer,
 * valid because the file's __fput() calls eventpoll_release() first of all, which removes every
 * epitem of the file under its eventpoll's `mtx` (the file's `fEp` list is how it finds them).
 * So between the file's last fput() and that removal the epitem points at a doomed file, and
 * whoever looks at it under `ep->mtx` (epoll_wait() re-polling its ready list, EPOLL_CTL_MOD)
 * must not call into the file without a reference of its own: ep_item_poll() takes one with
 * epi_fget() (file_ref_get(): inc-not-zero) and skips a file whose count already reached zero.
 *
 * Registration: EPOLL_CTL_ADD calls the file's ->poll with a poll table whose queue proc
 * (ep_ptable_queue_proc()) hangs an `eppoll_entry` on every wait queue head the file names; its
 * wakeup function, ep_poll_callback(), puts the epitem on the ready list (`rdllist`, or the
 * overflow list while epoll_wait() is scanning) and wakes epoll_wait() sleepers. epoll_wait()
 * scans the ready list under `mtx`, re-polls each item (ep_item_poll() with no queue proc) and
 * reports those still ready; level-triggered items go back on the ready list, EPOLLET ones do
 * not, EPOLLONESHOT ones are disarmed.
 *
 * Historic bug `epoll.item-poll-without-ref` (CVE-2024-38580): until "epoll: be better about
 * file lifetimes" (4efaa5acf0a1, v6.9), ep_item_poll() called vfs_poll() on `epi->ffd.file`
 * directly. A ->poll that takes a file reference of its own (dma_buf_poll()'s get_file() for its
 * fence callback) then did atomic_long_inc() on a count that had already reached zero: the file
 * came back to life while its __fput() was pending (blocked on `ep->mtx` in
 * eventpoll_release_file()), and the reference's later fput() released it a second time. With
 * the toggle on, get_file() behaves as those kernels' did (see file.ts, getFile()).
 *
 * Simplifications: no nested epoll (an epoll file has no ->poll here, so adding one to another
 * epoll set is -EPERM, where the kernel allows it with loop and path checks), no EPOLLWAKEUP
 * wakeup sources, no busy polling, no max_user_watches (-ENOSPC); the epitems_head of a file's
 * `f_ep` list is not a separate allocation; the timeout is in virtual nanoseconds (negative:
 * wait forever); `data` is a JS number. epoll_wait() sleeps TASK_INTERRUPTIBLE: a fatal signal
 * (kernel/signal.ts) ends it with -EINTR (ep_poll()).
 */

import { RefcountT } from "@primetime/atomics";
import {
  bug,
  defineToggle,
  now,
  point,
  RESOLVED,
  report,
  TASK_INTERRUPTIBLE,
  toggleEnabled,
  WaitQueue,
} from "@primetime/sim";
import { O_CLOEXEC, O_RDWR } from "@primetime/uapi";
import {
  EBADF,
  EEXIST,
  EFAULT,
  EINTR,
  EINVAL,
  ENOENT,
  ENOMEM,
  EPERM,
  isErr,
} from "../include/errno.js";
import { scheduleOn, scheduleTimeoutOn, signalPending } from "../kernel/signal.js";
import { type SyscallProcess, syscall } from "../kernel/syscalls.js";
import { lockdepAssertHeld } from "../locking/lockdep.js";
import { Mutex } from "../locking/mutex.js";
import { SpinLock } from "../locking/spinlock.js";
import { KmemCache, kfree, kfreeRcu, kmalloc, SlabObject } from "../mm/slab.js";
import { fdget, fdInstall, fdput, getUnusedFdFlags, putUnusedFd } from "./fdtable.js";
import { anonInodeGetfile, type File, type FileOperations, fileOperations, fput } from "./file.js";
import {
  DEFAULT_POLLMASK,
  EPOLLERR,
  EPOLLHUP,
  type PollTable,
  type PollTableEntry,
  type PollWaitHead,
} from "./poll.js";

/** Models EPOLL_CLOEXEC (== O_CLOEXEC). */
export const EPOLL_CLOEXEC = O_CLOEXEC;
/** Models EPOLL_CTL_ADD. */
export const EPOLL_CTL_ADD = 1;
/** Models EPOLL_CTL_DEL. */
export const EPOLL_CTL_DEL = 2;
/** Models EPOLL_CTL_MOD. */
export const EPOLL_CTL_MOD = 3;
/** Models EPOLLEXCLUSIVE. */
export const EPOLLEXCLUSIVE = 1 << 28;
/** Models EPOLLWAKEUP (accepted; wakeup sources are not modeled). */
export const EPOLLWAKEUP = 1 << 29;
/** Models EPOLLONESHOT. */
export const EPOLLONESHOT = 1 << 30;
/** Models EPOLLET (bit 31: negative as a JS int32). */
export const EPOLLET = 1 << 31;
/** Models EP_PRIVATE_BITS: what a disarmed EPOLLONESHOT item keeps. */
const EP_PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/** Models EPOLLEXCLUSIVE_OK_BITS. */
const EPOLLEXCLUSIVE_OK_BITS =
  0x001 | 0x004 | 0x008 | 0x010 | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/** Models EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event) (12 bytes, packed on x86-64). */
export const EP_MAX_EVENTS = Math.floor(0x7fffffff / 12);

/** The historic bug: see the file comment. */
export const EPOLL_ITEM_POLL_WITHOUT_REF = defineToggle({
  name: "epoll.item-poll-without-ref",
  description:
    "ep_item_poll() calls the watched file's ->poll through the epitem's non-owning pointer without taking a reference (no epi_fget()). " +
    "A file whose last fput() raced with epoll_wait() is then polled while its __fput() waits for ep->mtx; dma_buf_poll()'s get_file() " +
    "(atomic_long_inc() on those kernels) resurrects it and its fput() releases the dma-buf a second time (CVE-2024-38580, syzbot).",
  fixedBy: "epoll: be better about file lifetimes",
  kind: "historic",
  commit: "4efaa5acf0a1",
  kernels: "up to v6.9-rc6 (fixed in v6.9 and the stable kernels); the dma-buf path since v3.17",
});

/** The slab caches of epoll (eventpoll_init()): epi_cache, pwq_cache, and the kmalloc'd eventpoll. */
export const epiCache = new KmemCache("eventpoll_epi");
export const pwqCache = new KmemCache("eventpoll_pwq");

/** Models struct epoll_event as userspace passes it: `events` (EPOLL*) and the opaque `data`. */
export interface EpollEvent {
  events: number;
  data: number;
}

/** Models struct epoll_filefd: the watched file and the fd it was added through. */
interface EpollFilefd {
  readonly file: File;
  readonly fd: number;
}

/**
 * Models struct eppoll_entry: one wait queue an epitem is hooked on. `whead` is cleared when the
 * head goes away under it (POLLFREE is not modeled, so never here).
 */
class EppollEntry extends SlabObject {
  whead: PollWaitHead | null = null;
  readonly wait: PollTableEntry;

  constructor(readonly base: EpItem) {
    super();
    this.wait = new EppollWait(base);
  }
}

/**
 * The wait queue entry of an eppoll_entry: its key is the epitem's events as they are now, and
 * its func ep_poll_callback(). A class with a prototype getter, not an object literal with a
 * getter: V8 allocates a literal's getter pair in the old generation, where it kept the getter's
 * closure (and the epitem, its eventpoll and the run behind them) alive through every young
 * collection until the next full one.
 */
class EppollWait implements PollTableEntry {
  triggered = false;
  readonly wq: WaitQueue;

  constructor(private readonly epi: EpItem) {
    this.wq = epi.ep.wq;
  }

  get events(): number {
    return this.epi.event.events;
  }

  /** The waker calls it as `entry.func(key)` (poll.ts). */
  func(key: number): void {
    epPollCallback(this.epi, key);
  }
}

/**
 * Models struct epitem.
 * Locking: `rdllink`/`onOvflist` under ep->lock; `fllink` membership under the file's f_lock;
 * the rest under ep->mtx.
 * References: `ffd.file` holds none (see the file comment); the epitem holds one on its
 * eventpoll (ep_get() in ep_insert()).
 */
export class EpItem extends SlabObject {
  readonly ffd: EpollFilefd;
  readonly ep: EventPoll;
  /** Models epi->event. */
  readonly event: EpollEvent;
  /** Models epi->pwqlist. */
  pwqlist: EppollEntry[] = [];
  /** Models epi->nwait: -1 once a pwq allocation failed. */
  nwait = 0;
  /** Models epi->dying: eventpoll_release_file() owns the removal. */
  dying = false;
  /** Models ep_is_linked(): on ep->rdllist. */
  onRdllist = false;
  /** Models epi->next != EP_UNACTIVE_PTR: chained on ep->ovflist. */
  onOvflist = false;

  constructor(ep: EventPoll, file: File, fd: number, event: EpollEvent) {
    super();
    this.ep = ep;
    this.ffd = { file, fd };
    this.event = { events: event.events, data: event.data };
  }
}

/**
 * Models struct eventpoll: the epoll instance behind an epoll fd.
 * Locking: `mtx` serialises epoll_ctl(), ep_send_events() and removal; `lock` (an rwlock in the
 * kernel) protects the ready list and the overflow list; the tree is under `mtx`.
 * References: `refcount` counts the epoll file (1) and every epitem.
 */
export class EventPoll extends SlabObject {
  /** Models ep->mtx. */
  readonly mtx: Mutex;
  /** Models ep->lock. */
  readonly lock: SpinLock;
  /** Models ep->wq: epoll_wait() sleepers. */
  readonly wq: WaitQueue;
  /** Models ep->rdllist, in order. */
  readonly rdllist: EpItem[] = [];
  /** Models ep->ovflist: null is EP_UNACTIVE_PTR (no scan running). */
  ovflist: EpItem[] | null = null;
  /** Models ep->rbr: the epitems by (file, fd). */
  readonly rbr = new Map<File, Map<number, EpItem>>();
  /** Models ep->refcount (since v6.4). */
  readonly refcount: RefcountT;
  /** Models ep->file. */
  file: File | null = null;

  constructor() {
    super();
    this.mtx = new Mutex("ep->mtx", { owner: this });
    this.lock = new SpinLock("ep->lock", { owner: this });
    this.wq = new WaitQueue(`${this.name}->wq`);
    this.refcount = new RefcountT(1, {
      onWarn: (_t, m) => report("refcount", m, { object: this.name }),
    });
  }

  /** The epitems, in tree order (inspection, no scheduling point). */
  items(): EpItem[] {
    return [...this.rbr.values()].flatMap((m) => [...m.values()]);
  }
}

/** Models is_file_epoll(). */
export function isFileEpoll(file: File): boolean {
  return file.fOp === eventpollFops;
}

/** Models ep_events_available(): the ready list or the overflow list is not empty. */
function epEventsAvailable(ep: EventPoll): boolean {
  return ep.rdllist.length > 0 || (ep.ovflist !== null && ep.ovflist.length > 0);
}

/** list_del_init(&epi->rdllink). */
function rdllistDel(ep: EventPoll, epi: EpItem): void {
  if (!epi.onRdllist) return;
  const i = ep.rdllist.indexOf(epi);
  if (i >= 0) ep.rdllist.splice(i, 1);
  epi.onRdllist = false;
}

/**
 * Models ep_poll_callback(): the wakeup function of an eppoll_entry, called by whoever wakes the
 * watched wait queue (under that head's lock, so atomic). Queues the epitem as ready (on the
 * overflow list while ep_send_events() scans) and wakes an epoll_wait() sleeper.
 * Locking: the woken head's lock; takes ep->lock (read side in the kernel).
 * References: none.
 */
function epPollCallback(epi: EpItem, pollflags: number): void {
  const ep = epi.ep;
  // A disarmed EPOLLONESHOT item, or an event it does not want: nothing.
  if (!(epi.event.events & ~EP_PRIVATE_BITS)) return;
  if (pollflags && !(pollflags & epi.event.events)) return;
  if (ep.ovflist !== null) {
    if (!epi.onOvflist) {
      epi.onOvflist = true;
      ep.ovflist.unshift(epi);
    }
  } else if (!epi.onRdllist) {
    epi.onRdllist = true;
    ep.rdllist.push(epi);
  }
  if (ep.wq.waiting) ep.wq.wakeOne();
}

/**
 * Models ep_ptable_queue_proc(): the queue proc of ep_insert()'s poll table: hooks a new
 * eppoll_entry of `epi` on `whead`. An allocation failure marks the epitem (nwait = -1) and
 * ep_insert() fails with -ENOMEM.
 * Locking: called from ->poll under ep->mtx.
 * References: none on the file (unlike poll(2)'s __pollwait()).
 */
async function epPtableQueueProc(epi: EpItem, whead: PollWaitHead): Promise<void> {
  if (epi.nwait < 0) return;
  const pwq = kmalloc(pwqCache, () => new EppollEntry(epi));
  if (isErr(pwq)) {
    epi.nwait = -1;
    return;
  }
  await point(`add_wait_queue(${epi.name})`);
  pwq.whead = whead;
  whead.entries.add(pwq.wait);
  epi.pwqlist.push(pwq);
  epi.nwait++;
}

/**
 * Models ep_unregister_pollwait(): unhooks every eppoll_entry of `epi` and frees them.
 * Locking: ep->mtx held.
 */
async function epUnregisterPollwait(ep: EventPoll, epi: EpItem): Promise<void> {
  lockdepAssertHeld(ep.mtx);
  for (const pwq of epi.pwqlist.splice(0)) {
    await point(`remove_wait_queue(${epi.name})`);
    pwq.whead?.entries.delete(pwq.wait);
    pwq.whead = null;
    kfree(pwq);
  }
}

/**
 * Models epi_fget(): a reference on the watched file unless its count already reached zero
 * (file_ref_get()); null means its __fput() is in flight and eventpoll_release_file() will
 * remove the epitem. The pointer itself is safe: the caller holds ep->mtx, which that removal
 * needs.
 * Locking: ep->mtx held.
 * References: takes one on the file it returns.
 */
async function epiFget(epi: EpItem): Promise<File | null> {
  lockdepAssertHeld(epi.ep.mtx);
  const file = epi.ffd.file;
  await point(`epi_fget(${file.name})`);
  file.checkAccess("epi_fget");
  return file.fCount.incNotZero() ? file : null;
}

/**
 * Models ep_item_poll(): the watched file's ready events among those the epitem wants, asking
 * its ->poll (vfs_poll(): DEFAULT_POLLMASK without one) with `pt` (a queue proc registers, a
 * null one only asks). A file being torn down reports nothing.
 * Locking: ep->mtx held.
 * References: holds the file for the call (epi_fget()); under the historic toggle, none.
 */
async function epItemPoll(epi: EpItem, pt: PollTable): Promise<number> {
  lockdepAssertHeld(epi.ep.mtx);
  const historic = toggleEnabled(EPOLL_ITEM_POLL_WITHOUT_REF.name);
  // Before 4efaa5acf0a1: "struct file *file = epi->ffd.file;".
  const file = historic ? epi.ffd.file : await epiFget(epi);
  // "We could return EPOLLERR | EPOLLHUP or something, but let's treat this more as
  // 'file doesn't exist, poll didn't happen'."
  if (!file) return 0;
  pt.key = epi.event.events;
  const res = file.fOp.poll ? await file.fOp.poll(file, pt) : DEFAULT_POLLMASK;
  if (!historic) await fput(file);
  return res & epi.event.events;
}

/**
 * Models attach_epitem(): links the epitem on the file's f_ep list.
 * Locking: takes the file's f_lock.
 */
async function attachEpitem(file: File, epi: EpItem): Promise<void> {
  const fLockTaken = file.fLock.lock();
  if (fLockTaken !== RESOLVED) await fLockTaken;
  if (file.fEp === null) file.fEp = [];
  file.fEp.push(epi);
  file.fLock.unlockNow();
}

/**
 * Models __ep_remove(ep, epi, force): unhooks the epitem from its wait queues, unlinks it from
 * its file (unless eventpoll_release_file() owns it, `dying`, and this is not that path), from
 * the tree and the ready list, and frees it after a grace period. True if it was removed (the
 * caller then drops the eventpoll reference the epitem held).
 * Locking: ep->mtx held; takes the file's f_lock and ep->lock.
 * References: the file is not referenced (see the file comment); drops none itself.
 */
async function epRemove(ep: EventPoll, epi: EpItem, force: boolean): Promise<boolean> {
  lockdepAssertHeld(ep.mtx);
  const file = epi.ffd.file;
  await epUnregisterPollwait(ep, epi);
  // sync with eventpoll_release_file()
  const fLockTaken2 = file.fLock.lock();
  if (fLockTaken2 !== RESOLVED) await fLockTaken2;
  if (epi.dying && !force) {
    file.fLock.unlockNow();
    return false;
  }
  // head = file->f_ep; head->first: a file whose f_ep list is already gone is a NULL pointer
  // oops. Only a second __fput() of the file reaches one (its count was taken from zero, as
  // epoll.item-poll-without-ref lets a poll do), racing the first one's eventpoll_release_file().
  const head = file.fEp;
  if (head === null)
    bug("BUG: kernel NULL pointer dereference in __ep_remove(): file->f_ep is NULL");
  const i = head.indexOf(epi);
  if (i >= 0) head.splice(i, 1);
  if (head.length === 0) file.fEp = null;
  file.fLock.unlockNow();
  ep.rbr.get(file)?.delete(epi.ffd.fd);
  if (ep.rbr.get(file)?.size === 0) ep.rbr.delete(file);
  const lockTaken = ep.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  rdllistDel(ep, epi);
  if (epi.onOvflist) {
    ep.ovflist?.splice(ep.ovflist.indexOf(epi), 1);
    epi.onOvflist = false;
  }
  ep.lock.unlockNow();
  const kfreeRcuDone = kfreeRcu(epi);
  if (kfreeRcuDone !== RESOLVED) await kfreeRcuDone;
  return true;
}

/**
 * Models ep_remove_safe(): __ep_remove() without force; the eventpoll must outlive it (its
 * refcount cannot reach zero here: WARN_ON_ONCE otherwise).
 * Locking: ep->mtx held.
 */
async function epRemoveSafe(ep: EventPoll, epi: EpItem): Promise<void> {
  if (await epRemove(ep, epi, false)) {
    if (ep.refcount.decAndTest())
      report("warn", "WARN_ON_ONCE(ep_refcount_dec_and_test(ep)) in ep_remove_safe", {
        object: ep.name,
      });
  }
}

/** Models ep_free(): the eventpoll freed after a grace period. */
async function epFree(ep: EventPoll): Promise<void> {
  const kfreeRcuDone2 = kfreeRcu(ep);
  if (kfreeRcuDone2 !== RESOLVED) await kfreeRcuDone2;
}

/**
 * Models ep_clear_and_put(): the epoll file's release: unhooks every epitem from its wait queues,
 * removes each (those a racing eventpoll_release_file() owns are left to it), unlocks ep->mtx,
 * and only then drops the file's eventpoll reference (8c2e52ebbe88 "eventpoll: don't decrement
 * ep refcount while still holding the ep mutex", v6.16: once the count is dropped, a racing
 * eventpoll_release_file() may free the eventpoll, so nothing may touch ep->mtx after it).
 * Locking: takes ep->mtx; the reference is dropped after unlocking it.
 * References: drops the epoll file's reference on the eventpoll (and each removed epitem's).
 */
async function epClearAndPut(ep: EventPoll): Promise<void> {
  const mtxTaken = ep.mtx.lock();
  if (mtxTaken !== RESOLVED) await mtxTaken;
  for (const epi of ep.items()) {
    await epUnregisterPollwait(ep, epi);
    await point("cond_resched");
  }
  for (const epi of ep.items()) {
    await epRemoveSafe(ep, epi);
    await point("cond_resched");
  }
  ep.mtx.unlockNow();
  if (ep.refcount.decAndTest()) await epFree(ep);
}

/**
 * Models eventpoll_release() / eventpoll_release_file(), called first thing by __fput(): removes
 * every epitem watching the dying file, each under its eventpoll's mtx (so it waits for an
 * ep_send_events() or epoll_ctl() that is looking at the epitem).
 * Locking: takes the file's f_lock and each ep->mtx; may sleep.
 * References: drops each removed epitem's eventpoll reference (the last frees the eventpoll).
 */
export async function eventpollRelease(file: File): Promise<void> {
  // The fast path: "if (likely(!READ_ONCE(file->f_ep))) return;".
  if (file.fEp === null) return;
  for (;;) {
    const fLockTaken3 = file.fLock.lock();
    if (fLockTaken3 !== RESOLVED) await fLockTaken3;
    const epi = file.fEp?.[0];
    if (!epi) {
      file.fLock.unlockNow();
      return;
    }
    epi.dying = true;
    file.fLock.unlockNow();
    const ep = epi.ep;
    const mtxTaken2 = ep.mtx.lock();
    if (mtxTaken2 !== RESOLVED) await mtxTaken2;
    const dispose = await epRemove(ep, epi, true);
    ep.mtx.unlockNow();
    if (dispose && ep.refcount.decAndTest()) await epFree(ep);
  }
}

/**
 * Models ep_insert(): a new epitem for (tfile, fd) with `event`, linked on the file and in the
 * tree, then the first ->poll with the registering queue proc; ready at once means on the ready
 * list. -ENOMEM if the epitem or a wait queue hook cannot be allocated.
 * Locking: ep->mtx held.
 * References: the epitem takes one on the eventpoll, none on the file.
 */
async function epInsert(
  ep: EventPoll,
  event: EpollEvent,
  tfile: File,
  fd: number,
): Promise<number> {
  lockdepAssertHeld(ep.mtx);
  const epi = kmalloc(epiCache, () => new EpItem(ep, tfile, fd, event));
  if (isErr(epi)) return -ENOMEM;
  await attachEpitem(tfile, epi);
  let byFd = ep.rbr.get(tfile);
  if (!byFd) {
    byFd = new Map();
    ep.rbr.set(tfile, byFd);
  }
  byFd.set(fd, epi);
  // now we can't fail
  ep.refcount.inc();
  const pt: PollTable = { qproc: (_f, head) => epPtableQueueProc(epi, head), key: 0 };
  const revents = await epItemPoll(epi, pt);
  // A wait queue hook could not be allocated: undo.
  if (epi.nwait < 0) {
    await epRemoveSafe(ep, epi);
    return -ENOMEM;
  }
  const lockTaken2 = ep.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  if (revents && !epi.onRdllist) {
    epi.onRdllist = true;
    ep.rdllist.push(epi);
    if (ep.wq.waiting) ep.wq.wakeOne();
  }
  ep.lock.unlockNow();
  return 0;
}

/**
 * Models ep_modify(): new events and data for an epitem, then a re-poll (no registration): ready
 * now means on the ready list.
 * Locking: ep->mtx held.
 */
async function epModify(ep: EventPoll, epi: EpItem, event: EpollEvent): Promise<number> {
  lockdepAssertHeld(ep.mtx);
  epi.event.events = event.events;
  epi.event.data = event.data;
  const pt: PollTable = { qproc: null, key: 0 };
  if (await epItemPoll(epi, pt)) {
    const lockTaken3 = ep.lock.lock();
    if (lockTaken3 !== RESOLVED) await lockTaken3;
    if (!epi.onRdllist) {
      epi.onRdllist = true;
      ep.rdllist.push(epi);
      if (ep.wq.waiting) ep.wq.wakeOne();
    }
    ep.lock.unlockNow();
  }
  return 0;
}

/** Models ep_find(): the epitem of (file, fd), or null. Locking: ep->mtx held. */
function epFind(ep: EventPoll, file: File, fd: number): EpItem | null {
  lockdepAssertHeld(ep.mtx);
  return ep.rbr.get(file)?.get(fd) ?? null;
}

/** The epoll file's operations (eventpoll_fops): release only (no ->poll: no nesting here). */
export const eventpollFops: FileOperations = fileOperations({
  owner: "eventpoll",
  /** Models ep_eventpoll_release(). */
  release: async (_inode, file) => {
    const ep = file.privateData as EventPoll | null;
    if (ep) await epClearAndPut(ep);
    return 0;
  },
});

/**
 * Models do_epoll_create(flags) (epoll_create1(2)): a new eventpoll and its file
 * "anon_inode:[eventpoll]" at the lowest free fd. -EINVAL for flags other than EPOLL_CLOEXEC,
 * -ENOMEM, -EMFILE.
 * Locking: none held.
 * References: the fd holds the file; the file holds the eventpoll.
 */
export async function doEpollCreate(flags: number): Promise<number> {
  if (flags & ~EPOLL_CLOEXEC) return -EINVAL;
  const ep = kmalloc("eventpoll", () => new EventPoll());
  if (isErr(ep)) return -ENOMEM;
  const fd = await getUnusedFdFlags(O_RDWR | (flags & O_CLOEXEC));
  if (fd < 0) {
    await epClearAndPut(ep);
    return fd;
  }
  const file = await anonInodeGetfile(
    "[eventpoll]",
    eventpollFops,
    ep,
    O_RDWR | (flags & O_CLOEXEC),
  );
  if (isErr(file)) {
    await putUnusedFd(fd);
    await epClearAndPut(ep);
    return file;
  }
  ep.file = file;
  const fdInstallDone = fdInstall(fd, file);
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  return fd;
}

/**
 * copy_from_user() of a struct epoll_event: null when it cannot be read (not an object, fields
 * that are not integers, a throwing getter).
 */
function copyEpollEvent(event: unknown): EpollEvent | null {
  try {
    if (event === null || typeof event !== "object") return null;
    const events: unknown = (event as EpollEvent).events;
    const data: unknown = (event as EpollEvent).data;
    if (!Number.isInteger(events) || !Number.isInteger(data)) return null;
    return { events: (events as number) | 0, data: data as number };
  } catch {
    return null;
  }
}

/**
 * Models do_epoll_ctl(epfd, op, fd, epds) (fs/eventpoll.c, v6.18): `CLASS(fd, f)(epfd)` and
 * `CLASS(fd, tf)(fd)`, i.e. fdget() of each (-EBADF for a closed epfd or fd); then ADD (-EEXIST
 * if watched), DEL and MOD (-ENOENT if not); -EPERM for a target without ->poll (and, here, an
 * epoll target), -EINVAL for an epfd that is not an epoll file, the epoll file itself as target,
 * a bad op or EPOLLEXCLUSIVE misuse. ADD and MOD always add EPOLLERR | EPOLLHUP to the events.
 * fdput() of tf, then of f, at the end (the classes' destructors, in reverse order).
 * Locking: takes ep->mtx.
 * References: fdget()'s: none when the process's fd table has one user (BORROWED_FDs), else one
 * on each file for the call (CLONED_FDs), dropped by fdput().
 */
export async function doEpollCtl(
  epfd: number,
  op: number,
  fd: number,
  epds: EpollEvent | null,
): Promise<number> {
  const f = await fdget(epfd);
  if (f.file === null) return -EBADF;
  let error: number;
  const tf = await fdget(fd);
  if (tf.file === null) {
    error = -EBADF;
  } else {
    error = await epollCtlFiles(f.file, tf.file, op, fd, epds);
    const fdputDone = fdput(tf);
    if (fdputDone !== RESOLVED) await fdputDone;
  }
  const fdputDone2 = fdput(f);
  if (fdputDone2 !== RESOLVED) await fdputDone2;
  return error;
}

async function epollCtlFiles(
  f: File,
  tf: File,
  op: number,
  fd: number,
  epds: EpollEvent | null,
): Promise<number> {
  // The target file descriptor must support poll (file_can_poll()).
  if (!tf.fOp.poll) return -EPERM;
  // We have to check that the file structure underneath the file descriptor the user passed to
  // us _is_ an eventpoll file, and that the target is not the epoll file itself.
  if (f === tf || !isFileEpoll(f)) return -EINVAL;
  const hasEvent = op !== EPOLL_CTL_DEL;
  if (hasEvent && epds && epds.events & EPOLLEXCLUSIVE) {
    if (op === EPOLL_CTL_MOD) return -EINVAL;
    if (op === EPOLL_CTL_ADD && epds.events & ~EPOLLEXCLUSIVE_OK_BITS) return -EINVAL;
  }
  const ep = f.privateData as EventPoll;
  const mtxTaken3 = ep.mtx.lock();
  if (mtxTaken3 !== RESOLVED) await mtxTaken3;
  const epi = epFind(ep, tf, fd);
  let error = -EINVAL;
  switch (op) {
    case EPOLL_CTL_ADD:
      if (!epi) {
        epds!.events |= EPOLLERR | EPOLLHUP;
        error = await epInsert(ep, epds!, tf, fd);
      } else error = -EEXIST;
      break;
    case EPOLL_CTL_DEL:
      if (epi) {
        // The eventpoll itself is still alive: the refcount can't go to zero here.
        await epRemoveSafe(ep, epi);
        error = 0;
      } else error = -ENOENT;
      break;
    case EPOLL_CTL_MOD:
      if (epi) {
        if (!(epi.event.events & EPOLLEXCLUSIVE)) {
          epds!.events |= EPOLLERR | EPOLLHUP;
          error = await epModify(ep, epi, epds!);
        }
      } else error = -ENOENT;
      break;
  }
  ep.mtx.unlockNow();
  return error;
}

/**
 * Models ep_start_scan(): the ready list becomes the caller's transfer list, and wakeups go to
 * the overflow list until ep_done_scan(). Locking: ep->mtx held; takes ep->lock.
 */
async function epStartScan(ep: EventPoll): Promise<EpItem[]> {
  lockdepAssertHeld(ep.mtx);
  const lockTaken4 = ep.lock.lock();
  if (lockTaken4 !== RESOLVED) await lockTaken4;
  const txlist = ep.rdllist.splice(0);
  ep.ovflist = [];
  ep.lock.unlockNow();
  return txlist;
}

/**
 * Models ep_done_scan(): the overflow list's items onto the ready list, the overflow list
 * inactive again, what is left of the transfer list back at the ready list's head, and a
 * wakeup if anything is ready. The overflow list is walked from its head (the newest wakeup:
 * ep_poll_callback() pushes there) and each item not already ready is list_add()ed at the
 * ready list's head, so the ready list becomes: the transfer list's rest, the overflow items
 * oldest first, then what was on the ready list (items a level-triggered scan re-queued).
 * Locking: ep->mtx held; takes ep->lock.
 */
async function epDoneScan(ep: EventPoll, txlist: EpItem[]): Promise<void> {
  lockdepAssertHeld(ep.mtx);
  const lockTaken5 = ep.lock.lock();
  if (lockTaken5 !== RESOLVED) await lockTaken5;
  for (const epi of ep.ovflist ?? []) {
    epi.onOvflist = false;
    if (!epi.onRdllist) {
      epi.onRdllist = true;
      // list_add(&epi->rdllink, &ep->rdllist): at the head.
      ep.rdllist.unshift(epi);
    }
  }
  ep.ovflist = null;
  ep.rdllist.unshift(...txlist);
  if (ep.rdllist.length && ep.wq.waiting) ep.wq.wakeOne();
  ep.lock.unlockNow();
}

/** epoll_put_uevent(): false when the store faults. */
function epollPutUevent(events: EpollEvent[], i: number, revents: number, data: number): boolean {
  try {
    events[i] = { events: revents, data };
    return true;
  } catch {
    return false;
  }
}

/**
 * Models ep_send_events(): scans the ready list under ep->mtx, re-polls each item, and copies
 * out those still ready (up to `maxevents`); level-triggered items go back on the ready list,
 * EPOLLONESHOT ones are disarmed. The count, or -EFAULT if the first store faults.
 * Locking: takes ep->mtx, and ep->lock only in ep_start_scan()/ep_done_scan().
 * References: each re-poll holds its file (ep_item_poll()).
 */
async function epSendEvents(
  ep: EventPoll,
  events: EpollEvent[],
  maxevents: number,
): Promise<number> {
  let res = 0;
  const pt: PollTable = { qproc: null, key: 0 };
  const mtxTaken4 = ep.mtx.lock();
  if (mtxTaken4 !== RESOLVED) await mtxTaken4;
  const txlist = await epStartScan(ep);
  while (txlist.length) {
    if (res >= maxevents) break;
    const epi = txlist.shift()!;
    epi.onRdllist = false;
    const revents = await epItemPoll(epi, pt);
    if (!revents) continue;
    if (!epollPutUevent(events, res, revents, epi.event.data)) {
      txlist.unshift(epi);
      epi.onRdllist = true;
      if (!res) res = -EFAULT;
      break;
    }
    res++;
    if (epi.event.events & EPOLLONESHOT) epi.event.events &= EP_PRIVATE_BITS;
    else if (!(epi.event.events & EPOLLET)) {
      // Level-triggered: back on the ready list, for the next epoll_wait() to poll again.
      // Without ep->lock, as the kernel: "At this point, no one can insert into ep->rdllist
      // besides us": epoll_ctl() waits on ep->mtx and ep_poll_callback() queues on ovflist.
      epi.onRdllist = true;
      ep.rdllist.push(epi);
    }
  }
  for (const epi of txlist) epi.onRdllist = true;
  await epDoneScan(ep, txlist);
  ep.mtx.unlockNow();
  return res;
}

/**
 * Models ep_poll(): sends the ready events; with none, sleeps (TASK_INTERRUPTIBLE) on ep->wq
 * until woken or the timeout passes (`timeoutNs` 0: no wait; negative: forever) and tries
 * again. A sleep that times out without a wakeup returns 0 without another ep_send_events().
 * Before each sleep "if (signal_pending(current)) return -EINTR;" (after the timeout check, so
 * a zero timeout returns 0); a signal during the sleep wakes it, and the next round first tries
 * to send events (eavail = 1), then returns -EINTR. The count, 0 on timeout, -EFAULT, -EINTR.
 * Locking: none held on entry; sleeps.
 */
async function epPoll(
  ep: EventPoll,
  events: EpollEvent[],
  maxevents: number,
  timeoutNs: number,
): Promise<number> {
  let timedOut = timeoutNs === 0;
  const end = timeoutNs < 0 ? Number.POSITIVE_INFINITY : now() + timeoutNs;
  let eavail = epEventsAvailable(ep);
  for (;;) {
    if (eavail) {
      const res = await epSendEvents(ep, events, maxevents);
      if (res) return res;
    }
    if (timedOut) return 0;
    if (signalPending()) return -EINTR;
    await point("ep_poll");
    // Checked and queued atomically (under ep->lock in the kernel).
    eavail = epEventsAvailable(ep);
    if (!eavail) {
      // __set_current_state(TASK_INTERRUPTIBLE) ... schedule_hrtimeout_range(): no sleep with a
      // signal pending (it may have come at the point above), and not timed out then.
      if (end === Number.POSITIVE_INFINITY) await scheduleOn(ep.wq, TASK_INTERRUPTIBLE, "ep_poll");
      else {
        const left = end - now();
        const woken =
          left > 0 && (await scheduleTimeoutOn(ep.wq, left, TASK_INTERRUPTIBLE, "ep_poll"));
        if (!woken) timedOut = true;
      }
    }
    // "eavail = 1; ... if (timed_out) eavail = list_empty(&wait.entry);": a sleep that timed out
    // without a wakeup (its wait entry still queued) sends nothing and returns 0.
    eavail = !timedOut;
  }
}

/**
 * access_ok() of epoll_wait()'s events array: an array that can be written (not frozen); false
 * where asking throws (a revoked Proxy, a Proxy whose traps throw), a bad user pointer.
 */
function eventsAccessOk(events: unknown): boolean {
  try {
    return Array.isArray(events) && !Object.isFrozen(events);
  } catch {
    return false;
  }
}

/**
 * Models do_epoll_wait(epfd, events, maxevents, timeout) (fs/eventpoll.c, v6.18):
 * `CLASS(fd, f)(epfd)`, i.e. fdget() (-EBADF for a closed epfd) first, then ep_check_params():
 * -EINVAL for maxevents out of (0, EP_MAX_EVENTS], -EFAULT for an events array that cannot be
 * written, -EINVAL for an epfd that is not an epoll file; else ep_poll(); fdput() at the end.
 * Locking: none held on entry.
 * References: fdget()'s: none when the process's fd table has one user (a BORROWED_FD), else one
 * on the epoll file for the call (CLONED_FD), dropped by fdput().
 */
export async function doEpollWait(
  epfd: number,
  events: unknown,
  maxevents: number,
  timeoutNs: number,
): Promise<number> {
  const f = await fdget(epfd);
  const file = f.file;
  if (file === null) return -EBADF;
  const error =
    epCheckParams(file, events, maxevents) ||
    (await epPoll(file.privateData as EventPoll, events as EpollEvent[], maxevents, timeoutNs));
  const fdputDone3 = fdput(f);
  if (fdputDone3 !== RESOLVED) await fdputDone3;
  return error;
}

/**
 * Models ep_check_params(file, evs, maxevents) (fs/eventpoll.c, v6.18): -EINVAL for maxevents
 * out of (0, EP_MAX_EVENTS], -EFAULT when the events array cannot be written (access_ok()),
 * -EINVAL for a file that is not an epoll file; else 0.
 * Locking: none. References: the caller holds the file (fdget()).
 */
function epCheckParams(file: File, events: unknown, maxevents: number): number {
  if (maxevents <= 0 || maxevents > EP_MAX_EVENTS) return -EINVAL;
  if (!eventsAccessOk(events)) return -EFAULT;
  if (!isFileEpoll(file)) return -EINVAL;
  return 0;
}

/**
 * Models the epoll_create1(2) syscall: see doEpollCreate(). -EINVAL for a non-integer flags.
 * Locking: none held on entry.
 */
export async function sysEpollCreate1(p: SyscallProcess, flags: unknown): Promise<number> {
  return syscall(p, "epoll_create1", async () => {
    if (!Number.isInteger(flags)) return -EINVAL;
    return doEpollCreate(flags as number);
  }) as Promise<number>;
}

/**
 * Models the epoll_ctl(2) syscall: copies the event in (ADD, MOD: -EFAULT if it cannot be read;
 * DEL ignores it), then doEpollCtl(). -EBADF for fds that are not integers.
 * Locking: none held on entry.
 */
export async function sysEpollCtl(
  p: SyscallProcess,
  epfd: unknown,
  op: unknown,
  fd: unknown,
  event: unknown,
): Promise<number> {
  return syscall(p, "epoll_ctl", async () => {
    if (!Number.isInteger(op)) return -EINVAL;
    let epds: EpollEvent | null = null;
    if (op !== EPOLL_CTL_DEL) {
      epds = copyEpollEvent(event);
      if (epds === null) return -EFAULT;
    }
    if (!Number.isInteger(epfd) || !Number.isInteger(fd)) return -EBADF;
    return doEpollCtl(epfd as number, op as number, fd as number, epds);
  }) as Promise<number>;
}

/**
 * Models the epoll_wait(2) syscall: see doEpollWait(). -EINVAL for a maxevents or timeout that
 * is not an integer, -EBADF for an epfd that is not one.
 * Locking: none held on entry.
 */
export async function sysEpollWait(
  p: SyscallProcess,
  epfd: unknown,
  events: unknown,
  maxevents: unknown,
  timeoutNs: unknown,
): Promise<number> {
  return syscall(p, "epoll_wait", async () => {
    if (!Number.isInteger(maxevents) || !Number.isInteger(timeoutNs)) return -EINVAL;
    if (!Number.isInteger(epfd)) return -EBADF;
    return doEpollWait(epfd as number, events, maxevents as number, timeoutNs as number);
  }) as Promise<number>;
}
