/**
 * The validation context (vmwgfx_validation.c of Linux 6.12.19, the -ESRCH path as 6.18.35 has
 * it): EXECBUF's nodes leave the device's res_ht before the arena is freed, on success and on the
 * error paths; a buffer named twice is one node; a doomed resource gets -ESRCH with its node
 * unhashed (dfe1323ab3c8 "drm/vmwgfx: Fix Use-after-free in validation"); a node left in the
 * table after its arena page is freed is KASAN's at the next walk of its bucket.
 */

import { EINVAL, ESRCH, slabStats } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import {
  execbuf,
  expectClean,
  mobCreate,
  ok,
  openNode,
  runVmw,
  splatText,
  surfaceCreate,
  surfaceUnref,
} from "./test-machine.js";
import { type VmwPrivate, vmwPriv } from "./vmwgfx-drv.js";
import { VmwResource, vmwResourceInit, vmwResourceUnreference } from "./vmwgfx-resource.js";
import {
  VMW_VALIDATION_NODE_SIZE,
  VmwValidationContext,
  type VmwValidationResNode,
  vmwSwContext,
  vmwValidationAddResource,
  vmwValidationDropHt,
  vmwValidationFindResDup,
  vmwValidationMemAlloc,
  vmwValidationResReserve,
  vmwValidationResUnreserve,
  vmwValidationUnrefLists,
} from "./vmwgfx-validation.js";

/** Live arena pages in the running simulation. */
function livePages(): number {
  return slabStats().find((c) => c.cache === "vmw_validation_page")?.live ?? 0;
}

/** A resource whose kref already hit 0 (released): what a reference-free lookup may hand over. */
async function doomedResource(vmw: VmwPrivate): Promise<VmwResource> {
  const res = new VmwResource(vmw);
  vmwResourceInit(res, 0, async () => {});
  await vmwResourceUnreference(res);
  return res;
}

describe("vmwgfx validation context", () => {
  it("EXECBUF's nodes leave the device's res_ht and the arena is freed, on success and on error", async () => {
    const sizes: number[] = [];
    const pages: number[] = [];
    const r = await runVmw(async (p, m) => {
      const vmw = vmwPriv(m.vmw.device);
      const fd = await openNode(p, m.vmw.render);
      const a = ok(await mobCreate(p, fd, 8192), "a");
      const b = ok(await mobCreate(p, fd, 8192), "b");
      const s = ok(await surfaceCreate(p, fd, 2048, b), "surface over b");
      const record = () => {
        sizes.push(vmwSwContext(vmw).resHt.size);
        pages.push(livePages());
      };
      // success: a buffer, a surface and its guest memory buffer (named again: one node)
      expect(
        await execbuf(p, fd, `fill ${a.handle} 1; copy ${s.handle} ${b.handle}`),
      ).toBeGreaterThan(0);
      record();
      // error after nodes were added: an unknown surface handle (-EINVAL)
      expect(await execbuf(p, fd, `fill ${a.handle} 2; copy ${s.handle} ${0xfffffff0}`)).toBe(
        -EINVAL,
      );
      record();
      // error after nodes were added: an unknown buffer handle (-ESRCH)
      expect(await execbuf(p, fd, `fill ${s.handle} 3; fill 77 3`)).toBe(-ESRCH);
      record();
      await surfaceUnref(p, fd, s.handle);
      await p.close(fd);
    });
    expectClean(r);
    expect(sizes).toEqual([0, 0, 0]);
    expect(pages).toEqual([0, 0, 0]);
  });

  it("a doomed resource gets -ESRCH and its node is unhashed; the next walk of its bucket is clean", async () => {
    const seen: { ret: number; size: number; again: number }[] = [];
    const r = await runVmw(async (_p, m) => {
      const vmw = vmwPriv(m.vmw.device);
      const res = await doomedResource(vmw);
      for (let i = 0; i < 2; i++) {
        // one submission: the context on the device's table, under cmdbuf_mutex
        await vmw.cmdbufMutex.lock();
        const ctx = new VmwValidationContext(vmw, vmwSwContext(vmw), true);
        const ret = await vmwValidationAddResource(ctx, res);
        const size = vmwSwContext(vmw).resHt.size;
        vmwValidationDropHt(ctx);
        await vmw.cmdbufMutex.unlock();
        await vmwValidationUnrefLists(ctx);
        seen.push({ ret, size, again: livePages() });
      }
    });
    expectClean(r);
    expect(seen).toEqual([
      { ret: -ESRCH, size: 0, again: 0 },
      { ret: -ESRCH, size: 0, again: 0 },
    ]);
  });

  it("a node left in res_ht after its arena page is freed is a KASAN slab-use-after-free at the next walk", async () => {
    const r = await runVmw(async (_p, m) => {
      const vmw = vmwPriv(m.vmw.device);
      const res = await doomedResource(vmw);
      await vmw.cmdbufMutex.lock();
      const ctx = new VmwValidationContext(vmw, vmwSwContext(vmw), true);
      // 6.12.19's -ESRCH path: the node hashed, the reference not taken, no hash_del_rcu()
      const page = vmwValidationMemAlloc(ctx, VMW_VALIDATION_NODE_SIZE)!;
      const node: VmwValidationResNode = {
        kind: "res",
        key: res,
        page,
        res: null,
        firstUsage: false,
      };
      vmwSwContext(vmw).resHt.add(node);
      vmwValidationDropHt(ctx); // walks the lists: the node is on none of them
      await vmw.cmdbufMutex.unlock();
      await vmwValidationUnrefLists(ctx); // frees the page
      await vmw.cmdbufMutex.lock();
      const next = new VmwValidationContext(vmw, vmwSwContext(vmw), true);
      expect(vmwValidationFindResDup(next, res)).toBe(node);
      vmwSwContext(vmw).resHt.del(node); // so teardown is quiet
      await vmw.cmdbufMutex.unlock();
    });
    expect(splatText(r)).toMatch(
      /KASAN: slab-use-after-free in vmw_validation_find_res_dup[\s\S]*vmw_validation_page#1/,
    );
  });

  it("resource_ctx_list is spliced onto resource_list's head before vmw_validation_drop_ht(), so its loop walks nothing (228c5d44dffe's typo is dead in 6.12.19)", async () => {
    const seen: { ctxList: number; order: string[]; size: number }[] = [];
    const r = await runVmw(async (_p, m) => {
      const vmw = vmwPriv(m.vmw.device);
      for (const reserve of [true, false]) {
        const surf = new VmwResource(vmw);
        vmwResourceInit(surf, 0, async () => {});
        const cx = new VmwResource(vmw);
        vmwResourceInit(cx, 0, async () => {}, null, "context");
        await vmw.cmdbufMutex.lock();
        const ctx = new VmwValidationContext(vmw, vmwSwContext(vmw), true);
        await vmwValidationAddResource(ctx, surf);
        await vmwValidationAddResource(ctx, cx);
        // vmw_resources_reserve() on success, vmw_validation_res_unreserve() at out_err_nores
        if (reserve) vmwValidationResReserve(ctx);
        else vmwValidationResUnreserve(ctx);
        seen.push({
          ctxList: ctx.resourceCtxList.length,
          order: ctx.resourceList.map((n) => n.res!.resType),
          size: vmwSwContext(vmw).resHt.size,
        });
        vmwValidationDropHt(ctx);
        await vmw.cmdbufMutex.unlock();
        await vmwValidationUnrefLists(ctx);
        await vmwResourceUnreference(surf);
        await vmwResourceUnreference(cx);
      }
    });
    expectClean(r);
    expect(seen).toEqual([
      { ctxList: 0, order: ["context", "surface"], size: 2 },
      { ctxList: 0, order: ["context", "surface"], size: 2 },
    ]);
  });
});
