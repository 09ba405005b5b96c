/**
 * mmap-vs-close: one process maps a buffer of its driver twice, through its GEM handle and
 * through its dma-buf, and a reader thread keeps reading and writing both mappings while a
 * closer thread closes the GEM handle, the dma-buf fd and finally unmaps the first mapping, in
 * an order drawn from the seed. The mappings hold their own references (the VMA holds the file
 * and the object), so every access the reader makes must see the buffer's contents, never freed
 * pages, and everything is freed once the process has exited. 1-4 pages and 2-4 rounds of
 * reads, from the seed.
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import type { BoMapping } from "@primetime/gem";
import type { Process } from "@primetime/kernel";
import { close, type DrmFd, mmapDmaBuf } from "@primetime/libdrm";
import { choose } from "@primetime/sim";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import {
  bootMachine,
  check,
  checksum,
  expectedChecksum,
  type Machine,
  openDevice,
  shuffle,
  size,
} from "./machine.js";

const PAGE = 4096;

/** What a mmap-vs-close run drew and booted. */
interface MmapVsCloseRun {
  readonly m: Machine;
  readonly dev: DeviceUnderTest;
  readonly len: number;
  readonly rounds: number;
  readonly value: number;
}

/** The state the mapper's reader and closer threads share. */
interface Mapped {
  readonly p: Process;
  readonly fd: DrmFd;
  readonly handle: number;
  readonly dmaBuf: number;
  readonly gemMap: BoMapping;
  readonly bufMap: BoMapping;
  readonly want: number;
  readonly rounds: number;
  readonly value: number;
  /** False once the closer has started unmapping the GEM mapping. */
  gemMapped: boolean;
}

/**
 * The mapper process: maps the buffer twice, then runs the reader and closer threads. The
 * functions are module-level, with the run's state as an argument (see Machine.process).
 */
async function mapperMain(p: Process, r: MmapVsCloseRun): Promise<void> {
  const { m, dev, len, value } = r;
  const fd = await openDevice(m, p, dev);
  const handle = await dev.createBo(fd, len);
  const gemMap = await dev.mapBo(fd, handle, len);
  await gemMap.fill(value);
  const dmaBuf = await fd.primeHandleToFd(handle);
  const bufMap = await mmapDmaBuf(p, dmaBuf, len);
  const want = expectedChecksum(value, len);
  const s: Mapped = {
    p,
    fd,
    handle,
    dmaBuf,
    gemMap,
    bufMap,
    want,
    rounds: r.rounds,
    value,
    gemMapped: true,
  };
  const reader = p.spawnThread("reader", readerMain.bind(null, s));
  const closer = p.spawnThread("closer", closerMain.bind(null, s));
  await reader.join();
  await closer.join();
  await bufMap.unmap();
  await fd.close();
}

/** The reader thread: reads both mappings and writes the dma-buf's, `rounds` times. */
async function readerMain(s: Mapped): Promise<void> {
  const { bufMap, gemMap, want } = s;
  for (let r = 0; r < s.rounds; r++) {
    const a = checksum(await bufMap.read());
    check(a === want, `round ${r}: the dma-buf mapping reads checksum ${a.toString(16)}`);
    if (s.gemMapped) {
      // The closer may unmap it meanwhile: then the access faults (EFAULT), as in C.
      try {
        const b = checksum(await gemMap.read());
        check(b === want, `round ${r}: the GEM mapping reads checksum ${b.toString(16)}`);
      } catch (e) {
        if (s.gemMapped) throw e;
      }
    }
    await bufMap.write(new Uint8Array(PAGE).fill(s.value));
  }
}

/** The closer's steps: GEM_CLOSE, close of the dma-buf fd, munmap of the GEM mapping. */
const CLOSER_STEPS: readonly number[] = [0, 1, 2];

/** The closer thread: the three closes in an order drawn from the seed. */
async function closerMain(s: Mapped): Promise<void> {
  for (const step of shuffle(CLOSER_STEPS, "close order")) await closerStep(s, step);
}

function closerStep(s: Mapped, step: number): Promise<unknown> {
  if (step === 0) return s.fd.gemClose(s.handle);
  if (step === 1) return close(s.p, s.dmaBuf);
  return unmapGem(s);
}

async function unmapGem(s: Mapped): Promise<void> {
  s.gemMapped = false;
  await s.gemMap.unmap();
}

export const MMAP_VS_CLOSE: CampaignScenario = {
  name: "mmap-vs-close",
  description:
    "a reader thread uses a buffer's GEM and dma-buf mappings while a closer thread closes the handle, the dma-buf fd and a mapping",
  kernelRef:
    "drivers/gpu/drm/drm_gem.c (drm_gem_mmap_obj, drm_gem_vm_open/close), drivers/dma-buf/dma-buf.c (dma_buf_mmap), mm/mmap.c",
  expect: "clean",
  arity: 1,
  faultTolerant: true,
  build(drivers, opts) {
    return async (sim) => {
      // One process opens the device (its DRM master where allocation needs authentication).
      const m = await bootMachine(sim, drivers, opts.faults, { soleClients: true });
      const dev = m.devices[0] as DeviceUnderTest;
      const len = size(1, 4, "pages") * PAGE;
      const rounds = size(2, 4, "rounds");
      const value = choose(256, "pattern");
      const proc = m.process("mapper", mapperMain, { m, dev, len, rounds, value });
      await m.finish([proc]);
    };
  },
};
