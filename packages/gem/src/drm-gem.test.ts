import { EACCES, EINVAL, ENOENT, O_RDWR } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import { drmDevCounters } from "./drm-device.js";
import {
  createBo,
  DRM_IOCTL_TINY_CREATE,
  expectClean,
  flink,
  gemClose,
  gemOpen,
  runMachine,
  runProcess,
  type TinyCreate,
} from "./test-support.js";
import {
  DRM_IOCTL_AUTH_MAGIC,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_MAGIC,
  type DrmAuth,
  type DrmGemOpen,
} from "./uapi.js";

const BAD = 0x10101010;

describe("GEM handles and names (gem_flink_basic)", () => {
  it("hands out handles from 1 and closes them once", async () => {
    const seen: number[] = [];
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        seen.push(await createBo(p, fd), await createBo(p, fd));
        seen.push(await gemClose(p, fd, 1));
        seen.push(await gemClose(p, fd, 1)); // already closed
        seen.push(await gemClose(p, fd, BAD));
        seen.push(await createBo(p, fd)); // the freed id is reused
        seen.push(await gemClose(p, fd, 0));
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(seen).toEqual([1, 2, 0, -EINVAL, -EINVAL, 1, -EINVAL]);
  });

  it("flink: bad handle ENOENT, same name twice, bad name ENOENT, open gives size", async () => {
    const out: unknown[] = [];
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        const h = await createBo(p, fd);
        out.push(await flink(p, fd, BAD));
        const n1 = await flink(p, fd, h);
        const n2 = await flink(p, fd, h);
        out.push(n1, n2);
        out.push(await gemOpen(p, fd, BAD));
        const o: Partial<DrmGemOpen> = { name: n1 };
        await p.ioctl(fd, DRM_IOCTL_GEM_OPEN, o);
        out.push(o.handle, o.size);
        out.push(drmDevCounters(m.devs[0]!).names);
        await p.close(fd);
      });
      out.push(drmDevCounters(m.devs[0]!));
    });
    expectClean(r);
    expect(out.slice(0, 7)).toEqual([-ENOENT, 1, 1, -ENOENT, 2, 4096, 1]);
    expect(out[7]).toMatchObject({ objects: 0, handles: 0, names: 0, files: 0 });
  });

  it("flink-lifetime: the name lives while another file holds a handle", async () => {
    const out: unknown[] = [];
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd1 = await p.open("/dev/dri/card0", O_RDWR);
        const fd2 = await p.open("/dev/dri/card0", O_RDWR);
        // fd2 is not the master: authenticate it.
        const auth: Partial<DrmAuth> = {};
        out.push(await p.ioctl(fd2, DRM_IOCTL_GET_MAGIC, auth));
        out.push(await p.ioctl(fd1, DRM_IOCTL_AUTH_MAGIC, { magic: auth.magic }));
        const name = await flink(p, fd1, await createBo(p, fd1));
        const h2 = await gemOpen(p, fd2, name);
        await p.close(fd1);
        out.push((await flink(p, fd2, h2)) === name);
        const fd3 = await p.open("/dev/dri/card0", O_RDWR); // the new master
        out.push(await gemOpen(p, fd3, name));
        out.push(await gemClose(p, fd3, 1));
        out.push(await gemClose(p, fd2, h2));
        out.push(await gemOpen(p, fd3, name)); // the last handle took the name away
        await p.close(fd2);
        await p.close(fd3);
      });
    });
    expectClean(r);
    expect(out).toEqual([0, 0, true, 1, 0, 0, -ENOENT]);
  });

  it("FLINK and OPEN are DRM_AUTH: EACCES unauthenticated and on render nodes", async () => {
    const out: number[] = [];
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const master = await p.open("/dev/dri/card0", O_RDWR);
        const client = await p.open("/dev/dri/card0", O_RDWR);
        const render = await p.open("/dev/dri/renderD128", O_RDWR);
        const name = await flink(p, master, await createBo(p, master));
        // unauthenticated primary client
        const h = await createBo(p, client);
        out.push(h, await flink(p, client, h), await gemOpen(p, client, name));
        // a non-master cannot authenticate anybody
        const a: Partial<DrmAuth> = {};
        out.push(await p.ioctl(client, DRM_IOCTL_GET_MAGIC, a));
        const magic = a.magic as number;
        out.push(magic > 0 ? 1 : 0);
        out.push(await p.ioctl(client, DRM_IOCTL_AUTH_MAGIC, { magic }));
        out.push(await p.ioctl(master, DRM_IOCTL_AUTH_MAGIC, { magic: magic + 100 }));
        out.push(await p.ioctl(master, DRM_IOCTL_AUTH_MAGIC, { magic }));
        out.push(await flink(p, client, h)); // now allowed: a second name
        out.push(await p.ioctl(master, DRM_IOCTL_AUTH_MAGIC, { magic })); // token used up
        // render node: no dumb buffers, FLINK, OPEN, GET_MAGIC; driver CREATE and CLOSE work
        out.push(await createBo(p, render));
        const create: Partial<TinyCreate> = { size: 4096 };
        out.push(await p.ioctl(render, DRM_IOCTL_TINY_CREATE, create));
        const rh = create.handle as number;
        out.push(rh, await flink(p, render, rh), await gemOpen(p, render, name));
        out.push(await p.ioctl(render, DRM_IOCTL_GET_MAGIC, {}));
        out.push(await gemClose(p, render, rh));
        for (const fd of [master, client, render]) await p.close(fd);
      });
    });
    expectClean(r);
    expect(out).toEqual([
      1,
      -EACCES,
      -EACCES,
      0,
      1,
      -EACCES,
      -EINVAL,
      0,
      2,
      -EINVAL,
      -EACCES,
      0,
      1,
      -EACCES,
      -EACCES,
      -EACCES,
      0,
    ]);
  });

  it("closing the fd releases every handle and name; counters return to 0", async () => {
    const during: unknown[] = [];
    const r = await runMachine(async (m) => {
      const dev = m.devs[0]!;
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        for (let i = 0; i < 5; i++) await flink(p, fd, await createBo(p, fd));
        during.push(await gemOpen(p, fd, 3), drmDevCounters(dev));
        // exit without closing anything: the process exit closes the fd
      });
      during.push(drmDevCounters(dev));
    });
    expectClean(r);
    expect(during[0]).toBe(6);
    expect(during[1]).toMatchObject({ objects: 5, handles: 6, names: 5, files: 1 });
    expect(during[2]).toMatchObject({ objects: 0, handles: 0, names: 0, files: 0, dmaBufs: 0 });
  });
});
