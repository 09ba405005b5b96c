import { EAGAIN, EBUSY, EINTR, Kernel, type Process } from "@primetime/kernel";
import { Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { drmIoctl } from "./drm.js";
import { DrmFd } from "./drm-fd.js";
import { SysError } from "./sys-error.js";

/** A request number of no DRM ioctl: the test device's ioctl answers whatever it is told. */
const CMD = 0x6400_00f0;

/**
 * Runs `body` in a process with /dev/dri/card0 open on a device whose ioctl returns the
 * answers in `script` in turn (0 once they run out), and returns how many ioctls reached it.
 */
async function withScriptedIoctl(
  script: number[],
  body: (p: Process, fd: number) => Promise<void>,
): Promise<number> {
  let calls = 0;
  const r = await new Simulation({ seed: 1 }).run(async () => {
    const kernel = Kernel.boot();
    kernel.registerChrdev("/dev/dri/card0", {
      unlockedIoctl: async () => {
        const ret = script[calls] ?? 0;
        calls++;
        return ret;
      },
    });
    const p = kernel.spawnProcess("prog", async (p: Process) => {
      const drm = await DrmFd.open(p, "/dev/dri/card0");
      await body(p, drm.fd);
      await drm.close();
    });
    expect(await p.wait()).toBe(0);
  });
  expect(r.outcome).toBe("ok");
  return calls;
}

describe("drmIoctl()", () => {
  it("repeats the ioctl while it fails with EINTR or EAGAIN, as libdrm's loop does", async () => {
    let ret = -1;
    const calls = await withScriptedIoctl([-EINTR, -EAGAIN, -EINTR, 7], async (p, fd) => {
      ret = await drmIoctl(p, fd, CMD);
    });
    expect(calls).toBe(4);
    expect(ret).toBe(7);
  });

  it("retries through DrmFd.ioctl() too", async () => {
    let ret = -1;
    const calls = await withScriptedIoctl([-EAGAIN], async (p, fd) => {
      ret = await new DrmFd(p, fd).ioctl(CMD);
    });
    expect(calls).toBe(2);
    expect(ret).toBe(0);
  });

  it("does not retry any other errno: one ioctl, then a SysError", async () => {
    let err: unknown = null;
    const calls = await withScriptedIoctl([-EBUSY, 0], async (p, fd) => {
      err = await drmIoctl(p, fd, CMD, undefined, "TEST_IOCTL").catch((e: unknown) => e);
    });
    expect(calls).toBe(1);
    expect(err).toBeInstanceOf(SysError);
    expect((err as SysError).code).toBe("EBUSY");
    expect((err as SysError).message).toBe("ioctl(TEST_IOCTL) failed: EBUSY");
  });
});
