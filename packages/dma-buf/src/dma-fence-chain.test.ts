import { SpinLock } from "@primetime/kernel";
import { spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  type DmaFence,
  type DmaFenceOps,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFenceGet,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceWait,
} from "./dma-fence.js";
import {
  dmaFenceChainAlloc,
  dmaFenceChainFindSeqno,
  dmaFenceChainInit,
  dmaFenceChainWalk,
  toDmaFenceChain,
} from "./dma-fence-chain.js";
import { runThenScanLeaks, splatLines } from "./test-support.js";

const ops: DmaFenceOps = { getDriverName: () => "test", getTimelineName: () => "ring" };

function fence(): DmaFence {
  const f = dmaFenceCreate(ops, new SpinLock("timeline_lock"), dmaFenceContextAlloc(1), 1);
  if (typeof f === "number") throw new Error("alloc");
  return f;
}

/** A node for `f` at `seqno` after `prev` (both references handed over). */
function node(prev: DmaFence | null, f: DmaFence, seqno: number): DmaFence {
  const c = dmaFenceChainAlloc();
  if (!c) throw new Error("alloc");
  dmaFenceChainInit(c, prev, f, seqno);
  return c;
}

describe("dma_fence_chain", () => {
  it("keeps the context of the node before a later point, starts a new one otherwise", async () => {
    const r = await runThenScanLeaks(async () => {
      const one = node(null, fence(), 1);
      const two = node(one, fence(), 2);
      expect(two.context).toBe(one.context);
      expect(toDmaFenceChain(two)!.prevSeqno).toBe(1);
      // An unordered point: a new context, the seqno no lower than the previous one's.
      const back = node(two, fence(), 1);
      expect(back.context).not.toBe(two.context);
      expect(back.seqno).toBe(2);
      expect(toDmaFenceChain(back)!.prevSeqno).toBe(0);
      await dmaFencePut(back); // drops the whole chain (no leak: kmemleak scan)
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("signals when every fence along it has; finds points; collects signalled nodes", async () => {
    const r = await runThenScanLeaks(async () => {
      const a = fence();
      const b = fence();
      const c = fence();
      const keep = [a, b, c];
      for (const f of keep) await dmaFenceGet(f);
      const head = node(node(node(null, a, 1), b, 2), c, 3);
      expect(await dmaFenceIsSignaled(head)).toBe(false);
      // Point 2 is the second node; point 4 is not reached.
      const pf = { fence: await dmaFenceGet(head) };
      expect(await dmaFenceChainFindSeqno(pf, 2)).toBe(0);
      expect(toDmaFenceChain(pf.fence)!.fence).toBe(b);
      await dmaFencePut(pf.fence);
      const far = { fence: await dmaFenceGet(head) };
      expect(await dmaFenceChainFindSeqno(far, 4)).toBe(-22);
      await dmaFencePut(far.fence);
      // A waiter on the head is woken once a, b and c have signalled (in any order).
      let waited: number | null = null;
      const waiter = spawn("waiter", async () => {
        waited = await dmaFenceWait(head, false);
      });
      await dmaFenceSignal(b);
      await dmaFenceSignal(a);
      expect(await dmaFenceIsSignaled(head)).toBe(false);
      await dmaFenceSignal(c);
      await waiter.join();
      expect(waited).toBe(0);
      // The walk from the head unlinks the signalled predecessors.
      const next = await dmaFenceChainWalk(await dmaFenceGet(head));
      expect(next).toBeNull();
      expect(toDmaFenceChain(head)!.prev).toBeNull();
      // Point 1 has been collected: find_seqno gives no fence (the syncobj then uses a stub).
      const gone = { fence: await dmaFenceGet(head) };
      expect(await dmaFenceChainFindSeqno(gone, 1)).toBe(0);
      expect(gone.fence).toBeNull();
      await dmaFencePut(head);
      for (const f of keep) expect(f.refcount.read()).toBe(1); // the nodes dropped theirs
      for (const f of keep) await dmaFencePut(f);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("releases a long chain without leaking a node", async () => {
    const r = await runThenScanLeaks(async () => {
      let head: DmaFence | null = null;
      for (let i = 1; i <= 64; i++) head = node(head, fence(), i);
      await dmaFencePut(head);
    });
    expect(splatLines(r)).toEqual([]);
  });
});
