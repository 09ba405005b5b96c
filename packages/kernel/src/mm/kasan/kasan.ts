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
 * Reports follow v6.18's report_enabled(): one KASAN report per boot (a simulation is a boot),
 * later ones print nothing while the access goes on; with `kasan_multi_shot`
 * (`setKasanMultiShot(true)`, `Kernel.boot(sim, { kasanMultiShot: true })`) every report prints,
 * repeated ones included.
 *
 * Simplifications: no shadow memory, sizes or addresses: an "address" is the object's name
 * (cache name and sequence number). Not modeled: `panic_on_warn` and `kasan.fault=` (the model
 * never panics after a report: the default `kasan.fault=report`). Full-mode caveats: the proxy is
 * what kmalloc() returns and what callers must keep (the object's constructor sees the raw
 * object, so identity checks must not mix the two); subclasses must not use JavaScript
 * `#private` fields (proxies cannot forward them).
 */

import {
  activeSimulation,
  currentTask,
  here,
  report,
  SimLocal,
  type Simulation,
  type Site,
  site,
} from "@primetime/sim";
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
  // An assignment through the proxy reaches the `set` trap and then, for a data property, this
  // proxy's `defineProperty` trap (OrdinarySet defines the value on the receiver): one write,
  // one check. `setting` is the property an assignment is storing right now.
  let setting: PropertyKey | null = null;
  const proxy = new Proxy(raw, {
    get(target, prop, receiver) {
      check(prop, "Read");
      return Reflect.get(target, prop, receiver);
    },
    set(target, prop, value, receiver) {
      check(prop, "Write");
      const outer = setting;
      setting = prop;
      try {
        return Reflect.set(target, prop, value, receiver);
      } finally {
        setting = outer;
      }
    },
    defineProperty(target, prop, desc) {
      if (prop === setting) setting = null;
      else check(prop, "Write");
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

/** The kernel's `kasan_flags` (mm/kasan/report.c): per boot, so per simulation. */
interface KasanFlags {
  /** KASAN_BIT_REPORTED: a report was printed in this boot. */
  reported: boolean;
  /** KASAN_BIT_MULTI_SHOT: every report prints. */
  multiShot: boolean;
}

/** The multi-shot bit new simulations boot with (setKasanMultiShot() outside a simulation). */
let multiShotDefault = false;

const FLAGS = new SimLocal<KasanFlags>(() => ({ reported: false, multiShot: multiShotDefault }));

/**
 * Turns `kasan_multi_shot` on or off. Inside a running simulation it applies to that
 * simulation (that boot) from now on; outside one it sets the default for every simulation
 * started afterwards (a replay that should print every report), and for kernel code used
 * outside simulations. The kernel sets the bit from the command line only
 * (kasan_set_multi_shot()) and, in its KASAN tests, with kasan_save_enable_multi_shot().
 */
export function setKasanMultiShot(on: boolean): void {
  if (activeSimulation() === null) multiShotDefault = on;
  FLAGS.get().multiShot = on;
}

/** Whether `kasan_multi_shot` is on in the running simulation. */
export function kasanMultiShot(): boolean {
  return FLAGS.get().multiShot;
}

/**
 * Models kasan_set_multi_shot(), the `kasan_multi_shot` boot parameter's __setup() handler:
 * `set_bit(KASAN_BIT_MULTI_SHOT, &kasan_flags)` for the boot of `sim` (Kernel.boot()'s
 * `kasanMultiShot` option).
 * Locking: none.
 */
export function kasanSetMultiShot(sim: Simulation | null = activeSimulation()): void {
  FLAGS.get(sim).multiShot = true;
}

/**
 * Models kasan_save_enable_multi_shot(): `test_and_set_bit(KASAN_BIT_MULTI_SHOT, &kasan_flags)`,
 * for the running simulation. Returns whether multi-shot was on before (hand it to
 * kasanRestoreMultiShot()). The kernel has it for its KASAN tests only.
 * Locking: none.
 */
export function kasanSaveEnableMultiShot(): boolean {
  const f = FLAGS.get();
  const was = f.multiShot;
  f.multiShot = true;
  return was;
}

/**
 * Models kasan_restore_multi_shot(): `if (!enabled) clear_bit(KASAN_BIT_MULTI_SHOT, ...)`.
 * Locking: none.
 */
export function kasanRestoreMultiShot(enabled: boolean): void {
  if (!enabled) FLAGS.get().multiShot = false;
}

/**
 * Models report_enabled(): with KASAN_BIT_MULTI_SHOT every report is enabled; otherwise only
 * the first of the boot (`!test_and_set_bit(KASAN_BIT_REPORTED, &kasan_flags)`).
 */
function reportEnabled(): boolean {
  const f = FLAGS.get();
  if (f.multiShot) return true;
  const was = f.reported;
  f.reported = true;
  return !was;
}

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
 * Models kasan_report() / kasan_report_invalid_free(): unless report_enabled() says no (a report
 * was already printed in this simulation and `kasan_multi_shot` is off: nothing is printed and
 * the result is false), a `kasan` splat "BUG: KASAN: <type> in <op>", with the allocation and
 * free sites of the object (and the kfree_rcu() that queued the free, if any), as KASAN prints
 * the alloc and free stacks. The caller's access or free goes on (or is skipped) the same either
 * way. The caller checks what the kernel's report_suppressed_sw() covers (slab metadata) first.
 *
 * @param op the operation that touched the object (`kref_get`, `mutex_lock`, `kfree`...), or a
 *   property (`GemObject.handleCount`) in full mode
 * @param access for a property access in full mode: "Read" or "Write"
 * @param queued where a kfree_rcu() queued the free ("Last potentially related work creation")
 * Locking: none (the kernel's report_lock serializes printing; here a report has no scheduling
 * point). Returns whether a splat was reported (false: suppressed, as kasan_report()'s `ret`).
 */
export function kasanReport(
  type: KasanBugType,
  obj: KasanTarget,
  op: string,
  access?: "Read" | "Write",
  queued?: Site | null,
): boolean {
  if (!reportEnabled()) return false;
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
