/**
 * Checks that the repository stands alone: no tracked file links to or cites a file outside it.
 * Every clone, fork and npm page must be able to follow every reference.
 *
 * For every tracked text file (`git ls-files`; outside a git checkout, every file but
 * node_modules, dist and .git) it reports
 * - a Markdown link or image (`[text](target)`, `<a href="target">`) whose target is an absolute
 *   path, or a relative path that leaves the repository, or (for a path inside it) names a file
 *   that does not exist;
 * - any mention of the sibling `shared` directory the project grew from (`../shared`,
 *   `/work/shared`), in prose, comments or code;
 * - a mention of `DESIGN.md` while the repository has no such file (the architecture document is
 *   ARCHITECTURE.md).
 * URLs (`http:`, `https:`, `mailto:`) and in-page anchors are not checked. This file names what
 * it looks for, so its own citations are not reported (its links are).
 *
 * Usage: `tsx tools/check-docs/links.ts [workspace-root]`. Exits 1 on any finding.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";

const SKIP_DIRS = new Set(["node_modules", "dist", ".git", ".turbo", "coverage"]);
const SKIP_FILES = new Set(["pnpm-lock.yaml"]);
/** This checker, relative to the repository root. */
const SELF = "tools/check-docs/links.ts";
const BINARY = /\.(png|jpe?g|gif|ico|woff2?|ttf|zip|gz|tgz|wasm)$/i;

// Written so that this file does not match itself.
const SHARED = new RegExp(["\\.\\./", "shared\\b|/work/", "shared\\b"].join(""), "g");
const DESIGN = /\bDESIGN\.md\b/g;
const MD_LINK = /!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const HREF = /\b(?:href|src)="([^"]+)"/g;

export interface LinkProblem {
  /** File relative to the repository root, `/`-separated. */
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** Tracked files of `root`, relative and `/`-separated. */
export function trackedFiles(root: string): string[] {
  try {
    const out = execFileSync("git", ["ls-files", "-z"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    // Only a checkout whose top level is `root` (a fixture inside another repository is walked).
    const top = execFileSync("git", ["rev-parse", "--show-toplevel"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    if (resolve(top) === resolve(root)) {
      return out.split("\0").filter((f) => f.length > 0 && existsSync(join(root, f)));
    }
  } catch {
    // not a git checkout: walk it
  }
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (SKIP_DIRS.has(e.name)) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(relative(root, p).split(sep).join("/"));
    }
  };
  walk(root);
  return files.sort();
}

function lineOf(text: string, index: number): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

function isUrl(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#");
}

/** The problems of one file's text. `exists` answers for paths relative to the root. */
export function checkText(
  file: string,
  text: string,
  exists: (path: string) => boolean,
  hasDesignDoc: boolean,
): LinkProblem[] {
  const problems: LinkProblem[] = [];
  const add = (index: number, message: string) =>
    problems.push({ file, line: lineOf(text, index), message });

  const self = file === SELF;
  for (const m of self ? [] : text.matchAll(SHARED)) {
    add(m.index, `cites "${m[0]}", a directory outside the repository`);
  }
  if (!hasDesignDoc && !self) {
    for (const m of text.matchAll(DESIGN)) {
      add(m.index, "cites DESIGN.md, which is not in the repository (see ARCHITECTURE.md)");
    }
  }
  if (/\.(md|markdown|html?)$/i.test(file)) {
    const targets = [...text.matchAll(MD_LINK), ...text.matchAll(HREF)];
    for (const m of targets) {
      const target = m[1]!;
      if (isUrl(target)) continue;
      const path = decodeURI(target.split("#")[0]!.split("?")[0]!);
      if (path === "") continue;
      if (path.startsWith("/")) {
        add(m.index, `links to the absolute path ${path}`);
        continue;
      }
      const inRepo = join(dirname(file), path).split(sep).join("/");
      if (inRepo === ".." || inRepo.startsWith("../")) {
        add(m.index, `links to ${path}, outside the repository`);
      } else if (!exists(inRepo)) {
        add(m.index, `links to ${path}, which does not exist`);
      }
    }
  }
  return problems;
}

/** Every problem in the tracked files of `root`. */
export function checkLinks(root: string): { files: number; problems: LinkProblem[] } {
  const files = trackedFiles(root).filter(
    (f) => !BINARY.test(f) && !SKIP_FILES.has(f.split("/").at(-1)!),
  );
  const exists = (p: string) => existsSync(join(root, p));
  const hasDesignDoc = files.some((f) => f.split("/").at(-1) === "DESIGN.md");
  const problems: LinkProblem[] = [];
  for (const f of files) {
    const text = readFileSync(join(root, f), "utf8");
    if (text.includes("\0")) continue; // binary
    problems.push(...checkText(f, text, exists, hasDesignDoc));
  }
  return { files: files.length, problems };
}

export function main(argv: readonly string[]): number {
  const root = resolve(argv[0] ?? process.cwd());
  if (!statSync(root).isDirectory()) throw new Error(`links: ${root} is not a directory`);
  const { files, problems } = checkLinks(root);
  for (const p of problems) console.error(`${p.file}:${p.line}: ${p.message}`);
  if (problems.length > 0) {
    console.error(`links: ${problems.length} reference(s) outside the repository or broken`);
    return 1;
  }
  console.log(`links: ${files} tracked files link only inside the repository`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
