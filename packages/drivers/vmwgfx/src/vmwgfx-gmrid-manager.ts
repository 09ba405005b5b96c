/**
 * The GMR and MOB id managers (drivers/gpu/drm/vmwgfx/vmwgfx_gmrid_manager.c, identical in
 * v6.12.19 and v6.18.35): TTM resource managers of the memory types VMW_PL_GMR and VMW_PL_MOB,
 * whose resources are no memory of their own but an id (a Guest Memory Region, or a Memory
 * OBject of a guest-backed device) the device knows the buffer's pages by. So the managers are
 * `use_tt` (the buffer's ttm_tt pages stay where they are; vmw_move() binds or unbinds them) and
 * count two limits: ids (an ida of `max_gmr_ids`: the device's SVGA_REG_GMR_MAX_IDS for GMRs,
 * VMWGFX_NUM_MOB for MOBs) and pages (`max_gmr_pages`: SVGA_REG_GMRS_MAX_PAGES, or the MOB
 * memory the device suggests). The page limit is soft: past it, the limit doubles (up to half
 * of the guest's RAM, `totalram_pages() / 2`) with a DRM_WARN, and only when it can grow no more
 * is the allocation -ENOSPC, which makes TTM evict (ttm_bo_alloc_resource() ->
 * ttm_bo_evict_alloc()). Running out of ids is -ENOSPC at once (ida_alloc_max()).
 *
 * Not modeled: vmw_host_printf() (the host log), the debug callback.
 */

import { dmaResvAssertHeld } from "@primetime/dma-buf";
import { ENOMEM, ENOSPC, isErr, KmemCache, kfree, kmalloc, SpinLock } from "@primetime/kernel";
import { bug, RESOLVED } from "@primetime/sim";
import { PAGE_SIZE } from "@primetime/simgpu";
import {
  TTM_PL_PRIV,
  type TtmBufferObject,
  type TtmDevice,
  type TtmPlace,
  TtmResource,
  TtmResourceManager,
  ttmManagerType,
  ttmResourceFini,
  ttmResourceInit,
  ttmResourceManagerCleanup,
  ttmResourceManagerEvictAll,
  ttmResourceManagerInit,
  ttmResourceManagerSetUsed,
  ttmSetDriverManager,
} from "@primetime/ttm";

/** Models VMW_PL_GMR (TTM_PL_PRIV + 0). */
export const VMW_PL_GMR = TTM_PL_PRIV + 0;
/** Models VMW_PL_MOB (TTM_PL_PRIV + 1). */
export const VMW_PL_MOB = TTM_PL_PRIV + 1;
/** Models VMW_PL_SYSTEM (TTM_PL_PRIV + 2): the MOB page tables' waitable system type (not modeled). */
export const VMW_PL_SYSTEM = TTM_PL_PRIV + 2;

/** The slab cache of the managers' resources (kmalloc(sizeof(**res)) in get_node). */
export const vmwGmridResourceCache = new KmemCache("vmw_gmrid_resource");

/** The limits vmw_gmrid_man_init() reads from struct vmw_private for one type. */
export interface VmwGmridLimits {
  /** Models dev_priv->max_gmr_ids (GMR) or VMWGFX_NUM_MOB (MOB). */
  readonly maxIds: number;
  /** Models dev_priv->max_gmr_pages (GMR) or dev_priv->max_mob_pages (MOB); 0: no page limit. */
  readonly maxPages: number;
  /** Models totalram_pages(): the guest's RAM, whose half bounds the soft limit's growth. */
  readonly totalramPages: number;
}

/**
 * Models struct vmwgfx_gmrid_man.
 * Locking: `usedGmrPages` and `maxGmrPages` under `lock`; the ida (`ids`) has its own lock in
 * the kernel (ida_alloc_max() and ida_free() are atomic here: no scheduling point inside).
 * References: owned by the TTM device (man_drv[type]) until vmwGmridManFini().
 */
export class VmwgfxGmridMan extends TtmResourceManager {
  /** Models lock. */
  readonly lock: SpinLock;
  /** Models gmr_ida: the ids in use. */
  readonly ids = new Set<number>();
  /** Models max_gmr_ids. */
  readonly maxGmrIds: number;
  /** Models max_gmr_pages (grows past an overflow, see the file comment). */
  maxGmrPages: number;
  /** Models used_gmr_pages. */
  usedGmrPages = 0;
  /** Models totalram_pages(). */
  readonly totalramPages: number;
  /** The manager's DRM_WARN() lines, oldest first (printk lines, not splats). */
  readonly warnings: string[] = [];

  constructor(
    readonly type: number,
    limits: VmwGmridLimits,
  ) {
    super(vmwGmridManagerFunc, type === VMW_PL_MOB ? "vmw_mob_man" : "vmw_gmr_man");
    this.lock = new SpinLock(`${this.name}.lock`);
    this.maxGmrIds = limits.maxIds;
    this.maxGmrPages = limits.maxPages;
    this.totalramPages = limits.totalramPages;
  }
}

/** Models ida_alloc_max(&gman->gmr_ida, max, GFP_KERNEL): the lowest free id, or -ENOSPC. */
function idaAllocMax(gman: VmwgfxGmridMan, max: number): number {
  for (let id = 0; id <= max; id++) {
    if (!gman.ids.has(id)) {
      gman.ids.add(id);
      return id;
    }
  }
  return -ENOSPC;
}

/** Models PFN_UP(size). */
function pfnUp(size: number): number {
  return Math.ceil(size / PAGE_SIZE);
}

/** kmalloc()'s constructor call for a resource. */
function newGmridResource(): TtmResource {
  return new TtmResource();
}

/**
 * Models vmw_gmrid_man_get_node(): a resource (kmalloc, -ENOMEM), ttm_resource_init(), an id
 * (ida_alloc_max(): -ENOSPC when every id is taken, the resource finished and freed again);
 * then, under the manager's lock, the pages are counted: past `max_gmr_pages` the limit doubles
 * (or becomes half the guest's RAM once it is more than a quarter of it) with DRM_WARNs, and if
 * it cannot grow to cover the pages in use the pages are uncounted, the id freed, the resource
 * finished and freed: -ENOSPC. The resource's `start` is its id.
 * Locking: the BO's reservation held (asserted); takes the manager's lock.
 * References: the caller owns the resource.
 */
async function vmwGmridManGetNode(
  man: TtmResourceManager,
  bo: TtmBufferObject,
  place: TtmPlace,
): Promise<TtmResource | number> {
  dmaResvAssertHeld(bo.resv);
  const gman = man as VmwgfxGmridMan;
  const res = kmalloc(vmwGmridResourceCache, newGmridResource);
  if (isErr(res)) return -ENOMEM;
  await ttmResourceInit(bo, place, res);
  const id = idaAllocMax(gman, gman.maxGmrIds - 1);
  if (id < 0) {
    await ttmResourceFini(man, res);
    kfree(res);
    return id;
  }
  const lockTaken = gman.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  if (gman.maxGmrPages > 0) {
    gman.usedGmrPages += pfnUp(res.size);
    // Because the graphics memory is a soft limit we can try to expand it instead of letting the
    // userspace apps crash (up to half of RAM).
    if (gman.usedGmrPages > gman.maxGmrPages) {
      const maxGraphicsPages = Math.floor(gman.totalramPages / 2);
      let newMaxPages = 0;
      gman.warnings.push(
        "vmwgfx: mob memory overflow. Consider increasing guest RAM and graphicsMemory.",
      );
      if (gman.maxGmrPages > Math.floor(maxGraphicsPages / 2)) {
        gman.warnings.push("vmwgfx: guest requires more than half of RAM for graphics.");
        newMaxPages = maxGraphicsPages;
      } else newMaxPages = gman.maxGmrPages * 2;
      if (newMaxPages > gman.maxGmrPages && newMaxPages >= gman.usedGmrPages) {
        gman.warnings.push(`vmwgfx: increasing guest mob limits to ${newMaxPages * 4} KiB.`);
        gman.maxGmrPages = newMaxPages;
      } else {
        gman.warnings.push(
          `vmwgfx, error: guest graphics is out of memory (mob limit at: ${gman.maxGmrPages * 4} KiB).`,
        );
        // nospace:
        gman.usedGmrPages -= pfnUp(res.size);
        gman.lock.unlockNow();
        gman.ids.delete(id);
        await ttmResourceFini(man, res);
        kfree(res);
        return -ENOSPC;
      }
    }
  }
  res.start = id;
  gman.lock.unlockNow();
  return res;
}

/**
 * Models vmw_gmrid_man_put_node(): the id back to the ida, the pages uncounted under the lock,
 * the resource finished and freed.
 * Locking: takes the manager's lock. References: the resource is gone.
 */
async function vmwGmridManPutNode(man: TtmResourceManager, res: TtmResource): Promise<void> {
  const gman = man as VmwgfxGmridMan;
  gman.ids.delete(res.start);
  const lockTaken = gman.lock.lock();
  if (lockTaken !== RESOLVED) await lockTaken;
  gman.usedGmrPages -= pfnUp(res.size);
  gman.lock.unlockNow();
  await ttmResourceFini(man, res);
  kfree(res);
}

/** Models vmw_gmrid_manager_func. */
export const vmwGmridManagerFunc = { alloc: vmwGmridManGetNode, free: vmwGmridManPutNode };

/**
 * Models vmw_gmrid_man_init(): a `use_tt` manager of memory type `type` (VMW_PL_GMR or
 * VMW_PL_MOB; anything else is BUG()) with the limits the device gave, registered and in use.
 * Returns 0 (the kzalloc's -ENOMEM is not modeled: the manager is the device's).
 * Locking: none (device set-up). References: the device owns the manager.
 */
export function vmwGmridManInit(bdev: TtmDevice, type: number, limits: VmwGmridLimits): number {
  if (type !== VMW_PL_GMR && type !== VMW_PL_MOB) bug(`vmw_gmrid_man_init: BUG() (type ${type})`);
  const gman = new VmwgfxGmridMan(type, limits);
  gman.useTt = true;
  ttmResourceManagerInit(gman, bdev, 0);
  ttmSetDriverManager(bdev, type, gman);
  ttmResourceManagerSetUsed(gman, true);
  return 0;
}

/**
 * Models vmw_gmrid_man_fini(): out of service, every buffer evicted
 * (ttm_resource_manager_evict_all()), the manager cleaned up and unregistered.
 * Locking: none held; may sleep. References: the device drops the manager.
 */
export async function vmwGmridManFini(bdev: TtmDevice, type: number): Promise<void> {
  const man = ttmManagerType(bdev, type);
  if (!man) return;
  ttmResourceManagerSetUsed(man, false);
  await ttmResourceManagerEvictAll(bdev, man);
  await ttmResourceManagerCleanup(man);
  ttmSetDriverManager(bdev, type, null);
}
