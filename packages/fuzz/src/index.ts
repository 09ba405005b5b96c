/**
 * @primetime/fuzz: a syscall fuzzer for the simulated DRM stack with a userspace reference model
 * (see README.md).
 */

export {
  type CampaignOptions,
  type CampaignStats,
  classifyRun,
  type FuzzRunReport,
  type FuzzStrategy,
  fuzzCampaign,
  fuzzOne,
  fuzzReplay,
  huntToggles,
  type RunClass,
  type ToggleHunt,
} from "./campaign.js";
export { RaceFeedback } from "./feedback.js";
export {
  type FuzzOptions,
  type FuzzProcessPlan,
  fuzzScenario,
  RACE_OPS,
  type RaceOp,
} from "./fuzz.js";
export { huntKnownWindows, swSyncCloseVsIncScenario, type WindowHunt } from "./known-windows.js";
export {
  DIVERGENCE_PREFIX,
  FuzzModel,
  type ModelBuffer,
  ModelFile,
  readStamp,
  STAMP_BYTES,
  stampOf,
} from "./model.js";
export { planFromScenarioName, planScenarioName } from "./plan.js";
