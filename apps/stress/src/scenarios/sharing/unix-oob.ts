/**
 * unix-oob: client processes on the first driver hand frames (dma-buf fds) to a compositor
 * process on the second driver over unix stream sockets that also carry urgent bytes (MSG_OOB,
 * @primetime/kernel's net/af-unix.ts: 6.18.35's queue_oob(), unix_stream_recv_urg(),
 * manage_oob()).
 *
 * The compositor makes two connections per client, a stream and a doorbell (socketpairs whose
 * ends it hands the client over the per-process SCM_RIGHTS queue, as unix-gc does). A client
 * sends two urgent pings (one OOB byte each), ringing the doorbell (one byte on the doorbell
 * connection) after each and waiting for the compositor's ack on it; the compositor, woken by
 * the doorbell, takes each ping with recv(MSG_OOB) and acks. Then the client announces its frame with a third urgent byte, sends the frame
 * (a data byte carrying the dma-buf fd) and rings; the compositor reads one byte (which, as the
 * kernel defines MSG_OOB for a reader that reads past the mark, drops the pending urgent byte
 * unread), then asks for the urgent byte (-EINVAL: it was dropped), imports the frame and checks
 * its contents. Last, the client sends an urgent goodbye and rings; the compositor takes it with
 * recv(MSG_OOB) and closes its ends; the client reads end of file from the stream (the only skb
 * the compositor's stream end held was the consumed goodbye, no unread data: no ECONNRESET).
 *
 * What must hold: every syscall gives what the kernel gives for this program, the compositor
 * sees every frame as its client drew it, and once every process has exited, every socket,
 * dma-buf and GEM object is freed (kmemleak, the devices' GEM counters).
 *
 * It hunts `unix.oob-consecutive-consumed` (the two consumed pings left at the head before the
 * fix: the read steps over them onto the announcement, reads it inline and frees it, and the
 * recv(MSG_OOB) that follows reads the freed skb: KASAN) and `unix.oob-consumed-econnreset` (the
 * client's last read gives -ECONNRESET). Neither is a race: the program reaches both on every
 * schedule; the clients' interleaving is what the search varies.
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import { EINVAL, type Process, type UnixRecvResult } from "@primetime/kernel";
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
  size,
} from "./machine.js";

const PAGE = 4096;

/** What a run drew and booted: the state its processes share. */
interface UnixOobRun {
  readonly m: Machine;
  readonly devA: DeviceUnderTest;
  readonly devB: DeviceUnderTest;
  readonly n: number;
  readonly base: number;
  readonly clients: Process[];
}

/** The bytes of `s`. */
function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** What a recvmsg() gave, for messages. */
function shown(r: UnixRecvResult | number): string {
  if (typeof r === "number") return String(r);
  return `"${String.fromCharCode(...(r.data ?? []))}" with ${r.fds.length} fds`;
}

/** socketpair(2), which must succeed here. */
async function socketpair(p: Process, who: string): Promise<[number, number]> {
  const r = await p.socketpair();
  check(typeof r !== "number", `${who}: socketpair() = ${r}`);
  return r;
}

/** sendmsg(2) of `s` (MSG_OOB if `oob`) with `fds`, which must send every byte. */
async function send(
  p: Process,
  fd: number,
  s: string,
  oob: boolean,
  who: string,
  fds: number[] = [],
) {
  const r = await p.sendmsgFds(fd, fds, { data: bytes(s), oob });
  check(r === s.length, `${who}: send("${s}"${oob ? ", MSG_OOB" : ""}) = ${r}`);
}

/** close(2) of an fd the process holds: 0. */
async function closeFd(p: Process, fd: number, who: string): Promise<void> {
  const r = await p.close(fd);
  check(r === 0, `${who}: close(${fd}) = ${r}`);
}

/** A blocking read of the doorbell's one byte. */
async function doorbell(p: Process, fd: number, who: string): Promise<void> {
  const r = await p.recvmsgFds(fd, { size: 1 });
  check(typeof r !== "number" && r.data?.length === 1, `${who}: doorbell = ${shown(r)}`);
}

/** recv(MSG_OOB) of the pending urgent byte, which must be `c`. */
async function urgent(p: Process, fd: number, c: string, who: string): Promise<void> {
  const r = await p.recvmsgFds(fd, { oob: true });
  check(
    typeof r !== "number" && String.fromCharCode(...(r.data ?? [])) === c,
    `${who}: recv(MSG_OOB) = ${shown(r)}, not "${c}"`,
  );
}

/** The compositor: two connections per client, then each client's pings, frame and goodbye. */
async function unixOobCompositor(p: Process, r: UnixOobRun): Promise<void> {
  const fd = await openDevice(r.m, p, r.devB);
  const ends: [number, number][] = [];
  for (let i = 0; i < r.n; i++) {
    const who = `compositor (client${i})`;
    const [cs, ss] = await socketpair(p, who);
    const [cb, sb] = await socketpair(p, who);
    for (const x of [cs, cb]) {
      check((await p.sendFd(r.clients[i]!, x)) === 0, `${who}: handing a connection`);
      await closeFd(p, x, who);
    }
    ends.push([ss, sb]);
  }
  for (let i = 0; i < r.n; i++) {
    const who = `compositor (client${i})`;
    const [s, bell] = ends[i]!;
    for (const c of ["p", "q"]) {
      await doorbell(p, bell, who);
      await urgent(p, s, c, who);
      await send(p, bell, "k", false, who); // the ack
    }
    await doorbell(p, bell, who);
    // Reading past the announcement's mark drops it (manage_oob()); the frame is the data byte.
    const got = await p.recvmsgFds(s, { size: 1, cloexec: true });
    const late = await p.recvmsgFds(s, { oob: true });
    check(
      typeof got !== "number" &&
        String.fromCharCode(...(got.data ?? [])) === "D" &&
        got.fds.length === 1,
      `${who}: the frame's recvmsg() = ${shown(got)}, not "D" with 1 fd`,
    );
    check(late === -EINVAL, `${who}: recv(MSG_OOB) after reading past the mark = ${shown(late)}`);
    const frame = (got as UnixRecvResult).fds[0]!;
    const handle = await fd.primeFdToHandle(frame);
    const view = await importerView(r.devB, fd, handle, frame, PAGE);
    const sum = checksum(await view.read());
    check(
      sum === expectedChecksum(patternOf(r.base, i), PAGE),
      `${who}: the frame is not what the client drew`,
    );
    await view.unmap();
    await fd.gemClose(handle);
    await closeFd(p, frame, who);
    await send(p, bell, "k", false, who);
    await doorbell(p, bell, who);
    await urgent(p, s, "x", who);
    await closeFd(p, s, who);
    await closeFd(p, bell, who);
  }
  await fd.close();
}

/** Client `i`: its pings, its frame and its goodbye (see the file comment). */
async function unixOobClient(
  p: Process,
  { r, i }: { readonly r: UnixOobRun; readonly i: number },
): Promise<void> {
  const who = `client${i}`;
  const fd = await openDevice(r.m, p, r.devA);
  const handle = await r.devA.createBo(fd, PAGE);
  const map = await r.devA.mapBo(fd, handle, PAGE);
  await map.fill(patternOf(r.base, i));
  const dmaBuf = await fd.primeHandleToFd(handle);
  await map.unmap();
  await fd.gemClose(handle);
  const s = await recvFd(p, { cloexec: true });
  const bell = await recvFd(p, { cloexec: true });
  for (const c of ["p", "q"]) {
    await send(p, s, c, true, who);
    await send(p, bell, "!", false, who);
    await doorbell(p, bell, who); // the compositor took it
  }
  await send(p, s, "f", true, who); // the announcement
  await send(p, s, "D", false, who, [dmaBuf]);
  await closeFd(p, dmaBuf, who);
  await send(p, bell, "!", false, who);
  await doorbell(p, bell, who);
  await send(p, s, "x", true, who); // goodbye
  await send(p, bell, "!", false, who);
  // The compositor closes its ends once it has the goodbye: end of file, not a reset.
  const eof = await p.recvmsgFds(s, { size: 1 });
  check(
    typeof eof !== "number" && eof.data?.length === 0 && eof.fds.length === 0,
    `${who}: recvmsg() after the compositor closed = ${shown(eof)}, not end of file`,
  );
  await closeFd(p, s, who);
  await closeFd(p, bell, who);
  await fd.close();
}

/** The scenario (see the file comment). */
function unixOobScenario(): CampaignScenario {
  return {
    name: "unix-oob",
    description:
      "clients send urgent bytes (MSG_OOB) and dma-buf frames over unix stream sockets to a compositor, which takes the pings with recv(MSG_OOB) and reads past the frame's announcement",
    kernelRef:
      "net/unix/af_unix.c (queue_oob, unix_stream_recv_urg, manage_oob, unix_stream_read_generic, unix_release_sock), drivers/dma-buf/dma-buf.c",
    expect: "clean",
    arity: 2,
    faultTolerant: false,
    harnessTasks: ["main", "drm-master0", "drm-master1"],
    build(drivers, opts) {
      return async (sim) => {
        const m = await bootMachine(sim, drivers, opts.faults);
        const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
        const n = size(1, 2, "clients");
        const base = choose(256, "pattern");
        const r: UnixOobRun = { m, devA, devB, n, base, clients: [] };
        for (let i = 0; i < n; i++)
          r.clients.push(m.process(`client${i}`, unixOobClient, { r, i }));
        const compositor = m.process("compositor", unixOobCompositor, r);
        const procs = [compositor, ...r.clients];
        for (const q of procs) await q.wait();
        await m.finish(procs);
      };
    },
  };
}

export const UNIX_OOB: CampaignScenario = unixOobScenario();
