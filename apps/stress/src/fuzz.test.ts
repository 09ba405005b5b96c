/**
 * The fuzz scenario (@primetime/fuzz's workload) through the CLI: clean on every ordered driver
 * pair with every toggle off, its workload size drawn from the seed (and replayed by the token).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { injectedFailures } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import type { CampaignConfig } from "./campaign/config.js";
import type { CampaignReport } from "./campaign/report.js";
import { runSchedule } from "./campaign/schedule.js";
import { type Io, main } from "./cli.js";
import { installedDrivers } from "./drivers.js";
import { baselineFixes, replay, Simulation } from "./engine.js";
import { FUZZ } from "./scenarios/sharing/fuzz.js";

describe("fuzz", () => {
  it("is clean on every ordered driver pair", async () => {
    const dir = mkdtempSync(join(tmpdir(), "primetime-fuzz-"));
    const json = join(dir, "run.json");
    const out: string[] = [];
    const io: Io = { log: (t) => out.push(t), error: () => {}, color: false };
    const code = await main(
      ["run", "--scenario", "fuzz", "--seeds", "4", "--workers", "1", "--quiet", "--json", json],
      io,
    );
    expect(code, out.join("\n")).toBe(0);
    const rep = JSON.parse(readFileSync(json, "utf8")) as CampaignReport;
    const names = installedDrivers().map((d) => d.name);
    expect(rep.units.map((u) => u.unit)).toEqual(
      names.flatMap((a) => names.map((b) => `fuzz@${a}+${b}`)),
    );
    for (const u of rep.units) {
      expect(u.schedules).toBe(4);
      expect(u.steps.min).toBeGreaterThan(300);
    }
    // The known windows' fix switches are on in a clean campaign.
    expect((rep.config.fixes as string[]).length).toBeGreaterThan(0);
  }, 300_000);

  it("fuzz-fd-reuse (its swarm plan) is clean on every driver, also under POS", async () => {
    const names = installedDrivers().map((d) => d.name);
    for (const strategy of ["portfolio", "pos"]) {
      const dir = mkdtempSync(join(tmpdir(), "primetime-fuzz-fd-"));
      const json = join(dir, "run.json");
      const out: string[] = [];
      const io: Io = { log: (t) => out.push(t), error: () => {}, color: false };
      const code = await main(
        [
          "run",
          "--scenario",
          "fuzz-fd-reuse",
          "--strategy",
          strategy,
          "--seeds",
          "10",
          "--workers",
          "1",
          "--quiet",
          "--json",
          json,
        ],
        io,
      );
      expect(code, out.join("\n")).toBe(0);
      const rep = JSON.parse(readFileSync(json, "utf8")) as CampaignReport;
      expect(rep.units.map((u) => u.unit)).toEqual(names.map((d) => `fuzz-fd-reuse@${d}`));
      for (const u of rep.units) expect(u.steps.min).toBeGreaterThan(300);
    }
  }, 120_000);

  it("runs under --faults: failed allocations are legitimate, leaks still are not", async () => {
    const out: string[] = [];
    const io: Io = { log: (t) => out.push(t), error: (t) => out.push(t), color: false };
    const code = await main(
      [
        "run",
        "--scenario",
        "fuzz",
        "--drivers",
        "vgem",
        "--faults",
        "p:0.05",
        "--seeds",
        "30",
        "--workers",
        "1",
        "--quiet",
      ],
      io,
    );
    expect(code, out.join("\n")).toBe(0);
    // The same scenario with allocations failing: clean, and allocations did fail.
    const [vgem] = installedDrivers().filter((d) => d.name === "vgem");
    const scenario = FUZZ.build([vgem!, vgem!], { faults: { kind: "probability", p: 0.05 } });
    let injected = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const run = await new Simulation({ seed, toggles: baselineFixes() }).run(async (sim) => {
        await scenario(sim);
        injected += injectedFailures().length;
      });
      expect(run.splats).toEqual([]);
      expect(run.outcome).toBe("ok");
    }
    expect(injected).toBeGreaterThan(0);
  }, 120_000);

  it("draws its workload size from the seed, and the token replays it", async () => {
    const config: CampaignConfig = {
      scenarios: ["fuzz"],
      drivers: ["vgem"],
      strategy: { strategy: "random" },
      seeds: 8,
      timeMs: null,
      seed: 1,
      bugs: [],
      fixes: baselineFixes(),
      faults: null,
      shard: null,
      failFast: false,
      stepLimit: 200_000,
    };
    const shapes = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const { run } = await runSchedule(config, "fuzz@vgem+vgem", i);
      expect(run.splats).toEqual([]);
      // Its processes and their threads: the tasks of the run other than the harness's.
      const tasks = new Set(run.trace.steps().map((s) => s.taskId));
      shapes.add(String(tasks.size));
      if (i === 0) {
        const [vgem] = installedDrivers().filter((d) => d.name === "vgem");
        const again = await replay(run.token, FUZZ.build([vgem!, vgem!], { faults: null }), {
          scenario: "fuzz@vgem+vgem",
        });
        expect(again.traceHash).toBe(run.traceHash);
      }
    }
    expect(shapes.size).toBeGreaterThan(1);
  }, 120_000);

  // A soak campaign's false alarm (`run --scenario fuzz,fuzz-fd-reuse --time 5m --strategy
  // portfolio --seed 1800001`: fuzz@qxl+qxl, schedule 4070, seed 936588981; minimized to this
  // token). fuzz1:t2's
  // GEM_CLOSE(0x7fffffff), a number no handle can have until a GEM_CHANGE_HANDLE moves one there,
  // was in flight when its process's main thread, on t2's fd, moved handle 1 to 0x7fffffff; the
  // close then closed it (0), and the model, which had decided "never valid" when the close
  // started, expected -EINVAL. It now decides after the call.
  const CLOSE_VS_CHANGE_TOKEN =
    "pt1.1ZJPSsNAFMbfm_yZKEVxo1aEouBKJmfwAh5imr4kxTRpJ0kTewCvIHgGQTduxQN05cJbeAdJbP60CCm68rf6vvneDPMNY8DL5_JVezTfHnp3z-9Pes9NF4urWR5czvKAn3k0sR1fhh4JX4ajgERIWSUXpKLDWR7YK-8okgmJgOTNabGsSE6FopjUnEQ2TvwoTYST5MdlOA49MU1jX4SRUOT45Nycx5mIb0PHVhSQjEnEYy-UQb1XkXtSjawijxIRheVVBvNJ5rm5PUonQzFNEzEkN1IkAhknIo3pngODH0AAxgCBISL7ntDAAKMBwTT-jo6wxVQnHKAPYCJgabUaBKjkPg7KrppetGEMtDXKimswjp0jwGpgzbR0v9jHAeBIB72mWKz0Ti0PDH2DXdwr044XMAHMLdDaDTbb_BYOvKH8K41pB92ac84ssGrKwxrTDrq1ZVnsX4KI-LG8vvgC";

  it("a GEM_CLOSE of INT_MAX racing a GEM_CHANGE_HANDLE to INT_MAX may close it", async () => {
    const out: string[] = [];
    const io: Io = { log: (t) => out.push(t), error: (t) => out.push(t), color: false };
    const code = await main(["replay", CLOSE_VS_CHANGE_TOKEN], io);
    expect(out.join("\n")).not.toMatch(/fuzz divergence/);
    expect(code, out.join("\n")).toBe(0);
  }, 60_000);
});
