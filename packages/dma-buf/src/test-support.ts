/**
 * The package's own test support (not exported from the package, not in its build): the bare
 * simulation the fence and reservation tests run in, and splats as text for assertions.
 */

import { kmemleakScan } from "@primetime/kernel";
import { rcuBarrier } from "@primetime/rcu";
import { type RunResult, Simulation } from "@primetime/sim";

/**
 * Runs `body` as the main task of a fresh simulation, then waits for the RCU callbacks (fences
 * are freed with kfree_rcu()) and scans for leaks, so a leaked fence or list is a splat.
 */
export function runThenScanLeaks(body: () => Promise<void>, seed = 1): Promise<RunResult> {
  return new Simulation({ seed }).run(async () => {
    await body();
    await rcuBarrier();
    kmemleakScan();
  });
}

export { splatLines } from "@primetime/sim/testing";
