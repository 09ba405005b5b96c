import { outsideDmesg } from "@primetime/sim";
import { beforeEach, describe, expect, it } from "vitest";
import { PAGE_SIZE, readPages, SystemMemory, writePages } from "./page.js";

beforeEach(() => {
  outsideDmesg.clear();
});

describe("SystemMemory", () => {
  it("hands out zeroed pages with physical addresses, LIFO, until the pool is empty", () => {
    const mem = new SystemMemory({ pages: 3, basePfn: 0x200 });
    const a = mem.allocPage()!;
    const b = mem.allocPage()!;
    expect([a.pfn, b.pfn]).toEqual([0x200, 0x201]);
    expect(a.physAddr).toBe(0x200 * PAGE_SIZE);
    expect(a.allocated).toBe(true);
    expect(mem.allocated).toBe(2);
    a.data.fill(7);
    mem.freePage(a);
    expect(a.allocated).toBe(false);
    expect(a.data[0]).toBe(7); // freed memory keeps its bytes
    const again = mem.allocPage()!;
    expect(again).toBe(a); // most recently freed first
    expect(again.data.every((x) => x === 0)).toBe(true);
    expect(mem.allocPage()!.pfn).toBe(0x202);
    expect(mem.allocPage()).toBeNull();
    expect(mem.free).toBe(0);
    expect(mem.pfnToPage(0x201)).toBe(b);
    expect(mem.pfnToPage(0x203)).toBeNull();
  });

  it("makes pages on demand, handing them out in the order of a fully built LIFO stack", () => {
    // Reference: the stack every page used to be pushed on at construction (lowest pfn on top).
    const n = 6;
    const stack = Array.from({ length: n }, (_, i) => n - 1 - i);
    const mem = new SystemMemory({ pages: n, basePfn: 0x10 });
    const held = new Map<number, ReturnType<typeof mem.allocPage>>();
    // A fixed mix of allocations and frees, including frees of pages allocated late.
    const ops = ["a", "a", "a", "f1", "a", "a", "f0", "f3", "a", "a", "a", "a", "f4", "a"];
    for (const op of ops) {
      if (op === "a") {
        const want = stack.pop();
        const p = mem.allocPage();
        expect(p?.pfn ?? null).toBe(want === undefined ? null : 0x10 + want);
        if (p) held.set(p.pfn - 0x10, p);
      } else {
        const i = Number(op.slice(1));
        mem.freePage(held.get(i)!);
        held.delete(i);
        stack.push(i);
      }
      expect(mem.free).toBe(stack.length);
      expect(mem.allocated).toBe(n - stack.length);
    }
    // A page nobody allocated yet is still reachable by its frame number, as a free page.
    const fresh = new SystemMemory({ pages: 4 });
    const p3 = fresh.pfnToPage(0x103)!;
    expect([p3.pfn, p3.allocated]).toEqual([0x103, false]);
    expect(fresh.allocPages(4)!.map((p) => p.pfn)).toEqual([0x100, 0x101, 0x102, 0x103]);
    expect(fresh.pfnToPage(0x103)).toBe(p3);
  });

  it("zeroes a reused page, and leaves a never-touched page without backing", () => {
    const mem = new SystemMemory({ pages: 2 });
    const a = mem.allocPage()!;
    a.data.fill(9);
    mem.freePage(a);
    expect(mem.allocPage()!.data.every((x) => x === 0)).toBe(true);
    const b = mem.allocPage()!;
    expect((b as unknown as { bytes: Uint8Array | null }).bytes).toBeNull();
    expect(b.data.length).toBe(PAGE_SIZE);
  });

  it("bumps the generation on every allocation and free (odd while allocated)", () => {
    const mem = new SystemMemory({ pages: 1 });
    const p = mem.allocPage()!;
    expect(p.generation).toBe(1);
    mem.freePage(p);
    expect(p.generation).toBe(2);
    mem.allocPage();
    expect(p.generation).toBe(3);
  });

  it("allocPages is all or nothing", () => {
    const mem = new SystemMemory({ pages: 4 });
    expect(mem.allocPages(5)).toBeNull();
    expect(mem.free).toBe(4);
    const ps = mem.allocPages(3)!;
    expect(ps).toHaveLength(3);
    expect(new Set(ps.map((p) => p.pfn)).size).toBe(3);
    mem.freePages(ps);
    expect(mem.free).toBe(4);
  });

  it("reports a double free and a foreign page as Bad page state, changing nothing", () => {
    const mem = new SystemMemory({ pages: 2, name: "host" });
    const other = new SystemMemory({ pages: 1, name: "other" });
    const p = mem.allocPage()!;
    mem.freePage(p);
    mem.freePage(p);
    const q = other.allocPage()!;
    mem.freePage(q);
    expect(outsideDmesg.splats.map((s) => s.kind)).toEqual(["bug", "bug"]);
    expect(outsideDmesg.splats[0]!.message).toMatch(/Bad page state.*already free/);
    expect(outsideDmesg.splats[1]!.message).toMatch(/belongs to pool other/);
    expect(mem.free).toBe(2);
    expect(p.generation).toBe(2);
    expect(q.allocated).toBe(true);
  });
});

describe("scatter lists", () => {
  it("reads and writes ranges that span pages, in scatter-list order", () => {
    const mem = new SystemMemory({ pages: 4 });
    const [p0, p1, p2] = mem.allocPages(3)!;
    const sg = [p2!, p0!, p1!]; // not in pfn order
    const bytes = Uint8Array.from({ length: 6000 }, (_, i) => (i * 7) & 0xff);
    writePages(sg, 3000, bytes);
    expect(p2!.data[3000]).toBe(bytes[0]);
    expect(p0!.data[0]).toBe(bytes[PAGE_SIZE - 3000]);
    expect(p1!.data[3000 + 6000 - 2 * PAGE_SIZE - 1]).toBe(bytes[5999]);
    expect(readPages(sg, 3000, 6000)).toEqual(bytes);
    expect(() => readPages(sg, 3 * PAGE_SIZE - 10, 11)).toThrow(RangeError);
    expect(() => writePages(sg, -1, new Uint8Array(1))).toThrow(RangeError);
  });
});
