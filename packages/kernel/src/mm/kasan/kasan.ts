/**
 * KASAN, the kernel address sanitizer (mm/kasan/report.c, Documentation/dev-tools/kasan.rst),
 * for the slab objects of this package.
 *
 * Two levels:
 * - always on: kernel primitives check the liveness of the object they belong to (a Kref, a
 *   Mutex or SpinLock created with an owner, kfree() itself) through `SlabObject.checkAccess()`,
 *   so a kref_get() or mutex_lock() on a freed object, a double free and an invalid free are
 *   reported with the object's allocation and free sites;
 * - full mode (`setKasanFull(true)`): kmalloc() returns a Proxy that checks every property read
 *   and write of the object. Slower; meant for replaying a failure and explaining it.
 *
 * Simplifications: no shadow memory, sizes or addresses: an "address" is the object's name
 * (cache name and sequence number). The kernel reports only the first bug unless
 * kasan_multi_shot is set; this model reports each distinct (bug type, object, operation) once
 * per simulation. Full-mode caveats: the proxy is what kmalloc() returns and what callers must
 * keep (the object's constructor sees the raw object, so identity checks must not mix the two);
 * subclasses must not use JavaScript `#private` fields (proxies cannot forward them).
 */

import { currentTask, here, report, SimLocal, type Site, site } from "@primetime/sim";
import type { SlabObject } from "../slab.js";

/** The bug types KASAN prints after "BUG: KASAN: ". */
export type KasanBugType = "slab-use-after-free" | "double-free" | "invalid-free";

let fullMode = false;

/**
 * Turns full KASAN on or off for objects allocated from now on (process-wide: set it before a
 * run, e.g. when replaying a failure). In full mode every property access of a freed object is a
 * use-after-free report, not only the accesses kernel primitives check.
 */
export function setKasanFull(on: boolean): void {
  fullMode = on;
}

/** Whether full KASAN is on. */
export function kasanFull(): boolean {
  return fullMode;
}

const rawOf = new WeakMap<object, object>();
/** Whether this process ever made a full-mode proxy: until then nothing needs unwrapping. */
let anyProxy = false;

/** The object behind a full-mode proxy (the object itself when it is not a proxy). */
export function kasanUnwrap<T>(obj: T): T {
  // Called on every kmalloc(), kfree() and liveness check: no WeakMap lookup in a process that
  // never turned full mode on.
  if (!anyProxy || typeof obj !== "object" || obj === null) return obj;
  return (rawOf.get(obj) as T | undefined) ?? obj;
}

/** SlabObject members that are slab metadata (KASAN keeps them outside the object): unchecked. */
const METADATA = new Set<PropertyKey>([
  "name",
  "cache",
  "allocSite",
  "freeSite",
  "freed",
  "checkAccess",
  "constructor",
  // Promise resolution and JSON probe these on any value passed around.
  "then",
  "toJSON",
]);

/**
 * The full-mode view of a slab object: a Proxy that reports every read and write of a property
 * of the object once it is freed (then lets the access go through, as freed memory still reads).
 */
export function kasanProxy<T extends SlabObject>(obj: T): T {
  const raw = kasanUnwrap(obj);
  const check = (prop: PropertyKey, access: "Read" | "Write"): void => {
    if (typeof prop === "symbol" || METADATA.has(prop) || !raw.freed) return;
    const cls = raw.constructor?.name ?? "object";
    kasanReport("slab-use-after-free", raw, `${cls}.${String(prop)}`, access);
  };
  anyProxy = true;
  const proxy = new Proxy(raw, {
    get(target, prop, receiver) {
      check(prop, "Read");
      return Reflect.get(target, prop, receiver);
    },
    set(target, prop, value, receiver) {
      check(prop, "Write");
      return Reflect.set(target, prop, value, receiver);
    },
    defineProperty(target, prop, desc) {
      check(prop, "Write");
      return Reflect.defineProperty(target, prop, desc);
    },
    deleteProperty(target, prop) {
      check(prop, "Write");
      return Reflect.deleteProperty(target, prop);
    },
  });
  rawOf.set(proxy, raw);
  return proxy as T;
}

const REPORTED = new SimLocal<Set<string>>(() => new Set());

function who(): string {
  const t = currentTask();
  return t ? `${t.name}/${t.id}` : "<scheduler>";
}

function siteBlock(title: string, s: Site): string {
  return `${title} by task ${s.task}/${s.taskId} at step ${s.step}:\n ${s.label}`;
}

/** The slab-object parts of a report, for objects that may not be SlabObjects at all. */
interface KasanTarget {
  readonly name: string;
  readonly cache?: { readonly name: string };
  readonly allocSite?: Site;
  readonly freeSite?: Site | null;
}

/**
 * Models kasan_report() / kasan_report_invalid_free(): a `kasan` splat
 * "BUG: KASAN: <type> in <op>", with the allocation and free sites of the object (and the
 * kfree_rcu() that queued the free, if any), as KASAN prints the alloc and free stacks.
 *
 * @param op the operation that touched the object (`kref_get`, `mutex_lock`, `kfree`...), or a
 *   property (`GemObject.handleCount`) in full mode
 * @param access for a property access in full mode: "Read" or "Write"
 * @param queued where a kfree_rcu() queued the free ("Last potentially related work creation")
 * Locking: none. Returns whether a splat was reported (false: already reported in this run).
 */
export function kasanReport(
  type: KasanBugType,
  obj: KasanTarget,
  op: string,
  access?: "Read" | "Write",
  queued?: Site | null,
): boolean {
  const key = `${type}|${obj.name}|${op}|${access ?? ""}`;
  const seen = REPORTED.get();
  if (seen.has(key)) return false;
  seen.add(key);
  const lines = [`BUG: KASAN: ${type} in ${op}`];
  if (type === "slab-use-after-free") {
    lines.push(
      access
        ? `${access} of ${obj.name} (${op}) by task ${who()}`
        : `Access to ${obj.name} by task ${who()}`,
    );
  } else {
    lines.push(`Free of ${obj.name} by task ${who()}`);
  }
  const sites = [];
  if (obj.allocSite) {
    lines.push("", siteBlock("Allocated", obj.allocSite));
    sites.push(site("allocated", obj.allocSite));
  }
  if (obj.freeSite) {
    lines.push("", siteBlock("Freed", obj.freeSite));
    sites.push(site("freed", obj.freeSite));
  }
  if (queued) {
    lines.push("", siteBlock("Last potentially related work creation", queued));
    sites.push(site("kfree_rcu queued", queued));
  }
  lines.push("");
  if (obj.cache) {
    lines.push(
      `The buggy address belongs to the object ${obj.name}`,
      ` which belongs to the cache ${obj.cache.name}`,
    );
  } else {
    lines.push(`The buggy address ${obj.name} does not belong to a slab object`);
  }
  sites.push(site(type === "slab-use-after-free" ? "accessed" : "this free", here()));
  report("kasan", lines.join("\n"), { object: obj.name, sites });
  return true;
}
