import { registerSwSync, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC } from "@primetime/dma-buf";
import {
  EFAULT,
  EINVAL,
  ENOENT,
  EOPNOTSUPP,
  ETIME,
  EXIT_KILLED,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { now, sleep, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { drmDevCounters } from "./drm-device.js";
import { DRIVER_GEM, DRIVER_RENDER, DRIVER_SYNCOBJ } from "./drm-driver.js";
import { drmSyncobjCache } from "./drm-syncobj.js";
import {
  expectClean,
  runMachine,
  runProcess,
  tinyDriver,
  withExtraDevice,
} from "./test-support.js";
import {
  DRM_CAP_SYNCOBJ,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_RESET,
  DRM_IOCTL_SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_WAIT,
  DRM_SYNCOBJ_CREATE_SIGNALED,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
  type DrmSyncobjHandle,
  type DrmSyncobjWait,
} from "./uapi.js";

/** The tiny driver with DRIVER_SYNCOBJ, registered as card1 / renderD129. */
const syncDriver = {
  ...tinyDriver("tinysync"),
  driverFeatures: DRIVER_GEM | DRIVER_RENDER | DRIVER_SYNCOBJ,
};
const RENDER = "/dev/dri/renderD129";

/** Raw syncobj ioctls returning the output or -errno. */
class Sync {
  constructor(
    readonly p: Process,
    readonly fd: number,
    readonly arr: number,
  ) {}

  static async open(p: Process, path = RENDER): Promise<Sync> {
    const fd = await p.open(path, O_RDWR);
    const arr = await p.mmap(
      0,
      PAGE_SIZE,
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS,
      -1,
      0,
    );
    if (arr < 0) throw new Error(`mmap: ${arr}`);
    return new Sync(p, fd, arr);
  }

  async create(flags = 0): Promise<number> {
    const a = { handle: 0, flags };
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_CREATE, a);
    return r < 0 ? r : a.handle;
  }

  destroy(handle: number, pad = 0): Promise<number> {
    return this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_DESTROY, { handle, pad });
  }

  async handleToFd(handle: number, flags = 0, extra: Partial<DrmSyncobjHandle> = {}) {
    const a = { handle, flags, fd: -1, pad: 0, point: 0, ...extra };
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, a);
    return r < 0 ? r : a.fd;
  }

  async fdToHandle(fd: number, flags = 0, handle = 0, extra: Partial<DrmSyncobjHandle> = {}) {
    const a = { handle, flags, fd, pad: 0, point: 0, ...extra };
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, a);
    return r < 0 ? r : a.handle;
  }

  /** Writes the handles to the anonymous page; its address. */
  async handles(hs: number[]): Promise<number> {
    const b = new Uint8Array(hs.length * 4);
    const v = new DataView(b.buffer);
    for (const [i, h] of hs.entries()) v.setUint32(i * 4, h, true);
    await this.p.writeMemory(this.arr, b);
    return this.arr;
  }

  async wait(hs: number[], flags: number, timeoutNsec: number) {
    const a: DrmSyncobjWait = {
      handles: await this.handles(hs),
      timeout_nsec: timeoutNsec,
      count_handles: hs.length,
      flags,
      first_signaled: 0,
      pad: 0,
      deadline_nsec: 0,
    };
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_WAIT, a);
    return r < 0 ? r : a.first_signaled;
  }

  async array(cmd: number, hs: number[], pad = 0, count = hs.length): Promise<number> {
    return this.p.ioctl(this.fd, cmd, {
      handles: await this.handles(hs),
      count_handles: count,
      pad,
    });
  }
}

/** A sw_sync timeline and an unsignalled fence on it at `value`, as a sync_file fd. */
async function swFence(p: Process, value = 1): Promise<{ timeline: number; fence: number }> {
  const timeline = await p.open("/dev/sw_sync", O_RDWR);
  const data = { value, name: "syncobj-test", fence: -1 };
  const r = await p.ioctl(timeline, SW_SYNC_IOC_CREATE_FENCE, data);
  if (r < 0) throw new Error(`sw_sync create fence: ${r}`);
  return { timeline, fence: data.fence };
}

describe("drm_syncobj (binary, Linux v6.18)", () => {
  it("GET_CAP, create/destroy, opaque fds shared between files, errno for bad input", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, syncDriver, async (dev) => {
        await runProcess(m, "igt", async (p) => {
          const s = await Sync.open(p);
          const cap = { capability: DRM_CAP_SYNCOBJ, value: 0 };
          await p.ioctl(s.fd, DRM_IOCTL_GET_CAP, cap);
          got.cap = cap.value;
          const h = await s.create();
          got.handle = h;
          got.badCreateFlags = await s.create(0x2);
          got.badDestroy = await s.destroy(0xdead);
          got.badDestroyPad = await s.destroy(h, 1);
          got.badToFd = await s.handleToFd(0xdead);
          got.badToFdFlags = await s.handleToFd(h, 0x4);
          got.badToFdPad = await s.handleToFd(h, 0, { pad: 1 });
          got.badToFdPoint = await s.handleToFd(h, 0x2, { point: 5 });
          got.badFromFd = await s.fdToHandle(99);
          got.badFromFdKind = await s.fdToHandle(s.fd);
          got.exportNoFence = await s.handleToFd(
            h,
            DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
          );
          got.exportBadHandle = await s.handleToFd(
            0xdead,
            DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
          );
          // An opaque fd, imported by a second file of the same device, outlives the handles.
          const fd = await s.handleToFd(h);
          const s2 = await Sync.open(p);
          const h2 = await s2.fdToHandle(fd);
          got.imported = h2 > 0;
          got.destroy = await s.destroy(h);
          got.destroyAgain = await s.destroy(h);
          got.liveAfterDestroy = drmSyncobjCache.live;
          await p.close(fd);
          got.signalViaSecond = await s2.array(DRM_IOCTL_SYNCOBJ_SIGNAL, [h2]);
          got.waitSignalled = await s2.wait([h2], 0, 0);
          await p.close(s2.fd);
          got.liveAtEnd = drmSyncobjCache.live;
          await p.close(s.fd);
        });
        got.files = drmDevCounters(dev).files;
      });
    });
    expectClean(r);
    expect(got).toEqual({
      cap: 1,
      handle: 1,
      badCreateFlags: -EINVAL,
      badDestroy: -EINVAL,
      badDestroyPad: -EINVAL,
      badToFd: -EINVAL,
      badToFdFlags: -EINVAL,
      badToFdPad: -EINVAL,
      badToFdPoint: -EINVAL,
      badFromFd: -EINVAL,
      badFromFdKind: -EINVAL,
      exportNoFence: -EINVAL,
      exportBadHandle: -ENOENT,
      imported: true,
      destroy: 0,
      destroyAgain: -EINVAL,
      liveAfterDestroy: 1, // the fd and the second file's handle hold it
      signalViaSecond: 0,
      waitSignalled: 0,
      liveAtEnd: 0,
      files: 0,
    });
  });

  it("without DRIVER_SYNCOBJ every syncobj ioctl is EOPNOTSUPP and the cap is 0", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const s = await Sync.open(p, "/dev/dri/renderD128");
        const cap = { capability: DRM_CAP_SYNCOBJ, value: 7 };
        await p.ioctl(s.fd, DRM_IOCTL_GET_CAP, cap);
        got.cap = cap.value;
        got.create = await s.create();
        got.destroy = await s.destroy(1);
        got.toFd = await s.handleToFd(1);
        got.fromFd = await s.fdToHandle(1);
        got.wait = await s.wait([1], 0, 0);
        got.reset = await s.array(DRM_IOCTL_SYNCOBJ_RESET, [1]);
        got.signal = await s.array(DRM_IOCTL_SYNCOBJ_SIGNAL, [1]);
        await p.close(s.fd);
      });
    });
    expectClean(r);
    const E = -EOPNOTSUPP;
    expect(got).toEqual({
      cap: 0,
      create: E,
      destroy: E,
      toFd: E,
      fromFd: E,
      wait: E,
      reset: E,
      signal: E,
    });
  });

  it("wait: any/all, poll and absolute timeouts in virtual time, EINVAL/ENOENT/EFAULT, reset, signal", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      registerSwSync(m.kernel);
      await withExtraDevice(m, syncDriver, async () => {
        await runProcess(m, "igt", async (p) => {
          const s = await Sync.open(p);
          const a = await s.create();
          const b = await s.create(DRM_SYNCOBJ_CREATE_SIGNALED);
          got.noFence = await s.wait([a], 0, 0);
          got.noHandles = await s.wait([], 0, 0);
          got.badHandle = await s.wait([a, 0xdead], 0, 0);
          got.badFlags = await s.wait([a], 0x10, 0);
          const w: DrmSyncobjWait = {
            handles: 0x1000,
            timeout_nsec: 0,
            count_handles: 1,
            flags: 0,
            first_signaled: 0,
            pad: 0,
            deadline_nsec: 0,
          };
          got.badPointer = await p.ioctl(s.fd, DRM_IOCTL_SYNCOBJ_WAIT, w);
          // a: an unsignalled sw_sync fence; b: signalled.
          const { timeline, fence } = await swFence(p);
          got.import = await s.fdToHandle(
            fence,
            DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
            a,
          );
          got.importBadHandle = await s.fdToHandle(
            fence,
            DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
            0xdead,
          );
          await p.close(fence);
          got.anyFirst = await s.wait([a, b], 0, 0);
          got.allPoll = await s.wait([a, b], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, 0);
          const t0 = now();
          got.allTimeout = await s.wait([a, b], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, t0 + 1_000_000);
          got.waited = now() - t0 >= 1_000_000;
          got.pastTimeout = await s.wait([a], 0, 1);
          // A thread signals the timeline 5 ms later: the wait returns before its 1 s timeout.
          const signaller = p.spawnThread("signaller", async () => {
            await sleep(5_000_000);
            await p.ioctl(timeline, SW_SYNC_IOC_INC, { value: 1 });
          });
          const t1 = now();
          got.allSignalled = await s.wait([a, b], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, t1 + 1e9);
          got.wokeEarly = now() - t1 < 1e9;
          await signaller.join();
          // export the (now signalled) fence as a sync_file and back into a new syncobj
          const sf = await s.handleToFd(a, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE);
          const c = await s.create();
          got.reimport = await s.fdToHandle(sf, DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE, c);
          got.cSignalled = await s.wait([c], 0, 0);
          await p.close(sf);
          got.reset = await s.array(DRM_IOCTL_SYNCOBJ_RESET, [a, b]);
          got.afterReset = await s.wait([b], 0, 0);
          got.resetPad = await s.array(DRM_IOCTL_SYNCOBJ_RESET, [a], 1);
          got.resetNone = await s.array(DRM_IOCTL_SYNCOBJ_RESET, [], 0, 0);
          got.signalBad = await s.array(DRM_IOCTL_SYNCOBJ_SIGNAL, [a, 0xdead]);
          got.signal = await s.array(DRM_IOCTL_SYNCOBJ_SIGNAL, [a, b]);
          got.afterSignal = await s.wait([a, b], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, 0);
          await p.close(timeline);
          await p.close(s.fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      noFence: -EINVAL,
      noHandles: 0, // drm_syncobj_wait_ioctl(): nothing to wait for (v6.18)
      badHandle: -ENOENT,
      badFlags: -EINVAL,
      badPointer: -EFAULT,
      import: 1,
      importBadHandle: -ENOENT,
      anyFirst: 1, // b is signalled: first_signaled is its index
      allPoll: -ETIME,
      allTimeout: -ETIME,
      waited: true,
      pastTimeout: -ETIME,
      allSignalled: 1, // first_signaled keeps the index found signalled in the first pass (b)
      wokeEarly: true,
      reimport: 3,
      cSignalled: 0,
      reset: 0,
      afterReset: -EINVAL,
      resetPad: -EINVAL,
      resetNone: -EINVAL,
      signalBad: -ENOENT,
      signal: 0,
      afterSignal: 0,
    });
  });

  it("WAIT_FOR_SUBMIT sleeps until another thread puts a fence in, then waits for it", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, syncDriver, async () => {
        await runProcess(m, "igt", async (p) => {
          const s = await Sync.open(p);
          const a = await s.create();
          got.pollSubmit = await s.wait([a], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, 0);
          const s2 = await Sync.open(p);
          const fd = await s.handleToFd(a);
          const a2 = await s2.fdToHandle(fd);
          await p.close(fd);
          const submitter = p.spawnThread("submitter", async () => {
            await sleep(2_000_000);
            got.signal = await s2.array(DRM_IOCTL_SYNCOBJ_SIGNAL, [a2]);
          });
          got.waitSubmit = await s.wait([a], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, now() + 1e9);
          await submitter.join();
          await p.close(s2.fd);
          await p.close(s.fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({ pollSubmit: -ETIME, signal: 0, waitSubmit: 0 });
  });
});

describe("drm_syncobj waits and fatal signals", () => {
  it("a kill wakes a thread asleep in SYNCOBJ_WAIT long before its timeout; the wait's callback and references are gone", async () => {
    const got: { end?: number; code?: number; after?: boolean } = {};
    const r = await runMachine(async (m) => {
      registerSwSync(m.kernel);
      await withExtraDevice(m, syncDriver, async () => {
        const p = m.kernel.spawnProcess("igt", async (p) => {
          const s = await Sync.open(p);
          const a = await s.create();
          const { fence } = await swFence(p);
          const imp = { handle: a, flags: DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE };
          expect(await s.fdToHandle(fence, imp.flags, a)).toBe(a);
          await s.wait([a], 0, now() + 1e9);
          got.after = true;
        });
        const t = p.threads[0]!;
        while (!t.exited && !(t.state === "blocked" && t.lastLabel.startsWith("drm_syncobj")))
          await yieldCpu();
        p.kill();
        got.code = await p.wait();
        got.end = now();
      });
    });
    expectClean(r);
    expect(got.code).toBe(EXIT_KILLED);
    expect(got.after).toBeUndefined();
    expect(got.end).toBeLessThan(1e9);
  });
});

describe("drm_syncobj lifetimes under PCT", () => {
  /**
   * One file: a waiter polls the syncobj while a second thread alternates SIGNAL and RESET (the
   * fence replaced under the syncobj lock, read under RCU by the waiter) and a third exports it
   * as an fd, imports it as a second handle, destroys the first and closes the fd (the file's
   * and the fd's references). Oracles: refcount, KASAN, kmemleak at the end.
   */
  const scenario = async () => {
    const kernel = (await import("@primetime/kernel")).Kernel.boot();
    const m = { kernel, devs: [] };
    await withExtraDevice(m, syncDriver, async () => {
      await runProcess(m, "igt", async (p) => {
        const s = await Sync.open(p, "/dev/dri/renderD128");
        const h = await s.create(DRM_SYNCOBJ_CREATE_SIGNALED);
        const waiter = p.spawnThread("waiter", async () => {
          for (let i = 0; i < 2; i++) {
            const r = await s.wait([h], 0, 0);
            if (r !== 0 && r !== -EINVAL) throw new Error(`wait: ${r}`);
          }
        });
        const flipper = p.spawnThread("flipper", async () => {
          await s.array(DRM_IOCTL_SYNCOBJ_RESET, [h]);
          await s.array(DRM_IOCTL_SYNCOBJ_SIGNAL, [h]);
        });
        const fd = await s.handleToFd(h);
        const h2 = await s.fdToHandle(fd);
        await p.close(fd);
        await waiter.join();
        await flipper.join();
        if ((await s.destroy(h)) !== 0) throw new Error("destroy");
        if ((await s.wait([h2], 0, 0)) !== 0) throw new Error("the second handle lost the fence");
        await p.close(s.fd);
      });
    });
    await kernel.checkLeaks();
  };

  it("are clean over 200 PCT schedules", async () => {
    const { explore } = await import("@primetime/sim/explore");
    const res = await explore(scenario, { strategy: "pct", depth: 3, schedules: 200, seed: 5 });
    expect(res.firstFailure?.splats ?? []).toEqual([]);
    expect(res.schedules).toBe(200);
  });
});
