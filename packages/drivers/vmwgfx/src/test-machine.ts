/**
 * The machine vmwgfx's own tests and race scenarios (scenarios.ts) run on: a kernel with one
 * vmwgfx device, and raw-syscall helpers for its uapi (the driver sits below libdrm: the helpers
 * return the kernel's -errno where a test wants to see it, and throw where a failure is a bug of
 * the test).
 */

import {
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_SYSTEM_PATH,
  type DmaHeapAllocationData,
} from "@primetime/dma-buf";
import {
  DRM_CLOEXEC,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_RDWR,
  type DrmFile,
  type DrmPrimeHandle,
} from "@primetime/gem";
import {
  isErr,
  Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { rcuBarrier } from "@primetime/rcu";
import { formatSplat, type RunResult, Simulation, sleep, yieldCpu } from "@primetime/sim";
import { ttmBoReserve } from "@primetime/ttm";
import {
  DRM_IOCTL_MODE_CURSOR,
  DRM_IOCTL_MODE_CURSOR2,
  DRM_IOCTL_MODE_GETRESOURCES,
} from "@primetime/uapi";
import { type VmwBo, vmwUserBoLookup } from "./vmwgfx-bo.js";
import {
  createVmwgfx,
  destroyVmwgfx,
  type VmwgfxDevice,
  type VmwgfxOptions,
} from "./vmwgfx-drv.js";
import {
  DRM_IOCTL_VMW_ALLOC_BO,
  DRM_IOCTL_VMW_CREATE_CONTEXT,
  DRM_IOCTL_VMW_CREATE_EXTENDED_CONTEXT,
  DRM_IOCTL_VMW_EXECBUF,
  DRM_IOCTL_VMW_FENCE_EVENT,
  DRM_IOCTL_VMW_FENCE_SIGNALED,
  DRM_IOCTL_VMW_FENCE_UNREF,
  DRM_IOCTL_VMW_FENCE_WAIT,
  DRM_IOCTL_VMW_GB_SURFACE_CREATE,
  DRM_IOCTL_VMW_GB_SURFACE_REF,
  DRM_IOCTL_VMW_HANDLE_CLOSE,
  DRM_IOCTL_VMW_SYNCCPU,
  DRM_IOCTL_VMW_UNREF_CONTEXT,
  DRM_IOCTL_VMW_UNREF_SURFACE,
  DRM_VMW_EVENT_FENCE_SIZE,
  DRM_VMW_EXECBUF_VERSION,
  DRM_VMW_FENCE_REP_SIZE,
  DRM_VMW_HANDLE_LEGACY,
  DRM_VMW_WAIT_OPTION_UNREF,
  type DrmVmwAllocBoArg,
  type DrmVmwEventFence,
  type DrmVmwExecbufArg,
  type DrmVmwFenceEventArg,
  type DrmVmwFenceRep,
  type DrmVmwFenceSignaledArg,
  type DrmVmwFenceWaitArg,
  type DrmVmwGbSurfaceCreateArg,
  type DrmVmwGbSurfaceRefArg,
  decodeDrmVmwEventFence,
  decodeDrmVmwFenceRep,
  drm_vmw_surface_flag_create_buffer,
  drm_vmw_surface_flag_scanout,
  drm_vmw_surface_flag_shareable,
  drm_vmw_synccpu_grab,
  drm_vmw_synccpu_read,
  drm_vmw_synccpu_release,
  encodeDrmVmwFenceRep,
  SVGA3D_INVALID_ID,
} from "./vmwgfx-uapi.js";

export interface VmwMachine {
  kernel: Kernel;
  sim: Simulation;
  vmw: VmwgfxDevice;
}

/** Boots a kernel with one vmwgfx device (configured by `device`). */
export async function bootVmw(sim: Simulation, device: VmwgfxOptions = {}): Promise<VmwMachine> {
  const kernel = Kernel.boot();
  const vmw = await createVmwgfx(kernel, device);
  return { kernel, sim, vmw };
}

/** Quiesces, destroys the device and runs a leak check with nothing exempt. */
export async function shutdownVmw(m: VmwMachine): Promise<void> {
  await m.kernel.quiesce();
  await rcuBarrier();
  await destroyVmwgfx(m.vmw);
  // Let a still running interrupt task drop its last fence references: the kernel's free_irq()
  // waits for running handlers, @primetime/ttm's fence driver fini() does not. Virtual time only
  // advances once every runnable task has run, so this sleep is that barrier.
  await sleep(1000, "synchronize_irq");
  await m.kernel.quiesce();
  await rcuBarrier();
  await m.kernel.checkLeaks();
}

/**
 * Runs `body` as the main thread of process "test" on a fresh vmwgfx machine (`opts.device`:
 * the device's configuration), then shuts the machine down with a leak check. An exception in the test is a `bug` splat of the run.
 */
export function runVmw(
  body: (p: Process, m: VmwMachine) => Promise<void>,
  opts: { seed?: number; toggles?: string[]; device?: VmwgfxOptions } = {},
): Promise<RunResult> {
  const sim = new Simulation({ seed: opts.seed ?? 1, toggles: opts.toggles });
  return sim.run(async () => {
    const m = await bootVmw(sim, opts.device);
    const p = m.kernel.spawnProcess("test", (proc) => body(proc, m));
    const code = await p.wait();
    if (code !== 0) sim.report("warn", `test process exited with ${code}`);
    await shutdownVmw(m);
  });
}

/** The splats of a run, one formatted splat per line group. */
export function splatText(r: RunResult): string {
  return r.splats.map((s) => formatSplat(s)).join("\n");
}

/** Throws with the formatted splats unless the run ended ok without any splat. */
export function expectClean(r: RunResult): void {
  if (r.outcome !== "ok" || r.splats.length > 0) {
    throw new Error(
      `run not clean: ${r.outcome}${r.message ? ` (${r.message})` : ""}\n${splatText(r)}`,
    );
  }
}

/** Throws unless `ret` is `want`. */
export function expectRet(ret: number, want: number, what: string): void {
  if (ret !== want) throw new Error(`${what}: returned ${ret}, expected ${want}`);
}

/** Opens a node O_RDWR; throws on failure. */
export async function openNode(p: Process, path: string): Promise<number> {
  const fd = await p.open(path, O_RDWR);
  if (fd < 0) throw new Error(`open(${path}) = ${fd}`);
  return fd;
}

/** A mob as IGT's igt_vmwgfx.h keeps it: handle, mmap offset, size. */
export interface VmwMob {
  handle: number;
  mapHandle: number;
  size: number;
}

/** DRM_VMW_ALLOC_BO's argument for a buffer of `size` bytes, its outputs cleared. */
export function allocBoArg(size: number): DrmVmwAllocBoArg {
  return {
    size,
    pad64: 0,
    map_handle: 0,
    handle: 0,
    cur_gmr_id: 0,
    cur_gmr_offset: 0,
    rep_pad64: 0,
  };
}

/** vmw_ioctl_mob_create(): DRM_VMW_ALLOC_BO. Returns the mob, or -errno. */
export async function mobCreate(p: Process, fd: number, size: number): Promise<VmwMob | number> {
  const arg = allocBoArg(size);
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_ALLOC_BO, arg);
  if (ret < 0) return ret;
  return { handle: arg.handle, mapHandle: arg.map_handle, size };
}

/** DRM_VMW_HANDLE_CLOSE of a buffer handle (-EINVAL for a handle the file does not have). */
export function handleClose(p: Process, fd: number, handle: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_VMW_HANDLE_CLOSE, { handle, pad64: 0 });
}

/** A surface as IGT keeps it: its handle and its buffer's handle, offset and size. */
export interface VmwSurface {
  handle: number;
  bufferHandle: number;
  bufferMapHandle: number;
  bufferSize: number;
}

/**
 * vmw_ioctl_create_surface_full() for a 1-D buffer surface of `width` texels: with `mob` as
 * guest memory, or a new buffer (create_buffer). Returns the surface or -errno.
 */
export async function surfaceCreate(
  p: Process,
  fd: number,
  width: number,
  mob: VmwMob | null,
  flags = drm_vmw_surface_flag_shareable,
): Promise<VmwSurface | number> {
  const arg: DrmVmwGbSurfaceCreateArg = {
    svga3d_flags: 0,
    format: 2,
    mip_levels: 1,
    drm_surface_flags: flags | (mob ? 0 : drm_vmw_surface_flag_create_buffer),
    multisample_count: 0,
    autogen_filter: 0,
    buffer_handle: mob ? mob.handle : SVGA3D_INVALID_ID,
    array_size: 0,
    width,
    height: 1,
    depth: 1,
    handle: 0,
    backup_size: 0,
    rep_buffer_handle: 0,
    buffer_size: 0,
    buffer_map_handle: 0,
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_GB_SURFACE_CREATE, arg);
  if (ret < 0) return ret;
  return {
    handle: arg.handle,
    bufferHandle: arg.rep_buffer_handle,
    bufferMapHandle: arg.buffer_map_handle,
    bufferSize: arg.buffer_size,
  };
}

/** vmw_ioctl_surface_ref(): DRM_VMW_GB_SURFACE_REF. Returns the surface as this file sees it. */
export async function surfaceRef(
  p: Process,
  fd: number,
  sid: number,
  handleType = DRM_VMW_HANDLE_LEGACY,
): Promise<VmwSurface | number> {
  const arg = { sid, handle_type: handleType } as DrmVmwGbSurfaceRefArg;
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_GB_SURFACE_REF, arg);
  if (ret < 0) return ret;
  return {
    handle: arg.handle,
    bufferHandle: arg.rep_buffer_handle,
    bufferMapHandle: arg.buffer_map_handle,
    bufferSize: arg.buffer_size,
  };
}

/** vmw_ioctl_surface_unref(): DRM_VMW_UNREF_SURFACE. */
export function surfaceUnref(p: Process, fd: number, sid: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_VMW_UNREF_SURFACE, { sid, handle_type: DRM_VMW_HANDLE_LEGACY });
}

/** prime_handle_to_fd_for_mmap(): PRIME_HANDLE_TO_FD with DRM_CLOEXEC | DRM_RDWR. */
export async function handleToFd(p: Process, fd: number, handle: number): Promise<number> {
  const arg: DrmPrimeHandle = { handle, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
  const ret = await p.ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, arg);
  return ret < 0 ? ret : arg.fd;
}

/** prime_fd_to_handle(): PRIME_FD_TO_HANDLE. */
export async function fdToHandle(p: Process, fd: number, dmabufFd: number): Promise<number> {
  const arg: DrmPrimeHandle = { handle: 0, flags: 0, fd: dmabufFd };
  const ret = await p.ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, arg);
  return ret < 0 ? ret : arg.handle;
}

/**
 * A page of the system heap as a dma-buf, a buffer of no GEM driver (the system heap must be
 * registered: registerSystemHeap()): opens the heap and DMA_HEAP_IOCTL_ALLOC, which must succeed.
 * Returns the heap's fd and the dma-buf's.
 */
export async function systemHeapDmabuf(p: Process): Promise<{ heap: number; dmabuf: number }> {
  const heap = await p.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
  const data: DmaHeapAllocationData = {
    len: 4096,
    fd: 0,
    fdFlags: O_RDWR | O_CLOEXEC,
    heapFlags: 0,
  };
  const ret = await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, data);
  if (ret !== 0) throw new Error(`DMA_HEAP_IOCTL_ALLOC of the system heap: ${ret}`);
  return { heap, dmabuf: data.fd };
}

/** vmw_ioctl_mob_map() + memcpy in: writes `bytes` at the start of the buffer. */
export async function mobWrite(
  p: Process,
  fd: number,
  mob: VmwMob,
  bytes: Uint8Array,
): Promise<void> {
  const addr = await p.mmap(0, mob.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, mob.mapHandle);
  if (addr < 0) throw new Error(`mmap = ${addr}`);
  const w = await p.writeMemory(addr, bytes);
  if (w < 0) throw new Error(`store = ${w}`);
  await p.munmap(addr, mob.size);
}

/** vmw_ioctl_mob_map() + memcpy out: reads `len` bytes at the start of the buffer. */
export async function mobRead(
  p: Process,
  fd: number,
  mob: VmwMob,
  len: number,
): Promise<Uint8Array> {
  const addr = await p.mmap(0, mob.size, PROT_READ, MAP_SHARED, fd, mob.mapHandle);
  if (addr < 0) throw new Error(`mmap = ${addr}`);
  const r = await p.readMemory(addr, len);
  if (typeof r === "number") throw new Error(`load = ${r}`);
  await p.munmap(addr, mob.size);
  return r;
}

/** A surface's buffer as a mob. */
export function surfaceMob(s: VmwSurface): VmwMob {
  return { handle: s.bufferHandle, mapHandle: s.bufferMapHandle, size: s.bufferSize };
}

/** Throws unless `v` is not a negative errno; returns it typed. */
export function ok<T>(v: T | number, what: string): T {
  if (typeof v === "number" && v < 0) throw new Error(`${what}: ${v}`);
  return v as T;
}

/** DRM_VMW_EXECBUF of a command string; returns the fence seqno or -errno. */
export async function execbuf(p: Process, fd: number, commands: string): Promise<number> {
  const arg = { commands, version: DRM_VMW_EXECBUF_VERSION, flags: 0, fence_seqno: 0 };
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_EXECBUF, arg);
  return ret < 0 ? ret : arg.fence_seqno;
}

/**
 * A page of anonymous memory for a struct drm_vmw_fence_rep, preset as Mesa does (`error` =
 * -EFAULT, `fd` = -1); `readOnly` maps a zeroed page PROT_READ instead, so the kernel's
 * copy_to_user() faults. Returns its address.
 */
export async function fenceRepPage(p: Process, readOnly = false): Promise<number> {
  const prot = readOnly ? PROT_READ : PROT_READ | PROT_WRITE;
  const addr = await p.mmap(0, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr < 0) throw new Error(`mmap = ${addr}`);
  if (readOnly) return addr;
  const preset = { handle: 0, mask: 0, seqno: 0, passed_seqno: 0, fd: -1, error: -14 };
  const w = await p.writeMemory(addr, encodeDrmVmwFenceRep(preset));
  if (w < 0) throw new Error(`store = ${w}`);
  return addr;
}

/** The struct drm_vmw_fence_rep userspace reads back at `addr`. */
export async function readFenceRep(p: Process, addr: number): Promise<DrmVmwFenceRep> {
  const r = await p.readMemory(addr, DRM_VMW_FENCE_REP_SIZE);
  if (typeof r === "number") throw new Error(`load = ${r}`);
  return decodeDrmVmwFenceRep(r);
}

/**
 * DRM_VMW_EXECBUF of a command string with a fence_rep address (0: none), flags and an
 * imported fence fd; returns the ioctl's result and the argument (fence_seqno).
 */
export async function execbufFence(
  p: Process,
  fd: number,
  commands: string,
  opts: { fenceRep?: number; flags?: number; importedFenceFd?: number } = {},
): Promise<{ ret: number; arg: DrmVmwExecbufArg }> {
  const arg: DrmVmwExecbufArg = {
    commands,
    version: DRM_VMW_EXECBUF_VERSION,
    flags: opts.flags ?? 0,
    fence_seqno: 0,
    fence_rep: opts.fenceRep ?? 0,
    context_handle: 0,
    imported_fence_fd: opts.importedFenceFd ?? -1,
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_EXECBUF, arg);
  return { ret, arg };
}

/** DRM_VMW_FENCE_WAIT of `handle` (timeout in µs, `unref`: DRM_VMW_WAIT_OPTION_UNREF). */
export async function fenceWait(
  p: Process,
  fd: number,
  handle: number,
  opts: { timeoutUs?: number; unref?: boolean; arg?: DrmVmwFenceWaitArg } = {},
): Promise<{ ret: number; arg: DrmVmwFenceWaitArg }> {
  const arg: DrmVmwFenceWaitArg = opts.arg ?? {
    handle,
    cookie_valid: 0,
    kernel_cookie: 0,
    timeout_us: opts.timeoutUs ?? 10_000_000,
    lazy: 0,
    flags: 1,
    wait_options: opts.unref ? DRM_VMW_WAIT_OPTION_UNREF : 0,
    pad64: 0,
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_FENCE_WAIT, arg);
  return { ret, arg };
}

/** DRM_VMW_FENCE_SIGNALED of `handle`. */
export async function fenceSignaled(
  p: Process,
  fd: number,
  handle: number,
): Promise<{ ret: number; arg: DrmVmwFenceSignaledArg }> {
  const arg = { handle, flags: 1, signaled: -1, passed_seqno: 0, signaled_flags: 0, pad64: 0 };
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_FENCE_SIGNALED, arg);
  return { ret, arg };
}

/** DRM_VMW_FENCE_UNREF of `handle`: 0 or -errno. */
export function fenceUnref(p: Process, fd: number, handle: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_VMW_FENCE_UNREF, { handle, pad64: 0 });
}

/** SYNCCPU grab (waits for the GPU) then release, for reading; returns 0 or -errno. */
export async function synccpuRead(p: Process, fd: number, handle: number): Promise<number> {
  const arg = { op: drm_vmw_synccpu_grab, flags: drm_vmw_synccpu_read, handle, pad64: 0 };
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_SYNCCPU, arg);
  if (ret < 0) return ret;
  arg.op = drm_vmw_synccpu_release;
  return p.ioctl(fd, DRM_IOCTL_VMW_SYNCCPU, arg);
}

/**
 * A client process blocked on a reservation the test holds: the client creates a mob of a page,
 * the test looks it up (vmwUserBoLookup(): a GEM reference of the test's) and reserves it
 * (ttm_bo_reserve()), then the client runs `call` on it, which must block on that reservation.
 * Resolves once the client's thread is blocked, with the process and the reserved buffer; the
 * caller unreserves it and drops its reference (vmwUserBoUnref()).
 */
export async function clientBlockedOnReservation(
  m: VmwMachine,
  call: (p: Process, fd: number, mob: VmwMob, file: DrmFile) => Promise<void>,
): Promise<{ p: Process; bo: VmwBo }> {
  let bo: VmwBo | null = null;
  let go = false;
  const p = m.kernel.spawnProcess("client", async (p: Process) => {
    const fd = await openNode(p, m.vmw.render);
    const mob = ok(await mobCreate(p, fd, 4096), "mob");
    const file = p.files.peek(fd)!.privateData as DrmFile;
    const b = await vmwUserBoLookup(file, mob.handle);
    if (isErr(b)) throw new Error(`lookup ${b}`);
    bo = b;
    while (!go) await yieldCpu();
    await call(p, fd, mob, file);
  });
  while (bo === null) await yieldCpu();
  const held = bo as VmwBo;
  const reserved = await ttmBoReserve(held, false, false, null);
  if (reserved !== 0) throw new Error(`ttm_bo_reserve: ${reserved}`);
  go = true;
  const t = p.threads[0]!;
  while (t.state !== "blocked") await yieldCpu();
  return { p, bo: held };
}

/**
 * DRM_VMW_FENCE_EVENT: an event with `userData` when the fence `handle` (0: a new fence)
 * signals; `fenceRep` (0: none) receives the fence's struct drm_vmw_fence_rep. 0 or -errno.
 */
export function fenceEvent(
  p: Process,
  fd: number,
  opts: { handle?: number; fenceRep?: number; userData?: bigint; flags?: number } = {},
): Promise<number> {
  const arg: DrmVmwFenceEventArg = {
    fence_rep: opts.fenceRep ?? 0,
    user_data: opts.userData ?? 0n,
    handle: opts.handle ?? 0,
    flags: opts.flags ?? 0,
  };
  return p.ioctl(fd, DRM_IOCTL_VMW_FENCE_EVENT, arg);
}

/**
 * read(2) of at most `count` bytes of DRM events from `fd` into a fresh anonymous page: the
 * read's result and the fence events it returned.
 */
export async function readFenceEvents(
  p: Process,
  fd: number,
  count = 4096,
): Promise<{ ret: number; events: DrmVmwEventFence[] }> {
  const buf = await p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf < 0) throw new Error(`mmap = ${buf}`);
  const ret = await p.read(fd, buf, count);
  const events: DrmVmwEventFence[] = [];
  if (ret > 0) {
    const bytes = await p.readMemory(buf, ret);
    if (typeof bytes === "number") throw new Error(`load = ${bytes}`);
    for (let off = 0; off + DRM_VMW_EVENT_FENCE_SIZE <= ret; off += DRM_VMW_EVENT_FENCE_SIZE)
      events.push(decodeDrmVmwEventFence(bytes, off));
  }
  await p.munmap(buf, 4096);
  return { ret, events };
}

/** DRM_VMW_CREATE_CONTEXT: the new context's handle, or the negative errno. */
export async function contextCreate(p: Process, fd: number): Promise<number> {
  const arg = { cid: 0, pad64: 0 };
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_CREATE_CONTEXT, arg);
  return ret < 0 ? ret : arg.cid;
}

/** DRM_VMW_CREATE_EXTENDED_CONTEXT of `req`: the handle, or the negative errno. */
export async function contextCreateExtended(p: Process, fd: number, req: number): Promise<number> {
  const arg = { req, cid: 0, pad64: 0 };
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_CREATE_EXTENDED_CONTEXT, arg);
  return ret < 0 ? ret : arg.cid;
}

/** DRM_VMW_UNREF_CONTEXT of `cid`. */
export function contextUnref(p: Process, fd: number, cid: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_VMW_UNREF_CONTEXT, { cid, pad64: 0 });
}

/**
 * GB_SURFACE_CREATE of a `width` x `height` A8R8G8B8 surface with its own buffer, marked scanout
 * or not (what ADDFB2 and the cursor ioctls accept as a surface framebuffer): the sid.
 */
export async function scanoutSurfaceCreate(
  p: Process,
  fd: number,
  width: number,
  height: number,
  scanout = true,
): Promise<number> {
  const arg: DrmVmwGbSurfaceCreateArg = {
    svga3d_flags: 0,
    format: 2,
    mip_levels: 1,
    drm_surface_flags:
      drm_vmw_surface_flag_shareable |
      drm_vmw_surface_flag_create_buffer |
      (scanout ? drm_vmw_surface_flag_scanout : 0),
    multisample_count: 0,
    autogen_filter: 0,
    buffer_handle: SVGA3D_INVALID_ID,
    array_size: 0,
    width,
    height,
    depth: 1,
    handle: 0,
    backup_size: 0,
    rep_buffer_handle: 0,
    buffer_size: 0,
    buffer_map_handle: 0,
  };
  const r = await p.ioctl(fd, DRM_IOCTL_VMW_GB_SURFACE_CREATE, arg);
  if (r < 0) throw new Error(`GB_SURFACE_CREATE = ${r}`);
  return arg.handle;
}

/** MODE_GETRESOURCES: the first CRTC's and the first connector's ids. */
export async function firstPipe(p: Process, fd: number): Promise<{ crtc: number; conn: number }> {
  const page = await p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const r = {
    fb_id_ptr: 0,
    crtc_id_ptr: page,
    connector_id_ptr: page + 64,
    encoder_id_ptr: 0,
    count_fbs: 0,
    count_crtcs: 4,
    count_connectors: 4,
    count_encoders: 0,
    min_width: 0,
    max_width: 0,
    min_height: 0,
    max_height: 0,
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, r);
  if (ret < 0) throw new Error(`GETRESOURCES = ${ret}`);
  const b = await p.readMemory(page, 68);
  if (typeof b === "number") throw new Error(`read ${b}`);
  await p.munmap(page, 4096);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { crtc: v.getUint32(0, true), conn: v.getUint32(64, true) };
}

/** A legacy cursor request (struct drm_mode_cursor2's fields; 64 x 64 unless given). */
export interface CursorReq {
  flags: number;
  crtc: number;
  handle?: number;
  width?: number;
  height?: number;
  x?: number;
  y?: number;
  hotX?: number;
  hotY?: number;
}

/** DRM_IOCTL_MODE_CURSOR2 with a hotspot, DRM_IOCTL_MODE_CURSOR without: 0 or -errno. */
export function cursorIoctl(p: Process, fd: number, r: CursorReq): Promise<number> {
  const arg = {
    flags: r.flags,
    crtc_id: r.crtc,
    x: r.x ?? 0,
    y: r.y ?? 0,
    width: r.width ?? 64,
    height: r.height ?? 64,
    handle: r.handle ?? 0,
  };
  if (r.hotX === undefined && r.hotY === undefined) return p.ioctl(fd, DRM_IOCTL_MODE_CURSOR, arg);
  return p.ioctl(fd, DRM_IOCTL_MODE_CURSOR2, { ...arg, hot_x: r.hotX ?? 0, hot_y: r.hotY ?? 0 });
}
