/**
 * DRM files (drivers/gpu/drm/drm_file.c): one DrmFile per open() of a DRM node, with its GEM
 * handle table, its PRIME cache and its authentication state.
 *
 * Open: drm_open() acquires the minor (a device reference), allocates the file (handle table,
 * PRIME cache, driver ->open) and, on the primary node, joins or becomes the master. Release
 * (the file's last fput): drm_file_free() removes the file's framebuffers, releases every GEM
 * handle (and with it the file's
 * PRIME cache entries), the master state, the driver's per-file state (->postclose), and checks
 * that the PRIME cache is empty; then the device reference is dropped.
 *
 * DRM events (drm_file.c's event machinery, v6.18): a driver reserves room for an event in the
 * file's 4 KiB `event_space` and puts it on the file's `pending_event_list`
 * (drm_event_reserve_init()); when the asynchronous work completes it sends it
 * (drm_send_event()): the event moves to the file's `event_list` and readers and pollers on
 * `event_wait` are woken; userspace reads whole events from the fd (drm_read()) and polls it
 * for EPOLLIN (drm_poll()). All of it is under the device's `event_lock`. When the file closes
 * first, drm_events_release() unlinks its pending events (`e->file_priv = NULL`: a later send
 * frees them) and frees the unread ones. A KMS commit's event carries the commit's `flip_done` as its
 * `completion`, completed when the event is sent. Not modeled: drm_send_event_timestamp_locked()'s
 * timestamp (the fence is signalled with the current virtual time either way).
 */

import { dmaFencePut, dmaFenceSignal } from "@primetime/dma-buf";
import {
  accessVm,
  CAP_SYS_ADMIN,
  capable,
  currentMm,
  EAGAIN,
  EBUSY,
  EFAULT,
  ENOMEM,
  EPOLLIN,
  EPOLLRDNORM,
  type Errno,
  type File,
  type FileOperations,
  fileOperations,
  Idr,
  type Inode,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  Mutex,
  O_EXCL,
  O_NONBLOCK,
  type PollTable,
  type PollTableEntry,
  type PollWaitHead,
  pollWait,
  SlabObject,
  SpinLock,
  waitEventInterruptible,
  wakeUpPoll,
} from "@primetime/kernel";
import { opLabel, point, RESOLVED, WaitQueue, warnOn } from "@primetime/sim";
import { type DrmMaster, drmMasterOpen, drmMasterRelease } from "./drm-auth.js";
import { type DrmDevice, drmDevPut } from "./drm-device.js";
import { DRIVER_GEM, DRIVER_MODESET, DRIVER_SYNCOBJ, drmCoreCheckFeature } from "./drm-driver.js";
import { type DrmFramebuffer, drmFbRelease } from "./drm-framebuffer.js";
import { drmGemRelease, type GemObject } from "./drm-gem.js";
import { drmIoctl } from "./drm-ioctl.js";
import {
  DRM_MINOR_PRIMARY,
  DRM_MINOR_RENDER,
  type DrmMinor,
  drmMinorAcquire,
} from "./drm-minor.js";
import { drmGemMmap } from "./drm-mmap.js";
import type { DrmEvent, DrmPendingEvent } from "./drm-pending-event.js";
import {
  type DrmPrimeFilePrivate,
  drmPrimeDestroyFilePrivate,
  drmPrimeInitFilePrivate,
} from "./drm-prime.js";
import { type DrmSyncobj, drmSyncobjRelease } from "./drm-syncobj.js";

/** The slab cache of struct drm_file. */
export const drmFileCache = new KmemCache("drm_file");

export { type DrmEvent, DrmPendingEvent } from "./drm-pending-event.js";

/**
 * Models a file's event_wait (wait_queue_head_t): the poll(2) entries registered on it
 * (drm_poll()) and the readers asleep in drm_read()'s wait_event_interruptible().
 */
export class DrmEventWait implements PollWaitHead {
  readonly entries = new Set<PollTableEntry>();
  readonly readers = new WaitQueue("drm_file.event_wait");
}

/**
 * Models wake_up_interruptible_poll(&file_priv->event_wait, key): the pollers waiting for `key`
 * and every reader.
 * Locking: any; not a scheduling point.
 */
function wakeUpInterruptiblePoll(wait: DrmEventWait, key: number): void {
  wakeUpPoll(wait, key);
  wait.readers.wakeAll();
}

/**
 * Models struct drm_file.
 *
 * Locking: `tableLock` (a spinlock) protects `objectIdr`; `prime.lock` the PRIME cache;
 * the device's master_mutex protects `master`, `isMaster`, `magic`; `master` changes only with
 * `masterLookupLock` held as well, so either lock protects a load of it; `authenticated` is
 * written under master_mutex (or at drm_file_alloc()) and read without it (as the kernel's
 * bitfield).
 * References: the file holds a device reference (taken by drm_minor_acquire()) and a master
 * reference (primary node); each handle holds a handle count on its object.
 */
export class DrmFile extends SlabObject {
  readonly minor: DrmMinor;
  /** Models filp: the struct file this DrmFile is the private data of. */
  filp: File | null = null;
  /** Models authenticated. */
  authenticated = false;
  /** Models is_master. */
  isMaster = false;
  /** Models was_master. */
  wasMaster = false;
  /** Models master. */
  master: DrmMaster | null = null;
  /** Models master_lookup_lock: serializes `master` (drm_file_get_master()). */
  readonly masterLookupLock: SpinLock;
  /** Models magic (0: none). */
  magic = 0;
  /** Models table_lock. */
  readonly tableLock: SpinLock;
  /** Models object_idr: GEM handles (from 1). An entry may be NULL while it is created or deleted. */
  readonly objectIdr: Idr<GemObject>;
  /** Models prime: the PRIME cache. */
  readonly prime: DrmPrimeFilePrivate;
  /** Models syncobj_table_lock. */
  readonly syncobjTableLock: SpinLock;
  /** Models syncobj_idr: sync object handles (from 1); each holds a syncobj reference. */
  readonly syncobjIdr: Idr<DrmSyncobj>;
  /** Models fbs_lock: protects `fbs`. */
  readonly fbsLock: Mutex;
  /** Models fbs: the framebuffers this file created (ADDFB2), each holding a reference. */
  readonly fbs: DrmFramebuffer[] = [];
  /** Models driver_priv. */
  driverPriv: unknown = undefined;
  /** Models event_space: bytes left for events (4096 at open), under event_lock. */
  eventSpace = 4096;
  /** Models pending_event_list: events reserved and not yet sent, under event_lock. */
  readonly pendingEventList: DrmPendingEvent[] = [];
  /** Models event_list: events sent and not yet read, oldest first, under event_lock. */
  readonly eventList: DrmPendingEvent[] = [];
  /** Models event_wait. */
  readonly eventWait = new DrmEventWait();
  /** Models universal_planes: DRM_CLIENT_CAP_UNIVERSAL_PLANES (GETPLANERESOURCES lists primary planes). */
  universalPlanes = false;
  /** Models event_read_lock: serializes drm_read(). */
  readonly eventReadLock: Mutex;

  constructor(minor: DrmMinor) {
    super();
    this.minor = minor;
    this.tableLock = new SpinLock("table_lock", { owner: this });
    this.masterLookupLock = new SpinLock("master_lookup_lock", { owner: this });
    this.objectIdr = new Idr<GemObject>("object_idr", { lock: this.tableLock, base: 1 });
    this.prime = drmPrimeInitFilePrivate(this, minor.dev);
    // drm_syncobj_open(): idr_init_base(&syncobj_idr, 1), spin_lock_init(&syncobj_table_lock)
    this.syncobjTableLock = new SpinLock("syncobj_table_lock", { owner: this });
    this.syncobjIdr = new Idr<DrmSyncobj>("syncobj_idr", { lock: this.syncobjTableLock, base: 1 });
    this.fbsLock = new Mutex("fbs_lock", { owner: this });
    this.eventReadLock = new Mutex("event_read_lock", { owner: this });
  }

  /** The device (minor->dev). */
  get dev(): DrmDevice {
    return this.minor.dev;
  }
}

/**
 * Models drm_is_primary_client().
 * Locking: none; the minor is fixed at open.
 * References: none.
 */
export function drmIsPrimaryClient(file: DrmFile): boolean {
  return file.minor.type === DRM_MINOR_PRIMARY;
}

/**
 * Models drm_is_render_client().
 * Locking: none; the minor is fixed at open.
 * References: none.
 */
export function drmIsRenderClient(file: DrmFile): boolean {
  return file.minor.type === DRM_MINOR_RENDER;
}

/**
 * Models drm_file_alloc(): a new file on `minor`: authenticated if its opener has CAP_SYS_ADMIN
 * ("for compatibility root is always authenticated"), GEM handle table, PRIME cache, then the
 * driver's ->open (whose failure undoes the rest).
 *
 * Locking: none.
 * References: the caller owns the file.
 */
export async function drmFileAlloc(minor: DrmMinor): Promise<DrmFile | Errno> {
  const dev = minor.dev;
  await point("drm_file_alloc");
  const file = kmalloc(drmFileCache, () => new DrmFile(minor));
  if (isErr(file)) return file;
  // for compatibility root is always authenticated
  file.authenticated = capable(CAP_SYS_ADMIN);
  dev.counters.files++;
  if (dev.driver.open) {
    const ret = await dev.driver.open(dev, file);
    if (ret < 0) {
      drmPrimeDestroyFilePrivate(file.prime);
      if (drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) await drmSyncobjRelease(file);
      if (drmCoreCheckFeature(dev, DRIVER_GEM)) await drmGemRelease(dev, file);
      dev.counters.files--;
      kfree(file);
      return ret as Errno;
    }
  }
  return file;
}

/**
 * Models drm_events_release() (at the start of drm_file_free()): under event_lock, every
 * pending event of the file is unlinked from it (`filePriv` = NULL: whoever sends it later
 * frees it, drm_send_event_helper()) and every sent, unread event is freed.
 *
 * The kernel takes event_lock even for a file without events. The model skips the lock and its
 * scheduling point when both lists are empty, which changes no outcome: nothing can add to them
 * any more (a reservation needs an ioctl on this file, which has no users left; a send needs a
 * pending event of it), so the loads are of state no other task can change and an acquire
 * followed by a release with nothing between them commutes with whatever another task does
 * (ARCHITECTURE.md section 1). So the steps of a schedule whose files never had events stay as
 * they were.
 * Locking: takes the device's event_lock (when the file has events).
 * References: frees the unread events.
 */
async function drmEventsRelease(file: DrmFile): Promise<void> {
  const dev = file.minor.dev;
  if (file.pendingEventList.length === 0 && file.eventList.length === 0) return;
  const eventLockTaken = dev.eventLock.lock();
  if (eventLockTaken !== RESOLVED) await eventLockTaken;
  // Unlink pending events
  for (const e of file.pendingEventList.splice(0)) {
    await point(opLabel("drm_events_release: e->file_priv = NULL", e.name));
    e.checkAccess("drm_events_release");
    e.filePriv = null;
  }
  // Remove unconsumed events
  for (const e of file.eventList.splice(0)) kfree(e);
  dev.eventLock.unlockNow();
}

/**
 * Models drm_file_free(): releases everything the file holds: its events (drm_events_release()),
 * its framebuffers (KMS drivers,
 * drm_fb_release()), every sync object handle, every GEM handle (which removes
 * their PRIME cache entries), the master state, the driver's per-file state, then checks the
 * PRIME cache is empty and frees the file.
 *
 * Locking: none; nobody else can reach the file.
 * References: drops every handle; the device reference is dropped by the caller.
 */
export async function drmFileFree(file: DrmFile): Promise<void> {
  const dev = file.minor.dev;
  await point(opLabel("drm_file_free", file.name));
  await drmEventsRelease(file);
  if (drmCoreCheckFeature(dev, DRIVER_MODESET)) await drmFbRelease(file);
  if (drmCoreCheckFeature(dev, DRIVER_SYNCOBJ)) await drmSyncobjRelease(file);
  if (drmCoreCheckFeature(dev, DRIVER_GEM)) await drmGemRelease(dev, file);
  if (drmIsPrimaryClient(file)) await drmMasterRelease(file);
  if (dev.driver.postclose) await dev.driver.postclose(dev, file);
  drmPrimeDestroyFilePrivate(file.prime);
  warnOn(file.eventList.length !== 0, "WARN_ON(!list_empty(&file->event_list))");
  dev.counters.files--;
  kfree(file);
}

/**
 * Models drm_open_helper(): -EBUSY for O_EXCL; allocates the file, joins the master (primary
 * node) and adds it to the device's file list.
 * Locking: takes master_mutex and filelist_mutex.
 * References: the new file is owned by filp->private_data.
 */
async function drmOpenHelper(filp: File, minor: DrmMinor): Promise<number> {
  const dev = minor.dev;
  if (filp.fFlags & O_EXCL) return -EBUSY; // No exclusive opens
  const priv = await drmFileAlloc(minor);
  if (isErr(priv)) return priv;
  if (drmIsPrimaryClient(priv)) {
    const ret = await drmMasterOpen(priv);
    if (ret) {
      await drmFileFree(priv);
      return ret;
    }
  }
  filp.privateData = priv;
  priv.filp = filp;
  const filelistMutexTaken = dev.filelistMutex.lock();
  if (filelistMutexTaken !== RESOLVED) await filelistMutexTaken;
  dev.filelist.add(priv);
  dev.filelistMutex.unlockNow();
  return 0;
}

/**
 * Models drm_open(): the ->open of DRM nodes.
 * Locking: none held; takes filelist_mutex, master_mutex.
 * References: the file holds a device reference until drm_release().
 */
export async function drmOpen(inode: Inode, filp: File): Promise<number> {
  const minor = await drmMinorAcquire(inode);
  if (isErr(minor)) return minor;
  const dev = minor.dev;
  dev.openCount++;
  const ret = await drmOpenHelper(filp, minor);
  if (ret) {
    dev.openCount--;
    await drmDevPut(dev); // drm_minor_release()
    return ret;
  }
  return 0;
}

/**
 * Models drm_close_helper(): unlinks the file from the device and frees it.
 * Locking: takes filelist_mutex.
 * References: frees the file and everything it holds.
 */
async function drmCloseHelper(filp: File): Promise<void> {
  const file = filp.privateData as DrmFile;
  const dev = file.minor.dev;
  const filelistMutexTaken2 = dev.filelistMutex.lock();
  if (filelistMutexTaken2 !== RESOLVED) await filelistMutexTaken2;
  dev.filelist.delete(file);
  dev.filelistMutex.unlockNow();
  await drmFileFree(file);
}

/**
 * Models drm_release(): the ->release of DRM nodes (the file's last fput). The last close of
 * the device runs drm_lastclose(), which only restores the in-kernel DRM clients (not
 * modeled): struct drm_driver has no ->lastclose hook in v6.18.
 * Locking: none held.
 * References: drops the file's handles and its device reference.
 */
export async function drmRelease(_inode: Inode | null, filp: File): Promise<number> {
  const file = filp.privateData as DrmFile;
  const dev = file.minor.dev;
  await drmCloseHelper(filp);
  --dev.openCount; // atomic_dec_and_test(): drm_lastclose() restores in-kernel clients only
  await drmDevPut(dev); // drm_minor_release()
  return 0;
}

/**
 * Models copy_to_user() of an event's bytes to `addr` in the current process: 0 or -EFAULT.
 * Locking: may fault (takes mmap_lock); no spinlock held. References: none.
 */
async function copyEventToUser(addr: number, bytes: Uint8Array): Promise<number> {
  const mm = currentMm();
  if (!mm || !Number.isSafeInteger(addr) || addr < 0) return -EFAULT;
  const ret = await accessVm(mm, addr, bytes.length, bytes);
  return typeof ret === "number" && ret < 0 ? -EFAULT : 0;
}

/**
 * Models drm_read(), the ->read of DRM nodes: whole events only, oldest first, into the user
 * buffer `buf` of `count` bytes; the number of bytes read (a short read stops before the first
 * event that does not fit). With no event: -EAGAIN for O_NONBLOCK, else it sleeps
 * (wait_event_interruptible() on event_wait, event_read_lock dropped) until one is sent;
 * -ERESTARTSYS if a signal ends the sleep, -EINTR if one interrupts event_read_lock. An event
 * that does not fit is put back at the head (event_space taken again) and the wait queue woken;
 * if it is the first, the read returns 0, as the kernel's (`ret` is 0 then, whatever the
 * kernel-doc says about -EINVAL: that is userspace's reading of a 0). A failed copy puts the
 * event back too and gives -EFAULT if nothing was read yet. `buf`'s range is checked by vfs_read().
 * Locking: takes event_read_lock, then event_lock around each dequeue and put-back; copies with
 * event_read_lock held.
 * References: frees each event read.
 */
export async function drmRead(filp: File, buf: number, count: number): Promise<number> {
  const filePriv = filp.privateData as DrmFile;
  const dev = filePriv.minor.dev;
  let ret = await filePriv.eventReadLock.lockInterruptible();
  if (ret) return ret;
  for (;;) {
    let e: DrmPendingEvent | null = null;
    await dev.eventLock.lock(); // spin_lock_irq()
    if (filePriv.eventList.length > 0) {
      e = filePriv.eventList.shift()!;
      filePriv.eventSpace += e.event!.length;
    }
    dev.eventLock.unlockNow();
    if (e === null) {
      if (ret) break;
      if (filp.fFlags & O_NONBLOCK) {
        ret = -EAGAIN;
        break;
      }
      filePriv.eventReadLock.unlockNow();
      ret = await waitEventInterruptible(
        filePriv.eventWait.readers,
        () => filePriv.eventList.length > 0,
        "drm_read",
      );
      if (ret >= 0) ret = await filePriv.eventReadLock.lockInterruptible();
      if (ret) return ret;
    } else {
      await point(opLabel("drm_read", e.name));
      e.checkAccess("drm_read");
      const length = e.event!.length;
      let putBack = length > count - ret;
      if (!putBack && (await copyEventToUser(buf + ret, e.event!.bytes())) !== 0) {
        if (ret === 0) ret = -EFAULT;
        putBack = true;
      }
      if (putBack) {
        // put_back_event:
        const eventLockTaken2 = dev.eventLock.lock();
        if (eventLockTaken2 !== RESOLVED) await eventLockTaken2;
        filePriv.eventSpace -= length;
        filePriv.eventList.unshift(e); // list_add()
        dev.eventLock.unlockNow();
        wakeUpInterruptiblePoll(filePriv.eventWait, EPOLLIN | EPOLLRDNORM);
        break;
      }
      ret += length;
      kfree(e);
    }
  }
  filePriv.eventReadLock.unlockNow();
  return ret;
}

/**
 * Models drm_poll(), the ->poll of DRM nodes: registers on event_wait; EPOLLIN | EPOLLRDNORM
 * while an event is waiting to be read.
 * Locking: none (the list is read without event_lock, as in the kernel).
 * References: the registration holds the file (poll_wait()).
 */
export async function drmPoll(filp: File, pt: PollTable | null): Promise<number> {
  const filePriv = filp.privateData as DrmFile;
  let mask = 0;
  await pollWait(filp, filePriv.eventWait, pt);
  if (filePriv.eventList.length > 0) mask |= EPOLLIN | EPOLLRDNORM;
  return mask;
}

/**
 * Models drm_event_reserve_init_locked(): -ENOMEM if the file's event_space has no room for
 * `e`; else the room is taken, `p` gets `e` and is added at the head of the file's
 * pending_event_list, and linked to the file.
 * Locking: event_lock held.
 * References: none (the event holds none on the file).
 */
export function drmEventReserveInitLocked(
  dev: DrmDevice,
  filePriv: DrmFile,
  p: DrmPendingEvent,
  e: DrmEvent,
): number {
  lockdepAssertHeld(dev.eventLock);
  if (filePriv.eventSpace < e.length) return -ENOMEM;
  filePriv.eventSpace -= e.length;
  p.event = e;
  filePriv.pendingEventList.unshift(p); // list_add()
  p.filePriv = filePriv;
  return 0;
}

/**
 * Models drm_event_reserve_init(): drm_event_reserve_init_locked() under event_lock. 0 or
 * -ENOMEM.
 * Locking: takes event_lock.
 * References: none.
 */
export async function drmEventReserveInit(
  dev: DrmDevice,
  filePriv: DrmFile,
  p: DrmPendingEvent,
  e: DrmEvent,
): Promise<number> {
  await dev.eventLock.lock(); // spin_lock_irqsave()
  const ret = drmEventReserveInitLocked(dev, filePriv, p, e);
  dev.eventLock.unlockNow();
  return ret;
}

/**
 * Models drm_event_cancel_free(): an event that will not be sent: under event_lock, if it is
 * still linked to its file, the room is given back and it leaves the pending list; then its
 * fence reference is dropped and it is freed.
 * Locking: takes event_lock.
 * References: drops the event's fence reference; frees the event.
 */
export async function drmEventCancelFree(dev: DrmDevice, p: DrmPendingEvent): Promise<void> {
  const eventLockTaken3 = dev.eventLock.lock();
  if (eventLockTaken3 !== RESOLVED) await eventLockTaken3;
  if (p.filePriv) {
    p.filePriv.eventSpace += p.event!.length;
    removePending(p.filePriv, p);
  }
  dev.eventLock.unlockNow();
  if (p.fence) await dmaFencePut(p.fence);
  kfree(p);
}

/** list_del(&e->pending_link). Locking: event_lock held. */
function removePending(filePriv: DrmFile, e: DrmPendingEvent): void {
  lockdepAssertHeld(filePriv.dev.eventLock);
  const i = filePriv.pendingEventList.indexOf(e);
  if (i >= 0) filePriv.pendingEventList.splice(i, 1);
}

/**
 * Models drm_send_event_helper(): completes the event's completion (a KMS commit's flip_done)
 * and calls its completion_release, if any; signals and puts the event's fence, if any; frees the event if
 * its file is gone (`filePriv` NULL); else moves it from the file's pending list to the tail of
 * its event_list and wakes the file's readers and pollers (EPOLLIN | EPOLLRDNORM).
 * Locking: event_lock held (assert_spin_locked()).
 * References: drops the event's fence reference; the event passes to the file's list, or is freed.
 */
async function drmSendEventHelper(dev: DrmDevice, e: DrmPendingEvent): Promise<void> {
  lockdepAssertHeld(dev.eventLock);
  await point(opLabel("drm_send_event", e.name));
  e.checkAccess("drm_send_event_helper");
  if (e.completion) {
    e.completionOwner?.checkAccess("drm_send_event_helper: complete_all(e->completion)");
    e.completion.completeAll();
    await e.completionRelease!(e.completion);
    e.completion = null;
  }
  if (e.fence) {
    await dmaFenceSignal(e.fence);
    const dmaFencePutDone = dmaFencePut(e.fence);
    if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  }
  const filePriv = e.filePriv;
  if (!filePriv) {
    kfree(e);
    return;
  }
  filePriv.checkAccess("drm_send_event_helper");
  removePending(filePriv, e);
  filePriv.eventList.push(e); // list_add_tail()
  wakeUpInterruptiblePoll(filePriv.eventWait, EPOLLIN | EPOLLRDNORM);
}

/**
 * Models drm_send_event_timestamp_locked(): drm_send_event_helper() (the timestamp given to the
 * event's fence is not modeled: see the file comment).
 * Locking: event_lock held.
 * References: as drm_send_event_helper().
 */
export function drmSendEventTimestampLocked(
  dev: DrmDevice,
  e: DrmPendingEvent,
  _timestamp: number,
): Promise<void> {
  return drmSendEventHelper(dev, e);
}

/**
 * Models drm_send_event_locked(): sends `e` (initialized with drm_event_reserve_init()) to its
 * file, or frees it if the file was closed.
 * Locking: event_lock held.
 * References: as drm_send_event_helper().
 */
export function drmSendEventLocked(dev: DrmDevice, e: DrmPendingEvent): Promise<void> {
  return drmSendEventHelper(dev, e);
}

/**
 * Models drm_send_event(): drm_send_event_locked() under event_lock.
 * Locking: takes event_lock.
 * References: as drm_send_event_helper().
 */
export async function drmSendEvent(dev: DrmDevice, e: DrmPendingEvent): Promise<void> {
  await dev.eventLock.lock(); // spin_lock_irqsave()
  await drmSendEventHelper(dev, e);
  dev.eventLock.unlockNow();
}

/** Models noop_llseek(): the position, unchanged (a module-level function, not one per call). */
async function drmNoopLlseek(file: File): Promise<number> {
  return file.fPos;
}

/**
 * Models DEFINE_DRM_GEM_FOPS: the file operations of a DRM node (drm_open, drm_release,
 * drm_ioctl, drm_gem_mmap, noop_llseek, drm_read, drm_poll), with the driver's overrides.
 * Locking: none.
 * References: none.
 */
export function drmFops(dev: DrmDevice): FileOperations {
  return fileOperations({
    owner: dev.driver.name,
    open: drmOpen,
    release: drmRelease,
    unlockedIoctl: drmIoctl,
    mmap: drmGemMmap,
    llseek: drmNoopLlseek,
    read: drmRead,
    poll: drmPoll,
    ...dev.driver.fops,
  });
}
