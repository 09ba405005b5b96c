import {
  DmaResvUsage,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceWait,
  dmaFenceWaitTimeout,
  dmaResvWaitTimeout,
  MAX_SCHEDULE_TIMEOUT,
} from "@primetime/dma-buf";
import { drmGemObjectPut } from "@primetime/gem";
import { flushWorkqueue, isErr } from "@primetime/kernel";
import { now } from "@primetime/sim";
import { type InterruptStatus, SimGpu, vramAddress } from "@primetime/simgpu";
import { describe, expect, it } from "vitest";
import { simgpuFenceDriverInit } from "./simgpu-fence.js";
import { boAccess, expectClean, runTtm, TT, testBoCreate, VRAM } from "./test-support.js";
import { ttmBoReserve, ttmBoUnreserve, ttmBoValidate } from "./ttm-bo.js";
import { ttmGlobBoCount } from "./ttm-device.js";
import { TTM_PL_TT } from "./ttm-placement.js";

describe("the GPU's fences as dma_fences", () => {
  it("signal in order from the interrupt task, one context for the engine", async () => {
    const r = await runTtm(async (m) => {
      const fences = [];
      for (let i = 0; i < 5; i++) {
        const f = await m.fences.submit([{ op: "fill", dst: vramAddress(0), size: 0, value: i }]);
        if (isErr(f)) throw new Error(`submit ${f}`);
        fences.push(f);
      }
      expect(new Set(fences.map((f) => f.context)).size).toBe(1);
      expect(fences.map((f) => f.seqno)).toEqual([1, 2, 3, 4, 5]);
      expect(await dmaFenceWait(fences[4]!, false)).toBe(0);
      for (const f of fences) {
        expect(f.error).toBe(0);
        await dmaFencePut(f);
      }
    });
    expectClean(r);
  });

  it("a hung engine is reset by the hangcheck: lost fences signal with -ETIME, no waiter hangs", async () => {
    const r = await runTtm(async (m) => {
      const bo = await testBoCreate(m, 2 * 4096, VRAM);
      if (isErr(bo)) throw new Error("create");
      await boAccess(bo, 0, new Uint8Array(8192).fill(7), true);
      m.gpu.injectHang();
      const f = await m.fences.submit([{ op: "fill", dst: vramAddress(0), size: 16, value: 1 }]);
      if (isErr(f)) throw new Error("submit");
      // A move on the hung engine: pipelined, its fence in the BO's reservation.
      await ttmBoReserve(bo, false, false);
      expect(
        await ttmBoValidate(bo, TT, { interruptible: false, noWaitGpu: false, bytesMoved: 0 }),
      ).toBe(0);
      await ttmBoUnreserve(bo);
      expect(bo.resource!.memType).toBe(TTM_PL_TT);
      // Pipelined: a ghost object holds the old VRAM range until the move's fence signals.
      expect(ttmGlobBoCount()).toBe(2);
      expect(m.gpu.vram.allocatedPages).toBe(2);
      expect(await dmaFenceWait(f, false)).toBe(0);
      expect(f.error).toBe(-62);
      await dmaFencePut(f);
      expect(
        await dmaResvWaitTimeout(bo.resv, DmaResvUsage.KERNEL, false, MAX_SCHEDULE_TIMEOUT),
      ).toBeGreaterThan(0);
      expect(m.fences.resets).toBe(1);
      expect(m.fences.fencesLost).toBe(2);
      await flushWorkqueue(m.bdev.wq!);
      expect(ttmGlobBoCount()).toBe(1);
      expect(m.gpu.vram.allocatedPages).toBe(0);
      // The engine works again after the reset.
      const g = await m.fences.submit([{ op: "fill", dst: vramAddress(0), size: 16, value: 2 }]);
      if (isErr(g)) throw new Error("submit");
      expect(await dmaFenceWait(g, false)).toBe(0);
      expect(g.error).toBe(0);
      await dmaFencePut(g);
      await drmGemObjectPut(bo);
    });
    expectClean(r);
  });

  it("without a hangcheck (hangcheckNs null) a stalled engine is left alone: waits time out, the fence signals without error once the device goes on", async () => {
    const r = await runTtm(
      async (m) => {
        m.gpu.injectHang({ forNs: 10_000_000 });
        const f = await m.fences.submit([{ op: "fill", dst: vramAddress(0), size: 16, value: 1 }]);
        if (isErr(f)) throw new Error("submit");
        // Far beyond the default hangcheck period (2 ms): no reset, no error.
        expect(await dmaFenceWaitTimeout(f, false, 5_000_000)).toBe(0);
        expect([m.fences.resets, f.error, m.gpu.resets.length]).toEqual([0, 0, 0]);
        expect(await dmaFenceWait(f, false)).toBe(0);
        expect(f.error).toBe(0);
        expect(m.fences.fencesLost).toBe(0);
        await dmaFencePut(f);
      },
      { hangcheckNs: null },
    );
    expectClean(r);
  });

  it("hands every interrupt status to the driver's own handler after the fences (a command error among them)", async () => {
    const r = await runTtm(async () => {
      const gpu = new SimGpu({ name: "gpu9", vramPages: 1 });
      const seen: InterruptStatus[] = [];
      const fences = simgpuFenceDriverInit(gpu, {
        hangcheckNs: null,
        onInterrupt: async (st) => {
          seen.push(st);
          if (st.errors.length > 0) gpu.restart();
        },
      });
      gpu.injectCommandError();
      const f = await fences.submit([{ op: "fill", dst: vramAddress(0), size: 16, value: 1 }]);
      if (isErr(f)) throw new Error("submit");
      expect(await dmaFenceWait(f, false)).toBe(0);
      expect(f.error).toBe(0);
      expect(seen.flatMap((st) => st.errors.map((e) => [e.seqno, e.command]))).toEqual([[1, 0]]);
      expect(gpu.vram.read(0, 16).every((b) => b === 0)).toBe(true);
      await dmaFencePut(f);
      await fences.fini();
    });
    expectClean(r);
  });

  it("fini({ waitNs }) of a device stalled for good: waits that long for each pending fence, then signals it without an error (a driver's unload that gives up, vmw_fence_fifo_down())", async () => {
    const r = await runTtm(async () => {
      const gpu = new SimGpu({ name: "gpu10", vramPages: 1 });
      const fences = simgpuFenceDriverInit(gpu, { hangcheckNs: null });
      gpu.injectHang();
      const cmd = { op: "fill", dst: vramAddress(0), size: 16, value: 1 } as const;
      const f1 = await fences.submit([cmd]);
      const f2 = await fences.submit([cmd]);
      if (isErr(f1) || isErr(f2)) throw new Error("submit");
      const t0 = now();
      await fences.fini({ waitNs: 1_000_000 });
      // The newest first, as amdgpu_fence_wait_empty() waits for the last: one wait of 1 ms,
      // then both are signalled; no reset, no error.
      expect(now() - t0).toBe(1_000_000);
      expect([await dmaFenceIsSignaled(f1), await dmaFenceIsSignaled(f2)]).toEqual([true, true]);
      expect([f1.error, f2.error, fences.resets, fences.fencesLost, gpu.hung]).toEqual([
        0,
        0,
        0,
        0,
        true,
      ]);
      expect(fences.pending.size).toBe(0);
      await dmaFencePut(f1);
      await dmaFencePut(f2);
    });
    expectClean(r);
  });
});
