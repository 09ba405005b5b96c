/**
 * readlink(2) of /proc/<pid>/fd/<n>: proc_fd_link() (fs/proc/fd.c), proc_pid_readlink() and
 * do_proc_readlink() (fs/proc/base.c), Linux v6.18; and what open(2) of such an entry walks
 * through: tid_fd_mode() (the entry's lookup) and proc_pid_get_link() (the magic link that
 * nd_jump_link() follows, fs/namei.ts).
 *
 * proc_fd_link() looks the file up in the task's fd table with a reference (fget_task()), takes
 * a reference on its path (path_get(&file->f_path)) and drops the file's at once (fput()). What
 * the readlink holds from then on is the dentry, not the file: the file may be closed and freed
 * while d_path() runs the dentry's ->d_dname, which must find everything it reads through the
 * dentry still alive (dma-buf: the dma_buf its d_fsdata names, which its ->d_release frees since
 * v5.8). An open(2) with O_PATH that follows the link keeps that path reference for as long as
 * the O_PATH fd stays open (fs/namei.ts, fs/open.ts): the readlink's window, held at will.
 *
 * Simplifications: no procfs inodes or dentries of their own: the lookup of the name and
 * proc_fd_access_allowed() (the caller may always ptrace its own uid's processes here) are folded
 * into proc_fd_link()'s own checks, which give the lookup's -ENOENT (no such process, no files
 * any more, no such fd); task_lock() around fget_task()'s load of task->files is not modeled
 * (exit_files() clears the pointer before it puts the table, and a put table has no files).
 */

import { RESOLVED } from "@primetime/sim";
import { S_IFLNK, S_IRUSR, S_IWUSR } from "@primetime/uapi";
import { EFAULT, ENOENT, ENOMEM, type Errno, errPtr, isErr } from "../../include/errno.js";
import { shouldFail } from "../../mm/failslab.js";
import { AddressSpace } from "../../mm/vma.js";
import { dPath } from "../d-path.js";
import { type Path, pathGet, pathPut } from "../dcache.js";
import { type FilesStruct, fgetFiles } from "../fdtable.js";
import { FMODE_READ, FMODE_WRITE, fput, type Inode } from "../file.js";
import { newInode } from "../inode.js";
import { kernMountSb } from "../super.js";

/** Models PATH_MAX: the size of do_proc_readlink()'s buffer. */
export const PATH_MAX = 4096;

/** The path proc_fd_link() took, and the name of the file it came from. */
export interface ProcFdLink {
  readonly path: Path | null;
  /** The file's path string: what d_path() prints of a file without a dentry of its own. */
  readonly name: string;
  /** The file's inode (f_inode): what the path names for a file without a dentry of its own. */
  readonly inode: Inode | null;
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
  const inode = file.fInode;
  const fputDone = fput(file);
  if (fputDone !== RESOLVED) await fputDone;
  return { path, name, inode };
}

/**
 * Models tid_fd_mode(task, fd, &mode) (fs/proc/fd.c), as the lookup of the fd entry
 * (proc_lookupfd_common() -> proc_fd_instantiate()) and its revalidation (tid_fd_revalidate())
 * call it: fget_task() (v6.18; v6.12 the same lookup as task_lookup_fdget_rcu() under
 * rcu_read_lock()), the file's f_mode, fput(). The mode, or -ENOENT when the task has no files
 * any more or the fd is not open (the entry does not exist).
 * Locking: none held. References: takes and drops the file's.
 */
export async function tidFdMode(files: FilesStruct | null, fd: number): Promise<number> {
  if (files === null) return -ENOENT;
  const file = await fgetFiles(files, fd);
  if (file === null) return -ENOENT;
  const mode = file.fMode;
  const fputDone2 = fput(file);
  if (fputDone2 !== RESOLVED) await fputDone2;
  return mode;
}

/** Models S_IXUSR (include/uapi/linux/stat.h). */
const S_IXUSR = 0o100;

/**
 * Models proc_fd_instantiate() (fs/proc/fd.c, v6.12 and v6.18) as far as the inode goes: the fd
 * entry's inode from proc_pid_make_inode(sb, task, S_IFLNK) (new_inode(): i_ino from
 * get_next_ino()), i_size 64, then tid_fd_update_inode()'s mode from the file's f_mode: S_IFLNK,
 * plus S_IRUSR | S_IXUSR for FMODE_READ and S_IWUSR | S_IXUSR for FMODE_WRITE. What an O_PATH |
 * O_NOFOLLOW open of /proc/<pid>/fd/<n> holds, and fstat(2) of it reports. `name` names it.
 * Locking: none. References: the caller's (the walk's, then the file's).
 */
export function procFdInstantiate(name: string, fMode: number): Inode {
  let mode = S_IFLNK;
  if (fMode & FMODE_READ) mode |= S_IRUSR | S_IXUSR;
  if (fMode & FMODE_WRITE) mode |= S_IWUSR | S_IXUSR;
  const inode = newInode(
    kernMountSb("proc"),
    mode,
    name,
    0,
    null,
    undefined,
    new AddressSpace(name),
  );
  inode.iSize = 64;
  return inode;
}

/**
 * Models proc_pid_get_link() (fs/proc/base.c, the fd entry's ->get_link, v6.12 and v6.18) up to
 * nd_jump_link(), which the caller does with the result (fs/namei.ts): proc_fd_access_allowed()
 * (ptrace_may_access(): always allowed here, see the file comment; the kernel's -EACCES), then
 * proc_fd_link(): the path of the file at `fd` with a reference, or -ENOENT. Nothing here looks
 * at what the path is: a pseudo filesystem's dentry (dma-buf's, on its kern_mount()ed dma_buf_mnt)
 * is followed like any other.
 * Locking: none held (no RCU walk: a dentry is given, so no -ECHILD). References: on success the
 * caller holds the path's reference (nd_jump_link() moves it into the walk).
 */
export function procPidGetLink(files: FilesStruct | null, fd: number): Promise<ProcFdLink | Errno> {
  return procFdLink(files, fd);
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
