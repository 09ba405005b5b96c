/**
 * struct dentry, its reference count and its operations, and struct path (fs/dcache.c,
 * fs/namei.c, include/linux/dcache.h, include/linux/path.h; Linux v6.18), as far as a pseudo
 * file's path needs them.
 *
 * A file on a pseudo filesystem (alloc_file_pseudo(): dma-buf's) holds its path, `f_path`: the
 * mount and the dentry, one reference on each. Anyone may take another reference on that path
 * with path_get() (readlink(2) of /proc/<pid>/fd/<n>: proc_fd_link()) and keep it after the file
 * is gone: the dentry's count, `d_lockref`, outlives the file's. When the count reaches zero,
 * dput() kills the dentry and calls its ->d_release (dma_buf_release() since v5.8). The dentry's
 * `d_fsdata` is its filesystem's pointer (the dma_buf) and holds no reference of its own: what
 * keeps the object it names alive is whichever of ->release (file) and ->d_release (dentry) frees
 * it.
 *
 * Simplifications: only pseudo files get a dentry (a File without one, `fPath === null`, keeps
 * its `path` string: a device node's "/dev/dri/card0" or "anon_inode:sync_file"); no dcache hash,
 * LRU, parent, inode of its own or mount count (pseudo dentries are never hashed and die at their
 * last dput(); the dma_buf_fs mount is never unmounted); the dentry is not a slab object (no
 * allocation of its own, so d_alloc_pseudo() cannot fail and the numbering of fallible calls of
 * every existing scenario stays what it was); `d_lockref` (a spinlock and a count updated with
 * cmpxchg) is a count. Scheduling points: path_get() and a path_put() outside __fput() are
 * points (`lockref_get(name)`, `dput(name)`); __fput()'s dput() is not (dputNoPoint()): what
 * __fput() does between its last point and that dput() (->release's loads and stores under its
 * own locks, their releases) touches nothing a path_get() or dput() of another task touches, so
 * a preemption there reaches no state the preemption at that last point does not
 * (ARCHITECTURE.md, "Scheduling points"), and the files of every existing scenario keep their
 * schedules.
 */

import { point, warnOn } from "@primetime/sim";
import type { Errno } from "../include/errno.js";
import type { Inode } from "./file.js";

/**
 * Models struct dentry_operations: the two members pseudo filesystems set.
 */
export interface DentryOperations {
  /**
   * Models ->d_dname(dentry, buffer, buflen): the name d_path() prints for a dentry that has no
   * name in any directory (a pseudo file's), or a negative errno (-ENAMETOOLONG when it does not
   * fit `buflen`, dynamic_dname()'s). May not sleep (d_path() callers hold spinlocks, as
   * SELinux's iterate_fd() does).
   */
  dDname?(dentry: Dentry, buflen: number): Promise<string | Errno>;
  /** Models ->d_release(dentry): the dentry is being freed (its last dput()). */
  dRelease?(dentry: Dentry): Promise<void>;
}

/**
 * Models struct dentry, as a pseudo file's.
 *
 * Locking: `dCount` is the count of d_lockref (lockref_get()/lockref_put_return() without the
 * spinlock, as their cmpxchg fast paths); `dName`, `dOp` and `dInode` are set at allocation;
 * `dFsdata` is set by the filesystem before the file is published and read-only afterwards.
 * References: `dCount` counts them: the file's f_path holds one, every path_get() one more.
 */
export class Dentry {
  /** Models d_lockref.count. */
  dCount = 1;
  /** Models d_fsdata: the filesystem's pointer (dma-buf: the dma_buf); holds no reference. */
  dFsdata: unknown = undefined;
  /** Set once the last dput() has killed the dentry (DCACHE_DENTRY_KILLED). */
  killed = false;

  constructor(
    /** Models d_name: the name given to d_alloc_pseudo() ("dmabuf"). */
    readonly dName: string,
    /** Models d_op (the superblock's s_d_op: init_pseudo()'s ctx->dops). */
    readonly dOp: DentryOperations | null,
    /** Models d_inode. */
    readonly dInode: Inode | null,
    /** A name for labels and reports ("dentry of dma_buf#3"), set by the owner. */
    public label: string,
  ) {}
}

/**
 * Models struct path: a mount and a dentry. There is one mount here per pseudo filesystem, not
 * modeled (mntget()/mntput() change nothing), so a path is its dentry.
 */
export interface Path {
  readonly dentry: Dentry;
}

/**
 * Models d_alloc_pseudo(sb, name) as alloc_file_pseudo() calls it: a new unhashed dentry with
 * one reference (the file's f_path), the superblock's d_op and `inode` (d_instantiate()).
 * Locking: none. References: returns the dentry with one reference, for the new file.
 */
export function dAllocPseudo(
  name: string,
  dOp: DentryOperations | null,
  inode: Inode | null,
): Dentry {
  return new Dentry(name, dOp, inode, `dentry "${name}"`);
}

/**
 * Models dget() (lockref_get(&dentry->d_lockref)): one more reference on a dentry the caller
 * reaches through a reference it holds (a file's f_path). A scheduling point.
 * Locking: none. References: takes one.
 */
export async function dget(dentry: Dentry): Promise<Dentry> {
  await point(`lockref_get(${dentry.label})`);
  dentry.dCount++;
  return dentry;
}

/**
 * Models path_get(path) (fs/namei.c): mntget() (not modeled) and dget() of its dentry.
 * Locking: none. References: takes one on the path's dentry.
 */
export async function pathGet(path: Path): Promise<void> {
  await dget(path.dentry);
}

/**
 * Models dput(dentry) (fs/dcache.c): drops a reference, a scheduling point; the last one kills
 * the dentry (__dentry_kill()), calling ->d_release. Null is a no-op.
 * Locking: may sleep (might_sleep() in the kernel); no locks held.
 * References: drops one; the last one frees the dentry.
 */
export async function dput(dentry: Dentry | null): Promise<void> {
  if (dentry === null) return;
  await point(`dput(${dentry.label})`);
  await dputNoPoint(dentry);
}

/**
 * dput() without its point, for __fput(): see the file comment (the decrement runs in the step
 * of __fput()'s last point before it).
 * Locking: as dput(). References: drops one.
 */
export async function dputNoPoint(dentry: Dentry): Promise<void> {
  if (dentry.killed || dentry.dCount <= 0) {
    // A put the count does not have: in the kernel a use-after-free of the dentry itself; the
    // model's dentries are not slab objects, so it is a WARN and changes nothing.
    warnOn(true, `dput(${dentry.label}): WARN_ON(dentry killed)`, { object: dentry.label });
    return;
  }
  if (--dentry.dCount > 0) return;
  await dentryKill(dentry);
}

/**
 * Models __dentry_kill() of an unhashed dentry with no children: ->d_release, then the free
 * (dentry_free(), here only the mark).
 * Locking: none held (d_lock is not modeled). References: the dentry's last one, consumed.
 */
async function dentryKill(dentry: Dentry): Promise<void> {
  dentry.killed = true;
  if (dentry.dOp?.dRelease) await dentry.dOp.dRelease(dentry);
}

/**
 * Models path_put(path) (fs/namei.c): dput() of its dentry and mntput() (not modeled).
 * Locking: no locks held (dput() may sleep). References: drops one on the path's dentry.
 */
export async function pathPut(path: Path): Promise<void> {
  await dput(path.dentry);
}
