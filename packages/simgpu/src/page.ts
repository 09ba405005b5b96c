/**
 * System memory as the device sees it: 4 KiB pages with real contents and a page frame number.
 *
 * The host (the simulated kernel) allocates pages from a `SystemMemory` pool, for instance the
 * backing pages of a GEM object, and hands the device a scatter list (`Page[]`) of them. The
 * device reaches a page by its physical (DMA) address. Every allocation and every free bumps the
 * page's generation, which is how the device's IOMMU model (mmu.ts) notices that a page it was
 * given has been freed, or freed and reused, since the command that names it was submitted.
 */

import { report } from "@primetime/sim";
import { crc32 } from "./checksum.js";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** Pages carved from one ArrayBuffer by newPageBytes(). */
const ARENA_PAGES = 16;
let arena: ArrayBuffer | null = null;
let arenaUsed = ARENA_PAGES;

/**
 * @internal The zeroed bytes of a newly backed page (system or VRAM): a page-sized view into an
 * ArrayBuffer of ARENA_PAGES pages shared with the next pages backed, in this or any other pool.
 * A fresh 4 KiB ArrayBuffer per page was the most expensive line of a VRAM page's first touch
 * (its own backing store to allocate, zero and later sweep); an arena makes one per 16 pages.
 * A page's bytes stay its own (a view never crosses into its neighbours); an arena is collected
 * once none of its pages is reachable.
 */
export function newPageBytes(): Uint8Array {
  if (arenaUsed === ARENA_PAGES) {
    arena = new ArrayBuffer(ARENA_PAGES * PAGE_SIZE);
    arenaUsed = 0;
  }
  return new Uint8Array(arena!, PAGE_SIZE * arenaUsed++, PAGE_SIZE);
}

/**
 * Models struct page plus the memory it describes: one physical page of system memory.
 *
 * `data` is the page's contents. It stays readable after the page is freed (so is real memory);
 * the host's own use-after-free checks are the kernel's business, the device's are in mmu.ts.
 */
export class Page {
  /**
   * Odd while the page is allocated, even while it is free. Incremented by every allocation and
   * every free, so a (page, generation) pair names one lifetime of the page.
   */
  generation = 0;
  private bytes: Uint8Array | null = null;

  constructor(
    /** The pool the page belongs to. */
    readonly memory: SystemMemory,
    /** Page frame number: the physical address is `pfn << PAGE_SHIFT`. */
    readonly pfn: number,
  ) {}

  /** The page's 4096 bytes (allocated on first use, so a large pool costs nothing up front). */
  get data(): Uint8Array {
    this.bytes ??= newPageBytes();
    return this.bytes;
  }

  /** Zeroes the page: a page whose bytes were never touched is zero already and stays unbacked. */
  clear(): void {
    this.bytes?.fill(0);
  }

  /** Models page_to_phys(): also the DMA address, the device having a 1:1 view. */
  get physAddr(): number {
    return this.pfn * PAGE_SIZE;
  }

  get allocated(): boolean {
    return (this.generation & 1) === 1;
  }

  toString(): string {
    return `page pfn 0x${this.pfn.toString(16)}`;
  }
}

export interface SystemMemoryOptions {
  /** Number of pages in the pool. Default 4096 (16 MiB). */
  pages?: number;
  /** Page frame number of the first page. Default 0x100 (physical address 1 MiB). */
  basePfn?: number;
  /** Shown in splats. Default "system". */
  name?: string;
}

/**
 * A pool of system pages: the host's page allocator (alloc_page()/__free_page()) reduced to what
 * the device and the drivers need. Allocation is deterministic: a LIFO free list (the most
 * recently freed page is reused first, like the per-CPU page lists), initially in pfn order.
 *
 * Pages of one pool can be reached by every device given that pool, which is what lets two
 * devices share a dma-buf's pages.
 *
 * The `Page` objects are made on demand (a run that uses 40 pages of a 4096-page pool makes 40):
 * the never-allocated pages form the bottom of the free stack in pfn order, below every freed
 * page, so taking the next of them (`untouched`) when no freed page is left hands out exactly the
 * page a fully built stack would.
 */
export class SystemMemory {
  readonly name: string;
  readonly capacity: number;
  readonly basePfn: number;
  /** The pages made so far, by pfn - basePfn (holes: pages nobody has reached yet). */
  private readonly pages: (Page | undefined)[] = [];
  /** Freed pages; the top of the stack is the end of the array. */
  private readonly freeList: Page[] = [];
  /** Index of the lowest never-allocated page: pages [untouched, capacity) were never handed out. */
  private untouched = 0;

  constructor(opts: SystemMemoryOptions = {}) {
    const n = opts.pages ?? 4096;
    const base = opts.basePfn ?? 0x100;
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`bad page count ${n}`);
    if (!Number.isInteger(base) || base < 0) throw new RangeError(`bad base pfn ${base}`);
    this.name = opts.name ?? "system";
    this.capacity = n;
    this.basePfn = base;
  }

  /** Pages free now. */
  get free(): number {
    return this.freeList.length + this.capacity - this.untouched;
  }

  /** Pages allocated now. */
  get allocated(): number {
    return this.capacity - this.free;
  }

  /** The page at index `i` of the pool, made on first use. */
  private page(i: number): Page {
    let p = this.pages[i];
    if (!p) {
      p = new Page(this, this.basePfn + i);
      this.pages[i] = p;
    }
    return p;
  }

  /**
   * Models alloc_page(GFP_KERNEL | __GFP_ZERO): a zeroed page, or null when the pool is empty
   * (the caller's -ENOMEM).
   * Locking: none; synchronous (the page allocator's own lock is not a race window this
   * simulation explores).
   * References: the caller owns the page until freePage().
   */
  allocPage(): Page | null {
    let p = this.freeList.pop();
    if (!p) {
      if (this.untouched === this.capacity) return null;
      p = this.page(this.untouched++);
    }
    p.generation++;
    p.clear();
    return p;
  }

  /**
   * `n` pages, not necessarily contiguous (how shmem backs a GEM object), or null and nothing
   * allocated when fewer than `n` are free.
   */
  allocPages(n: number): Page[] | null {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`bad page count ${n}`);
    if (n > this.free) return null;
    const out: Page[] = [];
    for (let i = 0; i < n; i++) out.push(this.allocPage()!);
    return out;
  }

  /**
   * Models __free_page(). Freeing a free page, or a page of another pool, is the kernel's
   * "BUG: Bad page state": reported as a `bug` splat, and the page is left as it was.
   * Locking: none; synchronous.
   * References: drops the caller's ownership; a device still holding the page in a submitted
   * command faults when it reaches it.
   */
  freePage(page: Page): void {
    if (page.memory !== this || !page.allocated) {
      const why = page.memory !== this ? `belongs to pool ${page.memory.name}` : "is already free";
      report("bug", `Bad page state: freeing ${page} which ${why}`, {
        object: `${this.name}:${page}`,
      });
      return;
    }
    page.generation++;
    this.freeList.push(page);
  }

  /** Frees each page, in order. */
  freePages(pages: readonly Page[]): void {
    for (const p of pages) this.freePage(p);
  }

  /** Models pfn_to_page(): the page with that frame number, or null if it is not in the pool. */
  pfnToPage(pfn: number): Page | null {
    const i = pfn - this.basePfn;
    return Number.isInteger(i) && i >= 0 && i < this.capacity ? this.page(i) : null;
  }
}

function checkRange(pages: readonly Page[], offset: number, length: number): void {
  if (
    !Number.isInteger(offset) ||
    !Number.isInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > pages.length * PAGE_SIZE
  ) {
    throw new RangeError(
      `range [${offset}, +${length}) outside a scatter list of ${pages.length} pages`,
    );
  }
}

/**
 * Visits the page pieces of `[offset, offset + length)` of a scatter list: (page, offset in the
 * page, length of the piece, offset of the piece from `offset`).
 */
export function forEachPiece(
  pages: readonly Page[],
  offset: number,
  length: number,
  fn: (page: Page, inPage: number, len: number, done: number) => void,
): void {
  let done = 0;
  while (done < length) {
    const at = offset + done;
    const inPage = at % PAGE_SIZE;
    const len = Math.min(PAGE_SIZE - inPage, length - done);
    fn(pages[Math.floor(at / PAGE_SIZE)]!, inPage, len, done);
    done += len;
  }
}

/**
 * The CPU reading a scatter list (through the kernel's linear map): a copy of `length` bytes at
 * `offset`. No liveness check: the host side's checks belong to the kernel. Throws RangeError
 * outside the list.
 */
export function readPages(pages: readonly Page[], offset: number, length: number): Uint8Array {
  checkRange(pages, offset, length);
  return readPagesUnchecked(pages, offset, length);
}

/**
 * A visitor of page pieces for foldPieces(): the piece's page bytes, its offset in the page, its
 * length and its offset from the range's start, and the value carried from the previous piece;
 * it returns the value for the next piece. The visitors below are module-level functions, not
 * closures made per call: V8 keeps a function's optimized code only while a closure of it lives,
 * so a closure made per call would be compiled again after every major GC.
 */
export type PieceVisitor<A> = (
  bytes: Uint8Array,
  inPage: number,
  len: number,
  done: number,
  acc: A,
) => A;

/**
 * @internal Folds `fn` over the page pieces of `[offset, offset + length)` of a scatter list,
 * starting from `acc` (no range check).
 */
export function foldPieces<A>(
  pages: readonly Page[],
  offset: number,
  length: number,
  fn: PieceVisitor<A>,
  acc: A,
): A {
  let v = acc;
  let done = 0;
  while (done < length) {
    const at = offset + done;
    const inPage = at % PAGE_SIZE;
    const len = Math.min(PAGE_SIZE - inPage, length - done);
    v = fn(pages[Math.floor(at / PAGE_SIZE)]!.data, inPage, len, done, v);
    done += len;
  }
  return v;
}

/** @internal Copies a piece into `out` at its offset (a whole page without a subarray view). */
export function copyOutPiece(
  bytes: Uint8Array,
  inPage: number,
  len: number,
  done: number,
  out: Uint8Array,
): Uint8Array {
  out.set(len === PAGE_SIZE ? bytes : bytes.subarray(inPage, inPage + len), done);
  return out;
}

/** @internal Copies the piece's part of `data` into the page. */
export function copyInPiece(
  bytes: Uint8Array,
  inPage: number,
  len: number,
  done: number,
  data: Uint8Array,
): Uint8Array {
  bytes.set(len === data.length ? data : data.subarray(done, done + len), inPage);
  return data;
}

/** @internal memset() of the piece with `value`. */
export function fillPiece(
  bytes: Uint8Array,
  inPage: number,
  len: number,
  _done: number,
  value: number,
): number {
  bytes.fill(value, inPage, inPage + len);
  return value;
}

/** @internal The CRC-32 of the piece, continuing `crc`. */
export function crcPiece(
  bytes: Uint8Array,
  inPage: number,
  len: number,
  _done: number,
  crc: number,
): number {
  return crc32(len === PAGE_SIZE ? bytes : bytes.subarray(inPage, inPage + len), crc);
}

/** @internal readPages() without the range check (a checked mapping's read). */
export function readPagesUnchecked(
  pages: readonly Page[],
  offset: number,
  length: number,
): Uint8Array {
  return foldPieces(pages, offset, length, copyOutPiece, new Uint8Array(length));
}

/** The CPU writing `data` into a scatter list at `offset`. Throws RangeError outside the list. */
export function writePages(pages: readonly Page[], offset: number, data: Uint8Array): void {
  checkRange(pages, offset, data.length);
  writePagesUnchecked(pages, offset, data);
}

/** @internal writePages() without the range check (a checked mapping's write). */
export function writePagesUnchecked(
  pages: readonly Page[],
  offset: number,
  data: Uint8Array,
): void {
  foldPieces(pages, offset, data.length, copyInPiece, data);
}

/** @internal memset() of `length` bytes at `offset` of a scatter list (no range check). */
export function fillPages(
  pages: readonly Page[],
  offset: number,
  length: number,
  value: number,
): void {
  foldPieces(pages, offset, length, fillPiece, value);
}

/**
 * @internal The CRC-32 of `length` bytes at `offset` of a scatter list, continuing `crc`,
 * computed in place (no range check).
 */
export function crc32Pages(
  pages: readonly Page[],
  offset: number,
  length: number,
  crc = 0,
): number {
  return foldPieces(pages, offset, length, crcPiece, crc);
}
