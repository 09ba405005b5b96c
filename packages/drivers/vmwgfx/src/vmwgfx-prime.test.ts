/**
 * vmw_prime_handle_to_fd() (vmwgfx_prime.c, v6.12.19; the same in v6.18.35): a buffer handle is
 * looked up with vmw_user_bo_lookup() (-ESRCH, a GEM reference) before GEM PRIME exports it, and
 * the reference is dropped after the export.
 */

import { type DrmFile, drmGemObjectLookup, drmGemObjectPut } from "@primetime/gem";
import { ENOENT, ESRCH } from "@primetime/kernel";
import { baselineFixes, type Scenario } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import {
  bootVmw,
  handleClose,
  handleToFd,
  mobCreate,
  ok,
  openNode,
  runVmw,
  shutdownVmw,
  splatText,
} from "./test-machine.js";
import type { VmwBo } from "./vmwgfx-bo.js";

describe("vmw_prime_handle_to_fd(): vmw_user_bo_lookup() before GEM PRIME", () => {
  it("a handle the file does not have is -ESRCH; a buffer exports with the lookup's reference dropped", async () => {
    const r = await runVmw(
      async (p, m) => {
        const fd = await openNode(p, m.vmw.render);
        expect(await handleToFd(p, fd, 5)).toBe(-ESRCH);
        const mob = ok(await mobCreate(p, fd, 4096), "mob");
        const dmabuf = await handleToFd(p, fd, mob.handle);
        expect(dmabuf).toBeGreaterThan(0);
        const file = p.files.peek(fd)!.privateData as DrmFile;
        const bo = (await drmGemObjectLookup(file, mob.handle)) as VmwBo;
        // The handle's, the dma-buf's and this lookup's: vmw_user_bo_unref() dropped its own.
        expect(bo.refcount.read()).toBe(3);
        await drmGemObjectPut(bo);
        expect(await handleClose(p, fd, mob.handle)).toBe(0);
        expect(await handleToFd(p, fd, mob.handle)).toBe(-ESRCH);
        await p.close(dmabuf);
        await p.close(fd);
      },
      { toggles: baselineFixes() },
    );
    expect(splatText(r)).toBe("");
  });

  it("an export racing GEM_CLOSE of its handle fails with vmwgfx's -ESRCH or, closed between the two lookups, GEM PRIME's -ENOENT", async () => {
    const seen = new Set<number>();
    const scenario: Scenario = async (sim) => {
      const m = await bootVmw(sim);
      const proc = m.kernel.spawnProcess("igt", async (p) => {
        const fd = await openNode(p, m.vmw.render);
        const mob = ok(await mobCreate(p, fd, 4096), "mob");
        const a = p.spawnThread("export", async (q) => {
          const ret = await handleToFd(q, fd, mob.handle);
          if (ret < 0) seen.add(ret);
          else await q.close(ret);
        });
        const b = p.spawnThread("close", async (q) => {
          await handleClose(q, fd, mob.handle);
        });
        await a.join();
        await b.join();
        await p.close(fd);
      });
      await proc.wait();
      await shutdownVmw(m);
    };
    const res = await explore(scenario, {
      strategy: "pct",
      depth: 3,
      schedules: 200,
      seed: 7,
      toggles: baselineFixes(),
      scenario: "export-vs-close",
    });
    expect(res.firstFailure).toBeNull();
    expect([...seen].sort()).toEqual([-ESRCH, -ENOENT].sort());
  });
});
