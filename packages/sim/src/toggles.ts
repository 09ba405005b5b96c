import { processState } from "./process-state.js";
import { activeSimulation } from "./simulation.js";

/**
 * Historic bugs as toggles (DESIGN.md section 5). Each subsystem can re-introduce a race the
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
  /** The conformance case or scenario that finds it. */
  readonly foundBy: string;
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
      old.commit !== info.commit)
  ) {
    throw new Error(`toggle ${info.name} defined twice differently`);
  }
  registry.set(info.name, info);
  return info;
}

/** Every toggle declared by the packages loaded so far, sorted by name. */
export function listToggles(): ToggleInfo[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The toggle's declaration, or undefined. */
export function findToggle(name: string): ToggleInfo | undefined {
  return registry.get(name);
}

/** True when the running simulation was started with this toggle on. Always false outside one. */
export function toggleEnabled(name: string): boolean {
  const sim = activeSimulation();
  return sim?.toggles.has(name) ?? false;
}
