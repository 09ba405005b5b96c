/**
 * Virtual memory areas (include/linux/mm_types.h, include/linux/mm.h): one mapping of a
 * process's address space, and the address_space of a file that its mappings hang off.
 *
 * A Vma covers [vmStart, vmEnd) of a process's address space and maps the file pages from
 * vmPgoff on. Its page table is `pages` (virtual page number -> a 4096-byte Uint8Array): the
 * very memory the driver provides, either at mmap time (`vmInsertPage()`, remap_pfn_range()
 * style) or lazily from `vmOps.fault`. Userspace reads and writes go to those arrays, so a
 * process sees exactly what the device or the exporter holds. Zapping (unmapMappingRange(),
 * zapVmaPtes()) drops page-table entries so that the next access faults again, which is how a
 * driver revokes access to memory it moves or frees.
 *
 * References: a Vma holds one reference on its file (`vmFile`), taken at mmap time (get_file)
 * and dropped when the vma is removed (fput); a split takes one more for the new half. Drivers
 * pair their own references with `vmOps.open` / `vmOps.close`.
 */

import type { File } from "../fs/file.js";
import { EBUSY, EFAULT, EINVAL } from "../include/errno.js";
import type { MmStruct } from "./mm.js";
import { mmapAssertLocked } from "./mmap-lock.js";
import { unchargePages } from "./page-alloc.js";
import { KmemCache, SlabObject } from "./slab.js";

/** Models PAGE_SHIFT. */
export const PAGE_SHIFT = 12;
/** Models PAGE_SIZE. */
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** Models PAGE_ALIGN(x): rounds up to a page boundary. */
export function pageAlign(x: number): number {
  return Math.ceil(x / PAGE_SIZE) * PAGE_SIZE;
}

/** Models offset_in_page(x). */
export function offsetInPage(x: number): number {
  return x % PAGE_SIZE;
}

/** mmap() protections (include/uapi/asm-generic/mman-common.h). */
export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;

/** mmap() flags (include/uapi/linux/mman.h, asm-generic/mman-common.h). */
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_FIXED_NOREPLACE = 0x100000;

/** vm_flags (include/linux/mm.h). */
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_PFNMAP = 0x400;
export const VM_IO = 0x4000;
export const VM_ACCOUNT = 0x100000;
export const VM_NORESERVE = 0x200000;
export const VM_DONTEXPAND = 0x40000;
export const VM_DONTDUMP = 0x4000000;

/** Fault results (enum vm_fault_reason): a fault handler returns a page or one of these. */
export const VM_FAULT_OOM = 0x1;
export const VM_FAULT_SIGBUS = 0x2;
export const VM_FAULT_SIGSEGV = 0x40;
/** Models VM_FAULT_NOPAGE: ->fault installed the pte itself (or a signal is pending). */
export const VM_FAULT_NOPAGE = 0x100;
/**
 * Models VM_FAULT_RETRY: ->fault blocked; unless the fault had FAULT_FLAG_RETRY_NOWAIT, it has
 * released mmap_lock, and the fault must be retried (with FAULT_FLAG_TRIED) from the lookup.
 */
export const VM_FAULT_RETRY = 0x400;

/** Fault flags (enum fault_flag, include/linux/mm_types.h): vmf->flags. */
export const FAULT_FLAG_WRITE = 1 << 0;
export const FAULT_FLAG_MKWRITE = 1 << 1;
export const FAULT_FLAG_ALLOW_RETRY = 1 << 2;
export const FAULT_FLAG_RETRY_NOWAIT = 1 << 3;
export const FAULT_FLAG_KILLABLE = 1 << 4;
export const FAULT_FLAG_TRIED = 1 << 5;
export const FAULT_FLAG_USER = 1 << 6;
export const FAULT_FLAG_REMOTE = 1 << 7;
export const FAULT_FLAG_INSTRUCTION = 1 << 8;
export const FAULT_FLAG_INTERRUPTIBLE = 1 << 9;
/** Models FAULT_FLAG_DEFAULT (include/linux/mm.h): what the arch fault handlers start with. */
export const FAULT_FLAG_DEFAULT =
  FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE | FAULT_FLAG_INTERRUPTIBLE;

/**
 * Models fault_flag_allow_retry_first() (include/linux/mm.h): the fault may be retried and this
 * is its first attempt (ALLOW_RETRY without TRIED), so a handler may drop mmap_lock to wait.
 */
export function faultFlagAllowRetryFirst(flags: number): boolean {
  return (flags & FAULT_FLAG_ALLOW_RETRY) !== 0 && (flags & FAULT_FLAG_TRIED) === 0;
}

/**
 * Models struct vm_operations_struct. Called with the mm's mmap_lock held (write for open/close
 * during mmap/munmap, read for fault).
 */
export interface VmOperations {
  /** Models ->open: a new vma now maps the same thing (a split); take your references. */
  open?(vma: Vma): Promise<void> | void;
  /** Models ->close: the vma is going away; drop what open/mmap took. */
  close?(vma: Vma): Promise<void> | void;
  /**
   * Models ->fault: the page at file page offset `pgoff` (vma.vmPgoff + page index), a
   * PAGE_SIZE Uint8Array shared with the driver, or a VM_FAULT_* code (SIGBUS, OOM...).
   * `flags` is vmf->flags (FAULT_FLAG_*). A handler that returns VM_FAULT_RETRY for a fault
   * without FAULT_FLAG_RETRY_NOWAIT has released mmap_lock and must not touch `vma` after that
   * (another thread may unmap and free it).
   */
  fault?(vma: Vma, pgoff: number, flags: number): Promise<Uint8Array | number>;
  /** Models ->may_split: 0 to allow splitting at `addr`, or a negative errno. */
  maySplit?(vma: Vma, addr: number): number;
}

/**
 * Models struct address_space as far as mappings go: the i_mmap set of every vma that maps
 * the file, which unmap_mapping_range() walks.
 */
export class AddressSpace {
  /** Models i_mmap. */
  readonly iMmap = new Set<Vma>();

  constructor(readonly name: string) {}
}

/** The slab cache of vmas (vm_area_cachep). */
export const vmAreaCachep = new KmemCache("vm_area_struct");

/**
 * Models struct vm_area_struct.
 *
 * Locking: fields change under the mm's mmap_lock (write); `pages` is the page table (the
 * kernel's page-table lock is folded into mmap_lock).
 * References: `vmFile` holds one file reference.
 */
export class Vma extends SlabObject {
  /** Models vm_mm. */
  readonly vmMm: MmStruct;
  /** Models vm_start. */
  vmStart: number;
  /** Models vm_end (exclusive). */
  vmEnd: number;
  /** Models vm_pgoff: the file offset of vmStart, in pages. */
  vmPgoff: number;
  /** Models vm_flags (VM_*). */
  vmFlags: number;
  /** Models vm_file (holds a reference). */
  vmFile: File | null = null;
  /** Models vm_ops. */
  vmOps: VmOperations | null = null;
  /** Models vm_private_data. */
  vmPrivateData: unknown = undefined;
  /** The page table: virtual page number -> page. */
  readonly pages = new Map<number, Uint8Array>();
  /** Virtual page numbers holding a private copy (copy-on-write of a MAP_PRIVATE mapping). */
  readonly cowPages = new Set<number>();

  constructor(mm: MmStruct, start: number, end: number, pgoff: number, flags: number) {
    super(vmAreaCachep);
    this.vmMm = mm;
    this.vmStart = start;
    this.vmEnd = end;
    this.vmPgoff = pgoff;
    this.vmFlags = flags;
  }

  /** vm_start (alias). */
  get start(): number {
    return this.vmStart;
  }

  /** vm_end - vm_start: the length in bytes. */
  get length(): number {
    return this.vmEnd - this.vmStart;
  }

  /** vm_pgoff (alias). */
  get pgoff(): number {
    return this.vmPgoff;
  }

  /** vm_file (alias). */
  get file(): File | null {
    return this.vmFile;
  }

  /** vm_private_data (alias). */
  get privateData(): unknown {
    return this.vmPrivateData;
  }

  set privateData(v: unknown) {
    this.vmPrivateData = v;
  }

  /** Pages in the vma. */
  get nrPages(): number {
    return (this.vmEnd - this.vmStart) / PAGE_SIZE;
  }

  /**
   * Models vm_insert_page(vma, addr, page): maps `page` at the user page holding `addr`
   * (mm/memory.c: -EFAULT for an address outside the vma; insert_page() then takes the pte of
   * addr's page, with no alignment check; -EBUSY if that pte is present). -EINVAL for a `page`
   * that is not a PAGE_SIZE Uint8Array, or a non-integer address (values C could not pass). The
   * driver keeps ownership of the page's memory.
   * Locking: mmap_lock held (from ->mmap or ->fault).
   */
  insertPage(addr: number, page: Uint8Array): number {
    mmapAssertLocked(this.vmMm);
    if (!Number.isInteger(addr)) return -EINVAL;
    if (addr < this.vmStart || addr >= this.vmEnd) return -EFAULT;
    if (!(page instanceof Uint8Array) || page.length !== PAGE_SIZE) return -EINVAL;
    const vpn = Math.floor(addr / PAGE_SIZE);
    if (this.pages.has(vpn)) return -EBUSY;
    this.pages.set(vpn, page);
    return 0;
  }

  /**
   * Models zap_vma_ptes(vma, address, size): drops the page-table entries of the range so the
   * next access faults. As in mm/memory.c it does nothing unless the vma is VM_PFNMAP and the
   * whole range lies inside it (range_in_vma()). Returns the number of entries dropped (the
   * kernel's returns nothing).
   * Locking: not checked (zap_vma_ptes() asserts nothing): the caller serializes against faults,
   * with mmap_lock or a lock of its own.
   */
  zapPtes(address: number, size: number): number {
    if (address < this.vmStart || address + size > this.vmEnd || !(this.vmFlags & VM_PFNMAP))
      return 0;
    const first = Math.floor(address / PAGE_SIZE);
    const last = Math.ceil((address + size) / PAGE_SIZE);
    let n = 0;
    for (let vpn = first; vpn < last; vpn++) {
      if (this.pages.delete(vpn)) n++;
      if (this.cowPages.delete(vpn)) unchargePages(1);
    }
    return n;
  }
}

/**
 * Models unmap_mapping_range(mapping, holebegin, holelen, even_cows): zaps, in every vma that
 * maps the file, the pages of file byte range [holebegin, holebegin + holelen) (holelen 0: to
 * the end). Private copy-on-write copies survive unless `evenCows`. Returns the number of
 * page-table entries dropped.
 * Locking: none needed beyond the mapping's own (i_mmap_rwsem, folded in).
 */
export function unmapMappingRange(
  mapping: AddressSpace,
  holebegin: number,
  holelen: number,
  evenCows = false,
): number {
  const firstPg = Math.floor(holebegin / PAGE_SIZE);
  const lastPg =
    holelen === 0 ? Number.POSITIVE_INFINITY : Math.ceil((holebegin + holelen) / PAGE_SIZE);
  let n = 0;
  for (const vma of mapping.iMmap) {
    const vmaFirstPg = vma.vmPgoff;
    const vmaLastPg = vma.vmPgoff + vma.nrPages;
    const from = Math.max(firstPg, vmaFirstPg);
    const to = Math.min(lastPg, vmaLastPg);
    for (let pg = from; pg < to; pg++) {
      const vpn = vma.vmStart / PAGE_SIZE + (pg - vma.vmPgoff);
      if (vma.cowPages.has(vpn) && !evenCows) continue;
      if (vma.pages.delete(vpn)) n++;
      if (vma.cowPages.delete(vpn)) unchargePages(1);
    }
  }
  return n;
}
