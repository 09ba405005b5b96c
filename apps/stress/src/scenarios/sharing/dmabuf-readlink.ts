/**
 * dmabuf-readlink: an exporter process on the first driver exports a buffer as a dma-buf, names
 * it (DMA_BUF_SET_NAME) and passes the fd (SCM_RIGHTS) to an importer process on the second
 * driver, which imports it (PRIME_FD_TO_HANDLE). Then, in each process, a reader thread
 * readlinks the dma-buf's /proc/<pid>/fd/<n> entries (its own process's fd and the other
 * process's: ls -l /proc/<pid>/fd, lsof) while a closer thread drops that process's references
 * (its dma-buf fd and its GEM handle, in an order drawn from the seed); the importer may instead
 * exit with them still open (drawn), leaving them to exit_files() and the DRM file's release.
 *
 * readlink(2) of a dma-buf's fd takes a reference on the file's path, the dentry, not on the file
 * (proc_fd_link()), and names it with the dentry's ->d_dname, dmabuffs_dname(), which reads the
 * dma-buf through the dentry's d_fsdata. Whichever reference goes last, the dma-buf must outlive
 * every such readlink: the dentry's ->d_release frees it (v5.8+). What must hold: every readlink
 * gives "/dmabuf:<name>" or -ENOENT (the fd is already closed), and everything is freed once
 * both processes have exited. Toggle `dma-buf.release-in-fops` frees the dma-buf in the file's
 * ->release instead: a readlink that took the path before the last close reads the freed dma-buf.
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import { DMA_BUF_SET_NAME_B } from "@primetime/dma-buf";
import {
  ENOENT,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { close, type DrmFd, recvFd, sendFd } from "@primetime/libdrm";
import { Completion } from "@primetime/sim";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { bootMachine, check, type Machine, openDevice, shuffle, size } from "./machine.js";

const PAGE = 4096;

/** What a dmabuf-readlink run drew and booted: the state its two processes share. */
interface DmabufReadlinkRun {
  readonly m: Machine;
  readonly devA: DeviceUnderTest;
  readonly devB: DeviceUnderTest;
  readonly pages: number;
  /** The dma-buf's name (SET_NAME). */
  readonly name: string;
  /** The readlinks each reader makes of each entry. */
  readonly rounds: number;
  /** The importer exits with its references open instead of closing them. */
  readonly importerExits: boolean;
  importer: Process | null;
  /** The exporter's pid and its dma-buf fd, once exported. */
  exporterFd: { pid: number; fd: number } | null;
  /** Set once the importer has imported: the exporter's closer may start. */
  readonly imported: Completion;
}

/** The /proc/<pid>/fd/<n> entries a reader of a process readlinks. */
function entries(p: Process, fd: number, other: { pid: number; fd: number } | null): string[] {
  const out = [`/proc/${p.pid}/fd/${fd}`];
  if (other) out.push(`/proc/${other.pid}/fd/${other.fd}`);
  return out;
}

/** The reader thread: readlinks each entry `rounds` times; each must name the dma-buf or be gone. */
async function readerMain(
  p: Process,
  paths: readonly string[],
  r: DmabufReadlinkRun,
): Promise<void> {
  const buf = await p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  check(buf > 0, `mmap of the reader's buffer gave ${buf}`);
  const want = `/dmabuf:${r.name}`;
  for (let i = 0; i < r.rounds; i++)
    for (const path of paths) {
      const n = await p.readlink(path, buf, 256);
      if (n === -ENOENT) continue;
      check(n === want.length, `readlink(${path}) gave ${n}, not ${want.length} ("${want}")`);
      const bytes = await p.readMemory(buf, n);
      const got = typeof bytes === "number" ? String(bytes) : new TextDecoder().decode(bytes);
      check(got === want, `readlink(${path}) gave "${got}", not "${want}"`);
    }
}

/** One side's closes (its dma-buf fd, its GEM handle), in an order drawn from the seed. */
async function closerMain(
  p: Process,
  fd: DrmFd,
  dmaBuf: number,
  handle: number,
  label: string,
): Promise<void> {
  for (const step of shuffle([0, 1], label)) {
    if (step === 0) await close(p, dmaBuf);
    else await fd.gemClose(handle);
  }
}

/** The exporter: exports and names the buffer, sends it, then readlinks and closes. */
async function exporterMain(p: Process, r: DmabufReadlinkRun): Promise<void> {
  const fd = await openDevice(r.m, p, r.devA);
  const handle = await r.devA.createBo(fd, r.pages * PAGE);
  const dmaBuf = await fd.primeHandleToFd(handle);
  check((await p.ioctl(dmaBuf, DMA_BUF_SET_NAME_B, { name: r.name })) === 0, "SET_NAME failed");
  r.exporterFd = { pid: p.pid, fd: dmaBuf };
  await sendFd(p, r.importer!, dmaBuf);
  await r.imported.wait();
  const reader = p.spawnThread("reader", () => readerMain(p, entries(p, dmaBuf, null), r));
  const closer = p.spawnThread("closer", () =>
    closerMain(p, fd, dmaBuf, handle, "exporter close order"),
  );
  await reader.join();
  await closer.join();
  await fd.close();
}

/** The importer: receives and imports the dma-buf, then readlinks both entries and closes. */
async function importerMain(p: Process, r: DmabufReadlinkRun): Promise<void> {
  const fd = await openDevice(r.m, p, r.devB);
  const dmaBuf = await recvFd(p, { cloexec: true });
  const handle = await fd.primeFdToHandle(dmaBuf);
  const paths = entries(p, dmaBuf, r.exporterFd);
  r.imported.complete();
  const reader = p.spawnThread("reader", () => readerMain(p, paths, r));
  if (r.importerExits) {
    // exit_group() with the fd and the handle open: exit_files() and the DRM file's release.
    await reader.join();
    return;
  }
  const closer = p.spawnThread("closer", () =>
    closerMain(p, fd, dmaBuf, handle, "importer close order"),
  );
  await reader.join();
  await closer.join();
  await fd.close();
}

export const DMABUF_READLINK: CampaignScenario = {
  name: "dmabuf-readlink",
  description:
    "readers readlink a shared dma-buf's /proc/<pid>/fd entries (dmabuffs_dname) while the exporter and the importer on the other driver close their fds and handles or exit",
  kernelRef:
    "drivers/dma-buf/dma-buf.c (dmabuffs_dname, dma_buf_release as d_release, dma_buf_file_release), fs/proc/fd.c (proc_fd_link), fs/proc/base.c (proc_pid_readlink), fs/d_path.c",
  expect: "clean",
  arity: 2,
  finds: ["dma-buf.release-in-fops"],
  harnessTasks: ["main"],
  build(drivers, opts) {
    return async (sim) => {
      // The exporter is devA's one client and the importer devB's: no display server.
      const m = await bootMachine(sim, drivers, opts.faults, { soleClients: true });
      const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
      const r: DmabufReadlinkRun = {
        m,
        devA,
        devB,
        pages: size(1, 2, "pages"),
        name: ["scanout", "cursor", "video"][size(0, 2, "name")]!,
        rounds: size(1, 2, "rounds"),
        importerExits: size(0, 1, "importer exits") === 1,
        importer: null,
        exporterFd: null,
        imported: new Completion("imported"),
      };
      const importer = m.process("importer", importerMain, r);
      r.importer = importer;
      const exporter = m.process("exporter", exporterMain, r);
      await m.finish([exporter, importer]);
    };
  },
};
