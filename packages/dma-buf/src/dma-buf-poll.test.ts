import { fileCount, isErr, Kernel, O_RDWR, SpinLock } from "@primetime/kernel";
import { Completion, findToggle, now, Simulation, spawn } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { dmaBufLiveList } from "./bufinfo.js";
import { type DmaBuf, dmaBufPut, getDmaBuf } from "./dma-buf.js";
import {
  dmaBufPoll,
  dmaBufPollWait,
  EPOLLERR,
  EPOLLIN,
  EPOLLOUT,
  FENCE_CB_WITHOUT_REF,
} from "./dma-buf-poll.js";
import {
  type DmaFence,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFenceFree,
  dmaFenceGetRcu,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceSignalLocked,
  MAX_SCHEDULE_TIMEOUT,
} from "./dma-fence.js";
import { systemHeapAllocate } from "./dma-heap.js";
import {
  DmaResvUsage,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
} from "./dma-resv.js";
import { DMA_BUF_PAGE_SIZE } from "./scatterlist.js";
import { splatLines } from "./test-support.js";

/**
 * A software timeline like sw_sync's: it lists its unsignalled points without holding references
 * (a point removes itself at release), and signalling takes each one with dma_fence_get_rcu().
 * Its fences therefore live exactly as long as someone else holds them.
 */
class SwTimeline {
  readonly lock = new SpinLock("sync_timeline_lock");
  readonly context = dmaFenceContextAlloc(1);
  value = 0;
  private readonly pts: DmaFence[] = [];

  fence(seqno: number): DmaFence {
    const f = dmaFenceCreate(
      {
        getDriverName: () => "sw_sync",
        getTimelineName: () => "timeline",
        release: async (fence) => {
          await this.lock.lock();
          const i = this.pts.indexOf(fence);
          if (i >= 0) this.pts.splice(i, 1);
          await this.lock.unlock();
          await dmaFenceFree(fence);
        },
      },
      this.lock,
      this.context,
      seqno,
    );
    if (isErr(f)) throw new Error("fence");
    this.pts.push(f);
    return f;
  }

  /** Models sync_timeline_signal(): signals every point up to `value`. */
  async signal(value: number): Promise<void> {
    const signalled: DmaFence[] = [];
    await this.lock.lock();
    this.value = value;
    for (const pt of [...this.pts]) {
      if (pt.seqno > value) break;
      const got = await dmaFenceGetRcu(pt);
      if (!got) continue; // being released: its release unlists it
      this.pts.splice(this.pts.indexOf(pt), 1);
      signalled.push(pt);
      await dmaFenceSignalLocked(pt);
    }
    await this.lock.unlock();
    for (const pt of signalled) await dmaFencePut(pt);
  }
}

async function addFence(d: DmaBuf, f: DmaFence, usage: DmaResvUsage): Promise<void> {
  await dmaResvLock(d.resv);
  expect(await dmaResvReserveFences(d.resv, 1)).toBe(0);
  await dmaResvAddFence(d.resv, f, usage);
  await dmaResvUnlock(d.resv);
}

async function heapBuf(): Promise<DmaBuf> {
  const d = await systemHeapAllocate(DMA_BUF_PAGE_SIZE, O_RDWR);
  if (isErr(d)) throw new Error("alloc");
  return d;
}

describe("dma_buf_poll", () => {
  it("reports EPOLLIN/EPOLLOUT at once with no fences; EPOLLERR without a dma-buf", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      const d = await heapBuf();
      expect(await dmaBufPoll(d.file!, EPOLLIN | EPOLLOUT)).toBe(EPOLLIN | EPOLLOUT);
      expect(await dmaBufPoll(d.file!, 0)).toBe(0);
      expect(d.cbIn.active).toBe(0);
      expect(fileCount(d.file!)).toBe(1);
      const saved = d.file!.privateData;
      d.file!.privateData = null;
      expect(await dmaBufPoll(d.file!, EPOLLIN)).toBe(EPOLLERR);
      d.file!.privateData = saved;
      await dmaBufPut(d);
      expect(await k.checkLeaks()).toEqual([]);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("arms a callback on the first pending fence, holding the file and the fence until it fires", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      const d = await heapBuf();
      const tl = new SwTimeline();
      const w = tl.fence(1);
      const rd = new SwTimeline().fence(1);
      await addFence(d, w, DmaResvUsage.WRITE);
      await addFence(d, rd, DmaResvUsage.READ);
      // EPOLLIN waits for writers only.
      expect(await dmaBufPoll(d.file!, EPOLLIN)).toBe(0);
      expect(d.cbIn.active).toBe(EPOLLIN);
      expect(d.cbIn.fence).toBe(w);
      expect(fileCount(d.file!)).toBe(2); // the armed slot's file reference
      expect(w.refcount.read()).toBe(3); // creator, reservation, armed slot
      // The slot is busy: a second poll does not re-arm it.
      expect(await dmaBufPoll(d.file!, EPOLLIN)).toBe(0);
      expect(fileCount(d.file!)).toBe(2);
      await tl.signal(1);
      expect(d.cbIn.active).toBe(0);
      expect(fileCount(d.file!)).toBe(1);
      expect(w.refcount.read()).toBe(2);
      expect(await dmaBufPoll(d.file!, EPOLLIN)).toBe(EPOLLIN);
      // EPOLLOUT also waits for readers.
      expect(await dmaBufPoll(d.file!, EPOLLOUT)).toBe(0);
      expect(d.cbOut.fence).toBe(rd);
      await dmaFenceSignal(rd);
      expect(await dmaBufPoll(d.file!, EPOLLOUT)).toBe(EPOLLOUT);
      await dmaFencePut(w);
      await dmaFencePut(rd);
      await dmaBufPut(d);
      expect(await k.checkLeaks()).toEqual([]);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("poll(2) times out on the virtual clock, then wakes when another task signals", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      const d = await heapBuf();
      const tl = new SwTimeline();
      const w = tl.fence(1);
      await addFence(d, w, DmaResvUsage.WRITE);
      const t0 = now();
      expect(await dmaBufPollWait(d.file!, EPOLLIN, 1000)).toBe(0);
      expect(now() - t0).toBe(1000);
      const gpu = spawn("gpu", () => tl.signal(1));
      expect(await dmaBufPollWait(d.file!, EPOLLIN, MAX_SCHEDULE_TIMEOUT)).toBe(EPOLLIN);
      await gpu.join();
      await dmaFencePut(w);
      await dmaBufPut(d);
      expect(await k.checkLeaks()).toEqual([]);
    });
    expect(splatLines(r)).toEqual([]);
  });
});

/**
 * The toggle scenario: a poller waits for a dma-buf's writers while a writer submits new work,
 * replacing the buffer's write fence with a later one of the same timeline, and the GPU
 * completes the old job (timeline value 1) and, once submitted, the new one (2). The old fence's
 * only holder besides a poller is the reservation object (its sw_sync-style timeline holds
 * none). Fixed: the poll slot's reference keeps it alive until the GPU signals it. Historic: the
 * poller dropped that reference right after queuing its callback, so when the replacement comes
 * after the poller queued its callback and before the GPU completed the old job, the fence is
 * released with the callback pending.
 */
async function pollVsReplace(_sim: Simulation): Promise<void> {
  const k = Kernel.boot();
  const d = await heapBuf();
  const tl = new SwTimeline();
  const f1 = tl.fence(1);
  await addFence(d, f1, DmaResvUsage.WRITE);
  await dmaFencePut(f1); // the submitter is done with it: only the reservation holds it
  const submitted = new Completion("job 2 submitted");
  const poller = spawn("poller", async () => {
    await getDmaBuf(d); // fdget() of the polled fd
    const mask = await dmaBufPollWait(d.file!, EPOLLIN, MAX_SCHEDULE_TIMEOUT);
    if (mask !== EPOLLIN) throw new Error(`poll returned ${mask}`);
    await dmaBufPut(d);
  });
  const writer = spawn("writer", async () => {
    const f2 = tl.fence(2);
    await addFence(d, f2, DmaResvUsage.WRITE); // replaces f1 (same context, later)
    await dmaFencePut(f2);
    submitted.complete();
  });
  const gpu = spawn("gpu", async () => {
    await tl.signal(1);
    await submitted.wait();
    await tl.signal(2);
  });
  for (const t of [poller, writer, gpu]) await t.join();
  await dmaBufPut(d);
  await k.checkLeaks();
  if (dmaBufLiveList().length) throw new Error("dma-buf leaked");
}

describe("toggle dma-buf.fence-cb-without-ref", () => {
  it("is declared with its fix", () => {
    expect(findToggle("dma-buf.fence-cb-without-ref")).toBe(FENCE_CB_WITHOUT_REF);
    expect(FENCE_CB_WITHOUT_REF.fixedBy).toMatch(/dma-buf: fix and rework dma_buf_poll v7/);
  });

  it("on: PCT finds the fence released with the poll callback pending", async () => {
    const res = await explore(pollVsReplace, {
      strategy: "pct",
      depth: 3,
      schedules: 50,
      seed: 7,
      toggles: [FENCE_CB_WITHOUT_REF.name],
      scenario: "poll-vs-replace",
    });
    expect(res.firstFailure).not.toBeNull();
    expect(res.schedules).toBeLessThanOrEqual(50);
    const warn = res.firstFailure!.splats.find((s) => s.kind === "warn");
    expect(warn?.message).toMatch(
      /^Fence sw_sync:timeline:[0-9a-f]+:1 released with pending signals!$/,
    );
    // It is a race: it depends on the schedule.
    const all = await explore(pollVsReplace, {
      strategy: "pct",
      depth: 3,
      schedules: 50,
      seed: 3,
      stopOnFailure: false,
      toggles: [FENCE_CB_WITHOUT_REF.name],
    });
    expect(all.failures.length).toBeGreaterThan(0);
    expect(all.failures.length).toBeLessThan(all.schedules);
  });

  it("off: nothing across many PCT and random schedules", async () => {
    const pct = await explore(pollVsReplace, {
      strategy: "pct",
      depth: 3,
      schedules: 200,
      seed: 7,
      scenario: "poll-vs-replace",
    });
    expect(pct.failures.map((f) => splatLines(f).concat(f.outcome))).toEqual([]);
    const rnd = await explore(pollVsReplace, {
      strategy: "random",
      schedules: 100,
      seed: 11,
      scenario: "poll-vs-replace",
    });
    expect(rnd.failures.map((f) => splatLines(f).concat(f.outcome))).toEqual([]);
  });
});
