import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { END, packageGraph, START, withGraph } from "../package-graph.js";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function manifest(name: string, deps: string[] = [], devDeps: string[] = []): string {
  const ws = (names: string[]) => Object.fromEntries(names.map((n) => [n, "workspace:*"]));
  return JSON.stringify({ name, dependencies: ws(deps), devDependencies: ws(devDeps) });
}

function writeTree(tree: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "package-graph-"));
  roots.push(root);
  for (const [file, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return root;
}

describe("packageGraph", () => {
  it("draws direct dependencies only, and test-only edges dotted", () => {
    const root = writeTree({
      "packages/sim/package.json": manifest("@primetime/sim"),
      "packages/kernel/package.json": manifest("@primetime/kernel", ["@primetime/sim"]),
      "packages/gem/package.json": manifest("@primetime/gem", [
        "@primetime/kernel",
        "@primetime/sim",
      ]),
      "packages/conformance/package.json": manifest("@primetime/conformance", ["@primetime/gem"]),
      "packages/drivers/vgem/package.json": manifest(
        "@primetime/vgem",
        ["@primetime/gem"],
        ["@primetime/conformance", "@primetime/vitest-config"],
      ),
      "tools/vitest-config/package.json": manifest("@primetime/vitest-config"),
    });
    expect(packageGraph(root).split("\n")).toEqual([
      "```mermaid",
      "graph BT",
      "  conformance[conformance]",
      "  gem[gem]",
      "  kernel[kernel]",
      "  sim[sim]",
      "  vgem[vgem]",
      "  conformance --> gem",
      "  gem --> kernel",
      "  kernel --> sim",
      "  vgem --> gem",
      "  vgem -.->|tests| conformance",
      "```",
    ]);
  });

  it("ARCHITECTURE.md shows the repository's current graph (regenerate: tsx tools/check-docs/package-graph.ts --write)", () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
    const doc = readFileSync(join(root, "ARCHITECTURE.md"), "utf8");
    const block = doc.slice(doc.indexOf(START) + START.length, doc.indexOf(END)).trim();
    expect(block).toBe(packageGraph(root));
    expect(withGraph(doc, packageGraph(root))).not.toBeNull();
  });
});
