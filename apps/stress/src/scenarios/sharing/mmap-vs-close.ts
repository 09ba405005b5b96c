/**
 * mmap-vs-close: one process maps a buffer of its driver twice, through its GEM handle and
 * through its dma-buf, and a reader thread keeps reading and writing both mappings while a
 * closer thread closes the GEM handle, the dma-buf fd and finally unmaps the first mapping, in
 * an order drawn from the seed. The mappings hold their own references (the VMA holds the file
 * and the object), so every access the reader makes must see the buffer's contents, never freed
 * pages, and everything is freed once the process has exited. 1-4 pages and 2-4 rounds of
 * reads, from the seed.
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import { close, mmapDmaBuf } from "@primetime/libdrm";
import { choose } from "@primetime/sim";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import {
  bootMachine,
  check,
  checksum,
  expectedChecksum,
  openDevice,
  shuffle,
  size,
} from "./machine.js";

const PAGE = 4096;

export const MMAP_VS_CLOSE: CampaignScenario = {
  name: "mmap-vs-close",
  description:
    "a reader thread uses a buffer's GEM and dma-buf mappings while a closer thread closes the handle, the dma-buf fd and a mapping",
  kernelRef:
    "drivers/gpu/drm/drm_gem.c (drm_gem_mmap_obj, drm_gem_vm_open/close), drivers/dma-buf/dma-buf.c (dma_buf_mmap), mm/mmap.c",
  expect: "clean",
  arity: 1,
  faultTolerant: true,
  build(drivers, opts) {
    return async (sim) => {
      // One process opens the device (its DRM master where allocation needs authentication).
      const m = await bootMachine(sim, drivers, opts.faults, { soleClients: true });
      const dev = m.devices[0] as DeviceUnderTest;
      const len = size(1, 4, "pages") * PAGE;
      const rounds = size(2, 4, "rounds");
      const value = choose(256, "pattern");
      const proc = m.process("mapper", async (p) => {
        const fd = await openDevice(m, p, dev);
        const handle = await dev.createBo(fd, len);
        const gemMap = await dev.mapBo(fd, handle, len);
        await gemMap.fill(value);
        const dmaBuf = await fd.primeHandleToFd(handle);
        const bufMap = await mmapDmaBuf(p, dmaBuf, len);
        const want = expectedChecksum(value, len);
        let gemMapped = true;
        const reader = p.spawnThread("reader", async () => {
          for (let r = 0; r < rounds; r++) {
            const a = checksum(await bufMap.read());
            check(a === want, `round ${r}: the dma-buf mapping reads checksum ${a.toString(16)}`);
            if (gemMapped) {
              // The closer may unmap it meanwhile: then the access faults (EFAULT), as in C.
              try {
                const b = checksum(await gemMap.read());
                check(b === want, `round ${r}: the GEM mapping reads checksum ${b.toString(16)}`);
              } catch (e) {
                if (gemMapped) throw e;
              }
            }
            await bufMap.write(new Uint8Array(PAGE).fill(value));
          }
        });
        const closer = p.spawnThread("closer", async () => {
          const steps = [
            () => fd.gemClose(handle),
            () => close(p, dmaBuf),
            async () => {
              gemMapped = false;
              await gemMap.unmap();
            },
          ];
          for (const s of shuffle(steps, "close order")) await s();
        });
        await reader.join();
        await closer.join();
        await bufMap.unmap();
        await fd.close();
      });
      await m.finish([proc]);
    };
  },
};
