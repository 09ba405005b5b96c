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
}

const registry = new Map<string, ToggleInfo>();

/** Declares a toggle. Declaring the same name twice with different text is a programming error. */
export function defineToggle(info: ToggleInfo): ToggleInfo {
  if (!/^[a-z0-9-]+\.[a-z0-9-]+$/.test(info.name))
    throw new Error(`bad toggle name "${info.name}" (want subsystem.short-name)`);
  const old = registry.get(info.name);
  if (old && (old.description !== info.description || old.fixedBy !== info.fixedBy)) {
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
