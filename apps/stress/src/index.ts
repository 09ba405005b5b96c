export type { BuildOptions, CampaignScenario, FaultSpec } from "./campaign/campaign-scenario.js";
export {
  type CampaignConfig,
  parseDuration,
  parseShard,
  parseStrategy,
  type SearchOptions,
  UsageError,
} from "./campaign/config.js";
export { CAMPAIGN_SCENARIOS, findCampaignScenario } from "./campaign/registry.js";
export {
  type CampaignReport,
  campaignReport,
  type FindingReport,
  mergeReports,
  REPORT_SCHEMA,
  REPORT_VERSION,
  type UnitReport,
  withoutTiming,
} from "./campaign/report.js";
export { renderHtml, timelineOf } from "./campaign/report-html.js";
export { type CampaignRun, runCampaign } from "./campaign/runner.js";
export { runSchedule } from "./campaign/schedule.js";
export { parseUnitKey, planUnits, type Unit, unitKey } from "./campaign/units.js";
export { EXIT, type Io, main, processIo } from "./cli.js";
export { configFromFlags } from "./commands.js";
export {
  checkScenario,
  DEMO_DEFAULTS,
  type DemoOptions,
  type DemoOutput,
  demo,
  describeResult,
  formatHuntSummary,
  formatScenarioReport,
  formatSummary,
  huntToggles,
  type ScenarioReport,
} from "./demo.js";
export { findDriver, installedDrivers } from "./drivers.js";
export {
  asExpected,
  checkReplay,
  EXPECTED_KINDS,
  expectationFor,
  meetsExpectation,
  type ReplayCheck,
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
  describeReplay,
  formatHunt,
  HUNT_DEFAULTS,
  type HuntReport,
  type HuntSpec,
  hunt,
  huntSpec,
} from "./hunt.js";
export {
  ABBA_SCENARIO,
  CONFORMANCE_BUG_KINDS,
  CONFORMANCE_HARNESS_TASKS,
  caseStressScenario,
  DRM_RACE_SCENARIOS,
  Entry,
  type Expectation,
  findScenario,
  KREF_RST_SCENARIOS,
  LIFETIME_SCENARIOS,
  SCENARIOS,
  type StressScenario,
} from "./scenarios/index.js";
export {
  demoToggles,
  findToggleEntry,
  huntableToggles,
  type ToggleEntry,
  toggleTable,
} from "./toggles.js";
