/**
 * The concurrent scenarios qxl's tests explore (exported as @primetime/qxl/testing): surface
 * exhaustion against closing (the 2015 dual-refcount race), dumb creation against a guessing
 * GEM_CLOSE (the 2023 handle-creation race), draws that retire a release page (the 2021 release
 * bo pin leak), surface pressure with sharing, pushers against a full command ring (the known
 * window qxl.ring-push-no-recheck), and lease checks against SET_MASTER on a CRTC device (the
 * 2021 lease master race; the known window gem.lease-held-put-under-idr-mutex).
 */

import {
  DRM_IOCTL_DROP_MASTER,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_SET_MASTER,
  GEM_LEASE_HELD_PUT_UNDER_IDR_MUTEX,
} from "@primetime/gem";
import { CAP_SYS_ADMIN, Kernel, O_RDWR, type Process } from "@primetime/kernel";
import { Completion, type RunResult, type Simulation, type Splat, yieldCpu } from "@primetime/sim";
import {
  DRM_IOCTL_MODE_GETCRTC,
  DRM_IOCTL_MODE_GETRESOURCES,
  type DrmModeCrtc,
} from "@primetime/uapi";
import { createQxl, destroyQxl, type QxlDeviceHandle } from "./qxl-drv.js";
import {
  closeFd,
  gemClose,
  gemFlink,
  gemOpen,
  openQxl,
  primeExport,
  primeImport,
  type QxlMachine,
  qxlAlloc,
  qxlAllocSurf,
  qxlExecDraw,
  qxlMachineMain,
  qxlPrepareDraw,
  qxlSettle,
  qxlSubmitDraw,
  qxlUpdateArea,
} from "./test-machine.js";

/** A scenario for explore(): the body of the main task (structurally @primetime/sim/explore's). */
export type Scenario = (sim: Simulation) => Promise<void>;

/**
 * The lockdep report of the known upstream window `qxl.reap-reserve-without-ctx` (toggles.ts,
 * KNOWN-WINDOWS.md): the reaper's qxl_bo_reserve() (dma_resv_lock() without an acquire context,
 * under surf_evict_mutex) while the task holds drm_exec's acquire context and reservations
 * (qxl_release_reserve_list()) or a reservation of its own (qxl_update_area_ioctl()'s
 * qxl_bo_reserve()): "possible recursive locking detected" on reservation_ww_class_mutex, the
 * held locks being the acquire context or a reservation first and surf_evict_mutex. Exactly
 * that, nothing looser.
 */
export function isKnownReapRecursion(s: Splat): boolean {
  const m = s.message;
  return (
    s.kind === "lockdep" &&
    m.startsWith("WARNING: possible recursive locking detected") &&
    /is trying to acquire lock:\n \(reservation_ww_class_mutex\)\S*, at: ww_mutex_lock_interruptible\(qxl_bo#\d+\.resv\)/.test(
      m,
    ) &&
    /#0: \(reservation_ww_class_(acquire|mutex)\)/.test(m) &&
    /: \(surf_evict_mutex\)/.test(m)
  );
}

/**
 * The deadlock of the same known window: a task reaping (holding surf_evict_mutex) waits for the
 * reservation of a surface that a second task holds under its drm_exec, while that second task
 * (or one waiting behind it) waits for surf_evict_mutex. True for a deadlock whose splats are
 * only that report and the window's recursion report, and whose blocked tasks contain such a
 * cycle: B waits for `surf_evict_mutex held by A` and A for `qxl_bo#N.resv held by B`.
 */
export function isKnownReapDeadlock(r: RunResult): boolean {
  if (r.outcome !== "deadlock") return false;
  if (!r.splats.every((s) => isKnownReapRecursion(s) || s.kind === "deadlock")) return false;
  const d = r.splats.find((s) => s.kind === "deadlock");
  if (!d) return false;
  const evict = /(\w+\[\d+\]) waits on mutex surf_evict_mutex held by (\w+\[\d+\])/g;
  for (const [, waiter, reaper] of d.message.matchAll(evict)) {
    const resv = new RegExp(
      `${reaper!.replace(/[[\]]/g, "\\$&")} waits on ww_mutex qxl_bo#\\d+\\.resv held by ${waiter!.replace(/[[\]]/g, "\\$&")}`,
    );
    if (resv.test(d.message)) return true;
  }
  return false;
}

/**
 * The hang the known window `qxl.ring-push-no-recheck` shows in `ringPushVsFullRing()`: the
 * command overwritten in the ring never comes back, so its release's fence never signals and
 * TTM's delayed delete of the buffer it names waits on release_event forever (qxl_fence_wait()),
 * a hang at the end of the run when the workqueues are flushed. True for a deadlock whose splats
 * are only such hung-work reports (one per buffer of a lost command).
 */
export function isKnownRingPushHang(r: RunResult): boolean {
  if (r.outcome !== "deadlock") return false;
  const hung =
    /hung executing work ttm_bo_delayed_delete\(qxl_bo#\d+\) on workqueue ttm: waits on release_event/;
  return r.splats.every((s) => s.kind === "deadlock") && r.splats.some((s) => hung.test(s.message));
}

/**
 * The other way the same window shows: the command read twice hands its release id back twice,
 * and before the second time a new release reused the id, so qxl_garbage_collect() frees that
 * live release while its submitter still uses it: KASAN reports the use-after-free first, at
 * the submitter's next access to the release. Two places are known: between
 * qxl_release_fence_buffer_objects() and the push (KASAN there, then the oops of the push:
 * qxl_bo_physical_address() on the NULLed release_bo), and between qxl_alloc_release_reserved()'s
 * idr_alloc() and its qxl_release_map() (KASAN in qxl_release_map, then the oops of
 * qxl_bo_kmap_atomic_page() on the NULLed release_bo). What follows is the locks the dead task
 * kept, and the lost command's hang.
 */
export function isKnownRingPushReleaseUaf(r: RunResult): boolean {
  const first = r.splats[0];
  return (
    first?.kind === "kasan" &&
    /^BUG: KASAN: slab-use-after-free in (qxl_release_fence_buffer_objects|qxl_release_map)\nAccess to qxl_release#/.test(
      first.message,
    )
  );
}

/**
 * The third way the same window shows: no hang, a leak at unload. The twice-read command's id
 * comes back twice; the second time qxl_garbage_collect() finds nothing
 * (qxl_release_from_id_locked(): "failed to find id in release_idr") and stops walking that
 * release chain (`if (release == NULL) break;`), so the releases the device chained behind it,
 * and the lost command's, are never freed: they keep their buffers, so no TTM delayed delete
 * waits on their fences; qxl_device_fini()'s wait for release_count == 0 times out (HZ) and the
 * idr is destroyed. True for a run that ends ok whose splats are only kmemleak reports of those
 * objects (releases, their list entries, the buffers with their range nodes and fence lists),
 * at least one of them a release.
 */
export function isKnownRingPushUnloadLeak(r: RunResult): boolean {
  if (r.outcome !== "ok" || r.splats.length === 0) return false;
  const leaked =
    /^unreferenced object (qxl_release|qxl_bo_list|qxl_bo|ttm_range_mgr_node|dma_resv_list)#\d+ /;
  return (
    r.splats.every((s) => s.kind === "kmemleak" && leaked.test(s.message)) &&
    r.splats.some((s) => s.message.startsWith("unreferenced object qxl_release#"))
  );
}

/**
 * A failure for qxl's runs with the known window open (every toggle off, fix switches off): any
 * outcome but ok and any splat, except the window's report and deadlock.
 */
export function qxlIsFailure(r: RunResult): boolean {
  if (isKnownReapDeadlock(r)) return false;
  return r.outcome !== "ok" || r.splats.some((s) => !isKnownReapRecursion(s));
}

/** Draws `value` into the first KiB of a surface object (which gives it its hardware surface). */
async function drawSurface(p: Process, fd: number, handle: number, value: number): Promise<number> {
  return qxlExecDraw(p, fd, {
    op: "fill",
    size: 1024,
    value,
    dst: { handle, offset: 0, surface: true },
  });
}

/**
 * The 2015 race: three surface slots (ids 1 and 2 usable), the surface memory type too small to
 * hold a surface (surfaces live in VRAM, so only qxl_ttm_bo_destroy() evicts them with the old
 * counting). Process a creates a surface, draws into it and closes it while process b creates two
 * more: the second runs out of ids and reaps.
 */
export const surfaceReapVsClose: Scenario = (sim) =>
  qxlMachineMain(
    sim,
    async (m) => {
      const a = m.kernel.spawnProcess("a", async (p) => {
        const fd = await openQxl(p, m);
        const s1 = await qxlAllocSurf(p, fd, 16, 16);
        await drawSurface(p, fd, s1, 1);
        await gemClose(p, fd, s1);
        await closeFd(p, fd);
      });
      const b = m.kernel.spawnProcess("b", async (p) => {
        const fd = await openQxl(p, m);
        const s2 = await qxlAllocSurf(p, fd, 16, 16);
        await drawSurface(p, fd, s2, 2);
        const s3 = await qxlAllocSurf(p, fd, 16, 16);
        await drawSurface(p, fd, s3, 3);
        await gemClose(p, fd, s2);
        await gemClose(p, fd, s3);
        await closeFd(p, fd);
      });
      for (const p of [a, b]) {
        const code = await p.wait();
        if (code !== 0) m.sim.report("warn", `process exited with ${code}`);
      }
    },
    { nSurfaces: 3, surfacePages: 1 },
  );

/**
 * The 2023 race: one thread creates dumb buffers, another closes the handles it guesses (1, 2)
 * as soon as they exist.
 */
export const dumbCreateVsClose: Scenario = (sim) =>
  qxlMachineMain(sim, async (m) => {
    const proc = m.kernel.spawnProcess("igt", async (p) => {
      const fd = await openQxl(p, m);
      const creator = p.spawnThread("create", async (q) => {
        for (let i = 0; i < 2; i++) {
          const arg = { width: 64, height: 64, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
          await q.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
        }
      });
      const closer = p.spawnThread("close", async (q) => {
        for (const h of [1, 2]) {
          for (let tries = 0; tries < 400; tries++) {
            if ((await gemClose(q, fd, h)) === 0) break;
            await yieldCpu(); // sched_yield(): let the creator run
          }
        }
      });
      await creator.join();
      await closer.join();
      await closeFd(p, fd);
    });
    const code = await proc.wait();
    if (code !== 0) m.sim.report("warn", `process exited with ${code}`);
  });

/** What the surface-pressure runs shared successfully (summed over runs; reset by the caller). */
export const pressureStats = { flinkOpened: 0, primeImported: 0, drawsOk: 0 };

/**
 * Surface pressure: `procs` processes on a device with `slots` surface slots (ids 1 .. slots-1),
 * each creating two surfaces, drawing into them, sharing one with the next process (flink for
 * even processes, PRIME for odd ones), updating areas and closing everything; more live surfaces
 * than slots, so ids are reaped while other processes draw, share and close.
 */
export function surfacePressure(procs: number, slots: number): Scenario {
  return (sim) =>
    qxlMachineMain(
      sim,
      async (m) => {
        // Flink handshake between neighbours: process i (even) names s1 and keeps it open until
        // process i + 1 has opened the name (or given up).
        const shares = Array.from({ length: procs }, () => ({
          name: 0,
          ready: new Completion("flink ready"),
          opened: new Completion("flink opened"),
        }));
        const ps = [];
        for (let i = 0; i < procs; i++) {
          ps.push(
            m.kernel.spawnProcess(`p${i}`, async (p) => {
              const fd = await openQxl(p, m);
              const s1 = await qxlAllocSurf(p, fd, 16, 16);
              const s2 = await qxlAllocSurf(p, fd, 16, 16);
              if ((await drawSurface(p, fd, s1, i + 1)) === 0) pressureStats.drawsOk++;
              if (i % 2 === 0) {
                shares[i]!.name = await gemFlink(p, fd, s1);
                shares[i]!.ready.complete();
              } else {
                // PRIME export and self-import on a second file of the same device.
                const dmabuf = await primeExport(p, fd, s1);
                const fd2 = await openQxl(p, m);
                const h = await primeImport(p, fd2, dmabuf);
                if (h > 0) pressureStats.primeImported++;
                if ((await drawSurface(p, fd2, h, 0x40 + i)) === 0) pressureStats.drawsOk++;
                await gemClose(p, fd2, h);
                await closeFd(p, fd2);
                if (dmabuf >= 0) await closeFd(p, dmabuf);
              }
              await drawSurface(p, fd, s2, 0x80 + i);
              const prev = i % 2 === 1 ? shares[i - 1] : undefined;
              if (prev) await prev.ready.wait();
              if (prev && prev.name > 0) {
                const h = await gemOpen(p, fd, prev.name);
                if (h > 0) {
                  pressureStats.flinkOpened++;
                  await qxlUpdateArea(p, fd, h, 16, 16);
                  await gemClose(p, fd, h);
                }
              }
              prev?.opened.complete();
              if (i % 2 === 0 && i + 1 < procs) await shares[i]!.opened.wait();
              await gemClose(p, fd, s1);
              await qxlUpdateArea(p, fd, s2, 16, 16);
              await gemClose(p, fd, s2);
              await closeFd(p, fd);
            }),
          );
        }
        for (const p of ps) {
          const code = await p.wait();
          if (code !== 0) m.sim.report("warn", `process exited with ${code}`);
        }
      },
      { nSurfaces: slots, surfacePages: 64 },
    );
}

/**
 * The 2020 release race (qxl.release-use-after-free): on a device running as a spice worker
 * thread (commands complete concurrently with the CPUs), one process draws into an object twice
 * (EXECBUFFER) while the device hands releases back and gc_work frees them.
 */
export const execbufferVsReleaseGc: Scenario = (sim) =>
  qxlMachineMain(
    sim,
    async (m) => {
      const proc = m.kernel.spawnProcess("client", async (p) => {
        const fd = await openQxl(p, m);
        const bo = await qxlAlloc(p, fd, 8192);
        for (let i = 0; i < 2; i++) {
          const ret = await qxlExecDraw(p, fd, {
            op: "fill",
            size: 1024,
            value: i + 1,
            dst: { handle: bo, offset: 0 },
          });
          if (ret) m.sim.report("warn", `EXECBUFFER returned ${ret}`);
        }
        // Every release back and freed before the last reference goes: the object is then idle
        // when it is freed (no TTM delayed delete racing the unload; see the README).
        await qxlSettle(m.kernel, m.qxl);
        await gemClose(p, fd, bo);
        await closeFd(p, fd);
      });
      const code = await proc.wait();
      if (code !== 0) m.sim.report("warn", `process exited with ${code}`);
    },
    { spiceWorker: true },
  );

/**
 * The 2021 release bo pin leak (qxl.release-bo-pin-leak): one process draws into an object 17
 * times in a row (EXECBUFFER). A release page holds 16 drawables, and qxl_alloc_release_reserved()
 * starts a new page at the 16th, so the first page is retired. The device hands every release
 * back, and gc_work drops the first page's last reference when it frees the last release in it.
 * That page must be unpinned by then.
 */
export const releaseBoRollover: Scenario = (sim) =>
  qxlMachineMain(sim, async (m) => {
    const proc = m.kernel.spawnProcess("client", async (p) => {
      const fd = await openQxl(p, m);
      const bo = await qxlAlloc(p, fd, 8192);
      const page = await qxlPrepareDraw(p, {
        op: "fill",
        size: 256,
        value: 7,
        dst: { handle: bo, offset: 0 },
      });
      for (let i = 0; i < 17; i++) {
        const ret = await qxlSubmitDraw(p, fd, page);
        if (ret) m.sim.report("warn", `EXECBUFFER returned ${ret}`);
      }
      await gemClose(p, fd, bo);
      await closeFd(p, fd);
    });
    const code = await proc.wait();
    if (code !== 0) m.sim.report("warn", `process exited with ${code}`);
  });

/**
 * Pushers against a full command ring (known window qxl.ring-push-no-recheck): on a device
 * running as a spice worker thread whose command ring has ONE entry (a test device: QEMU's ring
 * has 32, which three submitters cannot fill), `procs` processes each draw into a buffer of their
 * own (EXECBUFFER: one push each). When one draw sits unconsumed in the ring, the others find it
 * full and wait; the worker consumes the entry and raises the display interrupt, both waiters see
 * room and, without the fix, both push: the second overwrites the first's entry. Each process
 * prepares its buffer and drawable, waits for the others, submits `draws` times, then closes its
 * buffer and its file. `observe` receives the machine (for a test to inspect the driver's state).
 */
export function ringPushVsFullRing(
  procs = 3,
  draws = 1,
  observe?: (m: QxlMachine) => void,
): Scenario {
  return (sim) =>
    qxlMachineMain(
      sim,
      async (m) => {
        observe?.(m);
        // Every process prepares its buffer and its drawable first, then all submit together.
        let ready = 0;
        const go = new Completion("all prepared");
        const ps = [];
        for (let i = 0; i < procs; i++) {
          ps.push(
            m.kernel.spawnProcess(`p${i}`, async (p) => {
              const fd = await openQxl(p, m);
              const bo = await qxlAlloc(p, fd, 4096);
              const page = await qxlPrepareDraw(p, {
                op: "fill",
                size: 64,
                value: i + 1,
                dst: { handle: bo, offset: 0 },
              });
              if (++ready === procs) go.completeAll();
              await go.wait();
              for (let d = 0; d < draws; d++) {
                const ret = await qxlSubmitDraw(p, fd, page);
                if (ret) m.sim.report("warn", `EXECBUFFER returned ${ret}`);
              }
              await gemClose(p, fd, bo);
              await closeFd(p, fd);
            }),
          );
        }
        for (const p of ps) {
          const code = await p.wait();
          if (code !== 0) m.sim.report("warn", `process exited with ${code}`);
        }
      },
      { spiceWorker: true, cmdRingSize: 1 },
    );
}

/**
 * The files both lease races start from, on a qxl device with one CRTC (createQxl()'s `crtcs`):
 * a root process opens the card twice (file A becomes master of a new master M, file B shares
 * M), A drops master and closes, so B holds M's last reference; then one thread runs `reader`
 * on B (a KMS ioctl whose object lookups check leases) while another makes B master (SET_MASTER:
 * drm_new_set_master() gives B a master of its own and puts M, which frees it). Both must
 * succeed. Oracles: KASAN, refcount, lockdep, kmemleak at the end.
 */
async function leaseReaderVsSetmaster(
  readerName: string,
  reader: (t: Process, b: number, q: QxlDeviceHandle) => Promise<void>,
): Promise<void> {
  const kernel = Kernel.boot();
  const q = await createQxl(kernel, { crtcs: 1 });
  const root = kernel.spawnProcess(
    "compositor",
    async (p) => {
      const a = await p.open(q.card, O_RDWR);
      const b = await p.open(q.card, O_RDWR);
      await p.ioctl(a, DRM_IOCTL_DROP_MASTER);
      await p.close(a);
      const r = p.spawnThread(readerName, (t) => reader(t, b, q));
      const setter = p.spawnThread("set_master", async (t) => {
        const ret = await t.ioctl(b, DRM_IOCTL_SET_MASTER);
        if (ret !== 0) throw new Error(`SET_MASTER: ${ret}`);
      });
      await r.join();
      await setter.join();
      await p.close(b);
    },
    { caps: [CAP_SYS_ADMIN] },
  );
  const code = await root.wait();
  await qxlSettle(kernel, q);
  await destroyQxl(q);
  await kernel.checkLeaks();
  if (code !== 0) throw new Error(`compositor exited with ${code}`);
}

/**
 * lease-held-vs-setmaster: 56f0729a510f's race (leaseReaderVsSetmaster()'s files): the reader
 * calls GETRESOURCES on B (drm_lease_held() for the CRTC and the connector). Toggle
 * `gem.lease-held-master-unlocked` reads B's master without a reference in drm_lease_held():
 * KASAN slab-use-after-free of the drm_master.
 */
export function leaseHeldVsSetmaster(): Promise<void> {
  return leaseReaderVsSetmaster("getresources", async (t, b) => {
    const r = {
      fb_id_ptr: 0,
      crtc_id_ptr: 0,
      connector_id_ptr: 0,
      encoder_id_ptr: 0,
      count_fbs: 0,
      count_crtcs: 0,
      count_connectors: 0,
      count_encoders: 0,
      min_width: 0,
      max_width: 0,
      min_height: 0,
      max_height: 0,
    };
    const ret = await t.ioctl(b, DRM_IOCTL_MODE_GETRESOURCES, r);
    if (ret !== 0 || r.count_crtcs !== 1) throw new Error(`GETRESOURCES: ${ret}`);
  });
}

/**
 * lease-lookup-vs-setmaster: the known window gem.lease-held-put-under-idr-mutex
 * (leaseReaderVsSetmaster()'s files): the reader calls GETCRTC on B: drm_crtc_find() ->
 * __drm_mode_object_find() holds mode_config.idr_mutex while _drm_lease_held() takes and puts a
 * reference on B's master. When SET_MASTER's drm_new_set_master() puts M in between, the
 * lookup's put is the last, and drm_master_destroy() -> drm_lease_destroy() takes idr_mutex
 * again: lockdep's recursive locking, then a deadlock. Clean with the window's fix switch
 * (baselineFixes()).
 */
export function leaseLookupVsSetmaster(): Promise<void> {
  return leaseReaderVsSetmaster("getcrtc", async (t, b, q) => {
    const crtcId = q.device.modeConfig.crtcList[0]!.base.id;
    const r: Partial<DrmModeCrtc> = { crtc_id: crtcId };
    const ret = await t.ioctl(b, DRM_IOCTL_MODE_GETCRTC, r);
    if (ret !== 0 || r.crtc_id !== crtcId) throw new Error(`GETCRTC: ${ret}`);
  });
}

/** One of qxl's race scenarios, in the shape of `@primetime/vmwgfx/scenarios`' for harnesses. */
export interface QxlRaceScenario {
  /** `qxl/<case>`. */
  readonly name: string;
  readonly description: string;
  /** With every toggle off and the known windows' fix switches on (baselineFixes()). */
  readonly expect: "clean";
  readonly scenario: Scenario;
  readonly kernelRef: string;
  /** The toggles that make it fail. */
  readonly finds: readonly string[];
  /** PCT schedules within which it finds them (seed 5, depth 3, in qxl-toggles.test.ts). */
  readonly schedules: number;
  /** How the bug shows. */
  readonly how: string;
  /**
   * The known upstream window (listKnownWindows(), KNOWN-WINDOWS.md) it reaches with every fix
   * switch off, for a window's reproducer; `finds` is then empty.
   */
  readonly window?: string;
}

/**
 * qxl's own race scenarios for a harness (qxl.dual-refcount is found by the stress app's
 * surface-reaper workload instead).
 */
export const QXL_RACE_SCENARIOS: readonly QxlRaceScenario[] = [
  {
    name: "qxl/dumb-create-vs-close",
    description: "DRM_IOCTL_MODE_CREATE_DUMB races a GEM_CLOSE of the handle it is about to return",
    expect: "clean",
    scenario: dumbCreateVsClose,
    kernelRef: "drivers/gpu/drm/qxl/qxl_dumb.c qxl_mode_dumb_create(), qxl_gem.c",
    finds: ["qxl.handle-create-uaf"],
    schedules: 200,
    how: "KASAN: slab-use-after-free in qxl_mode_dumb_create",
  },
  {
    name: "qxl/execbuffer-vs-release-gc",
    description:
      "EXECBUFFER on a device running as a spice worker thread, which hands releases back while the submitter is still in the ioctl",
    expect: "clean",
    scenario: execbufferVsReleaseGc,
    kernelRef:
      "drivers/gpu/drm/qxl/qxl_ioctl.c qxl_process_single_command(), qxl_release.c qxl_release_fence_buffer_objects()",
    finds: ["qxl.release-use-after-free"],
    schedules: 200,
    how: "KASAN: slab-use-after-free in qxl_release_fence_buffer_objects",
  },
  {
    name: "qxl/release-bo-rollover",
    description:
      "17 EXECBUFFER draws in a row: the first release page is retired at the 16th, and freed once the device has handed its releases back",
    expect: "clean",
    scenario: releaseBoRollover,
    kernelRef:
      "drivers/gpu/drm/qxl/qxl_release.c qxl_alloc_release_reserved(); drivers/gpu/drm/ttm/ttm_bo.c ttm_bo_release()",
    finds: ["qxl.release-bo-pin-leak"],
    schedules: 20,
    how: "WARNING in ttm_bo_release: WARN_ON_ONCE(bo->pin_count) on the retired release page",
  },
  {
    name: "qxl/lease-held-vs-setmaster",
    description:
      "GETRESOURCES on a CRTC device racing a root process's SET_MASTER of the same file, which frees the master it shared",
    expect: "clean",
    scenario: leaseHeldVsSetmaster,
    kernelRef:
      "drivers/gpu/drm/drm_lease.c drm_lease_held(); drm_mode_config.c drm_mode_getresources(); drm_auth.c drm_new_set_master()",
    finds: ["gem.lease-held-master-unlocked"],
    // PCT depth 3 finds it at 58, 52, 2, 26, 39, 22, 29, 3, 6, 6 for seeds 1-10 (mean 24.3).
    schedules: 150,
    how: "KASAN: slab-use-after-free in drm_lease_held: file_priv->master->lessor (the drm_master SET_MASTER freed)",
  },
  {
    name: "qxl/lease-lookup-vs-setmaster",
    description:
      "GETCRTC on a CRTC device racing a root process's SET_MASTER of the same file: the lease check's master put under idr_mutex is not the last",
    expect: "clean",
    scenario: leaseLookupVsSetmaster,
    kernelRef:
      "drivers/gpu/drm/drm_lease.c _drm_lease_held(), drm_lease_destroy(); drm_mode_object.c __drm_mode_object_find(); drm_auth.c drm_new_set_master()",
    finds: [],
    window: GEM_LEASE_HELD_PUT_UNDER_IDR_MUTEX.name,
    // With every fix switch off, PCT depth 3 seed 5 reaches it at schedule N (qxl-toggles.test.ts).
    schedules: 100,
    how: "lockdep: possible recursive locking detected (mode_config.idr_mutex, taken by drm_lease_destroy() under __drm_mode_object_find()), then a deadlock",
  },
];
