/**
 * eviction-under-sharing: VRAM pressure on qxl, or MOB pressure on vmwgfx, while some of the
 * exporter's buffers are shared with the second driver through PRIME. qxl's uapi places buffers
 * in VRAM (QXL_ALLOC: the VRAM domain, evicted to system memory by qxl_evict_flags()); vmwgfx's
 * are created in system memory and EXECBUF validates each buffer it names into a MOB
 * (vmw_translate_mob_ptr(); the MOB manager's soft limit, here 6-8 pages, ends at half the
 * guest's RAM), from which TTM evicts them back to system memory (vmw_evict_flags()): its
 * exporter fills each buffer once with EXECBUF (the pattern the CPU wrote), and a fill that finds
 * no room (-ENOMEM: the trylock-only walk found every other buffer pinned or locked) leaves it
 * in system memory.
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
import { TTM_PL_SYSTEM, ttmManagerType } from "@primetime/ttm";
import {
  createVmwgfx,
  DRM_IOCTL_VMW_ALLOC_BO,
  DRM_IOCTL_VMW_EXECBUF,
  DRM_VMW_EXECBUF_VERSION,
  VMWGFX_DRIVER_NAME,
  type VmwgfxDevice,
  vmwPriv,
} from "@primetime/vmwgfx";
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
 * vmwgfx with a MOB limit of `mobPages` pages (the soft limit starts at 2 and grows to half the
 * guest's RAM, then the MOB manager is full: vmwgfx_gmrid_manager.c); the devices made are
 * pushed to `made`.
 */
function smallMobVmwgfx(
  base: DriverUnderTest,
  mobPages: number,
  made: VmwgfxDevice[],
): DriverUnderTest {
  return {
    ...base,
    async register(kernel) {
      const v = await createVmwgfx(kernel, {
        memory: { maxMobPages: 2, totalramPages: 2 * mobPages },
      });
      made.push(v);
      return v;
    },
  };
}

/**
 * DRM_VMW_EXECBUF of `fill <handle> <value>`: the buffer is validated into a MOB
 * (vmw_translate_mob_ptr()), evicting others when the MOB manager is full. 0, or -ENOMEM when
 * nothing could be evicted (the walk only trylocks: another task holds the buffers).
 */
async function vmwFill(fd: DrmFd, handle: number, value: number): Promise<number> {
  const arg = {
    commands: `fill ${handle} ${value & 0xff}`,
    version: DRM_VMW_EXECBUF_VERSION,
    flags: 0,
    fence_seqno: 0,
  };
  try {
    await fd.ioctl(DRM_IOCTL_VMW_EXECBUF, arg, "VMW_EXECBUF");
    return 0;
  } catch (e) {
    if (!isSysError(e, "ENOMEM")) throw e;
    return -12;
  }
}

/**
 * A one-page ALLOC_BO buffer filled by EXECBUF (into a MOB) and closed at once. A dumb buffer
 * would do the same but for its release: vmw_bo_free() takes cmdbuf_mutex for a dumb buffer's
 * surface, and when an eviction walk under EXECBUF's cmdbuf_mutex drops the last reference of
 * such a deleted buffer (the delayed delete's put having come first, between the walk's unlock
 * and its put), the task deadlocks on its own mutex: TTM's known window
 * ttm.walk-put-runs-destroy (KNOWN-WINDOWS.md), reproduced by
 * vmwgfx/dumb-release-in-evict-walk; this scenario's draws stay as they were.
 */
async function vmwScratch(fd: DrmFd, value: number): Promise<void> {
  const arg = {
    size: PAGE,
    pad64: 0,
    map_handle: 0,
    handle: 0,
    cur_gmr_id: 0,
    cur_gmr_offset: 0,
    rep_pad64: 0,
  };
  await fd.ioctl(DRM_IOCTL_VMW_ALLOC_BO, arg, "VMW_ALLOC_BO");
  if ((await vmwFill(fd, arg.handle, value)) !== 0) evictionStats.vmwNoRoom++;
  await fd.gemClose(arg.handle);
}

/**
 * What the runs saw (summed over runs, for the tests): buffers found in system memory once the
 * exporter had allocated past VRAM (evicted), runs that got there, and imports refused with
 * -ENOMEM (no room in VRAM for the import's pin); of the vmwgfx exporter's runs, the same, and
 * its EXECBUF fills that found no room in a MOB (-ENOMEM).
 */
export const evictionStats = {
  evicted: 0,
  runs: 0,
  refused: 0,
  vmwRuns: 0,
  vmwEvicted: 0,
  vmwNoRoom: 0,
};

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
    "qxl with a VRAM of 6-8 pages, or vmwgfx with a MOB limit of 6-8: buffers exported to the other driver over PRIME stay readable while the exporter allocates (vmwgfx: and fills with EXECBUF) past it and TTM evicts the others",
  kernelRef:
    "drivers/gpu/drm/ttm/ttm_bo.c (ttm_bo_mem_space, ttm_mem_evict_first), drivers/gpu/drm/qxl/qxl_ttm.c (qxl_evict_flags, qxl_bo_move), qxl_prime.c (pin), drivers/gpu/drm/vmwgfx/vmwgfx_gmrid_manager.c, vmwgfx_ttm_buffer.c (vmw_evict_flags, vmw_move), vmwgfx_validation.c, drm_prime.c",
  expect: "clean",
  arity: 2,
  fits: (drivers) =>
    drivers[0]?.name === QXL_DRIVER_NAME || drivers[0]?.name === VMWGFX_DRIVER_NAME,
  harnessTasks: ["main"],
  build(drivers) {
    return async (sim) => {
      const vmw = drivers[0]!.name === VMWGFX_DRIVER_NAME;
      const vramPages = size(6, 8, vmw ? "MOB pages" : "VRAM pages");
      const made: QxlDeviceHandle[] = [];
      const madeVmw: VmwgfxDevice[] = [];
      const qxl = vmw
        ? smallMobVmwgfx(drivers[0]!, vramPages, madeVmw)
        : smallVramQxl(drivers[0]!, vramPages, made);
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
        // vmwgfx: EXECBUF's fill validates the buffer into a MOB (the same pattern the CPU
        // wrote): under the small MOB limit the later fills evict the earlier buffers, busy or
        // not, unless they are pinned by an import's attachment; -ENOMEM when nothing can be.
        const place = async (b: Buffer) => {
          if (vmw && (await vmwFill(fd, b.handle, b.value)) !== 0) evictionStats.vmwNoRoom++;
        };
        for (let i = 0; i < first; i++) {
          mine.push(await allocFilled(devA, fd, pages[i]! * PAGE, patternOf(base, i)));
          await place(mine[i]!);
          if (i < shared) {
            const dmaBuf = await fd.primeHandleToFd(mine[i]!.handle);
            await sendFd(p, importer, dmaBuf);
            dmaBufs.push(dmaBuf);
          }
        }
        // Past VRAM: each allocation may evict the unpinned buffers allocated before it.
        // vmwgfx: a scratch buffer (ALLOC_BO, as Mesa's) filled and closed at once, while its
        // fill may still run: TTM destroys it once idle (the delayed delete), and until then the
        // later fills' eviction walks meet it, deleted, on the MOB manager's LRU
        // (ttm_bo_evict_cb()'s bo->deleted). Not a dumb buffer: see vmwScratch().
        const scratchAt = vmw ? first + choose(more, "vmwgfx scratch buffer") : -1;
        for (let i = first; i < first + more; i++) {
          if (i === scratchAt) await vmwScratch(fd, patternOf(base, i));
          mine.push(await allocFilled(devA, fd, pages[i]! * PAGE, patternOf(base, i)));
          await place(mine[i]!);
        }
        // The harness (not userspace) counts what TTM moved out of VRAM (vmwgfx: out of a MOB,
        // every buffer having been placed in one), for the tests.
        evictionStats.runs++;
        if (vmw) {
          evictionStats.vmwRuns++;
          const bdev = vmwPriv(madeVmw[0]!.device).bdev;
          const n = ttmManagerType(bdev, TTM_PL_SYSTEM)!.lru.length;
          evictionStats.evicted += n;
          evictionStats.vmwEvicted += n;
        } else {
          for (const bo of made[0]!.qdev.gemObjects)
            if (bo.resource?.memType === TTM_PL_SYSTEM) evictionStats.evicted++;
        }
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
