import { describe, expect, it } from "vitest";
import { report } from "./current.js";
import { explore } from "./explore/explore.js";
import { Simulation } from "./simulation.js";
import {
  baselineFixes,
  defineKnownWindow,
  defineToggle,
  findToggle,
  listFixes,
  listKnownWindows,
  listToggles,
  toggleEnabled,
} from "./toggles.js";

defineToggle({
  name: "test.skip-check",
  description: "skips a check",
  fixedBy: "test: add the check",
  foundBy: "toggles.test.ts",
  kind: "hypothetical",
  kernels: "none (a test toggle)",
});

describe("historic-bug toggles", () => {
  it("are off by default and on when a simulation asks", async () => {
    const seen: boolean[] = [];
    await new Simulation().run(() => {
      seen.push(toggleEnabled("test.skip-check"));
    });
    await new Simulation({ toggles: ["test.skip-check"] }).run(() => {
      seen.push(toggleEnabled("test.skip-check"));
    });
    expect(seen).toEqual([false, true]);
    expect(toggleEnabled("test.skip-check")).toBe(false);
  });

  it("reach every run of a search", async () => {
    const res = await explore(
      () => {
        if (toggleEnabled("test.skip-check")) report("warn", "buggy path");
      },
      { schedules: 3, toggles: ["test.skip-check"] },
    );
    expect(res.firstFailure?.splats[0]?.message).toBe("buggy path");
  });

  it("rejects unknown names and inconsistent redefinitions", () => {
    expect(() => new Simulation({ toggles: ["nope.nope"] })).toThrow(/unknown toggle "nope.nope"/);
    expect(() =>
      defineToggle({
        name: "Bad Name",
        description: "",
        fixedBy: "",
        foundBy: "",
        kind: "hypothetical",
        kernels: "-",
      }),
    ).toThrow(/bad toggle name/);
    expect(() =>
      defineToggle({
        name: "test.skip-check",
        description: "other",
        fixedBy: "x",
        foundBy: "y",
        kind: "hypothetical",
        kernels: "-",
      }),
    ).toThrow(/twice/);
    expect(() =>
      defineToggle({
        name: "test.no-hash",
        description: "a historic toggle without its commit",
        fixedBy: "test: fix it",
        foundBy: "-",
        kind: "historic",
        kernels: "v1.0",
      }),
    ).toThrow(/needs the fixing commit's hash/);
    expect(() =>
      defineToggle({
        name: "test.no-kernels",
        description: "",
        fixedBy: "test: fix it",
        foundBy: "-",
        kind: "historic",
        commit: "0123456789ab",
        kernels: "",
      }),
    ).toThrow(/kernel versions/);
    expect(findToggle("test.skip-check")?.kind).toBe("hypothetical");
    expect(findToggle("test.skip-check")?.fixedBy).toBe("test: add the check");
    expect(listToggles().map((t) => t.name)).toContain("test.skip-check");
  });
});

describe("known upstream windows", () => {
  it("declare a fix switch: not a historic toggle, on in the baseline, carried by tokens", async () => {
    const w = defineKnownWindow({
      name: "test.open-window",
      what: "addition on 0",
      where: "a.c: f() vs g()",
      since: "test: open it",
      sinceCommit: "deadbeefdeadbeef",
      kernels: "v1.0 onwards",
      proposedFix: "test: close it (proposed)",
      foundBy: "toggles.test.ts",
    });
    expect(listKnownWindows()).toContain(w);
    expect(findToggle("test.open-window")?.kind).toBe("proposed");
    expect(findToggle("test.open-window")?.fixSwitch).toBe(true);
    expect(listFixes().map((t) => t.name)).toContain("test.open-window");
    expect(listToggles().map((t) => t.name)).not.toContain("test.open-window");
    expect(baselineFixes()).toContain("test.open-window");
    const seen: boolean[] = [];
    const r = await new Simulation({ toggles: baselineFixes() }).run(() => {
      seen.push(toggleEnabled("test.open-window"));
    });
    await new Simulation({ strategy: { kind: "replay", token: r.token } }).run(() => {
      seen.push(toggleEnabled("test.open-window"));
    });
    expect(seen).toEqual([true, true]);
  });
});

describe("toggles in replay tokens", () => {
  it("a token carries its toggles and a replay turns them on", async () => {
    const { replay } = await import("./explore/explore.js");
    const { decodeToken } = await import("./explore/token.js");
    const scenario = () => {
      if (toggleEnabled("test.skip-check")) report("warn", "buggy path");
    };
    const res = await explore(scenario, { schedules: 1, toggles: ["test.skip-check"] });
    const token = res.firstFailure!.token;
    expect(decodeToken(token).toggles).toEqual(["test.skip-check"]);
    const again = await replay(token, scenario);
    expect(again.splats[0]?.message).toBe("buggy path");
    await expect(replay(token, scenario, { toggles: [] })).rejects.toThrow(
      /recorded with toggles \[test.skip-check\]/,
    );
  });
});
