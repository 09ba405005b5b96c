import { processState } from "./process-state.js";
import { activeSimulation } from "./simulation.js";

/**
 * Historic bugs as toggles (ARCHITECTURE.md section 5). Each subsystem can re-introduce a race the
 * real kernel once had, behind a named toggle such as `gem.open-drops-name-lock`. A toggle is
 * defined once, where the code that honours it lives, with the kernel commit that fixed it; a
 * simulation turns toggles on for its run (`new Simulation({ toggles: [...] })`), and the code
 * asks `toggleEnabled(name)` at the place where the fixed and the buggy versions part.
 */
/**
 * What a toggle stands for.
 * - `historic`: code a released kernel had, removed by a merged commit (`fixedBy` is its title,
 *   `commit` its hash); the toggle reproduces what that kernel did at the place the fix changed.
 * - `proposed`: a bug named by a patch posted to a list but not merged (`fixedBy` is its
 *   subject): no released kernel is known to have behaved this way.
 * - `hypothetical`: no kernel had it; a plausible mistake kept to show the harness finds it.
 */
export type ToggleKind = "historic" | "proposed" | "hypothetical";

export interface ToggleInfo {
  /** `subsystem.short-name`, e.g. "gem.flink-no-handle-count-check". */
  readonly name: string;
  /** What the buggy version does differently. */
  readonly description: string;
  /** The title of the kernel commit that fixed it (or proposed the fix). */
  readonly fixedBy: string;
  /**
   * The test that finds it, for a toggle that no conformance case covers (a driver's or TTM's own
   * race tests). Which case finds a toggle is recorded once: a toggle found by a conformance case
   * is in TOGGLE_CASES of @primetime/conformance and carries no `foundBy`.
   */
  readonly foundBy?: string;
  /** Historic kernel code, a proposed patch, or hypothetical (see ToggleKind). */
  readonly kind: ToggleKind;
  /**
   * The fixing commit's hash (at least 12 hex digits) for a `historic` toggle, or text saying
   * "hash not confirmed" when it could not be verified; for `proposed`, the patch's list
   * reference if any; omitted for `hypothetical` ones.
   */
  readonly commit?: string;
  /**
   * The kernel versions the buggy behaviour applies to, e.g. "v3.10-v3.12 (fixed in v3.13)";
   * for a hypothetical toggle, the kernels whose code it modifies.
   */
  readonly kernels: string;
  /**
   * True for the fix switch of a known upstream window (`defineKnownWindow()`): on applies the
   * proposed fix of a window current kernels still have; the faithful model (window open) is the
   * default, and clean baselines run with every fix on (`baselineFixes()`).
   */
  readonly fixSwitch?: boolean;
}

/** Shared by every loaded copy of sim (process-state.ts). */
const registry = processState.toggles;

/** Declares a toggle. Declaring the same name twice with different text is a programming error. */
export function defineToggle(info: ToggleInfo): ToggleInfo {
  if (!/^[a-z0-9-]+\.[a-z0-9-]+$/.test(info.name))
    throw new Error(`bad toggle name "${info.name}" (want subsystem.short-name)`);
  if (info.kind === "historic" && !/^[0-9a-f]{12,40}$|hash not confirmed/.test(info.commit ?? ""))
    throw new Error(
      `historic toggle "${info.name}" needs the fixing commit's hash (or "hash not confirmed")`,
    );
  if (!info.kernels)
    throw new Error(`toggle "${info.name}" needs the kernel versions it applies to`);
  const old = registry.get(info.name);
  if (
    old &&
    (old.description !== info.description ||
      old.fixedBy !== info.fixedBy ||
      old.kind !== info.kind ||
      old.commit !== info.commit ||
      (old.fixSwitch ?? false) !== (info.fixSwitch ?? false))
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
    .filter((t) => !t.fixSwitch)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Every fix switch of a known window (`defineKnownWindow()`), sorted by name. */
export function listFixes(): ToggleInfo[] {
  return [...registry.values()]
    .filter((t) => t.fixSwitch === true)
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
  /** The title of the commit that opened the window. */
  readonly since: string;
  /** Its hash (at least 12 hex digits), or text saying "hash not confirmed". */
  readonly sinceCommit: string;
  /** The kernel versions that have the window, e.g. "v6.6 onwards (and stable 5.4+)". */
  readonly kernels: string;
  /** The proposed fix the switch applies (and any posted patch it follows). */
  readonly proposedFix: string;
  /** The posted patch's list reference (message id), if a fix was posted. */
  readonly patch?: string;
  /** The scenario (a test or CLI command) that reproduces it and prints its replay token. */
  readonly foundBy: string;
}

const windows = new Map<string, KnownWindowInfo>();

/**
 * Declares a known upstream window and its fix switch: a `proposed` toggle of the same name with
 * `fixSwitch` set, so `toggleEnabled(name)` is true when the fix is applied. Its
 * `sinceCommit` must be a hash (or say "hash not confirmed").
 */
export function defineKnownWindow(info: KnownWindowInfo): KnownWindowInfo {
  if (!/^[0-9a-f]{12,40}$|hash not confirmed/.test(info.sinceCommit))
    throw new Error(
      `known window "${info.name}" needs the opening commit's hash (or "hash not confirmed")`,
    );
  defineToggle({
    name: info.name,
    description: `fix for: ${info.what}`,
    fixedBy: info.proposedFix,
    foundBy: info.foundBy,
    kind: "proposed",
    commit: info.patch,
    kernels: info.kernels,
    fixSwitch: true,
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
