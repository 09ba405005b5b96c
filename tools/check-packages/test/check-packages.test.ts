import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  checkWorkspace,
  findWorkspacePackages,
  fixPackage,
  isShipped,
  reachableSources,
  rootInfo,
} from "../check-packages.js";

const REPO = resolve(import.meta.dirname, "../../..");
let root: string;

function write(file: string, text: string) {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), text);
}
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** A one-package workspace whose package is correct in every respect. */
function goodWorkspace() {
  root = mkdtempSync(join(tmpdir(), "check-packages-"));
  write("pnpm-workspace.yaml", 'packages:\n  - "packages/*"\n\ncatalog:\n  vitest: ^4.1.12\n');
  write("LICENSE", "MIT License\n");
  write(
    "package.json",
    json({
      name: "ws",
      private: true,
      license: "MIT",
      repository: { url: "git+https://example.org/ws.git" },
    }),
  );
  write("packages/a/LICENSE", "MIT License\n");
  write("packages/a/README.md", "# a\n");
  write("packages/a/src/index.ts", 'export * from "./kref.js";\nimport "./toggles.js";\n');
  write("packages/a/src/kref.ts", "export const x = 1;\n");
  write("packages/a/src/toggles.ts", 'defineToggle({ name: "a.b" });\n');
  write("packages/a/src/kref.test.ts", 'import "./test-support.js";\n');
  write("packages/a/src/test-support.ts", "export const helper = 1;\n");
  const manifest = {
    name: "@x/a",
    version: "0.0.0",
    description: "a",
    keywords: ["a"],
    license: "MIT",
    homepage: "https://example.org/ws/tree/main/packages/a#readme",
    bugs: { url: "https://example.org/ws/issues" },
    repository: { type: "git", url: "git+https://example.org/ws.git", directory: "packages/a" },
    sideEffects: ["./src/toggles.ts", "./dist/toggles.js"],
    exports: { ".": { "@primetime/source": "./src/index.ts", default: "./dist/index.js" } },
    files: ["dist", "src", "!src/**/*.test.ts", "!dist/**/*.test.*", "!src/test-support.ts"],
    engines: { node: ">=20.19" },
    peerDependencies: { "@primetime/sim": "workspace:^" },
    devDependencies: { "@primetime/sim": "workspace:*" },
  };
  write("packages/a/package.json", json(manifest));
  return manifest;
}

function setManifest(patch: Record<string, unknown>) {
  const file = join(root, "packages/a/package.json");
  const m = JSON.parse(readFileSync(file, "utf8"));
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete m[k];
    else m[k] = v;
  }
  writeFileSync(file, json(m));
}

const messages = () => checkWorkspace(root).map((p) => p.message);

afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("check-packages", () => {
  it("accepts the repository's own packages", () => {
    expect(checkWorkspace(REPO)).toEqual([]);
  });

  it("accepts a correct package", () => {
    goodWorkspace();
    expect(messages()).toEqual([]);
  });

  it("refuses a package without licence, keywords or repository directory", () => {
    goodWorkspace();
    setManifest({ license: undefined, keywords: [], repository: { type: "git", url: "x" } });
    const found = messages();
    expect(found.some((m) => m.startsWith("`license` must be"))).toBe(true);
    expect(found).toContain("needs `keywords`");
    expect(found.some((m) => m.startsWith("`repository` must be"))).toBe(true);
  });

  it("refuses shipping tests and test-only modules", () => {
    goodWorkspace();
    setManifest({ files: ["dist", "src"] });
    const found = messages();
    expect(found).toContain("`files` ships the test src/kref.test.ts (add !src/**/*.test.ts)");
    expect(found.some((m) => m.startsWith("`files` ships src/test-support.ts"))).toBe(true);
  });

  it("refuses sideEffects: false on a package whose module registers toggles", () => {
    goodWorkspace();
    setManifest({ sideEffects: false });
    expect(messages().some((m) => m.startsWith("src/toggles.ts registers toggles"))).toBe(true);
    setManifest({ sideEffects: undefined });
    expect(messages().some((m) => m.startsWith("needs `sideEffects`"))).toBe(true);
  });

  it("refuses @primetime/sim as a plain dependency", () => {
    goodWorkspace();
    setManifest({ dependencies: { "@primetime/sim": "workspace:*" }, peerDependencies: undefined });
    const found = messages();
    expect(found.some((m) => m.includes("must be a peerDependency"))).toBe(true);
    expect(found).toContain("needs @primetime/sim in `peerDependencies`");
  });

  it("refuses a toolchain version written outside the catalog", () => {
    goodWorkspace();
    setManifest({ devDependencies: { "@primetime/sim": "workspace:*", vitest: "^4.0.0" } });
    expect(messages()).toContain(
      'devDependencies.vitest must be "catalog:" (the toolchain version lives in pnpm-workspace.yaml)',
    );
  });

  it("--fix derives the metadata, the licence copy, the exclusions and the peer", () => {
    goodWorkspace();
    rmSync(join(root, "packages/a/LICENSE"));
    setManifest({
      license: undefined,
      homepage: undefined,
      bugs: undefined,
      repository: undefined,
      files: ["dist", "src"],
      dependencies: { "@primetime/sim": "workspace:*" },
      peerDependencies: undefined,
    });
    expect(messages().length).toBeGreaterThan(4);
    const info = rootInfo(root);
    for (const pkg of findWorkspacePackages(root)) fixPackage(root, pkg, info);
    expect(messages()).toEqual([]);
  });

  it("follows static, dynamic and side-effect imports to find what an export reaches", () => {
    goodWorkspace();
    const reached = reachableSources(join(root, "packages/a"), {
      exports: { ".": { "@primetime/source": "./src/index.ts" } },
    });
    expect([...reached].sort()).toEqual(["src/index.ts", "src/kref.ts", "src/toggles.ts"]);
  });

  it("applies files entries as npm does: directories, globs, later negations", () => {
    expect(isShipped(["dist"], "dist/a/b.js")).toBe(true);
    expect(isShipped(["dist", "!dist/**/*.test.*"], "dist/a.test.js")).toBe(false);
    expect(isShipped(["src", "!src/x.ts"], "src/x.ts")).toBe(false);
    expect(isShipped(["src"], "README.md")).toBe(false);
  });
});
