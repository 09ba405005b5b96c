import { describe, expect, it } from "vitest";
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
      "stress: 150/800 schedules, 43/s, 1 failing, 16s left",
    ]);
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
