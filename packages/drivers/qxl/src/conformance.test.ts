/**
 * qxl's conformance run: every case of @primetime/conformance on qxl, and the cross-driver cases
 * between two qxl devices (cross-driver with vgem runs in the stress app, where both drivers are
 * installed).
 */

import { defineConformanceSuite } from "@primetime/conformance/vitest";
import { driverUnderTest } from "./driver-under-test.js";

defineConformanceSuite(driverUnderTest, [driverUnderTest], { dfsSchedules: 30 });
