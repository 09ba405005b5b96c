import { describe, expect, it } from "vitest";
import { EFAULT } from "../include/errno.js";
import {
  _IO,
  _IOC_DIR,
  _IOC_NR,
  _IOC_READ,
  _IOC_SIZE,
  _IOC_TYPE,
  _IOC_WRITE,
  _IOR,
  _IOW,
  _IOWR,
  copyFromUser,
  copyToUser,
} from "./ioctl.js";

describe("ioctl command numbers", () => {
  it("encode as the kernel's asm-generic macros do", () => {
    // DRM_IOCTL_GEM_CLOSE = _IOW('d', 0x09, struct drm_gem_close) (8 bytes)
    expect(_IOW("d", 0x09, 8)).toBe(0x40086409);
    // DRM_IOCTL_PRIME_HANDLE_TO_FD = _IOWR('d', 0x2d, struct drm_prime_handle) (12 bytes)
    expect(_IOWR("d", 0x2d, 12)).toBe(0xc00c642d);
    // DRM_IOCTL_GET_MAGIC = _IOR('d', 0x02, drm_auth_t) (4 bytes)
    expect(_IOR("d", 0x02, 4)).toBe(0x80046402);
    // DRM_IOCTL_SET_MASTER = _IO('d', 0x1e)
    expect(_IO("d", 0x1e)).toBe(0x641e);
    expect(_IO(0x64, 0x1e)).toBe(0x641e);
  });

  it("decode", () => {
    const cmd = _IOWR("d", 0x2d, 12);
    expect(_IOC_DIR(cmd)).toBe(_IOC_READ | _IOC_WRITE);
    expect(_IOC_TYPE(cmd)).toBe("d".charCodeAt(0));
    expect(_IOC_NR(cmd)).toBe(0x2d);
    expect(_IOC_SIZE(cmd)).toBe(12);
    // A negative int32 spelling of the same number decodes the same.
    expect(_IOC_NR(cmd | 0)).toBe(0x2d);
    expect(_IOC_DIR(cmd | 0)).toBe(_IOC_READ | _IOC_WRITE);
  });

  it("reject fields out of range", () => {
    expect(() => _IOR("d", 256, 4)).toThrow(RangeError);
    expect(() => _IOR("d", 1, 1 << 14)).toThrow(RangeError);
    expect(() => _IO("dd", 1)).toThrow(RangeError);
  });
});

describe("copy_from_user / copy_to_user of ioctl arguments", () => {
  it("deep-copies user objects in and writes fields back out", () => {
    const user = { handle: 3, nested: { a: [1, 2] }, out: 0 };
    const k = copyFromUser(user) as typeof user;
    expect(k).toEqual(user);
    expect(k).not.toBe(user);
    expect(k.nested).not.toBe(user.nested);
    k.out = 9;
    k.nested.a.push(3);
    expect(user.out).toBe(0);
    expect(copyToUser(user, k)).toBe(0);
    expect(user).toEqual({ handle: 3, nested: { a: [1, 2, 3] }, out: 9 });
    expect(user.nested).not.toBe(k.nested);
  });

  it("copies a flat struct field by field exactly as structuredClone does", () => {
    const user = { size: 4096n, handle: 7, name: "bo", pad: undefined, flag: true, ptr: null };
    const k = copyFromUser(user) as typeof user;
    expect(k).not.toBe(user);
    expect(k).toStrictEqual(structuredClone(user));
    expect(Object.keys(k)).toEqual(Object.keys(user));
    k.handle = 9;
    expect(user.handle).toBe(7);
    // A class instance or an array takes the deep copy: a plain object / array, as before.
    class Args {
      handle = 1;
    }
    expect(copyFromUser(new Args())).toStrictEqual({ handle: 1 });
    expect(copyFromUser([1, 2])).toStrictEqual([1, 2]);
    // A field that is a function or a symbol cannot be copied: -EFAULT, as before.
    expect(copyFromUser({ a: 1, s: Symbol("x") })).toBe(-EFAULT);
    const out = { handle: 0 };
    expect(copyToUser(out, { handle: 5, extra: 2n })).toBe(0);
    expect(out).toEqual({ handle: 5, extra: 2n });
  });

  it("passes scalars through and faults on what cannot be copied", () => {
    expect(copyFromUser(5)).toBe(5);
    expect(copyFromUser(undefined)).toBeUndefined();
    expect(copyFromUser(null)).toBeNull();
    expect(copyFromUser({ f: () => 1 })).toBe(-EFAULT);
    expect(copyFromUser("str")).toBe(-EFAULT);
    expect(copyToUser(Object.freeze({ a: 1 }), { a: 2 })).toBe(-EFAULT);
    expect(copyToUser(5, { a: 2 })).toBe(0);
  });
});
