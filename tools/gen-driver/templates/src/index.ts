/**
 * @primetime/__name__: a DRM driver (see README.md): GEM objects, dumb buffers, mmap, flink and
 * PRIME.
 */

export * from "./__name__-drv.js";
export { __name__UnderTest, driverUnderTest } from "./driver-under-test.js";
