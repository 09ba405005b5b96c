/**
 * Path walks of open(2) with O_PATH (fs/namei.c, Linux v6.12.19 and v6.18.35): path_openat()'s
 * O_PATH branch, do_o_path(), path_lookupat() over the names the model has, and nd_jump_link(),
 * which follows procfs's magic links; and an open of /proc/<pid>/fd/<n> without O_PATH
 * (open_last_lookups(), do_open()), which follows the same link and opens what it names anew.
 *
 * An open of /proc/<pid>/fd/<n> without O_NOFOLLOW follows the entry's ->get_link,
 * proc_pid_get_link() (fs/proc/fd.ts): proc_fd_link() gives the path of the file at that fd with
 * a reference (fget_task(), path_get(&file->f_path), fput()), and nd_jump_link() makes it the
 * walk's path. Nothing on the way looks at what the path is: nd_jump_link() refuses only for
 * LOOKUP_NO_MAGICLINKS, LOOKUP_NO_XDEV and scoped lookups, which only openat2()'s RESOLVE_*
 * flags set, never open(2); complete_walk() after a jump only revalidates a dentry with
 * ->d_weak_revalidate, which pseudo dentries lack. So the walk ends on the dentry of whatever the
 * fd was, a dma-buf's on the dma_buf_mnt pseudo mount included, and do_o_path() hands it to
 * vfs_open() (fs/open.ts), which gives the O_PATH file its own reference on the path. That file
 * holds the dentry, not the file it was reached through: the dentry (and through ->d_release,
 * whatever it frees) lives as long as the O_PATH fd, whoever closes the original fd.
 *
 * Simplifications: the names are the model's (device nodes and /proc/<pid>/fd/<n>, resolved by
 * the syscall layer into a PathTarget); no dcache, mounts or nameidata stack; RCU-walk mode is
 * not modeled (proc_pid_get_link() returns -ECHILD under RCU and the walk is redone in ref-walk
 * mode, which is what runs here). A procfs symlink itself (O_NOFOLLOW) has no dentry here: its
 * O_PATH file holds no path, only the entry's name.
 */

import { RESOLVED } from "@primetime/sim";
import { EEXIST, ELOOP, ENOENT, ENOTDIR, type Errno, errPtr, isErr } from "../include/errno.js";
import { pathPut } from "./dcache.js";
import type { FilesStruct } from "./fdtable.js";
import {
  allocEmptyFile,
  type File,
  fput,
  type Inode,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
} from "./file.js";
import { doDentryOpen, vfsOpenPath, type WalkedPath } from "./open.js";
import { procFdInstantiate, procPidGetLink, tidFdMode } from "./proc/fd.js";

/** Models O_PATH_FLAGS (fs/open.c): the flags open(2) keeps beside O_PATH (build_open_how()). */
export const O_PATH_FLAGS = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;

/**
 * What a name is in the model, as the syscall layer resolves it: a character device node, an fd
 * entry of procfs (the table of the process it names, null when the process has no files any
 * more), or nothing.
 */
export type PathTarget =
  | { readonly kind: "chrdev"; readonly name: string; readonly inode: Inode }
  | {
      readonly kind: "proc-fd";
      readonly name: string;
      readonly files: FilesStruct | null;
      readonly fd: number;
    }
  | null;

/**
 * Models nd_jump_link(path) as open(2) reaches it: none of LOOKUP_NO_MAGICLINKS (-ELOOP),
 * LOOKUP_NO_XDEV (-EXDEV) or LOOKUP_IS_SCOPED (-EXDEV) is set without openat2(), so the walk's
 * path becomes `link` (path_put() of the old one: procfs's, not modeled). Always 0.
 * Locking: none held. References: the link's reference moves into the walk.
 */
export function ndJumpLink(_link: WalkedPath): number {
  return 0;
}

/**
 * Models path_lookupat(nd, flags, &path) for `target`: a device node is itself; an fd entry of
 * procfs is looked up (tid_fd_mode(): -ENOENT when the fd is not open), then, unless O_NOFOLLOW,
 * followed (trailing symlink: proc_pid_get_link(), its -ENOENT, nd_jump_link()); an O_NOFOLLOW
 * walk stops on the symlink. O_DIRECTORY on anything the model has (none is a directory) is
 * -ENOTDIR, after the walk's path is put (terminate_walk()). Nothing (null) is -ENOENT.
 * Locking: none held. References: on success the caller holds the walk's path reference (put it
 * with path_put()).
 */
export async function pathLookupat(target: PathTarget, flags: number): Promise<WalkedPath | Errno> {
  if (target === null) return errPtr(ENOENT);
  let walked: WalkedPath;
  if (target.kind === "chrdev") {
    walked = { path: null, name: target.name, inode: target.inode };
  } else {
    const mode = await tidFdMode(target.files, target.fd);
    if (mode < 0) return errPtr(mode);
    if (flags & O_NOFOLLOW) {
      // The walk stops on the symlink: procfs' inode of the entry (proc_fd_instantiate()).
      walked = { path: null, name: target.name, inode: procFdInstantiate(target.name, mode) };
    } else {
      const link = await procPidGetLink(target.files, target.fd);
      if (isErr(link)) return link;
      walked = link;
      ndJumpLink(link);
    }
  }
  if (flags & O_DIRECTORY) {
    if (walked.path !== null) await pathPut(walked.path);
    return errPtr(ENOTDIR);
  }
  return walked;
}

/**
 * Models do_o_path(nd, flags, file): path_lookupat(), then vfs_open() of the path into `file`,
 * then path_put() of the walk's path. 0 or the walk's errno.
 * Locking: none held. References: the file keeps its own path reference; the walk's is put.
 */
export async function doOPath(target: PathTarget, flags: number, file: File): Promise<number> {
  const walked = await pathLookupat(target, flags);
  if (isErr(walked)) return walked;
  const error = await vfsOpenPath(walked, file);
  if (walked.path !== null) await pathPut(walked.path);
  return error;
}

/**
 * Models do_filp_open() -> path_openat() of an O_PATH open (open(2)'s flags already reduced to
 * O_PATH_FLAGS by build_open_how(); build_open_flags() drops O_CLOEXEC from f_flags):
 * alloc_empty_file() first (-ENOMEM), then do_o_path(); on error the file, never opened, is put
 * (freed at once: no FMODE_OPENED). The O_PATH file with one reference, or a negative errno.
 * Locking: none held. References: the caller owns the file's reference.
 */
export async function pathOpenatOPath(target: PathTarget, flags: number): Promise<File | number> {
  const file = await allocEmptyFile(flags & O_PATH_FLAGS & ~O_CLOEXEC);
  if (isErr(file)) return file;
  const error = await doOPath(target, flags, file);
  if (error < 0) {
    const fputDone = fput(file);
    if (fputDone !== RESOLVED) await fputDone;
    return error;
  }
  return file;
}

/**
 * Models path_openat() without O_PATH of an fd entry of procfs (`target`, as the syscall layer
 * resolves /proc/<pid>/fd/<n>): alloc_empty_file() (-ENOMEM), then open_last_lookups(): the
 * entry's lookup (tid_fd_mode(): -ENOENT for an fd that is not open, O_CREAT or not: the
 * directory's ->lookup fails before any create), and, unless O_NOFOLLOW (which O_CREAT|O_EXCL
 * implies, build_open_flags()), the magic link followed (proc_pid_get_link(), nd_jump_link());
 * then do_open(): O_CREAT|O_EXCL on the existing entry -EEXIST, O_DIRECTORY on what is no
 * directory -ENOTDIR, may_open() of the symlink itself (O_NOFOLLOW) -ELOOP, else vfs_open() of
 * the target: do_dentry_open() runs the inode's ->open (fs/open.ts: a device node's ->open again;
 * -ENXIO, no_open(), for a dma-buf's, an anonymous inode's, a socket's). The walk's path is put
 * (terminate_walk()). The new file with one reference, or a negative errno (the file freed).
 * A null target (no such process) is -ENOENT.
 * Locking: none held; ->open may sleep. References: the caller owns the returned file's.
 */
export async function pathOpenatProcLink(
  target: PathTarget,
  flags: number,
): Promise<File | number> {
  const file = await allocEmptyFile(flags & ~O_CLOEXEC);
  if (isErr(file)) return file;
  const error = await openProcLink(target, flags, file);
  return error < 0 ? error : file;
}

/** pathOpenatProcLink() after the allocation: 0, or the errno with `file` put. */
async function openProcLink(target: PathTarget, flags: number, file: File): Promise<number> {
  if (target === null || target.kind !== "proc-fd") {
    const fputDone2 = fput(file);
    if (fputDone2 !== RESOLVED) await fputDone2;
    return -ENOENT;
  }
  const mode = await tidFdMode(target.files, target.fd);
  if (mode < 0) {
    const fputDone3 = fput(file);
    if (fputDone3 !== RESOLVED) await fputDone3;
    return mode;
  }
  const excl = (flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL);
  let walked: WalkedPath | null = null;
  if (!excl && !(flags & O_NOFOLLOW)) {
    const link = await procPidGetLink(target.files, target.fd);
    if (isErr(link)) {
      const fputDone4 = fput(file);
      if (fputDone4 !== RESOLVED) await fputDone4;
      return link;
    }
    ndJumpLink(link);
    walked = link;
  }
  let error: number;
  if (excl) error = -EEXIST;
  else if (flags & O_DIRECTORY) error = -ENOTDIR;
  // may_open() of the procfs symlink itself (S_IFLNK).
  else if (walked === null || walked.inode === null) error = -ELOOP;
  else error = await doDentryOpen(file, walked.name, walked.inode);
  // terminate_walk(), then path_openat()'s fput() of the file that did not open.
  if (walked?.path) await pathPut(walked.path);
  if (error < 0) await fput(file);
  return error;
}
