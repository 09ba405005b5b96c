/**
 * shmem-backed object memory (mm/shmem.c) as GEM uses it: drm_gem_object_init() sets up a shmem
 * file of the object's size (shmem_file_setup(), VM_NORESERVE: nothing is reserved), and a page
 * exists only once something touches it: a CPU fault through a mapping
 * (shmem_read_mapping_page()), or drm_gem_get_pages() pinning every page for a scatter list.
 * Each page is charged to the machine's RAM when it comes into being, so touching more than the
 * RAM holds fails with -ENOMEM (VM_FAULT_OOM for a fault) instead of growing without bound.
 *
 * Faithfulness: no swap and no reclaim (a page, once touched, stays until the file is released);
 * no huge pages; the page cache is the file's own, not shared with other mappings.
 */

import { ENOMEM } from "../include/errno.js";
import {
  chargePages,
  lazyPageArray,
  nrFreePages,
  residentPages,
  touchAllPages,
  unchargePages,
} from "./page-alloc.js";
import { PAGE_SIZE } from "./vma.js";

/**
 * Models a shmem file's data pages (struct address_space of an object's shmem file).
 * Locking: none of its own (the page cache's xarray lock is not a race window modeled here);
 * page contents are shared memory, as in the kernel.
 * References: the owning object holds it; `release()` is the file's final iput.
 */
export class ShmemFile {
  /** The file's pages, created and charged on first touch (`undefined` when RAM is exhausted). */
  readonly pages: Uint8Array[];
  /** Pages charged to RAM and not yet released. */
  private charged = 0;
  private released = false;

  /** Models shmem_file_setup(name, size, VM_NORESERVE): no page exists yet. */
  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 0 || size % PAGE_SIZE !== 0)
      throw new RangeError(`shmem size must be a page multiple, got ${size}`);
    // A bound method, not a closure made per file: V8 keeps the method's optimized code.
    this.pages = lazyPageArray(size / PAGE_SIZE, this.firstTouch.bind(this));
  }

  /** Pages in existence (touched and charged). */
  get resident(): number {
    return this.charged;
  }

  /**
   * Models shmem_read_mapping_page(mapping, index): the page, allocated (zeroed) and charged on
   * first use, or null when RAM is exhausted (-ENOMEM) or `index` is past the end.
   */
  readPage(index: number): Uint8Array | null {
    return this.pages[index] ?? null;
  }

  /**
   * Models drm_gem_get_pages(): every page of the file, as the pinning for a scatter list does.
   * All or nothing: -ENOMEM (and nothing new allocated) when the pages not yet present do not
   * fit in free RAM; 0 otherwise.
   */
  getPages(): number {
    const pages = this.pages;
    const n = pages.length;
    const missing = n - residentPages(pages);
    if (missing > nrFreePages()) return -ENOMEM;
    return touchAllPages(pages) ? 0 : -ENOMEM;
  }

  /** @internal A page's first touch: charge it to RAM (false when RAM is exhausted). */
  firstTouch(): boolean {
    // A stale touch after release is the owner's use-after-free, not a new allocation.
    if (this.released) return true;
    if (!chargePages(1)) return false;
    this.charged++;
    return true;
  }

  /**
   * Models the shmem file's final iput (shmem_evict_inode(): truncate_inode_pages()): frees every
   * page it had. Idempotent.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    unchargePages(this.charged);
    this.charged = 0;
  }
}
