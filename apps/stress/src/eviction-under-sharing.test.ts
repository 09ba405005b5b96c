/**
 * The eviction-under-sharing scenario through the CLI: clean on qxl exporting to every driver,
 * and TTM really evicts (buffers found in system memory after the exporter allocated past VRAM).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CampaignReport } from "./campaign/report.js";
import { type Io, main } from "./cli.js";
import { installedDrivers } from "./drivers.js";
import { evictionStats } from "./scenarios/sharing/eviction-under-sharing.js";

describe("eviction-under-sharing", () => {
  it("keeps shared and evicted buffers' contents and leaks nothing on every qxl pair", async () => {
    const dir = mkdtempSync(join(tmpdir(), "primetime-eviction-"));
    const json = join(dir, "run.json");
    const out: string[] = [];
    const io: Io = { log: (t) => out.push(t), error: () => {}, color: false };
    Object.assign(evictionStats, { evicted: 0, runs: 0 });
    const code = await main(
      ["run", "--scenario", "eviction-under-sharing", "--seeds", "6", "--workers", "1"].concat([
        "--quiet",
        "--json",
        json,
      ]),
      io,
    );
    expect(code, out.join("\n")).toBe(0);
    const rep = JSON.parse(readFileSync(json, "utf8")) as CampaignReport;
    expect(rep.units.map((u) => u.unit)).toEqual(
      installedDrivers().map((d) => `eviction-under-sharing@qxl+${d.name}`),
    );
    // Every run got past VRAM, and TTM moved buffers out of it in most of them.
    expect(evictionStats.runs).toBeGreaterThanOrEqual(rep.units.length * 6);
    expect(evictionStats.evicted).toBeGreaterThan(evictionStats.runs / 2);
  }, 300_000);
});
