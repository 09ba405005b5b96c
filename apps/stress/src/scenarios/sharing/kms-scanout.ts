/**
 * A compositor's display calls, as libdrm 2.4.120's xf86drmMode.c makes them and a legacy-KMS
 * compositor (weston's DRM backend without atomic) calls them: drmModeGetResources() (the CRTC
 * and connector ids), drmModeSetCrtc() (a mode and a framebuffer on a CRTC, or the CRTC off),
 * drmModePageFlip() with DRM_MODE_PAGE_FLIP_EVENT, and the flip-complete events read back from
 * the DRM fd (what drmHandleEvent() hands its page_flip_handler). The ids and the events go
 * through one page of the process's memory, mapped once (`mapScanoutPage()`), where libdrm uses
 * malloc() and a stack buffer; drmModeGetResources() asks twice (the counts, then the ids), here
 * one call with room for MAX_PIPES ids does. A failing call throws SysError, as libdrm's callers
 * see -1 and errno.
 *
 * Kernel counterpart: drivers/gpu/drm/drm_mode_config.c (drm_mode_getresources()), drm_crtc.c
 * (drm_mode_setcrtc()), drm_plane.c (drm_mode_page_flip_ioctl()), drm_file.c (drm_read()).
 */

import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { checkRet, type DrmFd, poll } from "@primetime/libdrm";
import {
  DRM_EVENT_VBLANK_SIZE,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_IOCTL_MODE_SETCRTC,
  DRM_MODE_PAGE_FLIP_EVENT,
  type DrmEventVblank,
  type DrmModeCardRes,
  type DrmModeCrtc,
  type DrmModeCrtcPageFlip,
  decodeDrmEventVblank,
} from "@primetime/uapi";

/** The most CRTCs (and connectors) GETRESOURCES is given room for. */
export const MAX_PIPES = 4;
/** Where the page keeps the connector ids (the CRTC ids are at its start). */
const CONN_OFFSET = 64;
/** Where the page receives the events read (the rest of the page). */
const EVENTS_OFFSET = 1024;
const EVENTS_SIZE = PAGE_SIZE - EVENTS_OFFSET;
/** POLLIN (include/uapi/asm-generic/poll.h): an event is waiting to be read. */
const POLLIN = 0x001;

/** One display pipe: a CRTC and the connector it drives (by index: qxl and vmwgfx pair them). */
export interface Pipe {
  readonly crtc: number;
  readonly conn: number;
  /** The user address of `conn` (SETCRTC's set_connectors_ptr). */
  readonly connPtr: number;
}

/** A mode `width` x `height` (progressive, 60 Hz, no blanking to speak of). */
export interface ModeSize {
  readonly width: number;
  readonly height: number;
}

/** mmap() of an anonymous page for the ids and events, touched so later copies fault nothing. */
export async function mapScanoutPage(p: Process): Promise<number> {
  const prot = PROT_READ | PROT_WRITE;
  const page = checkRet(
    await p.mmap(0, PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
    "mmap",
  );
  checkRet(await p.writeMemory(page, new Uint8Array(PAGE_SIZE)), "memset");
  return page;
}

/** munmap() of the page of mapScanoutPage(). */
export async function unmapScanoutPage(p: Process, page: number): Promise<void> {
  checkRet(await p.munmap(page, PAGE_SIZE), "munmap");
}

/**
 * drmModeGetResources(), the CRTCs and connectors: GETRESOURCES with room for MAX_PIPES ids of
 * each in `page`; the pipes (CRTC i with connector i). Throws SysError.
 */
export async function getPipes(fd: DrmFd, page: number): Promise<Pipe[]> {
  const r: DrmModeCardRes = {
    fb_id_ptr: 0,
    crtc_id_ptr: page,
    connector_id_ptr: page + CONN_OFFSET,
    encoder_id_ptr: 0,
    count_fbs: 0,
    count_crtcs: MAX_PIPES,
    count_connectors: MAX_PIPES,
    count_encoders: 0,
    min_width: 0,
    max_width: 0,
    min_height: 0,
    max_height: 0,
  };
  await fd.ioctl(DRM_IOCTL_MODE_GETRESOURCES, r, "DRM_IOCTL_MODE_GETRESOURCES");
  const n = Math.min(r.count_crtcs, r.count_connectors, MAX_PIPES);
  const b = await fd.proc.readMemory(page, CONN_OFFSET + 4 * MAX_PIPES);
  if (typeof b === "number") checkRet(b, "GETRESOURCES ids");
  const v = new DataView((b as Uint8Array).buffer, (b as Uint8Array).byteOffset);
  const pipes: Pipe[] = [];
  for (let i = 0; i < n; i++)
    pipes.push({
      crtc: v.getUint32(4 * i, true),
      conn: v.getUint32(CONN_OFFSET + 4 * i, true),
      connPtr: page + CONN_OFFSET + 4 * i,
    });
  return pipes;
}

/**
 * drmModeSetCrtc(): framebuffer `fbId` at 0,0 on the pipe with mode `mode` (fb 0 and no mode:
 * the CRTC off, as a compositor disables an output). A blocking commit: the framebuffer is on
 * screen when it returns. Throws SysError.
 */
export async function setCrtc(
  fd: DrmFd,
  pipe: Pipe,
  fbId: number,
  mode: ModeSize | null,
): Promise<void> {
  const on = fbId !== 0 && mode !== null;
  const w = mode?.width ?? 0;
  const h = mode?.height ?? 0;
  const r: DrmModeCrtc = {
    set_connectors_ptr: on ? pipe.connPtr : 0,
    count_connectors: on ? 1 : 0,
    crtc_id: pipe.crtc,
    fb_id: on ? fbId : 0,
    x: 0,
    y: 0,
    gamma_size: 0,
    mode_valid: on ? 1 : 0,
    mode_clock: on ? 6500 : 0,
    mode_hdisplay: w,
    mode_hsync_start: on ? w + 4 : 0,
    mode_hsync_end: on ? w + 8 : 0,
    mode_htotal: on ? w + 16 : 0,
    mode_hskew: 0,
    mode_vdisplay: h,
    mode_vsync_start: h,
    mode_vsync_end: h,
    mode_vtotal: h,
    mode_vscan: 0,
    mode_vrefresh: on ? 60 : 0,
    mode_flags: 0,
    mode_type: 0,
    mode_name: new Array<number>(32).fill(0),
  };
  await fd.ioctl(DRM_IOCTL_MODE_SETCRTC, r, "DRM_IOCTL_MODE_SETCRTC");
}

/**
 * drmModePageFlip() with DRM_MODE_PAGE_FLIP_EVENT: `fbId` replaces what the pipe's primary plane
 * shows at the next vblank (a nonblocking commit); the flip-complete event, with `userData`,
 * comes on the fd. Throws SysError (EBUSY while a flip of the CRTC is pending).
 */
export async function pageFlip(
  fd: DrmFd,
  pipe: Pipe,
  fbId: number,
  userData: number,
): Promise<void> {
  const r: DrmModeCrtcPageFlip = {
    crtc_id: pipe.crtc,
    fb_id: fbId,
    flags: DRM_MODE_PAGE_FLIP_EVENT,
    sequence: 0,
    user_data: userData,
  };
  await fd.ioctl(DRM_IOCTL_MODE_PAGE_FLIP, r, "DRM_IOCTL_MODE_PAGE_FLIP");
}

/**
 * One read(2) of the fd's events into `page` (blocking until at least one comes), decoded as
 * struct drm_event_vblank: what drmHandleEvent() passes to its vblank and page-flip handlers.
 * Null when the read's length is not a whole number of such events. Throws SysError.
 */
export async function readVblankEvents(
  p: Process,
  fd: DrmFd,
  page: number,
): Promise<DrmEventVblank[] | null> {
  const n = checkRet(await p.read(fd.fd, page + EVENTS_OFFSET, EVENTS_SIZE), "read");
  if (n === 0 || n % DRM_EVENT_VBLANK_SIZE !== 0) return null;
  const b = await p.readMemory(page + EVENTS_OFFSET, n);
  if (typeof b === "number") checkRet(b, "read events");
  const out: DrmEventVblank[] = [];
  for (let off = 0; off < n; off += DRM_EVENT_VBLANK_SIZE)
    out.push(decodeDrmEventVblank(b as Uint8Array, off));
  return out;
}

/** poll(2) of the fd for POLLIN without waiting: whether an event is waiting. */
export async function eventPending(p: Process, fd: DrmFd): Promise<boolean> {
  const fds = [{ fd: fd.fd, events: POLLIN, revents: 0 }];
  return (await poll(p, fds, 0)) > 0;
}
