/**
 * `@primetime/sim/explore`: the search API, for tests, the conformance harness and the stress
 * harness (never for model code, which only marks its race windows with `point()`): `explore()`
 * over a scenario's schedules with a strategy, `replay()` of a token, `checkDeterminism()`, the
 * strategies and replay tokens.
 */

export type { StrategySpec } from "../simulation.js";
export type { Strategy, StrategyName } from "../strategy.js";
export { Trace, type TraceStep } from "../trace.js";
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
export { DfsStrategy } from "./strategies/dfs.js";
export { PctStrategy } from "./strategies/pct.js";
export { RandomStrategy } from "./strategies/random.js";
export { ReplayStrategy } from "./strategies/replay.js";
export { decodeToken, encodeToken, type RunToken, TOKEN_VERSION } from "./token.js";
