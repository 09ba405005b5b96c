/**
 * Opening a file on a path (fs/open.c, Linux v6.12.19 and v6.18.35): vfs_open() and
 * do_dentry_open(), as far as an O_PATH open needs them.
 *
 * An O_PATH file is a path and nothing more: do_dentry_open() takes a reference on the path
 * (path_get(&f->f_path)), sets f_inode and f_mapping from the dentry's inode, and, for O_PATH,
 * stops there: f_mode is FMODE_PATH | FMODE_OPENED, f_op an empty table, no ->open, no access
 * counts. The file's __fput() then has no ->release to call and only puts the path (dput()):
 * on a pseudo file's dentry that put may be the last, and run ->d_release (dma-buf's
 * dma_buf_release()). fget() and fdget() refuse an FMODE_PATH file (fdtable.ts), so read(2),
 * ioctl(2) and mmap(2) on it are -EBADF; close(2), dup(2) and SCM_RIGHTS take it.
 *
 * Simplifications: only the O_PATH branch is modeled (a full open of a path goes through
 * doFilpOpen() in kernel/syscalls.ts, which has character devices only); no mount reference
 * (one mount per pseudo filesystem, see dcache.ts), no fsnotify mode (v6.18's
 * file_set_fsnotify_mode()), no f_wb_err/f_sb_err sampling.
 */

import type { Path } from "./dcache.js";
import { pathGet } from "./dcache.js";
import { type File, FMODE_OPENED, FMODE_PATH, type Inode, NO_FILE_OPERATIONS } from "./file.js";

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
  /** The inode the path names (d_inode), or null for a procfs symlink (not modeled). */
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
