/**
 * DRM ioctl dispatch (drivers/gpu/drm/drm_ioctl.c): the core ioctl table, the permission checks
 * and the copy of the argument struct in and out.
 *
 * drm_ioctl() decodes the command: a type other than 'd' is -ENOTTY; numbers in
 * [DRM_COMMAND_BASE, DRM_COMMAND_END) index the driver's table, the others the core table; an
 * index past the table or an entry without a handler is -EINVAL. It then copies in the first
 * `_IOC_SIZE(cmd)` bytes of the user's struct (if both the user's and the kernel's command say
 * IOC_IN), zero-fills the rest of the kernel's struct, checks permissions (drm_ioctl_permit()),
 * calls the handler and copies out (if both say IOC_OUT).
 *
 * Model of the copy: a struct is a JS object with the uapi field names; its layout
 * (uapi.ts) gives each field's byte range, so "the first N bytes" is the fields that end within N.
 * A field that is absent reads 0; a field that is not an integer (or a string for `char *`) is a
 * fault (-EFAULT). An array field (`handles[4]`) is a JS array, copied element by element. The syscall layer (@primetime/kernel's ioctl) gives drm_ioctl() its own copy
 * of the user object and copies it back when the ioctl succeeds; as the kernel's drm_ioctl()
 * copies out whatever the handler returned, on failure it writes the out fields to the user's
 * object itself (ioctlUserArg()).
 */

import {
  _IOC_DIR,
  _IOC_READ,
  _IOC_SIZE,
  _IOC_WRITE,
  CAP_SYS_ADMIN,
  capable,
  EACCES,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOTTY,
  EOPNOTSUPP,
  type File,
  type IoctlArg,
  ioctlUserArg,
  lockdepAssertHeld,
} from "@primetime/kernel";
import { bug, point, pointNow, RESOLVED, toggleEnabled } from "@primetime/sim";
import {
  DRM_IOCTL_MODE_CURSOR,
  DRM_IOCTL_MODE_CURSOR2,
  DRM_IOCTL_MODE_GETCRTC,
  DRM_IOCTL_MODE_GETPLANE,
  DRM_IOCTL_MODE_GETPLANERESOURCES,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_IOCTL_MODE_SETCRTC,
  DRM_MODE_CARD_RES_LAYOUT,
  DRM_MODE_CRTC_LAYOUT,
  DRM_MODE_CRTC_PAGE_FLIP_LAYOUT,
  DRM_MODE_CURSOR_LAYOUT,
  DRM_MODE_CURSOR2_LAYOUT,
  DRM_MODE_GET_PLANE_LAYOUT,
  DRM_MODE_GET_PLANE_RES_LAYOUT,
} from "@primetime/uapi";
import {
  type DrmMaster,
  drmAuthmagic,
  drmDropmasterIoctl,
  drmGetmagic,
  drmIsCurrentMaster,
  drmSetmasterIoctl,
} from "./drm-auth.js";
import { drmModeGetcrtc, drmModeSetcrtc } from "./drm-crtc.js";
import type { DrmDevice } from "./drm-device.js";
import {
  DRIVER_MODESET,
  DRIVER_SYNCOBJ,
  DRIVER_SYNCOBJ_TIMELINE,
  DRM_AUTH,
  DRM_MASTER,
  DRM_RENDER_ALLOW,
  DRM_ROOT_ONLY,
  type DrmIoctlDesc,
  drmCoreCheckFeature,
  drmIoctlDef,
} from "./drm-driver.js";
import {
  drmModeCreateDumbIoctl,
  drmModeDestroyDumbIoctl,
  drmModeMmapDumbIoctl,
} from "./drm-dumb.js";
import { type DrmFile, drmIsRenderClient } from "./drm-file.js";
import {
  drmModeAddfb2Ioctl,
  drmModeAddfbIoctl,
  drmModeClosefbIoctl,
  drmModeDirtyfbIoctl,
  drmModeGetfb,
  drmModeGetfb2Ioctl,
  drmModeRmfbIoctl,
} from "./drm-framebuffer.js";
import {
  drmGemChangeHandleIoctl,
  drmGemCloseIoctl,
  drmGemFlinkIoctl,
  drmGemOpenIoctl,
} from "./drm-gem.js";
import {
  drmModeCreateLeaseIoctl,
  drmModeGetLeaseIoctl,
  drmModeListLesseesIoctl,
  drmModeRevokeLeaseIoctl,
} from "./drm-lease.js";
import { drmModeGetresources } from "./drm-mode-config.js";
import {
  drmModeCursor2Ioctl,
  drmModeCursorIoctl,
  drmModeGetplane,
  drmModeGetplaneRes,
  drmModePageFlipIoctl,
} from "./drm-plane.js";
import { drmPrimeFdToHandleIoctl, drmPrimeHandleToFdIoctl } from "./drm-prime.js";
import {
  drmSyncobjCreateIoctl,
  drmSyncobjDestroyIoctl,
  drmSyncobjFdToHandleIoctl,
  drmSyncobjHandleToFdIoctl,
  drmSyncobjQueryIoctl,
  drmSyncobjResetIoctl,
  drmSyncobjSignalIoctl,
  drmSyncobjTimelineSignalIoctl,
  drmSyncobjTimelineWaitIoctl,
  drmSyncobjTransferIoctl,
  drmSyncobjWaitIoctl,
} from "./drm-syncobj.js";
import { GEM_GETUNIQUE_MASTER_BEFORE_LOCK } from "./toggles.js";
import {
  DRM_AUTH_LAYOUT,
  DRM_CAP_ADDFB2_MODIFIERS,
  DRM_CAP_ASYNC_PAGE_FLIP,
  DRM_CAP_ATOMIC_ASYNC_PAGE_FLIP,
  DRM_CAP_CRTC_IN_VBLANK_EVENT,
  DRM_CAP_CURSOR_HEIGHT,
  DRM_CAP_CURSOR_WIDTH,
  DRM_CAP_DUMB_BUFFER,
  DRM_CAP_DUMB_PREFER_SHADOW,
  DRM_CAP_DUMB_PREFERRED_DEPTH,
  DRM_CAP_PAGE_FLIP_TARGET,
  DRM_CAP_PRIME,
  DRM_CAP_SYNCOBJ,
  DRM_CAP_SYNCOBJ_TIMELINE,
  DRM_CAP_TIMESTAMP_MONOTONIC,
  DRM_CAP_VBLANK_HIGH_CRTC,
  DRM_COMMAND_BASE,
  DRM_COMMAND_END,
  DRM_GEM_CHANGE_HANDLE_LAYOUT,
  DRM_GEM_CLOSE_LAYOUT,
  DRM_GEM_FLINK_LAYOUT,
  DRM_GEM_OPEN_LAYOUT,
  DRM_GET_CAP_LAYOUT,
  DRM_IF_MAJOR,
  DRM_IF_MINOR,
  DRM_IOCTL_AUTH_MAGIC,
  DRM_IOCTL_BASE_CODE,
  DRM_IOCTL_DROP_MASTER,
  DRM_IOCTL_GEM_CHANGE_HANDLE,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_GET_MAGIC,
  DRM_IOCTL_GET_UNIQUE,
  DRM_IOCTL_MODE_ADDFB,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CLOSEFB,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_CREATE_LEASE,
  DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_DIRTYFB,
  DRM_IOCTL_MODE_GET_LEASE,
  DRM_IOCTL_MODE_GETFB,
  DRM_IOCTL_MODE_GETFB2,
  DRM_IOCTL_MODE_LIST_LESSEES,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_MODE_REVOKE_LEASE,
  DRM_IOCTL_MODE_RMFB,
  DRM_IOCTL_NR,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_SET_CLIENT_CAP,
  DRM_IOCTL_SET_MASTER,
  DRM_IOCTL_SET_UNIQUE,
  DRM_IOCTL_SET_VERSION,
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
  DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
  DRM_IOCTL_SYNCOBJ_QUERY,
  DRM_IOCTL_SYNCOBJ_RESET,
  DRM_IOCTL_SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
  DRM_IOCTL_SYNCOBJ_TRANSFER,
  DRM_IOCTL_SYNCOBJ_WAIT,
  DRM_IOCTL_TYPE,
  DRM_IOCTL_VERSION,
  DRM_MODE_CLOSEFB_LAYOUT,
  DRM_MODE_CREATE_DUMB_LAYOUT,
  DRM_MODE_CREATE_LEASE_LAYOUT,
  DRM_MODE_DESTROY_DUMB_LAYOUT,
  DRM_MODE_FB_CMD_LAYOUT,
  DRM_MODE_FB_CMD2_LAYOUT,
  DRM_MODE_FB_DIRTY_CMD_LAYOUT,
  DRM_MODE_GET_LEASE_LAYOUT,
  DRM_MODE_LIST_LESSEES_LAYOUT,
  DRM_MODE_MAP_DUMB_LAYOUT,
  DRM_MODE_REVOKE_LEASE_LAYOUT,
  DRM_MODE_RMFB_LAYOUT,
  DRM_PRIME_CAP_EXPORT,
  DRM_PRIME_CAP_IMPORT,
  DRM_PRIME_HANDLE_LAYOUT,
  DRM_SET_CLIENT_CAP_LAYOUT,
  DRM_SET_VERSION_LAYOUT,
  DRM_SYNCOBJ_ARRAY_LAYOUT,
  DRM_SYNCOBJ_CREATE_LAYOUT,
  DRM_SYNCOBJ_DESTROY_LAYOUT,
  DRM_SYNCOBJ_HANDLE_LAYOUT,
  DRM_SYNCOBJ_TIMELINE_ARRAY_LAYOUT,
  DRM_SYNCOBJ_TIMELINE_WAIT_LAYOUT,
  DRM_SYNCOBJ_TRANSFER_LAYOUT,
  DRM_SYNCOBJ_WAIT_LAYOUT,
  DRM_UNIQUE_LAYOUT,
  DRM_VERSION_LAYOUT,
  type DrmFieldSlot,
  type DrmGetCap,
  type DrmSetClientCap,
  type DrmSetVersion,
  type DrmStructLayout,
  type DrmUnique,
  type DrmVersion,
  drmStructSlots,
} from "./uapi.js";

/** The driver date DRM_IOCTL_VERSION reports since the drivers' dates were removed (6.14). */
const DRM_DRIVER_DATE = "0";

/**
 * Models drm_copy_field(): copies up to *len bytes of `value`; *len becomes its full length.
 * Locking: none.
 * References: none.
 */
function drmCopyField(
  v: DrmVersion,
  field: "name" | "date" | "desc",
  lenField: "name_len" | "date_len" | "desc_len",
  value: string,
): void {
  const len = Math.min(value.length, v[lenField]);
  v[lenField] = value.length;
  v[field] = value.slice(0, len);
}

/**
 * Models drm_version(): VERSION.
 * Locking: none.
 * References: none.
 */
async function drmVersion(dev: DrmDevice, v: DrmVersion, _file: DrmFile): Promise<number> {
  await point("drm_version");
  v.version_major = dev.driver.major;
  v.version_minor = dev.driver.minor;
  v.version_patchlevel = dev.driver.patchlevel;
  drmCopyField(v, "name", "name_len", dev.driver.name);
  drmCopyField(v, "date", "date_len", DRM_DRIVER_DATE);
  drmCopyField(v, "desc", "desc_len", dev.driver.desc);
  return 0;
}

/**
 * Models drm_getunique(): GET_UNIQUE, the bus id of the file's master (what SET_VERSION 1.1+
 * set, drm_set_busid()): copied to `unique` when `unique_len` is at least its length;
 * `unique_len` becomes its length (0 before any SET_VERSION: libdrm's drmOpenByName() relies on
 * that). Under `gem.getunique-master-before-lock` the master is loaded before master_mutex is
 * taken, as before b436acd1cf7f: a SET_MASTER of the file in that window can free it.
 * Locking: takes master_mutex; file->master is loaded under it.
 * References: none: master_mutex keeps the file's master alive (drm_new_set_master() puts the
 * old one under it).
 */
async function drmGetunique(dev: DrmDevice, u: DrmUnique, file: DrmFile): Promise<number> {
  let master: DrmMaster | null;
  if (toggleEnabled(GEM_GETUNIQUE_MASTER_BEFORE_LOCK.name)) {
    // struct drm_master *master = file_priv->master;
    // mutex_lock(&master->dev->master_mutex);
    master = file.master;
    if (!master) bug("BUG: kernel NULL pointer dereference in drm_getunique(): master->dev");
    master.checkAccess("drm_getunique: master->dev");
    const taken = master.dev.masterMutex.lock();
    if (taken !== RESOLVED) await taken;
  } else {
    const taken = dev.masterMutex.lock();
    if (taken !== RESOLVED) await taken;
    master = file.master;
    if (!master) bug("BUG: kernel NULL pointer dereference in drm_getunique(): master->unique_len");
  }
  master.checkAccess("drm_getunique: master->unique_len");
  if (u.unique_len >= master.uniqueLen && master.uniqueLen > 0) {
    // copy_to_user(u->unique, master->unique, master->unique_len)
    u.unique = (master.unique ?? "").slice(0, master.uniqueLen);
  }
  u.unique_len = master.uniqueLen;
  dev.masterMutex.unlockNow();
  return 0;
}

/**
 * Models drm_unset_busid(): frees the master's bus id.
 * Locking: master_mutex held.
 * References: none.
 */
function drmUnsetBusid(dev: DrmDevice, master: DrmMaster): void {
  lockdepAssertHeld(dev.masterMutex);
  master.unique = null;
  master.uniqueLen = 0;
}

/**
 * Models drm_set_busid() for a device that is not on PCI: the master's bus id (freed first if it
 * had one: drm_unset_busid()) becomes a copy of the device's unique name (its parent device's
 * name, the driver's here; the kernel's drm_pci_set_busid() for a PCI device is not modeled).
 * Always 0 here (kstrdup() cannot fail: the string is no slab object).
 * Locking: master_mutex held.
 * References: none; the file's master lives while master_mutex is held.
 */
function drmSetBusid(dev: DrmDevice, file: DrmFile): number {
  lockdepAssertHeld(dev.masterMutex);
  const master = file.master;
  if (!master) bug("BUG: kernel NULL pointer dereference in drm_set_busid(): master->unique");
  master.checkAccess("drm_set_busid: master->unique");
  if (master.unique !== null) drmUnsetBusid(dev, master);
  master.unique = dev.driver.name;
  master.uniqueLen = dev.driver.name.length;
  return 0;
}

/**
 * Models drm_invalid_op(): the handler of the core ioctls that only legacy drivers served
 * (SET_UNIQUE): -EINVAL once the permission checks passed.
 * Locking: none.
 * References: none.
 */
async function drmInvalidOp(_dev: DrmDevice, _data: object, _file: DrmFile): Promise<number> {
  await point("drm_invalid_op");
  return -EINVAL;
}

/**
 * Models drm_setversion(): SET_VERSION (DRM_MASTER). A requested interface version (unless
 * major is -1) must be 1.0-1.4; 1.1 and later also set the master's bus id (again each time:
 * drm_set_busid() replaces it). A requested driver version (unless major is -1) must match the driver's major and not
 * exceed its minor. Whatever the outcome, the struct is filled with the interface version (1.4)
 * and the driver's, which drm_ioctl() copies back even on error.
 * Locking: takes master_mutex.
 * References: none.
 */
async function drmSetversion(dev: DrmDevice, sv: DrmSetVersion, file: DrmFile): Promise<number> {
  const masterMutexTaken = dev.masterMutex.lock();
  if (masterMutexTaken !== RESOLVED) await masterMutexTaken;
  const retcode = drmSetversionChecks(dev, sv, file);
  // done:
  sv.drm_di_major = DRM_IF_MAJOR;
  sv.drm_di_minor = DRM_IF_MINOR;
  sv.drm_dd_major = dev.driver.major;
  sv.drm_dd_minor = dev.driver.minor;
  dev.masterMutex.unlockNow();
  return retcode;
}

/** The body of drm_setversion() up to its `done:` label. */
function drmSetversionChecks(dev: DrmDevice, sv: DrmSetVersion, file: DrmFile): number {
  if (sv.drm_di_major !== -1) {
    if (sv.drm_di_major !== DRM_IF_MAJOR || sv.drm_di_minor < 0 || sv.drm_di_minor > DRM_IF_MINOR)
      return -EINVAL;
    const ifVersion = (sv.drm_di_major << 16) | sv.drm_di_minor; // DRM_IF_VERSION()
    dev.ifVersion = Math.max(ifVersion, dev.ifVersion);
    if (sv.drm_di_minor >= 1) {
      // Version 1.1 includes tying of DRM to specific device; 1.4 has proper PCI domains.
      const ret = drmSetBusid(dev, file);
      if (ret) return ret;
    }
  }
  if (sv.drm_dd_major !== -1) {
    if (
      sv.drm_dd_major !== dev.driver.major ||
      sv.drm_dd_minor < 0 ||
      sv.drm_dd_minor > dev.driver.minor
    )
      return -EINVAL;
  }
  return 0;
}

/**
 * Models drm_getcap(): GET_CAP. TIMESTAMP_MONOTONIC, PRIME (import | export), SYNCOBJ(_TIMELINE)
 * for every driver; the other caps only for KMS drivers (-EOPNOTSUPP otherwise), -EINVAL for an
 * unknown one. The KMS caps read mode_config fields this model keeps at drmm_mode_config_init()'s
 * zeroes (preferred_depth, prefer_shadow, async_page_flip, cursor_width/height: no driver of the
 * model sets them, nor does v6.18's qxl) and a CRTC list that is empty here (PAGE_FLIP_TARGET:
 * 1 when no CRTC lacks ->page_flip_target).
 * Locking: none.
 * References: none.
 */
async function drmGetcap(dev: DrmDevice, req: DrmGetCap, _file: DrmFile): Promise<number> {
  await point("drm_getcap");
  req.value = 0;
  // Only some caps make sense with UMS/render-only drivers.
  switch (req.capability) {
    case DRM_CAP_TIMESTAMP_MONOTONIC:
      req.value = 1;
      return 0;
    case DRM_CAP_PRIME:
      req.value = DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT;
      return 0;
    case DRM_CAP_SYNCOBJ:
      req.value = drmCoreCheckFeature(dev, DRIVER_SYNCOBJ) ? 1 : 0;
      return 0;
    case DRM_CAP_SYNCOBJ_TIMELINE:
      req.value = drmCoreCheckFeature(dev, DRIVER_SYNCOBJ_TIMELINE) ? 1 : 0;
      return 0;
  }
  // Other caps only work with KMS drivers
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  switch (req.capability) {
    case DRM_CAP_DUMB_BUFFER:
      if (dev.driver.dumbCreate) req.value = 1;
      break;
    case DRM_CAP_VBLANK_HIGH_CRTC:
      req.value = 1;
      break;
    case DRM_CAP_DUMB_PREFERRED_DEPTH: // mode_config.preferred_depth
    case DRM_CAP_DUMB_PREFER_SHADOW: // mode_config.prefer_shadow
    case DRM_CAP_ASYNC_PAGE_FLIP: // mode_config.async_page_flip
      req.value = 0;
      break;
    case DRM_CAP_PAGE_FLIP_TARGET:
      req.value = 1; // drm_for_each_crtc(): no CRTC without ->page_flip_target
      break;
    case DRM_CAP_CURSOR_WIDTH: // mode_config.cursor_width, else 64
    case DRM_CAP_CURSOR_HEIGHT: // mode_config.cursor_height, else 64
      req.value = 64;
      break;
    case DRM_CAP_ADDFB2_MODIFIERS:
      req.value = dev.modeConfig.fbModifiersNotSupported ? 0 : 1;
      break;
    case DRM_CAP_CRTC_IN_VBLANK_EVENT:
      req.value = 1;
      break;
    case DRM_CAP_ATOMIC_ASYNC_PAGE_FLIP:
      // drm_core_check_feature(dev, DRIVER_ATOMIC) && mode_config.async_page_flip
      req.value = 0;
      break;
    default:
      return -EINVAL;
  }
  return 0;
}

/**
 * Models drm_setclientcap(): SET_CLIENT_CAP. Every client cap of the kernel (stereo 3D,
 * universal planes, atomic...) is a KMS cap, so the KMS check comes first: -EOPNOTSUPP for
 * non-KMS drivers, whatever the cap; then unknown caps and values other than 0/1 are -EINVAL.
 * Simplification: KMS client caps are accepted and ignored (and ATOMIC's value 2 is refused),
 * except DRM_CLIENT_CAP_UNIVERSAL_PLANES, which sets the file's `universal_planes`
 * (GETPLANERESOURCES then lists primary planes).
 * Locking: none.
 * References: none.
 */
async function drmSetclientcap(
  dev: DrmDevice,
  req: DrmSetClientCap,
  file: DrmFile,
): Promise<number> {
  await point("drm_setclientcap");
  // No render-only settable capabilities for now; below caps only work with KMS drivers.
  if (!drmCoreCheckFeature(dev, DRIVER_MODESET)) return -EOPNOTSUPP;
  if (req.capability < 1 || req.capability > 6) return -EINVAL;
  if (req.value > 1) return -EINVAL;
  // DRM_CLIENT_CAP_UNIVERSAL_PLANES
  if (req.capability === 2) file.universalPlanes = req.value === 1;
  return 0;
}

/**
 * Models drm_ioctls[]: the core ioctl table, by ioctl number (entries this model does not
 * implement are absent: -EINVAL, as an entry without a handler).
 */
export const DRM_CORE_IOCTLS: ReadonlyMap<number, DrmIoctlDesc> = new Map(
  [
    drmIoctlDef(DRM_IOCTL_VERSION, drmVersion, DRM_RENDER_ALLOW, DRM_VERSION_LAYOUT, "VERSION"),
    drmIoctlDef(DRM_IOCTL_GET_UNIQUE, drmGetunique, 0, DRM_UNIQUE_LAYOUT, "GET_UNIQUE"),
    drmIoctlDef(DRM_IOCTL_GET_MAGIC, drmGetmagic, 0, DRM_AUTH_LAYOUT, "GET_MAGIC"),
    drmIoctlDef(
      DRM_IOCTL_SET_VERSION,
      drmSetversion,
      DRM_MASTER,
      DRM_SET_VERSION_LAYOUT,
      "SET_VERSION",
    ),
    drmIoctlDef(
      DRM_IOCTL_GEM_CLOSE,
      drmGemCloseIoctl,
      DRM_RENDER_ALLOW,
      DRM_GEM_CLOSE_LAYOUT,
      "GEM_CLOSE",
    ),
    drmIoctlDef(DRM_IOCTL_GEM_FLINK, drmGemFlinkIoctl, DRM_AUTH, DRM_GEM_FLINK_LAYOUT, "GEM_FLINK"),
    drmIoctlDef(DRM_IOCTL_GEM_OPEN, drmGemOpenIoctl, DRM_AUTH, DRM_GEM_OPEN_LAYOUT, "GEM_OPEN"),
    drmIoctlDef(
      DRM_IOCTL_GEM_CHANGE_HANDLE,
      drmGemChangeHandleIoctl,
      DRM_RENDER_ALLOW,
      DRM_GEM_CHANGE_HANDLE_LAYOUT,
      "GEM_CHANGE_HANDLE",
    ),
    drmIoctlDef(DRM_IOCTL_GET_CAP, drmGetcap, DRM_RENDER_ALLOW, DRM_GET_CAP_LAYOUT, "GET_CAP"),
    drmIoctlDef(
      DRM_IOCTL_SET_CLIENT_CAP,
      drmSetclientcap,
      0,
      DRM_SET_CLIENT_CAP_LAYOUT,
      "SET_CLIENT_CAP",
    ),
    drmIoctlDef(
      DRM_IOCTL_SET_UNIQUE,
      drmInvalidOp,
      DRM_AUTH | DRM_MASTER | DRM_ROOT_ONLY,
      DRM_UNIQUE_LAYOUT,
      "SET_UNIQUE",
    ),
    drmIoctlDef(DRM_IOCTL_AUTH_MAGIC, drmAuthmagic, DRM_MASTER, DRM_AUTH_LAYOUT, "AUTH_MAGIC"),
    drmIoctlDef(DRM_IOCTL_SET_MASTER, drmSetmasterIoctl, 0, null, "SET_MASTER"),
    drmIoctlDef(DRM_IOCTL_DROP_MASTER, drmDropmasterIoctl, 0, null, "DROP_MASTER"),
    drmIoctlDef(
      DRM_IOCTL_PRIME_HANDLE_TO_FD,
      drmPrimeHandleToFdIoctl,
      DRM_RENDER_ALLOW,
      DRM_PRIME_HANDLE_LAYOUT,
      "PRIME_HANDLE_TO_FD",
    ),
    drmIoctlDef(
      DRM_IOCTL_PRIME_FD_TO_HANDLE,
      drmPrimeFdToHandleIoctl,
      DRM_RENDER_ALLOW,
      DRM_PRIME_HANDLE_LAYOUT,
      "PRIME_FD_TO_HANDLE",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_CREATE,
      drmSyncobjCreateIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_CREATE_LAYOUT,
      "SYNCOBJ_CREATE",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_DESTROY,
      drmSyncobjDestroyIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_DESTROY_LAYOUT,
      "SYNCOBJ_DESTROY",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
      drmSyncobjHandleToFdIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_HANDLE_LAYOUT,
      "SYNCOBJ_HANDLE_TO_FD",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
      drmSyncobjFdToHandleIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_HANDLE_LAYOUT,
      "SYNCOBJ_FD_TO_HANDLE",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_WAIT,
      drmSyncobjWaitIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_WAIT_LAYOUT,
      "SYNCOBJ_WAIT",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_RESET,
      drmSyncobjResetIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_ARRAY_LAYOUT,
      "SYNCOBJ_RESET",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_SIGNAL,
      drmSyncobjSignalIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_ARRAY_LAYOUT,
      "SYNCOBJ_SIGNAL",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
      drmSyncobjTimelineWaitIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_TIMELINE_WAIT_LAYOUT,
      "SYNCOBJ_TIMELINE_WAIT",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_QUERY,
      drmSyncobjQueryIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_TIMELINE_ARRAY_LAYOUT,
      "SYNCOBJ_QUERY",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_TRANSFER,
      drmSyncobjTransferIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_TRANSFER_LAYOUT,
      "SYNCOBJ_TRANSFER",
    ),
    drmIoctlDef(
      DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
      drmSyncobjTimelineSignalIoctl,
      DRM_RENDER_ALLOW,
      DRM_SYNCOBJ_TIMELINE_ARRAY_LAYOUT,
      "SYNCOBJ_TIMELINE_SIGNAL",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_GETRESOURCES,
      drmModeGetresources,
      0,
      DRM_MODE_CARD_RES_LAYOUT,
      "MODE_GETRESOURCES",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_GETPLANERESOURCES,
      drmModeGetplaneRes,
      0,
      DRM_MODE_GET_PLANE_RES_LAYOUT,
      "MODE_GETPLANERESOURCES",
    ),
    drmIoctlDef(DRM_IOCTL_MODE_GETCRTC, drmModeGetcrtc, 0, DRM_MODE_CRTC_LAYOUT, "MODE_GETCRTC"),
    drmIoctlDef(
      DRM_IOCTL_MODE_SETCRTC,
      drmModeSetcrtc,
      DRM_MASTER,
      DRM_MODE_CRTC_LAYOUT,
      "MODE_SETCRTC",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_CURSOR,
      drmModeCursorIoctl,
      DRM_MASTER,
      DRM_MODE_CURSOR_LAYOUT,
      "MODE_CURSOR",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_GETPLANE,
      drmModeGetplane,
      0,
      DRM_MODE_GET_PLANE_LAYOUT,
      "MODE_GETPLANE",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_PAGE_FLIP,
      drmModePageFlipIoctl,
      DRM_MASTER,
      DRM_MODE_CRTC_PAGE_FLIP_LAYOUT,
      "MODE_PAGE_FLIP",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_CURSOR2,
      drmModeCursor2Ioctl,
      DRM_MASTER,
      DRM_MODE_CURSOR2_LAYOUT,
      "MODE_CURSOR2",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_CREATE_LEASE,
      drmModeCreateLeaseIoctl,
      DRM_MASTER,
      DRM_MODE_CREATE_LEASE_LAYOUT,
      "MODE_CREATE_LEASE",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_LIST_LESSEES,
      drmModeListLesseesIoctl,
      DRM_MASTER,
      DRM_MODE_LIST_LESSEES_LAYOUT,
      "MODE_LIST_LESSEES",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_GET_LEASE,
      drmModeGetLeaseIoctl,
      DRM_MASTER,
      DRM_MODE_GET_LEASE_LAYOUT,
      "MODE_GET_LEASE",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_REVOKE_LEASE,
      drmModeRevokeLeaseIoctl,
      DRM_MASTER,
      DRM_MODE_REVOKE_LEASE_LAYOUT,
      "MODE_REVOKE_LEASE",
    ),
    drmIoctlDef(DRM_IOCTL_MODE_GETFB, drmModeGetfb, 0, DRM_MODE_FB_CMD_LAYOUT, "MODE_GETFB"),
    drmIoctlDef(
      DRM_IOCTL_MODE_GETFB2,
      drmModeGetfb2Ioctl,
      0,
      DRM_MODE_FB_CMD2_LAYOUT,
      "MODE_GETFB2",
    ),
    drmIoctlDef(DRM_IOCTL_MODE_ADDFB, drmModeAddfbIoctl, 0, DRM_MODE_FB_CMD_LAYOUT, "MODE_ADDFB"),
    drmIoctlDef(DRM_IOCTL_MODE_RMFB, drmModeRmfbIoctl, 0, DRM_MODE_RMFB_LAYOUT, "MODE_RMFB"),
    drmIoctlDef(
      DRM_IOCTL_MODE_DIRTYFB,
      drmModeDirtyfbIoctl,
      DRM_MASTER,
      DRM_MODE_FB_DIRTY_CMD_LAYOUT,
      "MODE_DIRTYFB",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_CLOSEFB,
      drmModeClosefbIoctl,
      0,
      DRM_MODE_CLOSEFB_LAYOUT,
      "MODE_CLOSEFB",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_ADDFB2,
      drmModeAddfb2Ioctl,
      0,
      DRM_MODE_FB_CMD2_LAYOUT,
      "MODE_ADDFB2",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_CREATE_DUMB,
      drmModeCreateDumbIoctl,
      0,
      DRM_MODE_CREATE_DUMB_LAYOUT,
      "MODE_CREATE_DUMB",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_MAP_DUMB,
      drmModeMmapDumbIoctl,
      0,
      DRM_MODE_MAP_DUMB_LAYOUT,
      "MODE_MAP_DUMB",
    ),
    drmIoctlDef(
      DRM_IOCTL_MODE_DESTROY_DUMB,
      drmModeDestroyDumbIoctl,
      0,
      DRM_MODE_DESTROY_DUMB_LAYOUT,
      "MODE_DESTROY_DUMB",
    ),
  ].map((d) => [DRM_IOCTL_NR(d.cmd), d] as const),
);

/**
 * Models DRM_CORE_IOCTL_COUNT (ARRAY_SIZE(drm_ioctls), up to GEM_CHANGE_HANDLE's 0xd2 in v6.18):
 * core numbers at or above it are -EINVAL.
 */
export const DRM_CORE_IOCTL_COUNT = 0xd3;

/**
 * Models drm_ioctl_permit(): -EACCES for DRM_ROOT_ONLY without CAP_SYS_ADMIN, DRM_AUTH from an unauthenticated primary client, DRM_MASTER from a file that
 * is not the current master, and any ioctl without DRM_RENDER_ALLOW on a render node.
 * Locking: takes master_mutex for DRM_MASTER.
 * References: none.
 */
export async function drmIoctlPermit(flags: number, file: DrmFile): Promise<number> {
  // ROOT_ONLY is only for CAP_SYS_ADMIN
  if (flags & DRM_ROOT_ONLY && !capable(CAP_SYS_ADMIN)) return -EACCES;
  // AUTH is only for authenticated or render client
  if (flags & DRM_AUTH && !drmIsRenderClient(file) && !file.authenticated) return -EACCES;
  // MASTER is only for master or control clients
  if (flags & DRM_MASTER && !(await drmIsCurrentMaster(file))) return -EACCES;
  // Render clients must be explicitly allowed
  if (!(flags & DRM_RENDER_ALLOW) && drmIsRenderClient(file)) return -EACCES;
  return 0;
}

/**
 * drmIoctlPermit() for flags without DRM_MASTER, the only check that takes a lock: the same
 * checks in the same order, without an async frame.
 */
function drmIoctlPermitNoMaster(flags: number, file: DrmFile): number {
  if (flags & DRM_ROOT_ONLY && !capable(CAP_SYS_ADMIN)) return -EACCES;
  if (flags & DRM_AUTH && !drmIsRenderClient(file) && !file.authenticated) return -EACCES;
  if (!(flags & DRM_RENDER_ALLOW) && drmIsRenderClient(file)) return -EACCES;
  return 0;
}

/**
 * Models drm_ioctl_kernel(): -ENODEV if unplugged, the permission check, then the handler.
 * Locking: none held; the handler takes what it needs.
 * References: the caller holds the file.
 */
export function drmIoctlKernel(
  file: DrmFile,
  func: NonNullable<DrmIoctlDesc["func"]>,
  kdata: object,
  flags: number,
): Promise<number> {
  // Only DRM_MASTER's check takes a lock: without it, no async frame of its own.
  if (flags & DRM_MASTER) return drmIoctlKernelMaster(file, func, kdata, flags);
  try {
    const dev = file.minor.dev;
    if (dev.unplugged) return Promise.resolve(-ENODEV);
    const ret = drmIoctlPermitNoMaster(flags, file);
    if (ret) return Promise.resolve(ret);
    return Promise.resolve(func(dev, kdata as never, file));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** drmIoctlKernel() of a DRM_MASTER ioctl (drm_ioctl_permit() takes master_mutex). */
async function drmIoctlKernelMaster(
  file: DrmFile,
  func: NonNullable<DrmIoctlDesc["func"]>,
  kdata: object,
  flags: number,
): Promise<number> {
  const dev = file.minor.dev;
  if (dev.unplugged) return -ENODEV;
  const ret = await drmIoctlPermit(flags, file);
  if (ret) return ret;
  return func(dev, kdata as never, file);
}

/** The layout of an ioctl without an argument struct. */
const NO_LAYOUT: DrmStructLayout = [];

/** Each uapi layout's field slots, laid out once per process (layouts are constants). */
const layoutSlots = new WeakMap<DrmStructLayout, readonly DrmFieldSlot[]>();

function slotsOf(layout: DrmStructLayout): readonly DrmFieldSlot[] {
  let slots = layoutSlots.get(layout);
  if (slots === undefined) {
    slots = drmStructSlots(layout).slots;
    layoutSlots.set(layout, slots);
  }
  return slots;
}

/** Reads one user field as its C type; null is a fault. */
function readField(v: unknown, type: string): number | string | null {
  if (type === "str") return v === undefined || v === null ? "" : typeof v === "string" ? v : null;
  if (v === undefined) return 0;
  let n: number;
  if (typeof v === "bigint") n = Number(BigInt.asIntN(64, v));
  else if (typeof v === "number" && Number.isInteger(v)) n = v;
  else return null;
  switch (type) {
    case "u32":
      // ToUint32: n mod 2^32, exactly as ((n % 2^32) + 2^32) % 2^32 for an integer n, but a
      // small result stays a small integer (the double arithmetic made every u32 field a heap
      // number, and those spread into the IDRs' id arrays and the objects that store ids).
      return n >>> 0;
    case "s32":
      return n | 0;
    case "u16":
      return n & 0xffff;
    case "u8":
      return n & 0xff;
    case "u64":
      return n < 0 ? n + 2 ** 64 : n;
    default:
      return n;
  }
}

/**
 * Builds the kernel's struct from the user's: the fields within the first `inSize` bytes are
 * copied, the rest are 0. Returns null on a fault.
 */
function copyInStruct(
  layout: DrmStructLayout,
  user: IoctlArg,
  inSize: number,
): Record<string, number | string | number[]> | null {
  const slots = slotsOf(layout);
  const k: Record<string, number | string | number[]> = {};
  const src = user !== null && typeof user === "object" ? (user as Record<string, unknown>) : null;
  if (inSize > 0 && src === null) return null;
  for (const s of slots) {
    if (s.count !== undefined) {
      // A C array: each element within the first inSize bytes is copied, the rest are 0.
      const arr = src?.[s.name];
      if (src !== null && arr !== undefined && !Array.isArray(arr)) return null;
      const out: number[] = [];
      const elem = s.size / s.count;
      for (let i = 0; i < s.count; i++) {
        if (src !== null && s.offset + (i + 1) * elem <= inSize) {
          const v = readField((arr as unknown[] | undefined)?.[i], s.type);
          if (v === null || typeof v === "string") return null;
          out.push(v);
        } else {
          out.push(0);
        }
      }
      k[s.name] = out;
    } else if (src !== null && s.offset + s.size <= inSize) {
      const v = readField(src[s.name], s.type);
      if (v === null) return null;
      k[s.name] = v;
    } else {
      k[s.name] = s.type === "str" ? "" : 0;
    }
  }
  return k;
}

/** Copies the fields within the first `outSize` bytes back to the user's struct. */
function copyOutStruct(
  layout: DrmStructLayout,
  user: IoctlArg,
  k: Record<string, number | string | number[]>,
  outSize: number,
): number {
  if (outSize === 0) return 0;
  if (user === null || typeof user !== "object") return -EFAULT;
  const dst = user as Record<string, unknown>;
  try {
    for (const s of slotsOf(layout)) {
      if (s.offset + s.size <= outSize) {
        const v = k[s.name];
        dst[s.name] = Array.isArray(v) ? [...v] : v;
      }
    }
  } catch {
    // A struct whose field cannot be stored (a Map's `size`, a setter that throws): the
    // copy_to_user() fault.
    return -EFAULT;
  }
  return 0;
}

/**
 * Models drm_ioctl(): the ->unlocked_ioctl of DRM nodes. Returns the handler's result or a
 * negative errno: -ENODEV (unplugged), -ENOTTY (not a DRM command), -EINVAL (unknown number or
 * no handler), -EFAULT (bad argument), -EACCES (permissions). A file whose drm_open() has not
 * set private_data yet is a NULL pointer oops (BUG), as file_priv->minor is in the kernel.
 * Locking: none held.
 * References: the caller (the syscall) holds the file.
 */
export function drmIoctl(filp: File, cmd: number, arg: IoctlArg): Promise<number> {
  // Up to the handler the code is synchronous: no async frame of its own when the point keeps
  // the running task (pointNow()); a throw still gives a rejected promise.
  try {
    const file = filp.privateData as DrmFile | null;
    // file_priv->minor->dev: a file whose drm_open() has not set private_data (only a broken fd
    // lookup reaches one: fd_install() comes after ->open) is a NULL pointer oops.
    if (!file)
      bug("BUG: kernel NULL pointer dereference in drm_ioctl(): file->private_data is NULL");
    const dev = file.minor.dev;
    const entered = pointNow("drm_ioctl");
    if (entered !== null) return entered.then(() => drmIoctlAfterPoint(file, dev, cmd, arg));
    return drmIoctlAfterPoint(file, dev, cmd, arg);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** drmIoctl() after its point: the checks, the copy-in, the handler and the copy-out. */
function drmIoctlAfterPoint(
  file: DrmFile,
  dev: DrmDevice,
  cmd: number,
  arg: IoctlArg,
): Promise<number> {
  if (dev.unplugged) return Promise.resolve(-ENODEV);
  if (DRM_IOCTL_TYPE(cmd) !== DRM_IOCTL_BASE_CODE) return Promise.resolve(-ENOTTY);
  const nr = DRM_IOCTL_NR(cmd);
  const isDriverIoctl = nr >= DRM_COMMAND_BASE && nr < DRM_COMMAND_END;
  let ioctl: DrmIoctlDesc | undefined;
  if (isDriverIoctl) {
    ioctl = dev.driver.ioctls?.[nr - DRM_COMMAND_BASE];
  } else if (nr < DRM_CORE_IOCTL_COUNT) {
    ioctl = DRM_CORE_IOCTLS.get(nr);
  }
  if (!ioctl?.func) return Promise.resolve(-EINVAL);

  const userSize = _IOC_SIZE(cmd);
  const both = _IOC_DIR(cmd) & _IOC_DIR(ioctl.cmd);
  const inSize = both & _IOC_WRITE ? userSize : 0;
  const outSize = both & _IOC_READ ? userSize : 0;
  // Do not trust userspace, use our own definition
  const layout = ioctl.layout ?? NO_LAYOUT;
  const kdata = copyInStruct(layout, arg, inSize);
  if (kdata === null) return Promise.resolve(-EFAULT);
  return drmIoctlKernel(file, ioctl.func, kdata, ioctl.flags).then((ret) =>
    drmIoctlCopyOut(layout, arg, kdata, outSize, ret),
  );
}

/** drmIoctl()'s copy-out of the kernel struct once the handler returned `ret`. */
function drmIoctlCopyOut(
  layout: DrmStructLayout,
  arg: IoctlArg,
  kdata: Record<string, number | string | number[]>,
  outSize: number,
  ret: number,
): number {
  if (copyOutStruct(layout, arg, kdata, outSize) !== 0) return -EFAULT;
  // drm_ioctl() copies out whatever the handler returned (CREATE_DUMB's cleared fields,
  // SET_VERSION's versions); the syscall layer's copy-back only happens on success.
  if (ret < 0 && outSize > 0) {
    const user = ioctlUserArg(arg);
    if (user !== arg && copyOutStruct(layout, user as IoctlArg, kdata, outSize) !== 0)
      return -EFAULT;
  }
  return ret;
}
