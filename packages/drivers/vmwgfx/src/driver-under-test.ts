/**
 * vmwgfx as a driver under test (`DriverUnderTest` of @primetime/gem): its buffers are dumb
 * buffers (GEM handles), so the suite's default `createBo`/`mapBo` fit it; surfaces, which have
 * their own handles, are exercised by the driver's own tests (vmw-ref-count.test.ts).
 */

import type { DriverUnderTest } from "@primetime/gem";
import { createVmwgfx, VMWGFX_DRIVER_NAME } from "./vmwgfx-drv.js";

export const driverUnderTest: DriverUnderTest = {
  name: VMWGFX_DRIVER_NAME,
  register: (kernel) => createVmwgfx(kernel),
};

/** The same descriptor under a name that says which driver it is. */
export const vmwgfxUnderTest: DriverUnderTest = driverUnderTest;
