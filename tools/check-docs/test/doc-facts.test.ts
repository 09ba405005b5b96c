import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  type CliFacts,
  checkCli,
  checkDefaults,
  checkDependencies,
  checkDocFacts,
  checkExports,
  checkKernelVersion,
  checkPaths,
  checkRegistries,
  checkScripts,
  checkToggleCommits,
  loadFacts,
  moduleExports,
  parseHelp,
  workspaceExports,
} from "../doc-facts.js";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function writeTree(tree: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "check-doc-facts-"));
  roots.push(root);
  for (const [file, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return root;
}

const run = new Set(["--seeds", "--workers", "--help"]);
const CLI: CliFacts = {
  commands: new Map([
    ["start", new Set(["--seed", "--help"])],
    ["demo", new Set(["--seed", "--help"])],
    ["run", run],
    ["replay", new Set(["--explain", "--help"])],
  ]),
  global: new Set(["--no-color", "--help"]),
  defaultCommand: "start",
};

const REGISTRIES = {
  toggles: ["gem.a", "gem.b", "ttm.c"],
  scenarios: ["one", "two"],
};

const lines = (ps: readonly { line: number; message: string }[]) =>
  ps.map((p) => `${p.line}: ${p.message}`);

describe("parseHelp", () => {
  it("reads commander's commands, aliases and long options", () => {
    const help = [
      "Usage: primetime-stress [options] [command]",
      "",
      "Options:",
      "  --no-color                  plain output",
      "  -h, --help                  display help for command",
      "",
      "Commands:",
      "  start|demo [options]        the demo",
      "  replay [options] <token>    replay a token: re-run the recorded schedule,",
      "                              print its splats",
      "  help [command]              display help for command",
    ].join("\n");
    expect(parseHelp(help)).toEqual({
      commands: [["start", "demo"], ["replay"], ["help"]],
      options: ["--no-color", "--help"],
    });
  });
});

describe("checkCli", () => {
  it("passes real commands and flags, placeholders and the default command", () => {
    const md = [
      "```sh",
      "pnpm -s stress run --seeds 500 --workers 2   # --not-a-flag in a comment",
      "pnpm -s stress <command>",
      "primetime-stress --seed 3",
      "pnpm --filter @primetime/stress cli demo --no-color",
      "```",
      "Then `replay pt1.… --explain`, or `run` alone; `vitest run --maxWorkers=1` is not ours.",
    ].join("\n");
    expect(checkCli("README.md", md, CLI)).toEqual([]);
  });

  it("fails on an unknown command or flag, in blocks, spans and headings", () => {
    const md = [
      "```sh",
      "pnpm -s stress run --seeds 5 --shards 2",
      "pnpm stress frobnicate",
      "```",
      "### `replay <token> [--explain] [--full-trace]`",
      "Use `primetime-stress --depth 3`.",
    ].join("\n");
    expect(lines(checkCli("README.md", md, CLI))).toEqual([
      "2: primetime-stress run has no flag --shards: use one of --seeds, --workers, --help (or fix the CLI)",
      '3: primetime-stress has no command "frobnicate": name one of start, demo, run, replay',
      "5: primetime-stress replay has no flag --full-trace: use one of --explain, --help (or fix the CLI)",
      "6: primetime-stress start has no flag --depth: use one of --seed, --help (or fix the CLI)",
    ]);
  });
});

describe("checkCli: flags in a command's section", () => {
  it("checks code spans that start with a flag against the section heading's commands", () => {
    const md = [
      "### `run`: a campaign",
      "",
      "- `--seeds N`: schedules; `--workers N`; `--no-color`.",
      "- `--shards i/n`: a typo.",
      "```sh",
      "--not-checked-in-a-block",
      "```",
      "### `replay <token>`, `start`",
      "`--explain` and `--seed n`, not `--seeds`.",
      "## Other",
      "`--anything` goes here.",
    ].join("\n");
    expect(lines(checkCli("README.md", md, CLI))).toEqual([
      "4: --shards is no flag of run (this section's command): use one of --seeds, --workers, --help",
      "9: --seeds is no flag of replay or start (this section's command): use one of --explain, --help, --seed",
    ]);
  });
});

describe("checkPaths", () => {
  const packages = ["packages/gem", "tools/gen"];
  const tree = new Set([
    "packages/gem/src/gem.ts",
    "packages/gem/src",
    "packages/gem",
    "packages/drivers",
    "tools/gen/templates/src/x.ts",
    "tools/gen/templates/src",
  ]);
  const exists = (p: string) => tree.has(p);

  it("passes existing paths, placeholders, globs and URLs", () => {
    const md = [
      "See `packages/gem/src/gem.ts`, packages/gem and `src/gem.ts`.",
      "A new driver goes to `packages/drivers/<name>`; tests are `packages/*/src/*.test.ts`.",
      "Upstream: https://example.org/packages/none/src/none.ts.",
    ].join("\n");
    expect(checkPaths("packages/gem/README.md", md, exists, packages)).toEqual([]);
    expect(checkPaths("README.md", "`src/gem.ts` of gem\n", exists, packages)).toEqual([]);
    expect(checkPaths("tools/gen/templates/README.md", "`src/x.ts`\n", exists, packages)).toEqual(
      [],
    );
  });

  it("fails on paths that do not exist, resolving src/ from the package", () => {
    const md = "See `packages/gem/src/gone.ts`.\nAnd `src/gone.ts`, tools/none.\nCI: `.ci/gone`.\n";
    expect(lines(checkPaths("packages/gem/README.md", md, exists, packages))).toEqual([
      "1: names packages/gem/src/gone.ts, which does not exist: fix the path or the sentence",
      "2: names tools/none, which does not exist: fix the path or the sentence",
      "3: names .ci/gone, which does not exist: fix the path or the sentence",
      "2: names src/gone.ts, which does not exist in packages/gem: fix the path or the sentence",
    ]);
    expect(lines(checkPaths("README.md", "`src/x.ts`\n", exists, packages))).toEqual([
      "1: names src/x.ts, which does not exist in any package: fix the path or the sentence",
    ]);
  });
});

describe("checkRegistries", () => {
  it("passes tables listing exactly the registry (or its prefixes) and true counts", () => {
    const md = [
      "There are 3<!-- check-docs: count toggles --> toggles.",
      "",
      "<!-- check-docs: table toggles gem. -->",
      "",
      "| toggle  | what |",
      "| ------- | ---- |",
      "| `gem.b` | b    |",
      "| `gem.a` | a    |",
    ].join("\n");
    expect(checkRegistries("README.md", md, REGISTRIES)).toEqual([]);
  });

  it("fails on missing and extra rows, a wrong count, an unknown registry, a lost table", () => {
    const md = [
      "2<!-- check-docs: count scenarios --> and 3<!-- check-docs: count scenarios -->.",
      "<!-- check-docs: table toggles -->",
      "| toggle  | what |",
      "| ------- | ---- |",
      "| `gem.a` | a    |",
      "| `gem.z` | z    |",
      "<!-- check-docs: table drivers -->",
      "<!-- check-docs: table scenarios -->",
      "No table here.",
    ].join("\n");
    expect(lines(checkRegistries("README.md", md, REGISTRIES))).toEqual([
      "2: the toggles table lacks gem.b, ttm.c: add a row each",
      "2: the toggles table lists gem.z, not registered: remove or rename the rows",
      '7: no registry "drivers": name one of toggles, scenarios',
      "8: no table follows the scenarios mark: put it right above the table",
      "1: says 3 scenarios, there are 2: write 2",
    ]);
  });
});

describe("checkRegistries: headings", () => {
  it("passes when the sections after the mark are the registry's, fails on missing and extra", () => {
    const ok = "<!-- check-docs: headings scenarios -->\n\n## `two`\n\ntext\n\n## `one`\n";
    expect(checkRegistries("K.md", ok, REGISTRIES)).toEqual([]);
    const bad = "## `zero`\n<!-- check-docs: headings scenarios -->\n## `one`\n## `three`\n";
    expect(lines(checkRegistries("K.md", bad, REGISTRIES))).toEqual([
      '2: no section for two of scenarios: add a "## `name`" section each',
      "2: sections for three, not in scenarios: remove or rename them",
    ]);
  });
});

describe("exports", () => {
  const sources: Record<string, string> = {
    "/p/sim/index.ts": [
      'export { point, type Sim } from "./point.js";',
      'export * from "./toggles.js";',
      'export * as testing from "./testing.js";',
      "export async function spawn() {}",
      "export interface Task {}",
    ].join("\n"),
    "/p/sim/point.ts": "export const point = 1;\nexport type Sim = number;\n",
    "/p/sim/toggles.ts":
      "export function defineToggle() {}\nexport const listToggles = () => [];\n",
    "/p/sim/explore.ts":
      'export { PosStrategy as Pos } from "./pos.js";\nexport class Explorer {}\n',
  };
  const read = (f: string) => sources[f] ?? null;
  const resolve = (spec: string) =>
    spec === "@primetime/sim"
      ? "/p/sim/index.ts"
      : spec === "@primetime/sim/explore"
        ? "/p/sim/explore.ts"
        : null;
  const exportsOf = (spec: string) => {
    const f = resolve(spec);
    return f ? moduleExports(f, read, resolve) : null;
  };

  it("reads declarations, export lists, aliases and export * of a module's sources", () => {
    expect([...moduleExports("/p/sim/index.ts", read, resolve)].sort()).toEqual([
      "Sim",
      "Task",
      "defineToggle",
      "listToggles",
      "point",
      "spawn",
      "testing",
    ]);
  });

  it("passes names the module exports, in prose and in imports", () => {
    const md = [
      "Mark windows with `point()` from `@primetime/sim`; `defineToggle()` and `listToggles()` of `@primetime/sim`.",
      "The `Explorer` (`@primetime/sim/explore`).",
      "```ts",
      'import { point, type Task, spawn as go } from "@primetime/sim";',
      "```",
    ].join("\n");
    expect(checkExports("README.md", md, exportsOf)).toEqual([]);
  });

  it("fails on a name the module does not export and on an unknown module", () => {
    const md = [
      "`PosStrategy` of `@primetime/sim`, `point` and `explore()` from `@primetime/sim`.",
      'import { Pos, minimize } from "@primetime/sim/explore";',
      "`x` of `@primetime/nope`.",
    ].join("\n");
    expect(lines(checkExports("README.md", md, exportsOf))).toEqual([
      "1: @primetime/sim does not export PosStrategy: name the module that does, or the current name",
      "1: @primetime/sim does not export explore: name the module that does, or the current name",
      "3: names @primetime/nope, which no workspace package exports: fix the specifier",
      "2: @primetime/sim/explore does not export minimize: name the module that does, or the current name",
    ]);
  });

  it("reads this repository's modules through their source export condition", () => {
    const root = fileURLToPath(new URL("../../..", import.meta.url));
    const real = workspaceExports(root);
    expect(real("@primetime/sim/explore")?.has("explore")).toBe(true);
    expect(real("@primetime/sim")?.has("explore")).toBe(false);
    expect(real("@primetime/conformance/vitest")?.has("defineConformanceSuite")).toBe(true);
  });
});

describe("checkDefaults", () => {
  const defaults = {
    SEARCH_DEFAULTS: { strategy: "portfolio", schedules: 1000, stepLimit: 200_000, toggles: [] },
  };
  const table = (rows: string[]) =>
    [
      "<!-- check-docs: defaults SEARCH_DEFAULTS -->",
      "",
      "| option | default | meaning |",
      "| --- | --- | --- |",
      ...rows,
    ].join("\n");

  it("passes a table with every option and its value as the code has it", () => {
    const md = table([
      '| `strategy` | `"portfolio"` | a name |',
      "| `schedules` | 1000 | at most |",
      "| `stepLimit` | 200 000 | livelock |",
      "| `toggles` | none | on |",
    ]);
    expect(checkDefaults("R.md", md, defaults)).toEqual([]);
  });

  it("fails on a wrong value, a missing and an extra option, an unknown name", () => {
    const md = `${table(['| `strategy` | `"pct"` | a name |', "| `schedules` | 100 | at most |", "| `toggles` | none | on |", "| `depth` | 3 | pct |"])}\n\n<!-- check-docs: defaults NOPE -->\n`;
    expect(lines(checkDefaults("R.md", md, defaults))).toEqual([
      '1: the SEARCH_DEFAULTS table says strategy defaults to `"pct"`, the code to portfolio: write portfolio',
      "1: the SEARCH_DEFAULTS table says schedules defaults to 100, the code to 1000: write 1000",
      "1: the SEARCH_DEFAULTS table lacks stepLimit: add its row (default 200000)",
      "1: the SEARCH_DEFAULTS table lists depth, which SEARCH_DEFAULTS has not: remove the row",
      '10: no defaults "NOPE": name one of SEARCH_DEFAULTS',
    ]);
  });
});

describe("checkDependencies", () => {
  const manifest = {
    dependencies: { "@primetime/gem": "workspace:*", picomatch: "^4" },
    peerDependencies: { "@primetime/sim": "workspace:*" },
  };

  it("passes a README naming every runtime and peer dependency", () => {
    const readme = "Dependencies: `gem` (the DRM core), `picomatch`, `@primetime/sim` (a peer).";
    expect(checkDependencies("packages/x", manifest, readme)).toEqual([]);
  });

  it("fails on a dependency the README does not name, and on a missing README", () => {
    expect(lines(checkDependencies("packages/x", manifest, "Dependencies: `gem`."))).toEqual([
      "1: does not name its dependency picomatch: say in its Dependencies section why it is used",
      "1: does not name its dependency @primetime/sim: say in its Dependencies section why it is used",
    ]);
    expect(lines(checkDependencies("tools/y", {}, null))).toEqual([
      "1: the package has no README.md: write one (what it is, how to use it, its dependencies)",
    ]);
  });

  const withDev = {
    name: "@primetime/libdrm",
    dependencies: { "@primetime/kernel": "workspace:*" },
    devDependencies: { "@primetime/vitest-config": "workspace:*" },
    peerDependencies: { "@primetime/sim": "workspace:*" },
  };

  it("passes a Dependencies section naming only declared packages, its own name and subpaths", () => {
    const readme = [
      "# @primetime/libdrm",
      "",
      "Uses `@primetime/vgem` in an example (not a Dependencies section).",
      "",
      "## Dependencies",
      "",
      "- `@primetime/kernel`: syscalls; `@primetime/sim` (peer), `@primetime/sim/explore` in tests.",
      "- dev: `@primetime/vitest-config`; `@primetime/libdrm` itself is not a dependency.",
      "",
      "## Next",
      "",
      "`@primetime/gem` is free to be named here.",
    ].join("\n");
    expect(checkDependencies("packages/libdrm", withDev, readme)).toEqual([]);
  });

  it("fails on a workspace package the Dependencies section names but the manifest does not declare", () => {
    const readme = [
      "# x", // 1
      "",
      "## Dependencies", // 3
      "",
      "- `@primetime/kernel`, `@primetime/sim`.", // 5
      "- dev: `@primetime/vgem`, the device the tests talk to.", // 6
      "",
      "### Dev only", // 8: a subsection is still the section
      "",
      "- `@primetime/conformance/vitest` and `@primetime/vgem` again.", // 10
      "",
      "## Tests", // 12
      "",
      "- `@primetime/qxl` is out of the section.",
      "",
      "Dependencies: `@primetime/vitest-config`, `@primetime/gem` (a paragraph form).", // 16
      "",
      "Dependency of nothing.", // 18
    ].join("\n");
    expect(lines(checkDependencies("packages/libdrm", withDev, readme))).toEqual([
      "6: its Dependencies section names @primetime/vgem, which package.json does not declare: drop the line, or declare the dependency",
      "10: its Dependencies section names @primetime/conformance, which package.json does not declare: drop the line, or declare the dependency",
      "16: its Dependencies section names @primetime/gem, which package.json does not declare: drop the line, or declare the dependency",
    ]);
  });
});

describe("checkKernelVersion", () => {
  it("passes a package README naming the version it follows, in any recognised form", () => {
    for (const readme of [
      "## Kernel version\n\nIt follows **Linux v6.18**: drm_gem.c checked at commit 1234.",
      "It follows **Linux\nv6.15/v6.16** (mid-2025).",
      "A userspace library: it follows **libdrm 2.4.125** (xf86drm.c).",
      "Its cases follow IGT: it follows **IGT 2.1** (igt-gpu-tools, 2025).",
      "**No kernel counterpart** as a whole; its lockdep checks follow **Linux v6.18**.",
    ]) {
      expect(checkKernelVersion("packages/x", readme)).toEqual([]);
    }
    // Apps and tools model no kernel code; a missing README is checkDependencies()' finding.
    expect(checkKernelVersion("apps/stress", "A CLI.")).toEqual([]);
    expect(checkKernelVersion("packages/x", null)).toEqual([]);
  });

  it("fails a package README naming no version, or naming one only in passing", () => {
    const message =
      "1: names no version it follows: add a Kernel version paragraph saying `follows **Linux vX.Y**` " +
      "(or `**libdrm 2.4.N**`, `**IGT X.Y**`), or `**No kernel counterpart**`";
    for (const readme of [
      "The kernel's buffer-sharing core, modelled on Linux v6.x.",
      "epoll (Linux v6.18): epoll_create1.",
      "It follows **Linux mainline**.",
      "It follows Linux v6.18.",
    ]) {
      expect(lines(checkKernelVersion("packages/drivers/y", readme))).toEqual([message]);
    }
  });
});

describe("checkToggleCommits", () => {
  const commits = { "gem.a": "a8e11d1c435f0123", "ttm.c": "hash not confirmed" };

  it("passes rows quoting their commit, and tables without a fix column", () => {
    const md = [
      "| toggle | fixed by (commit) |",
      "| --- | --- |",
      "| `gem.a` | a8e11d1c435f drm/gem: fix |",
      "| `ttm.c` | (hash not confirmed) |",
      "",
      "| toggle | what |",
      "| --- | --- |",
      "| `gem.a` | a race |",
    ].join("\n");
    expect(checkToggleCommits("R.md", md, commits)).toEqual([]);
  });

  it("fails on a row that quotes another hash or none", () => {
    const md = "| toggle | kind / commit |\n| --- | --- |\n| `gem.a` | historic, 20228c447846 |\n";
    expect(lines(checkToggleCommits("R.md", md, commits))).toEqual([
      "3: the row of gem.a does not quote its fixing commit a8e11d1c435f: write the hash the toggle's `commit` has",
    ]);
  });
});

describe("checkScripts", () => {
  const scripts = {
    root: new Set(["lint", "lint:facts", "stress", "test"]),
    packages: new Map([["@primetime/vgem", new Set(["test", "bench"])]]),
    bins: new Set(["turbo", "tsx"]),
  };

  it("passes root scripts, package scripts, bins, pnpm's commands and placeholders", () => {
    const md = [
      "```sh",
      "pnpm install && pnpm -s lint:facts   # pnpm nothing-here in a comment",
      "pnpm --filter @primetime/vgem bench",
      "pnpm turbo gen driver",
      "pnpm --filter @primetime/<name> test",
      "```",
      "Run `pnpm -s stress list`, `pnpm exec tsx x.ts` or `pnpm --filter=@primetime/vgem test`.",
    ].join("\n");
    expect(checkScripts("README.md", md, scripts)).toEqual([]);
  });

  it("fails on a missing root script, package or package script", () => {
    const md =
      "```sh\npnpm bench\npnpm --filter @primetime/gone test\n```\n`pnpm --filter @primetime/vgem bench:strategies`\n";
    expect(lines(checkScripts("README.md", md, scripts))).toEqual([
      '2: pnpm bench: the root package.json has no script "bench": name one of lint, lint:facts, stress, test',
      "3: pnpm --filter @primetime/gone: no workspace package has that name: fix the name",
      '5: pnpm --filter @primetime/vgem bench:strategies: the package has no script "bench:strategies": name one of test, bench',
    ]);
  });
});

describe("checkDocFacts", () => {
  it("reports every Markdown file's problems with file and line", () => {
    const root = writeTree({
      "README.md": "`pnpm -s stress run --nope`\n",
      "packages/gem/package.json": "{}",
      "packages/gem/README.md": "It follows **Linux v6.18**.\n`src/none.ts`\n",
      "packages/gem/CHANGELOG.md": "`src/old.ts`\n",
    });
    const problems = checkDocFacts(root, {
      cli: CLI,
      registries: REGISTRIES,
      exportsOf: () => null,
      scripts: { root: new Set(["stress"]), packages: new Map(), bins: new Set() },
    });
    expect(problems.map((p) => `${p.file}:${p.line}`)).toEqual([
      "packages/gem/README.md:2",
      "README.md:1",
    ]);
  });
});

describe("loadFacts", () => {
  it("reads the real CLI and registries of this repository", async () => {
    const root = fileURLToPath(new URL("../../..", import.meta.url));
    const facts = await loadFacts(root);
    expect(facts.cli.commands.get("run")?.has("--seeds")).toBe(true);
    expect(facts.cli.commands.get("demo")).toBe(facts.cli.commands.get("start"));
    expect(facts.registries.toggles).toContain("gem.flink-no-handle-count-check");
    expect(facts.registries.drivers).toContain("vgem");
    expect(facts.registries["conformance.cases"]).toContain("prime_vgem/basic-read-to-vgem");
    expect(facts.registries.windows).toContain("qxl.handle-create-leak");
    expect(facts.defaults?.SEARCH_DEFAULTS?.strategy).toBeTypeOf("string");
    expect(facts.toggleCommits?.["gem.flink-no-handle-count-check"]).toMatch(/^a8e11d1c435f/);
  });
});
