/**
 * qxl's drawn configuration (DriverUnderTest.registerDrawn, the fuzzer's private runs): the
 * draws in their order, and what a small drawn VRAM does to QXL_ALLOC: buffers past its size
 * evict the older ones to system memory (qxl_evict_flags()) with their contents, and a buffer
 * larger than the whole VRAM is refused with ttm_bo_validate()'s -ENOMEM.
 */

import { ENOMEM, Kernel } from "@primetime/kernel";
import { Simulation } from "@primetime/sim";
import { TTM_PL_VRAM, ttmManagerType } from "@primetime/ttm";
import { describe, expect, it } from "vitest";
import {
  drawQxlConfig,
  driverUnderTest,
  QXL_DRAWN_CONFIGS,
  QXL_DRAWN_CRTCS,
  QXL_DRAWN_SURFACES,
  QXL_SMALL_SURFACE_PAGES,
  QXL_SMALL_VRAM_PAGES,
  registerDrawnQxl,
} from "./driver-under-test.js";
import {
  expectClean,
  load,
  openQxl,
  qxlAlloc,
  qxlMap,
  runProcess,
  runQxl,
} from "./test-machine.js";

const PAGE = 4096;
const SMALL = QXL_SMALL_VRAM_PAGES;

/** A draw function answering `picks` in order, recording the labels asked. */
function scripted(picks: number[], labels: string[]) {
  return (n: number, label: string) => {
    labels.push(label);
    const v = picks.shift() ?? 0;
    if (v >= n) throw new RangeError(`${label}: ${v} >= ${n}`);
    return v;
  };
}

describe("drawQxlConfig", () => {
  it("one draw gives the surface slots and the VRAM (values 0-3: the harness's size, as before the VRAM was drawn; 12-23 a small VRAM, as 12-15 were before the share became one in two), then the spice worker", () => {
    const labels: string[] = [];
    const base = { vramPages: 64, surfacePages: 64 };
    const all = [];
    for (let k = 0; k < QXL_DRAWN_CONFIGS; k++)
      all.push(drawQxlConfig(scripted([k, k & 1], labels), base));
    expect(labels.slice(0, 2)).toEqual(["qxl num_surfaces", "qxl spice worker"]);
    for (let k = 0; k < 4; k++)
      expect(all[k]).toEqual({
        ...base,
        nSurfaces: QXL_DRAWN_SURFACES[k],
        spiceWorker: (k & 1) === 1,
      });
    const small = all.filter((c) => c.vramPages === SMALL);
    expect(QXL_DRAWN_CONFIGS).toBe(24);
    expect(small).toHaveLength(QXL_DRAWN_CONFIGS / 2);
    expect(all.slice(12, 16).every((c) => c.vramPages === SMALL)).toBe(true);
    expect(small.every((c) => c.surfacePages === QXL_SMALL_SURFACE_PAGES)).toBe(true);
    expect(small.map((c) => c.nSurfaces)).toEqual([
      ...QXL_DRAWN_SURFACES,
      ...QXL_DRAWN_SURFACES,
      ...QXL_DRAWN_SURFACES,
    ]);
    expect(all.filter((c) => c.vramPages === 64)).toHaveLength(QXL_DRAWN_CONFIGS / 2);
  });

  it("registerDrawnQxl says the memory is scarce below the default VRAM only", async () => {
    const scarce: (boolean | undefined)[] = [];
    const sim = new Simulation({ seed: 1 });
    const r = await sim.run(async () => {
      const kernel = Kernel.boot();
      for (const [vram, base] of [
        [0, {}],
        [QXL_DRAWN_CONFIGS - 1, {}],
        [0, { vramPages: 64, surfacePages: 64 }],
      ] as const) {
        const d = await registerDrawnQxl(kernel, scripted([vram, 0], []), base);
        scarce.push(d.scarceMemory);
      }
    });
    expect(r.outcome).toBe("ok");
    expect(scarce).toEqual([false, true, true]);
  });
});

describe("a drawn device that scans out (DrawnDeviceWants.scanout)", () => {
  it("draws its CRTC count last ('qxl crtcs': 1 or 2), after the same draws as before, and keeps the harness's VRAM; without it nothing more is drawn and the device has no CRTC", async () => {
    const plain: string[] = [];
    const scan: string[] = [];
    const base = { vramPages: 64, surfacePages: 64 };
    expect(drawQxlConfig(scripted([1, 1], plain), base)).toEqual(
      drawQxlConfig(scripted([1, 1], []), base, { scanout: false }),
    );
    expect(plain).toEqual(["qxl num_surfaces", "qxl spice worker"]);
    expect("crtcs" in drawQxlConfig(scripted([1, 1], []), base)).toBe(false);
    for (const [i, n] of QXL_DRAWN_CRTCS.entries()) {
      const c = drawQxlConfig(scripted([QXL_DRAWN_CONFIGS - 1, 0, i], scan), base, {
        scanout: true,
      });
      // (The harness's VRAM, not the small one the value would give without scanout.)
      expect(c).toMatchObject({ vramPages: 64, surfacePages: 64, crtcs: n, spiceWorker: false });
    }
    expect(scan.slice(0, 3)).toEqual(["qxl num_surfaces", "qxl spice worker", "qxl crtcs"]);
    const counts: number[] = [];
    const sim = new Simulation({ seed: 1 });
    const r = await sim.run(async () => {
      const kernel = Kernel.boot();
      for (const want of [undefined, { scanout: true }, { scanout: true }]) {
        const picks = [0, 0, counts.length === 2 ? 1 : 0];
        const d = await driverUnderTest.registerDrawn!(kernel, scripted(picks, []), want);
        const dev = "device" in d ? d.device : d;
        counts.push(dev.modeConfig.numCrtc);
      }
    });
    expect(r.outcome).toBe("ok");
    expect(counts).toEqual([0, 1, 2]);
  });
});

describe("a small drawn VRAM", () => {
  it("QXL_ALLOC past it evicts older buffers to system memory with their contents; one larger than it is -ENOMEM", async () => {
    const seen = { vramBytes: -1, tooBig: 0, sums: [] as number[] };
    const r = await runQxl(
      async (m) => {
        await runProcess(m, "client", async (p) => {
          const fd = await openQxl(p, m);
          const handles: number[] = [];
          const maps: number[] = [];
          // Five buffers of 4 pages each: 20 pages through a VRAM of 12.
          for (let i = 0; i < 5; i++) {
            const h = await qxlAlloc(p, fd, 4 * PAGE);
            expect(h).toBeGreaterThan(0);
            const addr = await qxlMap(p, fd, h, 4 * PAGE);
            expect(await p.writeMemory(addr, new Uint8Array(4 * PAGE).fill(0x10 + i))).toBe(
              4 * PAGE,
            );
            handles.push(h);
            maps.push(addr);
          }
          // Twenty pages made, at most twelve of them in VRAM: the others were evicted.
          seen.vramBytes = ttmManagerType(m.qxl.qdev.mman, TTM_PL_VRAM)!.usage;
          for (const addr of maps) {
            const bytes = await load(p, addr, 4 * PAGE);
            seen.sums.push(bytes.reduce((a, b) => a + b, 0));
          }
          seen.tooBig = await qxlAlloc(p, fd, (SMALL + 1) * PAGE);
          await p.close(fd);
        });
      },
      { device: { vramPages: SMALL, surfacePages: QXL_SMALL_SURFACE_PAGES } },
    );
    expectClean(r);
    expect(seen.vramBytes).toBeGreaterThan(0);
    expect(seen.vramBytes).toBeLessThanOrEqual(SMALL * PAGE);
    expect(seen.sums).toEqual([0, 1, 2, 3, 4].map((i) => (0x10 + i) * 4 * PAGE));
    expect(seen.tooBig).toBe(-ENOMEM);
  });
});
