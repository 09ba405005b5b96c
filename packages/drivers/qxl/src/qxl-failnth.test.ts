/**
 * fail-nth over every fallible call (slab allocations, idr allocations) made by ALLOC,
 * ALLOC_SURF and EXECBUFFER: each run fails exactly the N-th call inside the ioctl, then closes
 * everything, lets the device hand every command back, destroys the device and scans for leaks.
 * The ioctl must return an errno (or succeed) and nothing may leak, except where mainline itself
 * leaks (see the ALLOC cases).
 */

import {
  allocationCount,
  ENOMEM,
  injectedFailures,
  type Process,
  setFailslab,
} from "@primetime/kernel";
import {
  baselineFixes,
  formatSplat,
  listKnownWindows,
  type RunResult,
  Simulation,
} from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  closeFd,
  gemClose,
  openQxl,
  type QxlMachine,
  qxlAlloc,
  qxlAllocSurf,
  qxlMachineMain,
  qxlPrepareDraw,
  qxlSettle,
  qxlSubmitDraw,
} from "./test-machine.js";
import { QXL_HANDLE_CREATE_LEAK } from "./toggles.js";

/** What a case prepares before fail-nth is armed: the object it closes afterwards, if any. */
interface Prepared {
  /** A GEM handle the case created (closed after the op). */
  handle?: number;
  /** The user page holding a prepared EXECBUFFER's command. */
  page?: number;
}

interface FailNthOutcome {
  nth: number;
  what: string | null;
  ret: number;
  /** Objects left on the device's list after userspace closed everything (see above). */
  stranded: number;
  result: RunResult;
}

/**
 * Runs `op` in a fresh machine with fail-nth armed only around it, for N = 1, 2, ... until a run
 * injects nothing. `toggles`: the simulation's toggles and fix switches (none: mainline).
 */
async function failNthOver(
  prepare: (p: Process, fd: number, m: QxlMachine) => Promise<Prepared>,
  op: (p: Process, fd: number, prep: Prepared) => Promise<number>,
  toggles: string[] = [],
): Promise<FailNthOutcome[]> {
  const out: FailNthOutcome[] = [];
  for (let nth = 1; nth < 200; nth++) {
    let what: string | null = null;
    let ret = 0;
    let stranded = 0;
    const sim = new Simulation({ seed: 1, toggles });
    const result = await sim.run(() =>
      qxlMachineMain(sim, async (m) => {
        const proc = m.kernel.spawnProcess("failnth", async (p) => {
          const fd = await openQxl(p, m);
          const prep = await prepare(p, fd, m);
          setFailslab({ failNth: allocationCount() + nth });
          const before = injectedFailures().length;
          ret = await op(p, fd, prep);
          setFailslab(null);
          what = injectedFailures()[before]?.what ?? null;
          if (prep.handle) await gemClose(p, fd, prep.handle);
          if (ret > 0) await gemClose(p, fd, ret);
          await qxlSettle(m.kernel, m.qxl);
          // Objects userspace no longer reaches but the device still lists (released at unload by
          // qxl_bo_force_delete()): leaked until then.
          stranded = [...m.qxl.qdev.gemObjects].filter(
            (b) => !m.qxl.qdev.currentReleaseBo.includes(b),
          ).length;
          await closeFd(p, fd);
        });
        await proc.wait();
      }),
    );
    out.push({ nth, what, ret, stranded, result });
    if (what === null) break;
  }
  return out;
}

/** A run's outcome by name: what the ioctl returned, what is stranded, what was reported. */
function outcome(o: FailNthOutcome) {
  return {
    ret: o.ret,
    stranded: o.stranded,
    leaks: o.result.splats.filter((s) => s.kind === "kmemleak").map((s) => s.message),
    splats: o.result.splats.filter((s) => s.kind !== "kmemleak").map((s) => formatSplat(s)),
  };
}

/** mainline's qxl.handle-create-leak strands the object when drm_gem_handle_create() fails. */
const inHandleCreate = (o: FailNthOutcome) =>
  o.what === "idr_alloc" || o.what === "drm_vma_offset_file";

describe("qxl fail-nth", () => {
  it("ALLOC: every failure is -ENOMEM; a failure in the handle's creation strands the object (as mainline)", async () => {
    const runs = await failNthOver(
      async () => ({}),
      (p, fd) => qxlAlloc(p, fd, 8192),
    );
    expect(runs.length).toBeGreaterThan(3);
    for (const o of runs) {
      // qxl_gem_object_create_with_handle() returns drm_gem_handle_create()'s error (its idr
      // slot or the vma node's file entry) without dropping the creation reference: the object
      // stays on the device's list, unreachable, until qxl_bo_force_delete() at unload (known
      // window qxl.handle-create-leak; its fix switch is off here).
      expect(outcome(o), `nth ${o.nth} (${o.what})`).toEqual({
        ret: o.what === null ? expect.any(Number) : -ENOMEM,
        stranded: inHandleCreate(o) ? 1 : 0,
        leaks: [],
        splats: [],
      });
      if (o.what === null) expect(o.ret).toBeGreaterThan(0);
    }
  }, 300_000);

  it("ALLOC_SURF: every failure is -ENOMEM; a failure in the handle's creation strands the object (as mainline)", async () => {
    const runs = await failNthOver(
      async () => ({}),
      (p, fd) => qxlAllocSurf(p, fd, 32, 32),
    );
    for (const o of runs) {
      // qxl_gem_object_create_with_handle() returns drm_gem_handle_create()'s error (its idr
      // slot or the vma node's file entry) without dropping the creation reference: the object
      // stays on the device's list, unreachable, until qxl_bo_force_delete() at unload (known
      // window qxl.handle-create-leak; its fix switch is off here).
      expect(outcome(o), `nth ${o.nth} (${o.what})`).toEqual({
        ret: o.what === null ? expect.any(Number) : -ENOMEM,
        stranded: inHandleCreate(o) ? 1 : 0,
        leaks: [],
        splats: [],
      });
      if (o.what === null) expect(o.ret).toBeGreaterThan(0);
    }
  }, 300_000);

  it("qxl.handle-create-leak: with the fix switch on (the clean baseline), a failed handle creation strands nothing", async () => {
    expect(listKnownWindows().map((w) => w.name)).toContain(QXL_HANDLE_CREATE_LEAK.name);
    expect(baselineFixes()).toContain(QXL_HANDLE_CREATE_LEAK.name);
    for (const op of [
      (p: Process, fd: number) => qxlAlloc(p, fd, 8192),
      (p: Process, fd: number) => qxlAllocSurf(p, fd, 32, 32),
    ]) {
      const runs = await failNthOver(async () => ({}), op, baselineFixes());
      // Both of drm_gem_handle_create()'s fallible calls were hit, as in the mainline runs above.
      expect(
        runs
          .filter(inHandleCreate)
          .map((o) => o.what)
          .sort(),
      ).toEqual(["drm_vma_offset_file", "idr_alloc"]);
      for (const o of runs) {
        expect(outcome(o), `nth ${o.nth} (${o.what})`).toEqual({
          ret: o.what === null ? expect.any(Number) : -ENOMEM,
          stranded: 0,
          leaks: [],
          splats: [],
        });
        if (o.what === null) expect(o.ret).toBeGreaterThan(0);
      }
    }
  }, 300_000);

  it("EXECBUFFER (a draw that creates the hardware surface): every failure leaks nothing", async () => {
    const runs = await failNthOver(
      async (p, fd) => {
        const s = await qxlAllocSurf(p, fd, 32, 32);
        const page = await qxlPrepareDraw(p, {
          op: "fill",
          size: 2048,
          value: 9,
          dst: { handle: s, offset: 0, surface: true },
        });
        return { handle: s, page };
      },
      (p, fd, { page }) => qxlSubmitDraw(p, fd, page!),
    );
    expect(runs.length).toBeGreaterThan(5);
    // drm_exec's objects table is among the injection points: drm_exec_init() shrugs off a
    // failed kvmalloc() and allocates again at the first lock, which (fail-nth failing one call)
    // succeeds, so that draw goes through.
    expect(runs.map((o) => o.what)).toContain("drm_exec_objects");
    for (const o of runs) {
      expect(outcome(o), `nth ${o.nth} (${o.what})`).toEqual({
        ret: o.what === null || o.what === "drm_exec_objects" ? 0 : -ENOMEM,
        stranded: 0,
        leaks: [],
        splats: [],
      });
    }
  }, 300_000);
});
