/**
 * Character devices by path (fs/char_dev.c, drivers/base/devtmpfs.c): a driver registers its
 * file_operations under a device node path ("/dev/dri/card0") and a device number; open() of
 * that path gets a file whose f_op are the driver's (chrdev_open() replaces def_chr_fops with
 * the cdev's).
 *
 * Faithfulness: the registry folds register_chrdev_region() + cdev_add() + device_create() into
 * one call, and the filesystem into an exact path lookup (no directories, no normalization, no
 * permissions). Unregistering removes the node: files already open keep their f_op, as they do
 * in the kernel (the module reference is not modeled).
 */

import { S_IFCHR } from "@primetime/uapi";
import { EBUSY, EEXIST, EINVAL, ENOENT, type Errno, errPtr } from "../include/errno.js";
import { AddressSpace } from "../mm/vma.js";
import type { FileOperations, Inode } from "./file.js";
import { newInode } from "./inode.js";
import { kernMountSb } from "./super.js";

/** Models MINORBITS. */
export const MINORBITS = 20;
const MINORMASK = (1 << MINORBITS) - 1;

/** Models MKDEV(major, minor). */
export function MKDEV(major: number, minor: number): number {
  return ((major << MINORBITS) | (minor & MINORMASK)) >>> 0;
}

/** Models MAJOR(dev). */
export function MAJOR(dev: number): number {
  return dev >>> MINORBITS;
}

/** Models MINOR(dev). */
export function MINOR(dev: number): number {
  return dev & MINORMASK;
}

/** Models imajor(inode). */
export function imajor(inode: Inode): number {
  return MAJOR(inode.iRdev);
}

/** Models iminor(inode). */
export function iminor(inode: Inode): number {
  return MINOR(inode.iRdev);
}

/** Models CHRDEV_MAJOR_DYN_END..CHRDEV_MAJOR_MAX: dynamic majors are handed out from 254 down. */
const CHRDEV_MAJOR_DYN_HIGH = 254;
const CHRDEV_MAJOR_DYN_LOW = 234;

export interface RegisterChrdevOptions {
  /** The major number; default: a dynamic one (254 downwards), as register_chrdev(0, ...). */
  major?: number;
  /** The minor number; default 0. */
  minor?: number;
  /** inode->i_private: driver data reachable from the inode (e.g. the DRM minor). */
  private?: unknown;
}

/**
 * The device nodes of one kernel: path -> inode of a character device.
 *
 * Locking: registration and lookup are synchronous (no scheduling point): the model does not
 * race device hotplug against open(); a node registered before an open() is found by it.
 */
export class ChrdevRegistry {
  private readonly nodes = new Map<string, Inode>();
  private nextDynMajor = CHRDEV_MAJOR_DYN_HIGH;

  /**
   * Models register_chrdev() + device_create(): creates the node `path` with `fops`. Returns the
   * inode, -EINVAL for a path that is not absolute or an out-of-range number, -EEXIST when the
   * path is taken, -EBUSY when the dynamic majors are exhausted (find_dynamic_major()).
   */
  register(path: string, fops: FileOperations, opts: RegisterChrdevOptions = {}): Inode | Errno {
    if (typeof path !== "string" || !path.startsWith("/") || path.length < 2) return errPtr(EINVAL);
    if (this.nodes.has(path)) return errPtr(EEXIST);
    let major = opts.major;
    if (major === undefined) {
      if (this.nextDynMajor < CHRDEV_MAJOR_DYN_LOW) return errPtr(EBUSY);
      major = this.nextDynMajor--;
    }
    const minor = opts.minor ?? 0;
    if (!Number.isInteger(major) || major < 0 || major > 4095) return errPtr(EINVAL);
    if (!Number.isInteger(minor) || minor < 0 || minor > MINORMASK) return errPtr(EINVAL);
    // devtmpfs' node (devtmpfs_create_node() -> vfs_mknod()): S_IFCHR with the mode the
    // device's ->devnode() gives, 0600 when it gives none (drm_devnode() gives none; udev
    // changes it later, which the model does not run). Its number is the model's sequence.
    const inode = newInode(
      kernMountSb("devtmpfs"),
      S_IFCHR | 0o600,
      path,
      MKDEV(major, minor),
      fops,
      opts.private,
      new AddressSpace(path),
    );
    this.nodes.set(path, inode);
    return inode;
  }

  /** Models device_destroy() + unregister_chrdev(): removes the node. 0 or -ENOENT. */
  unregister(path: string): number {
    return this.nodes.delete(path) ? 0 : -ENOENT;
  }

  /** The path walk of open(): the node's inode, or null (-ENOENT). */
  lookup(path: string): Inode | null {
    return this.nodes.get(path) ?? null;
  }

  /** The registered paths, in registration order. */
  paths(): string[] {
    return [...this.nodes.keys()];
  }
}
