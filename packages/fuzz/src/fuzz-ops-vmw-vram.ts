/**
 * The vmwgfx workload's memory pressure (`opts.private` with `opts.vmwVram`; fuzz.ts's FuzzRun,
 * one schedule): the vmwgfx operations drawn after the others (fuzz-ops-private.ts's opVmw(),
 * values 14-16 of its draw, drawn from 17 only with the option, so runs without it draw as
 * before). Each device of such a run has a drawn memory configuration
 * (`registerDrawnVmwgfx()` of `@primetime/vmwgfx`: half of them a MOB limit of 4 or 8 pages,
 * RegisteredDevice.scarceMemory), and these operations fill it: ALLOC_BOs of drawn sizes and dumb
 * buffers, each named by an EXECBUF, which validates it into a MOB (vmw_translate_mob_ptr()) and
 * on a full MOB manager evicts the least recently used buffers to system memory, PRIME exports of
 * them (the generic operations import them into the other devices), and closes in drawn orders,
 * some while their fills run (TTM keeps them `deleted` on the MOB LRU until its delayed delete
 * runs). Each function takes the run's state as `run`.
 */

import type { DriverUnderTest } from "@primetime/gem";
import { EBUSY, ENOMEM, ESRCH } from "@primetime/kernel";
import { choose } from "@primetime/sim";
import {
  DRM_IOCTL_VMW_ALLOC_BO,
  DRM_IOCTL_VMW_EXECBUF,
  DRM_VMW_EXECBUF_VERSION,
  type DrmVmwExecbufArg,
} from "@primetime/uapi";
import { registerDrawnVmwgfx, VMWGFX_DRIVER_NAME } from "@primetime/vmwgfx";
import type { FdEntry, FuzzRun, ThreadCtx } from "./fuzz.js";
import { privExpect, privHandle, privIoctl, spawnVictimCloser } from "./fuzz-ops-private.js";
import { vmwFill } from "./private-ioctls.js";

const PAGE = 4096;
/** The values of opVmw()'s draw with `vmwVram` (14 without it). */
export const VMW_OPS_WITH_VRAM = 17;
/** The most buffers a MOB-filling burst makes (2 to this many). */
export const VMW_FILL_BURST_MAX = 5;

/**
 * `driver` as a run registers it: with `vmwVram`, vmwgfx with a drawn memory configuration
 * (registerDrawnVmwgfx(), as its `registerDrawn`, which only private runs call); any other
 * driver, or any run without the option, as it is.
 */
export function vmwVramDriver(driver: DriverUnderTest, vmwVram?: boolean): DriverUnderTest {
  if (!vmwVram || driver.name !== VMWGFX_DRIVER_NAME) return driver;
  return { ...driver, registerDrawn: (kernel, draw) => registerDrawnVmwgfx(kernel, draw) };
}

/**
 * What EXECBUF of a fill naming a buffer of the file may return: 0; -EBUSY when a SYNCCPU grab
 * without allow_cs holds it (vmw_validation_bo_validate_single()); -ESRCH when another thread of
 * a shared file closed the handle first (vmw_user_bo_lookup()); -ENOMEM only on a device whose
 * MOB limit is small (RegisteredDevice.scarceMemory): ttm_bo_validate() turns the -ENOSPC of a
 * MOB manager with nothing left to evict (the submission's own buffers are reserved) into
 * -ENOMEM.
 */
export function vmwFillExpect(scarce: boolean, shared: boolean): number[] {
  const want = [0, -EBUSY];
  if (shared) want.push(-ESRCH);
  if (scarce) want.push(-ENOMEM);
  return want;
}

/** EXECBUF of `fill <h> <byte>` (no fence_rep), checked by vmwFillExpect(). */
async function vmwFillExec(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
  h: number,
  byte: number,
): Promise<number> {
  const commands = vmwFill(h, byte);
  const arg: DrmVmwExecbufArg = {
    commands,
    version: DRM_VMW_EXECBUF_VERSION,
    flags: 0,
    fence_seqno: 0,
    fence_rep: 0,
    context_handle: 0,
    imported_fence_fd: -1,
  };
  const what = `VMW_EXECBUF(${commands})`;
  const r = await privIoctl(run, ctx, e, DRM_IOCTL_VMW_EXECBUF, arg, what);
  const f = e.file!;
  privExpect(run, e, what, r.ret, vmwFillExpect(run.devs[f.dev]!.scarce, f.shared || !own), r.m);
  return r.ret;
}

/** ALLOC_BO of `pages` pages (system memory: never short of MOB space): its handle, or null. */
async function vmwAllocOne(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
  pages: number,
): Promise<number | null> {
  const arg = {
    size: PAGE * pages,
    pad64: 0,
    map_handle: 0,
    handle: 0,
    cur_gmr_id: 0,
    cur_gmr_offset: 0,
    rep_pad64: 0,
  };
  const r = await privIoctl(run, ctx, e, DRM_IOCTL_VMW_ALLOC_BO, arg, "VMW_ALLOC_BO", {
    make: true,
  });
  privExpect(run, e, "VMW_ALLOC_BO", r.ret, [0], r.m);
  if (r.ret !== 0) return null;
  privHandle(run, e, own, arg.handle, r.t0, r.t1, true);
  return arg.handle;
}

/**
 * A client filling the MOBs: 2 to VMW_FILL_BURST_MAX ALLOC_BOs of 1-4 pages, each filled by
 * EXECBUF (into a MOB: on a small MOB limit the later ones evict the earlier ones, or get
 * -ENOMEM), then exported (its dma-buf fd kept, for the other devices' imports), mapped and read,
 * or left alone.
 */
export async function vmwMobFillBurst(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
): Promise<"ok"> {
  const n = 2 + choose(VMW_FILL_BURST_MAX - 1, "fuzz vmw fill burst");
  for (let i = 0; i < n && !e.closed; i++) {
    const h = await vmwAllocOne(run, ctx, e, own, 1 + choose(4, "fuzz vmw fill pages"));
    if (h === null) return "ok";
    await vmwFillExec(run, ctx, e, own, h, 0x30 + i);
    const then = choose(3, "fuzz vmw fill use");
    if (then === 0) await run.doExport(ctx, e, own, h, true);
    else if (then === 1) await run.doMap(ctx, e, h);
  }
  return "ok";
}

/**
 * Eviction meeting a deleted buffer: a dumb buffer (CREATE_DUMB, on a primary fd: surface-backed
 * on this 3D device) or an ALLOC_BO, an EXECBUF filling it (its fence pending), a GEM_CLOSE while
 * the fill may still run (ttm_bo_release() finds it busy and keeps it, `deleted`, on the MOB LRU
 * until its delayed delete runs), then two to four ALLOC_BOs of 2-4 pages, each filled by
 * EXECBUF, whose eviction walks may meet it (ttm_bo_evict_cb()'s deleted branch, and the known
 * window ttm.walk-put-runs-destroy for a dumb one).
 */
export async function vmwEvictDeleted(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
): Promise<"ok"> {
  const dumb = e.file!.primary && choose(2, "fuzz vmw evict-deleted dumb") === 0;
  const h = dumb
    ? await run.doCreate(ctx, e, own)
    : await vmwAllocOne(run, ctx, e, own, 1 + choose(2, "fuzz vmw evict-deleted pages"));
  if (h === null || e.closed) return "ok";
  await vmwFillExec(run, ctx, e, own, h, 0x41);
  await run.doGemClose(ctx, e, own, h, null, false);
  const pages = 2 + choose(3, "fuzz vmw evict-deleted fill pages");
  for (let i = 2 + choose(3, "fuzz vmw evict-deleted n"); i > 0 && !e.closed; i--) {
    const b = await vmwAllocOne(run, ctx, e, own, pages);
    if (b === null) break;
    await vmwFillExec(run, ctx, e, own, b, 0x42);
  }
  return "ok";
}

/**
 * MOB pressure raced by releases: a new thread of the process GEM_CLOSEs one to three of the
 * buffers the file's private creations made while this thread fills the MOBs
 * (vmwMobFillBurst()) or fills the file's own buffers again by EXECBUF (each validated back into
 * a MOB, evicting others). The file is shared from then on.
 */
export async function vmwEvictRace(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
): Promise<"ok"> {
  const { closer, bos } = spawnVictimCloser(run, ctx, e, "vmw");
  if (choose(2, "fuzz vmw evict by") === 0 || bos.length === 0)
    await vmwMobFillBurst(run, ctx, e, own);
  else
    for (const h of bos.slice(0, 4)) {
      if (e.closed) break;
      await vmwFillExec(run, ctx, e, own, h, 0x51);
    }
  await closer.join();
  return "ok";
}

/** The operations after opVmw()'s others: `k` is its draw's value, 14 to 16. */
export function opVmwVram(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
  k: number,
): Promise<"ok"> {
  if (k === 14) return vmwMobFillBurst(run, ctx, e, own);
  if (k === 15) return vmwEvictDeleted(run, ctx, e, own);
  return vmwEvictRace(run, ctx, e, own);
}
