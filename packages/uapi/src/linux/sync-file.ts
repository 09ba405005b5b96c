/** include/uapi/linux/sync_file.h, the parts in use: SYNC_IOC_FILE_INFO and its struct. */

import { _IOWR } from "../asm-generic/ioctl.js";

/** Models SYNC_IOC_MAGIC. */
export const SYNC_IOC_MAGIC = ">";
/** Models sizeof(struct sync_file_info): name[32], status, flags, num_fences, pad, sync_fence_info. */
export const SYNC_FILE_INFO_SIZE = 56;
/** Models SYNC_IOC_FILE_INFO: _IOWR(SYNC_IOC_MAGIC, 4, struct sync_file_info). */
export const SYNC_IOC_FILE_INFO = _IOWR(SYNC_IOC_MAGIC, 4, SYNC_FILE_INFO_SIZE);

/** Models struct sync_file_info as the ioctl's argument. */
export interface SyncFileInfo {
  name?: string;
  status?: number;
  flags?: number;
  num_fences?: number;
  pad?: number;
  sync_fence_info?: number;
}
