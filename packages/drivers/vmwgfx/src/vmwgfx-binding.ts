/**
 * Context binding state (drivers/gpu/drm/vmwgfx/vmwgfx_binding.c, .h): what a context has bound
 * (here: its render targets, vmw_ctx_binding_rt), tracked so that a resource's release can kill
 * the bindings that name it and a submission can put a context's bound resources back on the
 * validation list (vmw_resource_context_res_add()).
 *
 * A binding holds **no reference** on the resource it names: a struct vmw_ctx_bindinfo is on the
 * context's list (`ctx_list`) and on the resource's `binding_head` (`res_list`), and
 * vmw_resource_release() kills the resource's bindings under `binding_mutex` (after its kref hit
 * 0). Until it gets there, a context's binding list still names the dying resource.
 *
 * Faithfulness: Linux v6.12.19 vmwgfx_binding.c (vmw_binding_loc(), vmw_binding_drop(),
 * vmw_binding_add(), vmw_binding_transfer(), vmw_binding_state_commit(), vmw_binding_state_kill(),
 * vmw_binding_state_scrub(), vmw_binding_res_list_kill(), vmw_binding_res_list_scrub(),
 * vmw_binding_state_alloc() / _free() / _list() / _reset()), reduced to the render-target binding
 * type (SVGA3D_RT_MAX slots, no shader slots). The scrub functions' commands to the device
 * (SVGA_3D_CMD_SETRENDERTARGET with an invalid sid) are not modeled: scrubbing sets `scrubbed`.
 * A binding state is vzalloc() memory in the kernel, which the model's slab does not track: it is
 * a plain object here (freed with its context, or with the device's sw_context for the staged one).
 */

import { lockdepAssertHeld, Mutex } from "@primetime/kernel";
import { warnOn } from "@primetime/sim";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import type { VmwResource } from "./vmwgfx-resource.js";

/** Models SVGA3D_RT_MAX (SVGA3dRenderTargetType: DEPTH, STENCIL, COLOR0-7). */
export const SVGA3D_RT_MAX = 10;

/** Models enum vmw_ctx_binding_type (the one kept: vmw_ctx_binding_rt). */
export type VmwCtxBindingType = "rt";

/**
 * Models struct vmw_ctx_bindinfo (with struct vmw_ctx_bindinfo_view's slot): a binding slot's
 * storage inside its binding state.
 * Locking: a context's list and the resource's binding_head are binding_mutex's; a staged
 * state's cmdbuf_mutex's. References: none on `ctx` or `res`.
 */
export interface VmwCtxBindinfo {
  /** The binding state this storage is part of (the kernel computes it from the offset). */
  readonly cbs: VmwCtxBindingState;
  /** Models ctx (NULL: the slot is free). */
  ctx: VmwResource | null;
  /** Models res. */
  res: VmwResource | null;
  /** Models bt. */
  bt: VmwCtxBindingType;
  /** Models scrubbed. */
  scrubbed: boolean;
  /** Models the view binding's slot. */
  slot: number;
  /** Whether it is on its resource's binding_head (res_list not empty). */
  onResList: boolean;
}

/**
 * Models struct vmw_ctx_binding_state: `list` (the bindings in use, ctx_list) and the storage of
 * each render-target slot.
 * Locking: a context's is binding_mutex's, the staged one cmdbuf_mutex's. References: none.
 */
export class VmwCtxBindingState {
  /** Models list. */
  readonly list: VmwCtxBindinfo[] = [];
  /** Models render_targets[SVGA3D_RT_MAX]. */
  readonly renderTargets: VmwCtxBindinfo[];

  constructor(readonly dev: VmwPrivate) {
    this.renderTargets = Array.from({ length: SVGA3D_RT_MAX }, (_, slot) => ({
      cbs: this,
      ctx: null,
      res: null,
      bt: "rt" as const,
      scrubbed: false,
      slot,
      onResList: false,
    }));
  }
}

/** The device's binding_mutex, made with its first context (see vmwBindingMutex()). */
const bindingMutexes = new WeakMap<VmwPrivate, Mutex>();

/**
 * Models &dev_priv->binding_mutex (mutex_init() at load): made here with the device's first
 * binding state, so a device that never made a context keeps its steps (vmw_resource_release()
 * takes it only on a device that has one, vmwBindingMutexIfUsed()).
 * Locking: none. References: none.
 */
export function vmwBindingMutex(vmw: VmwPrivate): Mutex {
  let m = bindingMutexes.get(vmw);
  if (!m) {
    m = new Mutex("vmw_private.binding_mutex", { owner: vmw });
    bindingMutexes.set(vmw, m);
  }
  return m;
}

/** The device's binding_mutex if it ever made a binding state, else null. */
export function vmwBindingMutexIfUsed(vmw: VmwPrivate): Mutex | null {
  return bindingMutexes.get(vmw) ?? null;
}

/**
 * Models vmw_binding_state_alloc(): an empty binding state (vzalloc(); not tracked).
 * Locking: none. References: the caller owns it.
 */
export function vmwBindingStateAlloc(vmw: VmwPrivate): VmwCtxBindingState {
  vmwBindingMutex(vmw);
  return new VmwCtxBindingState(vmw);
}

/**
 * Models vmw_binding_state_free() (vfree()).
 * Locking: none. References: consumes it.
 */
export function vmwBindingStateFree(cbs: VmwCtxBindingState): void {
  cbs.list.length = 0;
}

/**
 * Models vmw_binding_state_list(): the bindings in use.
 * Locking: binding_mutex held (stale once it is dropped). References: none.
 */
export function vmwBindingStateList(cbs: VmwCtxBindingState): readonly VmwCtxBindinfo[] {
  lockdepAssertHeld(vmwBindingMutex(cbs.dev));
  return cbs.list;
}

/** Models vmw_binding_loc(): the storage of (bt, slot). */
function vmwBindingLoc(cbs: VmwCtxBindingState, slot: number): VmwCtxBindinfo {
  return cbs.renderTargets[slot]!;
}

function listDel(list: VmwCtxBindinfo[], bi: VmwCtxBindinfo): void {
  const i = list.indexOf(bi);
  if (i >= 0) list.splice(i, 1);
}

/**
 * Models vmw_binding_drop(): off the context's list and the resource's binding_head, slot free.
 * Locking: as the binding state's. References: none.
 */
function vmwBindingDrop(bi: VmwCtxBindinfo): void {
  listDel(bi.cbs.list, bi);
  if (bi.onResList && bi.res) listDel(bi.res.bindingHead, bi);
  bi.onResList = false;
  bi.ctx = null;
}

/**
 * Models vmw_binding_add(): tracks binding `bi` in `cbs` at `slot` (replacing what the slot
 * held), at the head of its list, on no resource's binding_head yet. A binding of no resource
 * (SVGA3D_INVALID_ID) is tracked too: its commit unbinds the slot (vmw_binding_transfer()).
 * Locking: the state's (cmdbuf_mutex for EXECBUF's staged state). References: none taken.
 */
export function vmwBindingAdd(
  cbs: VmwCtxBindingState,
  bi: { ctx: VmwResource; res: VmwResource | null; bt: VmwCtxBindingType },
  _shaderSlot: number,
  slot: number,
): void {
  const loc = vmwBindingLoc(cbs, slot);
  if (loc.ctx !== null) vmwBindingDrop(loc);
  loc.ctx = bi.ctx;
  loc.res = bi.res;
  loc.bt = bi.bt;
  loc.scrubbed = false;
  cbs.list.unshift(loc);
  loc.onResList = false;
}

/**
 * Models vmw_binding_transfer(): the staged binding `bi` of `from` into the same slot of `cbs`,
 * dropping what that slot held (WARN_ON if the staged one was scrubbed), then on `cbs`'s list and
 * on the bound resource's binding_head (list_add_tail()).
 * Locking: none of its own (the caller's). References: none taken.
 */
function vmwBindingTransfer(
  cbs: VmwCtxBindingState,
  _from: VmwCtxBindingState,
  bi: VmwCtxBindinfo,
): void {
  const loc = vmwBindingLoc(cbs, bi.slot);
  if (loc.ctx !== null) {
    warnOn(bi.scrubbed, "vmw_binding_transfer: WARN_ON(bi->scrubbed)");
    vmwBindingDrop(loc);
  }
  if (bi.res !== null) {
    loc.ctx = bi.ctx;
    loc.res = bi.res;
    loc.bt = bi.bt;
    loc.scrubbed = bi.scrubbed;
    cbs.list.push(loc);
    bi.res.bindingHead.push(loc);
    loc.onResList = true;
  }
}

/**
 * Models vmw_binding_state_commit(): every staged binding of `from` transferred into `to` and
 * dropped from `from`.
 * Locking: none of its own (EXECBUF commits with cmdbuf_mutex). References: none.
 */
export function vmwBindingStateCommit(to: VmwCtxBindingState, from: VmwCtxBindingState): void {
  for (const entry of [...from.list]) {
    vmwBindingTransfer(to, from, entry);
    vmwBindingDrop(entry);
  }
}

/**
 * Models vmw_binding_state_reset(): every binding of `cbs` dropped.
 * Locking: the state's. References: none.
 */
export function vmwBindingStateReset(cbs: VmwCtxBindingState): void {
  for (const entry of [...cbs.list]) vmwBindingDrop(entry);
}

/**
 * Models vmw_binding_state_kill(): vmw_binding_state_scrub() (each binding scrubbed: the device
 * commands are not modeled), then every binding dropped.
 * Locking: binding_mutex held. References: none.
 */
export function vmwBindingStateKill(cbs: VmwCtxBindingState): void {
  lockdepAssertHeld(vmwBindingMutex(cbs.dev));
  for (const entry of cbs.list) entry.scrubbed = true;
  for (const entry of [...cbs.list]) vmwBindingDrop(entry);
}

/**
 * Models vmw_binding_res_list_kill(): vmw_binding_res_list_scrub() of the resource's bindings,
 * then each dropped (off its context's list too).
 * Locking: binding_mutex held. References: none.
 */
export function vmwBindingResListKill(vmw: VmwPrivate, head: VmwCtxBindinfo[]): void {
  lockdepAssertHeld(vmwBindingMutex(vmw));
  for (const entry of head) entry.scrubbed = true;
  for (const entry of [...head]) vmwBindingDrop(entry);
}
