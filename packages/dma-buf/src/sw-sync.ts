/**
 * sw_sync (drivers/dma-buf/sw_sync.c): a software fence timeline for userspace tests. Opening
 * "/dev/sw_sync" (debugfs "sync/sw_sync" in the kernel) creates a timeline with one fence
 * context; SW_SYNC_IOC_CREATE_FENCE makes a fence (a sync_pt) at a value of it and returns it as
 * a sync_file fd; SW_SYNC_IOC_INC advances the timeline, signalling every point up to the new
 * value. Closing the timeline signals the points left with -ENOENT.
 *
 * References: the timeline (a kref) is held by its file and by each point. The timeline lists
 * its unsignalled points (pt_list, sorted by value) *without* a reference: a point lives as long
 * as someone else (a sync_file, a reservation object, a waiter) holds it, and its release takes
 * it off the list. Signalling takes a reference on each point it signals for the duration.
 * This is what made `dma-buf.fence-cb-without-ref` reachable from userspace: a point whose only
 * holder is a dma-buf's reservation object goes away unsignalled when a later fence replaces it.
 *
 * Version: sync_timeline_signal() as in mainline since commit e531fdb5cd5e ("dma-buf/sw_sync:
 * Avoid recursive lock during fence signal", August 2023, backported to the stable kernels down
 * to 5.4) and still in v6.17: each reached point is moved to a local list with a reference
 * (dma_fence_get()), signalled under the lock, and put after it.
 *
 * Known upstream window (`sw-sync.signal-get-on-zero`, see `listKnownWindows()`): the timeline
 * lists its points without a reference, so sync_timeline_signal() can take dma_fence_get() on a
 * point whose last reference was just dropped and whose timeline_fence_release() has not yet
 * taken the lock to unlink it: a refcount "addition on 0", then a use after free when the
 * release frees it. Posted on dri-devel by Thadeu Lima de Souza Cascardo ("dma-buf/sw_sync: Add
 * a reference when adding fence to timeline list", 2024-03-24, not merged as of v6.17). The
 * model keeps the window; the switch applies a proposed fix (the reference is taken with
 * dma_fence_get_rcu(), kref_get_unless_zero(), and a dying point is left for its release to
 * unlink).
 *
 * Simplifications: the pt_tree (an rbtree keyed by value) is the sorted pt_list itself; no
 * SW_SYNC_GET_DEADLINE; the value is a plain number (u32 wrap-around is not modeled).
 */

import { Kref } from "@primetime/atomics";
import {
  EFAULT,
  EINVAL,
  ENOENT,
  ENOMEM,
  ENOTTY,
  type Errno,
  errPtr,
  type File,
  type FileOperations,
  fdInstall,
  fileOperations,
  getUnusedFdFlags,
  type Inode,
  type IoctlArg,
  isErr,
  Kernel,
  KmemCache,
  kfree,
  kmalloc,
  O_CLOEXEC,
  putUnusedFd,
  SlabObject,
  SpinLock,
} from "@primetime/kernel";
import { defineKnownWindow, point, RESOLVED, toggleEnabled } from "@primetime/sim";
import {
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  type SwSyncCreateFenceData,
  type SwSyncIncData,
} from "@primetime/uapi";
import {
  DmaFence,
  dmaFenceCache,
  dmaFenceContextAlloc,
  dmaFenceFree,
  dmaFenceGet,
  dmaFenceGetRcu,
  dmaFenceInit,
  dmaFenceIsSignaledLocked,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceSignalLocked,
} from "./dma-fence.js";
import { syncFileCreate } from "./sync-file.js";

/** sw_sync's userspace interface, from @primetime/uapi. */
export {
  SW_SYNC_CREATE_FENCE_DATA_SIZE,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SW_SYNC_IOC_MAGIC,
  type SwSyncCreateFenceData,
  type SwSyncIncData,
} from "@primetime/uapi";

/** The node sw_sync registers ("/sys/kernel/debug/sync/sw_sync" in the kernel). */
export const SW_SYNC_PATH = "/dev/sw_sync";

/** The window sync_timeline_signal() opened in e531fdb5cd5e; the switch applies the fix. */
export const SW_SYNC_SIGNAL_GET_ON_ZERO = defineKnownWindow({
  name: "sw-sync.signal-get-on-zero",
  what:
    "SW_SYNC_IOC_INC takes dma_fence_get() on a sync_pt whose last reference was just dropped " +
    "(its sync_file closed) before timeline_fence_release() unlinks it: refcount_t: addition " +
    "on 0; use-after-free, then KASAN use-after-free once the release frees it",
  where:
    "drivers/dma-buf/sw_sync.c: sync_timeline_signal() (dma_fence_get() under obj->lock) vs " +
    "timeline_fence_release() (list_del() under the same lock, after the kref reached 0)",
  since: "dma-buf/sw_sync: Avoid recursive lock during fence signal",
  sinceCommit: "e531fdb5cd5ee2564b7fe10c8a9219e2b2fac61e",
  kernels:
    "mainline since August 2023 (v6.5 cycle) and the stable kernels it was backported to " +
    "(5.4 onwards); still present in v6.17",
  proposedFix:
    "take the temporary reference with dma_fence_get_rcu() (kref_get_unless_zero()) and leave " +
    "a point that is being released to timeline_fence_release() (proposed here); the posted " +
    'alternative is "dma-buf/sw_sync: Add a reference when adding fence to timeline list" ' +
    "(Cascardo, dri-devel 2024-03-24, not merged)",
  patch: "20240324101533.3271056-1-cascardo@igalia.com",
  foundBy:
    "sw-sync.test.ts (close a fence's sync_file while another thread does SW_SYNC_IOC_INC), " +
    "@primetime/fuzz `windows`",
});

/**
 * The window sw_sync_debugfs_release() has had since signal callbacks began to drop fence
 * references; the switch applies the fix proposed here.
 */
export const SW_SYNC_RELEASE_SIGNAL_WITHOUT_REF = defineKnownWindow({
  name: "sw-sync.release-signal-without-ref",
  what:
    "closing the sw_sync timeline's file signals every listed sync_pt under obj->lock without " +
    "holding a reference to it; a signal callback that drops the point's last reference " +
    "(dma_buf_poll_cb()'s dma_fence_put() of the reference dma_buf_poll() took) runs " +
    "timeline_fence_release(), which takes the same obj->lock: WARNING: possible recursive " +
    "locking detected, and the task spins on its own lock (a self-deadlock)",
  where:
    "drivers/dma-buf/sw_sync.c: sw_sync_debugfs_release() (dma_fence_signal_locked() under " +
    "obj->lock, no reference held) vs timeline_fence_release() (spin_lock_irqsave(fence->lock)); " +
    "sync_timeline_signal() holds a reference across the signal since e531fdb5cd5e, the release " +
    "path does not",
  since: "dma-buf: fix and rework dma_buf_poll v7 (the poll callback drops a fence reference)",
  sinceCommit: "6b51b02a3a0a",
  kernels:
    "v5.16 onwards through the dma-buf poll callback (dma_fence_chain_cb() drops the signalled " +
    "fence's reference too, since 7bf60c52e093 'dma-buf: add new dma_fence_chain container v7', " +
    "v5.2); still present in " +
    "the sw_sync.c this model follows",
  proposedFix:
    "take a reference on each listed point (dma_fence_get_rcu(), skipping one already being " +
    "released) before signalling it in sw_sync_debugfs_release(), and drop them after " +
    "spin_unlock_irq(), as sync_timeline_signal() does (proposed here; no posted patch known)",
  foundBy:
    "sw-sync.test.ts (a poller's callback holds the last reference when the timeline is " +
    "closed); found by a 100,000-schedule @primetime/fuzz baseline campaign on vgem (2 schedules)",
});

const INT_MAX = 0x7fffffff;
const U32_MAX = 0xffffffff;

/** The slab caches of timelines and points. */
export const syncTimelineCache = new KmemCache("sync_timeline");

/**
 * Models struct sync_timeline.
 * Locking: `value` and `ptList` are protected by `lock` (which is also every point's fence
 * lock).
 * References: `kref` counts the file and the points; `ptList` holds none.
 */
export class SyncTimeline extends SlabObject {
  readonly kref: Kref;
  /** Models obj->lock. */
  readonly lock: SpinLock;
  /** Models obj->context. */
  context = 0;
  /** Models obj->value: the last signalled value. */
  value = 0;
  /** Models obj->name (the opener's comm). */
  timelineName = "";
  /** Models obj->pt_list (and pt_tree): the unsignalled points, by increasing value. */
  readonly ptList: SyncPt[] = [];

  constructor() {
    super();
    this.kref = new Kref(this);
    this.lock = new SpinLock("sync_timeline_lock", { owner: this });
  }
}

/**
 * Models struct sync_pt: a fence on a timeline.
 * Locking: `linked` (list membership) is protected by the timeline lock.
 * References: holds one on its timeline, dropped at release.
 */
export class SyncPt extends DmaFence {
  /** !list_empty(&pt->link): the point is on its timeline's pt_list. */
  linked = false;

  constructor(readonly parent: SyncTimeline) {
    super(dmaFenceCache);
  }
}

const timelineFenceOps = {
  getDriverName: () => "sw_sync",
  getTimelineName: (f: DmaFence) => (f as SyncPt).parent.timelineName,
  signaled: (f: DmaFence) => timelineFenceSignaled(f as SyncPt),
  release: (f: DmaFence) => timelineFenceRelease(f as SyncPt),
};

/**
 * Models timeline_fence_signaled(): the point's value has been reached.
 * Locking: none needed: one read of the timeline's value (dma_fence_is_signaled() calls it
 * without the fence lock).
 */
function timelineFenceSignaled(pt: SyncPt): boolean {
  return pt.seqno <= pt.parent.value;
}

/**
 * Models sync_timeline_create(name): a new timeline with a fresh fence context, or null.
 * References: returns it with one reference (the file's).
 */
async function syncTimelineCreate(name: string): Promise<SyncTimeline | null> {
  const obj = kmalloc(syncTimelineCache, () => new SyncTimeline());
  if (isErr(obj)) return null;
  obj.kref.init();
  obj.context = dmaFenceContextAlloc(1);
  obj.timelineName = name;
  return obj;
}

/** Models sync_timeline_put(): the last one frees the timeline (sync_timeline_free()). */
async function syncTimelinePut(obj: SyncTimeline): Promise<void> {
  await obj.kref.put(async () => {
    kfree(obj);
  });
}

/**
 * Models timeline_fence_release(), the points' ->release: takes the point off its timeline's
 * list if it is still there, drops the timeline and frees the fence.
 * Locking: takes the timeline lock.
 * References: drops the point's timeline reference.
 */
async function timelineFenceRelease(pt: SyncPt): Promise<void> {
  const parent = pt.parent;
  const lockTaken = parent.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  if (pt.linked) {
    parent.ptList.splice(parent.ptList.indexOf(pt), 1);
    pt.linked = false;
  }
  parent.lock.unlockNow();
  await syncTimelinePut(parent);
  await dmaFenceFree(pt);
}

/**
 * Models sync_timeline_signal(obj, inc): advances the timeline by `inc` and signals, in order,
 * the points now reached; each is taken off the list with a reference held across its signal.
 * The list holds no reference, so the dma_fence_get() races with a point's last put (the known
 * window `sw-sync.signal-get-on-zero`); with its fix switch on, the reference is taken with
 * dma_fence_get_rcu() and a point already being released is left on the list for
 * timeline_fence_release() to unlink.
 * Locking: takes the timeline lock; callbacks run under it.
 * References: a temporary one on each signalled point, dropped after the lock.
 */
async function syncTimelineSignal(obj: SyncTimeline, inc: number): Promise<void> {
  const signalled: SyncPt[] = [];
  const fixed = toggleEnabled(SW_SYNC_SIGNAL_GET_ON_ZERO.name);
  const lockTaken2 = obj.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  obj.value += inc;
  let i = 0;
  while (i < obj.ptList.length) {
    const pt = obj.ptList[i]!;
    if (!timelineFenceSignaled(pt)) break;
    if (fixed) {
      if (!(await dmaFenceGetRcu(pt))) {
        i++;
        continue;
      }
    } else {
      await dmaFenceGet(pt);
    }
    obj.ptList.splice(i, 1);
    pt.linked = false;
    signalled.push(pt);
    await dmaFenceSignalLocked(pt);
  }
  obj.lock.unlockNow();
  for (const pt of signalled) await dmaFencePut(pt);
}

/**
 * Models sync_pt_create(obj, value): a point at `value`, listed if not yet reached. A listed
 * point at the same value is reused when it can still be referenced (dma_fence_get_rcu()): the
 * new one is freed unpublished.
 * Returns null on an allocation failure.
 * Locking: takes the timeline lock.
 * References: returns one, the caller's; the point takes one on the timeline.
 */
async function syncPtCreate(obj: SyncTimeline, value: number): Promise<SyncPt | null> {
  const pt = kmalloc(dmaFenceCache, () => new SyncPt(obj));
  if (isErr(pt)) return null;
  const getDone = obj.kref.get();
  if (getDone !== RESOLVED) await getDone;
  dmaFenceInit(pt, timelineFenceOps, obj.lock, obj.context, value);
  const lockTaken3 = obj.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  if (!(await dmaFenceIsSignaledLocked(pt))) {
    let i = 0;
    for (; i < obj.ptList.length; i++) {
      const other = obj.ptList[i]!;
      if (other.seqno < value) continue;
      if (other.seqno > value) break;
      if (await dmaFenceGetRcu(other)) {
        obj.lock.unlockNow();
        // The kernel frees it under the lock; here after, as the freed fence points at the
        // held lock (lockdep's held-lock-freed check would flag it).
        await syncTimelinePut(obj);
        kfree(pt);
        return other;
      }
    }
    obj.ptList.splice(i, 0, pt);
    pt.linked = true;
  }
  obj.lock.unlockNow();
  return pt;
}

/**
 * Models sw_sync_debugfs_open(), the node's ->open: a new timeline named after the opener.
 * Locking: may sleep.
 * References: the file holds the timeline's first reference.
 */
async function swSyncOpen(_inode: Inode, file: File): Promise<number> {
  const obj = await syncTimelineCreate("sw_sync");
  if (!obj) return -ENOMEM;
  file.privateData = obj;
  return 0;
}

/**
 * Models sw_sync_debugfs_release(), the node's ->release: signals every point still listed with
 * -ENOENT, then drops the file's timeline reference. The list holds no reference, so a callback
 * dropping a point's last one releases it under the timeline lock (the known window
 * `sw-sync.release-signal-without-ref`); with its fix switch on, each point is referenced
 * (dma_fence_get_rcu(); one already being released is skipped) across its signal and put after
 * the lock.
 * Locking: takes the timeline lock; callbacks run under it.
 * References: drops the file's; with the fix switch, a temporary one on each signalled point.
 */
async function swSyncRelease(file: File): Promise<number> {
  const obj = file.privateData as SyncTimeline;
  const fixed = toggleEnabled(SW_SYNC_RELEASE_SIGNAL_WITHOUT_REF.name);
  const held: SyncPt[] = [];
  const lockTaken4 = obj.lock.lock();
  if (lockTaken4 !== RESOLVED) await lockTaken4;
  for (const pt of [...obj.ptList]) {
    if (fixed) {
      if (!(await dmaFenceGetRcu(pt))) continue;
      held.push(pt);
    }
    dmaFenceSetError(pt, -ENOENT);
    await dmaFenceSignalLocked(pt);
  }
  obj.lock.unlockNow();
  for (const pt of held) await dmaFencePut(pt);
  await syncTimelinePut(obj);
  return 0;
}

/**
 * Models sw_sync_ioctl_create_fence(): a point at `value` wrapped in a sync_file installed at a
 * new O_CLOEXEC fd, returned in `fence`. -EFAULT for a bad argument, the fd allocation's errno,
 * -ENOMEM.
 * Locking: takes the fd table's and the timeline's locks.
 * References: the sync_file holds the point; the fd holds the sync_file's file.
 */
async function swSyncIoctlCreateFence(obj: SyncTimeline, arg: IoctlArg): Promise<number> {
  const fd = await getUnusedFdFlags(O_CLOEXEC);
  if (fd < 0) return fd;
  const data = arg as SwSyncCreateFenceData;
  if (
    arg === null ||
    typeof arg !== "object" ||
    !Number.isInteger(data.value) ||
    data.value < 0 ||
    data.value > U32_MAX
  ) {
    await putUnusedFd(fd);
    return -EFAULT;
  }
  const pt = await syncPtCreate(obj, data.value);
  if (!pt) {
    await putUnusedFd(fd);
    return -ENOMEM;
  }
  const syncFile = await syncFileCreate(pt);
  const dmaFencePutDone = dmaFencePut(pt);
  if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  if (!syncFile) {
    await putUnusedFd(fd);
    return -ENOMEM;
  }
  data.fence = fd;
  const fdInstallDone = fdInstall(fd, syncFile.file!);
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  return 0;
}

/**
 * Models sw_sync_ioctl_inc(): advances the timeline by `value` (in steps of at most INT_MAX).
 * Locking: takes the timeline lock.
 * References: see syncTimelineSignal().
 */
async function swSyncIoctlInc(obj: SyncTimeline, arg: IoctlArg): Promise<number> {
  const value =
    typeof arg === "number"
      ? arg
      : arg && typeof arg === "object"
        ? (arg as SwSyncIncData).value
        : NaN;
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) return -EFAULT;
  let left = value;
  while (left > INT_MAX) {
    await syncTimelineSignal(obj, INT_MAX);
    left -= INT_MAX;
  }
  await syncTimelineSignal(obj, left);
  return 0;
}

/**
 * Models sw_sync_ioctl(): CREATE_FENCE and INC; anything else is -ENOTTY.
 * References: the caller holds the file.
 */
async function swSyncIoctl(file: File, cmd: number, arg: IoctlArg): Promise<number> {
  const obj = file.privateData as SyncTimeline;
  await point(`sw_sync_ioctl(${obj.name})`);
  if (cmd === SW_SYNC_IOC_CREATE_FENCE) return swSyncIoctlCreateFence(obj, arg);
  if (cmd === SW_SYNC_IOC_INC) return swSyncIoctlInc(obj, arg);
  return -ENOTTY;
}

/** Models sw_sync_debugfs_fops. */
export const swSyncFops: FileOperations = fileOperations({
  owner: "sw_sync",
  open: (inode, file) => swSyncOpen(inode, file),
  release: (_inode, file) => swSyncRelease(file),
  unlockedIoctl: (file, cmd, arg) => swSyncIoctl(file, cmd, arg),
});

/**
 * Registers sw_sync's node (SW_SYNC_PATH) on `kernel` (default: the running simulation's), as
 * sync_debugfs_init() creates it. Returns the inode or -EEXIST, -EINVAL.
 */
export function registerSwSync(kernel: Kernel | null = Kernel.current()): Inode | Errno {
  if (!kernel) return errPtr(EINVAL);
  return kernel.registerChrdev(SW_SYNC_PATH, swSyncFops);
}
