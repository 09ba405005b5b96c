/**
 * A process's address space (mm/mmap.c, mm/vma.c, mm/memory.c, mm/util.c): mmap(), munmap(),
 * page faults, user memory access and the teardown at exit.
 *
 * An MmStruct is a sorted list of Vmas under `mmapLock`. mmap() of a file allocates a vma, takes
 * a file reference for it and lets the driver's ->mmap set it up (vmOps, vmPrivateData, pages);
 * munmap() splits vmas at the range's edges and removes what is inside: page-table entries
 * zapped, vmOps.close, fput of the file, vma freed. User reads and writes (`accessVm()`) go
 * through the page table and fault missing pages in from vmOps.fault (under mmap_lock for
 * reading; a handler may drop it and return VM_FAULT_RETRY, and the fault is retried with
 * FAULT_FLAG_TRIED), so userspace sees the driver's memory itself.
 *
 * Faithfulness: addresses are chosen top-down below MMAP_BASE as x86-64 does, without
 * randomization; no page cache, no swap, no fork (so no anon_vma), no mremap/mprotect, no
 * MAP_POPULATE prefaulting (the flag is accepted). Anonymous memory (shared or private) is
 * zero-filled private pages. MAP_FIXED over an existing mapping unmaps it first and does not
 * restore it if the new mapping fails (the kernel since 6.12 does restore it).
 */

import { Atomic, pointNow, RESOLVED } from "@primetime/atomics";
import { currentTask, point, type Task, TaskLocal, warnOn } from "@primetime/sim";
import { type File, FMODE_READ, FMODE_WRITE, fput, getFile } from "../fs/file.js";
import {
  EACCES,
  EEXIST,
  EFAULT,
  EINTR,
  EINVAL,
  ENODEV,
  ENOMEM,
  EOPNOTSUPP,
  EOVERFLOW,
  isErr,
} from "../include/errno.js";
import { fatalSignalPending } from "../kernel/signal.js";
import {
  MMAP_LOCK_TAKEN,
  MmapLock,
  mmapAssertLocked,
  mmapAssertWriteLocked,
  mmapWriteDowngrade,
} from "./mmap-lock.js";
import { chargePages, unchargePages, vmEnoughMemory } from "./page-alloc.js";
import { kfree, kmalloc } from "./slab.js";
import {
  FAULT_FLAG_DEFAULT,
  FAULT_FLAG_TRIED,
  FAULT_FLAG_WRITE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  offsetInPage,
  PAGE_SIZE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  pageAlign,
  VM_ACCOUNT,
  VM_EXEC,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_NORESERVE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  Vma,
  type VmOperations,
  vmAreaCachep,
} from "./vma.js";

/** Models TASK_SIZE (x86-64, 4-level paging): the end of user address space. */
export const TASK_SIZE = 0x7fff_ffff_f000;
/** Models mmap_min_addr's usual value. */
export const MMAP_MIN_ADDR = 0x10000;
/** Where top-down mmap allocation starts (mm->mmap_base without randomization). */
export const MMAP_BASE = 0x7f00_0000_0000;
/** Models sysctl_max_map_count (DEFAULT_MAX_MAP_COUNT). */
export const DEFAULT_MAX_MAP_COUNT = 65530;

/**
 * The flags of LEGACY_MAP_MASK (include/linux/mman.h) that the model knows: what MAP_SHARED keeps
 * and MAP_SHARED_VALIDATE accepts. MAP_FIXED_NOREPLACE is not in the kernel's mask, so
 * MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE of a file is -EOPNOTSUPP (after the -EEXIST check).
 * The other legacy flags (MAP_LOCKED, MAP_GROWSDOWN, MAP_HUGETLB, ...) are not modelled.
 */
const LEGACY_MAP_MASK =
  MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE;

/**
 * Models struct mm_struct: a process's address space, shared by its threads.
 *
 * Locking: `mmapLock` (write) protects `vmas` and every vma's fields; faults hold it for reading.
 * References: `mmUsers` counts the threads using it; each vma holds its file.
 */
export class MmStruct {
  /** Models mm->mm_users. */
  readonly mmUsers: Atomic;
  /** Models mm->mmap_lock. */
  readonly mmapLock: MmapLock;
  /** The vmas, sorted by vmStart (the kernel's maple tree). */
  readonly vmas: Vma[] = [];

  constructor(readonly name: string) {
    this.mmUsers = new Atomic(name, 1, "mm_users");
    this.mmapLock = new MmapLock(name);
  }

  /** Models mm->map_count. */
  get mapCount(): number {
    return this.vmas.length;
  }

  /** Models vma_lookup(mm, addr): the vma containing `addr`, or null. No scheduling point. */
  findVma(addr: number): Vma | null {
    for (const v of this.vmas) if (addr >= v.vmStart && addr < v.vmEnd) return v;
    return null;
  }

  /** The vmas intersecting [start, end), in address order. */
  vmasIn(start: number, end: number): Vma[] {
    return this.vmas.filter((v) => v.vmStart < end && v.vmEnd > start);
  }

  private insert(vma: Vma): void {
    let i = this.vmas.length;
    while (i > 0 && this.vmas[i - 1]!.vmStart > vma.vmStart) i--;
    this.vmas.splice(i, 0, vma);
  }

  /** @internal Links a vma into the mm and its file's mapping (vma_link()). */
  link(vma: Vma): void {
    this.insert(vma);
    if (vma.vmFile) vma.vmFile.fMapping.iMmap.add(vma);
  }

  /** @internal Unlinks a vma from the mm and its file's mapping. */
  unlink(vma: Vma): void {
    const i = this.vmas.indexOf(vma);
    if (i >= 0) this.vmas.splice(i, 1);
    if (vma.vmFile) vma.vmFile.fMapping.iMmap.delete(vma);
  }
}

// ---- current->mm ----

const taskMm = new TaskLocal<MmStruct | null>(() => null);

/** Sets `task`'s mm (the process layer does it for each thread before it runs). */
export function setTaskMm(task: Task, mm: MmStruct | null): void {
  taskMm.set(task, mm);
}

/** Models current->mm: null for kernel threads and tasks outside a process. */
export function currentMm(): MmStruct | null {
  const t = currentTask();
  return t ? taskMm.get(t) : null;
}

/** Models calc_vm_prot_bits(). */
function calcVmProtBits(prot: number): number {
  return (
    (prot & PROT_READ ? VM_READ : 0) |
    (prot & PROT_WRITE ? VM_WRITE : 0) |
    (prot & PROT_EXEC ? VM_EXEC : 0)
  );
}

/**
 * Models get_unmapped_area() with the top-down x86-64 allocator: for MAP_FIXED the address
 * itself (page aligned, else -EINVAL); otherwise the hint if that range is free, else the
 * highest free range below MMAP_BASE. -ENOMEM when nothing fits.
 */
function getUnmappedArea(mm: MmStruct, addr: number, len: number, flags: number): number {
  if (len > TASK_SIZE - MMAP_MIN_ADDR) return -ENOMEM;
  if (flags & MAP_FIXED) {
    if (addr > TASK_SIZE - len) return -ENOMEM;
    if (offsetInPage(addr) !== 0) return -EINVAL;
    return addr;
  }
  if (addr) {
    const a = pageAlign(addr);
    if (TASK_SIZE - len >= a && a >= MMAP_MIN_ADDR && mm.vmasIn(a, a + len).length === 0) return a;
  }
  let hi = MMAP_BASE;
  const desc = [...mm.vmas].sort(byVmStartDescending);
  for (const v of desc) {
    if (v.vmStart >= hi) continue;
    if (v.vmEnd <= hi && hi - v.vmEnd >= len) return hi - len;
    hi = Math.min(hi, v.vmStart);
  }
  if (hi - MMAP_MIN_ADDR >= len) return hi - len;
  return -ENOMEM;
}

/** Sort order of getUnmappedArea()'s walk: highest vma first. */
function byVmStartDescending(x: Vma, y: Vma): number {
  return y.vmStart - x.vmStart;
}

/**
 * Models do_mmap(): validates the request (order and errno as the kernel's), picks the address,
 * then mmap_region(). Returns the address or a negative errno. `file` carries the caller's
 * reference (the vma takes its own).
 *
 * Locking: mm->mmap_lock held for writing.
 * References: the new vma takes one on `file`.
 */
export async function doMmap(
  mm: MmStruct,
  file: File | null,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  pgoff: number,
): Promise<number> {
  mmapAssertWriteLocked(mm);
  if (!len) return -EINVAL;
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  len = pageAlign(len);
  if (!len) return -ENOMEM;
  if (pgoff + len / PAGE_SIZE > Number.MAX_SAFE_INTEGER / PAGE_SIZE) return -EOVERFLOW;
  if (mm.mapCount > DEFAULT_MAX_MAP_COUNT) return -ENOMEM;
  let vmFlags = calcVmProtBits(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  addr = getUnmappedArea(mm, addr, len, flags);
  if (addr < 0) return addr;
  if (flags & MAP_FIXED_NOREPLACE && mm.vmasIn(addr, addr + len).length > 0) return -EEXIST;
  if (file) {
    // The kernel's switch: MAP_SHARED falls through to MAP_SHARED_VALIDATE, both to MAP_PRIVATE.
    const type = flags & MAP_TYPE;
    if (type === MAP_SHARED || type === MAP_SHARED_VALIDATE) {
      if (type === MAP_SHARED) flags &= LEGACY_MAP_MASK; // unknown flags silently ignored
      if (flags & ~LEGACY_MAP_MASK) return -EOPNOTSUPP;
      if (prot & PROT_WRITE && !(file.fMode & FMODE_WRITE)) return -EACCES;
      vmFlags |= VM_SHARED | VM_MAYSHARE;
      if (!(file.fMode & FMODE_WRITE)) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
    } else if (type !== MAP_PRIVATE) {
      return -EINVAL;
    }
    if (!(file.fMode & FMODE_READ)) return -EACCES;
    if (!file.fOp.mmap) return -ENODEV;
  } else {
    switch (flags & MAP_TYPE) {
      case MAP_SHARED:
        pgoff = 0;
        vmFlags |= VM_SHARED | VM_MAYSHARE;
        break;
      case MAP_PRIVATE:
        pgoff = addr / PAGE_SIZE;
        break;
      default:
        return -EINVAL;
    }
  }
  // MAP_NORESERVE is honoured: the policy is OVERCOMMIT_GUESS, not OVERCOMMIT_NEVER.
  if (flags & MAP_NORESERVE) vmFlags |= VM_NORESERVE;
  return mmapRegion(mm, file, addr, len, vmFlags, pgoff, (flags & MAP_FIXED) !== 0);
}

/**
 * Models accountable_mapping() (mm/vma.c): a private writable mapping, of a file or anonymous,
 * is committed unless VM_NORESERVE; a shared or read-only private one is not (shared anonymous
 * memory is committed by shmem_zero_setup() instead, see mmapRegion()).
 */
function accountableMapping(vmFlags: number): boolean {
  return (vmFlags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) === VM_WRITE;
}

/**
 * Models mmap_region() (__mmap_region(), __mmap_prepare(), __mmap_new_vma() of mm/vma.c):
 * unmaps what a MAP_FIXED range covers; commits a private writable mapping
 * (accountable_mapping(), security_vm_enough_memory_mm(): -ENOMEM); allocates the vma; for a
 * file takes the file reference and calls the driver's ->mmap, on failure dropping the reference
 * and freeing the vma (vm_ops->close is not called: ->mmap cleans up after itself); for shared
 * anonymous memory commits it as shmem_zero_setup() does (shmem_acct_size(): unless
 * VM_NORESERVE, -ENOMEM). Links the vma on success.
 *
 * Locking: mm->mmap_lock held for writing; ->mmap runs under it.
 * References: the vma holds one reference on `file`.
 */
async function mmapRegion(
  mm: MmStruct,
  file: File | null,
  addr: number,
  len: number,
  vmFlags: number,
  pgoff: number,
  fixed: boolean,
): Promise<number> {
  mmapAssertWriteLocked(mm);
  if (fixed && mm.vmasIn(addr, addr + len).length > 0) {
    const err = await doVmiMunmap(mm, addr, len);
    if (err < 0) return err;
  }
  // __mmap_prepare(): a private writable mapping is committed before the vma is allocated.
  if (accountableMapping(vmFlags)) {
    if (!vmEnoughMemory(len / PAGE_SIZE)) return -ENOMEM;
    vmFlags |= VM_ACCOUNT;
  }
  await point("vm_area_alloc");
  const vma = kmalloc(vmAreaCachep, () => new Vma(mm, addr, addr + len, pgoff, vmFlags));
  if (isErr(vma)) return -ENOMEM;
  if (file === null && vmFlags & VM_SHARED) {
    // shmem_zero_setup() -> __shmem_file_setup(): shmem_acct_size() commits the whole object.
    if (!(vmFlags & VM_NORESERVE) && !vmEnoughMemory(len / PAGE_SIZE)) {
      kfree(vma);
      return -ENOMEM;
    }
  }
  if (file) {
    vma.vmFile = await getFile(file);
    const error = await file.fOp.mmap!(file, vma);
    if (error < 0) {
      // unmap_and_free_file_vma: ->mmap may have replaced vm_file (dma_buf_mmap() does), so
      // the reference to drop is the VMA's, not the caller's file.
      const held = vma.vmFile;
      vma.vmFile = null;
      if (held) await fput(held);
      kfree(vma);
      return error;
    }
  }
  mm.link(vma);
  return addr;
}

/**
 * Models vm_mmap_pgoff(): do_mmap() under mmap_lock taken for writing, killably ("if
 * (mmap_write_lock_killable(mm)) return -EINTR;": a fatal signal while waiting for the lock).
 * Locking: takes mm->mmap_lock (write).
 * References: see doMmap().
 */
export async function vmMmapPgoff(
  mm: MmStruct,
  file: File | null,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  pgoff: number,
): Promise<number> {
  if (await mm.mmapLock.writeLockKillable()) return -EINTR;
  const ret = await doMmap(mm, file, addr, len, prot, flags, pgoff);
  const writeUnlockDone = mm.mmapLock.writeUnlock();
  if (writeUnlockDone !== RESOLVED) await writeUnlockDone;
  return ret;
}

/**
 * Models __split_vma(vma, addr, new_below): cuts `vma` at `addr` into two vmas; the new one
 * (below `addr` if newBelow, else above) takes a file reference and gets vm_ops->open.
 * 0, ->may_split's error, or -ENOMEM.
 * Locking: mmap_lock held for writing.
 * References: takes one on the file for the new vma.
 */
async function splitVma(mm: MmStruct, vma: Vma, addr: number, newBelow: boolean): Promise<number> {
  mmapAssertWriteLocked(mm);
  if (vma.vmOps?.maySplit) {
    const err = vma.vmOps.maySplit(vma, addr);
    if (err) return err;
  }
  await point("vm_area_dup");
  const nv = kmalloc(
    vmAreaCachep,
    () => new Vma(mm, vma.vmStart, vma.vmEnd, vma.vmPgoff, vma.vmFlags),
  );
  if (isErr(nv)) return -ENOMEM;
  nv.vmOps = vma.vmOps;
  nv.vmPrivateData = vma.vmPrivateData;
  if (newBelow) nv.vmEnd = addr;
  else {
    nv.vmStart = addr;
    // A page count, not `>> PAGE_SHIFT` (JavaScript shifts are 32-bit: a vma of 2 GiB or more
    // would get a negative offset).
    nv.vmPgoff += Math.floor((addr - vma.vmStart) / PAGE_SIZE);
  }
  for (const [vpn, page] of vma.pages) {
    const a = vpn * PAGE_SIZE;
    if (a >= nv.vmStart && a < nv.vmEnd) {
      nv.pages.set(vpn, page);
      vma.pages.delete(vpn);
      if (vma.cowPages.delete(vpn)) nv.cowPages.add(vpn);
    }
  }
  if (vma.vmFile) nv.vmFile = await getFile(vma.vmFile);
  if (nv.vmOps?.open) await nv.vmOps.open(nv);
  if (newBelow) {
    vma.vmPgoff += Math.floor((addr - nv.vmStart) / PAGE_SIZE);
    vma.vmStart = addr;
  } else {
    vma.vmEnd = addr;
  }
  mm.link(nv);
  return 0;
}

/**
 * Models remove_vma(): vm_ops->close, fput of the file, free. The page-table entries are gone
 * already (unmap_region()).
 * Locking: mmap_lock held, for reading after munmap(2)'s mmap_write_downgrade(), else for
 * writing (exit_mmap(), an mmap() replacing a mapping).
 * References: drops the vma's file reference.
 */
async function removeVma(vma: Vma): Promise<void> {
  mmapAssertLocked(vma.vmMm);
  if (vma.vmOps?.close) await vma.vmOps.close(vma);
  const file = vma.vmFile;
  if (file) await fput(file);
  kfree(vma);
}

/**
 * Models do_vmi_munmap() -> do_vmi_align_munmap() (mm/vma.c, v6.18): unmaps
 * [start, start + PAGE_ALIGN(len)): splits the vmas at the edges and detaches the ones inside
 * (vms_gather_munmap_vmas(), vma_iter_clear_gfp()), then vms_complete_munmap_vmas(): with
 * `unlock` (munmap(2)) the mmap_lock is downgraded to reading first, the pages are zapped
 * (vms_clear_ptes()) and each vma removed (remove_vma(): vm_ops->close, fput()) under the read
 * lock, which is then dropped. 0 (also when nothing is mapped there: with `unlock` the lock is
 * dropped then too), -EINVAL for a bad range, or a split's error (-ENOMEM): on an error the lock
 * stays held for writing.
 * Locking: mmap_lock held for writing; released on success when `unlock`.
 * References: drops each removed vma's file reference.
 */
export async function doVmiMunmap(
  mm: MmStruct,
  start: number,
  len: number,
  unlock = false,
): Promise<number> {
  mmapAssertWriteLocked(mm);
  if (offsetInPage(start) !== 0 || start > TASK_SIZE || len > TASK_SIZE - start) return -EINVAL;
  const end = start + pageAlign(len);
  if (end === start) return -EINVAL;
  let hit = mm.vmasIn(start, end);
  if (hit.length === 0) {
    if (unlock) await mm.mmapLock.writeUnlock();
    return 0;
  }
  const first = hit[0]!;
  if (start > first.vmStart) {
    const err = await splitVma(mm, first, start, true);
    if (err) return err;
  }
  const last = hit[hit.length - 1]!;
  if (last.vmEnd > end) {
    const err = await splitVma(mm, last, end, false);
    if (err) return err;
  }
  hit = mm.vmasIn(start, end);
  for (const v of hit) mm.unlink(v);
  // vms_complete_munmap_vmas(): the point of no return.
  if (unlock) mmapWriteDowngrade(mm);
  await point("unmap_region");
  for (const v of hit) {
    v.pages.clear();
    unchargePages(v.cowPages.size);
    v.cowPages.clear();
  }
  for (const v of hit) await removeVma(v);
  if (unlock) await mm.mmapLock.readUnlock();
  return 0;
}

/**
 * Models __vm_munmap(start, len, unlock) (mm/vma.c, v6.18): do_vmi_munmap() under mmap_lock
 * taken for writing, dropped here unless do_vmi_munmap() dropped it (`unlock` and success).
 * munmap(2) passes `unlock` (the vmas are closed and their files put under the read lock);
 * vm_munmap(), the in-kernel call, does not. The lock is taken killably: -EINTR for a fatal
 * signal while waiting for it ("if (mmap_write_lock_killable(mm)) return -EINTR;").
 * Locking: takes mm->mmap_lock (write; downgraded to read when `unlock`).
 * References: see doVmiMunmap().
 */
export async function vmMunmap(
  mm: MmStruct,
  start: number,
  len: number,
  unlock = false,
): Promise<number> {
  if (await mm.mmapLock.writeLockKillable()) return -EINTR;
  const ret = await doVmiMunmap(mm, start, len, unlock);
  if (ret || !unlock) await mm.mmapLock.writeUnlock();
  return ret;
}

/**
 * Models handle_mm_fault() for one page: the page-table entry for `vpn`, faulted in from
 * vmOps.fault (file mappings, called with the fault's `flags`, vmf->flags) or zero-filled
 * (anonymous), with a private copy on a write to a MAP_PRIVATE file mapping. A page, or a
 * VM_FAULT_* code; a promise of one only when vmOps.fault runs (a present page or an anonymous
 * one is settled at once: no async frame per access). On VM_FAULT_RETRY the handler has
 * released mmap_lock (unless `flags` had FAULT_FLAG_RETRY_NOWAIT) and `vma` is not touched again.
 * Locking: mmap_lock held (read); released by the handler on VM_FAULT_RETRY.
 */
function handleMmFault(
  vma: Vma,
  vpn: number,
  write: boolean,
  flags: number,
): Uint8Array | number | Promise<Uint8Array | number> {
  mmapAssertLocked(vma.vmMm);
  const page = vma.pages.get(vpn);
  if (page !== undefined) return privatePage(vma, vpn, write, page);
  if (vma.vmFile === null) {
    if (!chargePages(1)) return VM_FAULT_OOM;
    const zero = new Uint8Array(PAGE_SIZE);
    vma.pages.set(vpn, zero);
    vma.cowPages.add(vpn);
    return zero;
  }
  const ops = vma.vmOps;
  if (!ops?.fault) return VM_FAULT_SIGBUS;
  return faultIn(vma, vma.vmFile, ops as Required<Pick<VmOperations, "fault">>, vpn, write, flags);
}

/**
 * handle_mm_fault()'s call of vmOps.fault (__do_fault()) for a page not yet in the page table.
 * A VM_FAULT_* code returns at once: after VM_FAULT_RETRY mmap_lock may be gone and `vma` freed
 * ("It is no longer safe to dereference vma-> after this point").
 */
async function faultIn(
  vma: Vma,
  file: File,
  ops: Required<Pick<VmOperations, "fault">>,
  vpn: number,
  write: boolean,
  flags: number,
): Promise<Uint8Array | number> {
  const pgoff = vma.vmPgoff + (vpn - vma.vmStart / PAGE_SIZE);
  const r = await ops.fault(vma, pgoff, flags);
  if (typeof r === "number") return r === 0 ? VM_FAULT_SIGBUS : r;
  if (
    warnOn(
      !(r instanceof Uint8Array) || r.length !== PAGE_SIZE,
      `fault handler of ${file.name} returned something that is not a PAGE_SIZE page`,
      { object: file.name },
    )
  )
    return VM_FAULT_SIGBUS;
  vma.pages.set(vpn, r);
  return privatePage(vma, vpn, write, r);
}

/** A write to a MAP_PRIVATE mapping's page gets the private copy (once per page). */
function privatePage(vma: Vma, vpn: number, write: boolean, page: Uint8Array): Uint8Array | number {
  if (write && !(vma.vmFlags & VM_SHARED) && !vma.cowPages.has(vpn)) {
    if (!chargePages(1)) return VM_FAULT_OOM;
    const copy = page.slice();
    vma.pages.set(vpn, copy);
    vma.cowPages.add(vpn);
    return copy;
  }
  return page;
}

/**
 * Models x86's access_error() for a fault on a present-or-not page of `vma`: a write needs
 * VM_WRITE; a read only needs the VMA to be accessible at all (vma_is_accessible(): VM_READ,
 * VM_WRITE or VM_EXEC), so loads through a PROT_WRITE-only mapping work, as on x86.
 * Locking: mmap_lock held (read).
 * References: none.
 */
function accessError(mm: MmStruct, write: boolean, vma: Vma): boolean {
  mmapAssertLocked(mm);
  return vmaRefuses(vma, write);
}

/** access_error()'s rule itself, without the lock assertion (accessVm()'s up-front check). */
function vmaRefuses(vma: Vma, write: boolean): boolean {
  if (write) return !(vma.vmFlags & VM_WRITE);
  return !(vma.vmFlags & (VM_READ | VM_WRITE | VM_EXEC));
}

/**
 * Models a user access to its own memory (the copy a load/store loop does, with page faults):
 * reads `len` bytes at `addr` into a new array, or writes `data` there. Returns the bytes read
 * (or written), or -EFAULT when a page is not mapped, the access is refused (accessError()), or
 * its fault fails
 * (SIGSEGV/SIGBUS in a real process). A failed access may have copied part of the range.
 * One scheduling point per page: another task may change the memory between pages.
 *
 * Each page's fault is x86's do_user_addr_fault() on the mmap_lock path (v6.18
 * arch/x86/mm/fault.c): lock_mm_and_find_vma() (mmap_read_lock(), the vma or -EFAULT),
 * access_error(), handle_mm_fault() with FAULT_FLAG_DEFAULT (ALLOW_RETRY | KILLABLE |
 * INTERRUPTIBLE, | WRITE for a store); on VM_FAULT_RETRY the handler has dropped mmap_lock, so
 * `flags |= FAULT_FLAG_TRIED` and `goto retry`: the lock is taken again and the vma looked up
 * again (it may be gone). Not modelled: the per-VMA-lock attempt before it (lock_vma_under_rcu(),
 * v6.4+, user-mode faults only): for a vma whose vm_ops has no ->map_pages (every driver vma
 * here) do_read_fault()/do_shared_fault()/do_cow_fault() return VM_FAULT_RETRY from
 * vmf_can_call_fault() before ->fault, without VM_FAULT_MAJOR, so ->fault first runs on this
 * path with these flags anyway; FAULT_FLAG_USER is not passed (this function also serves
 * copy_from_user()/copy_to_user(), kernel-mode faults, and nothing here reads it). After
 * VM_FAULT_RETRY, fault_signal_pending() (VM_FAULT_RETRY and a fatal signal pending) ends the
 * access without a retry: -EFAULT here (a user access's thread dies on its way out; a kernel
 * access gets the exception fixup's -EFAULT).
 *
 * Locking: takes mm->mmap_lock for reading around each page's fault and copy (a fault handler
 * may drop it and the fault then takes it again).
 * References: none.
 */
export async function accessVm(
  mm: MmStruct,
  addr: number,
  len: number,
  data: Uint8Array | null,
): Promise<Uint8Array | number> {
  const write = data !== null;
  // A range that is not entirely mapped with the right permission faults somewhere: -EFAULT
  // before anything is copied or allocated. A read of up to READ_AT_ONCE bytes copies each page
  // straight into the result; a longer one keeps its bytes in pieces, so it never allocates
  // more than the memory it has read (a fault may fail half-way).
  if (!rangeAccessible(mm, addr, len, write)) return -EFAULT;
  const out = write || len > READ_AT_ONCE ? null : new Uint8Array(len);
  const pieces: Uint8Array[] | null = write || out !== null ? null : [];
  const lock = mm.mmapLock;
  let done = 0;
  while (done < len) {
    const cur = addr + done;
    const vpn = Math.floor(cur / PAGE_SIZE);
    const off = cur - vpn * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, len - done);
    // The points, the lock and a present page's fault settle at once when the running task
    // goes on (pointNow(), RESOLVED): no awaits of settled promises in this per-page loop.
    const p = pointNow(accessLabel(write, cur));
    if (p !== null) await p;
    let flags = write ? FAULT_FLAG_DEFAULT | FAULT_FLAG_WRITE : FAULT_FLAG_DEFAULT;
    let page: Uint8Array | number | Promise<Uint8Array | number>;
    for (;;) {
      // retry: lock_mm_and_find_vma(): get_mmap_lock_carefully() (a trylock, then
      // mmap_read_lock_killable(): a fatal signal fails it, bad_area_nosemaphore(): -EFAULT
      // here, the thread dies on its way out)
      const locked = lock.readLockKillable();
      if (locked !== MMAP_LOCK_TAKEN && (await locked) !== 0) return -EFAULT;
      const vma = mm.findVma(cur);
      page = -EFAULT;
      if (vma !== null && !accessError(mm, write, vma)) {
        page = handleMmFault(vma, vpn, write, flags);
        if (page instanceof Promise) page = await page;
      }
      // The handler released mmap_lock (FAULT_FLAG_RETRY_NOWAIT is never set here).
      if (typeof page === "number" && page > 0 && page & VM_FAULT_RETRY) {
        // fault_signal_pending(fault, regs): "Quick path to respond to signals. The core mm
        // code has unlocked the mm for us if we get here." No retry: a user access returns to
        // the signal (the thread dies), a kernel one (copy_from_user()) gets -EFAULT from
        // kernelmode_fixup_or_oops().
        if (fatalSignalPending()) return -EFAULT;
        flags |= FAULT_FLAG_TRIED;
        continue;
      }
      break;
    }
    if (typeof page === "number") {
      const readUnlockDone = lock.readUnlock();
      if (readUnlockDone !== RESOLVED) await readUnlockDone;
      return -EFAULT;
    }
    if (write) page.set(n === data.length ? data : data.subarray(done, done + n), off);
    else if (out !== null)
      out.set(off === 0 && n === page.length ? page : page.subarray(off, off + n), done);
    else pieces!.push(page.slice(off, off + n));
    const unlocked = lock.readUnlock();
    if (unlocked !== RESOLVED) await unlocked;
    done += n;
  }
  if (write) return len;
  if (out !== null) return out;
  const all = new Uint8Array(len);
  let at = 0;
  for (const piece of pieces!) {
    all.set(piece, at);
    at += piece.length;
  }
  return all;
}

/**
 * accessVm()'s point labels, `load 0x7f0000001000` / `store 0x...`, by address: built once per
 * address for the process rather than per page per access (the same few user addresses come back
 * run after run). Past ACCESS_LABELS_MAX addresses a table starts over.
 */
const loadLabels = new Map<number, string>();
const storeLabels = new Map<number, string>();
const ACCESS_LABELS_MAX = 1 << 16;

function accessLabel(write: boolean, addr: number): string {
  const labels = write ? storeLabels : loadLabels;
  let s = labels.get(addr);
  if (s === undefined) {
    if (labels.size >= ACCESS_LABELS_MAX) labels.clear();
    s = `${write ? "store" : "load"} 0x${addr.toString(16)}`;
    labels.set(addr, s);
  }
  return s;
}

/** The longest read accessVm() copies into one array allocated up front (64 pages). */
const READ_AT_ONCE = 64 * PAGE_SIZE;

/**
 * True if every byte of [addr, addr + len) is in a vma that allows the access: a quick check
 * without mmap_lock (the vma list is read between scheduling points); each page is checked again
 * under the lock as it is reached.
 */
function rangeAccessible(mm: MmStruct, addr: number, len: number, write: boolean): boolean {
  const end = addr + len;
  if (!Number.isSafeInteger(end) || end > TASK_SIZE) return len === 0;
  let cur = addr;
  for (const v of mm.vmasIn(addr, end)) {
    if (v.vmStart > cur || vmaRefuses(v, write)) return false;
    cur = v.vmEnd;
    if (cur >= end) return true;
  }
  return cur >= end;
}

/**
 * Models exit_mmap(): removes every vma of a dying address space (pages zapped, vm_ops->close,
 * fput, free).
 * Locking: takes mm->mmap_lock for writing.
 * References: drops every vma's file reference.
 */
export async function exitMmap(mm: MmStruct): Promise<void> {
  const writeLockDone = mm.mmapLock.writeLock();
  if (writeLockDone !== RESOLVED) await writeLockDone;
  const all = [...mm.vmas];
  for (const v of all) mm.unlink(v);
  await point("unmap_vmas");
  for (const v of all) {
    v.pages.clear();
    unchargePages(v.cowPages.size);
    v.cowPages.clear();
  }
  for (const v of all) await removeVma(v);
  const writeUnlockDone2 = mm.mmapLock.writeUnlock();
  if (writeUnlockDone2 !== RESOLVED) await writeUnlockDone2;
}

/**
 * Models mmput(): drops one user; the last tears the address space down.
 * Locking: none held.
 * References: drops the caller's use of `mm`.
 */
export async function mmput(mm: MmStruct): Promise<void> {
  if (await mm.mmUsers.decAndTest()) await exitMmap(mm);
}

/**
 * Models exit_mm(): detaches the mm from the exiting task and puts it.
 * Locking: none held (do_exit()).
 * References: drops the task's use of its mm.
 */
export async function exitMm(task: Task): Promise<void> {
  const mm = taskMm.get(task);
  if (mm === null) return;
  taskMm.set(task, null);
  await mmput(mm);
}
