/**
 * The slab allocator (mm/slub.c, include/linux/slab.h), as a tracker of kernel objects.
 *
 * JavaScript has a garbage collector, so "memory" here is object *state*: kmalloc() constructs a
 * `SlabObject` in a named cache and marks it allocated, with its allocation site; kfree() marks
 * it freed, with its free site. Nothing is reclaimed or reused, so a freed object stays readable,
 * and every access to it can be checked: kernel primitives call `checkAccess()` (KASAN
 * use-after-free with both sites), kfree() catches double and invalid frees, kmemleak lists what
 * is still allocated at the end, and full KASAN (kasan.ts) checks every property access.
 *
 * Caches are named and process-wide (like `static struct kmem_cache *`); their counts are per
 * simulation. An object is named after its cache and its sequence number in that cache in the
 * running simulation ("dma_buf#3"), so names are stable across replays.
 *
 * Simplifications: no sizes, pages, slabs, NUMA or GFP flags (allocation never sleeps and is not
 * a scheduling point); kmalloc() and kmem_cache_alloc() are the same call; memory is never
 * reused, so a use-after-free never reads another object's data (KASAN's quarantine, forever).
 */

import { RESOLVED } from "@primetime/atomics";
import { callRcu, RcuHead } from "@primetime/rcu";
import { hereAfterLast, type Owner, SimLocal, type Site, warnOn } from "@primetime/sim";
import { ENOMEM, type Errno, errPtr } from "../include/errno.js";
import { debugCheckNoLocksFreed } from "../locking/lockdep.js";
import { shouldFail } from "./failslab.js";
import { kasanFull, kasanProxy, kasanReport, kasanUnwrap } from "./kasan/kasan.js";

/** Per-cache counts in one simulation. */
interface CacheCounts {
  live: number;
  total: number;
  /** Sequence numbers handed out (allocated and static objects share them). */
  seq: number;
}

interface SlabState {
  /** By cache name, in order of first use. */
  readonly caches: Map<string, CacheCounts>;
  /** The same counts by the cache's process-wide index (KmemCache.index): no Map lookup. */
  readonly byIndex: (CacheCounts | undefined)[];
  /**
   * Allocated objects, in allocation order (what kmemleak scans): a list threaded through their
   * metadata (SlabMeta.prev/next), oldest first. Adding and removing touch no hash table (a Set
   * gave every object an identity hash and shrank its table as objects were freed).
   */
  liveHead: SlabMeta | null;
  liveTail: SlabMeta | null;
  liveCount: number;
}

const STATE = new SimLocal<SlabState>(() => ({
  caches: new Map(),
  byIndex: [],
  liveHead: null,
  liveTail: null,
  liveCount: 0,
}));

function countsOf(st: SlabState, cache: KmemCache): CacheCounts {
  let c = st.byIndex[cache.index];
  if (c === undefined) {
    c = { live: 0, total: 0, seq: 0 };
    st.caches.set(cache.name, c);
    st.byIndex[cache.index] = c;
  }
  return c;
}

const registry = new Map<string, KmemCache>();
/** The next cache's index (caches are process-wide and never go away). */
let nextCacheIndex = 0;
/** Per cache, how many object names are kept for the process. */
const MAX_INTERNED = 1 << 14;

/**
 * Models struct kmem_cache: a named cache of objects of one kind. Caches are process-wide and
 * identified by name (constructing a cache with a name already in use gives the existing one);
 * `live` and `total` are the counts of the running simulation.
 */
export class KmemCache {
  readonly name!: string;
  /** @internal Process-wide index, in order of creation (where a simulation keeps its counts). */
  readonly index!: number;
  /** The object size kmemleak prints, if given; otherwise it estimates one per object. */
  readonly size?: number;
  /** Object names by sequence number ("dma_buf#3"), built once for the process. */
  private readonly objectNames: string[] = [];
  /** @internal "static dma_buf": the allocation site label of a static object, before " after ...". */
  readonly staticOp!: string;

  constructor(name: string, opts: { size?: number } = {}) {
    const existing = registry.get(name);
    // biome-ignore lint/correctness/noConstructorReturn: caches are interned by name.
    if (existing) return existing;
    this.name = name;
    this.staticOp = `static ${name}`;
    this.index = nextCacheIndex++;
    this.size = opts.size;
    registry.set(name, this);
  }

  /** @internal "dma_buf#3": the name of the object with sequence number `seq`. */
  objectName(seq: number): string {
    if (seq >= MAX_INTERNED) return `${this.name}#${seq}`;
    let s = this.objectNames[seq];
    if (s === undefined) {
      s = `${this.name}#${seq}`;
      this.objectNames[seq] = s;
    }
    return s;
  }

  /** Objects of this cache allocated and not yet freed, in the running simulation. */
  get live(): number {
    return STATE.get().caches.get(this.name)?.live ?? 0;
  }

  /** Objects of this cache ever allocated in the running simulation. */
  get total(): number {
    return STATE.get().caches.get(this.name)?.total ?? 0;
  }
}

/**
 * Models kmem_cache_create(): the cache named `name` (created on first use).
 * Locking: none (slab_mutex in the kernel; caches are created at init time).
 */
export function kmemCacheCreate(name: string, opts?: { size?: number }): KmemCache {
  return new KmemCache(name, opts);
}

function cacheOf(c: KmemCache | string): KmemCache {
  return typeof c === "string" ? (registry.get(c) ?? new KmemCache(c)) : c;
}

/** Slab metadata of an object (what the allocator and KASAN keep outside the object). */
class SlabMeta {
  /** The full-KASAN proxy kmalloc() returned, if any. */
  proxy: SlabObject | null = null;
  /** Where kfree_rcu() queued the free, while pending and after. */
  rcuQueued: Site | null = null;
  rcuHead: SlabRcuHead | null = null;
  /** kmemleak_not_leak(). */
  notLeak = false;
  /** kmemleak already reported it. */
  leakReported = false;
  /** Neighbours in the simulation's list of live objects (SlabState.liveHead), while live. */
  prev: SlabMeta | null = null;
  next: SlabMeta | null = null;

  constructor(
    /** "static": constructed outside kmalloc(): not slab memory, never freed. */
    public state: "allocating" | "live" | "freed" | "static",
    readonly slab: SlabState,
    /** The object (the raw one, never its proxy). */
    readonly object: SlabObject,
  ) {}
}

/** Appends `m` to its simulation's live list. */
function liveAdd(m: SlabMeta): void {
  const st = m.slab;
  const tail = st.liveTail;
  m.prev = tail;
  if (tail === null) st.liveHead = m;
  else tail.next = m;
  st.liveTail = m;
  st.liveCount++;
}

/** Unlinks `m` from its simulation's live list. */
function liveRemove(m: SlabMeta): void {
  const st = m.slab;
  const { prev, next } = m;
  if (prev === null) st.liveHead = next;
  else prev.next = next;
  if (next === null) st.liveTail = prev;
  else next.prev = prev;
  m.prev = null;
  m.next = null;
  st.liveCount--;
}

/**
 * Where an object keeps its slab metadata: a property under a private symbol, set by the
 * SlabObject constructor on the raw object (a proxy is unwrapped first). A property load is
 * cheaper than a WeakMap lookup, and short-lived objects in a WeakMap cost the garbage collector
 * more (every scavenge walks the ephemeron table).
 */
const META: unique symbol = Symbol("slab metadata");
type WithMeta = { [META]?: SlabMeta };

function metaOf(raw: object): SlabMeta | undefined {
  return (raw as WithMeta)[META];
}

/** @internal The slab metadata of `obj` (or its proxy). */
export function slabMeta(obj: unknown): SlabMeta | undefined {
  if (typeof obj !== "object" || obj === null) return undefined;
  return metaOf(kasanUnwrap(obj));
}

/**
 * The allocation kmalloc() is constructing: the next SlabObject constructed claims it (sets
 * pendingObj). Two variables, not an object per allocation; kmalloc() saves and restores them
 * around a nested allocation.
 */
let pendingCache: KmemCache | null = null;
let pendingObj: SlabObject | null = null;
/** The metadata of pendingObj (kmalloc() needs no lookup of it). */
let pendingMeta: SlabMeta | null = null;

/*
 * Allocation, free and kfree_rcu() sites are labelled `kmalloc(dma_buf) after <label of the
 * task's latest point>` (`kfree(dma_buf#3) after ...`, `static dma_buf after ...`): sim's
 * hereAfterLast() records the task and step at once and builds the label only when a report
 * reads it (every object has these sites, almost none is reported).
 */

/**
 * The base class of every tracked kernel object (a struct allocated from a slab cache): it gives
 * the object its slab identity (name, cache, allocation and free sites) and the liveness check
 * that kernel primitives run before touching it. Allocate objects with
 * `kmalloc(cache, () => new MyObject(...))`.
 *
 * An object constructed outside kmalloc() is "static" memory (a global or on-stack struct): it is
 * named and checkable but not counted, never reported by kmemleak, and kfree() on it is a KASAN
 * invalid-free. Its cache is the `cache` argument, or else its class name.
 */
export class SlabObject implements Owner {
  // The fields are `declare`d and assigned in the constructor: a class field is a define, which
  // V8 runs through a slow generic path when, as here, the constructor sees the maps of every
  // subclass; a plain assignment takes the store cache.
  /** "dma_buf#3": the cache name and the object's sequence number in this simulation. */
  declare readonly name: string;
  declare readonly cache: KmemCache;
  /** Where kmalloc() allocated it (task, step, label). */
  declare allocSite: Site;
  /** Where kfree() freed it, once freed. */
  declare freeSite: Site | null;

  constructor(cache?: KmemCache | string) {
    const st = STATE.get();
    let c: KmemCache;
    let state: SlabMeta["state"];
    const claims = pendingCache !== null && pendingObj === null;
    if (claims) {
      pendingObj = this;
      c = pendingCache!;
      state = "allocating";
    } else {
      c = cacheOf(cache ?? new.target.name);
      state = "static";
    }
    // In the order the fields are declared (their order as own properties).
    (this as { name: string }).name = c.objectName(++countsOf(st, c).seq);
    (this as { cache: KmemCache }).cache = c;
    this.allocSite =
      state === "static" ? hereAfterLast(c.staticOp) : hereAfterLast("kmalloc", c.name);
    this.freeSite = null;
    const meta = new SlabMeta(state, st, this);
    (this as WithMeta)[META] = meta;
    if (claims) pendingMeta = meta;
  }

  /** True once kfree() (or a kfree_rcu() callback) has freed the object. */
  get freed(): boolean {
    return slabMeta(this)?.state === "freed";
  }

  /**
   * The liveness check kernel primitives run before touching the object (Kref, Mutex and
   * SpinLock with an owner...): on a freed object it reports a KASAN slab-use-after-free with the
   * allocation and free sites, and returns false; true while the object lives.
   */
  checkAccess(op: string): boolean {
    const m = slabMeta(this);
    if (m?.state !== "freed") return true;
    kasanReport("slab-use-after-free", kasanUnwrap(this), op, undefined, m.rcuQueued);
    return false;
  }
}

/**
 * Models kmalloc() / kmem_cache_alloc(): constructs the object with `make(arg)` (which must
 * construct the returned SlabObject and no other one before it; `arg` lets `make` be a function
 * made once rather than a closure per call) in `cache`, records the allocation site and
 * counts it. With fault injection (failslab.ts) the allocation can fail: `make` is not called
 * and the result is ERR_PTR(-ENOMEM), which callers check with isErr() (the kernel returns NULL;
 * an Errno is what the rest of this code base checks for).
 * In full KASAN mode the result is a Proxy that checks every property access.
 * Locking: none; never sleeps (GFP_ATOMIC-like) and is not a scheduling point.
 * References: the caller owns the new object.
 */
export function kmalloc<T extends SlabObject, A = undefined>(
  cache: KmemCache | string,
  make: (arg: A) => T,
  arg?: A,
): T | Errno {
  const c = cacheOf(cache);
  if (shouldFail(c.name)) return errPtr(ENOMEM);
  const outerCache = pendingCache;
  const outerObj = pendingObj;
  const outerMeta = pendingMeta;
  pendingCache = c;
  pendingObj = null;
  pendingMeta = null;
  let obj: T;
  let claimed: SlabObject | null;
  let m: SlabMeta | null;
  try {
    obj = make(arg as A);
  } finally {
    claimed = pendingObj;
    m = pendingMeta as SlabMeta | null; // set by the constructor make() ran
    pendingCache = outerCache;
    pendingObj = outerObj;
    pendingMeta = outerMeta;
  }
  const raw = kasanUnwrap(obj);
  // The claimed object's metadata is the one its constructor made (m), so no lookup.
  if (claimed !== raw || m === null || m.state !== "allocating") {
    throw new TypeError(
      `kmalloc(${c.name}): make() must construct and return a new SlabObject (got ${String(
        (raw as { name?: unknown } | null)?.name ?? raw,
      )})`,
    );
  }
  m.state = "live";
  const counts = countsOf(m.slab, c);
  counts.live++;
  counts.total++;
  liveAdd(m);
  if (!kasanFull()) return obj;
  const proxy = kasanProxy(raw);
  m.proxy = proxy;
  return proxy;
}

/** Models kzalloc(): kmalloc() (objects are always constructed, so always "zeroed"). */
export const kzalloc = kmalloc;

/** Models kmem_cache_alloc(): kmalloc() from a cache. */
export const kmemCacheAlloc = kmalloc;

/**
 * Models kfree(): frees the object. null or undefined is a no-op (kfree(NULL)). A freed object
 * is a KASAN double-free, a static object or a non-object an invalid-free; neither changes
 * anything. Freeing an object that holds a lock the running task holds is a lockdep "held lock
 * freed!" (debug_check_no_locks_freed()), and the free goes on.
 * Locking: none; not a scheduling point.
 * References: the caller hands over the last reference; nobody may touch the object afterwards.
 */
export function kfree(obj: SlabObject | null | undefined): void {
  if (obj === null || obj === undefined) return;
  freeObject(obj, "kfree", null);
}

/**
 * Models kmem_cache_free(): kfree() that also checks the object came from `cache`
 * (cache_from_obj(): a `warn` splat "Wrong slab cache"; it returns the cache the object really
 * belongs to, and kmem_cache_free() frees the object there: it is freed all the same).
 * Locking: none; not a scheduling point. References: as kfree().
 */
export function kmemCacheFree(cache: KmemCache | string, obj: SlabObject): void {
  const c = cacheOf(cache);
  const m = slabMeta(obj);
  if (m && m.state !== "static" && obj.cache !== c) {
    warnOn(
      true,
      `cache_from_obj: Wrong slab cache. ${c.name} but object is from ${obj.cache.name}`,
      {
        object: obj.name,
      },
    );
  }
  freeObject(obj, "kmem_cache_free", null);
}

function freeObject(obj: SlabObject, op: string, queued: Site | null): void {
  const m = slabMeta(obj);
  if (m === undefined) {
    kasanReport("invalid-free", { name: describe(obj) }, op);
    return;
  }
  const raw = kasanUnwrap(obj);
  if (m.state === "static" || m.state === "allocating") {
    kasanReport("invalid-free", { name: raw.name, allocSite: raw.allocSite }, op);
    return;
  }
  if (m.state === "freed") {
    kasanReport("double-free", raw, op, undefined, m.rcuQueued);
    return;
  }
  debugCheckNoLocksFreed(raw);
  m.state = "freed";
  raw.freeSite = hereAfterLast(op, raw.name);
  if (queued) m.rcuQueued = queued;
  countsOf(m.slab, raw.cache).live--;
  liveRemove(m);
}

function describe(v: unknown): string {
  if (typeof v === "number") return `pointer ${v}`;
  if (typeof v === "object" && v !== null) return `object ${v.constructor?.name ?? "?"}`;
  return String(v);
}

/**
 * Models kfree_rcu(): frees the object after a grace period, from an RCU callback (call_rcu()
 * with the object's rcu_head), so RCU readers that found it before it was unpublished may still
 * use it. KASAN reports the freeing task and this call as "Last potentially related work
 * creation". Queuing a free of an object already freed, or already queued, is a KASAN
 * double-free at once (the kernel's debug-objects would catch the double call_rcu()).
 * Locking: none; may be called in a read-side section or with a spinlock held. A scheduling
 * point (call_rcu()).
 * References: hands the caller's last reference to the RCU callback.
 */
export function kfreeRcu(obj: SlabObject): Promise<void> {
  try {
    return kfreeRcuNow(obj);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** kfreeRcu(): call_rcu()'s promise, settled at once when it kept the task (no async frame). */
function kfreeRcuNow(obj: SlabObject): Promise<void> {
  const m = slabMeta(obj);
  if (m === undefined || m.state === "static" || m.state === "allocating") {
    freeObject(obj, "kfree_rcu", null); // reports the invalid free
    return RESOLVED;
  }
  const raw = kasanUnwrap(obj);
  if (m.state === "freed" || m.rcuHead?.queued) {
    kasanReport("double-free", raw, "kfree_rcu", undefined, m.rcuQueued);
    return RESOLVED;
  }
  const queued = hereAfterLast("kfree_rcu", raw.name);
  m.rcuQueued = queued;
  m.rcuHead ??= new SlabRcuHead(`${raw.name}->rcu`, raw);
  return callRcu(m.rcuHead, kfreeRcuCallback);
}

/** The rcu_head kfree_rcu() queues: it knows its object (container_of()). */
class SlabRcuHead extends RcuHead {
  constructor(
    name: string,
    readonly object: SlabObject,
  ) {
    super(name);
  }
}

/**
 * kfree_rcu()'s callback: frees the head's object, with the site kfree_rcu() queued it from (a
 * module-level function, not a closure per call). Only a kfree_rcu() that queues the head sets
 * rcuQueued, so it is still that call's site.
 */
function kfreeRcuCallback(head: RcuHead): void {
  const raw = (head as SlabRcuHead).object;
  freeObject(raw, "kfree_rcu callback", metaOf(raw)?.rcuQueued ?? null);
}

/** Per-cache counts of the running simulation, for caches used in it (first-use order). */
export function slabStats(): { cache: string; live: number; total: number }[] {
  return [...STATE.get().caches]
    .filter(([, c]) => c.total > 0)
    .map(([cache, c]) => ({ cache, live: c.live, total: c.total }));
}

/** How many objects are allocated and not freed in the running simulation. */
export function liveObjectCount(): number {
  return STATE.get().liveCount;
}

/**
 * The objects allocated and not freed in the running simulation, in allocation order (as the
 * caller holds them: the full-KASAN proxy when there is one).
 */
export function liveObjects(): SlabObject[] {
  const out: SlabObject[] = [];
  for (let m = STATE.get().liveHead; m !== null; m = m.next) out.push(m.proxy ?? m.object);
  return out;
}
