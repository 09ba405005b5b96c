#!/usr/bin/env node
// The primetime-stress command: the built CLI (dist/cli.js) when there is one, else the
// TypeScript sources run through tsx with the workspace's source condition (a checkout without
// `pnpm build`).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dist = new URL("../dist/cli.js", import.meta.url);
if (existsSync(fileURLToPath(dist))) {
  const { main } = await import(dist.href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const src = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
  const r = spawnSync(
    process.execPath,
    ["--conditions=@primetime/source", "--import", "tsx", src, ...process.argv.slice(2)],
    { stdio: "inherit", cwd: process.cwd() },
  );
  process.exitCode = r.status ?? 3;
}
