/**
 * The fuzz workload: several processes, each with a few threads, issue random sequences of
 * syscalls on the devices of the driver(s) under test, with valid and invalid arguments: open
 * card and render nodes, create dumb buffers, GEM_CLOSE, GEM_FLINK and GEM_OPEN, PRIME export
 * and import on the same and on the other device, dup, dup2, dup3, close and close_range,
 * SCM_RIGHTS fd passing between processes, CPU mappings, garbage ioctls and hostile syscall
 * arguments, and exit mid-way; with `sockets`, unix stream socket pairs, sendmsg(2) with
 * SCM_RIGHTS of any fd and recvmsg(2), so that in-flight cycles form for the unix garbage
 * collector (socket-model.ts).
 * Every choice is drawn with the simulation's `choose()`, so a run is replayed exactly by its
 * token, and the scheduler interleaves the threads at every scheduling point of the kernel.
 *
 * The oracles are all of the simulation's (refcount, KASAN, lockdep, RCU, WARN/BUG, deadlock,
 * kmemleak and the DRM device counters after the machine is quiesced) plus the userspace
 * reference model (model.ts, and fd-model.ts for what each fd of each process names): what the
 * kernel returns is checked against what each process should see. Nothing in here is specific
 * to a race or a toggle.
 *
 * A thread owns the fds it opened (it alone closes them with close(); a sibling's dup2(), dup3()
 * or close_range() may close them under it, which takes them out of its list: clobber()); with
 * some probability an operation uses a sibling thread's DRM fd instead, which marks that file
 * shared: its handles may then change under the owner, and only the interleaving-proof checks
 * apply to it.
 */

import { registerSwSync, SW_SYNC_PATH } from "@primetime/dma-buf";
import type { DriverUnderTest, RegisteredDevice } from "@primetime/gem";
import { DRIVER_MODESET, type DrmDevice, drmDevCheckLeaks, drmDevCounters } from "@primetime/gem";
import {
  AF_UNIX,
  EACCES,
  EBADF,
  EEXIST,
  EFAULT,
  EINTR,
  EINVAL,
  EMFILE,
  ENOENT,
  ENOMEM,
  ENOSPC,
  ENOTTY,
  EPERM,
  EPOLL_CTL_ADD,
  type EpollEvent,
  injectedFailures,
  Kernel,
  liveObjects,
  MAP_SHARED,
  nrFreePages,
  PROT_READ,
  PROT_WRITE,
  type Process,
  type SlabObject,
  SOCK_STREAM,
} from "@primetime/kernel";
import { choose, type Simulation } from "@primetime/sim";
import {
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_WRITE,
  DRM_CLOEXEC,
  DRM_IOCTL_AUTH_MAGIC,
  DRM_IOCTL_DROP_MASTER,
  DRM_IOCTL_GEM_CHANGE_HANDLE,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_MAGIC,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_SET_MASTER,
  DRM_RDWR,
  O_NONBLOCK,
  O_RDWR,
  SEEK_END,
  SW_SYNC_IOC_CREATE_FENCE,
  SW_SYNC_IOC_INC,
  type SwSyncCreateFenceData,
} from "@primetime/uapi";
import { type AuthIoctl, AuthModel } from "./auth-model.js";
import {
  DisplayServer,
  GARBAGE_MAGICS,
  type ServerRequest,
  type ServerRequestKind,
  serverExpected,
} from "./display-server.js";
import { DrmReadFuzz } from "./drm-read.js";
import {
  checkFdUses,
  dmabufIoctlFits,
  drmIoctlFits,
  type FdObject,
  FdTableModel,
  type FdUse,
  type SockModel,
} from "./fd-model.js";
import {
  busy,
  lostFd,
  opClose,
  opCloseRange,
  opDup,
  opDup2,
  opDup3,
  opRecv,
  opSend,
  procSend,
  untouchable,
} from "./fuzz-ops-fd.js";
import { LeaseFuzz } from "./fuzz-ops-lease.js";
import {
  listenerSetup,
  opAccept,
  opBind,
  opConnect,
  opListen,
  opSocket,
} from "./fuzz-ops-listen.js";
import { drawRootProcess, opMaster, spawnerFor } from "./fuzz-ops-master.js";
import { opPrivate, privHandle, privIoctl, privLookupHandle } from "./fuzz-ops-private.js";
import {
  opSockClose,
  opSocketpair,
  opSockOob,
  opSockPass,
  opSockRecv,
  opSockSend,
} from "./fuzz-ops-sock.js";
import { vmwVramDriver } from "./fuzz-ops-vmw-vram.js";
import { KmsFuzz } from "./kms.js";
import {
  checkHandleObservations,
  FuzzModel,
  type HandleObservation,
  ModelFile,
  readStamp,
  STAMP_BYTES,
  stampOf,
  UNKNOWN_BUFFER,
} from "./model.js";
import { type PrivFile, privateDriver } from "./private-ioctls.js";
import { loggedProcess, type SyscallLogEntry } from "./syscall-log.js";

/** The shape of one fuzz run. */
export interface FuzzOptions {
  /** The driver(s) to run on: two devices are registered, cycling through this list. */
  readonly drivers: readonly DriverUnderTest[];
  /**
   * Processes (default 3). A range `[min, max]` is drawn from the seed at the start of the run
   * (`choose()`, labels "fuzz processes", "fuzz threads", "fuzz ops", in that order), as the
   * stress app's fuzz scenario does, so that its tokens replay here too.
   */
  readonly processes?: FuzzSize;
  /** Threads per process (default 2; a range: drawn, see `processes`). */
  readonly threads?: FuzzSize;
  /** Operations per thread (default 10; a range: drawn, see `processes`). */
  readonly ops?: FuzzSize;
  /** The machine's RAM in bytes (default: the kernel's default). */
  readonly ramBytes?: number;
  /**
   * Called once the devices (and sw_sync) are registered, before the processes start: where a
   * harness starts fault injection (the stress app's `--faults`).
   */
  readonly afterBoot?: () => void;
  /**
   * The swarm plan of each process (cycled over the processes): how often it races and which
   * operations its races pair. Without it, each process draws its plan from the seed with
   * `choose()`, so a token alone replays the run; a feedback-driven campaign (feedback.ts)
   * passes the plans it chose, and the run's scenario name records them (plan.ts).
   */
  readonly plan?: readonly FuzzProcessPlan[];
  /**
   * Records every syscall of the workload's processes (and their children) here, with its
   * arguments, result and the steps it started and returned at (syscall-log.ts). Logging reads
   * the step counter and nothing else: the run's schedule is the same with or without it.
   */
  readonly syscallLog?: SyscallLogEntry[];
  /**
   * Unix stream sockets as files (default false): socketpair(2), sendmsg(2) with SCM_RIGHTS of
   * any fd the thread holds, recvmsg(2) with and without MSG_PEEK, close of socket fds, and
   * socket fds passed to other processes over their SCM_RIGHTS queues (socket-model.ts). Their
   * operations come after the others in the draw (OP_TABLE), so a run without them draws as
   * before; the run's scenario name records the option (plan.ts), so a token replays it.
   * `"listen"` (`cli --sockets listen`, token `fuzz +unix+listen`): those and, after them in the
   * draw, socket(2), bind(2) of abstract names, listen(2), connect(2) and accept4(2), each thread
   * starting with a listener of its own (socket-model.ts, "Listening sockets").
   */
  readonly sockets?: boolean | "listen";
  /**
   * The drivers' private ioctls (default false; `cli --private on`, token `fuzz +priv`): on a
   * DRM fd of a qxl or vmwgfx device, ALLOC, MAP, GETPARAM, CLIENTCAP, ALLOC_SURF, UPDATE_AREA and
   * EXECBUFFER (qxl), ALLOC_BO, HANDLE_CLOSE, SYNCCPU, GB_SURFACE_CREATE/REF, UNREF_SURFACE,
   * surface PRIME export, EXECBUF, FENCE_WAIT/SIGNALED/UNREF and CREATE_(EXTENDED_)CONTEXT/
   * UNREF_CONTEXT (vmwgfx), built from @primetime/uapi alone (private-ioctls.ts). One more
   * operation, after every other in the draw (OP_TABLE), so a run without it draws as before; the
   * run's scenario name records it (plan.ts), so a token replays it.
   * With it, DRM authentication as real userspace does it: a display server (display-server.ts)
   * opens every card first, so it is each device's master, and authenticates clients; each
   * process draws how often its new primary files get authenticated (GET_MAGIC, then the
   * server's AUTH_MAGIC), and one more operation draws GET_MAGIC, AUTH_MAGIC of valid, stale and
   * garbage magics, and DROP_MASTER/SET_MASTER (auth-model.ts says what the model checks).
   */
  readonly private?: boolean;
  /**
   * KMS framebuffers (default false; `cli --kms on`, token `fuzz +kms`, after any other suffix):
   * ADDFB2, RMFB, CLOSEFB, GETFB and GETFB2 from clients, and the display server (started as
   * with `private`) as the compositor that makes framebuffers of its clients' buffers by flink
   * name (kms.ts). One more operation, after every other in the draw (OP_TABLE), so a run
   * without it draws as before.
   * `"flip"` (`cli --kms flip`, token `fuzz +kms+flip`): those and the compositor's flips
   * (kms-flip.ts): the devices are registered drawn (DriverUnderTest.registerDrawn) with
   * `scanout` (qxl draws its CRTC count), and two more KMS draws, after the others in kms.ts's
   * table, show clients' and the server's framebuffers with SETCRTC and PAGE_FLIP (events read
   * back) on qxl devices with CRTCs.
   */
  readonly kms?: boolean | "flip";
  /**
   * Reads, polls and fstat()s of DRM fds (default false; `cli --drm-read on`, token
   * `fuzz +drmread`, after any other suffix): O_NONBLOCK opens, read(2) with drawn sizes,
   * blocking reads under an alarm, poll(2), vmwgfx's FENCE_EVENT, fstat(2) of any fd
   * (drm-read.ts). One more operation, after every other in the draw (OP_TABLE), so a run
   * without it draws as before.
   */
  readonly drmRead?: boolean;
  /**
   * MSG_OOB on the socket operations' sockets (default false; `cli --oob on`, token `fuzz +oob`,
   * after any other suffix; needs `sockets`): sendmsg(2) with MSG_OOB of 0-3 bytes with and
   * without fds, recvmsg(2) with MSG_OOB (and MSG_PEEK), recvmsg(2) of a byte count (reads that
   * stop at the OOB mark), ioctl(SIOCATMARK) (fuzz-ops-sock.ts opSockOob(), socket-model.ts's
   * verdicts). One more operation, after every other in the draw (OP_TABLE), so a run without it
   * draws as before.
   */
  readonly oob?: boolean;
  /**
   * DRM masters with a privileged process (default false; `cli --masters on`, token
   * `fuzz +master`, after any other suffix): one process, drawn from the seed, has
   * CAP_SYS_ADMIN, and one more operation draws SET_VERSION, GET_UNIQUE, SET_MASTER and
   * DROP_MASTER, and a GET_UNIQUE racing a SET_MASTER of the same fd (fuzz-ops-master.ts).
   * After every other operation in the draw (OP_TABLE), so a run without it draws as before.
   * Not with `private` or `kms` (their display server assumes no privileged client).
   */
  readonly masters?: boolean;
  /**
   * vmwgfx's memory under pressure (default false; `cli --vmw-vram on`, token `fuzz +priv+vram`
   * in place of `+priv`; needs `private`): each vmwgfx device gets a drawn memory configuration
   * (half of them a small MOB limit: `registerDrawnVmwgfx()` of `@primetime/vmwgfx`), and
   * vmwgfx's private draw has three more operations after its others (fuzz-ops-vmw-vram.ts:
   * MOB-filling EXECBUF bursts, eviction of a deleted dumb or ALLOC_BO buffer, eviction raced by
   * closes), so a private run without it draws as before.
   */
  readonly vmwVram?: boolean;
  /**
   * DRM leases (default false; `cli --leases on`, token `fuzz +lease`, after any other suffix):
   * the display server (started as with `private`) is the lessor, each device is registered
   * drawn with `scanout` (qxl draws its CRTC count, as with `kms` "flip"), and one more operation,
   * after every other in the draw (OP_TABLE), so a run without it draws as before, asks the server
   * for leases (CREATE_LEASE over drawn object lists, the lessee fd sent back over a socket pair
   * and kept as one of the thread's DRM fds), has it list, get and revoke them, and looks objects
   * up through the thread's fds, a lessee's preferably (fuzz-ops-lease.ts, lease-model.ts).
   * With `masters` there is no display server (it assumes no privileged client) and so no
   * lessor: the operation is a lookup through the thread's fds, judged loosely, or, in the
   * privileged process, a lookup racing a SET_MASTER of the same fd (fuzz-ops-lease.ts).
   */
  readonly leases?: boolean;
}

/** A workload size: a number, or an inclusive range drawn from the seed. */
export type FuzzSize = number | readonly [number, number];

/** The largest value a FuzzSize may take. */
export function maxSize(s: FuzzSize): number {
  return typeof s === "number" ? s : s[1];
}

/**
 * Process and thread names, the same strings in every run (`fuzz0`, `fuzz0-child` for the
 * children its races fork, `t1` for its second thread): the kernel names the process's fd table,
 * mm and threads after them, which end up in point labels, and the label caches (opLabel(),
 * fmtLabel()) find a string they have met before by its identity, without hashing it again.
 */
const PROCESS_NAMES: string[] = [];
const CHILD_NAMES = new Map<string, string>();

function processName(i: number): string {
  let s = PROCESS_NAMES[i];
  if (s === undefined) {
    s = `fuzz${i}`;
    PROCESS_NAMES[i] = s;
  }
  return s;
}

const THREAD_NAMES: string[] = [];

/** `t1`, `t2`...: a process's other threads, named once for every run (see PROCESS_NAMES). */
function threadName(k: number): string {
  let s = THREAD_NAMES[k];
  if (s === undefined) {
    s = `t${k}`;
    THREAD_NAMES[k] = s;
  }
  return s;
}

function childName(parent: string): string {
  let s = CHILD_NAMES.get(parent);
  if (s === undefined) {
    s = `${parent}-child`;
    // Bounded: a caller with ever-new process names would otherwise grow it.
    if (CHILD_NAMES.size >= 1024) CHILD_NAMES.clear();
    CHILD_NAMES.set(parent, s);
  }
  return s;
}

/**
 * What the hostile pollfd's `fd` getter throws (opHostile()): poll() catches it and returns
 * -EFAULT without looking at it, so one error serves every run instead of an Error per call,
 * whose construction captures a stack trace.
 */
const POLLFD_GETTER_ERROR = new Error("pollfd getter");

/** Draws `s` (a range: `min + choose(max - min + 1, label)`). */
function drawSize(s: FuzzSize, label: string): number {
  return typeof s === "number" ? s : s[0] + choose(s[1] - s[0] + 1, label);
}

/** One process's swarm plan (see FuzzOptions.plan). */
export interface FuzzProcessPlan {
  /** The weight of a race among the thread's other operations (which weigh 31; 0: never). */
  readonly races: number;
  /** The operations its races pair (an empty list: all of them). */
  readonly raceOps: readonly RaceOp[];
}

export interface DeviceNodes {
  readonly device: DrmDevice;
  readonly card: string;
  readonly render: string | null;
  /** The drawn device's own memory is small (RegisteredDevice.scarceMemory). */
  readonly scarce: boolean;
}

export interface FdEntry {
  readonly fd: number;
  readonly kind: "drm" | "dmabuf";
  /** The DRM file (kind "drm"). */
  readonly file?: ModelFile;
  /** The buffer the dma-buf is (kind "dmabuf"), from its stamp. */
  readonly buf?: number;
  /**
   * Set by the owner before it closes the fd: a sibling's call through it that returns after
   * this may have reached another file that got the same fd number, and records nothing.
   */
  closed?: boolean;
}

/**
 * An fd a thread holds outside its DRM and dma-buf list (socket operations only): an end of a
 * socket pair it made (`sock` known), or a file a receive gave it (`sock` null: any file a
 * message may have carried). Only this thread closes it; dup2() and close_range() leave it alone
 * (untouchable()).
 */
export interface ExtraFd {
  readonly fd: number;
  readonly sock: SockModel | null;
  /** The thread's fd of the other end of the same pair, while it holds both. */
  peer: ExtraFd | null;
  /** Made with SOCK_NONBLOCK (a received file: not known, so always received with MSG_DONTWAIT). */
  readonly nonblock: boolean;
  /** What the thread knows of its own socket (`sockets: "listen"`; a received file: none). */
  ls?: LSock;
  /** A recvmsg() through it returned -ECONNRESET: its sk_err is consumed for good. */
  reset?: boolean;
}

/**
 * One of the thread's own sockets as the listen operations know it (`sockets: "listen"`).
 * Once it escaped (its fd sent over a socket or to a process) others may bind, listen, connect
 * or accept on it: the thread then knows nothing of its state (known() is null).
 */
export interface LSock {
  state: "close" | "listen" | "est";
  bound: boolean;
  /** The name it bound (the thread's own or the shared one), if any. */
  name: string | null;
  escaped: boolean;
  /** sk_max_ack_backlog. */
  backlog: number;
  /** The embryos queued on it, oldest first; null: others may connect or accept. */
  queue: SockModel[] | null;
}

/** A sendmsg(2) of the fuzzer on socket fd `fd` carrying `fds`, in [start, ret]. */
export interface SockSend {
  readonly table: FdTableModel;
  readonly fd: number;
  readonly fds: readonly number[];
  readonly start: number;
  ret: number;
}

/** An SCM_RIGHTS send of `fd` to process `to`'s queue (Process.sendFd()), in [start, ret]. */
export interface ProcSend {
  readonly to: number;
  readonly table: FdTableModel;
  readonly fd: number;
  readonly start: number;
  ret: number;
}

/** What the threads of one process share. */
export interface ProcState {
  readonly ctxs: ThreadCtx[];
  /** The process's sw_sync timeline fd (opened on first use), its points and its value. */
  timeline: number | null;
  points: number;
  signalled: number;
  /** How often its threads race two operations on one object (0: never), drawn by the seed. */
  readonly races: number;
  /** The operations its races pair, a subset of RACE_OPS drawn by the seed (swarm testing). */
  readonly raceOps: readonly RaceOp[];
  /**
   * DRM fd numbers closed while another thread may still call through them (their file was
   * shared): a file that gets such a number later may receive those stray calls.
   */
  readonly staleFds: Set<number>;
  /** When the process began to exit (a tick): its files, and their handles, may go from then. */
  endTick: number;
  /**
   * The process's epoll fd (created by the first race that waits on one, never closed before
   * exit and never in a thread's fd list, so no other operation touches it), or null.
   */
  epfd: number | null;
  /** What each fd number of the process has named, and when (fd-model.ts). */
  readonly fdm: FdTableModel;
  /**
   * The dup2()/dup3() and close_range() calls of the process's threads that may close fds, from
   * when they start (`ret` infinite until they return): an fd installed while one of them ran,
   * at a number it covers, may have been closed or replaced under the thread that installed it
   * (lostFd()), which then neither keeps it, nor closes it, nor takes what it reads through it
   * as evidence.
   */
  readonly clobbers: FdRange[];
  /**
   * fd numbers a close() of the fuzzer is closing, or an SCM_RIGHTS send is sending, now (their
   * counts): dup2() and close_range() never target them, or the close would take the file they
   * put there, or the send would pass another file than the one the sender means.
   */
  readonly busy: Map<number, number>;
  /** The dma-buf fds races hold out of every thread's list (opRace): clobber() marks them too. */
  readonly held: Set<FdEntry>;
  /**
   * How often its threads have a new primary file authenticated by the display server, in
   * quarters (AUTH_RATES; `private` runs only, else 0), drawn by the seed.
   */
  readonly authRate: number;
  /** The process has CAP_SYS_ADMIN (`masters` runs: fuzz-ops-master.ts). */
  readonly root: boolean;
}

/** The fds [first, last] a call that ran in [start, ret] may have closed (ret infinite until it returns). */
export interface FdRange {
  readonly first: number;
  readonly last: number;
  readonly start: number;
  ret: number;
}

export interface ThreadCtx {
  readonly p: Process;
  readonly fds: FdEntry[];
  readonly siblings: ThreadCtx[];
  readonly proc: ProcState;
  /** The thread is at its last operation (step()): close_range(CLOSE_RANGE_UNSHARE) only then. */
  last: boolean;
  /**
   * A close_range(CLOSE_RANGE_UNSHARE) may have given the thread a table of its own: its calls
   * no longer reach the process's table (it only signals the timeline after that).
   */
  unshared: boolean;
  /** The fd numbers this thread closed last (closeFd(), at most 4): dup2()'s closed oldfd. */
  readonly closedFds: number[];
  /** Socket fds and received files (socket operations only: ExtraFd). */
  readonly extra: ExtraFd[];
  /**
   * The thread's own abstract names (`sockets: "listen"`): bound to one of its sockets, or
   * "unknown" (a bound socket that escaped was closed: it may live on in flight); absent: free.
   */
  readonly names: Map<string, LSock | "unknown">;
  /** The thread's number in the run (its abstract names: `fz<n>.<k>`). */
  readonly lid: number;
}

/**
 * A GEM_CLOSE (or GEM_CHANGE_HANDLE) of `handle` that ran in [start, ret]; recorded when it
 * starts, with `ret` infinite until it returns (a thread killed by an exit never returns).
 */
interface CloseObservation {
  readonly f: ModelFile;
  readonly handle: number;
  readonly start: number;
  ret: number;
}

/**
 * A call in [start, ret] after which `f`'s PRIME cache has an entry for `handle` and the dma-buf
 * of buffer `buf` (UNKNOWN_BUFFER: of some buffer): a PRIME export of the handle, or an import
 * that returned it.
 */
interface PrimeEntryObservation {
  readonly f: ModelFile;
  readonly handle: number;
  readonly buf: number;
  readonly start: number;
  readonly ret: number;
}

/**
 * A handle that a call in [start, ret] showed to be one of an object with flink name `name`: the
 * handle GEM_OPEN(name) made, or a handle whose GEM_FLINK returned `name`. An object keeps its
 * name while it has a handle, so while this handle surely lives, the name opens this object.
 */
interface NameHolder {
  readonly f: ModelFile;
  readonly handle: number;
  readonly name: number;
  readonly start: number;
  readonly ret: number;
  /** The buffer, if the model knows it (UNKNOWN_BUFFER otherwise). */
  buf: number;
  readonly what: string;
}

/** A GEM_OPEN(name) or GEM_FLINK call in [start, ret], checked against the NameHolders. */
interface NameCall {
  readonly kind: "open" | "flink";
  readonly f: ModelFile;
  readonly name: number;
  /** GEM_FLINK: the handle flinked. */
  readonly handle?: number;
  readonly start: number;
  readonly ret: number;
  /** The ioctl's return value. */
  readonly result: number;
  /** The call may legitimately fail (an allocation failed meanwhile, or -EACCES: DRM_AUTH). */
  readonly excused: boolean;
  /** GEM_OPEN: the buffer it opened, if the model knows it (UNKNOWN_BUFFER otherwise). */
  buf: number;
}

/** A handle observed to name a buffer, checked once the run is over (see model.ts). */
interface NameObservation {
  readonly dev: number;
  readonly name: number;
  readonly buf: number;
  readonly size: number;
  readonly reported: number;
}

/**
 * Registers one device of `driver`; with `drawn` (private runs, and kms "flip" runs), with a
 * configuration drawn from the seed when the driver offers one (DriverUnderTest.registerDrawn:
 * qxl's surface slots and spice worker), so that a run's device is one of the settings the real
 * device allows; with `scanout` (kms "flip" runs) a device that scans out (qxl: its CRTC count).
 */
async function registerNodes(
  driver: DriverUnderTest,
  kernel: Kernel,
  drawn = false,
  scanout = false,
): Promise<DeviceNodes> {
  const r =
    drawn && driver.registerDrawn
      ? await (scanout
          ? driver.registerDrawn(kernel, choose, { scanout })
          : driver.registerDrawn(kernel, choose))
      : await driver.register(kernel);
  const reg: RegisteredDevice = "device" in r && !("driver" in r) ? r : { device: r as DrmDevice };
  const device = reg.device;
  const card = reg.card ?? device.primary?.path;
  if (!card) throw new Error(`${driver.name}: the registered device has no primary node`);
  return {
    device,
    card,
    render: reg.render !== undefined ? reg.render : (device.render?.path ?? null),
    scarce: reg.scarceMemory === true,
  };
}

export const PAGE = 4096;
export const MAX_FDS_PER_THREAD = 10;
/** The process that starts the unix garbage collection after the others exited (sockets only). */
const GC_TRIGGER_NAME = "fuzz-gc";
/** Socket fds and received files a thread keeps (socket operations; the rest it closes). */
export const MAX_EXTRA_PER_THREAD = 8;
/** poll(2) events of a dma-buf (include/uapi/asm-generic/poll.h). */
const POLLIN = 0x001;
const POLLOUT = 0x004;
/**
 * What a syscall returns when an allocation inside it failed: -ENOMEM, or -EFAULT for a user
 * access whose page could not be allocated (a shmem page on first touch: VM_FAULT_OOM in a
 * copy_{to,from}_user()).
 */
const ALLOC_ERRNOS: readonly number[] = [-ENOMEM, -EFAULT];
/** Free RAM (pages) under which a page allocation or charge may fail for want of memory. */
const LOW_RAM_PAGES = 256;
/** INT_MAX: the largest handle an idr hands out (GEM_CHANGE_HANDLE rejects larger ones). */
const INT_MAX = 0x7fff_ffff;
/**
 * GEM_CHANGE_HANDLE targets at the top of the u32 range: INT_MAX and INT_MAX - 1 are valid
 * handles, the others are rejected with -EINVAL.
 */
const BIG_HANDLES = [INT_MAX - 1, INT_MAX, INT_MAX + 1, 0xffff_ffff];
/**
 * The rates (in quarters) a process of a `private` run draws from for authenticating its new
 * primary files: half, three in four or always, always twice as often (swarm testing, as the race
 * weights). Real clients nearly always authenticate (Mesa's, X's); a process that often does not
 * keeps the -EACCES paths and the model's check of them busy.
 */
const AUTH_RATES = [2, 3, 4, 4] as const;
/**
 * The longest burst of qxl EXECBUFFER calls a private run draws (2 to this many): one burst of
 * single commands can fill a drawable release page (16 slots: the 17th release retires it,
 * qxl_alloc_release_reserved()).
 */
export const QXL_BURST_MAX = 17;
/** Commands per qxl EXECBUFFER call, drawn from (one twice as often). */
export const QXL_COMMANDS_PER_CALL = [1, 1, 2, 4] as const;
/** poll(2) timeouts drawn from, in virtual ns. */
const POLL_TIMEOUTS = [0, 1_000_000, 50_000_000];
/** A core DRM_AUTH ioctl (GEM_FLINK, GEM_OPEN): judged on the files of every device. */
const CORE_AUTH: AuthIoctl = {};
/** An ioctl that is not DRM_AUTH on any device (the KMS ioctls: flags 0). */
const NOT_DRM_AUTH: AuthIoctl = { devs: new Set() };

/**
 * The operations a race pairs (see opRace): two threads of one process run one each, at once,
 * on the same DRM file, handle (or another handle of the same buffer) and dma-buf fd.
 */
export const RACE_OPS = [
  "gem-close",
  "flink",
  "gem-open",
  "export",
  "import",
  "map",
  "create",
  "create-export",
  "export-close",
  "guess-close",
  "poll",
  "fence",
  "close-dmabuf",
  "change-handle",
  "create-flink-close",
  "epoll-wait",
  "close-drm",
  "child-open",
] as const;
export type RaceOp = (typeof RACE_OPS)[number];

/**
 * One fuzz run as a simulation scenario: boots a kernel, registers the devices, runs the
 * processes, waits for them, quiesces, checks the device counters and kmemleak, then checks the
 * model's deferred observations. Returns the model (its divergences are also splats).
 */
export function fuzzScenario(opts: FuzzOptions): (sim: Simulation) => Promise<void> {
  if (opts.drivers.length === 0) throw new RangeError("fuzz needs at least one driver");
  if (opts.masters && (opts.private || opts.kms))
    throw new RangeError("fuzz: masters need no private, no kms (fuzz-ops-master.ts)");
  if (opts.vmwVram && !opts.private)
    throw new RangeError("fuzz: vmwVram needs private (fuzz-ops-vmw-vram.ts)");
  const log = opts.syscallLog;
  /** `p` as the workload calls it: logged if a syscall log is wanted. */
  const wrap = (p: Process) => (log ? loggedProcess(p, log) : p);
  return () => new FuzzRun(opts, wrap).run();
}

/**
 * One schedule of the fuzz scenario (fuzzScenario()): the run's state (the reference model, the
 * observations the end-of-run checks read, the processes, the display server...) as fields, and
 * every operation, the reference model's checks, the display server's requests and the process
 * tree as methods, so that V8 compiles and optimizes each on its own instead of one closure of
 * thousands of lines per schedule. Made per schedule by the function fuzzScenario() returns;
 * run() is that schedule, in the order the closure ran it.
 */
export class FuzzRun {
  kernel!: Kernel;
  devs!: DeviceNodes[];
  corePrime!: boolean[];
  model!: FuzzModel;
  names!: NameObservation[];
  handleObs!: HandleObservation[];
  closes!: CloseObservation[];
  entries!: PrimeEntryObservation[];
  imports!: PrimeEntryObservation[];
  holders!: NameHolder[];
  nameCalls!: NameCall[];
  fdUses!: FdUse[];
  /** Socket operations: the sendmsg() calls, the sends to processes' queues, the pairs made. */
  sockSends!: SockSend[];
  procSends!: ProcSend[];
  sockIds!: number;
  /** Files passed by sendmsg() calls begun so far (a bound on the user's files in flight). */
  sockFdsSent!: number;
  /** The process whose thread opened each DRM file (its exit releases the file). */
  fileProc!: Map<ModelFile, ProcState>;
  /** Files opened at an fd number a sibling may still call through (unrecorded calls). */
  strayFiles!: Set<ModelFile>;
  exited!: boolean;
  server!: DisplayServer | null;
  auth!: AuthModel;
  /** The qxl devices' indexes: every qxl ioctl is DRM_AUTH. */
  qxlDevs!: AuthIoctl;
  /** Every magic GET_MAGIC returned on each device (the stale magics AUTH_MAGIC is given). */
  magics!: number[][];
  procs!: Process[];
  /** Child processes the races forked (waited for before the end-of-run checks). */
  children!: Process[];
  /**
   * Files that handle-making calls (CREATE_DUMB, GEM_OPEN, PRIME_FD_TO_HANDLE,
   * GEM_CHANGE_HANDLE) ran on: each counts its calls not returned yet (ModelFile.makeStarts()),
   * so that the end of the run can tell one whose thread died inside it (runEnded()).
   */
  makers!: Set<ModelFile>;
  /**
   * The operations step() draws from, with their weights, in the draw's order; the last slot
   * (weight 1, not listed) is exit. One table for the run: a thread's process only changes the
   * race weight, which step() reads from the thread.
   */
  OP_TABLE!: readonly (readonly [number, (ctx: ThreadCtx) => Promise<"ok">])[];
  /** The weights of OP_TABLE and the exit slot, without the race weight. */
  opTableWeight!: number;
  /** The name space: the thread's own names and the shared one. */
  SHARED_NAME!: "fz*";
  /** The nodes childOpen() opens: sw_sync, then each device's card and render node. */
  childPaths!: string[];
  /**
   * What the private ioctls made in one DRM file, for later calls on it by any thread: vmwgfx
   * surface, fence and context handles (ttm base objects, not GEM handles: they stay out of the
   * file's GEM bookkeeping), and the GEM handles the private creations made (`bos`: the ones a
   * GPU fill may target). An entry per open (a surface referenced twice is listed twice).
   */
  privFiles!: Map<ModelFile, PrivFile>;
  /** Every surface handle any file of a device got (GB_SURFACE_REF takes them by number). */
  devSurfaces!: number[][];
  kms!: KmsFuzz<ThreadCtx> | null;
  drmRead!: DrmReadFuzz<ThreadCtx, FdEntry> | null;
  /** The lease operations (opts.leases; fuzz-ops-lease.ts). */
  leases!: LeaseFuzz | null;

  constructor(
    /** The scenario's options. */
    readonly opts: FuzzOptions,
    /** `p` as the workload calls it: logged if a syscall log is wanted. */
    readonly wrap: (p: Process) => Process,
  ) {}

  /** The schedule: boot, the processes, then the end-of-run checks. */
  async run(): Promise<void> {
    const nProc = drawSize(this.opts.processes ?? 3, "fuzz processes");
    const nThreads = drawSize(this.opts.threads ?? 2, "fuzz threads");
    const nOps = drawSize(this.opts.ops ?? 10, "fuzz ops");
    this.kernel = Kernel.boot(
      undefined,
      this.opts.ramBytes ? { ramBytes: this.opts.ramBytes } : {},
    );
    this.devs = [];
    for (let i = 0; i < 2; i++)
      this.devs.push(
        await registerNodes(
          // vmwVram: vmwgfx's memory configuration drawn too (fuzz-ops-vmw-vram.ts).
          vmwVramDriver(this.opts.drivers[i % this.opts.drivers.length]!, this.opts.vmwVram),
          this.kernel,
          this.opts.private === true || this.opts.kms === "flip" || this.opts.leases === true,
          this.opts.kms === "flip" || this.opts.leases === true,
        ),
      );
    registerSwSync(this.kernel);
    // The PRIME cache's semantics are the core's (drm_gem_prime_fd_to_handle()); a driver with
    // its own PRIME ioctls (vmwgfx: ttm prime objects, base->handle) has its own.
    this.corePrime = this.devs.map(
      (d) => !d.device.driver.primeFdToHandle && !d.device.driver.primeHandleToFd,
    );
    this.opts.afterBoot?.();
    const baselines = this.devs.map((d) => drmDevCounters(d.device));
    const survivors = new Set<SlabObject>(liveObjects());
    this.model = new FuzzModel();
    this.names = [];
    this.handleObs = [];
    this.closes = [];
    this.entries = [];
    this.imports = [];
    this.holders = [];
    this.nameCalls = [];
    this.fdUses = [];
    this.sockSends = [];
    this.procSends = [];
    this.sockIds = 0;
    /** Threads made so far (ThreadCtx.lid). */
    let threadIds = 0;
    this.sockFdsSent = 0;
    this.fileProc = new Map<ModelFile, ProcState>();
    this.strayFiles = new Set<ModelFile>();
    this.exited = false;
    // With the private ioctls or KMS, a display server is each device's DRM master and
    // authenticates the clients (display-server.ts); it opens the cards before any client runs.
    // Without them, nothing of it runs: the run's steps and draws are as before.
    this.server =
      this.opts.private || this.opts.kms || (this.opts.leases && !this.opts.masters)
        ? new DisplayServer(
            this.devs.map((d) => d.card),
            () => this.model.tick(),
          )
        : null;
    if (this.server) await this.server.start(this.kernel, this.wrap);
    this.auth = new AuthModel();
    this.qxlDevs = {
      devs: new Set(
        this.devs.flatMap((d, i) => (privateDriver(d.device.driver.name) === "qxl" ? [i] : [])),
      ),
    };
    this.magics = this.devs.map(() => []);
    this.procs = [];
    this.children = [];
    // With masters, one process is privileged (fuzz-ops-master.ts); no draw without them.
    const rootProc = drawRootProcess(this.opts.masters, nProc);
    for (let i = 0; i < nProc; i++) {
      // Swarm testing: each process races often or not at all, and pairs only a few of the
      // operations, so that a run concentrates on some combinations instead of diluting all.
      const planned = this.opts.plan?.[i % this.opts.plan.length];
      let races: number;
      let raceOps: readonly RaceOp[];
      if (planned) {
        races = planned.races;
        raceOps = planned.raceOps.length > 0 ? planned.raceOps : RACE_OPS;
      } else {
        races = [0, 4, 10, 30][choose(4, "fuzz race weight")]!;
        raceOps = RACE_OPS.filter((_, k) => choose(3, `fuzz race op ${k}`) === 0);
        if (raceOps.length === 0) raceOps = [RACE_OPS[choose(RACE_OPS.length, "fuzz race op")]!];
      }
      // With the private ioctls, how often the process's new primary files get authenticated.
      const authRate = this.server ? AUTH_RATES[choose(AUTH_RATES.length, "fuzz auth rate")]! : 0;
      const proc = spawnerFor(this.kernel, i === rootProc)(processName(i), async (p0) => {
        const p = this.wrap(p0);
        const ps: ProcState = {
          ctxs: [],
          timeline: null,
          points: 0,
          signalled: 0,
          races,
          raceOps,
          staleFds: new Set(),
          endTick: Number.POSITIVE_INFINITY,
          epfd: null,
          fdm: new FdTableModel(() => this.model.tick()),
          clobbers: [],
          busy: new Map(),
          held: new Set(),
          authRate,
          root: i === rootProc,
        };
        const body = async (ctx: ThreadCtx) => {
          // Something to work on: a card fd and a buffer.
          await this.opOpen(ctx, true);
          await this.opCreate(ctx);
          // With socket operations, a socket pair too.
          if (this.opts.sockets) await opSocketpair(this, ctx, true);
          // With listening sockets, a listener of its own too (socket(), bind(), listen()).
          if (this.opts.sockets === "listen") await listenerSetup(this, ctx);
          for (let k = 0; k < nOps; k++) {
            ctx.last = k === nOps - 1;
            const r = await this.step(ctx);
            if (r === "exit") {
              this.exited = true;
              return;
            }
          }
          // Signal what this process's timeline still owes, so nobody waits for the exit.
          if (ps.timeline !== null && ps.points > ps.signalled) await this.doSignal(ctx, true);
        };
        const mk = (tp: Process): ThreadCtx => {
          const c: ThreadCtx = {
            p: tp,
            fds: [],
            siblings: ps.ctxs,
            proc: ps,
            last: false,
            unshared: false,
            closedFds: [],
            extra: [],
            names: new Map(),
            lid: threadIds++,
          };
          ps.ctxs.push(c);
          return c;
        };
        const main = mk(p);
        const others = Array.from({ length: nThreads - 1 }, (_, t) => {
          const c = mk(p);
          return p.spawnThread(threadName(t + 1), () => body(c));
        });
        await body(main);
        for (const t of others) await t.join();
        ps.endTick = Math.min(ps.endTick, this.model.tick());
      });
      this.procs.push(proc);
    }

    this.makers = new Set<ModelFile>();

    this.OP_TABLE = [
      [2, this.opOpen.bind(this)],
      [3, this.opCreate.bind(this)],
      [2, this.opGemClose.bind(this)],
      [2, this.opFlink.bind(this)],
      [2, this.opGemOpen.bind(this)],
      [3, this.opExport.bind(this)],
      [2, this.opImport.bind(this)],
      [1, opDup.bind(null, this)],
      [1, opClose.bind(null, this)],
      [1, opSend.bind(null, this)],
      [1, opRecv.bind(null, this)],
      [1, this.opGarbageIoctl.bind(this)],
      [1, this.opHostile.bind(this)],
      [1, this.opTouch.bind(this)],
      [1, this.opFence.bind(this)],
      [1, this.opPoll.bind(this)],
      [2, this.opChangeHandle.bind(this)],
      [1, opDup2.bind(null, this)],
      [1, opDup3.bind(null, this)],
      [1, opCloseRange.bind(null, this)],
      // Socket operations (opts.sockets), after every other: without them the draw is as before.
      ...(this.opts.sockets
        ? ([
            [3, opSocketpair.bind(null, this)],
            [6, opSockSend.bind(null, this)],
            [6, opSockRecv.bind(null, this)],
            [2, opSockPass.bind(null, this)],
            [2, opSockClose.bind(null, this)],
          ] as const)
        : []),
      // Listening sockets (opts.sockets "listen"), after those: a "+unix" run draws as before.
      ...(this.opts.sockets === "listen"
        ? ([
            [2, opSocket.bind(null, this)],
            [2, opBind.bind(null, this)],
            [2, opListen.bind(null, this)],
            [6, opConnect.bind(null, this)],
            [6, opAccept.bind(null, this)],
          ] as const)
        : []),
      // Driver-private ioctls (opts.private), after those: a run without them draws as before;
      // and, with them, DRM authentication (GET_MAGIC, AUTH_MAGIC, DROP/SET_MASTER).
      ...(this.opts.private
        ? ([
            [8, opPrivate.bind(null, this)],
            [3, this.opAuth.bind(this)],
          ] as const)
        : []),
      // KMS framebuffers (opts.kms, kms.ts), last: a run without them draws as before.
      // ("flip" runs: twice the weight, the flips being some of its draws.)
      ...(this.opts.kms
        ? ([[this.opts.kms === "flip" ? 8 : 4, this.opKms.bind(this)]] as const)
        : []),
      // DRM fds read, polled and fstat()ed (opts.drmRead, drm-read.ts), after those.
      ...(this.opts.drmRead ? ([[4, this.opDrmRead.bind(this)]] as const) : []),
      // MSG_OOB on sockets (opts.oob, fuzz-ops-sock.ts), last: a run without it draws as before.
      ...(this.opts.oob ? ([[8, opSockOob.bind(null, this)]] as const) : []),
      // DRM masters with a privileged process (opts.masters, fuzz-ops-master.ts), after every other.
      ...(this.opts.masters ? ([[4, opMaster.bind(null, this)]] as const) : []),
      // DRM leases (opts.leases, fuzz-ops-lease.ts), after every other: the draw is as before
      // without them.
      ...(this.opts.leases ? ([[6, this.opLease.bind(this)]] as const) : []),
    ];
    this.opTableWeight = 1;
    for (const [w] of this.OP_TABLE) this.opTableWeight += w;

    // -----------------------------------------------------------------------------------------
    // Listening sockets (opts.sockets "listen"): socket(2), bind(2), listen(2), connect(2),
    // accept4(2), with socket-model.ts predicting each result from what the thread knows. Names
    // are abstract: three of the thread's own (`fz<lid>.<k>`: its binds collide, -EADDRINUSE,
    // and it knows who listens there) and one shared by the run (`fz*`: binds and connects of
    // other threads collide; only loose verdicts). Nothing sleeps: connect() and accept4() are
    // drawn only where they cannot block (an O_NONBLOCK socket, or a listener whose queue the
    // thread knows), since a sleep nobody ends would end the run as a deadlock.

    this.SHARED_NAME = "fz*";

    this.childPaths = [SW_SYNC_PATH];
    for (const d of this.devs)
      this.childPaths.push(d.card, ...(d.render === null ? [] : [d.render]));

    // ---- Driver-private ioctls (opts.private; private-ioctls.ts) ---------------------------

    this.privFiles = new Map<ModelFile, PrivFile>();
    this.devSurfaces = this.devs.map(() => []);

    // ---- KMS framebuffers (opts.kms; kms.ts) -------------------------------------------------

    this.kms =
      this.opts.kms && this.server
        ? new KmsFuzz<ThreadCtx>({
            devs: this.devs.map((d) => ({
              driver: d.device.driver.name,
              modeset: (d.device.driver.driverFeatures & DRIVER_MODESET) !== 0,
              crtcs: d.device.modeConfig.numCrtc,
            })),
            flip: this.opts.kms === "flip",
            bufferDev: (buf) => this.model.buffers.get(buf)?.dev ?? null,
            server: this.server,
            tick: () => this.model.tick(),
            diverge: (what) => this.model.diverge(what),
            failMark: this.failMark.bind(this),
            allocFailed: this.allocFailed.bind(this),
            pickDrm: (ctx) => this.pickDrm(ctx),
            proc: (ctx) => ctx.p,
            ioctl: (ctx, e, cmd, arg, what, make) =>
              privIoctl(this, ctx, e as FdEntry, cmd, arg, what, { make, auth: NOT_DRM_AUTH }),
            lookupHandle: (f, label) => privLookupHandle(this, f as ModelFile, label),
            joinHandle: (e, own, h, t0, t1) => privHandle(this, e as FdEntry, own, h, t0, t1, true),
            knownNames: (dev) => this.model.knownNames.filter(([d]) => d === dev).map(([, n]) => n),
            flink: async (ctx, e, own, label) => {
              const h = this.pickHandle((e as FdEntry).file!, label);
              if (h === undefined) return null;
              return (await this.doFlink(ctx, e as FdEntry, own, h, false)) ?? null;
            },
            underServer: (f) => this.auth.underServer(f as ModelFile),
            nameOpens: () =>
              this.nameCalls.filter((c) => c.kind === "open").map((c) => ({ ...c, dev: c.f.dev })),
            exportDmabuf: async (ctx, e, own) => {
              const h = this.pickHandle((e as FdEntry).file!, "fuzz kms prime handle");
              return h === undefined ? null : this.doExport(ctx, e as FdEntry, own, h, true);
            },
            bufferSize: (buf) => this.model.buffers.get(buf)?.size ?? null,
            sendDmabuf: async (ctx, to, d) => {
              const m = this.failMark();
              const t0 = this.model.tick();
              busy(this, ctx.proc, d.fd, 1);
              const rec = procSend(this, ctx, to, d.fd);
              const ret = await ctx.p.sendFd(to, d.fd);
              if (rec) rec.ret = this.model.tick();
              busy(this, ctx.proc, d.fd, -1);
              return { ret, m, trusted: !d.closed && !lostFd(this, ctx.proc, d.fd, t0) };
            },
            closeDmabuf: async (ctx, d) => {
              const e = d as FdEntry;
              const i = ctx.fds.indexOf(e);
              if (i < 0 || e.closed) return;
              ctx.fds.splice(i, 1);
              e.closed = true;
              const ret = await this.closeFd(ctx, e.fd);
              if (ret !== 0) this.model.diverge(`close(${e.fd}) of an open fd = ${ret}`);
            },
          })
        : null;

    // ---- DRM fds read, polled and fstat()ed (opts.drmRead; drm-read.ts) ---------------------

    this.drmRead = this.opts.drmRead
      ? new DrmReadFuzz<ThreadCtx, FdEntry>({
          drivers: this.devs.map((d) => d.device.driver.name),
          tick: () => this.model.tick(),
          diverge: (what) => this.model.diverge(what),
          failMark: this.failMark.bind(this),
          allocFailed: this.allocFailed.bind(this),
          proc: (ctx) => ctx.p,
          pickDrm: (ctx) => this.pickDrm(ctx),
          ownDrm: (ctx) => ctx.fds.filter((e) => e.kind === "drm"),
          pickAnyFd: (ctx) => {
            const all = [...ctx.fds.map((e) => e.fd), ...ctx.extra.map((x) => x.fd)];
            all.push(...ctx.closedFds, ...untouchable(this, ctx.proc));
            return this.pick(all, "fuzz drmread fd") ?? null;
          },
          open: async (ctx, flags) => {
            const n = ctx.fds.length;
            await this.opOpen(ctx, false, flags);
            return ctx.fds.length > n ? ctx.fds[ctx.fds.length - 1]!.file! : null;
          },
          fdUse: this.fdUse.bind(this),
          ioctl: async (ctx, e, cmd, arg, what) =>
            (await privIoctl(this, ctx, e, cmd, arg, what)).ret,
          nodePath: (dev, primary) => (primary ? this.devs[dev]!.card : this.devs[dev]!.render!),
          killed: (ctx) => {
            this.exited = true;
            ctx.proc.endTick = Math.min(ctx.proc.endTick, this.model.tick());
          },
        })
      : null;

    // ---- DRM leases (opts.leases; fuzz-ops-lease.ts) -----------------------------------------

    this.leases = this.opts.leases ? new LeaseFuzz(this) : null;

    for (const proc of this.procs) await proc.wait();
    for (const child of this.children) await child.wait();
    // Every client is done: the display server closes its cards and exits.
    if (this.server) await this.server.finish();
    if (this.opts.sockets) {
      // Sockets left in flight in each other's queues (a cycle whose fds were all closed) wait
      // for the next unix garbage collection, which the release of any unix socket starts while
      // sockets are in flight (unix_release_sock(): unix_gc() when unix_tot_inflight is not 0).
      // A last process makes and closes a pair, as any later user of unix sockets would;
      // kernel.quiesce() below runs the collection. Everything must then be freed.
      const gc = this.kernel.spawnProcess(GC_TRIGGER_NAME, async (p0) => {
        const p = this.wrap(p0);
        const pair = await p.socketpair(AF_UNIX, SOCK_STREAM, 0);
        if (typeof pair === "number") {
          this.model.diverge(`socketpair() of the last process = ${pair}`);
          return;
        }
        for (const fd of pair) {
          const r = await p.close(fd);
          if (r !== 0) this.model.diverge(`close(${fd}) of the last process's socket = ${r}`);
        }
      });
      await gc.wait();
    }
    // The drivers' private ioctls leave work on the devices and device state that only unloading
    // the driver frees (qxl: releases the device has not handed back yet, the cached release bos
    // commands sub-allocate from): the driver's settle gives them back, as a harness does before
    // it checks a live device for leaks (vmwgfx: also the event fence actions FENCE_EVENT left on
    // the cleanup list, opts.drmRead; qxl: the dumb shadow bo of its scanout, opts.kms "flip").
    // Only with them: a run without calls no settle, and its steps stay.
    // (Flips: once the machine is quiet, every file released, so that no plane shows a dumb
    // framebuffer any more whose shadow the device's would outlive.)
    if (this.opts.kms === "flip" || this.opts.leases) await this.kernel.quiesce();
    if (this.opts.private || this.opts.drmRead || this.opts.kms === "flip" || this.opts.leases)
      for (let i = 0; i < this.devs.length; i++)
        await this.opts.drivers[i % this.opts.drivers.length]!.settle?.(
          this.kernel,
          this.devs[i]!.device,
        );
    // kernel.quiesce() flushes the system workqueues; a driver's own (TTM's delayed delete on
    // vmwgfx and qxl) may finish a release after it returns: settle until the device counters
    // stop changing (a few rounds at most) before calling what is left a leak.
    let settled = "";
    for (let round = 0; round < 4; round++) {
      await this.kernel.quiesce();
      const now = JSON.stringify(this.devs.map((d) => drmDevCounters(d.device)));
      if (now === settled) break;
      settled = now;
    }
    checkDeviceLeaks(this.devs, baselines);
    await this.kernel.checkLeaks({ ignore: (o) => survivors.has(o) });
    // Which files each GET_MAGIC may have reached is known once every fd's every life is
    // recorded (fd-model.ts, auth-model.ts): by now, before the fd uses are checked.
    this.auth.resolve();
    this.kms?.check();
    endOfRunChecks({
      model: this.model,
      fdUses: this.fdUses,
      makers: this.makers,
      handleObs: this.handleObs,
      strayFiles: this.strayFiles,
      imports: this.imports,
      entries: this.entries,
      closes: this.closes,
      corePrime: this.corePrime,
      fileProc: this.fileProc,
      nameCalls: this.nameCalls,
      holders: this.holders,
      names: this.names,
      exited: this.exited,
    });
  }

  /** Marks `f` stray (also for its own untouchedSince(): see ModelFile.stray). */
  markStray(f: ModelFile) {
    f.stray = true;
    this.strayFiles.add(f);
  }

  /** Runs `call`, a handle-making call on `f`, counted among `f`'s calls not returned yet (makers). */
  async creating<T>(f: ModelFile, call: () => Promise<T>): Promise<T> {
    this.makers.add(f);
    f.makeStarts();
    const r = await call();
    f.makeReturned();
    return r;
  }

  /** A mark for allocFailed(): the allocation failures injected so far. */
  failMark() {
    return injectedFailures().length;
  }

  /**
   * True if `ret` is what a syscall returns when an allocation inside it failed, and one may
   * have failed since `mark`: a failure was injected (failslab, fail-nth: the stress app's
   * `--faults`), or free RAM is nearly gone. Then the call's failure is legitimate; without
   * one, the same errno is a divergence.
   */
  allocFailed(ret: unknown, mark: number) {
    return (
      typeof ret === "number" &&
      ALLOC_ERRNOS.includes(ret) &&
      (injectedFailures().length > mark || nrFreePages() < LOW_RAM_PAGES)
    );
  }

  /**
   * Records, for the end of the run, a call on `fd` of the thread's process that ran in
   * [start, ret], returned `result`, and could only have come from an object `fits` accepts.
   */
  fdUse(
    ctx: ThreadCtx,
    fd: number,
    start: number,
    ret: number,
    result: number,
    what: string,
    fits: (o: FdObject) => boolean,
  ) {
    this.fdUses.push({ table: ctx.proc.fdm, fd, start, ret, result, what, fits });
  }

  /**
   * A DRM ioctl through `e` (see fdUse()): -ENOTTY only from a file that is not DRM's. With
   * `handle`, an ioctl on that handle whose result `noSuch` says the file has no such handle:
   * not from `e`'s file if the handle surely lived in it throughout the call (a call that
   * reached the file holds a reference on it, so its handles stay until the call returns, even
   * if the fd is closed meanwhile). With `authIo` (a DRM_AUTH ioctl, in a run with the display
   * server), -EACCES only from a file not surely authenticated, and anything else only from one
   * that may have been (auth-model.ts).
   */
  drmUse(
    ctx: ThreadCtx,
    e: FdEntry,
    start: number,
    ret: number,
    result: number,
    what: string,
    handle?: { h: number; noSuch: number; self?: CloseObservation },
    authIo?: AuthIoctl,
  ) {
    const f = e.file!;
    const kind = drmIoctlFits(result, -ENOTTY);
    let fits =
      handle === undefined || result !== handle.noSuch
        ? kind
        : (o: FdObject) =>
            kind(o) &&
            !(
              o.kind === "drm" &&
              o.file === f &&
              this.surelyHeld(f, handle.h, start, ret, handle.self)
            );
    if (authIo && this.server) fits = this.auth.authFits(fits, result, -EACCES, start, ret, authIo);
    this.fdUse(ctx, e.fd, start, ret, result, `${what} = ${result}`, fits);
  }

  /**
   * True if `handle` of `f` surely lived throughout [start, ret] (checked at the end of the
   * run): a call that made it returned before `start`, and no GEM_CLOSE or GEM_CHANGE_HANDLE
   * of the number that may have run after that call began started before `ret` (no garbage
   * or stray call could reach the file). `self`: the checked call's own record, if it is one.
   */
  surelyHeld(
    f: ModelFile,
    handle: number,
    start: number,
    ret: number,
    self?: CloseObservation,
  ): boolean {
    if (this.strayFiles.has(f)) return false;
    const made = f.madeBefore(handle, start);
    if (made === null) return false;
    return made.some(
      (s) =>
        !this.closes.some(
          (c) => c !== self && c.f === f && c.handle === handle && c.ret > s && c.start < ret,
        ),
    );
  }

  /** close(`fd`) of a file the thread made, recorded in the process's fd model. */
  async closeFd(ctx: ThreadCtx, fd: number): Promise<number> {
    busy(this, ctx.proc, fd, 1);
    const c0 = this.model.tick();
    const ret = await ctx.p.close(fd);
    ctx.proc.fdm.closed(fd, c0, this.model.tick());
    busy(this, ctx.proc, fd, -1);
    ctx.closedFds.push(fd);
    if (ctx.closedFds.length > 4) ctx.closedFds.shift();
    return ret;
  }

  /** One random operation of a thread; "exit" ends its process. */
  async step(ctx: ThreadCtx): Promise<"ok" | "exit"> {
    // The same draw as over a table listing every operation, opRace last (weight: the
    // process's races): built once for the run, not per operation (closures and arrays).
    let c = choose(this.opTableWeight + ctx.proc.races, "fuzz op");
    for (let i = 0; i < this.OP_TABLE.length; i++) {
      const [w, fn] = this.OP_TABLE[i]!;
      if (c < w) return fn(ctx);
      c -= w;
    }
    if (c < ctx.proc.races) return this.opRace(ctx);
    c -= ctx.proc.races;
    // Exit mid-way, rarely: the whole process goes, its other threads at their next
    // syscall boundary.
    if (choose(6, "fuzz exit") === 0) {
      this.exited = true;
      ctx.proc.endTick = Math.min(ctx.proc.endTick, this.model.tick());
      await ctx.p.exit(choose(3, "fuzz exit code"));
    }
    return "ok";
  }

  /** One element of `list`, drawn under `label`; undefined (and no draw) if it is empty. */
  pick<T>(list: readonly T[], label: string): T | undefined {
    return list.length === 0 ? undefined : list[choose(list.length, label)];
  }

  /** A DRM fd of this thread (or, sometimes, of a sibling: the file becomes shared). */
  pickDrm(ctx: ThreadCtx, primaryOnly = false): { e: FdEntry; own: boolean } | null {
    let owner = ctx;
    if (ctx.siblings.length > 1 && choose(2, "fuzz sibling fd") === 0)
      owner = this.pick(ctx.siblings, "fuzz sibling") ?? ctx;
    const list = owner.fds.filter((e) => e.kind === "drm" && (!primaryOnly || e.file!.primary));
    const e = this.pick(list, "fuzz drm fd");
    if (!e) return null;
    const own = owner === ctx;
    if (!own) e.file!.shared = true;
    return { e, own };
  }

  /**
   * A live handle of `f`, weighted towards handles of buffers already shared in some way (a
   * flink name, a dma-buf, an import or open whose buffer the model could not tell).
   */
  pickHandle(f: ModelFile, label: string): number | undefined {
    const live = [...f.live.keys()];
    if (live.length === 0) return undefined;
    if (choose(3, label) !== 0) {
      const hot = live.filter((h) => {
        const b = f.live.get(h)!;
        return b === UNKNOWN_BUFFER || this.model.exported.has(b) || this.model.named.has(b);
      });
      if (hot.length > 0) return this.pick(hot, label);
    }
    return this.pick(live, label);
  }

  /** A dma-buf fd of this thread, preferably one of buffer `buf`. */
  ownDmabuf(ctx: ThreadCtx, buf?: number): FdEntry | undefined {
    const all = ctx.fds.filter((e) => e.kind === "dmabuf");
    if (buf !== undefined && choose(4, "fuzz dmabuf of buffer") !== 0) {
      const same = all.filter((e) => e.buf === buf);
      if (same.length > 0) return this.pick(same, "fuzz dmabuf fd");
    }
    return this.pick(all, "fuzz dmabuf fd");
  }

  /**
   * Maps `len` bytes of `fd` at `offset`, reads the stamp, unmaps. null on any failure, or if
   * `held` says, once the mapping exists, that the object may not be the one meant.
   */
  async stampAt(
    p: Process,
    fd: number,
    offset: number,
    len: number,
    held: () => boolean = () => true,
  ) {
    const addr = await p.mmap(0, len, PROT_READ, MAP_SHARED, fd, offset);
    if (addr < 0) return null;
    if (!held()) {
      await p.munmap(addr, len);
      return null;
    }
    const bytes = await p.readMemory(addr, STAMP_BYTES);
    await p.munmap(addr, len);
    const st = typeof bytes === "number" ? null : readStamp(bytes);
    // A stamp that may be on the wrong object names nothing for sure.
    return st && !this.model.ambiguous.has(st.id) ? st : null;
  }

  /** The stamp of the object `handle` names in `fd`'s file (MAP_DUMB + mmap). */
  async stampOfHandle(p: Process, fd: number, handle: number) {
    const arg = { handle, pad: 0, offset: 0 };
    if ((await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, arg)) !== 0) return null;
    return this.stampAt(p, fd, arg.offset, PAGE);
  }

  /**
   * Records, for the end of the run, that a call on `handle` of `f` that ran in [start, ret]
   * reached buffer `buf` (an export or a mapping) or got flink name `name`.
   */
  observe(o: HandleObservation) {
    this.handleObs.push(o);
  }

  /**
   * open(2) of a device's card node (always with `card`) or, sometimes, its render node; the new
   * DRM fd joins the thread's list (-EMFILE when the table is full).
   */
  async opOpen(ctx: ThreadCtx, card = false, flags = 0): Promise<"ok"> {
    if (ctx.fds.length >= MAX_FDS_PER_THREAD) return "ok";
    const dev = choose(this.devs.length, "fuzz dev");
    const d = this.devs[dev]!;
    const primary = card || d.render === null || choose(3, "fuzz node") !== 0;
    const m = this.failMark();
    const t0 = this.model.tick();
    const pend = ctx.proc.fdm.begin(t0);
    const fd = await ctx.p.open(primary ? d.card : d.render!, O_RDWR | flags);
    const t1 = this.model.tick();
    if (fd < 0) {
      ctx.proc.fdm.end(pend);
      if (fd !== -EMFILE && !this.allocFailed(fd, m)) this.model.diverge(`open(${d.card}) = ${fd}`);
      return "ok";
    }
    const file = new ModelFile(fd * 1000 + dev, dev, primary);
    file.nonblock = (flags & O_NONBLOCK) !== 0;
    // A sibling that used the file this number named may still be calling through it: its
    // calls reach this file unrecorded (a GEM_CLOSE of a guessed handle closes one of ours),
    // so the exclusive-file checks do not apply to it.
    if (ctx.proc.staleFds.has(fd)) {
      file.shared = true;
      this.markStray(file);
    }
    this.fileProc.set(file, ctx.proc);
    // Under the display server's mastership from before the open: the server's master, no
    // mastership or authentication of its own (auth-model.ts).
    if (this.server && primary) this.auth.opened(file, this.server.masterSince(dev, t0));
    ctx.proc.fdm.installed(fd, { kind: "drm", file }, t0, t1);
    ctx.proc.fdm.end(pend);
    // (A sibling's dup2() or close_range() may have taken the number meanwhile: not ours.)
    if (lostFd(this, ctx.proc, fd, t0)) return "ok";
    const e: FdEntry = { fd, kind: "drm", file };
    ctx.fds.push(e);
    // As a DRM client does (libdrm's drmGetMagic(), then its display server's drmAuthMagic()),
    // at the rate its process drew.
    const rate = ctx.proc.authRate;
    if (this.server && primary && rate > 0 && (rate === 4 || choose(4, "fuzz auth") < rate))
      await this.doAuth(ctx, e);
    return "ok";
  }

  /**
   * GET_MAGIC through `e` (any DRM file: a render client gets -EACCES, GET_MAGIC is not
   * DRM_RENDER_ALLOW); checked through the fd model: 0 only from a primary file (with a magic
   * of at least 1), -EACCES only from a render one, an allocation failure's errno only after
   * one. A file keeps its magic while open: through an fd that surely named it, the same magic
   * every time. Returns the magic, or null.
   */
  async doGetMagic(ctx: ThreadCtx, e: FdEntry): Promise<number | null> {
    const f = e.file!;
    const arg = { magic: 0 };
    const m = this.failMark();
    const t0 = this.model.tick();
    const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_GET_MAGIC, arg);
    const t1 = this.model.tick();
    this.auth.getMagic(ctx.proc.fdm, e.fd, t0, t1);
    this.auth.magicStarts(f, t0);
    const kind = drmIoctlFits(ret, -ENOTTY);
    this.fdUse(ctx, e.fd, t0, t1, ret, `GET_MAGIC = ${ret}`, (o) => {
      if (!kind(o)) return false;
      if (o.kind !== "drm") return true;
      return o.file.primary ? ret === 0 || this.allocFailed(ret, m) : ret === -EACCES;
    });
    if (ret !== 0) return null;
    if (!(arg.magic >= 1 && arg.magic <= INT_MAX))
      this.model.diverge(`GET_MAGIC gave magic ${arg.magic}`);
    this.magics[f.dev]!.push(arg.magic);
    if (!e.closed && !f.stray) {
      const before = this.auth.sawMagic(f, arg.magic);
      if (before !== null)
        this.model.diverge(`GET_MAGIC gave magic ${arg.magic}; the same file's gave ${before}`);
    }
    return arg.magic;
  }

  /**
   * A request to the display server, with the results the kernel can give it checked
   * (serverExpected(); the callers narrow AUTH_MAGIC down).
   */
  async ask(kind: ServerRequestKind, dev: number, magic = 0): Promise<ServerRequest> {
    const r = await this.server!.request(kind, dev, magic);
    if (!r.noFd && !serverExpected(r).includes(r.ret))
      this.model.diverge(
        `the display server's ${kind === "auth" ? `AUTH_MAGIC(${magic})` : kind === "drop" ? "DROP_MASTER" : "SET_MASTER"} = ${r.ret} (${r.master === true ? "as master" : r.master === false ? "not master" : "mastership unknown"})`,
      );
    return r;
  }

  /**
   * Authenticates the file of `e` as a client does: GET_MAGIC through it, then the display
   * server's AUTH_MAGIC of that magic. Certain (auth-model.ts): with the server surely master
   * throughout, a file opened under its master and open throughout, whose magic no other
   * AUTH_MAGIC running or begun since the file's first GET_MAGIC started was given, is
   * authenticated: 0. A 0
   * for such a file's magic (the magic map's entry is the file's while it is open) makes it
   * surely authenticated from then on.
   */
  async doAuth(ctx: ThreadCtx, e: FdEntry): Promise<void> {
    const f = e.file!;
    const magic = await this.doGetMagic(ctx, e);
    if (magic === null) return;
    const r = await this.ask("auth", f.dev, magic);
    if (r.noFd) return;
    const mine = r.master === true && this.auth.underServer(f) && !e.closed && !f.stray;
    if (!mine) return;
    if (r.ret === 0) {
      this.auth.authenticated(f, r.end);
      return;
    }
    // Another AUTH_MAGIC of the same number that had not returned when the file's first
    // GET_MAGIC started may have found the file's entry and used it up.
    const first = this.auth.firstMagicStart(f);
    const consumed = this.server!.devs[f.dev]!.auths.some(
      (o) => o !== r && o.magic === magic && o.end >= first,
    );
    if (!consumed)
      this.model.diverge(
        `the display server's AUTH_MAGIC(${magic}) of a client's own magic = ${r.ret}, expected 0`,
      );
  }

  /**
   * DRM authentication as a syscall among the others (private runs): a client's authentication
   * (GET_MAGIC and the server's AUTH_MAGIC) of one of its primary files, GET_MAGIC alone, the
   * server's AUTH_MAGIC of a stale magic (any GET_MAGIC gave on the device: 0 or -EINVAL) or of
   * a garbage one (-EINVAL as master), a client's own AUTH_MAGIC (DRM_MASTER: -EACCES from a file
   * opened under the server's master, or a render one), the server's DROP_MASTER and
   * SET_MASTER (a VT switch), and a client's own DROP_MASTER or SET_MASTER (-EACCES from a file
   * that was never master: drm_master_check_perm()).
   */
  async opAuth(ctx: ThreadCtx): Promise<"ok"> {
    const k = choose(10, "fuzz auth op");
    if (k <= 2) {
      const pk = this.pickDrm(ctx, true);
      if (pk) await this.doAuth(ctx, pk.e);
      return "ok";
    }
    if (k === 3) {
      const pk = this.pickDrm(ctx);
      if (pk) await this.doGetMagic(ctx, pk.e);
      return "ok";
    }
    if (k === 4 || k === 5) {
      const dev = choose(this.devs.length, "fuzz auth dev");
      const stale = k === 4 && this.magics[dev]!.length > 0;
      const magic = stale
        ? this.pick(this.magics[dev]!, "fuzz stale magic")!
        : GARBAGE_MAGICS[choose(GARBAGE_MAGICS.length, "fuzz garbage magic")]!;
      const r = await this.ask("auth", dev, magic);
      if (!stale && !r.noFd && r.master === true && r.ret !== -EINVAL)
        this.model.diverge(
          `the display server's AUTH_MAGIC(${magic}) of a garbage magic = ${r.ret}`,
        );
      return "ok";
    }
    if (k === 7 || k === 8) {
      await this.ask(k === 7 ? "drop" : "set", choose(this.devs.length, "fuzz master dev"));
      return "ok";
    }
    // A client's own AUTH_MAGIC (k 6), DROP_MASTER or SET_MASTER (k 9) through its DRM fd.
    const pk = this.pickDrm(ctx);
    if (!pk) return "ok";
    const { e } = pk;
    let cmd: number;
    let arg: object | undefined;
    let what: string;
    if (k === 6) {
      const known = this.magics[e.file!.dev]!;
      const magic =
        known.length > 0 && choose(2, "fuzz own auth magic") === 0
          ? this.pick(known, "fuzz own auth known")!
          : GARBAGE_MAGICS[choose(GARBAGE_MAGICS.length, "fuzz own auth garbage")]!;
      cmd = DRM_IOCTL_AUTH_MAGIC;
      arg = { magic };
      what = `AUTH_MAGIC(${magic})`;
    } else {
      const drop = choose(2, "fuzz own master op") === 0;
      cmd = drop ? DRM_IOCTL_DROP_MASTER : DRM_IOCTL_SET_MASTER;
      what = drop ? "DROP_MASTER" : "SET_MASTER";
    }
    const t0 = this.model.tick();
    const ret = await ctx.p.ioctl(e.fd, cmd, arg);
    const t1 = this.model.tick();
    // A file opened under the server's master never was master (nor is it the current one),
    // and a render client never is: -EACCES (drm_ioctl_permit()'s DRM_MASTER check for
    // AUTH_MAGIC, drm_master_check_perm() for the other two). Others: not judged.
    const kind = drmIoctlFits(ret, -ENOTTY);
    this.fdUse(ctx, e.fd, t0, t1, ret, `${what} = ${ret}`, (o) => {
      if (!kind(o)) return false;
      if (o.kind !== "drm") return true;
      if (!o.file.primary || this.auth.underServer(o.file)) return ret === -EACCES;
      return true;
    });
    return "ok";
  }

  /** CREATE_DUMB on a primary DRM fd of the thread (opening one first if it has none). */
  async opCreate(ctx: ThreadCtx): Promise<"ok"> {
    const pk = this.pickDrm(ctx, true);
    if (!pk) return this.opOpen(ctx);
    await this.doCreate(ctx, pk.e, pk.own);
    return "ok";
  }

  /** CREATE_DUMB (sometimes invalid) and the new buffer's stamp; its handle or null. */
  async doCreate(ctx: ThreadCtx, e: FdEntry, own: boolean): Promise<number | null> {
    const f = e.file!;
    const pages = 1 + choose(4, "fuzz pages");
    const invalid = choose(10, "fuzz create invalid") === 0;
    const arg = {
      width: invalid ? 0 : 1024,
      height: pages,
      bpp: 32,
      flags: 0,
      handle: 0,
      pitch: 0,
      size: 0,
    };
    const m = this.failMark();
    const t0 = this.model.tick();
    const ret = await this.creating(f, () => ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_CREATE_DUMB, arg));
    const t1 = this.model.tick();
    this.drmUse(ctx, e, t0, t1, ret, "CREATE_DUMB");
    if (e.closed) return null;
    if (invalid) {
      if (ret >= 0) this.model.diverge(`CREATE_DUMB with width 0 succeeded (${ret})`);
      return null;
    }
    if (ret !== 0) {
      if (this.allocFailed(ret, m)) {
        // A driver may fail after it made the handle, and leave it: vmwgfx's surface-backed
        // dumb buffer (v6.18 vmw_dumb_create() -> vmw_gb_surface_define_internal()) creates
        // the backup buffer's GEM handle (vmw_gem_object_create_with_handle()), then returns
        // ttm_prime_object_init()'s -ENOMEM with that handle still in the file. So the file
        // may hold a handle the model never sees, as after garbage arguments.
        f.shared = true;
        f.chaos = true;
      } else if (ret !== -ENOSPC && own && !f.shared) this.model.diverge(`CREATE_DUMB = ${ret}`);
      return null;
    }
    if (!f.shared && own && f.live.has(arg.handle))
      this.model.diverge(`CREATE_DUMB returned handle ${arg.handle}, still live in this file`);
    const b = this.model.addBuffer(arg.size, f.dev);
    f.addHandle(arg.handle, b.id);
    f.bind(arg.handle, b.id, t0, t1);
    // Stamp it before anything can share it (unless the number is being closed already: then
    // it may name another object by now, and the creator goes on at once).
    if (e.closed || !f.untouchedSince(arg.handle, t0)) {
      this.model.ambiguous.add(b.id);
      return arg.handle;
    }
    const map = { handle: arg.handle, pad: 0, offset: 0 };
    if ((await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_MAP_DUMB, map)) !== 0) {
      this.model.ambiguous.add(b.id);
      return arg.handle;
    }
    const addr = await ctx.p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, map.offset);
    if (addr < 0) {
      if (!f.shared && own && !e.closed && !this.allocFailed(addr, m))
        this.model.diverge(`mmap of a new buffer = ${addr}`);
      this.model.ambiguous.add(b.id);
      return arg.handle;
    }
    // Another thread may have closed the handle and got it back for another object before
    // MAP_DUMB: unless no GEM_CLOSE of that number ran since the creation began (and no
    // garbage touched the file), the mapping may be of another object.
    if (e.closed || !f.untouchedSince(arg.handle, t0)) {
      this.model.ambiguous.add(b.id);
      await ctx.p.munmap(addr, PAGE);
      return arg.handle;
    }
    // On a stray file a sibling's GEM_CHANGE_HANDLE through a stale fd may have moved the
    // object away unrecorded and another creation taken the number: the stamp is still
    // written (the same syscalls, so schedules stay), but it is never evidence.
    if (!f.namesItsObject(arg.handle, t0)) this.model.ambiguous.add(b.id);
    const w = await ctx.p.writeMemory(addr, stampOf(b.id, b.size / PAGE));
    if (!f.namesItsObject(arg.handle, t0)) this.model.ambiguous.add(b.id);
    if (w !== STAMP_BYTES) {
      // Unstamped (its page could not be allocated): the buffer is never evidence.
      this.model.ambiguous.add(b.id);
      if (!this.allocFailed(w, m)) this.model.diverge(`stamp store = ${w}`);
    }
    await ctx.p.munmap(addr, PAGE);
    return arg.handle;
  }

  /** GEM_CLOSE of a never-valid handle (-EINVAL), of a closed one, or of a live one. */
  async opGemClose(ctx: ThreadCtx): Promise<"ok"> {
    const pk = this.pickDrm(ctx);
    if (!pk) return "ok";
    const { e, own } = pk;
    const f = e.file!;
    const kind = choose(4, "fuzz close kind");
    if (kind === 0) {
      const handle = [0, 0x7fffffff, 0xffffffff][choose(3, "fuzz bad handle")]!;
      // (INT_MAX is a valid handle once a GEM_CHANGE_HANDLE may have moved one there.)
      const never = !f.changeTargets.has(handle);
      await this.doGemClose(ctx, e, own, handle, never ? -EINVAL : null, never);
    } else if (kind === 1 && f.closed.size > 0) {
      const handle = this.pick([...f.closed], "fuzz closed handle")!;
      await this.doGemClose(ctx, e, own, handle, -EINVAL, false);
    } else {
      const h = this.pickHandle(f, "fuzz live handle");
      if (h !== undefined) await this.doGemClose(ctx, e, own, h, 0, false);
    }
    return "ok";
  }

  /**
   * GEM_CLOSE of `handle`; `expect` is checked on a file this thread owns alone. `cmd`: another
   * request that deletes a GEM handle as GEM_CLOSE does (vmwgfx's HANDLE_CLOSE,
   * drm_gem_handle_delete(): the same errno), named `label`.
   */
  async doGemClose(
    ctx: ThreadCtx,
    e: FdEntry,
    own: boolean,
    handle: number,
    expect: number | null,
    neverValid: boolean,
    cmd: number = DRM_IOCTL_GEM_CLOSE,
    label = "GEM_CLOSE",
  ) {
    const f = e.file!;
    f.closeStarts(handle);
    const c0 = this.model.tick();
    // (Recorded at once: also through an fd closed meanwhile, which may have reached this
    // file first, and if the thread dies inside the call.)
    const rec: CloseObservation = { f, handle, start: c0, ret: Number.POSITIVE_INFINITY };
    this.closes.push(rec);
    const ret = await ctx.p.ioctl(
      e.fd,
      cmd,
      cmd === DRM_IOCTL_GEM_CLOSE ? { handle, pad: 0 } : { handle, pad64: 0 },
    );
    const c1 = this.model.tick();
    this.drmUse(ctx, e, c0, c1, ret, `${label}(${handle})`, {
      h: handle,
      noSuch: -EINVAL,
      self: rec,
    });
    f.closeReturned(handle, c1);
    rec.ret = c1;
    if (e.closed) return ret;
    // Evaluated after the call: a sibling that started using the file meanwhile marked it.
    const strict = own && !f.shared;
    // Likewise: a never-valid number (INT_MAX) stops being one once a GEM_CHANGE_HANDLE to it
    // starts, also a sibling's that starts while this close is in flight.
    const never = neverValid && !f.changeTargets.has(handle);
    const madeValid = neverValid && !never;
    if (
      expect !== null &&
      !madeValid &&
      (strict || (never && own)) &&
      ret !== expect &&
      ret !== -EACCES
    )
      this.model.diverge(`${label}(${handle}) = ${ret}, expected ${expect}`);
    if (ret === 0 || f.live.has(handle)) {
      f.live.delete(handle);
      f.closed.add(handle);
    }
    if (ret === 0) f.primeForget(handle);
    return ret;
  }

  /** GEM_FLINK of a handle of a primary DRM fd of the thread, and GEM_OPEN of the name. */
  async opFlink(ctx: ThreadCtx): Promise<"ok"> {
    const pk = this.pickDrm(ctx, true);
    if (!pk) return "ok";
    const h = this.pickHandle(pk.e.file!, "fuzz flink handle");
    if (h !== undefined) await this.doFlink(ctx, pk.e, pk.own, h, true);
    return "ok";
  }

  /**
   * GEM_FLINK of `handle`. An object keeps its name while it has a handle, so the flink of a
   * handle whose only possible life has a known name must return that name. With `reopen`, the
   * name of an object this file still holds is opened and must give that very object.
   */
  async doFlink(ctx: ThreadCtx, e: FdEntry, own: boolean, h: number, reopen: boolean) {
    const f = e.file!;
    const buf = f.live.get(h) ?? UNKNOWN_BUFFER;
    const arg = { handle: h, name: 0 };
    const m = this.failMark();
    const t0 = this.model.tick();
    const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_GEM_FLINK, arg);
    const t1 = this.model.tick();
    this.drmUse(ctx, e, t0, t1, ret, `GEM_FLINK(${h})`, { h, noSuch: -ENOENT }, CORE_AUTH);
    if (e.closed) return;
    const excused = ret === -EACCES || ret === -ENOSPC || this.allocFailed(ret, m);
    this.nameCalls.push({
      kind: "flink",
      f,
      name: arg.name,
      handle: h,
      start: t0,
      ret: t1,
      result: ret,
      excused,
      buf: UNKNOWN_BUFFER,
    });
    if (ret !== 0) {
      if (own && !f.shared && ret !== -EACCES && ret !== -ENOSPC && !this.allocFailed(ret, m))
        this.model.diverge(`GEM_FLINK of live handle ${h} = ${ret}`);
      return;
    }
    // (Through a shared file the handle may have named another buffer by then.)
    this.model.addName(f.dev, arg.name, own && !f.shared ? buf : UNKNOWN_BUFFER);
    this.observe({ f, handle: h, start: t0, ret: t1, name: arg.name, what: "GEM_FLINK" });
    this.holders.push({
      f,
      handle: h,
      name: arg.name,
      start: t0,
      ret: t1,
      buf: own && !f.shared ? buf : UNKNOWN_BUFFER,
      what: `GEM_FLINK of handle ${h}`,
    });
    if (!own || !reopen) return arg.name;
    // The name of an object this file still holds must open that very object.
    const open = { name: arg.name, handle: 0, size: 0 };
    const s0 = this.model.tick();
    const r2 = await this.creating(f, () => ctx.p.ioctl(e.fd, DRM_IOCTL_GEM_OPEN, open));
    const s1 = this.model.tick();
    this.drmUse(ctx, e, s0, s1, r2, `GEM_OPEN(${arg.name})`, undefined, CORE_AUTH);
    if (e.closed) return;
    const strict = !f.shared;
    this.recordOpen(f, arg.name, s0, s1, r2, m, open.handle, strict ? buf : UNKNOWN_BUFFER);
    if (r2 !== 0) {
      if (!f.shared && r2 !== -EACCES && r2 !== -ENOSPC && !this.allocFailed(r2, m))
        this.model.diverge(`GEM_OPEN of name ${arg.name} just made for a live handle = ${r2}`);
      return;
    }
    f.addHandle(open.handle, strict ? buf : UNKNOWN_BUFFER);
    f.bind(open.handle, strict ? buf : UNKNOWN_BUFFER, s0, s1, { name: arg.name });
    const st = await this.stampOfHandle(ctx.p, e.fd, open.handle);
    if (f.shared || e.closed) return;
    if (st && buf !== UNKNOWN_BUFFER && st.id !== buf)
      this.model.diverge(`GEM_OPEN(name ${arg.name} of buffer ${buf}) opened buffer ${st.id}`);
    const size = this.model.buffers.get(buf)?.size;
    if (size !== undefined && open.size !== size)
      this.model.diverge(`GEM_OPEN(name ${arg.name}) size ${open.size}, buffer ${buf} has ${size}`);
  }

  /** GEM_OPEN of a flink name known on the device or, sometimes, of one never given. */
  async opGemOpen(ctx: ThreadCtx): Promise<"ok"> {
    const pk = this.pickDrm(ctx, true);
    if (!pk) return "ok";
    const f = pk.e.file!;
    const cands = this.model.knownNames.filter(([dev]) => dev === f.dev);
    const known = this.pick(cands, "fuzz name");
    const name = known && choose(6, "fuzz bad name") !== 0 ? known[1] : 0x7ffffff0;
    await this.doGemOpen(ctx, pk.e, pk.own, name);
    return "ok";
  }

  /** GEM_OPEN of `name`; sometimes GEM_FLINK of the new handle (it must give `name` back). */
  async doGemOpen(ctx: ThreadCtx, e: FdEntry, own: boolean, name: number): Promise<number | null> {
    const f = e.file!;
    const arg = { name, handle: 0, size: 0 };
    const m = this.failMark();
    const t0 = this.model.tick();
    const ret = await this.creating(f, () => ctx.p.ioctl(e.fd, DRM_IOCTL_GEM_OPEN, arg));
    const t1 = this.model.tick();
    this.drmUse(ctx, e, t0, t1, ret, `GEM_OPEN(${name})`, undefined, CORE_AUTH);
    if (e.closed) return null;
    // (Its buffer, read below, is not known yet: GEM_OPEN's buffer is checked by `names`.)
    const rec =
      name === 0x7ffffff0
        ? null
        : this.recordOpen(f, name, t0, t1, ret, m, arg.handle, UNKNOWN_BUFFER);
    if (name === 0x7ffffff0) {
      if (own && ret !== -ENOENT && ret !== -EACCES)
        this.model.diverge(`GEM_OPEN(unknown name) = ${ret}`);
      return null;
    }
    if (ret !== 0) return null;
    f.addHandle(arg.handle, UNKNOWN_BUFFER);
    const b = f.bind(arg.handle, UNKNOWN_BUFFER, t0, t1, { name });
    if (choose(2, "fuzz open then flink") === 0) await this.doFlink(ctx, e, own, arg.handle, false);
    const st = await this.stampOfHandle(ctx.p, e.fd, arg.handle);
    // (e.closed: a sibling's dup2() or close_range() may have put another file at the fd.)
    if (st && own && !f.shared && !e.closed) {
      this.names.push({
        dev: f.dev,
        name,
        buf: st.id,
        size: this.model.buffers.get(st.id)?.size ?? -1,
        reported: arg.size,
      });
      f.addHandle(arg.handle, st.id);
      b.buf = st.id;
      if (rec) {
        rec.call.buf = st.id;
        if (rec.holder) rec.holder.buf = st.id;
      }
    }
    return arg.handle;
  }

  /**
   * Records a GEM_OPEN(name) that ran in [start, ret] for the end-of-run name checks and, if it
   * made `handle`, that handle as a holder of the name.
   */
  recordOpen(
    f: ModelFile,
    name: number,
    start: number,
    ret: number,
    result: number,
    mark: number,
    handle: number,
    buf: number,
  ) {
    const excused = result === -EACCES || this.allocFailed(result, mark);
    const call: NameCall = { kind: "open", f, name, start, ret, result, excused, buf };
    this.nameCalls.push(call);
    if (result !== 0) return { call };
    const holder: NameHolder = {
      f,
      handle,
      name,
      start,
      ret,
      buf,
      what: `GEM_OPEN(name ${name})`,
    };
    this.holders.push(holder);
    return { call, holder };
  }

  /** PRIME_HANDLE_TO_FD of a handle of a DRM fd of the thread; the dma-buf fd is kept. */
  async opExport(ctx: ThreadCtx): Promise<"ok"> {
    const pk = this.pickDrm(ctx);
    if (!pk) return "ok";
    const h = this.pickHandle(pk.e.file!, "fuzz export handle");
    if (h !== undefined) await this.doExport(ctx, pk.e, pk.own, h, true);
    return "ok";
  }

  /** PRIME_HANDLE_TO_FD of `h`; the new dma-buf fd is kept (if `keep` and there is room). */
  async doExport(ctx: ThreadCtx, e: FdEntry, own: boolean, h: number, keep: boolean) {
    const f = e.file!;
    const arg = { handle: h, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
    const m = this.failMark();
    const t0 = this.model.tick();
    const pend = ctx.proc.fdm.begin(t0);
    const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, arg);
    const t1 = this.model.tick();
    if (ret !== 0) ctx.proc.fdm.end(pend);
    // (A driver with PRIME ioctls of its own may route a handle by its number: vmwgfx takes
    // handles above VMWGFX_NUM_MOB for TTM prime objects, so a GEM handle moved there by
    // GEM_CHANGE_HANDLE does not export. The core routes none.)
    const routed = !this.corePrime[f.dev] && f.changeTargets.has(h);
    this.drmUse(
      ctx,
      e,
      t0,
      t1,
      ret,
      `PRIME_HANDLE_TO_FD(${h})`,
      routed ? undefined : { h, noSuch: -ENOENT },
    );
    if (ret === 0 && e.closed) {
      ctx.proc.fdm.installed(arg.fd, { kind: "dmabuf", buf: UNKNOWN_BUFFER }, t0, t1);
      ctx.proc.fdm.end(pend);
      if (!lostFd(this, ctx.proc, arg.fd, t0)) await this.closeFd(ctx, arg.fd);
    }
    if (e.closed) return null;
    if (ret !== 0) {
      if (own && !f.shared && ret !== -EMFILE && !this.allocFailed(ret, m) && !routed)
        this.model.diverge(`PRIME_HANDLE_TO_FD of live handle ${h} = ${ret}`);
      return null;
    }
    let st = await this.stampAt(ctx.p, arg.fd, 0, PAGE);
    const size = await ctx.p.lseek(arg.fd, 0, SEEK_END);
    await ctx.p.lseek(arg.fd, 0, 0);
    // A sibling's dup2() or close_range() may have closed or replaced the fd meanwhile: what
    // was read through it may be another file's, and the number is no longer this thread's.
    const lost = lostFd(this, ctx.proc, arg.fd, t0);
    if (lost) st = null;
    // (The stamp is the dma-buf's own bytes: whatever handle the export reached, it is the
    // buffer this fd names.)
    ctx.proc.fdm.installed(arg.fd, { kind: "dmabuf", buf: st?.id ?? UNKNOWN_BUFFER }, t0, t1);
    ctx.proc.fdm.end(pend);
    this.entries.push({ f, handle: h, buf: st?.id ?? UNKNOWN_BUFFER, start: t0, ret: t1 });
    if (st) {
      const b = this.model.buffers.get(st.id);
      const strict = own && !f.shared;
      if (strict && !f.handleHasNamed(h, st.id) && !f.handleHasNamed(h, UNKNOWN_BUFFER))
        this.model.diverge(
          `PRIME export of handle ${h} gave buffer ${st.id}, which it never named`,
        );
      this.observe({ f, handle: h, start: t0, ret: t1, buf: st.id, what: "PRIME export" });
      if (b && size !== b.size)
        this.model.diverge(`dma-buf of buffer ${st.id} has size ${size}, the buffer ${b.size}`);
      this.model.exported.add(st.id);
      if (strict) f.primeAdd(st.id, h);
    }
    if (lost) return null;
    if (!keep || ctx.fds.length >= MAX_FDS_PER_THREAD) {
      await this.closeFd(ctx, arg.fd);
      return null;
    }
    const entry: FdEntry = { fd: arg.fd, kind: "dmabuf", buf: st?.id };
    ctx.fds.push(entry);
    return entry;
  }

  /** PRIME_FD_TO_HANDLE of one of the thread's dma-buf fds, on the same device or the other. */
  async opImport(ctx: ThreadCtx): Promise<"ok"> {
    const d = this.ownDmabuf(ctx);
    const pk = this.pickDrm(ctx);
    if (d && pk) await this.doImport(ctx, pk.e, pk.own, d, true);
    return "ok";
  }

  /**
   * PRIME_FD_TO_HANDLE of `d` (`trust`: the fd surely still is `d`). An import of a dma-buf the
   * file has a PRIME cache entry for returns that entry's handle.
   */
  async doImport(
    ctx: ThreadCtx,
    e: FdEntry,
    own: boolean,
    d: FdEntry,
    trust: boolean,
  ): Promise<number | null> {
    const f = e.file!;
    const arg = { handle: 0, flags: 0, fd: d.fd };
    const t0 = this.model.tick();
    const ret = await this.creating(f, () => ctx.p.ioctl(e.fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, arg));
    const t1 = this.model.tick();
    this.drmUse(ctx, e, t0, t1, ret, `PRIME_FD_TO_HANDLE(fd ${d.fd})`);
    if (e.closed) return null;
    if (ret !== 0) return null;
    // (Evaluated after the call: a sibling's dup2() or close_range() of `d` marked it.)
    const buf = trust && !d.closed && d.buf !== undefined ? d.buf : UNKNOWN_BUFFER;
    f.addHandle(arg.handle, buf);
    f.bind(arg.handle, buf, t0, t1, { fresh: false });
    const entry: PrimeEntryObservation = { f, handle: arg.handle, buf, start: t0, ret: t1 };
    this.entries.push(entry);
    if (buf !== UNKNOWN_BUFFER) this.imports.push(entry);
    if (
      buf !== UNKNOWN_BUFFER &&
      own &&
      !f.shared &&
      this.corePrime[f.dev] &&
      !f.primeUnsure.has(buf)
    ) {
      const cached = f.prime.get(buf);
      if (cached && cached.size > 0 && !cached.has(arg.handle))
        this.model.diverge(
          `PRIME import of buffer ${buf}'s dma-buf gave handle ${arg.handle}, not its cached handle ${[...cached].join("/")}`,
        );
      f.primeAdd(buf, arg.handle);
    }
    // What does the new handle name? Natively: map it; foreign: re-export it and map that.
    let st = await this.stampOfHandle(ctx.p, e.fd, arg.handle);
    if (!st) {
      const re = { handle: arg.handle, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
      const r0 = this.model.tick();
      const pend = ctx.proc.fdm.begin(r0);
      if ((await ctx.p.ioctl(e.fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, re)) === 0) {
        ctx.proc.fdm.installed(
          re.fd,
          { kind: "dmabuf", buf: UNKNOWN_BUFFER },
          r0,
          this.model.tick(),
        );
        st = await this.stampAt(ctx.p, re.fd, 0, PAGE);
        // (Closed or replaced by a sibling's dup2() or close_range() meanwhile: not ours.)
        if (lostFd(this, ctx.proc, re.fd, r0)) st = null;
        else await this.closeFd(ctx, re.fd);
      }
      ctx.proc.fdm.end(pend);
    }
    // The buffer the dma-buf fd reached, if the handle surely named the imported object until
    // its stamp was read (no GEM_CLOSE or GEM_CHANGE_HANDLE of its number since the import
    // began, no garbage or stray call could reach the file): it must be one the fd held.
    if (
      st &&
      !e.closed &&
      !f.chaos &&
      !this.strayFiles.has(f) &&
      f.untouchedSince(arg.handle, t0)
    ) {
      const id = st.id;
      this.fdUse(
        ctx,
        d.fd,
        t0,
        t1,
        ret,
        `PRIME_FD_TO_HANDLE reached buffer ${id}`,
        (o) => o.kind === "dmabuf" && (o.buf === id || o.buf === UNKNOWN_BUFFER),
      );
    }
    if (st && buf !== UNKNOWN_BUFFER && st.id !== buf && own && !f.shared && !e.closed)
      this.model.diverge(
        `PRIME import of a dma-buf of buffer ${buf} gave a handle to buffer ${st.id}`,
      );
    return arg.handle;
  }

  /** MAP_DUMB of `h` and a read of the stamp through the mapping (checked like an export). */
  async doMap(ctx: ThreadCtx, e: FdEntry, h: number) {
    const f = e.file!;
    const arg = { handle: h, pad: 0, offset: 0 };
    const t0 = this.model.tick();
    const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_MAP_DUMB, arg);
    const t1 = this.model.tick();
    this.drmUse(ctx, e, t0, t1, ret, `MAP_DUMB(${h})`, { h, noSuch: -ENOENT });
    if (ret !== 0 || e.closed) return;
    // The offset names the handle's object only while it lives: once a GEM_CLOSE of the handle
    // may have freed it, the offset may belong to a newer object (drm_vma_offset_manager).
    const st = await this.stampAt(
      ctx.p,
      e.fd,
      arg.offset,
      PAGE,
      () => !e.closed && f.untouchedSince(h, t0),
    );
    if (st) this.observe({ f, handle: h, start: t0, ret: t1, buf: st.id, what: "MAP_DUMB" });
  }

  /** The process's sw_sync timeline, opened on first use (null if it cannot be). */
  async timeline(ctx: ThreadCtx): Promise<number | null> {
    if (ctx.proc.timeline !== null) return ctx.proc.timeline;
    const m = this.failMark();
    const t0 = this.model.tick();
    const pend = ctx.proc.fdm.begin(t0);
    const fd = await ctx.p.open(SW_SYNC_PATH, O_RDWR);
    const t1 = this.model.tick();
    ctx.proc.fdm.end(pend);
    if (fd < 0) {
      if (fd !== -EMFILE && !this.allocFailed(fd, m))
        this.model.diverge(`open(${SW_SYNC_PATH}) = ${fd}`);
      return null;
    }
    ctx.proc.fdm.installed(fd, { kind: "timeline" }, t0, t1);
    // (Closed or replaced by a sibling's dup2() or close_range() meanwhile: left to the exit.)
    if (lostFd(this, ctx.proc, fd, t0)) return null;
    // (A sibling may have opened one meanwhile: the process keeps the first, which its opener
    // may be using already and dup2()/close_range() leave alone only while it is the
    // process's; this fd is closed by the exit.)
    if (ctx.proc.timeline !== null) return ctx.proc.timeline;
    ctx.proc.timeline = fd;
    ctx.proc.points = 0;
    ctx.proc.signalled = 0;
    return fd;
  }

  /** A sw_sync fence on one of the thread's dma-bufs, signalled at once half the time. */
  async opFence(ctx: ThreadCtx): Promise<"ok"> {
    const d = this.ownDmabuf(ctx);
    if (d) await this.doFence(ctx, d, choose(2, "fuzz fence then signal") === 0, true);
    return "ok";
  }

  /**
   * A new point of the process's timeline becomes an implicit fence of the dma-buf `d`
   * (SW_SYNC_IOC_CREATE_FENCE, DMA_BUF_IOCTL_IMPORT_SYNC_FILE as a write or read fence, then
   * the sync_file is closed: the dma-buf's reservation object holds the only reference).
   * With `signal`, the timeline is advanced afterwards. (`trust`: the fd surely still is `d`.)
   */
  async doFence(ctx: ThreadCtx, d: FdEntry, signal: boolean, trust: boolean) {
    const tl = await this.timeline(ctx);
    if (tl === null) return;
    const value = ++ctx.proc.points;
    const data: SwSyncCreateFenceData = { value, name: "fuzz", fence: -1 };
    const m = this.failMark();
    const c0 = this.model.tick();
    const pend = ctx.proc.fdm.begin(c0);
    const r = await ctx.p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, data);
    const c1 = this.model.tick();
    ctx.proc.fdm.end(pend);
    if (r !== 0) {
      if (r !== -EMFILE && r !== -EBADF && !this.allocFailed(r, m))
        this.model.diverge(`SW_SYNC_IOC_CREATE_FENCE = ${r}`);
      return;
    }
    ctx.proc.fdm.installed(data.fence ?? -1, { kind: "sync-file" }, c0, c1);
    const flags = choose(3, "fuzz fence kind") === 0 ? DMA_BUF_SYNC_READ : DMA_BUF_SYNC_WRITE;
    const i0 = this.model.tick();
    const imp = await ctx.p.ioctl(d.fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, {
      flags,
      fd: data.fence ?? -1,
    });
    const what = `DMA_BUF_IOCTL_IMPORT_SYNC_FILE = ${imp}`;
    this.fdUse(ctx, d.fd, i0, this.model.tick(), imp, what, dmabufIoctlFits(imp, -ENOTTY));
    // (`d.closed`: a sibling's dup2() or close_range() took the fd meanwhile.)
    if (
      trust &&
      !d.closed &&
      imp !== 0 &&
      imp !== -EBADF &&
      imp !== -EINVAL &&
      !this.allocFailed(imp, m)
    )
      this.model.diverge(`DMA_BUF_IOCTL_IMPORT_SYNC_FILE = ${imp}`);
    if (!lostFd(this, ctx.proc, data.fence ?? -1, c0)) await this.closeFd(ctx, data.fence ?? -1);
    if (signal) await this.doSignal(ctx, false);
  }

  /** SW_SYNC_IOC_INC of the process's timeline: by 1 or 2, or (`all`) to its last point. */
  async doSignal(ctx: ThreadCtx, all: boolean) {
    const tl = ctx.proc.timeline;
    if (tl === null) return;
    const by = all ? ctx.proc.points - ctx.proc.signalled : 1 + choose(2, "fuzz signal by");
    if (by <= 0) return;
    ctx.proc.signalled += by;
    const m = this.failMark();
    const r = await ctx.p.ioctl(tl, SW_SYNC_IOC_INC, { value: by });
    // (A thread whose close_range(CLOSE_RANGE_UNSHARE) gave it a table of its own may find
    // another file at the number, or none.)
    if (r !== 0 && r !== -EBADF && !ctx.unshared && !this.allocFailed(r, m))
      this.model.diverge(`SW_SYNC_IOC_INC(${by}) = ${r}`);
  }

  /** poll(2) of one of the thread's dma-buf fds or, a third of the time, SW_SYNC_IOC_INC. */
  async opPoll(ctx: ThreadCtx): Promise<"ok"> {
    if (choose(3, "fuzz poll or signal") === 0) {
      await this.doSignal(ctx, false);
      return "ok";
    }
    const d = this.ownDmabuf(ctx);
    if (d) await this.doPoll(ctx, d);
    return "ok";
  }

  /** poll(2) of the dma-buf `d` for POLLIN or POLLOUT, with a timeout. */
  async doPoll(ctx: ThreadCtx, d: FdEntry) {
    const events = [POLLIN, POLLOUT, POLLIN | POLLOUT][choose(3, "fuzz poll events")]!;
    const fds = [{ fd: d.fd, events, revents: 0 }];
    const timeout = POLL_TIMEOUTS[choose(POLL_TIMEOUTS.length, "fuzz poll timeout")]!;
    const m = this.failMark();
    const r = await ctx.p.poll(fds, timeout);
    if (!Number.isInteger(r) || r > 1 || (r < 0 && r !== -EINTR && !this.allocFailed(r, m)))
      this.model.diverge(`poll(dma-buf, ${events}) = ${r}`);
  }

  /**
   * epoll_ctl(EPOLL_CTL_ADD) of a dma-buf fd to the process's epoll fd, then epoll_wait() on it
   * without waiting (or briefly): the path on which epoll re-polls a dma-buf through its epitem,
   * which a racing close() of the fd may have doomed. The fd may be closed by the other side
   * (-EBADF) or already watched (-EEXIST); the wait reports at most the fds it watches.
   */
  async doEpollWait(ctx: ThreadCtx, d: FdEntry) {
    const epfd = ctx.proc.epfd;
    if (epfd === null) return;
    const events = [POLLIN, POLLOUT, POLLIN | POLLOUT][choose(3, "fuzz epoll events")]!;
    let m = this.failMark();
    const t0 = this.model.tick();
    const r = await ctx.p.epollCtl(epfd, EPOLL_CTL_ADD, d.fd, { events, data: d.fd });
    // -EPERM: a target without ->poll (a sw_sync timeline) or an epoll set; 0 or -EEXIST: one
    // with ->poll (in the set already: the fd's file was added before).
    // (DRM files: either, as a driver may or may not have ->poll.)
    const polls = (o: FdObject) => o.kind === "dmabuf" || o.kind === "sync-file";
    const pollless = (o: FdObject) => o.kind === "timeline" || o.kind === "epoll";
    this.fdUse(ctx, d.fd, t0, this.model.tick(), r, `epoll_ctl(ADD) = ${r}`, (o) =>
      r === -EPERM ? !polls(o) : r === 0 || r === -EEXIST ? !pollless(o) : true,
    );
    // (-EPERM: the number was closed and now names a file without poll, a sw_sync timeline.)
    if (r !== 0 && r !== -EEXIST && r !== -EBADF && r !== -EPERM && !this.allocFailed(r, m))
      this.model.diverge(`epoll_ctl(ADD, dma-buf ${d.fd}) = ${r}`);
    const out: EpollEvent[] = [];
    const timeout = POLL_TIMEOUTS[choose(POLL_TIMEOUTS.length, "fuzz epoll timeout")]!;
    m = this.failMark();
    const n = await ctx.p.epollWait(epfd, out, 4, timeout);
    if (!Number.isInteger(n) || n > 4 || (n < 0 && n !== -EINTR && !this.allocFailed(n, m)))
      this.model.diverge(`epoll_wait() = ${n}`);
  }

  /**
   * Two threads of the process on one object at once: the current thread and a new one each
   * run one operation (RACE_OPS) on the same DRM file, on a handle of it (each side may take
   * another handle of the same buffer), and on a dma-buf fd of this thread (of that buffer if
   * there is one). The file is shared from then on: only interleaving-proof checks apply.
   */
  async opRace(ctx: ThreadCtx): Promise<"ok"> {
    const pk = this.pickDrm(ctx);
    if (!pk) return "ok";
    const { e } = pk;
    const f = e.file!;
    f.shared = true;
    const h = this.pickHandle(f, "fuzz race handle");
    const buf = h === undefined ? undefined : f.live.get(h);
    const d = this.ownDmabuf(ctx, buf);
    // Each side runs one to four of the process's race operations (only side a closes the
    // dma-buf fd, at most once).
    const ops = ctx.proc.raceOps;
    const bs = ops.filter((o) => o !== "close-dmabuf" && o !== "close-drm");
    // A side repeats one operation (as IGT's race loops do) or mixes them.
    const aOps = this.raceSideOps(ops, "fuzz race a");
    const bOps = this.raceSideOps(bs, "fuzz race b");
    const closes = aOps.indexOf("close-dmabuf");
    for (let k = closes + 1; closes >= 0 && k < aOps.length; k++)
      if (aOps[k] === "close-dmabuf") aOps[k] = "poll";
    const handleFor = () => {
      if (h === undefined) return undefined;
      // The live handles of the same buffer, in the file's order.
      const same: number[] = [];
      for (const [k, x] of f.live) if (x === buf) same.push(k);
      return same.length > 1 && choose(2, "fuzz race other handle") === 0
        ? this.pick(same, "fuzz race handle")
        : h;
    };
    const ha = handleFor();
    const hb = handleFor();
    // The epoll fd both sides wait on, made before either runs.
    if (d && ctx.proc.epfd === null && [...aOps, ...bOps].includes("epoll-wait")) {
      const m = this.failMark();
      const t0 = this.model.tick();
      const pend = ctx.proc.fdm.begin(t0);
      const fd = await ctx.p.epollCreate1(0);
      if (fd >= 0) ctx.proc.fdm.installed(fd, { kind: "epoll" }, t0, this.model.tick());
      ctx.proc.fdm.end(pend);
      // (Closed or replaced by a sibling's dup2() or close_range() meanwhile: left to the exit.)
      if (fd >= 0) {
        if (!lostFd(this, ctx.proc, fd, t0)) ctx.proc.epfd = fd;
      } else if (fd !== -EMFILE && !this.allocFailed(fd, m))
        this.model.diverge(`epoll_create1(0) = ${fd}`);
    }
    // The fd is out of this thread's list before either side runs: nobody else picks it.
    const trust = closes < 0;
    if (!trust && d) {
      ctx.fds.splice(ctx.fds.indexOf(d), 1);
      ctx.proc.held.add(d);
    }
    const other = ctx.p.spawnThread("race", () => this.raceSide(ctx, e, bOps, hb, d, trust));
    await this.raceSide(ctx, e, aOps, ha, d, trust);
    await other.join();
    if (d) ctx.proc.held.delete(d);
    return "ok";
  }

  /**
   * The operations of one side of a race, drawn from `list`: one to four, one operation
   * repeated (as IGT's race loops do) or a mix. `label` names the draws (the simulation does
   * not record it: plain strings, not built per draw).
   */
  raceSideOps(list: readonly RaceOp[], label: string): RaceOp[] {
    if (list.length === 0) return [];
    const n = 1 + choose(4, label);
    const one = list[choose(list.length, label)]!;
    const loop = choose(2, label) === 0;
    const out: RaceOp[] = new Array(n);
    for (let k = 0; k < n; k++) out[k] = loop ? one : list[choose(list.length, label)]!;
    return out;
  }

  /**
   * One side of a race: its operations in turn, each on the side's current handle (the last
   * one it made, at first the race's) or, sometimes, on any live handle of the file (the other
   * side's new ones included).
   */
  async raceSide(
    ctx: ThreadCtx,
    e: FdEntry,
    ops: readonly RaceOp[],
    h: number | undefined,
    d: FdEntry | undefined,
    trust: boolean,
  ) {
    let cur = h;
    for (const op of ops) {
      const target =
        cur === undefined || choose(3, "fuzz race retarget") === 0
          ? this.pickHandle(e.file!, "fuzz race handle")
          : cur;
      const made = await this.raceOp(ctx, e, op, target, d, trust);
      if (made !== null) cur = made;
    }
  }

  /**
   * One race side's operation `op` on the shared DRM fd `e`, handle `h` and dma-buf fd `d` (see
   * RACE_OPS); a handle it made, or null.
   */
  async raceOp(
    ctx: ThreadCtx,
    e: FdEntry,
    op: RaceOp,
    h: number | undefined,
    d: FdEntry | undefined,
    trust: boolean,
  ): Promise<number | null> {
    const f = e.file!;
    switch (op) {
      case "gem-close":
        if (h !== undefined) await this.doGemClose(ctx, e, false, h, null, false);
        return null;
      case "flink":
        if (h !== undefined) await this.doFlink(ctx, e, false, h, false);
        return null;
      case "gem-open": {
        const buf = h === undefined ? undefined : f.live.get(h);
        const own = buf === undefined ? [] : this.model.namesOf(f.dev, buf);
        const any = this.model.knownNames.filter(([dev]) => dev === f.dev).map(([, n]) => n);
        // The buffer's own names; else, half the time, the name given last on the device
        // (names are reused lowest first: it is the one a concurrent FLINK is likely to give
        // again); else any name known.
        const name =
          own.length === 0 && any.length > 0 && choose(2, "fuzz race last name") === 0
            ? this.model.lastNames.get(f.dev)
            : this.pick(own.length > 0 ? own : any, "fuzz race name");
        return name === undefined ? null : this.doGemOpen(ctx, e, false, name);
      }
      case "export":
        if (h !== undefined) await this.doExport(ctx, e, false, h, true);
        return null;
      case "export-close":
        if (h !== undefined) await this.doExport(ctx, e, false, h, false);
        return null;
      case "import":
        return d ? this.doImport(ctx, e, false, d, trust) : null;
      case "map":
        if (h !== undefined) await this.doMap(ctx, e, h);
        return null;
      case "create":
        return this.doCreate(ctx, e, false);
      case "create-export": {
        const nh = await this.doCreate(ctx, e, false);
        if (nh !== null) await this.doExport(ctx, e, false, nh, true);
        return nh;
      }
      case "create-flink-close": {
        // A buffer shared by name whose creator lets go of it at once: the name lives as long
        // as another handle (a GEM_OPEN of it) holds the object.
        const nh = await this.doCreate(ctx, e, false);
        if (nh === null) return null;
        await this.doFlink(ctx, e, false, nh, false);
        await this.doGemClose(ctx, e, false, nh, null, false);
        return null;
      }
      case "guess-close": {
        // The handle a concurrent creation is about to get: the lowest free id, or the next.
        const live = new Set(f.live.keys());
        let g = 1;
        if (choose(2, "fuzz guess") === 0) while (live.has(g)) g++;
        else g = Math.max(0, ...live) + 1;
        await this.doGemClose(ctx, e, false, g, null, false);
        return null;
      }
      case "poll":
        if (d) await this.doPoll(ctx, d);
        return null;
      case "epoll-wait":
        if (d) await this.doEpollWait(ctx, d);
        return null;
      case "fence":
        if (d) await this.doFence(ctx, d, choose(2, "fuzz race fence signal") === 0, trust);
        return null;
      case "change-handle":
        return h === undefined
          ? null
          : this.doChangeHandle(ctx, e, false, h, this.newHandleFor(f, h));
      case "child-open":
        await this.childOpen(ctx);
        return null;
      case "close-drm":
        // close() of the race's DRM fd while the other side calls through it (only side a,
        // and only an fd of this thread: it leaves the thread's list first, as opClose does).
        if (ctx.fds.includes(e)) {
          ctx.fds.splice(ctx.fds.indexOf(e), 1);
          e.closed = true;
          f.goneAt = Math.min(f.goneAt, this.model.tick());
          ctx.proc.staleFds.add(e.fd);
          const ret = await this.closeFd(ctx, e.fd);
          if (ret !== 0) this.model.diverge(`close(${e.fd}) of an open DRM fd = ${ret}`);
        }
        return null;
      case "close-dmabuf":
        // (Not if a sibling's dup2() or close_range() closed it already: the number may name
        // another thread's file by now.)
        if (d && !d.closed) {
          ctx.proc.held.delete(d);
          const ret = await this.closeFd(ctx, d.fd);
          if (ret !== 0) this.model.diverge(`close(${d.fd}) of an open dma-buf fd = ${ret}`);
        }
        return null;
    }
  }

  /**
   * A child process (fork() and exec() of a helper: its own fd table) opens a node of the
   * machine (a card or render node, or sw_sync) and closes it, once or twice, while the race
   * goes on; the side waits for it. Its files may take the memory of a file this process just
   * closed (files are SLAB_TYPESAFE_BY_RCU: the filp slab reuses it at once).
   */
  async childOpen(ctx: ThreadCtx) {
    const paths = this.childPaths;
    const rounds = 1 + choose(2, "fuzz child rounds");
    const which: number[] = [];
    for (let k = 0; k < rounds; k++) which.push(choose(paths.length, "fuzz child node"));
    const child = this.kernel.spawnProcess(childName(ctx.p.name), async (c0) => {
      const c = this.wrap(c0);
      for (const k of which) {
        const m = this.failMark();
        const fd = await c.open(paths[k]!, O_RDWR);
        if (fd >= 0) await c.close(fd);
        else if (fd !== -EMFILE && !this.allocFailed(fd, m))
          this.model.diverge(`open(${paths[k]}) in a child = ${fd}`);
      }
    });
    this.children.push(child);
    await child.wait();
  }

  /** GEM_CHANGE_HANDLE of a live, closed or never-valid handle (newHandleFor()'s target). */
  async opChangeHandle(ctx: ThreadCtx): Promise<"ok"> {
    const pk = this.pickDrm(ctx);
    if (!pk) return "ok";
    const f = pk.e.file!;
    // The handle to move: a live one mostly, sometimes a closed or a never-valid number.
    let h: number | undefined;
    const kind = choose(6, "fuzz change old");
    if (kind === 0 && f.closed.size > 0) h = this.pick([...f.closed], "fuzz change closed");
    else if (kind === 1) h = [0, INT_MAX, 0xffff_ffff][choose(3, "fuzz change bad old")]!;
    else h = this.pickHandle(f, "fuzz change handle");
    if (h !== undefined) await this.doChangeHandle(ctx, pk.e, pk.own, h, this.newHandleFor(f, h));
    return "ok";
  }

  /**
   * A new handle number for GEM_CHANGE_HANDLE of `h`: the lowest free number or one just above
   * the highest live one (what a creation would get next), a live number (taken) or `h`
   * itself, a number closed before, or one at the top of the u32 range (around INT_MAX). Never
   * 0: the modeled body (1a4f03d22fb6) mishandles it, a defect of that kernel rather than a
   * race (README.md), which would fill every clean baseline.
   */
  newHandleFor(f: ModelFile, h: number): number {
    const live = [...f.live.keys()];
    switch (choose(8, "fuzz change new")) {
      case 0:
      case 1: {
        let n = 1;
        while (f.live.has(n)) n++;
        return n;
      }
      case 2:
      case 3:
        return Math.min(INT_MAX, Math.max(0, ...live) + 1 + choose(4, "fuzz change above"));
      case 4:
        return this.pick(live, "fuzz change taken") ?? h;
      case 5:
        return h;
      case 6:
        return this.pick([...f.closed], "fuzz change reuse") ?? Math.min(h + 1, INT_MAX);
      default:
        return BIG_HANDLES[choose(BIG_HANDLES.length, "fuzz change big")]!;
    }
  }

  /**
   * GEM_CHANGE_HANDLE of `h` to `n`: on success the model moves the handle's state (buffer,
   * flink name, PRIME cache entries) to `n`. In a file this thread owns alone the errno is the
   * kernel's exactly: -EINVAL for n > INT_MAX, 0 for n == h (no lookup since 1a4f03d22fb6;
   * -ENOENT before it, for a dead h), -ENOSPC if n is live, -ENOENT if h is not (of both, the
   * current code reports -ENOSPC, the bodies before 1a4f03d22fb6 -ENOENT), or an allocation
   * failure's; otherwise 0. In a shared file: -EINVAL exactly when n > INT_MAX, 0 when n == h,
   * and nothing outside {0, -ENOENT, -ENOSPC} or an allocation failure's.
   */
  async doChangeHandle(
    ctx: ThreadCtx,
    e: FdEntry,
    own: boolean,
    h: number,
    n: number,
  ): Promise<number | null> {
    const f = e.file!;
    const arg = { handle: h, new_handle: n };
    f.changeTargets.add(n);
    // The old number is given up like a GEM_CLOSE gives it up: stamps and mappings made
    // through it meanwhile are not trusted, and it may come back for another object.
    f.closeStarts(h);
    const m = this.failMark();
    const t0 = this.model.tick();
    const rec: CloseObservation = { f, handle: h, start: t0, ret: Number.POSITIVE_INFINITY };
    this.closes.push(rec);
    const ret = await this.creating(f, () => ctx.p.ioctl(e.fd, DRM_IOCTL_GEM_CHANGE_HANDLE, arg));
    const t1 = this.model.tick();
    this.drmUse(ctx, e, t0, t1, ret, `GEM_CHANGE_HANDLE(${h} -> ${n})`);
    f.closeReturned(h, t1);
    rec.ret = t1;
    if (e.closed) return null;
    const strict = own && !f.shared;
    const what = `GEM_CHANGE_HANDLE(${h} -> ${n}) = ${ret}`;
    if (n > INT_MAX || h === n) {
      // Decided before any lookup or allocation. (A dead h == n: the bodies before
      // 1a4f03d22fb6 looked h up first, -ENOENT; the model cannot tell h dead in a shared file.)
      const want = n > INT_MAX ? -EINVAL : 0;
      const also = h === n && (!strict || !f.live.has(h)) ? -ENOENT : want;
      if (ret !== want && ret !== also) this.model.diverge(`${what}, expected ${want}`);
      return null;
    }
    if (this.allocFailed(ret, m)) return null;
    if (strict) {
      const taken = f.live.has(n);
      const dead = !f.live.has(h);
      const ok = taken || dead ? [taken ? -ENOSPC : -ENOENT, dead ? -ENOENT : -ENOSPC] : [0];
      if (!ok.includes(ret)) this.model.diverge(`${what}, expected ${ok.join(" or ")}`);
    } else if (ret !== 0 && ret !== -ENOENT && ret !== -ENOSPC) this.model.diverge(what);
    if (ret !== 0) return null;
    const buf = f.live.get(h) ?? UNKNOWN_BUFFER;
    // The new handle gets a PRIME cache entry if the object has a dma-buf: surely if the file
    // has an entry for the buffer, else maybe (another file's export): an import may return
    // it from now on.
    const sure = f.moveHandle(h, n, t0, t1, strict);
    if (!f.chaos)
      this.entries.push({ f, handle: n, buf: sure ? buf : UNKNOWN_BUFFER, start: t0, ret: t1 });
    return n;
  }

  /** A DRM ioctl with garbage arguments (wrong types, out-of-range values, unknown requests). */
  async opGarbageIoctl(ctx: ThreadCtx): Promise<"ok"> {
    const pk = this.pickDrm(ctx);
    const fd = pk?.e.fd ?? 4095;
    // Garbage converts to some value of the C type (1.5 -> handle 1): it may close or create
    // handles of this file, so the model stops making claims about it.
    if (pk) {
      pk.e.file!.shared = true;
      pk.e.file!.chaos = true;
    }
    const cmds = [
      DRM_IOCTL_GEM_CLOSE,
      DRM_IOCTL_GEM_FLINK,
      DRM_IOCTL_GEM_OPEN,
      DRM_IOCTL_PRIME_FD_TO_HANDLE,
      DRM_IOCTL_PRIME_HANDLE_TO_FD,
      DRM_IOCTL_MODE_MAP_DUMB,
      0xdeadbeef,
      -1,
    ];
    const args: unknown[] = [
      null,
      7,
      "x",
      [],
      { handle: -1 },
      { handle: 2 ** 40, fd: 2 ** 31 },
      { handle: 1.5, flags: -1 },
      { fd: 1e9, handle: 0, flags: 0 },
      { name: -3, handle: 0 },
      { handle: 1n },
    ];
    const cmd = cmds[choose(cmds.length, "fuzz garbage cmd")]!;
    const arg = args[choose(args.length, "fuzz garbage arg")];
    // An export with garbage arguments may install a dma-buf fd the model never learns of.
    if (cmd === DRM_IOCTL_PRIME_HANDLE_TO_FD) ctx.proc.fdm.unknown(this.model.tick());
    const ret = await ctx.p.ioctl(fd, cmd, arg);
    if (typeof ret !== "number" || !Number.isInteger(ret) || ret > 0)
      this.model.diverge(`garbage ioctl returned ${String(ret)}`);
    return "ok";
  }

  /**
   * A syscall with hostile arguments: readMemory(addr, 2**40), recvFd(null), sendFd() to a
   * non-process, a pollfd whose getter throws, a fractional poll timeout.
   */
  async opHostile(ctx: ThreadCtx): Promise<"ok"> {
    const p = ctx.p;
    const m = this.failMark();
    switch (choose(5, "fuzz hostile")) {
      case 0: {
        const r = await p.readMemory(0x10000 + choose(4, "fuzz addr") * PAGE, 2 ** 40);
        if (r !== -EFAULT)
          this.model.diverge(`readMemory(2**40) = ${typeof r === "number" ? r : "bytes"}`);
        return "ok";
      }
      case 1: {
        const r = await p.recvFd(null as unknown as undefined);
        if (r !== -EFAULT && !this.allocFailed(r, m)) this.model.diverge(`recvFd(null) = ${r}`);
        return "ok";
      }
      case 2: {
        const e = this.pick(ctx.fds, "fuzz hostile fd");
        const r = await p.sendFd({ socket: 1 } as unknown as Process, e?.fd ?? 0);
        if (r !== -EINVAL && !this.allocFailed(r, m))
          this.model.diverge(`sendFd({socket: 1}) = ${r}`);
        return "ok";
      }
      case 3: {
        const bad = {
          get fd(): number {
            throw POLLFD_GETTER_ERROR;
          },
          events: 1,
        };
        const r = await p.poll([bad as unknown as { fd: number; events: number }], 0);
        if (r !== -EFAULT && !this.allocFailed(r, m))
          this.model.diverge(`poll(throwing pollfd) = ${r}`);
        return "ok";
      }
      default: {
        const r = await p.poll([], 1.5);
        if (r !== -EINVAL && !this.allocFailed(r, m))
          this.model.diverge(`poll(timeout 1.5) = ${r}`);
        return "ok";
      }
    }
  }

  /** CPU access: MAP_DUMB and a read through the mapping, or writes past a dma-buf's stamp through its mmap. */
  async opTouch(ctx: ThreadCtx): Promise<"ok"> {
    if (choose(3, "fuzz touch handle") === 0) {
      const pk = this.pickDrm(ctx);
      const h = pk ? this.pickHandle(pk.e.file!, "fuzz map handle") : undefined;
      if (pk && h !== undefined) await this.doMap(ctx, pk.e, h);
      return "ok";
    }
    // CPU access past the stamp through a dma-buf mapping: exercises faults and mmap refs.
    const d = this.ownDmabuf(ctx);
    if (!d) return "ok";
    const addr = await ctx.p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, d.fd, 0);
    if (addr < 0) return "ok";
    await ctx.p.writeMemory(addr + STAMP_BYTES + choose(64, "fuzz off"), new Uint8Array([0x33]));
    await ctx.p.readMemory(addr, STAMP_BYTES);
    await ctx.p.munmap(addr, PAGE);
    return "ok";
  }

  /** A KMS framebuffer operation (opts.kms). */
  opKms(ctx: ThreadCtx): Promise<"ok"> {
    return this.kms!.op(ctx);
  }

  /** A DRM read, poll, FENCE_EVENT or fstat operation (opts.drmRead). */
  opDrmRead(ctx: ThreadCtx): Promise<"ok"> {
    return this.drmRead!.op(ctx);
  }

  /** A DRM lease operation (opts.leases). */
  opLease(ctx: ThreadCtx): Promise<"ok"> {
    return this.leases!.op(ctx);
  }

  /** Whether device `dev`'s driver has DRIVER_MODESET (its description, not its state). */
  kmsDev(dev: number): boolean {
    return (this.devs[dev]!.device.driver.driverFeatures & DRIVER_MODESET) !== 0;
  }
}

/** The device counters after the run, each against its baseline (IGT's leak check). */
function checkDeviceLeaks(
  devs: readonly DeviceNodes[],
  baselines: readonly ReturnType<typeof drmDevCounters>[],
) {
  for (let i = 0; i < devs.length; i++) drmDevCheckLeaks(devs[i]!.device, baselines[i]!);
}

/** What fuzzScenario()'s end-of-run checks read of the run. */
interface EndOfRun {
  readonly model: FuzzModel;
  readonly fdUses: readonly FdUse[];
  readonly makers: ReadonlySet<ModelFile>;
  readonly handleObs: HandleObservation[];
  readonly strayFiles: ReadonlySet<ModelFile>;
  readonly imports: readonly PrimeEntryObservation[];
  readonly entries: readonly PrimeEntryObservation[];
  readonly closes: readonly CloseObservation[];
  readonly corePrime: readonly boolean[];
  readonly fileProc: ReadonlyMap<ModelFile, ProcState>;
  readonly nameCalls: readonly NameCall[];
  readonly holders: readonly NameHolder[];
  readonly names: readonly NameObservation[];
  readonly exited: boolean;
}

/**
 * fuzzScenario()'s deferred checks, once the machine is quiesced and its leaks checked: every
 * life of every fd and handle is recorded by now. A function of its own, not a part of the
 * scenario's closure: its loops would make that closure (thousands of bytecodes, every
 * operation's closure made in it) hot enough for V8 to optimize it, for about a second of
 * compilation each time, and again after each deoptimization (CPU that the search then lacks).
 */
function endOfRunChecks(run: EndOfRun): void {
  const {
    model,
    fdUses,
    makers,
    handleObs,
    strayFiles,
    imports,
    entries,
    closes,
    corePrime,
    fileProc,
    nameCalls,
    holders,
    names,
    exited,
  } = run;
  // What each fd reached: every fd's every life is recorded by now (fd-model.ts).
  checkFdUses(fdUses, -EBADF, (what) => model.diverge(what));
  // (A file whose handle-making call never returned may hold a handle life nobody recorded.)
  for (const f of makers) f.runEnded();
  // Deferred checks of handles: every life of every handle is recorded by now. A call reached
  // a buffer some life that may have been live then named; a flink of a handle whose only
  // possible life had a name gave that name (an object keeps its name while it has a handle).
  checkHandleObservations(
    handleObs,
    (f) => strayFiles.has(f),
    (what) => model.diverge(what),
  );
  // The PRIME cache: an import of buffer X's dma-buf returns a handle with an entry for it
  // (drm_prime_lookup_buf_handle()) if the file surely had one throughout the import: an
  // export or import of handle h gave X's dma-buf before the import started, and no GEM_CLOSE
  // of h may have run since that call started. (Several entries for one dma-buf: any of them.)
  // Not in a stray file (opened at an fd number a sibling may still call through): a race's
  // GEM_CLOSE through the number it last knew reaches such a file unrecorded (the model
  // records it on the closed file), and drm_gem_object_release_handle() drops the closed
  // handle's entry, so the next import makes a new handle, as the kernel should.
  for (const io of imports) {
    if (io.f.chaos || strayFiles.has(io.f) || !corePrime[io.f.dev]) continue;
    const sure = entries.some(
      (e) =>
        e.f === io.f &&
        e.buf === io.buf &&
        e.ret < io.start &&
        e.handle !== io.handle &&
        !closes.some(
          (c) => c.f === io.f && c.handle === e.handle && c.ret > e.start && c.start < io.ret,
        ),
    );
    if (!sure) continue;
    const possible = entries.some(
      (e) =>
        e !== io &&
        e.f === io.f &&
        e.handle === io.handle &&
        (e.buf === io.buf || e.buf === UNKNOWN_BUFFER) &&
        e.start < io.ret,
    );
    if (!possible)
      model.diverge(
        `PRIME import of buffer ${io.buf}'s dma-buf gave handle ${io.handle}, which has no PRIME cache entry for it, while another handle had one`,
      );
  }
  // Names: an object keeps its flink name while it has a handle (drm_gem_object_handle_free()
  // removes it when the last one goes). So while a handle that GEM_OPEN(N) made, or whose
  // GEM_FLINK gave N, surely lives (its file and process are not going, no GEM_CLOSE or
  // GEM_CHANGE_HANDLE of its number may have run since the call that showed it, no garbage
  // or stray call could reach the file), GEM_OPEN(N) on the device succeeds and opens that
  // object, and GEM_FLINK of that handle succeeds and gives N.
  const surelyLive = (hd: NameHolder, until: number) =>
    !hd.f.chaos &&
    !strayFiles.has(hd.f) &&
    hd.f.goneAt > until &&
    (fileProc.get(hd.f)?.endTick ?? Number.NEGATIVE_INFINITY) > until &&
    !closes.some(
      (c) => c.f === hd.f && c.handle === hd.handle && c.ret > hd.start && c.start < until,
    );
  for (const c of nameCalls) {
    for (const hd of holders) {
      if (hd.ret >= c.start || hd.f.dev !== c.f.dev) continue;
      if (c.kind === "open" ? hd.name !== c.name : hd.f !== c.f || hd.handle !== c.handle) continue;
      if (!surelyLive(hd, c.ret)) continue;
      const held = `while handle ${hd.handle} from ${hd.what} held its object`;
      if (c.result !== 0) {
        if (c.excused) break;
        model.diverge(
          c.kind === "open"
            ? `GEM_OPEN(name ${c.name}) = ${c.result} ${held}`
            : `GEM_FLINK of handle ${c.handle} = ${c.result} ${held} (name ${hd.name})`,
        );
        break;
      }
      if (c.kind === "flink" && c.name !== hd.name) {
        model.diverge(
          `GEM_FLINK of handle ${c.handle} gave name ${c.name} ${held} (name ${hd.name})`,
        );
        break;
      }
      if (
        c.kind === "open" &&
        c.buf !== UNKNOWN_BUFFER &&
        hd.buf !== UNKNOWN_BUFFER &&
        !model.ambiguous.has(hd.buf) &&
        c.buf !== hd.buf
      ) {
        model.diverge(`GEM_OPEN(name ${c.name}) opened buffer ${c.buf} ${held} (buffer ${hd.buf})`);
        break;
      }
    }
  }
  // Deferred checks: every flink is recorded by now (unless a thread died inside its flink,
  // in a run with an exit: then a name may have been given without the model knowing).
  for (const o of names) {
    if (!exited && !model.nameHasNamed(o.dev, o.name, o.buf))
      model.diverge(`GEM_OPEN(name ${o.name}) opened buffer ${o.buf}, never flinked as ${o.name}`);
    if (o.size >= 0 && o.reported !== o.size)
      model.diverge(
        `GEM_OPEN(name ${o.name}) reported size ${o.reported}, buffer ${o.buf} has ${o.size}`,
      );
  }
}
