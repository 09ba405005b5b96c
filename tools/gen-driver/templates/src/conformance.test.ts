/**
 * The driver conformance suite (IGT's gem_flink_basic, gem_flink_race, prime_self_import and
 * cross-device PRIME, each with a leak check) run against __name__, with two __name__ devices
 * as each other's foreign device. Cross-driver PRIME with the other drivers runs in the stress
 * harness, where every driver is installed.
 */
import { defineConformanceSuite } from "@primetime/conformance/vitest";
import { driverUnderTest } from "./driver-under-test.js";

defineConformanceSuite(driverUnderTest, [driverUnderTest], { dfsSchedules: 100 });
