/**
 * The validation context (drivers/gpu/drm/vmwgfx/vmwgfx_validation.c, .h), as EXECBUF uses it:
 * a per-submission struct vmw_validation_context with its buffer and resource lists, whose
 * nodes come from a per-submission arena (vmw_validation_mem_alloc(): whole pages, all freed at
 * the end of the submission), and the duplicate-lookup hashtable `res_ht` of struct
 * vmw_sw_context. That table is the device's (dev_priv->ctx, DECLARE_HASHTABLE(res_ht,
 * VMW_RES_HT_ORDER), hash_init() once at load), protected by cmdbuf_mutex, and outlives every
 * submission: each submission hashes its nodes into it and vmw_validation_drop_ht() takes them
 * out again before the arena goes.
 *
 * The arena's pages are slab objects here (`vmw_validation_page`, the kernel's alloc_page()),
 * a node lives in the page it was carved from, and every walk of a hash bucket checks the page of
 * each node it passes (`checkAccess()`): a node left in the table after its page was freed is a
 * KASAN slab-use-after-free at the next walk of its bucket.
 *
 * Faithfulness: Linux v6.12.19 vmwgfx_validation.c (vmw_validation_mem_alloc(),
 * vmw_validation_mem_free(), vmw_validation_find_bo_dup(), vmw_validation_find_res_dup(),
 * vmw_validation_add_bo(), vmw_validation_add_resource(), vmw_validation_drop_ht(),
 * vmw_validation_unref_lists()) with two later fixes, as read in v6.18.35: the -ESRCH path of
 * vmw_validation_add_resource() unhashes its node (hash_del_rcu(), dfe1323ab3c8 "drm/vmwgfx: Fix
 * Use-after-free in validation"; the toggle vmwgfx.validation-doomed-node-hashed puts 6.12.19's
 * back), and vmw_validation_drop_ht()'s resource_ctx_list loop unhashes `val`, not `entry`
 * (228c5d44dffe "drm/vmwgfx: Fix copy-paste typo in validation"; 6.12.19 unhashes the bo_list
 * cursor there, but vmw_validation_res_reserve()/_unreserve() have always spliced
 * resource_ctx_list onto resource_list before EXECBUF drops the table, so that loop walks nothing
 * and the typo has no effect: not a toggle, see the README).
 * vmw_validation_add_bo() is 6.12.19's (ttm_bo_get_unless_zero(), -ESRCH with the node still hashed; 6.18.35 takes
 * vmw_bo_reference() there, which cannot fail). Not modeled: merge_dups off and a context
 * without sw_context (the list walks), the private area's contents (EXECBUF keeps a context's:
 * vmwgfx-execbuf-cmd.ts; its size is taken from the arena), dirty tracking,
 * new_guest_memory_bo, resource reservation and validation (only their splice of
 * resource_ctx_list is), the relocation lists carved from the
 * same arena; a node's size is a fixed share of a page (VMW_VALIDATION_NODE_SIZE).
 * The hash of a key is hash_long() of a number the table gives each object it is asked about (the
 * kernel hashes the pointer).
 */

import { dmaResvAssertHeld } from "@primetime/dma-buf";
import {
  EBUSY,
  ENOMEM,
  ERESTARTSYS,
  ESRCH,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  lockdepAssertHeld,
  PAGE_SIZE,
  SlabObject,
} from "@primetime/kernel";
import { toggleEnabled } from "@primetime/sim";
import { ttmBoGetUnlessZero, ttmBoValidate } from "@primetime/ttm";
import { VMWGFX_VALIDATION_DOOMED_NODE_HASHED } from "./toggles.js";
import { type VmwBo, vmwBoUnreference } from "./vmwgfx-bo.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import {
  type VmwResource,
  vmwResourceReferenceUnlessDoomed,
  vmwResourceUnreference,
} from "./vmwgfx-resource.js";

/** Models VMW_RES_HT_ORDER (vmwgfx_drv.h): res_ht has 1 << 12 buckets. */
export const VMW_RES_HT_ORDER = 12;

/**
 * The arena bytes one node takes (vmw_validation_align(sizeof(*node))): a struct
 * vmw_validation_res_node or bo_node of a 64-bit kernel, rounded (not the kernel's exact sizes).
 */
export const VMW_VALIDATION_NODE_SIZE = 64;

/** The slab cache of the arena's pages (alloc_page(GFP_KERNEL | __GFP_ZERO) in the kernel). */
export const vmwValidationPageCache = new KmemCache("vmw_validation_page");

/**
 * A page of the validation arena (a struct page on ctx->page_list).
 * Locking: the submitter's. References: owned by its context until vmw_validation_mem_free().
 */
export class VmwValidationPage extends SlabObject {
  constructor() {
    super(vmwValidationPageCache);
  }
}

/**
 * Models struct vmwgfx_hash_item plus the node it is embedded in: the key (the object's
 * pointer) and the arena page the node was carved from.
 */
interface HashItem {
  readonly key: object;
  readonly page: VmwValidationPage;
}

/**
 * Models struct vmw_validation_bo_node (base.bo: the TTM reference, null before it is taken).
 */
export interface VmwValidationBoNode extends HashItem {
  readonly kind: "bo";
  bo: VmwBo | null;
}

/**
 * Models struct vmw_validation_res_node (res: the reference, null if the resource was doomed;
 * first_usage; the private area a context's node carries, struct vmw_ctx_validation_info, is
 * EXECBUF's and kept by it: vmwgfx-execbuf-cmd.ts).
 */
export interface VmwValidationResNode extends HashItem {
  readonly kind: "res";
  res: VmwResource | null;
  /** Models first_usage. */
  firstUsage: boolean;
}

type Node = VmwValidationBoNode | VmwValidationResNode;

/** hash_long() of a 32-bit value (GOLDEN_RATIO_32), `bits` wide. */
function hashLong(v: number, bits: number): number {
  return Math.imul(v, 0x61c88647) >>> (32 - bits);
}

/**
 * Models struct vmw_sw_context's res_ht: DECLARE_HASHTABLE(res_ht, VMW_RES_HT_ORDER), the
 * device's, hash_init()ed at load. Buckets are hlists, newest first (hash_add_rcu() adds at the
 * head).
 * Locking: cmdbuf_mutex (the callers assert it). References: none; the nodes are the arena's.
 */
export class VmwResHt {
  /** The buckets that are not empty, by index. */
  readonly buckets = new Map<number, Node[]>();
  /** The number each object the table was asked about hashes as (the kernel's pointer). */
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  /** The bucket index of `key`: hash_min(key, HASH_BITS(res_ht)). */
  bucketOf(key: object): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(key, id);
    }
    return hashLong(id, VMW_RES_HT_ORDER);
  }

  /** Models hash_add_rcu(): at the head of its bucket. */
  add(node: Node): void {
    const b = this.bucketOf(node.key);
    const list = this.buckets.get(b);
    if (list) list.unshift(node);
    else this.buckets.set(b, [node]);
  }

  /** Models hash_del_rcu() (hlist_del_init_rcu(): a node not hashed is left alone). */
  del(node: Node): void {
    const b = this.bucketOf(node.key);
    const list = this.buckets.get(b);
    if (!list) return;
    const i = list.indexOf(node);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.buckets.delete(b);
  }

  /** The number of nodes hashed. */
  get size(): number {
    let n = 0;
    for (const l of this.buckets.values()) n += l.length;
    return n;
  }

  /**
   * Models hash_for_each_possible_rcu(res_ht, hash, head, key) with `if (hash->key == key)`:
   * walks `key`'s bucket, reading each node's key (a freed node's page is a KASAN report, and the
   * walk goes on as the kernel's would), and returns the first node of that key.
   */
  find(key: object, op: string): Node | null {
    const list = this.buckets.get(this.bucketOf(key));
    if (!list) return null;
    for (const node of list) {
      node.page.checkAccess(op);
      if (node.key === key) return node;
    }
    return null;
  }
}

/** Models struct vmw_sw_context (the part the validation context uses). */
export interface VmwSwContext {
  /** Models res_ht. */
  readonly resHt: VmwResHt;
}

/** The device's sw_context (dev_priv->ctx), made with the device. */
const swContexts = new WeakMap<VmwPrivate, VmwSwContext>();

/**
 * Models &dev_priv->ctx: the device's struct vmw_sw_context, its res_ht hash_init()ed at load
 * (vmw_driver_load()); made at the device's first submission here.
 * Locking: none (DECLARE_VAL_CONTEXT() takes its address before cmdbuf_mutex; its table is used
 * under it). References: none.
 */
export function vmwSwContext(vmw: VmwPrivate): VmwSwContext {
  let sw = swContexts.get(vmw);
  if (!sw) {
    sw = { resHt: new VmwResHt() };
    swContexts.set(vmw, sw);
  }
  return sw;
}

/**
 * Models struct vmw_validation_context.
 * Locking: the submitter's; `swContext`'s table under cmdbuf_mutex. References: the lists hold
 * one reference per buffer (TTM) and per resource.
 */
export class VmwValidationContext {
  /** Models sw_context: the table of duplicates, NULL after vmw_validation_drop_ht(). */
  swContext: VmwSwContext | null;
  /** Models resource_list. */
  readonly resourceList: VmwValidationResNode[] = [];
  /** Models resource_ctx_list (contexts; cotables are not modeled). */
  readonly resourceCtxList: VmwValidationResNode[] = [];
  /** Models bo_list. */
  readonly boList: VmwValidationBoNode[] = [];
  /** Models page_list. */
  readonly pageList: VmwValidationPage[] = [];
  /** Models mem_size_left. */
  memSizeLeft = 0;
  /** Models merge_dups. */
  readonly mergeDups: boolean;

  /** Models DECLARE_VAL_CONTEXT(name, sw_context, merge_dups). */
  constructor(
    readonly vmw: VmwPrivate,
    swContext: VmwSwContext | null,
    mergeDups: boolean,
  ) {
    this.swContext = swContext;
    this.mergeDups = mergeDups;
  }
}

/**
 * Models vmw_validation_mem_alloc(): `size` bytes (aligned) from the last page, or a new page
 * (alloc_page(); failing: null) put on page_list. Returns the page the memory is in, or null
 * (more than a page, or no page).
 * Locking: the submitter's. References: the page belongs to the context.
 */
export function vmwValidationMemAlloc(
  ctx: VmwValidationContext,
  size: number,
): VmwValidationPage | null {
  if (size > PAGE_SIZE) return null;
  if (ctx.memSizeLeft < size) {
    const page = kmalloc(vmwValidationPageCache, () => new VmwValidationPage());
    if (isErr(page)) return null;
    ctx.pageList.push(page);
    ctx.memSizeLeft = PAGE_SIZE;
  }
  ctx.memSizeLeft -= size;
  return ctx.pageList[ctx.pageList.length - 1]!;
}

/**
 * Models vmw_validation_mem_free(): every page of page_list freed (__free_page()).
 * Locking: the submitter's. References: the nodes in the pages go with them.
 */
function vmwValidationMemFree(ctx: VmwValidationContext): void {
  for (const page of ctx.pageList.splice(0)) kfree(page);
  ctx.memSizeLeft = 0;
}

/**
 * Models vmw_validation_find_bo_dup(): with merge_dups and a sw_context, the node of `vbo` in
 * res_ht (keyed by the buffer's pointer); without a sw_context, a walk of bo_list.
 * Locking: cmdbuf_mutex held when the context has a sw_context (the table). References: none.
 */
export function vmwValidationFindBoDup(
  ctx: VmwValidationContext,
  vbo: VmwBo,
): VmwValidationBoNode | null {
  if (!ctx.mergeDups) return null;
  if (ctx.swContext) {
    lockdepAssertHeld(ctx.vmw.cmdbufMutex);
    const node = ctx.swContext.resHt.find(vbo, "vmw_validation_find_bo_dup");
    return node as VmwValidationBoNode | null;
  }
  return ctx.boList.find((e) => e.bo === vbo) ?? null;
}

/**
 * Models vmw_validation_find_res_dup(): with merge_dups and a sw_context, the node of `res` in
 * res_ht (hash_for_each_possible_rcu()); without one, a walk of resource_ctx_list then
 * resource_list.
 * Locking: cmdbuf_mutex held when the context has a sw_context (the table). References: none.
 */
export function vmwValidationFindResDup(
  ctx: VmwValidationContext,
  res: VmwResource,
): VmwValidationResNode | null {
  if (!ctx.mergeDups) return null;
  if (ctx.swContext) {
    lockdepAssertHeld(ctx.vmw.cmdbufMutex);
    const node = ctx.swContext.resHt.find(res, "vmw_validation_find_res_dup");
    return node as VmwValidationResNode | null;
  }
  return (
    ctx.resourceCtxList.find((e) => e.res === res) ??
    ctx.resourceList.find((e) => e.res === res) ??
    null
  );
}

/**
 * Models vmw_validation_add_bo() of v6.12.19: a buffer already on the context is not added again
 * (vmw_validation_find_bo_dup()); else a node from the arena (-ENOMEM), hashed into res_ht
 * (hash_add_rcu()) when there is a sw_context, then the TTM reference
 * (ttm_bo_get_unless_zero(): -ESRCH if the buffer's count already hit 0, the node left hashed
 * as 6.12.19 leaves it) and the node on bo_list. An import (not a TTM object here) takes its own
 * count's reference the same way.
 * Locking: cmdbuf_mutex held when the context has a sw_context. References: takes a TTM one per
 * new buffer.
 */
export async function vmwValidationAddBo(ctx: VmwValidationContext, vbo: VmwBo): Promise<number> {
  let node = vmwValidationFindBoDup(ctx, vbo);
  if (node) return 0;
  const page = vmwValidationMemAlloc(ctx, VMW_VALIDATION_NODE_SIZE);
  if (!page) return -ENOMEM;
  node = { kind: "bo", key: vbo, page, bo: null };
  if (ctx.swContext) ctx.swContext.resHt.add(node);
  const got = vbo.imported
    ? (await vbo.kref.getUnlessZero())
      ? vbo
      : null
    : await ttmBoGetUnlessZero(vbo);
  if (!got) return -ESRCH;
  node.bo = vbo;
  ctx.boList.push(node);
  return 0;
}

/**
 * How vmw_validation_add_resource() takes the node's reference: by default
 * vmw_resource_reference_unless_doomed() (null: doomed).
 */
export type VmwResourceRef = (res: VmwResource) => Promise<VmwResource | null>;

/**
 * Models vmw_validation_add_resource(): a resource already on the context is found
 * (vmw_validation_find_res_dup(); first_usage cleared) and not added again; else a node from the
 * arena (-ENOMEM; a context's node carries EXECBUF's private area, `privSize`), hashed into res_ht
 * (hash_add_rcu()) when there is a sw_context, then vmw_resource_reference_unless_doomed(): a
 * doomed resource (its kref at 0) gets -ESRCH, and its node is unhashed first (hash_del_rcu(),
 * since dfe1323ab3c8 "drm/vmwgfx: Fix Use-after-free in validation"; with
 * `vmwgfx.validation-doomed-node-hashed` on, 6.12.19's code: the node stays in the device's
 * table, on no list, and the arena is freed under it); else first_usage set and the node on
 * resource_ctx_list (a context: list_add(), at the head) or resource_list (list_add_tail()).
 * `ref` takes the reference (default vmwResourceReferenceUnlessDoomed()); EXECBUF's surface
 * lookup passes its own (see vmwgfx-execbuf.ts). `out.firstUsage` gets the node's first_usage.
 * Locking: cmdbuf_mutex held when the context has a sw_context. References: takes one on the
 * resource for the list.
 */
export async function vmwValidationAddResource(
  ctx: VmwValidationContext,
  res: VmwResource,
  ref: VmwResourceRef = vmwResourceReferenceUnlessDoomed,
  out: { firstUsage: boolean; node: VmwValidationResNode | null } | null = null,
  privSize = 0,
): Promise<number> {
  let node = vmwValidationFindResDup(ctx, res);
  if (node) {
    node.firstUsage = false;
  } else {
    const page = vmwValidationMemAlloc(ctx, VMW_VALIDATION_NODE_SIZE + privSize);
    if (!page) return -ENOMEM;
    node = { kind: "res", key: res, page, res: null, firstUsage: false };
    if (ctx.swContext) ctx.swContext.resHt.add(node);
    node.res = await ref(res);
    if (!node.res) {
      if (!toggleEnabled(VMWGFX_VALIDATION_DOOMED_NODE_HASHED.name)) ctx.swContext?.resHt.del(node);
      return -ESRCH;
    }
    node.firstUsage = true;
    if (!ctx.vmw.hasMob) ctx.resourceList.push(node);
    else if (res.resType === "context") ctx.resourceCtxList.unshift(node);
    else ctx.resourceList.push(node);
  }
  if (out) {
    out.firstUsage = node.firstUsage;
    out.node = node;
  }
  return 0;
}

/**
 * Models vmw_validation_res_reserve()'s first step: resource_ctx_list spliced onto the head of
 * resource_list (list_splice_init()), so that the contexts are reserved first. The reservation
 * itself (vmw_resource_reserve(), the guest-memory buffers) is not modeled. EXECBUF calls it
 * through vmw_resources_reserve() after the commands are checked, before the buffers are reserved
 * and before vmw_validation_drop_ht(): in 6.12.19 resource_ctx_list is therefore always empty when
 * vmw_validation_drop_ht() walks it, which is why that loop's copy-paste typo (228c5d44dffe) was
 * never reached.
 * Locking: cmdbuf_mutex held when the context has a sw_context. References: none.
 */
export function vmwValidationResReserve(ctx: VmwValidationContext): void {
  if (ctx.swContext) lockdepAssertHeld(ctx.vmw.cmdbufMutex);
  ctx.resourceList.unshift(...ctx.resourceCtxList.splice(0));
}

/**
 * Models vmw_validation_res_unreserve()'s first step, as EXECBUF's out_err_nores runs it: the
 * same list_splice_init() of resource_ctx_list onto the head of resource_list (a no-op after
 * vmw_validation_res_reserve()); the unreservation of reserved resources is not modeled.
 * Locking: cmdbuf_mutex held when the context has a sw_context. References: none.
 */
export function vmwValidationResUnreserve(ctx: VmwValidationContext): void {
  if (ctx.swContext) lockdepAssertHeld(ctx.vmw.cmdbufMutex);
  ctx.resourceList.unshift(...ctx.resourceCtxList.splice(0));
}

/**
 * Models vmw_validation_drop_ht(): every node on bo_list, resource_list and resource_ctx_list
 * unhashed (hash_del_rcu()), and the context's sw_context cleared; nothing without one.
 * Locking: cmdbuf_mutex held when the context has a sw_context. References: none.
 */
export function vmwValidationDropHt(ctx: VmwValidationContext): void {
  const sw = ctx.swContext;
  if (!sw) return;
  lockdepAssertHeld(ctx.vmw.cmdbufMutex);
  for (const entry of ctx.boList) sw.resHt.del(entry);
  for (const val of ctx.resourceList) sw.resHt.del(val);
  for (const val of ctx.resourceCtxList) sw.resHt.del(val);
  ctx.swContext = null;
}

/**
 * Models vmw_validation_unref_lists(): ttm_bo_put() of each buffer on bo_list
 * (vmwBoUnreference(): the TTM reference), then resource_ctx_list spliced onto resource_list and
 * vmw_resource_unreference() of each, the lists emptied and the arena freed
 * (vmw_validation_mem_free()).
 * Locking: none (called after cmdbuf_mutex is dropped: the puts may destroy). References: drops
 * the lists'.
 */
export async function vmwValidationUnrefLists(ctx: VmwValidationContext): Promise<void> {
  for (const entry of ctx.boList) {
    const bo = entry.bo!;
    entry.bo = null;
    await vmwBoUnreference(bo);
  }
  ctx.resourceList.unshift(...ctx.resourceCtxList.splice(0));
  for (const val of ctx.resourceList) await vmwResourceUnreference(val.res!);
  ctx.boList.length = 0;
  ctx.resourceList.length = 0;
  vmwValidationMemFree(ctx);
}

/**
 * Models vmw_validation_bo_validate_single(): a buffer with SYNCCPU CPU writers is -EBUSY, a
 * pinned one stays where it is (0); otherwise ttm_bo_validate() into the buffer's placement
 * (vmw_bo_placement_set() of the command that named it: a MOB for a MOB id or a guest-backed
 * surface's guest memory), and if that fails with anything but -ERESTARTSYS, once more with
 * `allow_res_evict` set. vmwgfx sets no `ctx.resv`, and TTM's LRU walk takes a BO as reserved
 * only when its reservation is `ctx->resv` (ttm_lru_walk_trylock(), v6.12.19 and v6.18), so the
 * flag changes nothing in the kernel: the second try is the first again (it may find room the
 * first did not, as buffers of other tasks come and go between). ttm_bo_validate()'s -ENOMEM
 * (no room in any place, -ENOSPC turned
 * for userspace), -EBUSY, or the move's error.
 * Locking: the buffer's reservation held (asserted).
 * References: the validation list's.
 */
export async function vmwValidationBoValidateSingle(
  bo: VmwBo,
  interruptible: boolean,
): Promise<number> {
  dmaResvAssertHeld(bo.resv);
  if (bo.cpuWriters !== 0) return -EBUSY;
  if (bo.pinCount > 0) return 0;
  const ret = await ttmBoValidate(bo, bo.placement, {
    interruptible,
    noWaitGpu: false,
    bytesMoved: 0,
  });
  if (ret === 0 || ret === -ERESTARTSYS) return ret;
  // If that failed, try again, this time evicting previous contents (ctx.allow_res_evict).
  return ttmBoValidate(bo, bo.placement, {
    interruptible,
    noWaitGpu: false,
    bytesMoved: 0,
    allowResEvict: true,
  });
}
