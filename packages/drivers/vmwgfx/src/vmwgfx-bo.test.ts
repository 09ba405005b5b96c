/**
 * vmwgfx buffer objects against v6.12's vmwgfx_bo.c / vmwgfx_gem.c / vmwgfx_validation.c: the GEM
 * ->pin/->unpin of an exported buffer (vmw_gem_object_pin() -> vmw_bo_pin_reserved(), which pins
 * or unpins only when the pinned state changes), and SYNCCPU's CPU writers
 * (vmw_user_bo_synccpu_ioctl(): the count EXECBUF's validation refuses, the grab's -EBUSY).
 */

import { dmaBufAttach, dmaBufDetach, dmaBufGet, dmaBufPut } from "@primetime/dma-buf";
import { EBUSY, EXIT_KILLED, isErr, type Process } from "@primetime/kernel";
import { Simulation } from "@primetime/sim";
import { ttmBoUnreserve } from "@primetime/ttm";
import { describe, expect, it } from "vitest";
import {
  bootVmw,
  clientBlockedOnReservation,
  execbuf,
  expectClean,
  handleToFd,
  mobCreate,
  ok,
  openNode,
  runVmw,
  shutdownVmw,
  type VmwMob,
} from "./test-machine.js";
import { type VmwBo, vmwUserBoSynccpuIoctl, vmwUserBoUnref } from "./vmwgfx-bo.js";
import {
  DRM_IOCTL_VMW_SYNCCPU,
  drm_vmw_synccpu_grab,
  drm_vmw_synccpu_release,
  drm_vmw_synccpu_write,
} from "./vmwgfx-uapi.js";

function synccpu(p: Process, fd: number, op: number, handle: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_VMW_SYNCCPU, { op, flags: drm_vmw_synccpu_write, handle, pad64: 0 });
}

describe("vmw_gem_object_pin() / vmw_bo_pin_reserved()", () => {
  it("two attachments pin the buffer once, and the first detach unpins it (pin == !!pin_count returns)", async () => {
    const seen: number[] = [];
    expectClean(
      await runVmw(async (p, m) => {
        const fd = await openNode(p, m.vmw.card);
        const mob = ok<VmwMob>(await mobCreate(p, fd, 8192), "mob");
        const dfd = ok(await handleToFd(p, fd, mob.handle), "export");
        const dmabuf = await dmaBufGet(dfd);
        if (isErr(dmabuf)) throw new Error(`dma_buf_get = ${dmabuf}`);
        const bo = dmabuf.priv as VmwBo;
        const a = await dmaBufAttach(dmabuf, { name: "importer0" });
        const b = await dmaBufAttach(dmabuf, { name: "importer1" });
        if (isErr(a) || isErr(b)) throw new Error("dma_buf_attach failed");
        seen.push(bo.pinCount);
        await dmaBufDetach(dmabuf, a);
        seen.push(bo.pinCount);
        await dmaBufDetach(dmabuf, b);
        seen.push(bo.pinCount);
        await dmaBufPut(dmabuf);
        await p.close(dfd);
        await p.close(fd);
      }),
    );
    // v6.12: vmw_bo_pin_reserved(vbo, true) of a pinned buffer returns at once; the first
    // unpin unpins it, the second finds it unpinned and returns (no ttm_bo_unpin() WARN).
    expect(seen).toEqual([1, 0, 0]);
  });
});

describe("SYNCCPU's CPU writers (vmw_user_bo_synccpu_ioctl())", () => {
  it("a grab without allow_cs makes EXECBUF of the buffer -EBUSY until its release; a release without a grab too", async () => {
    const rets: number[] = [];
    expectClean(
      await runVmw(async (p, m) => {
        const fd = await openNode(p, m.vmw.render);
        const mob = ok<VmwMob>(await mobCreate(p, fd, 4096), "mob");
        const fill = `fill ${mob.handle} 3`;
        rets.push(await synccpu(p, fd, drm_vmw_synccpu_grab, mob.handle));
        rets.push(Math.min(await execbuf(p, fd, fill), 0)); // cpu_writers 1
        rets.push(await synccpu(p, fd, drm_vmw_synccpu_release, mob.handle));
        rets.push(Math.min(await execbuf(p, fd, fill), 0)); // cpu_writers 0
        rets.push(await synccpu(p, fd, drm_vmw_synccpu_release, mob.handle));
        rets.push(Math.min(await execbuf(p, fd, fill), 0)); // atomic_dec(): cpu_writers -1
        await p.close(fd);
      }),
    );
    expect(rets).toEqual([0, -EBUSY, 0, 0, 0, -EBUSY]);
  });

  it("a grab interrupted by a fatal signal in ttm_bo_reserve() answers -EBUSY (-ERESTARTSYS is folded into it)", async () => {
    const got: { ret?: number; code?: number } = {};
    const sim = new Simulation({ seed: 1 });
    const r = await sim.run(async () => {
      const m = await bootVmw(sim);
      const { p, bo } = await clientBlockedOnReservation(m, async (p, _fd, mob, file) => {
        const arg = {
          op: drm_vmw_synccpu_grab,
          flags: drm_vmw_synccpu_write,
          handle: mob.handle,
          pad64: 0,
        };
        got.ret = await vmwUserBoSynccpuIoctl(m.vmw.device, arg, file);
        await p.dup(0);
      });
      p.kill();
      got.code = await p.wait();
      await ttmBoUnreserve(bo);
      await vmwUserBoUnref(bo);
      await shutdownVmw(m);
    });
    expectClean(r);
    expect(got).toEqual({ ret: -EBUSY, code: EXIT_KILLED });
  });
});
