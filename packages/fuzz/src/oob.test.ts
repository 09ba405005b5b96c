import {
  EAGAIN,
  EBADF,
  ECONNRESET,
  EINVAL,
  ENOTSOCK,
  EOPNOTSUPP,
  EPIPE,
  MSG_CTRUNC,
  MSG_OOB,
} from "@primetime/kernel";
import { baselineFixes } from "@primetime/sim";
import { decodeToken } from "@primetime/sim/explore";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { describe, expect, it } from "vitest";
import { fuzzCampaign, fuzzLog, fuzzOne, fuzzReplay, huntToggles } from "./campaign.js";
import type { FuzzOptions } from "./fuzz.js";
import { drmReadFromScenarioName, oobFromScenarioName, planScenarioName } from "./plan.js";
import {
  atmarkVerdict,
  OOB_BYTE,
  oobRecvVerdict,
  oobSendVerdict,
  type SendKnowledge,
  sizedRecvVerdict,
} from "./socket-model.js";

const SEND: SendKnowledge = {
  sockSure: true,
  count: 0,
  neverOpen: false,
  allSure: true,
  peerAlive: true,
  sentBefore: 0,
  rlimit: 1024,
  allocMayFail: false,
};
const RECV = { sockSure: true, maxFds: 253, nonblock: true, allocMayFail: false, peerAlive: true };
const bytes = (...b: number[]) => Uint8Array.from(b);

describe("fuzz: MSG_OOB on sockets (oob: true)", () => {
  it("the scenario name records the option (' +oob', after every other suffix)", () => {
    expect(planScenarioName(undefined, true, false, false, false, true)).toBe("fuzz +unix +oob");
    const all = planScenarioName(undefined, true, true, true, true, true);
    expect(all).toBe("fuzz +unix +priv +kms +drmread +oob");
    expect(oobFromScenarioName(all)).toBe(true);
    expect(drmReadFromScenarioName(all)).toBe(true);
    expect(oobFromScenarioName("fuzz +unix +drmread")).toBe(false);
    expect(oobFromScenarioName("stress +oob")).toBe(false);
  });

  it("the reference model refuses what 6.18.35 never returns", () => {
    // sendmsg(MSG_OOB): -EOPNOTSUPP exactly for no bytes; the count, or one less after the data.
    expect(oobSendVerdict(-EOPNOTSUPP, 0, SEND)).toBeNull();
    expect(oobSendVerdict(0, 0, SEND)).toMatch(/-EOPNOTSUPP/);
    expect(oobSendVerdict(-EOPNOTSUPP, 2, SEND)).toMatch(/with 2 bytes/);
    expect(oobSendVerdict(3, 3, SEND)).toBeNull();
    expect(oobSendVerdict(2, 3, SEND)).toMatch(/peer's fd held/);
    expect(oobSendVerdict(2, 3, { ...SEND, peerAlive: false })).toBeNull();
    expect(oobSendVerdict(0, 3, SEND)).toMatch(/0 bytes of 3/);
    expect(oobSendVerdict(-EPIPE, 1, SEND)).toMatch(/peer's fd is held/);
    expect(oobSendVerdict(-ENOTSOCK, 1, SEND)).toMatch(/this thread's socket/);
    // recv(MSG_OOB): -EINVAL or one OOB byte with MSG_OOB and no fds; never -EAGAIN or a reset.
    const oob = { fds: [], msgFlags: MSG_OOB, data: bytes(OOB_BYTE | 5) };
    expect(oobRecvVerdict(oob, RECV)).toBeNull();
    expect(oobRecvVerdict(-EINVAL, RECV)).toBeNull();
    expect(oobRecvVerdict(-EAGAIN, RECV)).toMatch(/not an errno/);
    expect(oobRecvVerdict(-ECONNRESET, RECV)).toMatch(/not an errno/);
    expect(oobRecvVerdict({ ...oob, msgFlags: 0 }, RECV)).toMatch(/not MSG_OOB/);
    expect(oobRecvVerdict({ ...oob, fds: [7] }, RECV)).toMatch(/fds with the OOB byte/);
    expect(oobRecvVerdict({ ...oob, data: bytes(5) }, RECV)).toMatch(/never sent with MSG_OOB/);
    expect(oobRecvVerdict({ ...oob, data: bytes(OOB_BYTE, 1) }, RECV)).toMatch(/2 bytes/);
    expect(oobRecvVerdict(-EBADF, { ...RECV, sockSure: false })).toBeNull();
    // A read of a byte count: at most that many, no MSG_OOB, no fds without a byte.
    expect(sizedRecvVerdict({ fds: [], msgFlags: 0, data: bytes(1, 2) }, 2, RECV)).toBeNull();
    expect(sizedRecvVerdict({ fds: [], msgFlags: 0, data: bytes(1, 2, 3) }, 2, RECV)).toMatch(
      /room for 2/,
    );
    expect(sizedRecvVerdict({ fds: [3], msgFlags: 0, data: bytes() }, 2, RECV)).toMatch(
      /with no byte/,
    );
    expect(sizedRecvVerdict({ fds: [], msgFlags: MSG_OOB, data: bytes(1) }, 2, RECV)).toMatch(
      /msg_flags/,
    );
    expect(
      sizedRecvVerdict({ fds: [3], msgFlags: MSG_CTRUNC, data: bytes(1) }, 2, RECV),
    ).not.toBeNull();
    // SIOCATMARK on a socket: 0 with 0 or 1.
    expect(atmarkVerdict(0, 1, true)).toBeNull();
    expect(atmarkVerdict(0, 2, true)).toMatch(/answer 2/);
    expect(atmarkVerdict(-25, undefined, true)).toMatch(/= -25/);
    expect(atmarkVerdict(-25, undefined, false)).toBeNull();
  });

  it("a +unix +oob token replays from its scenario name alone; its runs send and take OOB bytes and ask SIOCATMARK", async () => {
    const opts: FuzzOptions = { drivers: [vgem, vgem], sockets: true, oob: true };
    const one = await fuzzOne(opts, 3, "pct");
    expect(one.failed).toBe(false);
    expect(decodeToken(one.run.token).scenario).toBe("fuzz +unix +oob");
    const again = await fuzzReplay({ drivers: [vgem, vgem] }, one.run.token);
    expect(again.outcome).toBe("ok");
    expect(again.traceHash).toBe(one.run.traceHash);
    const calls = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) {
      const { log, cls } = await fuzzLog({ ...opts, ops: 30 }, { seed, strategy: "pct" });
      expect(cls, `seed ${seed}`).toMatchObject({ splats: 0, divergences: 0, leaks: 0 });
      for (const e of log) {
        if (/^sendmsgFds\(.*oob: true/.test(e.call)) calls.add(`oob send ${e.result}`);
        if (/^recvmsgFds\(.*MSG_OOB/.test(e.call))
          calls.add(`oob recv ${String(e.result).replace(/^\{.*MSG_OOB.*$/, "byte")}`);
        if (/^ioctl\(.*0x8905/.test(e.call))
          calls.add(`SIOCATMARK ${String(e.result).split(" ")[0]}`);
      }
    }
    const seen = [...calls];
    expect(seen.some((c) => /^oob send [1-3]$/.test(c))).toBe(true);
    expect(seen).toContain(`oob send -${EOPNOTSUPP}`);
    expect(seen).toContain(`oob recv -${EINVAL}`);
    expect(seen).toContain("oob recv byte");
    expect(seen).toContain("SIOCATMARK 0");
  }, 300_000);

  it("finds unix.oob-consecutive-consumed within 14 schedules from first seed 1 (vgem, p/r): KASAN in unix_stream_read_actor, replayed from its token; those schedules are clean without it", async () => {
    const fuzz: FuzzOptions = { drivers: [vgem], sockets: true, oob: true };
    const toggle = "unix.oob-consecutive-consumed";
    const [h] = await huntToggles(fuzz, { budget: 14, toggles: [toggle] });
    expect(h).toMatchObject({ found: true, schedules: 14 });
    expect(h?.first).toMatch(/^BUG: KASAN: slab-use-after-free in unix_stream_read_actor/);
    const again = await fuzzReplay({ drivers: [vgem] }, h!.token!, [toggle, ...baselineFixes()]);
    expect(again.splats[0]?.message).toBe(h?.first);
    const clean = await fuzzCampaign({ fuzz, schedules: 14 });
    expect(clean.failures).toEqual([]);
  }, 300_000);

  it("with every toggle off finds nothing: 150 schedules on vgem+vgem", async () => {
    const st = await fuzzCampaign({
      fuzz: { drivers: [vgem, vgem], sockets: true, oob: true },
      schedules: 150,
    });
    expect(st.failures).toEqual([]);
    expect(st).toMatchObject({ splats: 0, exceptions: 0, leaks: 0, divergences: 0, hangs: 0 });
  }, 600_000);
});
