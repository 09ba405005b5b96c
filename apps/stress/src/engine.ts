/**
 * The one place the stress app takes the search engine from: the model-side API of
 * `@primetime/sim` (Simulation, seeds, splats, toggles) and the search API of
 * `@primetime/sim/explore` (explore, replay, strategies, tokens, traces). Keeping every import
 * of the engine here means a change of its entry points is a change of this file only.
 */
export {
  baselineFixes,
  deriveSeed,
  formatSplat,
  listFixes,
  listKnownWindows,
  listToggles,
  ReplayMismatchError,
  ReplayTokenError,
  type RunOutcome,
  type RunResult,
  Simulation,
  type Splat,
  type SplatKind,
  type StrategySpec,
} from "@primetime/sim";
export {
  decodeToken,
  type ExploreOptions,
  type ExploreResult,
  explore,
  type Minimized,
  minimize,
  PctStrategy,
  portfolioMember,
  type RaceTable,
  type ResolvedSearchOptions,
  type RunToken,
  raceTable,
  replay,
  resolveSearchOptions,
  type Scenario,
  SEARCH_DEFAULTS,
  type SearchOptions,
  SHORT_RUN,
  sameBug,
  type TraceStep,
  tokenPreemptions,
} from "@primetime/sim/explore";
