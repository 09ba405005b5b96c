/**
 * TTM's historic lifetime races as toggles (ARCHITECTURE.md section 5). Each puts back what the
 * kernel did before the fix, at the place the fix changed; the code honouring it says so next
 * to its `toggleEnabled()` call. A known upstream window (`defineKnownWindow()`,
 * KNOWN-WINDOWS.md) is a race current kernels still have: modeled as the kernel has it, its fix
 * switch applies the proposed fix.
 */

import { defineKnownWindow, defineToggle } from "@primetime/sim";

/** The mmap lookup of a BO by offset takes a plain kref_get() while unrefs take no lock. */
export const TTM_MMAP_LOOKUP_PLAIN_GET = defineToggle({
  name: "ttm.mmap-lookup-plain-get",
  description:
    "Hypothetical, the race the 2010 dri-devel thread that asked for kref_get_unless_zero() " +
    "describes for TTM: ttm_bo_mmap() found the BO in the device's address-space tree and took " +
    "a plain kref_get() (ttm_bo_reference()) under read_lock(&bdev->vm_lock); that was safe " +
    "only because ttm_bo_unref() held write_lock(&bdev->vm_lock) around every kref_put(), so " +
    "the count could not reach zero between the lookup and the get. With the unref done " +
    "without that lock (as TTM does from Linux 3.8, and this model's ttm_bo_put() does) but the " +
    "lookup still taking a plain get, the lookup finds a BO whose count already hit zero and " +
    "whose release has not yet removed its offset: refcount 'addition on 0', and a mapping of " +
    "a BO that is then freed. No released kernel combined the two: in the Linux 3.8 cycle TTM replaced the " +
    "plain get with kref_get_unless_zero() (added by 4b20db3de8da 'kref: Implement " +
    "kref_get_unless_zero v3') when it moved the vm_lock into ttm_bo_release(); the hash of " +
    "that TTM commit is not confirmed.",
  fixedBy:
    "hypothetical combination (TTM's own change is hash not confirmed): the " +
    "kref_get_unless_zero() of ttm_bo_vm_lookup() that replaced holding bdev->vm_lock around " +
    "every ttm_bo_unref() in the Linux 3.8 cycle, after 4b20db3de8da 'kref: Implement " +
    "kref_get_unless_zero v3'",
  foundBy: "ttm races.test.ts: mmap-vs-last-unref under pct",
  kind: "hypothetical",
  kernels:
    "none as such: v2.6.31-v3.7 took the plain get but held bdev->vm_lock around every unref; " +
    "from v3.8 the lookup takes kref_get_unless_zero() (modifies the model's historic ttm_bo_vm_lookup())",
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
  kernels: "none (modifies v6.18's ttm_bo_release())",
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
  kernels: "none (modifies v6.18's __ttm_bo_lru_cursor_next(), the LRU walk's cursor)",
});

/** The eviction walk takes a plain reference on a busy BO before waiting for its lock. */
export const TTM_EVICT_BUSY_PLAIN_GET = defineToggle({
  name: "ttm.evict-busy-plain-get",
  description:
    "Historic (Linux 5.3): 'drm/ttm: fix busy memory to fail other user v10' (d367bd2a5e2b) " +
    "made ttm_mem_evict_first() remember the first BO on the LRU it could not lock (busy, " +
    "reserved by someone else) and, when nothing else could be evicted, take a reference on " +
    "it with ttm_bo_get() and wait for its reservation with the caller's ww ticket " +
    "(ttm_mem_evict_wait_busy()). But the busy BO may already be dead: its count is zero and " +
    "its own ttm_bo_release() holds the reservation while it frees the backing store, still " +
    "on the LRU. The get on the zero count is refcount 'addition on 0', and the waiter then " +
    "locks and puts a BO that is freed (use-after-free). Fixed by taking only a list " +
    "reference; in v6.18 the same place is the ticket path of the LRU walk's cursor " +
    "(__ttm_bo_lru_cursor_next()), which takes ttm_bo_get_unless_zero() before " +
    "ttm_lru_walk_ticketlock(): the toggle puts the plain get back there.",
  fixedBy: "drm/ttm: fix busy reference in ttm_mem_evict_first",
  foundBy: "ttm races.test.ts: evict-busy-vs-release under pct",
  kind: "historic",
  commit: "73a88e4ce310",
  kernels:
    "v5.3 (from d367bd2a5e2b 'drm/ttm: fix busy memory to fail other user v10'; fixed in v5.4-rc and 5.3 stable)",
});

/** A ghost object's reservation is never finished. */
export const TTM_GHOST_RESV_NOT_FINI = defineToggle({
  name: "ttm.ghost-resv-not-fini",
  description:
    "Historic (fixed in Linux 5.15-rc7, backported to 5.14.16; the 5.10.y and 5.4.y backports " +
    "were reverted in 5.10.78 and 5.4.158): " +
    "ttm_transfered_destroy(), the destroy of a ghost object (ttm_buffer_object_transfer()), " +
    "freed the ghost without dma_resv_fini() on its own reservation, so the fence list of " +
    "every pipelined move's ghost, and the move fence it references, leaked (kernel bugzilla " +
    "214029: 'We need to cleanup the fences for ghost objects as well'). A leak, not a race: " +
    "kmemleak reports the dma_resv_list and the fence after the ghost is gone.",
  fixedBy: "drm/ttm: fix memleak in ttm_transfered_destroy",
  foundBy: "ttm races.test.ts: ghost-move-release",
  kind: "historic",
  commit: "0db55f9a1baf",
  kernels:
    "up to v5.15-rc6 (where the leak began is not confirmed; fixed in v5.15-rc7 and 5.14.16; the " +
    "5.10.y and 5.4.y backports were reverted in 5.10.78 and 5.4.158)",
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

/**
 * A self-deadlock current kernels still have: the LRU walk (eviction under a driver's lock)
 * unlocks a BO and only then puts it, and that put can be the last: a deleted BO's delayed delete
 * put in between, or the owner of a live BO dropped its last reference while the walk held it.
 * Then ttm_bo_release() and the driver's destroy run in the walker's context. vmwgfx's
 * vmw_bo_free() takes cmdbuf_mutex for a dumb buffer's surface, which EXECBUF holds while its
 * validation walks the MOB manager's LRU. With the switch off (the faithful default) lockdep
 * reports the recursive locking; on, it applies the proposed fix: the walk's last reference is
 * handed to TTM's workqueue.
 */
export const TTM_WALK_PUT_RUNS_DESTROY = defineKnownWindow({
  name: "ttm.walk-put-runs-destroy",
  what:
    "TTM's LRU walk (ttm_bo_lru_cursor_cleanup_bo(): dma_resv_unlock(), then ttm_bo_put()) " +
    "holds the last reference of the BO it just processed when (a) the BO is deleted and its " +
    "delayed delete, woken by the fence the walk waited for, locked, cleaned up, unlocked and " +
    "put between the walk's unlock and its put, or (b) the BO's owner dropped its last " +
    "reference (a GEM_CLOSE) while the walk held it; the walk's put then runs ttm_bo_release() " +
    "and bo->destroy in the walker's context. vmwgfx's vmw_bo_free() takes cmdbuf_mutex for a " +
    "dumb buffer's surface, and vmw_execbuf_process() holds cmdbuf_mutex while its validation " +
    "evicts from the MOB manager: 'WARNING: possible recursive locking detected', and the task " +
    "waits for itself",
  where:
    "drivers/gpu/drm/ttm/ttm_bo_util.c: ttm_bo_lru_cursor_cleanup_bo() (v6.18.35; v6.12.19: " +
    "ttm_lru_walk_for_evict()'s ttm_lru_walk_unlock() then ttm_bo_put()) with ttm_bo.c " +
    "ttm_bo_delayed_delete() and ttm_bo_release(), against drivers/gpu/drm/vmwgfx/vmwgfx_bo.c " +
    "vmw_bo_free() (v6.12.19: vmw_bo_release()) mutex_lock(&res->dev_priv->cmdbuf_mutex), under " +
    "vmwgfx_execbuf.c vmw_execbuf_process()'s cmdbuf_mutex (vmw_validation_bo_validate() -> " +
    "ttm_bo_validate() -> ttm_bo_evict_alloc())",
  since: "drm/vmwgfx: Fix handling of dumb buffers",
  sinceCommit:
    "d6667f0ddf46 (hash not confirmed: as cited by f42c09e614f1's Fixes: tag; the walk's " +
    "unlock-then-put order is older)",
  kernels:
    "v6.11 and 6.10.4+ onwards (vmwgfx with MOBs and 3D: dumb buffers backed by a surface), " +
    "still in v6.12.19 and v6.18.35 (linux-6.18.y ttm_bo_util.c, vmwgfx_bo.c, vmwgfx_execbuf.c)",
  proposedFix:
    "the walk drops its reference with refcount_dec_not_one() and hands the last one to TTM's " +
    "workqueue (a deleted BO's delayed-delete work queued again; a live BO's work item set to " +
    "put it), so ttm_bo_release() and bo->destroy never run in a walker that may hold a driver " +
    "lock (proposed here; no posted patch known)",
  foundBy:
    "vmwgfx-leaks.test.ts (dumbReleaseInEvictWalk of @primetime/vmwgfx/scenarios: a closed busy " +
    "dumb buffer in a MOB, then an EXECBUF whose buffer needs every MOB page); stress `run " +
    "--scenario vmwgfx/dumb-release-in-evict-walk --open-windows`; @primetime/fuzz's private " +
    "runs with vmwVram (fuzz-ops-vmw-vram.ts); first seen in eviction-under-sharing with a dumb " +
    "scratch buffer (vmwgfx+vmwgfx, 59 of 300 schedules)",
});
