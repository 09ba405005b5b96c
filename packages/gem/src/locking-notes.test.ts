import { isErr, O_RDWR } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import { drmIsCurrentMasterLocked } from "./drm-auth.js";
import { drmGemObjectPut } from "./drm-gem.js";
import { drmGemPrimeImport, drmPrimeLookupBufHandle } from "./drm-prime.js";
import { drmVmaOffsetLookupLocked } from "./drm-vma-manager.js";
import { createBo, drmFileOf, handleToFd, runMachine, runProcess } from "./test-support.js";

// Every "Locking: X held" note of the DRM core is asserted at entry (lockdep_assert_held()): a
// call without the lock is a `warn` splat naming the lock, and the call goes on as the kernel's
// would after its WARN. tools/check-docs/locking-notes.ts checks that no note lacks its assertion.
describe("Locking notes are asserted", () => {
  it("calls without the documented lock each give one lockdep_assert_held() warning", async () => {
    const results: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      const dev = m.devs[0]!;
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        const handle = await createBo(p, fd);
        const primeFd = await handleToFd(p, fd, handle);
        const priv = drmFileOf(p, fd);
        const dmaBuf = priv.prime.handles.members()[0]!.dmaBuf;
        // prime.lock not held
        results.cachedHandle = await drmPrimeLookupBufHandle(priv.prime, dmaBuf);
        // dev->master_mutex not held
        results.isMaster = drmIsCurrentMasterLocked(priv);
        // mgr->vm_lock not held
        results.node = await drmVmaOffsetLookupLocked(dev.vmaOffsetManager, 0, 1);
        // object_name_lock not held: a self-import gives back the object (+1)
        const obj = await drmGemPrimeImport(dev, dmaBuf);
        results.selfImport = obj === dmaBuf.priv;
        if (!isErr(obj)) await drmGemObjectPut(obj);
        await p.close(primeFd);
        await p.close(fd);
      });
    });
    expect(r.outcome).toBe("ok");
    expect(results).toEqual({ cachedHandle: 1, isMaster: true, node: null, selfImport: true });
    expect(r.splats.map((s) => `${s.kind}: ${s.message.split("\n")[0]}`)).toEqual([
      "warn: WARNING: lockdep_assert_held(prime.lock) failed: igt/2 does not hold (prime.lock){+.+.}-{4:4}",
      "warn: WARNING: lockdep_assert_held(master_mutex) failed: igt/2 does not hold (master_mutex){+.+.}-{4:4}",
      "warn: WARNING: lockdep_assert_held(drm_vma_offset_manager.vm_lock) failed: igt/2 does not hold (drm_vma_offset_manager.vm_lock){+.+.}-{2:2}",
      "warn: WARNING: lockdep_assert_held(object_name_lock) failed: igt/2 does not hold (object_name_lock){+.+.}-{4:4}",
    ]);
  });
});
