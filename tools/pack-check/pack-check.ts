/**
 * Lints what npm would publish: packs every publishable workspace package with pnpm (which turns
 * `workspace:` ranges into versions, as `pnpm publish` does) and checks each tarball with
 * publint (exports pointing at shipped files, module format, field shapes) and
 * arethetypeswrong (whether TypeScript resolves the types of every entry point under node16 ESM,
 * bundler and node10 resolution). Nothing leaves the machine: both tools analyse the tarball.
 *
 * The packages must be built first (`pnpm build`); `pnpm lint:pack` does both.
 *
 * Usage: `tsx tools/pack-check/pack-check.ts [workspace-root]`. Exits 1 on any error.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { checkPackage, createPackageFromTarballData } from "@arethetypeswrong/core";
import { publint } from "publint";
import { formatMessage } from "publint/utils";

export const PNPM = ["-y", "pnpm@10.34.9"] as const;

export interface PackedPackage {
  readonly name: string;
  readonly dir: string;
  readonly tarball: string;
}

interface Manifest {
  name: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;

/** Publishable (non-private) workspace package directories, by package name. */
export function publishablePackages(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const parent of ["packages", "packages/drivers", "apps"]) {
    const base = join(root, parent);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      const dir = join(base, name);
      if (!existsSync(join(dir, "package.json"))) continue;
      const m = readManifest(dir);
      if (!m.private) out.set(m.name, dir);
    }
  }
  return out;
}

/** `names` and every workspace package they depend on (dependencies and peers), transitively. */
export function withWorkspaceDependencies(root: string, names: readonly string[]): string[] {
  const all = publishablePackages(root);
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    const dir = all.get(name);
    if (!dir) throw new Error(`${name} is not a publishable workspace package`);
    seen.add(name);
    const m = readManifest(dir);
    for (const dep of Object.keys({ ...m.dependencies, ...m.peerDependencies }))
      if (all.has(dep)) visit(dep);
  };
  for (const n of names) visit(n);
  return [...seen].sort();
}

/** Packs the packages with one `pnpm pack` run into `dest` (their `dist/` must exist). */
export function packPackages(
  root: string,
  names: readonly string[],
  dest: string,
): PackedPackage[] {
  const all = publishablePackages(root);
  const dirs = names.map((name) => {
    const dir = all.get(name);
    if (!dir) throw new Error(`${name} is not a publishable workspace package`);
    if (!existsSync(join(dir, "dist")))
      throw new Error(`${name} has no dist/: run \`pnpm build\` first`);
    return dir;
  });
  const filters = names.flatMap((n) => ["--filter", n]);
  execFileSync("npx", [...PNPM, "-r", ...filters, "pack", "--pack-destination", dest], {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
  });
  return names.map((name, i) => {
    // pnpm names the tarball after the package: @scope/name@1.2.3 -> scope-name-1.2.3.tgz
    const m = readManifest(dirs[i]!) as Manifest & { version: string };
    const tarball = join(dest, `${name.replace(/^@/, "").replace("/", "-")}-${m.version}.tgz`);
    if (!existsSync(tarball)) throw new Error(`pnpm pack of ${name} produced no ${tarball}`);
    return { name, dir: dirs[i]!, tarball };
  });
}

const IGNORED_RESOLUTIONS: ReadonlySet<string> = new Set(["node10", "node16-cjs"]);

/** publint and arethetypeswrong errors of one packed package, as printable lines. */
export async function lintTarball(pkg: PackedPackage): Promise<string[]> {
  const data = new Uint8Array(readFileSync(pkg.tarball));
  const problems: string[] = [];
  const { messages, pkg: manifest } = await publint({
    pack: { tarball: data.slice().buffer },
    level: "warning",
  });
  for (const m of messages) problems.push(`publint ${m.type}: ${formatMessage(m, manifest)}`);
  const result = await checkPackage(createPackageFromTarballData(data));
  if (result.types && "problems" in result) {
    for (const p of result.problems) {
      // The packages are ESM only (Node >= 20.19, `"type": "module"`): like attw's `esm-only`
      // profile, CommonJS (node16-cjs) and pre-exports (node10) resolution do not apply.
      if ("resolutionKind" in p && IGNORED_RESOLUTIONS.has(p.resolutionKind)) continue;
      const where = "entrypoint" in p ? ` (${p.entrypoint}, ${p.resolutionKind})` : "";
      problems.push(`arethetypeswrong ${p.kind}${where}`);
    }
  } else problems.push("arethetypeswrong: the package ships no types");
  return problems;
}

async function main(argv: string[]): Promise<number> {
  let root = resolve(argv[0] ?? process.cwd());
  while (!existsSync(join(root, "pnpm-workspace.yaml"))) {
    if (dirname(root) === root)
      throw new Error("no pnpm-workspace.yaml above the working directory");
    root = dirname(root);
  }
  const dest = mkdtempSync(join(tmpdir(), "primetime-pack-"));
  let failed = 0;
  try {
    const names = [...publishablePackages(root).keys()];
    for (const pkg of packPackages(root, names, dest)) {
      const problems = await lintTarball(pkg);
      if (problems.length === 0) console.log(`pack-check: ${pkg.name} ok`);
      for (const p of problems) console.error(`${pkg.name}: ${p}`);
      if (problems.length > 0) failed++;
    }
    console.log(`pack-check: ${names.length - failed} of ${names.length} packages clean`);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
  return failed > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`pack-check: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 2;
    },
  );
}
