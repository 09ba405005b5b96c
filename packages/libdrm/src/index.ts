/**
 * @primetime/libdrm: the userspace API of the simulated DRM stack (see README.md). Programs run
 * as processes of @primetime/kernel and use DRM devices through fds: `DrmFd.open(proc, path)`
 * and its methods, or the same calls as functions of (process, fd). Failures throw SysError.
 */

export { dmaBufSize, mmapDmaBuf, readDmaBuf, writeDmaBuf } from "./dma-buf.js";
export {
  authMagic,
  createDumb,
  type DumbBuffer,
  destroyDumb,
  drmIoctl,
  drmIoctlName,
  dropMaster,
  gemClose,
  gemFlink,
  gemOpen,
  getCap,
  getMagic,
  getVersion,
  mapBuffer,
  mapDumb,
  primeFdToHandle,
  primeHandleToFd,
  readBuffer,
  setMaster,
  writeBuffer,
} from "./drm.js";
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
export { checkRet, isSysError, SysError, type SysErrorDetails } from "./sys-error.js";
