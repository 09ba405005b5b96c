import { Simulation } from "@primetime/sim";
import { afterEach, describe, expect, it } from "vitest";
import { isErr } from "../../include/errno.js";
import { kfree, kmalloc, liveObjects, SlabObject } from "../slab.js";
import { kasanFull, kasanReport, kasanUnwrap, setKasanFull } from "./kasan.js";

class Node extends SlabObject {
  next: Node | null = null;
  value = 0;

  bump(): number {
    return ++this.value;
  }
}

afterEach(() => setKasanFull(false));

describe("kasanReport", () => {
  it("reports each (type, object, operation) once per simulation", async () => {
    const target = { name: "thing#1" };
    for (let i = 0; i < 2; i++) {
      const r = await new Simulation().run(() => {
        expect(kasanReport("slab-use-after-free", target, "read")).toBe(true);
        expect(kasanReport("slab-use-after-free", target, "read")).toBe(false);
        expect(kasanReport("slab-use-after-free", target, "write")).toBe(true);
        expect(kasanReport("double-free", target, "kfree")).toBe(true);
      });
      expect(r.splats.map((s) => s.message.split("\n")[0])).toEqual([
        "BUG: KASAN: slab-use-after-free in read",
        "BUG: KASAN: slab-use-after-free in write",
        "BUG: KASAN: double-free in kfree",
      ]);
    }
  });
});

describe("full KASAN", () => {
  it("is off by default and only affects objects allocated while on", async () => {
    expect(kasanFull()).toBe(false);
    const r = await new Simulation().run(() => {
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
