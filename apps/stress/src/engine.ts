/**
 * The one place the stress app takes the search engine of @primetime/sim from: running one
 * schedule, replaying a token, tokens, traces and splats. Keeping every import of the search API
 * here means a change of the engine's entry points is a change of this file only.
 */
export {
  decodeToken,
  deriveSeed,
  type ExploreOptions,
  type ExploreResult,
  explore,
  formatSplat,
  listToggles,
  PctStrategy,
  ReplayMismatchError,
  ReplayTokenError,
  type RunOutcome,
  type RunResult,
  type RunToken,
  replay,
  type Scenario,
  Simulation,
  type Splat,
  type SplatKind,
  type TraceStep,
} from "@primetime/sim";
