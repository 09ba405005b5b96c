/**
 * readlink(2) of /proc/<pid>/fd/<n>: proc_fd_link() (fs/proc/fd.c), proc_pid_readlink() and
 * do_proc_readlink() (fs/proc/base.c), Linux v6.18.
 *
 * proc_fd_link() looks the file up in the task's fd table with a reference (fget_task()), takes
 * a reference on its path (path_get(&file->f_path)) and drops the file's at once (fput()). What
 * the readlink holds from then on is the dentry, not the file: the file may be closed and freed
 * while d_path() runs the dentry's ->d_dname, which must find everything it reads through the
 * dentry still alive (dma-buf: the dma_buf its d_fsdata names, which its ->d_release frees since
 * v5.8).
 *
 * Simplifications: no procfs inodes or dentries of their own: the lookup of the name and
 * proc_fd_access_allowed() (the caller may always ptrace its own uid's processes here) are folded
 * into proc_fd_link()'s own checks, which give the lookup's -ENOENT (no such process, no files
 * any more, no such fd); task_lock() around fget_task()'s load of task->files is not modeled
 * (exit_files() clears the pointer before it puts the table, and a put table has no files).
 */

import { EFAULT, ENOENT, ENOMEM, type Errno, errPtr, isErr } from "../../include/errno.js";
import { shouldFail } from "../../mm/failslab.js";
import { dPath } from "../d-path.js";
import { type Path, pathGet, pathPut } from "../dcache.js";
import { type FilesStruct, fgetFiles } from "../fdtable.js";
import { fput } from "../file.js";

/** Models PATH_MAX: the size of do_proc_readlink()'s buffer. */
export const PATH_MAX = 4096;

/** The path proc_fd_link() took, and the name of the file it came from. */
export interface ProcFdLink {
  readonly path: Path | null;
  /** The file's path string: what d_path() prints of a file without a dentry of its own. */
  readonly name: string;
}

/**
 * Models proc_fd_link(dentry, path): fget_task(task, fd) (-ENOENT when the task has no files
 * any more or the fd is not open), then path_get() of the file's f_path and fput() of the file.
 * Locking: none held. References: on success the caller holds a reference on the path (drop it
 * with path_put()); the file's is dropped.
 */
export async function procFdLink(
  files: FilesStruct | null,
  fd: number,
): Promise<ProcFdLink | Errno> {
  if (files === null) return errPtr(ENOENT);
  const file = await fgetFiles(files, fd);
  if (file === null) return errPtr(ENOENT);
  const path = file.fPath;
  if (path !== null) await pathGet(path);
  const name = file.path;
  await fput(file);
  return { path, name };
}

/**
 * Models do_proc_readlink(path, buffer, buflen): kmalloc(PATH_MAX) (-ENOMEM), d_path() into it
 * (its errno, e.g. -ENAMETOOLONG), then copy_to_user() of at most `buflen` bytes of the name,
 * without its NUL (-EFAULT). The number of bytes copied.
 * Locking: none held. References: the caller holds the path.
 */
export async function doProcReadlink(
  link: ProcFdLink,
  copyToUser: (bytes: Uint8Array) => Promise<number>,
  buflen: number,
): Promise<number> {
  if (shouldFail("kmalloc(PATH_MAX)")) return -ENOMEM;
  const name = await dPath(link.path, link.name, PATH_MAX);
  if (isErr(name)) return name;
  const bytes = new TextEncoder().encode(name);
  const len = Math.min(bytes.length, buflen);
  if ((await copyToUser(bytes.subarray(0, len))) < 0) return -EFAULT;
  return len;
}

/**
 * Models proc_pid_readlink() for an fd entry: proc_fd_link(), do_proc_readlink(), path_put().
 * The bytes copied, or -ENOENT, -ENOMEM, -ENAMETOOLONG, -EFAULT.
 * Locking: none held. References: takes and drops a path reference (its dput() may be the
 * dentry's last, and run ->d_release here).
 */
export async function procPidReadlink(
  files: FilesStruct | null,
  fd: number,
  copyToUser: (bytes: Uint8Array) => Promise<number>,
  buflen: number,
): Promise<number> {
  const link = await procFdLink(files, fd);
  if (isErr(link)) return link;
  const ret = await doProcReadlink(link, copyToUser, buflen);
  if (link.path !== null) await pathPut(link.path);
  return ret;
}
