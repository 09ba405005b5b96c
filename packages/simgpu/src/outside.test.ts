import { outsideDmesg } from "@primetime/sim";
import { beforeEach, describe, expect, it } from "vitest";
import { type Command, systemAddress, vramAddress } from "./command.js";
import { SimGpu } from "./gpu.js";
import type { InterruptStatus } from "./irq.js";

beforeEach(() => {
  outsideDmesg.clear();
});

const TIMING = { commandNs: 100, nsPerByte: 1, fenceNs: 10 };

describe("SimGpu outside a simulation", () => {
  it("immediate mode: work is done when submit() returns; handlers run afterwards", async () => {
    const gpu = new SimGpu({ timing: TIMING });
    expect(gpu.sim).toBeNull();
    const seen: InterruptStatus[] = [];
    gpu.onInterrupt((st) => {
      seen.push(st);
    });
    const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 1);
    const s = gpu.submit([{ op: "fill", dst: vramAddress(vo), size: 1000, value: 4 }]);
    expect(s).toBe(1);
    expect(gpu.lastCompletedSeqno).toBe(1);
    expect(gpu.now).toBe(1110);
    expect(gpu.vram.read(vo, 1000).every((x) => x === 4)).toBe(true);
    expect(seen).toEqual([]); // never inside submit()
    await gpu.flush();
    expect(seen.map((st) => st.seqno)).toEqual([1]);
  });

  it("manual mode: nothing happens until tick() or runUntilIdle()", async () => {
    const gpu = new SimGpu({ timing: TIMING, outside: "manual" });
    const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 1);
    const fill: Command = { op: "fill", dst: vramAddress(vo), size: 1000, value: 5 };
    gpu.submit([fill]);
    gpu.submit([fill]);
    expect([gpu.lastCompletedSeqno, gpu.busy]).toEqual([0, true]);
    gpu.tick(1099);
    expect(gpu.vram.read(vo, 1)[0]).toBe(0);
    gpu.tick(1);
    expect(gpu.vram.read(vo, 1)[0]).toBe(5); // the command is done, its fence not yet
    expect(gpu.lastCompletedSeqno).toBe(0);
    gpu.tick(10);
    expect(gpu.lastCompletedSeqno).toBe(1);
    gpu.runUntilIdle();
    expect([gpu.lastCompletedSeqno, gpu.busy, gpu.now]).toEqual([2, false, 2220]);
  });

  it("hangs, resets and reports faults to the handler", async () => {
    const gpu = new SimGpu({ timing: TIMING });
    const seen: InterruptStatus[] = [];
    gpu.onInterrupt((st) => {
      seen.push(st);
    });
    gpu.injectHang();
    gpu.submit([]);
    expect([gpu.lastCompletedSeqno, gpu.busy, gpu.hung]).toEqual([0, true, true]);
    const r = gpu.reset();
    expect(r.lost).toEqual([1]);
    const p = gpu.system.allocPage()!;
    gpu.system.freePage(p);
    gpu.submit([{ op: "fill", dst: systemAddress([p]), size: 8, value: 1 }]);
    await gpu.flush();
    expect(seen.flatMap((st) => st.resets)).toEqual([r]);
    expect(seen.flatMap((st) => st.faults.map((f) => f.reason))).toEqual(["freed"]);
    expect(seen.at(-1)!.seqno).toBe(2);
  });

  it("reports a throwing handler as a bug and keeps delivering", async () => {
    const gpu = new SimGpu();
    let calls = 0;
    gpu.onInterrupt(() => {
      calls++;
      if (calls === 1) throw new Error("oops");
    });
    gpu.submit([]);
    await gpu.flush();
    gpu.submit([]);
    await gpu.flush();
    expect(calls).toBe(2);
    expect(outsideDmesg.ofKind("bug").map((s) => s.message)).toEqual([
      "interrupt handler of gpu0 threw: oops",
    ]);
  });
});
