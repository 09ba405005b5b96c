/**
 * Cross-driver PRIME between qxl and vgem, in both directions (a driver's own tests may not load
 * another driver, so the pair runs here, where both are installed): qxl exports to vgem and
 * imports from it, every close order, contents checked on both sides, a leak check after each.
 * qxl is not in `installedDrivers()` (the campaign's driver list), only here.
 */

import { conformanceCases, formatCaseResult } from "@primetime/conformance";
import { DRM_IOCTL_MODE_CREATE_DUMB, DRM_IOCTL_MODE_MAP_DUMB } from "@primetime/gem";
import { Kernel, MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE } from "@primetime/kernel";
import { createQxl, destroyQxl, driverUnderTest as qxl } from "@primetime/qxl";
import {
  load,
  primeExport,
  primeImport,
  qxlAlloc,
  qxlExecDraw,
  qxlMap,
} from "@primetime/qxl/testing";
import { Simulation, sleep } from "@primetime/sim";
import { crc32 } from "@primetime/simgpu";
import { createVgem, destroyVgem, driverUnderTest as vgem } from "@primetime/vgem";
import { describe, expect, it } from "vitest";

describe("cross-driver PRIME: qxl and vgem", () => {
  for (const [a, b] of [
    [qxl, vgem],
    [vgem, qxl],
  ] as const) {
    // IGT's prime_vgem with its real pair: vgem exporting, the other device importing.
    for (const c of conformanceCases(a, [b]).filter(
      (x) =>
        x.name.startsWith("prime_cross_driver/") ||
        (a === vgem && x.name.startsWith("prime_vgem/")),
    )) {
      it(`${a.name}: ${c.name}`, { timeout: 120_000 }, async () => {
        const r = await c.run();
        expect(r.passed, formatCaseResult(r)).toBe(true);
      });
    }
  }
});

describe("cross-driver PRIME: qxl and vgem, contents through qxl's GPU", () => {
  it("qxl's GPU fills what vgem reads; vgem's CPU writes what qxl's GPU checksums", async () => {
    const size = 16384;
    const out: { vgemSaw?: Uint8Array; qxlSum?: number } = {};
    const sim = new Simulation({ seed: 1 });
    const r = await sim.run(async () => {
      const kernel = Kernel.boot();
      const q = await createQxl(kernel);
      const v = await createVgem(kernel);
      const proc = kernel.spawnProcess("client", async (p) => {
        const fdQ = await p.open(q.card, O_RDWR); // the first opener is the master: authenticated
        const fdV = await p.open(v.card, O_RDWR);
        // qxl exports: its GPU fills (qxl's test helpers), vgem's CPU reads.
        const a = await qxlAlloc(p, fdQ, size);
        expect(
          await qxlExecDraw(p, fdQ, {
            op: "fill",
            size,
            value: 0x3c,
            dst: { handle: a, offset: 0 },
          }),
        ).toBe(0);
        await sleep(1_000_000); // the device finishes (qxl has no implicit sync)
        const e = await primeExport(p, fdQ, a);
        expect(await primeImport(p, fdV, e)).toBeGreaterThan(0);
        const dm = await p.mmap(0, size, PROT_READ, MAP_SHARED, e, 0);
        out.vgemSaw = await load(p, dm, size);
        await p.munmap(dm, size);
        // vgem exports: its CPU writes, qxl's GPU checksums.
        const vb = {
          width: 1024,
          height: size / 4096,
          bpp: 32,
          flags: 0,
          handle: 0,
          pitch: 0,
          size: 0,
        };
        await p.ioctl(fdV, DRM_IOCTL_MODE_CREATE_DUMB, vb);
        const mv = { handle: vb.handle, pad: 0, offset: 0 };
        await p.ioctl(fdV, DRM_IOCTL_MODE_MAP_DUMB, mv);
        const vm = await p.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fdV, mv.offset);
        await p.writeMemory(vm, new Uint8Array(size).fill(0x5a));
        const ve = await primeExport(p, fdV, vb.handle);
        const qi = await primeImport(p, fdQ, ve);
        const res = await qxlAlloc(p, fdQ, 4096);
        const d = { handle: res, offset: 0 };
        expect(
          await qxlExecDraw(p, fdQ, {
            op: "checksum",
            size,
            dst: d,
            src: { handle: qi, offset: 0 },
          }),
        ).toBe(0);
        await sleep(1_000_000);
        const ra = await qxlMap(p, fdQ, res, 4096);
        const sum = await load(p, ra, 4);
        out.qxlSum = new DataView(sum.buffer, sum.byteOffset, 4).getUint32(0, true);
        await p.munmap(ra, 4096);
        await p.munmap(vm, size);
        for (const fd of [e, ve, fdV, fdQ]) await p.close(fd);
      });
      await proc.wait();
      await sleep(10_000_000);
      await destroyQxl(q);
      await destroyVgem(v);
      await kernel.checkLeaks();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(out.vgemSaw!.every((x) => x === 0x3c)).toBe(true);
    expect(out.qxlSum).toBe(crc32(new Uint8Array(size).fill(0x5a)));
  });
});
