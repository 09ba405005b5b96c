/**
 * The machine a sharing scenario runs on: a freshly booted kernel with sw_sync and one device
 * per driver of the unit (two devices of one driver for a pair like vgem+vgem), userspace
 * processes on it, and the end-of-run checks: every process exited, the machine quiesced
 * (deferred fputs, RCU callbacks, workqueues), every device's GEM counters back at their
 * baseline (drmDevCheckLeaks() reports a `warn` splat otherwise) and kmemleak finding nothing
 * allocated during the run still alive.
 *
 * Userspace checks what it sees (contents, sizes, handles) and throws when it is wrong: the
 * process crashes and the scheduler reports a `bug` splat, as for an IGT assertion. With fault
 * injection on (`tolerant`), a failing syscall (a SysError) ends the process quietly instead:
 * its exit must still release everything, which the leak checks verify.
 */
import { type DeviceUnderTest, registerDevice } from "@primetime/conformance";
import { registerSwSync } from "@primetime/dma-buf";
import { drmDevCheckLeaks, drmDevCounters } from "@primetime/gem";
import {
  allocationCount,
  Kernel,
  kmemleakScan,
  liveObjects,
  type Process,
  type SlabObject,
  setFailslab,
} from "@primetime/kernel";
import { DrmFd, isSysError } from "@primetime/libdrm";
import { Completion, choose, type Simulation } from "@primetime/sim";
import type { FaultSpec } from "../../campaign/campaign-scenario.js";
import type { DriverUnderTest } from "../../drivers.js";
import { settleDevice } from "./device-settle.js";
import { sizedForSharing } from "./sized-devices.js";

export interface Machine {
  readonly sim: Simulation;
  readonly kernel: Kernel;
  readonly devices: readonly DeviceUnderTest[];
  /** Syscall failures end a process quietly (fault injection is on). */
  readonly tolerant: boolean;
  /**
   * Opens a device as a client of the display server would (see openDevice): through the render
   * node, or through the primary node authenticated by the device's DRM master.
   */
  open(p: Process, dev: DeviceUnderTest): Promise<DrmFd>;
  /**
   * Starts a userspace process running `body` in its main thread (with `arg`, the run's state:
   * pass a module-level function and the state rather than a closure made per run, whose
   * optimized code V8 would drop at each full collection and compile again).
   */
  process(name: string, body: (p: Process) => Promise<void>): Process;
  process<A>(name: string, body: (p: Process, arg: A) => Promise<void>, arg: A): Process;
  /** Waits for the processes, then quiesces and checks for leaks. */
  finish(procs: readonly Process[]): Promise<void>;
}

/** Thrown by userspace checks: the process crashes with this message. */
export class UserspaceCheckError extends Error {}

/** igt_assert(): throws (crashing the process) with `message` unless `cond`. */
export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new UserspaceCheckError(message);
}

/** Options of bootMachine(). */
export interface BootOptions {
  /**
   * Each device is opened by one process only (default false). A device whose clients need
   * authentication (see needsAuth) then gets no display server: its one client opens the
   * primary node first and so is its DRM master (drm_master_open() makes the first opener of a
   * primary node master, and a master is authenticated), as a lone client on a VT without X.
   */
  soleClients?: boolean;
  /**
   * The index of a device whose DRM master is one of the scenario's processes (a compositor that
   * scans out: it opens the primary node first, and drm_master_open() makes it the master, so
   * it may set modes and flip). No display server is started for that device, whatever its
   * clients need; only that process may open it then.
   */
  selfMastered?: number;
}

/**
 * Boots the machine. Fault injection (`faults`) starts once the devices are registered, so it
 * hits the workload, not the boot: `nth:N` fails the N-th allocation after that point.
 */
export async function bootMachine(
  sim: Simulation,
  drivers: readonly DriverUnderTest[],
  faults: FaultSpec | null,
  opts: BootOptions = {},
): Promise<Machine> {
  const kernel = Kernel.boot();
  registerSwSync(kernel);
  const devices: DeviceUnderTest[] = [];
  for (const d of drivers) devices.push(await registerDevice(sizedForSharing(d), kernel));
  const baselines: ReturnType<typeof drmDevCounters>[] = [];
  for (const d of devices) baselines.push(drmDevCounters(d.device));
  const survivors = new Set<SlabObject>(liveObjects());
  const tolerant = faults !== null;
  // A display server only where clients need it: a driver that allocates with its own ioctl
  // and has no render node (qxl: QXL_ALLOC is DRM_AUTH). Elsewhere clients open the render node
  // (its allocation ioctl is DRM_RENDER_ALLOW) or the primary node for dumb buffers and PRIME,
  // which need no authentication. A device with one client needs none (BootOptions.soleClients).
  const masters: (DrmMaster | null)[] = [];
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i]!;
    const serve = needsAuth(d) && !opts.soleClients && opts.selfMastered !== i;
    masters.push(serve ? drmMaster(kernel, d, i) : null);
  }
  for (const m of masters) await m?.ready.wait();
  if (faults) startFaults(faults);
  return new SharingMachine(sim, kernel, devices, tolerant, masters, baselines, survivors);
}

/**
 * A booted machine. A class rather than an object literal made per run: its methods, like every
 * function a run calls, are then long-lived functions whose optimized code V8 keeps (it drops
 * that of a per-run closure at each full collection, then compiles it again once it is hot).
 */
class SharingMachine implements Machine {
  /** The processes started so far (a process ended by an injected failure kills the others). */
  readonly procs: Process[] = [];

  constructor(
    readonly sim: Simulation,
    readonly kernel: Kernel,
    readonly devices: readonly DeviceUnderTest[],
    readonly tolerant: boolean,
    private readonly masters: readonly (DrmMaster | null)[],
    private readonly baselines: readonly ReturnType<typeof drmDevCounters>[],
    private readonly survivors: ReadonlySet<SlabObject>,
  ) {}

  async open(p: Process, dev: DeviceUnderTest): Promise<DrmFd> {
    if (dev.driver.createBo && dev.render) return DrmFd.open(p, dev.render);
    const fd = await DrmFd.open(p, dev.card);
    const m = this.masters[this.devices.indexOf(dev)];
    if (!m) return fd;
    const magic = await fd.getMagic();
    const r: AuthRequest = { magic, done: new Completion("auth reply"), error: null };
    m.requests.push(r);
    m.kick.complete();
    await r.done.wait();
    if (r.error) throw r.error;
    return fd;
  }

  process<A>(name: string, body: (p: Process, arg: A) => Promise<void>, arg?: A): Process {
    const proc = this.kernel.spawnProcess(
      name,
      userMain.bind(null, this, body as (p: Process, arg: unknown) => Promise<void>, arg),
    );
    this.procs.push(proc);
    return proc;
  }

  async finish(procs: readonly Process[]): Promise<void> {
    for (const p of procs) await p.wait();
    for (const m of this.masters) {
      if (!m) continue;
      m.stopping = true;
      m.kick.complete();
      await m.proc.wait();
    }
    // Each device's settling starts by quiescing the machine (a device without one needs
    // none): what the processes left to deferred work is done before the device is waited
    // for. One quiesce after them all, and the checks look at the quiet machine (kmemleak's
    // scan without a second quiesce of it).
    for (const d of this.devices) await settleDevice(this.kernel, d);
    await this.kernel.quiesce();
    for (let i = 0; i < this.devices.length; i++)
      drmDevCheckLeaks(this.devices[i]!.device, this.baselines[i]!);
    kmemleakScan({ ignore: isSurvivor.bind(this.survivors) });
  }
}

/** kmemleak's filter: objects alive before the run (`this`: their set) are not the run's. */
function isSurvivor(this: ReadonlySet<SlabObject>, o: SlabObject): boolean {
  return this.has(o);
}

/** A process's main thread: `body`, where an injected failure ends the process quietly. */
async function userMain(
  m: SharingMachine,
  body: (p: Process, arg: unknown) => Promise<void>,
  arg: unknown,
  p: Process,
): Promise<void> {
  try {
    await body(p, arg);
  } catch (e) {
    if (!(m.tolerant && isSysError(e))) throw e;
    // An injected failure ends this process; its peers give up too (a session torn
    // down), so nobody waits forever for what it would have sent.
    for (const q of m.procs) if (q !== p) q.kill();
  }
}

/**
 * Starts fault injection in the running simulation: `nth:N` fails the N-th allocation from now
 * on, `p:P` each allocation with probability P.
 */
export function startFaults(faults: FaultSpec): void {
  setFailslab(
    faults.kind === "nth" ? { failNth: allocationCount() + faults.nth } : { probability: faults.p },
  );
}

/** A permutation of `xs` drawn from the run's recorded choices. */
export function shuffle<T>(xs: readonly T[], label: string): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = choose(i + 1, label);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A workload size in [min, max], drawn from the run's recorded choices. */
export function size(min: number, max: number, label: string): number {
  return min + choose(max - min + 1, label);
}

/** The byte pattern of buffer `i` of a run: every byte of it is this value. */
export function patternOf(base: number, i: number): number {
  return (base + 37 * i + 1) & 0xff;
}

/**
 * FNV-1a over a buffer's 32-bit little-endian words (then its last 0-3 bytes): the checksum both
 * sides compute. Words rather than bytes: a quarter of the multiplications, and any byte that
 * differs still changes the word it is in.
 */
export function checksum(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  const words = bytes.length >>> 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < words; i++) h = Math.imul(h ^ view.getUint32(i << 2, true), 0x01000193);
  for (let i = words << 2; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** Expected checksums by (value, length): a pure function, computed once per process. */
const expected = new Map<number, number>();

/** The checksum a buffer of `len` bytes all equal to `value` has. */
export function expectedChecksum(value: number, len: number): number {
  const key = len * 256 + (value & 0xff);
  let sum = expected.get(key);
  if (sum === undefined) {
    sum = checksum(new Uint8Array(len).fill(value));
    expected.set(key, sum);
  }
  return sum;
}

interface AuthRequest {
  readonly magic: number;
  readonly done: Completion;
  error: unknown;
}

interface DrmMaster {
  proc: Process;
  readonly ready: Completion;
  readonly kick: Completion;
  readonly requests: AuthRequest[];
  stopping: boolean;
}

/** Whether clients of `dev` must be authenticated by a DRM master to allocate (see bootMachine). */
function needsAuth(dev: DeviceUnderTest): boolean {
  return dev.driver.createBo !== undefined && !dev.render;
}

/**
 * The display server's part: a process that opens the device's primary node first (so it is
 * the DRM master) and authenticates the magic of every client that opens the node after it
 * (DRI2-style GET_MAGIC / AUTH_MAGIC), until the machine finishes. Drivers whose allocation
 * ioctls need an authenticated file (qxl's QXL_ALLOC is DRM_AUTH) are usable by many clients
 * this way, as under X.
 */
function drmMaster(kernel: Kernel, dev: DeviceUnderTest, i: number): DrmMaster {
  const m: DrmMaster = {
    proc: null as unknown as Process,
    ready: new Completion(`drm-master${i} ready`),
    kick: new Completion(`drm-master${i} requests`),
    requests: [],
    stopping: false,
  };
  m.proc = kernel.spawnProcess(`drm-master${i}`, drmMasterMain.bind(null, m, dev));
  return m;
}

/** The display server's main thread (see drmMaster). */
async function drmMasterMain(m: DrmMaster, dev: DeviceUnderTest, p: Process): Promise<void> {
  const fd = await DrmFd.open(p, dev.card);
  m.ready.complete();
  for (;;) {
    await m.kick.wait();
    const r = m.requests.shift();
    if (!r) {
      if (m.stopping) break;
      continue;
    }
    try {
      await fd.authMagic(r.magic);
    } catch (e) {
      r.error = e;
    }
    r.done.complete();
  }
  await fd.close();
}

/** Opens `dev` for process `p` on machine `m` (see Machine.open). */
export function openDevice(m: Machine, p: Process, dev: DeviceUnderTest): Promise<DrmFd> {
  return m.open(p, dev);
}
