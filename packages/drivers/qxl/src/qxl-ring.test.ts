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
 * KASAN, then the oops of its push).
 */

import { readFileSync } from "node:fs";
import { baselineFixes, formatSplat, type RunResult } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import type { QxlMachine } from "./test-machine.js";
import {
  isKnownRingPushHang,
  isKnownRingPushReleaseUaf,
  ringPushVsFullRing,
} from "./test-scenarios.js";
import { QXL_RING_PUSH_NO_RECHECK } from "./toggles.js";

const text = (r: RunResult | null) =>
  r ? `${r.outcome}\n${r.splats.map((s) => formatSplat(s)).join("\n")}` : "none";

/**
 * Three processes, four EXECBUFFERs each, on a spice-worker device with a one-entry command ring.
 * POS (seed 5): PCT (depth 3) and the random scheduler reach two pushers waiting at once but
 * not the interleaving of their two wake-ups (both checking for room before either pushes) in
 * 200 schedules; POS reaches it in 21 of 200 (20 hangs, 1 use-after-free).
 */
const POS = { strategy: "pos", schedules: 200, seed: 5 } as const;
const SCENARIO = "qxl/ring-push-vs-full-ring";

describe("qxl command ring: two pushers woken for one slot (toggles off)", () => {
  it("window open: the lost command's hang in 20 of 200 POS schedules (the first at 18), a reused id's use-after-free in 1, nothing else; replays from KNOWN-WINDOWS.md's token", async () => {
    let n = 0;
    let first: RunResult | null = null;
    let firstAt = 0;
    let hangs = 0;
    let uafs = 0;
    const res = await explore(ringPushVsFullRing(3, 4), {
      ...POS,
      scenario: SCENARIO,
      stopOnFailure: false,
      isFailure: (r) => r.outcome !== "ok" || r.splats.length > 0,
      onRun: (r) => {
        n++;
        if (r.outcome === "ok" && r.splats.length === 0) return;
        if (isKnownRingPushReleaseUaf(r)) {
          // then the push oopses on the freed release's NULLed release_bo (the task dies)
          expect(r.splats[1]?.message, text(r)).toMatch(
            /^BUG: kernel NULL pointer dereference in qxl_bo_physical_address\(\)/,
          );
          uafs++;
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
    expect([hangs, uafs]).toEqual([20, 1]);
    expect(firstAt).toBe(18);
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
    // KNOWN-WINDOWS.md quotes that token: still this search's first find.
    const md = readFileSync(new URL("../../../../KNOWN-WINDOWS.md", import.meta.url), "utf8");
    const section = md.slice(md.indexOf("## `qxl.ring-push-no-recheck`"));
    expect(section.match(/pt1\.[A-Za-z0-9_-]+/)?.[0], "KNOWN-WINDOWS.md's token").toBe(
      found!.token,
    );
    // and the figures it gives for this search
    const prose = section.replace(/\s+/g, " ");
    expect(prose).toContain(`in ${hangs + uafs} of ${POS.schedules} schedules`);
    expect(prose).toContain(`the hang in ${hangs} (the first at schedule ${firstAt})`);
    expect(prose).toContain(`use-after-free in ${uafs}.`);
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
