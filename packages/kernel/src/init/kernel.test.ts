/**
 * Kernel-level scenarios: processes, files and drivers together, under the scheduler.
 *
 * - the final fput() racing with a lookup through a non-owning pointer: with get_file() the
 *   explorer finds the v6.13+ WARN "file_ref_inc() on a released file reference" / the
 *   use-after-free; with the inc-not-zero get it finds nothing;
 * - fail-nth over every allocation of an open/ioctl/close workload: no leak, no splat;
 * - SCM_RIGHTS keeps a file alive after the sender closed it;
 * - exit() releases everything.
 */

import { type RunResult, type Scenario, Simulation, sleep } from "@primetime/sim";
import { checkDeterminism, explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { fdInstall, getUnusedFdFlags } from "../fs/fdtable.js";
import {
  anonInodeGetfile,
  type File,
  type FileOperations,
  fput,
  getFile,
  getFileUnlessDoomed,
  O_CLOEXEC,
  O_RDWR,
} from "../fs/file.js";
import { _IO, _IOR, _IOW, type IoctlArg } from "../fs/ioctl.js";
import { EBADF, EINVAL, ENOMEM, isErr } from "../include/errno.js";
import {
  allocOrderedWorkqueue,
  allocWorkqueue,
  busyWorkqueues,
  destroyWorkqueue,
  queueWork,
  WorkStruct,
} from "../kernel/workqueue.js";
import { Mutex } from "../locking/mutex.js";
import { allocationCount, injectedFailures, setFailslab } from "../mm/failslab.js";
import { KmemCache, kfree, kmalloc, SlabObject } from "../mm/slab.js";
import { MAP_SHARED, PAGE_SIZE, PROT_READ, PROT_WRITE, type Vma } from "../mm/vma.js";
import { Kernel } from "./kernel.js";

// ---- an exporter driver with a non-owning pointer to its exported file ----

const EXP_EXPORT = _IOR("E", 1, 4);

interface ExportArg {
  fd: number;
}

/**
 * A device that exports one shared buffer file and remembers it in a non-owning pointer, as
 * ttm_prime_object remembers its dma-buf: the buffer's release clears the pointer under the
 * device mutex. Re-exporting reuses the cached file, taking the reference with getFile()
 * (the bug) or getFileUnlessDoomed() (the fix).
 */
class Exporter {
  readonly lock = new Mutex("exporter_lock");
  /** Non-owning: cleared by the buffer's release. */
  cached: File | null = null;
  exports = 0;
  releases = 0;

  constructor(readonly buggy: boolean) {}

  readonly bufferFops: FileOperations = {
    owner: "exporter-buffer",
    release: async (_inode, file) => {
      await this.lock.lock();
      if (this.cached === file) this.cached = null;
      this.releases++;
      await this.lock.unlock();
    },
  };

  readonly fops: FileOperations = {
    owner: "exporter",
    unlockedIoctl: async (_file, cmd, arg) => {
      if (cmd !== EXP_EXPORT) return -EINVAL;
      const out = arg as ExportArg;
      await this.lock.lock();
      let buf: File | null = null;
      const cached = this.cached;
      if (cached !== null) {
        if (this.buggy) buf = await getFile(cached);
        else if (await getFileUnlessDoomed(cached)) buf = cached;
      }
      if (buf === null) {
        const f = await anonInodeGetfile("exported", this.bufferFops, this, O_RDWR);
        if (isErr(f)) {
          await this.lock.unlock();
          return f;
        }
        this.exports++;
        buf = f;
        this.cached = f;
      }
      await this.lock.unlock();
      const fd = await getUnusedFdFlags(O_CLOEXEC);
      if (fd < 0) {
        await fput(buf);
        return fd;
      }
      await fdInstall(fd, buf);
      out.fd = fd;
      return 0;
    },
  };
}

/**
 * Two processes export the buffer and close it, concurrently; `check` then inspects the
 * exporter (after the leak check).
 */
function exportRace(buggy: boolean, check?: (exp: Exporter) => void): Scenario {
  return async () => {
    const k = Kernel.boot();
    const exp = new Exporter(buggy);
    k.registerChrdev("/dev/exporter", exp.fops);
    const body = async (p: import("../kernel/process.js").Process) => {
      const dev = await p.open("/dev/exporter", O_RDWR);
      const arg: ExportArg = { fd: -1 };
      if ((await p.ioctl(dev, EXP_EXPORT, arg)) === 0) await p.close(arg.fd);
      await p.close(dev);
    };
    const a = k.spawnProcess("a", body);
    const b = k.spawnProcess("b", body);
    await a.wait();
    await b.wait();
    await k.checkLeaks();
    check?.(exp);
  };
}

const hasUafSplat = (r: RunResult) =>
  r.splats.some(
    (s) =>
      (s.kind === "warn" && s.message === "file_ref_inc() on a released file reference") ||
      (s.kind === "kasan" && s.message.includes("use-after-free")),
  );

describe("final fput racing a lookup through a non-owning pointer", () => {
  it("getFile() on the doomed file is found by PCT: the v6.13+ file_ref_inc() WARN", async () => {
    const res = await explore(exportRace(true), {
      strategy: "pct",
      depth: 3,
      schedules: 500,
      seed: 1,
      isFailure: hasUafSplat,
    });
    const r = res.firstFailure;
    expect(r).not.toBeNull();
    const warn = r!.splats.find((s) => s.kind === "warn");
    expect(warn?.message).toBe("file_ref_inc() on a released file reference");
    expect(warn?.object).toMatch(/^filp#/);
    // The count stayed dead: the file is never released twice.
    expect(
      r!.splats.filter((s) => s.kind === "kasan" && s.message.includes("double-free")),
    ).toEqual([]);
  });

  it("when the buggy user touches the file after __fput freed it, KASAN reports it", async () => {
    const isKasan = (r: RunResult) =>
      r.splats.some((s) => s.kind === "kasan" && s.message.includes("slab-use-after-free"));
    const res = await explore(exportRace(true), {
      strategy: "pct",
      depth: 3,
      schedules: 2000,
      seed: 2,
      isFailure: isKasan,
    });
    const r = res.firstFailure;
    expect(r).not.toBeNull();
    const uaf = r!.splats.find((s) => s.kind === "kasan")!;
    expect(uaf.object).toMatch(/^filp#/);
    // Alloc and free sites are in the report; the same file had gone through the WARN.
    expect(uaf.sites.map((s) => s.role)).toEqual(expect.arrayContaining(["allocated", "freed"]));
    expect(
      r!.splats.some(
        (s) =>
          s.kind === "warn" &&
          s.object === uaf.object &&
          s.message === "file_ref_inc() on a released file reference",
      ),
    ).toBe(true);
  });

  it("getFileUnlessDoomed() is clean across many PCT seeds", async () => {
    const res = await explore(exportRace(false), {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 11,
    });
    expect(res.firstFailure?.splats ?? []).toEqual([]);
    expect(res.failures).toEqual([]);
    expect(res.schedules).toBe(300);
  });

  it("under DFS (one preemption) the getFile() race is found, and the fixed driver is clean exhaustively", async () => {
    const bad = await explore(exportRace(true), {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 1000,
      isFailure: hasUafSplat,
    });
    expect(bad.firstFailure).not.toBeNull();
    const good = await explore(exportRace(false), {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 1000,
    });
    expect(good.complete).toBe(true);
    expect(good.failures).toEqual([]);
    expect(good.schedules).toBeGreaterThan(bad.schedules);
  });

  it("the scenario is deterministic (same seed, same trace)", async () => {
    const d = await checkDeterminism(exportRace(false), { seed: 3 });
    expect(d.deterministic).toBe(true);
  });

  it("the doomed file is re-exported as a new file by the fixed driver", async () => {
    // Find a fixed-driver run where the lookup met the doomed file: two files were exported.
    let sawDoomed = false;
    const scenario = exportRace(false, (exp) => {
      expect(exp.releases).toBe(exp.exports);
      if (exp.exports === 2) sawDoomed = true;
    });
    const res = await explore(scenario, { strategy: "pct", schedules: 200, seed: 5 });
    expect(res.failures).toEqual([]);
    expect(sawDoomed).toBe(true);
  });
});

// ---- fail-nth over an open/ioctl/close workload ----

const ctxCache = new KmemCache("fn_ctx");
const itemCache = new KmemCache("fn_item");

class FnCtx extends SlabObject {
  readonly items: FnItem[] = [];
}
class FnItem extends SlabObject {
  constructor(readonly value: number) {
    super();
  }
}

const FN_ADD = _IOW("F", 1, 4);
const FN_COUNT = _IOR("F", 2, 4);

/** A driver whose open and ioctl allocate. */
const fnFops: FileOperations = {
  owner: "fn",
  open: async (_inode, file) => {
    const ctx = kmalloc(ctxCache, () => new FnCtx());
    if (isErr(ctx)) return ctx;
    file.privateData = ctx;
    return 0;
  },
  release: async (_inode, file) => {
    const ctx = file.privateData as FnCtx;
    for (const it of ctx.items.splice(0)) kfree(it);
    kfree(ctx);
  },
  unlockedIoctl: async (file, cmd, arg: IoctlArg) => {
    const ctx = file.privateData as FnCtx;
    if (cmd === FN_ADD) {
      const item = kmalloc(itemCache, () => new FnItem((arg as { value: number }).value));
      if (isErr(item)) return item;
      ctx.items.push(item);
      return 0;
    }
    if (cmd === FN_COUNT) {
      (arg as { count: number }).count = ctx.items.length;
      return 0;
    }
    return -EINVAL;
  },
};

describe("fail-nth over every allocation of open/ioctl/close", () => {
  it("each failing allocation gives -ENOMEM somewhere and leaks nothing", async () => {
    const clean = {
      open: 0,
      dup: 1,
      add1: 0,
      add2: 0,
      countIoctl: 0,
      count: 2,
      close: 0,
      closeDup: 0,
    };
    const outcomes: Record<string, number>[] = [];
    let n = 1;
    for (; n < 100; n++) {
      let injected = 0;
      let leaks = -1;
      let total = 0;
      const results: Record<string, number> = {};
      const r = await new Simulation({ seed: n }).run(async () => {
        setFailslab({ failNth: n });
        const k = Kernel.boot();
        k.registerChrdev("/dev/fn", fnFops);
        const p = k.spawnProcess("fn", async (p) => {
          const fd = await p.open("/dev/fn", O_RDWR);
          results.open = fd;
          if (fd < 0) return;
          const fd2 = await p.dup(fd);
          results.dup = fd2;
          results.add1 = await p.ioctl(fd, FN_ADD, { value: 1 });
          results.add2 = await p.ioctl(fd, FN_ADD, { value: 2 });
          const c = { count: -1 };
          results.countIoctl = await p.ioctl(fd, FN_COUNT, c);
          results.count = c.count;
          results.close = await p.close(fd);
          if (fd2 >= 0) results.closeDup = await p.close(fd2);
        });
        await p.wait();
        leaks = (await k.checkLeaks()).length;
        injected = injectedFailures().length;
        total = allocationCount();
        setFailslab(null);
      });
      expect(r.outcome).toBe("ok");
      expect(r.splats).toEqual([]);
      expect(leaks).toBe(0);
      if (injected === 0) {
        // N is past the last allocation: the workload ran clean.
        expect(total).toBe(n - 1);
        expect(results).toEqual(clean);
        break;
      }
      expect(injected).toBe(1);
      expect(Object.values(results)).toContain(-ENOMEM);
      outcomes.push(results);
    }
    // open: the file and the driver's context; ioctl: two items.
    expect(n).toBe(5);
    expect(outcomes).toEqual([
      { open: -ENOMEM }, // the file
      { open: -ENOMEM }, // the driver's context
      { ...clean, add1: -ENOMEM, count: 1 }, // the first item
      { ...clean, add2: -ENOMEM, count: 1 }, // the second item
    ]);
  });
});

// ---- SCM_RIGHTS and exit ----

/** A device whose files count their ioctls and releases; its pages are shared memory. */
function countingDevice() {
  const state = { releases: 0, ioctls: 0, page: new Uint8Array(PAGE_SIZE) };
  const fops: FileOperations = {
    owner: "counting",
    release: async () => {
      state.releases++;
    },
    unlockedIoctl: async (_f, cmd) => {
      if (cmd !== _IO("C", 0)) return -EINVAL;
      return ++state.ioctls;
    },
    mmap: async (_f, vma: Vma) => {
      vma.vmOps = {
        fault: async () => state.page,
      };
      return 0;
    },
  };
  return { state, fops };
}

describe("fd passing and exit", () => {
  it("a file passed with SCM_RIGHTS stays alive after the sender closes it and exits", async () => {
    const { state, fops } = countingDevice();
    const log: string[] = [];
    const r = await new Simulation({ seed: 3 }).run(async () => {
      const k = Kernel.boot();
      k.registerChrdev("/dev/counting", fops);
      const receiver = k.spawnProcess("receiver", async (p) => {
        const fd = await p.recvFd();
        log.push(`received fd ${fd}`);
        // The sender is gone; the file is not.
        expect(state.releases).toBe(0);
        log.push(`ioctl ${await p.ioctl(fd, _IO("C", 0))}`);
        log.push(`close ${await p.close(fd)}`);
        log.push(`releases ${state.releases}`);
      });
      const sender = k.spawnProcess("sender", async (p) => {
        const a = await p.open("/dev/null0", O_RDWR);
        const fd = await p.open("/dev/counting", O_RDWR);
        log.push(`open ${a} ${fd}`);
        log.push(`ioctl ${await p.ioctl(fd, _IO("C", 0))}`);
        log.push(`send ${await p.sendFd(receiver, fd)}`);
        log.push(`sender close ${await p.close(fd)}`);
        log.push(`bad send ${await p.sendFd(receiver, fd)}`);
      });
      await sender.wait();
      expect(state.releases).toBe(0);
      await receiver.wait();
      expect(await k.checkLeaks()).toEqual([]);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(log).toEqual([
      "open -2 0",
      "ioctl 1",
      "send 0",
      "sender close 0",
      `bad send ${-EBADF}`,
      "received fd 0",
      "ioctl 2",
      "close 0",
      "releases 1",
    ]);
  });

  it("exit releases every fd, mapping and in-flight file", async () => {
    const { state, fops } = countingDevice();
    let exitCode = -1;
    let opened = 0;
    const r = await new Simulation({ seed: 9 }).run(async () => {
      const k = Kernel.boot();
      k.registerChrdev("/dev/counting", fops);
      const victim = k.spawnProcess("victim", async (p) => {
        const fds: number[] = [];
        for (let i = 0; i < 3; i++) fds.push(await p.open("/dev/counting", O_RDWR));
        opened = fds.length;
        expect(await p.dup(fds[0]!)).toBe(3);
        const addr = await p.mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1]!, 0);
        expect(addr).toBeGreaterThan(0);
        expect(await p.writeMemory(addr + PAGE_SIZE + 5, new Uint8Array([7]))).toBe(1);
        expect(await p.close(fds[1]!)).toBe(0);
        // The mapping still holds the closed fd's file.
        expect(state.releases).toBe(0);
        // Wait for the sender's fd to be queued, then leave without receiving it.
        while (p.socket.pending === 0) await p.lseek(fds[0]!, 0, 0);
        await p.exit(3);
        throw new Error("exit returned");
      });
      const sender = k.spawnProcess("sender", async (p) => {
        const fd = await p.open("/dev/counting", O_RDWR);
        expect(await p.sendFd(victim, fd)).toBe(0);
        expect(await p.ioctl(fd, _IO("C", 0))).toBeGreaterThan(0);
      });
      await sender.wait();
      exitCode = await victim.wait();
      expect(victim.state).toBe("dead");
      expect(victim.files.openFdList()).toEqual([]);
      expect(victim.mm.vmas).toEqual([]);
      expect(await k.checkLeaks()).toEqual([]);
      expect(state.page[5]).toBe(7);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(exitCode).toBe(3);
    // Three opened by the victim, one by the sender (in flight when the victim exited).
    expect(opened).toBe(3);
    expect(state.releases).toBe(4);
  });
});

// ---- quiesce() and drivers' own workqueues ----

describe("quiesce", () => {
  const driverCache = new KmemCache("driver_obj");
  class DriverObj extends SlabObject {}

  it("flushes every workqueue with work pending, chained work and deferred work included", async () => {
    let leaks: string[] = [];
    let busyAfter: string[] = [];
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      // A driver's own workqueues (as TTM's delayed delete runs on the device's): the first
      // item waits a while (a fence), frees its object and queues the second on another one.
      const wqA = allocWorkqueue("driver_a");
      const wqB = allocOrderedWorkqueue("driver_b");
      const a = kmalloc(driverCache, () => new DriverObj());
      const b = kmalloc(driverCache, () => new DriverObj());
      if (isErr(a) || isErr(b)) throw new Error("kmalloc");
      const second = new WorkStruct(() => kfree(b), "driver_second");
      const first = new WorkStruct(async () => {
        await sleep(5_000_000, "wait for the fence");
        kfree(a);
        await queueWork(wqB, second);
      }, "driver_first");
      await queueWork(wqA, first);
      expect(busyWorkqueues().map((w) => w.name)).toEqual(["driver_a"]);
      expect(await k.quiesce()).toBeGreaterThanOrEqual(2);
      busyAfter = busyWorkqueues().map((w) => w.name);
      leaks = (await k.checkLeaks()).map((o) => o.name);
      await destroyWorkqueue(wqA);
      await destroyWorkqueue(wqB);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(busyAfter).toEqual([]);
    expect(leaks).toEqual([]);
  });
});
