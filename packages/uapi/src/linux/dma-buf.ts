/**
 * include/uapi/linux/dma-buf.h: the ioctl type, DMA_BUF_IOCTL_SYNC and its flags,
 * DMA_BUF_SET_NAME (A/B), and the sync_file import/export requests.
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

/** Models DMA_BUF_SYNC_START. */
export const DMA_BUF_SYNC_START = 0 << 2;
/** Models DMA_BUF_SYNC_END. */
export const DMA_BUF_SYNC_END = 1 << 2;
/** Models DMA_BUF_SYNC_VALID_FLAGS_MASK. */
export const DMA_BUF_SYNC_VALID_FLAGS_MASK = DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END;
/** Models DMA_BUF_NAME_LEN: a name's size with its NUL. */
export const DMA_BUF_NAME_LEN = 32;
/** Models struct dma_buf_sync: `__u64 flags`. */
export interface DmaBufSyncArg {
  flags: number;
}
/** Models DMA_BUF_IOCTL_SYNC: _IOW(DMA_BUF_BASE, 0, struct dma_buf_sync). */
export const DMA_BUF_IOCTL_SYNC = _IOW(DMA_BUF_BASE, 0, 8);
/**
 * The argument of DMA_BUF_SET_NAME: the user's `const char *` (user pointers are objects in this
 * model, so the string is the `name` field).
 */
export interface DmaBufSetNameArg {
  name: string;
}
/** Models DMA_BUF_SET_NAME_A: _IOW(DMA_BUF_BASE, 1, __u32) (32-bit userspace). */
export const DMA_BUF_SET_NAME_A = _IOW(DMA_BUF_BASE, 1, 4);
/** Models DMA_BUF_SET_NAME_B: _IOW(DMA_BUF_BASE, 1, __u64). */
export const DMA_BUF_SET_NAME_B = _IOW(DMA_BUF_BASE, 1, 8);
