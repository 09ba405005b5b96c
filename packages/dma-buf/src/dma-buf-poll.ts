/**
 * Implicit fence polling on a dma-buf (drivers/dma-buf/dma-buf.c: dma_buf_poll(),
 * dma_buf_poll_add_cb(), dma_buf_poll_cb()): poll() on a dma-buf fd reports EPOLLIN once the
 * buffer's writers are done and EPOLLOUT once its readers and writers are done.
 *
 * Each direction has one callback slot in the dma-buf (cb_in, cb_out) with an `active` mask.
 * dma_buf_poll() arms a slot that is idle: under the reservation lock it walks the fences the
 * direction waits for and queues the slot's callback on the first unsignalled one; the event is
 * not ready until that callback fires, wakes the pollers and disarms the slot. While armed, the
 * slot keeps two references: one on the dma-buf's file (so the dma-buf cannot be released under
 * a pending callback) and one on the fence it is queued on (since "dma-buf: fix and rework
 * dma_buf_poll v7"), both dropped by the callback.
 *
 * Historic bug `dma-buf.fence-cb-without-ref`: before that fix, dma_buf_poll() took the fence
 * with dma_fence_get_rcu(), queued the callback and dropped the reference at once, relying on
 * the fence's creator to keep it alive until it signals. A fence whose last other reference goes
 * away while unsignalled (replaced in the reservation object, dropped by a timeline that holds
 * none) is then released with the poll callback still queued: dma_fence_release() warns
 * "released with pending signals!" and force-signals it, and any later look at the fence
 * through the callback is a use-after-free.
 *
 * The file's ->poll is dmaBufPollFop(), so userspace reaches this through poll(2) on a dma-buf
 * fd (@primetime/kernel poll.ts). `dmaBufPollWait()` plays the part of poll(2)/do_poll() for one
 * dma-buf file from kernel-level tests: it registers on the dma-buf's poll wait queue, then calls
 * ->poll until an event is ready or the timeout passes.
 *
 * epoll reaches dma_buf_poll() too (@primetime/kernel eventpoll.ts): its epitem hooks an entry
 * with its own wake function (ep_poll_callback()) on the dma-buf's wait queue, and re-polls the
 * file from epoll_wait() through a pointer that holds no reference (see the historic toggle
 * `epoll.item-poll-without-ref` there: this file's get_file() is what it resurrects).
 *
 * Simplifications: one poll table entry per waiter; no EPOLLPRI; the wakeup key filters which
 * waiters wake, as the kernel's poll wakeup does.
 */

import { RESOLVED } from "@primetime/atomics";
import {
  type File,
  fput,
  getFile,
  lockdepAssertHeld,
  type PollTable,
  type PollTableEntry,
  pollRequestedEvents,
  pollWait,
  SpinLock,
} from "@primetime/kernel";
import { rcuDereferenceProtectedSettled } from "@primetime/rcu";
import { defineToggle, now, opLabel, point, toggleEnabled, WaitQueue } from "@primetime/sim";
import type { DmaBuf } from "./dma-buf.js";
import {
  type DmaFence,
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFenceGetSettled,
  dmaFencePut,
} from "./dma-fence.js";
import {
  type DmaResv,
  dmaResvAssertHeld,
  dmaResvLock,
  dmaResvUnlock,
  dmaResvUsageRw,
} from "./dma-resv.js";

/** Models EPOLLIN: readable (the writers are done). */
export const EPOLLIN = 0x001;
/** Models EPOLLOUT: writable (readers and writers are done). */
export const EPOLLOUT = 0x004;
/** Models EPOLLERR. */
export const EPOLLERR = 0x008;
/** Models EPOLLHUP. */
export const EPOLLHUP = 0x010;

/** The historic bug: see the file comment. */
export const FENCE_CB_WITHOUT_REF = defineToggle({
  name: "dma-buf.fence-cb-without-ref",
  description:
    "dma_buf_poll() queues its fence callback without keeping a fence reference (get_rcu, add_callback, put): the fence can be released with the callback pending. " +
    "The toggle puts that back into the current dma_buf_poll(); the harness reaches it through DMA_BUF_IOCTL_IMPORT_SYNC_FILE (v6.0), a path of later kernels. " +
    "With the fences userspace could attach in v3.17-v5.15 through vgem (VGEM_FENCE_ATTACH replacing the exclusive fence), the missing reference was harmless: " +
    "vgem keeps every fence in its fence idr until it signals it (VGEM_FENCE_SIGNAL, its timeout, or the file's close), so such a fence never dies unsignalled; " +
    "the bug needed a driver fence that can be freed unsignalled (vgem_basic/dmabuf-fence stays clean with the toggle on).",
  fixedBy: "dma-buf: fix and rework dma_buf_poll v7",
  kind: "historic",
  commit: "6b51b02a3a0a",
  kernels: "v3.17-v5.15 (fixed in v5.16 and the stable kernels)",
});

/**
 * One poller registered on a dma-buf's wait queue (struct poll_table_entry): the kernel's
 * poll(2) entries (see @primetime/kernel poll.ts) and dmaBufPollWait()'s.
 */
export type PollEntry = PollTableEntry;

/**
 * Models dmabuf->poll, a wait_queue_head_t: its lock (which also guards the callback slots'
 * `active` masks) and the registered pollers.
 */
export class PollHead {
  /** Models dmabuf->poll.lock. */
  readonly lock: SpinLock;
  readonly entries = new Set<PollEntry>();

  constructor(owner: DmaBuf) {
    this.lock = new SpinLock("dmabuf_poll_lock", { owner });
  }
}

/**
 * Models struct dma_buf_poll_cb_t: a fence callback slot of a dma-buf.
 * Locking: `active` is protected by the dma-buf's poll lock.
 * References: while armed (active != 0 and queued), a reference on the dma-buf's file and, with
 * the fix, on the fence it is queued on.
 */
export class DmaBufPollCb extends DmaFenceCb {
  /** Models dcb->active: the events this slot will report when it fires (0: idle). */
  active = 0;

  constructor(
    readonly dmabuf: DmaBuf,
    label: string,
  ) {
    super(`dma_buf_poll_cb(${label})`);
  }
}

/**
 * Models wake_up_locked_poll(wq, key): marks and wakes every poller waiting for an event in
 * `key`.
 * Locking: the poll lock must be held.
 * References: none.
 */
function wakeUpLockedPoll(head: PollHead, key: number): void {
  lockdepAssertHeld(head.lock);
  for (const e of head.entries) {
    // A waiter with its own wake function (epoll's ep_poll_callback()) filters the key itself.
    if (e.func) {
      e.func(key);
      continue;
    }
    if (!(e.events & key)) continue;
    e.triggered = true;
    e.wq.wakeAll();
  }
}

/**
 * Models dma_buf_poll_cb(): the slot's fence callback (also called directly with no fence when
 * nothing was queued): wakes the pollers of the slot's events, disarms it, then drops the fence
 * reference the slot held and the file reference dma_buf_poll() took.
 * Locking: runs under the fence lock when called by a signal; takes the poll lock.
 * References: drops the slot's fence reference (none under the historic bug) and file reference.
 */
export async function dmaBufPollCb(fence: DmaFence | null, cb: DmaFenceCb): Promise<void> {
  // Each await is skipped when its promise came back settled (the task went on at its point):
  // the same schedule, no promise hop (see pointNow() in @primetime/sim).
  const dcb = cb as DmaBufPollCb;
  const dmabuf = dcb.dmabuf;
  const locked = dmabuf.poll.lock.lock();
  if (locked !== RESOLVED) await locked;
  wakeUpLockedPoll(dmabuf.poll, dcb.active);
  dcb.active = 0;
  const unlocked = dmabuf.poll.lock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
  if (!toggleEnabled(FENCE_CB_WITHOUT_REF.name)) {
    const put = dmaFencePut(fence);
    if (put !== RESOLVED) await put;
  }
  // Paired with get_file() in dma_buf_poll().
  const fputDone = fput(dmabuf.file!);
  if (fputDone !== RESOLVED) await fputDone;
}

/**
 * Models dma_buf_poll_add_cb(resv, write, dcb): queues the slot's callback on the first fence
 * of the usage `write` waits for that has not signalled. True if it is queued.
 * Locking: the reservation lock must be held.
 * References: takes one on the fence it queues on, kept until the callback runs (under the
 * historic bug: dropped at once).
 */
async function dmaBufPollAddCb(resv: DmaResv, write: boolean, dcb: DmaBufPollCb): Promise<boolean> {
  // dma_resv_for_each_fence() written out (what dmaResvForEachFence() does, with the same
  // points and checks): no async generator, whose steps cost promises and result objects.
  const usage = dmaResvUsageRw(write);
  dmaResvAssertHeld(resv);
  const fences = rcuDereferenceProtectedSettled(resv.fences, resv.heldCond);
  for (let i = 0; fences && i < fences.numFences; i++) {
    dmaResvAssertHeld(resv);
    const e = fences.table[i]!;
    if (e.usage > usage) continue;
    const fence = e.fence;
    const got = dmaFenceGetSettled(fence);
    if (got !== RESOLVED) await got;
    const r = await dmaFenceAddCallback(fence, dcb, dmaBufPollCb);
    if (!r) {
      // The historic code: "if (!dma_fence_add_callback(...)) dma_fence_put(fence);"
      if (toggleEnabled(FENCE_CB_WITHOUT_REF.name)) await dmaFencePut(fence);
      return true;
    }
    const put = dmaFencePut(fence);
    if (put !== RESOLVED) await put;
  }
  return false;
}

/**
 * Arms one direction: see dmaBufPoll(). Returns the events still to report now.
 */
async function pollDirection(
  dmabuf: DmaBuf,
  events: number,
  bit: number,
  dcb: DmaBufPollCb,
  write: boolean,
): Promise<number> {
  // Check that the callback isn't busy.
  const locked = dmabuf.poll.lock.lock();
  if (locked !== RESOLVED) await locked;
  if (dcb.active) events &= ~bit;
  else dcb.active = bit;
  const unlocked = dmabuf.poll.lock.unlock();
  if (unlocked !== RESOLVED) await unlocked;
  if (events & bit) {
    // Paired with fput() in dma_buf_poll_cb().
    await getFile(dmabuf.file!);
    if (!(await dmaBufPollAddCb(dmabuf.resv, write, dcb)))
      // No callback queued: wake up any other waiters.
      await dmaBufPollCb(null, dcb);
    else events &= ~bit;
  }
  return events;
}

/**
 * Models dma_buf_poll(file, poll_table), the file's ->poll: the requested events among
 * EPOLLIN/EPOLLOUT that are ready now. An event whose slot is idle gets its callback queued on
 * the first pending fence (then it is not ready); with nothing pending the event is ready and the
 * slot's waiters are woken. An event whose slot is armed is not ready. EPOLLERR for a file
 * without a dma-buf.
 * Locking: takes the reservation lock, the poll lock, fence locks; may sleep.
 * References: an armed slot holds a file reference and a fence reference (see the file comment).
 */
export async function dmaBufPoll(file: File, requested: number): Promise<number> {
  const dmabuf = file.privateData as DmaBuf | null;
  if (!dmabuf?.resv) return EPOLLERR;
  let events = requested & (EPOLLIN | EPOLLOUT);
  if (!events) return 0;
  const resv = dmabuf.resv;
  await dmaResvLock(resv);
  if (events & EPOLLOUT) events = await pollDirection(dmabuf, events, EPOLLOUT, dmabuf.cbOut, true);
  if (events & EPOLLIN) events = await pollDirection(dmabuf, events, EPOLLIN, dmabuf.cbIn, false);
  const dmaResvUnlockDone = dmaResvUnlock(resv);
  if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
  return events;
}

/**
 * Models dma_buf_poll(file, poll) as the file's ->poll for poll(2): EPOLLERR without a dma-buf or
 * reservation object, else registers the poller on the dma-buf's wait queue (poll_wait()) and
 * reports the events of poll_requested_events() that are ready (dmaBufPoll()).
 * Locking: see dmaBufPoll().
 * References: the poll table's registration holds the file (see @primetime/kernel poll.ts); an
 * armed slot holds what dmaBufPoll() says.
 */
export async function dmaBufPollFop(file: File, pt: PollTable | null): Promise<number> {
  const dmabuf = file.privateData as DmaBuf | null;
  if (!dmabuf?.resv) return EPOLLERR;
  await pollWait(file, dmabuf.poll, pt);
  return dmaBufPoll(file, pollRequestedEvents(pt));
}

/**
 * poll(2) on one dma-buf file (do_sys_poll() -> do_poll()): registers on the dma-buf's wait
 * queue (poll_wait()), then asks ->poll until an event is ready, sleeping between tries until
 * woken or `timeout` ns of virtual time pass (MAX_SCHEDULE_TIMEOUT: no timeout; 0: one try).
 * Returns the ready events, or 0 on timeout.
 * Locking: may sleep; no locks held.
 * References: the caller holds the file (an fd's fdget()).
 */
export async function dmaBufPollWait(
  file: File,
  requested: number,
  timeout: number,
): Promise<number> {
  const dmabuf = file.privateData as DmaBuf | null;
  if (!dmabuf) return EPOLLERR;
  const entry: PollEntry = {
    events: requested | EPOLLERR | EPOLLHUP,
    triggered: false,
    wq: new WaitQueue(`poll(${dmabuf.name})`),
  };
  await point(opLabel("poll_wait", dmabuf.name));
  dmabuf.poll.entries.add(entry);
  let left = timeout;
  let mask = 0;
  for (;;) {
    mask = await dmaBufPoll(file, requested);
    if (mask || left <= 0) break;
    // poll_schedule_timeout(): sleep unless a wakeup arrived since the check.
    if (!entry.triggered) {
      if (left >= Number.MAX_SAFE_INTEGER) {
        await entry.wq.wait(`poll(${dmabuf.name})`);
      } else {
        const start = now();
        const woken = await entry.wq.waitTimeout(left, `poll(${dmabuf.name})`);
        left = woken ? Math.max(0, left - (now() - start)) : 0;
      }
    }
    entry.triggered = false;
  }
  // poll_freewait()
  dmabuf.poll.entries.delete(entry);
  return mask;
}
