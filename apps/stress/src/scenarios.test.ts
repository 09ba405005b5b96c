import type { RunResult } from "@primetime/sim";
import { decodeToken, explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { checkScenario, DEMO_DEFAULTS, demo } from "./demo.js";
import { showsExpectedBug } from "./findings.js";
import { formatRaceWindow, palette } from "./format.js";
import {
  findScenario,
  LIFETIME_SCENARIOS,
  SCENARIOS,
  type StressScenario,
} from "./scenarios/index.js";

const plain = palette(false);

function scenario(name: string): StressScenario {
  const s = findScenario(name);
  if (!s) throw new Error(`no scenario ${name}`);
  return s;
}

async function firstFailure(name: string): Promise<RunResult> {
  const res = await explore(scenario(name).scenario, {
    strategy: "dfs",
    preemptionBound: 3,
    schedules: 20_000,
  });
  expect(res.firstFailure).not.toBeNull();
  return res.firstFailure!;
}

describe("the scenario table", () => {
  it("has unique names: the kref.rst pairs plus the AB-BA deadlock, then the DRM races", () => {
    const names = SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(SCENARIOS.slice(0, LIFETIME_SCENARIOS.length)).toEqual(LIFETIME_SCENARIOS);
    expect(LIFETIME_SCENARIOS.map((s) => [s.name, s.expect])).toEqual([
      ["kref-handoff", "clean"],
      ["kref-handoff-get-after", "buggy"],
      ["kref-lookup-locked", "clean"],
      ["kref-lookup-unlocked", "buggy"],
      ["kref-get-unless-zero", "clean"],
      ["kref-get-unless-zero-outside", "buggy"],
      ["kref-put-mutex", "clean"],
      ["kref-put-release-locks", "buggy"],
      ["abba-deadlock", "deadlock"],
    ]);
    for (const s of LIFETIME_SCENARIOS) expect(s.kernelRef).toMatch(/^(Documentation|include)\//);
  });

  describe.each(LIFETIME_SCENARIOS.filter((s) => s.expect !== "clean"))("$name ($expect)", (s) => {
    it("is found by pct within the demo's budget and by dfs, and its token replays it", async () => {
      const rep = await checkScenario(s, DEMO_DEFAULTS);
      expect(rep.pct.firstFailure).not.toBeNull();
      expect(rep.pct.schedules).toBeLessThanOrEqual(DEMO_DEFAULTS.schedules);
      expect(showsExpectedBug(s.expect, rep.pct.firstFailure!)).toBe(true);
      expect(rep.dfs.firstFailure).not.toBeNull();
      expect(showsExpectedBug(s.expect, rep.dfs.firstFailure!)).toBe(true);
      expect(rep.shown).toBe(rep.pct.firstFailure);
      expect(rep.replayError).toBeNull();
      expect(rep.replay?.sameSplats).toBe(true);
      expect(rep.replay?.sameTrace).toBe(true);
      expect(rep.replay?.run.splats.length).toBe(rep.shown!.splats.length);
      // The scenario name travels in the token (explore was given `scenario: name`).
      expect(decodeToken(rep.shown!.token).scenario).toBe(s.name);
      expect(rep.ok).toBe(true);
    });
  });

  describe.each(LIFETIME_SCENARIOS.filter((s) => s.expect === "clean"))("$name (clean)", (s) => {
    it("has no failing schedule: pct within budget, dfs complete within the bound", async () => {
      const rep = await checkScenario(s, DEMO_DEFAULTS);
      expect(rep.pct.failures).toEqual([]);
      expect(rep.pct.schedules).toBe(DEMO_DEFAULTS.schedules);
      expect(rep.dfs.failures).toEqual([]);
      expect(rep.dfs.complete).toBe(true);
      expect(rep.dfs.schedules).toBeGreaterThan(1);
      expect(rep.shown).toBeNull();
      expect(rep.ok).toBe(true);
    });
  });
});

describe("what the buggy scenarios report", () => {
  it("get after the hand-off: KASAN in kref_get and an addition on 0, both naming my_data", async () => {
    const r = await firstFailure("kref-handoff-get-after");
    const [kasan, refcount] = r.splats;
    expect(kasan?.kind).toBe("kasan");
    expect(kasan?.message).toBe("BUG: KASAN: slab-use-after-free in kref_get");
    expect(kasan?.task).toBe("main");
    expect(kasan?.sites.map((x) => [x.role, x.task, x.label])).toEqual([
      ["allocated", "main", "kmalloc"],
      ["freed", "more_data_handling", "kfree"],
    ]);
    expect(refcount?.message).toBe("refcount_t: addition on 0; use-after-free.");
    expect(refcount?.object).toBe("my_data");
  });

  it("unlocked lookup: kref_get on the entry the remover freed", async () => {
    const r = await firstFailure("kref-lookup-unlocked");
    expect(r.splats[0]?.message).toBe("BUG: KASAN: slab-use-after-free in kref_get");
    expect(r.splats[0]?.object).toBe("entry");
    expect(r.splats[0]?.task).toBe("user");
    expect(r.splats[0]?.sites.find((x) => x.role === "freed")?.task).toBe("remover");
  });

  it("kref_get_unless_zero outside the critical section: it reads freed memory", async () => {
    const r = await firstFailure("kref-get-unless-zero-outside");
    expect(r.splats.map((s) => s.message)).toEqual([
      "BUG: KASAN: slab-use-after-free in kref_get_unless_zero",
    ]);
  });

  it("a release that takes the mutex itself: the locked lookup adds to 0, no double free", async () => {
    const r = await firstFailure("kref-put-release-locks");
    expect(r.splats[0]?.kind).toBe("refcount");
    expect(r.splats[0]?.message).toBe("refcount_t: addition on 0; use-after-free.");
    expect(r.splats.filter((s) => s.message.includes("double-free"))).toEqual([]);
  });

  it("AB-BA: a deadlock with each thread waiting on the lock the other holds", async () => {
    const r = await firstFailure("abba-deadlock");
    expect(r.outcome).toBe("deadlock");
    expect(r.splats).toHaveLength(1);
    expect(r.splats[0]?.message).toContain(
      "thread_ab[2] waits on mutex lock_b held by thread_ba[3]",
    );
    expect(r.splats[0]?.message).toContain(
      "thread_ba[3] waits on mutex lock_a held by thread_ab[2]",
    );
  });
});

describe("the race table", () => {
  it("ends at the first splat and marks the operation that fired it", async () => {
    const r = await firstFailure("kref-lookup-unlocked");
    const text = formatRaceWindow(r, plain);
    const lines = text.split("\n");
    expect(lines[0]).toContain(`first splat at step ${r.splats[0]!.step}`);
    expect(lines[1]).toMatch(/^main\[1\] +\| user\[2\] +\| remover\[3\]$/);
    const marked = lines.filter((l) => l.includes("<-"));
    expect(marked).toHaveLength(1);
    expect(marked[0]).toContain("kref_get(entry)");
    expect(marked[0]).toContain("<- kasan, refcount");
    // The table stops at the splat's step: later steps (do_stuff) are not in it.
    expect(text).not.toContain("do_stuff");
  });
});

describe("demo()", () => {
  it("prints every scenario, tokens for the failures and a summary; exit 0 when all behave", async () => {
    const out: string[] = [];
    const code = await demo(
      { ...DEMO_DEFAULTS, schedules: 100 },
      { log: (t) => out.push(t) },
      plain,
      LIFETIME_SCENARIOS,
      [],
    );
    const text = out.join("\n");
    expect(code).toBe(0);
    for (const s of LIFETIME_SCENARIOS) expect(text).toContain(s.name);
    expect(text).not.toContain("historic DRM races");
    expect(text.match(/replay token: pt1\.[A-Za-z0-9_-]+/g)).toHaveLength(5);
    expect(text.match(/replay of the token: reproduces the same/g)).toHaveLength(5);
    expect(text).toContain("no splat in 110 schedules (dfs complete within bound 3)");
    expect(text).toContain("9 of 9 scenarios behaved as expected");
    expect(text).not.toContain("\x1b[");
  });

  it("exits 1 and flags the row when a scenario does not behave as expected", async () => {
    const mislabeled: StressScenario = { ...scenario("kref-lookup-unlocked"), expect: "clean" };
    const wrongKind: StressScenario = { ...scenario("abba-deadlock"), expect: "buggy" };
    const out: string[] = [];
    const code = await demo(
      DEMO_DEFAULTS,
      { log: (t) => out.push(t) },
      plain,
      [mislabeled, wrongKind, scenario("kref-put-mutex")],
      [],
    );
    const text = out.join("\n");
    expect(code).toBe(1);
    expect(text).toContain("1 of 3 scenarios behaved as expected");
    expect(text).toMatch(/kref-lookup-unlocked +clean .*UNEXPECTED/);
    expect(text).toMatch(/abba-deadlock +buggy .*UNEXPECTED/);
    expect(text).toMatch(/kref-put-mutex +clean .* ok/);
  });
});
