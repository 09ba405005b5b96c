import type { RunResult, Scenario } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { KREF_RST_EXAMPLES } from "./examples/index.js";

// The examples of Documentation/core-api/kref.rst (`@primetime/atomics/examples`) under the
// scheduler: each right pattern is checked against every schedule within the preemption bound
// (DFS, complete), and each wrong pattern the document warns about is found as the splat the
// kernel would print.

/** The scenario of the example called `name`. */
function example(name: string): Scenario {
  const e = KREF_RST_EXAMPLES.find((x) => x.name === name);
  if (!e) throw new Error(`no kref.rst example ${name}`);
  return e.scenario;
}

const kinds = (r: RunResult | null) => [...new Set(r?.splats.map((s) => s.kind))].sort();

async function exhaustive(scenario: Scenario) {
  const res = await explore(scenario, { strategy: "dfs", preemptionBound: 3, schedules: 20_000 });
  return res;
}

describe("the examples", () => {
  it("pair each right pattern with the wrong one, under unique names", () => {
    const names = KREF_RST_EXAMPLES.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(KREF_RST_EXAMPLES.map((e) => e.expect)).toEqual([
      "clean",
      "buggy",
      "clean",
      "buggy",
      "clean",
      "buggy",
      "clean",
      "buggy",
    ]);
    for (const e of KREF_RST_EXAMPLES) expect(e.kernelRef).toMatch(/^(Documentation|include)\//);
  });
});

describe("kref.rst under the scheduler", () => {
  describe("rule 1: kref_get before handing the pointer to another thread", () => {
    it("get before the handoff: no schedule fails", async () => {
      const res = await exhaustive(example("kref-handoff"));
      expect(res.complete).toBe(true);
      expect(res.failures).toEqual([]);
    });

    it("PCT finds the get after the handoff, and the token replays the same splats", async () => {
      const scenario = example("kref-handoff-get-after");
      const res = await explore(scenario, { strategy: "pct", depth: 3, schedules: 300, seed: 2 });
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      const again = await replay(r!.token, scenario);
      expect(again.splats.map((s) => s.message)).toEqual(r!.splats.map((s) => s.message));
      expect(again.splats.some((s) => s.kind === "refcount")).toBe(true);
    });

    it("get after the handoff: addition on 0 and use-after-free", async () => {
      const res = await exhaustive(example("kref-handoff-get-after"));
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      expect(kinds(r)).toEqual(["kasan", "refcount"]);
      const refcount = r?.splats.find((s) => s.kind === "refcount");
      expect(refcount?.message).toBe("refcount_t: addition on 0; use-after-free.");
      expect(refcount?.object).toBe("my_data");
    });
  });

  describe("rule 3: a lookup without a reference must be serialized against the last put", () => {
    it("lookup + kref_get and kref_put + list_del under the same mutex: no schedule fails", async () => {
      const res = await exhaustive(example("kref-lookup-locked"));
      expect(res.complete).toBe(true);
      expect(res.failures).toEqual([]);
    });

    it("PCT finds the unlocked lookup within a few hundred schedules, and the token replays it", async () => {
      const scenario = example("kref-lookup-unlocked");
      const res = await explore(scenario, { strategy: "pct", depth: 3, schedules: 300, seed: 1 });
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      expect(res.schedules).toBeLessThanOrEqual(300);
      const again = await replay(r!.token, scenario);
      const sig = (x: RunResult) => x.splats.map((s) => `${s.kind}|${s.message}|${s.object}`);
      expect(sig(again)).toEqual(sig(r!));
      expect(again.traceHash).toBe(r!.traceHash);
    });

    it("an unlocked lookup is found: kref_get on a freed entry", async () => {
      const res = await exhaustive(example("kref-lookup-unlocked"));
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      expect(kinds(r)).toContain("kasan");
      expect(r?.splats[0]?.message).toBe("BUG: KASAN: slab-use-after-free in kref_get");
      expect(r?.splats[0]?.object).toBe("entry");
    });
  });

  describe("kref_get_unless_zero: the put needs no lock, the release takes it", () => {
    it("inside the lookup's critical section: no schedule fails", async () => {
      const res = await exhaustive(example("kref-get-unless-zero"));
      expect(res.complete).toBe(true);
      expect(res.failures).toEqual([]);
    });

    it("outside it: kref_get_unless_zero on freed memory", async () => {
      const res = await exhaustive(example("kref-get-unless-zero-outside"));
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      expect(r?.splats[0]?.kind).toBe("kasan");
      expect(r?.splats[0]?.message).toBe("BUG: KASAN: slab-use-after-free in kref_get_unless_zero");
    });
  });

  describe("kref_put_mutex: only the 1 -> 0 transition takes the lock", () => {
    it("kref_put_mutex with a plain kref_get under the mutex: no schedule fails", async () => {
      const res = await exhaustive(example("kref-put-mutex"));
      expect(res.complete).toBe(true);
      expect(res.failures).toEqual([]);
    });

    it("a plain kref_put whose release takes the mutex: the lookup's kref_get hits 0", async () => {
      const res = await exhaustive(example("kref-put-release-locks"));
      const r = res.firstFailure;
      expect(r).not.toBeNull();
      expect(r?.splats[0]?.kind).toBe("refcount");
      expect(r?.splats[0]?.message).toBe("refcount_t: addition on 0; use-after-free.");
      expect(r?.splats[0]?.object).toBe("entry");
      // The saturated counter keeps the user's put from releasing a second time: no double free.
      expect(r?.splats.filter((s) => s.message.includes("double-free"))).toEqual([]);
    });
  });
});
