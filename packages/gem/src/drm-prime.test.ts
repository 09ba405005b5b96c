import { dmaResvLock, dmaResvUnlock } from "@primetime/dma-buf";
import {
  EBADF,
  EINVAL,
  ENOENT,
  ENOSYS,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  SEEK_END,
} from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import { drmDevCounters } from "./drm-device.js";
import { drmGemObjectLookup, drmGemObjectPut, type GemObject } from "./drm-gem.js";
import { drmGemPrimeDmabufOps } from "./drm-prime.js";
import {
  createBo,
  drmFileOf,
  expectClean,
  fdToHandle,
  flink,
  gemOpen,
  handleToFd,
  mapBo,
  runMachine,
  runProcess,
  tinyDriver,
  withExtraDevice,
} from "./test-support.js";
import { DRM_CLOEXEC, DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_MODE_MAP_DUMB, DRM_RDWR } from "./uapi.js";

describe("PRIME (prime_self_import, prime_vgem)", () => {
  it("self-import on the exporting file gives back the same handle; errno paths", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      const dev = m.devs[0]!;
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        const h = await createBo(p, fd);
        got.exportUnknownHandle = await handleToFd(p, fd, 99);
        got.exportBadFlags = await handleToFd(p, fd, h, 0x1234);
        const pfd = await handleToFd(p, fd, h, DRM_CLOEXEC | DRM_RDWR);
        const pfd2 = await handleToFd(p, fd, h);
        got.newFds = pfd > fd && pfd2 > pfd;
        got.selfImport = await fdToHandle(p, fd, pfd);
        got.selfImportSecondFd = await fdToHandle(p, fd, pfd2);
        // one dma-buf: the fd, obj->dma_buf, the cache, the second fd
        const priv = drmFileOf(p, fd);
        const dmabuf = priv.prime.handles.members()[0]!.dmaBuf;
        got.cacheEntries = priv.prime.handles.size;
        got.dmaBufFileCount = dmabuf.file?.fCount.read();
        // drm_gem_prime_export(): exp_name is KBUILD_MODNAME ("drm"), the driver is the owner.
        got.expName = dmabuf.expName;
        got.owner = dmabuf.owner;
        got.importClosedFd = await fdToHandle(p, fd, 1000);
        got.importDrmFd = await fdToHandle(p, fd, fd);
        got.size = await p.lseek(pfd, 0, SEEK_END);
        got.dmaBufs = drmDevCounters(dev).dmaBufs;
        await p.close(pfd);
        await p.close(pfd2);
        got.gemClose = await p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: h });
        got.cacheEntriesAfterClose = drmDevCounters(dev).primeEntries;
        await p.close(fd);
      });
      await m.kernel.quiesce();
      got.atEnd = drmDevCounters(dev);
    });
    expectClean(r);
    expect(got).toMatchObject({
      exportUnknownHandle: -ENOENT,
      exportBadFlags: -EINVAL,
      newFds: true,
      selfImport: 1,
      selfImportSecondFd: 1,
      cacheEntries: 1,
      // the two fds, obj->dma_buf and the cache
      dmaBufFileCount: 4,
      expName: "drm",
      owner: "tiny0", // the driver's name
      importClosedFd: -EBADF,
      importDrmFd: -EINVAL,
      size: 4096,
      dmaBufs: 1,
      gemClose: 0,
      cacheEntriesAfterClose: 0,
      atEnd: { objects: 0, handles: 0, dmaBufs: 0, primeEntries: 0 },
    });
  });

  it("import on a second file; data survives closing the fd and the exporter's handle", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd1 = await p.open("/dev/dri/card0", O_RDWR);
        const fd2 = await p.open("/dev/dri/card0", O_RDWR); // not authenticated: PRIME needs no auth
        const h1 = await createBo(p, fd1);
        const va1 = await mapBo(p, fd1, h1);
        await p.writeMemory(va1, new Uint8Array([1, 2, 3, 4]));
        const pfd = await handleToFd(p, fd1, h1);
        const h2 = await fdToHandle(p, fd2, pfd);
        const h2again = await fdToHandle(p, fd2, pfd);
        got.imported = h2;
        got.importedAgain = h2again;
        await p.close(pfd);
        await p.munmap(va1, 4096);
        got.exporterClose = await p.ioctl(fd1, DRM_IOCTL_GEM_CLOSE, { handle: h1 });
        const va2 = await mapBo(p, fd2, h2);
        got.data = Array.from((await p.readMemory(va2, 4)) as Uint8Array);
        await p.munmap(va2, 4096);
        // re-export from the second file and import on the first: a fresh handle there
        const pfd3 = await handleToFd(p, fd2, h2);
        got.reimportOnExporter = await fdToHandle(p, fd1, pfd3);
        await p.close(pfd3);
        await p.close(fd1);
        await p.close(fd2);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      imported: 1,
      importedAgain: 1,
      exporterClose: 0,
      data: [1, 2, 3, 4],
      reimportOnExporter: 1,
    });
  });

  it("one bo on two files through flink: export/import returns the opened handle", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd1 = await p.open("/dev/dri/card0", O_RDWR);
        const h1 = await createBo(p, fd1);
        const opened = await gemOpen(p, fd1, await flink(p, fd1, h1));
        const pfd = await handleToFd(p, fd1, opened);
        got.opened = opened;
        got.imported = await fdToHandle(p, fd1, pfd);
        await p.close(pfd);
        await p.close(fd1);
      });
    });
    expectClean(r);
    expect(got).toEqual({ opened: 2, imported: 2 });
  });

  it("foreign import attaches and maps; re-export returns the original dma-buf", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(
      async (m) => {
        const [dev0, dev1] = m.devs as [(typeof m.devs)[0], (typeof m.devs)[0]];
        await runProcess(m, "igt", async (p) => {
          const fd0 = await p.open("/dev/dri/card0", O_RDWR);
          const fd1 = await p.open("/dev/dri/card1", O_RDWR);
          const h0 = await createBo(p, fd0, 2);
          const va = await mapBo(p, fd0, h0, 8192);
          await p.writeMemory(va + 4096, new Uint8Array([9, 8, 7]));
          const pfd = await handleToFd(p, fd0, h0);
          const h1 = await fdToHandle(p, fd1, pfd);
          const obj1 = await drmGemObjectLookup(drmFileOf(p, fd1), h1);
          got.handle = h1;
          got.attached = obj1?.importAttach !== null;
          got.size = obj1?.size;
          got.onImporter = obj1?.dev === dev1;
          got.firstByteOfPage1 = obj1?.pages?.[1]?.[0];
          if (obj1) await drmGemObjectPut(obj1);
          // the importer cannot map an import through MAP_DUMB
          got.mapDumbOfImport = await p.ioctl(fd1, DRM_IOCTL_MODE_MAP_DUMB, { handle: h1 });
          // re-export of the import is the original dma-buf: the exporter's cache knows it
          const pfd2 = await handleToFd(p, fd1, h1);
          got.reexportOnExporter = await fdToHandle(p, fd0, pfd2);
          // and a dma-buf mmap of it sees the exporter's pages
          const vb = await p.mmap(0, 8192, PROT_READ, MAP_SHARED, pfd2, 0);
          got.mmapData = Array.from((await p.readMemory(vb + 4096, 3)) as Uint8Array);
          await p.munmap(vb, 8192);
          await p.munmap(va, 8192);
          await p.close(pfd);
          await p.close(pfd2);
          got.dmaBufs = [drmDevCounters(dev0).dmaBufs, drmDevCounters(dev1).dmaBufs];
          await p.close(fd0); // the importer keeps the exporter's object alive
          got.exporterObjectsAfterClose = drmDevCounters(dev0).objects;
          await p.close(fd1);
        });
        await m.kernel.quiesce();
        got.objectsAtEnd = [drmDevCounters(dev0).objects, drmDevCounters(dev1).objects];
      },
      { ndevs: 2 },
    );
    expectClean(r);
    expect(got).toEqual({
      handle: 1,
      attached: true,
      size: 8192,
      onImporter: true,
      firstByteOfPage1: 9,
      mapDumbOfImport: -EINVAL,
      reexportOnExporter: 1,
      mmapData: [9, 8, 7],
      dmaBufs: [1, 0], // per device
      exporterObjectsAfterClose: 1, // the importer keeps it alive
      objectsAtEnd: [0, 0],
    });
  });

  it("foreign import refused: -EINVAL without gem_prime_import_sg_table, -ENOSYS without get_sg_table", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      const noImport = { ...tinyDriver("noimport"), gemPrimeImportSgTable: undefined };
      await withExtraDevice(m, noImport, async () => {
        await runProcess(m, "igt", async (p) => {
          const fd0 = await p.open("/dev/dri/card0", O_RDWR);
          const fd1 = await p.open("/dev/dri/card1", O_RDWR);
          const h = await createBo(p, fd0);
          const pfd = await handleToFd(p, fd0, h);
          got.noImportSgTable = await fdToHandle(p, fd1, pfd);
          // an exporter object without get_sg_table refuses the attachment
          const h2 = await createBo(p, fd1);
          const obj1 = await drmGemObjectLookup(drmFileOf(p, fd1), h2);
          if (obj1) {
            obj1.funcs = { ...obj1.funcs, getSgTable: undefined };
            await drmGemObjectPut(obj1);
          }
          const pfd2 = await handleToFd(p, fd1, h2);
          got.noGetSgTable = await fdToHandle(p, fd0, pfd2);
          for (const f of [pfd, pfd2, fd0, fd1]) await p.close(f);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({ noImportSgTable: -EINVAL, noGetSgTable: -ENOSYS });
  });

  it("file close releases handles and the PRIME cache without warnings", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      const dev = m.devs[0]!;
      await runProcess(m, "igt", async (p) => {
        const fd1 = await p.open("/dev/dri/card0", O_RDWR);
        const fd2 = await p.open("/dev/dri/renderD128", O_RDWR);
        for (let i = 0; i < 3; i++) {
          const h = await createBo(p, fd1);
          const pfd = await handleToFd(p, fd1, h);
          await fdToHandle(p, fd2, pfd);
          await p.close(pfd);
        }
        got.open = drmDevCounters(dev);
        // exit with everything open
      });
      await m.kernel.quiesce();
      got.afterExit = drmDevCounters(dev);
    });
    expectClean(r);
    expect(got).toMatchObject({
      open: { objects: 3, handles: 6, dmaBufs: 3, primeEntries: 6 },
      afterExit: { objects: 0, handles: 0, dmaBufs: 0, primeEntries: 0, files: 0 },
    });
  });

  it("drm_gem_map_detach(): no ->unpin, no reservation lock (it returns before dma_resv_lock())", async () => {
    // The tiny driver's objects have no ->pin/->unpin: the detach op must not take the object's
    // reservation lock at all, so it completes while its caller holds that lock (the old model
    // took it through drm_gem_unpin(): a recursive ww_mutex lock).
    let detached = false;
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        const h = await createBo(p, fd);
        const pfd = await handleToFd(p, fd, h);
        const dmabuf = drmFileOf(p, fd).prime.handles.members()[0]!.dmaBuf;
        const obj = dmabuf.priv as GemObject;
        await dmaResvLock(obj.resv);
        await drmGemPrimeDmabufOps.detach!(dmabuf, null as never);
        detached = true;
        await dmaResvUnlock(obj.resv);
        await p.close(pfd);
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(detached).toBe(true);
  });
});
