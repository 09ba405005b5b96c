/**
 * `toggles`: every toggle the loaded packages define, with its kind, fixing commit, kernel
 * versions, layer and the scenario that finds it, as text and as JSON.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { listToggles } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { findCampaignScenario } from "./campaign/registry.js";
import { type Io, main } from "./cli.js";
import { installedDrivers } from "./drivers.js";
import { toggleTable } from "./toggles.js";
import { TOGGLE_LAYERS, type TogglesDocument, toggleLayer } from "./toggles-command.js";

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { log: (t) => out.push(t), error: (t) => err.push(t), color: false };
  const code = await main(argv, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const root = new URL("../../../", import.meta.url).pathname;

/** The non-test sources of a workspace package (`@primetime/qxl` -> packages/drivers/qxl/src). */
function sources(pkg: string): string {
  const short = pkg.replace("@primetime/", "");
  const dir = [join(root, "packages", short), join(root, "packages/drivers", short)].find((d) =>
    existsSync(join(d, "package.json")),
  );
  if (!dir) throw new Error(`no directory for ${pkg}`);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith(".ts") && !f.endsWith(".test.ts")) out.push(readFileSync(p, "utf8"));
    }
  };
  walk(join(dir, "src"));
  return out.join("\n");
}

describe("toggles", () => {
  it("--json: every toggle with kind, commit, kernels, layer and the scenario that finds it", async () => {
    const r = await cli(["toggles", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as TogglesDocument;
    expect(doc.schema).toBe("primetime-stress/toggles");
    expect(doc.version).toBe(1);
    expect(doc.toggles.map((t) => t.name)).toEqual(listToggles().map((t) => t.name));
    const table = new Map(toggleTable().map((t) => [t.name, t]));
    const drivers = installedDrivers()
      .map((d) => d.name)
      .sort();
    const src = new Map<string, string>();
    for (const t of doc.toggles) {
      expect(["historic", "proposed", "hypothetical"], t.name).toContain(t.kind);
      expect(t.kernels.length, t.name).toBeGreaterThan(0);
      expect(t.fix.title.length, t.name).toBeGreaterThan(0);
      if (t.kind === "historic")
        expect(t.fix.commit, t.name).toMatch(/^[0-9a-f]{12,40}$|hash not confirmed/);
      // The layer's package is the one that defines the toggle.
      const layer = toggleLayer(t.name);
      expect(layer, `${t.name}: add its prefix to TOGGLE_LAYERS`).not.toBeNull();
      expect(t.layer).toBe(layer!.layer);
      if (!src.has(t.package)) src.set(t.package, sources(t.package));
      expect(src.get(t.package), `${t.name} in ${t.package}`).toContain(`"${t.name}"`);
      // The scenario is the detection matrix's.
      const e = table.get(t.name)!;
      expect(t.foundBy?.scenario ?? null, t.name).toBe(e.scenario);
      expect(t.unfindable).toBe(e.unfindable);
      // A scenario that boots its own machine (TTM's, a driver's races) names no driver.
      if (t.foundBy) {
        const own = findCampaignScenario(t.foundBy.scenario)?.arity === 0;
        expect(t.foundBy.drivers.length === 0, t.name).toBe(own);
      }
    }
    // A conformance case runs on every driver; a driver's own race on its own machine.
    const flink = doc.toggles.find((t) => t.name === "gem.flink-no-handle-count-check")!;
    expect(flink).toMatchObject({
      kind: "historic",
      layer: "DRM core (GEM)",
      package: "@primetime/gem",
      foundBy: { scenario: "gem_flink_race/flink_close", drivers },
    });
    expect(doc.toggles.find((t) => t.name === "qxl.handle-create-uaf")?.foundBy?.drivers).toEqual(
      [],
    );
    expect(doc.toggles.find((t) => t.name === "fs.fget-no-recheck")?.foundBy).toMatchObject({
      scenario: "fuzz-fd-reuse@vgem",
      drivers: ["vgem"],
      strategy: "pos",
      schedules: 2688,
    });
    expect(doc.toggles.find((t) => t.name === "qxl.dual-refcount")?.foundBy).toMatchObject({
      scenario: "surface-reaper@qxl+qxl",
      drivers: ["qxl"],
    });
    for (const prefix of Object.keys(TOGGLE_LAYERS))
      expect(TOGGLE_LAYERS[prefix]!.package).toMatch(/^@primetime\//);
  }, 120_000);

  it("prints each toggle's kind, fix, kernels, layer and finder", async () => {
    const r = await cli(["toggles"]);
    expect(r.code).toBe(0);
    const n = listToggles().length;
    expect(r.out.split("\n")[0]).toMatch(new RegExp(`^${n} toggles \\(\\d+ historic`));
    expect(r.out).toContain(
      'gem.flink-no-handle-count-check [historic]  DRM core (GEM) (@primetime/gem)\n  fixed by: a8e11d1c435f "drm/gem: fix up flink name create race"\n  kernels: ',
    );
    expect(r.out).toMatch(/prime\.cache-without-lock \[hypothetical\]/);
    expect(r.out).toMatch(/found by qxl\/dumb-create-vs-close \(pct:3 seed 1/);
    expect(r.out.match(/^ {2}kernels: /gm)).toHaveLength(n);
  }, 120_000);

  it("the root README's toggle table has a row for every toggle, with its kind", () => {
    const lines = readFileSync(join(root, "README.md"), "utf8").split("\n");
    const header = lines.findIndex((l) => /^\| toggle +\| kind +\|/.test(l));
    expect(header, "README.md has a toggle table with a kind column").toBeGreaterThanOrEqual(0);
    const rows = new Map<string, string>();
    for (const l of lines.slice(header + 2)) {
      if (!l.startsWith("|")) break;
      const cells = l.split("|").map((c) => c.trim());
      rows.set(cells[1]!.replace(/`/g, ""), cells[2]!);
    }
    for (const t of listToggles()) {
      expect(rows.has(t.name), `${t.name} has a row in README.md`).toBe(true);
      expect(rows.get(t.name), `README.md: the kind of ${t.name}`).toBe(t.kind);
    }
    expect([...rows.keys()].sort()).toEqual(
      listToggles()
        .map((t) => t.name)
        .sort(),
    );
  });
});
