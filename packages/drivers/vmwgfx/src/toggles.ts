/**
 * vmwgfx's historic lifetime races as toggles (ARCHITECTURE.md section 5). Each puts back what the
 * named fix removed, at the place the fixed and the buggy code part (`toggleEnabled()` there);
 * with every toggle off the driver is the fixed one, and the scenarios in races.test.ts are
 * clean with the known windows' fix switches on (`baselineFixes()`). A known upstream window
 * (`defineKnownWindow()`, KNOWN-WINDOWS.md) is a race current kernels still have: modeled as the
 * kernel has it, its fix switch applies the proposed fix.
 */

import { defineKnownWindow, defineToggle } from "@primetime/sim";

/** ttm_prime_handle_to_fd() re-exporting through the non-refcounted pointer with get_dma_buf(). */
export const VMWGFX_REEXPORT_PLAIN_GET = defineToggle({
  name: "vmwgfx.reexport-plain-get",
  description:
    "ttm_prime_handle_to_fd() re-exports the prime object's cached prime->dma_buf with a plain " +
    "get_dma_buf(): that pointer holds no reference and is cleared only by the dma-buf's " +
    "deferred release, so a PRIME_HANDLE_TO_FD racing the last close of the exported fd " +
    "increments a file count of 0 (refcount 'addition on 0; use-after-free') and installs a " +
    "file that __fput() then frees (KASAN use-after-free through the new fd).",
  fixedBy:
    "dma-buf: Add get_dma_buf_unless_doomed (Thomas Hellstrom, linaro-mm-sig, Nov 2013; kept " +
    "local to ttm_object.c instead of merged)",
  foundBy: "races.test.ts: reexport-vs-close (one thread closes the last fd, one re-exports)",
  kind: "hypothetical",
  kernels:
    "the ttm prime code of v3.14+ (ttm_object.c, in drivers/gpu/drm/ttm until it moved into " +
    "vmwgfx): it shipped with get_dma_buf_unless_doomed(), the race was argued in review",
});

/** vmw_gem_object_create_ioctl() reading the buffer object after the handle owns it. */
export const VMWGFX_HANDLE_REF_DROPPED_TOO_SOON = defineToggle({
  name: "vmwgfx.handle-ref-dropped-too-soon",
  description:
    "vmw_gem_object_create_with_handle() drops the creation reference right after " +
    "drm_gem_handle_create(), and ALLOC_BO then reads the object's mmap offset: a thread that " +
    "guesses the handle and closes it in between frees the buffer first (KASAN use-after-free).",
  fixedBy: "drm/vmwgfx: Do not drop the reference to the handle too soon",
  foundBy: "races.test.ts: alloc-bo-vs-close-guessed-handle",
  kind: "historic",
  commit: "a950b989ea29",
  kernels:
    "v5.17 ('drm/vmwgfx: Implement DRIVER_GEM', 8afa13a0583f) until the fix (Feb 2023; stable " +
    "v5.17+, 6.1.y as 0a127ac97240; a later Fixes: tag cites it as 9ef8d83e8e25)",
});

/** vmw_user_bo_unref() without the NULL check after vmw_bo_unreference() cleared the pointer. */
export const VMWGFX_INVALID_GEM_PUT = defineToggle({
  name: "vmwgfx.invalid-gem-put",
  description:
    "After a950b989ea29 the callers of " +
    "vmw_user_bo_lookup() drop its two references as vmw_bo_unreference(&bo) followed by " +
    "drm_gem_object_put(&bo->tbo.base); vmw_bo_unreference() sets bo to NULL, so the GEM put " +
    "dereferences NULL (an oops: a 'bug' splat) and the GEM reference leaks.",
  fixedBy: "drm/vmwgfx: Fix possible invalid drm gem put calls",
  foundBy: "races.test.ts: synccpu (the SYNCCPU ioctl's lookup + unref path)",
  kind: "historic",
  commit: "f9e96bf19054",
  kernels: "v6.4 until the fix (Aug 2023; stable v6.4+)",
});

/** Surfaces backed by a user buffer keeping only a TTM reference to it. */
export const VMWGFX_SURFACE_BO_TTM_REF_ONLY = defineToggle({
  name: "vmwgfx.surface-bo-ttm-ref-only",
  description:
    "A surface backed by a user buffer " +
    "holds only a TTM reference to it: once userspace closes the buffer's last handle the GEM " +
    "object is dead (refcount 0) while the surface still uses it, and the handle a surface " +
    "reference creates for it increments a GEM refcount of 0; closing that handle underflows " +
    "(the 'refcount_t: underflow' in vmw_bo_unref_ioctl of the fix's report, hit by IGT " +
    "vmw_ref_count).",
  fixedBy: "drm/vmwgfx: Keep a gem reference to user bos in surfaces",
  foundBy:
    "vmw-ref-count.test.ts: surface_prime_transfer_explicit_mob (IGT vmw_ref_count); " +
    "races.test.ts: surface-ref-vs-bo-close",
  kind: "historic",
  commit: "91398b413d03",
  kernels: "v6.2+ with a950b989ea29 until the fix (Sep 2023; stable v6.2+)",
});

/**
 * ttm_prime_fd_to_handle() returning -ENOSYS for a foreign dma-buf without dma_buf_put(): every
 * kernel with ttm prime (65981f7681ab, v3.14) until "drm/vmwgfx: drop dma_buf reference on
 * foreign-fd prime import" (Zack Rusin, posted 2026-05-05, merged for v7.2-rc6 with Cc: stable).
 * Since "drm/vmwgfx: Fix prime import/export" (b32233acceff, v6.9) vmw_prime_fd_to_handle() tries
 * it first for every import and falls back to GEM PRIME, so every GEM or foreign import leaked.
 */
export const VMWGFX_FD_TO_HANDLE_LEAK = defineToggle({
  name: "vmwgfx.fd-to-handle-enosys-leak",
  description:
    "ttm_prime_fd_to_handle() returns -ENOSYS for a dma-buf that is not a ttm prime " +
    "export without dropping the reference dma_buf_get() took; since 'drm/vmwgfx: Fix prime " +
    "import/export' (b32233acceff, Linux 6.9) every import of a GEM buffer's or another " +
    "driver's dma-buf goes through it first, so each such import leaks a dma-buf (kmemleak at " +
    "quiesce).",
  fixedBy: "drm/vmwgfx: drop dma_buf reference on foreign-fd prime import",
  foundBy: "races.test.ts: import-foreign (a vmwgfx buffer's and a system heap's dma-buf)",
  kind: "historic",
  commit: "f739416dc555",
  kernels:
    "v3.14 (65981f7681ab, the fix's Fixes: tag) until v7.2-rc6 (July 2026: merged between " +
    "v7.2-rc5 and v7.2-rc6, patch 20260505222728.519626-6-zack.rusin@broadcom.com; stable " +
    "backports from August 2026, seen in 5.10.y, 6.1.y, 6.6.y and 7.1.y); every GEM/foreign " +
    "import leaks since b32233acceff 'drm/vmwgfx: Fix prime import/export' (v6.9; stable " +
    "6.6.y, April 2024)",
});

/** vmw_gem_object_create_with_handle() writing to a buffer whose initialization failed. */
export const VMWGFX_BO_ACCESS_AFTER_FAILED_INIT = defineToggle({
  name: "vmwgfx.bo-access-after-failed-init",
  description:
    "vmw_gem_object_create_with_handle() sets the new buffer's GEM funcs before checking " +
    "vmw_bo_create()'s result; when ttm_bo_init_reserved() fails it has already destroyed the " +
    "buffer, so the write lands in freed memory (KASAN use-after-free; reached by an allocation " +
    "failure during the buffer's validation).",
  fixedBy: "drm/vmwgfx: Stop accessing buffer objects which failed init",
  foundBy: "races.test.ts: alloc-bo-failslab (ALLOC_BO with its TTM resource allocation failing)",
  kind: "historic",
  commit: "1a6897921f52",
  kernels: "v5.17 ('drm/vmwgfx: Implement DRIVER_GEM') until the fix (Feb 2023; stable v5.17+)",
});

/** vmw_dumb_create()'s surface branch as before "drm/vmwgfx: Fix dumb buffer leak". */
export const VMWGFX_DUMB_BUFFER_LEAK = defineToggle({
  name: "vmwgfx.dumb-buffer-leak",
  description:
    "vmw_dumb_create() on a device with MOBs and 3D backs the dumb buffer with a GB surface and " +
    "keeps the surface's GEM reference to its buffer (no drm_gem_object_put() after the lookup), " +
    "the surface's ttm base object stays open in the creating file (ttm_ref_object_base_unref() " +
    "only on error) with its release still set, and vmw_user_surface_base_release() returns " +
    "early for a dumb buffer's surface: nothing ever drops the surface's resource, which holds " +
    "the buffer, so buffer and surface outlive the file and the process (kmemleak).",
  fixedBy: "drm/vmwgfx: Fix dumb buffer leak",
  foundBy: "races.test.ts: dumb-create-exit (MODE_CREATE_DUMB, then the process exits)",
  kind: "historic",
  commit: "f42c09e614f1",
  kernels:
    "v6.11 and 6.10.4+ ('drm/vmwgfx: Fix handling of dumb buffers', d6667f0ddf46) until the " +
    "fix (v6.16; stable 6.12.34 and 6.15.y, June 2025)",
});

/**
 * vmw_execbuf_process() as before "drm/vmwgfx: Fix stale file descriptors on failed usercopy"
 * (CVE-2022-22942): the exported fence's sync_file was fd_install()ed before the fence_rep was
 * copied to userspace, and a failed copy then fput() the file and put_unused_fd() the fd as if
 * it had never been installed.
 */
export const VMWGFX_EXECBUF_STALE_FENCE_FD = defineToggle({
  name: "vmwgfx.execbuf-stale-fence-fd",
  description:
    "DRM_VMW_EXECBUF with DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD fd_install()s the fence's " +
    "sync_file before vmw_execbuf_copy_fence_user() writes the fence_rep; when that copy faults, " +
    "the copy's error path fput()s the sync_file's file (the installed fd's only reference: the " +
    "file is freed at the syscall's return) and put_unused_fd()s the fd, which only clears it " +
    "in the open-fd bitmap: the fd table keeps a stale entry pointing at the freed file. " +
    "Userspace that uses or closes that fd reaches the freed file (KASAN use-after-free), and " +
    "the next fd allocation finds the slot occupied (the fd table's VFS_BUG_ON).",
  fixedBy: "drm/vmwgfx: Fix stale file descriptors on failed usercopy",
  foundBy:
    "races.test.ts: execbuf-export-fence-fault (EXECBUF exporting its fence with a fence_rep " +
    "that faults, then a close() of the fd it reserved)",
  kind: "historic",
  commit: "a0f90c881570",
  kernels:
    "v4.14 (c906965dee22 'drm/vmwgfx: Add export fence to file descriptor support', the fix's " +
    "Fixes: tag) until v5.17-rc2 (Jan 2022; stable 4.14.264, 4.19.227, 5.4.175, 5.10.95, " +
    "5.15.18, 5.16.4); CVE-2022-22942",
});

/**
 * vmw_fence_obj_destroy() as before "drm/vmwgfx: Fix a deadlock in dma buf fence polling": the
 * fence's ->release takes fman->lock to unlist the fence whether or not it is still listed.
 */
export const VMWGFX_FENCE_DESTROY_ALWAYS_LOCKS = defineToggle({
  name: "vmwgfx.fence-destroy-always-locks",
  description:
    "vmw_fence_obj_destroy(), the vmw fence's ->release, takes fman->lock for its list_del_init() " +
    "even when the fence is no longer listed. Every vmw fence is signalled by " +
    "__vmw_fences_update() with fman->lock held (it is the fence's lock: vmw_fence_wait(), " +
    "vmw_fences_update() from the fence interrupt's thread or vmw_fence_obj_signaled()), which " +
    "unlists the fence and runs its callbacks; dma_buf_poll_cb() drops the fence reference " +
    "dma_buf_poll() took, so when a poller's callback holds the last one (the fence's handle " +
    "unreferenced and the fence replaced in the buffer's reservation object meanwhile) the " +
    "release runs inside the signal and spins on the lock its own CPU holds: lockdep's " +
    "'possible recursive locking detected', then a hung CPU (KDE stalls in the fix's message).",
  fixedBy: "drm/vmwgfx: Fix a deadlock in dma buf fence polling",
  foundBy:
    "races.test.ts: dmabuf-poll-vs-fence-replace (one thread polls an exported buffer's " +
    "dma-buf while the other unreferences the fence handle of the buffer's submission and " +
    "submits again to the buffer)",
  kind: "historic",
  commit: "e58337100721",
  kernels:
    "v3.17 ('drm/vmwgfx: rework to new fence interface, v2', 2298e804e96e, the fix's Fixes: " +
    "tag) until v6.11 (Zack Rusin, July 2024; stable 6.10.4 in Aug 2024 and 5.10.238 in June " +
    "2025, tagged for v6.2+); reachable through dma_buf_poll() since its callback drops a fence " +
    "reference (6b51b02a3a0a, v5.16)",
});

/** ttm_base_object_lookup() and EXECBUF's reference-free lookups under rcu_read_lock() only. */
export const VMWGFX_LOOKUP_UNDER_RCU = defineToggle({
  name: "vmwgfx.lookup-under-rcu",
  description:
    "ttm_base_object_lookup() walks the file's ref-object hash under rcu_read_lock() only, and " +
    "EXECBUF looks up the surfaces its command stream names without a reference " +
    "(ttm_base_object_noref_lookup(), vmw_user_resource_noref_lookup_handle(), " +
    "vmw_execbuf_res_noref_val_add(): a reference is taken only when the resource goes on the " +
    "validation list). Both read ref->obj, which ttm_ref_object_release() (a racing " +
    "UNREF_SURFACE or close) sets to NULL after unhashing the ref and dropping the file's lock: " +
    "ttm_base_object_lookup() then dereferences NULL in kref_get_unless_zero() (an oops), and " +
    "the reference-free path returns -ESRCH from inside the read-side section it never leaves " +
    "(ttm_base_object_noref_lookup() returns with rcu_read_lock() held), so EXECBUF sleeps in " +
    "it and returns to userspace holding it.",
  fixedBy: "drm/vmwgfx: Remove rcu locks from user resources",
  foundBy:
    "races.test.ts: execbuf-fence-wait-vs-unref (two threads submitting; one waits for its " +
    "fence by handle while the other unreferences the handle)",
  kind: "historic",
  commit: "a309c7194e8a",
  kernels:
    "v4.20-era (Sept 2018: 'drm/vmwgfx: Look up objects without taking a reference', " +
    "e14c02e6b699 in the fix's Fixes: tag, and 'drm/vmwgfx: Make user resource lookups " +
    "reference-free during validation', 94af7630f637) until v6.2 (the fix was posted in " +
    "Dec 2022; stable 6.1.y in Jan 2023, a 5.10.y backport posted in Sep 2024)",
});

/** vmw_validation_add_resource()'s -ESRCH for a doomed resource, its node left in res_ht. */
export const VMWGFX_VALIDATION_DOOMED_NODE_HASHED = defineToggle({
  name: "vmwgfx.validation-doomed-node-hashed",
  description:
    "vmw_validation_add_resource() hashes its new node into the device's res_ht (hash_add_rcu()) " +
    "before vmw_resource_reference_unless_doomed(), and returns -ESRCH for a doomed resource " +
    "(kref at 0) without hash_del_rcu(): the node is on no validation list, so " +
    "vmw_validation_drop_ht() leaves it hashed and vmw_validation_mem_free() frees the arena " +
    "page it lives in. A context's bindings hold no reference, so a surface whose last " +
    "reference is gone stays on its context's binding list until vmw_resource_release() kills " +
    "the bindings under binding_mutex; an EXECBUF naming the context meanwhile " +
    "(vmw_cmd_ctx_first_setup() -> vmw_resource_context_res_add()) meets the doomed surface, " +
    "and the next submission's vmw_validation_find_res_dup() of it walks the stale node (KASAN " +
    "slab-use-after-free of the freed arena page).",
  fixedBy: "drm/vmwgfx: Fix Use-after-free in validation",
  foundBy:
    "races.test.ts: execbuf-context-vs-surface-unref (one thread submits to a context twice, " +
    "the other drops the last handle of the surface bound to it as a render target)",
  kind: "historic",
  commit: "dfe1323ab3c8",
  kernels:
    "v4.20-era ('drm/vmwgfx: Adapt validation code for reference-free lookups', 64ad2abfe9a6 " +
    "in the fix's Fixes: tag; the arena allocator came with fc18afcf5fb2 'drm/vmwgfx: Use a " +
    "validation context allocator for relocations and validations') until the fix (Ian Forbes, " +
    "Sept 2025, merged for v6.18; stable 5.4.301, 5.10.246, 5.15.195, 6.1.157, 6.6.113, " +
    "6.12.54 and 6.17.4, Oct 2025); 6.12.19 has the bug",
});

/**
 * A window current kernels still have: vmw_dumb_create()'s surface branch (since "drm/vmwgfx: Fix
 * dumb buffer leak", f42c09e614f1; unchanged in v6.18) drops the GEM reference the surface define
 * took on the buffer right after setting is_dumb and dumb_surface, then still reads
 * vbo->dumb_surface, drops the lookup's resource reference and unreferences the surface's handle.
 * The buffer's GEM handle is public since the define, so a thread that closes the guessed handle
 * in between makes that put the last one. With the switch off (the faithful default) the model
 * does what the kernel does; on, it applies the proposed fix: the put after the last use.
 */
export const VMWGFX_DUMB_PUT_BEFORE_LAST_USE = defineKnownWindow({
  name: "vmwgfx.dumb-put-before-last-use",
  what:
    "vmw_dumb_create() drops the buffer's GEM reference (from the surface define) right after " +
    "marking it is_dumb, before its last use of the buffer: a thread closing the guessed GEM " +
    "handle meanwhile makes that put the last one, vmw_bo_release() frees the vmw_bo and drops " +
    "the surface's resource reference, and vmw_dumb_create() then reads vbo->dumb_surface in " +
    "freed memory (KASAN slab-use-after-free in vmw_dumb_create), or its vmw_resource_unreference() " +
    "frees the surface before ttm_ref_object_base_unref() drops the surface's base (KASAN " +
    "slab-use-after-free in kref_put after kfree_rcu)",
  where:
    "drivers/gpu/drm/vmwgfx/vmwgfx_surface.c: vmw_dumb_create() (drm_gem_object_put(&vbo->tbo.base) " +
    "after vbo->dumb_surface = vmw_res_to_srf(res), then container_of(vbo->dumb_surface, ...), " +
    "vmw_resource_unreference(&res), ttm_ref_object_base_unref()) against DRM_IOCTL_GEM_CLOSE of " +
    "the handle vmw_gb_surface_define_ext_ioctl() published (drm_gem_handle_delete() -> " +
    "vmwgfx_bo.c vmw_bo_release())",
  since: "drm/vmwgfx: Fix dumb buffer leak",
  sinceCommit: "f42c09e614f1bda96f5690be8d0bb273234febbc",
  kernels:
    "v6.16 onwards (still in v6.18: linux-6.18.y vmwgfx_surface.c), stable 6.12.34+ and 6.15.y",
  proposedFix:
    "drop the buffer's GEM reference after the last use of vbo, after ttm_ref_object_base_unref() " +
    "(proposed here; no posted patch known)",
  foundBy:
    "races.test.ts: dumb-create-vs-close-guessed-handle (every toggle off: KASAN; with " +
    "baselineFixes(): clean); IGT gem_flink_race/flink_close and " +
    "prime_self_import/export-vs-gem_close-race on vmwgfx with the window open",
});

/**
 * A leak current kernels still have: vmw_gem_object_create_with_handle() returns
 * drm_gem_handle_create()'s error with the buffer still holding its creation reference (in
 * *p_vbo), and vmw_gem_object_create_ioctl() (DRM_VMW_ALLOC_BO) then returns without its put
 * (`goto out_no_bo`): the vmw_bo, with no handle, leaks. Its other callers drop it (the raw dumb
 * branch's unconditional drm_gem_object_put(), the surface define's vmw_resource_unreference()).
 * With the switch off (the faithful default) the model does the same; on, it applies the
 * proposed fix: the put, and a NULL *p_vbo, in vmw_gem_object_create_with_handle().
 */
export const VMWGFX_ALLOC_BO_HANDLE_LEAK = defineKnownWindow({
  name: "vmwgfx.alloc-bo-handle-leak",
  what:
    "a failed drm_gem_handle_create() (its idr slot or the vma node's file entry) in " +
    "DRM_VMW_ALLOC_BO leaves the buffer's creation reference held: " +
    "vmw_gem_object_create_with_handle() returns the error with the buffer in *p_vbo and " +
    "vmw_gem_object_create_ioctl() jumps past its drm_gem_object_put() (goto out_no_bo), so the " +
    "vmw_bo, reachable by no handle, leaks (kmemleak)",
  where:
    "drivers/gpu/drm/vmwgfx/vmwgfx_gem.c: vmw_gem_object_create_with_handle() (`ret = " +
    "drm_gem_handle_create(...); out_no_bo: return ret;`) and vmw_gem_object_create_ioctl() " +
    "(`if (ret) goto out_no_bo;` before the put)",
  since: "drm/vmwgfx: Do not drop the reference to the handle too soon",
  sinceCommit: "a950b989ea29",
  kernels:
    "since the fix that moved the put out of vmw_gem_object_create_with_handle() (Feb 2023; " +
    "stable v5.17+), still in v6.12.19 and v6.18.35 (linux-6.18.y vmwgfx_gem.c)",
  proposedFix:
    "in vmw_gem_object_create_with_handle(), drop the creation reference and set *p_vbo to NULL " +
    "when drm_gem_handle_create() fails (the raw dumb branch's put and the surface define's " +
    "resource release then find NULL) (proposed here; no posted patch known)",
  foundBy:
    "vmwgfx-leaks.test.ts (ALLOC_BO under fail-nth: kmemleak of the vmw_bo for each failure in " +
    "drm_gem_handle_create() with the switch off, none with it on); stress `run --scenario " +
    "vmwgfx/alloc-bo-handle-failslab --open-windows`",
});

/**
 * A leak current kernels still have: vmw_gb_surface_define_internal() (GB_SURFACE_CREATE) refuses
 * a given buffer that is a dumb buffer or too small with -EINVAL through `goto out_unlock`, past
 * the vmw_resource_unreference(&res) of its other error exits: the new user surface (its
 * resource reference is the only one) and the master reference it took leak. No race is needed.
 * With the switch off (the faithful default) the model does the same; on, it applies the
 * proposed fix: the resource unreference on those exits too.
 */
export const VMWGFX_SURFACE_DEFINE_EINVAL_LEAK = defineKnownWindow({
  name: "vmwgfx.surface-define-einval-leak",
  what:
    "GB_SURFACE_CREATE with buffer_handle naming a dumb buffer or a buffer smaller than the " +
    "surface's guest memory returns -EINVAL without vmw_resource_unreference(&res): the " +
    "vmw_user_surface just defined (one resource reference, no handle yet) and its master " +
    "reference leak (kmemleak)",
  where:
    "drivers/gpu/drm/vmwgfx/vmwgfx_surface.c: vmw_gb_surface_define_internal() (\"Can't backup " +
    'surface with a dumb buffer." and "Surface backup buffer too small.": ' +
    "vmw_user_bo_unref(&res->guest_memory_bo); ret = -EINVAL; goto out_unlock;)",
  since:
    "the guest-backed surface define's too-small check (dumb-buffer exit: d6667f0ddf46, v6.11)",
  sinceCommit:
    "hash not confirmed (the too-small exit is in the earliest vmw_gb_surface_define_ioctl() " +
    "text read, a v4.x tree; the dumb exit came with d6667f0ddf46 'drm/vmwgfx: Fix handling of " +
    "dumb buffers')",
  kernels:
    "every kernel with GB surfaces read (v4.x text onwards), still in v6.12.19 and v6.18.35 " +
    "(linux-6.18.y vmwgfx_surface.c)",
  proposedFix:
    "vmw_resource_unreference(&res) before `goto out_unlock` on the two -EINVAL exits, as the " +
    "function's other error exits do (proposed here; no posted patch known)",
  foundBy:
    "vmwgfx-leaks.test.ts (GB_SURFACE_CREATE over a too-small and over a dumb buffer: kmemleak of " +
    "the vmw_user_surface with the switch off, clean with it on); stress `run --scenario " +
    "vmwgfx/surface-define-einval --open-windows`",
});

/**
 * An oops current kernels still have: vmw_prime_import_sg_table() (since "drm/vmwgfx: Fix prime
 * import/export") returns NULL, not an ERR_PTR, when vmw_bo_create() fails, and its caller
 * drm_gem_prime_import_dev() checks only IS_ERR(obj) before `obj->import_attach = attach`: a
 * NULL pointer dereference. With the switch off (the faithful default) the model oopses there;
 * on, it applies the proposed fix: return ERR_PTR(ret).
 */
export const VMWGFX_IMPORT_SG_TABLE_NULL = defineKnownWindow({
  name: "vmwgfx.import-sg-table-null",
  what:
    "a PRIME import of a foreign dma-buf (or another device's GEM export) whose vmw_bo_create() " +
    "fails (an allocation failure) gets NULL from vmw_prime_import_sg_table(), which " +
    "drm_gem_prime_import_dev() does not catch (IS_ERR() only): 'BUG: kernel NULL pointer " +
    "dereference' at obj->import_attach = attach",
  where:
    "drivers/gpu/drm/vmwgfx/vmwgfx_gem.c: vmw_prime_import_sg_table() (`struct drm_gem_object " +
    "*gem = NULL; ... if (ret != 0) goto out_no_bo; ... return gem;`) under " +
    "drivers/gpu/drm/drm_prime.c: drm_gem_prime_import_dev() (`if (IS_ERR(obj)) ...; " +
    "obj->import_attach = attach;`)",
  since: "drm/vmwgfx: Fix prime import/export",
  sinceCommit: "b32233acceff",
  kernels: "v6.9 onwards (stable 6.6.y), still in v6.12.19 and v6.18.35 (linux-6.18.y)",
  proposedFix:
    "return ERR_PTR(ret) from vmw_prime_import_sg_table() when vmw_bo_create() fails (after " +
    "dma_resv_unlock()), so the core unmaps, detaches and drops the dma-buf (proposed here; no " +
    "posted patch known)",
  foundBy:
    "vmwgfx-leaks.test.ts (PRIME_FD_TO_HANDLE of a system-heap dma-buf with the vmw_bo " +
    "allocation failing: the oops with the switch off, -ENOMEM and nothing left with it on); " +
    "stress `run --scenario vmwgfx/import-failslab --open-windows`",
});

/**
 * A leak current kernels still have: ttm_base_object_init() (ttm_object.c) takes
 * `base->tfile = ttm_object_file_ref(tfile)` first and returns the errors of idr_alloc()
 * (`return ret;`) and of ttm_ref_object_add() (`goto out_err1`, which only idr_remove()s) without
 * dropping it. Only ttm_release_base() drops it, when the base's kref reaches 0, and the callers
 * free the object on these errors through their own release (a surface: vmw_resource_unreference()
 * -> vmw_user_surface_free() -> ttm_prime_object_kfree()), which never touches base->tfile: the
 * ttm_object_file outlives the DRM file (kmemleak). With the switch off (the faithful default)
 * the model does the same; on, it applies the posted fix: ttm_object_file_unref(&base->tfile)
 * at the end of both error paths.
 */
export const VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK = defineKnownWindow({
  name: "vmwgfx.base-object-init-tfile-leak",
  what:
    "a failed idr_alloc() of the handle or kmalloc() of the creator's ref object in " +
    "ttm_base_object_init() (GB_SURFACE_CREATE, MODE_CREATE_DUMB's surface) returns the error " +
    "with the ttm_object_file reference it took for base->tfile still held; the caller frees " +
    "the object without it, so the file's ttm_object_file is never freed (kmemleak after the " +
    "DRM file's close)",
  where:
    "drivers/gpu/drm/vmwgfx/ttm_object.c: ttm_base_object_init() (`base->tfile = " +
    "ttm_object_file_ref(tfile);` ... `if (ret < 0) return ret;` after idr_alloc(), and " +
    "`out_err1: spin_lock(); idr_remove(); spin_unlock(); return ret;` after " +
    "ttm_ref_object_add()), via ttm_prime_object_init() from vmwgfx_surface.c " +
    "vmw_gb_surface_define_internal() (its error exit: two vmw_resource_unreference())",
  since: "drm/ttm, drm/vmwgfx: Move the lock- and object functionality to the vmwgfx driver",
  sinceCommit:
    "0b8762e997df (hash not confirmed: only the Fixes: tags of WenTao Liang's posted patches " +
    "quote it, this one withdrawn by its author on 2026-06-28; no commit page, stable queue or " +
    "merged commit found)",
  kernels:
    "every idr-based ttm_object.c read: 6.12.19 and 6.18.35 (linux-6.18.y), the same lines in " +
    "both",
  proposedFix:
    "ttm_object_file_unref(&base->tfile) at the end of both error paths, after idr_alloc()'s " +
    "failure and after out_err1's idr_remove(), as WenTao Liang's posted patch " +
    '"drm/vmwgfx: ttm_base_object_init: fix tfile reference leak on error paths" (dri-devel ' +
    "and stable, 2026-06-26) does; not merged in the trees read",
  patch: "20260626145946.49620-1-vulab@iscas.ac.cn",
  foundBy:
    "vmwgfx-leaks.test.ts (GB_SURFACE_CREATE under fail-nth: kmemleak of the ttm_object_file " +
    "for the handle's idr_alloc and the ref object's allocation with the switch off, none with " +
    "it on); stress `run --scenario vmwgfx/surface-tfile-failslab --open-windows`; every " +
    "fault-injected vmwgfx campaign without the switch",
});

/**
 * A lock-order inversion current kernels still have: vmw_execbuf_process() writes the fence_rep
 * (vmw_execbuf_copy_fence_user(): copy_to_user(), which may fault and take mmap_lock) with
 * cmdbuf_mutex held, and the release of a dumb buffer (vmw_bo_release()'s dumb branch, since
 * "drm/vmwgfx: Fix handling of dumb buffers") takes cmdbuf_mutex, which a munmap() of the
 * buffer's last mapping does with mmap_lock held (vma close -> the last put). With the switch off
 * (the faithful default) lockdep reports the cycle; on, it applies the proposed fix: the fence
 * part (the fence_rep copy and the sync_file's fd_install()) after cmdbuf_mutex is released.
 */
export const VMWGFX_FENCE_COPY_UNDER_CMDBUF_MUTEX = defineKnownWindow({
  name: "vmwgfx.fence-copy-under-cmdbuf-mutex",
  what:
    "EXECBUF copies its struct drm_vmw_fence_rep to userspace with cmdbuf_mutex held " +
    "(cmdbuf_mutex -> mmap_lock: the copy may fault), and a munmap() that drops the last " +
    "reference of a dumb buffer runs vmw_bo_release(), which takes cmdbuf_mutex to detach the " +
    "buffer from its surface (mmap_lock -> cmdbuf_mutex): 'WARNING: possible circular locking " +
    "dependency detected'; two threads of one process (one submitting with a fence_rep page not " +
    "yet faulted in, one unmapping the closed dumb buffer) deadlock where the fault takes " +
    "mmap_lock",
  where:
    "drivers/gpu/drm/vmwgfx/vmwgfx_execbuf.c: vmw_execbuf_process() (vmw_execbuf_copy_fence_user() " +
    "before mutex_unlock(&dev_priv->cmdbuf_mutex)) against vmwgfx_bo.c vmw_bo_release() " +
    "(mutex_lock(&res->dev_priv->cmdbuf_mutex) for a dumb buffer's surface) under munmap()'s " +
    "mmap_lock (vma close, the buffer's last put)",
  since: "drm/vmwgfx: Fix handling of dumb buffers",
  sinceCommit:
    "d6667f0ddf46 (hash not confirmed: as cited by f42c09e614f1's Fixes: tag; the copy under " +
    "the mutex is older)",
  kernels:
    "v6.11 and 6.10.4+ onwards, still in v6.12.19 and v6.18.35 (linux-6.18.y vmwgfx_execbuf.c, " +
    "vmwgfx_bo.c)",
  proposedFix:
    "in vmw_execbuf_process(), copy the fence_rep and fd_install() the sync_file after " +
    "mutex_unlock(&dev_priv->cmdbuf_mutex), as the resources are already unreferenced outside " +
    "it 'to avoid deadlocks in resource destruction paths' (proposed here; no posted patch known)",
  foundBy:
    "@primetime/fuzz with the drivers' private ioctls (private.test.ts: vmwgfx, p/r from first " +
    "seed 1, with every other fix switch on); vmwgfx-leaks.test.ts; stress `run --scenario " +
    "vmwgfx/fence-copy-vs-dumb-munmap --open-windows`",
});

/** vmw_gb_surface_define_internal() taking the file's master with drm_master_get(), unlocked. */
export const VMWGFX_SURFACE_MASTER_UNLOCKED = defineToggle({
  name: "vmwgfx.surface-master-unlocked",
  description:
    "vmw_gb_surface_define_internal() (GB_SURFACE_CREATE on a primary node) takes the creating " +
    "master as drm_master_get(file_priv->master): the pointer is loaded without " +
    "file->master_lookup_lock or dev->master_mutex, so a CAP_SYS_ADMIN SET_MASTER of the same " +
    "file (drm_new_set_master(): the file gets a master of its own and puts the one it shared) " +
    "can free the loaded master before the get, when the file held its last reference: the " +
    "kref_get() of the freed drm_master (KASAN slab-use-after-free, refcount 'addition on 0'), " +
    "and the surface keeps a dangling master.",
  fixedBy: "drm/vmwgfx: fix potential UAF in vmwgfx_surface.c",
  foundBy:
    "races.test.ts: surface-define-vs-setmaster (a root process's file shares a master whose " +
    "other holder dropped it and closed; one thread creates a surface on the file, the other " +
    "makes the file master)",
  kind: "historic",
  commit: "2bc5da528dd5",
  kernels:
    "vmwgfx's surface master check with drm_new_set_master() replacing a file's master (first " +
    "affected version not confirmed) until the fix (Desmond Cheong Zhi Xi, July 2021, merged " +
    "through drm-misc for v5.15 (mainline tag not confirmed here); stable 5.10.y review of " +
    "16 Sep 2021 '[ Upstream commit 2bc5da528dd570c5ecabc107e6fbdbc55974276f ]'); v6.12.19 " +
    "and v6.18.35 use drm_file_get_master(). The fix also converts vmw_surface_define_ioctl(), " +
    "the legacy path not modeled here",
});

/**
 * The cursor plane's surface map flag of v6.2-v6.8 (vmwgfx_kms.c): "drm/vmwgfx: Support cursor
 * surfaces with mob cursor" (Michael Banack, posted Oct 2022) mapped a surface-backed cursor's
 * guest memory in ->prepare_fb and marked it in the plane state (`surf_mapped`), which
 * vmw_du_plane_duplicate_state()'s kmemdup() copies into the next state; ->prepare_fb then dropped
 * the duplicated surface reference without the unmap and the reset, and ->cleanup_fb of a state
 * left with the flag but no surface (its cursor a buffer, or off) dereferenced vps->surf (NULL).
 * With the toggle on, the model keeps that flag and its missing reset (the unmapping itself stays
 * v6.12.19's vmw_user_object_unmap()); off, it is v6.12.19's cursor plane.
 */
export const VMWGFX_CURSOR_SURF_MAPPED_STALE = defineToggle({
  name: "vmwgfx.cursor-surf-mapped-stale",
  description:
    "vmw_du_cursor_plane_prepare_fb() drops the duplicated state's cursor surface " +
    "(vmw_surface_unreference(&vps->surf)) without unmapping it and clearing vps->surf_mapped, " +
    "which kmemdup() copied from the state that mapped it: a cursor set from a surface, then from " +
    "a buffer (or turned off), leaves a state marked mapped with no surface, and its " +
    "->cleanup_fb (the next cursor update) runs vmw_bo_unmap(vps->surf->res.guest_memory_bo): " +
    "'BUG: kernel NULL pointer dereference' (an oops: a 'bug' splat).",
  fixedBy: "drm/vmwgfx: Unmap the surface before resetting it on a plane state",
  foundBy:
    "vmwgfx-cursor.test.ts: a surface cursor, then a buffer cursor, then a cursor move " +
    "(DRM_IOCTL_MODE_CURSOR2 / CURSOR on a screen-target display unit)",
  kind: "historic",
  commit: "27571c64f185",
  kernels:
    "v6.2 (the cursor-surface map of 'drm/vmwgfx: Support cursor surfaces with mob cursor', " +
    "hash not confirmed) until the fix, merged for v6.9 (CVE-2023-52648; backported to the " +
    "stable series, releases not confirmed); v6.12.19 and v6.18.35 track the map in the " +
    "buffer (vmw_user_object_unmap() before vmw_user_object_unref())",
});

/**
 * A lockdep splat current kernels still have: the cursor MOB cache's destroy
 * (vmw_du_destroy_cursor_mob() in v6.12.19's vmwgfx_kms.c, vmw_cursor_mob_destroy() in v6.18.35's
 * vmwgfx_cursor_plane.c) calls ttm_bo_unpin() without the MOB's reservation, whose
 * dma_resv_assert_held() is a lockdep_assert_held(). It runs when a display unit's cursor plane
 * is destroyed with MOBs in its cache (vmw_kms_close() -> drm_mode_config_cleanup() at unload), and
 * when a MOB returned to a full cache is not worth keeping. With the switch off (the faithful
 * default) the model does the same; on, it reserves the MOB around the unpin.
 */
export const VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED = defineKnownWindow({
  name: "vmwgfx.cursor-mob-unpin-unreserved",
  what:
    "vmw_du_destroy_cursor_mob() unpins a cursor MOB with ttm_bo_unpin() without holding its " +
    "reservation: dma_resv_assert_held() in ttm_bo_unpin() is a lockdep assertion " +
    "(WARNING: lockdep_assert_held(&obj->lock.base)), at every unload of a device whose cursor " +
    "planes cached MOBs",
  where:
    "drivers/gpu/drm/vmwgfx/vmwgfx_kms.c: vmw_du_destroy_cursor_mob() (ttm_bo_unpin(), then " +
    "vmw_bo_unreference()) from vmw_du_cursor_plane_destroy() and vmw_du_put_cursor_mob() " +
    "(vmwgfx_cursor_plane.c's vmw_cursor_mob_destroy() in v6.18), against " +
    "drivers/gpu/drm/ttm/ttm_bo.c: ttm_bo_unpin() (dma_resv_assert_held(bo->base.resv))",
  since: "drm/vmwgfx: Add support for CursorMob and CursorBypass 4",
  sinceCommit: "hash not confirmed",
  kernels:
    "v5.19-era cursor MOBs onwards (first version not confirmed); present in v6.12.19 and in " +
    "v6.18.35 after the cursor rework (965544150d1c, 'drm/vmwgfx: Refactor cursor handling')",
  proposedFix:
    "ttm_bo_reserve() the MOB around ttm_bo_unpin() in vmw_du_destroy_cursor_mob() (proposed " +
    "here; no posted patch known)",
  foundBy:
    "vmwgfx-cursor.test.ts: any cursor shown on a display unit, then the device unloaded " +
    "(every toggle off: the lockdep assertion; with the fix switch: clean)",
});

/** Every toggle of the package. */
export const VMWGFX_TOGGLES = [
  VMWGFX_BO_ACCESS_AFTER_FAILED_INIT,
  VMWGFX_REEXPORT_PLAIN_GET,
  VMWGFX_HANDLE_REF_DROPPED_TOO_SOON,
  VMWGFX_INVALID_GEM_PUT,
  VMWGFX_SURFACE_BO_TTM_REF_ONLY,
  VMWGFX_FD_TO_HANDLE_LEAK,
  VMWGFX_DUMB_BUFFER_LEAK,
  VMWGFX_EXECBUF_STALE_FENCE_FD,
  VMWGFX_FENCE_DESTROY_ALWAYS_LOCKS,
  VMWGFX_LOOKUP_UNDER_RCU,
  VMWGFX_VALIDATION_DOOMED_NODE_HASHED,
  VMWGFX_SURFACE_MASTER_UNLOCKED,
  VMWGFX_CURSOR_SURF_MAPPED_STALE,
];

/** The package's known upstream windows (KNOWN-WINDOWS.md), each with its fix switch. */
export const VMWGFX_KNOWN_WINDOWS = [
  VMWGFX_DUMB_PUT_BEFORE_LAST_USE,
  VMWGFX_ALLOC_BO_HANDLE_LEAK,
  VMWGFX_SURFACE_DEFINE_EINVAL_LEAK,
  VMWGFX_IMPORT_SG_TABLE_NULL,
  VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK,
  VMWGFX_FENCE_COPY_UNDER_CMDBUF_MUTEX,
  VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED,
];
