/**
 * The JSON report of a campaign (schema `primetime-stress/report`, version 1; README.md
 * documents every field). Everything in it but `timing` is a function of the command line: the
 * same command and seeds give the same report apart from `timing`, whatever the number of
 * workers, and `merge` of the shard reports of a split campaign gives the report of the unsplit
 * one.
 */
import { decodeToken, type RunResult, replay } from "../engine.js";
import { formatRaceWindow, palette } from "../format.js";
import { type CampaignConfig, describeConfig, formatStrategy } from "./config.js";
import { minimizeFinding } from "./minimize.js";
import type { CampaignRun } from "./runner.js";
import { emptyTally, type FindingRecord, mergeTally, type UnitTally } from "./tally.js";
import { parseUnitKey, unitBody } from "./units.js";

export const REPORT_SCHEMA = "primetime-stress/report";
export const REPORT_VERSION = 1;

export interface UnitReport {
  readonly unit: string;
  readonly scenario: string;
  readonly drivers: readonly string[];
  readonly expect: string;
  readonly schedules: number;
  readonly failingSchedules: number;
  readonly findings: number;
  readonly steps: { total: number; min: number; max: number; mean: number };
  readonly outcomes: Record<string, number>;
  /** DFS: every schedule within the preemption bound was run. */
  readonly complete: boolean;
}

export interface MinimizedReport {
  readonly token: string;
  readonly rows: number;
  readonly raceTable: string;
}

export interface FindingReport {
  /** "F1", "F2", ... in unit order, then schedule order. */
  readonly id: string;
  readonly unit: string;
  readonly scenario: string;
  readonly drivers: readonly string[];
  /** Schedule index within the unit and its seed. */
  readonly index: number;
  readonly seed: number;
  /**
   * The campaign's strategy ("pct:3"); under the portfolio, with the member that ran this
   * schedule: "portfolio:3 (pct:4)".
   */
  readonly strategy: string;
  readonly token: string;
  /** Schedules of the unit that failed with this signature. */
  readonly schedules: number;
  readonly signature: string;
  readonly outcome: string;
  readonly firstSplat: string;
  readonly splats: FindingRecord["splats"];
  /** The race table of the failing schedule (the steps up to the first splat). */
  readonly raceTable: string;
  /** The minimized schedule (the engine's minimize(): same bug, fewest preemptions and steps). */
  readonly minimized: MinimizedReport | null;
  /** A command that replays it. */
  readonly replay: string;
}

export interface CampaignReport {
  readonly schema: typeof REPORT_SCHEMA;
  readonly version: typeof REPORT_VERSION;
  readonly config: Record<string, unknown>;
  readonly totals: {
    units: number;
    schedules: number;
    failingSchedules: number;
    findings: number;
    steps: number;
  };
  readonly units: readonly UnitReport[];
  readonly findings: readonly FindingReport[];
  /** The only fields that vary between two runs of the same command. */
  readonly timing: {
    elapsedMs: number;
    schedulesPerSecond: number;
    workers: number;
    stoppedEarly: boolean;
  };
}

export const REPLAY_COMMAND = "pnpm -s stress replay";

/** Replays a finding's token and renders its race table (no colours). */
export async function replayFinding(unit: string, token: string): Promise<RunResult> {
  return replay(token, unitBody(parseUnitKey(unit)), { scenario: unit });
}

export function raceTableOf(unit: string, r: RunResult): string {
  const u = parseUnitKey(unit);
  return formatRaceWindow(r, palette(false), { hide: u.scenario.harnessTasks });
}

/** The strategy that recorded a token: "pct:4", "random", "pos". */
function memberOf(token: string): string {
  const t = decodeToken(token);
  return t.strategy === "pct" ? `pct:${t.param}` : t.strategy;
}

/** Everything of a finding that comes from its tally record and unit, plus its race table. */
async function renderFinding(
  unit: string,
  strategy: string,
  f: FindingRecord,
  known?: FindingReport,
): Promise<Omit<FindingReport, "id">> {
  const u = parseUnitKey(unit);
  let raceTable = known?.raceTable;
  if (raceTable === undefined) raceTable = raceTableOf(unit, await replayFinding(unit, f.token));
  let minimized = known?.minimized ?? null;
  if (!known) {
    const m = await minimizeFinding(unit, f.token);
    minimized = { token: m.token, rows: m.rows, raceTable: m.raceTable };
  }
  return {
    unit,
    scenario: u.scenario.name,
    drivers: u.drivers.map((d) => d.name),
    index: f.index,
    seed: f.seed,
    strategy: strategy.startsWith("portfolio") ? `${strategy} (${memberOf(f.token)})` : strategy,
    token: f.token,
    schedules: f.count,
    signature: f.signature,
    outcome: f.outcome,
    firstSplat: f.firstSplat,
    splats: f.splats,
    raceTable,
    minimized,
    replay: `${REPLAY_COMMAND} ${f.token}`,
  };
}

function unitReport(t: UnitTally): UnitReport {
  const u = parseUnitKey(t.key);
  return {
    unit: t.key,
    scenario: u.scenario.name,
    drivers: u.drivers.map((d) => d.name),
    expect: u.scenario.expect,
    schedules: t.schedules,
    failingSchedules: t.failing,
    findings: Object.keys(t.findings).length,
    steps: {
      total: t.steps,
      min: t.minSteps,
      max: t.maxSteps,
      mean: t.schedules ? Math.round((t.steps / t.schedules) * 10) / 10 : 0,
    },
    outcomes: { ...t.outcomes },
    complete: t.complete,
  };
}

/**
 * Called before each finding is replayed and minimized (`done` of `total` so far), so that a
 * caller can show progress: minimizing takes up to MINIMIZE_BUDGET runs per finding.
 */
export type FindingProgress = (done: number, total: number, unit: string) => void;

/** Builds a report from tallies (in unit order); `known` supplies already rendered findings. */
export async function buildReport(
  config: Record<string, unknown>,
  tallies: readonly UnitTally[],
  timing: CampaignReport["timing"],
  known: readonly FindingReport[] = [],
  onFinding?: FindingProgress,
): Promise<CampaignReport> {
  const strategy = String(config.strategy);
  const byToken = new Map(known.map((f) => [f.token, f]));
  const findings: FindingReport[] = [];
  const total = tallies.reduce((a, t) => a + Object.keys(t.findings).length, 0);
  for (const t of tallies) {
    const records = Object.values(t.findings).sort((a, b) => a.index - b.index);
    for (const f of records) {
      const k = byToken.get(f.token);
      if (!k) onFinding?.(findings.length, total, t.key);
      const r = await renderFinding(t.key, strategy, f, k);
      findings.push({ id: `F${findings.length + 1}`, ...r });
    }
  }
  const units = tallies.map(unitReport);
  return {
    schema: REPORT_SCHEMA,
    version: REPORT_VERSION,
    config,
    totals: {
      units: units.length,
      schedules: units.reduce((a, u) => a + u.schedules, 0),
      failingSchedules: units.reduce((a, u) => a + u.failingSchedules, 0),
      findings: findings.length,
      steps: units.reduce((a, u) => a + u.steps.total, 0),
    },
    units,
    findings,
    timing,
  };
}

/** The report of a finished campaign. */
export function campaignReport(
  c: CampaignConfig,
  run: CampaignRun,
  onFinding?: FindingProgress,
): Promise<CampaignReport> {
  const schedules = run.tallies.reduce((a, t) => a + t.schedules, 0);
  return buildReport(
    describeConfig(c),
    run.tallies,
    {
      elapsedMs: run.elapsedMs,
      schedulesPerSecond: run.elapsedMs > 0 ? Math.round((schedules / run.elapsedMs) * 1000) : 0,
      workers: run.workers,
      stoppedEarly: run.stoppedEarly,
    },
    [],
    onFinding,
  );
}

/** The tallies a report was made of (for merge). */
export function talliesOf(r: CampaignReport): UnitTally[] {
  return r.units.map((u) => {
    const t = emptyTally(u.unit);
    t.schedules = u.schedules;
    t.failing = u.failingSchedules;
    t.steps = u.steps.total;
    t.minSteps = u.steps.min;
    t.maxSteps = u.steps.max;
    for (const [k, v] of Object.entries(u.outcomes)) (t.outcomes as Record<string, number>)[k] = v;
    t.complete = u.complete;
    for (const f of r.findings.filter((x) => x.unit === u.unit))
      t.findings[f.signature] = {
        signature: f.signature,
        index: f.index,
        seed: f.seed,
        token: f.token,
        count: f.schedules,
        outcome: f.outcome as FindingRecord["outcome"],
        firstSplat: f.firstSplat,
        splats: f.splats,
      };
    return t;
  });
}

/** A report without its timing fields: what two runs of one command agree on. */
export function withoutTiming(r: CampaignReport): Omit<CampaignReport, "timing"> {
  const { timing: _t, ...rest } = r;
  return rest;
}

/** Throws an Error saying why `x` is not a report of this schema and version. */
export function checkReport(x: unknown, where: string): CampaignReport {
  const r = x as Partial<CampaignReport> | null;
  if (!r || typeof r !== "object" || r.schema !== REPORT_SCHEMA)
    throw new Error(`${where} is not a primetime-stress report`);
  if (r.version !== REPORT_VERSION)
    throw new Error(
      `${where} is a report of version ${r.version}; this version reads ${REPORT_VERSION}`,
    );
  if (!Array.isArray(r.units) || !Array.isArray(r.findings) || !r.config)
    throw new Error(`${where} is a truncated report`);
  // Every field merge reads, with its type: a damaged or hand-edited report is refused here
  // with the field named, not with a TypeError (or an allocation of its shard count) later.
  const bad = (field: string, what: string) =>
    new Error(`${where} is a damaged report: ${field} is not ${what}`);
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const fields = (o: unknown, at: string, want: Record<string, (v: unknown) => boolean>) => {
    if (!isObject(o)) throw bad(at, "an object");
    for (const [k, ok] of Object.entries(want))
      if (!ok(o[k])) throw bad(`${at}.${k}`, `what this version writes there`);
  };
  const str = (v: unknown) => typeof v === "string";
  const num = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  const bool = (v: unknown) => typeof v === "boolean";
  if (!isObject(r.config)) throw bad("config", "an object");
  const shard = r.config.shard;
  if (shard !== null && !(typeof shard === "string" && SHARD_RE.test(shard)))
    throw bad("config.shard", "null or i/n with 1 <= i <= n <= 999999");
  if (typeof shard === "string") {
    const [i, n] = shard.split("/").map(Number) as [number, number];
    if (i < 1 || i > n) throw bad("config.shard", "null or i/n with 1 <= i <= n <= 999999");
  }
  r.units.forEach((u, k) => {
    fields(u, `units[${k}]`, {
      unit: str,
      schedules: count,
      failingSchedules: count,
      outcomes: isObject,
      complete: bool,
    });
    fields(u.steps, `units[${k}].steps`, { total: count, min: num, max: num });
    for (const [o, v] of Object.entries(u.outcomes))
      if (!count(v)) throw bad(`units[${k}].outcomes.${o}`, "a count");
  });
  r.findings.forEach((f, k) => {
    fields(f, `findings[${k}]`, {
      unit: str,
      signature: str,
      index: count,
      seed: num,
      token: str,
      schedules: count,
      outcome: str,
      firstSplat: str,
      splats: Array.isArray,
      raceTable: str,
      minimized: (v) => v === null || isObject(v),
    });
  });
  fields(r.timing, "timing", { elapsedMs: num, workers: count, stoppedEarly: bool });
  return r as CampaignReport;
}

/** A report's `config.shard` (formatShard()), digits as parseShard() takes them. */
const SHARD_RE = /^\d{1,6}\/\d{1,6}$/;

/**
 * Merges the reports of the shards of one campaign into the report of the unsplit campaign.
 * Every shard 1..n must be there exactly once, with the same configuration otherwise.
 */
export async function mergeReports(reports: readonly CampaignReport[]): Promise<CampaignReport> {
  if (reports.length === 0) throw new Error("nothing to merge");
  const strip = (r: CampaignReport) => JSON.stringify({ ...r.config, shard: null });
  const base = strip(reports[0]!);
  const shards = reports.map((r) => r.config.shard as string | null);
  const n = shards[0] ? Number(shards[0].split("/")[1]) : 1;
  for (const r of reports)
    if (strip(r) !== base)
      throw new Error("the reports are of different campaigns (their configurations differ)");
  if (shards.length !== n)
    throw new Error(
      `shards ${shards.map((s) => s ?? "none").join(", ")} do not make a whole campaign; accepted: the reports of shards 1/${n} .. ${n}/${n} of one campaign, each once`,
    );
  const seen = new Set(shards);
  const want = Array.from({ length: n }, (_, i) =>
    n === 1 && !shards[0] ? null : `${i + 1}/${n}`,
  );
  if (seen.size !== reports.length || want.some((s) => !seen.has(s)) || shards.length !== n)
    throw new Error(
      `shards ${shards.map((s) => s ?? "none").join(", ")} do not make a whole campaign; accepted: the reports of shards 1/${n} .. ${n}/${n} of one campaign, each once`,
    );
  const keys = reports[0]!.units.map((u) => u.unit);
  const merged = new Map(keys.map((k) => [k, emptyTally(k)]));
  for (const r of reports)
    for (const t of talliesOf(r)) {
      const m = merged.get(t.key);
      if (!m) throw new Error("the reports are of different campaigns (their units differ)");
      mergeTally(m, t);
    }
  const config = { ...reports[0]!.config, shard: null };
  const tallies = keys.map((k) => merged.get(k)!);
  const schedules = tallies.reduce((a, t) => a + t.schedules, 0);
  const elapsedMs = Math.max(...reports.map((r) => r.timing.elapsedMs));
  return buildReport(
    config,
    tallies,
    {
      elapsedMs,
      schedulesPerSecond: elapsedMs > 0 ? Math.round((schedules / elapsedMs) * 1000) : 0,
      workers: reports.reduce((a, r) => a + r.timing.workers, 0),
      stoppedEarly: reports.some((r) => r.timing.stoppedEarly),
    },
    reports.flatMap((r) => r.findings),
  );
}

export { formatStrategy };
