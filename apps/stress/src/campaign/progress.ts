/**
 * Campaign progress on stderr: a cli-progress bar when stderr is a terminal (schedules done,
 * schedules/s, failing schedules, time left), otherwise a plain line at most every 2 s, so a CI
 * log is never silent for long. Driven by the schedules' ticks (with one worker the schedules
 * run on this thread, which runs no timer meanwhile), and on a non-terminal also by a timer,
 * for the start-up of a campaign on worker threads: every unit is calibrated before the first
 * schedule is counted, seconds in which this thread yields between units.
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
  /** When the first schedules were counted, and how many: the rate is measured from there. */
  private first: { at: number; done: number } | null = null;
  private readonly start: number;
  private readonly bar: cliProgress.SingleBar | null;
  /** A non-terminal's line when no schedule was counted for 2 s (see the file comment). */
  private readonly timer: ReturnType<typeof setInterval> | null = null;

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
    } else {
      this.bar = null;
      this.timer = setInterval(() => {
        if (this.now() - Math.max(this.lastLine, this.start) >= 2000) this.line();
      }, 500);
      this.timer.unref?.();
    }
  }

  private rate(): number {
    const s = (this.now() - this.start) / 1000;
    return s > 0 ? Math.round(this.done / s) : 0;
  }

  private left(): string {
    const el = this.now() - this.start;
    let ms: number;
    if (this.timeMs !== null) ms = Math.max(0, this.timeMs - el);
    // Extrapolated from the rate since the first schedules were counted, once it has been
    // measured for a second: the time before them is start-up (threads, calibration, the JIT's
    // warm-up), and the first ones alone would promise minutes, even hours, for seconds' work.
    else if (
      this.total &&
      this.first &&
      this.done > this.first.done &&
      this.now() - this.first.at >= MIN_RATE_MS
    )
      ms =
        ((this.now() - this.first.at) / (this.done - this.first.done)) * (this.total - this.done);
    else return "?";
    const sec = Math.ceil(ms / 1000);
    if (sec >= 600) return `${Math.round(sec / 60)}m`;
    return sec >= 60 ? `${Math.floor(sec / 60)}m${sec % 60}s` : `${sec}s`;
  }

  private payload() {
    return { rate: this.rate(), failing: this.failing, left: this.left() };
  }

  tick(schedules: number, failing: number): void {
    this.first ??= { at: this.now(), done: this.done + schedules };
    this.done += schedules;
    this.failing += failing;
    if (this.bar) {
      const value = this.total === null ? Math.round((this.now() - this.start) / 1000) : this.done;
      this.bar.update(value, this.payload());
      if (this.total === null)
        this.bar.setTotal(Math.max(value, Math.round((this.timeMs ?? 0) / 1000)));
      return;
    }
    if (this.now() - this.lastLine >= 2000) this.line();
  }

  /** The plain line of a non-terminal. */
  private line(): void {
    this.lastLine = this.now();
    const of = this.total === null ? "" : `/${this.total}`;
    this.sink.write(
      `stress: ${this.done}${of} schedules, ${this.rate()}/s, ${this.failing} failing, ${this.left()} left\n`,
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.bar?.stop();
  }
}
