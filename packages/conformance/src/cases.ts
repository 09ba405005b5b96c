/**
 * The conformance cases of a driver, as plain runnable objects: what defineConformanceSuite()
 * registers with vitest and what the stress harness runs under explore.
 */

import { CORE_MASTER } from "./cases/core-master.js";
import { DMA_BUF_POLL } from "./cases/dma-buf-poll.js";
import { GEM_CHANGE_HANDLE } from "./cases/gem-change-handle.js";
import { GEM_FLINK_BASIC } from "./cases/gem-flink-basic.js";
import { GEM_FLINK_RACE } from "./cases/gem-flink-race.js";
import { KMS_FRAMEBUFFER } from "./cases/kms-framebuffer.js";
import { PRIME_BUSY } from "./cases/prime-busy.js";
import { PRIME_CROSS_DRIVER } from "./cases/prime-cross-driver.js";
import { PRIME_SELF_IMPORT } from "./cases/prime-self-import.js";
import { PRIME_VGEM } from "./cases/prime-vgem.js";
import { SYNCOBJ_BASIC } from "./cases/syncobj-basic.js";
import { VGEM_BASIC } from "./cases/vgem-basic.js";
import type { DriverUnderTest } from "./driver-under-test.js";
import { bindCase, type CaseSpec, type ConformanceCase } from "./harness.js";

/** Every single-device case spec, in IGT order (the derived dma-buf cases, then KMS framebuffers, then the drm_master race, last). */
export const SINGLE_DEVICE_SPECS: readonly CaseSpec[] = [
  ...GEM_FLINK_BASIC,
  ...GEM_FLINK_RACE,
  ...GEM_CHANGE_HANDLE,
  ...PRIME_SELF_IMPORT,
  ...VGEM_BASIC,
  ...SYNCOBJ_BASIC,
  ...PRIME_BUSY,
  ...DMA_BUF_POLL,
  ...KMS_FRAMEBUFFER,
  ...CORE_MASTER,
];

/** The cross-driver specs (export to the partner, import from it). */
export const CROSS_DRIVER_SPECS: readonly CaseSpec[] = PRIME_CROSS_DRIVER;

/**
 * IGT's prime_vgem subtests: the driver under test exports (vgem's part), the partner imports
 * (i915's part); bound per partner as "prime_vgem/<subtest>-to-<other>".
 */
export const PRIME_VGEM_SPECS: readonly CaseSpec[] = PRIME_VGEM;

/**
 * The cases of `driver`: every single-device case, then for each driver of `others` the
 * cross-driver cases ("prime_cross_driver/export-to-<other>" and "import-from-<other>"; for the
 * driver itself as its own partner, two devices of it, export-to only, the directions being the
 * same) and IGT's prime_vgem subtests with `driver` exporting ("prime_vgem/<subtest>-to-<other>").
 */
export function conformanceCases(
  driver: DriverUnderTest,
  others: readonly DriverUnderTest[] = [],
): ConformanceCase[] {
  const out = SINGLE_DEVICE_SPECS.map((s) => bindCase(s, driver));
  for (const other of others) {
    const [exportSpec, importSpec] = CROSS_DRIVER_SPECS;
    out.push(bindCase(exportSpec!, driver, other, `${exportSpec!.group}/export-to-${other.name}`));
    if (other !== driver)
      out.push(
        bindCase(importSpec!, driver, other, `${importSpec!.group}/import-from-${other.name}`),
      );
    for (const spec of PRIME_VGEM_SPECS)
      out.push(bindCase(spec, driver, other, `${spec.name}-to-${other.name}`));
  }
  return out;
}

/** The case called `name` among `driver`'s cases (throws if there is none). */
export function findCase(
  driver: DriverUnderTest,
  name: string,
  others: readonly DriverUnderTest[] = [],
): ConformanceCase {
  const c = conformanceCases(driver, others).find((x) => x.name === name);
  if (!c) throw new Error(`no conformance case "${name}" for ${driver.name}`);
  return c;
}
