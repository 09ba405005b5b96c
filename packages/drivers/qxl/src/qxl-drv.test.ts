import {
  DmaResvUsage,
  dmaFenceContextAlloc,
  dmaFenceCreate,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvReserveFences,
  dmaResvTestSignaled,
  dmaResvWaitTimeout,
} from "@primetime/dma-buf";
import { type DrmFile, drmGemObjectPut } from "@primetime/gem";
import {
  allocationCount,
  EFAULT,
  EINVAL,
  ENOMEM,
  injectedFailures,
  isErr,
  Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  SpinLock,
  setFailslab,
  TASK_SIZE,
} from "@primetime/kernel";
import { Simulation, sleep, spawn } from "@primetime/sim";
import { splatText } from "@primetime/sim/testing";
import { crc32 } from "@primetime/simgpu";
import {
  TTM_PL_PRIV,
  TTM_PL_VRAM,
  ttmBoReserve,
  ttmBoUnreserve,
  ttmBoValidate,
  ttmManagerType,
} from "@primetime/ttm";
import { describe, expect, it } from "vitest";
import { QXL_CMD_DRAW, QXL_IO_NOTIFY_OOM } from "./qxl-dev.js";
import {
  DRM_IOCTL_QXL_ALLOC_SURF,
  DRM_IOCTL_QXL_EXECBUFFER,
  DRM_IOCTL_QXL_UPDATE_AREA,
  encodeDrmQxlCommand,
  QXL_GEM_DOMAIN_CPU,
  QXL_GEM_DOMAIN_SURFACE,
  QXL_GEM_DOMAIN_VRAM,
} from "./qxl-drm-uapi.js";
import { createQxl, destroyQxl } from "./qxl-drv.js";
import { qxlGemObjectCreate, qxlModeDumbCreate } from "./qxl-gem.js";
import { qxlTtmPlacementFromDomain } from "./qxl-object.js";
import {
  QXL_RELEASE_DRAWABLE,
  qxlAllocReleaseReserved,
  qxlReleaseFenceBufferObjects,
  qxlReleaseFree,
  qxlReleaseListAdd,
  qxlReleaseReserveList,
} from "./qxl-release.js";
import {
  closeFd,
  expectClean,
  expectRet,
  gemClose,
  load,
  openQxl,
  primeExport,
  primeImport,
  qxlAlloc,
  qxlAllocSurf,
  qxlExecDraw,
  qxlMap,
  qxlSettle,
  qxlUpdateArea,
  runProcess,
  runQxl,
} from "./test-machine.js";
import { isKnownReapRecursion } from "./test-scenarios.js";
import { QXL_DUAL_REFCOUNT } from "./toggles.js";

describe("qxl driver", () => {
  it("fills a buffer on the GPU, checksums it on the GPU, reads it back through mmap", async () => {
    let sum = 0;
    let bytes: Uint8Array | null = null;
    const r = await runQxl(async (m) => {
      await runProcess(m, "client", async (p) => {
        const fd = await openQxl(p, m);
        const bo = await qxlAlloc(p, fd, 8192);
        const res = await qxlAlloc(p, fd, 4096);
        expect(bo).toBeGreaterThan(0);
        expectRet(
          await qxlExecDraw(p, fd, {
            op: "fill",
            size: 8192,
            value: 0xa5,
            dst: { handle: bo, offset: 0 },
          }),
          0,
          "fill",
        );
        expectRet(
          await qxlExecDraw(p, fd, {
            op: "checksum",
            size: 8192,
            dst: { handle: res, offset: 0 },
            src: { handle: bo, offset: 0 },
          }),
          0,
          "checksum",
        );
        const surf = await qxlAllocSurf(p, fd, 64, 16);
        expect(surf).toBeGreaterThan(0);
        expectRet(
          await qxlExecDraw(p, fd, {
            op: "fill",
            size: 256,
            value: 7,
            dst: { handle: surf, offset: 0, surface: true },
          }),
          0,
          "fill surface",
        );
        expectRet(await qxlUpdateArea(p, fd, surf, 64, 16), 0, "update area");
        const a = await qxlMap(p, fd, res, 4096);
        const b = await qxlMap(p, fd, bo, 8192);
        sum = new DataView((await load(p, a, 4)).buffer).getUint32(0, true);
        bytes = await load(p, b, 8192);
        expectRet(await gemClose(p, fd, surf), 0, "close surf");
        expectRet(await gemClose(p, fd, bo), 0, "close");
        expectRet(await gemClose(p, fd, res), 0, "close");
        await closeFd(p, fd);
      });
    });
    expectClean(r);
    expect(bytes![0]).toBe(0xa5);
    expect(sum).toBe(crc32(new Uint8Array(8192).fill(0xa5)));
  });

  it("qxlExecDraw returns the errno of a failed mmap (fault injection) and submits nothing", async () => {
    let failed = 0;
    let after = -1;
    const r = await runQxl(async (m) => {
      await runProcess(m, "client", async (p) => {
        const fd = await openQxl(p, m);
        const bo = await qxlAlloc(p, fd, 4096);
        const draw = { op: "fill", size: 4096, value: 1, dst: { handle: bo, offset: 0 } } as const;
        // The anonymous page the command is written to cannot be mapped.
        setFailslab({ probability: 1, caches: ["vm_area_struct"] });
        failed = await qxlExecDraw(p, fd, draw);
        setFailslab(null);
        after = await qxlExecDraw(p, fd, draw);
        expectRet(await gemClose(p, fd, bo), 0, "close");
        await closeFd(p, fd);
      });
    });
    expectClean(r);
    expect(failed).toBe(-ENOMEM);
    expect(after).toBe(0);
  });

  it("GPU work across two qxl devices: fill on the exporter's GPU, checksum and fill on the importer's", async () => {
    const size = 16384;
    let sum = -1;
    let viaDmaBuf: Uint8Array | null = null;
    let back: Uint8Array | null = null;
    const r = await runQxl(
      async (m) => {
        await runProcess(m, "client", async (p) => {
          const fdA = await openQxl(p, m, 0);
          const fdB = await openQxl(p, m, 1);
          const bo = await qxlAlloc(p, fdA, size);
          expectRet(
            await qxlExecDraw(p, fdA, {
              op: "fill",
              size,
              value: 0x3c,
              dst: { handle: bo, offset: 0 },
            }),
            0,
            "fill on A",
          );
          await sleep(1_000_000); // let A's GPU finish (qxl has no implicit sync)
          const dmabuf = await primeExport(p, fdA, bo);
          const imp = await primeImport(p, fdB, dmabuf);
          expect(imp).toBeGreaterThan(0);
          const res = await qxlAlloc(p, fdB, 4096);
          expectRet(
            await qxlExecDraw(p, fdB, {
              op: "checksum",
              size,
              dst: { handle: res, offset: 0 },
              src: { handle: imp, offset: 0 },
            }),
            0,
            "checksum on B",
          );
          await sleep(1_000_000);
          const a = await qxlMap(p, fdB, res, 4096);
          sum = new DataView((await load(p, a, 4)).buffer).getUint32(0, true);
          const d = await p.mmap(0, size, PROT_READ, MAP_SHARED, dmabuf, 0);
          viaDmaBuf = await load(p, d, size);
          expectRet(await p.munmap(d, size), 0, "munmap dma-buf");
          // The importer's GPU writes the exporter's memory through its DMA window.
          expectRet(
            await qxlExecDraw(p, fdB, {
              op: "fill",
              size: 4096,
              value: 0x77,
              dst: { handle: imp, offset: 4096 },
            }),
            0,
            "fill on B",
          );
          await sleep(1_000_000);
          const b = await qxlMap(p, fdA, bo, size);
          back = await load(p, b, size);
          expectRet(await gemClose(p, fdB, imp), 0, "close import");
          expectRet(await gemClose(p, fdB, res), 0, "close res");
          await closeFd(p, dmabuf);
          expectRet(await gemClose(p, fdA, bo), 0, "close bo");
          await closeFd(p, fdB);
          await closeFd(p, fdA);
        });
      },
      { devices: 2 },
    );
    expectClean(r);
    expect(sum).toBe(crc32(new Uint8Array(size).fill(0x3c)));
    expect(viaDmaBuf!.every((x) => x === 0x3c)).toBe(true);
    expect(back![0]).toBe(0x3c);
    expect(back!.subarray(4096, 8192).every((x) => x === 0x77)).toBe(true);
    expect(back![8192]).toBe(0x3c);
  });

  it("a zero-sized surface (ALLOC_SURF with stride or height 0) is -ENOMEM: drm_mm refuses a node of size 0", async () => {
    const rets: number[] = [];
    const r = await runQxl(async (m) => {
      await runProcess(m, "client", async (p) => {
        const fd = await openQxl(p, m);
        rets.push(await qxlAllocSurf(p, fd, 0, 32));
        rets.push(await qxlAllocSurf(p, fd, 32, -1));
        const ok = await qxlAllocSurf(p, fd, 32, 32);
        expect(ok).toBeGreaterThan(0);
        expectRet(await gemClose(p, fd, ok), 0, "GEM_CLOSE");
        await closeFd(p, fd);
      });
    });
    expectClean(r);
    expect(rets).toEqual([-ENOMEM, -ENOMEM]);
  });

  it("VRAM and the surface memory are two drm_mms over the two BARs: small objects go top-down, surfaces into the surface BAR", async () => {
    const seen: { offset: number; npages: number }[][] = [];
    const r = await runQxl(
      async (m) => {
        const vram = m.qxl.qdev.hw.gpu.vram;
        await runProcess(m, "client", async (p) => {
          const fd = await openQxl(p, m);
          // qxl_ttm_placement_from_domain(): an object of one page is TTM_PL_FLAG_TOPDOWN, so
          // it goes to the top of the RAM BAR (page 15 of 16), a larger one to the bottom.
          const small = await qxlAlloc(p, fd, 4096);
          const big = await qxlAlloc(p, fd, 4 * 4096);
          seen.push(vram.allocations());
          // The RAM BAR full: a surface of 8 pages (7 rows of 4096 bytes and the extra row
          // qxl_alloc_surf_ioctl() adds) still fits the surface BAR (pages 16-23), whose drm_mm is
          // its own (it used to share the RAM BAR's pages and found them taken).
          const fill = await qxlAlloc(p, fd, 11 * 4096);
          const surf = await qxlAllocSurf(p, fd, 1024, 7);
          seen.push(vram.allocations());
          for (const h of [small, big, fill, surf]) {
            expect(h).toBeGreaterThan(0);
            expectRet(await gemClose(p, fd, h), 0, "GEM_CLOSE");
          }
          await closeFd(p, fd);
        });
      },
      { device: { vramPages: 16, surfacePages: 8 } },
    );
    expectClean(r);
    expect(seen[0]).toEqual([
      { offset: 0, npages: 4 },
      { offset: 15 * 4096, npages: 1 },
    ]);
    expect(seen[1]).toEqual([
      { offset: 0, npages: 4 },
      { offset: 4 * 4096, npages: 11 },
      { offset: 15 * 4096, npages: 1 },
      { offset: 16 * 4096, npages: 8 },
    ]);
  });

  it("dumb_create has no zero-size check of its own: a zero size called directly is -ENOMEM, as qxl makes any creation failure", async () => {
    let direct = 0;
    const r = await runQxl(async (m) => {
      await runProcess(m, "client", async (p) => {
        const fd = await openQxl(p, m);
        const file = p.files.peek(fd)!.privateData as DrmFile;
        const args = { width: 64, height: 0, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
        direct = await qxlModeDumbCreate(file, m.qxl.device, args);
        await closeFd(p, fd);
      });
    });
    expectClean(r);
    expect(direct).toBe(-ENOMEM);
  });
});

const FENCE_OPS = { getDriverName: () => "test", getTimelineName: () => "device" };

describe("unload while TTM holds a delayed delete", () => {
  it("behaves as mainline: the force delete's put finds the GEM count at 0, TTM's resurrected reference frees the object once", async () => {
    let freed = false;
    let listedAtUnload = false;
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const kernel = Kernel.boot();
      const q = await createQxl(kernel);
      const qdev = q.qdev;
      const bo = await qxlGemObjectCreate(qdev, PAGE_SIZE, QXL_GEM_DOMAIN_CPU, false, null);
      if (isErr(bo)) throw new Error("qxl_gem_object_create");
      // A fence nobody has signalled yet (the device still working on the object).
      const fence = dmaFenceCreate(
        FENCE_OPS,
        new SpinLock("test_fence_lock"),
        dmaFenceContextAlloc(1),
        1,
      );
      if (isErr(fence)) throw new Error("fence");
      expect(await ttmBoReserve(bo, false, false)).toBe(0);
      expect(await dmaResvReserveFences(bo.resv, 1)).toBe(0);
      await dmaResvAddFence(bo.resv, fence, DmaResvUsage.BOOKKEEP);
      await ttmBoUnreserve(bo);
      // The last GEM reference: qxl_gem_object_free() drops TTM's, and ttm_bo_release() finds
      // the BO busy: kref_init() resurrects TTM's count for the delayed delete it queues. The
      // object stays on qdev->gem.objects until qxl_ttm_bo_destroy().
      await drmGemObjectPut(bo);
      expect(bo.deleted).toBe(true);
      expect(bo.refcount.read()).toBe(0);
      expect(bo.kref.read()).toBe(1);
      listedAtUnload = qdev.gemObjects.has(bo);
      // The device finishes later, while the driver is being torn down.
      spawn("device", async () => {
        await sleep(2_000_000_000, "device finishes the last command");
        await dmaFenceSignal(fence);
        await dmaFencePut(fence);
      });
      // Unload now: qxl_device_fini() forces the delete of what is listed, then TTM's fini waits
      // for its workqueue.
      await destroyQxl(q);
      freed = bo.freed;
      await kernel.checkLeaks();
    });
    expect(listedAtUnload).toBe(true);
    expect(freed).toBe(true);
    expect(r.outcome).toBe("ok");
    // As mainline: qxl_bo_force_delete()'s drm_gem_object_put() on a zero count is refcount_t's
    // "underflow; use-after-free" WARN (saturated, nothing freed); no use after free, no second
    // TTM release.
    expect(r.splats.map((s) => [s.kind, s.message, s.object])).toEqual([
      ["refcount", "refcount_t: underflow; use-after-free.", expect.stringMatching(/^qxl_bo#\d+/)],
    ]);
  });

  it("the reaper's first pass evicts a busy surface and skips an idle one (v6.18's inverted test), with qxl.dual-refcount the other way round", async () => {
    // Two usable ids (1, 2). A and B get them and go idle; A is drawn into again (busy: its
    // release is on the ring); C then needs an id and the reaper's first pass decides which of
    // A and B loses its surface. The surfaces' sizes tell them apart on the device.
    const liveAfter = async (toggles: string[]) => {
      let live: number[] = [];
      const r = await runQxl(
        async (m) => {
          await runProcess(m, "client", async (p) => {
            const fd = await openQxl(p, m);
            const a = await qxlAllocSurf(p, fd, 32, 8); // 1 KiB of surface data
            const b = await qxlAllocSurf(p, fd, 32, 16); // 2 KiB
            const c = await qxlAllocSurf(p, fd, 32, 24); // 3 KiB
            const fill = (h: number, size: number) =>
              qxlExecDraw(p, fd, {
                op: "fill",
                size,
                value: 7,
                dst: { handle: h, offset: 0, surface: true },
              });
            expectRet(await fill(a, 1024), 0, "fill A");
            expectRet(await fill(b, 2048), 0, "fill B");
            await qxlSettle(m.kernel, m.qxl); // A and B idle
            expectRet(await fill(a, 1024), 0, "fill A again"); // A busy
            expectRet(await fill(c, 3072), 0, "fill C"); // reaps one of A, B
            await qxlSettle(m.kernel, m.qxl);
            live = m.qxl.qdev.hw.surfaces.flatMap((s) => (s ? [s.size] : [])).sort((x, y) => x - y);
            await closeFd(p, fd);
          });
        },
        { toggles, device: { nSurfaces: 3 } },
      );
      expect(
        r.splats.filter((s) => !isKnownReapRecursion(s)),
        splatText(r),
      ).toEqual([]);
      expect(r.outcome).toBe("ok");
      return live;
    };
    // v6.18 (qxl_reap_surf(): ret = dma_resv_test_signaled(...); ret = ret ? -EBUSY : 0;): the
    // busy A is evicted, the idle B keeps its surface.
    expect(await liveAfter([])).toEqual([2048, 3072]);
    // v3.10-v4.1 (ttm_bo_wait(no_wait = !stall)): the busy A is skipped, the idle B evicted.
    expect(await liveAfter([QXL_DUAL_REFCOUNT.name])).toEqual([1024, 3072]);
  });

  it("EXECBUFFER checks the command's user range (access_ok(): -EFAULT) and the reloc array's size (kmalloc_array(): -ENOMEM) before allocating", async () => {
    const rets: Record<string, number> = {};
    const r = await runQxl(async (m) => {
      await runProcess(m, "client", async (p) => {
        const fd = await openQxl(p, m);
        const page = await p.mmap(
          0,
          2 * PAGE_SIZE,
          PROT_READ | PROT_WRITE,
          MAP_PRIVATE | MAP_ANONYMOUS,
          -1,
          0,
        );
        expect(page).toBeGreaterThan(0);
        expectRet(await p.munmap(page + PAGE_SIZE, PAGE_SIZE), 0, "munmap"); // the relocs' page
        const submit = async (command: number, relocsNum: number) => {
          const c = encodeDrmQxlCommand({
            command,
            relocs: page + PAGE_SIZE, // unmapped: copying the first reloc faults
            type: QXL_CMD_DRAW,
            command_size: 16,
            relocs_num: relocsNum,
            pad: 0,
          });
          expectRet(await p.writeMemory(page, c), c.length, "store");
          return p.ioctl(fd, DRM_IOCTL_QXL_EXECBUFFER, {
            flags: 0,
            commands_num: 1,
            commands: page,
          });
        };
        // 104,857 reloc infos of 40 bytes fit in KMALLOC_MAX_SIZE (4 MiB): the reloc copy faults
        rets.fits = await submit(page + 512, 104_857);
        // one more does not: kmalloc_array() fails before anything is copied
        rets.tooMany = await submit(page + 512, 104_858);
        // a command ending beyond user space fails access_ok() first, whatever relocs_num says
        rets.kernelRange = await submit(TASK_SIZE - 8, 104_858);
        await closeFd(p, fd);
      });
    });
    expectClean(r);
    expect(rets).toEqual({ fits: -EFAULT, tooMany: -ENOMEM, kernelRange: -EFAULT });
  });

  it("qxl_bo_move() notifies once: a failed copy out of the surface memory does not evict the surface again", async () => {
    let ret = 0;
    let releaseFailures = -1;
    let stillSurfaced = false;
    const r = await runQxl(
      async (m) => {
        await runProcess(m, "client", async (p) => {
          const fd = await openQxl(p, m);
          const h = await qxlAllocSurf(p, fd, 32, 8);
          const fill = {
            op: "fill",
            size: 1024,
            value: 1,
            dst: { handle: h, offset: 0, surface: true },
          } as const;
          expectRet(await qxlExecDraw(p, fd, fill), 0, "fill");
          await qxlSettle(m.kernel, m.qxl);
          const bo = [...m.qxl.qdev.gemObjects].find((o) => o.domain === QXL_GEM_DOMAIN_SURFACE)!;
          expect(bo.resource!.memType).toBe(TTM_PL_PRIV);
          expect(bo.surfaceId).toBeGreaterThan(0);
          // Move it to system memory with every release allocation (the DESTROY's) and the
          // system pages failing: the notify's eviction fails, then the copy.
          expectRet(await ttmBoReserve(bo, false, false), 0, "reserve");
          setFailslab({ probability: 1, caches: ["qxl_release", "ttm_pool_alloc"] });
          qxlTtmPlacementFromDomain(bo, QXL_GEM_DOMAIN_CPU);
          ret = await ttmBoValidate(bo, bo.placement, {
            interruptible: false,
            noWaitGpu: false,
            bytesMoved: 0,
          });
          setFailslab(null);
          releaseFailures = injectedFailures().filter((f) => f.what === "qxl_release").length;
          stillSurfaced = bo.surfaceId > 0 && bo.resource!.memType === TTM_PL_PRIV;
          await ttmBoUnreserve(bo);
          await closeFd(p, fd);
        });
      },
      { device: { nSurfaces: 3 } },
    );
    expectClean(r);
    expect(ret).toBe(-ENOMEM);
    // one eviction attempt (qxl_bo_move_notify() before ttm_bo_wait_ctx()), none after the copy
    expect(releaseFailures).toBe(1);
    expect(stillSurfaced).toBe(true);
  });

  it("unload evicts VRAM (qxl_vram_evict()) before qxl_bo_force_delete(): a leftover VRAM object is moved to system pages first", async () => {
    let pagesAllocated = -1;
    let freed = false;
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const kernel = Kernel.boot();
      const q = await createQxl(kernel);
      // an object on qdev->gem.objects that nobody put (what a stranded handle creation leaves)
      const bo = await qxlGemObjectCreate(q.qdev, 2 * PAGE_SIZE, QXL_GEM_DOMAIN_VRAM, false, null);
      if (isErr(bo)) throw new Error("qxl_gem_object_create");
      expect(bo.resource!.memType).toBe(TTM_PL_VRAM);
      // count (never fail) the system page allocations of the unload
      setFailslab({ caches: ["ttm_pool_alloc"] });
      const before = allocationCount();
      await destroyQxl(q);
      pagesAllocated = allocationCount() - before;
      setFailslab(null);
      freed = bo.freed;
      await kernel.checkLeaks();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats.map((s) => s.message)).toEqual([]);
    expect(freed).toBe(true);
    // the eviction's move to TTM_PL_SYSTEM populated the object's pages; without it the force
    // delete frees the object straight out of VRAM and TTM's fini finds nothing to evict
    expect(pagesAllocated).toBe(1);
  });

  it("qxl_release_fence_buffer_objects() walks the release's list: its objects reach the LRU's tail in list order, whatever order drm_exec locked them in", async () => {
    let order: string[] = [];
    let want: string[] = [];
    const r = await runQxl(async (m) => {
      await runProcess(m, "client", async (p) => {
        const fd = await openQxl(p, m);
        await qxlAlloc(p, fd, PAGE_SIZE);
        await qxlAlloc(p, fd, 2 * PAGE_SIZE);
        const qdev = m.qxl.qdev;
        const a = [...qdev.gemObjects].find((o) => o.size === PAGE_SIZE)!;
        const b = [...qdev.gemObjects].find((o) => o.size === 2 * PAGE_SIZE)!;
        const rel = await qxlAllocReleaseReserved(qdev, QXL_RELEASE_DRAWABLE);
        if (isErr(rel)) throw new Error("qxl_alloc_release_reserved");
        const release = rel.release;
        expectRet(await qxlReleaseListAdd(release, a), 0, "list add A");
        expectRet(await qxlReleaseListAdd(release, b), 0, "list add B");
        expectRet(await qxlReleaseReserveList(qdev, release, true), 0, "reserve");
        // drm_exec's order after a back-off on B: B first (locked slow), then the others
        const table = release.exec.table!;
        table.slots.splice(0, release.exec.numObjects, ...release.exec.objects.slice().reverse());
        await qxlReleaseFenceBufferObjects(qdev, release);
        want = release.bos.map((e) => e.bo.name).filter((n) => n === a.name || n === b.name);
        order = ttmManagerType(qdev.mman, TTM_PL_VRAM)!
          .lru.map((res) => res.bo!.name)
          .filter((n) => n === a.name || n === b.name);
        await qxlReleaseFree(qdev, release); // never pushed: signal it, drop its references
        await closeFd(p, fd);
      });
    });
    expectClean(r);
    expect(want).toHaveLength(2);
    expect(order).toEqual(want);
  });

  it("a wait on a release's fence is qxl_fence_wait(): it asks the device for its releases (QXL_IO_NOTIFY_OOM) and sleeps on release_event", async () => {
    let ret = 0;
    let notifyOom = -1;
    const r = await runQxl(async (m) => {
      await runProcess(m, "client", async (p) => {
        const fd = await openQxl(p, m);
        const h = await qxlAlloc(p, fd, PAGE_SIZE);
        expectRet(
          await qxlExecDraw(p, fd, {
            op: "fill",
            size: PAGE_SIZE,
            value: 3,
            dst: { handle: h, offset: 0 },
          }),
          0,
          "fill",
        );
        const hw = m.qxl.qdev.hw;
        const bo = [...m.qxl.qdev.gemObjects].find((o) => o.size === PAGE_SIZE)!;
        // the fill's release is on the ring: the device has not run yet
        expect(await dmaResvTestSignaled(bo.resv, DmaResvUsage.BOOKKEEP)).toBe(false);
        let n = 0;
        const outb = hw.outb.bind(hw);
        hw.outb = (port: number, val?: number) => {
          if (port === QXL_IO_NOTIFY_OOM) n++;
          outb(port, val);
        };
        ret = await dmaResvWaitTimeout(bo.resv, DmaResvUsage.BOOKKEEP, false, 15 * 1_000_000_000);
        hw.outb = outb;
        notifyOom = n;
        await closeFd(p, fd);
      });
    });
    expectClean(r);
    expect(ret).toBeGreaterThan(0);
    expect(notifyOom).toBeGreaterThan(0);
  });

  it("UPDATE_AREA's rect is a struct qxl_rect (int32_t): a left of 2^31 is negative, -EINVAL even on a surface wider than that", async () => {
    const rets: number[] = [];
    const r = await runQxl(async (m) => {
      await runProcess(m, "client", async (p) => {
        const fd = await openQxl(p, m);
        // ALLOC_SURF does not check the width against the stride: a 2^32 - 1 wide surface of one 64-byte row
        const arg = { format: 32, width: 0xffff_ffff, height: 1, stride: 64, handle: 0, pad: 0 };
        rets.push(await p.ioctl(fd, DRM_IOCTL_QXL_ALLOC_SURF, arg));
        const area = (left: number, right: number) => ({
          handle: arg.handle,
          top: 0,
          left,
          bottom: 1,
          right,
          pad: 0,
        });
        rets.push(await p.ioctl(fd, DRM_IOCTL_QXL_UPDATE_AREA, area(0x8000_0000, 0x8000_0001)));
        rets.push(await p.ioctl(fd, DRM_IOCTL_QXL_UPDATE_AREA, area(0, 16)));
        await closeFd(p, fd);
      });
    });
    expectClean(r);
    expect(rets).toEqual([0, -EINVAL, 0]);
  });
});
