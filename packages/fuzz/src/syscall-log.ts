/**
 * A syscall log of one fuzz run (a debugging aid, like strace -f): every syscall each process of
 * the workload makes, with its arguments and result, in the order the calls started, with the
 * simulation step at which each started and returned. With it a divergence or a splat can be
 * read back to the calls that led to it (`cli log <seed>`, `cli log --token <token>`).
 *
 * The log wraps each process the workload drives (`loggedProcess()`): the wrapper forwards every
 * call to the process unchanged and only reads the step counter and formats values, so a logged
 * run takes exactly the schedule of an unlogged one (same steps, same trace hash: tested).
 */

import {
  AF_UNIX,
  MSG_CTRUNC,
  MSG_OOB,
  type Process,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOCK_TYPE_MASK,
} from "@primetime/kernel";
import { currentSimulation, currentTask } from "@primetime/sim";
import * as uapi from "@primetime/uapi";

/** One syscall of the log. */
export interface SyscallLogEntry {
  /** Position in the log (the order the calls started). */
  readonly seq: number;
  /** The process (name[pid]) and the task that made the call. */
  readonly process: string;
  readonly task: string;
  /** The simulation step at which the call started. */
  readonly start: number;
  /** The syscall and its arguments, as text (`ioctl(3, DRM_IOCTL_GEM_CLOSE, {handle: 1})`). */
  readonly call: string;
  /** The step at which it returned (undefined: it never did: its thread died inside it). */
  ret?: number;
  /** The result, as text (for an ioctl, with the argument as the caller sees it after). */
  result?: string;
}

/** The syscall methods of a Process that the log records. */
const SYSCALLS = new Set([
  "open",
  "close",
  "dup",
  "dup2",
  "dup3",
  "closeRange",
  "ioctl",
  "mmap",
  "munmap",
  "lseek",
  "poll",
  "read",
  "fstat",
  "epollCreate1",
  "epollCtl",
  "epollWait",
  "sendFd",
  "recvFd",
  "socketpair",
  "sendmsgFds",
  "recvmsgFds",
  "openSocket",
  "bind",
  "listen",
  "connect",
  "accept",
  "setrlimit",
  "readMemory",
  "writeMemory",
  "exit",
]);

/**
 * ioctl request numbers by name (the uapi's DRM, dma-buf and sw_sync ioctls, and the drivers'
 * private ones). Driver ioctls share the range from DRM_COMMAND_BASE, so two drivers' requests
 * may have one number (vgem's FENCE_ATTACH is qxl's MAP): such a number is named by every request
 * it can be, joined with `|`.
 */
let ioctlNames: Map<number, string> | null = null;

/** The name of ioctl request `cmd`, or its number in hex. */
export function ioctlName(cmd: unknown): string {
  if (ioctlNames === null) {
    ioctlNames = new Map();
    for (const [k, v] of Object.entries(uapi)) {
      if (typeof v !== "number" || !/_IOC(TL)?_/.test(k)) continue;
      const had = ioctlNames.get(v);
      ioctlNames.set(v, had === undefined ? k : `${had}|${k}`);
    }
  }
  if (typeof cmd !== "number") return formatValue(cmd);
  return ioctlNames.get(cmd) ?? `0x${(cmd >>> 0).toString(16)}`;
}

/**
 * `v` as short text. Reads own data properties only: an accessor (a hostile argument's throwing
 * getter) is shown as `[getter]`, never called, so formatting cannot run userspace code.
 */
export function formatValue(v: unknown, depth = 0): string {
  switch (typeof v) {
    case "number":
      return Number.isInteger(v) && v > 0xffff ? `0x${v.toString(16)}` : String(v);
    case "bigint":
      return `${v}n`;
    case "string":
      return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
    case "undefined":
      return "undefined";
    case "boolean":
      return String(v);
    case "symbol":
      return "Symbol()";
    case "function":
      return "[function]";
  }
  if (v === null) return "null";
  if (ArrayBuffer.isView(v)) return `[${v.constructor.name} ${v.byteLength} bytes]`;
  if (depth > 2) return "{...}";
  if (Array.isArray(v)) {
    const items = v.slice(0, 8).map((x) => formatValue(x, depth + 1));
    return `[${items.join(", ")}${v.length > 8 ? `, ... ${v.length} items` : ""}]`;
  }
  const o = v as object;
  const proto = Object.getPrototypeOf(o);
  if (proto !== Object.prototype && proto !== null) {
    const name = (o as { name?: unknown; pid?: unknown }).name;
    const pid = (o as { pid?: unknown }).pid;
    if (typeof name === "string" && typeof pid === "number") return `${name}[${pid}]`;
    return `[${proto.constructor?.name ?? "object"}]`;
  }
  const parts: string[] = [];
  for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(o))) {
    parts.push(`${k}: ${"value" in d ? formatValue(d.value, depth + 1) : "[getter]"}`);
  }
  return `{${parts.join(", ")}}`;
}

/** socketpair(2)'s family and type as the C source writes them (`AF_UNIX`, `SOCK_STREAM|SOCK_CLOEXEC`). */
function socketArg(i: number, v: unknown): string {
  if (typeof v !== "number" || !Number.isInteger(v)) return formatValue(v);
  if (i === 0) return v === AF_UNIX ? "AF_UNIX" : String(v);
  if (i !== 1) return String(v);
  const t = v & SOCK_TYPE_MASK;
  const parts = [t === SOCK_STREAM ? "SOCK_STREAM" : String(t)];
  if (v & SOCK_CLOEXEC) parts.push("SOCK_CLOEXEC");
  if (v & SOCK_NONBLOCK) parts.push("SOCK_NONBLOCK");
  const rest = v & ~(SOCK_TYPE_MASK | SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (rest !== 0) parts.push(`0x${(rest >>> 0).toString(16)}`);
  return parts.join("|");
}

/** sendmsg()'s fd list: SCM_RIGHTS [a, b], or its length when long. */
function scmRights(v: unknown): string {
  if (!Array.isArray(v)) return formatValue(v);
  const same = v.length > 8 && v.every((x) => x === v[0]);
  return `SCM_RIGHTS ${same ? `[${formatValue(v[0])} x ${v.length}]` : formatValue(v)}`;
}

/** recvmsg()'s options as flags: MSG_PEEK|MSG_DONTWAIT|MSG_CMSG_CLOEXEC, room for fds. */
function recvFlags(v: unknown): string {
  if (v === null || typeof v !== "object" || Object.getPrototypeOf(v) !== Object.prototype)
    return formatValue(v);
  const d = Object.getOwnPropertyDescriptors(v);
  const val = (k: string) => ("value" in (d[k] ?? {}) ? d[k]!.value : undefined);
  if (Object.values(d).some((x) => !("value" in x))) return formatValue(v);
  const flags: string[] = [];
  if (val("oob")) flags.push("MSG_OOB");
  if (val("peek")) flags.push("MSG_PEEK");
  if (val("nonblock")) flags.push("MSG_DONTWAIT");
  if (val("cloexec")) flags.push("MSG_CMSG_CLOEXEC");
  const room = val("maxFds");
  const size = val("size");
  return `${flags.length > 0 ? flags.join("|") : "0"}${room === undefined ? "" : `, room ${formatValue(room)}`}${size === undefined ? "" : `, size ${formatValue(size)}`}`;
}

/**
 * A struct sockaddr_un as C would write it: `{AF_UNIX, "\0name"}` (an abstract name's leading
 * NUL as `\0`), or its bytes' count when it is not one.
 */
function sockaddrArg(a: unknown): string {
  if (!(a instanceof Uint8Array) || a.length < 2) return formatValue(a);
  const family = a[0]! | (a[1]! << 8);
  let path = "";
  for (const b of a.subarray(2, 2 + 40)) path += b === 0 ? "\\0" : String.fromCharCode(b);
  return `{${family === 1 ? "AF_UNIX" : family}, "${path}"}`;
}

function formatCall(name: string, args: unknown[]): string {
  const shown = args.map((a, i) =>
    name === "ioctl" && i === 1
      ? ioctlName(a)
      : name === "socketpair" || name === "openSocket"
        ? socketArg(i, a)
        : (name === "bind" || name === "connect") && i === 1
          ? sockaddrArg(a)
          : name === "sendmsgFds" && i === 1
            ? scmRights(a)
            : name === "recvmsgFds" && i === 1
              ? recvFlags(a)
              : formatValue(a),
  );
  return `${name}(${shown.join(", ")})`;
}

function formatResult(name: string, args: unknown[], ret: unknown): string {
  let r = formatValue(ret);
  // An ioctl writes its output into its argument (only on success, as the kernel copies out).
  if (name === "ioctl" && args[2] !== undefined && typeof args[2] === "object")
    r += ` ${formatValue(args[2])}`;
  if (name === "recvmsgFds" && ret !== null && typeof ret === "object") {
    const o = ret as { fds?: unknown; msgFlags?: unknown; data?: unknown };
    const flags =
      o.msgFlags === MSG_CTRUNC
        ? "MSG_CTRUNC"
        : o.msgFlags === MSG_OOB
          ? "MSG_OOB"
          : formatValue(o.msgFlags);
    // The bytes of a read with MSG_OOB or a byte count (the legacy read has none).
    const data = o.data instanceof Uint8Array ? `, data: [${Array.from(o.data).join(", ")}]` : "";
    return `{fds: ${formatValue(o.fds)}, msgFlags: ${flags}${data}}`;
  }
  if (name === "epollWait" || name === "poll")
    r += ` ${formatValue(args[name === "poll" ? 0 : 1])}`;
  return r;
}

/** The step counter of the running simulation (0 outside one). */
function stepNow(): number {
  return currentSimulation()?.steps ?? 0;
}

/**
 * `p` with its syscalls recorded into `log`. The wrapper is a Proxy: every property reads
 * through to the process, methods run on the process itself, and a syscall's promise is the
 * process's own (the entry is completed by a reaction on it, which schedules nothing).
 */
export function loggedProcess(p: Process, log: SyscallLogEntry[]): Process {
  return new Proxy(p, {
    get(target, key) {
      const v = Reflect.get(target, key, target) as unknown;
      if (typeof v !== "function") return v;
      if (typeof key !== "string" || !SYSCALLS.has(key))
        return (...args: unknown[]) => (v as (...a: unknown[]) => unknown).apply(target, args);
      return (...args: unknown[]) => {
        const t = currentTask();
        const entry: SyscallLogEntry = {
          seq: log.length,
          process: `${target.name}[${target.pid}]`,
          task: t ? `${t.name}[${t.id}]` : "<outside>",
          start: stepNow(),
          call: formatCall(key, args),
        };
        log.push(entry);
        const ret = (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        ret.then(
          (r) => {
            entry.ret = stepNow();
            entry.result = formatResult(key, args, r);
          },
          () => {
            // The thread died inside the call (exit, an oops, its process's group exit).
          },
        );
        return ret;
      };
    },
  });
}

/** The log as text, one call a line: `[start-ret] task: call = result`. */
export function formatSyscallLog(log: readonly SyscallLogEntry[]): string {
  const w = String(Math.max(0, ...log.map((e) => e.ret ?? e.start))).length;
  return log
    .map((e) => {
      const span = `[${String(e.start).padStart(w)}-${e.ret === undefined ? "?".padStart(w) : String(e.ret).padStart(w)}]`;
      const who = e.task.startsWith(e.process.split("[")[0]!) ? e.task : `${e.process} ${e.task}`;
      return `${span} ${who}: ${e.call} = ${e.result ?? "(never returned)"}`;
    })
    .join("\n");
}
