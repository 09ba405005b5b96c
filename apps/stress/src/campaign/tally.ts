/**
 * What a campaign counts, per unit, in a form that merges: sums, minima and maxima, and the
 * distinct findings keyed by signature keeping the lowest schedule index. Merging is associative
 * and commutative, so the result does not depend on how the schedules were split between
 * workers or shards.
 */
import { fileURLToPath } from "node:url";
import type { RunOutcome, RunResult, Splat } from "../engine.js";
import { formatSplat } from "../engine.js";

/** The repository's root, with its trailing slash (this file is apps/stress/{src,dist}/campaign/). */
const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/**
 * `text` with the repository's absolute path cut from the file names in it (the stack frame an
 * unhandled exception's splat names), so that a report does not depend on where the repository
 * is checked out: shards run on machines with other paths merge into the unsplit run's report.
 */
export function repoRelative(text: string): string {
  return text.split(REPO_ROOT).join("");
}

/** One distinct failure of a unit: the first schedule (lowest index) that showed it. */
export interface FindingRecord {
  /** Normalized first splat (or outcome) that identifies the bug. */
  readonly signature: string;
  /** Schedule index within the unit. */
  readonly index: number;
  readonly seed: number;
  readonly token: string;
  /** Schedules of the unit that showed this signature. */
  readonly count: number;
  readonly outcome: RunOutcome;
  /** The first splat as dmesg prints it (or the outcome's message). */
  readonly firstSplat: string;
  /** Kind, message and object of every splat of that schedule (at most 10). */
  readonly splats: readonly { kind: string; message: string; object: string | null }[];
}

export interface UnitTally {
  readonly key: string;
  schedules: number;
  failing: number;
  steps: number;
  minSteps: number;
  maxSteps: number;
  outcomes: Record<RunOutcome, number>;
  /** DFS: every schedule within the bound was run. */
  complete: boolean;
  findings: Record<string, FindingRecord>;
}

export function emptyTally(key: string): UnitTally {
  return {
    key,
    schedules: 0,
    failing: 0,
    steps: 0,
    minSteps: 0,
    maxSteps: 0,
    outcomes: { ok: 0, deadlock: 0, livelock: 0, escape: 0, "replay-mismatch": 0 },
    complete: false,
    findings: {},
  };
}

/** A run fails on any splat or any outcome other than `ok`. */
export function isFailure(r: RunResult): boolean {
  return r.outcome !== "ok" || r.splats.length > 0;
}

/** Addresses, ids and counts out of a message, so one bug has one signature. */
export function normalize(message: string): string {
  return message
    .replace(/0x[0-9a-f]+/gi, "0x_")
    .replace(/#\d+/g, "#_")
    .replace(/\d+/g, "N")
    .split("\n")[0]!
    .slice(0, 200);
}

export function signatureOf(r: RunResult): string {
  const s = r.splats[0];
  if (s) return `${s.kind}: ${normalize(s.message)}`;
  return `${r.outcome}: ${normalize(r.message ?? "")}`;
}

function splatSummary(s: Splat) {
  return { kind: s.kind, message: repoRelative(s.message), object: s.object ?? null };
}

/** Adds one run (schedule `index`, seed `seed`) to a tally. */
export function addRun(t: UnitTally, r: RunResult, index: number, seed: number): void {
  t.minSteps = t.schedules === 0 ? r.steps : Math.min(t.minSteps, r.steps);
  t.maxSteps = Math.max(t.maxSteps, r.steps);
  t.schedules++;
  t.steps += r.steps;
  t.outcomes[r.outcome]++;
  if (!isFailure(r)) return;
  t.failing++;
  const signature = signatureOf(r);
  const prev = t.findings[signature];
  if (prev && prev.index <= index) {
    t.findings[signature] = { ...prev, count: prev.count + 1 };
    return;
  }
  t.findings[signature] = {
    signature,
    index,
    seed,
    token: r.token,
    count: (prev?.count ?? 0) + 1,
    outcome: r.outcome,
    firstSplat: repoRelative(
      r.splats[0] ? formatSplat(r.splats[0]) : `${r.outcome}: ${r.message ?? ""}`,
    ),
    splats: r.splats.slice(0, 10).map(splatSummary),
  };
}

/** Merges `b` into `a` (same unit). */
export function mergeTally(a: UnitTally, b: UnitTally): UnitTally {
  if (b.schedules > 0) {
    a.minSteps = a.schedules === 0 ? b.minSteps : Math.min(a.minSteps, b.minSteps);
    a.maxSteps = Math.max(a.maxSteps, b.maxSteps);
  }
  a.schedules += b.schedules;
  a.failing += b.failing;
  a.steps += b.steps;
  for (const k of Object.keys(a.outcomes) as RunOutcome[]) a.outcomes[k] += b.outcomes[k];
  a.complete ||= b.complete;
  for (const [sig, f] of Object.entries(b.findings)) {
    const prev = a.findings[sig];
    if (!prev) a.findings[sig] = f;
    else {
      const first = prev.index <= f.index ? prev : f;
      a.findings[sig] = { ...first, count: prev.count + f.count };
    }
  }
  return a;
}
