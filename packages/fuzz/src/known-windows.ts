/**
 * Reproducers of the known upstream windows (`listKnownWindows()`, KNOWN-WINDOWS.md): for each, a
 * scenario that reaches it with every toggle off, hunted under the random scheduler until it
 * fires, so its replay token can be printed; with the window's fix switch on the same budget
 * finds nothing.
 */

import {
  dmaBufFd,
  registerSwSync,
  SW_SYNC_RELEASE_SIGNAL_WITHOUT_REF,
  SW_SYNC_SIGNAL_GET_ON_ZERO,
  systemHeapAllocate,
} from "@primetime/dma-buf";
import { EPOLLIN, isErr, Kernel, O_CLOEXEC } from "@primetime/kernel";
import { type KnownWindowInfo, listKnownWindows, type RunResult, Simulation } from "@primetime/sim";
import {
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_SYNC_WRITE,
  O_RDWR,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  type SwSyncCreateFenceData,
} from "@primetime/uapi";

/**
 * sw-sync.signal-get-on-zero: a fence's sync_file is closed while another thread advances the
 * timeline past it (SW_SYNC_IOC_INC).
 */
export async function swSyncCloseVsIncScenario(): Promise<void> {
  const k = Kernel.boot();
  registerSwSync(k);
  const p = k.spawnProcess("sw_sync", async (p) => {
    const tl = await p.open("/dev/sw_sync", O_RDWR);
    const data: SwSyncCreateFenceData = { value: 1, name: "f", fence: -1 };
    await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, data);
    const inc = p.spawnThread("inc", async (p) => {
      await p.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 });
    });
    await p.close(data.fence ?? -1);
    await inc.join();
  });
  await p.wait();
  await k.checkLeaks();
}

/**
 * sw-sync.release-signal-without-ref: a poller's dma-buf callback holds the last reference of a
 * write fence another fence replaced when the timeline's file is closed (found by the 100,000-
 * schedule vgem baseline campaign, where the generator's threads did the same with poll, sw_sync
 * fences imported into dma-bufs and an exit closing the timeline).
 */
export async function swSyncReleaseVsPollerScenario(): Promise<void> {
  const k = Kernel.boot();
  registerSwSync(k);
  const p = k.spawnProcess("sw_sync", async (p) => {
    const d = await systemHeapAllocate(4096, O_RDWR);
    if (isErr(d)) return;
    const buf = await dmaBufFd(d, O_CLOEXEC);
    const tl = await p.open("/dev/sw_sync", O_RDWR);
    const fence = async (value: number) => {
      const data: SwSyncCreateFenceData = { value, name: "f", fence: -1 };
      await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, data);
      await p.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, {
        flags: DMA_BUF_SYNC_WRITE,
        fd: data.fence,
      });
      await p.close(data.fence ?? -1);
    };
    await fence(1);
    const poller = p.spawnThread("poller", async (q) => {
      await q.poll([{ fd: buf, events: EPOLLIN, revents: 0 }], 1_000_000_000);
    });
    await fence(2);
    await p.close(tl);
    await poller.join();
    await p.close(buf);
  });
  await p.wait();
  await k.checkLeaks();
}

const REPRODUCERS = new Map<string, () => Promise<void>>([
  [SW_SYNC_SIGNAL_GET_ON_ZERO.name, swSyncCloseVsIncScenario],
  [SW_SYNC_RELEASE_SIGNAL_WITHOUT_REF.name, swSyncReleaseVsPollerScenario],
]);

/** One known window, hunted. */
export interface WindowHunt {
  readonly window: KnownWindowInfo;
  /** The first run that reached it (null: not within the budget). */
  readonly found: RunResult | null;
  /** Schedules run to find it. */
  readonly schedules: number;
  /** Schedules with the fix switch on that fired (must be 0). */
  readonly firedWithFix: number;
}

/** Hunts every known window with a reproducer: `budget` random schedules each way. */
export async function huntKnownWindows(budget = 200): Promise<WindowHunt[]> {
  const out: WindowHunt[] = [];
  for (const w of listKnownWindows()) {
    const scenario = REPRODUCERS.get(w.name);
    if (!scenario) continue;
    let found: RunResult | null = null;
    let schedules = 0;
    for (let seed = 1; seed <= budget && !found; seed++) {
      schedules++;
      const r = await new Simulation({
        seed,
        strategy: { kind: "random" },
        scenario: w.name,
      }).run(scenario);
      if (r.splats.length > 0 || r.outcome !== "ok") found = r;
    }
    let firedWithFix = 0;
    for (let seed = 1; seed <= budget; seed++) {
      const r = await new Simulation({
        seed,
        strategy: { kind: "random" },
        scenario: w.name,
        toggles: [w.name],
      }).run(scenario);
      if (r.splats.length > 0 || r.outcome !== "ok") firedWithFix++;
    }
    out.push({ window: w, found, schedules, firedWithFix });
  }
  return out;
}
