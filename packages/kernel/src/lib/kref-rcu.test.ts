import { Kref } from "@primetime/atomics";
import {
  ListHead,
  listAddRcu,
  listDelRcu,
  listForEachEntryRcu,
  rcuBarrier,
  rcuReadLock,
  rcuReadUnlock,
} from "@primetime/rcu";
import { type RunResult, spawn } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { isErr } from "../include/errno.js";
import { Mutex } from "../locking/mutex.js";
import { kmemleakScan } from "../mm/kmemleak.js";
import { KmemCache, kfree, kfreeRcu, kmalloc, SlabObject } from "../mm/slab.js";

// The RCU variant of Documentation/core-api/kref.rst: lookups walk the list under
// rcu_read_lock() and take their reference with kref_get_unless_zero(); the release removes the
// entry with list_del_rcu() under the mutex and frees it with kfree_rcu(). A reader that found
// the entry before the removal may still touch it until its read-side section ends.

const cache = new KmemCache("my_data");

class MyData extends SlabObject {
  readonly refcount = new Kref(this);
  readonly link: ListHead<MyData> = new ListHead(`${this.name}.link`, this, this);
  constructor(readonly id: number) {
    super(cache);
    this.refcount.init();
  }
}

function scenario(opts: { freeWithoutGracePeriod: boolean }) {
  return async () => {
    const mutex = new Mutex("my_data_mutex");
    const list = new ListHead<MyData>("my_data_list");
    const entry = kmalloc(cache, () => new MyData(1));
    if (isErr(entry)) throw new Error("allocation failed");
    await mutex.lock();
    await listAddRcu(entry.link, list);
    await mutex.unlock();

    const releaseEntryRcu = async () => {
      await mutex.lock();
      await listDelRcu(entry.link);
      await mutex.unlock();
      if (opts.freeWithoutGracePeriod) kfree(entry);
      else await kfreeRcu(entry);
    };

    // get_entry_rcu(): lookup under RCU, then kref_get_unless_zero().
    const getEntryRcu = async (id: number): Promise<MyData | null> => {
      let found: MyData | null = null;
      await rcuReadLock();
      for await (const e of listForEachEntryRcu(list)) {
        if (e.id === id && (await e.refcount.getUnlessZero())) {
          found = e;
          break;
        }
      }
      await rcuReadUnlock();
      return found;
    };

    const reader = spawn("reader", async () => {
      const e = await getEntryRcu(1);
      if (e) await e.refcount.put(releaseEntryRcu);
    });
    const remover = spawn("remover", async () => {
      await entry.refcount.put(releaseEntryRcu); // drops the list's reference
    });
    await reader.join();
    await remover.join();
    await rcuBarrier();
    kmemleakScan();
  };
}

const kinds = (r: RunResult | null) => [...new Set(r?.splats.map((s) => s.kind) ?? [])].sort();

describe("kref.rst with RCU: kref_get_unless_zero under rcu_read_lock, kfree_rcu in release", () => {
  it("is clean in every schedule DFS explores within the bound", async () => {
    const res = await explore(scenario({ freeWithoutGracePeriod: false }), {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 5000,
    });
    expect(res.failures).toEqual([]);
    expect(res.complete).toBe(true);
    // The same bound reaches the racy window: without the grace period DFS finds the bug.
    const buggy = await explore(scenario({ freeWithoutGracePeriod: true }), {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 5000,
    });
    expect(buggy.firstFailure?.splats.some((s) => s.kind === "kasan")).toBe(true);
  });

  it("is clean across many PCT seeds", async () => {
    const res = await explore(scenario({ freeWithoutGracePeriod: false }), {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 7,
    });
    expect(res.failures).toEqual([]);
  });

  it("freeing without a grace period is a KASAN use-after-free when the reader touches it", async () => {
    const res = await explore(scenario({ freeWithoutGracePeriod: true }), {
      strategy: "pct",
      depth: 3,
      schedules: 500,
      seed: 3,
    });
    const r = res.firstFailure;
    expect(r).not.toBeNull();
    expect(kinds(r)).toContain("kasan");
    const kasan = r!.splats.find((s) => s.kind === "kasan")!;
    expect(kasan.message).toMatch(/use-after-free/);
    expect(kasan.object).toMatch(/^my_data#/);
    expect(kasan.sites.map((s) => s.role)).toEqual(
      expect.arrayContaining(
        ["Allocated", "Freed"].map((x) => expect.stringMatching(new RegExp(x, "i"))),
      ),
    );
  });
});
