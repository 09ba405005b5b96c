/**
 * vmwgfx buffer objects against v6.12's vmwgfx_bo.c / vmwgfx_gem.c: the GEM ->pin/->unpin of an
 * exported buffer (vmw_gem_object_pin() -> vmw_bo_pin_reserved(), which pins or unpins only when
 * the pinned state changes).
 */

import { dmaBufAttach, dmaBufDetach, dmaBufGet, dmaBufPut } from "@primetime/dma-buf";
import { isErr } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import {
  expectClean,
  handleToFd,
  mobCreate,
  ok,
  openNode,
  runVmw,
  type VmwMob,
} from "./test-machine.js";
import type { VmwBo } from "./vmwgfx-bo.js";

describe("vmw_gem_object_pin() / vmw_bo_pin_reserved()", () => {
  it("two attachments pin the buffer once, and the first detach unpins it (pin == !!pin_count returns)", async () => {
    const seen: number[] = [];
    expectClean(
      await runVmw(async (p, m) => {
        const fd = await openNode(p, m.vmw.card);
        const mob = ok<VmwMob>(await mobCreate(p, fd, 8192), "mob");
        const dfd = ok(await handleToFd(p, fd, mob.handle), "export");
        const dmabuf = await dmaBufGet(dfd);
        if (isErr(dmabuf)) throw new Error(`dma_buf_get = ${dmabuf}`);
        const bo = dmabuf.priv as VmwBo;
        const a = await dmaBufAttach(dmabuf, { name: "importer0" });
        const b = await dmaBufAttach(dmabuf, { name: "importer1" });
        if (isErr(a) || isErr(b)) throw new Error("dma_buf_attach failed");
        seen.push(bo.pinCount);
        await dmaBufDetach(dmabuf, a);
        seen.push(bo.pinCount);
        await dmaBufDetach(dmabuf, b);
        seen.push(bo.pinCount);
        await dmaBufPut(dmabuf);
        await p.close(dfd);
        await p.close(fd);
      }),
    );
    // v6.12: vmw_bo_pin_reserved(vbo, true) of a pinned buffer returns at once; the first
    // unpin unpins it, the second finds it unpinned and returns (no ttm_bo_unpin() WARN).
    expect(seen).toEqual([1, 0, 0]);
  });
});
