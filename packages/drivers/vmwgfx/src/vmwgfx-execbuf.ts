/**
 * Command submission (drivers/gpu/drm/vmwgfx/vmwgfx_execbuf.c), reduced to its lifetime skeleton:
 * DRM_VMW_EXECBUF translates the handles a command stream names (buffers by GEM handle,
 * surfaces by their ttm handle: their guest memory buffer), takes a reference on each for the
 * validation list, reserves and validates the buffers, submits the commands to the simulated
 * device, fences every buffer with the submission's fence, and drops the references. From then
 * on the buffers are *busy* until the device signals the fence: a buffer released meanwhile is
 * destroyed by TTM's delayed delete, SYNCCPU grab waits for it, a dma-buf of it polls busy.
 *
 * The command stream is SVGA3D in the kernel; here it is a string of `;`-separated commands the
 * simulated engine runs: `fill <handle> <byte>` (the whole buffer) and `copy <src> <dst>` (the
 * smaller size). The reply is the fence's seqno (the kernel writes a struct drm_vmw_fence_rep to
 * the user's `fence_rep` pointer and makes a fence object handle).
 *
 * Faithfulness: Linux v6.12 vmw_execbuf_process() / vmw_translate_mob_ptr() /
 * vmw_cmd_res_check() / vmw_validation_*: -EINVAL for a bad command or an unknown surface, -ESRCH
 * for an unknown buffer handle (vmw_user_bo_lookup()), -EBUSY for a buffer with a SYNCCPU CPU
 * writer (vmw_validation_bo_validate_single()). Buffers are reserved in a fixed global
 * order instead of with a ww_acquire_ctx (no -EDEADLK backoff needed).
 */

import {
  DmaResvUsage,
  dmaFencePut,
  dmaResvAddFence,
  dmaResvReserveFences,
} from "@primetime/dma-buf";
import type { DrmDevice, DrmFile } from "@primetime/gem";
import { EBUSY, EINVAL, ERESTARTSYS, ESRCH, isErr, lockdepAssertHeld } from "@primetime/kernel";
import { point } from "@primetime/sim";
import type { Command } from "@primetime/simgpu";
import {
  ttmBoGetUnlessZero,
  ttmBoPopulate,
  ttmBoUnreserve,
  ttmResourceGpuAddress,
  ttmTtIsPopulated,
} from "@primetime/ttm";
import {
  TTM_PRIME_TYPE,
  type TtmObjectFile,
  ttmBaseObjectLookup,
  ttmBaseObjectUnref,
  VMW_RES_SURFACE,
  VMWGFX_NUM_MOB,
} from "./ttm-object.js";
import type { TtmPrimeObject } from "./ttm-prime-object.js";
import { type VmwBo, vmwBoUnreference, vmwUserBoLookup, vmwUserBoUnref } from "./vmwgfx-bo.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import {
  type VmwResource,
  vmwResourceReference,
  vmwResourceUnreference,
} from "./vmwgfx-resource.js";
import type { VmwUserSurface } from "./vmwgfx-surface.js";
import type { DrmVmwExecbufArg } from "./vmwgfx-uapi.js";

/** The buffers one submission may use (lockdep subclasses of the reservation class). */
export const VMW_EXECBUF_MAX_BOS = 8;

/** One parsed command. */
type ExecCmd =
  | { op: "fill"; dst: number; value: number }
  | { op: "copy"; src: number; dst: number };

/** Whitespace between the words of a command (what `\s` matches). */
const WORDS = /\s+/;
/** A command stream with nothing but single spaces between words and no empty command. */
const SIMPLE = /^[a-z]+(?: \d+)*(?:;[a-z]+(?: \d+)*)*$/;

/** Parses the command string; null if malformed. */
function parseCommands(text: string): ExecCmd[] | null {
  const out: ExecCmd[] = [];
  // The usual stream (`fill 3 7`, `copy 3 5`) splits on single spaces; anything else goes
  // through the general split, with the same result.
  const simple = SIMPLE.test(text);
  for (const part of text.split(";")) {
    const w = simple ? part.split(" ") : part.trim().split(WORDS);
    if (w.length === 1 && w[0] === "") continue;
    if (w.length !== 3) return null;
    const a = Number(w[1]);
    const b = Number(w[2]);
    if (!Number.isInteger(a) || a < 0 || !Number.isInteger(b) || b < 0) return null;
    if (w[0] === "fill" && b <= 0xff) out.push({ op: "fill", dst: a, value: b });
    else if (w[0] === "copy") out.push({ op: "copy", src: a, dst: b });
    else return null;
  }
  return out.length > 0 ? out : null;
}

/**
 * parseCommands() by command string, for the process: a campaign submits the same few streams
 * (`fill 3 7`, `copy 3 5`) run after run. The parsed commands are only read. Past PARSED_MAX
 * strings the table starts over.
 */
const parsed = new Map<string, readonly ExecCmd[] | null>();
const PARSED_MAX = 4096;

function parsedCommands(text: string): readonly ExecCmd[] | null {
  if (typeof text !== "string") return parseCommands(text); // as malformed as before
  let cmds = parsed.get(text);
  if (cmds === undefined) {
    if (parsed.size >= PARSED_MAX) parsed.clear();
    cmds = parseCommands(text);
    parsed.set(text, cmds);
  }
  return cmds;
}

/** The fixed global order buffers are reserved in: by name, code unit by code unit. */
function byName(a: VmwBo, b: VmwBo): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Models struct vmw_sw_context's validation state: the buffers on the validation list (one TTM
 * reference each, ttm_bo_get_unless_zero(), whatever number of handles name them), the buffer of
 * each handle the commands name, and the resources (one reference each).
 */
interface SwContext {
  /** Models ctx->bo_list: each buffer once, holding a TTM reference. */
  boList: VmwBo[];
  /** The buffer each command handle translates to (a relocation). */
  bos: Map<number, VmwBo>;
  resources: VmwResource[];
}

/**
 * Models vmw_validation_add_bo(): a buffer not yet on the validation list
 * (vmw_validation_find_bo_dup()) goes on it with a TTM reference, ttm_bo_get_unless_zero()
 * (-ESRCH if its count already hit 0).
 * Locking: cmdbuf_mutex held by the submitter. References: takes a TTM one per new buffer.
 */
async function vmwValidationAddBo(vmw: VmwPrivate, sw: SwContext, bo: VmwBo): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  if (sw.boList.includes(bo)) return 0;
  const got = bo.imported
    ? (await bo.kref.getUnlessZero())
      ? bo
      : null
    : await ttmBoGetUnlessZero(bo);
  if (!got) return -ESRCH;
  sw.boList.push(bo);
  return 0;
}

/**
 * Models vmw_translate_mob_ptr() / vmw_cmd_res_check() for one handle: the buffer it names,
 * added to the validation list (vmwValidationAddBo(): a TTM reference). A buffer handle is looked
 * up with vmw_user_bo_lookup() (-ESRCH), added, and the lookup's GEM reference dropped at once
 * ("tmp_bo = vmw_bo; vmw_user_bo_unref(&tmp_bo);"). A surface handle (above VMWGFX_NUM_MOB) must
 * be one the file has opened (ttm_base_object_lookup()); its resource is referenced and its guest
 * memory buffer added (the kernel adds it in vmw_resources_reserve(), still under cmdbuf_mutex).
 * -EINVAL (unknown surface, or one without guest memory), -ESRCH (unknown buffer).
 * Locking: the file's lock (lookup), table_lock (GEM lookup), cmdbuf_mutex held by the caller.
 * References: a TTM one per buffer added, one per resource.
 */
async function vmwTranslateHandle(
  vmw: VmwPrivate,
  sw: SwContext,
  file: DrmFile,
  tfile: TtmObjectFile,
  handle: number,
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  if (sw.bos.has(handle)) return 0;
  if (handle > VMWGFX_NUM_MOB) {
    const base = await ttmBaseObjectLookup(tfile, handle);
    if (!base) return -EINVAL;
    let ret = 0;
    if (
      base.objectType !== TTM_PRIME_TYPE ||
      (base as TtmPrimeObject).realType !== VMW_RES_SURFACE
    ) {
      ret = -EINVAL;
    } else {
      const res = (base as VmwUserSurface).res;
      const bo = res.guestMemoryBo;
      if (!bo) ret = -EINVAL;
      else {
        sw.resources.push(await vmwResourceReference(res));
        ret = await vmwValidationAddBo(vmw, sw, bo);
        if (ret === 0) sw.bos.set(handle, bo);
      }
    }
    await ttmBaseObjectUnref(base);
    return ret;
  }
  const bo = await vmwUserBoLookup(file, handle);
  if (isErr(bo)) return bo;
  const ret = await vmwValidationAddBo(vmw, sw, bo);
  if (ret === 0) sw.bos.set(handle, bo);
  await vmwUserBoUnref(bo);
  return ret;
}

/**
 * Models vmw_execbuf_process() (DRM_VMW_EXECBUF, under cmdbuf_mutex): parse, translate every
 * handle (references on the validation list), reserve and validate the buffers, submit, fence
 * each buffer (write usage), unreserve, release the validation list. Returns 0 with the fence's
 * seqno in `fence_seqno`, or -EINVAL (bad stream), -ESRCH, -EBUSY (a buffer grabbed by SYNCCPU
 * without allow_cs), -ENOMEM, -ERESTARTSYS (a fatal
 * signal while waiting for cmdbuf_mutex, taken with mutex_lock_interruptible()).
 * Locking: cmdbuf_mutex, then the buffers' reservations in a fixed order.
 * References: the validation list's (TTM on the buffers), all dropped after cmdbuf_mutex is
 * released; the reservations keep a fence reference until it signals.
 */
export async function vmwExecbufIoctl(
  vmw: VmwPrivate,
  _dev: DrmDevice,
  arg: DrmVmwExecbufArg,
  file: DrmFile,
  tfile: TtmObjectFile,
): Promise<number> {
  const cmds = parsedCommands(arg.commands);
  if (!cmds) return -EINVAL;
  const sw: SwContext = { boList: [], bos: new Map(), resources: [] };
  // "ret = mutex_lock_interruptible(&dev_priv->cmdbuf_mutex); if (ret) { ret = -ERESTARTSYS;
  // goto out_free_header; }": nothing taken yet here.
  if (await vmw.cmdbufMutex.lockInterruptible()) return -ERESTARTSYS;
  let ret = 0;
  for (const c of cmds) {
    for (const h of c.op === "fill" ? [c.dst] : [c.src, c.dst]) {
      if (ret === 0) ret = await vmwTranslateHandle(vmw, sw, file, tfile, h);
    }
  }
  const bos = [...sw.boList].sort(byName);
  const reserved: VmwBo[] = [];
  if (ret === 0) {
    for (const bo of bos) {
      if (bo.imported) {
        ret = -EINVAL; // the device cannot reach another device's pages here
        break;
      }
      // ww_acquire_ctx locking of the validation list: a lockdep subclass per buffer, in a
      // fixed global order (so no -EDEADLK backoff is needed).
      if (reserved.length >= VMW_EXECBUF_MAX_BOS) {
        ret = -EINVAL;
        break;
      }
      ret = await bo.resv.lock.lockNested(reserved.length).then(() => 0);
      reserved.push(bo);
      ret = await dmaResvReserveFences(bo.resv, 1);
      if (ret) break;
      // vmw_validation_bo_validate_single(): a buffer grabbed for CPU access (SYNCCPU without
      // allow_cs) is not validated: "if (atomic_read(&vbo->cpu_writers)) return -EBUSY;".
      if (bo.cpuWriters !== 0) {
        ret = -EBUSY;
        break;
      }
      if (bo.ttm && !ttmTtIsPopulated(bo.ttm))
        ret = await ttmBoPopulate(bo, { interruptible: true, noWaitGpu: false, bytesMoved: 0 });
      if (ret) break;
    }
  }
  if (ret === 0) {
    const gpuCmds: Command[] = [];
    for (const c of cmds) {
      if (c.op === "fill") {
        const bo = sw.bos.get(c.dst)!;
        gpuCmds.push({
          op: "fill",
          dst: ttmResourceGpuAddress(bo, bo.resource!)!,
          size: bo.size,
          value: c.value,
        });
      } else {
        const src = sw.bos.get(c.src)!;
        const dst = sw.bos.get(c.dst)!;
        gpuCmds.push({
          op: "copy",
          src: ttmResourceGpuAddress(src, src.resource!)!,
          dst: ttmResourceGpuAddress(dst, dst.resource!)!,
          size: Math.min(src.size, dst.size),
        });
      }
    }
    await point("vmw_execbuf_submit_fifo");
    const fence = await vmw.fences.submit(gpuCmds);
    if (isErr(fence)) {
      ret = fence;
    } else {
      for (const bo of reserved) await dmaResvAddFence(bo.resv, fence, DmaResvUsage.WRITE);
      arg.fence_seqno = fence.seqno;
      await dmaFencePut(fence);
    }
  }
  for (const bo of reserved) await ttmBoUnreserve(bo);
  await vmw.cmdbufMutex.unlock();
  // vmw_validation_unref_lists(): ttm_bo_put() of each buffer, then the resources.
  for (const bo of sw.boList) await vmwBoUnreference(bo);
  for (const res of sw.resources) await vmwResourceUnreference(res);
  return ret;
}
