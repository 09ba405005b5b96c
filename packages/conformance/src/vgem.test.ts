/**
 * vgem's conformance run (it lives here, not in packages/drivers/vgem: drivers are below this
 * package in the layering, so a driver's own package cannot import the suite).
 */

import { defineConformanceSuite } from "./suite.js";
import { vgemUnderTest } from "./vgem-under-test.js";

defineConformanceSuite(vgemUnderTest, [vgemUnderTest]);
