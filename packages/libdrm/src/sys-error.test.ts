import { EBADF, ENOENT, Kernel, type Process } from "@primetime/kernel";
import { type RunResult, Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { close, dup, open } from "./libc.js";
import { checkRet, isSysError, SysError } from "./sys-error.js";

/**
 * libdrm's error convention on its own, without a driver (the tests that drive a device through
 * libdrm live in the driver packages, e.g. vgem's libdrm-*.test.ts).
 */
function run(body: (p: Process) => Promise<void>): Promise<RunResult> {
  return new Simulation({ seed: 1 }).run(async () => {
    const kernel = Kernel.boot();
    const p = kernel.spawnProcess("prog", (proc) => body(proc));
    await p.wait();
    await kernel.checkLeaks();
  });
}

async function errorOf(op: Promise<unknown>): Promise<unknown> {
  try {
    await op;
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to fail");
}

describe("SysError", () => {
  it("follows Node's error shape: code, negative errno, syscall, request or path", () => {
    const e = new SysError(-ENOENT, "ioctl", { request: "DRM_IOCTL_GEM_OPEN" });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("SysError");
    expect(e.code).toBe("ENOENT");
    expect(e.errno).toBe(-ENOENT);
    expect(e.syscall).toBe("ioctl");
    expect(e.request).toBe("DRM_IOCTL_GEM_OPEN");
    expect(e.message).toBe("ioctl(DRM_IOCTL_GEM_OPEN) failed: ENOENT");
    expect(isSysError(e)).toBe(true);
    expect(isSysError(e, "ENOENT")).toBe(true);
    expect(isSysError(e, "EBADF")).toBe(false);
    expect(isSysError(new Error("x"))).toBe(false);
  });

  it("checkRet passes results through and throws for a negative errno", () => {
    expect(checkRet(3, "open")).toBe(3);
    expect(checkRet(0, "close")).toBe(0);
    expect(() => checkRet(-EBADF, "close")).toThrow("close failed: EBADF");
  });

  it("open, close and dup fail with the kernel's errno as a SysError", async () => {
    const seen: Record<string, unknown> = {};
    const r = await run(async (p) => {
      seen.open = await errorOf(open(p, "/dev/dri/card7", 2));
      seen.close = await errorOf(close(p, 99));
      seen.dup = await errorOf(dup(p, 99));
    });
    expect(r.splats).toEqual([]);
    expect(seen.open).toMatchObject({ code: "ENOENT", syscall: "open", path: "/dev/dri/card7" });
    expect(seen.close).toMatchObject({ code: "EBADF", syscall: "close" });
    expect(seen.dup).toMatchObject({ code: "EBADF", syscall: "dup" });
  });
});
