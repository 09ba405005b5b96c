/**
 * struct dma_buf_attachment (drivers/dma-buf/dma-buf.c): an importing device's link to a
 * dma-buf, through which it maps the buffer's pages.
 *
 * dma_buf_attach() asks the exporter (->attach) and puts the attachment on the dma-buf's list
 * under the reservation lock; it takes no dma-buf reference: the importer holds its own (from
 * dma_buf_get()) for as long as it stays attached. dma_buf_map_attachment() asks the exporter for
 * the page table (->map_dma_buf), then waits for the buffer's KERNEL fences (moves, clears)
 * before handing it out; every map is the exporter's, and every unmap goes back to it. The table
 * holds the exporter's very pages: what the importer writes, the exporter reads.
 *
 * Version: since b72f66f22c0e ("dma-buf: drop caching of sg_tables", v6.15) the core keeps no
 * mapping in the attachment (the ->cache_sgt_mapping flag, attach->sgt and attach->dir are gone):
 * before, the first mapping of a cache_sgt_mapping exporter was returned to every later map and
 * unmapped only at dma_buf_detach().
 *
 * Simplifications: importers are static (no importer_ops/move_notify, no pinning, no
 * peer-to-peer); a device is anything with a name.
 */

import {
  EINVAL,
  ENOMEM,
  type Errno,
  errPtr,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  mightSleep,
  SlabObject,
} from "@primetime/kernel";
import { RESOLVED, warnOn } from "@primetime/sim";
import type { DmaBuf } from "./dma-buf.js";
import { MAX_SCHEDULE_TIMEOUT } from "./dma-fence.js";
import {
  DmaResvUsage,
  dmaResvAssertHeld,
  dmaResvLock,
  dmaResvUnlock,
  dmaResvWaitTimeout,
} from "./dma-resv.js";
import type { SgTable } from "./scatterlist.js";

/** Models enum dma_data_direction. */
export const DmaDataDirection = {
  BIDIRECTIONAL: 0,
  TO_DEVICE: 1,
  FROM_DEVICE: 2,
  NONE: 3,
} as const;
export type DmaDataDirection = (typeof DmaDataDirection)[keyof typeof DmaDataDirection];

/** Models struct device as far as dma-buf needs one: a name for bufinfo (dev_name()). */
export interface DmaBufDevice {
  readonly name: string;
}

/** The slab cache of attachments (kzalloc() in dma_buf_dynamic_attach()). */
export const dmaBufAttachmentCache = new KmemCache("dma_buf_attachment");

/**
 * Models struct dma_buf_attachment (v6.15+: no cached sgt/dir).
 *
 * Locking: list membership changes under the reservation lock.
 * References: none on the dma-buf (the importer holds its own).
 */
export class DmaBufAttachment extends SlabObject {
  /** Models attach->priv: the exporter's per-attachment data. */
  priv: unknown = undefined;
  /** Models attach->importer_priv. */
  importerPriv: unknown = undefined;

  constructor(
    /** Models attach->dmabuf. */
    readonly dmabuf: DmaBuf,
    /** Models attach->dev. */
    readonly dev: DmaBufDevice,
  ) {
    super();
  }
}

/**
 * Models dma_buf_attach(dmabuf, dev) (dma_buf_dynamic_attach() without importer ops): creates
 * the attachment, lets the exporter vet it (->attach), and lists it under the reservation lock.
 * -EINVAL (a WARN) without a dma-buf or device, -ENOMEM, or the exporter's error.
 * Locking: takes the reservation lock; may sleep.
 * References: takes none on the dma-buf; the caller must hold one until dmaBufDetach().
 */
export async function dmaBufAttach(
  dmabuf: DmaBuf | null,
  dev: DmaBufDevice | null,
  importerPriv?: unknown,
): Promise<DmaBufAttachment | Errno> {
  if (warnOn(!dmabuf || !dev, "dma_buf_attach: WARN_ON(!dmabuf || !dev)")) return errPtr(EINVAL);
  const d = dmabuf!;
  d.checkAccess("dma_buf_attach");
  const attach = kmalloc(dmaBufAttachmentCache, () => new DmaBufAttachment(d, dev!));
  if (isErr(attach)) return errPtr(ENOMEM);
  attach.importerPriv = importerPriv;
  if (d.ops.attach) {
    const ret = await d.ops.attach(d, attach);
    if (ret) {
      kfree(attach);
      return errPtr(ret);
    }
  }
  await dmaResvLock(d.resv);
  d.attachments.unshift(attach); // list_add(): newest first
  const dmaResvUnlockDone = dmaResvUnlock(d.resv);
  if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
  return attach;
}

/**
 * Models dma_buf_detach(dmabuf, attach): unlists the attachment under the reservation lock, tells
 * the exporter (->detach) and frees the attachment (no cached mapping to unmap since
 * b72f66f22c0e, v6.15). A mismatched or missing argument is a WARN and nothing happens.
 * Locking: takes the reservation lock; may sleep.
 * References: none change; the caller drops its dma-buf reference afterwards.
 */
export async function dmaBufDetach(
  dmabuf: DmaBuf | null,
  attach: DmaBufAttachment | null,
): Promise<void> {
  if (
    warnOn(
      !dmabuf || !attach || dmabuf !== attach.dmabuf,
      "dma_buf_detach: WARN_ON(!dmabuf || !attach || dmabuf != attach->dmabuf)",
    )
  )
    return;
  const d = dmabuf!;
  const a = attach!;
  a.checkAccess("dma_buf_detach");
  await dmaResvLock(d.resv);
  const i = d.attachments.indexOf(a);
  if (i >= 0) d.attachments.splice(i, 1);
  const dmaResvUnlockDone2 = dmaResvUnlock(d.resv);
  if (dmaResvUnlockDone2 !== RESOLVED) await dmaResvUnlockDone2;
  if (d.ops.detach) await d.ops.detach(d, a);
  kfree(a);
}

/**
 * Models __map_dma_buf(): ->map_dma_buf, then (static importer) waits for the KERNEL fences so
 * the device does not see memory the kernel is still moving or clearing.
 * Locking: as dmaBufMapAttachment(), its only caller, which asserts the reservation lock; may
 * sleep.
 * References: the table belongs to the exporter until unmapped.
 */
async function mapDmaBuf(
  attach: DmaBufAttachment,
  dir: DmaDataDirection,
): Promise<SgTable | Errno> {
  const sgt = await attach.dmabuf.ops.mapDmaBuf(attach, dir);
  if (isErr(sgt)) return sgt;
  const ret = await dmaResvWaitTimeout(
    attach.dmabuf.resv,
    DmaResvUsage.KERNEL,
    true,
    MAX_SCHEDULE_TIMEOUT,
  );
  if (ret < 0) {
    await attach.dmabuf.ops.unmapDmaBuf(attach, sgt, dir);
    return errPtr(ret);
  }
  return sgt;
}

/**
 * Models dma_buf_map_attachment(attach, direction): the buffer's page table for the attachment's
 * device, mapped by the exporter each time (nothing cached since b72f66f22c0e, v6.15). -EINVAL
 * (a WARN) without an attachment; the exporter's errno.
 * Locking: the reservation lock must be held (v6.2+); may sleep.
 * References: the table stays valid until dmaBufUnmapAttachment().
 */
export async function dmaBufMapAttachment(
  attach: DmaBufAttachment | null,
  direction: DmaDataDirection,
): Promise<SgTable | Errno> {
  mightSleep("dma_buf_map_attachment");
  if (warnOn(!attach?.dmabuf, "dma_buf_map_attachment: WARN_ON(!attach)")) return errPtr(EINVAL);
  const a = attach!;
  a.checkAccess("dma_buf_map_attachment");
  dmaResvAssertHeld(a.dmabuf.resv);
  return mapDmaBuf(a, direction);
}

/**
 * Models dma_buf_map_attachment_unlocked(): dmaBufMapAttachment() under the reservation lock.
 * Locking: takes the reservation lock; may sleep.
 * References: as dmaBufMapAttachment().
 */
export async function dmaBufMapAttachmentUnlocked(
  attach: DmaBufAttachment | null,
  direction: DmaDataDirection,
): Promise<SgTable | Errno> {
  mightSleep("dma_buf_map_attachment_unlocked");
  if (warnOn(!attach?.dmabuf, "dma_buf_map_attachment_unlocked: WARN_ON(!attach)"))
    return errPtr(EINVAL);
  await dmaResvLock(attach!.dmabuf.resv);
  const sgt = await dmaBufMapAttachment(attach, direction);
  const dmaResvUnlockDone3 = dmaResvUnlock(attach!.dmabuf.resv);
  if (dmaResvUnlockDone3 !== RESOLVED) await dmaResvUnlockDone3;
  return sgt;
}

/**
 * Models dma_buf_unmap_attachment(attach, sgt, direction): gives a mapping back to the exporter
 * (->unmap_dma_buf; no cached mapping is kept back since b72f66f22c0e, v6.15). A missing argument
 * is a WARN.
 * Locking: the reservation lock must be held; may sleep.
 * References: the table must not be used afterwards.
 */
export async function dmaBufUnmapAttachment(
  attach: DmaBufAttachment | null,
  sgt: SgTable | null,
  direction: DmaDataDirection,
): Promise<void> {
  mightSleep("dma_buf_unmap_attachment");
  if (warnOn(!attach?.dmabuf || !sgt, "dma_buf_unmap_attachment: WARN_ON(!attach)")) return;
  const a = attach!;
  dmaResvAssertHeld(a.dmabuf.resv);
  await a.dmabuf.ops.unmapDmaBuf(a, sgt!, direction);
}

/**
 * Models dma_buf_unmap_attachment_unlocked(): dmaBufUnmapAttachment() under the reservation
 * lock.
 * Locking: takes the reservation lock; may sleep.
 * References: as dmaBufUnmapAttachment().
 */
export async function dmaBufUnmapAttachmentUnlocked(
  attach: DmaBufAttachment | null,
  sgt: SgTable | null,
  direction: DmaDataDirection,
): Promise<void> {
  mightSleep("dma_buf_unmap_attachment_unlocked");
  if (warnOn(!attach?.dmabuf || !sgt, "dma_buf_unmap_attachment_unlocked: WARN_ON")) return;
  await dmaResvLock(attach!.dmabuf.resv);
  await dmaBufUnmapAttachment(attach, sgt, direction);
  const dmaResvUnlockDone4 = dmaResvUnlock(attach!.dmabuf.resv);
  if (dmaResvUnlockDone4 !== RESOLVED) await dmaResvUnlockDone4;
}
