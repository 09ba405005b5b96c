#!/usr/bin/env node
/**
 * primetime-stress, the stress harness CLI.
 *
 *   demo (default)       every scenario under PCT and DFS, findings, replays, a summary
 *   list                 the scenarios
 *   run <scenario>       one search; prints what it found and the replay token
 *   replay <token>       re-runs a recorded schedule and prints its splats and trace
 *
 * `main(argv, io)` is the whole CLI as a function (tests call it with captured output); running
 * this file calls it with the process's arguments and sets the exit code: 0 when the scenarios
 * behaved as expected (or the replay ran), 1 when they did not, 2 for bad input. Bad input never
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
import { asExpected, type SearchSpec, search } from "./findings.js";
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
import { findScenario, SCENARIOS, type StressScenario } from "./scenarios/index.js";

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

function colorsFor(cmd: Command, io: Io): Colors {
  const { color } = cmd.optsWithGlobals<{ color?: boolean }>();
  return palette(color !== false && (io.color ?? colorByDefault));
}

function listScenarios(io: Io, c: Colors): number {
  const w = Math.max(...SCENARIOS.map((s) => s.name.length));
  for (const s of SCENARIOS) {
    io.log(`${c.bold(s.name.padEnd(w))}  ${s.expect.padEnd(8)}  ${s.description}`);
    io.log(c.dim(`${" ".repeat(w)}  ${"".padEnd(8)}  ${s.kernelRef}`));
  }
  return 0;
}

interface RunFlags {
  strategy: "pct" | "random" | "dfs";
  depth?: number;
  bound?: number;
  schedules?: number;
  seed?: number;
  fullTrace?: boolean;
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
  const spec = runSpec(o);
  const show = io.progress ? (line: string) => io.progress?.(line) : undefined;
  const progress = progressEvery(show, `${s.name}: ${spec.strategy}`, spec.schedules);
  const res = await search(s, spec, progress);
  io.progress?.(null);
  io.log(`${c.bold(s.name)}  expect ${c.bold(s.expect)}: ${s.description}`);
  io.log(`${describeSpec(spec)}: ${describeResult(spec, res)}`);
  if (res.firstFailure) io.log(formatFinding(res.firstFailure, c, { all: o.fullTrace }));
  const ok = asExpected(s, res);
  io.log(
    ok
      ? c.green(`=> as expected (${s.expect})`)
      : c.red(`=> NOT as expected (expected ${s.expect})`),
  );
  return ok ? 0 : 1;
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
  io.log(
    `${c.bold(`replay of ${s.name}`)}: recorded by ${t.strategy} (seed ${t.seed}), ${t.steps} steps, ${t.choices.length} choices`,
  );
  io.log(
    `outcome ${r.outcome}, ${r.steps} steps, trace ${r.traceHash} (as recorded), ${r.splats.length} splat${r.splats.length === 1 ? "" : "s"}`,
  );
  if (r.splats.length) io.log(formatSplats(r.splats, c, 20));
  else io.log("no splat");
  io.log(formatRaceWindow(r, c, { all: o.fullTrace }));
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
      "run every scenario with pct and dfs, print the findings and their replay tokens, replay them, summarize (the default command)",
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
    .action(async (o: Partial<DemoOptions>, cmd: Command) => {
      const opts: DemoOptions = { ...DEMO_DEFAULTS };
      if (o.seed !== undefined) opts.seed = o.seed;
      if (o.schedules !== undefined) opts.schedules = o.schedules;
      if (o.depth !== undefined) opts.depth = o.depth;
      if (o.bound !== undefined) opts.bound = o.bound;
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
    .option("--full-trace", "show every step of the failing run, not only those before the splat")
    .action(async (name: string, o: RunFlags, cmd: Command) => {
      setCode(await runScenario(name, o, io, colorsFor(cmd, io)));
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
