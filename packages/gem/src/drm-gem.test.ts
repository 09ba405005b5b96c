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
    const got: Record<string, number> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        got.first = await createBo(p, fd);
        got.second = await createBo(p, fd);
        got.close = await gemClose(p, fd, 1);
        got.closeAgain = await gemClose(p, fd, 1);
        got.closeUnknown = await gemClose(p, fd, BAD);
        got.reused = await createBo(p, fd);
        got.closeZero = await gemClose(p, fd, 0);
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      first: 1,
      second: 2,
      close: 0,
      closeAgain: -EINVAL, // already closed
      closeUnknown: -EINVAL,
      reused: 1, // the freed id is handed out again
      closeZero: -EINVAL,
    });
  });

  it("flink: bad handle ENOENT, same name twice, bad name ENOENT, open gives size", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        const h = await createBo(p, fd);
        got.flinkUnknown = await flink(p, fd, BAD);
        got.name = await flink(p, fd, h);
        got.nameAgain = await flink(p, fd, h);
        got.openUnknown = await gemOpen(p, fd, BAD);
        const o: Partial<DrmGemOpen> = { name: got.name as number };
        await p.ioctl(fd, DRM_IOCTL_GEM_OPEN, o);
        got.opened = { handle: o.handle, size: o.size };
        got.names = drmDevCounters(m.devs[0]!).names;
        await p.close(fd);
      });
      got.atEnd = drmDevCounters(m.devs[0]!);
    });
    expectClean(r);
    expect(got).toMatchObject({
      flinkUnknown: -ENOENT,
      name: 1,
      nameAgain: 1,
      openUnknown: -ENOENT,
      opened: { handle: 2, size: 4096 },
      names: 1,
      atEnd: { objects: 0, handles: 0, names: 0, files: 0 },
    });
  });

  it("flink-lifetime: the name lives while another file holds a handle", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd1 = await p.open("/dev/dri/card0", O_RDWR);
        const fd2 = await p.open("/dev/dri/card0", O_RDWR);
        // fd2 is not the master: authenticate it.
        const auth: Partial<DrmAuth> = {};
        got.getMagic = await p.ioctl(fd2, DRM_IOCTL_GET_MAGIC, auth);
        got.authMagic = await p.ioctl(fd1, DRM_IOCTL_AUTH_MAGIC, { magic: auth.magic });
        const name = await flink(p, fd1, await createBo(p, fd1));
        const h2 = await gemOpen(p, fd2, name);
        await p.close(fd1);
        got.sameNameAfterExporterClosed = (await flink(p, fd2, h2)) === name;
        const fd3 = await p.open("/dev/dri/card0", O_RDWR); // the new master
        got.openOnThird = await gemOpen(p, fd3, name);
        got.closeOnThird = await gemClose(p, fd3, 1);
        got.closeLastHandle = await gemClose(p, fd2, h2);
        got.openAfterLastHandle = await gemOpen(p, fd3, name); // the name went with it
        await p.close(fd2);
        await p.close(fd3);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      getMagic: 0,
      authMagic: 0,
      sameNameAfterExporterClosed: true,
      openOnThird: 1,
      closeOnThird: 0,
      closeLastHandle: 0,
      openAfterLastHandle: -ENOENT,
    });
  });

  it("FLINK and OPEN are DRM_AUTH: EACCES unauthenticated and on render nodes", async () => {
    const got: Record<string, number> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const master = await p.open("/dev/dri/card0", O_RDWR);
        const client = await p.open("/dev/dri/card0", O_RDWR);
        const render = await p.open("/dev/dri/renderD128", O_RDWR);
        const name = await flink(p, master, await createBo(p, master));
        // unauthenticated primary client
        const h = await createBo(p, client);
        got.clientCreate = h;
        got.clientFlink = await flink(p, client, h);
        got.clientOpen = await gemOpen(p, client, name);
        // a non-master cannot authenticate anybody
        const a: Partial<DrmAuth> = {};
        got.clientGetMagic = await p.ioctl(client, DRM_IOCTL_GET_MAGIC, a);
        const magic = a.magic as number;
        got.magicIsSet = magic > 0 ? 1 : 0;
        got.clientAuth = await p.ioctl(client, DRM_IOCTL_AUTH_MAGIC, { magic });
        got.masterAuthWrongMagic = await p.ioctl(master, DRM_IOCTL_AUTH_MAGIC, {
          magic: magic + 100,
        });
        got.masterAuth = await p.ioctl(master, DRM_IOCTL_AUTH_MAGIC, { magic });
        got.clientFlinkAuthenticated = await flink(p, client, h); // a second name
        got.masterAuthAgain = await p.ioctl(master, DRM_IOCTL_AUTH_MAGIC, { magic }); // used up
        // render node: no dumb buffers, FLINK, OPEN, GET_MAGIC; driver CREATE and CLOSE work
        got.renderCreateDumb = await createBo(p, render);
        const create: Partial<TinyCreate> = { size: 4096 };
        got.renderDriverCreate = await p.ioctl(render, DRM_IOCTL_TINY_CREATE, create);
        const rh = create.handle as number;
        got.renderHandle = rh;
        got.renderFlink = await flink(p, render, rh);
        got.renderOpen = await gemOpen(p, render, name);
        got.renderGetMagic = await p.ioctl(render, DRM_IOCTL_GET_MAGIC, {});
        got.renderClose = await gemClose(p, render, rh);
        for (const fd of [master, client, render]) await p.close(fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      clientCreate: 1,
      clientFlink: -EACCES,
      clientOpen: -EACCES,
      clientGetMagic: 0,
      magicIsSet: 1,
      clientAuth: -EACCES,
      masterAuthWrongMagic: -EINVAL,
      masterAuth: 0,
      clientFlinkAuthenticated: 2,
      masterAuthAgain: -EINVAL,
      renderCreateDumb: -EACCES,
      renderDriverCreate: 0,
      renderHandle: 1,
      renderFlink: -EACCES,
      renderOpen: -EACCES,
      renderGetMagic: -EACCES,
      renderClose: 0,
    });
  });

  it("closing the fd releases every handle and name; counters return to 0", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      const dev = m.devs[0]!;
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        for (let i = 0; i < 5; i++) await flink(p, fd, await createBo(p, fd));
        got.openName3 = await gemOpen(p, fd, 3);
        got.beforeExit = drmDevCounters(dev);
        // exit without closing anything: the process exit closes the fd
      });
      got.afterExit = drmDevCounters(dev);
    });
    expectClean(r);
    expect(got).toMatchObject({
      openName3: 6,
      beforeExit: { objects: 5, handles: 6, names: 5, files: 1 },
      afterExit: { objects: 0, handles: 0, names: 0, files: 0, dmaBufs: 0 },
    });
  });
});
