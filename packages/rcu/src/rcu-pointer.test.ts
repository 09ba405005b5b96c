import { outsideDmesg, Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { RCU_SPLAT } from "./rcu-lockdep.js";
import {
  RcuPointer,
  rcuAccessPointer,
  rcuAssignPointer,
  rcuDereference,
  rcuDereferenceProtected,
  rcuInitPointer,
  rcuReplacePointer,
} from "./rcu-pointer.js";
import { rcuReadLock, rcuReadUnlock } from "./rcu-read.js";

describe("RcuPointer", () => {
  it("assign, dereference, replace, access: values and labels", async () => {
    const sim = new Simulation({ seed: 1 });
    const r = await sim.run(async () => {
      const p = new RcuPointer<{ id: number }>("gbl_foo");
      const held = () => true;
      expect(await rcuAccessPointer(p)).toBeNull();
      await rcuAssignPointer(p, { id: 1 });
      await rcuReadLock();
      expect(await rcuDereference(p)).toEqual({ id: 1 });
      await rcuReadUnlock();
      const old = await rcuReplacePointer(p, { id: 2 }, held);
      expect(old).toEqual({ id: 1 });
      expect(await rcuDereferenceProtected(p, held)).toEqual({ id: 2 });
      await rcuInitPointer(p, null);
      expect(await rcuAccessPointer(p)).toBeNull();
    });
    expect(r.splats).toEqual([]);
    const labels = r.trace
      .steps()
      .filter((s) => s.task === "main")
      .map((s) => s.label);
    expect(labels).toEqual([
      "rcu_access_pointer(gbl_foo)",
      "rcu_assign_pointer(gbl_foo)",
      "rcu_read_lock",
      "rcu_dereference(gbl_foo)",
      // rcu_read_unlock and rcu_dereference_protected are not scheduling points (Lipton's
      // reduction: see ARCHITECTURE.md, "Scheduling points").
      "rcu_replace_pointer(gbl_foo)",
      "RCU_INIT_POINTER(gbl_foo)",
      "rcu_access_pointer(gbl_foo)",
      "exit",
    ]);
  });

  it("rcu_access_pointer() needs no protection; rcu_replace_pointer() checks its condition", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const p = new RcuPointer("gbl_foo", 1);
      expect(await rcuAccessPointer(p)).toBe(1);
      expect(await rcuReplacePointer(p, 2, () => "foo_lock")).toBe(1);
      expect(await rcuAccessPointer(p)).toBe(2);
    });
    expect(r.splats.map((s) => [s.kind, s.message, s.object])).toEqual([
      ["rcu", `${RCU_SPLAT.dereferenceProtected} (foo_lock not held)`, "gbl_foo"],
    ]);
  });

  it("works as plain async code outside a simulation", async () => {
    outsideDmesg.clear();
    const p = new RcuPointer("gbl_foo", "a");
    await rcuReadLock();
    expect(await rcuDereference(p)).toBe("a");
    await rcuReadUnlock();
    await rcuAssignPointer(p, "b");
    expect(await rcuDereferenceProtected(p, () => true)).toBe("b");
    expect(outsideDmesg.length).toBe(0);
  });
});
