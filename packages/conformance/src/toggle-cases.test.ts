/**
 * One record of which case finds which toggle: TOGGLE_CASES. Each of its toggles is defined,
 * names a case of the suite, carries no second record (`foundBy`), and the root README's toggle
 * table says the same.
 */

import "@primetime/dma-buf";
import "@primetime/gem";
import { readFileSync } from "node:fs";
import type { DriverUnderTest } from "@primetime/gem";
import { findToggle } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { conformanceCases } from "./cases.js";
import { TOGGLE_CASES, UNFINDABLE_TOGGLES } from "./toggle-cases.js";

const README = new URL("../../../README.md", import.meta.url);

/** The root README's toggle table: toggle name -> its "found by" cell. */
function readmeFoundBy(): Map<string, string> {
  const lines = readFileSync(README, "utf8").split("\n");
  const header = lines.findIndex((l) => /^\| toggle +\|/.test(l));
  expect(header, "the README has a toggle table").toBeGreaterThanOrEqual(0);
  const cols = lines[header]!.split("|").map((c) => c.trim());
  const foundBy = cols.indexOf("found by");
  expect(foundBy, 'the toggle table has a "found by" column').toBeGreaterThan(0);
  const out = new Map<string, string>();
  for (const l of lines.slice(header + 2)) {
    if (!l.startsWith("|")) break;
    const cells = l.split("|").map((c) => c.trim());
    out.set(cells[1]!.replace(/`/g, ""), cells[foundBy]!);
  }
  return out;
}

const unused: DriverUnderTest = {
  name: "unused",
  register() {
    throw new Error("not run");
  },
};

describe("the record of which case finds which toggle", () => {
  it("names defined toggles and cases of the suite, and is the only record", () => {
    const names = new Set(conformanceCases(unused).map((c) => c.name));
    for (const [toggle, tc] of Object.entries(TOGGLE_CASES)) {
      const info = findToggle(toggle);
      expect(info, `${toggle} is defined`).toBeDefined();
      expect(names.has(tc.case), `${toggle}: ${tc.case} is a case`).toBe(true);
      expect(info!.foundBy, `${toggle} has a second record (foundBy)`).toBeUndefined();
    }
  });

  it("agrees with the root README's toggle table", () => {
    const readme = readmeFoundBy();
    for (const [toggle, tc] of Object.entries(TOGGLE_CASES)) {
      expect(readme.has(toggle), `${toggle} has a row in README.md`).toBe(true);
      expect(readme.get(toggle), `README.md: what finds ${toggle}`).toBe(tc.case);
    }
    for (const toggle of Object.keys(UNFINDABLE_TOGGLES))
      expect(readme.has(toggle), `${toggle} has a row in README.md`).toBe(true);
  });
});
