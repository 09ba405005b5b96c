import { activeSimulation } from "./simulation.js";

/**
 * Historic bugs as toggles (DESIGN.md section 5). Each subsystem can re-introduce a race the
 * real kernel once had, behind a named toggle such as `gem.open-drops-name-lock`. A toggle is
 * defined once, where the code that honours it lives, with the kernel commit that fixed it; a
 * simulation turns toggles on for its run (`new Simulation({ toggles: [...] })`), and the code
 * asks `toggleEnabled(name)` at the place where the fixed and the buggy versions part.
 */
export interface ToggleInfo {
  /** `subsystem.short-name`, e.g. "gem.flink-no-handle-count-check". */
  readonly name: string;
  /** What the buggy version does differently. */
  readonly description: string;
  /** The title of the kernel commit that fixed it (or proposed the fix). */
  readonly fixedBy: string;
  /** The conformance case or scenario that finds it. */
  readonly foundBy: string;
  /**
   * "bug" (the default): on re-introduces a race the kernel had. "fix": on applies a proposed
   * fix for a window current kernels still have (see `defineKnownWindow()`); the faithful model
   * is the default, and clean baselines run with every fix on (`baselineFixes()`).
   */
  readonly kind?: "bug" | "fix";
}

const registry = new Map<string, ToggleInfo>();

/** Declares a toggle. Declaring the same name twice with different text is a programming error. */
export function defineToggle(info: ToggleInfo): ToggleInfo {
  if (!/^[a-z0-9-]+\.[a-z0-9-]+$/.test(info.name))
    throw new Error(`bad toggle name "${info.name}" (want subsystem.short-name)`);
  const old = registry.get(info.name);
  if (
    old &&
    (old.description !== info.description ||
      old.fixedBy !== info.fixedBy ||
      (old.kind ?? "bug") !== (info.kind ?? "bug"))
  ) {
    throw new Error(`toggle ${info.name} defined twice differently`);
  }
  registry.set(info.name, info);
  return info;
}

/**
 * Every historic-bug toggle declared by the packages loaded so far, sorted by name (fix switches
 * are not toggles of that kind: see `listFixes()`).
 */
export function listToggles(): ToggleInfo[] {
  return [...registry.values()]
    .filter((t) => t.kind !== "fix")
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Every fix switch of a known window (`defineKnownWindow()`), sorted by name. */
export function listFixes(): ToggleInfo[] {
  return [...registry.values()]
    .filter((t) => t.kind === "fix")
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The switches a clean baseline turns on: the proposed fix of every known upstream window, so
 * that "every toggle off finds nothing" means no bug of the model and no historic race, while
 * the windows current kernels still have are reported on their own (`listKnownWindows()`).
 */
export function baselineFixes(): string[] {
  return listFixes().map((t) => t.name);
}

/**
 * A race window that the current upstream kernel still has, modeled faithfully (it is reachable
 * with every toggle off), like an open syzbot report: what it is, where, since which commit, and
 * the switch that applies the proposed fix.
 */
export interface KnownWindowInfo {
  /** `subsystem.short-name`, also the name of its fix switch. */
  readonly name: string;
  /** What goes wrong, as the splat reports it. */
  readonly what: string;
  /** The kernel functions that race (file and function names). */
  readonly where: string;
  /** The commit that opened the window (title and hash), and the kernels that have it. */
  readonly since: string;
  /** The proposed fix the switch applies (and any posted patch it follows). */
  readonly proposedFix: string;
  /** The scenario (a test or CLI command) that reproduces it and prints its replay token. */
  readonly foundBy: string;
}

const windows = new Map<string, KnownWindowInfo>();

/**
 * Declares a known upstream window and its fix switch (a toggle of kind "fix" with the same
 * name: `toggleEnabled(name)` is true when the fix is applied).
 */
export function defineKnownWindow(info: KnownWindowInfo): KnownWindowInfo {
  defineToggle({
    name: info.name,
    description: `fix for: ${info.what}`,
    fixedBy: info.proposedFix,
    foundBy: info.foundBy,
    kind: "fix",
  });
  windows.set(info.name, info);
  return info;
}

/** Every known upstream window declared by the packages loaded so far, sorted by name. */
export function listKnownWindows(): KnownWindowInfo[] {
  return [...windows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The toggle's (or fix switch's) declaration, or undefined. */
export function findToggle(name: string): ToggleInfo | undefined {
  return registry.get(name);
}

/**
 * True when the running simulation was started with this toggle (or fix switch) on. Always false
 * outside one.
 */
export function toggleEnabled(name: string): boolean {
  const sim = activeSimulation();
  return sim?.toggles.has(name) ?? false;
}
