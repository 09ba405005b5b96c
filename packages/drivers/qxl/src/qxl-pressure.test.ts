/**
 * Surface pressure with every toggle off: three processes, three usable surface ids for six
 * live surfaces, drawing, sharing (flink, PRIME self-import on a second file), updating and
 * closing concurrently, under many PCT schedules and a bounded DFS. Each run that completes ends
 * with the device torn down and a kmemleak scan with nothing exempt.
 *
 * Twice: faithful to mainline, where the known upstream window `qxl.reap-reserve-without-ctx`
 * is open (the reaper's NULL-context reservation inside a drm_exec: lockdep's recursive-locking
 * report whenever ids run out, and in some schedules a deadlock with another submitter) and
 * those two are asserted to be the only reports; and with the window's fix switch on
 * (baselineFixes()), where nothing at all is reported. Submissions lock their objects with
 * drm_exec (wait-die, back-off): no deadlock between two drm_execs remains.
 */

import { readFileSync } from "node:fs";
import { ENOSPC } from "@primetime/kernel";
import { baselineFixes, formatSplat, type RunResult, type Scenario } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import {
  closeFd,
  openQxl,
  qxlAllocSurf,
  qxlExecDraw,
  qxlMachineMain,
  runQxl,
} from "./test-machine.js";
import {
  isKnownReapDeadlock,
  isKnownReapRecursion,
  pressureStats,
  qxlIsFailure,
  surfacePressure,
} from "./test-scenarios.js";
import { QXL_REAP_RESERVE_WITHOUT_CTX } from "./toggles.js";

const text = (r: RunResult | null) =>
  r ? `${r.outcome}\n${r.splats.map((s) => formatSplat(s)).join("\n")}` : "none";

/**
 * 600 schedules: with v6.18's first reaper pass (it evicts busy surfaces and skips idle ones),
 * qxl_fence_wait(), TTM's v6.18 fixes and dma-buf's v6.1+ fence waits, the known window's deadlock
 * is rare here (6 in the first 600 schedules since ioctl(2) borrows the fd with v6.18's fdget(),
 * 1 before; 2 before the fence waits; 3 in the first 60 before them all).
 */
const PCT = { strategy: "pct", depth: 3, schedules: 600, seed: 21 } as const;

describe("qxl surface pressure (toggles off)", () => {
  it("window open: only the known window's report and deadlock over 600 pct schedules", async () => {
    Object.assign(pressureStats, { flinkOpened: 0, primeImported: 0, drawsOk: 0 });
    let deadlocks = 0;
    let recursion = 0;
    let firstDeadlock: RunResult | null = null;
    /** The schedules (1-based) that deadlocked. */
    const deadlockAt: number[] = [];
    let schedule = 0;
    const res = await explore(surfacePressure(3, 4), {
      ...PCT,
      scenario: "qxl/surface-pressure",
      isFailure: qxlIsFailure,
      onRun: (r) => {
        schedule++;
        if (isKnownReapDeadlock(r)) {
          deadlocks++;
          deadlockAt.push(schedule);
          firstDeadlock ??= r;
        }
        if (r.splats.some(isKnownReapRecursion)) recursion++;
      },
    });
    expect(res.firstFailure, text(res.firstFailure)).toBeNull();
    expect(res.schedules).toBe(PCT.schedules);
    expect(res.stats.outcomes.ok + deadlocks).toBe(PCT.schedules);
    // The window as mainline has it: lockdep reports the reaper in every schedule (ids always
    // run out here), and a few schedules deadlock; drm_exec against drm_exec never does.
    expect(recursion).toBe(PCT.schedules);
    expect(deadlocks).toBe(6);
    // The deadlock replays from its token (KNOWN-WINDOWS.md quotes it).
    const token = (firstDeadlock as RunResult | null)!.token;
    const again = await replay(token, surfacePressure(3, 4), { scenario: "qxl/surface-pressure" });
    expect(isKnownReapDeadlock(again), text(again)).toBe(true);
    expect(again.traceHash).toBe((firstDeadlock as RunResult | null)!.traceHash);
    // KNOWN-WINDOWS.md quotes that token and where the deadlocks are: still these (a change of
    // schedules that moves them fails here, not in a reader's replay).
    const md = readFileSync(new URL("../../../../KNOWN-WINDOWS.md", import.meta.url), "utf8");
    const section = md.slice(md.indexOf("## `qxl.reap-reserve-without-ctx`"));
    expect(section.match(/pt1\.[A-Za-z0-9_-]+/)?.[0], "KNOWN-WINDOWS.md's token").toBe(token);
    const where =
      deadlockAt.length === 1
        ? `(schedule ${deadlockAt[0]})`
        : `(schedules ${deadlockAt.slice(0, -1).join(", ")} and ${deadlockAt.at(-1)})`;
    expect(section.replace(/\s+/g, " ")).toContain(where);
    // and the sharing really happens: flink opens, PRIME self-imports, draws through both
    expect(pressureStats.flinkOpened).toBeGreaterThan(40);
    expect(pressureStats.primeImported).toBeGreaterThan(40);
    expect(pressureStats.drawsOk).toBeGreaterThan(60 * 3);
  }, 300_000);

  it("with baselineFixes(): no splat, no deadlock, no leak over the same 600 pct schedules", async () => {
    expect(baselineFixes()).toContain(QXL_REAP_RESERVE_WITHOUT_CTX.name);
    const res = await explore(surfacePressure(3, 4), {
      ...PCT,
      toggles: baselineFixes(),
      scenario: "qxl/surface-pressure",
    });
    expect(res.firstFailure, text(res.firstFailure)).toBeNull();
    expect(res.stats.outcomes.ok).toBe(PCT.schedules);
  }, 300_000);

  it("dfs (preemption bound 1), window open and fixed, over 30 schedules each", async () => {
    const open = await explore(surfacePressure(2, 3), {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 30,
      scenario: "qxl/surface-pressure-dfs",
      isFailure: qxlIsFailure,
    });
    expect(open.firstFailure, text(open.firstFailure)).toBeNull();
    expect(open.schedules).toBe(30);
    const fixed = await explore(surfacePressure(2, 3), {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 30,
      toggles: baselineFixes(),
      scenario: "qxl/surface-pressure-dfs",
    });
    expect(fixed.firstFailure, text(fixed.firstFailure)).toBeNull();
    expect(fixed.schedules).toBe(30);
  }, 300_000);

  it("one submitter alone: a draw reading surface A into a new surface C when ids are out deadlocks on A's reservation (window open), succeeds with the fix", async () => {
    const outcome = async (toggles: string[]) => {
      const rets: number[] = [];
      const r = await runQxl(
        async (m) => {
          const proc = m.kernel.spawnProcess("client", async (p) => {
            const fd = await openQxl(p, m);
            const [a, b, c] = [
              await qxlAllocSurf(p, fd, 32, 32),
              await qxlAllocSurf(p, fd, 32, 32),
              await qxlAllocSurf(p, fd, 32, 32),
            ];
            const fill = (h: number, value: number) =>
              qxlExecDraw(p, fd, {
                op: "fill",
                size: 1024,
                value,
                dst: { handle: h, offset: 0, surface: true },
              });
            rets.push(await fill(a!, 1), await fill(b!, 2)); // ids 1 and 2: all there are
            // A is in the release (reserved by drm_exec) when C's validation reaps A's id.
            rets.push(
              await qxlExecDraw(p, fd, {
                op: "copy",
                size: 1024,
                src: { handle: a!, offset: 0 },
                dst: { handle: c!, offset: 0, surface: true },
              }),
            );
            await closeFd(p, fd);
          });
          await proc.wait();
        },
        { toggles, device: { nSurfaces: 3 } },
      );
      return {
        rets,
        outcome: r.outcome,
        recursion: r.splats.filter(isKnownReapRecursion).length,
        others: r.splats
          .filter((s) => !isKnownReapRecursion(s))
          .map((s) => s.message.split(";").pop()!.trim()),
      };
    };
    expect(await outcome([])).toEqual({
      rets: [0, 0],
      outcome: "deadlock",
      recursion: 1,
      others: ["client[3] waits on ww_mutex qxl_bo#1.resv held by client[3]"],
    });
    expect(await outcome(baselineFixes())).toEqual({
      rets: [0, 0, 0],
      outcome: "ok",
      recursion: 0,
      others: [],
    });
  });

  it("every id held by the submitter's own release: the window deadlocks on itself; the fix switch gives -ENOSPC (its trylock alone left qxl_surface_id_alloc() spinning)", async () => {
    // One usable id (nSurfaces 2), held by A; a draw copying A into a new surface C reserves A,
    // validates C and reaps. Window open: qxl_bo_reserve(A) waits for the submitter itself
    // (lockdep's recursion report, then the deadlock). Fix switch: the trylock skips A in both
    // passes; a trylock alone left qxl_reap_surface_id() returning 0 with nothing reaped and
    // qxl_surface_id_alloc()'s `goto again` retrying forever (a livelock). The switch's reaper
    // sees that it reaped nothing and an id is the caller's own (dma_resv_locking_ctx()->task ==
    // current), and
    // EXECBUFFER fails with -ENOSPC, the release backed off (with three slots, a draw whose
    // relocations name two surfaces with ids into a third is the same case).
    const outcome = async (toggles: string[]) => {
      const rets: number[] = [];
      const r = await runQxl(
        async (m) => {
          const proc = m.kernel.spawnProcess("client", async (p) => {
            const fd = await openQxl(p, m);
            const [a, c] = [await qxlAllocSurf(p, fd, 32, 32), await qxlAllocSurf(p, fd, 32, 32)];
            rets.push(
              await qxlExecDraw(p, fd, {
                op: "fill",
                size: 1024,
                value: 1,
                dst: { handle: a!, offset: 0, surface: true },
              }),
            );
            rets.push(
              await qxlExecDraw(p, fd, {
                op: "copy",
                size: 1024,
                src: { handle: a!, offset: 0 },
                dst: { handle: c!, offset: 0, surface: true },
              }),
            );
            await closeFd(p, fd);
          });
          await proc.wait();
        },
        { toggles, device: { nSurfaces: 2 } },
      );
      return {
        rets,
        outcome: r.outcome,
        recursion: r.splats.filter(isKnownReapRecursion).length,
        others: r.splats
          .filter((s) => !isKnownReapRecursion(s))
          .map((s) => s.message.split(";").pop()!.trim()),
      };
    };
    expect(await outcome([])).toEqual({
      rets: [0],
      outcome: "deadlock",
      recursion: 1,
      others: ["client[3] waits on ww_mutex qxl_bo#1.resv held by client[3]"],
    });
    expect(await outcome(baselineFixes())).toEqual({
      rets: [0, -ENOSPC],
      outcome: "ok",
      recursion: 0,
      others: [],
    });
  });

  it("two submitters each reading its own surface into a new one, three slots: with the fix switch, clean over 300 pct and 100 dfs schedules (no deadlock, no livelock)", async () => {
    // P0 holds A (id 1 or 2) reserved while its new surface C needs an id; P1 the same with B
    // and D. Window open, the reapers' NULL-context reservations deadlock (on the other's or on
    // their own); a trylock alone would leave both spinning in qxl_surface_id_alloc(). The
    // switch's reaper gives up (-ENOSPC) when it met its own reservation and reaped nothing.
    const rets: number[] = [];
    const scenario: Scenario = (sim) =>
      qxlMachineMain(
        sim,
        async (m) => {
          const ps = [0, 1].map((i) =>
            m.kernel.spawnProcess(`p${i}`, async (p) => {
              const fd = await openQxl(p, m);
              const [a, c] = [await qxlAllocSurf(p, fd, 16, 16), await qxlAllocSurf(p, fd, 16, 16)];
              const fill = { op: "fill", size: 512, value: i + 1 } as const;
              await qxlExecDraw(p, fd, { ...fill, dst: { handle: a!, offset: 0, surface: true } });
              rets.push(
                await qxlExecDraw(p, fd, {
                  op: "copy",
                  size: 512,
                  src: { handle: a!, offset: 0 },
                  dst: { handle: c!, offset: 0, surface: true },
                }),
              );
              await closeFd(p, fd);
            }),
          );
          for (const p of ps) await p.wait();
        },
        { nSurfaces: 3 },
      );
    const pct = await explore(scenario, {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 5,
      toggles: baselineFixes(),
      scenario: "qxl/execbuffer-reap-own-surface",
    });
    expect(pct.firstFailure, text(pct.firstFailure)).toBeNull();
    expect(pct.stats.outcomes.ok).toBe(300);
    // Every copy either succeeded (the other's surface reaped) or gave up with -ENOSPC.
    expect(rets.filter((r) => r !== 0 && r !== -ENOSPC)).toEqual([]);
    const dfs = await explore(scenario, {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 100,
      toggles: baselineFixes(),
      scenario: "qxl/execbuffer-reap-own-surface-dfs",
    });
    expect(dfs.firstFailure, text(dfs.firstFailure)).toBeNull();
    expect(dfs.stats.outcomes.ok).toBe(dfs.schedules);
    // Window open: the same scenario deadlocks (lockdep's recursion report in every schedule).
    const open = await explore(scenario, {
      strategy: "pct",
      depth: 3,
      schedules: 50,
      seed: 5,
      scenario: "qxl/execbuffer-reap-own-surface",
      isFailure: (r) => r.outcome === "deadlock",
    });
    expect(open.firstFailure?.splats.some(isKnownReapRecursion)).toBe(true);
  }, 300_000);
});
