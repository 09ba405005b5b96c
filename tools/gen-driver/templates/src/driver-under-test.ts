/**
 * __name__ as a driver under test (`DriverUnderTest` of @primetime/gem): how the conformance
 * suite and the stress harness register a __name__ device. Its buffers are dumb buffers, so the
 * suite's default `createBo`/`mapBo` fit it.
 */

import type { DriverUnderTest } from "@primetime/gem";
import { __NAME___DRIVER_NAME, create__Name__ } from "./__name__-drv.js";

export const driverUnderTest: DriverUnderTest = {
  name: __NAME___DRIVER_NAME,
  register: (kernel) => create__Name__(kernel),
};

/** The same descriptor under a name that says which driver it is. */
export const __name__UnderTest: DriverUnderTest = driverUnderTest;
