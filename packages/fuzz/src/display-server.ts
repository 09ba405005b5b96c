/**
 * The fuzzer's display server (`FuzzOptions.private`): what Xorg or a compositor is to the DRM
 * clients of a machine. It opens each device's card node before any client does, so it is the
 * device's DRM master (drm_master_open() makes the first opener of a primary node master), and
 * serves its clients' requests one at a time, in the order they come: AUTH_MAGIC of a magic a
 * client got with GET_MAGIC (X's DRI2Authenticate, Wayland's wl_drm.authenticate), and
 * DROP_MASTER / SET_MASTER (a VT switch: logind pausing and resuming the device). Clients hand it
 * their requests out of band (a queue and a completion: the userspace IPC of a socket round trip,
 * with no syscall of the model's), so the only syscalls it adds are the ones a display server
 * makes: open(2) of each card, the three ioctls, close(2) at the end; with `FuzzOptions.kms` it
 * is also the compositor that makes framebuffers of its clients' buffers (a "call" request:
 * kms.ts's work, GEM_OPEN by flink name, ADDFB2, legacy ADDFB, RMFB, CLOSEFB, GETFB, GETFB2,
 * DIRTYFB, GEM_CLOSE), and receives their dma-buf fds as Wayland compositors do
 * (zwp_linux_dmabuf_v1): a client sends its fd with SCM_RIGHTS to the server's socket (the
 * process's own socket of the model, `process`), the server's recvmsg(2) takes it, its
 * PRIME_FD_TO_HANDLE imports it, possibly on another device than the exporter's, and it closes
 * the fd with close(2).
 *
 * It also keeps what userspace knows for sure about its mastership (the reference model's side,
 * auth-model.ts): nothing but its own calls changes whether it is the current master (while it
 * is, only its DROP_MASTER or the release of its file ends that; while it is not, only its
 * SET_MASTER makes it master again), and its calls run one at a time, so after each call the
 * model knows its state exactly; during a DROP_MASTER or SET_MASTER call it is unknown.
 *
 * Kernel counterpart of the calls: drivers/gpu/drm/drm_auth.c (drm_getmagic(), drm_authmagic(),
 * drm_setmaster_ioctl(), drm_dropmaster_ioctl(), drm_master_open(), drm_master_release()) and
 * drm_ioctl.c (drm_ioctl_permit()) of v6.12 and v6.18 (the same code, guard(mutex) in v6.18).
 */

import type { Kernel, Process } from "@primetime/kernel";
import { EACCES, EBUSY, EINVAL, O_RDWR } from "@primetime/kernel";
import { Completion, WaitQueue } from "@primetime/sim";
import { DRM_IOCTL_AUTH_MAGIC, DRM_IOCTL_DROP_MASTER, DRM_IOCTL_SET_MASTER } from "@primetime/uapi";

/** The display server's process name. */
export const DISPLAY_SERVER_NAME = "fuzz-xorg";

/**
 * Magic tokens no file ever holds: drm_authmagic() finds nothing (-EINVAL). The magic map is an
 * idr based at 1 handing out the lowest free id (a few dozen per run), so 0 is never one and
 * INT_MAX and 0xffffffff are out of its reach.
 */
export const GARBAGE_MAGICS = [0, 0x7fff_ffff, 0xffff_ffff] as const;

/**
 * What a client asks the display server to do on device `dev`; "call": a compositor's work with a
 * client's buffer (`FuzzOptions.kms`, kms.ts: open it by name, make a framebuffer of it...).
 */
export type ServerRequestKind = "auth" | "drop" | "set" | "call";

/**
 * A compositor's work on one device, run on the server's thread with its fd of the device and
 * its mastership as the model knows it (`ServerDevice.master`, which only the server's own
 * DROP_MASTER and SET_MASTER change: unchanged during the work).
 */
export type ServerWork = (p: Process, fd: number, master: boolean | null) => Promise<void>;

/** One request, with the server's answer once `done` completes. */
export interface ServerRequest {
  readonly kind: ServerRequestKind;
  readonly dev: number;
  /** The magic to authenticate ("auth"). */
  readonly magic: number;
  /** The ioctl's result (set when the server made the call). */
  ret: number;
  /** When the server's ioctl started and returned (ticks of the model's clock). */
  start: number;
  end: number;
  /**
   * The server's mastership while the call ran, as the model knows it: true (surely the current
   * master throughout), false (surely not), null (unknown).
   */
  master: boolean | null;
  /** The server had no fd for the device (its open failed): no call was made. */
  noFd: boolean;
  /** The work of a "call" request. */
  readonly work?: ServerWork;
  readonly done: Completion;
}

/** The server's side of one device. */
export interface ServerDevice {
  /** Its fd of the device's card node (negative: the open failed, errno). */
  fd: number;
  /**
   * Whether it is the current master: true or false when the model knows for sure, null when
   * it does not (a DROP_MASTER or SET_MASTER is running, or one answered what it could not).
   */
  master: boolean | null;
  /** Since when (a tick) it has surely been master (while `master` is true). */
  masterSince: number;
  /** Its AUTH_MAGIC calls, in order. */
  readonly auths: ServerRequest[];
}

/**
 * The display server of one fuzz run. `start()` spawns it and waits until it has opened every
 * card (before any client runs); `request()` is a client's round trip; `finish()` lets it close
 * its fds and exit once every client is done.
 */
export class DisplayServer {
  readonly devs: ServerDevice[];
  private readonly queue: ServerRequest[] = [];
  private readonly wake = new WaitQueue("fuzz-xorg requests");
  private finished = false;
  private proc: Process | null = null;

  constructor(
    private readonly cards: readonly string[],
    private readonly clock: () => number,
  ) {
    this.devs = cards.map(() => ({
      fd: -1,
      master: false,
      masterSince: Number.POSITIVE_INFINITY,
      auths: [],
    }));
  }

  /** Spawns the server (its process wrapped by `wrap`, for the syscall log) and waits for its opens. */
  async start(kernel: Kernel, wrap: (p: Process) => Process): Promise<void> {
    const opened = new Completion("fuzz-xorg opened");
    this.proc = kernel.spawnProcess(DISPLAY_SERVER_NAME, async (p0) => {
      const p = wrap(p0);
      for (const [i, card] of this.cards.entries()) {
        const d = this.devs[i]!;
        d.fd = await p.open(card, O_RDWR);
        // The first opener of the primary node: drm_master_open() made it the master (the
        // open fails, -ENOMEM, if drm_master_create() could not allocate: then no server).
        if (d.fd >= 0) {
          d.master = true;
          d.masterSince = this.clock();
        }
      }
      opened.complete();
      for (;;) {
        const r = this.queue.shift();
        if (r) {
          await this.serve(p, r);
          r.done.complete();
          continue;
        }
        if (this.finished) break;
        await this.wake.wait("fuzz-xorg waits for clients");
      }
      for (const d of this.devs) if (d.fd >= 0) await p.close(d.fd);
    });
    await opened.wait();
  }

  /** One request, on the server's thread. */
  private async serve(p: Process, r: ServerRequest): Promise<void> {
    const d = this.devs[r.dev]!;
    if (d.fd < 0) {
      r.noFd = true;
      return;
    }
    if (r.kind === "call") {
      await r.work!(p, d.fd, d.master);
      return;
    }
    const before = d.master;
    if (r.kind !== "auth") d.master = null;
    r.start = this.clock();
    if (r.kind === "auth") {
      r.ret = await p.ioctl(d.fd, DRM_IOCTL_AUTH_MAGIC, { magic: r.magic });
      d.auths.push(r);
    } else {
      r.ret = await p.ioctl(d.fd, r.kind === "drop" ? DRM_IOCTL_DROP_MASTER : DRM_IOCTL_SET_MASTER);
    }
    r.end = this.clock();
    r.master = before;
    if (r.kind === "auth") return;
    // Its state after the call, which the result tells: DROP_MASTER's 0 (dropped) and -EINVAL
    // (it was not the current master) leave it without; SET_MASTER's 0 means it is the current
    // master, -EBUSY that another file is. Anything else: unknown from then on.
    if (r.kind === "drop") d.master = r.ret === 0 || r.ret === -EINVAL ? false : null;
    else d.master = r.ret === 0 ? true : r.ret === -EBUSY ? false : null;
    if (d.master === true && before !== true) d.masterSince = r.end;
  }

  /** The server's process (a client's SCM_RIGHTS destination: its socket). */
  get process(): Process | null {
    return this.proc;
  }

  /** A client's round trip: the request is served in turn; returns it with the server's answer. */
  async request(
    kind: ServerRequestKind,
    dev: number,
    magic = 0,
    work?: ServerWork,
  ): Promise<ServerRequest> {
    const r = this.enqueue(kind, dev, magic, work);
    await r.done.wait("fuzz client waits for fuzz-xorg");
    return r;
  }

  /**
   * The first half of a round trip: the request is queued and returned at once; the client waits
   * for `done` itself. (kms.ts's PRIME present: the client sends its dma-buf while the server's
   * work, already started, waits for it, so the message the server receives is this client's.)
   */
  enqueue(kind: ServerRequestKind, dev: number, magic = 0, work?: ServerWork): ServerRequest {
    const r: ServerRequest = {
      kind,
      dev,
      magic,
      ret: 0,
      start: 0,
      end: 0,
      master: null,
      noFd: false,
      work,
      done: new Completion("fuzz-xorg reply"),
    };
    this.queue.push(r);
    this.wake.wakeAll();
    return r;
  }

  /**
   * True if the server has surely been device `dev`'s current master since tick `t` or before,
   * and still is: a file whose open started at `t` or later and returned by now got the server's
   * master (drm_master_open()), neither mastership nor authentication of its own.
   */
  masterSince(dev: number, t: number): boolean {
    const d = this.devs[dev];
    return d !== undefined && d.master === true && d.masterSince <= t;
  }

  /** Every client is done: the server serves what is queued, closes its fds and exits. */
  async finish(): Promise<void> {
    this.finished = true;
    this.wake.wakeAll();
    await this.proc?.wait();
  }
}

/**
 * The results the kernel can give a request of the server, by what the model knows of its
 * mastership (drm_ioctl_permit(), drm_authmagic(), drm_setmaster_ioctl(), drm_dropmaster_ioctl();
 * the server was master, is in its own thread group, so drm_master_check_perm() passes):
 * - AUTH_MAGIC (DRM_MASTER): -EACCES while it is not the current master; as master, 0 if the
 *   magic names a file of its master's magic map not yet authenticated, else -EINVAL (the
 *   callers narrow this down: a garbage magic is -EINVAL);
 * - DROP_MASTER: 0 as master, -EINVAL otherwise (!drm_is_current_master_locked());
 * - SET_MASTER: 0 as master (nothing to do); otherwise 0, or -EBUSY if a client's open made
 *   itself master meanwhile (drm_master_open() with no master).
 * Unknown mastership: any of them.
 */
export function serverExpected(r: ServerRequest): readonly number[] {
  switch (r.kind) {
    case "auth":
      return r.master === true
        ? [0, -EINVAL]
        : r.master === false
          ? [-EACCES]
          : [0, -EINVAL, -EACCES];
    case "drop":
      return r.master === true ? [0] : r.master === false ? [-EINVAL] : [0, -EINVAL];
    case "set":
      return r.master === true ? [0] : [0, -EBUSY];
    case "call":
      return [0];
  }
}
