import { Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { O_RDWR } from "../fs/file.js";
import { EFAULT, ENOMEM } from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import {
  DEFAULT_RAM_BYTES,
  lazyPageArray,
  nrFreePages,
  ramPagesUsed,
  residentPages,
  totalramPages,
  touchAllPages,
} from "./page-alloc.js";
import { ShmemFile } from "./shmem.js";
import {
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  PAGE_SIZE,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "./vma.js";

describe("lazy page arrays", () => {
  it("are arrays whose pages exist from their first touch", () => {
    let touches = 0;
    const pages = lazyPageArray(1 << 20, () => {
      touches++;
      return true;
    });
    expect(Array.isArray(pages)).toBe(true);
    expect(pages.length).toBe(1 << 20);
    expect(residentPages(pages)).toBe(0);
    pages[5]![0] = 7;
    expect(pages[5]![0]).toBe(7);
    expect(pages[5]!.length).toBe(PAGE_SIZE);
    expect(touches).toBe(1);
    expect(residentPages(pages)).toBe(1);
    expect(pages[1 << 20]).toBeUndefined();
    expect(5 in pages).toBe(true);
    const small = lazyPageArray(3);
    expect([...small].map((p) => p.length)).toEqual([PAGE_SIZE, PAGE_SIZE, PAGE_SIZE]);
    expect(residentPages(small)).toBe(3);
    expect(residentPages([new Uint8Array(PAGE_SIZE)])).toBe(1);
    const refused = lazyPageArray(2, () => false);
    expect(refused[0]).toBeUndefined();
    expect(() => lazyPageArray(-1)).toThrow(RangeError);
  });

  it("touchAllPages() touches every page in index order, as pages[i] would, up to a refusal", () => {
    const order: number[] = [];
    const pages = lazyPageArray(5, (i) => {
      order.push(i);
      return i !== 3;
    });
    const kept = pages[1]!;
    kept[0] = 9;
    order.length = 0;
    expect(touchAllPages(pages)).toBe(false);
    // Page 1 existed (no first touch again); page 3 was refused and page 4 never touched.
    expect(order).toEqual([0, 2, 3]);
    expect(residentPages(pages)).toBe(3);
    expect(pages[1]).toBe(kept);
    expect(pages[1]![0]).toBe(9);
    const all = lazyPageArray(3);
    expect(touchAllPages(all)).toBe(true);
    expect(residentPages(all)).toBe(3);
    // An ordinary array: its elements' truthiness.
    expect(touchAllPages([new Uint8Array(PAGE_SIZE)])).toBe(true);
    expect(touchAllPages([undefined as unknown as Uint8Array])).toBe(false);
  });
});

describe("the machine's RAM", () => {
  it("has a small default, is set at boot, and shmem pages are charged on first touch only", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      expect(totalramPages()).toBe(DEFAULT_RAM_BYTES / PAGE_SIZE);
      Kernel.boot(undefined, { ramBytes: 16 * PAGE_SIZE });
      expect(totalramPages()).toBe(16);
      // A 4 GiB shmem file costs nothing until touched.
      const big = new ShmemFile(2 ** 32);
      expect(ramPagesUsed()).toBe(0);
      expect(big.readPage(3)).not.toBeNull();
      expect(big.resident).toBe(1);
      expect(big.getPages()).toBe(-ENOMEM);
      expect(ramPagesUsed()).toBe(1);
      const small = new ShmemFile(4 * PAGE_SIZE);
      expect(small.getPages()).toBe(0);
      expect(nrFreePages()).toBe(11);
      small.release();
      big.release();
      big.release();
      expect(ramPagesUsed()).toBe(0);
      expect(() => Kernel.boot(undefined, { ramBytes: 100 })).toThrow(RangeError);
    });
    expect(r.outcome).toBe("ok");
  });

  it("only private writable and shared anonymous mappings are committed (accountable_mapping), MAP_NORESERVE exempts", async () => {
    // mm/vma.c accountable_mapping(): (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) ==
    // VM_WRITE; shared anonymous memory goes through shmem_acct_size() (unless VM_NORESERVE).
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot(undefined, { ramBytes: 8 * PAGE_SIZE });
      const p = k.spawnProcess("t", async (p) => {
        const big = 2 ** 30;
        const priv = MAP_PRIVATE | MAP_ANONYMOUS;
        const shared = MAP_SHARED | MAP_ANONYMOUS;
        // Reserving address space: PROT_NONE or read-only private memory commits nothing.
        expect(await p.mmap(0, big, PROT_NONE, priv, -1, 0)).toBeGreaterThan(0);
        expect(await p.mmap(0, big, PROT_READ, priv, -1, 0)).toBeGreaterThan(0);
        expect(
          await p.mmap(0, big, PROT_READ | PROT_WRITE, priv | MAP_NORESERVE, -1, 0),
        ).toBeGreaterThan(0);
        expect(await p.mmap(0, big, PROT_READ, shared | MAP_NORESERVE, -1, 0)).toBeGreaterThan(0);
        expect(await p.mmap(0, big, PROT_READ | PROT_WRITE, priv, -1, 0)).toBe(-ENOMEM);
        expect(await p.mmap(0, big, PROT_NONE, shared, -1, 0)).toBe(-ENOMEM);
        expect(p.mm.vmas.length).toBe(4);
        expect(ramPagesUsed()).toBe(0);
      });
      await p.wait();
    });
    expect(r.splats).toEqual([]);
    expect(r.outcome).toBe("ok");
  });

  it("anonymous memory: commit above RAM is ENOMEM, a fault past RAM is EFAULT, unmap frees", async () => {
    let leaks = -1;
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot(undefined, { ramBytes: 8 * PAGE_SIZE });
      k.registerChrdev("/dev/d", {});
      const p = k.spawnProcess("t", async (p) => {
        const rw = PROT_READ | PROT_WRITE;
        expect(await p.mmap(0, 2 ** 40, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)).toBe(-ENOMEM);
        expect(await p.mmap(0, 9 * PAGE_SIZE, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0)).toBe(-ENOMEM);
        // Shared anonymous memory is committed whatever its protection (shmem_acct_size()).
        const shRo = MAP_SHARED | MAP_ANONYMOUS;
        expect(await p.mmap(0, 9 * PAGE_SIZE, PROT_READ, shRo, -1, 0)).toBe(-ENOMEM);
        const a = await p.mmap(0, 8 * PAGE_SIZE, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        const b = await p.mmap(0, 8 * PAGE_SIZE, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        expect(await p.writeMemory(a, new Uint8Array(6 * PAGE_SIZE).fill(1))).toBe(6 * PAGE_SIZE);
        expect(ramPagesUsed()).toBe(6);
        expect(await p.writeMemory(b, new Uint8Array(3 * PAGE_SIZE))).toBe(-EFAULT);
        expect(ramPagesUsed()).toBe(8);
        expect(await p.munmap(a, 8 * PAGE_SIZE)).toBe(0);
        expect(ramPagesUsed()).toBe(2);
        expect(await p.writeMemory(b, new Uint8Array(3 * PAGE_SIZE))).toBe(3 * PAGE_SIZE);
        expect(await p.open("/dev/d", O_RDWR)).toBe(0);
      });
      await p.wait();
      expect(ramPagesUsed()).toBe(0);
      leaks = (await k.checkLeaks()).length;
    });
    expect(r.splats).toEqual([]);
    expect(r.outcome).toBe("ok");
    expect(leaks).toBe(0);
  });
});
