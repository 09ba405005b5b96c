import type { Scenario } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { fileCount, O_RDWR } from "../fs/file.js";
import {
  EAFNOSUPPORT,
  EAGAIN,
  EBADF,
  ECONNRESET,
  EFAULT,
  EINVAL,
  EMFILE,
  ENOTSOCK,
  EPIPE,
  EPROTONOSUPPORT,
  ESOCKTNOSUPPORT,
} from "../include/errno.js";
import type { UnixSock } from "../include/net/af-unix.js";
import { Kernel } from "../init/kernel.js";
import type { Process } from "../kernel/process.js";
import { RLIMIT_NOFILE } from "../kernel/syscalls.js";
import {
  countingDevice as device,
  unixInProcess as inProcess,
  recvResult as msg,
  socketPair as pair,
  throwOnLeaks,
} from "../test-support.js";
import { AF_UNIX, SOCK_DGRAM, SOCK_STREAM } from "./af-unix.js";
import { unixGcStats, unixGetSocket } from "./garbage.js";
import { MSG_CTRUNC } from "./scm.js";

function sockOf(p: Process, fd: number): UnixSock {
  const s = unixGetSocket(p.files.peek(fd)!);
  if (s === null) throw new Error(`fd ${fd} is not a socket`);
  return s;
}

describe("unix sockets as files", () => {
  it("socketpair() installs two connected sockets; closing both frees them", async () => {
    const { leaks } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair(AF_UNIX, SOCK_STREAM, 0));
      expect([a, b]).toEqual([0, 1]);
      const sa = sockOf(p, a);
      const sb = sockOf(p, b);
      expect(sa.peer).toBe(sb);
      expect(sb.peer).toBe(sa);
      expect(await p.close(a)).toBe(0);
      // The peer is shut down: sending on b is EPIPE, reading it is end of file.
      expect(await p.sendmsgFds(b, [])).toBe(-EPIPE);
      expect(msg(await p.recvmsgFds(b, { nonblock: true }))).toEqual({ fds: [], msgFlags: 0 });
      expect(await p.close(b)).toBe(0);
    });
    expect(leaks).toBe(0);
  });

  it("SCM_RIGHTS: the receiver gets a new fd for the same file; the file lives while in flight", async () => {
    const { st, fops } = device();
    const { leaks } = await inProcess(
      async (p) => {
        const [a, b] = pair(await p.socketpair());
        const fd = await p.open("/dev/d", O_RDWR);
        const file = p.files.peek(fd)!;
        expect(await p.sendmsgFds(a, [fd])).toBe(0);
        expect(fileCount(file)).toBe(2);
        expect(await p.close(fd)).toBe(0);
        expect(st.releases).toBe(0);
        const got = msg(await p.recvmsgFds(b));
        expect(got.msgFlags).toBe(0);
        expect(got.fds).toHaveLength(1);
        expect(p.files.peek(got.fds[0]!)).toBe(file);
        expect(fileCount(file)).toBe(1);
        expect(await p.recvmsgFds(b, { nonblock: true })).toBe(-EAGAIN);
        for (const x of [got.fds[0]!, a, b]) expect(await p.close(x)).toBe(0);
      },
      (k) => k.registerChrdev("/dev/d", fops),
    );
    expect(st.releases).toBe(1);
    expect(leaks).toBe(0);
  });

  it("MSG_PEEK gives new fds and leaves the message queued", async () => {
    const { st, fops } = device();
    const { leaks } = await inProcess(
      async (p) => {
        const [a, b] = pair(await p.socketpair());
        const fd = await p.open("/dev/d", O_RDWR);
        const file = p.files.peek(fd)!;
        expect(await p.sendmsgFds(a, [fd, a])).toBe(0);
        const peeked = msg(await p.recvmsgFds(b, { peek: true }));
        expect(peeked.fds).toHaveLength(2);
        expect(p.files.peek(peeked.fds[0]!)).toBe(file);
        expect(p.files.peek(peeked.fds[1]!)).toBe(p.files.peek(a));
        expect(sockOf(p, b).receiveQueue).toHaveLength(1);
        expect(fileCount(file)).toBe(3); // fd, in flight, the peeked fd
        const again = msg(await p.recvmsgFds(b, { peek: true, maxFds: 1 }));
        expect(again).toEqual({ fds: [again.fds[0]], msgFlags: MSG_CTRUNC });
        const taken = msg(await p.recvmsgFds(b));
        expect(taken.fds).toHaveLength(2);
        expect(sockOf(p, b).receiveQueue).toHaveLength(0);
        expect(unixGcStats().totInflight).toBe(0);
        for (const x of [...peeked.fds, ...again.fds, ...taken.fds, fd, a, b])
          expect(await p.close(x)).toBe(0);
      },
      (k) => k.registerChrdev("/dev/d", fops),
    );
    expect(st.releases).toBe(1);
    expect(leaks).toBe(0);
  });

  it("bad input gets the kernel's errno and changes nothing", async () => {
    const { st, fops } = device();
    const { leaks } = await inProcess(
      async (p) => {
        expect(await p.socketpair(2, SOCK_STREAM, 0)).toBe(-EAFNOSUPPORT);
        expect(await p.socketpair(AF_UNIX, SOCK_DGRAM, 0)).toBe(-ESOCKTNOSUPPORT);
        expect(await p.socketpair(AF_UNIX, SOCK_STREAM | 0x10000000, 0)).toBe(-EINVAL);
        expect(await p.socketpair(AF_UNIX, SOCK_STREAM, 6)).toBe(-EPROTONOSUPPORT);
        expect(await p.socketpair(AF_UNIX, 12, 0)).toBe(-EINVAL);
        expect(await p.socketpair(AF_UNIX, 4, 0)).toBe(-ESOCKTNOSUPPORT);
        expect(p.files.peek(0)).toBeNull();
        const fd = await p.open("/dev/d", O_RDWR);
        const file = p.files.peek(fd)!;
        const [a, b] = pair(await p.socketpair());
        // A bad fd in the list: nothing sent, the references taken dropped.
        expect(await p.sendmsgFds(a, [fd, 99])).toBe(-EBADF);
        expect(await p.sendmsgFds(a, [fd, Number.NaN])).toBe(-EBADF);
        expect(await p.sendmsgFds(a, [fd, "x" as unknown as number])).toBe(-EBADF);
        expect(await p.sendmsgFds(a, 5 as unknown as number[])).toBe(-EFAULT);
        expect(await p.sendmsgFds(a, new Array(254).fill(fd))).toBe(-EINVAL);
        expect(fileCount(file)).toBe(1);
        expect(sockOf(p, b).receiveQueue).toHaveLength(0);
        // Not a socket, not an fd.
        expect(await p.sendmsgFds(fd, [fd])).toBe(-ENOTSOCK);
        expect(await p.recvmsgFds(fd)).toBe(-ENOTSOCK);
        expect(await p.sendmsgFds(42, [fd])).toBe(-EBADF);
        expect(await p.recvmsgFds(-1)).toBe(-EBADF);
        expect(await p.recvmsgFds(b, null as unknown as object)).toBe(-EFAULT);
        expect(await p.recvmsgFds(b, { maxFds: -1 })).toBe(-EINVAL);
        expect(await p.recvmsgFds(b, { nonblock: true })).toBe(-EAGAIN);
        expect(fileCount(file)).toBe(1);
        // No free fd for the second socket: the first fd is given back, nothing is created.
        expect(await p.setrlimit(RLIMIT_NOFILE, 4)).toBe(0);
        expect(await p.socketpair()).toBe(-EMFILE);
        expect(p.files.peek(3)).toBeNull();
        expect(await p.dup(fd)).toBe(3);
        for (const x of [3, fd, a, b]) expect(await p.close(x)).toBe(0);
      },
      (k) => k.registerChrdev("/dev/d", fops),
    );
    expect(st.releases).toBe(1);
    expect(leaks).toBe(0);
  });

  it("socketpair()'s checks in __sys_socketpair()'s and __sock_create()'s order (6.18.35)", async () => {
    const { leaks } = await inProcess(async (p) => {
      // SOCK_MAX is SOCK_PACKET + 1 = 11: SOCK_PACKET (10) is in range, unix_create() refuses it.
      expect(await p.socketpair(AF_UNIX, 10, 0)).toBe(-ESOCKTNOSUPPORT);
      expect(await p.socketpair(AF_UNIX, 11, 0)).toBe(-EINVAL);
      // A family outside [0, NPROTO) before the type's range; one inside it (but not
      // registered: AF_INET here) after the type's range.
      expect(await p.socketpair(-1, 12, 0)).toBe(-EAFNOSUPPORT);
      expect(await p.socketpair(46, 12, 0)).toBe(-EAFNOSUPPORT);
      expect(await p.socketpair(2, 12, 0)).toBe(-EINVAL);
      expect(await p.socketpair(45, 11, 0)).toBe(-EINVAL);
      expect(await p.socketpair(2, SOCK_STREAM, 6)).toBe(-EAFNOSUPPORT);
      // The flags before anything; the fds reserved before sock_create()'s checks.
      expect(await p.socketpair(-1, SOCK_STREAM | 0x10000000, 0)).toBe(-EINVAL);
      expect(await p.setrlimit(RLIMIT_NOFILE, 1)).toBe(0);
      expect(await p.socketpair(-1, 12, 0)).toBe(-EMFILE);
      expect(await p.socketpair(AF_UNIX, 10, 0)).toBe(-EMFILE);
      expect(p.files.peek(0)).toBeNull();
    });
    expect(leaks).toBe(0);
  });

  it("a receiver blocked in recvmsg() wakes up with the fds another process sent", async () => {
    const { leaks } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair());
      const got: number[] = [];
      const rx = p.spawnThread("rx", async () => {
        got.push(...msg(await p.recvmsgFds(b)).fds);
      });
      expect(await p.sendmsgFds(a, [a])).toBe(0);
      await rx.join();
      expect(got).toHaveLength(1);
      expect(p.files.peek(got[0]!)).toBe(p.files.peek(a));
      for (const x of [got[0]!, a, b]) expect(await p.close(x)).toBe(0);
    });
    expect(leaks).toBe(0);
  });
});

describe("sk_err: ECONNRESET after a peer's release (unix_release_sock(), 6.18.35)", () => {
  it("a peer closed with unread data: the queued message, then -ECONNRESET once, then end of file", async () => {
    const { leaks } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair());
      expect(await p.sendmsgFds(b, [])).toBe(0); // queued on a, read after the reset
      expect(await p.sendmsgFds(a, [])).toBe(0); // queued on b, never read: b closes with it
      expect(await p.close(b)).toBe(0);
      expect(sockOf(p, a).err).toBe(ECONNRESET);
      // The sender's checks: SEND_SHUTDOWN (-EPIPE) before any sock_error(), which stays pending.
      expect(await p.sendmsgFds(a, [])).toBe(-EPIPE);
      expect(sockOf(p, a).err).toBe(ECONNRESET);
      // What is queued first, then sock_error() (before RCV_SHUTDOWN), consumed, then end of file.
      expect(msg(await p.recvmsgFds(a, { nonblock: true }))).toEqual({ fds: [], msgFlags: 0 });
      expect(sockOf(p, a).receiveQueue).toHaveLength(0);
      expect(await p.recvmsgFds(a, { nonblock: true })).toBe(-ECONNRESET);
      expect(sockOf(p, a).err).toBe(0);
      expect(msg(await p.recvmsgFds(a, { nonblock: true }))).toEqual({ fds: [], msgFlags: 0 });
      expect(msg(await p.recvmsgFds(a))).toEqual({ fds: [], msgFlags: 0 });
      expect(await p.sendmsgFds(a, [])).toBe(-EPIPE);
      expect(await p.close(a)).toBe(0);
    });
    expect(leaks).toBe(0);
  });

  it("a peer closed with an empty queue: no sk_err, end of file only", async () => {
    const { leaks } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair());
      expect(await p.sendmsgFds(b, [])).toBe(0); // queued on a: a's own queue does not count
      expect(await p.close(b)).toBe(0);
      expect(sockOf(p, a).err).toBe(0);
      expect(msg(await p.recvmsgFds(a, { nonblock: true }))).toEqual({ fds: [], msgFlags: 0 });
      expect(msg(await p.recvmsgFds(a, { nonblock: true }))).toEqual({ fds: [], msgFlags: 0 });
      expect(await p.sendmsgFds(a, [])).toBe(-EPIPE);
      expect(await p.close(a)).toBe(0);
    });
    expect(leaks).toBe(0);
  });

  it("unread files count as unread data; a reader in a blocking recvmsg() gets -ECONNRESET", async () => {
    const { st, fops } = device();
    const { leaks } = await inProcess(
      async (p) => {
        const [a, b] = pair(await p.socketpair());
        const fd = await p.open("/dev/d", O_RDWR);
        const got: (number | string)[] = [];
        const rx = p.spawnThread("rx", async () => {
          const r = await p.recvmsgFds(a);
          got.push(typeof r === "number" ? r : `${r.fds.length} fds`);
        });
        expect(await p.sendmsgFds(a, [fd])).toBe(0); // the device file in flight to b
        expect(await p.close(fd)).toBe(0);
        expect(await p.close(b)).toBe(0); // b's queue purged: the file released
        await rx.join();
        expect(got).toEqual([-ECONNRESET]);
        expect(st.releases).toBe(1);
        expect(msg(await p.recvmsgFds(a))).toEqual({ fds: [], msgFlags: 0 });
        expect(await p.close(a)).toBe(0);
      },
      (k) => k.registerChrdev("/dev/d", fops),
    );
    expect(leaks).toBe(0);
  });

  it("a blocking recvmsg() against the peer's send and close: -ECONNRESET on every schedule (PCT)", async () => {
    const res = await explore(recvVsReset, { strategy: "pct", schedules: 100, seed: 1 });
    const f = res.firstFailure;
    expect(
      f == null ? null : { outcome: f.outcome, splats: f.splats.map((s) => s.message) },
    ).toBeNull();
    expect(res.schedules).toBe(100);
  });
});

/**
 * A reader asleep (or about to be) in recvmsg() on `a` while another thread queues a message on
 * `a`'s peer and closes it unread: the release wakes the reader, whose sock_error() gives
 * -ECONNRESET, whichever runs first.
 */
const recvVsReset: Scenario = async () => {
  const k = Kernel.boot();
  const p = k.spawnProcess("t", async (p) => {
    const [a, b] = pair(await p.socketpair());
    let r: unknown = null;
    const t = p.spawnThread("rx", async () => {
      r = await p.recvmsgFds(a);
    });
    if ((await p.sendmsgFds(a, [])) !== 0) throw new Error("sendmsg() failed");
    await p.close(b);
    await t.join();
    if (r !== -ECONNRESET) throw new Error(`recvmsg() = ${JSON.stringify(r)}`);
    await p.close(a);
  });
  await p.wait();
  await throwOnLeaks(k);
};
