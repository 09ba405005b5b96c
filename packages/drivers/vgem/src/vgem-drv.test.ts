import {
  DRM_COMMAND_BASE,
  DRM_IO,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_VERSION,
  DRM_RDWR,
  type DrmFile,
  type DrmPrimeHandle,
  type DrmVersion,
  drmGemObjectLookup,
  drmGemObjectPut,
} from "@primetime/gem";
import {
  EACCES,
  EINVAL,
  ENOENT,
  ENOMEM,
  ENOSPC,
  Kernel,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  ramPagesUsed,
  SEEK_END,
} from "@primetime/kernel";
import { Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  createDumb,
  expectClean,
  expectRet,
  load,
  mapDumb,
  openNode,
  runVgem,
} from "./test-machine.js";
import {
  createVgem,
  destroyVgem,
  type VgemObject,
  vgemGemDumbCreate,
  vgemObjectCache,
} from "./vgem-drv.js";

describe("vgem", () => {
  it("registers card and render nodes at the lowest free index, and says who it is", async () => {
    let seen: DrmVersion | null = null;
    let nodes: string[] = [];
    const r = await runVgem(async (p, m) => {
      nodes = [m.a.card, m.a.render, m.b.card, m.b.render];
      const fd = await openNode(p, m.b.render);
      const v: DrmVersion = {
        version_major: 0,
        version_minor: 0,
        version_patchlevel: 0,
        name_len: 16,
        name: "",
        date_len: 0,
        date: "",
        desc_len: 64,
        desc: "",
      };
      expectRet(await p.ioctl(fd, DRM_IOCTL_VERSION, v), 0, "VERSION");
      seen = v;
    });
    expectClean(r);
    expect(nodes).toEqual([
      "/dev/dri/card0",
      "/dev/dri/renderD128",
      "/dev/dri/card1",
      "/dev/dri/renderD129",
    ]);
    expect(seen).toMatchObject({ name: "vgem", desc: "Virtual GEM provider", version_major: 1 });
  });

  it("creates zeroed dumb buffers of pitch * height bytes that map and keep what is written", async () => {
    const r = await runVgem(async (p, m) => {
      const fd = await openNode(p, m.a.card);
      const bo = await createDumb(p, fd, 16384);
      expect(bo).toMatchObject({ handle: 1, pitch: 4096, size: 16384 });
      // An odd geometry is rounded up to whole pages.
      const odd = { width: 3, height: 5, bpp: 24, flags: 0, handle: 0, pitch: 0, size: 0 };
      expectRet(await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, odd), 0, "MODE_CREATE_DUMB 3x5x24");
      expect(odd).toMatchObject({ handle: 2, pitch: 9, size: 4096 });
      const addr = await mapDumb(p, fd, bo.handle, bo.size);
      expect((await load(p, addr, bo.size)).every((x) => x === 0)).toBe(true);
      expectRet(await p.writeMemory(addr + 5000, new Uint8Array([1, 2, 3])), 3, "store");
      // A second mapping of the same object sees the store: the pages are the object's.
      const addr2 = await mapDumb(p, fd, bo.handle, bo.size);
      expect([...(await load(p, addr2 + 4999, 5))]).toEqual([0, 1, 2, 3, 0]);
      expectRet(await p.munmap(addr, bo.size), 0, "munmap");
      // The mapping holds the object: closing the handle leaves the second mapping working.
      expectRet(await p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: 1, pad: 0 }), 0, "GEM_CLOSE");
      expect([...(await load(p, addr2 + 5000, 3))]).toEqual([1, 2, 3]);
      expectRet(await p.munmap(addr2, bo.size), 0, "munmap");
    });
    expectClean(r);
  });

  it("gives the core's errno for bad dumb-buffer and ioctl requests", async () => {
    const r = await runVgem(async (p, m) => {
      const card = await openNode(p, m.a.card);
      const render = await openNode(p, m.a.render);
      const zero = { width: 0, height: 4, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
      expectRet(await p.ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, zero), -EINVAL, "dumb of width 0");
      const ok = { width: 1024, height: 1, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
      // Dumb buffers are not allowed on render nodes (no DRM_RENDER_ALLOW).
      expectRet(
        await p.ioctl(render, DRM_IOCTL_MODE_CREATE_DUMB, ok),
        -EACCES,
        "dumb on the render node",
      );
      const map = { handle: 77, pad: 0, offset: 0 };
      expectRet(await p.ioctl(card, DRM_IOCTL_MODE_MAP_DUMB, map), -ENOENT, "map of a bad handle");
      // The hole at index 0 of vgem's ioctl table, and a number past its end.
      expectRet(await p.ioctl(render, DRM_IO(DRM_COMMAND_BASE), undefined), -EINVAL, "ioctl 0x40");
      expectRet(await p.ioctl(render, DRM_IO(DRM_COMMAND_BASE + 3), undefined), -EINVAL, "0x43");
    });
    expectClean(r);
  });

  it("has no zero-size check of its own in dumb_create: the core refuses a zero geometry, the offset manager a zero size", async () => {
    let direct = 0;
    const r = await runVgem(async (p, m) => {
      const card = await openNode(p, m.a.card);
      // Through the ioctl a zero height never reaches vgem: the core says -EINVAL.
      const zero = { width: 1024, height: 0, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
      expectRet(await p.ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, zero), -EINVAL, "height 0");
      // Called directly (bypassing the core), ->dumb_create goes on to create a 0-byte object, as
      // v6.18's drm_gem_shmem_dumb_create() does (the pre-v5.14 vgem_gem_dumb_create()'s
      // `size == 0` -EINVAL is gone); __drm_gem_shmem_create()'s drm_gem_create_mmap_offset()
      // then fails: drm_mm_insert_node_in_range() refuses a node of size 0 with -ENOSPC.
      const file = p.files.peek(card)!.privateData as DrmFile;
      direct = await vgemGemDumbCreate(file, m.a.device, { ...zero });
      await p.close(card);
    });
    expect(direct).toBe(-ENOSPC);
    expectClean(r);
  });

  it("computes pitch and size in u32 as drm_gem_shmem_dumb_create() does: a wrapped width * bpp", async () => {
    const got: Record<string, unknown> = {};
    const r = await runVgem(async (p, m) => {
      const card = await openNode(p, m.a.card);
      const before = m.a.device.counters.objects;
      const create = async (width: number, height: number, bpp: number) => {
        const arg = { width, height, bpp, flags: 0, handle: 0, pitch: 0, size: 0 };
        const ret = await p.ioctl(card, DRM_IOCTL_MODE_CREATE_DUMB, arg);
        return { ret, handle: arg.handle, pitch: arg.pitch, size: arg.size };
      };
      // 2^29 x 1 at 8 bpp passes drm_mode_create_dumb() (cpp 1, stride 2^29) but width * bpp
      // = 2^32 wraps to 0: pitch 0, size 0, and the 0-page mmap offset is -ENOSPC. The ioctl
      // clears the outputs on error.
      got.wrapToZero = await create(2 ** 29, 1, 8);
      got.wrapToZeroTall = await create(2 ** 29, 7, 8);
      // DIV_ROUND_UP()'s `+ 7` wraps too: 613566756 * 7 = 2^32 - 4, + 7 = 3, / 8 = 0.
      got.roundUpWraps = await create(613566756, 1, 7);
      // (2^29 + 1) * 8 = 2^32 + 8 wraps to 8: pitch 1, one page, and the create succeeds.
      const small = await create(2 ** 29 + 1, 2, 8);
      got.wrapToSmall = { ...small, handle: small.handle > 0 };
      got.objectsAfterFailures = m.a.device.counters.objects - before;
      // The largest width the core lets through at 8 bpp without a wrap is as before.
      const big = await create(2 ** 29 - 1, 1, 8);
      got.noWrap = { ret: big.ret, pitch: big.pitch, size: big.size };
      await p.close(card);
    });
    expectClean(r);
    const failed = { ret: -ENOSPC, handle: 0, pitch: 0, size: 0 };
    expect(got).toEqual({
      wrapToZero: failed,
      wrapToZeroTall: failed,
      roundUpWraps: failed,
      wrapToSmall: { ret: 0, handle: true, pitch: 1, size: 4096 },
      objectsAfterFailures: 1,
      noWrap: { ret: 0, pitch: 2 ** 29 - 1, size: 2 ** 29 },
    });
  });

  it("shares buffers with another device through PRIME, both ways", async () => {
    const r = await runVgem(async (p, m) => {
      const fdA = await openNode(p, m.a.card);
      const fdB = await openNode(p, m.b.card);
      const bo = await createDumb(p, fdA, 8192);
      const addrA = await mapDumb(p, fdA, bo.handle, bo.size);
      await p.writeMemory(addrA, new Uint8Array(8192).fill(0x42));
      const exp: DrmPrimeHandle = { handle: bo.handle, flags: DRM_RDWR, fd: -1 };
      expectRet(await p.ioctl(fdA, DRM_IOCTL_PRIME_HANDLE_TO_FD, exp), 0, "export");
      expect(await p.lseek(exp.fd, 0, SEEK_END)).toBe(8192);
      const imp: DrmPrimeHandle = { handle: 0, flags: 0, fd: exp.fd };
      expectRet(await p.ioctl(fdB, DRM_IOCTL_PRIME_FD_TO_HANDLE, imp), 0, "import into B");
      // A foreign import cannot be mapped through the importer's DRM fd (core rule)...
      const map = { handle: imp.handle, pad: 0, offset: 0 };
      expectRet(await p.ioctl(fdB, DRM_IOCTL_MODE_MAP_DUMB, map), -EINVAL, "map of an import");
      // ...but re-exporting it gives the original dma-buf, whose mapping is A's pages.
      const re: DrmPrimeHandle = { handle: imp.handle, flags: DRM_RDWR, fd: -1 };
      expectRet(await p.ioctl(fdB, DRM_IOCTL_PRIME_HANDLE_TO_FD, re), 0, "re-export from B");
      const addrD = await p.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, re.fd, 0);
      expect(addrD).toBeGreaterThan(0);
      expect((await load(p, addrD, 8192)).every((x) => x === 0x42)).toBe(true);
      await p.writeMemory(addrD + 100, new Uint8Array([9]));
      expect([...(await load(p, addrA + 99, 3))]).toEqual([0x42, 9, 0x42]);
      await p.munmap(addrD, 8192);
      await p.munmap(addrA, 8192);
      // Close the exporter first: the import keeps the buffer alive through the dma-buf.
      await p.close(fdA);
      await p.close(exp.fd);
      await p.close(re.fd);
      expect(m.a.device.counters.objects).toBe(1);
      expect(m.b.device.counters.objects).toBe(1);
      await p.close(fdB);
    });
    expectClean(r);
  });

  it("a foreign import's attachment pins the exporter's pages under its reservation lock (drm_gem_shmem_object_pin()), the detach unpins them, the free takes the lock", async () => {
    const counts: number[][] = [];
    let name = "";
    const r = await runVgem(async (p, m) => {
      const fdA = await openNode(p, m.a.card);
      const fdB = await openNode(p, m.b.card);
      const bo = await createDumb(p, fdA, 8192);
      const file = p.files.fdt.fd[fdA]!.privateData as DrmFile;
      const obj = (await drmGemObjectLookup(file, bo.handle)) as VgemObject;
      name = obj.name;
      const now = () => counts.push([obj.pagesPinCount.read(), obj.pagesUseCount.read()]);
      const exp: DrmPrimeHandle = { handle: bo.handle, flags: DRM_RDWR, fd: -1 };
      expectRet(await p.ioctl(fdA, DRM_IOCTL_PRIME_HANDLE_TO_FD, exp), 0, "export");
      now();
      const imp: DrmPrimeHandle = { handle: 0, flags: 0, fd: exp.fd };
      expectRet(await p.ioctl(fdB, DRM_IOCTL_PRIME_FD_TO_HANDLE, imp), 0, "import into B");
      now();
      expectRet(
        await p.ioctl(fdB, DRM_IOCTL_GEM_CLOSE, { handle: imp.handle, pad: 0 }),
        0,
        "close the import",
      );
      now();
      await drmGemObjectPut(obj);
      await p.close(exp.fd);
      await p.close(fdB);
      await p.close(fdA);
    });
    expectClean(r);
    // [pin count, use count]: none before the import, one each while B is attached, none after.
    expect(counts).toEqual([
      [0, 0],
      [1, 1],
      [0, 0],
    ]);
    // drm_gem_shmem_free() of an object of its own takes its reservation lock first thing.
    const labels: string[] = [];
    for (let i = 1; i <= r.trace.length; i++) labels.push(r.trace.at(i).label);
    const free = labels.indexOf(`drm_gem_shmem_free(${name})`);
    expect(free).toBeGreaterThan(0);
    expect(labels[free + 1]).toBe(`ww_mutex_lock(${name}.resv)`);
  });

  it("frees its objects and the device once the last file and dma-buf are gone", async () => {
    const r = await new Simulation({ seed: 5 }).run(async () => {
      const kernel = Kernel.boot();
      const vgem = await createVgem(kernel);
      let dmaBuf = -1;
      const p = kernel.spawnProcess("holder", async (proc) => {
        const fd = await openNode(proc, vgem.card);
        const bo = await createDumb(proc, fd, 4096);
        const exp = { handle: bo.handle, flags: 0, fd: -1 };
        expectRet(await proc.ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, exp), 0, "export");
        dmaBuf = exp.fd;
        await proc.close(fd);
        // Unregister while the dma-buf is alive: the node goes, the device stays.
        await destroyVgem(vgem);
        expect(kernel.chrdevs.lookup(vgem.card)).toBeNull();
        expect(vgem.device.freed).toBe(false);
        expect(vgemObjectCache.live).toBe(1);
        await proc.close(dmaBuf);
      });
      await p.wait();
      await kernel.quiesce();
      expect(vgemObjectCache.live).toBe(0);
      expect(vgem.device.freed).toBe(true);
      expect(await kernel.checkLeaks()).toEqual([]);
    });
    expectClean(r);
  });
});

describe("vgem memory", () => {
  it("a 65535x16384x32bpp dumb buffer is cheap: pages on first touch, ENOMEM past RAM, freed at close", async () => {
    const r = await runVgem(async (p, m) => {
      const fdA = await openNode(p, m.a.card);
      const fdB = await openNode(p, m.b.card);
      const arg = { width: 65535, height: 16384, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
      expectRet(await p.ioctl(fdA, DRM_IOCTL_MODE_CREATE_DUMB, arg), 0, "MODE_CREATE_DUMB");
      expect(arg.pitch).toBe(65535 * 4);
      expect(arg.size).toBe(65535 * 4 * 16384);
      expect(ramPagesUsed()).toBe(0);
      const addr = await mapDumb(p, fdA, arg.handle, arg.size);
      await p.writeMemory(addr + arg.size - 3, new Uint8Array([1, 2, 3]));
      expect([...(await load(p, addr + arg.size - 4, 4))]).toEqual([0, 1, 2, 3]);
      expect(ramPagesUsed()).toBe(1);
      // Importing it elsewhere pins every page (drm_gem_get_pages()): more than RAM holds.
      const exp: DrmPrimeHandle = { handle: arg.handle, flags: DRM_RDWR, fd: -1 };
      expectRet(await p.ioctl(fdA, DRM_IOCTL_PRIME_HANDLE_TO_FD, exp), 0, "export");
      // The dma-buf (4 GiB: more than a 32-bit page count) maps the same pages.
      const dmaAddr = await p.mmap(0, arg.size, PROT_READ | PROT_WRITE, MAP_SHARED, exp.fd, 0);
      expect(dmaAddr).toBeGreaterThan(0);
      expect([...(await load(p, dmaAddr + arg.size - 4, 4))]).toEqual([0, 1, 2, 3]);
      expect(await p.munmap(dmaAddr, arg.size)).toBe(0);
      const imp: DrmPrimeHandle = { handle: 0, flags: 0, fd: exp.fd };
      expectRet(await p.ioctl(fdB, DRM_IOCTL_PRIME_FD_TO_HANDLE, imp), -ENOMEM, "import");
      expect(ramPagesUsed()).toBe(1);
      await p.munmap(addr, arg.size);
      await p.close(exp.fd);
      await p.close(fdA);
      await p.close(fdB);
    });
    expectClean(r);
  });
});

describe("exit with a thread asleep in recvmsg", () => {
  it("main opens card0, creates a buffer and returns while a helper sleeps in recvmsg: nothing leaks (pct seeds)", async () => {
    for (let seed = 1; seed <= 150; seed++) {
      const r = await new Simulation({ seed, strategy: { kind: "pct" } }).run(async () => {
        const kernel = Kernel.boot();
        const a = await createVgem(kernel);
        const p = kernel.spawnProcess("app", async (p) => {
          p.spawnThread("helper", async (p) => {
            await p.recvFd();
          });
          const fd = await openNode(p, a.card);
          await createDumb(p, fd, 8192);
        });
        expect(await p.wait()).toBe(0);
        expect(p.state).toBe("dead");
        expect(p.liveThreads).toBe(0);
        await destroyVgem(a);
        await kernel.checkLeaks();
      });
      expectClean(r);
    }
  });
});
