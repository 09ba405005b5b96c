import type { Simulation } from "./simulation.js";
import type { Task } from "./task.js";
import type { ToggleInfo } from "./toggles.js";
import type { WaitQueue } from "./wait-queue.js";

/**
 * The state one process shares between every loaded copy of @primetime/sim: the running
 * simulation, the might_sleep hooks and the toggle registry.
 *
 * Kernel-model packages find "the running simulation" through this state. If it lived in a
 * module variable, a second copy of sim (npm installs one when two packages ask for different
 * versions) would have its own, always empty: every `Kref` and lock of the packages bound to that
 * copy would lose its scheduling points and the races they model would silently disappear. So it
 * lives on `globalThis` under a registered symbol: compatible copies share it (with a one-time
 * process warning), and a copy whose state layout differs refuses to load.
 */
export interface ProcessState {
  /** SIM_ABI of the copy that created the state. */
  readonly abi: number;
  /** Module URL of the copy that created the state (for messages). */
  readonly createdBy: string;
  /** How many copies of sim have attached to it. */
  copies: number;
  active: Simulation | null;
  readonly blockHooks: ((task: Task, wq: WaitQueue, label: string) => void)[];
  readonly toggles: Map<string, ToggleInfo>;
}

/** Layout version of ProcessState and of the Simulation protocol other copies call into. */
export const SIM_ABI = 1;

const KEY = Symbol.for("@primetime/sim:process-state");

/** Attaches to the process's state, creating it for the first copy. Throws for an incompatible one. */
export function attachProcessState(moduleUrl: string, abi: number = SIM_ABI): ProcessState {
  const g = globalThis as { [KEY]?: ProcessState };
  const existing = g[KEY];
  if (existing) {
    if (existing.abi !== abi) {
      throw new Error(
        `@primetime/sim: two incompatible copies are loaded in this process (state ABI ${existing.abi} from ${existing.createdBy}, ABI ${abi} from ${moduleUrl}); ` +
          "they cannot share the running simulation, so the scheduling points of one copy's users would be lost. " +
          "Install one version (make @primetime/sim a single peer dependency, or run `npm dedupe`).",
      );
    }
    existing.copies++;
    if (existing.copies === 2 && typeof process !== "undefined" && process.emitWarning) {
      process.emitWarning(
        `two copies of @primetime/sim are loaded (${existing.createdBy} and ${moduleUrl}); they share one simulation state`,
        { code: "PRIMETIME_SIM_DUPLICATE" },
      );
    }
    return existing;
  }
  const state: ProcessState = {
    abi,
    createdBy: moduleUrl,
    copies: 1,
    active: null,
    blockHooks: [],
    toggles: new Map(),
  };
  g[KEY] = state;
  return state;
}

/** This copy's view of the process state. */
export const processState: ProcessState = attachProcessState(import.meta.url);
