/**
 * Userspace access to dma-buf fds (what IGT's prime helpers do): the size through lseek(), the
 * contents through mmap() of the dma-buf itself (the exporter's mmap, DMA_BUF_IOCTL_SYNC is not
 * modeled: the simulated CPU is coherent).
 */

import { pageAlign } from "@primetime/kernel";
import { SEEK_END, SEEK_SET } from "@primetime/uapi";
import { lseek, type Mapping, mmap, type UserProcess, withMapping } from "./libc.js";

/**
 * Models IGT's prime_get_size(): lseek(fd, 0, SEEK_END) gives the size, then back to 0 (the only
 * seeks a dma-buf allows; any other is EINVAL).
 * Locking: none in userspace (the kernel takes what each request needs).
 * References: none.
 */
export async function dmaBufSize(proc: UserProcess, fd: number): Promise<number> {
  const size = await lseek(proc, fd, 0, SEEK_END);
  await lseek(proc, fd, 0, SEEK_SET);
  return size;
}

/** mmap(2) of the first `length` bytes of a dma-buf (the exporter maps its pages). */
export function mmapDmaBuf(proc: UserProcess, fd: number, length: number): Promise<Mapping> {
  return mmap(proc, fd, 0, length);
}

/** Reads `length` bytes at `offset` of a dma-buf through a temporary mapping. */
export async function readDmaBuf(
  proc: UserProcess,
  fd: number,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  return withMapping(await mmapDmaBuf(proc, fd, pageAlign(offset + length)), (m) =>
    m.read(offset, length),
  );
}

/** Writes `bytes` at `offset` of a dma-buf through a temporary mapping. */
export async function writeDmaBuf(
  proc: UserProcess,
  fd: number,
  bytes: Uint8Array,
  offset = 0,
): Promise<void> {
  await withMapping(await mmapDmaBuf(proc, fd, pageAlign(offset + bytes.length)), (m) =>
    m.write(bytes, offset),
  );
}
