import { decodeToken, explore } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { type Io, main } from "./cli.js";
import { DRM_RACE_SCENARIOS, findScenario, SCENARIOS } from "./scenarios/index.js";

interface Captured {
  code: number;
  out: string;
  err: string;
}

async function cli(argv: string[], opts: { color?: boolean } = {}): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    log: (t) => out.push(t),
    error: (t) => err.push(t),
    color: opts.color ?? false,
  };
  const code = await main(argv, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const TOKEN = /pt1\.[A-Za-z0-9_-]+/;

/** The splat lines (`[step N] kind: message ...`) of a command's output. */
const splatLines = (t: string) => t.split("\n").filter((l) => /^\[step \d+\]/.test(l));

/** `run <scenario> --toggle <toggle> --schedules 5`. */
const runToggled = (scenario: string, toggle: string) =>
  cli(["run", scenario, "--toggle", toggle, "--schedules", "5"]);

/** A bad-input result: exit code 2, one line on stderr, no stack trace, nothing on stdout. */
function expectUsageError(r: Captured, message: string | RegExp): void {
  expect(r.code).toBe(2);
  expect(r.out).toBe("");
  expect(r.err.split("\n")).toHaveLength(1);
  expect(r.err).toMatch(/^error: /);
  expect(r.err).not.toMatch(/\n\s+at /);
  if (typeof message === "string") expect(r.err).toContain(message);
  else expect(r.err).toMatch(message);
}

describe("list", () => {
  it("prints every scenario with its expectation and description", async () => {
    const r = await cli(["list"]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    for (const s of SCENARIOS) {
      const line = r.out.split("\n").find((l) => l.startsWith(`${s.name} `));
      expect(line).toBeDefined();
      expect(line).toContain(s.expect);
      expect(line).toContain(s.description);
      expect(r.out).toContain(s.kernelRef);
    }
    expect(DRM_RACE_SCENARIOS.length).toBe(7);
    for (const s of DRM_RACE_SCENARIOS)
      expect(r.out).toContain(`buggy with --toggle ${s.finds!.join(", ")}`);
  });
});

const GEM_TOGGLES = [
  "gem.flink-no-handle-count-check",
  "gem.handle-id-reused-before-release",
  "gem.handle-published-before-open",
  "gem.open-drops-name-lock",
  "prime.cache-remove-by-dma-buf",
  "prime.cache-without-lock",
  "prime.export-outside-name-lock",
];

describe("toggles", () => {
  it("lists the 7 gem toggles and the dma-buf one: what, fixed by, found by", async () => {
    const r = await cli(["toggles"]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    const names = r.out
      .split("\n")
      .filter((l) => /^\S/.test(l))
      .map((l) => l.replace(/ {2}\[(historic|proposed|hypothetical)\]$/, ""));
    expect(names).toEqual([
      "dma-buf.fence-cb-without-ref",
      ...GEM_TOGGLES,
      "8 toggles; 8 found by a scenario (hunt <toggle>), 0 unfindable by the harness",
    ]);
    expect(r.out).toContain("gem.flink-no-handle-count-check  [historic]");
    expect(r.out).toContain(
      'fixed by:      a8e11d1c435f ("drm/gem: fix up flink name create race")',
    );
    expect(r.out).toContain("kernels:       v2.6.28-v3.11 (fixed in v3.12)");
    expect(r.out).toContain("prime.cache-without-lock  [hypothetical]");
    expect(r.out).toContain(
      "found by:      gem_flink_race/flink_close (hunt gem.flink-no-handle-count-check)",
    );
    expect(r.out).toContain(
      "found by:      prime_self_import/reimport-vs-gem_close-race (hunt prime.cache-without-lock)",
    );
    expect(r.out).toContain(
      'fixed by:      6b51b02a3a0a ("dma-buf: fix and rework dma_buf_poll v7")',
    );
    expect(r.out).toContain(
      "found by:      dma_buf_poll/poll-vs-fence-replace (hunt dma-buf.fence-cb-without-ref)",
    );
    expect(r.out.match(/^ {2}re-introduces: /gm)).toHaveLength(8);
  });
});

describe("hunt", () => {
  it("finds the toggle, prints splats, race table and token, is clean with it off; the token replays", async () => {
    const r = await cli(["hunt", "gem.open-drops-name-lock", "--schedules", "40"]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toContain("fixed by: drm/gem: completely close gem_open vs. gem_close races");
    expect(r.out).toContain("scenario gem_flink_race/flink_name: ");
    expect(r.out).toMatch(
      /pct \(depth 3, seed 1\), gem\.open-drops-name-lock on: found in schedule \d+ of at most 40/,
    );
    expect(r.out).toMatch(
      /^\[step \d+\] bug: unhandled exception in igt:flink_name0\[3\]: the object opened by name 1 was flinked to name 2/m,
    );
    expect(r.out).toMatch(/without main, around the task switch/);
    expect(r.out).toContain("replay of the token: reproduces the same");
    expect(r.out).toContain("pct (depth 3, seed 1), every toggle off: no splat in 40 schedules");
    expect(r.out).toContain(
      "=> gem.open-drops-name-lock found, reproduced from its token, and clean with every toggle off",
    );
    const token = TOKEN.exec(r.out)![0];
    expect(decodeToken(token).toggles).toEqual(["gem.open-drops-name-lock"]);

    // The token names the scenario and carries the toggle: no flag needed.
    const rep = await cli(["replay", token]);
    expect(rep.code).toBe(0);
    expect(rep.err).toBe("");
    expect(rep.out).toContain("replay of gem_flink_race/flink_name: recorded by pct (seed ");
    expect(rep.out).toContain("toggles on: gem.open-drops-name-lock");
    expect(rep.out).toContain("(as recorded)");
    expect(splatLines(r.out).length).toBeGreaterThan(0);
    expect(splatLines(rep.out)).toEqual(splatLines(r.out));
  });

  it("exits 1 when the budget does not find it", async () => {
    const r = await cli(["hunt", "prime.cache-without-lock", "--schedules", "20"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("prime.cache-without-lock on: NOT found in 20 schedules");
    expect(r.out).toContain("every toggle off: no splat in 20 schedules");
    expect(r.out).toContain("=> prime.cache-without-lock: NOT as expected");
    expect(r.out).not.toMatch(TOKEN);
  });
});

describe("run with toggles", () => {
  it("a DRM race scenario is buggy with its toggle on, clean without", async () => {
    const on = await runToggled(
      "prime_self_import/with_gem_open_handle",
      "prime.cache-remove-by-dma-buf",
    );
    expect(on.code).toBe(0);
    expect(on.out).toContain("expect buggy, toggles on: prime.cache-remove-by-dma-buf");
    expect(on.out).toContain("found in schedule 1 of at most 5");
    expect(on.out).toContain("re-import on the exporting file gave 2, not 1");
    expect(on.out).toContain("=> as expected (buggy)");
    const token = TOKEN.exec(on.out)![0];
    expect(decodeToken(token).scenario).toBe("prime_self_import/with_gem_open_handle");

    const off = await cli(["run", "prime_self_import/with_gem_open_handle", "--schedules", "5"]);
    expect(off.code).toBe(0);
    expect(off.out).toContain("expect clean: ");
    expect(off.out).toContain("no splat in 5 schedules");
    expect(off.out).toContain("=> as expected (clean)");
  });

  it("a toggle the scenario makes no claim about: no expectation, exit 0", async () => {
    const r = await runToggled("kref-put-mutex", "gem.open-drops-name-lock");
    expect(r.code).toBe(0);
    expect(r.out).toContain("expect nothing, toggles on: gem.open-drops-name-lock");
    expect(r.out).toContain("=> no expectation: kref-put-mutex makes no claim");
  });
});

describe("run and replay", () => {
  it("run of a buggy scenario prints the splat and a token; replay of the token reproduces it", async () => {
    const run = await cli(["run", "kref-lookup-unlocked", "--seed", "1"]);
    expect(run.code).toBe(0);
    expect(run.out).toContain("pct (depth 3, seed 1): found in schedule");
    expect(run.out).toContain(
      "kasan: BUG: KASAN: slab-use-after-free in kref_get (entry) in user[2]",
    );
    expect(run.out).toContain("=> as expected (buggy)");
    const token = TOKEN.exec(run.out)?.[0];
    expect(token).toBeDefined();

    // No --scenario: the token names it.
    const rep = await cli(["replay", token!]);
    expect(rep.code).toBe(0);
    expect(rep.err).toBe("");
    expect(rep.out).toContain("replay of kref-lookup-unlocked: recorded by pct");
    expect(rep.out).toContain(
      "kasan: BUG: KASAN: slab-use-after-free in kref_get (entry) in user[2]",
    );
    expect(rep.out).toContain("refcount: refcount_t: addition on 0; use-after-free. (entry)");
    expect(rep.out).toContain("(as recorded)");
    expect(rep.out).toMatch(/kref_get\(entry\) +\| +<- kasan, refcount/);

    // Every splat line of the run's output comes back in the replay's.
    for (const l of splatLines(run.out)) expect(splatLines(rep.out)).toContain(l);

    const explicit = await cli(["replay", token!, "--scenario", "kref-lookup-unlocked"]);
    expect(explicit.code).toBe(0);
    expect(explicit.out).toBe(rep.out);
  });

  it("replay --full-trace prints every step of the run", async () => {
    const run = await cli(["run", "abba-deadlock", "--strategy", "dfs"]);
    expect(run.code).toBe(0);
    expect(run.out).toContain("outcome deadlock");
    const token = TOKEN.exec(run.out)![0];
    const rep = await cli(["replay", token, "--full-trace"]);
    expect(rep.code).toBe(0);
    expect(rep.out).toMatch(/steps 1-(\d+) of \1;/);
    expect(rep.out).toContain("mutex_lock(lock_b) sleeps");
  });

  it("run of a clean scenario under dfs reports the completed bound", async () => {
    const r = await cli(["run", "kref-get-unless-zero", "--strategy", "dfs", "--bound", "2"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /dfs \(preemption bound 2\): no splat in \d+ schedules \(dfs complete within bound 2\)/,
    );
    expect(r.out).not.toMatch(TOKEN);
  });

  it("run exits 1 when the scenario does not behave as expected within the budget", async () => {
    // kref-lookup-unlocked needs more than one preemption: one schedule without it is clean.
    const r = await cli(["run", "kref-lookup-unlocked", "--strategy", "dfs", "--bound", "0"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("no splat");
    expect(r.out).toContain("=> NOT as expected (expected buggy)");
  });

  it("random strategy with a seed", async () => {
    const r = await cli(["run", "kref-put-release-locks", "--strategy", "random", "--seed", "7"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("random (seed 7): found in schedule");
    expect(r.out).toMatch(TOKEN);
  });
});

describe("progress", () => {
  it("shows a progress line every 50 schedules when io has one, and clears it", async () => {
    const lines: (string | null)[] = [];
    const out: string[] = [];
    const io: Io = {
      log: (t) => out.push(t),
      error: () => {},
      color: false,
      progress: (l) => lines.push(l),
    };
    const code = await main(["run", "kref-put-mutex", "--schedules", "120"], io);
    expect(code).toBe(0);
    expect(lines).toEqual(["kref-put-mutex: pct 50/120", "kref-put-mutex: pct 100/120", null]);
    expect(out.join("\n")).toContain("no splat in 120 schedules");
  });
});

describe("demo", () => {
  it("is the default command; --no-color turns colours off", async () => {
    // The hunts need up to 101 schedules (prime.cache-without-lock, seed 1).
    const budget = ["--schedules", "40", "--bound", "2", "--hunt-schedules", "110"];
    const colored = await cli(budget, { color: true });
    expect(colored.code).toBe(0);
    expect(colored.out).toContain("\x1b[");
    expect(colored.out).toContain("9 of 9 scenarios behaved as expected");
    expect(colored.out).toContain("8 of 8 historic races found");
    const plain = await cli(["demo", ...budget, "--no-color"], {
      color: true,
    });
    expect(plain.code).toBe(0);
    expect(plain.out).not.toContain("\x1b[");
    expect(plain.out).toContain("pct depth 3 x 40 schedules (seed 1), dfs preemption bound 2");
    expect(plain.out).toContain(
      "historic DRM races: 8 toggles, each hunted against vgem with pct depth 3 (seed 1), at most 110 schedules",
    );
    for (const t of GEM_TOGGLES)
      expect(plain.out).toMatch(
        new RegExp(`^${t.replace(/\./g, "\\.")} +\\S+ +@\\d+ +clean/110 +same +ok$`, "m"),
      );
    // 5 findings of the lifetime scenarios, the first hunt in full.
    expect(plain.out.match(new RegExp(TOKEN, "g"))).toHaveLength(6);
  });

  it("--help prints the usage and exits 0", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Usage: primetime-stress [options] [command]");
    for (const c of ["demo", "list", "toggles", "run", "hunt", "replay"])
      expect(r.out).toContain(c);
    const sub = await cli(["run", "--help"]);
    expect(sub.code).toBe(0);
    expect(sub.out).toContain("--strategy <name>");
  });
});

describe("bad input: exit code 2 and a one-line message", () => {
  it("an unknown scenario lists the valid ones", async () => {
    const r = await cli(["run", "kref-nope"]);
    expectUsageError(r, 'unknown scenario "kref-nope"; valid scenarios: kref-handoff, ');
    for (const s of SCENARIOS) expect(r.err).toContain(s.name);
    const run = await cli(["run", "abba-deadlock"]);
    const token = TOKEN.exec(run.out)![0];
    expectUsageError(
      await cli(["replay", token, "--scenario", "kref-nope"]),
      'unknown scenario "kref-nope"; valid scenarios: ',
    );
  });

  it.each([
    [["run", "kref-handoff", "--schedules", "0"], "--schedules must be a positive integer"],
    [["run", "kref-handoff", "--schedules", "-3"], "--schedules must be a positive integer"],
    [["run", "kref-handoff", "--schedules", "2.5"], "--schedules must be a positive integer"],
    [["run", "kref-handoff", "--schedules", "ten"], "--schedules must be a positive integer"],
    [["run", "kref-handoff", "--depth", "0"], "--depth must be a positive integer"],
    [
      ["run", "kref-handoff", "--strategy", "dfs", "--bound", "-1"],
      "--bound must be a non-negative",
    ],
    [
      ["run", "kref-handoff", "--seed", "4294967296"],
      "--seed must be a non-negative integer at most",
    ],
    [["demo", "--schedules", "0"], "--schedules must be a positive integer"],
    [["demo", "--seed", "1e3"], "--seed must be a non-negative integer"],
    [["run", "kref-handoff", "--strategy", "bfs"], "Allowed choices are pct, random, dfs"],
    [
      ["run", "kref-handoff", "--strategy", "dfs", "--depth", "2"],
      "--depth applies to --strategy pct only",
    ],
    [["run", "kref-handoff", "--bound", "2"], "--bound applies to --strategy dfs only"],
    [
      ["run", "kref-handoff", "--strategy", "dfs", "--seed", "2"],
      "--seed does not apply to --strategy dfs",
    ],
    [["run"], "missing required argument 'scenario'"],
    [["run", "kref-handoff", "--schedules"], "argument missing"],
    [
      ["frobnicate"],
      'unknown command "frobnicate"; commands: demo, list, toggles, run, hunt, replay, help',
    ],
    [["hunt"], "missing required argument 'toggle'"],
    [
      ["hunt", "gem.nope"],
      'unknown toggle "gem.nope"; valid toggles: dma-buf.fence-cb-without-ref, gem.',
    ],
    [
      ["hunt", "gem.open-drops-name-lock", "--schedules", "0"],
      "--schedules must be a positive integer",
    ],
    [["hunt", "gem.open-drops-name-lock", "--depth", "x"], "--depth must be a positive integer"],
    [["hunt", "gem.open-drops-name-lock", "--seed", "-1"], "--seed must be a non-negative integer"],
    [["hunt", "gem.open-drops-name-lock", "--strategy", "dfs"], "unknown option '--strategy'"],
    [["demo", "--hunt-schedules", "0"], "--hunt-schedules must be a positive integer"],
    [
      ["run", "gem_flink_race/flink_close", "--toggle", "gem.nope"],
      'unknown toggle "gem.nope"; valid toggles: ',
    ],
    [["run", "gem_flink_race/flink_nope"], 'unknown scenario "gem_flink_race/flink_nope"'],
    [["demo", "--frobnicate"], "unknown option '--frobnicate'"],
    [["replay"], "missing required argument 'token'"],
  ])("%j", async (argv, message) => {
    expectUsageError(await cli(argv), message);
  });

  it("malformed replay tokens", async () => {
    expectUsageError(await cli(["replay", "hello"]), "not a primetime replay token");
    expectUsageError(await cli(["replay", "pt9.AAAA"]), "replay token version 9 is not supported");
    expectUsageError(await cli(["replay", "pt1.@@@@"]), "corrupt replay token");
    const run = await cli(["run", "kref-lookup-unlocked"]);
    const token = TOKEN.exec(run.out)![0];
    // Alter one character in the middle: it no longer decompresses or its checksum fails.
    const i = Math.floor(token.length / 2);
    const altered = token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
    expectUsageError(await cli(["replay", altered]), /^error: corrupt replay token: /);
    expectUsageError(await cli(["replay", token.slice(0, 12)]), /^error: corrupt replay token: /);
  });

  it("a token replayed against another scenario", async () => {
    const run = await cli(["run", "kref-lookup-unlocked"]);
    const token = TOKEN.exec(run.out)![0];
    expectUsageError(
      await cli(["replay", token, "--scenario", "abba-deadlock"]),
      'the replay token was recorded for scenario "kref-lookup-unlocked", not "abba-deadlock"',
    );
  });

  it("a token that names no scenario: needs --scenario, and must fit the one given", async () => {
    // explore() without `scenario` records an empty name.
    const res = await explore(findScenario("kref-lookup-unlocked")!.scenario, { seed: 1 });
    const token = res.firstFailure!.token;
    expectUsageError(await cli(["replay", token]), "the replay token names no scenario");
    const ok = await cli(["replay", token, "--scenario", "kref-lookup-unlocked"]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("slab-use-after-free in kref_get");
    expectUsageError(
      await cli(["replay", token, "--scenario", "abba-deadlock"]),
      "the replay token does not match this scenario",
    );
  });
});
