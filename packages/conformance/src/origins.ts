/**
 * Where each group of conformance cases comes from. A group that ports an IGT test names its
 * source file in igt-gpu-tools; a group of primetime's own says so and what it follows, so no
 * report calls a derived case an IGT test.
 */
export const CASE_ORIGINS: Readonly<Record<string, string>> = {
  gem_flink_basic: "IGT tests/gem_flink_basic.c",
  gem_flink_race: "IGT tests/gem_flink_race.c",
  prime_self_import: "IGT tests/prime_self_import.c",
  prime_vgem: "IGT tests/prime_vgem.c",
  prime_busy: "IGT tests/prime_busy.c (vgem fences stand in for i915's spinner)",
  vgem_basic: "IGT tests/vgem_basic.c",
  syncobj_basic: "IGT tests/syncobj_basic.c and the binary part of tests/syncobj_wait.c",
  kms_addfb_basic: "IGT tests/kms_addfb_basic.c and tests/kms_rmfb.c",
  kms_fb_handle:
    "primetime's own case (no IGT test): what a framebuffer keeps of its buffer, after f6bfc9afc751",
  dma_buf_poll:
    "primetime's own case (no IGT test), derived from IGT tests/sw_sync.c and tests/dmabuf_sync_file.c",
  gem_change_handle:
    "primetime's own case (IGT has no merged test for DRM_IOCTL_GEM_CHANGE_HANDLE)",
  core_master:
    "primetime's own case (no IGT test): syzbot's drm_getunique() reproducer (b436acd1cf7f), in the spirit of IGT tests/core_setmaster.c",
  prime_cross_driver:
    "primetime's own case (no IGT test), in the spirit of IGT tests/prime_vgem.c and tests/prime_nv_*.c",
};

/** The origin of a case group; a group missing from CASE_ORIGINS is a programming error. */
export function caseOrigin(group: string): string {
  const origin = CASE_ORIGINS[group];
  if (origin === undefined)
    throw new Error(`conformance: case group ${group} has no entry in CASE_ORIGINS`);
  return origin;
}
