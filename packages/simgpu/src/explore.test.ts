import {
  formatSplat,
  point,
  report,
  type Scenario,
  SimMutex,
  spawn,
  WaitQueue,
} from "@primetime/sim";
import { checkDeterminism, explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { crc32 } from "./checksum.js";
import { type Command, systemAddress, vramAddress } from "./command.js";
import { EBUSY } from "./errno.js";
import { SimGpu } from "./gpu.js";
import { PAGE_SIZE, readPages } from "./page.js";

interface Stats {
  runs: number;
  ringFull: number;
}

/**
 * Several submitters share one small ring (one batch fits at a time) under a ring lock, retry on
 * -EBUSY after the next completion, wait for their fence and check their bytes and checksums.
 * Every inconsistency is reported as a splat, which explore() counts as a failure.
 */
function submitters(stats: Stats, workers = 3, rounds = 2): Scenario {
  return async () => {
    stats.runs++;
    const gpu = new SimGpu({
      ringSize: 5,
      vramPages: 2 * workers,
      timing: { commandNs: 50, nsPerByte: 1, fenceNs: 5 },
    });
    const wq = new WaitQueue("gpu0 fences");
    const delivered: number[] = [];
    gpu.onInterrupt(async (st) => {
      await point("gpu0 irq: retire");
      delivered.push(st.seqno);
      wq.wakeAll();
    });
    const ringLock = new SimMutex("gpu0 ring");
    const completedOrder: number[] = [];
    const tasks = [];
    const vr = gpu.vram.region(0, gpu.vram.pages);
    for (let w = 0; w < workers; w++) {
      const vo = vr.claim(2 * w, 2); // the offsets drm_mm_insert_node() gave in an empty VRAM
      const pages = gpu.system.allocPages(2)!;
      tasks.push(
        spawn(`submitter${w}`, async () => {
          for (let round = 0; round < rounds; round++) {
            const value = w * 16 + round + 1;
            const size = 1000 + w * 1500 + round * 700;
            const result = vo + 2 * PAGE_SIZE - 4;
            const cmds: Command[] = [
              { op: "fill", dst: vramAddress(vo), size, value },
              { op: "copy", src: vramAddress(vo), dst: systemAddress(pages, 3000), size },
              {
                op: "checksum",
                src: systemAddress(pages, 3000),
                size,
                result: vramAddress(result),
              },
            ];
            let seqno: number;
            for (;;) {
              await ringLock.lock();
              seqno = gpu.submit(cmds);
              const seen = gpu.lastCompletedSeqno;
              await ringLock.unlock();
              if (seqno > 0) break;
              if (seqno !== -EBUSY) report("warn", `submit returned ${seqno}`);
              stats.ringFull++;
              while (gpu.lastCompletedSeqno === seen) await wq.wait("ring full");
            }
            while (!gpu.seqnoPassed(seqno)) await wq.wait(`fence ${seqno}`);
            completedOrder.push(seqno);
            const want = new Uint8Array(size).fill(value);
            const got = readPages(pages, 3000, size);
            if (!got.every((x, i) => x === want[i]))
              report("warn", `submitter${w} round ${round}: copied bytes differ`);
            const sum = gpu.vram.view(result, 4).getUint32(0, true);
            if (sum !== crc32(want))
              report("warn", `submitter${w} round ${round}: checksum ${sum} != ${crc32(want)}`);
          }
        }),
      );
    }
    for (const t of tasks) await t.join();
    const n = workers * rounds;
    if (gpu.lastCompletedSeqno !== n || gpu.lastSubmittedSeqno !== n || gpu.busy)
      report("warn", `seqnos: completed ${gpu.lastCompletedSeqno}, submitted ${n}`);
    if (new Set(completedOrder).size !== n) report("warn", `seqnos not unique: ${completedOrder}`);
    if (delivered.some((s, i) => i > 0 && s <= delivered[i - 1]!))
      report("warn", `interrupts saw seqnos out of order: ${delivered}`);
    if (gpu.faults.length > 0) report("warn", `unexpected faults: ${gpu.faults.length}`);
  };
}

describe("several submitters", () => {
  it("produce consistent results under PCT, filling the ring", async () => {
    const stats: Stats = { runs: 0, ringFull: 0 };
    const res = await explore(submitters(stats), { strategy: "pct", depth: 3, schedules: 40 });
    const f = res.firstFailure;
    expect(f ? `${f.outcome}: ${f.splats.map(formatSplat).join("\n")}` : null).toBeNull();
    expect(res.schedules).toBe(40);
    expect(stats.runs).toBe(40);
    expect(stats.ringFull).toBeGreaterThan(0);
  });

  it("and under random scheduling", async () => {
    const stats: Stats = { runs: 0, ringFull: 0 };
    const res = await explore(submitters(stats, 2, 3), { strategy: "random", schedules: 30 });
    expect(res.firstFailure?.splats.map(formatSplat) ?? null).toBeNull();
  });

  it("is deterministic: same seed, same trace", async () => {
    const stats: Stats = { runs: 0, ringFull: 0 };
    for (const seed of [1, 9]) {
      const d = await checkDeterminism(submitters(stats), { seed });
      expect(d.deterministic, d.message).toBe(true);
    }
    const a = await checkDeterminism(submitters(stats), { seed: 1 });
    const b = await checkDeterminism(submitters(stats), { seed: 2 });
    expect(a.hashes[0]).not.toBe(b.hashes[0]);
  });
});
