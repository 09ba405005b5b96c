/**
 * DRM_IOCTL_GEM_CHANGE_HANDLE (v6.18, 53096728b891): moving an object to a chosen handle, as CRIU
 * restore does. IGT has no merged test for it (the lack of one is why mainline disabled the
 * ioctl again in 1a4f03d22fb6); these cases follow the ioctl's documentation and the races its
 * fixes describe: a GEM_CLOSE of the old handle racing the move (5e28b7b94408, 7164d78559b0,
 * 1a4f03d22fb6), the new handle left unusable (dc366607c41c), the leaked lookup reference
 * (630efee9493c) and the INT_MAX check (d8129446edea).
 */

import { close, type DrmFd } from "@primetime/libdrm";
import { DRM_IOCTL_GEM_CHANGE_HANDLE, type DrmGemChangeHandle } from "@primetime/uapi";
import { type CaseContext, type CaseSpec, RACE_DEFAULTS, SEQUENTIAL_DEFAULTS } from "../harness.js";

const group = "gem_change_handle";

/** The raw ioctl (libdrm has no wrapper): throws a SysError on failure. */
async function changeHandle(fd: DrmFd, handle: number, newHandle: number): Promise<void> {
  const arg: DrmGemChangeHandle = { handle, new_handle: newHandle };
  await fd.ioctl(DRM_IOCTL_GEM_CHANGE_HANDLE, arg, "DRM_IOCTL_GEM_CHANGE_HANDLE");
}

/** A handle far from the ones the driver hands out. */
const TARGET = 100;

/**
 * basic: a flinked and exported object moves to handle 100: the old handle is gone (GEM_CLOSE
 * -EINVAL), the new one names the same object (same flink name) and FD_TO_HANDLE of its dma-buf
 * returns it; the same handle is a no-op; a taken handle is -ENOSPC, an unknown one -ENOENT,
 * a new handle above INT_MAX -EINVAL; nothing leaks.
 */
const basic: CaseSpec = {
  name: `${group}/basic`,
  group,
  race: false,
  description:
    "GEM_CHANGE_HANDLE moves a flinked, exported object: old handle gone, new one works, errno",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const h = await t.createBo(fd, 4096);
    const name = await fd.gemFlink(h);
    const dmaBuf = await fd.primeHandleToFd(h);
    const other = await t.createBo(fd, 4096);

    await changeHandle(fd, h, h);
    await t.expectErrno(changeHandle(fd, h, other), "ENOSPC", "move to a taken handle");
    await t.expectErrno(changeHandle(fd, 4242, 4243), "ENOENT", "move of an unknown handle");
    await t.expectErrno(changeHandle(fd, h, 0x8000_0000), "EINVAL", "move above INT_MAX");

    await changeHandle(fd, h, TARGET);
    await t.expectErrno(fd.gemClose(h), "EINVAL", "GEM_CLOSE of the old handle");
    t.check((await fd.gemFlink(TARGET)) === name, "the new handle lost the flink name");
    const imported = await fd.primeFdToHandle(dmaBuf);
    t.check(imported === TARGET, `FD_TO_HANDLE of its dma-buf gave ${imported}, not ${TARGET}`);

    await fd.gemClose(TARGET);
    await fd.gemClose(other);
    await close(t.proc, dmaBuf);
    await fd.close();
    const counts = await t.stableCounts();
    const base = t.baseline();
    t.check(
      counts.objects === base.objects && counts.handles === base.handles,
      `leaked ${counts.objects - base.objects} objects and ${counts.handles - base.handles} handles`,
    );
  },
};

/**
 * change-vs-gem_close-race: an object's handle is moved by one thread while another closes it
 * (the GEM_CLOSE's handle release waits for prime.lock, which the move holds). Exactly one of
 * them may succeed: after a move, the new handle holds the object (flink works, GEM_CLOSE
 * succeeds); after a close, the move fails with -ENOENT and the new handle does not exist. The
 * object is not exported, so that nothing but its handles keeps it: a new handle left pointing
 * to it after the close is a use-after-free (KASAN) when the file releases it.
 */
const changeVsClose: CaseSpec = {
  name: `${group}/change-vs-gem_close-race`,
  group,
  race: true,
  description: "GEM_CHANGE_HANDLE racing GEM_CLOSE of the old handle: exactly one wins, no UAF",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const h = await t.createBo(fd, 4096);
    let moved = false;
    let closed = false;
    const mover = t.thread("change_handle", async () => {
      moved =
        (await t.allowErrno(changeHandle(fd, h, TARGET), ["ENOENT"], "GEM_CHANGE_HANDLE")) !== null;
    });
    const closer = t.thread("gem_close", async () => {
      closed = (await t.allowErrno(fd.gemClose(h), ["EINVAL"], "GEM_CLOSE")) !== null;
    });
    await mover.join();
    await closer.join();
    t.check(moved !== closed, `move ${moved ? "and" : "nor"} close of handle ${h} succeeded`);
    if (moved) {
      await fd.gemFlink(TARGET);
      await fd.gemClose(TARGET);
    } else {
      await t.expectErrno(fd.gemClose(TARGET), "EINVAL", "GEM_CLOSE of the never-moved handle");
    }
    await fd.close();
  },
};

export const GEM_CHANGE_HANDLE: readonly CaseSpec[] = [basic, changeVsClose];
