/**
 * vgem as a driver under test (see `DriverUnderTest` of @primetime/gem): the reference driver of
 * the conformance suite, and the default partner of cross-driver cases (two vgem devices are two
 * foreign devices to each other). Its buffers are dumb buffers, so the suite's default
 * `createBo`/`mapBo` fit it.
 */

import type { DriverUnderTest } from "@primetime/gem";
import { createVgem, VGEM_DRIVER_NAME } from "./vgem-drv.js";

export const driverUnderTest: DriverUnderTest = {
  name: VGEM_DRIVER_NAME,
  register: (kernel) => createVgem(kernel),
};

/** The same descriptor under a name that says which driver it is. */
export const vgemUnderTest: DriverUnderTest = driverUnderTest;
