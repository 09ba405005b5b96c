/**
 * The package graph of ARCHITECTURE.md, generated from the workspace's real dependencies: every
 * package under packages/ and apps/, an arrow from each package to the packages it depends on
 * (`dependencies` and `peerDependencies`; the transitive reduction, so an arrow means "directly,
 * and not already through another package"), and a dotted arrow for a test-only
 * `devDependencies` edge the runtime graph does not already imply (a driver running the
 * conformance suite in its own tests).
 *
 * ARCHITECTURE.md holds the diagram between `<!-- package-graph:start -->` and
 * `<!-- package-graph:end -->`; `test/package-graph.test.ts` fails when it is stale.
 *
 * Usage: `tsx tools/check-docs/package-graph.ts [root] [--write | --check]` prints the Mermaid
 * block, writes it into ARCHITECTURE.md, or fails when ARCHITECTURE.md's is stale (`pnpm lint`).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

export const START = "<!-- package-graph:start -->";
export const END = "<!-- package-graph:end -->";
const SCOPE = "@primetime/";

interface Pkg {
  readonly name: string;
  readonly deps: ReadonlySet<string>;
  readonly devDeps: ReadonlySet<string>;
}

function readPackages(root: string): Pkg[] {
  const dirs: string[] = [];
  for (const parent of ["packages", "packages/drivers", "apps"]) {
    const p = join(root, parent);
    if (!existsSync(p)) continue;
    for (const e of readdirSync(p, { withFileTypes: true })) {
      if (e.isDirectory() && existsSync(join(p, e.name, "package.json"))) {
        dirs.push(join(p, e.name));
      }
    }
  }
  const pkgs = dirs.map((d) => {
    const m = JSON.parse(readFileSync(join(d, "package.json"), "utf8")) as Record<
      string,
      Record<string, string> | string
    >;
    const names = (field: string) =>
      Object.keys((m[field] as Record<string, string> | undefined) ?? {}).filter((n) =>
        n.startsWith(SCOPE),
      );
    return {
      name: m.name as string,
      deps: new Set([...names("dependencies"), ...names("peerDependencies")]),
      devDeps: new Set(names("devDependencies")),
    };
  });
  const known = new Set(pkgs.map((p) => p.name));
  return pkgs
    .map((p) => ({
      name: p.name,
      deps: new Set([...p.deps].filter((n) => known.has(n))),
      devDeps: new Set([...p.devDeps].filter((n) => known.has(n))),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The Mermaid diagram (a fenced block) of the workspace at `root`. */
export function packageGraph(root: string): string {
  const pkgs = readPackages(root);
  const byName = new Map(pkgs.map((p) => [p.name, p]));
  const reach = new Map<string, Set<string>>();
  const closure = (name: string): Set<string> => {
    const known = reach.get(name);
    if (known) return known;
    const out = new Set<string>();
    reach.set(name, out);
    for (const d of byName.get(name)?.deps ?? []) {
      out.add(d);
      for (const x of closure(d)) out.add(x);
    }
    return out;
  };
  const short = (n: string) => n.slice(SCOPE.length);
  const id = (n: string) => short(n).replace(/[^a-z0-9]/gi, "_");
  const lines = ["```mermaid", "graph BT"];
  for (const p of pkgs) lines.push(`  ${id(p.name)}[${short(p.name)}]`);
  for (const p of pkgs) {
    for (const d of [...p.deps].sort()) {
      const viaOther = [...p.deps].some((o) => o !== d && closure(o).has(d));
      if (!viaOther) lines.push(`  ${id(p.name)} --> ${id(d)}`);
    }
  }
  for (const p of pkgs) {
    for (const d of [...p.devDeps].sort()) {
      if (d === p.name || p.deps.has(d) || closure(p.name).has(d)) continue;
      lines.push(`  ${id(p.name)} -.->|tests| ${id(d)}`);
    }
  }
  lines.push("```");
  return lines.join("\n");
}

/** `doc` with the block between the markers replaced by `graph`; null without markers. */
export function withGraph(doc: string, graph: string): string | null {
  const i = doc.indexOf(START);
  const j = doc.indexOf(END);
  if (i < 0 || j < i) return null;
  return `${doc.slice(0, i + START.length)}\n${graph}\n${doc.slice(j)}`;
}

export function main(argv: readonly string[]): number {
  const root = resolve(argv.find((a) => !a.startsWith("-")) ?? process.cwd());
  const graph = packageGraph(root);
  if (!argv.includes("--write") && !argv.includes("--check")) {
    console.log(graph);
    return 0;
  }
  const file = join(root, "ARCHITECTURE.md");
  const current = readFileSync(file, "utf8");
  const doc = withGraph(current, graph);
  if (doc === null) {
    console.error(`package-graph: ${file} has no ${START} ... ${END} block`);
    return 1;
  }
  if (argv.includes("--check")) {
    if (doc === current) {
      console.log("package-graph: ARCHITECTURE.md shows the current package graph");
      return 0;
    }
    console.error(
      "package-graph: ARCHITECTURE.md's package graph is stale (a dependency changed): run `pnpm lint:graph --write`",
    );
    return 1;
  }
  writeFileSync(file, doc);
  console.log(`package-graph: wrote ${file}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
