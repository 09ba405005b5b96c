/**
 * vmw_prime_import_sg_table() (vmwgfx_gem.c, v6.12.19): vmw_bo_create() of a foreign import runs
 * under the dma-buf's reservation (dma_resv_lock(params.resv, NULL) ... dma_resv_unlock()), the
 * buffer being created reserved on the exporter's reservation object, which
 * ttm_bo_init_reserved() asserts held (dma_resv_assert_held(resv)). That assertion is what sees
 * the lock: without it, the import's lockdep `warn` fails the clean-run expectation. The import
 * also waits for another holder of the reservation, but so does the core's
 * dma_buf_map_attachment_unlocked() before the driver's callback, so the wait alone does not tell
 * the driver's lock from the core's.
 */

import { type DmaBuf, dmaResvLock, dmaResvUnlock, registerSystemHeap } from "@primetime/dma-buf";
import { type DrmFile, drmGemObjectLookup, drmGemObjectPut } from "@primetime/gem";
import { baselineFixes, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  fdToHandle,
  handleClose,
  openNode,
  runVmw,
  splatText,
  systemHeapDmabuf,
} from "./test-machine.js";
import type { VmwBo } from "./vmwgfx-bo.js";

describe("vmw_prime_import_sg_table(): vmw_bo_create() under the dma-buf's reservation", () => {
  it("an import creates its buffer with the reservation held (no lockdep warning), waits for another holder and shares the reservation", async () => {
    let blockedWhileHeld = false;
    let doneWhileHeld = true;
    let handle = 0;
    let sharesResv = false;
    const r = await runVmw(
      async (p, m) => {
        registerSystemHeap(m.kernel);
        const fd = await openNode(p, m.vmw.render);
        const { heap, dmabuf } = await systemHeapDmabuf(p);
        const buf = p.files.peek(dmabuf)!.privateData as DmaBuf;
        // Another holder of the exporter's reservation (the test's thread as a kernel path
        // that reserved the dma-buf, dma_resv_lock(resv, NULL)).
        expect(await dmaResvLock(buf.resv, null)).toBe(0);
        let done = false;
        const importer = p.spawnThread("import", async (q) => {
          handle = await fdToHandle(q, fd, dmabuf);
          done = true;
        });
        while (importer.state !== "blocked" && !done) await yieldCpu();
        blockedWhileHeld = importer.state === "blocked";
        doneWhileHeld = done;
        await dmaResvUnlock(buf.resv);
        await importer.join();
        const file = p.files.peek(fd)!.privateData as DrmFile;
        const bo = (await drmGemObjectLookup(file, handle)) as VmwBo | null;
        sharesResv = bo?.resv === buf.resv;
        if (bo) await drmGemObjectPut(bo);
        expect(await handleClose(p, fd, handle)).toBe(0);
        await p.close(dmabuf);
        await p.close(heap);
        await p.close(fd);
      },
      { toggles: baselineFixes() },
    );
    expect(splatText(r)).toBe("");
    expect(blockedWhileHeld).toBe(true);
    expect(doneWhileHeld).toBe(false);
    expect(handle).toBeGreaterThan(0);
    expect(sharesResv).toBe(true);
  });
});
