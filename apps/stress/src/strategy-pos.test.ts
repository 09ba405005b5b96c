/**
 * `--strategy pos` (the engine's partial order sampling) through the CLI, and the minimized race
 * table `hunt` prints after its finding.
 */
import { describe, expect, it } from "vitest";
import { parseStrategy, UsageError } from "./campaign/config.js";
import { type Io, main } from "./cli.js";

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { log: (t) => out.push(t), error: (t) => err.push(t), color: false };
  const code = await main(argv, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("--strategy pos", () => {
  it("parses without a parameter only", () => {
    expect(parseStrategy("pos")).toEqual({ strategy: "pos" });
    expect(() => parseStrategy("pos:2")).toThrow(UsageError);
  });

  it("finds a GEM race and its token replays to the finding", async () => {
    const r = await cli(
      ["run", "--scenario", "gem_flink_race/flink_close", "--drivers", "vgem", "--strategy"].concat(
        ["pos", "--bug", "gem.handle-published-before-open", "--seeds", "300", "--fail-fast"],
        ["--workers", "1", "--quiet"],
      ),
    );
    expect(r.code, r.out).toBe(1);
    const token = /replay (pt1\.\S+)/.exec(r.out)?.[1];
    expect(token).toBeDefined();
    const again = await cli(["replay", token!]);
    expect(again.code, again.out + again.err).toBe(1);
  }, 300_000);

  it("rejects pos with a parameter as bad usage", async () => {
    const r = await cli(["run", "--strategy", "pos:1"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/accepted: .*random, pos, pct/);
  });
});

describe("hunt", () => {
  it("--strategy portfolio: the engine's search, found, replayed and clean when off", async () => {
    const r = await cli(
      ["hunt", "gem.flink-no-handle-count-check", "--strategy", "portfolio"].concat([
        "--schedules",
        "200",
      ]),
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(
      /portfolio \(pct depths 4\/3, pos, random; seed 1\), .* found in schedule \d+/,
    );
  }, 300_000);

  it("prints the minimized race table and its token after the finding", async () => {
    const r = await cli(["hunt", "gem.flink-no-handle-count-check", "--schedules", "200"]);
    expect(r.code, r.out).toBe(0);
    const m = /minimized in \d+ runs: (\d+) -> (\d+) preemptions/.exec(r.out);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBeLessThanOrEqual(Number(m![1]));
    const tail = r.out.slice(r.out.indexOf("minimized in"));
    expect(tail).toMatch(/igt:flink_close\d\[\d\]/);
    expect(tail).toMatch(/<- \w+/);
    const token = /minimized token: (pt1\.\S+)/.exec(tail)?.[1];
    const again = await cli(["replay", token!]);
    expect(again.code).toBe(1);
  }, 300_000);
});
