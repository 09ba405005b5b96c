/**
 * The system call layer (fs/open.c, fs/file.c, fs/ioctl.c, fs/read_write.c, mm/mmap.c,
 * kernel/entry/common.c, kernel/exit.c): what a process thread enters the kernel through.
 *
 * Every syscall here:
 * - runs in a thread of the process it is called on (a call from any other task is a `warn`
 *   splat and returns -ESRCH: it is a bug in the scenario, not bad input);
 * - validates its arguments as the kernel does (a JS value the C ABI could not carry, such as a
 *   fractional fd, is the errno the kernel gives the nearest bad C value: -EBADF for fds,
 *   -EINVAL for numbers, -EFAULT for pointers);
 * - never throws for bad input or a failing driver: an unexpected JS exception inside the kernel
 *   is reported as a `bug` splat and the syscall returns -EFAULT. A BUG() (KernelBug) oopses the
 *   thread instead: it dies as in the kernel, and the process's other threads go on. Either way
 *   the syscall layer still drops the file reference it took for the call (fdput() of a
 *   CLONED_FD: a BORROWED_FD holds none), so that one bug is not followed by a cascade of leak
 *   reports (the kernel would leak it after an oops);
 * - returns to userspace through `exitToUserMode()`: the thread's task work runs (deferred
 *   fputs), a lock still held is a lockdep splat, and a thread whose process is exiting dies
 *   there (the syscall never returns: the thread unwinds with `ThreadExit`, which the process
 *   layer catches).
 *
 * ioctl arguments are copied: the driver gets a deep copy of the user object and the copy is
 * written back to the user's object only when the ioctl returns >= 0 (see ioctl.ts).
 */

import { pointNow, RESOLVED } from "@primetime/atomics";
import { currentTask, KernelBug, point, report, warnOn } from "@primetime/sim";
import {
  closeFd,
  currentFiles,
  doSysCloseRange,
  doSysDup2,
  type FilesStruct,
  fdget,
  fdgetPos,
  fdInstall,
  fdput,
  fdputPos,
  fget,
  fgetRaw,
  getUnusedFdFlags,
  ksysDup3,
  NR_OPEN,
  putUnusedFd,
  taskFilesOf,
} from "../fs/fdtable.js";
import {
  allocEmptyFile,
  type File,
  FMODE_LSEEK,
  FMODE_READ,
  fput,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_PATH,
  SEEK_MAX,
} from "../fs/file.js";
import {
  copyFromUser,
  copyToUser,
  ENOIOCTLCMD,
  FIOCLEX,
  FIONCLEX,
  type IoctlArg,
  ioctlBindUserArg,
  ioctlUnbindUserArg,
} from "../fs/ioctl.js";
import { type PathTarget, pathOpenatOPath, pathOpenatProcLink } from "../fs/namei.js";
import { doDentryOpen } from "../fs/open.js";
import { procPidReadlink } from "../fs/proc/fd.js";
import { cpNewStat, emptyKstat, vfsFstat } from "../fs/stat.js";
import {
  EBADF,
  EEXIST,
  EFAULT,
  EINVAL,
  EMFILE,
  ENOENT,
  ENOMEM,
  ENOTTY,
  EPERM,
  ESPIPE,
  ESRCH,
  isErr,
} from "../include/errno.js";
import type { Kernel } from "../init/kernel.js";
import { lockdepCheckReturnToUser } from "../locking/lockdep.js";
import { accessVm, type MmStruct, vmMmapPgoff, vmMunmap } from "../mm/mm.js";
import { MAP_ANONYMOUS, offsetInPage, PAGE_SIZE } from "../mm/vma.js";
import { SCM_MAX_FD, type ScmRecvResult, scmRecvFds, scmSendFds, UnixSocket } from "../net/scm.js";
import { dequeueSigkill } from "./signal.js";
import { taskWorkRun } from "./task-work.js";

/** Models RLIMIT_NOFILE. */
export const RLIMIT_NOFILE = 7;

/**
 * Thrown through userspace code when its thread dies inside a syscall (exit(), a fatal signal
 * from a group exit, an oops): the syscall never returns. The process layer catches it; code
 * that catches everything must rethrow it.
 */
export class ThreadExit extends Error {
  /** The KernelBug of an oops, rethrown once the thread has exited. */
  readonly oops: KernelBug | undefined;

  constructor(reason: string, oops?: KernelBug) {
    super(reason);
    this.name = "ThreadExit";
    this.oops = oops;
  }
}

/** What the syscall layer needs of a process (implemented by Process). */
export interface SyscallProcess {
  readonly name: string;
  readonly pid: number;
  readonly kernel: Kernel;
  readonly files: FilesStruct;
  readonly mm: MmStruct;
  readonly socket: UnixSocket;
  /** SIGNAL_GROUP_EXIT: every thread dies at its next return to userspace. */
  readonly groupExiting: boolean;
  /** True if `task` is a live thread of this process. */
  ownsTask(task: unknown): boolean;
  /** Models do_group_exit(code)'s first half: the group exit starts with this code. */
  startGroupExit(code: number): void;
}

/** Settled errno results of syscall bodies that fail their argument checks. */
const RESOLVED_EINVAL: Promise<number> = Promise.resolve(-EINVAL);
const RESOLVED_EFAULT: Promise<number> = Promise.resolve(-EFAULT);

/**
 * Models exit_to_user_mode_prepare(): task work (TIF_NOTIFY_RESUME), a pending group exit
 * (the thread dies: ThreadExit), then lockdep_sys_exit().
 * Locking: the thread must hold no locks; a held lock is a lockdep splat.
 */
export function exitToUserMode(p: SyscallProcess): Promise<void> {
  const work = taskWorkRun();
  // taskWorkRun() gives RESOLVED itself when it had nothing to run and no other task ran.
  if (work !== RESOLVED) return work.then(() => exitToUserModeChecks(p));
  try {
    exitToUserModeChecks(p);
    return RESOLVED;
  } catch (e) {
    return Promise.reject(e);
  }
}

/** exitToUserMode() after the task work: a pending group exit, then lockdep_sys_exit(). */
function exitToUserModeChecks(p: SyscallProcess): void {
  if (p.groupExiting) groupExitSignal(p);
  lockdepCheckReturnToUser();
}

/**
 * Models get_signal() on a thread of a group-exiting process: SIGKILL is dequeued ("Has this
 * task already been marked for death?": sigdelset(&current->pending.signal, SIGKILL)) and the
 * thread goes to do_group_exit() (ThreadExit; do_exit() runs with no signal pending).
 */
function groupExitSignal(p: SyscallProcess): never {
  dequeueSigkill();
  throw new ThreadExit(`${p.name}[${p.pid}] is exiting`);
}

/** Entry point labels by syscall name ("sys_ioctl"): one lookup, built once for the process. */
const sysLabels = new Map<string, string>();

function sysLabel(name: string): string {
  let s = sysLabels.get(name);
  if (s === undefined) {
    s = `sys_${name}`;
    sysLabels.set(name, s);
  }
  return s;
}

/**
 * A syscall's body: called with the process and the syscall's arguments (up to three, passed
 * through syscall()), so it can be a module-level function rather than a closure made per call
 * (V8 keeps a closure's optimized code only while one of its closures lives).
 */
export type SyscallBody<T, A = undefined, B = undefined, C = undefined> = (
  p: SyscallProcess,
  a: A,
  b: B,
  c: C,
) => Promise<T | number> | T | number;

/**
 * Runs a syscall body on behalf of process `p`: checks the caller, enters with a scheduling
 * point, turns unexpected exceptions into a `bug` splat and -EFAULT, and returns through
 * exitToUserMode(). Without an async frame of its own up to the body when the entry point keeps
 * the running task (pointNow()); a bad caller or an exiting process still gives a rejected or
 * settled promise, never a synchronous throw. `body` gets `p` and the arguments `a`, `b`, `c`.
 */
export function syscall<T, A = undefined, B = undefined, C = undefined>(
  p: SyscallProcess,
  name: string,
  body: SyscallBody<T, A, B, C>,
  a?: A,
  b?: B,
  c?: C,
): Promise<T | number> {
  let entered: Promise<void> | null;
  try {
    const task = currentTask();
    if (!p.ownsTask(task)) {
      warnOn(
        true,
        `syscall ${name}() on ${p.name}[${p.pid}] from ${task ? `${task.name}[${task.id}]` : "outside a simulation"}, which is not one of its threads`,
      );
      return Promise.resolve(-ESRCH);
    }
    if (p.groupExiting) groupExitSignal(p);
    entered = pointNow(sysLabel(name));
  } catch (e) {
    return Promise.reject(e);
  }
  if (entered !== null) return entered.then(() => syscallBody(p, name, body, a, b, c));
  return syscallBody(p, name, body, a, b, c);
}

/**
 * syscall() after its entry point: the body, then exitToUserMode(). Promise reactions rather
 * than an async frame that awaits the body (the cheaper of the two, in allocations).
 */
function syscallBody<T, A, B, C>(
  p: SyscallProcess,
  name: string,
  body: SyscallBody<T, A, B, C>,
  a: A | undefined,
  b: B | undefined,
  c: C | undefined,
): Promise<T | number> {
  let ran: Promise<T | number>;
  try {
    // Promise.resolve(): a body written as a plain function may return its value.
    ran = Promise.resolve(body(p, a as A, b as B, c as C));
  } catch (e) {
    ran = Promise.reject(e);
  }
  return ran.then(
    (ret) => syscallExit(p, ret),
    (e: unknown) => syscallExit(p, syscallFault(name, e)),
  );
}

/**
 * A syscall body's exception: a ThreadExit goes on unwinding, an oops (KernelBug) kills the
 * thread (ThreadExit), anything else is a `bug` splat and the syscall returns -EFAULT.
 */
function syscallFault(name: string, e: unknown): number {
  if (e instanceof ThreadExit) throw e;
  if (e instanceof KernelBug) throw new ThreadExit(`oops in ${name}()`, e);
  const err = e instanceof Error ? e : new Error(String(e));
  report("bug", `unexpected exception in syscall ${name}(): ${err.message}`, {
    sites: [{ role: "thrown", ...hereSite(err) }],
  });
  return -EFAULT;
}

/** The return to userspace (exitToUserMode()) with the syscall's result `ret`. */
function syscallExit<T>(p: SyscallProcess, ret: T): T | Promise<T> {
  const exit = exitToUserMode(p);
  // exitToUserMode() gives RESOLVED itself when nothing ran and no other task ran.
  return exit === RESOLVED ? ret : exit.then(() => ret);
}

function hereSite(err: Error): { task: string; taskId: number; step: number; label: string } {
  const t = currentTask();
  return {
    task: t?.name ?? "<outside>",
    taskId: t?.id ?? 0,
    step: t?.sim.steps ?? 0,
    label: err.stack?.split("\n")[1]?.trim() ?? "",
  };
}

function isFdArg(fd: unknown): fd is number {
  return typeof fd === "number" && Number.isInteger(fd) && fd >= 0;
}

function isIntArg(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

/**
 * Models do_filp_open() of a character device node followed by do_dentry_open(): looks the
 * path up (-ENOENT; O_CREAT|O_EXCL on an existing node is -EEXIST), allocates the file, and
 * calls the driver's ->open; if that fails the file, never opened, is freed without ->release.
 * Returns the file with one reference.
 *
 * Locking: none held; ->open may sleep.
 * References: the caller owns the returned file's reference.
 */
export async function doFilpOpen(
  kernel: Kernel,
  path: string,
  flags: number,
): Promise<File | number> {
  const inode = kernel.chrdevs.lookup(path);
  if (inode === null) return -ENOENT;
  if ((flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) return -EEXIST;
  const f = await allocEmptyFile(flags);
  if (isErr(f)) return f;
  const err = await doDentryOpen(f, path, inode);
  if (err < 0) {
    const fputDone = fput(f);
    if (fputDone !== RESOLVED) await fputDone;
    return err;
  }
  return f;
}

/**
 * The model's name for `path` (fs/namei.ts's PathTarget): a character device node, an fd entry
 * of procfs (/proc/<pid>/fd/<n> or /proc/self/fd/<n>: the table of the named process's main
 * thread, null when it has none any more), or null (no such name, a dead or reaped process, an fd
 * number past any table).
 */
function pathTargetOf(p: SyscallProcess, path: string): PathTarget {
  const inode = p.kernel.chrdevs.lookup(path);
  if (inode !== null) return { kind: "chrdev", name: path, inode };
  const m = PROC_FD_PATH.exec(path);
  if (m === null) return null;
  const target = p.kernel.processes.get(m[1] === "self" ? p.pid : Number(m[1]));
  if (target === undefined || target.state === "dead") return null;
  const fd = Number(m[2]);
  if (!Number.isSafeInteger(fd)) return null;
  const leader = target.threads[0];
  const files = leader === undefined ? null : taskFilesOf(leader);
  return { kind: "proc-fd", name: path, files, fd };
}

/**
 * Models do_sys_open(): reserves an fd first (-EMFILE wins over -ENOENT, as in the kernel),
 * opens the file, installs it. The new fd or a negative errno. Open flags other than the
 * access mode, O_CREAT|O_EXCL, O_CLOEXEC and O_PATH are accepted and ignored. With O_PATH
 * (build_open_how(): every flag but O_PATH_FLAGS dropped) the open is path_openat()'s O_PATH
 * branch (fs/namei.ts): a device node or /proc/<pid>/fd/<n>, whose magic link it follows unless
 * O_NOFOLLOW, gives an FMODE_PATH file holding the path it reached (-ENOENT for an fd that is not
 * open or a process that is gone, -ENOTDIR for O_DIRECTORY). Without O_PATH, /proc/<pid>/fd/<n>
 * is followed and what it names opened anew (pathOpenatProcLink(): a device node's ->open again,
 * -ENXIO for any other file; -EEXIST, -ELOOP, -ENOTDIR, -ENOENT).
 * Locking: none held on entry; takes file_lock (fd reservation, install); ->open may sleep.
 * References: the new fd owns the file's first reference; a failed open gives the fd back.
 */
export function sysOpen(p: SyscallProcess, path: unknown, flags: unknown): Promise<number> {
  return syscall(p, "open", sysOpenBody, path, flags) as Promise<number>;
}

/** sysOpen()'s body (module-level: see SyscallBody). */
async function sysOpenBody(p: SyscallProcess, path: unknown, flags: unknown): Promise<number> {
  if (typeof path !== "string") return -EFAULT;
  if (!isIntArg(flags)) return -EINVAL;
  if (path.length === 0) return -ENOENT;
  const fd = await getUnusedFdFlags(flags);
  if (fd < 0) return fd;
  const f =
    flags & O_PATH
      ? await pathOpenatOPath(pathTargetOf(p, path), flags)
      : PROC_FD_PATH.test(path)
        ? await pathOpenatProcLink(pathTargetOf(p, path), flags)
        : await doFilpOpen(p.kernel, path, flags);
  if (typeof f === "number") {
    await putUnusedFd(fd);
    return f;
  }
  const fdInstallDone = fdInstall(fd, f);
  if (fdInstallDone !== RESOLVED) await fdInstallDone;
  return fd;
}

/**
 * Models close(2): close_fd(). 0, -EBADF, or ->flush's error. The final __fput() runs before
 * close() returns to userspace, from task work at exitToUserMode() (the kernel calls
 * __fput_sync() there since 6.6: the same point as far as userspace can tell).
 * Locking: none held on entry; takes file_lock for the removal.
 * References: drops the fd's.
 */
export function sysClose(p: SyscallProcess, fd: unknown): Promise<number> {
  return syscall(p, "close", sysCloseBody, fd) as Promise<number>;
}

/** sysClose()'s body: no await of its own, so no async frame (syscall() catches a throw). */
function sysCloseBody(_p: SyscallProcess, fd: unknown): Promise<number> {
  return isFdArg(fd) ? closeFd(fd) : Promise.resolve(-EBADF);
}

/**
 * Models ksys_dup(): the lowest free fd now refers to the same file (an O_PATH file too:
 * fget_raw()). The new fd, -EBADF, or get_unused_fd_flags()'s error.
 * Locking: none held on entry; takes file_lock (fget_raw(), fd reservation, install).
 * References: the new fd keeps the reference fget_raw() took; on failure it is dropped.
 */
export function sysDup(p: SyscallProcess, fd: unknown): Promise<number> {
  return syscall(p, "dup", sysDupBody, fd) as Promise<number>;
}

/** sysDup()'s body. */
async function sysDupBody(_p: SyscallProcess, fd: unknown): Promise<number> {
  if (!isFdArg(fd)) return -EBADF;
  const file = await fgetRaw(fd);
  if (file === null) return -EBADF;
  const ret = await getUnusedFdFlags(0);
  if (ret >= 0) await fdInstall(ret, file);
  else await fput(file);
  return ret;
}

/**
 * Models dup2(2) (SYSCALL_DEFINE2(dup2), fs/file.c): see doSysDup2(). newfd, -EBADF, -EBUSY,
 * -ENOMEM. A value the C ABI could not carry is a bad fd (-EBADF).
 * Locking: none held on entry; takes file_lock (ksys_dup3()).
 * References: the new fd takes one on the file; the replaced file's is dropped.
 */
export function sysDup2(p: SyscallProcess, oldfd: unknown, newfd: unknown): Promise<number> {
  return syscall(p, "dup2", sysDup2Body, oldfd, newfd) as Promise<number>;
}

/** sysDup2()'s body (no async frame). */
function sysDup2Body(_p: SyscallProcess, oldfd: unknown, newfd: unknown): Promise<number> {
  if (typeof oldfd !== "number" || typeof newfd !== "number") return Promise.resolve(-EBADF);
  return doSysDup2(oldfd, newfd);
}

/**
 * Models dup3(2) (SYSCALL_DEFINE3(dup3) -> ksys_dup3(), fs/file.c): see ksysDup3(). newfd,
 * -EINVAL, -EBADF, -EBUSY, -ENOMEM.
 * Locking: none held on entry; takes file_lock.
 * References: the new fd takes one on the file; the replaced file's is dropped.
 */
export function sysDup3(
  p: SyscallProcess,
  oldfd: unknown,
  newfd: unknown,
  flags: unknown,
): Promise<number> {
  return syscall(p, "dup3", sysDup3Body, oldfd, newfd, flags) as Promise<number>;
}

/** sysDup3()'s body (no async frame). */
function sysDup3Body(
  _p: SyscallProcess,
  oldfd: unknown,
  newfd: unknown,
  flags: unknown,
): Promise<number> {
  if (!isIntArg(flags)) return RESOLVED_EINVAL;
  if (typeof oldfd !== "number" || typeof newfd !== "number") return Promise.resolve(-EBADF);
  return ksysDup3(oldfd, newfd, flags);
}

/**
 * Models close_range(2) (SYSCALL_DEFINE3(close_range), fs/file.c): see doSysCloseRange(). 0,
 * -EINVAL, -ENOMEM. A value the C ABI could not carry is -EINVAL.
 * Locking: none held on entry; takes file_lock.
 * References: drops each closed fd's reference.
 */
export function sysCloseRange(
  p: SyscallProcess,
  fd: unknown,
  maxFd: unknown,
  flags: unknown,
): Promise<number> {
  return syscall(p, "close_range", sysCloseRangeBody, fd, maxFd, flags) as Promise<number>;
}

/** sysCloseRange()'s body (no async frame). */
function sysCloseRangeBody(
  _p: SyscallProcess,
  fd: unknown,
  maxFd: unknown,
  flags: unknown,
): Promise<number> {
  if (!isIntArg(fd) || !isIntArg(maxFd) || !isIntArg(flags)) return RESOLVED_EINVAL;
  return doSysCloseRange(fd, maxFd, flags);
}

/**
 * Models vfs_ioctl(): the driver's ->unlocked_ioctl, -ENOTTY without one or for
 * -ENOIOCTLCMD.
 * Locking: none held; the driver's ioctl may sleep.
 * References: the caller holds a reference on `file`.
 */
export function vfsIoctl(file: File, cmd: number, arg: IoctlArg): Promise<number> {
  if (!file.fOp.unlockedIoctl) return Promise.resolve(-ENOTTY);
  // Promise.resolve(): a driver's ioctl written as a plain function may return its number.
  return Promise.resolve(file.fOp.unlockedIoctl(file, cmd, arg)).then(vfsIoctlRet);
}

/** vfs_ioctl()'s return value: -ENOIOCTLCMD becomes -ENOTTY. */
function vfsIoctlRet(error: number): number {
  return error === -ENOIOCTLCMD ? -ENOTTY : error;
}

/** Models do_vfs_ioctl()'s generic commands: FIOCLEX and FIONCLEX; -ENOIOCTLCMD otherwise. */
async function doVfsIoctl(p: SyscallProcess, fd: number, cmd: number): Promise<number> {
  if (cmd !== FIOCLEX && cmd !== FIONCLEX) return -ENOIOCTLCMD;
  // set_close_on_exec(): current->files, the thread's table (its own after close_range()'s
  // CLOSE_RANGE_UNSHARE), not the table the process started with.
  const files = currentFiles() ?? p.files;
  const fileLockTaken = files.fileLock.lock();
  if (fileLockTaken !== RESOLVED) await fileLockTaken;
  if (fd < files.fdt.maxFds) files.fdt.closeOnExec[fd] = cmd === FIOCLEX;
  files.fileLock.unlockNow();
  return 0;
}

/**
 * Models the ioctl(2) syscall (SYSCALL_DEFINE3(ioctl), fs/ioctl.c, v6.18): `CLASS(fd, f)(fd)`,
 * i.e. fdget() (-EBADF), the generic commands (which ignore `arg`), then copy_from_user of the
 * argument (-EFAULT) and the driver's ioctl; the kernel copy is written back to `arg` when the
 * driver returns >= 0; fdput() at the end.
 * `cmd` is taken as an unsigned 32-bit number (a negative int32 is the same command).
 * Locking: none held on entry; the driver's ioctl may sleep.
 * References: fdget()'s: none when the process's fd table has one user (a BORROWED_FD: no
 * other thread can close the fd meanwhile), else a reference on the file for the call
 * (CLONED_FD), dropped by fdput().
 */
export function sysIoctl(
  p: SyscallProcess,
  fd: unknown,
  cmd: unknown,
  arg: unknown,
): Promise<number> {
  return syscall(p, "ioctl", sysIoctlBody, fd, cmd, arg) as Promise<number>;
}

/** sysIoctl()'s body. */
async function sysIoctlBody(
  p: SyscallProcess,
  fd: unknown,
  cmd: unknown,
  arg: unknown,
): Promise<number> {
  if (!isFdArg(fd)) return -EBADF;
  const f = await fdget(fd);
  const file = f.file;
  if (file === null) return -EBADF;
  try {
    if (!isIntArg(cmd) || cmd < -0x8000_0000 || cmd > 0xffff_ffff) return -EINVAL;
    const ucmd = cmd >>> 0;
    // do_vfs_ioctl() only knows FIOCLEX and FIONCLEX: skip its frame for the rest.
    let error =
      ucmd === FIOCLEX || ucmd === FIONCLEX ? await doVfsIoctl(p, fd, ucmd) : -ENOIOCTLCMD;
    if (error !== -ENOIOCTLCMD) return error;
    const kdata = copyFromUser(arg);
    if (isErr(kdata)) return -EFAULT;
    ioctlBindUserArg(kdata, arg);
    try {
      error = await vfsIoctl(file, ucmd, kdata);
    } finally {
      ioctlUnbindUserArg(kdata);
    }
    if (error >= 0 && copyToUser(arg, kdata) < 0) error = -EFAULT;
    return error;
  } finally {
    // fdput() gives RESOLVED itself for a BORROWED_FD, and fput() when the point kept the task
    // and nothing was released.
    const put = fdput(f);
    if (put !== RESOLVED) await put;
  }
}

/**
 * Models vfs_llseek(): -ESPIPE for an unseekable file, else the driver's ->llseek.
 * Locking: none (f_pos_lock is not modeled). References: the caller holds one on `file`.
 */
export function vfsLlseek(file: File, offset: number, whence: number): Promise<number> {
  if (!(file.fMode & FMODE_LSEEK) || !file.fOp.llseek) return Promise.resolve(-ESPIPE);
  return file.fOp.llseek(file, offset, whence);
}

/**
 * Models ksys_lseek() (fs/read_write.c, v6.18): `CLASS(fd_pos, f)(fd)`, i.e. fdget_pos()
 * (-EBADF), then -EINVAL for a bad whence, else vfs_llseek(): the new position, -ESPIPE, or the
 * driver's error; fdput_pos() at the end.
 * Locking: none held on entry (fdget_pos() takes no f_pos_lock here, see fdgetPos()).
 * References: fdget()'s: none with one user of the fd table (BORROWED_FD), else one for the
 * call (CLONED_FD), dropped by fdput_pos().
 */
export function sysLseek(
  p: SyscallProcess,
  fd: unknown,
  offset: unknown,
  whence: unknown,
): Promise<number> {
  return syscall(p, "lseek", sysLseekBody, fd, offset, whence) as Promise<number>;
}

/** sysLseek()'s body. */
async function sysLseekBody(
  _p: SyscallProcess,
  fd: unknown,
  offset: unknown,
  whence: unknown,
): Promise<number> {
  if (!isFdArg(fd)) return -EBADF;
  const f = await fdgetPos(fd);
  const file = f.file;
  if (file === null) return -EBADF;
  try {
    if (!isIntArg(offset) || !isIntArg(whence) || whence < 0 || whence > SEEK_MAX) return -EINVAL;
    return await vfsLlseek(file, offset, whence);
  } finally {
    // fdput_pos() gives RESOLVED itself for a BORROWED_FD, and fput() when the point kept the
    // task and nothing was released.
    const put = fdputPos(f);
    if (put !== RESOLVED) await put;
  }
}

/** Models MAX_RW_COUNT (INT_MAX & PAGE_MASK): the most one read(2) transfers. */
export const MAX_RW_COUNT = 0x7fff_f000;

/**
 * Models vfs_read() (fs/read_write.c, v6.18) for a file with ->read: -EBADF if the file is not
 * open for reading (FMODE_READ), -EINVAL if it cannot be read (FMODE_CAN_READ, which
 * do_dentry_open() sets for a readable file with ->read or ->read_iter: here, an f_op without
 * ->read), -EFAULT if the buffer is not a user range (access_ok()), then the count clipped to
 * MAX_RW_COUNT and ->read(). rw_verify_area() has nothing to refuse here (no position is used:
 * every file with ->read in the model reads like a pipe) and fsnotify is not modeled.
 * Locking: none held. References: the caller holds one on `file`.
 */
export function vfsRead(file: File, buf: number, count: number): Promise<number> {
  if (!(file.fMode & FMODE_READ)) return Promise.resolve(-EBADF);
  if (!file.fOp.read) return RESOLVED_EINVAL;
  if (buf < 0 || count < 0 || !Number.isSafeInteger(buf + count)) return RESOLVED_EFAULT;
  return file.fOp.read(file, buf, Math.min(count, MAX_RW_COUNT));
}

/**
 * Models the read(2) syscall, ksys_read() (fs/read_write.c, v6.18): `CLASS(fd_pos, f)(fd)`
 * (-EBADF for an fd that is not open), then vfs_read() into the user buffer at `buf` (an address
 * of the process's memory) of `count` bytes: the bytes read (0 and short reads are the file's
 * business), or -EBADF, -EINVAL, -EFAULT, -EAGAIN, -ERESTARTSYS as ->read returns them. A `buf`
 * or `count` that is not an integer is a bad user range: -EFAULT (a negative size_t is huge).
 * Locking: none held on entry. References: fdget_pos()'s, dropped by fdput_pos().
 */
export function sysRead(
  p: SyscallProcess,
  fd: unknown,
  buf: unknown,
  count: unknown,
): Promise<number> {
  return syscall(p, "read", sysReadBody, fd, buf, count) as Promise<number>;
}

/** sysRead()'s body. */
async function sysReadBody(
  _p: SyscallProcess,
  fd: unknown,
  buf: unknown,
  count: unknown,
): Promise<number> {
  if (!isFdArg(fd)) return -EBADF;
  const f = await fdgetPos(fd);
  const file = f.file;
  if (file === null) return -EBADF;
  try {
    if (!isIntArg(buf) || !isIntArg(count)) return -EFAULT;
    return await vfsRead(file, buf, count);
  } finally {
    const put = fdputPos(f);
    if (put !== RESOLVED) await put;
  }
}

/**
 * Models the fstat(2) syscall, SYSCALL_DEFINE2(newfstat) (fs/stat.c, v6.12 and v6.18):
 * vfs_fstat() (fdget_raw(): -EBADF for an fd that is not open; an O_PATH fd is allowed), then
 * cp_new_stat() into the user buffer at `statbuf` (STAT_SIZE bytes of the process's memory):
 * 0, or -EFAULT when the buffer cannot be written (a `statbuf` that is not a non-negative integer
 * is a bad address). The fd is looked up first: a bad fd is -EBADF whatever the buffer.
 * Locking: none held. References: fdget_raw()'s, dropped by fdput() before the copy.
 */
export function sysFstat(p: SyscallProcess, fd: unknown, statbuf: unknown): Promise<number> {
  return syscall(p, "fstat", sysFstatBody, fd, statbuf) as Promise<number>;
}

/** sysFstat()'s body. */
async function sysFstatBody(p: SyscallProcess, fd: unknown, statbuf: unknown): Promise<number> {
  if (!isFdArg(fd)) return -EBADF;
  const stat = emptyKstat();
  const error = await vfsFstat(fd, stat);
  if (error < 0) return error;
  if (!isIntArg(statbuf) || statbuf < 0) return -EFAULT;
  const bytes = cpNewStat(stat);
  const r = await accessVm(p.mm, statbuf, bytes.length, bytes);
  return typeof r === "number" && r < 0 ? -EFAULT : 0;
}

/** The fd entries of procfs: /proc/<pid>/fd/<n> and /proc/self/fd/<n>. */
const PROC_FD_PATH = /^\/proc\/(self|[1-9][0-9]*)\/fd\/(0|[1-9][0-9]*)$/;

/**
 * Models readlink(2) (SYSCALL_DEFINE3(readlink) -> do_readlinkat(AT_FDCWD, ...), fs/stat.c,
 * v6.18) of the paths the model has: `bufsiz` <= 0 (or not an integer) is -EINVAL before
 * anything else; a path that is not a string cannot be read (getname(): -EFAULT); a device node
 * is not a symlink (-EINVAL); /proc/<pid>/fd/<n> (or /proc/self/fd/<n>) of a live process is
 * proc_pid_readlink() (fs/proc/fd.ts): the name of the file at fd <n> of the process's main
 * thread, at most `bufsiz` bytes of it copied to the user buffer `buf` without a NUL, and their
 * number returned; -ENOENT for a process that does not exist or has been reaped, a thread whose
 * files are gone, an fd that is not open, and any other path; -EFAULT for a buffer that cannot
 * be written; -ENOMEM, -ENAMETOOLONG from d_path().
 * Locking: none held. References: the path's, taken and dropped inside (see procFdLink()).
 */
export function sysReadlink(
  p: SyscallProcess,
  path: unknown,
  buf: unknown,
  bufsiz: unknown,
): Promise<number> {
  return syscall(p, "readlink", sysReadlinkBody, path, buf, bufsiz) as Promise<number>;
}

/** sysReadlink()'s body. */
function sysReadlinkBody(
  p: SyscallProcess,
  path: unknown,
  buf: unknown,
  bufsiz: unknown,
): Promise<number> | number {
  if (!isIntArg(bufsiz) || bufsiz <= 0) return -EINVAL;
  if (typeof path !== "string") return -EFAULT;
  const m = PROC_FD_PATH.exec(path);
  if (m === null) return p.kernel.chrdevs.lookup(path) !== null ? -EINVAL : -ENOENT;
  const target = p.kernel.processes.get(m[1] === "self" ? p.pid : Number(m[1]));
  if (target === undefined || target.state === "dead") return -ENOENT;
  const leader = target.threads[0];
  const files = leader === undefined ? null : taskFilesOf(leader);
  const fd = Number(m[2]);
  if (!Number.isSafeInteger(fd)) return -ENOENT;
  const copy = (bytes: Uint8Array): Promise<number> =>
    isIntArg(buf) && buf >= 0
      ? accessVm(p.mm, buf, bytes.length, bytes).then((r) => (typeof r === "number" ? r : 0))
      : RESOLVED_EFAULT;
  return procPidReadlink(files, fd, copy, bufsiz);
}

/**
 * Models the mmap(2) syscall (x86-64 sys_mmap → ksys_mmap_pgoff(), mm/mmap.c, v6.18): an
 * unaligned or negative offset is -EINVAL; then, without MAP_ANONYMOUS, fget() of the fd
 * (-EBADF; a counted reference even in a single-threaded process, as v6.18's
 * ksys_mmap_pgoff() takes, not fdget()); then a negative
 * address or length is -ENOMEM (a huge unsigned long, which do_mmap() refuses); then do_mmap()
 * under mmap_lock. The mapping's address, or a negative errno.
 * Locking: none held on entry; takes mmap_lock for writing (vm_mmap_pgoff()).
 * References: the fd's file reference is held for the call; the mapping takes its own.
 */
export function sysMmap(
  p: SyscallProcess,
  addr: unknown,
  length: unknown,
  prot: unknown,
  flags: unknown,
  fd: unknown,
  offset: unknown,
): Promise<number> {
  return syscall(p, "mmap", async () => {
    if (!isIntArg(addr) || !isIntArg(length) || !isIntArg(prot) || !isIntArg(flags)) return -EINVAL;
    if (!isIntArg(offset) || offset < 0 || offsetInPage(offset) !== 0) return -EINVAL;
    let file: File | null = null;
    if (!(flags & MAP_ANONYMOUS)) {
      if (!isFdArg(fd)) return -EBADF;
      file = await fget(fd);
      if (file === null) return -EBADF;
    }
    try {
      // A negative address or length is a huge unsigned long: do_mmap()'s -ENOMEM, which
      // ksys_mmap_pgoff() reaches only after fget() (a bad fd is -EBADF first).
      if (addr < 0 || length < 0) return -ENOMEM;
      return await vmMmapPgoff(p.mm, file, addr, length, prot, flags, offset / PAGE_SIZE);
    } finally {
      if (file) await fput(file);
    }
  }) as Promise<number>;
}

/**
 * Models munmap(2): __vm_munmap(addr, len, true). 0 (also when nothing was mapped) or -EINVAL.
 * Locking: takes mmap_lock for writing, downgraded to reading before the vmas are closed.
 * References: each removed vma drops its file's.
 */
export function sysMunmap(p: SyscallProcess, addr: unknown, length: unknown): Promise<number> {
  return syscall(p, "munmap", sysMunmapBody, addr, length) as Promise<number>;
}

/**
 * sysMunmap()'s body. Bodies that only check and pass a promise on need no async frame
 * (syscall() catches a throw).
 */
function sysMunmapBody(p: SyscallProcess, addr: unknown, length: unknown): Promise<number> {
  return !isIntArg(addr) || !isIntArg(length) || addr < 0 || length < 0
    ? RESOLVED_EINVAL
    : vmMunmap(p.mm, addr, length, true);
}

/**
 * Reads `len` bytes of the process's memory at `addr` (userspace loads; page faults enter the
 * kernel, so the access returns through exitToUserMode()). The bytes, or -EFAULT.
 */
export function sysReadMemory(
  p: SyscallProcess,
  addr: unknown,
  len: unknown,
): Promise<Uint8Array | number> {
  return syscall(p, "user_read", sysReadMemoryBody, addr, len);
}

/** sysReadMemory()'s body (no async frame). */
function sysReadMemoryBody(
  p: SyscallProcess,
  addr: unknown,
  len: unknown,
): Promise<Uint8Array | number> {
  return !isIntArg(addr) || !isIntArg(len) || addr < 0 || len < 0
    ? RESOLVED_EFAULT
    : accessVm(p.mm, addr, len, null);
}

/** Writes `bytes` to the process's memory at `addr`. The byte count, or -EFAULT. */
export function sysWriteMemory(p: SyscallProcess, addr: unknown, bytes: unknown): Promise<number> {
  return syscall(p, "user_write", sysWriteMemoryBody, addr, bytes) as Promise<number>;
}

/** sysWriteMemory()'s body (no async frame). */
function sysWriteMemoryBody(
  p: SyscallProcess,
  addr: unknown,
  bytes: unknown,
): Promise<Uint8Array | number> {
  if (!isIntArg(addr) || addr < 0) return RESOLVED_EFAULT;
  const data = userBytes(bytes);
  if (data === null) return RESOLVED_EFAULT;
  return accessVm(p.mm, addr, data.length, data);
}

/**
 * A copy of the bytes userspace passed, or null when `bytes` is not a Uint8Array or cannot be
 * read: a Proxy whose traps throw, or one around a Uint8Array (its methods refuse such a
 * receiver). Copied with Uint8Array's own slice(), whatever a subclass overrides.
 */
function userBytes(bytes: unknown): Uint8Array | null {
  try {
    if (!(bytes instanceof Uint8Array)) return null;
    return Uint8Array.prototype.slice.call(bytes);
  } catch {
    return null;
  }
}

/**
 * Sends the file at `fd` to process `to` with SCM_RIGHTS. 0, -EBADF, -ENOMEM, -EINVAL (not a
 * process), or -EPIPE (the receiver has exited). The in-flight message holds a file reference
 * until the receiver takes it or exits.
 */
export function sysSendFd(p: SyscallProcess, to: unknown, fd: unknown): Promise<number> {
  return syscall(p, "sendmsg", sysSendFdBody, to, fd) as Promise<number>;
}

/** sysSendFd()'s body. */
async function sysSendFdBody(_p: SyscallProcess, to: unknown, fd: unknown): Promise<number> {
  // The destination must be a process's socket (any other value is a bad address): checked
  // before any file reference is taken, so nothing leaks.
  const sock = peerSocket(to);
  if (sock === null) return -EINVAL;
  if (!isFdArg(fd)) return -EBADF;
  return scmSendFds(sock, [fd]);
}

/** The unix socket of the process `to` names, or null if it is not one (reading it may throw). */
function peerSocket(to: unknown): UnixSocket | null {
  try {
    if (typeof to !== "object" || to === null) return null;
    const sock: unknown = (to as { socket?: unknown }).socket;
    return sock instanceof UnixSocket ? sock : null;
  } catch {
    return null;
  }
}

/** recvmsg()'s options: MSG_DONTWAIT, MSG_CMSG_CLOEXEC, and the room for fds in msg_control. */
interface RecvmsgArgs {
  nonblock: boolean;
  cloexec: boolean;
  maxFds: number;
}

/**
 * Models copy_msghdr_from_user() for recvmsg(): the options are read once; null, a non-object or
 * a field that cannot be read is -EFAULT; `maxFds` (the control buffer's room, read only when
 * `withRoom`) must be an integer from 0 (-EINVAL otherwise), SCM_MAX_FD when absent.
 */
function recvmsgArgs(opts: unknown, withRoom: boolean): RecvmsgArgs | number {
  try {
    if (opts === null || typeof opts !== "object") return -EFAULT;
    const o = opts as { nonblock?: unknown; cloexec?: unknown; maxFds?: unknown };
    const maxFds = !withRoom ? 1 : o.maxFds === undefined ? SCM_MAX_FD : o.maxFds;
    if (!isIntArg(maxFds) || maxFds < 0) return -EINVAL;
    return { nonblock: Boolean(o.nonblock), cloexec: Boolean(o.cloexec), maxFds };
  } catch {
    return -EFAULT;
  }
}

/**
 * Models recvmsg(2) of an SCM_RIGHTS message (unix_stream_recvmsg() -> scm_detach_fds(), v6.18):
 * `{fds, msgFlags}`: new fds (the lowest free ones) for the message's files, at most `maxFds`
 * (room in the control buffer, SCM_MAX_FD by default); files that got no fd (no room, no free fd
 * below RLIMIT_NOFILE, a table that cannot grow) are dropped and MSG_CTRUNC is set in msgFlags:
 * the call still succeeds. Sleeps until a message arrives unless `nonblock` (-EAGAIN); `cloexec`
 * (MSG_CMSG_CLOEXEC) sets close-on-exec on the new fds. -EFAULT, -EINVAL for bad options.
 */
export function sysRecvmsg(p: SyscallProcess, opts: unknown = {}): Promise<ScmRecvResult | number> {
  return syscall(p, "recvmsg", sysRecvmsgBody, opts);
}

/** sysRecvmsg()'s body. */
function sysRecvmsgBody(p: SyscallProcess, opts: unknown): Promise<ScmRecvResult | number> {
  const args = recvmsgArgs(opts, true);
  if (typeof args === "number") return Promise.resolve(args);
  return scmRecvFds(p.socket, {
    nonblock: args.nonblock,
    oFlags: args.cloexec ? O_CLOEXEC : 0,
    maxFds: args.maxFds,
  });
}

/**
 * Receives one file sent with SCM_RIGHTS: recvmsg() with room for one fd, returning the new fd
 * (the lowest free one) for the same file. Sleeps until a message arrives unless `nonblock`
 * (-EAGAIN). A userspace helper's report: when recvmsg() delivered no fd (MSG_CTRUNC: no free
 * fd, the file dropped) it returns -EMFILE, which recvmsg() itself does not (it succeeds);
 * further files of a message carrying more are dropped by the kernel (MSG_CTRUNC).
 * `cloexec` sets close-on-exec on the new fd.
 */
export async function sysRecvFd(p: SyscallProcess, opts: unknown = {}): Promise<number> {
  return syscall(p, "recvmsg", sysRecvFdBody, opts) as Promise<number>;
}

/** sysRecvFd()'s body. */
async function sysRecvFdBody(p: SyscallProcess, opts: unknown): Promise<number> {
  const args = recvmsgArgs(opts, false);
  if (typeof args === "number") return args;
  const r = await scmRecvFds(p.socket, {
    nonblock: args.nonblock,
    oFlags: args.cloexec ? O_CLOEXEC : 0,
    maxFds: args.maxFds,
  });
  if (typeof r === "number") return r;
  return r.fds.length > 0 ? r.fds[0]! : -EMFILE;
}

/**
 * Models setrlimit(RLIMIT_NOFILE): the new soft and hard limit for fds. 0, -EINVAL (other
 * resources are not modeled, or a bad value), -EPERM above NR_OPEN (sysctl_nr_open).
 * Locking: none (task_lock() is not modeled). References: none.
 */
export function sysSetrlimit(
  p: SyscallProcess,
  resource: unknown,
  limit: unknown,
): Promise<number> {
  return syscall(p, "setrlimit", sysSetrlimitBody, resource, limit) as Promise<number>;
}

/** sysSetrlimit()'s body. */
async function sysSetrlimitBody(
  p: SyscallProcess,
  resource: unknown,
  limit: unknown,
): Promise<number> {
  if (resource !== RLIMIT_NOFILE || !isIntArg(limit) || limit < 0) return -EINVAL;
  if (limit > NR_OPEN) return -EPERM;
  p.files.rlimitNofile = limit;
  return 0;
}

/**
 * Models exit_group(code): the whole process exits with `code & 0xff`; this thread dies at
 * once (never returns), the others at their next syscall. The last thread to go closes every
 * fd, unmaps every vma and drops undelivered fds.
 * Locking: none held. References: the last thread drops every fd's, vma's and in-flight
 * message's file reference.
 */
export async function sysExit(p: SyscallProcess, code: unknown): Promise<never> {
  const task = currentTask();
  if (!p.ownsTask(task))
    throw new Error(`exit() on ${p.name}[${p.pid}] must be called from one of its threads`);
  await point("sys_exit_group");
  p.startGroupExit(isIntArg(code) ? code & 0xff : 0);
  throw new ThreadExit(`${p.name}[${p.pid}] called exit`);
}
