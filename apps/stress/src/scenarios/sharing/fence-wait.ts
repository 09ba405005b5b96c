/**
 * fence-wait: an exporter process on the first driver shares a buffer with importer processes
 * on the second driver and attaches its "GPU work" to it as a write fence (a sw_sync point
 * imported with DMA_BUF_IOCTL_IMPORT_SYNC_FILE, as a driver's job fence would be). The importers
 * wait for it: with poll(POLLIN) on the dma-buf, or by exporting a sync_file
 * (DMA_BUF_IOCTL_EXPORT_SYNC_FILE) and polling that. GPU hangs are injected from the seed: the
 * exporter's job never completes and the exporter process dies, which releases its sw_sync
 * timeline and so signals the stuck fence with an error, as a GPU reset does; otherwise the job
 * completes (the timeline advances) at a point drawn by the scheduler. 1-2 importers.
 *
 * What must hold: every waiter wakes up (no lost wakeup: poll returns ready before its virtual
 * timeout), the buffer is readable afterwards, and everything is freed, fences and callbacks
 * included, once every process has exited.
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import type { Process } from "@primetime/kernel";
import {
  close,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_WRITE,
  dmaBufExportSyncFile,
  dmaBufImportSyncFile,
  poll,
  recvFd,
  sendFd,
  swSyncCreateFence,
  swSyncCreateTimeline,
  swSyncInc,
} from "@primetime/libdrm";
import { choose } from "@primetime/sim";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { bootMachine, check, type Machine, openDevice, size } from "./machine.js";

const PAGE = 4096;
/** POLLIN (include/uapi/asm-generic/poll.h). */
const POLLIN = 0x001;
/** How long a waiter waits, in virtual ns: far beyond any work of the scenario. */
const WAIT_NS = 5_000_000_000;

/** What a fence-wait run drew and booted: the state its processes share. */
interface FenceWaitRun {
  readonly m: Machine;
  readonly devA: DeviceUnderTest;
  readonly devB: DeviceUnderTest;
  readonly hang: boolean;
  /** How importer i waits: 0 poll on the dma-buf, 1 poll on an exported sync_file. */
  readonly how: readonly number[];
  readonly importers: Process[];
}

/**
 * Importer `i`: receives the dma-buf, imports it and waits for the write fence. Module-level,
 * with the run's state as an argument (see Machine.process).
 */
async function fenceWaitImporter(
  p: Process,
  { r, i }: { readonly r: FenceWaitRun; readonly i: number },
): Promise<void> {
  const { m, devB, how } = r;
  const fd = await openDevice(m, p, devB);
  const dmaBuf = await recvFd(p, { cloexec: true });
  const handle = await fd.primeFdToHandle(dmaBuf);
  let waitFd = dmaBuf;
  if (how[i] === 1) waitFd = await dmaBufExportSyncFile(p, dmaBuf, DMA_BUF_SYNC_READ);
  const fds = [{ fd: waitFd, events: POLLIN, revents: 0 }];
  const ready = await poll(p, fds, WAIT_NS);
  check(
    ready === 1 && (fds[0]!.revents & POLLIN) !== 0,
    `importer${i}: ${how[i] === 1 ? "sync_file" : "dma-buf"} poll gave ${ready} (revents ${fds[0]!.revents}): the fence's completion was lost`,
  );
  if (waitFd !== dmaBuf) await close(p, waitFd);
  await fd.gemClose(handle);
  await close(p, dmaBuf);
  await fd.close();
}

/** The exporter: shares a buffer carrying its job's write fence, then completes the job or hangs. */
async function fenceWaitExporter(p: Process, r: FenceWaitRun): Promise<void> {
  const { m, devA } = r;
  const fd = await openDevice(m, p, devA);
  const handle = await devA.createBo(fd, PAGE);
  const dmaBuf = await fd.primeHandleToFd(handle);
  const timeline = await swSyncCreateTimeline(p);
  const job = await swSyncCreateFence(p, timeline, 1);
  await dmaBufImportSyncFile(p, dmaBuf, job, DMA_BUF_SYNC_WRITE);
  await close(p, job);
  for (const imp of r.importers) await sendFd(p, imp, dmaBuf);
  await close(p, dmaBuf);
  await fd.gemClose(handle);
  // A hung GPU: the job never completes, the process dies; its timeline's release
  // signals the job's fence with an error (the reset path).
  if (r.hang) await p.exit(1);
  await swSyncInc(p, timeline, 1);
  await close(p, timeline);
  await fd.close();
}

export const FENCE_WAIT: CampaignScenario = {
  name: "fence-wait",
  description:
    "importers wait on the exporter's write fence (poll on the dma-buf or on an exported sync_file) while GPU hangs are injected",
  kernelRef:
    "drivers/dma-buf/dma-buf.c (dma_buf_poll, DMA_BUF_IOCTL_EXPORT/IMPORT_SYNC_FILE), drivers/dma-buf/sw_sync.c, dma-resv.c",
  expect: "clean",
  arity: 2,
  faultTolerant: false,
  build(drivers, opts) {
    return async (sim) => {
      const m = await bootMachine(sim, drivers, opts.faults);
      const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
      const waiters = size(1, 2, "importers");
      const hang = choose(2, "gpu hang") === 1;
      const how: number[] = [];
      for (let i = 0; i < waiters; i++) how.push(choose(2, `wait[${i}]`));
      const r: FenceWaitRun = { m, devA, devB, hang, how, importers: [] };
      for (let i = 0; i < waiters; i++)
        r.importers.push(m.process(`importer${i}`, fenceWaitImporter, { r, i }));
      const exporter = m.process("exporter", fenceWaitExporter, r);
      await m.finish([exporter, ...r.importers]);
    };
  },
};
