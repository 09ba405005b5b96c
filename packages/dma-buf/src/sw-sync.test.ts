import {
  EFAULT,
  EINVAL,
  ENOENT,
  ENOTTY,
  EPOLLIN,
  fget,
  fput,
  isErr,
  Kernel,
  O_RDWR,
  type Process,
} from "@primetime/kernel";
import { baselineFixes, listKnownWindows, type RunResult, Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import type { DmaFence } from "./dma-fence.js";
import {
  registerSwSync,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SW_SYNC_PATH,
  SW_SYNC_SIGNAL_GET_ON_ZERO,
  type SwSyncCreateFenceData,
  type SyncTimeline,
} from "./sw-sync.js";
import {
  SYNC_IOC_FILE_INFO,
  type SyncFile,
  type SyncFileInfo,
  syncFileGetFence,
} from "./sync-file.js";
import { splatLines } from "./test-support.js";

async function inProcess(
  body: (p: Process) => Promise<void>,
): Promise<{ r: RunResult; leaks: number }> {
  let leaks = -1;
  const r = await new Simulation({ seed: 1 }).run(async () => {
    const k = Kernel.boot();
    expect(isErr(registerSwSync(k))).toBe(false);
    const p = k.spawnProcess("t", body);
    await p.wait();
    leaks = (await k.checkLeaks()).length;
  });
  return { r, leaks };
}

function clean(run: { r: RunResult; leaks: number }): void {
  expect(splatLines(run.r)).toEqual([]);
  expect(run.r.outcome).toBe("ok");
  expect(run.leaks).toBe(0);
}

async function createFence(p: Process, tl: number, value: number): Promise<number> {
  const data: SwSyncCreateFenceData = { value, name: "f" };
  expect(await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, data)).toBe(0);
  return data.fence!;
}

async function fenceOf(fd: number): Promise<DmaFence> {
  const f = await fget(fd);
  const fence = (f!.privateData as SyncFile).fence!;
  await fput(f!);
  return fence;
}

describe("sw_sync", () => {
  it("registers /dev/sw_sync once", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      expect(isErr(registerSwSync(k))).toBe(false);
      expect(registerSwSync(k)).toBe(-17);
      expect(k.chrdevs.paths()).toContain(SW_SYNC_PATH);
    });
    expect(r.outcome).toBe("ok");
  });

  it("creates fences on a timeline and signals them in order with SW_SYNC_IOC_INC", async () => {
    const run = await inProcess(async (p) => {
      const tl = await p.open(SW_SYNC_PATH, O_RDWR);
      expect(tl).toBeGreaterThanOrEqual(0);
      const f1 = await createFence(p, tl, 1);
      const f3 = await createFence(p, tl, 3);
      const fence1 = await fenceOf(f1);
      const fence3 = await fenceOf(f3);
      expect(fence1.context).toBe(fence3.context);
      const timeline = (fence1 as unknown as { parent: SyncTimeline }).parent;
      expect(timeline.ptList.map((pt) => pt.seqno)).toEqual([1, 3]);
      // Same value: the listed point is reused.
      const f1b = await createFence(p, tl, 1);
      expect(await fenceOf(f1b)).toBe(fence1);
      const info: SyncFileInfo = {};
      expect(await p.ioctl(f1, SYNC_IOC_FILE_INFO, info)).toBe(0);
      expect(info).toMatchObject({ name: "sw_sync", status: 0, num_fences: 1 });
      expect(await p.poll([{ fd: f1, events: EPOLLIN }], 0)).toBe(0);
      expect(await p.ioctl(tl, SW_SYNC_IOC_INC, { value: 2 })).toBe(0);
      const fds = [
        { fd: f1, events: EPOLLIN, revents: 0 },
        { fd: f3, events: EPOLLIN, revents: 0 },
      ];
      expect(await p.poll(fds, 0)).toBe(1);
      expect(fds.map((f) => f.revents)).toEqual([EPOLLIN, 0]);
      expect(await p.ioctl(f1, SYNC_IOC_FILE_INFO, info)).toBe(0);
      expect(info.status).toBe(1);
      expect(timeline.ptList.map((pt) => pt.seqno)).toEqual([3]);
      // A fence at a value already reached is born signalled and never listed.
      const f0 = await createFence(p, tl, 2);
      expect(timeline.ptList.length).toBe(1);
      expect(await p.poll([{ fd: f0, events: EPOLLIN }], 0)).toBe(1);
      expect(await p.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 })).toBe(0);
      expect(await p.poll([{ fd: f3, events: EPOLLIN }], 0)).toBe(1);
      for (const fd of [f0, f1, f1b, f3, tl]) expect(await p.close(fd)).toBe(0);
    });
    clean(run);
  });

  it("wakes a poller sleeping on a sync_file when the timeline reaches it", async () => {
    const run = await inProcess(async (p) => {
      const tl = await p.open(SW_SYNC_PATH, O_RDWR);
      const f = await createFence(p, tl, 5);
      const th = p.spawnThread("inc", async () => {
        expect(await p.ioctl(tl, SW_SYNC_IOC_INC, { value: 5 })).toBe(0);
      });
      const fds = [{ fd: f, events: EPOLLIN, revents: 0 }];
      expect(await p.poll(fds, -1)).toBe(1);
      expect(fds[0]!.revents).toBe(EPOLLIN);
      await th.join();
      await p.close(f);
      await p.close(tl);
    });
    clean(run);
  });

  it("signals the points left with -ENOENT when the timeline is closed; points keep it alive", async () => {
    let fence: DmaFence | null = null;
    const run = await inProcess(async (p) => {
      const tl = await p.open(SW_SYNC_PATH, O_RDWR);
      const f = await createFence(p, tl, 1);
      fence = await fenceOf(f);
      expect(await p.close(tl)).toBe(0);
      await Kernel.current()!.quiesce();
      expect(fence.error).toBe(-ENOENT);
      const info: SyncFileInfo = {};
      expect(await p.ioctl(f, SYNC_IOC_FILE_INFO, info)).toBe(0);
      expect(info.status).toBe(-ENOENT);
      expect(fence.ops.getTimelineName(fence)).toBe("sw_sync");
      await p.close(f);
    });
    clean(run);
    expect(fence!.freed).toBe(true);
  });

  it("rejects bad arguments and unknown commands", async () => {
    const run = await inProcess(async (p) => {
      const tl = await p.open(SW_SYNC_PATH, O_RDWR);
      expect(await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, { value: -1 })).toBe(-EFAULT);
      expect(await p.ioctl(tl, SW_SYNC_IOC_INC, { value: 1.5 })).toBe(-EFAULT);
      expect(await p.ioctl(tl, 0x1234, {})).toBe(-ENOTTY);
      const f = await createFence(p, tl, 1);
      expect(await p.ioctl(f, SYNC_IOC_FILE_INFO, { flags: 1 })).toBe(-EINVAL);
      expect(await p.ioctl(f, 0x1234, {})).toBe(-ENOTTY);
      // syncFileGetFence() refuses what is not a sync_file.
      expect(await syncFileGetFence(tl)).toBeNull();
      expect(await syncFileGetFence(99)).toBeNull();
      await p.close(f);
      await p.close(tl);
    });
    clean(run);
  });
});

describe("known upstream window sw-sync.signal-get-on-zero", () => {
  /** A fence's sync_file is closed while another thread advances the timeline past it. */
  async function closeVsInc(seed: number, toggles: readonly string[]) {
    let leaks = -1;
    const r = await new Simulation({ seed, strategy: { kind: "random" }, toggles }).run(
      async () => {
        const k = Kernel.boot();
        registerSwSync(k);
        const p = k.spawnProcess("t", async (p) => {
          const tl = await p.open(SW_SYNC_PATH, O_RDWR);
          const fence = await createFence(p, tl, 1);
          const inc = p.spawnThread("inc", async (p) => {
            await p.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 });
          });
          await p.close(fence);
          await inc.join();
        });
        await p.wait();
        leaks = (await k.checkLeaks()).length;
      },
    );
    return { r, leaks };
  }

  it("is reachable in the faithful model: refcount addition on 0, and its token replays it", async () => {
    expect(listKnownWindows().map((w) => w.name)).toContain(SW_SYNC_SIGNAL_GET_ON_ZERO.name);
    let found: RunResult | null = null;
    for (let seed = 1; seed <= 400 && !found; seed++) {
      const { r } = await closeVsInc(seed, []);
      if (r.splats.length > 0) found = r;
    }
    expect(found).not.toBeNull();
    const kinds = found!.splats.map((s) => s.kind);
    expect(kinds[0]).toBe("refcount");
    expect(found!.splats[0]!.message).toMatch(/addition on 0/);
    for (const k of kinds) expect(["refcount", "kasan"]).toContain(k);
    // Its token replays it exactly.
    const again = await new Simulation({
      strategy: { kind: "replay", token: found!.token },
    }).run(async () => {
      const k = Kernel.boot();
      registerSwSync(k);
      const p = k.spawnProcess("t", async (p) => {
        const tl = await p.open(SW_SYNC_PATH, O_RDWR);
        const fence = await createFence(p, tl, 1);
        const inc = p.spawnThread("inc", async (p) => {
          await p.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 });
        });
        await p.close(fence);
        await inc.join();
      });
      await p.wait();
      await k.checkLeaks();
    });
    expect(again.outcome).toBe("ok");
    expect(again.splats.map((s) => s.kind)).toEqual(kinds);
  });

  it("is closed by its fix switch (the clean baseline): no splat, no leak over the same seeds", async () => {
    for (let seed = 1; seed <= 250; seed++) {
      const { r, leaks } = await closeVsInc(seed, baselineFixes());
      expect(splatLines(r)).toEqual([]);
      expect(r.outcome).toBe("ok");
      expect(leaks).toBe(0);
    }
  });
});
