import {
  EAGAIN,
  EFAULT,
  ENOMEM,
  EPOLLIN,
  KmemCache,
  kmalloc,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_NONBLOCK,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import {
  type DrmEvent,
  type DrmFile,
  DrmPendingEvent,
  drmEventCancelFree,
  drmEventReserveInit,
  drmSendEvent,
} from "./drm-file.js";
import { drmFileOf, expectClean, type Machine, runMachine, runProcess } from "./test-support.js";

const testEventCache = new KmemCache("test_pending_event");

/** A driver's event: a drm_pending_event embedding a 16-byte event (header + a u64 tag). */
class TestEvent extends DrmPendingEvent {}

function testEventData(tag: number, length = 16): DrmEvent {
  return {
    type: 0x8000_0001,
    length,
    bytes() {
      const b = new Uint8Array(length);
      const v = new DataView(b.buffer);
      v.setUint32(0, 0x8000_0001, true);
      v.setUint32(4, length, true);
      v.setBigUint64(8, BigInt(tag), true);
      return b;
    },
  };
}

/** Reserves a 16-byte event with `tag` on `file`: the event, or the errno. */
async function reserve(m: Machine, file: DrmFile, tag: number): Promise<TestEvent | number> {
  const e = kmalloc(testEventCache, () => new TestEvent(testEventCache));
  if (typeof e === "number") return e;
  const ret = await drmEventReserveInit(m.devs[0]!, file, e, testEventData(tag));
  if (ret) {
    await drmEventCancelFree(m.devs[0]!, e);
    return ret;
  }
  return e;
}

/** A private anonymous page of `p`: its address. */
function userPage(p: Process): Promise<number> {
  return p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/** The tags of the 16-byte events in `bytes`. */
function tags(bytes: Uint8Array | number, n: number): number[] {
  if (typeof bytes === "number") return [bytes];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: n / 16 }, (_, i) => Number(v.getBigUint64(i * 16 + 8, true)));
}

describe("DRM events (drm_file.c: reserve, send, read, poll, release)", () => {
  it("delivers sent events in order, whole, and gives their space back when read", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "reader", async (p) => {
        const fd = await p.open("/dev/dri/renderD128", O_RDWR | O_NONBLOCK);
        const file = drmFileOf(p, fd);
        const buf = await userPage(p);
        got.emptyRead = await p.read(fd, buf, 4096);
        const e1 = (await reserve(m, file, 1)) as TestEvent;
        const e2 = (await reserve(m, file, 2)) as TestEvent;
        got.spaceReserved = file.eventSpace;
        got.pendingRead = await p.read(fd, buf, 4096);
        await drmSendEvent(m.devs[0]!, e2);
        await drmSendEvent(m.devs[0]!, e1);
        got.read = await p.read(fd, buf, 4096);
        got.tags = tags(await p.readMemory(buf, 32), 32);
        got.spaceAfter = file.eventSpace;
        got.again = await p.read(fd, buf, 4096);
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      emptyRead: -EAGAIN,
      spaceReserved: 4096 - 32,
      pendingRead: -EAGAIN,
      read: 32,
      tags: [2, 1],
      spaceAfter: 4096,
      again: -EAGAIN,
    });
  });

  it("reads only the events that fit: a short read, and 0 when the first does not fit", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "reader", async (p) => {
        const fd = await p.open("/dev/dri/renderD128", O_RDWR | O_NONBLOCK);
        const file = drmFileOf(p, fd);
        const buf = await userPage(p);
        for (const tag of [1, 2, 3])
          await drmSendEvent(m.devs[0]!, (await reserve(m, file, tag)) as TestEvent);
        got.short = await p.read(fd, buf, 40);
        got.first = tags(await p.readMemory(buf, 32), 32);
        got.tooSmall = await p.read(fd, buf, 8);
        got.left = file.eventList.length;
        got.space = file.eventSpace;
        got.rest = await p.read(fd, buf, 16);
        got.last = tags(await p.readMemory(buf, 16), 16);
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      short: 32,
      first: [1, 2],
      tooSmall: 0,
      left: 1,
      space: 4096 - 16,
      rest: 16,
      last: [3],
    });
  });

  it("a buffer that faults is -EFAULT and the event stays queued", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "reader", async (p) => {
        const fd = await p.open("/dev/dri/renderD128", O_RDWR | O_NONBLOCK);
        const file = drmFileOf(p, fd);
        await drmSendEvent(m.devs[0]!, (await reserve(m, file, 7)) as TestEvent);
        got.fault = await p.read(fd, 0x7000_0000, 4096);
        got.left = file.eventList.length;
        got.space = file.eventSpace;
        const buf = await userPage(p);
        got.read = await p.read(fd, buf, 4096);
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({ fault: -EFAULT, left: 1, space: 4096 - 16, read: 16 });
  });

  it("event_space: 4 KiB per file, -ENOMEM beyond it; cancel_free gives the room back", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "p", async (p) => {
        const fd = await p.open("/dev/dri/renderD128", O_RDWR);
        const file = drmFileOf(p, fd);
        const events: TestEvent[] = [];
        for (let i = 0; i < 256; i++) events.push((await reserve(m, file, i)) as TestEvent);
        got.full = await reserve(m, file, 999);
        await drmEventCancelFree(m.devs[0]!, events.pop()!);
        got.space = file.eventSpace;
        got.pending = file.pendingEventList.length;
        for (const e of events) await drmEventCancelFree(m.devs[0]!, e);
        got.spaceAfter = file.eventSpace;
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({ full: -ENOMEM, space: 16, pending: 255, spaceAfter: 4096 });
  });

  it("file close: a pending event is unlinked and freed when sent; an unread one is freed", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      let pending: TestEvent | null = null;
      await runProcess(m, "p", async (p) => {
        const fd = await p.open("/dev/dri/renderD128", O_RDWR);
        const file = drmFileOf(p, fd);
        pending = (await reserve(m, file, 1)) as TestEvent;
        await drmSendEvent(m.devs[0]!, (await reserve(m, file, 2)) as TestEvent);
        await p.close(fd);
      });
      got.unlinked = pending!.filePriv;
      got.freedBeforeSend = pending!.freed;
      // Delivered to a file that closed: dropped (freed), no use of the file.
      await drmSendEvent(m.devs[0]!, pending!);
      got.freedAfterSend = pending!.freed;
    });
    // The leak check of runMachine() finds no event left.
    expectClean(r);
    expect(got).toEqual({ unlinked: null, freedBeforeSend: false, freedAfterSend: true });
  });

  it("wakes a blocking reader and a poller when an event is sent", async () => {
    const got: Record<string, unknown> = {};
    const r = await runMachine(async (m) => {
      await runProcess(m, "p", async (p) => {
        const fd = await p.open("/dev/dri/renderD128", O_RDWR);
        const file = drmFileOf(p, fd);
        const buf = await userPage(p);
        got.idlePoll = await p.poll([{ fd, events: EPOLLIN, revents: 0 }], 0);
        const e1 = (await reserve(m, file, 1)) as TestEvent;
        const e2 = (await reserve(m, file, 2)) as TestEvent;
        p.spawnThread("sender", async () => {
          await drmSendEvent(m.devs[0]!, e1);
        });
        // Sleeps in poll until the sender's event arrives.
        const fds = [{ fd, events: EPOLLIN, revents: 0 }];
        got.poll = await p.poll(fds, -1);
        got.revents = fds[0]!.revents;
        got.read1 = await p.read(fd, buf, 4096);
        p.spawnThread("sender2", async () => {
          await drmSendEvent(m.devs[0]!, e2);
        });
        // Sleeps in drm_read() until the second one arrives.
        got.read2 = await p.read(fd, buf, 4096);
        got.tag2 = tags(await p.readMemory(buf, 16), 16);
        await p.close(fd);
      });
    });
    expectClean(r);
    expect(got).toEqual({
      idlePoll: 0,
      poll: 1,
      revents: EPOLLIN,
      read1: 16,
      read2: 16,
      tag2: [2],
    });
  });
});
