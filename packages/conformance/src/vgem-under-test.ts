/**
 * vgem as a driver under test: the reference driver, and the default partner of cross-driver
 * cases (two vgem devices are two foreign devices to each other).
 */

import { createVgem } from "@primetime/vgem";
import type { DriverUnderTest } from "./driver-under-test.js";

export const vgemUnderTest: DriverUnderTest = {
  name: "vgem",
  register: (kernel) => createVgem(kernel),
};
