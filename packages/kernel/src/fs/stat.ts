/**
 * fstat(2) (fs/stat.c, Linux v6.12.19 and v6.18.35): vfs_fstat() -> vfs_getattr() ->
 * vfs_getattr_nosec() -> generic_fillattr(), and cp_new_stat()'s struct stat.
 *
 * vfs_fstat() looks the fd up with fdget_raw() (v6.12: `f = fdget_raw(fd)` ... `fdput(f)`;
 * v6.18: `CLASS(fd_raw, f)(fd)`, the same calls): an O_PATH file is allowed, as fstat(2) of an
 * O_PATH fd is. fdget_raw() is __fget_light(fd, 0): with one user of the fd table it borrows the
 * slot's file without a reference (no other task can close the fd meanwhile), otherwise it takes
 * one (__fget_files()), and that reference is what keeps the file, its path and its inode alive
 * when another thread closes the fd while vfs_getattr() runs: the close drops the table's
 * reference, fdput() the last one, and __fput() runs only then.
 *
 * What fstat(2) reports for the inodes the model has (generic_fillattr(): st_dev is i_sb->s_dev,
 * st_ino i_ino, st_mode i_mode, st_rdev i_rdev, st_size i_size, st_blocks i_blocks,
 * st_blksize 1 << i_blkbits, which is the super block's s_blocksize_bits):
 * - a DRM node (/dev/dri/card0): devtmpfs' inode, S_IFCHR | 0600, st_rdev MKDEV(226, minor);
 * - a dma-buf: its own inode on the dmabuf filesystem from dma_buf_getfile(), i_ino overridden
 *   with the dma-buf's own sequence (`atomic64_add_return(1, &dmabuf_inode)`), mode S_IRUSR |
 *   S_IWUSR (alloc_anon_inode(): no file type), st_size the buffer's size;
 * - an eventpoll, sync_file or syncobj file: the shared anonymous inode (anon_inodefs), one
 *   st_ino for all of them, mode 0600 with no type (v6.18's anon_inode_getattr() masks S_IFMT
 *   off, which leaves the same bits: alloc_anon_inode() set none);
 * - a unix socket: sockfs' inode from sock_alloc(), S_IFSOCK | 0777;
 * - an O_PATH|O_NOFOLLOW fd of /proc/<pid>/fd/<n>: procfs' symlink inode (fs/proc/fd.ts).
 *
 * Simplifications: uid and gid are 0 (the model has no credentials), the times are 0 (no
 * inode timestamps), security_inode_getattr() allows everything (no LSM), shmem_getattr() of
 * devtmpfs reports what generic_fillattr() does.
 */

import { opLabel, point } from "@primetime/sim";
import { encodeStat, newEncodeDev, type Stat } from "@primetime/uapi";
import { EBADF } from "../include/errno.js";
import { fdgetRaw, fdput } from "./fdtable.js";
import type { File, Inode } from "./file.js";

/** Models struct kstat, the fields fstat(2) copies out. */
export interface Kstat {
  /** Models dev: the kernel's dev_t of the inode's super block (MAJOR << 20 | MINOR). */
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  /** Models rdev: the kernel's dev_t of a device inode, 0 otherwise. */
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
}

/** A zeroed kstat (vfs_getattr_nosec()'s memset()). */
export function emptyKstat(): Kstat {
  return {
    dev: 0,
    ino: 0,
    mode: 0,
    nlink: 0,
    uid: 0,
    gid: 0,
    rdev: 0,
    size: 0,
    blksize: 0,
    blocks: 0,
  };
}

/**
 * Models generic_fillattr(idmap, request_mask, inode, stat) (fs/stat.c, v6.12 and v6.18): the
 * inode's attributes into `stat`.
 * Locking: none (i_size_read() is a plain load on 64-bit). References: the caller holds the inode.
 */
export function genericFillattr(inode: Inode, stat: Kstat): void {
  stat.dev = inode.iSb.sDev;
  stat.ino = inode.iIno;
  stat.mode = inode.iMode;
  stat.nlink = inode.iNlink;
  stat.uid = 0;
  stat.gid = 0;
  stat.rdev = inode.iRdev;
  stat.size = inode.iSize;
  stat.blksize = 2 ** inode.iSb.sBlocksizeBits;
  stat.blocks = inode.iBlocks;
}

/**
 * Models vfs_getattr(&file->f_path, stat, STATX_BASIC_STATS, 0) (fs/stat.c, v6.12 and v6.18):
 * security_inode_getattr() (no LSM: 0), then vfs_getattr_nosec(): memset, then the inode's
 * ->getattr or generic_fillattr() (every inode here fills generically; see the file comment).
 * The point stands for the security hook and the loads of the path's dentry and inode, where
 * another CPU may run: the file is then accessed (KASAN checks it), so a caller that held no
 * reference would see a use-after-free there. Returns 0.
 * Locking: none held. References: the caller holds one on `file` (or borrows its fd table's).
 */
export async function vfsGetattr(file: File, stat: Kstat): Promise<number> {
  await point(opLabel("vfs_getattr", file.name));
  if (!file.checkAccess("vfs_getattr")) return 0;
  Object.assign(stat, emptyKstat());
  const inode = file.fInode;
  if (inode !== null) genericFillattr(inode, stat);
  return 0;
}

/**
 * Models vfs_fstat(fd, stat) (fs/stat.c): fdget_raw(fd) (-EBADF for an fd that is not open; an
 * O_PATH file is taken), vfs_getattr() of its path, fdput().
 * Locking: none held. References: fdget_raw()'s (none with one user of the fd table, else one),
 * dropped by fdput() after vfs_getattr().
 */
export async function vfsFstat(fd: number, stat: Kstat): Promise<number> {
  const f = await fdgetRaw(fd);
  const file = f.file;
  if (file === null) return -EBADF;
  try {
    return await vfsGetattr(file, stat);
  } finally {
    await fdput(f);
  }
}

/**
 * Models cp_new_stat(stat, statbuf) (fs/stat.c, x86-64): struct stat from the kstat, st_dev and
 * st_rdev through new_encode_dev(); the bytes to copy_to_user() (the caller copies them and
 * returns -EFAULT if it cannot). The -EOVERFLOW checks cannot fire on 64-bit for these values.
 */
export function cpNewStat(stat: Kstat): Uint8Array {
  const st: Stat = {
    st_dev: newEncodeDev(stat.dev),
    st_ino: stat.ino,
    st_nlink: stat.nlink,
    st_mode: stat.mode,
    st_uid: stat.uid,
    st_gid: stat.gid,
    st_rdev: newEncodeDev(stat.rdev),
    st_size: stat.size,
    st_blksize: stat.blksize,
    st_blocks: stat.blocks,
  };
  return encodeStat(st);
}
