#!/usr/bin/env node
/**
 * primetime-stress, the stress harness CLI.
 *
 *   start (default)   the demo: kref.rst examples under PCT and DFS, every historic DRM race hunted
 *   run               a campaign: scenarios x drivers x seeds, on worker threads, sharded
 *   replay <token>    re-runs a recorded schedule (exit 1 when it shows splats)
 *   bugs              the detection matrix: every toggle found under its budget, baseline clean
 *   list              scenarios, drivers and toggles
 *   toggles [--json]  every toggle: kind, fixing commit, kernels, layer, the scenario that finds it
 *   minimize <token>  shrinks a finding's schedule: its race table and new token
 *   merge <json...>   merges shard reports into the report of the unsplit campaign
 *   hunt <toggle>     one toggle's case with it on until found, then with every toggle off
 *
 * `main(argv, io)` is the whole CLI as a function; running this file calls it with the process's
 * arguments and sets the exit code: 0 nothing found (or as expected), 1 findings, 2 bad usage
 * (one line on stderr saying what is accepted), 3 an internal error (a bug of the harness).
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ReplayMismatchError, ReplayTokenError } from "@primetime/sim";
import { applySearchV8Flags } from "@primetime/sim/explore";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import type { ProgressSink } from "./campaign/progress.js";
import {
  ACCEPTED_STRATEGIES,
  BUGS_DEFAULTS,
  CAMPAIGN_DEFAULTS,
  DEMO_DEFAULTS,
  EXIT,
  HUNT_DEFAULTS,
  OutputError,
  SCHEDULES_FOR_WORKERS,
  short,
  TIME_FOR_WORKERS_MS,
  UsageError,
} from "./cli-defaults.js";
import type { BugsFlags, HuntFlags, RunFlags } from "./commands.js";
import type { DemoOptions } from "./demo.js";
import { type Colors, colorByDefault, palette } from "./format.js";

export { BUGS_DEFAULTS, EXIT, UsageError };

/** The exit status when stdout is closed early (`| head`): SIGPIPE's, 128 + 13. */
export const EXIT_CLOSED_PIPE = 141;

/**
 * The command bodies and what they need (models, drivers, scenarios), loaded when a command
 * runs, not for `--help`.
 */
const commands = () => import("./commands.js");

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
      throw new InvalidArgumentError(`accepted for ${flag}: ${what}${range}`);
    }
    return n;
  };
}

function colorsFor(cmd: Command, io: Io): Colors {
  const { color } = cmd.optsWithGlobals<{ color?: boolean }>();
  return palette(color !== false && (io.color ?? colorByDefault));
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
      const { demo } = await import("./demo.js");
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
    .option(
      "--strategy <name>",
      `search strategy: ${ACCEPTED_STRATEGIES}`,
      CAMPAIGN_DEFAULTS.strategy,
    )
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
      `threads running schedules: this one and N-1 worker threads (default: the number of cores; one for a campaign under ${SCHEDULES_FOR_WORKERS} schedules or a --time under ${TIME_FOR_WORKERS_MS / 1000} s)`,
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
      setCode(await (await commands()).runCommand(o, io, colorsFor(cmd, io)));
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
      setCode(await (await commands()).replayCommand(token, o, io, colorsFor(cmd, io)));
    });

  program
    .command("minimize")
    .description(
      "shrink a finding's schedule (fewer preemptions and steps, same bug); print its race table and new token; exit 1 when it shows the bug",
    )
    .argument("<token>", "a replay token of run or bugs (pt1....)")
    .option(
      "--budget <n>",
      "runs at most (default 200 plus one per preemption of the finding, 400 at most)",
      integer("--budget", 1, 100_000),
    )
    .action(async (token: string, o: { budget?: number }, cmd: Command) => {
      setCode(await (await commands()).minimizeCommand(token, o, io, colorsFor(cmd, io)));
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
    .option(
      "--strategy <name>",
      `search strategy: ${ACCEPTED_STRATEGIES}`,
      CAMPAIGN_DEFAULTS.strategy,
    )
    .option("--seed <n>", "base seed (default 1)", integer("--seed", 0, MAX_SEED))
    .option("--drivers <list>", "drivers, comma-separated (default: every installed driver)")
    .action(async (o: BugsFlags, cmd: Command) => {
      setCode(await (await commands()).bugsCommand(o, io, colorsFor(cmd, io)));
    });

  program
    .command("list")
    .description(
      "list the scenarios, the installed drivers, the historic-bug toggles and the known upstream windows",
    )
    .action(async (_o: unknown, cmd: Command) => {
      setCode((await commands()).listAll(io, colorsFor(cmd, io)));
    });

  program
    .command("toggles")
    .description(
      "every historic-bug toggle: kind (historic, proposed, hypothetical), the fixing commit's title and hash, kernel versions, layer, and the scenario that finds it",
    )
    .option("--json", "print them as JSON (schema primetime-stress/toggles, version 1)")
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const { togglesCommand } = await import("./toggles-command.js");
      setCode(togglesCommand(o, io, colorsFor(cmd, io)));
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
      setCode(await (await commands()).mergeCommand(files, o, io, colorsFor(cmd, io)));
    });

  program
    .command("hunt")
    .description(
      "hunt one historic bug: its case with the toggle on until found, then with every toggle off",
    )
    .argument("<toggle>", "toggle name (see list)")
    .option(
      "--schedules <n>",
      `schedules (default ${HUNT_DEFAULTS.schedules}; a toggle's case may set its own budget)`,
      integer("--schedules", 1),
    )
    .option(
      "--seed <n>",
      `base seed (default ${HUNT_DEFAULTS.seed})`,
      integer("--seed", 0, MAX_SEED),
    )
    .option("--depth <n>", `pct depth (default ${HUNT_DEFAULTS.depth})`, integer("--depth", 1))
    .option(
      "--strategy <name>",
      `search strategy (default pct, or the strategy of the toggle's case, such as pos for fs.fget-no-recheck): ${ACCEPTED_STRATEGIES}`,
    )
    .option("--full-trace", "show every step of the failing run")
    .action(async (name: string, o: HuntFlags, cmd: Command) => {
      setCode(await (await commands()).huntCommand(name, o, io, colorsFor(cmd, io)));
    });

  // Unknown options: commander says which; say what is accepted too.
  for (const cmd of program.commands) {
    const accepted = cmd.options.map((o) => o.long).filter(Boolean);
    cmd.exitOverride().configureOutput({
      writeOut: trimmed((t) => io.log(t)),
      writeErr: trimmed((t) => io.error(t)),
      // A bad value of a known option already says what the option accepts.
      // One line: commander puts its "(Did you mean --seed?)" on a line of its own.
      outputError: (str, write) => {
        const line = str.trim().replace(/\s*\n\s*/g, " ");
        write(
          /accepted/.test(line)
            ? `${line}\n`
            : `${line.replace(/\.$/, "")}; accepted by ${cmd.name()}${cmd.name() === "start" ? " (the default command)" : ""}: ${accepted.join(", ") || "no option"}\n`,
        );
      },
    });
  }
  return program;
}

/**
 * The CLI: parses `argv` (the arguments after the program name), runs the command and returns
 * its exit code (EXIT).
 */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  // Same schedules, faster campaigns (see SEARCH_V8_FLAGS); process-wide, so the campaign's
  // worker threads start with them too.
  applySearchV8Flags();
  let code: number = EXIT.clean;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    const first = argv[0];
    const commands = [...program.commands.flatMap((c) => [c.name(), ...c.aliases()]), "help"];
    // `help <command>` of a command that does not exist: commander would print the whole
    // help on stderr; it is bad usage like any unknown command.
    const named = first === "help" && argv[1] !== undefined ? argv[1] : first;
    if (named !== undefined && !named.startsWith("-") && !commands.includes(named))
      throw new UsageError(
        `unknown command "${short(named)}"; accepted commands: ${commands.join(", ")}`,
      );
    // `help help`: commander has no help of its help command (it prints the program's help as
    // an error); the program's help it is.
    const args = first === "help" && argv[1] === "help" ? ["--help", ...argv.slice(2)] : argv;
    await program.parseAsync([...args], { from: "user" });
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
    if (e instanceof OutputError) {
      io.error(`error: ${e.message}`);
      return EXIT.internal;
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
  // `primetime-stress run | head` closes the pipe early: stop quietly, with the status of a
  // process SIGPIPE ended (128 + 13), not 0: the output cut off may have held a finding.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(EXIT_CLOSED_PIPE);
    throw e;
  });
  process.exitCode = await main(process.argv.slice(2));
}
