/**
 * The historic races of the DRM core as toggles (ARCHITECTURE.md section 5). Each toggle puts back the
 * code a kernel commit removed, at the exact place the fixed and the buggy versions part; the
 * code that honours it says so next to its `toggleEnabled()` call. With a toggle on, the named
 * scenario finds the bug under pct; with all toggles off the same scenario is clean.
 */

import { defineToggle } from "@primetime/sim";

/** drm_gem_flink_ioctl() without the handle_count == 0 check under object_name_lock. */
export const GEM_FLINK_NO_HANDLE_COUNT_CHECK = defineToggle({
  name: "gem.flink-no-handle-count-check",
  description:
    "GEM_FLINK allocates a name without checking handle_count == 0 under object_name_lock, so a " +
    "flink racing the last GEM_CLOSE names an object after its last handle removed the names. " +
    "In the kernels that had the bug the flink name held an object reference: the name was " +
    "never removed and kept the object alive for ever (a leak: IGT gem_flink_race leaked about " +
    "1k objects/s). On this (current) code a name holds no reference, so the same missing check " +
    "leaves a name on a freed object: GEM_OPEN of it is a use-after-free, which is what the " +
    "harness finds.",
  fixedBy: "drm/gem: fix up flink name create race",
  kind: "historic",
  commit: "a8e11d1c435f",
  kernels:
    "v2.6.28-v3.11 (fixed in v3.12); there the outcome was the leak, here the use-after-free",
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

/** Every toggle this package defines. */
export const GEM_TOGGLES = [
  GEM_FLINK_NO_HANDLE_COUNT_CHECK,
  GEM_OPEN_DROPS_NAME_LOCK,
  PRIME_EXPORT_OUTSIDE_NAME_LOCK,
  PRIME_CACHE_REMOVE_BY_DMA_BUF,
  GEM_HANDLE_PUBLISHED_BEFORE_OPEN,
  GEM_HANDLE_ID_REUSED_BEFORE_RELEASE,
  PRIME_CACHE_WITHOUT_LOCK,
] as const;
