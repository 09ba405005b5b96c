import {
  currentTask,
  formatSplat,
  type RunResult,
  Simulation,
  sleep,
  spawn,
  WaitQueue,
} from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { crc32 } from "./checksum.js";
import { type Command, systemAddress, vramAddress } from "./command.js";
import { EBUSY, EINVAL, ENOSPC } from "./errno.js";
import { SimGpu } from "./gpu.js";
import type { InterruptStatus } from "./irq.js";
import { PAGE_SIZE, type Page, readPages, SystemMemory, writePages } from "./page.js";

async function run(body: (sim: Simulation) => Promise<void>, seed = 1): Promise<RunResult> {
  const r = await new Simulation({ seed }).run(body);
  expect(r.splats.map(formatSplat)).toEqual([]);
  expect(r.outcome).toBe("ok");
  return r;
}

interface Delivery {
  status: InterruptStatus;
  time: number;
  task: string;
  kind: string;
}

/** What a driver does: an interrupt handler that wakes fence waiters, and a fence wait. */
function attach(gpu: SimGpu) {
  const wq = new WaitQueue(`${gpu.name} fences`);
  const deliveries: Delivery[] = [];
  gpu.onInterrupt((status) => {
    const t = currentTask()!;
    deliveries.push({ status, time: gpu.now, task: t.name, kind: t.kind });
    wq.wakeAll();
  });
  async function wait(seqno: number): Promise<void> {
    while (!gpu.seqnoPassed(seqno)) await wq.wait(`wait seqno ${seqno}`);
  }
  return { wq, deliveries, wait };
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + (i >> 8)) & 0xff);
}

describe("SimGpu commands", () => {
  it("fills, copies and checksums across VRAM and scatter lists spanning pages", async () => {
    await run(async () => {
      const gpu = new SimGpu({ vramPages: 8 });
      const irq = attach(gpu);
      const [a, b, c, d, e, f] = gpu.system.allocPages(6)!;
      const src: Page[] = [c!, a!, d!]; // a scatter list out of pfn order
      const dst: Page[] = [b!, f!];
      const data = pattern(9000, 1);
      writePages(src, 1000, data);
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 4);
      const csum = gpu.system.allocPage()!;

      const cmds: Command[] = [
        { op: "fill", dst: vramAddress(vo), size: 4 * PAGE_SIZE, value: 0xab },
        { op: "copy", src: systemAddress(src, 1000), dst: vramAddress(vo + 100), size: 9000 },
        // The result straddles a page boundary of its own scatter list.
        {
          op: "checksum",
          src: vramAddress(vo + 100),
          size: 9000,
          result: systemAddress([csum, e!], PAGE_SIZE - 2),
        },
        { op: "copy", src: vramAddress(vo + 50), dst: systemAddress(dst, 4000), size: 300 },
        { op: "checksum", src: systemAddress(src, 1000), size: 9000, result: vramAddress(vo) },
      ];
      const seqno = gpu.submit(cmds);
      expect(seqno).toBe(1);
      await irq.wait(seqno);

      const v = gpu.vram.read(vo, 4 * PAGE_SIZE);
      expect(v.subarray(0, 4).some((x) => x !== 0xab)).toBe(true); // the last checksum's bytes
      expect(v.subarray(4, 100).every((x) => x === 0xab)).toBe(true);
      expect(v.subarray(100, 9100)).toEqual(data);
      expect(v.subarray(9100).every((x) => x === 0xab)).toBe(true);
      const want = crc32(data);
      const split = Uint8Array.of(csum.data[PAGE_SIZE - 2]!, csum.data[PAGE_SIZE - 1]!, 0, 0);
      split.set(e!.data.subarray(0, 2), 2);
      expect(new DataView(split.buffer).getUint32(0, true)).toBe(want);
      expect(new DataView(v.buffer, v.byteOffset).getUint32(0, true)).toBe(want);
      const expected = new Uint8Array(300);
      expected.fill(0xab, 0, 50);
      expected.set(data.subarray(0, 250), 50);
      expect(readPages(dst, 4000, 300)).toEqual(expected);
      expect(gpu.faults).toEqual([]);
      expect(gpu.executedCommands).toBe(5);
    });
  });

  it("copies overlapping ranges like memmove", async () => {
    await run(async () => {
      const gpu = new SimGpu({ vramPages: 1 });
      const irq = attach(gpu);
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 1);
      const data = pattern(100, 2);
      gpu.vram.write(vo, data);
      const s = gpu.submit([
        { op: "copy", src: vramAddress(vo), dst: vramAddress(vo + 10), size: 100 },
      ]);
      await irq.wait(s);
      expect(gpu.vram.read(vo + 10, 100)).toEqual(data);
    });
  });
});

describe("SimGpu timing", () => {
  it("completes batches in order, in virtual time proportional to their size", async () => {
    await run(async (sim) => {
      const gpu = new SimGpu({ timing: { commandNs: 100, nsPerByte: 2, fenceNs: 10 } });
      const irq = attach(gpu);
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 2);
      const small: Command = { op: "fill", dst: vramAddress(vo), size: 1000, value: 1 };
      const big: Command = { op: "fill", dst: vramAddress(vo), size: 3000, value: 2 };
      const copy: Command = {
        op: "copy",
        src: vramAddress(vo),
        dst: vramAddress(vo + PAGE_SIZE),
        size: 500,
      };
      expect(gpu.commandNs(big)).toBe(6100);
      const t0 = sim.now;
      expect(gpu.submit([small])).toBe(1);
      expect(gpu.submit([big, copy])).toBe(2);
      expect(gpu.lastSubmittedSeqno).toBe(2);
      expect(gpu.busy).toBe(true);
      await irq.wait(2);
      expect(irq.deliveries.map((d) => [d.status.seqno, d.time - t0])).toEqual([
        [1, 100 + 2000 + 10],
        [2, 2110 + 100 + 6000 + 100 + 1000 + 10],
      ]);
      expect(gpu.busy).toBe(false);
      expect(gpu.vram.read(vo + PAGE_SIZE, 500).every((x) => x === 2)).toBe(true);
    });
  });

  it("applies a command at its completion time: reads the source then, writes the destination then", async () => {
    await run(async (sim) => {
      const gpu = new SimGpu({ timing: { commandNs: 0, nsPerByte: 1, fenceNs: 0 } });
      const irq = attach(gpu);
      const [p] = gpu.system.allocPages(1)!;
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 1);
      writePages([p!], 0, pattern(1000, 3));
      const s = gpu.submit([
        { op: "copy", src: systemAddress([p!]), dst: vramAddress(vo), size: 1000 },
      ]);
      await sleep(500);
      expect(sim.now).toBe(500);
      expect(gpu.vram.read(vo, 1000).every((x) => x === 0)).toBe(true); // not yet
      writePages([p!], 0, pattern(1000, 4)); // the host changes the source mid-flight
      await irq.wait(s);
      expect(sim.now).toBe(1000);
      expect(gpu.vram.read(vo, 1000)).toEqual(pattern(1000, 4));
    });
  });
});

describe("SimGpu fences and interrupts", () => {
  it("writes the seqno and runs the handler in an irq task that sees it", async () => {
    await run(async () => {
      const gpu = new SimGpu({ name: "gpuX" });
      const irq = attach(gpu);
      const fencePage = gpu.system.allocPage()!;
      gpu.setFenceAddress(systemAddress([fencePage], 64));
      const s1 = gpu.submit([]);
      await irq.wait(s1);
      expect(irq.deliveries).toHaveLength(1);
      const d = irq.deliveries[0]!;
      expect(d.task).toBe("irq/gpuX");
      expect(d.kind).toBe("irq");
      expect(d.status).toMatchObject({ fence: true, seqno: 1, faults: [], resets: [] });
      expect(new DataView(fencePage.data.buffer).getUint32(64, true)).toBe(1);
      expect(gpu.lastCompletedSeqno).toBe(1);
      expect(gpu.seqnoPassed(1)).toBe(true);
      expect(gpu.seqnoPassed(2)).toBe(false);
    });
  });

  it("coalesces interrupts raised before the handler runs into one status", async () => {
    await run(async () => {
      const gpu = new SimGpu({ timing: { commandNs: 0, nsPerByte: 0, fenceNs: 0 } });
      const irq = attach(gpu);
      gpu.submit([]);
      gpu.submit([]);
      gpu.submit([]);
      await irq.wait(3);
      expect(irq.deliveries.map((d) => d.status.seqno)).toEqual([3]);
      expect(gpu.interruptsDelivered).toBe(1);
    });
  });

  it("latches interrupts while no handler is registered and delivers them on registration", async () => {
    await run(async () => {
      const gpu = new SimGpu();
      gpu.submit([]);
      await sleep(1_000_000);
      expect(gpu.lastCompletedSeqno).toBe(1);
      const seen: number[] = [];
      gpu.onInterrupt((st) => {
        seen.push(st.seqno);
      });
      await sleep(1);
      expect(seen).toEqual([1]);
      gpu.onInterrupt(null);
      gpu.submit([]);
      await sleep(1_000_000);
      expect(seen).toEqual([1]);
    });
  });
});

describe("SimGpu ring", () => {
  it("refuses a batch when the ring is full (-EBUSY) and takes it once work retires", async () => {
    await run(async () => {
      const gpu = new SimGpu({ ringSize: 4 });
      const irq = attach(gpu);
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 1);
      const fill: Command = { op: "fill", dst: vramAddress(vo), size: 64, value: 9 };
      expect(gpu.submit([fill])).toBe(1);
      expect(gpu.submit([fill])).toBe(2);
      expect(gpu.ring).toEqual({ capacity: 4, head: 0, tail: 0, used: 4, space: 0 });
      expect(gpu.submit([])).toBe(-EBUSY);
      expect(gpu.lastSubmittedSeqno).toBe(2);
      expect(gpu.submit([fill, fill, fill, fill])).toBe(-ENOSPC);
      expect(gpu.submit([{ op: "fill", dst: vramAddress(vo), size: 1, value: 256 }])).toBe(-EINVAL);
      expect(gpu.submit([{ op: "nope" } as unknown as Command])).toBe(-EINVAL);
      const notPages = { space: "system", pages: [{ data: new Uint8Array(4096) }], offset: 0 };
      expect(gpu.submit([{ op: "fill", dst: notPages, size: 1, value: 1 } as Command])).toBe(
        -EINVAL,
      );
      expect(gpu.submit([{ op: "copy", src: vramAddress(-1), dst: vramAddress(0), size: 1 }])).toBe(
        -EINVAL,
      );
      expect(gpu.ring.used).toBe(4);
      await irq.wait(1);
      expect(gpu.ring).toMatchObject({ head: 2, tail: 0, used: 2, space: 2 });
      expect(gpu.submit([fill])).toBe(3);
      await irq.wait(3);
      expect(gpu.ring).toEqual({ capacity: 4, head: 2, tail: 2, used: 0, space: 4 });
    });
  });
});

describe("SimGpu faults", () => {
  it("faults a command whose system page the host freed under it, and writes nothing", async () => {
    await run(async () => {
      const gpu = new SimGpu();
      const irq = attach(gpu);
      const pages = gpu.system.allocPages(2)!;
      const s = gpu.submit([
        { op: "fill", dst: systemAddress(pages, 100), size: 2 * PAGE_SIZE - 100, value: 0xee },
        { op: "fill", dst: systemAddress(pages, 0), size: 10, value: 0x11 },
      ]);
      gpu.system.freePage(pages[1]!); // the host frees the buffer while the GPU still uses it
      await irq.wait(s);
      expect(gpu.faults).toHaveLength(1);
      const f = gpu.faults[0]!;
      expect(f).toMatchObject({
        reason: "freed",
        seqno: s,
        command: 0,
        op: "fill",
        access: "write",
        offset: PAGE_SIZE,
        physAddr: pages[1]!.physAddr,
      });
      expect(pages[0]!.data[100]).toBe(0); // atomic: the faulting fill wrote nothing
      expect(pages[0]!.data.subarray(0, 10).every((x) => x === 0x11)).toBe(true); // next ran
      const statuses = irq.deliveries.map((d) => d.status);
      expect(statuses.flatMap((st) => st.faults)).toEqual([f]);
      expect(statuses.at(-1)!.fence).toBe(true);
    });
  });

  it("faults instead of scribbling on a page freed and reused by someone else", async () => {
    await run(async () => {
      const gpu = new SimGpu();
      const irq = attach(gpu);
      const [p] = gpu.system.allocPages(1)!;
      const s = gpu.submit([{ op: "fill", dst: systemAddress([p!]), size: 16, value: 0x55 }]);
      gpu.system.freePage(p!);
      const reused = gpu.system.allocPage()!;
      expect(reused).toBe(p);
      await irq.wait(s);
      expect(gpu.faults.map((f) => f.reason)).toEqual(["reused"]);
      expect(reused.data.subarray(0, 16).every((x) => x === 0)).toBe(true);
    });
  });

  it("faults on freed VRAM, unallocated VRAM, out-of-range and foreign pages", async () => {
    await run(async () => {
      const gpu = new SimGpu({ vramPages: 4 });
      const irq = attach(gpu);
      const vr = gpu.vram.region(0, gpu.vram.pages);
      const vo = vr.claim(0, 2);
      const foreign = new SystemMemory({ pages: 1, name: "elsewhere" }).allocPage()!;
      const [mine] = gpu.system.allocPages(1)!;
      const s = gpu.submit([
        { op: "copy", src: vramAddress(vo), dst: systemAddress([mine!]), size: 8 },
        { op: "fill", dst: vramAddress(3 * PAGE_SIZE), size: 8, value: 1 },
        { op: "fill", dst: vramAddress(4 * PAGE_SIZE - 4), size: 8, value: 1 },
        { op: "checksum", src: systemAddress([foreign]), size: 8, result: vramAddress(vo) },
        { op: "fill", dst: systemAddress([mine!], PAGE_SIZE - 4), size: 8, value: 1 },
      ]);
      vr.release(0);
      await irq.wait(s);
      expect(gpu.faults.map((f) => [f.command, f.access, f.reason, f.offset])).toEqual([
        [0, "read", "freed", vo],
        [1, "write", "unmapped", 3 * PAGE_SIZE],
        [2, "write", "unmapped", 4 * PAGE_SIZE - 4],
        [3, "read", "unmapped", 0],
        [4, "write", "out-of-range", PAGE_SIZE],
      ]);
      expect(gpu.faults[4]!.physAddr).toBeNull();
      expect(mine!.data.every((x) => x === 0)).toBe(true);
      expect(gpu.lastCompletedSeqno).toBe(s);
    });
  });

  it("faults an absurdly large access where memory ends, writing nothing", async () => {
    await run(async () => {
      const gpu = new SimGpu({ vramPages: 2, timing: { commandNs: 0, nsPerByte: 0, fenceNs: 0 } });
      const irq = attach(gpu);
      const vo = gpu.vram.region(0, gpu.vram.pages).claim(0, 2);
      const s = gpu.submit([{ op: "fill", dst: vramAddress(vo), size: 2 ** 40, value: 1 }]);
      await irq.wait(s);
      expect(gpu.faults).toMatchObject([{ reason: "out-of-range", offset: 2 * PAGE_SIZE }]);
      expect(gpu.vram.read(0, gpu.vram.size).every((x) => x === 0)).toBe(true);
    });
  });

  it("faults the fence write when the fence page was freed, still updating the register", async () => {
    await run(async () => {
      const gpu = new SimGpu();
      const irq = attach(gpu);
      const p = gpu.system.allocPage()!;
      gpu.setFenceAddress(systemAddress([p]));
      gpu.system.freePage(p);
      const s = gpu.submit([]);
      await irq.wait(s);
      expect(gpu.faults).toMatchObject([{ op: "fence", command: -1, reason: "freed", seqno: s }]);
      expect(gpu.lastCompletedSeqno).toBe(s);
    });
  });
});

describe("SimGpu and simulations", () => {
  it("belongs to the simulation it was created in", async () => {
    const outside = new SimGpu();
    let inner: SimGpu | null = null;
    const r = await new Simulation().run(async () => {
      expect(() => outside.submit([])).toThrow(/belongs to no simulation/);
      expect(() => outside.reset()).toThrow(/belongs to no simulation/);
      inner = new SimGpu();
      expect(() => inner!.tick(1)).toThrow(/simulation's clock/);
      spawn("t", () => {
        expect(inner!.submit([])).toBe(1);
      });
    });
    expect(r.splats.map(formatSplat)).toEqual([]);
    expect(() => inner!.submit([])).toThrow(/not the one running/);
  });
});

describe('SimGpu clock: "device"', () => {
  it("in a simulation, work completes only when the device's own thread runs its clock; the interrupt goes to an irq task", async () => {
    const seen: string[] = [];
    await run(async (sim) => {
      const gpu = new SimGpu({ vramPages: 2, clock: "device" });
      const irq = attach(gpu);
      const seqno = gpu.submit([]); // a bare fence
      expect(seqno).toBe(1);
      await sleep(1_000_000); // simulation time passes: nothing completes on its own
      seen.push(`after sleep: ${gpu.lastCompletedSeqno}`);
      const dev = spawn("device-thread", () => {
        gpu.runUntilIdle();
        seen.push(`device ran: ${gpu.lastCompletedSeqno}`);
      });
      await dev.join();
      while (irq.deliveries.length === 0) await irq.wq.wait("wait for the interrupt");
      seen.push(`irq by ${irq.deliveries[0]!.kind} task at sim time ${sim.now}`);
      expect(gpu.seqnoPassed(seqno)).toBe(true);
    });
    expect(seen).toEqual([
      "after sleep: 0",
      "device ran: 1",
      "irq by irq task at sim time 1000000",
    ]);
  });
});
