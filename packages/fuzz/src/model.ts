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
  /** Buffers exported as dma-bufs (a received dma-buf must be one of them). */
  readonly exported = new Set<number>();
  readonly divergences: string[] = [];
  /**
   * Buffers whose stamp may have gone to another object: stamped through a file that a sibling
   * started using meanwhile (the handle may have been closed and reused under the creator).
   * Observations of these ids prove nothing and are not checked.
   */
  readonly ambiguous = new Set<number>();
  private nextId = 1;

  /** Registers a new buffer; returns it with its id. */
  addBuffer(size: number, dev: number): ModelBuffer {
    const b = { id: this.nextId++, size, dev };
    this.buffers.set(b.id, b);
    return b;
  }

  /** Records that `name` on device `dev` names buffer `id`. */
  addName(dev: number, name: number, id: number): void {
    const key = `${dev}:${name}`;
    let set = this.names.get(key);
    if (!set) {
      set = new Set();
      this.names.set(key, set);
      this.knownNames.push([dev, name]);
    }
    set.add(id);
  }

  /** True if `name` on `dev` has ever named buffer `id`. */
  nameHasNamed(dev: number, name: number, id: number): boolean {
    return this.names.get(`${dev}:${name}`)?.has(id) ?? false;
  }

  /** Reports a divergence: a `warn` splat with DIVERGENCE_PREFIX, and keeps its text. */
  diverge(what: string): void {
    this.divergences.push(what);
    report("warn", `${DIVERGENCE_PREFIX}${what}`);
  }
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

  /** True if `handle` has ever named buffer `buf` in this file. */
  handleHasNamed(handle: number, buf: number): boolean {
    return this.history.get(handle)?.has(buf) ?? false;
  }
}
