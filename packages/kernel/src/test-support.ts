/**
 * Test-only helpers of the kernel package (not shipped: see package.json `files`).
 */
import { type RunResult, Simulation } from "@primetime/sim";
import { expect } from "vitest";
import { Kernel } from "./init/kernel.js";
import type { Process } from "./kernel/process.js";

/** One process run to its end in a fresh kernel, and what was left behind. */
export interface Run {
  r: RunResult;
  leaks: number;
  exitCode: number;
}

/**
 * Boots a kernel in a seed-1 simulation, lets `setup` register devices, runs `body` as process
 * "t", waits for it, and counts what kmemleak and the leak checks still find.
 */
export async function inProcess(
  setup: (k: Kernel) => void,
  body: (p: Process, k: Kernel) => Promise<void>,
): Promise<Run> {
  let leaks = -1;
  let exitCode = -1;
  const r = await new Simulation({ seed: 1 }).run(async () => {
    const k = Kernel.boot();
    setup(k);
    const p = k.spawnProcess("t", (p) => body(p, k));
    exitCode = await p.wait();
    leaks = (await k.checkLeaks()).length;
  });
  return { r, leaks, exitCode };
}

/** No splat, a normal end, nothing leaked. */
export function clean(run: Pick<Run, "r" | "leaks">): void {
  expect(run.r.splats.map((s) => s.message)).toEqual([]);
  expect(run.r.outcome).toBe("ok");
  expect(run.leaks).toBe(0);
}
