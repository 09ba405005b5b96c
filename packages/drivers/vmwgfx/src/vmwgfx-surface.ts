/**
 * vmwgfx user surfaces (drivers/gpu/drm/vmwgfx/vmwgfx_surface.c): guest-backed surfaces as
 * userspace sees them. A surface is a ttm prime object (its handle lives in the ttm object
 * device's idr, above the GEM handle range) embedding a resource (the device-side surface) whose
 * guest memory is a buffer object: one userspace passed by GEM handle, or one the kernel created
 * with a handle (drm_vmw_surface_flag_create_buffer).
 *
 * Lifetimes: the surface's handle (a ref object per file) holds the base object; the base object
 * holds one resource reference; the resource holds its buffer. Surfaces are shared across files
 * by handle (GB_SURFACE_REF) or as dma-bufs (ttm prime, routed by vmwgfx_prime.c); they are freed
 * with kfree_rcu(), as ttm_base_object_lookup_for_ref() may still look at one under RCU.
 *
 * Faithfulness: Linux v6.12, the GB (guest-backed, MOB) path only: no legacy (non-GB) surfaces,
 * no SM4/SM5 features (array_size, multisample, buffer_byte_stride are refused with -EINVAL as on
 * a device without those contexts), no scanout or coherent dirty tracking, every format 32 bits
 * per texel (the kernel's vmw_surface_get_desc() tables are not modelled).
 */

import {
  type DrmDevice,
  type DrmFile,
  type DrmMaster,
  drmGemHandleCreate,
  drmIsPrimaryClient,
  drmIsRenderClient,
  drmMasterGet,
  drmMasterPut,
  drmVmaNodeOffsetAddr,
} from "@primetime/gem";
import {
  EACCES,
  EINVAL,
  isErr,
  KmemCache,
  kfreeRcu,
  kmalloc,
  type Mutex,
  PAGE_SIZE,
} from "@primetime/kernel";
import { point, toggleEnabled } from "@primetime/sim";
import { VMWGFX_SURFACE_BO_TTM_REF_ONLY } from "./toggles.js";
import {
  TTM_PRIME_TYPE,
  type TtmBaseObject,
  type TtmObjectFile,
  ttmBaseObjectLookupForRef,
  ttmBaseObjectUnref,
  ttmRefObjectAdd,
  ttmRefObjectBaseUnref,
  VMW_RES_SURFACE,
} from "./ttm-object.js";
import { TtmPrimeObject, ttmPrimeFdToHandle, ttmPrimeObjectInit } from "./ttm-prime-object.js";
import { type VmwBo, vmwBoReference, vmwUserBoLookup, vmwUserBoUnref } from "./vmwgfx-bo.js";
import { vmwGemObjectCreateWithHandle } from "./vmwgfx-gem.js";
import {
  VmwResource,
  vmwResourceInit,
  vmwResourceReference,
  vmwResourceUnreference,
} from "./vmwgfx-resource.js";
import {
  DRM_VMW_HANDLE_PRIME,
  type DrmVmwGbSurfaceCreateArg,
  type DrmVmwGbSurfaceRefArg,
  type DrmVmwSurfaceArg,
  drm_vmw_surface_flag_coherent,
  drm_vmw_surface_flag_create_buffer,
  SVGA3D_INVALID_ID,
} from "./vmwgfx-uapi.js";

/** Models DRM_VMW_MAX_MIP_LEVELS. */
export const DRM_VMW_MAX_MIP_LEVELS = 24;
/** Bytes per texel of every format in this model. */
export const VMW_SURFACE_BYTES_PER_TEXEL = 4;

/** The slab cache of user surfaces (kzalloc() in vmw_gb_surface_define()). */
export const vmwUserSurfaceCache = new KmemCache("vmw_user_surface");

/** Models struct vmw_surface_metadata (the fields kept). */
export interface VmwSurfaceMetadata {
  flags: number;
  format: number;
  mipLevels: number;
  autogenFilter: number;
  width: number;
  height: number;
  depth: number;
}

/** What the driver keeps per device for surfaces (parts of struct vmw_private). */
export interface VmwSurfaceDevice {
  /** Models dev_priv->tdev. */
  readonly tdev: import("./ttm-object.js").TtmObjectDevice;
  /** Models dev_priv->cmdbuf_mutex: protects res->guest_memory_bo. */
  readonly cmdbufMutex: Mutex;
}

/**
 * Models struct vmw_user_surface: the prime object (`prime.base` is the class itself), the
 * surface with its resource, and the creating master.
 *
 * Locking: `res.guestMemoryBo` under cmdbuf_mutex; the rest set at creation.
 * References: see the file comment; `master` is a master reference for primary-node creators.
 */
export class VmwUserSurface extends TtmPrimeObject {
  /** Models srf.res. */
  readonly res: VmwResource;
  /** Models srf.metadata. */
  metadata: VmwSurfaceMetadata = {
    flags: 0,
    format: 0,
    mipLevels: 0,
    autogenFilter: 0,
    width: 0,
    height: 0,
    depth: 0,
  };
  /** Models master. */
  master: DrmMaster | null = null;

  constructor() {
    super(vmwUserSurfaceCache);
    this.res = new VmwResource(this);
  }
}

/**
 * Models vmw_user_surface_free(), the resource's res_free: drops the master reference and frees
 * the surface after a grace period (ttm_prime_object_kfree()).
 * Locking: none. References: consumes the surface.
 */
async function vmwUserSurfaceFree(res: VmwResource): Promise<void> {
  const srf = res.owner as VmwUserSurface;
  if (srf.master) await drmMasterPut(srf.master);
  srf.master = null;
  await kfreeRcu(srf);
}

/**
 * Models vmw_user_surface_base_release(), the prime object's release: drops the base object's
 * resource reference (the resource, and the surface's memory, may live on while the device
 * uses it).
 * Locking: none. References: drops one resource reference.
 */
async function vmwUserSurfaceBaseRelease(base: TtmBaseObject): Promise<void> {
  const srf = base as VmwUserSurface;
  await vmwResourceUnreference(srf.res);
}

/**
 * Models ttm_base_object_type(): the driver type of a prime object, else the object type.
 * Locking: none. References: the caller's.
 */
function ttmBaseObjectType(base: TtmBaseObject): number {
  return base.objectType === TTM_PRIME_TYPE ? (base as TtmPrimeObject).realType : base.objectType;
}

/**
 * Models vmw_gb_surface_define_internal() (DRM_VMW_GB_SURFACE_CREATE): validates the request,
 * allocates the surface with its resource (guest memory size = width * height * depth * 4,
 * page aligned), attaches its guest memory (the user buffer `buffer_handle`: -ESRCH if unknown,
 * -EINVAL if too small; or a new buffer with a handle for create_buffer), publishes the surface
 * as a ttm prime object with a resource reference for the base, and replies with the handles,
 * sizes and the buffer's mmap offset. -EINVAL for more than 24 mip levels, or SM4/SM4.1/SM5
 * features.
 *
 * References: the surface keeps a GEM reference to its buffer (the lookup's, or the creation
 * one); toggle `vmwgfx.surface-bo-ttm-ref-only`: a TTM one instead, as before 91398b413d03.
 * Locking: none held; takes the locks of the calls.
 */
export async function vmwGbSurfaceDefineIoctl(
  _vmw: VmwSurfaceDevice,
  dev: DrmDevice,
  req: DrmVmwGbSurfaceCreateArg,
  file: DrmFile,
  tfile: TtmObjectFile,
): Promise<number> {
  if (req.array_size > 0) return -EINVAL; // SM4 surface not supported
  if (req.multisample_count !== 0) return -EINVAL; // SM4.1 surface not supported
  if (req.mip_levels > DRM_VMW_MAX_MIP_LEVELS) return -EINVAL;
  const texels = req.width * Math.max(1, req.height) * Math.max(1, req.depth);
  if (texels === 0) return -EINVAL;
  const size = Math.ceil((texels * VMW_SURFACE_BYTES_PER_TEXEL) / PAGE_SIZE) * PAGE_SIZE;

  // vmw_gb_surface_define(): the surface and its resource, one resource reference.
  const srf = kmalloc(vmwUserSurfaceCache, () => new VmwUserSurface());
  if (isErr(srf)) return srf;
  srf.metadata = {
    flags: req.svga3d_flags,
    format: req.format,
    mipLevels: req.mip_levels,
    autogenFilter: req.autogen_filter,
    width: req.width,
    height: req.height,
    depth: req.depth,
  };
  vmwResourceInit(srf.res, size, vmwUserSurfaceFree);
  if (drmIsPrimaryClient(file) && file.master) srf.master = await drmMasterGet(file.master);
  const res = srf.res;
  let ret = 0;
  let backupHandle = 0;

  if (req.buffer_handle !== SVGA3D_INVALID_ID) {
    const bo = await vmwUserBoLookup(file, req.buffer_handle);
    if (isErr(bo)) {
      ret = bo;
    } else if (bo.size < res.guestMemorySize) {
      // Surface backup buffer too small.
      await vmwUserBoUnref(bo);
      ret = -EINVAL;
    } else {
      res.guestMemoryBo = await surfaceTakeBo(bo);
      backupHandle = req.buffer_handle;
    }
  } else if (
    req.drm_surface_flags &
    (drm_vmw_surface_flag_create_buffer | drm_vmw_surface_flag_coherent)
  ) {
    const r = await vmwGemObjectCreateWithHandle(dev, file, res.guestMemorySize);
    if (isErr(r)) {
      ret = r;
    } else {
      // The creation reference is the surface's.
      res.guestMemoryBo = toggleEnabled(VMWGFX_SURFACE_BO_TTM_REF_ONLY.name)
        ? await surfaceTakeBo(r.bo)
        : r.bo;
      backupHandle = r.handle;
    }
  }
  if (ret !== 0) {
    await vmwResourceUnreference(res);
    return ret;
  }

  const tmp = await vmwResourceReference(res);
  ret = await ttmPrimeObjectInit(
    tfile,
    res.guestMemorySize,
    srf,
    VMW_RES_SURFACE,
    vmwUserSurfaceBaseRelease,
  );
  if (ret !== 0) {
    await vmwResourceUnreference(tmp);
    await vmwResourceUnreference(res);
    return ret;
  }
  // The handle is public from here on; our resource reference keeps res and its buffer.
  await point(`rep->handle = ${srf.name}.handle`);
  req.handle = srf.handle;
  req.backup_size = res.guestMemorySize;
  const bo = res.guestMemoryBo as VmwBo | null;
  if (bo) {
    bo.checkAccess("drm_vma_node_offset_addr");
    req.buffer_map_handle = drmVmaNodeOffsetAddr(bo.vmaNode);
    req.buffer_size = bo.size;
    req.rep_buffer_handle = backupHandle;
  } else {
    req.buffer_map_handle = 0;
    req.buffer_size = 0;
    req.rep_buffer_handle = SVGA3D_INVALID_ID;
  }
  await vmwResourceUnreference(res);
  return 0;
}

/**
 * The reference a surface keeps on a user buffer given with a GEM reference: that GEM reference
 * (fixed), or, with toggle `vmwgfx.surface-bo-ttm-ref-only`, a TTM reference (vmw_bo_reference())
 * while the GEM one is dropped: the GEM object then dies with the user's last handle.
 */
async function surfaceTakeBo(bo: VmwBo): Promise<VmwBo> {
  if (!toggleEnabled(VMWGFX_SURFACE_BO_TTM_REF_ONLY.name)) return bo;
  await vmwBoReference(bo);
  await vmwUserBoUnref(bo);
  return bo;
}

/**
 * Models vmw_surface_handle_reference(): the base object of a surface handle (or, for
 * DRM_VMW_HANDLE_PRIME, of a dma-buf fd: imported first), with a reference, opened in the
 * caller's file. -EINVAL if no such surface; -EACCES for an unauthenticated primary client; a
 * render client (or a primary client of another master) may only open a surface it already has
 * a ref object for (-EPERM otherwise: render clients share surfaces through PRIME).
 * Locking: RCU (lookup for ref), the file's lock. References: one base reference for the caller
 * and, on success, one more open in `tfile`.
 */
export async function vmwSurfaceHandleReference(
  vmw: VmwSurfaceDevice,
  file: DrmFile,
  tfile: TtmObjectFile,
  uHandle: number,
  handleType: number,
): Promise<TtmBaseObject | number> {
  let handle: number;
  if (handleType === DRM_VMW_HANDLE_PRIME) {
    const h = await ttmPrimeFdToHandle(tfile, uHandle);
    if (h < 0) return h;
    handle = h;
  } else {
    handle = uHandle;
  }
  const base = await ttmBaseObjectLookupForRef(vmw.tdev, handle);
  const openIt = async (b: TtmBaseObject): Promise<number> => {
    if (ttmBaseObjectType(b) !== VMW_RES_SURFACE) return -EINVAL; // not a surface
    if (handleType === DRM_VMW_HANDLE_PRIME) return 0;
    const srf = b as VmwUserSurface;
    let requireExist = false;
    // Error out if we are unauthenticated primary
    if (drmIsPrimaryClient(file) && !file.authenticated) return -EACCES;
    // The surface creator must have the same master, or we must have opened it already.
    if (drmIsPrimaryClient(file) && srf.master !== file.master) requireExist = true;
    if (drmIsRenderClient(file)) requireExist = true;
    return ttmRefObjectAdd(tfile, b, null, requireExist);
  };
  let ret = -EINVAL; // Could not find surface to reference.
  if (base) {
    ret = await openIt(base);
    if (ret === 0) return base;
    await ttmBaseObjectUnref(base);
  }
  if (handleType === DRM_VMW_HANDLE_PRIME) await ttmRefObjectBaseUnref(tfile, handle);
  return ret;
}

/**
 * Models vmw_gb_surface_reference_internal() (DRM_VMW_GB_SURFACE_REF): opens the surface in the
 * caller's file and creates a GEM handle there for its guest memory buffer (under cmdbuf_mutex,
 * which protects res->guest_memory_bo), then replies with the creation parameters, the handles
 * and the buffer's offset and size. A surface without guest memory replies nothing and returns
 * 0 (the kernel's "Shared GB surface is missing a backup buffer" path).
 * Locking: see vmwSurfaceHandleReference(); takes cmdbuf_mutex.
 * References: the lookup's base reference is dropped; the ref object and the new GEM handle
 * stay.
 */
export async function vmwGbSurfaceReferenceIoctl(
  vmw: VmwSurfaceDevice,
  _dev: DrmDevice,
  arg: DrmVmwGbSurfaceRefArg,
  file: DrmFile,
  tfile: TtmObjectFile,
): Promise<number> {
  const base = await vmwSurfaceHandleReference(vmw, file, tfile, arg.sid >>> 0, arg.handle_type);
  if (typeof base === "number") return base;
  const srf = base as VmwUserSurface;
  const reply = async (): Promise<number> => {
    // Shared GB surface is missing a backup buffer.
    if (!srf.res.guestMemoryBo) return 0;
    await vmw.cmdbufMutex.lock(); // Protect res->guest_memory_bo
    const bo = srf.res.guestMemoryBo!;
    const backupHandle = await drmGemHandleCreate(file, bo);
    await vmw.cmdbufMutex.unlock();
    if (backupHandle < 0) return backupHandle;
    const m = srf.metadata;
    arg.svga3d_flags = m.flags;
    arg.format = m.format;
    arg.mip_levels = m.mipLevels;
    arg.drm_surface_flags = 0;
    arg.multisample_count = 0;
    arg.autogen_filter = m.autogenFilter;
    arg.array_size = 0;
    arg.buffer_handle = backupHandle;
    arg.width = m.width;
    arg.height = m.height;
    arg.depth = m.depth;
    arg.handle = srf.handle;
    arg.backup_size = srf.res.guestMemorySize;
    arg.rep_buffer_handle = backupHandle;
    arg.buffer_map_handle = drmVmaNodeOffsetAddr(bo.vmaNode);
    arg.buffer_size = bo.size;
    return 0;
  };
  const ret = await reply();
  await ttmBaseObjectUnref(base);
  return ret;
}

/**
 * Models vmw_surface_destroy_ioctl() (DRM_VMW_UNREF_SURFACE): one less open of the handle by
 * the file (ttm_ref_object_base_unref(): -EINVAL for a handle the file has not opened).
 * Locking: the file's lock. References: the ref object's.
 */
export async function vmwSurfaceDestroyIoctl(
  arg: DrmVmwSurfaceArg,
  tfile: TtmObjectFile,
): Promise<number> {
  return ttmRefObjectBaseUnref(tfile, arg.sid >>> 0);
}
