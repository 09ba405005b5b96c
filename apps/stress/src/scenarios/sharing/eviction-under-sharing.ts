/**
 * eviction-under-sharing: VRAM pressure on qxl while some of its buffers are shared with the
 * second driver through PRIME. qxl is the TTM driver whose uapi places buffers in VRAM
 * (QXL_ALLOC: the VRAM domain, evicted to system memory by qxl_evict_flags()); vmwgfx's
 * ALLOC_BO places in system memory only, so it is an importer here, not an exporter.
 *
 * The qxl device has a VRAM memory type of 6-8 pages (from the seed). An exporter process
 * allocates and fills 2-3 buffers of 1-2 pages, exports 1-2 of them and passes the fds to an
 * importer process on the second driver (whose import attaches and so pins them, see qxl's
 * README: exports give the pinned pages); then it allocates and fills more buffers than VRAM
 * holds, so TTM evicts the unpinned ones (ttm_bo_mem_space -> ttm_mem_evict_first), and checks
 * every buffer it still holds through its QXL_MAP mapping. The importer checks its imports'
 * contents while that happens and after the exporter's evictions, then closes everything in a
 * seeded order. Everything must read what was written, and nothing may leak.
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import type { BoMapping, DriverUnderTest } from "@primetime/gem";
import { close, type DrmFd, isSysError, recvFd, sendFd } from "@primetime/libdrm";
import { createQxl, QXL_DRIVER_NAME, type QxlDeviceHandle } from "@primetime/qxl";
import { Completion, choose } from "@primetime/sim";
import { TTM_PL_SYSTEM } from "@primetime/ttm";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { importerView } from "./cross-share.js";
import {
  bootMachine,
  check,
  checksum,
  expectedChecksum,
  openDevice,
  patternOf,
  shuffle,
  size,
} from "./machine.js";

const PAGE = 4096;

/** qxl with a VRAM memory type of `vramPages` pages; the devices made are pushed to `made`. */
function smallVramQxl(
  base: DriverUnderTest,
  vramPages: number,
  made: QxlDeviceHandle[],
): DriverUnderTest {
  return {
    ...base,
    async register(kernel) {
      const q = await createQxl(kernel, { vramPages });
      made.push(q);
      return q;
    },
  };
}

/**
 * What the runs saw (summed over runs, for the tests): buffers found in system memory once the
 * exporter had allocated past VRAM (evicted), runs that got there, and imports refused with
 * -ENOMEM (no room in VRAM for the import's pin).
 */
export const evictionStats = { evicted: 0, runs: 0, refused: 0 };

interface Buffer {
  readonly handle: number;
  readonly len: number;
  readonly value: number;
  readonly map: BoMapping;
}

async function allocFilled(
  dev: DeviceUnderTest,
  fd: DrmFd,
  len: number,
  value: number,
): Promise<Buffer> {
  const handle = await dev.createBo(fd, len);
  const map = await dev.mapBo(fd, handle, len);
  await map.fill(value);
  return { handle, len, value, map };
}

async function expectContents(b: Buffer, who: string): Promise<void> {
  const sum = checksum(await b.map.read());
  check(
    sum === expectedChecksum(b.value, b.len),
    `${who}: buffer ${b.handle} reads checksum ${sum.toString(16)} after evictions`,
  );
}

export const EVICTION_UNDER_SHARING: CampaignScenario = {
  name: "eviction-under-sharing",
  description:
    "qxl with a VRAM of 6-8 pages: buffers exported to the other driver over PRIME stay readable while the exporter allocates past VRAM and TTM evicts the others",
  kernelRef:
    "drivers/gpu/drm/ttm/ttm_bo.c (ttm_bo_mem_space, ttm_mem_evict_first), drivers/gpu/drm/qxl/qxl_ttm.c (qxl_evict_flags, qxl_bo_move), qxl_prime.c (pin), drm_prime.c",
  expect: "clean",
  arity: 2,
  fits: (drivers) => drivers[0]?.name === QXL_DRIVER_NAME,
  harnessTasks: ["main"],
  build(drivers) {
    return async (sim) => {
      const vramPages = size(6, 8, "VRAM pages");
      const made: QxlDeviceHandle[] = [];
      const qxl = smallVramQxl(drivers[0]!, vramPages, made);
      // The exporter is the qxl device's one client and the importer the other's: no display
      // server (each is its device's DRM master where it needs one).
      const m = await bootMachine(sim, [qxl, drivers[1]!], null, { soleClients: true });
      const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
      const first = size(2, 3, "buffers before sharing");
      const shared = size(1, Math.min(2, first), "buffers shared");
      const more = size(2, 4, "buffers after sharing");
      const base = choose(256, "pattern");
      const pages = Array.from({ length: first + more }, (_, i) => size(1, 2, `pages[${i}]`));
      const evicted = new Completion("exporter allocated past VRAM");
      const importer = m.process("importer", async (p) => {
        const fd = await openDevice(m, p, devB);
        const got: { dmaBuf: number; handle: number; view: BoMapping; len: number; i: number }[] =
          [];
        for (let i = 0; i < shared; i++) {
          const dmaBuf = await recvFd(p, { cloexec: true });
          let handle: number;
          try {
            handle = await fd.primeFdToHandle(dmaBuf);
          } catch (e) {
            // The import's attach pins the buffer in qxl's VRAM, which the exporter is filling:
            // the pin's reservation has no ww ticket, so TTM's eviction walk only trylocks
            // (v6.18 ttm_bo_evict_alloc(): `if (lret || !ticket) goto out;`, -EBUSY when it made
            // no room: the exporter's buffers locked or gone meanwhile) and ttm_bo_validate()
            // turns the -ENOSPC into -ENOMEM ("For backward compatibility with userspace"). A
            // legitimate outcome under VRAM pressure: that buffer is not shared.
            if (!isSysError(e, "ENOMEM")) throw e;
            evictionStats.refused++;
            await close(p, dmaBuf);
            continue;
          }
          const len = pages[i]! * PAGE;
          const view = await importerView(devB, fd, handle, dmaBuf, len);
          got.push({ dmaBuf, handle, view, len, i });
        }
        const checkAll = async (when: string) => {
          for (const g of got) {
            const sum = checksum(await g.view.read());
            check(
              sum === expectedChecksum(patternOf(base, g.i), g.len),
              `${devB.driver.name} reads shared buffer ${g.i} with checksum ${sum.toString(16)} ${when}`,
            );
          }
        };
        await checkAll("during the exporter's allocations");
        await evicted.wait();
        await checkAll("after the exporter's evictions");
        const steps = got.flatMap((g) => [
          () => g.view.unmap(),
          () => close(p, g.dmaBuf),
          () => fd.gemClose(g.handle),
        ]);
        for (const s of shuffle(steps, "importer close order")) await s();
        await fd.close();
      });
      const exporter = m.process("exporter", async (p) => {
        const fd = await openDevice(m, p, devA);
        const mine: Buffer[] = [];
        const dmaBufs: number[] = [];
        for (let i = 0; i < first; i++) {
          mine.push(await allocFilled(devA, fd, pages[i]! * PAGE, patternOf(base, i)));
          if (i < shared) {
            const dmaBuf = await fd.primeHandleToFd(mine[i]!.handle);
            await sendFd(p, importer, dmaBuf);
            dmaBufs.push(dmaBuf);
          }
        }
        // Past VRAM: each allocation may evict the unpinned buffers allocated before it.
        for (let i = first; i < first + more; i++)
          mine.push(await allocFilled(devA, fd, pages[i]! * PAGE, patternOf(base, i)));
        // The harness (not userspace) counts what TTM moved out of VRAM, for the tests.
        evictionStats.runs++;
        for (const bo of made[0]!.qdev.gemObjects)
          if (bo.resource?.memType === TTM_PL_SYSTEM) evictionStats.evicted++;
        for (const b of mine) await expectContents(b, "exporter");
        evicted.complete();
        const steps = [
          ...mine.flatMap((b) => [() => b.map.unmap(), () => fd.gemClose(b.handle)]),
          ...dmaBufs.map((d) => () => close(p, d)),
        ];
        for (const s of shuffle(steps, "exporter close order")) await s();
        await fd.close();
      });
      await m.finish([exporter, importer]);
    };
  },
};
