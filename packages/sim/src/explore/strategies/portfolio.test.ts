import { describe, expect, it } from "vitest";
import { point, report, spawn } from "../../current.js";
import { Simulation } from "../../simulation.js";
import { explore, replay } from "../explore.js";
import { SEARCH_DEFAULTS } from "../search-options.js";
import { decodeToken } from "../token.js";
import { getStrategy } from "./index.js";
import { PortfolioStrategy, portfolioMember, SHORT_RUN } from "./portfolio.js";

/** `tasks` tasks each add 1 to a counter with a preemption window between load and store. */
function lostUpdate(tasks = 2) {
  return async () => {
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
    if (shared.n !== tasks) report("warn", `lost update: counter is ${shared.n}`);
  };
}

describe("the portfolio strategy", () => {
  it("is registered and searchable, with its own token code", () => {
    const def = getStrategy("portfolio", true);
    expect(def.code).toBe(6);
    expect(def.describe({ depth: 3, seed: 1 } as never)).toMatch(/pct depths 4\/3/);
  });

  it("is the default strategy of a search", () => {
    expect(SEARCH_DEFAULTS.strategy).toBe("portfolio");
  });

  it("cycles through its 8 members: PCT one deeper 3 times, at the depth once, POS once, shallow 3 times", () => {
    expect(Array.from({ length: 9 }, (_, i) => portfolioMember(i))).toEqual([
      "pct(depth+1)",
      "shallow",
      "pct(depth+1)",
      "shallow",
      "shallow",
      "pct(depth+1)",
      "pct(depth)",
      "pos",
      "pct(depth+1)",
    ]);
  });

  it("each run is the member's run: its token names the member, with the same seed", async () => {
    const tokens: string[] = [];
    await explore(lostUpdate(3), {
      strategy: "portfolio",
      schedules: 8,
      depth: 4,
      stopOnFailure: false,
      isFailure: () => true,
      onRun: (r) => tokens.push(r.token),
    });
    // Runs of 3 tasks are short: the shallow member is random.
    expect(tokens.map((t) => `${decodeToken(t).strategy}:${decodeToken(t).param}`)).toEqual([
      "pct:5",
      "random:0",
      "pct:5",
      "random:0",
      "random:0",
      "pct:5",
      "pct:4",
      "pos:0",
    ]);
    // Run 0 of the portfolio is run 0 of a PCT search at that depth with the same base seed.
    const alone = await explore(lostUpdate(3), {
      strategy: "pct",
      depth: 5,
      schedules: 1,
      stopOnFailure: false,
      isFailure: () => true,
    });
    expect(alone.firstFailure!.token).toBe(tokens[0]);
  });

  it("runs POS as its shallow member once a run has made more than SHORT_RUN decisions", async () => {
    const members: string[] = [];
    await explore(lostUpdate(SHORT_RUN), {
      strategy: "portfolio",
      schedules: 5,
      stopOnFailure: false,
      isFailure: () => true,
      onRun: (r) => members.push(decodeToken(r.token).strategy),
    });
    expect(members).toEqual(["pct", "pos", "pct", "pos", "pos"]);
  });

  it("is deterministic: the same seed gives the same schedules and tokens", async () => {
    const run = async () => {
      const hashes: string[] = [];
      const r = await explore(lostUpdate(3), {
        strategy: "portfolio",
        schedules: 60,
        seed: 9,
        onRun: (x) => hashes.push(x.traceHash),
      });
      return { hashes, token: r.firstFailure?.token };
    };
    const a = await run();
    const b = await run();
    expect(a.token).toBeDefined();
    expect(b).toEqual(a);
  });

  it("finds the lost update and its token replays it", async () => {
    const res = await explore(lostUpdate(), { strategy: "portfolio", schedules: 100, seed: 3 });
    const f = res.firstFailure!;
    expect(f.splats.map((s) => s.message)).toEqual(["lost update: counter is 1"]);
    const again = await replay(f.token, lostUpdate());
    expect(again.traceHash).toBe(f.traceHash);
    expect(again.token).toBe(f.token);
  });

  it("as a single run's strategy, the seed picks the member", async () => {
    const once = (seed: number) =>
      new Simulation({ seed, strategy: new PortfolioStrategy(3) }).run(lostUpdate(3));
    const a = await once(5);
    const b = await once(5);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.token).toBe(a.token);
    const byKind = await new Simulation({ seed: 5, strategy: { kind: "portfolio" } }).run(
      lostUpdate(3),
    );
    expect(byKind.traceHash).toBe(a.traceHash);
    const members = new Set<string>();
    for (let seed = 1; seed <= 40; seed++)
      members.add(decodeToken((await once(seed)).token).strategy);
    expect([...members].sort()).toEqual(["pct", "pos", "random"]);
  });
});
