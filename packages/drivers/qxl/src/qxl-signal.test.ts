/**
 * qxl_ring_push() with `interruptible` (v6.18 qxl_cmd.c, read in the 6.18.35 stable tree): the
 * EXECBUFFER push waits for room with wait_event_interruptible(), so a killed submitter stops
 * waiting with -ERESTARTSYS ("if (ret) return ret;": nothing pushed, the ring lock not held)
 * and qxl_process_single_command() frees its fenced release; the other pushes use wait_event().
 */
import { ERESTARTSYS, EXIT_KILLED, O_RDWR } from "@primetime/kernel";
import { type Task, WaitQueue, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { qxlRingPush } from "./qxl-cmd.js";
import { type QxlCommandEntry, QxlRingHeader } from "./qxl-dev.js";
import { QxlRing } from "./qxl-device.js";
import { expectClean, runQxl } from "./test-machine.js";

async function untilAsleep(t: Task): Promise<void> {
  while (t.state !== "blocked") await yieldCpu();
}

/** A one-entry ring of `qdev`'s, already full (the device never sees it). */
function fullRing(owner: ConstructorParameters<typeof QxlRing>[4]) {
  const header = new QxlRingHeader<QxlCommandEntry>(1);
  header.items[0] = { type: 1, data: 0 };
  header.prod = 1;
  const event = new WaitQueue("test push_event");
  return { header, event, ring: new QxlRing<QxlCommandEntry>("test", header, 0, event, owner) };
}

describe("qxl_ring_push() and fatal signals", () => {
  it("an interruptible push waiting for room is woken by the kill: -ERESTARTSYS, nothing pushed", async () => {
    const got: { ret?: number; prod?: number } = {};
    const r = await runQxl(async (m) => {
      const qdev = m.qxl.qdev;
      const { header, ring } = fullRing(qdev);
      const p = m.kernel.spawnProcess("client", async (p) => {
        const fd = await p.open(m.qxl.card, O_RDWR);
        got.ret = await qxlRingPush(qdev, ring, { type: 1, data: 0 }, true);
        got.prod = header.prod;
        await p.close(fd);
      });
      await untilAsleep(p.threads[0]!);
      p.kill();
      expect(await p.wait()).toBe(EXIT_KILLED);
    });
    expectClean(r);
    expect(got).toEqual({ ret: -ERESTARTSYS, prod: 1 });
  });

  it("an uninterruptible push (wait_event()) sleeps on through the kill and pushes once there is room", async () => {
    const got: { ret?: number; asleep?: boolean; prod?: number } = {};
    const r = await runQxl(async (m) => {
      const qdev = m.qxl.qdev;
      const { header, event, ring } = fullRing(qdev);
      const p = m.kernel.spawnProcess("client", async (p) => {
        const fd = await p.open(m.qxl.card, O_RDWR);
        got.ret = await qxlRingPush(qdev, ring, { type: 1, data: 0 }, false);
        got.prod = header.prod;
        await p.close(fd);
      });
      const t = p.threads[0]!;
      await untilAsleep(t);
      p.kill();
      for (let i = 0; i < 5; i++) await yieldCpu();
      got.asleep = t.state === "blocked";
      // The "device" consumes the entry and raises the display interrupt.
      header.cons = 1;
      event.wakeAll();
      expect(await p.wait()).toBe(EXIT_KILLED);
    });
    expectClean(r);
    expect(got).toEqual({ ret: 0, asleep: true, prod: 2 });
  });
});
