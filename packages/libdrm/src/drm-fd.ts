/**
 * An open DRM device node, the object a program works with:
 *
 * ```ts
 * const drm = await DrmFd.open(proc, "/dev/dri/card0");
 * const { handle, size } = await drm.createDumb({ width: 1024, height: 4, bpp: 32 });
 * const name = await drm.gemFlink(handle);
 * const dmaBuf = await drm.primeHandleToFd(handle);
 * await drm.close();
 * ```
 *
 * Every method is the function of the same name in drm.ts applied to this fd; failures throw a
 * SysError. A DrmFd is only an fd number of one process: it must be used from that process's
 * threads, and several DrmFds may name the same open file (dup()).
 */

import { O_CLOEXEC, O_RDWR } from "@primetime/uapi";
import {
  authMagic,
  createDumb,
  type DumbBuffer,
  destroyDumb,
  drmIoctl,
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
import { close, dup, type Mapping, mmap, open, recvFd, sendFd, type UserProcess } from "./libc.js";

/** An fd of a DRM device node in a process. */
export class DrmFd {
  private closed = false;

  constructor(
    readonly proc: UserProcess,
    readonly fd: number,
    /** The node it was opened through, for messages. */
    readonly path = "",
  ) {}

  /**
   * Models drmOpen(): opens a DRM node (`/dev/dri/card0`, `/dev/dri/renderD128`) with
   * O_RDWR | O_CLOEXEC. The first open of a primary node makes the file the master.
   * Locking: none in userspace (the kernel takes what each request needs).
   * References: the fd holds the DRM file; close() drops it.
   */
  static async open(proc: UserProcess, path: string, flags = O_RDWR | O_CLOEXEC): Promise<DrmFd> {
    return new DrmFd(proc, await open(proc, path, flags), path);
  }

  /** close(2) of the fd. The last close of the file releases its handles (at syscall exit). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await close(this.proc, this.fd);
  }

  /** dup(2): another fd for the same open file (same handles, same authentication). */
  async dup(): Promise<DrmFd> {
    return new DrmFd(this.proc, await dup(this.proc, this.fd), this.path);
  }

  /** Passes the fd to another process (SCM_RIGHTS); it receives it with recvDrmFd(). */
  async sendTo(to: UserProcess): Promise<void> {
    await sendFd(this.proc, to, this.fd);
  }

  /** A request by number, for driver ioctls (see drmIoctl()). */
  ioctl(cmd: number, arg?: object, name?: string): Promise<number> {
    return drmIoctl(this.proc, this.fd, cmd, arg, name);
  }

  version(): ReturnType<typeof getVersion> {
    return getVersion(this.proc, this.fd);
  }

  getCap(capability: number): Promise<number> {
    return getCap(this.proc, this.fd, capability);
  }

  getMagic(): Promise<number> {
    return getMagic(this.proc, this.fd);
  }

  authMagic(magic: number): Promise<void> {
    return authMagic(this.proc, this.fd, magic);
  }

  /**
   * Gets this client authenticated by `master` (GET_MAGIC here, AUTH_MAGIC there): what a
   * second client of a primary node must do before FLINK, OPEN or PRIME. `master` may belong to
   * another process; each call runs in its own process's thread, so both must be callable from
   * the current thread (the usual case: one process with both fds).
   */
  async authenticate(master: DrmFd): Promise<void> {
    await master.authMagic(await this.getMagic());
  }

  setMaster(): Promise<void> {
    return setMaster(this.proc, this.fd);
  }

  dropMaster(): Promise<void> {
    return dropMaster(this.proc, this.fd);
  }

  gemClose(handle: number): Promise<void> {
    return gemClose(this.proc, this.fd, handle);
  }

  gemFlink(handle: number): Promise<number> {
    return gemFlink(this.proc, this.fd, handle);
  }

  gemOpen(name: number): Promise<{ handle: number; size: number }> {
    return gemOpen(this.proc, this.fd, name);
  }

  primeHandleToFd(handle: number, flags?: number): Promise<number> {
    return primeHandleToFd(this.proc, this.fd, handle, flags);
  }

  primeFdToHandle(dmaBufFd: number): Promise<number> {
    return primeFdToHandle(this.proc, this.fd, dmaBufFd);
  }

  createDumb(req: {
    width: number;
    height: number;
    bpp: number;
    flags?: number;
  }): Promise<DumbBuffer> {
    return createDumb(this.proc, this.fd, req);
  }

  mapDumb(handle: number): Promise<number> {
    return mapDumb(this.proc, this.fd, handle);
  }

  destroyDumb(handle: number): Promise<void> {
    return destroyDumb(this.proc, this.fd, handle);
  }

  /** MODE_ADDFB2: the new framebuffer's id. */
  modeAddFB2(req: FbRequest): Promise<number> {
    return modeAddFB2(this.proc, this.fd, req);
  }

  /** MODE_RMFB. */
  modeRmFB(fbId: number): Promise<void> {
    return modeRmFB(this.proc, this.fd, fbId);
  }

  /** mmap(2) of this fd at a fake offset (from mapDumb()). */
  mmap(offset: number, length: number, prot?: number): Promise<Mapping> {
    return mmap(this.proc, this.fd, offset, length, prot);
  }

  /** Maps the first `length` bytes of a handle's object (MODE_MAP_DUMB + mmap). */
  mapBuffer(handle: number, length: number): Promise<Mapping> {
    return mapBuffer(this.proc, this.fd, handle, length);
  }

  /** Reads `length` bytes at `offset` of a handle's object through a temporary mapping. */
  readBuffer(handle: number, offset: number, length: number): Promise<Uint8Array> {
    return readBuffer(this.proc, this.fd, handle, offset, length);
  }

  /** Writes `bytes` at `offset` of a handle's object through a temporary mapping. */
  writeBuffer(handle: number, bytes: Uint8Array, offset = 0): Promise<void> {
    return writeBuffer(this.proc, this.fd, handle, bytes, offset);
  }

  toString(): string {
    return `${this.path || "drm"}@fd${this.fd}`;
  }
}

/**
 * Receives a DRM fd another process passed with DrmFd.sendTo() (sleeps until it arrives). The
 * new fd is the same open file: same handles, same authentication.
 */
export async function recvDrmFd(proc: UserProcess, path = ""): Promise<DrmFd> {
  return new DrmFd(proc, await recvFd(proc, { cloexec: true }), path);
}
