/**
 * struct vmw_resource (drivers/gpu/drm/vmwgfx/vmwgfx_resource.c): the device-side object behind
 * a surface (and contexts, shaders...), with its own kref and its guest memory: the buffer
 * object the device reads and writes the surface's contents through (a MOB).
 *
 * The resource is embedded in the user surface and refcounted separately from the surface's
 * ttm base object: the base object (what handles name) holds one resource reference, command
 * submission holds others while the GPU uses it, so a surface whose last handle is gone may still
 * be in use by the device.
 *
 * Which reference the resource holds on its guest memory buffer is the subject of "drm/vmwgfx:
 * Keep a gem reference to user bos in surfaces" (toggle `vmwgfx.surface-bo-ttm-ref-only`): a GEM
 * reference since (vmw_user_bo_ref() / vmw_user_bo_unref()), a TTM one before.
 *
 * Faithfulness: Linux v6.12, reduced to what surfaces and contexts need: a device id for GB
 * contexts only (vmwgfx-context.ts), the binding kill of vmw_resource_release(), no eviction, no
 * dirty tracking, no validation reservation (the kernel's resource_lock and cmdbuf_mutex
 * protect guest_memory_bo against a concurrent switch; nothing switches it here but the
 * resource's own creation and release).
 */

import { Kref } from "@primetime/atomics";
import { EINVAL, ESRCH } from "@primetime/kernel";
import { type Owner, point, RESOLVED, toggleEnabled, warnOn } from "@primetime/sim";
import { ttmBoReserve, ttmBoUnreserve } from "@primetime/ttm";
import { VMWGFX_SURFACE_BO_TTM_REF_ONLY } from "./toggles.js";
import {
  type TtmBaseObject,
  type TtmObjectFile,
  ttmBaseObjectLookup,
  ttmBaseObjectNorefLookup,
  ttmBaseObjectNorefRelease,
  ttmBaseObjectUnref,
} from "./ttm-object.js";
import { ttmBaseObjectType } from "./ttm-prime-object.js";
import {
  type VmwCtxBindinfo,
  vmwBindingMutexIfUsed,
  vmwBindingResListKill,
} from "./vmwgfx-binding.js";
import { type VmwBo, vmwBoPinReserved, vmwBoUnreference, vmwUserBoUnref } from "./vmwgfx-bo.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";

/** Models enum vmw_res_type (the kinds modeled). */
export type VmwResType = "context" | "surface";

/**
 * Models struct vmw_resource.
 *
 * Locking: `guestMemoryBo` set at creation, cleared at release.
 * References: `kref`; holds one reference on `guestMemoryBo` (GEM, or TTM with the toggle).
 */
export class VmwResource {
  /** Models kref. */
  readonly kref: Kref;
  /** Models guest_memory_bo (backup before 6.4). */
  guestMemoryBo: VmwBo | null = null;
  /** Models guest_memory_size. */
  guestMemorySize = 0;
  /** Models res_free: frees the embedding object. */
  resFree: ((res: VmwResource) => Promise<void>) | null = null;
  /** Models dev_priv (set by vmw_resource_init(); null for a resource made outside a device). */
  devPriv: VmwPrivate | null = null;
  /** Models func->res_type (vmw_res_type()). */
  resType: VmwResType = "surface";
  /** Models id: the device id (-1: none yet; GB contexts get one when first validated). */
  id = -1;
  /** Models hw_destroy. */
  hwDestroy: ((res: VmwResource) => Promise<void>) | null = null;
  /**
   * Models func->create (vmw_resource_do_validate() calls it while the id is -1), null for the
   * kinds whose creation is not modeled there (surfaces).
   */
  create: ((res: VmwResource) => Promise<number>) | null = null;
  /** Models binding_head: the context bindings that name this resource (binding_mutex). */
  readonly bindingHead: VmwCtxBindinfo[] = [];
  /** Models pin_count (under cmdbuf_mutex): vmw_resource_pin() / vmw_resource_unpin(). */
  pinCount = 0;

  constructor(readonly owner: Owner) {
    this.kref = new Kref(owner);
  }
}

/**
 * Models vmw_resource_init() (the part kept): one reference (the creator's), the device, the
 * type and res_free; the id stays -1 (`delay_id`: GB resources get one at their creation).
 * Locking: none; not yet visible. References: the caller owns it.
 */
export function vmwResourceInit(
  res: VmwResource,
  guestMemorySize: number,
  resFree: (res: VmwResource) => Promise<void>,
  devPriv: VmwPrivate | null = null,
  resType: VmwResType = "surface",
): void {
  res.kref.init();
  res.guestMemorySize = guestMemorySize;
  res.resFree = resFree;
  res.devPriv = devPriv;
  res.resType = resType;
  res.id = -1;
}

/**
 * Models vmw_resource_reference().
 * Locking: none; the caller holds a reference. References: takes one.
 */
export async function vmwResourceReference(res: VmwResource): Promise<VmwResource> {
  const getDone = res.kref.get();
  if (getDone !== RESOLVED) await getDone;
  return res;
}

/**
 * Models vmw_resource_reference_unless_doomed(): `kref_get_unless_zero(&res->kref) ? res : NULL`,
 * the reference vmw_validation_add_resource() takes on a resource found without one (v6.12.19,
 * `vmwgfx_resource.c`).
 * Locking: none (the caller keeps the resource's memory alive, e.g. under RCU).
 * References: takes one unless the count already hit 0.
 */
export async function vmwResourceReferenceUnlessDoomed(
  res: VmwResource,
): Promise<VmwResource | null> {
  return (await res.kref.getUnlessZero()) ? res : null;
}

/**
 * Models vmw_resource_release(): drops the guest memory buffer's reference (vmw_user_bo_unref(),
 * or the TTM vmw_bo_unreference() with the toggle); then, for a resource with a hw_destroy, the
 * bindings that name it killed under binding_mutex (vmw_binding_res_list_kill()) and hw_destroy;
 * then res_free. Until the kill, a context's binding list still names the resource, whose kref
 * is already 0 (vmw_resource_context_res_add() may meet it: vmwgfx-execbuf-cmd.ts). The binding
 * step runs on a device that made a context (a binding state), so the steps of the others stay
 * as they were; the kernel takes binding_mutex on every release with a hw_destroy.
 * Locking: the kernel takes resource_lock and reserves the buffer (not modeled); takes
 * binding_mutex. References: consumes it.
 */
async function vmwResourceRelease(res: VmwResource): Promise<void> {
  await point(`vmw_resource_release(${res.owner.name})`);
  const bo = res.guestMemoryBo;
  res.guestMemoryBo = null;
  if (bo) {
    if (toggleEnabled(VMWGFX_SURFACE_BO_TTM_REF_ONLY.name)) await vmwBoUnreference(bo);
    else await vmwUserBoUnref(bo);
  }
  if (res.hwDestroy) {
    const bindingMutex = res.devPriv ? vmwBindingMutexIfUsed(res.devPriv) : null;
    if (bindingMutex && res.devPriv) {
      const bindingMutexTaken = bindingMutex.lock();
      if (bindingMutexTaken !== RESOLVED) await bindingMutexTaken;
      vmwBindingResListKill(res.devPriv, res.bindingHead);
      bindingMutex.unlockNow();
    }
    await res.hwDestroy(res);
  }
  if (res.resFree) await res.resFree(res);
}

/**
 * Models vmw_resource_unreference(): kref_put with vmw_resource_release().
 * Locking: none. References: drops one.
 */
export async function vmwResourceUnreference(res: VmwResource): Promise<void> {
  await res.kref.put(() => vmwResourceRelease(res));
}

/** Models struct vmw_user_resource_conv (the fields kept). */
export interface VmwUserResourceConv {
  /** Models object_type: the ttm object type of the user-visible object. */
  readonly objectType: number;
  /** Models base_obj_to_res. */
  readonly baseObjToRes: (base: TtmBaseObject) => VmwResource;
}

/**
 * Models vmw_user_resource_lookup_handle(): the resource behind handle `handle` the file has
 * opened, with a resource reference (kref_get() before "drm/vmwgfx: Fix dumb buffer leak",
 * vmw_resource_reference() since: the same increment). -EINVAL if the file has no such handle
 * or the object is not of the converter's type.
 * Locking: see ttmBaseObjectLookup(). References: one resource reference for the caller; the
 * lookup's base reference is dropped.
 */
export async function vmwUserResourceLookupHandle(
  tfile: TtmObjectFile,
  handle: number,
  converter: VmwUserResourceConv,
): Promise<VmwResource | number> {
  const base = await ttmBaseObjectLookup(tfile, handle);
  if (!base) return -EINVAL;
  let ret: VmwResource | number = -EINVAL;
  if (ttmBaseObjectType(base) === converter.objectType) {
    const res = converter.baseObjToRes(base);
    ret = await vmwResourceReference(res);
  }
  await ttmBaseObjectUnref(base);
  return ret;
}

/**
 * Models vmw_user_resource_noref_lookup_handle() (removed by a309c7194e8a, "drm/vmwgfx: Remove
 * rcu locks from user resources"; `vmwgfx.lookup-under-rcu`): the resource behind `handle`
 * without a reference, through ttm_base_object_noref_lookup(): -ESRCH if that returns NULL (no
 * such handle, read-side section left; or the NULL ref->obj of a racing release, section still
 * held, as in the kernel), -EINVAL (after ttm_base_object_noref_release()) for another type.
 * Locking: on success returns under rcu_read_lock() (vmw_user_resource_noref_release() ends it).
 * References: none.
 */
export async function vmwUserResourceNorefLookupHandle(
  tfile: TtmObjectFile,
  handle: number,
  converter: VmwUserResourceConv,
): Promise<VmwResource | number> {
  const base = await ttmBaseObjectNorefLookup(tfile, handle);
  if (!base) return -ESRCH;
  if (ttmBaseObjectType(base) !== converter.objectType) {
    ttmBaseObjectNorefRelease();
    return -EINVAL;
  }
  return converter.baseObjToRes(base);
}

/**
 * Models vmw_resource_pin() (vmwgfx_resource.c): under cmdbuf_mutex, the first pin reserves the
 * resource's guest memory buffer, if it has one, and pins it where it is (vmw_bo_pin_reserved());
 * then pin_count++. Not modeled: vmw_resource_reserve() (the resource's own reservation, only
 * the LRU list here) and the validations (ttm_bo_validate() into the resource's domain,
 * vmw_resource_validate(): the device surface, whose creation is not modeled), so it returns 0
 * but for a failed reservation.
 * Locking: takes dev_priv->cmdbuf_mutex, then the buffer's reservation.
 * References: none taken; the caller holds the resource.
 */
export async function vmwResourcePin(res: VmwResource, interruptible: boolean): Promise<number> {
  const devPriv = res.devPriv!;
  const cmdbufMutexTaken = devPriv.cmdbufMutex.lock();
  if (cmdbufMutexTaken !== RESOLVED) await cmdbufMutexTaken;
  let ret = 0;
  if (res.pinCount === 0) {
    const vbo = res.guestMemoryBo;
    if (vbo) {
      ret = await ttmBoReserve(vbo, interruptible, false, null);
      if (ret === 0) {
        await vmwBoPinReserved(vbo, true);
        await ttmBoUnreserve(vbo);
      }
    }
  }
  if (ret === 0) res.pinCount++;
  devPriv.cmdbufMutex.unlockNow();
  return ret;
}

/**
 * Models vmw_resource_unpin(): under cmdbuf_mutex, pin_count--, and the last unpin unpins the
 * guest memory buffer (reserved for it).
 * Locking: takes dev_priv->cmdbuf_mutex, then the buffer's reservation.
 * References: none.
 */
export async function vmwResourceUnpin(res: VmwResource): Promise<void> {
  const devPriv = res.devPriv!;
  const cmdbufMutexTaken = devPriv.cmdbufMutex.lock();
  if (cmdbufMutexTaken !== RESOLVED) await cmdbufMutexTaken;
  warnOn(res.pinCount === 0, "vmw_resource_unpin: WARN_ON(res->pin_count == 0)");
  if (res.pinCount > 0 && --res.pinCount === 0 && res.guestMemoryBo) {
    const vbo = res.guestMemoryBo;
    const ret = await ttmBoReserve(vbo, false, false, null);
    warnOn(ret !== 0, "vmw_resource_unpin: WARN_ON(ret)");
    await vmwBoPinReserved(vbo, false);
    await ttmBoUnreserve(vbo);
  }
  devPriv.cmdbufMutex.unlockNow();
}
