/**
 * Vblank events (drivers/gpu/drm/drm_vblank.c, include/drm/drm_vblank.h of Linux v6.18; the same
 * in v6.12.19), reduced to what the model's CRTCs use: a `drm_pending_vblank_event` carrying a
 * struct drm_event_vblank (DRM_EVENT_FLIP_COMPLETE for PAGE_FLIP's events, or an event the
 * commit helpers allocate for themselves, with no file), and drm_crtc_send_vblank_event(), which
 * stamps it and sends it (drm_send_event_timestamp_locked(), drm-file.ts). No device of the
 * model has vblank interrupts (`num_crtcs` is 0, drm_dev_has_vblank() is false): the sequence is
 * 0, the time is the virtual clock, and the commit tail sends each event itself
 * (drm_atomic_helper_fake_vblank()). Vblank counters, interrupts, WAIT_VBLANK and CRTC_QUEUE_SEQUENCE
 * are not modeled.
 */

import { KmemCache, lockdepAssertHeld } from "@primetime/kernel";
import { now } from "@primetime/sim";
import { DRM_EVENT_VBLANK_SIZE, type DrmEventVblank, encodeDrmEventVblank } from "@primetime/uapi";
import type { DrmCrtc } from "./drm-crtc.js";
import { drmSendEventTimestampLocked } from "./drm-file.js";
import { type DrmEvent, DrmPendingEvent } from "./drm-pending-event.js";

/** The slab cache of vblank events (kzalloc'ed by PAGE_FLIP and the commit helpers). */
export const drmPendingVblankEventCache = new KmemCache("drm_pending_vblank_event");

/**
 * Models struct drm_pending_vblank_event: the pending event (`base`, the class itself), the
 * pipe, and the event userspace reads (`event.vbl`).
 * Locking: as struct drm_pending_event (event_lock).
 * References: as struct drm_pending_event.
 */
export class DrmPendingVblankEvent extends DrmPendingEvent {
  /** Models pipe. */
  pipe = 0;
  /** Models event.vbl. */
  readonly vbl: DrmEventVblank = {
    type: 0,
    length: DRM_EVENT_VBLANK_SIZE,
    user_data: 0n,
    tv_sec: 0,
    tv_usec: 0,
    sequence: 0,
    crtc_id: 0,
  };

  /** The struct drm_event view of `vbl` (what drm_event_reserve_init() is given). */
  drmEvent(): DrmEvent {
    const vbl = this.vbl;
    return { type: vbl.type, length: vbl.length, bytes: () => encodeDrmEventVblank(vbl) };
  }
}

/**
 * Models send_vblank_event(): stamps a DRM_EVENT_VBLANK or DRM_EVENT_FLIP_COMPLETE with the
 * sequence and the time, and sends it (drm_send_event_timestamp_locked()).
 * Locking: event_lock held.
 * References: as drm_send_event_helper(): the event passes to its file, or is freed.
 */
async function sendVblankEvent(
  crtc: DrmCrtc,
  e: DrmPendingVblankEvent,
  seq: number,
  t: number,
): Promise<void> {
  e.checkAccess("send_vblank_event");
  // e->event is a user space structure, with hardcoded unsigned 32-bit seconds/microseconds.
  e.vbl.sequence = seq;
  e.vbl.tv_sec = Math.floor(t / 1_000_000_000);
  e.vbl.tv_usec = Math.floor((t % 1_000_000_000) / 1000);
  await drmSendEventTimestampLocked(crtc.dev, e, t);
}

/**
 * Models drm_crtc_send_vblank_event(): without vblank support (every device of the model) the
 * sequence is 0 and the time ktime_get(); the event gets the CRTC's pipe and is sent.
 * Locking: event_lock held.
 * References: the event passes to its file, or is freed.
 */
export async function drmCrtcSendVblankEvent(
  crtc: DrmCrtc,
  e: DrmPendingVblankEvent,
): Promise<void> {
  lockdepAssertHeld(crtc.dev.eventLock);
  // drm_dev_has_vblank() is false: seq = 0, now = ktime_get()
  const t = now();
  e.pipe = crtc.index;
  await sendVblankEvent(crtc, e, 0, t);
}
