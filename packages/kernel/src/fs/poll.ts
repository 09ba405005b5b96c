/**
 * poll(2) (fs/select.c: do_sys_poll(), do_poll(), do_pollfd(), __pollwait(), pollwake(),
 * poll_freewait(); include/linux/poll.h: poll_wait(), poll_requested_events()).
 *
 * A file that can be polled has a `->poll(file, pt)` in its operations: it registers the wait
 * queue heads an event would be announced on with `pollWait(file, head, pt)` and returns the
 * events ready now (EPOLL*). `sysPoll()` calls ->poll on every fd; if none is ready and the
 * timeout allows, it sleeps until one of the registered heads is woken with a key the fd asked
 * for (`wakeUpPoll()`), or until the timeout passes on the virtual clock, then asks again. The
 * poll table registers only on the first pass (do_poll() clears _qproc after it), and every
 * registration holds a reference on its file until poll_freewait().
 *
 * Simplifications: a wait queue head here is only the set of its poll entries (`entries`), with
 * no lock of its own (adding and removing are atomic between scheduling points); no
 * EPOLLPRI/busy polling; the timeout is in virtual nanoseconds (negative: wait forever). Signals:
 * the sleep is TASK_INTERRUPTIBLE and a fatal signal (kernel/signal.ts) ends the poll with
 * -ERESTARTNOHAND (sys_poll(): -ERESTART_RESTARTBLOCK), after the files are unregistered; the
 * thread then dies on its way back to userspace.
 */

import { now, pointNow, RESOLVED, TASK_INTERRUPTIBLE, WaitQueue } from "@primetime/sim";
import { EFAULT, EINVAL, ERESTART_RESTARTBLOCK, ERESTARTNOHAND } from "../include/errno.js";
import { scheduleOn, scheduleTimeoutOn, signalPending } from "../kernel/signal.js";
import { type SyscallProcess, syscall } from "../kernel/syscalls.js";
import { currentFiles, fdget, fdput, INR_OPEN_CUR } from "./fdtable.js";
import { type File, fput, getFile } from "./file.js";

/** Models EPOLLIN / POLLIN. */
export const EPOLLIN = 0x001;
/** Models EPOLLPRI / POLLPRI. */
export const EPOLLPRI = 0x002;
/** Models EPOLLOUT / POLLOUT. */
export const EPOLLOUT = 0x004;
/** Models EPOLLERR / POLLERR. */
export const EPOLLERR = 0x008;
/** Models EPOLLHUP / POLLHUP. */
export const EPOLLHUP = 0x010;
/** Models EPOLLNVAL / POLLNVAL: the fd is not open. */
export const EPOLLNVAL = 0x020;
/** Models EPOLLRDNORM / POLLRDNORM. */
export const EPOLLRDNORM = 0x040;
/** Models EPOLLWRNORM / POLLWRNORM. */
export const EPOLLWRNORM = 0x100;

/** Models DEFAULT_POLLMASK: what a file without ->poll reports (always ready). */
export const DEFAULT_POLLMASK = EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM;

/** One registration of a poller on a wait queue head (struct poll_table_entry + its wait). */
export interface PollTableEntry {
  /** Models entry->key: the events the poller waits for; a wakeup with another key is ignored. */
  readonly events: number;
  /** Models poll_wqueues.triggered: a wakeup arrived since the last check (shared per poll). */
  triggered: boolean;
  /** Where the polling task sleeps. */
  readonly wq: WaitQueue;
  /**
   * Models wait_queue_entry.func when it is not pollwake(): called by the waker with the key
   * instead of marking and waking (epoll's ep_poll_callback()); synchronous, under the head's
   * lock.
   */
  readonly func?: (key: number) => void;
}

/** Models a wait_queue_head_t as poll sees it: the poll entries registered on it. */
export interface PollWaitHead {
  readonly entries: Set<PollTableEntry>;
}

/**
 * Models poll_table (struct poll_table_struct): `qproc` registers the caller on a head
 * (__pollwait(); null once do_poll() has registered everything), `key` the events asked for.
 */
export interface PollTable {
  qproc: ((file: File, head: PollWaitHead, pt: PollTable) => Promise<void>) | null;
  key: number;
}

/**
 * Models poll_wait(file, head, pt): registers the poller on `head` if the table still
 * registers (a null table or a cleared qproc: nothing).
 * Locking: none held by the caller beyond what ->poll holds; not a sleeping call.
 * References: the registration takes one on `file` (__pollwait()'s get_file()).
 */
export async function pollWait(
  file: File,
  head: PollWaitHead | null,
  pt: PollTable | null | undefined,
): Promise<void> {
  if (pt?.qproc && head) await pt.qproc(file, head, pt);
}

/**
 * Models poll_requested_events(pt): the events the poller asked for (all, without a table).
 * Locking: none.
 */
export function pollRequestedEvents(pt: PollTable | null | undefined): number {
  return pt ? pt.key : ~0;
}

/**
 * Models wake_up_poll(head, key) / wake_up_locked_poll(): marks and wakes every poller on
 * `head` waiting for an event of `key` (pollwake(): a key not intersecting the entry's is
 * ignored; key 0 wakes everyone, as wake_up_all()).
 * Locking: the head's lock, if the caller models one; not a scheduling point.
 * References: none.
 */
export function wakeUpPoll(head: PollWaitHead, key: number): void {
  for (const e of head.entries) {
    if (e.func) {
      e.func(key);
      continue;
    }
    if (key && !(e.events & key)) continue;
    e.triggered = true;
    e.wq.wakeAll();
  }
}

/** One fd of a poll(2) call (struct pollfd): `revents` is written back by the syscall. */
export interface PollFd {
  fd: number;
  events: number;
  revents?: number;
}

/** poll_wqueues' poll_table: the table it is embedded in (container_of()). */
interface PollWqueuesTable extends PollTable {
  readonly wqueues: PollWqueues;
}

/** The qproc of every poll_wqueues' table: __pollwait() on the table's poll_wqueues. */
function pollQproc(file: File, head: PollWaitHead, pt: PollTable): Promise<void> {
  return (pt as PollWqueuesTable).wqueues.pollwait(file, head, pt);
}

/**
 * Models struct poll_table_entry of a poll_wqueues: `triggered` is the poll_wqueues' shared
 * flag (accessors on the class, not an object literal with its own accessors per entry).
 */
class PollWqueuesEntry implements PollTableEntry {
  constructor(
    private readonly pwq: PollWqueues,
    readonly events: number,
    readonly wq: WaitQueue,
  ) {}

  get triggered(): boolean {
    return this.pwq.triggered;
  }

  set triggered(v: boolean) {
    this.pwq.triggered = v;
  }
}

/** Models struct poll_wqueues: the table, the registrations, and the shared `triggered` flag. */
class PollWqueues {
  triggered = false;
  readonly wq = new WaitQueue("poll_wqueues");
  readonly registrations: { head: PollWaitHead; entry: PollTableEntry; file: File }[] = [];
  readonly pt: PollWqueuesTable;

  constructor() {
    this.pt = { qproc: pollQproc, key: 0, wqueues: this };
  }

  /** Models __pollwait(): an entry with the current key, holding the file. */
  async pollwait(file: File, head: PollWaitHead, pt: PollTable): Promise<void> {
    const entry = new PollWqueuesEntry(this, pt.key, this.wq);
    await getFile(file);
    const atPoint = pointNow("add_wait_queue(poll)");
    if (atPoint !== null) await atPoint;
    head.entries.add(entry);
    this.registrations.push({ head, entry, file });
  }

  /** Models poll_freewait(): unregisters every entry and drops the files they held. */
  async freewait(): Promise<void> {
    for (const { head, entry, file } of this.registrations.splice(0)) {
      const atPoint = pointNow("remove_wait_queue(poll)");
      if (atPoint !== null) await atPoint;
      head.entries.delete(entry);
      const fputDone = fput(file);
      if (fputDone !== RESOLVED) await fputDone;
    }
  }
}

/**
 * Models do_pollfd() (fs/select.c, v6.18): 0 for a negative fd, then `CLASS(fd, f)(fd)`, i.e.
 * fdget() (EPOLLNVAL for an fd that is not open), then vfs_poll(): the fd's ready events among
 * those asked (plus EPOLLERR/EPOLLHUP, always reported); fdput() at the end (the class's
 * destructor).
 * Locking: may sleep in ->poll.
 * References: fdget()'s: none when the process's fd table has one user (a BORROWED_FD), else one
 * on the file for the call (CLONED_FD), dropped by fdput(). A registration takes its own
 * (__pollwait()'s get_file()).
 */
async function doPollfd(pfd: PollFd, pt: PollTable): Promise<number> {
  if (pfd.fd < 0) return 0;
  const f = await fdget(pfd.fd);
  const file = f.file;
  if (file === null) return EPOLLNVAL;
  try {
    const filter = (pfd.events & 0xffff) | EPOLLERR | EPOLLHUP;
    if (!file.fOp.poll) return DEFAULT_POLLMASK & filter;
    pt.key = filter;
    return (await file.fOp.poll(file, pt)) & filter;
  } finally {
    const fdputDone = fdput(f);
    if (fdputDone !== RESOLVED) await fdputDone;
  }
}

/** poll(2)'s nfds: the pollfd array's length (0 when it is not an array or reading it faults). */
function pollNfds(fds: unknown): number {
  try {
    return Array.isArray(fds) ? fds.length : 0;
  } catch {
    return 0;
  }
}

/**
 * copy_from_user() of the pollfd array: each entry's fd and events, read once, or null when the
 * array is malformed or reading it faults (an entry that is not an object, a field that is not
 * an integer, a getter that throws: the bad user pointer of the C ABI).
 */
function copyPollFds(fds: unknown): { fd: number; events: number; revents: number }[] | null {
  try {
    if (!Array.isArray(fds)) return null;
    const out: { fd: number; events: number; revents: number }[] = [];
    for (let i = 0; i < fds.length; i++) {
      const v: unknown = fds[i];
      if (v === null || typeof v !== "object") return null;
      const fd: unknown = (v as PollFd).fd;
      const events: unknown = (v as PollFd).events;
      if (!Number.isInteger(fd) || !Number.isInteger(events)) return null;
      out.push({ fd: fd as number, events: events as number, revents: 0 });
    }
    return out;
  } catch {
    return null;
  }
}

/** copy_to_user() of the revents: false when storing one faults (a setter that throws). */
function copyReventsToUser(user: PollFd[], kfds: readonly { revents: number }[]): boolean {
  try {
    for (let i = 0; i < kfds.length; i++) user[i]!.revents = kfds[i]!.revents;
    return true;
  } catch {
    return false;
  }
}

/**
 * Models do_sys_poll(ufds, nfds, end_time) -> do_poll(): polls every fd (do_pollfd()), and
 * while none is ready and the timeout has not passed, sleeps (TASK_INTERRUPTIBLE) until a
 * registered head is woken for a wanted event (or the timeout), then polls again. Writes each
 * fd's `revents` back and returns the number of fds with events, 0 on timeout, -EFAULT for a
 * malformed array, -ERESTARTNOHAND when a pass finds nothing ready and a signal is pending (the
 * check precedes the timeout's: "if (!count) { count = wait->error; if (signal_pending(current))
 * count = -ERESTARTNOHAND; } if (count || timed_out) break;", so even a zero-timeout poll
 * returns it); poll_freewait() and the revents copy happen on that path too. An fd
 * that is not open (EMPTY_FD from fdget()) counts, with EPOLLNVAL (that is not an error).
 * `timeoutNs`: 0 polls once without registering, negative waits forever. More fds than the
 * caller's RLIMIT_NOFILE is -EINVAL, checked before anything is copied ("if (nfds >
 * rlimit(RLIMIT_NOFILE)) return -EINVAL;").
 * Locking: none held on entry; sleeps between passes.
 * References: each registration holds its file until the call returns (poll_freewait()).
 */
export async function doSysPoll(fds: unknown, timeoutNs: number): Promise<number> {
  if (pollNfds(fds) > (currentFiles()?.rlimitNofile ?? INR_OPEN_CUR)) return -EINVAL;
  // copy_from_user()
  const kfds = copyPollFds(fds);
  if (kfds === null) return -EFAULT;
  const user = fds as PollFd[];
  const table = new PollWqueues();
  const pt = table.pt;
  let left = timeoutNs < 0 ? Number.POSITIVE_INFINITY : timeoutNs;
  let timedOut = false;
  // Optimise the no-wait case: no registration at all.
  if (left === 0) {
    pt.qproc = null;
    timedOut = true;
  }
  let count = 0;
  try {
    for (;;) {
      for (const pfd of kfds) {
        pfd.revents = await doPollfd(pfd, pt);
        if (pfd.revents) {
          count++;
          // A ready fd: no need to register the rest.
          pt.qproc = null;
        }
      }
      // Registered on the first pass only.
      pt.qproc = null;
      if (!count && signalPending()) count = -ERESTARTNOHAND;
      if (count || timedOut) break;
      // poll_schedule_timeout(wait, TASK_INTERRUPTIBLE, ...): sleep unless a wakeup arrived
      // since the check (or a signal is pending: schedule() does not sleep then).
      if (!table.triggered) {
        if (left === Number.POSITIVE_INFINITY) {
          await scheduleOn(table.wq, TASK_INTERRUPTIBLE, "poll_schedule_timeout");
        } else {
          const start = now();
          const woken = await scheduleTimeoutOn(
            table.wq,
            left,
            TASK_INTERRUPTIBLE,
            "poll_schedule_timeout",
          );
          left = Math.max(0, left - (now() - start));
          if (!woken) timedOut = true;
        }
      }
      table.triggered = false;
    }
  } finally {
    await table.freewait();
  }
  // copy revents back to userspace
  if (!copyReventsToUser(user, kfds)) return -EFAULT;
  return count;
}

/**
 * Models the poll(2) syscall: see doSysPoll(). -EBADF is never returned for the call (a bad fd
 * is EPOLLNVAL in its revents); -EINVAL for a timeout that is not an integer (1.5, NaN,
 * Infinity: a negative timeout is the way to wait forever) or more fds than RLIMIT_NOFILE;
 * -EFAULT when the pollfd array cannot be read or written back. do_sys_poll()'s
 * -ERESTARTNOHAND becomes -ERESTART_RESTARTBLOCK (set_restart_fn(restart_block,
 * do_restart_poll); the restart block itself is not modeled: only fatal signals exist, and the
 * thread dies before any restart).
 * Locking: none held on entry.
 * References: see doSysPoll().
 */
export async function sysPoll(
  p: SyscallProcess,
  fds: unknown,
  timeoutNs: unknown,
): Promise<number> {
  return syscall(p, "poll", sysPollBody, fds, timeoutNs) as Promise<number>;
}

/** sysPoll()'s body (module-level: see SyscallBody). */
async function sysPollBody(_p: SyscallProcess, fds: unknown, timeoutNs: unknown): Promise<number> {
  if (!Number.isInteger(timeoutNs)) return -EINVAL;
  const ret = await doSysPoll(fds, timeoutNs as number);
  return ret === -ERESTARTNOHAND ? -ERESTART_RESTARTBLOCK : ret;
}
