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
 * Simplifications: no DMA_BUF_IOCTL_SYNC (the simulated CPU is coherent) or DMA_BUF_SET_NAME
 * (-ENOTTY); export needs at most one such fence (dma_resv_get_singleton() would merge several
 * into a dma_fence_array, which is not modeled: -EOPNOTSUPP then); no fence unwrapping on
 * import (a sync_file holds one fence).
 */

import {
  EFAULT,
  EINVAL,
  ENOMEM,
  ENOTTY,
  EOPNOTSUPP,
  type File,
  fdInstall,
  getUnusedFdFlags,
  type IoctlArg,
  isErr,
  O_CLOEXEC,
  putUnusedFd,
} from "@primetime/kernel";
import { point } from "@primetime/sim";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_WRITE,
  type DmaBufSyncFileArg,
} from "@primetime/uapi";
import type { DmaBuf } from "./dma-buf.js";
import { type DmaFence, dmaFencePut } from "./dma-fence.js";
import {
  DmaResvUsage,
  dmaResvAddFence,
  dmaResvGetFences,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaResvUsageRw,
} from "./dma-resv.js";
import { dmaFenceAllocatePrivateStub, syncFileCreate, syncFileGetFence } from "./sync-file.js";

/** The uapi of include/uapi/linux/dma-buf.h, from @primetime/uapi. */
export {
  DMA_BUF_BASE,
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_WRITE,
  type DmaBufSyncFileArg,
} from "@primetime/uapi";

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
  // dma_resv_get_singleton()
  const fences = await dmaResvGetFences(dmabuf.resv, usage);
  if (isErr(fences)) {
    await putUnusedFd(fd);
    return fences;
  }
  let fence: DmaFence | null;
  if (fences.length > 1) {
    for (const f of fences) await dmaFencePut(f);
    await putUnusedFd(fd);
    return -EOPNOTSUPP;
  }
  fence = fences[0] ?? (await dmaFenceAllocatePrivateStub());
  if (!fence) {
    await putUnusedFd(fd);
    return -ENOMEM;
  }
  const syncFile = await syncFileCreate(fence);
  await dmaFencePut(fence);
  fence = null;
  if (!syncFile) {
    await putUnusedFd(fd);
    return -ENOMEM;
  }
  a.fd = fd;
  await fdInstall(fd, syncFile.file!);
  return 0;
}

/**
 * Models dma_buf_import_sync_file(): adds the fence of the sync_file at `fd` to the buffer's
 * reservation object as a write fence (DMA_BUF_SYNC_WRITE) or a read fence: under the
 * reservation lock, reserves a slot and adds it. -EFAULT for a bad argument, -EINVAL for bad
 * flags or an fd that is not a sync_file, the reservation's -ENOMEM.
 * Locking: takes the reservation lock.
 * References: the reservation object takes one on the fence (and drops its reference on a fence
 * it replaces); the temporary one from the sync_file is dropped.
 */
export async function dmaBufImportSyncFile(dmabuf: DmaBuf, arg: IoctlArg): Promise<number> {
  const a = syncFileArg(arg);
  if (!a || !Number.isInteger(a.fd)) return -EFAULT;
  if (a.flags & ~DMA_BUF_SYNC_RW) return -EINVAL;
  if ((a.flags & DMA_BUF_SYNC_RW) === 0) return -EINVAL;
  const fence = await syncFileGetFence(a.fd!);
  if (!fence) return -EINVAL;
  const usage = a.flags & DMA_BUF_SYNC_WRITE ? DmaResvUsage.WRITE : DmaResvUsage.READ;
  await dmaResvLock(dmabuf.resv);
  const ret = await dmaResvReserveFences(dmabuf.resv, 1);
  if (!ret) await dmaResvAddFence(dmabuf.resv, fence, usage);
  await dmaResvUnlock(dmabuf.resv);
  await dmaFencePut(fence);
  return ret;
}

/**
 * Models dma_buf_ioctl(), the dma-buf file's ->unlocked_ioctl: EXPORT_SYNC_FILE and
 * IMPORT_SYNC_FILE; anything else is -ENOTTY.
 * Locking: see each command.
 * References: the caller holds the file.
 */
export async function dmaBufIoctl(file: File, cmd: number, arg: IoctlArg): Promise<number> {
  const dmabuf = file.privateData as DmaBuf | null;
  if (!dmabuf) return -EINVAL;
  await point(`dma_buf_ioctl(${dmabuf.name})`);
  if (cmd === DMA_BUF_IOCTL_EXPORT_SYNC_FILE) return dmaBufExportSyncFile(dmabuf, arg);
  if (cmd === DMA_BUF_IOCTL_IMPORT_SYNC_FILE) return dmaBufImportSyncFile(dmabuf, arg);
  return -ENOTTY;
}
