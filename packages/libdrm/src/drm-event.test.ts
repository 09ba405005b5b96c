import {
  accessVm,
  currentMm,
  EAGAIN,
  EFAULT,
  Kernel,
  O_RDWR,
  type Process,
} from "@primetime/kernel";
import { Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { type DrmEventRecord, drmHandleEvent, drmReadEvents, parseDrmEvents } from "./drm-event.js";
import { close, open } from "./libc.js";
import { isSysError } from "./sys-error.js";

/** A struct drm_event of `length` bytes with `type`, the rest filled with `fill`. */
function event(type: number, length: number, fill: number): Uint8Array {
  const b = new Uint8Array(length).fill(fill);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, length, true);
  return b;
}

/**
 * Runs `body` in a process with /dev/ev open, a node whose ->read copies the scripted events
 * that fit (whole ones, as drm_read()) to the user buffer, -EAGAIN when none is left, and
 * returns `raw` instead of the events while it is set.
 */
async function withEventNode(
  script: Uint8Array[],
  body: (p: Process, fd: number, state: { raw: number | null }) => Promise<void>,
): Promise<void> {
  const state: { raw: number | null } = { raw: null };
  const r = await new Simulation({ seed: 1 }).run(async () => {
    const kernel = Kernel.boot();
    kernel.registerChrdev("/dev/ev", {
      read: async (_file, buf, count) => {
        if (state.raw !== null) return state.raw;
        let ret = 0;
        while (script.length > 0 && script[0]!.length <= count - ret) {
          const e = script.shift()!;
          const w = await accessVm(currentMm()!, buf + ret, e.length, e);
          if (typeof w === "number" && w < 0) return ret || -EFAULT;
          ret += e.length;
        }
        return ret || -EAGAIN;
      },
    });
    const p = kernel.spawnProcess("prog", async (p: Process) => {
      const fd = await open(p, "/dev/ev", O_RDWR);
      await body(p, fd, state);
      await close(p, fd);
    });
    expect(await p.wait()).toBe(0);
  });
  expect(r.outcome).toBe("ok");
}

describe("DRM events (drmHandleEvent(), drmReadEvents())", () => {
  it("drmReadEvents() returns the whole events one read gave, in order", async () => {
    const got: DrmEventRecord[][] = [];
    let err: unknown = null;
    await withEventNode(
      [event(0x8000_0000, 24, 1), event(0x2, 32, 2), event(0x8000_0000, 24, 3)],
      async (p, fd) => {
        got.push(await drmReadEvents(p, fd, 60));
        got.push(await drmReadEvents(p, fd));
        try {
          await drmReadEvents(p, fd);
        } catch (e) {
          err = e;
        }
      },
    );
    expect(got.map((g) => g.map((e) => [e.type, e.length, e.bytes[8]]))).toEqual([
      [
        [0x8000_0000, 24, 1],
        [0x2, 32, 2],
      ],
      [[0x8000_0000, 24, 3]],
    ]);
    expect(isSysError(err, "EAGAIN")).toBe(true);
  });

  it("drmHandleEvent(): each event to the handler; 0 for an empty read, -1 for a short one", async () => {
    const seen: number[] = [];
    const rets: number[] = [];
    await withEventNode([event(7, 16, 0), event(8, 16, 0)], async (p, fd, state) => {
      rets.push(await drmHandleEvent(p, fd, { handler: (e) => seen.push(e.type) }));
      state.raw = 0;
      rets.push(await drmHandleEvent(p, fd, {}));
      state.raw = 4;
      rets.push(await drmHandleEvent(p, fd, {}));
    });
    expect(seen).toEqual([7, 8]);
    expect(rets).toEqual([0, 0, -1]);
  });

  it("parseDrmEvents() stops at a truncated or malformed header", () => {
    const two = new Uint8Array([...event(1, 12, 0), ...event(2, 16, 0).slice(0, 10)]);
    expect(parseDrmEvents(two).map((e) => e.type)).toEqual([1]);
    const bad = event(3, 8, 0);
    new DataView(bad.buffer).setUint32(4, 4, true); // a length shorter than the header
    expect(parseDrmEvents(bad)).toEqual([]);
  });
});
