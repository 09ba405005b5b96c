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
