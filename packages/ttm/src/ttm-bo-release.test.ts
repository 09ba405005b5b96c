import {
  DmaResvUsage,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvReserveFences,
} from "@primetime/dma-buf";
import { drmGemObjectPut } from "@primetime/gem";
import {
  busyWorkqueues,
  flushWorkqueue,
  isErr,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SpinLock,
  systemWq,
} from "@primetime/kernel";
import { spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { createMapDumb, expectClean, runTtm, SYSTEM, testBoCreate, VRAM } from "./test-support.js";
import { type TtmBufferObject, ttmBoReserve, ttmBoUnreserve, ttmBoValidate } from "./ttm-bo.js";
import { TTM_BO_VM_NUM_PREFAULT } from "./ttm-bo-vm.js";
import { ttmGlobBoCount } from "./ttm-device.js";
import { TTM_PL_SYSTEM, TTM_PL_VRAM } from "./ttm-placement.js";

const ops = { getDriverName: () => "test", getTimelineName: () => "sw" };

describe("ttm_bo_release", () => {
  it("keeps a busy BO (kref_init resurrection) until its fence signals, then destroys it", async () => {
    const r = await runTtm(async (m) => {
      const bo = await testBoCreate(m, 4096, SYSTEM);
      if (isErr(bo)) throw new Error("create");
      const lock = new SpinLock("sw_fence_lock");
      const fence = dmaFenceCreate(ops, lock, dmaFenceContextAlloc(1), 1);
      if (isErr(fence)) throw new Error("fence");
      await ttmBoReserve(bo, false, false);
      expect(await dmaResvReserveFences(bo.resv, 1)).toBe(0);
      await dmaResvAddFence(bo.resv, fence, DmaResvUsage.BOOKKEEP);
      await ttmBoUnreserve(bo);
      await drmGemObjectPut(bo);
      // Busy: resurrected for delayed destroy, not freed.
      expect(bo.freed).toBe(false);
      expect(bo.deleted).toBe(true);
      expect(bo.kref.read()).toBe(1);
      expect(ttmGlobBoCount()).toBe(1);
      // The delayed delete waits for the fence on the device's workqueue.
      await flushWorkqueue(systemWq());
      expect(bo.freed).toBe(false);
      expect(busyWorkqueues()).toEqual([m.bdev.wq]);
      await dmaFenceSignal(fence);
      await dmaFencePut(fence);
      // quiesce() flushes the device's workqueue too: the work's put destroys the BO.
      await m.kernel.quiesce();
      expect(busyWorkqueues()).toEqual([]);
      expect(bo.freed).toBe(true);
      expect(ttmGlobBoCount()).toBe(0);
    });
    expectClean(r);
  });

  it("frees an idle BO at once", async () => {
    const r = await runTtm(async (m) => {
      const bo = await testBoCreate(m, 4096, SYSTEM);
      if (isErr(bo)) throw new Error("create");
      await drmGemObjectPut(bo);
      expect(bo.freed).toBe(true);
      expect(ttmGlobBoCount()).toBe(0);
      expect(m.gpu.system.allocated).toBe(0);
    });
    expectClean(r);
  });
});

describe("CPU mappings", () => {
  it("a fault maps up to TTM_BO_VM_NUM_PREFAULT pages, no further than the end of the VMA", async () => {
    const r = await runTtm(
      async (m) => {
        const p = m.kernel.spawnProcess("user", async (proc) => {
          const fd = await proc.open("/dev/dri/card0", O_RDWR);
          // 20 pages (width 1024 at 32 bpp: one page a row).
          const c = await createMapDumb(proc, fd, 20);
          const whole = await proc.mmap(0, c.size, PROT_READ, MAP_SHARED, fd, c.offset);
          const vmaOf = (addr: number) =>
            [...m.bdev.devMapping.iMmap].find((v) => v.vmStart === addr)!;
          // The first access maps pages 0-15; an access to page 16 faults in pages 16-19.
          expect(await proc.readMemory(whole, 1)).toHaveLength(1);
          expect(vmaOf(whole).pages.size).toBe(TTM_BO_VM_NUM_PREFAULT);
          expect(await proc.readMemory(whole + 16 * 4096, 1)).toHaveLength(1);
          expect(vmaOf(whole).pages.size).toBe(20);
          // A mapping of the first 3 pages only: a fault on page 1 maps pages 1 and 2, not past it.
          const part = await proc.mmap(0, 3 * 4096, PROT_READ, MAP_SHARED, fd, c.offset);
          expect(await proc.readMemory(part + 4096, 1)).toHaveLength(1);
          expect([...vmaOf(part).pages.keys()].map((vpn) => vpn - part / 4096)).toEqual([1, 2]);
          expect(await proc.munmap(whole, c.size)).toBe(0);
          expect(await proc.munmap(part, 3 * 4096)).toBe(0);
          expect(await proc.close(fd)).toBe(0);
        });
        expect(await p.wait()).toBe(0);
      },
      { register: true },
    );
    expectClean(r);
  });

  it("a process's mapping sees its bytes after the BO moves under it (faults wait for the move)", async () => {
    const r = await runTtm(
      async (m) => {
        const p = m.kernel.spawnProcess("user", async (proc) => {
          const fd = await proc.open("/dev/dri/card0", O_RDWR);
          expect(fd).toBeGreaterThanOrEqual(0);
          const c = await createMapDumb(proc, fd, 2);
          const addr = await proc.mmap(0, c.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, c.offset);
          expect(addr).toBeGreaterThan(0);
          const data = new Uint8Array(c.size).map((_, i) => (i * 13) & 0xff);
          expect(await proc.writeMemory(addr, data)).toBe(c.size);
          // Find the BO and move it back and forth from a kernel thread.
          const bo = [...m.bdev.devMapping.iMmap][0]!.vmPrivateData as TtmBufferObject;
          expect(bo.resource!.memType).toBe(TTM_PL_VRAM);
          const mover = spawn("mover", async () => {
            for (const pl of [SYSTEM, VRAM, SYSTEM]) {
              await ttmBoReserve(bo, false, false);
              expect(
                await ttmBoValidate(bo, pl, {
                  interruptible: false,
                  noWaitGpu: false,
                  bytesMoved: 0,
                }),
              ).toBe(0);
              await ttmBoUnreserve(bo);
            }
          });
          for (let i = 0; i < 3; i++) {
            const back = await proc.readMemory(addr, c.size);
            expect(back).toEqual(data);
          }
          await mover.join();
          expect(bo.resource!.memType).toBe(TTM_PL_SYSTEM);
          expect(await proc.readMemory(addr, c.size)).toEqual(data);
          expect(await proc.munmap(addr, c.size)).toBe(0);
          expect(await proc.close(fd)).toBe(0);
        });
        expect(await p.wait()).toBe(0);
      },
      { register: true },
    );
    expectClean(r);
  });
});
