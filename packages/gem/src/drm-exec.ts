/**
 * drm_exec (drivers/gpu/drm/drm_exec.c, include/drm/drm_exec.h, Linux v6.18): the retry loop
 * that locks the reservations of several GEM objects for a submission under one wound/wait
 * acquire context (reservation_ww_class, wait-die). When locking an object returns -EDEADLK the
 * context backs off: drm_exec_retry_on_contention() restarts the loop, drm_exec_cleanup()
 * unlocks every object, and the next lock call first takes the contended object with
 * dma_resv_lock_slow(), which waits instead of dying. Each locked object is referenced until it
 * is unlocked.
 *
 * The C macros become a callback: drmExecUntilAllLocked(exec, body) runs `body` until it
 * completes without contention; drmExecRetryOnContention(exec) inside `body` restarts it (it
 * throws a private sentinel that the loop catches, as the macro's `goto` jumps back); `body`
 * returning a negative errno leaves the loop at once (the `goto error` of the kernel's callers).
 *
 * Usage (the kernel's DOC: Overview):
 * ```ts
 * const exec = new DrmExec();
 * drmExecInit(exec, DRM_EXEC_INTERRUPTIBLE_WAIT, 0);
 * const ret = await drmExecUntilAllLocked(exec, async () => {
 *   let r = await drmExecPrepareObj(exec, boA, 1);
 *   drmExecRetryOnContention(exec);
 *   if (r) return r;
 *   r = await drmExecPrepareObj(exec, boB, 1);
 *   drmExecRetryOnContention(exec);
 *   return r;
 * });
 * // ... dma_resv_add_fence() on each of exec.objects ...
 * await drmExecFini(exec);
 * ```
 */

import { RESOLVED } from "@primetime/atomics";
import {
  dmaResvLock,
  dmaResvLockInterruptible,
  dmaResvLockSlow,
  dmaResvLockSlowInterruptible,
  dmaResvReserveFences,
  dmaResvUnlock,
  reservationWwClass,
} from "@primetime/dma-buf";
import {
  EALREADY,
  EDEADLK,
  ENOMEM,
  isErr,
  KmemCache,
  kfree,
  kmalloc,
  PAGE_SIZE,
  SlabObject,
  WwAcquireCtx,
  wwAcquireDone,
  wwAcquireFini,
  wwAcquireInit,
} from "@primetime/kernel";
import { drmGemObjectGet, drmGemObjectPut, type GemObject } from "./drm-gem.js";

/** Models DRM_EXEC_INTERRUPTIBLE_WAIT: lock with the _interruptible variants. */
export const DRM_EXEC_INTERRUPTIBLE_WAIT = 1 << 0;
/** Models DRM_EXEC_IGNORE_DUPLICATES: an object already locked by this exec is not -EALREADY. */
export const DRM_EXEC_IGNORE_DUPLICATES = 1 << 1;

/** Models DRM_EXEC_DUMMY: "the acquire context is not initialised yet". */
const DRM_EXEC_DUMMY: unique symbol = Symbol("DRM_EXEC_DUMMY");

/** sizeof(void *): the objects table holds pointers. */
const POINTER_SIZE = 8;

/** The cache of the objects tables (kvmalloc()/kvrealloc() in drm_exec.c). */
export const drmExecObjectsCache = new KmemCache("drm_exec_objects");

/** Models exec->objects: the table of locked objects (kvmalloc()ed). */
export class DrmExecObjects extends SlabObject {
  constructor(readonly slots: GemObject[]) {
    super();
  }
}

/** kmalloc()'s constructor call for an empty table (one function, not one per call). */
function newDrmExecObjects(): DrmExecObjects {
  return new DrmExecObjects([]);
}

/**
 * Models struct drm_exec.
 * Locking: used by the task that initialised it.
 * References: one on each of the first `numObjects` objects, on `contended` and on `prelocked`.
 */
export class DrmExec {
  /** Models flags: DRM_EXEC_*. */
  flags = 0;
  /** Models ticket: the wound/wait acquire context. */
  readonly ticket = new WwAcquireCtx();
  /** Models num_objects. */
  numObjects = 0;
  /** Models max_objects. */
  maxObjects = 0;
  /** Models objects (null when the allocation failed or after fini). */
  table: DrmExecObjects | null = null;
  /** Models contended: the object we backed off for (DRM_EXEC_DUMMY before the first loop). */
  contended: GemObject | null | typeof DRM_EXEC_DUMMY = DRM_EXEC_DUMMY;
  /** Models prelocked: the contended object, locked first after a back-off. */
  prelocked: GemObject | null = null;

  /** The locked objects in locking order (drm_exec_for_each_locked_object()). */
  get objects(): readonly GemObject[] {
    return this.table ? this.table.slots.slice(0, this.numObjects) : [];
  }
}

/** Thrown by drmExecRetryOnContention(), caught by drmExecUntilAllLocked(). */
class DrmExecRetry {
  constructor(readonly exec: DrmExec) {}
}

function putObj(obj: GemObject | null): Promise<void> {
  return obj ? drmGemObjectPut(obj) : RESOLVED;
}

/**
 * Models drm_exec_unlock_all(): unlocks every object in reverse order and drops its reference,
 * then the prelocked object's reference.
 */
async function drmExecUnlockAll(exec: DrmExec): Promise<void> {
  // Each await is skipped when its promise came back settled (the shared RESOLVED: nothing
  // switched): the same schedule, no promise hop per object.
  for (let i = exec.numObjects - 1; i >= 0; i--) {
    const obj = exec.table!.slots[i]!;
    const unlocked = dmaResvUnlock(obj.resv);
    if (unlocked !== RESOLVED) await unlocked;
    const put = drmGemObjectPut(obj);
    if (put !== RESOLVED) await put;
  }
  const put = putObj(exec.prelocked);
  if (put !== RESOLVED) await put;
  exec.prelocked = null;
}

/**
 * Models drm_exec_init(): the objects table for `nr` objects (default a page of pointers); if
 * its allocation fails, that is retried at the first use. The acquire context is initialised by
 * the first drm_exec_cleanup().
 * Locking: none.
 * References: none.
 */
export function drmExecInit(exec: DrmExec, flags: number, nr: number): void {
  const n = nr || PAGE_SIZE / POINTER_SIZE;
  exec.flags = flags;
  const table = kmalloc(drmExecObjectsCache, newDrmExecObjects);
  exec.table = isErr(table) ? null : table;
  exec.maxObjects = exec.table ? n : 0;
  exec.numObjects = 0;
  exec.contended = DRM_EXEC_DUMMY;
  exec.prelocked = null;
}

/**
 * Models drm_exec_fini(): unlocks every object, drops the references, frees the table, and
 * finishes the acquire context if it was initialised.
 * Locking: releases every reservation the exec holds and its acquire context.
 * References: drops every reference the exec holds.
 */
export async function drmExecFini(exec: DrmExec): Promise<void> {
  await drmExecUnlockAll(exec);
  kfree(exec.table);
  exec.table = null;
  if (exec.contended !== DRM_EXEC_DUMMY) {
    const putObjDone = putObj(exec.contended);
    if (putObjDone !== RESOLVED) await putObjDone;
    wwAcquireFini(exec.ticket);
  }
}

/**
 * Models drm_exec_cleanup(), the condition of drm_exec_until_all_locked(): without contention
 * the acquire phase is done (false: leave the loop); on the first pass it initialises the
 * acquire context (true); after a contention it unlocks everything (true: run the body again).
 * Locking: may release every reservation of the exec.
 * References: drops the locked objects' references after a contention.
 */
export async function drmExecCleanup(exec: DrmExec): Promise<boolean> {
  if (exec.contended === null) {
    wwAcquireDone(exec.ticket);
    return false;
  }
  if (exec.contended === DRM_EXEC_DUMMY) {
    exec.contended = null;
    wwAcquireInit(exec.ticket, reservationWwClass);
    return true;
  }
  await drmExecUnlockAll(exec);
  exec.numObjects = 0;
  return true;
}

/**
 * Models drm_exec_obj_locked(): records a locked object (growing the table by a page of
 * pointers when full, which may fail with -ENOMEM) and takes a reference on it.
 */
async function drmExecObjLocked(exec: DrmExec, obj: GemObject): Promise<number> {
  if (exec.numObjects === exec.maxObjects) {
    // kvrealloc(): a new table, the old one freed.
    const tmp = kmalloc(
      drmExecObjectsCache,
      () => new DrmExecObjects(exec.table ? exec.table.slots.slice() : []),
    );
    if (isErr(tmp)) return -ENOMEM;
    kfree(exec.table);
    exec.table = tmp;
    exec.maxObjects += PAGE_SIZE / POINTER_SIZE;
  }
  const got = drmGemObjectGet(obj);
  if (got !== RESOLVED) await got;
  exec.table!.slots[exec.numObjects++] = obj;
  return 0;
}

/**
 * Models drm_exec_lock_contended(): after a back-off, takes the contended object first with
 * dma_resv_lock_slow() (the contention is cleared either way so error handling can run) and
 * keeps it as `prelocked`.
 */
async function drmExecLockContended(exec: DrmExec): Promise<number> {
  const obj = exec.contended;
  if (obj === null || obj === DRM_EXEC_DUMMY) return 0;
  // Always cleanup the contention so that error handling can kick in
  exec.contended = null;
  if (exec.flags & DRM_EXEC_INTERRUPTIBLE_WAIT) {
    const ret = await dmaResvLockSlowInterruptible(obj.resv, exec.ticket);
    if (ret) {
      const drmGemObjectPutDone = drmGemObjectPut(obj);
      if (drmGemObjectPutDone !== RESOLVED) await drmGemObjectPutDone;
      return ret;
    }
  } else {
    const dmaResvLockSlowDone = dmaResvLockSlow(obj.resv, exec.ticket);
    if (dmaResvLockSlowDone !== RESOLVED) await dmaResvLockSlowDone;
  }
  const ret = await drmExecObjLocked(exec, obj);
  if (ret) {
    const dmaResvUnlockDone = dmaResvUnlock(obj.resv);
    if (dmaResvUnlockDone !== RESOLVED) await dmaResvUnlockDone;
    const drmGemObjectPutDone2 = drmGemObjectPut(obj);
    if (drmGemObjectPutDone2 !== RESOLVED) await drmGemObjectPutDone2;
    return ret;
  }
  exec.prelocked = obj;
  return 0;
}

/**
 * Models drm_exec_lock_obj(): locks `obj`'s reservation under the exec's acquire context and
 * references it. Returns 0, -EDEADLK on contention (the object is remembered, referenced, as the
 * contended one; the caller must drmExecRetryOnContention()), -EALREADY when this exec already
 * locked it (0 with DRM_EXEC_IGNORE_DUPLICATES), or -ENOMEM.
 * Locking: takes obj->resv (may sleep); inside drmExecUntilAllLocked().
 * References: takes one on `obj` while it is locked.
 */
export async function drmExecLockObj(exec: DrmExec, obj: GemObject): Promise<number> {
  // drm_exec_lock_contended() returns 0 at once without a contended object: no frame for that.
  const contended = exec.contended;
  let ret =
    contended === null || contended === DRM_EXEC_DUMMY ? 0 : await drmExecLockContended(exec);
  if (ret) return ret;
  if (exec.prelocked === obj) {
    const drmGemObjectPutDone3 = drmGemObjectPut(exec.prelocked);
    if (drmGemObjectPutDone3 !== RESOLVED) await drmGemObjectPutDone3;
    exec.prelocked = null;
    return 0;
  }
  if (exec.flags & DRM_EXEC_INTERRUPTIBLE_WAIT)
    ret = await dmaResvLockInterruptible(obj.resv, exec.ticket);
  else ret = await dmaResvLock(obj.resv, exec.ticket);
  if (ret === -EDEADLK) {
    const drmGemObjectGetDone = drmGemObjectGet(obj);
    if (drmGemObjectGetDone !== RESOLVED) await drmGemObjectGetDone;
    exec.contended = obj;
    return -EDEADLK;
  }
  if (ret === -EALREADY && exec.flags & DRM_EXEC_IGNORE_DUPLICATES) return 0;
  if (ret) return ret;
  ret = await drmExecObjLocked(exec, obj);
  if (ret) {
    const dmaResvUnlockDone2 = dmaResvUnlock(obj.resv);
    if (dmaResvUnlockDone2 !== RESOLVED) await dmaResvUnlockDone2;
    return ret;
  }
  return 0;
}

/**
 * Models drm_exec_unlock_obj(): unlocks one object of the exec (meant for the most recently
 * locked ones) and drops its reference.
 * Locking: releases obj->resv if the exec holds it.
 * References: drops the exec's reference on `obj`.
 */
export async function drmExecUnlockObj(exec: DrmExec, obj: GemObject): Promise<void> {
  for (let i = exec.numObjects - 1; i >= 0; i--) {
    const slots = exec.table!.slots;
    if (slots[i] === obj) {
      const dmaResvUnlockDone3 = dmaResvUnlock(obj.resv);
      if (dmaResvUnlockDone3 !== RESOLVED) await dmaResvUnlockDone3;
      slots.splice(i, 1);
      exec.numObjects--;
      const drmGemObjectPutDone4 = drmGemObjectPut(obj);
      if (drmGemObjectPutDone4 !== RESOLVED) await drmGemObjectPutDone4;
      return;
    }
  }
}

/**
 * Models drm_exec_prepare_obj(): drmExecLockObj(), then reserves `numFences` fence slots
 * (unlocking the object again if that fails). Returns 0, -EDEADLK, -EALREADY or -ENOMEM.
 * Locking: takes obj->resv (may sleep).
 * References: as drmExecLockObj().
 */
export async function drmExecPrepareObj(
  exec: DrmExec,
  obj: GemObject,
  numFences: number,
): Promise<number> {
  let ret = await drmExecLockObj(exec, obj);
  if (ret) return ret;
  ret = await dmaResvReserveFences(obj.resv, numFences);
  if (ret) {
    await drmExecUnlockObj(exec, obj);
    return ret;
  }
  return 0;
}

/**
 * Models drm_exec_prepare_array(): drmExecPrepareObj() on each object; stops at the first error.
 * Locking: takes each object's reservation (may sleep).
 * References: as drmExecLockObj().
 */
export async function drmExecPrepareArray(
  exec: DrmExec,
  objects: readonly GemObject[],
  numFences: number,
): Promise<number> {
  for (const obj of objects) {
    const ret = await drmExecPrepareObj(exec, obj, numFences);
    if (ret) return ret;
  }
  return 0;
}

/**
 * Models drm_exec_is_contended(): the exec ran into a contention and must start over.
 * Locking: none.
 * References: none.
 */
export function drmExecIsContended(exec: DrmExec): boolean {
  return exec.contended !== null && exec.contended !== DRM_EXEC_DUMMY;
}

/**
 * Models drm_exec_retry_on_contention(): on contention, restarts drmExecUntilAllLocked()'s body
 * (throws the loop's private sentinel, as the macro jumps back with `goto`). Call it only inside
 * that body.
 * Locking: none.
 * References: none.
 */
export function drmExecRetryOnContention(exec: DrmExec): void {
  if (drmExecIsContended(exec)) throw new DrmExecRetry(exec);
}

/**
 * Models drm_exec_until_all_locked(): runs `body` while drm_exec_cleanup() says so: until it
 * completes without contention (0: the acquire phase is done) or returns a negative errno (left
 * at once, as a `goto error` out of the loop, with whatever is locked still locked for
 * drmExecFini()). A drmExecRetryOnContention() in `body` starts it over after the back-off.
 * `body` gets `arg`, so it can be a module-level function rather than a closure per call.
 * Locking: see drmExecCleanup() and the body's lock calls.
 * References: none of its own.
 */
export async function drmExecUntilAllLocked<A = undefined>(
  exec: DrmExec,
  body: (arg: A) => Promise<number>,
  arg?: A,
): Promise<number> {
  while (await drmExecCleanup(exec)) {
    try {
      const ret = await body(arg as A);
      if (ret) return ret;
    } catch (e) {
      if (e instanceof DrmExecRetry && e.exec === exec) continue;
      throw e;
    }
  }
  return 0;
}
