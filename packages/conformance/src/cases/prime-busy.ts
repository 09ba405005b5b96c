/**
 * IGT tests/prime_busy.c with vgem fences standing in for i915's spinner. IGT's spinner is a
 * batch that writes its SCRATCH object and reads its BATCH object until ended: SCRATCH carries a
 * write fence, BATCH a read fence. Here both are vgem dumb buffers with a vgem write fence on
 * SCRATCH and a read fence on BATCH, exported before the fences are attached (`before`) or after
 * (`after`). poll() with no timeout must then find SCRATCH busy for readers and writers and BATCH
 * busy for writers only. Ending the spinner is signalling both fences; `hang` never does, and
 * vgem's fence timeout (10 s of virtual time, VGEM_FENCE_TIMEOUT) plays the part of i915's hang
 * recovery. Then BATCH must become idle for writers, by polling it with no timeout in a loop
 * (sleeping 100 ms of virtual time between tries, within IGT's 1 s or, hung, 120 s), or with one
 * poll(POLLOUT) of that timeout (`-wait`), and SCRATCH must be idle too.
 *
 * The fences are vgem's, so the cases run on vgem and skip on other drivers (igt_require()).
 */

import { close, type DrmFd, drmIoctl, poll } from "@primetime/libdrm";
import { sleep } from "@primetime/sim";
import {
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  type DrmVgemFenceAttach,
  VGEM_FENCE_WRITE,
} from "@primetime/uapi";
import { type CaseContext, type CaseSpec, SEQUENTIAL_DEFAULTS } from "../harness.js";

const group = "prime_busy";
/** POLLIN / POLLOUT. */
const POLLIN = 0x001;
const POLLOUT = 0x004;
const SECOND = 1_000_000_000;
/** The pause between two polls of the busy loop: 100 ms of virtual time. */
const STEP = 100_000_000;

const BEFORE = 0x1;
const AFTER = 0x2;
const HANG = 0x4;
const POLL = 0x8;

/** prime_busy(pfd, excl): poll(POLLOUT for a writer, POLLIN for a reader, 0) finds nothing. */
async function primeBusy(t: CaseContext, fd: number, excl: boolean): Promise<boolean> {
  return (await poll(t.proc, [{ fd, events: excl ? POLLOUT : POLLIN, revents: 0 }], 0)) === 0;
}

async function fenceAttach(t: CaseContext, drm: DrmFd, handle: number, flags: number) {
  const arg: DrmVgemFenceAttach = { handle, flags, out_fence: 0, pad: 0 };
  await drmIoctl(t.proc, drm.fd, DRM_IOCTL_VGEM_FENCE_ATTACH, arg);
  return arg.out_fence;
}

async function fenceSignal(t: CaseContext, drm: DrmFd, fence: number): Promise<void> {
  await drmIoctl(t.proc, drm.fd, DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence, flags: 0 });
}

function busy(name: string, flags: number): CaseSpec {
  return {
    name: `${group}/${name}`,
    group,
    race: false,
    description: `a vgem "spinner" (write fence on SCRATCH, read fence on BATCH), exported ${flags & BEFORE ? "before" : "after"} it starts${flags & HANG ? ", never ended (vgem's fence timeout ends it)" : ""}: busy as IGT expects, idle ${flags & POLL ? "after one poll(POLLOUT)" : "by polling in a loop"}`,
    defaults: SEQUENTIAL_DEFAULTS,
    async body(t: CaseContext) {
      const fd = await t.open();
      if (t.dev.driver.name !== "vgem") return void (await fd.close());
      const scratch = (await fd.createDumb({ width: 1024, height: 1, bpp: 32 })).handle;
      const batch = (await fd.createDumb({ width: 1024, height: 1, bpp: 32 })).handle;
      let scratchFd = -1;
      let batchFd = -1;
      if (flags & BEFORE) {
        scratchFd = await fd.primeHandleToFd(scratch);
        batchFd = await fd.primeHandleToFd(batch);
      }
      // The spinner starts: it writes SCRATCH and reads BATCH.
      const writeFence = await fenceAttach(t, fd, scratch, VGEM_FENCE_WRITE);
      const readFence = await fenceAttach(t, fd, batch, 0);
      if (flags & AFTER) {
        scratchFd = await fd.primeHandleToFd(scratch);
        batchFd = await fd.primeHandleToFd(batch);
      }
      t.check(await primeBusy(t, scratchFd, false), "SCRATCH not busy for readers");
      t.check(await primeBusy(t, scratchFd, true), "SCRATCH not busy for writers");
      t.check(!(await primeBusy(t, batchFd, false)), "BATCH busy for readers");
      t.check(await primeBusy(t, batchFd, true), "BATCH not busy for writers");

      let timeout = 120;
      if (!(flags & HANG)) {
        // igt_spin_end()
        await fenceSignal(t, fd, writeFence);
        await fenceSignal(t, fd, readFence);
        timeout = 1;
      }
      if (flags & POLL) {
        const fds = [{ fd: batchFd, events: POLLOUT, revents: 0 }];
        t.check((await poll(t.proc, fds, timeout * SECOND)) === 1, "BATCH still busy after poll");
      } else {
        let elapsed = 0;
        while (await primeBusy(t, batchFd, true)) {
          t.check(elapsed < timeout * SECOND, `BATCH still busy after ${timeout} s`);
          await sleep(STEP);
          elapsed += STEP;
        }
      }
      t.check(!(await primeBusy(t, scratchFd, true)), "SCRATCH still busy");

      await fd.gemClose(scratch);
      await fd.gemClose(batch);
      await close(t.proc, batchFd);
      await close(t.proc, scratchFd);
      await fd.close();
    },
  };
}

export const PRIME_BUSY: readonly CaseSpec[] = [
  busy("before", BEFORE),
  busy("before-wait", BEFORE | POLL),
  busy("after", AFTER),
  busy("after-wait", AFTER | POLL),
  busy("hang", BEFORE | HANG),
  busy("hang-wait", BEFORE | HANG | POLL),
];
