import { registerSwSync, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC } from "@primetime/dma-buf";
import {
  EFAULT,
  EINVAL,
  ENOENT,
  EOPNOTSUPP,
  ETIME,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { now } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  DRIVER_GEM,
  DRIVER_RENDER,
  DRIVER_SYNCOBJ,
  DRIVER_SYNCOBJ_TIMELINE,
} from "./drm-driver.js";
import {
  expectClean,
  runMachine,
  runProcess,
  tinyDriver,
  withExtraDevice,
} from "./test-support.js";
import {
  DRM_CAP_SYNCOBJ_TIMELINE,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_QUERY,
  DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
  DRM_IOCTL_SYNCOBJ_TRANSFER,
  DRM_IOCTL_SYNCOBJ_WAIT,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE,
  DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
} from "./uapi.js";

/** The tiny driver with DRIVER_SYNCOBJ and DRIVER_SYNCOBJ_TIMELINE (card1 / renderD129). */
const timelineDriver = {
  ...tinyDriver("tinytimeline"),
  driverFeatures: DRIVER_GEM | DRIVER_RENDER | DRIVER_SYNCOBJ | DRIVER_SYNCOBJ_TIMELINE,
};
/** The same with binary syncobjs only. */
const binaryDriver = {
  ...tinyDriver("tinybinary"),
  driverFeatures: DRIVER_GEM | DRIVER_RENDER | DRIVER_SYNCOBJ,
};
const RENDER = "/dev/dri/renderD129";
const FAR = 1e15; // an absolute timeout far in the future (ns)

/** Raw timeline syncobj ioctls returning the output or -errno; arrays in an anonymous page. */
class Timeline {
  constructor(
    readonly p: Process,
    readonly fd: number,
    readonly page: number,
  ) {}

  static async open(p: Process, path = RENDER): Promise<Timeline> {
    const fd = await p.open(path, O_RDWR);
    if (fd < 0) throw new Error(`open ${path}: ${fd}`);
    const page = await p.mmap(
      0,
      PAGE_SIZE,
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS,
      -1,
      0,
    );
    if (page < 0) throw new Error(`mmap: ${page}`);
    return new Timeline(p, fd, page);
  }

  get pointsAddr(): number {
    return this.page + 1024;
  }

  async create(): Promise<number> {
    const a = { handle: 0, flags: 0 };
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_CREATE, a);
    return r < 0 ? r : a.handle;
  }

  async put(hs: number[], pts: number[] | null): Promise<{ handles: number; points: number }> {
    const b = new Uint8Array(hs.length * 4);
    const v = new DataView(b.buffer);
    for (const [i, h] of hs.entries()) v.setUint32(i * 4, h, true);
    await this.p.writeMemory(this.page, b);
    if (pts) {
      const pb = new Uint8Array(pts.length * 8);
      const pv = new DataView(pb.buffer);
      for (const [i, x] of pts.entries()) pv.setBigUint64(i * 8, BigInt(x), true);
      await this.p.writeMemory(this.pointsAddr, pb);
    }
    return { handles: this.page, points: pts ? this.pointsAddr : 0 };
  }

  async signal(hs: number[], pts: number[] | null, flags = 0): Promise<number> {
    const { handles, points } = await this.put(hs, pts);
    return this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, {
      handles,
      points,
      count_handles: hs.length,
      flags,
    });
  }

  /** QUERY: the points, or -errno. */
  async query(hs: number[], flags = 0, points?: number): Promise<number[] | number> {
    const { handles } = await this.put(hs, null);
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_QUERY, {
      handles,
      points: points ?? this.pointsAddr,
      count_handles: hs.length,
      flags,
    });
    if (r < 0) return r;
    const b = await this.p.readMemory(this.pointsAddr, hs.length * 8);
    if (typeof b === "number") throw new Error(`read: ${b}`);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return hs.map((_h, i) => Number(v.getBigUint64(i * 8, true)));
  }

  async wait(hs: number[], pts: number[] | null, flags: number, timeoutNsec: number) {
    const { handles, points } = await this.put(hs, pts);
    const a = {
      handles,
      points,
      timeout_nsec: timeoutNsec,
      count_handles: hs.length,
      flags,
      first_signaled: 0,
      pad: 0,
      deadline_nsec: 0,
    };
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, a);
    return r < 0 ? r : a.first_signaled;
  }

  async binaryWait(hs: number[], flags: number, timeoutNsec: number) {
    const { handles } = await this.put(hs, null);
    return this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_WAIT, {
      handles,
      timeout_nsec: timeoutNsec,
      count_handles: hs.length,
      flags,
      first_signaled: 0,
      pad: 0,
      deadline_nsec: 0,
    });
  }

  transfer(src: number, srcPoint: number, dst: number, dstPoint: number, flags = 0, pad = 0) {
    return this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_TRANSFER, {
      src_handle: src,
      dst_handle: dst,
      src_point: srcPoint,
      dst_point: dstPoint,
      flags,
      pad,
    });
  }

  /** FD_TO_HANDLE with IMPORT_SYNC_FILE | TIMELINE: the sync_file's fence at `point`. */
  importPoint(handle: number, syncFile: number, point: number): Promise<number> {
    return this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, {
      handle,
      flags:
        DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE | DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_TIMELINE,
      fd: syncFile,
      pad: 0,
      point,
    });
  }

  /** HANDLE_TO_FD with EXPORT_SYNC_FILE | TIMELINE: a sync_file of `point`, or -errno. */
  async exportPoint(handle: number, point: number): Promise<number> {
    const a = {
      handle,
      flags:
        DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE | DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE,
      fd: -1,
      pad: 0,
      point,
    };
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, a);
    return r < 0 ? r : a.fd;
  }

  destroy(handle: number): Promise<number> {
    return this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_DESTROY, { handle, pad: 0 });
  }
}

/** A sw_sync timeline and an unsignalled fence on it at `value`, as a sync_file fd. */
async function swFence(p: Process, value = 1): Promise<{ timeline: number; fence: number }> {
  const timeline = await p.open("/dev/sw_sync", O_RDWR);
  const data = { value, name: "timeline-test", fence: -1 };
  const r = await p.ioctl(timeline, SW_SYNC_IOC_CREATE_FENCE, data);
  if (r < 0) throw new Error(`sw_sync create fence: ${r}`);
  return { timeline, fence: data.fence };
}

describe("timeline syncobjs (drm_syncobj.c and dma-fence-chain.c of v6.18)", () => {
  it("without DRIVER_SYNCOBJ_TIMELINE: cap 0 and EOPNOTSUPP; with it: the errno of bad input", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, binaryDriver, async () => {
        await runProcess(m, "igt", async (p) => {
          const t = await Timeline.open(p);
          const cap = { capability: DRM_CAP_SYNCOBJ_TIMELINE, value: 7 };
          await p.ioctl(t.fd, DRM_IOCTL_GET_CAP, cap);
          got.binaryCap = cap.value;
          const h = await t.create();
          got.binary = [
            await t.signal([h], [1]),
            await t.query([h]),
            await t.wait([h], [1], 0, 0),
            await t.transfer(h, 0, h, 1),
          ];
          await p.close(t.fd);
        });
      });
      await withExtraDevice(m, timelineDriver, async () => {
        await runProcess(m, "igt", async (p) => {
          const t = await Timeline.open(p);
          const cap = { capability: DRM_CAP_SYNCOBJ_TIMELINE, value: 7 };
          await p.ioctl(t.fd, DRM_IOCTL_GET_CAP, cap);
          got.cap = cap.value;
          const h = await t.create();
          const other = await t.create();
          got.signalFlags = await t.signal([h], [1], 1);
          got.signalNone = await t.signal([], [1]);
          got.signalBadHandle = await t.signal([4242], [1]);
          got.signalBadPoints = await p.ioctl(t.fd, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, {
            handles: (await t.put([h], null)).handles,
            points: 16,
            count_handles: 1,
            flags: 0,
          });
          got.queryFlags = await t.query([h], 2);
          got.queryNone = await t.query([]);
          got.queryBadHandle = await t.query([4242]);
          got.queryBadPoints = await t.query([h], 0, 16);
          got.waitFlags = await t.wait([h], [1], 1 << 7, 0);
          got.waitNone = await t.wait([], [1], 0, 0);
          got.waitNoPoint = await t.wait([h], [1], 0, 0);
          got.waitAvailableTimeout = await t.wait(
            [h],
            [1],
            DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE,
            0,
          );
          got.waitBadPoints = await p.ioctl(t.fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, {
            handles: (await t.put([h], null)).handles,
            points: 16,
            count_handles: 1,
            flags: 0,
            timeout_nsec: 0,
            first_signaled: 0,
            pad: 0,
            deadline_nsec: 0,
          });
          got.transferPad = await t.transfer(h, 0, other, 1, 0, 1);
          got.transferBadDst = await t.transfer(h, 0, 4242, 1);
          got.transferBadSrc = await t.transfer(4242, 0, other, 1);
          got.transferNothing = await t.transfer(h, 1, other, 0);
          got.exportNothing = await t.exportPoint(h, 1);
          await p.close(t.fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      binaryCap: 0,
      binary: [-EOPNOTSUPP, -EOPNOTSUPP, -EOPNOTSUPP, -EOPNOTSUPP],
      cap: 1,
      signalFlags: -EINVAL,
      signalNone: -EINVAL,
      signalBadHandle: -ENOENT,
      signalBadPoints: -EFAULT,
      queryFlags: -EINVAL,
      queryNone: -EINVAL,
      queryBadHandle: -ENOENT,
      queryBadPoints: -EFAULT,
      waitFlags: -EINVAL,
      waitNone: 0, // drm_syncobj_timeline_wait_ioctl(): nothing to wait for (v6.18)
      waitNoPoint: -EINVAL, // not submitted, no WAIT_FOR_SUBMIT / WAIT_AVAILABLE
      waitAvailableTimeout: -ETIME,
      waitBadPoints: -EFAULT,
      transferPad: -EINVAL,
      transferBadDst: -ENOENT,
      transferBadSrc: -ENOENT,
      transferNothing: -EINVAL, // the source has no fence
      exportNothing: -EINVAL,
    });
  });

  it("points: signal, query (signalled / last submitted), wait, available, transfer, export", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      registerSwSync(m.kernel);
      await withExtraDevice(m, timelineDriver, async () => {
        await runProcess(m, "igt", async (p) => {
          const t = await Timeline.open(p);
          const h = await t.create();
          const bin = await t.create();
          got.empty = await t.query([h]);
          got.signal = await t.signal([h, h, h], [1, 2, 3]);
          got.after3 = await t.query([h]);
          // Point 5: an unsignalled sw_sync fence.
          const sw = await swFence(p, 1);
          got.import5 = await t.importPoint(h, sw.fence, 5);
          got.signalled = await t.query([h]);
          got.submitted = await t.query([h], DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED);
          got.wait3 = await t.wait([h], [3], 0, 0);
          got.wait4 = await t.wait([h], [4], 0, 0); // point 5 signals point 4
          got.available5 = await t.wait([h], [5], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE, 0);
          got.wait6 = await t.wait([h], [6], 0, 0);
          got.waitAll = await t.wait([h, h], [3, 5], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, now() + 1000);
          got.waitAny = await t.wait([h, h], [5, 2], 0, 0);
          // Point 5 to a binary syncobj, and the binary one to point 7.
          got.toBinary = await t.transfer(h, 5, bin, 0);
          got.binaryWait = await t.binaryWait([bin], 0, 0);
          got.toTimeline = await t.transfer(bin, 0, h, 7);
          got.submitted7 = await t.query([h], DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED);
          const exported = await t.exportPoint(h, 2);
          got.exported = exported > 0;
          await p.close(exported);
          await p.ioctl(sw.timeline, SW_SYNC_IOC_INC, 1);
          got.wait7 = await t.wait([h], [7], 0, 0);
          got.final = await t.query([h]);
          got.binaryDone = await t.binaryWait([bin], 0, 0);
          got.destroy = await t.destroy(h);
          await p.close(sw.fence);
          await p.close(sw.timeline);
          await p.close(t.fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      empty: [0],
      signal: 0,
      after3: [3],
      import5: 0,
      signalled: [3],
      submitted: [5],
      wait3: 0,
      wait4: -ETIME,
      available5: 0,
      wait6: -EINVAL,
      waitAll: -ETIME,
      waitAny: 1,
      toBinary: 0,
      binaryWait: -ETIME,
      toTimeline: 0,
      submitted7: [7],
      exported: true,
      wait7: 0,
      final: [7],
      binaryDone: 0,
      destroy: 0,
    });
  });

  it("WAIT_FOR_SUBMIT: a waiter for point 2 sleeps until another thread signals it", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, timelineDriver, async () => {
        await runProcess(m, "igt", async (p) => {
          const t = await Timeline.open(p);
          const h = await t.create();
          const page = await p.mmap(
            0,
            PAGE_SIZE,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
          );
          const waiter = p.spawnThread("waiter", async () => {
            // The same file (handles are per file), its own page for the arrays.
            const w = new Timeline(p, t.fd, page);
            got.wait = await w.wait([h], [2], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, FAR);
            got.pointsThen = await w.query([h]);
          });
          got.signal1 = await t.signal([h], [1]);
          got.signal2 = await t.signal([h], [2]);
          await waiter.join();
          await p.close(t.fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({ signal1: 0, signal2: 0, wait: 0, pointsThen: [2] });
  });
});

describe("timeline syncobj lifetimes under PCT", () => {
  /**
   * One file, one timeline: a signaller adds points 1..3 (each a chain node after the last,
   * the old ones collected by the walks), a waiter waits for point 2 (WAIT_FOR_SUBMIT), a third
   * thread queries, exports point 1 as a sync_file and transfers point 3 to a binary syncobj;
   * then the timeline is destroyed. Oracles: refcount, KASAN, kmemleak at the end.
   */
  const scenario = async () => {
    const { Kernel } = await import("@primetime/kernel");
    const kernel = Kernel.boot();
    const m = { kernel, devs: [] };
    await withExtraDevice(m, timelineDriver, async () => {
      await runProcess(m, "igt", async (p) => {
        // The only device of this kernel: renderD128.
        const t = await Timeline.open(p, "/dev/dri/renderD128");
        const h = await t.create();
        const bin = await t.create();
        const page2 = await p.mmap(
          0,
          PAGE_SIZE,
          PROT_READ | PROT_WRITE,
          MAP_PRIVATE | MAP_ANONYMOUS,
          -1,
          0,
        );
        const page3 = await p.mmap(
          0,
          PAGE_SIZE,
          PROT_READ | PROT_WRITE,
          MAP_PRIVATE | MAP_ANONYMOUS,
          -1,
          0,
        );
        const waiter = p.spawnThread("waiter", async () => {
          const w = new Timeline(p, t.fd, page2);
          const ret = await w.wait([h], [2], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT, FAR);
          if (ret !== 0) throw new Error(`wait for point 2: ${ret}`);
        });
        const reader = p.spawnThread("reader", async () => {
          const q = new Timeline(p, t.fd, page3);
          const pts = await q.query([h]);
          if (typeof pts === "number") throw new Error(`query: ${pts}`);
          const fd = await q.exportPoint(h, 1);
          if (fd >= 0) await p.close(fd);
          else if (fd !== -EINVAL) throw new Error(`export point 1: ${fd}`);
          const tr = await q.transfer(h, 3, bin, 0);
          if (tr !== 0 && tr !== -EINVAL) throw new Error(`transfer point 3: ${tr}`);
        });
        for (const pt of [1, 2, 3]) {
          const ret = await t.signal([h], [pt]);
          if (ret !== 0) throw new Error(`signal ${pt}: ${ret}`);
        }
        await waiter.join();
        await reader.join();
        if ((await t.destroy(h)) !== 0) throw new Error("destroy");
        await p.close(t.fd);
      });
    });
    await kernel.checkLeaks();
  };

  it("are clean over 150 PCT schedules", async () => {
    const { explore } = await import("@primetime/sim/explore");
    const res = await explore(scenario, { strategy: "pct", depth: 3, schedules: 150, seed: 7 });
    expect(res.firstFailure?.splats ?? []).toEqual([]);
    expect(res.schedules).toBe(150);
  });
});
