/**
 * The race table: a run's interleaving as the "Thread 1 | Thread 2" table of kernel commit
 * messages, one column per task and one row per step, in execution order. A row is a task
 * reaching a scheduling point, about to do what its label says; it does it when it next runs. A
 * splat is marked on the row of its task's latest point at or before the splat.
 *
 * Two ways to pick the rows (the whole run with `all`):
 * - `window` (the default without `hide`): the `last` steps leading to the first splat (or to the
 *   end of the run);
 * - `switches` (the default with `hide`): the steps of the tasks not hidden (a harness's own tasks
 *   race nobody), keeping a few rows around each of the last task switches and the rows leading
 *   to the first splat, each gap replaced by a line counting the steps left out. A task switch is
 *   a step where another task runs while the previous one still has steps to come (it was
 *   preempted or blocked), or where a task that ran before resumes (not one task ending and
 *   another starting). Next to a row around a switch, the nearest row where another task reaches
 *   the same point (the other side of the race) is kept too. With `focus` (a minimized run's
 *   preemptions), when the rows around every preemption do not fit in `maxRows`, only the
 *   preemptions of the race's tasks are shown, the last ones that fit: the race's tasks are the
 *   two of the last preemption (the one nearest to the bug), the first splat's task and the
 *   tasks of its sites, and the tasks whose points name the splat's object. A run with many
 *   tasks (a fuzzer's processes and threads) keeps preemptions that only order the others' work;
 *   the caption says how many preemptions are shown. A gap line names the busiest tasks of the
 *   gap and counts the others together.
 *
 * Columns share `width` characters (default 100) unless `columnWidth` fixes them; labels longer
 * than a column are cut with "…".
 */

import type { RunResult } from "../simulation.js";
import type { TraceStep } from "../trace.js";

export interface RaceTableOptions {
  /** Every step of the run, every task. */
  all?: boolean;
  /** Tasks (by name) left out (ignored with `all`). */
  hide?: readonly string[];
  /** How rows are picked (see the file comment). Default: `switches` with `hide`, else `window`. */
  mode?: "window" | "switches";
  /** `window`: rows shown; `switches` without any switch: rows before the splat. Default 20. */
  last?: number;
  /** The table's total width in characters. Default 100. */
  width?: number;
  /** A fixed column width instead (the table is then wider or narrower). */
  columnWidth?: number;
  /** `switches`: task switches shown at most (the last ones). Default 8. */
  maxSwitches?: number;
  /** `switches`: rows kept before and after each switch. Default 2 and 1. */
  around?: { readonly before: number; readonly after: number };
  /**
   * `switches`: the steps at which a preempting task took over (a minimized run's preemptions,
   * `Minimized.preemptionSteps`). Given, only those switches and the preempted tasks' resumptions
   * are shown, with one row before and after each by default (a preemption at the step after
   * the first splat's, its task switched in to report it, too); over `maxRows`, only the race's
   * tasks' last preemptions that fit (see the file comment).
   */
  focus?: readonly number[];
  /**
   * `switches`: a row budget. Over it, with `focus`, the preemptions of tasks other than the
   * race's go, then the race's earliest ones (the last always stays); then the rows of the other
   * side of the race go (the furthest first), then the tail shrinks to the splat's row; the rows
   * around the switches shown always stay. Default: 12 with `focus`, none otherwise.
   */
  maxRows?: number;
  tail?: number;
  /** Colours for the caption, gap lines and splat markers (default: none). */
  style?: { dim(s: string): string; red(s: string): string };
  /** Print the caption line saying which steps are shown. Default true. */
  caption?: boolean;
}

export interface RaceTable {
  /** The steps shown, in order. */
  readonly rows: readonly TraceStep[];
  /** The task ids of the columns, left to right. */
  readonly columns: readonly number[];
  /** The rendered table (caption, header, rule, rows, gap lines). */
  readonly text: string;
}

/** Tasks a gap line names at most (the busiest; the others are counted together). */
const GAP_TASKS = 6;

const PLAIN = { dim: (s: string) => s, red: (s: string) => s };

/** Renders `r`'s race table; see the file comment and RaceTableOptions. */
export function raceTable(r: RunResult, opts: RaceTableOptions = {}): RaceTable {
  const style = opts.style ?? PLAIN;
  const trace = r.trace;
  const total = trace.length;
  if (total === 0) return { rows: [], columns: [], text: "(no steps)" };
  const hide = opts.all ? [] : (opts.hide ?? []);
  const mode = opts.mode ?? (hide.length ? "switches" : "window");
  const first = r.splats[0];
  const last = opts.last ?? 20;
  let rows: TraceStep[];
  /** For each kept row index (into `rows`), the gap line before it, if any. */
  const gaps = new Map<number, string>();
  let caption: string;

  if (opts.all) {
    rows = trace.steps();
    caption = `steps 1-${total} of ${total}`;
  } else if (mode === "window") {
    const to = !first ? total : Math.min(Math.max(first.step, 1), total);
    const from = Math.max(1, to - last + 1);
    rows = trace.steps(from, to).filter((s) => !hide.includes(s.task));
    caption = `steps ${from}-${to} of ${total}${first ? `, first splat at step ${to}` : ""}`;
  } else {
    const picked = pickSwitchRows(r, hide, opts, last);
    if (picked === null) return raceTable(r, { ...opts, mode: "window", hide: [] });
    rows = picked.rows;
    for (const [i, g] of picked.gaps) gaps.set(i, g);
    caption = picked.caption;
  }

  const columns = [...new Set(rows.map((x) => x.taskId))];
  const n = Math.max(1, columns.length);
  const width = opts.width ?? 100;
  const colW =
    opts.columnWidth ?? Math.max(12, Math.min(48, Math.floor((width - 3 * (n - 1)) / n)));
  const cell = (s: string) => (s.length > colW ? `${s.slice(0, colW - 1)}…` : s.padEnd(colW));
  const header = columns
    .map((id) => cell(`${trace.taskName(id)}[${id}]`))
    .join(" | ")
    .trimEnd();
  const rule = columns.map(() => "-".repeat(colW)).join("-|-");

  // A splat goes on the row of its task's latest point at or before it; if other tasks ran in
  // between, the marker says when the operation actually ran.
  const marks = new Map<number, { kinds: string[]; after: number }>();
  for (const sp of r.splats) {
    if (sp.task !== null && hide.includes(sp.task)) continue;
    let row: TraceStep | undefined;
    for (let k = rows.length - 1; k >= 0; k--) {
      const x = rows[k]!;
      if (x.step <= sp.step && (sp.task === null || x.taskId === sp.taskId)) {
        row = x;
        break;
      }
    }
    if (!row) continue;
    const m = marks.get(row.step) ?? { kinds: [], after: row.step };
    if (!m.kinds.includes(sp.kind)) m.kinds.push(sp.kind);
    m.after = Math.max(m.after, sp.step);
    marks.set(row.step, m);
  }

  const lines: string[] = [];
  if (opts.caption ?? true)
    lines.push(style.dim(`${caption}; a row is a task reaching a point, about to do it:`));
  lines.push(header, rule);
  rows.forEach((x, k) => {
    const gap = gaps.get(k);
    if (gap) lines.push(style.dim(gap));
    let line = columns
      .map((id) => cell(id === x.taskId ? x.label : ""))
      .join(" | ")
      .trimEnd();
    const m = marks.get(x.step);
    if (m) {
      const when = m.after > x.step ? ` (it ran after step ${m.after})` : "";
      line = line.padEnd(rule.length) + style.red(`  <- ${m.kinds.join(", ")}${when}`);
    }
    lines.push(line);
  });
  return { rows, columns, text: lines.join("\n") };
}

/** The race table's text (see raceTable). */
export function formatRaceTable(r: RunResult, opts: RaceTableOptions = {}): string {
  return raceTable(r, opts).text;
}

/** The switches of preemption groups: each preemption and its preempted task's resumption. */
function switchesOf(groups: readonly { at: number; resume: number | null }[]): number[] {
  const at = new Set<number>();
  for (const g of groups) {
    at.add(g.at);
    if (g.resume !== null) at.add(g.resume);
  }
  return [...at].sort((x, y) => x - y);
}

/**
 * The tasks of a race: the two of the preemption at row `last` (the preempted and the
 * preempting task), the first splat's task and the tasks of its sites (allocated, freed by...),
 * and the tasks whose points name the first splat's object ("kref_put(vgem_object#2)" for a
 * splat on vgem_object#2), up to row `end`; hidden tasks left out.
 */
function raceTasks(
  r: RunResult,
  steps: readonly TraceStep[],
  last: number,
  end: number,
  hidden: ReadonlySet<string>,
): Set<number> {
  const tasks = new Set([steps[last - 1]!.taskId, steps[last]!.taskId]);
  const first = r.splats[0];
  if (!first) return tasks;
  if (first.task !== null && !hidden.has(first.task)) tasks.add(first.taskId);
  for (const site of first.sites) if (!hidden.has(site.task)) tasks.add(site.taskId);
  const object = first.object;
  if (object) {
    const word = (c: string | undefined) => c !== undefined && /\w/.test(c);
    const names = (label: string) => {
      for (let i = label.indexOf(object); i >= 0; i = label.indexOf(object, i + 1))
        if (!word(label[i - 1]) && !word(label[i + object.length])) return true;
      return false;
    };
    for (let i = 0; i <= end; i++) if (names(steps[i]!.label)) tasks.add(steps[i]!.taskId);
  }
  return tasks;
}

function pickSwitchRows(
  r: RunResult,
  hide: readonly string[],
  opts: RaceTableOptions,
  last: number,
): { rows: TraceStep[]; gaps: Map<number, string>; caption: string } | null {
  const hidden = new Set(hide);
  const steps = r.trace.steps().filter((s) => !hidden.has(s.task));
  if (steps.length === 0) return null;
  const firstStep = new Map<number, number>();
  const lastStep = new Map<number, number>();
  for (const s of steps) {
    if (!firstStep.has(s.taskId)) firstStep.set(s.taskId, s.step);
    lastStep.set(s.taskId, s.step);
  }
  const first = r.splats[0];
  let end = steps.length - 1;
  if (first) {
    while (end > 0 && steps[end]!.step > first.step) end--;
    if (steps[end]!.step > first.step) return null;
    // A preemption right after the splat's step is the splat's task taking over to report it
    // (it reaches its next point there): that row is shown too.
    if (opts.focus?.includes(first.step + 1) && steps[end + 1]?.step === first.step + 1) end++;
  }
  const switches: number[] = [];
  /** `focus`: each preemption's row index and where its preempted task resumes. */
  const groups: { at: number; resume: number | null }[] = [];
  if (opts.focus) {
    const focus = new Set(opts.focus);
    for (let i = 1; i <= end; i++) {
      if (!focus.has(steps[i]!.step)) continue;
      // Where the preempted task resumes.
      const preempted = steps[i - 1]!.taskId;
      let resume: number | null = null;
      for (let k = i + 1; k <= end; k++) {
        if (steps[k]!.taskId === preempted) {
          if (steps[k - 1]!.taskId !== preempted) resume = k;
          break;
        }
      }
      groups.push({ at: i, resume });
    }
    switches.push(...switchesOf(groups));
  } else {
    for (let i = 1; i <= end; i++) {
      const prev = steps[i - 1]!;
      const cur = steps[i]!;
      if (prev.taskId === cur.taskId) continue;
      if (lastStep.get(prev.taskId)! > cur.step || firstStep.get(cur.taskId)! < cur.step)
        switches.push(i);
    }
  }
  const around = opts.around ?? (opts.focus ? { before: 1, after: 1 } : { before: 2, after: 1 });
  const tail = opts.tail ?? 2;
  const maxRows = opts.maxRows ?? (opts.focus ? 12 : Infinity);
  const maxSwitches = opts.maxSwitches ?? 8;
  const keep = new Set<number>();
  const keepRange = (from: number, to: number) => {
    for (let i = Math.max(0, from); i <= Math.min(end, to); i++) keep.add(i);
  };
  /** The rows around switches `at` and the tail. */
  const rowsAround = (at: readonly number[]): Set<number> => {
    const rows = new Set<number>();
    for (const i of at)
      for (let k = Math.max(0, i - around.before); k <= Math.min(end, i + around.after - 1); k++)
        rows.add(k);
    for (let k = Math.max(0, end - tail + 1); k <= end; k++) rows.add(k);
    return rows;
  };
  let shown = switches.slice(-maxSwitches);
  /** `focus` over the row budget: the preemptions shown, of how many, and the race's tasks. */
  let race: { shown: number; of: number; tasks: number[] } | null = null;
  if (groups.length > 1 && rowsAround(shown).size > maxRows) {
    // The rows around the preemptions do not fit: only the preemptions of the race's tasks
    // (those of the last preemption, the one nearest to the bug, and the splat's: see
    // raceTasks()), the nearest to the bug first, as many as fit (at least the last one). A run
    // with many tasks keeps preemptions that only order the others' work. A task that is not
    // the race's is not followed to where it resumes.
    const tasks = raceTasks(r, steps, groups[groups.length - 1]!.at, end, hidden);
    const relevant = groups
      .filter((g) => tasks.has(steps[g.at]!.taskId) || tasks.has(steps[g.at - 1]!.taskId))
      .map((g) => (tasks.has(steps[g.at - 1]!.taskId) ? g : { ...g, resume: null }));
    let from = 0;
    while (
      from < relevant.length - 1 &&
      rowsAround(switchesOf(relevant.slice(from)).slice(-maxSwitches)).size > maxRows
    )
      from++;
    const kept = relevant.slice(from);
    shown = switchesOf(kept).slice(-maxSwitches);
    race = { shown: kept.length, of: groups.length, tasks: [...tasks].sort((a, b) => a - b) };
  }
  if (shown.length === 0) keepRange(end - (opts.focus ? Math.min(last, 8) : last) + 1, end);
  else for (const i of rowsAround(shown)) keep.add(i);
  // The same operation by another task, nearest to each row around a switch: a lost update's
  // other "load" and "store" may sit in a stretch the switches leave out.
  const partners = new Map<number, number>();
  if (shown.length > 0) {
    for (const i of [...keep]) {
      const row = steps[i]!;
      // Only points that name what they touch ("mutex_lock(prime.lock)"): "sys_ioctl" or "exit"
      // are reached by every task and say nothing about the race.
      if (!row.label.includes("(")) continue;
      let best = -1;
      for (let j = 0; j <= end; j++) {
        const x = steps[j]!;
        if (x.taskId === row.taskId || x.label !== row.label) continue;
        if (best < 0 || Math.abs(j - i) < Math.abs(best - i)) best = j;
      }
      if (best >= 0 && !keep.has(best))
        partners.set(best, Math.min(partners.get(best) ?? Infinity, Math.abs(best - i)));
    }
  }
  const byDistance = [...partners].sort((a, b) => a[1] - b[1]).map(([j]) => j);
  while (keep.size + byDistance.length > maxRows && byDistance.length > 0) byDistance.pop();
  for (const j of byDistance) keep.add(j);
  // Then the tail, down to the last row.
  for (let k = end - tail + 1; k < end && keep.size > maxRows; k++) {
    if (!shown.some((i) => k >= i - around.before && k <= i + around.after - 1)) keep.delete(k);
  }
  const kept = [...keep].sort((x, y) => x - y);
  const rows = kept.map((i) => steps[i]!);
  const gaps = new Map<number, string>();
  for (const [k, i] of kept.entries()) {
    const gapFrom = k === 0 ? 0 : kept[k - 1]! + 1;
    if (i > gapFrom && (k > 0 || shown.length > 0)) {
      const counts = new Map<string, number>();
      for (let j = gapFrom; j < i; j++) {
        const x = steps[j]!;
        const name = `${x.task}[${x.taskId}]`;
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      // The tasks of a long gap: the busiest few, in order, and how many steps the others took.
      let listed = [...counts];
      let others = "";
      if (listed.length > GAP_TASKS) {
        const busiest = new Set(
          [...listed]
            .sort((a, b) => b[1] - a[1])
            .slice(0, GAP_TASKS - 1)
            .map(([name]) => name),
        );
        const rest = listed.filter(([name]) => !busiest.has(name));
        others = `, ${rest.length} other tasks ${rest.reduce((n, [, c]) => n + c, 0)}`;
        listed = listed.filter(([name]) => busiest.has(name));
      }
      const who = listed.map(([name, c]) => `${name} ${c}`).join(", ") + others;
      gaps.set(k, `... ${i - gapFrom} step${i - gapFrom === 1 ? "" : "s"} (${who}) ...`);
    }
  }
  const at = shown.map((i) => steps[i]!.step);
  const parts = [
    `steps ${rows[0]!.step}-${rows[rows.length - 1]!.step} of ${r.trace.length}${hide.length ? ` without ${hide.join(", ")}` : ""}`,
  ];
  if (at.length)
    parts.push(
      `around the task switch${at.length === 1 ? "" : "es"} at step${at.length === 1 ? "" : "s"} ${at.join(", ")}${
        race
          ? ` (${race.shown} of ${race.of} preemptions: the last of the race's tasks ${race.tasks
              .map((id) => `${r.trace.taskName(id)}[${id}]`)
              .join(", ")})`
          : switches.length > at.length
            ? ` (the last ${at.length} of ${switches.length})`
            : ""
      }`,
    );
  if (first) parts.push(`up to the first splat at step ${first.step}`);
  return { rows, gaps, caption: parts.join(", ") };
}
