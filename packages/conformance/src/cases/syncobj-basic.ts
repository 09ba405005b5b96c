/**
 * IGT tests/syncobj_basic.c and the binary part of syncobj_wait.c: DRM sync objects. IGT skips
 * them (igt_require(has_syncobj())) on a driver whose DRM_CAP_SYNCOBJ is 0; here that driver is
 * checked to refuse every syncobj ioctl with EOPNOTSUPP (drm_core_check_feature(DRIVER_SYNCOBJ)),
 * so the cap and the ioctls agree on every driver, and a driver with the cap runs the subtests.
 */

import {
  close,
  type DrmFd,
  swSyncCreateFence,
  swSyncCreateTimeline,
  swSyncInc,
} from "@primetime/libdrm";
import { now, sleep } from "@primetime/sim";
import {
  DRM_CAP_SYNCOBJ,
  DRM_CAP_SYNCOBJ_TIMELINE,
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_QUERY,
  DRM_IOCTL_SYNCOBJ_RESET,
  DRM_IOCTL_SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
  DRM_IOCTL_SYNCOBJ_TRANSFER,
  DRM_IOCTL_SYNCOBJ_WAIT,
  DRM_SYNCOBJ_CREATE_SIGNALED,
  DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE,
  DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
  type DrmSyncobjArray,
  type DrmSyncobjHandle,
  type DrmSyncobjWait,
} from "@primetime/uapi";
import { type CaseContext, type CaseSpec, SEQUENTIAL_DEFAULTS } from "../harness.js";

const group = "syncobj_basic";

/** A page of anonymous memory for the handle arrays (IGT passes a pointer to a stack array). */
const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
const PROT_RW = 0x1 | 0x2;

/** The syncobj ioctls on one fd, raw (they throw a SysError as libdrm's drmIoctl() does). */
class Syncobj {
  private constructor(
    readonly t: CaseContext,
    readonly fd: DrmFd,
    readonly arr: number,
  ) {}

  static async on(t: CaseContext, fd: DrmFd): Promise<Syncobj> {
    const arr = await t.proc.mmap(0, 4096, PROT_RW, MAP_PRIVATE_ANONYMOUS, -1, 0);
    t.check(arr > 0, `mmap of the handle array failed: ${arr}`);
    return new Syncobj(t, fd, arr);
  }

  async create(flags = 0): Promise<number> {
    const a = { handle: 0, flags };
    await this.fd.ioctl(DRM_IOCTL_SYNCOBJ_CREATE, a, "DRM_IOCTL_SYNCOBJ_CREATE");
    return a.handle;
  }

  async destroy(handle: number, pad = 0): Promise<void> {
    await this.fd.ioctl(DRM_IOCTL_SYNCOBJ_DESTROY, { handle, pad }, "DRM_IOCTL_SYNCOBJ_DESTROY");
  }

  async handleToFd(handle: number, flags = 0, pad = 0): Promise<number> {
    const a: DrmSyncobjHandle = { handle, flags, fd: -1, pad, point: 0 };
    await this.fd.ioctl(DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, a, "DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD");
    return a.fd;
  }

  async fdToHandle(fd: number, flags = 0, pad = 0, handle = 0): Promise<number> {
    const a: DrmSyncobjHandle = { handle, flags, fd, pad, point: 0 };
    await this.fd.ioctl(DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, a, "DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE");
    return a.handle;
  }

  private async handles(hs: readonly number[]): Promise<number> {
    const b = new Uint8Array(Math.max(4, hs.length * 4));
    const v = new DataView(b.buffer);
    for (const [i, h] of hs.entries()) v.setUint32(i * 4, h, true);
    const r = await this.t.proc.writeMemory(this.arr, b);
    this.t.check(r >= 0, `write of the handle array failed: ${r}`);
    return this.arr;
  }

  async wait(hs: readonly number[], flags: number, timeoutNsec = 0): Promise<number> {
    const a: DrmSyncobjWait = {
      handles: await this.handles(hs),
      timeout_nsec: timeoutNsec,
      count_handles: hs.length,
      flags,
      first_signaled: 0,
      pad: 0,
      deadline_nsec: 0,
    };
    await this.fd.ioctl(DRM_IOCTL_SYNCOBJ_WAIT, a, "DRM_IOCTL_SYNCOBJ_WAIT");
    return a.first_signaled;
  }

  async array(cmd: number, name: string, hs: readonly number[], pad = 0): Promise<void> {
    const a: DrmSyncobjArray = { handles: await this.handles(hs), count_handles: hs.length, pad };
    await this.fd.ioctl(cmd, a, name);
  }
}

/** A handle no file has (IGT's 0xdeadbeef, within the u32 range). */
const BAD = 0xdeadbeef;

/**
 * basic: GET_CAP(SYNCOBJ) and the ioctls agree. Without the cap, every syncobj ioctl is
 * EOPNOTSUPP. With it: IGT's bad-* subtests (bad handles EINVAL or ENOENT, unknown flags and
 * non-zero pads EINVAL, a non-syncobj fd EINVAL), test-valid-cycle (a handle exported, imported
 * by a second file, both destroyed), create-signaled, and the binary waits of syncobj_wait
 * (poll of an unsignalled syncobj ETIME, of a signalled one 0, RESET, SIGNAL, EXPORT_SYNC_FILE
 * without a fence EINVAL). Nothing may leak.
 */
const basic: CaseSpec = {
  name: `${group}/basic`,
  group,
  race: false,
  description:
    "DRM_CAP_SYNCOBJ and the syncobj ioctls agree; with the cap: IGT's bad-*, valid-cycle, create-signaled, waits",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const s = await Syncobj.on(t, fd);
    if ((await fd.getCap(DRM_CAP_SYNCOBJ)) === 0) {
      // igt_require(has_syncobj(fd)) skips here; the kernel refuses every syncobj ioctl.
      const E = "EOPNOTSUPP";
      await t.expectErrno(s.create(), E, "SYNCOBJ_CREATE without DRIVER_SYNCOBJ");
      await t.expectErrno(s.destroy(1), E, "SYNCOBJ_DESTROY");
      await t.expectErrno(s.handleToFd(1), E, "SYNCOBJ_HANDLE_TO_FD");
      await t.expectErrno(s.fdToHandle(0), E, "SYNCOBJ_FD_TO_HANDLE");
      await t.expectErrno(s.wait([1], 0), E, "SYNCOBJ_WAIT");
      await t.expectErrno(s.array(DRM_IOCTL_SYNCOBJ_RESET, "RESET", [1]), E, "SYNCOBJ_RESET");
      await t.expectErrno(s.array(DRM_IOCTL_SYNCOBJ_SIGNAL, "SIGNAL", [1]), E, "SYNCOBJ_SIGNAL");
      // Timeline syncobjs need DRIVER_SYNCOBJ_TIMELINE as well (IGT's syncobj_timeline skips).
      t.check(
        (await fd.getCap(DRM_CAP_SYNCOBJ_TIMELINE)) === 0,
        "DRM_CAP_SYNCOBJ_TIMELINE set without DRM_CAP_SYNCOBJ",
      );
      const arr = { handles: 0, points: 0, count_handles: 1, flags: 0 };
      for (const [cmd, name, arg] of [
        [
          DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
          "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT",
          { ...arr, timeout_nsec: 0 },
        ],
        [DRM_IOCTL_SYNCOBJ_QUERY, "DRM_IOCTL_SYNCOBJ_QUERY", arr],
        [DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, "DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL", arr],
        [
          DRM_IOCTL_SYNCOBJ_TRANSFER,
          "DRM_IOCTL_SYNCOBJ_TRANSFER",
          { src_handle: 1, dst_handle: 1 },
        ],
      ] as const)
        await t.expectErrno(fd.ioctl(cmd, { ...arg }, name), E, name);
      await fd.close();
      return;
    }
    // bad-destroy, bad-handle-to-fd, bad-fd-to-handle, illegal-fd-to-handle
    await t.expectErrno(s.destroy(BAD), "EINVAL", "bad-destroy");
    await t.expectErrno(s.handleToFd(BAD), "EINVAL", "bad-handle-to-fd");
    await t.expectErrno(s.fdToHandle(-1), "EINVAL", "bad-fd-to-handle");
    await t.expectErrno(s.fdToHandle(fd.fd), "EINVAL", "illegal-fd-to-handle");
    // bad-create-flags, bad-flags-*, bad-pad-*
    await t.expectErrno(s.create(0xff), "EINVAL", "bad-create-flags");
    const h = await s.create();
    await t.expectErrno(s.handleToFd(h, 0xff), "EINVAL", "bad-flags-handle-to-fd");
    await t.expectErrno(s.fdToHandle(0, 0xff), "EINVAL", "bad-flags-fd-to-handle");
    await t.expectErrno(s.destroy(h, 1), "EINVAL", "bad-pad-destroy");
    await t.expectErrno(s.handleToFd(h, 0, 1), "EINVAL", "bad-pad-handle-to-fd");
    await t.expectErrno(s.fdToHandle(0, 0, 1), "EINVAL", "bad-pad-fd-to-handle");
    // syncobj_wait: no fence is EINVAL; an unsignalled-free poll; EXPORT_SYNC_FILE needs a fence
    await t.expectErrno(s.wait([h], 0), "EINVAL", "wait on a syncobj without a fence");
    await t.expectErrno(s.wait([h, BAD], 0), "ENOENT", "wait with a bad handle");
    await t.expectErrno(
      s.handleToFd(h, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE),
      "EINVAL",
      "EXPORT_SYNC_FILE of a syncobj without a fence",
    );
    // create-signaled, signal, reset
    const sig = await s.create(DRM_SYNCOBJ_CREATE_SIGNALED);
    // Every syncobj needs a fence, even when another one has signalled (no WAIT_FOR_SUBMIT).
    await t.expectErrno(s.wait([h, sig], 0), "EINVAL", "wait on a fenceless and a signalled one");
    const first = await s.wait([sig], 0);
    t.check(first === 0, `first_signaled ${first}, expected 0`);
    await s.array(DRM_IOCTL_SYNCOBJ_SIGNAL, "DRM_IOCTL_SYNCOBJ_SIGNAL", [h]);
    await s.wait([h, sig], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL);
    await s.array(DRM_IOCTL_SYNCOBJ_RESET, "DRM_IOCTL_SYNCOBJ_RESET", [sig]);
    await t.expectErrno(s.wait([sig], 0), "EINVAL", "wait on a reset syncobj");
    const sf = await s.handleToFd(h, DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE);
    await close(t.proc, sf);
    // test-valid-cycle: export, import in a second file, destroy both
    const fd2 = await t.open();
    const s2 = await Syncobj.on(t, fd2);
    const shared = await s.handleToFd(h);
    const h2 = await s2.fdToHandle(shared);
    await close(t.proc, shared);
    await s.destroy(h);
    await s2.wait([h2], 0); // the fence outlived the first handle with the syncobj
    await s2.destroy(h2);
    // A sw_sync fence imported as a sync_file: unsignalled (poll ETIME), then signalled by a
    // thread while the main thread waits with a 1 s timeout (syncobj_wait's wait-*-snapshot).
    const timeline = await swSyncCreateTimeline(t.proc);
    const fence = await swSyncCreateFence(t.proc, timeline, 1);
    await s.fdToHandle(fence, DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE, 0, sig);
    await close(t.proc, fence);
    await t.expectErrno(s.wait([sig], 0), "ETIME", "poll of an unsignalled sw_sync fence");
    const signaller = t.thread("signaller", async () => {
      await sleep(1_000_000);
      await swSyncInc(t.proc, timeline, 1);
    });
    await s.wait([sig], DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, now() + 1_000_000_000);
    await signaller.join();
    await close(t.proc, timeline);
    await s.destroy(sig);
    await t.expectErrno(s.destroy(sig), "EINVAL", "destroy twice");
    await fd2.close();
    await fd.close();
  },
};

export const SYNCOBJ_BASIC: readonly CaseSpec[] = [basic];
