/**
 * Opening a file on a path (fs/open.c, Linux v6.12.19 and v6.18.35): vfs_open() and
 * do_dentry_open(), for an O_PATH file and for the inodes the model has.
 *
 * An O_PATH file is a path and nothing more: do_dentry_open() takes a reference on the path
 * (path_get(&f->f_path)), sets f_inode and f_mapping from the dentry's inode, and, for O_PATH,
 * stops there: f_mode is FMODE_PATH | FMODE_OPENED, f_op an empty table, no ->open, no access
 * counts. The file's __fput() then has no ->release to call and only puts the path (dput()):
 * on a pseudo file's dentry that put may be the last, and run ->d_release (dma-buf's
 * dma_buf_release()). fget() and fdget() refuse an FMODE_PATH file (fdtable.ts), so read(2),
 * ioctl(2) and mmap(2) on it are -EBADF; close(2), dup(2) and SCM_RIGHTS take it.
 *
 * Without O_PATH, do_dentry_open() calls the inode's ->open: a character device's (chrdev_open()
 * and the driver's, here the node's `iFop.open`); every other inode the model has (a dma-buf's
 * from alloc_anon_inode(), the anonymous inode, a socket's) got `no_open_fops` from
 * inode_init_always() (fs/inode.c), whose ->open, no_open(), is -ENXIO.
 *
 * Simplifications: no mount reference
 * (one mount per pseudo filesystem, see dcache.ts), no fsnotify mode (v6.18's
 * file_set_fsnotify_mode()), no f_wb_err/f_sb_err sampling.
 */

import { RESOLVED } from "@primetime/atomics";
import { ENXIO, type Errno, isErr } from "../include/errno.js";
import type { Path } from "./dcache.js";
import { pathGet } from "./dcache.js";
import {
  allocEmptyFile,
  type File,
  FMODE_LSEEK,
  FMODE_OPENED,
  FMODE_PATH,
  fput,
  type Inode,
  NO_FILE_OPERATIONS,
} from "./file.js";

/**
 * What a path walk reached (fs/namei.ts): the path with the walk's reference (a pseudo file's
 * dentry), or, for a file the model gives no dentry (a device node, a procfs symlink), its name
 * and inode.
 */
export interface WalkedPath {
  /** The path, with one reference the walk holds; null for a file without a dentry here. */
  readonly path: Path | null;
  /** The path string the file gets (`File.path`): what d_path() prints without ->d_dname. */
  readonly name: string;
  /** The inode the path names (d_inode); null only when the file a procfs link names has none. */
  readonly inode: Inode | null;
}

/**
 * Models vfs_open(path, file) -> do_dentry_open(file, NULL) of an O_PATH file: f_path = *path,
 * path_get(&f->f_path), f_inode and f_mapping from the inode, then f_mode = FMODE_PATH |
 * FMODE_OPENED and f_op = &empty_fops. Always 0 (the O_PATH branch cannot fail).
 * Locking: none held. References: the file takes its own reference on the path; the walk keeps
 * its own (the caller, do_o_path(), puts it).
 */
export async function vfsOpenPath(walked: WalkedPath, file: File): Promise<number> {
  file.fPath = walked.path === null ? null : { dentry: walked.path.dentry };
  if (file.fPath !== null) await pathGet(file.fPath);
  file.path = walked.name;
  file.fInode = walked.inode;
  if (walked.inode !== null) file.fMapping = walked.inode.iMapping;
  file.fMode = FMODE_PATH | FMODE_OPENED;
  file.fOp = NO_FILE_OPERATIONS;
  return 0;
}

/**
 * Models do_dentry_open(file, NULL) of a file that is not O_PATH, on the inode `inode` named
 * `name` (the model's path string): f_inode, f_mapping, f_op = the inode's i_fop, FMODE_LSEEK
 * when it has ->llseek, then ->open; FMODE_OPENED once it succeeded. An inode without i_fop here
 * (not a character device) has no_open_fops: -ENXIO. 0 or the errno; on error the caller puts
 * the file (path_openat()'s fput(), after the walk's path_put(): the file is not FMODE_OPENED,
 * so it is freed at once, without ->release). The file's own path_get() before ->open and
 * cleanup_file()'s path_put() after a failed one are not modeled: the model's device files have
 * no dentry, and on every other inode the open fails at once (-ENXIO) with nothing in between.
 * Locking: none held; ->open may sleep. References: none taken or dropped here.
 */
export async function doDentryOpen(file: File, name: string, inode: Inode): Promise<number> {
  file.path = name;
  file.fInode = inode;
  file.fMapping = inode.iMapping;
  const fops = inode.iFop;
  // no_open(): -ENXIO.
  if (fops === null) return -ENXIO;
  file.fOp = fops;
  if (fops.llseek) file.fMode |= FMODE_LSEEK;
  if (fops.open) {
    const err = await fops.open(inode, file);
    if (err < 0) return err;
  }
  file.fMode |= FMODE_OPENED;
  return 0;
}

/**
 * Models file_clone_open(file) (include/linux/fs.h: dentry_open(&file->f_path, file->f_flags,
 * file->f_cred)): a new file on the same inode with the same flags, from alloc_empty_file(),
 * opened by do_dentry_open() (the inode's ->open, a device node's driver open). On failure the
 * new file, not FMODE_OPENED, is put (fput() frees it without ->release) and the errno is
 * returned: -ENOMEM from the allocation, the driver's ->open errno, -ENXIO for a file the model
 * gives no inode. DRM leases clone the lessor's file with it (drm_mode_create_lease_ioctl()).
 * Locking: none held; ->open may sleep.
 * References: returns the new file with one reference, owned by the caller.
 */
export async function fileCloneOpen(file: File): Promise<File | Errno> {
  const f = await allocEmptyFile(file.fFlags);
  if (isErr(f)) return f;
  let error = -ENXIO;
  if (file.fInode !== null) error = await doDentryOpen(f, file.path, file.fInode);
  if (error < 0) {
    const fputDone = fput(f);
    if (fputDone !== RESOLVED) await fputDone;
    return error as Errno;
  }
  return f;
}
