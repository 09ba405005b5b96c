import { Kernel, type Process } from "@primetime/kernel";
import {
  close,
  DrmFd,
  dmaBufSize,
  dup,
  isSysError,
  readDmaBuf,
  recvDrmFd,
  SysError,
  writeDmaBuf,
} from "@primetime/libdrm";
import { type RunResult, Simulation } from "@primetime/sim";
import { expectClean } from "@primetime/sim/testing";
import { DRM_CAP_PRIME, DRM_PRIME_CAP_EXPORT, DRM_PRIME_CAP_IMPORT } from "@primetime/uapi";
import { describe, expect, it } from "vitest";
import {
  createVgem,
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  type DrmVgemFenceAttach,
  type VgemDevice,
} from "./index.js";

/** Runs `body` in a process on a kernel with one vgem device; returns the run (leak-checked). */
function run(body: (p: Process, vgem: VgemDevice, k: Kernel) => Promise<void>): Promise<RunResult> {
  return new Simulation({ seed: 1 }).run(async () => {
    const kernel = Kernel.boot();
    const vgem = await createVgem(kernel);
    const p = kernel.spawnProcess("prog", (proc) => body(proc, vgem, kernel));
    await p.wait();
    await kernel.checkLeaks({ ignore: (o) => o === vgem.device });
  });
}

/** The SysError `op` throws (fails the test if it does not throw one). */
async function errorOf(op: Promise<unknown>): Promise<SysError> {
  try {
    await op;
  } catch (e) {
    if (e instanceof SysError) return e;
    throw e;
  }
  throw new Error("expected a SysError, the call succeeded");
}

describe("DrmFd", () => {
  it("throws Node-style SysErrors naming the syscall and the request", async () => {
    const seen: Record<string, SysError> = {};
    const r = await run(async (p, vgem) => {
      seen.openMissingNode = await errorOf(DrmFd.open(p, "/dev/dri/card7"));
      const drm = await DrmFd.open(p, vgem.card);
      seen.gemOpenBadName = await errorOf(drm.gemOpen(0x10101010));
      seen.gemCloseBadHandle = await errorOf(drm.gemClose(42));
      seen.closeBadFd = await errorOf(close(p, 99));
      await drm.close();
    });
    expectClean(r);
    expect(Object.fromEntries(Object.entries(seen).map(([k, e]) => [k, e.message]))).toEqual({
      openMissingNode: "open(/dev/dri/card7) failed: ENOENT",
      gemOpenBadName: "ioctl(DRM_IOCTL_GEM_OPEN) failed: ENOENT",
      gemCloseBadHandle: "ioctl(DRM_IOCTL_GEM_CLOSE) failed: EINVAL",
      closeBadFd: "close failed: EBADF",
    });
    expect(seen.openMissingNode).toMatchObject({
      code: "ENOENT",
      errno: -2,
      syscall: "open",
      path: "/dev/dri/card7",
    });
    expect(seen.gemOpenBadName).toMatchObject({
      code: "ENOENT",
      errno: -2,
      syscall: "ioctl",
      request: "DRM_IOCTL_GEM_OPEN",
    });
    expect(seen.gemCloseBadHandle!.errno).toBe(-22);
    expect(isSysError(seen.gemOpenBadName, "ENOENT")).toBe(true);
    expect(isSysError(seen.gemOpenBadName, "EINVAL")).toBe(false);
    expect(isSysError(new Error("x"))).toBe(false);
  });

  it("needs authentication by the master for FLINK on a second primary client", async () => {
    const codes: Record<string, string> = {};
    let opened: Record<string, number> = {};
    const r = await run(async (p, vgem) => {
      const master = await DrmFd.open(p, vgem.card);
      const client = await DrmFd.open(p, vgem.card);
      const { handle } = await client.createDumb({ width: 1024, height: 1, bpp: 32 });
      codes.flinkUnauthenticated = (await errorOf(client.gemFlink(handle))).code;
      // Only the master may authenticate; the client's own AUTH_MAGIC is refused.
      const magic = await client.getMagic();
      codes.authMagicByClient = (await errorOf(client.authMagic(magic))).code;
      await master.authMagic(magic);
      const name = await client.gemFlink(handle);
      // authenticate() is GET_MAGIC + AUTH_MAGIC in one call.
      const third = await DrmFd.open(p, vgem.card);
      await third.authenticate(master);
      const bo = await third.gemOpen(name);
      opened = { name, handle: bo.handle, size: bo.size };
      await third.close();
      await client.close();
      await master.close();
    });
    expectClean(r);
    expect(codes).toEqual({ flinkUnauthenticated: "EACCES", authMagicByClient: "EACCES" });
    expect(opened).toEqual({ name: 1, handle: 1, size: 4096 });
  });

  it("creates, maps, reads and writes dumb buffers", async () => {
    let around4095: number[] = [];
    let info: unknown = null;
    const r = await run(async (p, vgem) => {
      const drm = await DrmFd.open(p, vgem.card);
      const bo = await drm.createDumb({ width: 256, height: 32, bpp: 32 });
      info = bo;
      await drm.writeBuffer(bo.handle, new Uint8Array([7, 8, 9]), 4095);
      around4095 = [...(await drm.readBuffer(bo.handle, 4094, 5))];
      const m = await drm.mapBuffer(bo.handle, bo.size);
      await m.fill(0xee, 8000, 10);
      expect([...(await m.read(7999, 12))]).toEqual([0, ...Array(10).fill(0xee), 0]);
      await expect(m.read(bo.size - 1, 2)).rejects.toThrow(RangeError);
      await m.unmap();
      await expect(m.read(0, 1)).rejects.toThrow(/unmapped/);
      await drm.destroyDumb(bo.handle);
      expect((await errorOf(drm.mapDumb(bo.handle))).code).toBe("ENOENT");
      expect((await errorOf(drm.createDumb({ width: 0, height: 1, bpp: 32 }))).code).toBe("EINVAL");
      await drm.close();
    });
    expectClean(r);
    expect(info).toEqual({ handle: 1, pitch: 1024, size: 32768 });
    expect(around4095, "bytes 4094..4098 after writing 7, 8, 9 at 4095").toEqual([0, 7, 8, 9, 0]);
  });

  it("exports and imports through PRIME, with dma-buf size and contents", async () => {
    const out: Record<string, unknown> = {};
    const r = await run(async (p, vgem) => {
      const a = await DrmFd.open(p, vgem.render);
      const b = await DrmFd.open(p, vgem.render);
      const card = await DrmFd.open(p, vgem.card);
      out.primeCap = await a.getCap(DRM_CAP_PRIME);
      out.driverName = (await a.version()).name;
      // Render nodes cannot create dumb buffers: make one on the card and pass it over.
      const bo = await card.createDumb({ width: 1024, height: 2, bpp: 32 });
      const fd = await card.primeHandleToFd(bo.handle);
      const ha = await a.primeFdToHandle(fd);
      const hb = await b.primeFdToHandle(fd);
      out.handleOnA = ha;
      out.handleOnB = hb;
      out.reimportOnB = await b.primeFdToHandle(fd);
      out.dmaBufSize = await dmaBufSize(p, fd);
      await writeDmaBuf(p, fd, new Uint8Array([1, 2, 3, 4]), 4094);
      out.exporterBytes4093to4098 = [...(await card.readBuffer(bo.handle, 4093, 6))];
      const fd2 = await dup(p, fd);
      out.dupBytes4095to4096 = [...(await readDmaBuf(p, fd2, 4095, 2))];
      await close(p, fd);
      await close(p, fd2);
      await a.close();
      await b.close();
      await card.close();
    });
    expectClean(r);
    expect(out).toEqual({
      primeCap: DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT,
      driverName: "vgem",
      handleOnA: 1,
      handleOnB: 1,
      reimportOnB: 1,
      dmaBufSize: 8192,
      exporterBytes4093to4098: [0, 1, 2, 3, 4, 0],
      dupBytes4095to4096: [2, 3],
    });
  });

  it("calls a driver ioctl by number, naming it in errors", async () => {
    let err: SysError | null = null;
    let fence = 0;
    const r = await run(async (p, vgem) => {
      const drm = await DrmFd.open(p, vgem.card);
      const { handle } = await drm.createDumb({ width: 1024, height: 1, bpp: 32 });
      const arg: DrmVgemFenceAttach = { handle, flags: 0, out_fence: 0, pad: 0 };
      await drm.ioctl(DRM_IOCTL_VGEM_FENCE_ATTACH, arg, "DRM_IOCTL_VGEM_FENCE_ATTACH");
      fence = arg.out_fence;
      err = await errorOf(
        drm.ioctl(DRM_IOCTL_VGEM_FENCE_ATTACH, { ...arg, pad: 1 }, "DRM_IOCTL_VGEM_FENCE_ATTACH"),
      );
      await drm.close();
    });
    expectClean(r);
    expect(fence).toBe(1);
    expect(err!.message).toBe("ioctl(DRM_IOCTL_VGEM_FENCE_ATTACH) failed: EINVAL");
  });

  it("passes a DRM fd to another process, which shares the file's handles", async () => {
    let name = 0;
    const r = await new Simulation({ seed: 2 }).run(async () => {
      const kernel = Kernel.boot();
      const vgem = await createVgem(kernel);
      let handle = 0;
      const receiver = kernel.spawnProcess("receiver", async (p) => {
        const drm = await recvDrmFd(p, vgem.card);
        // Same open file: the sender's handle is valid here, and so is its authentication.
        name = await drm.gemFlink(handle);
        await drm.close();
      });
      const sender = kernel.spawnProcess("sender", async (p) => {
        const drm = await DrmFd.open(p, vgem.card);
        handle = (await drm.createDumb({ width: 1024, height: 1, bpp: 32 })).handle;
        await drm.sendTo(receiver);
        await drm.close();
      });
      await sender.wait();
      await receiver.wait();
      await kernel.checkLeaks({ ignore: (o) => o === vgem.device });
    });
    expectClean(r);
    expect(name).toBe(1);
  });
});
