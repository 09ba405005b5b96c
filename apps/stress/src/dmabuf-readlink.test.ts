/**
 * The dmabuf-readlink scenario (readlink(2) of a shared dma-buf's /proc/<pid>/fd entries racing
 * its closes) through the CLI and the campaign runner: clean on every ordered driver pair with
 * every toggle off, doing what it says (readlinks that name the dma-buf, some that find the fd
 * closed, the dma-buf freed by a reader's path_put()), and finding `dma-buf.release-in-fops`
 * where `bugs` looks for it, within its budget.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CampaignReport } from "./campaign/report.js";
import { runSchedule } from "./campaign/schedule.js";
import { type Io, main } from "./cli.js";
import { configFromFlags } from "./commands.js";
import { installedDrivers } from "./drivers.js";
import { CAMPAIGN_TOGGLE_UNITS } from "./toggles.js";

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const io: Io = { log: (t) => out.push(t), error: (t) => out.push(t), color: false };
  const code = await main(argv, io);
  return { code, out: out.join("\n") };
}

const dir = mkdtempSync(join(tmpdir(), "primetime-dmabuf-readlink-"));
const report = (f: string) => JSON.parse(readFileSync(f, "utf8")) as CampaignReport;
const names = installedDrivers().map((d) => d.name);
const pairs = names.flatMap((a) => names.map((b) => `${a}+${b}`));

describe("dmabuf-readlink", () => {
  it("is clean with every toggle off on every ordered driver pair (portfolio, 300 schedules each)", async () => {
    const json = join(dir, "clean.json");
    const r = await cli(
      ["run", "--scenario", "dmabuf-readlink", "--seeds", "300", "--workers", "1"].concat([
        "--quiet",
        "--json",
        json,
      ]),
    );
    expect(r.code, r.out).toBe(0);
    const rep = report(json);
    expect(rep.units.map((u) => u.unit)).toEqual(pairs.map((p) => `dmabuf-readlink@${p}`));
  }, 300_000);

  it("readlinks name the dma-buf or find its fd closed, and a reader's path_put() can free it", async () => {
    const config = configFromFlags({
      scenario: "dmabuf-readlink",
      drivers: "vgem",
      strategy: "pct:3",
      seeds: 1,
    });
    const seen = { named: 0, releasedByReader: 0, exits: 0 };
    for (let i = 0; i < 200; i++) {
      const { run } = await runSchedule(config, "dmabuf-readlink@vgem+vgem", i);
      expect(run.splats, `schedule ${i}`).toEqual([]);
      const steps = run.trace.steps();
      seen.named += steps.filter((s) => s.label.startsWith("spin_lock(dmabuf_name_lock)")).length;
      // dma_buf_release() in a reader thread: its path_put() dropped the dentry's last reference.
      seen.releasedByReader += steps.filter(
        (s) => s.label.startsWith("dma_buf_release(") && s.task.endsWith(":reader"),
      ).length;
    }
    expect(seen.named).toBeGreaterThan(0);
    // The window the fix closes is reached: the dentry outlived the file in some runs.
    expect(seen.releasedByReader).toBeGreaterThan(0);
  }, 120_000);

  it("finds dma-buf.release-in-fops where bugs looks for it, within its budget (KASAN)", async () => {
    const tc = CAMPAIGN_TOGGLE_UNITS["dma-buf.release-in-fops"]!;
    expect(tc.case).toBe("dmabuf-readlink@vgem+vgem");
    const json = join(dir, "toggle.json");
    const r = await cli(
      ["run", "--scenario", "dmabuf-readlink", "--drivers", "vgem", "--strategy", "pct:3"].concat([
        "--bug",
        "dma-buf.release-in-fops",
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
    expect(f.unit).toBe("dmabuf-readlink@vgem+vgem");
    expect(f.signature).toMatch(/KASAN: slab-use-after-free in spin_lock/);
    expect(f.firstSplat).toMatch(/Access to dma_buf#\d+ by task [a-z]+:reader/);
    // A campaign under pct:3, base seed 1: the first find at schedule 244 (`hunt`, whose PCT
    // seeds its runs its own way, at 179; `bugs`' portfolio at 39).
    expect(f.index).toBe(244);
    expect(f.index).toBeLessThanOrEqual(tc.schedules);
  }, 120_000);
});
