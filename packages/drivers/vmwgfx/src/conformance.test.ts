/**
 * vmwgfx's conformance run: every case of @primetime/conformance on vmwgfx (its GEM buffers:
 * flink, PRIME self-import, the races, ADDFB2/RMFB over dumb buffers, i.e. surface framebuffers),
 * and the cross-driver cases between two vmwgfx devices. The KMS cases take vmwgfx's answers
 * from its descriptor (driver-under-test.ts): -ESRCH for an unknown handle, and no obj[] in a
 * surface framebuffer, so kms_fb_handle/* is skipped as IGT's igt_require() would.
 * Like every clean baseline it runs with the known windows' fix switches on (the suite's default,
 * baselineFixes()): with vmwgfx.dumb-put-before-last-use open, gem_flink_race/flink_close and
 * prime_self_import/export-vs-gem_close-race reach that window (races.test.ts checks it), so
 * this run also checks that default.
 */

import { defineConformanceSuite } from "@primetime/conformance/vitest";
import { driverUnderTest } from "./driver-under-test.js";

defineConformanceSuite(driverUnderTest, [driverUnderTest], { dfsSchedules: 100 });
