/**
 * vgem's conformance run: every case of @primetime/conformance on vgem, the cross-driver cases
 * against a second vgem device, and the historic-bug toggles of the DRM stack (vgem is the
 * reference driver they are hunted on).
 */

import { defineConformanceSuite } from "@primetime/conformance/vitest";
import { driverUnderTest } from "./driver-under-test.js";

defineConformanceSuite(driverUnderTest, [driverUnderTest], { toggles: true });
