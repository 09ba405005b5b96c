/**
 * cross-share: an exporter process on the first driver creates buffers, fills them and exports
 * them as dma-bufs; it passes the fds (SCM_RIGHTS) to an importer process on the second driver,
 * which imports them (PRIME_FD_TO_HANDLE) and checks their contents by checksum: through its
 * driver's GPU path where it has one that reaches the buffer (gpu-paths.ts: qxl's CRC draw,
 * vmwgfx's copy), else through its own CPU view (its mapping of the handle, or of the dma-buf
 * where its driver refuses to map imports). The exporter fills through its GPU path too, and the
 * importer waits for that work by implicit sync (poll on the dma-buf). A side maps a buffer
 * only when its CPU touches it, as userspace does: a side whose GPU path fills and checks its
 * buffers makes no mapping of them. Both sides then close their handles, fds and mappings in
 * orders drawn from the seed, while the other side is still working. The sizes (1-3 buffers of
 * 1-4 pages) come from the seed.
 *
 * What must hold: the importer sees exactly what the exporter wrote; a re-import gives the same
 * handle; whatever the order of closes on both sides, everything is freed once both processes
 * have exited (no object, dma-buf, handle or PRIME entry left, nothing for kmemleak).
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import type { BoMapping } from "@primetime/gem";
import type { Process } from "@primetime/kernel";
import { close, type DrmFd, isSysError, mmapDmaBuf, recvFd, sendFd } from "@primetime/libdrm";
import { choose } from "@primetime/sim";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { expectedCrc, type GpuClient, type GpuPath, gpuPathOf, waitIdle } from "./gpu-paths.js";
import {
  bootMachine,
  check,
  checksum,
  expectedChecksum,
  type Machine,
  openDevice,
  patternOf,
  shuffle,
  size,
} from "./machine.js";

const PAGE = 4096;

/**
 * Drivers whose map ioctl refuses an imported handle with -EINVAL: their map offset is
 * drm_gem_dumb_map_offset()'s (qxl's QXL_MAP through qxl_mode_dumb_mmap(), vgem's
 * MODE_MAP_DUMB), which does not map imports. Their userspace knows it and maps the dma-buf
 * instead, without the failing ioctl; any other driver is tried first.
 */
const REFUSES_IMPORT_MAPS: ReadonlySet<string> = new Set(["qxl", "vgem"]);

/** The importer's CPU view of an imported handle (see the file comment). */
export async function importerView(
  dev: DeviceUnderTest,
  fd: DrmFd,
  handle: number,
  dmaBufFd: number,
  len: number,
): Promise<BoMapping> {
  if (!REFUSES_IMPORT_MAPS.has(dev.driver.name)) {
    try {
      return await dev.mapBo(fd, handle, len);
    } catch (e) {
      if (!isSysError(e, "EINVAL")) throw e;
    }
  }
  return mmapDmaBuf(fd.proc, dmaBufFd, len);
}

/** A dumb buffer of `len` bytes and its mapping (MODE_CREATE_DUMB, MODE_MAP_DUMB, mmap). */
async function createMappedDumb(
  dev: DeviceUnderTest,
  fd: DrmFd,
  len: number,
): Promise<{ handle: number; map: BoMapping }> {
  const handle = await dev.createBo(fd, len);
  return { handle, map: await dev.mapBo(fd, handle, len) };
}

/** How often the sharing scenarios took each driver's GPU path (the test checks they do). */
export const gpuStats: { fills: Record<string, number>; checksums: Record<string, number> } = {
  fills: {},
  checksums: {},
};

/**
 * Checks buffer `i` as side `who` sees it: through the device (its GPU path's checksum) when its
 * driver has one that reaches the handle, else the CPU checksum of the side's view of it, mapped
 * now if the side has none yet (`importerView()` for an import, the driver's map of its own
 * buffer otherwise). The buffer is idle: the caller waited for the exporter's GPU fill.
 * `foreign`: the handle imports another device's buffer (the importer's side).
 */
async function checkContents(
  who: string,
  dev: DeviceUnderTest,
  fd: DrmFd,
  gpu: { path: GpuPath; client: GpuClient } | null,
  b: Held,
  c: { len: number; value: number; i: number },
  foreign: boolean,
): Promise<void> {
  const crc = gpu ? await gpu.client.checksum(b.handle, c.len, b.dmaBuf, foreign) : null;
  if (crc !== null) {
    gpuStats.checksums[gpu!.path.name] = (gpuStats.checksums[gpu!.path.name] ?? 0) + 1;
    check(
      crc === expectedCrc(c.value, c.len),
      `${who} (${dev.driver.name}, GPU) sees buffer ${c.i} with CRC ${crc.toString(16)}, not what was written`,
    );
    return;
  }
  b.view ??= foreign
    ? await importerView(dev, fd, b.handle, b.dmaBuf, c.len)
    : await dev.mapBo(fd, b.handle, c.len);
  const sum = checksum(await b.view.read());
  check(
    sum === expectedChecksum(c.value, c.len),
    `${who} (${dev.driver.name}, CPU) sees buffer ${c.i} with checksum ${sum.toString(16)}, not what was written`,
  );
}

/** What a cross-share run drew and booted: the state its two processes share. */
interface CrossShareRun {
  readonly m: Machine;
  readonly devA: DeviceUnderTest;
  readonly devB: DeviceUnderTest;
  readonly n: number;
  readonly pages: readonly number[];
  readonly base: number;
  readonly gpuA: GpuPath | null;
  readonly gpuB: GpuPath | null;
  importer: Process | null;
}

/** A buffer one side holds: its handle, its dma-buf fd and its CPU view (null until mapped). */
interface Held {
  readonly handle: number;
  readonly dmaBuf: number;
  view: BoMapping | null;
}

/** One of the closes a side makes at the end, in an order drawn from the seed. */
interface CloseStep {
  readonly what: "munmap" | "close dma-buf" | "GEM_CLOSE";
  readonly b: Held;
}

/** The closes of every held buffer: munmap (if mapped), close of the dma-buf fd, GEM_CLOSE. */
function closeSteps(held: readonly Held[]): CloseStep[] {
  const steps: CloseStep[] = [];
  for (const b of held) {
    if (b.view) steps.push({ what: "munmap", b });
    steps.push({ what: "close dma-buf", b }, { what: "GEM_CLOSE", b });
  }
  return steps;
}

function runCloseStep(p: Process, fd: DrmFd, s: CloseStep): Promise<unknown> {
  switch (s.what) {
    case "munmap":
      return s.b.view!.unmap();
    case "close dma-buf":
      return close(p, s.b.dmaBuf);
    case "GEM_CLOSE":
      return fd.gemClose(s.b.handle);
  }
}

/**
 * The importer: receives each dma-buf, imports it (twice: the same handle), checks its contents,
 * then closes everything in a drawn order. Module-level, with the run's state as an argument
 * (see Machine.process).
 */
async function crossShareImporter(p: Process, r: CrossShareRun): Promise<void> {
  const { m, devA, devB, n, pages, base, gpuA, gpuB } = r;
  const fd = await openDevice(m, p, devB);
  const gpu = gpuB && { path: gpuB, client: gpuB.client(devB, fd) };
  const got: Held[] = [];
  for (let i = 0; i < n; i++) {
    const dmaBuf = await recvFd(p, { cloexec: true });
    const handle = await fd.primeFdToHandle(dmaBuf);
    const again = await fd.primeFdToHandle(dmaBuf);
    check(again === handle, `re-import of buffer ${i} gave handle ${again}, not ${handle}`);
    const len = pages[i]! * PAGE;
    // The exporter's GPU may still be filling it: implicit sync through the dma-buf.
    if (gpuA) await waitIdle(p, dmaBuf, `importer: buffer ${i}`);
    const b: Held = { handle, dmaBuf, view: null };
    const c = { len, value: patternOf(base, i), i };
    await checkContents("the importer", devB, fd, gpu, b, c, devB !== devA);
    got.push(b);
  }
  const steps = closeSteps(got);
  await gpu?.client.close();
  for (const s of shuffle(steps, "importer close order")) await runCloseStep(p, fd, s);
  await fd.close();
}

/**
 * The exporter: creates, fills and exports each buffer and sends its fd to the importer, reads
 * its own view back, then closes everything in a drawn order.
 */
async function crossShareExporter(p: Process, r: CrossShareRun): Promise<void> {
  const { m, devA, n, pages, base, gpuA } = r;
  const fd = await openDevice(m, p, devA);
  const gpu = gpuA && { path: gpuA, client: gpuA.client(devA, fd) };
  const mine: Held[] = [];
  for (let i = 0; i < n; i++) {
    const len = pages[i]! * PAGE;
    // Made as its driver's userspace makes one (vmwgfx: ALLOC_BO), else a dumb buffer; filled
    // by its GPU path (no mapping), else through a mapping.
    let handle: number;
    let view: BoMapping | null = null;
    if (gpu) {
      handle = gpu.client.create ? await gpu.client.create(len) : await devA.createBo(fd, len);
      await gpu.client.fill(handle, len, patternOf(base, i));
      gpuStats.fills[gpu.path.name] = (gpuStats.fills[gpu.path.name] ?? 0) + 1;
    } else {
      ({ handle, map: view } = await createMappedDumb(devA, fd, len));
      await view.fill(patternOf(base, i));
    }
    const dmaBuf = await fd.primeHandleToFd(handle);
    await sendFd(p, r.importer!, dmaBuf);
    mine.push({ handle, dmaBuf, view });
  }
  // The exporter's own view, read back while the importer works on the same pages. A
  // GPU path that runs its commands in order checks after its own fill without a wait.
  for (let i = 0; i < mine.length; i++) {
    const b = mine[i]!;
    if (gpuA && !gpuA.inOrder) await waitIdle(p, b.dmaBuf, `exporter: buffer ${i}`);
    const c = { len: pages[i]! * PAGE, value: patternOf(base, i), i };
    await checkContents("the exporter", devA, fd, gpu, b, c, false);
  }
  const steps = closeSteps(mine);
  await gpu?.client.close();
  for (const s of shuffle(steps, "exporter close order")) await runCloseStep(p, fd, s);
  // Closing the DRM fd early or last: both must free everything.
  await fd.close();
}

export const CROSS_SHARE: CampaignScenario = {
  name: "cross-share",
  description:
    "an exporter process fills and exports buffers, an importer process on the other driver imports them over fd passing and checks their checksums; both close in seeded orders",
  kernelRef:
    "drivers/gpu/drm/drm_prime.c (export, import, the PRIME caches), drivers/dma-buf/dma-buf.c, net/unix SCM_RIGHTS; IGT prime_vgem.c",
  expect: "clean",
  arity: 2,
  faultTolerant: true,
  build(drivers, opts) {
    return async (sim) => {
      // The exporter is devA's one client and the importer devB's (two devices for a pair of
      // one driver): no display server.
      const m = await bootMachine(sim, drivers, opts.faults, { soleClients: true });
      const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
      const n = size(1, 3, "buffers");
      const pages: number[] = [];
      for (let i = 0; i < n; i++) pages.push(size(1, 4, `pages[${i}]`));
      const base = choose(256, "pattern");
      const r: CrossShareRun = {
        m,
        devA,
        devB,
        n,
        pages,
        base,
        gpuA: gpuPathOf(devA),
        gpuB: gpuPathOf(devB),
        importer: null,
      };
      const importer = m.process("importer", crossShareImporter, r);
      r.importer = importer;
      const exporter = m.process("exporter", crossShareExporter, r);
      await m.finish([exporter, importer]);
    };
  },
};
