import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { KREF_RST_EXAMPLES } from "./kref-rst.js";

// The portfolio search (PCT of several depths, random and POS interleaved) finds every wrong
// pattern of Documentation/core-api/kref.rst from every one of 10 base seeds within a small
// budget (the search benchmark of @primetime/vgem measures 1 to 8 schedules as the median), and
// its finding replays from its token.
describe("the portfolio strategy on the kref.rst examples", () => {
  for (const e of KREF_RST_EXAMPLES.filter((x) => x.expect === "buggy")) {
    it(`finds ${e.name} from seeds 1..10 within 100 schedules`, async () => {
      for (let seed = 1; seed <= 10; seed++) {
        const res = await explore(e.scenario, { strategy: "portfolio", seed, schedules: 100 });
        const f = res.firstFailure;
        expect(f, `seed ${seed}`).not.toBeNull();
        expect(f!.splats.some((s) => s.kind === "kasan" || s.kind === "refcount")).toBe(true);
        if (seed === 1) {
          const again = await replay(f!.token, e.scenario);
          expect(again.traceHash).toBe(f!.traceHash);
          expect(again.splats.map((s) => s.message)).toEqual(f!.splats.map((s) => s.message));
        }
      }
    });
  }
});
