/**
 * The qxl workload's VRAM pressure and creation races (`opts.private`; fuzz.ts's FuzzRun, one
 * schedule), the qxl operations drawn after the others (fuzz-ops-private.ts's opQxl(), values
 * 10-22 of its draw): QXL_ALLOC bursts that fill a small drawn VRAM (qxl's `registerDrawn`:
 * RegisteredDevice.scarceMemory), creations raced by a close of the handle they are about to
 * return, and eviction raced by releases (a trylocking walk's, and an EXECBUFFER's ticketed one). What the model accepts from QXL_ALLOC is
 * qxlAllocExpect() (private-ioctls.ts). Each function takes the run's state as `run`.
 */

import { choose } from "@primetime/sim";
import { DRM_IOCTL_QXL_ALLOC, DRM_IOCTL_QXL_GETPARAM } from "@primetime/uapi";
import type { FdEntry, FuzzRun, ThreadCtx } from "./fuzz.js";
import {
  privExpect,
  privHandle,
  privIoctl,
  qxlExecbuffer,
  spawnVictimCloser,
} from "./fuzz-ops-private.js";
import { qxlAllocExpect, qxlGuessHandle } from "./private-ioctls.js";

const PAGE = 4096;
/** The most QXL_ALLOCs a private run's VRAM-filling burst makes (2 to this many). */
export const QXL_ALLOC_BURST_MAX = 6;
/** The most GEM_CLOSEs qxlCreateGuessClose()'s closer tries per creation. */
export const QXL_GUESS_TRIES = 8;

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
 * one or two new threads of the process: one to four QXL_ALLOCs or CREATE_DUMBs (both
 * qxl_gem_object_create_with_handle(); CREATE_DUMB three times in four: only
 * qxl_mode_dumb_create() touches the object after its handle is published) against closers that
 * retry their guess, made from the file's handles as they see them then, up to QXL_GUESS_TRIES
 * times per creation while the creations run (a close of a handle not created yet is -EINVAL at
 * once: the loop of qxl's own dumb-create-vs-close scenario). The file is shared from then on.
 */
export async function qxlCreateGuessClose(run: FuzzRun, ctx: ThreadCtx, e: FdEntry): Promise<"ok"> {
  const f = e.file!;
  f.shared = true;
  const n = 1 + choose(4, "fuzz qxl guess n");
  const dumb = choose(4, "fuzz qxl guess create") !== 0;
  const nClosers = 1 + choose(2, "fuzz qxl guess closers");
  let creating = true;
  const closers = [];
  for (let c = 0; c < nClosers; c++)
    closers.push(
      ctx.p.spawnThread("qxl-guess-close", async () => {
        for (let i = 0; i < n; i++) {
          for (let t = 0; t < QXL_GUESS_TRIES && creating; t++) {
            const g = qxlGuessHandle(f.live.keys(), choose(2, "fuzz qxl guess") === 0);
            if ((await run.doGemClose(ctx, e, false, g, null, false)) === 0) break;
          }
        }
      }),
    );
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
  creating = false;
  for (const c of closers) await c.join();
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
  const { closer } = spawnVictimCloser(run, ctx, e, "qxl");
  if (choose(2, "fuzz qxl evict by") === 0) await qxlAllocBurst(run, ctx, e, own);
  else await qxlExecbuffer(run, ctx, e, 1);
  await closer.join();
  return "ok";
}

/**
 * One QXL_ALLOC of `pages` pages (checked by qxlAllocResult()): its handle, or null.
 */
async function qxlAllocOne(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
  pages: number,
): Promise<number | null> {
  const arg = { size: PAGE * pages, handle: 0 };
  const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_ALLOC, arg, "QXL_ALLOC", { make: true });
  qxlAllocResult(run, e, own, arg.handle, r);
  return r.ret === 0 ? arg.handle : null;
}

/**
 * Eviction raced by the release of the buffer it is about to evict: fills VRAM with two to four
 * QXL_ALLOCs of one size (2-4 pages), then, round after round, a new thread GEM_CLOSEs the oldest
 * of them (the head of VRAM's LRU, the first buffer ttm_bo_evict_alloc()'s walk meets: its count
 * drops to zero and ttm_bo_release() runs while its resource is still on the LRU) after zero to
 * two GETPARAMs (the start of the close drawn against the allocation's), while this thread
 * QXL_ALLOCs one more of the same size (on a full VRAM: the eviction walk). The file is shared
 * from then on.
 */
export async function qxlEvictReleaseRace(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
): Promise<"ok"> {
  const f = e.file!;
  f.shared = true;
  const pages = 2 + choose(3, "fuzz qxl evict-release pages");
  const n = 2 + choose(3, "fuzz qxl evict-release n");
  const made: number[] = [];
  for (let i = 0; i < n && !e.closed; i++) {
    const h = await qxlAllocOne(run, ctx, e, own, pages);
    if (h === null) return "ok";
    made.push(h);
  }
  for (let i = 0; i < made.length && !e.closed; i++) {
    const victim = made[i]!;
    const jitter = choose(3, "fuzz qxl evict-release jitter");
    const closer = ctx.p.spawnThread("qxl-release-close", async () => {
      for (let j = 0; j < jitter; j++) {
        const arg = { param: 1, value: 0 };
        const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_GETPARAM, arg, "QXL_GETPARAM(1)");
        privExpect(run, e, "QXL_GETPARAM(1)", r.ret, [0], r.m);
      }
      await run.doGemClose(ctx, e, false, victim, null, false);
    });
    const h = await qxlAllocOne(run, ctx, e, own, pages);
    await closer.join();
    if (h === null) break;
    made.push(h);
    if (made.length > 2 * n) break;
  }
  return "ok";
}

/**
 * Eviction meeting a deleted buffer: a QXL_ALLOC, an EXECBUFFER of one or two drawings into it
 * (each release holds a reference to it and fences it), a GEM_CLOSE of it (the releases now hold
 * its last references: when the device hands them back, qxl_release_free() drops them before it
 * signals the fence, so ttm_bo_release() finds the buffer busy and resurrects it for delayed
 * destruction, `deleted`, still on VRAM's LRU until its delayed-delete work runs), then three to
 * six QXL_ALLOCs of 2-4 pages whose eviction walks may meet it (ttm_bo_evict_cb()'s deleted
 * branch).
 */
export async function qxlEvictDeleted(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
): Promise<"ok"> {
  const h = await qxlAllocOne(run, ctx, e, own, 1 + choose(4, "fuzz qxl pages"));
  if (h === null) return "ok";
  await qxlExecbuffer(run, ctx, e, 1 + choose(2, "fuzz qxl evict-deleted draws"), undefined, h);
  await run.doGemClose(ctx, e, own, h, null, false);
  const pages = 2 + choose(3, "fuzz qxl evict-deleted pages");
  for (let i = 3 + choose(4, "fuzz qxl evict-deleted n"); i > 0 && !e.closed; i--)
    if ((await qxlAllocOne(run, ctx, e, own, pages)) === null) break;
  return "ok";
}

/** The pages of the buffer qxlEvictBusyRelease() fills a small VRAM with (8 or 9 of its 12). */
export const QXL_EVICT_BUSY_FILL = 8;

/**
 * Eviction under a ticket raced by the release of the only buffer it could evict: round after
 * round (one to three), a QXL_ALLOC of 3-4 pages (the drawing's buffer), then one of
 * QXL_EVICT_BUSY_FILL or one more pages (on a small VRAM: ttm_bo_evict_alloc() moves the first
 * out to system memory to make room, and what is left free is less than it needs), then a new
 * thread GEM_CLOSEs the filler (its last handle, idle: ttm_bo_release() trylocks its reservation
 * and holds it while it frees the resource, still on VRAM's LRU) after zero to three GETPARAMs
 * (the start of the close drawn against the submission's), while this thread submits a drawing
 * naming the first buffer (EXECBUFFER: qxl_release_reserve_list() validates it back into VRAM
 * under its drm_exec ticket; the walk's trylock pass finds the filler locked, and its second,
 * ticketlocking pass, ttm_lru_walk_ticketlock(), may meet it still locked by its release);
 * then GEM_CLOSE of the first buffer. On a VRAM of the default size both fit: no eviction.
 * The file is shared from then on.
 */
export async function qxlEvictBusyRelease(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
): Promise<"ok"> {
  const f = e.file!;
  f.shared = true;
  const rounds = 1 + choose(3, "fuzz qxl evict-busy rounds");
  for (let i = 0; i < rounds && !e.closed; i++) {
    const y = await qxlAllocOne(run, ctx, e, own, 3 + choose(2, "fuzz qxl evict-busy pages"));
    if (y === null) return "ok";
    const fill = QXL_EVICT_BUSY_FILL + choose(2, "fuzz qxl evict-busy fill");
    const x = await qxlAllocOne(run, ctx, e, own, fill);
    if (x !== null) {
      const jitter = choose(4, "fuzz qxl evict-busy jitter");
      const closer = ctx.p.spawnThread("qxl-busy-close", async () => {
        for (let j = 0; j < jitter; j++) {
          const arg = { param: 1, value: 0 };
          const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_GETPARAM, arg, "QXL_GETPARAM(1)");
          privExpect(run, e, "QXL_GETPARAM(1)", r.ret, [0], r.m);
        }
        await run.doGemClose(ctx, e, false, x, null, false);
      });
      await qxlExecbuffer(run, ctx, e, 1, undefined, y);
      await closer.join();
    }
    await run.doGemClose(ctx, e, own, y, null, false);
  }
  return "ok";
}
