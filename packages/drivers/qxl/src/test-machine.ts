/**
 * The machine qxl's own tests run on (exported as @primetime/qxl/testing): a kernel with one (or two)
 * qxl devices, userspace processes talking to them through raw syscalls, and the helpers a qxl
 * client (the X driver, spice's guest agent) would use: ALLOC, ALLOC_SURF, MAP, EXECBUFFER of
 * this model's drawables with their relocations written into the caller's memory.
 */

import {
  DRM_CLOEXEC,
  DRM_IOCTL_AUTH_MAGIC,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_MAGIC,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_RDWR,
} from "@primetime/gem";
import {
  Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import {
  Completion,
  formatSplat,
  type RunResult,
  Simulation,
  type StrategySpec,
  WaitQueue,
} from "@primetime/sim";
import {
  QXL_CMD_DRAW,
  QXL_DRAW_CHECKSUM,
  QXL_DRAW_COPY,
  QXL_DRAW_FILL,
  QXL_RELEASE_INFO_SIZE,
  QXL_SIM_DRAW,
  QXL_SIM_DRAW_SIZE,
} from "./qxl-dev.js";
import {
  DRM_IOCTL_QXL_ALLOC,
  DRM_IOCTL_QXL_ALLOC_SURF,
  DRM_IOCTL_QXL_EXECBUFFER,
  DRM_IOCTL_QXL_MAP,
  DRM_IOCTL_QXL_UPDATE_AREA,
  DRM_QXL_COMMAND_SIZE,
  DRM_QXL_RELOC_SIZE,
  type DrmQxlReloc,
  encodeDrmQxlCommand,
  encodeDrmQxlReloc,
  QXL_RELOC_TYPE_BO,
  QXL_RELOC_TYPE_SURF,
} from "./qxl-drm-uapi.js";
import {
  type CreateQxlOptions,
  createQxl,
  destroyQxl,
  type QxlDeviceHandle,
  qxlSettleDevice,
} from "./qxl-drv.js";
import { putUnalignedLe32, putUnalignedLe64 } from "./unaligned.js";

export interface QxlMachine {
  kernel: Kernel;
  sim: Simulation;
  /** The first device. */
  qxl: QxlDeviceHandle;
  /** Every device (cardN order). */
  qxls: QxlDeviceHandle[];
  /** Asks the display server (the DRM master of device `dev`) to AUTH_MAGIC a client's magic. */
  authMagic(magic: number, dev?: number): Promise<number>;
}

export interface RunQxlOptions {
  seed?: number;
  toggles?: string[];
  strategy?: StrategySpec;
  device?: CreateQxlOptions;
  /** Number of qxl devices (default 1). */
  devices?: number;
}

/**
 * Boots a kernel with qxl devices, runs `body` in the main task (it spawns the processes),
 * destroys the devices and runs a leak check with nothing exempt. The devices' guest-bug logs
 * must stay empty: a "guest bug" is the driver sending the device a malformed command.
 */
export function runQxl(
  body: (m: QxlMachine) => Promise<void>,
  opts: RunQxlOptions = {},
): Promise<RunResult> {
  const sim = new Simulation({
    seed: opts.seed ?? 1,
    toggles: opts.toggles,
    strategy: opts.strategy,
  });
  return sim.run(() => qxlMachineMain(sim, body, opts.device, opts.devices));
}

/** The main task of a qxl machine (shared by runQxl() and explore() scenarios). */
export async function qxlMachineMain(
  sim: Simulation,
  body: (m: QxlMachine) => Promise<void>,
  device?: CreateQxlOptions,
  devices = 1,
): Promise<void> {
  const kernel = Kernel.boot();
  const qxls: QxlDeviceHandle[] = [];
  for (let i = 0; i < devices; i++) qxls.push(await createQxl(kernel, device));
  // The display server: opens the cards first (so it is their master) and authenticates clients.
  const opened = new Completion("server opened");
  const requests: { magic: number; dev: number; ret: number; done: Completion }[] = [];
  const wake = new WaitQueue("Xorg requests");
  let finished = false;
  const serverFds: number[] = [];
  const server = kernel.spawnProcess("Xorg", async (p) => {
    for (const q of qxls) serverFds.push(await p.open(q.card, O_RDWR));
    opened.complete();
    for (;;) {
      const r = requests.shift();
      if (r) {
        r.ret = await p.ioctl(serverFds[r.dev]!, DRM_IOCTL_AUTH_MAGIC, { magic: r.magic });
        r.done.complete();
        continue;
      }
      if (finished) break;
      await wake.wait("Xorg waits for clients");
    }
    for (const fd of serverFds) await p.close(fd);
  });
  await opened.wait();
  if (serverFds.some((fd) => fd < 0)) throw new Error(`Xorg: open = ${serverFds}`);
  const authMagic = async (magic: number, dev = 0): Promise<number> => {
    const r = { magic, dev, ret: 0, done: new Completion("AUTH_MAGIC") };
    requests.push(r);
    wake.wakeAll();
    await r.done.wait();
    return r.ret;
  };
  await body({ kernel, sim, qxl: qxls[0]!, qxls, authMagic });
  finished = true;
  wake.wakeAll();
  await server.wait();
  for (const q of qxls) await qxlSettle(kernel, q);
  const bugs = qxls.flatMap((q) => q.qdev.hw.guestBugs);
  for (const q of qxls) await destroyQxl(q);
  await kernel.checkLeaks();
  if (bugs.length) sim.report("warn", `qxl guest bugs: ${bugs.join("; ")}`);
}

/**
 * Waits (in virtual time) until the device is idle and has handed every release back, and the
 * garbage collector has freed them: what unloading the driver needs (qxl_device_fini() waits
 * for the releases, but its count misses the DESTROY commands' releases, as in the kernel).
 */
export function qxlSettle(kernel: Kernel, qxl: QxlDeviceHandle): Promise<void> {
  return qxlSettleDevice(kernel, qxl.qdev);
}

/** Spawns a process running `fn` and waits for it; a non-zero exit is a warn splat. */
export async function runProcess(
  m: QxlMachine,
  name: string,
  fn: (p: Process) => Promise<void>,
): Promise<void> {
  const p = m.kernel.spawnProcess(name, fn);
  const code = await p.wait();
  if (code !== 0) m.sim.report("warn", `process ${name} exited with ${code}`);
}

/** Throws with the formatted splats unless the run ended ok without any splat. */
export function expectClean(r: RunResult): void {
  if (r.outcome !== "ok" || r.splats.length > 0) {
    throw new Error(
      `run not clean: ${r.outcome}${r.message ? ` (${r.message})` : ""}\n${r.splats.map((s) => formatSplat(s)).join("\n")}`,
    );
  }
}

/** Throws unless `ret` is `want`. */
export function expectRet(ret: number, want: number, what: string): void {
  if (ret !== want) throw new Error(`${what}: returned ${ret}, expected ${want}`);
}

/**
 * Opens the device's card node and has the display server authenticate the new file
 * (GET_MAGIC here, AUTH_MAGIC by the master): qxl's ioctls are all DRM_AUTH.
 */
export async function openQxl(p: Process, m: QxlMachine, dev = 0): Promise<number> {
  const card = m.qxls[dev]!.card;
  const fd = await p.open(card, O_RDWR);
  if (fd < 0) throw new Error(`open(${card}) = ${fd}`);
  const auth = { magic: 0 };
  expectRet(await p.ioctl(fd, DRM_IOCTL_GET_MAGIC, auth), 0, "GET_MAGIC");
  expectRet(await m.authMagic(auth.magic, dev), 0, "AUTH_MAGIC");
  return fd;
}

/** QXL_ALLOC; returns the handle (or the negative errno with `raw`). */
export async function qxlAlloc(p: Process, fd: number, size: number): Promise<number> {
  const arg = { size, handle: 0 };
  const r = await p.ioctl(fd, DRM_IOCTL_QXL_ALLOC, arg);
  return r < 0 ? r : arg.handle;
}

/** QXL_ALLOC_SURF of a 32 bpp surface; returns the handle or a negative errno. */
export async function qxlAllocSurf(
  p: Process,
  fd: number,
  width: number,
  height: number,
): Promise<number> {
  const arg = { format: 32, width, height, stride: width * 4, handle: 0, pad: 0 };
  const r = await p.ioctl(fd, DRM_IOCTL_QXL_ALLOC_SURF, arg);
  return r < 0 ? r : arg.handle;
}

/** GEM_CLOSE. */
export function gemClose(p: Process, fd: number, handle: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle, pad: 0 });
}

/** GEM_FLINK; returns the name or a negative errno. */
export async function gemFlink(p: Process, fd: number, handle: number): Promise<number> {
  const arg = { handle, name: 0 };
  const r = await p.ioctl(fd, DRM_IOCTL_GEM_FLINK, arg);
  return r < 0 ? r : arg.name;
}

/** GEM_OPEN; returns the handle or a negative errno. */
export async function gemOpen(p: Process, fd: number, name: number): Promise<number> {
  const arg = { name, handle: 0, size: 0 };
  const r = await p.ioctl(fd, DRM_IOCTL_GEM_OPEN, arg);
  return r < 0 ? r : arg.handle;
}

/** PRIME_HANDLE_TO_FD; returns the fd or a negative errno. */
export async function primeExport(p: Process, fd: number, handle: number): Promise<number> {
  const arg = { handle, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
  const r = await p.ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, arg);
  return r < 0 ? r : arg.fd;
}

/** PRIME_FD_TO_HANDLE; returns the handle or a negative errno. */
export async function primeImport(p: Process, fd: number, dmabuf: number): Promise<number> {
  const arg = { handle: 0, flags: 0, fd: dmabuf };
  const r = await p.ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, arg);
  return r < 0 ? r : arg.handle;
}

/** QXL_MAP + mmap of `size` bytes; returns the address. */
export async function qxlMap(
  p: Process,
  fd: number,
  handle: number,
  size: number,
): Promise<number> {
  const arg = { offset: 0, handle, pad: 0 };
  expectRet(await p.ioctl(fd, DRM_IOCTL_QXL_MAP, arg), 0, "QXL_MAP");
  const addr = await p.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, arg.offset);
  if (addr < 0) throw new Error(`mmap = ${addr}`);
  return addr;
}

/** UPDATE_AREA of the whole `width` x `height` surface. */
export function qxlUpdateArea(
  p: Process,
  fd: number,
  handle: number,
  width: number,
  height: number,
): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_QXL_UPDATE_AREA, {
    handle,
    top: 0,
    left: 0,
    bottom: height,
    right: width,
    pad: 0,
  });
}

/** Where qxlWriteDraw() puts each structure in its page (offsets from the page). */
const DRAW_CMD_AT = 0;
const DRAW_RELOCS_AT = 256;
const DRAW_COMMAND_AT = 1024;
const DRAW_BLOCK_SIZE = DRAW_COMMAND_AT + DRM_QXL_COMMAND_SIZE;

/**
 * qxlWriteDraw()'s blocks, kept for the next drawable once their store has copied them (zeroed
 * again when taken): a 1 KiB array has a backing store of its own to allocate and sweep, and was
 * the most expensive line of a drawable. A block whose store never returns (its run ended, its
 * thread exited) is simply not kept.
 */
const drawBlocks: Uint8Array[] = [];

/** One drawable: `dst` is a buffer (handle + offset) or a surface (its handle, offset in it). */
export interface Draw {
  op: "fill" | "copy" | "checksum";
  size: number;
  value?: number;
  dst: { handle: number; offset: number; surface?: boolean };
  src?: { handle: number; offset: number };
}

/**
 * EXECBUFFER of one drawable: writes the command bytes, its relocations and the struct
 * drm_qxl_command into an anonymous mapping of the caller and submits it. Returns the ioctl's
 * result, or the negative errno of the mmap or store that failed before it (allocations can fail
 * under fault injection: a caller tells a failed syscall from a broken model).
 */
export async function qxlExecDraw(p: Process, fd: number, d: Draw): Promise<number> {
  const page = await qxlPrepareDraw(p, d);
  if (page < 0) return page;
  const ret = await qxlSubmitDraw(p, fd, page);
  expectRet(await p.munmap(page, 4096), 0, "munmap");
  return ret;
}

/** EXECBUFFER of the drawable qxlPrepareDraw() wrote at `page`. */
export function qxlSubmitDraw(p: Process, fd: number, page: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_QXL_EXECBUFFER, {
    flags: 0,
    commands_num: 1,
    commands: page + DRAW_COMMAND_AT,
  });
}

/**
 * Writes one drawable, its relocations and its struct drm_qxl_command into a new anonymous page
 * of the caller; returns the page's address (the drm_qxl_command is at +1024), or the negative
 * errno of the mmap or store that failed (the page unmapped again).
 */
export async function qxlPrepareDraw(p: Process, d: Draw): Promise<number> {
  const page = await p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page < 0) return page;
  const ret = await qxlWriteDraw(p, page, d);
  if (ret < 0) {
    expectRet(await p.munmap(page, 4096), 0, "munmap");
    return ret;
  }
  return page;
}

/**
 * Writes one drawable, its relocations and its struct drm_qxl_command into `page`, a writable
 * page of the caller's (the drm_qxl_command at +1024, what qxlSubmitDraw() submits); 0, or the
 * negative errno of the store that failed. Userspace builds the three in its own memory and the
 * kernel copies each once (copy_from_user() in qxl_execbuffer_ioctl() and
 * qxl_process_single_command()), so this is one store of the page's first bytes: a task-local
 * write that no other task can observe before the ioctl, hence one scheduling point. A client that
 * draws often keeps one such page for its commands, as a userspace driver keeps its command
 * buffer.
 */
export async function qxlWriteDraw(p: Process, page: number, d: Draw): Promise<number> {
  const block = drawBlocks.pop()?.fill(0) ?? new Uint8Array(DRAW_BLOCK_SIZE);
  const op = d.op === "fill" ? QXL_DRAW_FILL : d.op === "copy" ? QXL_DRAW_COPY : QXL_DRAW_CHECKSUM;
  putUnalignedLe32(op, block, DRAW_CMD_AT + QXL_SIM_DRAW.op);
  putUnalignedLe32(d.value ?? 0, block, DRAW_CMD_AT + QXL_SIM_DRAW.value);
  putUnalignedLe32(d.size, block, DRAW_CMD_AT + QXL_SIM_DRAW.size);
  const relocs: DrmQxlReloc[] = [];
  if (d.dst.surface) {
    relocs.push({
      src_offset: 0,
      dst_offset: QXL_RELEASE_INFO_SIZE + QXL_SIM_DRAW.surfaceId,
      src_handle: d.dst.handle,
      dst_handle: 0,
      reloc_type: QXL_RELOC_TYPE_SURF,
      pad: 0,
    });
    putUnalignedLe64(d.dst.offset, block, DRAW_CMD_AT + QXL_SIM_DRAW.dst);
  } else {
    relocs.push({
      src_offset: d.dst.offset,
      dst_offset: QXL_RELEASE_INFO_SIZE + QXL_SIM_DRAW.dst,
      src_handle: d.dst.handle,
      dst_handle: 0,
      reloc_type: QXL_RELOC_TYPE_BO,
      pad: 0,
    });
  }
  if (d.src) {
    relocs.push({
      src_offset: d.src.offset,
      dst_offset: QXL_RELEASE_INFO_SIZE + QXL_SIM_DRAW.src,
      src_handle: d.src.handle,
      dst_handle: 0,
      reloc_type: QXL_RELOC_TYPE_BO,
      pad: 0,
    });
  }
  for (let i = 0; i < relocs.length; i++)
    block.set(encodeDrmQxlReloc(relocs[i]!), DRAW_RELOCS_AT + i * DRM_QXL_RELOC_SIZE);
  const c = encodeDrmQxlCommand({
    command: page + DRAW_CMD_AT,
    relocs: page + DRAW_RELOCS_AT,
    type: QXL_CMD_DRAW,
    command_size: QXL_SIM_DRAW_SIZE,
    relocs_num: relocs.length,
    pad: 0,
  });
  expectRet(c.length, DRM_QXL_COMMAND_SIZE, "drm_qxl_command size");
  block.set(c, DRAW_COMMAND_AT);
  const n = await p.writeMemory(page, block);
  // The store has copied the block into the page: the next drawable may reuse it.
  drawBlocks.push(block);
  if (n < 0) return n;
  expectRet(n, block.length, "store");
  return 0;
}

/** Loads `len` bytes at `addr`; throws on a fault. */
export async function load(p: Process, addr: number, len: number): Promise<Uint8Array> {
  const r = await p.readMemory(addr, len);
  if (typeof r === "number") throw new Error(`load at 0x${addr.toString(16)} = ${r}`);
  return r;
}

/** Closes a fd and throws on failure. */
export async function closeFd(p: Process, fd: number): Promise<void> {
  expectRet(await p.close(fd), 0, `close(${fd})`);
}

export { destroyQxl };
