#!/usr/bin/env node
// The primetime-stress command. It runs the built CLI (dist/cli.js) when that build is current:
// no TypeScript source of this app or of the workspace packages it depends on (@primetime/*,
// followed through their own dependencies) is newer than its compiled .js in the package's dist/. Otherwise (a checkout without `pnpm build`, or sources edited since) it
// runs the sources through tsx with the workspace's source condition, which is slower to start
// (about 0.8 s of CPU against 0.1-0.3 s) but never a stale CLI. The check stats each source and
// its output once, a few milliseconds. A package installed from the registry has no src/ to
// compare and always runs its dist/.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const appDir = fileURLToPath(new URL("..", import.meta.url));

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
function staleBuild(pkgDir, seen = new Set()) {
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

// `primetime-stress list | head` closes the pipe early: stop quietly.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

const dist = join(appDir, "dist", "cli.js");
if (existsSync(dist) && staleBuild(appDir) === null) {
  const { main } = await import(pathToFileURL(dist).href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const src = join(appDir, "src", "cli.ts");
  const r = spawnSync(
    process.execPath,
    // tsx as this package resolves it, so the command works from any directory.
    [
      "--conditions=@primetime/source",
      "--import",
      import.meta.resolve("tsx"),
      src,
      ...process.argv.slice(2),
    ],
    { stdio: "inherit", cwd: process.cwd() },
  );
  process.exitCode = r.status ?? 3;
}
