/**
 * vmwgfx's conformance run: every case of @primetime/conformance on vmwgfx (its GEM buffers:
 * flink, PRIME self-import, the races), and the cross-driver cases between two vmwgfx devices.
 */

import { defineConformanceSuite } from "@primetime/conformance/vitest";
import { driverUnderTest } from "./driver-under-test.js";

defineConformanceSuite(driverUnderTest, [driverUnderTest], { dfsSchedules: 100 });
