/**
 * The fuzz run's driver-private ioctls (`opts.private`; fuzz.ts's FuzzRun, one schedule), from
 * the uapi headers alone (private-ioctls.ts): qxl's (ALLOC, MAP, GETPARAM, CLIENTCAP, ALLOC_SURF,
 * UPDATE_AREA, EXECBUFFER) and vmwgfx's (ALLOC_BO, HANDLE_CLOSE, SYNCCPU, surfaces, EXECBUF,
 * fences, contexts), with what each file's calls made. Each function takes the run's state as
 * `run`.
 */

import {
  EACCES,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOSPC,
  ENOSYS,
  ESRCH,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from "@primetime/kernel";
import { choose } from "@primetime/sim";
import {
  DRM_CLOEXEC,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_QXL_ALLOC,
  DRM_IOCTL_QXL_ALLOC_SURF,
  DRM_IOCTL_QXL_CLIENTCAP,
  DRM_IOCTL_QXL_EXECBUFFER,
  DRM_IOCTL_QXL_GETPARAM,
  DRM_IOCTL_QXL_MAP,
  DRM_IOCTL_QXL_UPDATE_AREA,
  DRM_IOCTL_VMW_ALLOC_BO,
  DRM_IOCTL_VMW_CREATE_CONTEXT,
  DRM_IOCTL_VMW_CREATE_EXTENDED_CONTEXT,
  DRM_IOCTL_VMW_EXECBUF,
  DRM_IOCTL_VMW_FENCE_SIGNALED,
  DRM_IOCTL_VMW_FENCE_UNREF,
  DRM_IOCTL_VMW_FENCE_WAIT,
  DRM_IOCTL_VMW_GB_SURFACE_CREATE,
  DRM_IOCTL_VMW_GB_SURFACE_REF,
  DRM_IOCTL_VMW_HANDLE_CLOSE,
  DRM_IOCTL_VMW_SYNCCPU,
  DRM_IOCTL_VMW_UNREF_CONTEXT,
  DRM_IOCTL_VMW_UNREF_SURFACE,
  DRM_RDWR,
  DRM_VMW_EXECBUF_VERSION,
  DRM_VMW_FENCE_FLAG_EXEC,
  DRM_VMW_FENCE_REP_SIZE,
  DRM_VMW_HANDLE_LEGACY,
  DRM_VMW_WAIT_OPTION_UNREF,
  type DrmVmwExecbufArg,
  type DrmVmwGbSurfaceCreateArg,
  type DrmVmwGbSurfaceRefArg,
  decodeDrmVmwFenceRep,
  drm_vmw_context_dx,
  drm_vmw_context_legacy,
  drm_vmw_surface_flag_create_buffer,
  drm_vmw_surface_flag_shareable,
  drm_vmw_synccpu_dontblock,
  drm_vmw_synccpu_grab,
  drm_vmw_synccpu_read,
  drm_vmw_synccpu_release,
  drm_vmw_synccpu_write,
  QXL_RELOC_TYPE_BO,
  QXL_RELOC_TYPE_SURF,
  SVGA3D_INVALID_ID,
} from "@primetime/uapi";
import type { AuthIoctl } from "./auth-model.js";
import {
  type FdEntry,
  type FuzzRun,
  PAGE,
  QXL_BURST_MAX,
  QXL_COMMANDS_PER_CALL,
  type ThreadCtx,
} from "./fuzz.js";
import { lostFd } from "./fuzz-ops-fd.js";
import {
  qxlAllocBurst,
  qxlAllocResult,
  qxlCreateGuessClose,
  qxlEvictBusyRelease,
  qxlEvictDeleted,
  qxlEvictRace,
  qxlEvictReleaseRace,
} from "./fuzz-ops-qxl-vram.js";
import { opVmwVram, VMW_OPS_WITH_VRAM } from "./fuzz-ops-vmw-vram.js";
import { type ModelFile, UNKNOWN_BUFFER } from "./model.js";
import {
  NEVER_BO,
  NEVER_HANDLE,
  NEVER_OBJECT,
  type PrivFile,
  privateDriver,
  QXL_CLIENTCAP_END,
  QXL_CLIENTCAP_INDEXES,
  QXL_CMD_DRAW,
  QXL_CMD_SURFACE,
  QXL_DRAW_FILL,
  QXL_DRAW_SIZE,
  QXL_MAX_RES,
  QXL_PARAMS,
  type QxlFuzzCommand,
  type QxlFuzzReloc,
  qxlCommandAt,
  qxlCommandPage,
  qxlExecBadRelocExpect,
  SPICE_SURFACE_FMT_32_XRGB,
  VMW_SURFACE_FORMAT,
  vmwClear,
  vmwFill,
} from "./private-ioctls.js";

/** What the private ioctls made in DRM file `f` (FuzzRun.privFiles), empty at first use. */
export function privOf(run: FuzzRun, f: ModelFile): PrivFile {
  let s = run.privFiles.get(f);
  if (s === undefined) {
    s = { bos: [], surfaces: [], fences: [], contexts: [], gone: [] };
    run.privFiles.set(f, s);
  }
  return s;
}

/** Takes one `h` out of `list` (a handle given back). */
export function dropOne(_run: FuzzRun, list: number[], h: number, gone: number[]) {
  const i = list.indexOf(h);
  if (i >= 0) list.splice(i, 1);
  if (!list.includes(h) && !gone.includes(h)) gone.push(h);
}

/**
 * The start of an eviction raced by releases (qxlEvictRace(), vmwEvictRace()): the file is
 * shared from then on; one to three of the live buffers its private creations made are drawn,
 * and a new thread of the process GEM_CLOSEs them. `tag` names the driver in the draws' labels
 * and the thread's name. Returns the closing thread and the buffers not drawn.
 */
export function spawnVictimCloser(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  tag: "qxl" | "vmw",
): { closer: ReturnType<ThreadCtx["p"]["spawnThread"]>; bos: number[] } {
  const f = e.file!;
  f.shared = true;
  const bos = privOf(run, f).bos.filter((h) => f.live.has(h));
  const victims: number[] = [];
  for (let i = choose(3, `fuzz ${tag} evict victims`); i >= 0 && bos.length > 0; i--)
    victims.push(bos.splice(choose(bos.length, `fuzz ${tag} evict victim`), 1)[0]!);
  const closer = ctx.p.spawnThread(`${tag}-evict-close`, async () => {
    for (const h of victims) await run.doGemClose(ctx, e, false, h, null, false);
  });
  return { closer, bos };
}

/** A driver-private ioctl on a DRM fd, by the driver its device runs. */
export async function opPrivate(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const pk = run.pickDrm(ctx);
  if (!pk) return "ok";
  const drv = privateDriver(run.devs[pk.e.file!.dev]!.device.driver.name);
  if (drv === "qxl") return opQxl(run, ctx, pk.e, pk.own);
  if (drv === "vmwgfx") return opVmw(run, ctx, pk.e, pk.own);
  return "ok";
}

/**
 * One private ioctl through `e` (recorded for the fd checks: -ENOTTY only from a file that is
 * not DRM's; with `handle`, "no such handle" only if it did not surely live throughout), and
 * the oracle every call has: 0 or a negative errno (a value for none of them). `make`: a
 * handle-making call (creating()).
 */
export async function privIoctl(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  cmd: number,
  arg: object,
  what: string,
  opts: { make?: boolean; handle?: { h: number; noSuch: number }; auth?: AuthIoctl } = {},
): Promise<{ ret: number; t0: number; t1: number; m: number }> {
  const m = run.failMark();
  const t0 = run.model.tick();
  const call = () => ctx.p.ioctl(e.fd, cmd, arg);
  const ret = opts.make ? await run.creating(e.file!, call) : await call();
  const t1 = run.model.tick();
  if (typeof ret !== "number" || !Number.isInteger(ret) || ret > 0)
    run.model.diverge(`${what} returned ${String(ret)}`);
  // (Every qxl ioctl is DRM_AUTH; vmwgfx's the fuzzer issues are DRM_RENDER_ALLOW only.)
  const authIo = opts.auth ?? (run.qxlDevs.devs!.has(e.file!.dev) ? run.qxlDevs : undefined);
  run.drmUse(ctx, e, t0, t1, ret, what, opts.handle, authIo);
  return { ret, t0, t1, m };
}

/**
 * Checks a result the arguments alone decide (a bad flag, a never-valid handle), in any file
 * still at the fd: one of `want`, or -EACCES (DRM_AUTH on a primary client that is not
 * authenticated), or an allocation failure's errno.
 */
export function privExpect(
  run: FuzzRun,
  e: FdEntry,
  what: string,
  ret: number,
  want: readonly number[],
  m: number,
) {
  if (e.closed || want.includes(ret) || ret === -EACCES || run.allocFailed(ret, m)) return;
  run.model.diverge(`${what} = ${ret}, expected ${want.join(" or ")}`);
}

/**
 * A GEM handle a private creation returned: joins the file's handle bookkeeping (GEM_CLOSE,
 * FLINK, PRIME export and GEM_CHANGE_HANDLE pick it), naming a buffer the model cannot tell
 * (UNKNOWN_BUFFER: never stamped, so no stamp read through it is evidence). `fresh`: the call
 * made a new handle, which must not be one the file holds (in a file no other thread used).
 */
export function privHandle(
  run: FuzzRun,
  e: FdEntry,
  own: boolean,
  h: number,
  t0: number,
  t1: number,
  fresh: boolean,
) {
  const f = e.file!;
  if (e.closed) return;
  if (fresh && own && !f.shared && f.live.has(h))
    run.model.diverge(`private creation returned handle ${h}, still live in this file`);
  if (!fresh && f.live.has(h)) return;
  f.addHandle(h, UNKNOWN_BUFFER);
  f.bind(h, UNKNOWN_BUFFER, t0, t1, { fresh });
  privOf(run, f).bos.push(h);
}

/** A handle for a lookup: live (weighted to shared), closed, or never valid. */
export function privLookupHandle(
  run: FuzzRun,
  f: ModelFile,
  label: string,
): { h: number; never: boolean } {
  const k = choose(6, label);
  if (k === 0) return { h: NEVER_HANDLE, never: !f.changeTargets.has(NEVER_HANDLE) };
  if (k === 1 && f.closed.size > 0)
    return { h: run.pick([...f.closed], `${label} closed`)!, never: false };
  const h = run.pickHandle(f, label);
  return h === undefined ? { h: NEVER_HANDLE, never: true } : { h, never: false };
}

/** privLookupHandle(), or half the time a live handle a private creation of the file made. */
export function privBoHandle(
  run: FuzzRun,
  f: ModelFile,
  label: string,
): { h: number; never: boolean } {
  const bos = privOf(run, f).bos.filter((h) => f.live.has(h));
  if (bos.length > 0 && choose(2, `${label} private`) === 0)
    return { h: run.pick(bos, label)!, never: false };
  return privLookupHandle(run, f, label);
}

/** A page of anonymous memory of the thread's, for a command stream or a reply; or < 0. */
export function anonPage(_run: FuzzRun, ctx: ThreadCtx): Promise<number> {
  return ctx.p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/**
 * One of qxl's seven ioctls (qxl_ioctl.c), with valid and invalid arguments; or a burst of
 * EXECBUFFER calls (a client drawing frame after frame: release pages fill and roll over), or
 * a surface's churn (ALLOC_SURF, a draw naming it, which gives it a hardware surface id, and
 * half the time its GEM_CLOSE).
 */
export async function opQxl(run: FuzzRun, ctx: ThreadCtx, e: FdEntry, own: boolean): Promise<"ok"> {
  const f = e.file!;
  // (10-22: fuzz-ops-qxl-vram.ts, after the others: values 0-9 keep their meaning, 10-14
  // theirs from before 15-20, and 0-20 theirs from before 21-22 (qxlEvictBusyRelease()): a
  // recorded token replays the same operations.)
  switch (choose(23, "fuzz qxl op")) {
    case 0: {
      // ALLOC: a VRAM buffer of whole pages, or size 0 (-EINVAL).
      const bad = choose(6, "fuzz qxl alloc bad") === 0;
      const arg = { size: bad ? 0 : PAGE * (1 + choose(4, "fuzz qxl pages")), handle: 0 };
      const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_ALLOC, arg, "QXL_ALLOC", {
        make: true,
      });
      if (bad) privExpect(run, e, "QXL_ALLOC(size 0)", r.ret, [-EINVAL], r.m);
      else qxlAllocResult(run, e, own, arg.handle, r);
      return "ok";
    }
    case 1: {
      // MAP: the mmap offset of a live, closed or never-valid handle.
      const { h, never } = privLookupHandle(run, f, "fuzz qxl map handle");
      const arg = { offset: 0, handle: h, pad: 0 };
      const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_MAP, arg, `QXL_MAP(${h})`, {
        handle: { h, noSuch: -ENOENT },
      });
      // (An offset only from a file still at the fd: a sibling's dup2() onto it may have
      // put a vgem file there, whose VGEM_FENCE_ATTACH has QXL_MAP's request number.)
      if (never) privExpect(run, e, `QXL_MAP(${h})`, r.ret, [-ENOENT], r.m);
      else if (r.ret === 0 && !(arg.offset > 0) && !e.closed)
        run.model.diverge(`QXL_MAP(${h}) gave offset ${arg.offset}`);
      return "ok";
    }
    case 2: {
      // GETPARAM: the two parameters, and unknown ones (-EINVAL).
      const param = QXL_PARAMS[choose(QXL_PARAMS.length, "fuzz qxl param")]!;
      const arg = { param, value: 0 };
      const what = `QXL_GETPARAM(${param})`;
      const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_GETPARAM, arg, what);
      if (param !== 1 && param !== 2) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
      else {
        privExpect(run, e, what, r.ret, [0], r.m);
        if (r.ret === 0 && param === 2 && arg.value !== QXL_MAX_RES && !e.closed)
          run.model.diverge(`${what} = ${arg.value}, not QXL_MAX_RES (${QXL_MAX_RES})`);
      }
      return "ok";
    }
    case 3: {
      // CLIENTCAP: a bit of the device's client capabilities; past the array -ENOSYS.
      const index = QXL_CLIENTCAP_INDEXES[choose(QXL_CLIENTCAP_INDEXES.length, "fuzz qxl cap")]!;
      const what = `QXL_CLIENTCAP(${index})`;
      const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_CLIENTCAP, { index, pad: 0 }, what);
      privExpect(run, e, what, r.ret, index >= QXL_CLIENTCAP_END ? [-ENOSYS] : [0, -ENOSYS], r.m);
      return "ok";
    }
    case 4: {
      // ALLOC_SURF: a 64-texel-wide surface of one or two pages (top-down or bottom-up).
      const rows = choose(2, "fuzz qxl surf rows") === 0 ? 15 : 31;
      const stride = choose(2, "fuzz qxl surf stride") === 0 ? 256 : -256;
      const arg = {
        format: SPICE_SURFACE_FMT_32_XRGB,
        width: 64,
        height: rows,
        stride,
        handle: 0,
        pad: 0,
      };
      const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_ALLOC_SURF, arg, "QXL_ALLOC_SURF", {
        make: true,
      });
      if (r.ret === 0) privHandle(run, e, own, arg.handle, r.t0, r.t1, true);
      return "ok";
    }
    case 5: {
      // UPDATE_AREA of a handle: an empty area is -EINVAL before any lookup; a never-valid
      // handle -ENOENT.
      const { h, never } = privLookupHandle(run, f, "fuzz qxl update handle");
      const empty = choose(5, "fuzz qxl update empty") === 0;
      const arg = { handle: h, top: 0, left: empty ? 8 : 0, bottom: 4, right: 8, pad: 0 };
      const what = `QXL_UPDATE_AREA(${h}${empty ? ", empty" : ""})`;
      const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_UPDATE_AREA, arg, what, {
        handle: empty ? undefined : { h, noSuch: -ENOENT },
      });
      if (empty) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
      else if (never) privExpect(run, e, what, r.ret, [-ENOENT], r.m);
      return "ok";
    }
    case 8:
      return qxlExecbuffer(run, ctx, e, 2 + choose(QXL_BURST_MAX - 1, "fuzz qxl burst"));
    case 9:
      return qxlSurfaceChurn(run, ctx, e, own);
    case 10:
      return qxlCreateGuessClose(run, ctx, e);
    case 11:
    case 12:
      return qxlAllocBurst(run, ctx, e, own);
    case 13:
    case 14:
      return qxlEvictRace(run, ctx, e, own);
    case 15:
    case 16:
      return qxlEvictReleaseRace(run, ctx, e, own);
    case 17:
    case 18:
      return qxlEvictDeleted(run, ctx, e, own);
    case 19:
    case 20:
      return qxlCreateGuessClose(run, ctx, e);
    case 21:
    case 22:
      return qxlEvictBusyRelease(run, ctx, e, own);
    default:
      return qxlExecbuffer(run, ctx, e, 1);
  }
}

/**
 * A surface's life as a client leads it: ALLOC_SURF, then an EXECBUFFER whose drawable names
 * it by a SURF relocation (its first validation gives it a hardware surface id: under few
 * slots, qxl_surface_id_alloc() runs the reaper), then half the time GEM_CLOSE of it.
 */
export async function qxlSurfaceChurn(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
): Promise<"ok"> {
  const arg = {
    format: SPICE_SURFACE_FMT_32_XRGB,
    width: 64,
    height: 15,
    stride: 256,
    handle: 0,
    pad: 0,
  };
  const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_ALLOC_SURF, arg, "QXL_ALLOC_SURF", {
    make: true,
  });
  if (r.ret !== 0) return "ok";
  privHandle(run, e, own, arg.handle, r.t0, r.t1, true);
  await qxlExecbuffer(run, ctx, e, 1, arg.handle);
  if (choose(2, "fuzz qxl churn close") === 0)
    await run.doGemClose(ctx, e, own, arg.handle, null, false);
  return "ok";
}

/**
 * qxl EXECBUFFER of one DRAW command from a page of the thread's: relocations to live
 * handles (a buffer's address, a surface's id), to closed and never-valid ones (-EINVAL),
 * and garbage (a NULL `commands`: -EFAULT; a refused command type, an oversized command, an
 * unknown relocation type: -EINVAL; no command at all: 0).
 */
export async function qxlExecbuffer(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  calls: number,
  surface?: number,
  bo?: number,
): Promise<"ok"> {
  const f = e.file!;
  const kind = surface !== undefined || bo !== undefined ? 3 : choose(8, "fuzz qxl exec kind");
  if (kind === 0) {
    const arg = { flags: 0, commands_num: 1 + choose(2, "fuzz qxl exec n"), commands: 0 };
    const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_EXECBUFFER, arg, "QXL_EXECBUFFER(NULL)");
    privExpect(run, e, "QXL_EXECBUFFER(NULL commands)", r.ret, [-EFAULT], r.m);
    return "ok";
  }
  if (kind === 1) {
    const arg = { flags: 0, commands_num: 0, commands: 0 };
    const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_EXECBUFFER, arg, "QXL_EXECBUFFER(0)");
    privExpect(run, e, "QXL_EXECBUFFER(no command)", r.ret, [0], r.m);
    return "ok";
  }
  const relocs: QxlFuzzReloc[] = [];
  let never = false;
  if (surface !== undefined) relocs.push({ type: QXL_RELOC_TYPE_SURF, handle: surface });
  if (bo !== undefined) relocs.push({ type: QXL_RELOC_TYPE_BO, handle: bo });
  const n = choose(surface !== undefined || bo !== undefined ? 2 : 3, "fuzz qxl relocs");
  for (let i = 0; i < n; i++) {
    const l = privLookupHandle(run, f, "fuzz qxl reloc handle");
    never ||= l.never;
    const surf = choose(3, "fuzz qxl reloc surf") === 0;
    relocs.push({ type: surf ? QXL_RELOC_TYPE_SURF : QXL_RELOC_TYPE_BO, handle: l.h });
  }
  const garbage = kind === 2 ? choose(3, "fuzz qxl exec garbage") : -1;
  const c: QxlFuzzCommand = {
    type: garbage === 0 ? QXL_CMD_SURFACE : QXL_CMD_DRAW,
    op: choose(2, "fuzz qxl draw op") === 0 ? QXL_DRAW_FILL : 0,
    relocs,
    commandSize: garbage === 1 ? PAGE + 1 : QXL_DRAW_SIZE,
    badRelocType: garbage === 2,
  };
  // Commands per call: mostly one, sometimes several (each its own release).
  const count = QXL_COMMANDS_PER_CALL[choose(QXL_COMMANDS_PER_CALL.length, "fuzz qxl cmds")]!;
  const page = await anonPage(run, ctx);
  if (page < 0) return "ok";
  const w = await ctx.p.writeMemory(page, qxlCommandPage(page, c, count));
  // The same drawing `calls` times (a burst, as a client drawing frame after frame), until a
  // call fails.
  for (let k = 0; w >= 0 && k < calls; k++) {
    const arg = { flags: 0, commands_num: count, commands: qxlCommandAt(page) };
    const what = `QXL_EXECBUFFER(${c.type}${count > 1 ? ` x${count}` : ""}, relocs ${relocs.map((x) => x.handle).join(",")}${garbage >= 0 ? `, garbage ${garbage}` : ""})`;
    const r = await privIoctl(run, ctx, e, DRM_IOCTL_QXL_EXECBUFFER, arg, what);
    // Before any handle is looked up: the command's type and size; the relocations in order.
    if (garbage === 0 || garbage === 1) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
    else if (never || garbage === 2)
      privExpect(run, e, what, r.ret, qxlExecBadRelocExpect(run.devs[f.dev]!.scarce), r.m);
    if (r.ret !== 0) break;
  }
  await ctx.p.munmap(page, PAGE);
  return "ok";
}

/** One of vmwgfx's ioctls (vmwgfx_drv.c's table), with valid and invalid arguments. */
export async function opVmw(run: FuzzRun, ctx: ThreadCtx, e: FdEntry, own: boolean): Promise<"ok"> {
  const f = e.file!;
  const ps = privOf(run, f);
  // ALLOC_BO, HANDLE_CLOSE, SYNCCPU x2, surfaces x5 (create x2, ref, unref, export),
  // EXECBUF x2, fences x2, contexts x2.
  // (14-16, with opts.vmwVram only: fuzz-ops-vmw-vram.ts, after the others.)
  const k = choose(run.opts.vmwVram ? VMW_OPS_WITH_VRAM : 14, "fuzz vmw op");
  if (k >= 14) return opVmwVram(run, ctx, e, own, k);
  switch (k) {
    case 0: {
      // ALLOC_BO: a buffer of whole pages; size 0 has no mmap offset (-ENOSPC).
      const bad = choose(6, "fuzz vmw alloc bad") === 0;
      const arg = {
        size: bad ? 0 : PAGE * (1 + choose(4, "fuzz vmw pages")),
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
      if (bad) privExpect(run, e, "VMW_ALLOC_BO(size 0)", r.ret, [-ENOSPC], r.m);
      else if (r.ret === 0) privHandle(run, e, own, arg.handle, r.t0, r.t1, true);
      return "ok";
    }
    case 1: {
      // HANDLE_CLOSE (= UNREF_DMABUF): drm_gem_handle_delete(), GEM_CLOSE's errno.
      const { h, never } = privLookupHandle(run, f, "fuzz vmw close handle");
      const expect = never ? -EINVAL : f.live.has(h) ? 0 : f.closed.has(h) ? -EINVAL : null;
      await run.doGemClose(
        ctx,
        e,
        own,
        h,
        expect,
        never,
        DRM_IOCTL_VMW_HANDLE_CLOSE,
        "VMW_HANDLE_CLOSE",
      );
      return "ok";
    }
    case 2:
    case 3: {
      // SYNCCPU grab or release of a buffer (half the time one a private creation made),
      // with good and bad flags and ops.
      const { h, never } = privBoHandle(run, f, "fuzz vmw sync handle");
      const badFlags = choose(6, "fuzz vmw sync bad flags") === 0;
      const badOp = choose(8, "fuzz vmw sync bad op") === 0;
      const rw = [
        drm_vmw_synccpu_read,
        drm_vmw_synccpu_write,
        drm_vmw_synccpu_read | drm_vmw_synccpu_write,
      ][choose(3, "fuzz vmw sync rw")]!;
      const flags = badFlags
        ? [0, 0x100][choose(2, "fuzz vmw sync bad")]!
        : rw | (choose(2, "fuzz vmw sync dontblock") === 0 ? drm_vmw_synccpu_dontblock : 0);
      const op = badOp
        ? 7
        : choose(2, "fuzz vmw sync op") === 0
          ? drm_vmw_synccpu_grab
          : drm_vmw_synccpu_release;
      const what = `VMW_SYNCCPU(${h}, op ${op}, flags ${flags})`;
      const r = await privIoctl(
        run,
        ctx,
        e,
        DRM_IOCTL_VMW_SYNCCPU,
        { op, flags, handle: h, pad64: 0 },
        what,
      );
      if (badFlags || badOp) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
      else if (never) privExpect(run, e, what, r.ret, [-ESRCH], r.m);
      return "ok";
    }
    case 4:
    case 5:
      return vmwSurfaceCreate(run, ctx, e, own);
    case 6: {
      // GB_SURFACE_REF of a surface handle (this file's, another file's, a gone or never one).
      const k = choose(4, "fuzz vmw ref which");
      const sid =
        k === 0
          ? NEVER_OBJECT
          : k === 1
            ? (run.pick(run.devSurfaces[f.dev]!, "fuzz vmw ref dev sid") ?? NEVER_OBJECT)
            : k === 2
              ? (run.pick(ps.gone, "fuzz vmw ref gone sid") ?? NEVER_OBJECT)
              : (run.pick(ps.surfaces, "fuzz vmw ref sid") ?? NEVER_OBJECT);
      const arg = { sid, handle_type: DRM_VMW_HANDLE_LEGACY } as DrmVmwGbSurfaceRefArg;
      const what = `VMW_GB_SURFACE_REF(${sid})`;
      const r = await privIoctl(run, ctx, e, DRM_IOCTL_VMW_GB_SURFACE_REF, arg, what, {
        make: true,
      });
      if (sid === NEVER_OBJECT) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
      if (r.ret === 0 && !e.closed) {
        ps.surfaces.push(sid);
        if (arg.rep_buffer_handle !== SVGA3D_INVALID_ID)
          privHandle(run, e, own, arg.rep_buffer_handle, r.t0, r.t1, false);
      }
      return "ok";
    }
    case 7: {
      // UNREF_SURFACE: one open less; a handle the file has not opened is -EINVAL.
      const sid =
        choose(4, "fuzz vmw unref never") === 0
          ? NEVER_OBJECT
          : (run.pick(ps.surfaces, "fuzz vmw unref sid") ?? NEVER_OBJECT);
      const what = `VMW_UNREF_SURFACE(${sid})`;
      const r = await privIoctl(
        run,
        ctx,
        e,
        DRM_IOCTL_VMW_UNREF_SURFACE,
        { sid, handle_type: DRM_VMW_HANDLE_LEGACY },
        what,
      );
      if (sid === NEVER_OBJECT) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
      else if (r.ret === 0) dropOne(run, ps.surfaces, sid, ps.gone);
      return "ok";
    }
    case 8:
      return vmwSurfaceExport(run, ctx, e);
    case 9:
    case 10:
      return vmwExecbuf(run, ctx, e);
    case 11:
      return vmwFence(run, ctx, e);
    default:
      return vmwContext(run, ctx, e);
  }
}

/**
 * GB_SURFACE_CREATE: a small surface with a buffer of its own (create_buffer), over a live
 * buffer of the file (its guest memory: too small, or a dumb buffer's, is -EINVAL), or with
 * arguments the driver refuses before anything is made (an SM4 array, a multisample count,
 * an autogen filter: -EINVAL; an unknown buffer handle: -ESRCH).
 */
export async function vmwSurfaceCreate(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  own: boolean,
): Promise<"ok"> {
  const f = e.file!;
  const ps = privOf(run, f);
  // 0-2: a buffer of its own; 3: over a buffer a private creation made; 4: over any live
  // buffer; 5: an SM4 array and a multisample count; 6: an autogen filter; 7: an unknown
  // buffer.
  const k = choose(8, "fuzz vmw surface kind");
  const kind = k <= 2 ? 0 : k - 2;
  const bos = ps.bos.filter((h) => f.live.has(h));
  const given =
    kind === 1
      ? run.pick(bos, "fuzz vmw surface own bo")
      : kind === 2
        ? run.pickHandle(f, "fuzz vmw surface bo")
        : undefined;
  const arg: DrmVmwGbSurfaceCreateArg = {
    svga3d_flags: 0,
    format: VMW_SURFACE_FORMAT,
    mip_levels: 1,
    drm_surface_flags:
      drm_vmw_surface_flag_shareable |
      (given === undefined ? drm_vmw_surface_flag_create_buffer : 0),
    multisample_count: kind === 3 ? 4 : 0,
    autogen_filter: kind === 4 ? 1 : 0,
    buffer_handle: kind === 5 ? NEVER_HANDLE : (given ?? SVGA3D_INVALID_ID),
    array_size: kind === 3 ? 2 : 0,
    width: 16 * (1 + choose(4, "fuzz vmw surface width")),
    height: 1,
    depth: 1,
    handle: 0,
    backup_size: 0,
    rep_buffer_handle: 0,
    buffer_size: 0,
    buffer_map_handle: 0,
  };
  if (kind === 5) arg.drm_surface_flags = drm_vmw_surface_flag_shareable;
  const what = `VMW_GB_SURFACE_CREATE(kind ${kind}${given !== undefined ? `, bo ${given}` : ""})`;
  const r = await privIoctl(run, ctx, e, DRM_IOCTL_VMW_GB_SURFACE_CREATE, arg, what, {
    make: true,
  });
  if (kind === 3 || kind === 4) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
  // (kind 1 or 2 over a buffer too small for the surface, or a dumb buffer's: -EINVAL.)
  else if (kind === 5 && !f.changeTargets.has(NEVER_HANDLE))
    privExpect(run, e, what, r.ret, [-ESRCH], r.m);
  // A surface with a buffer of its own that failed for want of memory may have left the
  // buffer's GEM handle in the file (vmw_gb_surface_define_internal() creates it before
  // ttm_prime_object_init() fails, as for a dumb buffer: doCreate()): no claim about the
  // file's handles from then on (a soak under `--faults p:0.02` got GEM_CHANGE_HANDLE to
  // that number -ENOSPC).
  if (r.ret !== 0 && run.allocFailed(r.ret, r.m)) {
    f.shared = true;
    f.chaos = true;
  }
  if (r.ret !== 0 || e.closed) return "ok";
  ps.surfaces.push(arg.handle);
  run.devSurfaces[f.dev]!.push(arg.handle);
  if (arg.rep_buffer_handle !== SVGA3D_INVALID_ID)
    privHandle(run, e, own, arg.rep_buffer_handle, r.t0, r.t1, given === undefined);
  return "ok";
}

/**
 * PRIME_HANDLE_TO_FD of a surface handle (vmwgfx routes handles above VMWGFX_NUM_MOB to its
 * TTM prime objects: ttm_prime_handle_to_fd()), sometimes twice (the second a re-export of the
 * cached dma-buf); the dma-buf fds are closed again at once, so another thread's export of
 * the same surface may race their last close.
 */
export async function vmwSurfaceExport(run: FuzzRun, ctx: ThreadCtx, e: FdEntry): Promise<"ok"> {
  const ps = privOf(run, e.file!);
  const sid = run.pick(ps.surfaces, "fuzz vmw export sid") ?? NEVER_OBJECT;
  const times = 1 + choose(2, "fuzz vmw export twice");
  const fds: number[] = [];
  for (let i = 0; i < times; i++) {
    const arg = { handle: sid, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
    const t0 = run.model.tick();
    const pend = ctx.proc.fdm.begin(t0);
    const r = await privIoctl(
      run,
      ctx,
      e,
      DRM_IOCTL_PRIME_HANDLE_TO_FD,
      arg,
      `PRIME_HANDLE_TO_FD(surface ${sid})`,
    );
    if (r.ret === 0) {
      ctx.proc.fdm.installed(arg.fd, { kind: "dmabuf", buf: UNKNOWN_BUFFER }, t0, r.t1);
      if (!lostFd(run, ctx.proc, arg.fd, t0)) fds.push(arg.fd);
    }
    ctx.proc.fdm.end(pend);
  }
  for (const fd of fds) {
    const ret = await run.closeFd(ctx, fd);
    if (ret !== 0 && !lostFd(run, ctx.proc, fd, 0))
      run.model.diverge(`close(${fd}) of a surface's dma-buf = ${ret}`);
  }
  return "ok";
}

/**
 * EXECBUF of a command stream: a GPU fill of one of the file's buffers (whole: a fill with
 * one byte can spoil a stamp, never forge one) or of a surface's, a context's `clear`; with a
 * fence_rep page (a fence object handle for the fence ioctls) or without; and garbage (an
 * unknown command: -EINVAL; a never-valid buffer: -ESRCH).
 */
export async function vmwExecbuf(run: FuzzRun, ctx: ThreadCtx, e: FdEntry): Promise<"ok"> {
  const f = e.file!;
  const ps = privOf(run, f);
  const kind = choose(6, "fuzz vmw exec kind");
  let commands: string;
  let expect: number | null = null;
  if (kind === 0) {
    commands = "bogus 1";
    expect = -EINVAL;
  } else if (kind === 1) {
    // An unknown buffer (-ESRCH), or a number vmwgfx takes for a surface: unknown, -EINVAL.
    const low = choose(2, "fuzz vmw exec never") === 0;
    const h = low ? NEVER_BO : NEVER_HANDLE;
    commands = vmwFill(h, 1);
    if (!f.changeTargets.has(h)) expect = low ? -ESRCH : -EINVAL;
  } else if (kind === 2 && ps.contexts.length > 0) {
    commands = vmwClear(run.pick(ps.contexts, "fuzz vmw exec cid")!);
  } else if (kind === 3 && ps.surfaces.length > 0) {
    commands = vmwFill(run.pick(ps.surfaces, "fuzz vmw exec sid")!, 0x11);
  } else {
    const h = run.pickHandle(f, "fuzz vmw exec bo");
    if (h === undefined) return "ok";
    commands = vmwFill(h, 0x22);
  }
  const withRep = choose(2, "fuzz vmw exec rep") === 0;
  const page = withRep ? await anonPage(run, ctx) : 0;
  if (page < 0) return "ok";
  const arg: DrmVmwExecbufArg = {
    commands,
    version: DRM_VMW_EXECBUF_VERSION,
    flags: 0,
    fence_seqno: 0,
    fence_rep: page,
    context_handle: 0,
    imported_fence_fd: -1,
  };
  const what = `VMW_EXECBUF(${commands})`;
  const r = await privIoctl(run, ctx, e, DRM_IOCTL_VMW_EXECBUF, arg, what);
  if (expect !== null) privExpect(run, e, what, r.ret, [expect], r.m);
  if (r.ret === 0 && withRep && !e.closed) {
    const rep = await ctx.p.readMemory(page, DRM_VMW_FENCE_REP_SIZE);
    if (typeof rep !== "number") {
      const fr = decodeDrmVmwFenceRep(rep);
      if (fr.error === 0 && fr.handle !== 0) ps.fences.push(fr.handle);
    }
  }
  if (withRep) await ctx.p.munmap(page, PAGE);
  return "ok";
}

/** FENCE_WAIT (sometimes with DRM_VMW_WAIT_OPTION_UNREF), FENCE_SIGNALED or FENCE_UNREF. */
export async function vmwFence(run: FuzzRun, ctx: ThreadCtx, e: FdEntry): Promise<"ok"> {
  const ps = privOf(run, e.file!);
  const k = choose(4, "fuzz vmw fence which");
  const h =
    k === 0
      ? NEVER_OBJECT
      : k === 1
        ? (run.pick(ps.gone, "fuzz vmw fence gone") ?? NEVER_OBJECT)
        : (run.pick(ps.fences, "fuzz vmw fence") ?? NEVER_OBJECT);
  const op = choose(3, "fuzz vmw fence op");
  if (op === 0) {
    const unref = choose(2, "fuzz vmw fence unref") === 0;
    const arg = {
      handle: h,
      cookie_valid: 0,
      kernel_cookie: 0,
      timeout_us: [0, 1000, 100_000][choose(3, "fuzz vmw fence timeout")]!,
      lazy: 0,
      flags: DRM_VMW_FENCE_FLAG_EXEC,
      wait_options: unref ? DRM_VMW_WAIT_OPTION_UNREF : 0,
      pad64: 0,
    };
    const what = `VMW_FENCE_WAIT(${h}${unref ? ", unref" : ""})`;
    const r = await privIoctl(run, ctx, e, DRM_IOCTL_VMW_FENCE_WAIT, arg, what);
    if (h === NEVER_OBJECT) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
    else if (r.ret === 0 && unref) dropOne(run, ps.fences, h, ps.gone);
  } else if (op === 1) {
    const arg = {
      handle: h,
      flags: DRM_VMW_FENCE_FLAG_EXEC,
      signaled: -1,
      passed_seqno: 0,
      signaled_flags: 0,
      pad64: 0,
    };
    const what = `VMW_FENCE_SIGNALED(${h})`;
    const r = await privIoctl(run, ctx, e, DRM_IOCTL_VMW_FENCE_SIGNALED, arg, what);
    if (h === NEVER_OBJECT) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
    else if (r.ret === 0 && arg.signaled !== 0 && arg.signaled !== 1)
      run.model.diverge(`${what}: signaled = ${arg.signaled}`);
  } else {
    const what = `VMW_FENCE_UNREF(${h})`;
    const r = await privIoctl(
      run,
      ctx,
      e,
      DRM_IOCTL_VMW_FENCE_UNREF,
      { handle: h, pad64: 0 },
      what,
    );
    if (h === NEVER_OBJECT) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
    else if (r.ret === 0) dropOne(run, ps.fences, h, ps.gone);
  }
  return "ok";
}

/** CREATE_CONTEXT, CREATE_EXTENDED_CONTEXT (legacy; DX and unknown kinds: -EINVAL), UNREF_CONTEXT. */
export async function vmwContext(run: FuzzRun, ctx: ThreadCtx, e: FdEntry): Promise<"ok"> {
  const ps = privOf(run, e.file!);
  const op = choose(4, "fuzz vmw ctx op");
  if (op === 0) {
    const arg = { cid: 0, pad64: 0 };
    const r = await privIoctl(run, ctx, e, DRM_IOCTL_VMW_CREATE_CONTEXT, arg, "VMW_CREATE_CONTEXT");
    if (r.ret === 0 && !e.closed) ps.contexts.push(arg.cid);
  } else if (op === 1) {
    const req = [drm_vmw_context_legacy, drm_vmw_context_dx, 7][choose(3, "fuzz vmw ctx req")]!;
    const arg = { req, cid: 0, pad64: 0 };
    const what = `VMW_CREATE_EXTENDED_CONTEXT(${req})`;
    const r = await privIoctl(run, ctx, e, DRM_IOCTL_VMW_CREATE_EXTENDED_CONTEXT, arg, what);
    if (req === 7) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
    if (r.ret === 0 && !e.closed) ps.contexts.push(arg.cid);
  } else {
    const cid =
      choose(4, "fuzz vmw ctx never") === 0
        ? NEVER_OBJECT
        : (run.pick(ps.contexts, "fuzz vmw ctx cid") ?? NEVER_OBJECT);
    const what = `VMW_UNREF_CONTEXT(${cid})`;
    const r = await privIoctl(run, ctx, e, DRM_IOCTL_VMW_UNREF_CONTEXT, { cid, pad64: 0 }, what);
    if (cid === NEVER_OBJECT) privExpect(run, e, what, r.ret, [-EINVAL], r.m);
    else if (r.ret === 0) dropOne(run, ps.contexts, cid, ps.gone);
  }
  return "ok";
}
