/**
 * The fuzzer's model of each process's fd table: which object every fd number of a process has
 * named, and when, as userspace can bound it. A syscall on an fd acts on whatever file the fd
 * table holds at the instant the kernel looks the fd up (fget()); with a close() of that fd
 * racing it, that is the old file or nothing (-EBADF), or a file a later call installed at the
 * same number. A result that only some other object could give (-ENOTTY from a DRM ioctl when
 * the fd only ever held DRM files, a dma-buf import that reaches a buffer the fd never held, a
 * DMA_BUF ioctl that finds no dma-buf) means the lookup returned a file that was never installed
 * at that fd: a divergence.
 *
 * Each *life* of an fd number is bounded by the call that made it (it started at `start`, the
 * fd was installed at some instant before it returned at `ret`) and the close() that ended it
 * (returned at `end`; a close ends only the lives made before it started, so a life made by a
 * call that overlapped the close stays open: the superset is always safe). Process exit closes
 * every fd; lives are left open then (nothing runs after). A call that may have installed an fd
 * the model cannot name (a garbage ioctl that may export a dma-buf) makes every fd of the
 * process unknown from its start on, and so does an fd-installing call that never got recorded
 * (`begin()` without `end()`: its thread was killed by its process's exit at the syscall's
 * return, after the fd was installed).
 *
 * Uses are checked once the run is over, when every creating call has returned and been
 * recorded (a creation that overlapped the checked call is one of its candidates).
 */

import type { ModelFile } from "./model.js";
import { UNKNOWN_BUFFER } from "./model.js";

/** What an fd names, as the process's userspace knows it. */
export type FdObject =
  /** A DRM file (card or render node), as one process sees it. */
  | { readonly kind: "drm"; readonly file: ModelFile }
  /** A dma-buf of buffer `buf` (UNKNOWN_BUFFER: of some buffer the model cannot tell). */
  | { readonly kind: "dmabuf"; readonly buf: number }
  /** A sync_file (SW_SYNC_IOC_CREATE_FENCE). */
  | { readonly kind: "sync-file" }
  /** A sw_sync timeline (open of the sw_sync node): no ->poll. */
  | { readonly kind: "timeline" }
  /** An epoll instance. */
  | { readonly kind: "epoll" }
  /** One end of a unix stream socket pair (socketpair(2)): no ioctl, mmap, llseek or ->poll. */
  | { readonly kind: "socket"; readonly sock: SockModel };

/** One end of a socket pair the fuzzer made, as its userspace knows it (`peer`: the other end). */
export interface SockModel {
  readonly id: number;
  peer: SockModel | null;
  /**
   * Its peer is not known for sure (`--sockets listen`: an embryo another thread's connect()
   * made, an accepted socket of a listener others may connect to): receives on it, and sends
   * from it, name nothing for sure.
   */
  readonly loose?: boolean;
}

/**
 * What an fd a receive installed may name, resolved once the run is over (the objects of every
 * message that may have been queued where the receive read; null: some of it is unknown).
 */
export type FdResolver = () => FdObject[] | null;

/**
 * One life of an fd number: it named `obj` no earlier than `start` and no later than `end`. A
 * life made by dup(), dup2() or dup3() names instead whatever fd `src` named at some instant of
 * the call that made it (`obj` null): the kernel looks `src` up during the call, and another
 * thread may close or replace it meanwhile.
 */
export interface FdLife {
  readonly obj: FdObject | null;
  /**
   * A receive's life (`obj` null): what `via` resolves to once the run is over, computed once
   * (`cached`; a resolution that reaches itself again is unknown).
   */
  readonly via?: FdResolver;
  cached?: FdObject[] | null | "busy";
  /** The fd the call duplicated (a dup's life), resolved when the life is checked. */
  readonly src?: number;
  /** When the call that installed it started (a tick of the model's clock). */
  readonly start: number;
  /** When that call returned. */
  readonly ret: number;
  /** When the close() that removed it returned (infinite while open). */
  end: number;
}

/** One process's fd table as its userspace can bound it. */
export class FdTableModel {
  private readonly lives = new Map<number, FdLife[]>();
  /** From this tick on, an fd of the process may name an object the model does not know. */
  private unknownSince = Number.POSITIVE_INFINITY;
  /** fd-installing calls begun and not yet recorded (their start ticks). */
  private readonly pending = new Set<{ readonly start: number; end: number }>();
  /** Every fd-installing call begun: from its start to when it was recorded (see mayReserve()). */
  private readonly windows: { readonly start: number; end: number }[] = [];

  /** `clock`: the model's clock, read when a call is recorded (end()). */
  constructor(private readonly clock: () => number = () => Number.POSITIVE_INFINITY) {}

  /**
   * An fd-installing call starts at `start`: until `end()`, the fd it may install is unknown.
   * Returns the handle to pass to `end()` once the call's result is recorded.
   */
  begin(start: number): { readonly start: number } {
    const p = { start, end: Number.POSITIVE_INFINITY };
    this.pending.add(p);
    this.windows.push(p);
    return p;
  }

  /** The call `begin()` announced is recorded (its fd installed, or it installed none). */
  end(p: { readonly start: number }): void {
    const w = p as { readonly start: number; end: number };
    if (this.pending.delete(w)) w.end = this.clock();
  }

  /**
   * True if an fd number of the process may have been reserved but not yet installed at some
   * instant in [start, ret]: an fd-installing call (get_unused_fd_flags() ... fd_install())
   * other than `except` overlapped it, or one the model cannot name may have. dup2() and dup3() onto such a number
   * fail with -EBUSY (do_dup2()).
   */
  mayReserve(start: number, ret: number, except?: { readonly start: number } | null): boolean {
    if (this.unknownSince <= ret) return true;
    return this.windows.some((w) => w !== except && w.start <= ret && w.end >= start);
  }

  /** A call that ran in [start, ret] installed `obj` at `fd`. */
  installed(fd: number, obj: FdObject, start: number, ret: number): void {
    let list = this.lives.get(fd);
    if (!list) {
      list = [];
      this.lives.set(fd, list);
    }
    list.push({ obj, start, ret, end: Number.POSITIVE_INFINITY });
  }

  /**
   * A dup(), dup2() or dup3() that ran in [start, ret] installed at `fd` whatever `src` named at
   * some instant of the call.
   */
  installedDup(fd: number, src: number, start: number, ret: number): void {
    let list = this.lives.get(fd);
    if (!list) {
      list = [];
      this.lives.set(fd, list);
    }
    list.push({ obj: null, src, start, ret, end: Number.POSITIVE_INFINITY });
  }

  /**
   * A receive (recvmsg(2) on a socket, or of the process's SCM_RIGHTS queue) that ran in
   * [start, ret] installed at `fd` one of the files `via` resolves to at the end of the run.
   */
  installedVia(fd: number, via: FdResolver, start: number, ret: number): void {
    let list = this.lives.get(fd);
    if (!list) {
      list = [];
      this.lives.set(fd, list);
    }
    list.push({ obj: null, via, start, ret, end: Number.POSITIVE_INFINITY });
  }

  /**
   * A close(`fd`) that ran in [start, ret] (whatever it returned): after it, the fd no longer
   * names what it named when the close started. Lives made by calls that had not returned by
   * then stay open.
   */
  closed(fd: number, start: number, ret: number): void {
    for (const l of this.lives.get(fd) ?? [])
      if (l.ret < start && l.end === Number.POSITIVE_INFINITY) l.end = ret;
  }

  /**
   * A close_range() of [first, last] that ran in [start, ret] and returned 0: every fd of the
   * range is closed as by close() (__range_close()).
   */
  closedRange(first: number, last: number, start: number, ret: number): void {
    for (const fd of this.lives.keys()) if (fd >= first && fd <= last) this.closed(fd, start, ret);
  }

  /** A call that started at `since` may have installed an fd the model cannot name. */
  unknown(since: number): void {
    this.unknownSince = Math.min(this.unknownSince, since);
  }

  /**
   * Every object `fd` may have named at some instant in [start, ret], or null if the process
   * may have had fds the model does not know by then.
   */
  candidates(fd: number, start: number, ret: number, depth = 0): FdObject[] | null {
    if (this.unknownSince <= ret) return null;
    for (const p of this.pending) if (p.start <= ret) return null;
    const out: FdObject[] = [];
    for (const l of this.lives.get(fd) ?? []) {
      if (l.start > ret || l.end < start) continue;
      if (l.obj !== null) {
        out.push(l.obj);
        continue;
      }
      if (l.via !== undefined) {
        if (l.cached === "busy") return null;
        if (l.cached === undefined) {
          l.cached = "busy";
          l.cached = l.via();
        }
        if (l.cached === null) return null;
        out.push(...l.cached);
        continue;
      }
      // A dup's life: what its source named during the dup (a chain of dups too deep to follow
      // names nothing for sure).
      if (depth >= 8) return null;
      const src = this.candidates(l.src!, l.start, l.ret, depth + 1);
      if (src === null) return null;
      out.push(...src);
    }
    return out;
  }
}

/**
 * A syscall on `fd` of a process that ran in [start, ret] and returned `result`; `fits` says
 * whether that result could have come from the file being `obj`. A lookup that found no file
 * gives -EBADF, which every use accepts.
 */
export interface FdUse {
  readonly table: FdTableModel;
  readonly fd: number;
  readonly start: number;
  readonly ret: number;
  readonly result: number;
  /** The call, for the message (`PRIME_FD_TO_HANDLE = 0, buffer 7`). */
  readonly what: string;
  readonly fits: (obj: FdObject) => boolean;
}

/** A short description of an fd object, for messages. */
export function describeFdObject(o: FdObject): string {
  switch (o.kind) {
    case "drm":
      return `a DRM file (device ${o.file.dev})`;
    case "dmabuf":
      return o.buf === UNKNOWN_BUFFER ? "a dma-buf" : `a dma-buf of buffer ${o.buf}`;
    default:
      return `a ${o.kind}`;
  }
}

/**
 * Checks every use against the lives of its fd (at the end of the run): a result that no object
 * the fd may have named could give is a divergence, reported through `diverge`.
 */
export function checkFdUses(
  uses: readonly FdUse[],
  ebadf: number,
  diverge: (what: string) => void,
): void {
  for (const u of uses) {
    if (u.result === ebadf) continue;
    const cands = u.table.candidates(u.fd, u.start, u.ret);
    if (cands === null || cands.some(u.fits)) continue;
    const held =
      cands.length === 0 ? "nothing" : [...new Set(cands.map(describeFdObject))].join(", or ");
    diverge(
      `${u.what} on fd ${u.fd}: a result no file installed at fd ${u.fd} could give (it held ${held} meanwhile)`,
    );
  }
}

/** The object a DRM ioctl's result says it reached: -ENOTTY is not a DRM file, the rest is. */
export function drmIoctlFits(result: number, enotty: number): (o: FdObject) => boolean {
  return (o) => (result === enotty ? o.kind !== "drm" : o.kind === "drm");
}

/** The same for a dma-buf ioctl: -ENOTTY is not a dma-buf (DRM rejects its type), the rest is. */
export function dmabufIoctlFits(result: number, enotty: number): (o: FdObject) => boolean {
  return (o) => (result === enotty ? o.kind !== "dmabuf" : o.kind === "dmabuf");
}
