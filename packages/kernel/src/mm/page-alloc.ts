/**
 * The machine's RAM (mm/page_alloc.c, mm/util.c): how many pages there are, how many are in use,
 * and the lazily materialized page arrays the memory users build on.
 *
 * The simulated machine has a RAM size (`DEFAULT_RAM_BYTES`, set per kernel with
 * `Kernel.boot(sim, { ramBytes })` or `setTotalRam()`). Every page that real memory would back
 * is charged against it when the kernel would allocate it: a shmem (GEM) page on first touch, a
 * system-heap buffer's pages at allocation, an anonymous page at its first fault. When RAM is
 * exhausted the allocation fails and the caller returns -ENOMEM (or VM_FAULT_OOM), as the kernel
 * does; nothing is allocated on the host for memory that is only reserved.
 *
 * Host memory follows touch, not charge: a page's 4096 bytes are allocated the first time
 * something reads or writes them (`lazyPageArray()`), so a large object that is never touched
 * costs nothing, whatever its simulated size.
 *
 * Faithfulness: one zone, no watermarks, no reclaim, no swap, no OOM killer (the allocation that
 * does not fit fails); overcommit follows OVERCOMMIT_GUESS (`vmEnoughMemory()`). The accounting
 * is per simulation (outside one, a process-wide fallback).
 */

import { SimLocal, type Simulation } from "@primetime/sim";
import { PAGE_SIZE } from "./vma.js";

/** The RAM of a simulated machine unless configured: 256 MiB. */
export const DEFAULT_RAM_BYTES = 256 * 1024 * 1024;

interface RamState {
  totalPages: number;
  usedPages: number;
}

const RAM = new SimLocal<RamState>(() => ({
  totalPages: DEFAULT_RAM_BYTES / PAGE_SIZE,
  usedPages: 0,
}));

/**
 * Sets the machine's RAM size in bytes (rounded down to whole pages; at least one page) for
 * `sim` (default: the running simulation; outside one, the fallback used by code running outside
 * simulations). Pages in use stay charged. Throws RangeError for a size that is not a safe
 * integer of at least a page.
 */
export function setTotalRam(bytes: number, sim?: Simulation | null): void {
  if (!Number.isSafeInteger(bytes) || bytes < PAGE_SIZE)
    throw new RangeError(`RAM size must be an integer of at least ${PAGE_SIZE} bytes`);
  RAM.get(sim).totalPages = Math.floor(bytes / PAGE_SIZE);
}

/** Models totalram_pages(). */
export function totalramPages(): number {
  return RAM.get().totalPages;
}

/** Models nr_free_pages(). */
export function nrFreePages(): number {
  const r = RAM.get();
  return r.totalPages - r.usedPages;
}

/** Pages of RAM in use (charged and not yet freed). */
export function ramPagesUsed(): number {
  return RAM.get().usedPages;
}

/**
 * Models the page allocator taking `n` pages (alloc_pages() calls, all or nothing): true when
 * they fit in free RAM (and are now charged), false otherwise (the caller's -ENOMEM). No
 * scheduling point; failslab does not count it.
 */
export function chargePages(n: number): boolean {
  const r = RAM.get();
  if (!Number.isSafeInteger(n) || n < 0 || n > r.totalPages - r.usedPages) return false;
  r.usedPages += n;
  return true;
}

/** Models __free_pages() of `n` charged pages. */
export function unchargePages(n: number): void {
  const r = RAM.get();
  r.usedPages = Math.max(0, r.usedPages - n);
}

/**
 * Models __vm_enough_memory() under the default OVERCOMMIT_GUESS policy: a mapping or object of
 * `pages` pages may be committed if it is not larger than RAM (there is no swap).
 */
export function vmEnoughMemory(pages: number): boolean {
  return Number.isSafeInteger(pages) && pages >= 0 && pages <= RAM.get().totalPages;
}

/** What a lazy page array does on the first touch of a page: charge it, or refuse (false). */
export type FirstTouch = (index: number) => boolean;

/**
 * An array of `n` pages (`Uint8Array(PAGE_SIZE)` each) whose elements come into being on first
 * access: `pages[i]` allocates page i (zeroed) after `firstTouch(i)` agrees, and is `undefined`
 * when it refuses (RAM exhausted). It is a real Array to every caller (`Array.isArray`,
 * `length`, indexing, iteration, spreading), so code written for eagerly allocated page arrays
 * keeps working; iterating it touches every page. Storing a page at an index replaces it.
 */
export function lazyPageArray(n: number, firstTouch: FirstTouch = alwaysTouch): Uint8Array[] {
  if (!Number.isSafeInteger(n) || n < 0 || n >= 2 ** 32)
    throw new RangeError(`bad page count ${n}`);
  const target: Uint8Array[] = [];
  target.length = n;
  const handler = new LazyPageHandler(n, firstTouch);
  const proxy = new Proxy(target, handler);
  residency.set(proxy, handler);
  return proxy;
}

/** The default first touch: every page may come into being. */
function alwaysTouch(): boolean {
  return true;
}

/**
 * The Proxy handler of one lazy page array: its traps are methods of one class (functions that
 * live as long as the process, so V8 keeps their optimized code), its state the instance's.
 */
class LazyPageHandler implements ProxyHandler<Uint8Array[]> {
  /** The pages that exist, by index. */
  readonly present = new Map<number, Uint8Array>();

  constructor(
    private readonly n: number,
    private readonly firstTouch: FirstTouch,
  ) {}

  /** The page index `key` names, or -1 when it is not one. */
  private indexOf(key: string | symbol): number {
    if (typeof key !== "string") return -1;
    // Not an index unless it starts with a digit ("length", method names): no Number() of it.
    const c = key.charCodeAt(0);
    if (!(c >= 48 && c <= 57)) return -1;
    const i = Number(key);
    return Number.isInteger(i) && i >= 0 && i < this.n && String(i) === key ? i : -1;
  }

  get(t: Uint8Array[], key: string | symbol, receiver: unknown): unknown {
    const i = this.indexOf(key);
    if (i < 0) return Reflect.get(t, key, receiver);
    return this.touch(i);
  }

  /** Page `i` (a valid index), brought into being on its first touch; undefined if refused. */
  touch(i: number): Uint8Array | undefined {
    let page = this.present.get(i);
    if (page === undefined) {
      if (!this.firstTouch(i)) return undefined;
      page = new Uint8Array(PAGE_SIZE);
      this.present.set(i, page);
    }
    return page;
  }

  /** Every page in index order, as `pages[i]` for each i would: false at the first refused. */
  touchAll(): boolean {
    for (let i = 0; i < this.n; i++) if (this.touch(i) === undefined) return false;
    return true;
  }

  has(t: Uint8Array[], key: string | symbol): boolean {
    return this.indexOf(key) >= 0 || Reflect.has(t, key);
  }

  set(t: Uint8Array[], key: string | symbol, value: unknown, receiver: unknown): boolean {
    const i = this.indexOf(key);
    if (i < 0) return key === "length" ? false : Reflect.set(t, key, value, receiver);
    if (!(value instanceof Uint8Array) || value.length !== PAGE_SIZE) return false;
    this.present.set(i, value);
    return true;
  }
}

const residency = new WeakMap<readonly Uint8Array[], LazyPageHandler>();

/**
 * The number of pages of a `lazyPageArray()` that exist on the host (touched at least once),
 * without touching any; for an ordinary array, its length.
 */
export function residentPages(pages: readonly Uint8Array[]): number {
  return residency.get(pages)?.present.size ?? pages.length;
}

/**
 * Touches every page of `pages` in index order, as `for (i) if (!pages[i]) ...` does, and says
 * whether every page exists now (false at the first page whose first touch is refused, with the
 * pages after it untouched). On a `lazyPageArray()` it goes to the pages directly, not through
 * the proxy's property lookup with a string key per page.
 */
export function touchAllPages(pages: readonly Uint8Array[]): boolean {
  const lazy = residency.get(pages);
  if (lazy !== undefined) return lazy.touchAll();
  for (let i = 0; i < pages.length; i++) if (!pages[i]) return false;
  return true;
}
