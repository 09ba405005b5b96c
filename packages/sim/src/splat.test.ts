import { describe, expect, it } from "vitest";
import { report } from "./current.js";
import { Simulation } from "./simulation.js";
import { defineSplatKind, isSplatKind, listSplatKinds } from "./splat.js";

describe("splat kinds", () => {
  it("are the built-in oracles plus those a new oracle declares", async () => {
    expect(isSplatKind("kasan")).toBe(true);
    expect(isSplatKind("divergence")).toBe(false);
    const r0 = await new Simulation().run(() => {
      report("divergence", "handle 1 names another buffer");
    });
    expect(r0.splats.map((s) => `${s.kind}: ${s.message}`)).toEqual([
      expect.stringMatching(
        /^bug: unhandled exception in main\[1\]: unknown splat kind "divergence"/,
      ),
    ]);
    defineSplatKind({ name: "divergence", description: "userspace saw what it should not" });
    expect(listSplatKinds().map((k) => k.name)).toContain("divergence");
    const r = await new Simulation().run(() => {
      report("divergence", "handle 1 names another buffer");
    });
    expect(r.splats.map((s) => `${s.kind}: ${s.message}`)).toEqual([
      "divergence: handle 1 names another buffer",
    ]);
    expect(() => defineSplatKind({ name: "kasan", description: "mine" })).toThrow(
      /already defined/,
    );
    expect(() => defineSplatKind({ name: "Bad Kind", description: "" })).toThrow(/bad splat kind/);
  });
});
