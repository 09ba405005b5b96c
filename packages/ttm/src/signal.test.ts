/**
 * Fatal signals on TTM's interruptible paths (v6.18, read in the 6.18.35 stable tree):
 * ttm_bo_reserve()'s -EINTR -> -ERESTARTSYS, ttm_bo_vm_reserve()'s wait without mmap_lock and
 * x86's fault_signal_pending() after VM_FAULT_RETRY, ttm_bo_vm_fault_idle()'s ordinary wait
 * (-ERESTARTSYS: VM_FAULT_NOPAGE).
 */
import {
  DmaResvUsage,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvReserveFences,
} from "@primetime/dma-buf";
import {
  ERESTARTSYS,
  EXIT_KILLED,
  FAULT_FLAG_DEFAULT,
  isErr,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SpinLock,
  VM_FAULT_NOPAGE,
  VM_FAULT_RETRY,
  type Vma,
} from "@primetime/kernel";
import { spawn, type Task, WaitQueue, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { createMapDumb, expectClean, runTtm, type TtmMachine } from "./test-support.js";
import { type TtmBufferObject, ttmBoReserve, ttmBoUnreserve } from "./ttm-bo.js";
import { ttmBoVmFault, ttmBoVmOps } from "./ttm-bo-vm.js";

const RW = PROT_READ | PROT_WRITE;
const fenceOps = { getDriverName: () => "test", getTimelineName: () => "sw" };

async function untilAsleep(t: Task): Promise<void> {
  while (t.state !== "blocked") await yieldCpu();
}

/** A one-page dumb buffer of `proc` mapped shared; its VMA's ->fault logs each attempt. */
async function mapLogged(m: TtmMachine, proc: Process, fd: number) {
  const c = await createMapDumb(proc, fd, 1);
  const addr = await proc.mmap(0, c.size, RW, MAP_SHARED, fd, c.offset);
  const vma = [...m.bdev.devMapping.iMmap].find((v) => v.vmStart === addr)!;
  const bo = vma.vmPrivateData as TtmBufferObject;
  const log = { flags: [] as number[], results: [] as (number | "page")[] };
  vma.vmOps = {
    ...ttmBoVmOps,
    fault: async (v: Vma, pgoff: number, flags: number) => {
      log.flags.push(flags);
      const r = await ttmBoVmFault(v, pgoff, flags);
      log.results.push(typeof r === "number" ? r : "page");
      return r;
    },
  };
  return { addr, size: c.size, bo, vma, log };
}

describe("TTM and fatal signals", () => {
  it("a kill while a fault waits for a contended reservation without mmap_lock: VM_FAULT_RETRY, and fault_signal_pending() ends the access without a retry", async () => {
    let log: { flags: number[]; results: (number | "page")[] } | null = null;
    const r = await runTtm(
      async (m) => {
        let bo: TtmBufferObject | null = null;
        let reserved = false;
        let release = false;
        const wq = new WaitQueue("test");
        let faulter: Task | null = null;
        const p = m.kernel.spawnProcess("user", async (proc) => {
          const fd = await proc.open("/dev/dri/card0", O_RDWR);
          const map = await mapLogged(m, proc, fd);
          log = map.log;
          bo = map.bo;
          while (!reserved) await yieldCpu();
          faulter = proc.spawnThread("faulter", async () => {
            await proc.readMemory(map.addr, 1);
          });
          await faulter.join();
        });
        const holder = spawn("holder", async () => {
          while (bo === null) await yieldCpu();
          await ttmBoReserve(bo, false, false);
          reserved = true;
          while (!release) await wq.wait("hold the reservation");
          await ttmBoUnreserve(bo);
        });
        while (faulter === null) await yieldCpu();
        await untilAsleep(faulter);
        p.kill();
        expect(await p.wait()).toBe(EXIT_KILLED);
        release = true;
        wq.wakeAll();
        await holder.join();
      },
      { register: true },
    );
    expectClean(r);
    expect(log!.flags).toEqual([FAULT_FLAG_DEFAULT]);
    expect(log!.results).toEqual([VM_FAULT_RETRY]);
  });

  it("ttm_bo_reserve(interruptible) of a contended BO in a killed thread returns -ERESTARTSYS", async () => {
    const got: { ret?: number } = {};
    const r = await runTtm(
      async (m) => {
        let bo: TtmBufferObject | null = null;
        let release = false;
        const wq = new WaitQueue("test");
        let waiter: Task | null = null;
        const p = m.kernel.spawnProcess("user", async (proc) => {
          const fd = await proc.open("/dev/dri/card0", O_RDWR);
          const map = await mapLogged(m, proc, fd);
          await ttmBoReserve(map.bo, false, false);
          bo = map.bo;
          waiter = proc.spawnThread("waiter", async () => {
            got.ret = await ttmBoReserve(map.bo, true, false);
            await proc.dup(fd);
          });
          while (!release) await wq.wait("hold the reservation");
          await ttmBoUnreserve(map.bo);
        });
        while (waiter === null || bo === null) await yieldCpu();
        await untilAsleep(waiter);
        p.kill();
        release = true;
        wq.wakeAll();
        expect(await p.wait()).toBe(EXIT_KILLED);
      },
      { register: true },
    );
    expectClean(r);
    expect(got.ret).toBe(-ERESTARTSYS);
  });

  it("ttm_bo_vm_fault_idle()'s ordinary wait (a fault that may not retry) interrupted by a kill: VM_FAULT_NOPAGE, not SIGBUS", async () => {
    const got: { ret?: number | "page" } = {};
    const r = await runTtm(
      async (m) => {
        let faulter: Task | null = null;
        let fence: Exclude<ReturnType<typeof dmaFenceCreate>, number> | null = null;
        const p = m.kernel.spawnProcess("user", async (proc) => {
          const fd = await proc.open("/dev/dri/card0", O_RDWR);
          const map = await mapLogged(m, proc, fd);
          // A KERNEL fence (a move) that has not signalled.
          const f = dmaFenceCreate(
            fenceOps,
            new SpinLock("sw_fence_lock"),
            dmaFenceContextAlloc(1),
            1,
          );
          if (isErr(f)) throw new Error("fence");
          fence = f;
          await ttmBoReserve(map.bo, false, false);
          expect(await dmaResvReserveFences(map.bo.resv, 1)).toBe(0);
          await dmaResvAddFence(map.bo.resv, f, DmaResvUsage.KERNEL);
          await ttmBoUnreserve(map.bo);
          faulter = proc.spawnThread("faulter", async () => {
            const mm = map.vma.vmMm;
            await mm.mmapLock.readLock();
            // flags 0: a fault that may not retry waits with both locks held.
            const res = await ttmBoVmFault(map.vma, map.vma.vmPgoff, 0);
            got.ret = typeof res === "number" ? res : "page";
            await mm.mmapLock.readUnlock();
            await proc.dup(fd);
          });
          await faulter.join();
        });
        while (faulter === null) await yieldCpu();
        await untilAsleep(faulter);
        p.kill();
        expect(await p.wait()).toBe(EXIT_KILLED);
        await dmaFenceSignal(fence!);
        await dmaFencePut(fence!);
      },
      { register: true },
    );
    expectClean(r);
    expect(got.ret).toBe(VM_FAULT_NOPAGE);
  });
});
