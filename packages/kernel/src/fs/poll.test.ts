import { now, point, sleep } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { EFAULT, EINVAL } from "../include/errno.js";
import type { Kernel } from "../init/kernel.js";
import { RLIMIT_NOFILE } from "../kernel/syscalls.js";
import { clean, inProcess } from "../test-support.js";
import { type File, type FileOperations, fileCount, O_RDWR } from "./file.js";
import {
  DEFAULT_POLLMASK,
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLNVAL,
  EPOLLOUT,
  type PollFd,
  type PollTable,
  type PollTableEntry,
  pollRequestedEvents,
  pollWait,
  wakeUpPoll,
} from "./poll.js";

/** A device whose ->poll reports `ready` and registers on `head`. */
function evDevice() {
  const state = {
    ready: 0,
    head: { entries: new Set<PollTableEntry>() },
    keys: [] as number[],
    file: null as File | null,
  };
  const fops: FileOperations = {
    async poll(file, pt: PollTable) {
      state.file = file;
      state.keys.push(pollRequestedEvents(pt));
      await pollWait(file, state.head, pt);
      return state.ready;
    },
  };
  return { state, fops };
}

describe("poll(2)", () => {
  it("reports DEFAULT_POLLMASK without ->poll, EPOLLNVAL for a closed fd, nothing for fd < 0", async () => {
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/plain", {});
      },
      async (p) => {
        const fd = await p.open("/dev/plain", O_RDWR);
        const fds: PollFd[] = [
          { fd, events: EPOLLIN | EPOLLOUT },
          { fd: 42, events: EPOLLIN },
          { fd: -1, events: EPOLLIN },
          { fd, events: EPOLLOUT },
        ];
        expect(await p.poll(fds, 0)).toBe(3);
        expect(fds.map((f) => f.revents)).toEqual([
          EPOLLIN | EPOLLOUT,
          EPOLLNVAL,
          0,
          DEFAULT_POLLMASK & (EPOLLOUT | EPOLLERR | EPOLLHUP),
        ]);
        expect(await p.poll([{ fd: "x" } as unknown as PollFd], 0)).toBe(-EFAULT);
        expect(await p.poll(null as unknown as PollFd[], 0)).toBe(-EFAULT);
        await p.close(fd);
      },
    );
    clean(run);
  });

  it("more fds than RLIMIT_NOFILE is EINVAL before anything is read or polled (do_sys_poll())", async () => {
    const dev = evDevice();
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/ev", dev.fops);
      },
      async (p) => {
        const fd = await p.open("/dev/ev", O_RDWR);
        expect(await p.setrlimit(RLIMIT_NOFILE, 2)).toBe(0);
        const three: PollFd[] = [0, 1, 2].map(() => ({ fd, events: EPOLLIN }));
        // Checked before copy_from_user(): an unreadable entry does not make it EFAULT.
        const unreadable = [...three, { fd: "x" }] as unknown as PollFd[];
        expect(await p.poll(three, 0)).toBe(-EINVAL);
        expect(await p.poll(unreadable, 0)).toBe(-EINVAL);
        expect(dev.state.keys).toEqual([]);
        expect(three.map((f) => f.revents)).toEqual([undefined, undefined, undefined]);
        // nfds == RLIMIT_NOFILE is allowed.
        expect(await p.poll(three.slice(1), 0)).toBe(0);
        expect(dev.state.keys.length).toBe(2);
        await p.close(fd);
      },
    );
    clean(run);
  });

  it("with timeout 0 polls once; the key is the asked events plus EPOLLERR|EPOLLHUP", async () => {
    const { state, fops } = evDevice();
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/ev", fops);
      },
      async (p) => {
        const fd = await p.open("/dev/ev", O_RDWR);
        const fds: PollFd[] = [{ fd, events: EPOLLIN }];
        expect(await p.poll(fds, 0)).toBe(0);
        expect(fds[0]!.revents).toBe(0);
        expect(state.keys).toEqual([EPOLLIN | EPOLLERR | EPOLLHUP]);
        // Unwanted events are filtered out.
        state.ready = EPOLLOUT;
        expect(await p.poll(fds, 0)).toBe(0);
        state.ready = EPOLLIN | EPOLLOUT;
        expect(await p.poll(fds, 0)).toBe(1);
        expect(fds[0]!.revents).toBe(EPOLLIN);
        expect(state.head.entries.size).toBe(0);
        expect(fileCount(state.file!)).toBe(1);
        await p.close(fd);
      },
    );
    clean(run);
  });

  it("sleeps until a wanted wakeup, holding the file through its registration", async () => {
    const { state, fops } = evDevice();
    let countWhileAsleep = -1;
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/ev", fops);
      },
      async (p) => {
        const fd = await p.open("/dev/ev", O_RDWR);
        const waker = p.spawnThread("waker", async () => {
          await sleep(1000);
          countWhileAsleep = fileCount(state.file!);
          // A key the poller did not ask for does not wake it.
          wakeUpPoll(state.head, EPOLLOUT);
          await sleep(1000);
          state.ready = EPOLLIN;
          wakeUpPoll(state.head, EPOLLIN);
        });
        const fds: PollFd[] = [{ fd, events: EPOLLIN }];
        expect(await p.poll(fds, -1)).toBe(1);
        expect(fds[0]!.revents).toBe(EPOLLIN);
        // Asked twice after the first pass: after the ignored wakeup nothing re-polls.
        expect(state.keys.length).toBe(2);
        expect(now()).toBe(2000);
        await waker.join();
        expect(state.head.entries.size).toBe(0);
        await p.close(fd);
      },
    );
    clean(run);
    // The fd's reference and the poll registration's.
    expect(countWhileAsleep).toBe(2);
  });

  it("returns 0 when the virtual-clock timeout passes", async () => {
    const { state, fops } = evDevice();
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/ev", fops);
      },
      async (p) => {
        const fd = await p.open("/dev/ev", O_RDWR);
        const start = now();
        const fds: PollFd[] = [{ fd, events: EPOLLIN }];
        expect(await p.poll(fds, 5000)).toBe(0);
        expect(now() - start).toBe(5000);
        expect(fds[0]!.revents).toBe(0);
        expect(state.head.entries.size).toBe(0);
        await p.close(fd);
      },
    );
    clean(run);
  });

  it("pollWait() registers nothing without a table or once qproc is cleared", async () => {
    const head = { entries: new Set<PollTableEntry>() };
    const file = {} as File;
    await pollWait(file, head, null);
    await pollWait(file, head, { qproc: null, key: EPOLLIN });
    expect(head.entries.size).toBe(0);
    expect(pollRequestedEvents(null)).toBe(~0);
  });

  it("hostile input: a throwing getter or setter is EFAULT, a non-integer timeout EINVAL; nothing leaks", async () => {
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/plain", {});
      },
      async (p) => {
        const fd = await p.open("/dev/plain", O_RDWR);
        const throwingFd = {
          get fd(): number {
            throw new Error("getter");
          },
          events: EPOLLIN,
        } as PollFd;
        expect(await p.poll([throwingFd], 0)).toBe(-EFAULT);
        const throwingRevents = {
          fd,
          events: EPOLLIN,
          set revents(_v: number) {
            throw new Error("setter");
          },
        } as PollFd;
        expect(await p.poll([throwingRevents], 0)).toBe(-EFAULT);
        const throwingArray = new Proxy([] as PollFd[], {
          get() {
            throw new Error("array");
          },
        });
        expect(await p.poll(throwingArray, 0)).toBe(-EFAULT);
        const fds: PollFd[] = [{ fd, events: EPOLLIN }];
        for (const t of [1.5, Number.NaN, Number.POSITIVE_INFINITY, "5", 10n]) {
          expect(await p.poll(fds, t as number)).toBe(-EINVAL);
        }
        expect(fds[0]!.revents).toBeUndefined();
        expect(await p.poll(fds, 0)).toBe(1);
        await p.close(fd);
      },
    );
    clean(run);
  });
});

describe("fdget(): do_pollfd() borrows the fd when the table has one user (v6.18 CLASS(fd, f))", () => {
  /** /dev/c: its ->poll records the file's count as it sees it, and registers nothing. */
  function counting(seen: number[]) {
    return (k: Kernel) => {
      k.registerChrdev("/dev/c", {
        poll: async (f) => {
          seen.push(fileCount(f));
          return EPOLLIN;
        },
      });
    };
  }

  it("single-threaded: ->poll runs on the table's reference alone (BORROWED_FD), no file_ref_get", async () => {
    const seen: number[] = [];
    const run = await inProcess(counting(seen), async (p) => {
      const fd = await p.open("/dev/c", O_RDWR);
      const fds: PollFd[] = [
        { fd, events: EPOLLIN },
        { fd: fd + 1, events: EPOLLIN },
      ];
      expect(await p.poll(fds, 0)).toBe(2);
      expect(fds.map((f) => f.revents)).toEqual([EPOLLIN, EPOLLNVAL]);
    });
    clean(run);
    // fget() would have made it 2 for the call.
    expect(seen).toEqual([1]);
    const labels = run.r.trace
      .steps()
      .filter((s) => s.task === "t")
      .map((s) => s.label);
    expect(labels.filter((l) => l.startsWith("file_ref_get("))).toEqual([]);
    expect(labels.filter((l) => l === "rcu_read_lock")).toEqual([]);
  });

  it("with a second thread sharing the table: a counted reference for the call (CLONED_FD), dropped by fdput()", async () => {
    const seen: number[] = [];
    const run = await inProcess(counting(seen), async (p) => {
      const fd = await p.open("/dev/c", O_RDWR);
      let done = false;
      const t2 = p.spawnThread("t2", async () => {
        while (!done) await point("t2 waits");
      });
      expect(await p.poll([{ fd, events: EPOLLIN }], 0)).toBe(1);
      done = true;
      await t2.join();
      expect(await p.poll([{ fd, events: EPOLLIN }], 0)).toBe(1);
    });
    clean(run);
    expect(seen).toEqual([2, 1]);
  });
});
