/** include/uapi/linux/stat.h: the file type and permission bits of st_mode. */

/** Models S_IFMT: the file type bits. */
export const S_IFMT = 0o170000;
/** Models S_IFSOCK. */
export const S_IFSOCK = 0o140000;
/** Models S_IFLNK. */
export const S_IFLNK = 0o120000;
/** Models S_IFREG. */
export const S_IFREG = 0o100000;
/** Models S_IFBLK. */
export const S_IFBLK = 0o060000;
/** Models S_IFDIR. */
export const S_IFDIR = 0o040000;
/** Models S_IFCHR. */
export const S_IFCHR = 0o020000;
/** Models S_IFIFO. */
export const S_IFIFO = 0o010000;
/** Models S_IRUSR. */
export const S_IRUSR = 0o400;
/** Models S_IWUSR. */
export const S_IWUSR = 0o200;
/** Models S_IRWXUGO (include/linux/stat.h): read, write and execute for all. */
export const S_IRWXUGO = 0o777;

/** Models S_ISCHR(m). */
export function S_ISCHR(mode: number): boolean {
  return (mode & S_IFMT) === S_IFCHR;
}

/** Models S_ISSOCK(m). */
export function S_ISSOCK(mode: number): boolean {
  return (mode & S_IFMT) === S_IFSOCK;
}
