/**
 * The list of live dma-bufs and its debug listing (drivers/dma-buf/dma-buf.c: db_list,
 * __dma_buf_list_add/del(), dma_buf_debug_show(), /sys/kernel/debug/dma_buf/bufinfo).
 *
 * Every exported dma-buf is on the list from dma_buf_export() until its file's ->release: a
 * doomed dma-buf (file count 0, release pending) is still listed, with count 0. Leak checks
 * read the listing after quiescing: anything left is a dma-buf nobody released.
 *
 * Simplifications: there are no inode numbers; the listing names each dma-buf by its object
 * name ("dma_buf#3") where bufinfo prints the inode number.
 */

import { fileCount, Mutex } from "@primetime/kernel";
import { RESOLVED, SimLocal } from "@primetime/sim";
import type { DmaBuf } from "./dma-buf.js";
import { dmaResvDescribe, dmaResvLockInterruptible, dmaResvUnlock } from "./dma-resv.js";

/** Models struct dma_buf_list (db_list): per simulation. */
interface DmaBufList {
  /** Newest first (list_add()). */
  readonly head: DmaBuf[];
  /** Models db_list.lock / debugfs_list_mutex. */
  readonly lock: Mutex;
}

const dbList = new SimLocal<DmaBufList>(() => ({
  head: [],
  lock: new Mutex("dmabuf_debugfs_list_mutex"),
}));

/**
 * Models __dma_buf_list_add(): puts a new dma-buf on the list (at the head).
 * Locking: takes the list mutex.
 * References: the list holds none (the dma-buf leaves it at its release).
 */
export async function dmaBufListAdd(dmabuf: DmaBuf): Promise<void> {
  const l = dbList.get();
  const lockTaken = l.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  l.head.unshift(dmabuf);
  l.lock.unlockNow();
}

/**
 * Models __dma_buf_list_del(): takes a dma-buf off the list; null (a half-built export) is a
 * no-op.
 * Locking: takes the list mutex.
 * References: none.
 */
export async function dmaBufListDel(dmabuf: DmaBuf | null): Promise<void> {
  if (!dmabuf) return;
  const l = dbList.get();
  const lockTaken2 = l.lock.lock();
  if (lockTaken2 !== RESOLVED) await lockTaken2;
  const i = l.head.indexOf(dmabuf);
  if (i >= 0) l.head.splice(i, 1);
  l.lock.unlockNow();
}

/** One dma-buf as bufinfo shows it. */
export interface DmaBufInfo {
  /** The dma-buf object ("dma_buf#3"; bufinfo's inode number). */
  readonly object: string;
  readonly size: number;
  /** The file's f_flags. */
  readonly flags: number;
  /** The file's f_mode. */
  readonly mode: number;
  /** file_count(): 0 for a doomed dma-buf whose release is pending. */
  readonly count: number;
  readonly expName: string;
  /** dmabuf->name, or null ("<none>"). */
  readonly name: string | null;
  /** dma_resv_describe() lines (fences up to READ usage). */
  readonly fences: readonly string[];
  /** dev_name() of each attached device, newest first. */
  readonly attachments: readonly string[];
}

/**
 * The live dma-bufs, newest first, as dma_buf_debug_show() walks them: under the list mutex,
 * each read under its reservation lock, the line of its size, flags, count, exporter and name
 * under its name_lock (as dma_buf_debug_show() prints it, against DMA_BUF_SET_NAME), then its
 * fences and attachments.
 * Locking: takes the list mutex, then each reservation lock and, inside it, its name_lock (the
 * kernel's order).
 * References: none kept.
 */
export async function dmaBufDebugList(): Promise<DmaBufInfo[]> {
  const l = dbList.get();
  const lockTaken3 = l.lock.lock();
  if (lockTaken3 !== RESOLVED) await lockTaken3;
  const out: DmaBufInfo[] = [];
  for (const buf of [...l.head]) {
    await dmaResvLockInterruptible(buf.resv);
    const nameLockTaken = buf.nameLock.lock();
    if (nameLockTaken !== RESOLVED) await nameLockTaken;
    const file = buf.file!;
    const line = {
      object: buf.name,
      size: buf.size,
      flags: file.fFlags,
      mode: file.fMode,
      count: fileCount(file),
      expName: buf.expName,
      name: buf.bufName,
    };
    buf.nameLock.unlockNow();
    out.push({
      ...line,
      fences: await dmaResvDescribe(buf.resv),
      attachments: buf.attachments.map((a) => a.dev.name),
    });
    const dmaResvUnlockDone = dmaResvUnlock(buf.resv);
    if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
  }
  l.lock.unlockNow();
  return out;
}

const pad8 = (n: number, radix = 10) => n.toString(radix).padStart(8, "0");

/**
 * Models dma_buf_debug_show(): the text of /sys/kernel/debug/dma_buf/bufinfo.
 * Locking: see dmaBufDebugList().
 * References: none kept.
 */
export async function dmaBufDebugShow(): Promise<string> {
  const bufs = await dmaBufDebugList();
  let s = "\nDma-buf Objects:\n";
  s += `${"size".padEnd(8)}\t${"flags".padEnd(8)}\t${"mode".padEnd(8)}\t${"count".padEnd(8)}\texp_name\t${"ino".padEnd(8)}\tname\n`;
  let total = 0;
  for (const b of bufs) {
    s += `${pad8(b.size)}\t${pad8(b.flags, 16)}\t${pad8(b.mode, 16)}\t${pad8(b.count)}\t${b.expName}\t${b.object}\t${b.name ?? "<none>"}\n`;
    for (const f of b.fences) s += `${f}\n`;
    s += "\tAttached Devices:\n";
    for (const a of b.attachments) s += `\t${a}\n`;
    s += `Total ${b.attachments.length} devices attached\n\n`;
    total += b.size;
  }
  s += `\nTotal ${bufs.length} objects, ${total} bytes\n`;
  return s;
}

/**
 * The dma-bufs on the list now (no locking, no scheduling point): a snapshot for leak checks
 * and assertions once the machine is quiesced.
 */
export function dmaBufLiveList(): readonly DmaBuf[] {
  return [...dbList.get().head];
}
