import { dmaResvLock, dmaResvUnlock } from "@primetime/dma-buf";
import { EALREADY, ENOMEM, isErr, Kernel, setFailslab } from "@primetime/kernel";
import { point, spawn } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import {
  DRM_EXEC_IGNORE_DUPLICATES,
  DRM_EXEC_INTERRUPTIBLE_WAIT,
  DrmExec,
  drmExecFini,
  drmExecInit,
  drmExecIsContended,
  drmExecLockObj,
  drmExecPrepareArray,
  drmExecPrepareObj,
  drmExecRetryOnContention,
  drmExecUnlockObj,
  drmExecUntilAllLocked,
} from "./drm-exec.js";
import { drmGemObjectPut, type GemObject } from "./drm-gem.js";
import {
  bootTinyDevices,
  expectClean,
  type Machine,
  runMachine,
  shutdownTinyDevices,
  tinyObjectCreate,
} from "./test-support.js";

async function objects(m: Machine, n: number): Promise<GemObject[]> {
  const out: GemObject[] = [];
  for (let i = 0; i < n; i++) {
    const o = await tinyObjectCreate(m.devs[0]!, 4096);
    if (isErr(o)) throw new Error(`create: ${o}`);
    out.push(o);
  }
  return out;
}

/** One submission: lock `objs` in the given order with drm_exec, as the kernel's DOC shows. */
async function submit(
  objs: GemObject[],
  stats: { passes: number; firstAfterRetry: [GemObject, GemObject][] },
  inside?: () => Promise<void>,
): Promise<number> {
  const exec = new DrmExec();
  drmExecInit(exec, DRM_EXEC_INTERRUPTIBLE_WAIT, 0);
  let pass = 0;
  const ret = await drmExecUntilAllLocked(exec, async () => {
    pass++;
    stats.passes++;
    for (const [i, o] of objs.entries()) {
      const contended = exec.contended;
      const r = await drmExecPrepareObj(exec, o, 1);
      if (i === 0 && pass > 1 && contended && typeof contended === "object")
        stats.firstAfterRetry.push([contended, exec.objects[0]!]);
      drmExecRetryOnContention(exec);
      if (r) return r;
    }
    return 0;
  });
  if (ret === 0) {
    expect(exec.objects.length).toBe(objs.length);
    for (const o of objs) expect(o.resv.lock.heldByCurrent).toBe(true);
    await inside?.();
  }
  await drmExecFini(exec);
  return ret;
}

describe("drm_exec", () => {
  it("locks, references and unlocks; -EALREADY for a duplicate unless ignored", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      const [a, b] = await objects(m, 2);
      const exec = new DrmExec();
      drmExecInit(exec, 0, 0);
      got.ret = await drmExecUntilAllLocked(exec, async () => {
        let ret = await drmExecLockObj(exec, a!);
        drmExecRetryOnContention(exec);
        if (ret) return ret;
        ret = await drmExecPrepareArray(exec, [b!], 2);
        drmExecRetryOnContention(exec);
        if (ret) return ret;
        got.dup = await drmExecLockObj(exec, a!);
        return 0;
      });
      got.refs = [a!.refcount.read(), b!.refcount.read()];
      got.locked = exec.objects.length;
      await drmExecUnlockObj(exec, b!);
      got.afterUnlockObj = [b!.resv.lock.locked, b!.refcount.read(), exec.objects.length];
      await drmExecFini(exec);
      got.after = [a!.refcount.read(), a!.resv.lock.locked, drmExecIsContended(exec)];

      const ign = new DrmExec();
      drmExecInit(ign, DRM_EXEC_IGNORE_DUPLICATES, 0);
      got.ignored = await drmExecUntilAllLocked(ign, async () => {
        await drmExecLockObj(ign, a!);
        drmExecRetryOnContention(ign);
        return drmExecLockObj(ign, a!);
      });
      await drmExecFini(ign);
      await drmGemObjectPut(a!);
      await drmGemObjectPut(b!);
    });
    expectClean(r);
    expect(got).toEqual({
      ret: 0,
      dup: -EALREADY,
      refs: [2, 2],
      locked: 2,
      afterUnlockObj: [false, 1, 1],
      after: [1, false, false],
      ignored: 0,
    });
  });

  it("a failed objects table is retried at first use and then fails with -ENOMEM, clean", async () => {
    const got: number[] = [];
    const r = await runMachine(async (m) => {
      const [a] = await objects(m, 1);
      setFailslab({ caches: ["drm_exec_objects"], probability: 1 });
      const exec = new DrmExec();
      drmExecInit(exec, 0, 0);
      got.push(exec.maxObjects);
      got.push(
        await drmExecUntilAllLocked(exec, async () => {
          const ret = await drmExecLockObj(exec, a!);
          drmExecRetryOnContention(exec);
          return ret;
        }),
      );
      got.push(Number(a!.resv.lock.locked), a!.refcount.read());
      await drmExecFini(exec);
      setFailslab(null);
      await drmGemObjectPut(a!);
    });
    expectClean(r);
    expect(got).toEqual([0, -ENOMEM, 0, 1]);
  });

  const orders = [
    [0, 1, 2],
    [2, 1, 0],
    [1, 0, 2],
  ];
  const contention =
    (
      stats: { passes: number; firstAfterRetry: [GemObject, GemObject][]; runs: number },
      n: number,
    ) =>
    async () => {
      await runMachineInline(async (m) => {
        const objs = await objects(m, 3);
        let inside = 0;
        const ts = orders.slice(0, n).map((o, i) =>
          spawn(`submit${i}`, async () => {
            const ret = await submit(
              o.map((k) => objs[k]!),
              stats,
              async () => {
                inside++;
                if (inside > 1) throw new Error("two submissions hold the same objects");
                await point("use the objects");
                inside--;
              },
            );
            if (ret) throw new Error(`submit: ${ret}`);
          }),
        );
        for (const t of ts) await t.join();
        for (const o of objs) await drmGemObjectPut(o);
      });
      stats.runs++;
    };

  it("opposite orders back off and never deadlock under pct and dfs; the contended object is locked first", async () => {
    const stats = { passes: 0, firstAfterRetry: [] as [GemObject, GemObject][], runs: 0 };
    const pct = await explore(contention(stats, 3), { strategy: "pct", schedules: 120, seed: 5 });
    expect(pct.failures.map((f) => f.splats[0]?.message ?? f.outcome)).toEqual([]);
    const dfs = await explore(contention(stats, 2), {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 150,
    });
    expect(dfs.failures.map((f) => f.splats[0]?.message ?? f.outcome)).toEqual([]);
    // Some schedules did back off (more passes than submissions), and after each back-off the
    // first object in the table is the prelocked contended one.
    expect(stats.passes).toBeGreaterThan(pct.schedules * 3 + dfs.schedules * 2);
    expect(stats.firstAfterRetry.length).toBeGreaterThan(0);
    for (const [contended, first] of stats.firstAfterRetry) expect(first).toBe(contended);
  });

  it("a reservation locked without a context inside drm_exec is lockdep's recursive locking", async () => {
    const r = await runMachine(async (m) => {
      const [a, b] = await objects(m, 2);
      const exec = new DrmExec();
      drmExecInit(exec, 0, 0);
      await drmExecUntilAllLocked(exec, async () => {
        const ret = await drmExecLockObj(exec, a!);
        drmExecRetryOnContention(exec);
        return ret;
      });
      await dmaResvLock(b!.resv); // dma_resv_lock(obj, NULL) while the exec holds a
      await dmaResvUnlock(b!.resv);
      await drmExecFini(exec);
      await drmGemObjectPut(a!);
      await drmGemObjectPut(b!);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats.map((s) => s.message.split("\n")[0])).toEqual([
      "WARNING: possible recursive locking detected",
    ]);
    expect(r.splats[0]!.message).toContain("(reservation_ww_class_mutex)");
  });
});

/** runMachine()'s body for a scenario explore() runs in its own simulation. */
async function runMachineInline(body: (m: Machine) => Promise<void>): Promise<void> {
  const kernel = Kernel.boot();
  const devs = await bootTinyDevices(kernel, 1);
  await body({ kernel, devs });
  await shutdownTinyDevices(devs);
  await kernel.checkLeaks();
}
