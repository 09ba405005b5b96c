/**
 * unix-gc: client processes on the first driver hand frames (dma-buf fds) to a compositor
 * process on the second driver over unix stream sockets as files (socketpair(2), sendmsg(2) and
 * recvmsg(2) with SCM_RIGHTS, @primetime/kernel's net/af-unix.ts), and put sockets in flight over
 * sockets so that the unix garbage collector (net/unix/garbage.c of v6.18) has cycles to judge.
 *
 * The compositor makes one connection per client (a socketpair, as a compositor starting a
 * client with WAYLAND_SOCKET does) and hands the client its end over the per-process SCM_RIGHTS
 * queue, which stands for the fd a forked client inherits (the model has no fork(), bind() or
 * connect()). Each client draws a shape from the seed:
 *
 * - `direct`: the frame's dma-buf fd over the connection;
 * - `self`: a socket X sent over itself with the dma-buf (X's own queue holds X and the frame),
 *   X handed to the compositor over the connection;
 * - `pair`: two sockets A and B sent over each other (A and the dma-buf in B's queue, B in A's),
 *   B handed to the compositor.
 *
 * A client may also leave an orphan cycle behind (a socket sent over itself with its dma-buf,
 * both ends closed: garbage only the collector frees), closes everything in an order drawn from
 * the seed, or exits abruptly (before taking its connection, or right after handing its frame
 * over). The compositor reads a handed socket's message with or without MSG_PEEK (from the
 * seed): with it, it peeks the message (new fds for the socket and the frame), closes the handed
 * socket and then reads the peeked socket's own message through the new fd, which is the
 * pattern "af_unix: Give up GC if MSG_PEEK intervened." (e5b31d988a41) is about; it imports the
 * frame, checks its contents and releases everything. The collector runs from the kernel's own
 * trigger: every release of a socket while sockets are in flight (unix_release_sock() ->
 * unix_gc()). Once every process has exited, a last process releases a fresh socketpair, as any
 * unix socket closing on a real system would, so that garbage left by the last closes is
 * collected before the leak checks.
 *
 * What must hold: every syscall gives what the kernel gives for this program (0, the fds the
 * message carries, -EPIPE to a client already gone, end of file from a connection whose client
 * died before sending), the compositor sees every frame as its client drew it, and once every
 * process has exited and the collector has run, every socket, dma-buf and GEM object is freed
 * (kmemleak, the devices' GEM counters).
 *
 * `unix-gc-peek` is its focused variant: 2-3 clients, every one passing a `pair` that the
 * compositor peeks, nobody exits abruptly and no orphan cycle is drawn: the shape the collector's
 * MSG_PEEK race needs, in each run (the hunt of `unix.gc-peek-no-seqcount`). A client closes its
 * pair's other ends only once the compositor has hung up (so a minimized find keeps few
 * preemptions: drawn close orders kept 8, of which the race table shows 4).
 *
 * `unix-gc-listen` is the listening-socket variant (bind(2), listen(2), connect(2), accept(2) of
 * @primetime/kernel, 6.18.35's unix_stream_connect()/unix_accept()): the compositor binds an
 * abstract name and listens, hands each client the listening fd over the per-process queue (as a
 * client forked after listen() inherits it; the client closes it), and each client connects and
 * sends its frame over the new connection, maybe before the compositor accepts it (the frame
 * then waits in the embryo's queue). The compositor accepts every connection and checks each
 * frame against the clients' patterns (accept order is not client order); then it restarts
 * badly: it connects to its own listener and sends the listening fd over that connection (a
 * hand-off to a successor that never accepts), and closes both. The listener's fd is then in
 * flight in its own embryo's queue: garbage the collector reaches only through u->listener
 * (unix_edge_successor()), and whose collection releases the embryo with the listener.
 *
 * Peeks of any shape and several clients' collections overlapping are clean only with the known
 * window `unix.gc-requeued-not-in-progress` closed (KNOWN-WINDOWS.md; v6.18.35 lets a collection
 * re-queued during another walk with gc_in_progress false, so a peek then skips unix_peek_fpl()'s
 * barrier): clean runs have its fix switch on, as every baseline (baselineFixes()), and
 * `run --open-windows` finds it here.
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import {
  EAGAIN,
  EPIPE,
  type Process,
  sockaddrUnAbstract,
  type UnixRecvResult,
} from "@primetime/kernel";
import { recvFd } from "@primetime/libdrm";
import { choose } from "@primetime/sim";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { importerView } from "./cross-share.js";
import {
  bootMachine,
  check,
  checksum,
  expectedChecksum,
  type Machine,
  openDevice,
  patternOf,
  shuffle,
  size,
} from "./machine.js";

const PAGE = 4096;

/** How a client passes its frame (see the file comment). */
const DIRECT = 0;
const SELF = 1;
const PAIR = 2;
const SHAPES = ["direct", "self", "pair"] as const;

/** When a client exits abruptly: never, before taking its connection, after handing its frame. */
const NO_CRASH = 0;
const CRASH_EARLY = 1;
const CRASH_LATE = 2;

/** What one client drew. */
interface ClientPlan {
  readonly shape: number;
  /** The compositor reads the handed socket with MSG_PEEK first. */
  readonly peek: boolean;
  /** An orphan cycle (a socket sent over itself with the dma-buf, then closed) is left. */
  readonly orphan: boolean;
  readonly crash: number;
  readonly pages: number;
  /**
   * `pair` only: the client closes its pair's other ends (A's and B's peers) only once the
   * compositor has hung up (end of file on A's peer), not in its seeded close order.
   */
  readonly hangup: boolean;
}

/** What a run drew and booted: the state its processes share. */
interface UnixGcRun {
  readonly m: Machine;
  readonly devA: DeviceUnderTest;
  readonly devB: DeviceUnderTest;
  readonly plans: readonly ClientPlan[];
  readonly base: number;
  readonly clients: Process[];
}

/** socketpair(2), which must succeed here. */
async function socketpair(p: Process, who: string): Promise<[number, number]> {
  const r = await p.socketpair();
  check(typeof r !== "number", `${who}: socketpair() = ${r}`);
  return r;
}

/** sendmsg(2) of `fds` on socket `fd` (SCM_RIGHTS), which must succeed here. */
async function sendmsgFds(p: Process, fd: number, fds: readonly number[], who: string) {
  const r = await p.sendmsgFds(fd, fds);
  check(r === 0, `${who}: sendmsg(${fd}, SCM_RIGHTS [${fds.join(", ")}]) = ${r}`);
}

/**
 * recvmsg(2) on socket `fd` of a message that must carry `n` fds (no MSG_CTRUNC): the fds. A
 * message the reader knows to be queued: nonblocking (-EAGAIN or end of file would mean it is
 * gone).
 */
async function recvFds(
  p: Process,
  fd: number,
  n: number,
  who: string,
  opts: { peek?: boolean; block?: boolean } = {},
): Promise<number[]> {
  const r: UnixRecvResult | number = await p.recvmsgFds(fd, {
    peek: opts.peek,
    nonblock: !opts.block,
    cloexec: true,
  });
  const what = `${who}: recvmsg(${fd}${opts.peek ? ", MSG_PEEK" : ""})`;
  check(typeof r !== "number", `${what} = ${r}${r === -EAGAIN ? ": the message is gone" : ""}`);
  check(
    r.fds.length === n && r.msgFlags === 0,
    `${what} gave ${r.fds.length} fds (flags ${r.msgFlags}), not ${n}${r.fds.length === 0 ? ": end of file, the message is gone" : ""}`,
  );
  return r.fds;
}

/** close(2) of an fd the process holds: 0. */
async function closeFd(p: Process, fd: number, who: string): Promise<void> {
  const r = await p.close(fd);
  check(r === 0, `${who}: close(${fd}) = ${r}`);
}

/** Imports client `i`'s frame `dmaBuf` on the compositor's device and checks its contents. */
async function checkFrame(
  p: Process,
  r: UnixGcRun,
  fd: Awaited<ReturnType<typeof openDevice>>,
  i: number,
  dmaBuf: number,
): Promise<void> {
  const len = r.plans[i]!.pages * PAGE;
  const handle = await fd.primeFdToHandle(dmaBuf);
  const view = await importerView(r.devB, fd, handle, dmaBuf, len);
  const sum = checksum(await view.read());
  check(
    sum === expectedChecksum(patternOf(r.base, i), len),
    `compositor: client${i}'s frame (${len} bytes) is not what the client drew`,
  );
  await view.unmap();
  await fd.gemClose(handle);
  await closeFd(p, dmaBuf, "compositor");
}

/**
 * The compositor: a connection per client (its end handed over the per-process queue), then each
 * client's message, read as the client's shape says. Module-level, with the run's state as an
 * argument (see Machine.process).
 */
async function unixGcCompositor(p: Process, r: UnixGcRun): Promise<void> {
  const { m, devB, plans } = r;
  const fd = await openDevice(m, p, devB);
  const conns: number[] = [];
  for (let i = 0; i < plans.length; i++) {
    const [cs, ss] = await socketpair(p, "compositor");
    const sent = await p.sendFd(r.clients[i]!, cs);
    // A client gone before it took its connection: its per-process queue is shut down.
    check(
      sent === 0 || (sent === -EPIPE && plans[i]!.crash === CRASH_EARLY),
      `compositor: sending client${i} its connection = ${sent}`,
    );
    await closeFd(p, cs, "compositor");
    conns.push(ss);
  }
  for (let i = 0; i < plans.length; i++) {
    const plan = plans[i]!;
    const who = `compositor (client${i}, ${SHAPES[plan.shape]}${plan.peek ? ", MSG_PEEK" : ""})`;
    const got = await p.recvmsgFds(conns[i]!, { cloexec: true });
    check(typeof got !== "number", `${who}: recvmsg(connection) = ${got}`);
    if (got.fds.length === 0) {
      // End of file: the client is gone and sent nothing.
      check(plan.crash === CRASH_EARLY, `${who}: end of file from a client that sent its frame`);
      await closeFd(p, conns[i]!, who);
      continue;
    }
    check(got.fds.length === 1 && got.msgFlags === 0, `${who}: ${got.fds.length} fds`);
    const [s] = got.fds as [number];
    if (plan.shape === DIRECT) {
      await checkFrame(p, r, fd, i, s);
    } else {
      // The handed socket's message: [the socket it carries (X itself, or A), the frame].
      const [t, frame] = (await recvFds(p, s, 2, who, { peek: plan.peek })) as [number, number];
      await closeFd(p, s, who);
      if (plan.peek || plan.shape === PAIR) {
        // The carried socket's own message, through the new fd: `self` after a peek, the skb
        // just peeked (X and the frame again); `pair`: A's, which carries B.
        const n = plan.shape === SELF ? 2 : 1;
        for (const x of await recvFds(p, t, n, `${who} reading the carried socket`))
          await closeFd(p, x, who);
      }
      await checkFrame(p, r, fd, i, frame);
      await closeFd(p, t, who);
    }
    await closeFd(p, conns[i]!, who);
  }
  await fd.close();
}

/** A client's close steps (shuffled from the seed). */
type Step = { readonly fd: number } | { readonly unmap: true } | { readonly gemClose: number };

/** Client `i`: draws its frame, builds its shape's cycle, hands it over, closes or dies. */
async function unixGcClient(
  p: Process,
  { r, i }: { readonly r: UnixGcRun; readonly i: number },
): Promise<void> {
  const { m, devA } = r;
  const plan = r.plans[i]!;
  const who = `client${i}`;
  const fd = await openDevice(m, p, devA);
  const len = plan.pages * PAGE;
  const handle = await devA.createBo(fd, len);
  const map = await devA.mapBo(fd, handle, len);
  await map.fill(patternOf(r.base, i));
  const dmaBuf = await fd.primeHandleToFd(handle);
  const steps: Step[] = [{ fd: dmaBuf }, { unmap: true }, { gemClose: handle }];
  let handed = dmaBuf;
  let peers: number[] = [];
  if (plan.shape === SELF) {
    const [x, y] = await socketpair(p, who);
    await sendmsgFds(p, y, [x, dmaBuf], who); // X in flight in its own queue, with the frame
    handed = x;
    steps.push({ fd: x }, { fd: y });
  } else if (plan.shape === PAIR) {
    const [a, a2] = await socketpair(p, who);
    const [b, b2] = await socketpair(p, who);
    await sendmsgFds(p, b2, [a, dmaBuf], who); // A in flight in B's queue, with the frame
    await sendmsgFds(p, a2, [b], who); // B in flight in A's queue
    handed = b;
    steps.push({ fd: a }, { fd: b });
    if (!plan.hangup) steps.push({ fd: a2 }, { fd: b2 });
    peers = [a2, b2];
  }
  if (plan.orphan) {
    const [g, h] = await socketpair(p, who);
    await sendmsgFds(p, h, [g, dmaBuf], who);
    steps.push({ fd: g }, { fd: h });
  }
  if (plan.crash === CRASH_EARLY) await p.exit(1);
  const conn = await recvFd(p, { cloexec: true });
  steps.push({ fd: conn });
  await sendmsgFds(p, conn, [handed], who);
  // Mid-frame: gone with everything still open.
  if (plan.crash === CRASH_LATE) await p.exit(1);
  for (const s of shuffle(steps, `${who} close order`)) {
    if ("fd" in s) await closeFd(p, s.fd, who);
    else if ("unmap" in s) await map.unmap();
    else await fd.gemClose(s.gemClose);
  }
  if (plan.hangup) {
    // Wait for the compositor to hang up: A's release shuts its peer down (end of file).
    const eof = await p.recvmsgFds(peers[0]!, {});
    check(
      typeof eof !== "number" && eof.fds.length === 0,
      `${who}: recvmsg(A's peer) = ${typeof eof === "number" ? eof : `${eof.fds.length} fds`}, not end of file`,
    );
    for (const x of peers) await closeFd(p, x, who);
  }
  await fd.close();
}

/**
 * The last unix socket release of the run: a process that closes a fresh socketpair once every
 * other process has exited, so unix_release_sock() runs unix_gc() if sockets are still in flight.
 */
async function unixGcTrigger(p: Process): Promise<void> {
  const [x, y] = await socketpair(p, "gc-trigger");
  await closeFd(p, x, "gc-trigger");
  await closeFd(p, y, "gc-trigger");
}

/** The scenario, or its focused variant (see the file comment). */
function unixGcScenario(focused: boolean): CampaignScenario {
  return {
    name: focused ? "unix-gc-peek" : "unix-gc",
    description: focused
      ? "unix-gc with 2-3 clients each passing two sockets sent over each other and the compositor peeking each: the MSG_PEEK-vs-collector shape in every run"
      : "clients pass dma-buf frames to a compositor over unix socket files, with sockets in flight over themselves and each other; MSG_PEEK, abrupt exits and the unix garbage collector",
    kernelRef:
      "net/unix/af_unix.c, net/unix/garbage.c (unix_gc, unix_peek_fpl, unix_scc_dead), net/core/scm.c, drivers/dma-buf/dma-buf.c, drivers/gpu/drm/drm_prime.c",
    expect: "clean",
    arity: 2,
    faultTolerant: false,
    // The harness's tasks: the body, the display servers (qxl) and the last socket release.
    harnessTasks: ["main", "drm-master0", "drm-master1", "gc-trigger"],
    build(drivers, opts) {
      return async (sim) => {
        const m = await bootMachine(sim, drivers, opts.faults);
        const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
        const n = size(2, 3, "clients");
        const plans: ClientPlan[] = [];
        for (let i = 0; i < n; i++) {
          if (focused) {
            const pages = size(1, 2, `pages[${i}]`);
            plans.push({
              shape: PAIR,
              peek: true,
              orphan: false,
              crash: NO_CRASH,
              pages,
              hangup: true,
            });
            continue;
          }
          const shape = choose(3, `shape[${i}]`);
          const peek = choose(2, `peek[${i}]`) === 1;
          const orphan = choose(2, `orphan[${i}]`) === 1;
          const crash = choose(3, `crash[${i}]`);
          const pages = size(1, 2, `pages[${i}]`);
          plans.push({ shape, peek, orphan, crash, pages, hangup: false });
        }
        const base = choose(256, "pattern");
        const r: UnixGcRun = { m, devA, devB, plans, base, clients: [] };
        const compositor = m.process("compositor", unixGcCompositor, r);
        for (let i = 0; i < n; i++) r.clients.push(m.process(`client${i}`, unixGcClient, { r, i }));
        const procs = [compositor, ...r.clients];
        for (const q of procs) await q.wait();
        const trigger = m.process("gc-trigger", unixGcTrigger);
        await m.finish([...procs, trigger]);
      };
    },
  };
}

/** The listening-socket variant's state (see the file comment). */
interface UnixGcListenRun {
  readonly m: Machine;
  readonly devA: DeviceUnderTest;
  readonly devB: DeviceUnderTest;
  readonly n: number;
  readonly base: number;
  readonly clients: Process[];
}

/** The compositor's abstract name. */
const LISTEN_NAME = "primetime-compositor";

/** A syscall that must give a new fd here: the fd. */
function fdOf(r: number, what: string): number {
  check(r >= 0, `${what} = ${r}`);
  return r;
}

/**
 * The listening compositor: bind, listen, the listening fd handed to every client, each
 * connection accepted and its frame checked, then the hand-off of the listening fd into its own
 * embryo (see the file comment).
 */
async function unixGcListenCompositor(p: Process, r: UnixGcListenRun): Promise<void> {
  const who = "compositor (listening)";
  const fd = await openDevice(r.m, p, r.devB);
  const { addr } = sockaddrUnAbstract(LISTEN_NAME);
  const l = fdOf(await p.openSocket(), `${who}: socket()`);
  check((await p.bind(l, addr)) === 0, `${who}: bind()`);
  check((await p.listen(l, r.n)) === 0, `${who}: listen()`);
  for (const c of r.clients) {
    const sent = await p.sendFd(c, l);
    check(sent === 0, `${who}: handing a client the listening fd = ${sent}`);
  }
  const unclaimed = new Set(Array.from({ length: r.n }, (_, i) => i));
  for (let k = 0; k < r.n; k++) {
    const s = fdOf(await p.accept(l, 0), `${who}: accept()`);
    const [frame] = (await recvFds(p, s, 1, who, { block: true })) as [number];
    const handle = await fd.primeFdToHandle(frame);
    const view = await importerView(r.devB, fd, handle, frame, PAGE);
    const sum = checksum(await view.read());
    const i = [...unclaimed].find((j) => expectedChecksum(patternOf(r.base, j), PAGE) === sum);
    check(i !== undefined, `${who}: an accepted connection's frame is no client's`);
    unclaimed.delete(i);
    await view.unmap();
    await fd.gemClose(handle);
    await closeFd(p, frame, who);
    await closeFd(p, s, who);
  }
  // The hand-off that never completes: the listening fd in flight in its own embryo's queue.
  const c = fdOf(await p.openSocket(), `${who}: socket()`);
  check((await p.connect(c, addr)) === 0, `${who}: connect() to itself`);
  await sendmsgFds(p, c, [l], who);
  await closeFd(p, l, who);
  await closeFd(p, c, who);
  await fd.close();
}

/** A client of the listening compositor: its frame over a connection it makes itself. */
async function unixGcListenClient(
  p: Process,
  { r, i }: { readonly r: UnixGcListenRun; readonly i: number },
): Promise<void> {
  const who = `client${i}`;
  const fd = await openDevice(r.m, p, r.devA);
  const handle = await r.devA.createBo(fd, PAGE);
  const map = await r.devA.mapBo(fd, handle, PAGE);
  await map.fill(patternOf(r.base, i));
  const dmaBuf = await fd.primeHandleToFd(handle);
  const inherited = await recvFd(p, { cloexec: true });
  const conn = fdOf(await p.openSocket(), `${who}: socket()`);
  const connected = await p.connect(conn, sockaddrUnAbstract(LISTEN_NAME).addr);
  check(connected === 0, `${who}: connect() = ${connected}`);
  await closeFd(p, inherited, who);
  await sendmsgFds(p, conn, [dmaBuf], who);
  const steps: Step[] = [{ fd: dmaBuf }, { unmap: true }, { gemClose: handle }, { fd: conn }];
  for (const s of shuffle(steps, `${who} close order`)) {
    if ("fd" in s) await closeFd(p, s.fd, who);
    else if ("unmap" in s) await map.unmap();
    else await fd.gemClose(s.gemClose);
  }
  await fd.close();
}

/** The listening-socket variant (see the file comment). */
function unixGcListenScenario(): CampaignScenario {
  return {
    name: "unix-gc-listen",
    description:
      "unix-gc over a listening socket: clients connect() to the compositor's abstract name and send their frames, maybe into the embryo before accept(); the compositor then hands its listening fd into its own embryo: a cycle only u->listener lets the collector see",
    kernelRef:
      "net/unix/af_unix.c (unix_bind, unix_listen, unix_stream_connect, unix_accept, unix_release_sock), net/unix/garbage.c (unix_edge_successor, unix_update_edges, unix_collect_skb), drivers/dma-buf/dma-buf.c",
    expect: "clean",
    arity: 2,
    faultTolerant: false,
    harnessTasks: ["main", "drm-master0", "drm-master1", "gc-trigger"],
    build(drivers, opts) {
      return async (sim) => {
        const m = await bootMachine(sim, drivers, opts.faults);
        const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
        const n = size(1, 3, "clients");
        const base = choose(256, "pattern");
        const r: UnixGcListenRun = { m, devA, devB, n, base, clients: [] };
        for (let i = 0; i < n; i++)
          r.clients.push(m.process(`client${i}`, unixGcListenClient, { r, i }));
        const compositor = m.process("compositor", unixGcListenCompositor, r);
        const procs = [compositor, ...r.clients];
        for (const q of procs) await q.wait();
        const trigger = m.process("gc-trigger", unixGcTrigger);
        await m.finish([...procs, trigger]);
      };
    },
  };
}

export const UNIX_GC: CampaignScenario = unixGcScenario(false);
export const UNIX_GC_LISTEN: CampaignScenario = unixGcListenScenario();
export const UNIX_GC_PEEK: CampaignScenario = unixGcScenario(true);
