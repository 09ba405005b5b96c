/**
 * vmwgfx's ioctl entry points against v6.12's vmwgfx_drv.c and vmwgfx_execbuf.c:
 * vmw_generic_ioctl() (the ->unlocked_ioctl: a driver command must match the table's encoding,
 * EXECBUF excepted) and vmw_execbuf_ioctl()'s version and flags checks.
 */

import { DRM_COMMAND_BASE, DRM_IOR, DRM_IOW, DRM_IOWR } from "@primetime/gem";
import { EINVAL, type Process } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import {
  allocBoArg,
  expectClean,
  mobCreate,
  ok,
  openNode,
  runVmw,
  type VmwMob,
} from "./test-machine.js";
import {
  DRM_IOCTL_VMW_EXECBUF,
  DRM_VMW_ALLOC_BO,
  DRM_VMW_ALLOC_BO_LAYOUT,
  DRM_VMW_HANDLE_CLOSE,
  DRM_VMW_HANDLE_CLOSE_LAYOUT,
} from "./vmwgfx-uapi.js";

async function execbufV(p: Process, fd: number, commands: string, version: number, flags = 0) {
  const arg = { commands, version, flags, fence_seqno: 0 };
  const ret = await p.ioctl(fd, DRM_IOCTL_VMW_EXECBUF, arg);
  return Math.min(ret, 0);
}

describe("vmw_generic_ioctl()", () => {
  it("refuses a driver command whose size or direction is not the table's (-EINVAL), and a number no table knows", async () => {
    const rets: number[] = [];
    expectClean(
      await runVmw(async (p, m) => {
        const fd = await openNode(p, m.vmw.render);
        const nr = DRM_COMMAND_BASE + DRM_VMW_ALLOC_BO;
        // ALLOC_BO with the request half only (a shorter struct): "Invalid command format".
        const short = DRM_IOWR(nr, DRM_VMW_ALLOC_BO_LAYOUT.slice(0, 2));
        rets.push(await p.ioctl(fd, short, allocBoArg(4096)));
        // The right size, read-only direction.
        rets.push(await p.ioctl(fd, DRM_IOR(nr, DRM_VMW_ALLOC_BO_LAYOUT), allocBoArg(4096)));
        // HANDLE_CLOSE as DRM_IOWR instead of DRM_IOW.
        const close = DRM_IOWR(
          DRM_COMMAND_BASE + DRM_VMW_HANDLE_CLOSE,
          DRM_VMW_HANDLE_CLOSE_LAYOUT,
        );
        rets.push(await p.ioctl(fd, close, { handle: 1, pad64: 0 }));
        // A number past the driver range and the core table (drm_ioctl_flags() false).
        rets.push(await p.ioctl(fd, 0xdeadbeef, null));
        // The table's own encodings work.
        const mob = ok<VmwMob>(await mobCreate(p, fd, 4096), "mob");
        const closeOk = DRM_IOW(
          DRM_COMMAND_BASE + DRM_VMW_HANDLE_CLOSE,
          DRM_VMW_HANDLE_CLOSE_LAYOUT,
        );
        rets.push(await p.ioctl(fd, closeOk, { handle: mob.handle, pad64: 0 }));
        await p.close(fd);
      }),
    );
    expect(rets).toEqual([-EINVAL, -EINVAL, -EINVAL, -EINVAL, 0]);
  });
});

describe("vmw_execbuf_ioctl()", () => {
  it("runs versions 1 and 2, refuses 0 and 3 (-EINVAL), ignores flags it does not know", async () => {
    const rets: number[] = [];
    expectClean(
      await runVmw(async (p, m) => {
        const fd = await openNode(p, m.vmw.render);
        const mob = ok<VmwMob>(await mobCreate(p, fd, 4096), "mob");
        const cmd = `fill ${mob.handle} 7`;
        rets.push(await execbufV(p, fd, cmd, 1));
        rets.push(await execbufV(p, fd, cmd, 2));
        rets.push(await execbufV(p, fd, cmd, 0));
        rets.push(await execbufV(p, fd, cmd, 3));
        rets.push(await execbufV(p, fd, cmd, 2, 1 << 4));
        await p.close(fd);
      }),
    );
    expect(rets).toEqual([0, 0, -EINVAL, -EINVAL, 0]);
  });
});
