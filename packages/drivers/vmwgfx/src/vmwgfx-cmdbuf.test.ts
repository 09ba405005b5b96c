/**
 * What a faulting or stalled SVGA device does to vmwgfx's fences (Linux 6.12.19: vmwgfx_cmdbuf.c,
 * vmwgfx_irq.c, vmwgfx_fence.c). vmwgfx has no hangcheck and never resets the device:
 *
 * - a command error (SVGA_CB_STATUS_COMMAND_ERROR) is taken by the command-buffer manager
 *   (vmw_cmdbuf_ctx_process(): WARN_ONCE "Command buffer error.", the buffer on man->error, the
 *   work queued), whose work (vmw_cmdbuf_work_func()) restarts the buffer past the faulty
 *   command: the rest of the batch runs, its fence is written, waiters wake without an error;
 * - a device that stops processing for a while leaves the fences unsignalled: FENCE_WAIT's timeout
 *   is -EBUSY (vmw_fence_obj_wait()), a poll of the exported sync_file times out; nothing signals a
 *   fence with an error, and once the device goes on the fence signals as usual.
 */

import {
  DmaFenceCb,
  dmaFenceAddCallback,
  dmaFenceGet,
  dmaFencePut,
  SYNC_IOC_FILE_INFO,
} from "@primetime/dma-buf";
import { EBUSY, ENOMEM, EPOLLIN, type Process, setFailslab } from "@primetime/kernel";
import { now } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  execbuf,
  execbufFence,
  expectClean,
  fenceEvent,
  fenceRepPage,
  fenceSignaled,
  fenceWait,
  mobCreate,
  mobRead,
  ok,
  openNode,
  readFenceRep,
  runVmw,
  synccpuRead,
  type VmwMob,
} from "./test-machine.js";
import { vmwCmdbufWarnings } from "./vmwgfx-cmdbuf.js";
import { vmwDrmErrors, vmwPriv } from "./vmwgfx-drv.js";
import { VMW_FENCE_WAIT_TIMEOUT } from "./vmwgfx-fence.js";
import { DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD } from "./vmwgfx-uapi.js";

/** SYNC_IOC_FILE_INFO of a sync_file fd: its driver name and status. */
async function syncFileStatus(p: Process, fd: number): Promise<[string, number]> {
  const info = { name: "", status: -1, num_fences: 0, flags: 0, pad: 0, sync_fence_info: 0 };
  expect(await p.ioctl(fd, SYNC_IOC_FILE_INFO, info)).toBe(0);
  return [info.name, info.status];
}

/** Two mapped 16 KiB buffers on a render fd. */
async function twoBuffers(p: Process, render: string): Promise<[number, VmwMob, VmwMob]> {
  const fd = await openNode(p, render);
  const a = ok<VmwMob>(await mobCreate(p, fd, 16384), "mob a");
  const b = ok<VmwMob>(await mobCreate(p, fd, 16384), "mob b");
  return [fd, a, b];
}

describe("a command error: the command-buffer manager restarts past the faulty command", () => {
  it("the rest of the batch runs and its fence signals without an error; FENCE_WAIT is 0, the sync_file reads signalled", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const vmw = vmwPriv(m.vmw.device);
        const [fd, a, b] = await twoBuffers(p, m.vmw.render);
        const page = await fenceRepPage(p);
        const flags = DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD;
        vmw.gpu.injectCommandError();
        const cmds = `fill ${a.handle} 5; fill ${b.handle} 6`;
        expect((await execbufFence(p, fd, cmds, { fenceRep: page, flags })).ret).toBe(0);
        const rep = await readFenceRep(p, page);
        expect((await fenceWait(p, fd, rep.handle)).ret).toBe(0);
        expect(await syncFileStatus(p, rep.fd)).toEqual(["vmwgfx", 1]);
        // The faulty command (the first fill) wrote nothing; the one after it ran.
        expect([...(await mobRead(p, fd, a, 2))]).toEqual([0, 0]);
        expect([...(await mobRead(p, fd, b, 2))]).toEqual([6, 6]);
        expect(vmw.gpu.commandErrors.map((e) => [e.command, e.op])).toEqual([[0, "fill"]]);
        expect([vmw.gpu.commandError, vmw.gpu.resets.length, vmw.fences.resets]).toEqual([
          null,
          0,
          0,
        ]);
        expect(vmwCmdbufWarnings(vmw)).toEqual([
          "WARNING: vmw_cmdbuf_ctx_process: Command buffer error.",
        ]);
        expect(vmw.cman.restarts).toBe(1);
        await p.close(rep.fd);
        await p.close(fd);
      }),
    );
  });

  it("a second command error is restarted past as well, and WARN_ONCE warns once", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const vmw = vmwPriv(m.vmw.device);
        const [fd, a, b] = await twoBuffers(p, m.vmw.render);
        vmw.gpu.injectCommandError();
        const s1 = await execbuf(p, fd, `fill ${a.handle} 1`);
        expect(s1).toBeGreaterThan(0);
        // A submission without a fence object: its buffers are fenced with the device fence,
        // which SYNCCPU waits for.
        expect(await synccpuRead(p, fd, a.handle)).toBe(0);
        expect(await mobRead(p, fd, a, 1)).toEqual(new Uint8Array([0]));
        vmw.gpu.injectCommandError();
        const s2 = await execbuf(p, fd, `fill ${b.handle} 2; fill ${a.handle} 3`);
        expect(s2).toBe(s1 + 1);
        expect(await synccpuRead(p, fd, a.handle)).toBe(0);
        expect([...(await mobRead(p, fd, a, 1)), ...(await mobRead(p, fd, b, 1))]).toEqual([3, 0]);
        expect(vmw.gpu.commandErrors.map((e) => e.seqno)).toEqual([s1, s2]);
        expect(vmw.cman.restarts).toBe(2);
        expect(vmwCmdbufWarnings(vmw)).toHaveLength(1);
        await p.close(fd);
      }),
    );
  });
});

describe("a stalled device: no hangcheck, no reset", () => {
  it("FENCE_WAIT times out with -EBUSY, poll times out; once the device goes on, the fence signals without an error", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const vmw = vmwPriv(m.vmw.device);
        const [fd, a] = await twoBuffers(p, m.vmw.render);
        const page = await fenceRepPage(p);
        const flags = DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD;
        // Stalled for 20 ms: ten times the simgpu fence driver's default hangcheck period.
        vmw.gpu.injectHang({ forNs: 20_000_000 });
        expect(
          (await execbufFence(p, fd, `fill ${a.handle} 9`, { fenceRep: page, flags })).ret,
        ).toBe(0);
        const rep = await readFenceRep(p, page);
        const w = await fenceWait(p, fd, rep.handle, { timeoutUs: 5000 });
        expect(w.ret).toBe(-EBUSY);
        expect((await fenceSignaled(p, fd, rep.handle)).arg.signaled).toBe(0);
        const pfd = [{ fd: rep.fd, events: EPOLLIN, revents: 0 }];
        expect(await p.poll(pfd, 5_000_000)).toBe(0);
        expect(await syncFileStatus(p, rep.fd)).toEqual(["vmwgfx", 0]);
        expect([vmw.gpu.resets.length, vmw.fences.resets, vmw.gpu.hung]).toEqual([0, 0, true]);
        // A fresh FENCE_WAIT (a new deadline) sleeps until the device goes on.
        expect((await fenceWait(p, fd, rep.handle, { unref: true })).ret).toBe(0);
        expect(await syncFileStatus(p, rep.fd)).toEqual(["vmwgfx", 1]);
        expect([...(await mobRead(p, fd, a, 2))]).toEqual([9, 9]);
        expect([vmw.gpu.resets.length, vmw.fences.resets, vmw.fences.fencesLost]).toEqual([
          0, 0, 0,
        ]);
        await p.close(rep.fd);
        await p.close(fd);
      }),
    );
  });

  it("a submission without a fence object waits out the stall too: its device fence has no error", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const vmw = vmwPriv(m.vmw.device);
        const [fd, a] = await twoBuffers(p, m.vmw.render);
        vmw.gpu.injectHang({ forNs: 20_000_000 });
        expect(await execbuf(p, fd, `fill ${a.handle} 4`)).toBeGreaterThan(0);
        const fence = await dmaFenceGet([...vmw.fences.pending.values()][0]!);
        expect(await synccpuRead(p, fd, a.handle)).toBe(0);
        expect(await mobRead(p, fd, a, 1)).toEqual(new Uint8Array([4]));
        expect(fence.error).toBe(0);
        await dmaFencePut(fence);
        expect(m.sim.now).toBeGreaterThanOrEqual(20_000_000);
        expect(vmw.fences.resets).toBe(0);
        await p.close(fd);
      }),
    );
  });
});

describe("a device stalled for good: unload gives up on it (vmw_fence_fifo_down(), vmw_cmdbuf_idle())", () => {
  it("teardown completes: each fence is waited VMW_FENCE_WAIT_TIMEOUT, then signalled without an error; its pending event is dropped with its closed file; nothing is reset", async () => {
    const signalled: { seqno: number; error: number; at: number }[] = [];
    let closedAt = -1;
    let devicePending = -1;
    let log: readonly string[] = ["not run"];
    const r = await runVmw(async (p, m) => {
      const vmw = vmwPriv(m.vmw.device);
      const fd = await openNode(p, m.vmw.render);
      const page = await fenceRepPage(p);
      vmw.gpu.injectHang();
      // A new fence (a fence-only submission) with an event: no buffer waits on it, so nothing
      // but the unload's fence_fifo_down signals it.
      expect(await fenceEvent(p, fd, { fenceRep: page, userData: 77n })).toBe(0);
      const rep = await readFenceRep(p, page);
      const fence = vmw.fman.fenceList.find((f) => f.seqno === rep.seqno)!;
      expect(
        await dmaFenceAddCallback(fence, new DmaFenceCb("test"), (f) => {
          signalled.push({ seqno: f.seqno, error: f.error, at: now() });
        }),
      ).toBe(0);
      expect((await fenceWait(p, fd, rep.handle, { timeoutUs: 1000 })).ret).toBe(-EBUSY);
      expect(await p.poll([{ fd, events: EPOLLIN, revents: 0 }], 1_000_000)).toBe(0);
      devicePending = vmw.fences.pending.size;
      log = vmw.cman.log;
      closedAt = now();
      await p.close(fd);
    });
    expectClean(r);
    expect(devicePending).toBe(1);
    expect(signalled).toHaveLength(1);
    expect(signalled[0]!.error).toBe(0);
    expect(signalled[0]!.at - closedAt).toBeGreaterThanOrEqual(VMW_FENCE_WAIT_TIMEOUT);
    // No splat (expectClean) and no log line: the kernel prints nothing on this path
    // (vmw_fence_obj_wait()'s timeout is fifo_down's cue; vmw_cmdbuf_idle()'s is ignored).
    expect(log).toEqual([]);
  });
});

describe("vmw_fallback_wait(): a fence object that cannot be made waits for its seqno, at most VMW_FENCE_WAIT_TIMEOUT", () => {
  it("on a device stalled for good, FENCE_EVENT's new fence fails to be made: the fallback wait gives up after 5 s with DRM_ERROR 'SVGA device lockup.' and the ioctl returns -ENOMEM; unload completes", async () => {
    let log: readonly string[] = [];
    const r = await runVmw(async (p, m) => {
      const vmw = vmwPriv(m.vmw.device);
      const fd = await openNode(p, m.vmw.render);
      const page = await fenceRepPage(p);
      vmw.gpu.injectHang();
      setFailslab({ probability: 1, caches: ["vmw_user_fence"] });
      const t0 = now();
      const ret = await fenceEvent(p, fd, { fenceRep: page, userData: 5n });
      const waited = now() - t0;
      setFailslab(null);
      expect(ret).toBe(-ENOMEM);
      expect(waited).toBeGreaterThanOrEqual(VMW_FENCE_WAIT_TIMEOUT);
      expect(waited).toBeLessThan(2 * VMW_FENCE_WAIT_TIMEOUT);
      expect(vmw.fences.pending.size).toBe(1);
      expect(vmw.gpu.hung).toBe(true);
      log = vmwDrmErrors(vmw);
      await p.close(fd);
    });
    expectClean(r);
    expect(log).toEqual(["[drm:vmw_fallback_wait] *ERROR* SVGA device lockup."]);
  });
});
