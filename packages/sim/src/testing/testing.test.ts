import { describe, expect, it } from "vitest";
import { point, report, spawn } from "../current.js";
import { Simulation } from "../simulation.js";
import {
  describeRun,
  expectClean,
  noSplats,
  splatLines,
  splatSummaries,
  splatText,
} from "./index.js";

const run = (body: () => Promise<void> | void) => new Simulation({ seed: 1 }).run(body);

describe("@primetime/sim/testing", () => {
  it("a clean run passes expectClean and toBeClean", async () => {
    const r = await run(async () => {
      await spawn("a", async () => {}).join();
    });
    expect(noSplats(r)).toBeNull();
    expectClean(r);
    expect(r).toBeClean();
    expect(splatLines(r)).toEqual([]);
  });

  it("a run with a splat fails both, with the splat, the race table and the token", async () => {
    const r = await run(async () => {
      await spawn("worker", async () => {
        await point("look at thing#1");
        report("warn", "something odd", { object: "thing#1" });
      }).join();
    });
    expect(noSplats(r)).toBe("splats: warn: something odd");
    expect(splatSummaries(r)).toEqual(["warn: something odd"]);
    expect(splatText(r)).toMatch(/warn: something odd \(thing#1\) in worker\[2\]/);
    expect(() => expectClean(r)).toThrow(/run not clean: splats: warn: something odd/);
    expect(() => expect(r).toBeClean()).toThrow(/expected the run to be clean/);
    expect(r).not.toBeClean();
    const text = describeRun(r);
    expect(text).toMatch(/main\[1\] +\| worker\[2\]/);
    expect(text).toMatch(/\| look at thing#1 +<- warn/);
    expect(text).toMatch(/replay token: pt1\./);
  });

  it("toBeClean rejects what is not a run", () => {
    expect(() => expect({}).toBeClean()).toThrow(/expects the RunResult/);
  });
});
