/**
 * The damage helpers (drivers/gpu/drm/drm_damage_helper.c of Linux v6.18; the same in v6.12.19):
 * drm_atomic_helper_dirtyfb(), the ->dirty of framebuffers whose drivers flush damage through
 * an atomic commit (vmwgfx's surface and buffer framebuffers in v6.12 and v6.18). It turns
 * DIRTYFB's clips into a property blob of struct drm_mode_rect, attaches it to the state of
 * every plane scanning the framebuffer out and commits. No plane is modeled, so none scans it
 * out and the commit is an empty one; what stays is the lifetime of what it allocates (the
 * state with its device reference, the rectangles, the blob with its mode object id), each an
 * allocation fault injection can fail.
 */

import { ENOMEM, isErr, shouldFail } from "@primetime/kernel";
import { DRM_MODE_FB_DIRTY_ANNOTATE_COPY } from "@primetime/uapi";
import { drmAtomicCommit, drmAtomicStateAlloc, drmAtomicStatePut } from "./drm-atomic.js";
import type { DrmFile } from "./drm-file.js";
import type { DrmFramebuffer } from "./drm-framebuffer.js";
import { type DrmPropertyBlob, drmPropertyBlobPut, drmPropertyCreateBlob } from "./drm-property.js";
import type { DrmClipRect } from "./uapi.js";

/** Models sizeof(struct drm_mode_rect): four s32. */
const DRM_MODE_RECT_SIZE = 16;

/** Models struct drm_mode_rect. */
interface DrmModeRect {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * Models convert_clip_rect_to_rect(): every `inc`-th clip of `numClips` as a drm_mode_rect.
 * Locking: none. References: none.
 */
function convertClipRectToRect(
  clips: readonly DrmClipRect[],
  numClips: number,
  inc: number,
): DrmModeRect[] {
  const rects: DrmModeRect[] = [];
  for (let i = 0; i < numClips; i++) {
    const c = clips[i * inc]!;
    rects.push({ x1: c.x1, y1: c.y1, x2: c.x2, y2: c.y2 });
  }
  return rects;
}

/**
 * Models drm_atomic_helper_dirtyfb(): a state (-ENOMEM without one); with clips, the
 * rectangles (with DRM_MODE_FB_DIRTY_ANNOTATE_COPY every other clip, half as many; kcalloc():
 * -ENOMEM) and a damage blob of them (drm_property_create_blob()'s errno); every plane whose
 * state's fb is `fb` gets the blob (none: planes are not modeled); the state is committed and
 * the blob, the rectangles and the state are released. 0 or the first errno.
 * Locking: the acquire context's modeset locks (none are taken: no plane to lock).
 * References: the state's (with its device reference) and the blob's, both dropped before
 * returning; the caller holds one of `fb`.
 */
export async function drmAtomicHelperDirtyfb(
  fb: DrmFramebuffer,
  _file: DrmFile | null,
  flags: number,
  _color: number,
  clips: readonly DrmClipRect[] | null,
  numClips: number,
): Promise<number> {
  let damage: DrmPropertyBlob | null = null;
  let ret = 0;
  const state = await drmAtomicStateAlloc(fb.dev);
  if (!state) return -ENOMEM; // out_drop_locks: nothing locked yet
  if (clips) {
    let inc = 1;
    let n = numClips;
    if (flags & DRM_MODE_FB_DIRTY_ANNOTATE_COPY) {
      inc = 2;
      n = Math.trunc(n / 2);
    }
    // kcalloc(num_clips, sizeof(*rects)); a failure goes to `out`
    if (shouldFail("kcalloc(drm_mode_rect)")) {
      ret = -ENOMEM;
    } else {
      const rects = convertClipRectToRect(clips, n, inc);
      const blob = await drmPropertyCreateBlob(fb.dev, n * DRM_MODE_RECT_SIZE, rects);
      if (isErr(blob)) ret = blob;
      else damage = blob;
    }
  }
  // drm_for_each_plane(): no plane of the model has `fb` in its state.
  if (ret === 0) ret = await drmAtomicCommit(state);
  // out: no -EDEADLK backoff (no modeset lock was taken)
  await drmPropertyBlobPut(damage);
  await drmAtomicStatePut(state);
  return ret;
}
