/**
 * The dma-buf system heap (drivers/dma-buf/dma-heap.c, drivers/dma-buf/heaps/system_heap.c):
 * userspace opens /dev/dma_heap/system and allocates page-backed dma-bufs with
 * DMA_HEAP_IOCTL_ALLOC, getting a dma-buf fd. It is the plainest exporter the kernel has, and
 * the one tests and other packages use to get a foreign dma-buf.
 *
 * Each buffer owns its pages (4096-byte Uint8Arrays); every attachment gets its own table of the
 * same pages (dup_sg_table()), handed out by map; mmap maps the very pages. The exporter's
 * release frees the buffer.
 *
 * Simplifications: one heap ("system"); no huge-page orders, no cache maintenance
 * (begin/end_cpu_access), no vmap; allocation is all-or-nothing with failslab.
 */

import {
  chargePages,
  EFAULT,
  EINVAL,
  ENOMEM,
  type Errno,
  errPtr,
  type File,
  fileOperations,
  type IoctlArg,
  isErr,
  type Kernel,
  KmemCache,
  kfree,
  kmalloc,
  lazyPageArray,
  Mutex,
  mmapAssertWriteLocked,
  PAGE_SIZE,
  pageAlign,
  SlabObject,
  shouldFail,
  unchargePages,
  type Vma,
} from "@primetime/kernel";
import { RESOLVED } from "@primetime/sim";
import {
  _IOC_DIR,
  _IOC_NR,
  _IOC_READ,
  _IOC_WRITE,
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_VALID_FD_FLAGS,
  type DmaHeapAllocationData,
} from "@primetime/uapi";
import { type DmaBuf, dmaBufExport, dmaBufFd, dmaBufPut } from "./dma-buf.js";
import type { DmaBufAttachment } from "./dma-buf-attachment.js";
import { dmaResvAssertHeld } from "./dma-resv.js";
import { type SgTable, sgAllocTableFromPages, sgFreeTable } from "./scatterlist.js";

/** The uapi of include/uapi/linux/dma-heap.h, from @primetime/uapi. */
export {
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_VALID_FD_FLAGS,
  DMA_HEAP_VALID_HEAP_FLAGS,
  type DmaHeapAllocationData,
} from "@primetime/uapi";

/** The device node of the system heap. */
export const DMA_HEAP_SYSTEM_PATH = "/dev/dma_heap/system";

/** The slab cache of heap buffers. */
export const systemHeapBufferCache = new KmemCache("system_heap_buffer");
/** The slab cache of per-attachment state. */
export const dmaHeapAttachmentCache = new KmemCache("dma_heap_attachment");

/**
 * Models struct system_heap_buffer: the pages and the attachments.
 * Locking: `lock` protects `attachments`.
 * References: owned by its dma-buf (freed by the dma-buf's release).
 */
export class SystemHeapBuffer extends SlabObject {
  readonly attachments: DmaHeapAttachment[] = [];
  readonly lock: Mutex;
  /**
   * Models buffer->sg_table: the pages, in order. They are charged to RAM when allocated
   * (systemHeapAllocate()); their bytes exist on the host from their first touch.
   */
  pages: Uint8Array[] = [];

  constructor(readonly len: number) {
    super();
    this.lock = new Mutex("system_heap_buffer_lock", { owner: this });
  }
}

/**
 * Models struct dma_heap_attachment: one device's copy of the table.
 * References: owned by the attachment (freed at detach).
 */
export class DmaHeapAttachment extends SlabObject {
  /** Models a->mapped. */
  mapped = false;
  /** Models a->table: set by system_heap_attach() once dup_sg_table() succeeded. */
  table!: SgTable;

  constructor(readonly dev: string) {
    super();
  }
}

/**
 * Models system_heap_attach(): the attachment (kzalloc), then a private copy of the page table
 * for the device (dup_sg_table(), the attachment freed if it fails), added at the head of the
 * buffer's list.
 * Locking: takes the buffer lock; may sleep.
 * References: the attachment owns its table.
 */
async function systemHeapAttach(dmabuf: DmaBuf, attachment: DmaBufAttachment): Promise<number> {
  const buffer = dmabuf.priv as SystemHeapBuffer;
  const a = kmalloc(dmaHeapAttachmentCache, () => new DmaHeapAttachment(attachment.dev.name));
  if (isErr(a)) return -ENOMEM;
  const table = sgAllocTableFromPages(buffer.pages); // dup_sg_table()
  if (isErr(table)) {
    kfree(a);
    return -ENOMEM;
  }
  a.table = table;
  attachment.priv = a;
  const lockTaken = buffer.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  buffer.attachments.unshift(a); // list_add()
  buffer.lock.unlockNow();
  return 0;
}

/**
 * Models system_heap_detach().
 * Locking: takes the buffer lock.
 * References: frees the attachment's table.
 */
async function systemHeapDetach(dmabuf: DmaBuf, attachment: DmaBufAttachment): Promise<void> {
  const buffer = dmabuf.priv as SystemHeapBuffer;
  const a = attachment.priv as DmaHeapAttachment;
  const lockTaken2 = buffer.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  const i = buffer.attachments.indexOf(a);
  if (i >= 0) buffer.attachments.splice(i, 1);
  buffer.lock.unlockNow();
  sgFreeTable(a.table);
  kfree(a);
}

/**
 * Models system_heap_map_dma_buf(): the attachment's table (dma_map_sgtable() is a no-op), marked
 * mapped. There is no check that it is mapped already: a second map returns the same table.
 * Locking: the reservation lock held.
 * References: the table stays the attachment's.
 */
function systemHeapMapDmaBuf(attachment: DmaBufAttachment): SgTable | Errno {
  dmaResvAssertHeld(attachment.dmabuf.resv);
  const a = attachment.priv as DmaHeapAttachment;
  a.mapped = true;
  return a.table;
}

/**
 * Models system_heap_unmap_dma_buf().
 * Locking: the reservation lock held.
 * References: none.
 */
function systemHeapUnmapDmaBuf(attachment: DmaBufAttachment): void {
  dmaResvAssertHeld(attachment.dmabuf.resv);
  (attachment.priv as DmaHeapAttachment).mapped = false;
}

/**
 * Models system_heap_mmap(): maps every page of the buffer from vm_pgoff on.
 * Locking: mmap_lock held for writing.
 * References: the pages stay the buffer's.
 */
function systemHeapMmap(dmabuf: DmaBuf, vma: Vma): number {
  mmapAssertWriteLocked(vma.vmMm);
  const buffer = dmabuf.priv as SystemHeapBuffer;
  let addr = vma.vmStart;
  for (let pg = vma.vmPgoff; pg < buffer.pages.length && addr < vma.vmEnd; pg++) {
    const ret = vma.insertPage(addr, buffer.pages[pg]!); // remap_pfn_range()
    if (ret) return ret;
    addr += PAGE_SIZE;
  }
  return 0;
}

/**
 * Models system_heap_dma_buf_release(): frees the pages and the buffer.
 * Locking: from the dma-buf's release (__fput()).
 * References: consumes the buffer.
 */
function systemHeapRelease(dmabuf: DmaBuf): void {
  const buffer = dmabuf.priv as SystemHeapBuffer;
  unchargePages(buffer.pages.length);
  kfree(buffer);
}

/** Models system_heap_buf_ops. */
export const systemHeapBufOps = {
  attach: systemHeapAttach,
  detach: systemHeapDetach,
  mapDmaBuf: systemHeapMapDmaBuf,
  unmapDmaBuf: systemHeapUnmapDmaBuf,
  mmap: systemHeapMmap,
  release: systemHeapRelease,
} as const;

/**
 * Models system_heap_allocate(heap, len, fd_flags, heap_flags): a buffer of `len` bytes (a
 * multiple of PAGE_SIZE) exported as a dma-buf named "system". -ENOMEM on allocation failure.
 * Locking: may sleep.
 * References: returns the dma-buf with its one reference, owned by the caller.
 */
export async function systemHeapAllocate(len: number, fdFlags: number): Promise<DmaBuf | Errno> {
  const buffer = kmalloc(systemHeapBufferCache, () => new SystemHeapBuffer(len));
  if (isErr(buffer)) return errPtr(ENOMEM);
  // The alloc_largest_available() loop: every page now, or -ENOMEM once RAM runs out (the
  // pages it got are freed).
  if (shouldFail("alloc_pages") || !chargePages(len / PAGE_SIZE)) {
    kfree(buffer);
    return errPtr(ENOMEM);
  }
  buffer.pages = lazyPageArray(len / PAGE_SIZE);
  const dmabuf = await dmaBufExport({
    expName: "system",
    owner: "system_heap",
    ops: systemHeapBufOps,
    size: buffer.len,
    flags: fdFlags,
    priv: buffer,
  });
  if (isErr(dmabuf)) {
    unchargePages(buffer.pages.length);
    kfree(buffer);
  }
  return dmabuf;
}

/**
 * Models dma_heap_buffer_alloc(): page-aligns `len` (0 is -EINVAL), allocates and installs the
 * dma-buf at a new fd of the current process. Returns the fd or a negative errno; on an fd
 * failure the dma-buf is put (its release frees the buffer).
 * Locking: may sleep.
 * References: the fd owns the dma-buf's reference.
 */
export async function dmaHeapBufferAlloc(len: number, fdFlags: number): Promise<number> {
  len = pageAlign(len);
  if (!len || len >= 2 ** 64) return -EINVAL; // PAGE_ALIGN() of a size_t wrapped to 0
  const dmabuf = await systemHeapAllocate(len, fdFlags);
  if (isErr(dmabuf)) return dmabuf;
  const fd = await dmaBufFd(dmabuf, fdFlags);
  // Just return: the put calls release, which frees the buffer.
  if (fd < 0) await dmaBufPut(dmabuf);
  return fd;
}

/** A number the C field of `limit` (2**32, 2**64) can hold: an integer in [0, limit). */
function isUInt(v: unknown, limit: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v < limit;
}

/** Models dma_heap_ioctl_cmds[]: the kernel command for each command number. */
const DMA_HEAP_IOCTL_CMDS = [DMA_HEAP_IOCTL_ALLOC] as const;

/**
 * Models dma_heap_ioctl() with dma_heap_ioctl_allocate(). The command's number (_IOC_NR) picks
 * the kernel command from dma_heap_ioctl_cmds[]: a number past it is -EINVAL (there is no
 * -ENOTTY path: every number in range is ALLOC, whatever the user command's type and size).
 * The argument is read only if both commands have the write direction (else ALLOC sees a zeroed
 * struct: len 0, -EINVAL), -EFAULT if it cannot be; the new fd is written back only if both have
 * the read direction.
 * Locking: none held; may sleep.
 * References: the new fd owns the dma-buf.
 */
async function dmaHeapIoctl(_file: File, ucmd: number, arg: IoctlArg): Promise<number> {
  const nr = _IOC_NR(ucmd);
  if (nr >= DMA_HEAP_IOCTL_CMDS.length) return -EINVAL;
  const kcmd = DMA_HEAP_IOCTL_CMDS[nr]!;
  const copyIn = (_IOC_DIR(ucmd) & _IOC_DIR(kcmd) & _IOC_WRITE) !== 0;
  const copyOut = (_IOC_DIR(ucmd) & _IOC_DIR(kcmd) & _IOC_READ) !== 0;
  if (copyIn && (typeof arg !== "object" || arg === null)) return -EFAULT;
  // The kernel's copy of the struct (kdata): zeroed when not copied in.
  const data: Partial<DmaHeapAllocationData> = copyIn
    ? { ...(arg as Partial<DmaHeapAllocationData>) }
    : {};
  const len = data.len ?? 0;
  const fdFlags = data.fdFlags ?? 0;
  const heapFlags = data.heapFlags ?? 0;
  // The struct's fields are __u64 len, __u32 fd, __u32 fd_flags, __u64 heap_flags: a value
  // that is not such a number (a BigInt, a fraction, out of range) is -EINVAL.
  if (data.fd !== undefined && !isUInt(data.fd, 2 ** 32)) return -EINVAL;
  if (data.fd) return -EINVAL;
  if (!isUInt(fdFlags, 2 ** 32) || !isUInt(heapFlags, 2 ** 64) || !isUInt(len, 2 ** 64))
    return -EINVAL;
  if (fdFlags & ~DMA_HEAP_VALID_FD_FLAGS) return -EINVAL;
  if (heapFlags !== 0) return -EINVAL; // heap_flags & ~DMA_HEAP_VALID_HEAP_FLAGS (which is 0)
  const fd = await dmaHeapBufferAlloc(len, fdFlags);
  if (fd < 0) return fd;
  data.fd = fd;
  // copy_to_user() of kdata, when both commands have the read direction.
  if (copyOut) (arg as Partial<DmaHeapAllocationData>).fd = fd;
  return 0;
}

/**
 * Models dma_heap_add() of the system heap: registers /dev/dma_heap/system on `kernel`.
 * Returns 0 or the registration's errno.
 * Locking: none (boot time).
 * References: none.
 */
export function registerSystemHeap(kernel: Kernel): number {
  const inode = kernel.registerChrdev(
    DMA_HEAP_SYSTEM_PATH,
    fileOperations({
      owner: "dma_heap",
      open: async () => 0,
      unlockedIoctl: dmaHeapIoctl,
    }),
  );
  return isErr(inode) ? inode : 0;
}
