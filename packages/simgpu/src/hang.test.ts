import { formatSplat, type RunResult, Simulation, sleep, spawn, WaitQueue } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { type Command, vramAddress } from "./command.js";
import type { CommandError } from "./engine.js";
import { SimGpu } from "./gpu.js";
import type { InterruptStatus } from "./irq.js";

async function run(body: (sim: Simulation) => Promise<void>): Promise<RunResult> {
  const r = await new Simulation({ seed: 3 }).run(body);
  expect(r.splats.map(formatSplat)).toEqual([]);
  expect(r.outcome).toBe("ok");
  return r;
}

/** A driver's view: the handler records statuses and retires lost seqnos; waits may time out. */
function attach(gpu: SimGpu) {
  const wq = new WaitQueue(`${gpu.name} fences`);
  const statuses: InterruptStatus[] = [];
  const lost = new Set<number>();
  const errors: CommandError[] = [];
  gpu.onInterrupt((st) => {
    statuses.push(st);
    for (const r of st.resets) for (const s of r.lost) lost.add(s);
    errors.push(...st.errors);
    wq.wakeAll();
  });
  /** "done", "lost" (dropped by a reset) or "timeout". */
  async function wait(seqno: number, timeoutNs = Number.POSITIVE_INFINITY) {
    const sim = gpu.sim!;
    const deadline = sim.now + timeoutNs;
    for (;;) {
      if (lost.has(seqno)) return "lost";
      if (gpu.seqnoPassed(seqno)) return "done";
      if (timeoutNs === Number.POSITIVE_INFINITY) await wq.wait(`wait seqno ${seqno}`);
      else if (!(await wq.waitTimeout(deadline - sim.now, `wait seqno ${seqno}`))) return "timeout";
    }
  }
  async function nextInterrupt(): Promise<InterruptStatus> {
    const n = statuses.length;
    while (statuses.length === n) await wq.wait("wait interrupt");
    return statuses.at(-1)!;
  }
  return { statuses, lost, errors, wait, nextInterrupt };
}

const TIMING = { commandNs: 100, nsPerByte: 1, fenceNs: 10 };

describe("hang injection and reset", () => {
  it("a hung engine completes nothing: a fence wait times out in virtual time", async () => {
    await run(async (sim) => {
      const gpu = new SimGpu({ timing: TIMING });
      const drv = attach(gpu);
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 1);
      gpu.injectHang();
      const s = gpu.submit([{ op: "fill", dst: vramAddress(vo), size: 4096, value: 7 }]);
      expect(await drv.wait(s, 1_000_000)).toBe("timeout");
      expect(sim.now).toBe(1_000_000);
      expect(gpu.lastCompletedSeqno).toBe(0);
      expect(gpu.lastSubmittedSeqno).toBe(1);
      expect(gpu.busy).toBe(true);
      expect(gpu.hung).toBe(true);
      expect(drv.statuses).toEqual([]);
      expect(gpu.vram.read(vo, 4096).every((x) => x === 0)).toBe(true);

      const r = gpu.reset();
      expect(r).toEqual({ lost: [1], wasHung: true, seqno: 0, time: 1_000_000 });
      const st = await drv.nextInterrupt();
      expect(st).toEqual({ fence: false, seqno: 0, faults: [], resets: [r], errors: [] });
      expect(await drv.wait(s)).toBe("lost");
      expect([gpu.hung, gpu.busy]).toEqual([false, false]);

      // The engine runs again; seqnos keep counting.
      const s2 = gpu.submit([{ op: "fill", dst: vramAddress(vo), size: 4096, value: 9 }]);
      expect(s2).toBe(2);
      expect(await drv.wait(s2, 1_000_000)).toBe("done");
      expect(sim.now).toBe(1_000_000 + 100 + 4096 + 10);
      expect(gpu.vram.read(vo, 4096).every((x) => x === 9)).toBe(true);
      expect(gpu.resets).toEqual([r]);
    });
  });

  it("hangs after a number of submissions; a reset reports every queued seqno as lost", async () => {
    await run(async () => {
      const gpu = new SimGpu({ timing: TIMING });
      const drv = attach(gpu);
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 1);
      const fill = (v: number): Command => ({
        op: "fill",
        dst: vramAddress(vo),
        size: 100,
        value: v,
      });
      gpu.injectHang({ afterSubmissions: 2 });
      const seqnos = [1, 2, 3, 4].map((v) => gpu.submit([fill(v), fill(v)]));
      expect(seqnos).toEqual([1, 2, 3, 4]);
      expect(await drv.wait(2)).toBe("done");
      expect(await drv.wait(3, 50_000)).toBe("timeout");
      expect(gpu.lastCompletedSeqno).toBe(2);
      expect(gpu.vram.read(vo, 1)[0]).toBe(2);
      expect(gpu.ring.used).toBe(6);
      const r = gpu.reset();
      expect(r.lost).toEqual([3, 4]);
      expect(r.seqno).toBe(2);
      expect(gpu.ring.used).toBe(0);
      expect(await drv.wait(4)).toBe("lost");
      expect(await drv.wait(gpu.submit([fill(5)]))).toBe("done");
      expect(gpu.vram.read(vo, 1)[0]).toBe(5);
    });
  });

  it("a hang mid-batch drops the command in flight; completed commands keep their effects", async () => {
    await run(async () => {
      const gpu = new SimGpu({ timing: TIMING, vramPages: 2 });
      const drv = attach(gpu);
      const vr = gpu.vram.region(0, gpu.vram.pages);
      const a = vr.claim(0, 1);
      const b = vr.claim(1, 1);
      const s = gpu.submit([
        { op: "fill", dst: vramAddress(a), size: 1000, value: 1 },
        { op: "fill", dst: vramAddress(b), size: 1000, value: 2 },
      ]);
      await sleep(1500); // the first fill completed at 1100; the second is in flight
      gpu.injectHang();
      await sleep(1_000_000);
      expect(gpu.lastCompletedSeqno).toBe(0);
      expect(gpu.reset().lost).toEqual([s]);
      expect(gpu.vram.read(a, 1000).every((x) => x === 1)).toBe(true);
      expect(gpu.vram.read(b, 1000).every((x) => x === 0)).toBe(true);
      await drv.nextInterrupt();
      expect(gpu.executedCommands).toBe(1);
    });
  });

  it("a reset without a hang drops queued work too, and is harmless when idle", async () => {
    await run(async () => {
      const gpu = new SimGpu({ timing: TIMING });
      const drv = attach(gpu);
      expect(gpu.reset()).toMatchObject({ lost: [], wasHung: false });
      gpu.submit([]);
      gpu.submit([]);
      expect(gpu.reset()).toMatchObject({ lost: [1, 2], wasHung: false });
      const st = await drv.nextInterrupt();
      expect(st.resets.map((r) => r.lost)).toEqual([[], [1, 2]]);
      expect(await drv.wait(gpu.submit([]))).toBe("done");
      expect(gpu.lastCompletedSeqno).toBe(3);
    });
  });

  it("a hangcheck worker notices a stuck seqno, resets, and waiters retire lost work", async () => {
    const period = 10_000;
    const r = await run(async (sim) => {
      const gpu = new SimGpu({ timing: TIMING });
      const drv = attach(gpu);
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 1);
      let stop = false;
      const hangcheck = spawn(
        "hangcheck",
        async () => {
          let last = gpu.lastCompletedSeqno;
          let strikes = 0;
          while (!stop) {
            await sleep(period, "hangcheck sleep");
            const cur = gpu.lastCompletedSeqno;
            strikes = gpu.busy && cur === last ? strikes + 1 : 0;
            last = cur;
            if (strikes >= 2) {
              gpu.reset();
              strikes = 0;
            }
          }
        },
        { kind: "kernel" },
      );
      gpu.injectHang({ afterSubmissions: 1 });
      const results: string[] = [];
      const user = spawn("user", async () => {
        const mine = [1, 2, 3].map(() =>
          gpu.submit([{ op: "fill", dst: vramAddress(vo), size: 512, value: 3 }]),
        );
        for (const s of mine) results.push(`${s}:${await drv.wait(s)}`);
        results.push(`4:${await drv.wait(gpu.submit([]))}`);
      });
      await user.join();
      stop = true;
      await hangcheck.join();
      expect(results).toEqual(["1:done", "2:lost", "3:lost", "4:done"]);
      expect(gpu.resets).toHaveLength(1);
      expect(gpu.resets[0]).toMatchObject({ lost: [2, 3], wasHung: true, seqno: 1 });
      // Stuck from 622 ns on: the first sample at 10 µs sees seqno 1 busy, two strikes later it resets.
      expect(gpu.resets[0]!.time).toBe(3 * period);
      expect(sim.now).toBeGreaterThanOrEqual(3 * period);
    });
    expect(r.time).toBe(4 * period);
  });

  it("a hang for a while: the engine stands still, then resumes by itself and completes the work", async () => {
    await run(async (sim) => {
      const gpu = new SimGpu({ timing: TIMING });
      const drv = attach(gpu);
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 1);
      gpu.injectHang({ forNs: 1_000_000 });
      const s = gpu.submit([{ op: "fill", dst: vramAddress(vo), size: 4096, value: 7 }]);
      expect(await drv.wait(s, 500_000)).toBe("timeout");
      expect([gpu.hung, gpu.busy, gpu.lastCompletedSeqno]).toEqual([true, true, 0]);
      expect(drv.statuses).toEqual([]);
      // At 1 ms the stall ends; the fill runs in full from then on.
      expect(await drv.wait(s)).toBe("done");
      expect(sim.now).toBe(1_000_000 + 100 + 4096 + 10);
      expect([gpu.hung, gpu.busy]).toEqual([false, false]);
      expect(gpu.vram.read(vo, 4096).every((x) => x === 7)).toBe(true);
      expect(gpu.resets).toEqual([]);
    });
  });

  it("a hang for a while after a number of submissions; a reset meanwhile cancels its end", async () => {
    await run(async (sim) => {
      const gpu = new SimGpu({ timing: TIMING });
      const drv = attach(gpu);
      gpu.injectHang({ afterSubmissions: 1, forNs: 50_000 });
      const [a, b] = [gpu.submit([]), gpu.submit([])];
      expect(await drv.wait(a)).toBe("done");
      const stuckAt = sim.now;
      expect(await drv.wait(b)).toBe("done");
      expect(sim.now).toBe(stuckAt + 50_000 + 10);
      gpu.injectHang({ forNs: 50_000 });
      const c = gpu.submit([]);
      expect(gpu.reset().lost).toEqual([c]);
      gpu.injectHang();
      await sleep(100_000); // the cancelled end of the first stall does not end this one
      expect(gpu.hung).toBe(true);
      gpu.reset();
    });
  });

  it("rejects a stall of a negative or fractional length", () => {
    const gpu = new SimGpu({ sim: null });
    expect(() => gpu.injectHang({ forNs: -1 })).toThrow(RangeError);
    expect(() => gpu.injectHang({ forNs: 0.5 })).toThrow(RangeError);
  });
});

describe("command errors", () => {
  it("stop the engine at the faulty command, which writes nothing; a restart runs the rest of the batch and its fence", async () => {
    await run(async (sim) => {
      const gpu = new SimGpu({ timing: TIMING, vramPages: 2 });
      const drv = attach(gpu);
      const vr = gpu.vram.region(0, gpu.vram.pages);
      const a = vr.claim(0, 1);
      const b = vr.claim(1, 1);
      gpu.injectCommandError();
      const s = gpu.submit([
        { op: "fill", dst: vramAddress(a), size: 1000, value: 1 },
        { op: "fill", dst: vramAddress(b), size: 1000, value: 2 },
      ]);
      const st = await drv.nextInterrupt();
      const err = { seqno: s, command: 0, op: "fill", time: 1100 };
      expect(st).toEqual({ fence: false, seqno: 0, faults: [], resets: [], errors: [err] });
      expect(gpu.commandError).toEqual(err);
      // Stopped, not hung: nothing runs until the driver restarts the engine.
      await sleep(1_000_000);
      expect([gpu.hung, gpu.busy, gpu.lastCompletedSeqno]).toEqual([false, true, 0]);
      expect(gpu.vram.read(a, 1000).every((x) => x === 0)).toBe(true);
      expect(gpu.restart()).toBe(true);
      expect(gpu.commandError).toBe(null);
      expect(await drv.wait(s)).toBe("done");
      expect(sim.now).toBe(1_001_100 + 1100 + 10);
      expect(gpu.vram.read(a, 1000).every((x) => x === 0)).toBe(true);
      expect(gpu.vram.read(b, 1000).every((x) => x === 2)).toBe(true);
      expect([gpu.executedCommands, gpu.completedSubmissions]).toEqual([2, 1]);
      // Only the next command errs; a restart of a running engine does nothing.
      expect(gpu.restart()).toBe(false);
      expect(
        await drv.wait(gpu.submit([{ op: "fill", dst: vramAddress(a), size: 8, value: 3 }])),
      ).toBe("done");
      expect(gpu.vram.read(a, 1)[0]).toBe(3);
      expect(drv.errors).toEqual([err]);
    });
  });

  it("a reset clears a command error and drops the rest of the batch", async () => {
    await run(async () => {
      const gpu = new SimGpu({ timing: TIMING });
      const drv = attach(gpu);
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 1);
      gpu.injectCommandError();
      const s = gpu.submit([{ op: "fill", dst: vramAddress(vo), size: 8, value: 1 }]);
      await drv.nextInterrupt();
      expect(gpu.reset()).toMatchObject({ lost: [s], wasHung: false });
      expect([gpu.commandError, gpu.busy]).toEqual([null, false]);
      expect(await drv.wait(gpu.submit([]))).toBe("done");
    });
  });
});
