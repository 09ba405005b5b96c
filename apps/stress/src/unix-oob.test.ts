/**
 * The unix-oob scenario (MSG_OOB on unix stream sockets carrying dma-buf fds, 6.18.35's
 * af_unix.c) through the CLI and the campaign runner: clean on every ordered driver pair with
 * every toggle off, doing what it says (urgent bytes queued and taken, one dropped by a read past
 * its mark), and finding `unix.oob-consecutive-consumed` (KASAN) and `unix.oob-consumed-econnreset`
 * (the client's end of file) within their budgets.
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
import type { RunResult } from "./engine.js";
import { CAMPAIGN_TOGGLE_UNITS } from "./toggles.js";

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const io: Io = { log: (t) => out.push(t), error: (t) => out.push(t), color: false };
  const code = await main(argv, io);
  return { code, out: out.join("\n") };
}

const dir = mkdtempSync(join(tmpdir(), "primetime-unix-oob-"));
const report = (f: string) => JSON.parse(readFileSync(f, "utf8")) as CampaignReport;
const names = installedDrivers().map((d) => d.name);
const pairs = names.flatMap((a) => names.map((b) => `${a}+${b}`));

/** How many steps of a run have a label starting with `label(` (the object's name follows). */
const count = (r: RunResult, label: string) =>
  r.trace.steps().filter((s) => s.label.startsWith(`${label}(`)).length;

describe("unix-oob", () => {
  it("is clean with every toggle off on every ordered driver pair (portfolio, 20 schedules each)", async () => {
    const json = join(dir, "clean.json");
    const r = await cli(
      ["run", "--scenario", "unix-oob", "--seeds", "20", "--workers", "1", "--quiet"].concat([
        "--json",
        json,
      ]),
    );
    expect(r.code, r.out).toBe(0);
    const rep = report(json);
    expect(rep.units.map((u) => u.unit)).toEqual(pairs.map((p) => `unix-oob@${p}`));
  }, 300_000);

  it("queues urgent bytes, takes them with recv(MSG_OOB) and drops the one read past", async () => {
    const config = configFromFlags({
      scenario: "unix-oob",
      drivers: "vgem",
      strategy: "pct:3",
      seeds: 1,
    });
    const clients = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const { run } = await runSchedule(config, "unix-oob@vgem+vgem", i);
      expect(run.splats, `schedule ${i}`).toEqual([]);
      const oobs = count(run, "WRITE_ONCE(ousk->oob_skb)");
      // Four urgent bytes per client: two pings, the announcement, the goodbye; three taken
      // (u->oob_skb read under the locks) and one dropped by manage_oob().
      expect(oobs % 4, `schedule ${i}`).toBe(0);
      expect(count(run, "u->oob_skb"), `schedule ${i}`).toBe((oobs / 4) * 4);
      expect(count(run, "manage_oob"), `schedule ${i}`).toBeGreaterThanOrEqual(oobs / 4);
      clients.add(oobs / 4);
    }
    expect([...clients].sort()).toEqual([1, 2]);
  }, 120_000);

  it.each([
    ["unix.oob-consecutive-consumed", /KASAN: slab-use-after-free in unix_stream_read_actor/],
    ["unix.oob-consumed-econnreset", /not end of file/],
  ])(
    "finds %s within its budget",
    async (toggle, signature) => {
      const tc = CAMPAIGN_TOGGLE_UNITS[toggle]!;
      expect(tc).toMatchObject({ case: "unix-oob@vgem+vgem" });
      const json = join(dir, `${toggle}.json`);
      const r = await cli(
        ["run", "--scenario", "unix-oob", "--drivers", "vgem", "--bug", toggle].concat([
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
      expect(f.unit).toBe("unix-oob@vgem+vgem");
      expect(f.signature).toMatch(signature);
      expect(f.index).toBe(0);
      // The same schedules with the toggle off (v6.18.35's code): clean.
      const clean = await cli(
        [
          "run",
          "--scenario",
          "unix-oob",
          "--drivers",
          "vgem",
          "--seeds",
          String(tc.schedules),
        ].concat(["--workers", "1", "--quiet"]),
      );
      expect(clean.code, clean.out).toBe(0);
    },
    120_000,
  );
});
