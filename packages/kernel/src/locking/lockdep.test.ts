import { point, type RunResult, Simulation, type Splat, spawn } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { kfree, kmalloc, SlabObject } from "../mm/slab.js";
import {
  heldLocks,
  LockClassKey,
  lockdepAssertHeld,
  lockdepAssertNotHeld,
  lockdepCheckReturnToUser,
  lockdepDependencies,
} from "./lockdep.js";
import { Mutex } from "./mutex.js";
import { SpinLock } from "./spinlock.js";

function run(fn: () => Promise<void>, seed = 1): Promise<RunResult> {
  return new Simulation({ seed }).run(fn);
}

function lockdepSplats(r: RunResult): Splat[] {
  return r.splats.filter((s) => s.kind === "lockdep");
}

describe("lockdep: circular dependencies", () => {
  it("reports an AB-BA inversion from a run in which no deadlock happens", async () => {
    const r = await run(async () => {
      const a = new Mutex("lock_a");
      const b = new Mutex("lock_b");
      const t1 = spawn("t1", async () => {
        await a.lock();
        await b.lock();
        await b.unlock();
        await a.unlock();
      });
      await t1.join(); // t1 is done before t2 starts: the run cannot deadlock
      const t2 = spawn("t2", async () => {
        await b.lock();
        await a.lock();
        await a.unlock();
        await b.unlock();
      });
      await t2.join();
    });
    expect(r.outcome).toBe("ok");
    const splats = lockdepSplats(r);
    expect(splats).toHaveLength(1);
    const s = splats[0]!;
    expect(s.task).toBe("t2");
    const m = s.message;
    expect(m.split("\n")[0]).toBe("WARNING: possible circular locking dependency detected");
    expect(m).toMatch(/t2\/\d+ is trying to acquire lock:\n \(lock_a\)\{\+\.\+\.\}-\{4:4\}/);
    expect(m).toContain("but task is already holding lock:\n (lock_b){+.+.}-{4:4}");
    expect(m).toContain("which lock already depends on the new lock.");
    // The chain, as the kernel prints it: #1 is the held lock with the site where t1 took it
    // (holding lock_a), #0 the lock being acquired now.
    expect(m).toMatch(
      /-> #1 \(lock_b\)\{\+\.\+\.\}-\{4:4\}:\n {7}mutex_lock\(lock_b\) \[t1\/\d+ step \d+\]\n {7}\(taken while holding \(lock_a\)/,
    );
    expect(m).toMatch(/-> #0 \(lock_a\)\{\+\.\+\.\}-\{4:4\}:\n {7}mutex_lock\(lock_a\) \[t2\//);
    expect(m).toContain(
      [
        "       CPU0                    CPU1",
        "       ----                    ----",
        "  lock(lock_b);",
        "                               lock(lock_a);",
        "                               lock(lock_b);",
        "  lock(lock_a);",
        "",
        " *** DEADLOCK ***",
      ].join("\n"),
    );
    expect(m).not.toContain("Chain exists of");
    expect(m).toMatch(/1 lock held by t2\/\d+:\n #0: \(lock_b\)/);
    // Both sites: t1's first A -> B and t2's B -> A.
    const roles = s.sites.map((x) => `${x.role} @${x.task}`);
    expect(roles).toEqual([
      "dependency lock_a -> lock_b (first taken) @t1",
      "holding lock_b @t2",
      "new dependency lock_b -> lock_a @t2",
    ]);
  });

  it("reports a three-lock cycle with the whole chain, once", async () => {
    const r = await run(async () => {
      const a = new Mutex("A");
      const b = new Mutex("B");
      const c = new Mutex("C");
      const pair = async (x: Mutex, y: Mutex) => {
        await x.lock();
        await y.lock();
        await y.unlock();
        await x.unlock();
      };
      await pair(a, b);
      await pair(b, c);
      await pair(c, a); // closes A -> B -> C -> A
      await pair(c, a); // the same cycle again: not reported twice
      await pair(b, a); // B -> A: a different cycle (A -> B -> A)
    });
    expect(r.outcome).toBe("ok");
    const splats = lockdepSplats(r);
    expect(splats).toHaveLength(2);
    const m = splats[0]!.message;
    expect(m).toContain("is trying to acquire lock:\n (A)");
    expect(m).toContain("but task is already holding lock:\n (C)");
    const chain = [...m.matchAll(/^-> #(\d) \((\w)\)/gm)].map((x) => `#${x[1]} ${x[2]}`);
    expect(chain).toEqual(["#2 C", "#1 B", "#0 A"]);
    expect(m).toContain("Chain exists of:\n  A --> B --> C");
    expect(m).toContain("  lock(C);\n                               lock(B);");
    expect(splats[1]!.message).toContain("but task is already holding lock:\n (B)");
  });

  it("records dependencies with their first site and none for trylocks", async () => {
    await run(async () => {
      const a = new Mutex("A");
      const b = new Mutex("B");
      const c = new SpinLock("C");
      await a.lock();
      expect(b.tryLock()).toBe(true); // a trylock adds no dependency A -> B
      await c.lock(); // but C depends on both the trylock'd B and on A
      await c.unlock();
      await b.unlock();
      await a.unlock();
      expect(lockdepDependencies().map((d) => `${d.from}->${d.to}`)).toEqual(["B->C", "A->C"]);
    });
  });

  it("finds the AB-BA deadlock itself under exploration, naming the holder", async () => {
    const res = await explore(
      async () => {
        const a = new Mutex("A");
        const b = new Mutex("B");
        spawn("t1", async () => {
          await a.lock();
          await b.lock();
          await b.unlock();
          await a.unlock();
        });
        spawn("t2", async () => {
          await b.lock();
          await a.lock();
          await a.unlock();
          await b.unlock();
        });
      },
      { strategy: "pct", schedules: 200, seed: 7, isFailure: (r) => r.outcome === "deadlock" },
    );
    const f = res.firstFailure;
    expect(f).toBeDefined();
    expect(f!.message).toMatch(/waits on mutex [AB] held by t[12]\[\d+\]/);
    // Lockdep saw the inversion before the tasks blocked.
    expect(f!.splats.some((s) => s.message.includes("circular locking dependency"))).toBe(true);
  });
});

describe("lockdep: recursion and nesting", () => {
  it("reports two locks of one class taken without a nesting annotation", async () => {
    const r = await run(async () => {
      const parent = new Mutex("inode_lock");
      const child = new Mutex("inode_lock");
      await parent.lock();
      await child.lock(); // no deadlock (two instances), but lockdep cannot tell
      await child.unlock();
      await parent.unlock();
    });
    expect(r.outcome).toBe("ok");
    const [s] = lockdepSplats(r);
    expect(s!.message.split("\n")[0]).toBe("WARNING: possible recursive locking detected");
    expect(s!.message).toContain("  lock(inode_lock);\n  lock(inode_lock);");
    expect(s!.message).toContain("May be due to missing lock nesting notation");
  });

  it("accepts the same class with lockNested(subclass)", async () => {
    const r = await run(async () => {
      const parent = new Mutex("inode_lock");
      const child = new Mutex("inode_lock");
      await parent.lock();
      await child.lockNested(1);
      expect(heldLocks()).toEqual([parent, child]);
      await child.unlock();
      await parent.unlock();
      expect(lockdepDependencies().map((d) => `${d.from}->${d.to}`)).toEqual([
        "inode_lock->inode_lock/1",
      ]);
    });
    expect(r.splats).toEqual([]);
  });

  it("splits one name into classes with explicit keys", async () => {
    const r = await run(async () => {
      const k1 = new LockClassKey("dev_lock");
      const k2 = new LockClassKey("bo_lock");
      const x = new Mutex("lock", { key: k1 });
      const y = new Mutex("lock", { key: k2 });
      await x.lock();
      await y.lock();
      await y.unlock();
      await x.unlock();
    });
    expect(r.splats).toEqual([]);
  });

  it("reports relocking the same mutex, and the run then deadlocks on itself", async () => {
    const r = await run(async () => {
      const m = new Mutex("object_name_lock");
      spawn("t1", async () => {
        await m.lock();
        await m.lock();
      });
    });
    expect(r.outcome).toBe("deadlock");
    expect(r.message).toMatch(/t1\[\d+\] waits on mutex object_name_lock held by t1\[\d+\]/);
    const [s] = lockdepSplats(r);
    expect(s!.message).toContain("possible recursive locking detected");
    expect(s!.message).toContain("The same lock instance (object_name_lock) is taken twice");
  });
});

describe("lockdep: held locks", () => {
  it("reports an unlock of a lock not held", async () => {
    const r = await run(async () => {
      const m = new Mutex("object_name_lock");
      await m.unlock();
      expect(m.locked).toBe(false);
    });
    const [s] = lockdepSplats(r);
    expect(s!.message).toMatch(
      /^WARNING: bad unlock balance detected!\n-+\nmain\/\d+ is trying to release lock \(object_name_lock\) at:\nmutex_unlock\(object_name_lock\)/,
    );
    expect(s!.message).toContain("but there are no more locks to release!");
    expect(s!.message).toContain("the lock is not held by anyone");
  });

  it("reports an unlock of a lock another task holds, and releases it as the kernel does", async () => {
    const r = await run(async () => {
      const m = new Mutex("table_lock");
      const t1 = spawn("t1", async () => {
        await m.lock();
      });
      await t1.join();
      await m.unlock();
      expect(m.locked).toBe(false);
    });
    const msgs = lockdepSplats(r).map((s) => s.message.split("\n")[0]);
    expect(msgs).toEqual([
      expect.stringMatching(/^WARNING: t1\/\d+ still has locks held!$/),
      "WARNING: bad unlock balance detected!",
    ]);
    expect(lockdepSplats(r)[1]!.message).toMatch(/the lock is held by t1\/\d+/);
  });

  it("reports a lock held at task exit, with the lock and where it was taken", async () => {
    const r = await run(async () => {
      const m = new Mutex("object_name_lock");
      const s = new SpinLock("table_lock");
      const t = spawn("leaker", async () => {
        await m.lock();
        await s.lock();
      });
      await t.join();
    });
    expect(r.outcome).toBe("ok");
    const [s] = lockdepSplats(r);
    expect(s!.task).toBe("leaker");
    expect(s!.message).toMatch(/^WARNING: leaker\/\d+ still has locks held!\n-{36}\n/);
    expect(s!.message).toMatch(
      /2 locks held by leaker\/\d+:\n #0: \(object_name_lock\)\{\+\.\+\.\}-\{4:4\}, at: mutex_lock\(object_name_lock\) \[leaker\/\d+ step \d+\]\n #1: \(table_lock\)\{\+\.\+\.\}-\{2:2\}/,
    );
    expect(s!.sites.map((x) => x.role)).toEqual(["holding object_name_lock", "holding table_lock"]);
  });

  it("reports a lock held when returning to user space", async () => {
    const r = await run(async () => {
      const m = new Mutex("cxl_region_rwsem");
      lockdepCheckReturnToUser(); // nothing held: silent
      await m.lock();
      lockdepCheckReturnToUser();
      lockdepCheckReturnToUser(); // the same state again: reported once
      await m.unlock();
    });
    const splats = lockdepSplats(r);
    expect(splats).toHaveLength(1);
    expect(splats[0]!.message).toMatch(
      /^WARNING: lock held when returning to user space!\n-+\nmain\/\d+ is leaving the kernel with locks still held!\n1 lock held by main\/\d+:\n #0: \(cxl_region_rwsem\)/,
    );
  });

  it("reports freeing an object whose lock the task holds", async () => {
    class Conn extends SlabObject {
      readonly refLock = new Mutex("ref_lock", { owner: this });
    }
    class Other extends SlabObject {
      readonly lock = new Mutex("other_lock"); // embedded, no owner given: found by scanning
    }
    const r = await run(async () => {
      const c = kmalloc("tcp_conn", () => new Conn()) as Conn;
      const o = kmalloc("other", () => new Other()) as Other;
      await c.refLock.lock();
      kfree(c); // kref_put_mutex() release path that forgets to unlock
      await o.lock.lock();
      kfree(o);
      await c.refLock.unlock(); // touches freed memory: KASAN
      await o.lock.unlock(); // also freed memory, but the lock does not know its owner
    });
    const splats = lockdepSplats(r);
    expect(splats).toHaveLength(2);
    expect(splats[0]!.message).toMatch(
      /^WARNING: held lock freed!\n-+\nmain\/\d+ is freeing memory tcp_conn#1, with a lock still held there!\n \(ref_lock\)/,
    );
    expect(splats[0]!.object).toBe("tcp_conn#1");
    expect(splats[1]!.message).toContain(
      "is freeing memory other#1, with a lock still held there!",
    );
    const kasan = r.splats.filter((s) => s.kind === "kasan");
    expect(kasan.map((s) => s.message.split("\n")[0])).toEqual([
      "BUG: KASAN: slab-use-after-free in mutex_unlock",
    ]);
  });

  it("asserts a lock is held (lockdep_assert_held) with a warn splat", async () => {
    const r = await run(async () => {
      const m = new Mutex("object_name_lock");
      lockdepAssertHeld(m);
      lockdepAssertNotHeld(m);
      await m.lock();
      lockdepAssertHeld(m);
      lockdepAssertNotHeld(m);
      await m.unlock();
    });
    expect(r.splats.map((s) => `${s.kind}: ${s.message.split(":")[1]}`)).toEqual([
      "warn:  lockdep_assert_held(object_name_lock) failed",
      "warn:  lockdep_assert_not_held(object_name_lock) failed",
    ]);
  });

  it("lists the locks a task holds, including the one it waits for", async () => {
    await run(async () => {
      const a = new Mutex("A");
      const b = new Mutex("B");
      await a.lock();
      const t = spawn("waiter", async () => {
        await b.lock();
        await a.lock();
        await a.unlock();
        await b.unlock();
      });
      while (!b.locked || t.state !== "blocked") await point("poll");
      expect(heldLocks(t)).toEqual([b, a]); // a is still awaited: held for lockdep already
      expect(heldLocks()).toEqual([a]);
      await a.unlock();
      await t.join();
      expect(heldLocks(t)).toEqual([]);
    });
  });
});
