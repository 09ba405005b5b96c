/**
 * qxl's ioctls (drivers/gpu/drm/qxl/qxl_ioctl.c, Linux v6.18): ALLOC, MAP, EXECBUFFER,
 * UPDATE_AREA, GETPARAM, CLIENTCAP, ALLOC_SURF. All are DRM_AUTH (qxl has no render node).
 *
 * EXECBUFFER copies each struct drm_qxl_command, the command bytes and the relocations from the
 * caller's memory (copy_from_user(): accessVm() on the caller's mm, -EFAULT on an unmapped
 * address). Each command becomes a release: its bytes go into a release bo slot after the
 * release info, every object a relocation names is put on the release (a reference each),
 * reserved and validated (surface objects get their hardware surface), the relocations are
 * written (physical addresses or surface ids), the release is fenced into every reservation and
 * pushed on the command ring. The device hands it back when the work is done.
 */

import {
  DRM_AUTH,
  type DrmDevice,
  type DrmFile,
  drmGemObjectLookup,
  drmGemObjectPut,
  drmIoctlDef,
} from "@primetime/gem";
import {
  accessVm,
  currentMm,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOMEM,
  ENOSYS,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  PAGE_SIZE,
  SlabObject,
  TASK_SIZE,
} from "@primetime/kernel";
import { RESOLVED, toggleEnabled } from "@primetime/sim";
import { type TtmOperationCtx, ttmBoValidate } from "@primetime/ttm";
import { qxlIoUpdateArea, qxlPushCommandRingRelease } from "./qxl-cmd.js";
import {
  QXL_CMD_CURSOR,
  QXL_CMD_DRAW,
  QXL_CMD_SURFACE,
  QXL_RELEASE_INFO_SIZE,
  type QxlRect,
} from "./qxl-dev.js";
import { type QxlDevice, toQxl } from "./qxl-device.js";
import {
  DRM_IOCTL_QXL_ALLOC,
  DRM_IOCTL_QXL_ALLOC_SURF,
  DRM_IOCTL_QXL_CLIENTCAP,
  DRM_IOCTL_QXL_EXECBUFFER,
  DRM_IOCTL_QXL_GETPARAM,
  DRM_IOCTL_QXL_MAP,
  DRM_IOCTL_QXL_UPDATE_AREA,
  DRM_QXL_ALLOC_LAYOUT,
  DRM_QXL_ALLOC_SURF_LAYOUT,
  DRM_QXL_CLIENTCAP_LAYOUT,
  DRM_QXL_COMMAND_SIZE,
  DRM_QXL_EXECBUFFER_LAYOUT,
  DRM_QXL_GETPARAM_LAYOUT,
  DRM_QXL_MAP_LAYOUT,
  DRM_QXL_RELOC_SIZE,
  DRM_QXL_UPDATE_AREA_LAYOUT,
  type DrmQxlAlloc,
  type DrmQxlAllocSurf,
  type DrmQxlClientcap,
  type DrmQxlCommand,
  type DrmQxlExecbuffer,
  type DrmQxlGetparam,
  type DrmQxlMap,
  type DrmQxlUpdateArea,
  decodeDrmQxlCommand,
  decodeDrmQxlReloc,
  QXL_GEM_DOMAIN_SURFACE,
  QXL_GEM_DOMAIN_VRAM,
  QXL_PARAM_MAX_RELOCS,
  QXL_PARAM_NUM_SURFACES,
  QXL_RELOC_TYPE_BO,
  QXL_RELOC_TYPE_SURF,
} from "./qxl-drm-uapi.js";
import { qxlGemObjectCreateWithHandle, qxlModeDumbMmap } from "./qxl-gem.js";
import {
  QxlBo,
  type QxlSurface,
  qxlBoCheckId,
  qxlBoCpuWrite,
  qxlBoPhysicalAddress,
  qxlBoReserve,
  qxlBoUnreserve,
  qxlTtmPlacementFromDomain,
  toQxlBo,
} from "./qxl-object.js";
import { QxlImportObject, qxlImportPhysicalAddress } from "./qxl-prime.js";
import type { QxlRelObj } from "./qxl-release.js";
import {
  QXL_RELEASE_DRAWABLE,
  type QxlRelease,
  qxlAllocReleaseReserved,
  qxlReleaseBackoffReserveList,
  qxlReleaseFenceBufferObjects,
  qxlReleaseFree,
  qxlReleaseListAdd,
  qxlReleaseReserveList,
  RELEASE_SIZE,
} from "./qxl-release.js";
import { QXL_RELEASE_USE_AFTER_FREE, QXL_UPDATE_AREA_VALIDATE_KEEPS_RESERVE } from "./toggles.js";
import { putUnalignedLe32, putUnalignedLe64 } from "./unaligned.js";

/** Models QXL_MAX_RES: what GETPARAM(QXL_PARAM_MAX_RELOCS) reports. */
export const QXL_MAX_RES = 96;

/**
 * Models qxl_alloc_ioctl(): a VRAM object of `size` bytes and its handle. -EINVAL for size 0,
 * -ENOMEM for any creation failure.
 * Locking: none held. References: the handle holds the object.
 */
async function qxlAllocIoctl(dev: DrmDevice, data: DrmQxlAlloc, file: DrmFile): Promise<number> {
  const qdev = toQxl(dev);
  if (data.size === 0) return -EINVAL;
  const r = await qxlGemObjectCreateWithHandle(
    qdev,
    file,
    QXL_GEM_DOMAIN_VRAM,
    data.size,
    null,
    false,
  );
  if (isErr(r)) return -ENOMEM;
  data.handle = r.handle;
  return 0;
}

/**
 * Models qxl_map_ioctl(): the handle's mmap offset (drm_gem_ttm_dumb_map_offset()).
 * Locking: none. References: a temporary lookup reference.
 */
async function qxlMapIoctl(dev: DrmDevice, data: DrmQxlMap, file: DrmFile): Promise<number> {
  const off = await qxlModeDumbMmap(file, dev, data.handle);
  if (off < 0) return off;
  data.offset = off;
  return 0;
}

/** Models struct qxl_reloc_info. */
interface QxlRelocInfo {
  type: number;
  dstBo: QxlRelObj | null;
  dstOffset: number;
  srcBo: QxlRelObj | null;
  srcOffset: number;
}

/** The device address of (obj + offset): its memslot address, or an import's DMA window. */
function relocAddress(qdev: QxlDevice, obj: QxlRelObj, offset: number): number {
  return obj instanceof QxlImportObject
    ? qxlImportPhysicalAddress(obj, offset)
    : qxlBoPhysicalAddress(qdev, obj, offset);
}

/** Models sizeof(struct qxl_reloc_info) on x86-64: int, pointer, u32, pointer, int (padded). */
const QXL_RELOC_INFO_SIZE = 40;

/** Models KMALLOC_MAX_SIZE on x86-64 (4 KiB pages): 1 << (MAX_PAGE_ORDER + PAGE_SHIFT). */
const KMALLOC_MAX_SIZE = 1 << (10 + 12);

/**
 * Models access_ok() on x86-64 (__access_ok()): `addr + len` must not wrap and must stay at or
 * below USER_PTR_MAX (TASK_SIZE_MAX). Only the range is checked, not whether it is mapped.
 */
function accessOk(addr: number, len: number): boolean {
  return Number.isSafeInteger(addr) && addr >= 0 && addr + len <= TASK_SIZE;
}

/** The slab cache of reloc_info arrays (kmalloc_array() in the kernel). */
export const qxlRelocInfoCache = new KmemCache("qxl_reloc_info");

/** The kmalloc_array()ed reloc_info of one command. */
class QxlRelocInfoArray extends SlabObject {
  readonly infos: QxlRelocInfo[] = [];
}

/** kmalloc()'s constructor call for QxlRelocInfoArray (one function, not one per call). */
function newQxlRelocInfoArray(): QxlRelocInfoArray {
  return new QxlRelocInfoArray();
}

/**
 * Models copy_from_user() of `len` bytes at user address `addr` of the calling process.
 * Returns the bytes or null (-EFAULT).
 */
async function copyFromUserBytes(addr: number, len: number): Promise<Uint8Array | null> {
  const mm = currentMm();
  if (mm === null || !Number.isSafeInteger(addr) || addr < 0) return null;
  if (len === 0) return new Uint8Array(0);
  const r = await accessVm(mm, addr, len, null);
  return typeof r === "number" ? null : r;
}

/**
 * Models apply_reloc(): writes the physical address of (src + src_offset) into dst at
 * dst_offset. The kernel does not check dst_offset against the object; the model refuses an
 * offset outside it (-EINVAL) rather than writing out of bounds.
 */
function applyReloc(qdev: QxlDevice, info: QxlRelocInfo): number {
  const dst = info.dstBo!;
  if (!(dst instanceof QxlBo) || info.dstOffset + 8 > dst.size) return -EINVAL;
  const bytes = new Uint8Array(8);
  putUnalignedLe64(relocAddress(qdev, info.srcBo!, info.srcOffset), bytes, 0);
  qxlBoCpuWrite(qdev, dst, info.dstOffset, bytes);
  return 0;
}

/** Models apply_surf_reloc(): writes the surface id of src (0 for none or the primary). */
function applySurfReloc(qdev: QxlDevice, info: QxlRelocInfo): number {
  let id = 0;
  if (info.srcBo instanceof QxlBo && !info.srcBo.isPrimary) id = info.srcBo.surfaceId;
  const dst = info.dstBo!;
  if (!(dst instanceof QxlBo) || info.dstOffset + 4 > dst.size) return -EINVAL;
  const bytes = new Uint8Array(4);
  putUnalignedLe32(id, bytes, 0);
  qxlBoCpuWrite(qdev, dst, info.dstOffset, bytes);
  return 0;
}

/**
 * Models qxlhw_handle_to_bo(): looks the handle up and puts the object on the release (which
 * keeps a reference); the lookup reference is dropped. -EINVAL for an unknown handle.
 * Locking: none. References: the release's.
 */
async function qxlhwHandleToBo(
  file: DrmFile,
  handle: number,
  release: QxlRelease,
): Promise<QxlRelObj | number> {
  const gobj = await drmGemObjectLookup(file, handle);
  if (!gobj) return -EINVAL;
  // a QxlBo, or (model extension) a foreign import the device reaches through a DMA window
  const qobj = gobj instanceof QxlImportObject ? gobj : toQxlBo(gobj);
  const ret = await qxlReleaseListAdd(release, qobj);
  const drmGemObjectPutDone = drmGemObjectPut(gobj);
  if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
  if (ret) return ret;
  return qobj;
}

/**
 * Models qxl_process_single_command(). See the file comment. Before anything is allocated:
 * -EINVAL for a command that is not a DRAW or is larger than a page, -EFAULT when the command
 * bytes are outside user space (access_ok()), -ENOMEM when kmalloc_array() of `relocs_num`
 * reloc infos exceeds KMALLOC_MAX_SIZE (relocs_num > 104857).
 * Locking: none held on entry; reservations held between reserve and fence.
 * References: the pushed release holds every object it names until the device hands it back.
 */
async function qxlProcessSingleCommand(
  qdev: QxlDevice,
  cmd: DrmQxlCommand,
  file: DrmFile,
): Promise<number> {
  switch (cmd.type) {
    case QXL_CMD_DRAW:
      break;
    // biome-ignore lint/complexity/noUselessSwitchCase: the kernel's switch names both commands before default
    case QXL_CMD_SURFACE:
    // biome-ignore lint/complexity/noUselessSwitchCase: as above
    case QXL_CMD_CURSOR:
    default:
      return -EINVAL; // Only draw commands in execbuffers
  }
  if (cmd.command_size > PAGE_SIZE - QXL_RELEASE_INFO_SIZE) return -EINVAL;
  // The kernel copies up to a page from the release's slot, over the neighbouring releases of
  // the release bo (and past its end); the model refuses what does not fit in the slot.
  if (cmd.command_size > RELEASE_SIZE - QXL_RELEASE_INFO_SIZE) return -EINVAL;
  if (!accessOk(cmd.command, cmd.command_size)) return -EFAULT;
  // kmalloc_array(relocs_num, sizeof(struct qxl_reloc_info)): beyond KMALLOC_MAX_SIZE it is NULL
  // (the page allocator's WARN_ON_ONCE for an order above MAX_PAGE_ORDER is not modeled)
  if (cmd.relocs_num * QXL_RELOC_INFO_SIZE > KMALLOC_MAX_SIZE) return -ENOMEM;
  const relocInfo = kmalloc(qxlRelocInfoCache, newQxlRelocInfoArray);
  if (isErr(relocInfo)) return -ENOMEM;
  const r = await qxlAllocReleaseReserved(qdev, QXL_RELEASE_DRAWABLE);
  if (isErr(r)) {
    kfree(relocInfo);
    return r;
  }
  const { release, rbo: cmdBo } = r;
  // the kernel's goto out_free_bos / out_free_release paths: every error frees the release
  const ret = await qxlProcessCommandBody(qdev, cmd, file, release, cmdBo, relocInfo);
  if (ret) await qxlReleaseFree(qdev, release);
  kfree(relocInfo);
  return ret;
}

/**
 * qxlProcessSingleCommand() from the command's copy to its push, with the release and its
 * command bo allocated: every error return is the kernel's goto out_free_bos / out_free_release
 * (the caller frees the release). A module-level function, not a closure per command.
 * Locking: none held on entry; reservations held between reserve and fence.
 * References: see qxlProcessSingleCommand().
 */
async function qxlProcessCommandBody(
  qdev: QxlDevice,
  cmd: DrmQxlCommand,
  file: DrmFile,
  release: QxlRelease,
  cmdBo: QxlBo,
  relocInfo: QxlRelocInfoArray,
): Promise<number> {
  let ret = 0;
  const bytes = await copyFromUserBytes(cmd.command, cmd.command_size);
  if (bytes === null) {
    return -EFAULT;
  }
  qxlBoCpuWrite(qdev, cmdBo, release.releaseOffset + QXL_RELEASE_INFO_SIZE, bytes);
  // fill out reloc info structs
  ret = 0;
  for (let i = 0; i < cmd.relocs_num; ++i) {
    const rb = await copyFromUserBytes(cmd.relocs + i * DRM_QXL_RELOC_SIZE, DRM_QXL_RELOC_SIZE);
    if (rb === null) {
      return -EFAULT;
    }
    const reloc = decodeDrmQxlReloc(rb);
    // add the bos to the list of bos to validate - need to validate first then process relocs?
    if (reloc.reloc_type !== QXL_RELOC_TYPE_BO && reloc.reloc_type !== QXL_RELOC_TYPE_SURF) {
      return -EINVAL;
    }
    const info: QxlRelocInfo = {
      type: reloc.reloc_type,
      dstBo: null,
      dstOffset: 0,
      srcBo: null,
      srcOffset: 0,
    };
    relocInfo.infos.push(info);
    if (reloc.dst_handle) {
      const b = await qxlhwHandleToBo(file, reloc.dst_handle, release);
      if (typeof b === "number") {
        return b;
      }
      info.dstBo = b;
      info.dstOffset = reloc.dst_offset;
    } else {
      info.dstBo = cmdBo;
      // relative to the release, release info included (the kernel's convention)
      info.dstOffset = reloc.dst_offset + release.releaseOffset;
    }
    // reserve and validate the reloc dst bo
    if (reloc.reloc_type === QXL_RELOC_TYPE_BO || reloc.src_handle) {
      const b = await qxlhwHandleToBo(file, reloc.src_handle, release);
      if (typeof b === "number") {
        return b;
      }
      info.srcBo = b;
      info.srcOffset = reloc.src_offset;
    }
  }
  // validate all buffers
  ret = await qxlReleaseReserveList(qdev, release, false);
  if (ret) return ret;
  for (const info of relocInfo.infos) {
    const rr =
      info.type === QXL_RELOC_TYPE_BO ? applyReloc(qdev, info) : applySurfReloc(qdev, info);
    if (rr && !ret) ret = rr;
  }
  if (ret) {
    await qxlReleaseBackoffReserveList(release);
    return ret;
  }
  if (toggleEnabled(QXL_RELEASE_USE_AFTER_FREE.name)) {
    // v3.10-v5.6: push first, then fence a release the device may already have handed back.
    const pushed = await qxlPushCommandRingRelease(qdev, release, cmd.type, true);
    if (pushed) await qxlReleaseBackoffReserveList(release);
    else await qxlReleaseFenceBufferObjects(qdev, release);
    return pushed;
  }
  await qxlReleaseFenceBufferObjects(qdev, release);
  // Interruptible: a killed submitter waiting for room gets -ERESTARTSYS and the caller frees
  // the fenced release (qxl_release_free(): its fence signalled and put).
  return qxlPushCommandRingRelease(qdev, release, cmd.type, true);
}

/**
 * Models qxl_execbuffer_ioctl(): processes `commands_num` commands from user memory, stopping at
 * the first error (commands already pushed stay pushed).
 * Locking: none held. References: see qxlProcessSingleCommand().
 */
async function qxlExecbufferIoctl(
  dev: DrmDevice,
  data: DrmQxlExecbuffer,
  file: DrmFile,
): Promise<number> {
  const qdev = toQxl(dev);
  for (let cmdNum = 0; cmdNum < data.commands_num; ++cmdNum) {
    const b = await copyFromUserBytes(
      data.commands + cmdNum * DRM_QXL_COMMAND_SIZE,
      DRM_QXL_COMMAND_SIZE,
    );
    if (b === null) return -EFAULT;
    const ret = await qxlProcessSingleCommand(qdev, decodeDrmQxlCommand(b), file);
    if (ret) return ret;
  }
  return 0;
}

/**
 * The reserved part of qxl_update_area_ioctl(): validate, surface id, update. As in the kernel,
 * a failed validation returns with the object still reserved (`goto out` skips the unreserve:
 * known window `qxl.update-area-validate-keeps-reserve`, whose fix switch unreserves it).
 * Locking: the object reserved on entry; unreserved on return except after a failed validation.
 * References: the caller holds one.
 */
async function qxlUpdateAreaReserved(qdev: QxlDevice, qobj: QxlBo, area: QxlRect): Promise<number> {
  if (!qobj.pinCount) {
    qxlTtmPlacementFromDomain(qobj, qobj.domain);
    const ctx: TtmOperationCtx = { interruptible: true, noWaitGpu: false, bytesMoved: 0 };
    const ret = await ttmBoValidate(qobj, qobj.placement, ctx);
    if (ret) {
      // (the fix switch: `goto out2`)
      if (toggleEnabled(QXL_UPDATE_AREA_VALIDATE_KEEPS_RESERVE.name)) await qxlBoUnreserve(qobj);
      return ret;
    }
  }
  let ret = await qxlBoCheckId(qdev, qobj);
  if (!ret) ret = await qxlIoUpdateArea(qdev, qobj, area);
  await qxlBoUnreserve(qobj);
  return ret;
}

/**
 * Models qxl_update_area_ioctl(): validates the object into its domain, gives a surface its
 * hardware surface, and asks the device to update the area. -EINVAL for an empty area, -ENOENT
 * for an unknown handle.
 * As in the kernel, a failed validation returns with the object still reserved (`goto out`
 * skips the unreserve).
 * Locking: takes the object's reservation. References: a lookup reference for the call.
 */
async function qxlUpdateAreaIoctl(
  dev: DrmDevice,
  data: DrmQxlUpdateArea,
  file: DrmFile,
): Promise<number> {
  const qdev = toQxl(dev);
  // struct qxl_rect has int32_t fields: the u32 arguments convert (a left of 2^31 is negative)
  const area = {
    left: data.left | 0,
    top: data.top | 0,
    right: data.right | 0,
    bottom: data.bottom | 0,
  };
  if (data.left >= data.right || data.top >= data.bottom) return -EINVAL;
  const gobj = await drmGemObjectLookup(file, data.handle);
  if (gobj === null) return -ENOENT;
  if (!(gobj instanceof QxlBo)) {
    const drmGemObjectPutDone2 = drmGemObjectPut(gobj);
    if (drmGemObjectPutDone2 !== RESOLVED) await drmGemObjectPutDone2;
    return -EINVAL;
  }
  const qobj = toQxlBo(gobj);
  let ret = await qxlBoReserve(qobj);
  if (!ret) ret = await qxlUpdateAreaReserved(qdev, qobj, area);
  const drmGemObjectPutDone3 = drmGemObjectPut(gobj);
  if (drmGemObjectPutDone3 !== RESOLVED) await drmGemObjectPutDone3;
  return ret;
}

/**
 * Models qxl_getparam_ioctl(): the number of surfaces, the maximum relocations; -EINVAL else.
 * Locking: none. References: none.
 */
async function qxlGetparamIoctl(
  dev: DrmDevice,
  data: DrmQxlGetparam,
  _file: DrmFile,
): Promise<number> {
  const qdev = toQxl(dev);
  switch (data.param) {
    case QXL_PARAM_NUM_SURFACES:
      data.value = qdev.hw.rom.nSurfaces;
      return 0;
    case QXL_PARAM_MAX_RELOCS:
      data.value = QXL_MAX_RES;
      return 0;
    default:
      return -EINVAL;
  }
}

/**
 * Models qxl_clientcap_ioctl(): 0 if the device sets capability bit `index`, else -ENOSYS (also
 * for revisions before 4 and indexes past the 58-byte array).
 * Locking: none. References: none.
 */
async function qxlClientcapIoctl(
  dev: DrmDevice,
  data: DrmQxlClientcap,
  _file: DrmFile,
): Promise<number> {
  const qdev = toQxl(dev);
  const byte = Math.floor(data.index / 8);
  const idx = data.index % 8;
  if (qdev.hw.revision < 4) return -ENOSYS;
  if (byte >= 58) return -ENOSYS;
  if (qdev.hw.rom.clientCapabilities[byte]! & (1 << idx)) return 0;
  return -ENOSYS;
}

/**
 * Models qxl_alloc_surf_ioctl(): a SURFACE-domain object of |stride| * (height + 1) bytes (C int
 * arithmetic) described as a surface, and its handle; the hardware surface comes at first use.
 * -ENOMEM for any creation failure.
 * Locking: none held. References: the handle holds the object.
 */
async function qxlAllocSurfIoctl(
  dev: DrmDevice,
  data: DrmQxlAllocSurf,
  file: DrmFile,
): Promise<number> {
  const qdev = toQxl(dev);
  // work out size allocate bo with handle
  const actualStride = data.stride < 0 ? -data.stride : data.stride;
  const size = (Math.imul(actualStride, data.height) + actualStride) | 0;
  const surf: QxlSurface = {
    format: data.format,
    width: data.width,
    height: data.height,
    stride: data.stride,
    data: 0,
  };
  const r = await qxlGemObjectCreateWithHandle(
    qdev,
    file,
    QXL_GEM_DOMAIN_SURFACE,
    size,
    surf,
    false,
  );
  if (isErr(r)) return -ENOMEM;
  data.handle = r.handle;
  return 0;
}

/** Models qxl_ioctls[]: every entry DRM_AUTH. */
export const qxlIoctls = [
  drmIoctlDef(DRM_IOCTL_QXL_ALLOC, qxlAllocIoctl, DRM_AUTH, DRM_QXL_ALLOC_LAYOUT, "QXL_ALLOC"),
  drmIoctlDef(DRM_IOCTL_QXL_MAP, qxlMapIoctl, DRM_AUTH, DRM_QXL_MAP_LAYOUT, "QXL_MAP"),
  drmIoctlDef(
    DRM_IOCTL_QXL_EXECBUFFER,
    qxlExecbufferIoctl,
    DRM_AUTH,
    DRM_QXL_EXECBUFFER_LAYOUT,
    "QXL_EXECBUFFER",
  ),
  drmIoctlDef(
    DRM_IOCTL_QXL_UPDATE_AREA,
    qxlUpdateAreaIoctl,
    DRM_AUTH,
    DRM_QXL_UPDATE_AREA_LAYOUT,
    "QXL_UPDATE_AREA",
  ),
  drmIoctlDef(
    DRM_IOCTL_QXL_GETPARAM,
    qxlGetparamIoctl,
    DRM_AUTH,
    DRM_QXL_GETPARAM_LAYOUT,
    "QXL_GETPARAM",
  ),
  drmIoctlDef(
    DRM_IOCTL_QXL_CLIENTCAP,
    qxlClientcapIoctl,
    DRM_AUTH,
    DRM_QXL_CLIENTCAP_LAYOUT,
    "QXL_CLIENTCAP",
  ),
  drmIoctlDef(
    DRM_IOCTL_QXL_ALLOC_SURF,
    qxlAllocSurfIoctl,
    DRM_AUTH,
    DRM_QXL_ALLOC_SURF_LAYOUT,
    "QXL_ALLOC_SURF",
  ),
];
