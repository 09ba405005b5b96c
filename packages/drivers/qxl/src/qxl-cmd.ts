/**
 * qxl command and ring handling (drivers/gpu/drm/qxl/qxl_cmd.c, Linux v6.18): the command and
 * release rings, the garbage collector that frees the releases the device hands back, the
 * *_ASYNC I/O commands, and surfaces: ids, their creation and destruction on the device,
 * eviction and the reaper that steals ids when the device's slots run out.
 *
 * The surface id table is the heart of the 2015 race (toggle `qxl.dual-refcount`):
 * `surf_id_idr` maps an id to a buffer object WITHOUT holding a reference on it. An id is
 * reserved with a NULL entry, published by qxl_hw_surface_alloc() (idr_replace) and cleared by
 * qxl_hw_surface_dealloc(); the object's own free path must clear it (qxl_surface_evict())
 * while the object is still valid. The reaper (qxl_reap_surface_id()) walks the idr and uses
 * the pointers it finds with no reference at all: it relies on `surf_evict_mutex`, which every
 * eviction takes, and in its stall pass it DROPS that mutex while it waits for the object to go
 * idle. That window is modeled with a point: with mainline's counting the object cannot be freed
 * in it (its free path must first evict under the mutex, and TTM defers the destruction of a
 * reserved object); with the 2015 counting it can.
 */

import {
  type DmaResv,
  DmaResvUsage,
  dmaResvLockingCtx,
  dmaResvTestSignaled,
  dmaResvWaitTimeout,
} from "@primetime/dma-buf";
import { drmGemObjectGet, drmGemObjectPut } from "@primetime/gem";
import {
  EBUSY,
  EDEADLK,
  EINVAL,
  ENOSPC,
  ERESTARTSYS,
  flushWork,
  lockContext,
  lockdepAssertHeld,
  scheduleWork,
  signalPending,
} from "@primetime/kernel";
import {
  bug,
  now,
  opLabel,
  pointNow,
  RESOLVED,
  sleep,
  TASK_INTERRUPTIBLE,
  toggleEnabled,
  warnOn,
} from "@primetime/sim";
import { ttmBoReserve } from "@primetime/ttm";
import {
  QXL_CMD_SURFACE,
  QXL_IO_CREATE_PRIMARY_ASYNC,
  QXL_IO_DESTROY_PRIMARY_ASYNC,
  QXL_IO_UPDATE_AREA_ASYNC,
  QXL_RELEASE_INFO_SIZE,
  QXL_SURF_FLAG_KEEP_DATA,
  QXL_SURF_TYPE_PRIMARY,
  QXL_SURFACE_CMD,
  QXL_SURFACE_CMD_CREATE,
  QXL_SURFACE_CMD_DESTROY,
  type QxlCommandEntry,
  type QxlRect,
} from "./qxl-dev.js";
import type { QxlDevice, QxlRing } from "./qxl-device.js";
import {
  type QxlBo,
  qxlBoAccess,
  qxlBoPhysicalAddress,
  qxlBoReserve,
  qxlBoUnreserve,
} from "./qxl-object.js";
import {
  QXL_RELEASE_CURSOR_CMD,
  QXL_RELEASE_DRAWABLE,
  QXL_RELEASE_SURFACE_CMD,
  type QxlRelease,
  qxlAllocSurfaceReleaseReserved,
  qxlReleaseFenceBufferObjects,
  qxlReleaseFree,
  qxlReleaseFromIdLocked,
  qxlReleaseMap,
  qxlReleaseReserveList,
} from "./qxl-release.js";
import {
  QXL_DUAL_REFCOUNT,
  QXL_REAP_RESERVE_WITHOUT_CTX,
  QXL_RELEASE_USE_AFTER_FREE,
  QXL_RING_PUSH_NO_RECHECK,
} from "./toggles.js";
import { getLe64, setLe64 } from "./unaligned.js";

/** One second of virtual time (HZ jiffies). */
export const HZ_NS = 1_000_000_000;

/**
 * Models wait_event_timeout(wq, cond, timeout): the remaining time (>= 1) once `cond` holds, 0 on
 * timeout. The condition is rechecked after every wake-up.
 */
export async function waitEventTimeout(
  wq: import("@primetime/sim").WaitQueue,
  cond: () => boolean,
  timeoutNs: number,
): Promise<number> {
  let remaining = timeoutNs;
  for (;;) {
    if (cond()) return Math.max(remaining, 1);
    if (remaining <= 0) return 0;
    const start = now();
    await wq.waitTimeout(remaining);
    remaining -= now() - start;
  }
}

/**
 * Models qxl_check_header(): the ring has room; if not, asks the device to interrupt when it
 * consumes the next entry.
 * Locking: takes ring->lock. References: none.
 */
async function qxlCheckHeader<T>(ring: QxlRing<T>): Promise<boolean> {
  const lockTaken = ring.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  const h = ring.ring;
  const ret = h.prod - h.cons < h.numItems;
  if (!ret) h.notifyOnCons = h.cons + 1;
  ring.lock.unlockNow();
  return ret;
}

/**
 * Models qxl_check_idle(): the ring is empty.
 * Locking: takes ring->lock. References: none.
 */
export async function qxlCheckIdle<T>(ring: QxlRing<T>): Promise<boolean> {
  const lockTaken2 = ring.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  const h = ring.ring;
  const ret = h.prod === h.cons;
  ring.lock.unlockNow();
  return ret;
}

/**
 * Models qxl_ring_push(): if the ring is full, asks for an interrupt when the device consumes
 * the next entry, waits (on ring->push_event, woken by the display interrupt) until
 * qxl_check_header() sees room, retakes the lock; then writes the entry at
 * `prod & (n_elements - 1)`, bumps prod and rings the doorbell if the device asked for one.
 * The fullness test is an `if`, as in the kernel: it is not repeated after the wait, so two
 * pushers woken for one free slot both push and the second overwrites the oldest unconsumed
 * entry (known window `qxl.ring-push-no-recheck`; its fix switch tests again, `while`).
 * With `interruptible` the wait is wait_event_interruptible(): a fatal signal ends it with
 * -ERESTARTSYS ("if (ret) return ret;": nothing pushed, ring->lock not held); else wait_event().
 * Locking: takes ring->lock; may sleep (not under it). References: none.
 */
export async function qxlRingPush(
  qdev: QxlDevice,
  ring: QxlRing<QxlCommandEntry>,
  elt: QxlCommandEntry,
  interruptible = false,
): Promise<number> {
  const h = ring.ring;
  const lockTaken3 = ring.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  let full = h.prod - h.cons === h.numItems;
  while (full) {
    h.notifyOnCons = h.cons + 1;
    ring.lock.unlockNow();
    if (interruptible) {
      // wait_event_interruptible(*ring->push_event, qxl_check_header(ring)): the condition,
      // then (prepare_to_wait_event()) -ERESTARTSYS for a pending signal, then the sleep.
      while (!(await qxlCheckHeader(ring))) {
        if (signalPending()) return -ERESTARTSYS;
        await ring.pushEvent!.wait("qxl_ring_push wait", TASK_INTERRUPTIBLE);
      }
    } else {
      // wait_event(*ring->push_event, qxl_check_header(ring))
      while (!(await qxlCheckHeader(ring))) await ring.pushEvent!.wait("qxl_ring_push wait");
    }
    const lockTaken4 = ring.lock.lock();
    if (lockTaken4 !== RESOLVED) await lockTaken4;
    // v6.18: `if`, no second test. The fix switch of the known window tests again (`while`).
    full = toggleEnabled(QXL_RING_PUSH_NO_RECHECK.name) && h.prod - h.cons === h.numItems;
  }
  h.items[h.prod & (h.numItems - 1)] = elt;
  h.prod++;
  const atPoint = pointNow(opLabel("qxl_ring_push", ring.name));
  if (atPoint !== null) await atPoint;
  if (h.prod === h.notifyOnProd) qdev.hw.outb(ring.prodNotify, 0);
  ring.lock.unlockNow();
  return 0;
}

/**
 * Models qxl_ring_pop(): the oldest entry, or null when the ring is empty (then asks the
 * device to notify on the next one).
 * Locking: takes ring->lock. References: none.
 */
async function qxlRingPop<T>(ring: QxlRing<T>): Promise<T | null> {
  const lockTaken5 = ring.lock.lock();
  if (lockTaken5 !== RESOLVED) await lockTaken5;
  const h = ring.ring;
  if (h.cons === h.prod) {
    h.notifyOnProd = h.cons + 1;
    ring.lock.unlockNow();
    return null;
  }
  const idx = h.cons % h.numItems;
  const elt = h.items[idx] as T;
  h.items[idx] = null;
  h.cons++;
  ring.lock.unlockNow();
  return elt;
}

/**
 * Models qxl_push_command_ring_release(): puts the release's command on the command ring
 * (qxl_ring_push() with `interruptible`: -ERESTARTSYS for a fatal signal while the ring is full).
 * A release the garbage collector already freed (known window qxl.ring-push-no-recheck: an id
 * handed back twice, reused by this release): the read of `release->release_bo` is KASAN's
 * use-after-free, and release_bo, NULL (qxl_release_free_list() clears it), makes
 * qxl_bo_physical_address() dereference NULL, an oops.
 * Locking: none held. References: the release (and the buffers it holds) now belongs to the
 * device until it hands it back on the release ring.
 */
export async function qxlPushCommandRingRelease(
  qdev: QxlDevice,
  release: QxlRelease,
  type: number,
  interruptible = false,
): Promise<number> {
  release.checkAccess("qxl_push_command_ring_release");
  const releaseBo = release.releaseBo;
  if (releaseBo === null)
    bug(
      "BUG: kernel NULL pointer dereference in qxl_bo_physical_address(): release->release_bo is NULL",
    );
  const data = qxlBoPhysicalAddress(qdev, releaseBo, release.releaseOffset);
  return qxlRingPush(qdev, qdev.commandRing, { type, data }, interruptible);
}

/**
 * Models qxl_queue_garbage_collect(): schedules gc_work if the release ring has entries (and
 * waits for it when `flush`). Returns whether it did.
 * Locking: none (callable from the interrupt handler when !flush). References: none.
 */
export async function qxlQueueGarbageCollect(qdev: QxlDevice, flush: boolean): Promise<boolean> {
  if (!(await qxlCheckIdle(qdev.releaseRing))) {
    await scheduleWork(qdev.gcWork);
    if (flush) await flushWork(qdev.gcWork);
    return true;
  }
  return false;
}

/**
 * Models qxl_garbage_collect() (gc_work): pops the release ring, follows each entry's chain of
 * `next` ids, frees every release (dropping its buffer references) and wakes release waiters.
 * Locking: none held; takes the ring and idr locks. References: drops the releases'.
 */
export async function qxlGarbageCollect(qdev: QxlDevice): Promise<number> {
  let i = 0;
  for (;;) {
    let id = await qxlRingPop(qdev.releaseRing);
    if (id === null) break;
    while (id) {
      const release = await qxlReleaseFromIdLocked(qdev, id);
      if (release === null) break;
      const info = qxlReleaseMap(qdev, release);
      const nextId = getLe64(info, 8);
      switch (release.type) {
        case QXL_RELEASE_DRAWABLE:
        case QXL_RELEASE_SURFACE_CMD:
        case QXL_RELEASE_CURSOR_CMD:
          break;
      }
      id = nextId;
      await qxlReleaseFree(qdev, release);
      ++i;
    }
  }
  qdev.releaseEvent.wakeAll();
  return i;
}

/**
 * Models wait_for_io_cmd_user(): one *_ASYNC I/O command at a time; waits for a previous one
 * still outstanding, writes the port, waits (5 s) for its QXL_INTERRUPT_IO_CMD.
 * Locking: takes async_io_mutex. References: none.
 */
async function waitForIoCmdUser(qdev: QxlDevice, val: number, port: number): Promise<number> {
  const asyncIoMutexTaken = qdev.asyncIoMutex.lock();
  if (asyncIoMutexTaken !== RESOLVED) await asyncIoMutexTaken;
  let ret = 1;
  let irqNum = qdev.irqReceivedIoCmd;
  let sent = false;
  if (qdev.lastSentIoCmd > irqNum) {
    const n = irqNum;
    ret = await waitEventTimeout(qdev.ioCmdEvent, () => qdev.irqReceivedIoCmd > n, 5 * HZ_NS);
    // 0 is timeout, just bail the "hw" has gone away
    if (ret > 0) irqNum = qdev.irqReceivedIoCmd;
  }
  if (ret > 0) {
    qdev.hw.outb(port, val);
    sent = true;
    qdev.lastSentIoCmd = irqNum + 1;
    const n = irqNum;
    ret = await waitEventTimeout(qdev.ioCmdEvent, () => qdev.irqReceivedIoCmd > n, 5 * HZ_NS);
  }
  void sent;
  if (ret > 0) ret = 0;
  qdev.asyncIoMutex.unlockNow();
  return ret;
}

/**
 * Models wait_for_io_cmd(): wait_for_io_cmd_user() again for as long as it is interrupted.
 * Locking: takes async_io_mutex. References: none.
 */
async function waitForIoCmd(qdev: QxlDevice, val: number, port: number): Promise<number> {
  for (;;) {
    const ret = await waitForIoCmdUser(qdev, val, port);
    if (ret !== -ERESTARTSYS) return ret;
  }
}

/**
 * Models qxl_io_destroy_primary(): QXL_IO_DESTROY_PRIMARY_ASYNC, then the primary bo is no
 * longer primary and the device's GEM reference of it is dropped (v6.18; the reference is the
 * one qxl_io_create_primary() took).
 * Locking: takes async_io_mutex; the caller is the commit tail (no modeset lock needed: the
 * commit owns the plane). References: drops the device's reference of `primary_bo`.
 */
export async function qxlIoDestroyPrimary(qdev: QxlDevice): Promise<void> {
  await waitForIoCmd(qdev, 0, QXL_IO_DESTROY_PRIMARY_ASYNC);
  const primary = qdev.primaryBo;
  // As in the kernel, nothing checks it: a second destroy (another CRTC's commit tail that saw
  // the primary before this one's wait ended) dereferences NULL (an oops).
  if (!primary)
    bug("BUG: kernel NULL pointer dereference in qxl_io_destroy_primary(): primary_bo is NULL");
  qxlBoAccess(primary, "qxl_io_destroy_primary");
  primary.isPrimary = false;
  const put = drmGemObjectPut(primary);
  if (put !== RESOLVED) await put;
  qdev.primaryBo = null;
}

/**
 * Models qxl_io_create_primary(): WARN_ON() and nothing if a primary exists; otherwise the
 * surface description of `bo` (format, size, stride, its device address) in the RAM header's
 * create_surface, QXL_IO_CREATE_PRIMARY_ASYNC, and `bo` becomes the primary with a GEM
 * reference of its own (v6.18).
 * Locking: takes async_io_mutex; `bo` is pinned (prepare_fb), so its address is stable.
 * References: takes a GEM reference of `bo` for `primary_bo`.
 */
export async function qxlIoCreatePrimary(qdev: QxlDevice, bo: QxlBo): Promise<void> {
  if (warnOn(qdev.primaryBo !== null, "qxl_io_create_primary: primary_bo already set")) return;
  qxlBoAccess(bo, "qxl_io_create_primary");
  const create = qdev.hw.ram.createSurface;
  create.format = bo.surf.format;
  create.width = bo.surf.width;
  create.height = bo.surf.height;
  create.stride = bo.surf.stride;
  create.mem = qxlBoPhysicalAddress(qdev, bo, 0);
  create.flags = QXL_SURF_FLAG_KEEP_DATA;
  create.type = QXL_SURF_TYPE_PRIMARY;
  await waitForIoCmd(qdev, 0, QXL_IO_CREATE_PRIMARY_ASYNC);
  qdev.primaryBo = bo;
  qdev.primaryBo.isPrimary = true;
  const got = drmGemObjectGet(qdev.primaryBo);
  if (got !== RESOLVED) await got;
}

/**
 * Models qxl_io_update_area(): asks the device to bring `area` of the surface up to date.
 * -EINVAL for an area outside the surface. `area` is a struct qxl_rect (int32_t fields) and the
 * surface's width and height are uint32_t, so `left`/`top` are tested signed and `right`/`bottom`
 * against the size as unsigned (C's usual arithmetic conversions).
 * Locking: takes update_area_mutex, then async_io_mutex. References: the caller holds `surf`.
 */
export async function qxlIoUpdateArea(
  qdev: QxlDevice,
  surf: QxlBo,
  area: QxlRect,
): Promise<number> {
  const surfaceId = surf.isPrimary ? 0 : surf.surfaceId;
  const surfaceWidth = surf.surf.width;
  const surfaceHeight = surf.surf.height;
  if (
    area.left < 0 ||
    area.top < 0 ||
    area.right >>> 0 > surfaceWidth ||
    area.bottom >>> 0 > surfaceHeight
  )
    return -EINVAL;
  const updateAreaMutexTaken = qdev.updateAreaMutex.lock();
  if (updateAreaMutexTaken !== RESOLVED) await updateAreaMutexTaken;
  qdev.hw.ram.updateArea = { ...area };
  qdev.hw.ram.updateSurface = surfaceId;
  const ret = await waitForIoCmdUser(qdev, 0, QXL_IO_UPDATE_AREA_ASYNC);
  qdev.updateAreaMutex.unlockNow();
  return ret;
}

/**
 * Models qxl_surface_id_alloc(): reserves an id (a NULL entry) in surf_id_idr; an id at or
 * beyond the device's slot count is given back and the reaper frees two before retrying (with the
 * fix switch of qxl.reap-reserve-without-ctx, the reaper's -ENOSPC is returned instead).
 * Locking: takes surf_id_idr_lock (never across the reaper). References: the idr will point at
 * `surf` without a reference.
 */
export async function qxlSurfaceIdAlloc(qdev: QxlDevice, surf: QxlBo): Promise<number> {
  for (;;) {
    const surfIdIdrLockTaken = qdev.surfIdIdrLock.lock();
    if (surfIdIdrLockTaken !== RESOLVED) await surfIdIdrLockTaken;
    const idrRet = await qdev.surfIdIdr.alloc(null, 1, 0);
    qdev.surfIdIdrLock.unlockNow();
    if (idrRet < 0) return idrRet;
    const handle = idrRet;
    if (handle >= qdev.hw.rom.nSurfaces) {
      const surfIdIdrLockTaken2 = qdev.surfIdIdrLock.lock();
      if (surfIdIdrLockTaken2 !== RESOLVED) await surfIdIdrLockTaken2;
      await qdev.surfIdIdr.remove(handle);
      qdev.surfIdIdrLock.unlockNow();
      const reaped = await qxlReapSurfaceId(qdev, 2);
      // Known window qxl.reap-reserve-without-ctx, its fix switch: the reaper could reserve none
      // of the ids because the caller's own acquire context holds them all (proposed here).
      if (reaped < 0) return reaped;
      // `goto again`: when nothing could be reaped (every id is reserved: surfaces whose DESTROY
      // the device has not handed back yet) the kernel spins here while the device, on its own
      // CPU, completes those commands. The model's device only advances when no task can run, so
      // each pass is given the CPU time it takes (1 us), or the spin would starve the device.
      await sleep(1000, "qxl_surface_id_alloc: again");
      continue;
    }
    surf.surfaceId = handle;
    const surfIdIdrLockTaken3 = qdev.surfIdIdrLock.lock();
    if (surfIdIdrLockTaken3 !== RESOLVED) await surfIdIdrLockTaken3;
    qdev.lastAllocedSurfId = handle;
    qdev.surfIdIdrLock.unlockNow();
    return 0;
  }
}

/**
 * Models qxl_surface_id_dealloc(): frees the id (after the device has destroyed the surface:
 * called when the DESTROY command's release is freed).
 * Locking: takes surf_id_idr_lock. References: none.
 */
export async function qxlSurfaceIdDealloc(qdev: QxlDevice, surfaceId: number): Promise<void> {
  const surfIdIdrLockTaken4 = qdev.surfIdIdrLock.lock();
  if (surfIdIdrLockTaken4 !== RESOLVED) await surfIdIdrLockTaken4;
  await qdev.surfIdIdr.remove(surfaceId);
  qdev.surfIdIdrLock.unlockNow();
}

function writeSurfaceCmd(
  info: DataView,
  type: number,
  surfaceId: number,
  surf?: QxlBo,
  mem?: number,
): void {
  info.setUint32(QXL_SURFACE_CMD.surfaceId, surfaceId, true);
  info.setUint8(QXL_SURFACE_CMD.type, type);
  if (surf && mem !== undefined) {
    info.setUint32(QXL_SURFACE_CMD.flags, QXL_SURF_FLAG_KEEP_DATA, true);
    info.setUint32(QXL_SURFACE_CMD.width, surf.surf.width, true);
    info.setUint32(QXL_SURFACE_CMD.height, surf.surf.height, true);
    info.setInt32(QXL_SURFACE_CMD.stride, surf.surf.stride, true);
    info.setUint32(QXL_SURFACE_CMD.format, surf.surf.format, true);
    setLe64(info, QXL_SURFACE_CMD.mem, mem);
  }
}

/**
 * Models qxl_hw_surface_alloc(): sends SURFACE_CMD_CREATE for the object's reserved id, then
 * publishes the object in surf_id_idr (idr_replace: a pointer holding no reference).
 * Locking: the object is reserved by the caller (validated in VRAM/PRIV).
 * References: the create release holds only its release bo; the idr entry holds none.
 */
export async function qxlHwSurfaceAlloc(qdev: QxlDevice, surf: QxlBo): Promise<number> {
  if (surf.hwSurfAlloc) return 0;
  const r = await qxlAllocSurfaceReleaseReserved(qdev, QXL_SURFACE_CMD_CREATE, null);
  if (typeof r === "number") return r;
  const release = r;
  const ret = await qxlReleaseReserveList(qdev, release, true);
  if (ret) {
    await qxlReleaseFree(qdev, release);
    return ret;
  }
  const info = qxlReleaseMap(qdev, release);
  writeSurfaceCmd(
    info,
    QXL_SURFACE_CMD_CREATE,
    surf.surfaceId,
    surf,
    qxlBoPhysicalAddress(qdev, surf, 0),
  );
  surf.surfCreate = release;
  // no need to add a release to the fence for this surface bo, since it is only released when
  // we ask to destroy the surface and it would never signal otherwise
  await qxlFenceAndPush(qdev, release);
  surf.hwSurfAlloc = true;
  const surfIdIdrLockTaken5 = qdev.surfIdIdrLock.lock();
  if (surfIdIdrLockTaken5 !== RESOLVED) await surfIdIdrLockTaken5;
  await qdev.surfIdIdr.replace(surf, surf.surfaceId);
  qdev.surfIdIdrLock.unlockNow();
  return 0;
}

/**
 * The end of qxl_hw_surface_alloc()/_dealloc(): qxl_release_fence_buffer_objects(), then
 * qxl_push_command_ring_release() (the order since "drm/qxl: qxl_release use after free"; the
 * toggle qxl.release-use-after-free puts back the push before the fencing).
 */
async function qxlFenceAndPush(qdev: QxlDevice, release: QxlRelease): Promise<void> {
  if (toggleEnabled(QXL_RELEASE_USE_AFTER_FREE.name)) {
    await qxlPushCommandRingRelease(qdev, release, QXL_CMD_SURFACE);
    await qxlReleaseFenceBufferObjects(qdev, release);
    return;
  }
  await qxlReleaseFenceBufferObjects(qdev, release);
  await qxlPushCommandRingRelease(qdev, release, QXL_CMD_SURFACE);
}

/**
 * Models qxl_hw_surface_dealloc(): clears the idr entry (keeping the id reserved until the
 * device has destroyed the surface) and sends SURFACE_CMD_DESTROY; the id is freed when that
 * command's release is (release->surface_release_id).
 * Locking: surf_evict_mutex held (by qxl_surface_evict*()).
 * References: none taken on `surf`.
 */
export async function qxlHwSurfaceDealloc(qdev: QxlDevice, surf: QxlBo): Promise<number> {
  lockdepAssertHeld(qdev.surfEvictMutex);
  if (!surf.hwSurfAlloc) return 0;
  const r = await qxlAllocSurfaceReleaseReserved(qdev, QXL_SURFACE_CMD_DESTROY, surf.surfCreate);
  if (typeof r === "number") return r;
  const release = r;
  surf.surfCreate = null;
  // remove the surface from the idr, but not the surface id yet
  const surfIdIdrLockTaken6 = qdev.surfIdIdrLock.lock();
  if (surfIdIdrLockTaken6 !== RESOLVED) await surfIdIdrLockTaken6;
  await qdev.surfIdIdr.replace(null, surf.surfaceId);
  qdev.surfIdIdrLock.unlockNow();
  surf.hwSurfAlloc = false;
  const id = surf.surfaceId;
  surf.surfaceId = 0;
  release.surfaceReleaseId = id;
  const info = qxlReleaseMap(qdev, release);
  writeSurfaceCmd(info, QXL_SURFACE_CMD_DESTROY, id);
  await qxlFenceAndPush(qdev, release);
  return 0;
}

/**
 * Models qxl_update_surface(): UPDATE_AREA of the whole surface, retried on -ERESTARTSYS.
 * Locking: as qxl_io_update_area(). References: the caller keeps `surf` valid.
 */
async function qxlUpdateSurface(qdev: QxlDevice, surf: QxlBo): Promise<number> {
  // struct qxl_rect: int32_t fields
  const rect = { left: 0, right: surf.surf.width | 0, top: 0, bottom: surf.surf.height | 0 };
  for (;;) {
    const ret = await qxlIoUpdateArea(qdev, surf, rect);
    if (ret !== -ERESTARTSYS) return ret;
  }
}

/**
 * Models qxl_surface_evict_locked(): optionally brings the surface up to date, then destroys it
 * on the device.
 * Locking: surf_evict_mutex held (asserted). References: none taken.
 */
async function qxlSurfaceEvictLocked(
  qdev: QxlDevice,
  surf: QxlBo,
  doUpdateArea: boolean,
): Promise<void> {
  lockdepAssertHeld(qdev.surfEvictMutex);
  qxlBoAccess(surf, "qxl_surface_evict_locked");
  // no need to update area if we are just freeing the surface normally
  if (doUpdateArea) await qxlUpdateSurface(qdev, surf);
  // nuke the surface id at the hw
  await qxlHwSurfaceDealloc(qdev, surf);
}

/**
 * Models qxl_surface_evict(): under surf_evict_mutex, destroys the object's hardware surface
 * (clearing its surf_id_idr entry).
 * Locking: takes surf_evict_mutex. References: the caller keeps `surf` valid.
 */
export async function qxlSurfaceEvict(
  qdev: QxlDevice,
  surf: QxlBo,
  doUpdateArea: boolean,
): Promise<void> {
  const surfEvictMutexTaken = qdev.surfEvictMutex.lock();
  if (surfEvictMutexTaken !== RESOLVED) await surfEvictMutexTaken;
  await qxlSurfaceEvictLocked(qdev, surf, doUpdateArea);
  qdev.surfEvictMutex.unlockNow();
}

/**
 * Models qxl_reap_surf(): reserves the object found in the idr, tests (or, in the stall pass,
 * waits for) its fences and evicts its surface. In the stall pass surf_evict_mutex is DROPPED
 * around the wait: the object is then protected by nothing but its reservation.
 *
 * The first pass is v6.18's test as written: `ret = dma_resv_test_signaled(resv, BOOKKEEP);
 * ret = ret ? -EBUSY : 0;`, so it skips an IDLE surface (-EBUSY) and evicts a BUSY one (its
 * pending command is already on the ring or about to be; the release keeps the object alive).
 * That inversion came with 678e5b2258e8 "drm/qxl: stop using ttm_bo_wait" (dri-devel, 2022-11-25,
 * "No functional change"; in drm-misc-next in January 2023); before it, `ttm_bo_wait(&surf->tbo,
 * true, true, !stall)` returned -EBUSY for a busy surface. The kernels toggle `qxl.dual-refcount`
 * puts back (v3.10-v4.1) had that test, so with that toggle on the first pass skips busy surfaces
 * instead.
 * A pass that evicts nothing is followed by the stall pass, which waits and evicts either way.
 * Locking: surf_evict_mutex held on entry and exit (released and retaken when `stall`).
 * References: NONE on `surf`: the idr's pointer is all the reaper has.
 */
async function qxlReapSurf(qdev: QxlDevice, surf: QxlBo, stall: boolean): Promise<number> {
  lockdepAssertHeld(qdev.surfEvictMutex);
  // Known window qxl.reap-reserve-without-ctx: its fix switch trylocks instead (-EBUSY: skip).
  const fixed = toggleEnabled(QXL_REAP_RESERVE_WITHOUT_CTX.name);
  let ret = fixed ? await ttmBoReserve(surf, true, true) : await qxlBoReserve(surf);
  if (ret) {
    // The fix switch (proposed here): a surface the caller's own acquire context holds (it is in
    // the release being validated) can never be reaped by this task: -EDEADLK tells the reaper.
    const ctx = dmaResvLockingCtx(surf.resv);
    if (fixed && ret === -EBUSY && ctx !== null && ctx.task === lockContext()) return -EDEADLK;
    return ret;
  }
  if (stall) await qdev.surfEvictMutex.unlock();
  const atPoint = pointNow("qxl_reap_surf: waiting for the surface to go idle");
  if (atPoint !== null) await atPoint;
  qxlBoAccess(surf, "qxl_reap_surf: surf->tbo.base.resv");
  const resv: DmaResv = surf.resv;
  if (stall) {
    const r = await dmaResvWaitTimeout(resv, DmaResvUsage.BOOKKEEP, true, 15 * HZ_NS);
    ret = r > 0 ? 0 : r === 0 ? -EBUSY : r;
  } else {
    const signaled = await dmaResvTestSignaled(resv, DmaResvUsage.BOOKKEEP);
    // v6.18: ret = ret ? -EBUSY : 0; (before the 2022 conversion: -EBUSY while busy)
    if (toggleEnabled(QXL_DUAL_REFCOUNT.name)) ret = signaled ? 0 : -EBUSY;
    else ret = signaled ? -EBUSY : 0;
  }
  if (stall) await qdev.surfEvictMutex.lock();
  if (ret) {
    await qxlBoUnreserve(surf);
    return ret;
  }
  await qxlSurfaceEvictLocked(qdev, surf, true);
  await qxlBoUnreserve(surf);
  return 0;
}

/**
 * Models qxl_reap_surface_id(): walks the surface ids from the one allocated last, evicting
 * idle surfaces until `maxToReap` are gone; if none was idle, walks again waiting for each
 * (stall). Then lets the device's releases come back (the ids are freed with them). Returns 0 as
 * the kernel's does; with the fix switch of known window qxl.reap-reserve-without-ctx (proposed
 * here), -ENOSPC when the stall pass reaped nothing and found an id held by the caller's own
 * acquire context (qxl_surface_id_alloc() then gives up instead of retrying forever: the caller
 * may not wait for others while it holds reservations).
 * Locking: takes surf_evict_mutex; the idr lookups under surf_id_idr_lock.
 * References: none taken on the objects it finds (see the file comment).
 */
export async function qxlReapSurfaceId(qdev: QxlDevice, maxToReap: number): Promise<number> {
  let numReaped = 0;
  let stall = false;
  /** Fix switch: ids whose surface the caller's own acquire context holds (stall pass). */
  let ownHeld = 0;
  const surfEvictMutexTaken2 = qdev.surfEvictMutex.lock();
  if (surfEvictMutexTaken2 !== RESOLVED) await surfEvictMutexTaken2;
  for (;;) {
    const surfIdIdrLockTaken7 = qdev.surfIdIdrLock.lock();
    if (surfIdIdrLockTaken7 !== RESOLVED) await surfIdIdrLockTaken7;
    const start = qdev.lastAllocedSurfId + 1;
    qdev.surfIdIdrLock.unlockNow();
    const n = qdev.hw.rom.nSurfaces;
    for (let i = start; i < start + n; i++) {
      const surfid = i % n;
      // this avoids the case where the objects is in the idr but has been evicted half way -
      // its makes the idr lookup atomic with the eviction
      const surfIdIdrLockTaken8 = qdev.surfIdIdrLock.lock();
      if (surfIdIdrLockTaken8 !== RESOLVED) await surfIdIdrLockTaken8;
      const objptr = await qdev.surfIdIdr.find(surfid);
      qdev.surfIdIdrLock.unlockNow();
      if (!objptr) continue;
      const ret = await qxlReapSurf(qdev, objptr, stall);
      if (stall && ret === -EDEADLK) ownHeld++;
      if (ret === 0) numReaped++;
      if (numReaped >= maxToReap) break;
    }
    if (numReaped === 0 && !stall) {
      stall = true;
      continue;
    }
    break;
  }
  qdev.surfEvictMutex.unlockNow();
  if (numReaped) {
    await sleep(500_000); // usleep_range(500, 1000)
    await qxlQueueGarbageCollect(qdev, true);
  }
  // Fix switch of qxl.reap-reserve-without-ctx (proposed here): nothing reaped and some id held
  // by the caller's own acquire context: the caller may not wait while holding reservations (two
  // submitters each holding a surface the other's reaper needs would spin forever), so give up.
  if (numReaped === 0 && ownHeld > 0) return -ENOSPC;
  return 0;
}

export { QXL_RELEASE_INFO_SIZE, QXL_SURFACE_CMD_DESTROY };
