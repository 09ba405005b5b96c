import { Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { fileCount, O_RDWR } from "../fs/file.js";
import {
  EAGAIN,
  ECONNRESET,
  EFAULT,
  EINVAL,
  ENOTCONN,
  ENOTTY,
  EOPNOTSUPP,
} from "../include/errno.js";
import type { UnixSock } from "../include/net/af-unix.js";
import { Kernel } from "../init/kernel.js";
import type { Process } from "../kernel/process.js";
import {
  countingDevice as device,
  unixInProcess as inProcess,
  recvResult as msg,
  socketPair as pair,
} from "../test-support.js";
import {
  MSG_OOB,
  SIOCATMARK,
  UNIX_OOB_CONSECUTIVE_CONSUMED,
  UNIX_OOB_CONSUMED_ECONNRESET,
} from "./af-unix.js";
import { unixGcStats, unixGetSocket } from "./garbage.js";

function sockOf(p: Process, fd: number): UnixSock {
  const s = unixGetSocket(p.files.peek(fd)!);
  if (s === null) throw new Error(`fd ${fd} is not a socket`);
  return s;
}

const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (d: Uint8Array | undefined): string => String.fromCharCode(...(d ?? []));

/** sendmsg() of `s`'s bytes, MSG_OOB if `oob`, with `fds`. */
function send(p: Process, fd: number, s: string, oob: boolean, fds: number[] = []) {
  return p.sendmsgFds(fd, fds, { data: bytes(s), oob });
}

/** ioctl(SIOCATMARK): the answer, or the errno. */
async function atmark(p: Process, fd: number): Promise<number> {
  const arg = { value: -1 };
  const r = await p.ioctl(fd, SIOCATMARK, arg);
  return r < 0 ? r : arg.value;
}

describe("MSG_OOB on unix stream sockets (v6.18.35)", () => {
  it("the last byte of a MSG_OOB send is the OOB byte: reads stop at the mark, SIOCATMARK, recv(MSG_OOB)", async () => {
    const { leaks } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair());
      expect(await send(p, a, "hello", true)).toBe(5);
      expect(sockOf(p, b).receiveQueue.map((s) => s.len)).toEqual([4, 1]);
      expect(await atmark(p, b)).toBe(0);
      // A read stops before the OOB byte.
      const r1 = msg(await p.recvmsgFds(b, { size: 16, nonblock: true }));
      expect(text(r1.data)).toBe("hell");
      expect(r1.msgFlags).toBe(0);
      expect(await atmark(p, b)).toBe(1);
      // MSG_OOB|MSG_PEEK leaves it pending; MSG_OOB takes it.
      const peeked = msg(await p.recvmsgFds(b, { oob: true, peek: true }));
      expect([text(peeked.data), peeked.msgFlags]).toEqual(["o", MSG_OOB]);
      const oob = msg(await p.recvmsgFds(b, { oob: true }));
      expect([text(oob.data), oob.msgFlags]).toEqual(["o", MSG_OOB]);
      expect(await p.recvmsgFds(b, { oob: true })).toBe(-EINVAL);
      // The consumed OOB skb stays queued (zero bytes), marking the boundary.
      expect(sockOf(p, b).receiveQueue.map((s) => s.len - s.consumed)).toEqual([0]);
      expect(await atmark(p, b)).toBe(1);
      expect(await send(p, a, "xy", false)).toBe(2);
      const r2 = msg(await p.recvmsgFds(b, { size: 16, nonblock: true }));
      expect(text(r2.data)).toBe("xy");
      expect(sockOf(p, b).receiveQueue).toHaveLength(0);
      expect(await p.recvmsgFds(b, { size: 16, nonblock: true })).toBe(-EAGAIN);
      for (const x of [a, b]) expect(await p.close(x)).toBe(0);
    });
    expect(leaks).toBe(0);
  });

  it("an OOB byte carries SCM_RIGHTS; a read without MSG_OOB drops it unread with its files (manage_oob())", async () => {
    const { st, fops } = device();
    const { leaks } = await inProcess(
      async (p) => {
        const [a, b] = pair(await p.socketpair());
        const fd = await p.open("/dev/d", O_RDWR);
        const file = p.files.peek(fd)!;
        expect(await send(p, a, "x", true, [fd])).toBe(1);
        expect(await send(p, a, "y", false)).toBe(1);
        expect(fileCount(file)).toBe(2);
        expect(unixGcStats().totInflight).toBe(0); // a device file is no socket
        expect(await p.close(fd)).toBe(0);
        const r = msg(await p.recvmsgFds(b, { size: 2, nonblock: true }));
        expect([text(r.data), r.fds]).toEqual(["y", []]);
        expect(st.releases).toBe(1); // the OOB skb freed with its file
        expect(await p.recvmsgFds(b, { oob: true })).toBe(-EINVAL);
        for (const x of [a, b]) expect(await p.close(x)).toBe(0);
      },
      (k) => k.registerChrdev("/dev/d", fops),
    );
    expect(leaks).toBe(0);
  });

  it("recv(MSG_OOB) does not deliver the OOB skb's files; reading up to the mark does deliver the data skb's", async () => {
    const { st, fops } = device();
    const { leaks } = await inProcess(
      async (p) => {
        const [a, b] = pair(await p.socketpair());
        const fd = await p.open("/dev/d", O_RDWR);
        // "ab" with MSG_OOB: "a" (with the files: the first skb takes them) and the OOB "b".
        expect(await send(p, a, "ab", true, [fd])).toBe(2);
        expect(await p.close(fd)).toBe(0);
        const oob = msg(await p.recvmsgFds(b, { oob: true }));
        expect([text(oob.data), oob.fds]).toEqual(["b", []]);
        const r = msg(await p.recvmsgFds(b, { size: 4, nonblock: true, cloexec: true }));
        expect(text(r.data)).toBe("a");
        expect(r.fds).toHaveLength(1);
        expect(st.releases).toBe(0);
        for (const x of [...r.fds, a, b]) expect(await p.close(x)).toBe(0);
        expect(st.releases).toBe(1);
      },
      (k) => k.registerChrdev("/dev/d", fops),
    );
    expect(leaks).toBe(0);
  });

  it("MSG_PEEK stops at the OOB byte and at a consumed OOB skb", async () => {
    const { leaks } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair());
      expect(await send(p, a, "ab", true)).toBe(2);
      expect(await send(p, a, "cd", false)).toBe(2);
      const r1 = msg(await p.recvmsgFds(b, { size: 8, peek: true, nonblock: true }));
      expect(text(r1.data)).toBe("a");
      expect(text(msg(await p.recvmsgFds(b, { size: 8, nonblock: true })).data)).toBe("a");
      // At the OOB skb: a peek with nothing copied steps over it, as a read drops it.
      const r2 = msg(await p.recvmsgFds(b, { size: 8, peek: true, nonblock: true }));
      expect(text(r2.data)).toBe("cd");
      expect(text(msg(await p.recvmsgFds(b, { oob: true })).data)).toBe("b");
      expect(await send(p, a, "e", false)).toBe(1);
      const r3 = msg(await p.recvmsgFds(b, { size: 8, peek: true, nonblock: true }));
      expect(text(r3.data)).toBe("cde");
      const r4 = msg(await p.recvmsgFds(b, { size: 8, nonblock: true }));
      expect(text(r4.data)).toBe("cde");
      for (const x of [a, b]) expect(await p.close(x)).toBe(0);
    });
    expect(leaks).toBe(0);
  });

  it("bad input: MSG_OOB without a byte, recv(MSG_OOB) with none pending, bad sizes and ioctls change nothing", async () => {
    const { leaks } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair());
      expect(await send(p, a, "", true)).toBe(-EOPNOTSUPP);
      expect(await p.recvmsgFds(b, { oob: true })).toBe(-EINVAL);
      expect(await p.recvmsgFds(b, { size: -1 })).toBe(-EINVAL);
      expect(await p.recvmsgFds(b, { size: 1.5 })).toBe(-EINVAL);
      expect(await p.sendmsgFds(a, [], { data: "x" } as never)).toBe(-EFAULT);
      expect(await p.sendmsgFds(a, [], null as never)).toBe(-EFAULT);
      expect(await p.ioctl(b, SIOCATMARK, 5)).toBe(-EFAULT);
      expect(await p.ioctl(b, 0x8906, {})).toBe(-ENOTTY);
      expect(await atmark(p, b)).toBe(0);
      // A send of no bytes queues nothing and drops its files.
      expect(await send(p, a, "", false, [a])).toBe(0);
      expect(sockOf(p, b).receiveQueue).toHaveLength(0);
      expect(unixGcStats().totInflight).toBe(0);
      const [c] = pair(await p.socketpair());
      const lone = await p.openSocket();
      expect(await send(p, lone, "x", true)).toBe(-ENOTCONN);
      expect(await p.recvmsgFds(lone, { oob: true })).toBe(-EINVAL);
      for (const x of [a, b, c, lone]) expect(await p.close(x)).toBe(0);
    });
    expect(leaks).toBe(0);
  });

  it("the collector frees a socket in flight in its own OOB skb", async () => {
    const { leaks, after } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair());
      expect(await send(p, a, "!", true, [b])).toBe(1); // b in b's own queue, as the OOB skb
      expect(unixGcStats().totInflight).toBe(1);
      expect(await p.close(b)).toBe(0);
      expect(await p.close(a)).toBe(0);
      const [x, y] = pair(await p.socketpair());
      for (const s of [x, y]) expect(await p.close(s)).toBe(0);
    });
    expect(after.totInflight).toBe(0);
    expect(leaks).toBe(0);
  });
});

/** Jann Horn's reproducer (32ca245464e1's commit message) with a file on the last OOB byte. */
async function consecutiveConsumed(toggles: readonly string[]) {
  const seen: (string | number)[] = [];
  const r = await new Simulation({ seed: 1, toggles }).run(async () => {
    const k = Kernel.boot();
    k.registerChrdev("/dev/d", device().fops);
    const p = k.spawnProcess("t", async (p) => {
      const [s1, s2] = pair(await p.socketpair());
      const fd = await p.open("/dev/d", O_RDWR);
      await send(p, s1, "x", true);
      seen.push(text(msg(await p.recvmsgFds(s2, { oob: true })).data)); // a consumed OOB skb left
      await send(p, s1, "y", true);
      seen.push(text(msg(await p.recvmsgFds(s2, { oob: true })).data)); // and another (before the fix)
      await send(p, s1, "z", true, [fd]);
      const r3 = await p.recvmsgFds(s2, { size: 1, nonblock: true });
      seen.push(typeof r3 === "number" ? r3 : `${text(r3.data)}+${r3.fds.length}fd`);
      const r4 = await p.recvmsgFds(s2, { oob: true });
      seen.push(typeof r4 === "number" ? r4 : text(r4.data));
      for (const x of [fd, s1, s2]) await p.close(x);
      if (typeof r3 !== "number") for (const x of r3.fds) await p.close(x);
    });
    await p.wait();
    await k.checkLeaks();
  });
  return { r, seen };
}

describe("unix.oob-consecutive-consumed (32ca245464e1)", () => {
  it("is found by KASAN: the OOB byte read inline frees the skb u->oob_skb still points at", async () => {
    const { r, seen } = await consecutiveConsumed([UNIX_OOB_CONSECUTIVE_CONSUMED.name]);
    expect(seen.slice(0, 3)).toEqual(["x", "y", "z+1fd"]);
    const first = r.splats[0]!;
    expect(first.kind).toBe("kasan");
    expect(first.message.split("\n")[0]).toBe(
      "BUG: KASAN: slab-use-after-free in unix_stream_read_actor",
    );
    expect(first.object).toMatch(/^skbuff_head_cache#/);
  });

  it("with the fix (v6.18.35's code) the same program is clean: the OOB byte is dropped unread with its file", async () => {
    const { r, seen } = await consecutiveConsumed([]);
    expect(seen).toEqual(["x", "y", -EAGAIN, -EINVAL]);
    expect(r.splats.map((s) => s.message)).toEqual([]);
    expect(r.outcome).toBe("ok");
  });
});

/** A peer's recv() after the reader read the OOB byte and closed. */
async function consumedThenClose(toggles: readonly string[]) {
  let got: number | string = "";
  const r = await new Simulation({ seed: 1, toggles }).run(async () => {
    const k = Kernel.boot();
    const p = k.spawnProcess("t", async (p) => {
      const [s1, s2] = pair(await p.socketpair());
      await send(p, s2, "q", true);
      expect(text(msg(await p.recvmsgFds(s1, { oob: true })).data)).toBe("q");
      await p.close(s1);
      const rr = await p.recvmsgFds(s2, { size: 4, nonblock: true });
      got = typeof rr === "number" ? rr : `eof ${text(rr.data)}`;
      await p.close(s2);
    });
    await p.wait();
    await k.checkLeaks();
  });
  return { r, got };
}

describe("unix.oob-consumed-econnreset (2a5a4841846b)", () => {
  it("gives the peer -ECONNRESET for a consumed OOB skb left in the closed reader's queue", async () => {
    const { r, got } = await consumedThenClose([UNIX_OOB_CONSUMED_ECONNRESET.name]);
    expect(got).toBe(-ECONNRESET);
    expect(r.splats).toEqual([]);
  });

  it("with the fix (v6.18.35's code) the peer reads end of file", async () => {
    const { r, got } = await consumedThenClose([]);
    expect(got).toBe("eof ");
    expect(r.splats).toEqual([]);
  });
});
