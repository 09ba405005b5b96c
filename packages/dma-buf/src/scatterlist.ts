/**
 * struct sg_table (include/linux/scatterlist.h, lib/scatterlist.c), as dma-buf exporters hand it
 * to importers: the list of the buffer's pages.
 *
 * A page is a PAGE_SIZE (4096-byte) `Uint8Array`; the table holds the exporter's very arrays, so
 * an importer that writes through a mapped table writes the exporter's memory. There are no DMA
 * addresses, IOMMUs or segment merging: one entry per page, `nents` entries.
 */

import {
  ENOMEM,
  type Errno,
  errPtr,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  SlabObject,
} from "@primetime/kernel";

/** Models PAGE_SIZE for dma-buf pages. */
export const DMA_BUF_PAGE_SIZE = 4096;

/** Models struct sg_table as importers see it: the pages and their count. */
export interface SgTable {
  /** The pages, in buffer order (the exporter's arrays, not copies). */
  readonly pages: Uint8Array[];
  /** Models sgt->nents: entries in use. */
  readonly nents: number;
}

/** The slab cache of page tables exporters allocate in their map callbacks. */
export const sgTableCache = new KmemCache("sg_table");

/**
 * A kmalloc()ed sg_table (what drm_prime_pages_to_sg() returns): tracked by the slab, so an
 * exporter that forgets to free it in its unmap callback is a kmemleak report.
 *
 * Locking: immutable once built.
 * References: owned by whoever mapped it; freed by sgFreeTable().
 */
export class SgTableObject extends SlabObject implements SgTable {
  readonly pages: Uint8Array[];
  readonly nents: number;

  constructor(pages: readonly Uint8Array[]) {
    super();
    this.pages = [...pages];
    this.nents = this.pages.length;
  }
}

/** kmalloc()'s constructor call for a table (one function, not a closure per call). */
function newSgTableObject(pages: readonly Uint8Array[]): SgTableObject {
  return new SgTableObject(pages);
}

/**
 * Models kmalloc(sg_table) + sg_alloc_table_from_pages(): a table of `pages` (shared, not
 * copied), or -ENOMEM on allocation failure (failslab). Every page must be a
 * DMA_BUF_PAGE_SIZE Uint8Array: anything else is a programming error of the exporter (thrown).
 * Locking: none; not a scheduling point.
 * References: the caller owns the table.
 */
export function sgAllocTableFromPages(pages: readonly Uint8Array[]): SgTableObject | Errno {
  for (const p of pages) {
    if (!(p instanceof Uint8Array) || p.length !== DMA_BUF_PAGE_SIZE)
      throw new TypeError("sg_alloc_table_from_pages: pages must be 4096-byte Uint8Arrays");
  }
  const sgt = kmalloc(sgTableCache, newSgTableObject, pages);
  return isErr(sgt) ? errPtr(ENOMEM) : sgt;
}

/**
 * Models sg_free_table() + kfree(): frees a table from sgAllocTableFromPages(). A table that is
 * not slab-tracked (a plain object an exporter built) is left alone.
 * Locking: none.
 * References: consumes the table.
 */
export function sgFreeTable(sgt: SgTable): void {
  if (sgt instanceof SgTableObject) kfree(sgt);
}

/**
 * Copies bytes out of a table at a byte offset (what a device's DMA read of the buffer does).
 */
export function sgRead(sgt: SgTable, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const pos = offset + i;
    const page = sgt.pages[Math.floor(pos / DMA_BUF_PAGE_SIZE)];
    if (!page) throw new RangeError(`sgRead past the end of the table (${pos})`);
    out[i] = page[pos % DMA_BUF_PAGE_SIZE]!;
  }
  return out;
}

/** Writes bytes into a table at a byte offset (a device's DMA write into the buffer). */
export function sgWrite(sgt: SgTable, offset: number, data: Uint8Array): void {
  for (let i = 0; i < data.length; i++) {
    const pos = offset + i;
    const page = sgt.pages[Math.floor(pos / DMA_BUF_PAGE_SIZE)];
    if (!page) throw new RangeError(`sgWrite past the end of the table (${pos})`);
    page[pos % DMA_BUF_PAGE_SIZE] = data[i]!;
  }
}
