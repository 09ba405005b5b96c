/**
 * `@primetime/sim/testing`: what tests of every package need to judge a run: splats as text,
 * `expectClean(run)` and the vitest matcher `expect(run).toBeClean()` (both fail with the
 * outcome, the splats, the race table of the run and its replay token).
 *
 * Importing this module registers `toBeClean` with vitest's `expect` (vitest is an optional peer
 * dependency of @primetime/sim: only this entry point loads it).
 */

import { expect } from "vitest";
import { formatRaceTable, type RaceTableOptions } from "../explore/race-table.js";
import type { RunResult } from "../simulation.js";
import { formatSplat, type Splat } from "../splat.js";

/** The splats, formatted as dmesg shows them, one splat per entry. */
export function splatLines(r: RunResult | readonly Splat[]): string[] {
  const splats = "splats" in r ? r.splats : r;
  return splats.map((s) => formatSplat(s));
}

/** The splats, formatted as dmesg shows them, as one text. */
export function splatText(r: RunResult | readonly Splat[]): string {
  return splatLines(r).join("\n");
}

/** `kind: message` of each splat: short lines for `toEqual([])` style assertions. */
export function splatSummaries(r: RunResult | readonly Splat[]): string[] {
  const splats = "splats" in r ? r.splats : r;
  return splats.map((s) => `${s.kind}: ${s.message}`);
}

/** Why a run is not clean (its outcome, its splats), or null when it ended `ok` without any. */
export function noSplats(r: RunResult): string | null {
  if (r.outcome !== "ok") return `outcome ${r.outcome}${r.message ? `: ${r.message}` : ""}`;
  if (r.splats.length > 0) return `splats: ${splatSummaries(r).join("; ")}`;
  return null;
}

/** Rows of the race table shown in a failure message, at most. */
const TABLE_ROWS = 40;

/**
 * A failing run as a test failure shows it: the outcome, every splat, the last steps of the run
 * as a race table (one column per task) and the replay token.
 */
export function describeRun(r: RunResult, opts: RaceTableOptions = {}): string {
  const lines = [`outcome ${r.outcome}${r.message ? ` (${r.message})` : ""}, ${r.steps} steps`];
  if (r.splats.length) lines.push(splatText(r));
  if (r.trace.length) lines.push(formatRaceTable(r, { last: TABLE_ROWS, ...opts }));
  lines.push(`replay token: ${r.token}`);
  return lines.join("\n");
}

/** Throws (failing the test) unless the run ended `ok` without any splat. */
export function expectClean(r: RunResult): void {
  const why = noSplats(r);
  if (why !== null) throw new Error(`run not clean: ${why}\n${describeRun(r)}`);
}

function isRunResult(v: unknown): v is RunResult {
  return typeof v === "object" && v !== null && "outcome" in v && "splats" in v && "trace" in v;
}

/** The matchers this module registers with vitest's `expect`. */
export const simMatchers = {
  /** `expect(run).toBeClean()`: the run ended `ok` and reported no splat. */
  toBeClean(received: unknown) {
    if (!isRunResult(received)) {
      return {
        pass: false,
        message: () => "toBeClean() expects the RunResult of a simulation run",
      };
    }
    const why = noSplats(received);
    return {
      pass: why === null,
      message: () =>
        why === null
          ? "expected the run not to be clean, but it ended ok without any splat"
          : `expected the run to be clean, but: ${why}\n${describeRun(received)}`,
    };
  },
};

expect.extend(simMatchers);

declare module "vitest" {
  // biome-ignore lint/suspicious/noExplicitAny: the declaration merges with vitest's own.
  interface Matchers<T = any> {
    /** The run ended `ok` and reported no splat (see @primetime/sim/testing). */
    toBeClean(): void;
  }
}
