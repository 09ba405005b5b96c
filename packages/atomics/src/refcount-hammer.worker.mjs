// A worker thread for refcount-threads.test.ts: hammers one refcount_t cell of a
// SharedArrayBuffer with the package's own RefcountT and AtomicT, loaded from their TypeScript
// sources through tsx (a raw worker_thread cannot load .ts by itself).
//
// Cell layout (Int32Array on the shared buffer), shared with the test:
//   0 COUNT     the refcount_t under test
//   1 GO        start barrier: 0 until the test lets all workers go at once
//   2 RELEASED  set to 1 by whoever's put dropped the last reference
//   3 DONE      number of workers that finished their main loop
//   4 TOTAL     a plain atomic_t that every worker increments once per iteration

import { parentPort, workerData } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

const COUNT = 0;
const GO = 1;
const RELEASED = 2;
const DONE = 3;
const TOTAL = 4;

const { AtomicT } = await tsImport("./atomic.ts", import.meta.url);
const { RefcountT } = await tsImport("./refcount.ts", import.meta.url);

/** @type {{ cells: Int32Array; scenario: "balanced" | "lookup-race"; id: number; workers: number; iterations: number; after: number }} */
const { cells, scenario, id, workers, iterations, after } = workerData;

const warnings = [];
const r = RefcountT.at(cells, COUNT, { onWarn: (type, message) => warnings.push([type, message]) });
const total = AtomicT.at(cells, TOTAL);

parentPort.postMessage({ ready: true });
while (Atomics.load(cells, GO) === 0) Atomics.wait(cells, GO, 0, 1000);

const stats = {
  id,
  gets: 0,
  failedGets: 0,
  releases: 0,
  doubleReleases: 0,
  resurrections: 0,
  getsAfterRelease: 0,
  failedGetsAfterRelease: 0,
  overlaps: 0,
};

function release() {
  stats.releases++;
  if (Atomics.exchange(cells, RELEASED, 1) !== 0) stats.doubleReleases++;
  Atomics.notify(cells, RELEASED);
}

if (scenario === "balanced") {
  // The test holds one reference throughout: nothing ever reaches 0.
  for (let i = 0; i < iterations; i++) {
    r.inc();
    if (r.incNotZero()) stats.gets++;
    else stats.failedGets++;
    // The test's reference and our two: anything above 3 is another thread's, in flight.
    if (r.read() > 3) stats.overlaps++;
    r.dec();
    if (r.decAndTest()) release();
    total.inc();
  }
} else {
  // Worker 0 owns the initial reference and drops it halfway; everyone keeps looking the
  // object up with inc_not_zero and putting it. Exactly one put may release it, and no
  // lookup may succeed once it was released.
  for (let i = 0; i < iterations; i++) {
    if (id === 0 && i === iterations >> 1) {
      if (r.decAndTest()) release();
    }
    if (r.incNotZero()) {
      stats.gets++;
      if (Atomics.load(cells, RELEASED) !== 0) stats.resurrections++;
      if (r.decAndTest()) release();
    } else {
      stats.failedGets++;
    }
    total.inc();
  }
  // Phase two: the count is 0 (once every worker is past its loop, someone's put hit 0).
  // All workers now race inc_not_zero against the dead counter.
  if (after > 0) phaseTwo();
}

function phaseTwo() {
  Atomics.add(cells, DONE, 1);
  Atomics.notify(cells, DONE);
  for (let done = Atomics.load(cells, DONE); done < workers; done = Atomics.load(cells, DONE)) {
    Atomics.wait(cells, DONE, done, 1000);
  }
  // Every worker is past its loop, so every reference is dropped. A broken refcount may never
  // release: the test then sees releases === 0, so do not wait forever.
  Atomics.wait(cells, RELEASED, 0, 5000);
  for (let i = 0; i < after; i++) {
    if (r.incNotZero()) stats.getsAfterRelease++;
    else stats.failedGetsAfterRelease++;
  }
}

parentPort.postMessage({ stats, warnings });
