import { Simulation } from "@primetime/sim";
import { afterEach, describe, expect, it } from "vitest";
import { isErr } from "../../include/errno.js";
import { Kernel } from "../../init/kernel.js";
import { kfree, kmalloc, liveObjects, SlabObject } from "../slab.js";
import {
  kasanFull,
  kasanMultiShot,
  kasanReport,
  kasanRestoreMultiShot,
  kasanSaveEnableMultiShot,
  kasanUnwrap,
  setKasanFull,
  setKasanMultiShot,
} from "./kasan.js";

class Node extends SlabObject {
  next: Node | null = null;
  value = 0;

  bump(): number {
    return ++this.value;
  }
}

afterEach(() => setKasanFull(false));

describe("kasanReport", () => {
  const firstLines = (r: { splats: readonly { message: string }[] }): string[] =>
    r.splats.map((s) => s.message.split("\n")[0]!);

  it("prints the first report of a simulation only (report_enabled()); a new simulation reports again", async () => {
    const target = { name: "thing#1" };
    for (let i = 0; i < 2; i++) {
      const r = await new Simulation().run(() => {
        expect(kasanMultiShot()).toBe(false);
        expect(kasanReport("slab-use-after-free", target, "read")).toBe(true);
        expect(kasanReport("slab-use-after-free", target, "read")).toBe(false);
        expect(kasanReport("slab-use-after-free", target, "write")).toBe(false);
        expect(kasanReport("double-free", target, "kfree")).toBe(false);
      });
      expect(firstLines(r)).toEqual(["BUG: KASAN: slab-use-after-free in read"]);
    }
  });

  it("a silent report does not stop the access: a double free after it still frees nothing", async () => {
    const r = await new Simulation().run(() => {
      const a = kmalloc("node", () => new Node()) as Node;
      const b = kmalloc("node", () => new Node()) as Node;
      kfree(a);
      expect(a.checkAccess("kref_get")).toBe(false); // reported
      expect(a.checkAccess("kref_get")).toBe(false); // silent, still a freed object
      kfree(a); // a silent double free: changes nothing
      expect(liveObjects()).toEqual([b]);
      kfree(b);
      expect(liveObjects()).toEqual([]);
    });
    expect(firstLines(r)).toEqual(["BUG: KASAN: slab-use-after-free in kref_get"]);
  });

  it("with kasan_multi_shot every report prints, the same access again included", async () => {
    const target = { name: "thing#1" };
    const body = (): void => {
      expect(kasanMultiShot()).toBe(true);
      expect(kasanReport("slab-use-after-free", target, "read")).toBe(true);
      expect(kasanReport("slab-use-after-free", target, "read")).toBe(true);
      expect(kasanReport("double-free", target, "kfree")).toBe(true);
    };
    const all = [
      "BUG: KASAN: slab-use-after-free in read",
      "BUG: KASAN: slab-use-after-free in read",
      "BUG: KASAN: double-free in kfree",
    ];
    // Set in the simulation, at boot (the kernel's command line), or as the default outside.
    const inside = await new Simulation().run(() => {
      setKasanMultiShot(true);
      body();
    });
    expect(firstLines(inside)).toEqual(all);
    const sim = new Simulation();
    Kernel.boot(sim, { kasanMultiShot: true });
    expect(firstLines(await sim.run(body))).toEqual(all);
    setKasanMultiShot(true);
    try {
      expect(firstLines(await new Simulation().run(body))).toEqual(all);
    } finally {
      setKasanMultiShot(false);
    }
    // Set inside a simulation, it stays with that simulation.
    const after = await new Simulation().run(() => {
      expect(kasanMultiShot()).toBe(false);
      kasanReport("slab-use-after-free", target, "read");
      kasanReport("slab-use-after-free", target, "read");
    });
    expect(after.splats).toHaveLength(1);
  });

  it("kasan_save_enable_multi_shot() / kasan_restore_multi_shot() bracket a stretch of every report", async () => {
    const target = { name: "thing#1" };
    const r = await new Simulation().run(() => {
      const was = kasanSaveEnableMultiShot();
      expect(was).toBe(false);
      expect(kasanReport("slab-use-after-free", target, "a")).toBe(true);
      expect(kasanReport("slab-use-after-free", target, "b")).toBe(true);
      kasanRestoreMultiShot(was);
      expect(kasanMultiShot()).toBe(false);
      // Multi-shot reports leave KASAN_BIT_REPORTED clear: the next one is the boot's first.
      expect(kasanReport("slab-use-after-free", target, "c")).toBe(true);
      expect(kasanReport("slab-use-after-free", target, "d")).toBe(false);
      setKasanMultiShot(true);
      expect(kasanSaveEnableMultiShot()).toBe(true);
      kasanRestoreMultiShot(true);
      expect(kasanMultiShot()).toBe(true);
    });
    expect(firstLines(r)).toEqual([
      "BUG: KASAN: slab-use-after-free in a",
      "BUG: KASAN: slab-use-after-free in b",
      "BUG: KASAN: slab-use-after-free in c",
    ]);
  });
});

describe("full KASAN", () => {
  it("is off by default and only affects objects allocated while on", async () => {
    expect(kasanFull()).toBe(false);
    const r = await new Simulation().run(() => {
      kasanSaveEnableMultiShot(); // every report, as KASAN's own tests run (kasan_multi_shot)
      const plain = kmalloc("node", () => new Node()) as Node;
      setKasanFull(true);
      const checked = kmalloc("node", () => new Node()) as Node;
      expect(kasanUnwrap(plain)).toBe(plain);
      expect(kasanUnwrap(checked)).not.toBe(checked);
      expect(liveObjects()).toEqual([plain, checked]);
      expect(liveObjects()[1]).toBe(checked); // the proxy, as the caller holds it
      kfree(plain);
      kfree(checked);
      plain.value = 1;
      checked.bump(); // a method call reads the method, then reads and writes `value`
    });
    expect(r.splats.map((s) => s.message.split("\n")[0])).toEqual([
      "BUG: KASAN: slab-use-after-free in Node.bump",
      "BUG: KASAN: slab-use-after-free in Node.value",
      "BUG: KASAN: slab-use-after-free in Node.value",
    ]);
    expect(r.splats.map((s) => s.message.split("\n")[1]!.split(" by")[0])).toEqual([
      "Read of node#2 (Node.bump)",
      "Read of node#2 (Node.value)",
      "Write of node#2 (Node.value)",
    ]);
  });

  it("with multi-shot, one assignment is one Write report (set, not set and defineProperty)", async () => {
    setKasanFull(true);
    const r = await new Simulation().run(() => {
      kasanSaveEnableMultiShot();
      const n = kmalloc("node", () => new Node()) as Node;
      kfree(n);
      n.value = 1;
      n.value = 2;
      Object.defineProperty(n, "next", { value: null }); // a direct define is a write too
    });
    expect(r.splats.map((s) => s.message.split("\n")[1]!.split(" by")[0])).toEqual([
      "Write of node#1 (Node.value)",
      "Write of node#1 (Node.value)",
      "Write of node#1 (Node.next)",
    ]);
  });

  it("lets a live object be used normally and catches a stale pointer in a list", async () => {
    setKasanFull(true);
    const r = await new Simulation().run(() => {
      const a = kmalloc("node", () => new Node());
      const b = kmalloc("node", () => new Node());
      if (isErr(a) || isErr(b)) throw new Error("ENOMEM");
      a.next = b;
      expect(a.next.bump()).toBe(1);
      kfree(b); // forgot to unlink it from a
      expect(readNextValue(a)).toBe(1);
    });
    const [s] = r.splats;
    expect(s!.message.split("\n")[0]).toBe("BUG: KASAN: slab-use-after-free in Node.value");
    expect(s!.object).toBe("node#2");
    function readNextValue(head: Node): number {
      return head.next?.value ?? -1;
    }
  });
});
