import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { driverNameProblem, generateDriver } from "../generate-driver.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const PNPM = ["-y", "pnpm@10.34.9"];
const work = mkdtempSync(join(tmpdir(), "primetime-gen-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of the workspace's tracked files (what a clone has), installed from the local store. */
function copyWorkspace(dest: string): void {
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);
  for (const f of files) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    try {
      copyFileSync(join(ROOT, f), join(dest, f));
    } catch {
      // deleted in the working tree but still in the index: a clone would not have it either
    }
  }
}

function sh(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${err.stdout ?? ""}\n${err.stderr ?? ""}`);
  }
}

describe("driver names", () => {
  it("accepts a kernel-style module name and refuses the rest with a reason", () => {
    expect(driverNameProblem(ROOT, "vkms")).toBeNull();
    expect(driverNameProblem(ROOT, "Vkms")).toMatch(/not a driver name/);
    expect(driverNameProblem(ROOT, "x")).toMatch(/not a driver name/);
    expect(driverNameProblem(ROOT, "../etc")).toMatch(/not a driver name/);
    expect(driverNameProblem(ROOT, "vgem")).toBe("packages/drivers/vgem already exists");
    expect(() => generateDriver(ROOT, "vgem")).toThrow("already exists");
  });
});

describe("pnpm turbo gen driver", () => {
  it("writes a driver that installs, lints, typechecks and passes its conformance suite", () => {
    const ws = join(work, "ws");
    copyWorkspace(ws);
    sh("npx", [...PNPM, "install", "--offline", "--frozen-lockfile"], ws);
    const changed = generateDriver(ws, "vtest");
    expect(changed).toEqual(
      expect.arrayContaining([
        "packages/drivers/vtest/package.json",
        "packages/drivers/vtest/src/vtest-drv.ts",
        "packages/drivers/vtest/src/conformance.test.ts",
        ".changeset/vtest-driver.md",
        "README.md",
        "CONTRIBUTING.md",
        "apps/stress/package.json",
        "apps/stress/README.md",
        "ARCHITECTURE.md",
      ]),
    );
    // A changeset of the new package alone (changesets refuses one that mixes in the private,
    // ignored stress app).
    expect(readFileSync(join(ws, ".changeset/vtest-driver.md"), "utf8")).toMatch(
      /^---\n"@primetime\/vtest": minor\n---\n/,
    );
    // Registered where the stress app looks for drivers, and documented.
    const stress = JSON.parse(readFileSync(join(ws, "apps/stress/package.json"), "utf8"));
    expect(stress.dependencies["@primetime/vtest"]).toBe("workspace:*");
    expect(readFileSync(join(ws, "README.md"), "utf8")).toMatch(/\| `@primetime\/vtest` +\|/);

    // The new package changes the lockfile (CI's default of a frozen lockfile would refuse). The
    // store has every package already, but a fresh machine's pnpm has no registry metadata to
    // resolve the new package's catalog ranges with (a frozen install never fetches it), so the
    // install may ask the registry for that metadata: --prefer-offline, not --offline.
    sh("npx", [...PNPM, "install", "--prefer-offline", "--no-frozen-lockfile"], ws);
    const pkg = join(ws, "packages/drivers/vtest");
    sh("npx", ["biome", "check", "."], pkg);
    sh("npx", ["tsx", "tools/check-layers/check-layers.ts"], ws);
    sh("npx", ["tsx", "tools/check-docs/package-graph.ts", "--check"], ws);
    sh("npx", ["tsx", "tools/check-packages/check-packages.ts"], ws);
    // The docs checks of `pnpm lint`: its locking notes asserted, its README's paths and commands.
    sh("npx", ["tsx", "tools/check-docs/locking-notes.ts"], ws);
    sh("npx", ["tsx", "--conditions=@primetime/source", "tools/check-docs/doc-facts.ts"], ws);
    sh("npx", ["tsc", "-p", "tsconfig.json", "--noEmit"], pkg);
    const out = sh("npx", ["vitest", "run", "--reporter=dot"], pkg);
    expect(out).toMatch(/Tests\s+\d+ passed/);
    expect(out).not.toMatch(/failed/);
    // The stress app finds it among the installed drivers.
    const listed = sh(
      "npx",
      ["tsx", "--conditions=@primetime/source", "src/cli.ts", "list"],
      join(ws, "apps/stress"),
    );
    expect(listed).toMatch(/\bvtest\b/);
  }, 600_000);
});
