#!/usr/bin/env node
// The primetime-stress command. It runs the built CLI (dist/cli.js) when that build is current:
// no TypeScript source of this app or of the workspace packages it depends on (@primetime/*,
// followed through their own dependencies) is newer than its compiled .js in the package's dist/. Otherwise (a checkout without `pnpm build`, or sources edited since) it
// runs the sources through tsx with the workspace's source condition, which is slower to start
// (about 0.8 s of CPU against 0.1-0.3 s) but never a stale CLI. The check stats each source and
// its output once, a few milliseconds. A package installed from the registry has no src/ to
// compare and always runs its dist/.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { staleBuild } from "./stale-build.mjs";

const appDir = fileURLToPath(new URL("..", import.meta.url));

// `primetime-stress list | head` closes the pipe early: stop quietly, with the status of a
// process SIGPIPE ended (128 + 13, EXIT_CLOSED_PIPE of cli.ts), not 0: the output cut off may
// have held a finding.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(141);
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
