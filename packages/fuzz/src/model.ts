/**
 * The fuzzer's userspace reference model: what each process should see of the buffers it
 * creates and shares, independent of the kernel's own bookkeeping.
 *
 * Every buffer the fuzzer creates gets a unique id and a *stamp*: its first bytes name it (a
 * magic, the id, the size in pages), written by the creator before the buffer is shared in any
 * way. Nothing writes the stamp afterwards, so whatever path a process reaches a buffer by (a
 * handle, a flink name, a dma-buf fd it exported, imported or received), reading the stamp tells
 * which buffer it really is. The model records, for each way of naming a buffer, every buffer it
 * has ever named (a flink name or a handle number can be reused once its object is gone), and
 * checks what the kernel returns against that:
 *
 * - a name opened with GEM_OPEN must be a buffer that was flinked under that name on that device,
 *   of the size GEM_OPEN reports;
 * - a dma-buf exported from a handle must be a buffer that handle has named in that file;
 * - a handle imported from a dma-buf must be the dma-buf's buffer;
 * - a dma-buf fd received from another process must be a buffer the sender exported, with the
 *   size lseek(SEEK_END) reports;
 * - a handle a file owns alone (no other thread has used its fd) is closed exactly once: the
 *   first GEM_CLOSE succeeds, a second is -EINVAL, and a new handle never equals a live one.
 *
 * These hold under any interleaving, so a divergence is a kernel bug (or a model bug), never a
 * race of the fuzzer's own. Divergences are reported as `warn` splats starting with
 * `DIVERGENCE_PREFIX`, so replay tokens, minimization and hunts treat them like any oracle.
 */

import { report } from "@primetime/sim";

/** The start of every divergence's splat message. */
export const DIVERGENCE_PREFIX = "fuzz divergence: ";

/** The buffer of a handle whose object carries no stamp the model can trust (ids start at 1). */
export const UNKNOWN_BUFFER = 0;

/** Bytes of the stamp at the start of every buffer. */
export const STAMP_BYTES = 8;
const MAGIC0 = 0xf7;
const MAGIC1 = 0x5a;

/** The stamp of buffer `id` of `pages` pages. */
export function stampOf(id: number, pages: number): Uint8Array {
  return new Uint8Array([
    MAGIC0,
    MAGIC1,
    id & 0xff,
    (id >>> 8) & 0xff,
    (id >>> 16) & 0xff,
    pages & 0xff,
    (pages >>> 8) & 0xff,
    0xa5,
  ]);
}

/** The buffer id a stamp names, or null if the bytes are not a stamp. */
export function readStamp(bytes: Uint8Array): { id: number; pages: number } | null {
  if (bytes.length < STAMP_BYTES || bytes[0] !== MAGIC0 || bytes[1] !== MAGIC1 || bytes[7] !== 0xa5)
    return null;
  return {
    id: bytes[2]! | (bytes[3]! << 8) | (bytes[4]! << 16),
    pages: bytes[5]! | (bytes[6]! << 8),
  };
}

/** A buffer the fuzzer created. */
export interface ModelBuffer {
  readonly id: number;
  /** Its size in bytes (the dumb buffer's `size`). */
  readonly size: number;
  /** Index of the device it was created on. */
  readonly dev: number;
}

/**
 * The model of one run: buffers, names, and the divergences found. All of it is userspace
 * state (plain JavaScript updated between syscalls), shared by the fuzzer's processes the way a
 * test's own bookkeeping would be.
 */
export class FuzzModel {
  readonly buffers = new Map<number, ModelBuffer>();
  /** `dev:name` -> every buffer ever flinked under that name. */
  private readonly names = new Map<string, Set<number>>();
  /** Names known, to pick from for GEM_OPEN: [dev, name]. */
  readonly knownNames: [number, number][] = [];
  /** `dev:buffer` -> the names it was flinked under (to open a buffer's own name). */
  private readonly namesOfBuf = new Map<string, number[]>();
  /** Buffers that have (had) a flink name. */
  readonly named = new Set<number>();
  /** Buffers exported as dma-bufs (a received dma-buf must be one of them). */
  readonly exported = new Set<number>();
  readonly divergences: string[] = [];
  /**
   * Buffers whose stamp may have gone to another object: stamped through a file that a sibling
   * started using meanwhile (the handle may have been closed and reused under the creator).
   * Observations of these ids prove nothing and are not checked.
   */
  readonly ambiguous = new Set<number>();
  /**
   * A logical clock: read before and after every syscall whose result the model checks, so the
   * model knows which calls may have overlapped (userspace code runs between scheduling points,
   * one thread at a time).
   */
  private clock = 0;
  private nextId = 1;

  /** The next tick of the model's clock. */
  tick(): number {
    return ++this.clock;
  }

  /** Registers a new buffer; returns it with its id. */
  addBuffer(size: number, dev: number): ModelBuffer {
    const b = { id: this.nextId++, size, dev };
    this.buffers.set(b.id, b);
    return b;
  }

  /** Records that `name` on device `dev` names buffer `id`. */
  addName(dev: number, name: number, id: number): void {
    this.lastNames.set(dev, name);
    const key = `${dev}:${name}`;
    let set = this.names.get(key);
    if (!set) {
      set = new Set();
      this.names.set(key, set);
      this.knownNames.push([dev, name]);
    }
    if (set.has(id)) return;
    set.add(id);
    this.named.add(id);
    const bk = `${dev}:${id}`;
    const list = this.namesOfBuf.get(bk);
    if (list) list.push(name);
    else this.namesOfBuf.set(bk, [name]);
  }

  /** The name GEM_FLINK gave last on each device. */
  readonly lastNames = new Map<number, number>();

  /** The names buffer `id` was flinked under on device `dev`. */
  namesOf(dev: number, id: number): readonly number[] {
    return this.namesOfBuf.get(`${dev}:${id}`) ?? [];
  }

  /**
   * True if `name` on `dev` has ever named buffer `id` (or a buffer the model could not tell:
   * a name given through a file whose handle may have changed meanwhile).
   */
  nameHasNamed(dev: number, name: number, id: number): boolean {
    const set = this.names.get(`${dev}:${name}`);
    return set !== undefined && (set.has(id) || set.has(UNKNOWN_BUFFER));
  }

  /** Reports a divergence: a `warn` splat with DIVERGENCE_PREFIX, and keeps its text. */
  diverge(what: string): void {
    this.divergences.push(what);
    report("warn", `${DIVERGENCE_PREFIX}${what}`);
  }
}

/**
 * One life of a handle number in a file, as far as userspace can bound it: the handle was made
 * by a call that started at `start` and returned at `ret` (ticks of the model's clock), names
 * buffer `buf` (UNKNOWN_BUFFER if the model cannot tell), and, if `name` is set, the object has
 * that flink name. It ended no later than `end`: a handle number names one object at a time, so
 * a later call that started after `ret` and returned the same number at `ret'` proves the
 * binding was gone by `ret'`. (A GEM_CLOSE proves nothing about which binding it ended when
 * threads share the file, so closes do not bound it.)
 */
export interface HandleBinding {
  buf: number;
  readonly start: number;
  readonly ret: number;
  end: number;
  name?: number;
}

/**
 * A DRM file as one process sees it (an open file description: dup'd fds share it): its
 * handles, with every buffer each handle number has ever named.
 */
export class ModelFile {
  /** Handles live in this file, by the model (the buffer each names). */
  readonly live = new Map<number, number>();
  /** Every buffer each handle number has named. */
  private readonly history = new Map<number, Set<number>>();
  /** Handles closed and not re-created since (a second GEM_CLOSE must fail). */
  readonly closed = new Set<number>();
  /**
   * Set once a thread other than the opener used this file: from then on handles may change
   * under a thread's feet, and only interleaving-proof checks are made.
   */
  shared = false;
  /** Opened with O_NONBLOCK (drm-read.ts): its reads never sleep (-EAGAIN when empty). */
  nonblock = false;
  /**
   * Set once garbage ioctl arguments were used on the file: they convert to some value of the C
   * type and may create handles the model never sees, so no claim about its handles is made.
   */
  chaos = false;
  /**
   * Set once the file was put at an fd number a sibling may still call through (an open() or a
   * dup onto a stale number): that sibling's GEM_CLOSE or GEM_CHANGE_HANDLE, recorded on the file
   * the number named before, may reach this one, so no handle a creation returns is known to
   * name the object it made (namesItsObject()).
   */
  stray = false;
  /**
   * Handle-making calls (CREATE_DUMB, GEM_OPEN, PRIME_FD_TO_HANDLE, GEM_CHANGE_HANDLE) on this
   * file that started and have not returned yet (makeStarts(), makeReturned()).
   */
  private making = 0;
  /** GEM_CLOSE calls on this file not returned yet, by handle number. */
  private readonly closing = new Map<number, number>();
  /** When the last GEM_CLOSE of each handle number returned (a tick). */
  private readonly closeEnd = new Map<number, number>();
  /** Every life of every handle number (see HandleBinding). */
  private readonly bindings = new Map<number, HandleBinding[]>();
  /**
   * The file's PRIME cache as userspace can infer it (tracked while the file is unshared): for a
   * buffer, the live handles that exported its dma-buf or were imported from it. An import of that
   * dma-buf must return one of them (drm_prime_lookup_buf_handle()).
   */
  readonly prime = new Map<number, Set<number>>();

  constructor(
    readonly id: number,
    readonly dev: number,
    readonly primary: boolean,
  ) {}

  addHandle(handle: number, buf: number): void {
    this.live.set(handle, buf);
    this.closed.delete(handle);
    let set = this.history.get(handle);
    if (!set) {
      set = new Set();
      this.history.set(handle, set);
    }
    set.add(buf);
  }

  /**
   * Records that a call on this file that started at `start` and returned at `ret` made `handle`,
   * naming `buf` (and, if known, an object with flink name `name`).
   */
  bind(
    handle: number,
    buf: number,
    start: number,
    ret: number,
    opts: { name?: number; fresh?: boolean } = {},
  ): HandleBinding {
    let list = this.bindings.get(handle);
    if (!list) {
      list = [];
      this.bindings.set(handle, list);
    }
    // A new id (CREATE_DUMB, GEM_OPEN) ends every earlier life of the number; an import may
    // return a handle the file already has (the PRIME cache), so it ends nothing.
    if (opts.fresh !== false) for (const b of list) if (b.ret < start) b.end = Math.min(b.end, ret);
    const name = opts.name;
    const b: HandleBinding = { buf, start, ret, end: Number.POSITIVE_INFINITY, name };
    list.push(b);
    return b;
  }

  /**
   * The bindings of `handle` that may have been live at some time in [start, ret], or null if the
   * file may hold handles the model does not know (garbage ioctls). Meant for the end of the run,
   * when every creating call has returned and been recorded.
   */
  overlapping(handle: number, start: number, ret: number): HandleBinding[] | null {
    if (this.chaos) return null;
    return (this.bindings.get(handle) ?? []).filter((b) => b.start <= ret && b.end >= start);
  }

  /**
   * When the calls that made `handle` (any life of it) started, for those that returned before
   * tick `t`; null if the file may hold handles the model does not know (garbage ioctls).
   */
  madeBefore(handle: number, t: number): number[] | null {
    if (this.chaos) return null;
    return (this.bindings.get(handle) ?? []).filter((b) => b.ret < t).map((b) => b.start);
  }

  /** A handle-making call on this file starts. */
  makeStarts(): void {
    this.making++;
  }

  /** A handle-making call on this file returned (and recorded what it made). */
  makeReturned(): void {
    this.making--;
  }

  /**
   * The run is over. A handle-making call that has not returned never will: its thread died
   * inside it when its process exited, so the handle it may have made, or moved, was never
   * recorded, and the end-of-run checks of this file's handles (which count on every life of
   * every handle being recorded) could take that life's object for another's: no claim about
   * the file's handles is made from then on, as after garbage arguments.
   */
  runEnded(): void {
    if (this.making > 0) this.chaos = true;
  }

  /**
   * True if `handle`, returned by a handle-making call that started at tick `since`, surely
   * still names the object that call made: untouchedSince(), and the file is not `stray` (a
   * sibling's GEM_CHANGE_HANDLE through the stale fd, recorded on the file the number named
   * before, may have moved the object away unseen, and another creation taken the freed number:
   * v6.18 drm_gem_change_handle_ioctl() idr_remove()s the old handle, and
   * drm_gem_handle_create_tail()'s idr_alloc() gives the lowest free one).
   */
  namesItsObject(handle: number, since: number): boolean {
    return !this.stray && this.untouchedSince(handle, since);
  }

  /** A GEM_CLOSE of `handle` starts. */
  closeStarts(handle: number): void {
    this.closing.set(handle, (this.closing.get(handle) ?? 0) + 1);
  }

  /** A GEM_CLOSE of `handle` returned at tick `now`. */
  closeReturned(handle: number, now: number): void {
    this.closing.set(handle, this.closing.get(handle)! - 1);
    this.closeEnd.set(handle, now);
  }

  /**
   * True if no GEM_CLOSE or GEM_CHANGE_HANDLE of `handle` recorded on this file may have run
   * since tick `since` (none in flight, the last one returned before): a handle made after
   * `since` still names the object it was made for, unless the file is `stray`
   * (namesItsObject()).
   */
  untouchedSince(handle: number, since: number): boolean {
    return (
      !this.chaos &&
      (this.closing.get(handle) ?? 0) === 0 &&
      (this.closeEnd.get(handle) ?? -1) < since
    );
  }

  /** Forgets `handle` in the PRIME cache model (its GEM_CLOSE succeeded). */
  primeForget(handle: number): void {
    for (const set of this.prime.values()) set.delete(handle);
  }

  /** Records a PRIME cache entry of `buf`'s dma-buf for `handle`. */
  primeAdd(buf: number, handle: number): void {
    let set = this.prime.get(buf);
    if (!set) {
      set = new Set();
      this.prime.set(buf, set);
    }
    set.add(handle);
  }

  /**
   * Handle numbers a GEM_CHANGE_HANDLE of this file was asked to move a handle to: such a number
   * may be live even if no creation ever returned it (INT_MAX, say), so it is never taken as a
   * never-valid handle.
   */
  readonly changeTargets = new Set<number>();
  /**
   * When an fd of this file was first closed (a tick): from then on the file, and every handle
   * of it, may be gone.
   */
  goneAt = Number.POSITIVE_INFINITY;

  /**
   * Records a GEM_CHANGE_HANDLE that moved `from` to `to` in [start, ret]: the object, its
   * buffer and flink name go with it (drm_gem_change_handle_ioctl()). `strict`: the file is
   * this thread's alone, so the model's `live` map is exact; then the old number's life ended by
   * `ret` and the new one names its buffer. Otherwise a sibling may have closed and remade `from`
   * meanwhile: the new life names a buffer the model cannot tell, and no life of `from` is
   * bounded (as for a GEM_CLOSE).
   *
   * The PRIME cache: the kernel adds an entry for `to` whenever the object has a dma-buf
   * (obj->dma_buf: exported or imported by anyone, and some handle held since), whether or not
   * `from` had an entry, and removes `from`'s. If the file has an entry for the buffer (so the
   * object surely has its dma-buf), `to` gets one; if not, another file's export may have given
   * the object one, and the file's entries for the buffer become unknowable (`primeUnsure`).
   * Returns true if `to` surely got an entry.
   */
  moveHandle(from: number, to: number, start: number, ret: number, strict: boolean): boolean {
    const buf = this.live.get(from) ?? UNKNOWN_BUFFER;
    let name: number | undefined;
    if (strict)
      for (const b of this.bindings.get(from) ?? [])
        if (b.end === Number.POSITIVE_INFINITY && b.ret < start) {
          b.end = ret;
          name = b.name ?? name;
        }
    this.live.delete(from);
    this.closed.add(from);
    this.addHandle(to, buf);
    this.bind(to, strict ? buf : UNKNOWN_BUFFER, start, ret, { name });
    if (!strict) return false;
    const set = this.prime.get(buf);
    const sure = set !== undefined && set.size > 0;
    this.primeForget(from);
    if (sure) set.add(to);
    else this.primeUnsure.add(buf);
    return sure;
  }

  /**
   * Buffers whose PRIME cache entries in this file the model cannot know (see moveHandle()):
   * an import of their dma-buf may return any of several handles.
   */
  readonly primeUnsure = new Set<number>();

  /** True if `handle` has ever named buffer `buf` in this file. */
  handleHasNamed(handle: number, buf: number): boolean {
    return this.history.get(handle)?.has(buf) ?? false;
  }
}

/**
 * A call on a handle that ran in [start, ret] (ticks) and reached buffer `buf` or got flink name
 * `name`, checked once the run is over against every life of the handle
 * (checkHandleObservations()).
 */
export interface HandleObservation {
  readonly f: ModelFile;
  readonly handle: number;
  readonly start: number;
  readonly ret: number;
  readonly buf?: number;
  readonly name?: number;
  readonly what: string;
}

/**
 * The end-of-run checks of handle observations (after every file's runEnded()): every life of
 * every handle is recorded by now. A call reached a buffer some life that may have been live
 * then named; a flink of a handle whose only possible life had a name gave that name (an object
 * keeps its name while it has a handle). `skip`: files left out (stray files, whose handles
 * calls recorded on another file may have made or closed). Sorts `obs` by return.
 */
export function checkHandleObservations(
  obs: HandleObservation[],
  skip: (f: ModelFile) => boolean,
  diverge: (what: string) => void,
): void {
  obs.sort((a, b) => a.ret - b.ret);
  for (const o of obs) {
    // (A stray file may have handles made or closed by calls recorded on another file.)
    if (skip(o.f)) continue;
    const ov = o.f.overlapping(o.handle, o.start, o.ret);
    if (!ov || ov.length === 0) continue;
    if (o.buf !== undefined) {
      const buf = o.buf;
      // (A binding's buffer is what the call that made it returned, even if that buffer's own
      // stamp may have gone elsewhere; the stamp read is unambiguous, stampAt() saw to it.)
      if (ov.some((b) => b.buf === buf || b.buf === UNKNOWN_BUFFER)) continue;
      diverge(
        `${o.what} of handle ${o.handle} reached buffer ${buf}; the handle named ${ov.map((b) => b.buf).join(", ")} meanwhile`,
      );
    } else if (o.name !== undefined && ov.length === 1) {
      const b = ov[0]!;
      if (b.name !== undefined && b.name !== o.name)
        diverge(
          `GEM_FLINK of handle ${o.handle} gave name ${o.name}; its object had name ${b.name} and a handle throughout`,
        );
      b.name = o.name;
    }
  }
}
