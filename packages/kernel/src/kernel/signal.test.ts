import { now, Simulation, type Task, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { doEpollWait, EPOLL_CTL_ADD, type EpollEvent } from "../fs/eventpoll.js";
import { type FileOperations, O_RDWR } from "../fs/file.js";
import {
  doSysPoll,
  EPOLLIN,
  type PollTable,
  type PollTableEntry,
  pollWait,
  wakeUpPoll,
} from "../fs/poll.js";
import { EFAULT, EINTR, ERESTARTNOHAND, ERESTARTSYS } from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import { heldLocks } from "../locking/lockdep.js";
import { Mutex } from "../locking/mutex.js";
import {
  defineWdClass,
  WwAcquireCtx,
  WwMutex,
  wwAcquireFini,
  wwAcquireInit,
  wwMutexLock,
  wwMutexLockInterruptible,
  wwMutexUnlock,
} from "../locking/ww-mutex.js";
import { accessVm, vmMmapPgoff, vmMunmap } from "../mm/mm.js";
import { MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE } from "../mm/vma.js";
import { scmRecvFds } from "../net/scm.js";
import { clean } from "../test-support.js";
import { EXIT_KILLED, type Process } from "./process.js";
import { fatalSignalPending, signalPending } from "./signal.js";

/** A device whose ->poll never reports an event (it registers on `head`). */
function idleDevice() {
  const head = { entries: new Set<PollTableEntry>() };
  const fops: FileOperations = {
    async poll(file, pt: PollTable) {
      await pollWait(file, head, pt);
      return 0;
    },
  };
  return { head, fops };
}

/** Yields until `t` sleeps. */
async function untilAsleep(t: Task): Promise<void> {
  while (t.state !== "blocked") await yieldCpu();
}

/**
 * Boots a kernel with /dev/idle, runs `setup`'s processes, and returns the run, what kmemleak
 * and the leak checks find, and what `body` recorded.
 */
async function run(body: (k: Kernel) => Promise<void>): Promise<{
  r: Awaited<ReturnType<Simulation["run"]>>;
  leaks: number;
}> {
  let leaks = -1;
  const r = await new Simulation({ seed: 3 }).run(async () => {
    const k = Kernel.boot();
    k.registerChrdev("/dev/idle", idleDevice().fops);
    await body(k);
    leaks = (await k.checkLeaks()).length;
  });
  return { r, leaks };
}

describe("fatal signals interrupt interruptible sleeps", () => {
  it("kill() wakes a thread asleep in poll(-1): do_poll() returns -ERESTARTNOHAND, the files are unregistered, the thread dies", async () => {
    const got: { ret?: number; after?: boolean; at?: number } = {};
    const res = await run(async (k) => {
      const p = k.spawnProcess("poller", async (p) => {
        const fd = await p.open("/dev/idle", O_RDWR);
        got.ret = await doSysPoll([{ fd, events: EPOLLIN }], -1);
        got.at = now();
        await p.dup(fd); // the return to userspace: dies here
        got.after = true;
      });
      await untilAsleep(p.threads[0]!);
      p.kill();
      expect(await p.wait()).toBe(EXIT_KILLED);
    });
    clean(res);
    expect(got).toEqual({ ret: -ERESTARTNOHAND, at: 0 });
  });

  it("a poll with a timeout is woken long before it: the syscall never returns to userspace", async () => {
    const got: { ret?: number; end?: number } = {};
    const res = await run(async (k) => {
      const p = k.spawnProcess("poller", async (p) => {
        const fd = await p.open("/dev/idle", O_RDWR);
        got.ret = await p.poll([{ fd, events: EPOLLIN }], 1_000_000_000);
      });
      await untilAsleep(p.threads[0]!);
      p.kill();
      expect(await p.wait()).toBe(EXIT_KILLED);
      got.end = now();
    });
    clean(res);
    expect(got.ret).toBeUndefined();
    expect(got.end).toBeLessThan(1_000_000_000);
  });

  it("a sibling's exit() wakes a thread asleep in epoll_wait(): ep_poll() returns -EINTR; the exit code is the sibling's", async () => {
    const got: { ret?: number; pendingInExit?: boolean } = {};
    const res = await run(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const fd = await p.open("/dev/idle", O_RDWR);
        const ep = await p.epollCreate1(0);
        expect(await p.epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: 1 })).toBe(0);
        const waiter = p.spawnThread("waiter", async () => {
          const events: EpollEvent[] = [];
          got.ret = await doEpollWait(ep, events, 4, -1);
          await p.dup(fd);
        });
        await untilAsleep(waiter);
        // The caller of exit_group() gets no SIGKILL itself (zap_other_threads()).
        got.pendingInExit = signalPending();
        await p.exit(3);
      });
      expect(await p.wait()).toBe(3);
    });
    clean(res);
    expect(got).toEqual({ ret: -EINTR, pendingInExit: false });
  });

  it("kill() wakes a thread asleep in recvmsg(): unix_stream_read_generic() returns sock_intr_errno(MAX_SCHEDULE_TIMEOUT) = -ERESTARTSYS", async () => {
    const got: { ret?: unknown; pending?: boolean; fatal?: boolean } = {};
    const res = await run(async (k) => {
      const p = k.spawnProcess("rx", async (p) => {
        got.ret = await scmRecvFds(p.socket);
        got.pending = signalPending();
        got.fatal = fatalSignalPending();
        await p.dup(0);
      });
      await untilAsleep(p.threads[0]!);
      p.kill();
      expect(await p.wait()).toBe(EXIT_KILLED);
    });
    clean(res);
    expect(got).toEqual({ ret: -ERESTARTSYS, pending: true, fatal: true });
  });

  it("every interruptible sleeper of the killed process wakes, in thread creation order, at the kill itself", async () => {
    const states: string[] = [];
    const res = await run(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const fd = await p.open("/dev/idle", O_RDWR);
        const ts = ["a", "b"].map((n) =>
          p.spawnThread(n, async () => {
            await p.poll([{ fd, events: EPOLLIN }], -1);
          }),
        );
        for (const t of ts) await untilAsleep(t);
        await p.poll([{ fd, events: EPOLLIN }], -1);
      });
      while (p.threads.length < 3 || p.threads.some((t) => t.state !== "blocked")) await yieldCpu();
      p.kill();
      // No point since the kill: every thread is already runnable.
      for (const t of p.threads) states.push(t.state);
      expect(await p.wait()).toBe(EXIT_KILLED);
    });
    clean(res);
    expect(states).toEqual(["runnable", "runnable", "runnable"]);
  });

  it("a thread that is not asleep sees the signal before it sleeps: a poll after the kill does not sleep", async () => {
    const got: { ret?: number } = {};
    const res = await run(async (k) => {
      let go = false;
      let opened = false;
      const p = k.spawnProcess("app", async (p) => {
        const fd = await p.open("/dev/idle", O_RDWR);
        opened = true;
        // Userspace, not at a syscall boundary: the kill lands here.
        while (!go) await yieldCpu();
        got.ret = await doSysPoll([{ fd, events: EPOLLIN }], -1);
        await p.dup(fd);
      });
      while (!opened) await yieldCpu();
      p.kill();
      go = true;
      expect(await p.wait()).toBe(EXIT_KILLED);
    });
    clean(res);
    expect(got.ret).toBe(-ERESTARTNOHAND);
  });

  it("an uninterruptible sleep (mutex_lock()) is not woken by the kill: the thread dies once it has the mutex and returns", async () => {
    const got: { locked?: boolean; asleepAfterKill?: boolean } = {};
    const res = await run(async (k) => {
      const m = new Mutex("m");
      await m.lock();
      let p: Process | null = null;
      p = k.spawnProcess("app", async (p) => {
        await m.lock();
        got.locked = true;
        await m.unlock();
        await p.dup(0);
      });
      const t = p.threads[0]!;
      await untilAsleep(t);
      p.kill();
      for (let i = 0; i < 5; i++) await yieldCpu();
      got.asleepAfterKill = t.state === "blocked";
      await m.unlock();
      expect(await p.wait()).toBe(EXIT_KILLED);
    });
    clean(res);
    expect(got).toEqual({ asleepAfterKill: true, locked: true });
  });

  it("a wakeup that comes first wins: poll() reports the event even with SIGKILL pending", async () => {
    const got: { ret?: number } = {};
    const dev = idleDevice();
    let leaks = -1;
    const r = await new Simulation({ seed: 3 }).run(async () => {
      const k = Kernel.boot();
      let ready = 0;
      k.registerChrdev("/dev/ev", {
        async poll(file, pt) {
          await pollWait(file, dev.head, pt);
          return ready;
        },
      });
      const p = k.spawnProcess("app", async (p) => {
        const fd = await p.open("/dev/ev", O_RDWR);
        got.ret = await doSysPoll([{ fd, events: EPOLLIN }], -1);
        await p.dup(fd);
      });
      await untilAsleep(p.threads[0]!);
      ready = EPOLLIN;
      wakeUpPoll(dev.head, EPOLLIN);
      p.kill();
      expect(await p.wait()).toBe(EXIT_KILLED);
      leaks = (await k.checkLeaks()).length;
    });
    clean({ r, leaks });
    expect(got.ret).toBe(1);
  });

  const wd = defineWdClass("signal_test_wd_class");

  it("kill() wakes a thread asleep in ww_mutex_lock_interruptible(): -EINTR, no lock taken or recorded, the next waiter still gets it", async () => {
    const got: { ret?: number; held?: number; acquired?: number } = {};
    const res = await run(async (k) => {
      const m = new WwMutex("obj", wd);
      await wwMutexLock(m, null);
      const p = k.spawnProcess("app", async (p) => {
        const ctx = new WwAcquireCtx();
        wwAcquireInit(ctx, wd);
        got.ret = await wwMutexLockInterruptible(m, ctx);
        got.acquired = ctx.acquired;
        got.held = heldLocks().filter((l) => l === m).length;
        wwAcquireFini(ctx);
        await p.dup(0);
      });
      await untilAsleep(p.threads[0]!);
      p.kill();
      expect(await p.wait()).toBe(EXIT_KILLED);
      await wwMutexUnlock(m);
      // Nothing is left queued: the mutex is free and takes a new holder at once.
      expect(await wwMutexLock(m, null)).toBe(0);
      await wwMutexUnlock(m);
    });
    clean(res);
    expect(got).toEqual({ ret: -EINTR, acquired: 0, held: 0 });
  });

  it("ww_mutex_lock() (TASK_UNINTERRUPTIBLE) is not interrupted: it takes the mutex once free", async () => {
    const got: { ret?: number; asleep?: boolean } = {};
    const res = await run(async (k) => {
      const m = new WwMutex("obj", wd);
      await wwMutexLock(m, null);
      const p = k.spawnProcess("app", async (p) => {
        got.ret = await wwMutexLock(m, null);
        await wwMutexUnlock(m);
        await p.dup(0);
      });
      const t = p.threads[0]!;
      await untilAsleep(t);
      p.kill();
      for (let i = 0; i < 5; i++) await yieldCpu();
      got.asleep = t.state === "blocked";
      await wwMutexUnlock(m);
      expect(await p.wait()).toBe(EXIT_KILLED);
    });
    clean(res);
    expect(got).toEqual({ ret: 0, asleep: true });
  });

  it("mutex_lock_interruptible() and mutex_lock_killable() on a held mutex return -EINTR to the killed threads; lockdep holds nothing for them", async () => {
    const got: Record<string, number> = {};
    const res = await run(async (k) => {
      const m = new Mutex("m");
      await m.lock();
      const p = k.spawnProcess("app", async (p) => {
        const t2 = p.spawnThread("killable", async () => {
          got.killable = await m.lockKillable();
          got.killableHeld = heldLocks().length;
          await p.dup(0);
        });
        got.interruptible = await m.lockInterruptible();
        got.interruptibleHeld = heldLocks().length;
        await t2.join();
      });
      while (p.threads.length < 2 || p.threads.some((t) => t.state !== "blocked")) await yieldCpu();
      p.kill();
      expect(await p.wait()).toBe(EXIT_KILLED);
      await m.unlock();
      // Nobody is left queued: the next lock is immediate.
      expect(await m.lockInterruptible()).toBe(0);
      await m.unlock();
    });
    clean(res);
    expect(got).toEqual({
      interruptible: -EINTR,
      interruptibleHeld: 0,
      killable: -EINTR,
      killableHeld: 0,
    });
  });

  /**
   * A process whose main thread stays in userspace until `go` while thread "t2" runs `prepare`,
   * then `call` (a kernel-level call needing mmap_lock, which the test takes for writing once
   * `prepare` is done): t2 is killed while it waits for the lock; what `call` returned is
   * recorded.
   */
  async function mmapLockKill<T>(
    prepare: (p: Process) => Promise<T>,
    call: (p: Process, prepared: T) => Promise<unknown>,
  ): Promise<unknown> {
    const got: { ret?: unknown } = {};
    const res = await run(async (k) => {
      let go = false;
      let ready = false;
      let t2: Task | null = null;
      const p = k.spawnProcess("app", async (p) => {
        t2 = p.spawnThread("t2", async () => {
          const prepared = await prepare(p);
          ready = true;
          while (!go) await yieldCpu();
          got.ret = await call(p, prepared);
        });
        while (!go) await yieldCpu();
        while (!(t2 as Task).exited) await yieldCpu();
        await p.dup(0);
      });
      while (!ready) await yieldCpu();
      await p.mm.mmapLock.writeLock();
      go = true;
      await untilAsleep(t2!);
      p.kill();
      while (!(t2 as unknown as Task).exited) await yieldCpu();
      await p.mm.mmapLock.writeUnlock();
      expect(await p.wait()).toBe(EXIT_KILLED);
    });
    clean(res);
    return got.ret;
  }

  const nothing = async (): Promise<null> => null;

  it("munmap()'s __vm_munmap() waiting for mmap_lock: mmap_write_lock_killable() fails, -EINTR", async () => {
    expect(await mmapLockKill(nothing, (p) => vmMunmap(p.mm, 0x10000, PAGE_SIZE, true))).toBe(
      -EINTR,
    );
  });

  it("mmap()'s vm_mmap_pgoff() waiting for mmap_lock: mmap_write_lock_killable() fails, -EINTR", async () => {
    expect(
      await mmapLockKill(nothing, (p) =>
        vmMmapPgoff(p.mm, null, 0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0),
      ),
    ).toBe(-EINTR);
  });

  it("a page fault waiting for mmap_lock: get_mmap_lock_carefully()'s mmap_read_lock_killable() fails, no page is touched", async () => {
    expect(
      await mmapLockKill(
        (p) =>
          vmMmapPgoff(
            p.mm,
            null,
            0,
            PAGE_SIZE,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            0,
          ),
        (p, addr) => {
          expect(addr).toBeGreaterThan(0);
          return accessVm(p.mm, addr, 1, null);
        },
      ),
    ).toBe(-EFAULT);
  });
});
