import { setFlagsFromString } from "node:v8";

/**
 * V8 flags that make a process running many schedules faster, with the same schedules: the
 * flags change how V8 manages memory, never what the model computes.
 *
 * `--no-allocation-site-pretenuring`: without it, V8 learns during warm-up that objects from some
 * allocation sites (a run's task list, wait-queue arrays, per-run state literals) survive
 * scavenges, and from then on allocates them directly in the old generation. Such an object
 * dies with its run, but until the next full collection the scavenger treats it as a root, so
 * every young object it points to (the run's tasks and, through them, its whole kernel graph) is
 * promoted: about 0.7 MB every ~15 schedules of a conformance race, freed only by a later
 * mark-compact. With the flag each scavenge promotes about 15 KB and a conformance search does
 * 1.2-1.3x the schedules per CPU second (vgem README, "Second round").
 */
export const SEARCH_V8_FLAGS: readonly string[] = ["--no-allocation-site-pretenuring"];

let applied = false;

/**
 * Sets SEARCH_V8_FLAGS for this process (V8 flags are process-wide: worker threads started later
 * get them too). For command lines and benchmarks that run searches, called first thing; a
 * library never calls it on its own. Idempotent. Node documents flags set after start-up as
 * possibly unreliable: these only steer the collector's pretenuring decisions, which V8 reads at
 * each collection.
 */
export function applySearchV8Flags(): void {
  if (applied) return;
  applied = true;
  for (const flag of SEARCH_V8_FLAGS) setFlagsFromString(flag);
}

/**
 * V8 flags for a process that runs a campaign of many schedules of the kernel models (the stress
 * harness's `run`, on any number of worker threads), beside SEARCH_V8_FLAGS; again they change
 * how V8 compiles, never what the model computes (a campaign's schedules and steps are the same
 * with and without them).
 *
 * `--max-inlined-bytecode-size-cumulative=460` (V8 11.3's default: 920): TurboFan inlines at
 * most half as much bytecode into one optimized function. The models' hot functions call many
 * small polymorphic helpers (locks, refcounts, the scheduler's points); with the default budget
 * each of V8's isolates spends much of a campaign's first thousands of schedules compiling large
 * inlined graphs on its helper threads, and a campaign on 2 worker threads pays that twice. With
 * the flag, on the stress harness's speed-up campaign (alternated pairs of runs, CPU seconds, at
 * a load average of 10-21): 9,000 schedules, median difference -2.0 s on one worker (-9 %) and
 * -1.9 s on two (-7 %); 18,000 schedules, -1.4 and -3.3 s on one, -3.1 and -1.8 s on two. The
 * helper threads do 1.2-1.8 s less, the threads running schedules no more (apps/stress
 * bench/HISTORY.md, "Where the CPU goes, by thread"). A quarter of the default (230) compiled less but ran slower.
 */
export const CAMPAIGN_V8_FLAGS: readonly string[] = ["--max-inlined-bytecode-size-cumulative=460"];

let campaignApplied = false;

/**
 * Sets SEARCH_V8_FLAGS and CAMPAIGN_V8_FLAGS for this process, before a campaign starts its
 * worker threads (which get them too); TurboFan reads the inlining budget at each compilation,
 * so setting it after start-up takes effect for every later compilation. Idempotent.
 */
export function applyCampaignV8Flags(): void {
  applySearchV8Flags();
  if (campaignApplied) return;
  campaignApplied = true;
  for (const flag of CAMPAIGN_V8_FLAGS) setFlagsFromString(flag);
}
