/**
 * The device's view of memory: VRAM and the system pages of the pool it is attached to, reached
 * through an IOMMU-like check.
 *
 * A command's addresses are resolved when it is submitted: the device records the generation of
 * every page it will touch (a `Mapping`). When the command executes, each page must still be the
 * same allocation: a page freed since (or freed and reallocated to someone else) is a GPU page
 * fault, not a silent write into the page's next owner. This models an IOMMU whose mapping is
 * torn down with the page, and makes a buffer freed under the GPU observable.
 */

import { formatAddress, type GpuAddress } from "./command.js";
import {
  crc32Pages,
  fillPages,
  PAGE_SIZE,
  type Page,
  readPagesUnchecked,
  type SystemMemory,
  writePagesUnchecked,
} from "./page.js";
import type { Vram } from "./vram.js";

/**
 * Why an access faulted:
 * - `out-of-range`: past the end of VRAM or of the scatter list;
 * - `unmapped`: VRAM that was not allocated when the command was submitted, or a system page of
 *   a pool this device is not attached to;
 * - `freed`: the page was freed after submission (or, for system pages, before);
 * - `reused`: the page was freed and allocated again since the command was submitted.
 */
export type FaultReason = "out-of-range" | "unmapped" | "freed" | "reused";

/** A command's address resolved at submission: the generations of the pages it touches. */
export interface Mapping {
  readonly addr: GpuAddress;
  readonly size: number;
  /** Generation of each page touched, in order, at submission; ends with -1 if the range runs past the end. */
  readonly gens: readonly number[];
}

/** Where and why an access faulted. */
export interface AccessFault {
  readonly reason: FaultReason;
  /** Byte offset of the first faulting byte, in the address's space (VRAM offset or scatter-list offset). */
  readonly offset: number;
  /** Physical address of that byte (VRAM offset for VRAM), null past the end. */
  readonly physAddr: number | null;
  /** The address as the command named it, formatted. */
  readonly address: string;
}

export class GpuMmu {
  constructor(
    readonly vram: Vram,
    readonly system: SystemMemory,
  ) {}

  /** Resolves `[addr, addr + size)` at submission time. */
  map(addr: GpuAddress, size: number): Mapping {
    const gens: number[] = [];
    if (size > 0) {
      const first = Math.floor(addr.offset / PAGE_SIZE);
      const last = Math.floor((addr.offset + size - 1) / PAGE_SIZE);
      // Stops at the first page past the end: the access faults there, the rest never matters
      // (and an absurd size costs nothing).
      for (let i = first; i <= last; i++) {
        const g =
          addr.space === "vram"
            ? i < this.vram.pages
              ? this.vram.generation(i)
              : -1
            : (addr.pages[i]?.generation ?? -1);
        gens.push(g);
        if (g < 0) break;
      }
    }
    return { addr, size, gens };
  }

  /** Checks a mapping at execution time: null if every page is still the one submitted. */
  check(m: Mapping): AccessFault | null {
    const { addr } = m;
    const first = Math.floor(addr.offset / PAGE_SIZE);
    for (let k = 0; k < m.gens.length; k++) {
      const index = first + k;
      const offset = Math.max(addr.offset, index * PAGE_SIZE);
      const snap = m.gens[k]!;
      let reason: FaultReason | null = null;
      let phys: number | null = null;
      if (addr.space === "vram") {
        if (snap < 0 || index >= this.vram.pages) reason = "out-of-range";
        else {
          phys = offset;
          const cur = this.vram.generation(index);
          if ((cur & 1) === 0) reason = snap & 1 ? "freed" : "unmapped";
          else if (cur !== snap) reason = "reused";
        }
      } else {
        const page: Page | undefined = addr.pages[index];
        if (snap < 0 || !page) reason = "out-of-range";
        else {
          phys = page.physAddr + (offset % PAGE_SIZE);
          if (page.memory !== this.system) reason = "unmapped";
          else if (!page.allocated) reason = "freed";
          else if (page.generation !== snap) reason = "reused";
        }
      }
      if (reason) return { reason, offset, physAddr: phys, address: formatAddress(addr) };
    }
    return null;
  }

  /** Reads a checked mapping: a copy of its bytes. */
  read(m: Mapping): Uint8Array {
    const { addr, size } = m;
    if (addr.space === "vram") return this.vram.read(addr.offset, size);
    return readPagesUnchecked(addr.pages, addr.offset, size);
  }

  /** The CRC-32 of a checked mapping's bytes, computed in place (no copy). */
  crc32(m: Mapping): number {
    const { addr, size } = m;
    if (addr.space === "vram") return this.vram.crc32(addr.offset, size);
    return crc32Pages(addr.pages, addr.offset, size);
  }

  /** Writes `bytes` (of the mapping's size) through a checked mapping. */
  write(m: Mapping, bytes: Uint8Array): void {
    const { addr } = m;
    if (addr.space === "vram") {
      this.vram.write(addr.offset, bytes);
      return;
    }
    writePagesUnchecked(addr.pages, addr.offset, bytes);
  }

  /** Fills a checked mapping with a byte. */
  fill(m: Mapping, value: number): void {
    const { addr, size } = m;
    if (addr.space === "vram") {
      this.vram.fill(addr.offset, size, value);
      return;
    }
    fillPages(addr.pages, addr.offset, size, value);
  }
}
