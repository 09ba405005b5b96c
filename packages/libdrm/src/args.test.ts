import { Kernel, type Process } from "@primetime/kernel";
import { formatSplat, Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { describeValue, InvalidArgTypeError } from "./args.js";
import { readDmaBuf, writeDmaBuf } from "./dma-buf.js";
import {
  createDumb,
  drmIoctl,
  type FbRequest,
  mapBuffer,
  modeAddFB2,
  readBuffer,
  writeBuffer,
} from "./drm.js";
import { DrmFd } from "./drm-fd.js";
import { close, lseek, mmap, open, recvFd, sendFd } from "./libc.js";
import { poll } from "./sync.js";
import { SysError } from "./sys-error.js";

/** What `op` throws: "type" for ERR_INVALID_ARG_TYPE, the errno code for a SysError. */
async function outcome(op: () => Promise<unknown>): Promise<string> {
  try {
    await op();
    return "ok";
  } catch (e) {
    if (e instanceof InvalidArgTypeError) {
      expect(e).toBeInstanceOf(TypeError);
      expect(e.code).toBe("ERR_INVALID_ARG_TYPE");
      expect(e.message.length).toBeLessThan(120);
      return "type";
    }
    if (e instanceof SysError) return e.code;
    throw e;
  }
}

describe("libdrm argument types", () => {
  it("a wrong type is Node's ERR_INVALID_ARG_TYPE before the kernel; a bad value of the right type a SysError", async () => {
    const seen: Record<string, string> = {};
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const kernel = Kernel.boot();
      // A device node without ioctls stands in for a DRM device: the checks come before the
      // kernel, and the kernel's answers (ENOTTY...) come back as SysErrors.
      kernel.registerChrdev("/dev/dri/card0", {});
      const p = kernel.spawnProcess("prog", async (p: Process) => {
        const drm = await DrmFd.open(p, "/dev/dri/card0");
        const fd = drm.fd;
        const sym = Symbol("x".repeat(100));
        const throwingCtor = {
          get constructor(): unknown {
            throw new Error("constructor getter");
          },
        };
        const revoked = Proxy.revocable({}, {});
        revoked.revoke();
        const throwingProto = new Proxy(new Uint8Array(1), {
          getPrototypeOf() {
            throw new Error("getPrototypeOf trap");
          },
        });
        const throwingName = Object.defineProperty(() => 0, "name", {
          get() {
            throw new Error("name getter");
          },
        });
        const ops: Record<string, () => Promise<unknown>> = {
          openSymbolPath: () => open(p, sym as unknown as string, 2),
          openNumberPath: () => open(p, 5 as unknown as string, 2),
          drmOpenObjectPath: () => DrmFd.open(p, { path: 1 } as unknown as string),
          openBigintFlags: () => open(p, "/dev/none", 2n as unknown as number),
          closeStringFd: () => close(p, "3" as unknown as number),
          lseekBigintOffset: () => lseek(p, fd, 1n as unknown as number, 0),
          mmapBigintLength: () => mmap(p, fd, 0, 2n as unknown as number),
          readBufferBigintLength: () => readBuffer(p, fd, 1, 0, 2n as unknown as number),
          writeBufferString: () => writeBuffer(p, fd, 1, "bytes" as unknown as Uint8Array),
          mapBufferSymbolLength: () => mapBuffer(p, fd, 1, Symbol() as unknown as number),
          readDmaBufBigintOffset: () => readDmaBuf(p, fd, 1n as unknown as number, 1),
          writeDmaBufArray: () => writeDmaBuf(p, fd, [1, 2] as unknown as Uint8Array),
          drmIoctlSymbolRequest: () => drmIoctl(p, fd, Symbol() as unknown as number),
          drmIoctlNumberArg: () => drmIoctl(p, fd, 1, 5 as unknown as object),
          sendFdNullProcess: () => sendFd(p, null as unknown as Process, fd),
          recvFdNullOptions: () => recvFd(p, null as unknown as undefined),
          pollNullFds: () => poll(p, null as unknown as [], 0),
          pollBigintTimeout: () => poll(p, [], 1n as unknown as number),
          // Values whose inspection throws: still ERR_INVALID_ARG_TYPE, never their own error.
          closeThrowingConstructor: () => close(p, throwingCtor as unknown as number),
          openRevokedProxyPath: () => open(p, revoked.proxy as unknown as string, 2),
          writeBufferThrowingProto: () => writeBuffer(p, fd, 1, throwingProto as Uint8Array),
          sendFdThrowingName: () => sendFd(p, throwingName as unknown as Process, fd),
          createDumbNullRequest: () =>
            createDumb(p, fd, null as unknown as { width: 1; height: 1; bpp: 32 }),
          modeAddFB2NumberRequest: () => modeAddFB2(p, fd, 5 as unknown as FbRequest),
          // Right types, bad values: the kernel's errno.
          openLongPath: () => open(p, "x".repeat(1000), 2),
          closeFractionalFd: () => close(p, 1.5),
          pollFractionalTimeout: () => poll(p, [], 1.5),
          drmIoctlUnknownRequest: () => drmIoctl(p, fd, 0x12345678, {}),
        };
        for (const [name, op] of Object.entries(ops)) seen[name] = await outcome(op);
        await drm.close();
      });
      await p.wait();
      await kernel.checkLeaks();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats.map((s) => formatSplat(s))).toEqual([]);
    expect(seen).toEqual({
      openSymbolPath: "type",
      openNumberPath: "type",
      drmOpenObjectPath: "type",
      openBigintFlags: "type",
      closeStringFd: "type",
      lseekBigintOffset: "type",
      mmapBigintLength: "type",
      readBufferBigintLength: "type",
      writeBufferString: "type",
      mapBufferSymbolLength: "type",
      readDmaBufBigintOffset: "type",
      writeDmaBufArray: "type",
      drmIoctlSymbolRequest: "type",
      drmIoctlNumberArg: "type",
      sendFdNullProcess: "type",
      recvFdNullOptions: "type",
      pollNullFds: "type",
      pollBigintTimeout: "type",
      closeThrowingConstructor: "type",
      openRevokedProxyPath: "type",
      writeBufferThrowingProto: "type",
      sendFdThrowingName: "type",
      createDumbNullRequest: "type",
      modeAddFB2NumberRequest: "type",
      openLongPath: "ENOENT",
      closeFractionalFd: "EBADF",
      pollFractionalTimeout: "EINVAL",
      drmIoctlUnknownRequest: "ENOTTY",
    });
  });

  it("messages quote a short prefix of the value; SysError never throws while formatting", () => {
    expect(describeValue("y".repeat(500))).toBe(`type string ('${"y".repeat(25)}...')`);
    expect(describeValue(Symbol("s"))).toBe("type symbol (Symbol(s))");
    expect(describeValue(10n)).toBe("type bigint (10n)");
    expect(describeValue(null)).toBe("null");
    expect(describeValue(new Map())).toBe("an instance of Map");
    const trap = new Proxy(
      {},
      {
        get() {
          throw new Error("trap");
        },
      },
    );
    expect(describeValue(trap)).toBe("an object");
    const e = new SysError(-2, "open", { path: Symbol("p") as unknown as string });
    expect(e.message).toBe("open(Symbol(p)) failed: ENOENT");
    const long = new SysError(-2, "open", { path: "z".repeat(10_000) });
    expect(long.message.length).toBeLessThan(110);
    expect(long.path).toHaveLength(10_000);
  });
});
