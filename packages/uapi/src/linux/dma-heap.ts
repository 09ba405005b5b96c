/** include/uapi/linux/dma-heap.h: DMA_HEAP_IOCTL_ALLOC and its struct and flags. */

import { O_ACCMODE, O_CLOEXEC } from "../asm-generic/fcntl.js";
import { _IOWR } from "../asm-generic/ioctl.js";

/** Models struct dma_heap_allocation_data. */
export interface DmaHeapAllocationData {
  /** Models len: bytes to allocate (rounded up to pages). */
  len: number;
  /** Models fd: out: the dma-buf fd; must be 0 on input. */
  fd: number;
  /** Models fd_flags: O_CLOEXEC and the access mode. */
  fdFlags: number;
  /** Models heap_flags: none are defined (must be 0). */
  heapFlags: number;
}

/** Models DMA_HEAP_IOC_MAGIC. */
export const DMA_HEAP_IOC_MAGIC = "H";
/** Models DMA_HEAP_IOCTL_ALLOC: _IOWR('H', 0x0, struct dma_heap_allocation_data). */
export const DMA_HEAP_IOCTL_ALLOC = _IOWR(DMA_HEAP_IOC_MAGIC, 0x0, 24);
/** Models DMA_HEAP_VALID_FD_FLAGS. */
export const DMA_HEAP_VALID_FD_FLAGS = O_CLOEXEC | O_ACCMODE;
/** Models DMA_HEAP_VALID_HEAP_FLAGS. */
export const DMA_HEAP_VALID_HEAP_FLAGS = 0;
