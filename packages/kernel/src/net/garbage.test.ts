import { baselineFixes, type RunResult, type Scenario, Simulation } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { fileCount, O_RDWR } from "../fs/file.js";
import { ETOOMANYREFS } from "../include/errno.js";
import type { UnixSock } from "../include/net/af-unix.js";
import { Kernel } from "../init/kernel.js";
import type { Process } from "../kernel/process.js";
import { RLIMIT_NOFILE } from "../kernel/syscalls.js";
import {
  countingDevice as device,
  expectCycleLeak,
  unixInProcess as inProcess,
  recvResult as msg,
  socketPair as pair,
  throwOnLeaks,
} from "../test-support.js";
import {
  UNIX_GC_EDGE_BEFORE_QUEUE,
  UNIX_GC_PEEK_NO_SEQCOUNT,
  UNIX_GC_REQUEUED_NOT_IN_PROGRESS,
  UNIX_GC_SCC_INDEX_NOT_UNIFORM,
  UNIX_GRAPH_CYCLIC,
  UNIX_GRAPH_NOT_CYCLIC,
  UNIX_INFLIGHT_SANE_USER,
  unixGcStats,
  unixGetSocket,
} from "./garbage.js";
import { SCM_MAX_FD } from "./scm.js";

/** Closes a fresh socketpair without returning to userspace in between: unix_gc() queued. */
async function kickGcNoWait(p: Process): Promise<void> {
  const [x, y] = pair(await p.socketpair());
  await p.closeRange(x, y);
}

/** Closes a fresh socketpair: its release runs unix_gc() while sockets are in flight. */
async function kickGc(p: Process): Promise<void> {
  const [x, y] = pair(await p.socketpair());
  await p.close(x);
  await p.close(y);
}

describe("the unix garbage collector (v6.18)", () => {
  it("a socket sent over itself is collected once its last fd is closed, with the file it carries", async () => {
    const { st, fops } = device();
    const { leaks, after } = await inProcess(
      async (p) => {
        const [a, b] = pair(await p.socketpair());
        const fd = await p.open("/dev/d", O_RDWR);
        // a's fd (and /dev/d's) in flight in a's own receive queue: a cycle.
        expect(await p.sendmsgFds(b, [a, fd])).toBe(0);
        expect(unixGcStats().totInflight).toBe(1);
        expect(await p.close(fd)).toBe(0);
        expect(await p.close(a)).toBe(0);
        // b's release runs the collector: a's only reference is its own queue's.
        expect(await p.close(b)).toBe(0);
      },
      (k) => k.registerChrdev("/dev/d", fops),
    );
    expect(after.collected).toBe(1);
    expect(after.totInflight).toBe(0);
    expect(after.vertices).toBe(0);
    expect(after.graphState).toBe(UNIX_GRAPH_NOT_CYCLIC);
    expect(st.releases).toBe(1);
    expect(leaks).toBe(0);
  });

  it("two sockets sent over each other are collected as one SCC", async () => {
    const { leaks, after } = await inProcess(async (p) => {
      const [a1, a2] = pair(await p.socketpair());
      const [b1, b2] = pair(await p.socketpair());
      expect(await p.sendmsgFds(b2, [a1])).toBe(0); // a1 in flight in b1's queue
      expect(await p.sendmsgFds(a2, [b1])).toBe(0); // b1 in flight in a1's queue
      expect(unixGcStats().totInflight).toBe(2);
      for (const x of [a1, b1, a2, b2]) expect(await p.close(x)).toBe(0);
    });
    expect(after.collected).toBe(1);
    expect(after.totInflight).toBe(0);
    expect(leaks).toBe(0);
  });

  it("a socket in flight outside any cycle is not collected and can still be received", async () => {
    const { leaks, after } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair());
      const [c, d] = pair(await p.socketpair());
      expect(await p.sendmsgFds(b, [c])).toBe(0); // c in flight in a's queue; a is not
      expect(await p.close(c)).toBe(0);
      expect(await p.close(d)).toBe(0); // d's release runs the collector
      await p.kernel.quiesce();
      expect(unixGcStats().collected).toBe(0);
      const got = msg(await p.recvmsgFds(a, { nonblock: true }));
      expect(got.fds).toHaveLength(1);
      const file = p.files.peek(got.fds[0]!)!;
      expect(unixGetSocket(file)).not.toBeNull();
      expect(fileCount(file)).toBe(1);
      expect(unixGcStats().totInflight).toBe(0);
      for (const x of [got.fds[0]!, a, b]) expect(await p.close(x)).toBe(0);
    });
    expect(after.collected).toBe(0);
    expect(leaks).toBe(0);
  });

  it("a cycle with an fd still open is not collected; it is once that fd is closed", async () => {
    const { leaks, after } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair());
      expect(await p.sendmsgFds(b, [a])).toBe(0);
      expect(await p.close(b)).toBe(0); // the collector runs; a is still open
      await p.kernel.quiesce();
      expect(unixGcStats().collected).toBe(0);
      expect(unixGcStats().graphState).toBe(UNIX_GRAPH_CYCLIC);
      expect(unixGetSocket(p.files.peek(a)!)!.receiveQueue).toHaveLength(1);
      expect(await p.close(a)).toBe(0);
      await kickGc(p); // the fast walk (the graph is unchanged) finds it dead now
      await p.kernel.quiesce();
      expect(unixGcStats().collected).toBe(1);
    });
    expect(after.collected).toBe(1);
    expect(after.vertices).toBe(0);
    expect(leaks).toBe(0);
  });
});

describe("in-flight limits (too_many_unix_fds(), wait_for_unix_gc())", () => {
  it("a send beyond RLIMIT_NOFILE files in flight is -ETOOMANYREFS and changes nothing", async () => {
    const { leaks } = await inProcess(async (p) => {
      const [a, b] = pair(await p.socketpair());
      expect(await p.setrlimit(RLIMIT_NOFILE, 8)).toBe(0);
      expect(await p.sendmsgFds(a, [a, a, a, a, a])).toBe(0);
      expect(await p.sendmsgFds(a, [b, b, b, b])).toBe(0); // 9 in flight: more than 8
      const file = p.files.peek(a)!;
      const count = fileCount(file);
      expect(await p.sendmsgFds(a, [a])).toBe(-ETOOMANYREFS);
      expect(fileCount(file)).toBe(count);
      expect(unixGcStats().totInflight).toBe(9);
      expect(unixGetSocket(p.files.peek(b)!)!.receiveQueue).toHaveLength(2);
      for (const x of [a, b]) expect(await p.close(x)).toBe(0);
      await kickGc(p); // both are garbage now: only the next collection frees them
    });
    expect(leaks).toBe(0);
  });

  /**
   * A user with UNIX_INFLIGHT_SANE_USER files in flight queues a collection (a socketpair's
   * release) and sends a socket's fd: wait_for_unix_gc() flushes the collection first, so on
   * every schedule it is over when the send returns.
   */
  const saneUserSend: Scenario = async () => {
    const k = Kernel.boot();
    const p = k.spawnProcess("t", async (p) => {
      await p.setrlimit(RLIMIT_NOFILE, 4096);
      const [a, b] = pair(await p.socketpair());
      const many = new Array<number>(SCM_MAX_FD).fill(a);
      for (let i = 0; i < UNIX_INFLIGHT_SANE_USER / SCM_MAX_FD; i++) await p.sendmsgFds(b, many);
      if (unixGcStats().totInflight !== UNIX_INFLIGHT_SANE_USER) throw new Error("not in flight");
      await kickGcNoWait(p); // unix_gc(): gc_in_progress, the work queued
      const before = unixGcStats().inProgress;
      if ((await p.sendmsgFds(b, [b])) !== 0) throw new Error("send failed");
      if (before && unixGcStats().inProgress)
        throw new Error("the send returned while the collection it had to wait for still ran");
      for (const x of [a, b]) await p.close(x);
      await kickGc(p);
    });
    await p.wait();
    await throwOnLeaks(k);
  };

  it("a user with UNIX_INFLIGHT_SANE_USER files in flight waits for a running collection to send a socket", async () => {
    // Without the flush_work(), PCT seed 1 finds a send returning before the collection ends.
    const r = await explore(saneUserSend, { strategy: "pct", schedules: 30, seed: 1 });
    expect(r.firstFailure?.splats.map((x) => x.message) ?? []).toEqual([]);
    expect(r.schedules).toBe(30);
  });
});

/**
 * The race of "af_unix: Give up GC if MSG_PEEK intervened.": an SCC of two sockets, A (closed,
 * in flight in B's queue) and B (open, in flight in A's queue); the release of the pairs' other
 * ends runs the collector. The process peeks B's message (a new fd for A), closes B, and reads
 * the message in A's queue through the peeked fd. If the collector judged A dead before the peek
 * and B after the close, it purges A's queue while that read holds A's head skb.
 */
const peekVsGc: Scenario = async () => {
  const k = Kernel.boot();
  const p = k.spawnProcess("t", async (p) => {
    const [a, a2] = pair(await p.socketpair());
    const [b, b2] = pair(await p.socketpair());
    await p.sendmsgFds(b2, [a]); // A in flight in B's queue
    await p.sendmsgFds(a2, [b]); // B in flight in A's queue
    await p.close(a);
    await p.close(a2);
    await p.close(b2); // unix_gc() queued: the collector runs from here on
    const peeked = await p.recvmsgFds(b, { peek: true, nonblock: true });
    await p.close(b);
    if (typeof peeked === "number") return;
    for (const fd of peeked.fds) {
      const got = await p.recvmsgFds(fd, { nonblock: true });
      if (typeof got !== "number") for (const x of got.fds) await p.close(x);
      await p.close(fd);
    }
  });
  await p.wait();
  await throwOnLeaks(k);
};

describe(UNIX_GC_PEEK_NO_SEQCOUNT.name, () => {
  it("without the seqcount the collector purges the queue of a socket being read (PCT), and replays", async () => {
    // PCT seeds 1-10 find it at schedules 4, 3, 3, 192, 38, 37, 67, 12, 120, 12 (mean 48.8); a
    // DFS with 2 preemptions at its 685th schedule.
    const on = await explore(peekVsGc, {
      strategy: "pct",
      schedules: 3000,
      seed: 1,
      toggles: [UNIX_GC_PEEK_NO_SEQCOUNT.name],
    });
    const f = on.firstFailure as RunResult | null;
    expect(f).not.toBeNull();
    const first = f!.splats[0]!;
    expect(first.kind).toBe("kasan");
    expect(first.message).toMatch(/use-after-free|double-free/);
    expect(first.object).toMatch(/^skbuff_head_cache#/);
    const again = await replay(f!.token, peekVsGc);
    expect(again.splats.map((s) => s.message)).toEqual(f!.splats.map((s) => s.message));
  });

  it("with the seqcount retry (v6.18.35's code) the same program is clean", async () => {
    // Also clean over PCT seed 1 x 3000 and a DFS with 2 preemptions x 2000 (measured once).
    for (const seed of [1, 2]) {
      const pct = await explore(peekVsGc, { strategy: "pct", schedules: 300, seed });
      expect(pct.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
      expect(pct.schedules).toBe(300);
    }
  });
});

/**
 * peekVsGc with a second process whose socketpairs' releases run unix_gc() while the first
 * collection runs: v6.18.35's unix_gc() sets gc_in_progress and re-queues the running work item,
 * whose end then writes gc_in_progress false, so the re-queued walk runs with it false and a
 * peek during it skips unix_peek_fpl()'s seqcount barrier (the window d82ba05263c6 closes).
 * `multiShot`: every KASAN report of the run prints.
 */
function requeuedGcVsPeek(multiShot = false): Scenario {
  return async () => {
    const k = Kernel.boot(undefined, { kasanMultiShot: multiShot });
    const p = k.spawnProcess("t", async (p) => {
      const [a, a2] = pair(await p.socketpair());
      const [b, b2] = pair(await p.socketpair());
      await p.sendmsgFds(b2, [a]); // A in flight in B's queue
      await p.sendmsgFds(a2, [b]); // B in flight in A's queue
      await p.close(a);
      await p.close(a2);
      await p.close(b2);
      const peeked = await p.recvmsgFds(b, { peek: true, nonblock: true });
      await p.close(b);
      if (typeof peeked === "number") return;
      for (const fd of peeked.fds) {
        const got = await p.recvmsgFds(fd, { nonblock: true });
        if (typeof got !== "number") for (const x of got.fds) await p.close(x);
        await p.close(fd);
      }
    });
    const q = k.spawnProcess("kick", async (q) => {
      for (let i = 0; i < 3; i++) await kickGc(q);
    });
    await p.wait();
    await q.wait();
    await throwOnLeaks(k);
  };
}

describe("a reader's unix_del_edges() after the collector's purge (window open)", () => {
  it("is KASAN on the freed scm_fp_list and edge array, and recvmsg() returns", async () => {
    // POS seed 2 reaches it at schedule 599 (the model threw a TypeError out of recvmsg() there,
    // with u->iolock and unix_gc_lock held); earlier finds are the window's purge of the skb.
    const r = await explore(requeuedGcVsPeek(true), {
      strategy: "pos",
      schedules: 1000,
      seed: 2,
      isFailure: (x) => x.splats.some((s) => /unix_del_edge|unexpected/.test(s.message)),
    });
    const f = r.firstFailure as RunResult | null;
    expect(f).not.toBeNull();
    const lines = f!.splats.map((s) => `${s.kind}: ${s.message.split("\n")[0]} [${s.object}]`);
    expect(lines.filter((l) => /unix_del_edges/.test(l))).toEqual([
      "kasan: BUG: KASAN: slab-use-after-free in unix_del_edges [scm_fp_list#2]",
      "kasan: BUG: KASAN: slab-use-after-free in unix_del_edges [unix_edge#2]",
    ]);
    expect(lines.filter((l) => /^(bug|lockdep|sleep|warn)/.test(l))).toEqual([]);
    expect(f!.outcome).toBe("ok");
    const again = await replay(f!.token, requeuedGcVsPeek(true));
    expect(again.splats.map((s) => s.message)).toEqual(f!.splats.map((s) => s.message));
  });
});

describe(UNIX_GC_REQUEUED_NOT_IN_PROGRESS.name, () => {
  it("with every toggle off a re-queued collection purges the SCC under the peeker (POS), and replays", async () => {
    // POS seeds 1-3 find it at schedules 84, 14 and 111.
    const open = await explore(requeuedGcVsPeek(), { strategy: "pos", schedules: 500, seed: 1 });
    const f = open.firstFailure as RunResult | null;
    expect(f).not.toBeNull();
    const first = f!.splats[0]!;
    expect(first.kind).toBe("kasan");
    expect(first.message).toMatch(
      /^BUG: KASAN: slab-use-after-free in (__unix_gc|unix_detach_fds)/,
    );
    expect(first.object).toMatch(/^skbuff_head_cache#/);
    const again = await replay(f!.token, requeuedGcVsPeek());
    expect(again.splats.map((s) => s.message)).toEqual(f!.splats.map((s) => s.message));
  });

  it("with the fix switch (baselineFixes()) the same program is clean", async () => {
    expect(baselineFixes()).toContain(UNIX_GC_REQUEUED_NOT_IN_PROGRESS.name);
    for (const seed of [1, 2, 3]) {
      const pos = await explore(requeuedGcVsPeek(), {
        strategy: "pos",
        schedules: 300,
        seed,
        toggles: baselineFixes(),
      });
      expect(pos.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
      expect(pos.schedules).toBe(300);
    }
  });
});

/**
 * The SCC of fuzzunix's seed 101851 (pos, 30 ops), built with socketpair(), sendmsg() and
 * close(): three in-flight sockets S15, S17, S18 (the first end of three pairs) and the edges
 * 15->17, 17->18, 18->17, 17->15 in that order (S17's edge to S18 before its edge to S15), S15
 * made a vertex first so the full walk starts there; S15 also carries /dev/d's file. Every fd is
 * closed; the pairs' releases queue the collector, the quiesce runs it. Returns the sockets'
 * scc_index after the walk, the collector's stats, the device's releases and kmemleak's caches.
 */
async function sccIndexNotUniform(toggles: readonly string[]) {
  const { st, fops } = device();
  let sccIndex: number[] = [];
  let after = unixGcStats();
  let leaked: string[] = [];
  const r = await new Simulation({ seed: 1, toggles }).run(async () => {
    const k = Kernel.boot();
    k.registerChrdev("/dev/d", fops);
    const p = k.spawnProcess("t", async (p) => {
      const [s15, b15] = pair(await p.socketpair());
      const [s17, b17] = pair(await p.socketpair());
      const [s18, b18] = pair(await p.socketpair());
      const fd = await p.open("/dev/d", O_RDWR);
      const socks = [s15, s17, s18].map((x) => unixGetSocket(p.files.peek(x)!) as UnixSock);
      expect(await p.sendmsgFds(b17, [s15, fd])).toBe(0); // 15->17 (and /dev/d in S17's queue)
      expect(await p.sendmsgFds(b18, [s17])).toBe(0); // 17->18
      expect(await p.sendmsgFds(b17, [s18])).toBe(0); // 18->17
      expect(await p.sendmsgFds(b15, [s17])).toBe(0); // 17->15
      for (const x of [fd, s15, s17, s18, b15, b17, b18]) expect(await p.close(x)).toBe(0);
      await k.quiesce();
      sccIndex = socks.map((u) => (u.vertex as { sccIndex: number } | null)?.sccIndex ?? -1);
      after = unixGcStats();
    });
    await p.wait();
    await k.checkLeaks();
  });
  // kmemleak's reports are the only splats: "unreferenced object <cache>#<n> (size ...)".
  const objects = r.splats.map((s) => /^unreferenced object (\S+)#\d+ /.exec(s.message)?.[1]);
  expect(r.splats.filter((_, i) => objects[i] === undefined).map((s) => s.message)).toEqual([]);
  leaked = [...new Set(objects as string[])].sort();
  expect(r.outcome).toBe("ok");
  return { sccIndex, after, releases: st.releases, leaked };
}

describe(`known window ${UNIX_GC_SCC_INDEX_NOT_UNIFORM.name}`, () => {
  it("v6.18.35's walk leaves one SCC's members with different scc_index: never dead, it leaks", async () => {
    const { sccIndex, after, releases, leaked } = await sccIndexNotUniform([]);
    // DFS from 15: 15 (2) -> 17 (3) -> 18 (4); 18->17 gives 18 3, back in 17 its edge to 15
    // gives 17 2, 15 stays 2 and is the root: {15, 17, 18} with scc_index 2, 2, 3.
    expect(sccIndex).toEqual([2, 2, 3]);
    expect(after.collected).toBe(0);
    expect(after.totInflight).toBe(4); // S15, S17 twice, S18
    expect(after.graphState).toBe(UNIX_GRAPH_CYCLIC);
    expect(releases).toBe(0);
    expect(leaked).toEqual(expect.arrayContaining(["UNIX", "scm_fp_list", "unix_vertex"]));
    expect(leaked.some((c) => /skbuff/.test(c))).toBe(true);
  });

  it("with the fix switch (baselineFixes()) every member gets the root's scc_index: collected", async () => {
    expect(baselineFixes()).toContain(UNIX_GC_SCC_INDEX_NOT_UNIFORM.name);
    const { after, releases, leaked } = await sccIndexNotUniform(baselineFixes());
    expect(after.collected).toBe(1);
    expect(after.totInflight).toBe(0);
    expect(after.vertices).toBe(0);
    expect(releases).toBe(1);
    expect(leaked).toEqual([]);
  });
});

/**
 * The race of known window `unix.gc-edge-before-queue`: thread "send" sends A's fd over A's own
 * pair (into A's queue) while thread "close" closes A and runs the collector (a socketpair's
 * release). If the collection falls between the send's unix_add_edges() and its
 * __skb_queue_tail(), {A} (an edge to itself, file count 1 == out-degree 1) is judged dead with
 * its queue still empty: nothing is collected, the graph is marked not cyclic, and A, B and the
 * skb leak.
 */
const sendVsGc: Scenario = async () => {
  const k = Kernel.boot();
  const p = k.spawnProcess("t", async (p) => {
    const [a, b] = pair(await p.socketpair());
    const t1 = p.spawnThread("send", async () => {
      await p.sendmsgFds(b, [a]);
    });
    const t2 = p.spawnThread("close", async () => {
      await p.close(a);
      await kickGc(p);
    });
    await t1.join();
    await t2.join();
    await p.close(b);
  });
  await p.wait();
  await throwOnLeaks(k);
};

describe(`known window ${UNIX_GC_EDGE_BEFORE_QUEUE.name}`, () => {
  it("v6.18.35: a collection between a send's unix_add_edges() and its queueing leaks the cycle (kmemleak; PCT), and replays", async () => {
    // PCT seeds 1-2 find it at schedules 46 and 228; POS seeds 1-2 at 562 and 14.
    const r = await explore(sendVsGc, { strategy: "pct", schedules: 500, seed: 1 });
    const f = expectCycleLeak(r.firstFailure as RunResult | null);
    const again = await replay(f.token, sendVsGc);
    expect(again.splats.map((s) => s.message)).toEqual(f.splats.map((s) => s.message));
  });

  it("with the fix switch (baselineFixes()): the SCC is deferred until its skb is queued, clean", async () => {
    expect(baselineFixes()).toContain(UNIX_GC_EDGE_BEFORE_QUEUE.name);
    for (const strategy of ["pct", "pos"] as const) {
      for (const seed of [1, 2, 3]) {
        const r = await explore(sendVsGc, {
          strategy,
          schedules: 300,
          seed,
          toggles: baselineFixes(),
        });
        expect(r.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
        expect(r.schedules).toBe(300);
      }
    }
  });
});
