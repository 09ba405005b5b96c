/**
 * Explicit synchronisation from userspace: poll(2), sw_sync timelines (what IGT's
 * lib/sw_sync.c does) and the dma-buf sync_file ioctls (include/uapi/linux/dma-buf.h,
 * include/uapi/linux/sync_file.h, drivers/dma-buf/sw_sync.c's uapi), throwing SysError where C
 * returns -1.
 *
 * The request numbers come from @primetime/uapi, as a userspace header would give them (libdrm
 * does not link the kernel's dma-buf package).
 */

import type { EpollEvent, PollFd } from "@primetime/kernel";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  O_RDWR,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SYNC_IOC_FILE_INFO,
  type SyncFileInfo,
} from "@primetime/uapi";
import { checkNumber, checkObject } from "./args.js";
import type { UserProcess } from "./libc.js";
import { checkRet } from "./sys-error.js";

/** The sw_sync node the simulated kernel registers (debugfs "sync/sw_sync" in Linux). */
export const SW_SYNC_PATH = "/dev/sw_sync";
/** The requests, as a userspace header defines them: from @primetime/uapi. */
export {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_WRITE,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SYNC_IOC_FILE_INFO,
} from "@primetime/uapi";

/** A process that can also poll(2) (@primetime/kernel's Process). */
export interface PollProcess extends UserProcess {
  poll(fds: PollFd[], timeoutNs: number): Promise<number>;
}

/**
 * poll(2): the number of fds with events (each `revents` is set), 0 on timeout. `timeoutNs` is
 * in virtual nanoseconds (0: do not wait; negative: forever). Throws SysError (EFAULT, EINVAL).
 */
export async function poll(proc: PollProcess, fds: PollFd[], timeoutNs: number): Promise<number> {
  checkObject(fds, "fds");
  checkNumber(timeoutNs, "timeoutNs");
  return checkRet(await proc.poll(fds, timeoutNs), "poll");
}

/** A process that can also use epoll(7) (@primetime/kernel's Process). */
export interface EpollProcess extends UserProcess {
  epollCreate1(flags: number): Promise<number>;
  epollCtl(epfd: number, op: number, fd: number, event?: EpollEvent | null): Promise<number>;
  epollWait(
    epfd: number,
    events: EpollEvent[],
    maxevents: number,
    timeoutNs: number,
  ): Promise<number>;
}

/** epoll_create1(2): a new epoll fd. Throws SysError (EINVAL, EMFILE, ENOMEM). */
export async function epollCreate1(proc: EpollProcess, flags = 0): Promise<number> {
  checkNumber(flags, "flags");
  return checkRet(await proc.epollCreate1(flags), "epoll_create1");
}

/**
 * epoll_ctl(2): EPOLL_CTL_ADD/MOD/DEL of `fd` in the epoll set `epfd` (`event` is ignored by
 * DEL). Throws SysError (EBADF, EPERM, EINVAL, EEXIST, ENOENT, ENOMEM).
 */
export async function epollCtl(
  proc: EpollProcess,
  epfd: number,
  op: number,
  fd: number,
  event: EpollEvent | null = null,
): Promise<void> {
  checkRet(await proc.epollCtl(epfd, op, fd, event), "epoll_ctl");
}

/**
 * epoll_wait(2): the ready events (at most `maxevents`), none on timeout. `timeoutNs` is in
 * virtual nanoseconds (0: do not wait; negative: forever). Throws SysError (EBADF, EINVAL).
 */
export async function epollWait(
  proc: EpollProcess,
  epfd: number,
  maxevents: number,
  timeoutNs: number,
): Promise<EpollEvent[]> {
  checkNumber(timeoutNs, "timeoutNs");
  const events: EpollEvent[] = [];
  const n = checkRet(await proc.epollWait(epfd, events, maxevents, timeoutNs), "epoll_wait");
  return events.slice(0, n);
}

/**
 * IGT's prime_sync_start(dmabuf, write): DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_START, waiting for
 * the fences a CPU read (or read-write) of the dma-buf must wait for. Throws SysError.
 */
export async function primeSyncStart(
  proc: UserProcess,
  dmabufFd: number,
  write: boolean,
): Promise<void> {
  const flags = DMA_BUF_SYNC_START | (write ? DMA_BUF_SYNC_RW : DMA_BUF_SYNC_READ);
  checkRet(await proc.ioctl(dmabufFd, DMA_BUF_IOCTL_SYNC, { flags }), "ioctl", {
    request: "DMA_BUF_IOCTL_SYNC",
  });
}

/** IGT's prime_sync_end(dmabuf, write): DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_END. Throws SysError. */
export async function primeSyncEnd(
  proc: UserProcess,
  dmabufFd: number,
  write: boolean,
): Promise<void> {
  const flags = DMA_BUF_SYNC_END | (write ? DMA_BUF_SYNC_RW : DMA_BUF_SYNC_READ);
  checkRet(await proc.ioctl(dmabufFd, DMA_BUF_IOCTL_SYNC, { flags }), "ioctl", {
    request: "DMA_BUF_IOCTL_SYNC",
  });
}

/** IGT's sw_sync_timeline_create(): opens a new timeline. Throws SysError (ENOENT: no sw_sync). */
export async function swSyncCreateTimeline(proc: UserProcess): Promise<number> {
  return checkRet(await proc.open(SW_SYNC_PATH, O_RDWR), "open", { path: SW_SYNC_PATH });
}

/**
 * IGT's sw_sync_timeline_create_fence(): a sync_file fd for the point `value` of the timeline
 * `fd`. Throws SysError (ENOTTY for an fd that is not a timeline, EMFILE, ENOMEM).
 */
export async function swSyncCreateFence(
  proc: UserProcess,
  fd: number,
  value: number,
): Promise<number> {
  const data = { value, name: "", fence: -1 };
  checkRet(await proc.ioctl(fd, SW_SYNC_IOC_CREATE_FENCE, data), "ioctl", {
    request: "SW_SYNC_IOC_CREATE_FENCE",
  });
  return data.fence;
}

/** IGT's sw_sync_timeline_inc(): advances the timeline `fd` by `n`, signalling what it reaches. */
export async function swSyncInc(proc: UserProcess, fd: number, n: number): Promise<void> {
  checkRet(await proc.ioctl(fd, SW_SYNC_IOC_INC, { value: n }), "ioctl", {
    request: "SW_SYNC_IOC_INC",
  });
}

/**
 * DMA_BUF_IOCTL_IMPORT_SYNC_FILE: adds the fence of the sync_file `syncFd` to the dma-buf
 * `dmabufFd`'s implicit fences (`flags`: DMA_BUF_SYNC_WRITE for a write fence, DMA_BUF_SYNC_READ
 * for a read fence). Throws SysError (EINVAL: bad flags or not a sync_file).
 */
export async function dmaBufImportSyncFile(
  proc: UserProcess,
  dmabufFd: number,
  syncFd: number,
  flags: number,
): Promise<void> {
  checkRet(
    await proc.ioctl(dmabufFd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags, fd: syncFd }),
    "ioctl",
    {
      request: "DMA_BUF_IOCTL_IMPORT_SYNC_FILE",
    },
  );
}

/**
 * DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a sync_file fd for the fences an access with `flags` to the
 * dma-buf `dmabufFd` must wait for. Throws SysError (EINVAL: bad flags).
 */
export async function dmaBufExportSyncFile(
  proc: UserProcess,
  dmabufFd: number,
  flags: number,
): Promise<number> {
  const arg = { flags, fd: -1 };
  checkRet(await proc.ioctl(dmabufFd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg), "ioctl", {
    request: "DMA_BUF_IOCTL_EXPORT_SYNC_FILE",
  });
  return arg.fd;
}

/** What SYNC_IOC_FILE_INFO reports of a sync_file (struct sync_file_info without its fence array). */
export interface SyncFileStatus {
  /** The sync_file's name (the fence's driver name for a sync_file of one fence). */
  readonly name: string;
  /** 1 signalled, 0 active, < 0 signalled with that error. */
  readonly status: number;
  readonly numFences: number;
}

/**
 * SYNC_IOC_FILE_INFO of the sync_file `fd` with a zeroed struct sync_file_info (num_fences 0:
 * no per-fence array asked for), as IGT's sync_fence_status() (lib/sw_sync.c) calls it; returns
 * the name, status and fence count. Throws SysError (ENOTTY: not a sync_file; EINVAL).
 */
export async function syncFileInfo(proc: UserProcess, fd: number): Promise<SyncFileStatus> {
  checkNumber(fd, "fd");
  const info: SyncFileInfo = { name: "", status: 0, flags: 0, num_fences: 0, pad: 0 };
  checkRet(await proc.ioctl(fd, SYNC_IOC_FILE_INFO, info), "ioctl", {
    request: "SYNC_IOC_FILE_INFO",
  });
  return { name: info.name ?? "", status: info.status ?? 0, numFences: info.num_fences ?? 0 };
}

/**
 * IGT's sync_fence_status() (lib/sw_sync.c): the status SYNC_IOC_FILE_INFO reports for the
 * sync_file `fd` (1 signalled, 0 active, < 0 an error the fence was signalled with). Throws
 * SysError where IGT returns -errno.
 */
export async function syncFenceStatus(proc: UserProcess, fd: number): Promise<number> {
  return (await syncFileInfo(proc, fd)).status;
}
