/**
 * Devices sized for the sharing workloads. A driver's `driverUnderTest` registers a device of
 * its default size (qxl: 4 MiB of VRAM plus 1 MiB of surface memory, as the conformance suite
 * wants); the sharing scenarios move at most a few dozen pages. Here qxl gets 64 pages of VRAM
 * and 64 of surface memory: more than a workload's buffers and release buffers, and under
 * pressure TTM evicts, which is a path of the model like any other. (The size was first chosen
 * for speed, when a device's VRAM was one array zeroed at every boot; simgpu now backs VRAM page
 * by page as it is touched, so the size no longer costs time, and it is kept because schedules
 * depend on it.) Its drawn registration (DriverUnderTest.registerDrawn: the private fuzz runs
 * draw the surface slots, the spice worker and, one run in four, a small VRAM) keeps the same
 * size otherwise, and says its memory is scarce (RegisteredDevice.scarceMemory: 64 pages are
 * less than qxl's default). Other drivers are registered as they are.
 */
import type { DriverUnderTest } from "@primetime/gem";
import type { Kernel } from "@primetime/kernel";
import { createQxl, QXL_DRIVER_NAME, registerDrawnQxl } from "@primetime/qxl";
import { findDriver } from "../../drivers.js";

/** VRAM and surface memory pages of the qxl devices of the sharing scenarios. */
export const SHARING_QXL_PAGES = { vramPages: 64, surfacePages: 64 } as const;

/**
 * `d`, registering a device sized for the sharing workloads (see the file comment). Only the
 * installed descriptors are resized: a scenario that passes its own (surface-reaper's qxl with
 * three surface slots, eviction-under-sharing's small VRAM) keeps it.
 */
export function sizedForSharing(d: DriverUnderTest): DriverUnderTest {
  if (d.name !== QXL_DRIVER_NAME || findDriver(d.name) !== d) return d;
  return { ...d, register: registerSharingQxl, registerDrawn: registerDrawnSharingQxl };
}

/** qxl's registration at the sharing scenarios' size (module-level: see Machine.process). */
function registerSharingQxl(kernel: Kernel): ReturnType<DriverUnderTest["register"]> {
  return createQxl(kernel, SHARING_QXL_PAGES);
}

/**
 * qxl's drawn registration (DriverUnderTest.registerDrawn: the surface slots, the spice worker
 * and sometimes a small VRAM drawn per run, the private fuzz runs) at the sharing scenarios' size.
 */
function registerDrawnSharingQxl(
  kernel: Kernel,
  draw: (n: number, label: string) => number,
): ReturnType<DriverUnderTest["register"]> {
  return registerDrawnQxl(kernel, draw, SHARING_QXL_PAGES);
}
