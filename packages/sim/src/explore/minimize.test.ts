import { describe, expect, it } from "vitest";
import { choose, point, report, spawn } from "../current.js";
import type { Simulation } from "../simulation.js";
import { explore, replay } from "./explore.js";
import { bugSignature, minimize, sameBug } from "./minimize.js";
import { raceTable } from "./race-table.js";

/** A lost update buried in noise: each incrementer and a bystander take many unrelated steps. */
const noisyLostUpdate = async (_sim: Simulation) => {
  const shared = { n: 0 };
  const inc = (name: string) =>
    spawn(name, async () => {
      for (let i = 0; i < 15; i++) await point(`${name}: unrelated work ${i}`);
      await point("load(counter)");
      const v = shared.n;
      await point("store(counter)");
      shared.n = v + 1;
      for (let i = 0; i < 10; i++) await point(`${name}: more work ${i}`);
    });
  const bystander = spawn("bystander", async () => {
    for (let i = 0; i < 40; i++) await point(`bystander step ${i}`);
  });
  const a = inc("inc0");
  const b = inc("inc1");
  await a.join();
  await b.join();
  await bystander.join();
  if (shared.n !== 2) report("warn", `lost update: counter is ${shared.n}, expected 2`);
};

describe("minimize", () => {
  it("shrinks a random walk's finding to one preemption that replays to the same bug", async () => {
    const res = await explore(noisyLostUpdate, { strategy: "random", schedules: 200, seed: 3 });
    const found = res.firstFailure!;
    expect(found).not.toBeNull();
    const m = await minimize(found.token, noisyLostUpdate);
    expect(m.note).toBe("minimized");
    expect(m.preemptions.after).toBeLessThanOrEqual(1);
    expect(m.preemptions.after).toBeLessThan(m.preemptions.before);
    expect(m.runs).toBeLessThanOrEqual(200);
    const again = await replay(m.token, noisyLostUpdate);
    expect(sameBug(found, again)).toBe(true);
    expect(again.traceHash).toBe(m.run.traceHash);
    const table = raceTable(m.run, {
      hide: ["main"],
      focus: m.preemptionSteps,
      around: { before: 2, after: 1 },
    });
    expect(table.rows.length).toBeLessThanOrEqual(12);
    // Both sides of the race: each incrementer's load and store.
    expect(table.rows.filter((x) => x.label === "load(counter)")).toHaveLength(2);
    expect(table.rows.filter((x) => x.label === "store(counter)")).toHaveLength(2);
  });

  it("keeps the bug's signature: kind, message shape and object type", async () => {
    const r = await explore(noisyLostUpdate, { strategy: "pct", schedules: 300 });
    expect(bugSignature(r.firstFailure!)).toEqual({
      kind: "warn",
      shape: "lost update: counter is #, expected #",
      objectType: "",
    });
  });

  it("shrinks data choices to 0 when the bug does not depend on them", async () => {
    const withData = async () => {
      const pick = choose(5);
      await spawn("a", async () => {
        await point(`a picks ${pick}`);
        report("warn", "always");
      }).join();
    };
    const r = await explore(withData, { strategy: "random", schedules: 20, seed: 5 });
    const f = r.failures.find((x) => x.trace.choices[0]! > 0) ?? r.firstFailure!;
    const m = await minimize(f.token, withData);
    expect(m.run.trace.choices).toEqual([0]);
    expect((await replay(m.token, withData)).splats[0]?.message).toBe("always");
  });

  it("returns the original when it shows no bug", async () => {
    const clean = async () => {
      await point("nothing");
    };
    const r = await explore(clean, { schedules: 1 });
    const m = await minimize(
      r.stats
        ? (await explore(clean, { schedules: 1, isFailure: () => true })).firstFailure!.token
        : "",
      clean,
    );
    expect(m.note).toBe("the run shows no bug to keep");
    expect(m.runs).toBe(1);
  });
});
