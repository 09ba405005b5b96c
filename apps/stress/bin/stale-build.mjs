// Whether a package's dist/ is current: no TypeScript source of it or of the workspace packages
// it depends on (@primetime/*, followed through their own dependencies) is newer than its
// compiled .js. The bin runs the built CLI only then; the campaign bench's speed-up part runs its
// children from the built code only then.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";

/** The first source under `dir` (a package's src/) without a current output in `out`, or null. */
function staleSource(dir, out) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const src = join(dir, e.name);
    if (e.isDirectory()) {
      const s = staleSource(src, join(out, e.name));
      if (s) return s;
    } else if (
      e.name.endsWith(".ts") &&
      !e.name.endsWith(".test.ts") &&
      !e.name.endsWith(".d.ts")
    ) {
      const built = join(out, `${e.name.slice(0, -3)}.js`);
      // A source without output is one the build excludes (test support), or a new module no
      // built module imports yet (the importer, edited to import it, is then the stale one).
      if (existsSync(built) && statSync(built).mtimeMs < statSync(src).mtimeMs) return src;
    }
  }
  return null;
}

/** The first stale source of the package in `pkgDir` or of a workspace package it uses. */
export function staleBuild(pkgDir, seen = new Set()) {
  const real = realpathSync(pkgDir);
  if (seen.has(real)) return null;
  seen.add(real);
  if (existsSync(join(real, "src"))) {
    const s = staleSource(join(real, "src"), join(real, "dist"));
    if (s) return s;
  }
  const pkg = JSON.parse(readFileSync(join(real, "package.json"), "utf8"));
  const deps = { ...pkg.dependencies, ...pkg.peerDependencies };
  for (const name of Object.keys(deps)) {
    if (!name.startsWith("@primetime/")) continue;
    const dir = join(real, "node_modules", name);
    if (!existsSync(dir)) continue;
    const s = staleBuild(dir, seen);
    if (s) return s;
  }
  return null;
}
