/**
 * KMS framebuffers in the fuzz workload (`FuzzOptions.kms`, `cli --kms on`, token `fuzz +kms`):
 * ADDFB2, RMFB, CLOSEFB, GETFB and GETFB2, from clients and from the display server as the
 * compositor, with what the reference model expects of each. Kernel counterpart:
 * drivers/gpu/drm/drm_framebuffer.c (drm_mode_addfb2(), drm_mode_rmfb(), drm_mode_closefb_ioctl(),
 * drm_mode_getfb(), drm_mode_getfb2_ioctl(), drm_fb_release()), drm_gem_framebuffer_helper.c
 * and drm_ioctl.c (drm_ioctl_permit()) of **6.12.19** and **6.18.35**: the same code for these
 * ioctls but drm_framebuffer_init()'s GEM handle references, which v6.16 added (f6bfc9afc751).
 *
 * What the operations do (the draw `fuzz kms op`):
 * - **present**: a client hands the display server (display-server.ts, the DRM master) the flink
 *   name of a buffer (one of its handles flinked then, or a name known on the device), as DRI2
 *   clients do; the server opens it (GEM_OPEN), makes a framebuffer of
 *   it (ADDFB2, 64 pixels wide, as many lines as the buffer holds, at most 64) and, half the
 *   time, closes its handle at once, as compositors do once the framebuffer holds the buffer;
 * - the server's RMFB or CLOSEFB of one of its framebuffers (0) or of an id it removed (-ENOENT),
 *   its GETFB or GETFB2 of one (a new handle while it is the current master, closed again; 0
 *   while it is not), and its GEM_OPEN again of a framebuffer's name;
 * - a client's ADDFB2 on one of its DRM fds of a live, closed or never-valid handle (and handle
 *   0), with valid arguments and with bad flags, a zero width, an unknown format or a short
 *   pitch (-EINVAL before the handle is looked up);
 * - a client's RMFB or CLOSEFB (with a non-zero `pad`: -EINVAL) of its own framebuffer, one it
 *   removed, the server's (another file's: -ENOENT) or a never-valid id;
 * - a client's GETFB or GETFB2 of the server's framebuffers, its own, or a never-valid id;
 * - (after those in the draw) **present by PRIME**: the client exports one of its buffers
 *   (PRIME_HANDLE_TO_FD) and hands the dma-buf fd to the server as Wayland clients do
 *   (zwp_linux_dmabuf_v1's add(): SCM_RIGHTS over the compositor's socket, here the server
 *   process's socket); the server receives it (recvmsg(2)), imports it (PRIME_FD_TO_HANDLE) on a
 *   device drawn among all of them (the exporter's or another: a cross-driver import, where the
 *   importer's driver takes a foreign dma-buf), sizes it with lseek(SEEK_END), makes a
 *   framebuffer of it (ADDFB2, or legacy ADDFB with bpp 32, depth 24) and closes the fd and its
 *   handle in a drawn order (the fd right after the import or after ADDFB2; the handle after
 *   ADDFB2 or kept); the client closes its fd after sending or keeps it;
 * - the server's DIRTYFB (DRM_MASTER) of one of its framebuffers or a never-valid id, with no
 *   clips, two clips in a page of its own, or bad clip arguments (-EINVAL; an unmapped pointer:
 *   -EFAULT);
 * - a client's legacy ADDFB with a good (32/24) or bad (bpp, depth) pair, and a client's DIRTYFB
 *   (-EACCES for a file that surely is not the current master).
 *
 * Expected, whatever the device: -EACCES through a render node (the KMS ioctls are not
 * DRM_RENDER_ALLOW), -EOPNOTSUPP without DRIVER_MODESET (vgem; GETFB2: -EINVAL); then the
 * arguments' errno; -ENOENT for a never-valid id and for one the file did not create (RMFB,
 * CLOSEFB); a client's own framebuffer in a file no other thread used: 0. GETFB/GETFB2 give a
 * handle only to the current master: a file opened while the server was surely master
 * (auth-model.ts) never is, so it gets handle 0. The server's calls run one at a time on a file
 * nobody else uses, so its results are known exactly: its framebuffers live from ADDFB2's return
 * to its own RMFB/CLOSEFB (or the close of its fd at the end).
 *
 * **The framebuffer's name check** (end of run): since f6bfc9afc751 (v6.16) a framebuffer holds
 * a GEM handle reference of each plane's object that had a handle when it was made, so the
 * object keeps its flink name while the framebuffer lives, whoever closes the other handles. The
 * server's framebuffer made of a name it had just opened (its handle held throughout ADDFB2)
 * therefore keeps that name from ADDFB2's return until its removal starts: every GEM_OPEN of the
 * name on the device in between, the clients' and the server's, succeeds (unless it was excused:
 * -EACCES, an allocation failure). Only on qxl, whose ->fb_create is the GEM framebuffer
 * helpers': vmwgfx's surface framebuffers (a dumb buffer's) set no `obj[0]` and take no handle
 * reference in the kernel either, so a name may go under them.
 *
 * **PRIME presents.** The client's send and the server's receive are one exchange: the server's
 * work starts, tells the client to send (a userspace handshake, as the Wayland request carries
 * its fd), waits for the send to return and receives; so the message it takes is this client's
 * (unless an earlier receive failed on an allocation and left one queued: then which buffer it
 * got is unknown). Expected: the send 0 (the server lives; an allocation failure excused); the
 * receive an fd; lseek() the buffer's size; the import 0 on the exporter's device
 * (drm_gem_prime_fd_to_handle()'s self-import, or vmwgfx's ttm prime for a surface), and on
 * another device 0 or -ENOSYS (an exporter whose dma-buf ops refuse attaching: vmwgfx's ttm
 * prime objects); then ADDFB2 or ADDFB as for a present by name; the server's close of the
 * received fd: 0. A send whose fd a sibling thread closed or replaced meanwhile may fail
 * (-EBADF) or send another file; what the server then receives is not known (its import: 0,
 * -ENOSYS, or -EINVAL for a file that is no dma-buf).
 */

import {
  EACCES,
  EAGAIN,
  EFAULT,
  EINVAL,
  EMFILE,
  ENOENT,
  ENOMEM,
  ENOSYS,
  EOPNOTSUPP,
  ESRCH,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SEEK_END,
} from "@primetime/kernel";
import { Completion, choose } from "@primetime/sim";
import {
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_MODE_ADDFB,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CLOSEFB,
  DRM_IOCTL_MODE_DIRTYFB,
  DRM_IOCTL_MODE_GETFB,
  DRM_IOCTL_MODE_GETFB2,
  DRM_IOCTL_MODE_RMFB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_MODE_FB_DIRTY_ANNOTATE_COPY,
  type DrmModeFbCmd,
  type DrmModeFbCmd2,
} from "@primetime/uapi";
import type { DisplayServer } from "./display-server.js";
import { KmsFlip } from "./kms-flip.js";

/** A framebuffer id no file ever has (the mode object idr hands out the lowest free id). */
export const NEVER_FB = 0x7fff_fff0;
/** Every framebuffer the fuzzer makes is this wide (XRGB8888: pitch 256). */
const FB_WIDTH = 64;
const FB_PITCH = FB_WIDTH * 4;

/** What the operations need to know of a DRM file of the model (model.ts's ModelFile). */
export interface KmsFile {
  readonly dev: number;
  readonly primary: boolean;
  /** Another thread may call through it (a sibling's fd). */
  readonly shared: boolean;
  /** Calls the model does not record may reach it (a stray fd number, garbage ioctls). */
  readonly stray: boolean;
  readonly chaos: boolean;
}

/** Only the thread that opened `f` calls through it, and the model records every call. */
function alone(f: KmsFile): boolean {
  return !f.shared && !f.stray && !f.chaos;
}

/** What the operations need of an fd of a thread (fuzz.ts's FdEntry of a DRM file). */
export interface KmsFd {
  readonly fd: number;
  readonly file?: KmsFile;
  readonly closed?: boolean;
}

/** A dma-buf fd of a thread (fuzz.ts's FdEntry of kind "dmabuf"). */
export interface KmsDmabuf {
  readonly fd: number;
  /** The buffer it names, if known. */
  readonly buf?: number;
  readonly closed?: boolean;
}

/** A call's result and when it ran (ticks), with its allocation-failure mark. */
export interface KmsCall {
  readonly ret: number;
  readonly t0: number;
  readonly t1: number;
  readonly m: number;
}

/** What kms.ts uses of the fuzz run (fuzz.ts's closure), for threads of type C. */
export interface KmsHooks<C> {
  /**
   * Each device: its driver's name, whether it has DRIVER_MODESET, and its CRTCs (registered:
   * qxl's `crtcs`; 0 or absent: none).
   */
  readonly devs: readonly {
    readonly driver: string;
    readonly modeset: boolean;
    readonly crtcs?: number;
  }[];
  /** The compositor's flips (FuzzOptions.kms "flip", kms-flip.ts). */
  readonly flip?: boolean;
  /** The device buffer `buf` of the model was created on, or null if it is unknown. */
  readonly bufferDev?: (buf: number) => number | null;
  readonly server: DisplayServer;
  readonly tick: () => number;
  readonly diverge: (what: string) => void;
  readonly failMark: () => number;
  readonly allocFailed: (ret: number, mark: number) => boolean;
  /** A DRM fd of the thread (or a sibling's). */
  readonly pickDrm: (ctx: C) => { e: KmsFd; own: boolean } | null;
  /** A thread's process. */
  readonly proc: (ctx: C) => Process;
  /**
   * A DRM ioctl through `e` (recorded for the fd checks: -ENOTTY only from a file that is not
   * DRM's); `make`: it may make a handle (GETFB, GETFB2).
   */
  readonly ioctl: (
    ctx: C,
    e: KmsFd,
    cmd: number,
    arg: object,
    what: string,
    make?: boolean,
  ) => Promise<KmsCall>;
  /** A handle for a lookup: live, closed or never valid (`never`: surely no handle of the file). */
  readonly lookupHandle: (f: KmsFile, label: string) => { h: number; never: boolean };
  /** A handle GETFB/GETFB2 gave a client: it joins the file's handles (a buffer of unknown id). */
  readonly joinHandle: (e: KmsFd, own: boolean, h: number, t0: number, t1: number) => void;
  /** The flink names known on device `dev`. */
  readonly knownNames: (dev: number) => number[];
  /** GEM_FLINK of a live handle of `e`'s file (recorded as every flink): the name, or null. */
  readonly flink: (ctx: C, e: KmsFd, own: boolean, label: string) => Promise<number | null>;
  /** The file was opened while the server was surely master: it never is the current master. */
  readonly underServer: (f: KmsFile) => boolean;
  /** The GEM_OPEN calls of the clients, for the name check (fuzz.ts's NameCall). */
  readonly nameOpens: () => readonly KmsNameOpen[];
  /**
   * PRIME_HANDLE_TO_FD of a live handle of `e`'s file, recorded as every export (fuzz.ts's
   * doExport()): the new dma-buf fd, kept in the thread's fds, or null.
   */
  readonly exportDmabuf: (ctx: C, e: KmsFd, own: boolean) => Promise<KmsDmabuf | null>;
  /** The size of buffer `buf` of the model, or null if it is unknown. */
  readonly bufferSize: (buf: number) => number | null;
  /**
   * sendmsg(2) of `d` with SCM_RIGHTS to process `to`'s socket (fuzz.ts's opSend()): the result,
   * its allocation-failure mark, and whether the fd surely still was `d` throughout.
   */
  readonly sendDmabuf: (
    ctx: C,
    to: Process,
    d: KmsDmabuf,
  ) => Promise<{ ret: number; m: number; trusted: boolean }>;
  /** close(2) of the thread's dma-buf fd `d` (it leaves the thread's fds), if it still is `d`. */
  readonly closeDmabuf: (ctx: C, d: KmsDmabuf) => Promise<void>;
}

/** A GEM_OPEN(name) on device `dev` that ran in [start, ret]. */
export interface KmsNameOpen {
  readonly dev: number;
  readonly name: number;
  readonly start: number;
  readonly ret: number;
  readonly result: number;
  /** It may legitimately fail (-EACCES, an allocation failure). */
  readonly excused: boolean;
}

/** One of the display server's framebuffers. */
interface ServerFb {
  readonly dev: number;
  readonly id: number;
  /** The flink name it was made of (0: a PRIME import's). */
  readonly name: number;
  /** ADDFB2's return (tick). */
  readonly made: number;
  /** When its RMFB/CLOSEFB started (infinite while it lives; the server's close at the end). */
  gone: number;
  /** It holds a GEM handle reference (qxl: drm_gem_fb_create_with_funcs()). */
  readonly holdsName: boolean;
  /** Its height (lines of FB_PITCH bytes). */
  readonly height: number;
  /**
   * Its bo is a foreign import on its device (a PRIME present of another device's buffer), the
   * device's own (a self-import), or unknown (null: by name, or a dma-buf of unknown origin).
   */
  readonly foreign: boolean | null;
}

/** A client's GETFB/GETFB2 of a server framebuffer, checked once the run is over. */
interface ClientGet {
  readonly fb: ServerFb;
  readonly what: string;
  readonly call: KmsCall;
}

/** The framebuffers a client file made (with their heights), and the ids it removed. */
interface FileFbs {
  readonly live: number[];
  readonly gone: number[];
  readonly heights: Map<number, number>;
}

/**
 * The KMS part of one fuzz run: its operations (op()) and the end-of-run checks (check()).
 */
export class KmsFuzz<C> {
  private readonly serverFbs: ServerFb[] = [];
  /** Ids of the server's framebuffers it removed, per device. */
  private readonly serverGone: number[][];
  private readonly serverOpens: KmsNameOpen[] = [];
  private readonly clientGets: ClientGet[] = [];
  private readonly files = new Map<KmsFile, FileFbs>();
  /** A message may wait in the server's socket that no present's receive took (unknown order). */
  private strayMessage = false;
  /** The server's page for DIRTYFB's clips (mapped at its first use), or 0. */
  private clipsPage = 0;
  /** The compositor's flips (kms-flip.ts), in "flip" runs only. */
  private readonly flips: KmsFlip<C> | null;

  constructor(private readonly h: KmsHooks<C>) {
    this.serverGone = h.devs.map(() => []);
    this.flips = h.flip
      ? new KmsFlip(h, {
          liveServerFbs: (dev) => this.liveServerFbs(dev),
          expect: (what, ret, want, m) => this.expect(what, ret, want, m),
          clientFbs: (f) => this.fbsOf(f),
          recordNewFb: (what, f, id, own, height) => this.recordNewFb(what, f, id, own, height),
        })
      : null;
  }

  private fbsOf(f: KmsFile): FileFbs {
    let s = this.files.get(f);
    if (s === undefined) {
      s = { live: [], gone: [], heights: new Map() };
      this.files.set(f, s);
    }
    return s;
  }

  private liveServerFbs(dev: number): ServerFb[] {
    return this.serverFbs.filter((fb) => fb.dev === dev && fb.gone === Number.POSITIVE_INFINITY);
  }

  /** `ret` must be one of `want` (or an allocation failure's errno). */
  private expect(what: string, ret: number, want: readonly number[], m: number): void {
    if (want.includes(ret) || this.h.allocFailed(ret, m)) return;
    this.h.diverge(`${what} = ${ret}, expected ${want.join(" or ")}`);
  }

  /**
   * The errno the device and node decide before the arguments: -EACCES on a render node,
   * -EOPNOTSUPP without DRIVER_MODESET (`noModeset`: GETFB2's -EINVAL); null if neither.
   */
  private gate(f: KmsFile, noModeset = -EOPNOTSUPP): number | null {
    if (!f.primary) return -EACCES;
    if (!this.h.devs[f.dev]!.modeset) return noModeset;
    return null;
  }

  /** One KMS operation of a thread. */
  async op(ctx: C): Promise<"ok"> {
    // ("flip" runs: eight more values, after the others, so that the others keep theirs.)
    const k = choose(this.flips ? 20 : 12, "fuzz kms op");
    // The compositor's flips (kms-flip.ts): a client's framebuffer shown, the server's turn.
    if (k >= 16) return this.flips!.server(ctx);
    if (k >= 12) return this.flips!.client(ctx);
    switch (k) {
      case 0:
      case 1:
        return this.present(ctx);
      case 2:
        return this.serverRemove(ctx);
      case 3:
        return this.serverGet(ctx);
      case 4:
        return this.clientAdd(ctx);
      case 5:
        return this.clientRemove(ctx);
      case 6:
        return this.clientGet(ctx);
      case 7:
        return this.serverReopen(ctx);
      // PRIME presents, DIRTYFB and legacy ADDFB: after the operations of the first version.
      case 8:
      case 9:
        return this.presentPrime(ctx);
      case 10:
        return this.serverDirty(ctx);
      default:
        return choose(2, "fuzz kms client legacy") === 0
          ? this.clientAddLegacy(ctx)
          : this.clientDirty(ctx);
    }
  }

  /** The device of one of the thread's DRM fds (the one a client's buffer is on), or null. */
  private pickDev(ctx: C): number | null {
    const pk = this.h.pickDrm(ctx);
    return pk ? pk.e.file!.dev : null;
  }

  /** The server's GEM_OPEN(name): its handle and size, or null; recorded for the name check. */
  private async serverOpen(p: Process, fd: number, dev: number, name: number) {
    const arg = { name, handle: 0, size: 0 };
    const m = this.h.failMark();
    const start = this.h.tick();
    const ret = await p.ioctl(fd, DRM_IOCTL_GEM_OPEN, arg);
    const end = this.h.tick();
    const excused = this.h.allocFailed(ret, m);
    this.serverOpens.push({ dev, name, start, ret: end, result: ret, excused });
    // The server is authenticated (the master's file): 0, or -ENOENT for a name gone meanwhile.
    this.expect(`the display server's GEM_OPEN(name ${name})`, ret, [0, -ENOENT], m);
    return ret === 0 ? arg : null;
  }

  /** The server's GEM_CLOSE of a handle of its own: 0. */
  private async serverClose(p: Process, fd: number, handle: number): Promise<void> {
    const ret = await p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle, pad: 0 });
    if (ret !== 0) this.h.diverge(`the display server's GEM_CLOSE(${handle}) = ${ret}`);
  }

  /** A client hands the server a buffer's name; the server makes a framebuffer of it. */
  private async present(ctx: C): Promise<"ok"> {
    const pk = this.h.pickDrm(ctx);
    if (!pk) return "ok";
    const dev = pk.e.file!.dev;
    // The client's buffer: flinked now (DRI2's way), or a name already known on the device.
    const names = this.h.knownNames(dev);
    const name =
      names.length === 0 || choose(2, "fuzz kms flink") === 0
        ? await this.h.flink(ctx, pk.e, pk.own, "fuzz kms flink handle")
        : names[choose(names.length, "fuzz kms name")]!;
    if (name === null) return "ok";
    const closeAfter = choose(2, "fuzz kms close after addfb") === 0;
    await this.h.server.request("call", dev, 0, async (p, fd) => {
      const o = await this.serverOpen(p, fd, dev, name);
      if (!o) return;
      const height = Math.min(64, Math.floor(o.size / FB_PITCH));
      const cmd = fbCmd(o.handle, height);
      const m = this.h.failMark();
      const ret = await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, cmd);
      const made = this.h.tick();
      const d = this.h.devs[dev]!;
      const what = `the display server's ADDFB2 of name ${name} (${FB_WIDTH}x${height})`;
      if (!d.modeset) this.expect(what, ret, [-EOPNOTSUPP], m);
      // (A buffer of less than one line: drm_gem_fb_init_with_funcs()'s size check, -EINVAL;
      // the framebuffer is then 0 lines high, which drm_internal_framebuffer_create() refuses.)
      else if (height === 0) this.expect(what, ret, [-EINVAL], m);
      // vmwgfx: a dumb buffer's surface may be smaller than the framebuffer (-EINVAL).
      else this.expect(what, ret, d.driver === "qxl" ? [0] : [0, -EINVAL], m);
      if (ret === 0) {
        if (!(cmd.fb_id > 0)) this.h.diverge(`${what} gave framebuffer id ${cmd.fb_id}`);
        this.serverFbs.push({
          dev,
          id: cmd.fb_id,
          name,
          made,
          gone: Number.POSITIVE_INFINITY,
          holdsName: d.driver === "qxl",
          height,
          foreign: null,
        });
      }
      if (closeAfter || ret !== 0) await this.serverClose(p, fd, o.handle);
    });
    return "ok";
  }

  /**
   * The server's RMFB or CLOSEFB of one of its framebuffers (0) or of an id it removed (-ENOENT).
   * The server picks when it serves the request: another client's request may have removed one.
   */
  private async serverRemove(ctx: C): Promise<"ok"> {
    const dev = this.pickDev(ctx);
    if (dev === null) return "ok";
    await this.h.server.request("call", dev, 0, async (p, fd) => {
      const live = this.liveServerFbs(dev);
      const gone = this.serverGone[dev]!.filter((id) => !live.some((fb) => fb.id === id));
      const stale = live.length === 0 || (gone.length > 0 && choose(4, "fuzz kms stale") === 0);
      const fb = stale ? null : live[choose(live.length, "fuzz kms server fb")]!;
      const id = fb
        ? fb.id
        : gone.length > 0
          ? gone[choose(gone.length, "fuzz kms gone")]!
          : NEVER_FB;
      const closefb = choose(2, "fuzz kms closefb") === 0;
      const m = this.h.failMark();
      if (fb) fb.gone = this.h.tick();
      const ret = closefb
        ? await p.ioctl(fd, DRM_IOCTL_MODE_CLOSEFB, { fb_id: id, pad: 0 })
        : await p.ioctl(fd, DRM_IOCTL_MODE_RMFB, { fb_id: id });
      const what = `the display server's ${closefb ? "CLOSEFB" : "RMFB"}(${id})`;
      if (!this.h.devs[dev]!.modeset) this.expect(what, ret, [-EOPNOTSUPP], m);
      else this.expect(what, ret, fb ? [0] : [-ENOENT], m);
      if (fb && ret === 0) {
        this.serverGone[dev]!.push(id);
        // RMFB turns off a plane showing it (atomic_remove_fb()), unless an allocation of its
        // may have failed (-ENOMEM inside the rmfb worker: the call still returns 0); CLOSEFB
        // leaves it shown.
        if (!closefb) this.flips?.removed(dev, fb, this.h.allocFailed(-ENOMEM, m));
      } else if (fb) fb.gone = Number.POSITIVE_INFINITY;
    });
    return "ok";
  }

  /**
   * The server's GETFB or GETFB2 of one of its framebuffers: its size and format, and a new
   * handle (closed at once) exactly while it is the current master; of a never-valid id: -ENOENT.
   */
  private async serverGet(ctx: C): Promise<"ok"> {
    const dev = this.pickDev(ctx);
    if (dev === null) return "ok";
    await this.h.server.request("call", dev, 0, async (p, fd, master) => {
      const live = this.liveServerFbs(dev);
      const fb = live.length > 0 ? live[choose(live.length, "fuzz kms server fb")]! : null;
      const two = choose(2, "fuzz kms getfb2") === 0;
      const id = fb ? fb.id : NEVER_FB;
      const m = this.h.failMark();
      const what = `the display server's ${two ? "GETFB2" : "GETFB"}(${id})`;
      const r = two ? getfb2Arg(id) : getfbArg(id);
      const ret = await p.ioctl(fd, two ? DRM_IOCTL_MODE_GETFB2 : DRM_IOCTL_MODE_GETFB, r);
      const modeset = this.h.devs[dev]!.modeset;
      if (!modeset) {
        this.expect(what, ret, [two ? -EINVAL : -EOPNOTSUPP], m);
        return;
      }
      this.expect(what, ret, fb ? [0] : [-ENOENT], m);
      if (ret !== 0 || !fb) return;
      const handle = "handle" in r ? r.handle : r.handles[0]!;
      const width = r.width;
      const height = r.height;
      if (width !== FB_WIDTH || height !== fb.height)
        this.h.diverge(`${what} described ${width}x${height}, made ${FB_WIDTH}x${fb.height}`);
      if (master === true && !(handle > 0))
        this.h.diverge(`${what} as master gave handle ${handle}`);
      if (master === false && handle !== 0)
        this.h.diverge(`${what} while not master gave handle ${handle}`);
      if (handle > 0) await this.serverClose(p, fd, handle);
    });
    return "ok";
  }

  /** The server opens a live framebuffer's name again (and closes the handle). */
  private async serverReopen(ctx: C): Promise<"ok"> {
    const dev = this.pickDev(ctx);
    if (dev === null) return "ok";
    await this.h.server.request("call", dev, 0, async (p, fd) => {
      const live = this.liveServerFbs(dev).filter((fb) => fb.name > 0);
      if (live.length === 0) return;
      const fb = live[choose(live.length, "fuzz kms server fb")]!;
      const o = await this.serverOpen(p, fd, dev, fb.name);
      if (o) await this.serverClose(p, fd, o.handle);
    });
    return "ok";
  }

  /** A client's ADDFB2 of a live, closed or never-valid handle, with valid or bad arguments. */
  private async clientAdd(ctx: C): Promise<"ok"> {
    const pk = this.h.pickDrm(ctx);
    if (!pk) return "ok";
    const { e, own } = pk;
    const f = e.file!;
    const { h, never } = this.h.lookupHandle(f, "fuzz kms addfb handle");
    const kind = choose(9, "fuzz kms addfb args");
    const height = 1 + choose(4, "fuzz kms height");
    const cmd = fbCmd(h, height);
    let bad: string | null = null;
    if (kind === 4) {
      cmd.flags = 0x80;
      bad = "bad flags";
    } else if (kind === 5) {
      cmd.width = 0;
      bad = "width 0";
    } else if (kind === 6) {
      cmd.pixel_format = 0x2020_2020;
      bad = "unknown format";
    } else if (kind === 7) {
      cmd.pitches[0] = FB_PITCH - 4;
      bad = "short pitch";
    } else if (kind === 8) {
      cmd.handles[0] = 0;
      bad = "handle 0";
    }
    const what = `ADDFB2(${cmd.handles[0]}${bad ? `, ${bad}` : ""})`;
    const r = await this.h.ioctl(ctx, e, DRM_IOCTL_MODE_ADDFB2, cmd, what);
    if (e.closed) return "ok";
    const gate = this.gate(f);
    const driver = this.h.devs[f.dev]!.driver;
    if (gate !== null) this.expect(what, r.ret, [gate], r.m);
    else if (bad) this.expect(what, r.ret, [-EINVAL], r.m);
    // A handle the file never had: the GEM helpers' lookup (-ENOENT), vmwgfx's
    // vmw_user_object_lookup() (-ESRCH).
    else if (never) this.expect(what, r.ret, [driver === "vmwgfx" ? -ESRCH : -ENOENT], r.m);
    if (r.ret === 0) {
      this.recordNewFb(what, f, cmd.fb_id, own, height);
    }
    return "ok";
  }

  /**
   * The model's bookkeeping of a framebuffer id a client's ADDFB2 or legacy ADDFB returned: a
   * positive id, not one the file still has when no other process shares the file, now live
   * (and no longer among the file's removed ids).
   */
  private recordNewFb(what: string, f: KmsFile, fbId: number, own: boolean, height: number): void {
    if (!(fbId > 0)) this.h.diverge(`${what} gave framebuffer id ${fbId}`);
    const s = this.fbsOf(f);
    if (own && alone(f) && s.live.includes(fbId))
      this.h.diverge(`${what} gave framebuffer ${fbId}, which the file still has`);
    s.live.push(fbId);
    s.heights.set(fbId, height);
    const g = s.gone.indexOf(fbId);
    if (g >= 0) s.gone.splice(g, 1);
  }

  /**
   * A client's RMFB or CLOSEFB of its own framebuffer, one it removed, one of the server's, or a
   * never-valid id; CLOSEFB with a non-zero pad (-EINVAL).
   */
  private async clientRemove(ctx: C): Promise<"ok"> {
    const pk = this.h.pickDrm(ctx);
    if (!pk) return "ok";
    const { e, own } = pk;
    const f = e.file!;
    const s = this.fbsOf(f);
    const target = this.clientTarget(f, s, "fuzz kms rm target");
    const closefb = choose(2, "fuzz kms closefb") === 0;
    const pad = closefb && choose(3, "fuzz kms closefb pad") === 0 ? 1 : 0;
    const name = closefb ? "CLOSEFB" : "RMFB";
    const what = `${name}(${target.id}${pad ? ", pad 1" : ""}) of ${target.kind}`;
    const arg = closefb ? { fb_id: target.id, pad } : { fb_id: target.id };
    const r = await this.h.ioctl(
      ctx,
      e,
      closefb ? DRM_IOCTL_MODE_CLOSEFB : DRM_IOCTL_MODE_RMFB,
      arg,
      what,
    );
    if (e.closed) return "ok";
    const mine = s.live.includes(target.id);
    const gate = this.gate(f);
    if (gate !== null) this.expect(what, r.ret, [gate], r.m);
    else if (pad) this.expect(what, r.ret, [-EINVAL], r.m);
    // In a file no other thread used, the file's framebuffers are the ones its thread made.
    else if (own && alone(f)) this.expect(what, r.ret, mine ? [0] : [-ENOENT], r.m);
    else if (!mine && target.kind !== "server") this.expect(what, r.ret, [-ENOENT, 0], r.m);
    if (r.ret === 0 || (mine && r.ret === -ENOENT)) {
      const i = s.live.indexOf(target.id);
      if (i >= 0) s.live.splice(i, 1);
      s.gone.push(target.id);
    }
    return "ok";
  }

  /** A framebuffer id for a client's call: its own, one it removed, the server's, or never valid. */
  private clientTarget(
    f: KmsFile,
    s: FileFbs,
    label: string,
  ): { id: number; kind: "own" | "removed" | "server" | "never"; fb?: ServerFb } {
    const k = choose(4, label);
    if (k === 0 && s.live.length > 0)
      return { id: s.live[choose(s.live.length, label)]!, kind: "own" };
    if (k === 1 && s.gone.length > 0)
      return { id: s.gone[choose(s.gone.length, label)]!, kind: "removed" };
    const theirs = this.serverFbs.filter((fb) => fb.dev === f.dev);
    if (k === 2 && theirs.length > 0) {
      const fb = theirs[choose(theirs.length, label)]!;
      return { id: fb.id, kind: "server", fb };
    }
    return { id: NEVER_FB, kind: "never" };
  }

  /** A client's GETFB or GETFB2: of the server's framebuffers, its own, or a never-valid id. */
  private async clientGet(ctx: C): Promise<"ok"> {
    const pk = this.h.pickDrm(ctx);
    if (!pk) return "ok";
    const { e, own } = pk;
    const f = e.file!;
    const s = this.fbsOf(f);
    const target = this.clientTarget(f, s, "fuzz kms get target");
    const two = choose(2, "fuzz kms getfb2") === 0;
    const what = `${two ? "GETFB2" : "GETFB"}(${target.id}) of ${target.kind}`;
    const r = two ? getfb2Arg(target.id) : getfbArg(target.id);
    const call = await this.h.ioctl(
      ctx,
      e,
      two ? DRM_IOCTL_MODE_GETFB2 : DRM_IOCTL_MODE_GETFB,
      r,
      what,
      true,
    );
    if (e.closed) return "ok";
    const gate = this.gate(f, two ? -EINVAL : -EOPNOTSUPP);
    if (gate !== null) {
      this.expect(what, call.ret, [gate], call.m);
      return "ok";
    }
    if (target.kind === "never") this.expect(what, call.ret, [-ENOENT], call.m);
    // Any framebuffer of the device is described to any file: its own one surely lives.
    if (target.kind === "own" && own && alone(f)) this.expect(what, call.ret, [0], call.m);
    if (target.fb) this.clientGets.push({ fb: target.fb, what, call });
    if (call.ret !== 0) return "ok";
    const handle = "handle" in r ? r.handle : r.handles[0]!;
    if (target.fb && (r.width !== FB_WIDTH || r.height !== target.fb.height)) {
      // The id may have been reused by another framebuffer once the server removed it.
      if (target.fb.gone > call.t1)
        this.h.diverge(
          `${what} described ${r.width}x${r.height}, made ${FB_WIDTH}x${target.fb.height}`,
        );
    }
    if (handle !== 0) {
      if (this.h.underServer(f))
        this.h.diverge(`${what} gave handle ${handle} to a file that never was master`);
      else this.h.joinHandle(e, own, handle, call.t0, call.t1);
    }
    return "ok";
  }

  /** ADDFB2, or legacy ADDFB (bpp 32, depth 24: XRGB8888), of the server's `handle`. */
  private async serverAddfb(
    p: Process,
    fd: number,
    handle: number,
    height: number,
    legacy: boolean,
  ): Promise<{ ret: number; id: number; m: number; made: number }> {
    const m = this.h.failMark();
    if (legacy) {
      const or = getfbArg(0);
      Object.assign(or, { width: FB_WIDTH, height, pitch: FB_PITCH, bpp: 32, depth: 24, handle });
      const ret = await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB, or);
      return { ret, id: or.fb_id, m, made: this.h.tick() };
    }
    const cmd = fbCmd(handle, height);
    const ret = await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, cmd);
    return { ret, id: cmd.fb_id, m, made: this.h.tick() };
  }

  /** What the server's ADDFB2 (or ADDFB) of a buffer `height` lines high on `dev` may give. */
  private addfbWant(dev: number, height: number): number[] {
    const d = this.h.devs[dev]!;
    if (!d.modeset) return [-EOPNOTSUPP];
    // drm_internal_framebuffer_create(): a height of 0 is -EINVAL
    if (height === 0) return [-EINVAL];
    // vmwgfx: a dumb buffer's surface may be smaller than the framebuffer (-EINVAL).
    return d.driver === "qxl" ? [0] : [0, -EINVAL];
  }

  /**
   * A client presents a buffer by PRIME (file comment): export, the exchange with the server
   * (send, receive, import on a drawn device, size, ADDFB2 or ADDFB, closes in drawn orders).
   */
  private async presentPrime(ctx: C): Promise<"ok"> {
    const pk = this.h.pickDrm(ctx);
    const to = this.h.server.process;
    if (!pk || !to) return "ok";
    const exporter = pk.e.file!.dev;
    const d = await this.h.exportDmabuf(ctx, pk.e, pk.own);
    if (!d) return "ok";
    const size = d.buf !== undefined ? this.h.bufferSize(d.buf) : null;
    // The device the buffer was made on (a foreign import on any other: kms-flip.ts).
    const origin = d.buf !== undefined ? (this.h.bufferDev?.(d.buf) ?? null) : null;
    const dev = choose(this.h.devs.length, "fuzz kms import device");
    // (The server's open of the device failed, an allocation under fault injection: it runs no
    // work there, and would never ask for the dma-buf.)
    if (this.h.server.devs[dev]!.fd < 0) return "ok";
    const legacy = choose(3, "fuzz kms legacy addfb") === 0;
    // 0: the fd right after the import; 1: after ADDFB2
    const fdFirst = choose(2, "fuzz kms close fd first") === 0;
    const closeHandle = choose(2, "fuzz kms close handle") === 0;
    const clientKeeps = choose(2, "fuzz kms client keeps fd") === 0;
    const go = new Completion("fuzz-xorg asks for the dma-buf");
    const sent = new Completion("fuzz client sent the dma-buf");
    let send: { ret: number; m: number; trusted: boolean } | null = null;
    const r = this.h.server.enqueue("call", dev, 0, async (p, fd, master) => {
      go.complete();
      await sent.wait("fuzz-xorg waits for the client's dma-buf");
      const x = { exporter, origin, size, send, master, legacy, fdFirst, closeHandle };
      await this.serverImport(p, fd, dev, x);
    });
    await go.wait("fuzz client waits for fuzz-xorg's turn");
    try {
      send = await this.h.sendDmabuf(ctx, to, d);
    } finally {
      // (A thread dying in sendmsg(2) unwinds through here: the server must not wait forever.)
      sent.complete();
    }
    // (A sibling's close_range() or dup2() may have closed or replaced the fd meanwhile.)
    if (send.ret !== 0 && send.trusted && !this.h.allocFailed(send.ret, send.m))
      this.h.diverge(`sendmsg() of a dma-buf fd to the display server = ${send.ret}`);
    if (!clientKeeps) await this.h.closeDmabuf(ctx, d);
    await r.done.wait("fuzz client waits for fuzz-xorg");
    return "ok";
  }

  /** The server's side of a PRIME present, on device `dev` (its fd `fd`). */
  private async serverImport(
    p: Process,
    fd: number,
    dev: number,
    x: {
      exporter: number;
      origin: number | null;
      size: number | null;
      send: { ret: number; m: number; trusted: boolean } | null;
      master: boolean | null;
      legacy: boolean;
      fdFirst: boolean;
      closeHandle: boolean;
    },
  ): Promise<void> {
    const m = this.h.failMark();
    const got = await p.recvFd({ nonblock: true, cloexec: true });
    // Which message it took: this client's, unless one was left queued before (then unknown).
    const ours = x.send !== null && x.send.ret === 0 && x.send.trusted && !this.strayMessage;
    if (got < 0) {
      // Sent and no stray: the message is there (an allocation failure leaves it queued).
      if (x.send?.ret === 0 && !this.strayMessage) {
        if (got !== -EMFILE && !this.h.allocFailed(got, m))
          this.h.diverge(`the display server's recvmsg() of a sent dma-buf = ${got}`);
        this.strayMessage = true;
      } else if (got !== -EAGAIN && got !== -EMFILE && !this.h.allocFailed(got, m)) {
        this.h.diverge(`the display server's recvmsg() = ${got}`);
      }
      return;
    }
    // A send that may not have happened (the client died in it) left nothing behind: the queue
    // is known again once a receive took what was there and none is left.
    if (!ours) this.strayMessage = (await p.recvFd({ nonblock: true, cloexec: true })) !== -EAGAIN;
    const size = await p.lseek(got, 0, SEEK_END);
    if (ours && x.size !== null && size !== x.size)
      this.h.diverge(
        `the display server's lseek() of a received dma-buf = ${size}, its buffer has ${x.size}`,
      );
    const arg = { handle: 0, flags: 0, fd: got };
    const mi = this.h.failMark();
    const ret = await p.ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, arg);
    const what = `the display server's PRIME_FD_TO_HANDLE on device ${dev} of a dma-buf of device ${ours ? x.exporter : "?"}`;
    // Same device: the self-import (or vmwgfx's ttm prime). Another: every importer takes a
    // foreign dma-buf it can attach (vgem, vmwgfx through GEM PRIME, qxl through the model's
    // ->gem_prime_import_sg_table); a vmwgfx export of a ttm prime object (a surface) refuses
    // attaching (-ENOSYS), a GEM one's does not.
    // Not surely this client's dma-buf (its fd number was replaced under the send, or a
    // message was left queued): any file, -EINVAL if it is no dma-buf (dma_buf_get()).
    if (ours && (x.exporter === dev || this.h.devs[x.exporter]!.driver !== "vmwgfx"))
      this.expect(what, ret, [0], mi);
    else if (ours) this.expect(what, ret, [0, -ENOSYS], mi);
    else this.expect(what, ret, [0, -ENOSYS, -EINVAL], mi);
    if (x.fdFirst) await this.serverCloseFd(p, got);
    if (ret === 0) {
      const height = size > 0 ? Math.min(64, Math.floor(size / FB_PITCH)) : 0;
      const a = await this.serverAddfb(p, fd, arg.handle, height, x.legacy);
      const whatFb = `the display server's ${x.legacy ? "ADDFB" : "ADDFB2"} of an imported dma-buf (${FB_WIDTH}x${height})`;
      this.expect(whatFb, a.ret, this.addfbWant(dev, height), a.m);
      if (a.ret === 0) {
        if (!(a.id > 0)) this.h.diverge(`${whatFb} gave framebuffer id ${a.id}`);
        const fb: ServerFb = {
          dev,
          id: a.id,
          name: 0,
          made: a.made,
          gone: Number.POSITIVE_INFINITY,
          holdsName: false,
          height,
          foreign: ours && x.origin !== null ? x.origin !== dev : null,
        };
        this.serverFbs.push(fb);
        // A compositor flushes what it got (the whole framebuffer, or damage clips).
        if (choose(2, "fuzz kms dirty after addfb") === 0)
          await this.serverDirtyfb(p, dev, fd, x.master, fb, choose(6, "fuzz kms dirty args"));
      }
      if (x.closeHandle || a.ret !== 0) await this.serverClose(p, fd, arg.handle);
    }
    if (!x.fdFirst) await this.serverCloseFd(p, got);
  }

  /** The server's close(2) of a dma-buf fd it received: 0. */
  private async serverCloseFd(p: Process, fd: number): Promise<void> {
    const ret = await p.close(fd);
    if (ret !== 0)
      this.h.diverge(`the display server's close(${fd}) of a received dma-buf = ${ret}`);
  }

  /**
   * The server's DIRTYFB of one of its framebuffers (or a never-valid id): no clips, two clips in
   * its page, or bad clip arguments. DRM_MASTER: -EACCES while it is not the current master.
   */
  private async serverDirty(ctx: C): Promise<"ok"> {
    const dev = this.pickDev(ctx);
    if (dev === null) return "ok";
    await this.h.server.request("call", dev, 0, async (p, fd, master) => {
      const live = this.liveServerFbs(dev);
      const fb = live.length > 0 ? live[choose(live.length, "fuzz kms server fb")]! : null;
      await this.serverDirtyfb(p, dev, fd, master, fb, choose(6, "fuzz kms dirty args"));
    });
    return "ok";
  }

  /**
   * The server's DIRTYFB of `fb` (null: a never-valid id) with the arguments of `kind`: 0 no
   * clips, 1 two clips, 2 two clips with ANNOTATE_COPY (one pair), 3 a count without a pointer
   * (-EINVAL), 4 an odd count with ANNOTATE_COPY (-EINVAL, before the copy), 5 an unmapped
   * pointer (-EFAULT).
   */
  private async serverDirtyfb(
    p: Process,
    dev: number,
    fd: number,
    master: boolean | null,
    fb: ServerFb | null,
    kind: number,
  ): Promise<void> {
    let numClips = 0;
    let clipsPtr = 0;
    let flags = 0;
    let bad: number | null = null;
    if (kind === 1 || kind === 2) {
      if (this.clipsPage === 0) {
        const prot = PROT_READ | PROT_WRITE;
        const page = await p.mmap(0, PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page < 0) return;
        const b = new Uint8Array([0, 0, 0, 0, FB_WIDTH, 0, 1, 0, 0, 0, 0, 0, FB_WIDTH, 0, 1, 0]);
        if ((await p.writeMemory(page, b)) < 0) return;
        this.clipsPage = page;
      }
      numClips = 2;
      clipsPtr = this.clipsPage;
      if (kind === 2) flags = DRM_MODE_FB_DIRTY_ANNOTATE_COPY;
    } else if (kind === 3) {
      numClips = 1; // a count without a pointer
      bad = -EINVAL;
    } else if (kind === 4) {
      numClips = 3; // an odd count with ANNOTATE_COPY (checked before the copy)
      clipsPtr = 0x1000;
      flags = DRM_MODE_FB_DIRTY_ANNOTATE_COPY;
      bad = -EINVAL;
    } else if (kind === 5) {
      numClips = 1; // an unmapped page (the anonymous mappings start above it)
      clipsPtr = 0x1000;
      bad = -EFAULT;
    }
    const id = fb ? fb.id : NEVER_FB;
    const m = this.h.failMark();
    const ret = await p.ioctl(fd, DRM_IOCTL_MODE_DIRTYFB, {
      fb_id: id,
      flags,
      color: 0,
      num_clips: numClips,
      clips_ptr: clipsPtr,
    });
    const what = `the display server's DIRTYFB(${id}, ${numClips} clips${flags ? ", copy" : ""})`;
    const d = this.h.devs[dev]!;
    // Its result as the current master: the lookup, the clip checks, the driver's ->dirty
    // (qxl's and vmwgfx's give 0 here: no bo is the primary surface, no plane scans out).
    const asMaster = !d.modeset ? -EOPNOTSUPP : !fb ? -ENOENT : bad !== null ? bad : 0;
    const want = master === true ? [asMaster] : master === false ? [-EACCES] : [asMaster, -EACCES];
    // drm_property_create_blob() (vmwgfx's damage clips) turns a failed id allocation into
    // -EINVAL: under fault injection that is an allocation failure too.
    const blobFailed = ret === -EINVAL && numClips > 0 && bad === null && this.h.failMark() > m;
    if (!blobFailed) this.expect(what, ret, want, m);
  }

  /** A client's legacy ADDFB with a good (32/24) or bad (bpp, depth) pair. */
  private async clientAddLegacy(ctx: C): Promise<"ok"> {
    const pk = this.h.pickDrm(ctx);
    if (!pk) return "ok";
    const { e, own } = pk;
    const f = e.file!;
    const { h, never } = this.h.lookupHandle(f, "fuzz kms addfb handle");
    const pairs = [
      [32, 24],
      [32, 24],
      [32, 16],
      [0, 0],
      [24, 32],
    ] as const;
    const [bpp, depth] = pairs[choose(pairs.length, "fuzz kms legacy pair")]!;
    const bad = !(bpp === 32 && depth === 24);
    const height = 1 + choose(4, "fuzz kms height");
    const or = getfbArg(0);
    Object.assign(or, { width: FB_WIDTH, height, pitch: FB_PITCH, bpp, depth, handle: h });
    const what = `ADDFB(${h}, ${bpp}/${depth})`;
    const r = await this.h.ioctl(ctx, e, DRM_IOCTL_MODE_ADDFB, or, what);
    if (e.closed) return "ok";
    const gate = this.gate(f);
    const driver = this.h.devs[f.dev]!.driver;
    if (gate !== null) this.expect(what, r.ret, [gate], r.m);
    // drm_driver_legacy_fb_format(): no format for the pair, -EINVAL before the handle
    else if (bad) this.expect(what, r.ret, [-EINVAL], r.m);
    else if (never) this.expect(what, r.ret, [driver === "vmwgfx" ? -ESRCH : -ENOENT], r.m);
    if (r.ret === 0) {
      if (bad) this.h.diverge(`${what} = 0`);
      this.recordNewFb(what, f, or.fb_id, own, height);
    }
    return "ok";
  }

  /**
   * A client's DIRTYFB of its own framebuffer, the server's, one it removed or a never-valid id
   * (DRM_MASTER: a file opened under the server's master never is master, -EACCES; a render node
   * -EACCES too).
   */
  private async clientDirty(ctx: C): Promise<"ok"> {
    const pk = this.h.pickDrm(ctx);
    if (!pk) return "ok";
    const { e } = pk;
    const f = e.file!;
    const s = this.fbsOf(f);
    const target = this.clientTarget(f, s, "fuzz kms dirty target");
    const arg = { fb_id: target.id, flags: 0, color: 0, num_clips: 0, clips_ptr: 0 };
    const what = `DIRTYFB(${target.id}) of ${target.kind}`;
    const r = await this.h.ioctl(ctx, e, DRM_IOCTL_MODE_DIRTYFB, arg, what);
    if (e.closed) return "ok";
    if (!f.primary || this.h.underServer(f)) this.expect(what, r.ret, [-EACCES], r.m);
    return "ok";
  }

  /**
   * The end-of-run checks: a client's GETFB/GETFB2 of a server framebuffer that surely lived
   * throughout the call succeeds; and the framebuffer's name check (file comment).
   */
  check(): void {
    for (const g of this.clientGets) {
      const { fb, call } = g;
      if (call.ret === -ENOENT && fb.made < call.t0 && fb.gone > call.t1)
        this.h.diverge(`${g.what} = -ENOENT while the display server's framebuffer ${fb.id} lived`);
    }
    const opens = [...this.h.nameOpens(), ...this.serverOpens];
    for (const o of opens) {
      if (o.result === 0 || o.excused) continue;
      const fb = this.serverFbs.find(
        (x) =>
          x.holdsName && x.dev === o.dev && x.name === o.name && x.made < o.start && x.gone > o.ret,
      );
      if (fb)
        this.h.diverge(
          `GEM_OPEN(name ${o.name}) = ${o.result} while framebuffer ${fb.id} of the display server held its object`,
        );
    }
  }
}

/** ADDFB2 of an XRGB8888 framebuffer FB_WIDTH x `height` over `handle`. */
function fbCmd(handle: number, height: number): DrmModeFbCmd2 {
  return {
    fb_id: 0,
    width: FB_WIDTH,
    height,
    pixel_format: DRM_FORMAT_XRGB8888,
    flags: 0,
    handles: [handle, 0, 0, 0],
    pitches: [FB_PITCH, 0, 0, 0],
    offsets: [0, 0, 0, 0],
    modifier: [0, 0, 0, 0],
  };
}

function getfbArg(id: number): DrmModeFbCmd {
  return { fb_id: id, width: 0, height: 0, pitch: 0, bpp: 0, depth: 0, handle: 0 };
}

function getfb2Arg(id: number): DrmModeFbCmd2 {
  const r = fbCmd(0, 0);
  r.fb_id = id;
  r.width = 0;
  r.pixel_format = 0;
  r.pitches[0] = 0;
  return r;
}
