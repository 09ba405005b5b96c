import {
  type Owner,
  outsideDmesg,
  point,
  type RunResult,
  report,
  SimMutex,
  Simulation,
  spawn,
} from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { callRcu, RcuHead, rcuBarrier, synchronizeRcu } from "./grace-period.js";
import {
  ListHead,
  listAddRcu,
  listAddTailRcu,
  listDelRcu,
  listEmpty,
  listEntries,
  listFirstOrNullRcu,
  listForEachEntryRcu,
  listReplaceRcu,
} from "./rcu-list.js";
import { RCU_SPLAT } from "./rcu-lockdep.js";
import { rcuReadLock, rcuReadUnlock } from "./rcu-read.js";

/** A slab object on an RCU list: touching it once freed is what KASAN reports. */
class Item implements Owner {
  freed = false;
  readonly name: string;
  readonly node: ListHead<Item>;
  readonly rcu: RcuHead;
  constructor(readonly id: number) {
    this.name = `item#${id}`;
    this.node = new ListHead(this.name, this, this);
    this.rcu = new RcuHead(`${this.name}->rcu`);
  }
  checkAccess(op: string): boolean {
    if (!this.freed) return true;
    report("kasan", `BUG: KASAN: slab-use-after-free in ${op}`, { object: this.name });
    return false;
  }
  async kfree(): Promise<void> {
    await point(`kfree(${this.name})`);
    if (this.freed) report("kasan", "BUG: KASAN: double-free", { object: this.name });
    this.freed = true;
  }
}

const ids = (head: ListHead<Item>) => listEntries(head).map((e) => e.id);

async function collect(head: ListHead<Item>): Promise<number[]> {
  const out: number[] = [];
  for await (const e of listForEachEntryRcu(head)) out.push(e.id);
  return out;
}

describe("list helpers, one task", () => {
  it("add, add_tail, del, replace, empty, first_or_null", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const head = new ListHead<Item>("items");
      const [a, b, c, d] = [1, 2, 3, 4].map((i) => new Item(i)) as [Item, Item, Item, Item];
      expect(await listEmpty(head)).toBe(true);
      expect(await listFirstOrNullRcu(head)).toBeNull();
      await listAddTailRcu(a.node, head);
      await listAddTailRcu(b.node, head);
      await listAddRcu(c.node, head);
      expect(ids(head)).toEqual([3, 1, 2]);
      expect(await listEmpty(head)).toBe(false);
      expect((await listFirstOrNullRcu(head))?.id).toBe(3);
      await listDelRcu(a.node);
      expect(ids(head)).toEqual([3, 2]);
      expect(a.node.prev).toBeNull(); // LIST_POISON2
      expect(a.node.next).toBe(b.node); // kept for readers standing on it
      await listReplaceRcu(b.node, d.node);
      expect(ids(head)).toEqual([3, 4]);
      await rcuReadLock();
      expect(await collect(head)).toEqual([3, 4]);
      await rcuReadUnlock();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
  });

  it("a reader standing on a deleted entry goes on to the rest of the list", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const head = new ListHead<Item>("items");
      const items = [1, 2, 3].map((i) => new Item(i));
      for (const it of items) await listAddTailRcu(it.node, head);
      await rcuReadLock();
      const seen: number[] = [];
      for await (const e of listForEachEntryRcu(head)) {
        seen.push(e.id);
        if (e.id === 1) {
          await listDelRcu(items[1]!.node); // the next one: skipped
          await listDelRcu(items[0]!.node); // the one the reader stands on: its next stays
        }
      }
      await rcuReadUnlock();
      expect(seen).toEqual([1, 3]);
    });
    expect(r.splats).toEqual([]);
  });

  it("CONFIG_DEBUG_LIST: double delete and double add are warnings and change nothing", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const head = new ListHead<Item>("items");
      const a = new Item(1);
      const b = new Item(2);
      await listAddTailRcu(a.node, head);
      await listAddTailRcu(b.node, head);
      await listAddTailRcu(b.node, head);
      await listDelRcu(a.node);
      await listDelRcu(a.node);
      expect(ids(head)).toEqual([2]);
    });
    expect(r.splats.map((s) => [s.kind, s.message])).toEqual([
      ["warn", "list_add double add: new=item#2, prev=item#2, next=items."],
      ["warn", "list_del corruption, item#1->prev is LIST_POISON2"],
    ]);
  });

  it("list_del_rcu() of a corrupted entry leaves it linked but poisons its prev (rculist.h)", async () => {
    // list_del_rcu() is `__list_del_entry(entry); entry->prev = LIST_POISON2;`: the debug check
    // makes __list_del_entry() return early, the poisoning after it still runs.
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const head = new ListHead<Item>("items");
      const a = new Item(1);
      const b = new Item(2);
      await listAddTailRcu(a.node, head);
      await listAddTailRcu(b.node, head);
      b.node.prev = head; // corrupt: a's next no longer points back at a
      await listDelRcu(a.node);
      expect(a.node.prev).toBeNull(); // LIST_POISON2
      expect(head.next).toBe(a.node); // not unlinked
      await listDelRcu(a.node);
    });
    expect(r.splats.map((s) => [s.kind, s.message])).toEqual([
      ["warn", "list_del corruption. next->prev should be item#1, but was items"],
      ["warn", "list_del corruption, item#1->prev is LIST_POISON2"],
    ]);
  });

  it("list_replace_rcu() of a deleted entry is an oops", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const head = new ListHead<Item>("items");
      const a = new Item(1);
      await listAddTailRcu(a.node, head);
      await listDelRcu(a.node);
      await spawn("replacer", () => listReplaceRcu(a.node, new Item(2).node)).join();
      expect(ids(head)).toEqual([]);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats.map((s) => [s.kind, s.task])).toEqual([["bug", "replacer"]]);
    expect(r.splats[0]!.message).toContain("LIST_POISON2");
  });

  it("traversal outside a reader: RCU-list traversed in non-reader section!", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const head = new ListHead<Item>("items");
      const lock = new SimMutex("items_lock");
      await listAddTailRcu(new Item(1).node, head);
      expect(await collect(head)).toEqual([1]);
      // With the update-side lock the condition names: fine.
      await lock.lock();
      const seen: number[] = [];
      for await (const e of listForEachEntryRcu(head, () => lock.heldByCurrent || "items_lock"))
        seen.push(e.id);
      await lock.unlock();
      expect(seen).toEqual([1]);
      for await (const _ of listForEachEntryRcu(head, () => lock.heldByCurrent || "items_lock")) {
        // traversed without the lock
      }
    });
    expect(r.splats.map((s) => [s.kind, s.message, s.object])).toEqual([
      ["rcu", RCU_SPLAT.listTraversal, "items"],
      ["rcu", `${RCU_SPLAT.listTraversal} (items_lock not held)`, "items"],
    ]);
  });

  it("works outside a simulation", async () => {
    outsideDmesg.clear();
    const head = new ListHead<Item>("items");
    const a = new Item(1);
    await listAddRcu(a.node, head);
    await rcuReadLock();
    expect(await collect(head)).toEqual([1]);
    await listDelRcu(a.node);
    await callRcu(a.rcu, () => a.kfree());
    expect(a.freed).toBe(false); // the reader is still inside
    await rcuReadUnlock();
    expect(a.freed).toBe(true);
    expect(outsideDmesg.length).toBe(0);
  });
});

describe("concurrent updaters and readers", () => {
  // Two updaters (serialized by the list lock) delete an entry each, one also adds; they free
  // what they removed after a grace period, or, with the bug, at once. Readers traverse under
  // rcu_read_lock() and read each entry's id: entries come in list order, at most once each.
  type Free = "call_rcu" | "synchronize_rcu" | "at once";
  const scenario = (free: Free, readers: number, passes: number) => async () => {
    const head = new ListHead<Item>("items");
    const lock = new SimMutex("items_lock");
    const items = [1, 2, 3].map((i) => new Item(i));
    for (const it of items) await listAddTailRcu(it.node, head);
    const release = async (it: Item) => {
      if (free === "call_rcu") await callRcu(it.rcu, () => it.kfree());
      else if (free === "synchronize_rcu") {
        await synchronizeRcu();
        await it.kfree();
      } else await it.kfree();
    };
    const rs = Array.from({ length: readers }, (_, i) =>
      spawn(`reader${i}`, async () => {
        for (let pass = 0; pass < passes; pass++) {
          await rcuReadLock();
          let last = 0;
          for await (const e of listForEachEntryRcu(head)) {
            await point(`read ${e.name}->id`);
            e.checkAccess("reader");
            if (e.id <= last) report("warn", `list order broken: ${e.id} after ${last}`);
            last = e.id;
          }
          await rcuReadUnlock();
        }
      }),
    );
    const del = (victim: Item, add?: Item) =>
      spawn(`updater${victim.id}`, async () => {
        await lock.lock();
        await listDelRcu(victim.node);
        if (add) await listAddTailRcu(add.node, head);
        await lock.unlock();
        await release(victim);
      });
    const ups = [del(items[0]!, new Item(4)), del(items[1]!)];
    for (const t of [...rs, ...ups]) await t.join();
    await rcuBarrier();
    expect(listEntries(head).map((e) => e.id)).toEqual([3, 4]);
  };
  const kinds = (r: RunResult | null) => r?.splats.map((s) => s.kind) ?? [];

  it("with call_rcu(): readers never touch a freed entry (PCT)", async () => {
    const res = await explore(scenario("call_rcu", 2, 2), { strategy: "pct", schedules: 300 });
    expect(kinds(res.firstFailure)).toEqual([]);
    expect(res.stats.outcomes.ok).toBe(300);
  });

  it("with synchronize_rcu(): readers never touch a freed entry (PCT)", async () => {
    const res = await explore(scenario("synchronize_rcu", 2, 1), {
      strategy: "pct",
      schedules: 300,
    });
    expect(kinds(res.firstFailure)).toEqual([]);
  });

  it("with call_rcu(): readers never touch a freed entry (DFS)", async () => {
    const res = await explore(scenario("call_rcu", 1, 1), {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 20_000,
    });
    expect(kinds(res.firstFailure)).toEqual([]);
    expect(res.complete).toBe(true);
  });

  it("freeing right after list_del_rcu(): PCT finds the use-after-free", async () => {
    const res = await explore(scenario("at once", 2, 1), { strategy: "pct", schedules: 400 });
    const r = res.firstFailure;
    expect(r).not.toBeNull();
    expect(new Set(kinds(r))).toEqual(new Set(["kasan"]));
    expect(r!.splats[0]!.task).toMatch(/^reader/);
  });
});
