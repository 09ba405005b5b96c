/**
 * sync_file (drivers/dma-buf/sync_file.c, include/uapi/linux/sync_file.h): a fence handed to
 * userspace as a file ("anon_inode:sync_file"). The sync_file holds one reference on its fence,
 * dropped when the file is released; poll(2) on it reports EPOLLIN once the fence has signalled.
 * Other kernel code takes the fence back from an fd with syncFileGetFence().
 *
 * Simplifications: one fence per sync_file (no SYNC_IOC_MERGE, no dma_fence_array /
 * dma_fence_chain unwrapping); SYNC_IOC_FILE_INFO reports the name and status only (num_fences
 * 1, no per-fence info array).
 */

import {
  anonInodeGetfile,
  EFAULT,
  EINVAL,
  ENOTTY,
  EPOLLIN,
  type File,
  type FileOperations,
  fget,
  fileOperations,
  fput,
  type IoctlArg,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  O_RDONLY,
  type PollTable,
  type PollTableEntry,
  pollWait,
  SlabObject,
  SpinLock,
  wakeUpPoll,
} from "@primetime/kernel";
import { point, RESOLVED } from "@primetime/sim";
import { SYNC_IOC_FILE_INFO, type SyncFileInfo } from "@primetime/uapi";
import {
  type DmaFence,
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFenceGet,
  dmaFenceGetStatus,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceRemoveCallback,
  dmaFenceSignal,
} from "./dma-fence.js";

/** The uapi of include/uapi/linux/sync_file.h, from @primetime/uapi. */
export {
  SYNC_FILE_INFO_SIZE,
  SYNC_IOC_FILE_INFO,
  SYNC_IOC_MAGIC,
  type SyncFileInfo,
} from "@primetime/uapi";

/** Models sync_file->flags' POLL_ENABLED bit. */
const POLL_ENABLED = 1;

/** The slab cache of sync_files (kzalloc() in sync_file_alloc()). */
export const syncFileCache = new KmemCache("sync_file");

/**
 * Models struct sync_file.
 * Locking: `flags` and the callback are set by poll under the fence lock's protection (the
 * callback list) and read at release; the rest is set at creation.
 * References: one on `fence`, dropped by the file's release.
 */
export class SyncFile extends SlabObject {
  /** Models sync_file->file. */
  file: File | null = null;
  /** Models sync_file->fence. */
  fence: DmaFence | null = null;
  /** Models sync_file->flags. */
  flags = 0;
  /** Models sync_file->wq: poll(2) waits here. */
  readonly wq = { entries: new Set<PollTableEntry>() };
  /** Models sync_file->cb: queued on the fence by the first poll. */
  readonly cb: SyncFileCb;

  constructor() {
    super();
    this.cb = new SyncFileCb(this);
  }
}

/** Models sync_file->cb, with the container_of() back to its sync_file. */
class SyncFileCb extends DmaFenceCb {
  constructor(readonly syncFile: SyncFile) {
    super("sync_file_cb");
  }
}

/** Models sync_file_fops. */
export const syncFileFops: FileOperations = fileOperations({
  owner: "sync_file",
  release: (_inode, file) => syncFileRelease(file),
  poll: (file, pt) => syncFilePoll(file, pt),
  unlockedIoctl: (file, cmd, arg) => syncFileIoctl(file, cmd, arg),
});

/**
 * Models sync_file_alloc(): a sync_file with its anonymous file (O_RDONLY), no fence yet.
 * Returns null on an allocation failure.
 * Locking: may sleep.
 * References: the file's one reference is the caller's.
 */
async function syncFileAlloc(): Promise<SyncFile | null> {
  const sf = kmalloc(syncFileCache, () => new SyncFile());
  if (isErr(sf)) return null;
  const file = await anonInodeGetfile("sync_file", syncFileFops, sf, O_RDONLY);
  if (isErr(file)) {
    kfree(sf);
    return null;
  }
  sf.file = file;
  return sf;
}

/**
 * Models sync_file_create(fence): a new sync_file holding `fence`, or null (-ENOMEM).
 * Locking: may sleep.
 * References: takes one on `fence` (the sync_file's); the caller owns the file's reference
 * (fd_install() it or fput() it).
 */
export async function syncFileCreate(fence: DmaFence): Promise<SyncFile | null> {
  const sf = await syncFileAlloc();
  if (!sf) return null;
  sf.fence = await dmaFenceGet(fence);
  return sf;
}

/**
 * Models sync_file_fdget(fd): the sync_file behind an fd of the current process, holding its
 * file; null if the fd is not open or not a sync_file.
 * Locking: takes the fd table's lock.
 * References: takes one on the file (the caller fput()s sync_file.file).
 */
async function syncFileFdget(fd: number): Promise<SyncFile | null> {
  const file = await fget(fd);
  if (!file) return null;
  if (file.fOp !== syncFileFops) {
    const fputDone = fput(file);
    if (fputDone !== RESOLVED) await fputDone;
    return null;
  }
  return file.privateData as SyncFile;
}

/**
 * Models sync_file_get_fence(fd): the fence of the sync_file at `fd`, or null.
 * Locking: takes the fd table's lock.
 * References: returns a new reference on the fence (the caller puts it); the file's temporary
 * one is dropped.
 */
export async function syncFileGetFence(fd: number): Promise<DmaFence | null> {
  const sf = await syncFileFdget(fd);
  if (!sf) return null;
  const fence = await dmaFenceGet(sf.fence);
  const fputDone2 = fput(sf.file!);
  if (fputDone2 !== RESOLVED) await fputDone2;
  return fence;
}

/**
 * Models sync_file_release(), the file's ->release: removes the poll callback if one was
 * queued, drops the fence and frees the sync_file.
 * Locking: from __fput(); takes the fence lock.
 * References: drops the sync_file's fence reference.
 */
async function syncFileRelease(file: File): Promise<number> {
  const sf = file.privateData as SyncFile;
  await point(`sync_file_release(${sf.name})`);
  if (sf.flags & POLL_ENABLED) await dmaFenceRemoveCallback(sf.fence!, sf.cb);
  const dmaFencePutDone = dmaFencePut(sf.fence);
  if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  kfree(sf);
  return 0;
}

/**
 * Models fence_check_cb_func(): the fence signalled: wake the sync_file's pollers.
 * Locking: under the fence lock.
 * References: none.
 */
function fenceCheckCbFunc(fence: DmaFence, cb: DmaFenceCb): void {
  lockdepAssertHeld(fence.lock!);
  wakeUpPoll((cb as SyncFileCb).syncFile.wq, 0);
}

/**
 * Models sync_file_poll(), the file's ->poll: registers on the sync_file's wait queue, queues
 * the wakeup callback on the fence the first time (waking at once if it already signalled), and
 * reports EPOLLIN once the fence has signalled.
 * Locking: takes the fence lock.
 * References: the callback relies on the sync_file's own fence reference (removed at release).
 */
async function syncFilePoll(file: File, pt: PollTable | null): Promise<number> {
  const sf = file.privateData as SyncFile;
  await pollWait(file, sf.wq, pt);
  if (sf.cb.fence === null && !(sf.flags & POLL_ENABLED)) {
    sf.flags |= POLL_ENABLED;
    if ((await dmaFenceAddCallback(sf.fence!, sf.cb, fenceCheckCbFunc)) < 0) wakeUpPoll(sf.wq, 0);
  }
  return (await dmaFenceIsSignaled(sf.fence!)) ? EPOLLIN : 0;
}

/**
 * Models sync_file_ioctl_fence_info() for a sync_file of one fence: the fence's driver name as
 * the name, its status (1 signalled, 0 active, < 0 error), num_fences 1; `flags` and `pad` must
 * be 0 (-EINVAL).
 * Locking: takes the fence lock.
 * References: none kept.
 */
async function syncFileIoctlFenceInfo(sf: SyncFile, arg: IoctlArg): Promise<number> {
  if (arg === null || typeof arg !== "object") return -EFAULT;
  const info = arg as SyncFileInfo;
  if (info.flags || info.pad) return -EINVAL;
  const fence = sf.fence!;
  info.name = fence.ops.getDriverName(fence);
  info.status = await dmaFenceGetStatus(fence);
  info.num_fences = 1;
  return 0;
}

/**
 * Models sync_file_ioctl(): SYNC_IOC_FILE_INFO; anything else is -ENOTTY.
 * Locking: see the command.
 * References: the caller holds the file.
 */
async function syncFileIoctl(file: File, cmd: number, arg: IoctlArg): Promise<number> {
  const sf = file.privateData as SyncFile;
  if (cmd === SYNC_IOC_FILE_INFO) return syncFileIoctlFenceInfo(sf, arg);
  return -ENOTTY;
}

const stubLock = new SpinLock("dma_fence_stub_lock");

/**
 * Models dma_fence_allocate_private_stub(): a new fence of its own context, already signalled
 * (what DMA_BUF_IOCTL_EXPORT_SYNC_FILE hands out for a buffer with no fences, where the kernel
 * uses the shared stub). Null on an allocation failure.
 * Locking: takes the stub lock.
 * References: returns the fence with one reference, the caller's.
 */
export async function dmaFenceAllocatePrivateStub(): Promise<DmaFence | null> {
  const fence = dmaFenceCreate(
    { getDriverName: () => "stub", getTimelineName: () => "signaled" },
    stubLock,
    dmaFenceContextAlloc(1),
    0,
  );
  if (isErr(fence)) return null;
  await dmaFenceSignal(fence);
  return fence;
}
