import {
  EINTR,
  ERESTARTSYS,
  EXIT_KILLED,
  isErr,
  Kernel,
  O_CLOEXEC,
  O_RDWR,
  type Process,
  SpinLock,
} from "@primetime/kernel";
import { type RunResult, Simulation, type Task, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { dmaBufFd } from "./dma-buf.js";
import {
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
} from "./dma-buf-ioctl.js";
import {
  type DmaFence,
  type DmaFenceOps,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceWait,
  dmaFenceWaitTimeout,
} from "./dma-fence.js";
import { systemHeapAllocate } from "./dma-heap.js";
import {
  DmaResv,
  DmaResvUsage,
  dmaResvAddFence,
  dmaResvFini,
  dmaResvLock,
  dmaResvLockInterruptible,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaResvWaitTimeout,
} from "./dma-resv.js";
import { DMA_BUF_PAGE_SIZE } from "./scatterlist.js";
import {
  registerSwSync,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SW_SYNC_PATH,
  type SwSyncCreateFenceData,
} from "./sw-sync.js";

const ops: DmaFenceOps = {
  getDriverName: () => "test",
  getTimelineName: () => "ring0",
};

function mustFence(): DmaFence {
  const f = dmaFenceCreate(ops, new SpinLock("ring0_lock"), dmaFenceContextAlloc(1), 1);
  if (typeof f === "number") throw new Error(`dmaFenceCreate: ${f}`);
  return f;
}

async function untilAsleep(t: Task): Promise<void> {
  while (t.state !== "blocked") await yieldCpu();
}

/** A kernel with sw_sync; `body` runs as the main task; then kmemleak and the leak checks. */
async function run(body: (k: Kernel) => Promise<void>): Promise<{ r: RunResult; leaks: number }> {
  let leaks = -1;
  const r = await new Simulation({ seed: 5 }).run(async () => {
    const k = Kernel.boot();
    registerSwSync(k);
    await body(k);
    leaks = (await k.checkLeaks()).length;
  });
  return { r, leaks };
}

function clean(res: { r: RunResult; leaks: number }): void {
  expect(res.r.splats.map((s) => s.message)).toEqual([]);
  expect(res.r.outcome).toBe("ok");
  expect(res.leaks).toBe(0);
}

/** Spawns `body` as process "app", waits until its thread sleeps, kills it, waits for it. */
async function killAsleep(k: Kernel, body: (p: Process) => Promise<void>): Promise<void> {
  const p = k.spawnProcess("app", body);
  await untilAsleep(p.threads[0]!);
  p.kill();
  expect(await p.wait()).toBe(EXIT_KILLED);
}

describe("fatal signals and dma-buf waits", () => {
  it("dma_fence_wait(intr = true) is woken by the kill: -ERESTARTSYS, its callback unlinked", async () => {
    const got: { ret?: number; cbs?: number } = {};
    let fence: DmaFence | null = null;
    const res = await run(async (k) => {
      fence = mustFence();
      const f = fence;
      await killAsleep(k, async (p) => {
        got.ret = await dmaFenceWait(f, true);
        got.cbs = f.cbList.length;
        await p.dup(0);
      });
      // Nobody signalled: the fence is still pending, with no waiter's callback left on it.
      expect(f.cbList.length).toBe(0);
      await dmaFenceSignal(f);
      await dmaFencePut(f);
    });
    clean(res);
    expect(got).toEqual({ ret: -ERESTARTSYS, cbs: 0 });
  });

  it("dma_fence_wait_timeout(intr = true) with a signal already pending returns -ERESTARTSYS without sleeping", async () => {
    const got: { ret?: number; cbs?: number } = {};
    const res = await run(async (k) => {
      const f = mustFence();
      let go = false;
      let started = false;
      const p = k.spawnProcess("app", async (p) => {
        started = true;
        while (!go) await yieldCpu();
        got.ret = await dmaFenceWaitTimeout(f, true, 1_000_000);
        got.cbs = f.cbList.length;
        await p.dup(0);
      });
      while (!started) await yieldCpu();
      p.kill();
      go = true;
      expect(await p.wait()).toBe(EXIT_KILLED);
      await dmaFenceSignal(f);
      await dmaFencePut(f);
    });
    clean(res);
    expect(got).toEqual({ ret: -ERESTARTSYS, cbs: 0 });
  });

  it("dma_fence_wait(intr = false) sleeps on through the kill until the fence signals", async () => {
    const got: { ret?: number; asleep?: boolean } = {};
    const res = await run(async (k) => {
      const f = mustFence();
      const p = k.spawnProcess("app", async (p) => {
        got.ret = await dmaFenceWait(f, false);
        await p.dup(0);
      });
      const t = p.threads[0]!;
      await untilAsleep(t);
      p.kill();
      for (let i = 0; i < 5; i++) await yieldCpu();
      got.asleep = t.state === "blocked";
      await dmaFenceSignal(f);
      expect(await p.wait()).toBe(EXIT_KILLED);
      await dmaFencePut(f);
    });
    clean(res);
    expect(got).toEqual({ ret: 0, asleep: true });
  });

  it("dma_resv_wait_timeout(intr = true) returns -ERESTARTSYS and drops its cursor's fence reference", async () => {
    const got: { ret?: number } = {};
    const res = await run(async (k) => {
      const obj = new DmaResv();
      const f = mustFence();
      await dmaResvLock(obj);
      expect(await dmaResvReserveFences(obj, 1)).toBe(0);
      await dmaResvAddFence(obj, f, DmaResvUsage.WRITE);
      await dmaResvUnlock(obj);
      await killAsleep(k, async (p) => {
        got.ret = await dmaResvWaitTimeout(obj, DmaResvUsage.READ, true, Number.MAX_SAFE_INTEGER);
        await p.dup(0);
      });
      await dmaFenceSignal(f);
      await dmaFencePut(f);
      await dmaResvFini(obj);
    });
    clean(res);
    expect(got.ret).toBe(-ERESTARTSYS);
  });

  it("dma_resv_lock_interruptible() on a contended reservation returns -EINTR to the killed thread", async () => {
    const got: { ret?: number } = {};
    const res = await run(async (k) => {
      const obj = new DmaResv();
      await dmaResvLock(obj);
      await killAsleep(k, async (p) => {
        got.ret = await dmaResvLockInterruptible(obj);
        await p.dup(0);
      });
      await dmaResvUnlock(obj);
      await dmaResvFini(obj);
    });
    clean(res);
    expect(got.ret).toBe(-EINTR);
  });

  it("DMA_BUF_IOCTL_SYNC waiting for a write fence: the killed reader's ioctl unwinds and the machine is clean", async () => {
    const res = await run(async (k) => {
      let after = false;
      const p = k.spawnProcess("app", async (p) => {
        const d = await systemHeapAllocate(DMA_BUF_PAGE_SIZE, O_RDWR);
        if (isErr(d)) throw new Error("alloc");
        const buf = await dmaBufFd(d, O_CLOEXEC);
        const tl = await p.open(SW_SYNC_PATH, O_RDWR);
        const data: SwSyncCreateFenceData = { value: 1 };
        expect(await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, data)).toBe(0);
        const imp = { flags: DMA_BUF_SYNC_WRITE, fd: data.fence! };
        expect(await p.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, imp)).toBe(0);
        await p.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
        after = true;
        // Never reached: the timeline would be advanced here.
        await p.ioctl(tl, SW_SYNC_IOC_INC, 1);
      });
      await untilAsleep(p.threads[0]!);
      p.kill();
      expect(await p.wait()).toBe(EXIT_KILLED);
      expect(after).toBe(false);
    });
    clean(res);
  });
});
