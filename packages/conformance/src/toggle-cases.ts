/**
 * The historic races of the layers below (ARCHITECTURE.md section 5) and the conformance case that
 * finds each one: with the toggle on, the case fails under PCT (seed 1, its default depth) within
 * `schedules` schedules; with every toggle off it passes. defineToggleChecks() (suite.ts), which
 * a driver's conformance tests register (vgem's conformance.test.ts, `toggles: true`), checks
 * both for every toggle the DRM core (@primetime/gem: gem.*, prime.*), @primetime/dma-buf
 * (dma-buf.*) and the VFS of @primetime/kernel (epoll.*) define; toggle-cases.test.ts checks
 * this record against the toggles defined and the root README's table.
 */

export interface ToggleCase {
  /** The conformance case that finds it (a name from conformanceCases()). */
  readonly case: string;
  /** PCT schedules within which it is found (seed 1). */
  readonly schedules: number;
  /** How the bug shows in that case. */
  readonly how: string;
  /**
   * The driver the case finds it on, when not every driver can: a KMS case needs
   * DRIVER_MODESET, which vgem (where the toggles are otherwise checked) does not have. That
   * driver's conformance suite checks the toggle; the stress harness hunts it there.
   */
  readonly driver?: string;
}

export const TOGGLE_CASES: Readonly<Record<string, ToggleCase>> = {
  "gem.flink-no-handle-count-check": {
    case: "gem_flink_race/flink_close",
    schedules: 300,
    how: "a flink racing the last GEM_CLOSE leaves a name on a freed object: leaked name, object count off",
  },
  "gem.open-drops-name-lock": {
    case: "gem_flink_race/flink_name",
    // Seed 1 finds it at 937 on vgem; seeds 1-10: 937, 587, 266, 480, 173, 1079, 104, 462, 298,
    // 189 (mean 458; 1274, 2286, 101, 170, 1922, 1323, 206, 293, 1670, 519, mean 976, while lock
    // releases were scheduling points): a window of a few steps that PCT must preempt exactly,
    // after a second preemption that lets a name exist.
    schedules: 1300,
    how: "the object opened by name 1 lost its name to a racing close and is re-flinked to another name",
  },
  "prime.export-outside-name-lock": {
    case: "prime_self_import/export-vs-gem_close-other-handle-race",
    schedules: 300,
    how: "v3.5-v3.11 PRIME export: the second handle's export reuses obj->export_dma_buf (no reference) after the first thread's fd close and GEM_CLOSE doomed it; get_dma_buf() of those kernels resurrects the file, which is then released twice (KASAN). (The IGT export-vs-gem_close-race finds that kernel's cache-entry leak first.)",
  },
  "prime.cache-remove-by-dma-buf": {
    case: "prime_self_import/with_gem_open_handle",
    schedules: 1,
    how: "closing the GEM_OPEN handle removes the creator's PRIME entry: re-import returns a new handle",
  },
  "gem.handle-published-before-open": {
    case: "gem_flink_race/flink_close",
    schedules: 300,
    how: "GEM_CLOSE of handle 1 before its creation allowed mmap: the mmap allowance leaks (kmemleak)",
  },
  "gem.handle-id-reused-before-release": {
    case: "prime_self_import/export-vs-gem_close-own-handles",
    schedules: 300,
    how: "a thread's new handle reuses the id another thread is closing: its export finds the closed handle's stale PRIME entry and returns the other thread's dma-buf",
  },
  "prime.cache-without-lock": {
    case: "prime_self_import/reimport-vs-gem_close-race",
    // Seed 1 finds it at 360; seeds 1-10: 360, 113, 67, 4, 187, 129, 49, 56, 165, 68 (mean 120;
    // mean 69 and seed 1 at 101 while lock releases were scheduling points).
    schedules: 400,
    how: "an unlocked PRIME cache removal racing an import's insertion loses an update: freed member in the tree or orphaned entry",
  },
  "gem.change-handle-lookup-leak": {
    case: "gem_change_handle/basic",
    schedules: 1,
    how: "v6.18.0's GEM_CHANGE_HANDLE never puts its lookup reference: the object outlives its handles and the file (kmemleak, object count off)",
  },
  "gem.change-handle-no-int-max-check": {
    case: "gem_change_handle/basic",
    schedules: 1,
    how: "a new_handle above INT_MAX reaches idr_alloc() as a negative start: WARN_ON_ONCE(start < 0) (userspace-triggerable WARN)",
  },
  "gem.change-handle-two-live-handles": {
    case: "gem_change_handle/change-vs-gem_close-race",
    schedules: 300,
    how: "the v6.18 body (both handles published during the swap): GEM_CLOSE of the old handle and the move both succeed; the object is freed under the new handle, whose release at file close is a KASAN use-after-free",
  },
  "gem.change-handle-new-handle-left-null": {
    case: "gem_change_handle/basic",
    schedules: 1,
    how: "5e28b7b94408's body leaves the new handle NULL: FLINK of it is ENOENT, the file's close WARNs 'dmabufs tree not empty' (syzbot's report) and the object leaks",
  },
  "gem.change-handle-old-handle-live": {
    case: "gem_change_handle/change-vs-gem_close-race",
    schedules: 300,
    how: "the old handle stays live during the swap: GEM_CLOSE of it and the move both succeed; the object is freed under the new handle (KASAN use-after-free at its release)",
  },
  "gem.change-handle-lookup-before-lock": {
    case: "gem_change_handle/change-vs-gem_close-race",
    schedules: 300,
    how: "a GEM_CLOSE of the old handle between the unlocked lookup and table_lock: the unchecked idr_replace() lets the move succeed too; the object is freed under the new handle (KASAN use-after-free)",
  },
  "dma-buf.fence-cb-without-ref": {
    case: "dma_buf_poll/poll-vs-fence-replace",
    schedules: 50,
    how: "poll() on the dma-buf queues its callback on the sw_sync write fence without a reference; importing a later fence of the same timeline drops the fence's last reference: released with pending signals!",
  },
  "epoll.item-poll-without-ref": {
    case: "dma_buf_poll/epoll-wait-vs-close",
    schedules: 150,
    how: "epoll_wait() re-polls the dma-buf through its epitem after the fd's close doomed the file; dma_buf_poll()'s get_file() (atomic_long_inc() on those kernels) resurrects it and its fput() queues a second __fput(): KASAN in __fput",
  },
  "gem.fb-without-handle-ref": {
    case: "kms_fb_handle/gem_close-vs-gem_open-race",
    schedules: 50,
    driver: "qxl",
    how: "before f6bfc9afc751 the framebuffer holds no GEM handle reference: the last GEM_CLOSE drops handle_count to 0 and releases the flink name (and obj->dma_buf) of the object the framebuffer still uses, so a GEM_OPEN of the name racing the close gets ENOENT",
  },
  "gem.getunique-master-before-lock": {
    case: "core_master/getunique-vs-setmaster-race",
    // Seed 1 finds it at 19 on vgem; seeds 1-10: 19, 3, 8, 11, 7, 28, 18, 28, 2, 6 (mean 13).
    schedules: 100,
    how: "GET_UNIQUE loads the file's master before master_mutex; the root process's SET_MASTER of the same file gives it a master of its own and puts the shared one, its last reference: GET_UNIQUE then reads the freed drm_master (KASAN slab-use-after-free)",
  },
};

/**
 * Toggles no conformance case can find, and why (reported rather than faked).
 */
export const UNFINDABLE_TOGGLES: Readonly<Record<string, string>> = {
  "gem.syncobj-find-fence-early-put":
    "its window is SYNCOBJ_TRANSFER with WAIT_FOR_SUBMIT racing SYNCOBJ_DESTROY, and no driver the suite runs has DRIVER_SYNCOBJ_TIMELINE (vgem, qxl and vmwgfx do not, as in the kernel), nor does any case transfer: @primetime/gem's src/drm-syncobj-toggles.test.ts finds it, and the stress harness's syncobj-submit scenario on a syncobj device of its own (`bugs`, `hunt`)",
  "gem.syncobj-handle-to-fd-extra-get":
    "no driver the suite runs has DRIVER_SYNCOBJ (vgem, qxl and vmwgfx do not, as in the kernel), so syncobj_basic/basic takes its EOPNOTSUPP branch on them: the case finds it on the syncobj driver of src/syncobj-basic.test.ts (kmemleak), as does @primetime/gem's src/drm-syncobj-toggles.test.ts",
  "gem.syncobj-shared-file":
    "no driver the suite runs has DRIVER_SYNCOBJ (vgem, qxl and vmwgfx do not, as in the kernel), and no IGT case exports one syncobj twice: @primetime/gem's src/drm-syncobj-toggles.test.ts finds it (KASAN)",
  "gem.lease-held-master-unlocked":
    "its window is drm_lease_held() of a KMS getter (GETRESOURCES), and no driver the suite runs registers CRTCs (qxl's are a registration option the suite does not set): @primetime/gem's src/drm-lease.test.ts finds it, and qxl's race scenario qxl/lease-held-vs-setmaster on a qxl with one CRTC (`bugs`, `hunt`)",
  "dma-buf.release-in-fops":
    "no case of the suite readlinks a dma-buf's /proc/<pid>/fd entry (IGT has no such test): @primetime/dma-buf's src/dma-buf-dentry.test.ts finds it, and the stress harness's dmabuf-readlink scenario (`bugs`, `hunt`)",
};
