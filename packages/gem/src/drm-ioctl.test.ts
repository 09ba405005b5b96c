import {
  _IOC_SIZE,
  _IOWR,
  allocEmptyFile,
  EACCES,
  EBUSY,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOENT,
  ENOSYS,
  ENOTTY,
  EOPNOTSUPP,
  fput,
  isErr,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { KernelBug } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { drmDevCounters, drmDevUnregister } from "./drm-device.js";
import { DRIVER_GEM, DRIVER_MODESET, DRIVER_RENDER, type DrmDriver } from "./drm-driver.js";
import { drmIoctl } from "./drm-ioctl.js";
import {
  DRM_IOCTL_TINY_CREATE,
  DRM_IOCTL_TINY_CREATE_AUTH,
  DRM_IOCTL_TINY_INVALID,
  drmFileOf,
  expectClean,
  runMachine,
  runProcess,
  tinyDriver,
  withExtraDevice,
} from "./test-support.js";
import {
  DRM_CAP_ADDFB2_MODIFIERS,
  DRM_CAP_ASYNC_PAGE_FLIP,
  DRM_CAP_ATOMIC_ASYNC_PAGE_FLIP,
  DRM_CAP_CRTC_IN_VBLANK_EVENT,
  DRM_CAP_CURSOR_HEIGHT,
  DRM_CAP_CURSOR_WIDTH,
  DRM_CAP_DUMB_BUFFER,
  DRM_CAP_DUMB_PREFER_SHADOW,
  DRM_CAP_DUMB_PREFERRED_DEPTH,
  DRM_CAP_PAGE_FLIP_TARGET,
  DRM_CAP_PRIME,
  DRM_CAP_SYNCOBJ,
  DRM_CAP_VBLANK_HIGH_CRTC,
  DRM_COMMAND_BASE,
  DRM_IO,
  DRM_IOCTL_DROP_MASTER,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_SET_MASTER,
  DRM_IOCTL_SET_VERSION,
  DRM_IOCTL_VERSION,
  DRM_IOWR,
  DRM_MODE_CREATE_DUMB_LAYOUT,
  DRM_PRIME_CAP_EXPORT,
  DRM_PRIME_CAP_IMPORT,
  type DrmModeCreateDumb,
  type DrmModeMapDumb,
  type DrmVersion,
} from "./uapi.js";

async function createDumb(p: Process, fd: number, a: Partial<DrmModeCreateDumb>) {
  const arg = { ...a };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
  return { ret, arg };
}

describe("uapi", () => {
  it("builds the kernel's ioctl numbers", () => {
    expect(DRM_IOCTL_VERSION).toBe(0xc0406400);
    expect(DRM_IOCTL_GEM_CLOSE).toBe(0x40086409);
    expect(DRM_IOCTL_GEM_FLINK).toBe(0xc008640a);
    expect(DRM_IOCTL_GET_CAP).toBe(0xc010640c);
    expect(DRM_IOCTL_SET_MASTER).toBe(0x641e);
    expect(DRM_IOCTL_MODE_CREATE_DUMB).toBe(0xc02064b2);
    expect(DRM_IOCTL_MODE_MAP_DUMB).toBe(0xc01064b3);
    expect(DRM_IOCTL_MODE_DESTROY_DUMB).toBe(0xc00464b4);
    expect(_IOC_SIZE(DRM_IOCTL_MODE_CREATE_DUMB)).toBe(32);
  });
});

describe("drm_ioctl dispatch", () => {
  it("decodes commands: ENOTTY, EINVAL, driver table, permissions, EFAULT", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const card = await p.open("/dev/dri/card0", O_RDWR);
        const client = await p.open("/dev/dri/card0", O_RDWR);
        const render = await p.open("/dev/dri/renderD128", O_RDWR);
        got.notDrm = await p.ioctl(card, _IOWR("x", 0, 8), {});
        got.coreNumberWithoutEntry = await p.ioctl(card, DRM_IO(0x30), {});
        got.pastCoreTable = await p.ioctl(card, DRM_IO(0xf0), {});
        got.nullFunc = await p.ioctl(card, DRM_IOCTL_TINY_INVALID, { size: 4096 });
        got.pastDriverTable = await p.ioctl(card, DRM_IOWR(DRM_COMMAND_BASE + 9, []), {});
        const c = { size: 4096, handle: 0 };
        got.renderCreate = await p.ioctl(render, DRM_IOCTL_TINY_CREATE, c);
        got.renderCreateHandle = c.handle;
        got.renderCreateAuth = await p.ioctl(render, DRM_IOCTL_TINY_CREATE_AUTH, { size: 4096 });
        got.clientCreateAuth = await p.ioctl(client, DRM_IOCTL_TINY_CREATE_AUTH, { size: 4096 });
        got.masterCreateAuth = await p.ioctl(card, DRM_IOCTL_TINY_CREATE_AUTH, { size: 4096 });
        // a field that is not an integer faults; a missing one reads 0
        got.closeNonInteger = await p.ioctl(card, DRM_IOCTL_GEM_CLOSE, { handle: "1" });
        got.closeMissingField = await p.ioctl(card, DRM_IOCTL_GEM_CLOSE, {});
        got.closeNumberArg = await p.ioctl(card, DRM_IOCTL_GEM_CLOSE, 5);
        // an old userspace's shorter struct: only its bytes are copied in
        const short = DRM_IOWR(0xb2, DRM_MODE_CREATE_DUMB_LAYOUT.slice(0, -1)); // without `size`
        const s: Record<string, number> = { height: 1, width: 1024, bpp: 32, size: 77 };
        got.shortStruct = await p.ioctl(card, short, s);
        got.shortStructOut = { handle: s.handle, pitch: s.pitch, size: s.size };
        // master ioctls
        got.clientSetMaster = await p.ioctl(client, DRM_IOCTL_SET_MASTER);
        got.clientDropMaster = await p.ioctl(client, DRM_IOCTL_DROP_MASTER);
        got.masterDropMaster = await p.ioctl(card, DRM_IOCTL_DROP_MASTER);
        got.masterSetMaster = await p.ioctl(card, DRM_IOCTL_SET_MASTER);
        // drm_setmaster_ioctl(): another file became master meanwhile: -EBUSY
        got.dropAgain = await p.ioctl(card, DRM_IOCTL_DROP_MASTER);
        const next = await p.open("/dev/dri/card0", O_RDWR); // drm_master_open(): new master
        got.setMasterBusy = await p.ioctl(card, DRM_IOCTL_SET_MASTER);
        got.formerDropMaster = await p.ioctl(card, DRM_IOCTL_DROP_MASTER); // was master: -EINVAL
        await p.close(next);
        got.setMasterAfterClose = await p.ioctl(card, DRM_IOCTL_SET_MASTER);
        for (const fd of [card, client, render]) await p.close(fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      notDrm: -ENOTTY,
      coreNumberWithoutEntry: -EINVAL,
      pastCoreTable: -EINVAL,
      nullFunc: -EINVAL,
      pastDriverTable: -EINVAL,
      renderCreate: 0,
      renderCreateHandle: 1,
      renderCreateAuth: -EACCES,
      clientCreateAuth: -EACCES,
      masterCreateAuth: 0,
      closeNonInteger: -EFAULT,
      closeMissingField: -EINVAL, // handle 0
      closeNumberArg: -EFAULT,
      shortStruct: 0,
      shortStructOut: { handle: 2, pitch: 4096, size: 77 }, // `size` was not copied in or out
      clientSetMaster: -EACCES,
      clientDropMaster: -EACCES, // drm_master_check_perm(): never master
      masterDropMaster: 0,
      masterSetMaster: 0,
      dropAgain: 0,
      setMasterBusy: -EBUSY,
      formerDropMaster: -EINVAL,
      setMasterAfterClose: 0,
    });
  });

  it("DROP_MASTER keeps the file's is_master; SET_MASTER again takes drm_set_master() with the same master (v6.18 drm_auth.c)", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      const dev = m.devs[0]!;
      await runProcess(m, "igt", async (p) => {
        const card = await p.open("/dev/dri/card0", O_RDWR);
        const priv = drmFileOf(p, card);
        const master = priv.master;
        got.drop = await p.ioctl(card, DRM_IOCTL_DROP_MASTER);
        // drm_drop_master() is drm_master_put(&dev->master) and the driver's hook: no
        // `fpriv->is_master = 0` anywhere in drm_auth.c
        got.afterDrop = { isMaster: priv.isMaster, wasMaster: priv.wasMaster, dev: dev.master };
        got.set = await p.ioctl(card, DRM_IOCTL_SET_MASTER);
        got.afterSet = {
          isMaster: priv.isMaster,
          sameMaster: priv.master === master,
          devMaster: dev.master === master,
        };
        await p.close(card);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      drop: 0,
      afterDrop: { isMaster: true, wasMaster: true, dev: null },
      set: 0,
      afterSet: { isMaster: true, sameMaster: true, devMaster: true },
    });
  });

  it("VERSION and GET_CAP", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/renderD128", O_RDWR);
        const v: Partial<DrmVersion> = { name_len: 3, date_len: 16, desc_len: 64 };
        got.version = await p.ioctl(fd, DRM_IOCTL_VERSION, v);
        got.versionOut = {
          major: v.version_major,
          minor: v.version_minor,
          patchlevel: v.version_patchlevel,
          name: v.name,
          name_len: v.name_len,
          date: v.date,
          desc: v.desc,
        };
        const caps = { prime: DRM_CAP_PRIME, syncobj: DRM_CAP_SYNCOBJ, dumb: DRM_CAP_DUMB_BUFFER };
        for (const [what, capability] of Object.entries({ ...caps, unknown: 0x999 })) {
          const cap = { capability, value: 42 };
          got[what] = { ret: await p.ioctl(fd, DRM_IOCTL_GET_CAP, cap), value: cap.value };
        }
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      version: 0,
      // name truncated to name_len, which is set to the full length
      versionOut: {
        major: 1,
        minor: 2,
        patchlevel: 3,
        name: "tin",
        name_len: 5,
        date: "0",
        desc: "tiny test driver",
      },
      prime: { ret: 0, value: DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT },
      syncobj: { ret: 0, value: 0 },
      // Only KMS drivers answer the other caps; drm_getcap() zeroed the value before failing
      // and drm_ioctl() copies out on error too.
      dumb: { ret: -EOPNOTSUPP, value: 0 },
      unknown: { ret: -EOPNOTSUPP, value: 0 },
    });
  });

  it("SET_VERSION: 1.4/-1/-1 is 0, and 1.1 again is 0; a bad version is EINVAL; the versions are copied out either way", async () => {
    const out: unknown[] = [];
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR); // the first opener: master
        const sv = { drm_di_major: 1, drm_di_minor: 4, drm_dd_major: -1, drm_dd_minor: -1 };
        out.push(await p.ioctl(fd, DRM_IOCTL_SET_VERSION, sv), { ...sv });
        const bad = { drm_di_major: 2, drm_di_minor: 0, drm_dd_major: -1, drm_dd_minor: -1 };
        out.push(await p.ioctl(fd, DRM_IOCTL_SET_VERSION, bad), { ...bad });
        // 1.1+ sets the master's bus id again each time (drm_set_busid() frees the old one).
        const again = { drm_di_major: 1, drm_di_minor: 1, drm_dd_major: -1, drm_dd_minor: -1 };
        out.push(await p.ioctl(fd, DRM_IOCTL_SET_VERSION, again));
        // 1.0 sets no bus id; a driver version above the driver's is EINVAL.
        const dd = { drm_di_major: 1, drm_di_minor: 0, drm_dd_major: 1, drm_dd_minor: 99 };
        out.push(await p.ioctl(fd, DRM_IOCTL_SET_VERSION, dd));
        // Not the master: EACCES.
        const other = await p.open("/dev/dri/card0", O_RDWR);
        out.push(await p.ioctl(other, DRM_IOCTL_SET_VERSION, { ...sv }));
        await p.close(other);
        await p.close(fd);
      });
    });
    expectClean(r);
    const filled = { drm_di_major: 1, drm_di_minor: 4, drm_dd_major: 1, drm_dd_minor: 2 };
    expect(out).toEqual([0, filled, -EINVAL, filled, 0, -EINVAL, -EACCES]);
  });

  it("an unplugged device answers ENODEV; its node is gone", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        await drmDevUnregister(m.devs[0]!, true);
        got.ioctlAfterUnplug = await p.ioctl(fd, DRM_IOCTL_GET_CAP, { capability: DRM_CAP_PRIME });
        got.openAfterUnplug = await p.open("/dev/dri/card0", O_RDWR);
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({ ioctlAfterUnplug: -ENODEV, openAfterUnplug: -ENOENT });
  });
});

describe("drm_getcap() on a KMS driver (v6.18)", () => {
  it("answers every KMS cap of v6.18 (mode_config fields at their defaults, no CRTCs); -EINVAL for an unknown one", async () => {
    const got: Record<string, { ret: number; value: number }> = {};
    const kms = {
      ...tinyDriver("kmscap"),
      driverFeatures: DRIVER_GEM | DRIVER_MODESET | DRIVER_RENDER,
    };
    const caps = {
      dumb: DRM_CAP_DUMB_BUFFER,
      vblankHighCrtc: DRM_CAP_VBLANK_HIGH_CRTC,
      preferredDepth: DRM_CAP_DUMB_PREFERRED_DEPTH,
      preferShadow: DRM_CAP_DUMB_PREFER_SHADOW,
      asyncPageFlip: DRM_CAP_ASYNC_PAGE_FLIP,
      pageFlipTarget: DRM_CAP_PAGE_FLIP_TARGET,
      cursorWidth: DRM_CAP_CURSOR_WIDTH,
      cursorHeight: DRM_CAP_CURSOR_HEIGHT,
      modifiers: DRM_CAP_ADDFB2_MODIFIERS,
      crtcInVblankEvent: DRM_CAP_CRTC_IN_VBLANK_EVENT,
      atomicAsyncPageFlip: DRM_CAP_ATOMIC_ASYNC_PAGE_FLIP,
      unknown: 0x999,
    };
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, kms, async (dev) => {
        await runProcess(m, "igt", async (p) => {
          const fd = await p.open("/dev/dri/card1", O_RDWR);
          for (const [what, capability] of Object.entries(caps)) {
            const cap = { capability, value: 42 };
            got[what] = { ret: await p.ioctl(fd, DRM_IOCTL_GET_CAP, cap), value: cap.value };
          }
          dev.modeConfig.fbModifiersNotSupported = true;
          const cap = { capability: DRM_CAP_ADDFB2_MODIFIERS, value: 42 };
          got.noModifiers = { ret: await p.ioctl(fd, DRM_IOCTL_GET_CAP, cap), value: cap.value };
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({
      dumb: { ret: 0, value: 1 },
      vblankHighCrtc: { ret: 0, value: 1 },
      preferredDepth: { ret: 0, value: 0 },
      preferShadow: { ret: 0, value: 0 },
      asyncPageFlip: { ret: 0, value: 0 },
      pageFlipTarget: { ret: 0, value: 1 },
      cursorWidth: { ret: 0, value: 64 },
      cursorHeight: { ret: 0, value: 64 },
      modifiers: { ret: 0, value: 1 },
      crtcInVblankEvent: { ret: 0, value: 1 },
      atomicAsyncPageFlip: { ret: 0, value: 0 },
      unknown: { ret: -EINVAL, value: 0 },
      noModifiers: { ret: 0, value: 0 },
    });
  });
});

describe("drm_release()", () => {
  it("the last close runs no driver hook: struct drm_driver has no ->lastclose in v6.18", async () => {
    let lastcloseCalls = 0;
    let postcloseCalls = 0;
    const base = tinyDriver("lastclose");
    const driver = {
      ...base,
      postclose: async (dev, file) => {
        postcloseCalls++;
        await base.postclose!(dev, file);
      },
      // a hook drivers had up to v6.11 (drm_fb_helper_lastclose()); nothing calls it now
      lastclose: async () => {
        lastcloseCalls++;
      },
    } as DrmDriver;
    const r = await runMachine(async (m) => {
      await withExtraDevice(m, driver, async () => {
        await runProcess(m, "igt", async (p) => {
          const a = await p.open("/dev/dri/card1", O_RDWR);
          const b = await p.open("/dev/dri/renderD129", O_RDWR);
          await p.close(a);
          await p.close(b);
        });
      });
    });
    expectClean(r);
    expect({ postcloseCalls, lastcloseCalls }).toEqual({ postcloseCalls: 2, lastcloseCalls: 0 });
  });
});

describe("a file whose drm_open() has not run", () => {
  it("oopses in drm_ioctl() (NULL private_data: BUG, the thread dies), never a JS exception", async () => {
    // Only a broken fd lookup reaches such a file (fd_install() comes after ->open): a file of
    // the filp slab picked up while another process's open() is still setting it up.
    let thrown: unknown;
    const r = await runMachine(async (m) => {
      const inode = m.kernel.chrdevs.lookup("/dev/dri/card0");
      const f = await allocEmptyFile(O_RDWR, inode?.iFop ?? {});
      if (isErr(f)) throw new Error(`allocEmptyFile: ${f}`);
      try {
        await drmIoctl(f, DRM_IOCTL_VERSION, {});
      } catch (e) {
        thrown = e;
      }
      await fput(f);
    });
    expect(thrown).toBeInstanceOf(KernelBug);
    expect(r.splats.map((s) => [s.kind, s.message])).toEqual([
      ["bug", "BUG: kernel NULL pointer dereference in drm_ioctl(): file->private_data is NULL"],
    ]);
  });
});

describe("dumb buffers and mmap", () => {
  it("validates CREATE_DUMB and clears the outputs on error", async () => {
    const invalid: unknown[] = [];
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        for (const a of [
          { width: 0, height: 1, bpp: 32 },
          { width: 1, height: 0, bpp: 32 },
          { width: 1, height: 1, bpp: 0 },
          { width: 1, height: 1, bpp: 0xffff_fff8 },
          { width: 0x4000_0000, height: 1, bpp: 64 },
          { width: 0x1_0000, height: 0x1_0000, bpp: 32 },
          { width: 0xffff_f001, height: 1, bpp: 8 },
        ]) {
          const { ret, arg } = await createDumb(p, fd, { ...a, handle: 7, pitch: 7, size: 7 });
          invalid.push({ ret, handle: arg.handle, pitch: arg.pitch, size: arg.size });
        }
        const { ret, arg } = await createDumb(p, fd, { width: 640, height: 480, bpp: 32 });
        got.create = { ret, handle: arg.handle, pitch: arg.pitch, size: arg.size };
        const map: Partial<DrmModeMapDumb> = { handle: 9, offset: 5 };
        got.mapUnknown = await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, map);
        got.mapUnknownOffset = map.offset;
        got.destroyUnknown = await p.ioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: 9 });
        got.destroy = await p.ioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: arg.handle });
        got.objects = drmDevCounters(m.devs[0]!).objects;
        await p.close(fd);
      });
    });
    expectClean(r);
    // drm_ioctl() copies the struct back whatever the handler returned: userspace sees the
    // outputs cleared on error (and MAP_DUMB's offset 0).
    expect(invalid).toEqual(Array(7).fill({ ret: -EINVAL, handle: 0, pitch: 0, size: 0 }));
    expect(got).toEqual({
      create: { ret: 0, handle: 1, pitch: 2560, size: 1228800 },
      mapUnknown: -ENOENT,
      mapUnknownOffset: 0,
      destroyUnknown: -EINVAL,
      destroy: 0,
      objects: 0,
    });
  });

  it("mmap: shared pages, offsets per object, EACCES without a handle, the VMA holds the object", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      const dev = m.devs[0]!;
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        const other = await p.open("/dev/dri/card0", O_RDWR);
        const a = await createDumb(p, fd, { width: 1024, height: 2, bpp: 32 });
        const b = await createDumb(p, fd, { width: 1024, height: 1, bpp: 32 });
        const ma: Partial<DrmModeMapDumb> = { handle: a.arg.handle };
        const mb: Partial<DrmModeMapDumb> = { handle: b.arg.handle };
        await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, ma);
        await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, mb);
        const offA = ma.offset as number;
        const offB = mb.offset as number;
        got.offsetAbove4G = offA >= 2 ** 32;
        got.offsetStride = offB - offA;
        const va1 = await p.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offA);
        const va2 = await p.mmap(0, 8192, PROT_READ, MAP_SHARED, fd, offA);
        await p.writeMemory(va1 + 4096 + 10, new Uint8Array([42]));
        got.sharedByte = ((await p.readMemory(va2 + 4096 + 10, 1)) as Uint8Array)[0];
        // drm_gem_mmap() looks offsets up exactly: the middle of an object is no object
        got.mmapMiddle = await p.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, offA + 4096);
        // too large, unknown offset, no handle in this file
        got.mmapTooLarge = await p.mmap(0, 3 * 4096, PROT_READ, MAP_SHARED, fd, offA);
        got.mmapUnknown = await p.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, offB + 4096 * 100);
        got.mmapNoHandle = await p.mmap(0, 4096, PROT_READ, MAP_SHARED, other, offB);
        // the mappings keep object a alive after its handle is gone
        got.closeA = await p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: a.arg.handle });
        got.objectsMapped = drmDevCounters(dev).objects;
        got.byteAfterClose = ((await p.readMemory(va1 + 4096 + 10, 1)) as Uint8Array)[0];
        await p.munmap(va1, 8192);
        got.objectsOneMapping = drmDevCounters(dev).objects;
        await p.munmap(va2, 8192);
        got.objectsUnmapped = drmDevCounters(dev).objects;
        // a stale offset does not find the freed object
        got.mmapStale = await p.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, offA);
        await p.close(fd);
        await p.close(other);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      offsetAbove4G: true,
      offsetStride: 8192,
      sharedByte: 42,
      mmapMiddle: -EINVAL,
      mmapTooLarge: -EINVAL,
      mmapUnknown: -EINVAL,
      mmapNoHandle: -EACCES,
      closeA: 0,
      objectsMapped: 2,
      byteAfterClose: 42,
      objectsOneMapping: 2,
      objectsUnmapped: 1,
      mmapStale: -EINVAL,
    });
  });

  it("dumb ioctls are ENOSYS without ->dumb_create", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      const noDumb = { ...tinyDriver("nodumb"), dumbCreate: undefined };
      await withExtraDevice(m, noDumb, async () => {
        await runProcess(m, "igt", async (p) => {
          const fd = await p.open("/dev/dri/card1", O_RDWR);
          got.create = (await createDumb(p, fd, { width: 1, height: 1, bpp: 8 })).ret;
          got.map = await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, { handle: 1 });
          got.destroy = await p.ioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: 1 });
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(got).toEqual({ create: -ENOSYS, map: -ENOSYS, destroy: -ENOSYS });
  });
});
