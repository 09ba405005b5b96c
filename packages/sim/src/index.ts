export { type Timer, VirtualClock } from "./clock.js";
export { Completion } from "./completion.js";
export {
  bug,
  choose,
  currentSimulation,
  currentTask,
  dmesg,
  here,
  now,
  type Owner,
  outsideDmesg,
  point,
  report,
  site,
  sleep,
  spawn,
  warnOn,
  yieldCpu,
} from "./current.js";
export { KernelBug, ReplayMismatchError, ReplayTokenError } from "./errors.js";
export {
  checkDeterminism,
  type DeterminismReport,
  defaultIsFailure,
  type ExploreOptions,
  type ExploreResult,
  type ExploreStats,
  explore,
  replay,
  type Scenario,
} from "./explore.js";
export { SimMutex } from "./mutex.js";
export { deriveSeed, Prng } from "./prng.js";
export {
  activeSimulation,
  onBlock,
  type RunOutcome,
  type RunResult,
  Simulation,
  type SimulationOptions,
  type StrategySpec,
} from "./simulation.js";
export {
  Dmesg,
  formatSplat,
  type RelatedSite,
  type ReportOptions,
  type Site,
  type Splat,
  type SplatKind,
} from "./splat.js";
export { DfsStrategy } from "./strategies/dfs.js";
export { PctStrategy } from "./strategies/pct.js";
export { RandomStrategy } from "./strategies/random.js";
export { ReplayStrategy } from "./strategies/replay.js";
export type { Strategy, StrategyName } from "./strategies/strategy.js";
export {
  SimLocal,
  type SpawnOptions,
  Task,
  type TaskKind,
  TaskLocal,
  type TaskState,
} from "./task.js";
export {
  baselineFixes,
  defineKnownWindow,
  defineToggle,
  findToggle,
  type KnownWindowInfo,
  listFixes,
  listKnownWindows,
  listToggles,
  type ToggleInfo,
  type ToggleKind,
  toggleEnabled,
} from "./toggles.js";
export { decodeToken, encodeToken, type RunToken, TOKEN_VERSION } from "./token.js";
export { Trace, type TraceStep } from "./trace.js";
export { WaitQueue } from "./wait-queue.js";
