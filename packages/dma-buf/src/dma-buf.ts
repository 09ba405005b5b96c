/**
 * struct dma_buf (drivers/dma-buf/dma-buf.c, include/linux/dma-buf.h): a buffer shared across
 * drivers and processes through a file.
 *
 * The exporter wraps its buffer with dma_buf_export(): the dma-buf gets a file on the dmabuf
 * pseudo filesystem (dma_buf_getfile(): an inode of its own, a dentry "dmabuf" whose d_fsdata is
 * the dma-buf and whose d_op is dma_buf_dentry_ops, dmaBufFops, private_data = the dma-buf) whose
 * reference count *is* the dma-buf's: the export returns with one reference (the caller's),
 * dma_buf_fd() installs the file in the current process consuming it, dma_buf_get(fd) takes one
 * from an fd, get_dma_buf() takes another (get_file()), dma_buf_put() drops one (fput()).
 *
 * Release: the last fput() only dooms the file: __fput() runs later (task work on the way back
 * to userspace, or the delayed-fput work from a kernel thread). Then the file's ->release,
 * dma_buf_file_release(), takes the dma-buf off the list, and __fput()'s dput() of the file's
 * dentry, if it was the dentry's last reference, calls ->d_release, dma_buf_release(): the
 * exporter's ->release, the embedded reservation object's finalisation and the free of the
 * dma-buf. A path reference on the dentry (readlink(2) of /proc/<pid>/fd/<n>: proc_fd_link())
 * outlives the file: the dma-buf then lives until that reference's path_put(), so the dentry's
 * ->d_dname, dmabuffs_dname(), which reads the dma-buf through d_fsdata, never reads a freed one
 * (4ab59c3c638c, v5.8; the toggle `dma-buf.release-in-fops` puts the release back in the file's
 * ->release). Between the last fput() and __fput() the dma-buf is doomed: a pointer to it that
 * holds no reference (an exporter's cache of its export, obj->dma_buf in GEM) still finds it;
 * only an inc-not-zero on the file (getFileUnlessDoomed()) may revive a reference from such a
 * pointer, and only while the file is not yet freed: a pointer its exporter clears from ->release
 * (->d_release) outlives the file when a path reference keeps the dentry (the known window
 * `dma-buf.release-after-file-free`, see getDmaBufUnlessDoomed()). A plain get_dma_buf() there is, since v6.13, the WARN "file_ref_inc() on a released
 * file reference" (the dma-buf stays dead and is freed under its new holder); up to v6.12 it
 * resurrected the file silently (getDmaBufLegacy()), and the dma-buf was released twice.
 *
 * Simplifications: the pseudo filesystem's mount and superblock are not modeled (see
 * @primetime/kernel fs/dcache.ts for the dentry's); no inode numbers (bufinfo names the dma-buf
 * instead), no exporter module references, no sysfs statistics, no vmap (the ioctls, SYNC,
 * SET_NAME and the sync_file ones, are in dma-buf-ioctl.ts), no dynamic (move_notify) importers,
 * pin/unpin or peer-to-peer.
 */

import { RESOLVED } from "@primetime/atomics";
import {
  allocAnonInode,
  allocFilePseudo,
  type Dentry,
  type DentryOperations,
  dynamicDname,
  EBADF,
  EINVAL,
  ENOMEM,
  EOVERFLOW,
  type Errno,
  errPtr,
  type File,
  type FileOperations,
  fdInstall,
  fget,
  fileOperations,
  fput,
  getFile,
  getFileActive,
  getFileLegacy,
  getFileUnlessDoomed,
  getUnusedFdFlags,
  inodeSetBytes,
  isErr,
  KmemCache,
  kernMountSb,
  kfree,
  kmalloc,
  mmapAssertWriteLocked,
  O_ACCMODE,
  O_NONBLOCK,
  PAGE_SIZE,
  type PollTable,
  SEEK_END,
  SEEK_SET,
  SlabObject,
  SpinLock,
  type Vma,
} from "@primetime/kernel";
import {
  bug,
  defineKnownWindow,
  defineToggle,
  fmtLabel,
  opLabel,
  point,
  SimLocal,
  toggleEnabled,
  warnOn,
} from "@primetime/sim";
import { dmaBufListAdd, dmaBufListDel } from "./bufinfo.js";
import type { DmaBufAttachment, DmaDataDirection } from "./dma-buf-attachment.js";
import { dmaBufIoctl } from "./dma-buf-ioctl.js";
import { DmaBufPollCb, dmaBufPollFop, PollHead } from "./dma-buf-poll.js";
import { DmaResv, dmaResvFini } from "./dma-resv.js";
import type { SgTable } from "./scatterlist.js";

/**
 * Models struct dma_buf_ops: the exporter's callbacks. `mapDmaBuf`, `unmapDmaBuf` and `release`
 * are mandatory (dma_buf_export() refuses ops without them).
 */
export interface DmaBufOps {
  /**
   * ->cache_sgt_mapping of kernels up to v6.14 (the core kept the first mapping of each
   * attachment and returned it to later maps, unmapping it at detach). Removed by b72f66f22c0e
   * ("dma-buf: drop caching of sg_tables", v6.15): the model ignores it; it stays in the type only
   * so that an exporter still setting it compiles.
   * @deprecated has no effect (v6.15+).
   */
  readonly cacheSgtMapping?: boolean;
  /** Models ->attach: vet the importing device; a negative errno refuses the attachment. */
  attach?(dmabuf: DmaBuf, attach: DmaBufAttachment): Promise<number> | number;
  /** Models ->detach. */
  detach?(dmabuf: DmaBuf, attach: DmaBufAttachment): Promise<void> | void;
  /**
   * Models ->map_dma_buf: the buffer's pages for the attachment's device (the exporter's very
   * arrays), or a negative errno. Called with the reservation lock held.
   */
  mapDmaBuf(
    attach: DmaBufAttachment,
    dir: DmaDataDirection,
  ): Promise<SgTable | Errno> | SgTable | Errno;
  /** Models ->unmap_dma_buf: gives back a table from mapDmaBuf (the exporter frees it). */
  unmapDmaBuf(attach: DmaBufAttachment, sgt: SgTable, dir: DmaDataDirection): Promise<void> | void;
  /** Models ->release: the last reference is gone; drop what the export held. */
  release(dmabuf: DmaBuf): Promise<void> | void;
  /** Models ->mmap: map the buffer into `vma` (vm_pgoff already checked against the size). */
  mmap?(dmabuf: DmaBuf, vma: Vma): Promise<number> | number;
  /** Models ->begin_cpu_access: make the buffer coherent for CPU access (optional). */
  beginCpuAccess?(dmabuf: DmaBuf, dir: DmaDataDirection): Promise<number> | number;
  /** Models ->end_cpu_access: flush CPU writes for the device (optional). */
  endCpuAccess?(dmabuf: DmaBuf, dir: DmaDataDirection): Promise<number> | number;
}

/** Models struct dma_buf_export_info (DEFINE_DMA_BUF_EXPORT_INFO()). */
export interface DmaBufExportInfo {
  /** Models ->exp_name: the exporter's name (KBUILD_MODNAME), shown by bufinfo. */
  readonly expName: string;
  /** Models ->owner (THIS_MODULE): a name for reports; module references are not modelled. */
  readonly owner?: string;
  /** Models ->ops. */
  readonly ops: DmaBufOps | null | undefined;
  /** Models ->size, in bytes. */
  readonly size: number;
  /** Models ->flags: the file's open flags (O_RDWR, O_CLOEXEC...). */
  readonly flags: number;
  /** Models ->resv: the exporter's reservation object; null: the dma-buf embeds its own. */
  readonly resv?: DmaResv | null;
  /** Models ->priv: the exporter's object; mandatory. */
  readonly priv: unknown;
}

/** The slab cache of dma-bufs (kzalloc() in dma_buf_export()). */
export const dmaBufCache = new KmemCache("dma_buf");

/** The historic bug: dma_buf_release() as the file's ->release (see dmaBufFileRelease()). */
export const RELEASE_IN_FOPS = defineToggle({
  name: "dma-buf.release-in-fops",
  description:
    "dma_buf_release() is the dma-buf file's ->release again, as before the fix: the last fput()'s __fput() frees the dma_buf while the file's dentry, " +
    "whose d_fsdata still names it, lives on in a path reference readlink(2) of /proc/<pid>/fd/<n> took (proc_fd_link(): path_get(), then fput() of the file). " +
    "The readlink's d_path() then calls ->d_dname, dmabuffs_dname(), on the freed dma_buf: BUG: KASAN: slab-use-after-free (syzbot+3643a18836bce555bff6, " +
    "reported by Charan Teja Reddy). The kernels it applies to read the name under dma_resv_lock(dmabuf->resv), v6.18's under dmabuf->name_lock (\"dmabuf: use " +
    "spinlock to access dmabuf->name\", July 2020): the model keeps v6.18's lock, taken in the freed dma_buf as the resv lock was, at the same first access of it.",
  fixedBy: "dma-buf: Move dma_buf_release() from fops to dentry_ops",
  kind: "historic",
  commit: "4ab59c3c638c",
  kernels:
    'v5.3-v5.7 (from bb2bb9030425 "dma-buf: add DMA_BUF_SET_NAME ioctls", v5.3, which gave the dentry its d_dname; fixed in v5.8-rc, marked Cc: stable 5.3+: which stable releases took it not confirmed)',
  foundBy:
    "packages/dma-buf src/dma-buf-dentry.test.ts (readlink of the fd racing its close); and the stress harness's detection matrix, apps/stress `bugs` (dmabuf-readlink)",
});

/**
 * The window current kernels have since 4ab59c3c638c moved dma_buf_release() (and with it the
 * exporter's ->release) to the dentry's ->d_release: a path reference on the dentry (readlink(2)
 * of /proc/<pid>/fd/<n>, an O_PATH open of it) lets __fput() free the file first, and a pointer
 * that an exporter's ->release clears (vmwgfx's prime->dma_buf) still names the dma-buf, whose
 * `file` is freed. The switch applies the proposed fix: dma_buf_file_release() clears
 * dmabuf->file (Matt Evans's posted patch), and vmwgfx's get_dma_buf_unless_doomed() takes its
 * reference with get_file_active(&dmabuf->file) (getDmaBufUnlessDoomed()).
 */
export const DMA_BUF_RELEASE_AFTER_FILE_FREE = defineKnownWindow({
  name: "dma-buf.release-after-file-free",
  what:
    "a PRIME re-export of a vmwgfx surface (ttm_prime_handle_to_fd()) finds the dma-buf through " +
    "prime->dma_buf, which ttm_prime_dmabuf_release() clears only from the dentry's ->d_release, " +
    "after __fput() freed the dma-buf's file while a readlink(2) of /proc/<pid>/fd/<n> (for one " +
    "syscall) or an O_PATH fd opened on it (for as long as the fd stays open) held the " +
    "dentry: get_dma_buf_unless_doomed() increments the freed file's count (KASAN " +
    "slab-use-after-free in a kernel with SLUB_RCU_DEBUG once a grace period passed; without it " +
    "the filp slot may already be another file, which the re-export then takes a reference on " +
    "and installs at the new fd)",
  where:
    "drivers/gpu/drm/vmwgfx/ttm_object.c: ttm_prime_handle_to_fd() (get_dma_buf_unless_doomed(): " +
    "atomic_long_inc_not_zero(&dmabuf->file->f_count) in 6.12, file_ref_get(&dmabuf->file->f_ref) " +
    "in 6.18, under prime->mutex) against fs/file_table.c __fput() (dput() of the dentry, then " +
    "file_free()) and drivers/dma-buf/dma-buf.c dma_buf_release() (->d_release: the exporter's " +
    "->release, ttm_prime_dmabuf_release(), clears prime->dma_buf) from fs/proc/base.c " +
    "proc_pid_readlink()'s path_put() (fs/proc/fd.c proc_fd_link(): path_get(), then fput()), " +
    "or from the __fput() of an O_PATH file (fs/namei.c do_o_path(): the walk follows the link " +
    "through proc_pid_get_link() and nd_jump_link(); fs/open.c do_dentry_open(): path_get() of " +
    "the dentry into the FMODE_PATH file)",
  since: "dma-buf: Move dma_buf_release() from fops to dentry_ops",
  sinceCommit: "4ab59c3c638c",
  kernels:
    "v5.8 onwards (vmwgfx's ttm prime code since v3.14); 6.12.19 and 6.18.35 have it. Up to v6.6 " +
    "files were freed after a grace period (call_rcu()), so the get reads freed slab memory; " +
    "from v6.7 (0ede61d8589c, SLAB_TYPESAFE_BY_RCU) the memory may be a recycled file at once",
  proposedFix:
    'dma_buf_file_release() sets dmabuf->file to NULL ("dma-buf: Annul dmabuf->file on file ' +
    "release\", Matt Evans, posted for the same stale pointer in vfio-pci's dma-buf code; not " +
    "merged as far as we know), and get_dma_buf_unless_doomed() takes its reference with " +
    "get_file_active(&dmabuf->file) (the vmwgfx half, proposed here: with the posted patch alone " +
    "vmwgfx would dereference the NULL dmabuf->file)",
  patch: "f8efaabd-c06e-4f04-8cfa-489c148e37ba@ozlabs.org",
  foundBy:
    "packages/drivers/vmwgfx src/races.test.ts (prime-readlink-vs-close: a readlink of the " +
    "dma-buf's fd, its close and a re-export of the surface; every toggle off: KASAN in " +
    "get_file_unless_doomed; with baselineFixes(): clean); stress `run --scenario " +
    "vmwgfx/prime-readlink-vs-close --open-windows`; prime-opath-vs-close (an O_PATH fd on the " +
    "dma-buf's /proc entry, the close, then the re-export: every schedule whose O_PATH open " +
    "precedes the close), src/dma-buf-dentry.test.ts (the same without a race)",
});

/**
 * Models struct dma_buf.
 *
 * Locking: `attachments` is protected by the reservation lock; `cbIn`/`cbOut` activity by
 * `poll.lock`; the rest is set at export and read-only afterwards.
 * References: the file's count (see the file comment). Attachments hold none.
 */
export class DmaBuf extends SlabObject {
  /** Models dmabuf->size. */
  size = 0;
  /** Models dmabuf->file: the anonymous file whose count is the dma-buf's. */
  file: File | null = null;
  /** Models dmabuf->attachments. */
  readonly attachments: DmaBufAttachment[] = [];
  /** Models dmabuf->ops (set at export). */
  ops!: DmaBufOps;
  /** Models dmabuf->exp_name. */
  expName = "";
  /** Models dmabuf->name (DMA_BUF_SET_NAME; null: "<none>"), under `nameLock`. */
  bufName: string | null = null;
  /** Models dmabuf->name_lock: protects `bufName` (SET_NAME against its readers). */
  readonly nameLock: SpinLock;
  /** Models dmabuf->owner. */
  owner: string | undefined = undefined;
  /** Models dmabuf->priv: the exporter's object. */
  priv: unknown = undefined;
  /** Models dmabuf->resv (set at export). */
  resv!: DmaResv;
  /** dmabuf->resv == &dmabuf[1]: the reservation object is embedded (and finalised here). */
  ownResv = false;
  /** Models dmabuf->poll: the poll wait queue head. */
  readonly poll: PollHead;
  /** Models dmabuf->cb_in (EPOLLIN: waits for writers). */
  readonly cbIn: DmaBufPollCb;
  /** Models dmabuf->cb_out (EPOLLOUT: waits for readers and writers). */
  readonly cbOut: DmaBufPollCb;

  constructor() {
    super();
    this.poll = new PollHead(this);
    this.nameLock = new SpinLock("dmabuf_name_lock", { owner: this });
    this.cbIn = new DmaBufPollCb(this, "cb_in");
    this.cbOut = new DmaBufPollCb(this, "cb_out");
  }
}

/**
 * The dma-buf file's operations (dma_buf_fops): release, llseek, mmap, poll and ioctl.
 */
export interface DmaBufFileOperations extends FileOperations {
  /** Models ->poll (dma_buf_poll()): see dma-buf-poll.ts. */
  poll(file: File, pt: PollTable): Promise<number>;
}

/**
 * Models dma_buf_fops. `isDmaBufFile()` recognises a dma-buf by it.
 */
export const dmaBufFops: DmaBufFileOperations = fileOperations({
  owner: "dma-buf",
  release: (_inode, file) => dmaBufFileRelease(file),
  llseek: (file, offset, whence) => dmaBufLlseek(file, offset, whence),
  mmap: (file, vma) => dmaBufMmapInternal(file, vma),
  poll: (file, pt) => dmaBufPollFop(file, pt),
  unlockedIoctl: (file, cmd, arg) => dmaBufIoctl(file, cmd, arg),
});

/**
 * Models is_dma_buf_file(): the file is a dma-buf's (its f_op is dma_buf_fops).
 * Locking: none.
 * References: the caller holds the file.
 */
export function isDmaBufFile(file: File): boolean {
  return file.fOp === dmaBufFops;
}

/**
 * Models dma_buf_export(exp_info): wraps the exporter's buffer in a new dma-buf with its file.
 * Missing priv, ops, map_dma_buf, unmap_dma_buf or release is a WARN and -EINVAL. The file is
 * created first (as in v6.x: dma_buf_getfile()), then the dma-buf; an allocation failure is
 * -ENOMEM and undoes the rest. The file's dentry gets the dma-buf as its d_fsdata with the file's
 * private_data. On success the dma-buf is on the debug list.
 * Locking: takes the debug-list mutex; may sleep.
 * References: returns the dma-buf with one reference (the file's count is 1), owned by the
 * caller: hand it to dmaBufFd() or drop it with dmaBufPut().
 */
export async function dmaBufExport(expInfo: DmaBufExportInfo): Promise<DmaBuf | Errno> {
  const ops = expInfo.ops;
  if (
    warnOn(
      !expInfo.priv || !ops?.mapDmaBuf || !ops.unmapDmaBuf || !ops.release,
      "dma_buf_export: WARN_ON(!exp_info->priv || !exp_info->ops || !exp_info->ops->map_dma_buf || !exp_info->ops->unmap_dma_buf || !exp_info->ops->release)",
    )
  )
    return errPtr(EINVAL);
  const file = await dmaBufGetfile(expInfo.size, expInfo.flags);
  if (isErr(file)) return file;
  const dmabuf = kmalloc(dmaBufCache, () => new DmaBuf());
  if (isErr(dmabuf)) {
    const fputDone = fput(file);
    if (fputDone !== RESOLVED) await fputDone;
    return errPtr(ENOMEM);
  }
  dmabuf.priv = expInfo.priv;
  dmabuf.ops = ops!;
  dmabuf.size = expInfo.size;
  dmabuf.expName = expInfo.expName;
  dmabuf.owner = expInfo.owner;
  if (!expInfo.resv) {
    dmabuf.resv = new DmaResv(dmabuf);
    dmabuf.ownResv = true;
  } else {
    dmabuf.resv = expInfo.resv;
  }
  await point(fmtLabel("file->private_data = ", dmabuf.name, ""));
  file.privateData = dmabuf;
  const dentry = file.fPath!.dentry;
  dentry.dFsdata = dmabuf;
  dentry.label = `dentry of ${dmabuf.name}`;
  dmabuf.file = file;
  await dmaBufListAdd(dmabuf);
  return dmabuf;
}

/**
 * Models dma_buf_fd(dmabuf, flags): installs the dma-buf's file at a new fd of the current
 * process (`flags`: O_CLOEXEC). Returns the fd, or a negative errno (-EINVAL without a dma-buf
 * or file; the fd allocation's -EMFILE, -ENOMEM, -EBADF).
 * Locking: takes the fd table's lock.
 * References: on success the fd owns the caller's reference (consumed); on failure the caller
 * still owns it.
 */
export async function dmaBufFd(dmabuf: DmaBuf | null, flags: number): Promise<number> {
  if (!dmabuf?.file) return -EINVAL;
  const fd = await getUnusedFdFlags(flags);
  if (fd < 0) return fd;
  const fdInstallDone = fdInstall(fd, dmabuf.file);
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  return fd;
}

/**
 * Models dma_buf_get(fd): the dma-buf behind an fd of the current process, with a new
 * reference. -EBADF if the fd is not open; -EINVAL if its file is not a dma-buf (the temporary
 * reference is dropped).
 * Locking: takes the fd table's lock.
 * References: takes one (drop it with dmaBufPut()).
 */
export async function dmaBufGet(fd: number): Promise<DmaBuf | Errno> {
  const file = await fget(fd);
  if (!file) return errPtr(EBADF);
  if (!isDmaBufFile(file)) {
    const fputDone2 = fput(file);
    if (fputDone2 !== RESOLVED) await fputDone2;
    return errPtr(EINVAL);
  }
  return file.privateData as DmaBuf;
}

/**
 * Models dma_buf_put(): drops a reference (fput() of the file); the last one dooms the dma-buf
 * and defers its release. A missing dma-buf or file is a WARN.
 * Locking: none; callable under spinlocks.
 * References: drops one.
 */
export function dmaBufPut(dmabuf: DmaBuf | null): Promise<void> {
  if (warnOn(!dmabuf?.file, "dma_buf_put: WARN_ON(!dmabuf || !dmabuf->file)")) return RESOLVED;
  return fput(dmabuf!.file!);
}

/**
 * Models get_dma_buf(): get_file() on the dma-buf's file. On a doomed dma-buf (count 0) this is
 * the v6.13+ WARN "file_ref_inc() on a released file reference" and no reference: a caller that
 * reaches the dma-buf through a pointer holding no reference must use getDmaBufUnlessDoomed().
 * Locking: none.
 * References: takes one; the caller must already hold one (or the pointer's owner does).
 */
export function getDmaBuf(dmabuf: DmaBuf): Promise<DmaBuf> {
  if (dmabuf.file === null) dmaBufFileNull("get_dma_buf", dmabuf);
  return getFile(dmabuf.file).then(() => dmabuf);
}

/**
 * get_file(dmabuf->file) with dmabuf->file NULL: with DMA_BUF_RELEASE_AFTER_FILE_FREE's fix on,
 * dma_buf_file_release() cleared it, and only a caller that holds no reference (a historic
 * toggle's get_dma_buf() on a cached pointer) can get here: the kernel's oops.
 */
function dmaBufFileNull(fn: string, dmabuf: DmaBuf): never {
  bug(`BUG: kernel NULL pointer dereference in ${fn}(${dmabuf.name}): dmabuf->file is NULL`);
}

/**
 * Models get_dma_buf() of kernels up to v6.12, where get_file() was atomic_long_inc(&f_count):
 * on a doomed dma-buf the count goes 0 -> 1 silently, the pending release still frees the
 * dma-buf, and the new holder's dma_buf_put() releases it a second time. Only historic toggles
 * that re-create code of those kernels call it.
 * Locking: none.
 * References: takes one, even on a doomed dma-buf.
 */
export async function getDmaBufLegacy(dmabuf: DmaBuf): Promise<DmaBuf> {
  if (dmabuf.file === null) dmaBufFileNull("get_dma_buf", dmabuf);
  await getFileLegacy(dmabuf.file);
  return dmabuf;
}

/**
 * Models get_dma_buf_unless_doomed() (proposed for include/linux/dma-buf.h in 2013, kept local to
 * vmwgfx's ttm_object.c ever since): get_file_unless_doomed() on the dma-buf's file
 * (atomic_long_inc_not_zero(&dmabuf->file->f_count) in 6.12, file_ref_get(&dmabuf->file->f_ref)
 * in 6.18). For an exporter that keeps a pointer to its dma-buf *without* a reference (to avoid a
 * reference cycle between its object and the dma-buf) and clears that pointer from its ->release
 * under a lock of its own: holding that lock, the dma-buf is still allocated, but the count may
 * already be 0 (the last fput() ran, __fput() has not yet), and only an inc-not-zero may revive a
 * reference. False means the dma-buf is doomed: no reference was taken and the caller must export
 * a new one.
 *
 * The premise that the file is still allocated too has not held since v5.8: the exporter's
 * ->release runs from the dentry's ->d_release, and a path reference on the dentry (readlink(2)
 * of /proc/<pid>/fd/<n>) lets __fput() free the file before it; the get then reads the freed file
 * (known window DMA_BUF_RELEASE_AFTER_FILE_FREE: KASAN here, through the file's liveness check).
 * With its fix switch on, dma_buf_file_release() has cleared dmabuf->file before the file could
 * be freed, and the reference is taken with get_file_active(&dmabuf->file) (proposed here): under
 * RCU, a NULL pointer or a file whose count reads zero (doomed, freed, or recycled and reloaded as
 * NULL) is no reference.
 * Locking: the lock the exporter's ->release takes to clear the caller's pointer.
 * References: takes one when it returns true.
 */
export async function getDmaBufUnlessDoomed(dmabuf: DmaBuf): Promise<boolean> {
  if (toggleEnabled(DMA_BUF_RELEASE_AFTER_FILE_FREE.name))
    return (await getFileActive(() => dmabuf.file)) !== null;
  return getFileUnlessDoomed(dmabuf.file!);
}

/** Models dma_buf_getfile()'s `static atomic64_t dmabuf_inode`, per simulation (per boot). */
const dmabufInode = new SimLocal<{ n: number }>(() => ({ n: 0 }));

/**
 * Models dma_buf_getfile(size, flags) (v6.12 and v6.18): alloc_anon_inode() on the dma_buf_fs
 * mount (an inode of its own), i_size = size and inode_set_bytes(inode, size), i_ino overridden
 * with `atomic64_add_return(1, &dmabuf_inode)` ("The ->i_ino acquired from get_next_ino() is not
 * unique"), then alloc_file_pseudo(inode, dma_buf_mnt, "dmabuf", flags & (O_ACCMODE |
 * O_NONBLOCK), &dma_buf_fops): the file and its dentry, whose d_op is dma_buf_dentry_ops.
 * -ENOMEM. The atomic64 increment is no scheduling point: its only effect is the number each
 * dma-buf gets (which st_ino fstat(2) reports), and no other code reads the counter.
 * Locking: none; may sleep.
 * References: returns the file with one reference, owned by the caller.
 */
async function dmaBufGetfile(size: number, flags: number): Promise<File | Errno> {
  const inode = allocAnonInode("dmabuf", kernMountSb("dmabuf"));
  inode.iSize = size;
  inodeSetBytes(inode, size);
  inode.iIno = ++dmabufInode.get().n;
  return allocFilePseudo(
    inode,
    "dmabuf",
    flags & (O_ACCMODE | O_NONBLOCK),
    dmaBufFops,
    dmaBufDentryOps,
  );
}

/**
 * Models dmabuffs_dname(dentry, buffer, buflen), dma_buf_dentry_ops' ->d_dname (v6.18): the
 * dma-buf is the dentry's d_fsdata; its name is copied under its name_lock (strscpy() into a
 * DMA_BUF_NAME_LEN buffer) and the result is dynamic_dname(buffer, buflen, "/%s:%s",
 * dentry->d_name.name, name or ""): "/dmabuf:<name>", "/dmabuf:" without one.
 * Locking: takes dmabuf->name_lock (a spinlock: d_path() callers may hold others).
 * References: none; reads the dma-buf through d_fsdata, which holds none: its caller's path
 * reference on the dentry is what keeps the dma-buf alive (dma_buf_release() is ->d_release).
 */
export async function dmabuffsDname(dentry: Dentry, buflen: number): Promise<string | Errno> {
  const dmabuf = dentry.dFsdata as DmaBuf;
  const nameLockTaken = dmabuf.nameLock.lock();
  if (nameLockTaken !== RESOLVED) await nameLockTaken;
  const name = dmabuf.bufName;
  dmabuf.nameLock.unlockNow();
  return dynamicDname(`/${dentry.dName}:${name ?? ""}`, buflen);
}

/** Models dma_buf_dentry_ops (the dma_buf_fs superblock's s_d_op, set by init_pseudo()). */
export const dmaBufDentryOps: DentryOperations = {
  dDname: (dentry, buflen) => dmabuffsDname(dentry, buflen),
  dRelease: (dentry) => dmaBufDentryRelease(dentry),
};

/**
 * Models dma_buf_file_release(), the file's ->release (v6.18): takes the dma-buf off the list
 * (a file whose export failed half-way has none: nothing). The dma-buf itself is freed by the
 * dentry's ->d_release, dma_buf_release(), when __fput()'s dput() (or a later path_put()) drops
 * the dentry's last reference.
 *
 * Toggle `dma-buf.release-in-fops` (historic, RELEASE_IN_FOPS): dma_buf_release() is this
 * ->release, as up to v5.7: the dma-buf is freed here, whoever still holds the dentry. The fix
 * switch of the known window `dma-buf.release-after-file-free` (DMA_BUF_RELEASE_AFTER_FILE_FREE)
 * clears dmabuf->file after the list removal, as the posted fix does.
 * Locking: runs from __fput(): may sleep; takes the list mutex.
 * References: the toggle's release consumes the dma-buf; the file is freed by __fput()
 * afterwards.
 */
async function dmaBufFileRelease(file: File): Promise<number> {
  if (!isDmaBufFile(file)) return -EINVAL;
  const dmabuf = file.privateData as DmaBuf | null;
  if (toggleEnabled(RELEASE_IN_FOPS.name)) {
    await dmaBufReleaseV57(dmabuf);
    return 0;
  }
  await dmaBufListDel(dmabuf);
  // The fix switch of DMA_BUF_RELEASE_AFTER_FILE_FREE (Matt Evans's posted "dma-buf: Annul
  // dmabuf->file on file release", with the NULL check a failed export's file needs): the file
  // is about to be freed (__fput()'s file_free()), and the dma-buf may outlive it. The store
  // has no point of its own: the list removal's lock is the last point, and nothing between it
  // and here touches what another task does (the store is as if under dmabuf_list_mutex).
  if (dmabuf !== null && toggleEnabled(DMA_BUF_RELEASE_AFTER_FILE_FREE.name)) dmabuf.file = null;
  return 0;
}

/**
 * Models dma_buf_release(dentry), dma_buf_dentry_ops' ->d_release (v6.18): the dma-buf is the
 * dentry's d_fsdata (none: an export that failed before setting it, nothing to do); then
 * dmaBufRelease(). With the toggle `dma-buf.release-in-fops` on, the file's ->release freed the
 * dma-buf already and the dentry has no ->d_release to run (the v5.7 dma_buf_dentry_ops had only
 * ->d_dname).
 * Locking: from the dentry's last dput(): may sleep.
 * References: consumes the dma-buf.
 */
async function dmaBufDentryRelease(dentry: Dentry): Promise<void> {
  if (toggleEnabled(RELEASE_IN_FOPS.name)) return;
  const dmabuf = dentry.dFsdata as DmaBuf | undefined;
  if (!dmabuf) return;
  await dmaBufRelease(dmabuf);
}

/**
 * Models dma_buf_release() of v5.3-v5.7, the file's ->release (the toggle
 * `dma-buf.release-in-fops`): the BUG_ON of an armed poll callback, the exporter's ->release,
 * then the list removal (under db_list.lock), the embedded reservation object's finalisation,
 * the attachments WARN and the free, in that order.
 * Locking: from __fput(); may sleep; takes the list mutex.
 * References: consumes the dma-buf.
 */
async function dmaBufReleaseV57(dmabuf: DmaBuf | null): Promise<void> {
  if (!dmabuf) return;
  await point(opLabel("dma_buf_release", dmabuf.name));
  dmabuf.checkAccess("dma_buf_release");
  if (dmabuf.cbIn.active || dmabuf.cbOut.active)
    bug(
      `kernel BUG at drivers/dma-buf/dma-buf.c: dma_buf_release(${dmabuf.name}): BUG_ON(dmabuf->cb_shared.active || dmabuf->cb_excl.active)`,
    );
  await dmabuf.ops.release(dmabuf);
  await dmaBufListDel(dmabuf);
  if (dmabuf.ownResv) await dmaResvFini(dmabuf.resv);
  if (dmabuf.attachments.length > 0)
    warnOn(true, `dma_buf_release(${dmabuf.name}): WARN_ON(!list_empty(&dmabuf->attachments))`, {
      object: dmabuf.name,
    });
  kfree(dmabuf);
}

/**
 * Models the body of dma_buf_release() (v6.18, ->d_release; see dmaBufDentryRelease()): checks
 * that no poll callback is still armed (a BUG: someone dropped a reference a pending callback
 * relied on), calls the exporter's ->release, finalises an embedded reservation object, warns if
 * attachments remain, and frees the dma-buf (and its name).
 * Locking: from the dentry's last dput(): may sleep.
 * References: consumes the dma-buf.
 */
async function dmaBufRelease(dmabuf: DmaBuf): Promise<void> {
  await point(opLabel("dma_buf_release", dmabuf.name));
  dmabuf.checkAccess("dma_buf_release");
  // If this fires, a poll callback still relies on a reference that was dropped, or
  // cb_in/cb_out.active is set with no callback pending.
  if (dmabuf.cbIn.active || dmabuf.cbOut.active)
    bug(
      `kernel BUG at drivers/dma-buf/dma-buf.c: dma_buf_release(${dmabuf.name}): BUG_ON(dmabuf->cb_in.active || dmabuf->cb_out.active)`,
    );
  await dmabuf.ops.release(dmabuf);
  if (dmabuf.ownResv) await dmaResvFini(dmabuf.resv);
  if (dmabuf.attachments.length > 0)
    warnOn(true, `dma_buf_release(${dmabuf.name}): WARN_ON(!list_empty(&dmabuf->attachments))`, {
      object: dmabuf.name,
    });
  kfree(dmabuf);
}

/**
 * Models dma_buf_llseek(): a dma-buf can only report its size: SEEK_END with offset 0 returns
 * the size, SEEK_SET with offset 0 returns 0 (for the SEEK_END(0), SEEK_SET(0) idiom); any
 * other whence or offset is -EINVAL; a file that is not a dma-buf is -EBADF. The file position
 * is not changed.
 * Locking: none.
 * References: the caller holds the file.
 */
export async function dmaBufLlseek(file: File, offset: number, whence: number): Promise<number> {
  if (!isDmaBufFile(file)) return -EBADF;
  const dmabuf = file.privateData as DmaBuf;
  let base: number;
  if (whence === SEEK_END) base = dmabuf.size;
  else if (whence === SEEK_SET) base = 0;
  else return -EINVAL;
  if (offset !== 0) return -EINVAL;
  return base + offset;
}

/**
 * The buffer's size in pages: `dmabuf->size >> PAGE_SHIFT`, as a division (JavaScript shifts are
 * 32-bit: a buffer of 2 GiB or more would give a negative count and refuse every mapping).
 */
function sizePages(dmabuf: DmaBuf): number {
  return Math.floor(dmabuf.size / PAGE_SIZE);
}

/**
 * Models dma_buf_mmap_internal(), the file's ->mmap (mmap() of a dma-buf fd): -EINVAL if the
 * exporter has no ->mmap or the mapping reaches past the buffer; otherwise ->mmap.
 * Locking: mmap_lock held for writing (by the mmap path).
 * References: the vma holds the file (taken by the mmap path).
 */
export async function dmaBufMmapInternal(file: File, vma: Vma): Promise<number> {
  mmapAssertWriteLocked(vma.vmMm);
  if (!isDmaBufFile(file)) return -EINVAL;
  const dmabuf = file.privateData as DmaBuf;
  if (!dmabuf.ops.mmap) return -EINVAL;
  if (vma.vmPgoff + vma.nrPages > sizePages(dmabuf)) return -EINVAL;
  return dmabuf.ops.mmap(dmabuf, vma);
}

/**
 * Models dma_buf_mmap(dmabuf, vma, pgoff): an importer's ->mmap forwarding to the exporter: the
 * vma now maps the dma-buf's file at `pgoff` (vma_set_file(): the vma takes a reference on the
 * dma-buf's file and drops the one on the importer's file), then ->mmap. -EINVAL (a WARN)
 * without a dma-buf or vma, -EINVAL without ->mmap or past the end, -EOVERFLOW on an offset
 * overflow.
 * Locking: mmap_lock held for writing.
 * References: moves the vma's file reference to the dma-buf's file.
 */
export async function dmaBufMmap(
  dmabuf: DmaBuf | null,
  vma: Vma | null,
  pgoff: number,
): Promise<number> {
  if (warnOn(!dmabuf || !vma, "dma_buf_mmap: WARN_ON(!dmabuf || !vma)")) return -EINVAL;
  const d = dmabuf!;
  const v = vma!;
  mmapAssertWriteLocked(v.vmMm);
  if (!d.ops.mmap) return -EINVAL;
  if (pgoff + v.nrPages > Number.MAX_SAFE_INTEGER) return -EOVERFLOW;
  if (pgoff + v.nrPages > sizePages(d)) return -EINVAL;
  // vma_set_file(): get_file(new); swap; fput(old).
  const old = v.vmFile;
  v.vmFile = await getFile(d.file!);
  if (old) await fput(old);
  v.vmPgoff = pgoff;
  return d.ops.mmap(d, v);
}
