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
 * per texel but P8 (8) and R5G6B5 (16), the formats of dumb buffers (the kernel's
 * vmw_surface_get_desc() tables are not modelled).
 */

import {
  type DrmDevice,
  type DrmFile,
  type DrmMaster,
  type DrmModeCreateDumb,
  drmFileGetMaster,
  drmGemHandleCreate,
  drmGemObjectPut,
  drmIsPrimaryClient,
  drmIsRenderClient,
  drmMasterGet,
  drmMasterPut,
  drmVmaNodeOffsetAddr,
} from "@primetime/gem";
import {
  EACCES,
  EINVAL,
  type Errno,
  isErr,
  KmemCache,
  kfreeRcu,
  kmalloc,
  type Mutex,
  pageAlign,
} from "@primetime/kernel";
import { bug, point, RESOLVED, toggleEnabled, warnOn } from "@primetime/sim";
import {
  VMWGFX_BO_ACCESS_AFTER_FAILED_INIT,
  VMWGFX_DUMB_BUFFER_LEAK,
  VMWGFX_DUMB_PUT_BEFORE_LAST_USE,
  VMWGFX_HANDLE_REF_DROPPED_TOO_SOON,
  VMWGFX_INVALID_GEM_PUT,
  VMWGFX_SURFACE_BO_TTM_REF_ONLY,
  VMWGFX_SURFACE_DEFINE_EINVAL_LEAK,
  VMWGFX_SURFACE_MASTER_UNLOCKED,
} from "./toggles.js";
import {
  type TtmBaseObject,
  type TtmObjectFile,
  ttmBaseObjectLookupForRef,
  ttmBaseObjectUnref,
  ttmRefObjectAdd,
  ttmRefObjectBaseUnref,
  VMW_RES_SURFACE,
} from "./ttm-object.js";
import {
  TtmPrimeObject,
  ttmBaseObjectType,
  ttmPrimeFdToHandle,
  ttmPrimeObjectInit,
} from "./ttm-prime-object.js";
import { type VmwBo, vmwBoReference, vmwUserBoLookup, vmwUserBoUnref } from "./vmwgfx-bo.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import { vmwGemObjectCreateWithHandle } from "./vmwgfx-gem.js";
import {
  VmwResource,
  type VmwUserResourceConv,
  vmwResourceInit,
  vmwResourceReference,
  vmwResourceUnreference,
  vmwUserResourceLookupHandle,
} from "./vmwgfx-resource.js";
import {
  DRM_VMW_HANDLE_PRIME,
  type DrmVmwGbSurfaceCreateArg,
  type DrmVmwGbSurfaceRefArg,
  type DrmVmwSurfaceArg,
  drm_vmw_surface_flag_coherent,
  drm_vmw_surface_flag_create_buffer,
  drm_vmw_surface_flag_scanout,
  drm_vmw_surface_flag_shareable,
  SVGA3D_INVALID_ID,
} from "./vmwgfx-uapi.js";

/** Models DRM_VMW_MAX_MIP_LEVELS. */
export const DRM_VMW_MAX_MIP_LEVELS = 24;
/** Bytes per texel of the formats the model does not size otherwise (vmwSurfaceBytesPerTexel()). */
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
  /** Models scanout (set from drm_vmw_surface_flag_scanout by the define). */
  scanout: boolean;
  /** Models num_sizes (1 for a GB surface: vmw_gb_surface_define_internal()). */
  numSizes: number;
}

/** What the driver keeps per device for surfaces (parts of struct vmw_private). */
export interface VmwSurfaceDevice {
  /** Models dev_priv->tdev. */
  readonly tdev: import("./ttm-object.js").TtmObjectDevice;
  /** Models dev_priv->cmdbuf_mutex: protects res->guest_memory_bo. */
  readonly cmdbufMutex: Mutex;
  /** Models dev_priv->has_mob: the device has guest-backed objects (MOBs). */
  readonly hasMob: boolean;
  /** The device's SVGA3D_DEVCAP_3D, what vmw_supports_3d() reads on a MOB device. */
  readonly has3d: boolean;
}

/**
 * Models vmw_supports_3d() (vmwgfx_cmd.c) on a guest-backed device: the device's 3D
 * capability (the FIFO checks of a device without MOBs are not modeled).
 * Locking: none. References: none.
 */
export function vmwSupports3d(vmw: VmwSurfaceDevice): boolean {
  return vmw.hasMob && vmw.has3d;
}

/** Models SVGA3D_X8R8G8B8 (SVGA3dSurfaceFormat). */
export const SVGA3D_X8R8G8B8 = 1;
/** Models SVGA3D_R5G6B5. */
export const SVGA3D_R5G6B5 = 3;
/** Models SVGA3D_P8. */
export const SVGA3D_P8 = 97;
/** Models SVGA3D_SURFACE_HINT_TEXTURE (SVGA3dSurfaceAllFlags). */
export const SVGA3D_SURFACE_HINT_TEXTURE = 1 << 5;
/** Models SVGA3D_SURFACE_HINT_RENDERTARGET. */
export const SVGA3D_SURFACE_HINT_RENDERTARGET = 1 << 6;
/** Models SVGA3D_SURFACE_SCREENTARGET. */
export const SVGA3D_SURFACE_SCREENTARGET = 1 << 16;
/** Models SVGA3D_SURFACE_CUBEMAP: six faces (SVGA3D_MAX_SURFACE_FACES layers). */
export const SVGA3D_SURFACE_CUBEMAP = 1 << 0;
/** Models SVGA3D_SURFACE_BIND_STREAM_OUTPUT. */
export const SVGA3D_SURFACE_BIND_STREAM_OUTPUT = 1 << 26;
/** Models SVGA3D_MAX_SURFACE_FACES. */
export const SVGA3D_MAX_SURFACE_FACES = 6;
/** Models SVGA3D_TEX_FILTER_NONE (SVGA3dTextureFilter). */
export const SVGA3D_TEX_FILTER_NONE = 0;
/** Models sizeof(SVGA3dDXSOState) (svga3d_dx.h: four uint32, packed). */
const SVGA3D_DX_SO_STATE_SIZE = 16;
const U32_MAX = 0xffffffff;

/**
 * Bytes per texel of a format (the pitchBytesPerBlock of vmw_surface_get_desc(), blocks of one
 * texel): P8 1, R5G6B5 2, every other format 4 (the kernel's tables are not modeled).
 */
export function vmwSurfaceBytesPerTexel(format: number): number {
  if (format === SVGA3D_P8) return 1;
  if (format === SVGA3D_R5G6B5) return 2;
  return VMW_SURFACE_BYTES_PER_TEXEL;
}

/** Models clamped_umul32() (vmw_surface_cache.h): a * b, U32_MAX if it overflows. */
function clampedUmul32(a: number, b: number): number {
  const tmp = a * b;
  return Math.min(tmp, U32_MAX);
}

/**
 * Models vmw_surface_get_serialized_size_extended() (vmw_surface_cache.h) for the formats the
 * model sizes (blocks of one texel, vmwSurfaceBytesPerTexel()): for each mip level the
 * vmw_surface_get_mip_size() (each dimension `max(base >> mip, 1)`) image of `vmw_surface_
 * get_image_buffer_size()` (height * pitch * depth, clamped), summed in u32, times the layers
 * (u32), times max(1, samples) clamped to U32_MAX. No page alignment (the buffer's size is
 * aligned by vmw_bo_init(), the dma-buf's by ttm_prime_object_init()).
 * Locking: none. References: none.
 */
export function vmwSurfaceGetSerializedSizeExtended(
  format: number,
  width: number,
  height: number,
  depth: number,
  numMipLevels: number,
  numLayers: number,
  numSamples: number,
): number {
  const bpt = vmwSurfaceBytesPerTexel(format);
  let total = 0;
  for (let mip = 0; mip < numMipLevels; mip++) {
    const w = Math.max(width >>> mip, 1);
    const h = Math.max(height >>> mip, 1);
    const d = Math.max(depth >>> mip, 1);
    const pitch = (w * bpt) >>> 0; // vmw_surface_calculate_pitch(): blocks.width * pitchBytesPerBlock
    const image = clampedUmul32(clampedUmul32(h, pitch), d);
    total = (total + image) >>> 0;
  }
  const serialized = Number((BigInt(total) * BigInt(numLayers >>> 0)) & 0xffffffffn);
  return Math.min(serialized * Math.max(1, numSamples), U32_MAX);
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
    scanout: false,
    numSizes: 0,
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
  const kfreeRcuDone = kfreeRcu(srf);
  if (kfreeRcuDone !== RESOLVED) await kfreeRcuDone;
}

/**
 * Models vmw_user_surface_base_release(), the prime object's release: drops the base object's
 * resource reference (the resource, and the surface's memory, may live on while the device
 * uses it). A dumb buffer's surface never gets here since "drm/vmwgfx: Fix dumb buffer leak"
 * (vmw_dumb_create() clears the base's release): WARN_ON if it does. Toggle
 * `vmwgfx.dumb-buffer-leak`: the early return before the fix ("Dumb buffers own the resource
 * and they'll unref the resource themselves"), which no path then does.
 * Locking: none. References: drops one resource reference (none for a dumb buffer's, toggled).
 */
async function vmwUserSurfaceBaseRelease(base: TtmBaseObject): Promise<void> {
  const srf = base as VmwUserSurface;
  const res = srf.res;
  const dumb = res.guestMemoryBo?.isDumb === true;
  if (toggleEnabled(VMWGFX_DUMB_BUFFER_LEAK.name)) {
    if (dumb) return;
  } else {
    warnOn(
      dumb,
      `vmw_user_surface_base_release(${srf.name}): WARN_ON(res && res->guest_memory_bo && res->guest_memory_bo->is_dumb)`,
    );
  }
  await vmwResourceUnreference(res);
}

/**
 * Models vmw_hw_surface_destroy() on a guest-backed device (vmw_gb_surface_destroy(): under
 * cmdbuf_mutex and binding_mutex, the views destroyed, the bindings scrubbed, DESTROY_GB_SURFACE
 * sent and the id released): not modeled, surfaces have no device id here; it only makes
 * vmw_resource_release() kill the surface's context bindings first, as it does for every
 * resource with a hw_destroy.
 * Locking: none. References: none.
 */
async function vmwHwSurfaceDestroy(_res: VmwResource): Promise<void> {}

/**
 * Models vmw_gb_surface_define() for a kernel-internal surface (the screen target's proxy
 * surface of vmw_stdu_primary_plane_prepare_fb()): a vmw_user_surface that is not published
 * (no handle, no prime object, no master) with its resource, one reference, no guest memory.
 * The format and size checks are not modeled (see vmwGbSurfaceDefineIoctl()).
 * Locking: none; the surface is not visible yet. References: returns the creator's.
 */
export function vmwGbSurfaceDefine(
  vmw: VmwPrivate,
  metadata: VmwSurfaceMetadata,
): VmwUserSurface | Errno {
  const srf = kmalloc(vmwUserSurfaceCache, () => new VmwUserSurface());
  if (isErr(srf)) return srf;
  srf.metadata = { ...metadata };
  const size = vmwSurfaceGetSerializedSizeExtended(
    metadata.format,
    metadata.width,
    metadata.height,
    metadata.depth,
    metadata.mipLevels,
    1,
    1,
  );
  vmwResourceInit(srf.res, size, vmwUserSurfaceFree, vmw, "surface");
  srf.res.hwDestroy = vmwHwSurfaceDestroy;
  return srf;
}

/** Models user_surface_converter: user surfaces as resources. */
export const userSurfaceConverter: VmwUserResourceConv = {
  objectType: VMW_RES_SURFACE,
  baseObjToRes: (base) => (base as VmwUserSurface).res,
};

/**
 * Models vmw_gb_surface_define_internal() (DRM_VMW_GB_SURFACE_CREATE) with the part of
 * vmw_gb_surface_define() kept: validates the request, allocates the surface with its resource
 * (guest memory size: vmwSurfaceGetSerializedSizeExtended() over the mip levels, six layers for a
 * cubemap, plus sizeof(SVGA3dDXSOState) for BIND_STREAM_OUTPUT), attaches its guest memory (the
 * user buffer `buffer_handle`: -ESRCH if unknown, -EINVAL for a dumb buffer's ("Can't backup
 * surface with a dumb buffer", is_dumb: v6.12) or one too small; or a new buffer with a handle
 * for create_buffer), publishes the surface as a ttm prime object with a resource reference for
 * the base, and replies with the handles, sizes and the buffer's mmap offset. The dumb and
 * too-small -EINVAL exits leave the new surface and its master reference leaked, as v6.12.19 and
 * v6.18.35 do (`goto out_unlock` past vmw_resource_unreference(&res)): the known window
 * `vmwgfx.surface-define-einval-leak`, whose fix switch unreferences the resource there as the
 * other error exits do. -EINVAL for SM4,
 * SM4.1 or SM5 features, more than 24 mip levels, or an autogen filter other than
 * SVGA3D_TEX_FILTER_NONE (vmw_gb_surface_define()). vmw_gb_surface_define()'s format checks
 * (the screen-target format and texture size limits of a scanout surface, a format without a
 * block description) are not modeled.
 *
 * A primary-node creator's master is taken with drm_file_get_master() (under the file's
 * master_lookup_lock, as since 2bc5da528dd5); toggle `vmwgfx.surface-master-unlocked`:
 * drm_master_get(file_priv->master) without it, as before.
 *
 * References: the surface keeps a GEM reference to its buffer (the lookup's, or the creation
 * one); toggle `vmwgfx.surface-bo-ttm-ref-only`: a TTM one instead, as before 91398b413d03. A
 * master reference for a primary-node creator (dropped by vmw_user_surface_free()).
 * Locking: none held; takes the locks of the calls (file->master_lookup_lock for the master).
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
  if (req.mip_levels > DRM_VMW_MAX_MIP_LEVELS) return -EINVAL; // Invalid mip level.

  // vmw_gb_surface_define(): the checks (num_sizes is 1 and sizes NULL here), then the surface
  // and its resource, one resource reference.
  if (req.autogen_filter !== SVGA3D_TEX_FILTER_NONE) return -EINVAL;
  const srf = kmalloc(vmwUserSurfaceCache, () => new VmwUserSurface());
  if (isErr(srf)) return srf;
  // array_size is refused above; a cubemap has six faces.
  const numLayers = req.svga3d_flags & SVGA3D_SURFACE_CUBEMAP ? SVGA3D_MAX_SURFACE_FACES : 1;
  let size = vmwSurfaceGetSerializedSizeExtended(
    req.format,
    req.width,
    req.height,
    req.depth,
    req.mip_levels,
    numLayers,
    1,
  );
  if (req.svga3d_flags & SVGA3D_SURFACE_BIND_STREAM_OUTPUT) size += SVGA3D_DX_SO_STATE_SIZE;
  srf.metadata = {
    flags: req.svga3d_flags,
    format: req.format,
    mipLevels: req.mip_levels,
    autogenFilter: req.autogen_filter,
    width: req.width,
    height: req.height,
    depth: req.depth,
    scanout: (req.drm_surface_flags & drm_vmw_surface_flag_scanout) !== 0,
    numSizes: 1,
  };
  vmwResourceInit(srf.res, size, vmwUserSurfaceFree, dev.driverPrivate as VmwPrivate, "surface");
  srf.res.hwDestroy = vmwHwSurfaceDestroy;
  if (drmIsPrimaryClient(file)) {
    if (toggleEnabled(VMWGFX_SURFACE_MASTER_UNLOCKED.name)) {
      // Before 2bc5da528dd5: drm_master_get(file_priv->master), the pointer loaded with neither
      // master_lookup_lock nor master_mutex held.
      const master = file.master;
      if (master) srf.master = await drmMasterGet(master);
    } else srf.master = await drmFileGetMaster(file);
  }
  const res = srf.res;
  let ret = 0;
  let backupHandle = 0;

  if (req.buffer_handle !== SVGA3D_INVALID_ID) {
    const bo = await vmwUserBoLookup(file, req.buffer_handle);
    if (isErr(bo)) {
      ret = bo;
    } else if (bo.isDumb) {
      // Can't backup surface with a dumb buffer.
      await vmwUserBoUnref(bo);
      ret = -EINVAL;
      // goto out_unlock: the surface is not unreferenced (the known window, but for its fix)
      if (!toggleEnabled(VMWGFX_SURFACE_DEFINE_EINVAL_LEAK.name)) return ret;
    } else if (bo.size < res.guestMemorySize) {
      // Surface backup buffer too small.
      await vmwUserBoUnref(bo);
      ret = -EINVAL;
      // goto out_unlock: the surface is not unreferenced (the known window, but for its fix)
      if (!toggleEnabled(VMWGFX_SURFACE_DEFINE_EINVAL_LEAK.name)) return ret;
    } else {
      res.guestMemoryBo = await surfaceTakeBo(bo);
      backupHandle = req.buffer_handle;
    }
  } else if (
    req.drm_surface_flags &
    (drm_vmw_surface_flag_create_buffer | drm_vmw_surface_flag_coherent)
  ) {
    // *p_vbo is res->guest_memory_bo: the creation reference is the surface's, also when the
    // handle could not be created (the resource's release below drops it then).
    const r = await vmwGemObjectCreateWithHandle(dev, file, res.guestMemorySize);
    ret = r.ret;
    res.guestMemoryBo = r.ret === 0 && r.bo ? await surfaceTakeBo(r.bo) : r.bo;
    if (r.ret === 0) backupHandle = r.handle;
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
    vmw.cmdbufMutex.unlockNow();
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

/** vmw_fpriv(file)->tfile (vmwgfx-drv.ts owns struct vmw_fpriv). */
function tfileOfFile(file: DrmFile): TtmObjectFile {
  return (file.driverPriv as { tfile: TtmObjectFile | null }).tfile!;
}

/**
 * Models vmw_format_bpp_to_svga(): the SVGA3D format of a dumb buffer's bpp: 8 P8, 16 R5G6B5,
 * 32 X8R8G8B8 (B8G8R8X8_UNORM with an SM4 context, which the simulated device does not have);
 * any other bpp gets a warning (drm_warn(): the model keeps no kernel log; not a splat) and
 * X8R8G8B8, not an error.
 * Locking: none. References: none.
 */
export function vmwFormatBppToSvga(bpp: number): number {
  switch (bpp) {
    case 8: // DRM_FORMAT_C8
      return SVGA3D_P8;
    case 16: // DRM_FORMAT_RGB565
      return SVGA3D_R5G6B5;
    case 32: // DRM_FORMAT_XRGB8888
      return SVGA3D_X8R8G8B8;
    default: // "Unsupported format bpp"
      return SVGA3D_X8R8G8B8;
  }
}

/**
 * Whether vmw_dumb_create() takes the raw-buffer branch: v6.12's condition (no MOBs, or no 3D),
 * or a toggle of a kernel older than "drm/vmwgfx: Fix handling of dumb buffers" (d6667f0ddf46,
 * v6.11): those kernels' dumb buffers were raw buffers on every device, so with such a toggle on
 * the dumb path is theirs.
 */
function vmwDumbCreateIsRaw(vmw: VmwSurfaceDevice): boolean {
  if (!vmw.hasMob || !vmwSupports3d(vmw)) return true;
  return PRE_SURFACE_DUMB_TOGGLES.some((t) => toggleEnabled(t.name));
}

/** The toggles of kernels before d6667f0ddf46 (all fixed in 2023). */
const PRE_SURFACE_DUMB_TOGGLES = [
  VMWGFX_HANDLE_REF_DROPPED_TOO_SOON,
  VMWGFX_BO_ACCESS_AFTER_FAILED_INIT,
  VMWGFX_INVALID_GEM_PUT,
  VMWGFX_SURFACE_BO_TTM_REF_ONLY,
];

/**
 * Models vmw_dumb_create() of v6.12.y (vmwgfx_surface.c, with the stable backport of
 * "drm/vmwgfx: Fix dumb buffer leak", f42c09e614f1, in 6.12.34). The format comes first
 * (vmwFormatBppToSvga()), then the branch:
 *
 * - Raw buffer (`!has_mob || !vmw_supports_3d()`, a device configured without 3D; or a toggle
 *   of an older kernel, see vmwDumbCreateIsRaw()): cpp = DIV_ROUND_UP(bpp, 8), -EINVAL unless
 *   cpp is 1, 2 or 4 ("Dumb buffers don't allow anything else. This is tested via IGT's
 *   dumb_buffers"; nothing written or allocated), pitch = width * cpp, size = ALIGN(pitch *
 *   height, PAGE_SIZE); a buffer with a handle, then the creation reference is dropped.
 * - Surface (the simulated device: MOBs and 3D): a GB surface of that format, one mip level,
 *   width x height x 1, flags HINT_TEXTURE | HINT_RENDERTARGET | SCREENTARGET (no BIND flags: no
 *   DX screen-target format without SM4), drm flags scanout | shareable | create_buffer |
 *   coherent, no user buffer, defined through vmwGbSurfaceDefineIoctl() (its error is returned);
 *   handle = the reply's buffer handle, size = the reply's buffer size, pitch =
 *   vmw_surface_calculate_pitch() (width * bytes per texel); then the surface is looked up by its
 *   handle (vmw_user_resource_lookup_handle(), -EINVAL if gone), its buffer marked is_dumb with
 *   dumb_surface = the surface, the buffer's GEM reference from the define dropped (the handle
 *   holds the buffer, the buffer holds the surface's resource: vmwBoRelease()), the base
 *   object's release cleared, the lookup's resource reference dropped and the surface's handle
 *   unreferenced in the file (always, so no surface handle stays open).
 *
 * Known upstream window `vmwgfx.dumb-put-before-last-use` (KNOWN-WINDOWS.md), modeled as the
 * kernel has it: the buffer's GEM reference is dropped right after setting dumb_surface, before
 * vbo->dumb_surface is read, the lookup's resource reference dropped and the surface's handle
 * unreferenced; the buffer's GEM handle is public since the define, so a thread closing the
 * guessed handle makes that put free the buffer (and drop the surface's resource reference)
 * under vmw_dumb_create()'s feet (KASAN use-after-free of the buffer, or of the surface at the
 * base unref). Its fix switch (on in clean baselines, `baselineFixes()`) applies the proposed
 * fix: the put after ttm_ref_object_base_unref(), the last use.
 *
 * Toggle `vmwgfx.dumb-buffer-leak` puts back v6.12 before the backport: no GEM put, the release
 * kept, ttm_ref_object_base_unref() only on error (with the early return of
 * vmwUserSurfaceBaseRelease()): buffer and surface leak.
 *
 * Not modeled of the surface branch: the coherent memory's dirty tracking (ttm_bo_reserve(),
 * vmw_bo_dirty_add(), dirty_alloc: a coherent surface is a plain one here), the scanout checks
 * and SCREENTARGET handling of vmw_gb_surface_define() (screen-target format, texture and STDU
 * size limits), vmw_bo_add_detached_resource(), and the drm_warn()/drm_err() messages. The
 * kernel computes in u32; through MODE_CREATE_DUMB nothing wraps (drm_mode_create_dumb() bounds
 * width * cpp, height * stride and PAGE_ALIGN(size) by U32_MAX). No size check of its own: a
 * zero size (a direct call only) is the 0-page mmap offset's -ENOSPC on the raw branch.
 *
 * Locking: none held; takes the locks of the calls. References: the handle keeps the buffer
 * (and, on the surface branch, the buffer its surface).
 */
export async function vmwDumbCreate(
  file: DrmFile,
  dev: DrmDevice,
  args: DrmModeCreateDumb,
): Promise<number> {
  const vmw = dev.driverPrivate as VmwSurfaceDevice;
  const tfile = tfileOfFile(file);
  const format = vmwFormatBppToSvga(args.bpp);
  const bytesPerTexel = vmwSurfaceBytesPerTexel(format); // vmw_surface_get_desc(format)
  const flags =
    SVGA3D_SURFACE_HINT_TEXTURE | SVGA3D_SURFACE_HINT_RENDERTARGET | SVGA3D_SURFACE_SCREENTARGET;

  // Without mob support (or 3D) a raw memory buffer: no surface coherency to support.
  if (vmwDumbCreateIsRaw(vmw)) {
    const cpp = Math.ceil(args.bpp / 8);
    switch (cpp) {
      case 1: // DRM_FORMAT_C8
      case 2: // DRM_FORMAT_RGB565
      case 4: // DRM_FORMAT_XRGB8888
        break;
      default:
        // Dumb buffers don't allow anything else. This is tested via IGT's dumb_buffers
        return -EINVAL;
    }
    args.pitch = args.width * cpp;
    args.size = pageAlign(args.pitch * args.height);
    const r = await vmwGemObjectCreateWithHandle(dev, file, args.size);
    if (r.ret === 0) args.handle = r.handle;
    // drop reference from allocate - handle holds it now (unconditionally: also on an error,
    // drm_gem_object_put() of a NULL vbo doing nothing)
    if (!toggleEnabled(VMWGFX_HANDLE_REF_DROPPED_TOO_SOON.name) && r.bo)
      await drmGemObjectPut(r.bo);
    return r.ret;
  }

  const arg: DrmVmwGbSurfaceCreateArg = {
    svga3d_flags: flags,
    format,
    mip_levels: 1,
    drm_surface_flags:
      drm_vmw_surface_flag_scanout |
      drm_vmw_surface_flag_shareable |
      drm_vmw_surface_flag_create_buffer |
      drm_vmw_surface_flag_coherent,
    multisample_count: 0,
    autogen_filter: 0,
    buffer_handle: SVGA3D_INVALID_ID,
    array_size: 0,
    width: args.width,
    height: args.height,
    depth: 1,
    handle: 0,
    backup_size: 0,
    rep_buffer_handle: 0,
    buffer_size: 0,
    buffer_map_handle: 0,
  };
  let ret = await vmwGbSurfaceDefineIoctl(vmw, dev, arg, file, tfile);
  if (ret !== 0) return ret; // "Unable to create a dumb buffer"

  args.handle = arg.rep_buffer_handle;
  args.size = arg.buffer_size;
  args.pitch = args.width * bytesPerTexel; // vmw_surface_calculate_pitch(desc, &drm_size)

  const leak = toggleEnabled(VMWGFX_DUMB_BUFFER_LEAK.name);
  // The known window's fix switch: the GEM put after the last use of the buffer.
  const putLast = !leak && toggleEnabled(VMWGFX_DUMB_PUT_BEFORE_LAST_USE.name);
  let vbo: VmwBo | null = null;
  const res = await vmwUserResourceLookupHandle(tfile, arg.handle, userSurfaceConverter);
  if (typeof res === "number") {
    ret = res; // "Created resource handle doesn't exist!"
  } else {
    vbo = res.guestMemoryBo as VmwBo;
    await point(`vbo->is_dumb = true (${vbo.name})`);
    vbo.checkAccess("vmw_dumb_create");
    vbo.isDumb = true;
    vbo.dumbSurface = res.owner as VmwUserSurface;
    if (!leak) {
      // The kernel drops the define's GEM reference here (the known window); the fix, last.
      if (!putLast) await drmGemObjectPut(vbo);
      // The surface is owned through the dumb buffer's GEM handle: no base release.
      await point("usurf->prime.base.refcount_release = NULL");
      vbo.checkAccess("vmw_dumb_create"); // container_of(vbo->dumb_surface, ...)
      const usurf = vbo.dumbSurface as VmwUserSurface | null;
      if (usurf === null)
        bug(
          "BUG: unable to handle page fault in vmw_dumb_create (usurf->prime.base.refcount_release = NULL: container_of() of the dumb_surface vmw_bo_release() cleared)",
        );
      usurf!.refcountRelease = null;
    }
    await vmwResourceUnreference(res);
  }
  if (!leak || ret !== 0) await ttmRefObjectBaseUnref(tfile, arg.handle);
  if (vbo && putLast) await drmGemObjectPut(vbo);
  return ret;
}
