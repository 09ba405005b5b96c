import { describe, expect, it } from "vitest";
import { choose, point, report, spawn } from "../current.js";
import { SimMutex } from "../mutex.js";
import { explore, replay } from "./explore.js";

/**
 * Three tasks look an object up, take and drop references under and outside a mutex, and make a
 * data choice: labels built at every point, wait queues, choices. The tokens below were recorded
 * with the scheduler before issue 13's speed work (the process-wide label table, trace buffers
 * reused across the runs of a search, a task switch without a closure of its own, labels built
 * once per object): replaying them step for step, to the same trace hash, shows that the
 * schedules of every strategy stayed the same.
 */
function lookups() {
  return async () => {
    const m = new SimMutex("table_lock");
    const obj = { refs: 1, freed: false, name: "obj#1" };
    const worker = (i: number) => async () => {
      for (let k = 0; k < 3; k++) {
        await point(`lookup(${obj.name})`);
        await m.lock();
        await point(`kref_get(${obj.name})`);
        if (obj.freed) report("kasan", `use after free by w${i}`);
        obj.refs++;
        m.unlock();
        await point(`kref_put(${obj.name})`);
        if (--obj.refs === 0) obj.freed = true;
      }
      if (choose(3) === 2) await point(`extra(w${i})`);
    };
    const ts = [0, 1, 2].map((i) => spawn(`w${i}`, worker(i)));
    await point("main: drop initial ref");
    if (--obj.refs === 0) obj.freed = true;
    for (const t of ts) await t.join();
  };
}

/** [strategy, token, trace hash, steps, splats], runs 0-5 of a search from base seed 7. */
const RECORDED: readonly [string, string, string, number, number][] = [
  ["random", "pt1.Y2A4-HjKQVbJA7N43h3__JOLgUGUmYmFhZGJiYWJmZkZxGZiYmZiXOPbMREA", "af3ce3ee", 25, 5],
  [
    "random",
    "pt1.Y2D4t2bqEybVA7N4bi6cs56fgUGWiZGFiYmFhZmZiZmZiYmJiYWZiYWJhYmZiYWZmYGju1oXAA",
    "f5e710d9",
    37,
    7,
  ],
  [
    "random",
    "pt1.Y2B4sunXDkaDA7N4ru9Y3cjBwKDBwsTCxMjEzAxCLMwsLCwsTEzMLEzMTMwszExMTEwMLIwsLMwsjAmBhj8A",
    "802adc57",
    48,
    10,
  ],
  [
    "random",
    "pt1.Y2DYcmj2BTa9A7N4Pk1Yu4qRgUGJhZmFmYmRBQSYmJmZmEAUCzMLExOEZmFgZPVregUA",
    "154b4872",
    46,
    9,
  ],
  [
    "random",
    "pt1.Y2C4-6NjIbPWgVk8zy9tvsLCwKDCzMzCwsjMxMLMBCZYQICZhYmFiZmJmRlEMjExnNtrnAAA",
    "4a8ce967",
    42,
    9,
  ],
  [
    "random",
    "pt1.Y2DoXPngDZP8gVk8d58sq2RgkGBmYWJmZGZhYmFmYmZhYmJhYWZhYWFiYdhXkqAGAA",
    "0f29b25d",
    31,
    7,
  ],
  ["pct", "pt1.Y2Q--HjKQVbjA7N4_vxY3sHBwGDCggYYmNAAAzMaYGJOKX8vBAA", "8109fc7c", 51, 0],
  ["pct", "pt1.Y2T-t2bqEyaTA7N4_hy6v5uZgUGNCQ0wMjIzs6ABRqbgOQ9mAwA", "3777e17c", 52, 6],
  ["pct", "pt1.Y2R-sunXDkbxA7N4Tj740cnEwCDOggIYGZkZmJmZmJgi5vFJAQA", "213e3049", 23, 1],
  ["pct", "pt1.Y2Tecmj2BTa1A7N4pr55eZuLgUGDGQZYwIAJxoABJhYmMHggPL0NAA", "ab7a7615", 38, 1],
  [
    "pct",
    "pt1.Y2S--6NjIbPlgVk8t_8__czFwKDLzMzMyMTExMLCwoQGGFlYWFiY4YCJmZHxgF51GgA",
    "ae797fdb",
    57,
    9,
  ],
  ["pct", "pt1.Y2TuXPngDZP4gVk8kyc9nMTFwCDOyIQCmJmZGZhZWFh4WDqUAA", "a2584913", 23, 4],
  [
    "pos",
    "pt1.Y2E4-HjKQVbrA7N4-ndsXcfNwGDCzMzCxMTEwsLMyAIGTEzMTFDAzMzMzMIMBiAlzCwsjCARRqbTKWnsAA",
    "b5cd5c0f",
    59,
    12,
  ],
  ["pos", "pt1.Y2H4t2bqEyaLA7N4fm75cJ2ZgUGbiYWFiZEJBTAwMkMAC4xmYWJhZmRcy3m1GgA", "3afc1a79", 56, 9],
  [
    "pos",
    "pt1.Y2F4sunXDkbzA7N4DnXseMzCwKDDxMzIzMTExMTMzMzCDCZZmFhYQAwGJhYIYIIwGBkPrg_SBwA",
    "4c6e0442",
    55,
    11,
  ],
  ["pos", "pt1.Y2HYcmj2BTb5A7N4tq190c7CwCDNxMjMzAQGzEwsLCzMUMDExMLQJC_BBAA", "40fa16b6", 31, 5],
  ["pos", "pt1.Y2G4-6NjIbPMgVk8S37Mn8_CwCDDxMLExMTEAgcgNhMLMzMjAzOzd-3dmwA", "43e7fc24", 28, 2],
  [
    "pos",
    "pt1.Y2HoXPngDZPlgVk8Uw58_cjFwKDJzMTExMzMxMTIzMQMAkxMLCwsEAZIBkwyMjIzMvzfsH89AA",
    "ae3d6014",
    57,
    10,
  ],
  ["dfs", "pt1.Y2JkNz0wi6ft8urprAwMaoxMaICBkRkNMDAy_ExSZAYA", "52eae986", 53, 9],
  ["dfs", "pt1.Y2JkNz0wi-fY1onX2RkY1BiZ0AADIzMaYGBkbFXV2g8A", "7ae45ac6", 53, 9],
  ["dfs", "pt1.Y2JkNzswi-fQ98-TeBgY1BiZ0AADIzMaYGBkcj376CAA", "c25cfbc2", 54, 9],
  ["dfs", "pt1.Y2JkNzkwi2fL0u0P2BkYTBmZ0AADIzMaYGBBAwyTuRqVAQ", "7c0dd2b4", 52, 9],
  ["dfs", "pt1.Y2JkNzkwi-fJpfkTmBkYTBmZ0AADIzMaYGBBA4xxmmKBAA", "3207e964", 52, 9],
  ["dfs", "pt1.Y2JkNz0wi-fQ5jdPeRgYzBiZ0AADIzMaYGBBA0ws4nv9twAA", "ccbb19c2", 53, 9],
];

describe("tokens recorded before the speed work", () => {
  it("replay to the same steps and trace hash", async () => {
    for (const [, token, hash, steps, splats] of RECORDED) {
      const r = await replay(token, lookups());
      expect([r.traceHash, r.steps, r.splats.length]).toEqual([hash, steps, splats]);
    }
  });

  it("are what each strategy's search records again today", async () => {
    const params: Record<string, object> = {
      random: {},
      pct: { depth: 3 },
      pos: {},
      dfs: { preemptionBound: 1 },
    };
    for (const [strategy, p] of Object.entries(params)) {
      const tokens: string[] = [];
      await explore(lookups(), {
        strategy,
        ...p,
        seed: 7,
        schedules: 6,
        stopOnFailure: false,
        isFailure: () => true,
        onRun: (r) => tokens.push(r.token),
      });
      expect(tokens).toEqual(RECORDED.filter((x) => x[0] === strategy).map((x) => x[1]));
    }
  });
});
