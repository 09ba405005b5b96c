/**
 * `@primetime/sim`: the model API: the simulation, tasks, scheduling points, wait queues,
 * completions, the virtual clock, task/simulation locals, the simulated dmesg (`report`, `bug`,
 * `warnOn`), historic-bug toggles and recorded data choices (`choose`, `flip`).
 *
 * The search API (explore, replay, strategies, tokens, minimization, race tables) is
 * `@primetime/sim/explore`; test helpers (`expectClean`, the `toBeClean` matcher, splat text) are
 * `@primetime/sim/testing`.
 */
export { type Timer, VirtualClock } from "./clock.js";
export { Completion } from "./completion.js";
export {
  bug,
  choose,
  currentSimulation,
  currentTask,
  dmesg,
  here,
  hereAfterLast,
  now,
  type Owner,
  outsideDmesg,
  point,
  pointNow,
  report,
  site,
  sleep,
  spawn,
  warnOn,
  yieldCpu,
} from "./current.js";
export { KernelBug, ReplayMismatchError, ReplayTokenError } from "./errors.js";
export { fmtLabel, opLabel } from "./label.js";
export { SimMutex } from "./mutex.js";
export { deriveSeed, Prng } from "./prng.js";
export {
  activeSimulation,
  onBlock,
  RESOLVED,
  type RunOutcome,
  type RunResult,
  type Scenario,
  Simulation,
  type SimulationOptions,
  type StrategySpec,
} from "./simulation.js";
export {
  type BuiltinSplatKind,
  Dmesg,
  defineSplatKind,
  formatSplat,
  isSplatKind,
  listSplatKinds,
  type RelatedSite,
  type ReportOptions,
  type Site,
  type Splat,
  type SplatKind,
  type SplatKindInfo,
} from "./splat.js";
export type { Strategy, StrategyName } from "./strategy.js";
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
export { type RecycleOptions, Trace, type TraceStep } from "./trace.js";
export {
  TASK_INTERRUPTIBLE,
  TASK_KILLABLE,
  TASK_UNINTERRUPTIBLE,
  TASK_WAKEKILL,
  WaitQueue,
  wakeUpState,
} from "./wait-queue.js";
