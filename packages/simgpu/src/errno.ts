/**
 * The errno values the device's submit() returns (include/uapi/asm-generic/errno-base.h), negated
 * as the kernel returns them. They equal @primetime/kernel's; simgpu is hardware and depends on
 * @primetime/sim alone, so it carries the three it needs.
 */
export const EBUSY = 16;
export const EINVAL = 22;
export const ENOSPC = 28;
