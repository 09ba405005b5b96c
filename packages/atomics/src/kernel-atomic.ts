/**
 * atomic_t, kernel-facing: the operations of AtomicT, each preceded by a scheduling point and a
 * liveness check of the object the counter lives in.
 */

import { fmtLabel, type Owner, opLabel } from "@primetime/sim";
import { AtomicT } from "./atomic.js";
import { pointNow, RESOLVED } from "./point-now.js";

/** An operation on the counter, with up to two arguments (see Atomic.op()). */
type AtomicFn<T> = (a: AtomicT, x: number, y: number) => T;
const READ = (a: AtomicT) => a.read();
const SET = (a: AtomicT, x: number) => a.set(x);
const ADD = (a: AtomicT, x: number) => a.add(x);
const SUB = (a: AtomicT, x: number) => a.sub(x);
const INC = (a: AtomicT) => a.inc();
const DEC = (a: AtomicT) => a.dec();
const FETCH_ADD = (a: AtomicT, x: number) => a.fetchAdd(x);
const FETCH_SUB = (a: AtomicT, x: number) => a.fetchSub(x);
const ADD_RETURN = (a: AtomicT, x: number) => a.addReturn(x);
const SUB_RETURN = (a: AtomicT, x: number) => a.subReturn(x);
const INC_RETURN = (a: AtomicT) => a.incReturn();
const DEC_RETURN = (a: AtomicT) => a.decReturn();
const DEC_AND_TEST = (a: AtomicT) => a.decAndTest();
const SUB_AND_TEST = (a: AtomicT, x: number) => a.subAndTest(x);
const INC_NOT_ZERO = (a: AtomicT) => a.incNotZero();
const ADD_UNLESS = (a: AtomicT, x: number, y: number) => a.addUnless(x, y);
const DEC_IF_POSITIVE = (a: AtomicT) => a.decIfPositive();
const XCHG = (a: AtomicT, x: number) => a.xchg(x);
const CMPXCHG = (a: AtomicT, x: number, y: number) => a.cmpxchg(x, y);

/**
 * Models an atomic_t embedded in a kernel object (e.g. drm_gem_object's handle_count-style
 * counters, a device's open count).
 *
 * Faithfulness: one scheduling point before each operation, as every atomic operation can be
 * raced on another CPU; the data-level semantics (32-bit wraparound, the try_cmpxchg loops) are
 * AtomicT's. The owner's checkAccess() runs after the point, so an atomic on a freed object is a
 * KASAN use-after-free.
 *
 * Locking: none; each method is one atomic step after its point.
 * References: none; use Kref to count references.
 */
export class Atomic {
  readonly owner: Owner;
  /** The counter itself. Synchronous, no scheduling point: for inspection and oracles. */
  readonly data: AtomicT;
  private readonly field: string | undefined;
  /** `${owner.name}.${field}`, built once per owner name (see op()). */
  private labelOwner = "";
  private labelName = "";

  /**
   * @param owner the object the counter lives in (or its name)
   * @param initial ATOMIC_INIT(initial); 0 by default, as in zeroed memory
   * @param field the member's name, for point labels (`atomic_inc(gem_object#3.handle_count)`)
   */
  constructor(owner: Owner | string, initial = 0, field?: string) {
    this.owner = typeof owner === "string" ? { name: owner } : owner;
    this.data = new AtomicT(initial);
    this.field = field;
  }

  /**
   * The counter's label name, `${owner.name}.${field}` (or the owner's name): read at the call,
   * as an object may name itself after it constructed its fields.
   */
  private labelFor(): string {
    const owner = this.owner.name;
    if (this.field === undefined) return owner;
    if (owner !== this.labelOwner || this.labelName === "") {
      this.labelOwner = owner;
      // One string per (owner, field) for the process, as opLabel() keeps one per label: a
      // name built here for every counter would be a new string for opLabel() to hash and
      // compare character by character at every operation of every run.
      this.labelName = fmtLabel(owner, ".", this.field);
    }
    return this.labelName;
  }

  /**
   * One operation: its point, then the owner's liveness check and `fn` on the counter. The fast
   * path (pointNow(): the running task goes on) runs the operation at once and returns a settled
   * promise, as Kref's get/put do: no async frame, and `fn` is a module-level function with its
   * arguments passed along, so no closure is made per operation. The schedule is the same (the
   * same point, label and check in the same order); a throw becomes a rejected promise, as from
   * the async function this was.
   */
  private op<T>(kernelName: string, fn: AtomicFn<T>, x = 0, y = 0): Promise<T> {
    try {
      const p = pointNow(opLabel(kernelName, this.labelFor()));
      if (p !== null) return p.then(() => this.opNow(kernelName, fn, x, y));
      const v = this.opNow(kernelName, fn, x, y);
      return v === undefined ? (RESOLVED as Promise<T>) : Promise.resolve(v);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** An operation after its point. */
  private opNow<T>(kernelName: string, fn: AtomicFn<T>, x: number, y: number): T {
    this.owner.checkAccess?.(kernelName);
    return fn(this.data, x, y);
  }

  /** Models atomic_read(). Locking: none. References: none. */
  read(): Promise<number> {
    return this.op("atomic_read", READ);
  }

  /** Models atomic_set(). Locking: none. References: none. */
  set(i: number): Promise<void> {
    return this.op("atomic_set", SET, i);
  }

  /** Models atomic_add(). Locking: none. References: none. */
  add(i: number): Promise<void> {
    return this.op("atomic_add", ADD, i);
  }

  /** Models atomic_sub(). Locking: none. References: none. */
  sub(i: number): Promise<void> {
    return this.op("atomic_sub", SUB, i);
  }

  /** Models atomic_inc(). Locking: none. References: none. */
  inc(): Promise<void> {
    return this.op("atomic_inc", INC);
  }

  /** Models atomic_dec(). Locking: none. References: none. */
  dec(): Promise<void> {
    return this.op("atomic_dec", DEC);
  }

  /** Models atomic_fetch_add(). Locking: none. References: none. */
  fetchAdd(i: number): Promise<number> {
    return this.op("atomic_fetch_add", FETCH_ADD, i);
  }

  /** Models atomic_fetch_sub(). Locking: none. References: none. */
  fetchSub(i: number): Promise<number> {
    return this.op("atomic_fetch_sub", FETCH_SUB, i);
  }

  /** Models atomic_add_return(). Locking: none. References: none. */
  addReturn(i: number): Promise<number> {
    return this.op("atomic_add_return", ADD_RETURN, i);
  }

  /** Models atomic_sub_return(). Locking: none. References: none. */
  subReturn(i: number): Promise<number> {
    return this.op("atomic_sub_return", SUB_RETURN, i);
  }

  /** Models atomic_inc_return(). Locking: none. References: none. */
  incReturn(): Promise<number> {
    return this.op("atomic_inc_return", INC_RETURN);
  }

  /** Models atomic_dec_return(). Locking: none. References: none. */
  decReturn(): Promise<number> {
    return this.op("atomic_dec_return", DEC_RETURN);
  }

  /** Models atomic_dec_and_test(). Locking: none. References: none. */
  decAndTest(): Promise<boolean> {
    return this.op("atomic_dec_and_test", DEC_AND_TEST);
  }

  /** Models atomic_sub_and_test(). Locking: none. References: none. */
  subAndTest(i: number): Promise<boolean> {
    return this.op("atomic_sub_and_test", SUB_AND_TEST, i);
  }

  /** Models atomic_inc_not_zero(). Locking: none. References: none. */
  incNotZero(): Promise<boolean> {
    return this.op("atomic_inc_not_zero", INC_NOT_ZERO);
  }

  /** Models atomic_add_unless(). Locking: none. References: none. */
  addUnless(a: number, u: number): Promise<boolean> {
    return this.op("atomic_add_unless", ADD_UNLESS, a, u);
  }

  /** Models atomic_dec_if_positive(). Locking: none. References: none. */
  decIfPositive(): Promise<number> {
    return this.op("atomic_dec_if_positive", DEC_IF_POSITIVE);
  }

  /** Models atomic_xchg(). Locking: none. References: none. */
  xchg(n: number): Promise<number> {
    return this.op("atomic_xchg", XCHG, n);
  }

  /** Models atomic_cmpxchg(): returns the value found. Locking: none. References: none. */
  cmpxchg(old: number, n: number): Promise<number> {
    return this.op("atomic_cmpxchg", CMPXCHG, old, n);
  }
}
