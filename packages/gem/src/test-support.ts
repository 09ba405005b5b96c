/**
 * The package's own test support (not exported from the package, not in its build): a tiny DRM
 * driver (page-backed GEM objects with dumb-buffer and driver-ioctl creation, PRIME export
 * through the core helpers and foreign import from page tables, and per-file open/close
 * accounting that WARNs when the core calls funcs->close for a handle whose funcs->open has not
 * run), the test machine that boots it, and the raw-ioctl userspace helpers the tests share.
 */

import type { DmaBufAttachment, SgTable } from "@primetime/dma-buf";
import {
  EINVAL,
  type Errno,
  isErr,
  Kernel,
  KmemCache,
  kfree,
  kmalloc,
  MAP_SHARED,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { point, type RunResult, Simulation, warnOn } from "@primetime/sim";
import {
  type DrmDevice,
  drmDevAlloc,
  drmDevPut,
  drmDevRegister,
  drmDevUnregister,
} from "./drm-device.js";
import {
  DRIVER_GEM,
  DRIVER_RENDER,
  DRM_AUTH,
  DRM_RENDER_ALLOW,
  type DrmDriver,
  type DrmGemObjectFuncs,
  drmIoctlDef,
} from "./drm-driver.js";
import type { DrmFile } from "./drm-file.js";
import {
  drmGemHandleCreate,
  drmGemObjectInit,
  drmGemObjectPut,
  drmGemObjectRelease,
  drmGemPrivateObjectInit,
  GemObject,
} from "./drm-gem.js";
import { drmGemPageVmOps } from "./drm-mmap.js";
import { drmGemPagesSgTable, drmPrimeGemDestroy } from "./drm-prime.js";
import {
  DRM_CLOEXEC,
  DRM_COMMAND_BASE,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOWR,
  type DrmGemFlink,
  type DrmGemOpen,
  type DrmModeCreateDumb,
  type DrmModeMapDumb,
  type DrmPrimeHandle,
  type DrmStructLayout,
} from "./uapi.js";

/** struct tiny_create: in `size`, out `handle`. */
export interface TinyCreate {
  size: number;
  handle: number;
}
export const TINY_CREATE_LAYOUT: DrmStructLayout = [
  ["size", "u64"],
  ["handle", "u32"],
  ["pad", "u32"],
];
/** Driver ioctl 0: create an object (DRM_RENDER_ALLOW). */
export const DRM_IOCTL_TINY_CREATE = DRM_IOWR(DRM_COMMAND_BASE + 0x00, TINY_CREATE_LAYOUT);
/** Driver ioctl 1: an entry without a handler (-EINVAL). */
export const DRM_IOCTL_TINY_INVALID = DRM_IOWR(DRM_COMMAND_BASE + 0x01, TINY_CREATE_LAYOUT);
/** Driver ioctl 2: like CREATE but DRM_AUTH without DRM_RENDER_ALLOW. */
export const DRM_IOCTL_TINY_CREATE_AUTH = DRM_IOWR(DRM_COMMAND_BASE + 0x02, TINY_CREATE_LAYOUT);

const tinyObjectCache = new KmemCache("tiny_object");

/** The per-file state of the tiny driver: funcs->open count per object. */
interface TinyFilePriv {
  opens: Map<GemObject, number>;
}

/** A tiny object: a GEM object with pages (its own, or a foreign dma-buf's). */
export class TinyObject extends GemObject {
  /** The page table of a foreign import (given back at free). */
  sgt: SgTable | null = null;
}

async function tinyFree(obj: GemObject): Promise<void> {
  const t = obj as TinyObject;
  await point(`tiny_free(${obj.name})`);
  if (t.importAttach) await drmPrimeGemDestroy(t, t.sgt);
  await drmGemObjectRelease(t);
  kfree(t);
}

async function tinyOpen(obj: GemObject, file: DrmFile): Promise<number> {
  await point(`tiny_open(${obj.name})`);
  const priv = file.driverPriv as TinyFilePriv;
  priv.opens.set(obj, (priv.opens.get(obj) ?? 0) + 1);
  return 0;
}

async function tinyClose(obj: GemObject, file: DrmFile): Promise<void> {
  await point(`tiny_close(${obj.name})`);
  const priv = file.driverPriv as TinyFilePriv;
  const n = priv.opens.get(obj) ?? 0;
  if (warnOn(n === 0, `tiny: funcs->close of ${obj.name} without funcs->open`)) return;
  if (n === 1) priv.opens.delete(obj);
  else priv.opens.set(obj, n - 1);
}

const tinyFuncs: DrmGemObjectFuncs = {
  free: tinyFree,
  open: tinyOpen,
  close: tinyClose,
  getSgTable: drmGemPagesSgTable,
  vmOps: drmGemPageVmOps,
};

/** Creates a page-backed object of `size` bytes (rounded up to pages) with one reference. */
export async function tinyObjectCreate(dev: DrmDevice, size: number): Promise<TinyObject | Errno> {
  await point("tiny_object_create");
  const obj = kmalloc(tinyObjectCache, () => new TinyObject(tinyFuncs));
  if (isErr(obj)) return obj;
  drmGemObjectInit(dev, obj, Math.ceil(size / PAGE_SIZE) * PAGE_SIZE);
  return obj;
}

/** Creates an object and a handle for it; drops the creation reference. */
async function tinyCreateWithHandle(file: DrmFile, size: number): Promise<number> {
  if (!size) return -EINVAL;
  const obj = await tinyObjectCreate(file.minor.dev, size);
  if (isErr(obj)) return obj;
  const handle = await drmGemHandleCreate(file, obj);
  await drmGemObjectPut(obj);
  return handle;
}

async function tinyCreateIoctl(_dev: DrmDevice, args: TinyCreate, file: DrmFile): Promise<number> {
  const h = await tinyCreateWithHandle(file, args.size);
  if (h < 0) return h;
  args.handle = h;
  return 0;
}

async function tinyDumbCreate(
  file: DrmFile,
  _dev: DrmDevice,
  args: DrmModeCreateDumb,
): Promise<number> {
  const pitch = args.width * Math.ceil(args.bpp / 8);
  const size = Math.ceil((pitch * args.height) / PAGE_SIZE) * PAGE_SIZE;
  const h = await tinyCreateWithHandle(file, size);
  if (h < 0) return h;
  args.handle = h;
  args.pitch = pitch;
  args.size = size;
  return 0;
}

async function tinyImportSgTable(
  dev: DrmDevice,
  attach: DmaBufAttachment,
  sgt: SgTable,
): Promise<GemObject | Errno> {
  const obj = kmalloc(tinyObjectCache, () => new TinyObject(tinyFuncs));
  if (isErr(obj)) return obj;
  drmGemPrivateObjectInit(dev, obj, attach.dmabuf.size);
  obj.pages = sgt.pages;
  obj.sgt = sgt;
  return obj;
}

/** The tiny driver's description. */
export function tinyDriver(name = "tiny"): DrmDriver {
  return {
    name,
    desc: "tiny test driver",
    major: 1,
    minor: 2,
    patchlevel: 3,
    driverFeatures: DRIVER_GEM | DRIVER_RENDER,
    ioctls: [
      drmIoctlDef(
        DRM_IOCTL_TINY_CREATE,
        tinyCreateIoctl,
        DRM_RENDER_ALLOW,
        TINY_CREATE_LAYOUT,
        "TINY_CREATE",
      ),
      drmIoctlDef(
        DRM_IOCTL_TINY_INVALID,
        null,
        DRM_RENDER_ALLOW,
        TINY_CREATE_LAYOUT,
        "TINY_INVALID",
      ),
      drmIoctlDef(
        DRM_IOCTL_TINY_CREATE_AUTH,
        tinyCreateIoctl,
        DRM_AUTH,
        TINY_CREATE_LAYOUT,
        "TINY_CREATE_AUTH",
      ),
    ],
    open: async (_dev, file) => {
      file.driverPriv = { opens: new Map() } satisfies TinyFilePriv;
      return 0;
    },
    postclose: async (_dev, file) => {
      const priv = file.driverPriv as TinyFilePriv;
      warnOn(priv.opens.size !== 0, `tiny: ${priv.opens.size} objects still open at postclose`);
    },
    dumbCreate: tinyDumbCreate,
    gemPrimeImportSgTable: tinyImportSgTable,
  };
}

/** Allocates and registers `n` tiny devices on `kernel` (card0.., renderD128..). */
export async function bootTinyDevices(kernel: Kernel, n = 1): Promise<DrmDevice[]> {
  const devs: DrmDevice[] = [];
  for (let i = 0; i < n; i++) {
    const dev = await drmDevAlloc(tinyDriver(`tiny${i}`));
    if (isErr(dev)) throw new Error(`drmDevAlloc: ${dev}`);
    const ret = await drmDevRegister(dev, kernel);
    if (ret) throw new Error(`drmDevRegister: ${ret}`);
    devs.push(dev);
  }
  return devs;
}

/** Unregisters the devices and drops their creation references. */
export async function shutdownTinyDevices(devs: DrmDevice[]): Promise<void> {
  for (const dev of devs) {
    await drmDevUnregister(dev);
    await drmDevPut(dev);
  }
}

// ---- The test machine ----------------------------------------------------------------------

export interface Machine {
  kernel: Kernel;
  devs: DrmDevice[];
}

/** Runs `body` on a fresh machine with `ndevs` tiny devices; leak-checks at the end. */
export async function runMachine(
  body: (m: Machine) => Promise<void>,
  opts: { ndevs?: number; seed?: number; toggles?: string[] } = {},
): Promise<RunResult> {
  return new Simulation({ seed: opts.seed ?? 1, toggles: opts.toggles }).run(async () => {
    const kernel = Kernel.boot();
    const devs = await bootTinyDevices(kernel, opts.ndevs ?? 1);
    await body({ kernel, devs });
    await shutdownTinyDevices(devs);
    await kernel.checkLeaks();
  });
}

/**
 * Registers one more tiny device on `m`, built from `driver` (a tinyDriver() variant), runs
 * `body` with it, then unregisters it and drops its creation reference.
 */
export async function withExtraDevice(
  m: Machine,
  driver: DrmDriver,
  body: (dev: DrmDevice) => Promise<void>,
): Promise<void> {
  const dev = await drmDevAlloc(driver);
  if (isErr(dev)) throw new Error(`drmDevAlloc: ${dev}`);
  const ret = await drmDevRegister(dev, m.kernel);
  if (ret) throw new Error(`drmDevRegister: ${ret}`);
  await body(dev);
  await drmDevUnregister(dev);
  await drmDevPut(dev);
}

/** Runs a process to completion on `m`'s kernel; returns its exit code. */
export async function runProcess(
  m: Machine,
  name: string,
  main: (p: Process) => Promise<void>,
): Promise<number> {
  const p = m.kernel.spawnProcess(name, main);
  return p.wait();
}

export { expectClean, splatText } from "@primetime/sim/testing";

// ---- Userspace: raw ioctls, -errno on failure -------------------------------------------------

/** MODE_CREATE_DUMB of `pages` pages (1024 x pages, 32 bpp): the handle, or -errno. */
export async function createBo(p: Process, fd: number, pages = 1): Promise<number> {
  const arg: Partial<DrmModeCreateDumb> = { width: 1024, height: pages, bpp: 32 };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
  return ret < 0 ? ret : (arg.handle as number);
}

/** GEM_FLINK: the name, or -errno. */
export async function flink(p: Process, fd: number, handle: number): Promise<number> {
  const arg: Partial<DrmGemFlink> = { handle };
  const ret = await p.ioctl(fd, DRM_IOCTL_GEM_FLINK, arg);
  return ret < 0 ? ret : (arg.name as number);
}

/** GEM_OPEN: the new handle, or -errno. */
export async function gemOpen(p: Process, fd: number, name: number): Promise<number> {
  const arg: Partial<DrmGemOpen> = { name };
  const ret = await p.ioctl(fd, DRM_IOCTL_GEM_OPEN, arg);
  return ret < 0 ? ret : (arg.handle as number);
}

/** GEM_CLOSE: 0 or -errno. */
export function gemClose(p: Process, fd: number, handle: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle, pad: 0 });
}

/** PRIME_HANDLE_TO_FD: the dma-buf fd, or -errno. */
export async function handleToFd(
  p: Process,
  fd: number,
  handle: number,
  flags = DRM_CLOEXEC,
): Promise<number> {
  const arg: Partial<DrmPrimeHandle> = { handle, flags, fd: -1 };
  const ret = await p.ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, arg);
  return ret < 0 ? ret : (arg.fd as number);
}

/** PRIME_FD_TO_HANDLE: the handle, or -errno. */
export async function fdToHandle(p: Process, fd: number, primeFd: number): Promise<number> {
  const arg: Partial<DrmPrimeHandle> = { fd: primeFd };
  const ret = await p.ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, arg);
  return ret < 0 ? ret : (arg.handle as number);
}

/** MODE_MAP_DUMB + a shared read-write mmap of `size` bytes: the address, or -errno. */
export async function mapBo(p: Process, fd: number, handle: number, size = 4096): Promise<number> {
  const arg: Partial<DrmModeMapDumb> = { handle };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, arg);
  if (ret < 0) return ret;
  return p.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, arg.offset as number);
}

/** The DrmFile behind `fd` of `p` (for assertions on kernel state). */
export function drmFileOf(p: Process, fd: number): DrmFile {
  return p.files.peek(fd)?.privateData as DrmFile;
}
