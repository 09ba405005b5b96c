/**
 * The bodies of the CLI's commands. `cli.ts` defines the commands and loads this module (and with
 * it the models, drivers and scenarios) only when a command runs, so `--help` starts fast.
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { kasanMultiShot, setKasanMultiShot } from "@primetime/kernel";
import { type MatrixRun, planBugs } from "./campaign/bugs-matrix.js";
import type { CampaignScenario } from "./campaign/campaign-scenario.js";
import {
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
import { MINIMIZE_BUDGET, MINIMIZE_SCALE, minimizeFinding } from "./campaign/minimize.js";
import { CampaignProgress } from "./campaign/progress.js";
import { CAMPAIGN_SCENARIOS } from "./campaign/registry.js";
import {
  type CampaignReport,
  campaignReport,
  checkReport,
  type FindingProgress,
  mergeReports,
} from "./campaign/report.js";
import { writeHtmlReport } from "./campaign/report-html.js";
import { CHUNK, runCampaign } from "./campaign/runner.js";
import { formatSummaryTable, table } from "./campaign/summary.js";
import { combinations, parseUnitKey, planUnits } from "./campaign/units.js";
import type { Io } from "./cli.js";
import {
  BUGS_DEFAULTS,
  EXIT,
  OutputError,
  SCHEDULES_FOR_WORKERS,
  TIME_FOR_WORKERS_MS,
} from "./cli-defaults.js";
import { installedDrivers } from "./drivers.js";
import {
  baselineFixes,
  decodeToken,
  listFixes,
  listKnownWindows,
  minimize,
  type RunResult,
  type RunToken,
  raceTable,
  replay,
  sameBug,
  tokenPreemptions,
} from "./engine.js";
import { type Colors, formatRaceWindow, formatSplats, progressEvery } from "./format.js";
import { formatHunt, hunt, huntSpec } from "./hunt.js";
import { findScenario } from "./scenarios/index.js";
import { findToggleEntry, huntableToggles, type ToggleEntry, toggleTable } from "./toggles.js";

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

/**
 * `run`'s default --workers: the number of cores for a campaign long enough to pay for a V8
 * instance per thread, one thread otherwise: at least SCHEDULES_FOR_WORKERS schedules
 * (`expected`; null for a --time or DFS campaign, whose length is its time or the units'
 * search), or a --time of at least TIME_FOR_WORKERS_MS.
 */
export function defaultWorkers(
  expected: number | null,
  timeMs: number | null,
  cores: number = availableParallelism(),
): number {
  const all = Math.max(1, cores);
  if (expected !== null) return expected >= SCHEDULES_FOR_WORKERS ? all : 1;
  if (timeMs !== null) return timeMs >= TIME_FOR_WORKERS_MS ? all : 1;
  return all;
}

// ---------------------------------------------------------------------------------------- list

export function listAll(io: Io, c: Colors): number {
  io.log(
    c.bold("scenarios") + c.dim("  (`all` runs the clean ones; name the others or use a glob)"),
  );
  const w = Math.max(...CAMPAIGN_SCENARIOS.map((s) => s.name.length));
  for (const s of CAMPAIGN_SCENARIOS) {
    const fitting = s.fits
      ? combinations(installedDrivers(), s.arity)
          .filter((ds) => s.fits!(ds))
          .map((ds) => ds.map((d) => d.name).join("+"))
      : [];
    const on = s.fits
      ? `${s.arity === 2 ? "the ordered driver pairs" : "the drivers"} it fits: ${fitting.join(", ") || "none installed"}`
      : ["no driver", "each driver", "each ordered driver pair"][s.arity];
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
  // Races the current kernels still have (KNOWN-WINDOWS.md): every run closes them with their
  // fix switches (baselineFixes()); --open-windows leaves them open.
  io.log(
    c.bold("known upstream windows") +
      c.dim("  (closed by their fix switches in every run; --open-windows opens them)"),
  );
  for (const w of listKnownWindows()) {
    io.log(`  ${c.bold(w.name)}  ${w.what}`);
    io.log(
      c.dim(
        `    where: ${w.where}; since ${w.sinceCommit} ("${w.since}"); kernels: ${w.kernels}; fix switch: ${w.proposedFix}; found by ${w.foundBy}`,
      ),
    );
  }
  return EXIT.clean;
}

// ----------------------------------------------------------------------------------------- run

export interface RunFlags {
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
  // `--bug ""` names no toggle: bad usage, not a campaign with every toggle off.
  const bugs =
    o.bug !== undefined
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

/**
 * How many jobs a campaign hands to its threads (Infinity for a --time campaign of sampling
 * strategies, which runs round after round): each unit's schedule indices of its shard in jobs
 * of CHUNK, or under DFS one job per unit of the shard.
 */
export function jobCount(c: CampaignConfig, units: number): number {
  const i = c.shard ? c.shard.index - 1 : 0;
  const n = c.shard ? c.shard.count : 1;
  if (c.strategy.strategy === "dfs") return Math.max(1, Math.ceil((units - i) / n));
  if (c.seeds === null) return Number.POSITIVE_INFINITY;
  const indices = Math.max(0, Math.ceil((c.seeds - i) / n));
  return Math.max(1, units * Math.ceil(indices / CHUNK));
}

const isDirectory = (p: string) => existsSync(p) && statSync(p).isDirectory();

/**
 * Checks `--json <file>` and `--report <dir>` before anything runs, so a path that cannot be
 * written is bad usage (exit 2) at once, not an internal error after the campaign: the file's
 * directory must exist and be writable, and the report directory (created when missing) must not
 * be, or lie under, a file. Where the permission bits say yes but the file system says no (as
 * root on /proc or /sys), a probe that leaves nothing behind decides: the JSON file is opened
 * for appending (and removed again if it did not exist), the report directory's first missing
 * component is created and removed.
 */
export function checkOutputPaths(o: { json?: string; report?: string }): void {
  if (o.json !== undefined) {
    const accepted = "accepted: a file path in an existing, writable directory";
    const dir = dirname(resolve(o.json));
    if (o.json === "") throw new UsageError(`--json "": no file; ${accepted}`);
    if (isDirectory(o.json)) throw new UsageError(`--json "${o.json}" is a directory; ${accepted}`);
    if (!isDirectory(dir))
      throw new UsageError(`--json "${o.json}": no directory ${dir}; ${accepted}`);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new UsageError(`--json "${o.json}": ${dir} is not writable; ${accepted}`);
    }
    try {
      probeFile(o.json);
    } catch (e) {
      throw new UsageError(`--json "${o.json}": cannot write it (${errCode(e)}); ${accepted}`);
    }
  }
  if (o.report !== undefined) {
    const accepted = "accepted: a directory (created when missing) or a path to one";
    if (o.report === "") throw new UsageError(`--report "": no directory; ${accepted}`);
    let p = resolve(o.report);
    while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
    if (!isDirectory(p))
      throw new UsageError(
        `--report "${o.report}": ${p === resolve(o.report) ? "it" : p} is a file; ${accepted}`,
      );
    try {
      accessSync(p, constants.W_OK);
    } catch {
      throw new UsageError(`--report "${o.report}": ${p} is not writable; ${accepted}`);
    }
    const missing = missingComponents(o.report)[0];
    if (missing !== undefined) {
      try {
        mkdirSync(missing);
        rmdirSync(missing);
      } catch (e) {
        throw new UsageError(
          `--report "${o.report}": cannot create ${missing} (${errCode(e)}); ${accepted}`,
        );
      }
    }
  }
}

/** The `code` of a Node file-system error (ENOENT, EACCES, …). */
function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? String(e);
}

/** Opens `file` for appending, and removes it again if that created it (it writes nothing). */
function probeFile(file: string): void {
  const existed = existsSync(file);
  closeSync(openSync(file, "a"));
  if (!existed) unlinkSync(file);
}

/** The directories of `dir` that do not exist yet, outermost first (`dir` last). */
function missingComponents(dir: string): string[] {
  const out: string[] = [];
  for (let p = resolve(dir); !existsSync(p) && dirname(p) !== p; p = dirname(p)) out.unshift(p);
  return out;
}

/**
 * Creates the report directory one component at a time: Node 20's `mkdirSync(…, { recursive:
 * true })` never returns when the file system answers ENOENT for a directory whose parent
 * exists (as /proc does).
 */
function makeReportDir(dir: string): void {
  for (const p of missingComponents(dir)) mkdirSync(p);
}

function writeJson(file: string, report: CampaignReport): void {
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

/** Runs `write`, turning a file-system error into an OutputError naming `what`. */
async function writing(what: string, write: () => unknown): Promise<void> {
  try {
    await write();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    if (typeof code !== "string") throw e;
    throw new OutputError(
      `cannot write ${what} (${code}: ${(e as Error).message.replace(/^\w+: /, "").split(",")[0]}); the results are above`,
    );
  }
}

/**
 * Writes `--json` and `--report`. Called once the results are printed: a write that fails
 * (checkOutputPaths() passed, but the disk filled up or the directory went away) loses no finding.
 */
async function writeOutputs(
  report: CampaignReport,
  o: { json?: string; report?: string },
  io: Io,
): Promise<void> {
  const json = o.json;
  if (json) await writing(`the JSON report ${json}`, () => writeJson(json, report));
  const dir = o.report;
  if (dir) {
    await writing(`the report directory ${dir}`, () => makeReportDir(dir));
    const file = join(dir, "report.json");
    await writing(`the report ${file}`, () => writeJson(file, report));
    const html = join(dir, "index.html");
    await writing(`the report ${html}`, () => writeHtmlReport(report, html));
    io.error(`report: ${html}`);
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

export async function runCommand(o: RunFlags, io: Io, c: Colors): Promise<number> {
  const config = configFromFlags(o);
  checkOutputPaths(o);
  const units = planUnits(config);
  if (units.length === 0)
    throw new UsageError(
      "no unit to run: the scenarios selected fit none of the drivers selected (or none copes with --faults); accepted: scenarios and drivers that fit (`primetime-stress list` says where each scenario runs)",
    );
  const expected = expectedSchedules(config, units.length);
  // No more threads than jobs: a thread without one would only start a V8 instance and load
  // the models (some 25 MB and 0.2 s of CPU each) to do nothing.
  const asked = o.workers ?? defaultWorkers(expected, config.timeMs);
  const workers = Math.min(asked, jobCount(config, units.length));
  if (!o.quiet)
    io.error(
      `stress: ${units.length} unit${units.length === 1 ? "" : "s"} (${config.scenarios.length} scenario${config.scenarios.length === 1 ? "" : "s"} x drivers ${config.drivers.join(",")}), ${formatStrategy(config.strategy)}, ${config.seeds !== null ? `${config.seeds} seeds each` : `for ${o.time}`}${config.shard ? `, shard ${o.shard}` : ""}, ${workers} worker${workers === 1 ? "" : "s"}${workers < asked ? ` (one per job: --workers ${asked} asked)` : ""}`,
    );
  const progress =
    o.quiet || !io.stderr ? undefined : new CampaignProgress(io.stderr, expected, config.timeMs);
  let run: Awaited<ReturnType<typeof runCampaign>>;
  try {
    run = await runCampaign(config, workers, progress);
  } finally {
    progress?.stop();
  }
  // Each finding is replayed and minimized (MINIMIZE_BUDGET runs, scaled by MINIMIZE_SCALE) before the report:
  // a plain line at least every 2 s, as during the campaign, so a long list is not silent.
  let lastLine = Number.NEGATIVE_INFINITY;
  const onFinding: FindingProgress | undefined =
    o.quiet || !io.stderr
      ? undefined
      : (done, total, unit) => {
          const now = Date.now();
          if (done > 0 && now - lastLine < 2000) return;
          lastLine = now;
          io.stderr?.write(`stress: minimizing finding ${done + 1}/${total} (${unit})\n`);
        };
  const report = await campaignReport(config, run, onFinding);
  if (!o.quiet) io.log(formatSummaryTable(report, c));
  printFindings(report, io, c, o.quiet === true);
  const t = report.totals;
  io.log(
    `${t.schedules} schedule${t.schedules === 1 ? "" : "s"} on ${t.units} unit${t.units === 1 ? "" : "s"} in ${(run.elapsedMs / 1000).toFixed(1)} s (${report.timing.schedulesPerSecond}/s): ${t.findings === 0 ? c.green("nothing found") : c.red(`${t.findings} finding${t.findings === 1 ? "" : "s"}`)}`,
  );
  await writeOutputs(report, o, io);
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
    // A unit this harness does not have (a driver or scenario of another version, a damaged key).
    if (e instanceof UsageError)
      throw new UsageError(
        `the replay token's unit "${short(t.scenario)}": ${e.message.replace(/; accepted.*$/, "")}; accepted: a token printed by run, replay, minimize, hunt or the demo of this version`,
      );
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

export async function replayCommand(
  token: string,
  o: { explain?: boolean; fullTrace?: boolean },
  io: Io,
  c: Colors,
): Promise<number> {
  if (!o.explain) return replayShow(token, o, io, c);
  // --explain boots the replay with kasan_multi_shot: every KASAN report, not only the first.
  const was = kasanMultiShot();
  setKasanMultiShot(true);
  try {
    return await replayShow(token, o, io, c);
  } finally {
    setKasanMultiShot(was);
  }
}

async function replayShow(
  token: string,
  o: { explain?: boolean; fullTrace?: boolean },
  io: Io,
  c: Colors,
): Promise<number> {
  const t = decodeToken(token);
  if (t.scenario === "") throw new UsageError("the replay token names no scenario");
  const target = replayTarget(t);
  const r: RunResult = await replay(token, target.body, { scenario: t.scenario });
  // A token carries the historic-bug toggles and the fix switches of the known upstream
  // windows alike; the switches close races (every campaign turns them on), the toggles open them.
  const fixes = new Set(listFixes().map((f) => f.name));
  const toggles = t.toggles.filter((x) => !fixes.has(x));
  const switches = t.toggles.filter((x) => fixes.has(x));
  const on =
    (toggles.length ? `; toggles on: ${toggles.join(", ")}` : "") +
    (switches.length ? `; fix switches on: ${switches.join(", ")}` : "");
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
  // The rows around the schedule's preemptions (the task switches its strategy forced), as
  // `minimize` shows them: a minimized token replays to the minimizer's table.
  const focus = o.fullTrace ? null : await tokenPreemptions(token, target.body, r);
  io.log(
    focus
      ? raceTable(r, { mode: "switches", hide: target.hide, focus, width: 100, style: c }).text
      : formatRaceWindow(r, c, { all: o.fullTrace, hide: target.hide }),
  );
  if (o.explain)
    io.log(
      c.dim(
        `A row is a task reaching a scheduling point, about to do what it says; the marker is on the step that fired the splat. ${focus ? "The rows are around the schedule's preemptions before the splat (a task taking over from one that could go on), as `minimize` shows them; " : ""}--full-trace shows every step.`,
      ),
    );
  return r.splats.length > 0 || r.outcome !== "ok" ? EXIT.findings : EXIT.clean;
}

// ------------------------------------------------------------------------------------ minimize

export async function minimizeCommand(
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
        `the replay token's unit "${short(t.scenario)}": ${e.message.replace(/; accepted.*$/, "")}; accepted: a token of run or bugs (its unit is scenario@drivers; hunt and the demo print their findings minimized)`,
      );
    throw e;
  }
  const m = await minimizeFinding(unit, token, o.budget);
  const known = parseUnitKey(unit).scenario.withoutKnownReports;
  const view = (r: RunResult) => known?.(r) ?? r;
  const same = sameBug(view(m.original), view(m.run));
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

export interface BugsFlags {
  seeds?: number;
  baselineSeeds?: number;
  strategy: string;
  seed?: number;
  drivers?: string;
}

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
export async function bugsCommand(o: BugsFlags, io: Io, c: Colors): Promise<number> {
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
  const plan = planBugs(drivers);
  /** A case's own strategy and budget (ToggleCase.strategy), shown beside its unit. */
  const own = (r: MatrixRun, budget: number) =>
    r.strategy === null ? "" : ` (${formatStrategy(parseStrategy(r.strategy))}, budget ${budget})`;
  for (const h of plan.hunts) {
    // One campaign per toggle and driver set, so each stops at its own first detection.
    const budget = o.seeds ?? h.budget ?? seeds;
    const config: CampaignConfig = {
      ...base,
      drivers: h.drivers,
      seeds: budget,
      failFast: true,
      scenarios: [h.scenario],
      bugs: [h.toggle],
      strategy: h.strategy === null ? strategy : parseStrategy(h.strategy),
    };
    io.error(`bugs: ${h.toggle} on ${h.scenario} (${h.drivers.join(", ")})${own(h, budget)}`);
    const run = await withProgress(io, budget, (p) => runCampaign(config, 1, p));
    for (const tally of run.tallies) {
      const first = Object.values(tally.findings).sort((a, b) => a.index - b.index)[0];
      ok &&= first !== undefined;
      rows.push([
        h.toggle,
        `${tally.key}${own(h, budget)}`,
        first
          ? c.green(`found at schedule ${first.index}`)
          : c.red(`NOT found in ${tally.schedules}`),
        first ? first.signature.slice(0, 70) : "",
      ]);
    }
  }
  for (const n of plan.notHunted) {
    // A deliberate reason is printed; a toggle with no scenario and no reason is a hole.
    ok &&= !n.unmapped;
    rows.push([
      n.toggle,
      "-",
      n.unmapped ? c.red("NOT MAPPED") : c.yellow("not hunted"),
      n.unmapped ? "no scenario of the harness and no reason (see src/toggles.ts)" : n.reason,
    ]);
  }
  // The baseline: every scenario and driver set of the hunts, every toggle off.
  io.error(`bugs: baseline, every toggle off, ${plan.baselines.length} campaigns`);
  for (const b of plan.baselines) {
    const baseline: CampaignConfig = {
      ...base,
      drivers: b.drivers,
      seeds: baselineSeeds,
      failFast: false,
      scenarios: [b.scenario],
      bugs: [],
      strategy: b.strategy === null ? strategy : parseStrategy(b.strategy),
    };
    const run = await withProgress(io, baselineSeeds, (p) => runCampaign(baseline, 1, p));
    for (const tally of run.tallies) {
      const sigs = Object.keys(tally.findings);
      ok &&= sigs.length === 0;
      rows.push([
        "(every toggle off)",
        `${tally.key}${b.strategy === null ? "" : ` (${formatStrategy(parseStrategy(b.strategy))})`}`,
        sigs.length === 0
          ? c.green(`clean in ${tally.schedules}`)
          : c.red(`${tally.failing} of ${tally.schedules} fail`),
        sigs[0]?.slice(0, 70) ?? "",
      ]);
    }
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

/**
 * The most `merge` reads of one file. A shard's report holds every finding's race tables and
 * splats: a few MiB for a campaign full of findings. The bound keeps a wrong argument (a
 * device such as /dev/zero, a huge log) from exhausting memory.
 */
export const MAX_REPORT_BYTES = 256 * 2 ** 20;

/** `file` as UTF-8, read in chunks; a RangeError when it holds more than `max` bytes. */
function readBounded(file: string, max: number): string {
  const fd = openSync(file, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, max + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > max) throw new RangeError(`${file}: more than ${max} bytes`);
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

export async function mergeCommand(
  files: string[],
  o: { json?: string; report?: string },
  io: Io,
  c: Colors,
): Promise<number> {
  checkOutputPaths(o);
  const bad = (why: string) =>
    new UsageError(
      `merge: ${why}${/accepted/.test(why) ? "" : "; accepted: the JSON reports (run --shard i/n --json <file>) of shards 1/n .. n/n of one campaign, each once"}`,
    );
  const reports = files.map((f) => {
    let text: string;
    try {
      text = readBounded(f, MAX_REPORT_BYTES);
    } catch (e) {
      if (e instanceof RangeError)
        throw bad(`${f} is larger than ${MAX_REPORT_BYTES / 2 ** 20} MiB, no shard report is`);
      throw bad(`cannot read ${f}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw bad(`${f} is not JSON (truncated?)`);
    }
    try {
      return checkReport(json, f);
    } catch (e) {
      throw bad(e instanceof Error ? e.message : String(e));
    }
  });
  let merged: CampaignReport;
  try {
    merged = await mergeReports(reports);
  } catch (e) {
    throw bad(e instanceof Error ? e.message : String(e));
  }
  if (!o.json && !o.report) io.log(JSON.stringify(merged, null, 2));
  else io.log(formatSummaryTable(merged, c));
  await writeOutputs(merged, o, io);
  return merged.totals.findings === 0 ? EXIT.clean : EXIT.findings;
}

// ---------------------------------------------------------------------------------------- hunt

/** The flags of `hunt`. */
export interface HuntFlags {
  schedules?: number;
  seed?: number;
  depth?: number;
  /** A --strategy of run (default pct at HUNT_DEFAULTS.depth); --depth overrides its depth. */
  strategy?: string;
  fullTrace?: boolean;
}

export async function huntCommand(name: string, o: HuntFlags, io: Io, c: Colors): Promise<number> {
  const t = toggleNamed(name);
  if (t.scenario === null) {
    const valid = huntableToggles()
      .map((x) => x.name)
      .join(", ");
    throw new UsageError(
      `toggle "${t.name}" cannot be hunted: no scenario finds it; accepted: ${valid}`,
    );
  }
  // A hunt is one search in this thread, so the engine's own portfolio (its members steered by
  // the runs before) is as deterministic here as every other strategy.
  const strategy = o.strategy === undefined ? {} : parseStrategy(o.strategy);
  const spec = huntSpec(t, {
    ...strategy,
    schedules: o.schedules,
    seed: o.seed,
    depth: o.depth ?? strategy.depth,
  });
  // Progress on stderr, as the demo's hunts show it (a line that stays on a terminal, one at
  // least every 2 s otherwise): a hunt's two searches take up to half a minute (fs.fget-no-recheck).
  const show = io.progress ? (line: string) => io.progress?.(line) : undefined;
  const label = `hunt ${t.name}: ${formatStrategy(spec)}, toggle`;
  const report = await hunt(t, spec, (phase) =>
    progressEvery(show, `${label} ${phase}`, spec.schedules),
  );
  io.progress?.(null);
  io.log(formatHunt(report, c, { fullTrace: o.fullTrace }));
  if (report.finding) {
    // The engine's minimize(): the same bug with fewer preemptions and steps, as a race table
    // around the preemptions that remain (what `minimize <token>` prints for campaign tokens).
    const s = report.scenario;
    const known = s.withoutKnownReports;
    const m = await minimize(report.finding.token, s.scenario, {
      budget: MINIMIZE_BUDGET,
      scale: MINIMIZE_SCALE,
      isSameBug: known ? (a, b) => sameBug(known(a), known(b)) : undefined,
    });
    const rt = raceTable(m.run, { hide: s.harnessTasks, focus: m.preemptionSteps, width: 100 });
    io.log(
      `${c.bold("minimized")} in ${m.runs} runs: ${m.preemptions.before} -> ${m.preemptions.after} preemptions, ${m.steps.before} -> ${m.steps.after} steps (${m.note})`,
    );
    io.log(rt.text);
    io.log(`minimized token: ${m.token}`);
  }
  return report.ok ? EXIT.clean : EXIT.findings;
}
