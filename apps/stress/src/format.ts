/**
 * Rendering of search results for a terminal: splats as dmesg prints them, the failing
 * interleaving as a race table, replay tokens. Colours come from picocolors and are off when
 * the caller says so (--no-color, NO_COLOR, output not a terminal).
 */
import { formatSplat, type RunResult, type Splat } from "@primetime/sim";
import { formatRaceTable, resolveSearchOptions, type SearchOptions } from "@primetime/sim/explore";
import pc from "picocolors";

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

/** "pct (depth 3, seed 1)", "dfs (preemption bound 3)": the options SEARCH_DEFAULTS fills. */
export function describeSpec(spec: SearchOptions): string {
  const o = resolveSearchOptions(spec);
  switch (o.strategy) {
    case "pct":
      return `pct (depth ${o.depth}, seed ${o.seed})`;
    case "portfolio":
      return `portfolio (pct depths ${o.depth + 1}/${o.depth}, pos, random; seed ${o.seed})`;
    case "dfs":
      return `dfs (preemption bound ${o.preemptionBound})`;
    default:
      return `${o.strategy} (seed ${o.seed})`;
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
   * interleave (the engine's `switches` mode). Ignored with `all`.
   */
  hide?: readonly string[];
}

/**
 * The steps leading to the first splat as a race table (one column per task), each step where
 * a splat fired marked with its kinds: the engine's renderer (`raceTable` of
 * @primetime/sim/explore) in this palette.
 */
export function formatRaceWindow(r: RunResult, c: Colors, opts: RaceWindowOptions = {}): string {
  return formatRaceTable(r, {
    all: opts.all,
    hide: opts.hide,
    last: opts.last,
    columnWidth: opts.width ?? 30,
    style: c,
  });
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
