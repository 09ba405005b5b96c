#!/usr/bin/env node
/**
 * primetime-stress, the stress harness CLI.
 *
 *   start (default)   the demo: kref.rst examples under PCT and DFS, every historic DRM race hunted
 *   run               a campaign: scenarios x drivers x seeds, on worker threads, sharded
 *   replay <token>    re-runs a recorded schedule (exit 1 when it shows splats)
 *   bugs              the detection matrix: every toggle found under its budget, baseline clean
 *   list              scenarios, drivers and toggles
 *   minimize <token>  shrinks a finding's schedule: its race table and new token
 *   merge <json...>   merges shard reports into the report of the unsplit campaign
 *   hunt <toggle>     one toggle's case with it on until found, then with every toggle off
 *
 * `main(argv, io)` is the whole CLI as a function; running this file calls it with the process's
 * arguments and sets the exit code: 0 nothing found (or as expected), 1 findings, 2 bad usage
 * (one line on stderr saying what is accepted), 3 an internal error (a bug of the harness).
 */
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import type { CampaignScenario } from "./campaign/campaign-scenario.js";
import {
  ACCEPTED_STRATEGIES,
  CAMPAIGN_DEFAULTS,
  type CampaignConfig,
  formatStrategy,
  parseDuration,
  parseFaults,
  parseShard,
  parseStrategy,
  selectDrivers,
  selectScenarios,
  short,
  UsageError,
} from "./campaign/config.js";
import { MINIMIZE_BUDGET, minimizeFinding } from "./campaign/minimize.js";
import { CampaignProgress, type ProgressSink } from "./campaign/progress.js";
import { CAMPAIGN_SCENARIOS } from "./campaign/registry.js";
import {
  type CampaignReport,
  campaignReport,
  checkReport,
  mergeReports,
  raceTableOf,
} from "./campaign/report.js";
import { writeHtmlReport } from "./campaign/report-html.js";
import { runCampaign } from "./campaign/runner.js";
import { formatSummaryTable, table } from "./campaign/summary.js";
import { parseUnitKey, planUnits } from "./campaign/units.js";
import { DEMO_DEFAULTS, type DemoOptions, demo } from "./demo.js";
import { installedDrivers } from "./drivers.js";
import {
  baselineFixes,
  decodeToken,
  listKnownWindows,
  minimize,
  ReplayMismatchError,
  ReplayTokenError,
  type RunResult,
  type RunToken,
  raceTable,
  replay,
  sameBug,
} from "./engine.js";
import { type Colors, colorByDefault, formatRaceWindow, formatSplats, palette } from "./format.js";
import { formatHunt, HUNT_DEFAULTS, hunt, huntSpec } from "./hunt.js";
import { findScenario } from "./scenarios/index.js";
import { findToggleEntry, huntableToggles, type ToggleEntry, toggleTable } from "./toggles.js";

export { UsageError } from "./campaign/config.js";

/** Where the CLI writes. */
export interface Io {
  /** A line (or lines) of normal output (stdout). */
  log(text: string): void;
  /** A line of error output (stderr). */
  error(text: string): void;
  /** Colours on or off; default: picocolors' detection (NO_COLOR, FORCE_COLOR, a TTY). */
  color?: boolean;
  /** The demo's transient progress line (cleared with null), on stderr. Absent: none. */
  progress?(line: string | null): void;
  /** Where campaign progress goes (stderr). Absent: no progress. */
  stderr?: ProgressSink;
}

/** Exit codes. */
export const EXIT = { clean: 0, findings: 1, usage: 2, internal: 3 } as const;

const MAX_SEED = 0xffff_ffff;

/** A commander argument parser for an integer in [min, max]. */
function integer(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  const what =
    min === 0
      ? "a non-negative integer"
      : min === 1
        ? "a positive integer"
        : `an integer >= ${min}`;
  return (value: string): number => {
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!(n >= min && n <= max)) {
      const range = max === Number.MAX_SAFE_INTEGER ? "" : ` at most ${max}`;
      throw new InvalidArgumentError(`${flag} must be ${what}${range}.`);
    }
    return n;
  };
}

/** The toggle called `name`; an unknown name is a usage error listing the valid ones. */
function toggleNamed(name: string): ToggleEntry {
  const t = findToggleEntry(name);
  if (!t) {
    const valid = toggleTable()
      .map((x) => x.name)
      .join(", ");
    throw new UsageError(`unknown toggle "${short(name)}"; accepted toggles: ${valid}`);
  }
  return t;
}

function colorsFor(cmd: Command, io: Io): Colors {
  const { color } = cmd.optsWithGlobals<{ color?: boolean }>();
  return palette(color !== false && (io.color ?? colorByDefault));
}

function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

// ---------------------------------------------------------------------------------------- list

function listAll(io: Io, c: Colors): number {
  io.log(
    c.bold("scenarios") + c.dim("  (`all` runs the clean ones; name the others or use a glob)"),
  );
  const w = Math.max(...CAMPAIGN_SCENARIOS.map((s) => s.name.length));
  for (const s of CAMPAIGN_SCENARIOS) {
    const on = ["no driver", "each driver", "each ordered driver pair"][s.arity];
    io.log(`  ${c.bold(s.name.padEnd(w))}  ${s.expect.padEnd(8)}  ${s.description}`);
    io.log(c.dim(`  ${"".padEnd(w)}  ${"".padEnd(8)}  runs on ${on}; ${s.kernelRef}`));
    if (s.finds?.length)
      io.log(c.dim(`  ${"".padEnd(w)}  ${"".padEnd(8)}  finds ${s.finds.join(", ")}`));
  }
  io.log(c.bold("drivers") + c.dim("  (installed; --drivers picks among them)"));
  for (const d of installedDrivers()) io.log(`  ${d.name}`);
  io.log(c.bold("toggles") + c.dim("  (--bug turns them on)"));
  for (const t of toggleTable()) {
    const by = t.scenario ? `found by ${t.scenario}` : `unfindable: ${t.unfindable}`;
    const fix = t.commit ? `${t.commit} ("${t.fixedBy}")` : t.fixedBy;
    io.log(`  ${c.bold(t.name)} ${c.dim(`[${t.kind}]`)}  ${t.description}`);
    io.log(c.dim(`    fixed by: ${fix}; kernels: ${t.kernels}; ${by}`));
  }
  return EXIT.clean;
}

// ----------------------------------------------------------------------------------------- run

interface RunFlags {
  scenario: string;
  drivers?: string;
  strategy: string;
  seeds?: number;
  time?: string;
  seed?: number;
  bug?: string;
  faults?: string;
  workers?: number;
  shard?: string;
  json?: string;
  report?: string;
  failFast?: boolean;
  quiet?: boolean;
  openWindows?: boolean;
}

/** The configuration of `run` from its flags (UsageError on bad input). */
export function configFromFlags(o: RunFlags): CampaignConfig {
  if (o.seeds !== undefined && o.time !== undefined)
    throw new UsageError("--seeds and --time do not go together; accepted: one of them");
  const bugs = o.bug
    ? [...new Set(o.bug.split(",").map((b) => toggleNamed(b.trim()).name))].sort()
    : [];
  return {
    scenarios: selectScenarios(o.scenario),
    drivers: selectDrivers(o.drivers),
    strategy: parseStrategy(o.strategy),
    seeds: o.time !== undefined ? null : (o.seeds ?? CAMPAIGN_DEFAULTS.seeds),
    timeMs: o.time !== undefined ? parseDuration(o.time) : null,
    seed: o.seed ?? CAMPAIGN_DEFAULTS.seed,
    bugs,
    fixes: o.openWindows ? [] : baselineFixes(),
    faults: o.faults !== undefined ? parseFaults(o.faults) : null,
    shard: o.shard !== undefined ? parseShard(o.shard) : null,
    failFast: o.failFast === true,
    stepLimit: CAMPAIGN_DEFAULTS.stepLimit,
  };
}

/** How many schedules a seeds campaign runs (for the progress bar). */
function expectedSchedules(c: CampaignConfig, units: number): number | null {
  if (c.seeds === null || c.strategy.strategy === "dfs") return null;
  if (!c.shard) return units * c.seeds;
  const i = c.shard.index - 1;
  const n = c.shard.count;
  const per = c.seeds > i ? Math.ceil((c.seeds - i) / n) : 0;
  return units * per;
}

function writeJson(file: string, report: CampaignReport): void {
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

async function writeOutputs(
  report: CampaignReport,
  o: { json?: string; report?: string },
  io: Io,
): Promise<void> {
  if (o.json) writeJson(o.json, report);
  if (o.report) {
    mkdirSync(o.report, { recursive: true });
    writeJson(join(o.report, "report.json"), report);
    await writeHtmlReport(report, join(o.report, "index.html"));
    io.error(`report: ${join(o.report, "index.html")}`);
  }
}

function printFindings(report: CampaignReport, io: Io, c: Colors, quiet: boolean): void {
  for (const f of report.findings) {
    io.log(
      `${c.red(c.bold(`${f.id} ${f.unit}`))}: ${f.signature} (schedule ${f.index}, seed ${f.seed}, ${f.schedules} failing schedule${f.schedules === 1 ? "" : "s"})`,
    );
    if (quiet) {
      io.log(`  replay: ${f.replay}`);
      continue;
    }
    io.log(c.dim(f.firstSplat.split("\n").slice(0, 6).join("\n")));
    io.log(f.minimized ? f.minimized.raceTable : f.raceTable);
    io.log(`replay: ${f.minimized ? f.replay.replace(f.token, f.minimized.token) : f.replay}`);
  }
}

async function runCommand(o: RunFlags, io: Io, c: Colors): Promise<number> {
  const config = configFromFlags(o);
  const units = planUnits(config);
  if (units.length === 0)
    throw new UsageError(
      "no unit to run: the scenarios selected fit none of the drivers selected (or none copes with --faults)",
    );
  const workers = o.workers ?? defaultWorkers();
  if (!o.quiet)
    io.error(
      `stress: ${units.length} unit${units.length === 1 ? "" : "s"} (${config.scenarios.length} scenarios x drivers ${config.drivers.join(",")}), ${formatStrategy(config.strategy)}, ${config.seeds !== null ? `${config.seeds} seeds each` : `for ${o.time}`}${config.shard ? `, shard ${o.shard}` : ""}, ${workers} worker${workers === 1 ? "" : "s"}`,
    );
  const progress =
    o.quiet || !io.stderr
      ? undefined
      : new CampaignProgress(io.stderr, expectedSchedules(config, units.length), config.timeMs);
  let run: Awaited<ReturnType<typeof runCampaign>>;
  try {
    run = await runCampaign(config, workers, progress);
  } finally {
    progress?.stop();
  }
  const report = await campaignReport(config, run);
  await writeOutputs(report, o, io);
  if (!o.quiet) io.log(formatSummaryTable(report, c));
  printFindings(report, io, c, o.quiet === true);
  const t = report.totals;
  io.log(
    `${t.schedules} schedules on ${t.units} units in ${(run.elapsedMs / 1000).toFixed(1)} s (${report.timing.schedulesPerSecond}/s): ${t.findings === 0 ? c.green("nothing found") : c.red(`${t.findings} finding${t.findings === 1 ? "" : "s"}`)}`,
  );
  return t.findings === 0 ? EXIT.clean : EXIT.findings;
}

// -------------------------------------------------------------------------------------- replay

/** The unit a token names, or the demo scenario (tokens of `hunt` and the demo). */
function replayTarget(t: RunToken): {
  name: string;
  body: Parameters<typeof replay>[1];
  hide?: readonly string[];
  scenario: CampaignScenario | null;
} {
  try {
    const u = parseUnitKey(t.scenario);
    return {
      name: u.key,
      body: u.scenario.build(u.drivers, { faults: u.faults }),
      hide: u.scenario.harnessTasks,
      scenario: u.scenario,
    };
  } catch (e) {
    const s = findScenario(t.scenario);
    if (s) return { name: s.name, body: s.scenario, hide: s.harnessTasks, scenario: null };
    throw e;
  }
}

const SPLAT_MEANING: Record<string, string> = {
  kasan: "KASAN: memory touched after it was freed (or freed twice)",
  refcount: "refcount_t: a count taken from 0 (use after the last put) or dropped below 0",
  warn: "WARN: a kernel invariant broke (counters not back at the baseline, trees not empty)",
  kmemleak: "kmemleak: an object allocated during the run is still alive and unreachable",
  bug: "BUG: a userspace check failed (the process crashed) or the kernel hit a BUG_ON",
  deadlock: "tasks blocked forever",
  lockdep: "lockdep: a lock taken in an order that can deadlock, or without the lock it needs",
};

async function replayCommand(
  token: string,
  o: { explain?: boolean; fullTrace?: boolean },
  io: Io,
  c: Colors,
): Promise<number> {
  const t = decodeToken(token);
  if (t.scenario === "") throw new UsageError("the replay token names no scenario");
  const target = replayTarget(t);
  const r: RunResult = await replay(token, target.body, { scenario: t.scenario });
  const on = t.toggles.length ? `, toggles on: ${t.toggles.join(", ")}` : "";
  io.log(
    `${c.bold(`replay of ${target.name}`)}: recorded by ${t.strategy} (seed ${t.seed}), ${t.steps} steps, ${t.choices.length} choices${on}`,
  );
  io.log(
    `outcome ${r.outcome}, ${r.steps} steps, trace ${r.traceHash}, ${r.splats.length} splat${r.splats.length === 1 ? "" : "s"}`,
  );
  if (o.explain) {
    if (target.scenario)
      io.log(`scenario: ${target.scenario.description}\n  (${target.scenario.kernelRef})`);
    for (const tg of t.toggles) {
      const e = findToggleEntry(tg);
      if (e) io.log(`toggle ${tg} re-introduces: ${e.description} (fixed by ${e.fixedBy})`);
      const w = listKnownWindows().find((x) => x.name === tg);
      if (w) io.log(`fix switch ${tg} closes a known upstream window: ${w.proposedFix}`);
    }
    for (const kind of new Set(r.splats.map((s) => s.kind)))
      io.log(`${kind}: ${SPLAT_MEANING[kind] ?? kind}`);
  }
  if (r.splats.length) io.log(formatSplats(r.splats, c, o.explain ? 20 : 5));
  else io.log("no splat");
  io.log(formatRaceWindow(r, c, { all: o.fullTrace, hide: target.hide }));
  if (o.explain)
    io.log(
      c.dim(
        "A row is a task reaching a scheduling point, about to do what it says; the marker is on the step that fired the splat. --full-trace shows every step.",
      ),
    );
  return r.splats.length > 0 || r.outcome !== "ok" ? EXIT.findings : EXIT.clean;
}

// ------------------------------------------------------------------------------------ minimize

async function minimizeCommand(
  token: string,
  o: { budget?: number },
  io: Io,
  c: Colors,
): Promise<number> {
  const t = decodeToken(token);
  if (t.scenario === "") throw new UsageError("the replay token names no scenario");
  let unit: string;
  try {
    unit = parseUnitKey(t.scenario).key;
  } catch (e) {
    if (e instanceof UsageError)
      throw new UsageError(
        `minimize takes tokens of run and bugs (scenario@drivers); this one names "${short(t.scenario)}": ${e.message}`,
      );
    throw e;
  }
  const m = await minimizeFinding(unit, token, o.budget);
  const same = sameBug(m.original, m.run);
  io.log(
    `${c.bold(`minimized ${unit}`)} in ${m.runs} runs: ${m.preemptions.before} -> ${m.preemptions.after} preemptions, ${m.steps.before} -> ${m.steps.after} steps (${m.note})`,
  );
  if (m.run.splats.length) io.log(formatSplats(m.run.splats, c, 3));
  io.log(m.raceTable);
  io.log(`${m.rows} rows; ${same ? "the same bug" : c.red("NOT the same bug")} as the original`);
  io.log(`replay: pnpm -s stress replay ${m.token}`);
  io.log(`token: ${m.token}`);
  return m.run.splats.length > 0 || m.run.outcome !== "ok" ? EXIT.findings : EXIT.clean;
}

// ---------------------------------------------------------------------------------------- bugs

interface BugsFlags {
  seeds?: number;
  baselineSeeds?: number;
  strategy: string;
  seed?: number;
  drivers?: string;
}

/** `bugs` budgets: schedules per toggle (it stops at the first finding) and per baseline unit. */
export const BUGS_DEFAULTS = { seeds: 2000, baselineSeeds: 300 } as const;

/** Runs `f` with a progress display on stderr (when the Io has one). */
async function withProgress<T>(
  io: Io,
  total: number,
  f: (p: CampaignProgress | undefined) => Promise<T>,
): Promise<T> {
  const p = io.stderr ? new CampaignProgress(io.stderr, total, null) : undefined;
  try {
    return await f(p);
  } finally {
    p?.stop();
  }
}

/**
 * The detection matrix. It runs in this thread, one schedule after another, so the schedule
 * index at which each toggle is first found is the same on every machine.
 */
async function bugsCommand(o: BugsFlags, io: Io, c: Colors): Promise<number> {
  const strategy = parseStrategy(o.strategy);
  const drivers = selectDrivers(o.drivers);
  const seeds = o.seeds ?? BUGS_DEFAULTS.seeds;
  const baselineSeeds = o.baselineSeeds ?? BUGS_DEFAULTS.baselineSeeds;
  const base = {
    drivers,
    strategy,
    timeMs: null,
    seed: o.seed ?? CAMPAIGN_DEFAULTS.seed,
    fixes: baselineFixes(),
    faults: null,
    shard: null,
    stepLimit: CAMPAIGN_DEFAULTS.stepLimit,
  };
  const rows: string[][] = [];
  let ok = true;
  const cases = new Set<string>();
  for (const t of toggleTable()) {
    if (t.scenario === null) {
      rows.push([t.name, "-", "-", c.yellow(`unfindable: ${t.unfindable}`)]);
      continue;
    }
    cases.add(t.scenario);
    // A driver's own toggle (`vmwgfx.…`) on that driver; a DRM-core one on every driver. One
    // campaign per driver, so each stops at its own first detection.
    const own = drivers.filter((d) => t.name.startsWith(`${d}.`));
    for (const driver of own.length ? own : drivers) {
      const config: CampaignConfig = {
        ...base,
        drivers: [driver],
        seeds,
        failFast: true,
        scenarios: [t.scenario],
        bugs: [t.name],
      };
      io.error(`bugs: ${t.name} on ${t.scenario}@${driver}`);
      const run = await withProgress(io, seeds, (p) => runCampaign(config, 1, p));
      for (const tally of run.tallies) {
        const first = Object.values(tally.findings).sort((a, b) => a.index - b.index)[0];
        ok &&= first !== undefined;
        rows.push([
          t.name,
          tally.key,
          first
            ? c.green(`found at schedule ${first.index}`)
            : c.red(`NOT found in ${tally.schedules}`),
          first ? first.signature.slice(0, 70) : "",
        ]);
      }
    }
  }
  // The baseline: every scenario that finds a toggle, every toggle off.
  const baseline: CampaignConfig = {
    ...base,
    seeds: baselineSeeds,
    failFast: false,
    scenarios: [...cases],
    bugs: [],
  };
  io.error(`bugs: baseline, every toggle off, ${cases.size} scenarios`);
  const run = await withProgress(io, baselineSeeds * cases.size * drivers.length, (p) =>
    runCampaign(baseline, 1, p),
  );
  for (const tally of run.tallies) {
    const sigs = Object.keys(tally.findings);
    ok &&= sigs.length === 0;
    rows.push([
      "(every toggle off)",
      tally.key,
      sigs.length === 0
        ? c.green(`clean in ${tally.schedules}`)
        : c.red(`${tally.failing} of ${tally.schedules} fail`),
      sigs[0]?.slice(0, 70) ?? "",
    ]);
  }
  io.log(
    table(
      [
        "toggle",
        "unit",
        `${formatStrategy(strategy)}, seed ${base.seed}, budget ${seeds} (baseline ${baselineSeeds})`,
        "signature",
      ],
      rows,
    ),
  );
  io.log(
    ok
      ? c.green("every toggle found within its budget, baseline clean")
      : c.red("the detection matrix has holes"),
  );
  return ok ? EXIT.clean : EXIT.findings;
}

// --------------------------------------------------------------------------------------- merge

async function mergeCommand(
  files: string[],
  o: { json?: string; report?: string },
  io: Io,
  c: Colors,
): Promise<number> {
  const reports = files.map((f) => {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      throw new UsageError(`merge: cannot read ${short(f)}`);
    }
    try {
      return checkReport(JSON.parse(text), f);
    } catch (e) {
      throw new UsageError(`merge: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  let merged: CampaignReport;
  try {
    merged = await mergeReports(reports);
  } catch (e) {
    throw new UsageError(`merge: ${e instanceof Error ? e.message : String(e)}`);
  }
  await writeOutputs(merged, o, io);
  if (!o.json && !o.report) io.log(JSON.stringify(merged, null, 2));
  else io.log(formatSummaryTable(merged, c));
  return merged.totals.findings === 0 ? EXIT.clean : EXIT.findings;
}

// ---------------------------------------------------------------------------------------- hunt

async function huntCommand(
  name: string,
  o: { schedules?: number; seed?: number; depth?: number; fullTrace?: boolean },
  io: Io,
  c: Colors,
): Promise<number> {
  const t = toggleNamed(name);
  if (t.scenario === null) {
    const valid = huntableToggles()
      .map((x) => x.name)
      .join(", ");
    throw new UsageError(
      `toggle "${t.name}" cannot be hunted: no scenario finds it; accepted: ${valid}`,
    );
  }
  const report = await hunt(t, huntSpec(t, o));
  io.log(formatHunt(report, c, { fullTrace: o.fullTrace }));
  if (report.finding) {
    // The engine's minimize(): the same bug with fewer preemptions and steps, as a race table
    // around the preemptions that remain (what `minimize <token>` prints for campaign tokens).
    const s = report.scenario;
    const m = await minimize(report.finding.token, s.scenario, { budget: MINIMIZE_BUDGET });
    const rt = raceTable(m.run, { hide: s.harnessTasks, focus: m.preemptionSteps, width: 100 });
    io.log(
      `${c.bold("minimized")} in ${m.runs} runs: ${m.preemptions.before} -> ${m.preemptions.after} preemptions, ${m.steps.before} -> ${m.steps.after} steps (${m.note})`,
    );
    io.log(rt.text);
    io.log(`minimized token: ${m.token}`);
  }
  return report.ok ? EXIT.clean : EXIT.findings;
}

// ------------------------------------------------------------------------------------- program

function buildProgram(io: Io, setCode: (code: number) => void): Command {
  const trimmed = (write: (t: string) => void) => (s: string) => write(s.replace(/\n$/, ""));
  const program = new Command("primetime-stress")
    .description(
      "Stress harness of primetime: runs kernel-lifetime scenarios on every driver and driver pair under the deterministic scheduler, finds races, reports them with replay tokens.",
    )
    .option("--no-color", "plain output (also with NO_COLOR set or when stdout is not a terminal)")
    .exitOverride()
    .configureOutput({
      writeOut: trimmed((t) => io.log(t)),
      writeErr: trimmed((t) => io.error(t)),
    });

  program
    .command("start", { isDefault: true })
    .alias("demo")
    .description(
      "the demo: the kref.rst examples under pct and dfs, then every historic DRM race hunted, replayed and checked clean (the default command)",
    )
    .option(
      "--seed <n>",
      `pct base seed (default ${DEMO_DEFAULTS.seed})`,
      integer("--seed", 0, MAX_SEED),
    )
    .option(
      "--schedules <n>",
      `pct schedules per scenario (default ${DEMO_DEFAULTS.schedules})`,
      integer("--schedules", 1),
    )
    .option("--depth <n>", `pct depth (default ${DEMO_DEFAULTS.depth})`, integer("--depth", 1))
    .option(
      "--bound <n>",
      `dfs preemption bound (default ${DEMO_DEFAULTS.bound})`,
      integer("--bound", 0),
    )
    .option(
      "--hunt-schedules <n>",
      `pct schedules of each historic-race hunt (default ${DEMO_DEFAULTS.huntSchedules})`,
      integer("--hunt-schedules", 1),
    )
    .action(async (o: Partial<DemoOptions>, cmd: Command) => {
      const opts: DemoOptions = { ...DEMO_DEFAULTS };
      if (o.seed !== undefined) opts.seed = o.seed;
      if (o.schedules !== undefined) opts.schedules = o.schedules;
      if (o.depth !== undefined) opts.depth = o.depth;
      if (o.bound !== undefined) opts.bound = o.bound;
      if (o.huntSchedules !== undefined) opts.huntSchedules = o.huntSchedules;
      const c = colorsFor(cmd, io);
      setCode(await demo(opts, io, c));
      io.log(c.dim(`Replay a token: ${"pnpm -s stress replay <token>"}`));
    });

  program
    .command("run")
    .description(
      "run a campaign: every selected scenario on every driver (pair) it fits, over many seeds",
    )
    .option(
      "--scenario <names>",
      "scenario names or globs, comma-separated, or all (see list)",
      "all",
    )
    .option("--drivers <list>", "drivers, comma-separated (default: every installed driver)")
    .option("--strategy <name>", `search strategy: ${ACCEPTED_STRATEGIES}`, "pct:3")
    .option(
      "--seeds <n>",
      `schedules per unit (default ${CAMPAIGN_DEFAULTS.seeds})`,
      integer("--seeds", 1),
    )
    .option("--time <duration>", "run for this long instead (90s, 5m, 1h)")
    .option(
      "--seed <n>",
      `base seed (default ${CAMPAIGN_DEFAULTS.seed})`,
      integer("--seed", 0, MAX_SEED),
    )
    .option("--bug <toggles>", "historic-bug toggles to turn on, comma-separated (see list)")
    .option("--faults <spec>", "fault injection in every schedule: nth:N or p:P")
    .option(
      "--workers <n>",
      "worker threads (default: the number of cores)",
      integer("--workers", 1, 256),
    )
    .option("--shard <i/n>", "run shard i of n of the seed space")
    .option("--json <file>", "write the JSON report")
    .option("--report <dir>", "write report.json and index.html (self-contained) to this directory")
    .option("--fail-fast", "stop at the first finding")
    .option("--quiet", "no progress, no summary table: findings and the last line only")
    .option(
      "--open-windows",
      "leave the known upstream windows open (default: their fix switches on, baselineFixes())",
    )
    .action(async (o: RunFlags, cmd: Command) => {
      setCode(await runCommand(o, io, colorsFor(cmd, io)));
    });

  program
    .command("replay")
    .description(
      "replay a token: re-run the recorded schedule, print its splats and race table; exit 1 on splats",
    )
    .argument("<token>", "a replay token (pt1....)")
    .option("--explain", "say what the scenario, toggles and splat kinds mean")
    .option("--full-trace", "every step, not only those around the race")
    .action(async (token: string, o: { explain?: boolean; fullTrace?: boolean }, cmd: Command) => {
      setCode(await replayCommand(token, o, io, colorsFor(cmd, io)));
    });

  program
    .command("minimize")
    .description(
      "shrink a finding's schedule (fewer preemptions and steps, same bug); print its race table and new token; exit 1 when it shows the bug",
    )
    .argument("<token>", "a replay token of run or bugs (pt1....)")
    .option("--budget <n>", "runs at most (default 200)", integer("--budget", 1, 100_000))
    .action(async (token: string, o: { budget?: number }, cmd: Command) => {
      setCode(await minimizeCommand(token, o, io, colorsFor(cmd, io)));
    });

  program
    .command("bugs")
    .description(
      "the detection matrix: each toggle on in the scenario that finds it, on every driver, until found; then every such scenario with every toggle off; exit 0 only if every toggle is found and the baseline is clean",
    )
    .option(
      "--seeds <n>",
      `schedules per toggle at most (default ${BUGS_DEFAULTS.seeds})`,
      integer("--seeds", 1),
    )
    .option(
      "--baseline-seeds <n>",
      `schedules per baseline unit (default ${BUGS_DEFAULTS.baselineSeeds})`,
      integer("--baseline-seeds", 1),
    )
    .option("--strategy <name>", `search strategy: ${ACCEPTED_STRATEGIES}`, "pct:3")
    .option("--seed <n>", "base seed (default 1)", integer("--seed", 0, MAX_SEED))
    .option("--drivers <list>", "drivers, comma-separated (default: every installed driver)")
    .action(async (o: BugsFlags, cmd: Command) => {
      setCode(await bugsCommand(o, io, colorsFor(cmd, io)));
    });

  program
    .command("list")
    .description("list the scenarios, the installed drivers and the historic-bug toggles")
    .action((_o: unknown, cmd: Command) => {
      setCode(listAll(io, colorsFor(cmd, io)));
    });

  program
    .command("merge")
    .description(
      "merge the JSON reports of the shards of one campaign into the unsplit campaign's report",
    )
    .argument("<json...>", "shard reports (run --shard i/n --json ...)")
    .option("--json <file>", "write the merged JSON report (default: print it)")
    .option("--report <dir>", "write report.json and index.html to this directory")
    .action(async (files: string[], o: { json?: string; report?: string }, cmd: Command) => {
      setCode(await mergeCommand(files, o, io, colorsFor(cmd, io)));
    });

  program
    .command("hunt")
    .description(
      "hunt one historic bug: its case with the toggle on until found, then with every toggle off",
    )
    .argument("<toggle>", "toggle name (see list)")
    .option(
      "--schedules <n>",
      `pct schedules (default ${HUNT_DEFAULTS.schedules})`,
      integer("--schedules", 1),
    )
    .option(
      "--seed <n>",
      `pct base seed (default ${HUNT_DEFAULTS.seed})`,
      integer("--seed", 0, MAX_SEED),
    )
    .option("--depth <n>", `pct depth (default ${HUNT_DEFAULTS.depth})`, integer("--depth", 1))
    .option("--full-trace", "show every step of the failing run")
    .action(async (name: string, o: Parameters<typeof huntCommand>[1], cmd: Command) => {
      setCode(await huntCommand(name, o, io, colorsFor(cmd, io)));
    });

  // Unknown options: commander says which; say what is accepted too.
  for (const cmd of program.commands) {
    const accepted = cmd.options.map((o) => o.long).filter(Boolean);
    cmd.exitOverride().configureOutput({
      writeOut: trimmed((t) => io.log(t)),
      writeErr: trimmed((t) => io.error(t)),
      outputError: (str, write) =>
        write(
          `${str.trimEnd()}; accepted by ${cmd.name()}: ${accepted.join(", ") || "no option"}\n`,
        ),
    });
  }
  return program;
}

/**
 * The CLI: parses `argv` (the arguments after the program name), runs the command and returns
 * its exit code (EXIT).
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let code: number = EXIT.clean;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    const first = argv[0];
    const commands = [...program.commands.flatMap((c) => [c.name(), ...c.aliases()]), "help"];
    if (first !== undefined && !first.startsWith("-") && !commands.includes(first))
      throw new UsageError(
        `unknown command "${short(first)}"; accepted commands: ${commands.join(", ")}`,
      );
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (e) {
    io.progress?.(null);
    // commander has printed its own one-line message (or the help, with exit code 0).
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT.clean;
      return EXIT.usage;
    }
    if (e instanceof UsageError || e instanceof ReplayMismatchError) {
      io.error(`error: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof ReplayTokenError) {
      io.error(`error: ${e.message}; accepted: a token printed by run, replay or hunt (pt1....)`);
      return EXIT.usage;
    }
    io.error(
      `internal error (a bug of the harness): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );
    return EXIT.internal;
  }
}

/** The process's stdout and stderr: progress on stderr (a bar on a terminal, lines otherwise). */
export function processIo(): Io {
  const err = process.stderr;
  let last = 0;
  return {
    log: (t) => process.stdout.write(`${t}\n`),
    error: (t) => err.write(`${t}\n`),
    progress: (line) => {
      if (err.isTTY) err.write(`\r\x1b[2K${line ?? ""}`);
      else if (line !== null && Date.now() - last >= 2000) {
        last = Date.now();
        err.write(`${line}\n`);
      }
    },
    stderr: err,
  };
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `primetime-stress run | head` closes the pipe early: stop quietly.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  process.exitCode = await main(process.argv.slice(2));
}

export { raceTableOf };
