/**
 * The historic syncobj bugs of toggles.ts (gem.syncobj-*), each found by its oracle with the
 * toggle on and clean with it off: the v5.2-v5.10 lookup reference dropped before the
 * WAIT_FOR_SUBMIT wait (a race: KASAN, under PCT), linux-4.14.y's extra reference of every
 * opaque export (kmemleak) and the v4.13-v4.14 struct file shared by every export (KASAN).
 */

import {
  EINVAL,
  ENOENT,
  ETIME,
  EXIT_KILLED,
  Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDWR,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { now, type RunResult, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  DRIVER_GEM,
  DRIVER_RENDER,
  DRIVER_SYNCOBJ,
  DRIVER_SYNCOBJ_TIMELINE,
} from "./drm-driver.js";
import { drmSyncobjCache } from "./drm-syncobj.js";
import {
  expectClean,
  runMachine,
  runProcess,
  splatText,
  tinyDriver,
  withExtraDevice,
} from "./test-support.js";
import {
  GEM_SYNCOBJ_FIND_FENCE_EARLY_PUT,
  GEM_SYNCOBJ_HANDLE_TO_FD_EXTRA_GET,
  GEM_SYNCOBJ_SHARED_FILE,
} from "./toggles.js";
import {
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TRANSFER,
  DRM_IOCTL_SYNCOBJ_WAIT,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
} from "./uapi.js";

/** A tiny driver with binary and timeline syncobjs (renderD128 on a kernel of its own). */
const syncDriver = {
  ...tinyDriver("tinysync"),
  driverFeatures: DRIVER_GEM | DRIVER_RENDER | DRIVER_SYNCOBJ | DRIVER_SYNCOBJ_TIMELINE,
};

/** Raw syncobj ioctls on one DRM fd, returning the output or -errno. */
class Sync {
  constructor(
    readonly p: Process,
    readonly fd: number,
    readonly page: number,
  ) {}

  static async open(p: Process, path: string): Promise<Sync> {
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
    return new Sync(p, fd, page);
  }

  async create(): Promise<number> {
    const a = { handle: 0, flags: 0 };
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_CREATE, a);
    return r < 0 ? r : a.handle;
  }

  destroy(handle: number): Promise<number> {
    return this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_DESTROY, { handle, pad: 0 });
  }

  async handleToFd(handle: number): Promise<number> {
    const a = { handle, flags: 0, fd: -1, pad: 0, point: 0 };
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, a);
    return r < 0 ? r : a.fd;
  }

  async fdToHandle(fd: number): Promise<number> {
    const a = { handle: 0, flags: 0, fd, pad: 0, point: 0 };
    const r = await this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, a);
    return r < 0 ? r : a.handle;
  }

  async signal(handle: number): Promise<number> {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, handle, true);
    await this.p.writeMemory(this.page, b);
    return this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_SIGNAL, {
      handles: this.page,
      count_handles: 1,
      pad: 0,
    });
  }

  async poll(handle: number): Promise<number> {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, handle, true);
    await this.p.writeMemory(this.page, b);
    return this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_WAIT, {
      handles: this.page,
      timeout_nsec: 0,
      count_handles: 1,
      flags: 0,
      first_signaled: 0,
      pad: 0,
      deadline_nsec: 0,
    });
  }

  /** TRANSFER of `src` (binary, point 0) to point `dstPoint` of `dst`. */
  transfer(src: number, dst: number, dstPoint: number, flags: number): Promise<number> {
    return this.p.ioctl(this.fd, DRM_IOCTL_SYNCOBJ_TRANSFER, {
      src_handle: src,
      dst_handle: dst,
      src_point: 0,
      dst_point: dstPoint,
      flags,
      pad: 0,
    });
  }
}

/** The run's splats of `kind`, as text. */
function splatsOf(r: RunResult, kind: string): string {
  return splatText(r.splats.filter((s) => s.kind === kind));
}

describe(`${GEM_SYNCOBJ_FIND_FENCE_EARLY_PUT.name}: TRANSFER with WAIT_FOR_SUBMIT vs DESTROY`, () => {
  /**
   * One file: a waiter thread transfers the future fence of a binary syncobj to point 1 of a
   * timeline (WAIT_FOR_SUBMIT: it sleeps until a fence is submitted, at most 5 s) while the
   * main thread destroys the source handle and then signals the timeline. The transfer gets
   * -ENOENT (the handle was gone at its lookup) or -ETIME (nothing was submitted: the handle,
   * the only way to submit, is gone). Oracles: KASAN, refcount, kmemleak at the end.
   */
  const scenario = async () => {
    const kernel = Kernel.boot();
    const m = { kernel, devs: [] };
    await withExtraDevice(m, syncDriver, async () => {
      await runProcess(m, "vk", async (p) => {
        const s = await Sync.open(p, "/dev/dri/renderD128");
        const src = await s.create();
        const dst = await s.create();
        const w = new Sync(p, s.fd, s.page + 64);
        const waiter = p.spawnThread("waiter", async () => {
          const r = await w.transfer(src, dst, 1, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT);
          if (r !== -ENOENT && r !== -ETIME) throw new Error(`transfer: ${r}`);
        });
        if ((await s.destroy(src)) !== 0) throw new Error("destroy");
        await waiter.join();
        if ((await s.destroy(dst)) !== 0) throw new Error("destroy of the timeline");
        await p.close(s.fd);
      });
    });
    await kernel.checkLeaks();
  };

  it("PCT finds the freed syncobj under the waiter with the toggle on (KASAN)", async () => {
    const { explore } = await import("@primetime/sim/explore");
    const res = await explore(scenario, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      seed: 1,
      toggles: [GEM_SYNCOBJ_FIND_FENCE_EARLY_PUT.name],
    });
    const f = res.firstFailure;
    expect(f, "no schedule found it").toBeDefined();
    const kasan = f!.splats.filter((x) => x.kind === "kasan");
    expect(kasan.length, splatText(f!)).toBeGreaterThan(0);
    expect(kasan[0]!.message).toMatch(/use-after-free/);
    expect(kasan[0]!.object).toMatch(/^drm_syncobj#/);
  });

  it("is clean over 150 PCT schedules with the toggle off", async () => {
    const { explore } = await import("@primetime/sim/explore");
    const res = await explore(scenario, { strategy: "pct", depth: 3, schedules: 150, seed: 1 });
    expect(res.firstFailure?.splats ?? []).toEqual([]);
    expect(res.schedules).toBe(150);
  });

  it("without a race: DESTROY while the transfer sleeps frees the syncobj under its wait entry", async () => {
    const got: Record<string, unknown> = {};
    const run = (toggles: string[]) =>
      runMachine(
        async (m) => {
          await withExtraDevice(m, syncDriver, async () => {
            await runProcess(m, "vk", async (p) => {
              const s = await Sync.open(p, "/dev/dri/renderD129");
              const src = await s.create();
              const dst = await s.create();
              const w = new Sync(p, s.fd, s.page + 64);
              const waiter = p.spawnThread("waiter", async () => {
                got.transfer = await w.transfer(
                  src,
                  dst,
                  1,
                  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
                );
              });
              // The waiter is asleep in drm_syncobj_find_fence() (queued on the syncobj).
              while (!(waiter.state === "blocked" && waiter.lastLabel.startsWith("drm_syncobj")))
                await yieldCpu();
              got.destroy = await s.destroy(src);
              await waiter.join();
              got.elapsed = now() >= 5_000_000_000;
              await s.destroy(dst);
              await p.close(s.fd);
            });
          });
        },
        { toggles },
      );
    const off = await run([]);
    expectClean(off);
    expect(got).toEqual({ transfer: -ETIME, destroy: 0, elapsed: true });
    const on = await run([GEM_SYNCOBJ_FIND_FENCE_EARLY_PUT.name]);
    expect(splatsOf(on, "kasan")).toMatch(/use-after-free/);
    expect(on.splats.find((x) => x.kind === "kasan")?.object).toMatch(/^drm_syncobj#/);
  });

  it("a kill wakes the transfer's WAIT_FOR_SUBMIT sleep at once (-ERESTARTSYS unwinds it)", async () => {
    const got: { code?: number; end?: number; transfer?: number } = {};
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, syncDriver, async () => {
        const p = m.kernel.spawnProcess("vk", async (p) => {
          const s = await Sync.open(p, "/dev/dri/renderD129");
          const src = await s.create();
          const dst = await s.create();
          got.transfer = await s.transfer(src, dst, 1, DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT);
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
    // The thread dies on its way back to userspace: userspace never sees -ERESTARTSYS.
    expect(got.transfer).toBeUndefined();
    expect(got.end).toBeLessThan(5_000_000_000);
  });
});

describe(`${GEM_SYNCOBJ_HANDLE_TO_FD_EXTRA_GET.name}: every opaque export leaks a reference`, () => {
  /** Export, import into a second file, close everything: returns what the ioctls gave. */
  async function cycle(toggles: string[]) {
    const got: Record<string, unknown> = {};
    const r = await runMachine(
      async (m) => {
        await withExtraDevice(m, syncDriver, async () => {
          await runProcess(m, "vk", async (p) => {
            const s = await Sync.open(p, "/dev/dri/renderD129");
            const s2 = await Sync.open(p, "/dev/dri/renderD129");
            const h = await s.create();
            const fd = await s.handleToFd(h);
            got.exported = fd >= 0;
            const h2 = await s2.fdToHandle(fd);
            got.imported = h2 > 0;
            await p.close(fd);
            got.destroy = await s.destroy(h);
            got.signal = await s2.signal(h2);
            got.poll = await s2.poll(h2);
            got.destroy2 = await s2.destroy(h2);
            await p.close(s2.fd);
            await p.close(s.fd);
            got.live = drmSyncobjCache.live;
          });
        });
      },
      { toggles },
    );
    return { r, got };
  }

  it("kmemleak finds the syncobj and its fence with the toggle on; clean with it off", async () => {
    const off = await cycle([]);
    expectClean(off.r);
    const ok = { exported: true, imported: true, destroy: 0, signal: 0, poll: 0, destroy2: 0 };
    expect(off.got).toEqual({ ...ok, live: 0 });
    const on = await cycle([GEM_SYNCOBJ_HANDLE_TO_FD_EXTRA_GET.name]);
    // Userspace sees nothing wrong: the same results, but the syncobj outlives everything.
    expect(on.got).toEqual({ ...ok, live: 1 });
    const leaks = splatsOf(on.r, "kmemleak");
    expect(leaks).toMatch(/drm_syncobj#/);
    expect(leaks).toMatch(/dma_fence#/);
    expect(on.r.splats.every((x) => x.kind === "kmemleak")).toBe(true);
  });
});

describe(`${GEM_SYNCOBJ_SHARED_FILE.name}: one struct file at every fd`, () => {
  it("two exports share the file's one reference: the second close frees it again (KASAN)", async () => {
    const got: Record<string, unknown> = {};
    const run = (toggles: string[]) =>
      runMachine(
        async (m) => {
          await withExtraDevice(m, syncDriver, async () => {
            await runProcess(m, "vk", async (p) => {
              const s = await Sync.open(p, "/dev/dri/renderD129");
              const h = await s.create();
              const a = await s.handleToFd(h);
              const b = await s.handleToFd(h);
              got.distinct = a >= 0 && b >= 0 && a !== b;
              got.closeA = await p.close(a);
              got.closeB = await p.close(b);
              got.destroy = await s.destroy(h);
              await p.close(s.fd);
            });
          });
        },
        { toggles },
      );
    const off = await run([]);
    expectClean(off);
    expect(got).toEqual({ distinct: true, closeA: 0, closeB: 0, destroy: 0 });
    const on = await run([GEM_SYNCOBJ_SHARED_FILE.name]);
    const kasan = on.splats.filter((x) => x.kind === "kasan");
    expect(kasan.length, splatText(on)).toBeGreaterThan(0);
    expect(kasan[0]!.message).toMatch(/use-after-free/);
    expect(kasan[0]!.object).toMatch(/^filp#/);
  });

  it("an export after the last close installs the freed file: its close is a use-after-free", async () => {
    const got: Record<string, unknown> = {};
    const run = (toggles: string[]) =>
      runMachine(
        async (m) => {
          await withExtraDevice(m, syncDriver, async () => {
            await runProcess(m, "vk", async (p) => {
              const s = await Sync.open(p, "/dev/dri/renderD129");
              const h = await s.create();
              const a = await s.handleToFd(h);
              got.closeA = await p.close(a);
              const b = await s.handleToFd(h);
              got.exportB = b >= 0;
              got.closeB = await p.close(b);
              got.destroy = await s.destroy(h);
              await p.close(s.fd);
            });
          });
        },
        { toggles },
      );
    const off = await run([]);
    expectClean(off);
    expect(got).toEqual({ closeA: 0, exportB: true, closeB: 0, destroy: 0 });
    const on = await run([GEM_SYNCOBJ_SHARED_FILE.name]);
    const kasan = on.splats.filter((x) => x.kind === "kasan");
    expect(kasan.length, splatText(on)).toBeGreaterThan(0);
    expect(kasan[0]!.message).toMatch(/use-after-free/);
    expect(kasan[0]!.object).toMatch(/^filp#/);
  });

  it("with the toggle on, a bad handle is still -EINVAL and changes nothing", async () => {
    const r = await runMachine(
      async (m) => {
        await withExtraDevice(m, syncDriver, async () => {
          await runProcess(m, "vk", async (p) => {
            const s = await Sync.open(p, "/dev/dri/renderD129");
            expect(await s.handleToFd(77)).toBe(-EINVAL);
            await p.close(s.fd);
          });
        });
      },
      { toggles: [GEM_SYNCOBJ_SHARED_FILE.name] },
    );
    expectClean(r);
  });
});
