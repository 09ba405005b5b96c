/**
 * IGT tests/gem_flink_race.c: flink and open racing GEM_CLOSE. IGT loops for seconds on every
 * CPU; here a few threads run a few iterations each, and the scheduler (PCT, bounded DFS) picks
 * the interleavings, so the same invariants are checked over many schedules in milliseconds.
 */

import { type CaseContext, type CaseSpec, RACE_DEFAULTS } from "../harness.js";

const group = "gem_flink_race";
/** Racing threads (IGT: one per CPU). */
const THREADS = 2;
/** Iterations of each loop (IGT: until 5 s have passed, or 1 000 000 for the main loop). */
const ITERATIONS = 3;

/**
 * flink_name: threads GEM_OPEN name 1; when it succeeds, flinking the new handle must give
 * name 1 back (the opened object is still named while a handle exists), otherwise the error must
 * be ENOENT; meanwhile the main thread creates, flinks and closes objects, so name 1 keeps coming
 * and going (the last one stays named while the openers run). Catches GEM_OPEN dropping
 * object_name_lock between the lookup and the handle creation.
 */
const flinkName: CaseSpec = {
  name: `${group}/flink_name`,
  group,
  race: true,
  description: "GEM_OPEN of name 1 racing create/flink/close: a reopened object keeps name 1",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const threads = Array.from({ length: THREADS - 1 || 1 }, (_, i) =>
      t.thread(`flink_name${i}`, async () => {
        for (let n = 0; n < ITERATIONS; n++) {
          const opened = await t.allowErrno(fd.gemOpen(1), ["ENOENT"], "GEM_OPEN of name 1");
          if (opened === null) continue;
          const name = await fd.gemFlink(opened.handle);
          t.check(name === 1, `the object opened by name 1 was flinked to name ${name}`);
          await fd.gemClose(opened.handle);
        }
      }),
    );
    for (let n = 0; n < ITERATIONS; n++) {
      const handle = await t.createBo(fd, 4096);
      await fd.gemFlink(handle);
      await fd.gemClose(handle);
    }
    // IGT's main loop runs a million times, so name 1 is almost always taken when an opener
    // gets to its flink; with a bounded loop, the last object keeps name 1 until the openers are
    // done, so that an opened object that lost its name cannot get name 1 back by chance.
    const last = await t.createBo(fd, 4096);
    const lastName = await fd.gemFlink(last);
    for (const th of threads) await th.join();
    await fd.gemClose(last);
    t.check(lastName >= 1, `flink gave name ${lastName}`);
    await fd.close();
  },
};

/**
 * flink_close: threads create an object (keeping it only if it got handle 1), flink handle 1 and
 * close handle 1, racing each other; afterwards no object or name may be left (IGT's object
 * count delta of 0). Catches a flink that names an object whose last handle is being closed.
 */
const flinkClose: CaseSpec = {
  name: `${group}/flink_close`,
  group,
  race: true,
  description: "flink of handle 1 racing GEM_CLOSE of handle 1: no object or name leaks",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const threads = Array.from({ length: THREADS }, (_, i) =>
      t.thread(`flink_close${i}`, async () => {
        for (let n = 0; n < ITERATIONS; n++) {
          // We want to race gem close against flink on handle one.
          const handle = await t.createBo(fd, 4096);
          if (handle !== 1) await fd.gemClose(handle);
          // raw ioctls since we expect them to fail
          await t.allowErrno(fd.gemFlink(1), ["ENOENT"], "flink of handle 1");
          await t.allowErrno(fd.gemClose(1), ["EINVAL"], "GEM_CLOSE of handle 1");
        }
      }),
    );
    for (const th of threads) await th.join();
    await fd.close();
    const counts = await t.stableCounts();
    const base = t.baseline();
    t.check(
      counts.objects === base.objects && counts.names === base.names,
      `leaked ${counts.objects - base.objects} objects and ${counts.names - base.names} names`,
    );
  },
};

export const GEM_FLINK_RACE: readonly CaseSpec[] = [flinkName, flinkClose];
