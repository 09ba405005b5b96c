import {
  CAP_SYS_ADMIN,
  EACCES,
  EBUSY,
  EINVAL,
  Kernel,
  O_RDWR,
  type Process,
} from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import {
  bootTinyDevices,
  createBo,
  drmFileOf,
  expectClean,
  flink,
  type Machine,
  runMachine,
  shutdownTinyDevices,
  splatText,
} from "./test-support.js";
import { GEM_GETUNIQUE_MASTER_BEFORE_LOCK } from "./toggles.js";
import {
  DRM_IOCTL_DROP_MASTER,
  DRM_IOCTL_GET_UNIQUE,
  DRM_IOCTL_SET_MASTER,
  DRM_IOCTL_SET_UNIQUE,
  DRM_IOCTL_SET_VERSION,
  type DrmUnique,
} from "./uapi.js";

const ROOT = { caps: [CAP_SYS_ADMIN] };

/** Runs `main` as a process with CAP_SYS_ADMIN (or without, `root` false) and waits for it. */
function runAs(m: Machine, root: boolean, main: (p: Process) => Promise<void>): Promise<number> {
  return m.kernel.spawnProcess(root ? "root" : "user", main, root ? ROOT : undefined).wait();
}

const SV_1_4 = { drm_di_major: 1, drm_di_minor: 4, drm_dd_major: -1, drm_dd_minor: -1 };

async function getUnique(p: Process, fd: number, len: number): Promise<[number, DrmUnique]> {
  const u: DrmUnique = { unique_len: len, unique: "" };
  const ret = await p.ioctl(fd, DRM_IOCTL_GET_UNIQUE, u);
  return [ret, u];
}

describe("drm_master with privileged processes", () => {
  it("a CAP_SYS_ADMIN opener's file is authenticated at open (GEM_FLINK needs no AUTH_MAGIC); an unprivileged one's is not", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      for (const root of [false, true]) {
        await runAs(m, root, async (p) => {
          const master = await p.open("/dev/dri/card0", O_RDWR);
          const other = await p.open("/dev/dri/card0", O_RDWR);
          const h = await createBo(p, other);
          got[root ? "root" : "user"] = {
            authenticated: drmFileOf(p, other).authenticated,
            flink: (await flink(p, other, h)) > 0 ? "name" : await flink(p, other, h),
          };
          await p.close(other);
          await p.close(master);
        });
      }
    });
    expectClean(r);
    expect(got).toEqual({
      user: { authenticated: false, flink: -EACCES },
      root: { authenticated: true, flink: "name" },
    });
  });

  it("SET_MASTER of a file sharing another's master: EACCES unprivileged, EBUSY for root while the device has a master, then a master of its own (the shared one is put)", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      const dev = m.devs[0]!;
      await runAs(m, true, async (p) => {
        const a = await p.open("/dev/dri/card0", O_RDWR); // the first opener: master
        const shared = drmFileOf(p, a).master!;
        const b = await p.open("/dev/dri/card0", O_RDWR);
        got.busy = await p.ioctl(b, DRM_IOCTL_SET_MASTER);
        got.dropA = await p.ioctl(a, DRM_IOCTL_DROP_MASTER);
        got.refsBefore = shared.ref.read();
        got.setB = await p.ioctl(b, DRM_IOCTL_SET_MASTER);
        const fb = drmFileOf(p, b);
        got.b = {
          ownMaster: fb.master !== shared,
          isMaster: fb.isMaster,
          deviceMaster: dev.master === fb.master,
        };
        got.refsAfter = shared.ref.read();
        // An unprivileged process's fd of the same file: it was master now, so the was_master
        // rule lets it drop and set master again.
        got.dropB = await p.ioctl(b, DRM_IOCTL_DROP_MASTER);
        await p.close(b);
        got.setA = await p.ioctl(a, DRM_IOCTL_SET_MASTER);
        await p.close(a);
      });
      await runAs(m, false, async (p) => {
        const a = await p.open("/dev/dri/card0", O_RDWR);
        const b = await p.open("/dev/dri/card0", O_RDWR);
        await p.ioctl(a, DRM_IOCTL_DROP_MASTER);
        got.userSetB = await p.ioctl(b, DRM_IOCTL_SET_MASTER);
        got.userDropB = await p.ioctl(b, DRM_IOCTL_DROP_MASTER);
        await p.close(b);
        await p.close(a);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      busy: -EBUSY,
      dropA: 0,
      refsBefore: 2, // a's and b's: the device dropped its own
      setB: 0,
      b: { ownMaster: true, isMaster: true, deviceMaster: true },
      refsAfter: 1, // a's only
      dropB: 0,
      setA: 0,
      userSetB: -EACCES,
      userDropB: -EACCES,
    });
  });

  it("GET_UNIQUE: length 0 before SET_VERSION 1.1+, the bus id after; a short buffer gets the length only; a file's new master has none; a render node is EACCES", async () => {
    const got: unknown[] = [];
    const r = await runMachine(async (m) => {
      await runAs(m, true, async (p) => {
        const a = await p.open("/dev/dri/card0", O_RDWR);
        got.push(await getUnique(p, a, 64));
        await p.ioctl(a, DRM_IOCTL_SET_VERSION, { ...SV_1_4 });
        got.push(await getUnique(p, a, 64));
        got.push(await getUnique(p, a, 2));
        const b = await p.open("/dev/dri/card0", O_RDWR);
        got.push(await getUnique(p, b, 64)); // b shares a's master
        await p.ioctl(a, DRM_IOCTL_DROP_MASTER);
        await p.ioctl(b, DRM_IOCTL_SET_MASTER); // b gets a master of its own
        got.push(await getUnique(p, b, 64));
        const render = await p.open("/dev/dri/renderD128", O_RDWR);
        got.push((await getUnique(p, render, 64))[0]);
        await p.close(render);
        await p.close(b);
        await p.close(a);
      });
    });
    expectClean(r);
    expect(got).toEqual([
      [0, { unique_len: 0, unique: "" }],
      [0, { unique_len: 5, unique: "tiny0" }],
      [0, { unique_len: 5, unique: "" }],
      [0, { unique_len: 5, unique: "tiny0" }],
      [0, { unique_len: 0, unique: "" }],
      -EACCES,
    ]);
  });

  it("SET_UNIQUE (DRM_ROOT_ONLY, drm_invalid_op): EACCES without CAP_SYS_ADMIN, EACCES for root's non-master file, EINVAL for root's master", async () => {
    const got: Record<string, number> = {};
    const r = await runMachine(async (m) => {
      await runAs(m, false, async (p) => {
        const a = await p.open("/dev/dri/card0", O_RDWR);
        got.userMaster = await p.ioctl(a, DRM_IOCTL_SET_UNIQUE, { unique_len: 1, unique: "x" });
        await p.close(a);
      });
      await runAs(m, true, async (p) => {
        const a = await p.open("/dev/dri/card0", O_RDWR);
        const b = await p.open("/dev/dri/card0", O_RDWR);
        got.rootOther = await p.ioctl(b, DRM_IOCTL_SET_UNIQUE, { unique_len: 1, unique: "x" });
        got.rootMaster = await p.ioctl(a, DRM_IOCTL_SET_UNIQUE, { unique_len: 1, unique: "x" });
        await p.close(b);
        await p.close(a);
      });
    });
    expectClean(r);
    expect(got).toEqual({ userMaster: -EACCES, rootOther: -EACCES, rootMaster: -EINVAL });
  });
});

/**
 * syzbot's drm_getunique() race: a root process's file B shares master M with a file A that then
 * drops master and closes, so B holds M's last reference. One thread of the process calls
 * GET_UNIQUE on B while another calls SET_MASTER on B: drm_new_set_master() gives B a master of
 * its own and puts M, which frees it. Oracles: KASAN, refcount, kmemleak at the end.
 */
async function getuniqueVsSetmaster(): Promise<void> {
  const kernel = Kernel.boot();
  const devs = await bootTinyDevices(kernel);
  const p = kernel.spawnProcess(
    "igt",
    async (p) => {
      const a = await p.open("/dev/dri/card0", O_RDWR);
      await p.ioctl(a, DRM_IOCTL_SET_VERSION, { ...SV_1_4 }); // M gets a bus id
      const b = await p.open("/dev/dri/card0", O_RDWR);
      await p.ioctl(a, DRM_IOCTL_DROP_MASTER);
      await p.close(a);
      const reader = p.spawnThread("get_unique", async () => {
        const [ret] = await getUnique(p, b, 64);
        if (ret !== 0) throw new Error(`GET_UNIQUE: ${ret}`);
      });
      const setter = p.spawnThread("set_master", async () => {
        const ret = await p.ioctl(b, DRM_IOCTL_SET_MASTER);
        if (ret !== 0) throw new Error(`SET_MASTER: ${ret}`);
      });
      await reader.join();
      await setter.join();
      await p.close(b);
    },
    ROOT,
  );
  await p.wait();
  await shutdownTinyDevices(devs);
  await kernel.checkLeaks();
}

describe("gem.getunique-master-before-lock", () => {
  it("GET_UNIQUE racing a root SET_MASTER of the same file: clean under PCT; with the toggle, KASAN finds the freed master", async () => {
    const { explore, replay } = await import("@primetime/sim/explore");
    const clean = await explore(getuniqueVsSetmaster, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      seed: 1,
    });
    expect(clean.firstFailure?.splats ?? []).toEqual([]);
    expect(clean.schedules).toBe(100);
    const found = await explore(getuniqueVsSetmaster, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      seed: 1,
      toggles: [GEM_GETUNIQUE_MASTER_BEFORE_LOCK.name],
    });
    expect(found.firstFailure).not.toBeNull();
    const text = splatText(found.firstFailure!);
    expect(text).toMatch(/use-after-free/);
    expect(text).toMatch(/drm_getunique: master->unique_len/);
    const again = await replay(found.firstFailure!.token, getuniqueVsSetmaster);
    expect(again.splats.map((x) => x.message)).toEqual(
      found.firstFailure!.splats.map((x) => x.message),
    );
  });
});
