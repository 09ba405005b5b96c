/**
 * Writes a new driver package, `packages/drivers/<name>`, from vgem's shape: its package.json,
 * tsconfigs and vitest config are derived from vgem's (so they follow the house conventions as
 * they are today), its sources from `templates/` (a driver with dumb buffers, mmap, flink and
 * PRIME, and its conformance suite), plus everything outside the package that a new driver
 * needs: a changeset, the rows of the README and CONTRIBUTING package tables, the stress app's
 * dependency (and its line in the app's README), and ARCHITECTURE.md's package graph. After `pnpm install` nothing
 * else needs editing.
 *
 * Used by `pnpm turbo gen driver` (turbo/generators/config.ts) and by this package's test.
 */
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";

/** Relative to the workspace root: turbo gen bundles this file, so no import.meta here. */
const TEMPLATES = "tools/gen-driver/templates";
const TEMPLATE_DRIVER = "packages/drivers/vgem";

/** `null` when `name` can be a new driver of the workspace at `root`, else why not. */
export function driverNameProblem(root: string, name: string): string | null {
  if (!/^[a-z][a-z0-9]{1,15}$/.test(name))
    return `"${name.slice(0, 40)}" is not a driver name: 2-16 lowercase letters and digits, starting with a letter (like the kernel's module names: vgem, qxl, vmwgfx)`;
  if (existsSync(join(root, "packages/drivers", name)))
    return `packages/drivers/${name} already exists`;
  return null;
}

/** Name forms used by the templates. */
function substitutions(name: string): [string, string][] {
  const pascal = name[0]!.toUpperCase() + name.slice(1);
  return [
    ["__NAME__", name.toUpperCase()],
    ["__Name__", pascal],
    ["__name__", name],
  ];
}

function fill(text: string, name: string): string {
  let out = text;
  for (const [from, to] of substitutions(name)) out = out.split(from).join(to);
  return out;
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function listTemplates(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, d.name);
    if (d.isDirectory()) out.push(...listTemplates(full, base));
    else out.push(full.slice(base.length + 1));
  }
  return out.sort();
}

/** The packages the generated driver's sources import. */
const DRIVER_DEPENDENCIES = ["@primetime/dma-buf", "@primetime/gem", "@primetime/kernel"];

/** package.json of the new driver, derived from vgem's. */
function driverManifest(root: string, name: string): Record<string, unknown> {
  const vgem = readJson(join(root, TEMPLATE_DRIVER, "package.json"));
  const rootManifest = readJson(join(root, "package.json"));
  const repo = (rootManifest.repository as { url: string }).url;
  const web = repo.replace(/^git\+/, "").replace(/\.git$/, "");
  const dir = `packages/drivers/${name}`;
  const deps = vgem.dependencies as Record<string, string>;
  const dependencies: Record<string, string> = {};
  for (const d of DRIVER_DEPENDENCIES) dependencies[d] = deps[d] ?? "workspace:*";
  return {
    name: `@primetime/${name}`,
    version: "0.0.0",
    description: `The ${name} DRM driver: GEM objects, dumb buffers, mmap, flink and PRIME`,
    keywords: ["drm", name, "driver", "linux-kernel", "simulation"],
    license: rootManifest.license,
    homepage: `${web}/tree/main/${dir}#readme`,
    bugs: { url: `${web}/issues` },
    repository: { type: "git", url: repo, directory: dir },
    type: "module",
    sideEffects: false,
    exports: { ".": (vgem.exports as Record<string, unknown>)["."] },
    main: vgem.main,
    types: vgem.types,
    files: ["dist", "src", "!src/**/*.test.ts", "!dist/**/*.test.*"],
    engines: vgem.engines,
    scripts: vgem.scripts,
    dependencies,
    devDependencies: vgem.devDependencies,
    peerDependencies: vgem.peerDependencies,
  };
}

/** Inserts `line` after the first line of `text` matching `after`, or throws naming `file`. */
function insertAfter(text: string, after: RegExp, line: string, file: string): string {
  const lines = text.split("\n");
  let at = -1;
  lines.forEach((l, i) => {
    if (after.test(l)) at = i;
  });
  if (at < 0) throw new Error(`${file}: found no line matching ${after} to add "${line}" after`);
  lines.splice(at + 1, 0, line);
  return lines.join("\n");
}

/**
 * Makes the stress app depend on the driver: it discovers drivers from its dependencies (each
 * exports `driverUnderTest`, apps/stress/src/drivers.ts), so that is all it needs.
 */
function registerWithStress(root: string, name: string, changed: string[]): void {
  const pkgFile = join(root, "apps/stress/package.json");
  const pkg = readJson(pkgFile);
  const deps = {
    ...(pkg.dependencies as Record<string, string>),
    [`@primetime/${name}`]: "workspace:*",
  };
  pkg.dependencies = Object.fromEntries(
    Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)),
  );
  writeJson(pkgFile, pkg);
  changed.push("apps/stress/package.json");
}

/**
 * Adds the driver to the stress app's README "Dependencies" (every dependency a README names,
 * checked by tools/check-docs/doc-facts.ts), as the first item of the list.
 */
function documentStressDependency(root: string, name: string, changed: string[]): void {
  const file = join(root, "apps/stress/README.md");
  if (!existsSync(file)) return;
  const lines = readFileSync(file, "utf8").split("\n");
  const heading = lines.findIndex((l) => /^## Dependencies\s*$/.test(l));
  const first = lines.findIndex((l, i) => i > heading && l.startsWith("- "));
  if (heading < 0 || first < 0)
    throw new Error('apps/stress/README.md: found no "## Dependencies" list to add the driver to');
  lines.splice(
    first,
    0,
    `- \`@primetime/${name}\`: an installed driver (generated from vgem's shape): every scenario that`,
    "  fits runs on it.",
  );
  writeFileSync(file, lines.join("\n"));
  changed.push("apps/stress/README.md");
}

/** Adds the package's rows to the README and CONTRIBUTING tables, after vgem's. */
function documentDriver(root: string, name: string, changed: string[]): void {
  const readme = join(root, "README.md");
  if (existsSync(readme)) {
    const text = readFileSync(readme, "utf8");
    const row = `| \`@primetime/${name}\` | [packages/drivers/${name}](packages/drivers/${name}) | the ${name} driver (generated from vgem's shape) |`;
    writeFileSync(readme, insertAfter(text, /^\| `@primetime\/vgem`/, row, "README.md"));
    changed.push("README.md");
  }
  const contributing = join(root, "CONTRIBUTING.md");
  if (existsSync(contributing)) {
    const text = readFileSync(contributing, "utf8");
    const line =
      `packages/drivers/${name}`.padEnd(24) +
      `@primetime/${name}`.padEnd(22) +
      `the ${name} driver`;
    writeFileSync(
      contributing,
      insertAfter(text, /^packages\/drivers\/vgem\s/, line, "CONTRIBUTING.md"),
    );
    changed.push("CONTRIBUTING.md");
  }
}

/**
 * Redraws ARCHITECTURE.md's package graph (generated from the manifests by
 * tools/check-docs/package-graph.ts, which `pnpm lint` checks) with the new package in it.
 */
function drawPackageGraph(root: string, changed: string[]): void {
  const tsx = join(root, "node_modules/.bin/tsx");
  const script = join(root, "tools/check-docs/package-graph.ts");
  if (!existsSync(tsx) || !existsSync(script) || !existsSync(join(root, "ARCHITECTURE.md"))) return;
  execFileSync(tsx, [script, root, "--write"], { cwd: root, stdio: "ignore" });
  changed.push("ARCHITECTURE.md");
}

/** Formats what was written with the workspace's biome (table alignment, import order). */
function formatWithBiome(root: string, files: string[]): void {
  const biome = join(root, "node_modules/.bin/biome");
  if (!existsSync(biome)) return;
  const formattable = files.filter(
    (f) => /\.(ts|json|md)$/.test(f) && !f.startsWith(".changeset/"),
  );
  execFileSync(biome, ["check", "--write", "--no-errors-on-unmatched", ...formattable], {
    cwd: root,
    stdio: "ignore",
  });
}

/**
 * Generates the driver `name` in the workspace at `root`. Returns the files written or changed,
 * relative to `root`. Throws with a one-line reason for a bad or taken name; writes nothing then.
 */
export function generateDriver(root: string, name: string): string[] {
  const problem = driverNameProblem(root, name);
  if (problem) throw new Error(problem);
  const dir = `packages/drivers/${name}`;
  const changed: string[] = [];
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
    changed.push(rel);
  };

  write(`${dir}/package.json`, `${JSON.stringify(driverManifest(root, name), null, 2)}\n`);
  for (const f of ["tsconfig.json", "vitest.config.ts"]) {
    write(`${dir}/${f}`, readFileSync(join(root, TEMPLATE_DRIVER, f), "utf8"));
  }
  const build = readJson(join(root, TEMPLATE_DRIVER, "tsconfig.build.json"));
  build.exclude = ["src/**/*.test.ts", "bench"];
  write(`${dir}/tsconfig.build.json`, `${JSON.stringify(build, null, 2)}\n`);
  copyFileSync(join(root, "LICENSE"), join(root, dir, "LICENSE"));
  changed.push(`${dir}/LICENSE`);
  for (const t of listTemplates(join(root, TEMPLATES)))
    write(`${dir}/${fill(t, name)}`, fill(readFileSync(join(root, TEMPLATES, t), "utf8"), name));

  write(
    `.changeset/${name}-driver.md`,
    // The new package only: the stress app is private, which changesets ignores, and a changeset
    // that mixes an ignored package with a published one fails `changeset status`.
    `---\n"@primetime/${name}": minor\n---\n\nNew driver package @primetime/${name} (generated from vgem's shape), run by the conformance suite and listed by the stress harness.\n`,
  );
  documentDriver(root, name, changed);
  registerWithStress(root, name, changed);
  documentStressDependency(root, name, changed);
  drawPackageGraph(root, changed);
  formatWithBiome(root, changed);
  return changed;
}
