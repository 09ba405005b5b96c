import { describe, expect, it } from "vitest";
import { EBUSY, EINVAL } from "../include/errno.js";
import { MmStruct } from "./mm.js";
import { AddressSpace, offsetInPage, PAGE_SIZE, pageAlign, unmapMappingRange, Vma } from "./vma.js";

const page = (v: number) => new Uint8Array(PAGE_SIZE).fill(v);

describe("vma page tables", () => {
  it("insertPage validates and maps; zapPtes drops entries", () => {
    const vma = new Vma(new MmStruct("mm"), 0x10000, 0x13000, 5, 0);
    expect(vma.length).toBe(3 * PAGE_SIZE);
    expect(vma.nrPages).toBe(3);
    expect(vma.pgoff).toBe(5);
    expect(vma.insertPage(0x10000, page(1))).toBe(0);
    expect(vma.insertPage(0x10000, page(2))).toBe(-EBUSY);
    expect(vma.insertPage(0x13000, page(2))).toBe(-EINVAL);
    expect(vma.insertPage(0x10001, page(2))).toBe(-EINVAL);
    expect(vma.insertPage(0x11000, new Uint8Array(10))).toBe(-EINVAL);
    expect(vma.insertPage(0x12000, page(3))).toBe(0);
    expect(vma.zapPtes(0x10000, PAGE_SIZE)).toBe(1);
    expect([...vma.pages.keys()]).toEqual([0x12]);
    vma.privateData = "p";
    expect(vma.vmPrivateData).toBe("p");
  });

  it("unmapMappingRange zaps by file offset in every mapping vma", () => {
    const mapping = new AddressSpace("m");
    const a = new Vma(new MmStruct("a"), 0x10000, 0x12000, 0, 0); // file pages 0-1
    const b = new Vma(new MmStruct("b"), 0x40000, 0x42000, 1, 0); // file pages 1-2
    mapping.iMmap.add(a);
    mapping.iMmap.add(b);
    for (const v of [a, b])
      for (let x = v.vmStart; x < v.vmEnd; x += PAGE_SIZE) v.insertPage(x, page(1));
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
