import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkLinks } from "../links.js";

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function writeTree(tree: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "check-links-"));
  roots.push(root);
  for (const [file, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return root;
}

// Built at run time so that this file does not cite the directory itself.
const SHARED_DIR = ["..", "shared"].join("/");
const DESIGN_DOC = ["DESIGN", "md"].join(".");

const messages = (root: string) =>
  checkLinks(root).problems.map((p) => `${p.file}:${p.line}: ${p.message}`);

describe("checkLinks", () => {
  it("passes links inside the repository, URLs and anchors", () => {
    const root = writeTree({
      "README.md":
        "See [arch](ARCHITECTURE.md#layers), [vgem](packages/vgem), [web](https://kernel.org), [top](#top).\n",
      "ARCHITECTURE.md": "# Architecture\n",
      "packages/vgem/README.md": "Up: [root](../../README.md). ![graph](../../ARCHITECTURE.md)\n",
      "node_modules/x/README.md": `[out](${SHARED_DIR}/x.md)\n`,
    });
    expect(messages(root)).toEqual([]);
  });

  it("fails on links and citations that leave the repository, absolute paths and dead links", () => {
    const root = writeTree({
      "README.md": `Architecture: [design](${SHARED_DIR}/${DESIGN_DOC}).\n\nSee [abs](/etc/passwd) and [gone](docs/none.md).\n`,
      "tools/t/README.md": "[up](../../../outside.md)\n",
      "src/a.ts": `/** See ${DESIGN_DOC} section 4. */\nexport const a = 1;\n`,
    });
    expect(messages(root)).toEqual([
      `README.md:1: cites "${SHARED_DIR}", a directory outside the repository`,
      `README.md:1: cites ${DESIGN_DOC}, which is not in the repository (see ARCHITECTURE.md)`,
      `README.md:1: links to ${SHARED_DIR}/${DESIGN_DOC}, outside the repository`,
      "README.md:3: links to the absolute path /etc/passwd",
      "README.md:3: links to docs/none.md, which does not exist",
      `src/a.ts:1: cites ${DESIGN_DOC}, which is not in the repository (see ARCHITECTURE.md)`,
      "tools/t/README.md:1: links to ../../../outside.md, outside the repository",
    ]);
  });
});
