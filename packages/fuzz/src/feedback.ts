/**
 * Feedback-driven choice of race pairs: a campaign keeps statistics of which pairs of race
 * operations produced new interleavings, and concentrates its processes' races on the productive
 * ones (as coverage-guided fuzzers give energy to inputs that found new coverage).
 *
 * Coverage is the set of *interleaving edges* seen so far in the campaign: a pair (a, b) of
 * scheduling-point labels where the scheduler switched from a task at point a to another task at
 * point b. Labels are normalized (numbers and addresses dropped: `kref_put(vgem_object#12)` and
 * `kref_put(vgem_object#3)` are one label) so that coverage measures code paths, not objects.
 *
 * Each run, every process gets a plan (fuzz.ts's FuzzProcessPlan): half of them are *focused* on
 * one pair of race operations (or one operation against itself), the pair drawn with a weight
 * that is the recent yield of new edges per use of that pair (an exponential moving average;
 * untried pairs first); the others get a plan like the seed-drawn swarm's (a race weight and a
 * random subset of the operations), so nothing starves. Every draw comes from a PRNG seeded by
 * the campaign, and the statistics depend only on the runs, so a campaign is deterministic.
 * Nothing in here knows any race or toggle: the pairs are all pairs of RACE_OPS.
 */

import { Prng, type RunResult } from "@primetime/sim";
import { type FuzzProcessPlan, RACE_OPS, type RaceOp } from "./fuzz.js";

interface PairStat {
  readonly ops: readonly RaceOp[];
  uses: number;
  /** Recent new edges per use (exponential moving average); undefined until first used. */
  yield?: number;
}

/** Weight of the newest use in a pair's moving average. */
const ALPHA = 0.3;

/** A label without its numbers and addresses. */
function normalize(label: string): string {
  return label.replace(/0x[0-9a-f]+|\d+/g, "#");
}

export class RaceFeedback {
  private readonly prng: Prng;
  private readonly pairs: PairStat[] = [];
  private readonly edges = new Set<number>();
  private readonly labelIds = new Map<string, number>();
  private readonly normIds = new Map<string, number>();

  constructor(seed: number) {
    this.prng = new Prng(seed);
    for (let i = 0; i < RACE_OPS.length; i++)
      for (let j = i; j < RACE_OPS.length; j++)
        this.pairs.push({
          ops: i === j ? [RACE_OPS[i]!] : [RACE_OPS[i]!, RACE_OPS[j]!],
          uses: 0,
        });
  }

  /** Interleaving edges seen so far. */
  get coverage(): number {
    return this.edges.size;
  }

  /** The plans of the next run's `processes` processes. */
  plan(processes: number): FuzzProcessPlan[] {
    return Array.from({ length: processes }, () => {
      if (this.prng.below(2) === 0) {
        const p = this.pickPair();
        return { races: 30, raceOps: p.ops };
      }
      const races = [0, 4, 10, 30][this.prng.below(4)]!;
      let ops = RACE_OPS.filter(() => this.prng.below(3) === 0);
      if (ops.length === 0) ops = [RACE_OPS[this.prng.below(RACE_OPS.length)]!];
      return { races, raceOps: ops };
    });
  }

  /**
   * Feeds one run back: counts its new interleaving edges and credits them to the pairs its
   * focused processes raced. Returns the number of new edges.
   */
  record(plan: readonly FuzzProcessPlan[], run: RunResult): number {
    let fresh = 0;
    let prevTask = -1;
    let prevLabel = -1;
    for (const s of run.trace.steps()) {
      const l = this.labelId(s.label);
      if (prevTask !== -1 && s.taskId !== prevTask) {
        const edge = prevLabel * 65536 + l;
        if (!this.edges.has(edge)) {
          this.edges.add(edge);
          fresh++;
        }
      }
      prevTask = s.taskId;
      prevLabel = l;
    }
    const used = plan
      .map((p) => this.pairs.find((q) => sameOps(q.ops, p.raceOps)))
      .filter((q): q is PairStat => q !== undefined);
    for (const q of new Set(used)) {
      const gain = fresh / used.length;
      q.uses++;
      q.yield = q.yield === undefined ? gain : (1 - ALPHA) * q.yield + ALPHA * gain;
    }
    return fresh;
  }

  /** The pairs by recent yield, best first (for reports). */
  ranking(): { ops: readonly RaceOp[]; uses: number; yield: number }[] {
    return this.pairs
      .filter((p) => p.yield !== undefined)
      .map((p) => ({ ops: p.ops, uses: p.uses, yield: p.yield! }))
      .sort((a, b) => b.yield - a.yield);
  }

  private pickPair(): PairStat {
    const untried = this.pairs.filter((p) => p.uses === 0);
    if (untried.length > 0) return untried[this.prng.below(untried.length)]!;
    // Weights in integer units (the PRNG draws integers): the yield, plus a floor so that a pair
    // whose yield fell to nothing is still tried now and then.
    const w = this.pairs.map((p) => 1 + Math.round(100 * p.yield!));
    let c = this.prng.below(w.reduce((a, b) => a + b, 0));
    for (const [k, p] of this.pairs.entries()) {
      if (c < w[k]!) return p;
      c -= w[k]!;
    }
    return this.pairs[this.pairs.length - 1]!;
  }

  private labelId(label: string): number {
    let id = this.labelIds.get(label);
    if (id === undefined) {
      const n = normalize(label);
      id = this.normIds.get(n);
      if (id === undefined) {
        id = this.normIds.size;
        this.normIds.set(n, id);
      }
      this.labelIds.set(label, id);
    }
    return id;
  }
}

function sameOps(a: readonly RaceOp[], b: readonly RaceOp[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
