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
  fuzzLog,
  fuzzOne,
  fuzzReplay,
  huntToggles,
  type RunClass,
  STRESS_FD_REUSE_PLAN,
  STRESS_FUZZ_SIZES,
  type StressFuzzUnit,
  stressFuzzUnit,
  type ToggleHunt,
} from "./campaign.js";
export { RaceFeedback } from "./feedback.js";
export {
  type FuzzOptions,
  type FuzzProcessPlan,
  type FuzzSize,
  fuzzScenario,
  RACE_OPS,
  type RaceOp,
} from "./fuzz.js";
export { KmsFuzz, NEVER_FB } from "./kms.js";
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
export {
  drmReadFromScenarioName,
  kmsFromScenarioName,
  leasesFromScenarioName,
  mastersFromScenarioName,
  planFromScenarioName,
  planScenarioName,
  privateFromScenarioName,
  socketsFromScenarioName,
  vmwVramFromScenarioName,
} from "./plan.js";
export {
  type RecvKnowledge,
  recvmsgVerdict,
  type SendKnowledge,
  sendmsgVerdict,
  socketCallFits,
  socketpairExpected,
} from "./socket-model.js";
export {
  formatSyscallLog,
  ioctlName,
  loggedProcess,
  type SyscallLogEntry,
} from "./syscall-log.js";
