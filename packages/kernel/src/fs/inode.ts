/**
 * Inode numbers and attributes (fs/inode.c, fs/libfs.c, fs/stat.c): get_next_ino(),
 * inode_set_bytes(), and the initial attributes new_inode_pseudo() / inode_init_always() give.
 *
 * The Inode type itself is in file.ts (what a file points at); this file has the helpers that
 * fill in what fstat(2) reports (fs/stat.ts).
 *
 * get_next_ino() hands out numbers from per-CPU batches of LAST_INO_BATCH; the model has one
 * sequence per simulation (1, 2, ...), with no scheduling point: the kernel's counter is per-CPU
 * (get_cpu_var(), no shared atomic in the common case), and the only effect of the order in which
 * two tasks take numbers is which number each gets.
 */

import { SimLocal } from "@primetime/sim";
import type { AddressSpace } from "../mm/vma.js";
import type { FileOperations, Inode } from "./file.js";
import type { SuperBlock } from "./super.js";

/** The last number get_next_ino() handed out, per simulation. */
const lastIno = new SimLocal<{ n: number }>(() => ({ n: 0 }));

/**
 * Models get_next_ino() (fs/inode.c): the next inode number of the pseudo filesystems (never 0).
 * Locking: none (per-CPU in the kernel). References: none.
 */
export function getNextIno(): number {
  return ++lastIno.get().n;
}

/** What a new inode's attributes are (the fields inode_init_always() and its callers set). */
export interface InodeAttrs {
  /** Models i_sb. */
  readonly iSb: SuperBlock;
  /** Models i_ino. */
  iIno: number;
  /** Models i_mode: the file type (S_IF*) and permission bits. */
  readonly iMode: number;
  /** Models i_nlink: 1 for every inode the model has (inode_init_always()'s set_nlink(1)). */
  readonly iNlink: number;
  /** Models i_size. */
  iSize: number;
  /** Models i_blocks: 512-byte blocks (inode_set_bytes()). */
  iBlocks: number;
}

/**
 * A new inode on `sb` with `mode`: i_ino from get_next_ino(), i_nlink 1, i_size and i_blocks 0
 * (new_inode_pseudo() -> inode_init_always(), then the caller's i_ino and i_mode, as
 * alloc_anon_inode(), sock_alloc() and proc_pid_make_inode() set them), with the node's own
 * fields. One object literal for every inode: `{ ...attrs, path, ... }`, the attributes spread
 * and the node's fields after them, took V8's slow path for each property after the spread (about
 * 5 us an inode on Node 20, against 0.1 us for the literal), and gave each call site's inodes a
 * hidden class of their own.
 * Locking: none. References: none.
 */
export function newInode(
  sb: SuperBlock,
  mode: number,
  path: string,
  iRdev: number,
  iFop: FileOperations | null,
  iPrivate: unknown,
  iMapping: AddressSpace,
): Inode {
  return {
    iSb: sb,
    iIno: getNextIno(),
    iMode: mode,
    iNlink: 1,
    iSize: 0,
    iBlocks: 0,
    path,
    iRdev,
    iFop,
    iPrivate,
    iMapping,
  };
}

/**
 * Models inode_set_bytes(inode, bytes) (fs/stat.c): i_blocks = bytes >> 9, i_bytes = bytes & 511
 * (i_bytes is not modeled: st_blocks is i_blocks).
 * Locking: none (the caller owns the inode). References: none.
 */
export function inodeSetBytes(inode: InodeAttrs, bytes: number): void {
  inode.iBlocks = Math.floor(bytes / 512);
}
