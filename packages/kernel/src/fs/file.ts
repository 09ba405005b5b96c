/**
 * struct file and its reference count (fs/file_table.c, include/linux/fs.h, fs/anon_inodes.c).
 *
 * A File is a slab object (the "filp" cache) with `fCount`, the kernel's f_count/f_ref: the fd
 * table, mmaps, in-flight SCM_RIGHTS messages and kernel users each hold one reference. The last
 * fput() does not release the file at once: it defers __fput() (the driver's ->release and the
 * kfree) to task work that runs when the current user thread returns to userspace, or, from a
 * kernel thread, to the delayed-fput work on the system workqueue. Between the count reaching 0
 * and __fput() the file is *doomed*: still allocated, still reachable through any non-owning
 * pointer a driver keeps, but dead. Only `getFileUnlessDoomed()` (inc-not-zero) may take a
 * reference through such a pointer. `getFile()` (a plain increment) on a doomed file behaves as
 * the kernel's file_ref_t does since v6.13 ("fs: add file_ref", 08ef26ea9ab3): a one-time WARN
 * "file_ref_inc() on a released file reference", and the count stays in its dead zone, so the
 * file is not resurrected and the stray reference's fput() releases nothing; the stray holder's
 * later use of the file, once __fput() has freed it, is a KASAN use-after-free.
 * `getFileLegacy()` is get_file() of kernels up to v6.12 (atomic_long_inc() of f_count): it
 * resurrects the doomed file silently, and the file is then released twice (historic toggles
 * use it where the code they re-create called get_file()).
 *
 * Faithfulness: the counter is a refcount_t (RefcountT) with the dead zone of file_ref_t
 * modelled by the two functions above, not the bias-by-one encoding. Files are freed with
 * kfree() at the end of __fput(), so a late access through the freed File is always a KASAN
 * report. The kernel's files are SLAB_TYPESAFE_BY_RCU (since v6.7, 0ede61d8589c "file: convert to
 * SLAB_TYPESAFE_BY_RCU"): a freed file's memory may be handed to the next
 * alloc_empty_file() at once, while an RCU reader still holds a pointer to it. The model keeps
 * that memory apart from the File object: each file occupies a slot of the filp cache (`addr`),
 * a freed file's slot goes back on the cache's freelist and is reused, last freed first, by the
 * next allocation (fileAt() says which file lives there now). The one reader that follows such a
 * pointer is the lockless fd lookup (fdtable.ts), through fileRefGetRcu(): it takes a reference on
 * whatever file occupies the memory when it gets there (none if the count reads zero).
 */

import { pointNow, RESOLVED, RefcountT } from "@primetime/atomics";
import { RCU_SPLAT, rcuLockdepWarn, rcuReadLockHeld } from "@primetime/rcu";
import { currentTask, opLabel, report, SimLocal, toggleEnabled } from "@primetime/sim";
import {
  O_ACCMODE,
  O_NONBLOCK,
  O_RDWR,
  S_IRUSR,
  S_IWUSR,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from "@primetime/uapi";
import { EINVAL, ENOMEM, type Errno, errPtr, isErr } from "../include/errno.js";
import { type CallbackHead, isUserThread, TWA_RESUME, taskWorkAdd } from "../kernel/task-work.js";
import { flushWork, queueWork, systemWq, WorkStruct } from "../kernel/workqueue.js";
import { mightSleep, SpinLock } from "../locking/spinlock.js";
import { kasanUnwrap } from "../mm/kasan/kasan.js";
import { KmemCache, kfree, kmalloc, SlabObject } from "../mm/slab.js";
import { AddressSpace, type Vma } from "../mm/vma.js";
import { type DentryOperations, dAllocPseudo, dputNoPoint, type Path } from "./dcache.js";
import { EPOLL_ITEM_POLL_WITHOUT_REF, type EpItem, eventpollRelease } from "./eventpoll.js";
import { type InodeAttrs, newInode } from "./inode.js";
import type { IoctlArg } from "./ioctl.js";
import type { PollTable } from "./poll.js";
import { kernMountSb, type SuperBlock } from "./super.js";

/** Models FMODE_READ: the file is open for reading. */
export const FMODE_READ = 0x1;
/** Models FMODE_WRITE: the file is open for writing. */
export const FMODE_WRITE = 0x2;
/** Models FMODE_LSEEK: the file is seekable (it has ->llseek). */
export const FMODE_LSEEK = 0x4;
/** Models FMODE_OPENED: ->open succeeded, so __fput() must call ->release. */
export const FMODE_OPENED = 0x80000;
/**
 * Models FMODE_PATH: an O_PATH file (do_dentry_open()): it holds its f_path and nothing else;
 * fget() and fdget() refuse it (their FMODE_PATH mask), fget_raw() and close() do not.
 */
export const FMODE_PATH = 0x4000;

/** Open flags (include/uapi/asm-generic/fcntl.h, from @primetime/uapi). */
export {
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOCTTY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
} from "@primetime/uapi";

/** Models OPEN_FMODE(flags): O_RDONLY/O_WRONLY/O_RDWR to FMODE_READ/FMODE_WRITE. */
export function openFmode(flags: number): number {
  return ((flags + 1) & O_ACCMODE) >>> 0;
}

/** lseek(2) whence values (include/uapi/linux/fs.h, from @primetime/uapi). */
export { SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_MAX, SEEK_SET } from "@primetime/uapi";

/**
 * Models struct inode, as far as files need one: the device node a file was opened through
 * (`iRdev`, `iFop`, `iPrivate`), a pseudo filesystem's inode (a dma-buf's, a socket's, a procfs
 * fd entry's), or the shared anonymous inode; with the attributes fstat(2) reports (InodeAttrs,
 * inode.ts: i_sb, i_ino, i_mode, i_nlink, i_size, i_blocks).
 */
export interface Inode extends InodeAttrs {
  /** The node's path ("/dev/dri/card0"), or "anon_inode" for the anonymous inode. */
  readonly path: string;
  /** Models i_rdev: MKDEV(major, minor); 0 for the anonymous inode. */
  readonly iRdev: number;
  /** Models i_fop (the cdev's ops for a character device). */
  readonly iFop: FileOperations | null;
  /** Models i_private. */
  iPrivate: unknown;
  /** Models i_mapping: the mappings of the node (what unmapMappingRange() walks). */
  readonly iMapping: AddressSpace;
}

/**
 * Models struct file_operations. Every method may sleep (returns a promise). Methods return 0
 * or a positive value on success and a negative errno on failure.
 */
export interface FileOperations {
  /** Models ->owner (THIS_MODULE): a name for reports. */
  readonly owner?: string;
  /** Models ->open: called by open(2) on a character device; an error fails the open. */
  open?(inode: Inode, file: File): Promise<number>;
  /** Models ->flush: called by every close() of an fd (filp_close()), before the fput. */
  flush?(file: File, id: unknown): Promise<number>;
  /** Models ->release: called once, from __fput(), after the last reference is gone (result ignored). */
  release?(inode: Inode | null, file: File): Promise<unknown>;
  /**
   * Models ->unlocked_ioctl. `arg` is the kernel's copy of the user struct (see ioctl.ts);
   * fields the driver writes are copied back to userspace when it returns >= 0. Return
   * ENOIOCTLCMD (negated) or -ENOTTY for an unknown command.
   */
  unlockedIoctl?(file: File, cmd: number, arg: IoctlArg): Promise<number>;
  /** Models ->mmap: set up `vma` (vmOps, privateData, pages); called with mmap_lock held. */
  mmap?(file: File, vma: Vma): Promise<number>;
  /** Models ->llseek: the new position or a negative errno; updates file.fPos. */
  llseek?(file: File, offset: number, whence: number): Promise<number>;
  /**
   * Models ->read(file, buf, count, ppos): copies at most `count` bytes to the user address
   * `buf` of the current process (copy_to_user()); the number of bytes read or a negative errno.
   */
  read?(file: File, buf: number, count: number): Promise<number>;
  /** Models ->poll: registers on wait queues with pollWait() and returns the ready EPOLL* events. */
  poll?(file: File, pt: PollTable): Promise<number>;
}

/**
 * A `static const struct file_operations` initializer: the table with every member present (an
 * unset one undefined, as C leaves it NULL) in one fixed order. Every table made here has the
 * same shape, so the hot `file->f_op->x` loads (open, ioctl, poll, close, __fput) see one object
 * layout whichever driver or anonymous file the file belongs to; tables written as plain literals
 * each had their own, and those loads went polymorphic and deoptimized as new ones turned up.
 * Returns a new table; compare files' tables by identity with the one this returned. A member
 * the table has no slot for (a subtype's own) is refused rather than silently dropped.
 */
export function fileOperations<T extends FileOperations>(ops: T): T {
  const table: FileOperations = {
    owner: ops.owner,
    open: ops.open,
    flush: ops.flush,
    release: ops.release,
    unlockedIoctl: ops.unlockedIoctl,
    mmap: ops.mmap,
    llseek: ops.llseek,
    read: ops.read,
    poll: ops.poll,
  };
  for (const k of Object.keys(ops))
    if (!(k in table)) throw new TypeError(`fileOperations(): no member ${k} in file_operations`);
  return table as T;
}

/** The table of a file with no operations (an inode without any, alloc_empty_file()'s). */
export const NO_FILE_OPERATIONS: FileOperations = fileOperations({});

/** The slab cache of files (filp_cachep). */
export const filpCachep = new KmemCache("filp");

/** A file's ____fput task work: the head knows its file (container_of()). */
interface FputTaskWork extends CallbackHead {
  readonly file: File;
}

/** The ____fput task work's callback: __fput() of the head's file (one function for all files). */
function fputTaskWork(work: CallbackHead): Promise<void> {
  return fputFinal((work as FputTaskWork).file);
}

/**
 * Models struct file.
 *
 * Locking: `fCount` is atomic; `fPos` is updated by ->llseek without a lock (f_pos_lock is not
 * modeled); the rest is set before the file is published and read-only afterwards.
 * References: `fCount` counts them; see the file comment for who holds one.
 */
export class File extends SlabObject {
  /** Models f_count / f_ref: starts at 1, the creator's reference. */
  readonly fCount: RefcountT;
  /** Models f_op. */
  fOp: FileOperations;
  /** Models private_data: the driver's per-file state. */
  privateData: unknown = undefined;
  /** Models f_mode (FMODE_*). */
  fMode = 0;
  /** Models f_flags (O_*). */
  fFlags = 0;
  /** Models f_pos. */
  fPos = 0;
  /** Models f_inode: the node the file was opened through, or the anonymous inode. */
  fInode: Inode | null = null;
  /** Models f_path: the path, or "anon_inode:[name]" for an anonymous file. */
  path = "";
  /**
   * Models f_path's dentry reference, for a pseudo file (allocFilePseudo()): the dentry whose
   * count the file holds one of, dropped by __fput() after ->release. Null for every other file
   * (see dcache.ts: only pseudo files have a dentry here).
   */
  fPath: Path | null = null;
  /**
   * Models f_mapping: where mmaps of this file are tracked (the inode's mapping by default; a
   * driver may point it at a shared one, as DRM does with its device's anonymous inode).
   */
  fMapping: AddressSpace;
  /** Models f_task_work / f_llist: the deferred __fput() of this file. */
  readonly fTaskWork: CallbackHead;
  /** Models f_lock: protects `fEp`. */
  readonly fLock: SpinLock;
  /**
   * Models f_ep: the epitems watching this file (eventpoll.ts), null when none; they hold no
   * reference, and __fput() removes them first (eventpoll_release()).
   */
  fEp: EpItem[] | null = null;
  /**
   * The slot of the filp cache this file's memory is (its address: what a pointer to it holds).
   * Set by allocEmptyFile(); a freed file's slot is reused by a later file (see fileAt()).
   */
  addr = 0;
  /** @internal The label of fput() points on this file, built on first use (see fputLabel()). */
  labelFput = "";
  /** @internal The same for get_file() and file_ref_get(). */
  labelGetFile = "";
  /** @internal The same for get_file() and file_ref_get(). */
  labelFileRefGet = "";

  constructor(fops: FileOperations) {
    super();
    this.fOp = fops;
    this.fMapping = new AddressSpace(this.name);
    // A bound method and a module-level function, not closures made per file (a closure that
    // is an object literal's property is also named at run time under keepNames transpilers).
    this.fCount = new RefcountT(1, { onWarn: this.fCountWarn.bind(this) });
    const work: FputTaskWork = {
      func: fputTaskWork,
      label: opLabel("____fput", this.name),
      file: this,
    };
    this.fTaskWork = work;
    this.fLock = new SpinLock("file->f_lock", { owner: this });
  }

  /** f_count's warnings: a `refcount` splat naming the file. */
  private fCountWarn(_type: unknown, message: string): void {
    report("refcount", message, { object: this.name });
  }

  /** True between the final fput() and __fput(): count 0, memory still allocated. */
  get doomed(): boolean {
    return !this.freed && this.fCount.read() === 0;
  }
}

/**
 * The labels of fput(), get_file() and file_ref_get() points on `file`: opLabel(op, file.name),
 * kept on the file after the first use (a property load instead of opLabel()'s two Map lookups
 * at every point). Read on the raw object: they are the simulator's, not struct file's fields, so
 * a full-KASAN proxy of a freed file must not report them.
 */
function fputLabel(file: File): string {
  const raw = kasanUnwrap(file);
  if (raw.labelFput === "") raw.labelFput = opLabel("fput", raw.name);
  return raw.labelFput;
}

function getFileLabel(file: File): string {
  const raw = kasanUnwrap(file);
  if (raw.labelGetFile === "") raw.labelGetFile = opLabel("get_file", raw.name);
  return raw.labelGetFile;
}

function fileRefGetLabel(file: File): string {
  const raw = kasanUnwrap(file);
  if (raw.labelFileRefGet === "") raw.labelFileRefGet = opLabel("file_ref_get", raw.name);
  return raw.labelFileRefGet;
}

/**
 * Models file_count(): the reference count, for assertions and debug output (no scheduling
 * point). A saturated count reads 0xC000_0000 like refcount_read().
 */
export function fileCount(file: File): number {
  return file.fCount.read();
}

/** The filp cache's memory: slots in use (by address) and the freelist of freed ones. */
interface FilpMemory {
  /** The highest address handed out so far. */
  top: number;
  /** Freed slots, the last freed at the end (the next allocation takes it). */
  readonly free: number[];
  /** The file occupying each slot: the last one allocated there (it may since have been freed). */
  readonly at: Map<number, File>;
}

/** Per simulation, as per boot. */
const filpMemory = new SimLocal<FilpMemory>(() => ({ top: 0, free: [], at: new Map() }));

/**
 * Models kmem_cache_alloc(filp_cachep)'s choice of memory for a new file: the slot freed last, if
 * any (SLAB_TYPESAFE_BY_RCU lets the allocator reuse it at once), else a new one.
 */
function filpTakeSlot(f: File): void {
  const mem = filpMemory.get();
  const addr = mem.free.pop() ?? ++mem.top;
  kasanUnwrap(f).addr = addr;
  mem.at.set(addr, f);
}

/**
 * The file that occupies the memory `file` was allocated in: `file` itself (live, doomed or
 * freed), or a later file that reused its slot. What a pointer to `file`, loaded under RCU before
 * the free, now points at (inspection, no scheduling point).
 */
export function fileAt(file: File): File {
  const addr = kasanUnwrap(file).addr;
  return filpMemory.get().at.get(addr) ?? file;
}

/**
 * Models alloc_empty_file(flags): a new file with one reference and no ops yet opened.
 * Returns the file or -ENOMEM (failslab). The file is not FMODE_OPENED: an fput() before the
 * open succeeded frees it without ->release.
 *
 * Locking: none; may sleep (GFP_KERNEL).
 * References: the caller owns the one reference.
 */
export async function allocEmptyFile(
  flags: number,
  fops: FileOperations = NO_FILE_OPERATIONS,
): Promise<File | Errno> {
  const f = kmalloc(filpCachep, () => new File(fops));
  if (isErr(f)) return errPtr(ENOMEM);
  filpTakeSlot(f);
  f.fFlags = flags;
  f.fMode = openFmode(flags);
  return f;
}

/**
 * Models alloc_file_pseudo() + the private_data set-up its callers do: a file on a pseudo
 * filesystem with `fops`, already opened (FMODE_OPENED: its ->release runs at __fput()), never
 * calling ->open. `flags` gives the access mode (default O_RDWR). The file has a mapping of its
 * own (its callers, like dma-buf, give each file a fresh inode).
 *
 * Locking: none; may sleep.
 * References: returns the file with one reference, owned by the caller (install it with
 * fdInstall() or drop it with fput()).
 */
export async function allocFile(
  fops: FileOperations,
  privateData: unknown,
  name: string,
  flags: number = O_RDWR,
): Promise<File | Errno> {
  const f = await allocEmptyFile(flags, fops);
  if (isErr(f)) return f;
  f.path = name;
  f.fInode = anonInode();
  f.privateData = privateData;
  f.fMode |= FMODE_OPENED;
  if (fops.llseek) f.fMode |= FMODE_LSEEK;
  return f;
}

/**
 * Models alloc_file_pseudo(inode, mnt, name, flags, fops) (fs/file_table.c, v6.18) on a pseudo
 * filesystem whose superblock's d_op is `dOp` (init_pseudo()'s ctx->dops): d_alloc_pseudo() of a
 * dentry called `name` with `inode`, then the file on that path (alloc_file()), already opened
 * (FMODE_OPENED), its f_path holding the dentry's one reference. The file's `path` string is
 * "/<name>" until ->d_dname names it. -ENOMEM if the file cannot be allocated (the dentry is then
 * put: path_put(), which calls ->d_release with no d_fsdata set yet). Only the access mode and
 * O_NONBLOCK of `flags` should be passed (dma_buf_getfile() masks them).
 *
 * Locking: none; may sleep.
 * References: returns the file with one reference, owned by the caller; the file holds the
 * dentry.
 */
export async function allocFilePseudo(
  inode: Inode,
  name: string,
  flags: number,
  fops: FileOperations,
  dOp: DentryOperations | null,
): Promise<File | Errno> {
  const dentry = dAllocPseudo(name, dOp, inode);
  const f = await allocFile(fops, null, `/${name}`, flags);
  if (isErr(f)) {
    await dputNoPoint(dentry);
    return f;
  }
  f.fInode = inode;
  f.fMapping = inode.iMapping;
  f.fPath = { dentry };
  dentry.label = `dentry of ${f.name}`;
  return f;
}

/**
 * Models alloc_anon_inode(sb) (fs/libfs.c, v6.12 and v6.18) for a pseudo filesystem that gives
 * each file an inode of its own (dma_buf_getfile()): a new inode on `sb` with a mapping of its
 * own, named `name` for reports (`sb` defaults to a pseudo filesystem of that name); i_ino from get_next_ino(), i_mode S_IRUSR | S_IWUSR ("Historically
 * anonymous inodes don't have a type at all and userspace has come to rely on this").
 * Locking: none. References: the caller's (the file's, once it is created on it).
 */
export function allocAnonInode(name: string, sb: SuperBlock = kernMountSb(name)): Inode {
  return newInode(sb, S_IRUSR | S_IWUSR, name, 0, null, undefined, new AddressSpace(name));
}

/**
 * Models anon_inode_getfile(name, fops, priv, flags): a file on the shared anonymous inode,
 * named "anon_inode:<name>" (what dma-buf, sync_file and DRM's anonymous files use). Only the
 * access mode and O_NONBLOCK of `flags` are kept. -ENOMEM on allocation failure.
 *
 * Locking: none; may sleep.
 * References: returns the file with one reference, owned by the caller.
 */
export async function anonInodeGetfile(
  name: string,
  fops: FileOperations,
  priv: unknown,
  flags: number,
): Promise<File | Errno> {
  const f = await allocFile(fops, priv, `anon_inode:${name}`, flags & (O_ACCMODE | O_NONBLOCK));
  if (!isErr(f)) f.fMapping = anonInode().iMapping;
  return f;
}

/** Models the once-flag of file_ref_inc()'s WARN_ONCE (per simulation, as per boot). */
const fileRefIncWarned = new SimLocal<{ done: boolean }>(() => ({ done: false }));
/** Models the once-flag of __file_ref_put_badval()'s WARN_ONCE (per simulation, as per boot). */
const fileRefPutWarned = new SimLocal<{ done: boolean }>(() => ({ done: false }));

/**
 * Models get_file() (file_ref_inc(), v6.13+): takes a reference on a file the caller already
 * holds a reference to (or reaches through a structure that holds one). Returns the file. On a
 * doomed file (count 0) it is WARN_ONCE "file_ref_inc() on a released file reference" and the
 * count stays dead: no reference is taken, the pending __fput() still frees the file, and the
 * stray reference's fput() releases nothing (its own WARN_ONCE, "imbalanced put"). On a freed file it is a KASAN use-after-free.
 * With the historic toggle `epoll.item-poll-without-ref` on, it is getFileLegacy(): the
 * kernels that toggle re-creates (up to v6.9) incremented f_count without a check.
 *
 * Locking: none.
 * References: takes one (none on a doomed file).
 */
export function getFile(file: File): Promise<File> {
  // The kernels epoll.item-poll-without-ref re-creates (up to v6.9) had atomic_long_inc().
  if (toggleEnabled(EPOLL_ITEM_POLL_WITHOUT_REF.name)) return getFileLegacy(file);
  // Settled at once when the running task goes on at its point (pointNow(): no async frame).
  const p = pointNow(getFileLabel(file));
  if (p !== null) return p.then(() => getFileNow(file));
  try {
    return Promise.resolve(getFileNow(file));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** getFile() after its point. */
function getFileNow(file: File): File {
  file.checkAccess("get_file");
  if (!file.freed && file.fCount.read() === 0) {
    const once = fileRefIncWarned.get();
    if (!once.done) {
      once.done = true;
      report("warn", "file_ref_inc() on a released file reference", { object: file.name });
    }
    return file;
  }
  file.fCount.inc();
  return file;
}

/**
 * Models get_file() of kernels up to v6.12: atomic_long_inc(&f->f_count), with no check. On a
 * doomed file the count goes from 0 to 1 without a word: the file is resurrected while its
 * __fput() is pending, which frees it under the new reference; that reference's fput() then
 * queues a second __fput() (a double release) or touches freed memory (KASAN). Used by the
 * historic toggles whose code called get_file() (or get_dma_buf()) on a doomed file.
 *
 * Locking: none.
 * References: takes one, even on a doomed file.
 */
export async function getFileLegacy(file: File): Promise<File> {
  const atPoint = pointNow(getFileLabel(file));
  if (atPoint !== null) await atPoint;
  file.checkAccess("get_file");
  file.fCount.refs.inc();
  return file;
}

/**
 * Models get_file_rcu() / the file's inc-not-zero (vmwgfx's get_dma_buf_unless_doomed()): takes
 * a reference unless the file is doomed. False means no reference and the caller must act as if
 * the file was gone. The memory must still be valid: the caller reaches the file through a
 * pointer that the file's ->release clears under a lock the caller holds (or under RCU).
 *
 * Locking: the lock that ->release takes to clear the caller's pointer.
 * References: takes one when it returns true.
 */
export async function getFileUnlessDoomed(file: File): Promise<boolean> {
  const atPoint = pointNow(opLabel("get_file_unless_doomed", file.name));
  if (atPoint !== null) await atPoint;
  file.checkAccess("get_file_unless_doomed");
  return file.fCount.incNotZero();
}

/**
 * Models file_ref_get() on a file pointer loaded under rcu_read_lock() from an fd table slot
 * (__fget_files_rcu()). Files are SLAB_TYPESAFE_BY_RCU, so by the time the get runs the memory
 * the pointer names may hold the same file, the same file freed (its count reads zero), or a
 * later file that reused it (fileAt()). Takes a reference on whatever file lives there unless its
 * count is zero, and returns that file (which may not be `file`), or null. A freed file is never
 * a KASAN report here: its memory is still a file's.
 *
 * Locking: inside an RCU read-side section (an `rcu` splat otherwise, as rcu_dereference_raw()
 * users assert).
 * References: takes one on the file returned.
 */
export function fileRefGetRcu(file: File): Promise<File | null> {
  const p = fileRefGetRcuPoint(file);
  if (p !== null) return p.then(() => fileRefGetNow(file));
  try {
    return Promise.resolve(fileRefGetNow(file));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * @internal fileRefGetRcu() up to its point (the RCU check, then pointNow()): null when the
 * running task goes on at once; then fileRefGetNow() does the get. For fgetFiles()'s fast path.
 */
export function fileRefGetRcuPoint(file: File): Promise<void> | null {
  if (!rcuReadLockHeld())
    rcuLockdepWarn(true, `${RCU_SPLAT.dereferenceCheck} (file_ref_get without rcu_read_lock)`, {
      object: file.name,
    });
  return pointNow(fileRefGetLabel(file));
}

/** @internal fileRefGetRcu() after its point: the file living at that memory, or null. */
export function fileRefGetNow(file: File): File | null {
  const there = fileAt(file);
  if (there.freed) return null;
  return there.fCount.incNotZero() ? there : null;
}

/**
 * Models fput(): drops a reference; the last one defers the release (__fput_deferred()):
 * - a file whose ->open never succeeded (not FMODE_OPENED) is freed at once, without ->release;
 * - from a user thread (a process thread), __fput() is queued as task work and runs when the
 *   thread returns to userspace (the end of the current syscall) or exits;
 * - otherwise (kernel thread, worker, interrupt, or a thread past exit_task_work()), the file
 *   goes on the delayed-fput list, which a work item on the system workqueue drains (queued at
 *   once when the list was empty; the kernel's schedule_delayed_work(..., 1) waits a jiffy).
 * Until then the file is doomed (see the file comment). A put on a doomed file (whose count a
 * v6.13+ get_file() left dead) releases nothing and is __file_ref_put_badval()'s WARN_ONCE
 * "imbalanced put on file reference count" (fs/file.c, v6.18).
 *
 * Locking: none; safe under spinlocks (the release never runs here).
 * References: drops one; the caller must not touch the file afterwards.
 */
export function fput(file: File): Promise<void> {
  const p = pointNow(fputLabel(file));
  if (p !== null) return p.then(() => fputNow(file));
  try {
    return fputNow(file);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** fput() after its point. */
function fputNow(file: File): Promise<void> {
  if (!file.checkAccess("fput")) return RESOLVED;
  // file_ref_put() on a released reference (a get_file() on the doomed file took none, or a
  // filp_close() of a file whose count was already 0): __file_ref_put_badval() (fs/file.c,
  // v6.18) WARN_ONCEs "imbalanced put on file reference count" and puts the count back to
  // FILE_REF_DEAD; nothing is released.
  if (file.fCount.read() === 0) {
    const once = fileRefPutWarned.get();
    if (!once.done) {
      once.done = true;
      report("warn", "imbalanced put on file reference count", { object: file.name });
    }
    return RESOLVED;
  }
  if (!file.fCount.decAndTest()) return RESOLVED;
  return fputDeferred(file);
}

/** Models __fput_deferred(). */
async function fputDeferred(file: File): Promise<void> {
  if (!(file.fMode & FMODE_OPENED)) {
    fileFree(file);
    return;
  }
  const task = currentTask();
  if (task !== null && isUserThread(task)) {
    if ((await taskWorkAdd(task, file.fTaskWork, TWA_RESUME)) === 0) return;
    // After exit_task_work() the add fails: fall through to the delayed fput.
  }
  const d = delayedFput.get();
  d.list.push(file);
  if (d.list.length === 1) await queueWork(systemWq(), d.work);
}

/**
 * Models file_free(): kmem_cache_free() of the filp. The cache is SLAB_TYPESAFE_BY_RCU: the
 * memory is not held back for a grace period, and the next file allocated may reuse it.
 */
function fileFree(file: File): void {
  const wasFreed = file.freed;
  kfree(file);
  if (!wasFreed && file.freed) filpMemory.get().free.push(kasanUnwrap(file).addr);
}

/**
 * Models __fput(): the release of a file whose last reference is gone: if the open had
 * succeeded, might_sleep(), eventpoll_release() (the epitems watching it), ->release and, for a
 * pseudo file, dput() of its dentry (whose last reference calls ->d_release); then frees the
 * file. Runs from task work, the
 * delayed-fput work, or flushDelayedFput().
 *
 * Locking: may sleep (a `sleep` splat when called atomic); called without locks held.
 * References: consumes the doomed file.
 */
export async function fputFinal(file: File): Promise<void> {
  const atPoint = pointNow(opLabel("__fput", file.name));
  if (atPoint !== null) await atPoint;
  if (!file.checkAccess("__fput")) return;
  if (file.fMode & FMODE_OPENED) {
    mightSleep("__fput");
    // "The function eventpoll_release() should be the first called in the file cleanup chain."
    await eventpollRelease(file);
    if (file.fOp.release) await file.fOp.release(file.fInode, file);
    // dput(dentry) after ->release: the path's reference (pseudo files only; see dcache.ts for
    // why it has no point of its own).
    if (file.fPath !== null) await dputNoPoint(file.fPath.dentry);
  }
  fileFree(file);
}

interface DelayedFputState {
  /** delayed_fput_list. */
  list: File[];
  /** delayed_fput_work. */
  work: WorkStruct;
}

/** Per-simulation delayed_fput_list and its work item. */
const delayedFput = new SimLocal<DelayedFputState>(() => ({
  list: [],
  work: new WorkStruct(() => delayedFputWork(), "delayed_fput"),
}));

/**
 * Models delayed_fput(): __fput() every file on the delayed list. The list is an llist, pushed
 * at its head: llist_del_all() hands the files back newest first, and so are they released.
 */
async function delayedFputWork(): Promise<void> {
  const d = delayedFput.get();
  const atPoint = pointNow("llist_del_all(delayed_fput_list)");
  if (atPoint !== null) await atPoint;
  const files = d.list.splice(0);
  for (let i = files.length - 1; i >= 0; i--) await fputFinal(files[i]!);
}

/** Files waiting on the delayed-fput list (inspection, no scheduling point). */
export function delayedFputPending(): number {
  return delayedFput.get().list.length;
}

/**
 * Models flush_delayed_fput(): runs the delayed fputs in the caller and waits for a running
 * delayed-fput work to finish.
 *
 * Locking: must not be called with locks held (the releases may take any lock).
 * References: none.
 */
export async function flushDelayedFput(): Promise<void> {
  await delayedFputWork();
  await flushWork(delayedFput.get().work);
}

/**
 * The shared anonymous inode (anon_inode_inode): one per simulation, alloc_anon_inode() on
 * anon_inodefs' super block (anon_inode_init()).
 */
const anonInodeLocal = new SimLocal<Inode>(() =>
  newInode(
    kernMountSb("anon_inodefs"),
    S_IRUSR | S_IWUSR,
    "anon_inode",
    0,
    null,
    undefined,
    new AddressSpace("anon_inode"),
  ),
);

/** Models anon_inode_inode. */
export function anonInode(): Inode {
  return anonInodeLocal.get();
}

/**
 * Models vfs_setpos(): sets f_pos to `offset` if it is within [0, maxsize]; returns it, or
 * -EINVAL.
 */
export function vfsSetpos(file: File, offset: number, maxsize: number): number {
  if (offset < 0 || offset > maxsize) return -EINVAL;
  file.fPos = offset;
  return offset;
}

/** Models noop_llseek(): seeking does nothing; returns the current position. */
export async function noopLlseek(file: File, _offset: number, _whence: number): Promise<number> {
  return file.fPos;
}

/**
 * Models fixed_size_llseek() (generic_file_llseek_size() for a fixed-size object): SEEK_SET,
 * SEEK_CUR and SEEK_END relative to `size`; the position must stay within [0, size].
 */
export async function fixedSizeLlseek(
  file: File,
  offset: number,
  whence: number,
  size: number,
): Promise<number> {
  switch (whence) {
    case SEEK_SET:
      return vfsSetpos(file, offset, size);
    case SEEK_CUR:
      return vfsSetpos(file, file.fPos + offset, size);
    case SEEK_END:
      return vfsSetpos(file, size + offset, size);
    default:
      return -EINVAL;
  }
}
