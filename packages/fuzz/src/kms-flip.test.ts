/**
 * The compositor's flips (FuzzOptions.kms "flip", kms-flip.ts): qxl devices registered with
 * CRTCs, the display server's SETCRTC and PAGE_FLIP of its own and its clients' framebuffers with
 * their events read back, and the reference model's verdicts on them.
 */

import {
  QXL_DISABLE_PRIMARY_SHADOW_CLEARED,
  QXL_PRIMARY_DESTROY_TWO_TAILS,
  QXL_PRIMARY_UPDATE_SHADOW_PUT,
  QXL_SHADOW_CLEANUP_VS_PREPARE,
  driverUnderTest as qxl,
} from "@primetime/qxl";
import { baselineFixes } from "@primetime/sim";
import { decodeToken } from "@primetime/sim/explore";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { describe, expect, it } from "vitest";
import { fuzzCampaign, fuzzLog, fuzzOne, fuzzReplay } from "./campaign.js";
import type { FuzzOptions } from "./fuzz.js";
import { kmsFromScenarioName, planScenarioName, privateFromScenarioName } from "./plan.js";
import type { SyscallLogEntry } from "./syscall-log.js";

/** The syscall logs of seeds `first`..`last` (PCT) of a flip run on `drivers`, each clean. */
async function logs(
  drivers: FuzzOptions["drivers"],
  first: number,
  last: number,
): Promise<SyscallLogEntry[]> {
  const out: SyscallLogEntry[] = [];
  for (let seed = first; seed <= last; seed++) {
    const { log, cls } = await fuzzLog({ drivers, kms: "flip" }, { seed, strategy: "pct" });
    expect(cls, `seed ${seed}`).toMatchObject({ splats: 0, divergences: 0, leaks: 0, hang: false });
    out.push(...log);
  }
  return out;
}

/** `server` or `client`, the call and its result, of each SETCRTC, PAGE_FLIP and server read. */
function flipCalls(log: readonly SyscallLogEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of log) {
    const who = e.process.startsWith("fuzz-xorg") ? "server" : "client";
    const m = /DRM_IOCTL_MODE_(SETCRTC|PAGE_FLIP|GETRESOURCES)\b/.exec(e.call);
    let k: string | null = null;
    if (m && e.result !== undefined) k = `${who} ${m[1]} ${e.result.split(" ")[0]}`;
    else if (who === "server" && e.call.startsWith("read(") && e.result !== undefined)
      k = `server read ${e.result.split(" ")[0]}`;
    if (k) out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

describe("fuzz: the compositor's flips on qxl CRTCs (kms: 'flip')", () => {
  it("scenario names record it (` +kms+flip`), and it reads back as 'flip'", () => {
    expect(planScenarioName(undefined, false, false, "flip")).toBe("fuzz +kms+flip");
    expect(planScenarioName(undefined, false, true, "flip", true)).toBe(
      "fuzz +priv +kms+flip +drmread",
    );
    expect(kmsFromScenarioName("fuzz +priv +kms+flip +drmread")).toBe("flip");
    expect(privateFromScenarioName("fuzz +priv +kms+flip")).toBe(true);
    expect(kmsFromScenarioName("fuzz +kms")).toBe(true);
    expect(kmsFromScenarioName("fuzz +kms+flip")).toBe("flip");
  });

  it("on qxl+qxl (seeds 1-40): SETCRTC and PAGE_FLIP of the server's and the clients' framebuffers succeed, flip events are read back, clients get -EACCES, and the model's errnos hold (-EBUSY, -ENOSPC)", async () => {
    const got = flipCalls(await logs([qxl, qxl], 1, 40));
    const all = [...got.keys()].sort().join(", ");
    for (const want of [
      "server GETRESOURCES 0",
      "server SETCRTC 0",
      "server SETCRTC -28",
      "server PAGE_FLIP 0",
      "server PAGE_FLIP -16",
      "server read 32",
      "client SETCRTC -13",
      "client PAGE_FLIP -13",
    ])
      expect(got.has(want), `${want} among ${all}`).toBe(true);
  }, 120_000);

  it("a +kms+flip token replays from its scenario name alone", async () => {
    const opts: FuzzOptions = { drivers: [qxl, vgem], kms: "flip" };
    const one = await fuzzOne(opts, 5, "pct");
    expect(one.failed).toBe(false);
    expect(decodeToken(one.run.token).scenario).toBe("fuzz +kms+flip");
    const again = await fuzzReplay({ drivers: [qxl, vgem] }, one.run.token);
    expect(again.outcome).toBe("ok");
    expect(again.traceHash).toBe(one.run.traceHash);
    expect(again.steps).toBe(one.run.steps);
  }, 120_000);

  it("with every toggle off finds nothing: 60 schedules on each of qxl+vgem and qxl+qxl", async () => {
    for (const drivers of [
      [qxl, vgem],
      [qxl, qxl],
    ]) {
      const r = await fuzzCampaign({ fuzz: { drivers, kms: "flip" }, schedules: 60 });
      expect(r.failedSchedules, JSON.stringify(r.failures.slice(0, 2))).toBe(0);
    }
  }, 120_000);

  it("finds the known window qxl.disable-primary-shadow-cleared with its fix switch off (qxl+vgem, p/r, first seed 1: at seed 45)", async () => {
    const name = QXL_DISABLE_PRIMARY_SHADOW_CLEARED.name;
    const toggles = baselineFixes().filter((t) => t !== name);
    const r = await fuzzCampaign({
      fuzz: { drivers: [qxl, vgem], kms: "flip" },
      schedules: 45,
      toggles,
    });
    expect(r.failures.map((f) => [f.seed, f.first])).toEqual([
      [45, "qxl: GEM state leaked: objects 0 -> 1"],
    ]);
  }, 120_000);

  it("finds the known window qxl.primary-update-shadow-put with its fix switch off (qxl+qxl, seed 485 pct: KASAN in qxl_io_create_primary()), and the same seed is clean with it on", async () => {
    const opts: FuzzOptions = { drivers: [qxl, qxl], kms: "flip" };
    const name = QXL_PRIMARY_UPDATE_SHADOW_PUT.name;
    const open = await fuzzOne(
      opts,
      485,
      "pct",
      baselineFixes().filter((t) => t !== name),
    );
    expect(open.run.splats[0]?.message ?? "").toMatch(
      /^BUG: KASAN: slab-use-after-free in qxl_io_create_primary\n/,
    );
    const fixed = await fuzzOne(opts, 485, "pct");
    expect(fixed.failed, JSON.stringify(fixed.cls)).toBe(false);
  }, 120_000);

  it("finds the known window qxl.shadow-cleanup-vs-prepare with its fix switch off (qxl+qxl, seed 580 random: ttm_bo_unpin() WARN, refcount underflow), and the same seed is clean with it on", async () => {
    const opts: FuzzOptions = { drivers: [qxl, qxl], kms: "flip" };
    const name = QXL_SHADOW_CLEANUP_VS_PREPARE.name;
    // The open run also leaves qxl.primary-destroy-two-tails' newer switch off, keeping the
    // schedule it was found in: its mutex is a point in every primary switch, and with it on the
    // window (about 1 schedule in 1,000-3,000) was not found from first seed 1 within 3,000
    // schedules, nor from 100001 or 200001 within 1,000 (README.md); with both off, seeds 1-1000
    // fail only at 580. The fixed run has every switch on.
    const open = await fuzzOne(
      opts,
      580,
      "random",
      baselineFixes().filter((t) => t !== name && t !== QXL_PRIMARY_DESTROY_TWO_TAILS.name),
    );
    expect(open.run.splats.slice(0, 2).map((s) => s.message)).toEqual([
      "ttm_bo_unpin(qxl_bo#13): WARN_ON_ONCE(!bo->pin_count)",
      "refcount_t: underflow; use-after-free.",
    ]);
    const fixed = await fuzzOne(opts, 580, "random");
    expect(fixed.failed, JSON.stringify(fixed.cls)).toBe(false);
  }, 120_000);

  it("finds the known window qxl.primary-destroy-two-tails with its fix switch off (qxl+qxl --private on, seed 795 pct: a flip's tail and another CRTC's tails both destroy the primary, NULL pointer oops in qxl_io_destroy_primary()), and the same seed is clean with it on", async () => {
    // KNOWN-WINDOWS.md: the first failure of `campaign 1000 1 --kms flip --private on` on
    // qxl+qxl; the bo both tails make the primary is a client's QXL_ALLOC buffer.
    const opts: FuzzOptions = { drivers: [qxl, qxl], kms: "flip", private: true };
    const name = QXL_PRIMARY_DESTROY_TWO_TAILS.name;
    const open = await fuzzOne(
      opts,
      795,
      "pct",
      baselineFixes().filter((t) => t !== name),
    );
    expect(open.run.splats[0]?.message).toBe(
      "BUG: kernel NULL pointer dereference in qxl_io_destroy_primary(): primary_bo is NULL",
    );
    const fixed = await fuzzOne(opts, 795, "pct");
    expect(fixed.failed, JSON.stringify(fixed.cls)).toBe(false);
  }, 120_000);

  // The qxl shadow windows hunted from the first seeds 1, 100001 and 200001 (p/r, every other
  // fix switch on; README.md): qxl.disable-primary-shadow-cleared 45, 107, 78 (qxl+vgem);
  // qxl.primary-update-shadow-put 485, none in 1,000 twice; qxl.shadow-cleanup-vs-prepare none
  // (3,000 from 1, 1,000 from the others); qxl.primary-destroy-two-tails 795, none in 1,000, 58
  // with --private on, none in 1,000, 268, 259 without (qxl+qxl). What is pinned below: the
  // first two's finds from seed 1 (above), the first's from each first seed within ceil(ln(1000)
  // x mean), and the two-tails window's finds from 200001 with and without private ioctls.
  it("finds qxl.disable-primary-shadow-cleared from the first seeds 100001 and 200001 too (qxl+vgem, p/r: at 107 and 78, within 530 schedules each)", async () => {
    const name = QXL_DISABLE_PRIMARY_SHADOW_CLEARED.name;
    const toggles = baselineFixes().filter((t) => t !== name);
    const budget = Math.ceil(((45 + 107 + 78) / 3) * Math.log(1000));
    expect(budget).toBe(530);
    for (const firstSeed of [100001, 200001]) {
      const r = await fuzzCampaign({
        fuzz: { drivers: [qxl, vgem], kms: "flip" },
        schedules: budget,
        firstSeed,
        toggles,
        stopAtFirst: true,
      });
      expect(r.failures[0]?.first, `from ${firstSeed}`).toBe(
        "qxl: GEM state leaked: objects 0 -> 1",
      );
    }
  }, 120_000);

  it("finds qxl.primary-destroy-two-tails from first seed 200001 with and without private ioctls (qxl+qxl, p/r: at 200058 with --private on; at 200259 without, where both tails switch to a new dumb shadow)", async () => {
    const name = QXL_PRIMARY_DESTROY_TWO_TAILS.name;
    const toggles = baselineFixes().filter((t) => t !== name);
    const found: [boolean, number | undefined, string | undefined][] = [];
    for (const [priv, schedules] of [
      [true, 58],
      [false, 259],
    ] as const) {
      const r = await fuzzCampaign({
        fuzz: { drivers: [qxl, qxl], kms: "flip", private: priv },
        schedules,
        firstSeed: 200001,
        toggles,
        stopAtFirst: true,
      });
      found.push([priv, r.failures[0]?.seed, r.failures[0]?.first]);
    }
    const oops =
      "BUG: kernel NULL pointer dereference in qxl_io_destroy_primary(): primary_bo is NULL";
    expect(found).toEqual([
      [true, 200058, oops],
      [false, 200259, oops],
    ]);
  }, 120_000);

  it("shuts a device with CRTCs down at the end of a run as qxl_pci_remove() does (drm_atomic_helper_shutdown()): a framebuffer CLOSEFB left on a plane is freed, no leak (qxl+qxl, seed 278 random)", async () => {
    const r = await fuzzOne({ drivers: [qxl, qxl], kms: "flip" }, 278, "random");
    expect(r.failed, JSON.stringify(r.run.splats.slice(0, 2))).toBe(false);
  }, 120_000);
});
