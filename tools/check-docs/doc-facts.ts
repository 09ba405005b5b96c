/**
 * Checks that what the Markdown files state about the code is still true, where a machine can
 * tell cheaply (about a second). Every tracked `*.md` (CHANGELOGs and `.changeset/` excepted) is
 * read for
 * - stress CLI invocations: `pnpm -s stress <command> --flag …`, `primetime-stress …`,
 *   `pnpm --filter @primetime/stress cli …` in a code block or code span, and code spans that
 *   start with a command and name a flag (`run --seeds 500`, a heading's
 *   `replay <token> [--explain]`): the command and every `--flag` must exist in the CLI's
 *   commander program (read from its `--help`, not from a copied list);
 * - pnpm scripts: `pnpm <script>` and `pnpm --filter <package> <script>` must exist;
 * - repository paths: every `packages/…`, `apps/…`, `tools/…`, `turbo/…` or `.ci/…` path, and
 *   every `src/…`, `test/…`, `bench/…`, `bin/…` or `deploy/…` path of a package's own README (relative to
 *   the package; in a top-level document, in some workspace package), must exist;
 * - exports: a name said to be exported by a workspace module (`` `x()` from `@primetime/y` ``,
 *   `import { x } from "@primetime/y"`) must be exported by it (read from its sources);
 * - registry tables, sections and counts: a table after `<!-- check-docs: table <registry> -->`
 *   lists exactly the registry's names (toggles, scenarios, drivers, packages, conformance cases,
 *   known windows, read from the code's exports), the `## \`name\`` sections after
 *   `<!-- check-docs: headings <registry> -->` too, and a number followed by
 *   `<!-- check-docs: count <registry> -->` is the registry's size;
 * - defaults: a table after `<!-- check-docs: defaults SEARCH_DEFAULTS -->` lists its options with
 *   the code's values.
 * And every workspace package has a README naming each of its dependencies (and no workspace
 * package its manifest does not declare in its Dependencies section), and every package under
 * `packages/` (drivers included) names the version it follows: `follows **Linux v6.18**`,
 * `follows **libdrm 2.4.125**`, `follows **IGT 2.1**` (bold, anywhere in the README, line breaks
 * allowed), or says `**No kernel counterpart**` for a package that models no kernel code as a whole.
 *
 * Usage: `tsx --conditions=@primetime/source tools/check-docs/doc-facts.ts [root]` (`pnpm
 * lint:facts`). Exits 1 on any finding, one line each saying how to fix it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { trackedFiles } from "./links.js";

export interface DocProblem {
  /** File relative to the repository root, `/`-separated. */
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** The stress CLI as its commander program describes itself. */
export interface CliFacts {
  /** Command name or alias -> its long options (`--seeds`), `--help` included. */
  readonly commands: ReadonlyMap<string, ReadonlySet<string>>;
  /** Options of the program itself (`--no-color`, `--help`). */
  readonly global: ReadonlySet<string>;
  /** The command run when none is named. */
  readonly defaultCommand: string;
}

/** Registry name -> the names it holds, from the code's exports. */
export type Registries = Readonly<Record<string, readonly string[]>>;

/** Name of a defaults object (`SEARCH_DEFAULTS`) -> its option values, from the code's exports. */
export type Defaults = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

export interface Facts {
  readonly cli: CliFacts;
  readonly registries: Registries;
  /** Exports of workspace modules; absent: read from the sources of the checked root. */
  readonly exportsOf?: ExportsOf;
  /** pnpm scripts; absent: read from the manifests of the checked root. */
  readonly scripts?: Scripts;
  /** Defaults objects a table may quote; absent: none. */
  readonly defaults?: Defaults;
  /** Toggle -> its fixing commit (`commit` of its definition); absent: none. */
  readonly toggleCommits?: Readonly<Record<string, string>>;
}

function lineOf(text: string, index: number): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

// ------------------------------------------------------------------------------ code in markdown

interface Code {
  readonly text: string;
  /** Offset of `text` in the file. */
  readonly index: number;
  /** A line of a fenced block (true) or an inline code span (false). */
  readonly block: boolean;
}

/** The lines of fenced code blocks and the inline code spans of a Markdown text. */
export function codeOf(text: string): Code[] {
  const out: Code[] = [];
  let fence: string | null = null;
  let offset = 0;
  for (const line of text.split("\n")) {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence !== null) {
      if (m && m[1]!.startsWith(fence)) fence = null;
      else out.push({ text: line, index: offset, block: true });
    } else if (m) {
      fence = m[1]!;
    } else {
      for (const s of line.matchAll(/(`+)([^`]+?)\1(?!`)/g)) {
        out.push({ text: s[2]!, index: offset + s.index + s[1]!.length, block: false });
      }
    }
    offset += line.length + 1;
  }
  return out;
}

// ----------------------------------------------------------------------------------- CLI usage

const INVOCATION =
  /(?:\bpnpm(?:\s+-s)?\s+stress|\bprimetime-stress|\bpnpm(?:\s+-s)?\s+--filter[\s=]+@primetime\/stress\s+cli)(?![\w-])([^#|;&>]*)/g;

/**
 * `--help` output of commander: the names (and aliases) under "Commands:", the long options
 * under "Options:".
 */
export function parseHelp(help: string): { commands: string[][]; options: string[] } {
  const commands: string[][] = [];
  const options: string[] = [];
  let section = "";
  for (const line of help.split("\n")) {
    const head = /^(\w[\w ]*):\s*$/.exec(line);
    if (head) {
      section = head[1]!;
      continue;
    }
    if (section === "Commands") {
      const m = /^ {2}([a-z][\w-]*(?:\|[a-z][\w-]*)*)/.exec(line);
      if (m) commands.push(m[1]!.split("|"));
    } else if (section === "Options") {
      const m = /^ {2}(?:-\w, )?(--[\w-]+)/.exec(line);
      if (m) options.push(m[1]!);
    }
  }
  return { commands, options };
}

function checkFlags(
  file: string,
  line: number,
  command: string,
  rest: string,
  cli: CliFacts,
  problems: DocProblem[],
): void {
  const own = cli.commands.get(command);
  if (!own) {
    const known = [...new Set(cli.commands.keys())].join(", ");
    problems.push({
      file,
      line,
      message: `primetime-stress has no command "${command}": name one of ${known}`,
    });
    return;
  }
  for (const f of rest.matchAll(/(?<![\w-])--[a-z][\w-]*/g)) {
    const flag = f[0];
    if (own.has(flag) || cli.global.has(flag)) continue;
    problems.push({
      file,
      line,
      message: `primetime-stress ${command} has no flag ${flag}: use one of ${[...own].join(", ")} (or fix the CLI)`,
    });
  }
}

/**
 * In a section whose heading names CLI commands in code spans (`### \`run\`: a campaign`,
 * `### \`start\` (the demo), \`hunt\``), a code span that starts with a flag (`--seeds N`) must
 * be a flag of one of them.
 */
function checkSectionFlags(
  file: string,
  text: string,
  cli: CliFacts,
  problems: DocProblem[],
): void {
  let commands: string[] = [];
  let offset = 0;
  let fence = false;
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    if (!fence && /^#{1,6}\s/.test(line)) {
      commands = [...line.matchAll(/`([a-z][\w-]*)[^`]*`/g)]
        .map((m) => m[1]!)
        .filter((c) => cli.commands.has(c));
    } else if (!fence && commands.length > 0) {
      for (const m of line.matchAll(/`(--[a-z][\w-]*)[^`]*`/g)) {
        const flag = m[1]!;
        if (cli.global.has(flag) || commands.some((c) => cli.commands.get(c)!.has(flag))) continue;
        problems.push({
          file,
          line: lineOf(text, offset + m.index),
          message: `${flag} is no flag of ${commands.join(" or ")} (this section's command): use one of ${[...new Set(commands.flatMap((c) => [...cli.commands.get(c)!]))].join(", ")}`,
        });
      }
    }
    offset += line.length + 1;
  }
}

/** Stress CLI invocations whose command or flags the CLI does not have. */
export function checkCli(file: string, text: string, cli: CliFacts): DocProblem[] {
  const problems: DocProblem[] = [];
  checkSectionFlags(file, text, cli, problems);
  const bare = new RegExp(
    `^(${[...cli.commands.keys()].map((c) => c.replace(/[-]/g, "\\-")).join("|")})\\s.*--[a-z]`,
  );
  for (const code of codeOf(text)) {
    const body = code.block ? code.text.replace(/\s#\s.*$/, "") : code.text;
    let invoked = false;
    for (const m of body.matchAll(INVOCATION)) {
      invoked = true;
      const line = lineOf(text, code.index + m.index);
      const args = m[1]!.trim();
      const first = args.split(/\s+/)[0] ?? "";
      if (first === "" || first.startsWith("-")) {
        checkFlags(file, line, cli.defaultCommand, args, cli, problems);
      } else if (/^[a-z][\w-]*$/.test(first)) {
        checkFlags(file, line, first, args.slice(first.length), cli, problems);
      } // else a placeholder (<command>)
    }
    if (!invoked && !code.block) {
      const m = bare.exec(code.text);
      if (m) {
        const line = lineOf(text, code.index);
        checkFlags(file, line, m[1]!, code.text.slice(m[1]!.length), cli, problems);
      }
    }
  }
  return problems;
}

// ------------------------------------------------------------------------------- pnpm scripts

/** The scripts `pnpm <name>` can run: the root's, each package's, and the root's bins. */
export interface Scripts {
  readonly root: ReadonlySet<string>;
  /** Package name -> its scripts. */
  readonly packages: ReadonlyMap<string, ReadonlySet<string>>;
  /** Executables of the root's node_modules/.bin (`pnpm turbo …` runs one). */
  readonly bins: ReadonlySet<string>;
}

/** pnpm's own commands (not scripts). */
const PNPM_COMMANDS = new Set([
  "add",
  "audit",
  "config",
  "create",
  "dlx",
  "exec",
  "i",
  "install",
  "link",
  "list",
  "ls",
  "outdated",
  "pack",
  "prune",
  "publish",
  "rebuild",
  "remove",
  "rm",
  "run",
  "store",
  "unlink",
  "up",
  "update",
  "why",
]);

const PNPM = /\bpnpm((?:\s+-[a-z]\b|\s+--filter[\s=]+\S+|\s+-F\s+\S+)*)\s+([a-z][\w:.-]*)/g;

/** `pnpm <script>` and `pnpm --filter <package> <script>` whose package or script does not exist. */
export function checkScripts(file: string, text: string, scripts: Scripts): DocProblem[] {
  const problems: DocProblem[] = [];
  for (const code of codeOf(text)) {
    const body = code.block ? code.text.replace(/\s#\s.*$/, "") : code.text;
    for (const m of body.matchAll(PNPM)) {
      const line = lineOf(text, code.index + m.index);
      const filter = /(?:--filter[\s=]+|-F\s+)(\S+)/.exec(m[1]!)?.[1];
      const name = m[2]!;
      if (PNPM_COMMANDS.has(name)) continue;
      if (filter === undefined) {
        if (scripts.root.has(name) || scripts.bins.has(name)) continue;
        problems.push({
          file,
          line,
          message: `pnpm ${name}: the root package.json has no script "${name}": name one of ${[...scripts.root].join(", ")}`,
        });
        continue;
      }
      if (filter.includes("<") || filter.includes("...")) continue; // a placeholder
      const own = scripts.packages.get(filter);
      if (!own) {
        problems.push({
          file,
          line,
          message: `pnpm --filter ${filter}: no workspace package has that name: fix the name`,
        });
      } else if (!own.has(name)) {
        problems.push({
          file,
          line,
          message: `pnpm --filter ${filter} ${name}: the package has no script "${name}": name one of ${[...own].join(", ")}`,
        });
      }
    }
  }
  return problems;
}

/** The scripts and bins of the workspace at `root`. */
export function workspaceScripts(root: string): Scripts {
  const scriptsOf = (dir: string) => {
    const m = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as {
      name?: string;
      scripts?: Record<string, string>;
    };
    return { name: m.name ?? dir, scripts: new Set(Object.keys(m.scripts ?? {})) };
  };
  const packages = new Map<string, ReadonlySet<string>>();
  for (const d of packageDirs(root)) {
    const p = scriptsOf(d);
    packages.set(p.name, p.scripts);
  }
  const binDir = join(root, "node_modules/.bin");
  const bins = new Set(existsSync(binDir) ? readdirSync(binDir) : []);
  return { root: scriptsOf(".").scripts, packages, bins };
}

// --------------------------------------------------------------------------------------- paths

const ROOT_PATH =
  /(?<![\w.@/$~-])((?:packages|apps|tools|turbo|\.ci)\/[\w.@/-]*[\w])(?![\w*<{…$])/g;
const LOCAL_PATH = /(?<![\w.@/$~-])((?:src|bench|bin|deploy|test)\/[\w.@/-]*[\w])(?![\w*<{…$])/g;

/** The directory of the package a file belongs to ("" for the root). */
function packageDirOf(file: string, isPackage: (dir: string) => boolean): string {
  for (let d = dirname(file); d !== "." && d !== ""; d = dirname(d)) {
    if (isPackage(d)) return d;
  }
  return "";
}

/**
 * Repository paths a Markdown text names that do not exist. `exists` answers for paths relative
 * to the root; `packages` lists the workspace package directories.
 */
export function checkPaths(
  file: string,
  text: string,
  exists: (path: string) => boolean,
  packages: readonly string[],
): DocProblem[] {
  const problems: DocProblem[] = [];
  // URLs name paths of other repositories.
  const plain = text.replace(/\bhttps?:\/\/[^\s)>\]]+/g, (u) => " ".repeat(u.length));
  for (const m of plain.matchAll(ROOT_PATH)) {
    const path = m[1]!.replace(/\.+$/, "");
    if (exists(path)) continue;
    problems.push({
      file,
      line: lineOf(text, m.index),
      message: `names ${path}, which does not exist: fix the path or the sentence`,
    });
  }
  // A package's README, or a package template's (a directory with its own src/).
  const own = packageDirOf(file, (d) => packages.includes(d) || exists(`${d}/src`));
  for (const m of plain.matchAll(LOCAL_PATH)) {
    const path = m[1]!.replace(/\.+$/, "");
    const found =
      own !== ""
        ? exists(`${own}/${path}`)
        : packages.some((p) => exists(`${p}/${path}`)) || exists(path);
    if (found) continue;
    const where = own !== "" ? `in ${own}` : "in any package";
    problems.push({
      file,
      line: lineOf(text, m.index),
      message: `names ${path}, which does not exist ${where}: fix the path or the sentence`,
    });
  }
  return problems;
}

// ------------------------------------------------------------------------------------ exports

/** Exported names of the module a workspace specifier (`@primetime/sim/explore`) names. */
export type ExportsOf = (specifier: string) => ReadonlySet<string> | null;

const IDENT = "[A-Za-z_$][\\w$]*";
/** `Name` or `Name()`, a list of them, then "of|from `@primetime/…`" or "(`@primetime/…`)". */
const NAMED_EXPORTS = new RegExp(
  `((?:\`${IDENT}(?:\\(\\))?\`(?:,\\s+|\\s+and\\s+|\\s+or\\s+|,\\s+and\\s+))*\`${IDENT}(?:\\(\\))?\`)\\s+(?:of|from|\\()\\s*\`(@primetime\\/[\\w/-]+)\``,
  "g",
);
const IMPORT = /import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+"(@primetime\/[\w/-]+)"/g;

/**
 * Names a Markdown text says a workspace module exports ("`explore()` from
 * `@primetime/sim/explore`", "`Kernel` (`@primetime/kernel`)", `import { a } from "…"` in a code
 * block) that the module does not export.
 */
export function checkExports(file: string, text: string, exportsOf: ExportsOf): DocProblem[] {
  const problems: DocProblem[] = [];
  const check = (index: number, names: string[], spec: string) => {
    const exported = exportsOf(spec);
    const line = lineOf(text, index);
    if (exported === null) {
      problems.push({
        file,
        line,
        message: `names ${spec}, which no workspace package exports: fix the specifier`,
      });
      return;
    }
    for (const n of names) {
      if (exported.has(n)) continue;
      problems.push({
        file,
        line,
        message: `${spec} does not export ${n}: name the module that does, or the current name`,
      });
    }
  };
  for (const m of text.matchAll(NAMED_EXPORTS)) {
    const names = [...m[1]!.matchAll(new RegExp(`\`(${IDENT})(?:\\(\\))?\``, "g"))].map(
      (x) => x[1]!,
    );
    check(m.index, names, m[2]!);
  }
  for (const m of text.matchAll(IMPORT)) {
    const names = m[1]!
      .split(",")
      .map((n) =>
        n
          .trim()
          .replace(/^type\s+/, "")
          .split(/\s+as\s+/)[0]!
          .trim(),
      )
      .filter((n) => n !== "" && !n.startsWith("..."));
    check(m.index, names, m[2]!);
  }
  return problems;
}

const EXPORT_DECL =
  /^export\s+(?:declare\s+)?(?:default\s+)?(?:abstract\s+)?(?:async\s+)?(?:function\*?|const|let|var|class|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/gm;
const EXPORT_LIST = /^export\s+(?:type\s+)?\{([^}]*)\}(?:\s+from\s+"([^"]+)")?/gm;
const EXPORT_STAR = /^export\s+\*(?:\s+as\s+([A-Za-z_$][\w$]*))?\s+from\s+"([^"]+)"/gm;

/**
 * The names a TypeScript source module exports, read from its text: declarations, export lists,
 * and `export *` of relative modules (followed) or of workspace packages (through `resolve`).
 */
export function moduleExports(
  file: string,
  read: (file: string) => string | null,
  resolve: (specifier: string) => string | null,
  seen = new Set<string>(),
): Set<string> {
  const out = new Set<string>();
  if (seen.has(file)) return out;
  seen.add(file);
  const text = read(file);
  if (text === null) return out;
  const target = (spec: string): string | null =>
    spec.startsWith(".") ? join(dirname(file), spec).replace(/\.js$/, ".ts") : resolve(spec);
  for (const m of text.matchAll(EXPORT_DECL)) out.add(m[1]!);
  for (const m of text.matchAll(EXPORT_LIST)) {
    for (const part of m[1]!.split(",")) {
      const name = part.trim().replace(/^type\s+/, "");
      if (name === "") continue;
      const alias = name.split(/\s+as\s+/);
      out.add((alias[1] ?? alias[0]!).trim());
    }
  }
  for (const m of text.matchAll(EXPORT_STAR)) {
    if (m[1]) {
      out.add(m[1]);
      continue;
    }
    const t = target(m[2]!);
    if (t) for (const n of moduleExports(t, read, resolve, seen)) out.add(n);
  }
  return out;
}

/** `@primetime/x[/sub]` -> the source file its `@primetime/source` export condition names. */
export function sourceResolver(root: string): (specifier: string) => string | null {
  const byName = new Map<string, string>();
  for (const d of packageDirs(root)) {
    try {
      const m = JSON.parse(readFileSync(join(root, d, "package.json"), "utf8")) as {
        name?: string;
      };
      if (m.name) byName.set(m.name, d);
    } catch {
      // not a package
    }
  }
  return (specifier) => {
    const m = /^(@primetime\/[\w-]+)(\/.*)?$/.exec(specifier);
    const dir = m ? byName.get(m[1]!) : undefined;
    if (!m || !dir) return null;
    const manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as {
      exports?: Record<string, string | Record<string, string>>;
    };
    const entry = manifest.exports?.[`.${m[2] ?? ""}`];
    const file = typeof entry === "string" ? entry : entry?.["@primetime/source"];
    return file ? join(root, dir, file) : null;
  };
}

/** The exports of every workspace module, read from the sources (cached). */
export function workspaceExports(root: string): ExportsOf {
  const resolve = sourceResolver(root);
  const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : null);
  const cache = new Map<string, ReadonlySet<string> | null>();
  return (specifier) => {
    if (!cache.has(specifier)) {
      const file = resolve(specifier);
      cache.set(specifier, file && existsSync(file) ? moduleExports(file, read, resolve) : null);
    }
    return cache.get(specifier)!;
  };
}

// -------------------------------------------------------------------------- tables and counts

const TABLE_MARK = /(?<!`)<!--\s*check-docs:\s*table\s+([\w.-]+)((?:\s+[\w.-]+)*)\s*-->/g;
const HEADINGS_MARK = /(?<!`)<!--\s*check-docs:\s*headings\s+([\w.-]+)\s*-->/g;
const COUNT_MARK = /(\d[\d,]*)\s*<!--\s*check-docs:\s*count\s+([\w.-]+)\s*-->/g;

/**
 * The body rows (cells, trimmed) of the table that starts on the lines after `from` (blank lines
 * before it allowed), or null when none does.
 */
function tableAfter(text: string, from: number): string[][] | null {
  const lines = text.slice(from).split("\n").slice(1);
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === "") i++;
  if (i + 1 >= lines.length || !/^\s*\|/.test(lines[i]!) || !/^\s*\|[\s:|-]+$/.test(lines[i + 1]!))
    return null;
  const rows: string[][] = [];
  for (let j = i + 2; j < lines.length && /^\s*\|/.test(lines[j]!); j++) {
    rows.push(
      lines[j]!.split("|")
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** The first cells (backticks stripped) of the table that starts after `from`. */
function firstColumn(text: string, from: number): { names: string[]; found: boolean } {
  const rows = tableAfter(text, from);
  if (rows === null) return { names: [], found: false };
  return { names: rows.map((r) => (r[0] ?? "").replace(/^`|`$/g, "")), found: true };
}

/** Marked tables and counts that no longer match the registries. */
export function checkRegistries(file: string, text: string, registries: Registries): DocProblem[] {
  const problems: DocProblem[] = [];
  const known = Object.keys(registries).join(", ");
  for (const m of text.matchAll(TABLE_MARK)) {
    const line = lineOf(text, m.index);
    const all = registries[m[1]!];
    if (!all) {
      problems.push({ file, line, message: `no registry "${m[1]}": name one of ${known}` });
      continue;
    }
    // Further words are name prefixes: the table lists the registry's names with one of them.
    const prefixes = m[2]!.trim().split(/\s+/).filter(Boolean);
    const names =
      prefixes.length === 0 ? all : all.filter((n) => prefixes.some((p) => n.startsWith(p)));
    const table = firstColumn(text, m.index);
    if (!table.found) {
      problems.push({
        file,
        line,
        message: `no table follows the ${m[1]} mark: put it right above the table`,
      });
      continue;
    }
    const listed = new Set(table.names);
    const missing = names.filter((n) => !listed.has(n));
    const extra = table.names.filter((n) => !names.includes(n));
    if (missing.length > 0) {
      problems.push({
        file,
        line,
        message: `the ${m[1]} table lacks ${missing.join(", ")}: add a row each`,
      });
    }
    if (extra.length > 0) {
      problems.push({
        file,
        line,
        message: `the ${m[1]} table lists ${extra.join(", ")}, not registered: remove or rename the rows`,
      });
    }
  }
  for (const m of text.matchAll(HEADINGS_MARK)) {
    const line = lineOf(text, m.index);
    const names = registries[m[1]!];
    if (!names) {
      problems.push({ file, line, message: `no registry "${m[1]}": name one of ${known}` });
      continue;
    }
    // The level-2 headings after the mark that are a code span: "## `name`".
    const listed = [...text.slice(m.index).matchAll(/^## `([^`]+)`\s*$/gm)].map((h) => h[1]!);
    const missing = names.filter((n) => !listed.includes(n));
    const extra = listed.filter((n) => !names.includes(n));
    if (missing.length > 0) {
      problems.push({
        file,
        line,
        message: `no section for ${missing.join(", ")} of ${m[1]}: add a "## \`name\`" section each`,
      });
    }
    if (extra.length > 0) {
      problems.push({
        file,
        line,
        message: `sections for ${extra.join(", ")}, not in ${m[1]}: remove or rename them`,
      });
    }
  }
  for (const m of text.matchAll(COUNT_MARK)) {
    const line = lineOf(text, m.index);
    const names = registries[m[2]!];
    if (!names) {
      problems.push({ file, line, message: `no registry "${m[2]}": name one of ${known}` });
      continue;
    }
    const n = Number(m[1]!.replace(/,/g, ""));
    if (n !== names.length) {
      problems.push({
        file,
        line,
        message: `says ${m[1]} ${m[2]}, there are ${names.length}: write ${names.length}`,
      });
    }
  }
  return problems;
}

const DEFAULTS_MARK = /(?<!`)<!--\s*check-docs:\s*defaults\s+([\w.-]+)\s*-->/g;

/** A default as a table cell writes it: `"portfolio"`, 200 000, none for an empty list. */
function cellValue(cell: string): string {
  const v = cell.replace(/`/g, "").trim();
  if (/^\d[\d ,_]*$/.test(v)) return v.replace(/[ ,_]/g, "");
  if (v === "none") return "[]";
  return v.replace(/^"(.*)"$/, "$1");
}

function codeValue(value: unknown): string {
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

/**
 * Tables preceded by `<!-- check-docs: defaults NAME -->` list NAME's options (first column) with
 * their defaults (second column): every option once, each value as the code has it.
 */
export function checkDefaults(file: string, text: string, defaults: Defaults): DocProblem[] {
  const problems: DocProblem[] = [];
  for (const m of text.matchAll(DEFAULTS_MARK)) {
    const line = lineOf(text, m.index);
    const values = defaults[m[1]!];
    if (!values) {
      problems.push({
        file,
        line,
        message: `no defaults "${m[1]}": name one of ${Object.keys(defaults).join(", ")}`,
      });
      continue;
    }
    const rows = tableAfter(text, m.index);
    if (rows === null) {
      problems.push({
        file,
        line,
        message: `no table follows the ${m[1]} mark: put it right above the table`,
      });
      continue;
    }
    const listed = new Map(rows.map((r) => [(r[0] ?? "").replace(/`/g, ""), r[1] ?? ""]));
    for (const [option, value] of Object.entries(values)) {
      const cell = listed.get(option);
      if (cell === undefined) {
        problems.push({
          file,
          line,
          message: `the ${m[1]} table lacks ${option}: add its row (default ${codeValue(value)})`,
        });
      } else if (cellValue(cell) !== codeValue(value)) {
        problems.push({
          file,
          line,
          message: `the ${m[1]} table says ${option} defaults to ${cell}, the code to ${codeValue(value)}: write ${codeValue(value)}`,
        });
      }
    }
    for (const option of listed.keys()) {
      if (!(option in values)) {
        problems.push({
          file,
          line,
          message: `the ${m[1]} table lists ${option}, which ${m[1]} has not: remove the row`,
        });
      }
    }
  }
  return problems;
}

// ------------------------------------------------------------------------------ toggle commits

/**
 * In a table whose header names the fix ("fixed by", "commit"), the row of a toggle whose fixing
 * commit is a known hash must quote that hash (its first 12 digits). `commits`: toggle -> hash.
 */
export function checkToggleCommits(
  file: string,
  text: string,
  commits: Readonly<Record<string, string>>,
): DocProblem[] {
  const problems: DocProblem[] = [];
  const lines = text.split("\n");
  let fixColumn = false;
  let offset = 0;
  for (let i = 0; i < lines.length; offset += lines[i]!.length + 1, i++) {
    const l = lines[i]!;
    if (!/^\s*\|/.test(l)) {
      fixColumn = false;
      continue;
    }
    if (i + 1 < lines.length && /^\s*\|[\s:|-]+$/.test(lines[i + 1]!)) {
      fixColumn = /fixed by|commit/i.test(l);
      continue;
    }
    if (!fixColumn) continue;
    const name = /^\s*\|\s*`([\w.-]+)`/.exec(l)?.[1];
    const hash = name ? commits[name] : undefined;
    if (!name || !hash || !/^[0-9a-f]{12,40}$/.test(hash)) continue;
    if (l.includes(hash.slice(0, 12))) continue;
    problems.push({
      file,
      line: lineOf(text, offset),
      message: `the row of ${name} does not quote its fixing commit ${hash.slice(0, 12)}: write the hash the toggle's \`commit\` has`,
    });
  }
  return problems;
}

// ------------------------------------------------------------------------------- dependencies

/** A package manifest's name and dependency fields, as checkDependencies() reads them. */
export interface DependencyManifest {
  readonly name?: string;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

/**
 * The Dependencies parts of a README: each section under a heading that starts with
 * "Dependencies" (up to the next heading of the same or a higher level), and each paragraph
 * that starts with "Dependencies" or "Dependency" (`Dependencies: \`typescript\` …`), as
 * [start, end) offsets.
 */
export function dependencySections(readme: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of readme.matchAll(/^(#{1,6})[ \t]+Dependenc(?:y|ies)\b[^\n]*$/gm)) {
    const start = m.index;
    const level = m[1]!.length;
    const next = new RegExp(`^#{1,${level}}[ \\t]`, "m").exec(readme.slice(start + m[0].length));
    out.push([start, next ? start + m[0].length + next.index : readme.length]);
  }
  for (const m of readme.matchAll(/^Dependenc(?:y|ies)\b/gm)) {
    const blank = /\n[ \t]*\n/.exec(readme.slice(m.index));
    out.push([m.index, blank ? m.index + blank.index : readme.length]);
  }
  return out;
}

/**
 * A package's README says why it depends on what it depends on: every `dependencies` and
 * `peerDependencies` entry of its package.json is named in it (`@primetime/gem` or `gem` in
 * backticks). Conversely, a workspace package its Dependencies section names in backticks
 * (`` `@primetime/vgem` ``, a subpath such as `` `@primetime/sim/explore` `` too) must be one the
 * manifest declares (`dependencies`, `devDependencies`, `peerDependencies` or
 * `optionalDependencies`), or the package itself: a dependency dropped from package.json leaves
 * no stale line behind. `readme` is null for a package without a README.
 */
export function checkDependencies(
  dir: string,
  manifest: DependencyManifest,
  readme: string | null,
): DocProblem[] {
  const file = `${dir}/README.md`;
  if (readme === null)
    return [
      {
        file,
        line: 1,
        message:
          "the package has no README.md: write one (what it is, how to use it, its dependencies)",
      },
    ];
  const deps = [
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ];
  const problems: DocProblem[] = deps
    .filter((d) => !readme.includes(d) && !readme.includes(`\`${d.replace(/^@primetime\//, "")}\``))
    .map((d) => ({
      file,
      line: 1,
      message: `does not name its dependency ${d}: say in its Dependencies section why it is used`,
    }));
  const declared = new Set([
    ...(manifest.name === undefined ? [] : [manifest.name]),
    ...deps,
    ...Object.keys(manifest.devDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  const reported = new Set<string>();
  for (const [start, end] of dependencySections(readme)) {
    const section = readme.slice(start, end);
    for (const m of section.matchAll(/`(@primetime\/[a-z0-9][a-z0-9._-]*)(?:\/[^`\s]*)?`/g)) {
      const name = m[1]!;
      if (declared.has(name) || reported.has(name)) continue;
      reported.add(name);
      problems.push({
        file,
        line: lineOf(readme, start + m.index),
        message: `its Dependencies section names ${name}, which package.json does not declare: drop the line, or declare the dependency`,
      });
    }
  }
  return problems;
}

// ------------------------------------------------------------------------------ kernel version

/**
 * The recognisable forms of "the version this package follows": `follows **Linux v6.18**`
 * (`v6.15/v6.16` too), `follows **libdrm 2.4.125**`, `follows **IGT 2.1**` or `follows **IGT
 * v1.30**`, or `**No kernel counterpart**` (case-insensitive) for a package that models no kernel
 * code as a whole. Whitespace, line breaks included, is normalised before matching.
 */
const FOLLOWS_VERSION =
  /\bfollows \*\*(?:Linux v\d+\.\d+|libdrm \d+\.\d+\.\d+|IGT v?\d+(?:\.\d+)+)[^*]*\*\*|\*\*no kernel counterpart\*\*/i;

/**
 * A package under `packages/` names the kernel (or library, or test suite) version it follows,
 * in one of the forms of FOLLOWS_VERSION. Other workspace packages (apps, tools) are not checked;
 * a missing README is checkDependencies()' finding.
 */
export function checkKernelVersion(dir: string, readme: string | null): DocProblem[] {
  if (readme === null || !dir.startsWith("packages/")) return [];
  if (FOLLOWS_VERSION.test(readme.replace(/\s+/g, " "))) return [];
  return [
    {
      file: `${dir}/README.md`,
      line: 1,
      message:
        "names no version it follows: add a Kernel version paragraph saying `follows **Linux vX.Y**` " +
        "(or `**libdrm 2.4.N**`, `**IGT X.Y**`), or `**No kernel counterpart**`",
    },
  ];
}

// --------------------------------------------------------------------------- loading the facts

/** Workspace package directories (packages/*, packages/drivers/*, apps/*, tools/*). */
export function packageDirs(root: string): string[] {
  const out: string[] = [];
  for (const parent of ["packages", "packages/drivers", "apps", "tools"]) {
    const p = join(root, parent);
    if (!existsSync(p)) continue;
    for (const e of readdirSync(p, { withFileTypes: true })) {
      if (e.isDirectory() && existsSync(join(p, e.name, "package.json"))) {
        out.push(`${parent}/${e.name}`);
      }
    }
  }
  return out.sort();
}

/** The Markdown files the checks read: tracked, CHANGELOGs and changesets excepted. */
export function markdownFiles(root: string): string[] {
  return trackedFiles(root).filter(
    (f) => f.endsWith(".md") && !f.startsWith(".changeset/") && !f.endsWith("CHANGELOG.md"),
  );
}

interface StressModule {
  main(
    argv: readonly string[],
    io: { log(t: string): void; error(t: string): void; color?: boolean },
  ): Promise<number>;
  CAMPAIGN_SCENARIOS: readonly { name: string }[];
  installedDrivers(): readonly { name: string }[];
  toggleTable(): readonly { name: string; inDemo: boolean; commit: string | null }[];
}

interface ScenariosModule {
  LIFETIME_SCENARIOS: readonly { name: string }[];
  DRM_RACE_SCENARIOS: readonly { name: string }[];
  TTM_STRESS_SCENARIOS: readonly { name: string }[];
  DRIVER_STRESS_SCENARIOS: readonly { name: string }[];
}

interface SharingModule {
  SHARING_SCENARIOS: readonly { name: string }[];
}

interface ExploreModule {
  SEARCH_DEFAULTS: Readonly<Record<string, unknown>>;
}

interface SimModule {
  listKnownWindows(): readonly { name: string }[];
}

interface ConformanceModule {
  conformanceCases(driver: unknown, others: readonly unknown[]): readonly { name: string }[];
}

interface VgemModule {
  driverUnderTest: unknown;
}

async function load<T>(root: string, path: string): Promise<T> {
  return (await import(pathToFileURL(join(root, path)).href)) as T;
}

async function helpOf(stress: StressModule, argv: string[]): Promise<string> {
  const out: string[] = [];
  await stress.main(argv, { log: (t) => out.push(t), error: (t) => out.push(t), color: false });
  return out.join("\n");
}

/**
 * The facts of the repository at `root`, from its code: the stress CLI's commander program (its
 * `--help`) and the registries' exports. Needs the `@primetime/source` condition (or a build).
 */
export async function loadFacts(root: string): Promise<Facts> {
  const stress = await load<StressModule>(root, "apps/stress/src/index.ts");
  const scenarios = await load<ScenariosModule>(root, "apps/stress/src/scenarios/index.ts");
  const sharing = await load<SharingModule>(root, "apps/stress/src/scenarios/sharing/index.ts");
  const conformance = await load<ConformanceModule>(root, "packages/conformance/src/index.ts");
  const vgem = await load<VgemModule>(root, "packages/drivers/vgem/src/index.ts");
  // The stress app has loaded every package, so every known window is defined.
  const sim = await load<SimModule>(root, "packages/sim/src/index.ts");
  const explore = await load<ExploreModule>(root, "packages/sim/src/explore/index.ts");
  const top = parseHelp(await helpOf(stress, ["--help"]));
  const commands = new Map<string, Set<string>>();
  for (const names of top.commands) {
    if (names[0] === "help") continue;
    const options = new Set(parseHelp(await helpOf(stress, [names[0]!, "--help"])).options);
    for (const n of names) commands.set(n, options);
  }
  const names = (xs: readonly { name: string }[]) => xs.map((x) => x.name);
  const manifests = packageDirs(root)
    .filter((d) => !d.startsWith("tools/"))
    .map(
      (d) => JSON.parse(readFileSync(join(root, d, "package.json"), "utf8")) as { name: string },
    );
  return {
    cli: { commands, global: new Set(top.options), defaultCommand: "start" },
    defaults: { SEARCH_DEFAULTS: explore.SEARCH_DEFAULTS },
    toggleCommits: Object.fromEntries(
      stress
        .toggleTable()
        .filter((t) => t.commit !== null)
        .map((t) => [t.name, t.commit as string]),
    ),
    registries: {
      toggles: names(stress.toggleTable()),
      "toggles.demo": names(stress.toggleTable().filter((t) => t.inDemo)),
      scenarios: names(stress.CAMPAIGN_SCENARIOS),
      "scenarios.sharing": names(sharing.SHARING_SCENARIOS),
      "scenarios.lifetime": names(scenarios.LIFETIME_SCENARIOS),
      "scenarios.drm-races": names(scenarios.DRM_RACE_SCENARIOS),
      "scenarios.ttm": names(scenarios.TTM_STRESS_SCENARIOS),
      "scenarios.drivers": names(scenarios.DRIVER_STRESS_SCENARIOS),
      packages: names(manifests),
      drivers: names(stress.installedDrivers()),
      windows: names(sim.listKnownWindows()),
      "conformance.cases": names(
        conformance.conformanceCases(vgem.driverUnderTest, [vgem.driverUnderTest]),
      ),
    },
  };
}

/** Every problem of the Markdown files of `root`. */
export function checkDocFacts(
  root: string,
  facts: Facts,
  files = markdownFiles(root),
): DocProblem[] {
  const packages = packageDirs(root);
  const exists = (p: string) => existsSync(join(root, p));
  const exportsOf = facts.exportsOf ?? workspaceExports(root);
  const scripts = facts.scripts ?? workspaceScripts(root);
  const defaults = facts.defaults ?? {};
  const problems: DocProblem[] = [];
  for (const d of packages) {
    const manifest = JSON.parse(readFileSync(join(root, d, "package.json"), "utf8"));
    const readme = join(root, d, "README.md");
    const text = existsSync(readme) ? readFileSync(readme, "utf8") : null;
    problems.push(...checkDependencies(d, manifest, text), ...checkKernelVersion(d, text));
  }
  for (const f of files) {
    const text = readFileSync(join(root, f), "utf8");
    problems.push(
      ...checkCli(f, text, facts.cli),
      ...checkExports(f, text, exportsOf),
      ...checkScripts(f, text, scripts),
      ...checkDefaults(f, text, defaults),
      ...checkToggleCommits(f, text, facts.toggleCommits ?? {}),
      ...checkPaths(f, text, exists, packages),
      ...checkRegistries(f, text, facts.registries),
    );
  }
  return problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

export async function main(argv: readonly string[]): Promise<number> {
  const root = resolve(argv[0] ?? process.cwd());
  if (!statSync(root).isDirectory()) throw new Error(`doc-facts: ${root} is not a directory`);
  const files = markdownFiles(root);
  const problems = checkDocFacts(root, await loadFacts(root), files);
  for (const p of problems) console.error(`${p.file}:${p.line}: ${p.message}`);
  if (problems.length > 0) {
    console.error(`doc-facts: ${problems.length} statement(s) the code no longer backs`);
    return 1;
  }
  console.log(
    `doc-facts: ${files.length} Markdown files agree with the CLI, the tree and the registries`,
  );
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
