/**
 * The syncobj-submit scenario (SYNCOBJ_TRANSFER with WAIT_FOR_SUBMIT racing the signal and the
 * destroy of its source) through the CLI and the campaign runner: clean with every toggle off,
 * reaching each outcome it accepts (a transfer that got its fence, one that slept until the
 * 5 s submit timeout, one whose source handle was gone), and finding
 * `gem.syncobj-find-fence-early-put` where `bugs` looks for it, within its budget.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CampaignReport } from "./campaign/report.js";
import { runSchedule } from "./campaign/schedule.js";
import { type Io, main } from "./cli.js";
import { configFromFlags } from "./commands.js";
import { CAMPAIGN_TOGGLE_UNITS } from "./toggles.js";

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const io: Io = { log: (t) => out.push(t), error: (t) => out.push(t), color: false };
  const code = await main(argv, io);
  return { code, out: out.join("\n") };
}

const dir = mkdtempSync(join(tmpdir(), "primetime-syncobj-submit-"));
const report = (f: string) => JSON.parse(readFileSync(f, "utf8")) as CampaignReport;

describe("syncobj-submit", () => {
  it("is clean with every toggle off (portfolio, 300 schedules), on no driver of the harness", async () => {
    const json = join(dir, "clean.json");
    const r = await cli(
      ["run", "--scenario", "syncobj-submit", "--seeds", "300", "--workers", "1"].concat([
        "--quiet",
        "--json",
        json,
      ]),
    );
    expect(r.code, r.out).toBe(0);
    expect(report(json).units.map((u) => u.unit)).toEqual(["syncobj-submit"]);
  }, 300_000);

  it("reaches every outcome: fences handed to sleeping waiters, submit timeouts, gone handles", async () => {
    const config = configFromFlags({ scenario: "syncobj-submit", strategy: "pct:3", seeds: 1 });
    const seen = { handed: 0, timedOut: 0, gone: 0 };
    for (let i = 0; i < 150; i++) {
      const { run } = await runSchedule(config, "syncobj-submit", i);
      expect(run.splats, `schedule ${i}`).toEqual([]);
      const steps = run.trace.steps();
      const waiters = new Set(steps.filter((s) => /:waiter\d$/.test(s.task)).map((s) => s.task));
      const slept = steps.some(
        (s) => waiters.has(s.task) && s.label === "drm_syncobj_array_wait_timeout",
      );
      // Only a submission wakes a sleeping waiter before the virtual clock reaches its 5 s
      // WAIT_FOR_SUBMIT timeout (the clock moves only when every task sleeps).
      if (slept && run.time < 5_000_000_000) seen.handed++;
      if (run.time >= 5_000_000_000) seen.timedOut++;
      // A transfer looks up its timeline, then its source: one idr_find() without the
      // kref_get() of drm_syncobj_find() is a source handle already destroyed (-ENOENT).
      for (const w of waiters) {
        const mine = steps.filter((s) => s.task === w);
        const finds = mine.filter((s) => s.label === "idr_find(syncobj_idr)").length;
        const gets = mine.filter((s) => /^kref_get\(drm_syncobj#\d+\)$/.test(s.label)).length;
        if (finds === 2 && gets === 1) seen.gone++;
      }
    }
    expect(seen.handed).toBeGreaterThan(0);
    expect(seen.timedOut).toBeGreaterThan(0);
    expect(seen.gone).toBeGreaterThan(0);
  }, 120_000);

  it("finds gem.syncobj-find-fence-early-put where bugs looks for it, within its budget (KASAN)", async () => {
    const tc = CAMPAIGN_TOGGLE_UNITS["gem.syncobj-find-fence-early-put"]!;
    expect(tc.case).toBe("syncobj-submit");
    const json = join(dir, "toggle.json");
    const r = await cli(
      ["run", "--scenario", "syncobj-submit", "--strategy", "pct:3"].concat([
        "--bug",
        "gem.syncobj-find-fence-early-put",
        "--seeds",
        String(tc.schedules),
        "--fail-fast",
        "--workers",
        "1",
        "--quiet",
        "--json",
        json,
      ]),
    );
    expect(r.code, r.out).toBe(1);
    const f = report(json).findings[0]!;
    expect(f.unit).toBe("syncobj-submit");
    expect(f.signature).toMatch(/KASAN: slab-use-after-free in spin_lock/);
    expect(f.firstSplat).toMatch(/Access to drm_syncobj#\d+ by task vk:waiter\d/);
    expect(f.index).toBeLessThanOrEqual(tc.schedules);
  }, 120_000);
});
