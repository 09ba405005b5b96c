/**
 * Hunting a historic bug: its scenario explored with PCT and the toggle on until a schedule
 * shows the bug, the failing run replayed from its token, and the same scenario explored with
 * every toggle off over the same budget, which must stay clean. No output here: cli.ts and
 * demo.ts render a HuntReport.
 */
import type { RunResult } from "@primetime/sim";
import {
  type ExploreOptions,
  type ExploreResult,
  type ResolvedSearchOptions,
  resolveSearchOptions,
  type SearchOptions,
} from "@primetime/sim/explore";
import { parseStrategy } from "./campaign/config.js";
import { findCampaignScenario } from "./campaign/registry.js";
import { parseUnitKey, unitBody } from "./campaign/units.js";
import { HUNT_DEFAULTS } from "./cli-defaults.js";
import {
  checkReplay,
  meetsExpectation,
  type ReplayCheck,
  search,
  showsExpectedBug,
} from "./findings.js";
import { type Colors, describeSpec, formatFinding } from "./format.js";
import { findScenario, type StressScenario } from "./scenarios/index.js";
import type { ToggleEntry } from "./toggles.js";

/** The search of a hunt: the engine's search options, every field filled in (PCT). */
export type HuntSpec = ResolvedSearchOptions;

export { HUNT_DEFAULTS };

/** What hunting one toggle found. */
export interface HuntReport {
  readonly toggle: ToggleEntry;
  readonly scenario: StressScenario;
  readonly spec: HuntSpec;
  /** The search with the toggle on. */
  readonly on: ExploreResult;
  /** Its first failing run, if any. */
  readonly finding: RunResult | null;
  /** The finding shows the scenario's bug (one of its bug kinds). */
  readonly found: boolean;
  /** The replay of the finding's token (null when nothing failed or the replay threw). */
  readonly replay: ReplayCheck | null;
  /** Why the replay could not run, if it could not. */
  readonly replayError: string | null;
  /** The replay reproduced the finding: same splats and same trace. */
  readonly reproduces: boolean;
  /** The search with every toggle off (the same spec). */
  readonly off: ExploreResult;
  /** No failing schedule with every toggle off. */
  readonly cleanWhenOff: boolean;
  /** Found, reproduced by its token, and clean with the toggle off. */
  readonly ok: boolean;
}

/**
 * The spec of a hunt of `t`: HUNT_DEFAULTS (PCT, or the strategy of `t`'s case) under the given
 * fields, enough schedules for `t`.
 */
export function huntSpec(t: ToggleEntry, given: SearchOptions = {}): HuntSpec {
  return resolveSearchOptions(
    {
      strategy: "pct",
      depth: HUNT_DEFAULTS.depth,
      // A case with a strategy of its own (ToggleCase.strategy: POS for fs.fget-no-recheck).
      ...(t.strategy === null ? {} : parseStrategy(t.strategy)),
      seed: HUNT_DEFAULTS.seed,
      schedules: Math.min(
        Math.max(HUNT_DEFAULTS.schedules, t.schedules ?? 0),
        t.maxSchedules ?? Number.POSITIVE_INFINITY,
      ),
      stopOnFailure: true,
    },
    given,
  );
}

/**
 * Hunts toggle `t` (which must have a scenario): see the file comment. `progress` gets explore's
 * onRun callback for each of the two searches ("on" and "off").
 */
export async function hunt(
  t: ToggleEntry,
  spec: HuntSpec = huntSpec(t),
  progress?: (phase: "on" | "off") => ExploreOptions["onRun"],
): Promise<HuntReport> {
  const s = t.scenario === null ? undefined : huntScenario(t.scenario);
  if (!s) throw new Error(`toggle ${t.name} has no scenario to hunt it with`);
  const on = await search(s, spec, progress?.("on"), [t.name]);
  const finding = on.firstFailure;
  const found =
    finding !== null &&
    showsExpectedBug("buggy", s.withoutKnownReports?.(finding) ?? finding, s.bugKinds);
  let replay: ReplayCheck | null = null;
  let replayError: string | null = null;
  if (finding) {
    try {
      replay = await checkReplay(s, finding);
    } catch (e) {
      replayError = e instanceof Error ? e.message : String(e);
    }
  }
  const reproduces = replay?.sameSplats === true && replay.sameTrace;
  const off = await search(s, spec, progress?.("off"));
  const cleanWhenOff = meetsExpectation(s, "clean", off);
  return {
    toggle: t,
    scenario: s,
    spec,
    on,
    finding,
    found,
    replay,
    replayError,
    reproduces,
    off,
    cleanWhenOff,
    ok: found && reproduces && cleanWhenOff,
  };
}

/** Every splat kind: a sharing scenario's runs fail on any of its oracles. */
const ANY_BUG: StressScenario["bugKinds"] = [
  "kasan",
  "refcount",
  "warn",
  "kmemleak",
  "bug",
  "lockdep",
  "deadlock",
];

/**
 * The scenario a hunt runs for `name`: a scenario of the harness, or a campaign unit key
 * (`surface-reaper@qxl+qxl`, or a driverless campaign scenario's name: `syncobj-submit`) as a
 * scenario (its body on those drivers, its known reports dropped before a run is judged).
 */
export function huntScenario(name: string): StressScenario | undefined {
  const s = findScenario(name);
  if (s) return s;
  if (!name.includes("@") && findCampaignScenario(name)?.arity !== 0) return undefined;
  const u = parseUnitKey(name);
  return {
    name: u.key,
    description: u.scenario.description,
    expect: u.scenario.expect,
    scenario: unitBody(u),
    kernelRef: u.scenario.kernelRef,
    finds: u.scenario.finds,
    bugKinds: ANY_BUG,
    harnessTasks: u.scenario.harnessTasks,
    withoutKnownReports: u.scenario.withoutKnownReports?.bind(u.scenario),
  };
}

/** The verdict on a replay, as the demo and `hunt` print it. */
export function describeReplay(
  replay: ReplayCheck | null,
  replayError: string | null,
  c: Colors,
): string {
  if (replayError) return c.red(`replay failed: ${replayError}`);
  if (!replay) return "nothing to replay";
  return replay.sameSplats && replay.sameTrace
    ? c.green(
        `reproduces the same ${replay.run.splats.length} splat(s) (kind, message, object) and trace ${replay.run.traceHash}`,
      )
    : c.red(
        `does NOT reproduce the run (splats ${replay.sameSplats ? "same" : "differ"}, trace ${replay.sameTrace ? "same" : "differs"})`,
      );
}

/**
 * A hunt in full: the toggle, the search with it on, the finding (splats, the race table of the
 * involved tasks, the token) and its replay, then the search with every toggle off.
 */
export function formatHunt(h: HuntReport, c: Colors, opts: { fullTrace?: boolean } = {}): string {
  const t = h.toggle;
  const s = h.scenario;
  const n = h.spec.schedules;
  const lines = [
    `${c.bold(t.name)}: ${t.description}`,
    c.dim(`fixed by: ${t.fixedBy}`),
    `scenario ${c.bold(s.name)}: ${s.description}`,
    c.dim(s.kernelRef),
  ];
  const spec = describeSpec(h.spec);
  if (h.finding) {
    const r = h.finding;
    lines.push(
      `${spec}, ${t.name} on: found in schedule ${h.on.schedules} of at most ${n} (outcome ${r.outcome}, ${r.splats.length} splat${r.splats.length === 1 ? "" : "s"})`,
    );
    lines.push(formatFinding(r, c, { all: opts.fullTrace, hide: s.harnessTasks, maxSplats: 5 }));
    lines.push(`replay of the token: ${describeReplay(h.replay, h.replayError, c)}`);
    if (!h.found) lines.push(c.red(`the failure is not one of the scenario's bug kinds`));
  } else {
    lines.push(c.red(`${spec}, ${t.name} on: NOT found in ${h.on.schedules} schedules`));
  }
  lines.push(
    h.cleanWhenOff
      ? `${spec}, every toggle off: no splat in ${h.off.schedules} schedules`
      : c.red(
          `${spec}, every toggle off: FAILS in schedule ${h.off.schedules} (${h.off.firstFailure?.splats.length ?? 0} splats): the scenario is not clean without the toggle`,
        ),
  );
  if (!h.cleanWhenOff && h.off.firstFailure)
    lines.push(formatFinding(h.off.firstFailure, c, { hide: s.harnessTasks }));
  lines.push(
    h.ok
      ? c.green(`=> ${t.name} found, reproduced from its token, and clean with every toggle off`)
      : c.red(`=> ${t.name}: NOT as expected`),
  );
  return lines.join("\n");
}
