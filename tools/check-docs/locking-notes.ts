/**
 * Checks that every "Locking: X held" note is executable: a function whose doc comment says the
 * caller holds a lock asserts it at entry, as the kernel does with lockdep_assert_held() (or
 * drm_gem_handle_create_tail()'s WARN_ON(!mutex_is_locked())). Without the assertion the note is
 * a comment nobody checks; with it, a call without the lock is a splat.
 *
 * A note requires an assertion when the first clause of its text (from "Locking:" to the next
 * "References:" or the end of the paragraph) says a lock is held on entry: "object_name_lock
 * held", "the fence lock must be held", "called and returns with file_lock held", "the caller
 * holds the mutex", "under the fence lock". Notes that say no lock is held ("none held",
 * "without locks held", "must not be called with a spinlock held"), that a lock may be held, that
 * it is held only in some case ("when", "on success", a variant), or that the function takes the
 * lock itself do not.
 *
 * A function satisfies its note when it asserts at entry (see assertsAtEntry()): by calling
 * `lockdepAssertHeld`, `lockdepAssertHeldWrite`, `mmapAssertLocked`, `mmapAssertWriteLocked`,
 * any `*AssertHeld*` or `assert*` helper, `lockRelease` (an unlock: lockdep's bad unlock
 * balance), `warnOn(!x.locked ...)` (drm_gem_handle_create_tail()'s WARN_ON(!mutex_is_locked())),
 * or a function that itself asserts at entry. Declarations without a body (interface members)
 * are counted, not checked: their implementations carry the note and the assertion.
 *
 * Notes written before this check existed and not yet asserted are listed, one `file name` per
 * line, in locking-notes-pending.txt beside this script: they are reported as pending, not as
 * failures. The list may only shrink: an entry whose note is now asserted (or gone) fails until
 * it is removed, and a new unasserted note fails.
 *
 * Usage: `tsx tools/check-docs/locking-notes.ts [workspace-root]`. Exits 1 when a note is not
 * asserted.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

/** Where model code lives: `src/` of every package, tests excluded. */
const SOURCE_ROOTS = ["packages", "apps"];
const SKIP_DIRS = new Set(["node_modules", "dist", ".turbo", "coverage"]);

/**
 * Callee names that assert a lock is held: lockdep_assert_held() and its helpers, and
 * lock_release() (an unlock of a lock the task does not hold is lockdep's "bad unlock balance").
 */
const ASSERTION = /^(lockdepAssert\w+|\w*AssertHeld\w*|mmapAssert\w+|assert[A-Z]\w*|lockRelease)$/;

/** Openings of notes that say no lock is needed (or the function takes it itself). */
const NO_LOCK =
  /^(none|no lock|no locks|no spinlock|nothing|must not|must be called without|called without|may sleep; (must not|no)|sleeps|the thread must hold no|takes |see |may |entered without)/i;

export interface LockingNote {
  /** File relative to the workspace root, `/`-separated. */
  readonly file: string;
  readonly line: number;
  /** The function (or `Class.method`) the note documents. */
  readonly name: string;
  /** The note's text after "Locking:", on one line. */
  readonly text: string;
  /** Whether the note says a lock is held on entry. */
  readonly requiresLock: boolean;
  /** Whether the declaration has a body (false for interface members and signatures). */
  readonly hasBody: boolean;
  /** Whether the body asserts a lock before its first await. */
  readonly asserted: boolean;
}

/** The text of the "Locking:" note of a doc comment, or null. */
export function lockingNote(comment: string): string | null {
  const body = comment
    .replace(/^\/\*\*?/, "")
    .replace(/\*\/$/, "")
    .split("\n")
    .map((l) => l.replace(/^\s*\*\s?/, ""));
  const text = body.join("\n");
  const at = text.indexOf("Locking:");
  if (at < 0) return null;
  let note = text.slice(at + "Locking:".length);
  const end = note.search(/\n\s*\n|References:|\n\s*@/);
  if (end >= 0) note = note.slice(0, end);
  return note.replace(/\s+/g, " ").trim();
}

/** Whether a note says a lock is held by the caller on entry. */
export function requiresLock(note: string): boolean {
  if (NO_LOCK.test(note)) return false;
  const first = note.split(/[;.](\s|$)/)[0] ?? note;
  if (/\bmay be held\b|\bwhen\b|\bon success\b|\bvariant\b|\breference\b/.test(first)) return false;
  return /\bheld\b|^the caller holds\b|^(runs )?under\b|^called by \S+ under\b|^entered with\b/.test(
    first,
  );
}

/** The name a call resolves to for this check: `f(...)`, `this.m(...)`, or null. */
function calleeName(call: ts.CallExpression): { name: string; viaThis: boolean } | null {
  const callee = call.expression;
  if (ts.isIdentifier(callee)) return { name: callee.text, viaThis: false };
  if (ts.isPropertyAccessExpression(callee)) {
    return {
      name: callee.name.text,
      viaThis: callee.expression.kind === ts.SyntaxKind.ThisKeyword,
    };
  }
  return null;
}

/** Whether `node` is a call of an assertion: a primitive one, or a function known to assert. */
function isAssertionCall(node: ts.Node, sf: ts.SourceFile, known: ReadonlySet<string>): boolean {
  let n = node;
  while (ts.isAwaitExpression(n) || ts.isParenthesizedExpression(n)) n = n.expression;
  if (!ts.isCallExpression(n)) return false;
  const callee = calleeName(n);
  if (!callee) return false;
  if (ASSERTION.test(callee.name)) return true;
  if (callee.name === "warnOn" && n.arguments[0]) {
    return /^!.*(\.locked\b|\.heldByCurrent\b|IsLocked\()/.test(n.arguments[0].getText(sf));
  }
  // A function (or a method of the same object) that itself asserts at entry.
  if (!ts.isPropertyAccessExpression(n.expression) || callee.viaThis) return known.has(callee.name);
  return false;
}

/** Whether a top-level statement of a body is an (unconditional, or toggle-guarded) assertion. */
function isAssertionStatement(
  st: ts.Statement,
  sf: ts.SourceFile,
  known: ReadonlySet<string>,
): boolean {
  if (ts.isExpressionStatement(st)) return isAssertionCall(st.expression, sf, known);
  if (ts.isVariableStatement(st)) {
    const init = st.declarationList.declarations[0]?.initializer;
    return init !== undefined && isAssertionCall(init, sf, known);
  }
  // The condition of an `if` always runs: `if (await this.release()) ...`.
  if (ts.isIfStatement(st) && isAssertionCall(st.expression, sf, known)) return true;
  if (ts.isIfStatement(st) && !st.elseStatement) {
    const then = ts.isBlock(st.thenStatement) ? st.thenStatement.statements[0] : st.thenStatement;
    return then !== undefined && isAssertionStatement(then, sf, known);
  }
  if (ts.isForOfStatement(st)) return isAssertionCall(st.expression, sf, known);
  if (ts.isReturnStatement(st))
    return st.expression !== undefined && isAssertionCall(st.expression, sf, known);
  return false;
}

function containsReturn(n: ts.Node): boolean {
  if (ts.isReturnStatement(n) || ts.isThrowStatement(n)) return true;
  if (ts.isFunctionLike(n)) return false;
  return ts.forEachChild(n, containsReturn) ?? false;
}

/** `if (warnOn(...)) return ...;`: an argument check that returns before anything happens. */
function isWarnGuard(st: ts.Statement): boolean {
  if (!ts.isIfStatement(st) || st.elseStatement) return false;
  const c = st.expression;
  return ts.isCallExpression(c) && ts.isIdentifier(c.expression) && c.expression.text === "warnOn";
}

/**
 * Whether `body` asserts at entry: one of its top-level statements, before any statement that
 * can return, is an assertion (a primitive assertion, lockdep's release check in an unlock, or a
 * call of a function that asserts at entry; possibly awaited, or guarded by an `if` for a
 * toggle). Statements before it may only do what the kernel does before its assertion (take a
 * reference, a scheduling point, a WARN_ON argument check): they cannot otherwise return.
 */
export function assertsAtEntry(
  body: ts.Node,
  sf: ts.SourceFile,
  known: ReadonlySet<string>,
): boolean {
  if (!ts.isBlock(body)) return isAssertionCall(body, sf, known);
  for (const st of body.statements) {
    if (isAssertionStatement(st, sf, known)) return true;
    if (containsReturn(st) && !isWarnGuard(st)) return false;
  }
  return false;
}

function declName(node: ts.Node, sf: ts.SourceFile): string | null {
  const named = (n: ts.Node): string | null => {
    const name = (n as { name?: ts.Node }).name;
    return name ? name.getText(sf) : null;
  };
  if (ts.isFunctionDeclaration(node)) return named(node);
  if (
    ts.isMethodDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node) ||
    ts.isMethodSignature(node) ||
    ts.isPropertySignature(node) ||
    ts.isPropertyDeclaration(node) ||
    ts.isPropertyAssignment(node)
  ) {
    const owner = node.parent && (node.parent as { name?: ts.Node }).name;
    const m = named(node);
    return owner && m ? `${owner.getText(sf)}.${m}` : m;
  }
  if (ts.isConstructorDeclaration(node)) {
    const owner = (node.parent as { name?: ts.Node }).name;
    return `${owner ? owner.getText(sf) : "class"}.constructor`;
  }
  if (ts.isVariableStatement(node)) {
    const d = node.declarationList.declarations[0];
    return d ? d.name.getText(sf) : null;
  }
  return null;
}

/** The body that runs when the declaration is called, if it has one. */
function bodyOf(node: ts.Node): ts.Node | undefined {
  if (ts.isVariableStatement(node)) {
    const init = node.declarationList.declarations[0]?.initializer;
    if (init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init))) return init.body;
    return undefined;
  }
  if (ts.isPropertyDeclaration(node) || ts.isPropertyAssignment(node)) {
    const init = node.initializer;
    if (init && (ts.isArrowFunction(init) || ts.isFunctionExpression(init))) return init.body;
    return undefined;
  }
  return (node as { body?: ts.Node }).body;
}

interface Decl {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  /** The simple name other code calls it by. */
  readonly callName: string;
  readonly note: string | null;
  readonly body: ts.Node | undefined;
  readonly sf: ts.SourceFile;
}

/** The function-like declarations of one source file, with their Locking notes. */
function declsOfSource(file: string, text: string): Decl[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: Decl[] = [];
  const visit = (node: ts.Node): void => {
    const name = declName(node, sf);
    if (name !== null) {
      const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
      const doc = ranges.filter((r) => text.startsWith("/**", r.pos)).at(-1);
      out.push({
        file,
        line: sf.getLineAndCharacterOfPosition(doc ? doc.pos : node.getStart(sf)).line + 1,
        name,
        callName: name.split(".").at(-1)!,
        note: doc ? lockingNote(text.slice(doc.pos, doc.end)) : null,
        body: bodyOf(node),
        sf,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The Locking notes of a set of declarations, deciding which assert at entry. */
function notesOf(decls: readonly Decl[]): LockingNote[] {
  // Functions that assert at entry, by the name they are called by, to a fixed point: a call of
  // one at entry asserts too (dma_resv_unlock() asserts through dma_resv_reset_max_fences()).
  const known = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const d of decls) {
      if (d.body && !known.has(d.callName) && assertsAtEntry(d.body, d.sf, known)) {
        known.add(d.callName);
        changed = true;
      }
    }
  }
  return decls
    .filter((d) => d.note !== null)
    .map((d) => ({
      file: d.file,
      line: d.line,
      name: d.name,
      text: d.note!,
      requiresLock: requiresLock(d.note!),
      hasBody: d.body !== undefined,
      asserted: d.body !== undefined && assertsAtEntry(d.body, d.sf, known),
    }));
}

/** The Locking notes of one source file (calls into other files are not followed). */
export function notesOfSource(file: string, text: string): LockingNote[] {
  return notesOf(declsOfSource(file, text));
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.ts$/.test(e.name) && !/\.(test|d)\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Every Locking note in `src/` of the workspace's packages and apps. */
export function collectNotes(root: string): LockingNote[] {
  const srcDirs: string[] = [];
  const findSrc = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory() || SKIP_DIRS.has(e.name)) continue;
      const p = join(dir, e.name);
      if (e.name === "src") srcDirs.push(p);
      else findSrc(p);
    }
  };
  for (const r of SOURCE_ROOTS) findSrc(join(root, r));
  const decls: Decl[] = [];
  for (const d of srcDirs.sort()) {
    for (const f of sourceFiles(d).sort()) {
      const rel = relative(root, f).split(sep).join("/");
      decls.push(...declsOfSource(rel, readFileSync(f, "utf8")));
    }
  }
  return notesOf(decls);
}

/** The pending list: `file name` keys of notes not asserted yet (comments start with #). */
export function readPending(path: string): Set<string> {
  if (!existsSync(path)) return new Set();
  const lines = readFileSync(path, "utf8").split("\n");
  return new Set(lines.map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#")));
}

export const noteKey = (n: LockingNote): string => `${n.file} ${n.name}`;

/**
 * Checks `notes` against the pending list: the unasserted notes not listed, and the listed
 * entries that are no longer unasserted notes.
 */
export function checkNotes(
  notes: readonly LockingNote[],
  pending: ReadonlySet<string>,
): { missing: LockingNote[]; pending: LockingNote[]; stale: string[] } {
  const unasserted = notes.filter((n) => n.requiresLock && n.hasBody && !n.asserted);
  const keys = new Set(unasserted.map(noteKey));
  return {
    missing: unasserted.filter((n) => !pending.has(noteKey(n))),
    pending: unasserted.filter((n) => pending.has(noteKey(n))),
    stale: [...pending].filter((k) => !keys.has(k)).sort(),
  };
}

export function main(argv: readonly string[]): number {
  const root = resolve(argv.find((a) => !a.startsWith("-")) ?? process.cwd());
  if (!statSync(root).isDirectory()) throw new Error(`locking-notes: ${root} is not a directory`);
  const notes = collectNotes(root);
  const required = notes.filter((n) => n.requiresLock && n.hasBody);
  const pendingFile = join(dirname(fileURLToPath(import.meta.url)), "locking-notes-pending.txt");
  const { missing, pending, stale } = checkNotes(notes, readPending(pendingFile));
  if (argv.includes("--list")) {
    const listed = new Set(pending.map(noteKey));
    for (const n of notes.filter((x) => x.requiresLock)) {
      const unasserted = listed.has(noteKey(n)) ? "pending" : "MISSING";
      const state = !n.hasBody ? "contract" : n.asserted ? "asserted" : unasserted;
      console.log(`${state}\t${n.file}:${n.line}\t${n.name}\t${n.text}`);
    }
  }
  for (const n of missing) {
    console.error(
      `${n.file}:${n.line}: ${n.name}: "Locking: ${n.text}" is not asserted at entry (call lockdepAssertHeld() or a *AssertHeld() helper at entry)`,
    );
  }
  for (const k of stale) {
    console.error(
      `locking-notes-pending.txt: "${k}" is asserted now (or gone): remove it from the list`,
    );
  }
  const contracts = notes.filter((n) => n.requiresLock && !n.hasBody).length;
  const asserted = required.length - missing.length - pending.length;
  const summary = `${notes.length} Locking notes, ${required.length} say a lock is held on entry, ${asserted} asserted, ${pending.length} pending (${contracts} callback contracts without a body)`;
  if (missing.length > 0 || stale.length > 0) {
    console.error(
      `locking-notes: ${summary}; ${missing.length} not asserted, ${stale.length} stale`,
    );
    return 1;
  }
  console.log(`locking-notes: ${summary}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
