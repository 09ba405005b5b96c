/** Generic file ioctls (include/uapi/asm-generic/ioctls.h), handled by do_vfs_ioctl(). */

/** Models FIONCLEX (asm-generic/ioctls.h): clear close-on-exec, handled by do_vfs_ioctl(). */
export const FIONCLEX = 0x5450;
/** Models FIOCLEX (asm-generic/ioctls.h): set close-on-exec, handled by do_vfs_ioctl(). */
export const FIOCLEX = 0x5451;
