/**
 * The simulated kernel (init/main.c in spirit): the machine a scenario runs userspace on. It
 * holds the character devices (by path), the processes, and the helpers that bring the machine
 * to rest for the oracles.
 *
 * A Kernel lives in one simulation. Boot it inside the run (`Kernel.boot()` in the scenario's
 * main task) or before it (`Kernel.boot(sim)`); drivers register their device nodes with
 * `registerChrdev()`, and userspace runs as processes (`spawnProcess()`), whose threads call
 * the syscalls on their Process.
 *
 * `quiesce()` is the end-of-workload barrier: it runs the caller's task work, then repeats
 * flush_delayed_fput(), rcu_barrier() and flushes of the system workqueues and of every other
 * workqueue with work queued or executing (a driver's own, TTM's delayed delete) until nothing
 * more is pending, so every deferred release has happened. `checkLeaks()` quiesces and then runs a
 * kmemleak scan: every object still allocated is a leak (a `kmemleak` splat each).
 */

import { rcuBarrier, rcuPendingCallbacks } from "@primetime/rcu";
import { currentSimulation, currentTask, SimLocal, type Simulation } from "@primetime/sim";
import { ChrdevRegistry, type RegisterChrdevOptions } from "../fs/chrdev.js";
import {
  delayedFputPending,
  type FileOperations,
  flushDelayedFput,
  type Inode,
} from "../fs/file.js";
import type { Errno } from "../include/errno.js";
import { Cred, UNPRIVILEGED_CRED } from "../kernel/cred.js";
import { Process, type ThreadFn } from "../kernel/process.js";
import { isUserThread, taskWorkRun } from "../kernel/task-work.js";
import {
  busyWorkqueues,
  flushWorkqueue,
  systemLongWq,
  systemUnboundWq,
  systemWq,
} from "../kernel/workqueue.js";
import { kasanSetMultiShot } from "../mm/kasan/kasan.js";
import { type KmemleakScanOptions, kmemleakScan } from "../mm/kmemleak.js";
import { setTotalRam } from "../mm/page-alloc.js";
import { liveObjectCount, type SlabObject } from "../mm/slab.js";

/** Options of `Kernel.boot()`. */
/** Kernel.spawnProcess()'s options. */
export interface SpawnProcessOptions {
  /** The process's effective capabilities (kernel/cred.ts: `[CAP_SYS_ADMIN]`); none by default. */
  readonly caps?: readonly number[];
}

export interface KernelOptions {
  /** The machine's RAM in bytes (default DEFAULT_RAM_BYTES, 256 MiB; see mm/page-alloc.ts). */
  ramBytes?: number;
  /**
   * The `kasan_multi_shot` boot parameter (mm/kasan/report.c): every KASAN report of this boot
   * prints, not only the first.
   */
  kasanMultiShot?: boolean;
}

const booted = new SimLocal<{ kernel: Kernel | null }>(() => ({ kernel: null }));

/** How many quiesce rounds may still find work before quiesce() gives up. */
const QUIESCE_MAX_ROUNDS = 32;

/**
 * The simulated machine: character devices, processes, and the quiesce/leak-check helpers.
 *
 * Locking: registration and process creation are synchronous and happen between scheduling
 * points; each process's resources carry their own locks.
 * References: the kernel owns nothing that is reference counted; processes own their files.
 */
export class Kernel {
  /** The simulation this kernel runs in (null: plain async use outside a simulation). */
  readonly sim: Simulation | null;
  /** The device nodes (/dev/...). */
  readonly chrdevs = new ChrdevRegistry();
  /** Processes by pid, in creation order (exited ones included). */
  readonly processes = new Map<number, Process>();
  private nextPid = 1;

  /** Prefer Kernel.boot(). */
  constructor(sim: Simulation | null = currentSimulation()) {
    this.sim = sim;
  }

  /**
   * Boots a kernel on `sim` (default: the running simulation) and makes it the simulation's
   * kernel (`Kernel.current()`). `opts.ramBytes` sizes the machine's RAM (RangeError if it is
   * not an integer of at least a page); `opts.kasanMultiShot` is the `kasan_multi_shot`
   * parameter (kasan_set_multi_shot()).
   */
  static boot(sim: Simulation | null = currentSimulation(), opts: KernelOptions = {}): Kernel {
    if (opts.ramBytes !== undefined) setTotalRam(opts.ramBytes, sim);
    if (opts.kasanMultiShot) kasanSetMultiShot(sim);
    const k = new Kernel(sim);
    booted.get(sim).kernel = k;
    return k;
  }

  /** The kernel booted in the running simulation, if any. */
  static current(): Kernel | null {
    return booted.get().kernel;
  }

  /**
   * Models register_chrdev() + device_create(): the node `path` opens with `fops`. The inode,
   * or -EINVAL (path not absolute, bad numbers), -EEXIST (path taken), -EBUSY (no dynamic major
   * left).
   */
  registerChrdev(path: string, fops: FileOperations, opts?: RegisterChrdevOptions): Inode | Errno {
    return this.chrdevs.register(path, fops, opts);
  }

  /** Models device_destroy() + unregister_chrdev(): 0 or -ENOENT. Open files stay usable. */
  unregisterChrdev(path: string): number {
    return this.chrdevs.unregister(path);
  }

  /**
   * Creates a process (fork + exec from init): a fresh fd table, address space and socket, and
   * its main thread running `main` as userspace. The process exits when `main` returns (exit(0)),
   * calls exit(), is killed, or crashes. Needs a running simulation. `opts.caps`: its
   * capabilities (`[CAP_SYS_ADMIN]` for a privileged process: kernel/cred.ts); none by default.
   */
  spawnProcess(name: string, main: ThreadFn, opts?: SpawnProcessOptions): Process {
    const sim = currentSimulation();
    if (sim === null || !sim.running)
      throw new Error("spawnProcess() needs a running simulation (call it from a task)");
    if (this.sim !== null && this.sim !== sim)
      throw new Error("this kernel was booted on another simulation");
    const cred = opts?.caps !== undefined ? new Cred(opts.caps) : UNPRIVILEGED_CRED;
    const p = new Process(this, this.nextPid++, name, cred);
    this.processes.set(p.pid, p);
    p.startMain(main);
    return p;
  }

  /** Processes whose threads have not all exited. */
  liveProcesses(): Process[] {
    return [...this.processes.values()].filter((p) => p.state !== "dead");
  }

  /**
   * Brings the machine to rest: runs the caller's pending task work (if it is a process
   * thread), then repeats flush_delayed_fput(), rcu_barrier(), flushes of system_wq,
   * system_unbound_wq and system_long_wq, and a flush of every other workqueue with work queued
   * or executing (busyWorkqueues(): a driver's own, TTM's delayed delete), until a round finds
   * no delayed fput, no RCU callback, no work on any workqueue and no change in the allocated
   * objects. Returns the number of rounds. Processes still running are not waited for; a work
   * item that never finishes (waiting on a fence nobody signals) keeps quiesce() waiting, as it
   * would keep the kernel's flush_workqueue() waiting.
   *
   * Locking: must be called without locks held (it sleeps and runs releases).
   */
  async quiesce(): Promise<number> {
    if (isUserThread(currentTask())) await taskWorkRun();
    let rounds = 0;
    let before = liveObjectCount();
    for (;;) {
      rounds++;
      await flushDelayedFput();
      await rcuBarrier();
      await flushWorkqueue(systemWq());
      await flushWorkqueue(systemUnboundWq());
      await flushWorkqueue(systemLongWq());
      const system = [systemWq(), systemUnboundWq(), systemLongWq()];
      for (const wq of busyWorkqueues()) if (!system.includes(wq)) await flushWorkqueue(wq);
      const after = liveObjectCount();
      const idle =
        delayedFputPending() === 0 &&
        rcuPendingCallbacks() === 0 &&
        busyWorkqueues().length === 0 &&
        after === before;
      before = after;
      if ((idle && rounds >= 2) || rounds >= QUIESCE_MAX_ROUNDS) return rounds;
    }
  }

  /**
   * quiesce(), then a kmemleak scan: the objects still allocated (each reported once as a
   * `kmemleak` splat), except those `opts.ignore` excludes.
   */
  async checkLeaks(opts?: KmemleakScanOptions): Promise<SlabObject[]> {
    await this.quiesce();
    return kmemleakScan(opts);
  }
}
