/**
 * Super blocks (fs/super.c), as far as fstat(2) needs them: the filesystem an inode belongs to
 * and its anonymous device number (st_dev).
 *
 * The model has no mounts to speak of: each filesystem the simulation uses is one kernel-internal
 * super block, made on first use (kern_mount() at boot in the kernel): devtmpfs (/dev, the device
 * nodes), anon_inodefs (the shared anonymous inode), dmabuf (dma_buf_mnt), sockfs and proc. Each
 * gets its s_dev from get_anon_bdev() (ida_alloc_range(&unnamed_dev_ida, 1, ...)), MKDEV(0, n)
 * with n = 1, 2, ... in the order the simulation first uses them; the kernel's order follows its
 * initcalls, so the numbers are the model's (what userspace may rely on is that two files on one
 * filesystem share st_dev and files on different ones do not).
 *
 * Locking: none (made synchronously, no scheduling point: a kern_mount() at boot).
 */

import { SimLocal } from "@primetime/sim";
import { PAGE_SHIFT } from "../mm/vma.js";

/** Models struct super_block: its name (s_id), device number and block size. */
export interface SuperBlock {
  /** Models s_type->name (and s_id): "devtmpfs", "anon_inodefs", "dmabuf", "sockfs", "proc". */
  readonly sId: string;
  /** Models s_dev: MKDEV(0, n) of get_anon_bdev() (a kernel dev_t, MAJOR << 20 | MINOR). */
  readonly sDev: number;
  /** Models s_blocksize_bits: PAGE_SHIFT for pseudo filesystems and tmpfs, 10 for proc. */
  readonly sBlocksizeBits: number;
}

/** The filesystems of one simulation by name, and get_anon_bdev()'s last minor. */
interface Mounts {
  readonly byName: Map<string, SuperBlock>;
  lastMinor: number;
}

const mounts = new SimLocal<Mounts>(() => ({ byName: new Map(), lastMinor: 0 }));

/** Models s_blocksize_bits per filesystem: proc_fill_super() sets 1024 bytes; the others a page. */
function blocksizeBits(name: string): number {
  return name === "proc" ? 10 : PAGE_SHIFT;
}

/**
 * Models kern_mount(&<name>_fs_type)->mnt_sb: the super block of the filesystem `name`, made on
 * first use with the next anonymous device number (get_anon_bdev()).
 * Locking: none. References: the super block lives as long as the simulation.
 */
export function kernMountSb(name: string): SuperBlock {
  const m = mounts.get();
  let sb = m.byName.get(name);
  if (sb === undefined) {
    // MKDEV(0, minor): major 0, the unnamed block devices' major.
    sb = { sId: name, sDev: ++m.lastMinor, sBlocksizeBits: blocksizeBits(name) };
    m.byName.set(name, sb);
  }
  return sb;
}
