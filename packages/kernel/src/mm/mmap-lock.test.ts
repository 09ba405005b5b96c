import { Simulation, spawn, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { MmapLock } from "./mmap-lock.js";

describe("mmap_lock", () => {
  it("readers share it, a writer excludes everyone", async () => {
    const events: string[] = [];
    const r = await new Simulation({ seed: 3 }).run(async () => {
      const lock = new MmapLock("mm");
      await lock.readLock();
      const reader = spawn("reader", async () => {
        await lock.readLock();
        events.push("second reader in");
        await lock.readUnlock();
      });
      await reader.join(); // a second reader does not wait for the first
      const writer = spawn("writer", async () => {
        await lock.writeLock();
        events.push("writer in");
        expect(lock.writeLocked).toBe(true);
        await lock.writeUnlock();
      });
      for (let i = 0; i < 5; i++) await yieldCpu();
      expect(events).toEqual(["second reader in"]);
      await lock.readUnlock();
      await writer.join();
    });
    expect(r.outcome).toBe("ok");
    expect(events).toEqual(["second reader in", "writer in"]);
    expect(r.splats).toEqual([]);
  });

  it("taking it twice in one task is a lockdep recursion", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const lock = new MmapLock("mm");
      await lock.readLock();
      await lock.readLock();
      await lock.readUnlock();
      await lock.readUnlock();
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["lockdep"]);
    expect(r.splats[0]!.message).toContain("possible recursive locking detected");
  });
});
