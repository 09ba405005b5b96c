import { Simulation, spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { Entry } from "./entry.js";

describe("Entry", () => {
  it("reports a touch after kfree() and a second kfree() as KASAN, with both sites", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const e = new Entry("obj");
      const freer = spawn("freer", () => e.kfree());
      await freer.join();
      await e.use("read");
      e.kfree();
    });
    expect(r.splats.map((s) => [s.kind, s.message, s.object, s.task])).toEqual([
      ["kasan", "BUG: KASAN: slab-use-after-free in read", "obj", "main"],
      ["kasan", "BUG: KASAN: double-free", "obj", "main"],
    ]);
    for (const s of r.splats) {
      expect(s.sites.map((x) => [x.role, x.task, x.label])).toEqual([
        ["allocated", "main", "kmalloc"],
        ["freed", "freer", "kfree"],
      ]);
    }
  });

  it("is silent while alive, and its kref starts at 1", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const e = new Entry("obj");
      expect(e.kref.read()).toBe(1);
      await e.use("touch");
      expect(e.freed).toBe(false);
      e.kfree();
      expect(e.freed).toBe(true);
    });
    expect(r.splats).toEqual([]);
  });
});
