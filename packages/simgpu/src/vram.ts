/**
 * The device's own memory: VRAM, a flat array of pages with real bytes, and the range allocator
 * the driver carves buffers out of.
 */

import { report } from "@primetime/sim";
import { DRM_MM_INSERT_BEST, DrmMm, type DrmMmInsertMode } from "./drm-mm.js";
import {
  copyInPiece,
  copyOutPiece,
  crcPiece,
  fillPiece,
  newPageBytes,
  PAGE_SIZE,
  type PieceVisitor,
} from "./page.js";

/** What an untouched VRAM page reads as (never written: reads only). */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/**
 * A drm_mm over a range of VRAM pages (page numbers are VRAM's): what a driver carves one
 * region of device memory out of (a BAR, or the part of one a TTM memory type manages). Every
 * node it inserts or removes bumps the generations of its pages (see Vram).
 * Locking: none; synchronous (the driver serialises its allocator).
 */
export class VramMm extends DrmMm {
  constructor(
    private readonly vram: Vram,
    firstPage: number,
    npages: number,
  ) {
    super(firstPage, npages);
  }

  override insertNodeInRange(
    size: number,
    alignment: number,
    rangeStart: number,
    rangeEnd: number,
    mode: DrmMmInsertMode,
  ): number {
    const start = super.insertNodeInRange(size, alignment, rangeStart, rangeEnd, mode);
    if (start >= 0) this.vram.bumpGenerations(start, size);
    return start;
  }

  override removeNode(start: number): number | undefined {
    const size = super.removeNode(start);
    if (size !== undefined) this.vram.bumpGenerations(start, size);
    return size;
  }
}

/**
 * VRAM of `pages` pages, and the range allocators (drm_mm) drivers carve it with.
 *
 * `region(first, n)` is a drm_mm over pages `[first, first + n)` (a driver with two memory
 * regions, such as qxl's RAM and surface BARs, carves two disjoint ones); `alloc(npages)` and
 * `free(offset)` use one over the whole VRAM (made on first use), allocating as
 * drm_mm_insert_node() does (DRM_MM_INSERT_BEST: the smallest hole that fits). Allocation does
 * not clear the memory: a new buffer holds whatever the last one left there, as on real
 * hardware (drivers that care clear it with a fill command).
 *
 * The bytes are kept per page, each backed (zeroed) when it is first written or handed out as a
 * view: a device of many pages of which a schedule touches a few costs those few (a qxl device
 * has its ROM, rings and release pages in VRAM and is booted again for every schedule). An
 * untouched page reads as zeros.
 *
 * Like system pages, every VRAM page has a generation, odd while allocated, bumped by every
 * allocation and every free: the device's MMU model faults an access to a page that was freed (or
 * freed and handed to another buffer) after the command naming it was submitted.
 */
export class Vram {
  /** Size in pages. */
  readonly pages: number;
  /** The bytes of each page, once touched. */
  private readonly backing: (Uint8Array | undefined)[];
  private readonly gens: Uint32Array;
  /** The drm_mm regions carved so far, disjoint. */
  private readonly regions: VramMm[] = [];
  /** The whole-VRAM drm_mm of alloc()/free(), made on first use. */
  private whole: VramMm | null = null;

  constructor(pages: number) {
    if (!Number.isInteger(pages) || pages < 0) throw new RangeError(`bad VRAM page count ${pages}`);
    this.pages = pages;
    this.backing = new Array<Uint8Array | undefined>(pages);
    this.gens = new Uint32Array(pages);
  }

  /**
   * A drm_mm over pages `[firstPage, firstPage + npages)` (drm_mm_init()). Throws RangeError
   * outside VRAM or over a region carved before (two allocators must not hand out one page).
   */
  region(firstPage: number, npages: number): VramMm {
    if (
      !Number.isInteger(firstPage) ||
      !Number.isInteger(npages) ||
      firstPage < 0 ||
      npages < 0 ||
      firstPage + npages > this.pages
    )
      throw new RangeError(`VRAM region ${firstPage}+${npages} outside ${this.pages} pages`);
    for (const r of this.regions)
      if (firstPage < r.start + r.size && r.start < firstPage + npages)
        throw new RangeError(
          `VRAM region ${firstPage}+${npages} overlaps the region ${r.start}+${r.size}`,
        );
    const mm = new VramMm(this, firstPage, npages);
    this.regions.push(mm);
    return mm;
  }

  /** Models the generation bump of an allocation or a free of `npages` pages at `start`. */
  bumpGenerations(start: number, npages: number): void {
    for (let p = start; p < start + npages; p++) this.gens[p]!++;
  }

  private wholeMm(): VramMm {
    this.whole ??= this.region(0, this.pages);
    return this.whole;
  }

  /**
   * The bytes of page `index`, the CPU's view of it through the BAR without checks (writable;
   * backed on first use). Throws RangeError outside VRAM.
   */
  page(index: number): Uint8Array {
    if (!(Number.isInteger(index) && index >= 0 && index < this.pages))
      throw new RangeError(`page ${index} outside VRAM of ${this.pages} pages`);
    let b = this.backing[index];
    if (b === undefined) {
      b = newPageBytes();
      this.backing[index] = b;
    }
    return b;
  }

  /** Pages backed so far (touched by a write or a view). */
  get backedPages(): number {
    let n = 0;
    for (const b of this.backing) if (b !== undefined) n++;
    return n;
  }

  /**
   * A live view of `length` bytes at `offset`, which must lie in one page (a kmap of a page).
   * Throws RangeError outside VRAM or across a page boundary.
   */
  view(offset: number, length: number): DataView {
    this.checkRange(offset, length);
    const index = Math.floor(offset / PAGE_SIZE);
    const inPage = offset - index * PAGE_SIZE;
    if (inPage + length > PAGE_SIZE)
      throw new RangeError(`view [${offset}, +${length}) crosses a VRAM page boundary`);
    const b = this.page(index);
    return new DataView(b.buffer, b.byteOffset + inPage, length);
  }

  /** Size in bytes. */
  get size(): number {
    return this.pages * PAGE_SIZE;
  }

  /** Pages allocated in every region. */
  get allocatedPages(): number {
    let n = 0;
    for (const r of this.regions) n += r.used;
    return n;
  }

  get freePages(): number {
    return this.pages - this.allocatedPages;
  }

  /** Live allocations of every region: byte offset and size in pages, by offset. */
  allocations(): { offset: number; npages: number }[] {
    return this.regions
      .flatMap((r) => r.allocations())
      .sort((a, b) => a[0] - b[0])
      .map(([start, npages]) => ({ offset: start * PAGE_SIZE, npages }));
  }

  /**
   * Models drm_mm_insert_node() on the whole VRAM: the byte offset of `npages` contiguous free
   * pages in the smallest hole that fits (DRM_MM_INSERT_BEST), or null when none does (the
   * driver's -ENOSPC, or its cue to evict).
   * Locking: none; synchronous (the driver serialises its allocator).
   * References: the range belongs to the caller until free().
   */
  alloc(npages: number): number | null {
    if (!Number.isInteger(npages) || npages < 1)
      throw new RangeError(`VRAM allocation of ${npages} pages`);
    const start = this.wholeMm().insertNode(npages, 0, DRM_MM_INSERT_BEST);
    return start < 0 ? null : start * PAGE_SIZE;
  }

  /**
   * Models drm_mm_remove_node(): returns the range at `offset` (as alloc() returned it) to the
   * free space. An offset that is not the start of a live allocation is a driver bug: a `warn`
   * splat, nothing freed, false.
   * Locking: none; synchronous.
   * References: drops the caller's ownership; commands already submitted against the range
   * fault when they execute.
   */
  free(offset: number): boolean {
    const start = offset / PAGE_SIZE;
    const npages = Number.isInteger(start) ? this.wholeMm().removeNode(start) : undefined;
    if (npages === undefined) {
      report("warn", `VRAM free of offset 0x${offset.toString(16)}, which is not allocated`, {
        object: "vram",
      });
      return false;
    }
    return true;
  }

  /** The generation of page `index` (odd while allocated). */
  generation(index: number): number {
    return this.gens[index] ?? 0;
  }

  /** True if every page touched by `[offset, offset + size)` is allocated. */
  isAllocated(offset: number, size = 1): boolean {
    if (offset < 0 || offset + size > this.size) return false;
    const first = Math.floor(offset / PAGE_SIZE);
    const last = Math.floor((offset + Math.max(size, 1) - 1) / PAGE_SIZE);
    for (let p = first; p <= last; p++) if ((this.gens[p]! & 1) === 0) return false;
    return true;
  }

  /** The CPU reading VRAM through the BAR: a copy. Throws RangeError outside VRAM. */
  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    return this.foldPieces(offset, length, false, copyOutPiece, new Uint8Array(length));
  }

  /** The CPU writing VRAM through the BAR. Throws RangeError outside VRAM. */
  write(offset: number, bytes: Uint8Array): void {
    this.checkRange(offset, bytes.length);
    this.foldPieces(offset, bytes.length, true, copyInPiece, bytes);
  }

  /** memset() of `length` bytes at `offset`. Throws RangeError outside VRAM. */
  fill(offset: number, length: number, value: number): void {
    this.checkRange(offset, length);
    this.foldPieces(offset, length, true, fillPiece, value);
  }

  /**
   * The CRC-32 of `length` bytes at `offset`, continuing `crc`, computed in place (untouched
   * pages read as zeros). No range check (the caller's mapping was checked).
   */
  crc32(offset: number, length: number, crc = 0): number {
    return this.foldPieces(offset, length, false, crcPiece, crc);
  }

  /**
   * Folds `fn` over the page pieces of `[offset, offset + length)` (no range check), starting
   * from `acc` (see PieceVisitor). `write` backs untouched pages; a read gets a shared page of
   * zeros for them, which it must not write.
   */
  foldPieces<A>(offset: number, length: number, write: boolean, fn: PieceVisitor<A>, acc: A): A {
    let v = acc;
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const index = Math.floor(at / PAGE_SIZE);
      const inPage = at - index * PAGE_SIZE;
      const len = Math.min(PAGE_SIZE - inPage, length - done);
      const b = write ? this.page(index) : (this.backing[index] ?? ZERO_PAGE);
      v = fn(b, inPage, len, done, v);
      done += len;
    }
    return v;
  }

  private checkRange(offset: number, length: number): void {
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    )
      throw new RangeError(`range [${offset}, +${length}) outside VRAM of ${this.size} bytes`);
  }
}
