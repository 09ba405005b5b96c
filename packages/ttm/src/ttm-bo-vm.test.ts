import {
  DmaResvUsage,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvReserveFences,
} from "@primetime/dma-buf";
import { DRM_IOCTL_GEM_CLOSE, drmGemObjectGet, drmGemObjectPut } from "@primetime/gem";
import {
  FAULT_FLAG_DEFAULT,
  FAULT_FLAG_TRIED,
  isErr,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SpinLock,
  VM_FAULT_RETRY,
  type Vma,
} from "@primetime/kernel";
import { spawn, WaitQueue } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { createMapDumb, expectClean, runTtm, type TtmMachine } from "./test-support.js";
import { type TtmBufferObject, ttmBoReserve, ttmBoUnreserve } from "./ttm-bo.js";
import { ttmBoVmFault, ttmBoVmOps } from "./ttm-bo-vm.js";
import { ttmGlobBoCount } from "./ttm-device.js";

const RW = PROT_READ | PROT_WRITE;
const fenceOps = { getDriverName: () => "test", getTimelineName: () => "sw" };

/** What the wrapped ->fault saw: each attempt's flags and what ttm_bo_vm_fault() returned. */
interface FaultLog {
  flags: number[];
  results: (number | "page")[];
  /** Whether the faulting task still held mmap_lock when ttm_bo_vm_fault() returned. */
  heldAfter: boolean[];
}

/**
 * Maps a one-page dumb buffer of `proc` and wraps its VMA's ->fault to log each attempt (the
 * real ttm_bo_vm_fault() does the work). The mapping, the BO, its handle and the log.
 */
async function mapLogged(m: TtmMachine, proc: Process, fd: number, wq: WaitQueue) {
  const c = await createMapDumb(proc, fd, 1);
  const addr = await proc.mmap(0, c.size, RW, MAP_SHARED, fd, c.offset);
  const vma = [...m.bdev.devMapping.iMmap].find((v) => v.vmStart === addr)!;
  const bo = vma.vmPrivateData as TtmBufferObject;
  const log: FaultLog = { flags: [], results: [], heldAfter: [] };
  vma.vmOps = {
    ...ttmBoVmOps,
    fault: async (v: Vma, pgoff: number, flags: number) => {
      const mm = v.vmMm;
      log.flags.push(flags);
      wq.wakeAll();
      const r = await ttmBoVmFault(v, pgoff, flags);
      log.results.push(typeof r === "number" ? r : "page");
      log.heldAfter.push(mm.mmapLock.holder !== null);
      return r;
    },
  };
  return { addr, size: c.size, handle: c.handle, bo, log };
}

/**
 * While a fault waits, the faulting process can still take mmap_lock for writing (an anonymous
 * mmap() and munmap()): the fault waits without it.
 */
async function expectMmapLockFree(proc: Process): Promise<void> {
  const anon = await proc.mmap(0, 4096, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  expect(anon).toBeGreaterThan(0);
  expect(await proc.munmap(anon, 4096)).toBe(0);
}

/** The fault ran twice: VM_FAULT_RETRY without mmap_lock, then the page with FAULT_FLAG_TRIED. */
function expectRetriedOnce(log: FaultLog | null): void {
  expect(log!.flags).toEqual([FAULT_FLAG_DEFAULT, FAULT_FLAG_DEFAULT | FAULT_FLAG_TRIED]);
  expect(log!.results).toEqual([VM_FAULT_RETRY, "page"]);
  expect(log!.heldAfter).toEqual([false, true]);
}

describe("ttm_bo_vm_fault: VM_FAULT_RETRY (v6.15/v6.16 ttm_bo_vm.c)", () => {
  it("a contended reservation: the first attempt drops mmap_lock and returns VM_FAULT_RETRY, the retry carries FAULT_FLAG_TRIED and maps the page", async () => {
    let log: FaultLog | null = null;
    const r = await runTtm(
      async (m) => {
        const p = m.kernel.spawnProcess("user", async (proc) => {
          const wq = new WaitQueue("test");
          const fd = await proc.open("/dev/dri/card0", O_RDWR);
          const map = await mapLogged(m, proc, fd, wq);
          log = map.log;
          let reserved = false;
          let release = false;
          const holder = spawn("holder", async () => {
            await ttmBoReserve(map.bo, false, false);
            reserved = true;
            wq.wakeAll();
            while (!release) await wq.wait("hold the reservation");
            await ttmBoUnreserve(map.bo);
          });
          while (!reserved) await wq.wait("reserved");
          let read: Uint8Array | number = -1;
          const faulter = proc.spawnThread("faulter", async () => {
            read = await proc.readMemory(map.addr, 1);
          });
          while (log.flags.length === 0) await wq.wait("fault entered");
          // The fault waits for the reservation: with mmap_lock held, this mmap() (the write
          // lock) would wait for it, and the holder for the mmap(): a deadlock.
          await expectMmapLockFree(proc);
          release = true;
          wq.wakeAll();
          await faulter.join();
          await holder.join();
          expect(read).toEqual(new Uint8Array([0]));
          expect(await proc.munmap(map.addr, map.size)).toBe(0);
          expect(await proc.close(fd)).toBe(0);
        });
        expect(await p.wait()).toBe(0);
      },
      { register: true },
    );
    expectClean(r);
    expectRetriedOnce(log);
  });

  it("the GEM reference held across the drop keeps the BO alive while its VMA is unmapped and its last handle closed; the fault's put frees it", async () => {
    const snaps: Record<string, [number, boolean]> = {};
    let log: FaultLog | null = null;
    const r = await runTtm(
      async (m) => {
        const p = m.kernel.spawnProcess("user", async (proc) => {
          const wq = new WaitQueue("test");
          const fd = await proc.open("/dev/dri/card0", O_RDWR);
          const map = await mapLogged(m, proc, fd, wq);
          log = map.log;
          const bo = map.bo;
          const snap = (k: string) => {
            // Released: freed, or (its clear still in flight) queued for delayed destruction.
            snaps[k] = [bo.refcount.read(), bo.freed || bo.deleted];
          };
          let reserved = false;
          let closed = false;
          const holder = spawn("holder", async () => {
            await drmGemObjectGet(bo);
            await ttmBoReserve(bo, false, false);
            reserved = true;
            wq.wakeAll();
            while (!closed) await wq.wait("hold the reservation");
            // Only the waiting fault's reference is left once this one is dropped.
            await drmGemObjectPut(bo);
            snap("holder put");
            await ttmBoUnreserve(bo);
          });
          while (!reserved) await wq.wait("reserved");
          snap("mapped"); // handle, VMA, holder
          let read: Uint8Array | number = -1;
          const faulter = proc.spawnThread("faulter", async () => {
            read = await proc.readMemory(map.addr, 1);
            snap("fault done");
          });
          while (log.flags.length === 0) await wq.wait("fault entered");
          // munmap() needs mmap_lock for writing: it runs once the fault has dropped it.
          expect(await proc.munmap(map.addr, map.size)).toBe(0);
          snap("unmapped");
          expect(await proc.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: map.handle, pad: 0 })).toBe(0);
          snap("handle closed");
          closed = true;
          wq.wakeAll();
          await faulter.join();
          await holder.join();
          // The retry found no VMA there any more.
          expect(read).toBeLessThan(0);
          expect(await proc.close(fd)).toBe(0);
        });
        expect(await p.wait()).toBe(0);
        await m.kernel.quiesce();
        expect(ttmGlobBoCount()).toBe(0);
      },
      { register: true },
    );
    expectClean(r);
    expect(snaps).toEqual({
      mapped: [3, false],
      unmapped: [3, false], // the VMA's went, the fault's came
      "handle closed": [2, false], // the holder's and the fault's
      "holder put": [1, false], // the fault's
      "fault done": [0, true], // the fault's put was the last
    });
    expect(log!.flags).toEqual([FAULT_FLAG_DEFAULT]);
    expect(log!.results).toEqual([VM_FAULT_RETRY]);
  });

  it("a pipelined move in flight: ttm_bo_vm_fault_idle() waits for it without mmap_lock and the retry maps the page", async () => {
    let log: FaultLog | null = null;
    const r = await runTtm(
      async (m) => {
        const p = m.kernel.spawnProcess("user", async (proc) => {
          const wq = new WaitQueue("test");
          const fd = await proc.open("/dev/dri/card0", O_RDWR);
          const map = await mapLogged(m, proc, fd, wq);
          log = map.log;
          // A KERNEL fence (a move) that has not signalled yet.
          const fence = dmaFenceCreate(
            fenceOps,
            new SpinLock("sw_fence_lock"),
            dmaFenceContextAlloc(1),
            1,
          );
          if (isErr(fence)) throw new Error("fence");
          await ttmBoReserve(map.bo, false, false);
          expect(await dmaResvReserveFences(map.bo.resv, 1)).toBe(0);
          await dmaResvAddFence(map.bo.resv, fence, DmaResvUsage.KERNEL);
          await ttmBoUnreserve(map.bo);
          let read: Uint8Array | number = -1;
          const faulter = proc.spawnThread("faulter", async () => {
            read = await proc.readMemory(map.addr, 1);
          });
          while (log.flags.length === 0) await wq.wait("fault entered");
          // With mmap_lock held across the fence wait this mmap() would never get the lock.
          await expectMmapLockFree(proc);
          await dmaFenceSignal(fence);
          await dmaFencePut(fence);
          await faulter.join();
          expect(read).toEqual(new Uint8Array([0]));
          expect(await proc.munmap(map.addr, map.size)).toBe(0);
          expect(await proc.close(fd)).toBe(0);
        });
        expect(await p.wait()).toBe(0);
      },
      { register: true },
    );
    expectClean(r);
    expectRetriedOnce(log);
  });
});
