/**
 * vgem's fences (drivers/gpu/drm/vgem/vgem_fence.c): userspace attaches an unsignalled fence to
 * an object's reservation, which every holder of the buffer (an importer, a poller of the
 * dma-buf) sees as work in flight, and signals it later by its id. A fence nobody signals
 * expires after VGEM_FENCE_TIMEOUT, so a crashed client cannot hang the consumers forever.
 *
 * What a driver must provide, shown here: per-file state created in ->open and torn down in
 * ->postclose (the fence idr and its mutex), fences with their own ops and lock, and ioctls that
 * validate every field before touching anything, returning the kernel's errno.
 *
 * Who holds what: each fence starts with one reference (vgem_fence_create()), which the file's
 * fence idr takes over; the object's reservation takes its own (dma_resv_add_fence()). SIGNAL
 * removes the fence from the idr, signals it and drops the idr's reference; ->postclose does the
 * same for every fence still in the idr. The timeout timer holds no reference: the fence's
 * release stops it (timer_delete_sync()) before freeing the fence.
 */

import {
  DmaFence,
  type DmaFenceOps,
  DmaResvUsage,
  dmaFenceContextAlloc,
  dmaFenceFree,
  dmaFenceInit,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvTestSignaled,
  dmaResvUnlock,
  dmaResvUsageRw,
} from "@primetime/dma-buf";
import { type DrmDevice, type DrmFile, drmGemObjectLookup, drmGemObjectPut } from "@primetime/gem";
import {
  EBUSY,
  EINVAL,
  ENOENT,
  ENOMEM,
  ETIMEDOUT,
  Idr,
  isErr,
  KmemCache,
  kmalloc,
  Mutex,
  SpinLock,
} from "@primetime/kernel";
import {
  currentSimulation,
  opLabel,
  point,
  RESOLVED,
  type Task,
  type Timer,
  yieldCpu,
} from "@primetime/sim";
import { type DrmVgemFenceAttach, type DrmVgemFenceSignal, VGEM_FENCE_WRITE } from "./vgem-uapi.js";

/** Models VGEM_FENCE_TIMEOUT (10 * HZ): 10 s of virtual time, in ns. */
export const VGEM_FENCE_TIMEOUT = 10_000_000_000;

/** The slab cache of struct vgem_fence. */
export const vgemFenceCache = new KmemCache("vgem_fence");

/**
 * Models struct vgem_file: vgem's per-file state (file->driver_priv).
 *
 * Locking: `fenceMutex` protects `fenceIdr`.
 * References: the idr holds one reference on each fence in it.
 */
export interface VgemFile {
  readonly fenceMutex: Mutex;
  readonly fenceIdr: Idr<DmaFence>;
}

/**
 * Models struct vgem_fence: a dma_fence with its own lock (a timeline of one fence) and the
 * timeout timer.
 *
 * Locking: `lock` is the fence lock; the timer fields change in the timer's own context or under
 * timer_delete_sync().
 * References: see the file comment.
 */
export class VgemFence extends DmaFence {
  /** Models vgem_fence.lock. */
  readonly spin = new SpinLock("vgem_fence.lock");
  /** Models the armed timer_list (null once it fired or was deleted). */
  timer: Timer | null = null;
  /** The timer handler while it runs (a task in interrupt context). */
  handler: Task | null = null;

  constructor() {
    super(vgemFenceCache);
  }
}

/**
 * Models vgem_fence_release(): the fence's ->release, at its last dma_fence_put(): stops the
 * timer (waiting for a running handler), then dma_fence_free() (kfree_rcu).
 * Locking: any context; never sleeps (the irq-safe timer's delete spins).
 * References: consumes the fence.
 */
async function vgemFenceRelease(base: DmaFence): Promise<void> {
  const fence = base as VgemFence;
  await timerDeleteSync(fence);
  await dmaFenceFree(fence);
}

/** Models vgem_fence_ops. */
const vgemFenceOps: DmaFenceOps = {
  getDriverName: () => "vgem",
  getTimelineName: () => "unbound",
  release: vgemFenceRelease,
};

/**
 * Models timer_setup() + mod_timer() of a TIMER_IRQSAFE timer: after `delay` ns of virtual time
 * the handler runs as an interrupt-context task and signals the fence (vgem_fence_timeout()).
 * Outside a simulation there is no clock and the timer never fires.
 * Locking: none; the handler takes the fence lock.
 * References: none: the timer does not hold the fence (its release deletes the timer).
 */
function modTimer(fence: VgemFence, delay: number): void {
  const sim = currentSimulation();
  if (sim === null) return;
  fence.timer = sim.addTimer(delay, () => {
    fence.timer = null;
    fence.handler = sim.spawn(
      `vgem_fence_timeout(${fence.name})`,
      async () => {
        // Models vgem_fence_timeout(): the timer holds no reference; release waits for us.
        await dmaFenceSignal(fence);
        fence.handler = null;
      },
      { kind: "irq" },
    );
  });
}

/**
 * Models timer_delete_sync() of an irq-safe timer: disarms it and, if the handler is running,
 * spins until it returns (it never sleeps, so it may be called from any context).
 * Locking: must not be called from the handler itself (it would spin forever, as in the kernel).
 * References: none.
 */
async function timerDeleteSync(fence: VgemFence): Promise<void> {
  await point(opLabel("timer_delete_sync", fence.name));
  fence.timer?.cancel();
  fence.timer = null;
  while (fence.handler !== null && !fence.handler.exited)
    await yieldCpu(`timer_delete_sync(${fence.name}) waits for the handler`);
}

/**
 * Models vgem_fence_create(): a new unsignalled fence on its own context, with its timeout
 * armed. null on allocation failure.
 * Locking: none. References: the caller owns the fence's one reference.
 */
async function vgemFenceCreate(_vfile: VgemFile, _flags: number): Promise<VgemFence | null> {
  await point("vgem_fence_create");
  const fence = kmalloc(vgemFenceCache, () => new VgemFence());
  if (isErr(fence)) return null;
  dmaFenceInit(fence, vgemFenceOps, fence.spin, dmaFenceContextAlloc(1), 1);
  // We force the fence to expire within 10s to prevent driver hangs.
  modTimer(fence, VGEM_FENCE_TIMEOUT);
  return fence;
}

/**
 * Models vgem_fence_attach_ioctl() (DRM_IOCTL_VGEM_FENCE_ATTACH): creates a fence and adds it
 * to the object's reservation, as a write fence with VGEM_FENCE_WRITE, else a read fence; its id
 * is returned in `out_fence`. -EINVAL for unknown flags or a non-zero pad, -ENOENT for a bad
 * handle, -EBUSY if a conflicting fence is unsignalled (any fence for a write, a write fence for
 * a read), -ENOMEM. On failure the new fence is signalled and dropped.
 *
 * Locking: takes the reservation lock, then fence_mutex (never both).
 * References: the lookup reference on the object, dropped; the idr keeps the fence's creation
 * reference, the reservation takes its own.
 */
export async function vgemFenceAttachIoctl(
  _dev: DrmDevice,
  arg: DrmVgemFenceAttach,
  file: DrmFile,
): Promise<number> {
  const vfile = file.driverPriv as VgemFile;
  if (arg.flags & ~VGEM_FENCE_WRITE) return -EINVAL;
  if (arg.pad) return -EINVAL;
  const obj = await drmGemObjectLookup(file, arg.handle);
  if (!obj) return -ENOENT;
  let ret: number;
  const fence = await vgemFenceCreate(vfile, arg.flags);
  if (!fence) {
    ret = -ENOMEM;
  } else {
    // Check for a conflicting fence.
    const resv = obj.resv;
    const usage = dmaResvUsageRw((arg.flags & VGEM_FENCE_WRITE) !== 0);
    if (!(await dmaResvTestSignaled(resv, usage))) {
      ret = -EBUSY;
    } else {
      // Expose the fence via the dma-buf.
      await dmaResvLock(resv);
      ret = await dmaResvReserveFences(resv, 1);
      if (!ret) {
        await dmaResvAddFence(
          resv,
          fence,
          arg.flags & VGEM_FENCE_WRITE ? DmaResvUsage.WRITE : DmaResvUsage.READ,
        );
      }
      const dmaResvUnlockDone = dmaResvUnlock(resv);
      if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
      // Record the fence in our idr for later signaling.
      if (ret === 0) {
        const fenceMutexTaken = vfile.fenceMutex.lock();
        if (fenceMutexTaken !== RESOLVED) await fenceMutexTaken;
        ret = await vfile.fenceIdr.alloc(fence, 1, 0);
        vfile.fenceMutex.unlockNow();
        if (ret > 0) {
          arg.out_fence = ret;
          ret = 0;
        }
      }
    }
    if (ret) {
      await dmaFenceSignal(fence);
      const dmaFencePutDone = dmaFencePut(fence);
      if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
    }
  }
  const drmGemObjectPutDone = drmGemObjectPut(obj);
  if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
  return ret;
}

/**
 * Models vgem_fence_signal_ioctl() (DRM_IOCTL_VGEM_FENCE_SIGNAL): signals and consumes the fence
 * `arg.fence`. -EINVAL for non-zero flags, -ENOENT for an unknown id (or one already signalled
 * through this ioctl), -ETIMEDOUT if the fence had already expired (it is consumed all the same).
 *
 * Locking: takes fence_mutex around the idr update only.
 * References: drops the idr's reference on the fence.
 */
export async function vgemFenceSignalIoctl(
  _dev: DrmDevice,
  arg: DrmVgemFenceSignal,
  file: DrmFile,
): Promise<number> {
  const vfile = file.driverPriv as VgemFile;
  let ret = 0;
  if (arg.flags) return -EINVAL;
  const fenceMutexTaken2 = vfile.fenceMutex.lock();
  if (fenceMutexTaken2 !== RESOLVED) await fenceMutexTaken2;
  const fence = await vfile.fenceIdr.replace(null, arg.fence);
  vfile.fenceMutex.unlockNow();
  if (!fence) return -ENOENT;
  if (isErr(fence)) return fence;
  if (await dmaFenceIsSignaled(fence)) ret = -ETIMEDOUT;
  await dmaFenceSignal(fence);
  const dmaFencePutDone2 = dmaFencePut(fence);
  if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
  return ret;
}

/**
 * Models vgem_fence_open(): the file's fence idr (ids from 1) and its mutex.
 * Locking: none; the file is not yet visible. References: none.
 */
export function vgemFenceOpen(): VgemFile {
  const fenceMutex = new Mutex("vgem_file.fence_mutex");
  return { fenceMutex, fenceIdr: new Idr<DmaFence>("fence_idr", { lock: fenceMutex, base: 1 }) };
}

/**
 * Models vgem_fence_close(): signals and drops every fence still in the file's idr (the file
 * is going away; nobody will signal them), then destroys the idr.
 * Locking: none; the file is unreachable. References: drops the idr's references.
 */
export async function vgemFenceClose(vfile: VgemFile): Promise<void> {
  await vfile.fenceIdr.forEach(async (_id, fence) => {
    await dmaFenceSignal(fence);
    const dmaFencePutDone3 = dmaFencePut(fence);
    if (dmaFencePutDone3 !== RESOLVED) await dmaFencePutDone3;
  });
  await vfile.fenceIdr.destroy();
}
