/**
 * vmwgfx contexts (drivers/gpu/drm/vmwgfx/vmwgfx_context.c): a user context is a ttm base object
 * (type VMW_RES_CONTEXT, not shareable: only the creating file has its handle) embedding a
 * resource, the device-side context, with its binding state (vmwgfx-binding.ts). The base object
 * holds one resource reference; EXECBUF's validation list holds others while a submission uses
 * the context, so a context whose handle is gone may live on until the submission ends.
 *
 * On a guest-backed device (`has_mob`, every device here) DRM_VMW_CREATE_CONTEXT and
 * CREATE_EXTENDED_CONTEXT's drm_vmw_context_legacy make a **GB context** (vmw_gb_context_init():
 * vmw_gb_context_func, resource type vmw_res_context): its device id is allocated and
 * SVGA_3D_CMD_DEFINE_GB_CONTEXT sent when a submission first validates it
 * (vmw_gb_context_create()), and SVGA_3D_CMD_DESTROY_GB_CONTEXT at its release
 * (vmw_hw_context_destroy() -> vmw_gb_context_destroy()). The legacy (FIFO) context of a device
 * without MOBs (vmw_legacy_context_func, SVGA_3D_CMD_CONTEXT_DEFINE at creation) is not reached,
 * and drm_vmw_context_dx is -EINVAL: the simulated device has no SM4 context
 * (has_sm4_context()).
 *
 * Faithfulness: Linux v6.12.19 vmwgfx_context.c (struct vmw_user_context, user_context_conv,
 * vmw_hw_context_destroy(), vmw_gb_context_init(), vmw_context_init(), vmw_gb_context_create(),
 * vmw_gb_context_destroy(), vmw_user_context_base_to_res(), vmw_user_context_free(),
 * vmw_user_context_base_release(), vmw_context_destroy_ioctl(), vmw_context_define(),
 * vmw_context_define_ioctl(), vmw_extended_context_define_ioctl(), vmw_context_binding_list(),
 * vmw_context_binding_state()) and vmwgfx_resource.c (vmw_resource_alloc_id(),
 * vmw_resource_release_id()). Not modeled: the context's guest memory (SVGAGBContextData, allocated
 * and bound at validation: vmw_resource_buf_alloc(), vmw_gb_context_bind()/_unbind(), the
 * readback), eviction, the command-buffer resource manager (vmw_cmdbuf_res_man_create(): shaders
 * are not modeled), cotables and the DX query MOB (DX contexts), the pinned query buffer, and the
 * device command FIFO: a command "sent" is recorded in the device's table of defined contexts
 * (VmwContextDevice), which the simulated engine does not otherwise read.
 */

import {
  EBUSY,
  EINVAL,
  ENOMEM,
  isErr,
  KmemCache,
  kfreeRcu,
  kmalloc,
  lockdepAssertHeld,
} from "@primetime/kernel";
import { point, RESOLVED } from "@primetime/sim";
import {
  TtmBaseObject,
  type TtmObjectFile,
  ttmBaseObjectInit,
  ttmRefObjectBaseUnref,
  VMW_RES_CONTEXT,
} from "./ttm-object.js";
import {
  type VmwCtxBindinfo,
  type VmwCtxBindingState,
  vmwBindingMutex,
  vmwBindingStateAlloc,
  vmwBindingStateFree,
  vmwBindingStateKill,
  vmwBindingStateList,
} from "./vmwgfx-binding.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import {
  VmwResource,
  type VmwUserResourceConv,
  vmwResourceInit,
  vmwResourceReference,
  vmwResourceUnreference,
} from "./vmwgfx-resource.js";
import {
  type DrmVmwContextArg,
  type DrmVmwExtendedContextArg,
  drm_vmw_context_dx,
  drm_vmw_context_legacy,
} from "./vmwgfx-uapi.js";

/** Models VMWGFX_NUM_GB_CONTEXT (vmwgfx_drv.h): device ids of GB contexts are below it. */
export const VMWGFX_NUM_GB_CONTEXT = 256;
/** Models sizeof(SVGAGBContextData) (SVGA3D_CONTEXT_DATA_SIZE): a GB context's guest memory. */
export const SVGA3D_CONTEXT_DATA_SIZE = 16384;
/** Models SVGA_3D_CMD_DEFINE_GB_CONTEXT. */
export const SVGA_3D_CMD_DEFINE_GB_CONTEXT = 1107;
/** Models SVGA_3D_CMD_DESTROY_GB_CONTEXT. */
export const SVGA_3D_CMD_DESTROY_GB_CONTEXT = 1108;

/** The slab cache of user contexts (kzalloc() in vmw_context_define()). */
export const vmwUserContextCache = new KmemCache("vmw_user_context");

/**
 * Models struct vmw_user_context (base, res, cbs; man, cotables and dx_query_mob are not
 * modeled).
 * Locking: `cbs` under binding_mutex. References: the base object holds one on `res`.
 */
export class VmwUserContext extends TtmBaseObject {
  /** Models res. */
  readonly res: VmwResource;
  /** Models cbs. */
  cbs: VmwCtxBindingState | null = null;

  constructor() {
    super(vmwUserContextCache);
    this.res = new VmwResource(this);
  }
}

/**
 * What the model keeps per device for contexts: dev_priv->res_idr[vmw_res_context] (the device
 * ids) and the contexts the device was told about (DEFINE_GB_CONTEXT without a DESTROY yet).
 * Locking: resource_lock for the ids (a scheduling point where it is taken); cmdbuf_mutex for
 * the commands. References: none.
 */
export interface VmwContextDevice {
  /** Models res_idr[vmw_res_context]: the ids in use. */
  readonly ids: Set<number>;
  /** The device ids the device holds a context for. */
  readonly defined: Set<number>;
  /** Models used_memory_size's FIFO resource count (vmw_fifo_resource_inc()/_dec()). */
  fifoResources: number;
}

const contextDevices = new WeakMap<VmwPrivate, VmwContextDevice>();

/** The device's context state (made with its first context). */
export function vmwContextDevice(vmw: VmwPrivate): VmwContextDevice {
  let d = contextDevices.get(vmw);
  if (!d) {
    d = { ids: new Set(), defined: new Set(), fifoResources: 0 };
    contextDevices.set(vmw, d);
  }
  return d;
}

/**
 * Models has_sm4_context(): the device's SVGA3D_DEVCAP_DXCONTEXT (the simulated device has none).
 * Locking: none. References: none.
 */
export function hasSm4Context(_vmw: VmwPrivate): boolean {
  return false;
}

/**
 * Models vmw_user_context_base_to_res().
 * Locking: none. References: none.
 */
function vmwUserContextBaseToRes(base: TtmBaseObject): VmwResource {
  return (base as VmwUserContext).res;
}

/** Models user_context_converter (user_context_conv): user contexts as resources. */
export const userContextConverter: VmwUserResourceConv = {
  objectType: VMW_RES_CONTEXT,
  baseObjToRes: vmwUserContextBaseToRes,
};

/**
 * Models vmw_resource_alloc_id(): the lowest free id from 1 of the device's context idr
 * (idr_alloc(idr, res, 1, 0, GFP_NOWAIT) under resource_lock).
 * Locking: takes resource_lock (a point; the lock itself is not modeled). References: none.
 */
async function vmwResourceAllocId(res: VmwResource): Promise<number> {
  const d = vmwContextDevice(res.devPriv!);
  await point("spin_lock(resource_lock)");
  let id = 1;
  while (d.ids.has(id)) id++;
  d.ids.add(id);
  res.id = id;
  return 0;
}

/**
 * Models vmw_resource_release_id(): the id back to the idr (under resource_lock), res->id = -1.
 * Locking: takes resource_lock. References: none.
 */
function vmwResourceReleaseId(res: VmwResource): void {
  if (res.id !== -1) vmwContextDevice(res.devPriv!).ids.delete(res.id);
  res.id = -1;
}

/**
 * Models vmw_gb_context_create() (func->create, from vmw_resource_do_validate()): nothing if the
 * context has a device id; else one (vmw_resource_alloc_id()), -EBUSY (the id released) at
 * VMWGFX_NUM_GB_CONTEXT, then SVGA_3D_CMD_DEFINE_GB_CONTEXT with it (recorded as the device's)
 * and vmw_fifo_resource_inc().
 * Locking: cmdbuf_mutex held (the validation's caller). References: none.
 */
export async function vmwGbContextCreate(res: VmwResource): Promise<number> {
  const vmw = res.devPriv!;
  lockdepAssertHeld(vmw.cmdbufMutex);
  if (res.id !== -1) return 0;
  const ret = await vmwResourceAllocId(res);
  if (ret) return ret;
  if (res.id >= VMWGFX_NUM_GB_CONTEXT) {
    vmwResourceReleaseId(res);
    return -EBUSY;
  }
  const d = vmwContextDevice(vmw);
  // VMW_CMD_RESERVE() + SVGA_3D_CMD_DEFINE_GB_CONTEXT { cid = res->id } + vmw_cmd_commit()
  d.defined.add(res.id);
  d.fifoResources++;
  return 0;
}

/**
 * Models vmw_gb_context_destroy() (func->destroy): nothing without a device id; else
 * SVGA_3D_CMD_DESTROY_GB_CONTEXT, the id released and vmw_fifo_resource_dec() (query_cid is not
 * modeled).
 * Locking: cmdbuf_mutex and binding_mutex held (vmw_hw_context_destroy()). References: none.
 */
function vmwGbContextDestroy(res: VmwResource): number {
  const vmw = res.devPriv!;
  lockdepAssertHeld(vmw.cmdbufMutex);
  lockdepAssertHeld(vmwBindingMutex(vmw));
  if (res.id === -1) return 0;
  const d = vmwContextDevice(vmw);
  d.defined.delete(res.id);
  vmwResourceReleaseId(res);
  d.fifoResources--;
  return 0;
}

/**
 * Models vmw_hw_context_destroy() for a GB context (res->hw_destroy): under cmdbuf_mutex (the
 * resource manager's destruction is not modeled), under binding_mutex its bindings killed
 * (vmw_binding_state_kill()) and vmw_gb_context_destroy(); the pinned query buffer and cotables
 * are not modeled.
 * Locking: takes cmdbuf_mutex, then binding_mutex. References: none.
 */
async function vmwHwContextDestroy(res: VmwResource): Promise<void> {
  const uctx = res.owner as VmwUserContext;
  const vmw = res.devPriv!;
  const cmdbufMutexTaken = vmw.cmdbufMutex.lock();
  if (cmdbufMutexTaken !== RESOLVED) await cmdbufMutexTaken;
  const bindingMutex = vmwBindingMutex(vmw);
  const bindingMutexTaken = bindingMutex.lock();
  if (bindingMutexTaken !== RESOLVED) await bindingMutexTaken;
  if (uctx.cbs) vmwBindingStateKill(uctx.cbs);
  vmwGbContextDestroy(res);
  bindingMutex.unlockNow();
  vmw.cmdbufMutex.unlockNow();
}

/**
 * Models vmw_user_context_free(), the resource's res_free: the binding state freed
 * (vmw_binding_state_free()), then the context after a grace period (ttm_base_object_kfree():
 * kfree_rcu(), as ttm_base_object_lookup_for_ref() may look at it under RCU). The DX query
 * unbind (vmw_context_bind_dx_query(res, NULL)) is not modeled.
 * Locking: none. References: consumes the context.
 */
async function vmwUserContextFree(res: VmwResource): Promise<void> {
  const ctx = res.owner as VmwUserContext;
  if (ctx.cbs) vmwBindingStateFree(ctx.cbs);
  ctx.cbs = null;
  const kfreeRcuDone = kfreeRcu(ctx);
  if (kfreeRcuDone !== RESOLVED) await kfreeRcuDone;
}

/**
 * Models vmw_user_context_base_release(), the base object's release: the base object's resource
 * reference dropped (the context may live on in a submission).
 * Locking: none. References: drops one resource reference.
 */
async function vmwUserContextBaseRelease(base: TtmBaseObject): Promise<void> {
  const ctx = base as VmwUserContext;
  await vmwResourceUnreference(ctx.res);
}

/**
 * Models vmw_gb_context_init(): guest_memory_size = sizeof(SVGAGBContextData) (the DX context's
 * SVGADXContextMobFormat is not reached), vmw_resource_init() with vmw_gb_context_func (delayed
 * id), the binding state (vmw_binding_state_alloc()), hw_destroy = vmw_hw_context_destroy.
 * Failures of the resource manager's and the binding state's allocations are not modeled.
 * Locking: none; the context is not visible yet. References: the caller owns the one reference.
 */
function vmwGbContextInit(
  vmw: VmwPrivate,
  _dx: boolean,
  res: VmwResource,
  resFree: (res: VmwResource) => Promise<void>,
): number {
  const uctx = res.owner as VmwUserContext;
  vmwResourceInit(res, SVGA3D_CONTEXT_DATA_SIZE, resFree, vmw, "context");
  res.create = vmwGbContextCreate;
  uctx.cbs = vmwBindingStateAlloc(vmw);
  res.hwDestroy = vmwHwContextDestroy;
  return 0;
}

/**
 * Models vmw_context_init(): on a device with MOBs (every device here) vmw_gb_context_init().
 * Locking: none. References: as vmwGbContextInit().
 */
function vmwContextInit(
  vmw: VmwPrivate,
  res: VmwResource,
  resFree: (res: VmwResource) => Promise<void>,
  dx: boolean,
): number {
  return vmwGbContextInit(vmw, dx, res, resFree);
}

/**
 * Models vmw_context_define(): -EINVAL for a DX context on a device without SM4 contexts; the
 * user context allocated (-ENOMEM), not shareable; vmw_context_init(); a resource reference for
 * the base object (`tmp`), ttm_base_object_init() (its error: `tmp` dropped), the handle in
 * `cid`; the creation reference dropped on every path after the init.
 * Locking: takes ttm_base_object_init()'s. References: on success the base object (the file's
 * ref object) owns the context, which holds one resource reference.
 */
async function vmwContextDefine(
  vmw: VmwPrivate,
  arg: DrmVmwContextArg,
  tfile: TtmObjectFile,
  dx: boolean,
): Promise<number> {
  if (!hasSm4Context(vmw) && dx) return -EINVAL; // DX contexts not supported by device.
  const ctx = kmalloc(vmwUserContextCache, () => new VmwUserContext());
  if (isErr(ctx)) return -ENOMEM;
  const res = ctx.res;
  ctx.shareable = false;
  ctx.tfile = null;
  // From here on, the destructor takes over resource freeing.
  let ret = vmwContextInit(vmw, res, vmwUserContextFree, dx);
  if (ret) return ret;
  const tmp = await vmwResourceReference(ctx.res);
  ret = await ttmBaseObjectInit(tfile, ctx, false, VMW_RES_CONTEXT, vmwUserContextBaseRelease);
  if (ret) await vmwResourceUnreference(tmp);
  else arg.cid = ctx.handle;
  await vmwResourceUnreference(res);
  return ret;
}

/**
 * Models vmw_context_define_ioctl() (DRM_VMW_CREATE_CONTEXT): a GB context.
 * Locking: see vmwContextDefine(). References: as vmwContextDefine().
 */
export function vmwContextDefineIoctl(
  vmw: VmwPrivate,
  arg: DrmVmwContextArg,
  tfile: TtmObjectFile,
): Promise<number> {
  return vmwContextDefine(vmw, arg, tfile, false);
}

/**
 * Models vmw_extended_context_define_ioctl() (DRM_VMW_CREATE_EXTENDED_CONTEXT): `req`
 * drm_vmw_context_legacy (a GB context) or drm_vmw_context_dx (-EINVAL here: no SM4), any other
 * -EINVAL; the reply's cid.
 * Locking: see vmwContextDefine(). References: as vmwContextDefine().
 */
export async function vmwExtendedContextDefineIoctl(
  vmw: VmwPrivate,
  arg: DrmVmwExtendedContextArg,
  tfile: TtmObjectFile,
): Promise<number> {
  const rep: DrmVmwContextArg = { cid: arg.cid, pad64: arg.pad64 };
  let ret: number;
  switch (arg.req >>> 0) {
    case drm_vmw_context_legacy:
      ret = await vmwContextDefine(vmw, rep, tfile, false);
      break;
    case drm_vmw_context_dx:
      ret = await vmwContextDefine(vmw, rep, tfile, true);
      break;
    default:
      return -EINVAL;
  }
  if (ret === 0) arg.cid = rep.cid;
  return ret;
}

/**
 * Models vmw_context_destroy_ioctl() (DRM_VMW_UNREF_CONTEXT): one less open of the handle by the
 * file (ttm_ref_object_base_unref(): -EINVAL for a handle the file has not opened; no type
 * check, as in the kernel).
 * Locking: the file's lock. References: the ref object's.
 */
export function vmwContextDestroyIoctl(
  arg: DrmVmwContextArg,
  tfile: TtmObjectFile,
): Promise<number> {
  return ttmRefObjectBaseUnref(tfile, arg.cid >>> 0);
}

/**
 * Models vmw_context_binding_state(): the context's binding state.
 * Locking: binding_mutex (stale once it is dropped). References: none.
 */
export function vmwContextBindingState(ctx: VmwResource): VmwCtxBindingState {
  return (ctx.owner as VmwUserContext).cbs!;
}

/**
 * Models vmw_context_binding_list(): the context's bindings (vmw_binding_state_list()).
 * Locking: binding_mutex held (stale once it is dropped). References: none.
 */
export function vmwContextBindingList(ctx: VmwResource): readonly VmwCtxBindinfo[] {
  lockdepAssertHeld(vmwBindingMutex(ctx.devPriv!));
  return vmwBindingStateList(vmwContextBindingState(ctx));
}
