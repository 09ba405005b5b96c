/**
 * The fuzzer's listening sockets (`sockets: "listen"`, `cli --sockets listen`, token
 * `fuzz +unix+listen`): the reference model of socket(2), bind(2), listen(2), connect(2) and
 * accept4(2) (socket-model.ts, read in 6.18.35's net/socket.c and net/unix/af_unix.c), the
 * fuzzer issuing them with the kernel's answers, clean campaigns, and tokens: a new one replays
 * from its scenario name, old ones (with and without `+unix`) replay as before.
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  AF_UNIX,
  EADDRINUSE,
  EAFNOSUPPORT,
  EAGAIN,
  EBADF,
  ECONNREFUSED,
  EFAULT,
  EINVAL,
  EISCONN,
  ENOENT,
  ENOTCONN,
  ENOTSOCK,
  EPROTONOSUPPORT,
  ESOCKTNOSUPPORT,
  SCM_MAX_FD,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
} from "@primetime/kernel";
import { driverUnderTest as qxl } from "@primetime/qxl";
import { baselineFixes, Simulation } from "@primetime/sim";
import { decodeToken } from "@primetime/sim/explore";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { driverUnderTest as vmwgfx } from "@primetime/vmwgfx";
import { describe, expect, it } from "vitest";
import { fuzzCampaign, fuzzLog, fuzzOne, fuzzReplay } from "./campaign.js";
import { type FuzzOptions, fuzzScenario } from "./fuzz.js";
import { planFromScenarioName, planScenarioName, socketsFromScenarioName } from "./plan.js";
import {
  acceptExpected,
  addrErrno,
  bindExpected,
  connectExpected,
  INRANGE_FAMILIES,
  listenExpected,
  type RecvKnowledge,
  recvmsgVerdict,
  type SendKnowledge,
  SOCK_PACKET,
  sendmsgVerdict,
  socketExpected,
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

const listen = { drivers: [vgem], sockets: "listen" as const };
const closed = { state: "close", bound: false } as const;
const bound = { state: "close", bound: true } as const;
const listening = { state: "listen", bound: true } as const;
const est = { state: "est", bound: false } as const;

describe("the listening sockets' reference model (socket-model.ts)", () => {
  it("socket(): the kernel's errno for each bad argument, SOCK_PACKET and in-range families too", () => {
    const S = SOCK_STREAM;
    expect(socketExpected(AF_UNIX, S | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)).toBe("fd");
    expect(socketExpected(AF_UNIX, S, AF_UNIX)).toBe("fd");
    // __sys_socket_create(): flags first, even with a bad family.
    expect(socketExpected(-1, S | (1 << 20), 0)).toBe(-EINVAL);
    // __sock_create(): the family's range, then the type's, then the family lookup.
    expect(socketExpected(1000, 15, 0)).toBe(-EAFNOSUPPORT);
    expect(socketExpected(2, 15, 0)).toBe(-EINVAL);
    for (const f of INRANGE_FAMILIES)
      expect(socketExpected(f, S, 0), `family ${f}`).toBe(-EAFNOSUPPORT);
    expect(socketExpected(2, SOCK_PACKET, 0)).toBe(-EAFNOSUPPORT);
    // unix_create(): the protocol, then the type (SOCK_PACKET is below SOCK_MAX: refused here).
    expect(socketExpected(AF_UNIX, SOCK_PACKET, 2)).toBe(-EPROTONOSUPPORT);
    expect(socketExpected(AF_UNIX, SOCK_PACKET, 0)).toBe(-ESOCKTNOSUPPORT);
    expect(socketExpected(AF_UNIX, 0, 0)).toBe(-ESOCKTNOSUPPORT);
  });

  it("bind(): the address's errno first, then -EINVAL when bound, then -EADDRINUSE", () => {
    expect(addrErrno("fault", "bind")).toBe(-EFAULT);
    for (const k of ["len-long", "len-sun", "len-short", "family"] as const)
      expect(bindExpected(k, bound, "bound"), k).toEqual([-EINVAL]);
    expect(bindExpected("fault", closed, "free")).toEqual([-EFAULT]);
    // A bare sun_family autobinds: 0, bound already or not.
    expect(bindExpected("auto", closed, "bound")).toEqual([0]);
    expect(bindExpected("auto", bound, "free")).toEqual([0]);
    // unix_bind_abstract(): u->addr before the table.
    expect(bindExpected("name", bound, "bound")).toEqual([-EINVAL]);
    expect(bindExpected("name", closed, "bound")).toEqual([-EADDRINUSE]);
    expect(bindExpected("name", closed, "free")).toEqual([0]);
    expect(bindExpected("name", est, "free")).toEqual([0]);
    expect(bindExpected("name", closed, "unknown")).toEqual([0, -EADDRINUSE]);
    expect(bindExpected("name", null, "free")).toEqual([0, -EINVAL, -EADDRINUSE]);
  });

  it("listen(): -EINVAL unbound or connected, else 0", () => {
    expect(listenExpected(closed)).toEqual([-EINVAL]);
    expect(listenExpected({ state: "est", bound: true })).toEqual([-EINVAL]);
    expect(listenExpected(bound)).toEqual([0]);
    expect(listenExpected(listening)).toEqual([0]);
    expect(listenExpected(null)).toEqual([0, -EINVAL]);
  });

  it("connect(): address, then the listener's checks, then the socket's state", () => {
    const none = { kind: "none" } as const;
    const room = { kind: "listener", listening: true, full: false } as const;
    const full = { kind: "listener", listening: true, full: true } as const;
    const idle = { kind: "listener", listening: false, full: false } as const;
    expect(connectExpected("fault", est, room)).toEqual([-EFAULT]);
    expect(connectExpected("auto", closed, room)).toEqual([-EINVAL]);
    expect(connectExpected("len-long", closed, room)).toEqual([-EINVAL]);
    expect(connectExpected("path", est, room)).toEqual([-ENOENT]);
    // unix_find_other() and the listener come before the socket's own state.
    expect(connectExpected("name", est, none)).toEqual([-ECONNREFUSED]);
    expect(connectExpected("name", listening, idle)).toEqual([-ECONNREFUSED]);
    expect(connectExpected("name", est, full)).toEqual([-EAGAIN]);
    expect(connectExpected("name", closed, room)).toEqual([0]);
    expect(connectExpected("name", est, room)).toEqual([-EISCONN]);
    expect(connectExpected("name", listening, room)).toEqual([-EINVAL]);
    expect(connectExpected("name", null, room)).toEqual([0, -EISCONN, -EINVAL]);
    expect(connectExpected("name", closed, { kind: "unknown" })).toEqual([
      -ECONNREFUSED,
      -EAGAIN,
      0,
    ]);
  });

  it("accept4(): bad flags, then not listening, then an embryo or -EAGAIN", () => {
    expect(acceptExpected(true, listening, 1)).toEqual([-EINVAL]);
    expect(acceptExpected(false, est, 0)).toEqual([-EINVAL]);
    expect(acceptExpected(false, bound, null)).toEqual([-EINVAL]);
    expect(acceptExpected(false, listening, 2)).toEqual(["fd"]);
    expect(acceptExpected(false, listening, 0)).toEqual([-EAGAIN]);
    expect(acceptExpected(false, listening, null)).toEqual(["fd", -EAGAIN]);
  });

  it("sendmsg() and recvmsg() on a socket that is not connected: -ENOTCONN and -EINVAL", () => {
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
    expect(sendmsgVerdict(-ENOTCONN, send({ conn: "no" }))).toBeNull();
    expect(sendmsgVerdict(0, send({ conn: "no" }))).not.toBeNull();
    expect(sendmsgVerdict(-ENOTCONN, send({}))).not.toBeNull();
    expect(sendmsgVerdict(-ENOTCONN, send({ sockSure: false, conn: "maybe" }))).toBeNull();
    expect(sendmsgVerdict(0, send({ conn: "maybe" }))).toBeNull();
    // scm_send()'s checks come first.
    expect(sendmsgVerdict(-EINVAL, send({ conn: "no", count: SCM_MAX_FD + 1 }))).toBeNull();
    expect(sendmsgVerdict(-EBADF, send({ conn: "no", neverOpen: true }))).toBeNull();
    const recv = (k: Partial<RecvKnowledge>): RecvKnowledge => ({
      sockSure: true,
      maxFds: SCM_MAX_FD,
      nonblock: true,
      allocMayFail: false,
      ...k,
    });
    expect(recvmsgVerdict(-EINVAL, recv({ conn: "no" }))).toBeNull();
    expect(recvmsgVerdict(-EAGAIN, recv({ conn: "no" }))).not.toBeNull();
    expect(recvmsgVerdict({ fds: [], msgFlags: 0 }, recv({ conn: "no" }))).not.toBeNull();
    expect(recvmsgVerdict(-EINVAL, recv({ conn: "maybe", sockSure: false }))).toBeNull();
    expect(recvmsgVerdict(-EINVAL, recv({}))).not.toBeNull();
    expect(recvmsgVerdict(-ENOTSOCK, recv({ conn: "no" }))).not.toBeNull();
  });
});

/** One run with listening sockets, its syscall log. */
async function listenRun(seed: number, strategy: "pct" | "random", ops = 30) {
  const sim = new Simulation({
    seed,
    strategy: { kind: strategy },
    toggles: baselineFixes(),
    scenario: planScenarioName(undefined, "listen"),
    stepLimit: 600_000,
  });
  const log: SyscallLogEntry[] = [];
  const run = await sim.run(async (s) => {
    await fuzzScenario({ ...listen, ops, syscallLog: log })(s);
  });
  return { run, log };
}

describe("fuzzing with listening sockets", () => {
  it("issues socket, bind, listen, connect and accept4 with valid and invalid arguments and gets the kernel's answers (seeds 1-40)", async () => {
    const seen = new Map<string, number>();
    const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
    for (let seed = 1; seed <= 40; seed++) {
      const r = await listenRun(seed, seed % 2 === 0 ? "pct" : "random");
      expect(
        r.run.splats.map((s) => s.message),
        `seed ${seed}`,
      ).toEqual([]);
      expect(r.run.outcome, `seed ${seed}`).toBe("ok");
      for (const e of r.log) {
        const m = /^(openSocket|bind|listen|connect|accept|sendmsgFds|recvmsgFds)\(/.exec(e.call);
        if (!m) continue;
        const res = e.result ?? "";
        const fd = (m[1] === "openSocket" || m[1] === "accept") && /^\d+$/.test(res);
        count(`${m[1]} ${fd ? "fd" : res}`);
      }
    }
    const n = (k: string) => seen.get(k) ?? 0;
    for (const k of [
      "openSocket fd",
      `openSocket ${-EINVAL}`,
      `openSocket ${-EAFNOSUPPORT}`,
      `openSocket ${-ESOCKTNOSUPPORT}`,
      "bind 0",
      `bind ${-EINVAL}`,
      `bind ${-EFAULT}`,
      `bind ${-EADDRINUSE}`,
      `bind ${-EBADF}`,
      `bind ${-ENOTSOCK}`,
      "listen 0",
      `listen ${-EINVAL}`,
      "connect 0",
      `connect ${-ECONNREFUSED}`,
      `connect ${-ENOENT}`,
      `connect ${-EINVAL}`,
      `connect ${-EFAULT}`,
      `connect ${-EISCONN}`,
      "accept fd",
      `accept ${-EAGAIN}`,
      `accept ${-EINVAL}`,
      `accept ${-EBADF}`,
      `sendmsgFds ${-ENOTCONN}`,
      `recvmsgFds ${-EINVAL}`,
    ])
      expect(n(k), k).toBeGreaterThan(0);
  }, 300_000);

  it("with every toggle off (fix switches on) finds nothing: 200 schedules on vgem, 60 on each of qxl+vmwgfx and vmwgfx+vmwgfx", async () => {
    for (const [drivers, schedules] of [
      [[vgem], 200],
      [[qxl, vmwgfx], 60],
      [[vmwgfx, vmwgfx], 60],
    ] as const) {
      const st = await fuzzCampaign({
        fuzz: { drivers: [...drivers], sockets: "listen" },
        schedules,
        strategies: ["portfolio"],
      });
      expect(st.failures, drivers.map((d) => d.name).join("+")).toEqual([]);
      expect(st).toMatchObject({ splats: 0, exceptions: 0, leaks: 0, divergences: 0, hangs: 0 });
    }
  }, 600_000);

  it("a run's token records the listening sockets and replays; old tokens replay as before", async () => {
    expect(planScenarioName(undefined, "listen")).toBe("fuzz +unix+listen");
    expect(socketsFromScenarioName("fuzz +unix+listen")).toBe("listen");
    expect(socketsFromScenarioName("fuzz plan=30:* +unix+listen")).toBe("listen");
    expect(socketsFromScenarioName("fuzz +unix")).toBe(true);
    expect(planFromScenarioName("fuzz plan=30:gem-close+flink +unix+listen")).toEqual([
      { races: 30, raceOps: ["gem-close", "flink"] },
    ]);
    const one = await fuzzOne(listen, 5, "pct");
    expect(decodeToken(one.run.token).scenario).toBe("fuzz +unix+listen");
    const again = await fuzzReplay({ drivers: [vgem] }, one.run.token);
    expect(again.outcome).toBe("ok");
    expect(again.traceHash).toBe(one.run.traceHash);
    expect(again.steps).toBe(one.run.steps);
    // The runs of before this option, step for step (pinned on main before it: 6 Dec 2026).
    const pinned: [FuzzOptions, number, "pct" | "random", number, string][] = [
      [{ drivers: [vgem], sockets: true }, 5, "pct", 3432, "5dee1a52"],
      [{ drivers: [vgem] }, 5, "pct", 2707, "d95686b7"],
      [{ drivers: [qxl, vgem], sockets: true }, 7, "random", 2251, "dfcd3d8c"],
    ];
    for (const [opts, seed, strategy, steps, trace] of pinned) {
      const r = await fuzzOne(opts, seed, strategy);
      expect(r.run.steps, `${JSON.stringify(opts.sockets)} ${seed}`).toBe(steps);
      expect(r.run.traceHash).toBe(trace);
      const back = await fuzzReplay({ drivers: opts.drivers }, r.run.token);
      expect(back.traceHash).toBe(trace);
    }
    // The old token itself, as main printed it (with the toggles it recorded: the baseline of a
    // process that had not loaded vmwgfx): it replays without the option.
    const replayedOld = await fuzzReplay(
      { drivers: [vgem] },
      OLD_UNIX_TOKEN,
      decodeToken(OLD_UNIX_TOKEN).toggles,
    );
    expect(replayedOld.steps).toBe(3432);
    expect(replayedOld.traceHash).toBe("5dee1a52");
    // A "+unix" run makes no listening-socket call.
    const plain = await fuzzLog({ drivers: [vgem], sockets: true }, { seed: 5, strategy: "pct" });
    expect(plain.log.some((e) => /^(openSocket|bind|listen|connect|accept)\(/.test(e.call))).toBe(
      false,
    );
  }, 180_000);

  it("cli log --sockets listen prints the calls readably; log --token replays the run", async () => {
    const ok = fuzzCli("log", "3", "--sockets", "listen", "--strategies", "pct");
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    const lines = ok.stdout.trim().split("\n");
    expect(
      lines.some((l) => /: openSocket\(AF_UNIX, SOCK_STREAM(\|SOCK_\w+)*, \d\) = \d+$/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => /: bind\(\d+, \{AF_UNIX, "\\0fz\d+\.0"\}, 8\) = 0$/.test(l))).toBe(
      true,
    );
    expect(lines.some((l) => /: listen\(\d+, [12]\) = 0$/.test(l))).toBe(true);
    const one = await fuzzOne(listen, 3, "pct");
    const replayed = fuzzCli("log", "--token", one.run.token);
    expect(replayed.stderr).toBe("");
    expect(replayed.status).toBe(0);
    expect(replayed.stdout.trim().split("\n").slice(0, -1)).toEqual(lines.slice(0, -1));
    expect(fuzzCli("log", "3", "--sockets", "accept").status).toBe(2);
  }, 120_000);
});

/** `fuzzOne({ drivers: [vgem], sockets: true }, 5, "pct")`'s token on main before this option. */
const OLD_UNIX_TOKEN =
  "pt1.zZfdcttUEMf3v6svW44dp2kmTRNoUhg6LcdQCpdcMDDTm7yE65zYnjpSKtkkzRVPwhWPADM8B0_BHa_ArGTJGjdJHbUe-E3G2rO7Z7Vnz5cCcf_e--WP3b9-__Mft3k6u7p69GwWjS-bh0N71huM-tHQmlE_OplYE9mLQryySbzz5nLSm7cHie1PrZnY_ut9VSe2f24Sm9rkZ2suxtNRPJuawfRyNzOOo6E5n6UjE8UmsYORHbw-Si9M-jYa9BI7sf3UmnQ8jPqTsm9iT_cKl7lpaKcmjrJUHmjKveHA2JOhNa_saZxY82ZmZ3avtJy9St7GufLETPpT-6gwJXaujeKpGUfmPImHiU3Tg8IhHQzMODqxl5nHLBqfxsnZb5-AGUyg-S8TWPSXAFLyhzAyWE1A5qmNEiImfpdd2noiCAgL75DwnAgCFgEYIi7cBQT23NqASvFzklxo0kJ5T8V9IZSNJx6FQJnBC9KRCJFHDa82gOd5_Ji8fMjfaLm0wI5k5QtAxAiCgFta6GvqtipP8XxDM2Zm0ZLWxqEGGgtAVIpSap86FGrmRfuxQ9JY4ssGHF0xy_o22vg6135PWmAsXL7LqoBsqQk1m81mYWF3Oc5H4qtyEE4FAgVODQil-BKsYwNRGIahc0wkIEG2acRtwWutFeb1xhd3vfFbrdbdSi-1Juw9Man62PfJcTZzy7YeiPM3_qiTrCdlfkiKv0EMd2NtrJj8D9nhon9CHeosIJB0asOLvgcOodM5JuryrV0ePsChB2BZ3872RFUteoZV2i80V_WC67BXDGL5WUSQBaTXV20IpfgZBblw5FP4ridD_Prv-Sk_7xjiEjvdbrdbP9YHgJfZNQ-fyCXAXdNrmNYV2deVrnvP9333U10t7mFAjfwmP_Iq937GB9yza-WesknAZgHE3_wv0Ax0R20x89a1yLf6FQiP9CPGB10z3e-bNVTl5QCr7t6y332lLY12PVhqdiSqNBwDmh-_DwupV_koqEG2KFbUrhBnm7GdA_a214b0UExvqHfinTnW21SIfbATSJBFYHJ3mHdu5xY7UGnQin642Y-rttvzunsB6lDsIv23LFfc4HgoFNxkq0W2uj6y5_-I-zkHz7749V8";
