/**
 * How a driver package plugs into the conformance suite: a name, a way to register a device on a
 * fresh kernel, and optionally how userspace creates and maps a buffer object on it.
 *
 * ```ts
 * export const vgemUnderTest: DriverUnderTest = { name: "vgem", register: (k) => createVgem(k) };
 * defineConformanceSuite(vgemUnderTest, [vgemUnderTest]);
 * ```
 *
 * The defaults fit any driver with dumb buffers: a buffer of `size` bytes is a 1024 x
 * (size / 4096) dumb buffer of 32 bpp, mapped through MODE_MAP_DUMB and mmap() on the DRM fd.
 */

import type { DrmDevice } from "@primetime/gem";
import type { Kernel } from "@primetime/kernel";
import type { DrmFd, Mapping } from "@primetime/libdrm";

/** A registered device and its nodes, as a driver's register function may return it. */
export interface RegisteredDevice {
  readonly device: DrmDevice;
  /** The primary node ("/dev/dri/card0"); default: the device's primary minor. */
  readonly card?: string;
  /** The render node, if any; default: the device's render minor. */
  readonly render?: string | null;
}

/** A driver package as the conformance suite sees it. */
export interface DriverUnderTest {
  /** Shown in test names ("vgem"). */
  readonly name: string;
  /**
   * Allocates and registers one device on `kernel` (called in the main task of a fresh
   * simulation, once per device the case needs: cross-driver cases register two).
   */
  register(kernel: Kernel): Promise<DrmDevice | RegisteredDevice> | DrmDevice | RegisteredDevice;
  /**
   * Creates a buffer object of `size` bytes (a multiple of 4096) on `drm` and returns its
   * handle. Default: a dumb buffer.
   */
  createBo?(drm: DrmFd, size: number): Promise<number>;
  /**
   * Maps the first `size` bytes of a handle's object for the CPU. Default: MODE_MAP_DUMB and
   * mmap() of the DRM fd.
   */
  mapBo?(drm: DrmFd, handle: number, size: number): Promise<Mapping>;
}

/** A device registered for a case, with the driver's helpers resolved. */
export interface DeviceUnderTest {
  readonly driver: DriverUnderTest;
  readonly device: DrmDevice;
  readonly card: string;
  readonly render: string | null;
  createBo(drm: DrmFd, size: number): Promise<number>;
  mapBo(drm: DrmFd, handle: number, size: number): Promise<Mapping>;
}

/** The default createBo: a 1024-pixel-wide, 32 bpp dumb buffer of `size` bytes. */
export async function createDumbBo(drm: DrmFd, size: number): Promise<number> {
  if (size <= 0 || size % 4096 !== 0)
    throw new RangeError(`bo size ${size} is not a page multiple`);
  const bo = await drm.createDumb({ width: 1024, height: size / 4096, bpp: 32 });
  return bo.handle;
}

/** The default mapBo: MODE_MAP_DUMB + mmap(). */
export function mapDumbBo(drm: DrmFd, handle: number, size: number): Promise<Mapping> {
  return drm.mapBuffer(handle, size);
}

function isDrmDevice(v: DrmDevice | RegisteredDevice): v is DrmDevice {
  return !("device" in v);
}

/** Registers a device of `driver` on `kernel` and resolves its nodes and helpers. */
export async function registerDevice(
  driver: DriverUnderTest,
  kernel: Kernel,
): Promise<DeviceUnderTest> {
  const r = await driver.register(kernel);
  const reg: RegisteredDevice = isDrmDevice(r) ? { device: r } : r;
  const device = reg.device;
  const card = reg.card ?? device.primary?.path;
  if (!card) throw new Error(`${driver.name}: the registered device has no primary node`);
  return {
    driver,
    device,
    card,
    render: reg.render !== undefined ? reg.render : (device.render?.path ?? null),
    createBo: driver.createBo ?? createDumbBo,
    mapBo: driver.mapBo ?? mapDumbBo,
  };
}
