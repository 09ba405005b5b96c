/**
 * The package's own test support (not exported, not built): a small TTM driver on the simulated
 * GPU, shaped like amdgpu's use of TTM (VRAM and a TT aperture as range managers, evictions
 * VRAM -> TT -> SYSTEM, moves on the GPU's engine), with dumb buffers and GEM mmap through the
 * DRM core so userspace can map BOs; the machine that boots it; and helpers.
 */

import {
  type DmaResv,
  DmaResvUsage,
  dmaFencePut,
  dmaFenceWait,
  dmaResvWaitTimeout,
  MAX_SCHEDULE_TIMEOUT,
} from "@primetime/dma-buf";
import {
  DRIVER_GEM,
  DRIVER_RENDER,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  type DrmDevice,
  type DrmDriver,
  type DrmFile,
  type DrmGemObjectFuncs,
  type DrmKernel,
  type DrmModeCreateDumb,
  type DrmModeMapDumb,
  drmDevAlloc,
  drmDevPut,
  drmDevRegister,
  drmDevUnregister,
  drmGemHandleCreate,
  drmGemObjectPut,
  drmGemObjectRelease,
  drmGemPrivateObjectInit,
  type GemObject,
} from "@primetime/gem";
import {
  type Errno,
  isErr,
  Kernel,
  KmemCache,
  kfree,
  kmalloc,
  PAGE_SIZE,
  type Process,
} from "@primetime/kernel";
import {
  currentSimulation,
  formatSplat,
  type RunResult,
  type Scenario,
  Simulation,
  type SimulationOptions,
  warnOn,
} from "@primetime/sim";
import {
  crc32,
  type SimGpu,
  SimGpu as SimGpuClass,
  SystemMemory,
  systemAddress,
} from "@primetime/simgpu";
import {
  drmGemTtmMmap,
  ttmGemPrimeGetSgTable,
  ttmGemPrimePin,
  ttmGemPrimeUnpin,
} from "./drm-gem-ttm-helper.js";
import { type SimgpuFenceDriver, simgpuFenceDriverInit } from "./simgpu-fence.js";
import { ttmResourceGpuAddress, ttmSimgpuIoMemReserve, ttmSimgpuMove } from "./simgpu-move.js";
import {
  TtmBufferObject,
  ttmBoEvictionValuable,
  ttmBoInitReserved,
  ttmBoInitValidate,
  ttmBoPut,
  ttmBoReserve,
  ttmBoUnreserve,
} from "./ttm-bo.js";
import { ttmBoType } from "./ttm-bo-type.js";
import { ttmBoCpuAccess, ttmBoCpuPage } from "./ttm-bo-util.js";
import {
  TtmDevice,
  type TtmDeviceFuncs,
  ttmDeviceFini,
  ttmDeviceInit,
  ttmGlobBoCount,
} from "./ttm-device.js";
import {
  TTM_PL_FLAG_FALLBACK,
  TTM_PL_SYSTEM,
  TTM_PL_TT,
  TTM_PL_VRAM,
  type TtmPlacement,
  ttmPlace,
  ttmPlacement,
} from "./ttm-placement.js";
import { ttmRangeManFini, ttmRangeManInit, VramDrmMm } from "./ttm-range-manager.js";
import { ttmTtCreateDefault, ttmTtDestroyDefault, ttmTtMgrInit } from "./ttm-tt.js";

export const VRAM = ttmPlacement(ttmPlace(TTM_PL_VRAM));
export const TT = ttmPlacement(ttmPlace(TTM_PL_TT));
export const SYSTEM = ttmPlacement(ttmPlace(TTM_PL_SYSTEM));
/** VRAM, falling back to TT and SYSTEM (a typical userspace BO). */
export const ANY = ttmPlacement(
  ttmPlace(TTM_PL_VRAM),
  ttmPlace(TTM_PL_TT),
  ttmPlace(TTM_PL_SYSTEM),
);

export const testBoCache = new KmemCache("ttmtest_bo");

/** The test driver's BO: a TtmBufferObject embedding the GEM object. */
export class TestBo extends TtmBufferObject {}

export interface TtmMachine {
  sim: Simulation;
  kernel: Kernel;
  gpu: SimGpu;
  drm: DrmDevice;
  bdev: TtmDevice;
  fences: SimgpuFenceDriver;
  registered: boolean;
}

/** The GEM ->free: the GEM count is the main one; it holds one TTM reference. */
async function testGemFree(obj: GemObject): Promise<void> {
  await ttmBoPut(obj as TestBo);
}

/** The TTM ->destroy: GEM release and kfree. */
async function testBoDestroy(bo: TtmBufferObject): Promise<void> {
  await drmGemObjectRelease(bo);
  kfree(bo);
}

export const testGemFuncs: DrmGemObjectFuncs = {
  free: testGemFree,
  mmap: drmGemTtmMmap,
  pin: ttmGemPrimePin,
  unpin: ttmGemPrimeUnpin,
  getSgTable: ttmGemPrimeGetSgTable,
};

function testFuncs(m: { fences: SimgpuFenceDriver | null }): TtmDeviceFuncs {
  return {
    ttmTtCreate: ttmTtCreateDefault,
    ttmTtDestroy: ttmTtDestroyDefault,
    evictionValuable: ttmBoEvictionValuable,
    evictFlags(bo, placement) {
      // amdgpu_evict_flags(): VRAM goes to GTT (or the CPU domain), GTT to the CPU domain.
      const t = bo.resource!.memType;
      if (t === TTM_PL_VRAM)
        placement.placement.push(
          ttmPlace(TTM_PL_TT),
          ttmPlace(TTM_PL_SYSTEM, TTM_PL_FLAG_FALLBACK),
        );
      else placement.placement.push(ttmPlace(TTM_PL_SYSTEM));
    },
    move: (bo, evict, ctx, newMem, hop) => ttmSimgpuMove(m.fences!, bo, evict, ctx, newMem, hop),
    ioMemReserve: ttmSimgpuIoMemReserve,
  };
}

/**
 * Creates a BO of `size` bytes validated into `placement` (the amdgpu_bo_create() pattern):
 * kmalloc, drm_gem_private_object_init(), ttm_bo_init_validate(). The BO with one GEM reference
 * (holding the TTM one), or -errno (the BO is already destroyed).
 */
export async function testBoCreate(
  m: TtmMachine,
  size: number,
  placement: TtmPlacement,
): Promise<TestBo | Errno> {
  const bo = kmalloc(testBoCache, () => new TestBo(testGemFuncs));
  if (isErr(bo)) return bo;
  drmGemPrivateObjectInit(m.drm, bo, size);
  const ret = await ttmBoInitValidate(
    m.bdev,
    bo,
    ttmBoType.device,
    placement,
    1,
    false,
    null,
    testBoDestroy,
  );
  if (ret) return ret as Errno;
  return bo;
}

/**
 * Creates a BO of `pages` pages in `placement` sharing the reservation `resv` (amdgpu's per-VM
 * BOs): kmalloc, drm_gem_private_object_init(), ttm_bo_init_reserved() with `resv`, which the
 * caller holds. Throws if either fails.
 */
export async function testVmBoCreate(
  m: TtmMachine,
  pages: number,
  placement: TtmPlacement,
  resv: DmaResv,
): Promise<TestBo> {
  const bo = kmalloc(testBoCache, () => new TestBo(testGemFuncs));
  if (isErr(bo)) throw new Error("kmalloc");
  drmGemPrivateObjectInit(m.drm, bo, pages * PAGE_SIZE);
  const ctx = { interruptible: false, noWaitGpu: false, bytesMoved: 0 };
  const ret = await ttmBoInitReserved(m.bdev, bo, 0, placement, 1, ctx, resv, testBoDestroy);
  if (ret) throw new Error(`init ${ret}`);
  return bo;
}

/** MODE_CREATE_DUMB: a BO preferring VRAM, with a handle. */
async function testDumbCreate(
  file: DrmFile,
  dev: DrmDevice,
  args: DrmModeCreateDumb,
): Promise<number> {
  args.pitch = Math.ceil((args.width * args.bpp) / 8);
  args.size = Math.ceil((args.pitch * args.height) / PAGE_SIZE) * PAGE_SIZE;
  const m = machines.get(dev);
  if (!m || args.size === 0) return -22;
  const bo = await testBoCreate(m, args.size, ANY);
  if (isErr(bo)) return bo;
  const ret = await drmGemHandleCreate(file, bo);
  await drmGemObjectPut(bo);
  if (ret < 0) return ret;
  args.handle = ret;
  return 0;
}

const machines = new WeakMap<DrmDevice, TtmMachine>();

export const ttmTestDriver: DrmDriver = {
  name: "ttmtest",
  desc: "TTM test driver",
  major: 1,
  minor: 0,
  patchlevel: 0,
  driverFeatures: DRIVER_GEM | DRIVER_RENDER,
  dumbCreate: testDumbCreate,
};

export interface RunTtmOptions extends Omit<SimulationOptions, "seed"> {
  seed?: number;
  vramPages?: number;
  ttPages?: number;
  systemPages?: number;
  /** Register the DRM device (nodes, userspace access). */
  register?: boolean;
  /** The fence driver's hangcheck period (virtual ns); null: no hangcheck. */
  hangcheckNs?: number | null;
  /** ttm_tt_mgr_init()'s page limit: populating past it swaps other BOs out. */
  ttPagesLimit?: number;
}

/** Boots a kernel with the test driver on a fresh simulated GPU (inside a simulation). */
export async function bootTtm(opts: RunTtmOptions = {}): Promise<TtmMachine> {
  const { vramPages = 16, ttPages = 16, systemPages = 256, register = false } = opts;
  const sim = currentSimulation()!;
  const kernel = Kernel.boot();
  if (opts.ttPagesLimit !== undefined) ttmTtMgrInit(opts.ttPagesLimit);
  const gpu = new SimGpuClass({
    vramPages,
    systemMemory: new SystemMemory({ pages: systemPages }),
  });
  const holder: { fences: SimgpuFenceDriver | null } = { fences: null };
  const drm = await drmDevAlloc(ttmTestDriver, { devName: "ttmtest" });
  if (isErr(drm)) throw new Error(`drm_dev_alloc: ${drm}`);
  const bdev = new TtmDevice(testFuncs(holder), gpu, drm.vmaOffsetManager);
  ttmDeviceInit(bdev);
  ttmRangeManInit(bdev, TTM_PL_VRAM, false, vramPages, new VramDrmMm(gpu.vram));
  ttmRangeManInit(bdev, TTM_PL_TT, true, ttPages);
  const fences = simgpuFenceDriverInit(gpu, { hangcheckNs: opts.hangcheckNs });
  holder.fences = fences;
  const m: TtmMachine = { sim, kernel, gpu, drm, bdev, fences, registered: register };
  machines.set(drm, m);
  if (register) {
    const r = await drmDevRegister(drm, kernel as DrmKernel);
    if (r) throw new Error(`drm_dev_register: ${r}`);
  }
  return m;
}

/**
 * Tears the machine down (range managers, TTM device, fence driver, DRM device) and checks: no
 * leak (kmemleak), ttm bo_count 0, no VRAM or system page still allocated.
 */
export async function shutdownTtm(m: TtmMachine): Promise<void> {
  const { kernel, bdev, fences, drm, gpu } = m;
  if (m.registered) await drmDevUnregister(drm);
  await kernel.quiesce();
  await ttmRangeManFini(bdev, TTM_PL_VRAM);
  await ttmRangeManFini(bdev, TTM_PL_TT);
  await ttmDeviceFini(bdev);
  await fences.fini();
  await drmDevPut(drm);
  await kernel.checkLeaks();
  warnOn(ttmGlobBoCount() !== 0, `ttm bo_count ${ttmGlobBoCount()} after teardown`);
  warnOn(gpu.vram.allocatedPages !== 0, `${gpu.vram.allocatedPages} VRAM pages still allocated`);
  warnOn(gpu.system.allocated !== 0, `${gpu.system.allocated} system pages still allocated`);
}

/** A scenario (for explore()/replay()): boot, `body`, shutdown with its checks. */
export function ttmScenario(
  body: (m: TtmMachine) => Promise<void>,
  opts: RunTtmOptions = {},
): Scenario {
  return async () => {
    const m = await bootTtm(opts);
    await body(m);
    await shutdownTtm(m);
  };
}

/** Runs ttmScenario(body) once in a new simulation. */
export function runTtm(
  body: (m: TtmMachine) => Promise<void>,
  opts: RunTtmOptions = {},
): Promise<RunResult> {
  const {
    vramPages: _v,
    ttPages: _t,
    systemPages: _s,
    register: _r,
    hangcheckNs: _h,
    ttPagesLimit: _l,
    ...simOpts
  } = opts;
  const sim = new Simulation({ ...simOpts, seed: opts.seed ?? 1 });
  return sim.run(ttmScenario(body, opts));
}

/** Throws with the formatted splats unless the run ended ok without any splat. */
export function expectClean(r: RunResult): void {
  if (r.outcome !== "ok" || r.splats.length > 0) {
    throw new Error(
      `run not clean: ${r.outcome}${r.message ? ` (${r.message})` : ""}\n${r.splats.map((s) => formatSplat(s)).join("\n")}`,
    );
  }
}

/** Reserves, accesses (waiting for moves), unreserves. */
export async function boAccess(
  bo: TtmBufferObject,
  offset: number,
  buf: Uint8Array,
  write: boolean,
): Promise<number> {
  await ttmBoReserve(bo, false, false);
  const ret = await ttmBoCpuAccess(bo, offset, buf, write);
  await ttmBoUnreserve(bo);
  return ret;
}

/**
 * The GPU's CRC-32 of the BO's whole contents where it is now (a checksum command on the
 * engine, under the reservation so the BO cannot move meanwhile), or -errno.
 */
export async function gpuChecksum(m: TtmMachine, bo: TtmBufferObject): Promise<number> {
  await ttmBoReserve(bo, false, false);
  // The engine is in order, but a CPU populate may still be needed for a SYSTEM BO.
  await dmaResvWaitTimeout(bo.resv, DmaResvUsage.KERNEL, false, MAX_SCHEDULE_TIMEOUT);
  await ttmBoCpuPage(bo, 0); // populate / io reserve
  const src = ttmResourceGpuAddress(bo, bo.resource!);
  const page = m.gpu.system.allocPage()!;
  let ret = -22;
  if (src) {
    const fence = await m.fences.submit([
      { op: "checksum", src, size: bo.size, result: systemAddress([page], 0) },
    ]);
    if (!isErr(fence)) {
      await dmaFenceWait(fence, false);
      ret = fence.error || new DataView(page.data.buffer, page.data.byteOffset).getUint32(0, true);
      await dmaFencePut(fence);
    } else ret = fence;
  }
  m.gpu.system.freePage(page);
  await ttmBoUnreserve(bo);
  return ret;
}

export { crc32 };

/**
 * A dumb buffer of `pages` pages (1024 pixels of 32 bpp a row: one page a row) created on the
 * card `fd` and given its mmap offset, through the ioctls as userspace does: its handle, size
 * and fake offset. Throws if either ioctl fails.
 */
export async function createMapDumb(
  proc: Process,
  fd: number,
  pages: number,
): Promise<{ handle: number; size: number; offset: number }> {
  const c: DrmModeCreateDumb = {
    width: 1024,
    height: pages,
    bpp: 32,
    flags: 0,
    handle: 0,
    pitch: 0,
    size: 0,
  };
  const created = await proc.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, c);
  if (created !== 0) throw new Error(`MODE_CREATE_DUMB: ${created}`);
  const mp: DrmModeMapDumb = { handle: c.handle, pad: 0, offset: 0 };
  const mapped = await proc.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, mp);
  if (mapped !== 0) throw new Error(`MODE_MAP_DUMB: ${mapped}`);
  return { handle: c.handle, size: c.size, offset: mp.offset };
}
