import { rcuReadLock, rcuReadUnlock } from "@primetime/rcu";
import { point, type RunResult, type Scenario, Simulation } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { EBADF, EMFILE, ENOMEM, isErr } from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import type { Process } from "../kernel/process.js";
import { taskWorkRun } from "../kernel/task-work.js";
import { allocationCount, setFailslab } from "../mm/failslab.js";
import {
  allocFd,
  closeFd,
  currentFiles,
  FGET_NO_RECHECK,
  FilesStruct,
  fdInstall,
  fdtableCache,
  fget,
  fgetFiles,
  filpClose,
  getFileActive,
  getUnusedFdFlags,
  NR_OPEN,
  NR_OPEN_DEFAULT,
  putUnusedFd,
  receiveFd,
} from "./fdtable.js";
import {
  allocFile,
  type File,
  fileAt,
  fileCount,
  fileRefGetRcu,
  flushDelayedFput,
  fput,
  O_CLOEXEC,
  O_RDWR,
} from "./file.js";

/** Runs `body` in a process thread (so current->files exists) and returns splats and leaks. */
async function inThread(body: (p: Process) => Promise<void>, seed = 1) {
  let leaks = -1;
  const r = await new Simulation({ seed }).run(async () => {
    const k = Kernel.boot();
    k.registerChrdev("/dev/x", {});
    const p = k.spawnProcess("t", body);
    await p.wait();
    leaks = (await k.checkLeaks()).length;
  });
  return { r, leaks };
}

async function newFile(): Promise<File> {
  const f = await allocFile({}, null, "f");
  if (isErr(f)) throw new Error("alloc failed");
  return f;
}

describe("fd allocation", () => {
  it("reserves the lowest free fd; a reserved fd is invisible until installed", async () => {
    const { r, leaks } = await inThread(async () => {
      expect(await getUnusedFdFlags(0)).toBe(0);
      expect(await getUnusedFdFlags(O_CLOEXEC)).toBe(1);
      const files = currentFiles()!;
      expect(files.fdt.closeOnExec[1]).toBe(true);
      expect(await fget(0)).toBeNull();
      expect(await closeFd(0)).toBe(-EBADF); // reserved, not installed
      const f = await newFile();
      await fdInstall(0, f);
      const got = await fget(0);
      expect(got).toBe(f);
      expect(fileCount(f)).toBe(2);
      await fput(f);
      await putUnusedFd(1);
      expect(await getUnusedFdFlags(0)).toBe(1);
      await putUnusedFd(1);
      expect(await closeFd(0)).toBe(0);
      expect(files.openFdList()).toEqual([]);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("grows past the 64 embedded slots with an allocated table, freed after a grace period", async () => {
    let grownName = "";
    const { r, leaks } = await inThread(async (p) => {
      const files = p.files;
      for (let i = 0; i < NR_OPEN_DEFAULT; i++) expect(await p.open("/dev/x", O_RDWR)).toBe(i);
      expect(files.fdt).toBe(files.fdtab);
      expect(fdtableCache.live).toBe(0);
      expect(await p.open("/dev/x", O_RDWR)).toBe(64);
      expect(files.fdt).not.toBe(files.fdtab);
      expect(files.fdt.maxFds).toBe(128);
      expect(fdtableCache.live).toBe(1);
      grownName = files.fdt.name;
      // Every fd survived the copy.
      expect(files.openFdList().length).toBe(65);
      for (let i = 65; i < 128; i++) await p.open("/dev/x", O_RDWR);
      expect(await p.open("/dev/x", O_RDWR)).toBe(128);
      expect(files.fdt.maxFds).toBe(256);
    });
    expect(grownName).toMatch(/^fdtable#/);
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("a failed table allocation is ENOMEM and changes nothing", async () => {
    const { r, leaks } = await inThread(async (p) => {
      for (let i = 0; i < NR_OPEN_DEFAULT; i++) await p.open("/dev/x", O_RDWR);
      setFailslab({ failNth: allocationCount() + 1, caches: ["fdtable"] });
      expect(await p.open("/dev/x", O_RDWR)).toBe(-ENOMEM);
      setFailslab(null);
      expect(p.files.fdt).toBe(p.files.fdtab);
      expect(await p.open("/dev/x", O_RDWR)).toBe(64);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("allocFd honours its range", async () => {
    const { r } = await inThread(async (p) => {
      expect(await allocFd(p.files, 10, 12, 0)).toBe(10);
      expect(await allocFd(p.files, 10, 12, 0)).toBe(11);
      expect(await allocFd(p.files, 10, 12, 0)).toBe(-EMFILE);
      // next_fd was not moved by allocations that started above it.
      expect(await allocFd(p.files, 0, 12, 0)).toBe(0);
      for (const fd of [10, 11, 0]) await putUnusedFd(fd);
    });
    expect(r.splats).toEqual([]);
  });

  it("receiveFd installs a new reference at the lowest free fd", async () => {
    const { r, leaks } = await inThread(async () => {
      const f = await newFile();
      expect(await receiveFd(f, 0)).toBe(0);
      expect(await receiveFd(f, O_CLOEXEC)).toBe(1);
      expect(fileCount(f)).toBe(3);
      expect(currentFiles()!.fdt.closeOnExec[1]).toBe(true);
      await fput(f); // the caller's own reference
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("installing over a busy slot is v6.18's VFS_BUG_ON (CONFIG_DEBUG_VFS): an oops, the new file lost", async () => {
    let after = "";
    const { r, leaks } = await inThread(async () => {
      const fd = await getUnusedFdFlags(0);
      await fdInstall(fd, await newFile());
      await fdInstall(fd, await newFile());
      after = "not reached";
    });
    expect(after).toBe("");
    expect(r.splats.map((s) => s.kind)).toEqual(["bug", "kmemleak"]);
    expect(r.splats[0]!.message).toContain(
      "fd_install(): VFS_BUG_ON(rcu_access_pointer(fdt->fd[0]) != NULL)",
    );
    expect(leaks).toBe(1); // the reference the oopsing fd_install() was handed
  });

  it("alloc_fd() over a slot still holding a file is v6.18's VFS_BUG_ON (CONFIG_DEBUG_VFS): an oops", async () => {
    // A driver that put_unused_fd()s an fd it already installed clears the open bit under a
    // published file: the next allocation finds the slot taken.
    let got = 0;
    const { r } = await inThread(async () => {
      const fd = await getUnusedFdFlags(0);
      await fdInstall(fd, await newFile());
      await putUnusedFd(fd);
      got = await getUnusedFdFlags(0);
    });
    expect(got).toBe(0); // never returned
    expect(r.splats[0]!.kind).toBe("bug");
    expect(r.splats[0]!.message).toContain(
      "alloc_fd(): VFS_BUG_ON(rcu_access_pointer(fdt->fd[0]) != NULL)",
    );
  });

  it("filp_close() of a file whose count is already 0: the VFS: Close warning, then the imbalanced put's", async () => {
    let released = 0;
    const { r, leaks } = await inThread(async () => {
      const f = await allocFile({ release: async () => void released++ }, null, "f");
      if (isErr(f)) throw new Error("alloc failed");
      await fput(f); // the last reference: __fput() queued as task work
      expect(await filpClose(f, null)).toBe(0); // no ->flush: the count is 0
      expect(released).toBe(0);
    });
    expect(r.splats.map((s) => s.message)).toEqual([
      "VFS: Close: file count is 0 (f_op=?)",
      "imbalanced put on file reference count",
    ]);
    expect(released).toBe(1); // once, from the task work
    expect(leaks).toBe(0);
  });

  it("a task without a table gets EBADF and null", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      expect(currentFiles()).toBeNull();
      expect(await getUnusedFdFlags(0)).toBe(-EBADF);
      expect(await fget(0)).toBeNull();
      expect(await closeFd(0)).toBe(-EBADF);
      const f = await newFile();
      await fdInstall(0, f); // warns, drops the reference
      expect(f.doomed).toBe(true);
      await Kernel.boot().quiesce();
      expect(f.freed).toBe(true);
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn"]);
  });

  it("a FilesStruct starts with the embedded table and one user", () => {
    const files = new FilesStruct("x");
    expect(files.fdt).toBe(files.fdtab);
    expect(files.fdt.maxFds).toBe(NR_OPEN_DEFAULT);
    expect(files.count.data.read()).toBe(1);
    expect(files.peek(0)).toBeNull();
    expect(files.peek(-1)).toBeNull();
  });
});

describe("table growth with other threads (expand_files(), expand_fdtable(), v6.18)", () => {
  /**
   * Runs a process whose main thread fills the 64 embedded slots, waits until `other` (a second
   * thread, so files->count is 2) says it is ready, then opens fd 64, which grows the table.
   */
  async function growWithThread(
    seed: number,
    other: (p: Process, ready: () => void, growing: () => boolean) => Promise<void>,
  ) {
    const r = await new Simulation({ seed }).run(async () => {
      const k = Kernel.boot();
      k.registerChrdev("/dev/x", {});
      const p = k.spawnProcess("t", async (p) => {
        for (let i = 0; i < NR_OPEN_DEFAULT; i++) await p.open("/dev/x", O_RDWR);
        let isReady = false;
        let done = false;
        const t = p.spawnThread("other", () =>
          other(
            p,
            () => {
              isReady = true;
            },
            () => !done,
          ),
        );
        while (!isReady) await point("wait for other");
        expect(await p.open("/dev/x", O_RDWR)).toBe(NR_OPEN_DEFAULT);
        done = true;
        await t.join();
      });
      await p.wait();
      expect(await k.checkLeaks()).toEqual([]);
    });
    return r;
  }

  it("a resize waits for a grace period when the table is shared (files->count > 1), not otherwise", async () => {
    const syncs = (r: RunResult) =>
      r.trace.steps().filter((s) => s.task.endsWith("t") && s.label === "synchronize_rcu").length;
    const alone = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      k.registerChrdev("/dev/x", {});
      const p = k.spawnProcess("t", async (p) => {
        for (let i = 0; i <= NR_OPEN_DEFAULT; i++) await p.open("/dev/x", O_RDWR);
      });
      await p.wait();
    });
    expect(alone.splats).toEqual([]);
    expect(syncs(alone)).toBe(0);
    const shared = await growWithThread(1, async (_p, ready, running) => {
      ready();
      while (running()) await point("idle");
    });
    expect(shared.splats).toEqual([]);
    expect(syncs(shared)).toBe(1);
  });

  it("a lockless reader inside its read-side section when the resize begins keeps the old table published until it leaves", async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      let changedInside = 0;
      let sawResize = false;
      const r = await growWithThread(seed, async (p, ready, running) => {
        const files = p.files;
        await rcuReadLock();
        const fdt = files.fdt;
        ready();
        // Spin inside the section (fget()s nest in it) until the resize has begun, then on.
        for (let i = 0; running() && i < 200; i++) {
          if (files.resizeInProgress) sawResize = true;
          const f = await fgetFiles(files, 3);
          if (f === null) throw new Error("fd 3 not found");
          await fput(f);
          if (files.fdt !== fdt) changedInside++;
          await point("reader");
        }
        await rcuReadUnlock();
      });
      expect(r.splats.map((s) => s.message)).toEqual([]);
      expect(sawResize).toBe(true);
      // synchronize_rcu(): the new table is published only after the reader left.
      expect(changedInside).toBe(0);
    }
  });

  it("a caller past NR_OPEN waits for the resize in progress before failing with EMFILE (wait first, as v6.18)", async () => {
    // allocFd()'s end above NR_OPEN stands for an RLIMIT_NOFILE above a sysctl_nr_open lowered
    // later (setrlimit() here refuses more than NR_OPEN).
    let caught = 0;
    for (let seed = 1; seed <= 10; seed++) {
      let result = 0;
      let resizingAtReturn = true;
      let calledDuringResize = false;
      const r = await growWithThread(seed, async (p, ready, running) => {
        const files = p.files;
        ready();
        while (!files.resizeInProgress && running()) await point("wait for the resize");
        if (!files.resizeInProgress) return; // the resize was over before this thread ran
        calledDuringResize = true;
        result = await allocFd(files, NR_OPEN, NR_OPEN + 1, 0);
        resizingAtReturn = files.resizeInProgress;
      });
      expect(r.splats.map((s) => s.message)).toEqual([]);
      if (!calledDuringResize) continue;
      caught++;
      expect(result).toBe(-EMFILE);
      expect(resizingAtReturn).toBe(false);
    }
    expect(caught).toBeGreaterThan(0);
  });
});

describe("lockless fget (__fget_files_rcu)", () => {
  /** The ioctl of /dev/x returns 1, that of /dev/y 2: what userspace sees is which file it hit. */
  const X = 1;
  const Y = 2;

  /**
   * fd 3 is /dev/x, also held by a dup (fd 4), so that closing fd 3 does not release the file.
   * A thread issues ioctl(3) twice while the main thread closes fd 3 and opens /dev/y, which
   * gets fd 3 again. Each ioctl must hit /dev/x (before the close), nothing (-EBADF, between
   * the close and the open) or /dev/y (after the open).
   */
  function lookupVsCloseReopen(seen: number[][]): Scenario {
    return async () => {
      const k = Kernel.boot();
      k.registerChrdev("/dev/x", { unlockedIoctl: async () => X });
      k.registerChrdev("/dev/y", { unlockedIoctl: async () => Y });
      const p = k.spawnProcess("t", async (p) => {
        for (let i = 0; i < 3; i++) await p.open("/dev/x", O_RDWR); // fds 0-2
        const fd = await p.open("/dev/x", O_RDWR);
        const dup = await p.dup(fd);
        const results: number[] = [];
        seen.push(results);
        const looker = p.spawnThread("looker", async () => {
          for (let i = 0; i < 2; i++) {
            const r = await p.ioctl(fd, 0);
            if (r !== X && r !== Y && r !== -EBADF) throw new Error(`ioctl(${fd}) = ${r}`);
            results.push(r);
          }
        });
        await p.close(fd);
        const again = await p.open("/dev/y", O_RDWR);
        if (again !== fd) throw new Error(`reopen got fd ${again}`);
        await looker.join();
        await p.close(again);
        await p.close(dup);
      });
      await p.wait();
      const leaks = await k.checkLeaks();
      if (leaks.length > 0) throw new Error(`${leaks.length} leaks`);
    };
  }

  /** The looker's lookups whose re-check failed: file_ref_get(f) directly followed by fput(f). */
  function recheckFailures(r: RunResult): number {
    const labels = r.trace
      .steps()
      .filter((s) => s.task.endsWith("looker"))
      .map((s) => s.label);
    let n = 0;
    for (let i = 0; i + 1 < labels.length; i++) {
      const got = /^file_ref_get\((.*)\)$/.exec(labels[i]!);
      if (got && labels[i + 1] === `fput(${got[1]})`) n++;
    }
    return n;
  }

  it("an ioctl racing close and reopen hits the old file, nothing (-EBADF) or the new one", async () => {
    const seen: number[][] = [];
    let recheckRuns = 0;
    const dfs = await explore(lookupVsCloseReopen(seen), {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 400,
      onRun: (r) => {
        if (recheckFailures(r) > 0) recheckRuns++;
      },
    });
    expect(dfs.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
    const pct = await explore(lookupVsCloseReopen(seen), {
      strategy: "pct",
      schedules: 100,
      seed: 1,
    });
    expect(pct.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
    // Every outcome userspace may see is reached: the old file, no file, the new file.
    const all = new Set(seen.flat());
    expect([...all].sort()).toEqual([-EBADF, X, Y].sort());
    // And the lookups that took a reference on /dev/x after the close emptied the slot, saw the
    // re-check fail, put the reference and looked again.
    expect(recheckRuns).toBeGreaterThan(0);
  });

  it("a file freed between the slot load and file_ref_get() fails the get; the lookup gives nothing", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      const p = k.spawnProcess("t", async () => {
        const f = await newFile();
        const fd = await getUnusedFdFlags(0);
        await fdInstall(fd, f);
        const files = currentFiles()!;
        // The slot is loaded; close_fd() and its __fput() complete (on another CPU in the
        // kernel: here the same thread, outside the section, which may not sleep) before the
        // get. SLAB_TYPESAFE_BY_RCU keeps the memory a file, whose count reads zero.
        await rcuReadLock();
        const loaded = files.fdt.fd[fd]!;
        await rcuReadUnlock();
        expect(await closeFd(fd)).toBe(0);
        await taskWorkRun();
        expect(loaded.freed).toBe(true);
        await rcuReadLock();
        expect(await fileRefGetRcu(loaded)).toBeNull();
        await rcuReadUnlock();
        // The slot no longer holds it: the lookup gives nothing.
        expect(await fget(fd)).toBeNull();
      });
      await p.wait();
      await k.checkLeaks();
    });
    expect(r.splats.map((s) => s.message)).toEqual([]);
    expect(r.outcome).toBe("ok");
  });

  it("file_ref_get() on a doomed file (count 0, __fput() pending) fails and leaves it dead", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const f = await newFile();
      await fput(f);
      expect(f.doomed).toBe(true);
      await rcuReadLock();
      expect(await fileRefGetRcu(f)).toBeNull();
      await rcuReadUnlock();
      expect(fileCount(f)).toBe(0);
      await flushDelayedFput();
      expect(f.freed).toBe(true);
    });
    expect(r.splats.map((s) => s.message)).toEqual([]);
  });

  it("file_ref_get() outside an RCU read-side section is an rcu splat", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const f = await newFile();
      expect(await fileRefGetRcu(f)).toBe(f);
      await fput(f);
      await fput(f);
      await flushDelayedFput();
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["rcu"]);
  });
});

describe("file recycling (SLAB_TYPESAFE_BY_RCU) and the re-check", () => {
  const X = 1;
  const Y = 2;

  it("a freed file's memory goes to the next file allocated; a pointer to it finds the new file", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const a = await newFile();
      const b = await newFile();
      expect(a.addr).not.toBe(b.addr);
      await fput(a);
      await flushDelayedFput();
      expect(a.freed).toBe(true);
      expect(fileAt(a)).toBe(a); // freed, not yet reused
      const c = await newFile();
      expect(c.addr).toBe(a.addr);
      expect(fileAt(a)).toBe(c);
      // Under RCU a stale pointer to `a` takes a reference on `c`, the file that lives there.
      await rcuReadLock();
      expect(await fileRefGetRcu(a)).toBe(c);
      await rcuReadUnlock();
      expect(fileCount(c)).toBe(2);
      for (const f of [c, c, b]) await fput(f);
      await flushDelayedFput();
    });
    expect(r.splats.map((s) => s.message)).toEqual([]);
  });

  it("get_file_active(): a reference through a pointer that is cleared before the file is freed, never on a recycled file", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const slot: { file: File | null } = { file: await newFile() };
      const a = slot.file!;
      // A live file: a reference on it.
      expect(await getFileActive(() => slot.file)).toBe(a);
      expect(fileCount(a)).toBe(2);
      await fput(a);
      // No file: nothing.
      slot.file = null;
      expect(await getFileActive(() => slot.file)).toBeNull();
      // A doomed file (count 0, __fput() pending): the get fails.
      slot.file = a;
      await fput(a);
      expect(await getFileActive(() => slot.file)).toBeNull();
      // Freed, the pointer cleared first, the memory recycled: nothing, and the new file keeps
      // its one reference (the get that reached it was dropped).
      slot.file = null;
      await flushDelayedFput();
      const c = await newFile();
      expect(fileAt(a)).toBe(c);
      expect(await getFileActive(() => slot.file)).toBeNull();
      expect(fileCount(c)).toBe(1);
      // What the clearing is for: a stale pointer still set finds the recycled file.
      slot.file = a;
      expect(await getFileActive(() => slot.file)).toBe(c);
      expect(fileCount(c)).toBe(2);
      await fput(c);
      await fput(c);
      await flushDelayedFput();
    });
    expect(r.splats.map((s) => s.message)).toEqual([]);
  });

  /**
   * Process "p" has /dev/x at fd 0; a thread issues ioctl(0) twice while the main thread closes
   * fd 0, whose __fput() frees the file on the close's way back to userspace. Process "q" opens
   * (and closes) /dev/y twice meanwhile: an open after the free reuses the memory of p's file.
   * fd 0 of p only ever held /dev/x, so each ioctl must hit /dev/x or nothing (-EBADF); /dev/y is
   * a file p never had (a userspace-visible divergence, here an exception in p).
   */
  const lookupVsCloseVsOtherOpen: Scenario = async () => {
    const k = Kernel.boot();
    k.registerChrdev("/dev/x", { unlockedIoctl: async () => X });
    k.registerChrdev("/dev/y", { unlockedIoctl: async () => Y });
    const p = k.spawnProcess("p", async (p) => {
      const fd = await p.open("/dev/x", O_RDWR);
      const looker = p.spawnThread("looker", async () => {
        for (let i = 0; i < 2; i++) {
          const r = await p.ioctl(fd, 0);
          if (r !== X && r !== -EBADF)
            throw new Error(`ioctl(${fd}) = ${r}: reached a file fd ${fd} never held`);
        }
      });
      await p.close(fd);
      await looker.join();
    });
    const q = k.spawnProcess("q", async (q) => {
      for (let i = 0; i < 2; i++) await q.close(await q.open("/dev/y", O_RDWR));
    });
    await p.wait();
    await q.wait();
    const leaks = await k.checkLeaks();
    if (leaks.length > 0) throw new Error(`${leaks.length} leaks`);
  };

  it(`${FGET_NO_RECHECK.name}: the lookup returns a recycled file of another process (PCT), and replays`, async () => {
    // A one-step window (between the slot load and file_ref_get()) that PCT must preempt, then
    // the close's __fput() and the other process's open must both run: seeds 1-10 find it at
    // schedules 336, 790, 291, 159, 676, 2959, 62, 2047, 335 and 154 (mean 780.9, since ioctl(2)
    // reads files->count in fdget(); 240, 1638, 1477, 824, 4325, 1040, 987, 269, 266, 297, mean
    // 1136, before; 1778, 1009, 20, 78, 88, 17, 1413, 260, 1664, 56, mean 638, while lock
    // releases were scheduling points).
    const on = await explore(lookupVsCloseVsOtherOpen, {
      strategy: "pct",
      schedules: 2000,
      seed: 1,
      toggles: [FGET_NO_RECHECK.name],
    });
    const f = on.firstFailure;
    expect(f).not.toBeNull();
    expect(f!.splats[0]!.message).toContain("reached a file fd 0 never held");
    expect(on.schedules).toBeLessThanOrEqual(2000);
    const again = await replay(f!.token, lookupVsCloseVsOtherOpen);
    expect(again.splats.map((s) => s.message)).toEqual(f!.splats.map((s) => s.message));
  });

  it("with the re-check (the kernel's code) the same race is clean over PCT seeds and bounded DFS", async () => {
    for (const seed of [1, 2, 3]) {
      const pct = await explore(lookupVsCloseVsOtherOpen, {
        strategy: "pct",
        schedules: 300,
        seed,
      });
      expect(pct.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
      expect(pct.schedules).toBe(300);
    }
    const dfs = await explore(lookupVsCloseVsOtherOpen, {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 500,
    });
    expect(dfs.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
  });
});
