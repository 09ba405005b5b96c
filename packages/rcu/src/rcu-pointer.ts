/**
 * RCU-protected pointers (`T __rcu *`): published with rcu_assign_pointer(), read by readers
 * with rcu_dereference() inside a read-side section, and by updaters with
 * rcu_dereference_protected() under the update-side lock.
 *
 * Every access is a scheduling point followed by the access itself, so the window between a
 * reader's load and its use, and between an updater's unpublish and its free, is where other
 * tasks run. Memory ordering is sequentially consistent (ARCHITECTURE.md section 5): the publication
 * guarantees of rcu_assign_pointer()'s release store hold trivially.
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import { opLabel } from "@primetime/sim";
import {
  type LockdepCondition,
  rcuDereferenceCheck,
  rcuDereferenceProtectedCheck,
} from "./rcu-lockdep.js";

const VALUE: unique symbol = Symbol("rcu pointer value");

/**
 * An RCU-protected pointer (`struct foo __rcu *p`). Its value is reachable only through the
 * functions of this module, as sparse's __rcu annotation enforces in the kernel.
 */
export class RcuPointer<T> {
  [VALUE]: T | null;
  /**
   * @internal The label of rcu_dereference() points on it (opLabel()'s string), built on first
   * use: a property load instead of two Map lookups at every load.
   */
  labelDereference = "";
  /** @internal The same for rcu_assign_pointer(). */
  labelAssign = "";

  /**
   * @param name names the pointer in labels and splats ("gbl_foo", "obj->dma_buf")
   * @param initial the value before publication (RCU_INITIALIZER())
   */
  constructor(
    readonly name: string,
    initial: T | null = null,
  ) {
    this[VALUE] = initial;
  }
}

/**
 * Models rcu_dereference_check(p, c) (rcu_dereference(p) without `cond`): loads the pointer for
 * dereferencing. Legal inside a read-side critical section, or when `cond` says the caller has
 * another protection (the update-side lock is held); otherwise an `rcu` splat "suspicious
 * rcu_dereference_check() usage" naming the pointer (and the missing protection when `cond`
 * returns a string). The value is returned either way.
 * Locking: rcu_read_lock(), or what `cond` checks.
 * References: none; the object stays valid until the section ends (take a reference to keep it).
 */
export function rcuDereference<T>(p: RcuPointer<T>, cond?: LockdepCondition): Promise<T | null> {
  if (p.labelDereference === "") p.labelDereference = opLabel("rcu_dereference", p.name);
  const at = pointNow(p.labelDereference);
  if (at !== null) return at.then(() => dereferenceNow(p, cond));
  try {
    return settled(dereferenceNow(p, cond));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * rcuDereference() in two steps, for hot callers that go on synchronously when the running task
 * keeps the CPU: `const at = rcuDereferencePoint(p); if (at !== null) await at;` then
 * `rcuDereferenceAfterPoint(p, cond)` is exactly `await rcuDereference(p, cond)` (the same point,
 * then the same check and load) without a promise of the value. The point: null when the task
 * goes on at once (see pointNow()), else the promise to await first.
 * Locking: as rcuDereference().
 * References: none.
 */
export function rcuDereferencePoint<T>(p: RcuPointer<T>): Promise<void> | null {
  if (p.labelDereference === "") p.labelDereference = opLabel("rcu_dereference", p.name);
  return pointNow(p.labelDereference);
}

/**
 * The second step of rcuDereferencePoint(): RCU lockdep's check and the load.
 * Locking: inside a read-side section or under `cond`, as rcuDereference().
 * References: none.
 */
export function rcuDereferenceAfterPoint<T>(p: RcuPointer<T>, cond?: LockdepCondition): T | null {
  return dereferenceNow(p, cond);
}

/** rcuDereference() after its point. */
function dereferenceNow<T>(p: RcuPointer<T>, cond: LockdepCondition | undefined): T | null {
  rcuDereferenceCheck(p.name, cond);
  return p[VALUE];
}

const RESOLVED_NULL: Promise<null> = Promise.resolve(null);

/**
 * A settled promise of `v` (the fast path of a load whose task went on at its point: no async
 * frame per load).
 */
function settled<T>(v: T | null): Promise<T | null> {
  return v === null ? RESOLVED_NULL : Promise.resolve(v);
}

/**
 * Models rcu_dereference_protected(p, c): the update side's load, under the lock that keeps the
 * pointer from changing. `cond` must hold (the read lock does not count); otherwise an `rcu` splat
 * "suspicious rcu_dereference_protected() usage".
 * Locking: the update-side lock `cond` checks.
 * References: none.
 * Not a scheduling point: under the update-side lock no other task can change the pointer, so the
 * load commutes with every other task's action (see ARCHITECTURE.md, "Scheduling points").
 */
export function rcuDereferenceProtected<T>(
  p: RcuPointer<T>,
  cond: LockdepCondition,
): Promise<T | null> {
  try {
    return settled(dereferenceProtectedNow(p, cond));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * rcuDereferenceProtected() for hot update-side code: the same check, and the value itself (not
 * a promise of it), so the caller goes on synchronously. Like rcuDereferenceProtected(), not a
 * scheduling point.
 * Locking: the update-side lock `cond` checks.
 * References: none.
 */
export function rcuDereferenceProtectedSettled<T>(
  p: RcuPointer<T>,
  cond: LockdepCondition,
): T | null {
  return dereferenceProtectedNow(p, cond);
}

/** rcuDereferenceProtected()'s load and check. */
function dereferenceProtectedNow<T>(p: RcuPointer<T>, cond: LockdepCondition): T | null {
  rcuDereferenceProtectedCheck(p.name, cond);
  return p[VALUE];
}

/**
 * Models rcu_access_pointer(p): loads the pointer's value without dereferencing it (a NULL
 * test, a comparison), or after a grace period has made it private. No lockdep check.
 * Locking: none.
 * References: none; the value must not be dereferenced.
 */
export function rcuAccessPointer<T>(p: RcuPointer<T>): Promise<T | null> {
  const at = pointNow(opLabel("rcu_access_pointer", p.name));
  return at !== null ? at.then(() => p[VALUE]) : settled(p[VALUE]);
}

/**
 * Models rcu_assign_pointer(p, v): publishes `v` (initialised before the call) to readers. The
 * old value may still be in use by readers until a grace period has passed.
 * Locking: the update-side lock that serializes updaters of `p`.
 * References: the pointer holds whatever reference the caller's protocol gives it (often the
 * one the caller transfers); the old object is the caller's to free after a grace period.
 */
export function rcuAssignPointer<T>(p: RcuPointer<T>, v: T | null): Promise<void> {
  if (p.labelAssign === "") p.labelAssign = opLabel("rcu_assign_pointer", p.name);
  return store(p.labelAssign, p, v);
}

/** A store after the point `label`: settled at once when the running task goes on. */
function store<T>(label: string, p: RcuPointer<T>, v: T | null): Promise<void> {
  const at = pointNow(label);
  if (at !== null)
    return at.then(() => {
      p[VALUE] = v;
    });
  p[VALUE] = v;
  return RESOLVED;
}

/**
 * Models RCU_INIT_POINTER(p, v): a store without publication ordering, for NULL or for a
 * pointer readers cannot reach yet. Under the model's sequential consistency it behaves as
 * rcuAssignPointer().
 * Locking: as rcuAssignPointer().
 * References: as rcuAssignPointer().
 */
export function rcuInitPointer<T>(p: RcuPointer<T>, v: T | null): Promise<void> {
  return store(opLabel("RCU_INIT_POINTER", p.name), p, v);
}

/**
 * Models rcu_replace_pointer(p, v, c): rcu_dereference_protected() then rcu_assign_pointer(),
 * in one step; returns the old value, which the caller frees after a grace period.
 * Locking: the update-side lock `cond` checks.
 * References: the old value's reference passes to the caller.
 */
export function rcuReplacePointer<T>(
  p: RcuPointer<T>,
  v: T | null,
  cond: LockdepCondition,
): Promise<T | null> {
  const at = pointNow(opLabel("rcu_replace_pointer", p.name));
  if (at !== null) return at.then(() => replaceNow(p, v, cond));
  try {
    return settled(replaceNow(p, v, cond));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** rcuReplacePointer() after its point. */
function replaceNow<T>(p: RcuPointer<T>, v: T | null, cond: LockdepCondition): T | null {
  rcuDereferenceProtectedCheck(p.name, cond);
  const old = p[VALUE];
  p[VALUE] = v;
  return old;
}
