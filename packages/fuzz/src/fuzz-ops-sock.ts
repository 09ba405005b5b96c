/**
 * The fuzz run's unix socket operations (`opts.sockets`; fuzz.ts's FuzzRun, one schedule):
 * socketpair(2), sendmsg(2) with SCM_RIGHTS of any fd, recvmsg(2) with and without MSG_PEEK,
 * socket fds passed to other processes and closed, and the checks of what a received fd may
 * name (socket-model.ts). Each function takes the run's state as `run`.
 */

import {
  AF_UNIX,
  ECONNRESET,
  ENOMEM,
  EPIPE,
  INR_OPEN_CUR,
  SCM_MAX_FD,
  SIOCATMARK,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
} from "@primetime/kernel";
import { choose } from "@primetime/sim";
import type { FdObject, FdTableModel, SockModel } from "./fd-model.js";
import {
  type ExtraFd,
  type FuzzRun,
  MAX_EXTRA_PER_THREAD,
  type SockSend,
  type ThreadCtx,
} from "./fuzz.js";
import { busy, lostFd, procSend } from "./fuzz-ops-fd.js";
import { connOf, estSock, markEscaped } from "./fuzz-ops-listen.js";
import {
  atmarkVerdict,
  BAD_FAMILIES,
  BAD_PROTOCOLS,
  BAD_TYPE_FLAGS,
  BAD_TYPES,
  HOSTILE_RECV,
  OOB_BYTE,
  oobRecvVerdict,
  oobSendVerdict,
  recvmsgVerdict,
  sendmsgVerdict,
  sizedRecvVerdict,
  socketCallFits,
  socketpairExpected,
} from "./socket-model.js";

/**
 * What a receive of process `pid`'s queue that returned at `ret` may have installed: any
 * file a send to that queue begun before then passed (resolved at the end of the run).
 */
export function viaProcQueue(run: FuzzRun, pid: number, ret: number) {
  return (): FdObject[] | null => {
    const out: FdObject[] = [];
    for (const s of run.procSends) {
      if (s.to !== pid || s.start > ret) continue;
      const c = s.table.candidates(s.fd, s.start, s.ret);
      if (c === null) return null;
      out.push(...c);
    }
    return out;
  };
}

/** The socket ends `fd` of `table` may have named in [start, ret] (null: unknown). */
export function sockEnds(
  _run: FuzzRun,
  table: FdTableModel,
  fd: number,
  start: number,
  ret: number,
) {
  const c = table.candidates(fd, start, ret);
  if (c === null) return null;
  const out: SockModel[] = [];
  for (const o of c) if (o.kind === "socket") out.push(o.sock);
  return out;
}

/**
 * What a recvmsg() on `fd` of `table` in [start, ret] may have installed: any file of a
 * sendmsg() begun before `ret` on the other end of a socket `fd` may have named (the
 * message was queued on the peer of the sender's socket: unix_peer()).
 */
export function viaSocket(
  run: FuzzRun,
  table: FdTableModel,
  fd: number,
  start: number,
  ret: number,
) {
  return (): FdObject[] | null => {
    const ends = sockEnds(run, table, fd, start, ret);
    if (ends === null || ends.some((e) => e.loose)) return null;
    const out: FdObject[] = [];
    for (const s of run.sockSends) {
      if (s.start > ret) continue;
      const from = sockEnds(run, s.table, s.fd, s.start, s.ret);
      if (from === null || from.some((e) => e.loose)) return null;
      if (!from.some((e) => e.peer !== null && ends.includes(e.peer))) continue;
      for (const x of s.fds) {
        const c = s.table.candidates(x, s.start, s.ret);
        if (c === null) return null;
        out.push(...c);
      }
    }
    return out;
  };
}

/** Keeps a received file in the thread's extra fds, or closes it if the thread has enough. */
export async function keepExtra(run: FuzzRun, ctx: ThreadCtx, x: ExtraFd): Promise<void> {
  if (ctx.extra.length < MAX_EXTRA_PER_THREAD) {
    ctx.extra.push(x);
    return;
  }
  const ret = await run.closeFd(ctx, x.fd);
  if (ret !== 0) run.model.diverge(`close(${x.fd}) of a received fd = ${ret}`);
}

/**
 * socketpair(2) (__sys_socketpair() of v6.18): AF_UNIX SOCK_STREAM, with SOCK_CLOEXEC,
 * SOCK_NONBLOCK, protocol 0 or PF_UNIX; or a bad family, type, protocol or flag
 * (socketpairExpected()), one time in three. The two new fds are ends of one pair in the fd
 * model. (`valid`: a good one, as each thread's first.)
 */
export async function opSocketpair(run: FuzzRun, ctx: ThreadCtx, valid = false): Promise<"ok"> {
  if (ctx.extra.length + 2 > MAX_EXTRA_PER_THREAD) return "ok";
  let family: number = AF_UNIX;
  let type: number = SOCK_STREAM;
  let protocol = 0;
  switch (valid ? 4 : choose(12, "fuzz socketpair kind")) {
    case 0:
      family = BAD_FAMILIES[choose(BAD_FAMILIES.length, "fuzz socketpair family")]!;
      break;
    case 1:
      type = BAD_TYPES[choose(BAD_TYPES.length, "fuzz socketpair type")]!;
      break;
    case 2:
      protocol = BAD_PROTOCOLS[choose(BAD_PROTOCOLS.length, "fuzz socketpair protocol")]!;
      break;
    case 3:
      type |= BAD_TYPE_FLAGS[choose(BAD_TYPE_FLAGS.length, "fuzz socketpair bad flag")]!;
      break;
    default:
      if (choose(3, "fuzz socketpair pf") === 0) protocol = AF_UNIX;
  }
  const fl = choose(4, "fuzz socketpair flags");
  if (fl & 1) type |= SOCK_CLOEXEC;
  if (fl & 2) type |= SOCK_NONBLOCK;
  const expected = socketpairExpected(family, type, protocol);
  const call = `socketpair(${family}, ${type}, ${protocol})`;
  const ps = ctx.proc;
  const m = run.failMark();
  const t0 = run.model.tick();
  const pend = ps.fdm.begin(t0);
  const ret = await ctx.p.socketpair(family, type, protocol);
  const t1 = run.model.tick();
  if (typeof ret === "number" || expected !== "pair") {
    ps.fdm.end(pend);
    if (ret !== expected && !(expected === "pair" && run.allocFailed(ret, m)))
      run.model.diverge(`${call} = ${ret}, expected ${expected === "pair" ? "two fds" : expected}`);
    return "ok";
  }
  const [a, b] = ret;
  if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a === b) {
    ps.fdm.end(pend);
    run.model.diverge(`${call} = [${a}, ${b}]`);
    return "ok";
  }
  const sa: SockModel = { id: run.sockIds++, peer: null };
  const sb: SockModel = { id: run.sockIds++, peer: sa };
  sa.peer = sb;
  ps.fdm.installed(a, { kind: "socket", sock: sa }, t0, t1);
  ps.fdm.installed(b, { kind: "socket", sock: sb }, t0, t1);
  ps.fdm.end(pend);
  // (A sibling's dup2() or close_range() may have closed or replaced one meanwhile: left to
  // the exit.)
  const nonblock = (type & SOCK_NONBLOCK) !== 0;
  const xa: ExtraFd | null = lostFd(run, ps, a, t0)
    ? null
    : { fd: a, sock: sa, peer: null, nonblock, ls: estSock(run) };
  const xb: ExtraFd | null = lostFd(run, ps, b, t0)
    ? null
    : { fd: b, sock: sb, peer: null, nonblock, ls: estSock(run) };
  if (xa && xb) {
    xa.peer = xb;
    xb.peer = xa;
  }
  if (xa) ctx.extra.push(xa);
  if (xb) ctx.extra.push(xb);
  return "ok";
}

/** Every fd the thread holds: its DRM files and dma-bufs, sockets and received files. */
export function heldFds(_run: FuzzRun, ctx: ThreadCtx): number[] {
  const out = ctx.fds.map((e) => e.fd);
  for (const x of ctx.extra) out.push(x.fd);
  if (ctx.proc.timeline !== null) out.push(ctx.proc.timeline);
  if (ctx.proc.epfd !== null) out.push(ctx.proc.epfd);
  return out;
}

/**
 * The fd a socket call goes to: usually one of the thread's sockets or received files, else
 * a DRM or dma-buf fd (-ENOTSOCK) or a number never open (-EBADF). `x`: the extra fd.
 */
export function sockTarget(
  run: FuzzRun,
  ctx: ThreadCtx,
  label: string,
): { fd: number; x?: ExtraFd } | null {
  const k = choose(10, label);
  if (k === 0) {
    const e = run.pick(ctx.fds, `${label} other`);
    return e ? { fd: e.fd } : null;
  }
  if (k === 1) return { fd: 4000 + choose(50, `${label} never`) };
  const x = run.pick(ctx.extra, label);
  return x ? { fd: x.fd, x } : null;
}

/**
 * sendmsg(2) with SCM_RIGHTS (unix_stream_sendmsg() of v6.18): no fds, one or two of any the
 * thread holds, the socket's own fd, its pair's other end, every socket of the thread (the
 * in-flight cycles the garbage collector takes), a never-open or a closed fd, SCM_MAX_FD + 1
 * fds (-EINVAL) or SCM_MAX_FD of one; on a DRM or dma-buf fd (-ENOTSOCK) or a never-open one.
 */
export async function opSockSend(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const tg = sockTarget(run, ctx, "fuzz sendmsg fd");
  if (!tg) return "ok";
  const held = heldFds(run, ctx);
  const any = (label: string) => run.pick(held, label) ?? tg.fd;
  let fds: number[];
  let neverOpen = false;
  let closedOne = false;
  switch (choose(12, "fuzz sendmsg payload")) {
    case 0:
      fds = [];
      break;
    case 1:
      fds = [any("fuzz sendmsg any")];
      break;
    case 2:
      fds = [any("fuzz sendmsg any"), any("fuzz sendmsg any")];
      break;
    case 3:
      fds = [tg.fd];
      break;
    case 4:
      fds = tg.x?.peer ? [tg.x.peer.fd] : [tg.fd];
      if (tg.x?.peer && choose(2, "fuzz sendmsg both") === 0) fds.push(tg.fd);
      break;
    case 5:
    case 6:
      fds = ctx.extra.map((x) => x.fd);
      if (fds.length === 0) fds = [tg.fd];
      break;
    case 7:
      fds = [any("fuzz sendmsg any"), 4000 + choose(50, "fuzz sendmsg never")];
      neverOpen = true;
      break;
    case 8: {
      const c = run.pick(ctx.closedFds, "fuzz sendmsg closed");
      fds = c === undefined ? [tg.fd] : [c];
      closedOne = c !== undefined;
      break;
    }
    case 9:
      fds = new Array<number>(SCM_MAX_FD + 1).fill(tg.fd);
      break;
    case 10:
      fds = new Array<number>(SCM_MAX_FD).fill(any("fuzz sendmsg any"));
      break;
    default:
      fds = [tg.fd, tg.fd];
  }
  const ps = ctx.proc;
  // The sent DRM and dma-buf fds are out of dup2()'s and close_range()'s reach meanwhile.
  const own = new Set(ctx.fds.map((e) => e.fd));
  const busied = [...new Set(fds)].filter((x) => own.has(x));
  for (const x of busied) busy(run, ps, x, 1);
  const extras = new Set(heldFds(run, ctx).filter((x) => !own.has(x)));
  markEscaped(run, ctx, fds);
  const conn = connOf(run, tg.x);
  const m = run.failMark();
  const t0 = run.model.tick();
  const rec: SockSend = {
    table: ps.fdm,
    fd: tg.fd,
    fds,
    start: t0,
    ret: Number.POSITIVE_INFINITY,
  };
  if (fds.length <= SCM_MAX_FD) {
    run.sockSends.push(rec);
    run.sockFdsSent += fds.length;
  }
  const ret = await ctx.p.sendmsgFds(tg.fd, fds);
  const t1 = run.model.tick();
  rec.ret = t1;
  for (const x of busied) busy(run, ps, x, -1);
  const call = `sendmsg(${tg.fd}, SCM_RIGHTS [${fds.length > 4 ? `${fds.length} fds` : fds.join(", ")}])`;
  // (A DRM or dma-buf fd of the thread may be closed by a sibling's race meanwhile.)
  const why = sendmsgVerdict(ret, {
    sockSure: tg.x?.sock != null,
    count: fds.length,
    neverOpen,
    allSure: !closedOne && fds.every((x) => extras.has(x)),
    peerAlive: tg.x?.peer != null,
    sentBefore: run.sockFdsSent - (fds.length <= SCM_MAX_FD ? fds.length : 0),
    rlimit: INR_OPEN_CUR,
    allocMayFail: run.allocFailed(-ENOMEM, m),
    conn,
  });
  if (why !== null) run.model.diverge(`${call} = ${ret}: ${why}`);
  if (tg.x === undefined || tg.x.sock === null)
    run.fdUse(ctx, tg.fd, t0, t1, ret, `${call} = ${ret}`, socketCallFits(ret));
  if (ret === 0)
    for (const x of new Set(fds)) run.fdUse(ctx, x, t0, t1, 0, `${call} = 0 (fd ${x})`, () => true);
  return "ok";
}

/**
 * recvmsg(2) of one message (unix_stream_read_generic() and scm_detach_fds() of v6.18), with
 * or without MSG_PEEK and MSG_CMSG_CLOEXEC, room for every fd or for 1 or 0 (MSG_CTRUNC),
 * never blocking (MSG_DONTWAIT, or a SOCK_NONBLOCK socket without it); or with hostile
 * options (-EFAULT, -EINVAL, before the fd is looked up); on a DRM or dma-buf fd
 * (-ENOTSOCK) or a never-open one. The new fds are lives of the fd model that name any file
 * a message queued on the socket may have carried; the thread keeps a few and closes the rest.
 */
export async function opSockRecv(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const tg = sockTarget(run, ctx, "fuzz recvmsg fd");
  if (!tg) return "ok";
  const ps = ctx.proc;
  if (choose(16, "fuzz recvmsg hostile") === 0) {
    const [arg, errno] = HOSTILE_RECV[choose(HOSTILE_RECV.length, "fuzz recvmsg bad")]!;
    const r = await ctx.p.recvmsgFds(tg.fd, arg as { maxFds?: number });
    if (r !== errno)
      run.model.diverge(`recvmsg(${tg.fd}, hostile) = ${JSON.stringify(r)}, expected ${errno}`);
    return "ok";
  }
  const peek = choose(3, "fuzz recvmsg peek") === 0;
  const cloexec = choose(2, "fuzz recvmsg cloexec") === 0;
  const maxFds = [undefined, undefined, 1, 0][choose(4, "fuzz recvmsg room")];
  // Never blocking: MSG_DONTWAIT, or a SOCK_NONBLOCK socket (then half the time without it).
  const nonblock = !tg.x?.nonblock || choose(2, "fuzz recvmsg dontwait") === 0;
  const conn = connOf(run, tg.x);
  const m = run.failMark();
  const t0 = run.model.tick();
  const pend = ps.fdm.begin(t0);
  const r = await ctx.p.recvmsgFds(tg.fd, { peek, nonblock, cloexec, maxFds });
  const t1 = run.model.tick();
  const call = `recvmsg(${tg.fd}${peek ? ", MSG_PEEK" : ""})`;
  const why = recvmsgVerdict(r, {
    sockSure: tg.x?.sock != null,
    maxFds: maxFds ?? SCM_MAX_FD,
    nonblock: true,
    allocMayFail: run.allocFailed(-ENOMEM, m),
    conn,
    peerAlive: tg.x?.peer != null,
    resetSeen: tg.x?.reset === true,
  });
  if (r === -ECONNRESET && tg.x !== undefined) tg.x.reset = true;
  const shown =
    typeof r === "number"
      ? String(r)
      : `${r.fds.length <= 4 ? `[${r.fds.join(", ")}]` : `${r.fds.length} fds`}${r.msgFlags === 0 ? "" : `, msg_flags ${r.msgFlags}`}`;
  return endRecv(run, ctx, tg, pend, call, r, shown, why, t0, t1);
}

/**
 * A socket fd of a pair the thread made sent to another process's SCM_RIGHTS queue
 * (Process.sendFd()): how the ends of one pair reach other processes, whose sends over them
 * then make in-flight cycles across processes. 0, or -EPIPE (the receiver exited). (Only
 * sockets and, from opSend(), dma-bufs go through these queues: the receiver tells them
 * apart by llseek(), which a socket refuses; a received file could be anything.)
 */
export async function opSockPass(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const x = run.pick(
    ctx.extra.filter((e) => e.sock !== null),
    "fuzz pass fd",
  );
  if (!x || run.procs.length < 2) return "ok";
  const to = run.pick(
    run.procs.filter((q) => q.pid !== ctx.p.pid),
    "fuzz pass to",
  );
  if (!to) return "ok";
  markEscaped(run, ctx, [x.fd]);
  const m = run.failMark();
  const rec = procSend(run, ctx, to, x.fd)!;
  const ret = await ctx.p.sendFd(to, x.fd);
  rec.ret = run.model.tick();
  if (ret !== 0 && ret !== -EPIPE && !run.allocFailed(ret, m))
    run.model.diverge(`sendFd(${x.fd}) of a socket = ${ret}`);
  return "ok";
}

/**
 * close(2) of a socket fd or a received file of the thread: a socket's last close releases
 * it (unix_release_sock(): its queue purged, the garbage collector run while sockets are in
 * flight). 0.
 */
export async function opSockClose(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const x = run.pick(ctx.extra, "fuzz sock close");
  if (!x) return "ok";
  ctx.extra.splice(ctx.extra.indexOf(x), 1);
  if (x.peer) x.peer.peer = null;
  const ret = await run.closeFd(ctx, x.fd);
  if (x.ls?.name != null && ctx.names.get(x.ls.name) === x.ls)
    if (x.ls.escaped || ctx.proc.staleFds.has(x.fd))
      // unix_release_sock() -> unix_remove_socket() frees the name with the last reference:
      // this close's, unless the socket escaped or a sibling may call through the number.
      ctx.names.set(x.ls.name, "unknown");
    else ctx.names.delete(x.ls.name);
  if (ret !== 0) run.model.diverge(`close(${x.fd}) of a socket or received fd = ${ret}`);
  return "ok";
}

/**
 * MSG_OOB on a socket of the thread (`opts.oob`; unix_stream_sendmsg()'s MSG_OOB branch,
 * queue_oob(), unix_stream_recv_urg(), manage_oob(), unix_ioctl() of v6.18): sendmsg(2) with
 * MSG_OOB of 1-3 bytes (the last, the OOB byte, has its top bit set) with no fd, one the thread
 * holds or the socket's own, or of no bytes (-EOPNOTSUPP); recvmsg(2) with MSG_OOB, with or
 * without MSG_PEEK; recvmsg(2) of 1-4 bytes, with or without MSG_PEEK (a read stops at the OOB
 * mark, steps over or drops consumed OOB skbs); ioctl(SIOCATMARK); or an exchange on a pair the
 * thread holds both ends of (oobExchange()). Never blocking. Each result is
 * judged by socket-model.ts (oobSendVerdict(), oobRecvVerdict(), sizedRecvVerdict(),
 * atmarkVerdict()); new fds join the fd model as opSockRecv()'s do.
 */
export async function opSockOob(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const tg = sockTarget(run, ctx, "fuzz oob fd");
  if (!tg) return "ok";
  const ps = ctx.proc;
  const sockSure = tg.x?.sock != null;
  const conn = connOf(run, tg.x);
  switch (choose(5, "fuzz oob kind")) {
    case 4:
      return oobExchange(run, ctx, tg.x);
    case 0: {
      const len = choose(8, "fuzz oob empty") === 0 ? 0 : 1 + choose(3, "fuzz oob len");
      const data = new Uint8Array(len);
      for (let i = 0; i < len; i++) data[i] = choose(OOB_BYTE, "fuzz oob byte");
      if (len > 0) data[len - 1]! |= OOB_BYTE;
      const k = choose(3, "fuzz oob fds");
      const fds =
        k === 0 ? [] : k === 1 ? [run.pick(heldFds(run, ctx), "fuzz oob any") ?? tg.fd] : [tg.fd];
      const own = new Set(ctx.fds.map((e) => e.fd));
      const busied = [...new Set(fds)].filter((x) => own.has(x));
      for (const x of busied) busy(run, ps, x, 1);
      const extras = new Set(heldFds(run, ctx).filter((x) => !own.has(x)));
      markEscaped(run, ctx, fds);
      const m = run.failMark();
      const t0 = run.model.tick();
      const rec: SockSend = {
        table: ps.fdm,
        fd: tg.fd,
        fds,
        start: t0,
        ret: Number.POSITIVE_INFINITY,
      };
      run.sockSends.push(rec);
      run.sockFdsSent += fds.length;
      const ret = await ctx.p.sendmsgFds(tg.fd, fds, { data, oob: true });
      const t1 = run.model.tick();
      rec.ret = t1;
      for (const x of busied) busy(run, ps, x, -1);
      const call = `sendmsg(${tg.fd}, SCM_RIGHTS [${fds.join(", ")}], ${len} bytes, MSG_OOB)`;
      const why = oobSendVerdict(ret, len, {
        sockSure,
        count: fds.length,
        neverOpen: false,
        allSure: fds.every((x) => extras.has(x)),
        peerAlive: tg.x?.peer != null,
        sentBefore: run.sockFdsSent - fds.length,
        rlimit: INR_OPEN_CUR,
        allocMayFail: run.allocFailed(-ENOMEM, m),
        conn,
      });
      if (why !== null) run.model.diverge(`${call} = ${ret}: ${why}`);
      const res = Math.min(ret, 0);
      if (tg.x === undefined || tg.x.sock === null)
        run.fdUse(ctx, tg.fd, t0, t1, res, `${call} = ${ret}`, socketCallFits(res));
      if (ret > 0)
        for (const x of new Set(fds)) run.fdUse(ctx, x, t0, t1, 0, `${call} (fd ${x})`, () => true);
      return "ok";
    }
    case 3: {
      const arg: { value?: number } = {};
      const t0 = run.model.tick();
      const ret = await ctx.p.ioctl(tg.fd, SIOCATMARK, arg);
      const t1 = run.model.tick();
      const why = atmarkVerdict(ret, arg.value, sockSure && conn === "yes");
      if (why !== null) run.model.diverge(`ioctl(${tg.fd}, SIOCATMARK) = ${ret}: ${why}`);
      if (tg.x === undefined || tg.x.sock === null)
        run.fdUse(ctx, tg.fd, t0, t1, ret, `ioctl(${tg.fd}, SIOCATMARK) = ${ret}`, (o) =>
          ret === 0 ? o.kind === "socket" : true,
        );
      return "ok";
    }
    default:
  }
  const oob = choose(2, "fuzz oob recv kind") === 0;
  const peek = choose(3, "fuzz oob peek") === 0;
  const size = oob ? 1 : 1 + choose(4, "fuzz oob size");
  const m = run.failMark();
  const t0 = run.model.tick();
  const pend = ps.fdm.begin(t0);
  const r = await ctx.p.recvmsgFds(
    tg.fd,
    oob
      ? { oob, peek, nonblock: true, cloexec: true }
      : { size, peek, nonblock: true, cloexec: true },
  );
  const t1 = run.model.tick();
  const call = `recvmsg(${tg.fd}${oob ? ", MSG_OOB" : `, ${size} bytes`}${peek ? ", MSG_PEEK" : ""})`;
  const know = {
    sockSure,
    maxFds: SCM_MAX_FD,
    nonblock: true,
    allocMayFail: run.allocFailed(-ENOMEM, m),
    conn,
    peerAlive: tg.x?.peer != null,
    resetSeen: tg.x?.reset === true,
  };
  const why = oob ? oobRecvVerdict(r, know) : sizedRecvVerdict(r, size, know);
  if (r === -ECONNRESET && tg.x !== undefined) tg.x.reset = true;
  const shown =
    typeof r === "number"
      ? String(r)
      : `${r.data?.length ?? 0} bytes, [${r.fds.join(", ")}]${r.msgFlags === 0 ? "" : `, msg_flags ${r.msgFlags}`}`;
  return endRecv(run, ctx, tg, pend, call, r, shown, why, t0, t1);
}

/**
 * Urgent bytes over a pair the thread holds both ends of (`x` and its peer): 1-3 rounds of one
 * OOB byte sent on the peer and taken with recv(MSG_OOB) on `x` (each leaves a consumed OOB skb
 * in `x`'s queue before 32ca245464e1, the state `unix.oob-consecutive-consumed` needs two of and
 * `unix.oob-consumed-econnreset` one), then, one time in two, one more OOB byte sent and left
 * pending. Judged as opSockOob()'s calls; nothing without a peer.
 */
async function oobExchange(run: FuzzRun, ctx: ThreadCtx, x: ExtraFd | undefined): Promise<"ok"> {
  const peer = x?.peer;
  if (x === undefined || x.sock === null || !peer) return "ok";
  const rounds = 1 + choose(3, "fuzz oob rounds");
  const pending = choose(2, "fuzz oob pending") === 0;
  for (let i = 0; i < rounds + (pending ? 1 : 0); i++) {
    const byte = OOB_BYTE | choose(OOB_BYTE, "fuzz oob byte");
    const m = run.failMark();
    const ret = await ctx.p.sendmsgFds(peer.fd, [], { data: Uint8Array.of(byte), oob: true });
    const why = oobSendVerdict(ret, 1, {
      sockSure: true,
      count: 0,
      neverOpen: false,
      allSure: true,
      peerAlive: true,
      sentBefore: run.sockFdsSent,
      rlimit: INR_OPEN_CUR,
      allocMayFail: run.allocFailed(-ENOMEM, m),
      conn: connOf(run, peer),
    });
    if (why !== null) run.model.diverge(`sendmsg(${peer.fd}, 1 byte, MSG_OOB) = ${ret}: ${why}`);
    if (i === rounds) break; // the pending one
    const m2 = run.failMark();
    const r = await ctx.p.recvmsgFds(x.fd, { oob: true, nonblock: true });
    const why2 = oobRecvVerdict(r, {
      sockSure: true,
      maxFds: SCM_MAX_FD,
      nonblock: true,
      allocMayFail: run.allocFailed(-ENOMEM, m2),
      conn: connOf(run, x),
      peerAlive: true,
    });
    const shown = typeof r === "number" ? String(r) : `${r.data?.length ?? 0} bytes`;
    if (why2 !== null) run.model.diverge(`recvmsg(${x.fd}, MSG_OOB) = ${shown}: ${why2}`);
  }
  return "ok";
}

/**
 * The end of a recvmsg(2) operation, shared by `opSockRecv()` and `opSockOob()`: reports the
 * verdict, checks the fd's use, and keeps (or leaves to the exit) the fds the message carried.
 */
async function endRecv(
  run: FuzzRun,
  ctx: ThreadCtx,
  tg: { fd: number; x?: ExtraFd },
  pend: ReturnType<ThreadCtx["proc"]["fdm"]["begin"]>,
  call: string,
  r: number | { fds: number[] },
  shown: string,
  why: string | null,
  t0: number,
  t1: number,
): Promise<"ok"> {
  const ps = ctx.proc;
  if (why !== null) run.model.diverge(`${call} = ${shown}: ${why}`);
  const res = typeof r === "number" ? r : 0;
  if (tg.x === undefined || tg.x.sock === null)
    run.fdUse(ctx, tg.fd, t0, t1, res, `${call} = ${res}`, socketCallFits(res));
  if (typeof r === "number") {
    ps.fdm.end(pend);
    return "ok";
  }
  const via = viaSocket(run, ps.fdm, tg.fd, t0, t1);
  for (const fd of r.fds) ps.fdm.installedVia(fd, via, t0, t1);
  ps.fdm.end(pend);
  for (const fd of r.fds) {
    // (Closed or replaced by a sibling's dup2() or close_range() meanwhile: left to the exit.)
    if (lostFd(run, ps, fd, t0)) continue;
    await keepExtra(run, ctx, { fd, sock: null, peer: null, nonblock: false });
  }
  return "ok";
}
