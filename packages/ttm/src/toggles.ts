/**
 * TTM's historic lifetime races as toggles (ARCHITECTURE.md section 5). Each puts back what the
 * kernel did before the fix, at the place the fix changed; the code honouring it says so next
 * to its `toggleEnabled()` call.
 */

import { defineToggle } from "@primetime/sim";

/** The mmap lookup of a BO by offset takes a plain kref_get(). */
export const TTM_MMAP_LOOKUP_PLAIN_GET = defineToggle({
  name: "ttm.mmap-lookup-plain-get",
  description:
    "Historic (Linux 2.6.31-3.10): ttm_bo_mmap() finds the BO in the device's address-space " +
    "tree and takes a plain kref_get(); the old code kept it safe only by holding " +
    "bdev->vm_lock around every ttm_bo_unref(). With the unref done without the lock (as the " +
    "2010 dri-devel thread that asked for kref_get_unless_zero() describes), the lookup can " +
    "find a BO whose count already hit zero and whose release has not yet removed its offset: " +
    "refcount 'addition on 0' and a mapping of a freed BO. Fixed by taking the reference with " +
    "kref_get_unless_zero() (ttm_bo_get_unless_zero()) under the offset manager's lookup lock.",
  fixedBy:
    "historic fix, title and hash not confirmed: the TTM use of kref_get_unless_zero() in " +
    "ttm_bo_vm_lookup() that followed the 2010 thread (Linux 3.10 era); the GEM twin is " +
    "'drm/gem: Use kref_get_unless_zero for the weak mmap references'",
  foundBy: "ttm races.test.ts: mmap-vs-last-unref under pct",
  kind: "historic",
  commit: "hash not confirmed",
  kernels:
    "v2.6.31-v3.9 with the vm_lock dropped around unref (ttm_bo_vm_lookup() of v3.10-v5.13 is fixed)",
});

/** ttm_bo_release() resurrects a busy BO with kref_get() instead of kref_init(). */
export const TTM_RELEASE_RESURRECT_WITH_GET = defineToggle({
  name: "ttm.release-resurrect-with-get",
  description:
    "Hypothetical (the pattern the kernel avoids since the delayed-delete rework, Linux 5.5+): " +
    "ttm_bo_release() keeps a busy BO for delayed destruction by taking a reference with " +
    "kref_get() on its zero count instead of re-initialising it with kref_init(): refcount " +
    "'addition on 0', the count saturates and the BO and its backing store are never freed.",
  fixedBy: "hypothetical (title and hash not confirmed): the kref_init() of ttm_bo_release()",
  foundBy: "ttm races.test.ts: busy release",
  kind: "hypothetical",
  kernels: "none (modifies the v6.15 ttm_bo_release())",
});

/** The LRU walk takes a plain reference on the BOs it finds. */
export const TTM_LRU_WALK_PLAIN_GET = defineToggle({
  name: "ttm.lru-walk-plain-get",
  description:
    "Hypothetical, any kernel with a BO-less LRU lookup: an eviction LRU walk takes a plain ttm_bo_get() on the BO it found on the LRU instead of " +
    "ttm_bo_get_unless_zero(): a BO whose last reference was just dropped, whose release has " +
    "not yet taken its resource off the LRU, is resurrected from zero: refcount 'addition on " +
    "0', then a use-after-free when the walker drops its reference.",
  fixedBy:
    "hypothetical (title and hash not confirmed): the ttm_bo_get_unless_zero() of the LRU " +
    "walks (ttm_mem_evict_first(), ttm_bo_lru_cursor)",
  foundBy: "ttm races.test.ts: eviction-vs-release under pct",
  kind: "hypothetical",
  kernels: "none (modifies the v6.15 ttm_lru_walk_for_evict())",
});

/** Eviction of a deleted BO drops a reference the delayed-delete list no longer holds. */
export const TTM_EVICT_DELETED_EXTRA_PUT = defineToggle({
  name: "ttm.evict-deleted-extra-put",
  description:
    "Historic (Linux 6.5 development): after 'drm/ttm: use per BO cleanup workers' " +
    "(9bff18d13473) a released busy BO is resurrected with kref_init() and owned by its own " +
    "delayed-delete work, no longer by a ddestroy list; but ttm_bo_cleanup_refs(), which " +
    "eviction (ttm_mem_evict_first) and swapout run on a deleted BO they find on the LRU, still " +
    "ended with the ttm_bo_put() of the list's reference. The count is dropped once too often: " +
    "the BO is destroyed while its delayed-delete work is still queued (use-after-free), or the " +
    "work's own put underflows (refcount_t: underflow, as reported on amdgpu in July 2023).",
  fixedBy: "drm/ttm: drop extra ttm_bo_put in ttm_bo_cleanup_refs",
  foundBy: "ttm races.test.ts: evict-deleted under pct",
  kind: "historic",
  commit: "c00133a9e87e",
  kernels: "v6.5-rc (from 9bff18d13473 'drm/ttm: use per BO cleanup workers' to the fix)",
});
