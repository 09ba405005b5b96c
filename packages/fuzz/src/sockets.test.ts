import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  AF_UNIX,
  EAFNOSUPPORT,
  EAGAIN,
  EBADF,
  ECONNRESET,
  EFAULT,
  EINVAL,
  ENOMEM,
  ENOTCONN,
  ENOTSOCK,
  ENOTTY,
  EPIPE,
  EPROTONOSUPPORT,
  ESOCKTNOSUPPORT,
  ETOOMANYREFS,
  MSG_CTRUNC,
  SCM_MAX_FD,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  unixGcStats,
} from "@primetime/kernel";
import { driverUnderTest as qxl } from "@primetime/qxl";
import { baselineFixes, Simulation } from "@primetime/sim";
import { decodeToken } from "@primetime/sim/explore";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { driverUnderTest as vmwgfx } from "@primetime/vmwgfx";
import { describe, expect, it } from "vitest";
import { classifyRun, fuzzCampaign, fuzzLog, fuzzOne, fuzzReplay } from "./campaign.js";
import { checkFdUses, drmIoctlFits, FdTableModel, type FdUse, type SockModel } from "./fd-model.js";
import { fuzzScenario } from "./fuzz.js";
import { planFromScenarioName, planScenarioName, socketsFromScenarioName } from "./plan.js";
import {
  type RecvKnowledge,
  recvmsgVerdict,
  type SendKnowledge,
  sendmsgVerdict,
  socketCallFits,
  socketpairExpected,
} from "./socket-model.js";
import type { SyscallLogEntry } from "./syscall-log.js";

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TSX = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url));
const fuzzCli = (...args: string[]) =>
  spawnSync(TSX, ["--conditions=@primetime/source", "src/cli.ts", ...args], {
    cwd: PACKAGE_DIR,
    encoding: "utf8",
    timeout: 120_000,
  });

const sockets = { drivers: [vgem], sockets: true };

describe("the socket syscalls' reference model (socket-model.ts)", () => {
  it("socketpair(): the kernel's errno for each bad argument, in __sys_socketpair()'s order", () => {
    const S = SOCK_STREAM;
    expect(socketpairExpected(AF_UNIX, S, 0)).toBe("pair");
    expect(socketpairExpected(AF_UNIX, S | SOCK_CLOEXEC | SOCK_NONBLOCK, AF_UNIX)).toBe("pair");
    expect(socketpairExpected(AF_UNIX, S | (1 << 8), 0)).toBe(-EINVAL);
    // Flags first, even before a bad family.
    expect(socketpairExpected(-1, S | (1 << 20), 0)).toBe(-EINVAL);
    expect(socketpairExpected(-1, S, 0)).toBe(-EAFNOSUPPORT);
    expect(socketpairExpected(1000, 11, 2)).toBe(-EAFNOSUPPORT);
    // SOCK_MAX is SOCK_PACKET + 1 = 11 (include/linux/net.h): the type's range before the protocol.
    expect(socketpairExpected(AF_UNIX, 11, 2)).toBe(-EINVAL);
    expect(socketpairExpected(AF_UNIX, 15, 0)).toBe(-EINVAL);
    // SOCK_PACKET (10) is in range: unix_create() refuses it.
    expect(socketpairExpected(AF_UNIX, 10, 0)).toBe(-ESOCKTNOSUPPORT);
    // A family inside [0, NPROTO) that is not registered: after the type's range check.
    expect(socketpairExpected(2, 11, 0)).toBe(-EINVAL);
    expect(socketpairExpected(45, 15, 2)).toBe(-EINVAL);
    expect(socketpairExpected(46, 15, 2)).toBe(-EAFNOSUPPORT);
    expect(socketpairExpected(2, S, 0)).toBe(-EAFNOSUPPORT);
    expect(socketpairExpected(2, 0, 2)).toBe(-EAFNOSUPPORT);
    expect(socketpairExpected(AF_UNIX, 0, 2)).toBe(-EPROTONOSUPPORT);
    expect(socketpairExpected(AF_UNIX, S, -1)).toBe(-EPROTONOSUPPORT);
    expect(socketpairExpected(AF_UNIX, 0, 0)).toBe(-ESOCKTNOSUPPORT);
    expect(socketpairExpected(AF_UNIX, 4, AF_UNIX)).toBe(-ESOCKTNOSUPPORT);
  });

  const send = (k: Partial<SendKnowledge>): SendKnowledge => ({
    sockSure: true,
    count: 1,
    neverOpen: false,
    allSure: true,
    peerAlive: true,
    sentBefore: 0,
    rlimit: 1024,
    allocMayFail: false,
    ...k,
  });

  it("sendmsg(): accepts the kernel's answers and rejects a wrong errno", () => {
    // On this thread's socket with its peer held, passing open fds: 0 and nothing else.
    expect(sendmsgVerdict(0, send({}))).toBeNull();
    for (const wrong of [-EBADF, -ENOTSOCK, -EPIPE, -ENOTCONN, -ETOOMANYREFS, -EINVAL, -ENOMEM])
      expect(sendmsgVerdict(wrong, send({})), String(wrong)).not.toBeNull();
    // The peer's file may have been released: -EPIPE.
    expect(sendmsgVerdict(-EPIPE, send({ peerAlive: false }))).toBeNull();
    // SCM_MAX_FD + 1 fds: -EINVAL, and only that (scm_fp_copy() counts before any fget()).
    expect(sendmsgVerdict(-EINVAL, send({ count: SCM_MAX_FD + 1 }))).toBeNull();
    expect(sendmsgVerdict(0, send({ count: SCM_MAX_FD + 1 }))).not.toBeNull();
    expect(sendmsgVerdict(-EBADF, send({ count: SCM_MAX_FD + 1, neverOpen: true }))).not.toBeNull();
    expect(sendmsgVerdict(0, send({ count: SCM_MAX_FD }))).toBeNull();
    // A never-open fd among them: -EBADF, never 0 or -EPIPE.
    expect(sendmsgVerdict(-EBADF, send({ neverOpen: true, count: 2 }))).toBeNull();
    expect(sendmsgVerdict(0, send({ neverOpen: true, count: 2 }))).not.toBeNull();
    expect(sendmsgVerdict(-EPIPE, send({ neverOpen: true, peerAlive: false }))).not.toBeNull();
    // An fd a sibling may close meanwhile: -EBADF too.
    expect(sendmsgVerdict(-EBADF, send({ allSure: false }))).toBeNull();
    // -ETOOMANYREFS only once more files than RLIMIT_NOFILE may be in flight.
    expect(sendmsgVerdict(-ETOOMANYREFS, send({ sentBefore: 1024 }))).not.toBeNull();
    expect(sendmsgVerdict(-ETOOMANYREFS, send({ sentBefore: 1025 }))).toBeNull();
    expect(sendmsgVerdict(-ETOOMANYREFS, send({ sentBefore: 2000, count: 0 }))).not.toBeNull();
    // -ENOMEM only when an allocation may have failed.
    expect(sendmsgVerdict(-ENOMEM, send({ allocMayFail: true }))).toBeNull();
    // An fd that may not be a socket (received, or not one): -EBADF, -ENOTSOCK; the fd model
    // then checks the object (socketCallFits()).
    expect(sendmsgVerdict(-ENOTSOCK, send({ sockSure: false }))).toBeNull();
    expect(sendmsgVerdict(-ENOTTY, send({ sockSure: false }))).not.toBeNull();
  });

  const recv = (k: Partial<RecvKnowledge>): RecvKnowledge => ({
    sockSure: true,
    maxFds: SCM_MAX_FD,
    nonblock: true,
    allocMayFail: false,
    ...k,
  });

  it("recvmsg(): accepts the kernel's answers and rejects a wrong errno or message", () => {
    expect(recvmsgVerdict(-EAGAIN, recv({}))).toBeNull();
    expect(recvmsgVerdict({ fds: [], msgFlags: 0 }, recv({}))).toBeNull();
    expect(recvmsgVerdict({ fds: [4, 5], msgFlags: 0 }, recv({}))).toBeNull();
    // Room for 1: one fd and MSG_CTRUNC (scm_detach_fds()).
    expect(recvmsgVerdict({ fds: [4], msgFlags: MSG_CTRUNC }, recv({ maxFds: 1 }))).toBeNull();
    expect(recvmsgVerdict({ fds: [], msgFlags: MSG_CTRUNC }, recv({ maxFds: 0 }))).toBeNull();
    // Wrong: more fds than room, MSG_CTRUNC with room left (no install failed), other flags,
    // an fd twice, errnos of the wrong kind.
    expect(recvmsgVerdict({ fds: [4, 5], msgFlags: 0 }, recv({ maxFds: 1 }))).not.toBeNull();
    expect(recvmsgVerdict({ fds: [4], msgFlags: MSG_CTRUNC }, recv({}))).not.toBeNull();
    expect(
      recvmsgVerdict({ fds: [4], msgFlags: MSG_CTRUNC }, recv({ allocMayFail: true })),
    ).toBeNull();
    expect(recvmsgVerdict({ fds: [4], msgFlags: 2 }, recv({}))).not.toBeNull();
    expect(recvmsgVerdict({ fds: [4, 4], msgFlags: 0 }, recv({}))).not.toBeNull();
    for (const wrong of [-EBADF, -ENOTSOCK, -EPIPE, -EINVAL, -EFAULT])
      expect(recvmsgVerdict(wrong, recv({})), String(wrong)).not.toBeNull();
    expect(recvmsgVerdict(-EAGAIN, recv({ nonblock: false }))).not.toBeNull();
    expect(recvmsgVerdict(-ENOTSOCK, recv({ sockSure: false }))).toBeNull();
  });

  it("recvmsg(): -ECONNRESET once, and only where the peer may have been released (sk_err)", () => {
    // unix_release_sock() of a peer with unread data (or of an embryo with its listener) sets
    // sk_err; the next read on an empty queue gets it (sock_error() before RCV_SHUTDOWN), then
    // end of file.
    expect(recvmsgVerdict(-ECONNRESET, recv({}))).toBeNull();
    expect(recvmsgVerdict(-ECONNRESET, recv({ conn: "maybe", sockSure: false }))).toBeNull();
    expect(recvmsgVerdict({ fds: [], msgFlags: 0 }, recv({ resetSeen: true }))).toBeNull();
    // Not while the thread holds the peer's fd, not twice, not on an unconnected socket.
    expect(recvmsgVerdict(-ECONNRESET, recv({ peerAlive: true }))).not.toBeNull();
    expect(recvmsgVerdict(-ECONNRESET, recv({ resetSeen: true }))).not.toBeNull();
    expect(recvmsgVerdict(-ECONNRESET, recv({ conn: "no" }))).not.toBeNull();
    // A sender gets -EPIPE (SEND_SHUTDOWN first), never -ECONNRESET here.
    expect(sendmsgVerdict(-ECONNRESET, send({ peerAlive: false }))).not.toBeNull();
  });

  it("fd model: a received fd names what a message on its socket carried; -ENOTSOCK only from a non-socket", () => {
    const t = new FdTableModel();
    const a: SockModel = { id: 0, peer: null };
    const b: SockModel = { id: 1, peer: a };
    a.peer = b;
    t.installed(3, { kind: "socket", sock: a }, 1, 2);
    t.installed(4, { kind: "socket", sock: b }, 1, 2);
    // A receive in [5, 6] installed fd 5: a message carried fd 3 (the socket) or a dma-buf.
    t.installedVia(5, () => [...t.candidates(3, 1, 2)!, { kind: "dmabuf", buf: 7 }], 5, 6);
    expect(t.candidates(5, 7, 8)!.map((o) => o.kind)).toEqual(["socket", "dmabuf"]);
    // A resolution that reaches itself again is unknown (nothing checked through it).
    t.installedVia(6, () => t.candidates(6, 5, 6), 5, 6);
    expect(t.candidates(6, 7, 8)).toBeNull();
    const out: string[] = [];
    const use = (fd: number, result: number): FdUse => ({
      table: t,
      fd,
      start: 7,
      ret: 8,
      result,
      what: `sendmsg = ${result}`,
      fits: socketCallFits(result),
    });
    // fd 3 only held a socket: -ENOTSOCK from it is a divergence, 0 and -EPIPE are not.
    checkFdUses([use(3, 0), use(3, -EPIPE), use(3, -EBADF), use(6, -ENOTSOCK)], -EBADF, (w) =>
      out.push(w),
    );
    expect(out).toEqual([]);
    checkFdUses([use(3, -ENOTSOCK)], -EBADF, (w) => out.push(w));
    expect(out).toEqual([
      "sendmsg = -88 on fd 3: a result no file installed at fd 3 could give (it held a socket meanwhile)",
    ]);
    // fd 5 may be the socket or the dma-buf: either answer.
    out.length = 0;
    checkFdUses([use(5, -ENOTSOCK), use(5, 0)], -EBADF, (w) => out.push(w));
    expect(out).toEqual([]);
    // A DRM ioctl on a socket is -ENOTTY, as on any file that is not DRM's.
    checkFdUses([{ ...use(3, -ENOTTY), fits: drmIoctlFits(-ENOTTY, -ENOTTY) }], -EBADF, (w) =>
      out.push(w),
    );
    expect(out).toEqual([]);
  });
});

/** One run of the workload with socket operations, and what the unix garbage collector did. */
async function socketRun(seed: number, strategy: "pct" | "random" = "pct") {
  const sim = new Simulation({
    seed,
    strategy: { kind: strategy },
    toggles: baselineFixes(),
    scenario: planScenarioName(undefined, true),
    stepLimit: 400_000,
  });
  let collected = 0;
  const log: SyscallLogEntry[] = [];
  const run = await sim.run(async (s) => {
    await fuzzScenario({ ...sockets, syscallLog: log })(s);
    collected = unixGcStats().collected;
  });
  return { run, cls: classifyRun(run), collected, log };
}

describe("fuzzing with unix sockets", () => {
  it("issues socketpair, sendmsg and recvmsg with valid and invalid arguments and gets the kernel's answers (seeds 1-60)", async () => {
    const seen = new Map<string, number>();
    const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
    let collected = 0;
    let collectedRuns = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const r = await socketRun(seed, seed % 2 === 0 ? "pct" : "random");
      expect(
        r.run.splats.map((s) => s.message),
        `seed ${seed}`,
      ).toEqual([]);
      expect(r.run.outcome).toBe("ok");
      collected += r.collected;
      if (r.collected > 0) collectedRuns++;
      for (const e of r.log) {
        if (e.process.startsWith("fuzz-gc")) continue;
        const res = e.result ?? "";
        if (e.call.startsWith("socketpair("))
          count(`socketpair ${res.startsWith("[") ? "pair" : res}`);
        else if (e.call.startsWith("sendmsgFds(")) {
          count(`sendmsg ${res}`);
          if (/SCM_RIGHTS \[\d+ x 254\]/.test(e.call)) count(`sendmsg 254 ${res}`);
          if (/SCM_RIGHTS \[\d+ x 253\]/.test(e.call)) count(`sendmsg 253 ${res}`);
        } else if (e.call.startsWith("recvmsgFds(")) {
          const peek = e.call.includes("MSG_PEEK");
          if (res.startsWith("{fds: [")) {
            const n = res.startsWith("{fds: []") ? 0 : 1;
            count(`recvmsg${peek ? " peek" : ""} ${n > 0 ? "fds" : "none"}`);
            if (res.includes("MSG_CTRUNC")) count("recvmsg MSG_CTRUNC");
          } else count(`recvmsg ${res}`);
        } else if (e.call.startsWith("sendFd(") && e.task.includes("fuzz")) count("sendFd");
      }
    }
    const n = (k: string) => seen.get(k) ?? 0;
    // socketpair: pairs, and each errno of the bad arguments.
    expect(n("socketpair pair")).toBeGreaterThan(50);
    for (const e of [-EINVAL, -EAFNOSUPPORT, -EPROTONOSUPPORT, -ESOCKTNOSUPPORT])
      expect(n(`socketpair ${e}`), `socketpair ${e}`).toBeGreaterThan(0);
    // sendmsg: sent, -EBADF (never-open fds), -ENOTSOCK (DRM and dma-buf fds), -EINVAL (over
    // SCM_MAX_FD), SCM_MAX_FD fds of one file sent.
    for (const k of ["sendmsg 0", `sendmsg ${-EBADF}`, `sendmsg ${-ENOTSOCK}`, "sendmsg 254 -22"])
      expect(n(k), k).toBeGreaterThan(0);
    expect(n("sendmsg 253 0")).toBeGreaterThan(0);
    // recvmsg: messages with fds, peeked ones too, truncated ones, empty queues, hostile options.
    for (const k of [
      "recvmsg fds",
      "recvmsg peek fds",
      "recvmsg none",
      "recvmsg MSG_CTRUNC",
      `recvmsg ${-EAGAIN}`,
      `recvmsg ${-EFAULT}`,
      `recvmsg ${-EINVAL}`,
    ])
      expect(n(k), k).toBeGreaterThan(0);
    // The collector took in-flight cycles (sockets whose only references were in flight).
    expect(collectedRuns).toBeGreaterThan(5);
    expect(collected).toBeGreaterThan(10);
  }, 300_000);

  it("with every toggle off (fix switches on) finds nothing: 300 schedules on vgem", async () => {
    const st = await fuzzCampaign({ fuzz: sockets, schedules: 300 });
    expect(st.failures).toEqual([]);
    expect(st).toMatchObject({ splats: 0, exceptions: 0, leaks: 0, divergences: 0, hangs: 0 });
  }, 300_000);

  it("with every toggle off finds nothing on qxl, vmwgfx, qxl+vgem and vmwgfx+vgem (200 schedules each)", async () => {
    for (const drivers of [[qxl], [vmwgfx], [qxl, vgem], [vmwgfx, vgem]]) {
      const st = await fuzzCampaign({ fuzz: { drivers, sockets: true }, schedules: 200 });
      expect(st.failures, drivers.map((d) => d.name).join("+")).toEqual([]);
      expect(st).toMatchObject({ splats: 0, exceptions: 0, leaks: 0, divergences: 0, hangs: 0 });
    }
  }, 600_000);

  it("a run's token records the socket operations and replays step for step; without them a run draws as before", async () => {
    expect(planScenarioName(undefined, true)).toBe("fuzz +unix");
    const plan = planFromScenarioName("fuzz plan=30:gem-close+flink 0:* +unix");
    expect(plan).toEqual([
      { races: 30, raceOps: ["gem-close", "flink"] },
      { races: 0, raceOps: [] },
    ]);
    expect(planScenarioName(plan, true)).toBe("fuzz plan=30:gem-close+flink 0:* +unix");
    expect(socketsFromScenarioName("fuzz plan=30:* +unix")).toBe(true);
    expect(socketsFromScenarioName("fuzz plan=30:*")).toBe(false);
    expect(socketsFromScenarioName("fuzz")).toBe(false);
    const one = await fuzzOne(sockets, 5, "pct");
    expect(decodeToken(one.run.token).scenario).toBe("fuzz +unix");
    // fuzzReplay() takes the option from the token alone.
    const again = await fuzzReplay({ drivers: [vgem] }, one.run.token);
    expect(again.outcome).toBe("ok");
    expect(again.traceHash).toBe(one.run.traceHash);
    expect(again.steps).toBe(one.run.steps);
    // The same seed without sockets: the run of before (no socket call at all).
    const plain = await fuzzLog({ drivers: [vgem] }, { seed: 5, strategy: "pct" });
    expect(plain.log.some((e) => /^(socketpair|sendmsgFds|recvmsgFds)\(/.test(e.call))).toBe(false);
    expect(decodeToken(plain.run.token).scenario).toBe("fuzz");
  }, 120_000);

  it("cli log prints the socket calls readably; log --token replays a socket run's token", async () => {
    const ok = fuzzCli("log", "3", "--sockets", "on", "--strategies", "pct");
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    const lines = ok.stdout.trim().split("\n");
    expect(
      lines.some((l) =>
        /: socketpair\(AF_UNIX, SOCK_STREAM(\|SOCK_\w+)*, \d\) = \[\d+, \d+\]$/.test(l),
      ),
    ).toBe(true);
    expect(lines.some((l) => /: sendmsgFds\(\d+, SCM_RIGHTS \[/.test(l))).toBe(true);
    expect(lines.some((l) => /: recvmsgFds\(\d+, (MSG_\w+\|?)+(, room \d)?\) = /.test(l))).toBe(
      true,
    );
    // The collection's trigger after every process exited.
    expect(lines.some((l) => /fuzz-gc\[\d+\]: close\(\d\) = 0$/.test(l))).toBe(true);
    const tail = lines.at(-1)!;
    expect(tail).toMatch(/^\d+ syscalls; outcome ok, \d+ steps, trace [0-9a-f]{8}; splats 0/);
    const bad = fuzzCli("log", "3", "--sockets", "maybe");
    expect(bad.status).toBe(2);
    const one = await fuzzOne(sockets, 3, "pct");
    const replayed = fuzzCli("log", "--token", one.run.token);
    expect(replayed.stderr).toBe("");
    expect(replayed.status).toBe(0);
    expect(replayed.stdout).toContain(`${one.run.steps} steps, trace ${one.run.traceHash}`);
    expect(replayed.stdout.trim().split("\n").slice(0, -1)).toEqual(lines.slice(0, -1));
  }, 120_000);
});
