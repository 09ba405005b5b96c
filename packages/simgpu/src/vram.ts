/**
 * The device's own memory: VRAM, a flat array of pages with real bytes, and the device's record
 * of which ranges of it the driver has allocated (for the generations its MMU checks). The
 * allocator itself is the driver's: drm_mm is DRM core (`DrmMm` of `@primetime/gem`, owned by
 * TTM's range manager), and this package, the device, depends on no DRM package.
 */

import { report } from "@primetime/sim";
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
 * A range of VRAM pages one allocator of the driver hands out (a BAR, or the part of one a TTM
 * memory type manages), and the ranges of it that are allocated now. It allocates nothing: the
 * driver's allocator picks a range and reports it with claim(), and its free with release(); each
 * bumps the generations of the range's pages (see Vram). Page numbers are the region's own
 * (page 0 is VRAM page `start`), as a range manager's drm_mm counts from 0.
 * Locking: none; synchronous (the driver serialises its allocator).
 */
export class VramRegion {
  /** Allocated ranges: first page (the region's numbering) -> page count. */
  private readonly live = new Map<number, number>();
  private usedPages = 0;

  constructor(
    private readonly vram: Vram,
    readonly start: number,
    readonly size: number,
  ) {}

  /** Pages allocated in the region now. */
  get used(): number {
    return this.usedPages;
  }

  /**
   * The driver allocated pages `[page, page + npages)` of the region: their generations are
   * bumped (odd: allocated). Returns the range's byte offset in VRAM. Throws RangeError outside
   * the region or over a page that is allocated already (two buffers on one page: a driver bug).
   */
  claim(page: number, npages: number): number {
    if (
      !Number.isInteger(page) ||
      !Number.isInteger(npages) ||
      npages < 1 ||
      page < 0 ||
      page + npages > this.size
    )
      throw new RangeError(`VRAM claim of ${page}+${npages} outside the region of ${this.size}`);
    const first = this.start + page;
    for (let p = first; p < first + npages; p++)
      if (this.vram.generation(p) & 1)
        throw new RangeError(`VRAM claim of ${page}+${npages}: page ${p} is allocated`);
    this.live.set(page, npages);
    this.usedPages += npages;
    this.vram.bumpGenerations(first, npages);
    return first * PAGE_SIZE;
  }

  /**
   * The driver freed the range that starts at `page` (as claimed): its generations are bumped
   * (even: free), so commands already submitted against it fault. Its page count; a page that
   * starts no allocated range is a driver bug: a `warn` splat, nothing freed, undefined.
   */
  release(page: number): number | undefined {
    const npages = this.live.get(page);
    if (npages === undefined) {
      report(
        "warn",
        `VRAM free of offset 0x${((this.start + page) * PAGE_SIZE).toString(16)}, which is not allocated`,
        { object: "vram" },
      );
      return undefined;
    }
    this.live.delete(page);
    this.usedPages -= npages;
    this.vram.bumpGenerations(this.start + page, npages);
    return npages;
  }

  /** Allocated ranges as [VRAM page, page count], by page. */
  allocations(): [number, number][] {
    return [...this.live]
      .map(([p, n]): [number, number] => [this.start + p, n])
      .sort((a, b) => a[0] - b[0]);
  }
}

/**
 * VRAM of `pages` pages, and the regions drivers carve it into.
 *
 * `region(first, n)` is pages `[first, first + n)` for one allocator of the driver (a driver
 * with two memory regions, such as qxl's RAM and surface BARs, carves two disjoint ones); the
 * allocator reports what it hands out (VramRegion.claim()/release()). Allocation does not clear
 * the memory: a new buffer holds whatever the last one left there, as on real hardware (drivers
 * that care clear it with a fill command).
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
  /** The regions carved so far, disjoint. */
  private readonly regions: VramRegion[] = [];

  constructor(pages: number) {
    if (!Number.isInteger(pages) || pages < 0) throw new RangeError(`bad VRAM page count ${pages}`);
    this.pages = pages;
    this.backing = new Array<Uint8Array | undefined>(pages);
    this.gens = new Uint32Array(pages);
  }

  /**
   * The region of pages `[firstPage, firstPage + npages)`. Throws RangeError outside VRAM or
   * over a region carved before (two allocators must not hand out one page).
   */
  region(firstPage: number, npages: number): VramRegion {
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
    const region = new VramRegion(this, firstPage, npages);
    this.regions.push(region);
    return region;
  }

  /** Models the generation bump of an allocation or a free of `npages` pages at `start`. */
  bumpGenerations(start: number, npages: number): void {
    for (let p = start; p < start + npages; p++) this.gens[p]!++;
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
