/**
 * include/uapi/linux/dma-buf.h, the parts in use: the ioctl type, the sync flags and the sync_file
 * import/export requests (DMA_BUF_IOCTL_SYNC and DMA_BUF_SET_NAME are not modeled).
 */

import { _IOW, _IOWR } from "../asm-generic/ioctl.js";

/** Models DMA_BUF_BASE. */
export const DMA_BUF_BASE = "b";
/** Models DMA_BUF_SYNC_READ. */
export const DMA_BUF_SYNC_READ = 1 << 0;
/** Models DMA_BUF_SYNC_WRITE. */
export const DMA_BUF_SYNC_WRITE = 2 << 0;
/** Models DMA_BUF_SYNC_RW. */
export const DMA_BUF_SYNC_RW = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;

/** Models struct dma_buf_export_sync_file / dma_buf_import_sync_file: `__u32 flags; __s32 fd`. */
export interface DmaBufSyncFileArg {
  flags: number;
  fd?: number;
}
/** sizeof(struct dma_buf_export_sync_file) (and of the import struct). */
export const DMA_BUF_SYNC_FILE_SIZE = 8;

/** Models DMA_BUF_IOCTL_EXPORT_SYNC_FILE: _IOWR(DMA_BUF_BASE, 2, struct dma_buf_export_sync_file). */
export const DMA_BUF_IOCTL_EXPORT_SYNC_FILE = _IOWR(DMA_BUF_BASE, 2, DMA_BUF_SYNC_FILE_SIZE);
/** Models DMA_BUF_IOCTL_IMPORT_SYNC_FILE: _IOW(DMA_BUF_BASE, 3, struct dma_buf_import_sync_file). */
export const DMA_BUF_IOCTL_IMPORT_SYNC_FILE = _IOW(DMA_BUF_BASE, 3, DMA_BUF_SYNC_FILE_SIZE);
