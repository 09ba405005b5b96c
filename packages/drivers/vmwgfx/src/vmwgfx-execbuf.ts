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
 * smaller size). The reply is the fence's seqno in `fence_seqno` (the model's own field) and,
 * when the caller passes a `fence_rep` address, the kernel's struct drm_vmw_fence_rep written there
 * with a user fence object's handle (vmwgfx-fence.ts), and with DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD
 * a sync_file fd of the fence.
 *
 * Fences: a submission with a `fence_rep` or EXPORT_FENCE_FD gets a vmw fence object
 * (vmw_execbuf_fence_commands(): vmw_user_fence_create() with a fence_rep, else vmw_fence_create())
 * of the submission's device seqno, and its buffers are fenced with it. A submission with neither
 * (the kernel's vmw_fence_create() kernel fence) is fenced with the device fence driver's fence of
 * the same seqno, as before fence objects were modeled, so its steps are unchanged.
 *
 * Faithfulness: Linux v6.12 vmw_execbuf_process() / vmw_translate_mob_ptr() /
 * vmw_cmd_res_check() / vmw_validation_*: -EINVAL for a bad command or an unknown surface, -ESRCH
 * for an unknown buffer handle (vmw_user_bo_lookup()), -EBUSY for a buffer with a SYNCCPU CPU
 * writer (vmw_validation_bo_validate_single()). Buffers are reserved in a fixed global
 * order instead of with a ww_acquire_ctx (no -EDEADLK backoff needed).
 */

import {
  type DmaFence,
  DmaResvUsage,
  dmaFencePut,
  dmaResvAddFence,
  dmaResvReserveFences,
  type SyncFile,
  syncFileCreate,
} from "@primetime/dma-buf";
import type { DrmDevice, DrmFile } from "@primetime/gem";
import {
  accessVm,
  currentMm,
  EFAULT,
  EINVAL,
  ERESTARTSYS,
  fdInstall,
  fput,
  getUnusedFdFlags,
  isErr,
  lockdepAssertHeld,
  O_CLOEXEC,
  putUnusedFd,
} from "@primetime/kernel";
import { bug, point, RESOLVED, toggleEnabled } from "@primetime/sim";
import type { Command } from "@primetime/simgpu";
import { ttmBoUnreserve, ttmResourceGpuAddress } from "@primetime/ttm";
import {
  VMWGFX_EXECBUF_STALE_FENCE_FD,
  VMWGFX_FENCE_COPY_UNDER_CMDBUF_MUTEX,
  VMWGFX_LOOKUP_UNDER_RCU,
} from "./toggles.js";
import {
  TTM_PRIME_TYPE,
  type TtmObjectFile,
  ttmBaseObjectLookup,
  ttmBaseObjectNorefRelease,
  ttmBaseObjectUnref,
  ttmRefObjectBaseUnref,
  VMW_RES_SURFACE,
  VMWGFX_NUM_MOB,
} from "./ttm-object.js";
import type { TtmPrimeObject } from "./ttm-prime-object.js";
import {
  VMW_BO_DOMAIN_MOB,
  type VmwBo,
  vmwBoPlacementSet,
  vmwUserBoLookup,
  vmwUserBoUnref,
} from "./vmwgfx-bo.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import {
  parseSvga3dCommand,
  type Svga3dCmd,
  type VmwExecbufResState,
  vmwCmdCheckSvga3d,
  vmwExecbufBindingsCommit,
  vmwExecbufResState,
  vmwExecbufStagedReset,
  vmwValidationResValidate,
} from "./vmwgfx-execbuf-cmd.js";
import {
  VMW_FENCE_WAIT_TIMEOUT,
  type VmwFenceObj,
  vmwFenceCreate,
  vmwFenceIrqArm,
  vmwFenceObjUnreference,
  vmwFenceObjWait,
  vmwUpdateSeqno,
  vmwUserFenceCreate,
} from "./vmwgfx-fence.js";
import { vmwFallbackWait } from "./vmwgfx-irq.js";
import { vmwResourceReference, vmwUserResourceNorefLookupHandle } from "./vmwgfx-resource.js";
import { userSurfaceConverter, type VmwUserSurface } from "./vmwgfx-surface.js";
import {
  DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD,
  type DrmVmwExecbufArg,
  encodeDrmVmwFenceRep,
} from "./vmwgfx-uapi.js";
import {
  VmwValidationContext,
  vmwSwContext,
  vmwValidationAddBo,
  vmwValidationAddResource,
  vmwValidationBoValidateSingle,
  vmwValidationDropHt,
  vmwValidationResReserve,
  vmwValidationResUnreserve,
  vmwValidationUnrefLists,
} from "./vmwgfx-validation.js";

/** The buffers one submission may use (lockdep subclasses of the reservation class). */
export const VMW_EXECBUF_MAX_BOS = 8;

/** One parsed command (an SVGA3D command naming a context: vmwgfx-execbuf-cmd.ts). */
type ExecCmd =
  | { op: "fill"; dst: number; value: number }
  | { op: "copy"; src: number; dst: number }
  | Svga3dCmd;

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
    const svga = parseSvga3dCommand(w);
    if (svga === null) return null;
    if (svga !== undefined) {
      out.push(svga);
      continue;
    }
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
 * What one submission keeps besides its validation context: the buffer each command handle
 * translates to (the kernel's relocations), and the context (vmwgfx-validation.ts: the buffers
 * and resources on its lists, their nodes hashed into the device's res_ht until
 * vmw_validation_drop_ht()).
 */
interface SwContext {
  /** Models sw_context->ctx: DECLARE_VAL_CONTEXT(val_ctx, sw_context, 1). */
  ctx: VmwValidationContext;
  /** The buffer each command handle translates to (a relocation). */
  bos: Map<number, VmwBo>;
  /** The resource cache and first-used contexts (vmwgfx-execbuf-cmd.ts). */
  res: VmwExecbufResState;
}

/**
 * Models vmw_cmd_res_check()'s lookup of a surface handle before "drm/vmwgfx: Remove rcu locks
 * from user resources" (a309c7194e8a; `vmwgfx.lookup-under-rcu`), as its 5.10 stable diff shows
 * the removed lines: vmw_user_resource_noref_lookup_handle() (-ESRCH, -EINVAL; no reference,
 * rcu_read_lock() held on success), then vmw_execbuf_res_noref_val_add(), where
 * vmw_validation_add_resource() (vmwgfx-validation.ts) takes the validation list's reference with
 * vmw_resource_reference_unless_doomed() (-ESRCH for a doomed resource, its node unhashed as
 * since dfe1323ab3c8 "drm/vmwgfx: Fix Use-after-free in validation") and
 * vmw_user_resource_noref_release() ends the read-side section. The guest memory buffer then goes
 * on the list as in vmwTranslateHandle().
 * Locking: cmdbuf_mutex held; rcu_read_lock() from the lookup to the release.
 * References: one resource reference on the list, a TTM one on the buffer.
 */
async function vmwCmdResCheckNoref(
  vmw: VmwPrivate,
  sw: SwContext,
  tfile: TtmObjectFile,
  handle: number,
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  const res = await vmwUserResourceNorefLookupHandle(tfile, handle, userSurfaceConverter);
  if (typeof res === "number") return res;
  // vmw_execbuf_res_noref_val_add() -> vmw_validation_add_resource()
  const added = await vmwValidationAddResource(sw.ctx, res);
  // vmw_user_resource_noref_release()
  ttmBaseObjectNorefRelease();
  if (added) return added;
  const bo = res.guestMemoryBo;
  if (!bo) return -EINVAL;
  const ret = await vmwValidationAddBo(sw.ctx, bo);
  if (ret === 0) sw.bos.set(handle, bo);
  return ret;
}

/**
 * Models vmw_translate_mob_ptr() / vmw_cmd_res_check() for one handle: the buffer it names,
 * added to the validation list (vmw_validation_add_bo(): a TTM reference). A buffer handle is looked
 * up with vmw_user_bo_lookup() (-ESRCH), added, and the lookup's GEM reference dropped at once
 * ("tmp_bo = vmw_bo; vmw_user_bo_unref(&tmp_bo);"). A surface handle (above VMWGFX_NUM_MOB) must
 * be one the file has opened (ttm_base_object_lookup()); its resource goes on the list
 * (vmw_validation_add_resource(), with the lookup's reference: the kernel's kref_get() of
 * vmw_user_resource_lookup_handle(), kref_get_unless_zero() of the add, and the lookup's
 * vmw_resource_unreference() are one kref_get() here, which the base object's reference keeps from
 * finding the count at 0) and its guest memory buffer added (the kernel adds it in vmw_resources_reserve(), still under cmdbuf_mutex).
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
    if (toggleEnabled(VMWGFX_LOOKUP_UNDER_RCU.name))
      return vmwCmdResCheckNoref(vmw, sw, tfile, handle);
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
        ret = await vmwValidationAddResource(sw.ctx, res, vmwResourceReference);
        // vmw_validation_res_reserve(): a guest-backed surface's guest memory goes to its
        // res->func->domain, a MOB (vmw_gb_surface_func), before vmw_validation_add_bo().
        if (ret === 0) {
          vmwBoPlacementSet(bo, VMW_BO_DOMAIN_MOB, VMW_BO_DOMAIN_MOB);
          ret = await vmwValidationAddBo(sw.ctx, bo);
        }
        if (ret === 0) sw.bos.set(handle, bo);
      }
    }
    await ttmBaseObjectUnref(base);
    return ret;
  }
  // vmw_translate_mob_ptr(): the buffer of a MOB id goes to a MOB.
  const bo = await vmwUserBoLookup(file, handle);
  if (isErr(bo)) return bo;
  vmwBoPlacementSet(bo, VMW_BO_DOMAIN_MOB, VMW_BO_DOMAIN_MOB);
  const ret = await vmwValidationAddBo(sw.ctx, bo);
  if (ret === 0) sw.bos.set(handle, bo);
  await vmwUserBoUnref(bo);
  return ret;
}

/** What vmw_execbuf_fence_commands() returns: its error, the fence (null on failure), the handle. */
export interface FencedSubmission {
  ret: number;
  fence: VmwFenceObj | null;
  handle: number;
}

/**
 * Models vmw_execbuf_fence_commands() after vmw_cmd_send_fence() (the device fence `hw` of the
 * submission carries its seqno): a user fence object with a handle in the file when `wantHandle`
 * (a fence_rep was given), else a kernel fence object; the device's fence interrupt is armed for
 * it (vmwFenceIrqArm()). If the creation fails, vmw_fallback_wait() waits for the seqno
 * (uninterruptibly, at most VMW_FENCE_WAIT_TIMEOUT: "SVGA device lockup." on a stalled device) and
 * the fence is NULL; the error is returned (for
 * fence_rep.error). Also DRM_VMW_FENCE_EVENT's for a new fence (vmwgfx-drv.ts submits the
 * fence-only batch, vmw_cmd_send_fence()).
 * Locking: none required (EXECBUF holds cmdbuf_mutex, FENCE_EVENT nothing), as in the kernel.
 * References: the caller owns one on the fence.
 */
export async function vmwExecbufFenceCommands(
  vmw: VmwPrivate,
  tfile: TtmObjectFile,
  hw: DmaFence,
  wantHandle: boolean,
): Promise<FencedSubmission> {
  const seqno = hw.seqno;
  vmw.fenceObjectsCreated = true;
  const made = wantHandle
    ? await vmwUserFenceCreate(tfile, vmw.fman, seqno)
    : await vmwFenceCreate(vmw.fman, seqno);
  if (isErr(made)) {
    await vmwFallbackWait(vmw, false, false, seqno, false, VMW_FENCE_WAIT_TIMEOUT, hw);
    return { ret: made, fence: null, handle: 0 };
  }
  const fence = "handle" in made ? made.fence : made;
  await vmwFenceIrqArm(vmw.fman, hw);
  return { ret: 0, fence, handle: "handle" in made ? made.handle : 0 };
}

/**
 * Models copy_to_user() of `bytes` to the user address `addr` of the calling process (its mm):
 * 0, or the number of bytes not copied (an unmapped or read-only page faults).
 * Locking: takes mmap_lock for reading (accessVm()). References: none.
 */
async function copyToUserBytes(addr: number, bytes: Uint8Array): Promise<number> {
  const mm = currentMm();
  if (mm === null || !Number.isSafeInteger(addr) || addr < 0) return bytes.length;
  const r = await accessVm(mm, addr, bytes.length, bytes);
  return r === bytes.length ? 0 : bytes.length;
}

/**
 * Models vmw_execbuf_copy_fence_user(): nothing without a fence_rep address; else a struct
 * drm_vmw_fence_rep with `error` = the fence creation's result and `fd` = the exported fd (-1 if
 * none) and, if the fence exists, its handle, seqno and the device's passed seqno
 * (vmw_update_seqno()), copied to the user; if the copy fails while the fence is fine, userspace
 * has lost its handle: ttm_ref_object_base_unref() of it and an uninterruptible wait for the
 * fence (VMW_FENCE_WAIT_TIMEOUT). Returns -EFAULT if the copy failed, else 0.
 *
 * With `vmwgfx.execbuf-stale-fence-fd` on, the code before a0f90c881570: the caller has already
 * fd_install()ed the sync_file, and a failed copy also fput()s the sync_file's file and
 * put_unused_fd()s its fd (`sync_file` passed in), leaving the installed fd pointing at a file
 * that is about to be freed; the function returned void (the caller's `ret` stays 0).
 * Locking: none required (EXECBUF holds cmdbuf_mutex, FENCE_EVENT nothing, as in the kernel);
 * takes mmap_lock for the copy, the file's lock for the unref.
 * References: the failed copy drops the file's open of the handle.
 */
export async function vmwExecbufCopyFenceUser(
  vmw: VmwPrivate,
  tfile: TtmObjectFile,
  ret: number,
  userFenceRep: number,
  fence: VmwFenceObj | null,
  fenceHandle: number,
  outFenceFd: number,
  syncFile: SyncFile | null,
): Promise<number> {
  if (!userFenceRep) return 0;
  const fenceRep = { handle: 0, mask: 0, seqno: 0, passed_seqno: 0, fd: outFenceFd, error: ret };
  if (ret === 0) {
    if (fence === null) bug("kernel BUG at vmwgfx_execbuf.c: BUG_ON(fence == NULL)");
    fenceRep.handle = fenceHandle;
    fenceRep.seqno = fence.seqno;
    await vmwUpdateSeqno(vmw);
    fenceRep.passed_seqno = vmw.lastReadSeqno;
  }
  // copy_to_user errors will be detected by user space not seeing fence_rep::error filled in.
  const notCopied = await copyToUserBytes(userFenceRep, encodeDrmVmwFenceRep(fenceRep));
  // User-space lost the fence object. We need to sync and unreference the handle.
  if (notCopied !== 0 && fenceRep.error === 0) {
    if (toggleEnabled(VMWGFX_EXECBUF_STALE_FENCE_FD.name)) {
      if (syncFile) await fput(syncFile.file!);
      if (fenceRep.fd !== -1) {
        await putUnusedFd(fenceRep.fd);
        fenceRep.fd = -1;
      }
    }
    await ttmRefObjectBaseUnref(tfile, fenceHandle);
    await vmwFenceObjWait(fence!, false, false, VMW_FENCE_WAIT_TIMEOUT);
  }
  return notCopied ? -EFAULT : 0;
}

/**
 * Models vmw_execbuf_process()'s fence part after the buffers are fenced and unreserved:
 * EXPORT_FENCE_FD's sync_file_create() (on failure: put_unused_fd(), fd -1, and a wait for the
 * fence), vmw_execbuf_copy_fence_user(), then the sync_file's file fd_install()ed at the reserved
 * fd only if the copy succeeded, else fput() and put_unused_fd() (6.12.19's order, since
 * a0f90c881570 "drm/vmwgfx: Fix stale file descriptors on failed usercopy"); the fence reference
 * dropped. Returns the copy's result (0 or -EFAULT). With `vmwgfx.execbuf-stale-fence-fd` on, the
 * order before that fix: fd_install() right after sync_file_create(), the failed copy's cleanup
 * inside vmw_execbuf_copy_fence_user(), and 0 returned whatever the copy did.
 * With the fix switch of the known window `vmwgfx.fence-copy-under-cmdbuf-mutex` on, the caller
 * runs it after releasing cmdbuf_mutex (the proposed fix: no user copy under it).
 * Locking: cmdbuf_mutex held (not with that fix switch). References: consumes the caller's fence
 * reference; the installed fd owns the sync_file's file, which holds a fence reference.
 */
async function vmwExecbufFenceOut(
  vmw: VmwPrivate,
  tfile: TtmObjectFile,
  flags: number,
  userFenceRep: number,
  sub: FencedSubmission,
  outFenceFd: number,
): Promise<number> {
  if (!toggleEnabled(VMWGFX_FENCE_COPY_UNDER_CMDBUF_MUTEX.name)) lockdepAssertHeld(vmw.cmdbufMutex);
  const stale = toggleEnabled(VMWGFX_EXECBUF_STALE_FENCE_FD.name);
  const fence = sub.fence;
  let fd = outFenceFd;
  let syncFile: SyncFile | null = null;
  // If anything fails here, give up trying to export the fence and do a sync since the user mode
  // will not be able to sync the fence itself.
  if (flags & DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD) {
    // The kernel passes &fence->base, NULL's when the fence creation failed: not modeled, the
    // export then fails as a failed sync_file_create().
    syncFile = fence ? await syncFileCreate(fence) : null;
    if (!syncFile) {
      await putUnusedFd(fd);
      fd = -1;
      if (fence) await vmwFenceObjWait(fence, false, false, VMW_FENCE_WAIT_TIMEOUT);
    } else if (stale) {
      // Before a0f90c881570: "Link the fence with the FD created earlier" at once.
      const fdInstallDone = fdInstall(fd, syncFile.file!);
      if (fdInstallDone !== RESOLVED) await fdInstallDone;
    }
  }
  let ret = await vmwExecbufCopyFenceUser(
    vmw,
    tfile,
    sub.ret,
    userFenceRep,
    fence,
    sub.handle,
    fd,
    stale ? syncFile : null,
  );
  if (stale) {
    ret = 0; // vmw_execbuf_copy_fence_user() returned void
  } else if (syncFile) {
    if (ret) {
      // usercopy of fence failed, put the file object
      const fputDone = fput(syncFile.file!);
      if (fputDone !== RESOLVED) await fputDone;
      await putUnusedFd(fd);
    } else {
      // Link the fence with the FD created earlier
      const fdInstallDone2 = fdInstall(fd, syncFile.file!);
      if (fdInstallDone2 !== RESOLVED) await fdInstallDone2;
    }
  }
  const vmwFenceObjUnreferenceDone = vmwFenceObjUnreference(fence);
  if (vmwFenceObjUnreferenceDone !== RESOLVED) await vmwFenceObjUnreferenceDone;
  return ret;
}

/**
 * Models vmw_execbuf_process() (DRM_VMW_EXECBUF, under cmdbuf_mutex): EXPORT_FENCE_FD's
 * get_unused_fd_flags(O_CLOEXEC) first, then parse, translate every handle (references on the
 * validation list), reserve and validate the buffers, submit, fence each buffer (write usage),
 * unreserve, the fence part (vmwExecbufFenceOut(): sync_file, fence_rep, fd_install), release the
 * validation list. Returns 0 with the fence's seqno in `fence_seqno`, or -EINVAL (bad stream),
 * -ESRCH, -EBUSY (a buffer grabbed by SYNCCPU without allow_cs), -ENOMEM, -EMFILE (no fd for the
 * export), -EFAULT (the fence_rep could not be written: the submission ran), -ERESTARTSYS (a fatal
 * signal while waiting for cmdbuf_mutex, taken with mutex_lock_interruptible()). A failed fence
 * object creation is not an error of the ioctl: it goes to fence_rep.error.
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
  const flags = arg.flags;
  const userFenceRep = arg.fence_rep ?? 0;
  let outFenceFd = -1;
  if (flags & DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD) {
    outFenceFd = await getUnusedFdFlags(O_CLOEXEC);
    if (outFenceFd < 0) return outFenceFd; // "Failed to get a fence fd."
  }
  const ret = await vmwExecbufProcess(vmw, arg, file, tfile, flags, userFenceRep, outFenceFd);
  // out_free_fence_fd: (the fence part consumed the fd on success)
  if (ret.freeFd && outFenceFd >= 0) await putUnusedFd(outFenceFd);
  return ret.ret;
}

/** vmwExecbufIoctl()'s body: its result and whether the reserved fd is still to be put. */
async function vmwExecbufProcess(
  vmw: VmwPrivate,
  arg: DrmVmwExecbufArg,
  file: DrmFile,
  tfile: TtmObjectFile,
  flags: number,
  userFenceRep: number,
  outFenceFd: number,
): Promise<{ ret: number; freeFd: boolean }> {
  const cmds = parsedCommands(arg.commands);
  if (!cmds) return { ret: -EINVAL, freeFd: true };
  const sw: SwContext = {
    ctx: new VmwValidationContext(vmw, vmwSwContext(vmw), true),
    bos: new Map(),
    res: vmwExecbufResState(),
  };
  // "ret = mutex_lock_interruptible(&dev_priv->cmdbuf_mutex); if (ret) { ret = -ERESTARTSYS;
  // goto out_free_header; }": nothing taken yet here.
  if (await vmw.cmdbufMutex.lockInterruptible()) return { ret: -ERESTARTSYS, freeFd: true };
  let ret = 0;
  const swc = sw.ctx.swContext!;
  vmwExecbufStagedReset(vmw, swc);
  for (const c of cmds) {
    if (c.op === "svga3d") {
      if (ret === 0) ret = await vmwCmdCheckSvga3d(vmw, sw.ctx, sw.res, tfile, c);
      continue;
    }
    for (const h of c.op === "fill" ? [c.dst] : [c.src, c.dst]) {
      if (ret === 0) ret = await vmwTranslateHandle(vmw, sw, file, tfile, h);
    }
  }
  // vmw_resources_reserve() -> vmw_validation_res_reserve(), or vmw_validation_res_unreserve()
  // at out_err_nores: either way resource_ctx_list goes onto resource_list's head first.
  if (ret === 0) vmwValidationResReserve(sw.ctx);
  else vmwValidationResUnreserve(sw.ctx);
  const bos = sw.ctx.boList.map((n) => n.bo!).sort(byName);
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
    }
  }
  // vmw_validation_bo_validate(): each buffer into its placement (a MOB), once all are reserved;
  // a buffer grabbed for CPU access (SYNCCPU without allow_cs) is -EBUSY.
  if (ret === 0) {
    for (const bo of reserved) {
      ret = await vmwValidationBoValidateSingle(bo, true);
      if (ret) break;
    }
  }
  // vmw_validation_res_validate(): a context first validated gets its device id.
  if (ret === 0) ret = await vmwValidationResValidate(vmw, sw.ctx);
  // vmw_validation_drop_ht() once the buffers are validated (the error paths drop it at
  // out_unlock, below).
  if (ret === 0) vmwValidationDropHt(sw.ctx);
  let fenced: FencedSubmission | null = null;
  if (ret === 0) {
    const gpuCmds: Command[] = [];
    for (const c of cmds) {
      if (c.op === "svga3d") continue; // the simulated engine runs buffer commands only
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
    } else if (!userFenceRep && !(flags & DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD)) {
      for (const bo of reserved) await dmaResvAddFence(bo.resv, fence, DmaResvUsage.WRITE);
      arg.fence_seqno = fence.seqno;
      const dmaFencePutDone = dmaFencePut(fence);
      if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
    } else {
      fenced = await vmwExecbufFenceCommands(vmw, tfile, fence, userFenceRep !== 0);
      // vmw_validation_bo_fence(): the vmw fence (the device fence, already waited for, when its
      // creation failed: the kernel's NULL fence is not modeled).
      const f = fenced.fence ?? fence;
      for (const bo of reserved) await dmaResvAddFence(bo.resv, f, DmaResvUsage.WRITE);
      arg.fence_seqno = fence.seqno;
      const dmaFencePutDone2 = dmaFencePut(fence);
      if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
    }
  }
  // vmw_execbuf_bindings_commit(): after the submission, or backing off at out_err_nores.
  vmwExecbufBindingsCommit(vmw, swc, sw.res, ret !== 0);
  for (const bo of reserved) await ttmBoUnreserve(bo);
  // The fence part copies to userspace (the fence_rep): under cmdbuf_mutex as the kernel does,
  // or after it with the fix switch of `vmwgfx.fence-copy-under-cmdbuf-mutex`.
  const fenceAfterUnlock = toggleEnabled(VMWGFX_FENCE_COPY_UNDER_CMDBUF_MUTEX.name);
  if (fenced !== null && !fenceAfterUnlock)
    ret = await vmwExecbufFenceOut(vmw, tfile, flags, userFenceRep, fenced, outFenceFd);
  // out_unlock: vmw_validation_drop_ht() (already dropped on success)
  vmwValidationDropHt(sw.ctx);
  vmw.cmdbufMutex.unlockNow();
  if (fenced !== null && fenceAfterUnlock)
    ret = await vmwExecbufFenceOut(vmw, tfile, flags, userFenceRep, fenced, outFenceFd);
  // vmw_validation_unref_lists(): ttm_bo_put() of each buffer, then the resources, then the arena.
  await vmwValidationUnrefLists(sw.ctx);
  return { ret, freeFd: fenced === null };
}
