/**
 * Checks that every publishable workspace package is something people can depend on: a licence
 * (the root LICENSE, copied into the package so the tarball carries it), the npm metadata that
 * makes its page useful (description, keywords, repository with directory, homepage, bugs),
 * a `files` list that ships no tests and no test-only modules, a `sideEffects` field that keeps
 * the modules registering historic-bug toggles, and `@primetime/sim` as a peer dependency (one
 * running simulation per process: a second copy of sim would silently disable the scheduling
 * points of the packages using it).
 *
 * Usage: `tsx tools/check-packages/check-packages.ts [--fix] [workspace-root]`. Exits 1 on any
 * problem. `--fix` writes the metadata fields derived from the root package.json (licence,
 * repository, homepage, bugs), copies LICENSE, and adds the test-file exclusions to `files`;
 * what it cannot derive (description, keywords, sideEffects) it leaves for you to write.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import picomatch from "picomatch";

export interface Problem {
  /** Package directory relative to the workspace root, `/`-separated. */
  readonly dir: string;
  readonly message: string;
}

export interface WorkspacePackage {
  readonly dir: string;
  readonly manifest: Manifest;
}

type Manifest = Record<string, unknown> & {
  name?: string;
  private?: boolean;
  files?: string[];
  sideEffects?: boolean | string[];
  exports?: Record<string, unknown>;
};

/** The `files` entries every package with tests in `src/` needs: tests stay out of the tarball. */
export const TEST_EXCLUSIONS = ["!src/**/*.test.ts", "!dist/**/*.test.*"] as const;

const SOURCE = /\.(ts|mts|cts|mjs|js)$/;
const TEST_FILE = /\.test\.(ts|mts|cts|mjs|js)$/;

const toPosix = (p: string) => p.split(sep).join("/");

function readJson(file: string): Manifest {
  return JSON.parse(readFileSync(file, "utf8")) as Manifest;
}

/** The workspace globs of pnpm-workspace.yaml (`dir/*` or a plain directory). */
export function workspaceGlobs(root: string): string[] {
  const text = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  const globs: string[] = [];
  let inPackages = false;
  for (const line of text.split("\n")) {
    if (/^packages:\s*$/.test(line)) inPackages = true;
    else if (/^\S/.test(line)) inPackages = false;
    else if (inPackages) {
      const m = /^\s+-\s+["']?([^"'#]+?)["']?\s*(#.*)?$/.exec(line);
      if (m?.[1]) globs.push(m[1]);
    }
  }
  return globs;
}

/** The names pinned once in pnpm-workspace.yaml's `catalog:` (the shared toolchain versions). */
export function catalogNames(root: string): string[] {
  const text = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  const names: string[] = [];
  let inCatalog = false;
  for (const line of text.split("\n")) {
    if (/^catalog:\s*$/.test(line)) inCatalog = true;
    else if (/^\S/.test(line)) inCatalog = false;
    else if (inCatalog) {
      const m = /^\s+["']?([^"':\s]+)["']?\s*:/.exec(line);
      if (m?.[1]) names.push(m[1]);
    }
  }
  return names;
}

export function findWorkspacePackages(root: string): WorkspacePackage[] {
  const dirs: string[] = [];
  for (const glob of workspaceGlobs(root)) {
    if (glob.endsWith("/*")) {
      const parent = join(root, glob.slice(0, -2));
      if (!existsSync(parent)) continue;
      for (const name of readdirSync(parent).sort()) {
        if (existsSync(join(parent, name, "package.json")))
          dirs.push(toPosix(relative(root, join(parent, name))));
      }
    } else if (existsSync(join(root, glob, "package.json"))) dirs.push(glob);
  }
  return dirs.map((dir) => ({ dir, manifest: readJson(join(root, dir, "package.json")) }));
}

function listFiles(dir: string, base: string = dir): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === "node_modules") continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listFiles(full, base));
    else out.push(toPosix(relative(base, full)));
  }
  return out;
}

/**
 * Whether npm would ship `file` (relative to the package) under the manifest's `files` list:
 * a file is shipped when a positive entry matches it (a directory entry matches everything
 * under it) and no later negated entry does.
 */
export function isShipped(files: readonly string[], file: string): boolean {
  let shipped = false;
  for (const entry of files) {
    const negated = entry.startsWith("!");
    const pattern = (negated ? entry.slice(1) : entry).replace(/^\.\//, "").replace(/\/$/, "");
    const matches =
      picomatch.isMatch(file, pattern, { dot: true }) ||
      picomatch.isMatch(file, `${pattern}/**`, { dot: true });
    if (matches) shipped = !negated;
  }
  return shipped;
}

/** Source entry points of the package: every `@primetime/source` (or plain string) export target. */
function exportEntries(manifest: Manifest): string[] {
  const out: string[] = [];
  const visit = (v: unknown) => {
    if (typeof v === "string") {
      if (v.startsWith("./src/")) out.push(v.slice(2));
    } else if (v && typeof v === "object") {
      for (const [k, inner] of Object.entries(v)) if (k !== "types") visit(inner);
    }
  };
  visit(manifest.exports);
  const bin = manifest.bin;
  if (bin && typeof bin === "object") for (const v of Object.values(bin)) visit(v);
  return out;
}

const RELATIVE_IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|new\s+URL\s*\(\s*)["'](\.{1,2}\/[^"']+)["']/g;

/**
 * The `src/` files reachable from the package's entry points through relative imports (static,
 * dynamic, side-effect imports and `new URL("./x", import.meta.url)` worker files). A source file
 * that no entry reaches is test-only (or dead) and must not be shipped.
 */
export function reachableSources(pkgDir: string, manifest: Manifest): Set<string> {
  const seen = new Set<string>();
  const queue = exportEntries(manifest);
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file) || !existsSync(join(pkgDir, file))) continue;
    seen.add(file);
    const text = readFileSync(join(pkgDir, file), "utf8");
    for (const m of text.matchAll(RELATIVE_IMPORT)) {
      const spec = m[1]!;
      const target = toPosix(join(dirname(file), spec));
      const candidates = [target, target.replace(/\.js$/, ".ts"), target.replace(/\.mjs$/, ".mts")];
      if (!/\.[a-z]+$/.test(target)) candidates.push(`${target}.ts`, `${target}/index.ts`);
      const hit = candidates.find((c) => existsSync(join(pkgDir, c)));
      if (hit) queue.push(hit);
    }
  }
  return seen;
}

/**
 * `src/` files that call defineToggle() or defineKnownWindow() at module level (an unindented
 * line, not a comment, outside a function): importing them registers toggles.
 */
function toggleModules(pkgDir: string): string[] {
  return listFiles(join(pkgDir, "src"))
    .map((f) => `src/${f}`)
    .filter((f) => !TEST_FILE.test(f) && SOURCE.test(f))
    .filter((f) =>
      /^(?![ \t]|\/[/*])(?!.*\bfunction\b)[^\n]*\b(?:defineToggle|defineKnownWindow)\(/m.test(
        readFileSync(join(pkgDir, f), "utf8"),
      ),
    );
}

/** `src/foo/bar.ts` -> `dist/foo/bar.js`. */
const distOf = (src: string) => src.replace(/^src\//, "dist/").replace(/\.ts$/, ".js");

function coversSideEffect(sideEffects: boolean | string[] | undefined, file: string): boolean {
  if (sideEffects === true) return true;
  if (!Array.isArray(sideEffects)) return false;
  const both = [file, distOf(file)];
  return both.every((f) =>
    sideEffects.some((p) => picomatch.isMatch(f, p.replace(/^\.\//, ""), { dot: true })),
  );
}

interface RootInfo {
  readonly repositoryUrl: string;
  readonly web: string;
  readonly license: string;
}

export function rootInfo(root: string): RootInfo {
  const m = readJson(join(root, "package.json"));
  const repo = m.repository as { url?: string } | undefined;
  const url = repo?.url;
  const license = m.license;
  if (typeof url !== "string" || typeof license !== "string")
    throw new Error("the root package.json needs `license` and `repository.url`");
  const web = url.replace(/^git\+/, "").replace(/\.git$/, "");
  return { repositoryUrl: url, web, license };
}

/** The metadata fields a package's manifest must carry, derived from the root's. */
export function expectedMetadata(info: RootInfo, dir: string) {
  return {
    license: info.license,
    repository: { type: "git", url: info.repositoryUrl, directory: dir },
    homepage: `${info.web}/tree/main/${dir}#readme`,
    bugs: { url: `${info.web}/issues` },
  };
}

export function checkPackage(root: string, pkg: WorkspacePackage, info: RootInfo): Problem[] {
  const { dir, manifest } = pkg;
  const problems: Problem[] = [];
  const say = (message: string) => problems.push({ dir, message });
  for (const field of ["dependencies", "devDependencies"]) {
    const deps = (manifest[field] ?? {}) as Record<string, string>;
    for (const name of catalogNames(root)) {
      if (name in deps && deps[name] !== "catalog:")
        say(
          `${field}.${name} must be "catalog:" (the toolchain version lives in pnpm-workspace.yaml)`,
        );
    }
  }
  if (manifest.private) return problems;
  const pkgDir = join(root, dir);

  if (typeof manifest.description !== "string" || manifest.description.trim() === "")
    say("needs a `description`");
  const keywords = manifest.keywords;
  if (!Array.isArray(keywords) || keywords.length === 0) say("needs `keywords`");
  const expected = expectedMetadata(info, dir);
  for (const [field, want] of Object.entries(expected)) {
    if (JSON.stringify(manifest[field]) !== JSON.stringify(want))
      say(`\`${field}\` must be ${JSON.stringify(want)} (run with --fix)`);
  }
  const licenseText = readFileSync(join(root, "LICENSE"), "utf8");
  if (
    !existsSync(join(pkgDir, "LICENSE")) ||
    readFileSync(join(pkgDir, "LICENSE"), "utf8") !== licenseText
  )
    say("needs a copy of the root LICENSE (run with --fix)");
  if (!existsSync(join(pkgDir, "README.md"))) say("needs a README.md");
  const engines = manifest.engines as { node?: string } | undefined;
  if (!engines?.node) say("needs `engines.node`");

  const files = manifest.files;
  if (!Array.isArray(files) || !files.includes("dist")) say("`files` must list dist");
  else {
    const reachable = reachableSources(pkgDir, manifest);
    for (const f of listFiles(join(pkgDir, "src")).map((f) => `src/${f}`)) {
      if (!isShipped(files, f)) continue;
      if (TEST_FILE.test(f)) say(`\`files\` ships the test ${f} (add ${TEST_EXCLUSIONS[0]})`);
      else if (SOURCE.test(f) && !reachable.has(f))
        say(`\`files\` ships ${f}, which no export reaches (test-only?): exclude it with "!${f}"`);
    }
  }

  if (manifest.sideEffects === undefined)
    say("needs `sideEffects` (false, or the files that register toggles on import)");
  for (const f of toggleModules(pkgDir)) {
    if (!coversSideEffect(manifest.sideEffects, f))
      say(
        `${f} registers toggles on import: list "./${f}" and "./${distOf(f)}" in \`sideEffects\``,
      );
  }

  const deps = (manifest.dependencies ?? {}) as Record<string, string>;
  const peers = (manifest.peerDependencies ?? {}) as Record<string, string>;
  if (manifest.name !== "@primetime/sim" && usesSim(manifest)) {
    if ("@primetime/sim" in deps)
      say("@primetime/sim must be a peerDependency, not a dependency (one simulation per process)");
    if (!("@primetime/sim" in peers)) say("needs @primetime/sim in `peerDependencies`");
  }
  return problems;
}

function usesSim(m: Manifest): boolean {
  for (const field of ["dependencies", "peerDependencies", "devDependencies"]) {
    const deps = m[field] as Record<string, string> | undefined;
    if (deps && "@primetime/sim" in deps) return true;
  }
  return false;
}

/** Writes what can be derived: metadata fields, the LICENSE copy, test exclusions, sim as peer. */
export function fixPackage(root: string, pkg: WorkspacePackage, info: RootInfo): void {
  if (pkg.manifest.private) return;
  const pkgDir = join(root, pkg.dir);
  const m: Manifest = { ...pkg.manifest };
  Object.assign(m, expectedMetadata(info, pkg.dir));
  if (Array.isArray(m.files)) {
    const files = [...m.files];
    for (const ex of TEST_EXCLUSIONS) if (!files.includes(ex)) files.push(ex);
    const reachable = reachableSources(pkgDir, m);
    for (const f of listFiles(join(pkgDir, "src")).map((f) => `src/${f}`)) {
      if (SOURCE.test(f) && !TEST_FILE.test(f) && !reachable.has(f) && isShipped(files, f))
        files.push(`!${f}`, `!${distOf(f)}`, `!${distOf(f).replace(/\.js$/, ".d.ts")}`);
    }
    m.files = [...new Set(files)];
  }
  if (m.name !== "@primetime/sim" && usesSim(m)) {
    const deps = { ...((m.dependencies ?? {}) as Record<string, string>) };
    const peers = { ...((m.peerDependencies ?? {}) as Record<string, string>) };
    const devs = { ...((m.devDependencies ?? {}) as Record<string, string>) };
    if ("@primetime/sim" in deps) {
      delete deps["@primetime/sim"];
      m.dependencies = deps;
    }
    peers["@primetime/sim"] = "workspace:^";
    devs["@primetime/sim"] = "workspace:*";
    m.peerDependencies = peers;
    m.devDependencies = sortKeys(devs);
  }
  writeFileSync(join(pkgDir, "package.json"), `${JSON.stringify(orderFields(m), null, 2)}\n`);
  writeFileSync(join(pkgDir, "LICENSE"), readFileSync(join(root, "LICENSE"), "utf8"));
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

const FIELD_ORDER = [
  "name",
  "version",
  "private",
  "description",
  "keywords",
  "license",
  "homepage",
  "bugs",
  "repository",
  "type",
  "sideEffects",
  "exports",
  "main",
  "types",
  "bin",
  "files",
  "engines",
  "scripts",
];

function orderFields(m: Manifest): Manifest {
  const out: Manifest = {};
  for (const k of FIELD_ORDER) if (k in m) out[k] = m[k];
  for (const [k, v] of Object.entries(m)) if (!(k in out)) out[k] = v;
  return out;
}

export function checkWorkspace(root: string): Problem[] {
  const info = rootInfo(root);
  const problems: Problem[] = [];
  if (!existsSync(join(root, "LICENSE"))) problems.push({ dir: ".", message: "needs a LICENSE" });
  else
    for (const pkg of findWorkspacePackages(root)) problems.push(...checkPackage(root, pkg, info));
  return problems;
}

function findRoot(from: string): string {
  let dir = resolve(from);
  while (!existsSync(join(dir, "pnpm-workspace.yaml"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("no pnpm-workspace.yaml above the working directory");
    dir = up;
  }
  return dir;
}

function main(argv: string[]): number {
  const fix = argv.includes("--fix");
  const rest = argv.filter((a) => a !== "--fix");
  const root = findRoot(rest[0] ?? process.cwd());
  if (fix) {
    const info = rootInfo(root);
    for (const pkg of findWorkspacePackages(root)) fixPackage(root, pkg, info);
  }
  const problems = checkWorkspace(root);
  for (const p of problems) console.error(`${p.dir}: ${p.message}`);
  if (problems.length > 0) {
    console.error(`check-packages: ${problems.length} problem(s)`);
    return 1;
  }
  console.log(`check-packages: ${findWorkspacePackages(root).length} packages ok`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
