/**
 * DRM fds read, polled and fstat'ed in the fuzz workload (`FuzzOptions.drmRead`, `cli --drm-read
 * on`, token `fuzz +drmread`, after any other suffix): what libdrm's drmHandleEvent() and a
 * compositor do with a DRM fd, and what Mesa does to tell fds apart. Kernel counterparts:
 * drivers/gpu/drm/drm_file.c (drm_read(), drm_poll(), drm_events_release()), vmwgfx_fence.c
 * (vmw_fence_event_ioctl(), the event fence action) and fs/stat.c (vfs_fstat()), of **6.12.19**
 * and **6.18.35** (see @primetime/gem's and @primetime/kernel's READMEs for which each model
 * follows).
 *
 * What the operations do (the draw `fuzz drmread op`):
 * - **open**: a DRM node opened O_NONBLOCK (and O_CLOEXEC half the time), as compositors open
 *   theirs; it joins the thread's fds like any other open (the fd model records it);
 * - **read**: read(2) of one of the thread's own O_NONBLOCK DRM fds (mostly one an event is owed
 *   on), or, one time in 16, of any fd it knows (a dma-buf, a socket, an epoll fd has no ->read:
 *   -EINVAL), into a fresh page, of a drawn size (0, 1, 23: too small for an event; 24, 25, 48,
 *   72, 4096);
 * - **blocking read**: the same on a DRM file opened without O_NONBLOCK (mostly one an event is
 *   owed on), which sleeps in drm_read() until an event is sent. Every read runs with an alarm
 *   (a task the harness starts, as a test runner's alarm): it kills the thread's process if the
 *   read has not returned within ALARM_NS of virtual time; the sleep is interruptible, so the
 *   SIGKILL wakes it (-ERESTARTSYS, which the dying thread never sees) and the process exits as
 *   by a mid-run exit. No read sleeps for good, whatever file a racing close and reopen put at
 *   the fd;
 * - **poll**: poll(2) of a DRM fd for POLLIN with no timeout or 1 ms, then, on POLLIN, a read of
 *   an O_NONBLOCK one (an event loop);
 * - **FENCE_EVENT** (vmwgfx only): DRM_IOCTL_VMW_FENCE_EVENT on a new fence (handle 0, no
 *   fence_rep: no fence handle reaches userspace, so the private ioctls' handle bookkeeping is
 *   untouched), with a user_data unique in the run and REQ_TIME half the time; the event is sent
 *   to the file when the fence-only batch completes;
 * - **fstat**: fstat(2) of any fd the thread knows (its DRM and dma-buf fds, a sibling's, a
 *   number it closed, its epoll fd, its timeline, its sockets).
 *
 * What the reference model expects (checked through the fd model, fd-model.ts: a result must fit
 * some file the fd may have named during the call, whatever racing close(), dup2() or SCM_RIGHTS
 * receive changed the fd meanwhile; -EBADF always fits):
 * - read(2): from a DRM file, whole events only, each of type DRM_VMW_EVENT_FENCE_SIGNALED and
 *   length 24, whose user_data a FENCE_EVENT on *that* file asked for (one begun before the read
 *   returned), at most `count` bytes; 0 only for a count too small for the event at the head (so
 *   only from a file some FENCE_EVENT was issued on: drm_read() returns 0 when the first event does
 *   not fit, not -EINVAL); -EAGAIN only from an O_NONBLOCK file. From any other file: -EINVAL (no
 *   ->read). Immediately: no user_data is ever read twice (each event is freed once read), and
 *   none that no FENCE_EVENT of the run asked for.
 * - poll(2): a DRM file is readable (POLLIN) only if a FENCE_EVENT was issued on it, and never
 *   anything else (drm_poll() reports EPOLLIN | EPOLLRDNORM or nothing).
 * - fstat(2): a DRM file's node (S_IFCHR | 0600, the node's st_rdev and st_ino, devtmpfs'
 *   st_dev), a dma-buf (mode 0600 without a type, the dmabuf filesystem's st_dev, a non-zero
 *   size), a sync_file or epoll file (the shared anonymous inode), a socket (S_IFSOCK | 0777,
 *   sockfs), the sw_sync timeline (a character device): an fd whose stat names another kind of
 *   file, or another node, than any file it may have held is fd-table confusion.
 * - FENCE_EVENT: 0 on a file only the thread uses (-ENOMEM once the file's 4 KiB of event space
 *   may be full, or after an allocation failure).
 *
 * The events a file never delivered are dropped by drm_events_release() at its close (a pending
 * one is unlinked and freed when its fence signals): KASAN and kmemleak watch that path.
 */

import { SW_SYNC_PATH } from "@primetime/dma-buf";
import {
  anonInode,
  EAGAIN,
  EBADF,
  EINVAL,
  ENOMEM,
  Kernel,
  kernMountSb,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_CLOEXEC,
  O_NONBLOCK,
  type PollFd,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { choose, sleep, spawn } from "@primetime/sim";
import {
  DRM_IOCTL_VMW_FENCE_EVENT,
  DRM_VMW_EVENT_FENCE_SIGNALED,
  DRM_VMW_EVENT_FENCE_SIZE,
  DRM_VMW_FE_FLAG_REQ_TIME,
  type DrmVmwFenceEventArg,
  decodeDrmVmwEventFence,
  decodeStat,
  newEncodeDev,
  S_IFCHR,
  S_IFMT,
  S_IFSOCK,
  STAT_SIZE,
  type Stat,
} from "@primetime/uapi";
import type { FdObject } from "./fd-model.js";
import type { ModelFile } from "./model.js";

/** The read(2) sizes drawn from: too small for a 24-byte event, one or more events, a page. */
export const READ_SIZES = [0, 1, 23, 24, 25, 48, 72, 4096] as const;
/** How long the harness's alarm lets a blocking read sleep (virtual ns) before it kills. */
export const ALARM_NS = 20_000_000;
/** A vmwgfx fence event: struct drm_vmw_event_fence. */
const EVENT_SIZE = DRM_VMW_EVENT_FENCE_SIZE;
/** The first user_data of a run (53 bits: the model's drm_ioctl() copies u64s through numbers). */
const USER_DATA_BASE = 0x5e_0000_0000;
/** Outstanding requests past which FENCE_EVENT may meet a full event space (4096 / 24 = 170). */
const EVENT_SPACE_SLACK = 150;
const PAGE = 4096;
const POLLIN = 0x001;
const POLLNVAL = 0x020;

/** What the operations need of an fd entry of the fuzzer (fuzz.ts's FdEntry). */
export interface DrmReadFd {
  readonly fd: number;
  readonly file?: ModelFile;
  closed?: boolean;
}

/**
 * What stat(2) of the node at `path` reports (st_rdev, st_ino), as userspace would learn it before
 * the run; read from the running kernel's device nodes (-1 for a path that has none).
 */
function nodeStat(path: string): { readonly rdev: number; readonly ino: number } {
  const inode = Kernel.current()?.chrdevs.lookup(path) ?? null;
  return inode === null
    ? { rdev: -1, ino: -1 }
    : { rdev: newEncodeDev(inode.iRdev), ino: inode.iIno };
}

/** The st_dev values of the run's filesystems and the anonymous inode's number. */
function statTargets(): StatTargets {
  return {
    devtmpfs: newEncodeDev(kernMountSb("devtmpfs").sDev),
    anon: newEncodeDev(kernMountSb("anon_inodefs").sDev),
    dmabuf: newEncodeDev(kernMountSb("dmabuf").sDev),
    sockfs: newEncodeDev(kernMountSb("sockfs").sDev),
    anonIno: anonInode().iIno,
  };
}

/** What fstat(2) reports for the files of a run: the kernel's values, read once at the end. */
export interface StatTargets {
  /** The st_dev of devtmpfs, anon_inodefs, dmabuf and sockfs (encoded as userspace sees it). */
  readonly devtmpfs: number;
  readonly anon: number;
  readonly dmabuf: number;
  readonly sockfs: number;
  /** The anonymous inode's number (sync_file, epoll). */
  readonly anonIno: number;
}

/** What the operations need of the fuzz run (fuzz.ts). */
export interface DrmReadHooks<C, E extends DrmReadFd> {
  /** Each device's driver name. */
  readonly drivers: readonly string[];
  readonly tick: () => number;
  readonly diverge: (what: string) => void;
  readonly failMark: () => number;
  readonly allocFailed: (ret: number, mark: number) => boolean;
  /** A thread's process (as the workload calls it). */
  readonly proc: (ctx: C) => Process;
  /** A DRM fd of the thread (or a sibling's), as the other operations pick one. */
  readonly pickDrm: (ctx: C) => { e: E; own: boolean } | null;
  /** The thread's own DRM fds. */
  readonly ownDrm: (ctx: C) => readonly E[];
  /** Any fd number the thread knows (its own, a sibling's, one it closed, its epoll fd...). */
  readonly pickAnyFd: (ctx: C) => number | null;
  /** Opens a DRM node with `flags` besides O_RDWR, recorded as every open: the file, or null. */
  readonly open: (ctx: C, flags: number) => Promise<ModelFile | null>;
  /** Records a call on `fd` for the end-of-run fd checks (fuzz.ts's fdUse()). */
  readonly fdUse: (
    ctx: C,
    fd: number,
    start: number,
    ret: number,
    result: number,
    what: string,
    fits: (o: FdObject) => boolean,
  ) => void;
  /** A driver-private ioctl through `e`, recorded as the others (fuzz.ts's privIoctl()). */
  readonly ioctl: (ctx: C, e: E, cmd: number, arg: object, what: string) => Promise<number>;
  /** The path of device `dev`'s primary or render node. */
  readonly nodePath: (dev: number, primary: boolean) => string;
  /** The process of `ctx` is being killed by the alarm: the model treats it as a mid-run exit. */
  readonly killed: (ctx: C) => void;
}

/** What the model knows of the events of one DRM file. */
interface FileEvents {
  /** user_data of every FENCE_EVENT begun on the file, with when it began. */
  readonly asked: Map<number, number>;
  /** FENCE_EVENT calls that returned 0 on it. */
  sure: number;
  /** Events read from it (through an fd that surely named it). */
  read: number;
}

/** Counts of what the operations did, for tests and reports. */
export interface DrmReadStats {
  opens: number;
  reads: number;
  eventsRead: number;
  blockingReads: number;
  alarms: number;
  polls: number;
  fenceEvents: number;
  fstats: number;
}

/** The stats of the run that made the latest DrmReadFuzz (for tests and reports). */
let lastStats: DrmReadStats | null = null;

/** What the latest run's DRM read operations did (null before any run with `drmRead`). */
export function drmReadStats(): DrmReadStats | null {
  return lastStats;
}

/**
 * The DRM read part of one fuzz run: its operations (op()) and what it counted (stats).
 */
export class DrmReadFuzz<C, E extends DrmReadFd> {
  readonly stats: DrmReadStats = {
    opens: 0,
    reads: 0,
    eventsRead: 0,
    blockingReads: 0,
    alarms: 0,
    polls: 0,
    fenceEvents: 0,
    fstats: 0,
  };
  private readonly files = new Map<ModelFile, FileEvents>();
  /** user_data asked for by some FENCE_EVENT of the run, and those already read. */
  private readonly askedAll = new Set<number>();
  private readonly delivered = new Set<number>();
  private nextUserData = USER_DATA_BASE;
  private targets: StatTargets | null = null;

  constructor(private readonly h: DrmReadHooks<C, E>) {
    lastStats = this.stats;
  }

  private eventsOf(f: ModelFile): FileEvents {
    let s = this.files.get(f);
    if (s === undefined) {
      s = { asked: new Map(), sure: 0, read: 0 };
      this.files.set(f, s);
    }
    return s;
  }

  /** Some FENCE_EVENT on `f` began before `t`. */
  private askedBefore(f: ModelFile, t: number): boolean {
    const s = this.files.get(f);
    if (s === undefined) return false;
    for (const start of s.asked.values()) if (start <= t) return true;
    return false;
  }

  /** FENCE_EVENT returned 0 on `f` more often than events were read from it. */
  private owed(f: ModelFile): boolean {
    const s = this.files.get(f);
    return s !== undefined && s.sure > s.read;
  }

  /** Only the calling thread uses `f`, and every call on it is recorded. */
  private alone(f: ModelFile): boolean {
    return !f.shared && !f.stray && !f.chaos;
  }

  /** One operation of a thread. */
  async op(ctx: C): Promise<"ok"> {
    switch (choose(12, "fuzz drmread op")) {
      case 0:
      case 1:
        return this.open(ctx);
      case 2:
      case 3:
      case 4:
        return this.read(ctx, false);
      case 5:
        return this.read(ctx, true);
      case 6:
        return this.poll(ctx);
      case 7:
      case 8:
        return this.fenceEvent(ctx);
      default:
        return this.fstat(ctx);
    }
  }

  /** open(2) of a DRM node with O_NONBLOCK (and O_CLOEXEC half the time). */
  private async open(ctx: C): Promise<"ok"> {
    const cloexec = choose(2, "fuzz drmread cloexec") === 0 ? O_CLOEXEC : 0;
    const f = await this.h.open(ctx, O_NONBLOCK | cloexec);
    if (f !== null) this.stats.opens++;
    return "ok";
  }

  /** A private anonymous page of `p` for a user buffer, or a negative errno. */
  private page(p: Process): Promise<number> {
    return p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }

  /**
   * read(2) of a DRM fd of the thread (or, one time in 16, of any fd it knows). `blocking`: of
   * a DRM file opened without O_NONBLOCK; otherwise of an O_NONBLOCK one.
   */
  private async read(ctx: C, blocking: boolean): Promise<"ok"> {
    let fd: number;
    let file: ModelFile | null = null;
    if (!blocking && choose(16, "fuzz drmread any fd") === 0) {
      const n = this.h.pickAnyFd(ctx);
      if (n === null) return "ok";
      fd = n;
    } else {
      // One of the thread's own DRM fds of the kind asked for; a blocking read mostly of a file
      // with an event on its way (FENCE_EVENT returned 0 on it and not as many were read), so
      // that the event, not the alarm, usually ends the sleep.
      const own = this.h.ownDrm(ctx).filter((e) => e.file!.nonblock !== blocking);
      const waiting = own.filter((e) => this.owed(e.file!));
      // A blocking read of a file nothing is owed on sleeps until the alarm: one time in four.
      const list =
        waiting.length > 0 && choose(4, "fuzz drmread owed") !== 0
          ? waiting
          : !blocking || choose(4, "fuzz drmread unowed") === 0
            ? own
            : [];
      if (list.length === 0) return "ok";
      const e = list[choose(list.length, "fuzz drmread drm fd")]!;
      file = e.file!;
      fd = e.fd;
    }
    if (blocking) this.stats.blockingReads++;
    return this.readFd(ctx, fd, file);
  }

  /** read(2) of `fd` (which names `file`, if the model knows), with the alarm set. */
  private async readFd(ctx: C, fd: number, file: ModelFile | null): Promise<"ok"> {
    const p = this.h.proc(ctx);
    const count = READ_SIZES[choose(READ_SIZES.length, "fuzz drmread size")]!;
    const buf = await this.page(p);
    if (buf < 0) return "ok";
    const m = this.h.failMark();
    // A sibling may close the fd and another open reuse the number meanwhile, so even a read of
    // an O_NONBLOCK file's fd may reach a blocking file: every read runs with the alarm.
    const alarm = this.setAlarm(ctx, p);
    const t0 = this.h.tick();
    const ret = await p.read(fd, buf, count);
    const t1 = this.h.tick();
    alarm.done = true;
    this.stats.reads++;
    const bytes = ret > 0 ? await p.readMemory(buf, ret) : null;
    await p.munmap(buf, PAGE);
    const ud: number[] = [];
    if (bytes !== null && typeof bytes !== "number") {
      for (let off = 0; off + EVENT_SIZE <= bytes.length; off += EVENT_SIZE) {
        const ev = decodeDrmVmwEventFence(bytes, off);
        if (ev.type !== DRM_VMW_EVENT_FENCE_SIGNALED || ev.length !== EVENT_SIZE) {
          this.h.diverge(
            `read(${fd}) gave an event of type ${ev.type.toString(16)}, length ${ev.length}`,
          );
          return "ok";
        }
        const u = Number(ev.user_data);
        if (!this.askedAll.has(u))
          this.h.diverge(`read(${fd}) gave user_data ${u}: never asked for`);
        else if (this.delivered.has(u))
          this.h.diverge(`read(${fd}) gave user_data ${u} a second time`);
        this.delivered.add(u);
        ud.push(u);
      }
      this.stats.eventsRead += ud.length;
    }
    if (file !== null && ud.length > 0) this.eventsOf(file).read += ud.length;
    const excused = this.h.allocFailed(ret, m);
    this.h.fdUse(ctx, fd, t0, t1, ret, `read(${fd}, ${count}) = ${ret}`, (o) =>
      this.readFits(o, ret, count, ud, t1, excused),
    );
    return "ok";
  }

  /** Whether a read's result could come from `o`. */
  private readFits(
    o: FdObject,
    ret: number,
    count: number,
    ud: readonly number[],
    t1: number,
    excused: boolean,
  ): boolean {
    if (o.kind !== "drm") return ret === -EINVAL;
    if (excused) return true;
    const f = o.file;
    if (ret === -EAGAIN) return f.nonblock;
    if (ret === 0) return count < EVENT_SIZE && this.askedBefore(f, t1);
    if (ret < 0) return false;
    if (ret > count || ret % EVENT_SIZE !== 0) return false;
    const s = this.files.get(f);
    return s !== undefined && ud.every((u) => s.asked.has(u));
  }

  /**
   * The harness's alarm for a blocking read: a task that sleeps ALARM_NS of virtual time, then,
   * if the read has not returned, kills the process (its SIGKILL wakes the read's
   * interruptible sleep). Returns the flag the read sets when it returns.
   */
  private setAlarm(ctx: C, p: Process): { done: boolean } {
    const alarm = { done: false };
    spawn("drmread-alarm", async () => {
      await sleep(ALARM_NS, "drmread alarm");
      if (alarm.done || p.state !== "running") return;
      this.stats.alarms++;
      this.h.killed(ctx);
      p.kill();
    });
    return alarm;
  }

  /**
   * poll(2) of a DRM fd for POLLIN, as an event loop does: with no timeout or one of 1 ms (the
   * sleep in which the device completes a fence and its event is sent), then, if it said
   * POLLIN, a read of it (an O_NONBLOCK file's only: another reader may take the event first).
   */
  private async poll(ctx: C): Promise<"ok"> {
    const owed = this.h.ownDrm(ctx).filter((e) => this.owed(e.file!));
    const pk =
      owed.length > 0 && choose(2, "fuzz drmread poll owed") === 0
        ? { e: owed[choose(owed.length, "fuzz drmread poll fd")]!, own: true }
        : this.h.pickDrm(ctx);
    if (!pk) return "ok";
    const p = this.h.proc(ctx);
    const fd = pk.e.fd;
    const fds: PollFd[] = [{ fd, events: POLLIN }];
    const timeout = choose(2, "fuzz drmread poll timeout") === 0 ? 0 : 1_000_000;
    const t0 = this.h.tick();
    const ret = await p.poll(fds, timeout);
    const t1 = this.h.tick();
    this.stats.polls++;
    if (ret < 0) {
      this.h.diverge(`poll([${fd}], ${timeout}) = ${ret}`);
      return "ok";
    }
    const rev = fds[0]!.revents ?? 0;
    // An fd that names nothing is POLLNVAL: as -EBADF for the fd checks.
    const result = rev & POLLNVAL ? -EBADF : rev;
    // drm_poll(): EPOLLIN | EPOLLRDNORM while an event is queued, nothing else (no EPOLLOUT).
    this.h.fdUse(ctx, fd, t0, t1, result, `poll(${fd}) revents ${rev.toString(16)}`, (o) => {
      if (o.kind !== "drm") return true;
      if (rev === 0) return true;
      return rev === POLLIN && this.askedBefore(o.file, t1);
    });
    if (rev === POLLIN && pk.e.file!.nonblock) await this.readFd(ctx, fd, pk.e.file!);
    return "ok";
  }

  /** DRM_IOCTL_VMW_FENCE_EVENT on a new fence, on a vmwgfx DRM fd of the thread. */
  private async fenceEvent(ctx: C): Promise<"ok"> {
    // Half the time on one of the thread's own O_NONBLOCK vmwgfx files (the ones its reads
    // drain), else on any DRM fd as the other operations pick one.
    const mine = this.h
      .ownDrm(ctx)
      .filter((e) => e.file!.nonblock && this.h.drivers[e.file!.dev] === "vmwgfx");
    const pk =
      mine.length > 0 && choose(2, "fuzz drmread own event") === 0
        ? { e: mine[choose(mine.length, "fuzz drmread event fd")]!, own: true }
        : this.h.pickDrm(ctx);
    if (!pk) return "ok";
    const f = pk.e.file!;
    if (this.h.drivers[f.dev] !== "vmwgfx") return "ok";
    const u = this.nextUserData++;
    const reqTime = choose(2, "fuzz drmread req time") === 0;
    const arg: DrmVmwFenceEventArg = {
      fence_rep: 0,
      user_data: u,
      handle: 0,
      flags: reqTime ? DRM_VMW_FE_FLAG_REQ_TIME : 0,
    };
    const s = this.eventsOf(f);
    // Asked for from the start: a sibling's read may get the event before the call returns.
    s.asked.set(u, this.h.tick());
    this.askedAll.add(u);
    const m = this.h.failMark();
    const what = `VMW_FENCE_EVENT(user_data ${u}${reqTime ? ", REQ_TIME" : ""})`;
    const ret = await this.h.ioctl(ctx, pk.e, DRM_IOCTL_VMW_FENCE_EVENT, arg, what);
    this.stats.fenceEvents++;
    if (ret === 0) s.sure++;
    if (!pk.own || pk.e.closed || !this.alone(f)) return "ok";
    const full = s.asked.size - s.read >= EVENT_SPACE_SLACK;
    if (ret === 0 || this.h.allocFailed(ret, m) || (ret === -ENOMEM && full)) return "ok";
    this.h.diverge(`${what} = ${ret}, expected 0`);
    return "ok";
  }

  /** fstat(2) of any fd the thread knows. */
  private async fstat(ctx: C): Promise<"ok"> {
    const fd = this.h.pickAnyFd(ctx);
    if (fd === null) return "ok";
    const p = this.h.proc(ctx);
    const buf = await this.page(p);
    if (buf < 0) return "ok";
    const m = this.h.failMark();
    const t0 = this.h.tick();
    const ret = await p.fstat(fd, buf);
    const t1 = this.h.tick();
    this.stats.fstats++;
    let st: Stat | null = null;
    if (ret === 0) {
      const bytes = await p.readMemory(buf, STAT_SIZE);
      if (typeof bytes !== "number") st = decodeStat(bytes);
    }
    await p.munmap(buf, PAGE);
    if (ret !== 0 && ret !== -EBADF && !this.h.allocFailed(ret, m)) {
      this.h.diverge(`fstat(${fd}) = ${ret}`);
      return "ok";
    }
    if (st === null) return "ok";
    const stat = st;
    const what = `fstat(${fd}) = mode ${stat.st_mode.toString(8)}, rdev ${stat.st_rdev.toString(16)}, ino ${stat.st_ino}`;
    this.h.fdUse(ctx, fd, t0, t1, 0, what, (o) => this.statFits(o, stat));
    return "ok";
  }

  /** Whether fstat's `st` could describe `o`. */
  private statFits(o: FdObject, st: Stat): boolean {
    this.targets ??= statTargets();
    const t = this.targets;
    switch (o.kind) {
      case "drm": {
        const n = nodeStat(this.h.nodePath(o.file.dev, o.file.primary));
        return (
          st.st_mode === (S_IFCHR | 0o600) &&
          st.st_rdev === n.rdev &&
          st.st_ino === n.ino &&
          st.st_dev === t.devtmpfs
        );
      }
      case "dmabuf":
        return (
          st.st_mode === 0o600 &&
          (st.st_mode & S_IFMT) === 0 &&
          st.st_dev === t.dmabuf &&
          st.st_size > 0
        );
      case "sync-file":
      case "epoll":
        return st.st_mode === 0o600 && st.st_dev === t.anon && st.st_ino === t.anonIno;
      case "socket":
        return st.st_mode === (S_IFSOCK | 0o777) && st.st_dev === t.sockfs;
      case "timeline":
        return (st.st_mode & S_IFMT) === S_IFCHR && st.st_rdev === nodeStat(SW_SYNC_PATH).rdev;
    }
  }
}
