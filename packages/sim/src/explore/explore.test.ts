import { describe, expect, it } from "vitest";
import { choose, point, report, spawn, yieldCpu } from "../current.js";
import { ReplayMismatchError, ReplayTokenError } from "../errors.js";
import type { RunResult, Simulation } from "../simulation.js";
import { checkDeterminism, explore, replay } from "./explore.js";
import { resolveSearchOptions, SEARCH_DEFAULTS } from "./search-options.js";
import {
  getStrategy,
  listStrategies,
  registerStrategy,
  type StrategyDefinition,
  samplingSession,
} from "./strategies/index.js";
import { decodeToken } from "./token.js";

/** The classic lost update: read, (preemption window), write. */
function lostUpdate(tasks = 2) {
  return async (_sim: Simulation) => {
    const shared = { n: 0 };
    const ts = [];
    for (let i = 0; i < tasks; i++) {
      ts.push(
        spawn(`inc${i}`, async () => {
          await point("load counter");
          const v = shared.n;
          await point("store counter");
          shared.n = v + 1;
        }),
      );
    }
    for (const t of ts) await t.join();
    if (shared.n !== tasks)
      report("warn", `lost update: counter is ${shared.n}, expected ${tasks}`);
  };
}

describe("explore", () => {
  it("PCT finds the lost update and the token replays it", async () => {
    const res = await explore(lostUpdate(), {
      strategy: "pct",
      depth: 2,
      schedules: 300,
      seed: 5,
      scenario: "lost-update",
    });
    expect(res.firstFailure).not.toBeNull();
    const f = res.firstFailure!;
    expect(f.splats[0]!.message).toMatch(/lost update/);
    const again = await replay(f.token, lostUpdate(), { scenario: "lost-update" });
    expect(again.traceHash).toBe(f.traceHash);
    expect(again.splats.map((s) => s.message)).toEqual(f.splats.map((s) => s.message));
    expect(again.token).toBe(f.token);
  });

  it("random finds it too", async () => {
    const res = await explore(lostUpdate(), { strategy: "random", schedules: 300 });
    expect(res.firstFailure).not.toBeNull();
  });

  it("DFS with bound 0 exhausts the space without finding it; bound 1 finds it", async () => {
    const none = await explore(lostUpdate(), {
      strategy: "dfs",
      preemptionBound: 0,
      schedules: 10_000,
    });
    expect(none.complete).toBe(true);
    expect(none.failures).toEqual([]);
    const found = await explore(lostUpdate(), {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 10_000,
    });
    expect(found.firstFailure).not.toBeNull();
  });

  it("DFS runs each schedule once and reports completion", async () => {
    const hashes = new Set<string>();
    const res = await explore(lostUpdate(3), {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 100_000,
      stopOnFailure: false,
      onRun: (r) => hashes.add(r.traceHash),
    });
    expect(res.complete).toBe(true);
    expect(hashes.size).toBe(res.schedules);
    expect(res.schedules).toBeGreaterThan(10);
    const bigger = await explore(lostUpdate(3), {
      strategy: "dfs",
      preemptionBound: 3,
      schedules: 100_000,
      stopOnFailure: false,
    });
    expect(bigger.schedules).toBeGreaterThan(res.schedules);
  });

  it("DFS stops at the schedule budget and says it is not complete", async () => {
    const res = await explore(lostUpdate(3), {
      strategy: "dfs",
      preemptionBound: 3,
      schedules: 5,
      stopOnFailure: false,
    });
    expect(res.schedules).toBe(5);
    expect(res.complete).toBe(false);
  });

  it("DFS enumerates data choices", async () => {
    const seen = new Set<number>();
    const res = await explore(
      () => {
        seen.add(choose(3) * 10 + choose(2));
      },
      { strategy: "dfs", schedules: 100 },
    );
    expect(res.complete).toBe(true);
    expect([...seen].sort()).toEqual([0, 1, 10, 11, 20, 21]);
  });

  it("data choices are recorded and replayed", async () => {
    const values: number[] = [];
    const scenario = () => {
      values.push(choose(1000));
      if (choose(2) === 1) report("warn", "odd");
    };
    const res = await explore(scenario, { strategy: "random", schedules: 50, seed: 9 });
    const f = res.firstFailure!;
    const before = values.at(-1);
    await replay(f.token, scenario);
    expect(values.at(-1)).toBe(before);
  });
});

describe("trace recycling", () => {
  it("an onRun may keep passing runs; with recycleTraces their traces are reused and throw", async () => {
    const kept: RunResult[] = [];
    const opts = { strategy: "pct", schedules: 5, isFailure: () => false };
    await explore(lostUpdate(3), { ...opts, onRun: (r) => kept.push(r) });
    for (const r of kept)
      expect((await replay(r.token, lostUpdate(3))).traceHash).toBe(r.traceHash);
    const recycled: RunResult[] = [];
    await explore(lostUpdate(3), {
      ...opts,
      recycleTraces: true,
      onRun: (r) => {
        expect(r.token).toMatch(/^pt1\./); // readable while onRun runs
        recycled.push(r);
      },
    });
    expect(() => recycled[0]!.trace.at(1)).toThrow(/recycled/);
    expect(recycled[0]!.token).toBe(kept[0]!.token); // read in onRun, kept
    expect(recycled[0]!.traceHash).toBe(kept[0]!.traceHash);
  });
});

describe("replay tokens", () => {
  it("rejects malformed tokens with a clear message", async () => {
    const s = lostUpdate();
    await expect(replay("hello", s)).rejects.toThrow(ReplayTokenError);
    await expect(replay("hello", s)).rejects.toThrow(/not a primetime replay token/);
    await expect(replay("pt9.AAAA", s)).rejects.toThrow(/version 9 is not supported/);
    await expect(replay("pt1.", s)).rejects.toThrow(/not base64url/);
    await expect(replay("pt1.!!!", s)).rejects.toThrow(/not base64url/);
    await expect(replay("pt1.AAAAAAAA", s)).rejects.toThrow(/corrupt replay token/);
    const { token } =
      (await explore(s, { schedules: 1, stopOnFailure: false })).failures[0] ?? (await runOnce(s));
    await expect(replay(token.slice(0, -3), s)).rejects.toThrow(/corrupt replay token/);
    const flipped = token.slice(0, 10) + (token[10] === "A" ? "B" : "A") + token.slice(11);
    await expect(replay(flipped, s)).rejects.toThrow(/corrupt replay token/);
  });

  it("rejects a token replayed against another scenario", async () => {
    const r = await runOnce(lostUpdate(2));
    await expect(replay(r.token, lostUpdate(3))).rejects.toThrow(ReplayMismatchError);
    await expect(replay(r.token, async () => {})).rejects.toThrow(/does not match this scenario/);
    const named = (
      await explore(lostUpdate(2), { schedules: 1, stopOnFailure: false, scenario: "a" })
    ).failures;
    expect(named).toEqual([]);
  });

  it("rejects a token recorded for a different scenario name", async () => {
    let token = "";
    await explore(lostUpdate(), {
      schedules: 1,
      scenario: "lost-update",
      isFailure: () => true,
      onRun: (r) => (token = r.token),
    });
    await expect(replay(token, lostUpdate(), { scenario: "other" })).rejects.toThrow(
      /recorded for scenario "lost-update"/,
    );
  });
});

describe("checkDeterminism", () => {
  it("passes a deterministic scenario", async () => {
    const rep = await checkDeterminism(lostUpdate(3), { seed: 11 });
    expect(rep.deterministic).toBe(true);
    expect(rep.hashes[0]).toBe(rep.hashes[1]);
  });

  it("catches state leaking between runs", async () => {
    let runs = 0;
    const rep = await checkDeterminism(async () => {
      runs++;
      await point("a");
      if (runs === 2) await point("only the second time");
    });
    expect(rep.deterministic).toBe(false);
    expect(rep.message).toMatch(/NOT deterministic/);
    expect(rep.firstDifference).toBeGreaterThan(0);
  });
});

async function runOnce(s: (sim: Simulation) => Promise<void>) {
  let result!: Awaited<ReturnType<Simulation["run"]>>;
  await explore(s, { schedules: 1, isFailure: () => true, onRun: (r) => (result = r) });
  return result;
}

describe("PCT and spin-waits", () => {
  it("demotes yielding tasks so two spinners waiting on each other both progress", async () => {
    const barrier = async () => {
      const arrived = [false, false];
      const body = (me: number) => async () => {
        await point(`work ${me}`);
        arrived[me] = true;
        while (!arrived[1 - me]) await yieldCpu(`spin ${me}`);
      };
      const a = spawn("a", body(0));
      const b = spawn("b", body(1));
      await a.join();
      await b.join();
    };
    const res = await explore(barrier, {
      strategy: "pct",
      depth: 3,
      schedules: 200,
      stepLimit: 2000,
    });
    expect(res.stats.outcomes.livelock).toBe(0);
    expect(res.failures).toEqual([]);
  });
});

describe("the strategy registry", () => {
  it("lists the built-in strategies with distinct token codes", () => {
    const all = listStrategies();
    expect(all.map((d) => `${d.name}:${d.code}`)).toEqual([
      "random:0",
      "pct:1",
      "dfs:2",
      "replay:3",
      "pos:4",
      "guided:5",
      "portfolio:6",
    ]);
    expect(listStrategies(true).map((d) => d.name)).toEqual([
      "random",
      "pct",
      "dfs",
      "pos",
      "portfolio",
    ]);
  });

  it("refuses an unknown strategy, naming the known ones", async () => {
    await expect(explore(lostUpdate(), { strategy: "nope" })).rejects.toThrow(
      /unknown search strategy "nope" \(known: random, pct, dfs, pos/,
    );
    expect(() => registerStrategy({ ...getStrategy("pct"), name: "pct2" })).toThrow(
      /clashes with pct/,
    );
  });

  it("a strategy registered from outside is searchable by name and recorded in tokens", async () => {
    // Always the lowest runnable task id: a deterministic, non-preemptive search.
    const lowest: StrategyDefinition = {
      name: "lowest-first",
      code: 100,
      summary: "test strategy",
      searches: true,
      describe: () => "lowest-first",
      create: () => ({
        name: "lowest-first",
        param: 0,
        begin() {},
        pickTask: (runnable) => runnable[0]!,
        choose: () => 0,
        spawned() {},
        yielded() {},
        end() {},
      }),
      search: (o) => samplingSession(o, () => lowest.create({})),
    };
    registerStrategy(lowest);
    const res = await explore(lostUpdate(), { strategy: "lowest-first", schedules: 3 });
    expect(res.schedules).toBe(3);
    expect(res.firstFailure).toBeNull();
    const r = await explore(lostUpdate(), {
      strategy: "lowest-first",
      schedules: 1,
      stopOnFailure: false,
      isFailure: () => true,
    });
    expect(decodeToken(r.firstFailure!.token).strategy).toBe("lowest-first");
  });

  it("POS finds the lost update and its token replays it", async () => {
    const res = await explore(lostUpdate(), { strategy: "pos", schedules: 200 });
    const f = res.firstFailure;
    expect(f?.splats.map((s) => s.message)).toEqual(["lost update: counter is 1, expected 2"]);
    const again = await replay(f!.token, lostUpdate());
    expect(again.traceHash).toBe(f!.traceHash);
  });

  it("one set of defaults: portfolio, depth 3, preemption bound 2, 1000 schedules, seed 1", () => {
    expect(SEARCH_DEFAULTS).toMatchObject({
      strategy: "portfolio",
      schedules: 1000,
      seed: 1,
      depth: 3,
      preemptionBound: 2,
      stopOnFailure: true,
    });
    expect(resolveSearchOptions({ depth: undefined, seed: 7 }, { schedules: 5 })).toMatchObject({
      depth: 3,
      seed: 7,
      schedules: 5,
    });
    expect(() => resolveSearchOptions({ schedules: 0 })).toThrow(
      /schedules must be an integer >= 1/,
    );
  });
});
