/**
 * The unix-gc scenarios (unix sockets as files and the unix garbage collector of v6.18) through
 * the CLI and the campaign runner: clean on every ordered driver pair with every toggle off,
 * doing what they say (sockets in flight over themselves and each other, the collector purging
 * cycles, MSG_PEEK), unix-gc-peek finding `unix.gc-peek-no-seqcount` under POS, and
 * `--open-windows` opening the known window `unix.gc-requeued-not-in-progress`.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CampaignReport } from "./campaign/report.js";
import { runSchedule } from "./campaign/schedule.js";
import { type Io, main } from "./cli.js";
import { configFromFlags } from "./commands.js";
import { installedDrivers } from "./drivers.js";
import type { RunResult } from "./engine.js";
import { CAMPAIGN_TOGGLE_UNITS } from "./toggles.js";

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const io: Io = { log: (t) => out.push(t), error: (t) => out.push(t), color: false };
  const code = await main(argv, io);
  return { code, out: out.join("\n") };
}

const dir = mkdtempSync(join(tmpdir(), "primetime-unix-gc-"));
const report = (f: string) => JSON.parse(readFileSync(f, "utf8")) as CampaignReport;
const names = installedDrivers().map((d) => d.name);
const pairs = names.flatMap((a) => names.map((b) => `${a}+${b}`));

/** How many steps of a run have this label (arguments aside). */
const count = (r: RunResult, label: string) =>
  r.trace.steps().filter((s) => s.label.replace(/\(.*$/, "") === label).length;

describe("unix-gc", () => {
  it.each([
    ["unix-gc", "portfolio"],
    ["unix-gc-peek", "pos"],
    ["unix-gc-listen", "portfolio"],
  ])(
    "%s is clean with every toggle off on every ordered driver pair (%s, 300 schedules each)",
    async (scenario, strategy) => {
      const json = join(dir, `${scenario}-clean.json`);
      const r = await cli(
        ["run", "--scenario", scenario, "--strategy", strategy, "--seeds", "300"].concat([
          "--workers",
          "1",
          "--quiet",
          "--json",
          json,
        ]),
      );
      expect(r.code, r.out).toBe(0);
      const rep = report(json);
      expect(rep.units.map((u) => u.unit)).toEqual(pairs.map((p) => `${scenario}@${p}`));
      for (const u of rep.units) expect(u.steps.min, u.unit).toBeGreaterThan(300);
    },
    300_000,
  );

  it("puts sockets in flight, peeks, and the collector purges cycles; its sizes come from the seed", async () => {
    const config = configFromFlags({
      scenario: "unix-gc,unix-gc-peek",
      drivers: "vgem",
      strategy: "pct:3",
      seeds: 1,
    });
    const seen = {
      sends: 0,
      peeks: 0,
      purges: 0,
      collectorRuns: 0,
      runsWithPeek: 0,
      clients: new Set<number>(),
    };
    for (let i = 0; i < 40; i++) {
      const { run } = await runSchedule(config, "unix-gc@vgem+vgem", i);
      expect(run.splats, `schedule ${i}`).toEqual([]);
      seen.sends += count(run, "unix_prepare_fpl");
      seen.peeks += count(run, "scm_fp_dup");
      seen.purges += count(run, "skb_queue_splice_init");
      seen.collectorRuns += count(run, "read_seqcount_begin");
      seen.clients.add(run.trace.steps().filter((s) => s.label === "sys_socketpair").length);
    }
    // Sockets in flight (a vertex prepared per sent socket), MSG_PEEK reads, and cycles judged
    // dead and purged by the collector (skb_queue_splice_init() of a dead SCC).
    expect(seen.sends).toBeGreaterThan(40);
    expect(seen.peeks).toBeGreaterThan(0);
    expect(seen.purges).toBeGreaterThan(0);
    expect(seen.collectorRuns).toBeGreaterThan(seen.purges);
    // The socketpairs made per run vary with the drawn clients, shapes and orphan cycles.
    expect(seen.clients.size).toBeGreaterThan(3);
    // The focused variant peeks a pair's message in every run.
    for (let i = 0; i < 10; i++) {
      const { run } = await runSchedule(config, "unix-gc-peek@vgem+vgem", i);
      expect(run.splats, `schedule ${i}`).toEqual([]);
      if (count(run, "scm_fp_dup") > 0) seen.runsWithPeek++;
    }
    expect(seen.runsWithPeek).toBe(10);
  }, 120_000);

  it("unix-gc-peek finds unix.gc-peek-no-seqcount under POS within its budget", async () => {
    const tc = CAMPAIGN_TOGGLE_UNITS["unix.gc-peek-no-seqcount"]!;
    expect(tc).toMatchObject({ case: "unix-gc-peek@vgem+vgem", strategy: "pos" });
    const json = join(dir, "toggle.json");
    const r = await cli(
      ["run", "--scenario", "unix-gc-peek", "--drivers", "vgem", "--strategy", "pos"].concat([
        "--bug",
        "unix.gc-peek-no-seqcount",
        "--seeds",
        String(tc.schedules),
        "--fail-fast",
        "--workers",
        "1",
        "--quiet",
        "--json",
        json,
      ]),
    );
    expect(r.code, r.out).toBe(1);
    const f = report(json).findings[0]!;
    expect(f.unit).toBe("unix-gc-peek@vgem+vgem");
    // The collector frees the skb (and its fpl) the compositor's read holds: the first find is
    // the read's unix_del_edges() on the freed scm_fp_list.
    expect(f.signature).toMatch(/KASAN: slab-use-after-free in unix_del_edges/);
    expect(f.firstSplat).toMatch(/scm_fp_list#/);
    // POS, base seed 1: the first find (schedule 11) is what `bugs` reports.
    expect(f.index).toBe(11);
  }, 120_000);

  it("unix-gc-peek is clean with the fix switch of unix.gc-requeued-not-in-progress, and --open-windows finds the window", async () => {
    // KNOWN-WINDOWS.md: v6.18.35 lets a collection re-queued during another walk with
    // gc_in_progress false, so the compositor's peek skips unix_peek_fpl()'s barrier; clean
    // runs have the fix switch on (baselineFixes()). POS seed 1 opens it at schedule 98 (the
    // compositor's read of an skb the collector freed).
    const args = ["run", "--scenario", "unix-gc-peek", "--drivers", "vgem", "--strategy", "pos"];
    const more = ["--seeds", "300", "--fail-fast", "--workers", "1", "--quiet"];
    const fixed = await cli([...args, ...more]);
    expect(fixed.code, fixed.out).toBe(0);
    const json = join(dir, "window.json");
    const open = await cli([...args, ...more, "--open-windows", "--json", json]);
    expect(open.code, open.out).toBe(1);
    const f = report(json).findings[0]!;
    expect(f.unit).toBe("unix-gc-peek@vgem+vgem");
    expect(f.index).toBe(98);
    expect(f.signature).toMatch(/KASAN: slab-use-after-free in unix_detach_fds/);
    expect(f.firstSplat).toMatch(/skbuff_head_cache#/);
  }, 120_000);

  it("unix-gc-listen connects, accepts (frames maybe sent into the embryo first) and the collector frees the listener's cycle", async () => {
    const config = configFromFlags({
      scenario: "unix-gc-listen",
      drivers: "vgem",
      strategy: "pct:3",
      seeds: 1,
    });
    let accepts = 0;
    let purges = 0;
    const clients = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const { run } = await runSchedule(config, "unix-gc-listen@vgem+vgem", i);
      expect(run.splats, `schedule ${i}`).toEqual([]);
      const connects = count(run, "sys_connect");
      accepts += count(run, "sys_accept4");
      // The listener's cycle is collected: one dead SCC, the embryo's queue spliced.
      purges += count(run, "skb_queue_splice_init");
      clients.add(connects - 1);
      expect(count(run, "sys_accept4"), `schedule ${i}`).toBe(connects - 1);
    }
    expect(accepts).toBeGreaterThan(20);
    expect(purges).toBeGreaterThanOrEqual(20);
    expect(clients.size).toBeGreaterThan(1);
  }, 120_000);

  it("unix-gc-listen finds unix.gc-embryo-successor-not-listener within its budget (kmemleak)", async () => {
    const tc = CAMPAIGN_TOGGLE_UNITS["unix.gc-embryo-successor-not-listener"]!;
    expect(tc).toMatchObject({ case: "unix-gc-listen@vgem+vgem" });
    const json = join(dir, "listen-toggle.json");
    const r = await cli(
      ["run", "--scenario", "unix-gc-listen", "--drivers", "vgem"].concat([
        "--bug",
        "unix.gc-embryo-successor-not-listener",
        "--seeds",
        String(tc.schedules),
        "--fail-fast",
        "--workers",
        "1",
        "--quiet",
        "--json",
        json,
      ]),
    );
    expect(r.code, r.out).toBe(1);
    const f = report(json).findings[0]!;
    expect(f.unit).toBe("unix-gc-listen@vgem+vgem");
    expect(f.signature).toMatch(/unreferenced object/);
    expect(f.index).toBe(0);
  }, 120_000);
});
