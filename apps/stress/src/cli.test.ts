// End-to-end tests of the CLI through main(): the same code path as the primetime-stress bin,
// with stdout and stderr captured. Budgets are small: the whole file runs in well under a minute.
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateRawSync } from "node:zlib";
import { listKnownWindows } from "@primetime/sim";
import { encodeToken } from "@primetime/sim/explore";
import { describe, expect, it, vi } from "vitest";
import { planBugs } from "./campaign/bugs-matrix.js";
import { parseDuration } from "./campaign/config.js";
import type { ProgressSink } from "./campaign/progress.js";
import { type CampaignReport, withoutTiming } from "./campaign/report.js";
import { runSchedule } from "./campaign/schedule.js";
import { type Io, main } from "./cli.js";
import { SCHEDULES_FOR_WORKERS } from "./cli-defaults.js";
import { configFromFlags, defaultWorkers, jobCount } from "./commands.js";
import { installedDrivers } from "./drivers.js";
import { huntableToggles } from "./toggles.js";

// Campaigns take seconds of CPU; on a loaded machine, many more of wall time.
vi.setConfig({ testTimeout: 300_000 });

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function cli(argv: string[]): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { log: (t) => out.push(t), error: (t) => err.push(t), color: false };
  const code = await main(argv, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const dir = mkdtempSync(join(tmpdir(), "primetime-stress-"));
const readReport = (f: string) => JSON.parse(readFileSync(f, "utf8")) as CampaignReport;
const stable = (f: string) => JSON.stringify(withoutTiming(readReport(f)));

/** A bad-usage result: exit 2 and exactly one line on stderr saying what is accepted. */
function expectUsage(r: Captured, message: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.out).toBe("");
  expect(r.err.split("\n")).toHaveLength(1);
  expect(r.err).toMatch(/^error: /);
  expect(r.err).toMatch(/accepted/);
  expect(r.err).toMatch(message);
}

// One campaign with a historic race on: flink_close finds gem.flink-no-handle-count-check.
const FLINK_RUN = [
  "run",
  "--scenario",
  "gem_flink_race/*",
  "--drivers",
  "vgem",
  "--bug",
  "gem.flink-no-handle-count-check",
  "--seeds",
  "60",
  "--quiet",
];
// The determinism checks run the portfolio, whose members depend on the schedule index and the
// unit's calibration only (the engine's search would steer them by the runs before).
const FLINK = [...FLINK_RUN, "--strategy", "portfolio"];

describe("bad usage: exit 2, one line saying what is accepted", () => {
  it.each([
    [["run", "--bogus"], /unknown option '--bogus'; accepted by run: --scenario/],
    [
      ["list", "extra"],
      /too many arguments for 'list'\. Expected 0 arguments but got 1; accepted by list/,
    ],
    [
      ["run", "--strategy", "nope"],
      /--strategy "nope".*portfolio\[:depth\].*random, pos, pct\[:depth\]/,
    ],
    [["hunt", "gem.open-drops-name-lock", "--strategy", "pct:0"], /--strategy "pct:0"/],
    [["run", "--scenario", "no-such-*"], /matches no scenario/],
    [
      ["run", "--drivers", "nvidia"],
      /unknown driver "nvidia"; accepted drivers \(installed\): .*vgem/,
    ],
    [["run", "--bug", "gem.nope"], /unknown toggle "gem.nope"; accepted toggles: /],
    [["run", "--time", "5 parsecs"], /not a duration/],
    [["run", "--shard", "0/3"], /--shard "0\/3"/],
    [["run", "--faults", "sometimes"], /nth:N .* p:P/],
    [["run", "--seeds", "10", "--time", "1s"], /one of them/],
    [["frobnicate"], /unknown command "frobnicate"; accepted commands: start/],
    [["run", "--seeds", "0"], /argument .* is invalid\. accepted for --seeds: a positive integer$/],
    [
      ["run", "--seeds", "-5"],
      /argument .* is invalid\. accepted for --seeds: a positive integer$/,
    ],
    [
      ["run", "--seeds", "99999999999999999999"],
      /argument .* is invalid\. accepted for --seeds: a positive integer$/,
    ],
    [["run", "--seed", "-1"], /accepted for --seed: a non-negative integer at most 4294967295$/],
    [["run", "--workers", "0"], /accepted for --workers: a positive integer at most \d+$/],
    [["run", "--shard", "3/2"], /--shard "3\/2".*1 <= i <= n/],
    [["run", "--shard", "1/0"], /--shard "1\/0"/],
    [["run", "--time", "0s"], /--time "0s" is not a duration/],
    [["run", "--faults", "p:2"], /0 < P <= 1/],
    // A misspelt option: commander's suggestion on the same line.
    [
      ["run", "--sed", "1"],
      /^error: unknown option '--sed' \(Did you mean --seed\?\); accepted by run: /,
    ],
    [["--frobnicate"], /unknown option '--frobnicate'; accepted by start \(the default command\)/],
    [["help", "nope"], /unknown command "nope"; accepted commands: start/],
    // An empty --bug names no toggle (it ran a campaign with every toggle off).
    [["run", "--bug", "", "--scenario", "kref-put-mutex", "--seeds", "1"], /unknown toggle ""/],
    // Under a millisecond is no time at all (it ran no schedule and found nothing).
    [["run", "--time", "0.4ms", "--scenario", "kref-put-mutex"], /--time "0\.4ms".*at least 1ms/],
    // What the message says is accepted is what is accepted.
    [["run", "--shard", "1/1000000"], /--shard "1\/1000000".*1 <= i <= n <= 999999/],
    [["run", "--faults", "nth:9999999999"], /1 <= N <= 999999999/],
    [["run", "--strategy", "pct:10000"], /--strategy "pct:10000".*1 <= depth <= 9999/],
    [["run", "--strategy", "dfs:10000"], /preemption bound 0-9999/],
  ])("%j", async (argv, message) => {
    expectUsage(await cli(argv as string[]), message as RegExp);
  });

  it("--time: a duration too long for a double is refused, not an endless campaign", () => {
    expect(() => parseDuration(`${"9".repeat(400)}h`)).toThrow(/not a duration/);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1.5ms")).toBe(2);
  });

  it("help help is the program's help", async () => {
    const r = await cli(["help", "help"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: primetime-stress \[options\] \[command\]/);
    expect(r.err).toBe("");
  });

  it("a token whose unit this harness does not have", async () => {
    const t = {
      strategy: "random" as const,
      param: 0,
      seed: 1,
      steps: 0,
      stepLimit: 1000,
      traceHash: 0,
      toggles: [] as string[],
      choices: [] as number[],
    };
    for (const [scenario, message] of [
      ["cross-share@nvidia+vgem", /unit "cross-share@nvidia\+vgem": unknown driver "nvidia"/],
      ["cross-share@vgem", /cross-share runs on 2 driver\(s\), the key names 1/],
      ["cross-share@vgem+vgem~nth:0", /unit "cross-share@vgem\+vgem~nth:0": --faults "nth:0"/],
    ] as const) {
      const token = encodeToken({ ...t, scenario });
      expectUsage(await cli(["replay", token]), message);
      expectUsage(await cli(["minimize", token]), message);
    }
    // A hunt's token names a scenario, not a unit: minimize says which tokens it takes.
    const hunt = encodeToken({ ...t, scenario: "gem_flink_race/flink_close" });
    expectUsage(await cli(["minimize", hunt]), /accepted: a token of run or bugs/);
  });

  it("a corrupt or truncated token", async () => {
    expectUsage(await cli(["replay", "pt1.AAAA"]), /token/);
    expectUsage(await cli(["replay", "hello"]), /token/);
  });

  it("a token with characters appended or cut off", async () => {
    const json = join(dir, "token-source.json");
    const args = ["run", "--scenario", "kref-lookup-unlocked", "--seeds", "20", "--workers", "1"];
    expect((await cli([...args, "--quiet", "--json", json])).code).toBe(1);
    const token = readReport(json).findings[0]!.token;
    for (const bad of [`${token}A`, `${token}AAAA`, token.slice(0, -1), token.slice(0, -4)])
      for (const cmd of ["replay", "minimize"])
        expectUsage(await cli([cmd, bad]), /corrupt replay token/);
  });

  it("--json in a missing directory, --report on a file: before anything runs", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "not a directory\n");
    const run = ["run", "--scenario", "kref-lookup-unlocked", "--seeds", "5", "--workers", "1"];
    for (const [flags, message] of [
      [["--json", join(dir, "no-such-dir", "r.json")], /--json .*no directory .*accepted/],
      [["--json", dir], /--json .* is a directory/],
      [["--report", file], /--report .*: it is a file; accepted: a directory/],
      [["--report", join(file, "sub")], /--report .*a-file is a file/],
    ] as const) {
      expectUsage(await cli([...run, ...flags]), message);
      expectUsage(await cli(["merge", join(dir, "w1.json"), ...flags]), message);
    }
  });

  it("--json and --report where the file system refuses what the permission bits allow: exit 2 at once, nothing left", async () => {
    // As root, /proc is writable by its mode bits but takes no new entry (ENOENT); Node 20's
    // recursive mkdir never returned there. Not root: /proc is not writable. Exit 2 either way.
    const run = ["run", "--scenario", "kref-lookup-unlocked", "--seeds", "5", "--workers", "1"];
    if (existsSync("/proc/self")) {
      for (const [flags, message] of [
        [
          ["--report", "/proc/primetime-report"],
          /--report .*(cannot create \/proc\/primetime-report|not writable)/,
        ],
        [
          ["--report", "/proc/primetime-report/sub"],
          /--report .*(cannot create \/proc\/primetime-report|not writable)/,
        ],
        [["--json", "/proc/primetime.json"], /--json .*(cannot write it|not writable)/],
      ] as const) {
        expectUsage(await cli([...run, ...flags]), message);
        expectUsage(await cli(["merge", join(dir, "w1.json"), ...flags]), message);
      }
    }
    // The probes leave nothing behind when a later check refuses the run.
    const json = join(dir, "probe", "r.json");
    mkdirSync(dirname(json), { recursive: true });
    const report = join(dir, "probe", "report", "deeper");
    const noUnit = ["run", "--scenario", "surface-reaper", "--drivers", "vgem", "--seeds", "1"];
    expectUsage(await cli([...noUnit, "--json", json, "--report", report]), /no unit to run/);
    expect(readdirSync(dirname(json))).toEqual([]);
  });

  it("merge: a file that is not a report", async () => {
    const file = join(dir, "truncated.json");
    writeFileSync(file, '{"schema": "primetime-stress/rep');
    expectUsage(await cli(["merge", file]), /merge: .*truncated.json is not JSON/);
    expectUsage(await cli(["merge", join(dir, "missing.json")]), /merge: cannot read/);
    writeFileSync(file, '{"schema": "something-else"}');
    expectUsage(await cli(["merge", file]), /is not a primetime-stress report/);
    expectUsage(await cli(["merge", dir]), /merge: cannot read/);
    // A file without end: read up to the bound, then refused (it used to be read until memory ran out).
    if (existsSync("/dev/zero"))
      expectUsage(await cli(["merge", "/dev/zero"]), /merge: \/dev\/zero is larger than 256 MiB/);
  });

  it("merge: a damaged report is refused with the field named", async () => {
    const good = join(dir, "good-shard.json");
    const args = ["run", "--scenario", "kref-lookup-locked", "--seeds", "4", "--workers", "1"];
    expect((await cli([...args, "--shard", "1/2", "--quiet", "--json", good])).code).toBe(0);
    const report = readReport(good) as unknown as Record<string, Record<string, unknown>>;
    const damaged = (name: string, edit: (r: Record<string, Record<string, unknown>>) => void) => {
      const r = structuredClone(report);
      edit(r);
      const f = join(dir, name);
      writeFileSync(f, JSON.stringify(r));
      return f;
    };
    for (const [file, message] of [
      // A shard count of 2^32: Array.from() of it threw "Invalid array length"; of 10^9 it
      // allocated until V8 aborted.
      [
        damaged("shard-huge.json", (r) => {
          r.config!.shard = "1/4294967296";
        }),
        /damaged report: config\.shard is not null or i\/n/,
      ],
      [
        damaged("shard-number.json", (r) => {
          r.config!.shard = 1;
        }),
        /damaged report: config\.shard/,
      ],
      [
        damaged("no-timing.json", (r) => {
          delete (r as Record<string, unknown>).timing;
        }),
        /damaged report: timing is not an object/,
      ],
      [
        damaged("outcomes.json", (r) => {
          (r.units as unknown as Record<string, unknown>[])[0]!.outcomes = null;
        }),
        /damaged report: units\[0\]\.outcomes/,
      ],
    ] as const)
      expectUsage(await cli(["merge", file, good]), message);
    // A shard of 999999 alone: refused before the missing shards are listed one by one.
    const lone = damaged("shard-lone.json", (r) => {
      r.config!.shard = "1/999999";
    });
    expectUsage(await cli(["merge", lone]), /shards 1\/999999 do not make a whole campaign/);
  });

  it("an output that cannot be written at the end: the results printed, one line, exit 3", async () => {
    if (!existsSync("/dev/full")) return;
    // /dev/full opens for writing (the check before the run passes) and fails each write (ENOSPC).
    const args = ["run", "--scenario", "kref-lookup-unlocked", "--seeds", "20", "--workers", "1"];
    const r = await cli([...args, "--quiet", "--json", "/dev/full"]);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^F1 kref-lookup-unlocked: kasan: /m);
    expect(r.out).toMatch(/20 schedules on 1 unit .*: 1 finding$/);
    expect(r.err.split("\n")).toEqual([
      expect.stringMatching(
        /^error: cannot write the JSON report \/dev\/full \(ENOSPC: no space left on device\); the results are above$/,
      ),
    ]);
  });

  it("a token with a valid checksum but impossible content, or a decompression bomb", async () => {
    const t = {
      strategy: "random" as const,
      param: 0,
      seed: 1,
      steps: 0,
      stepLimit: 1000,
      traceHash: 0,
      scenario: "fuzz@vgem+vgem",
      toggles: [] as string[],
      choices: [] as number[],
    };
    const unknown = encodeToken({ ...t, toggles: ["nobody.defines-this"] });
    expectUsage(await cli(["replay", unknown]), /unknown toggle "nobody\.defines-this"/);
    const stepLimit0 = encodeToken({ ...t, stepLimit: 0 });
    expectUsage(await cli(["replay", stepLimit0]), /step limit 0 is out of range/);
    // 64 MiB of zeros deflate to about 64 KiB: rejected once 16 MiB are inflated.
    const bomb = `pt1.${deflateRawSync(Buffer.alloc(64 * 2 ** 20)).toString("base64url")}`;
    expectUsage(await cli(["replay", bomb]), /inflates past/);
    expectUsage(await cli(["minimize", bomb]), /inflates past/);
  });
});

describe("list", () => {
  it("names scenarios, drivers and toggles", async () => {
    const r = await cli(["list"]);
    expect(r.code).toBe(0);
    // A scenario that fits some pairs names them (surface-reaper: qxl exports).
    const reaper = r.out.split("\n").findIndex((l) => /^\s+surface-reaper\s/.test(l));
    const qxlPairs = installedDrivers().map((d) => `qxl+${d.name}`);
    expect(r.out.split("\n")[reaper + 1]).toContain(
      `runs on the ordered driver pairs it fits: ${qxlPairs.join(", ")};`,
    );
    for (const w of [
      "cross-share",
      "compositor",
      "mmap-vs-close",
      "fence-wait",
      "gem_flink_race/flink_close",
      "kref-put-mutex",
      "vgem",
      "prime.cache-without-lock",
    ])
      expect(r.out).toContain(w);
    // The known upstream windows come last, each with its fix switch (KNOWN-WINDOWS.md).
    const windows = r.out.slice(r.out.indexOf("known upstream windows"));
    expect(windows.length).toBeGreaterThan(0);
    for (const w of listKnownWindows()) {
      expect(windows).toContain(`  ${w.name}  `);
      expect(windows).toContain(`fix switch: ${w.proposedFix}`);
    }
    expect(listKnownWindows().map((w) => w.name)).toEqual(
      expect.arrayContaining(["vmwgfx.dumb-put-before-last-use", "qxl.handle-create-leak"]),
    );
  });
});

describe("run, replay, workers, shards, merge", () => {
  it("finds the toggle, exits 1; the JSON report has the finding; its token replays to the splat (exit 1)", async () => {
    const json = join(dir, "w1.json");
    const r = await cli([...FLINK_RUN, "--strategy", "pct:3", "--workers", "1", "--json", json]);
    expect(r.code).toBe(1);
    const rep = readReport(json);
    expect(rep.schema).toBe("primetime-stress/report");
    expect(rep.version).toBe(1);
    expect(rep.totals.schedules).toBe(120);
    expect(rep.findings.length).toBeGreaterThan(0);
    const f = rep.findings[0]!;
    expect(f.unit).toBe("gem_flink_race/flink_close@vgem");
    expect(f.drivers).toEqual(["vgem"]);
    expect(f.strategy).toBe("pct:3");
    expect(f.raceTable).toContain("|");
    expect(f.replay).toBe(`pnpm -s stress replay ${f.token}`);
    // The IGT assertion's stack frame, relative to the repository (not where it is checked out).
    expect(f.firstSplat).toMatch(/\(packages\/conformance\/(src|dist)\/harness\.(ts|js):\d+:\d+\)/);
    expect(f.firstSplat).not.toContain(fileURLToPath(new URL("../../../", import.meta.url)));
    const again = await cli(["replay", f.token]);
    expect(again.code).toBe(1);
    expect(again.out).toContain(f.firstSplat.split("\n")[0]!.replace(/^\[step \d+\] /, ""));
  });

  it("the same command twice gives the same report apart from timing", async () => {
    const a = join(dir, "a.json");
    const b = join(dir, "b.json");
    await cli([...FLINK, "--workers", "1", "--json", a]);
    await cli([...FLINK, "--workers", "1", "--json", b]);
    expect(stable(a)).toBe(stable(b));
    const f = readReport(a).findings[0]!;
    // The portfolio's finding names the member that ran its schedule.
    expect(f.strategy).toMatch(/^portfolio:3 \((pct:[234]|pos|random)\)$/);
  });

  it("without --workers, runs no more threads than the campaign pays for", async () => {
    // The cores from SCHEDULES_FOR_WORKERS schedules or a --time of 10 s on; one below.
    expect(defaultWorkers(20_000, null, 2)).toBe(2);
    expect(defaultWorkers(20_000, null, 8)).toBe(8);
    expect(defaultWorkers(SCHEDULES_FOR_WORKERS, null, 8)).toBe(8);
    expect(defaultWorkers(SCHEDULES_FOR_WORKERS - 1, null, 8)).toBe(1);
    expect(defaultWorkers(10, null, 64)).toBe(1);
    expect(defaultWorkers(1_000_000, null, 1)).toBe(1);
    expect(defaultWorkers(null, 9_999, 8)).toBe(1);
    expect(defaultWorkers(null, 10_000, 8)).toBe(8);
    // DFS (no expected count): the cores.
    expect(defaultWorkers(null, null, 3)).toBe(3);
    // Through the CLI: a short campaign runs on this thread alone, whatever the machine.
    const json = join(dir, "short.json");
    const r = await cli([...FLINK, "--json", json]);
    expect(r.code).toBe(1);
    expect(readReport(json).timing.workers).toBe(1);
  });

  it("--workers N starts no more threads than the campaign has jobs", async () => {
    const base = { scenario: "gem_flink_race/*", strategy: "portfolio", drivers: "vgem" };
    // Jobs of 16 schedule indices per unit (of the shard), or one per unit under DFS.
    expect(jobCount(configFromFlags({ ...base, seeds: 60 }), 2)).toBe(8);
    expect(jobCount(configFromFlags({ ...base, seeds: 60, shard: "2/3" }), 2)).toBe(4);
    expect(jobCount(configFromFlags({ ...base, seeds: 1 }), 2)).toBe(2);
    expect(jobCount(configFromFlags({ ...base, strategy: "dfs", seeds: 9 }), 5)).toBe(5);
    expect(jobCount(configFromFlags({ ...base, strategy: "dfs", shard: "2/2" }), 5)).toBe(2);
    expect(jobCount(configFromFlags({ ...base, time: "1m" }), 2)).toBe(Number.POSITIVE_INFINITY);
    // One schedule is one job: --workers 8 started 7 worker threads that loaded the models for
    // nothing.
    const json = join(dir, "one-job.json");
    const r = await cli([
      "run",
      "--scenario",
      "kref-put-mutex",
      "--seeds",
      "1",
      "--workers",
      "8",
      "--json",
      json,
    ]);
    expect(r.code).toBe(0);
    expect(readReport(json).timing.workers).toBe(1);
    expect(r.err).toContain("1 worker (one per job: --workers 8 asked)");
  });

  it("--workers 2 and 3 find the same, with the same tokens, as --workers 1", async () => {
    const one = join(dir, "one.json");
    const two = join(dir, "two.json");
    await cli([...FLINK, "--workers", "1", "--json", one]);
    const r = await cli([...FLINK, "--workers", "2", "--json", two]);
    expect(r.code).toBe(1);
    expect(readReport(two).timing.workers).toBe(2);
    expect(stable(two)).toBe(stable(one));
    // This thread and two worker threads, the calibrations measured once in this thread.
    const three = join(dir, "three.json");
    expect((await cli([...FLINK, "--workers", "3", "--json", three])).code).toBe(1);
    expect(stable(three)).toBe(stable(one));
  }, 180_000);

  it("3 shards merged equal the unsplit run", async () => {
    const whole = join(dir, "whole.json");
    await cli([...FLINK, "--workers", "1", "--json", whole]);
    const parts: string[] = [];
    for (const i of [1, 2, 3]) {
      const f = join(dir, `shard${i}.json`);
      await cli([...FLINK, "--workers", "1", "--shard", `${i}/3`, "--json", f]);
      parts.push(f);
    }
    const schedules = parts.map((p) => readReport(p).totals.schedules);
    expect(schedules.reduce((a, b) => a + b, 0)).toBe(120);
    const merged = join(dir, "merged.json");
    const m = await cli(["merge", ...parts, "--json", merged]);
    expect(m.code).toBe(1);
    expect(stable(merged)).toBe(stable(whole));
    // A missing shard is bad usage.
    expectUsage(await cli(["merge", parts[0]!, parts[1]!]), /whole campaign/);
  });
});

describe("bugs", () => {
  it("every toggle is found within its budget and the baseline is clean", async () => {
    // The full budgets (2000 per toggle, 300 baseline schedules per scenario and driver) are the
    // command's defaults; this end-to-end check keeps the toggle budgets and runs a shorter
    // baseline. Each package's own tests run its toggle-off cases over many more seeds.
    const r = await cli(["bugs", "--baseline-seeds", "25"]);
    expect(r.out).toContain("every toggle found within its budget, baseline clean");
    // A case with a strategy of its own: POS, its budget, and its baseline under POS.
    expect(r.out).toMatch(
      /fs\.fget-no-recheck\s*│\s*fuzz-fd-reuse@vgem \(pos, budget 2688\)\s*│\s*found at schedule 227\s/,
    );
    expect(r.out).toMatch(
      /every toggle off\)\s*│\s*fuzz-fd-reuse@vgem \(pos\)\s*│\s*clean in 25\s/,
    );
    expect(r.code).toBe(0);
  }, 300_000);

  it("a toggle not found within its budget is a hole: exit 1", async () => {
    const r = await cli(["bugs", "--seeds", "1", "--baseline-seeds", "1"]);
    expect(r.out).toMatch(/NOT found in 1/);
    expect(r.out).toContain("the detection matrix has holes");
    expect(r.code).toBe(1);
  }, 300_000);
});

describe("the sharing scenarios", () => {
  it("are clean on every driver pair, also with allocations failing", async () => {
    const json = join(dir, "sharing.json");
    const r = await cli([
      "run",
      "--scenario",
      "cross-share,compositor,mmap-vs-close,fence-wait",
      "--seeds",
      "6",
      "--workers",
      "1",
      "--quiet",
      "--json",
      json,
    ]);
    expect(r.code).toBe(0);
    const rep = readReport(json);
    const names = installedDrivers().map((d) => d.name);
    const pairs = names.flatMap((a) => names.map((b) => `${a}+${b}`));
    expect(rep.units.map((u) => u.unit)).toEqual([
      ...pairs.map((p) => `cross-share@${p}`),
      ...pairs.map((p) => `compositor@${p}`),
      ...names.map((d) => `mmap-vs-close@${d}`),
      ...pairs.map((p) => `fence-wait@${p}`),
    ]);
    for (const u of rep.units) expect(u.steps.min).toBeGreaterThan(100);
    const faulty = await cli([
      "run",
      "--scenario",
      "cross-share,mmap-vs-close",
      "--drivers",
      "vgem",
      "--faults",
      "p:0.05",
      "--seeds",
      "12",
      "--workers",
      "1",
      "--quiet",
    ]);
    expect(faulty.code).toBe(0);
  }, 180_000);

  it("are clean on qxl with allocations failing: the known windows' fix switches are on", async () => {
    // qxl.handle-create-leak (KNOWN-WINDOWS.md): a failed drm_gem_handle_create() leaks the
    // creation reference in current kernels; clean baselines run with its fix (baselineFixes()).
    const args = ["run", "--scenario", "cross-share", "--drivers", "qxl", "--faults", "p:0.05"];
    const more = ["--seeds", "40", "--workers", "1", "--quiet", "--fail-fast"];
    const fixed = await cli([...args, ...more]);
    expect(fixed.code, fixed.out).toBe(0);
    const open = await cli([...args, ...more, "--open-windows"]);
    expect(open.code, open.out).toBe(1);
    expect(open.out).toMatch(/qxl: GEM state leaked/);
  }, 180_000);
});

describe("vmwgfx's dumb buffers: the known window vmwgfx.dumb-put-before-last-use", () => {
  it("are clean with its fix switch on, and --open-windows finds it (its reproducer, IGT's flink_close)", async () => {
    // KNOWN-WINDOWS.md: vmw_dumb_create() drops the buffer's GEM reference before its last use
    // of the buffer in current kernels; clean baselines run with the fix (baselineFixes()).
    const more = ["--seeds", "30", "--workers", "1", "--quiet", "--fail-fast"];
    for (const args of [
      ["run", "--scenario", "vmwgfx/dumb-create-vs-close-guessed-handle"],
      ["run", "--scenario", "gem_flink_race/flink_close", "--drivers", "vmwgfx"],
    ]) {
      const fixed = await cli([...args, ...more]);
      expect(fixed.code, fixed.out).toBe(0);
      expect(fixed.out).toMatch(/30 schedules on 1 unit .*: nothing found/);
      // Found at schedules 9 and 4 (seed 1).
      const open = await cli([...args, ...more, "--open-windows"]);
      expect(open.code, open.out).toBe(1);
      expect(open.out).toMatch(/KASAN: slab-use-after-free in (vmw_dumb_create|kref_put)/);
    }
  }, 180_000);
});

describe("vmwgfx's error-path windows (alloc-bo-handle-leak, surface-define-einval-leak, import-sg-table-null)", () => {
  it("are clean with their fix switches on, and --open-windows finds each at once (their reproducers)", async () => {
    // KNOWN-WINDOWS.md: v6.12.19 and v6.18.35 leak a buffer whose handle could not be created
    // (ALLOC_BO) and a surface refused with -EINVAL (GB_SURFACE_CREATE), and dereference the NULL
    // of a failed PRIME import; clean baselines run with the fixes (baselineFixes()).
    const more = ["--seeds", "3", "--workers", "1", "--quiet", "--fail-fast"];
    for (const [scenario, finds] of [
      ["vmwgfx/alloc-bo-handle-failslab", /kmemleak: unreferenced object vmw_bo/],
      [
        "vmwgfx/surface-define-einval",
        /kmemleak: unreferenced object (drm_master|vmw_user_surface)/,
      ],
      [
        "vmwgfx/import-failslab",
        /BUG: kernel NULL pointer dereference in drm_gem_prime_import_dev/,
      ],
    ] as const) {
      const args = ["run", "--scenario", scenario];
      const fixed = await cli([...args, ...more]);
      expect(fixed.code, fixed.out).toBe(0);
      const open = await cli([...args, ...more, "--open-windows"]);
      expect(open.code, open.out).toBe(1);
      expect(open.out).toMatch(finds);
    }
  }, 180_000);
});

describe("TTM's known window ttm.walk-put-runs-destroy (a vmwgfx dumb buffer freed under EXECBUF)", () => {
  it("its reproducer is clean with the fix switch on, and --open-windows finds lockdep's recursive locking of cmdbuf_mutex", async () => {
    // KNOWN-WINDOWS.md: the eviction walk of EXECBUF's validation puts a deleted dumb buffer
    // after its delayed delete did, and vmw_bo_free() takes cmdbuf_mutex, which EXECBUF holds.
    const args = ["run", "--scenario", "vmwgfx/dumb-release-in-evict-walk"];
    const more = ["--seeds", "3", "--workers", "1", "--quiet", "--fail-fast"];
    const fixed = await cli([...args, ...more]);
    expect(fixed.code, fixed.out).toBe(0);
    const open = await cli([...args, ...more, "--open-windows"]);
    expect(open.code, open.out).toBe(1);
    expect(open.out).toMatch(/lockdep: WARNING: possible recursive locking detected/);
  }, 180_000);
});

describe("gem's known window gem.lease-held-put-under-idr-mutex (a lease check's master put under idr_mutex)", () => {
  it("its reproducer is clean with the fix switch on, and --open-windows finds lockdep's recursive locking of idr_mutex", async () => {
    // KNOWN-WINDOWS.md: GETCRTC's __drm_mode_object_find() holds mode_config.idr_mutex while
    // _drm_lease_held() puts a master reference; a root SET_MASTER of the same file made it the
    // last, and drm_lease_destroy() takes idr_mutex again (the portfolio's schedule 18).
    const args = ["run", "--scenario", "qxl/lease-lookup-vs-setmaster"];
    const more = ["--seeds", "40", "--workers", "1", "--quiet", "--fail-fast"];
    const fixed = await cli([...args, ...more]);
    expect(fixed.code, fixed.out).toBe(0);
    const open = await cli([...args, ...more, "--open-windows"]);
    expect(open.code, open.out).toBe(1);
    expect(open.out).toMatch(/lockdep: WARNING: possible recursive locking detected/);
  }, 180_000);
});

describe("vmwgfx's known window vmwgfx.base-object-init-tfile-leak", () => {
  it("a fault-injected vmwgfx fuzz campaign is clean with its fix switch on, and --open-windows finds the ttm_object_file leak (and its reproducer at once)", async () => {
    // KNOWN-WINDOWS.md: v6.12.19's and v6.18.35's ttm_base_object_init() keep the
    // ttm_object_file reference of base->tfile when idr_alloc() or ttm_ref_object_add() fails
    // (every vmwgfx soak campaign with faults reported it); clean baselines run with the fix
    // (baselineFixes()). Seed 1 of the fuzz campaign: 8 of 40 schedules leak with it open.
    const more = ["--workers", "1", "--quiet"];
    const fuzz = ["run", "--scenario", "fuzz", "--drivers", "vmwgfx", "--faults", "p:0.02"];
    const fixed = await cli([...fuzz, "--seeds", "40", ...more]);
    expect(fixed.code, fixed.out).toBe(0);
    expect(fixed.out).toMatch(/40 schedules on 1 unit .*: nothing found/);
    const open = await cli([...fuzz, "--seeds", "40", ...more, "--open-windows"]);
    expect(open.code, open.out).toBe(1);
    expect(open.out).toMatch(
      /fuzz@vmwgfx\+vmwgfx~p:0\.02: kmemleak: unreferenced object ttm_object_file#/,
    );
    const repro = ["run", "--scenario", "vmwgfx/surface-tfile-failslab", "--seeds", "3"];
    const reproFixed = await cli([...repro, ...more, "--fail-fast"]);
    expect(reproFixed.code, reproFixed.out).toBe(0);
    const reproOpen = await cli([...repro, ...more, "--fail-fast", "--open-windows"]);
    expect(reproOpen.code, reproOpen.out).toBe(1);
    expect(reproOpen.out).toMatch(/kmemleak: unreferenced object ttm_object_file#/);
  }, 180_000);
});

describe("progress on a non-terminal", () => {
  it("plain lines while schedules run and while findings are minimized", async () => {
    const lines: string[] = [];
    const io: Io = {
      log: () => {},
      error: (t) => lines.push(t),
      color: false,
      stderr: { isTTY: false, write: (t: string) => lines.push(t.trimEnd()) },
    };
    const argv = ["run", "--scenario", "kref-lookup-unlocked", "--seeds", "20", "--workers", "1"];
    expect(await main(argv, io)).toBe(1);
    expect(lines[0]).toMatch(/^stress: 1 unit /);
    expect(lines.some((l) => /^stress: \d+\/20 schedules, \d+\/s, \d+ failing/.test(l))).toBe(true);
    expect(lines.at(-1)).toBe("stress: minimizing finding 1/1 (kref-lookup-unlocked)");
    // --quiet: none of it.
    lines.length = 0;
    expect(await main([...argv, "--quiet"], io)).toBe(1);
    expect(lines).toEqual([]);
  });
});

describe("a progress bar on a terminal, the summary table", () => {
  it("draws the bar (schedules, rate, failing, time left) and one table row per unit", async () => {
    const bar: string[] = [];
    const out: string[] = [];
    const io: Io = {
      log: (t) => out.push(t),
      error: () => {},
      color: false,
      stderr: { isTTY: true, columns: 120, write: (t: string) => bar.push(t) } as ProgressSink,
    };
    const argv = ["run", "--scenario", "kref-lookup-locked,kref-put-mutex", "--seeds", "30"];
    expect(await main([...argv, "--workers", "1"], io)).toBe(0);
    expect(bar.join("")).toMatch(/\d+\/60 schedules \| \d+\/s \| 0 failing \| (\?|\d+[sm]) left/);
    const text = out.join("\n");
    expect(text).toMatch(/scenario\s+│ drivers\s+│ expect\s+│ schedules │ failing │ findings │/);
    expect(text).toMatch(/│ kref-lookup-locked\s+│ -\s+│ clean\s+│ 30\s+│ 0\s+│ 0\s+│/);
    expect(text).toMatch(/│ kref-put-mutex\s+│ -\s+│ clean\s+│ 30\s+│ 0\s+│ 0\s+│/);
    expect(text).toMatch(/60 schedules on 2 units in [\d.]+ s \(\d+\/s\): nothing found$/);
  });
});

describe("replay exit codes, --explain", () => {
  it("exit 1 with splats (--explain says what they mean), 0 for a clean schedule", async () => {
    const json = join(dir, "explain.json");
    const args = ["run", "--scenario", "kref-lookup-unlocked", "--seeds", "20", "--workers", "1"];
    expect((await cli([...args, "--quiet", "--json", json])).code).toBe(1);
    const f = readReport(json).findings[0]!;
    const r = await cli(["replay", f.token, "--explain"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("scenario: rule 3 broken");
    expect(r.out).toContain("kasan: KASAN: memory touched after it was freed");
    expect(r.out).toContain("<- kasan");
    // The rows are around the schedule's preemptions, as the minimizer's table shows them.
    expect(r.out).toMatch(/preemptions before the splat .*as `minimize` shows them/);
    // The fix switches of the known upstream windows (on in every campaign) are not toggles.
    const header = r.out.split("\n")[0]!;
    expect(header).not.toContain("toggles on");
    expect(header).toMatch(/; fix switches on: .*qxl\.handle-create-leak/);
    const clean = await runSchedule(
      configFromFlags({ scenario: "kref-lookup-locked", strategy: "pct:3", seeds: 1 }),
      "kref-lookup-locked",
      0,
    );
    expect(clean.run.splats).toEqual([]);
    const ok = await cli(["replay", clean.run.token, "--explain"]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("no splat");
  });
});

describe("replay --explain boots with kasan_multi_shot", () => {
  it("prints every KASAN report of the same schedule; without --explain only the first", async () => {
    const hunt = await cli(["hunt", "gem.change-handle-lookup-before-lock", "--schedules", "100"]);
    const token = hunt.out.match(/pt1\.[A-Za-z0-9._~-]+/)?.[0];
    expect(token, hunt.out).toBeDefined();
    const kasan = (out: string) => out.split("\n").filter((l) => /\] kasan: BUG: KASAN: /.test(l));
    const trace = (out: string) => out.match(/trace ([0-9a-f]+)/)?.[1];
    const plain = await cli(["replay", token!]);
    const explained = await cli(["replay", token!, "--explain"]);
    expect(trace(explained.out)).toBe(trace(plain.out));
    expect(kasan(plain.out)).toHaveLength(1);
    expect(kasan(explained.out).length).toBeGreaterThan(1);
    // The option is the replay's: a later replay prints the first report only again.
    expect(kasan((await cli(["replay", token!])).out)).toEqual(kasan(plain.out));
  });
});

describe("hunt", () => {
  it("shows its progress (both searches) and says which defaults a toggle's case overrides", async () => {
    const lines: (string | null)[] = [];
    const io: Io = { log: () => {}, error: () => {}, color: false, progress: (l) => lines.push(l) };
    const argv = ["hunt", "gem.flink-no-handle-count-check", "--schedules", "100"];
    expect(await main(argv, io)).toBe(0);
    // The search with every toggle off runs the whole budget; the line is cleared at the end.
    expect(lines).toContain("hunt gem.flink-no-handle-count-check: pct:3, toggle off 100/100");
    expect(lines.at(-1)).toBeNull();
    const help = await cli(["hunt", "--help"]);
    expect(help.out).toMatch(/a\s+toggle's\s+case\s+may\s+set\s+its\s+own\s+budget/);
    expect(help.out).toMatch(/or\s+the\s+strategy\s+of\s+the\s+toggle's\s+case/);
  });
});

describe("internal errors", () => {
  it("exit 3 with `internal error` and the stack: not a finding (1), not bad usage (2)", async () => {
    const err: string[] = [];
    const code = await main(["list"], {
      log: () => {
        throw new Error("stdout is gone");
      },
      error: (t) => err.push(t),
      color: false,
    });
    expect(code).toBe(3);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(
      /^internal error \(a bug of the harness\): Error: stdout is gone\n\s+at /,
    );
  });
});

describe("the primetime-stress bin", () => {
  it("runs from a checkout without a build: exit codes and streams as documented", () => {
    const bin = new URL("../bin/primetime-stress.mjs", import.meta.url).pathname;
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [bin, ...args], {
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1" },
      });
    const list = run("list");
    expect(list.status).toBe(0);
    expect(list.stdout).toContain("cross-share");
    const bad = run("run", "--strategy", "fast");
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    const ok = run("run", "--scenario", "kref-put-mutex", "--seeds", "20", "--workers", "1");
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("nothing found");
    expect(ok.stderr).toContain("stress: 1 unit");
  }, 180_000);

  it("stdout closed early (| head): the status of SIGPIPE, not 0 (nothing found)", async () => {
    const json = join(dir, "closed-pipe.json");
    const args = ["run", "--scenario", "kref-lookup-unlocked", "--seeds", "20", "--workers", "1"];
    expect((await cli([...args, "--quiet", "--json", json])).code).toBe(1);
    const token = readReport(json).findings[0]!.token;
    const bin = new URL("../bin/primetime-stress.mjs", import.meta.url).pathname;
    // The reader is gone before the replay (exit 1: splats) writes its first line.
    const child = spawn(process.execPath, [bin, "replay", token], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    child.stdout.destroy();
    const status = await new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    expect(status).toBe(141);
  }, 60_000);
});

describe("minimize", () => {
  // The first splat line of a replay, numbers blanked (as finding signatures are).
  const firstSplat = (out: string) =>
    (out.split("\n").find((l) => /^\[step \d+\] /.test(l)) ?? "")
      .replace(/^\[step \d+\] /, "")
      .replace(/0x[0-9a-f]+/gi, "0x_")
      .replace(/#\d+/g, "#_")
      .replace(/\d+/g, "N");

  it("every toggle's finding minimizes to at most 12 rows that replay to the same splat", async () => {
    // Every toggle the detection matrix hunts, on the first scenario and drivers it uses.
    const plan = planBugs(installedDrivers().map((d) => d.name));
    const hunts = new Map<string, (typeof plan.hunts)[number]>();
    for (const h of plan.hunts) if (!hunts.has(h.toggle)) hunts.set(h.toggle, h);
    expect([...hunts.keys()].sort()).toEqual(
      huntableToggles()
        .map((t) => t.name)
        .sort(),
    );
    expect(hunts.size).toBeGreaterThanOrEqual(30);
    let viaCommand = false;
    /** Tables that show only some of the minimized run's preemptions: toggle, shown, kept. */
    const partial: string[] = [];
    for (const h of hunts.values()) {
      const t = { name: h.toggle };
      const json = join(dir, `min-${t.name}.json`);
      const r = await cli([
        "run",
        "--scenario",
        h.scenario,
        "--drivers",
        h.drivers.join(","),
        "--bug",
        t.name,
        "--seeds",
        String(h.budget ?? 2000),
        "--strategy",
        h.strategy ?? "pct:3",
        "--fail-fast",
        "--workers",
        "1",
        "--quiet",
        "--json",
        json,
      ]);
      expect(r.code, t.name).toBe(1);
      const f = readReport(json).findings[0]!;
      expect(f.minimized, t.name).not.toBeNull();
      expect(f.minimized!.rows, `${t.name}: ${f.minimized!.raceTable}`).toBeLessThanOrEqual(12);
      // The renderer keeps a focused table to 12 rows by showing only the last preemptions of
      // the race's tasks (its caption says "k of n preemptions"), or the last 8 switches: the
      // row count alone cannot fail. What can: a table that leaves out preemptions of the
      // minimized run.
      const caption = f.minimized!.raceTable.split("\n")[0]!;
      const cut =
        /\((\d+) of (\d+) preemptions: /.exec(caption) ??
        /\(the last (\d+) of (\d+)\)/.exec(caption);
      if (cut) partial.push(`${t.name} ${cut[1]} of ${cut[2]}`);
      const again = await cli(["replay", f.minimized!.token]);
      expect(again.code, t.name).toBe(1);
      expect(firstSplat(again.out), t.name).toBe(firstSplat(f.firstSplat));
      // Its replay shows the minimizer's race table (the rows around the kept preemptions).
      expect(again.out, t.name).toContain(f.minimized!.raceTable);
      if (!viaCommand) {
        // The command gives the same minimized schedule as the report.
        const m = await cli(["minimize", f.token]);
        expect(m.code).toBe(1);
        expect(m.out).toContain(`token: ${f.minimized!.token}`);
        expect(m.out).toMatch(/\d+ rows; the same bug as the original/);
        viaCommand = true;
      }
    }
    // Every table shows all the preemptions its minimized run keeps, but the fuzz workload's
    // (fuzz-fd-reuse: 2-3 processes of 1-3 threads, their children and races), whose minimized
    // run keeps preemptions that only order the other tasks' work: at most 12 of them, the
    // table showing the last ones of the race's tasks.
    expect(
      partial.filter((p) => !p.startsWith("fs.fget-no-recheck ")),
      partial.join("; "),
    ).toEqual([]);
    for (const p of partial) expect(Number(p.split(" ").at(-1)), p).toBeLessThanOrEqual(12);
  });
});
