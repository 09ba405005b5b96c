/**
 * The known upstream window qxl.ring-push-no-recheck (toggles.ts, KNOWN-WINDOWS.md):
 * qxl_ring_push() tests for a full ring once (`if`), so two pushers woken for one free slot both
 * push and the second overwrites the oldest entry the device has not consumed. The device reads
 * by index (SPICE_RING_CONS_ITEM): the overwritten command is lost and the slot's new command is
 * read twice. What follows is the model's own doing, not asserted into it: the lost command's
 * release never comes back (its fence never signals: TTM's delayed delete of its buffer hangs in
 * qxl_fence_wait()), and the twice-read command's release id comes back twice
 * (qxl_release_from_id_locked(): DRM_ERROR "failed to find id in release_idr"; or, when a new
 * release reused the id in between, the collector frees that live release under its submitter:
 * KASAN at the submitter's next access, in qxl_release_fence_buffer_objects() or in
 * qxl_release_map(), then the oops of the NULLed release_bo). When the lost release keeps the
 * buffers it names (the collector stopped at the unfound id and dropped the release chain after
 * it), no delayed delete waits: the run ends without a hang and kmemleak reports the releases
 * and their buffers at unload (qxl_device_fini() waits for them 1 s only).
 */

import { readFileSync } from "node:fs";
import { isErr, setKasanMultiShot } from "@primetime/kernel";
import { baselineFixes, formatSplat, type RunResult } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { qxlPushCommandRingRelease } from "./qxl-cmd.js";
import { QXL_CMD_DRAW } from "./qxl-dev.js";
import {
  QXL_RELEASE_DRAWABLE,
  qxlAllocReleaseReserved,
  qxlReleaseFree,
  qxlReleaseMap,
} from "./qxl-release.js";
import { closeFd, openQxl, type QxlMachine, runProcess, runQxl } from "./test-machine.js";
import {
  isKnownRingPushHang,
  isKnownRingPushReleaseUaf,
  isKnownRingPushUnloadLeak,
  ringPushVsFullRing,
} from "./test-scenarios.js";
import { QXL_RING_PUSH_NO_RECHECK } from "./toggles.js";

const text = (r: RunResult | null) =>
  r ? `${r.outcome}\n${r.splats.map((s) => formatSplat(s)).join("\n")}` : "none";

/**
 * Three processes, four EXECBUFFERs each, on a spice-worker device with a one-entry command ring.
 * POS (seed 5): PCT (depth 3) and the random scheduler reach two pushers waiting at once but
 * not the interleaving of their two wake-ups (both checking for room before either pushes) in
 * 200 schedules; POS reaches it in 27 of 200 (23 hangs, 1 use-after-free, 3 leaks at unload).
 * Re-pin after a schedule change: run this test, take the counts, the first hang's schedule and
 * its token from the failure, and update them here, in the test's name and in KNOWN-WINDOWS.md.
 */
const POS = { strategy: "pos", schedules: 200, seed: 5 } as const;
const SCENARIO = "qxl/ring-push-vs-full-ring";

describe("qxl command ring: two pushers woken for one slot (toggles off)", () => {
  it("window open: the lost command's hang in 23 of 200 POS schedules (the first at 1), a reused id's use-after-free in 1, a leak at unload in 3, nothing else; replays from KNOWN-WINDOWS.md's token", async () => {
    let n = 0;
    let first: RunResult | null = null;
    let firstLeak: RunResult | null = null;
    let firstAt = 0;
    let hangs = 0;
    let uafs = 0;
    let leaks = 0;
    const res = await explore(ringPushVsFullRing(3, 4), {
      ...POS,
      scenario: SCENARIO,
      stopOnFailure: false,
      isFailure: (r) => r.outcome !== "ok" || r.splats.length > 0,
      onRun: (r) => {
        n++;
        if (r.outcome === "ok" && r.splats.length === 0) return;
        if (isKnownRingPushReleaseUaf(r)) {
          // KASAN reports the first later access of the freed release (the boot's only KASAN
          // report), then the NULLed release_bo oopses (the task dies): in the push after
          // qxl_release_fence_buffer_objects(), in qxl_bo_kmap_atomic_page() after
          // qxl_release_map()
          const inMap = r.splats[0]!.message.startsWith(
            "BUG: KASAN: slab-use-after-free in qxl_release_map\n",
          );
          const oops = r.splats.findIndex((s) => s.kind === "bug");
          expect(oops, text(r)).toBeGreaterThan(0);
          expect(
            r.splats.slice(0, oops).every((s) => s.kind === "kasan"),
            text(r),
          ).toBe(true);
          expect(r.splats[oops]!.message, text(r)).toMatch(
            inMap
              ? /^BUG: kernel NULL pointer dereference in qxl_bo_kmap_atomic_page\(\)/
              : /^BUG: kernel NULL pointer dereference in qxl_bo_physical_address\(\)/,
          );
          uafs++;
          return;
        }
        if (isKnownRingPushUnloadLeak(r)) {
          leaks++;
          if (!firstLeak) firstLeak = r;
          return;
        }
        expect(isKnownRingPushHang(r), text(r)).toBe(true);
        hangs++;
        if (!first) {
          first = r;
          firstAt = n;
        }
      },
    });
    expect(res.schedules).toBe(POS.schedules);
    expect([hangs, uafs, leaks]).toEqual([23, 1, 3]);
    expect(firstAt).toBe(1);
    const found = first as RunResult | null;
    expect(found).not.toBeNull();
    // Replayed, the driver's state shows why: every command was consumed and handed back (12
    // pushes, 12 hand-backs), yet a release is left (the overwritten one, never executed) and
    // the garbage collector met an id it had already freed (the command read twice).
    let m: QxlMachine | undefined;
    const again = await replay(
      found!.token,
      ringPushVsFullRing(3, 4, (x) => {
        m = x;
      }),
      { scenario: SCENARIO },
    );
    expect(again.traceHash).toBe(found!.traceHash);
    expect(isKnownRingPushHang(again), text(again)).toBe(true);
    const qdev = m!.qxl.qdev;
    const ring = qdev.hw.ram.cmdRing;
    expect([ring.prod, ring.cons, qdev.hw.commandsConsumed, qdev.hw.releasesPushed]).toEqual([
      12, 12, 12, 12,
    ]);
    expect(qdev.releaseCount).toBe(1);
    expect(qdev.releaseIdr.isEmpty()).toBe(false);
    expect(qdev.drmErrors).toEqual(["failed to find id in release_idr"]);
    expect(qdev.hw.guestBugs).toEqual([]);
    // The first leak, replayed: every command pushed, consumed and handed back, yet releases
    // are left after unload's 1 s wait, and the collector met an id it had already freed.
    const leak = firstLeak as RunResult | null;
    expect(leak).not.toBeNull();
    let lm: QxlMachine | undefined;
    const leakAgain = await replay(
      leak!.token,
      ringPushVsFullRing(3, 4, (x) => {
        lm = x;
      }),
      { scenario: SCENARIO },
    );
    expect(leakAgain.traceHash).toBe(leak!.traceHash);
    expect(isKnownRingPushUnloadLeak(leakAgain), text(leakAgain)).toBe(true);
    const lq = lm!.qxl.qdev;
    const lring = lq.hw.ram.cmdRing;
    expect([lring.prod, lring.cons, lq.hw.commandsConsumed, lq.hw.releasesPushed]).toEqual([
      12, 12, 12, 12,
    ]);
    expect(lq.releaseCount).toBeGreaterThan(0);
    expect(lq.drmErrors).toContain("failed to find id in release_idr");
    expect(lq.hw.guestBugs).toEqual([]);
    // KNOWN-WINDOWS.md quotes that token: still this search's first find.
    const md = readFileSync(new URL("../../../../KNOWN-WINDOWS.md", import.meta.url), "utf8");
    const section = md.slice(md.indexOf("## `qxl.ring-push-no-recheck`"));
    expect(section.match(/pt1\.[A-Za-z0-9_-]+/)?.[0], "KNOWN-WINDOWS.md's token").toBe(
      found!.token,
    );
    // and the figures it gives for this search
    const prose = section.replace(/\s+/g, " ");
    expect(prose).toContain(`in ${hangs + uafs + leaks} of ${POS.schedules} schedules`);
    expect(prose).toContain(`the hang in ${hangs} (the first at schedule ${firstAt})`);
    expect(prose).toContain(`use-after-free in ${uafs}`);
    expect(prose).toContain(`kmemleak at unload in ${leaks}.`);
  }, 300_000);

  it("with baselineFixes() (the recheck): the same 200 POS schedules are clean", async () => {
    expect(baselineFixes()).toContain(QXL_RING_PUSH_NO_RECHECK.name);
    const res = await explore(ringPushVsFullRing(3, 4), {
      ...POS,
      toggles: baselineFixes(),
      scenario: SCENARIO,
    });
    expect(res.firstFailure, text(res.firstFailure)).toBeNull();
    expect(res.schedules).toBe(POS.schedules);
  }, 300_000);
});

describe("a release the garbage collector freed under its submitter (qxl.ring-push-no-recheck's reused id)", () => {
  it("qxl_release_map() and qxl_push_command_ring_release() read release->release_bo: KASAN use-after-free (the second report only with kasan_multi_shot), then the oops of the NULLed release_bo (no JS exception)", async () => {
    const useFreedRelease = async (multiShot: boolean) => {
      const thrown: unknown[] = [];
      const r = await runQxl(async (m) => {
        if (multiShot) setKasanMultiShot(true);
        await runProcess(m, "client", async (p) => {
          const fd = await openQxl(p, m);
          const qdev = m.qxl.qdev;
          const rel = await qxlAllocReleaseReserved(qdev, QXL_RELEASE_DRAWABLE);
          if (isErr(rel)) throw new Error("qxl_alloc_release_reserved");
          // what qxl_garbage_collect() does to the release whose id came back a second time
          await qxlReleaseFree(qdev, rel.release);
          try {
            qxlReleaseMap(qdev, rel.release);
          } catch (e) {
            thrown.push(e);
          }
          try {
            await qxlPushCommandRingRelease(qdev, rel.release, QXL_CMD_DRAW);
          } catch (e) {
            thrown.push(e);
          }
          await closeFd(p, fd);
        });
      });
      expect(thrown.map((e) => (e as Error).constructor.name)).toEqual(["KernelBug", "KernelBug"]);
      return r.splats.map((s) => `${s.kind}: ${s.message.split("\n")[0]}`);
    };
    // KASAN prints the first report of a boot only (report_enabled()): the push's read is silent.
    expect(await useFreedRelease(false)).toEqual([
      "kasan: BUG: KASAN: slab-use-after-free in qxl_release_map",
      "bug: BUG: kernel NULL pointer dereference in qxl_bo_kmap_atomic_page(): release->release_bo is NULL",
      "bug: BUG: kernel NULL pointer dereference in qxl_bo_physical_address(): release->release_bo is NULL",
    ]);
    expect(await useFreedRelease(true)).toEqual([
      "kasan: BUG: KASAN: slab-use-after-free in qxl_release_map",
      "bug: BUG: kernel NULL pointer dereference in qxl_bo_kmap_atomic_page(): release->release_bo is NULL",
      "kasan: BUG: KASAN: slab-use-after-free in qxl_push_command_ring_release",
      "bug: BUG: kernel NULL pointer dereference in qxl_bo_physical_address(): release->release_bo is NULL",
    ]);
  });
});
