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
export {
  type BugSignature,
  bugSignature,
  MINIMIZE_PASSES,
  type Minimized,
  type MinimizeOptions,
  type MinimizePass,
  minimize,
  sameBug,
  splatBugSignature,
  tokenPreemptions,
} from "./minimize.js";
export {
  formatRaceTable,
  type RaceTable,
  type RaceTableOptions,
  raceTable,
} from "./race-table.js";
export {
  type ResolvedSearchOptions,
  resolveSearchOptions,
  SEARCH_DEFAULTS,
  type SearchOptions,
} from "./search-options.js";
export { DfsStrategy } from "./strategies/dfs.js";
export {
  type GuidedDecision,
  type GuidedPlan,
  type GuidedSegment,
  GuidedStrategy,
} from "./strategies/guided.js";
export {
  findStrategy,
  getStrategy,
  listStrategies,
  registerStrategy,
  type SearchSession,
  type SearchStep,
  type StrategyDefinition,
  type StrategyParams,
  samplingSession,
  strategyByCode,
} from "./strategies/index.js";
export { PctStrategy } from "./strategies/pct.js";
export {
  PORTFOLIO,
  PortfolioStrategy,
  portfolioMember,
  SHORT_RUN,
} from "./strategies/portfolio.js";
export { PosStrategy } from "./strategies/pos.js";
export { RandomStrategy } from "./strategies/random.js";
export { ReplayStrategy } from "./strategies/replay.js";
export {
  decodeToken,
  encodeToken,
  MAX_TOKEN_LENGTH,
  MAX_TOKEN_PAYLOAD,
  quotePrefix,
  type RunToken,
  TOKEN_VERSION,
} from "./token.js";
export {
  applyCampaignV8Flags,
  applySearchV8Flags,
  CAMPAIGN_V8_FLAGS,
  SEARCH_V8_FLAGS,
} from "./v8-flags.js";
