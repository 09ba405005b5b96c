/**
 * vmwgfx's uapi (include/uapi/drm/vmwgfx_drm.h), the part this model implements: buffer
 * objects (ALLOC_BO, HANDLE_CLOSE, SYNCCPU), guest-backed surfaces (GB_SURFACE_CREATE,
 * GB_SURFACE_REF, UNREF_SURFACE), a small EXECBUF with its struct drm_vmw_fence_rep and fence-fd
 * flags, the fence object ioctls (FENCE_WAIT, FENCE_SIGNALED, FENCE_UNREF), fence events
 * (FENCE_EVENT, struct drm_vmw_event_fence), and contexts (CREATE_CONTEXT, UNREF_CONTEXT,
 * CREATE_EXTENDED_CONTEXT).
 *
 * The structs are plain objects with the uapi field names. The kernel's unions of a request and
 * a reply (`union drm_vmw_alloc_bo_arg { req; rep; }`) are flattened into one struct holding
 * both sides' fields (reply fields that share a name with a request field get a `rep_` prefix),
 * so the command numbers carry the flattened size rather than the union's (ALLOC_BO,
 * GB_SURFACE_CREATE, GB_SURFACE_REF, CREATE_EXTENDED_CONTEXT; EXECBUF takes its command stream
 * as text): their `_IOC_SIZE` differs from the kernel's, their number (`_IOC_NR`), which the
 * driver's ioctl table is indexed by, does not. The other requests' numbers are the kernel's
 * (checked in uapi.test.ts).
 *
 * The header defines the DRM_VMW_* command numbers and the structs; the DRM_IOCTL_VMW_* request
 * numbers are vmwgfx_drv.c's macros (userspace computes the same with libdrm's
 * drmCommandWriteRead()). Both are here, so userspace (the fuzzer) builds vmwgfx requests from
 * this package alone; @primetime/vmwgfx decodes them with it and re-exports it.
 */

import { DRM_COMMAND_BASE, DRM_IOR, DRM_IOW, DRM_IOWR, type DrmStructLayout } from "./drm.js";

/** Models DRM_VMW_ALLOC_BO (= DRM_VMW_ALLOC_DMABUF). */
export const DRM_VMW_ALLOC_BO = 1;
/** Models DRM_VMW_HANDLE_CLOSE (= DRM_VMW_UNREF_DMABUF). */
export const DRM_VMW_HANDLE_CLOSE = 2;
/** Models DRM_VMW_UNREF_SURFACE. */
export const DRM_VMW_UNREF_SURFACE = 10;
/** Models DRM_VMW_EXECBUF. */
export const DRM_VMW_EXECBUF = 12;
/** Models DRM_VMW_FENCE_WAIT. */
export const DRM_VMW_FENCE_WAIT = 14;
/** Models DRM_VMW_FENCE_SIGNALED. */
export const DRM_VMW_FENCE_SIGNALED = 15;
/** Models DRM_VMW_FENCE_UNREF. */
export const DRM_VMW_FENCE_UNREF = 16;
/** Models DRM_VMW_FENCE_EVENT. */
export const DRM_VMW_FENCE_EVENT = 17;
/** Models DRM_VMW_GB_SURFACE_CREATE. */
export const DRM_VMW_GB_SURFACE_CREATE = 23;
/** Models DRM_VMW_GB_SURFACE_REF. */
export const DRM_VMW_GB_SURFACE_REF = 24;
/** Models DRM_VMW_SYNCCPU. */
export const DRM_VMW_SYNCCPU = 25;
/** Models DRM_VMW_CREATE_EXTENDED_CONTEXT. */
export const DRM_VMW_CREATE_EXTENDED_CONTEXT = 26;
/** The number of entries of the driver's ioctl table (DRM_VMW_CREATE_EXTENDED_CONTEXT + 1 here). */
export const DRM_VMW_NUM_IOCTLS = DRM_VMW_CREATE_EXTENDED_CONTEXT + 1;

/** Models SVGA3D_INVALID_ID: "no buffer" in buffer_handle. */
export const SVGA3D_INVALID_ID = 0xffffffff;

/** Models enum drm_vmw_handle_type. */
export const DRM_VMW_HANDLE_LEGACY = 0;
export const DRM_VMW_HANDLE_PRIME = 1;

/** Models enum drm_vmw_surface_flags. */
export const drm_vmw_surface_flag_shareable = 1 << 0;
export const drm_vmw_surface_flag_scanout = 1 << 1;
export const drm_vmw_surface_flag_create_buffer = 1 << 2;
export const drm_vmw_surface_flag_coherent = 1 << 3;

/** Models enum drm_vmw_synccpu_flags. */
export const drm_vmw_synccpu_read = 1 << 0;
export const drm_vmw_synccpu_write = 1 << 1;
export const drm_vmw_synccpu_dontblock = 1 << 2;
export const drm_vmw_synccpu_allow_cs = 1 << 3;
/** Models enum drm_vmw_synccpu_op. */
export const drm_vmw_synccpu_grab = 0;
export const drm_vmw_synccpu_release = 1;

/** union drm_vmw_alloc_bo_arg: in `size`; out `handle`, `map_handle`, `cur_gmr_id/offset`. */
export interface DrmVmwAllocBoArg {
  size: number;
  pad64: number;
  map_handle: number;
  handle: number;
  cur_gmr_id: number;
  cur_gmr_offset: number;
  rep_pad64: number;
}
export const DRM_VMW_ALLOC_BO_LAYOUT: DrmStructLayout = [
  ["size", "u32"],
  ["pad64", "u32"],
  ["map_handle", "u64"],
  ["handle", "u32"],
  ["cur_gmr_id", "u32"],
  ["cur_gmr_offset", "u32"],
  ["rep_pad64", "u32"],
];

/** struct drm_vmw_handle_close_arg (= drm_vmw_unref_dmabuf_arg). */
export interface DrmVmwHandleCloseArg {
  handle: number;
  pad64: number;
}
export const DRM_VMW_HANDLE_CLOSE_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["pad64", "u32"],
];

/** struct drm_vmw_surface_arg: `sid` and its `handle_type`. */
export interface DrmVmwSurfaceArg {
  sid: number;
  handle_type: number;
}
export const DRM_VMW_SURFACE_ARG_LAYOUT: DrmStructLayout = [
  ["sid", "s32"],
  ["handle_type", "u32"],
];

/**
 * union drm_vmw_gb_surface_create_arg: the request (struct drm_vmw_gb_surface_create_req with
 * its base_size flattened) and the reply (struct drm_vmw_gb_surface_create_rep).
 */
export interface DrmVmwGbSurfaceCreateArg {
  svga3d_flags: number;
  format: number;
  mip_levels: number;
  drm_surface_flags: number;
  multisample_count: number;
  autogen_filter: number;
  buffer_handle: number;
  array_size: number;
  width: number;
  height: number;
  depth: number;
  handle: number;
  backup_size: number;
  rep_buffer_handle: number;
  buffer_size: number;
  buffer_map_handle: number;
}
export const DRM_VMW_GB_SURFACE_CREATE_LAYOUT: DrmStructLayout = [
  ["svga3d_flags", "u32"],
  ["format", "u32"],
  ["mip_levels", "u32"],
  ["drm_surface_flags", "u32"],
  ["multisample_count", "u32"],
  ["autogen_filter", "u32"],
  ["buffer_handle", "u32"],
  ["array_size", "u32"],
  ["width", "u32"],
  ["height", "u32"],
  ["depth", "u32"],
  ["handle", "u32"],
  ["backup_size", "u32"],
  ["rep_buffer_handle", "u32"],
  ["buffer_size", "u32"],
  ["buffer_map_handle", "u64"],
];

/**
 * union drm_vmw_gb_surface_reference_arg: the request (struct drm_vmw_surface_arg) and the
 * reply (the creation request and reply of the surface, as the referencing file sees it).
 */
export interface DrmVmwGbSurfaceRefArg extends DrmVmwGbSurfaceCreateArg {
  sid: number;
  handle_type: number;
}
export const DRM_VMW_GB_SURFACE_REF_LAYOUT: DrmStructLayout = [
  ["sid", "s32"],
  ["handle_type", "u32"],
  ...DRM_VMW_GB_SURFACE_CREATE_LAYOUT,
];

/**
 * struct drm_vmw_execbuf_arg, reduced: `commands` is the command stream as text (see
 * vmwgfx-execbuf.ts, instead of the kernel's user pointer and command_size), `fence_seqno` the
 * model's own reply (the seqno of the submission's fence, as drm_vmw_fence_rep.seqno has it), then
 * the kernel's fields: `fence_rep` (the user address of a struct drm_vmw_fence_rep, 0 for none),
 * `context_handle` and `imported_fence_fd` (read with DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD).
 */
export interface DrmVmwExecbufArg {
  commands: string;
  version: number;
  flags: number;
  fence_seqno: number;
  fence_rep?: number;
  context_handle?: number;
  imported_fence_fd?: number;
}
export const DRM_VMW_EXECBUF_LAYOUT: DrmStructLayout = [
  ["commands", "str"],
  ["version", "u32"],
  ["flags", "u32"],
  ["fence_seqno", "u32"],
  ["fence_rep", "u64"],
  ["context_handle", "u32"],
  ["imported_fence_fd", "s32"],
];
/** Models DRM_VMW_EXECBUF_VERSION. */
export const DRM_VMW_EXECBUF_VERSION = 2;
/** Models DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD: wait on the sync_file at imported_fence_fd. */
export const DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD = 1 << 0;
/** Models DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD: hand the fence out as a sync_file fd. */
export const DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD = 1 << 1;

/**
 * struct drm_vmw_fence_rep: what EXECBUF writes to the user's `fence_rep` address (24 bytes,
 * six 32-bit fields, little endian): the fence object `handle`, `mask`, `seqno`, the device's
 * `passed_seqno`, the exported sync_file `fd` (-1 if none) and `error` (the fence creation's;
 * userspace presets it to -EFAULT to notice a failed copy).
 */
export interface DrmVmwFenceRep {
  handle: number;
  mask: number;
  seqno: number;
  passed_seqno: number;
  fd: number;
  error: number;
}
/** sizeof(struct drm_vmw_fence_rep). */
export const DRM_VMW_FENCE_REP_SIZE = 24;

/** The bytes of a struct drm_vmw_fence_rep (copy_to_user()'s source). */
export function encodeDrmVmwFenceRep(rep: DrmVmwFenceRep): Uint8Array {
  const b = new Uint8Array(DRM_VMW_FENCE_REP_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, rep.handle >>> 0, true);
  v.setUint32(4, rep.mask >>> 0, true);
  v.setUint32(8, rep.seqno >>> 0, true);
  v.setUint32(12, rep.passed_seqno >>> 0, true);
  v.setInt32(16, rep.fd | 0, true);
  v.setInt32(20, rep.error | 0, true);
  return b;
}

/** A struct drm_vmw_fence_rep read back from its bytes (userspace's view). */
export function decodeDrmVmwFenceRep(b: Uint8Array): DrmVmwFenceRep {
  const v = new DataView(b.buffer, b.byteOffset, DRM_VMW_FENCE_REP_SIZE);
  return {
    handle: v.getUint32(0, true),
    mask: v.getUint32(4, true),
    seqno: v.getUint32(8, true),
    passed_seqno: v.getUint32(12, true),
    fd: v.getInt32(16, true),
    error: v.getInt32(20, true),
  };
}

/** Models DRM_VMW_EVENT_FENCE_SIGNALED: the type of a fence event. */
export const DRM_VMW_EVENT_FENCE_SIGNALED = 0x80000000;
/** Models DRM_VMW_FE_FLAG_REQ_TIME: stamp the event with the time the fence signalled. */
export const DRM_VMW_FE_FLAG_REQ_TIME = 1 << 0;

/**
 * struct drm_vmw_event_fence: the event read from the DRM fd (24 bytes: struct drm_event
 * `type`, `length`, then `user_data`, `tv_sec`, `tv_usec`, little endian).
 */
export interface DrmVmwEventFence {
  type: number;
  length: number;
  user_data: bigint;
  tv_sec: number;
  tv_usec: number;
}
/** sizeof(struct drm_vmw_event_fence). */
export const DRM_VMW_EVENT_FENCE_SIZE = 24;

/** The bytes of a struct drm_vmw_event_fence. */
export function encodeDrmVmwEventFence(e: DrmVmwEventFence): Uint8Array {
  const b = new Uint8Array(DRM_VMW_EVENT_FENCE_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, e.type >>> 0, true);
  v.setUint32(4, e.length >>> 0, true);
  v.setBigUint64(8, BigInt.asUintN(64, e.user_data), true);
  v.setUint32(16, e.tv_sec >>> 0, true);
  v.setUint32(20, e.tv_usec >>> 0, true);
  return b;
}

/** A struct drm_vmw_event_fence read back from its bytes at `offset` (userspace's view). */
export function decodeDrmVmwEventFence(b: Uint8Array, offset = 0): DrmVmwEventFence {
  const v = new DataView(b.buffer, b.byteOffset + offset, DRM_VMW_EVENT_FENCE_SIZE);
  return {
    type: v.getUint32(0, true),
    length: v.getUint32(4, true),
    user_data: v.getBigUint64(8, true),
    tv_sec: v.getUint32(16, true),
    tv_usec: v.getUint32(20, true),
  };
}

/**
 * struct drm_vmw_fence_event_arg: `fence_rep` (the user address of a struct drm_vmw_fence_rep
 * for the fence's handle, 0 for none), `user_data` (copied into the event), `handle` (an
 * existing fence object, 0 for a new fence), `flags` (DRM_VMW_FE_FLAG_REQ_TIME).
 */
export interface DrmVmwFenceEventArg {
  fence_rep: number;
  user_data: bigint | number;
  handle: number;
  flags: number;
}
export const DRM_VMW_FENCE_EVENT_LAYOUT: DrmStructLayout = [
  ["fence_rep", "u64"],
  ["user_data", "u64"],
  ["handle", "u32"],
  ["flags", "u32"],
];

/** Models DRM_VMW_FENCE_FLAG_EXEC. */
export const DRM_VMW_FENCE_FLAG_EXEC = 1 << 0;
/** Models DRM_VMW_FENCE_FLAG_QUERY. */
export const DRM_VMW_FENCE_FLAG_QUERY = 1 << 1;
/** Models DRM_VMW_WAIT_OPTION_UNREF: unreference the handle after a successful wait. */
export const DRM_VMW_WAIT_OPTION_UNREF = 1 << 0;

/** struct drm_vmw_fence_wait_arg. */
export interface DrmVmwFenceWaitArg {
  handle: number;
  cookie_valid: number;
  kernel_cookie: number;
  timeout_us: number;
  lazy: number;
  flags: number;
  wait_options: number;
  pad64: number;
}
export const DRM_VMW_FENCE_WAIT_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["cookie_valid", "s32"],
  ["kernel_cookie", "u64"],
  ["timeout_us", "u64"],
  ["lazy", "s32"],
  ["flags", "s32"],
  ["wait_options", "s32"],
  ["pad64", "s32"],
];

/** struct drm_vmw_fence_signaled_arg. */
export interface DrmVmwFenceSignaledArg {
  handle: number;
  flags: number;
  signaled: number;
  passed_seqno: number;
  signaled_flags: number;
  pad64: number;
}
export const DRM_VMW_FENCE_SIGNALED_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["flags", "u32"],
  ["signaled", "s32"],
  ["passed_seqno", "u32"],
  ["signaled_flags", "u32"],
  ["pad64", "u32"],
];

/** struct drm_vmw_fence_arg. */
export interface DrmVmwFenceArg {
  handle: number;
  pad64: number;
}
export const DRM_VMW_FENCE_ARG_LAYOUT: DrmStructLayout = [
  ["handle", "u32"],
  ["pad64", "u32"],
];

/** struct drm_vmw_synccpu_arg. */
export interface DrmVmwSynccpuArg {
  op: number;
  flags: number;
  handle: number;
  pad64: number;
}
export const DRM_VMW_SYNCCPU_LAYOUT: DrmStructLayout = [
  ["op", "u32"],
  ["flags", "u32"],
  ["handle", "u32"],
  ["pad64", "u32"],
];

/** Models DRM_IOCTL_VMW_ALLOC_BO. */
export const DRM_IOCTL_VMW_ALLOC_BO = DRM_IOWR(
  DRM_COMMAND_BASE + DRM_VMW_ALLOC_BO,
  DRM_VMW_ALLOC_BO_LAYOUT,
);
/** Models DRM_IOCTL_VMW_HANDLE_CLOSE. */
export const DRM_IOCTL_VMW_HANDLE_CLOSE = DRM_IOW(
  DRM_COMMAND_BASE + DRM_VMW_HANDLE_CLOSE,
  DRM_VMW_HANDLE_CLOSE_LAYOUT,
);
/** Models DRM_IOCTL_VMW_UNREF_SURFACE. */
export const DRM_IOCTL_VMW_UNREF_SURFACE = DRM_IOW(
  DRM_COMMAND_BASE + DRM_VMW_UNREF_SURFACE,
  DRM_VMW_SURFACE_ARG_LAYOUT,
);
/** Models DRM_IOCTL_VMW_GB_SURFACE_CREATE. */
export const DRM_IOCTL_VMW_GB_SURFACE_CREATE = DRM_IOWR(
  DRM_COMMAND_BASE + DRM_VMW_GB_SURFACE_CREATE,
  DRM_VMW_GB_SURFACE_CREATE_LAYOUT,
);
/** Models DRM_IOCTL_VMW_GB_SURFACE_REF. */
export const DRM_IOCTL_VMW_GB_SURFACE_REF = DRM_IOWR(
  DRM_COMMAND_BASE + DRM_VMW_GB_SURFACE_REF,
  DRM_VMW_GB_SURFACE_REF_LAYOUT,
);
/** Models DRM_IOCTL_VMW_EXECBUF. */
export const DRM_IOCTL_VMW_EXECBUF = DRM_IOWR(
  DRM_COMMAND_BASE + DRM_VMW_EXECBUF,
  DRM_VMW_EXECBUF_LAYOUT,
);
/** Models DRM_IOCTL_VMW_FENCE_WAIT. */
export const DRM_IOCTL_VMW_FENCE_WAIT = DRM_IOWR(
  DRM_COMMAND_BASE + DRM_VMW_FENCE_WAIT,
  DRM_VMW_FENCE_WAIT_LAYOUT,
);
/** Models DRM_IOCTL_VMW_FENCE_SIGNALED. */
export const DRM_IOCTL_VMW_FENCE_SIGNALED = DRM_IOWR(
  DRM_COMMAND_BASE + DRM_VMW_FENCE_SIGNALED,
  DRM_VMW_FENCE_SIGNALED_LAYOUT,
);
/** Models DRM_IOCTL_VMW_FENCE_UNREF. */
export const DRM_IOCTL_VMW_FENCE_UNREF = DRM_IOW(
  DRM_COMMAND_BASE + DRM_VMW_FENCE_UNREF,
  DRM_VMW_FENCE_ARG_LAYOUT,
);
/** Models DRM_IOCTL_VMW_FENCE_EVENT. */
export const DRM_IOCTL_VMW_FENCE_EVENT = DRM_IOW(
  DRM_COMMAND_BASE + DRM_VMW_FENCE_EVENT,
  DRM_VMW_FENCE_EVENT_LAYOUT,
);
/** Models DRM_IOCTL_VMW_SYNCCPU. */
export const DRM_IOCTL_VMW_SYNCCPU = DRM_IOW(
  DRM_COMMAND_BASE + DRM_VMW_SYNCCPU,
  DRM_VMW_SYNCCPU_LAYOUT,
);

/** Models DRM_VMW_CREATE_CONTEXT. */
export const DRM_VMW_CREATE_CONTEXT = 7;
/** Models DRM_VMW_UNREF_CONTEXT. */
export const DRM_VMW_UNREF_CONTEXT = 8;

/** struct drm_vmw_context_arg: out of CREATE_CONTEXT, into UNREF_CONTEXT. */
export interface DrmVmwContextArg {
  cid: number;
  pad64: number;
}
export const DRM_VMW_CONTEXT_ARG_LAYOUT: DrmStructLayout = [
  ["cid", "s32"],
  ["pad64", "u32"],
];

/** Models enum drm_vmw_extended_context. */
export const drm_vmw_context_legacy = 0;
export const drm_vmw_context_dx = 1;

/**
 * union drm_vmw_extended_context_arg, flattened: the request `req` (enum drm_vmw_extended_context)
 * and the reply `rep` (struct drm_vmw_context_arg: `cid`, `pad64`).
 */
export interface DrmVmwExtendedContextArg {
  req: number;
  cid: number;
  pad64: number;
}
export const DRM_VMW_EXTENDED_CONTEXT_ARG_LAYOUT: DrmStructLayout = [
  ["req", "u32"],
  ["cid", "s32"],
  ["pad64", "u32"],
];

/** Models DRM_IOCTL_VMW_CREATE_CONTEXT. */
export const DRM_IOCTL_VMW_CREATE_CONTEXT = DRM_IOR(
  DRM_COMMAND_BASE + DRM_VMW_CREATE_CONTEXT,
  DRM_VMW_CONTEXT_ARG_LAYOUT,
);
/** Models DRM_IOCTL_VMW_UNREF_CONTEXT. */
export const DRM_IOCTL_VMW_UNREF_CONTEXT = DRM_IOW(
  DRM_COMMAND_BASE + DRM_VMW_UNREF_CONTEXT,
  DRM_VMW_CONTEXT_ARG_LAYOUT,
);
/** Models DRM_IOCTL_VMW_CREATE_EXTENDED_CONTEXT. */
export const DRM_IOCTL_VMW_CREATE_EXTENDED_CONTEXT = DRM_IOWR(
  DRM_COMMAND_BASE + DRM_VMW_CREATE_EXTENDED_CONTEXT,
  DRM_VMW_EXTENDED_CONTEXT_ARG_LAYOUT,
);
