/**
 * vmwgfx fence objects through the uapi (vmwgfx_fence.c, vmwgfx_execbuf.c of Linux 6.12.19):
 * EXECBUF's struct drm_vmw_fence_rep and its user fence handle, FENCE_WAIT / FENCE_SIGNALED /
 * FENCE_UNREF and their errnos, a fence_rep that faults, the exported sync_file and the imported
 * one, and FENCE_UNREF racing FENCE_WAIT on the same handle. Every run ends with a leak check.
 */

import { SYNC_IOC_FILE_INFO } from "@primetime/dma-buf";
import type { DrmFile } from "@primetime/gem";
import { EBADF, EBUSY, EFAULT, EINVAL, EPOLLIN, type Process } from "@primetime/kernel";
import type { Scenario } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import {
  bootVmw,
  execbufFence,
  expectClean,
  fenceRepPage,
  fenceSignaled,
  fenceUnref,
  fenceWait,
  handleToFd,
  mobCreate,
  mobRead,
  ok,
  openNode,
  readFenceRep,
  runVmw,
  shutdownVmw,
  splatText,
  surfaceCreate,
  surfaceUnref,
  type VmwMob,
} from "./test-machine.js";
import { VMWGFX_FENCE_DESTROY_ALWAYS_LOCKS } from "./toggles.js";
import { VMWGFX_NUM_MOB } from "./ttm-object.js";
import { type VmwFpriv, vmwPriv } from "./vmwgfx-drv.js";
import {
  DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD,
  DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD,
} from "./vmwgfx-uapi.js";

/** The ttm ref objects (open handles) of the file behind `fd`. */
function openHandles(p: Process, fd: number): number {
  const file = p.files.peek(fd)!.privateData as DrmFile;
  return (file.driverPriv as VmwFpriv).tfile!.refList.length;
}

/** A render fd with a mapped 64 KiB buffer (a fill takes the device a while). */
async function setup(p: Process, render: string): Promise<{ fd: number; mob: VmwMob }> {
  const fd = await openNode(p, render);
  return { fd, mob: ok<VmwMob>(await mobCreate(p, fd, 65536), "mob") };
}

describe("EXECBUF's fence_rep and the fence object ioctls", () => {
  it("EXECBUF writes a drm_vmw_fence_rep with a user fence handle; WAIT, SIGNALED, UNREF", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const page = await fenceRepPage(p);
        const { ret, arg } = await execbufFence(p, fd, `fill ${mob.handle} 9`, { fenceRep: page });
        expect(ret).toBe(0);
        const rep = await readFenceRep(p, page);
        // A ttm base object's handle (above the GEM range), the submission's seqno, no fd, no
        // error; the passed seqno the device had then (not yet this one).
        expect(rep.handle).toBeGreaterThan(VMWGFX_NUM_MOB);
        expect([rep.seqno, rep.fd, rep.error, rep.mask]).toEqual([arg.fence_seqno, -1, 0, 0]);
        expect(rep.passed_seqno).toBeLessThan(rep.seqno);
        expect(openHandles(p, fd)).toBe(1);
        // Not yet signalled: the device has not run the fill.
        const s1 = await fenceSignaled(p, fd, rep.handle);
        expect([s1.ret, s1.arg.signaled, s1.arg.signaled_flags]).toEqual([0, 0, 1]);
        // A wait with a timeout of 0 polls: -EBUSY, and the deadline is kept for a restart.
        const w0 = await fenceWait(p, fd, rep.handle, { timeoutUs: 0 });
        expect([w0.ret, w0.arg.cookie_valid]).toEqual([-EBUSY, 1]);
        const restarted = await fenceWait(p, fd, rep.handle, {
          arg: { ...w0.arg, timeout_us: 10_000_000 },
        });
        expect(restarted.ret).toBe(-EBUSY); // the first call's deadline stands
        // A fresh wait sleeps until the device signals the fence.
        const w = await fenceWait(p, fd, rep.handle);
        expect(w.ret).toBe(0);
        expect([...(await mobRead(p, fd, mob, 4))]).toEqual([9, 9, 9, 9]);
        const s2 = await fenceSignaled(p, fd, rep.handle);
        expect([s2.ret, s2.arg.signaled]).toEqual([0, 1]);
        expect(s2.arg.passed_seqno).toBeLessThanOrEqual(rep.seqno); // last_read_seqno
        // UNREF drops the file's open of the handle; a second UNREF and any use are -EINVAL.
        expect(await fenceUnref(p, fd, rep.handle)).toBe(0);
        expect(openHandles(p, fd)).toBe(0);
        expect(await fenceUnref(p, fd, rep.handle)).toBe(-EINVAL);
        expect((await fenceWait(p, fd, rep.handle)).ret).toBe(-EINVAL);
        expect((await fenceSignaled(p, fd, rep.handle)).ret).toBe(-EINVAL);
        await p.close(fd);
      }),
    );
  });

  it("DRM_VMW_WAIT_OPTION_UNREF drops the handle after a successful wait only", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const page = await fenceRepPage(p);
        expect((await execbufFence(p, fd, `fill ${mob.handle} 1`, { fenceRep: page })).ret).toBe(0);
        const { handle } = await readFenceRep(p, page);
        // A polling wait that fails keeps the handle.
        expect((await fenceWait(p, fd, handle, { timeoutUs: 0, unref: true })).ret).toBe(-EBUSY);
        expect(openHandles(p, fd)).toBe(1);
        expect((await fenceWait(p, fd, handle, { unref: true })).ret).toBe(0);
        expect(openHandles(p, fd)).toBe(0);
        expect(await fenceUnref(p, fd, handle)).toBe(-EINVAL);
        await p.close(fd);
      }),
    );
  });

  it("another file's fence handle, a surface handle and an unknown one: -EINVAL (the lookup)", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const other = await openNode(p, m.vmw.render);
        const page = await fenceRepPage(p);
        expect((await execbufFence(p, fd, `fill ${mob.handle} 1`, { fenceRep: page })).ret).toBe(0);
        const { handle } = await readFenceRep(p, page);
        // Fence objects are not shareable: ttm_base_object_lookup() finds no ref object of the
        // other file (-EINVAL), whatever the handle's owner.
        expect((await fenceWait(p, other, handle)).ret).toBe(-EINVAL);
        expect((await fenceSignaled(p, other, handle)).ret).toBe(-EINVAL);
        expect(await fenceUnref(p, other, handle)).toBe(-EINVAL);
        expect((await fenceWait(p, fd, 0x7fffffff)).ret).toBe(-EINVAL);
        // A surface handle is not a fence (the release function check): -EINVAL for WAIT and
        // SIGNALED; FENCE_UNREF checks no type and drops the file's open of the surface.
        const s = ok(await surfaceCreate(p, fd, 1024, null), "surface");
        expect((await fenceWait(p, fd, s.handle)).ret).toBe(-EINVAL);
        expect((await fenceSignaled(p, fd, s.handle)).ret).toBe(-EINVAL);
        expect(await fenceUnref(p, fd, s.handle)).toBe(0);
        expect(await surfaceUnref(p, fd, s.handle)).toBe(-EINVAL);
        // The fence handle is still the creator's.
        expect((await fenceWait(p, fd, handle)).ret).toBe(0);
        await p.close(other);
        await p.close(fd); // the file's close releases the fence handle
      }),
    );
  });

  it("a fence_rep that faults: -EFAULT after the submission ran, the handle dropped, the fence waited for", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const ro = await fenceRepPage(p, true);
        const { ret, arg } = await execbufFence(p, fd, `fill ${mob.handle} 4`, { fenceRep: ro });
        expect(ret).toBe(-EFAULT);
        // vmw_execbuf_copy_fence_user(): ttm_ref_object_base_unref() and a wait for the fence.
        expect(openHandles(p, fd)).toBe(0);
        expect(vmwPriv(m.vmw.device).gpu.lastCompletedSeqno).toBeGreaterThanOrEqual(
          arg.fence_seqno,
        );
        expect(await readFenceRep(p, ro)).toMatchObject({ handle: 0, seqno: 0, fd: 0 }); // untouched
        expect([...(await mobRead(p, fd, mob, 2))]).toEqual([4, 4]);
        await p.close(fd);
      }),
    );
  });
});

describe("EXECBUF's fence fds", () => {
  it("EXPORT_FENCE_FD: a sync_file fd in fence_rep that polls, waits and reports the fence", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const page = await fenceRepPage(p);
        const flags = DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD;
        expect(
          (await execbufFence(p, fd, `fill ${mob.handle} 3`, { fenceRep: page, flags })).ret,
        ).toBe(0);
        const rep = await readFenceRep(p, page);
        expect(rep.fd).toBeGreaterThanOrEqual(0);
        const info = { name: "", status: -1, num_fences: 0, flags: 0, pad: 0, sync_fence_info: 0 };
        expect(await p.ioctl(rep.fd, SYNC_IOC_FILE_INFO, info)).toBe(0);
        expect([info.name, info.status]).toEqual(["vmwgfx", 0]);
        const pfd = [{ fd: rep.fd, events: EPOLLIN, revents: 0 }];
        expect(await p.poll(pfd, 0)).toBe(0); // not signalled yet
        expect(await p.poll(pfd, -1)).toBe(1); // sleeps until the device signals
        expect(pfd[0]!.revents & EPOLLIN).toBe(EPOLLIN);
        expect(await p.ioctl(rep.fd, SYNC_IOC_FILE_INFO, info)).toBe(0);
        expect(info.status).toBe(1);
        expect([...(await mobRead(p, fd, mob, 2))]).toEqual([3, 3]);
        // Closing the fd after the signal, and the handle: nothing left.
        expect(await p.close(rep.fd)).toBe(0);
        expect(await fenceUnref(p, fd, rep.handle)).toBe(0);
        await p.close(fd);
      }),
    );
  });

  it("the exported fd closed before the fence signals; the fence still waits and signals", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const page = await fenceRepPage(p);
        const flags = DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD;
        expect(
          (await execbufFence(p, fd, `fill ${mob.handle} 5`, { fenceRep: page, flags })).ret,
        ).toBe(0);
        const rep = await readFenceRep(p, page);
        const pfd = [{ fd: rep.fd, events: EPOLLIN, revents: 0 }];
        expect(await p.poll(pfd, 0)).toBe(0); // a poll callback queued on the fence
        expect(await p.close(rep.fd)).toBe(0); // sync_file_release() removes it
        expect((await fenceSignaled(p, fd, rep.handle)).arg.signaled).toBe(0);
        expect((await fenceWait(p, fd, rep.handle, { unref: true })).ret).toBe(0);
        expect([...(await mobRead(p, fd, mob, 2))]).toEqual([5, 5]);
        await p.close(fd);
      }),
    );
  });

  it("EXPORT_FENCE_FD with a fence_rep that faults: -EFAULT, the reserved fd given back, no stale entry", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const ro = await fenceRepPage(p, true);
        const probe = await p.dup(fd); // the lowest free fd, which EXECBUF reserves
        expect(await p.close(probe)).toBe(0);
        const flags = DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD;
        const { ret } = await execbufFence(p, fd, `fill ${mob.handle} 6`, { fenceRep: ro, flags });
        expect(ret).toBe(-EFAULT);
        expect(openHandles(p, fd)).toBe(0);
        expect(await p.close(probe)).toBe(-EBADF); // nothing was installed there
        expect(await p.dup(fd)).toBe(probe); // and the fd is free again
        await p.close(probe);
        await p.close(fd);
      }),
    );
  });

  it("EXPORT_FENCE_FD without a fence_rep: the sync_file is installed at the reserved fd", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const probe = await p.dup(fd);
        expect(await p.close(probe)).toBe(0);
        const flags = DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD;
        expect((await execbufFence(p, fd, `fill ${mob.handle} 2`, { flags })).ret).toBe(0);
        expect(openHandles(p, fd)).toBe(0); // a kernel fence object: no handle
        const pfd = [{ fd: probe, events: EPOLLIN, revents: 0 }];
        expect(await p.poll(pfd, -1)).toBe(1);
        expect(await p.close(probe)).toBe(0);
        await p.close(fd);
      }),
    );
  });

  it("IMPORT_FENCE_FD: -EINVAL for an fd that is not a sync_file; a sync_file's fence is waited for first", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const dst = ok<VmwMob>(await mobCreate(p, fd, 65536), "mob");
        const flags = DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD;
        for (const bad of [-1, 999, fd]) {
          const r = await execbufFence(p, fd, `fill ${mob.handle} 1`, {
            flags,
            importedFenceFd: bad,
          });
          expect(r.ret).toBe(-EINVAL);
        }
        const page = await fenceRepPage(p);
        const first = await execbufFence(p, fd, `fill ${mob.handle} 8`, {
          fenceRep: page,
          flags: DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD,
        });
        expect(first.ret).toBe(0);
        const rep = await readFenceRep(p, page);
        const second = await execbufFence(p, fd, `copy ${mob.handle} ${dst.handle}`, {
          flags,
          importedFenceFd: rep.fd,
        });
        expect(second.ret).toBe(0);
        // The import waited: the first submission had completed when the second was submitted.
        expect((await fenceSignaled(p, fd, rep.handle)).arg.signaled).toBe(1);
        expect(await p.close(rep.fd)).toBe(0);
        expect(await fenceUnref(p, fd, rep.handle)).toBe(0);
        const pg = await fenceRepPage(p);
        expect((await execbufFence(p, fd, `fill ${mob.handle} 0`, { fenceRep: pg })).ret).toBe(0);
        const last = await readFenceRep(p, pg);
        expect((await fenceWait(p, fd, last.handle, { unref: true })).ret).toBe(0);
        expect([...(await mobRead(p, fd, dst, 2))]).toEqual([8, 8]);
        await p.close(fd);
      }),
    );
  });
});

/**
 * FENCE_UNREF racing FENCE_WAIT (with DRM_VMW_WAIT_OPTION_UNREF) on one handle: exactly one of
 * them drops the file's open of it, the other gets -EINVAL (its lookup or its unref); the fence
 * object is freed once the last of the base, the reservation and the wait's references is gone.
 */
const unrefVsWait: Scenario = async (sim) => {
  const m = await bootVmw(sim);
  const proc = m.kernel.spawnProcess("igt", async (p) => {
    const { fd, mob } = await setup(p, m.vmw.render);
    const page = await fenceRepPage(p);
    const r = await execbufFence(p, fd, `fill ${mob.handle} 1`, { fenceRep: page });
    if (r.ret !== 0) throw new Error(`execbuf ${r.ret}`);
    const { handle } = await readFenceRep(p, page);
    let a = 1;
    let b = 1;
    const ta = p.spawnThread("wait", async (q) => {
      a = (await fenceWait(q, fd, handle, { unref: true })).ret;
    });
    const tb = p.spawnThread("unref", async (q) => {
      b = await fenceUnref(q, fd, handle);
    });
    await ta.join();
    await tb.join();
    const rets = [a, b].sort();
    if (rets[0] !== -EINVAL || rets[1] !== 0) throw new Error(`wait ${a}, unref ${b}`);
    if (openHandles(p, fd) !== 0) throw new Error("the handle is still open");
    await p.close(fd);
  });
  const code = await proc.wait();
  if (code !== 0) sim.report("warn", `igt exited with ${code}`);
  await shutdownVmw(m);
};

describe("FENCE_UNREF racing FENCE_WAIT on the same handle", () => {
  it("is clean over 300 PCT and 100 random schedules (no KASAN, no leak at quiesce)", async () => {
    for (const [strategy, schedules] of [
      ["pct", 300],
      ["random", 100],
    ] as const) {
      const res = await explore(unrefVsWait, {
        strategy,
        depth: 3,
        schedules,
        seed: 5,
        scenario: "fence-unref-vs-wait",
      });
      expect(res.firstFailure ? splatText(res.firstFailure) : "").toBe("");
      expect(res.schedules).toBe(schedules);
    }
  });
});

/**
 * The fence's release from inside its signal (e58337100721, "drm/vmwgfx: Fix a deadlock in dma
 * buf fence polling"): a poll of a buffer's dma-buf queues dma_buf_poll_cb() on the buffer's
 * fence with a reference; the fence's handle is unreferenced and a second submission replaces the
 * fence in the reservation object, so the callback's reference is the last when
 * __vmw_fences_update() signals the fence under fman->lock, and the release runs there.
 */
async function pollHoldsLastFenceRef(p: Process, m: { vmw: { render: string; device: unknown } }) {
  const { fd, mob } = await setup(p, m.vmw.render);
  const page = await fenceRepPage(p);
  expect((await execbufFence(p, fd, `fill ${mob.handle} 1`, { fenceRep: page })).ret).toBe(0);
  const first = (await readFenceRep(p, page)).handle;
  const dmabuf = await handleToFd(p, fd, mob.handle);
  expect(dmabuf).toBeGreaterThanOrEqual(0);
  const pfd = [{ fd: dmabuf, events: EPOLLIN, revents: 0 }];
  expect(await p.poll(pfd, 0)).toBe(0); // dma_buf_poll() queues its callback on the fence
  const fman = vmwPriv(m.vmw.device as never).fman;
  const fence = fman.fenceList[0]!;
  expect(await fenceUnref(p, fd, first)).toBe(0); // the base object's reference
  expect((await execbufFence(p, fd, `fill ${mob.handle} 2`, { fenceRep: page })).ret).toBe(0);
  // Replaced in the reservation object: the poll callback's reference is the only one left.
  expect(fence.refcount.read()).toBe(1);
  expect(fman.fenceList).toContain(fence); // not signalled yet
  expect(await p.poll(pfd, -1)).toBe(1); // woken by the callback, then the writers are done
  expect(fman.fenceList).not.toContain(fence);
  const second = (await readFenceRep(p, page)).handle;
  expect((await fenceWait(p, fd, second, { unref: true })).ret).toBe(0);
  expect([...(await mobRead(p, fd, mob, 2))]).toEqual([2, 2]);
  // Released by the callback's put (the dma-buf is still open), freed after a grace period.
  expect(fence.container!.freed).toBe(true);
  await p.close(dmabuf);
  await p.close(fd);
}

describe("a dma-buf poller's callback drops a vmw fence's last reference", () => {
  it("the release inside the signal finds the fence unlisted and takes no lock: clean", async () => {
    expectClean(await runVmw((p, m) => pollHoldsLastFenceRef(p, m)));
  });

  it("with vmwgfx.fence-destroy-always-locks the release takes fman->lock again: recursive locking, a deadlock", async () => {
    const r = await runVmw(
      async (p, m) => {
        await pollHoldsLastFenceRef(p, m);
      },
      { toggles: [VMWGFX_FENCE_DESTROY_ALWAYS_LOCKS.name] },
    );
    expect(r.outcome).toBe("deadlock");
    expect(r.splats[0]!.kind).toBe("lockdep");
    expect(splatText(r)).toMatch(
      /WARNING: possible recursive locking detected[\s\S]*irq\/svga\d+\/\d+ is trying to acquire lock:\n \(vmw_fence_manager\.lock\)/,
    );
    expect(splatText(r)).toMatch(
      /deadlock: .*waits on spinlock vmw_fence_manager\.lock held by irq/,
    );
  });
});
