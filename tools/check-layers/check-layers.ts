/**
 * Enforces the package layering of ARCHITECTURE.md section 4: a package depends only on packages
 * below it. Checked twice for every workspace package: its package.json dependencies and the
 * import specifiers of its `src/` files (an import the manifest does not declare is an error too,
 * and so is a relative import that reaches into another package).
 *
 * Usage: `tsx tools/check-layers/check-layers.ts [workspace-root]` (default: the nearest
 * ancestor of the working directory holding pnpm-workspace.yaml). Exits 1 on any violation.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";

/**
 * ARCHITECTURE.md section 4, bottom (lowest rank) first. A package may depend only on packages of a
 * strictly lower rank: same-rank edges are violations too, so one driver may not import another
 * and one app may not import another. `dir` is a workspace package directory, or `parent/*`
 * for every package directly under `parent`. A new package directory must be added here.
 */
export const LAYERS: readonly { readonly dir: string; readonly what: string }[] = [
  { dir: "packages/uapi", what: "kernel/userspace ABI (include/uapi): ioctls, structs, flags" },
  { dir: "packages/sim", what: "scheduler, tasks, points, wait queues, clock, PRNG, trace, dmesg" },
  { dir: "packages/atomics", what: "atomic_t, refcount_t, kref" },
  { dir: "packages/rcu", what: "RCU" },
  { dir: "packages/kernel", what: "slab/KASAN, locks/lockdep, idr, workqueues, files, syscalls" },
  { dir: "packages/simgpu", what: "the simulated GPU device (hardware)" },
  { dir: "packages/dma-buf", what: "dma-buf, dma_fence, dma_resv" },
  { dir: "packages/gem", what: "DRM core, GEM, PRIME" },
  { dir: "packages/ttm", what: "TTM" },
  { dir: "packages/drivers/*", what: "DRM drivers" },
  { dir: "packages/libdrm", what: "userspace ioctl wrappers" },
  {
    dir: "packages/conformance",
    what: "the driver conformance suite (IGT-derived userspace tests)",
  },
  { dir: "apps/*", what: "applications (stress harness)" },
];

/** Workspace directories outside the layering: build and test tooling. Edges to them are free. */
export const TOOL_DIRS: readonly string[] = ["tools/*"];

/**
 * The upward edges ARCHITECTURE.md section 4 allows, test-only: a driver devDepends on the conformance suite
 * and runs it in its own tests (`defineConformanceSuite(itself, others)`), and its tests drive it
 * from userspace through libdrm. The edge must be a devDependency, and only test files
 * (`*.test.ts`) may import the target. (libdrm's own tests therefore use no driver: a driver's
 * test on libdrm would make a build cycle libdrm -> driver -> conformance -> libdrm.)
 */
export const TEST_ONLY_EDGES: readonly { readonly from: string; readonly to: string }[] = [
  { from: "packages/drivers/*", to: "packages/conformance" },
  { from: "packages/drivers/*", to: "packages/libdrm" },
];

/**
 * Downward edges that are refused all the same: the conformance suite depends on no driver (the
 * drivers run it), so any driver can be tested without the suite knowing it.
 */
export const FORBIDDEN_EDGES: readonly {
  readonly from: string;
  readonly to: string;
  readonly why: string;
}[] = [
  {
    from: "packages/conformance",
    to: "packages/drivers/*",
    why: "the conformance suite depends on no driver: a driver devDepends on it and runs defineConformanceSuite() in its own tests",
  },
];

/**
 * Entry points of a package that only some layers may import from non-test files: the search API
 * of @primetime/sim is for the harnesses (conformance, apps) and for tests, never for model code,
 * which only marks its race windows.
 */
export const RESTRICTED_ENTRIES: readonly {
  readonly specifier: string;
  readonly allowed: readonly string[];
  readonly why: string;
}[] = [
  {
    specifier: "@primetime/sim/explore",
    allowed: ["packages/conformance", "apps/*"],
    why: "model code marks race windows with point(); searching (explore, replay, strategies) is for tests and the harnesses",
  },
];

/** A test file: only these may use the test-only edges and restricted entries. */
const TEST_FILE = /\.test\.(ts|tsx|mts|cts)$/;

const SCOPE = "@primetime/";
const DEPENDENCY_FIELDS = ["dependencies", "devDependencies", "peerDependencies"] as const;
const SOURCE_FILE = /\.(ts|tsx|mts|cts)$/;

export interface WorkspacePackage {
  /** Directory relative to the workspace root, `/`-separated. */
  readonly dir: string;
  readonly name: string;
  /** Index into LAYERS; `null` for tools, `undefined` when the directory is in no layer. */
  readonly rank: number | null | undefined;
  readonly manifest: Record<string, unknown>;
}

export interface Violation {
  /** File relative to the workspace root, `/`-separated. */
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface CheckResult {
  readonly packages: readonly WorkspacePackage[];
  readonly violations: readonly Violation[];
}

const toPosix = (p: string): string => p.split(sep).join("/");

function matches(pattern: string, dir: string): boolean {
  if (pattern.endsWith("/*")) {
    const parent = pattern.slice(0, -2);
    return dirname(dir) === parent && dir !== parent;
  }
  return pattern === dir;
}

/** Rank of a workspace directory: LAYERS index, `null` for tools, `undefined` if unassigned. */
export function rankOf(dir: string): number | null | undefined {
  if (TOOL_DIRS.some((p) => matches(p, dir))) return null;
  const i = LAYERS.findIndex((l) => matches(l.dir, dir));
  return i < 0 ? undefined : i;
}

function layerName(rank: number): string {
  return LAYERS[rank]?.dir ?? `rank ${rank}`;
}

/** The `packages:` globs of pnpm-workspace.yaml (the simple list form pnpm documents). */
export function workspaceGlobs(root: string): string[] {
  const text = readFileSync(join(root, "pnpm-workspace.yaml"), "utf8");
  const globs: string[] = [];
  let inPackages = false;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trimEnd();
    if (line.trim() === "") continue;
    if (/^\S/.test(line)) {
      inPackages = line.startsWith("packages:");
      continue;
    }
    const item = inPackages ? /^\s*-\s*["']?([^"']+?)["']?\s*$/.exec(line) : null;
    if (item?.[1]) globs.push(item[1]);
  }
  return globs;
}

function listPackageDirs(root: string, glob: string): string[] {
  if (glob.startsWith("!")) return [];
  if (glob.includes("**") || /[*?[{]/.test(glob.replace(/\/\*$/, ""))) {
    throw new Error(`check-layers: unsupported workspace glob "${glob}" in pnpm-workspace.yaml`);
  }
  if (!glob.endsWith("/*")) return existsSync(join(root, glob, "package.json")) ? [glob] : [];
  const parent = glob.slice(0, -2);
  if (!existsSync(join(root, parent))) return [];
  return readdirSync(join(root, parent), { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(root, parent, e.name, "package.json")))
    .map((e) => `${parent}/${e.name}`);
}

/** Every workspace package (directories matched by pnpm-workspace.yaml with a package.json). */
export function findPackages(root: string): WorkspacePackage[] {
  const dirs = new Set(workspaceGlobs(root).flatMap((g) => listPackageDirs(root, g)));
  return [...dirs].sort().map((dir) => {
    const manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    const name = typeof manifest.name === "string" ? manifest.name : dir;
    return { dir, name, rank: rankOf(dir), manifest };
  });
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "node_modules") out.push(...sourceFiles(p));
    } else if (SOURCE_FILE.test(e.name) && !e.name.endsWith(".d.ts")) {
      out.push(p);
    }
  }
  return out.sort();
}

/** Package name of a bare specifier (`@primetime/sim/x` -> `@primetime/sim`). */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

function lineOf(text: string, needle: string, after = 0): number {
  const i = text.indexOf(needle, after);
  return i < 0 ? 1 : text.slice(0, i).split("\n").length;
}

/** Runs every check over the workspace at `root`. */
export function checkLayers(root: string): CheckResult {
  const packages = findPackages(root);
  const byName = new Map(packages.map((p) => [p.name, p]));
  const violations: Violation[] = [];

  for (const pkg of packages) {
    if (pkg.rank === undefined) {
      violations.push({
        file: `${pkg.dir}/package.json`,
        line: 1,
        message:
          `${pkg.name} (${pkg.dir}) is in no layer: add its directory to LAYERS in ` +
          "tools/check-layers/check-layers.ts, at its place in ARCHITECTURE.md section 4",
      });
    }
  }

  /**
   * Describes the edge pkg -> target if it breaks the layering, else returns undefined. `testOnly`:
   * the edge is a devDependency or an import from a test file, where TEST_ONLY_EDGES apply.
   */
  const edgeProblem = (
    pkg: WorkspacePackage,
    target: string,
    testOnly: boolean,
  ): string | undefined => {
    if (target === pkg.name) return undefined;
    const dep = byName.get(target);
    if (!dep) {
      return target.startsWith(SCOPE)
        ? `${pkg.name} -> ${target}: no workspace package has that name`
        : undefined;
    }
    const forbidden = FORBIDDEN_EDGES.find(
      (e) => matches(e.from, pkg.dir) && matches(e.to, dep.dir),
    );
    if (forbidden) return `${pkg.name} -> ${target}: refused: ${forbidden.why}`;
    if (dep.rank === null || pkg.rank === undefined || pkg.rank === null) return undefined;
    if (dep.rank === undefined) return `${pkg.name} -> ${target}: ${dep.dir} is in no layer`;
    if (dep.rank < pkg.rank) return undefined;
    const exception = TEST_ONLY_EDGES.find(
      (e) => matches(e.from, pkg.dir) && matches(e.to, dep.dir),
    );
    if (exception && testOnly) return undefined;
    if (exception) {
      return (
        `${pkg.name} -> ${target}: this upward edge is allowed only for tests ` +
        "(a devDependency, imported from *.test.ts files)"
      );
    }
    const where =
      dep.rank === pkg.rank
        ? `the same layer (${layerName(pkg.rank)})`
        : `a higher layer (${dep.dir} is above ${pkg.dir})`;
    return (
      `${pkg.name} -> ${target}: ${target} is in ${where}; ` +
      "a package may only depend on packages below it (ARCHITECTURE.md section 4)"
    );
  };

  for (const pkg of packages) {
    if (pkg.rank === null) continue;
    const manifestFile = `${pkg.dir}/package.json`;
    const manifestText = readFileSync(join(root, manifestFile), "utf8");
    const declared = new Set<string>();

    for (const field of DEPENDENCY_FIELDS) {
      const deps = pkg.manifest[field];
      if (typeof deps !== "object" || deps === null) continue;
      const fieldAt = manifestText.indexOf(`"${field}"`);
      for (const target of Object.keys(deps)) {
        declared.add(target);
        const problem = edgeProblem(pkg, target, field === "devDependencies");
        if (problem) {
          violations.push({
            file: manifestFile,
            line: lineOf(manifestText, `"${target}"`, Math.max(fieldAt, 0)),
            message: `${field}: ${problem}`,
          });
        }
      }
    }

    const pkgRoot = join(root, pkg.dir);
    for (const abs of sourceFiles(join(pkgRoot, "src"))) {
      const file = toPosix(relative(root, abs));
      const isTest = TEST_FILE.test(abs);
      const text = readFileSync(abs, "utf8");
      const { importedFiles } = ts.preProcessFile(text, true, true);
      for (const ref of importedFiles) {
        const spec = ref.fileName;
        const line = text.slice(0, ref.pos).split("\n").length;
        if (spec.startsWith(".")) {
          const target = toPosix(relative(pkgRoot, resolve(dirname(abs), spec)));
          if (target.startsWith("../")) {
            violations.push({
              file,
              line,
              message:
                `${pkg.name} imports "${spec}", outside its own directory: ` +
                "import other packages by name",
            });
          }
          continue;
        }
        const target = packageOf(spec);
        const problem = edgeProblem(pkg, target, isTest);
        const restricted = RESTRICTED_ENTRIES.find(
          (r) => spec === r.specifier || spec.startsWith(`${r.specifier}/`),
        );
        if (problem) {
          violations.push({ file, line, message: `import "${spec}": ${problem}` });
        } else if (restricted && !isTest && !restricted.allowed.some((a) => matches(a, pkg.dir))) {
          violations.push({
            file,
            line,
            message: `import "${spec}" in a non-test file of ${pkg.name}: ${restricted.why}`,
          });
        } else if (byName.has(target) && target !== pkg.name && !declared.has(target)) {
          violations.push({
            file,
            line,
            message: `import "${spec}": ${pkg.name} does not declare ${target} in package.json`,
          });
        }
      }
    }
  }
  return { packages, violations };
}

export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line}: ${v.message}`;
}

/** Nearest ancestor of `from` (inclusive) that holds pnpm-workspace.yaml. */
export function findWorkspaceRoot(from: string): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`check-layers: no pnpm-workspace.yaml above ${from}`);
    dir = up;
  }
}

export function main(argv: readonly string[]): number {
  const arg = argv[0];
  const root = arg ? resolve(arg) : findWorkspaceRoot(process.cwd());
  if (!statSync(root).isDirectory()) throw new Error(`check-layers: ${root} is not a directory`);
  const { packages, violations } = checkLayers(root);
  if (violations.length === 0) {
    const layered = packages.filter((p) => p.rank !== null).length;
    console.log(`check-layers: ${layered} packages follow ARCHITECTURE.md section 4`);
    return 0;
  }
  for (const v of violations) console.error(formatViolation(v));
  console.error(`check-layers: ${violations.length} layering violation(s)`);
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
