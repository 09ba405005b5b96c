/**
 * atomic_t, kernel-facing: the operations of AtomicT, each preceded by a scheduling point and a
 * liveness check of the object the counter lives in.
 */

import { fmtLabel, type Owner, opLabel, point } from "@primetime/sim";
import { AtomicT } from "./atomic.js";

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

  private async op<T>(kernelName: string, fn: (a: AtomicT) => T): Promise<T> {
    // The owner's name is read now: an object may name itself after it constructed its fields.
    const owner = this.owner.name;
    let name = owner;
    if (this.field !== undefined) {
      if (owner !== this.labelOwner || this.labelName === "") {
        this.labelOwner = owner;
        // One string per (owner, field) for the process, as opLabel() keeps one per label: a
        // name built here for every counter would be a new string for opLabel() to hash and
        // compare character by character at every operation of every run.
        this.labelName = fmtLabel(owner, ".", this.field);
      }
      name = this.labelName;
    }
    await point(opLabel(kernelName, name));
    this.owner.checkAccess?.(kernelName);
    return fn(this.data);
  }

  /** Models atomic_read(). Locking: none. References: none. */
  read(): Promise<number> {
    return this.op("atomic_read", (a) => a.read());
  }

  /** Models atomic_set(). Locking: none. References: none. */
  set(i: number): Promise<void> {
    return this.op("atomic_set", (a) => a.set(i));
  }

  /** Models atomic_add(). Locking: none. References: none. */
  add(i: number): Promise<void> {
    return this.op("atomic_add", (a) => a.add(i));
  }

  /** Models atomic_sub(). Locking: none. References: none. */
  sub(i: number): Promise<void> {
    return this.op("atomic_sub", (a) => a.sub(i));
  }

  /** Models atomic_inc(). Locking: none. References: none. */
  inc(): Promise<void> {
    return this.op("atomic_inc", (a) => a.inc());
  }

  /** Models atomic_dec(). Locking: none. References: none. */
  dec(): Promise<void> {
    return this.op("atomic_dec", (a) => a.dec());
  }

  /** Models atomic_fetch_add(). Locking: none. References: none. */
  fetchAdd(i: number): Promise<number> {
    return this.op("atomic_fetch_add", (a) => a.fetchAdd(i));
  }

  /** Models atomic_fetch_sub(). Locking: none. References: none. */
  fetchSub(i: number): Promise<number> {
    return this.op("atomic_fetch_sub", (a) => a.fetchSub(i));
  }

  /** Models atomic_add_return(). Locking: none. References: none. */
  addReturn(i: number): Promise<number> {
    return this.op("atomic_add_return", (a) => a.addReturn(i));
  }

  /** Models atomic_sub_return(). Locking: none. References: none. */
  subReturn(i: number): Promise<number> {
    return this.op("atomic_sub_return", (a) => a.subReturn(i));
  }

  /** Models atomic_inc_return(). Locking: none. References: none. */
  incReturn(): Promise<number> {
    return this.op("atomic_inc_return", (a) => a.incReturn());
  }

  /** Models atomic_dec_return(). Locking: none. References: none. */
  decReturn(): Promise<number> {
    return this.op("atomic_dec_return", (a) => a.decReturn());
  }

  /** Models atomic_dec_and_test(). Locking: none. References: none. */
  decAndTest(): Promise<boolean> {
    return this.op("atomic_dec_and_test", (a) => a.decAndTest());
  }

  /** Models atomic_sub_and_test(). Locking: none. References: none. */
  subAndTest(i: number): Promise<boolean> {
    return this.op("atomic_sub_and_test", (a) => a.subAndTest(i));
  }

  /** Models atomic_inc_not_zero(). Locking: none. References: none. */
  incNotZero(): Promise<boolean> {
    return this.op("atomic_inc_not_zero", (a) => a.incNotZero());
  }

  /** Models atomic_add_unless(). Locking: none. References: none. */
  addUnless(a: number, u: number): Promise<boolean> {
    return this.op("atomic_add_unless", (x) => x.addUnless(a, u));
  }

  /** Models atomic_dec_if_positive(). Locking: none. References: none. */
  decIfPositive(): Promise<number> {
    return this.op("atomic_dec_if_positive", (a) => a.decIfPositive());
  }

  /** Models atomic_xchg(). Locking: none. References: none. */
  xchg(n: number): Promise<number> {
    return this.op("atomic_xchg", (a) => a.xchg(n));
  }

  /** Models atomic_cmpxchg(): returns the value found. Locking: none. References: none. */
  cmpxchg(old: number, n: number): Promise<number> {
    return this.op("atomic_cmpxchg", (a) => a.cmpxchg(old, n));
  }
}
