/**
 * surface-reaper: qxl hardware surface ids run out while surfaces are shared and freed. The
 * exporter device is a qxl with three surface slots (ids 1 and 2 usable, as qxl's own
 * surface-pressure test has it); 2-3 processes each allocate two surfaces (QXL_ALLOC_SURF) and
 * give each a hardware surface (UPDATE_AREA, which calls qxl_bo_check_id()), so there are more
 * live surfaces than ids and qxl_reap_surface_id() evicts surfaces other processes use. Process
 * i shares its first surface: even ones by flink with process i + 1 (which GEM_OPENs the name and
 * updates the surface), odd ones by PRIME with an importer process on the second driver (which
 * imports the dma-buf, maps and reads it, and closes everything in a seeded order). Handles,
 * names and fds are closed in seeded orders while the reaper runs.
 *
 * The surface memory type holds one surface or 64 (from the seed): with one, surfaces live in
 * VRAM, where the 2015 `qxl.dual-refcount` use-after-free in qxl_reap_surf() shows (qxl's
 * toggle test uses the same device).
 *
 * Mainline reports it accepts (see qxl's README and KNOWN-WINDOWS.md, `qxl.reap-reserve-without-
 * ctx`): the reaper's recursive reservation (lockdep "possible recursive locking detected" with
 * surf_evict_mutex, whenever ids run out) and the deadlock it can become between two reaping
 * tasks. Clean campaigns close that window (its fix switch is in baselineFixes()); with
 * `--open-windows`, `withoutKnownReports` drops exactly these reports, with qxl's own predicates
 * (isKnownReapRecursion, isKnownReapDeadlock of `@primetime/qxl/testing`).
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import type { DriverUnderTest } from "@primetime/gem";
import type { Process } from "@primetime/kernel";
import { close, type DrmFd, recvFd, sendFd } from "@primetime/libdrm";
import { createQxl, QXL_DRIVER_NAME, type QxlDeviceHandle } from "@primetime/qxl";
import {
  isKnownReapDeadlock,
  isKnownReapRecursion,
  qxlAllocSurf,
  qxlExecDraw,
  qxlUpdateArea,
} from "@primetime/qxl/testing";
import { Completion, choose } from "@primetime/sim";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { importerView } from "./cross-share.js";
import { bootMachine, check, openDevice, shuffle, size } from "./machine.js";

const WIDTH = 16;
const HEIGHT = 16;
const SURFACE_BYTES = WIDTH * HEIGHT * 4;

/** qxl with three surface slots and a surface memory type of `surfacePages` pages. */
function tightQxl(
  base: DriverUnderTest,
  surfacePages: number,
  made: QxlDeviceHandle[],
): DriverUnderTest {
  return {
    ...base,
    async register(kernel) {
      const q = await createQxl(kernel, { nSurfaces: 3, surfacePages });
      made.push(q);
      return q;
    },
  };
}

/** QXL_ALLOC_SURF of a WIDTH x HEIGHT surface (qxl's test helper); throws on failure. */
async function allocSurf(p: Process, fd: DrmFd): Promise<number> {
  const h = await qxlAllocSurf(p, fd.fd, WIDTH, HEIGHT);
  check(h > 0, `QXL_ALLOC_SURF = ${h}`);
  return h;
}

/**
 * EXECBUFFER of one fill drawable into the surface (a QXL_RELOC_TYPE_SURF relocation, qxl's test
 * helper qxlExecDraw()): the release keeps a reference to the surface object until the device
 * hands it back.
 */
async function drawSurface(p: Process, fd: DrmFd, handle: number, value: number): Promise<void> {
  const r = await qxlExecDraw(p, fd.fd, {
    op: "fill",
    size: SURFACE_BYTES,
    value,
    dst: { handle, offset: 0, surface: true },
  });
  check(r === 0, `QXL_EXECBUFFER = ${r}`);
}

/** UPDATE_AREA of the whole surface: gives it a surface id (reaping others when none is free). */
async function updateArea(p: Process, fd: DrmFd, handle: number): Promise<void> {
  const r = await qxlUpdateArea(p, fd.fd, handle, WIDTH, HEIGHT);
  check(r === 0, `QXL_UPDATE_AREA = ${r}`);
}

export const SURFACE_REAPER: CampaignScenario = {
  name: "surface-reaper",
  description:
    "qxl with 3 surface slots: 2-3 processes allocate and update surfaces, share them by flink and by PRIME with the other driver and close them while the reaper evicts surfaces",
  kernelRef:
    "drivers/gpu/drm/qxl/qxl_object.c (qxl_bo_check_id), qxl_cmd.c (qxl_surface_id_alloc, qxl_reap_surface_id, qxl_reap_surf), qxl_ioctl.c, drivers/gpu/drm/drm_prime.c",
  expect: "clean",
  arity: 2,
  fits: (drivers) => drivers[0]?.name === QXL_DRIVER_NAME,
  finds: ["qxl.dual-refcount"],
  harnessTasks: ["main", "drm-master0", "drm-master1"],
  withoutKnownReports(run) {
    if (isKnownReapDeadlock(run)) return { ...run, outcome: "ok", splats: [] };
    const splats = run.splats.filter((s) => !isKnownReapRecursion(s));
    return splats.length === run.splats.length ? run : { ...run, splats };
  },
  build(drivers) {
    return async (sim) => {
      const surfacePages = choose(2, "surface memory type holds one surface") === 0 ? 1 : 64;
      const made: QxlDeviceHandle[] = [];
      const qxl = tightQxl(drivers[0]!, surfacePages, made);
      const m = await bootMachine(sim, [qxl, drivers[1]!], null);
      const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
      const n = size(2, 3, "processes");
      const odd = Array.from({ length: n }, (_, i) => i).filter((i) => i % 2 === 1).length;
      const names = Array.from({ length: n }, () => ({
        name: 0,
        ready: new Completion("flink ready"),
        opened: new Completion("flink opened"),
      }));
      const importer = m.process("importer", async (p) => {
        const fd = await openDevice(m, p, devB);
        for (let k = 0; k < odd; k++) {
          const dmaBuf = await recvFd(p, { cloexec: true });
          const handle = await fd.primeFdToHandle(dmaBuf);
          const view = await importerView(devB, fd, handle, dmaBuf, SURFACE_BYTES);
          await view.read();
          const steps = [() => view.unmap(), () => close(p, dmaBuf), () => fd.gemClose(handle)];
          for (const s of shuffle(steps, `importer close order ${k}`)) await s();
        }
        await fd.close();
      });
      const procs = [importer];
      for (let i = 0; i < n; i++) {
        procs.push(
          m.process(`surf${i}`, async (p) => {
            const fd = await openDevice(m, p, devA);
            const s1 = await allocSurf(p, fd);
            await drawSurface(p, fd, s1, i + 1);
            // A second surface, drawn and closed at once while its draw may still be running
            // (the device hands the release back later): the reaper may be waiting for it.
            const s2 = await allocSurf(p, fd);
            await drawSurface(p, fd, s2, 0x80 + i);
            await fd.gemClose(s2);
            let dmaBuf = -1;
            if (i % 2 === 0) {
              names[i]!.name = await fd.gemFlink(s1);
              names[i]!.ready.complete();
            } else {
              dmaBuf = await fd.primeHandleToFd(s1);
              await sendFd(p, importer, dmaBuf);
            }
            const prev = i % 2 === 1 ? names[i - 1] : undefined;
            if (prev) {
              await prev.ready.wait();
              const { handle } = await fd.gemOpen(prev.name);
              await updateArea(p, fd, handle);
              await fd.gemClose(handle);
              prev.opened.complete();
            }
            // The flink name must stay alive until the neighbour has opened it.
            if (i % 2 === 0 && i + 1 < n) await names[i]!.opened.wait();
            const steps = [() => fd.gemClose(s1)];
            if (dmaBuf >= 0) steps.push(() => close(p, dmaBuf));
            for (const s of shuffle(steps, `surf${i} close order`)) await s();
            await fd.close();
          }),
        );
      }
      // m.finish() settles the qxl device (releases back, release BO cache dropped).
      await m.finish(procs);
    };
  },
};
