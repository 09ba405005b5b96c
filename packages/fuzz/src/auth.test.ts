import type { DrmDevice } from "@primetime/gem";
import { EACCES, EBUSY, EINVAL, Kernel, O_RDWR } from "@primetime/kernel";
import { driverUnderTest as qxl } from "@primetime/qxl";
import { Simulation } from "@primetime/sim";
import { expectClean } from "@primetime/sim/testing";
import {
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GET_MAGIC,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_QXL_GETPARAM,
} from "@primetime/uapi";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { describe, expect, it } from "vitest";
import { AuthModel } from "./auth-model.js";
import { DisplayServer, GARBAGE_MAGICS, serverExpected } from "./display-server.js";
import { drmIoctlFits, FdTableModel } from "./fd-model.js";
import { ModelFile } from "./model.js";

const ENOTTY = 25;

describe("DRM authentication in the fuzzer (display-server.ts, auth-model.ts)", () => {
  it("the display server is the master and authenticates a client; a garbage magic is -EINVAL and changes nothing; not master, AUTH_MAGIC is -EACCES", async () => {
    const got: Record<string, number> = {};
    const sim = new Simulation({ seed: 1 });
    const run = await sim.run(async () => {
      const kernel = Kernel.boot();
      const reg = await vgem.register(kernel);
      const card = ((reg as { device?: DrmDevice }).device ?? (reg as DrmDevice)).primary!.path;
      let t = 0;
      const server = new DisplayServer([card], () => ++t);
      await server.start(kernel, (p) => p);
      const client = kernel.spawnProcess("client", async (p) => {
        const fd = await p.open(card, O_RDWR);
        const create = { width: 1024, height: 1, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
        got.create = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, create);
        const flink = () => p.ioctl(fd, DRM_IOCTL_GEM_FLINK, { handle: create.handle, name: 0 });
        got.flinkBefore = await flink();
        const auth = { magic: 0 };
        got.getMagic = await p.ioctl(fd, DRM_IOCTL_GET_MAGIC, auth);
        got.magic = auth.magic;
        for (const bad of GARBAGE_MAGICS) {
          const r = await server.request("auth", 0, bad);
          got[`garbage ${bad}`] = r.ret;
          expect(serverExpected(r)).toContain(r.ret);
        }
        got.flinkAfterGarbage = await flink();
        got.auth = (await server.request("auth", 0, auth.magic)).ret;
        got.authAgain = (await server.request("auth", 0, auth.magic)).ret; // used up
        got.flinkAfterAuth = await flink();
        // A VT switch: the server drops master; AUTH_MAGIC is then -EACCES, DROP_MASTER -EINVAL.
        got.drop = (await server.request("drop", 0)).ret;
        const notMaster = await server.request("auth", 0, 0);
        got.authNotMaster = notMaster.ret;
        expect(notMaster.master).toBe(false);
        got.dropAgain = (await server.request("drop", 0)).ret;
        got.set = (await server.request("set", 0)).ret;
        got.setAgain = (await server.request("set", 0)).ret;
        expect(server.devs[0]!.master).toBe(true);
        await p.close(fd);
      });
      await client.wait();
      await server.finish();
    });
    expectClean(run);
    expect(got).toEqual({
      create: 0,
      flinkBefore: -EACCES,
      getMagic: 0,
      magic: 1,
      "garbage 0": -EINVAL,
      "garbage 2147483647": -EINVAL,
      "garbage 4294967295": -EINVAL,
      flinkAfterGarbage: -EACCES,
      auth: 0,
      authAgain: -EINVAL,
      flinkAfterAuth: 0,
      drop: 0,
      authNotMaster: -EACCES,
      dropAgain: -EINVAL,
      set: 0,
      setAgain: 0,
    });
    // SET_MASTER while another file is master: -EBUSY is among what the model accepts.
    expect(
      serverExpected({
        kind: "set",
        dev: 0,
        magic: 0,
        ret: 0,
        start: 0,
        end: 0,
        master: false,
        noFd: false,
        done: null as never,
      }),
    ).toEqual([0, -EBUSY]);
  });

  it("the model's verdicts on a DRM_AUTH ioctl: -EACCES only while not surely authenticated, anything else only once it may be", () => {
    const table = new FdTableModel();
    const a = new AuthModel();
    // A primary file opened under the server's master (ticks 1-2), a render one, a primary one
    // opened while the server's mastership was unknown.
    const f = new ModelFile(1, 0, true);
    const render = new ModelFile(2, 0, false);
    const loose = new ModelFile(3, 0, true);
    a.opened(f, true);
    a.opened(render, true);
    a.opened(loose, false);
    table.installed(3, { kind: "drm", file: f }, 1, 2);
    // Its GET_MAGIC at 10-11, the server's AUTH_MAGIC of that magic gave 0 at 20.
    a.getMagic(table, 3, 10, 11);
    a.authenticated(f, 20);
    a.resolve();
    const judge = (file: ModelFile, result: number, start: number, ret: number) =>
      a.authFits(drmIoctlFits(result, -ENOTTY), result, -EACCES, start, ret)({ kind: "drm", file });
    // Before any GET_MAGIC reached it: surely unauthenticated.
    expect(judge(f, -EACCES, 3, 9)).toBe(true);
    expect(judge(f, 0, 3, 9)).toBe(false);
    expect(judge(f, -EINVAL, 3, 9)).toBe(false);
    // Between its GET_MAGIC and the server's reply: either.
    expect(judge(f, -EACCES, 12, 15)).toBe(true);
    expect(judge(f, 0, 12, 15)).toBe(true);
    // Once authenticated: never -EACCES again.
    expect(judge(f, -EACCES, 21, 25)).toBe(false);
    expect(judge(f, 0, 21, 25)).toBe(true);
    // A render client gets -EACCES from these ioctls (not DRM_RENDER_ALLOW), and nothing else.
    expect(judge(render, -EACCES, 3, 9)).toBe(true);
    expect(judge(render, 0, 3, 9)).toBe(false);
    // Opened while the server may not have been master: not judged.
    expect(judge(loose, 0, 3, 9)).toBe(true);
    expect(judge(loose, -EACCES, 30, 31)).toBe(true);
    // Not a DRM file: -ENOTTY, as for every DRM ioctl.
    expect(
      a.authFits(drmIoctlFits(-ENOTTY, -ENOTTY), -ENOTTY, -EACCES, 3, 9)({ kind: "epoll" }),
    ).toBe(true);
    // A driver ioctl is judged on that driver's devices only (another's table has no entry).
    const qxlOnly = a.authFits(drmIoctlFits(-EINVAL, -ENOTTY), -EINVAL, -EACCES, 3, 9, {
      devs: new Set([1]),
    });
    expect(qxlOnly({ kind: "drm", file: f })).toBe(true);
    // A file keeps its magic: a second GET_MAGIC giving another one is reported.
    expect(a.sawMagic(f, 4)).toBe(null);
    expect(a.sawMagic(f, 4)).toBe(null);
    expect(a.sawMagic(f, 5)).toBe(4);
  });

  it("a GET_MAGIC through an fd the model cannot name may have reached any file", () => {
    const table = new FdTableModel();
    const a = new AuthModel();
    const f = new ModelFile(1, 0, true);
    a.opened(f, true);
    table.installed(3, { kind: "drm", file: f }, 1, 2);
    table.unknown(5);
    a.getMagic(table, 4, 6, 7);
    a.resolve();
    expect(a.surelyUnauthenticated(f, 5)).toBe(true);
    expect(a.surelyUnauthenticated(f, 6)).toBe(false);
  });

  it("qxl's DRM_AUTH ioctls: -EACCES for a client the server did not authenticate, through to the driver once it did", async () => {
    const got: Record<string, number> = {};
    const run = await new Simulation({ seed: 1 }).run(async () => {
      const kernel = Kernel.boot();
      const reg = await qxl.register(kernel);
      const card = ((reg as { device?: DrmDevice }).device ?? (reg as DrmDevice)).primary!.path;
      let t = 0;
      const server = new DisplayServer([card], () => ++t);
      await server.start(kernel, (p) => p);
      const client = kernel.spawnProcess("client", async (p) => {
        const fd = await p.open(card, O_RDWR);
        const param = { param: 2, value: 0 };
        got.before = await p.ioctl(fd, DRM_IOCTL_QXL_GETPARAM, param);
        const auth = { magic: 0 };
        await p.ioctl(fd, DRM_IOCTL_GET_MAGIC, auth);
        got.auth = (await server.request("auth", 0, auth.magic)).ret;
        got.after = await p.ioctl(fd, DRM_IOCTL_QXL_GETPARAM, param);
        got.value = param.value;
        await p.close(fd);
      });
      await client.wait();
      await server.finish();
      await qxl.settle?.(kernel, (reg as { device?: DrmDevice }).device ?? (reg as DrmDevice));
    });
    expectClean(run);
    expect(got).toEqual({ before: -EACCES, auth: 0, after: 0, value: 96 });
  });
});
