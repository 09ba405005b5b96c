/**
 * qxl's historic lifetime races as toggles (ARCHITECTURE.md section 5). Each puts back what a released
 * kernel did, at the place the fix changed; `qxl-toggles.test.ts` finds each under pct with the
 * toggle on, replays it from its token, and runs the same case clean with the toggle off.
 */

import { defineKnownWindow, defineToggle } from "@primetime/sim";

/**
 * The 2015 dual reference count: a qxl_bo had GEM's count and TTM's, and TTM's was the main
 * one. qxl_bo_ref()/qxl_bo_unref() took and dropped TTM references (ttm_bo_reference() /
 * ttm_bo_unref()), the GEM free only dropped the TTM reference the GEM object held, and the
 * surface was evicted (its surf_id_idr entry cleared) only in qxl_ttm_bo_destroy(), after TTM's
 * count had already reached zero. The idr's pointer holds no reference, so the reaper could find
 * and use an object whose counts were gone and which was being destroyed.
 */
export const QXL_DUAL_REFCOUNT = defineToggle({
  name: "qxl.dual-refcount",
  description:
    "qxl_bo_ref/unref use TTM's count, qxl_gem_object_free() only drops the TTM reference, and the surface is evicted only in qxl_ttm_bo_destroy(): the surface reaper reaches an object whose count already hit zero",
  fixedBy: "drm/qxl: Move main reference counter to GEM object instead of TTM ones",
  foundBy: "qxl surface exhaustion (qxl-toggles.test.ts: surface-reap-vs-close)",
  kind: "historic",
  commit: "hash not confirmed (patch 09/11 of Frediano Ziglio's qxl series, dri-devel, June 2015)",
  kernels: "v3.10-v4.1 (fixed for v4.2)",
});

/**
 * The 2023 use-after-free on handle creation: qxl_gem_object_create_with_handle() dropped the
 * creation reference right after drm_gem_handle_create() and handed the caller a bare pointer,
 * and qxl_mode_dumb_create() then wrote `qobj->is_dumb`: by then the handle was the object's only
 * reference, and another thread could guess it and GEM_CLOSE it.
 */
export const QXL_HANDLE_CREATE_UAF = defineToggle({
  name: "qxl.handle-create-uaf",
  description:
    "qxl_gem_object_create_with_handle() drops the creation reference after drm_gem_handle_create() and qxl_mode_dumb_create() writes qobj->is_dumb afterwards: a racing GEM_CLOSE of the guessed handle frees it first",
  fixedBy: "drm/qxl: fix UAF on handle creation",
  foundBy: "qxl dumb create vs GEM_CLOSE of the guessed handle (qxl-toggles.test.ts)",
  kind: "historic",
  commit: "c611589b4259ed63b9b77be6872b1ce07ec0ac16",
  kernels: "v3.10-v6.5-rc6 (fixed in v6.5)",
});

/**
 * A leak current kernels still have: qxl_gem_object_create_with_handle() returns
 * drm_gem_handle_create()'s error without dropping the creation reference. The switch applies the
 * obvious fix (put the reference before returning the error); with it off (the faithful default)
 * the object stays on qdev->gem.objects until qxl_bo_force_delete() at unload.
 */
export const QXL_HANDLE_CREATE_LEAK = defineKnownWindow({
  name: "qxl.handle-create-leak",
  what:
    "a failed drm_gem_handle_create() (its idr slot or the vma node's file entry) leaves the " +
    "creation reference held: the qxl_bo is unreachable from userspace and stays on the " +
    "device's object list until unload, where qxl_bo_force_delete() frees it",
  where:
    "drivers/gpu/drm/qxl/qxl_gem.c: qxl_gem_object_create_with_handle() (`if (r) return r;` " +
    "after drm_gem_handle_create()), reached from QXL_ALLOC, QXL_ALLOC_SURF and dumb create",
  since: "drm: add new QXL driver. (v1.4)",
  sinceCommit: "f64122c1f6ad",
  kernels:
    'every kernel with qxl (v3.10 onwards); "drm/qxl: fix UAF on handle creation" ' +
    "(c611589b4259, v6.5) moved the put after the handle's creation but kept the early return; " +
    "still present in v6.18",
  proposedFix:
    "drop the creation reference (drm_gem_object_put()) before returning drm_gem_handle_create()'s " +
    "error (proposed here; no posted patch known)",
  foundBy:
    "stress `run --scenario cross-share --drivers qxl --faults p:0.05`; qxl-failnth.test.ts " +
    "(ALLOC and ALLOC_SURF with the switch off and on)",
});

/**
 * What current kernels do when surface ids run out during a submission: qxl_release_reserve_list()
 * holds the release's reservations under drm_exec's acquire context while it validates each
 * object, qxl_bo_check_id() allocates the surface id, and when none is left qxl_reap_surface_id()
 * takes surf_evict_mutex and qxl_reap_surf() reserves each surface it finds with qxl_bo_reserve(),
 * a dma_resv_lock() without an acquire context. Lockdep reports it every time ("possible recursive
 * locking detected" on reservation_ww_class_mutex), and since that reservation is outside the
 * wait-die protocol, a second submitter holding that surface's reservation under its own drm_exec
 * and waiting for surf_evict_mutex deadlocks with the reaper (reservation -> surf_evict_mutex
 * against surf_evict_mutex -> reservation). The switch applies a proposed fix: the reaper only
 * trylocks (ttm_bo_reserve(no_wait = true)) and skips a surface it cannot reserve; and when it
 * reaped nothing and one of the surfaces it skipped is reserved by the caller's own acquire
 * context (dma_resv_locking_ctx(resv)->task == current), qxl_surface_id_alloc() gives up with
 * -ENOSPC (a trylock alone leaves its `goto again` spinning forever).
 */
export const QXL_REAP_RESERVE_WITHOUT_CTX = defineKnownWindow({
  name: "qxl.reap-reserve-without-ctx",
  what:
    "the surface reaper reserves surfaces with dma_resv_lock(obj, NULL) while the submitting task " +
    "holds its release's reservations under a ww_acquire_ctx (or, in UPDATE_AREA, the object's " +
    "own reservation): lockdep's 'possible recursive " +
    "locking detected' (reservation_ww_class_mutex) whenever ids run out during a submission; a " +
    "deadlock when another submitter holds the surface's reservation and waits for " +
    "surf_evict_mutex (the NULL-context reservation cannot back off); and a submitter deadlocking " +
    "on itself when the surface reaped is one its own drm_exec holds (a draw reading surface A " +
    "into a surface that needs an id)",
  where:
    "drivers/gpu/drm/qxl/qxl_cmd.c: qxl_reap_surf() (qxl_bo_reserve()) under " +
    "qxl_reap_surface_id() (surf_evict_mutex), called from qxl_surface_id_alloc() <- " +
    "qxl_bo_check_id() <- qxl_release_validate_bo() inside qxl_release_reserve_list() " +
    "(drivers/gpu/drm/qxl/qxl_release.c, ttm_eu in v6.12.19, drm_exec in v6.18.35) or " +
    "qxl_update_area_ioctl() " +
    "(qxl_ioctl.c, under qxl_bo_reserve())",
  since: "qxl: convert qxl driver to proper use for reservations",
  sinceCommit: "8002db6336dd",
  kernels:
    "from the 2013 conversion of qxl_release_reserve_list() to ww reservations (v3.12, as far as " +
    "the Fixes: tags that cite it tell) onwards; still present in v6.18 with drm_exec",
  proposedFix:
    "reserve in qxl_reap_surf() with ttm_bo_reserve(no_wait = true) and skip a busy surface; " +
    "when nothing was reaped and a skipped surface is reserved by the caller's own acquire " +
    "context, qxl_surface_id_alloc() returns -ENOSPC instead of retrying forever " +
    "(proposed here; no posted patch known)",
  foundBy:
    "qxl-pressure.test.ts (surface pressure, every toggle off, the window open: only this " +
    "report and this deadlock; with baselineFixes(): clean)",
});

/**
 * What current kernels do when two tasks push to a full command ring: qxl_ring_push() tests
 * `prod - cons == num_items` once (`if`, not `while`), sleeps in wait_event() until
 * qxl_check_header() sees room, retakes ring->lock and writes slot `prod & (n_elements - 1)`
 * without testing again. Two pushers that both found the ring full are both woken when the
 * device consumes one entry; each sees room before either pushed, so both push: the second
 * writes over the oldest entry the device has not consumed (prod - cons becomes num_items + 1).
 * The device reads entries by index from cons to prod, so the overwritten command is never
 * executed (its release never comes back: its fence never signals, the release and the buffers
 * it holds are never freed) and the slot's new command is executed twice (its release id comes
 * back twice: the second time qxl_release_from_id_locked() finds nothing, DRM_ERROR, or a
 * release that reused the id is freed while live). The switch rechecks after the wait (`while`).
 */
export const QXL_RING_PUSH_NO_RECHECK = defineKnownWindow({
  name: "qxl.ring-push-no-recheck",
  what:
    "two tasks that found the command ring full are both woken when the device consumes one " +
    "entry and both push without testing again: the second overwrites the oldest unconsumed " +
    "entry (prod - cons = num_items + 1); that command is lost (its release never comes back: " +
    "kmemleak of the release and its buffers' references, a fence that never signals) and the " +
    "slot's command runs twice (its release id comes back twice: DRM_ERROR 'failed to find id " +
    "in release_idr', or a live release freed when the id was reused)",
  where:
    "drivers/gpu/drm/qxl/qxl_cmd.c: qxl_ring_push() (`if (header->prod - header->cons == " +
    "header->num_items)`, wait_event(*ring->push_event, qxl_check_header(ring)), then the " +
    "write at `header->prod & (ring->n_elements - 1)` with no second test), from " +
    "qxl_push_command_ring_release() (EXECBUFFER, surface create/destroy)",
  since: "drm: add new QXL driver. (v1.4)",
  sinceCommit: "f64122c1f6ad",
  kernels: "every kernel with qxl (v3.10 onwards); still present in v6.18",
  proposedFix:
    "test again after retaking ring->lock (`while` instead of `if`) (proposed here; no posted " +
    "patch known)",
  foundBy:
    "qxl-ring.test.ts (ringPushVsFullRing(3, 4): three processes pushing to a one-entry command " +
    "ring of a spice-worker device; window open: the lost command's fence hangs TTM's delayed " +
    "delete in 20 of 200 POS schedules, a reused id's use-after-free in 1; with " +
    "baselineFixes(): clean)",
});

/**
 * The 2020 release use-after-free: the submitters pushed the command to the ring first and
 * called qxl_release_fence_buffer_objects() afterwards. The device (QEMU's spice worker, on
 * another CPU) can process the command at once, hand the release back and raise the interrupt,
 * and the garbage collector frees the release while the submitter is still between the push and
 * the fencing, which then initialises and publishes a freed release.
 */
export const QXL_RELEASE_USE_AFTER_FREE = defineToggle({
  name: "qxl.release-use-after-free",
  description:
    "qxl_process_single_command(), qxl_hw_surface_alloc() and qxl_hw_surface_dealloc() push the command before qxl_release_fence_buffer_objects(): the device hands the release back and gc_work frees it before the submitter fences it",
  fixedBy: "drm/qxl: qxl_release use after free",
  foundBy:
    "qxl-toggles.test.ts: execbuffer-vs-release-gc (a device running as a spice worker thread)",
  kind: "historic",
  commit: "933db73351d359f74b14f4af095808260aff11f9",
  kernels: "v3.10-v5.6 (fixed for v5.7, backported to stable)",
});

/**
 * The 2021 release bo pin leak. "drm/qxl: switch over to the new pin interface" (9d36d4320462,
 * v5.11) made qxl_bo_create(..., pinned = true, ...) take a TTM pin count, but
 * qxl_alloc_release_reserved() still retired a full release bo with a plain
 * qxl_bo_unref(&qdev->current_release_bo[cur_idx]) under release_mutex, without unpinning it. Once
 * the garbage collector freed the last release in that page, TTM released a BO that was still
 * pinned. Kernels from v5.12-rc (57fcd550eb15, "drm/ttm: Warn on pinning without holding a
 * reference", briefly in 5.11.9) warn on it in ttm_bo_release(). v6.18's TTM, which the model
 * follows, warns with WARN_ON_ONCE(bo->pin_count) at the top of ttm_bo_release(); its FIXME
 * comment, "QXL is triggering this", is about this same bug. The hash is the one cited in the
 * Fixes: tag of "drm/qxl: fix lockdep issue in qxl_alloc_release_reserved". The copy in v5.12
 * that went through drm-misc-fixes (e8dd3506dcf3, seen in a merge log) is unconfirmed.
 */
export const QXL_RELEASE_BO_PIN_LEAK = defineToggle({
  name: "qxl.release-bo-pin-leak",
  description:
    "qxl_alloc_release_reserved() retires a full release bo with qxl_bo_unref() under release_mutex and no qxl_bo_unpin(): the page's last reference goes when gc frees its last release, and TTM releases a BO that is still pinned",
  fixedBy: "drm/qxl: unpin release objects",
  foundBy:
    "qxl-toggles.test.ts: release-bo-rollover (17 draws in a row: the first release page is retired, then freed)",
  kind: "historic",
  commit: "65ffea3c6e738f37bb15ff3ee480415c793df893",
  kernels:
    "v5.11 (since 'drm/qxl: switch over to the new pin interface', 9d36d4320462); fixed for v5.12 through drm-misc-fixes",
});

/**
 * A retired release bo is evictable while the device may still read releases in it. Release
 * pages are pinned in VRAM while current ("pin releases bo's they are too messy to evict");
 * qxl_alloc_release_reserved() unpins a full one when it retires it (65ffea3c6e73). Its releases
 * keep a reference, not a pin, and a release whose only object is its release bo (a surface
 * command's, a drawable without relocations) is neither reserved nor fenced
 * (qxl_release_fence_buffer_objects(): "if only one object on the release its the release itself
 * since these objects are pinned no need to reserve"). Under VRAM pressure TTM evicts the page
 * to system memory while such a command is still on the ring: the device reads the command, and
 * writes the release back (its id, the free list's `next`), at a VRAM range TTM has handed to
 * another object. Here the device finds garbage there, hands back no valid id, and the releases
 * never come back: kmemleak reports them, with their release bo, once the run is over.
 */
export const QXL_RETIRED_RELEASE_BO_EVICTABLE = defineKnownWindow({
  name: "qxl.retired-release-bo-evictable",
  what:
    "a full release bo, unpinned when qxl_alloc_release_reserved() retires it, is evicted from " +
    "VRAM while a release in it whose only object is the release bo (never reserved nor fenced) " +
    "is still on the device's ring: the device reads the command and writes the release back at " +
    "a VRAM range TTM gave to another object; the release is never handed back (kmemleak: " +
    "qxl_release, qxl_bo_list and the release bo), and the other object's bytes are the device's",
  where:
    "drivers/gpu/drm/qxl/qxl_release.c: qxl_alloc_release_reserved() (qxl_bo_unpin(free_bo) of " +
    "the retired page) and qxl_release_fence_buffer_objects() (returns early for a singular " +
    "release->bos); drivers/gpu/drm/ttm/ttm_bo.c: ttm_bo_evict_alloc() evicting the unpinned page " +
    "(ttm_bo_eviction_valuable(), qxl's ->eviction_valuable) for a VRAM allocation",
  since: "drm/qxl: unpin release objects",
  sinceCommit: "65ffea3c6e738f37bb15ff3ee480415c793df893",
  kernels:
    "from v5.12 (the unpin of the retired page; before it the page stayed pinned, the leak of " +
    "qxl.release-bo-pin-leak) onwards, as v6.12.19 and v6.18.35 have it",
  proposedFix:
    "qxl's ->eviction_valuable refuses a release bo (a page that was ever a current release bo): " +
    "it is never evicted, and its VRAM comes back when the garbage collector frees its last " +
    "release (proposed here; no posted patch known)",
  foundBy:
    "@primetime/fuzz private.test.ts (the private qxl workload on a small drawn VRAM, qxl+qxl seed " +
    "561 pct: the releases leak with the window open; clean with baselineFixes())",
});

/**
 * qxl validates its release's objects after drm_exec's acquire phase is over: the eviction a
 * validation needs may ticketlock another object with the finished ww acquire context.
 */
export const QXL_VALIDATE_AFTER_ACQUIRE_DONE = defineKnownWindow({
  name: "qxl.validate-after-acquire-done",
  what:
    "qxl_release_reserve_list() locks the release's objects with drm_exec, whose " +
    "drm_exec_cleanup() calls ww_acquire_done() once every object is locked, and only then " +
    "validates each (qxl_release_validate_bo() -> ttm_bo_validate()); when VRAM is full and the " +
    "eviction walk's trylock pass frees too little, ttm_bo_evict_alloc() ticketlocks a busy object " +
    "with that same context (dma_resv_locking_ctx() of the validated object): " +
    "ww_mutex_lock_acquired()'s DEBUG_LOCKS_WARN_ON(ww_ctx->done_acquire) (CONFIG_DEBUG_MUTEXES), " +
    "a lock taken after the context said its acquire phase was done",
  where:
    "drivers/gpu/drm/qxl/qxl_release.c: qxl_release_reserve_list() (validation after " +
    "drm_exec_until_all_locked()); drivers/gpu/drm/drm_exec.c: drm_exec_cleanup() " +
    "(ww_acquire_done()); drivers/gpu/drm/ttm/ttm_bo.c: ttm_bo_alloc_resource() -> " +
    "ttm_bo_evict_alloc() with the ticket; drivers/gpu/drm/ttm/ttm_bo_util.c: " +
    "ttm_lru_walk_ticketlock(); kernel/locking/ww_mutex.h: ww_mutex_lock_acquired()",
  since: "drm/ttm: Use the LRU walker for eviction (the ticketlocking walk, v6.12)",
  sinceCommit:
    "hash not confirmed (a mirror's commit page lists it as 3756310e9fe1; before it, " +
    "ttm_mem_evict_wait_busy() of v5.3 ticketlocked a busy object with the same context)",
  kernels: "v6.12.19 and v6.18.35 as modelled (earlier kernels not checked)",
  proposedFix:
    "validate each object inside drm_exec_until_all_locked(), after the last " +
    "drm_exec_prepare_obj() and before drm_exec_cleanup() ends the acquire phase (as xe " +
    "validates inside its drm_exec loop); proposed here, no posted patch known",
  foundBy:
    "@primetime/fuzz private.test.ts (the private qxl workload on a small drawn VRAM: an " +
    "EXECBUFFER whose validation evicts, qxl+qxl seed 826 random: the warning with the window " +
    "open; clean with baselineFixes())",
});

/** qxl_update_area_ioctl() returns with the object still reserved when its validation fails. */
export const QXL_UPDATE_AREA_VALIDATE_KEEPS_RESERVE = defineKnownWindow({
  name: "qxl.update-area-validate-keeps-reserve",
  what:
    "qxl_update_area_ioctl() reserves the object, and when ttm_bo_validate() fails (an " +
    "allocation failure while it moves the object back into VRAM, an eviction that cannot make " +
    "room) it jumps to `out`, past qxl_bo_unreserve(): the ioctl returns to userspace holding the " +
    "object's reservation (lockdep: lock held when returning to user space), and the next locker " +
    "of the object (its delayed destruction, another EXECBUFFER) waits forever",
  where:
    "drivers/gpu/drm/qxl/qxl_ioctl.c: qxl_update_area_ioctl() (`if (unlikely(ret)) goto out;` " +
    "after ttm_bo_validate(), v6.18.35 lines 323-327, v6.12.19 lines 322-325)",
  since: "drm: add new QXL driver. (v1.4) (the ioctl as first merged, v3.10)",
  sinceCommit:
    "hash not confirmed (the first qxl driver; the same goto is in every later version read)",
  kernels: "v3.10 onwards, as v6.12.19 and v6.18.35 have it",
  proposedFix:
    "jump to `out2` (qxl_bo_unreserve()) when ttm_bo_validate() fails; proposed here, no posted " +
    "patch known",
  foundBy:
    "@primetime/fuzz private.test.ts (the private qxl workload with failslab at 2 %, qxl+qxl seed " +
    "265 pct: the reservation held on return with the window open; clean with baselineFixes())",
});

/**
 * What current kernels do when one dumb bo backs two framebuffers that replace each other on the
 * primary plane: qxl_plane_cleanup_fb() releases the bo's shadow when the old and the new
 * framebuffer differ (`old_state->fb != plane->state->fb`), although the new one shows the same
 * bo, whose shadow stays the primary surface. qxl_primary_atomic_disable() later finds the
 * primary through `bo->shadow`, now NULL: the primary is not destroyed, and primary_bo's GEM
 * reference (qxl_io_create_primary()) keeps the shadow bo after every plane is off, until unload
 * and past it.
 */
export const QXL_DISABLE_PRIMARY_SHADOW_CLEARED = defineKnownWindow({
  name: "qxl.disable-primary-shadow-cleared",
  what:
    "a dumb bo shown through two framebuffers in turn loses its shadow in qxl_plane_cleanup_fb() " +
    "while still shown; qxl_primary_atomic_disable() then finds no primary through bo->shadow and " +
    "leaves the primary surface created: primary_bo's reference leaks the shadow bo (kmemleak, " +
    "the device's GEM object count)",
  where:
    "drivers/gpu/drm/qxl/qxl_display.c: qxl_plane_cleanup_fb() (`old_state->fb != " +
    "plane->state->fb && user_bo->shadow`) and qxl_primary_atomic_disable() (`if (bo->shadow) " +
    "bo = bo->shadow; if (bo->is_primary)`)",
  since: "qxl: alloc & use shadow for dumb buffers",
  sinceCommit: "62676d10b483",
  kernels:
    "v4.15 onwards by the shadow's introduction (62676d10b483, hash from the list's and stable's " +
    "copies; that the framebuffer comparison dates from it is not verified line by line); the " +
    "same code in v6.12.19 and v6.18.35",
  proposedFix:
    "qxl_primary_atomic_disable() of a dumb framebuffer destroys the primary when it is the " +
    "device's dumb shadow (qdev->primary_bo == qdev->dumb_shadow_bo), whatever bo->shadow says " +
    "(proposed here; no posted patch known)",
  foundBy:
    "fuzz `campaign 60 1 --kms flip --drivers qxl+vgem` (two framebuffers of one dumb buffer " +
    "flipped, kms-flip.ts); qxl-crtc.test.ts (the same sequence, open and fixed)",
});

/**
 * What current kernels do when a blocking commit on one CRTC prepares a dumb framebuffer while a
 * nonblocking commit on another CRTC is still in its tail: drm_atomic_helper_commit() runs
 * drm_atomic_helper_prepare_planes() right after drm_atomic_helper_setup_commit(), and commits on
 * different CRTCs do not wait for each other at all (stall_checks() and swap_state's stall look at
 * the commit's own CRTCs only). qxl_prepare_shadow() then resizes the device's dumb shadow (the
 * new head changed its size): it puts the device's reference of the old shadow and the user bo's,
 * its last two when the old shadow is not yet the primary. The other CRTC's commit tail, in
 * qxl_primary_atomic_update(), has read `bo->shadow` (that old shadow) and sleeps in
 * qxl_io_destroy_primary()'s wait_for_io_cmd(); qxl_io_create_primary() then reads the freed bo.
 */
export const QXL_PRIMARY_UPDATE_SHADOW_PUT = defineKnownWindow({
  name: "qxl.primary-update-shadow-put",
  what:
    "a blocking commit's qxl_prepare_shadow() on one CRTC resizes the device's dumb shadow and " +
    "puts the old one's last references while a nonblocking commit's tail on another CRTC holds " +
    "it as `primary` in qxl_primary_atomic_update() (asleep in qxl_io_destroy_primary()): " +
    "qxl_io_create_primary() reads the freed bo (KASAN use-after-free)",
  where:
    "drivers/gpu/drm/qxl/qxl_display.c: qxl_primary_atomic_update() (`primary = bo->shadow ? " +
    "bo->shadow : bo;` then qxl_io_destroy_primary()/qxl_io_create_primary() with no reference) " +
    "against qxl_prepare_shadow() (drm_gem_object_put() of dumb_shadow_bo and of user_bo->shadow)",
  since: "qxl: alloc & use shadow for dumb buffers",
  sinceCommit: "62676d10b483",
  kernels:
    "v4.15 onwards by the shadow's introduction (62676d10b483, as qxl.disable-primary-shadow-" +
    "cleared; that this interleaving was possible from then on is not verified version by " +
    "version); the same code in v6.12.19 and v6.18.35 (qxl_display.c and drm_atomic_helper_" +
    "commit() read in both)",
  proposedFix:
    "qxl_primary_atomic_update() takes a GEM reference of `primary` when it reads it and puts it " +
    "after qxl_io_create_primary() (the read and the get must not be separated by " +
    "qxl_prepare_shadow()'s puts: in the kernel under a lock qxl_prepare_shadow() also takes, in " +
    "the model no scheduling point between them); proposed here, no posted patch known",
  foundBy:
    "fuzz `campaign 1000 1 --kms flip --drivers qxl+qxl` (seed 485 pct: KASAN slab-use-after-free " +
    "in qxl_io_create_primary() from kworker/events_unbound); kms-flip.test.ts pins it, open and " +
    "fixed",
});

/**
 * What current kernels do when a nonblocking commit's tail cleans up a dumb framebuffer's old
 * plane state while the next commit already prepares the same bo: a flip's event completes
 * flip_done before the tail's drm_atomic_helper_cleanup_planes(), so stall_checks() lets the
 * next nonblocking commit in, and its drm_atomic_helper_prepare_planes() runs beside that
 * cleanup. qxl_plane_cleanup_fb() (`old_state->fb != plane->state->fb && user_bo->shadow`) and
 * qxl_prepare_shadow() (`user_bo->shadow != qdev->dumb_shadow_bo`) both read the same stale
 * `user_bo->shadow`, both qxl_bo_unpin() it (sleeping in its reservation) and both put it: the
 * second unpin WARNs in ttm_bo_unpin() and the second put underflows the GEM reference count.
 */
export const QXL_SHADOW_CLEANUP_VS_PREPARE = defineKnownWindow({
  name: "qxl.shadow-cleanup-vs-prepare",
  what:
    "a flip's commit tail (qxl_plane_cleanup_fb()) and the next commit's qxl_prepare_shadow() of " +
    "the same dumb bo both unpin and put its old shadow (`user_bo->shadow`, read by each before " +
    "the other clears it): ttm_bo_unpin() WARNs on a pin count of 0 and the shadow's reference " +
    "count underflows (use-after-free)",
  where:
    "drivers/gpu/drm/qxl/qxl_display.c: qxl_plane_cleanup_fb() and qxl_prepare_shadow() (each " +
    "`qxl_bo_unpin(user_bo->shadow); drm_gem_object_put(&user_bo->shadow->tbo.base); " +
    "user_bo->shadow = NULL;` with no lock in common: the tail holds no modeset lock)",
  since: "qxl: alloc & use shadow for dumb buffers",
  sinceCommit: "62676d10b483",
  kernels:
    "v4.15 onwards by the shadow's introduction (62676d10b483; not verified version by " +
    "version); the same code in v6.12.19 and v6.18.35 (qxl_display.c, drm_atomic_helper_commit(), " +
    "stall_checks() and the commit tail read in both)",
  proposedFix:
    "each of the two takes the shadow out of `user_bo->shadow` before it sleeps (`shadow = " +
    "xchg(&user_bo->shadow, NULL)`, then unpin and put `shadow` if it was set), so that only one " +
    "of them drops the pin and the reference; proposed here, no posted patch known",
  foundBy:
    "fuzz `campaign 1000 1 --kms flip --drivers qxl+qxl` (seed 580 random: " +
    "ttm_bo_unpin(qxl_bo#13) WARN_ON_ONCE(!bo->pin_count), refcount underflow); kms-flip.test.ts " +
    "pins it, open and fixed",
});

/**
 * What current kernels do when nonblocking commits on two of qxl's CRTCs run their tails at once
 * (system_unbound_wq; commits on different CRTCs never wait for each other, and a blocking
 * commit's tail holds only its own CRTC's locks, none the other tail takes). The device has one
 * primary surface, and each tail's qxl_primary_atomic_update() switches it with no lock: both
 * find their new bo (a non-dumb bo, or a dumb bo's new shadow) not primary and `primary_bo` set,
 * and both call qxl_io_destroy_primary(). The async_io_mutex only orders their
 * QXL_IO_DESTROY_PRIMARY_ASYNC commands: the second destroy, after its wait, dereferences the
 * `primary_bo` the first one cleared (a NULL pointer oops), or puts the primary the first tail
 * just created; or the second tail, finding `primary_bo` NULL between the first's destroy and
 * create, creates too (qxl_io_create_primary()'s WARN_ON, or two creates whose second overwrites
 * `primary_bo` and leaks the first primary's reference). qxl_primary_atomic_disable() on one CRTC
 * against an update on the other does the same.
 */
export const QXL_PRIMARY_DESTROY_TWO_TAILS = defineKnownWindow({
  name: "qxl.primary-destroy-two-tails",
  what:
    "two CRTCs' commit tails switch qxl's one primary surface at once: both find their new bo " +
    "not primary and primary_bo set and both call qxl_io_destroy_primary(), whose second call, " +
    "after its wait, finds primary_bo NULL (a NULL pointer oops); or the two creates meet " +
    "(qxl_io_create_primary()'s WARN_ON, or the first primary's reference leaked)",
  where:
    "drivers/gpu/drm/qxl/qxl_display.c: qxl_primary_atomic_update() (`if (!primary->is_primary) " +
    "{ if (qdev->primary_bo) qxl_io_destroy_primary(qdev); qxl_io_create_primary(qdev, primary); " +
    "}`) and qxl_primary_atomic_disable() (`if (bo->is_primary) qxl_io_destroy_primary(qdev);`), " +
    "run from commit tails that hold no lock in common; qxl_cmd.c: qxl_io_destroy_primary() " +
    "(primary_bo read after wait_for_io_cmd())",
  since:
    "qxl's atomic primary plane: each CRTC's commit tail switches the device's single primary " +
    "surface in qxl_primary_atomic_update() (primary_bo and its GEM reference came later)",
  sinceCommit:
    "hash not confirmed (neither the atomic conversion's commit nor primary_bo's was found in " +
    "the stored material)",
  kernels:
    "the same code in v6.12.19 and v6.18.35 (qxl_display.c, qxl_cmd.c, drm_atomic_helper_commit() " +
    "and stall_checks() read in both); earlier versions not verified",
  proposedFix:
    "a device mutex (qdev->primary_mutex, proposed) held across the test and switch of the primary " +
    "in qxl_primary_atomic_update() and the test and destroy in qxl_primary_atomic_disable(), so " +
    "that the tails switch the primary one after the other; proposed here, no posted patch known",
  foundBy:
    "fuzz `campaign 1000 1 --kms flip --private on --drivers qxl+qxl` (seed 795 pct: two CRTCs' " +
    "flip tails both destroy the primary, NULL pointer dereference in qxl_io_destroy_primary()); " +
    "qxl-crtc.test.ts (two flips of QXL_ALLOC bos on two CRTCs, open and fixed)",
});
