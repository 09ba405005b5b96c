/**
 * The summary table of a campaign: one row per scenario and driver combination, drawn by
 * cli-table3 (column widths, wrapping and borders that survive any terminal).
 */
import Table from "cli-table3";
import type { Colors } from "../format.js";
import type { CampaignReport } from "./report.js";

/** A plain table (no colours in the borders; cells may carry their own). */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const t = new Table({
    head: [...head],
    style: { head: [], border: [] },
    // One line per row: no separator between rows.
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
  for (const r of rows) t.push([...r]);
  return t.toString();
}

export function formatSummaryTable(r: CampaignReport, c: Colors): string {
  return table(
    ["scenario", "drivers", "expect", "schedules", "failing", "findings", "mean steps"],
    r.units.map((u) => [
      u.scenario,
      u.drivers.join("+") || "-",
      u.expect,
      String(u.schedules) + (u.complete ? " (complete)" : ""),
      u.failingSchedules ? c.red(String(u.failingSchedules)) : "0",
      u.findings ? c.red(String(u.findings)) : c.green("0"),
      String(u.steps.mean),
    ]),
  );
}
