/**
 * The fuzz run's fd-table operations (fuzz.ts's FuzzRun, one schedule): dup(2), dup2(2) and dup3(2)
 * (fs/file.c of v6.18: `SYSCALL_DEFINE2(dup2)`, `ksys_dup3()`, `do_dup2()`), close_range(2)
 * (`SYSCALL_DEFINE3(close_range)`, `__close_range()`), close(2), and SCM_RIGHTS passing of dma-buf
 * fds between processes; with the bookkeeping of the fd numbers another thread may be using or
 * replacing (busy, clobbered ranges). Each function takes the run's state as `run`.
 */

import {
  CLOSE_RANGE_CLOEXEC,
  CLOSE_RANGE_UNSHARE,
  EAGAIN,
  EBADF,
  EBUSY,
  EINVAL,
  EMFILE,
  EPIPE,
  ESPIPE,
  INR_OPEN_CUR,
  type Process,
} from "@primetime/kernel";
import { choose } from "@primetime/sim";
import { O_CLOEXEC, SEEK_END } from "@primetime/uapi";
import {
  type FdRange,
  type FuzzRun,
  MAX_FDS_PER_THREAD,
  PAGE,
  type ProcSend,
  type ProcState,
  type ThreadCtx,
} from "./fuzz.js";
import { keepExtra, viaProcQueue } from "./fuzz-ops-sock.js";
import { UNKNOWN_BUFFER } from "./model.js";

/** A call that must not have its fd closed or replaced under it starts (+1) or ends (-1). */
export function busy(_run: FuzzRun, ps: ProcState, fd: number, by: 1 | -1) {
  const n = (ps.busy.get(fd) ?? 0) + by;
  if (n === 0) ps.busy.delete(fd);
  else ps.busy.set(fd, n);
}

/**
 * True if an fd a call that started at `since` installed at `fd` may have been closed or
 * replaced since by a dup2()/dup3() or close_range() of another thread (other than `self`):
 * the thread that installed it no longer knows what the number names.
 */
export function lostFd(
  _run: FuzzRun,
  ps: ProcState,
  fd: number,
  since: number,
  self?: FdRange,
): boolean {
  for (const c of ps.clobbers)
    if (c !== self && c.first <= fd && fd <= c.last && c.ret >= since) return true;
  return false;
}

/**
 * A dup2()/dup3() onto, or a close_range() of, the fds [first, last] starts (recorded before
 * the call): every fd of a thread's list in the range leaves it, closed, as opClose() does
 * (a DRM number goes stale if another thread may call through it: its owner, if it is not
 * this thread, or a sibling it was shared with), and so do the dma-buf fds races hold.
 * Returns the record; the caller sets its `ret` when the call returns.
 */
export function clobber(run: FuzzRun, ctx: ThreadCtx, first: number, last: number): FdRange {
  const ps = ctx.proc;
  const rec: FdRange = { first, last, start: run.model.tick(), ret: Number.POSITIVE_INFINITY };
  ps.clobbers.push(rec);
  for (const c of ps.ctxs) {
    for (let i = c.fds.length - 1; i >= 0; i--) {
      const e = c.fds[i]!;
      if (e.fd < first || e.fd > last) continue;
      c.fds.splice(i, 1);
      e.closed = true;
      if (e.file) {
        e.file.goneAt = Math.min(e.file.goneAt, rec.start);
        if (c !== ctx || e.file.shared) ps.staleFds.add(e.fd);
        // Its owner's calls through the number may have reached the file or not: the file
        // (open at its other fds) gets only the checks that hold for shared files.
        if (c !== ctx) e.file.shared = true;
      }
    }
  }
  for (const e of ps.held)
    if (e.fd >= first && e.fd <= last) {
      ps.held.delete(e);
      e.closed = true;
    }
  return rec;
}

/**
 * The fd numbers dup2()/dup3() and close_range() leave alone: the process's epoll fd and
 * sw_sync timeline (their users count on them staying open), and numbers being closed.
 */
export function untouchable(_run: FuzzRun, ps: ProcState): number[] {
  const out = [...ps.busy.keys()];
  for (const c of ps.ctxs) for (const x of c.extra) out.push(x.fd);
  if (ps.epfd !== null) out.push(ps.epfd);
  if (ps.timeline !== null) out.push(ps.timeline);
  return out.sort((a, b) => a - b);
}

/** The highest fd number the process's userspace knows of (-1: none). */
export function highestFd(run: FuzzRun, ps: ProcState): number {
  let n = -1;
  for (const c of ps.ctxs) for (const e of c.fds) n = Math.max(n, e.fd);
  for (const e of ps.held) n = Math.max(n, e.fd);
  for (const x of ps.staleFds) n = Math.max(n, x);
  for (const x of untouchable(run, ps)) n = Math.max(n, x);
  return n;
}

/** dup(2) of one of the thread's fds; the new fd names what the old one named during the call. */
export async function opDup(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  if (ctx.fds.length >= MAX_FDS_PER_THREAD) return "ok";
  const e = run.pick(ctx.fds, "fuzz dup fd");
  if (!e) return "ok";
  const m = run.failMark();
  const t0 = run.model.tick();
  const pend = ctx.proc.fdm.begin(t0);
  const fd = await ctx.p.dup(e.fd);
  const t1 = run.model.tick();
  ctx.proc.fdm.end(pend);
  if (fd < 0) {
    // (-EBADF: a sibling's dup2() or close_range() closed it meanwhile.)
    if (fd !== -EMFILE && !(fd === -EBADF && e.closed) && !run.allocFailed(fd, m))
      run.model.diverge(`dup(${e.fd}) of an open fd = ${fd}`);
    return "ok";
  }
  // (What e.fd named during the call: a sibling's dup2() or close_range() may replace it.)
  ctx.proc.fdm.installedDup(fd, e.fd, t0, t1);
  // A sibling (or a race side) that used the file this number named may still be calling
  // through it: its calls reach the dup'd file unrecorded, as for a file opened there.
  if (e.kind === "drm" && ctx.proc.staleFds.has(fd)) {
    e.file!.shared = true;
    run.markStray(e.file!);
  }
  if (!e.closed && !lostFd(run, ctx.proc, fd, t0)) ctx.fds.push({ ...e, fd });
  return "ok";
}

/** dup2(2) of one of the thread's fds (doDup2()). */
export async function opDup2(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  return doDup2(run, ctx, false);
}

/** dup3(2) of one of the thread's fds (doDup2()). */
export async function opDup3(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  return doDup2(run, ctx, true);
}

/**
 * dup2(old, new), or (`three`) dup3(old, new, flags), of an fd of this thread: onto another
 * of its fds (a DRM file, a dma-buf), onto a sibling's fd (a number another thread may be
 * calling through), onto a number closed while a sibling may still call through it, onto a
 * free number (just above those in use, where the table must grow, the last one below
 * RLIMIT_NOFILE), onto itself; from a number this thread closed or one never open; onto a
 * number at or above RLIMIT_NOFILE; dup3 with flags other than O_CLOEXEC. The kernel's
 * results (ksys_dup3(), SYSCALL_DEFINE2(dup2), do_dup2(), v6.18): newfd; -EINVAL for dup3's
 * bad flags or oldfd == newfd; -EBADF for newfd >= RLIMIT_NOFILE or an oldfd with no file;
 * dup2(fd, fd): fd if open, else -EBADF; -EBUSY while an open() of another thread has
 * reserved newfd; -ENOMEM if the table could not grow. The fd newfd held is closed: it leaves
 * its thread's list as with close() (clobber()), and a DRM number another thread may call
 * through makes the dup'd file stray (its calls reach it unrecorded).
 */
export async function doDup2(run: FuzzRun, ctx: ThreadCtx, three: boolean): Promise<"ok"> {
  const ps = ctx.proc;
  const e = run.pick(ctx.fds, three ? "fuzz dup3 old" : "fuzz dup2 old");
  if (!e) return "ok";
  const busy = untouchable(run, ps);
  const free = (n: number) => !busy.includes(n);
  let old = e.fd;
  /** Whether `old` is `e` (else a closed or never-open number). */
  let known = true;
  let nfd = e.fd;
  let flags = 0;
  /** The call's result by its arguments alone (-EINVAL, -EBADF), if they settle it. */
  let settled: number | null = null;
  switch (choose(8, "fuzz dup2 kind")) {
    case 0: {
      // Onto another fd of this thread (a DRM file or a dma-buf in use).
      const o = run.pick(
        ctx.fds.filter((x) => x !== e && free(x.fd)),
        "fuzz dup2 own",
      );
      if (o) nfd = o.fd;
      break;
    }
    case 1: {
      // Onto a sibling's fd: a number another thread may be calling through.
      const sib: number[] = [];
      for (const c of ps.ctxs) if (c !== ctx) for (const x of c.fds) if (free(x.fd)) sib.push(x.fd);
      const n = run.pick(sib, "fuzz dup2 sibling");
      if (n !== undefined) nfd = n;
      break;
    }
    case 2: {
      // Onto a DRM number closed while another thread may still call through it (or any
      // number in use, if there is none).
      const n = run.pick([...ps.staleFds].filter(free), "fuzz dup2 stale");
      nfd = n ?? highestFd(run, ps) + 1;
      break;
    }
    case 3:
      // Onto a free number: just above those in use, where the table must grow (past
      // NR_OPEN_DEFAULT), or the last one below RLIMIT_NOFILE.
      nfd = [highestFd(run, ps) + 1, 64, INR_OPEN_CUR - 1][choose(3, "fuzz dup2 free")]!;
      if (!free(nfd)) nfd = highestFd(run, ps) + 1;
      break;
    case 4:
      // Onto itself.
      break;
    case 5: {
      // From a number this thread closed (another thread may have got it since: then the
      // call dups what it names) onto a free one, or from one never open.
      const c = ctx.closedFds.length > 0 && choose(2, "fuzz dup2 closed") === 0;
      known = false;
      if (c) {
        // dup2(fd, fd) of it: fd if another thread got the number since, else -EBADF.
        old = ctx.closedFds[ctx.closedFds.length - 1]!;
        nfd = choose(2, "fuzz dup2 closed onto") === 0 ? old : highestFd(run, ps) + 1;
        if (!free(nfd) || !free(old)) return "ok";
      } else {
        old = 900 + choose(50, "fuzz dup2 never");
        settled = -EBADF;
      }
      break;
    }
    case 6:
      // Onto a number at or above RLIMIT_NOFILE (-1 is 0xffffffff).
      nfd = [INR_OPEN_CUR, INR_OPEN_CUR + 7, -1][choose(3, "fuzz dup2 rlimit")]!;
      settled = -EBADF;
      break;
    default:
      // dup3: flags other than O_CLOEXEC; dup2: onto another fd of this thread.
      if (three) {
        flags = [1, 0o4000, O_CLOEXEC | 1, 0x8000_0000][choose(4, "fuzz dup3 bad flags")]!;
      } else {
        const o = run.pick(
          ctx.fds.filter((x) => x !== e && free(x.fd)),
          "fuzz dup2 own",
        );
        if (o) nfd = o.fd;
      }
  }
  if (three && flags === 0 && choose(2, "fuzz dup3 cloexec") === 0) flags = O_CLOEXEC;
  // ksys_dup3()'s order: the flags, oldfd == newfd, then newfd against RLIMIT_NOFILE.
  if (three && (flags & ~O_CLOEXEC) !== 0) settled = -EINVAL;
  else if (three && old === nfd) settled = -EINVAL;
  else if (nfd < 0 || nfd >= INR_OPEN_CUR) settled = -EBADF;
  const same = old === nfd;
  // The fds newfd held close (recorded before the call), unless the arguments fail it or
  // nothing is replaced (dup2(fd, fd)).
  let stray = false;
  let rec: FdRange | undefined;
  if (settled === null && !same) {
    const hit = ps.ctxs.find((c) => c.fds.some((x) => x.fd === nfd));
    const he = hit?.fds.find((x) => x.fd === nfd);
    stray =
      ps.staleFds.has(nfd) ||
      (he !== undefined && he.kind === "drm" && (hit !== ctx || he.file!.shared));
    // The dup'd DRM file gets the stray calls of whoever still calls through newfd.
    if (stray && known && e.kind === "drm") {
      e.file!.shared = true;
      run.markStray(e.file!);
    }
    rec = clobber(run, ctx, nfd, nfd);
  }
  const m = run.failMark();
  const t0 = run.model.tick();
  const pend = settled === null && !same ? ps.fdm.begin(t0) : null;
  const ret = three ? await ctx.p.dup3(old, nfd, flags) : await ctx.p.dup2(old, nfd);
  const t1 = run.model.tick();
  if (rec) rec.ret = t1;
  const call = three ? `dup3(${old}, ${nfd}, ${flags.toString(8)})` : `dup2(${old}, ${nfd})`;
  if (settled !== null) {
    if (ret !== settled) run.model.diverge(`${call} = ${ret}, expected ${settled}`);
    return "ok";
  }
  // A success means oldfd named a file at some instant of the call.
  if (ret !== -EBADF) run.fdUse(ctx, old, t0, t1, ret, `${call} = ${ret}`, () => true);
  // oldfd surely named a file throughout: this thread's, and no sibling took it meanwhile.
  const sure = known && !e.closed;
  const ok =
    ret === nfd ||
    (ret === -EBADF && !sure) ||
    (ret === -EBUSY && !same && ps.fdm.mayReserve(t0, t1, pend)) ||
    run.allocFailed(ret, m);
  if (!ok) run.model.diverge(`${call} = ${ret}`);
  if (pend === null) return "ok";
  if (ret === nfd) {
    ps.fdm.closed(nfd, t0, t1);
    ps.fdm.installedDup(nfd, old, t0, t1);
  }
  ps.fdm.end(pend);
  // The new fd is this thread's if it surely names e's file (else it stays open, unused).
  if (ret === nfd && sure && !lostFd(run, ps, nfd, t0, rec) && ctx.fds.length < MAX_FDS_PER_THREAD)
    ctx.fds.push({ ...e, fd: nfd });
  return "ok";
}

/**
 * close_range(first, last, flags): one fd of this thread, every fd from its lowest to its
 * highest (other threads' fds between included), a sibling's fd and the next number, from
 * one of its fds to ~0U; or first > last. Flags: none, CLOSE_RANGE_CLOEXEC,
 * CLOSE_RANGE_UNSHARE (with or without CLOEXEC; only as the thread's last operation: the
 * thread may get a table of its own, on which the model does not follow it), or bad ones.
 * The range never includes the process's epoll fd or sw_sync timeline (their users count on
 * them staying open) or a number a close() or send is using: it is cut short before them.
 * The kernel's results (SYSCALL_DEFINE3(close_range) -> __close_range(), v6.18): -EINVAL for
 * flags other than CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC or first > last, checked in that
 * order; else 0 (or dup_fd()'s -ENOMEM with CLOSE_RANGE_UNSHARE), every fd of the range
 * closed (clobber(), as dup2()'s implicit close) or, with CLOSE_RANGE_CLOEXEC, only marked
 * close-on-exec (the fuzzer never execs with them).
 */
export async function opCloseRange(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const ps = ctx.proc;
  const own = ctx.fds.map((x) => x.fd);
  if (own.length === 0) return "ok";
  let first: number;
  let last: number;
  switch (choose(5, "fuzz close_range range")) {
    case 0:
      first = run.pick(own, "fuzz close_range fd")!;
      last = first;
      break;
    case 1:
      first = Math.min(...own);
      last = Math.max(...own);
      break;
    case 2: {
      const sib: number[] = [];
      for (const c of ps.ctxs) if (c !== ctx) for (const x of c.fds) sib.push(x.fd);
      first = run.pick(sib.length > 0 ? sib : own, "fuzz close_range sibling")!;
      last = first + 1;
      break;
    }
    case 3:
      first = run.pick(own, "fuzz close_range fd")!;
      last = 0xffff_ffff;
      break;
    default:
      last = run.pick(own, "fuzz close_range fd")!;
      first = last + 1 + choose(2, "fuzz close_range inverted");
  }
  const fk = choose(8, "fuzz close_range flags");
  let flags = [0, 0, 0, 0, CLOSE_RANGE_CLOEXEC, CLOSE_RANGE_UNSHARE][fk] ?? 0;
  if (fk === 6) flags = CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC;
  if (fk === 7) flags = [1, 1 << 3, 0x8000_0000][choose(3, "fuzz close_range bad")]!;
  const badFlags = (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) !== 0;
  // (The thread goes on with the process's table unless this is its last operation.)
  if (!badFlags && !ctx.last) flags &= ~CLOSE_RANGE_UNSHARE;
  const settled = badFlags || first > last ? -EINVAL : null;
  const unshare = (flags & CLOSE_RANGE_UNSHARE) !== 0;
  const closes = settled === null && (flags & CLOSE_RANGE_CLOEXEC) === 0;
  if (closes) {
    // Cut the range short before a number it must leave alone.
    for (const n of untouchable(run, ps)) {
      if (n < first || n > last) continue;
      if (n > first) {
        last = n - 1;
        break;
      }
      first = n + 1;
    }
    if (first > last) return "ok";
  }
  // Closing in the process's table (not a copy of the thread's own: CLOSE_RANGE_UNSHARE
  // leaves the shared table alone when other threads use it, and when none does, no other
  // call of the process follows).
  const rec = closes && !unshare ? clobber(run, ctx, first, last) : undefined;
  if (unshare && settled === null) ctx.unshared = true;
  const m = run.failMark();
  const t0 = run.model.tick();
  const ret = await ctx.p.closeRange(first, last, flags);
  const t1 = run.model.tick();
  if (rec) rec.ret = t1;
  const call = `close_range(${first}, ${last}, ${flags})`;
  if (settled !== null) {
    if (ret !== settled) run.model.diverge(`${call} = ${ret}, expected ${settled}`);
    return "ok";
  }
  if (ret !== 0 && !(unshare && run.allocFailed(ret, m))) run.model.diverge(`${call} = ${ret}`);
  if (rec && ret === 0) ps.fdm.closedRange(first, last, t0, t1);
  return "ok";
}

/** close(2) of one of the thread's fds or, sometimes, of a number never open (-EBADF). */
export async function opClose(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  if (choose(6, "fuzz close bad") === 0) {
    const ret = await ctx.p.close(4000 + choose(50, "fuzz bad fd"));
    if (ret !== -EBADF) run.model.diverge(`close(bad fd) = ${ret}`);
    return "ok";
  }
  const e = run.pick(ctx.fds, "fuzz close fd");
  if (!e) return "ok";
  ctx.fds.splice(ctx.fds.indexOf(e), 1);
  e.closed = true;
  // (With a dup of it open the file lives on; the model does not count on that.)
  if (e.file) e.file.goneAt = Math.min(e.file.goneAt, run.model.tick());
  if (e.kind === "drm" && e.file!.shared) ctx.proc.staleFds.add(e.fd);
  const ret = await run.closeFd(ctx, e.fd);
  if (ret !== 0) run.model.diverge(`close(${e.fd}) of an open fd = ${ret}`);
  return "ok";
}

/** SCM_RIGHTS passing of one of the thread's dma-buf fds to another process (-EPIPE once it is gone). */
export async function opSend(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const d = run.ownDmabuf(ctx);
  if (!d || run.procs.length < 2) return "ok";
  const to = run.pick(
    run.procs.filter((q) => q.pid !== ctx.p.pid),
    "fuzz send to",
  );
  if (!to) return "ok";
  const m = run.failMark();
  busy(run, ctx.proc, d.fd, 1);
  const rec = procSend(run, ctx, to, d.fd);
  const ret = await ctx.p.sendFd(to, d.fd);
  if (rec) rec.ret = run.model.tick();
  busy(run, ctx.proc, d.fd, -1);
  if (ret !== 0 && ret !== -EPIPE && !run.allocFailed(ret, m)) run.model.diverge(`sendFd = ${ret}`);
  return "ok";
}

/** A non-blocking receive of an fd another process passed (-EAGAIN when none is queued), checked. */
export async function opRecv(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const m = run.failMark();
  const t0 = run.model.tick();
  const pend = ctx.proc.fdm.begin(t0);
  const fd = await ctx.p.recvFd({ nonblock: true, cloexec: choose(2, "fuzz cloexec") === 0 });
  const t1 = run.model.tick();
  if (fd < 0) {
    ctx.proc.fdm.end(pend);
    if (fd !== -EAGAIN && fd !== -EMFILE && !run.allocFailed(fd, m))
      run.model.diverge(`recvFd = ${fd}`);
    return "ok";
  }
  const size = await ctx.p.lseek(fd, 0, SEEK_END);
  await ctx.p.lseek(fd, 0, 0);
  let st = await run.stampAt(ctx.p, fd, 0, PAGE);
  // (A sibling's dup2() or close_range() may have closed or replaced it meanwhile.)
  const lost = lostFd(run, ctx.proc, fd, t0);
  if (lost) st = null;
  // With socket operations, socket fds are sent too (opSockPass): a file that cannot seek
  // (-ESPIPE: a socket; a dma-buf always can) is one of the files sent to the process.
  if (run.opts.sockets && (lost || size === -ESPIPE)) {
    ctx.proc.fdm.installedVia(fd, viaProcQueue(run, ctx.p.pid, t1), t0, t1);
    ctx.proc.fdm.end(pend);
    if (!lost) await keepExtra(run, ctx, { fd, sock: null, peer: null, nonblock: false });
    return "ok";
  }
  // (Only dma-buf fds are ever sent, without socket operations.)
  ctx.proc.fdm.installed(fd, { kind: "dmabuf", buf: st?.id ?? UNKNOWN_BUFFER }, t0, t1);
  ctx.proc.fdm.end(pend);
  if (st) {
    // (An export may have happened before its buffer was stamped: membership in the model's
    // exported set proves nothing; the size does.)
    const b = run.model.buffers.get(st.id);
    if (!b) run.model.diverge(`received a dma-buf stamped ${st.id}, which is no buffer`);
    else if (size !== b.size)
      run.model.diverge(`received dma-buf of buffer ${st.id} has size ${size}, not ${b.size}`);
  }
  if (lost) return "ok";
  if (ctx.fds.length >= MAX_FDS_PER_THREAD) {
    await run.closeFd(ctx, fd);
    return "ok";
  }
  ctx.fds.push({ fd, kind: "dmabuf", buf: st?.id });
  return "ok";
}

/** Records an SCM_RIGHTS send of `fd` to `to`'s queue (socket operations only). */
export function procSend(run: FuzzRun, ctx: ThreadCtx, to: Process, fd: number): ProcSend | null {
  if (!run.opts.sockets) return null;
  const rec: ProcSend = {
    to: to.pid,
    table: ctx.proc.fdm,
    fd,
    start: run.model.tick(),
    ret: Number.POSITIVE_INFINITY,
  };
  run.procSends.push(rec);
  return rec;
}
