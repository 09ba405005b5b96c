/**
 * compositor: client processes on the first driver each render a frame into a buffer and hand
 * its dma-buf fd to a compositor process on the second driver over fd passing (SCM_RIGHTS); the
 * compositor imports each frame, checks its checksum and releases it. Some clients (drawn from
 * the seed) exit abruptly right after handing their frame over, mid-frame from the compositor's
 * point of view: without closing anything, so their exit tears down their fd table, handles and
 * mappings while the compositor is still importing and reading the buffer. 2-3 clients, frames
 * of 1-3 pages, from the seed.
 *
 * What must hold: the compositor sees every frame as its client drew it, even when the client
 * is already gone (the dma-buf keeps the exporter's object alive), and everything is freed once
 * every process has exited.
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import type { Process } from "@primetime/kernel";
import { close, dmaBufSize, recvFd, sendFd } from "@primetime/libdrm";
import { choose } from "@primetime/sim";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { importerView } from "./cross-share.js";
import {
  bootMachine,
  check,
  checksum,
  expectedChecksum,
  type Machine,
  openDevice,
  patternOf,
  size,
} from "./machine.js";

const PAGE = 4096;

/** What a compositor run drew and booted: the state its processes share. */
interface CompositorRun {
  readonly m: Machine;
  readonly devA: DeviceUnderTest;
  readonly devB: DeviceUnderTest;
  readonly clients: number;
  readonly pages: readonly number[];
  readonly crashes: readonly boolean[];
  readonly base: number;
  compositor: Process | null;
}

/** The first client whose frame has `len` bytes and checksum `sum`, or -1. */
function frameOwner(r: CompositorRun, len: number, sum: number): number {
  for (let i = 0; i < r.pages.length; i++)
    if (r.pages[i]! * PAGE === len && sum === expectedChecksum(patternOf(r.base, i), len)) return i;
  return -1;
}

/**
 * The compositor: imports each frame it receives, checks it against the clients' drawings and
 * releases it. Module-level, with the run's state as an argument (see Machine.process).
 */
async function compositorMain(p: Process, r: CompositorRun): Promise<void> {
  const { m, devB, clients } = r;
  const fd = await openDevice(m, p, devB);
  for (let f = 0; f < clients; f++) {
    const dmaBuf = await recvFd(p, { cloexec: true });
    const handle = await fd.primeFdToHandle(dmaBuf);
    // Which client sent it: the frame's size says (sizes may repeat: any match will do).
    const len = await dmaBufSize(p, dmaBuf);
    const view = await importerView(devB, fd, handle, dmaBuf, len);
    const sum = checksum(await view.read());
    const from = frameOwner(r, len, sum);
    check(from >= 0, `frame ${f} (${len} bytes) matches no client's drawing`);
    await view.unmap();
    await fd.gemClose(handle);
    await close(p, dmaBuf);
  }
  await fd.close();
}

/** Client `i`: draws its frame, hands it over, then closes everything or dies mid-frame. */
async function compositorClient(
  p: Process,
  { r, i }: { readonly r: CompositorRun; readonly i: number },
): Promise<void> {
  const { m, devA } = r;
  const fd = await openDevice(m, p, devA);
  const len = r.pages[i]! * PAGE;
  const handle = await devA.createBo(fd, len);
  const map = await devA.mapBo(fd, handle, len);
  await map.fill(patternOf(r.base, i));
  const dmaBuf = await fd.primeHandleToFd(handle);
  await sendFd(p, r.compositor!, dmaBuf);
  // Mid-frame: gone with everything still open.
  if (r.crashes[i]) await p.exit(1);
  await map.unmap();
  await close(p, dmaBuf);
  await fd.gemClose(handle);
  await fd.close();
}

export const COMPOSITOR: CampaignScenario = {
  name: "compositor",
  description:
    "clients hand dma-buf frames to a compositor over fd passing; some exit abruptly mid-frame; the compositor checks every frame",
  kernelRef:
    "drivers/gpu/drm/drm_prime.c, drivers/dma-buf/dma-buf.c, kernel/exit.c (exit_files, exit_mm) under a Wayland-style compositor",
  expect: "clean",
  arity: 2,
  faultTolerant: false,
  build(drivers, opts) {
    return async (sim) => {
      const m = await bootMachine(sim, drivers, opts.faults);
      const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
      const clients = size(2, 3, "clients");
      const pages: number[] = [];
      for (let i = 0; i < clients; i++) pages.push(size(1, 3, `pages[${i}]`));
      const crashes: boolean[] = [];
      for (let i = 0; i < clients; i++) crashes.push(choose(2, `crash[${i}]`) === 1);
      const base = choose(256, "pattern");
      const r: CompositorRun = { m, devA, devB, clients, pages, crashes, base, compositor: null };
      const compositor = m.process("compositor", compositorMain, r);
      r.compositor = compositor;
      const procs: Process[] = [compositor];
      for (let i = 0; i < clients; i++)
        procs.push(m.process(`client${i}`, compositorClient, { r, i }));
      await m.finish(procs);
    };
  },
};
