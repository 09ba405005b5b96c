/**
 * Campaign progress on stderr: a cli-progress bar when stderr is a terminal (schedules done,
 * schedules/s, failing schedules, time left), otherwise a plain line at most every 2 s, so a CI
 * log is never silent for long. Driven by the schedules' ticks, not by a timer: with one worker
 * the schedules run on this thread.
 */
import cliProgress from "cli-progress";
import type { Progress } from "./runner.js";

/** Where progress goes: process.stderr, or a test's capture (isTTY false). */
export interface ProgressSink {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** How long a campaign runs before its time left is extrapolated from its rate. */
const MIN_RATE_MS = 1000;

export class CampaignProgress implements Progress {
  private done = 0;
  private failing = 0;
  private lastLine = 0;
  private readonly start: number;
  private readonly bar: cliProgress.SingleBar | null;

  constructor(
    private readonly sink: ProgressSink,
    /** Schedules expected (null: a --time campaign, which has a time budget instead). */
    private readonly total: number | null,
    private readonly timeMs: number | null,
    private readonly now: () => number = Date.now,
  ) {
    this.start = now();
    if (sink.isTTY) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: sink as unknown as NodeJS.WritableStream,
          format: "{bar} {value}/{total} schedules | {rate}/s | {failing} failing | {left} left",
          hideCursor: true,
          clearOnComplete: true,
          barsize: 24,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total ?? Math.max(1, Math.round((timeMs ?? 0) / 1000)), 0, this.payload());
    } else this.bar = null;
  }

  private rate(): number {
    const s = (this.now() - this.start) / 1000;
    return s > 0 ? Math.round(this.done / s) : 0;
  }

  private left(): string {
    const el = this.now() - this.start;
    let ms: number;
    if (this.timeMs !== null) ms = Math.max(0, this.timeMs - el);
    // Extrapolated from the rate so far, once there is one: the first schedules of a campaign
    // include the JIT's warm-up (the first one alone would promise minutes for seconds' work).
    else if (this.total && this.done > 0 && el >= MIN_RATE_MS)
      ms = (el / this.done) * (this.total - this.done);
    else return "?";
    const sec = Math.ceil(ms / 1000);
    if (sec >= 600) return `${Math.round(sec / 60)}m`;
    return sec >= 60 ? `${Math.floor(sec / 60)}m${sec % 60}s` : `${sec}s`;
  }

  private payload() {
    return { rate: this.rate(), failing: this.failing, left: this.left() };
  }

  tick(schedules: number, failing: number): void {
    this.done += schedules;
    this.failing += failing;
    if (this.bar) {
      const value = this.total === null ? Math.round((this.now() - this.start) / 1000) : this.done;
      this.bar.update(value, this.payload());
      if (this.total === null)
        this.bar.setTotal(Math.max(value, Math.round((this.timeMs ?? 0) / 1000)));
      return;
    }
    const t = this.now();
    if (t - this.lastLine >= 2000) {
      this.lastLine = t;
      const of = this.total === null ? "" : `/${this.total}`;
      this.sink.write(
        `stress: ${this.done}${of} schedules, ${this.rate()}/s, ${this.failing} failing, ${this.left()} left\n`,
      );
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}
