import { EPOLLIN, EPOLLOUT, Kernel, type PollFd, type Process } from "@primetime/kernel";
import {
  close,
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_WRITE,
  DrmFd,
  dmaBufExportSyncFile,
  dmaBufImportSyncFile,
  epollCreate1,
  epollCtl,
  epollWait,
  type PollProcess,
  poll,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SW_SYNC_PATH,
  SysError,
  swSyncCreateFence,
  swSyncCreateTimeline,
  swSyncInc,
} from "@primetime/libdrm";
import { formatSplat, type RunResult, Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  createVgem,
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  VGEM_FENCE_WRITE,
  type VgemDevice,
} from "./index.js";

/** EPOLL_CTL_ADD (include/uapi/linux/eventpoll.h). */
const EPOLL_CTL_ADD = 1;

function run(body: (p: Process, vgem: VgemDevice) => Promise<void>): Promise<RunResult> {
  return new Simulation({ seed: 1 }).run(async () => {
    const kernel = Kernel.boot();
    const vgem = await createVgem(kernel);
    const p = kernel.spawnProcess("prog", (proc) => body(proc, vgem));
    await p.wait();
    await kernel.checkLeaks({ ignore: (o) => o === vgem.device });
  });
}

async function errorOf(op: Promise<unknown>): Promise<SysError> {
  try {
    await op;
  } catch (e) {
    if (e instanceof SysError) return e;
    throw e;
  }
  throw new Error("expected a SysError, the call succeeded");
}

/** A process stand-in that records the requests and answers from `answer`. */
function recorder(answer: (cmd: number, arg: Record<string, number>) => number) {
  const calls: { what: string; fd: number; cmd?: number; arg?: unknown }[] = [];
  const proc = {
    pid: 1,
    name: "rec",
    async open(path: string) {
      calls.push({ what: `open ${path}`, fd: -1 });
      return 7;
    },
    async ioctl(fd: number, cmd: number, arg: Record<string, number>) {
      calls.push({ what: "ioctl", fd, cmd, arg: { ...arg } });
      return answer(cmd, arg);
    },
    async poll(fds: PollFd[], timeout: number) {
      calls.push({ what: `poll ${timeout}`, fd: fds[0]!.fd });
      fds[0]!.revents = EPOLLIN;
      return 1;
    },
  } as unknown as PollProcess;
  return { proc, calls };
}

describe("sync wrappers", () => {
  it("fill the uapi structs and return the kernel's outputs", async () => {
    const { proc, calls } = recorder((cmd, arg) => {
      if (cmd === SW_SYNC_IOC_CREATE_FENCE) arg.fence = 12;
      if (cmd === DMA_BUF_IOCTL_EXPORT_SYNC_FILE) arg.fd = 13;
      return 0;
    });
    expect(await swSyncCreateTimeline(proc)).toBe(7);
    expect(await swSyncCreateFence(proc, 7, 3)).toBe(12);
    await swSyncInc(proc, 7, 2);
    await dmaBufImportSyncFile(proc, 5, 12, DMA_BUF_SYNC_WRITE);
    expect(await dmaBufExportSyncFile(proc, 5, DMA_BUF_SYNC_READ)).toBe(13);
    const fds: PollFd[] = [{ fd: 5, events: EPOLLIN }];
    expect(await poll(proc, fds, 100)).toBe(1);
    expect(fds[0]!.revents).toBe(EPOLLIN);
    expect(calls).toEqual([
      { what: `open ${SW_SYNC_PATH}`, fd: -1 },
      {
        what: "ioctl",
        fd: 7,
        cmd: SW_SYNC_IOC_CREATE_FENCE,
        arg: { value: 3, name: "", fence: -1 },
      },
      { what: "ioctl", fd: 7, cmd: SW_SYNC_IOC_INC, arg: { value: 2 } },
      {
        what: "ioctl",
        fd: 5,
        cmd: DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
        arg: { flags: DMA_BUF_SYNC_WRITE, fd: 12 },
      },
      {
        what: "ioctl",
        fd: 5,
        cmd: DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
        arg: { flags: DMA_BUF_SYNC_READ, fd: -1 },
      },
      { what: "poll 100", fd: 5 },
    ]);
  });

  it("throw SysError named after the request", async () => {
    const { proc } = recorder(() => -22);
    const e = await errorOf(swSyncInc(proc, 7, 1));
    expect(e.code).toBe("EINVAL");
    expect(e.request).toBe("SW_SYNC_IOC_INC");
    expect((await errorOf(swSyncCreateFence(proc, 7, 1))).request).toBe("SW_SYNC_IOC_CREATE_FENCE");
    expect((await errorOf(dmaBufImportSyncFile(proc, 5, 6, 1))).message).toBe(
      "ioctl(DMA_BUF_IOCTL_IMPORT_SYNC_FILE) failed: EINVAL",
    );
  });

  it("work against the simulated kernel: poll on a dma-buf, errors from the real ioctls", async () => {
    const r = await run(async (p, vgem) => {
      const drm = await DrmFd.open(p, vgem.card);
      const { handle } = await drm.createDumb({ width: 1024, height: 1, bpp: 32 });
      const buf = await drm.primeHandleToFd(handle);
      const fds: PollFd[] = [{ fd: buf, events: EPOLLIN | EPOLLOUT }];
      expect(await poll(p, fds, 0)).toBe(1);
      expect(fds[0]!.revents).toBe(EPOLLIN | EPOLLOUT);
      // A DRM fd is not a sync_file.
      expect((await errorOf(dmaBufImportSyncFile(p, buf, drm.fd, DMA_BUF_SYNC_WRITE))).code).toBe(
        "EINVAL",
      );
      expect((await errorOf(dmaBufExportSyncFile(p, buf, 0))).code).toBe("EINVAL");
      // A dma-buf with no fences exports a signalled sync_file.
      const sync = await dmaBufExportSyncFile(p, buf, DMA_BUF_SYNC_WRITE);
      expect(await poll(p, [{ fd: sync, events: EPOLLIN }], 0)).toBe(1);
      // Without sw_sync registered there is no timeline to open.
      const e = await errorOf(swSyncCreateTimeline(p));
      expect(e).toMatchObject({ code: "ENOENT", path: SW_SYNC_PATH });
      // The DRM fd has no timeline ioctls.
      expect((await errorOf(swSyncInc(p, drm.fd, 1))).syscall).toBe("ioctl");
      await close(p, sync);
      await close(p, buf);
      await drm.gemClose(handle);
      await drm.close();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats.map((s) => formatSplat(s))).toEqual([]);
  });

  it("epoll on a dma-buf: a vgem write fence holds POLLIN back, its signal wakes epoll_wait", async () => {
    const seen: Record<string, unknown> = {};
    const r = await run(async (p, vgem) => {
      const drm = await DrmFd.open(p, vgem.card);
      const { handle } = await drm.createDumb({ width: 1024, height: 1, bpp: 32 });
      const buf = await drm.primeHandleToFd(handle);
      const fence = { handle, flags: VGEM_FENCE_WRITE, out_fence: 0, pad: 0 };
      await drm.ioctl(DRM_IOCTL_VGEM_FENCE_ATTACH, fence, "DRM_IOCTL_VGEM_FENCE_ATTACH");
      const ep = await epollCreate1(p);
      await epollCtl(p, ep, EPOLL_CTL_ADD, buf, { events: EPOLLIN, data: 42 });
      seen.whileFenced = await epollWait(p, ep, 4, 0);
      const signaller = p.spawnThread("signal", async () => {
        await drm.ioctl(
          DRM_IOCTL_VGEM_FENCE_SIGNAL,
          { fence: fence.out_fence, flags: 0 },
          "DRM_IOCTL_VGEM_FENCE_SIGNAL",
        );
      });
      seen.afterSignal = await epollWait(p, ep, 4, -1);
      await signaller.join();
      seen.epollCtlAgain = (
        await errorOf(epollCtl(p, ep, EPOLL_CTL_ADD, buf, { events: EPOLLIN, data: 1 }))
      ).code;
      await close(p, ep);
      await close(p, buf);
      await drm.gemClose(handle);
      await drm.close();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats.map((s) => formatSplat(s))).toEqual([]);
    expect(seen).toEqual({
      whileFenced: [],
      afterSignal: [{ events: EPOLLIN, data: 42 }],
      epollCtlAgain: "EEXIST",
    });
  });
});
