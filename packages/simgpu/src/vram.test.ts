import { outsideDmesg } from "@primetime/sim";
import { beforeEach, describe, expect, it } from "vitest";
import { crc32 } from "./checksum.js";
import { PAGE_SIZE, SystemMemory } from "./page.js";
import { Vram } from "./vram.js";

beforeEach(() => {
  outsideDmesg.clear();
});

describe("Vram", () => {
  it("carves disjoint regions whose claimed ranges bump the page generations", () => {
    const v = new Vram(8);
    expect(v.size).toBe(8 * PAGE_SIZE);
    const ram = v.region(0, 5);
    const surf = v.region(5, 3);
    expect(() => v.region(4, 2)).toThrow(/overlaps/);
    expect(() => v.region(6, 4)).toThrow(RangeError);
    // region page numbers: the surface region's page 0 is VRAM page 5
    expect(surf.claim(0, 3)).toBe(5 * PAGE_SIZE);
    expect(() => surf.claim(2, 2)).toThrow(RangeError); // past the region's end
    expect(ram.claim(0, 2)).toBe(0);
    expect(() => ram.claim(1, 1)).toThrow(/allocated/); // a page handed out twice
    expect(v.allocatedPages).toBe(5);
    expect(v.freePages).toBe(3);
    expect(v.allocations()).toEqual([
      { offset: 0, npages: 2 },
      { offset: 5 * PAGE_SIZE, npages: 3 },
    ]);
    expect(v.generation(5) & 1).toBe(1);
    expect(surf.release(0)).toBe(3);
    expect(v.generation(5)).toBe(2);
    expect(v.isAllocated(5 * PAGE_SIZE)).toBe(false);
    expect(surf.used).toBe(0);
    expect(ram.allocations()).toEqual([[0, 2]]);
  });

  it("warns on a release of a page that starts no claimed range, releasing nothing", () => {
    const v = new Vram(4);
    const r = v.region(0, 4);
    r.claim(0, 2);
    expect(r.release(1)).toBeUndefined();
    expect(r.release(0)).toBe(2);
    expect(r.release(0)).toBeUndefined();
    expect(outsideDmesg.ofKind("warn")).toHaveLength(2);
    expect(outsideDmesg.splats[0]!.message).toMatch(/VRAM free of offset 0x1000/);
    expect(v.allocatedPages).toBe(0);
  });

  it("tracks page generations and keeps stale contents across reallocation", () => {
    const v = new Vram(2);
    const r = v.region(0, 2);
    const a = r.claim(0, 1);
    expect(v.generation(0)).toBe(1);
    expect(v.isAllocated(a, PAGE_SIZE)).toBe(true);
    expect(v.isAllocated(a, PAGE_SIZE + 1)).toBe(false);
    v.write(a + 10, Uint8Array.of(1, 2, 3));
    r.release(0);
    expect(v.generation(0)).toBe(2);
    expect(r.claim(0, 1)).toBe(a);
    expect(v.generation(0)).toBe(3);
    expect(v.read(a + 10, 3)).toEqual(Uint8Array.of(1, 2, 3));
    expect(() => v.read(2 * PAGE_SIZE - 1, 2)).toThrow(RangeError);
  });

  it("backs a page only when it is written or viewed; untouched pages read as zeros", () => {
    const v = new Vram(64);
    expect(v.backedPages).toBe(0);
    expect(v.read(0, v.size).every((x) => x === 0)).toBe(true);
    expect(v.backedPages).toBe(0);
    // A write across a page boundary lands in both pages, and only those are backed.
    v.write(3 * PAGE_SIZE - 2, Uint8Array.of(1, 2, 3, 4));
    expect(v.backedPages).toBe(2);
    expect(v.read(3 * PAGE_SIZE - 3, 6)).toEqual(Uint8Array.of(0, 1, 2, 3, 4, 0));
    expect(v.page(2)[PAGE_SIZE - 1]).toBe(2);
    expect(v.page(3)[1]).toBe(4);
    v.fill(10 * PAGE_SIZE + 100, PAGE_SIZE, 7);
    expect(v.backedPages).toBe(4);
    const r = v.read(10 * PAGE_SIZE, 2 * PAGE_SIZE);
    expect(r.slice(99, 102)).toEqual(Uint8Array.of(0, 7, 7));
    expect(r.slice(PAGE_SIZE + 98, PAGE_SIZE + 101)).toEqual(Uint8Array.of(7, 7, 0));
    // A view is live and stays in one page.
    const view = v.view(20 * PAGE_SIZE + 8, 8);
    view.setBigUint64(0, 0x0102030405060708n, true);
    expect(v.read(20 * PAGE_SIZE + 8, 2)).toEqual(Uint8Array.of(8, 7));
    expect(v.backedPages).toBe(5);
    expect(() => v.view(PAGE_SIZE - 4, 8)).toThrow(RangeError);
    expect(() => v.page(64)).toThrow(RangeError);
    expect(() => v.fill(v.size - 1, 2, 0)).toThrow(RangeError);
  });

  it("gives every backed page bytes of its own, zeroed, in this and other VRAMs and pools", () => {
    // Pages are carved from shared arenas (newPageBytes()): a page's bytes are exactly its own.
    const a = new Vram(40);
    const b = new Vram(40);
    const mem = new SystemMemory({ pages: 40 });
    const pages: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      pages.push(a.page(i), b.page(39 - i), mem.allocPage()!.data);
    }
    for (const p of pages) {
      expect(p.length).toBe(PAGE_SIZE);
      expect(p.every((x) => x === 0)).toBe(true);
    }
    pages.forEach((p, i) => {
      p[0] = i & 0xff;
      p[PAGE_SIZE - 1] = (i >> 8) + 1;
    });
    pages.forEach((p, i) => {
      expect(p[0]).toBe(i & 0xff);
      expect(p[PAGE_SIZE - 1]).toBe((i >> 8) + 1);
      expect(p.subarray(1, PAGE_SIZE - 1).every((x) => x === 0)).toBe(true);
    });
    expect(a.read(5 * PAGE_SIZE, 1)[0]).toBe((3 * 5) & 0xff);
    expect(a.crc32(0, a.size)).toBe(crc32(a.read(0, a.size)));
  });
});
