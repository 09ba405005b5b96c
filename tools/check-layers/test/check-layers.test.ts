import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { checkLayers, formatViolation, rankOf } from "../check-layers.js";

type Tree = Record<string, string>;

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function writeTree(tree: Tree): string {
  const root = mkdtempSync(join(tmpdir(), "check-layers-"));
  roots.push(root);
  for (const [file, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return root;
}

function manifest(name: string, deps: Record<string, string> = {}, devDeps = {}): string {
  return `${JSON.stringify({ name, dependencies: deps, devDependencies: devDeps }, null, 2)}\n`;
}

const ws = (...names: string[]) => Object.fromEntries(names.map((n) => [n, "workspace:*"]));

/** A small workspace that follows ARCHITECTURE.md section 4. */
function cleanTree(): Tree {
  return {
    "pnpm-workspace.yaml":
      'packages:\n  - "packages/*"\n  - "packages/drivers/*"\n  - "apps/*"\n  - "tools/*"\n',
    "tools/vitest-config/package.json": manifest("@primetime/vitest-config"),
    "packages/sim/package.json": manifest(
      "@primetime/sim",
      { "pure-rand": "^8.4.2" },
      ws("@primetime/vitest-config"),
    ),
    "packages/sim/src/index.ts": 'import rand from "pure-rand";\nexport const r = rand;\n',
    "packages/sim/src/point.ts": 'import { r } from "./index.js";\nexport const p = r;\n',
    "packages/atomics/package.json": manifest("@primetime/atomics", ws("@primetime/sim")),
    "packages/atomics/src/kref.ts":
      '// import "@primetime/gem" in a comment is not an import\nimport { point } from "@primetime/sim";\nexport type { Task } from "@primetime/sim/task";\nexport const x = point;\n',
    "packages/gem/package.json": manifest(
      "@primetime/gem",
      ws("@primetime/sim", "@primetime/atomics"),
    ),
    "packages/gem/src/gem.ts":
      'const s = "@primetime/libdrm";\nexport const m = () => import("@primetime/atomics");\n',
    "packages/drivers/vgem/package.json": manifest("@primetime/vgem", ws("@primetime/gem")),
    "packages/drivers/vgem/src/vgem.ts": 'import "@primetime/gem";\n',
    "packages/libdrm/package.json": manifest("@primetime/libdrm", ws("@primetime/gem")),
    "apps/stress/package.json": manifest(
      "@primetime/stress",
      ws("@primetime/libdrm", "@primetime/vgem", "@primetime/sim"),
    ),
    "apps/stress/src/main.ts":
      'import { x } from "@primetime/libdrm";\nimport { y } from "@primetime/vgem";\n',
  };
}

const messages = (root: string) => checkLayers(root).violations.map(formatViolation);

describe("rankOf", () => {
  it("ranks by position in ARCHITECTURE.md section 4, bottom first", () => {
    const order = [
      "packages/sim",
      "packages/atomics",
      "packages/rcu",
      "packages/kernel",
      "packages/simgpu",
      "packages/dma-buf",
      "packages/gem",
      "packages/ttm",
      "packages/drivers/qxl",
      "packages/libdrm",
      "apps/stress",
    ];
    const ranks = order.map(rankOf);
    expect(ranks).toEqual([...ranks].sort((a, b) => Number(a) - Number(b)));
    expect(new Set(ranks).size).toBe(order.length);
    expect(rankOf("packages/drivers/vgem")).toBe(rankOf("packages/drivers/qxl"));
    expect(rankOf("tools/check-layers")).toBeNull();
    expect(rankOf("packages/unheard-of")).toBeUndefined();
  });
});

describe("checkLayers", () => {
  it("passes a workspace that follows the layering", () => {
    const root = writeTree(cleanTree());
    const result = checkLayers(root);
    expect(result.violations).toEqual([]);
    expect(result.packages.map((p) => p.dir)).toContain("packages/drivers/vgem");
  });

  it("fails an upward import, naming file:line and the edge", () => {
    const root = writeTree({
      ...cleanTree(),
      "packages/sim/src/point.ts":
        'import { r } from "./index.js";\n\nimport { Kref } from "@primetime/atomics";\n',
    });
    expect(messages(root)).toEqual([
      expect.stringMatching(
        /^packages\/sim\/src\/point\.ts:3: import "@primetime\/atomics": @primetime\/sim -> @primetime\/atomics: .*higher layer/,
      ),
    ]);
  });

  it("fails an upward dependency in package.json", () => {
    const root = writeTree({
      ...cleanTree(),
      "packages/atomics/package.json": manifest(
        "@primetime/atomics",
        ws("@primetime/sim"),
        ws("@primetime/gem"),
      ),
    });
    const out = messages(root);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(
      /^packages\/atomics\/package\.json:\d+: devDependencies: @primetime\/atomics -> @primetime\/gem: .*higher layer/,
    );
  });

  it("fails a driver that imports another driver", () => {
    const tree = cleanTree();
    const root = writeTree({
      ...tree,
      "packages/drivers/qxl/package.json": manifest("@primetime/qxl", ws("@primetime/vgem")),
      "packages/drivers/qxl/src/qxl.ts": 'import { vgem } from "@primetime/vgem";\n',
    });
    const out = messages(root);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(
      /^packages\/drivers\/qxl\/package\.json:\d+: dependencies: .*same layer/,
    );
    expect(out[1]).toMatch(/^packages\/drivers\/qxl\/src\/qxl\.ts:1: .*same layer/);
  });

  it("fails an import not declared in package.json", () => {
    const root = writeTree({
      ...cleanTree(),
      "packages/libdrm/src/ioctl.ts": 'import type { Task } from "@primetime/sim";\n',
    });
    expect(messages(root)).toEqual([
      'packages/libdrm/src/ioctl.ts:1: import "@primetime/sim": @primetime/libdrm does not declare @primetime/sim in package.json',
    ]);
  });

  it("fails a relative import into another package", () => {
    const root = writeTree({
      ...cleanTree(),
      "packages/atomics/src/kref.ts": 'export * from "../../gem/src/gem.js";\n',
    });
    expect(messages(root)).toEqual([
      expect.stringMatching(/^packages\/atomics\/src\/kref\.ts:1: .*outside its own directory/),
    ]);
  });

  it("fails loudly on a package directory that is in no layer", () => {
    const root = writeTree({
      ...cleanTree(),
      "packages/shiny/package.json": manifest("@primetime/shiny", ws("@primetime/sim")),
    });
    expect(messages(root)).toEqual([
      expect.stringMatching(
        /^packages\/shiny\/package\.json:1: @primetime\/shiny .* is in no layer/,
      ),
    ]);
  });

  it("fails a dependency on an unknown @primetime package", () => {
    const root = writeTree({
      ...cleanTree(),
      "packages/gem/src/gem.ts": 'import "@primetime/nonexistent";\n',
    });
    expect(messages(root)).toEqual([
      expect.stringMatching(/gem\.ts:1: .*no workspace package has that name/),
    ]);
  });
});

/** cleanTree() plus the conformance suite, run by vgem in its own tests (the test-only edge). */
function treeWithConformance(): Tree {
  const tree = cleanTree();
  return {
    ...tree,
    "packages/conformance/package.json": manifest(
      "@primetime/conformance",
      ws("@primetime/gem", "@primetime/libdrm", "@primetime/sim"),
    ),
    "packages/conformance/src/harness.ts":
      'import { explore } from "@primetime/sim/explore";\nimport "@primetime/libdrm";\nexport const e = explore;\n',
    "packages/drivers/vgem/package.json": manifest(
      "@primetime/vgem",
      ws("@primetime/gem", "@primetime/sim"),
      ws("@primetime/conformance"),
    ),
    "packages/drivers/vgem/src/conformance.test.ts":
      'import { defineConformanceSuite } from "@primetime/conformance/vitest";\nimport { explore } from "@primetime/sim/explore";\n',
  };
}

describe("the test-only edge and the search API", () => {
  it("lets a driver devDepend on conformance and import it from its tests", () => {
    expect(messages(writeTree(treeWithConformance()))).toEqual([]);
  });

  it("refuses conformance as a runtime dependency of a driver", () => {
    const root = writeTree({
      ...treeWithConformance(),
      "packages/drivers/vgem/package.json": manifest(
        "@primetime/vgem",
        ws("@primetime/gem", "@primetime/sim", "@primetime/conformance"),
      ),
    });
    expect(messages(root)).toEqual([
      expect.stringMatching(
        /^packages\/drivers\/vgem\/package\.json:\d+: dependencies: @primetime\/vgem -> @primetime\/conformance: .*only for tests/,
      ),
    ]);
  });

  it("refuses conformance imported by a non-test file of a driver", () => {
    const root = writeTree({
      ...treeWithConformance(),
      "packages/drivers/vgem/src/vgem.ts":
        'import "@primetime/gem";\nimport { findCase } from "@primetime/conformance";\n',
    });
    expect(messages(root)).toEqual([
      expect.stringMatching(
        /^packages\/drivers\/vgem\/src\/vgem\.ts:2: import "@primetime\/conformance": .*only for tests/,
      ),
    ]);
  });

  it("refuses a driver imported by conformance, in package.json and in its tests", () => {
    const root = writeTree({
      ...treeWithConformance(),
      "packages/conformance/package.json": manifest(
        "@primetime/conformance",
        ws("@primetime/gem", "@primetime/libdrm", "@primetime/sim"),
        ws("@primetime/vgem"),
      ),
      "packages/conformance/src/suite.test.ts": 'import { createVgem } from "@primetime/vgem";\n',
    });
    expect(messages(root)).toEqual([
      expect.stringMatching(
        /^packages\/conformance\/package\.json:\d+: devDependencies: @primetime\/conformance -> @primetime\/vgem: refused: the conformance suite depends on no driver/,
      ),
      expect.stringMatching(
        /^packages\/conformance\/src\/suite\.test\.ts:1: import "@primetime\/vgem": .*refused/,
      ),
    ]);
  });

  it("refuses @primetime/sim/explore in a non-test file of a model package", () => {
    const root = writeTree({
      ...treeWithConformance(),
      "packages/gem/src/gem.ts": 'import { explore } from "@primetime/sim/explore";\n',
      "packages/gem/src/gem.test.ts": 'import { replay } from "@primetime/sim/explore";\n',
    });
    const tree = messages(root);
    expect(tree).toHaveLength(1);
    expect(tree[0]).toMatch(
      /^packages\/gem\/src\/gem\.ts:1: import "@primetime\/sim\/explore" in a non-test file of @primetime\/gem: model code marks race windows/,
    );
  });
});

describe("the CLI", () => {
  const script = fileURLToPath(new URL("../check-layers.ts", import.meta.url));
  const run = (root: string) =>
    spawnSync(process.execPath, ["--import", "tsx", script, root], {
      cwd: dirname(script),
      encoding: "utf8",
    });

  it("exits 0 on a clean tree", () => {
    const r = run(writeTree(cleanTree()));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("exits 1 and prints every violation", () => {
    const root = writeTree({
      ...cleanTree(),
      "packages/sim/src/point.ts": 'import "@primetime/atomics";\n',
    });
    const r = run(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("packages/sim/src/point.ts:1:");
    expect(r.stderr).toContain("1 layering violation(s)");
  });
});
