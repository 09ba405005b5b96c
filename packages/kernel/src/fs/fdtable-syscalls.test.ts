import { type Scenario, Simulation, WaitQueue } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { EBADF, EBUSY, EINVAL, ENOMEM } from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import type { Process } from "../kernel/process.js";
import { RLIMIT_NOFILE } from "../kernel/syscalls.js";
import { allocationCount, setFailslab } from "../mm/failslab.js";
import {
  CLOSE_RANGE_CLOEXEC,
  CLOSE_RANGE_UNSHARE,
  currentFiles,
  FGET_NO_RECHECK,
  fdInstall,
  fget,
  getUnusedFdFlags,
  NR_OPEN_DEFAULT,
} from "./fdtable.js";
import { allocFile, fileCount, fput, O_CLOEXEC, O_RDWR } from "./file.js";
import { FIOCLEX } from "./ioctl.js";

/** What the drivers of /dev/x, /dev/y and /dev/z saw: ->flush and ->release calls per path. */
interface Calls {
  flush: Record<string, number>;
  release: Record<string, number>;
}

/** Runs `body` as the main thread of a process with /dev/x, /dev/y, /dev/z; splats and leaks. */
async function inProcess(body: (p: Process, k: Kernel) => Promise<void>, calls?: Calls) {
  let leaks = -1;
  const r = await new Simulation({ seed: 1 }).run(async () => {
    const k = Kernel.boot();
    for (const path of ["/dev/x", "/dev/y", "/dev/z"])
      k.registerChrdev(path, {
        flush: async () => {
          if (calls) calls.flush[path] = (calls.flush[path] ?? 0) + 1;
          return 0;
        },
        release: async () => {
          if (calls) calls.release[path] = (calls.release[path] ?? 0) + 1;
          return 0;
        },
      });
    const p = k.spawnProcess("t", (p) => body(p, k));
    await p.wait();
    leaks = (await k.checkLeaks()).length;
  });
  return { r, leaks };
}

/** A gate a thread of the simulation sleeps on until another opens it. */
function gate(): { wait(): Promise<void>; open(): void } {
  const wq = new WaitQueue("gate");
  let opened = false;
  return {
    async wait() {
      while (!opened) await wq.wait("gate");
    },
    open() {
      opened = true;
      wq.wakeAll();
    },
  };
}

/** The file at `fd` of the running thread's table (no reference). */
function fileAtFd(fd: number) {
  return currentFiles()!.peek(fd);
}

describe("dup2(2) and dup3(2) (ksys_dup3(), do_dup2())", () => {
  it("dup2 installs a new reference at newfd and closes what newfd held (->flush, then the last fput)", async () => {
    const calls: Calls = { flush: {}, release: {} };
    const { r, leaks } = await inProcess(async (p) => {
      const x = await p.open("/dev/x", O_RDWR);
      const y = await p.open("/dev/y", O_RDWR | O_CLOEXEC);
      const fx = fileAtFd(x)!;
      const fy = fileAtFd(y)!;
      expect(currentFiles()!.fdt.closeOnExec[y]).toBe(true);
      expect(await p.dup2(x, y)).toBe(y);
      expect(fileAtFd(y)).toBe(fx);
      expect(fileCount(fx)).toBe(2);
      // do_dup2(): close-on-exec from the flags (none for dup2), so the bit is cleared.
      expect(currentFiles()!.fdt.closeOnExec[y]).toBe(false);
      // filp_close() of the replaced file: ->flush, and its last reference went on return.
      expect(calls.flush["/dev/y"]).toBe(1);
      expect(calls.release["/dev/y"]).toBe(1);
      expect(fy.freed).toBe(true);
      expect(await p.close(x)).toBe(0);
      expect(fileCount(fx)).toBe(1);
      expect(await p.close(y)).toBe(0);
    }, calls);
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
    expect(calls.release["/dev/x"]).toBe(1);
  });

  it("dup2 onto a free fd takes it without closing anything; a replaced file held elsewhere loses one reference", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      const x = await p.open("/dev/x", O_RDWR); // 0
      const y = await p.open("/dev/y", O_RDWR); // 1
      const y2 = await p.dup(y); // 2
      const fy = fileAtFd(y)!;
      expect(fileCount(fy)).toBe(2);
      expect(await p.dup2(x, 5)).toBe(5);
      expect(fileAtFd(5)).toBe(fileAtFd(x));
      expect(await p.dup2(x, y2)).toBe(y2);
      expect(fileCount(fy)).toBe(1);
      expect(fy.freed).toBe(false);
      // The lowest free fd is still 3: dup2 does not move next_fd.
      expect(await p.dup(x)).toBe(3);
      expect(fileCount(fileAtFd(x)!)).toBe(4);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("dup3 with O_CLOEXEC sets close-on-exec; other flags and oldfd == newfd are EINVAL, checked first", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      const x = await p.open("/dev/x", O_RDWR);
      expect(await p.dup3(x, 4, O_CLOEXEC)).toBe(4);
      expect(currentFiles()!.fdt.closeOnExec[4]).toBe(true);
      expect(await p.dup3(x, 4, 0)).toBe(4);
      expect(currentFiles()!.fdt.closeOnExec[4]).toBe(false);
      expect(await p.dup3(x, x, 0)).toBe(-EINVAL);
      expect(await p.dup3(9, 9, 0)).toBe(-EINVAL); // not open: still EINVAL
      expect(await p.dup3(x, 5, O_RDWR)).toBe(-EINVAL);
      expect(await p.dup3(9, -1, 1)).toBe(-EINVAL); // flags before the fds
      expect(await p.dup3(-1, -1, 0)).toBe(-EINVAL); // 0xffffffff == 0xffffffff
      expect(fileCount(fileAtFd(x)!)).toBe(2);
      expect(currentFiles()!.openFdList()).toEqual([x, 4]);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("dup2(fd, fd) returns fd if it is installed, else EBADF, keeping no reference", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      const x = await p.open("/dev/x", O_RDWR);
      expect(await p.dup2(x, x)).toBe(x);
      expect(fileCount(fileAtFd(x)!)).toBe(1);
      expect(await p.dup2(7, 7)).toBe(-EBADF);
      expect(await p.dup2(-1, -1)).toBe(-EBADF);
      const reserved = await getUnusedFdFlags(0);
      expect(await p.dup2(reserved, reserved)).toBe(-EBADF);
      const f = await allocFile({}, null, "late");
      if (typeof f === "number") throw new Error("alloc");
      await fdInstall(reserved, f);
      expect(await p.dup2(reserved, reserved)).toBe(reserved);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("EBADF: oldfd not installed, newfd at or above RLIMIT_NOFILE (or negative)", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      const x = await p.open("/dev/x", O_RDWR);
      expect(await p.dup2(3, 4)).toBe(-EBADF);
      expect(await p.dup2(-1, 4)).toBe(-EBADF);
      expect(await p.dup2(x, -1)).toBe(-EBADF);
      expect(await p.setrlimit(RLIMIT_NOFILE, 10)).toBe(0);
      expect(await p.dup2(x, 10)).toBe(-EBADF);
      expect(await p.dup3(x, 10, O_CLOEXEC)).toBe(-EBADF);
      expect(await p.dup2(x, 9)).toBe(9);
      expect(fileCount(fileAtFd(x)!)).toBe(2);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("EBUSY: newfd reserved by an open in progress (fd_is_open, slot still NULL)", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      const x = await p.open("/dev/x", O_RDWR);
      const reserved = await getUnusedFdFlags(0);
      expect(reserved).toBe(1);
      expect(await p.dup2(x, reserved)).toBe(-EBUSY);
      expect(await p.dup3(x, reserved, O_CLOEXEC)).toBe(-EBUSY);
      expect(fileCount(fileAtFd(x)!)).toBe(1);
      expect(fileAtFd(reserved)).toBeNull();
      // The open completes: fd_install() finds its slot empty.
      const f = await allocFile({}, null, "opened");
      if (typeof f === "number") throw new Error("alloc");
      await fdInstall(reserved, f);
      expect(await p.dup2(x, reserved)).toBe(reserved);
      expect(f.freed).toBe(true);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("grows the table for newfd (expand_files()), even when oldfd then turns out bad", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      const x = await p.open("/dev/x", O_RDWR);
      expect(currentFiles()!.fdt.maxFds).toBe(NR_OPEN_DEFAULT);
      expect(await p.dup2(40, 100)).toBe(-EBADF);
      expect(currentFiles()!.fdt.maxFds).toBe(128);
      expect(await p.dup2(x, 300)).toBe(300);
      expect(currentFiles()!.fdt.maxFds).toBe(512);
      const got = await fget(300);
      expect(got).toBe(fileAtFd(x));
      await fput(got!);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("a failed table allocation is ENOMEM for a good oldfd, EBADF for a bad one", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      const x = await p.open("/dev/x", O_RDWR);
      setFailslab({ failNth: allocationCount() + 1, caches: ["fdtable"] });
      expect(await p.dup2(x, 100)).toBe(-ENOMEM);
      setFailslab({ failNth: allocationCount() + 1, caches: ["fdtable"] });
      expect(await p.dup2(7, 100)).toBe(-EBADF);
      setFailslab(null);
      expect(currentFiles()!.fdt.maxFds).toBe(NR_OPEN_DEFAULT);
      expect(fileCount(fileAtFd(x)!)).toBe(1);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });
});

describe("close_range(2)", () => {
  it("closes every installed fd of [fd, max_fd] (max_fd ~0U), leaving reserved fds alone", async () => {
    const calls: Calls = { flush: {}, release: {} };
    const { r, leaks } = await inProcess(async (p) => {
      for (const path of ["/dev/x", "/dev/y", "/dev/z"]) await p.open(path, O_RDWR); // 0-2
      const y = fileAtFd(1)!;
      expect(await p.dup2(1, 70)).toBe(70); // a grown table
      const reserved = await getUnusedFdFlags(0); // 3
      expect(await p.closeRange(1, -1)).toBe(0);
      expect(calls.flush["/dev/y"]).toBe(2);
      expect(calls.flush["/dev/z"]).toBe(1);
      expect(y.freed).toBe(true);
      expect(currentFiles()!.openFdList()).toEqual([0]);
      expect(currentFiles()!.fdt.openFds[reserved]).toBe(true);
      const f = await allocFile({}, null, "late");
      if (typeof f === "number") throw new Error("alloc");
      await fdInstall(reserved, f);
      expect(await p.closeRange(0, 0xffff_ffff, 0)).toBe(0);
      expect(currentFiles()!.openFdList()).toEqual([]);
    }, calls);
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("EINVAL for unknown flags and for fd > max_fd; nothing closed", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      const x = await p.open("/dev/x", O_RDWR);
      expect(await p.closeRange(0, 10, 1)).toBe(-EINVAL);
      expect(await p.closeRange(0, 10, 1 << 3)).toBe(-EINVAL);
      expect(await p.closeRange(0, 10, O_CLOEXEC)).toBe(-EINVAL);
      expect(await p.closeRange(5, 4)).toBe(-EINVAL);
      expect(await p.closeRange(-1, 4)).toBe(-EINVAL); // 0xffffffff > 4
      expect(await p.closeRange(0, 1.5)).toBe(-EINVAL);
      expect(fileAtFd(x)).not.toBeNull();
      // An empty range past the table is fine.
      expect(await p.closeRange(1000, 2000)).toBe(0);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("CLOSE_RANGE_CLOEXEC marks the range close-on-exec (free fds too) and closes nothing", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      const x = await p.open("/dev/x", O_RDWR);
      const y = await p.open("/dev/y", O_RDWR);
      expect(await p.closeRange(y, 5, CLOSE_RANGE_CLOEXEC)).toBe(0);
      const fdt = currentFiles()!.fdt;
      expect(fdt.closeOnExec.slice(0, 7)).toEqual([false, true, true, true, true, true, false]);
      expect(currentFiles()!.openFdList()).toEqual([x, y]);
      expect(fileCount(fileAtFd(y)!)).toBe(1);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("CLOSE_RANGE_UNSHARE on a table no other thread uses closes in place", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      await p.open("/dev/x", O_RDWR);
      await p.open("/dev/y", O_RDWR);
      const before = currentFiles();
      expect(await p.closeRange(1, -1, CLOSE_RANGE_UNSHARE)).toBe(0);
      expect(currentFiles()).toBe(before);
      expect(before!.openFdList()).toEqual([0]);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("CLOSE_RANGE_UNSHARE with a shared table: the caller closes in a private copy, the other thread keeps its fds", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      for (const path of ["/dev/x", "/dev/y", "/dev/z"]) await p.open(path, O_RDWR); // 0-2
      expect(await p.dup2(0, 100)).toBe(100); // the copy must grow past 64 slots
      const shared = currentFiles()!;
      const fx = shared.peek(0)!;
      const fz = shared.peek(2)!;
      const reserved = await getUnusedFdFlags(0); // 3: not copied as open
      const g = gate();
      const other = p.spawnThread("other", async () => {
        await g.wait();
        // Still the shared table: fd 2 is open here.
        expect(currentFiles()).toBe(shared);
        expect(await p.ioctl(2, 0)).not.toBe(-EBADF);
      });
      expect(await shared.count.read()).toBe(2);
      expect(await p.closeRange(2, 99, CLOSE_RANGE_UNSHARE)).toBe(0);
      const mine = currentFiles()!;
      expect(mine).not.toBe(shared);
      expect(mine.openFdList()).toEqual([0, 1, 100]);
      expect(mine.fdt.maxFds).toBe(128);
      expect(mine.fdt.openFds[reserved]).toBe(false);
      expect(shared.openFdList()).toEqual([0, 1, 2, 100]);
      expect(await shared.count.read()).toBe(1);
      // One reference per table, both on x (fds 0 and 100 of each); z only in the shared one.
      expect(fileCount(fx)).toBe(4);
      expect(fileCount(fz)).toBe(1);
      // The caller's fd syscalls act on its own table now: dup2, and FIOCLEX (set_close_on_exec()).
      expect(await p.dup2(1, 5)).toBe(5);
      expect(shared.peek(5)).toBeNull();
      expect(await p.ioctl(1, FIOCLEX)).toBe(0);
      expect(mine.fdt.closeOnExec[1]).toBe(true);
      expect(shared.fdt.closeOnExec[1]).toBe(false);
      // RLIMIT_NOFILE is the process's, whatever table a thread uses.
      expect(await p.setrlimit(RLIMIT_NOFILE, 50)).toBe(0);
      expect(mine.rlimitNofile).toBe(50);
      expect(await p.dup2(1, 50)).toBe(-EBADF);
      g.open();
      await other.join();
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC copies every fd and marks the range in the copy only", async () => {
    const { r, leaks } = await inProcess(async (p) => {
      await p.open("/dev/x", O_RDWR);
      await p.open("/dev/y", O_RDWR);
      const shared = currentFiles()!;
      const g = gate();
      const other = p.spawnThread("other", () => g.wait());
      expect(await p.closeRange(1, -1, CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)).toBe(0);
      const mine = currentFiles()!;
      expect(mine).not.toBe(shared);
      expect(mine.openFdList()).toEqual([0, 1]);
      expect(mine.fdt.closeOnExec.slice(0, 3)).toEqual([false, true, true]);
      expect(shared.fdt.closeOnExec.slice(0, 3)).toEqual([false, false, false]);
      expect(fileCount(mine.peek(1)!)).toBe(2);
      g.open();
      await other.join();
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });
});

describe("dup2 racing a lockless fget (__fget_files_rcu()'s re-check)", () => {
  const X = 1;
  const Y = 2;
  const Z = 3;

  /**
   * Process "p" has /dev/x at fd 0 (its only reference); a thread issues ioctl(0) twice while
   * the main thread opens /dev/z and dup2()s it onto fd 0: do_dup2() replaces the slot and
   * filp_close()s /dev/x, freed on the dup2's way back to userspace. Process "q" opens (and
   * closes) /dev/y twice meanwhile: an open after the free reuses /dev/x's memory. fd 0 only
   * ever held /dev/x and /dev/z, so each ioctl must hit one of them; /dev/y is a file p never had.
   */
  const lookupVsDup2VsOtherOpen: Scenario = async () => {
    const k = Kernel.boot();
    k.registerChrdev("/dev/x", { unlockedIoctl: async () => X });
    k.registerChrdev("/dev/y", { unlockedIoctl: async () => Y });
    k.registerChrdev("/dev/z", { unlockedIoctl: async () => Z });
    const p = k.spawnProcess("p", async (p) => {
      const fd = await p.open("/dev/x", O_RDWR);
      const looker = p.spawnThread("looker", async () => {
        for (let i = 0; i < 2; i++) {
          const r = await p.ioctl(fd, 0);
          if (r !== X && r !== Z)
            throw new Error(`ioctl(${fd}) = ${r}: reached a file fd ${fd} never held`);
        }
      });
      const z = await p.open("/dev/z", O_RDWR);
      if ((await p.dup2(z, fd)) !== fd) throw new Error("dup2 failed");
      await p.close(z);
      await looker.join();
      await p.close(fd);
    });
    const q = k.spawnProcess("q", async (q) => {
      for (let i = 0; i < 2; i++) await q.close(await q.open("/dev/y", O_RDWR));
    });
    await p.wait();
    await q.wait();
    const leaks = await k.checkLeaks();
    if (leaks.length > 0) throw new Error(`${leaks.length} leaks`);
  };

  it(`${FGET_NO_RECHECK.name}: the lookup takes a reference on the replaced file's recycled memory (PCT), and replays`, async () => {
    // The looker preempted between its slot load and file_ref_get(), then the dup2, its
    // __fput() of /dev/x and q's open must all run: seed 1 finds it at schedule 996.
    const on = await explore(lookupVsDup2VsOtherOpen, {
      strategy: "pct",
      schedules: 3000,
      seed: 1,
      toggles: [FGET_NO_RECHECK.name],
    });
    const f = on.firstFailure;
    expect(f).not.toBeNull();
    expect(f!.splats[0]!.message).toContain("reached a file fd 0 never held");
    const again = await replay(f!.token, lookupVsDup2VsOtherOpen);
    expect(again.splats.map((s) => s.message)).toEqual(f!.splats.map((s) => s.message));
  });

  it("with the re-check (the kernel's code) the same race is clean over PCT seeds and bounded DFS", async () => {
    for (const seed of [1, 2]) {
      const pct = await explore(lookupVsDup2VsOtherOpen, { strategy: "pct", schedules: 300, seed });
      expect(pct.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
      expect(pct.schedules).toBe(300);
    }
    const dfs = await explore(lookupVsDup2VsOtherOpen, {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 400,
    });
    expect(dfs.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
  });
});
