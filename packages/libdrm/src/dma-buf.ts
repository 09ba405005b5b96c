/**
 * Userspace access to dma-buf fds (what IGT's prime helpers do): the size through lseek(), the
 * contents through mmap() of the dma-buf itself (the exporter's mmap, DMA_BUF_IOCTL_SYNC is not
 * modeled: the simulated CPU is coherent).
 */

import { SEEK_END, SEEK_SET } from "@primetime/kernel";
import { lseek, type Mapping, mmap, type UserProcess } from "./libc.js";

/**
 * Models IGT's prime_get_size(): lseek(fd, 0, SEEK_END) gives the size, then back to 0 (the only
 * seeks a dma-buf allows; any other is EINVAL).
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
  const m = await mmapDmaBuf(proc, fd, pageCeil(offset + length));
  try {
    return await m.read(offset, length);
  } finally {
    await m.unmap();
  }
}

/** Writes `bytes` at `offset` of a dma-buf through a temporary mapping. */
export async function writeDmaBuf(
  proc: UserProcess,
  fd: number,
  bytes: Uint8Array,
  offset = 0,
): Promise<void> {
  const m = await mmapDmaBuf(proc, fd, pageCeil(offset + bytes.length));
  try {
    await m.write(bytes, offset);
  } finally {
    await m.unmap();
  }
}

function pageCeil(n: number): number {
  return Math.ceil(n / 4096) * 4096;
}
