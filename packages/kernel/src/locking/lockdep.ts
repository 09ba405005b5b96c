/**
 * Lockdep, the runtime locking correctness validator (kernel/locking/lockdep.c,
 * Documentation/locking/lockdep-design.rst).
 *
 * Lockdep reasons about lock *classes*, not instances: every lock initialised at the same place
 * (here: with the same name, or with the same explicit `LockClassKey`) belongs to one class. Each
 * task keeps a stack of the locks it holds; acquiring B while holding A records the dependency
 * A -> B in a graph of classes, kept per simulation. A new dependency that closes a cycle is a
 * possible deadlock, reported from a single run even when no two tasks ever raced: t1 taking A
 * then B and finishing, and later t2 taking B then A, is enough.
 *
 * Splats (kind `lockdep`, kernel wording):
 * - "WARNING: possible circular locking dependency detected", with the chain;
 * - "WARNING: possible recursive locking detected" (same class twice without a nesting
 *   annotation);
 * - "WARNING: bad unlock balance detected!" (release of a lock the task does not hold);
 * - "WARNING: t/3 still has locks held!" (print_held_locks_bug() from debug_check_no_locks_held()
 *   at do_exit());
 * - "WARNING: lock held when returning to user space!" (lockdep_sys_exit());
 * - "WARNING: held lock freed!" (debug_check_no_locks_freed() from kfree()).
 * `lockdepAssertHeld()` fails with a `warn` splat, as lockdep_assert_held()'s WARN_ON does.
 * The wording of every report is in lockdep-report.ts.
 *
 * Simplifications: no IRQ-state tracking (the usage bits always print `{+.+.}`), no read-lock
 * recursion rules beyond what the locks here need, no lock-chain hash table (the graph is searched
 * on every new dependency, which is cheap at simulation sizes; what stands in for the chain cache
 * is each class's memo of the last dependency from it already in the graph, so the same pair
 * again costs two compares), no MAX_LOCK_DEPTH. Where the kernel
 * turns lockdep off after its first report, this model keeps going and reports each distinct
 * problem once per simulation (a cycle once per set of classes, a recursion once per class...).
 */

import {
  activeSimulation,
  currentTask,
  type Owner,
  type RelatedSite,
  SimLocal,
  type Simulation,
  type Site,
  type Task,
  TaskLocal,
} from "@primetime/sim";
import { kasanUnwrap } from "../mm/kasan/kasan.js";
import {
  heldSites,
  printHeldLocks,
  reportAssertFailed,
  reportCircular,
  reportHeldLockFreed,
  reportLockHeldReturnToUser,
  reportLocksHeldAtExit,
  reportNestLockNotHeld,
  reportRecursive,
  reportUnlockImbalance,
} from "./lockdep-report.js";
import type { Mutex } from "./mutex.js";
import type { SpinLock } from "./spinlock.js";

/** What kind of lock a class is: decides the wait type printed (`-{4:4}` sleeps, `-{2:2}` spins). */
export type LockKind = "mutex" | "spinlock";

/**
 * Models struct lock_class_key: the identity of a lock class. The kernel gives every lock-init
 * site a static key; by default a lock here gets the key interned for its name and kind, so all
 * locks named "object_name_lock" share a class. Pass an explicit key to split a name into
 * several classes, or to merge differently named locks into one.
 */
export class LockClassKey {
  constructor(readonly name?: string) {}
}

/** A lock class: a key plus a nesting subclass (mutex_lock_nested()). */
export interface LockClass {
  /** Process-wide id, stable within a process (classes are static, like their keys). */
  readonly id: number;
  readonly key: LockClassKey;
  readonly subclass: number;
  /** As lockdep prints it: "object_name_lock", "i_mutex_key/1" for a subclass. */
  readonly name: string;
  readonly kind: LockKind;
}

/**
 * Models struct lockdep_map: what lockdep knows of one lock instance (its class key, its name,
 * and here the object the lock is embedded in, for "held lock freed").
 */
export class LockdepMap {
  readonly key: LockClassKey;
  /** @internal The class of subclass 0, once looked up (classes are process-wide, like keys). */
  cls0: LockClass | null = null;

  constructor(
    readonly name: string,
    readonly kind: LockKind,
    key?: LockClassKey,
    /** The object the lock is embedded in, if any. */
    readonly owner?: Owner,
  ) {
    this.key = key ?? defaultKey(kind, name);
  }
}

/** A lock lockdep can track: Mutex and SpinLock. */
export interface LockdepLock {
  readonly name: string;
  readonly dep: LockdepMap;
  /** The task (or context) holding the lock now, for reports. */
  readonly holder: { readonly name: string; readonly id: number } | null;
}

/** @internal One entry of a task's held-lock stack (struct held_lock). */
export interface HeldLock {
  readonly lock: LockdepLock;
  readonly cls: LockClass;
  /** Where the task acquired it. */
  readonly site: Site;
  readonly trylock: boolean;
}

/**
 * A held-lock entry as lockAcquire() makes it: the acquisition site's fields are kept as they
 * were at the acquire (what here() read), and the Site object is built only when a report or a
 * new dependency asks for it (then once): one object per acquire instead of two.
 */
class HeldEntry implements HeldLock {
  private siteObj: Site | null = null;

  constructor(
    readonly lock: LockdepLock,
    readonly cls: LockClass,
    readonly trylock: boolean,
    private readonly task: string,
    private readonly taskId: number,
    private readonly step: number,
    private readonly label: string,
  ) {}

  get site(): Site {
    this.siteObj ??= { task: this.task, taskId: this.taskId, step: this.step, label: this.label };
    return this.siteObj;
  }
}

/** @internal A dependency prev -> next: where next was first acquired while prev was held. */
export interface Dependency {
  readonly from: LockClass;
  readonly to: LockClass;
  /** Where `to` was acquired. */
  readonly site: Site;
  /** Where `from` had been acquired, by the same task. */
  readonly fromSite: Site;
}

/** Who holds locks: a task, or code running outside any task (no simulation, or a timer). */
export interface LockContext {
  readonly name: string;
  readonly id: number;
}

/** Per-context lock state: lockdep's held locks and the spinlock layer's preempt count. */
export interface ContextState {
  readonly held: HeldLock[];
  /** preempt_count(): spinlocks held (or being spun on). */
  preempt: number;
  /** A sleep-in-atomic splat was already reported for the current atomic section. */
  sleepReported: boolean;
}

interface LockdepState {
  /** The dependency graph: class -> (class -> first occurrence). */
  readonly graph: Map<LockClass, Map<LockClass, Dependency>>;
  /** Deduplication of reports. */
  readonly reported: Set<string>;
  /** The context of code that runs outside any task. */
  readonly outside: LockContext;
  readonly outsideState: ContextState;
  hooked: boolean;
}

const STATE = new SimLocal<LockdepState>(() => ({
  graph: new Map(),
  reported: new Set(),
  outside: { name: "<outside>", id: 0 },
  outsideState: newContextState(),
  hooked: false,
}));

const TASK_STATE = new TaskLocal<ContextState>(newContextState);

function newContextState(): ContextState {
  return { held: [], preempt: 0, sleepReported: false };
}

/** The lockdep state of the running simulation; hooks task exit on first use (lazily). */
function lockdepState(): LockdepState {
  const st = STATE.get();
  const t = currentTask();
  if (!st.hooked && t !== null) {
    st.hooked = true;
    hookTaskExit(t.sim);
  }
  return st;
}

function hookTaskExit(sim: Simulation): void {
  sim.onTaskExit((t) => debugCheckNoLocksHeld(t));
}

/** The context running now: the current task, or the outside context. */
export function lockContext(): LockContext {
  return currentTask() ?? lockdepState().outside;
}

/** @internal The lock state of `ctx` (default: the running context). */
export function contextState(ctx?: LockContext | Task): ContextState {
  const st = lockdepState(); // registers the task-exit check of this simulation
  const c = ctx ?? lockContext();
  if (isTask(c)) return TASK_STATE.get(c);
  return st.outsideState;
}

function isTask(c: LockContext | Task): c is Task {
  return "sim" in c;
}

/**
 * contextState(lockContext()).held for the running task `t` of the simulation whose lockdep state
 * is `st` (the outside context's when `t` is null), registering the task-exit check as
 * lockdepState() does. Its callers look the simulation, the state and the task up once each,
 * where lockContext() and contextState() looked the task up twice and the state up to twice.
 */
function heldOf(st: LockdepState, t: Task | null): HeldLock[] {
  if (t === null) return st.outsideState.held;
  if (!st.hooked) {
    st.hooked = true;
    hookTaskExit(t.sim);
  }
  return TASK_STATE.get(t).held;
}

/** The held stack of the running context (lockContext()'s), with heldOf()'s single lookups. */
function runningHeld(): HeldLock[] {
  const sim = activeSimulation();
  return heldOf(STATE.get(sim), sim === null ? null : sim.current);
}

// --- classes -------------------------------------------------------------------------------

/** The default keys, by kind and then name (no key string is built per lock). */
const defaultKeys: Record<LockKind, Map<string, LockClassKey>> = {
  mutex: new Map(),
  spinlock: new Map(),
};
const classes = new WeakMap<LockClassKey, Map<number, LockClass>>();
let nextClassId = 1;

function defaultKey(kind: LockKind, name: string): LockClassKey {
  const keys = defaultKeys[kind];
  let key = keys.get(name);
  if (!key) {
    key = new LockClassKey(name);
    keys.set(name, key);
  }
  return key;
}

/**
 * Models register_lock_class(): the class of `map` for a nesting subclass. The class is named
 * after the key's name, or the first lock initialised with the key.
 */
export function lockClassOf(map: LockdepMap, subclass = 0): LockClass {
  if (subclass !== 0) return classOf(map, subclass);
  map.cls0 ??= classOf(map, 0);
  return map.cls0;
}

/**
 * A class's memo of the last dependency from it that was found in (or added to) a graph: the
 * graph (one per simulation: a memo of another simulation's graph is stale) and the class the
 * dependency goes to. Only ever a dependency the graph has, so a hit is exactly "known".
 */
interface ClassDeps extends LockClass {
  depGraph: Map<LockClass, Map<LockClass, Dependency>> | null;
  depLast: LockClass | null;
}

/** lockAcquire()'s default options (no object per call). */
const NO_OPTIONS: AcquireOptions = {};

function classOf(map: LockdepMap, subclass: number): LockClass {
  let bySub = classes.get(map.key);
  if (!bySub) {
    bySub = new Map();
    classes.set(map.key, bySub);
  }
  let cls = bySub.get(subclass);
  if (!cls) {
    const base = map.key.name ?? map.name;
    const deps: ClassDeps = {
      id: nextClassId++,
      key: map.key,
      subclass,
      name: subclass === 0 ? base : `${base}/${subclass}`,
      kind: map.kind,
      depGraph: null,
      depLast: null,
    };
    cls = deps;
    bySub.set(subclass, cls);
  }
  return cls;
}

// --- acquire / release -----------------------------------------------------------------------

export interface AcquireOptions {
  /** A trylock: never a recursion report, adds no dependency on the locks held. */
  trylock?: boolean;
  /** Nesting subclass (mutex_lock_nested(), spin_lock_nested()). */
  subclass?: number;
  /**
   * The nest lock (mutex_acquire_nest()'s nest_lock: a ww_acquire_ctx's dep_map): holding it
   * serialises the nesting of this lock's class, so another lock of a class already held is not
   * "recursive locking" and adds no dependency (the kernel merges it into the held entry of the
   * class). Not holding the nest lock is its own report.
   */
  nestLock?: LockdepLock;
  /** The site label to record (default: the running task's last point), e.g. "ww_acquire_init". */
  label?: string;
}

/**
 * Models lock_acquire() → __lock_acquire() → validate_chain(): pushes the lock on the task's
 * held stack (before the lock is actually obtained, as the kernel does: a task waiting for a lock
 * already "holds" it for lockdep), checks recursion and records dependencies.
 *
 * Order, as check_deadlock() then check_prevs_add(): a nest lock (`opts.nestLock`) the task does
 * not hold is reported; a trylock is not validated; otherwise the same class already held is a
 * recursion report (and no dependency is added) unless the acquisition names a nest lock; else a
 * dependency
 * is added from the most recent held lock, and from each trylock above the most recent
 * non-trylock one (those have not added their own edges).
 * Locking: none (lockdep's graph lock is implicit: no scheduling point in here).
 */
export function lockAcquire(lock: LockdepLock, opts: AcquireOptions = NO_OPTIONS): void {
  const sim = activeSimulation();
  const st = STATE.get(sim);
  const t = sim === null ? null : sim.current;
  const held = heldOf(st, t);
  const ctx: LockContext = t ?? st.outside;
  const subclass = opts.subclass ?? 0;
  const dep = lock.dep;
  const cls = subclass === 0 && dep.cls0 !== null ? dep.cls0 : lockClassOf(dep, subclass);
  // here(opts.label)'s fields, without its object (HeldEntry builds it on demand).
  const next = new HeldEntry(
    lock,
    cls,
    opts.trylock ?? false,
    sim === null ? "<outside>" : t !== null ? t.name : "<scheduler>",
    t !== null ? t.id : 0,
    sim === null ? 0 : sim.steps,
    opts.label ?? (t !== null ? t.lastLabel : ""),
  );
  const nest = opts.nestLock;
  if (nest && !holds(held, nest)) {
    if (once(`nest:${cls.id}:${ctx.id}`)) reportNestLockNotHeld(ctx, held, next, nest);
  }
  if (!next.trylock) {
    const prev = heldClassOrLock(held, cls, lock);
    if (prev && nest && prev.lock !== lock) {
      // check_deadlock(): "We're holding the nest_lock, which serializes this lock's nesting
      // behaviour." No report; __lock_acquire() merges it into the held class (no new edge).
    } else if (prev) {
      if (once(`recursive:${cls.id}:${ctx.id}`)) reportRecursive(ctx, held, prev, next);
    } else {
      const graph = st.graph;
      for (let i = held.length - 1; i >= 0; i--) {
        const h = held[i]!;
        checkPrevAdd(ctx, held, h, next, graph);
        if (!h.trylock) break;
      }
    }
  }
  held.push(next);
}

/** Whether `held` has `lock` (a loop: no closure per acquire). */
function holds(held: readonly HeldLock[], lock: LockdepLock): boolean {
  for (let i = 0; i < held.length; i++) if (held[i]!.lock === lock) return true;
  return false;
}

/** The first held entry of class `cls` or of `lock` itself, as `held.find()` would give it. */
function heldClassOrLock(
  held: readonly HeldLock[],
  cls: LockClass,
  lock: LockdepLock,
): HeldLock | undefined {
  for (let i = 0; i < held.length; i++) {
    const h = held[i]!;
    if (h.cls === cls || h.lock === lock) return h;
  }
  return undefined;
}

/**
 * Models lock_release(): pops the lock from the task's held stack. A lock the task does not hold
 * is "bad unlock balance", reported at `op`'s label (`op(lock name)`, e.g. `mutex_unlock(m)`)
 * when given: a release is no scheduling point, so the task's latest point is an earlier
 * operation. Returns whether it was held.
 * Locking: none.
 */
export function lockRelease(lock: LockdepLock, op?: string): boolean {
  const sim = activeSimulation();
  const st = STATE.get(sim);
  const t = sim === null ? null : sim.current;
  const held = heldOf(st, t);
  const ctx: LockContext = t ?? st.outside;
  for (let i = held.length - 1; i >= 0; i--) {
    if (held[i]!.lock === lock) {
      // Remove entry i by hand: splice() would allocate the array of removed entries.
      for (let j = i + 1; j < held.length; j++) held[j - 1] = held[j]!;
      held.pop();
      return true;
    }
  }
  const cls = lockClassOf(lock.dep);
  if (once(`unlock:${cls.id}:${ctx.id}`)) reportUnlockImbalance(ctx, held, lock, cls, op);
  return false;
}

/** Models lock_is_held(): whether the running context holds `lock` (for lockdep). */
export function lockIsHeld(lock: LockdepLock): boolean {
  return holds(runningHeld(), lock);
}

/** Models check_prev_add(): records prev -> next unless it closes a cycle. */
function checkPrevAdd(
  ctx: LockContext,
  held: readonly HeldLock[],
  prev: HeldLock,
  next: HeldLock,
  graph: Map<LockClass, Map<LockClass, Dependency>>,
): void {
  const from = prev.cls as ClassDeps;
  // The dependency just checked from this class, in this graph: known (the common case of the
  // same pair again), as lockdep's chain cache skips a chain it has validated.
  if (from.depGraph === graph && from.depLast === next.cls) return;
  let out = graph.get(prev.cls);
  if (out?.has(next.cls)) {
    from.depGraph = graph;
    from.depLast = next.cls;
    return; // known: keep the first occurrence
  }
  const path = findPath(graph, next.cls, prev.cls);
  if (path) {
    // One report per set of classes in the cycle.
    const cycle = [next.cls, ...path.map((d) => d.to)].map((c) => c.id).sort((a, b) => a - b);
    if (once(`circular:${cycle.join(",")}`)) reportCircular(ctx, held, prev, next, path);
    return;
  }
  if (!out) {
    out = new Map();
    graph.set(prev.cls, out);
  }
  out.set(next.cls, { from: prev.cls, to: next.cls, site: next.site, fromSite: prev.site });
  from.depGraph = graph;
  from.depLast = next.cls;
}

/** Breadth-first search for from -> ... -> to (check_noncircular()). The edges, in order. */
function findPath(
  graph: Map<LockClass, Map<LockClass, Dependency>>,
  from: LockClass,
  to: LockClass,
): Dependency[] | null {
  // A queue read by index (no shift()) and the edges by value (an edge's key is its `to`): no
  // entry arrays per edge visited. The same visiting order as a shift() queue over entries.
  const via = new Map<LockClass, Dependency | null>([[from, null]]);
  const queue: LockClass[] = [from];
  for (let i = 0; i < queue.length; i++) {
    const c = queue[i]!;
    if (c === to) {
      const path: Dependency[] = [];
      for (let d = via.get(c); d; d = via.get(d.from)) path.unshift(d);
      return path;
    }
    const out = graph.get(c);
    if (out === undefined) continue;
    for (const dep of out.values()) {
      if (via.has(dep.to)) continue;
      via.set(dep.to, dep);
      queue.push(dep.to);
    }
  }
  return null;
}

// --- reports ---------------------------------------------------------------------------------

function once(key: string): boolean {
  const st = lockdepState();
  if (st.reported.has(key)) return false;
  st.reported.add(key);
  return true;
}

/**
 * Models debug_check_no_locks_held() at do_exit(): a task exiting with locks held. The locks stay
 * held (whoever waits for them waits forever: the deadlock report then names the dead holder).
 * Called by the simulation's task-exit hook, registered lazily per simulation.
 */
function debugCheckNoLocksHeld(t: Task): void {
  const held = TASK_STATE.get(t).held;
  if (held.length === 0) return;
  reportLocksHeldAtExit(t, held);
}

/**
 * Models lockdep_sys_exit(): called by the syscall layer on the way back to userspace; any lock
 * still held is reported ("lock held when returning to user space!"). The locks stay held.
 * Locking: none.
 */
export function lockdepCheckReturnToUser(): void {
  const sim = activeSimulation();
  const st = STATE.get(sim);
  const t = sim === null ? null : sim.current;
  const held = heldOf(st, t);
  const ctx: LockContext = t ?? st.outside;
  if (held.length === 0) return;
  if (!once(`sysexit:${ctx.id}:${held.map((h) => h.cls.id).join(",")}`)) return;
  reportLockHeldReturnToUser(ctx, held);
}

/**
 * Models debug_check_no_locks_freed(), called by kfree(): the running task must not hold a lock
 * that lives in the memory being freed, i.e. a lock whose owner is `obj`, or a lock stored in one
 * of `obj`'s own properties. The lock stays on the task's held stack (its later unlock touches
 * freed memory: KASAN reports it if the lock names its owner).
 * Locking: none.
 */
export function debugCheckNoLocksFreed(obj: object): void {
  const sim = activeSimulation();
  const st = STATE.get(sim);
  const t = sim === null ? null : sim.current;
  const held = heldOf(st, t);
  const ctx: LockContext = t ?? st.outside;
  if (held.length === 0) return;
  const raw = kasanUnwrap(obj);
  // The first held lock (in held order) that the object owns or stores in an own property: one
  // scan of the object's own properties finds the earliest held lock stored there, without a
  // set (or an array) built on every kfree().
  let first = held.length;
  for (let i = 0; i < first; i++) {
    const owner = held[i]!.lock.dep.owner;
    if (owner !== undefined && kasanUnwrap(owner) === raw) first = i;
  }
  if (first > 0) first = firstHeldValue(raw, held, first);
  if (first === held.length) return;
  const h = held[first]!;
  const name = (raw as { name?: unknown }).name;
  const what = typeof name === "string" ? name : "an object";
  if (!once(`freed:${what}:${h.cls.id}`)) return;
  reportHeldLockFreed(ctx, held, h, what, typeof name === "string" ? name : undefined);
}

/**
 * The index of the first of `held[0, end)` whose lock is one of `obj`'s own enumerable property
 * values, or `end` if none is.
 */
function firstHeldValue(obj: object, held: readonly HeldLock[], end: number): number {
  let first = end;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    const v = (obj as Record<string, unknown>)[k];
    if (typeof v !== "object" || v === null) continue;
    for (let i = 0; i < first; i++) {
      if (held[i]!.lock === v) {
        first = i;
        break;
      }
    }
    if (first === 0) break;
  }
  return first;
}

/**
 * Models lockdep_assert_held(): a `warn` splat unless the running task holds `lock`.
 * Locking: the caller's claim is exactly what is checked.
 */
export function lockdepAssertHeld(lock: LockdepLock): void {
  if (lockIsHeld(lock)) return;
  reportAssertFailed(lockContext(), lock, lockClassOf(lock.dep), "held");
}

/**
 * Models lockdep_assert_held_write(): a `warn` splat unless the running task holds `lock`
 * exclusively. Lockdep here does not tell read from write acquisitions, so the lock says
 * (`writeHeld`) whether the running task is its writer.
 * Locking: see lockdepAssertHeld().
 */
export function lockdepAssertHeldWrite(lock: LockdepLock, writeHeld: boolean): void {
  if (lockIsHeld(lock) && writeHeld) return;
  reportAssertFailed(lockContext(), lock, lockClassOf(lock.dep), "held_write");
}

/**
 * Models lockdep_assert_not_held(): a `warn` splat if the running task holds `lock`.
 * Locking: see lockdepAssertHeld().
 */
export function lockdepAssertNotHeld(lock: LockdepLock): void {
  if (!lockIsHeld(lock)) return;
  reportAssertFailed(lockContext(), lock, lockClassOf(lock.dep), "not_held");
}

/**
 * The locks `task` holds for lockdep (default: the running context), oldest first. As in the
 * kernel, a lock the task is still waiting for is already on the list.
 */
export function heldLocks(task?: Task): readonly (Mutex | SpinLock)[] {
  return contextState(task).held.map((h) => h.lock as Mutex | SpinLock);
}

/** The locks held by `ctx`, formatted as lockdep_print_held_locks() does (for other reports). */
export function formatHeldLocks(ctx?: LockContext | Task): string {
  const c = ctx ?? lockContext();
  return printHeldLocks(c, contextState(c).held);
}

/** The held-lock sites of `ctx`, as related sites for other reports. */
export function heldLockSites(ctx?: LockContext | Task): RelatedSite[] {
  return heldSites(contextState(ctx).held);
}

/**
 * The dependency graph of the running simulation, as "from -> to" pairs of class names in
 * insertion order (for tests and the harness's explanations).
 */
export function lockdepDependencies(): { from: string; to: string; site: Site }[] {
  const out: { from: string; to: string; site: Site }[] = [];
  for (const deps of lockdepState().graph.values()) {
    for (const d of deps.values()) out.push({ from: d.from.name, to: d.to.name, site: d.site });
  }
  return out;
}
