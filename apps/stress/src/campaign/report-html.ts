/**
 * The HTML page of a campaign report: one self-contained file (inline CSS and SVG, no script, no
 * font or image from the network), so it can be opened from a CI artifact as is. Per-scenario
 * figures, then each finding: the splat, the race table, a timeline of the involved tasks' steps
 * (one lane per task) with the reference counts of the objects involved over the same steps,
 * and the replay command.
 *
 * The reference counts are those the trace implies: a `kref_init`/creation counts 1, each
 * `kref_get`, `kref_get_unless_zero` or `refcount_inc` of the object +1, each `kref_put` or
 * `refcount_dec*` -1, from the object's first appearance in the trace.
 */
import { writeFileSync } from "node:fs";
import { type RunResult, raceTable, type TraceStep } from "../engine.js";
import type { CampaignReport, FindingReport } from "./report.js";
import { replayFinding } from "./report.js";
import { parseUnitKey } from "./units.js";

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/**
 * Steps shown in a continuous timeline at most: the steps of the involved tasks from the race
 * table's first row to the first splat. A longer race shows the race table's rows instead (the
 * task switches and the steps leading to the splat), with the gaps between them marked.
 */
const MAX_STEPS = 100;
/** Objects plotted at most. */
const MAX_OBJECTS = 4;

export interface Timeline {
  readonly steps: readonly TraceStep[];
  readonly tasks: readonly string[];
  /** Step number of the first splat (or the last step). */
  readonly splatStep: number;
  /** The shown step the first splat is marked on (its task's latest step at or before it). */
  readonly splatRow: number | null;
  /** Whether steps are left out between shown steps (the race table's rows of a long race). */
  readonly gaps: boolean;
  /** Per object: the count after each shown step (null before it appears). */
  readonly counts: readonly { object: string; values: (number | null)[] }[];
}

const GET =
  /^(kref_get|kref_get_unless_zero|refcount_inc|refcount_inc_not_zero|dma_buf_get|get_file|drm_gem_object_get)\((.+)\)$/;
const PUT =
  /^(kref_put|kref_put_mutex|kref_put_lock|refcount_dec|refcount_dec_and_test|dma_buf_put|fput|drm_gem_object_put)\((.+)\)$/;
const INIT = /^(kref_init)\((.+)\)$/;
const refOp = (label: string) => GET.exec(label) ?? PUT.exec(label) ?? INIT.exec(label);

/**
 * The timeline of a replayed finding: the steps of the race its race table shows (the same rows,
 * `raceTable()` of the engine without the harness's tasks), and the reference counts of the
 * objects involved: the splat's objects, then those the race's rows get or put, then (a long
 * race shows only its table's rows, which may hold no get or put) those its steps between the
 * rows get or put, each group busiest first, MAX_OBJECTS in all.
 */
export function timelineOf(r: RunResult, hide: readonly string[] = []): Timeline {
  const trace = r.trace;
  const splat = r.splats[0];
  const first = splat?.step ?? trace.length;
  const end = Math.max(1, Math.min(trace.length, first));
  const all: TraceStep[] = [];
  for (let i = 1; i <= trace.length; i++) all.push(trace.at(i));
  const visible = (s: TraceStep) => s.step <= end && !hide.includes(s.task);
  const rows = raceTable(r, { hide, caption: false }).rows.filter(visible);
  const from = rows[0]?.step ?? Math.max(1, end - MAX_STEPS + 1);
  const span = all.filter((s) => s.step >= from && visible(s));
  const gaps = span.length > MAX_STEPS;
  const shown = gaps ? rows : span;
  const firstShown = shown[0]?.step ?? 1;
  // The splat's row, as the race table marks it: its task's latest shown step at or before it.
  let splatRow: number | null = null;
  if (splat)
    for (const s of shown)
      if (s.step <= splat.step && (splat.taskId === null || s.taskId === splat.taskId))
        splatRow = s.step;
  const objectsOfInterest = new Set<string>();
  for (const sp of r.splats) if (sp.object) objectsOfInterest.add(sp.object);
  const byFrequency = (steps: readonly TraceStep[]) => {
    const seen = new Map<string, number>();
    for (const s of steps) {
      const m = refOp(s.label);
      if (m) seen.set(m[2]!, (seen.get(m[2]!) ?? 0) + 1);
    }
    return [...seen].sort((a, b) => b[1] - a[1]).map(([o]) => o);
  };
  for (const o of [...byFrequency(rows), ...byFrequency(shown), ...byFrequency(span)]) {
    if (objectsOfInterest.size >= MAX_OBJECTS) break;
    objectsOfInterest.add(o);
  }
  const counts = new Map<string, number>();
  const series = new Map<string, (number | null)[]>();
  for (const o of objectsOfInterest) series.set(o, []);
  const isShown = new Set(shown.map((s) => s.step));
  // Counts from the start of the run, so the first shown value is right.
  for (const s of all) {
    if (s.step > end) break;
    const init = INIT.exec(s.label);
    const get = GET.exec(s.label);
    const put = PUT.exec(s.label);
    if (init) counts.set(init[2]!, 1);
    else if (get) counts.set(get[2]!, (counts.get(get[2]!) ?? 1) + 1);
    else if (put) counts.set(put[2]!, (counts.get(put[2]!) ?? 1) - 1);
    if (s.step >= firstShown && isShown.has(s.step))
      for (const [o, v] of series) v.push(counts.has(o) ? counts.get(o)! : null);
  }
  const tasks = [...new Set(shown.map((s) => s.task))];
  return {
    steps: shown,
    tasks,
    splatStep: first,
    splatRow,
    gaps,
    counts: [...series].map(([object, values]) => ({ object, values })),
  };
}

function timelineSvg(t: Timeline): string {
  const colW = 12;
  const laneH = 22;
  const left = 170;
  const n = t.steps.length;
  const w = left + n * colW + 20;
  const lanesH = t.tasks.length * laneH;
  const chartH = t.counts.length ? 120 : 0;
  const h = lanesH + chartH + 40;
  const out: string[] = [
    `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="timeline">`,
  ];
  t.tasks.forEach((task, i) => {
    const y = 10 + i * laneH;
    out.push(`<text x="4" y="${y + 14}" class="lane">${esc(task.slice(0, 26))}</text>`);
    out.push(`<line x1="${left}" y1="${y + 10}" x2="${w - 10}" y2="${y + 10}" class="lane-line"/>`);
  });
  if (t.gaps)
    t.steps.forEach((s, j) => {
      if (j === 0 || s.step === t.steps[j - 1]!.step + 1) return;
      const x = left + j * colW - 1;
      out.push(
        `<line x1="${x}" y1="6" x2="${x}" y2="${lanesH + 8}" class="gap"><title>steps ${t.steps[j - 1]!.step + 1}-${s.step - 1} left out</title></line>`,
      );
    });
  t.steps.forEach((s, j) => {
    const lane = t.tasks.indexOf(s.task);
    const x = left + j * colW;
    const y = 10 + lane * laneH;
    const cls = s.step === t.splatRow ? "step splat" : "step";
    out.push(
      `<rect x="${x}" y="${y + 3}" width="${colW - 2}" height="14" class="${cls}"><title>step ${s.step} ${esc(s.task)}: ${esc(s.label)}</title></rect>`,
    );
  });
  if (t.counts.length) {
    const top = lanesH + 24;
    const max = Math.max(1, ...t.counts.flatMap((c) => c.values.map((v) => v ?? 0)));
    const min = Math.min(0, ...t.counts.flatMap((c) => c.values.map((v) => v ?? 0)));
    const yOf = (v: number) => top + 90 - ((v - min) / (max - min || 1)) * 90;
    out.push(`<line x1="${left}" y1="${yOf(0)}" x2="${w - 10}" y2="${yOf(0)}" class="zero"/>`);
    out.push(`<text x="4" y="${top + 10}" class="lane">references (max ${max})</text>`);
    t.counts.forEach((c, k) => {
      const pts: string[] = [];
      c.values.forEach((v, j) => {
        if (v !== null) pts.push(`${left + j * colW + colW / 2},${yOf(v).toFixed(1)}`);
      });
      if (pts.length)
        out.push(
          `<polyline points="${pts.join(" ")}" class="count c${k}"><title>${esc(c.object)}</title></polyline>`,
        );
      out.push(
        `<text x="4" y="${top + 28 + k * 16}" class="legend c${k}">${esc(c.object.slice(0, 26))}</text>`,
      );
    });
  }
  out.push("</svg>");
  return out.join("");
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
h3{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f6f8fa}pre{background:#f6f8fa;padding:8px;overflow:auto;font:12px/1.35 ui-monospace,monospace;max-height:420px}
.bad{color:#b42318;font-weight:600}.good{color:#1a7f37;font-weight:600}.meta{color:#57606a}
.finding{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;margin:14px 0}
.bar{display:inline-block;height:10px;background:#0969da;vertical-align:middle}
.timeline{display:block;max-width:100%;overflow:visible}.lane{font:11px ui-monospace,monospace;fill:#1b1f24}
.lane-line{stroke:#d0d7de}.gap{stroke:#8c959f;stroke-dasharray:2 2}.step{fill:#0969da}.step.splat{fill:#b42318}.zero{stroke:#8c959f;stroke-dasharray:3 3}
.count{fill:none;stroke-width:2}.legend{font:11px ui-monospace,monospace;stroke:none}
.c0{stroke:#b42318;fill:#b42318}.c1{stroke:#1a7f37;fill:#1a7f37}.c2{stroke:#8250df;fill:#8250df}.c3{stroke:#bc4c00;fill:#bc4c00}
polyline.count{fill:none}code{font:12px ui-monospace,monospace;background:#f6f8fa;padding:1px 4px;word-break:break-all}
`;

async function findingSection(f: FindingReport): Promise<string> {
  const u = parseUnitKey(f.unit);
  const r = await replayFinding(f.unit, f.minimized?.token ?? f.token);
  const t = timelineOf(r, u.scenario.harnessTasks ?? []);
  return `<section class="finding" id="${esc(f.id)}" data-finding="${esc(f.id)}">
<h3><span class="bad">${esc(f.id)}</span> ${esc(f.unit)}: ${esc(f.signature)}</h3>
<p class="meta">schedule ${f.index} (seed ${f.seed}), ${esc(f.strategy)}, ${f.schedules} failing schedule${f.schedules === 1 ? "" : "s"} with this signature; outcome ${esc(f.outcome)}</p>
<h4>Splat</h4><pre>${esc(f.firstSplat)}</pre>
<h4>Race table${f.minimized ? ` (minimized, ${f.minimized.rows} rows)` : ""}</h4><pre>${esc(f.minimized?.raceTable ?? f.raceTable)}</pre>
<h4>Timeline</h4><p class="meta">${t.gaps ? `The race table's ${t.steps.length} steps (dashed lines: steps left out)` : `The ${t.steps.length} steps from the race table's first row`} up to the first splat (step ${t.splatStep}, in red), one lane per task; below, the reference counts of the objects involved as the trace's get/put operations imply them. Hover a step for its label.</p>
${timelineSvg(t)}
<h4>Replay</h4><pre>${f.minimized ? `${esc(f.replay.replace(f.token, f.minimized.token))}   # minimized\n` : ""}${esc(f.replay)}${f.minimized ? "   # as found" : ""}</pre>
</section>`;
}

export async function renderHtml(report: CampaignReport): Promise<string> {
  const c = report.config;
  const byScenario = new Map<string, typeof report.units>();
  for (const u of report.units)
    byScenario.set(u.scenario, [...(byScenario.get(u.scenario) ?? []), u]);
  const maxSched = Math.max(1, ...report.units.map((u) => u.schedules));
  const scenarioRows = [...byScenario]
    .map(([name, units]) =>
      units
        .map(
          (u, i) =>
            `<tr>${i === 0 ? `<td rowspan="${units.length}">${esc(name)}</td>` : ""}<td>${esc(u.drivers.join("+") || "-")}</td><td>${esc(u.expect)}</td><td>${u.schedules}${u.complete ? " (complete)" : ""} <span class="bar" style="width:${Math.round((u.schedules / maxSched) * 120)}px"></span></td><td>${u.failingSchedules}</td><td class="${u.findings ? "bad" : "good"}">${u.findings}</td><td>${u.steps.mean}</td><td>${u.steps.min}..${u.steps.max}</td></tr>`,
        )
        .join(""),
    )
    .join("");
  const findings: string[] = [];
  for (const f of report.findings) findings.push(await findingSection(f));
  const t = report.totals;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>primetime-stress report: ${t.findings} finding${t.findings === 1 ? "" : "s"}</title>
<style>${CSS}</style></head><body>
<h1>primetime-stress campaign</h1>
<p class="meta">strategy ${esc(String(c.strategy))}, ${c.seeds !== null ? `${esc(String(c.seeds))} seeds per unit` : `${esc(String(c.timeMs))} ms`}, base seed ${esc(String(c.seed))}${(c.bugs as string[]).length ? `, toggles on: ${esc((c.bugs as string[]).join(", "))}` : ""}${c.faults ? `, faults ${esc(String(c.faults))}` : ""}${c.shard ? `, shard ${esc(String(c.shard))}` : ""}; drivers ${esc((c.drivers as string[]).join(", "))}</p>
<p id="totals">${t.schedules} schedules on ${t.units} units, ${t.failingSchedules} failing: <span class="${t.findings ? "bad" : "good"}">${t.findings} finding${t.findings === 1 ? "" : "s"}</span> (${report.timing.schedulesPerSecond} schedules/s on ${report.timing.workers} worker${report.timing.workers === 1 ? "" : "s"})</p>
<h2>Scenarios</h2>
<table id="units"><thead><tr><th>scenario</th><th>drivers</th><th>expect</th><th>schedules</th><th>failing</th><th>findings</th><th>mean steps</th><th>steps</th></tr></thead><tbody>${scenarioRows}</tbody></table>
<h2>Findings</h2>
${findings.length ? findings.join("\n") : '<p class="good" id="no-findings">Nothing found.</p>'}
<p class="meta">Report schema ${esc(report.schema)} v${report.version}.</p>
</body></html>
`;
}

export async function writeHtmlReport(report: CampaignReport, file: string): Promise<void> {
  writeFileSync(file, await renderHtml(report));
}
