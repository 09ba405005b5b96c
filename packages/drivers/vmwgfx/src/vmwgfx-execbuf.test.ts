/**
 * EXECBUF on the simulated SVGA device: GPU work on buffers and surfaces, fences on their
 * reservations, buffers released while busy (TTM's delayed delete), and the race of a submission
 * against the surface's and buffer's last references.
 */

import { flushWorkqueue } from "@primetime/kernel";
import { Simulation } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { ttmBoUnreserve, ttmGlobBoCount } from "@primetime/ttm";
import { describe, expect, it } from "vitest";
import {
  bootVmw,
  clientBlockedOnReservation,
  execbuf,
  expectClean,
  handleClose,
  mobCreate,
  mobRead,
  mobWrite,
  ok,
  openNode,
  runVmw,
  shutdownVmw,
  splatText,
  surfaceCreate,
  surfaceUnref,
  synccpuRead,
} from "./test-machine.js";
import { vmwUserBoUnref } from "./vmwgfx-bo.js";
import { vmwPriv } from "./vmwgfx-drv.js";

describe("DRM_VMW_EXECBUF", () => {
  it("fills and copies through buffers and surfaces; SYNCCPU waits for the fence", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const fd = await openNode(p, m.vmw.render);
        const a = ok(await mobCreate(p, fd, 8192), "a");
        const b = ok(await mobCreate(p, fd, 8192), "b");
        const s = ok(await surfaceCreate(p, fd, 2048, a), "surface over a");
        const seq1 = await execbuf(p, fd, `fill ${s.handle} 171`);
        expect(seq1).toBeGreaterThan(0);
        const seq2 = await execbuf(p, fd, `copy ${a.handle} ${b.handle}; fill ${a.handle} 7`);
        expect(seq2).toBe(seq1 + 1);
        expect(await synccpuRead(p, fd, b.handle)).toBe(0);
        expect([...(await mobRead(p, fd, b, 4))]).toEqual([171, 171, 171, 171]);
        expect(await synccpuRead(p, fd, a.handle)).toBe(0);
        expect([...(await mobRead(p, fd, a, 2))]).toEqual([7, 7]);
        await surfaceUnref(p, fd, s.handle);
        await p.close(fd);
      }),
    );
  });

  it("a buffer closed while the GPU works on it is destroyed once the fence signals", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const fd = await openNode(p, m.vmw.render);
        const before = ttmGlobBoCount();
        const a = ok(await mobCreate(p, fd, 64 * 4096), "a");
        await mobWrite(p, fd, a, new Uint8Array([1]));
        expect(await execbuf(p, fd, `fill ${a.handle} 9`)).toBeGreaterThan(0);
        await handleClose(p, fd, a.handle);
        // busy: TTM keeps it for the delayed delete
        expect(ttmGlobBoCount()).toBe(before + 1);
        // a later submission on another buffer completes after it (the engine is in order)
        const b = ok(await mobCreate(p, fd, 4096), "b");
        expect(await execbuf(p, fd, `fill ${b.handle} 1`)).toBeGreaterThan(0);
        expect(await synccpuRead(p, fd, b.handle)).toBe(0);
        await flushWorkqueue(vmwPriv(m.vmw.device).bdev.wq!);
        expect(ttmGlobBoCount()).toBe(before + 1); // only b is left
        await handleClose(p, fd, b.handle);
        await p.close(fd);
      }),
    );
  });

  it("bad streams, versions and handles get the kernel's errno", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const fd = await openNode(p, m.vmw.render);
        const a = ok(await mobCreate(p, fd, 4096), "a");
        expect(await execbuf(p, fd, "")).toBe(-22);
        expect(await execbuf(p, fd, "draw 1")).toBe(-22);
        expect(await execbuf(p, fd, `fill ${a.handle} 300`)).toBe(-22);
        expect(await execbuf(p, fd, "fill 99 1")).toBe(-3); // -ESRCH
        expect(await execbuf(p, fd, "fill 60000 1")).toBe(-22); // no such surface
        // vmw_execbuf_ioctl(): version 0 or above DRM_VMW_EXECBUF_VERSION (2) is -EINVAL.
        const arg = { commands: `fill ${a.handle} 1`, version: 3, flags: 0, fence_seqno: 0 };
        const { DRM_IOCTL_VMW_EXECBUF } = await import("./vmwgfx-uapi.js");
        expect(await p.ioctl(fd, DRM_IOCTL_VMW_EXECBUF, arg)).toBe(-22);
        expect(await p.ioctl(fd, DRM_IOCTL_VMW_EXECBUF, { ...arg, version: 0 })).toBe(-22);
        await p.close(fd);
      }),
    );
  });

  /**
   * Thread a submits work on a surface; thread b drops the surface's handle and the buffer's
   * handle. Whatever the order, the submission sees a live surface or -EINVAL, and the buffer is
   * freed only after the GPU is done with it.
   */
  const execVsRelease = async (sim: import("@primetime/sim").Simulation) => {
    const m = await bootVmw(sim);
    const proc = m.kernel.spawnProcess("igt", async (p) => {
      const fd = await openNode(p, m.vmw.render);
      const mob = ok(await mobCreate(p, fd, 16 * 4096), "mob");
      const s = ok(await surfaceCreate(p, fd, 1024, mob), "surface");
      const ta = p.spawnThread("a", async (q) => {
        const r = await execbuf(q, fd, `fill ${s.handle} 5`);
        if (!(r > 0 || r === -22)) throw new Error(`execbuf: ${r}`);
      });
      const tb = p.spawnThread("b", async (q) => {
        await surfaceUnref(q, fd, s.handle);
        await handleClose(q, fd, mob.handle);
      });
      await ta.join();
      await tb.join();
      await p.close(fd);
    });
    const code = await proc.wait();
    if (code !== 0) sim.report("warn", `igt exited with ${code}`);
    await shutdownVmw(m);
  };

  it("a submission racing the last references of its surface and buffer is clean (pct, dfs)", async () => {
    const pct = await explore(execVsRelease, { strategy: "pct", schedules: 60, seed: 5 });
    expect(pct.firstFailure ? splatText(pct.firstFailure) : "").toBe("");
    const dfs = await explore(execVsRelease, {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 100,
    });
    expect(dfs.firstFailure ? splatText(dfs.firstFailure) : "").toBe("");
  });

  it("the validation list holds a TTM reference, and the lookup's GEM reference is gone before the reservation (vmw_translate_mob_ptr())", async () => {
    const counts: { gem?: number; ttm?: number; ret?: number } = {};
    const sim = new Simulation({ seed: 1 });
    const r = await sim.run(async () => {
      const m = await bootVmw(sim);
      // The test holds a GEM reference of its own (the lookup): the handle's plus it is 2.
      const { p, bo } = await clientBlockedOnReservation(m, async (p, fd, mob) => {
        counts.ret = Math.min(await execbuf(p, fd, `fill ${mob.handle} 9`), 0);
        await p.close(fd);
      });
      counts.gem = bo.refcount.read();
      counts.ttm = bo.kref.read();
      await ttmBoUnreserve(bo);
      expect(await p.wait()).toBe(0);
      await vmwUserBoUnref(bo);
      await shutdownVmw(m);
    });
    expectClean(r);
    // GEM: the handle and the test's lookup; TTM: the GEM side's and the validation list's.
    expect(counts).toEqual({ gem: 2, ttm: 2, ret: 0 });
  });
});
