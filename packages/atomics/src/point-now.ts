/**
 * The fast path of a scheduling point, for hot model code: `pointNow(label)` takes the point
 * exactly as `point(label)` does (the step is recorded and the strategy picks who runs next), and
 * returns null when the running task goes on at once, so the caller continues synchronously
 * instead of awaiting a promise that is already resolved. Otherwise (another task runs now, the
 * run has ended, or no simulation runs) it returns the promise to await, as point() would.
 *
 * Only one task runs at a time and the strategy has picked the running task, so skipping the
 * await changes nothing another task can see: the schedule (trace, tokens) is the same. A
 * function using it returns a settled promise on its fast path, and turns a synchronous throw
 * (a KASAN report, an oops) into a rejected promise, as its async version did.
 */

import { activeSimulation, point } from "@primetime/sim";

/** point(label), or null when the running task goes on at once (see the file comment). */
export function pointNow(label: string): Promise<void> | null {
  const sim = activeSimulation();
  if (sim === null) return point(label);
  const cur = sim.current;
  const p = sim.point(label);
  return cur !== null && sim.current === cur && sim.running ? null : p;
}

/** A promise already resolved with undefined: what a fast path returns. */
export const RESOLVED: Promise<void> = Promise.resolve();
