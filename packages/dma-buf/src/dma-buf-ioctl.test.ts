import {
  EFAULT,
  EINVAL,
  ENOTTY,
  EPOLLIN,
  EPOLLOUT,
  isErr,
  Kernel,
  O_CLOEXEC,
  O_RDWR,
  type Process,
} from "@primetime/kernel";
import { rcuAccessPointer } from "@primetime/rcu";
import { type RunResult, type Scenario, Simulation, sleep } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { type DmaBuf, dmaBufFd, dmaBufPut } from "./dma-buf.js";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SET_NAME_A,
  DMA_BUF_SET_NAME_B,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
} from "./dma-buf-ioctl.js";
import { FENCE_CB_WITHOUT_REF } from "./dma-buf-poll.js";
import { dmaFenceContextAlloc, dmaFencePut } from "./dma-fence.js";
import { dmaFenceArrayCreate } from "./dma-fence-array.js";
import { dmaFenceIsContainer } from "./dma-fence-unwrap.js";
import { systemHeapAllocate } from "./dma-heap.js";
import {
  DmaResvUsage,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
} from "./dma-resv.js";
import { DMA_BUF_PAGE_SIZE } from "./scatterlist.js";
import {
  registerSwSync,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  SW_SYNC_PATH,
  SW_SYNC_RELEASE_SIGNAL_WITHOUT_REF,
  type SwSyncCreateFenceData,
} from "./sw-sync.js";
import { dmaFenceAllocatePrivateStub, SYNC_IOC_FILE_INFO, type SyncFileInfo } from "./sync-file.js";
import { splatLines } from "./test-support.js";

async function bufFd(): Promise<number> {
  const d = await systemHeapAllocate(DMA_BUF_PAGE_SIZE, O_RDWR);
  if (isErr(d)) throw new Error("alloc");
  const fd = await dmaBufFd(d, O_CLOEXEC);
  expect(fd).toBeGreaterThanOrEqual(0);
  return fd;
}

/** The dma-buf behind `fd` in `p`'s fd table (inspection only). */
function dmaBufOfFd(p: Process, fd: number): DmaBuf {
  const f = p.files.fdt.fd[fd];
  if (!f) throw new Error(`no fd ${fd}`);
  return f.privateData as DmaBuf;
}

async function createFence(p: Process, tl: number, value: number): Promise<number> {
  const data: SwSyncCreateFenceData = { value };
  expect(await p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, data)).toBe(0);
  return data.fence!;
}

/**
 * Two sw_sync timelines (fds `a`, `b`), a fence on each (sync_file fds `w`, `rd`), imported into
 * the dma-buf at `buf` as its write fence and a read fence.
 */
async function importTwoFences(
  p: Process,
  buf: number,
): Promise<{ a: number; b: number; w: number; rd: number }> {
  const a = await p.open(SW_SYNC_PATH, O_RDWR);
  const b = await p.open(SW_SYNC_PATH, O_RDWR);
  const w = await createFence(p, a, 1);
  const rd = await createFence(p, b, 1);
  const imp = DMA_BUF_IOCTL_IMPORT_SYNC_FILE;
  expect(await p.ioctl(buf, imp, { flags: DMA_BUF_SYNC_WRITE, fd: w })).toBe(0);
  expect(await p.ioctl(buf, imp, { flags: DMA_BUF_SYNC_READ, fd: rd })).toBe(0);
  return { a, b, w, rd };
}

function processScenario(body: (p: Process) => Promise<void>): Scenario {
  return async (sim) => {
    const k = Kernel.boot();
    registerSwSync(k);
    const p = k.spawnProcess("t", body);
    const code = await p.wait();
    if (code !== 0) sim.report("warn", `process exited with ${code}`);
    await k.checkLeaks();
  };
}

async function runProcess(body: (p: Process) => Promise<void>): Promise<RunResult> {
  return new Simulation({ seed: 1 }).run(processScenario(body));
}

describe("DMA_BUF_IOCTL_IMPORT_SYNC_FILE / EXPORT_SYNC_FILE", () => {
  it("imports a fence as a write or read fence; poll and export see it", async () => {
    const r = await runProcess(async (p) => {
      const buf = await bufFd();
      const tl = await p.open(SW_SYNC_PATH, O_RDWR);
      const w = await createFence(p, tl, 1);
      const rd = await createFence(p, tl, 2);
      // No fences: the export is a signalled stub.
      const none = { flags: DMA_BUF_SYNC_WRITE, fd: -1 };
      expect(await p.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, none)).toBe(0);
      const info: SyncFileInfo = {};
      expect(await p.ioctl(none.fd, SYNC_IOC_FILE_INFO, info)).toBe(0);
      expect(info.status).toBe(1);
      expect(await p.close(none.fd)).toBe(0);

      expect(
        await p.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_WRITE, fd: w }),
      ).toBe(0);
      expect(await p.close(w)).toBe(0);
      // Readers wait for the writer: nothing is ready.
      const fds = [{ fd: buf, events: EPOLLIN | EPOLLOUT, revents: 0 }];
      expect(await p.poll(fds, 0)).toBe(0);
      // Exporting for a read access gives the write fence.
      const ex = { flags: DMA_BUF_SYNC_READ, fd: -1 };
      expect(await p.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, ex)).toBe(0);
      expect(await p.poll([{ fd: ex.fd, events: EPOLLIN }], 0)).toBe(0);
      expect(await p.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 })).toBe(0);
      expect(await p.poll([{ fd: ex.fd, events: EPOLLIN }], 0)).toBe(1);
      // The read fence only blocks writers.
      expect(
        await p.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_READ, fd: rd }),
      ).toBe(0);
      expect(await p.poll(fds, 0)).toBe(1);
      expect(fds[0]!.revents).toBe(EPOLLIN);
      expect(await p.ioctl(tl, SW_SYNC_IOC_INC, { value: 1 })).toBe(0);
      expect(await p.poll(fds, 0)).toBe(1);
      expect(fds[0]!.revents).toBe(EPOLLIN | EPOLLOUT);
      for (const fd of [ex.fd, rd, tl, buf]) expect(await p.close(fd)).toBe(0);
    });
    expect(splatLines(r)).toEqual([]);
    expect(r.outcome).toBe("ok");
  });

  it("exports several fences as one dma_fence_array that signals once all have", async () => {
    const r = await runProcess(async (p) => {
      const buf = await bufFd();
      const { a, b, w, rd } = await importTwoFences(p, buf);
      // A writer waits for both: dma_resv_get_singleton() merges them into an array.
      const ex = { flags: DMA_BUF_SYNC_WRITE, fd: -1 };
      expect(await p.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, ex)).toBe(0);
      const info: SyncFileInfo = {};
      expect(await p.ioctl(ex.fd, SYNC_IOC_FILE_INFO, info)).toBe(0);
      expect(info.status).toBe(0);
      expect(await p.poll([{ fd: ex.fd, events: EPOLLIN }], 0)).toBe(0);
      expect(await p.ioctl(a, SW_SYNC_IOC_INC, { value: 1 })).toBe(0);
      expect(await p.poll([{ fd: ex.fd, events: EPOLLIN }], 0)).toBe(0);
      expect(await p.ioctl(b, SW_SYNC_IOC_INC, { value: 1 })).toBe(0);
      // The last child's callback signals the array from a work item.
      expect(await p.poll([{ fd: ex.fd, events: EPOLLIN }], 1_000_000)).toBe(1);
      const after: SyncFileInfo = {};
      expect(await p.ioctl(ex.fd, SYNC_IOC_FILE_INFO, after)).toBe(0);
      expect(after.status).toBe(1);
      for (const fd of [ex.fd, w, rd, a, b, buf]) expect(await p.close(fd)).toBe(0);
    });
    expect(splatLines(r)).toEqual([]);
    expect(r.outcome).toBe("ok");
  });

  it("imports a container's fences one by one (dma_fence_unwrap_for_each()), not the container", async () => {
    const seen = { n: 0, containers: 0 };
    const r = await runProcess(async (p) => {
      const buf = await bufFd();
      const other = await bufFd();
      const { a, b, w, rd } = await importTwoFences(p, buf);
      // A sync_file holding a dma_fence_array of the two fences...
      const ex = { flags: DMA_BUF_SYNC_WRITE, fd: -1 };
      expect(await p.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, ex)).toBe(0);
      // ...imported into another buffer: two slots reserved, the two sw_sync fences added.
      expect(
        await p.ioctl(other, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, {
          flags: DMA_BUF_SYNC_WRITE,
          fd: ex.fd,
        }),
      ).toBe(0);
      const list = (await rcuAccessPointer(dmaBufOfFd(p, other).resv.fences))!;
      seen.n = list.numFences;
      for (let i = 0; i < list.numFences; i++) {
        const f = list.table[i]!.fence;
        if (dmaFenceIsContainer(f)) seen.containers++;
      }
      expect(await p.ioctl(a, SW_SYNC_IOC_INC, { value: 1 })).toBe(0);
      expect(await p.ioctl(b, SW_SYNC_IOC_INC, { value: 1 })).toBe(0);
      for (const fd of [ex.fd, w, rd, a, b, buf, other]) expect(await p.close(fd)).toBe(0);
    });
    expect(splatLines(r)).toEqual([]);
    expect(r.outcome).toBe("ok");
    expect(seen.n).toBe(2);
    expect(seen.containers).toBe(0);
  });

  it("dma_resv_add_fence() WARNs on a container (drivers must add each fence)", async () => {
    const r = await runProcess(async () => {
      const d = await systemHeapAllocate(DMA_BUF_PAGE_SIZE, O_RDWR);
      if (isErr(d)) throw new Error("alloc");
      const f1 = await dmaFenceAllocatePrivateStub();
      const f2 = await dmaFenceAllocatePrivateStub();
      const array = dmaFenceArrayCreate([f1!, f2!], dmaFenceContextAlloc(1), 1);
      if (array === null || typeof array === "number") throw new Error("array");
      await dmaResvLock(d.resv);
      expect(await dmaResvReserveFences(d.resv, 1)).toBe(0);
      await dmaResvAddFence(d.resv, array, DmaResvUsage.READ);
      await dmaResvUnlock(d.resv);
      await dmaFencePut(array);
      await dmaBufPut(d);
    });
    expect(splatLines(r).join("\n")).toMatch(/WARN_ON\(dma_fence_is_container\(/);
  });

  it("rejects bad flags, fds that are not sync_files, bad arguments and unknown commands", async () => {
    const r = await runProcess(async (p) => {
      const buf = await bufFd();
      const tl = await p.open(SW_SYNC_PATH, O_RDWR);
      const f = await createFence(p, tl, 1);
      const imp = DMA_BUF_IOCTL_IMPORT_SYNC_FILE;
      expect(await p.ioctl(buf, imp, { flags: 0, fd: f })).toBe(-EINVAL);
      expect(await p.ioctl(buf, imp, { flags: DMA_BUF_SYNC_RW | 4, fd: f })).toBe(-EINVAL);
      expect(await p.ioctl(buf, imp, { flags: DMA_BUF_SYNC_WRITE, fd: tl })).toBe(-EINVAL);
      expect(await p.ioctl(buf, imp, { flags: DMA_BUF_SYNC_WRITE, fd: 77 })).toBe(-EINVAL);
      expect(await p.ioctl(buf, imp, 5)).toBe(-EFAULT);
      expect(await p.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, { flags: 8 })).toBe(-EINVAL);
      expect(await p.ioctl(buf, 0x4242, {})).toBe(-ENOTTY);
      for (const fd of [f, tl, buf]) expect(await p.close(fd)).toBe(0);
    });
    expect(splatLines(r)).toEqual([]);
    expect(r.outcome).toBe("ok");
  });
});

/**
 * The userspace route to `dma-buf.fence-cb-without-ref`: the dma-buf's write fence is a sw_sync
 * point only the reservation object holds; one thread polls the dma-buf while another imports a
 * later point of the same timeline (replacing the first) and then signals the timeline.
 */
const pollVsReplace: Scenario = processScenario(async (p) => {
  const buf = await bufFd();
  const tl = await p.open(SW_SYNC_PATH, O_RDWR);
  const f1 = await createFence(p, tl, 1);
  expect(
    await p.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_WRITE, fd: f1 }),
  ).toBe(0);
  await p.close(f1);
  const writer = p.spawnThread("writer", async () => {
    const f2 = await createFence(p, tl, 2);
    expect(
      await p.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_WRITE, fd: f2 }),
    ).toBe(0);
    await p.close(f2);
    expect(await p.ioctl(tl, SW_SYNC_IOC_INC, { value: 2 })).toBe(0);
  });
  const fds = [{ fd: buf, events: EPOLLIN, revents: 0 }];
  expect(await p.poll(fds, 1_000_000_000)).toBe(1);
  expect(fds[0]!.revents).toBe(EPOLLIN);
  await writer.join();
  await p.close(tl);
  await p.close(buf);
});

describe("DMA_BUF_IOCTL_SYNC and DMA_BUF_SET_NAME", () => {
  it("SYNC validates its flags and a START waits for the fences the access needs", async () => {
    const out: unknown[] = [];
    const r = await runProcess(async (p) => {
      const buf = await bufFd();
      for (const flags of [0, DMA_BUF_SYNC_END, 0x10, DMA_BUF_SYNC_RW | 0x8])
        out.push(await p.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags }));
      out.push(await p.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: "rw" }));
      for (const flags of [
        DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ,
        DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ,
        DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW,
        DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW,
      ])
        out.push(await p.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags }));
      // A write fence: a reader's START waits for it; the writer signals it later.
      const tl = await p.open(SW_SYNC_PATH, O_RDWR);
      const w = await createFence(p, tl, 1);
      expect(
        await p.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_WRITE, fd: w }),
      ).toBe(0);
      let started = false;
      const reader = p.spawnThread("reader", async (q) => {
        out.push(
          await q.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ }),
        );
        started = true;
      });
      await sleep(1000);
      out.push(started); // still waiting for the write fence
      expect(await p.ioctl(tl, SW_SYNC_IOC_INC, 1)).toBe(0);
      await reader.join();
      out.push(started);
      for (const fd of [w, tl, buf]) expect(await p.close(fd)).toBe(0);
    });
    expect(splatLines(r)).toEqual([]);
    expect(out).toEqual([-EINVAL, -EINVAL, -EINVAL, -EINVAL, -EFAULT, 0, 0, 0, 0, false, 0, true]);
  });

  it("SET_NAME (A and B) sets the name bufinfo shows; a name too long is EINVAL", async () => {
    const out: unknown[] = [];
    const r = await runProcess(async (p) => {
      const buf = await bufFd();
      const d = dmaBufOfFd(p, buf);
      out.push(d.bufName);
      out.push(await p.ioctl(buf, DMA_BUF_SET_NAME_B, { name: "scanout" }), d.bufName);
      out.push(await p.ioctl(buf, DMA_BUF_SET_NAME_A, { name: "cursor" }), d.bufName);
      out.push(await p.ioctl(buf, DMA_BUF_SET_NAME_B, { name: "x".repeat(31) }));
      out.push(await p.ioctl(buf, DMA_BUF_SET_NAME_B, { name: "x".repeat(32) }), d.bufName);
      out.push(await p.ioctl(buf, DMA_BUF_SET_NAME_B, { name: 42 }));
      expect(await p.close(buf)).toBe(0);
    });
    expect(splatLines(r)).toEqual([]);
    expect(out).toEqual([null, 0, "scanout", 0, "cursor", 0, -EINVAL, "x".repeat(31), -EFAULT]);
  });
});

describe("poll(2) on a dma-buf vs a replaced sw_sync fence", () => {
  it("finds dma-buf.fence-cb-without-ref with the toggle on", async () => {
    const res = await explore(pollVsReplace, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      seed: 1,
      toggles: [FENCE_CB_WITHOUT_REF.name],
    });
    expect(res.firstFailure).not.toBeNull();
    const msgs = res.firstFailure!.splats.map((s) => s.message).join("\n");
    expect(msgs).toMatch(/released with pending signals!/);
  });

  it("is clean with the toggle off", async () => {
    const res = await explore(pollVsReplace, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      seed: 1,
    });
    expect(res.firstFailure && splatLines(res.firstFailure)).toBeNull();
    expect(res.schedules).toBe(100);
  });
});

/**
 * The known window `sw-sync.release-signal-without-ref`, without any race: a poller's callback
 * holds the last reference of the dma-buf's first write fence (its sync_file is closed and a
 * later fence replaced it in the reservation object) when the timeline's file is closed.
 */
const releaseWithPollerHoldingLastRef: Scenario = processScenario(async (p) => {
  const buf = await bufFd();
  const tl = await p.open(SW_SYNC_PATH, O_RDWR);
  const f1 = await createFence(p, tl, 1);
  expect(
    await p.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_WRITE, fd: f1 }),
  ).toBe(0);
  await p.close(f1);
  const fds = [{ fd: buf, events: EPOLLIN, revents: 0 }];
  const poller = p.spawnThread("poller", async (q) => {
    expect(await q.poll(fds, 1_000_000_000)).toBe(1);
  });
  await sleep(1000); // the poller's callback (and its fence reference) is on the first point
  const f2 = await createFence(p, tl, 2);
  expect(
    await p.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_WRITE, fd: f2 }),
  ).toBe(0);
  await p.close(f2);
  await p.close(tl); // sw_sync_debugfs_release() signals both points with -ENOENT
  await poller.join();
  expect(fds[0]!.revents).toBe(EPOLLIN);
  await p.close(buf);
});

describe("closing a sw_sync timeline while a poller holds a point's last reference", () => {
  it("deadlocks on the timeline lock in the kernel's sw_sync_debugfs_release() (known window)", async () => {
    const r = await new Simulation({ seed: 1 }).run(releaseWithPollerHoldingLastRef);
    expect(r.outcome).toBe("deadlock");
    const lines = splatLines(r).join("\n");
    expect(lines).toMatch(/possible recursive locking detected/);
    expect(lines).toMatch(/sync_timeline_lock/);
  });

  it("is clean with the window's fix switch on", async () => {
    const r = await new Simulation({
      seed: 1,
      toggles: [SW_SYNC_RELEASE_SIGNAL_WITHOUT_REF.name],
    }).run(releaseWithPollerHoldingLastRef);
    expect(r.outcome).toBe("ok");
    expect(splatLines(r)).toEqual([]);
  });
});
