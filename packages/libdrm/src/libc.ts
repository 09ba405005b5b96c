/**
 * The few libc calls a DRM program needs (open, close, dup, lseek, mmap, munmap, fd passing),
 * over a process of the simulated kernel, throwing a SysError where C would return -1.
 *
 * A program runs as a thread of a `Process` of @primetime/kernel and enters the kernel through
 * its syscall methods, which return a negative errno. Everything here must be called from one of
 * that process's threads (the kernel warns and returns -ESRCH otherwise). When the process is
 * exiting, a syscall never returns (the kernel unwinds the thread with its ThreadExit): nothing
 * here catches exceptions, so that unwinding goes through.
 */

import { MAP_SHARED, PROT_READ, PROT_WRITE } from "@primetime/kernel";
import { checkBytes, checkNumber, checkObject, checkOptionalObject, checkString } from "./args.js";
import { checkRet, SysError } from "./sys-error.js";

/**
 * What libdrm needs of a process: its syscalls, as @primetime/kernel's `Process` provides them
 * (each returns a non-negative result or a negative errno).
 */
export interface UserProcess {
  readonly pid: number;
  readonly name: string;
  open(path: string, flags: number): Promise<number>;
  close(fd: number): Promise<number>;
  dup(fd: number): Promise<number>;
  ioctl(fd: number, cmd: number, arg?: unknown): Promise<number>;
  mmap(
    addr: number,
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number,
  ): Promise<number>;
  munmap(addr: number, length: number): Promise<number>;
  lseek(fd: number, offset: number, whence: number): Promise<number>;
  sendFd(to: UserProcess, fd: number): Promise<number>;
  recvFd(opts?: { nonblock?: boolean; cloexec?: boolean }): Promise<number>;
  readMemory(addr: number, len: number): Promise<Uint8Array | number>;
  writeMemory(addr: number, bytes: Uint8Array): Promise<number>;
}

/** open(2): the new fd. Throws SysError (ENOENT for a missing node, the driver's open error). */
export async function open(proc: UserProcess, path: string, flags: number): Promise<number> {
  checkString(path, "path");
  checkNumber(flags, "flags");
  return checkRet(await proc.open(path, flags), "open", { path });
}

/** close(2). Throws SysError (EBADF). */
export function close(proc: UserProcess, fd: number): Promise<void> {
  try {
    checkNumber(fd, "fd");
    return Promise.resolve(proc.close(fd)).then((ret) => {
      checkRet(ret, "close");
    });
  } catch (e) {
    return Promise.reject(e);
  }
}

/** dup(2): the lowest free fd for the same open file. Throws SysError (EBADF, EMFILE). */
export async function dup(proc: UserProcess, fd: number): Promise<number> {
  checkNumber(fd, "fd");
  return checkRet(await proc.dup(fd), "dup");
}

/** lseek(2): the new offset. Throws SysError (EBADF, EINVAL, ESPIPE). */
export async function lseek(
  proc: UserProcess,
  fd: number,
  offset: number,
  whence: number,
): Promise<number> {
  checkNumber(fd, "fd");
  checkNumber(offset, "offset");
  checkNumber(whence, "whence");
  return checkRet(await proc.lseek(fd, offset, whence), "lseek");
}

/** sendmsg(2) with SCM_RIGHTS: passes `fd` to process `to`. Throws SysError (EBADF, EPIPE). */
export async function sendFd(proc: UserProcess, to: UserProcess, fd: number): Promise<void> {
  checkObject(to, "to");
  checkNumber(fd, "fd");
  checkRet(await proc.sendFd(to, fd), "sendmsg");
}

/** recvmsg(2) of an SCM_RIGHTS message: the new fd (sleeps until one arrives). */
export async function recvFd(
  proc: UserProcess,
  opts?: { nonblock?: boolean; cloexec?: boolean },
): Promise<number> {
  checkOptionalObject(opts, "opts");
  return checkRet(await proc.recvFd(opts), "recvmsg");
}

/**
 * A shared mapping of a file (a DRM object through its fake offset, or a dma-buf): reads and
 * writes go to the very pages the driver or the exporter holds.
 */
export class Mapping {
  private unmapped = false;

  constructor(
    readonly proc: UserProcess,
    /** The start address in the process's address space. */
    readonly addr: number,
    /** The length in bytes. */
    readonly length: number,
  ) {}

  private check(offset: number, len: number): void {
    checkNumber(offset, "offset");
    checkNumber(len, "length");
    if (this.unmapped) throw new Error(`mapping at 0x${this.addr.toString(16)} was unmapped`);
    if (!Number.isInteger(offset) || !Number.isInteger(len) || offset < 0 || len < 0)
      throw new RangeError(`bad range ${offset}+${len}`);
    if (offset + len > this.length)
      throw new RangeError(`range ${offset}+${len} beyond the mapping's ${this.length} bytes`);
  }

  /** Loads `len` bytes at `offset`. A fault (SIGBUS/SIGSEGV in C) throws SysError EFAULT. */
  async read(offset = 0, len = this.length - offset): Promise<Uint8Array> {
    this.check(offset, len);
    const r = await this.proc.readMemory(this.addr + offset, len);
    if (typeof r === "number") throw new SysError(r, "load");
    return r;
  }

  /** Stores `bytes` at `offset`. A fault throws SysError EFAULT. */
  async write(bytes: Uint8Array, offset = 0): Promise<void> {
    checkBytes(bytes, "bytes");
    this.check(offset, bytes.length);
    checkRet(await this.proc.writeMemory(this.addr + offset, bytes), "store");
  }

  /** memset(): fills `len` bytes at `offset` with `value`. */
  async fill(value: number, offset = 0, len = this.length - offset): Promise<void> {
    checkNumber(value, "value");
    this.check(offset, len);
    await this.write(new Uint8Array(len).fill(value), offset);
  }

  /** munmap(2) of the whole mapping (the mapping's file and object references go). */
  async unmap(): Promise<void> {
    if (this.unmapped) return;
    this.unmapped = true;
    checkRet(await this.proc.munmap(this.addr, this.length), "munmap");
  }
}

/**
 * Runs `fn` on a temporary mapping, then unmaps it, also when `fn` throws (the read/write
 * helpers of drm.ts and dma-buf.ts).
 */
export async function withMapping<T>(m: Mapping, fn: (m: Mapping) => Promise<T>): Promise<T> {
  try {
    return await fn(m);
  } finally {
    await m.unmap();
  }
}

/**
 * mmap(2) of `length` bytes of `fd` at file offset `offset`, shared, read-write by default.
 * Throws SysError (EINVAL: no object at that offset; EACCES: the file has no handle to it...).
 */
export async function mmap(
  proc: UserProcess,
  fd: number,
  offset: number,
  length: number,
  prot: number = PROT_READ | PROT_WRITE,
): Promise<Mapping> {
  checkNumber(fd, "fd");
  checkNumber(offset, "offset");
  checkNumber(length, "length");
  checkNumber(prot, "prot");
  const addr = checkRet(await proc.mmap(0, length, prot, MAP_SHARED, fd, offset), "mmap");
  return new Mapping(proc, addr, length);
}
