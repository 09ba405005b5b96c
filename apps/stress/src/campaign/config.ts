/**
 * A campaign's configuration, as parsed from the command line, and the parsers of its flags.
 * Every parser throws a UsageError whose message says what is accepted; the CLI prints it on one
 * line and exits 2.
 */
import { resolveSearchOptions, SEARCH_DEFAULTS, type SearchOptions } from "@primetime/sim/explore";
import { ACCEPTED_STRATEGIES, CAMPAIGN_DEFAULTS, short, UsageError } from "../cli-defaults.js";
import { type DriverUnderTest, installedDrivers } from "../drivers.js";
import { type FaultSpec, formatFaults } from "./campaign-scenario.js";
import { CAMPAIGN_SCENARIOS } from "./registry.js";

/**
 * A campaign's strategy is the engine's `SearchOptions` (of `@primetime/sim/explore`) as is: its
 * `strategy` name and the parameter that strategy reads (`depth` for pct, `preemptionBound` for
 * dfs), both filled in from SEARCH_DEFAULTS. Plain data, so workers get it.
 */
export type { SearchOptions } from "@primetime/sim/explore";
export { ACCEPTED_STRATEGIES, CAMPAIGN_DEFAULTS, short, UsageError };

/** "random", "pos", "pct:3", "portfolio:3", "dfs:2". */
export function formatStrategy(s: SearchOptions): string {
  const o = resolveSearchOptions(s);
  return o.strategy === "pct" || o.strategy === "portfolio"
    ? `${o.strategy}:${o.depth}`
    : o.strategy === "dfs"
      ? `dfs:${o.preemptionBound}`
      : o.strategy;
}

export function parseStrategy(text: string): SearchOptions {
  const m = /^(random|pos|pct|portfolio|dfs)(?::(\d{1,4}))?$/.exec(text);
  const bad = () =>
    new UsageError(`--strategy "${short(text)}" is not accepted; accepted: ${ACCEPTED_STRATEGIES}`);
  if (!m) throw bad();
  const n = m[2] === undefined ? undefined : Number(m[2]);
  if (m[1] === "random" || m[1] === "pos") {
    // pos: the engine's partial order sampling strategy (registered in @primetime/sim's
    // explore/strategies); like random, it takes no parameter.
    if (n !== undefined) throw bad();
    return { strategy: m[1] };
  }
  if (m[1] === "pct" || m[1] === "portfolio") {
    // portfolio: the engine's default cycle of PCT (depth + 1 and depth), POS and random, in
    // its campaign flavour (schedule.ts: members chosen by the schedule index, calibrated per
    // unit); its depth is its PCT depth.
    if (n !== undefined && n < 1) throw bad();
    return { strategy: m[1], depth: n ?? SEARCH_DEFAULTS.depth };
  }
  return { strategy: "dfs", preemptionBound: n ?? SEARCH_DEFAULTS.preemptionBound };
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "90s", "2m", "1h30m", "500ms" -> milliseconds. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  // In whole milliseconds, at least one: "0.1ms" would be a budget of 0 (a campaign of no
  // schedule that reports nothing found), a number too long for a double an infinite one.
  const ms = Math.round(total);
  if (text.length === 0 || matched !== text.length || !(ms >= 1 && Number.isFinite(ms)))
    throw new UsageError(
      `--time "${short(text)}" is not a duration; accepted: a number followed by ms, s, m or h, at least 1ms in all, e.g. 90s, 5m, 1h30m`,
    );
  return ms;
}

/** "--shard i/n" with 1 <= i <= n. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

export function parseShard(text: string): Shard {
  const m = /^(\d{1,6})\/(\d{1,6})$/.exec(text);
  const i = m ? Number(m[1]) : 0;
  const n = m ? Number(m[2]) : 0;
  if (!m || n < 1 || i < 1 || i > n)
    throw new UsageError(
      `--shard "${short(text)}" is not accepted; accepted: i/n with 1 <= i <= n <= 999999, e.g. 2/3`,
    );
  return { index: i, count: n };
}

export function formatShard(s: Shard): string {
  return `${s.index}/${s.count}`;
}

export function parseFaults(text: string): FaultSpec {
  const nth = /^nth:(\d{1,9})$/.exec(text);
  if (nth && Number(nth[1]) >= 1) return { kind: "nth", nth: Number(nth[1]) };
  const p = /^p:(0(?:\.\d+)?|1(?:\.0+)?|\.\d+)$/.exec(text);
  if (p && Number(p[1]) > 0) return { kind: "probability", p: Number(p[1]) };
  throw new UsageError(
    `--faults "${short(text)}" is not accepted; accepted: nth:N (fail the N-th allocation of every schedule, 1 <= N <= 999999999) or p:P (fail each allocation with probability 0 < P <= 1)`,
  );
}

/** Everything that determines a campaign's result (timing aside). Plain data: workers get it. */
export interface CampaignConfig {
  /** The scenario names selected. */
  readonly scenarios: readonly string[];
  /** The driver names selected. */
  readonly drivers: readonly string[];
  /** The search strategy and its parameter (see parseStrategy). */
  readonly strategy: SearchOptions;
  /** Schedules per unit (null with `time`). */
  readonly seeds: number | null;
  /** Time budget in ms (null with `seeds`). */
  readonly timeMs: number | null;
  /** Base seed. */
  readonly seed: number;
  /** Toggles on in every schedule. */
  readonly bugs: readonly string[];
  /**
   * Fix switches of known upstream windows on in every schedule: `baselineFixes()` by default
   * (a clean baseline reports no window current kernels still have), none with
   * `--open-windows` (the faithful model, windows open).
   */
  readonly fixes: readonly string[];
  readonly faults: FaultSpec | null;
  readonly shard: Shard | null;
  readonly failFast: boolean;
  /** Step limit of each schedule. */
  readonly stepLimit: number;
}

/** Shell-style glob (`*`, `?`) to a RegExp. */
function globRe(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

/**
 * `--scenario`: comma-separated names or globs; `all` is every scenario that is clean by design
 * (the kref.rst anti-patterns and the AB-BA deadlock run when named or matched by a glob).
 */
export function selectScenarios(spec: string): string[] {
  const out = new Set<string>();
  for (const part of spec.split(",").map((x) => x.trim())) {
    if (part === "all") {
      for (const s of CAMPAIGN_SCENARIOS) if (s.expect === "clean") out.add(s.name);
      continue;
    }
    const re = globRe(part);
    const hits = CAMPAIGN_SCENARIOS.filter((s) => re.test(s.name));
    if (part === "" || hits.length === 0)
      throw new UsageError(
        `--scenario "${short(part)}" matches no scenario; accepted: all, a name or a glob of: ${CAMPAIGN_SCENARIOS.map((s) => s.name).join(", ")}`,
      );
    for (const s of hits) out.add(s.name);
  }
  return CAMPAIGN_SCENARIOS.filter((s) => out.has(s.name)).map((s) => s.name);
}

/** `--drivers`: comma-separated installed driver names (default: all of them). */
export function selectDrivers(spec: string | undefined): string[] {
  const all = installedDrivers();
  if (spec === undefined) return all.map((d) => d.name);
  const names = spec.split(",").map((x) => x.trim());
  for (const n of names)
    if (!all.some((d) => d.name === n))
      throw new UsageError(
        `--drivers: unknown driver "${short(n)}"; accepted drivers (installed): ${all.map((d) => d.name).join(", ")}`,
      );
  return [...new Set(names)].sort();
}

export function driversNamed(names: readonly string[]): DriverUnderTest[] {
  return names.map((n) => {
    const d = installedDrivers().find((x) => x.name === n);
    if (!d) throw new UsageError(`unknown driver "${short(n)}"`);
    return d;
  });
}

/** The configuration as the JSON report shows it. */
export function describeConfig(c: CampaignConfig): Record<string, unknown> {
  return {
    scenarios: c.scenarios,
    drivers: c.drivers,
    strategy: formatStrategy(c.strategy),
    seeds: c.seeds,
    timeMs: c.timeMs,
    seed: c.seed,
    bugs: c.bugs,
    fixes: c.fixes,
    faults: c.faults ? formatFaults(c.faults) : null,
    shard: c.shard ? formatShard(c.shard) : null,
    failFast: c.failFast,
    stepLimit: c.stepLimit,
  };
}
