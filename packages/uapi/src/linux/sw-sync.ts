/**
 * sw_sync's userspace interface (drivers/dma-buf/sw_sync.c, a debugfs file with its own ioctls;
 * not under include/uapi, but ABI all the same: IGT's lib/sw_sync.c copies these definitions).
 */

import { _IOW, _IOWR } from "../asm-generic/ioctl.js";

/** Models SW_SYNC_IOC_MAGIC. */
export const SW_SYNC_IOC_MAGIC = "W";
/** Models sizeof(struct sw_sync_create_fence_data): value, name[32], fence. */
export const SW_SYNC_CREATE_FENCE_DATA_SIZE = 40;
/** Models SW_SYNC_IOC_CREATE_FENCE: _IOWR('W', 0, struct sw_sync_create_fence_data). */
export const SW_SYNC_IOC_CREATE_FENCE = _IOWR(SW_SYNC_IOC_MAGIC, 0, SW_SYNC_CREATE_FENCE_DATA_SIZE);
/** Models SW_SYNC_IOC_INC: _IOW('W', 1, __u32). */
export const SW_SYNC_IOC_INC = _IOW(SW_SYNC_IOC_MAGIC, 1, 4);

/** Models struct sw_sync_create_fence_data: `fence` is the new sync_file fd on return. */
export interface SwSyncCreateFenceData {
  value: number;
  name?: string;
  fence?: number;
}

/** SW_SYNC_IOC_INC's argument: the increment (the kernel takes a __u32 pointer). */
export interface SwSyncIncData {
  value: number;
}
