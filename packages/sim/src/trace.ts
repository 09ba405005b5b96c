/**
 * The trace of one run: every step (which task, at which labelled point) and every
 * nondeterministic choice (the task picked at a point with several runnable tasks, or a data
 * choice). A step stores its task id in an integer column and its label string in an array: the
 * scheduler's hot path does two stores and no lookup. Labels are interned (an id and a hash per
 * distinct label, for the process) only when the hash is read: a search reads the hash of every
 * run, a campaign only of the runs it reports. A running 32-bit hash of the whole trace makes
 * determinism checks and replay verification cheap.
 */
export interface TraceStep {
  readonly step: number;
  readonly taskId: number;
  readonly task: string;
  readonly label: string;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function hashString(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, FNV_PRIME);
  return h ^ (h >>> 15);
}

/**
 * The label table: every distinct label gets its hash once per process, not once per run (a
 * search runs thousands of schedules through the same few hundred labels). Past
 * MAX_TABLE_LABELS labels (a model that puts ever-new values in its labels) the table starts
 * over; the hash of a label is a function of its text, so a hash is the same from either table.
 */
const MAX_TABLE_LABELS = 1 << 20;
let labelHashes = new Map<string, number>();

function labelHash(label: string): number {
  const known = labelHashes.get(label);
  if (known !== undefined) return known;
  if (labelHashes.size >= MAX_TABLE_LABELS) labelHashes = new Map();
  const h = hashString(label);
  labelHashes.set(label, h);
  return h;
}

/** Column buffers of a finished trace, kept for the next trace (see Trace.recycle). */
interface Columns {
  tasks: Int32Array<ArrayBuffer>;
  labels: string[];
  choices: Int32Array<ArrayBuffer>;
  choiceSteps: Int32Array<ArrayBuffer>;
}
let spare: Columns | null = null;
const DETACHED = new Int32Array(0);
const NO_LABELS: string[] = [];

/**
 * The trace made before this one, whose length sizes the next trace's columns: the runs of a
 * search have similar lengths, so a fresh trace (one that gets no recycled buffers) starts at the
 * previous run's size instead of doubling its way there. Capped, so one long run (a livelock at
 * the step limit) does not make every later trace large.
 */
let previous: Trace | null = null;
const MIN_STEPS = 1024;
const MIN_CHOICES = 256;
const MAX_PRESIZE = 1 << 20;

function presize(used: number | undefined, min: number): number {
  let n = min;
  if (used === undefined) return n;
  const want = Math.min(used, MAX_PRESIZE);
  while (n < want) n *= 2;
  return n;
}

/** Options of Trace.recycle(). */
export interface RecycleOptions {
  /**
   * Take the trace's hash before the buffers go, so it stays readable (default true). False skips
   * that pass over the steps; reading the hash afterwards throws.
   */
  keepHash?: boolean;
}

export class Trace {
  private readonly taskNames = new Map<number, string>();
  // Task ids and choices in typed arrays that double when full; labels in an array (a store of
  // the string the point was given: no lookup on the scheduler's hot path).
  private tasksCol: Int32Array<ArrayBuffer>;
  private labelsCol: string[];
  private n = 0;
  private choicesCol: Int32Array<ArrayBuffer>;
  private choiceStepsCol: Int32Array<ArrayBuffer>;
  private cn = 0;
  private recycled = false;
  /** Recycled without taking the hash first (recycle({ keepHash: false })). */
  private hashDropped = false;
  /** The hash of the whole trace, kept when it is recycled. */
  private finalHash = 0;
  // The hash is computed lazily and incrementally, off the hot path.
  private hs = FNV_OFFSET;
  private hc = FNV_OFFSET;
  private hashedSteps = 0;
  private hashedChoices = 0;

  constructor() {
    const c = spare;
    spare = null;
    const prev = previous;
    previous = this;
    if (c) {
      this.tasksCol = c.tasks;
      this.labelsCol = c.labels;
      this.choicesCol = c.choices;
      this.choiceStepsCol = c.choiceSteps;
    } else {
      const steps = presize(prev?.n, MIN_STEPS);
      const choices = presize(prev?.cn, MIN_CHOICES);
      this.tasksCol = new Int32Array(steps);
      // Holey until filled, never read past n; stores past its length append.
      this.labelsCol = new Array<string>(steps);
      this.choicesCol = new Int32Array(choices);
      this.choiceStepsCol = new Int32Array(choices);
    }
  }

  /**
   * Hands this trace's buffers to the next trace created, which saves allocating and growing
   * them run after run (explore() recycles the trace of every passing run once its onRun has
   * returned). The trace is then empty for good: reading a step or its choices throws; its hash,
   * taken before the buffers go, stays readable, unless `keepHash: false` skips that pass over
   * the steps (a campaign's passing runs, whose hash nothing reads): reading the hash then throws.
   */
  recycle(opts?: RecycleOptions): void {
    if (this.recycled) return;
    if (opts?.keepHash === false) this.hashDropped = true;
    else this.finalHash = this.hash;
    this.recycled = true;
    spare = {
      tasks: this.tasksCol,
      labels: this.labelsCol,
      choices: this.choicesCol,
      choiceSteps: this.choiceStepsCol,
    };
    this.tasksCol = this.choicesCol = this.choiceStepsCol = DETACHED;
    this.labelsCol = NO_LABELS;
    this.n = this.cn = this.hashedSteps = this.hashedChoices = 0;
  }

  private live(): void {
    if (this.recycled)
      throw new Error(
        "this trace was recycled: explore() reuses a passing run's trace buffers for the next run, so read a passing run's trace or token inside onRun",
      );
  }

  /** The distinct labels of this trace, in order of first appearance. */
  get labels(): string[] {
    this.live();
    return [...new Set(this.labelsCol.slice(0, this.n))];
  }

  get length(): number {
    return this.n;
  }

  /** Number of recorded choices. */
  get choiceCount(): number {
    return this.cn;
  }

  /** Every nondeterministic choice, in order (task ids or data values). */
  get choices(): number[] {
    this.live();
    return Array.from(this.choicesCol.subarray(0, this.cn));
  }

  /** The step at which each choice was made. */
  get choiceSteps(): number[] {
    this.live();
    return Array.from(this.choiceStepsCol.subarray(0, this.cn));
  }

  /** Task id of step n (1-based). */
  taskAt(n: number): number {
    return this.tasksCol[n - 1]!;
  }

  /** The trace hash so far (unsigned 32-bit). */
  get hash(): number {
    if (this.hashDropped)
      throw new Error(
        "this trace was recycled without its hash (recycle({ keepHash: false })): read the hash before recycling",
      );
    if (this.recycled) return this.finalHash;
    let h = this.hs;
    // A one-entry cache: a task usually repeats its last label in a loop.
    let last = "";
    let lastHash = 0;
    for (let i = this.hashedSteps; i < this.n; i++) {
      const label = this.labelsCol[i]!;
      if (label !== last || i === this.hashedSteps) {
        last = label;
        lastHash = labelHash(label);
      }
      h = mix(mix(h, this.tasksCol[i]!), lastHash);
    }
    this.hs = h;
    this.hashedSteps = this.n;
    let c = this.hc;
    for (let i = this.hashedChoices; i < this.cn; i++) c = mix(c, this.choicesCol[i]!);
    this.hc = c;
    this.hashedChoices = this.cn;
    return mix(h, c) >>> 0;
  }

  /** Hex form of the hash, as printed in reports. */
  get hashHex(): string {
    return this.hash.toString(16).padStart(8, "0");
  }

  step(taskId: number, label: string): void {
    const n = this.n;
    if (n === this.tasksCol.length) this.tasksCol = grow(this.tasksCol);
    this.tasksCol[n] = taskId;
    this.labelsCol[n] = label;
    this.n = n + 1;
  }

  choice(value: number): void {
    const c = this.cn;
    if (c === this.choicesCol.length) {
      this.choicesCol = grow(this.choicesCol);
      this.choiceStepsCol = grow(this.choiceStepsCol);
    }
    this.choicesCol[c] = value;
    this.choiceStepsCol[c] = this.n;
    this.cn = c + 1;
  }

  nameTask(id: number, name: string): void {
    this.taskNames.set(id, name);
  }

  taskName(id: number): string {
    return this.taskNames.get(id) ?? `task${id}`;
  }

  /** Step `n` (1-based). */
  at(n: number): TraceStep {
    this.live();
    if (!(n >= 1 && n <= this.n)) throw new RangeError(`no step ${n} in a trace of ${this.n}`);
    const taskId = this.tasksCol[n - 1]!;
    return {
      step: n,
      taskId,
      task: this.taskName(taskId),
      label: this.labelsCol[n - 1]!,
    };
  }

  /** Steps from..to (1-based, inclusive). */
  steps(from = 1, to = this.length): TraceStep[] {
    const out: TraceStep[] = [];
    for (let n = Math.max(1, from); n <= Math.min(to, this.length); n++) out.push(this.at(n));
    return out;
  }

  /** The first step at which two traces differ, or 0 if one is a prefix of the other and equal length. */
  firstDifference(other: Trace): number {
    const n = Math.min(this.length, other.length);
    for (let i = 1; i <= n; i++) {
      const a = this.at(i);
      const b = other.at(i);
      if (a.taskId !== b.taskId || a.label !== b.label) return i;
    }
    return this.length === other.length ? 0 : n + 1;
  }

  /** One line per step: `  42  writer[2]  kref_put(entry)`. */
  format(opts: { from?: number; to?: number; last?: number } = {}): string {
    const to = opts.to ?? this.length;
    const from = opts.last !== undefined ? Math.max(1, to - opts.last + 1) : (opts.from ?? 1);
    return this.steps(from, to)
      .map(
        (s) => `${String(s.step).padStart(6)}  ${`${s.task}[${s.taskId}]`.padEnd(18)} ${s.label}`,
      )
      .join("\n");
  }
}
