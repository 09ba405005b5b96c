import {
  CAP_SYS_ADMIN,
  EACCES,
  EBUSY,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOSPC,
  EOPNOTSUPP,
  Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { baselineFixes } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import {
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_DROP_MASTER,
  DRM_IOCTL_MODE_CREATE_LEASE,
  DRM_IOCTL_MODE_GET_LEASE,
  DRM_IOCTL_MODE_GETCRTC,
  DRM_IOCTL_MODE_GETPLANE,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_LIST_LESSEES,
  DRM_IOCTL_MODE_REVOKE_LEASE,
  DRM_IOCTL_SET_CLIENT_CAP,
  DRM_IOCTL_SET_MASTER,
  type DrmModeCreateLease,
  O_CLOEXEC,
} from "@primetime/uapi";
import { describe, expect, it } from "vitest";
import {
  drmAtomicHelperCheck,
  drmAtomicHelperCommit,
  drmAtomicHelperPageFlip,
  drmAtomicHelperSetConfig,
} from "./drm-atomic-helper.js";
import { DrmConnector, drmConnectorInit } from "./drm-connector.js";
import {
  DrmCrtc,
  drmAtomicHelperCrtcDestroyState,
  drmAtomicHelperCrtcDuplicateState,
  drmAtomicHelperCrtcReset,
  drmCrtcInitWithPlanes,
} from "./drm-crtc.js";
import type { DrmDevice } from "./drm-device.js";
import {
  DRIVER_ATOMIC,
  DRIVER_GEM,
  DRIVER_MODESET,
  DRIVER_RENDER,
  type DrmDriver,
} from "./drm-driver.js";
import { drmGemFbCreate } from "./drm-gem-framebuffer-helper.js";
import {
  DRM_PLANE_TYPE_PRIMARY,
  DrmPlane,
  drmAtomicHelperPlaneDestroyState,
  drmAtomicHelperPlaneDuplicateState,
  drmAtomicHelperPlaneReset,
  drmUniversalPlaneInit,
} from "./drm-plane.js";
import {
  bootTinyDevices,
  drmFileOf,
  expectClean,
  type Machine,
  runMachine,
  shutdownTinyDevices,
  splatText,
  tinyDriver,
  withExtraDevice,
} from "./test-support.js";
import { GEM_LEASE_HELD_MASTER_UNLOCKED, GEM_LEASE_HELD_PUT_UNDER_IDR_MUTEX } from "./toggles.js";

/** An atomic KMS driver built on the tiny driver (as drm-crtc.test.ts's). */
function kmsDriver(): DrmDriver {
  return {
    ...tinyDriver("kms"),
    driverFeatures: DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC | DRIVER_RENDER,
  };
}

/** `n` pipes of a primary plane on a CRTC, each with a connector (as drm-crtc.test.ts's). */
async function kmsInit(dev: DrmDevice, n = 2): Promise<void> {
  dev.modeConfig.funcs = {
    fbCreate: drmGemFbCreate,
    atomicCheck: drmAtomicHelperCheck,
    atomicCommit: drmAtomicHelperCommit,
  };
  dev.modeConfig.maxWidth = 8192;
  dev.modeConfig.maxHeight = 8192;
  for (let i = 0; i < n; i++) {
    const plane = new DrmPlane(dev);
    const pret = await drmUniversalPlaneInit(
      dev,
      plane,
      0,
      {
        reset: drmAtomicHelperPlaneReset,
        atomicDuplicateState: drmAtomicHelperPlaneDuplicateState,
        atomicDestroyState: drmAtomicHelperPlaneDestroyState,
      },
      [DRM_FORMAT_XRGB8888],
      DRM_PLANE_TYPE_PRIMARY,
    );
    if (pret) throw new Error(`plane init ${pret}`);
    const crtc = new DrmCrtc(dev);
    const cret = await drmCrtcInitWithPlanes(dev, crtc, plane, {
      reset: drmAtomicHelperCrtcReset,
      setConfig: drmAtomicHelperSetConfig,
      pageFlip: drmAtomicHelperPageFlip,
      atomicDuplicateState: drmAtomicHelperCrtcDuplicateState,
      atomicDestroyState: drmAtomicHelperCrtcDestroyState,
    });
    if (cret) throw new Error(`crtc init ${cret}`);
    const ret = await drmConnectorInit(dev, new DrmConnector(dev));
    if (ret) throw new Error(`connector init ${ret}`);
  }
}

/** The primary node of the KMS device (the tiny device is card0). */
const CARD = "/dev/dri/card1";
const ROOT = { caps: [CAP_SYS_ADMIN] };

/** Runs `body` with a two-pipe KMS device on a fresh machine. */
function withKms(body: (m: Machine, dev: DrmDevice) => Promise<void>) {
  return runMachine(async (m) => {
    await withExtraDevice(m, kmsDriver(), async (dev) => {
      await kmsInit(dev);
      await body(m, dev);
    });
  });
}

/** An anonymous page of user memory. */
function userPage(p: Process): Promise<number> {
  return p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/** `n` u32 words of user memory at `at`. */
async function words(p: Process, at: number, n: number): Promise<number[]> {
  if (n === 0) return [];
  const b = await p.readMemory(at, 4 * n);
  if (typeof b === "number") return [b];
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: n }, (_, i) => v.getUint32(4 * i, true));
}

/** GETRESOURCES with room for 4 of each: the CRTC and connector ids, or the errno. */
async function resources(p: Process, fd: number) {
  const page = await userPage(p);
  const r = {
    fb_id_ptr: page,
    crtc_id_ptr: page + 64,
    connector_id_ptr: page + 128,
    encoder_id_ptr: page + 192,
    count_fbs: 4,
    count_crtcs: 4,
    count_connectors: 4,
    count_encoders: 4,
    min_width: 0,
    max_width: 0,
    min_height: 0,
    max_height: 0,
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, r);
  if (ret < 0) return { ret, crtcs: [], connectors: [] };
  return {
    ret,
    crtcs: await words(p, page + 64, r.count_crtcs),
    connectors: await words(p, page + 128, r.count_connectors),
  };
}

/** CREATE_LEASE of `ids` (written to user memory): the errno, or the new fd and lessee id. */
async function createLease(
  p: Process,
  fd: number,
  ids: number[],
  flags = O_CLOEXEC,
): Promise<{ ret: number; fd: number; lesseeId: number }> {
  const page = await userPage(p);
  const b = new Uint8Array(4 * Math.max(ids.length, 1));
  const v = new DataView(b.buffer);
  for (const [i, id] of ids.entries()) v.setUint32(4 * i, id, true);
  await p.writeMemory(page, b);
  const cl: DrmModeCreateLease = {
    object_ids: page,
    object_count: ids.length,
    flags,
    lessee_id: 0,
    fd: 0,
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_LEASE, cl);
  return { ret, fd: cl.fd, lesseeId: cl.lessee_id };
}

/** GET_LEASE with room for 8 ids: the errno, or the ids. */
async function getLease(p: Process, fd: number): Promise<number | number[]> {
  const page = await userPage(p);
  const arg = { count_objects: 8, pad: 0, objects_ptr: page };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_GET_LEASE, arg);
  return ret < 0 ? ret : words(p, page, Math.min(arg.count_objects, 8));
}

/** LIST_LESSEES with room for 8 ids: the errno, or the ids. */
async function listLessees(p: Process, fd: number): Promise<number | number[]> {
  const page = await userPage(p);
  const arg = { count_lessees: 8, pad: 0, lessees_ptr: page };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_LIST_LESSEES, arg);
  return ret < 0 ? ret : words(p, page, Math.min(arg.count_lessees, 8));
}

/** GETCRTC of `crtcId`: 0 or the errno. */
function getCrtc(p: Process, fd: number, crtcId: number): Promise<number> {
  return p.ioctl(fd, DRM_IOCTL_MODE_GETCRTC, { crtc_id: crtcId });
}

/** GETPLANE of `planeId`: the errno, or its possible_crtcs. */
async function getPlanePossible(p: Process, fd: number, planeId: number): Promise<number> {
  const r = {
    plane_id: planeId,
    crtc_id: 0,
    fb_id: 0,
    possible_crtcs: 0,
    gamma_size: 0,
    count_format_types: 0,
    format_type_ptr: 0,
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_GETPLANE, r);
  return ret < 0 ? ret : r.possible_crtcs;
}

describe("DRM leases (drm_lease.c of v6.12/v6.18)", () => {
  it("CREATE_LEASE: errnos for bad requests change nothing; a lessee sees only its objects; GET_LEASE, LIST_LESSEES, REVOKE_LEASE", async () => {
    const got: Record<string, unknown> = {};
    const r = await withKms(async (m, dev) => {
      const [c1, c2] = dev.modeConfig.crtcList.map((c) => c.base.id) as [number, number];
      const [p1, p2] = dev.modeConfig.planeList.map((x) => x.base.id) as [number, number];
      const [k1] = dev.modeConfig.connectorList.map((k) => k.base.id) as [number];
      await m.kernel
        .spawnProcess("compositor", async (p) => {
          const master = await p.open(CARD, O_RDWR);
          const other = await p.open(CARD, O_RDWR);
          got.errnos = {
            badFlags: (await createLease(p, master, [c1, k1], 0x1)).ret,
            unknown: (await createLease(p, master, [c1, 999])).ret,
            noConnector: (await createLease(p, master, [c1])).ret,
            twice: (await createLease(p, master, [c1, k1, c1])).ret,
            planeWithCrtc: (await createLease(p, master, [c1, p1, k1])).ret,
            notMaster: (await createLease(p, other, [c1, k1])).ret,
            badPtr: await p.ioctl(master, DRM_IOCTL_MODE_CREATE_LEASE, {
              object_ids: 8,
              object_count: 2,
              flags: 0,
              lessee_id: 0,
              fd: 0,
            }),
            pad: await p.ioctl(master, DRM_IOCTL_MODE_GET_LEASE, {
              count_objects: 0,
              pad: 1,
              objects_ptr: 0,
            }),
          };
          got.noLesseesYet = await listLessees(p, master);
          const lease = await createLease(p, master, [c1, k1]);
          got.lease = { ret: lease.ret, lesseeId: lease.lesseeId, fdOk: lease.fd > other };
          const lessee = lease.fd;
          const lf = drmFileOf(p, lessee);
          got.lesseeFile = { isMaster: lf.isMaster, authenticated: lf.authenticated };
          got.busy = (await createLease(p, master, [c1, k1])).ret;
          got.lesseeResources = await resources(p, lessee);
          got.ownerResources = await resources(p, master);
          got.lesseeGetcrtc = [await getCrtc(p, lessee, c1), await getCrtc(p, lessee, c2)];
          // GETPLANE of the leased CRTC's primary plane: possible_crtcs renumbered (bit 0)
          got.lesseeGetplane = [
            await getPlanePossible(p, lessee, p1),
            await getPlanePossible(p, lessee, p2),
          ];
          got.lesseeLease = await getLease(p, lessee);
          got.ownerLeaseCount = ((await getLease(p, master)) as number[]).length;
          got.lessees = await listLessees(p, master);
          got.subLease = (await createLease(p, lessee, [c1, k1])).ret;
          got.lesseeMaster = {
            set: await p.ioctl(lessee, DRM_IOCTL_SET_MASTER),
            drop: await p.ioctl(lessee, DRM_IOCTL_DROP_MASTER),
          };
          got.revokeUnknown = await p.ioctl(master, DRM_IOCTL_MODE_REVOKE_LEASE, {
            lessee_id: 99,
          });
          got.revoke = await p.ioctl(master, DRM_IOCTL_MODE_REVOKE_LEASE, {
            lessee_id: lease.lesseeId,
          });
          got.afterRevoke = {
            lessees: await listLessees(p, master),
            lesseeLease: await getLease(p, lessee),
            lesseeCrtcs: (await resources(p, lessee)).crtcs,
            getcrtc: await getCrtc(p, lessee, c1),
          };
          // the revoked objects can be leased again
          const again = await createLease(p, master, [c1, k1]);
          got.again = { ret: again.ret, lesseeId: again.lesseeId };
          // the owner drops master: its lessees lose DRM_MASTER too
          await p.ioctl(master, DRM_IOCTL_DROP_MASTER);
          got.afterDrop = await getLease(p, again.fd);
          await p.ioctl(master, DRM_IOCTL_SET_MASTER);
          await p.close(again.fd);
          await p.close(lessee);
          await p.close(other);
          await p.close(master);
        })
        .wait();
    });
    expectClean(r);
    expect(got).toEqual({
      errnos: {
        badFlags: -EINVAL,
        unknown: -ENOENT,
        noConnector: -EINVAL,
        twice: -ENOSPC,
        planeWithCrtc: -ENOSPC,
        notMaster: -EACCES,
        badPtr: -EFAULT,
        pad: -EINVAL,
      },
      noLesseesYet: [],
      lease: { ret: 0, lesseeId: 1, fdOk: true },
      lesseeFile: { isMaster: true, authenticated: true },
      busy: -EBUSY,
      lesseeResources: { ret: 0, crtcs: [expect.any(Number)], connectors: [expect.any(Number)] },
      ownerResources: {
        ret: 0,
        crtcs: [expect.any(Number), expect.any(Number)],
        connectors: [expect.any(Number), expect.any(Number)],
      },
      lesseeGetcrtc: [0, -ENOENT],
      lesseeGetplane: [1, -ENOENT],
      lesseeLease: expect.any(Array),
      ownerLeaseCount: 6,
      lessees: [1],
      subLease: -EINVAL,
      lesseeMaster: { set: -EACCES, drop: -EACCES },
      revokeUnknown: -ENOENT,
      revoke: 0,
      afterRevoke: { lessees: [], lesseeLease: [], lesseeCrtcs: [], getcrtc: -ENOENT },
      again: { ret: 0, lesseeId: 2 },
      afterDrop: -EACCES,
    });
    const res = got.lesseeResources as { crtcs: number[]; connectors: number[] };
    expect(res.crtcs[0]).toBe((got.ownerResources as { crtcs: number[] }).crtcs[0]);
    expect([...(got.lesseeLease as number[])].sort((a, b) => a - b)).toHaveLength(3);
  });

  it("a device without DRIVER_MODESET: -EOPNOTSUPP", async () => {
    let ret = 0;
    const r = await runMachine(async (m) => {
      await m.kernel
        .spawnProcess("user", async (p) => {
          const fd = await p.open("/dev/dri/card0", O_RDWR);
          ret = (await createLease(p, fd, [1, 2])).ret;
          await p.close(fd);
        })
        .wait();
    });
    expectClean(r);
    expect(ret).toBe(-EOPNOTSUPP);
  });

  it("the owner's file closes before its lessee's: the lessee keeps its lessor alive, sees nothing, and frees it at its own close", async () => {
    const got: Record<string, unknown> = {};
    const r = await withKms(async (m, dev) => {
      const c1 = dev.modeConfig.crtcList[0]!.base.id;
      const k1 = dev.modeConfig.connectorList[0]!.base.id;
      await m.kernel
        .spawnProcess("compositor", async (p) => {
          const master = await p.open(CARD, O_RDWR);
          const lease = await createLease(p, master, [c1, k1]);
          const lf = drmFileOf(p, lease.fd);
          const lessor = lf.master!.lessor!;
          await p.close(master);
          got.lessorAlive = lessor.ref.read();
          got.crtcs = (await resources(p, lease.fd)).crtcs;
          got.getLease = await getLease(p, lease.fd);
          await p.close(lease.fd);
        })
        .wait();
    });
    expectClean(r);
    expect(got).toEqual({ lessorAlive: 1, crtcs: [], getLease: -EACCES });
  });

  it("revokes, lessee closes and lessee lookups racing under pct are clean", async () => {
    const res = await explore(
      () =>
        kmsScenario(async (p, dev) => {
          const c1 = dev.modeConfig.crtcList[0]!.base.id;
          const k1 = dev.modeConfig.connectorList[0]!.base.id;
          const p1 = dev.modeConfig.planeList[0]!.base.id;
          const master = await p.open(CARD, O_RDWR);
          const lease = await createLease(p, master, [c1, k1]);
          if (lease.ret !== 0) throw new Error(`CREATE_LEASE ${lease.ret}`);
          const user = p.spawnThread("lessee", async (q) => {
            await q.ioctl(lease.fd, DRM_IOCTL_SET_CLIENT_CAP, { capability: 2, value: 1 });
            await getPlanePossible(q, lease.fd, p1);
            await getCrtc(q, lease.fd, c1);
            await q.close(lease.fd);
          });
          await p.ioctl(master, DRM_IOCTL_MODE_REVOKE_LEASE, { lessee_id: lease.lesseeId });
          await listLessees(p, master);
          await user.join();
          await p.close(master);
        }),
      { strategy: "pct", depth: 3, schedules: 40, seed: 1 },
    );
    expect(res.failures.map((f) => splatText(f))).toEqual([]);
  });
});

/**
 * A machine with the tiny device and a one-pipe KMS device, `main` run as a root process, then
 * leak checks: a scenario for explore().
 */
async function kmsScenario(main: (p: Process, dev: DrmDevice) => Promise<void>): Promise<void> {
  const kernel = Kernel.boot();
  const devs = await bootTinyDevices(kernel, 1);
  await withExtraDevice({ kernel, devs }, kmsDriver(), async (dev) => {
    await kmsInit(dev, 1);
    await kernel.spawnProcess("compositor", (p) => main(p, dev), ROOT).wait();
  });
  await shutdownTinyDevices(devs);
  await kernel.checkLeaks();
}

/**
 * 56f0729a510f's race: a root process's file B shares master M with a file A that then drops
 * master and closes, so B holds M's last reference. One thread calls GETRESOURCES on B (its
 * drm_lease_held() for each CRTC and connector) while another calls SET_MASTER on B:
 * drm_new_set_master() gives B a master of its own and puts M, which frees it. Oracles: KASAN,
 * refcount, lockdep, kmemleak at the end.
 */
function getresourcesVsSetmaster(): Promise<void> {
  return kmsScenario(async (p) => {
    const a = await p.open(CARD, O_RDWR);
    const b = await p.open(CARD, O_RDWR);
    await p.ioctl(a, DRM_IOCTL_DROP_MASTER);
    await p.close(a);
    const reader = p.spawnThread("getresources", async (q) => {
      const r = await resources(q, b);
      if (r.ret !== 0 || r.crtcs.length !== 1) throw new Error(`GETRESOURCES: ${r.ret}`);
    });
    const setter = p.spawnThread("set_master", async (q) => {
      const ret = await q.ioctl(b, DRM_IOCTL_SET_MASTER);
      if (ret !== 0) throw new Error(`SET_MASTER: ${ret}`);
    });
    await reader.join();
    await setter.join();
    await p.close(b);
  });
}

describe("gem.lease-held-master-unlocked", () => {
  it("GETRESOURCES racing a root SET_MASTER of the same file: clean under PCT; with the toggle, KASAN finds the freed master in drm_lease_held()", async () => {
    const clean = await explore(getresourcesVsSetmaster, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      seed: 1,
    });
    expect(clean.firstFailure?.splats ?? []).toEqual([]);
    expect(clean.schedules).toBe(100);
    const found = await explore(getresourcesVsSetmaster, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      // PCT depth 3 finds it at schedule 134, 21, 38, 40, 13, 35, 40, 11, 4, 45 for seeds 1-10
      seed: 2,
      toggles: [GEM_LEASE_HELD_MASTER_UNLOCKED.name],
    });
    expect(found.firstFailure).not.toBeNull();
    const text = splatText(found.firstFailure!);
    expect(text).toMatch(/use-after-free/);
    expect(text).toMatch(/drm_lease_held: file_priv->master->lessor/);
    const again = await replay(found.firstFailure!.token, getresourcesVsSetmaster);
    expect(again.splats.map((x) => x.message)).toEqual(
      found.firstFailure!.splats.map((x) => x.message),
    );
  });
});

/**
 * The known window gem.lease-held-put-under-idr-mutex: a root process's file B shares master M
 * with a file A that drops master and closes, so B holds M's last reference; one thread calls
 * GETCRTC on B (__drm_mode_object_find() -> _drm_lease_held() under idr_mutex) while another
 * makes B master (drm_new_set_master() puts M).
 */
function getcrtcVsSetmaster(): Promise<void> {
  return kmsScenario(async (p, dev) => {
    const c1 = dev.modeConfig.crtcList[0]!.base.id;
    const a = await p.open(CARD, O_RDWR);
    const b = await p.open(CARD, O_RDWR);
    await p.ioctl(a, DRM_IOCTL_DROP_MASTER);
    await p.close(a);
    const reader = p.spawnThread("getcrtc", async (q) => {
      await getCrtc(q, b, c1);
    });
    const setter = p.spawnThread("set_master", async (q) => {
      await q.ioctl(b, DRM_IOCTL_SET_MASTER);
    });
    await reader.join();
    await setter.join();
    await p.close(b);
  });
}

describe("known window gem.lease-held-put-under-idr-mutex (v6.12, v6.18)", () => {
  it("GETCRTC racing a root SET_MASTER of the same file: _drm_lease_held() drops the master's last reference under idr_mutex, and drm_lease_destroy() takes idr_mutex again; the fix switch is clean over the same schedules", async () => {
    // PCT depth 3, seed 1 reaches it at schedule 34: __drm_mode_object_find() holds idr_mutex,
    // drm_file_get_master() took M before SET_MASTER put the file's reference, and the lookup's
    // drm_master_put() is the last: drm_master_destroy() -> drm_lease_destroy() ->
    // mutex_lock(&dev->mode_config.idr_mutex) on the lock the task holds.
    const res = await explore(getcrtcVsSetmaster, {
      strategy: "pct",
      depth: 3,
      schedules: 60,
      seed: 1,
    });
    expect(res.firstFailure?.outcome).toBe("deadlock");
    expect(res.schedules).toBe(34);
    expect(splatText(res.firstFailure!)).toMatch(
      /possible recursive locking detected[\s\S]*mode_config\.idr_mutex/,
    );
    const again = await replay(res.firstFailure!.token, getcrtcVsSetmaster);
    expect(again.outcome).toBe("deadlock");
    // The switch alone and every fix switch (baselineFixes()): the same 60 schedules are clean.
    for (const toggles of [[GEM_LEASE_HELD_PUT_UNDER_IDR_MUTEX.name], baselineFixes()]) {
      const fixed = await explore(getcrtcVsSetmaster, {
        strategy: "pct",
        depth: 3,
        schedules: 60,
        seed: 1,
        toggles,
      });
      expect(fixed.failures.map((f) => splatText(f))).toEqual([]);
      expect(fixed.schedules).toBe(60);
    }
  });

  it("keeps 56f0729a510f's use-after-free fixed: with the switch on, GETRESOURCES vs SET_MASTER is clean, and gem.lease-held-master-unlocked is still found", async () => {
    const fixes = baselineFixes();
    expect(fixes).toContain(GEM_LEASE_HELD_PUT_UNDER_IDR_MUTEX.name);
    const clean = await explore(getresourcesVsSetmaster, {
      strategy: "pct",
      depth: 3,
      schedules: 40,
      seed: 1,
      toggles: fixes,
    });
    expect(clean.failures.map((f) => splatText(f))).toEqual([]);
    const found = await explore(getresourcesVsSetmaster, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      seed: 2,
      toggles: [GEM_LEASE_HELD_MASTER_UNLOCKED.name, ...fixes],
    });
    expect(found.firstFailure).not.toBeNull();
    expect(splatText(found.firstFailure!)).toMatch(
      /use-after-free[\s\S]*drm_lease_held: file_priv->master->lessor/,
    );
  });
});
