/**
 * struct drm_event and struct drm_pending_event (include/drm/drm_file.h, include/uapi/drm/drm.h of
 * Linux v6.18): the header of every event userspace reads from a DRM fd, and the kernel's
 * tracking of one pending event. They belong with drm_file.c's event code (drm-file.ts, which
 * re-exports them); they sit in their own file so that the drivers' and the core's event
 * subclasses (drm-vblank.ts's vblank events) can extend the class without an import cycle
 * through drm-file.ts's ioctl table.
 */

import type { DmaFence } from "@primetime/dma-buf";
import { SlabObject } from "@primetime/kernel";
import type { Completion } from "@primetime/sim";
import type { DrmFile } from "./drm-file.js";

/**
 * Models struct drm_event, the header of every event userspace reads (`type`, `length` in
 * bytes, the whole event's), with the event's bytes as drm_read() copies them (the driver's
 * struct, whose first member the header is).
 */
export interface DrmEvent {
  readonly type: number;
  readonly length: number;
  /** The event's `length` bytes, little-endian, starting with the header. */
  bytes(): Uint8Array;
}

/**
 * Models struct drm_pending_event: the kernel's tracking of one event (the driver embeds it as
 * the first member of its own kmalloc()ed struct, here a subclass with its own slab cache).
 * Locking: `filePriv` and the list memberships are protected by the device's event_lock.
 * References: `fence` holds a fence reference (dropped when the event is sent or cancelled); the
 * event holds none on its file (drm_events_release() unlinks it instead).
 */
export class DrmPendingEvent extends SlabObject {
  /** Models event: the event's data. */
  event: DrmEvent | null = null;
  /** Models file_priv: the file to deliver to; NULL once that file is closed. */
  filePriv: DrmFile | null = null;
  /** Models fence: signalled when the event is sent (out-fences of KMS commits). */
  fence: DmaFence | null = null;
  /**
   * Models completion: completed when the event is sent (a KMS commit's `flip_done`, set by
   * drm_atomic_helper_setup_commit()); null for other events.
   */
  completion: Completion | null = null;
  /** The object `completion` is embedded in (its drm_crtc_commit), for KASAN's access check. */
  completionOwner: SlabObject | null = null;
  /**
   * Models completion_release: called after `completion` is completed (release_crtc_commit():
   * drops the commit reference the event holds).
   */
  completionRelease: ((completion: Completion) => Promise<void>) | null = null;
}
