import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packPackages, withWorkspaceDependencies } from "../pack-check.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const work = mkdtempSync(join(tmpdir(), "primetime-install-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A race program as a user of the published packages writes it: plain Node, no TypeScript, no
 * workspace: kref.rst's lookup without the lock (`@primetime/atomics/examples`), where a lookup
 * takes a reference on an entry whose last kref_put() is under way, searched over random seeds.
 */
const RACE = `
import { listToggles, Simulation } from "@primetime/sim";
import { KREF_RST_EXAMPLES } from "@primetime/atomics/examples";
import { DmaFence } from "@primetime/dma-buf";

const example = KREF_RST_EXAMPLES.find((e) => e.name === "kref-lookup-unlocked");
let found = null;
let schedules = 0;
for (let seed = 1; seed <= 500 && !found; seed++) {
  schedules++;
  const r = await new Simulation({ seed }).run(example.scenario);
  if (r.splats.length > 0) found = r;
}
console.log(JSON.stringify({
  schedules,
  kind: found?.splats[0]?.kind ?? null,
  message: found?.splats[0]?.message ?? null,
  token: found?.token ?? null,
  toggles: listToggles().map((t) => t.name),
  dmaFence: typeof DmaFence,
}));
`;

describe("the packed tarballs in a fresh npm project", () => {
  it("install outside the workspace and run a race with plain node", () => {
    const names = withWorkspaceDependencies(ROOT, [
      "@primetime/sim",
      "@primetime/atomics",
      "@primetime/dma-buf",
    ]);
    const tgz = join(work, "tgz");
    mkdirSync(tgz);
    const packed = packPackages(ROOT, names, tgz);
    const app = join(work, "app");
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "race-app", private: true, type: "module" }),
    );
    execFileSync(
      "npm",
      ["install", "--no-audit", "--no-fund", "--loglevel=error", ...packed.map((p) => p.tarball)],
      { cwd: app, stdio: ["ignore", "ignore", "pipe"] },
    );
    writeFileSync(join(app, "race.mjs"), RACE);
    const out = JSON.parse(execFileSync("node", ["race.mjs"], { cwd: app, encoding: "utf8" }));
    expect(["refcount", "kasan"]).toContain(out.kind);
    expect(out.message).toMatch(/addition on 0|use-after-free/);
    expect(out.token).toMatch(/^pt1\./);
    expect(out.schedules).toBeLessThan(500);
    // dma-buf registers its historic-bug toggles on import, in the registry of the one sim.
    expect(out.toggles).toContain("dma-buf.fence-cb-without-ref");
    expect(out.dmaFence).toBe("function");
  }, 240_000);
});
