/**
 * The virtual clock: nanoseconds that advance only when no task can run, jumping to the next
 * timer. Timer callbacks run in scheduler context (no current task), like a timer softirq; they
 * wake or spawn tasks but never block.
 */
export interface Timer {
  readonly when: number;
  cancel(): void;
}

/** A pending timer: the heap's entry is also the handle add() returns (no closure per timer). */
class Entry implements Timer {
  cancelled = false;

  constructor(
    readonly when: number,
    readonly seq: number,
    readonly fn: () => void,
  ) {}

  cancel(): void {
    this.cancelled = true;
  }
}

export class VirtualClock {
  /** Current virtual time in nanoseconds. */
  now = 0;
  private heap: Entry[] = [];
  private seq = 0;

  /** Schedules `fn` at now + delay (ns). Timers at the same time fire in creation order. */
  add(delay: number, fn: () => void): Timer {
    if (!(delay >= 0) || !Number.isFinite(delay)) throw new RangeError(`bad timer delay ${delay}`);
    const e = new Entry(this.now + delay, this.seq++, fn);
    this.push(e);
    return e;
  }

  /** True when a live timer is pending. */
  get pending(): boolean {
    this.dropCancelled();
    return this.heap.length > 0;
  }

  /** Advances to the earliest timer and fires every timer due at that time. */
  advance(): boolean {
    this.dropCancelled();
    const first = this.heap[0];
    if (!first) return false;
    this.now = first.when;
    while (this.heap.length > 0 && this.heap[0]!.when === this.now) {
      const e = this.pop();
      if (!e.cancelled) e.fn();
    }
    return true;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.when < b.when || (a.when === b.when && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
