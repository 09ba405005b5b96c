/**
 * The demo, in two parts.
 *
 * 1. The lifetime scenarios (kref.rst, AB-BA): each searched with PCT and with bounded DFS, each
 *    finding printed with its splats, race table and replay token, the token replayed to show it
 *    reproduces the same splats, and a summary of which scenarios behaved as expected.
 * 2. The historic DRM races: every toggle a scenario finds (but one too slow for the demo,
 *    ToggleCase.demo, which `bugs` and `hunt` hunt) is hunted (PCT with the toggle on, the
 *    finding replayed, the same budget with every toggle off), the first hunt shown in full, and
 *    a summary line per toggle.
 */
import type { RunResult } from "@primetime/sim";
import {
  type ExploreResult,
  resolveSearchOptions,
  type SearchOptions,
} from "@primetime/sim/explore";
import { DEMO_DEFAULTS } from "./cli-defaults.js";
import { asExpected, checkReplay, type ReplayCheck, search } from "./findings.js";
import { type Colors, describeSpec, formatFinding, indent, progressEvery } from "./format.js";
import { describeReplay, formatHunt, type HuntReport, hunt, huntSpec } from "./hunt.js";
import { LIFETIME_SCENARIOS, type StressScenario } from "./scenarios/index.js";
import { demoToggles, type ToggleEntry, toggleTable } from "./toggles.js";

export interface DemoOptions {
  /** PCT base seed. */
  seed: number;
  /** PCT schedules per scenario. */
  schedules: number;
  /** PCT depth. */
  depth: number;
  /** DFS preemption bound. */
  bound: number;
  /** DFS schedules per scenario at most (the bounded search usually completes well before). */
  dfsSchedules: number;
  /** PCT schedules of each hunt, with the toggle on and again with every toggle off. */
  huntSchedules: number;
}

export { DEMO_DEFAULTS };

/** Where the demo writes: lines, and (on a terminal) a transient progress line. */
export interface DemoOutput {
  log(text: string): void;
  /** Shows a progress line, or clears it with null. Absent: no progress output. */
  progress?(line: string | null): void;
}

/** What the demo found for one scenario. */
export interface ScenarioReport {
  readonly scenario: StressScenario;
  readonly pctSpec: SearchOptions;
  readonly pct: ExploreResult;
  readonly dfsSpec: SearchOptions;
  readonly dfs: ExploreResult;
  /** The failing run shown: PCT's first failure, else DFS's; null when neither failed. */
  readonly shown: RunResult | null;
  /** The replay of `shown`'s token (null when nothing failed). */
  readonly replay: ReplayCheck | null;
  /** Why the replay could not run (a mismatch), if it could not. */
  readonly replayError: string | null;
  /** Both searches agree with the expectation, and the replay reproduced the finding. */
  readonly ok: boolean;
}

/** Searches one scenario with PCT and DFS and replays what they found. */
export async function checkScenario(
  s: StressScenario,
  opts: DemoOptions = DEMO_DEFAULTS,
  out?: DemoOutput,
): Promise<ScenarioReport> {
  const show = out?.progress ? (line: string) => out.progress?.(line) : undefined;
  const pctSpec: SearchOptions = {
    strategy: "pct",
    depth: opts.depth,
    schedules: opts.schedules,
    seed: opts.seed,
  };
  const pct = await search(s, pctSpec, progressEvery(show, `${s.name}: pct`, opts.schedules));
  const dfsSpec: SearchOptions = {
    strategy: "dfs",
    preemptionBound: opts.bound,
    schedules: opts.dfsSchedules,
  };
  const dfs = await search(s, dfsSpec, progressEvery(show, `${s.name}: dfs`, opts.dfsSchedules));
  out?.progress?.(null);
  const shown = pct.firstFailure ?? dfs.firstFailure;
  let replay: ReplayCheck | null = null;
  let replayError: string | null = null;
  if (shown) {
    try {
      replay = await checkReplay(s, shown);
    } catch (e) {
      replayError = e instanceof Error ? e.message : String(e);
    }
  }
  const replayed = shown === null || (replay?.sameSplats === true && replay.sameTrace);
  return {
    scenario: s,
    pctSpec,
    pct,
    dfsSpec,
    dfs,
    shown,
    replay,
    replayError,
    ok: asExpected(s, pct) && asExpected(s, dfs) && replayed,
  };
}

/** "found in schedule 3 of at most 300", "no splat in 300 schedules (dfs complete ...)". */
export function describeResult(given: SearchOptions, res: ExploreResult): string {
  const spec = resolveSearchOptions(given);
  if (res.firstFailure) {
    const r = res.firstFailure;
    const splats = `${r.splats.length} splat${r.splats.length === 1 ? "" : "s"}`;
    return `found in schedule ${res.schedules} of at most ${spec.schedules} (outcome ${r.outcome}, ${splats})`;
  }
  const n = `no splat in ${res.schedules} schedule${res.schedules === 1 ? "" : "s"}`;
  if (spec.strategy !== "dfs") return n;
  return res.complete
    ? `${n} (dfs complete within bound ${spec.preemptionBound})`
    : `${n} (dfs NOT complete within bound ${spec.preemptionBound}: the schedule budget ran out)`;
}

/** The demo's account of one scenario. */
export function formatScenarioReport(
  rep: ScenarioReport,
  c: Colors,
  index: number,
  count: number,
): string {
  const s = rep.scenario;
  const lines = [
    `${c.bold(`[${index}/${count}] ${s.name}`)}  expect ${c.bold(s.expect)}`,
    `  ${s.description}`,
    c.dim(`  ${s.kernelRef}`),
    `  ${describeSpec(rep.pctSpec)}: ${describeResult(rep.pctSpec, rep.pct)}`,
    `  ${describeSpec(rep.dfsSpec)}: ${describeResult(rep.dfsSpec, rep.dfs)}`,
  ];
  if (rep.shown) {
    const from = rep.pct.firstFailure ? "pct" : "dfs";
    lines.push(`  the failing ${from} run:`);
    lines.push(indent(formatFinding(rep.shown, c), "    "));
    if (rep.replayError) lines.push(c.red(`  replay failed: ${rep.replayError}`));
    else if (rep.replay)
      lines.push(`  replay of the token: ${describeReplay(rep.replay, null, c)}`);
  } else {
    const n = rep.pct.schedules + rep.dfs.schedules;
    const spec = resolveSearchOptions(rep.dfsSpec);
    const bound = spec.strategy === "dfs" ? spec.preemptionBound : 0;
    const complete = rep.dfs.complete
      ? `dfs complete within bound ${bound}`
      : `dfs NOT complete within bound ${bound}`;
    lines.push(`  no splat in ${n} schedules (${complete})`);
  }
  lines.push(
    rep.ok
      ? c.green(`  => as expected (${s.expect})`)
      : c.red(`  => NOT as expected (expected ${s.expect})`),
  );
  return lines.join("\n");
}

function cell(res: ExploreResult, spec: SearchOptions): string {
  if (res.firstFailure)
    return `${res.firstFailure.outcome === "deadlock" ? "deadlock" : "splat"} @${res.schedules}`;
  const incomplete = spec.strategy === "dfs" && !res.complete ? " incomplete" : "";
  return `clean/${res.schedules}${incomplete}`;
}

/**
 * A summary table: the bold `header`, a rule, then `rows` (a row is red where `ok` is false),
 * each column padded to its widest cell; a blank line and the `total` line of the rows that are
 * ok out of all, green if every row is.
 */
function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  ok: readonly boolean[],
  total: (good: number, count: number) => string,
  c: Colors,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: readonly string[]) =>
    row
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const lines = [c.bold(fmt(header)), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const [i, row] of rows.entries()) {
    const line = fmt(row);
    lines.push(ok[i] ? line : c.red(line));
  }
  const good = ok.filter(Boolean).length;
  const line = total(good, ok.length);
  lines.push("", good === ok.length ? c.green(line) : c.red(line));
  return lines.join("\n");
}

/** The summary table: one row per scenario. */
export function formatSummary(reports: readonly ScenarioReport[], c: Colors): string {
  const rows = reports.map((r) => [
    r.scenario.name,
    r.scenario.expect,
    cell(r.pct, r.pctSpec),
    cell(r.dfs, r.dfsSpec),
    r.shown === null ? "-" : r.replay?.sameSplats && r.replay.sameTrace ? "same" : "DIFFERS",
    r.ok ? "ok" : "UNEXPECTED",
  ]);
  const header = ["scenario", "expect", "pct", "dfs", "replay", "result"];
  const ok = reports.map((r) => r.ok);
  return formatTable(
    header,
    rows,
    ok,
    (good, n) => `${good} of ${n} scenarios behaved as expected`,
    c,
  );
}

/** Hunts every toggle of `toggles` with the demo's seed, depth and hunt budget. */
export async function huntToggles(
  toggles: readonly ToggleEntry[],
  opts: DemoOptions = DEMO_DEFAULTS,
  out?: DemoOutput,
): Promise<HuntReport[]> {
  const show = out?.progress ? (line: string) => out.progress?.(line) : undefined;
  const reports: HuntReport[] = [];
  for (const t of toggles) {
    const schedules = Math.min(opts.huntSchedules, t.maxSchedules ?? Number.POSITIVE_INFINITY);
    const spec = huntSpec(t, { seed: opts.seed, depth: opts.depth, schedules });
    reports.push(
      await hunt(t, spec, (phase) =>
        progressEvery(show, `${t.name}: pct, toggle ${phase}`, spec.schedules),
      ),
    );
    out?.progress?.(null);
  }
  return reports;
}

/** The hunts' summary table: one row per toggle. */
export function formatHuntSummary(hunts: readonly HuntReport[], c: Colors): string {
  const rows = hunts.map((h) => [
    h.toggle.name,
    h.scenario.name,
    h.finding ? `@${h.on.schedules}` : `NOT in ${h.on.schedules}`,
    h.cleanWhenOff ? `clean/${h.off.schedules}` : `FAILS @${h.off.schedules}`,
    h.finding === null ? "-" : h.reproduces ? "same" : "DIFFERS",
    h.ok ? "ok" : "UNEXPECTED",
  ]);
  const header = ["toggle", "scenario", "found", "toggles off", "replay", "result"];
  const ok = hunts.map((h) => h.ok);
  const total = (good: number, n: number) =>
    `${good} of ${n} race toggles found, reproduced from their tokens, and clean with every toggle off`;
  return formatTable(header, rows, ok, total, c);
}

/**
 * Runs the demo and prints it: the lifetime `scenarios`, then the hunts of `toggles` (see the
 * file comment). Returns the exit code: 0 if every scenario and every hunt behaved as expected,
 * 1 otherwise.
 */
export async function demo(
  opts: DemoOptions,
  out: DemoOutput,
  c: Colors,
  scenarios: readonly StressScenario[] = LIFETIME_SCENARIOS,
  toggles: readonly ToggleEntry[] = demoToggles(),
): Promise<number> {
  out.log(
    c.bold(
      `primetime stress demo: ${scenarios.length} scenarios, pct depth ${opts.depth} x ${opts.schedules} schedules (seed ${opts.seed}), dfs preemption bound ${opts.bound}`,
    ),
  );
  out.log("");
  const reports: ScenarioReport[] = [];
  for (const [i, s] of scenarios.entries()) {
    const rep = await checkScenario(s, opts, out);
    reports.push(rep);
    out.log(formatScenarioReport(rep, c, i + 1, scenarios.length));
    out.log("");
  }
  out.log(formatSummary(reports, c));
  if (toggles.length === 0) return reports.every((r) => r.ok) ? 0 : 1;

  out.log("");
  out.log(
    c.bold(
      `historic DRM races: ${toggles.length} toggles, each hunted in the scenario that finds it (conformance cases on vgem, TTM's and the drivers' races on their own machine, sharing scenarios on their drivers) with pct depth ${opts.depth} (seed ${opts.seed}), at most ${opts.huntSchedules} schedules with the toggle on (fewer for slow scenarios), then as many with every toggle off`,
    ),
  );
  out.log("");
  const hunts = await huntToggles(toggles, opts, out);
  for (const [i, h] of hunts.entries()) {
    // The first hunt in full; the others only if they went wrong.
    if (i > 0 && h.ok) continue;
    out.log(indent(formatHunt(h, c), "  "));
    out.log("");
  }
  out.log(formatHuntSummary(hunts, c));
  for (const t of toggleTable()) {
    if (t.unfindable !== null) out.log(c.dim(`not hunted: ${t.name}: ${t.unfindable}`));
    else if (!t.inDemo)
      out.log(
        c.dim(
          `not in the demo: ${t.name}: \`bugs\` and \`hunt ${t.name}\` hunt it in ${t.scenario}${t.strategy ? ` under ${t.strategy}` : ""} (at most ${t.schedules} schedules)`,
        ),
      );
  }
  return reports.every((r) => r.ok) && hunts.every((h) => h.ok) ? 0 : 1;
}
