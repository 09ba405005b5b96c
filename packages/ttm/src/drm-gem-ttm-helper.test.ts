import {
  DmaDataDirection,
  dmaBufAttach,
  dmaBufDetach,
  dmaBufMapAttachmentUnlocked,
  dmaBufPut,
  dmaBufUnmapAttachmentUnlocked,
  sgRead,
} from "@primetime/dma-buf";
import { drmGemObjectPut, drmGemPrimeExport } from "@primetime/gem";
import { isErr } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import { boAccess, expectClean, runTtm, testBoCreate, VRAM } from "./test-support.js";
import { ttmBoReserve, ttmBoUnreserve, ttmBoValidate } from "./ttm-bo.js";
import { TTM_PL_TT, TTM_PL_VRAM } from "./ttm-placement.js";

const ctx = () => ({ interruptible: false, noWaitGpu: false, bytesMoved: 0 });

describe("PRIME export of a TTM BO", () => {
  it("pins the BO in TT while attached (no move, no eviction), maps its pages, moves again after detach", async () => {
    const r = await runTtm(
      async (m) => {
        const bo = await testBoCreate(m, 2 * 4096, VRAM);
        if (isErr(bo)) throw new Error("create");
        const data = new Uint8Array(8192).map((_, i) => (i * 5) & 0xff);
        await boAccess(bo, 0, data, true);
        const dmabuf = await drmGemPrimeExport(bo, 0);
        if (isErr(dmabuf)) throw new Error(`export ${dmabuf}`);
        const attach = await dmaBufAttach(dmabuf, { name: "importer" });
        if (isErr(attach)) throw new Error(`attach ${attach}`);
        expect(bo.pinCount).toBe(1);
        expect(bo.resource!.memType).toBe(TTM_PL_TT);
        const sgt = await dmaBufMapAttachmentUnlocked(attach, DmaDataDirection.BIDIRECTIONAL);
        if (isErr(sgt)) throw new Error(`map ${sgt}`);
        expect(sgRead(sgt, 0, 8192)).toEqual(data);
        // Pinned: validation elsewhere is refused, and VRAM pressure does not evict it.
        await ttmBoReserve(bo, false, false);
        expect(await ttmBoValidate(bo, VRAM, ctx())).toBe(-22);
        await ttmBoUnreserve(bo);
        // The importer's writes are the BO's bytes.
        sgt.pages[0]![0] = 0xaa;
        const back = new Uint8Array(1);
        await boAccess(bo, 0, back, false);
        expect(back[0]).toBe(0xaa);
        await dmaBufUnmapAttachmentUnlocked(attach, sgt, DmaDataDirection.BIDIRECTIONAL);
        await dmaBufDetach(dmabuf, attach);
        expect(bo.pinCount).toBe(0);
        await ttmBoReserve(bo, false, false);
        expect(await ttmBoValidate(bo, VRAM, ctx())).toBe(0);
        await ttmBoUnreserve(bo);
        expect(bo.resource!.memType).toBe(TTM_PL_VRAM);
        await dmaBufPut(dmabuf);
        await drmGemObjectPut(bo);
      },
      { register: true },
    );
    expectClean(r);
  });
});
