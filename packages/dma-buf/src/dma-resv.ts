/**
 * struct dma_resv (drivers/dma-buf/dma-resv.c, include/linux/dma-resv.h): the reservation object
 * a buffer (a dma-buf, a GEM or TTM object) carries: a lock and the set of fences of the
 * operations that use the buffer, each tagged with how it uses it.
 *
 * Updaters hold the lock (a ww_mutex of reservation_ww_class). Before adding fences they reserve
 * slots with dma_resv_reserve_fences() (which may allocate, so it can fail) so that
 * dma_resv_add_fence(), typically called at the point of no return of a submission, never
 * fails; adding without a reserved slot is a BUG_ON. With CONFIG_DEBUG_MUTEXES (modelled here)
 * dma_resv_unlock() forgets the reserved slots, so a reservation made under an earlier lock
 * hold does not count. Readers need no lock: they walk the fence list under RCU and take each
 * fence with dma_fence_get_rcu(), restarting when the list was replaced under them.
 *
 * A new fence from the same context as an older one of at least the same usage replaces it (the
 * context's fences signal in order), as does any fence in place of a signalled one; the list
 * drops the replaced fence's reference.
 *
 * The lock is a WwMutex of the wait-die class reservation_ww_class (lockdep class
 * reservation_ww_class_mutex). dma_resv_lock(obj, ctx) with an acquire context may return
 * -EDEADLK (back off: unlock everything, dma_resv_lock_slow() the contended object) or -EALREADY;
 * with a NULL context it is a plain mutex_lock(), and taking a second reservation that way while
 * holding one (or an acquire context) is lockdep's "possible recursive locking". No fence containers
 * (arrays, chains), no dma_resv_get_singleton()/copy_fences(), no kmalloc bucket rounding of
 * the slot count.
 */

import { RESOLVED } from "@primetime/atomics";
import {
  defineWdClass,
  EINVAL,
  ENOMEM,
  type Errno,
  errPtr,
  isErr,
  KmemCache,
  kfreeRcu,
  kmalloc,
  lockdepAssertHeld,
  lockIsHeld,
  SlabObject,
  type WwAcquireCtx,
  type WwClass,
  WwMutex,
  wwMutexLock,
  wwMutexLockInterruptible,
  wwMutexLockSlow,
  wwMutexLockSlowInterruptible,
  wwMutexTrylock,
  wwMutexUnlock,
} from "@primetime/kernel";
import {
  type LockdepCondition,
  RcuPointer,
  rcuAssignPointer,
  rcuDereferenceAfterPoint,
  rcuDereferencePoint,
  rcuDereferenceProtected,
  rcuDereferenceProtectedSettled,
  rcuReadLock,
  rcuReadUnlock,
  rcuReplacePointer,
} from "@primetime/rcu";
import { bug, fmtLabel, type Owner, pointNow, warnOn } from "@primetime/sim";
import {
  type DmaFence,
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFenceGetRcu,
  dmaFenceGetSettled,
  dmaFenceIsLaterOrSame,
  dmaFenceIsSignaled,
  dmaFencePut,
  dmaFenceWaitTimeout,
  settledSignaled,
} from "./dma-fence.js";
import { dmaFenceArrayCreate } from "./dma-fence-array.js";
import { dmaFenceIsContainer } from "./dma-fence-unwrap.js";

/** `[i])`, the tail of a fence-slot label, built once per slot index. */
const slotSuffixes: string[] = [];
function slotSuffix(i: number): string {
  slotSuffixes[i] ??= `[${i}])`;
  return slotSuffixes[i];
}

/** `.table[i])`, the tail of an iterator's slot label, built once per slot index. */
const tableSuffixes: string[] = [];
function tableSuffix(i: number): string {
  tableSuffixes[i] ??= `.table[${i}])`;
  return tableSuffixes[i];
}

/**
 * Models enum dma_resv_usage. Ordered: a query for a usage sees the fences of that usage and
 * of every lower one.
 */
export const DmaResvUsage = {
  /** Kernel memory management (moves, clears): everyone waits for it. */
  KERNEL: 0,
  /** Implicit-sync writers. */
  WRITE: 1,
  /** Implicit-sync readers. */
  READ: 2,
  /** Bookkeeping only: no implicit sync (explicitly synced submissions, preemption fences). */
  BOOKKEEP: 3,
} as const;
export type DmaResvUsage = (typeof DmaResvUsage)[keyof typeof DmaResvUsage];

const USAGE_NAMES = ["kernel", "write", "read", "bookkeep"] as const;

/**
 * Models dma_resv_usage_rw(write): the usage to wait for before accessing the buffer: a writer
 * waits for readers too (READ), a reader only for writers (WRITE).
 * Locking: none.
 * References: none.
 */
export function dmaResvUsageRw(write: boolean): DmaResvUsage {
  return write ? DmaResvUsage.READ : DmaResvUsage.WRITE;
}

/**
 * Models reservation_ww_class (DEFINE_WD_CLASS in dma-resv.c): every reservation lock is a
 * wait-die ww_mutex of this class (lockdep classes reservation_ww_class_mutex and
 * reservation_ww_class_acquire).
 */
export const reservationWwClass: WwClass = defineWdClass("reservation_ww_class");

/** The slab cache of fence lists (kmalloc() in dma_resv_list_alloc()). */
export const dmaResvListCache = new KmemCache("dma_resv_list");

/** One slot of a fence list: the fence (the list holds a reference) and its usage. */
export interface DmaResvEntry {
  fence: DmaFence;
  usage: DmaResvUsage;
}

/**
 * Models struct dma_resv_list: `numFences` used slots out of `maxFences`. Replaced as a whole
 * (RCU) when it grows, freed with kfree_rcu().
 *
 * Locking: written under the reservation lock; read under RCU (entries may change under a
 * reader, who then re-checks).
 * References: one per fence in the first `numFences` slots.
 */
export class DmaResvList extends SlabObject {
  numFences = 0;
  readonly table: DmaResvEntry[] = [];

  constructor(public maxFences: number) {
    super();
  }
}

/** kmalloc()'s constructor call for a list of `max` slots (one function, not one per call). */
function newDmaResvList(max: number): DmaResvList {
  return new DmaResvList(max);
}

/**
 * Models struct dma_resv.
 *
 * Locking: `lock` serialises updaters; `fences` is RCU-protected.
 * References: the list holds one reference per fence.
 */
export class DmaResv {
  /** Models obj->lock (a ww_mutex of reservation_ww_class; see the file comment). */
  readonly lock: WwMutex;
  /** Models obj->fences. */
  readonly fences: RcuPointer<DmaResvList>;
  /**
   * @internal The lockdep condition of update-side dereferences of `fences` (dma_resv_held()),
   * made once per reservation: a bound method, not a closure per dereference.
   */
  readonly heldCond: LockdepCondition;

  /**
   * Models dma_resv_init().
   * @param owner the object the reservation is embedded in (its lock checks the owner's
   *   liveness, so locking a freed buffer's reservation is a KASAN report)
   */
  constructor(readonly owner?: Owner) {
    const who = owner?.name ?? "dma_resv";
    this.lock = new WwMutex(`${who}.resv`, reservationWwClass, { owner });
    this.fences = new RcuPointer<DmaResvList>(`${who}->resv.fences`);
    this.heldCond = this.isHeldCond.bind(this);
  }

  /** heldCond's method: held, or the reservation's name for the splat. */
  private isHeldCond(): boolean | string {
    return dmaResvHeld(this) || this.name;
  }

  /** A name for labels and splats. */
  get name(): string {
    return this.lock.name;
  }
}

/**
 * Models dma_resv_held(): lockdep says the current task holds the reservation lock.
 * Locking: none (reads the current task's lockdep state).
 * References: none.
 */
export function dmaResvHeld(obj: DmaResv): boolean {
  return lockIsHeld(obj.lock);
}

/**
 * Models dma_resv_assert_held(): a lockdep `warn` splat unless the lock is held.
 * Locking: the lock should be held; that is what it checks.
 * References: none.
 */
export function dmaResvAssertHeld(obj: DmaResv): void {
  lockdepAssertHeld(obj.lock);
}

/**
 * Models dma_resv_is_locked(): someone holds the reservation lock.
 * Locking: none (a snapshot).
 * References: none.
 */
export function dmaResvIsLocked(obj: DmaResv): boolean {
  return obj.lock.locked;
}

const heldCond = (obj: DmaResv): LockdepCondition => obj.heldCond;

/**
 * Models dma_resv_lock(obj, ctx): takes the reservation lock, under the acquire context `ctx` if
 * given. Returns 0, or with a context -EDEADLK (back off: unlock every reservation the context
 * holds, then dmaResvLockSlow() this one) or -EALREADY (the context already holds it). Without
 * a context (dma_resv_lock(obj, NULL), the default) always 0.
 * Locking: may sleep; with `ctx`, the context must be initialised (ww_acquire_init()).
 * References: none.
 */
export function dmaResvLock(obj: DmaResv, ctx: WwAcquireCtx | null = null): Promise<number> {
  return wwMutexLock(obj.lock, ctx);
}

/**
 * Models dma_resv_lock_interruptible(obj, ctx) (ww_mutex_lock_interruptible()): as
 * dmaResvLock(), sleeping TASK_INTERRUPTIBLE: -EINTR when a fatal signal is pending while the
 * lock is contended.
 * Locking: may sleep.
 * References: none.
 */
export function dmaResvLockInterruptible(
  obj: DmaResv,
  ctx: WwAcquireCtx | null = null,
): Promise<number> {
  return wwMutexLockInterruptible(obj.lock, ctx);
}

/**
 * Models dma_resv_lock_slow(obj, ctx): after -EDEADLK, with every other reservation of `ctx`
 * unlocked, waits for the contended one (a context holding nothing never dies).
 * Locking: may sleep; `ctx` holds no reservation.
 * References: none.
 */
export function dmaResvLockSlow(obj: DmaResv, ctx: WwAcquireCtx): Promise<void> {
  return wwMutexLockSlow(obj.lock, ctx);
}

/**
 * Models dma_resv_lock_slow_interruptible(obj, ctx): as dmaResvLockSlow(); 0, or -EINTR for a
 * signal (ww_mutex_lock_slow_interruptible()).
 * Locking: may sleep; `ctx` holds no reservation.
 * References: none.
 */
export function dmaResvLockSlowInterruptible(obj: DmaResv, ctx: WwAcquireCtx): Promise<number> {
  return wwMutexLockSlowInterruptible(obj.lock, ctx);
}

/**
 * Models dma_resv_locking_ctx(): the acquire context holding the lock, if any.
 * Locking: none (a snapshot).
 * References: none.
 */
export function dmaResvLockingCtx(obj: DmaResv): WwAcquireCtx | null {
  return obj.lock.ctx;
}

/**
 * Models dma_resv_trylock(): takes the lock if it is free. Never sleeps.
 * Locking: on success the caller holds the lock.
 * References: none.
 */
export function dmaResvTrylock(obj: DmaResv): boolean {
  return wwMutexTrylock(obj.lock, null);
}

/**
 * Models dma_resv_unlock(): under CONFIG_DEBUG_MUTEXES first forgets the slots reserved but not
 * used (dma_resv_reset_max_fences()), then unlocks.
 * Locking: the caller holds the lock.
 * References: none.
 */
export function dmaResvUnlock(obj: DmaResv): Promise<void> {
  // Neither step is a scheduling point (Lipton's reduction: a load under the lock that protects
  // it and a release): both settle at once, no async frame.
  dmaResvResetMaxFences(obj);
  return wwMutexUnlock(obj.lock);
}

/**
 * Models dma_resv_reset_max_fences(): the list's capacity shrinks to what is used, so a later
 * dma_resv_add_fence() without a fresh reservation hits the BUG_ON.
 * Locking: the reservation lock must be held.
 * References: none.
 */
export function dmaResvResetMaxFences(obj: DmaResv): Promise<void> {
  const fences = rcuDereferenceProtectedSettled(obj.fences, heldCond(obj));
  dmaResvAssertHeld(obj);
  if (fences) fences.maxFences = fences.numFences;
  return RESOLVED;
}

/**
 * Models dma_resv_list_alloc(): a list with room for `max` fences, or -ENOMEM.
 * Locking: none; not a scheduling point.
 * References: the caller owns the list.
 */
function dmaResvListAlloc(max: number): DmaResvList | Errno {
  const list = kmalloc(dmaResvListCache, newDmaResvList, max);
  return isErr(list) ? errPtr(ENOMEM) : list;
}

/**
 * Models dma_resv_list_free(): drops every fence's reference, kfree_rcu()s the list.
 * Locking: the list is private to the caller.
 * References: drops the list's fence references.
 */
function dmaResvListFree(list: DmaResvList | null): Promise<void> {
  // No list (a reservation that never had a fence): RESOLVED, no async frame.
  return list ? dmaResvListFreeEntries(list) : RESOLVED;
}

/** dmaResvListFree() of a list: the puts (no await when settled), then kfree_rcu(). */
async function dmaResvListFreeEntries(list: DmaResvList): Promise<void> {
  for (let i = 0; i < list.numFences; i++) {
    const put = dmaFencePut(list.table[i]!.fence);
    if (put !== RESOLVED) await put;
  }
  const freed = kfreeRcu(list);
  if (freed !== RESOLVED) await freed;
}

function roundupPowOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Models dma_resv_reserve_fences(obj, num): makes room for `num` more fences. Asking for none is
 * a WARN and -EINVAL (a miscount in the caller; "dma-buf: add a warning when drv try to reserve 0
 * fence slots", 2024). When the list is full it allocates a bigger one (at least twice as big),
 * copies the unsignalled fences over, publishes it, drops the references of the signalled ones
 * and frees the old list after a grace period. Returns 0, -EINVAL or -ENOMEM.
 * Locking: the reservation lock must be held; the reservation is lost at dmaResvUnlock().
 * References: the list's references move to the new list; signalled fences lose theirs.
 */
export async function dmaResvReserveFences(obj: DmaResv, num: number): Promise<number> {
  dmaResvAssertHeld(obj);
  // Driver and component code should never call this with num_fences = 0: it usually points
  // to a bug in how the number of needed fences is computed.
  if (!num) {
    warnOn(true, `dma_resv_reserve_fences(${obj.name}): WARN_ON(!num_fences)`);
    return -EINVAL;
  }
  // Not a point (rcuDereferenceProtected()): the value itself, no promise. Below, each await is
  // skipped when its promise came back settled (the schedule is the same; see pointNow()).
  const old = rcuDereferenceProtectedSettled(obj.fences, heldCond(obj));
  let max: number;
  if (old?.maxFences) {
    if (old.numFences + num <= old.maxFences) return 0;
    max = Math.max(old.numFences + num, old.maxFences * 2);
  } else {
    max = Math.max(4, roundupPowOfTwo(num));
  }
  const fresh = dmaResvListAlloc(max);
  if (isErr(fresh)) return fresh;
  // No need to bump fence refcounts: RCU readers use kref_get_unless_zero, and the references
  // of the old list are carried over to the new one.
  // The signalled fences whose references are dropped below (an array only if there are any).
  let signalled: DmaFence[] | null = null;
  for (let i = 0; i < (old ? old.numFences : 0); i++) {
    const e = old!.table[i]!;
    const sig = dmaFenceIsSignaled(e.fence);
    if (settledSignaled(sig) ?? (await sig)) {
      if (signalled === null) signalled = [e.fence];
      else signalled.push(e.fence);
    } else fresh.table[fresh.numFences++] = { fence: e.fence, usage: e.usage };
  }
  // The effective set of unsignalled fences is unchanged: readers of either list see the same.
  const assigned = rcuAssignPointer(obj.fences, fresh);
  if (assigned !== RESOLVED) await assigned;
  if (!old) return 0;
  if (signalled !== null)
    for (const f of signalled) {
      const put = dmaFencePut(f);
      if (put !== RESOLVED) await put;
    }
  const freed = kfreeRcu(old);
  if (freed !== RESOLVED) await freed;
  return 0;
}

/**
 * Models dma_resv_add_fence(obj, fence, usage): adds `fence` with `usage`, taking a reference.
 * It replaces, in place, an older fence of the same context (or the same fence: adding a fence
 * twice is valid and needs no second slot, since 95ba893c9f4f) whose usage is at least as
 * restrictive, or any signalled fence; otherwise it fills a reserved slot. Without one it is a
 * BUG (the task dies: the kernel's BUG_ON, or its NULL dereference when nothing was ever
 * reserved). A container (array or chain) WARNs and is added all the same.
 * Locking: the reservation lock must be held, and dmaResvReserveFences() called under it.
 * References: takes one on `fence`; drops the list's reference on a replaced fence.
 */
export async function dmaResvAddFence(
  obj: DmaResv,
  fence: DmaFence,
  usage: DmaResvUsage,
): Promise<void> {
  // Each await below is skipped when its promise came back settled (the task went on at its
  // point): the schedule is the same (see pointNow()).
  const got = dmaFenceGetSettled(fence);
  if (got !== RESOLVED) await got;
  dmaResvAssertHeld(obj);
  // Drivers should not add containers here, instead add each fence individually.
  if (dmaFenceIsContainer(fence))
    warnOn(true, `dma_resv_add_fence(${obj.name}): WARN_ON(dma_fence_is_container(${fence.name}))`);
  const list = rcuDereferenceProtectedSettled(obj.fences, heldCond(obj));
  if (list === null)
    bug(
      `BUG: kernel NULL pointer dereference in dma_resv_add_fence(${obj.name}): no dma_resv_reserve_fences()`,
    );
  const fobj: DmaResvList = list;
  const count = fobj.numFences;
  for (let i = 0; i < count; i++) {
    const old = fobj.table[i]!;
    let replace =
      old.fence.context === fence.context &&
      old.usage >= usage &&
      dmaFenceIsLaterOrSame(fence, old.fence);
    if (!replace) {
      const sig = dmaFenceIsSignaled(old.fence);
      replace = settledSignaled(sig) ?? (await sig);
    }
    if (replace) {
      const at = pointNow(fmtLabel("dma_resv_list_set(", obj.name, slotSuffix(i)));
      if (at !== null) await at;
      fobj.table[i] = { fence, usage };
      const put = dmaFencePut(old.fence);
      if (put !== RESOLVED) await put;
      return;
    }
  }
  if (fobj.numFences >= fobj.maxFences)
    bug(
      `kernel BUG at drivers/dma-buf/dma-resv.c: dma_resv_add_fence(${obj.name}): BUG_ON(fobj->num_fences >= fobj->max_fences)`,
    );
  const at = pointNow(fmtLabel("dma_resv_list_set(", obj.name, slotSuffix(count)));
  if (at !== null) await at;
  fobj.table[count] = { fence, usage };
  // The slot must be visible before the count covers it.
  const mb = pointNow(fmtLabel("smp_store_mb(", obj.name, ".num_fences)"));
  if (mb !== null) await mb;
  fobj.numFences = count + 1;
}

/**
 * Models dma_resv_replace_fences(obj, context, replacement, usage): every fence of `context`
 * becomes `replacement` (for fences whose operation no longer touches the buffer once
 * `replacement` signals, e.g. a preemption fence replaced by a page-table update).
 * Locking: the reservation lock must be held.
 * References: one on `replacement` per replaced slot; the replaced fences lose theirs.
 */
export async function dmaResvReplaceFences(
  obj: DmaResv,
  context: number,
  replacement: DmaFence,
  usage: DmaResvUsage,
): Promise<void> {
  dmaResvAssertHeld(obj);
  const list = await rcuDereferenceProtected(obj.fences, heldCond(obj));
  for (let i = 0; list && i < list.numFences; i++) {
    const old = list.table[i]!;
    if (old.fence.context !== context) continue;
    list.table[i] = { fence: await dmaFenceGet(replacement), usage };
    const dmaFencePutDone = dmaFencePut(old.fence);
    if (dmaFencePutDone !== RESOLVED) await dmaFencePutDone;
  }
}

/**
 * Models the locked iteration dma_resv_for_each_fence(cursor, obj, usage, fence): every fence of
 * the list whose usage is at most `usage`, signalled or not, with its usage.
 * Locking: the reservation lock must be held for the whole walk (asserted at each step).
 * References: none taken: the fences are the list's; take one to keep a fence past the lock.
 */
export async function* dmaResvForEachFence(
  obj: DmaResv,
  usage: DmaResvUsage,
): AsyncGenerator<DmaResvEntry> {
  dmaResvAssertHeld(obj);
  const fences = await rcuDereferenceProtected(obj.fences, heldCond(obj));
  for (let i = 0; fences && i < fences.numFences; i++) {
    dmaResvAssertHeld(obj);
    const e = fences.table[i]!;
    if (e.usage > usage) continue;
    yield { fence: e.fence, usage: e.usage };
  }
}

/**
 * Models struct dma_resv_iter for the unlocked walk (dma_resv_iter_begin() /
 * dma_resv_for_each_fence_unlocked() / dma_resv_iter_end()): each fence it returns is
 * unsignalled, of usage at most `usage`, and held by a reference the cursor drops when it moves
 * on or ends. The walk restarts from the beginning when the fence list was replaced or a fence
 * died under it; `isRestarted` tells consumers that accumulate results.
 *
 * Locking: none needed (each step runs in an RCU read-side section); the body runs outside it
 * and may sleep.
 * References: the cursor holds one on `fence` between steps.
 */
export class DmaResvIter {
  /** The current fence (referenced), or null. */
  fence: DmaFence | null = null;
  /** The usage of the current fence. */
  fenceUsage: DmaResvUsage = DmaResvUsage.KERNEL;
  /** The list being walked. */
  fences: DmaResvList | null = null;
  /** Slots in the list when the walk (re)started. */
  numFences = 0;
  /** Set when this step restarted the walk. */
  isRestarted = false;
  private index = 0;

  /** Models dma_resv_iter_begin(). */
  constructor(
    readonly obj: DmaResv,
    readonly usage: DmaResvUsage,
  ) {}

  /**
   * Models dma_resv_iter_restart_unlocked(). Null when it completed at once (the task went on at
   * its dereference point), else the promise to await: the walk below goes on synchronously
   * wherever the task keeps the CPU (each skipped await is one whose promise was already
   * settled, so the schedule is the same; see pointNow()).
   */
  private restart(): Promise<void> | null {
    this.index = 0;
    this.numFences = 0;
    const at = rcuDereferencePoint(this.obj.fences);
    if (at !== null) return at.then(() => this.restarted());
    this.restarted();
    return null;
  }

  /** restart() after its point. */
  private restarted(): void {
    this.fences = rcuDereferenceAfterPoint(this.obj.fences, heldCond(this.obj));
    if (this.fences) this.numFences = this.fences.numFences;
    this.isRestarted = true;
  }

  /**
   * Models dma_resv_iter_walk_unlocked(): the next unsignalled fence of a matching usage. Null
   * when there is no list to walk (no async frame for a reservation without fences), else the
   * walk's promise.
   */
  private walk(): Promise<void> | null {
    return this.fences ? this.walkList() : null;
  }

  /** walk() when there is a list: the loop of dma_resv_iter_walk_unlocked(). */
  private async walkList(): Promise<void> {
    if (!this.fences) return;
    for (;;) {
      // Drop the reference from the previous round.
      const put = dmaFencePut(this.fence);
      if (put !== RESOLVED) await put;
      this.fence = null;
      if (this.index >= this.numFences) break;
      const at = pointNow(fmtLabel("rcu_dereference(", this.obj.name, tableSuffix(this.index)));
      if (at !== null) await at;
      const e = this.fences.table[this.index++]!;
      this.fenceUsage = e.usage;
      this.fence = await dmaFenceGetRcu(e.fence);
      if (!this.fence) {
        const r = this.restart();
        if (r !== null) await r;
        continue;
      }
      const p = dmaFenceIsSignaled(this.fence);
      if (!(settledSignaled(p) ?? (await p)) && this.usage >= this.fenceUsage) break;
    }
  }

  /**
   * Models dma_resv_iter_first_unlocked(): restarts the walk until it saw one stable list.
   * Locking: takes rcu_read_lock() around the walk; no reservation lock.
   * References: the cursor holds one on the returned fence until the next step or end().
   */
  async first(): Promise<DmaFence | null> {
    const lock = rcuReadLock();
    if (lock !== RESOLVED) await lock;
    for (;;) {
      const r = this.restart();
      if (r !== null) await r;
      const walked = this.walk();
      if (walked !== null) await walked;
      // while (rcu_dereference(obj->fences) != cursor->fences)
      const at = rcuDereferencePoint(this.obj.fences);
      if (at !== null) await at;
      if (rcuDereferenceAfterPoint(this.obj.fences) === this.fences) break;
    }
    const unlock = rcuReadUnlock();
    if (unlock !== RESOLVED) await unlock;
    return this.fence;
  }

  /**
   * Models dma_resv_iter_next_unlocked(): the next fence, restarting if the list changed.
   * Locking: takes rcu_read_lock() around the walk; no reservation lock.
   * References: drops the previous fence's; holds one on the returned fence.
   */
  async next(): Promise<DmaFence | null> {
    const lock = rcuReadLock();
    if (lock !== RESOLVED) await lock;
    this.isRestarted = false;
    let at = rcuDereferencePoint(this.obj.fences);
    if (at !== null) await at;
    let restart = rcuDereferenceAfterPoint(this.obj.fences) !== this.fences;
    for (;;) {
      if (restart) {
        const r = this.restart();
        if (r !== null) await r;
      }
      const walked = this.walk();
      if (walked !== null) await walked;
      restart = true;
      at = rcuDereferencePoint(this.obj.fences);
      if (at !== null) await at;
      if (rcuDereferenceAfterPoint(this.obj.fences) === this.fences) break;
    }
    const unlock = rcuReadUnlock();
    if (unlock !== RESOLVED) await unlock;
    return this.fence;
  }

  /**
   * Models dma_resv_iter_end(): drops the reference on the current fence.
   * Locking: none.
   * References: drops the cursor's.
   */
  end(): Promise<void> {
    // No async frame: RESOLVED when the put kept the task and was not the last (callers skip
    // their await), else the cursor is cleared once the put is done, as before.
    try {
      const put = dmaFencePut(this.fence);
      if (put !== RESOLVED) return put.then(() => this.ended());
      this.fence = null;
      return RESOLVED;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** end() after its put. */
  private ended(): void {
    this.fence = null;
  }
}

/**
 * The unlocked walk as an async generator: yields each fence (the cursor holds a reference while
 * the body runs); breaking out of the loop ends the cursor (dma_resv_iter_end()).
 * Locking: none.
 * References: the yielded fence is valid until the next step; take one to keep it.
 */
export async function* dmaResvForEachFenceUnlocked(
  obj: DmaResv,
  usage: DmaResvUsage,
): AsyncGenerator<DmaFence> {
  const cursor = new DmaResvIter(obj, usage);
  try {
    for (let f = await cursor.first(); f; f = await cursor.next()) yield f;
  } finally {
    const ended = cursor.end();
    if (ended !== RESOLVED) await ended;
  }
}

/**
 * Models dma_resv_get_singleton(obj, usage, &fence): one fence standing for every unsignalled
 * fence of a usage at most `usage`: null if there is none, the fence itself if there is one,
 * else a new dma_fence_array (on a fresh context, seqno 1) owning the references to them.
 * -ENOMEM if the array cannot be allocated (the references are dropped).
 * Locking: none.
 * References: returns one on the fence (or array), owned by the caller.
 */
export async function dmaResvGetSingleton(
  obj: DmaResv,
  usage: DmaResvUsage,
): Promise<DmaFence | null | Errno> {
  const fences = await dmaResvGetFences(obj, usage);
  if (isErr(fences)) return fences;
  if (fences.length === 0) return null;
  if (fences.length === 1) return fences[0]!;
  const array = dmaFenceArrayCreate(fences, dmaFenceContextAlloc(1), 1);
  if (array === null || typeof array === "number") {
    for (let i = fences.length - 1; i >= 0; i--) await dmaFencePut(fences[i]!);
    return errPtr(ENOMEM);
  }
  return array;
}

/**
 * Models dma_resv_get_fences(obj, usage): references to every unsignalled fence of a usage at
 * most `usage`. Returns the array (the caller puts each fence) or -ENOMEM.
 * Locking: none.
 * References: one per returned fence, owned by the caller.
 */
export async function dmaResvGetFences(
  obj: DmaResv,
  usage: DmaResvUsage,
): Promise<DmaFence[] | Errno> {
  const fences: DmaFence[] = [];
  const cursor = new DmaResvIter(obj, usage);
  for (let f = await cursor.first(); f; f = await cursor.next()) {
    if (cursor.isRestarted) {
      while (fences.length) await dmaFencePut(fences.pop()!);
    }
    fences.push(await dmaFenceGet(f));
  }
  const ended = cursor.end();
  if (ended !== RESOLVED) await ended;
  return fences;
}

/**
 * Models dma_resv_copy_fences(dst, src): replaces the fences of `dst` with a copy of every
 * unsignalled fence of `src` (all usages), each with its usage. Returns 0 or -ENOMEM (nothing
 * changed).
 * Locking: the reservation lock of `dst` must be held; `src` is walked without its lock (RCU).
 * References: the new list takes one reference per fence; the old list of `dst` drops its own.
 */
export async function dmaResvCopyFences(dst: DmaResv, src: DmaResv): Promise<number> {
  dmaResvAssertHeld(dst);
  let list: DmaResvList | null = null;
  const cursor = new DmaResvIter(src, DmaResvUsage.BOOKKEEP);
  for (let f = await cursor.first(); f; f = await cursor.next()) {
    if (cursor.isRestarted || list === null) {
      const dmaResvListFreeDone = dmaResvListFree(list);
      if (dmaResvListFreeDone !== RESOLVED) await dmaResvListFreeDone;
      const fresh = dmaResvListAlloc(Math.max(1, cursor.numFences));
      if (isErr(fresh)) {
        const ended = cursor.end();
        if (ended !== RESOLVED) await ended;
        return fresh;
      }
      list = fresh;
      list.numFences = 0;
    }
    await dmaFenceGet(f);
    if (list.numFences >= list.maxFences) list.maxFences = list.numFences + 1;
    list.table[list.numFences++] = { fence: f, usage: cursor.fenceUsage };
  }
  const ended = cursor.end();
  if (ended !== RESOLVED) await ended;
  const old = await rcuReplacePointer(dst.fences, list, heldCond(dst));
  const dmaResvListFreeDone2 = dmaResvListFree(old);
  if (dmaResvListFreeDone2 !== RESOLVED) await dmaResvListFreeDone2;
  return 0;
}

/**
 * Models dma_resv_test_signaled(obj, usage): true if every fence of a usage at most `usage` has
 * signalled.
 * Locking: none needed (the lock may be held).
 * References: none kept.
 */
export async function dmaResvTestSignaled(obj: DmaResv, usage: DmaResvUsage): Promise<boolean> {
  const cursor = new DmaResvIter(obj, usage);
  const f = await cursor.first();
  const ended = cursor.end();
  if (ended !== RESOLVED) await ended;
  return f === null;
}

/**
 * Models dma_resv_wait_timeout(obj, usage, intr, timeout): waits for every fence of a usage at
 * most `usage`, sharing `timeout` (ns of virtual time; MAX_SCHEDULE_TIMEOUT for none). Returns
 * the time left (> 0; 1 with a zero timeout when all signalled), 0 on timeout, or a fence
 * wait's error (-ERESTARTSYS with `intr` and a signal), dropping the cursor's fence first. Each
 * fence gets what is left of `timeout` ("ret = dma_fence_wait_timeout(fence, intr, timeout); ...
 * if (timeout) timeout = ret;"): a zero timeout tests every fence without sleeping.
 * Locking: may sleep; the reservation lock may be held (fences must not need it to signal).
 * References: the cursor holds each fence while waiting on it.
 */
export async function dmaResvWaitTimeout(
  obj: DmaResv,
  usage: DmaResvUsage,
  intr: boolean,
  timeout: number,
): Promise<number> {
  let ret = timeout ? timeout : 1;
  const cursor = new DmaResvIter(obj, usage);
  for (let f = await cursor.first(); f; f = await cursor.next()) {
    ret = await dmaFenceWaitTimeout(f, intr, timeout);
    if (ret <= 0) {
      const ended = cursor.end();
      if (ended !== RESOLVED) await ended;
      return ret;
    }
    // Even for zero timeout the return value is 1
    if (timeout) timeout = ret;
  }
  const ended = cursor.end();
  if (ended !== RESOLVED) await ended;
  return ret;
}

/** dma_resv_fini()'s condition for its protected dereference: the object is private to it. */
const FINI_COND: LockdepCondition = () => true;

/**
 * Models dma_resv_fini(): drops the list's fence references and frees the list. The object must
 * be dead (nobody else can reach it), and its lock free (mutex_destroy()'s debug check).
 * Locking: none (the object is private to the caller).
 * References: drops the list's.
 */
export async function dmaResvFini(obj: DmaResv): Promise<void> {
  // Each await is skipped when its promise came back settled (the same schedule: pointNow()).
  const list = rcuDereferenceProtectedSettled(obj.fences, FINI_COND);
  const assigned = rcuAssignPointer(obj.fences, null);
  if (assigned !== RESOLVED) await assigned;
  const freed = dmaResvListFree(list);
  if (freed !== RESOLVED) await freed;
  if (obj.lock.locked)
    warnOn(true, `DEBUG_LOCKS_WARN_ON(mutex_is_locked(${obj.name}))`, { object: obj.owner?.name });
}

/**
 * Models dma_resv_describe(): one line per fence of usage up to READ: "\t<usage> fence:<driver>
 * <timeline> seq <n> [un]signalled".
 * Locking: the reservation lock must be held.
 * References: none kept.
 */
export async function dmaResvDescribe(obj: DmaResv): Promise<string[]> {
  const lines: string[] = [];
  for await (const { fence, usage } of dmaResvForEachFence(obj, DmaResvUsage.READ)) {
    const signalled = await dmaFenceIsSignaled(fence);
    lines.push(
      `\t${USAGE_NAMES[usage]} fence:${fence.ops.getDriverName(fence)} ${fence.ops.getTimelineName(fence)} seq ${fence.seqno} ${signalled ? "" : "un"}signalled`,
    );
  }
  return lines;
}
