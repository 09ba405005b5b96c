import {
  AF_UNIX,
  EAGAIN,
  EBADF,
  ENOTSOCK,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOMAXCONN,
  sockaddrUnAbstract,
} from "@primetime/kernel";
import { choose } from "@primetime/sim";
import type { SockModel } from "./fd-model.js";
import {
  type ExtraFd,
  type FuzzRun,
  type LSock,
  MAX_EXTRA_PER_THREAD,
  type ThreadCtx,
} from "./fuzz.js";
import { lostFd } from "./fuzz-ops-fd.js";
import { keepExtra, sockTarget } from "./fuzz-ops-sock.js";
import {
  type AddrKind,
  acceptExpected,
  addrErrno,
  BAD_ACCEPT_FLAGS,
  BAD_FAMILIES,
  BAD_PROTOCOLS,
  BAD_TYPE_FLAGS,
  BAD_TYPES,
  bindExpected,
  type Conn,
  type ConnectTarget,
  connectExpected,
  INRANGE_FAMILIES,
  type ListenKnown,
  listenExpected,
  type NameState,
  SOCK_PACKET,
  socketCallFits,
  socketExpected,
} from "./socket-model.js";

/** The thread's own abstract name number `k` (its names and SHARED_NAME are the name space). */
export function ownName(_run: FuzzRun, ctx: ThreadCtx, k: number): string {
  return `fz${ctx.lid}.${k}`;
}

/** A connected socket's state (a pair's end, an accepted socket). */
export function estSock(_run: FuzzRun, bound = false): LSock {
  return { state: "est", bound, name: null, escaped: false, backlog: 0, queue: null };
}

/** What the thread surely knows of `x`'s socket (null: a received file, or it escaped). */
export function known(_run: FuzzRun, x: ExtraFd | undefined): ListenKnown | null {
  return x?.ls && !x.ls.escaped ? x.ls : null;
}

/** Whether `x` is connected, for sendmsg()'s and recvmsg()'s verdicts (socket-model.ts Conn). */
export function connOf(run: FuzzRun, x: ExtraFd | undefined): Conn {
  if (run.opts.sockets !== "listen") return "yes";
  const k = known(run, x);
  if (k === null) return x?.ls?.state === "est" ? "yes" : "maybe";
  return k.state === "est" ? "yes" : "no";
}

/** Sockets of the thread whose fds go out over a socket or to a process: they escape. */
export function markEscaped(_run: FuzzRun, ctx: ThreadCtx, fds: readonly number[]) {
  for (const x of ctx.extra)
    if (x.ls && fds.includes(x.fd)) {
      x.ls.escaped = true;
      x.ls.queue = null;
    }
}

/** What the thread knows of `name`'s binding. */
export function nameState(run: FuzzRun, ctx: ThreadCtx, name: string): NameState {
  if (name === run.SHARED_NAME) return "unknown";
  const b = ctx.names.get(name);
  return b === undefined ? "free" : b === "unknown" ? "unknown" : "bound";
}

/** An address of `kind` for `name`: the bytes and the length passed. */
export function addrOf(
  _run: FuzzRun,
  kind: AddrKind,
  name: string,
): { addr: Uint8Array; len: number } {
  const a = sockaddrUnAbstract(name);
  switch (kind) {
    case "auto":
      return { addr: a.addr, len: 2 };
    case "path": {
      const p = sockaddrUnAbstract("/fz");
      p.addr[2] = "/".charCodeAt(0);
      return p;
    }
    case "len-long":
      return { addr: new Uint8Array(129), len: 129 };
    case "len-sun": {
      const b = new Uint8Array(111);
      b.set(a.addr);
      return { addr: b, len: 111 };
    }
    case "len-short":
      return { addr: a.addr, len: 1 };
    case "family": {
      const b = a.addr.slice();
      b[0] = 2;
      return { addr: b, len: a.len };
    }
    case "fault":
      return { addr: a.addr.subarray(0, 3), len: a.len };
    default:
      return a;
  }
}

/** The socket fd a listen operation goes to (sockTarget(): sometimes not a socket). */
export function listenTarget(run: FuzzRun, ctx: ThreadCtx, label: string) {
  return sockTarget(run, ctx, label);
}

/** Checks a listen operation's result against `allowed`; a non-socket fd by its file. */
export function checkListenOp(
  run: FuzzRun,
  ctx: ThreadCtx,
  tg: { fd: number; x?: ExtraFd },
  call: string,
  ret: number,
  allowed: readonly number[],
  m: number,
  t0: number,
  t1: number,
  preSock: number | null = null,
) {
  if (tg.x === undefined || tg.x.sock === null) {
    // (move_addr_to_kernel()'s errno comes before connect()'s socket lookup: any file.)
    const fits = ret === preSock ? () => true : socketCallFits(ret);
    run.fdUse(ctx, tg.fd, t0, t1, ret, `${call} = ${ret}`, fits);
    if (ret === -EBADF || ret === -ENOTSOCK) return;
  }
  if (!allowed.includes(ret) && !run.allocFailed(ret, m))
    run.model.diverge(`${call} = ${ret}, expected ${allowed.join(" or ")}`);
}

/**
 * socket(2) (__sys_socket() of v6.18): AF_UNIX SOCK_STREAM with SOCK_CLOEXEC and
 * SOCK_NONBLOCK, protocol 0 or PF_UNIX; or, one time in three, a bad family (outside the
 * range, or in it and not AF_UNIX), type (SOCK_PACKET among them), protocol or flag, with
 * socketExpected()'s errno. The new socket is unconnected and unbound.
 */
export async function opSocket(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  await newSocket(run, ctx, choose(3, "fuzz socket valid") !== 0);
  return "ok";
}

/** socket(2), with valid arguments or not; the new socket as an extra fd of the thread, or null. */
export async function newSocket(
  run: FuzzRun,
  ctx: ThreadCtx,
  valid: boolean,
): Promise<ExtraFd | null> {
  if (ctx.extra.length + 1 > MAX_EXTRA_PER_THREAD) return null;
  let family: number = AF_UNIX;
  let type: number = SOCK_STREAM;
  let protocol = 0;
  switch (valid ? 6 : choose(6, "fuzz socket kind")) {
    case 0:
      family = BAD_FAMILIES[choose(BAD_FAMILIES.length, "fuzz socket family")]!;
      break;
    case 1:
      family = INRANGE_FAMILIES[choose(INRANGE_FAMILIES.length, "fuzz socket family in")]!;
      break;
    case 2:
      type = [...BAD_TYPES, SOCK_PACKET][choose(BAD_TYPES.length + 1, "fuzz socket type")]!;
      break;
    case 3:
      protocol = BAD_PROTOCOLS[choose(BAD_PROTOCOLS.length, "fuzz socket protocol")]!;
      break;
    case 4:
      type |= BAD_TYPE_FLAGS[choose(BAD_TYPE_FLAGS.length, "fuzz socket bad flag")]!;
      break;
    default:
      if (choose(3, "fuzz socket pf") === 0) protocol = AF_UNIX;
  }
  const fl = choose(4, "fuzz socket flags");
  if (fl & 1) type |= SOCK_CLOEXEC;
  if (fl & 2) type |= SOCK_NONBLOCK;
  const expected = socketExpected(family, type, protocol);
  const call = `socket(${family}, ${type}, ${protocol})`;
  const ps = ctx.proc;
  const m = run.failMark();
  const t0 = run.model.tick();
  const pend = ps.fdm.begin(t0);
  const fd = await ctx.p.openSocket(family, type, protocol);
  const t1 = run.model.tick();
  if (fd < 0 || expected !== "fd") {
    ps.fdm.end(pend);
    if (fd !== expected && !(expected === "fd" && run.allocFailed(fd, m)))
      run.model.diverge(`${call} = ${fd}, expected ${expected === "fd" ? "an fd" : expected}`);
    return null;
  }
  const sock: SockModel = { id: run.sockIds++, peer: null };
  ps.fdm.installed(fd, { kind: "socket", sock }, t0, t1);
  ps.fdm.end(pend);
  // (A sibling's dup2() or close_range() may have closed or replaced it meanwhile.)
  if (lostFd(run, ps, fd, t0)) return null;
  const x: ExtraFd = {
    fd,
    sock,
    peer: null,
    nonblock: (type & SOCK_NONBLOCK) !== 0,
    ls: { state: "close", bound: false, name: null, escaped: false, backlog: 0, queue: null },
  };
  ctx.extra.push(x);
  return x;
}

/** The names bind() and connect() draw: the thread's own three, or the shared one. */
export function drawName(run: FuzzRun, ctx: ThreadCtx, label: string): string {
  const k = choose(5, label);
  return k < 3 ? ownName(run, ctx, k) : k === 3 ? run.SHARED_NAME : ownName(run, ctx, 0);
}

/**
 * bind(2) (__sys_bind(), unix_bind() of v6.18) of one of the thread's sockets (or another
 * fd) to an abstract name of the small name space (taken ones: -EADDRINUSE), a bare family
 * (autobind), or a bad address (bindExpected()).
 */
export async function opBind(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const tg = listenTarget(run, ctx, "fuzz bind fd");
  if (!tg) return "ok";
  const kinds: AddrKind[] = [
    "name",
    "name",
    "name",
    "name",
    "auto",
    "len-long",
    "len-sun",
    "len-short",
    "family",
    "fault",
  ];
  const kind = kinds[choose(kinds.length, "fuzz bind addr")]!;
  const name = drawName(run, ctx, "fuzz bind name");
  const k = known(run, tg.x);
  const allowed = bindExpected(kind, k, nameState(run, ctx, name));
  const { addr, len } = addrOf(run, kind, name);
  const m = run.failMark();
  const t0 = run.model.tick();
  const ret = await ctx.p.bind(tg.fd, addr, len);
  const t1 = run.model.tick();
  checkListenOp(
    run,
    ctx,
    tg,
    `bind(${tg.fd}, ${kind} ${JSON.stringify(name)})`,
    ret,
    allowed,
    m,
    t0,
    t1,
  );
  if (ret === 0 && tg.x?.ls && (kind === "name" || kind === "auto")) {
    const ls = tg.x.ls;
    if (kind === "name" && !ls.bound) {
      ls.name = name;
      if (name !== run.SHARED_NAME) ctx.names.set(name, k === null ? "unknown" : ls);
    }
    ls.bound = true;
  } else if (ret === 0 && kind === "name" && name !== run.SHARED_NAME)
    ctx.names.set(name, "unknown"); // a received file of unknown fate holds it
  return "ok";
}

/** listen(2) (unix_listen() of v6.18) with a backlog of 0, 1, 2, -1 or 5 (listenExpected()). */
export async function opListen(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const tg = listenTarget(run, ctx, "fuzz listen fd");
  if (!tg) return "ok";
  const backlog = [0, 1, 2, -1, 5][choose(5, "fuzz listen backlog")]!;
  await doListen(run, ctx, tg, backlog);
  return "ok";
}

/** listen(2) of `tg` with `backlog`, checked against the listening model. */
export async function doListen(
  run: FuzzRun,
  ctx: ThreadCtx,
  tg: { fd: number; x?: ExtraFd },
  backlog: number,
) {
  const k = known(run, tg.x);
  const allowed = listenExpected(k);
  const m = run.failMark();
  const t0 = run.model.tick();
  const ret = await ctx.p.listen(tg.fd, backlog);
  const t1 = run.model.tick();
  checkListenOp(run, ctx, tg, `listen(${tg.fd}, ${backlog})`, ret, allowed, m, t0, t1);
  const ls = tg.x?.ls;
  if (ret === 0 && ls) {
    if (ls.state !== "listen")
      ls.queue = ls.escaped || ls.name === run.SHARED_NAME || ls.name === null ? null : [];
    ls.state = "listen";
    ls.backlog = backlog < 0 || backlog > SOMAXCONN ? SOMAXCONN : backlog;
  }
}

/** Each thread's first listener: a socket bound to its first name, listening. */
export async function listenerSetup(run: FuzzRun, ctx: ThreadCtx): Promise<void> {
  const x = await newSocket(run, ctx, true);
  if (!x) return;
  const name = ownName(run, ctx, 0);
  const { addr, len } = addrOf(run, "name", name);
  const m = run.failMark();
  const ret = await ctx.p.bind(x.fd, addr, len);
  if (ret !== 0) {
    if (!run.allocFailed(ret, m))
      run.model.diverge(`bind(${x.fd}, ${JSON.stringify(name)}) = ${ret}`);
    return;
  }
  x.ls!.bound = true;
  x.ls!.name = name;
  ctx.names.set(name, x.ls!);
  await doListen(run, ctx, { fd: x.fd, x }, 1 + choose(2, "fuzz setup backlog"));
}

/** Where a connect() to `name` ends up, as the thread knows it. */
export function targetOf(run: FuzzRun, ctx: ThreadCtx, name: string): ConnectTarget {
  if (name === run.SHARED_NAME) return { kind: "unknown" };
  const b = ctx.names.get(name);
  if (b === undefined) return { kind: "none" };
  if (b === "unknown" || b.escaped) return { kind: "unknown" };
  if (b.state !== "listen") return { kind: "listener", listening: false, full: false };
  if (b.queue === null) return { kind: "unknown" };
  return { kind: "listener", listening: true, full: b.queue.length > b.backlog };
}

/**
 * connect(2) (__sys_connect(), unix_stream_connect() of v6.18) of one of the thread's
 * sockets (or another fd) to a name of the name space, a pathname (-ENOENT) or a bad address
 * (connectExpected()). Never one that could sleep: a socket the thread did not make
 * O_NONBLOCK only connects where the answer is known without waiting (a name nothing is
 * bound to, its own listener with room, a bad address). A new connection's embryo joins the
 * listener's queue in the model, its peer the connecting socket.
 */
export async function opConnect(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  // Half the time a new socket of its own (a client), else any socket fd of the thread.
  let tg: { fd: number; x?: ExtraFd } | null;
  if (choose(2, "fuzz connect new") === 0) {
    const x = await newSocket(run, ctx, true);
    tg = x ? { fd: x.fd, x } : null;
  } else tg = listenTarget(run, ctx, "fuzz connect fd");
  if (!tg) return "ok";
  const kinds: AddrKind[] = [
    "name",
    "name",
    "name",
    "name",
    "name",
    "path",
    "auto",
    "len-long",
    "len-sun",
    "family",
    "fault",
  ];
  const kind = kinds[choose(kinds.length, "fuzz connect addr")]!;
  // Half the time the name of one of the thread's listeners, else any of the name space.
  const lname = run.pick(
    ctx.extra.filter((e) => e.ls?.state === "listen" && e.ls.name !== null),
    "fuzz connect listener",
  )?.ls?.name;
  const name =
    lname != null && choose(2, "fuzz connect to listener") === 0
      ? lname
      : drawName(run, ctx, "fuzz connect name");
  const target = targetOf(run, ctx, name);
  const k = known(run, tg.x);
  const allowed = connectExpected(kind, k, target);
  // A connect() that may have to wait for room (-EAGAIN without O_NONBLOCK): not drawn.
  const mayWait = allowed.includes(-EAGAIN) || (tg.x === undefined && kind === "name");
  if (mayWait && !(tg.x?.ls && tg.x.nonblock)) return "ok";
  const { addr, len } = addrOf(run, kind, name);
  const m = run.failMark();
  const t0 = run.model.tick();
  const ret = await ctx.p.connect(tg.fd, addr, len);
  const t1 = run.model.tick();
  const preSock = kind === "len-long" || kind === "fault" ? addrErrno(kind, "connect") : null;
  checkListenOp(
    run,
    ctx,
    tg,
    `connect(${tg.fd}, ${kind} ${JSON.stringify(name)})`,
    ret,
    allowed,
    m,
    t0,
    t1,
    preSock,
  );
  if (ret !== 0) return "ok";
  const b = name === run.SHARED_NAME ? undefined : ctx.names.get(name);
  const queue = b !== undefined && b !== "unknown" ? b.queue : null;
  const client = tg.x?.ls && k !== null ? tg.x : undefined;
  const embryo: SockModel = {
    id: run.sockIds++,
    peer: client?.sock ?? null,
    loose: client === undefined || queue === null,
  };
  if (queue !== null) queue.push(embryo);
  if (client?.sock && client.ls) {
    client.sock.peer = embryo;
    client.ls.state = "est";
  } else if (tg.x?.ls) tg.x.ls.state = "est";
  return "ok";
}

/**
 * accept4(2) (__sys_accept4_file(), unix_accept() of v6.18) on one of the thread's sockets,
 * with SOCK_CLOEXEC, SOCK_NONBLOCK or bad flags (-EINVAL), never where it could sleep: on an
 * O_NONBLOCK listener, or one whose queue the thread knows (acceptExpected()). The accepted
 * socket is the oldest embryo in the model (its peer the connecting socket).
 */
export async function opAccept(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const k0 = choose(10, "fuzz accept fd");
  let tg: { fd: number; x?: ExtraFd } | null;
  if (k0 === 0) tg = { fd: 4000 + choose(50, "fuzz accept never") };
  else {
    // A listener of the thread two times in three, else any socket of its own.
    const listening = ctx.extra.filter((e) => e.ls?.state === "listen");
    const x = run.pick(
      k0 < 7 && listening.length > 0 ? listening : ctx.extra.filter((e) => e.ls),
      "fuzz accept sock",
    );
    tg = x ? { fd: x.fd, x } : null;
  }
  if (!tg) return "ok";
  const fk = choose(6, "fuzz accept flags");
  const bad = fk === 5;
  const flags = bad
    ? BAD_ACCEPT_FLAGS[choose(BAD_ACCEPT_FLAGS.length, "fuzz accept bad flag")]!
    : (fk & 1 ? SOCK_CLOEXEC : 0) | (fk & 2 ? SOCK_NONBLOCK : 0);
  const x = tg.x;
  const k = known(run, x);
  const queue = k !== null && x?.ls ? x.ls.queue : null;
  const allowed: readonly (number | "fd")[] =
    x === undefined ? [-EBADF] : acceptExpected(bad, k, queue === null ? null : queue.length);
  // An accept() that may sleep (an empty queue, a listener file without O_NONBLOCK): not drawn.
  if (allowed.includes(-EAGAIN) && !x?.nonblock) return "ok";
  const ps = ctx.proc;
  const m = run.failMark();
  const t0 = run.model.tick();
  const pend = ps.fdm.begin(t0);
  const fd = await ctx.p.accept(tg.fd, flags);
  const t1 = run.model.tick();
  const call = `accept4(${tg.fd}, ${flags})`;
  if (fd < 0) {
    ps.fdm.end(pend);
    if (!allowed.includes(fd) && !run.allocFailed(fd, m))
      run.model.diverge(`${call} = ${fd}, expected ${allowed.join(" or ")}`);
    return "ok";
  }
  if (!allowed.includes("fd")) {
    ps.fdm.end(pend);
    run.model.diverge(`${call} = ${fd}, expected ${allowed.join(" or ")}`);
    return "ok";
  }
  const embryo = queue?.shift();
  const sock: SockModel = embryo ?? { id: run.sockIds++, peer: null, loose: true };
  ps.fdm.installed(fd, { kind: "socket", sock }, t0, t1);
  ps.fdm.end(pend);
  if (lostFd(run, ps, fd, t0)) return "ok";
  const nx: ExtraFd = {
    fd,
    sock,
    peer: null,
    nonblock: (flags & SOCK_NONBLOCK) !== 0,
    ls: estSock(run, true),
  };
  // (A thread that holds enough fds closes the accepted one at once: keepExtra().)
  if (ctx.extra.length >= MAX_EXTRA_PER_THREAD) {
    await keepExtra(run, ctx, nx);
    return "ok";
  }
  const client = sock.peer ? ctx.extra.find((e) => e.sock === sock.peer) : undefined;
  if (client && client.peer === null) {
    client.peer = nx;
    nx.peer = client;
  }
  ctx.extra.push(nx);
  return "ok";
}
