/**
 * The command ring: a fixed number of slots shared by the driver (producer, writes at the tail)
 * and the engine (consumer, reads at the head).
 */

/**
 * A ring buffer of `capacity` slots with hardware-style head and tail registers.
 *
 * The driver writes a submission's entries at the tail, all of them or none; the engine executes
 * the entry at the head and advances the head when that entry has completed, so a slot stays
 * occupied until its command is done, not merely fetched. `head === tail` is ambiguous (empty or
 * full), as on hardware; `used` says which.
 */
export class Ring<T> {
  readonly capacity: number;
  private readonly slots: (T | undefined)[];
  /** Entries ever consumed / written: the registers are these modulo the capacity. */
  private consumed = 0;
  private written = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.slots = new Array<T | undefined>(capacity);
  }

  /** The head register: the slot the engine executes next (or is executing). */
  get head(): number {
    return this.consumed % this.capacity;
  }

  /** The tail register: the slot the driver writes next. */
  get tail(): number {
    return this.written % this.capacity;
  }

  /** Occupied slots. */
  get used(): number {
    return this.written - this.consumed;
  }

  /** Free slots. */
  get space(): number {
    return this.capacity - this.used;
  }

  get empty(): boolean {
    return this.used === 0;
  }

  /** Writes every entry at the tail, or nothing (false) when they do not all fit now. */
  write(entries: readonly T[]): boolean {
    if (entries.length > this.space) return false;
    for (const e of entries) {
      this.slots[this.written % this.capacity] = e;
      this.written++;
    }
    return true;
  }

  /** The entry at the head, if any. */
  peek(): T | undefined {
    return this.empty ? undefined : this.slots[this.head];
  }

  /** Retires the entry at the head (it has completed) and frees its slot. */
  consume(): T | undefined {
    if (this.empty) return undefined;
    const i = this.head;
    const e = this.slots[i];
    this.slots[i] = undefined;
    this.consumed++;
    return e;
  }

  /** Drops every entry (a reset): the head catches up with the tail. Returns them, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    while (!this.empty) out.push(this.consume()!);
    return out;
  }
}
