/**
 * A campaign worker thread: gets the campaign's configuration once, then jobs, and answers each
 * with the tally of its schedules (or units to calibrate, answered with their calibration). Progress ticks go up every 64 schedules; a shared flag set by
 * the parent (time up, fail-fast) stops a job between two schedules.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { CampaignConfig } from "./config.js";
import { type Calibration, calibrateUnit, type Job, runJob } from "./schedule.js";

export interface WorkerData {
  readonly config: CampaignConfig;
  /** Int32Array over a SharedArrayBuffer: [0] != 0 means stop. */
  readonly stop: Int32Array;
}

export type ToWorker =
  | { readonly type: "job"; readonly id: number; readonly job: Job }
  /** Calibrate a unit (calibrateUnit(): the same result on every thread). */
  | { readonly type: "calibrate"; readonly id: number; readonly unit: string };
export type FromWorker =
  | { readonly type: "tick"; readonly schedules: number; readonly failing: number }
  | {
      readonly type: "calibrated";
      readonly id: number;
      readonly unit: string;
      readonly calibration: Calibration;
    }
  | {
      readonly type: "done";
      readonly id: number;
      readonly tally: import("./tally.js").UnitTally;
      readonly schedules: number;
      readonly failing: number;
    }
  | { readonly type: "error"; readonly id: number; readonly message: string };

const port = parentPort;
if (port) {
  const { config, stop } = workerData as WorkerData;
  const stopped = () => Atomics.load(stop, 0) !== 0;
  /** Reports a job's or calibration's exception (its stack) to the runner. */
  const postError = (id: number, e: unknown) =>
    port.postMessage({
      type: "error",
      id,
      message: e instanceof Error ? (e.stack ?? e.message) : String(e),
    } satisfies FromWorker);
  port.on("message", async (m: ToWorker) => {
    if (m.type === "calibrate") {
      try {
        const calibration = await calibrateUnit(config, m.unit);
        port.postMessage({
          type: "calibrated",
          id: m.id,
          unit: m.unit,
          calibration,
        } satisfies FromWorker);
      } catch (e) {
        postError(m.id, e);
      }
      return;
    }
    let n = 0;
    let f = 0;
    let sentN = 0;
    let sentF = 0;
    try {
      const tally = await runJob(
        config,
        m.job,
        (failed) => {
          n++;
          if (failed) f++;
          if (n - sentN >= 64) {
            port.postMessage({ type: "tick", schedules: n - sentN, failing: f - sentF });
            sentN = n;
            sentF = f;
          }
        },
        stopped,
      );
      port.postMessage({
        type: "done",
        id: m.id,
        tally,
        schedules: n - sentN,
        failing: f - sentF,
      } satisfies FromWorker);
    } catch (e) {
      postError(m.id, e);
    }
  });
}
