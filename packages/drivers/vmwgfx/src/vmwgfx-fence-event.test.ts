/**
 * DRM_VMW_FENCE_EVENT (vmwgfx_fence.c of Linux 6.12.19) and the DRM core's events it delivers
 * (drm_file.c of v6.18: drm_read(), drm_poll(), drm_events_release()): an event on a new fence
 * and on an existing handle, DRM_VMW_FE_FLAG_REQ_TIME, the errnos (-EINVAL lookups, -ENOMEM when
 * the file's event space is full, with nothing changed), an event pending when its file closes
 * (dropped when the fence signals), and an event on a fence that already signalled. Every run
 * ends with a leak check.
 */

import type { DrmFile } from "@primetime/gem";
import {
  EAGAIN,
  EBADF,
  EINVAL,
  ENOMEM,
  EPOLLIN,
  O_NONBLOCK,
  O_RDWR,
  type Process,
} from "@primetime/kernel";
import { type Scenario, Simulation } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { driverUnderTest } from "./driver-under-test.js";
import {
  bootVmw,
  execbufFence,
  expectClean,
  fenceEvent,
  fenceRepPage,
  fenceWait,
  mobCreate,
  ok,
  openNode,
  readFenceEvents,
  readFenceRep,
  runVmw,
  shutdownVmw,
  splatText,
  surfaceCreate,
  type VmwMob,
} from "./test-machine.js";
import { type VmwFpriv, vmwPriv } from "./vmwgfx-drv.js";
import { DRM_VMW_EVENT_FENCE_SIGNALED, DRM_VMW_FE_FLAG_REQ_TIME } from "./vmwgfx-uapi.js";

/** The DrmFile behind `fd`. */
function drmFile(p: Process, fd: number): DrmFile {
  return p.files.peek(fd)!.privateData as DrmFile;
}

/** The ttm ref objects (open handles) of the file behind `fd`. */
function openHandles(p: Process, fd: number): number {
  return (drmFile(p, fd).driverPriv as VmwFpriv).tfile!.refList.length;
}

/** A nonblocking render fd with a mapped 64 KiB buffer (a fill takes the device a while). */
async function setup(p: Process, render: string): Promise<{ fd: number; mob: VmwMob }> {
  const fd = await p.open(render, O_RDWR | O_NONBLOCK);
  if (fd < 0) throw new Error(`open = ${fd}`);
  return { fd, mob: ok<VmwMob>(await mobCreate(p, fd, 65536), "mob") };
}

describe("DRM_VMW_FENCE_EVENT", () => {
  it("an event on a new fence: fence_rep written, delivered when the fence signals (poll, read)", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        // Work ahead of the event's fence: it signals after the fill.
        expect((await execbufFence(p, fd, `fill ${mob.handle} 3`)).ret).toBe(0);
        const page = await fenceRepPage(p);
        expect(await fenceEvent(p, fd, { fenceRep: page, userData: 0x1234_5678_9abcn })).toBe(0);
        const rep = await readFenceRep(p, page);
        expect([rep.error, rep.fd]).toEqual([0, -1]);
        expect(openHandles(p, fd)).toBe(1); // the new fence's handle
        // Not yet: nothing to read, and poll finds nothing at once.
        expect((await readFenceEvents(p, fd)).ret).toBe(-EAGAIN);
        expect(drmFile(p, fd).pendingEventList.length).toBe(1);
        // poll(2) sleeps until the device passes the seqno and the action sends the event.
        const fds = [{ fd, events: EPOLLIN, revents: 0 }];
        expect(await p.poll(fds, -1)).toBe(1);
        expect(fds[0]!.revents).toBe(EPOLLIN);
        const { ret, events } = await readFenceEvents(p, fd);
        expect(ret).toBe(24);
        expect(events).toEqual([
          {
            type: DRM_VMW_EVENT_FENCE_SIGNALED,
            length: 24,
            user_data: 0x1234_5678_9abcn,
            tv_sec: 0,
            tv_usec: 0,
          },
        ]);
        expect(drmFile(p, fd).eventSpace).toBe(4096);
        expect(vmwPriv(m.vmw.device).fman.pendingActions).toEqual([0]);
        await p.close(fd);
      }),
    );
  });

  it("an event on an existing handle with REQ_TIME: a second open for fence_rep, a time stamp, a blocking read", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const blocking = await openNode(p, m.vmw.render);
        const page = await fenceRepPage(p);
        expect((await execbufFence(p, fd, `fill ${mob.handle} 5`, { fenceRep: page })).ret).toBe(0);
        const { handle } = await readFenceRep(p, page);
        const page2 = await fenceRepPage(p);
        const flags = DRM_VMW_FE_FLAG_REQ_TIME;
        expect(await fenceEvent(p, fd, { handle, fenceRep: page2, userData: 7n, flags })).toBe(0);
        expect((await readFenceRep(p, page2)).handle).toBe(handle);
        // The file opened the handle once more (ttm_ref_object_add() of an existing ref object
        // counts it): two UNREFs will be needed, as in the kernel.
        expect(openHandles(p, fd)).toBe(1);
        // A blocking read of the other file finds nothing of this file's: events are per file.
        expect(drmFile(p, blocking).eventList.length).toBe(0);
        expect((await fenceWait(p, fd, handle)).ret).toBe(0);
        const { ret, events } = await readFenceEvents(p, fd);
        expect(ret).toBe(24);
        expect(events[0]!.user_data).toBe(7n);
        // Stamped with the virtual monotonic time the fence signalled.
        expect(events[0]!.tv_sec * 1_000_000 + events[0]!.tv_usec).toBeGreaterThan(0);
        await p.close(blocking);
        await p.close(fd);
      }),
    );
  });

  it("errnos: unknown, another file's and a surface's handle -EINVAL; full event space -ENOMEM; nothing changes", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const other = await openNode(p, m.vmw.render);
        const page = await fenceRepPage(p);
        expect((await execbufFence(p, fd, `fill ${mob.handle} 1`, { fenceRep: page })).ret).toBe(0);
        const { handle } = await readFenceRep(p, page);
        expect(await fenceEvent(p, fd, { handle: 0x7fff_ffff })).toBe(-EINVAL);
        expect(await fenceEvent(p, other, { handle })).toBe(-EINVAL);
        const s = ok(await surfaceCreate(p, fd, 1024, null), "surface");
        expect(await fenceEvent(p, fd, { handle: s.handle })).toBe(-EINVAL);
        // 4096 bytes hold 170 events of 24 bytes; the 171st does not fit.
        for (let i = 0; i < 170; i++) expect(await fenceEvent(p, fd, { handle })).toBe(0);
        const file = drmFile(p, fd);
        expect(file.eventSpace).toBe(16);
        const before = openHandles(p, fd);
        const page2 = await fenceRepPage(p);
        expect(await fenceEvent(p, fd, { handle, fenceRep: page2 })).toBe(-ENOMEM);
        expect(openHandles(p, fd)).toBe(before); // the extra open undone
        expect((await readFenceRep(p, page2)).error).toBe(-14); // fence_rep untouched
        expect(file.pendingEventList.length).toBe(170);
        // All delivered once the fence signals.
        expect((await fenceWait(p, fd, handle)).ret).toBe(0);
        let read = 0;
        for (;;) {
          const r = await readFenceEvents(p, fd);
          if (r.ret < 0) break;
          read += r.events.length;
        }
        expect(read).toBe(170);
        expect(file.eventSpace).toBe(4096);
        await p.close(other);
        await p.close(fd);
      }),
    );
  });

  it("an event pending when its file closes is unlinked, then dropped when the fence signals", async () => {
    let closedEarly = false;
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        expect((await execbufFence(p, fd, `fill ${mob.handle} 2`)).ret).toBe(0);
        expect(await fenceEvent(p, fd, { userData: 1n })).toBe(0);
        expect(await fenceEvent(p, fd, { userData: 2n, flags: DRM_VMW_FE_FLAG_REQ_TIME })).toBe(0);
        closedEarly = drmFile(p, fd).pendingEventList.length === 2;
        // The file goes before the device gets to the fences: drm_events_release() unlinks both
        // events; the actions still hold their fences and send (free) the events later.
        await p.close(fd);
      }),
    );
    expect(closedEarly).toBe(true);
  });

  it("an event on a fence that already signalled is sent at once; its cleanup waits for the next update", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const page = await fenceRepPage(p);
        expect((await execbufFence(p, fd, `fill ${mob.handle} 4`, { fenceRep: page })).ret).toBe(0);
        const { handle } = await readFenceRep(p, page);
        expect((await fenceWait(p, fd, handle)).ret).toBe(0);
        expect(await fenceEvent(p, fd, { handle, userData: 9n })).toBe(0);
        const r = await readFenceEvents(p, fd);
        expect([r.ret, r.events[0]?.user_data]).toEqual([24, 9n]);
        const fman = vmwPriv(m.vmw.device).fman;
        expect(fman.cleanupList.length).toBe(1);
        // The next fence update (another submission's fence signalling) schedules the cleanup.
        const page2 = await fenceRepPage(p);
        expect((await execbufFence(p, fd, `fill ${mob.handle} 5`, { fenceRep: page2 })).ret).toBe(
          0,
        );
        expect((await fenceWait(p, fd, (await readFenceRep(p, page2)).handle)).ret).toBe(0);
        await p.close(fd);
      }),
    );
  });
});

/**
 * The file's close racing the fence action (drm_events_release() vs
 * vmw_event_fence_action_seq_passed() from the fence interrupt) and a reader: a fill, two events
 * (one with REQ_TIME) on a new fence, then a thread reading without blocking while the main
 * thread closes the fd and the device completes the work. No kernel version of this code (v6.12
 * vmwgfx on the v6.18 DRM core) has a known race here; the search checks the model is clean.
 */
const closeVsFenceEvent: Scenario = async (sim) => {
  const m = await bootVmw(sim);
  const proc = m.kernel.spawnProcess("igt", async (p) => {
    const { fd, mob } = await setup(p, m.vmw.render);
    expect((await execbufFence(p, fd, `fill ${mob.handle} 6`)).ret).toBe(0);
    expect(await fenceEvent(p, fd, { userData: 1n })).toBe(0);
    expect(await fenceEvent(p, fd, { userData: 2n, flags: DRM_VMW_FE_FLAG_REQ_TIME })).toBe(0);
    const reader = p.spawnThread("reader", async (q) => {
      const r = await readFenceEvents(q, fd);
      if (r.ret !== -EAGAIN && r.ret !== -EBADF && r.ret % 24 !== 0)
        throw new Error(`read = ${r.ret}`);
    });
    await p.close(fd);
    await reader.join();
    // A last submission whose fence update schedules the cleanup work of actions performed at
    // attach time (see the test above: without one, takedown BUG()s, as v6.12 would).
    const fd2 = await openNode(p, m.vmw.render);
    const mob2 = ok<VmwMob>(await mobCreate(p, fd2, 4096), "mob");
    const page = await fenceRepPage(p);
    expect((await execbufFence(p, fd2, `fill ${mob2.handle} 1`, { fenceRep: page })).ret).toBe(0);
    expect((await fenceWait(p, fd2, (await readFenceRep(p, page)).handle)).ret).toBe(0);
    await p.close(fd2);
  });
  const code = await proc.wait();
  if (code !== 0) sim.report("warn", `igt exited with ${code}`);
  await shutdownVmw(m);
};

describe("v6.12: an action performed at attach time waits for the next fence update", () => {
  it("with no later update, vmw_fence_manager_takedown() finds it on the cleanup list: BUG_ON", async () => {
    const r = await runVmw(async (p, m) => {
      const { fd, mob } = await setup(p, m.vmw.render);
      const page = await fenceRepPage(p);
      expect((await execbufFence(p, fd, `fill ${mob.handle} 4`, { fenceRep: page })).ret).toBe(0);
      const { handle } = await readFenceRep(p, page);
      expect((await fenceWait(p, fd, handle)).ret).toBe(0);
      // vmw_fence_obj_add_action() performs it at once (the event is sent) and queues it for
      // cleanup without schedule_work(): only a later __vmw_fences_update() schedules it.
      expect(await fenceEvent(p, fd, { handle })).toBe(0);
      expect((await readFenceEvents(p, fd)).ret).toBe(24);
      await p.close(fd);
    });
    expect(r.splats.map((x) => `${x.kind}: ${x.message}`)).toEqual([
      expect.stringMatching(
        /^bug: kernel BUG at vmwgfx_fence.c: vmw_fence_manager_takedown\(\): BUG_ON\(!lists_empty\) \(0 fences, 1 actions listed\)/,
      ),
    ]);
  });
});

describe("driverUnderTest.settle() stands in for the next fence update", () => {
  it("an action left on the cleanup list is cleaned up: the unload that follows is clean, nothing leaks", async () => {
    const listed: number[] = [];
    const r = await new Simulation({ seed: 1 }).run(async (sim) => {
      const m = await bootVmw(sim);
      const proc = m.kernel.spawnProcess("igt", async (p) => {
        const { fd, mob } = await setup(p, m.vmw.render);
        const page = await fenceRepPage(p);
        expect((await execbufFence(p, fd, `fill ${mob.handle} 4`, { fenceRep: page })).ret).toBe(0);
        const { handle } = await readFenceRep(p, page);
        expect((await fenceWait(p, fd, handle)).ret).toBe(0);
        expect(await fenceEvent(p, fd, { handle })).toBe(0);
        expect((await readFenceEvents(p, fd)).ret).toBe(24);
        await p.close(fd);
      });
      expect(await proc.wait()).toBe(0);
      const fman = vmwPriv(m.vmw.device).fman;
      listed.push(fman.cleanupList.length);
      await driverUnderTest.settle!(m.kernel, m.vmw.device);
      listed.push(fman.cleanupList.length);
      await shutdownVmw(m);
    });
    expectClean(r);
    expect(listed).toEqual([1, 0]);
  });
});

describe("DRM_VMW_FENCE_EVENT vs the file's close (search)", () => {
  it("is clean under PCT (200 schedules) and random (100)", async () => {
    for (const strategy of ["pct", "random"] as const) {
      const res = await explore(closeVsFenceEvent, {
        strategy,
        depth: 3,
        schedules: strategy === "pct" ? 200 : 100,
        seed: 5,
        scenario: "fence-event-vs-close",
      });
      const f = res.firstFailure;
      expect(f ? `${f.outcome} ${f.message ?? ""}\n${splatText(f)}` : "").toBe("");
    }
  });
});
