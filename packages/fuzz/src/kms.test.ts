import { driverUnderTest as qxl } from "@primetime/qxl";
import { baselineFixes } from "@primetime/sim";
import { decodeToken } from "@primetime/sim/explore";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { driverUnderTest as vmwgfx } from "@primetime/vmwgfx";
import { describe, expect, it } from "vitest";
import {
  fuzzCampaign,
  fuzzLog,
  fuzzOne,
  fuzzReplay,
  huntToggles,
  stressFuzzUnit,
} from "./campaign.js";
import type { FuzzOptions } from "./fuzz.js";
import {
  kmsFromScenarioName,
  planFromScenarioName,
  planScenarioName,
  privateFromScenarioName,
  socketsFromScenarioName,
} from "./plan.js";
import type { SyscallLogEntry } from "./syscall-log.js";

/** The syscall logs of seeds `first`..`last` (PCT) of a KMS run on `drivers`, each clean. */
async function logs(
  drivers: FuzzOptions["drivers"],
  first: number,
  last: number,
): Promise<SyscallLogEntry[]> {
  const out: SyscallLogEntry[] = [];
  for (let seed = first; seed <= last; seed++) {
    const { log, cls } = await fuzzLog({ drivers, kms: true }, { seed, strategy: "pct" });
    expect(cls, `seed ${seed}`).toMatchObject({ splats: 0, divergences: 0, leaks: 0 });
    out.push(...log);
  }
  return out;
}

/** `server` or `client`, the ioctl's name and its result (the errno or 0), of each KMS call. */
function kmsCalls(log: readonly SyscallLogEntry[]): Set<string> {
  const out = new Set<string>();
  for (const e of log) {
    const m =
      /DRM_IOCTL_(MODE_(?:ADDFB2?|RMFB|CLOSEFB|GETFB2?|DIRTYFB)|GEM_OPEN|PRIME_FD_TO_HANDLE)\b/.exec(
        e.call,
      );
    if (!m || e.result === undefined) continue;
    const who = e.process.startsWith("fuzz-xorg") ? "server" : "client";
    out.add(`${who} ${m[1]} ${e.result!.split(" ")[0]}`);
  }
  return out;
}

describe("fuzz: KMS framebuffers (kms: true)", () => {
  it("scenario names record the option (` +kms`, after every other), and the stress unit fuzz-kms@a+b turns it on", () => {
    expect(planScenarioName(undefined, false, false, true)).toBe("fuzz +kms");
    expect(planScenarioName(undefined, true, true, true)).toBe("fuzz +unix +priv +kms");
    const name = "fuzz plan=30:gem-close+flink +unix+listen +priv +kms";
    expect(planFromScenarioName(name)).toEqual([{ races: 30, raceOps: ["gem-close", "flink"] }]);
    expect(socketsFromScenarioName(name)).toBe("listen");
    expect(privateFromScenarioName(name)).toBe(true);
    expect(kmsFromScenarioName(name)).toBe(true);
    expect(privateFromScenarioName("fuzz +kms")).toBe(false);
    expect(kmsFromScenarioName("fuzz +priv")).toBe(false);
    expect(stressFuzzUnit("fuzz-kms@qxl+vgem")?.options).toMatchObject({
      kms: true,
      processes: [2, 3],
    });
    expect(stressFuzzUnit("fuzz-private@qxl+vgem")?.options.kms).toBeUndefined();
  });

  it("reaches every KMS ioctl on qxl+qxl (seeds 1-50): the display server's framebuffers, and bad arguments get the kernel's errno", async () => {
    const got = kmsCalls(await logs([qxl, qxl], 1, 50));
    const all = [...got].sort().join(", ");
    for (const want of [
      // the compositor: a client's buffer opened by name, a framebuffer of it, removed
      "server GEM_OPEN 0",
      "server MODE_ADDFB2 0",
      "server MODE_CLOSEFB 0",
      "server MODE_RMFB -2",
      "server MODE_GETFB2 -2",
      // clients: their own framebuffers, bad arguments (-EINVAL), unknown ids and handles
      "client MODE_ADDFB2 0",
      "client MODE_ADDFB2 -22",
      "client MODE_ADDFB2 -2",
      "client MODE_RMFB -2",
      "client MODE_CLOSEFB -2",
      "client MODE_CLOSEFB -22",
      "client MODE_GETFB -2",
      "client MODE_GETFB2 -2",
    ])
      expect(all, want).toContain(want);
    // a framebuffer described (GETFB or GETFB2 = 0) to the server and to a client
    expect(all).toMatch(/server MODE_GETFB2? 0/);
    expect(all).toMatch(/client MODE_GETFB2? 0/);
  }, 300_000);

  it("PRIME presents, DIRTYFB and legacy ADDFB (seeds 1-40): the server imports clients' dma-bufs, on their device and across drivers, and makes framebuffers of them", async () => {
    const qq = await logs([qxl, qxl], 1, 40);
    const got = kmsCalls(qq);
    const all = [...got].sort().join(", ");
    for (const want of [
      // the compositor: a dma-buf received, imported, made a framebuffer (ADDFB2, legacy ADDFB)
      "server PRIME_FD_TO_HANDLE 0",
      "server MODE_ADDFB 0",
      // DIRTYFB: qxl's ->dirty, a never-valid id, bad clip arguments
      "server MODE_DIRTYFB 0",
      "server MODE_DIRTYFB -2",
      "server MODE_DIRTYFB -22",
      // clients: a bad (bpp, depth) pair, DIRTYFB from a file that is not the master
      "client MODE_ADDFB -22",
      "client MODE_DIRTYFB -13",
    ])
      expect(all, want).toContain(want);
    // the clients' sendmsg() of their dma-bufs and the server's recvmsg()
    expect(qq.some((e) => e.process.startsWith("fuzz-xorg") && /^recvFd/.test(e.call))).toBe(true);
    // vmwgfx+vgem: vgem buffers imported on vmwgfx (and vmwgfx's on vgem), framebuffers made on
    // vmwgfx, vgem's -EOPNOTSUPP
    const vv = kmsCalls(await logs([vmwgfx, vgem], 1, 20));
    const allv = [...vv].sort().join(", ");
    for (const want of [
      "server PRIME_FD_TO_HANDLE 0",
      "server MODE_ADDFB2 0",
      "server MODE_DIRTYFB -95",
    ])
      expect(allv, want).toContain(want);
  }, 300_000);

  it("on vgem (no DRIVER_MODESET) every KMS ioctl is -EOPNOTSUPP, GETFB2's -EINVAL (seeds 1-20)", async () => {
    const got = kmsCalls(await logs([vgem], 1, 20));
    const kmsOnly = [...got].filter((c) => !c.includes("GEM_OPEN") && !c.includes("PRIME"));
    expect(kmsOnly.length).toBeGreaterThan(0);
    for (const c of kmsOnly) {
      // -EACCES: through a render node (the KMS ioctls are not DRM_RENDER_ALLOW)
      const want = c.includes("GETFB2") ? ["-22", "-13"] : ["-95", "-13"];
      expect(want, c).toContain(c.split(" ")[2]);
    }
  }, 300_000);

  it("a +kms token replays from its scenario name alone; without the option a run issues no KMS ioctl", async () => {
    const opts: FuzzOptions = { drivers: [qxl, qxl], kms: true };
    const one = await fuzzOne(opts, 5, "pct");
    expect(one.failed).toBe(false);
    expect(decodeToken(one.run.token).scenario).toBe("fuzz +kms");
    const again = await fuzzReplay({ drivers: [qxl, qxl] }, one.run.token);
    expect(again.outcome).toBe("ok");
    expect(again.traceHash).toBe(one.run.traceHash);
    expect(again.steps).toBe(one.run.steps);
    const plain = await fuzzLog({ drivers: [qxl, qxl] }, { seed: 5, strategy: "pct" });
    expect(plain.log.some((e) => /DRM_IOCTL_MODE_(ADDFB2|RMFB|CLOSEFB|GETFB)/.test(e.call))).toBe(
      false,
    );
    expect(plain.log.some((e) => e.process.startsWith("fuzz-xorg"))).toBe(false);
    expect(decodeToken(plain.run.token).scenario).toBe("fuzz");
  }, 120_000);

  it("with every toggle off finds nothing: 100 schedules on each of qxl+qxl, vmwgfx+qxl, qxl+vgem and vmwgfx+vgem", async () => {
    for (const drivers of [
      [qxl, qxl],
      [vmwgfx, qxl],
      [qxl, vgem],
      [vmwgfx, vgem],
    ]) {
      const st = await fuzzCampaign({ fuzz: { drivers, kms: true }, schedules: 100 });
      expect(st.failures, drivers.map((d) => d.name).join("+")).toEqual([]);
      expect(st).toMatchObject({ splats: 0, exceptions: 0, leaks: 0, divergences: 0, hangs: 0 });
    }
  }, 600_000);

  it("finds gem.fb-without-handle-ref (qxl+qxl, p/r, first seed 1: within ceil(ln(1000) x 28.7) = 199 schedules), and the same schedules are clean without it", async () => {
    // README.md: first finds 5, 64 and 17 from the first seeds 1, 100001 and 200001 (qxl+qxl;
    // before the PRIME presents, DIRTYFB and legacy ADDFB joined the KMS draw: 11, 4 and 35):
    // the display server's framebuffer holds a buffer it opened by name; once every handle is
    // closed the toggle's kernel drops the name under the framebuffer, and a GEM_OPEN of it
    // gets -ENOENT where the model (the v6.16 handle reference) expects the object.
    const fuzz: FuzzOptions = { drivers: [qxl, qxl], kms: true };
    const [h] = await huntToggles(fuzz, {
      budget: 199,
      toggles: ["gem.fb-without-handle-ref"],
      firstSeed: 1,
    });
    expect(h?.found).toBe(true);
    expect(h?.schedules).toBe(5);
    expect(h?.first).toMatch(
      /GEM_OPEN\(name \d+\) = -2 while framebuffer \d+ of the display server held its object/,
    );
    const clean = await fuzzCampaign({ fuzz, schedules: 5 });
    expect(clean.failures).toEqual([]);
    // The toggle's schedule itself, replayed with the baseline's toggles, is clean.
    const on = await fuzzOne(fuzz, 5, "pct", [...baselineFixes(), "gem.fb-without-handle-ref"]);
    const off = await fuzzOne(fuzz, 5, "pct");
    expect([on.failed, off.failed]).toEqual([true, false]);
  }, 300_000);
});
