/**
 * @primetime/conformance: the driver conformance suite (see README.md): ports of IGT tests
 * (gem_flink_basic, gem_flink_race, prime_self_import, prime_vgem, prime_busy, vgem_basic,
 * syncobj_basic, kms_addfb_basic) plus primetime's own cases (CASE_ORIGINS says which is which), run on a simulated kernel
 * against any driver package, with a leak check after every case; and the table of historic-bug
 * toggles with the case that finds each. `defineConformanceSuite()` (vitest) is the separate
 * entry point `@primetime/conformance/vitest`.
 */

export { CLOSE_ORDERS } from "./cases/prime-cross-driver.js";
export {
  CROSS_DRIVER_SPECS,
  conformanceCases,
  findCase,
  SINGLE_DEVICE_SPECS,
} from "./cases.js";
export {
  createDumbBo,
  type DeviceUnderTest,
  type DriverUnderTest,
  type KmsUnderTest,
  mapDumbBo,
  type PrimeUnderTest,
  type RegisteredDevice,
  registerDevice,
} from "./driver-under-test.js";
export {
  bindCase,
  type CaseBody,
  type CaseContext,
  type CaseResult,
  type CaseRunOptions,
  type CaseSpec,
  type ConformanceCase,
  ConformanceCheckError,
  caseScenario,
  describeFailure,
  formatCaseFailure,
  formatCaseResult,
  HARNESS_TASKS,
  type MinimizedFailure,
  minimizeCaseFailure,
  RACE_DEFAULTS,
  runCaseSpec,
  SEQUENTIAL_DEFAULTS,
} from "./harness.js";
export { CASE_ORIGINS, caseOrigin } from "./origins.js";
export { TOGGLE_CASES, type ToggleCase, UNFINDABLE_TOGGLES } from "./toggle-cases.js";
