import { describe, expect, it, vi } from "vitest";
import { CampaignProgress } from "./progress.js";

describe("CampaignProgress on a non-terminal", () => {
  it("prints a line at most every 2 s, and no time left before a second of rate is known", () => {
    const lines: string[] = [];
    let now = 1_000_000;
    const p = new CampaignProgress(
      { isTTY: false, write: (t: string) => lines.push(t.trimEnd()) },
      800,
      null,
      () => now,
    );
    now += 400;
    p.tick(1, 0); // the first schedule, with the warm-up: no 9-minute estimate from it
    now += 1100;
    p.tick(49, 0); // within 2 s of the last line: nothing
    now += 2000;
    p.tick(100, 1);
    expect(lines).toEqual([
      "stress: 1/800 schedules, 3/s, 0 failing, ? left",
      // 149 schedules in the 3.1 s since the first: 650 more take 13.5 s.
      "stress: 150/800 schedules, 43/s, 1 failing, 14s left",
    ]);
  });

  it("no time left from a slow start: the rate is measured from the first schedules on", () => {
    // Two threads: 2.2 s of start-up and calibration before the first schedule is counted (the
    // first line of a default `run` promised "754m left" for a 22-second campaign).
    const lines: string[] = [];
    let now = 1_000_000;
    const p = new CampaignProgress(
      { isTTY: false, write: (t: string) => lines.push(t.trimEnd()) },
      20_400,
      null,
      () => now,
    );
    now += 2200;
    p.tick(1, 0);
    now += 2000;
    p.tick(2000, 0);
    expect(lines).toEqual([
      "stress: 1/20400 schedules, 0/s, 0 failing, ? left",
      // 2000 schedules in 2 s since the first: 18,399 more take 18.4 s.
      "stress: 2001/20400 schedules, 476/s, 0 failing, 19s left",
    ]);
  });

  it("a line every 2 s while no schedule is counted yet (the calibrations before them)", () => {
    vi.useFakeTimers();
    try {
      const lines: string[] = [];
      let now = 1_000_000;
      const p = new CampaignProgress(
        { isTTY: false, write: (t: string) => lines.push(t.trimEnd()) },
        20_400,
        null,
        () => now,
      );
      now += 1500;
      vi.advanceTimersByTime(1500);
      expect(lines).toEqual([]);
      now += 600;
      vi.advanceTimersByTime(600);
      expect(lines).toEqual(["stress: 0/20400 schedules, 0/s, 0 failing, ? left"]);
      now += 2000;
      vi.advanceTimersByTime(2000);
      expect(lines).toHaveLength(2);
      // After stop(), nothing more.
      p.stop();
      now += 10_000;
      vi.advanceTimersByTime(10_000);
      expect(lines).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("counts a --time campaign's budget down", () => {
    const lines: string[] = [];
    let now = 1_000_000;
    const p = new CampaignProgress(
      { isTTY: false, write: (t: string) => lines.push(t.trimEnd()) },
      null,
      90_000,
      () => now,
    );
    now += 3000;
    p.tick(10, 0);
    expect(lines).toEqual(["stress: 10 schedules, 3/s, 0 failing, 1m27s left"]);
  });
});
