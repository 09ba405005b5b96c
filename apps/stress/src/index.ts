export { type Io, main, processIo, RUN_DEFAULTS } from "./cli.js";
export {
  checkScenario,
  DEMO_DEFAULTS,
  type DemoOptions,
  type DemoOutput,
  demo,
  describeResult,
  formatScenarioReport,
  formatSummary,
  type ScenarioReport,
} from "./demo.js";
export {
  asExpected,
  checkReplay,
  EXPECTED_KINDS,
  type ReplayCheck,
  type SearchSpec,
  search,
  showsExpectedBug,
  splatSignature,
} from "./findings.js";
export {
  type Colors,
  describeSpec,
  type FindingOptions,
  formatFinding,
  formatRaceWindow,
  formatSplats,
  formatToken,
  palette,
  progressEvery,
  type RaceWindowOptions,
} from "./format.js";
export {
  ABBA_SCENARIO,
  Entry,
  type Expectation,
  findScenario,
  KREF_RST_SCENARIOS,
  SCENARIOS,
  type StressScenario,
} from "./scenarios/index.js";
