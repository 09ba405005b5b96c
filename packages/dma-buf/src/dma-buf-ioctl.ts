/**
 * The ioctls of a dma-buf fd (drivers/dma-buf/dma-buf.c: dma_buf_ioctl(),
 * dma_buf_export_sync_file(), dma_buf_import_sync_file(); include/uapi/linux/dma-buf.h):
 * exchanging the buffer's implicit fences with sync_files (since 6.0).
 *
 * DMA_BUF_IOCTL_IMPORT_SYNC_FILE adds the sync_file's fence to the buffer's reservation object
 * with the usage its flags give (DMA_BUF_SYNC_WRITE: a write fence, else a read fence): a later
 * fence of the same context replaces an earlier one (dma_resv_add_fence()), dropping the
 * reservation's reference on it. DMA_BUF_IOCTL_EXPORT_SYNC_FILE returns a sync_file fd for the
 * fences an access with those flags would wait for.
 *
 * DMA_BUF_IOCTL_SYNC brackets CPU access (begin: the exporter's ->begin_cpu_access, then a wait
 * for the fences the access must wait for; end: ->end_cpu_access). DMA_BUF_SET_NAME sets the
 * name bufinfo (and the kernel's /proc fd links) show, under the dma-buf's name_lock.
 *
 * Several fences are exported as one dma_fence_array (dma_resv_get_singleton()); an imported
 * sync_file's fence is unwrapped (dma_fence_unwrap_for_each()) and each fence it stands for is
 * added.
 *
 * Simplifications: SET_NAME's `const char __user *` is the `name` field of the argument object
 * (user pointers are objects in this model).
 */

import {
  EFAULT,
  EINVAL,
  ENOMEM,
  ENOTTY,
  type File,
  fdInstall,
  getUnusedFdFlags,
  type IoctlArg,
  isErr,
  O_CLOEXEC,
  putUnusedFd,
} from "@primetime/kernel";
import { point, RESOLVED } from "@primetime/sim";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_NAME_LEN,
  DMA_BUF_SET_NAME_A,
  DMA_BUF_SET_NAME_B,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_VALID_FLAGS_MASK,
  DMA_BUF_SYNC_WRITE,
  type DmaBufSetNameArg,
  type DmaBufSyncArg,
  type DmaBufSyncFileArg,
} from "@primetime/uapi";
import type { DmaBuf } from "./dma-buf.js";
import { DmaDataDirection } from "./dma-buf-attachment.js";
import { type DmaFence, dmaFencePut, MAX_SCHEDULE_TIMEOUT } from "./dma-fence.js";
import { dmaFenceUnwrapForEach } from "./dma-fence-unwrap.js";
import {
  DmaResvUsage,
  dmaResvAddFence,
  dmaResvGetSingleton,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaResvUsageRw,
  dmaResvWaitTimeout,
} from "./dma-resv.js";
import { dmaFenceAllocatePrivateStub, syncFileCreate, syncFileGetFence } from "./sync-file.js";

/** The uapi of include/uapi/linux/dma-buf.h, from @primetime/uapi. */
export {
  DMA_BUF_BASE,
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_NAME_LEN,
  DMA_BUF_SET_NAME_A,
  DMA_BUF_SET_NAME_B,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_VALID_FLAGS_MASK,
  DMA_BUF_SYNC_WRITE,
  type DmaBufSetNameArg,
  type DmaBufSyncArg,
  type DmaBufSyncFileArg,
} from "@primetime/uapi";

/**
 * Models dma_buf_begin_cpu_access(): the exporter's ->begin_cpu_access, then (if it succeeded)
 * __dma_buf_begin_cpu_access(): an interruptible wait for the fences the access must wait for
 * (a writer waits for readers and writers). Returns 0 or a negative errno.
 * Locking: may take the reservation lock (might_lock); may sleep.
 * References: the caller holds the dma-buf.
 */
export async function dmaBufBeginCpuAccess(
  dmabuf: DmaBuf,
  direction: DmaDataDirection,
): Promise<number> {
  let ret = 0;
  if (dmabuf.ops.beginCpuAccess) ret = await dmabuf.ops.beginCpuAccess(dmabuf, direction);
  // Ensure that all fences are waited upon, after the native handler had its chance.
  if (ret === 0) {
    const write =
      direction === DmaDataDirection.BIDIRECTIONAL || direction === DmaDataDirection.TO_DEVICE;
    const r = await dmaResvWaitTimeout(
      dmabuf.resv,
      dmaResvUsageRw(write),
      true,
      MAX_SCHEDULE_TIMEOUT,
    );
    if (r < 0) ret = r;
  }
  return ret;
}

/**
 * Models dma_buf_end_cpu_access(): the exporter's ->end_cpu_access, if any.
 * Locking: may take the reservation lock (might_lock); may sleep.
 * References: the caller holds the dma-buf.
 */
export async function dmaBufEndCpuAccess(
  dmabuf: DmaBuf,
  direction: DmaDataDirection,
): Promise<number> {
  return dmabuf.ops.endCpuAccess ? dmabuf.ops.endCpuAccess(dmabuf, direction) : 0;
}

/**
 * Models the DMA_BUF_IOCTL_SYNC case of dma_buf_ioctl(): -EFAULT for a bad argument, -EINVAL for
 * flags outside DMA_BUF_SYNC_VALID_FLAGS_MASK or without a direction; then begin (START) or end
 * (END) CPU access in the direction the flags give.
 * Locking: see dmaBufBeginCpuAccess().
 * References: the caller holds the file.
 */
async function dmaBufIoctlSync(dmabuf: DmaBuf, arg: IoctlArg): Promise<number> {
  if (arg === null || typeof arg !== "object") return -EFAULT;
  const flags = (arg as DmaBufSyncArg).flags;
  if (!Number.isInteger(flags)) return -EFAULT;
  if (flags & ~DMA_BUF_SYNC_VALID_FLAGS_MASK) return -EINVAL;
  let direction: DmaDataDirection;
  switch (flags & DMA_BUF_SYNC_RW) {
    case DMA_BUF_SYNC_READ:
      direction = DmaDataDirection.FROM_DEVICE;
      break;
    case DMA_BUF_SYNC_WRITE:
      direction = DmaDataDirection.TO_DEVICE;
      break;
    case DMA_BUF_SYNC_RW:
      direction = DmaDataDirection.BIDIRECTIONAL;
      break;
    default:
      return -EINVAL;
  }
  return flags & DMA_BUF_SYNC_END
    ? dmaBufEndCpuAccess(dmabuf, direction)
    : dmaBufBeginCpuAccess(dmabuf, direction);
}

/**
 * Models dma_buf_set_name(): strndup_user() of the name (-EFAULT for a bad pointer, -EINVAL if
 * it does not fit DMA_BUF_NAME_LEN with its NUL), then, under name_lock, the old name is freed
 * and the new one set.
 * Locking: takes name_lock.
 * References: none.
 */
async function dmaBufSetName(dmabuf: DmaBuf, arg: IoctlArg): Promise<number> {
  if (arg === null || typeof arg !== "object") return -EFAULT;
  const name = (arg as DmaBufSetNameArg).name;
  if (typeof name !== "string") return -EFAULT;
  if (name.length + 1 > DMA_BUF_NAME_LEN) return -EINVAL; // strndup_user(): too long
  const nameLockTaken = dmabuf.nameLock.lock();
  if (nameLockTaken !== RESOLVED) await nameLockTaken;
  dmabuf.bufName = name;
  dmabuf.nameLock.unlockNow();
  return 0;
}

function syncFileArg(arg: IoctlArg): DmaBufSyncFileArg | null {
  if (arg === null || typeof arg !== "object") return null;
  const a = arg as DmaBufSyncFileArg;
  return Number.isInteger(a.flags) ? a : null;
}

/**
 * Models dma_buf_export_sync_file(): a sync_file at a new O_CLOEXEC fd (returned in `fd`) for
 * the fences an access with `flags` waits for (a signalled stub if there are none). -EFAULT for a
 * bad argument, -EINVAL for bad flags, the fd allocation's errno, -ENOMEM.
 * Locking: takes the fd table's lock; reads the reservation object locklessly.
 * References: the sync_file takes one on the fence; the fd holds the sync_file's file.
 */
export async function dmaBufExportSyncFile(dmabuf: DmaBuf, arg: IoctlArg): Promise<number> {
  const a = syncFileArg(arg);
  if (!a) return -EFAULT;
  if (a.flags & ~DMA_BUF_SYNC_RW) return -EINVAL;
  if ((a.flags & DMA_BUF_SYNC_RW) === 0) return -EINVAL;
  const fd = await getUnusedFdFlags(O_CLOEXEC);
  if (fd < 0) return fd;
  const usage = dmaResvUsageRw((a.flags & DMA_BUF_SYNC_WRITE) !== 0);
  const single = await dmaResvGetSingleton(dmabuf.resv, usage);
  if (isErr(single)) {
    await putUnusedFd(fd);
    return single;
  }
  let fence: DmaFence | null = single ?? (await dmaFenceAllocatePrivateStub());
  if (!fence) {
    await putUnusedFd(fd);
    return -ENOMEM;
  }
  const syncFile = await syncFileCreate(fence);
  const dmaFencePutDone = dmaFencePut(fence);
  if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  fence = null;
  if (!syncFile) {
    await putUnusedFd(fd);
    return -ENOMEM;
  }
  a.fd = fd;
  const fdInstallDone = fdInstall(fd, syncFile.file!);
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  return 0;
}

/**
 * Models dma_buf_import_sync_file(): adds the fences of the sync_file at `fd` to the buffer's
 * reservation object as write fences (DMA_BUF_SYNC_WRITE) or read fences. A container (the
 * dma_fence_array of an EXPORT_SYNC_FILE of several fences, a syncobj's dma_fence_chain) is
 * unwrapped: the fences it stands for are counted (dma_fence_unwrap_for_each()), then, if there
 * are any, under the reservation lock that many slots are reserved and each fence is added.
 * -EFAULT for a bad argument, -EINVAL for bad flags or an fd that is not a sync_file, the
 * reservation's -ENOMEM.
 * Locking: takes the reservation lock (only when there is a fence to add).
 * References: the reservation object takes one on each fence added (and drops its reference on
 * a fence it replaces); the temporary one from the sync_file is dropped.
 */
export async function dmaBufImportSyncFile(dmabuf: DmaBuf, arg: IoctlArg): Promise<number> {
  const a = syncFileArg(arg);
  if (!a || !Number.isInteger(a.fd)) return -EFAULT;
  if (a.flags & ~DMA_BUF_SYNC_RW) return -EINVAL;
  if ((a.flags & DMA_BUF_SYNC_RW) === 0) return -EINVAL;
  const fence = await syncFileGetFence(a.fd!);
  if (!fence) return -EINVAL;
  const usage = a.flags & DMA_BUF_SYNC_WRITE ? DmaResvUsage.WRITE : DmaResvUsage.READ;
  let numFences = 0;
  await dmaFenceUnwrapForEach(fence, () => {
    ++numFences;
  });
  let ret = 0;
  if (numFences > 0) {
    await dmaResvLock(dmabuf.resv);
    ret = await dmaResvReserveFences(dmabuf.resv, numFences);
    if (!ret) await dmaFenceUnwrapForEach(fence, (f) => dmaResvAddFence(dmabuf.resv, f, usage));
    const dmaResvUnlockDone = dmaResvUnlock(dmabuf.resv);
    if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
  }
  const dmaFencePutDone2 = dmaFencePut(fence);
  if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
  return ret;
}

/**
 * Models dma_buf_ioctl(), the dma-buf file's ->unlocked_ioctl: SYNC, SET_NAME (A and B),
 * EXPORT_SYNC_FILE and IMPORT_SYNC_FILE; anything else is -ENOTTY.
 * Locking: see each command.
 * References: the caller holds the file.
 */
export async function dmaBufIoctl(file: File, cmd: number, arg: IoctlArg): Promise<number> {
  const dmabuf = file.privateData as DmaBuf | null;
  if (!dmabuf) return -EINVAL;
  await point(`dma_buf_ioctl(${dmabuf.name})`);
  switch (cmd) {
    case DMA_BUF_IOCTL_SYNC:
      return dmaBufIoctlSync(dmabuf, arg);
    case DMA_BUF_SET_NAME_A:
    case DMA_BUF_SET_NAME_B:
      return dmaBufSetName(dmabuf, arg);
    case DMA_BUF_IOCTL_EXPORT_SYNC_FILE:
      return dmaBufExportSyncFile(dmabuf, arg);
    case DMA_BUF_IOCTL_IMPORT_SYNC_FILE:
      return dmaBufImportSyncFile(dmabuf, arg);
    default:
      return -ENOTTY;
  }
}
