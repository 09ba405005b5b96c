import { crc32 } from "@primetime/simgpu";
import { describe, expect, it } from "vitest";
import {
  closeFd,
  expectClean,
  expectRet,
  gemClose,
  load,
  openQxl,
  qxlAlloc,
  qxlAllocSurf,
  qxlExecDraw,
  qxlMap,
  qxlUpdateArea,
  runProcess,
  runQxl,
} from "./test-machine.js";

describe("qxl driver", () => {
  it("fills a buffer on the GPU, checksums it on the GPU, reads it back through mmap", async () => {
    let sum = 0;
    let bytes: Uint8Array | null = null;
    const r = await runQxl(async (m) => {
      await runProcess(m, "client", async (p) => {
        const fd = await openQxl(p, m);
        const bo = await qxlAlloc(p, fd, 8192);
        const res = await qxlAlloc(p, fd, 4096);
        expect(bo).toBeGreaterThan(0);
        expectRet(
          await qxlExecDraw(p, fd, {
            op: "fill",
            size: 8192,
            value: 0xa5,
            dst: { handle: bo, offset: 0 },
          }),
          0,
          "fill",
        );
        expectRet(
          await qxlExecDraw(p, fd, {
            op: "checksum",
            size: 8192,
            dst: { handle: res, offset: 0 },
            src: { handle: bo, offset: 0 },
          }),
          0,
          "checksum",
        );
        const surf = await qxlAllocSurf(p, fd, 64, 16);
        expect(surf).toBeGreaterThan(0);
        expectRet(
          await qxlExecDraw(p, fd, {
            op: "fill",
            size: 256,
            value: 7,
            dst: { handle: surf, offset: 0, surface: true },
          }),
          0,
          "fill surface",
        );
        expectRet(await qxlUpdateArea(p, fd, surf, 64, 16), 0, "update area");
        const a = await qxlMap(p, fd, res, 4096);
        const b = await qxlMap(p, fd, bo, 8192);
        sum = new DataView((await load(p, a, 4)).buffer).getUint32(0, true);
        bytes = await load(p, b, 8192);
        expectRet(await gemClose(p, fd, surf), 0, "close surf");
        expectRet(await gemClose(p, fd, bo), 0, "close");
        expectRet(await gemClose(p, fd, res), 0, "close");
        await closeFd(p, fd);
      });
    });
    expectClean(r);
    expect(bytes![0]).toBe(0xa5);
    expect(sum).toBe(crc32(new Uint8Array(8192).fill(0xa5)));
  });
});
