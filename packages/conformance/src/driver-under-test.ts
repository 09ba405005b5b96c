/**
 * How a driver package plugs into the conformance suite. The descriptor type, `DriverUnderTest`,
 * is the DRM core's (`@primetime/gem`), so that drivers do not depend on this package; each
 * driver package exports one as `driverUnderTest` and runs the suite in its own tests:
 *
 * ```ts
 * import { defineConformanceSuite } from "@primetime/conformance/vitest";
 * import { driverUnderTest } from "./index.js";
 * defineConformanceSuite(driverUnderTest, [driverUnderTest]);
 * ```
 *
 * The defaults fit any driver with dumb buffers: a buffer of `size` bytes is a 1024 x
 * (size / 4096) dumb buffer of 32 bpp, mapped through MODE_MAP_DUMB and mmap() on the DRM fd.
 */

import type {
  BoMapping,
  DriverUnderTest,
  DrmDevice,
  DrmUserFd,
  RegisteredDevice,
} from "@primetime/gem";
import type { Kernel } from "@primetime/kernel";
import type { DrmFd, Mapping } from "@primetime/libdrm";

export type { BoMapping, DriverUnderTest, DrmUserFd, RegisteredDevice };

/**
 * What the KMS cases (kms_addfb_basic, kms_fb_handle) need to know of a driver whose ->fb_create
 * is not the GEM framebuffer helpers' (drm_gem_fb_create()). A driver descriptor may carry it as
 * `kms` (structurally: the descriptor type is the DRM core's, which has no such field); a
 * driver without it gets the GEM helpers' answers.
 */
export interface KmsUnderTest {
  /**
   * The errno of ADDFB2 for a handle the file does not have. Default "ENOENT"
   * (drm_gem_fb_init_with_funcs()); vmwgfx's vmw_user_bo_lookup() says "ESRCH".
   */
  readonly unknownHandleErrno?: string;
  /**
   * Whether a framebuffer over a buffer of createBo() sets its drm_framebuffer's obj[], so that
   * drm_framebuffer_init() takes a GEM handle reference of it (f6bfc9afc751). Default true (the
   * GEM helpers); false for vmwgfx, whose dumb buffers give surface framebuffers without obj[]
   * (vmw_kms_new_framebuffer_surface()). The kms_fb_handle cases need it (as IGT's igt_require()).
   */
  readonly fbHasObj?: boolean;
}

/**
 * What the PRIME cases need to know of a driver whose ->prime_handle_to_fd is not the DRM core's
 * drm_gem_prime_handle_to_fd(). A driver descriptor may carry it as `prime` (structurally, as
 * `kms`); a driver without it gets the core's answers.
 */
export interface PrimeUnderTest {
  /**
   * The errno of PRIME_HANDLE_TO_FD for a GEM handle the file does not have. Default "ENOENT"
   * (drm_gem_prime_handle_to_fd()'s lookup); vmwgfx's vmw_prime_handle_to_fd() looks a buffer
   * handle up with vmw_user_bo_lookup() first: "ESRCH". A handle closed between such a driver's
   * lookup and the core's still gives the core's ENOENT.
   */
  readonly unknownHandleErrno?: string;
}

/** A device registered for a case, with the driver's helpers resolved. */
export interface DeviceUnderTest {
  readonly driver: DriverUnderTest;
  readonly device: DrmDevice;
  readonly card: string;
  readonly render: string | null;
  /** The driver's KMS answers (KmsUnderTest), defaults filled in. */
  readonly kms: Required<KmsUnderTest>;
  /** The driver's PRIME answers (PrimeUnderTest), defaults filled in. */
  readonly prime: Required<PrimeUnderTest>;
  createBo(drm: DrmFd, size: number): Promise<number>;
  mapBo(drm: DrmFd, handle: number, size: number): Promise<BoMapping>;
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
  const kms = (driver as { readonly kms?: KmsUnderTest }).kms;
  const prime = (driver as { readonly prime?: PrimeUnderTest }).prime;
  return {
    driver,
    device,
    card,
    render: reg.render !== undefined ? reg.render : (device.render?.path ?? null),
    kms: {
      unknownHandleErrno: kms?.unknownHandleErrno ?? "ENOENT",
      fbHasObj: kms?.fbHasObj ?? true,
    },
    prime: { unknownHandleErrno: prime?.unknownHandleErrno ?? "ENOENT" },
    createBo: driver.createBo ?? createDumbBo,
    mapBo: driver.mapBo ?? mapDumbBo,
  };
}
