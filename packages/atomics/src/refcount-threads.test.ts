import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { REFCOUNT_SATURATED } from "./refcount.js";

// Real parallelism: worker threads run the package's own RefcountT and AtomicT (loaded from
// src through tsx) on one SharedArrayBuffer cell. See refcount-hammer.worker.mjs.

const COUNT = 0;
const GO = 1;
const RELEASED = 2;
const TOTAL = 4;

interface Stats {
  id: number;
  gets: number;
  failedGets: number;
  releases: number;
  doubleReleases: number;
  resurrections: number;
  getsAfterRelease: number;
  failedGetsAfterRelease: number;
  overlaps: number;
}
interface Result {
  stats: Stats;
  warnings: [number, string][];
}

async function hammer(
  scenario: "balanced" | "lookup-race",
  initial: number,
  { workers = 2, iterations = 200_000, after = 20_000 } = {},
): Promise<{ cells: Int32Array; results: Result[] }> {
  const cells = new Int32Array(new SharedArrayBuffer(8 * Int32Array.BYTES_PER_ELEMENT));
  cells[COUNT] = initial;
  const url = new URL("./refcount-hammer.worker.mjs", import.meta.url);
  const threads = Array.from(
    { length: workers },
    (_, id) => new Worker(url, { workerData: { cells, scenario, id, workers, iterations, after } }),
  );
  const ready = threads.map(
    (w) =>
      new Promise<void>((resolve, reject) => {
        w.once("message", () => resolve());
        w.once("error", reject);
      }),
  );
  await Promise.all(ready);
  const done = threads.map(
    (w) =>
      new Promise<Result>((resolve, reject) => {
        w.once("message", resolve);
        w.once("error", reject);
        w.once("exit", (code) => {
          if (code !== 0) reject(new Error(`worker exited with ${code}`));
        });
      }),
  );
  // Let every worker go at once, so their loops overlap.
  Atomics.store(cells, GO, 1);
  Atomics.notify(cells, GO);
  const results = await Promise.all(done);
  await Promise.all(threads.map((w) => w.terminate()));
  return { cells, results };
}

describe("RefcountT across worker threads", () => {
  it("2 workers x 200k inc/inc_not_zero/dec/dec_and_test on one cell: counts are conserved", async () => {
    const iterations = 200_000;
    const { cells, results } = await hammer("balanced", 1, { iterations });
    expect(cells[COUNT]).toBe(1);
    expect(cells[TOTAL]).toBe(2 * iterations);
    // The loops really overlapped: workers saw each other's references in flight.
    expect(results.reduce((n, r) => n + r.stats.overlaps, 0)).toBeGreaterThan(0);
    for (const { stats, warnings } of results) {
      expect(warnings).toEqual([]);
      expect(stats.gets).toBe(iterations);
      expect(stats.failedGets).toBe(0);
      expect(stats.releases).toBe(0);
    }
  });

  it("a lookup race with inc_not_zero: one release, and 0 is never resurrected", async () => {
    const iterations = 200_000;
    const after = 20_000;
    const { cells, results } = await hammer("lookup-race", 1, { iterations, after });
    const sum = (k: keyof Stats) => results.reduce((n, r) => n + r.stats[k], 0);

    expect(cells[COUNT]).toBe(0);
    expect(cells[RELEASED]).toBe(1);
    expect(cells[TOTAL]).toBe(2 * iterations);
    expect(sum("releases")).toBe(1);
    expect(sum("doubleReleases")).toBe(0);
    expect(sum("resurrections")).toBe(0);
    expect(sum("gets") + sum("failedGets")).toBe(2 * iterations);
    // Phase two: both workers race inc_not_zero on the dead counter; none succeeds.
    expect(sum("getsAfterRelease")).toBe(0);
    expect(sum("failedGetsAfterRelease")).toBe(2 * after);
    for (const { warnings } of results) expect(warnings).toEqual([]);
  });

  it("a saturated cell stays saturated under concurrent puts and gets", async () => {
    const iterations = 50_000;
    const { cells, results } = await hammer("lookup-race", REFCOUNT_SATURATED, {
      iterations,
      after: 0,
    });
    expect(cells[COUNT]).toBe(REFCOUNT_SATURATED);
    const releases = results.reduce((n, r) => n + r.stats.releases, 0);
    expect(releases).toBe(0);
    // Every inc_not_zero on a saturated counter warns "saturated; leaking memory".
    for (const { stats, warnings } of results) {
      expect(stats.gets).toBe(iterations);
      expect(new Set(warnings.map(([, m]) => m))).toEqual(
        new Set([
          "refcount_t: saturated; leaking memory.",
          "refcount_t: underflow; use-after-free.",
        ]),
      );
    }
  });
});
