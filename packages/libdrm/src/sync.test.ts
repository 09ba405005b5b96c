import { ENOTTY, Kernel, O_RDWR, type Process } from "@primetime/kernel";
import { Simulation } from "@primetime/sim";
import { SYNC_IOC_FILE_INFO, type SyncFileInfo } from "@primetime/uapi";
import { describe, expect, it } from "vitest";
import { close, open } from "./libc.js";
import { syncFenceStatus, syncFileInfo } from "./sync.js";
import { SysError } from "./sys-error.js";

/**
 * Runs `body` in a process with /dev/fence open on a node whose ioctl answers SYNC_IOC_FILE_INFO
 * as a sync_file of one fence with `status` does (and -ENOTTY to anything else), and with
 * /dev/other open on a node that is no sync_file (-ENOTTY to every ioctl), recording the
 * argument each request gave /dev/fence.
 */
async function withFenceNode(
  status: number,
  body: (p: Process, fd: number, other: number) => Promise<void>,
): Promise<{ cmd: number; arg: SyncFileInfo }[]> {
  const seen: { cmd: number; arg: SyncFileInfo }[] = [];
  const r = await new Simulation({ seed: 1 }).run(async () => {
    const kernel = Kernel.boot();
    kernel.registerChrdev("/dev/fence", {
      unlockedIoctl: async (_file, cmd, arg) => {
        seen.push({ cmd, arg: { ...(arg as SyncFileInfo) } });
        if (cmd !== SYNC_IOC_FILE_INFO) return -ENOTTY;
        const info = arg as SyncFileInfo;
        info.name = "simgpu";
        info.status = status;
        info.num_fences = 1;
        return 0;
      },
    });
    kernel.registerChrdev("/dev/other", { unlockedIoctl: async () => -ENOTTY });
    const p = kernel.spawnProcess("prog", async (p: Process) => {
      const fd = await open(p, "/dev/fence", O_RDWR);
      const other = await open(p, "/dev/other", O_RDWR);
      await body(p, fd, other);
      await close(p, other);
      await close(p, fd);
    });
    expect(await p.wait()).toBe(0);
  });
  expect(r.outcome).toBe("ok");
  return seen;
}

describe("sync_file info", () => {
  it("syncFileInfo() sends SYNC_IOC_FILE_INFO with a zeroed struct and returns name, status, count", async () => {
    const got: unknown[] = [];
    const seen = await withFenceNode(-62, async (p, fd) => {
      got.push(await syncFileInfo(p, fd));
      got.push(await syncFenceStatus(p, fd));
    });
    expect(got).toEqual([{ name: "simgpu", status: -62, numFences: 1 }, -62]);
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      expect(s.cmd).toBe(SYNC_IOC_FILE_INFO);
      expect(s.arg).toEqual({ name: "", status: 0, flags: 0, num_fences: 0, pad: 0 });
    }
  });

  it("a signalled fence is status 1; an fd that is not a sync_file throws ENOTTY", async () => {
    let status = 0;
    let error: unknown = null;
    await withFenceNode(1, async (p, fd, other) => {
      status = await syncFenceStatus(p, fd);
      try {
        await syncFileInfo(p, other);
      } catch (e) {
        error = e;
      }
    });
    expect(status).toBe(1);
    expect(error).toBeInstanceOf(SysError);
    expect((error as SysError).code).toBe("ENOTTY");
    expect((error as SysError).message).toBe("ioctl(SYNC_IOC_FILE_INFO) failed: ENOTTY");
  });
});
