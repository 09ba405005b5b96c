/**
 * struct qxl_device (drivers/gpu/drm/qxl/qxl_drv.h, Linux v6.18): the driver's per-device state,
 * reached from the DRM device with `toQxl()` (to_qxl()).
 *
 * Locking, as in the kernel:
 * - `surfIdIdrLock` (spinlock) protects `surfIdIdr` and `lastAllocedSurfId`; the idr's entries
 *   are NULL placeholders or pointers to buffer objects that hold NO reference;
 * - `surfEvictMutex` serialises surface eviction (qxl_surface_evict()) against the reaper;
 * - `releaseIdrLock` (spinlock) protects `releaseIdr` and `releaseSeqno`;
 * - `releaseMutex` protects `currentReleaseBo` / `currentReleaseBoOffset`;
 * - `gemMutex` protects `gemObjects` (qdev->gem.mutex, qdev->gem.objects);
 * - `asyncIoMutex` serialises the *_ASYNC I/O commands, `updateAreaMutex` UPDATE_AREA;
 * - `primaryMutex` (no kernel has it: the proposed fix of the known window
 *   qxl.primary-destroy-two-tails, taken only with its fix switch on) serialises the commit
 *   tails' switches of `primaryBo`;
 * - each ring has its own spinlock (QxlRing.lock).
 */

import type { DrmDevice } from "@primetime/gem";
import {
  Idr,
  KmemCache,
  Mutex,
  SlabObject,
  SpinLock,
  systemWq,
  type Workqueue,
  WorkStruct,
} from "@primetime/kernel";
import { WaitQueue } from "@primetime/sim";
import type { TtmDevice } from "@primetime/ttm";
import type { QxlHw, QxlRingHeader } from "./qxl-dev.js";
import type { QxlBo } from "./qxl-object.js";
import type { QxlRelease } from "./qxl-release.js";

/** Models struct qxl_ring: the driver's handle on a ring in device RAM. */
export class QxlRing<T> {
  /** Models ring->lock. */
  readonly lock: SpinLock;
  constructor(
    readonly name: string,
    /** Models ring->ring: the header and items in device RAM. */
    readonly ring: QxlRingHeader<T>,
    /** Models ring->prod_notify: the I/O port rung when prod reaches notify_on_prod. */
    readonly prodNotify: number,
    /** Models ring->push_event: where pushers wait for room. */
    readonly pushEvent: WaitQueue | null,
    owner: SlabObject,
  ) {
    this.lock = new SpinLock(`${name}_ring_lock`, { owner });
  }
}

/** The slab cache of qxl devices (the kernel embeds drm_device in struct qxl_device). */
export const qxlDeviceCache = new KmemCache("qxl_device");

/** Models struct qxl_device. See the file comment for its locking. */
/** Models struct qxl_head (the fields dumb_heads[] uses). */
export interface QxlHead {
  x: number;
  width: number;
  height: number;
}

export class QxlDevice extends SlabObject {
  /** Models qdev->ddev. */
  ddev!: DrmDevice;
  /** The device (qdev->rom, ram_header, io_base, the BARs). */
  readonly hw: QxlHw;
  /** Models surf_id_idr: surface id -> buffer object (no reference), NULL while reserved. */
  readonly surfIdIdr: Idr<QxlBo>;
  /** Models surf_id_idr_lock. */
  readonly surfIdIdrLock: SpinLock;
  /** Models last_alloced_surf_id (under surf_id_idr_lock). */
  lastAllocedSurfId = 0;
  /** Models surf_evict_mutex. */
  readonly surfEvictMutex: Mutex;
  /** Models release_idr: release id -> qxl_release. */
  readonly releaseIdr: Idr<QxlRelease>;
  /** Models release_idr_lock. */
  readonly releaseIdrLock: SpinLock;
  /** Models release_lock: the spinlock of the release fences. */
  readonly releaseLock: SpinLock;
  /** Models release_seqno (under release_idr_lock). */
  releaseSeqno = 0;
  /** Models release_count (atomic_t). */
  releaseCount = 0;
  /** Models release_mutex. */
  readonly releaseMutex: Mutex;
  /** Models current_release_bo[3]: the release buffer objects being sub-allocated. */
  readonly currentReleaseBo: (QxlBo | null)[] = [null, null, null];
  /** Models current_release_bo_offset[3]. */
  readonly currentReleaseBoOffset: number[] = [0, 0, 0];
  /** Models gem.mutex. */
  readonly gemMutex: Mutex;
  /** Models gem.objects: every buffer object of the device (qxl_bo.list). */
  readonly gemObjects = new Set<QxlBo>();
  /** Models release_event: woken by the garbage collector. */
  readonly releaseEvent: WaitQueue;
  /** Models display_event: the command ring's push_event, woken by the display interrupt. */
  readonly displayEvent: WaitQueue;
  /** Models io_cmd_event. */
  readonly ioCmdEvent: WaitQueue;
  /** Models irq_received, irq_received_display, irq_received_io_cmd (atomic_t). */
  irqReceived = 0;
  irqReceivedDisplay = 0;
  irqReceivedIoCmd = 0;
  /** Models last_sent_io_cmd. */
  lastSentIoCmd = 0;
  /** Models async_io_mutex. */
  readonly asyncIoMutex: Mutex;
  /** Models update_area_mutex. */
  readonly updateAreaMutex: Mutex;
  /**
   * The proposed qdev->primary_mutex of known window qxl.primary-destroy-two-tails' fix switch
   * (no kernel has it): held across a commit tail's test and switch of `primaryBo`.
   */
  readonly primaryMutex: Mutex;
  /** Models command_ring. */
  readonly commandRing: QxlRing<import("./qxl-dev.js").QxlCommandEntry>;
  /** Models release_ring. */
  readonly releaseRing: QxlRing<number>;
  /** Models gc_work (scheduled on system_wq). */
  readonly gcWork: WorkStruct;
  /** The workqueue gc_work runs on (system_wq). */
  readonly wq: Workqueue;
  /** Models mman.bdev: the TTM device. */
  mman!: TtmDevice;
  /** The fence context of the releases. */
  fenceContext = 0;
  /** Models vram_size: the RAM bar's size (the VRAM memory type's pages), qxl_check_mode()'s limit. */
  vramSize = 0;
  /** Models primary_bo: the bo the device scans out (a GEM reference, v6.18), or null. */
  primaryBo: QxlBo | null = null;
  /** Models dumb_shadow_bo: the shadow of dumb framebuffers (a GEM reference), or null. */
  dumbShadowBo: QxlBo | null = null;
  /** Models dumb_heads[]: one per CRTC (x within the shadow, the dumb bo's size). */
  dumbHeads: QxlHead[] = [];
  /**
   * Models monitors_config->max_allowed: 0 until the first monitors config update with a
   * primary surface sets it to the number of CRTCs (the rest of the monitors config object is
   * not modeled).
   */
  monitorsMaxAllowed = 0;
  /**
   * The driver's DRM_ERROR() lines (printk at KERN_ERR), in order. The simulation's dmesg holds
   * splats (WARN, KASAN, lockdep...) only; a DRM_ERROR is a plain log line, so it is kept here.
   */
  readonly drmErrors: string[] = [];

  constructor(hw: QxlHw, gcFunc: (qdev: QxlDevice) => Promise<unknown>) {
    super();
    this.hw = hw;
    this.surfIdIdrLock = new SpinLock("surf_id_idr_lock", { owner: this });
    this.surfIdIdr = new Idr<QxlBo>("surf_id_idr", { lock: this.surfIdIdrLock, base: 1 });
    this.surfEvictMutex = new Mutex("surf_evict_mutex", { owner: this });
    this.releaseIdrLock = new SpinLock("release_idr_lock", { owner: this });
    this.releaseIdr = new Idr<QxlRelease>("release_idr", { lock: this.releaseIdrLock, base: 1 });
    this.releaseLock = new SpinLock("release_lock", { owner: this });
    this.releaseMutex = new Mutex("release_mutex", { owner: this });
    this.gemMutex = new Mutex("qxl_gem_mutex", { owner: this });
    this.releaseEvent = new WaitQueue("release_event");
    this.displayEvent = new WaitQueue("display_event");
    this.ioCmdEvent = new WaitQueue("io_cmd_event");
    this.asyncIoMutex = new Mutex("async_io_mutex", { owner: this });
    this.updateAreaMutex = new Mutex("update_area_mutex", { owner: this });
    this.primaryMutex = new Mutex("primary_mutex", { owner: this });
    this.commandRing = new QxlRing("command", hw.ram.cmdRing, 0, this.displayEvent, this);
    this.releaseRing = new QxlRing("release", hw.ram.releaseRing, -1, null, this);
    // gcFunc bound to the device, not a closure: the same promise, one function for the process.
    this.gcWork = new WorkStruct(gcFunc.bind(null, this), "qxl_gc_work");
    this.wq = systemWq();
  }
}

/** Models to_qxl(): the qxl_device of a DRM device. */
export function toQxl(dev: DrmDevice): QxlDevice {
  return dev.driverPrivate as QxlDevice;
}
