import { EIO, SpinLock } from "@primetime/kernel";
import { spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  type DmaFence,
  type DmaFenceOps,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFenceGet,
  dmaFenceGetStatus,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceSignal,
  dmaFenceWait,
} from "./dma-fence.js";
import { dmaFenceArrayCreate, dmaFenceIsArray, dmaFenceUnwrap } from "./dma-fence-array.js";
import { runThenScanLeaks, splatLines } from "./test-support.js";

const ops: DmaFenceOps = { getDriverName: () => "test", getTimelineName: () => "ring" };

function fence(): DmaFence {
  const f = dmaFenceCreate(ops, new SpinLock("timeline_lock"), dmaFenceContextAlloc(1), 1);
  if (typeof f === "number") throw new Error("alloc");
  return f;
}

describe("dma_fence_array", () => {
  it("signals once every child has, with the first child error; owns and drops the children", async () => {
    const r = await runThenScanLeaks(async () => {
      const a = fence();
      const b = fence();
      const keepA = a;
      await dmaFenceGet(keepA); // watch a's count
      const array = dmaFenceArrayCreate([a, b], dmaFenceContextAlloc(1), 1);
      if (array === null || typeof array === "number") throw new Error("create");
      expect(dmaFenceIsArray(array)).toBe(true);
      expect(dmaFenceUnwrap(array)).toEqual([a, b]);
      expect(await dmaFenceGetStatus(array)).toBe(0);
      dmaFenceSetError(a, -EIO);
      await dmaFenceSignal(a);
      expect(await dmaFenceGetStatus(array)).toBe(0); // b still pending
      await dmaFenceSignal(b);
      expect(await dmaFenceWait(array, false)).toBe(0);
      expect(await dmaFenceGetStatus(array)).toBe(-EIO);
      expect(keepA.refcount.read()).toBe(2); // ours and the array's
      await dmaFencePut(array);
      expect(keepA.refcount.read()).toBe(1); // the release dropped the array's
      await dmaFencePut(keepA);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("a waiter on the array is woken by the last child (signalling enabled before)", async () => {
    const r = await runThenScanLeaks(async () => {
      const a = fence();
      const b = fence();
      const array = dmaFenceArrayCreate([a, b], dmaFenceContextAlloc(1), 1);
      if (array === null || typeof array === "number") throw new Error("create");
      let waited: number | null = null;
      const waiter = spawn("waiter", async () => {
        waited = await dmaFenceWait(array, false);
      });
      await dmaFenceSignal(b);
      await dmaFenceSignal(a);
      await waiter.join();
      expect(waited).toBe(0);
      await dmaFencePut(array);
    });
    expect(splatLines(r)).toEqual([]);
  });
});
