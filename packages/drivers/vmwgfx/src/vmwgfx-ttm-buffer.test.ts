/**
 * vmwgfx's memory types and placements (vmwgfx-gmrid-manager.ts, vmwgfx-ttm-buffer.ts,
 * vmw_bo_placement_set()): EXECBUF validates the buffers it names into MOBs, a small MOB limit
 * makes TTM evict the least recently used back to system memory (vmw_evict_flags(), vmw_move()'s
 * unbind), with contents kept and the oracles clean, and a submission needing more than the
 * limit can ever give is -ENOMEM (ttm_bo_validate()'s -ENOSPC turned).
 */

import type { Process } from "@primetime/kernel";
import { ENOMEM } from "@primetime/kernel";
import { explore } from "@primetime/sim/explore";
import { TTM_PL_SYSTEM, TTM_PL_VRAM, ttmManagerType, ttmResourceManagerUsed } from "@primetime/ttm";
import { describe, expect, it } from "vitest";
import {
  bootVmw,
  execbuf,
  expectClean,
  handleClose,
  mobCreate,
  mobRead,
  mobWrite,
  ok,
  openNode,
  runVmw,
  shutdownVmw,
  splatText,
  surfaceCreate,
  surfaceUnref,
  synccpuRead,
  type VmwMob,
} from "./test-machine.js";
import { type VmwgfxMemory, type VmwPrivate, vmwPriv } from "./vmwgfx-drv.js";
import { VMW_PL_GMR, VMW_PL_MOB, type VmwgfxGmridMan } from "./vmwgfx-gmrid-manager.js";

/**
 * A MOB limit of 2 pages in a guest of 8: the soft limit grows once (to 4 pages, half the
 * guest's RAM), then the manager is full.
 */
const SMALL_MOB: Partial<VmwgfxMemory> = { maxMobPages: 2, totalramPages: 8 };

function mobMan(vmw: VmwPrivate): VmwgfxGmridMan {
  return ttmManagerType(vmw.bdev, VMW_PL_MOB) as VmwgfxGmridMan;
}

/** The memory types of the buffers on the MOB manager's LRU, by size in pages. */
function mobPages(vmw: VmwPrivate): number {
  return mobMan(vmw).usedGmrPages;
}

async function filled(p: Process, fd: number, pages: number, value: number): Promise<VmwMob> {
  const b = ok(await mobCreate(p, fd, pages * 4096), "ALLOC_BO");
  await mobWrite(p, fd, b, new Uint8Array([value, value]));
  return b;
}

describe("vmwgfx memory types", () => {
  it("registers GMR and MOB managers in use and a VRAM manager not in use (screen targets)", async () => {
    expectClean(
      await runVmw(async (_p, m) => {
        const vmw = vmwPriv(m.vmw.device);
        const gmr = ttmManagerType(vmw.bdev, VMW_PL_GMR) as VmwgfxGmridMan;
        expect(gmr.useTt && ttmResourceManagerUsed(gmr)).toBe(true);
        expect(gmr.maxGmrIds).toBe(64);
        expect(mobMan(vmw).useTt && ttmResourceManagerUsed(mobMan(vmw))).toBe(true);
        const vram = ttmManagerType(vmw.bdev, TTM_PL_VRAM)!;
        expect(vram.useTt).toBe(false);
        expect(ttmResourceManagerUsed(vram)).toBe(false);
        expect(vram.size).toBe(16);
      }),
    );
  });

  it("ALLOC_BO is in system memory until EXECBUF validates it into a MOB", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const vmw = vmwPriv(m.vmw.device);
        const fd = await openNode(p, m.vmw.render);
        const a = await filled(p, fd, 2, 5);
        const s = ok(await surfaceCreate(p, fd, 2048, null), "surface");
        expect(mobPages(vmw)).toBe(0);
        expect(await execbuf(p, fd, `fill ${a.handle} 9`)).toBeGreaterThan(0);
        expect(mobPages(vmw)).toBe(2);
        // a surface's guest memory goes to its resource's domain, a MOB, too
        expect(await execbuf(p, fd, `fill ${s.handle} 3`)).toBeGreaterThan(0);
        expect(mobPages(vmw)).toBe(4); // 2048 x 1 at 4 bytes a texel: 2 pages
        expect(await synccpuRead(p, fd, a.handle)).toBe(0);
        expect([...(await mobRead(p, fd, a, 2))]).toEqual([9, 9]);
        await handleClose(p, fd, a.handle);
        await surfaceUnref(p, fd, s.handle);
        await p.close(fd);
      }),
    );
  });

  it("a full MOB manager evicts the least recently validated buffer, busy, to system memory", async () => {
    expectClean(
      await runVmw(
        async (p, m) => {
          const vmw = vmwPriv(m.vmw.device);
          const fd = await openNode(p, m.vmw.render);
          const a = await filled(p, fd, 2, 1);
          const b = await filled(p, fd, 2, 2);
          const c = await filled(p, fd, 2, 3);
          expect(await execbuf(p, fd, `fill ${a.handle} 11`)).toBeGreaterThan(0);
          expect(await execbuf(p, fd, `fill ${b.handle} 12`)).toBeGreaterThan(0);
          // 4 pages: the limit grew from 2 to half of the guest's RAM
          expect(mobMan(vmw).maxGmrPages).toBe(4);
          expect(mobMan(vmw).warnings).toContain("vmwgfx: increasing guest mob limits to 16 KiB.");
          // c does not fit: a (still busy with its fill) is evicted once its fence signals
          expect(await execbuf(p, fd, `fill ${c.handle} 13`)).toBeGreaterThan(0);
          expect(mobPages(vmw)).toBe(4);
          expect(mobMan(vmw).warnings.at(-1)).toBe(
            "vmwgfx, error: guest graphics is out of memory (mob limit at: 16 KiB).",
          );
          const sys = ttmManagerType(vmw.bdev, TTM_PL_SYSTEM)!;
          expect(sys.lru.map((r) => r.bo!.size)).toEqual([8192]);
          for (const [bo, v] of [
            [a, 11],
            [b, 12],
            [c, 13],
          ] as const) {
            expect(await synccpuRead(p, fd, bo.handle)).toBe(0);
            expect([...(await mobRead(p, fd, bo, 2))]).toEqual([v, v]);
          }
          // and a again: b, the least recently used now, goes
          expect(await execbuf(p, fd, `copy ${a.handle} ${c.handle}`)).toBeGreaterThan(0);
          expect(await synccpuRead(p, fd, c.handle)).toBe(0);
          expect([...(await mobRead(p, fd, b, 2))]).toEqual([12, 12]);
          expect([...(await mobRead(p, fd, c, 2))]).toEqual([11, 11]);
          await p.close(fd);
        },
        { device: { memory: SMALL_MOB } },
      ),
    );
  });

  it("a submission naming more than the MOB limit can hold is -ENOMEM; a smaller one then fits", async () => {
    expectClean(
      await runVmw(
        async (p, m) => {
          const vmw = vmwPriv(m.vmw.device);
          const fd = await openNode(p, m.vmw.render);
          const a = await filled(p, fd, 2, 1);
          const b = await filled(p, fd, 2, 2);
          const c = await filled(p, fd, 2, 3);
          // its own reserved buffers cannot be evicted: ttm_bo_validate()'s -ENOSPC is -ENOMEM
          expect(
            await execbuf(p, fd, `fill ${a.handle} 7; fill ${b.handle} 7; fill ${c.handle} 7`),
          ).toBe(-ENOMEM);
          expect(await execbuf(p, fd, `fill ${c.handle} 8`)).toBeGreaterThan(0);
          expect(mobPages(vmw)).toBe(4);
          expect(await synccpuRead(p, fd, c.handle)).toBe(0);
          expect([...(await mobRead(p, fd, c, 2))]).toEqual([8, 8]);
          // nothing ran of the failed submission
          expect([...(await mobRead(p, fd, a, 2))]).toEqual([1, 1]);
          await p.close(fd);
        },
        { device: { memory: SMALL_MOB } },
      ),
    );
  });

  it("two clients filling a small MOB concurrently: 60 PCT schedules, contents kept, clean", async () => {
    const res = await explore(
      async (sim) => {
        const m = await bootVmw(sim, { memory: SMALL_MOB });
        const client = (v: number) =>
          m.kernel.spawnProcess(`client${v}`, async (p) => {
            const fd = await openNode(p, m.vmw.render);
            const x = await filled(p, fd, 2, v);
            const y = await filled(p, fd, 1, v);
            for (const [bo, fill] of [
              [x, v + 10],
              [y, v + 20],
              [x, v + 30],
            ] as const) {
              const ret = await execbuf(p, fd, `fill ${bo.handle} ${fill}`);
              if (ret <= 0) throw new Error(`EXECBUF = ${ret}`);
            }
            if ((await synccpuRead(p, fd, x.handle)) !== 0) throw new Error("SYNCCPU");
            const got = [...(await mobRead(p, fd, x, 2))];
            if (got[0] !== v + 30 || got[1] !== v + 30) throw new Error(`x reads ${got}`);
            await handleClose(p, fd, y.handle);
            await p.close(fd);
          });
        const procs = [client(1), client(2)];
        for (const p of procs) if ((await p.wait()) !== 0) sim.report("warn", "client failed");
        await shutdownVmw(m);
      },
      { strategy: "pct", schedules: 60, seed: 3 },
    );
    expect(res.firstFailure ? splatText(res.firstFailure) : "").toBe("");
  });
});
