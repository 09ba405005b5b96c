import {
  explore,
  type Owner,
  point,
  type RunResult,
  replay,
  report,
  SimMutex,
  spawn,
} from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { Kref } from "./kref.js";

// The examples of Documentation/core-api/kref.rst under the scheduler: each right pattern is
// checked against every schedule within the preemption bound (DFS, complete), and each wrong
// pattern the document warns about is found as the splat the kernel would print.

/** A slab object: freeing it twice, or touching it after free, is a KASAN report. */
class Entry implements Owner {
  freed = false;
  readonly kref: Kref;
  constructor(readonly name: string) {
    this.kref = new Kref(this);
    this.kref.init();
  }
  checkAccess(op: string): boolean {
    if (!this.freed) return true;
    report("kasan", `BUG: KASAN: slab-use-after-free in ${op}`, { object: this.name });
    return false;
  }
  async use(what: string): Promise<void> {
    await point(`${what}(${this.name})`);
    this.checkAccess(what);
  }
  kfree(): void {
    if (this.freed) report("kasan", "BUG: KASAN: double-free", { object: this.name });
    this.freed = true;
  }
}

const kinds = (r: RunResult | null) => [...new Set(r?.splats.map((s) => s.kind))].sort();

async function exhaustive(scenario: () => Promise<void>) {
  const res = await explore(scenario, { strategy: "dfs", preemptionBound: 3, schedules: 20_000 });
  return res;
}

/**
 * kref.rst's two threads over a one-entry list: a user that looks the entry up, uses it and puts
 * it, and a remover that drops the list's reference.
 */
async function userAndRemover(
  entry: Entry,
  getEntry: () => Promise<Entry | null>,
  putEntry: (e: Entry) => Promise<unknown>,
): Promise<void> {
  const user = spawn("user", async () => {
    const e = await getEntry();
    if (e) {
      await e.use("do_stuff");
      await putEntry(e);
    }
  });
  const remover = spawn("remover", async () => {
    await putEntry(entry); // drops the list's reference
  });
  await user.join();
  await remover.join();
}

describe("kref.rst under the scheduler", () => {
  describe("rule 1: kref_get before handing the pointer to another thread", () => {
    const handoff = (getFirst: boolean) => async () => {
      const data = new Entry("my_data");
      const release = () => data.kfree();
      if (getFirst) await data.kref.get();
      const worker = spawn("more_data_handling", async () => {
        await data.use("more_data_handling");
        await data.kref.put(release);
      });
      if (!getFirst) await data.kref.get(); // BAD BAD BAD - get is after the handoff
      await data.use("my_data_handler");
      await data.kref.put(release);
      await worker.join();
    };

    it("get before the handoff: no schedule fails", async () => {
      const res = await exhaustive(handoff(true));
      expect(res.complete).toBe(true);
      expect(res.failures).toEqual([]);
    });

    it("PCT finds the get after the handoff, and the token replays the same splats", async () => {
      const res = await explore(handoff(false), {
        strategy: "pct",
        depth: 3,
        schedules: 300,
        seed: 2,
      });
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      const again = await replay(r!.token, handoff(false));
      expect(again.splats.map((s) => s.message)).toEqual(r!.splats.map((s) => s.message));
      expect(again.splats.some((s) => s.kind === "refcount")).toBe(true);
    });

    it("get after the handoff: addition on 0 and use-after-free", async () => {
      const res = await exhaustive(handoff(false));
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      expect(kinds(r)).toEqual(["kasan", "refcount"]);
      const refcount = r?.splats.find((s) => s.kind === "refcount");
      expect(refcount?.message).toBe("refcount_t: addition on 0; use-after-free.");
      expect(refcount?.object).toBe("my_data");
    });
  });

  describe("rule 3: a lookup without a reference must be serialized against the last put", () => {
    // A one-entry list, protected by `mutex`; the list holds the initial reference.
    function lookup(opts: { lockedLookup: boolean; lockedPut: boolean }) {
      return async () => {
        const mutex = new SimMutex("mutex");
        const entry = new Entry("entry");
        let listed: Entry | null = entry;
        const releaseEntry = () => {
          listed = null; // list_del
          entry.kfree();
        };
        const putEntry = async (e: Entry) => {
          if (opts.lockedPut) await mutex.lock();
          await e.kref.put(releaseEntry);
          if (opts.lockedPut) await mutex.unlock();
        };
        const getEntry = async (): Promise<Entry | null> => {
          if (opts.lockedLookup) await mutex.lock();
          await point("list_first(q)");
          const e = listed;
          if (e) await e.kref.get();
          if (opts.lockedLookup) await mutex.unlock();
          return e;
        };
        await userAndRemover(entry, getEntry, putEntry);
      };
    }

    it("lookup + kref_get and kref_put + list_del under the same mutex: no schedule fails", async () => {
      const res = await exhaustive(lookup({ lockedLookup: true, lockedPut: true }));
      expect(res.complete).toBe(true);
      expect(res.failures).toEqual([]);
    });

    it("PCT finds the unlocked lookup within a few hundred schedules, and the token replays it", async () => {
      const scenario = lookup({ lockedLookup: false, lockedPut: true });
      const res = await explore(scenario, { strategy: "pct", depth: 3, schedules: 300, seed: 1 });
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      expect(res.schedules).toBeLessThanOrEqual(300);
      const again = await replay(r!.token, scenario);
      const sig = (x: RunResult) => x.splats.map((s) => `${s.kind}|${s.message}|${s.object}`);
      expect(sig(again)).toEqual(sig(r!));
      expect(again.traceHash).toBe(r!.traceHash);
    });

    it("an unlocked lookup is found: kref_get on a freed entry", async () => {
      const res = await exhaustive(lookup({ lockedLookup: false, lockedPut: true }));
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      expect(kinds(r)).toContain("kasan");
      expect(r?.splats[0]?.message).toBe("BUG: KASAN: slab-use-after-free in kref_get");
      expect(r?.splats[0]?.object).toBe("entry");
    });
  });

  describe("kref_get_unless_zero: the put needs no lock, the release takes it", () => {
    function lookup(opts: { getInsideCriticalSection: boolean }) {
      return async () => {
        const mutex = new SimMutex("mutex");
        const entry = new Entry("entry");
        let listed: Entry | null = entry;
        const releaseEntry = async () => {
          await mutex.lock();
          listed = null; // list_del
          await mutex.unlock();
          entry.kfree();
        };
        const getEntry = async (): Promise<Entry | null> => {
          await mutex.lock();
          await point("list_first(q)");
          let e = listed;
          if (opts.getInsideCriticalSection) {
            if (e && !(await e.kref.getUnlessZero())) e = null;
            await mutex.unlock();
          } else {
            await mutex.unlock();
            if (e && !(await e.kref.getUnlessZero())) e = null;
          }
          return e;
        };
        await userAndRemover(entry, getEntry, (e) => e.kref.put(releaseEntry));
      };
    }

    it("inside the lookup's critical section: no schedule fails", async () => {
      const res = await exhaustive(lookup({ getInsideCriticalSection: true }));
      expect(res.complete).toBe(true);
      expect(res.failures).toEqual([]);
    });

    it("outside it: kref_get_unless_zero on freed memory", async () => {
      const res = await exhaustive(lookup({ getInsideCriticalSection: false }));
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      expect(r?.splats[0]?.kind).toBe("kasan");
      expect(r?.splats[0]?.message).toBe("BUG: KASAN: slab-use-after-free in kref_get_unless_zero");
    });
  });

  describe("kref_put_mutex: only the 1 -> 0 transition takes the lock", () => {
    function lookup(opts: { putMutex: boolean }) {
      return async () => {
        const mutex = new SimMutex("mutex");
        const entry = new Entry("entry");
        let listed: Entry | null = entry;
        // With kref_put_mutex the release runs with the mutex held and drops it; with a plain
        // kref_put it has to take it itself.
        const releaseEntry = async () => {
          if (!opts.putMutex) await mutex.lock();
          listed = null; // list_del
          await mutex.unlock();
          entry.kfree();
        };
        const putEntry = (e: Entry) =>
          opts.putMutex ? e.kref.putMutex(releaseEntry, mutex) : e.kref.put(releaseEntry);
        const getEntry = async (): Promise<Entry | null> => {
          await mutex.lock();
          await point("list_first(q)");
          const e = listed;
          if (e) await e.kref.get(); // a plain get: the lookup holds the mutex
          await mutex.unlock();
          return e;
        };
        await userAndRemover(entry, getEntry, putEntry);
      };
    }

    it("kref_put_mutex with a plain kref_get under the mutex: no schedule fails", async () => {
      const res = await exhaustive(lookup({ putMutex: true }));
      expect(res.complete).toBe(true);
      expect(res.failures).toEqual([]);
    });

    it("a plain kref_put whose release takes the mutex: the lookup's kref_get hits 0", async () => {
      const res = await exhaustive(lookup({ putMutex: false }));
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      expect(r?.splats[0]?.kind).toBe("refcount");
      expect(r?.splats[0]?.message).toBe("refcount_t: addition on 0; use-after-free.");
      expect(r?.splats[0]?.object).toBe("entry");
      // The saturated counter keeps the user's put from releasing a second time: no double free.
      expect(r?.splats.filter((s) => s.message.includes("double-free"))).toEqual([]);
    });
  });
});
