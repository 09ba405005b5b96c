import { now, point, type Scenario } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { EBADF, EEXIST, EFAULT, EINVAL, ENOENT, EPERM } from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import type { Process } from "../kernel/process.js";
import { lockIsHeld } from "../locking/lockdep.js";
import { clean, inProcess } from "../test-support.js";
import {
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLL_ITEM_POLL_WITHOUT_REF,
  EPOLLET,
  EPOLLONESHOT,
  type EpollEvent,
  type EventPoll,
} from "./eventpoll.js";
import { type File, type FileOperations, fileCount, fput, getFile, O_RDWR } from "./file.js";
import {
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  type PollTable,
  type PollTableEntry,
  pollWait,
  wakeUpPoll,
} from "./poll.js";

/**
 * A device whose ->poll registers on `head` and reports `ready`; with `pinsFile`, it also takes
 * and drops a file reference on every call, as dma_buf_poll() does for its fence callback
 * (get_file(), then dma_buf_poll_cb() with nothing to wait for: fput()).
 */
/** inProcess() on a kernel with `dev` at /dev/ev. */
function inEvProcess(dev: ReturnType<typeof evDevice>, body: (p: Process) => Promise<void>) {
  return inProcess((k) => {
    k.registerChrdev("/dev/ev", dev.fops);
  }, body);
}

function evDevice(pinsFile = false) {
  const state = { ready: EPOLLIN, head: { entries: new Set<PollTableEntry>() }, polls: 0 };
  const fops: FileOperations = {
    async poll(file: File, pt: PollTable) {
      state.polls++;
      await pollWait(file, state.head, pt);
      if (pinsFile) {
        await getFile(file);
        await fput(file);
      }
      return state.ready;
    },
  };
  return { state, fops };
}

describe("epoll_create1 / epoll_ctl / epoll_wait", () => {
  it("rejects bad input with the kernel's errno and changes nothing", async () => {
    const dev = evDevice();
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/ev", dev.fops);
        k.registerChrdev("/dev/plain", {});
      },
      async (p) => {
        expect(await p.epollCreate1(0x1)).toBe(-EINVAL);
        const ep = await p.epollCreate1(EPOLL_CLOEXEC);
        expect(ep).toBeGreaterThanOrEqual(0);
        const fd = await p.open("/dev/ev", O_RDWR);
        const plain = await p.open("/dev/plain", O_RDWR);
        const ev = (events: number): EpollEvent => ({ events, data: 1 });
        // Events arrays whose inspection throws: a bad user pointer.
        const revoked = Proxy.revocable([] as EpollEvent[], {});
        revoked.revoke();
        const throwingTrap = new Proxy([] as EpollEvent[], {
          isExtensible() {
            throw new Error("trap");
          },
        });
        const r = {
          closedEpfd: await p.epollCtl(99, EPOLL_CTL_ADD, fd, ev(EPOLLIN)),
          closedFd: await p.epollCtl(ep, EPOLL_CTL_ADD, 99, ev(EPOLLIN)),
          noPoll: await p.epollCtl(ep, EPOLL_CTL_ADD, plain, ev(EPOLLIN)),
          notEpoll: await p.epollCtl(fd, EPOLL_CTL_ADD, fd, ev(EPOLLIN)),
          badOp: await p.epollCtl(ep, 7, fd, ev(EPOLLIN)),
          unreadableEvent: await p.epollCtl(ep, EPOLL_CTL_ADD, fd, null),
          delUnwatched: await p.epollCtl(ep, EPOLL_CTL_DEL, fd),
          modUnwatched: await p.epollCtl(ep, EPOLL_CTL_MOD, fd, ev(EPOLLIN)),
          add: await p.epollCtl(ep, EPOLL_CTL_ADD, fd, ev(EPOLLIN)),
          addAgain: await p.epollCtl(ep, EPOLL_CTL_ADD, fd, ev(EPOLLIN)),
          waitZero: await p.epollWait(ep, [], 0, 0),
          waitNotEpoll: await p.epollWait(fd, [], 1, 0),
          waitClosed: await p.epollWait(99, [], 1, 0),
          waitFrozen: await p.epollWait(ep, Object.freeze([]) as unknown as EpollEvent[], 1, 0),
          waitRevoked: await p.epollWait(ep, revoked.proxy as EpollEvent[], 1, 0),
          waitThrowingTrap: await p.epollWait(ep, throwingTrap, 1, 0),
        };
        expect(r).toEqual({
          closedEpfd: -EBADF,
          closedFd: -EBADF,
          noPoll: -EPERM,
          notEpoll: -EINVAL,
          badOp: -EINVAL,
          unreadableEvent: -EFAULT,
          delUnwatched: -ENOENT,
          modUnwatched: -ENOENT,
          add: 0,
          addAgain: -EEXIST,
          waitZero: -EINVAL,
          waitNotEpoll: -EINVAL,
          waitClosed: -EBADF,
          waitFrozen: -EFAULT,
          waitRevoked: -EFAULT,
          waitThrowingTrap: -EFAULT,
        });
        // Only the one ADD registered.
        expect(dev.state.head.entries.size).toBe(1);
        await p.close(plain);
        await p.close(fd);
        await p.close(ep);
      },
    );
    clean(run);
  });

  it("level-triggered items are reported on every wait, EPOLLET ones once per wakeup, EPOLLONESHOT until re-armed", async () => {
    const dev = evDevice();
    const run = await inEvProcess(dev, async (p) => {
      const ep = await p.epollCreate1(0);
      const lt = await p.open("/dev/ev", O_RDWR);
      const et = await p.open("/dev/ev", O_RDWR);
      const one = await p.open("/dev/ev", O_RDWR);
      expect(await p.epollCtl(ep, EPOLL_CTL_ADD, lt, { events: EPOLLIN, data: 10 })).toBe(0);
      expect(await p.epollCtl(ep, EPOLL_CTL_ADD, et, { events: EPOLLIN | EPOLLET, data: 20 })).toBe(
        0,
      );
      expect(
        await p.epollCtl(ep, EPOLL_CTL_ADD, one, { events: EPOLLIN | EPOLLONESHOT, data: 30 }),
      ).toBe(0);
      const data = async () => {
        const out: EpollEvent[] = [];
        const n = await p.epollWait(ep, out, 8, 0);
        expect(n).toBe(out.length);
        return out.map((e) => e.data).sort();
      };
      expect(await data()).toEqual([10, 20, 30]);
      expect(await data()).toEqual([10]);
      // A wakeup re-queues the edge-triggered item; the disarmed one-shot stays quiet.
      wakeUpPoll(dev.state.head, EPOLLIN);
      expect(await data()).toEqual([10, 20]);
      expect(
        await p.epollCtl(ep, EPOLL_CTL_MOD, one, { events: EPOLLIN | EPOLLONESHOT, data: 31 }),
      ).toBe(0);
      expect(await data()).toEqual([10, 31]);
      // Not ready: nothing, and a timed wait times out.
      dev.state.ready = 0;
      expect(await data()).toEqual([]);
      expect(await p.epollWait(ep, [], 8, 1000)).toBe(0);
      await p.close(lt);
      await p.close(et);
      await p.close(one);
      await p.close(ep);
      expect(dev.state.head.entries.size).toBe(0);
    });
    clean(run);
  });

  it("a sleeping epoll_wait is woken by the watched file's wakeup and reports EPOLLERR|EPOLLHUP always", async () => {
    const dev = evDevice();
    const run = await inEvProcess(dev, async (p) => {
      dev.state.ready = 0;
      const ep = await p.epollCreate1(0);
      const fd = await p.open("/dev/ev", O_RDWR);
      expect(await p.epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLOUT, data: 5 })).toBe(0);
      const waker = p.spawnThread("waker", async () => {
        dev.state.ready = EPOLLHUP;
        wakeUpPoll(dev.state.head, EPOLLHUP);
      });
      const out: EpollEvent[] = [];
      expect(await p.epollWait(ep, out, 1, -1)).toBe(1);
      expect(out).toEqual([{ events: EPOLLHUP, data: 5 }]);
      await waker.join();
      expect(EPOLLERR & EPOLLHUP).toBe(0);
      await p.close(fd);
      await p.close(ep);
    });
    clean(run);
  });

  it("the watched file's last close removes its epitem (eventpoll_release()); closing the epoll fd frees the rest", async () => {
    const dev = evDevice();
    const run = await inEvProcess(dev, async (p) => {
      const ep = await p.epollCreate1(0);
      const a = await p.open("/dev/ev", O_RDWR);
      const b = await p.open("/dev/ev", O_RDWR);
      const dupA = await p.dup(a);
      expect(await p.epollCtl(ep, EPOLL_CTL_ADD, a, { events: EPOLLIN, data: 1 })).toBe(0);
      expect(await p.epollCtl(ep, EPOLL_CTL_ADD, b, { events: EPOLLIN, data: 2 })).toBe(0);
      // Closing one fd of a file does not remove the item: the file lives on (dup).
      await p.close(a);
      let out: EpollEvent[] = [];
      expect(await p.epollWait(ep, out, 8, 0)).toBe(2);
      await p.close(dupA);
      out = [];
      expect(await p.epollWait(ep, out, 8, 0)).toBe(1);
      expect(out).toEqual([{ events: EPOLLIN, data: 2 }]);
      expect(dev.state.head.entries.size).toBe(1);
      await p.close(ep);
      expect(dev.state.head.entries.size).toBe(0);
      await p.close(b);
    });
    clean(run);
  });

  it("ep_done_scan() puts wakeups that came during a scan at the ready list's head, oldest first", async () => {
    // L's ->poll, during epoll_wait()'s scan, wakes A then B: both go on the overflow list.
    const heads = {
      a: { entries: new Set<PollTableEntry>() },
      b: { entries: new Set<PollTableEntry>() },
    };
    const ready = { a: 0, b: 0 };
    let wakeDuringScan = false;
    const lFops: FileOperations = {
      async poll(file: File, pt: PollTable) {
        await pollWait(file, { entries: new Set<PollTableEntry>() }, pt);
        if (wakeDuringScan) {
          wakeDuringScan = false;
          ready.a = ready.b = EPOLLIN;
          wakeUpPoll(heads.a, EPOLLIN);
          wakeUpPoll(heads.b, EPOLLIN);
        }
        return EPOLLIN;
      },
    };
    const fopsFor = (h: { entries: Set<PollTableEntry> }, key: "a" | "b"): FileOperations => ({
      async poll(file: File, pt: PollTable) {
        await pollWait(file, h, pt);
        return ready[key];
      },
    });
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/l", lFops);
        k.registerChrdev("/dev/a", fopsFor(heads.a, "a"));
        k.registerChrdev("/dev/b", fopsFor(heads.b, "b"));
      },
      async (p) => {
        const ep = await p.epollCreate1(0);
        const l = await p.open("/dev/l", O_RDWR);
        const a = await p.open("/dev/a", O_RDWR);
        const b = await p.open("/dev/b", O_RDWR);
        // L is level-triggered and ready; A and B are not ready when added.
        expect(await p.epollCtl(ep, EPOLL_CTL_ADD, l, { events: EPOLLIN, data: 1 })).toBe(0);
        expect(await p.epollCtl(ep, EPOLL_CTL_ADD, a, { events: EPOLLIN, data: 2 })).toBe(0);
        expect(await p.epollCtl(ep, EPOLL_CTL_ADD, b, { events: EPOLLIN, data: 3 })).toBe(0);
        wakeDuringScan = true;
        let out: EpollEvent[] = [];
        expect(await p.epollWait(ep, out, 1, 0)).toBe(1);
        expect(out.map((e) => e.data)).toEqual([1]);
        // The kernel's ready list is now A, B (the overflow list, oldest first), then L (re-queued
        // as level-triggered during the scan).
        out = [];
        expect(await p.epollWait(ep, out, 3, 0)).toBe(3);
        expect(out.map((e) => e.data)).toEqual([2, 3, 1]);
        await p.close(ep);
        await p.close(l);
        await p.close(a);
        await p.close(b);
      },
    );
    clean(run);
  });

  it("ep_poll(): a sleep that times out without a wakeup returns 0 without another ep_send_events()", async () => {
    const dev = evDevice();
    dev.state.ready = 0;
    const run = await inEvProcess(dev, async (p) => {
      const epfd = await p.epollCreate1(0);
      const fd = await p.open("/dev/ev", O_RDWR);
      expect(await p.epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: 1 })).toBe(0);
      const ep = p.files.peek(epfd)!.privateData as EventPoll;
      // ep_send_events() is the only taker of ep->mtx in epoll_wait().
      let mtxTaken = 0;
      const lock = ep.mtx.lock.bind(ep.mtx);
      ep.mtx.lock = (...args: Parameters<typeof lock>) => {
        mtxTaken++;
        return lock(...args);
      };
      const polls = dev.state.polls;
      const t0 = now();
      expect(await p.epollWait(epfd, [], 1, 1_000_000)).toBe(0);
      expect(now() - t0).toBeGreaterThanOrEqual(1_000_000);
      expect({ mtxTaken, polls: dev.state.polls - polls }).toEqual({ mtxTaken: 0, polls: 0 });
      await p.close(epfd);
      await p.close(fd);
    });
    clean(run);
  });

  it("ep_send_events() takes ep->lock only to start and end the scan, not to re-queue a level-triggered item", async () => {
    const dev = evDevice();
    const run = await inEvProcess(dev, async (p) => {
      const epfd = await p.epollCreate1(0);
      const fds = [await p.open("/dev/ev", O_RDWR), await p.open("/dev/ev", O_RDWR)];
      for (const fd of fds)
        expect(await p.epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: fd })).toBe(0);
      const ep = p.files.peek(epfd)!.privateData as EventPoll;
      let lockTaken = 0;
      const lock = ep.lock.lock.bind(ep.lock);
      ep.lock.lock = (...args: Parameters<typeof lock>) => {
        lockTaken++;
        return lock(...args);
      };
      const out: EpollEvent[] = [];
      expect(await p.epollWait(epfd, out, 8, 0)).toBe(2);
      // Both items stay ready (level-triggered): ep_start_scan() and ep_done_scan() only.
      expect(lockTaken).toBe(2);
      expect(await p.epollWait(epfd, [], 8, 0)).toBe(2);
      await p.close(epfd);
      for (const fd of fds) await p.close(fd);
    });
    clean(run);
  });

  it("ep_clear_and_put() drops the epoll file's eventpoll reference after unlocking ep->mtx (v6.16+)", async () => {
    const dev = evDevice();
    // For every drop of ep->refcount: was ep->mtx held, and what did the count go to.
    const drops: { mtxHeld: boolean; to: number }[] = [];
    const run = await inEvProcess(dev, async (p) => {
      const epfd = await p.epollCreate1(0);
      const fd = await p.open("/dev/ev", O_RDWR);
      expect(await p.epollCtl(epfd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: 1 })).toBe(0);
      const ep = p.files.peek(epfd)!.privateData as EventPoll;
      const decAndTest = ep.refcount.decAndTest.bind(ep.refcount);
      ep.refcount.decAndTest = () => {
        const mtxHeld = lockIsHeld(ep.mtx);
        const zero = decAndTest();
        drops.push({ mtxHeld, to: zero ? 0 : ep.refcount.read() });
        return zero;
      };
      await p.close(epfd);
      await p.close(fd);
    });
    clean(run);
    // ep_remove_safe() drops the epitem's reference under ep->mtx (WARN_ON_ONCE if it were the
    // last); ep_clear_and_put() drops the file's, the last, after mutex_unlock().
    expect(drops).toEqual([
      { mtxHeld: true, to: 1 },
      { mtxHeld: false, to: 0 },
    ]);
  });
});

/**
 * The syzbot shape of CVE-2024-38580: one thread waits on an epoll set watching a file whose
 * ->poll pins it (dma_buf_poll()'s get_file()), another closes the file's only fd. The last
 * fput() dooms the file; its __fput() (task work on the closer's way out) blocks in
 * eventpoll_release_file() on ep->mtx while ep_send_events() polls the item.
 */
function waitVsClose(): Scenario {
  return async () => {
    const k = Kernel.boot();
    const dev = evDevice(true);
    k.registerChrdev("/dev/ev", dev.fops);
    const p = k.spawnProcess("app", async (p) => {
      const ep = await p.epollCreate1(0);
      const fd = await p.open("/dev/ev", O_RDWR);
      await p.epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: 1 });
      const waiter = p.spawnThread("waiter", async () => {
        for (let i = 0; i < 2; i++) {
          const out: EpollEvent[] = [];
          const n = await p.epollWait(ep, out, 1, 0);
          if (n < 0 || n > 1) throw new Error(`epoll_wait gave ${n}`);
        }
      });
      await p.close(fd);
      await waiter.join();
      await p.close(ep);
    });
    await p.wait();
    await k.checkLeaks();
  };
}

describe(`historic toggle ${EPOLL_ITEM_POLL_WITHOUT_REF.name}`, () => {
  it("is found by PCT as the doomed file released twice, and replays from its token", async () => {
    const res = await explore(waitVsClose(), {
      strategy: "pct",
      schedules: 300,
      seed: 1,
      toggles: [EPOLL_ITEM_POLL_WITHOUT_REF.name],
    });
    const r = res.firstFailure;
    expect(r, "not found").not.toBeNull();
    expect(r!.splats.some((s) => s.kind === "kasan" && s.object?.startsWith("filp#"))).toBe(true);
    const again = await replay(r!.token!, waitVsClose(), {
      toggles: [EPOLL_ITEM_POLL_WITHOUT_REF.name],
    });
    expect(again.splats.map((s) => s.message)).toEqual(r!.splats.map((s) => s.message));
  });

  it("with the fix (epi_fget()), the same race is clean over PCT seeds", async () => {
    for (const seed of [1, 2, 3]) {
      const res = await explore(waitVsClose(), { strategy: "pct", schedules: 150, seed });
      expect(res.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
      expect(res.schedules).toBe(150);
    }
  });
});

/** A device whose ->poll() records the file's reference count each time it is called. */
function countingPollFops(seen: number[]): FileOperations {
  return {
    async poll(file: File, pt: PollTable) {
      seen.push(fileCount(file));
      await pollWait(file, { entries: new Set<PollTableEntry>() }, pt);
      return 0;
    },
  };
}

describe("fdget(): epoll_ctl and epoll_wait borrow their fds when the table has one user (v6.18 CLASS(fd, f))", () => {
  it("single-threaded: EPOLL_CTL_ADD polls the target on the table's reference alone, and no fd lookup takes a reference", async () => {
    const seen: number[] = [];
    const fops = countingPollFops(seen);
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/c", fops);
      },
      async (p) => {
        const ep = await p.epollCreate1(0);
        const fd = await p.open("/dev/c", O_RDWR);
        expect(await p.epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: 1 })).toBe(0);
        expect(await p.epollWait(ep, [], 1, 0)).toBe(0);
        expect(await p.epollCtl(ep, EPOLL_CTL_DEL, fd)).toBe(0);
        await p.close(fd);
        await p.close(ep);
      },
    );
    clean(run);
    // The table's reference and ep_item_poll()'s epi_fget(); do_epoll_ctl()'s fget() would have
    // made it 3 during ep_insert()'s ep_item_poll().
    expect(seen[0]).toBe(2);
    const labels = run.r.trace
      .steps()
      .filter((s) => s.task === "t")
      .map((s) => s.label);
    // epi_fget() is an inc-not-zero step of its own ("epi_fget(...)"), not a file_ref_get.
    expect(labels.filter((l) => l.startsWith("file_ref_get("))).toEqual([]);
    expect(labels.filter((l) => l === "rcu_read_lock")).toEqual([]);
  });

  it("do_epoll_wait() looks the epfd up before ep_check_params(): a closed epfd is EBADF even with a bad maxevents", async () => {
    const run = await inProcess(
      () => {},
      async (p) => {
        expect(await p.epollWait(99, [], 0, 0)).toBe(-EBADF);
        expect(await p.epollWait(99, Object.freeze([]) as unknown as EpollEvent[], 1, 0)).toBe(
          -EBADF,
        );
        const ep = await p.epollCreate1(0);
        expect(await p.epollWait(ep, [], 0, 0)).toBe(-EINVAL);
        await p.close(ep);
      },
    );
    clean(run);
  });

  it("with a second thread sharing the table: counted references (CLONED_FD), dropped by fdput()", async () => {
    const seen: number[] = [];
    const fops = countingPollFops(seen);
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/c", fops);
      },
      async (p) => {
        const ep = await p.epollCreate1(0);
        const fd = await p.open("/dev/c", O_RDWR);
        let done = false;
        const t2 = p.spawnThread("t2", async () => {
          while (!done) await point("t2 waits");
        });
        expect(await p.epollCtl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: 1 })).toBe(0);
        done = true;
        await t2.join();
        await p.close(fd);
        await p.close(ep);
      },
    );
    clean(run);
    // The table's, tf's CLONED_FD and ep_item_poll()'s epi_fget().
    expect(seen[0]).toBe(3);
  });
});
