/**
 * vmwgfx's conformance run: every case of @primetime/conformance on vmwgfx (its GEM buffers:
 * flink, PRIME self-import, the races), and the cross-driver cases between two vmwgfx devices.
 * Like every clean baseline it runs with the known windows' fix switches on (the suite's default,
 * baselineFixes()): with vmwgfx.dumb-put-before-last-use open, gem_flink_race/flink_close and
 * prime_self_import/export-vs-gem_close-race reach that window (races.test.ts checks it), so
 * this run also checks that default.
 */

import { defineConformanceSuite } from "@primetime/conformance/vitest";
import { driverUnderTest } from "./driver-under-test.js";

defineConformanceSuite(driverUnderTest, [driverUnderTest], { dfsSchedules: 100 });
