import { describe, expect, it } from "vitest";
import { EBUSY, EEXIST, EINVAL, ENOENT, isErr } from "../include/errno.js";
import { ChrdevRegistry, imajor, iminor, MAJOR, MINOR, MKDEV } from "./chrdev.js";
import type { FileOperations } from "./file.js";

const fops: FileOperations = { owner: "t" };

describe("character device registry", () => {
  it("registers nodes by path with device numbers and finds them", () => {
    const reg = new ChrdevRegistry();
    const card = reg.register("/dev/dri/card0", fops, { major: 226, minor: 0, private: "drm" });
    const render = reg.register("/dev/dri/renderD128", fops, { major: 226, minor: 128 });
    if (isErr(card) || isErr(render)) throw new Error("register failed");
    expect(card.iRdev).toBe(MKDEV(226, 0));
    expect(imajor(render)).toBe(226);
    expect(iminor(render)).toBe(128);
    expect(card.iPrivate).toBe("drm");
    expect(card.iFop).toBe(fops);
    expect(reg.lookup("/dev/dri/card0")).toBe(card);
    expect(reg.lookup("/dev/dri/card1")).toBeNull();
    expect(reg.paths()).toEqual(["/dev/dri/card0", "/dev/dri/renderD128"]);
    expect(card.iMapping).not.toBe(render.iMapping);
  });

  it("rejects taken paths, relative paths and bad numbers", () => {
    const reg = new ChrdevRegistry();
    expect(isErr(reg.register("/dev/x", fops))).toBe(false);
    expect(reg.register("/dev/x", fops)).toBe(-EEXIST);
    expect(reg.register("dev/y", fops)).toBe(-EINVAL);
    expect(reg.register("/", fops)).toBe(-EINVAL);
    expect(reg.register("/dev/z", fops, { major: 4096 })).toBe(-EINVAL);
    expect(reg.register("/dev/z", fops, { minor: -1 })).toBe(-EINVAL);
  });

  it("hands out dynamic majors from 254 down until they run out", () => {
    const reg = new ChrdevRegistry();
    const a = reg.register("/dev/a", fops);
    const b = reg.register("/dev/b", fops);
    if (isErr(a) || isErr(b)) throw new Error("register failed");
    expect(imajor(a)).toBe(254);
    expect(imajor(b)).toBe(253);
    for (let i = 0; i < 19; i++) expect(isErr(reg.register(`/dev/n${i}`, fops))).toBe(false);
    expect(reg.register("/dev/overflow", fops)).toBe(-EBUSY);
  });

  it("unregisters", () => {
    const reg = new ChrdevRegistry();
    reg.register("/dev/x", fops);
    expect(reg.unregister("/dev/x")).toBe(0);
    expect(reg.lookup("/dev/x")).toBeNull();
    expect(reg.unregister("/dev/x")).toBe(-ENOENT);
  });

  it("MKDEV, MAJOR and MINOR round-trip", () => {
    const dev = MKDEV(226, 129);
    expect(dev).toBe((226 << 20) | 129);
    expect(MAJOR(dev)).toBe(226);
    expect(MINOR(dev)).toBe(129);
  });
});
