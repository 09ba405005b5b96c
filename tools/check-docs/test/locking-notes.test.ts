import { describe, expect, it } from "vitest";
import { checkNotes, lockingNote, notesOfSource, requiresLock } from "../locking-notes.js";

const summary = (file: string, text: string) =>
  notesOfSource(file, text).map((n) => ({
    name: n.name,
    requiresLock: n.requiresLock,
    asserted: n.asserted,
  }));

describe("lockingNote / requiresLock", () => {
  it("reads the note up to References:, a blank line or the end", () => {
    const doc =
      "/**\n * Models foo().\n * Locking: the fence lock must be\n * held.\n * References: none.\n */";
    expect(lockingNote(doc)).toBe("the fence lock must be held.");
    expect(lockingNote("/** Models bar(). */")).toBeNull();
  });

  it("tells notes that need a lock from the others", () => {
    const needs = {
      "object_name_lock held.": true,
      "the reservation lock must be held (v6.2+); may sleep.": true,
      "called and returns with file_lock held; drops it in between.": true,
      "the caller holds the mutex.": true,
      "under the fence lock.": true,
      "object_name_lock held (not with the toggle).": true,
      "none held on entry; takes file_lock.": false,
      "must not be called with locks held.": false,
      "may sleep; the reservation lock may be held.": false,
      "takes prime.lock; reads obj->dma_buf (a handle is held).": false,
      "on success the caller holds the lock.": false,
      "runs under the fence lock when called by a signal; takes the poll lock.": false,
      "none: the caller must hold a reference.": false,
    };
    for (const [note, want] of Object.entries(needs))
      expect([note, requiresLock(note)]).toEqual([note, want]);
  });
});

describe("notesOfSource", () => {
  it("accepts an assertion at entry, after a reference or a WARN_ON guard, or through a callee", () => {
    const src = `
/** Locking: prime.lock held. */
export async function a(p: P) {
  lockdepAssertHeld(p.lock);
  await point("a");
}
/** Locking: the reservation lock must be held. */
async function b(obj: O, f: F) {
  await dmaFenceGet(f);
  dmaResvAssertHeld(obj);
}
/** Locking: the reservation lock must be held. */
async function c(attach: A | null) {
  if (warnOn(!attach, "WARN_ON(!attach)")) return -22;
  dmaResvAssertHeld(attach!.resv);
}
/** Locking: the caller holds the lock. */
async function d(obj: O) {
  await b(obj, null);
  await obj.lock.unlock();
}
/** Locking: object_name_lock held by the caller. */
function e(dev: D) {
  return a(dev.prime);
}
/** Locking: object_name_lock held (not with the toggle). */
function f(dev: D) {
  if (!toggleEnabled("t")) lockdepAssertHeld(dev.lock);
}
class M {
  /** Locking: the caller holds the mutex. */
  async unlock() {
    await this.release();
  }
  private async release() {
    await point("unlock");
    lockRelease(this);
  }
}
/** drm_gem_handle_create_tail(). Locking: object_name_lock held on entry, released inside. */
async function g(dev: D) {
  warnOn(!dev.objectNameLock.locked, "object_name_lock not held");
}
`;
    expect(summary("x.ts", src).filter((n) => !n.asserted)).toEqual([]);
  });

  it("refuses a missing assertion, one after a return, and one in a branch or a callback", () => {
    const src = `
/** Locking: prime.lock held. */
export async function a(p: P) {
  await point("a");
}
/** Locking: prime.lock held. */
function b(p: P) {
  if (p.dead) return -2;
  lockdepAssertHeld(p.lock);
}
/** Locking: prime.lock held. */
function c(p: P) {
  if (p.x) {
    doThis();
  } else {
    lockdepAssertHeld(p.lock);
  }
}
/** Locking: prime.lock held. */
function d(p: P) {
  later(() => lockdepAssertHeld(p.lock));
}
/** Locking: none held. */
function e() {}
`;
    expect(summary("x.ts", src)).toEqual([
      { name: "a", requiresLock: true, asserted: false },
      { name: "b", requiresLock: true, asserted: false },
      { name: "c", requiresLock: true, asserted: false },
      { name: "d", requiresLock: true, asserted: false },
      { name: "e", requiresLock: false, asserted: false },
    ]);
  });
});

describe("checkNotes", () => {
  it("fails new unasserted notes and stale pending entries; pending ones only shrink", () => {
    const notes = notesOfSource(
      "p/a.ts",
      "/** Locking: x held. */\nfunction old() {}\n/** Locking: x held. */\nfunction fresh() {}\n",
    );
    const r = checkNotes(notes, new Set(["p/a.ts old", "p/a.ts fixed"]));
    expect(r.missing.map((n) => n.name)).toEqual(["fresh"]);
    expect(r.pending.map((n) => n.name)).toEqual(["old"]);
    expect(r.stale).toEqual(["p/a.ts fixed"]);
  });
});
