/**
 * The qxl workload's VRAM pressure and creation races (`opts.private`; fuzz.ts's FuzzRun, one
 * schedule), the qxl operations drawn after the others (fuzz-ops-private.ts's opQxl(), values
 * 10-14 of its draw): QXL_ALLOC bursts that fill a small drawn VRAM (qxl's `registerDrawn`:
 * RegisteredDevice.scarceMemory), creations raced by a close of the handle they are about to
 * return, and eviction raced by releases. What the model accepts from QXL_ALLOC is
 * qxlAllocExpect() (private-ioctls.ts). Each function takes the run's state as `run`.
 */

import { choose } from "@primetime/sim";
import { DRM_IOCTL_QXL_ALLOC } from "@primetime/uapi";
import type { FdEntry, FuzzRun, ThreadCtx } from "./fuzz.js";
import { privExpect, privHandle, privIoctl, privOf, qxlExecbuffer } from "./fuzz-ops-private.js";
import { qxlAllocExpect, qxlGuessHandle } from "./private-ioctls.js";

const PAGE = 4096;
/** The most QXL_ALLOCs a private run's VRAM-filling burst makes (2 to this many). */
export const QXL_ALLOC_BURST_MAX = 6;

/**
 * Checks what a QXL_ALLOC of a valid size returned (qxlAllocExpect(): -ENOMEM only on a device
 * whose memory is scarce), and its handle joins the file's bookkeeping.
 */
export function qxlAllocResult(
  run: FuzzRun,
  e: FdEntry,
  own: boolean,
  handle: number,
  r: { ret: number; t0: number; t1: number; m: number },
): void {
  privExpect(run, e, "QXL_ALLOC", r.ret, qxlAllocExpect(run.devs[e.file!.dev]!.scarce), r.m);
  if (r.ret === 0) privHandle(run, e, own, handle, r.t0, r.t1, true);
}

/**
 * A client filling VRAM: 2 to QXL_ALLOC_BURST_MAX QXL_ALLOCs of 1-4 pages each (stops at the
 * first failing one), each new buffer then mapped and read (MAP_DUMB, mmap), exported (its
 * dma-buf fd kept for later imports, whose attach pins it) or left alone. On a device whose
 * VRAM is small (DeviceNodes.scarce) the later ones evict the earlier ones, or get -ENOMEM.
 */
export async function qxlAllocBurst(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
): Promise<"ok"> {
  const n = 2 + choose(QXL_ALLOC_BURST_MAX - 1, "fuzz qxl alloc burst");
  for (let i = 0; i < n && !e.closed; i++) {
    const arg = { size: PAGE * (1 + choose(4, "fuzz qxl pages")), handle: 0 };
    const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_ALLOC, arg, "QXL_ALLOC", { make: true });
    qxlAllocResult(run, e, own, arg.handle, r);
    if (r.ret !== 0) return "ok";
    const then = choose(3, "fuzz qxl burst use");
    if (then === 0) await run.doMap(ctx, e, arg.handle);
    else if (then === 1) await run.doExport(ctx, e, own, arg.handle, true);
  }
  return "ok";
}

/**
 * Creations raced by GEM_CLOSEs of the handle each is about to return (qxlGuessHandle()), from
 * a new thread of the process: one to four QXL_ALLOCs or CREATE_DUMBs (both
 * qxl_gem_object_create_with_handle()) against as many guessed closes, each guess made from
 * the file's handles as the closer sees them then. The file is shared from then on.
 */
export async function qxlCreateGuessClose(run: FuzzRun, ctx: ThreadCtx, e: FdEntry): Promise<"ok"> {
  const f = e.file!;
  f.shared = true;
  const n = 1 + choose(4, "fuzz qxl guess n");
  const dumb = choose(2, "fuzz qxl guess create") === 0;
  const closer = ctx.p.spawnThread("qxl-guess-close", async () => {
    for (let i = 0; i < n; i++) {
      const g = qxlGuessHandle(f.live.keys(), choose(2, "fuzz qxl guess") === 0);
      await run.doGemClose(ctx, e, false, g, null, false);
    }
  });
  for (let i = 0; i < n && !e.closed; i++) {
    if (dumb) await run.doCreate(ctx, e, false);
    else {
      const arg = { size: PAGE * (1 + choose(4, "fuzz qxl pages")), handle: 0 };
      const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_ALLOC, arg, "QXL_ALLOC", {
        make: true,
      });
      qxlAllocResult(run, e, false, arg.handle, r);
    }
  }
  await closer.join();
  return "ok";
}

/**
 * VRAM pressure raced by releases: a new thread of the process GEM_CLOSEs one to three of the
 * buffers the file's private creations made (their last handle: the object is released, its
 * resource still on the LRU until ttm_bo_release() takes it off, or kept for delayed deletion
 * while the device still holds a release of it), while this thread fills VRAM
 * (qxlAllocBurst()) or submits a drawable naming the file's buffers (EXECBUFFER validates
 * evicted ones back into VRAM under its drm_exec ticket). The file is shared from then on.
 */
export async function qxlEvictRace(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
): Promise<"ok"> {
  const f = e.file!;
  f.shared = true;
  const bos = privOf(run, f).bos.filter((h) => f.live.has(h));
  const victims: number[] = [];
  for (let i = choose(3, "fuzz qxl evict victims"); i >= 0 && bos.length > 0; i--)
    victims.push(bos.splice(choose(bos.length, "fuzz qxl evict victim"), 1)[0]!);
  const closer = ctx.p.spawnThread("qxl-evict-close", async () => {
    for (const h of victims) await run.doGemClose(ctx, e, false, h, null, false);
  });
  if (choose(2, "fuzz qxl evict by") === 0) await qxlAllocBurst(run, ctx, e, own);
  else await qxlExecbuffer(run, ctx, e, 1);
  await closer.join();
  return "ok";
}
