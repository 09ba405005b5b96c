#!/usr/bin/env node
/**
 * primetime-stress, the stress harness CLI.
 *
 *   demo (default)       the lifetime scenarios under PCT and DFS, then every historic DRM race
 *                        hunted; findings, replays, summaries
 *   list                 the scenarios
 *   toggles              the historic-bug toggles and the scenario that finds each
 *   run <scenario>       one search (optionally with toggles on); what it found, the token
 *   hunt <toggle>        the toggle's scenario with it on until found, then with it off
 *   replay <token>       re-runs a recorded schedule and prints its splats and trace
 *
 * `main(argv, io)` is the whole CLI as a function (tests call it with captured output); running
 * this file calls it with the process's arguments and sets the exit code: 0 when the scenarios
 * behaved as expected (or the replay ran, or the hunt found its bug, the token reproduced it and
 * the scenario stayed clean without it), 1 when they did not, 2 for bad input. Bad input never
 * shows a stack trace: one line on stderr says what is wrong.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  decodeToken,
  ReplayMismatchError,
  ReplayTokenError,
  type RunToken,
  replay,
} from "@primetime/sim";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { DEMO_DEFAULTS, type DemoOptions, demo, describeResult } from "./demo.js";
import { expectationFor, meetsExpectation, type SearchSpec, search } from "./findings.js";
import {
  type Colors,
  colorByDefault,
  describeSpec,
  formatFinding,
  formatRaceWindow,
  formatSplats,
  palette,
  progressEvery,
} from "./format.js";
import { formatHunt, HUNT_DEFAULTS, hunt, huntSpec } from "./hunt.js";
import { findScenario, SCENARIOS, type StressScenario } from "./scenarios/index.js";
import { findToggleEntry, huntableToggles, type ToggleEntry, toggleTable } from "./toggles.js";

/** Where the CLI writes. */
export interface Io {
  /** A line (or lines) of normal output. */
  log(text: string): void;
  /** A line of error output. */
  error(text: string): void;
  /** Colours on or off; default: picocolors' detection (NO_COLOR, FORCE_COLOR, a TTY). */
  color?: boolean;
  /** Shows a transient progress line, or clears it with null. Absent: no progress. */
  progress?(line: string | null): void;
}

/** Bad input found after parsing (an unknown scenario, options that do not go together). */
class UsageError extends Error {}

/** Schedule budget of `run` when --schedules is not given. */
export const RUN_DEFAULTS = { schedules: 300, dfsSchedules: 20_000, depth: 3, bound: 3, seed: 1 };

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

function scenarioNamed(name: string): StressScenario {
  const s = findScenario(name);
  if (!s) {
    const valid = SCENARIOS.map((x) => x.name).join(", ");
    throw new UsageError(`unknown scenario "${name}"; valid scenarios: ${valid}`);
  }
  return s;
}

/** The toggle called `name`; an unknown name is a usage error listing the valid ones. */
function toggleNamed(name: string): ToggleEntry {
  const t = findToggleEntry(name);
  if (!t) {
    const valid = toggleTable()
      .map((x) => x.name)
      .join(", ");
    throw new UsageError(`unknown toggle "${name}"; valid toggles: ${valid}`);
  }
  return t;
}

/** Collects a repeatable option's values. */
const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
];

function colorsFor(cmd: Command, io: Io): Colors {
  const { color } = cmd.optsWithGlobals<{ color?: boolean }>();
  return palette(color !== false && (io.color ?? colorByDefault));
}

function listScenarios(io: Io, c: Colors): number {
  const w = Math.max(...SCENARIOS.map((s) => s.name.length));
  const pad = `${" ".repeat(w)}  ${"".padEnd(8)}  `;
  for (const s of SCENARIOS) {
    io.log(`${c.bold(s.name.padEnd(w))}  ${s.expect.padEnd(8)}  ${s.description}`);
    io.log(c.dim(`${pad}${s.kernelRef}`));
    if (s.finds?.length) io.log(c.dim(`${pad}buggy with --toggle ${s.finds.join(", ")}`));
  }
  return 0;
}

/** Wraps `text` to lines of at most `width` characters, every line after the first indented. */
function wrap(text: string, width: number, pad: string): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join(`\n${pad}`);
}

function listToggleTable(io: Io, c: Colors): number {
  const pad = " ".repeat(17);
  for (const t of toggleTable()) {
    const mark = t.scenario === null ? `  ${c.yellow("[unfindable]")}` : "";
    io.log(`${c.bold(t.name)}${mark}  ${c.dim(`[${t.kind}]`)}`);
    io.log(`  re-introduces: ${wrap(t.description, 84, pad)}`);
    const fix = t.commit ? `${t.commit} ("${t.fixedBy}")` : t.fixedBy;
    io.log(`  fixed by:      ${wrap(fix, 84, pad)}`);
    io.log(`  kernels:       ${wrap(t.kernels, 84, pad)}`);
    if (t.scenario !== null) {
      io.log(`  found by:      ${t.scenario} (hunt ${t.name})`);
      if (t.how) io.log(c.dim(`  how it shows:  ${wrap(t.how, 84, pad)}`));
    } else io.log(`  found by:      none: ${wrap(t.unfindable ?? "", 78, pad)}`);
  }
  const n = toggleTable().length;
  const found = huntableToggles().length;
  io.log(
    c.dim(
      `${n} toggles; ${found} found by a scenario (hunt <toggle>), ${n - found} unfindable by the harness`,
    ),
  );
  return 0;
}

interface RunFlags {
  strategy: "pct" | "random" | "dfs";
  depth?: number;
  bound?: number;
  schedules?: number;
  seed?: number;
  fullTrace?: boolean;
  toggle?: string[];
}

function runSpec(o: RunFlags): SearchSpec {
  if (o.depth !== undefined && o.strategy !== "pct")
    throw new UsageError(`--depth applies to --strategy pct only, not ${o.strategy}`);
  if (o.bound !== undefined && o.strategy !== "dfs")
    throw new UsageError(`--bound applies to --strategy dfs only, not ${o.strategy}`);
  if (o.seed !== undefined && o.strategy === "dfs")
    throw new UsageError("--seed does not apply to --strategy dfs (it enumerates schedules)");
  const seed = o.seed ?? RUN_DEFAULTS.seed;
  switch (o.strategy) {
    case "pct":
      return {
        strategy: "pct",
        depth: o.depth ?? RUN_DEFAULTS.depth,
        schedules: o.schedules ?? RUN_DEFAULTS.schedules,
        seed,
      };
    case "random":
      return { strategy: "random", schedules: o.schedules ?? RUN_DEFAULTS.schedules, seed };
    case "dfs":
      return {
        strategy: "dfs",
        bound: o.bound ?? RUN_DEFAULTS.bound,
        schedules: o.schedules ?? RUN_DEFAULTS.dfsSchedules,
      };
  }
}

async function runScenario(name: string, o: RunFlags, io: Io, c: Colors): Promise<number> {
  const s = scenarioNamed(name);
  const toggles = [...new Set((o.toggle ?? []).map((t) => toggleNamed(t).name))];
  const spec = runSpec(o);
  const expect = expectationFor(s, toggles);
  const show = io.progress ? (line: string) => io.progress?.(line) : undefined;
  const progress = progressEvery(show, `${s.name}: ${spec.strategy}`, spec.schedules);
  const res = await search(s, spec, progress, toggles);
  io.progress?.(null);
  const on = toggles.length ? `, toggles on: ${toggles.join(", ")}` : "";
  io.log(`${c.bold(s.name)}  expect ${c.bold(expect ?? "nothing")}${on}: ${s.description}`);
  io.log(`${describeSpec(spec)}: ${describeResult(spec, res)}`);
  if (res.firstFailure)
    io.log(formatFinding(res.firstFailure, c, { all: o.fullTrace, hide: s.harnessTasks }));
  if (expect === null) {
    io.log(c.dim(`=> no expectation: ${s.name} makes no claim with ${toggles.join(", ")} on`));
    return 0;
  }
  const ok = meetsExpectation(s, expect, res);
  io.log(
    ok ? c.green(`=> as expected (${expect})`) : c.red(`=> NOT as expected (expected ${expect})`),
  );
  return ok ? 0 : 1;
}

interface HuntFlags {
  schedules?: number;
  seed?: number;
  depth?: number;
  fullTrace?: boolean;
}

async function huntToggle(name: string, o: HuntFlags, io: Io, c: Colors): Promise<number> {
  const t = toggleNamed(name);
  if (t.scenario === null) {
    const valid = huntableToggles()
      .map((x) => x.name)
      .join(", ");
    throw new UsageError(
      `toggle "${t.name}" cannot be hunted: no scenario of the harness finds it (see \`toggles\`); toggles that can be hunted: ${valid}`,
    );
  }
  const spec = huntSpec(t, o);
  const show = io.progress ? (line: string) => io.progress?.(line) : undefined;
  const report = await hunt(t, spec, (phase) =>
    progressEvery(show, `${t.name}: pct, toggle ${phase}`, spec.schedules),
  );
  io.progress?.(null);
  io.log(formatHunt(report, c, { fullTrace: o.fullTrace }));
  return report.ok ? 0 : 1;
}

async function replayToken(
  token: string,
  o: { scenario?: string; fullTrace?: boolean },
  io: Io,
  c: Colors,
): Promise<number> {
  const t: RunToken = decodeToken(token);
  const name = o.scenario ?? t.scenario;
  if (name === "")
    throw new UsageError("the replay token names no scenario; pass --scenario <name>");
  const s = scenarioNamed(name);
  const r = await replay(token, s.scenario, { scenario: s.name });
  const on = t.toggles.length ? `, toggles on: ${t.toggles.join(", ")}` : "";
  io.log(
    `${c.bold(`replay of ${s.name}`)}: recorded by ${t.strategy} (seed ${t.seed}), ${t.steps} steps, ${t.choices.length} choices${on}`,
  );
  io.log(
    `outcome ${r.outcome}, ${r.steps} steps, trace ${r.traceHash} (as recorded), ${r.splats.length} splat${r.splats.length === 1 ? "" : "s"}`,
  );
  if (r.splats.length) io.log(formatSplats(r.splats, c, 20));
  else io.log("no splat");
  io.log(formatRaceWindow(r, c, { all: o.fullTrace, hide: s.harnessTasks }));
  return 0;
}

function buildProgram(io: Io, setCode: (code: number) => void): Command {
  const trimmed = (write: (t: string) => void) => (s: string) => write(s.replace(/\n$/, ""));
  const program = new Command("primetime-stress")
    .description(
      "Stress harness of primetime: runs kernel-lifetime scenarios under the deterministic scheduler, finds races, prints them with replay tokens.",
    )
    .option("--no-color", "plain output (also with NO_COLOR set or when stdout is not a terminal)")
    .exitOverride()
    .configureOutput({
      writeOut: trimmed((t) => io.log(t)),
      writeErr: trimmed((t) => io.error(t)),
    });

  program
    .command("demo", { isDefault: true })
    .description(
      "run the lifetime scenarios with pct and dfs and hunt every historic DRM race; print the findings and their replay tokens, replay them, summarize (the default command)",
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
      `pct schedules of each historic-race hunt, toggle on and toggles off (default ${DEMO_DEFAULTS.huntSchedules})`,
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
      io.log(
        c.dim(
          "Replay a token: primetime-stress replay <token> (in the repository: pnpm --filter @primetime/stress cli replay <token>)",
        ),
      );
    });

  program
    .command("list")
    .description("list the scenarios: name, expectation, description, kernel reference")
    .action((_o: unknown, cmd: Command) => {
      setCode(listScenarios(io, colorsFor(cmd, io)));
    });

  program
    .command("toggles")
    .description(
      "list the historic-bug toggles: what each re-introduces, the commit that fixed it, the scenario that finds it",
    )
    .action((_o: unknown, cmd: Command) => {
      setCode(listToggleTable(io, colorsFor(cmd, io)));
    });

  program
    .command("run")
    .description(
      "search one scenario for a failing schedule; print what it found and its replay token",
    )
    .argument("<scenario>", "scenario name (see `list`)")
    .addOption(
      new Option("--strategy <name>", "search strategy")
        .choices(["pct", "random", "dfs"])
        .default("pct"),
    )
    .option("--depth <n>", `pct depth (default ${RUN_DEFAULTS.depth})`, integer("--depth", 1))
    .option(
      "--bound <n>",
      `dfs preemption bound (default ${RUN_DEFAULTS.bound})`,
      integer("--bound", 0),
    )
    .option(
      "--schedules <n>",
      `schedules at most (default ${RUN_DEFAULTS.schedules}; ${RUN_DEFAULTS.dfsSchedules} with dfs)`,
      integer("--schedules", 1),
    )
    .option(
      "--seed <n>",
      `base seed of pct and random (default ${RUN_DEFAULTS.seed})`,
      integer("--seed", 0, MAX_SEED),
    )
    .option("--toggle <name>", "turn a historic-bug toggle on (repeatable; see `toggles`)", collect)
    .option("--full-trace", "show every step of the failing run, not only those before the splat")
    .action(async (name: string, o: RunFlags, cmd: Command) => {
      setCode(await runScenario(name, o, io, colorsFor(cmd, io)));
    });

  program
    .command("hunt")
    .description(
      "hunt a historic bug: its scenario under pct with the toggle on until found (splats, race table, token), then with every toggle off over the same budget",
    )
    .argument("<toggle>", "toggle name (see `toggles`)")
    .option(
      "--schedules <n>",
      `pct schedules, toggle on and toggles off (default ${HUNT_DEFAULTS.schedules})`,
      integer("--schedules", 1),
    )
    .option(
      "--seed <n>",
      `pct base seed (default ${HUNT_DEFAULTS.seed})`,
      integer("--seed", 0, MAX_SEED),
    )
    .option("--depth <n>", `pct depth (default ${HUNT_DEFAULTS.depth})`, integer("--depth", 1))
    .option("--full-trace", "show every step of the failing run")
    .action(async (name: string, o: HuntFlags, cmd: Command) => {
      setCode(await huntToggle(name, o, io, colorsFor(cmd, io)));
    });

  program
    .command("replay")
    .description("replay a token: re-run the recorded schedule, print its splats and trace")
    .argument("<token>", "a replay token (pt1....) printed by demo or run")
    .option(
      "--scenario <name>",
      "the scenario to replay against (default: the one the token names)",
    )
    .option("--full-trace", "show every step, not only those before the first splat")
    .action(async (token: string, o: { scenario?: string; fullTrace?: boolean }, cmd: Command) => {
      setCode(await replayToken(token, o, io, colorsFor(cmd, io)));
    });

  return program;
}

/**
 * The CLI: parses `argv` (the arguments after the program name), runs the command and returns
 * its exit code (0 as expected, 1 not as expected, 2 bad input).
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    // Without this, an unknown command would be taken as an argument of the default command.
    const first = argv[0];
    const commands = [...program.commands.map((c) => c.name()), "help"];
    if (first !== undefined && !first.startsWith("-") && !commands.includes(first))
      throw new UsageError(`unknown command "${first}"; commands: ${commands.join(", ")}`);
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (e) {
    // commander has printed its own message (or the help, with exit code 0).
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (
      e instanceof UsageError ||
      e instanceof ReplayTokenError ||
      e instanceof ReplayMismatchError
    ) {
      io.progress?.(null);
      io.error(`error: ${e.message}`);
      return 2;
    }
    io.progress?.(null);
    io.error(`internal error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

/** The process's stdout and stderr; a progress line only on a terminal. */
export function processIo(): Io {
  const out = process.stdout;
  return {
    log: (t) => out.write(`${t}\n`),
    error: (t) => process.stderr.write(`${t}\n`),
    progress: out.isTTY ? (line) => out.write(`\r\x1b[2K${line ?? ""}`) : undefined,
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
  // `primetime-stress demo | head` closes the pipe early: stop quietly.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  process.exitCode = await main(process.argv.slice(2));
}
