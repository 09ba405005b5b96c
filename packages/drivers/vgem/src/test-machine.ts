/**
 * The machine vgem's own tests run on (not exported from the package): a kernel with two vgem
 * devices and one process, talking to them through raw syscalls (the driver sits below libdrm,
 * so its tests speak the uapi directly and read the kernel's errno).
 */

import {
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  type DrmModeCreateDumb,
  type DrmModeMapDumb,
} from "@primetime/gem";
import { Kernel, MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE, type Process } from "@primetime/kernel";
import { type RunResult, Simulation } from "@primetime/sim";
import { createVgem, destroyVgem, type VgemDevice } from "./vgem-drv.js";

export interface VgemMachine {
  kernel: Kernel;
  sim: Simulation;
  a: VgemDevice;
  b: VgemDevice;
}

/**
 * Boots a kernel with two vgem devices, runs `body` as the main thread of process "test", then
 * destroys both devices and runs a leak check with nothing exempt: everything the test and the
 * devices allocated must be gone.
 */
export function runVgem(
  body: (p: Process, m: VgemMachine) => Promise<void>,
  opts: { seed?: number; toggles?: string[] } = {},
): Promise<RunResult> {
  const sim = new Simulation({ seed: opts.seed ?? 1, toggles: opts.toggles });
  return sim.run(async () => {
    const kernel = Kernel.boot();
    const a = await createVgem(kernel);
    const b = await createVgem(kernel);
    const m = { kernel, sim, a, b };
    const p = kernel.spawnProcess("test", (proc) => body(proc, m));
    const code = await p.wait();
    if (code !== 0) sim.report("warn", `test process exited with ${code}`);
    await destroyVgem(a);
    await destroyVgem(b);
    await kernel.checkLeaks();
  });
}

export { expectClean } from "@primetime/sim/testing";

/** Throws unless `ret` is `want` (test helper for raw syscalls, which return -errno). */
export function expectRet(ret: number, want: number, what: string): void {
  if (ret !== want) throw new Error(`${what}: returned ${ret}, expected ${want}`);
}

/** Opens a node O_RDWR; throws on failure. */
export async function openNode(p: Process, path: string): Promise<number> {
  const fd = await p.open(path, O_RDWR);
  if (fd < 0) throw new Error(`open(${path}) = ${fd}`);
  return fd;
}

/** MODE_CREATE_DUMB of `size` bytes (1024 x size/4096 x 32 bpp); returns the struct. */
export async function createDumb(p: Process, fd: number, size: number): Promise<DrmModeCreateDumb> {
  const arg: DrmModeCreateDumb = {
    width: 1024,
    height: size / 4096,
    bpp: 32,
    flags: 0,
    handle: 0,
    pitch: 0,
    size: 0,
  };
  expectRet(await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg), 0, "MODE_CREATE_DUMB");
  return arg;
}

/** MODE_MAP_DUMB + mmap of `size` bytes; returns the address. */
export async function mapDumb(
  p: Process,
  fd: number,
  handle: number,
  size: number,
): Promise<number> {
  const arg: DrmModeMapDumb = { handle, pad: 0, offset: 0 };
  expectRet(await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, arg), 0, "MODE_MAP_DUMB");
  const addr = await p.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, arg.offset);
  if (addr < 0) throw new Error(`mmap = ${addr}`);
  return addr;
}

/** Loads `len` bytes at `addr`; throws on a fault. */
export async function load(p: Process, addr: number, len: number): Promise<Uint8Array> {
  const r = await p.readMemory(addr, len);
  if (typeof r === "number") throw new Error(`load at 0x${addr.toString(16)} = ${r}`);
  return r;
}
