import { Kref } from "@primetime/atomics";
import { rcuBarrier, rcuReadLock, rcuReadUnlock } from "@primetime/rcu";
import { type RunResult, Simulation, type Splat, spawn } from "@primetime/sim";
import { afterEach, describe, expect, it } from "vitest";
import { type Errno, isErr } from "../include/errno.js";
import { Mutex } from "../locking/mutex.js";
import { kasanSaveEnableMultiShot, kasanUnwrap, setKasanFull } from "./kasan/kasan.js";
import {
  KmemCache,
  kfree,
  kfreeRcu,
  kmalloc,
  kmemCacheCreate,
  kmemCacheFree,
  kzalloc,
  liveObjectCount,
  liveObjects,
  SlabObject,
  slabStats,
} from "./slab.js";

class Buf extends SlabObject {
  readonly kref = new Kref(this);
  readonly lock = new Mutex("buf_lock", { owner: this });
  size = 4096;
}

function alloc(cache = "dma_buf"): Buf {
  const b = kmalloc(cache, () => new Buf());
  if (isErr(b)) throw new Error("allocation failed");
  return b;
}

function run(fn: () => Promise<void> | void): Promise<RunResult> {
  return new Simulation({ seed: 3 }).run(async () => {
    await fn();
  });
}

function kasan(r: RunResult): Splat[] {
  return r.splats.filter((s) => s.kind === "kasan");
}

afterEach(() => setKasanFull(false));

describe("kmalloc / kfree", () => {
  it("names objects per cache and counts them per simulation", async () => {
    const cache = kmemCacheCreate("dma_buf");
    for (let i = 0; i < 2; i++) {
      // Each simulation starts its own counts and sequence numbers.
      const r = await run(() => {
        const a = alloc();
        const b = alloc();
        const g = alloc("gem_object");
        expect([a.name, b.name, g.name]).toEqual(["dma_buf#1", "dma_buf#2", "gem_object#1"]);
        expect(a.cache).toBe(cache);
        expect(a.allocSite.label).toBe("kmalloc(dma_buf)");
        expect(a.allocSite.task).toBe("main");
        expect([cache.live, cache.total]).toEqual([2, 2]);
        kfree(a);
        expect(a.freed).toBe(true);
        expect(b.freed).toBe(false);
        expect(a.freeSite?.label).toBe("kfree(dma_buf#1)");
        expect([cache.live, cache.total]).toEqual([1, 2]);
        expect(slabStats()).toEqual([
          { cache: "dma_buf", live: 1, total: 2 },
          { cache: "gem_object", live: 1, total: 1 },
        ]);
        expect(liveObjects().map((o) => o.name)).toEqual(["dma_buf#2", "gem_object#1"]);
      });
      expect(r.splats).toEqual([]);
    }
  });

  it("keeps the live objects in allocation order through frees at either end and between", async () => {
    const r = await run(() => {
      const objs = Array.from({ length: 6 }, () => alloc());
      const names = () => liveObjects().map((o) => o.name);
      kfree(objs[0]); // the oldest
      kfree(objs[5]); // the newest
      kfree(objs[2]); // one between
      expect(names()).toEqual(["dma_buf#2", "dma_buf#4", "dma_buf#5"]);
      expect(liveObjectCount()).toBe(3);
      const more = alloc();
      kfree(objs[3]);
      kfree(objs[1]);
      expect(names()).toEqual(["dma_buf#5", more.name]);
      kfree(objs[4]);
      kfree(more);
      expect(names()).toEqual([]);
      expect(liveObjectCount()).toBe(0);
      const last = alloc();
      expect(names()).toEqual([last.name]);
      kfree(last);
    });
    expect(r.splats).toEqual([]);
  });

  it("interns caches by name and accepts kzalloc and kfree(null)", async () => {
    expect(new KmemCache("file")).toBe(kmemCacheCreate("file"));
    const r = await run(() => {
      const f = kzalloc("file", () => new Buf());
      expect(isErr(f)).toBe(false);
      kfree(null);
      kfree(undefined);
      kfree(f as Buf);
    });
    expect(r.splats).toEqual([]);
  });

  it("labels the sites with the task's last scheduling point", async () => {
    const r = await run(async () => {
      const t = spawn("worker", async () => {
        const b = alloc();
        await b.lock.lock();
        await b.lock.unlock();
        kfree(b);
        expect(b.freeSite).toMatchObject({
          task: "worker",
          // mutex_unlock() is no scheduling point: the latest one is the lock.
          label: "kfree(dma_buf#1) after mutex_lock(buf_lock)",
        });
      });
      await t.join();
    });
    expect(r.splats).toEqual([]);
  });

  it("rejects a make() that does not construct the object it returns", async () => {
    await run(() => {
      const stale = new Buf(); // static: constructed outside kmalloc
      expect(() => kmalloc("dma_buf", () => stale)).toThrow(/must construct and return a new/);
    });
  });
});

describe("KASAN", () => {
  it("reports a use after free from a primitive, with alloc and free sites", async () => {
    const r = await run(async () => {
      kasanSaveEnableMultiShot(); // every report, as KASAN's own tests run (kasan_multi_shot)
      const b = alloc();
      b.kref.init();
      const t = spawn("closer", async () => {
        await b.kref.put(() => kfree(b));
      });
      await t.join();
      expect(b.checkAccess("test")).toBe(false);
      await b.kref.get(); // use after free: Kref checks its owner
      await b.lock.lock(); // and so does a Mutex with an owner
      await b.lock.unlock();
    });
    const s = kasan(r);
    expect(s.map((x) => x.message.split("\n")[0])).toEqual([
      "BUG: KASAN: slab-use-after-free in test",
      "BUG: KASAN: slab-use-after-free in kref_get",
      "BUG: KASAN: slab-use-after-free in mutex_lock",
      "BUG: KASAN: slab-use-after-free in mutex_unlock",
    ]);
    const m = s[1]!.message;
    expect(m).toMatch(
      /^BUG: KASAN: slab-use-after-free in kref_get\nAccess to dma_buf#1 by task main\/\d+/,
    );
    expect(m).toMatch(/Allocated by task main\/\d+ at step \d+:\n kmalloc\(dma_buf\)/);
    expect(m).toMatch(
      /Freed by task closer\/\d+ at step \d+:\n kfree\(dma_buf#1\) after kref_put\(dma_buf#1\)/,
    );
    expect(m).toContain(
      "The buggy address belongs to the object dma_buf#1\n which belongs to the cache dma_buf",
    );
    expect(s[1]!.object).toBe("dma_buf#1");
    expect(s[1]!.sites.map((x) => `${x.role}:${x.task}`)).toEqual([
      "allocated:main",
      "freed:closer",
      "accessed:main",
    ]);
    // The refcount of freed memory is not touched: kref_get on 0 also warns.
    expect(r.splats.some((x) => x.kind === "refcount")).toBe(true);
  });

  it("reports a double free with both sites and leaves the counts alone", async () => {
    const r = await run(() => {
      const b = alloc();
      kfree(b);
      kfree(b);
      expect(b.cache.live).toBe(0);
    });
    const [s] = kasan(r);
    expect(s!.message).toMatch(/^BUG: KASAN: double-free in kfree\nFree of dma_buf#1 by task main/);
    expect(s!.message).toContain("Freed by task main");
    expect(s!.sites.map((x) => x.role)).toEqual(["allocated", "freed", "this free"]);
  });

  it("reports an invalid free of static memory and of a non-object", async () => {
    const r = await run(() => {
      kasanSaveEnableMultiShot(); // every report, as KASAN's own tests run (kasan_multi_shot)
      const onStack = new Buf("dma_buf");
      expect(onStack.name).toBe("dma_buf#1");
      kfree(onStack);
      kfree(-12 as Errno as unknown as SlabObject); // kfree(ERR_PTR(-ENOMEM))
      expect(onStack.freed).toBe(false);
      expect(onStack.checkAccess("read")).toBe(true);
    });
    expect(kasan(r).map((s) => s.message.split("\n").slice(0, 2).join(" | "))).toEqual([
      "BUG: KASAN: invalid-free in kfree | Free of dma_buf#1 by task main/1",
      "BUG: KASAN: invalid-free in kfree | Free of pointer -12 by task main/1",
    ]);
    expect(kasan(r)[0]!.message).toContain("does not belong to a slab object");
  });

  it("kmem_cache_free from the wrong cache warns and frees the object into its own cache", async () => {
    // mm/slub.c: kmem_cache_free() { s = cache_from_obj(s, x); if (!s) return; slab_free(s, ...) }
    // where cache_from_obj() WARNs and returns the object's own cache (virt_to_cache(x)).
    const freed: boolean[] = [];
    let live = -1;
    const r = await run(() => {
      const b = alloc();
      kmemCacheFree("gem_object", b);
      freed.push(b.freed);
      live = b.cache.live;
      kmemCacheFree("dma_buf", b);
      freed.push(b.freed);
    });
    expect(freed).toEqual([true, true]);
    expect(live).toBe(0);
    expect(r.splats.map((s) => `${s.kind}: ${s.message.split("\n")[0]}`)).toEqual([
      "warn: cache_from_obj: Wrong slab cache. gem_object but object is from dma_buf",
      "kasan: BUG: KASAN: double-free in kmem_cache_free",
    ]);
  });

  it("full mode checks every property read and write of a freed object", async () => {
    setKasanFull(true);
    const r = await run(() => {
      kasanSaveEnableMultiShot(); // every report, as KASAN's own tests run (kasan_multi_shot)
      const b = alloc();
      expect(kasanUnwrap(b)).not.toBe(b); // a proxy
      expect(b).toBeInstanceOf(Buf);
      b.size = 8192; // live: fine
      kfree(b);
      expect(b.freed).toBe(true); // metadata: not an access
      expect(b.name).toBe("dma_buf#1");
      const n = b.size; // read after free
      b.size = n + 1; // write after free
    });
    expect(kasan(r).map((s) => s.message.split("\n").slice(0, 2).join(" | "))).toEqual([
      "BUG: KASAN: slab-use-after-free in Buf.size | Read of dma_buf#1 (Buf.size) by task main/1",
      "BUG: KASAN: slab-use-after-free in Buf.size | Write of dma_buf#1 (Buf.size) by task main/1",
    ]);
  });

  it("without full mode, plain property accesses are not checked", async () => {
    const r = await run(() => {
      const b = alloc();
      kfree(b);
      b.size = 1;
    });
    expect(r.splats).toEqual([]);
  });
});

describe("kfree_rcu", () => {
  it("frees after a grace period: readers inside a section keep a valid object", async () => {
    const r = await run(async () => {
      const b = alloc();
      const reader = spawn("reader", async () => {
        await rcuReadLock();
        for (let i = 0; i < 4; i++) await b.kref.getUnlessZero(); // no KASAN: not freed yet
        await rcuReadUnlock();
      });
      await rcuReadLock(); // make sure the reader is inside a section before the free
      await rcuReadUnlock();
      await kfreeRcu(b);
      expect(b.freed).toBe(false);
      await reader.join();
      await rcuBarrier();
      expect(b.freed).toBe(true);
      expect(b.cache.live).toBe(0);
      expect(b.freeSite?.label).toMatch(/^kfree_rcu callback\(dma_buf#1\)/);
      await b.kref.get(); // now a use after free, showing where the free was queued
    });
    const [s] = kasan(r);
    expect(s!.message).toMatch(
      /Last potentially related work creation by task main\/\d+ at step \d+:\n kfree_rcu\(dma_buf#1\)/,
    );
    expect(s!.sites.map((x) => x.role)).toEqual([
      "allocated",
      "freed",
      "kfree_rcu queued",
      "accessed",
    ]);
  });

  it("reports a double kfree_rcu() and a kfree_rcu() of freed memory", async () => {
    const r = await run(async () => {
      kasanSaveEnableMultiShot(); // every report, as KASAN's own tests run (kasan_multi_shot)
      const a = alloc();
      await kfreeRcu(a);
      await kfreeRcu(a);
      const b = alloc();
      kfree(b);
      await kfreeRcu(b);
      await rcuBarrier();
      expect(a.freed).toBe(true);
    });
    expect(kasan(r).map((s) => s.message.split("\n")[0])).toEqual([
      "BUG: KASAN: double-free in kfree_rcu",
      "BUG: KASAN: double-free in kfree_rcu",
    ]);
    expect(kasan(r).map((s) => s.object)).toEqual(["dma_buf#1", "dma_buf#2"]);
  });
});
