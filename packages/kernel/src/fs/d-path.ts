/**
 * d_path() and dynamic_dname() (fs/d_path.c, Linux v6.18): the name of a path as /proc/<pid>/fd
 * shows it.
 *
 * A pseudo file's dentry has no name in any directory; its filesystem's ->d_dname builds one on
 * demand (dma-buf's dmabuffs_dname(): "/dmabuf:<name>"). That call happens with only the caller's
 * path reference on the dentry: not on the file, and not on whatever `d_fsdata` names.
 */

import { ENAMETOOLONG, type Errno, errPtr } from "../include/errno.js";
import type { Path } from "./dcache.js";
import type { File } from "./file.js";

/**
 * Models d_path(path, buf, buflen): a dentry with ->d_dname (and not a mounted root: pseudo
 * dentries never are) gets its name from ->d_dname; otherwise the name is prepend_path()'s walk
 * to the root, which the model does not have: the path string of the file the path came from
 * (`fallback`). -ENAMETOOLONG when the name and its NUL do not fit `buflen`.
 * Locking: none held; ->d_dname must not sleep. References: the caller holds the path.
 */
export function dPath(
  path: Path | null,
  fallback: string,
  buflen: number,
): Promise<string | Errno> {
  const d = path?.dentry;
  if (d?.dOp?.dDname) return d.dOp.dDname(d, buflen);
  // rcu_read_lock(); prepend_path(); rcu_read_unlock(): no shared state the model has.
  return Promise.resolve(fallback.length + 1 > buflen ? errPtr(ENAMETOOLONG) : fallback);
}

/**
 * Models dynamic_dname(buffer, buflen, fmt, ...) for the formatted `name`: -ENAMETOOLONG when
 * the name and its NUL exceed the 64-byte temporary or `buflen`.
 * Locking: none. References: none.
 */
export function dynamicDname(name: string, buflen: number): string | Errno {
  const sz = name.length + 1;
  if (sz > 64 || sz > buflen) return errPtr(ENAMETOOLONG);
  return name;
}

/** The path a readlink of a file's /proc/<pid>/fd entry resolves: its f_path, if it has one. */
export function filePath(file: File): Path | null {
  return file.fPath;
}
