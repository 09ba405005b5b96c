import {
  _IOC_SIZE,
  _IOWR,
  EACCES,
  EBUSY,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOENT,
  ENOSYS,
  ENOTTY,
  EOPNOTSUPP,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import { drmDevCounters, drmDevUnregister } from "./drm-device.js";
import {
  DRM_IOCTL_TINY_CREATE,
  DRM_IOCTL_TINY_CREATE_AUTH,
  DRM_IOCTL_TINY_INVALID,
  expectClean,
  runMachine,
  runProcess,
  tinyDriver,
  withExtraDevice,
} from "./test-support.js";
import {
  DRM_CAP_DUMB_BUFFER,
  DRM_CAP_PRIME,
  DRM_CAP_SYNCOBJ,
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
    const out: unknown[] = [];
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const card = await p.open("/dev/dri/card0", O_RDWR);
        const client = await p.open("/dev/dri/card0", O_RDWR);
        const render = await p.open("/dev/dri/renderD128", O_RDWR);
        out.push(await p.ioctl(card, _IOWR("x", 0, 8), {})); // not a DRM command
        out.push(await p.ioctl(card, DRM_IO(0x30), {})); // core number without entry
        out.push(await p.ioctl(card, DRM_IO(0xf0), {})); // past the core table
        out.push(await p.ioctl(card, DRM_IOCTL_TINY_INVALID, { size: 4096 })); // NULL func
        out.push(await p.ioctl(card, DRM_IOWR(DRM_COMMAND_BASE + 9, []), {})); // past the driver table
        const c = { size: 4096, handle: 0 };
        out.push(await p.ioctl(render, DRM_IOCTL_TINY_CREATE, c), c.handle);
        out.push(await p.ioctl(render, DRM_IOCTL_TINY_CREATE_AUTH, { size: 4096 }));
        out.push(await p.ioctl(client, DRM_IOCTL_TINY_CREATE_AUTH, { size: 4096 }));
        out.push(await p.ioctl(card, DRM_IOCTL_TINY_CREATE_AUTH, { size: 4096 }));
        // a field that is not an integer faults; a missing one reads 0
        out.push(await p.ioctl(card, DRM_IOCTL_GEM_CLOSE, { handle: "1" }));
        out.push(await p.ioctl(card, DRM_IOCTL_GEM_CLOSE, {}));
        out.push(await p.ioctl(card, DRM_IOCTL_GEM_CLOSE, 5));
        // an old userspace's shorter struct: only its bytes are copied in
        const short = DRM_IOWR(0xb2, DRM_MODE_CREATE_DUMB_LAYOUT.slice(0, -1)); // without `size`
        const s: Record<string, number> = { height: 1, width: 1024, bpp: 32, size: 77 };
        out.push(await p.ioctl(card, short, s), s.handle, s.pitch, s.size);
        // master ioctls
        out.push(await p.ioctl(client, DRM_IOCTL_SET_MASTER));
        out.push(await p.ioctl(client, DRM_IOCTL_DROP_MASTER));
        out.push(await p.ioctl(card, DRM_IOCTL_DROP_MASTER));
        out.push(await p.ioctl(card, DRM_IOCTL_SET_MASTER));
        for (const fd of [card, client, render]) await p.close(fd);
      });
    });
    expectClean(r);
    expect(out).toEqual([
      -ENOTTY,
      -EINVAL,
      -EINVAL,
      -EINVAL,
      -EINVAL,
      0,
      1,
      -EACCES,
      -EACCES,
      0,
      -EFAULT,
      -EINVAL,
      -EFAULT,
      0,
      2,
      4096,
      77,
      -EACCES,
      -EINVAL,
      0,
      0,
    ]);
  });

  it("VERSION and GET_CAP", async () => {
    const out: unknown[] = [];
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/renderD128", O_RDWR);
        const v: Partial<DrmVersion> = { name_len: 3, date_len: 16, desc_len: 64 };
        out.push(await p.ioctl(fd, DRM_IOCTL_VERSION, v));
        out.push(v.version_major, v.version_minor, v.version_patchlevel);
        out.push(v.name, v.name_len, v.date, v.desc);
        for (const capability of [DRM_CAP_PRIME, DRM_CAP_SYNCOBJ, DRM_CAP_DUMB_BUFFER, 0x999]) {
          const cap = { capability, value: 42 };
          out.push(await p.ioctl(fd, DRM_IOCTL_GET_CAP, cap), cap.value);
        }
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(out).toEqual([
      0,
      1,
      2,
      3,
      "tin",
      5,
      "0",
      "tiny test driver",
      0,
      DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT,
      0,
      0,
      -EOPNOTSUPP,
      0, // drm_getcap() zeroed it before failing, and drm_ioctl() copies out on error too
      -EOPNOTSUPP,
      0,
    ]);
  });

  it("SET_VERSION: 1.4/-1/-1 is 0; a bad version is EINVAL; the versions are copied out either way", async () => {
    const out: unknown[] = [];
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR); // the first opener: master
        const sv = { drm_di_major: 1, drm_di_minor: 4, drm_dd_major: -1, drm_dd_minor: -1 };
        out.push(await p.ioctl(fd, DRM_IOCTL_SET_VERSION, sv), { ...sv });
        const bad = { drm_di_major: 2, drm_di_minor: 0, drm_dd_major: -1, drm_dd_minor: -1 };
        out.push(await p.ioctl(fd, DRM_IOCTL_SET_VERSION, bad), { ...bad });
        // 1.1+ ties the master to its bus id once: the second time is EBUSY.
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
    expect(out).toEqual([0, filled, -EINVAL, filled, -EBUSY, -EINVAL, -EACCES]);
  });

  it("an unplugged device answers ENODEV; its node is gone", async () => {
    const out: unknown[] = [];
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        await drmDevUnregister(m.devs[0]!, true);
        out.push(await p.ioctl(fd, DRM_IOCTL_GET_CAP, { capability: DRM_CAP_PRIME }));
        out.push(await p.open("/dev/dri/card0", O_RDWR));
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(out).toEqual([-ENODEV, -ENOENT]);
  });
});

describe("dumb buffers and mmap", () => {
  it("validates CREATE_DUMB and clears the outputs on error", async () => {
    const out: unknown[] = [];
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
          out.push([ret, arg.handle, arg.pitch, arg.size]);
        }
        const { ret, arg } = await createDumb(p, fd, { width: 640, height: 480, bpp: 32 });
        out.push([ret, arg.handle, arg.pitch, arg.size]);
        const map: Partial<DrmModeMapDumb> = { handle: 9, offset: 5 };
        out.push(await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, map), map.offset);
        out.push(await p.ioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: 9 }));
        out.push(await p.ioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: arg.handle }));
        out.push(drmDevCounters(m.devs[0]!).objects);
        await p.close(fd);
      });
    });
    expectClean(r);
    // drm_ioctl() copies the struct back whatever the handler returned: userspace sees the
    // outputs cleared on error (and MAP_DUMB's offset 0).
    const inval = [-EINVAL, 0, 0, 0];
    expect(out).toEqual([
      inval,
      inval,
      inval,
      inval,
      inval,
      inval,
      inval,
      [0, 1, 2560, 1228800],
      -ENOENT,
      0,
      -EINVAL,
      0,
      0,
    ]);
  });

  it("mmap: shared pages, offsets per object, EACCES without a handle, the VMA holds the object", async () => {
    const out: unknown[] = [];
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
        out.push(offA >= 2 ** 32, offB - offA);
        const va1 = await p.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offA);
        const va2 = await p.mmap(0, 8192, PROT_READ, MAP_SHARED, fd, offA);
        await p.writeMemory(va1 + 4096 + 10, new Uint8Array([42]));
        out.push(((await p.readMemory(va2 + 4096 + 10, 1)) as Uint8Array)[0]);
        // drm_gem_mmap() looks offsets up exactly: the middle of an object is no object
        out.push(await p.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, offA + 4096));
        // too large, unknown offset, no handle in this file
        out.push(await p.mmap(0, 3 * 4096, PROT_READ, MAP_SHARED, fd, offA));
        out.push(await p.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, offB + 4096 * 100));
        out.push(await p.mmap(0, 4096, PROT_READ, MAP_SHARED, other, offB));
        // the mappings keep object a alive after its handle is gone
        out.push(await p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: a.arg.handle }));
        out.push(drmDevCounters(dev).objects);
        out.push(((await p.readMemory(va1 + 4096 + 10, 1)) as Uint8Array)[0]);
        await p.munmap(va1, 8192);
        out.push(drmDevCounters(dev).objects);
        await p.munmap(va2, 8192);
        out.push(drmDevCounters(dev).objects);
        // a stale offset does not find the freed object
        out.push(await p.mmap(0, 4096, PROT_READ, MAP_SHARED, fd, offA));
        await p.close(fd);
        await p.close(other);
      });
    });
    expectClean(r);
    expect(out).toEqual([
      true,
      8192,
      42,
      -EINVAL,
      -EINVAL,
      -EINVAL,
      -EACCES,
      0,
      2,
      42,
      2,
      1,
      -EINVAL,
    ]);
  });

  it("dumb ioctls are ENOSYS without ->dumb_create", async () => {
    const out: unknown[] = [];
    const r = await runMachine(async (m) => {
      const noDumb = { ...tinyDriver("nodumb"), dumbCreate: undefined };
      await withExtraDevice(m, noDumb, async () => {
        await runProcess(m, "igt", async (p) => {
          const fd = await p.open("/dev/dri/card1", O_RDWR);
          out.push((await createDumb(p, fd, { width: 1, height: 1, bpp: 8 })).ret);
          out.push(await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, { handle: 1 }));
          out.push(await p.ioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: 1 }));
          await p.close(fd);
        });
      });
    });
    expectClean(r);
    expect(out).toEqual([-ENOSYS, -ENOSYS, -ENOSYS]);
  });
});
