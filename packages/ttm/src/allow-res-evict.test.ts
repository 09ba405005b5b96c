/**
 * ttm_operation_ctx's allow_res_evict and resv (include/drm/ttm/ttm_bo.h; the test in
 * ttm_lru_walk_trylock() of v6.12.19 and v6.18): a validation may evict BOs sharing the
 * reservation it holds (amdgpu's per-VM BOs) only when its context names that reservation and
 * allows it; either field alone leaves such BOs unevictable, as trylock fails on them.
 */

import { DmaResv, dmaResvFini, dmaResvLock, dmaResvUnlock } from "@primetime/dma-buf";
import { drmGemObjectPut } from "@primetime/gem";
import { ENOMEM, flushWorkqueue } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import { expectClean, runTtm, SYSTEM, TT, testVmBoCreate } from "./test-support.js";
import { ttmBoValidate } from "./ttm-bo.js";
import type { TtmOperationCtx } from "./ttm-bo-type.js";
import { TTM_PL_SYSTEM, TTM_PL_TT } from "./ttm-placement.js";

/** Three BOs of one reservation (held): a and b fill TT, c (in SYSTEM) is validated into TT. */
async function validateSharing(extra: Partial<TtmOperationCtx>, useResv: boolean) {
  const seen: {
    ret: number;
    a: number | undefined;
    b: number | undefined;
    c: number | undefined;
  }[] = [];
  const r = await runTtm(
    async (m) => {
      const vmResv = new DmaResv();
      await dmaResvLock(vmResv);
      const a = await testVmBoCreate(m, 2, TT, vmResv);
      const b = await testVmBoCreate(m, 2, TT, vmResv);
      const c = await testVmBoCreate(m, 2, SYSTEM, vmResv);
      const ctx: TtmOperationCtx = {
        interruptible: false,
        noWaitGpu: false,
        bytesMoved: 0,
        ...extra,
        ...(useResv ? { resv: vmResv } : {}),
      };
      const ret = await ttmBoValidate(c, TT, ctx);
      seen.push({
        ret,
        a: a.resource?.memType,
        b: b.resource?.memType,
        c: c.resource?.memType,
      });
      await dmaResvUnlock(vmResv);
      for (const bo of [a, b, c]) await drmGemObjectPut(bo);
      await flushWorkqueue(m.bdev.wq!);
      await dmaResvFini(vmResv);
    },
    { ttPages: 4 },
  );
  expectClean(r);
  return seen[0]!;
}

describe("ttm_operation_ctx.allow_res_evict", () => {
  it("with the caller's reservation as ctx->resv, a validation evicts the least recently used BO sharing it", async () => {
    const s = await validateSharing({ allowResEvict: true }, true);
    expect(s).toEqual({ ret: 0, a: TTM_PL_SYSTEM, b: TTM_PL_TT, c: TTM_PL_TT });
  });

  it("without it, or with only one of the two fields (vmwgfx's second try: allow_res_evict, no resv), BOs sharing the held reservation are not evicted: -ENOMEM", async () => {
    for (const [extra, useResv] of [
      [{}, false],
      [{ allowResEvict: true }, false],
      [{}, true],
      [{ allowResEvict: false }, true],
    ] as const) {
      const s = await validateSharing(extra, useResv);
      expect(s, JSON.stringify({ extra, useResv })).toEqual({
        ret: -ENOMEM,
        a: TTM_PL_TT,
        b: TTM_PL_TT,
        c: TTM_PL_SYSTEM,
      });
    }
  });
});
