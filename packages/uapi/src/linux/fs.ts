/** lseek(2) whence values (include/uapi/linux/fs.h). */

/** Models SEEK_SET. */
export const SEEK_SET = 0;
/** Models SEEK_CUR. */
export const SEEK_CUR = 1;
/** Models SEEK_END. */
export const SEEK_END = 2;
/** Models SEEK_DATA. */
export const SEEK_DATA = 3;
/** Models SEEK_HOLE. */
export const SEEK_HOLE = 4;
/** Models SEEK_MAX. */
export const SEEK_MAX = SEEK_HOLE;
