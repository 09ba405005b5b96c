import { Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { EBUSY, EFAULT, EINVAL } from "../include/errno.js";
import { MmStruct } from "./mm.js";
import {
  AddressSpace,
  offsetInPage,
  PAGE_SIZE,
  pageAlign,
  unmapMappingRange,
  VM_PFNMAP,
  Vma,
} from "./vma.js";

const page = (v: number) => new Uint8Array(PAGE_SIZE).fill(v);

describe("vma page tables", () => {
  it("insertPage validates and maps; zapPtes drops entries", async () => {
    const mm = new MmStruct("mm");
    const vma = new Vma(mm, 0x10000, 0x13000, 5, VM_PFNMAP);
    await mm.mmapLock.writeLock(); // vm_insert_page() runs under mmap_lock (->mmap, ->fault)
    expect(vma.length).toBe(3 * PAGE_SIZE);
    expect(vma.nrPages).toBe(3);
    expect(vma.pgoff).toBe(5);
    expect(vma.insertPage(0x10000, page(1))).toBe(0);
    expect(vma.insertPage(0x10000, page(2))).toBe(-EBUSY);
    // vm_insert_page(): an address outside the vma is -EFAULT; an unaligned one maps its page.
    expect(vma.insertPage(0x13000, page(2))).toBe(-EFAULT);
    expect(vma.insertPage(0xf000, page(2))).toBe(-EFAULT);
    expect(vma.insertPage(0x10001, page(2))).toBe(-EBUSY);
    expect(vma.insertPage(0x11000, new Uint8Array(10))).toBe(-EINVAL);
    expect(vma.insertPage(0x12000, page(3))).toBe(0);
    expect(vma.zapPtes(0x10000, PAGE_SIZE)).toBe(1);
    expect([...vma.pages.keys()]).toEqual([0x12]);
    await mm.mmapLock.writeUnlock();
    vma.privateData = "p";
    expect(vma.vmPrivateData).toBe("p");
  });

  it("zapPtes only zaps a VM_PFNMAP vma, and only a range inside it (zap_vma_ptes())", async () => {
    const mm = new MmStruct("mm");
    const plain = new Vma(mm, 0x10000, 0x12000, 0, 0);
    const pfn = new Vma(mm, 0x20000, 0x22000, 0, VM_PFNMAP);
    await mm.mmapLock.writeLock();
    for (const v of [plain, pfn])
      for (let a = v.vmStart; a < v.vmEnd; a += PAGE_SIZE) v.insertPage(a, page(1));
    await mm.mmapLock.writeUnlock();
    expect(plain.zapPtes(0x10000, PAGE_SIZE)).toBe(0);
    expect(plain.pages.size).toBe(2);
    // Not contained in the vma: refused as a whole, nothing clamped.
    expect(pfn.zapPtes(0x1f000, 2 * PAGE_SIZE)).toBe(0);
    expect(pfn.zapPtes(0x21000, 2 * PAGE_SIZE)).toBe(0);
    expect(pfn.pages.size).toBe(2);
    expect(pfn.zapPtes(0x20000, 2 * PAGE_SIZE)).toBe(2);
    expect(pfn.pages.size).toBe(0);
  });

  it("insertPage without mmap_lock is a lockdep_assert_held() warning", async () => {
    const result = await new Simulation({ seed: 1 }).run(async () => {
      const vma = new Vma(new MmStruct("mm"), 0x10000, 0x11000, 0, 0);
      expect(vma.insertPage(0x10000, page(1))).toBe(0);
    });
    expect(result.splats.map((s) => s.message.split("\n")[0])).toEqual([
      "WARNING: lockdep_assert_held(mm->mmap_lock) failed: main/1 does not hold (mm->mmap_lock){+.+.}-{4:4}",
    ]);
  });

  it("unmapMappingRange zaps by file offset in every mapping vma", async () => {
    const mapping = new AddressSpace("m");
    const a = new Vma(new MmStruct("a"), 0x10000, 0x12000, 0, 0); // file pages 0-1
    const b = new Vma(new MmStruct("b"), 0x40000, 0x42000, 1, 0); // file pages 1-2
    mapping.iMmap.add(a);
    mapping.iMmap.add(b);
    for (const v of [a, b]) {
      await v.vmMm.mmapLock.writeLock();
      for (let x = v.vmStart; x < v.vmEnd; x += PAGE_SIZE) v.insertPage(x, page(1));
      await v.vmMm.mmapLock.writeUnlock();
    }
    // file page 1 only
    expect(unmapMappingRange(mapping, PAGE_SIZE, PAGE_SIZE)).toBe(2);
    expect([...a.pages.keys()]).toEqual([0x10]);
    expect([...b.pages.keys()]).toEqual([0x41]);
    expect(unmapMappingRange(mapping, 0, 0)).toBe(2);
  });

  it("page arithmetic", () => {
    expect(pageAlign(1)).toBe(PAGE_SIZE);
    expect(pageAlign(PAGE_SIZE)).toBe(PAGE_SIZE);
    expect(pageAlign(0)).toBe(0);
    expect(offsetInPage(PAGE_SIZE + 3)).toBe(3);
  });
});
