/**
 * EXECBUF's SVGA3D commands that name a context (drivers/gpu/drm/vmwgfx/vmwgfx_execbuf.c): their
 * validation only. A command's context id (`cid`) is a user context handle; vmw_cmd_res_check()
 * looks it up with a reference, puts the context on the validation list
 * (vmw_execbuf_res_val_add()), and on the context's first use in the submission
 * (vmw_cmd_ctx_first_setup()) puts every resource bound to it back on the list
 * (vmw_resource_context_res_add(), under binding_mutex: bindings hold no references, so those
 * resources are added with vmw_resource_reference_unless_doomed()). SETRENDERTARGET also names a
 * surface and stages a render-target binding, committed to the context after the submission
 * (vmw_execbuf_bindings_commit()).
 *
 * The commands are text like the rest of the model's stream (vmwgfx-execbuf.ts), one per real
 * SVGA3D command id: `setrendertarget <cid> <type> <sid>` (SVGA_3D_CMD_SETRENDERTARGET, 1050:
 * vmw_cmd_set_render_target_check()), `setrenderstate <cid>` (SVGA_3D_CMD_SETRENDERSTATE, 1049),
 * `setviewport <cid>` (SVGA_3D_CMD_SETVIEWPORT, 1055) and `clear <cid>` (SVGA_3D_CMD_CLEAR, 1057),
 * the last three vmw_cmd_cid_check(). Their bodies beyond the ids (render states, rectangles,
 * colours) are not modeled, and the simulated engine does not run them: a submission sends the
 * device only its buffer commands (the fence packet still ends the batch).
 *
 * Faithfulness: Linux v6.12.19 vmw_execbuf_bindings_commit(), vmw_cmd_ctx_first_setup(),
 * vmw_execbuf_res_size(), vmw_execbuf_rcache_update(), vmw_execbuf_res_val_add(),
 * vmw_resource_context_res_add(), vmw_cmd_res_check(), vmw_cmd_cid_check(),
 * vmw_execbuf_info_from_res(), vmw_cmd_set_render_target_check(), and
 * vmw_validation_res_validate()'s creation of a context without a device id
 * (vmw_resource_validate() -> func->create). Not modeled: the validation memory preload
 * (vmw_validation_preload_res()), relocations (vmw_resource_relocation_add(): the cid patched to
 * the device id), dirty tracking, views, cotables and the DX context (has_sm4_context() is false),
 * vmw_rebind_contexts(), the resource reservation and guest-memory binding of contexts
 * (vmw_resource_reserve(), vmw_resource_buf_alloc()), eviction, and queries.
 */

import { EINVAL, lockdepAssertHeld } from "@primetime/kernel";
import { RESOLVED, warnOn } from "@primetime/sim";
import type { TtmObjectFile } from "./ttm-object.js";
import {
  SVGA3D_RT_MAX,
  type VmwCtxBindingState,
  vmwBindingAdd,
  vmwBindingMutex,
  vmwBindingStateAlloc,
  vmwBindingStateCommit,
  vmwBindingStateFree,
  vmwBindingStateReset,
} from "./vmwgfx-binding.js";
import {
  userContextConverter,
  vmwContextBindingList,
  vmwContextBindingState,
} from "./vmwgfx-context.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import {
  type VmwResource,
  type VmwResType,
  type VmwUserResourceConv,
  vmwResourceUnreference,
  vmwUserResourceLookupHandle,
} from "./vmwgfx-resource.js";
import { userSurfaceConverter } from "./vmwgfx-surface.js";
import { SVGA3D_INVALID_ID } from "./vmwgfx-uapi.js";
import {
  type VmwSwContext,
  type VmwValidationContext,
  type VmwValidationResNode,
  vmwValidationAddBo,
  vmwValidationAddResource,
} from "./vmwgfx-validation.js";

/** Models SVGA_3D_CMD_SETRENDERSTATE. */
export const SVGA_3D_CMD_SETRENDERSTATE = 1049;
/** Models SVGA_3D_CMD_SETRENDERTARGET. */
export const SVGA_3D_CMD_SETRENDERTARGET = 1050;
/** Models SVGA_3D_CMD_SETVIEWPORT. */
export const SVGA_3D_CMD_SETVIEWPORT = 1055;
/** Models SVGA_3D_CMD_CLEAR. */
export const SVGA_3D_CMD_CLEAR = 1057;

/**
 * The arena bytes of a GB context's node beyond the node (sizeof(struct vmw_ctx_validation_info),
 * vmw_execbuf_res_size()), a share of a page as the node's own size is.
 */
export const VMW_CTX_VALIDATION_INFO_SIZE = 64;

/** One SVGA3D command of the stream that names a context. */
export interface Svga3dCmd {
  readonly op: "svga3d";
  /** The SVGA3D command id (header.id). */
  readonly id: number;
  /** body.cid. */
  readonly cid: number;
  /** SETRENDERTARGET's body.type (SVGA3dRenderTargetType). */
  readonly type: number;
  /** SETRENDERTARGET's body.target.sid. */
  readonly sid: number;
}

/** The text commands and their ids: `[id, number of words]`. */
const SVGA3D_WORDS: Readonly<Record<string, readonly [number, number]>> = {
  setrenderstate: [SVGA_3D_CMD_SETRENDERSTATE, 2],
  setrendertarget: [SVGA_3D_CMD_SETRENDERTARGET, 4],
  setviewport: [SVGA_3D_CMD_SETVIEWPORT, 2],
  clear: [SVGA_3D_CMD_CLEAR, 2],
};

/**
 * Parses one command's words as an SVGA3D command naming a context: undefined if the first word
 * is none of them, null if malformed (a wrong number of words, a number that is not a u32).
 */
export function parseSvga3dCommand(w: readonly string[]): Svga3dCmd | null | undefined {
  const def = Object.hasOwn(SVGA3D_WORDS, w[0]!) ? SVGA3D_WORDS[w[0]!] : undefined;
  if (!def) return undefined;
  if (w.length !== def[1]) return null;
  const n = w.slice(1).map(Number);
  if (n.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) return null;
  return { op: "svga3d", id: def[0], cid: n[0]!, type: n[1] ?? 0, sid: n[2] ?? 0 };
}

/**
 * Models struct vmw_ctx_validation_info: the private area of a context's validation node.
 * Locking: cmdbuf_mutex (the submission's). References: none.
 */
export interface VmwCtxValidationInfo {
  /** Models ctx. */
  ctx: VmwResource | null;
  /** Models cur: the context's binding state. */
  cur: VmwCtxBindingState | null;
  /** Models staged: the bindings this submission stages. */
  staged: VmwCtxBindingState | null;
}

/** Models struct vmw_res_cache_entry. */
interface VmwResCacheEntry {
  valid: boolean;
  validHandle: boolean;
  handle: number;
  res: VmwResource | null;
  private: VmwCtxValidationInfo | null;
}

/**
 * The part of struct vmw_sw_context this file uses: the per-submission resource cache
 * (res_cache[], cleared by each submission), the contexts first used (ctx_list), and the nodes'
 * private areas.
 * Locking: cmdbuf_mutex. References: none.
 */
export interface VmwExecbufResState {
  /** Models res_cache[vmw_res_max]. */
  readonly resCache: Map<VmwResType, VmwResCacheEntry>;
  /** Models ctx_list. */
  readonly ctxList: VmwCtxValidationInfo[];
  /** The private area of each context node (`&node->private`). */
  readonly privates: Map<VmwValidationResNode, VmwCtxValidationInfo>;
}

/** A submission's fresh state (memset(res_cache, 0), INIT_LIST_HEAD(ctx_list)). */
export function vmwExecbufResState(): VmwExecbufResState {
  return { resCache: new Map(), ctxList: [], privates: new Map() };
}

/** The device sw_context's staged bindings (staged_bindings, staged_bindings_inuse). */
interface StagedBindings {
  staged: VmwCtxBindingState | null;
  inuse: boolean;
}
const stagedOf = new WeakMap<VmwSwContext, StagedBindings>();

function stagedBindings(sw: VmwSwContext): StagedBindings {
  let s = stagedOf.get(sw);
  if (!s) {
    s = { staged: null, inuse: false };
    stagedOf.set(sw, s);
  }
  return s;
}

/**
 * Models vmw_execbuf_process()'s `if (sw_context->staged_bindings)
 * vmw_binding_state_reset(sw_context->staged_bindings);` at the start of a submission.
 * Locking: cmdbuf_mutex held. References: none.
 */
export function vmwExecbufStagedReset(vmw: VmwPrivate, sw: VmwSwContext): void {
  lockdepAssertHeld(vmw.cmdbufMutex);
  const s = stagedBindings(sw);
  if (s.staged) vmwBindingStateReset(s.staged);
}

/**
 * Models vmw_execbuf_bindings_commit(): for each context first used by the submission, its
 * staged bindings committed to the context's binding state (vmw_binding_state_commit()) unless
 * `backoff`, and a staged state of its own freed (the device's shared one marked unused); the
 * list emptied.
 * Locking: cmdbuf_mutex held. References: none.
 */
export function vmwExecbufBindingsCommit(
  vmw: VmwPrivate,
  sw: VmwSwContext,
  st: VmwExecbufResState,
  backoff: boolean,
): void {
  lockdepAssertHeld(vmw.cmdbufMutex);
  const s = stagedBindings(sw);
  for (const entry of st.ctxList) {
    if (!backoff) vmwBindingStateCommit(entry.cur!, entry.staged!);
    if (entry.staged !== s.staged) vmwBindingStateFree(entry.staged!);
    else s.inuse = false;
  }
  st.ctxList.length = 0;
}

/**
 * Models vmw_cmd_ctx_first_setup(): the resources bound to the context back on the list
 * (vmw_resource_context_res_add()), then the staged binding state (the device's shared one, or a
 * new one if that is in use), the node's ctx and cur, and the node on ctx_list.
 * Locking: cmdbuf_mutex held. References: none of its own.
 */
async function vmwCmdCtxFirstSetup(
  vmw: VmwPrivate,
  sw: VmwSwContext,
  val: VmwValidationContext,
  st: VmwExecbufResState,
  res: VmwResource,
  node: VmwCtxValidationInfo,
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  const ret = await vmwResourceContextResAdd(vmw, val, st, res);
  if (ret !== 0) return ret;
  const s = stagedBindings(sw);
  if (!s.staged) s.staged = vmwBindingStateAlloc(vmw);
  if (s.inuse) {
    node.staged = vmwBindingStateAlloc(vmw);
  } else {
    node.staged = s.staged;
    s.inuse = true;
  }
  node.ctx = res;
  node.cur = vmwContextBindingState(res);
  st.ctxList.push(node);
  return 0;
}

/**
 * Models vmw_execbuf_res_size(): the private area a node of `resType` carries (a context's on a
 * device with MOBs).
 */
function vmwExecbufResSize(vmw: VmwPrivate, resType: VmwResType): number {
  return resType === "context" && vmw.hasMob ? VMW_CTX_VALIDATION_INFO_SIZE : 0;
}

/** Models vmw_execbuf_rcache_update(). */
function vmwExecbufRcacheUpdate(
  st: VmwExecbufResState,
  res: VmwResource,
  priv: VmwCtxValidationInfo | null,
): void {
  st.resCache.set(res.resType, {
    valid: true,
    validHandle: false,
    handle: 0,
    res,
    private: priv,
  });
}

/**
 * A surface's guest memory buffer on the list, as vmw_validation_res_reserve() adds it
 * (vmw_validation_add_bo(); still under cmdbuf_mutex): here when the surface goes on the list,
 * as vmwgfx-execbuf.ts does for the surfaces of its buffer commands.
 * Locking: cmdbuf_mutex held. References: a TTM one on the buffer.
 */
async function vmwExecbufGuestMemoryAdd(
  vmw: VmwPrivate,
  val: VmwValidationContext,
  res: VmwResource,
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  const bo = res.guestMemoryBo;
  if (res.resType !== "surface" || !bo) return 0;
  return vmwValidationAddBo(val, bo);
}

/**
 * Models vmw_execbuf_res_val_add(): a resource the resource cache holds is done; else
 * vmw_validation_add_resource() (without a private area for `noctx`, else the type's: a context's
 * first use then runs vmw_cmd_ctx_first_setup()) and the cache updated. -ESRCH for a doomed
 * resource (vmw_validation_add_resource()), -ENOMEM.
 * Locking: cmdbuf_mutex held. References: the validation list's, on a resource it adds.
 */
async function vmwExecbufResValAdd(
  vmw: VmwPrivate,
  val: VmwValidationContext,
  st: VmwExecbufResState,
  res: VmwResource,
  noctx: boolean,
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  const rcache = st.resCache.get(res.resType);
  if (rcache?.valid && rcache.res === res) return 0;
  const out: { firstUsage: boolean; node: VmwValidationResNode | null } = {
    firstUsage: false,
    node: null,
  };
  let priv: VmwCtxValidationInfo | null = null;
  if (noctx) {
    const ret = await vmwValidationAddResource(val, res, undefined, out, 0);
    if (ret) return ret;
  } else {
    const privSize = vmwExecbufResSize(vmw, res.resType);
    const ret = await vmwValidationAddResource(val, res, undefined, out, privSize);
    if (ret) return ret;
    if (privSize) {
      const node = out.node!;
      priv = st.privates.get(node) ?? { ctx: null, cur: null, staged: null };
      st.privates.set(node, priv);
      if (out.firstUsage) {
        const r = await vmwCmdCtxFirstSetup(vmw, vmwSw(val), val, st, res, priv);
        if (r) return r; // Failed first usage context setup.
      }
    }
  }
  const ret = await vmwExecbufGuestMemoryAdd(vmw, val, res);
  if (ret) return ret;
  vmwExecbufRcacheUpdate(st, res, priv);
  return 0;
}

/** The validation context's sw_context (set until vmw_validation_drop_ht()). */
function vmwSw(val: VmwValidationContext): VmwSwContext {
  return val.swContext!;
}

/**
 * Models vmw_resource_context_res_add(): (the cotables of a DX context: none here) under
 * binding_mutex, every resource bound to the context (vmw_context_binding_list()) added with
 * vmw_execbuf_res_val_add(..., vmw_val_add_flag_noctx), stopping at the first error (views and
 * the DX query MOB are not modeled). A bound resource whose kref already hit 0 (its release has
 * not killed its bindings yet) gets -ESRCH from vmw_validation_add_resource().
 * Locking: cmdbuf_mutex held; takes binding_mutex. References: the list's, per resource added.
 */
async function vmwResourceContextResAdd(
  vmw: VmwPrivate,
  val: VmwValidationContext,
  st: VmwExecbufResState,
  ctx: VmwResource,
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  let ret = 0;
  const bindingMutex = vmwBindingMutex(vmw);
  const bindingMutexTaken = bindingMutex.lock();
  if (bindingMutexTaken !== RESOLVED) await bindingMutexTaken;
  const bindingList = vmwContextBindingList(ctx);
  for (const entry of bindingList) {
    ret = await vmwExecbufResValAdd(vmw, val, st, entry.res!, true);
    if (ret !== 0) break;
  }
  bindingMutex.unlockNow();
  return ret;
}

/**
 * Models vmw_cmd_res_check(): `id` of type `resType` (through `converter`): SVGA3D_INVALID_ID is
 * -EINVAL for a context, nothing for another type; the handle the resource cache last resolved is
 * its resource; else vmw_user_resource_lookup_handle() (-EINVAL: a handle the file has not
 * opened, or of another type), vmw_execbuf_res_val_add() (its error), the cache's handle set, and
 * the lookup's reference dropped. Returns the resource in `out.res` on success (the relocation
 * is not modeled).
 * Locking: cmdbuf_mutex held; the lookup takes the file's lock. References: the validation
 * list's; the lookup's is dropped.
 */
async function vmwCmdResCheck(
  vmw: VmwPrivate,
  val: VmwValidationContext,
  st: VmwExecbufResState,
  tfile: TtmObjectFile,
  resType: VmwResType,
  converter: VmwUserResourceConv,
  id: number,
  out: { res: VmwResource | null },
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  out.res = null;
  if (id === SVGA3D_INVALID_ID) {
    if (resType === "context") return -EINVAL; // Illegal context invalid id.
    return 0;
  }
  const rcache = st.resCache.get(resType);
  if (rcache?.validHandle && id === rcache.handle) {
    out.res = rcache.res;
    return 0;
  }
  const res = await vmwUserResourceLookupHandle(tfile, id, converter);
  if (typeof res === "number") return res; // Could not find/use resource.
  let ret = await vmwExecbufResValAdd(vmw, val, st, res, false);
  if (ret === 0) {
    const c = st.resCache.get(resType);
    if (c?.valid && c.res === res) {
      c.validHandle = true;
      c.handle = id;
    }
    out.res = res;
    ret = 0;
  }
  await vmwResourceUnreference(res);
  return ret;
}

/**
 * Models vmw_execbuf_info_from_res(): the private area of the context the resource cache holds
 * (WARN_ON_ONCE and NULL if it holds another).
 * Locking: cmdbuf_mutex (the submission's). References: none.
 */
function vmwExecbufInfoFromRes(
  st: VmwExecbufResState,
  res: VmwResource,
): VmwCtxValidationInfo | null {
  const rcache = st.resCache.get(res.resType);
  if (rcache?.valid && rcache.res === res) return rcache.private;
  warnOn(true, "vmw_execbuf_info_from_res: WARN_ON_ONCE(true)");
  return null;
}

/**
 * Models vmw_cmd_cid_check(): vmw_cmd_res_check() of the command's context.
 * Locking: cmdbuf_mutex held. References: see vmwCmdResCheck().
 */
async function vmwCmdCidCheck(
  vmw: VmwPrivate,
  val: VmwValidationContext,
  st: VmwExecbufResState,
  tfile: TtmObjectFile,
  cmd: Svga3dCmd,
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  return vmwCmdResCheck(vmw, val, st, tfile, "context", userContextConverter, cmd.cid, {
    res: null,
  });
}

/**
 * Models vmw_cmd_set_render_target_check(): -EINVAL for a type past SVGA3D_RT_MAX; the context
 * and the surface checked (vmw_cmd_res_check()); on a device with MOBs, the render-target
 * binding staged in the context's node (vmw_binding_add() at slot `type`, of no surface for
 * SVGA3D_INVALID_ID: the commit unbinds the slot; -EINVAL if the cache lost the context's node).
 * Locking: cmdbuf_mutex held. References: see vmwCmdResCheck(); the binding takes none.
 */
async function vmwCmdSetRenderTargetCheck(
  vmw: VmwPrivate,
  val: VmwValidationContext,
  st: VmwExecbufResState,
  tfile: TtmObjectFile,
  cmd: Svga3dCmd,
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  if (cmd.type >= SVGA3D_RT_MAX) return -EINVAL; // Illegal render target type.
  const ctx = { res: null as VmwResource | null };
  let ret = await vmwCmdResCheck(
    vmw,
    val,
    st,
    tfile,
    "context",
    userContextConverter,
    cmd.cid,
    ctx,
  );
  if (ret !== 0) return ret;
  const srf = { res: null as VmwResource | null };
  ret = await vmwCmdResCheck(vmw, val, st, tfile, "surface", userSurfaceConverter, cmd.sid, srf);
  if (ret !== 0) return ret;
  if (vmw.hasMob) {
    const node = vmwExecbufInfoFromRes(st, ctx.res!);
    if (!node) return -EINVAL;
    vmwBindingAdd(node.staged!, { ctx: ctx.res!, res: srf.res, bt: "rt" }, 0, cmd.type);
  }
  return 0;
}

/**
 * Models vmw_cmd_check()'s dispatch of the SVGA3D commands modeled (vmw_cmd_entries[]: each is
 * user_allow, neither gb_disable nor gb_enable).
 * Locking: cmdbuf_mutex held. References: see the checks.
 */
export async function vmwCmdCheckSvga3d(
  vmw: VmwPrivate,
  val: VmwValidationContext,
  st: VmwExecbufResState,
  tfile: TtmObjectFile,
  cmd: Svga3dCmd,
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  if (cmd.id === SVGA_3D_CMD_SETRENDERTARGET)
    return vmwCmdSetRenderTargetCheck(vmw, val, st, tfile, cmd);
  return vmwCmdCidCheck(vmw, val, st, tfile, cmd);
}

/**
 * Models vmw_validation_res_validate()'s part for contexts: each context on resource_list
 * (spliced there from resource_ctx_list by vmw_validation_res_reserve()) without a device id is
 * created (vmw_resource_validate() -> vmw_resource_do_validate() ->
 * func->create(): vmw_gb_context_create(), -EBUSY when the ids run out).
 * Locking: cmdbuf_mutex held. References: none.
 */
export async function vmwValidationResValidate(
  vmw: VmwPrivate,
  val: VmwValidationContext,
): Promise<number> {
  lockdepAssertHeld(vmw.cmdbufMutex);
  for (const node of val.resourceList) {
    const res = node.res!;
    if (res.create && res.id === -1) {
      const ret = await res.create(res);
      if (ret) return ret;
    }
  }
  return 0;
}
