/**
 * Processes and their threads (kernel/fork.c, kernel/exit.c, kernel/signal.c): a pid, an fd
 * table, an address space and a unix socket receive queue, shared by the process's threads,
 * which are user tasks of the simulation.
 *
 * Userspace is the body of each thread: it calls the syscalls on its Process
 * (`await p.open("/dev/dri/card0", O_RDWR)`). A thread runs as a simulation task of kind
 * "user", with `current->files`, `current->mm` and task work set up, so kernel code called from
 * its syscalls sees a process context: the last fput() defers to its task work, and
 * getUnusedFdFlags()/fdInstall()/fget() use its table.
 *
 * Exit (do_exit()): a thread exits when its function returns (pthread_exit), when it calls
 * exit() (exit_group: the whole process goes), when the process is exiting and the thread
 * reaches a syscall boundary (the fatal signal is acted on there), or when it oopses in the
 * kernel (BUG(): only that thread dies, with code 139 if it is the last). A group exit queues
 * SIGKILL on the threads (signal.ts): one asleep in an interruptible or killable wait (poll,
 * epoll_wait, recvmsg, ...) wakes, its syscall unwinds with the wait's errno, and it dies on the
 * way back to userspace. Each exiting thread drops its use of the mm and the fd table (the last one
 * unmaps every vma and closes every fd), the last thread also drops undelivered SCM_RIGHTS
 * files, then the thread runs its task work one last time (the deferred fputs of all those
 * closes). Returning from the main thread's function is exit(0), as returning from main() is.
 * A JS exception escaping userspace code is a crash: the process exits (code 139, SIGSEGV) and
 * the exception is reported by the scheduler as a `bug` splat.
 */

import { currentTask, spawn, type Task, TaskLocal, WaitQueue } from "@primetime/sim";
import { type EpollEvent, sysEpollCreate1, sysEpollCtl, sysEpollWait } from "../fs/eventpoll.js";
import { exitFiles, FilesStruct, setTaskFiles } from "../fs/fdtable.js";
import { type PollFd, sysPoll } from "../fs/poll.js";
import type { Kernel } from "../init/kernel.js";
import { exitMm, MmStruct, setTaskMm } from "../mm/mm.js";
import {
  AF_UNIX,
  SOCK_STREAM,
  sysAccept4,
  sysBind,
  sysConnect,
  sysListen,
  sysRecvmsgFds,
  sysSendmsgFds,
  sysSocket,
  sysSocketpair,
  type UnixRecvOptions,
  type UnixRecvResult,
  type UnixSendMsg,
} from "../net/af-unix.js";
import { type ScmRecvResult, UnixSocket, unixReleaseQueue } from "../net/scm.js";
import { type Cred, UNPRIVILEGED_CRED } from "./cred.js";
import { sendSigkill } from "./signal.js";
import {
  type SyscallProcess,
  sysClose,
  sysCloseRange,
  sysDup,
  sysDup2,
  sysDup3,
  sysExit,
  sysFstat,
  sysIoctl,
  sysLseek,
  sysMmap,
  sysMunmap,
  sysOpen,
  sysRead,
  sysReadlink,
  sysReadMemory,
  sysRecvFd,
  sysRecvmsg,
  sysSendFd,
  sysSetrlimit,
  sysWriteMemory,
  ThreadExit,
} from "./syscalls.js";
import { exitTaskWork, initUserThread } from "./task-work.js";

/** The body of a thread: userspace code, given its process. */
export type ThreadFn = (p: Process) => Promise<void> | void;

/** A process's life: running, exiting (a group exit started), dead (every thread has exited). */
export type ProcessState = "running" | "exiting" | "dead";

/** The exit code of a process killed by SIGKILL (128 + 9), as a shell reports it. */
export const EXIT_KILLED = 137;
/** The exit code of a process that crashed (an exception escaped userspace): 128 + SIGSEGV. */
export const EXIT_CRASHED = 139;

const taskProcess = new TaskLocal<Process | null>(() => null);

/** The process the running task is a thread of, or null (kernel threads, bare tasks). */
export function currentProcess(): Process | null {
  const t = currentTask();
  return t ? taskProcess.get(t) : null;
}

/** The names a process gives its resources (Process's constructor). */
interface ProcessNames {
  /** `name[pid]` */
  readonly comm: string;
  readonly files: string;
  readonly mm: string;
  readonly wait: string;
}

/**
 * The names of process `pid` called `name`, the same strings for the same pair in every run:
 * they end up in the point labels of the process's fd table and mm (`atomic_dec_and_test(
 * fuzz0[3]->files.count)`), and a name built per process was a new string that opLabel() had to
 * hash and compare character by character (searches meet the same few pairs run after run).
 * Bounded like the label caches: past MAX_PROCESS_NAMES pairs it starts over.
 */
const MAX_PROCESS_NAMES = 1 << 14;
let processNameCache = new Map<string, ProcessNames[]>();
let processNameCount = 0;

function processNames(name: string, pid: number): ProcessNames {
  let byPid = processNameCache.get(name);
  let n = byPid?.[pid];
  if (n !== undefined) return n;
  if (processNameCount >= MAX_PROCESS_NAMES) {
    processNameCache = new Map();
    processNameCount = 0;
    byPid = undefined;
  }
  if (byPid === undefined) {
    byPid = [];
    processNameCache.set(name, byPid);
  }
  const comm = `${name}[${pid}]`;
  n = { comm, files: `${comm}->files`, mm: `${comm}->mm`, wait: `wait for ${comm}` };
  byPid[pid] = n;
  processNameCount++;
  return n;
}

/** `waitpid(pid)` labels by pid: one string per pid for every run (pids count from 1 in each). */
const waitpidLabels: string[] = [];

function waitpidLabel(pid: number): string {
  if (pid >= MAX_PROCESS_NAMES) return `waitpid(${pid})`;
  let s = waitpidLabels[pid];
  if (s === undefined) {
    s = `waitpid(${pid})`;
    waitpidLabels[pid] = s;
  }
  return s;
}

/** Thread task names by process name and thread name (see threadName()). */
let threadNameCache = new Map<string, Map<string, string>>();
let threadNameCount = 0;

/**
 * `proc:thread`, the task name of a thread spawnThread() starts, the same string for the same
 * pair in every run, as processNames() does for a process: the name goes into the labels of the
 * thread's points (`task_work_add(fuzz0:race, ____fput(filp#3))`), which the label caches find
 * by the strings' identity. Bounded like processNames().
 */
function threadName(proc: string, thread: string): string {
  let byThread = threadNameCache.get(proc);
  let s = byThread?.get(thread);
  if (s !== undefined) return s;
  if (threadNameCount >= MAX_PROCESS_NAMES) {
    threadNameCache = new Map();
    threadNameCount = 0;
    byThread = undefined;
  }
  if (byThread === undefined) {
    byThread = new Map();
    threadNameCache.set(proc, byThread);
  }
  s = `${proc}:${thread}`;
  byThread.set(thread, s);
  threadNameCount++;
  return s;
}

/**
 * Models a process (a thread group with its signal_struct, files_struct, mm_struct and a unix
 * socket). Create processes with `Kernel.spawnProcess()`.
 *
 * Locking: the resources carry their own locks (files->file_lock, mm->mmap_lock, the socket
 * queue's lock); the process's state changes only from its own threads, between scheduling
 * points.
 * References: the threads hold the fd table and the mm (one use each); the last thread's exit
 * drops every fd, vma and in-flight file.
 */
export class Process implements SyscallProcess {
  readonly files: FilesStruct;
  readonly mm: MmStruct;
  readonly socket: UnixSocket;
  /** Every thread ever spawned, main thread first. */
  readonly threads: Task[] = [];
  state: ProcessState = "running";
  /** The exit code (exit_group's, 137 when killed, 139 after a crash or an oops), once known. */
  exitCode: number | null = null;
  private live = 0;
  /** Threads that have not finished do_exit() yet (the process is reaped when none is left). */
  private unreaped = 0;
  private readonly exitWait: WaitQueue;

  /** @internal Use Kernel.spawnProcess(). */
  constructor(
    readonly kernel: Kernel,
    readonly pid: number,
    readonly name: string,
    /** Models current->cred: the process's capabilities (cred.ts); unprivileged by default. */
    readonly cred: Cred = UNPRIVILEGED_CRED,
  ) {
    const n = processNames(name, pid);
    this.files = new FilesStruct(n.files);
    this.mm = new MmStruct(n.mm);
    this.socket = new UnixSocket(n.comm);
    this.exitWait = new WaitQueue(n.wait);
  }

  /** True once a group exit started (exit(), kill(), the main thread returned, a crash). */
  get groupExiting(): boolean {
    return this.state !== "running";
  }

  /** Threads that have not exited yet. */
  get liveThreads(): number {
    return this.live;
  }

  /** True if `task` is a thread of this process that has not exited. */
  ownsTask(task: unknown): boolean {
    return (
      task !== null &&
      typeof task === "object" &&
      taskProcess.get(task as Task) === this &&
      !(task as Task).exited
    );
  }

  /**
   * Models the start of do_group_exit(code) by one of the process's threads (exit_group(), the
   * main thread returning, a crash): SIGNAL_GROUP_EXIT with `code`, then zap_other_threads():
   * SIGKILL on every other thread, in creation order, each woken from an interruptible or
   * killable sleep (signal.ts, sendSigkill()); every thread dies at its next return to
   * userspace. Called from a task that is not a thread of the process, no thread is skipped.
   * No effect on an exiting process.
   * Locking: none (siglock is not modeled); not a scheduling point.
   */
  startGroupExit(code: number): void {
    this.signalGroupExit(code, currentTask());
  }

  /**
   * Models kill(pid, SIGKILL) -> complete_signal()'s fatal branch: the process exits with
   * EXIT_KILLED, SIGKILL is queued on every thread (the caller's too, when it is one), in
   * creation order, each woken from an interruptible or killable sleep; they die at their next
   * return to userspace (a thread that never enters the kernel again never dies, as a thread
   * spinning in userspace would not). No effect on an exiting process.
   * Locking: none (siglock is not modeled); not a scheduling point.
   */
  kill(code: number = EXIT_KILLED): void {
    this.signalGroupExit(code, null);
  }

  /** SIGNAL_GROUP_EXIT, then SIGKILL to every thread but `skip` (zap_other_threads()'s `p`). */
  private signalGroupExit(code: number, skip: Task | null): void {
    if (this.state !== "running") return;
    this.state = "exiting";
    this.exitCode = code;
    for (const t of this.threads) if (t !== skip) sendSigkill(t);
  }

  /**
   * Models clone(CLONE_THREAD | CLONE_FILES | CLONE_VM): a new thread running `fn`, sharing the
   * process's fd table and mm. A thread created after the process started exiting exits at once
   * without running `fn`.
   * References: the thread takes a use of the fd table and the mm (files->count, mm_users),
   * dropped when it exits.
   */
  spawnThread(name: string, fn: ThreadFn): Task {
    return this.startThread(threadName(this.name, name), fn, false);
  }

  /** @internal Starts the main thread (Kernel.spawnProcess()). */
  startMain(fn: ThreadFn): Task {
    return this.startThread(this.name, fn, true);
  }

  private startThread(taskName: string, fn: ThreadFn, main: boolean): Task {
    const dead = this.state === "dead";
    if (!dead && this.threads.length > 0) {
      // copy_files()/copy_mm() with CLONE_FILES/CLONE_VM: one more user of each.
      this.files.count.data.inc();
      this.mm.mmUsers.data.inc();
    }
    const task: Task = spawn(
      taskName,
      async () => {
        if (dead) return;
        await this.runThread(task, fn, main);
      },
      { kind: "user" },
    );
    if (!dead) {
      this.live++;
      this.unreaped++;
      taskProcess.set(task, this);
      setTaskFiles(task, this.files);
      setTaskMm(task, this.mm);
      initUserThread(task);
    }
    this.threads.push(task);
    return task;
  }

  private async runThread(task: Task, fn: ThreadFn, main: boolean): Promise<void> {
    let rethrow: unknown;
    try {
      if (!this.groupExiting) {
        await fn(this);
        if (main) this.startGroupExit(0);
      }
    } catch (e) {
      if (e instanceof ThreadExit) {
        rethrow = e.oops;
        // An oops kills the thread with SIGSEGV; a later group exit sets its own code.
        if (e.oops && this.state === "running") this.exitCode = EXIT_CRASHED;
      } else {
        // A crash in userspace takes the whole process down.
        this.startGroupExit(EXIT_CRASHED);
        rethrow = e;
      }
    }
    await this.doExit(task);
    if (rethrow !== undefined) throw rethrow;
  }

  /**
   * Models do_exit() for one thread, then release_task() once every thread is through it.
   *
   * The last thread to start exiting is not necessarily the last to finish: another thread can
   * still be inside exit_mm()/exit_files() holding the last use of the mm or fd table. As Linux
   * reaps a thread group only when every thread is dead (delay_group_leader()), the process
   * becomes "dead" (and waitpid() returns) only when the last thread has finished do_exit(),
   * task work included.
   */
  private async doExit(task: Task): Promise<void> {
    const last = --this.live === 0;
    await exitMm(task);
    await exitFiles(task);
    if (last) await unixReleaseQueue(this.socket);
    await exitTaskWork();
    if (--this.unreaped === 0) {
      this.state = "dead";
      this.exitCode ??= 0;
      this.exitWait.wakeAll();
    }
  }

  /**
   * Models waitpid(): waits until every thread has exited and the process's resources are
   * released; returns the exit code. May be called from any task.
   * Locking: sleeps until then; call it without locks held.
   */
  async wait(): Promise<number> {
    while (this.state !== "dead") await this.exitWait.wait(waitpidLabel(this.pid));
    return this.exitCode ?? 0;
  }

  toString(): string {
    return `${this.name}[${this.pid}]`;
  }

  // ---- syscalls (see syscalls.ts) ----

  /** open(2): the new fd, or -ENOENT, -EMFILE, -ENOMEM, the driver's ->open error... */
  open(path: string, flags: number): Promise<number> {
    return sysOpen(this, path, flags);
  }

  /** close(2): 0 or -EBADF. */
  close(fd: number): Promise<number> {
    return sysClose(this, fd);
  }

  /** dup(2): the lowest free fd, for the same file; -EBADF, -EMFILE. */
  dup(fd: number): Promise<number> {
    return sysDup(this, fd);
  }

  /** dup2(2): newfd, now for oldfd's file (what newfd held is closed); -EBADF, -EBUSY, -ENOMEM. */
  dup2(oldfd: number, newfd: number): Promise<number> {
    return sysDup2(this, oldfd, newfd);
  }

  /** dup3(2): dup2() with O_CLOEXEC in `flags`; -EINVAL (bad flags, oldfd == newfd), -EBADF, -EBUSY, -ENOMEM. */
  dup3(oldfd: number, newfd: number, flags: number): Promise<number> {
    return sysDup3(this, oldfd, newfd, flags);
  }

  /**
   * close_range(2): closes (or, with CLOSE_RANGE_CLOEXEC, marks close-on-exec) the fds
   * [fd, maxFd]; CLOSE_RANGE_UNSHARE gives the calling thread its own copy of a shared table
   * first (`files` stays the table the process started with). 0, -EINVAL, -ENOMEM.
   */
  closeRange(fd: number, maxFd: number, flags = 0): Promise<number> {
    return sysCloseRange(this, fd, maxFd, flags);
  }

  /** ioctl(2): the driver's result; `arg` is updated with the driver's output on success. */
  ioctl(fd: number, cmd: number, arg?: unknown): Promise<number> {
    return sysIoctl(this, fd, cmd, arg);
  }

  /** mmap(2): the address, or a negative errno. */
  mmap(
    addr: number,
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number,
  ): Promise<number> {
    return sysMmap(this, addr, length, prot, flags, fd, offset);
  }

  /** munmap(2): 0 or -EINVAL. */
  munmap(addr: number, length: number): Promise<number> {
    return sysMunmap(this, addr, length);
  }

  /** lseek(2): the new offset, or -EBADF, -EINVAL, -ESPIPE. */
  lseek(fd: number, offset: number, whence: number): Promise<number> {
    return sysLseek(this, fd, offset, whence);
  }

  /**
   * read(2) of at most `count` bytes into the process's memory at `buf`: the bytes read, or
   * -EBADF, -EINVAL (the file cannot be read), -EFAULT, or the file's own errno (-EAGAIN...).
   */
  read(fd: number, buf: number, count: number): Promise<number> {
    return sysRead(this, fd, buf, count);
  }

  /**
   * fstat(2) of `fd` into the process's memory at `statbuf` (a struct stat, STAT_SIZE bytes; read
   * it with decodeStat()): 0, or -EBADF (not open; an O_PATH fd is allowed), -EFAULT.
   */
  fstat(fd: number, statbuf: number): Promise<number> {
    return sysFstat(this, fd, statbuf);
  }

  /**
   * readlink(2) of `path` into the process's memory at `buf`, at most `bufsiz` bytes: the bytes
   * copied (no NUL), or -EINVAL (`bufsiz` <= 0, not a symlink), -ENOENT, -EFAULT, -ENOMEM,
   * -ENAMETOOLONG. The model's symlinks are /proc/<pid>/fd/<n> and /proc/self/fd/<n>.
   */
  readlink(path: string, buf: number, bufsiz: number): Promise<number> {
    return sysReadlink(this, path, buf, bufsiz);
  }

  /**
   * poll(2): the number of fds with events (their `revents` set), 0 on timeout (`timeoutNs` in
   * virtual ns; 0: do not wait; negative: forever); -EINVAL for a timeout that is not an integer
   * (1.5, NaN, Infinity), -EFAULT for a pollfd array that cannot be read or written back.
   */
  poll(fds: PollFd[], timeoutNs: number): Promise<number> {
    return sysPoll(this, fds, timeoutNs);
  }

  /** epoll_create1(2): the new epoll fd; -EINVAL (flags other than EPOLL_CLOEXEC), -EMFILE, -ENOMEM. */
  epollCreate1(flags: number): Promise<number> {
    return sysEpollCreate1(this, flags);
  }

  /** epoll_ctl(2): 0; -EBADF, -EPERM, -EINVAL, -EEXIST, -ENOENT, -ENOMEM, -EFAULT. */
  epollCtl(epfd: number, op: number, fd: number, event?: EpollEvent | null): Promise<number> {
    return sysEpollCtl(this, epfd, op, fd, event);
  }

  /**
   * epoll_wait(2): the number of events stored in `events` (from index 0), 0 on timeout
   * (`timeoutNs` in virtual ns; 0: do not wait; negative: forever); -EBADF, -EINVAL, -EFAULT.
   */
  epollWait(
    epfd: number,
    events: EpollEvent[],
    maxevents: number,
    timeoutNs: number,
  ): Promise<number> {
    return sysEpollWait(this, epfd, events, maxevents, timeoutNs);
  }

  /** sendmsg(2) with SCM_RIGHTS to `to`: 0, -EBADF, -ENOMEM, -EPIPE. */
  sendFd(to: Process, fd: number): Promise<number> {
    return sysSendFd(this, to, fd);
  }

  /**
   * recvmsg(2) of an SCM_RIGHTS message with room for one fd: the new fd, or -EAGAIN
   * (nonblock); -EMFILE is the helper's report of a message truncated to no fd (MSG_CTRUNC).
   */
  recvFd(opts?: { nonblock?: boolean; cloexec?: boolean }): Promise<number> {
    return sysRecvFd(this, opts);
  }

  /**
   * recvmsg(2) of an SCM_RIGHTS message with room for `maxFds` fds (SCM_MAX_FD by default):
   * `{fds, msgFlags}`, MSG_CTRUNC set when files were dropped (no room, no free fd); -EAGAIN
   * (nonblock), -EFAULT, -EINVAL.
   */
  recvmsg(opts?: {
    nonblock?: boolean;
    cloexec?: boolean;
    maxFds?: number;
  }): Promise<ScmRecvResult | number> {
    return sysRecvmsg(this, opts);
  }

  /**
   * socketpair(2): two connected unix stream sockets, `[fd1, fd2]` (AF_UNIX, SOCK_STREAM by
   * default; SOCK_CLOEXEC/SOCK_NONBLOCK may be or-ed into `type`); -EINVAL, -EMFILE,
   * -EAFNOSUPPORT, -EPROTONOSUPPORT, -ESOCKTNOSUPPORT (SOCK_DGRAM and SOCK_SEQPACKET are not
   * modelled), -ENOMEM.
   */
  socketpair(
    family: number = AF_UNIX,
    type: number = SOCK_STREAM,
    protocol = 0,
  ): Promise<[number, number] | number> {
    return sysSocketpair(this, family, type, protocol);
  }

  /**
   * socket(2): a new unix stream socket's fd (AF_UNIX, SOCK_STREAM by default; SOCK_CLOEXEC and
   * SOCK_NONBLOCK may be or-ed into `type`); -EINVAL, -EMFILE, -EAFNOSUPPORT, -EPROTONOSUPPORT,
   * -ESOCKTNOSUPPORT, -ENOMEM. (Named so because `socket` is the process's own SCM_RIGHTS queue.)
   */
  openSocket(family: number = AF_UNIX, type: number = SOCK_STREAM, protocol = 0): Promise<number> {
    return sysSocket(this, family, type, protocol);
  }

  /**
   * bind(2) of unix socket `fd` to the struct sockaddr_un in `addr` (its first `addrlen` bytes;
   * see sockaddrUnAbstract()): 0; -EBADF, -ENOTSOCK, -EINVAL, -EFAULT, -EADDRINUSE, -ENOENT
   * (pathnames: no filesystem), -ENOSPC, -ENOMEM.
   */
  bind(fd: number, addr: Uint8Array, addrlen: number = addr.length): Promise<number> {
    return sysBind(this, fd, addr, addrlen);
  }

  /** listen(2) on bound unix socket `fd`: 0; -EBADF, -ENOTSOCK, -EINVAL. */
  listen(fd: number, backlog: number): Promise<number> {
    return sysListen(this, fd, backlog);
  }

  /**
   * connect(2) of unix stream socket `fd` to the listener bound at `addr`: 0; -EBADF, -EINVAL,
   * -EFAULT, -ENOTSOCK, -ECONNREFUSED, -ENOENT, -EAGAIN (O_NONBLOCK, backlog full), -EISCONN,
   * -ENOMEM. A blocking connect() waits while the backlog is full.
   */
  connect(fd: number, addr: Uint8Array, addrlen: number = addr.length): Promise<number> {
    return sysConnect(this, fd, addr, addrlen);
  }

  /**
   * accept4(2) on listening unix socket `fd` (SOCK_CLOEXEC/SOCK_NONBLOCK in `flags`): the new
   * connected socket's fd; -EBADF, -EINVAL, -EMFILE, -ENOTSOCK, -EAGAIN, -ENOMEM.
   */
  accept(fd: number, flags = 0): Promise<number> {
    return sysAccept4(this, fd, flags);
  }

  /**
   * sendmsg(2) on unix socket `fd` of one message carrying the files at `fds` (SCM_RIGHTS; an
   * empty list sends a message without files): 0; -EBADF, -ENOTSOCK, -EFAULT, -EINVAL,
   * -ENOTCONN, -EPIPE, -ETOOMANYREFS, -ENOMEM. With `msg`, its bytes (`data`) and MSG_OOB
   * (`oob`: the last byte is the OOB byte; -EOPNOTSUPP without bytes): the bytes sent.
   */
  sendmsgFds(fd: number, fds: readonly number[], msg?: UnixSendMsg): Promise<number> {
    return msg === undefined ? sysSendmsgFds(this, fd, fds) : sysSendmsgFds(this, fd, fds, msg);
  }

  /**
   * recvmsg(2) on unix socket `fd` of one message: `{fds, msgFlags}` (`peek`: MSG_PEEK, the
   * message stays queued and the fds are new ones for the same files); -EBADF, -ENOTSOCK,
   * -EAGAIN, -EFAULT, -EINVAL; -ECONNRESET once, before end of file, after the peer's release
   * with unread data (or an embryo's with its listener); `{fds: []}` at end of file. With `size`
   * (the buffer's bytes) or `oob` (MSG_OOB: the OOB byte, -EINVAL when none is pending), the
   * result also has the bytes read (`data`); see unixStreamRecvmsg().
   */
  recvmsgFds(fd: number, opts: UnixRecvOptions = {}): Promise<UnixRecvResult | number> {
    return sysRecvmsgFds(this, fd, opts);
  }

  /** setrlimit(RLIMIT_NOFILE, limit): 0, -EINVAL, -EPERM. */
  setrlimit(resource: number, limit: number): Promise<number> {
    return sysSetrlimit(this, resource, limit);
  }

  /** Loads `len` bytes at `addr` from mapped memory, or -EFAULT. */
  readMemory(addr: number, len: number): Promise<Uint8Array | number> {
    return sysReadMemory(this, addr, len);
  }

  /** Stores `bytes` at `addr` into mapped memory: the byte count, or -EFAULT. */
  writeMemory(addr: number, bytes: Uint8Array): Promise<number> {
    return sysWriteMemory(this, addr, bytes);
  }

  /** exit_group(code): never returns. */
  exit(code: number): Promise<never> {
    return sysExit(this, code);
  }
}
