/**
 * @primetime/libdrm: the userspace API of the simulated DRM stack (see README.md). Programs run
 * as processes of @primetime/kernel and use DRM devices through fds: `DrmFd.open(proc, path)`
 * and its methods, or the same calls as functions of (process, fd). Failures throw SysError.
 */

export { InvalidArgTypeError } from "./args.js";
export { dmaBufSize, mmapDmaBuf, readDmaBuf, writeDmaBuf } from "./dma-buf.js";
export {
  authMagic,
  createDumb,
  type DumbBuffer,
  destroyDumb,
  drmIoctl,
  drmIoctlName,
  dropMaster,
  type FbRequest,
  gemClose,
  gemFlink,
  gemOpen,
  getCap,
  getMagic,
  getVersion,
  mapBuffer,
  mapDumb,
  modeAddFB2,
  modeRmFB,
  primeFdToHandle,
  primeHandleToFd,
  readBuffer,
  setMaster,
  writeBuffer,
} from "./drm.js";
export {
  DRM_EVENT_HEADER_SIZE,
  type DrmEventContext,
  type DrmEventRecord,
  drmHandleEvent,
  drmReadEvents,
  parseDrmEvents,
  type ReadProcess,
  read,
} from "./drm-event.js";
export { DrmFd, recvDrmFd } from "./drm-fd.js";
export {
  close,
  dup,
  lseek,
  Mapping,
  mmap,
  open,
  recvFd,
  sendFd,
  type UserProcess,
} from "./libc.js";
export {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_WRITE,
  dmaBufExportSyncFile,
  dmaBufImportSyncFile,
  type EpollProcess,
  epollCreate1,
  epollCtl,
  epollWait,
  type PollProcess,
  poll,
  primeSyncEnd,
  primeSyncStart,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SW_SYNC_PATH,
  SYNC_IOC_FILE_INFO,
  type SyncFileStatus,
  swSyncCreateFence,
  swSyncCreateTimeline,
  swSyncInc,
  syncFenceStatus,
  syncFileInfo,
} from "./sync.js";
export { checkRet, isSysError, SysError, type SysErrorDetails } from "./sys-error.js";
