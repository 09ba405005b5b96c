/**
 * kmemleak, the kernel memory leak detector (mm/kmemleak.c, Documentation/dev-tools/kmemleak.rst).
 *
 * The kernel's kmemleak scans memory for pointers to each allocated object and reports those
 * nothing points to. A JavaScript heap cannot be scanned that way, so this model uses the
 * stronger end-of-workload rule: once the workload has exited and the machine is quiesced,
 * every object still allocated is a leak, except the ones marked with kmemleakNotLeak() (the
 * kernel's kmemleak_not_leak(), for objects that live as long as the kernel: a device, a
 * boot-time table) or excluded by the caller's `ignore`.
 *
 * Quiescing is the caller's job, and it must come first, or objects that are merely on their way
 * out are reported:
 *
 * ```ts
 * await rcuBarrier();                // every kfree_rcu()/call_rcu() callback has run
 * await flushDelayedFput();           // deferred fputs have run (file.ts)
 * await flushWorkqueue(systemWq());   // deferred work has run (workqueue.ts)
 * const leaks = kmemleakScan();
 * ```
 *
 * Kernel.checkLeaks() does all of it (repeating until nothing is pending) and then scans.
 */

import { report, site } from "@primetime/sim";
import { liveObjects, type SlabObject, slabMeta } from "./slab.js";

export interface KmemleakScanOptions {
  /** Objects for which this returns true are not leaks (expected survivors of the workload). */
  ignore?: (o: SlabObject) => boolean;
}

/** The size kmemleak prints: the cache's declared size, else 8 bytes per own property. */
function objectSize(o: SlabObject): number {
  return o.cache.size ?? 8 * Object.keys(o).length;
}

/**
 * Models a kmemleak scan (echo scan > /sys/kernel/debug/kmemleak) at the end of a workload:
 * returns every object of the running simulation still allocated (allocation order), except
 * kmemleakNotLeak() objects and those `ignore` excludes. Each one is reported once per
 * simulation as a `kmemleak` splat "unreferenced object <name> (size N):" with its allocation
 * site; a later scan returns it again without a second splat (the kernel's OBJECT_REPORTED).
 * Locking: none; not a scheduling point. Call it after quiescing (see the module comment).
 */
export function kmemleakScan(opts: KmemleakScanOptions = {}): SlabObject[] {
  const leaks: SlabObject[] = [];
  for (const o of liveObjects()) {
    const m = slabMeta(o)!;
    if (m.notLeak || opts.ignore?.(o)) continue;
    leaks.push(o);
    if (m.leakReported) continue;
    m.leakReported = true;
    const a = o.allocSite;
    const message = [
      `unreferenced object ${o.name} (size ${objectSize(o)}):`,
      `  comm "${a.task}", pid ${a.taskId}, step ${a.step}`,
      "  backtrace:",
      `    ${a.label}`,
    ].join("\n");
    report("kmemleak", message, { object: o.name, sites: [site("allocated", a)] });
  }
  return leaks;
}

/**
 * Models kmemleak_not_leak(): `obj` is never reported as a leak (an object meant to live as long
 * as the kernel).
 */
export function kmemleakNotLeak(obj: SlabObject): void {
  const m = slabMeta(obj);
  if (m) m.notLeak = true;
}

/** How many long-lived pointers kmemleakReferenced() counts for each object. */
const referencedCounts = new WeakMap<SlabObject, number>();

/**
 * Models what kmemleak's scan finds for an object a long-lived object points to (a CRTC's or a
 * plane's current atomic state and the commit it holds, which the kernel's scan reaches from
 * the device): each call with `referenced` counts one such pointer more, each call without one
 * less; while any is counted `obj` is not reported, and once none is (the state was swapped
 * out) it is reported again if still allocated. The kernel has no such call: its scan finds the
 * pointers itself; the model's scan knows only kmemleakNotLeak(), so code that stores and drops
 * such a pointer says so here.
 */
export function kmemleakReferenced(obj: SlabObject, referenced: boolean): void {
  const n = Math.max(0, (referencedCounts.get(obj) ?? 0) + (referenced ? 1 : -1));
  referencedCounts.set(obj, n);
  const m = slabMeta(obj);
  if (m) m.notLeak = n > 0;
}
