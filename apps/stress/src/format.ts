/**
 * Rendering of search results for a terminal: splats as dmesg prints them, the failing
 * interleaving as a race table, replay tokens. Colours come from picocolors and are off when
 * the caller says so (--no-color, NO_COLOR, output not a terminal).
 */
import { formatSplat, type RunResult, type Splat, type TraceStep } from "@primetime/sim";
import pc from "picocolors";
import type { SearchSpec } from "./findings.js";

export type Colors = ReturnType<typeof pc.createColors>;

/** A palette: colours on or off. */
export function palette(enabled: boolean): Colors {
  return pc.createColors(enabled);
}

/** Whether colours are on by default: picocolors' detection (NO_COLOR, FORCE_COLOR, a TTY). */
export const colorByDefault: boolean = pc.isColorSupported;

/** Prefixes every line of `text` with `pad`. */
export function indent(text: string, pad = "  "): string {
  return text
    .split("\n")
    .map((l) => (l.length ? pad + l : l))
    .join("\n");
}

/** "pct (depth 3, seed 1)", "dfs (preemption bound 3)". */
export function describeSpec(spec: SearchSpec): string {
  switch (spec.strategy) {
    case "pct":
      return `pct (depth ${spec.depth}, seed ${spec.seed})`;
    case "random":
      return `random (seed ${spec.seed})`;
    case "dfs":
      return `dfs (preemption bound ${spec.bound})`;
  }
}

/** The first `max` splats of a run as dmesg shows them, the kind line coloured. */
export function formatSplats(splats: readonly Splat[], c: Colors, max = 3): string {
  const shown = splats.slice(0, max).map((s) => {
    const [first, ...rest] = formatSplat(s).split("\n");
    return [c.red(first ?? ""), ...rest.map((l) => c.dim(l))].join("\n");
  });
  if (splats.length > max) shown.push(c.dim(`... and ${splats.length - max} more`));
  return shown.join("\n");
}

export interface RaceWindowOptions {
  /** Steps shown, ending at the first splat (or at the end of the run). Default 20. */
  last?: number;
  /** Column width. Default 30. */
  width?: number;
  /** Show every step of the run. */
  all?: boolean;
  /**
   * Tasks (by name) of the harness, left out: the table then shows the other tasks where they
   * interleave (see formatThreadsWindow). Ignored with `all`.
   */
  hide?: readonly string[];
}

/**
 * The steps leading to the first splat as a race table (one column per task), each step where
 * a splat fired marked with its kinds.
 */
export function formatRaceWindow(r: RunResult, c: Colors, opts: RaceWindowOptions = {}): string {
  const total = r.trace.length;
  if (total === 0) return "(no steps)";
  if (opts.hide?.length && !opts.all) {
    const w = formatThreadsWindow(r, c, opts.hide, opts);
    if (w !== null) return w;
  }
  const first = r.splats[0];
  const to = opts.all || !first ? total : Math.min(Math.max(first.step, 1), total);
  const from = opts.all ? 1 : Math.max(1, to - (opts.last ?? 20) + 1);
  // A row is a scheduling point: the task is about to do what the label says, and does it when
  // it next runs. A splat fires while an operation runs, so it belongs on the row of the
  // splatting task's latest point at or before the splat's step; if other tasks ran in
  // between, the marker says when the operation actually ran.
  const marks = new Map<number, { kinds: string[]; after: number }>();
  for (const s of r.splats) {
    let row = s.step;
    if (s.task !== null) {
      while (row >= from && r.trace.taskAt(row) !== s.taskId) row--;
    }
    if (row < from || row > to) continue;
    const m = marks.get(row) ?? { kinds: [], after: row };
    if (!m.kinds.includes(s.kind)) m.kinds.push(s.kind);
    m.after = Math.max(m.after, s.step);
    marks.set(row, m);
  }
  const lines = r.trace.formatRaceTable({ from, to, width: opts.width ?? 30 }).split("\n");
  // Line 0 is the header, line 1 the rule; step n is on line n - from + 2.
  for (const [row, m] of marks) {
    const when = m.after > row ? ` (it ran after step ${m.after})` : "";
    const i = row - from + 2;
    lines[i] = lines[i]!.padEnd(lines[1]!.length) + c.red(`  <- ${m.kinds.join(", ")}${when}`);
  }
  const what = first && !opts.all ? `, first splat at step ${to}` : "";
  return [
    c.dim(
      `steps ${from}-${to} of ${total}${what}; a row is a task reaching a point, about to do it:`,
    ),
    ...lines,
  ].join("\n");
}

/** Rows kept around a task switch (before, after) and before the end of a threads window. */
const AROUND_SWITCH = { before: 4, after: 6 } as const;
const TAIL_ROWS = 6;
/** Task switches shown at most (the last ones). */
const MAX_SWITCHES = 8;

/** One cell per task of `ids`, the step's label in its task's column. */
function tableRow(ids: readonly number[], r: TraceStep, cell: (s: string) => string): string {
  return ids
    .map((id) => cell(id === r.taskId ? r.label : ""))
    .join(" | ")
    .trimEnd();
}

/**
 * The race table of the tasks involved in a race, for runs where the harness has tasks of its
 * own (a conformance case's `main` boots the kernel and runs the leak check after the race):
 * the hidden tasks' steps are left out, and so are the stretches where one task runs alone.
 *
 * A task switch is a step where another involved task runs while the previous one still has
 * steps to come, and the new one has run before: a preemption, or a task blocking on another
 * (not a task starting or ending). The table keeps a few rows around each of the last
 * MAX_SWITCHES switches and the rows leading to the first splat (or to the end of the run),
 * and replaces each gap with a line counting the steps left out. Splats fired by involved tasks
 * are marked on their rows, as in formatRaceWindow. Without any switch it shows the `last`
 * rows (default 30) before the first splat. Columns are `width` wide (default 32). Returns null
 * when every task is hidden.
 */
export function formatThreadsWindow(
  r: RunResult,
  c: Colors,
  hide: readonly string[],
  opts: RaceWindowOptions = {},
): string | null {
  const hidden = new Set(hide);
  const steps = r.trace.steps().filter((s) => !hidden.has(s.task));
  if (steps.length === 0) return null;
  const firstStep = new Map<number, number>();
  const lastStep = new Map<number, number>();
  for (const s of steps) {
    if (!firstStep.has(s.taskId)) firstStep.set(s.taskId, s.step);
    lastStep.set(s.taskId, s.step);
  }
  // The table ends at the row of the first splat (or the last involved row before it).
  const first = r.splats[0];
  let end = steps.length - 1;
  if (first) {
    while (end > 0 && steps[end]!.step > first.step) end--;
    if (steps[end]!.step > first.step) return null;
  }
  const switches: number[] = [];
  for (let i = 1; i <= end; i++) {
    const prev = steps[i - 1]!;
    const cur = steps[i]!;
    if (prev.taskId === cur.taskId) continue;
    if (lastStep.get(prev.taskId)! > cur.step && firstStep.get(cur.taskId)! < cur.step)
      switches.push(i);
  }
  const keep = new Set<number>();
  const keepRange = (from: number, to: number) => {
    for (let i = Math.max(0, from); i <= Math.min(end, to); i++) keep.add(i);
  };
  const shown = switches.slice(-MAX_SWITCHES);
  if (shown.length === 0) keepRange(end - (opts.last ?? 30) + 1, end);
  else {
    for (const i of shown) keepRange(i - AROUND_SWITCH.before, i + AROUND_SWITCH.after - 1);
    keepRange(end - TAIL_ROWS + 1, end);
  }
  const kept = [...keep].sort((x, y) => x - y);
  const rows = kept.map((i) => steps[i]!);
  const ids = [...new Set(rows.map((x) => x.taskId))];
  const width = opts.width ?? 32;
  const cell = (s: string) => (s.length > width ? `${s.slice(0, width - 1)}…` : s.padEnd(width));
  const lines = [
    ids
      .map((id) => cell(`${rows.find((x) => x.taskId === id)!.task}[${id}]`))
      .join(" | ")
      .trimEnd(),
    ids.map(() => "-".repeat(width)).join("-|-"),
  ];
  // As in formatRaceWindow: a splat goes on the row of its task's latest point at or before it.
  const marks = new Map<number, { kinds: string[]; after: number }>();
  for (const sp of r.splats) {
    if (sp.task === null || hidden.has(sp.task)) continue;
    const row = rows.findLast((x) => x.taskId === sp.taskId && x.step <= sp.step);
    if (!row) continue;
    const m = marks.get(row.step) ?? { kinds: [], after: row.step };
    if (!m.kinds.includes(sp.kind)) m.kinds.push(sp.kind);
    m.after = Math.max(m.after, sp.step);
    marks.set(row.step, m);
  }
  for (const [k, i] of kept.entries()) {
    const gapFrom = k === 0 ? 0 : kept[k - 1]! + 1;
    if (i > gapFrom && (k > 0 || shown.length > 0)) {
      const counts = new Map<string, number>();
      for (let j = gapFrom; j < i; j++) {
        const x = steps[j]!;
        const name = `${x.task}[${x.taskId}]`;
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      const who = [...counts].map(([name, n]) => `${name} ${n}`).join(", ");
      lines.push(c.dim(`... ${i - gapFrom} step${i - gapFrom === 1 ? "" : "s"} (${who}) ...`));
    }
    const row = steps[i]!;
    let line = tableRow(ids, row, cell);
    const m = marks.get(row.step);
    if (m) {
      const when = m.after > row.step ? ` (it ran after step ${m.after})` : "";
      line = line.padEnd(lines[1]!.length) + c.red(`  <- ${m.kinds.join(", ")}${when}`);
    }
    lines.push(line);
  }
  const at = shown.map((i) => steps[i]!.step);
  const parts = [
    `steps ${rows[0]!.step}-${rows[rows.length - 1]!.step} of ${r.trace.length} without ${hide.join(", ")}`,
  ];
  if (at.length)
    parts.push(
      `around the task switch${at.length === 1 ? "" : "es"} at step${at.length === 1 ? "" : "s"} ${at.join(", ")}${switches.length > at.length ? ` (the last ${at.length} of ${switches.length})` : ""}`,
    );
  if (first) parts.push(`up to the first splat at step ${first.step}`);
  return [
    c.dim(`${parts.join(", ")}; a row is a task reaching a point, about to do it:`),
    ...lines,
  ].join("\n");
}

/** The token line, in a form that can be pasted into `replay`. */
export function formatToken(r: RunResult, c: Colors): string {
  return `replay token: ${c.cyan(r.token)}`;
}

export interface FindingOptions extends RaceWindowOptions {
  /** Splats shown. Default 3. */
  maxSplats?: number;
}

/** A failing run: its splats, the race table leading to them, and its token. */
export function formatFinding(r: RunResult, c: Colors, opts: FindingOptions = {}): string {
  const parts = [
    `outcome ${r.outcome}, ${r.steps} steps, ${r.splats.length} splat${r.splats.length === 1 ? "" : "s"}`,
  ];
  if (r.splats.length) parts.push(formatSplats(r.splats, c, opts.maxSplats));
  parts.push(formatRaceWindow(r, c, opts));
  parts.push(formatToken(r, c));
  return parts.join("\n");
}

/**
 * An `explore()` onRun callback that shows "label i/max" every `every` runs through `show` (the
 * progress line of a terminal), or undefined when there is nowhere to show it.
 */
export function progressEvery(
  show: ((line: string) => void) | undefined,
  label: string,
  max: number,
  every = 50,
): ((r: unknown, index: number) => void) | undefined {
  if (!show) return undefined;
  return (_r, i) => {
    if ((i + 1) % every === 0) show(`${label} ${i + 1}/${max}`);
  };
}
