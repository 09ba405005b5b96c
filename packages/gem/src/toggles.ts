/**
 * The historic races of the DRM core as toggles (ARCHITECTURE.md section 5). Each toggle puts back the
 * code a kernel commit removed, at the exact place the fixed and the buggy versions part; the
 * code that honours it says so next to its `toggleEnabled()` call. With a toggle on, the named
 * scenario finds the bug under pct; with all toggles off the same scenario is clean.
 */

import { defineKnownWindow, defineToggle } from "@primetime/sim";

/** drm_gem_flink_ioctl() without the handle_count == 0 check under object_name_lock. */
export const GEM_FLINK_NO_HANDLE_COUNT_CHECK = defineToggle({
  name: "gem.flink-no-handle-count-check",
  description:
    "GEM_FLINK allocates a name without checking handle_count == 0 under object_name_lock, so a " +
    "flink racing the last GEM_CLOSE names an object after its last handle removed the names. " +
    "In the kernels that had the bug the flink name held an object reference that nothing " +
    "dropped any more: the object and its name leaked (IGT gem_flink_race, written for the fix, " +
    "leaked about 1k objects/s). On this (current) code a name holds no reference, so the object " +
    "is freed and only its name stays in object_name_idr. The harness finds that leak as IGT " +
    "does, from the device's counters once the case has closed everything (gem_flink_race/" +
    "flink_close: 'leaked 0 objects and 1 names', and the GEM state check: names 0 -> 1); a " +
    "later GEM_OPEN of the name would be a use-after-free, but the case never opens it.",
  fixedBy: "drm/gem: fix up flink name create race",
  kind: "historic",
  commit: "a8e11d1c435f",
  kernels:
    "v2.6.28-v3.11 (fixed in v3.12); there the object and its name leaked, here the name alone",
});

/** drm_gem_open_ioctl() dropping object_name_lock between the name lookup and the handle. */
export const GEM_OPEN_DROPS_NAME_LOCK = defineToggle({
  name: "gem.open-drops-name-lock",
  description:
    "GEM_OPEN unlocks object_name_lock after the name lookup and creates the handle with a fresh " +
    "drm_gem_handle_create(): a GEM_CLOSE of the last handle in between removes the name and the " +
    "dma-buf link, and the opened handle resurrects handle_count from 0 on an unnamed object.",
  fixedBy: "drm/gem: completely close gem_open vs. gem_close races",
  kind: "historic",
  commit: "20228c447846",
  kernels: "v2.6.28-v3.11 (fixed in v3.12)",
});

/** PRIME export of v3.5-v3.11: obj->export_dma_buf without a reference, reused with get_dma_buf(). */
export const PRIME_EXPORT_OUTSIDE_NAME_LOCK = defineToggle({
  name: "prime.export-outside-name-lock",
  description:
    "PRIME_HANDLE_TO_FD as in v3.5-v3.11: the object's export is remembered in " +
    "obj->export_dma_buf, which holds no reference and is cleared only by the dma-buf's " +
    "release; a later export reuses it with a plain get_dma_buf() under the file's prime.lock " +
    "(no object_name_lock, no handle_count check). Once the last fd and the cache entry are " +
    "gone (GEM_CLOSE of the exporting handle) the dma-buf is doomed but still linked, and an " +
    "export racing that close gets it: get_file() of those kernels (atomic_long_inc) brings the " +
    "file back from 0, its pending release frees it under the new fd, and that fd's close " +
    "releases it again (use-after-free / double free: the Oops of IGT export-vs-gem_close-race).",
  fixedBy: "drm/prime: proper locking+refcounting for obj->dma_buf link",
  kind: "historic",
  commit: "319c933c71f3",
  kernels: "v3.5-v3.11 (fixed in v3.12)",
});

/** PRIME cache removal keyed by obj->dma_buf instead of the handle. */
export const PRIME_CACHE_REMOVE_BY_DMA_BUF = defineToggle({
  name: "prime.cache-remove-by-dma-buf",
  description:
    "Closing a handle removes the PRIME cache entry of obj->dma_buf instead of the entry of the " +
    "closed handle: with two handles of one object in a file, closing one drops the other's " +
    "entry, and a re-import of the exported dma-buf returns a third handle.",
  fixedBy: "drm/gem: Fix GEM handle release errors",
  kind: "historic",
  commit: "ea2aa97ca37a",
  kernels: "v3.12-v5.19 (fixed in v6.0 and the stable kernels)",
});

/** Handle visible in the idr before vma_node_allow() and funcs->open. */
export const GEM_HANDLE_PUBLISHED_BEFORE_OPEN = defineToggle({
  name: "gem.handle-published-before-open",
  description:
    "drm_gem_handle_create_tail() stores the object in the handle idr at idr_alloc() time, before " +
    "drm_vma_node_allow() and funcs->open: a GEM_CLOSE of the guessed handle runs funcs->close " +
    "and the vma revoke before the open, leaking the mmap permission and unbalancing the driver.",
  fixedBy: "drm/gem: Fix race in drm_gem_handle_create_tail()",
  kind: "historic",
  commit: "bd46cece51a3",
  kernels: "up to v6.15 (fixed in v6.16 and the stable kernels)",
});

/** Handle id freed before the release of the driver's references to it. */
export const GEM_HANDLE_ID_REUSED_BEFORE_RELEASE = defineToggle({
  name: "gem.handle-id-reused-before-release",
  description:
    "A revert of the fix on current code: drm_gem_handle_delete() removes the id from the idr " +
    "before drm_gem_object_release_handle(), so a new handle can get the same id while the old " +
    "one's per-handle state is still being released. In v4.6 and before the victims were " +
    "drivers' per-handle state released by their gem_close_object callbacks (the PRIME cache " +
    "was keyed by dma-buf until v6.0); the victim here is the PRIME cache entry keyed by handle " +
    "(since ea2aa97ca37a, v6.0): the release removes the new handle's entry.",
  fixedBy: "drm: Release driver references to handle before making it available again",
  kind: "historic",
  commit: "f6cd7daecff5",
  kernels:
    "the ordering: up to v4.6 (fixed in v4.7); the victim shown exists since v6.0 (a revert on current code)",
});

/** PRIME cache trees modified without prime.lock (no released kernel did this). */
export const PRIME_CACHE_WITHOUT_LOCK = defineToggle({
  name: "prime.cache-without-lock",
  description:
    "Hypothetical: drm_prime_remove_buf_handle() erases the member from the two cache trees " +
    "without prime.lock. Every released kernel removes cache entries under prime.lock; a 2026 " +
    'list patch ("drm/prime: Fix unsupervised rb_tree corruption in ' +
    'drm_prime_remove_buf_handle") claimed an unlocked removal in v1 and dropped the claim in v2. ' +
    "Kept to show the harness finds a lost tree update: a concurrent insertion (export or " +
    "import on the same file) loses an update and a member freed by the removal stays in a tree.",
  fixedBy: "none: no kernel had it",
  kind: "hypothetical",
  kernels: "none (modifies the v6.18 drm_prime_remove_buf_handle())",
});

// ---- DRM_IOCTL_GEM_CHANGE_HANDLE (53096728b891, v6.18) and its fix chain -----------------------
// The handler's history, oldest first: v6.18 (53096728b891), 630efee9493c (lookup reference
// put), d8129446edea (INT_MAX check), 5e28b7b94408 (NULL the new handle during the swap: the
// wrong slot), dc366607c41c (re-install the object at the new handle), 7164d78559b0 (NULL the old
// handle), 1a4f03d22fb6 (attempt 4: the old handle's object taken from the idr itself, the new id
// reserved with NULL; mainline also routes the ioctl to drm_invalid_op). With several of the
// toggles below on, the oldest body wins (drmGemChangeHandleIoctl()).

/** v6.18.0's GEM_CHANGE_HANDLE: the lookup reference is never put. */
export const GEM_CHANGE_HANDLE_LOOKUP_LEAK = defineToggle({
  name: "gem.change-handle-lookup-leak",
  description:
    "GEM_CHANGE_HANDLE as merged in v6.18 (53096728b891): drm_gem_object_lookup() takes a " +
    "reference that no path puts (not even the handle == new_handle shortcut), so every call " +
    "leaks the object: it outlives its last handle and the file (kmemleak), and the driver " +
    "module could not be unloaded.",
  fixedBy: "drm: Fix object leak in DRM_IOCTL_GEM_CHANGE_HANDLE",
  kind: "historic",
  commit: "630efee9493c",
  kernels: "v6.18 until 630efee9493c (December 2025, for v6.19, Cc stable)",
});

/** GEM_CHANGE_HANDLE before d8129446edea: new_handle > INT_MAX reaches idr_alloc() negative. */
export const GEM_CHANGE_HANDLE_NO_INT_MAX_CHECK = defineToggle({
  name: "gem.change-handle-no-int-max-check",
  description:
    "GEM_CHANGE_HANDLE without the `new_handle > INT_MAX` check: the u32 becomes a negative int " +
    "start for idr_alloc(), whose WARN_ON_ONCE(start < 0) userspace can trigger at will (a " +
    "panic with panic_on_warn); the ioctl then fails with -EINVAL.",
  fixedBy:
    "drm: Do not allow userspace to trigger kernel warnings in drm_gem_change_handle_ioctl()",
  kind: "historic",
  commit: "d8129446edea",
  kernels: "v6.18 to v6.19-rc7 (fixed for v6.19-rc8)",
});

/** GEM_CHANGE_HANDLE before 5e28b7b94408: both handles live during the PRIME swap. */
export const GEM_CHANGE_HANDLE_TWO_LIVE_HANDLES = defineToggle({
  name: "gem.change-handle-two-live-handles",
  description:
    "GEM_CHANGE_HANDLE before 5e28b7b94408 (CVE-2026-46215): the new id is allocated with the " +
    "object and the old handle stays published until the end, so the object briefly has two " +
    "idr entries and one handle count. A GEM_CLOSE of the old handle racing it releases the " +
    "handle (handle_count 0: the handles' reference is dropped) while the new entry survives: " +
    "once the ioctl puts its lookup reference the object is freed under the new handle, whose " +
    "next use is a use-after-free. (5e28b7b94408 NULLed the wrong slot, the new one, so this " +
    "race only closed with 7164d78559b0: see gem.change-handle-old-handle-live.)",
  fixedBy: "drm: Set old handle to NULL before prime swap in change_handle",
  kind: "historic",
  commit: "5e28b7b94408",
  kernels: "v6.18 to v7.1-rc2 (5e28b7b94408 is in v7.1-rc3, 6.18.32 and 7.0.9)",
});

/** 5e28b7b94408's GEM_CHANGE_HANDLE: the new handle is left NULL. */
export const GEM_CHANGE_HANDLE_NEW_HANDLE_LEFT_NULL = defineToggle({
  name: "gem.change-handle-new-handle-left-null",
  description:
    "GEM_CHANGE_HANDLE with 5e28b7b94408 and without dc366607c41c: the new id is replaced with " +
    "NULL for the PRIME swap (the local `handle` is the new handle) and never gets the object " +
    "back, so a successful call leaves the new handle unusable (GEM_CLOSE of it is -EINVAL), " +
    "the object's handle count and the new handle's PRIME entry are never released (the file's " +
    "close skips NULL entries: syzbot's WARN !RB_EMPTY_ROOT(&prime_fpriv->dmabufs) in " +
    "drm_prime_destroy_file_private), and its error path WARNs on idr_replace() of the id it " +
    "just removed.",
  fixedBy: "drm: Replace old pointer to new idr",
  kind: "historic",
  commit: "dc366607c41c",
  kernels: "v7.1-rc3 and the stable kernels that took 5e28b7b94408 before dc366607c41c",
});

/** GEM_CHANGE_HANDLE before 7164d78559b0: the old handle stays live during the swap. */
export const GEM_CHANGE_HANDLE_OLD_HANDLE_LIVE = defineToggle({
  name: "gem.change-handle-old-handle-live",
  description:
    "GEM_CHANGE_HANDLE with 5e28b7b94408 and dc366607c41c but without 7164d78559b0: the old " +
    "handle stays live in the idr between the first table_lock section and the last, so a " +
    "racing GEM_CLOSE of it succeeds, drops handle_count to 0 and frees the object once the " +
    "ioctl puts its lookup reference, while the new handle's entry (re-installed at the end) " +
    "still points to it: a use-after-free through the new handle.",
  fixedBy: "drm/gem: fix race between change_handle and handle_delete",
  kind: "historic",
  commit: "7164d78559b0",
  kernels: "v6.18 to v7.1-rc5; per CVE-2026-63885 6.18.32-6.18.34 and 7.0.9-7.0.11",
});

/** GEM_CHANGE_HANDLE before 1a4f03d22fb6: lookup outside table_lock, idr_replace() unchecked. */
export const GEM_CHANGE_HANDLE_LOOKUP_BEFORE_LOCK = defineToggle({
  name: "gem.change-handle-lookup-before-lock",
  description:
    "GEM_CHANGE_HANDLE before 1a4f03d22fb6 (attempt 4, CVE-2026-53145): the object is looked " +
    "up before prime.lock and table_lock, and the idr_replace(NULL) of the old handle is not " +
    "checked. A GEM_CLOSE of the old handle that completes in between releases the handle " +
    "(handle_count 0); the ioctl still installs the object at the new handle, without a " +
    "handle count, and its lookup reference is the last one: the object is freed under the new " +
    "handle (use-after-free at its next use). Mainline since 1a4f03d22fb6 also disables the " +
    "ioctl (drm_invalid_op); the model keeps the fixed handler reachable.",
  fixedBy: "drm/gem: Try to fix change_handle ioctl, attempt 4",
  kind: "historic",
  commit: "1a4f03d22fb6",
  kernels: "per CVE-2026-53145 6.18.32-6.18.35 and 7.0.9-7.0.12 (and v7.1-rc3 on until the fix)",
});

/**
 * Known upstream defect (KNOWN-WINDOWS.md): no GEM_CHANGE_HANDLE body that released kernels
 * reached rejects new_handle 0; the switch applies the proposed check. No race is needed.
 */
export const GEM_CHANGE_HANDLE_NEW_HANDLE_ZERO = defineKnownWindow({
  name: "gem.change-handle-new-handle-zero",
  what:
    "GEM_CHANGE_HANDLE with new_handle 0 (DRM handles are never 0: the handle idr is based at 1) " +
    "calls idr_alloc(idr, ptr, 0, 1), whose `max - base` wraps, so the lowest free id is " +
    "allocated instead of 0, and the body goes on with handle 0. v6.18.0 to 5e28b7b94408 " +
    "(object allocated at that id): returns 0, the object silently moves to the other id and " +
    "its PRIME cache entry is filed under handle 0 (FD_TO_HANDLE of its dma-buf returns 0, " +
    "drm_prime_destroy_file_private() WARNs at close, the dma-buf leaks). From 5e28b7b94408 " +
    "to 1a4f03d22fb6: idr_replace(NULL, 0) fails, the error path cannot remove id 0 and returns " +
    "-ENOENT with the object published at the other id without a handle count: closing both " +
    "ids underflows handle_count and frees the object under the second (KASAN use-after-free). " +
    "1a4f03d22fb6's body (unreachable in mainline): the id is reserved with NULL, the final " +
    "idr_replace(obj, 0) WARNs (handle 0 was not reserved) and the object and id leak",
  where:
    "drivers/gpu/drm/drm_gem.c: drm_gem_change_handle_ioctl() (idr_alloc(..., handle, " +
    "handle + 1) and idr_replace(..., handle) with handle 0; no check of new_handle == 0)",
  since: "drm: Add DRM prime interface to reassign GEM handle",
  sinceCommit: "53096728b891",
  kernels:
    "v6.18 to v7.1-rc (every body of the fix chain, until 1a4f03d22fb6 routed the ioctl to " +
    "drm_invalid_op()) and the stable kernels before that commit (6.18.y up to at least " +
    "6.18.35, 7.0.y up to at least 7.0.12); mainline since 1a4f03d22fb6 does not reach it, and " +
    'that commit lists "handle == 0" among what must be handled before the ioctl is re-enabled',
  proposedFix:
    "reject new_handle == 0 with -EINVAL right after the handle == new_handle check (which " +
    'stays 0), before prime.lock and any allocation (proposed here; a 2026 patch, "drm/gem: fix ' +
    'warning in idr_alloc due to unvalidated user handle", named the missing check and was not merged)',
  foundBy:
    'drm-gem.test.ts ("new_handle 0": one GEM_CHANGE_HANDLE {handle: 1, new_handle: 0}, per ' +
    "body, with and without the switch)",
});

/**
 * Known upstream window (KNOWN-WINDOWS.md): _drm_lease_held()'s master put under
 * mode_config.idr_mutex can be the last one, and drm_master_destroy() -> drm_lease_destroy()
 * takes idr_mutex again. The switch applies the proposed fix: check under master_lookup_lock,
 * without a reference.
 */
export const GEM_LEASE_HELD_PUT_UNDER_IDR_MUTEX = defineKnownWindow({
  name: "gem.lease-held-put-under-idr-mutex",
  what:
    "__drm_mode_object_find() holds mode_config.idr_mutex while _drm_lease_held() takes a " +
    "master reference with drm_file_get_master() and puts it. When a privileged SET_MASTER of " +
    "the same file (CAP_SYS_ADMIN: the file shared the device's former master and never was " +
    "master itself) runs drm_new_set_master() in between and the file held that master's last " +
    "other reference, the lookup's drm_master_put() is the last: drm_master_destroy() -> " +
    "drm_lease_destroy() -> mutex_lock(&dev->mode_config.idr_mutex) on the lock the task " +
    "holds (lockdep: possible recursive locking detected; the task deadlocks, and every later " +
    "mode object lookup of the device waits for idr_mutex). The lookup side is unprivileged: " +
    "GETCRTC, GETPLANE, GETCONNECTOR, OBJ_GETPROPERTIES of a CRTC, plane or connector",
  where:
    "drivers/gpu/drm/drm_lease.c: _drm_lease_held() (drm_file_get_master(), drm_master_put()) " +
    "under drivers/gpu/drm/drm_mode_object.c: __drm_mode_object_find() (idr_mutex), against " +
    "drivers/gpu/drm/drm_auth.c: drm_new_set_master() (drm_master_put(&old_master)); " +
    "drm_master_destroy() -> drm_lease_destroy() (mutex_lock(idr_mutex))",
  since: "drm: protect drm_master pointers in drm_lease.c",
  sinceCommit: "56f0729a510f",
  kernels:
    "v5.15 onwards (and the stable kernels that took 56f0729a510f); the chain read in v6.12.19 " +
    "and v6.18.35 (drm_lease.c identical, drm_auth.c and drm_mode_object.c the same but " +
    "for guard() and an export)",
  proposedFix:
    "_drm_lease_held() takes file_priv->master_lookup_lock, checks file_priv->master " +
    "(_drm_lease_held_master(): idr_find() of the lessee's leases, which does not sleep) and " +
    "unlocks, taking no reference, so no put runs under idr_mutex. The file's own reference " +
    "keeps the master alive while the lock is held (drm_new_set_master() swaps the pointer " +
    "under that lock before it puts the old master), so 56f0729a510f's use-after-free stays " +
    "fixed; idr_mutex -> master_lookup_lock is the order drm_file_get_master() already takes " +
    "there (proposed here; no posted patch known)",
  foundBy:
    'packages/gem/src/drm-lease.test.ts ("gem.lease-held-put-under-idr-mutex": GETCRTC racing a ' +
    "root SET_MASTER, PCT depth 3 seed 1) and qxl's race scenario qxl/lease-lookup-vs-setmaster " +
    "(stress run --open-windows)",
});

/** Every toggle this package defines. */
export const GEM_TOGGLES = [
  GEM_FLINK_NO_HANDLE_COUNT_CHECK,
  GEM_OPEN_DROPS_NAME_LOCK,
  PRIME_EXPORT_OUTSIDE_NAME_LOCK,
  PRIME_CACHE_REMOVE_BY_DMA_BUF,
  GEM_HANDLE_PUBLISHED_BEFORE_OPEN,
  GEM_HANDLE_ID_REUSED_BEFORE_RELEASE,
  PRIME_CACHE_WITHOUT_LOCK,
  GEM_CHANGE_HANDLE_LOOKUP_LEAK,
  GEM_CHANGE_HANDLE_NO_INT_MAX_CHECK,
  GEM_CHANGE_HANDLE_TWO_LIVE_HANDLES,
  GEM_CHANGE_HANDLE_NEW_HANDLE_LEFT_NULL,
  GEM_CHANGE_HANDLE_OLD_HANDLE_LIVE,
  GEM_CHANGE_HANDLE_LOOKUP_BEFORE_LOCK,
] as const;

/** drm_framebuffer_init() without handle references: the framebuffer holds only the objects. */
export const GEM_FB_WITHOUT_HANDLE_REF = defineToggle({
  name: "gem.fb-without-handle-ref",
  description:
    "ADDFB2 as before the July 2025 fixes: the framebuffer holds its GEM objects but no GEM " +
    "handle reference, so userspace's last GEM_CLOSE drops handle_count to 0 while the " +
    "framebuffer still uses the object: drm_gem_object_handle_free() releases the flink name " +
    "and drm_gem_object_exported_dma_buf_free() drops obj->dma_buf. 5307dce878d4's report: " +
    "the dma-buf backing a scanned-out buffer is released and the next vmap of the " +
    "framebuffer (drm_gem_fb_vmap() on a shadow-plane driver) WARNs in dma_buf_vmap() and " +
    "crashes. Here the loss shows to userspace: GEM_OPEN of the object's name fails (ENOENT) " +
    "while the framebuffer made from it is alive. 5307dce878d4 (drm/gem: Acquire references " +
    "on GEM handles for framebuffers) fixed it in the GEM framebuffer helpers; f6bfc9afc751 " +
    "moved the reference into drm_framebuffer_init() for every driver, taken only if the " +
    "object has a handle.",
  fixedBy: "drm/framebuffer: Acquire internal references on GEM handles",
  kind: "historic",
  commit: "f6bfc9afc751",
  kernels:
    "every kernel before v6.16 (fixed during the v6.16 rc cycle, July 2025, after 5307dce878d4; both backported to the stable kernels, 6.6.y and 6.15.y among them)",
});

/** drm_getunique() loading file_priv->master before it takes master_mutex. */
export const GEM_GETUNIQUE_MASTER_BEFORE_LOCK = defineToggle({
  name: "gem.getunique-master-before-lock",
  description:
    "GET_UNIQUE as before the June 2021 fix: drm_getunique() loads file_priv->master and only " +
    "then takes master->dev->master_mutex, so a SET_MASTER of the same file by a privileged " +
    "thread in between (drm_new_set_master(): the file gets a master of its own and puts the " +
    "one it shared) can free that master when the file held its last reference, and " +
    "GET_UNIQUE reads master->dev, master->unique_len and master->unique of freed memory " +
    "(syzbot's 'KASAN: use-after-free Read in drm_getunique'). The fix takes dev->master_mutex " +
    "first and loads file_priv->master under it.",
  fixedBy: "drm: Fix use-after-free read in drm_getunique()",
  kind: "historic",
  commit: "b436acd1cf7f",
  kernels:
    "kernels before v5.13 (fixed in v5.13-rc6; stable: 4.14.237, 4.19.195, 5.4.126, 5.10.44, 5.12.11); the first affected version is not confirmed",
});

/** drm_lease_held() and friends reading file_priv->master without a reference. */
export const GEM_LEASE_HELD_MASTER_UNLOCKED = defineToggle({
  name: "gem.lease-held-master-unlocked",
  description:
    "DRM lease checks as before the July 2021 fix: drm_lease_held(), drm_lease_filter_crtcs() " +
    "and _drm_lease_held() read file_priv->master and its lessor without master_lookup_lock or " +
    "a reference, so a SET_MASTER of the same file by a privileged thread in between " +
    "(drm_new_set_master(): the file gets a master of its own and puts the one it shared) can " +
    "free that master when the file held its last reference, and GETRESOURCES' " +
    "drm_lease_held() reads master->lessor of freed memory. The fix takes a reference with the " +
    "new drm_file_get_master() in every drm_lease.c reader.",
  fixedBy: "drm: protect drm_master pointers in drm_lease.c",
  kind: "historic",
  commit: "56f0729a510f",
  kernels:
    "v4.15 (leases) to v5.14 (fixed in v5.15; stable backports 121ca0abd900 and 3be1a2730659, their series not confirmed)",
});

// ---- DRM sync objects (drm_syncobj.c) -----------------------------------------------------------

/** drm_syncobj_find_fence() of v5.2-v5.10: the lookup reference dropped before the wait. */
export const GEM_SYNCOBJ_FIND_FENCE_EARLY_PUT = defineToggle({
  name: "gem.syncobj-find-fence-early-put",
  description:
    "drm_syncobj_find_fence() as in v5.2-v5.10: it drops its lookup reference on the syncobj " +
    "right after drm_syncobj_fence_get(), before the WAIT_FOR_SUBMIT path that still uses the " +
    "syncobj (drm_syncobj_fence_add_wait() queues the waiter on its cb_list under its lock, " +
    "drm_syncobj_remove_wait() takes the lock again after the sleep). Only userspace's handle " +
    "keeps the syncobj alive then: a SYNCOBJ_DESTROY of the source handle by another thread " +
    "while a SYNCOBJ_TRANSFER with WAIT_FOR_SUBMIT waits for its fence frees the syncobj under " +
    "the waiter (KASAN use-after-free of the drm_syncobj, at the add_wait or at the remove_wait " +
    "after the 5 s submit timeout). The fix keeps the reference until the wait is over.",
  fixedBy: "drm/syncobj: Fix use-after-free",
  kind: "historic",
  commit: "a37eef63bc9e",
  kernels:
    "v5.2-v5.10 (since bc9c80fe01a2 moved the WAIT_FOR_SUBMIT wait into drm_syncobj_find_fence(); fixed in v5.11-rc5, stable backports to 5.4.y and 5.10.y)",
});

/** drm_syncobj_handle_to_fd() of linux-4.14.y between the backport of e7cdf5c82f17 and 4.14.201. */
export const GEM_SYNCOBJ_HANDLE_TO_FD_EXTRA_GET = defineToggle({
  name: "gem.syncobj-handle-to-fd-extra-get",
  description:
    "SYNCOBJ_HANDLE_TO_FD as in linux-4.14.y after 5fb252cad61f, the backport of e7cdf5c82f17 " +
    '("drm/syncobj: Stop reusing the same struct file for all syncobj -> fd"): ' +
    "drm_syncobj_handle_to_fd() hands its drm_syncobj_find() reference to the new file and " +
    "still takes another one (drm_syncobj_get() before fd_install()), so every opaque export " +
    "leaks a syncobj reference: the syncobj and its fence outlive every handle, fd and file " +
    "(kmemleak). A stable-only bug: mainline never had the extra get.",
  fixedBy: "drm/syncobj: Fix drm_syncobj_handle_to_fd refcount leak",
  kind: "historic",
  commit: "328ec6286a78",
  kernels:
    "linux-4.14.y only, from the backport 5fb252cad61f (its release not confirmed) until 4.14.200 (fixed in 4.14.201 by 328ec6286a78)",
});

/** drm_syncobj_handle_to_fd() of v4.13-v4.14: one cached struct file installed at every fd. */
export const GEM_SYNCOBJ_SHARED_FILE = defineToggle({
  name: "gem.syncobj-shared-file",
  description:
    "SYNCOBJ_HANDLE_TO_FD as in the first syncobj kernels: the syncobj caches one struct file " +
    "in syncobj->file (drm_syncobj_alloc_file(), cmpxchg() against a racing export) and " +
    "fd_install()s it at every export without taking a file reference, and the file's release " +
    "does not clear the pointer. Two exports share one f_count: closing the first fd frees the " +
    "file while the second still holds it, and an export after the last close installs the freed " +
    "file (KASAN use-after-free of the struct file at the next fput() or fget()). e7cdf5c82f17 " +
    "creates a new file per export. Only the export side is re-created: that kernel's " +
    "drm_syncobj_fd_to_handle() also kept the fget() reference of a successful import, which " +
    "the model's v6.18 import does not.",
  fixedBy: "drm/syncobj: Stop reusing the same struct file for all syncobj -> fd",
  kind: "historic",
  commit: "e7cdf5c82f17",
  kernels:
    "v4.13 and v4.14 (4.14.y until its backport 5fb252cad61f of the fix; the mainline release of e7cdf5c82f17 not confirmed)",
});
