/**
 * The vmwgfx driver (drivers/gpu/drm/vmwgfx/vmwgfx_drv.c): VMware's SVGA device as a DRM
 * driver, reduced to what concerns object lifetimes: buffer objects with GEM handles (ALLOC_BO,
 * HANDLE_CLOSE, SYNCCPU, dumb buffers), guest-backed surfaces with their own handles in the
 * driver's ttm object device (GB_SURFACE_CREATE / _REF, UNREF_SURFACE), PRIME for both
 * (vmwgfx-prime.ts), and per-file ttm object files.
 *
 * Per file (vmw_driver_open()): a ttm object file holding the file's surface ref objects; at
 * close (vmw_postclose(), after the DRM core released the GEM handles) every ref object is
 * released. Per device: the ttm object device (the surface idr), freed with the device.
 *
 * Faithfulness: Linux v6.12 (VMWGFX_DRIVER_MAJOR 2, MINOR 20). KMS only as far as ADDFB2's
 * framebuffers over buffers and surfaces (vmwgfx-kms.ts: vmw_kms_fb_create(); no display units,
 * CRTCs, planes or scanout), no FIFO, the command buffer manager only for a device command error
 * (vmwgfx-cmdbuf.ts; no hangcheck or reset: Linux has none), no contexts, shaders or streams:
 * their table entries are holes (-EINVAL). The fence ioctls FENCE_WAIT, FENCE_SIGNALED,
 * FENCE_UNREF and FENCE_EVENT are vmwgfx-fence.ts's (the DRM fd's events are the DRM core's
 * drm_read()/drm_poll()). vmwgfx's drm_ioctl wrapper (vmw_generic_ioctl(), the file's ->unlocked_ioctl)
 * refuses a driver ioctl whose command differs from the table's (size or direction) with
 * -EINVAL, EXECBUF excepted, before drm_ioctl() runs.
 */

import { dmaFencePut, dmaFenceWait, syncFileGetFence } from "@primetime/dma-buf";
import {
  DRIVER_ATOMIC,
  DRIVER_CURSOR_HOTSPOT,
  DRIVER_GEM,
  DRIVER_MODESET,
  DRIVER_RENDER,
  DRM_COMMAND_BASE,
  DRM_COMMAND_END,
  DRM_CORE_IOCTL_COUNT,
  DRM_IO,
  DRM_IOCTL_NR,
  DRM_RENDER_ALLOW,
  type DrmDevice,
  type DrmDriver,
  type DrmFile,
  type DrmIoctlDesc,
  type DrmKernel,
  drmDevAlloc,
  drmDevPut,
  drmDevRegister,
  drmDevUnregister,
  drmIoctl,
  drmIoctlDef,
} from "@primetime/gem";
import {
  EINVAL,
  ENOMEM,
  type File,
  type IoctlArg,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  Mutex,
  SlabObject,
  type SpinLock,
} from "@primetime/kernel";
import { point, RESOLVED } from "@primetime/sim";
import { SimGpu, SystemMemory } from "@primetime/simgpu";
import {
  type SimgpuFenceDriver,
  simgpuFenceDriverInit,
  TTM_PL_VRAM,
  TtmDevice,
  ttmDeviceFini,
  ttmDeviceInit,
  ttmManagerType,
  ttmRangeManFini,
  ttmRangeManInit,
  ttmResourceManagerSetUsed,
  VramDrmMm,
} from "@primetime/ttm";
import {
  type TtmObjectDevice,
  type TtmObjectFile,
  ttmObjectDeviceInit,
  ttmObjectDeviceRelease,
  ttmObjectFileInit,
  ttmObjectFileRelease,
  VMWGFX_NUM_MOB,
} from "./ttm-object.js";
import { ttmPrimeDmabufRelease } from "./ttm-prime-object.js";
import { vmwBoUnrefIoctl, vmwUserBoSynccpuIoctl } from "./vmwgfx-bo.js";
import {
  type VmwCmdbufMan,
  vmwCmdbufManCreate,
  vmwCmdbufManDestroy,
  vmwThreadFnCmdbuf,
} from "./vmwgfx-cmdbuf.js";
import {
  vmwContextDefineIoctl,
  vmwContextDestroyIoctl,
  vmwExtendedContextDefineIoctl,
} from "./vmwgfx-context.js";
import { type VmwCursorHw, vmwCursorHwInit, vmwDuCursorPlaneDestroy } from "./vmwgfx-cursor.js";
import {
  vmwExecbufCopyFenceUser,
  vmwExecbufFenceCommands,
  vmwExecbufIoctl,
} from "./vmwgfx-execbuf.js";
import {
  type VmwFenceManager,
  vmwFenceEventIoctl,
  vmwFenceFifoDown,
  vmwFenceManagerInit,
  vmwFenceManagerTakedown,
  vmwFenceObjSignaledIoctl,
  vmwFenceObjUnrefIoctl,
  vmwFenceObjWaitIoctl,
} from "./vmwgfx-fence.js";
import { vmwDumbMapOffset, vmwGemObjectCreateIoctl, vmwPrimeImportSgTable } from "./vmwgfx-gem.js";
import {
  VMW_PL_GMR,
  VMW_PL_MOB,
  type VmwGmridLimits,
  vmwGmridManFini,
  vmwGmridManInit,
} from "./vmwgfx-gmrid-manager.js";
import { type VmwDisplayUnitType, vmwKmsInit } from "./vmwgfx-kms.js";
import { vmwPrimeDmabufOps, vmwPrimeFdToHandle, vmwPrimeHandleToFd } from "./vmwgfx-prime.js";
import { type VmwScreenTargetDisplayUnit, vmwKmsStduInitDisplay } from "./vmwgfx-stdu.js";
import {
  vmwDumbCreate,
  vmwGbSurfaceDefineIoctl,
  vmwGbSurfaceReferenceIoctl,
  vmwSurfaceDestroyIoctl,
} from "./vmwgfx-surface.js";
import { vmwBoDriver } from "./vmwgfx-ttm-buffer.js";
import {
  DRM_IOCTL_VMW_ALLOC_BO,
  DRM_IOCTL_VMW_CREATE_CONTEXT,
  DRM_IOCTL_VMW_CREATE_EXTENDED_CONTEXT,
  DRM_IOCTL_VMW_EXECBUF,
  DRM_IOCTL_VMW_FENCE_EVENT,
  DRM_IOCTL_VMW_FENCE_SIGNALED,
  DRM_IOCTL_VMW_FENCE_UNREF,
  DRM_IOCTL_VMW_FENCE_WAIT,
  DRM_IOCTL_VMW_GB_SURFACE_CREATE,
  DRM_IOCTL_VMW_GB_SURFACE_REF,
  DRM_IOCTL_VMW_HANDLE_CLOSE,
  DRM_IOCTL_VMW_SYNCCPU,
  DRM_IOCTL_VMW_UNREF_CONTEXT,
  DRM_IOCTL_VMW_UNREF_SURFACE,
  DRM_VMW_ALLOC_BO,
  DRM_VMW_ALLOC_BO_LAYOUT,
  DRM_VMW_CONTEXT_ARG_LAYOUT,
  DRM_VMW_CREATE_CONTEXT,
  DRM_VMW_CREATE_EXTENDED_CONTEXT,
  DRM_VMW_EXECBUF,
  DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD,
  DRM_VMW_EXECBUF_LAYOUT,
  DRM_VMW_EXECBUF_VERSION,
  DRM_VMW_EXTENDED_CONTEXT_ARG_LAYOUT,
  DRM_VMW_FENCE_ARG_LAYOUT,
  DRM_VMW_FENCE_EVENT,
  DRM_VMW_FENCE_EVENT_LAYOUT,
  DRM_VMW_FENCE_SIGNALED,
  DRM_VMW_FENCE_SIGNALED_LAYOUT,
  DRM_VMW_FENCE_UNREF,
  DRM_VMW_FENCE_WAIT,
  DRM_VMW_FENCE_WAIT_LAYOUT,
  DRM_VMW_GB_SURFACE_CREATE,
  DRM_VMW_GB_SURFACE_CREATE_LAYOUT,
  DRM_VMW_GB_SURFACE_REF,
  DRM_VMW_GB_SURFACE_REF_LAYOUT,
  DRM_VMW_HANDLE_CLOSE,
  DRM_VMW_HANDLE_CLOSE_LAYOUT,
  DRM_VMW_NUM_IOCTLS,
  DRM_VMW_SURFACE_ARG_LAYOUT,
  DRM_VMW_SYNCCPU,
  DRM_VMW_SYNCCPU_LAYOUT,
  DRM_VMW_UNREF_CONTEXT,
  DRM_VMW_UNREF_SURFACE,
  type DrmVmwContextArg,
  type DrmVmwExecbufArg,
  type DrmVmwExtendedContextArg,
  type DrmVmwFenceArg,
  type DrmVmwFenceEventArg,
  type DrmVmwFenceSignaledArg,
  type DrmVmwFenceWaitArg,
  type DrmVmwGbSurfaceCreateArg,
  type DrmVmwGbSurfaceRefArg,
  type DrmVmwSurfaceArg,
} from "./vmwgfx-uapi.js";

/** Models VMWGFX_DRIVER_NAME. */
export const VMWGFX_DRIVER_NAME = "vmwgfx";
/** Models VMWGFX_DRIVER_DESC. */
export const VMWGFX_DRIVER_DESC = "Linux drm driver for VMware graphics devices";

/** The slab caches of the per-device and per-file private structures. */
export const vmwPrivateCache = new KmemCache("vmw_private");
export const vmwFprivCache = new KmemCache("vmw_fpriv");

/**
 * Models struct vmw_private (the parts kept).
 * Locking: `cmdbufMutex` protects surfaces' guest_memory_bo. References: owns `tdev`.
 */
export class VmwPrivate extends SlabObject {
  /** Models drm: the DRM device (embedded in the kernel's vmw_private). */
  drm!: DrmDevice;
  /** Models tdev. */
  tdev!: TtmObjectDevice;
  /** Models bdev: the TTM device of the buffer objects. */
  bdev!: TtmDevice;
  /** The simulated SVGA device (its engine runs EXECBUF's commands). */
  gpu!: SimGpu;
  /**
   * The device's fence driver (GPU seqnos as dma_fences): vmw_cmd_send_fence()'s submission, the
   * fence register's interrupt, and the fences of TTM moves and of submissions without a fence
   * object (vmwgfx-execbuf.ts). Without a hangcheck: vmwgfx never resets the SVGA device.
   */
  fences!: SimgpuFenceDriver;
  /** Models cman: the command-buffer manager, which restarts past a device command error. */
  cman!: VmwCmdbufMan;
  /** Models fman: the fence manager of the vmw fence objects (vmwgfx-fence.ts). */
  fman!: VmwFenceManager;
  /** Models last_read_seqno (updated by vmw_update_seqno()). */
  lastReadSeqno = 0;
  /**
   * The driver's DRM_ERROR() lines (printk at KERN_ERR), oldest first: plain log lines, not splats
   * (as qxl keeps its own): vmw_fallback_wait()'s "SVGA device lockup.".
   */
  readonly drmErrors: string[] = [];
  /**
   * Whether a vmw fence object was ever made: the model runs vmw_fence_fifo_down() at teardown
   * only then, to keep the teardown steps of devices that never made one.
   */
  fenceObjectsCreated = false;
  /** Models cmdbuf_mutex. */
  readonly cmdbufMutex: Mutex;
  /** Models has_mob: guest-backed objects (every surface here is guest-backed). */
  readonly hasMob = true;
  /** Models has_gmr: the GMR memory type is set up (the device has SVGA_CAP_GMR2). */
  hasGmr = true;
  /** The device's memory sizes (vram_size, max_gmr_ids/pages, max_mob_pages: vmwgfxMemory()). */
  memory: VmwgfxMemory = VMWGFX_DEFAULT_MEMORY;
  /** The device's 3D capability (SVGA3D_DEVCAP_3D), what vmw_supports_3d() answers. */
  has3d = true;
  /**
   * Models texture_max_width / texture_max_height: read from the device (SVGA3D_DEVCAP_MAX_TEXTURE_*)
   * on a guest-backed device; the simulated device answers 8192, the kernel's value without it.
   */
  readonly textureMaxWidth = 8192;
  readonly textureMaxHeight = 8192;
  /**
   * Models active_display_unit: a guest-backed device's is the screen target unit
   * (vmw_kms_stdu_init_display(); its display units are registered with the `displayUnits`
   * option, vmwgfx-stdu.ts).
   */
  readonly activeDisplayUnit: VmwDisplayUnitType = "screen_target";
  /** The screen-target display units (the CRTCs' containers), in unit order. */
  readonly stdus: VmwScreenTargetDisplayUnit[] = [];
  /**
   * Models cursor_lock: protects the cursor registers (vmw_cursor_update_position()); made with
   * the display units (vmw_kms_stdu_init_display()), the only users.
   */
  cursorLock: SpinLock | null = null;
  /** The device's cursor: what the cursor registers and commands set (vmwgfx-cursor.ts). */
  readonly cursorHw: VmwCursorHw = vmwCursorHwInit();

  constructor() {
    super(vmwPrivateCache);
    this.cmdbufMutex = new Mutex("vmw_private.cmdbuf_mutex", { owner: this });
  }
}

/**
 * Models struct vmw_fpriv.
 * Locking: none; set at open, cleared at postclose. References: owns `tfile`'s initial one.
 */
export class VmwFpriv extends SlabObject {
  /** Models tfile. */
  tfile: TtmObjectFile | null = null;

  constructor() {
    super(vmwFprivCache);
  }
}

/** The DRM_ERROR() lines the device's driver printed, oldest first. */
export function vmwDrmErrors(vmw: VmwPrivate): readonly string[] {
  return vmw.drmErrors;
}

/** Models vmw_priv(dev). */
export function vmwPriv(dev: DrmDevice): VmwPrivate {
  return dev.driverPrivate as VmwPrivate;
}

/** Models vmw_fpriv(file_priv). */
export function vmwFpriv(file: DrmFile): VmwFpriv {
  return file.driverPriv as VmwFpriv;
}

/** vmw_fpriv(file)->tfile. */
function tfileOf(file: DrmFile): TtmObjectFile {
  return vmwFpriv(file).tfile!;
}

/**
 * Models vmw_driver_open(): the file's ttm object file. -ENOMEM.
 * Locking: none. References: the file owns the object file.
 */
async function vmwDriverOpen(dev: DrmDevice, file: DrmFile): Promise<number> {
  await point("vmw_driver_open");
  const fp = kmalloc(vmwFprivCache, () => new VmwFpriv());
  if (isErr(fp)) return -ENOMEM;
  const tfile = ttmObjectFileInit(vmwPriv(dev).tdev);
  if (isErr(tfile)) {
    kfree(fp);
    return -ENOMEM;
  }
  fp.tfile = tfile;
  file.driverPriv = fp;
  return 0;
}

/**
 * Models vmw_postclose(): releases every surface ref object of the file (its GEM handles are
 * already gone) and frees the file's private data.
 * Locking: none held. References: drops the ref objects' base references.
 */
async function vmwPostclose(_dev: DrmDevice, file: DrmFile): Promise<void> {
  const fp = vmwFpriv(file);
  const tfile = fp.tfile!;
  fp.tfile = null;
  await ttmObjectFileRelease(tfile);
  kfree(fp);
  file.driverPriv = undefined;
}

/**
 * Models the end of vmw_driver_unload() / the devres release: vmw_fence_fifo_down() (each listed
 * fence waited VMW_FENCE_WAIT_TIMEOUT, then signalled without an error if the device never got
 * there), ttm_device_fini(), vmw_cmdbuf_man_destroy() (vmw_cmdbuf_idle() for at most 10 s), the
 * fence manager's takedown, the ttm object device (WARN if surfaces are left) and the private
 * structure. A device stalled for good delays the unload by those timeouts and no more. The
 * model's order is kept from before: fifo_down runs before ttm_device_fini(), which the kernel's
 * vmw_driver_unload() runs first.
 * Locking: none; the device's last reference is gone. References: consumes both.
 */
async function vmwDriverRelease(dev: DrmDevice): Promise<void> {
  const vmw = vmwPriv(dev);
  // vmw_kms_close() -> drm_mode_config_cleanup(): of the planes' ->destroy, only the cursor
  // planes' vmw_du_cursor_plane_destroy() does anything the model keeps (its cached MOBs).
  for (const stdu of vmw.stdus) await vmwDuCursorPlaneDestroy(stdu.cursor);
  // vmw_fence_fifo_down(): each fence waited VMW_FENCE_WAIT_TIMEOUT, then signalled anyway.
  if (vmw.fenceObjectsCreated) await vmwFenceFifoDown(vmw.fman);
  // vmw_driver_unload(): the GMR manager, the MOB manager, the VRAM manager (each evicting what
  // is left), then ttm_device_fini().
  if (vmw.hasGmr) await vmwGmridManFini(vmw.bdev, VMW_PL_GMR);
  if (vmw.hasMob) await vmwGmridManFini(vmw.bdev, VMW_PL_MOB);
  await vmwVramManagerFini(vmw);
  await ttmDeviceFini(vmw.bdev);
  // vmw_cmdbuf_idle(man, false, 10*HZ): the device is given 10 s to finish what was submitted.
  await vmwCmdbufManDestroy(vmw.cman);
  // The device fence driver is the model's (no kernel counterpart): what a stalled device left
  // pending is signalled without an error, as vmw_fence_fifo_down() signalled the vmw fences.
  await vmw.fences.fini({ waitNs: 0 });
  await vmwFenceManagerTakedown(vmw.fman);
  await ttmObjectDeviceRelease(vmw.tdev);
  kfree(vmw);
}

/** Pages of guest memory the simulated device reaches (its system memory pool). */
export const VMWGFX_GUEST_PAGES = 2048;

/**
 * The memory the SVGA device and the guest give the driver (vmw_driver_load()'s reads), in
 * pages, scaled down as the simulated device is: `vramPages` (SVGA_REG_VRAM_SIZE: the TTM_PL_VRAM
 * range manager, over the simulated device's VRAM), `maxGmrIds` and `maxGmrPages`
 * (SVGA_REG_GMR_MAX_IDS, SVGA_REG_GMRS_MAX_PAGES: the VMW_PL_GMR manager), `maxMobPages` (the
 * suggested guest-backed object memory, SVGA_REG_SUGGESTED_GBOBJECT_MEM_SIZE_KB: the VMW_PL_MOB
 * manager, whose ids are VMWGFX_NUM_MOB), and `totalramPages`, the guest's RAM as
 * totalram_pages() reports it to the GMR/MOB managers' soft limit (half of it bounds their
 * growth; it is a number of the configuration, not the size of the page pool the simulated
 * device's buffers are populated from, VMWGFX_GUEST_PAGES).
 */
export interface VmwgfxMemory {
  readonly vramPages: number;
  readonly maxGmrIds: number;
  readonly maxGmrPages: number;
  readonly maxMobPages: number;
  readonly totalramPages: number;
}

/** The default device: memory no workload of the harnesses fills (VRAM: the device's 16 pages). */
export const VMWGFX_DEFAULT_MEMORY: VmwgfxMemory = {
  vramPages: 16,
  maxGmrIds: 64,
  maxGmrPages: VMWGFX_GUEST_PAGES,
  maxMobPages: VMWGFX_GUEST_PAGES / 2,
  totalramPages: VMWGFX_GUEST_PAGES,
};

/**
 * Models vmw_vram_manager_init(): a range manager of `vram_size` pages over the device's VRAM,
 * not in use until SVGA mode is enabled (__vmw_svga_enable(), which only the legacy and screen
 * object display units call: a guest-backed device's screen targets never do, so TTM skips the
 * VRAM places of a placement on this device).
 * Locking: none (device set-up). References: the device owns the manager.
 */
function vmwVramManagerInit(vmw: VmwPrivate): number {
  const pages = vmw.memory.vramPages;
  const ret = ttmRangeManInit(
    vmw.bdev,
    TTM_PL_VRAM,
    false,
    pages,
    new VramDrmMm(vmw.gpu.vram, 0, pages),
  );
  ttmResourceManagerSetUsed(ttmManagerType(vmw.bdev, TTM_PL_VRAM)!, false);
  return ret;
}

/**
 * Models vmw_vram_manager_fini(): ttm_range_man_fini().
 * Locking: none held; may sleep. References: the device drops the manager.
 */
async function vmwVramManagerFini(vmw: VmwPrivate): Promise<void> {
  await ttmRangeManFini(vmw.bdev, TTM_PL_VRAM);
}

/**
 * What vmw_gmrid_man_init() takes from struct vmw_private for `type`: max_gmr_ids and
 * max_gmr_pages for GMRs, VMWGFX_NUM_MOB ids and max_mob_pages for MOBs.
 */
function vmwGmridLimits(vmw: VmwPrivate, type: number): VmwGmridLimits {
  const m = vmw.memory;
  return type === VMW_PL_GMR
    ? { maxIds: m.maxGmrIds, maxPages: m.maxGmrPages, totalramPages: m.totalramPages }
    : { maxIds: VMWGFX_NUM_MOB, maxPages: m.maxMobPages, totalramPages: m.totalramPages };
}

/** A hole of the ioctl table: an entry without a handler (-EINVAL). */
function hole(nr: number): DrmIoctlDesc {
  return drmIoctlDef(DRM_IO(DRM_COMMAND_BASE + nr), null, 0, null, `VMW_${nr}`);
}

/**
 * Models vmw_execbuf_ioctl() (vmwgfx_execbuf.c), the DRM_VMW_EXECBUF entry: -EINVAL for a
 * version 0 or above DRM_VMW_EXECBUF_VERSION (versions 1 and 2 run: a version 1 request gets
 * context_handle = -1); with DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD, the fence of the sync_file at
 * `imported_fence_fd` (sync_file_get_fence(): -EINVAL for an fd that is not one) is waited for,
 * interruptibly (-ERESTARTSYS), before vmw_execbuf_process() runs, and put at the end. Flags the
 * kernel does not know are ignored, as there.
 * Locking: none held; the import waits without locks. References: a temporary one on the
 * imported fence; see vmwExecbufIoctl().
 */
function vmwExecbufIoctlEntry(
  dev: DrmDevice,
  arg: DrmVmwExecbufArg,
  file: DrmFile,
): Promise<number> {
  // Incorrect execbuf version.
  if (arg.version > DRM_VMW_EXECBUF_VERSION || arg.version === 0) return Promise.resolve(-EINVAL);
  if (arg.version === 1) arg.context_handle = 0xffffffff;
  // If imported a fence FD from elsewhere, then wait on it
  if (arg.flags & DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD) return vmwExecbufImported(dev, arg, file);
  return vmwExecbufIoctl(vmwPriv(dev), dev, arg, file, tfileOf(file));
}

/**
 * vmw_execbuf_ioctl() with DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD: sync_file_get_fence() (-EINVAL),
 * dma_fence_wait(in_fence, true) (its error), vmw_execbuf_process(), dma_fence_put().
 * Locking: none held. References: a temporary one on the imported fence.
 */
async function vmwExecbufImported(
  dev: DrmDevice,
  arg: DrmVmwExecbufArg,
  file: DrmFile,
): Promise<number> {
  const inFence = await syncFileGetFence(arg.imported_fence_fd ?? -1);
  if (!inFence) return -EINVAL; // "Cannot get imported fence"
  let ret = await dmaFenceWait(inFence, true);
  if (ret === 0) ret = await vmwExecbufIoctl(vmwPriv(dev), dev, arg, file, tfileOf(file));
  // out:
  const dmaFencePutDone = dmaFencePut(inFence);
  if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  return ret;
}

/**
 * The DRM_VMW_FENCE_EVENT entry: vmw_fence_event_ioctl() (vmwgfx-fence.ts) with the execbuf
 * helpers it calls: vmw_execbuf_fence_commands() for a new fence (vmw_cmd_send_fence(): a
 * fence-only batch on the device, whose seqno the new fence carries; a failed submission is the
 * ioctl's error here, where the kernel goes on with a fallback wait), and
 * vmw_execbuf_copy_fence_user() (no fence fd).
 * Locking: none held. References: see vmwFenceEventIoctl().
 */
function vmwFenceEventIoctlEntry(
  dev: DrmDevice,
  arg: DrmVmwFenceEventArg,
  file: DrmFile,
): Promise<number> {
  const vmw = vmwPriv(dev);
  const tfile = tfileOf(file);
  return vmwFenceEventIoctl(file, tfile, arg, {
    async fenceCommands(wantHandle) {
      const hw = await vmw.fences.submit([]);
      if (isErr(hw)) return { ret: hw, fence: null, handle: 0 };
      const made = await vmwExecbufFenceCommands(vmw, tfile, hw, wantHandle);
      const dmaFencePutDone2 = dmaFencePut(hw);
      if (dmaFencePutDone2 !== RESOLVED) await dmaFencePutDone2;
      return made;
    },
    copyFenceUser: (userFenceRep, fence, handle) =>
      vmwExecbufCopyFenceUser(vmw, tfile, 0, userFenceRep, fence, handle, -1, null),
  });
}

/** Models vmw_ioctls[] (the implemented entries; the others are holes). */
function vmwIoctls(): DrmIoctlDesc[] {
  const table: DrmIoctlDesc[] = [];
  for (let nr = 0; nr < DRM_VMW_NUM_IOCTLS; nr++) table.push(hole(nr));
  table[DRM_VMW_ALLOC_BO] = drmIoctlDef(
    DRM_IOCTL_VMW_ALLOC_BO,
    vmwGemObjectCreateIoctl,
    DRM_RENDER_ALLOW,
    DRM_VMW_ALLOC_BO_LAYOUT,
    "VMW_ALLOC_BO",
  );
  table[DRM_VMW_HANDLE_CLOSE] = drmIoctlDef(
    DRM_IOCTL_VMW_HANDLE_CLOSE,
    vmwBoUnrefIoctl,
    DRM_RENDER_ALLOW,
    DRM_VMW_HANDLE_CLOSE_LAYOUT,
    "VMW_HANDLE_CLOSE",
  );
  table[DRM_VMW_UNREF_SURFACE] = drmIoctlDef(
    DRM_IOCTL_VMW_UNREF_SURFACE,
    (_dev: DrmDevice, arg: DrmVmwSurfaceArg, file: DrmFile) =>
      vmwSurfaceDestroyIoctl(arg, tfileOf(file)),
    DRM_RENDER_ALLOW,
    DRM_VMW_SURFACE_ARG_LAYOUT,
    "VMW_UNREF_SURFACE",
  );
  table[DRM_VMW_EXECBUF] = drmIoctlDef(
    DRM_IOCTL_VMW_EXECBUF,
    vmwExecbufIoctlEntry,
    DRM_RENDER_ALLOW,
    DRM_VMW_EXECBUF_LAYOUT,
    "VMW_EXECBUF",
  );
  table[DRM_VMW_FENCE_WAIT] = drmIoctlDef(
    DRM_IOCTL_VMW_FENCE_WAIT,
    (_dev: DrmDevice, arg: DrmVmwFenceWaitArg, file: DrmFile) =>
      vmwFenceObjWaitIoctl(arg, tfileOf(file)),
    DRM_RENDER_ALLOW,
    DRM_VMW_FENCE_WAIT_LAYOUT,
    "VMW_FENCE_WAIT",
  );
  table[DRM_VMW_FENCE_SIGNALED] = drmIoctlDef(
    DRM_IOCTL_VMW_FENCE_SIGNALED,
    (dev: DrmDevice, arg: DrmVmwFenceSignaledArg, file: DrmFile) =>
      vmwFenceObjSignaledIoctl(vmwPriv(dev), arg, tfileOf(file)),
    DRM_RENDER_ALLOW,
    DRM_VMW_FENCE_SIGNALED_LAYOUT,
    "VMW_FENCE_SIGNALED",
  );
  table[DRM_VMW_FENCE_UNREF] = drmIoctlDef(
    DRM_IOCTL_VMW_FENCE_UNREF,
    (_dev: DrmDevice, arg: DrmVmwFenceArg, file: DrmFile) =>
      vmwFenceObjUnrefIoctl(arg, tfileOf(file)),
    DRM_RENDER_ALLOW,
    DRM_VMW_FENCE_ARG_LAYOUT,
    "VMW_FENCE_UNREF",
  );
  table[DRM_VMW_FENCE_EVENT] = drmIoctlDef(
    DRM_IOCTL_VMW_FENCE_EVENT,
    vmwFenceEventIoctlEntry,
    DRM_RENDER_ALLOW,
    DRM_VMW_FENCE_EVENT_LAYOUT,
    "VMW_FENCE_EVENT",
  );
  table[DRM_VMW_GB_SURFACE_CREATE] = drmIoctlDef(
    DRM_IOCTL_VMW_GB_SURFACE_CREATE,
    (dev: DrmDevice, arg: DrmVmwGbSurfaceCreateArg, file: DrmFile) =>
      vmwGbSurfaceDefineIoctl(vmwPriv(dev), dev, arg, file, tfileOf(file)),
    DRM_RENDER_ALLOW,
    DRM_VMW_GB_SURFACE_CREATE_LAYOUT,
    "VMW_GB_SURFACE_CREATE",
  );
  table[DRM_VMW_GB_SURFACE_REF] = drmIoctlDef(
    DRM_IOCTL_VMW_GB_SURFACE_REF,
    (dev: DrmDevice, arg: DrmVmwGbSurfaceRefArg, file: DrmFile) =>
      vmwGbSurfaceReferenceIoctl(vmwPriv(dev), dev, arg, file, tfileOf(file)),
    DRM_RENDER_ALLOW,
    DRM_VMW_GB_SURFACE_REF_LAYOUT,
    "VMW_GB_SURFACE_REF",
  );
  table[DRM_VMW_SYNCCPU] = drmIoctlDef(
    DRM_IOCTL_VMW_SYNCCPU,
    vmwUserBoSynccpuIoctl,
    DRM_RENDER_ALLOW,
    DRM_VMW_SYNCCPU_LAYOUT,
    "VMW_SYNCCPU",
  );
  vmwContextIoctls(table);
  return table;
}

/** The context entries of vmw_ioctls[] (vmwgfx-context.ts): each DRM_RENDER_ALLOW. */
function vmwContextIoctls(table: DrmIoctlDesc[]): void {
  table[DRM_VMW_CREATE_CONTEXT] = drmIoctlDef(
    DRM_IOCTL_VMW_CREATE_CONTEXT,
    (dev: DrmDevice, arg: DrmVmwContextArg, file: DrmFile) =>
      vmwContextDefineIoctl(vmwPriv(dev), arg, tfileOf(file)),
    DRM_RENDER_ALLOW,
    DRM_VMW_CONTEXT_ARG_LAYOUT,
    "VMW_CREATE_CONTEXT",
  );
  table[DRM_VMW_UNREF_CONTEXT] = drmIoctlDef(
    DRM_IOCTL_VMW_UNREF_CONTEXT,
    (_dev: DrmDevice, arg: DrmVmwContextArg, file: DrmFile) =>
      vmwContextDestroyIoctl(arg, tfileOf(file)),
    DRM_RENDER_ALLOW,
    DRM_VMW_CONTEXT_ARG_LAYOUT,
    "VMW_UNREF_CONTEXT",
  );
  table[DRM_VMW_CREATE_EXTENDED_CONTEXT] = drmIoctlDef(
    DRM_IOCTL_VMW_CREATE_EXTENDED_CONTEXT,
    (dev: DrmDevice, arg: DrmVmwExtendedContextArg, file: DrmFile) =>
      vmwExtendedContextDefineIoctl(vmwPriv(dev), arg, tfileOf(file)),
    DRM_RENDER_ALLOW,
    DRM_VMW_EXTENDED_CONTEXT_ARG_LAYOUT,
    "VMW_CREATE_EXTENDED_CONTEXT",
  );
}

/** The driver's ioctl table (vmw_ioctls[], static in the kernel too). */
const VMW_IOCTLS: readonly DrmIoctlDesc[] = vmwIoctls();

/**
 * Models vmw_generic_ioctl() as vmw_unlocked_ioctl() calls it (vmwgfx_drv.c), the ->unlocked_ioctl
 * of vmwgfx's nodes: for a driver ioctl of the table, EXECBUF goes straight to drm_ioctl() (its
 * argument grew across versions), any other whose command is not exactly the table's (the
 * struct size or the direction differs) is "Invalid command format" -EINVAL; a number beyond the
 * table and the driver range is -EINVAL unless drm_ioctl_flags() knows it (a core ioctl number).
 * Then drm_ioctl(). (The DRM_VMW_UPDATE_LAYOUT master check is not modeled: its entry is a hole.)
 * Locking: none held. References: the syscall holds the file.
 */
export function vmwUnlockedIoctl(filp: File, cmd: number, arg: IoctlArg): Promise<number> {
  const nr = DRM_IOCTL_NR(cmd);
  if (nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END && nr < DRM_COMMAND_BASE + VMW_IOCTLS.length) {
    const ioctl = VMW_IOCTLS[nr - DRM_COMMAND_BASE]!;
    if (nr === DRM_COMMAND_BASE + DRM_VMW_EXECBUF) return drmIoctl(filp, cmd, arg);
    if (ioctl.cmd >>> 0 !== cmd >>> 0) return Promise.resolve(-EINVAL); // out_io_encoding
  } else if (nr >= DRM_CORE_IOCTL_COUNT) {
    return Promise.resolve(-EINVAL); // !drm_ioctl_flags(nr, &flags)
  }
  return drmIoctl(filp, cmd, arg);
}

/**
 * Models the vmwgfx struct drm_driver: KMS (DRIVER_MODESET | DRIVER_ATOMIC, framebuffers only),
 * GEM and a render node, DRIVER_CURSOR_HOTSPOT (the display units' cursor planes get the hotspot
 * properties CURSOR2 fills in); per-file ttm object files; dumb
 * buffers; PRIME routed by handle range (vmw_prime_handle_to_fd / _fd_to_handle) with foreign
 * imports through vmw_prime_import_sg_table().
 */
export const vmwDriver: DrmDriver = {
  name: VMWGFX_DRIVER_NAME,
  desc: VMWGFX_DRIVER_DESC,
  major: 2,
  minor: 20,
  patchlevel: 0,
  driverFeatures:
    DRIVER_MODESET | DRIVER_RENDER | DRIVER_ATOMIC | DRIVER_GEM | DRIVER_CURSOR_HOTSPOT,
  ioctls: VMW_IOCTLS,
  open: vmwDriverOpen,
  postclose: vmwPostclose,
  release: vmwDriverRelease,
  dumbCreate: vmwDumbCreate,
  dumbMapOffset: vmwDumbMapOffset,
  primeHandleToFd: (dev, file, handle, flags) =>
    vmwPrimeHandleToFd(dev, file, handle, flags, tfileOf(file)),
  primeFdToHandle: (dev, file, fd) => vmwPrimeFdToHandle(dev, file, fd, tfileOf(file)),
  gemPrimeImportSgTable: vmwPrimeImportSgTable,
  // vmwgfx_driver_fops: drm's, with vmw_unlocked_ioctl() as ->unlocked_ioctl.
  fops: { unlockedIoctl: vmwUnlockedIoctl },
};

/** How the simulated SVGA device is configured. */
export interface VmwgfxOptions {
  /**
   * The device's 3D capability (default true: the simulated device runs 3D command submission
   * on GB surfaces). Without it vmw_supports_3d() is false and dumb buffers are raw buffers.
   */
  readonly has3d?: boolean;
  /** The device's memory (VMWGFX_DEFAULT_MEMORY unless given; fields not given keep theirs). */
  readonly memory?: Partial<VmwgfxMemory>;
  /**
   * Screen-target display units to register (vmw_kms_stdu_init_display(): CRTCs with primary
   * planes and connectors, vmwgfx-stdu.ts); 0 by default, so that runs not asking for them
   * are unchanged (the kernel registers VMWGFX_NUM_DISPLAY_UNITS, 8; at most 8 here).
   */
  readonly displayUnits?: number;
}

/** A registered vmwgfx device and its nodes. */
export interface VmwgfxDevice {
  readonly device: DrmDevice;
  /** "/dev/dri/cardN". */
  readonly card: string;
  /** "/dev/dri/renderD(128+N)". */
  readonly render: string;
}

/**
 * Models vmw_probe() + vmw_driver_load() (the parts kept): the private structure (has_mob, and
 * the 3D capability from `opts`) with its ttm
 * object device (surface handles from VMWGFX_NUM_MOB + 1, dma-buf ops vmw_prime_dmabuf_ops), the
 * DRM device, vmw_kms_init()'s mode_config, and its registration (/dev/dri/cardN, renderD(128+N)). Throws if the DRM core
 * refuses (a bug, not an input error). Call it from a task of the kernel's simulation.
 * Locking: none; may sleep. References: the caller owns the device's creation reference
 * (destroyVmwgfx() drops it).
 */
export async function createVmwgfx(
  kernel: DrmKernel,
  opts: VmwgfxOptions = {},
): Promise<VmwgfxDevice> {
  const vmw = kmalloc(vmwPrivateCache, () => new VmwPrivate());
  if (isErr(vmw)) throw new Error("vmwgfx: out of memory");
  vmw.has3d = opts.has3d ?? true;
  vmw.memory = { ...VMWGFX_DEFAULT_MEMORY, ...opts.memory };
  const tdev = ttmObjectDeviceInit(vmwPrimeDmabufOps, ttmPrimeDmabufRelease);
  if (isErr(tdev)) throw new Error("vmwgfx: ttm_object_device_init failed");
  vmw.tdev = tdev;
  const dev = await drmDevAlloc(vmwDriver, { devName: "vmwgfx", driverPrivate: vmw });
  if (isErr(dev)) throw new Error(`vmwgfx: drm_dev_alloc failed: ${dev}`);
  vmw.drm = dev;
  vmw.gpu = new SimGpu({
    name: `svga${dev.name.replace(/\D/g, "")}`,
    vramPages: Math.max(16, vmw.memory.vramPages),
    systemMemory: new SystemMemory({ pages: VMWGFX_GUEST_PAGES }),
  });
  // vmwgfx has no hangcheck and never resets the device; its interrupt thread's command-buffer
  // half (vmw_thread_fn()) runs after the fence half.
  vmw.cman = vmwCmdbufManCreate(vmw);
  vmw.fences = simgpuFenceDriverInit(vmw.gpu, {
    hangcheckNs: null,
    onInterrupt: vmwThreadFnCmdbuf.bind(null, vmw),
  });
  vmw.fman = vmwFenceManagerInit(vmw);
  vmw.bdev = new TtmDevice(vmwBoDriver, vmw.gpu, dev.vmaOffsetManager, "vmwgfx");
  ttmDeviceInit(vmw.bdev);
  // vmw_driver_load(): VRAM (not in use), GMRs (the device has SVGA_CAP_GMR2), MOBs (has_mob).
  vmwVramManagerInit(vmw);
  vmw.hasGmr = vmwGmridManInit(vmw.bdev, VMW_PL_GMR, vmwGmridLimits(vmw, VMW_PL_GMR)) === 0;
  vmwGmridManInit(vmw.bdev, VMW_PL_MOB, vmwGmridLimits(vmw, VMW_PL_MOB));
  vmwKmsInit(vmw, dev);
  if (opts.displayUnits) {
    const r = await vmwKmsStduInitDisplay(vmw, dev, opts.displayUnits);
    if (r) throw new Error(`vmwgfx: vmw_kms_stdu_init_display failed: ${r}`);
  }
  const ret = await drmDevRegister(dev, kernel);
  if (ret) {
    const drmDevPutDone = drmDevPut(dev);
    if (drmDevPutDone !== RESOLVED) await drmDevPutDone;
    throw new Error(`vmwgfx: drm_dev_register failed: ${ret}`);
  }
  return { device: dev, card: dev.primary!.path, render: dev.render!.path };
}

/**
 * Models vmw_remove(): unregisters the device (open files keep working) and drops the creation
 * reference; the device and its ttm object device go with the last file.
 * Locking: none; may sleep. References: drops the creation reference.
 */
export async function destroyVmwgfx(vmw: VmwgfxDevice): Promise<void> {
  await drmDevUnregister(vmw.device);
  const drmDevPutDone2 = drmDevPut(vmw.device);
  if (drmDevPutDone2 !== RESOLVED) await drmDevPutDone2;
}
