/**
 * syncobj-submit: explicit synchronisation as a Vulkan driver does it with DRM sync objects
 * (drivers/gpu/drm/drm_syncobj.c). A process creates a timeline syncobj and, per frame, a binary
 * one (its submit semaphore); for each frame a waiter thread transfers the semaphore's future
 * fence to the frame's point of the timeline (SYNCOBJ_TRANSFER with WAIT_FOR_SUBMIT: it sleeps in
 * drm_syncobj_find_fence() until a fence is submitted, at most 5 s), a submitter thread signals
 * the semaphores (SYNCOBJ_SIGNAL, the GPU's submission) and a teardown thread destroys them
 * (SYNCOBJ_DESTROY, the application freeing its semaphores with waits in flight); the timeline
 * is destroyed last. The device is a minimal GEM driver with DRIVER_SYNCOBJ and
 * DRIVER_SYNCOBJ_TIMELINE (none of the harness's drivers has them: vgem, qxl and vmwgfx do not,
 * as in the kernel); the syncobj code is the DRM core's, the same for every driver.
 *
 * What must hold: each transfer gives 0 (its semaphore was signalled), -ENOENT (the handle was
 * destroyed before the transfer looked it up) or -ETIME (nothing was submitted: the signal came
 * too late, -ENOENT); a transfer that got a fence saw a signal that succeeded; and everything is
 * freed at the end. Toggle `gem.syncobj-find-fence-early-put` (v5.2-v5.10) drops the transfer's
 * lookup reference before its wait: the teardown's destroy frees the semaphore under the waiter
 * (KASAN use-after-free of the drm_syncobj).
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import {
  DRIVER_GEM,
  DRIVER_RENDER,
  DRIVER_SYNCOBJ,
  DRIVER_SYNCOBJ_TIMELINE,
  DRM_IOCTL_SYNCOBJ_CREATE,
  DRM_IOCTL_SYNCOBJ_DESTROY,
  DRM_IOCTL_SYNCOBJ_SIGNAL,
  DRM_IOCTL_SYNCOBJ_TRANSFER,
  DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
  type DriverUnderTest,
  type DrmDevice,
  drmDevAlloc,
  drmDevRegister,
} from "@primetime/gem";
import {
  ENOENT,
  ETIME,
  isErr,
  type Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { bootMachine, check, type Machine, shuffle, size } from "./machine.js";

/** Registers the syncobj device (module-level: see Machine.process). */
async function registerSyncobjDevice(kernel: Kernel): Promise<DrmDevice> {
  const dev = await drmDevAlloc({
    name: "syncobjdrv",
    desc: "a GEM driver with DRIVER_SYNCOBJ and DRIVER_SYNCOBJ_TIMELINE",
    major: 1,
    minor: 0,
    patchlevel: 0,
    driverFeatures: DRIVER_GEM | DRIVER_RENDER | DRIVER_SYNCOBJ | DRIVER_SYNCOBJ_TIMELINE,
  });
  if (isErr(dev)) throw new Error(`drmDevAlloc: ${dev}`);
  const ret = await drmDevRegister(dev, kernel);
  if (ret) throw new Error(`drmDevRegister: ${ret}`);
  return dev;
}

/** The device the scenario boots (not one of the harness's drivers: see the file comment). */
const SYNCOBJ_DEVICE: DriverUnderTest = { name: "syncobjdrv", register: registerSyncobjDevice };

/** What a run drew and booted. */
interface SyncobjSubmitRun {
  readonly m: Machine;
  readonly dev: DeviceUnderTest;
  /** Frames, each a binary syncobj and a point of the timeline. */
  readonly frames: number;
}

/** The process's shared state: its DRM fd, the handles and what the threads saw. */
interface Frames {
  readonly p: Process;
  readonly fd: number;
  /** An anonymous page: each thread's handle array at its own offset. */
  readonly page: number;
  readonly timeline: number;
  readonly sems: readonly number[];
  /** What each semaphore's SYNCOBJ_SIGNAL gave (null: not yet). */
  readonly signalled: (number | null)[];
}

/** SYNCOBJ_CREATE: the new handle (a failure crashes the process). */
async function create(f: { p: Process; fd: number }): Promise<number> {
  const a = { handle: 0, flags: 0 };
  const r = await f.p.ioctl(f.fd, DRM_IOCTL_SYNCOBJ_CREATE, a);
  check(r === 0, `SYNCOBJ_CREATE gave ${r}`);
  return a.handle;
}

/** The waiter of frame `i`: transfers its semaphore's future fence to point i + 1. */
async function waiterMain(f: Frames, i: number): Promise<void> {
  const r = await f.p.ioctl(f.fd, DRM_IOCTL_SYNCOBJ_TRANSFER, {
    src_handle: f.sems[i]!,
    dst_handle: f.timeline,
    src_point: 0,
    dst_point: i + 1,
    flags: DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT,
    pad: 0,
  });
  check(r === 0 || r === -ENOENT || r === -ETIME, `TRANSFER of frame ${i} gave ${r}`);
  // A fence to transfer exists only once the semaphore was signalled.
  if (r === 0) check(f.signalled[i] === 0, `TRANSFER of frame ${i} got a fence nobody submitted`);
}

/** The submitter: signals the semaphores in an order drawn from the seed. */
async function submitterMain(f: Frames): Promise<void> {
  const arr = f.page;
  for (const i of shuffle(
    f.sems.map((_h, j) => j),
    "submit order",
  )) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, f.sems[i]!, true);
    check((await f.p.writeMemory(arr, b)) >= 0, "write of the handle array failed");
    // The result is recorded first: a waiter woken by this signal may check it at once.
    f.signalled[i] = 0;
    const r = await f.p.ioctl(f.fd, DRM_IOCTL_SYNCOBJ_SIGNAL, {
      handles: arr,
      count_handles: 1,
      pad: 0,
    });
    check(r === 0 || r === -ENOENT, `SIGNAL of frame ${i} gave ${r}`);
    f.signalled[i] = r;
  }
}

/** The teardown: destroys the semaphores, in an order drawn from the seed. */
async function teardownMain(f: Frames): Promise<void> {
  for (const i of shuffle(
    f.sems.map((_h, j) => j),
    "destroy order",
  )) {
    const r = await f.p.ioctl(f.fd, DRM_IOCTL_SYNCOBJ_DESTROY, { handle: f.sems[i]!, pad: 0 });
    check(r === 0, `DESTROY of frame ${i} gave ${r}`);
  }
}

/** The application: its syncobjs, the three kinds of thread, then the timeline's destroy. */
async function appMain(p: Process, r: SyncobjSubmitRun): Promise<void> {
  const fd = await p.open(r.dev.render!, O_RDWR);
  check(fd >= 0, `open of ${r.dev.render} gave ${fd}`);
  const page = await p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  check(page > 0, `mmap gave ${page}`);
  const timeline = await create({ p, fd });
  const sems: number[] = [];
  for (let i = 0; i < r.frames; i++) sems.push(await create({ p, fd }));
  const f: Frames = { p, fd, page, timeline, sems, signalled: sems.map(() => null) };
  const threads = sems.map((_h, i) => p.spawnThread(`waiter${i}`, () => waiterMain(f, i)));
  threads.push(p.spawnThread("submitter", () => submitterMain(f)));
  threads.push(p.spawnThread("teardown", () => teardownMain(f)));
  for (const t of threads) await t.join();
  const d = await p.ioctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, { handle: timeline, pad: 0 });
  check(d === 0, `DESTROY of the timeline gave ${d}`);
  check((await p.close(fd)) === 0, "close of the DRM fd failed");
}

/** The scenario (see the file comment). */
function syncobjSubmitScenario(): CampaignScenario {
  return {
    name: "syncobj-submit",
    description:
      "waiters transfer their submit semaphores' future fences to a timeline (SYNCOBJ_TRANSFER, WAIT_FOR_SUBMIT) while a submitter signals the semaphores and a teardown thread destroys them",
    kernelRef:
      "drivers/gpu/drm/drm_syncobj.c (drm_syncobj_find_fence, drm_syncobj_fence_add_wait, drm_syncobj_remove_wait, drm_syncobj_transfer_to_timeline, drm_syncobj_replace_fence, drm_syncobj_destroy), drivers/dma-buf/dma-fence-chain.c",
    expect: "clean",
    arity: 0,
    faultTolerant: false,
    finds: ["gem.syncobj-find-fence-early-put"],
    harnessTasks: ["main"],
    build(_drivers, opts) {
      return async (sim) => {
        const m = await bootMachine(sim, [SYNCOBJ_DEVICE], opts.faults, { soleClients: true });
        const r: SyncobjSubmitRun = { m, dev: m.devices[0]!, frames: size(1, 2, "frames") };
        const app = m.process("vk", appMain, r);
        await app.wait();
        await m.finish([app]);
      };
    },
  };
}

export const SYNCOBJ_SUBMIT: CampaignScenario = syncobjSubmitScenario();
