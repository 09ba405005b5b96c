/**
 * Test-only helpers of the kernel package (not shipped: see package.json `files`).
 */
import { type RunResult, Simulation } from "@primetime/sim";
import { expect } from "vitest";
import type { FileOperations } from "./fs/file.js";
import { Kernel } from "./init/kernel.js";
import type { Process } from "./kernel/process.js";
import type { UnixRecvResult } from "./net/af-unix.js";
import { unixGcStats } from "./net/garbage.js";

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

/** A device whose files count their releases: `st.releases`, and the `fops` to register. */
export function countingDevice(): { st: { releases: number }; fops: FileOperations } {
  const st = { releases: 0 };
  const fops: FileOperations = {
    release: async () => {
      st.releases++;
    },
  };
  return { st, fops };
}

/** socketpair()'s fds, or a thrown error naming its errno. */
export function socketPair(r: [number, number] | number): [number, number] {
  if (typeof r === "number") throw new Error(`socketpair() = ${r}`);
  return r;
}

/** recvmsg()'s result, or a thrown error naming its errno. */
export function recvResult(r: UnixRecvResult | number): UnixRecvResult {
  if (typeof r === "number") throw new Error(`recvmsg() = ${r}`);
  return r;
}

/**
 * Runs `body` as process "t" in a fresh seed-1 kernel after `setup`; expects no splat and an "ok"
 * outcome, and returns the run, kmemleak's count after quiesce and the unix GC's stats then.
 */
export async function unixInProcess(
  body: (p: Process, k: Kernel) => Promise<void>,
  setup: (k: Kernel) => void = () => {},
): Promise<{ r: RunResult; leaks: number; after: ReturnType<typeof unixGcStats> }> {
  let leaks = -1;
  let after = unixGcStats();
  const r = await new Simulation({ seed: 1 }).run(async () => {
    const k = Kernel.boot();
    setup(k);
    const p = k.spawnProcess("t", (p) => body(p, k));
    await p.wait();
    leaks = (await k.checkLeaks()).length;
    after = unixGcStats();
  });
  expect(r.splats.map((s) => s.message)).toEqual([]);
  expect(r.outcome).toBe("ok");
  return { r, leaks, after };
}

/**
 * A scenario's own leak check: throws "<n> leaks" when kmemleak reports anything, so that a
 * search counts the schedule as failing.
 */
export async function throwOnLeaks(k: Kernel): Promise<void> {
  const leaks = await k.checkLeaks();
  if (leaks.length > 0) throw new Error(`${leaks.length} leaks`);
}

/**
 * The unix collector's leak windows, found: the search's first failure `f` exists, its first
 * splat is kmemleak's, its only other splat is the scenario's "<n> leaks" throw (throwOnLeaks()),
 * and its unreferenced objects include the cycle's socket, skb and fd list. Returns `f`, whose
 * token the caller replays (the search API is for tests only: ARCHITECTURE.md section 4).
 */
export function expectCycleLeak(f: RunResult | null): RunResult {
  expect(f).not.toBeNull();
  expect(f!.splats[0]!.kind).toBe("kmemleak");
  expect(f!.splats.filter((s) => s.kind !== "kmemleak").map((s) => s.message)).toEqual([
    expect.stringMatching(/: \d+ leaks$/),
  ]);
  const objects = f!.splats.map((s) => /^unreferenced object (\S+)#\d+ /.exec(s.message)?.[1]);
  expect(objects).toEqual(expect.arrayContaining(["UNIX", "skbuff_head_cache", "scm_fp_list"]));
  return f!;
}
