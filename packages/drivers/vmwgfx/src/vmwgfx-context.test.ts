/**
 * vmwgfx contexts (vmwgfx_context.c of Linux 6.12.19) and EXECBUF's commands that name one
 * (vmwgfx_execbuf.c): the three ioctls' errnos, a context's lifetime (its handle, a submission's
 * reference, its device id and DEFINE/DESTROY_GB_CONTEXT, kmemleak clean after the file's close
 * with live contexts), and SETRENDERTARGET's binding, committed after the submission and killed
 * by the surface's release.
 */

import { EINVAL, slabStats } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import {
  contextCreate,
  contextCreateExtended,
  contextUnref,
  execbuf,
  expectClean,
  handleClose,
  mobCreate,
  ok,
  openNode,
  runVmw,
  surfaceCreate,
  surfaceUnref,
} from "./test-machine.js";
import { VMWGFX_NUM_MOB } from "./ttm-object.js";
import { type VmwUserContext, vmwContextDevice } from "./vmwgfx-context.js";
import { vmwPriv } from "./vmwgfx-drv.js";
import { drm_vmw_context_dx, drm_vmw_context_legacy, SVGA3D_INVALID_ID } from "./vmwgfx-uapi.js";
import { vmwSwContext } from "./vmwgfx-validation.js";

/** Live user contexts in the running simulation. */
function liveContexts(): number {
  return slabStats().find((c) => c.cache === "vmw_user_context")?.live ?? 0;
}

/** The user context behind handle `cid` of the device (its idr). */
async function contextOf(vmw: ReturnType<typeof vmwPriv>, cid: number): Promise<VmwUserContext> {
  await vmw.tdev.objectLock.lock();
  const ctx = (await vmw.tdev.idr.find(cid)) as VmwUserContext;
  await vmw.tdev.objectLock.unlock();
  return ctx;
}

describe("vmwgfx contexts: CREATE_CONTEXT, CREATE_EXTENDED_CONTEXT, UNREF_CONTEXT", () => {
  it("creates contexts with handles above the MOB range and unreferences them; errnos", async () => {
    const seen: Record<string, number> = {};
    const r = await runVmw(async (p, m) => {
      const fd = await openNode(p, m.vmw.render);
      const a = await contextCreate(p, fd);
      const b = await contextCreateExtended(p, fd, drm_vmw_context_legacy);
      seen.a = a > VMWGFX_NUM_MOB ? 1 : a;
      seen.b = b === a + 1 ? 1 : b;
      seen.live = liveContexts();
      seen.dx = await contextCreateExtended(p, fd, drm_vmw_context_dx);
      seen.badReq = await contextCreateExtended(p, fd, 7);
      seen.liveAfterErrors = liveContexts();
      seen.unrefA = await contextUnref(p, fd, a);
      seen.unrefAAgain = await contextUnref(p, fd, a);
      seen.unrefUnknown = await contextUnref(p, fd, 0x7ffffff0);
      seen.unrefNegative = await contextUnref(p, fd, -1);
      seen.unrefB = await contextUnref(p, fd, b);
      await p.close(fd);
    });
    expectClean(r);
    expect(seen).toEqual({
      a: 1,
      b: 1,
      live: 2,
      dx: -EINVAL,
      badReq: -EINVAL,
      liveAfterErrors: 2,
      unrefA: 0,
      unrefAAgain: -EINVAL,
      unrefUnknown: -EINVAL,
      unrefNegative: -EINVAL,
      unrefB: 0,
    });
  });

  it("kmemleak is clean after the file's close with live contexts, one known to the device", async () => {
    const seen: number[] = [];
    const r = await runVmw(async (p, m) => {
      const vmw = vmwPriv(m.vmw.device);
      const fd = await openNode(p, m.vmw.render);
      const cids = [
        await contextCreate(p, fd),
        await contextCreate(p, fd),
        await contextCreate(p, fd),
      ];
      expect(await execbuf(p, fd, `clear ${cids[1]}`)).toBeGreaterThan(0);
      seen.push(liveContexts(), vmwContextDevice(vmw).defined.size);
      await p.close(fd);
      await m.kernel.quiesce();
      seen.push(vmwContextDevice(vmw).defined.size, vmwContextDevice(vmw).ids.size);
    });
    expectClean(r); // runVmw ends with a leak check: the contexts were freed
    expect(seen).toEqual([3, 1, 0, 0]);
  });

  it("a context is not shareable: another file's EXECBUF cannot name it (-EINVAL)", async () => {
    let other = 0;
    const r = await runVmw(async (p, m) => {
      const fd = await openNode(p, m.vmw.render);
      const fd2 = await openNode(p, m.vmw.render);
      const cid = await contextCreate(p, fd);
      other = await execbuf(p, fd2, `clear ${cid}`);
      await p.close(fd2);
      await contextUnref(p, fd, cid);
      await p.close(fd);
    });
    expectClean(r);
    expect(other).toBe(-EINVAL);
  });
});

describe("EXECBUF commands naming a context", () => {
  it("validates the context: its errnos, its device id, nodes out of res_ht", async () => {
    const seen: Record<string, number> = {};
    const r = await runVmw(async (p, m) => {
      const vmw = vmwPriv(m.vmw.device);
      const fd = await openNode(p, m.vmw.render);
      const mob = ok(await mobCreate(p, fd, 8192), "mob");
      const s = ok(await surfaceCreate(p, fd, 1024, mob), "surface");
      const cid = await contextCreate(p, fd);
      const res = (await contextOf(vmw, cid)).res;
      seen.idBefore = res.id;
      seen.clear = (await execbuf(p, fd, `clear ${cid}; setrenderstate ${cid}`)) > 0 ? 1 : 0;
      seen.idAfter = res.id;
      seen.again = (await execbuf(p, fd, `setviewport ${cid}; fill ${mob.handle} 3`)) > 0 ? 1 : 0;
      seen.idSame = res.id;
      seen.unknown = await execbuf(p, fd, `clear ${cid + 100}`);
      seen.invalidId = await execbuf(p, fd, `clear ${SVGA3D_INVALID_ID}`);
      seen.surfaceAsContext = await execbuf(p, fd, `clear ${s.handle}`);
      seen.contextAsSurface = await execbuf(p, fd, `fill ${cid} 1`);
      seen.rtType = await execbuf(p, fd, `setrendertarget ${cid} 10 ${s.handle}`);
      seen.rtSurface = await execbuf(p, fd, `setrendertarget ${cid} 2 ${cid + 100}`);
      seen.malformed = await execbuf(p, fd, `clear ${cid} 1`);
      seen.htSize = vmwSwContext(vmw).resHt.size;
      seen.unref = await contextUnref(p, fd, cid);
      await m.kernel.quiesce();
      seen.defined = vmwContextDevice(vmw).defined.size;
      await surfaceUnref(p, fd, s.handle);
      await handleClose(p, fd, mob.handle);
      await p.close(fd);
    });
    expectClean(r);
    expect(seen).toEqual({
      idBefore: -1,
      clear: 1,
      idAfter: 1,
      again: 1,
      idSame: 1,
      unknown: -EINVAL,
      invalidId: -EINVAL,
      surfaceAsContext: -EINVAL,
      contextAsSurface: -EINVAL,
      rtType: -EINVAL,
      rtSurface: -EINVAL,
      malformed: -EINVAL,
      htSize: 0,
      unref: 0,
      defined: 0,
    });
  });

  it("SETRENDERTARGET binds the surface after the submission; the surface's release kills it", async () => {
    const seen: Record<string, number> = {};
    const r = await runVmw(async (p, m) => {
      const vmw = vmwPriv(m.vmw.device);
      const fd = await openNode(p, m.vmw.render);
      const mob = ok(await mobCreate(p, fd, 8192), "mob");
      const s = ok(await surfaceCreate(p, fd, 1024, mob), "surface");
      const cid = await contextCreate(p, fd);
      const uctx = await contextOf(vmw, cid);
      // A failed submission backs its staged binding off.
      seen.failed = await execbuf(p, fd, `setrendertarget ${cid} 2 ${s.handle}; fill 77 1`);
      seen.afterFailed = uctx.cbs!.list.length;
      seen.ok = (await execbuf(p, fd, `setrendertarget ${cid} 2 ${s.handle}`)) > 0 ? 1 : 0;
      seen.bound = uctx.cbs!.list.length;
      // The next submission on the context puts the bound surface back on the list.
      seen.again = (await execbuf(p, fd, `clear ${cid}`)) > 0 ? 1 : 0;
      seen.stillBound = uctx.cbs!.list.length;
      await surfaceUnref(p, fd, s.handle);
      await m.kernel.quiesce();
      seen.killed = uctx.cbs!.list.length;
      // SETRENDERTARGET of SVGA3D_INVALID_ID unbinds the slot.
      const s2 = ok(await surfaceCreate(p, fd, 1024, mob), "surface 2");
      seen.rebind = (await execbuf(p, fd, `setrendertarget ${cid} 3 ${s2.handle}`)) > 0 ? 1 : 0;
      seen.rebound = uctx.cbs!.list.length;
      seen.unbind =
        (await execbuf(p, fd, `setrendertarget ${cid} 3 ${SVGA3D_INVALID_ID}`)) > 0 ? 1 : 0;
      seen.unbound = uctx.cbs!.list.length;
      await surfaceUnref(p, fd, s2.handle);
      seen.afterKill = (await execbuf(p, fd, `clear ${cid}`)) > 0 ? 1 : 0;
      await contextUnref(p, fd, cid);
      await handleClose(p, fd, mob.handle);
      await p.close(fd);
    });
    expectClean(r);
    expect(seen).toEqual({
      failed: -3,
      afterFailed: 0,
      ok: 1,
      bound: 1,
      again: 1,
      stillBound: 1,
      killed: 0,
      rebind: 1,
      rebound: 1,
      unbind: 1,
      unbound: 0,
      afterKill: 1,
    });
  });
});
