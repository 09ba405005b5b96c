import { EACCES, EINVAL, ENOENT, ENOSPC, O_RDWR, type Process } from "@primetime/kernel";
import { baselineFixes, listKnownWindows, listToggles } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { drmDevCounters } from "./drm-device.js";
import {
  createBo,
  DRM_IOCTL_TINY_CREATE,
  expectClean,
  fdToHandle,
  flink,
  gemClose,
  gemOpen,
  handleToFd,
  runMachine,
  runProcess,
  splatText,
  type TinyCreate,
} from "./test-support.js";
import {
  GEM_CHANGE_HANDLE_LOOKUP_BEFORE_LOCK,
  GEM_CHANGE_HANDLE_LOOKUP_LEAK,
  GEM_CHANGE_HANDLE_NEW_HANDLE_LEFT_NULL,
  GEM_CHANGE_HANDLE_NEW_HANDLE_ZERO,
  GEM_CHANGE_HANDLE_OLD_HANDLE_LIVE,
  GEM_CHANGE_HANDLE_TWO_LIVE_HANDLES,
} from "./toggles.js";
import {
  DRM_IOCTL_AUTH_MAGIC,
  DRM_IOCTL_GEM_CHANGE_HANDLE,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_MAGIC,
  type DrmAuth,
  type DrmGemChangeHandle,
  type DrmGemOpen,
} from "./uapi.js";

const BAD = 0x10101010;

/** The toggles that bring back each earlier GEM_CHANGE_HANDLE body, oldest first. */
const CHANGE_HANDLE_BODIES = [
  GEM_CHANGE_HANDLE_LOOKUP_LEAK.name,
  GEM_CHANGE_HANDLE_TWO_LIVE_HANDLES.name,
  GEM_CHANGE_HANDLE_NEW_HANDLE_LEFT_NULL.name,
  GEM_CHANGE_HANDLE_OLD_HANDLE_LIVE.name,
  GEM_CHANGE_HANDLE_LOOKUP_BEFORE_LOCK.name,
];

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

describe("GEM_CHANGE_HANDLE (v6.18 with its fixes up to 1a4f03d22fb6)", () => {
  const change = async (p: Process, fd: number, handle: number, newHandle: number) => {
    const arg: DrmGemChangeHandle = { handle, new_handle: newHandle };
    return p.ioctl(fd, DRM_IOCTL_GEM_CHANGE_HANDLE, arg);
  };

  it("moves the handle and its PRIME entry; errno for bad input, which changes nothing", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        const h = await createBo(p, fd);
        const other = await createBo(p, fd);
        const name = await flink(p, fd, h);
        const primeFd = await handleToFd(p, fd, h);
        got.same = await change(p, fd, h, h);
        got.taken = await change(p, fd, h, other);
        got.unknown = await change(p, fd, 77, 78);
        got.tooBig = await change(p, fd, h, 0x8000_0000);
        got.unknownNoReservation = await gemClose(p, fd, 78);
        got.counters = drmDevCounters(m.devs[0]!).handles;
        got.moved = await change(p, fd, h, 50);
        got.oldClose = await gemClose(p, fd, h);
        got.sameName = (await flink(p, fd, 50)) === name;
        got.reimport = await fdToHandle(p, fd, primeFd);
        got.primeEntries = drmDevCounters(m.devs[0]!).primeEntries;
        got.close = await gemClose(p, fd, 50);
        await gemClose(p, fd, other);
        await p.close(primeFd);
        await p.close(fd);
      });
      got.atEnd = drmDevCounters(m.devs[0]!);
    });
    expectClean(r);
    expect(got).toEqual({
      same: 0,
      taken: -ENOSPC,
      unknown: -ENOENT,
      tooBig: -EINVAL,
      unknownNoReservation: -EINVAL, // the reserved new id was freed again
      counters: 2,
      moved: 0,
      oldClose: -EINVAL,
      sameName: true,
      reimport: 50, // FD_TO_HANDLE of its dma-buf returns the new handle
      primeEntries: 1,
      close: 0,
      atEnd: expect.objectContaining({ objects: 0, handles: 0, dmaBufs: 0, primeEntries: 0 }),
    });
  });

  const ZERO_FIX = GEM_CHANGE_HANDLE_NEW_HANDLE_ZERO.name;

  it("new_handle 0 is a known upstream defect whose fix switch is on in clean baselines", () => {
    expect(listKnownWindows().map((w) => w.name)).toContain(ZERO_FIX);
    expect(baselineFixes()).toContain(ZERO_FIX);
    expect(listToggles().map((t) => t.name)).not.toContain(ZERO_FIX);
  });

  // One GEM_CHANGE_HANDLE {h, 0} on a buffer with a PRIME export, then what userspace can see.
  const moveToZero = async (toggles: string[]) => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(
      async (m) => {
        await runProcess(m, "igt", async (p) => {
          const fd = await p.open("/dev/dri/card0", O_RDWR);
          const h = await createBo(p, fd);
          const primeFd = await handleToFd(p, fd, h);
          got.zeroToZero = await change(p, fd, 0, 0); // the same-handle check comes first
          const before = drmDevCounters(m.devs[0]!);
          got.ret = await change(p, fd, h, 0);
          const after = drmDevCounters(m.devs[0]!);
          got.unchanged =
            after.handles === before.handles && after.primeEntries === before.primeEntries;
          got.reimport = await fdToHandle(p, fd, primeFd);
          got.otherIdClose = await gemClose(p, fd, h + 1); // the id idr_alloc(0, 1) hands out
          got.oldClose = await gemClose(p, fd, h);
          await p.close(primeFd);
          await p.close(fd);
        });
      },
      { toggles },
    );
    return { got, r };
  };

  it("new_handle 0 with the fix switch: -EINVAL before any allocation, nothing changes", async () => {
    for (const body of [[], ...CHANGE_HANDLE_BODIES.map((t) => [t])]) {
      const { got, r } = await moveToZero([ZERO_FIX, ...body]);
      if (body.length === 0) {
        expectClean(r);
        expect(got.zeroToZero).toBe(0); // the earlier bodies look handle 0 up first: -ENOENT
      }
      expect(got, body.join()).toMatchObject({
        ret: -EINVAL,
        unchanged: true,
        reimport: 1, // the PRIME cache still names handle 1
        otherIdClose: -EINVAL, // no id was reserved
        oldClose: 0,
      });
    }
  });

  it("new_handle 0, switch off, current body: idr_alloc() hands out another id and the final idr_replace() WARNs", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "igt", async (p) => {
        const fd = await p.open("/dev/dri/card0", O_RDWR);
        const h = await createBo(p, fd);
        got.ret = await change(p, fd, h, 0);
        got.oldClose = await gemClose(p, fd, h);
        got.handles = drmDevCounters(m.devs[0]!).handles;
        await p.close(fd);
      });
    });
    // idr_alloc(idr, NULL, 0, 1) on the handle idr (based at 1) wraps `max - base` and reserves
    // the lowest free id; the code goes on with new_handle 0: the old handle is gone, the object
    // never reaches the reserved id, and idr_replace(obj, 0) returns ERR_PTR(-ENOENT).
    expect(got).toEqual({ ret: 0, oldClose: -EINVAL, handles: 1 });
    expect(splatText(r)).toContain("drm_gem_change_handle_ioctl: handle 0 was not reserved");
    expect(r.splats.some((s) => s.kind === "kmemleak")).toBe(true);
  });

  it("new_handle 0, switch off, released bodies: a silent move with a PRIME entry for 0, or a UAF", async () => {
    // v6.18 with 630efee9493c: the object moves to id 2, its PRIME entry is filed under 0.
    const early = await moveToZero([GEM_CHANGE_HANDLE_TWO_LIVE_HANDLES.name]);
    expect(early.got).toMatchObject({ ret: 0, reimport: 0, otherIdClose: 0, oldClose: -EINVAL });
    expect(splatText(early.r)).toContain("drm_prime_destroy_file_private: dmabufs tree not empty");
    // From 5e28b7b94408: -ENOENT, the object left at id 2 without a handle count of its own.
    const late = await moveToZero([GEM_CHANGE_HANDLE_OLD_HANDLE_LIVE.name]);
    expect(late.got).toMatchObject({ ret: -ENOENT, otherIdClose: 0, oldClose: 0 });
    expect(splatText(late.r)).toMatch(/handle_count already 0|KASAN/);
  });
});
