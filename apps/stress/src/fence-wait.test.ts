/**
 * fence-wait on the drivers' own job fences: a vmwgfx exporter's EXECBUF exports its fence as a
 * sync_file (EXPORT_FENCE_FD) that importers poll or hand to their own EXECBUF (IMPORT_FENCE_FD),
 * a qxl exporter's draw fences the buffer, a vgem exporter keeps its sw_sync point; faults are
 * the vmwgfx device's (a command error the command-buffer manager restarts past, or a stall whose
 * FENCE_WAIT times out with -EBUSY: vmwgfx never resets the device, no fence gets an error) or
 * the exporter dying. Every ordered pair runs clean over 360 schedules with every toggle off, and each path
 * really ran with its checks passed (a broken path fails its userspace check: a splat).
 */
import { baselineFixes } from "@primetime/sim";
import { splatLines } from "@primetime/sim/testing";
import { beforeAll, describe, expect, it } from "vitest";
import type { CampaignConfig } from "./campaign/config.js";
import { runSchedule } from "./campaign/schedule.js";
import { fenceWaitStats } from "./scenarios/sharing/fence-wait.js";

const DRIVERS = ["vgem", "qxl", "vmwgfx"];
const PAIRS = DRIVERS.flatMap((a) => DRIVERS.map((b) => `${a}+${b}`));
const SCHEDULES = 40;

const config: CampaignConfig = {
  drivers: DRIVERS,
  fixes: baselineFixes(),
  timeMs: null,
  faults: null,
  shard: null,
  stepLimit: 200_000,
  scenarios: ["fence-wait"],
  strategy: { strategy: "pct", depth: 3 },
  seeds: SCHEDULES,
  seed: 1,
  bugs: [],
  failFast: false,
};

/** A snapshot of the scenario's counters after one pair's schedules. */
type Stats = typeof fenceWaitStats;

const failures: string[] = [];
const byPair = new Map<string, Stats>();
/** Steps by task kind and label over every vmwgfx+vmwgfx schedule. */
const vmwSteps = new Map<string, number>();

beforeAll(async () => {
  for (const pair of PAIRS) {
    fenceWaitStats.waits = {};
    fenceWaitStats.hungStatus = {};
    fenceWaitStats.contents = {};
    fenceWaitStats.drops = {};
    fenceWaitStats.busy = {};
    fenceWaitStats.events = {};
    for (let i = 0; i < SCHEDULES; i++) {
      const { run } = await runSchedule(config, `fence-wait@${pair}`, i);
      if (run.outcome !== "ok" || run.splats.length > 0)
        failures.push(`${pair} #${i}: ${run.outcome} ${splatLines(run).join(" | ")} ${run.token}`);
      if (pair === "vmwgfx+vmwgfx")
        for (const s of run.trace.steps()) {
          const key = `${s.task.replace(/\d+$/, "")}:${s.label}`;
          vmwSteps.set(key, (vmwSteps.get(key) ?? 0) + 1);
        }
    }
    byPair.set(pair, structuredClone(fenceWaitStats));
  }
}, 600_000);

/** The count of `key` in `rec` (0 if absent). */
const n = (rec: Record<string, number>, key: string) => rec[key] ?? 0;

describe("fence-wait", () => {
  it(`is clean on every ordered driver pair over ${SCHEDULES} schedules each, every toggle off`, () => {
    expect(failures).toEqual([]);
    for (const pair of PAIRS) {
      const s = byPair.get(pair)!;
      const waits = Object.values(s.waits).reduce((a, b) => a + b, 0);
      // 1-2 importers a schedule (and the vmwgfx exporter's own wait), each counted once its
      // checks passed.
      expect(waits, pair).toBeGreaterThanOrEqual(SCHEDULES / 2);
    }
  });

  it("vmwgfx's exported fence fd: passed to the importers, polled ready, signalled; the handle waited for and dropped three ways", () => {
    for (const pair of ["vmwgfx+vgem", "vmwgfx+qxl", "vmwgfx+vmwgfx"]) {
      const s = byPair.get(pair)!;
      expect(n(s.waits, "vmwgfx:passed sync_file"), pair).toBeGreaterThan(0);
      expect(n(s.waits, "vmwgfx:dma-buf poll"), pair).toBeGreaterThan(0);
      expect(n(s.waits, "vmwgfx:exported sync_file"), pair).toBeGreaterThan(0);
      // FENCE_WAIT on the handle, then each way of dropping it.
      expect(n(s.waits, "vmwgfx:exporter"), pair).toBeGreaterThan(0);
      for (const d of ["FENCE_UNREF", "WAIT_OPTION_UNREF", "close"])
        expect(n(s.drops, d), `${pair} ${d}`).toBeGreaterThan(0);
      // The importers read the job's fill once its fence signalled.
      expect(n(s.contents, "vmwgfx"), pair).toBeGreaterThan(0);
    }
    // A non-vmwgfx importer has no EXECBUF: three ways only.
    expect(n(byPair.get("vmwgfx+vgem")!.waits, "vmwgfx:IMPORT_FENCE_FD")).toBe(0);
  });

  it("IMPORT_FENCE_FD: a vmwgfx importer's EXECBUF waits for the exporter's job (also one under a device fault)", () => {
    const s = byPair.get("vmwgfx+vmwgfx")!;
    expect(n(s.waits, "vmwgfx:IMPORT_FENCE_FD")).toBeGreaterThan(0);
    expect(
      n(s.waits, "vmwgfx/error:IMPORT_FENCE_FD") + n(s.waits, "vmwgfx/stall:IMPORT_FENCE_FD"),
    ).toBeGreaterThan(0);
    // The importers' submissions went through vmw_execbuf_ioctl()'s dma_fence_wait().
    expect(vmwSteps.get("importer:vmw_execbuf_submit_fifo") ?? 0).toBeGreaterThan(0);
  });

  it("a vmwgfx device fault: every waiter wakes, no fence carries an error, a stall's FENCE_WAIT times out with -EBUSY", () => {
    for (const pair of ["vmwgfx+vgem", "vmwgfx+qxl", "vmwgfx+vmwgfx"]) {
      const s = byPair.get(pair)!;
      // vmwgfx has no hangcheck and no reset: every sync_file userspace read after a fault is
      // signalled without an error (1), never the old reset's -ETIME.
      expect(Object.keys(s.hungStatus).sort(), pair).toEqual(["vmwgfx/error:1", "vmwgfx/stall:1"]);
      for (const fault of ["error", "stall"]) {
        expect(n(s.waits, `vmwgfx/${fault}:exporter`), `${pair} ${fault}`).toBeGreaterThan(0);
        expect(n(s.waits, `vmwgfx/${fault}:dma-buf poll`), `${pair} ${fault}`).toBeGreaterThan(0);
        expect(n(s.waits, `vmwgfx/${fault}:passed sync_file`), `${pair} ${fault}`).toBeGreaterThan(
          0,
        );
        // The importers read the buffer: zeros after a refused fill, the fill after a stall.
        expect(n(s.contents, `vmwgfx/${fault}`), `${pair} ${fault}`).toBeGreaterThan(0);
      }
      // Each stalled job's exporter saw its short FENCE_WAIT time out with -EBUSY first.
      // (Its wait then went on by FENCE_WAIT or a read event, "exporter", or it dropped its
      // event by closing its DRM fd, "exporter event dropped", or by exiting.)
      expect(n(s.busy, "FENCE_WAIT"), pair).toBe(
        n(s.waits, "vmwgfx/stall:exporter") +
          n(s.waits, "vmwgfx/stall:exporter event dropped") +
          n(s.events, "vmwgfx/stall:exit") +
          n(s.events, "vmwgfx/stall:exit REQ_TIME"),
      );
      // Importers polling a sync_file saw a short poll time out first.
      expect(n(s.busy, "poll"), pair).toBe(
        n(s.waits, "vmwgfx/stall:passed sync_file") + n(s.waits, "vmwgfx/stall:exported sync_file"),
      );
      expect(n(s.busy, "poll"), pair).toBeGreaterThan(0);
      expect(n(s.waits, "vmwgfx/hang:exporter"), pair).toBe(0);
    }
  });

  it("a vmwgfx exporter's DRM event: FENCE_EVENT on its handle, poll(2) and read(2) of its DRM fd (type, user_data, REQ_TIME stamp checked), or the fd closed or the process exited with the event pending", () => {
    const all: Record<string, number> = {};
    for (const pair of ["vmwgfx+vgem", "vmwgfx+qxl", "vmwgfx+vmwgfx"]) {
      const s = byPair.get(pair)!;
      for (const [k, v] of Object.entries(s.events)) all[k] = (all[k] ?? 0) + v;
      // Every exporter that kept its event read it after its checks passed; one that closed or
      // exited first still saw its job complete (its sync_file, or the importers' checks).
      const read = Object.entries(s.events)
        .filter(([k]) => k.includes(":read"))
        .reduce((a, [, v]) => a + v, 0);
      expect(read, pair).toBeGreaterThan(0);
      expect(n(s.waits, "vmwgfx:exporter event dropped"), pair).toBe(
        n(s.events, "vmwgfx:close") + n(s.events, "vmwgfx:close REQ_TIME"),
      );
    }
    const ends = new Set(Object.keys(all).map((k) => k.split(":")[1]!.split(" ")[0]));
    expect([...ends].sort()).toEqual(["close", "exit", "read"]);
    // REQ_TIME stamps were checked, and events were read after both device faults.
    expect(Object.keys(all).some((k) => k.endsWith(":read REQ_TIME"))).toBe(true);
    expect(Object.keys(all).some((k) => k.startsWith("vmwgfx/stall:read"))).toBe(true);
    expect(Object.keys(all).some((k) => k.startsWith("vmwgfx/error:read"))).toBe(true);
    // Nothing but a vmwgfx exporter asks for events.
    for (const pair of PAIRS.filter((p) => !p.startsWith("vmwgfx+")))
      expect(byPair.get(pair)!.events, pair).toEqual({});
  });

  it("qxl's draw fence is waited for through the dma-buf; a dying exporter's sw_sync job signals -ENOENT", () => {
    for (const pair of ["qxl+vgem", "qxl+qxl", "qxl+vmwgfx"]) {
      const s = byPair.get(pair)!;
      expect(n(s.waits, "qxl:dma-buf poll"), pair).toBeGreaterThan(0);
      expect(n(s.waits, "qxl:exported sync_file"), pair).toBeGreaterThan(0);
      expect(n(s.contents, "qxl"), pair).toBeGreaterThan(0);
      expect(n(s.waits, "qxl/hang:dma-buf poll"), pair).toBeGreaterThan(0);
    }
    const hung = { ...byPair.get("qxl+vgem")!.hungStatus, ...byPair.get("vgem+vgem")!.hungStatus };
    // sw_sync_debugfs_release() (v6.18 sw_sync.c) signals the timeline's points with -ENOENT (2).
    expect(Object.keys(hung).sort()).toEqual(["qxl:-2", "sw_sync:-2"]);
  });
});
