/**
 * The descriptor a DRM driver package exports so that the conformance suite and the stress
 * harness can run it: a name, how to register one device of it on a freshly booted kernel, and
 * optionally how userspace creates and maps a buffer object on it. This is not kernel code: it is
 * the package's equivalent of a module's `module_init()` plus the driver-specific part of IGT's
 * library (`igt_<driver>.c`), typed here, in the DRM core every driver already depends on, so
 * that no driver depends on the suite's package (`@primetime/conformance` depends on no driver;
 * drivers devDepend on it and run it in their own tests).
 *
 * Every driver package exports `driverUnderTest` from its index:
 *
 * ```ts
 * export const driverUnderTest: DriverUnderTest = {
 *   name: "vgem",
 *   register: (kernel) => createVgem(kernel),
 * };
 * ```
 *
 * The userspace hooks get the test's open DRM fd as the structural `DrmUserFd` (libdrm's
 * `DrmFd` is one): a driver issues its own ioctls with `fd.ioctl()` and maps with `fd.mmap()`,
 * without depending on the userspace package above it.
 */

import type { Kernel } from "@primetime/kernel";
import type { DrmDevice } from "./drm-device.js";

/** A registered device and its nodes, as a driver's `register` may return it. */
export interface RegisteredDevice {
  readonly device: DrmDevice;
  /** The primary node ("/dev/dri/card0"); default: the device's primary minor. */
  readonly card?: string;
  /** The render node, if any; default: the device's render minor. */
  readonly render?: string | null;
  /**
   * The device's own memory is small (a drawn configuration: qxl's VRAM of a few buffers'
   * worth), so the driver's allocations and validations in it may fail for want of room
   * (TTM: ttm_bo_validate()'s -ENOMEM) and other buffers get evicted. A fuzzer's reference
   * model accepts that -ENOMEM from the calls that place buffers in device memory, on this
   * device only. Default false: the device holds more than any workload makes.
   */
  readonly scarceMemory?: boolean;
}

/** A CPU mapping of a buffer object, as userspace sees it (libdrm's `Mapping` is one). */
export interface BoMapping {
  /** Length in bytes. */
  readonly length: number;
  /** Loads `len` bytes at `offset` (default: all of it). A fault throws. */
  read(offset?: number, len?: number): Promise<Uint8Array>;
  /** Stores `bytes` at `offset`. A fault throws. */
  write(bytes: Uint8Array, offset?: number): Promise<void>;
  /** memset() of `len` bytes at `offset` (default: all of it). */
  fill(value: number, offset?: number, len?: number): Promise<void>;
  /** munmap(2). */
  unmap(): Promise<void>;
}

/** An open DRM fd in a test process (libdrm's `DrmFd` is one). Failures throw. */
export interface DrmUserFd {
  /** ioctl(2) by request number: 0 or a positive value; a failure throws (libdrm's SysError). */
  ioctl(cmd: number, arg?: object, name?: string): Promise<number>;
  /** mmap(2) of the fd at a fake offset. */
  mmap(offset: number, length: number, prot?: number): Promise<BoMapping>;
}

/**
 * What a harness asks of a drawn device (DriverUnderTest.registerDrawn) beyond the settings the
 * driver draws anyway. Without it (or with every field false) the driver draws and registers
 * exactly as before, so that recorded tokens replay the same device.
 */
export interface DrawnDeviceWants {
  /**
   * The harness scans out (the fuzzer's compositor flips, `cli --kms flip`): a driver whose
   * CRTCs are a registration option (qxl's `crtcs`, its qxl_num_crtc) registers some, their
   * number drawn after its other draws. A driver whose CRTCs are always there ignores it.
   */
  readonly scanout?: boolean;
}

/** A driver package as the conformance suite and the stress harness see it. */
export interface DriverUnderTest {
  /** Shown in test names and taken by the stress harness's `--driver` ("vgem"). */
  readonly name: string;
  /**
   * Allocates and registers one device on `kernel` (called in the main task of a fresh
   * simulation, once per device a case needs: cross-driver cases register two).
   */
  register(kernel: Kernel): Promise<DrmDevice | RegisteredDevice> | DrmDevice | RegisteredDevice;
  /**
   * As `register`, with the device's configuration drawn through `draw` (`draw(n, label)`: a
   * recorded choice in [0, n), the simulation's `choose()`) among the settings the real device
   * lets its user pick (qxl: QEMU's `num_surfaces`, the spice worker thread), so that a fuzzer
   * varies them per run and its tokens replay them. Default: none (a harness calls `register`).
   */
  registerDrawn?(
    kernel: Kernel,
    draw: (n: number, label: string) => number,
    want?: DrawnDeviceWants,
  ): Promise<DrmDevice | RegisteredDevice> | DrmDevice | RegisteredDevice;
  /**
   * Creates a buffer object of `size` bytes (a multiple of 4096) on `drm` and returns its
   * handle. Default (conformance): a 1024-pixel-wide 32 bpp dumb buffer.
   */
  createBo?(drm: DrmUserFd, size: number): Promise<number>;
  /**
   * Maps the first `size` bytes of a handle's object for the CPU. Default (conformance):
   * MODE_MAP_DUMB and mmap() of the DRM fd.
   */
  mapBo?(drm: DrmUserFd, handle: number, size: number): Promise<BoMapping>;
  /**
   * Before a leak check of a device that stays loaded (a harness's end of run, in the
   * simulation's main task, every process gone): waits until the device has finished and handed
   * back what userspace submitted, and gives back the device state only unloading the driver
   * frees, so that what is left is what userspace leaked. qxl: its releases (the device hands
   * them back) and the cached release bos later commands sub-allocate from (qxl_device_fini()
   * frees them). Default: nothing to do.
   */
  settle?(kernel: Kernel, device: DrmDevice): Promise<void>;
}

/** True if `v` looks like a DriverUnderTest (for registries that load driver packages). */
export function isDriverUnderTest(v: unknown): v is DriverUnderTest {
  if (typeof v !== "object" || v === null) return false;
  const d = v as Partial<DriverUnderTest>;
  return typeof d.name === "string" && d.name.length > 0 && typeof d.register === "function";
}
