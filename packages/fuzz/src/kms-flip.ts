/**
 * The compositor's flips in the fuzz workload (`FuzzOptions.kms` "flip", `cli --kms flip`, token
 * `fuzz +kms+flip`): on a qxl device registered with CRTCs (DrawnDeviceWants.scanout: qxl's
 * `crtcs`), the display server (display-server.ts, the device's DRM master) shows framebuffers
 * with SETCRTC and PAGE_FLIP (with DRM_MODE_PAGE_FLIP_EVENT) and reads the flip events back
 * (read(2) of its DRM fd), while its clients remove or close the framebuffers it shows. Kernel
 * counterpart: drivers/gpu/drm/drm_crtc.c (drm_mode_setcrtc()), drm_plane.c
 * (drm_mode_page_flip_ioctl()), drm_atomic_helper.c (drm_atomic_helper_set_config(),
 * drm_atomic_helper_page_flip(), stall_checks()), drm_framebuffer.c (drm_mode_rmfb(),
 * drm_mode_closefb_ioctl(), drm_fb_release() -> atomic_remove_fb()), drm_file.c (drm_read()),
 * drm_mode_config.c (drm_mode_getresources()) and qxl_display.c (qxl_primary_atomic_check(),
 * qxl_plane_prepare_fb() -> qxl_prepare_shadow() and qxl_bo_pin(), qxl_plane_cleanup_fb(),
 * qxl_primary_atomic_update() -> qxl_io_create_primary()/qxl_io_destroy_primary()) of
 * **6.12.19** and **6.18.35** (the same code for these paths).
 *
 * The two operations (after the other KMS operations in kms.ts's draw, only in "flip" runs):
 * - **client show**: a client hands the server one of its framebuffers (a live one of its file,
 *   or a new ADDFB2 of one of its handles: a dumb buffer, an import, whatever the handle names),
 *   which the server shows with SETCRTC (a mode 64 pixels wide, 1, 2, 4, 16 or 64 lines high) or
 *   PAGE_FLIP on a drawn CRTC: any file can look up any framebuffer of the device by id
 *   (drm_framebuffer_lookup()), so a compositor shows its clients' framebuffers by id; the
 *   client's later RMFB or close of its fd (kms.ts's and fuzz.ts's operations, any time) turns
 *   the plane off under the server (atomic_remove_fb()). First, a client that surely is not the
 *   current master (a render node, or a file opened under the server's mastership) tries
 *   SETCRTC or PAGE_FLIP itself: -EACCES (DRM_MASTER, drm_ioctl_permit()).
 * - **server flip**: on a drawn CRTC, the server's SETCRTC of one of its framebuffers (made of
 *   its clients' buffers by kms.ts's presents: by flink name, or PRIME-imported: a self-import
 *   is the qxl bo, a foreign import the model's QxlImportObject) with a drawn mode; or one to
 *   three PAGE_FLIPs with events (of its framebuffers in turn; a SETCRTC first, three times in
 *   four, where the plane surely shows nothing), each after reading the pending events (always
 *   when eight are unread, else half the time); its read of the pending events; or its SETCRTC
 *   that turns the CRTC off. Its RMFB of a
 *   framebuffer it shows turns the plane off (kms.ts's serverRemove(): removed()), its CLOSEFB
 *   leaves it on screen.
 *
 * **The reference model.** The server is the only file that changes a CRTC (clients surely not
 * master never call SETCRTC or PAGE_FLIP but to get -EACCES), and its calls run one at a time,
 * so after each call the model knows what each CRTC shows and its mode from the call's result,
 * unless a client's framebuffer is shown: then the plane may go off at any time (`sure` false).
 * Expected of the server's SETCRTC: -EACCES while it is not the current master (unknown
 * mastership: also -EACCES), -ENOENT for a framebuffer that may be gone (a client's: a sibling
 * thread may close the client's fd by number while the server calls), -ENOSPC for a framebuffer lower than the mode
 * (drm_crtc_check_viewport()), -EINVAL for a foreign import (documented model extension: mainline
 * qxl cannot import foreign dma-bufs at all, import_sg_table -ENOSYS; the model's imports are
 * refused by qxl_primary_atomic_check(); unknown origin: 0 or -EINVAL), -ENOMEM for a bo whose
 * surface exceeds the VRAM (qxl_check_mode()) or that qxl_bo_pin() cannot place (the model does
 * not track VRAM), else 0; turning the CRTC off: 0. Of its PAGE_FLIP: the same, and -EBUSY when
 * the plane surely shows nothing (exactly), or may (a client's framebuffer was shown), or while
 * one of its flips on the CRTC is pending (its event not read: stall_checks() refuses a
 * nonblocking commit before the previous one's flip_done; read: flip_done completed, no
 * -EBUSY). Of its reads: each event is a DRM_EVENT_FLIP_COMPLETE of the CRTC of one of its own
 * flips that returned 0 and whose event it has not read yet: every event the file reads is one
 * it asked for, exactly once. A read blocks until an event comes, so a lost event is a hang (the
 * deadlock oracle). Allocation failures excuse -ENOMEM as everywhere (kms.ts's expect()); a
 * server RMFB during which an allocation may have failed leaves its planes unknown (`sure`
 * false): a failed atomic_remove_fb() in the rmfb worker leaves the framebuffer on the plane and
 * RMFB still returns 0 (the kernel's WARN there is the known window gem.remove-fb-enomem-warn,
 * KNOWN-WINDOWS.md).
 */

import {
  EACCES,
  EBUSY,
  EINVAL,
  ENOENT,
  ENOMEM,
  ENOSPC,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { choose } from "@primetime/sim";
import {
  DRM_EVENT_FLIP_COMPLETE,
  DRM_EVENT_VBLANK_SIZE,
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_IOCTL_MODE_SETCRTC,
  DRM_MODE_PAGE_FLIP_EVENT,
  decodeDrmEventVblank,
} from "@primetime/uapi";
import type { KmsFd, KmsFile, KmsHooks } from "./kms.js";

/** Every framebuffer of the fuzzer is this wide, and so is every mode it sets. */
const FLIP_WIDTH = 64;
/**
 * The mode heights SETCRTC draws from (lines): the clients' framebuffers have 1-4, the server's
 * 16-64 (a dumb buffer's page is 16 lines), so that most fit and some do not (-ENOSPC).
 */
export const FLIP_MODE_HEIGHTS = [1, 1, 2, 4, 4, 16, 64] as const;
/** Unread events after which the server always reads before flipping (the event space is 4096). */
const MAX_UNREAD = 8;
/** The CRTCs and connectors GETRESOURCES is asked for (qxl registers at most QXL_DRAWN_CRTCS). */
const MAX_CRTCS = 4;
/** Where the server's page keeps the connector ids (after the CRTC ids) and reads events. */
const CONN_OFFSET = 64;
const EVENTS_OFFSET = 1024;
const EVENTS_SIZE = 3072;

/** A framebuffer the server may show: the server's own (kms.ts's ServerFb) or a client's. */
export interface FlipFb {
  readonly id: number;
  /** Its height in lines (the fuzzer's framebuffers are FLIP_WIDTH wide, XRGB8888). */
  readonly height: number;
  /** Its bo is a foreign import on this device (true), the device's own (false), unknown (null). */
  readonly foreign: boolean | null;
}

/** One CRTC of a device, as the model knows it. */
interface FlipCrtc {
  readonly id: number;
  /** Its connector (qdev_output_init(): one per CRTC, in order). */
  readonly conn: number;
  /** The current mode's height (lines; 0: off). */
  modeH: number;
  /** What its primary plane shows (null: nothing). */
  shown: FlipFb | null;
  /** Whether `shown` is surely what the plane shows (false once a client's framebuffer is shown). */
  sure: boolean;
}

/** The server's side of one device with CRTCs. */
interface FlipDev {
  /** Its CRTCs (GETRESOURCES, at the first flip work on the device; null: not asked yet). */
  crtcs: FlipCrtc[] | null;
  /** The user_data of each flip whose event the server has not read, with its CRTC id. */
  readonly unread: Map<number, number>;
  /** The server's page for GETRESOURCES's ids and the events it reads (0: not mapped yet). */
  page: number;
}

/** What kms-flip.ts uses of kms.ts's KmsFuzz. */
export interface FlipHost {
  /** The server's live framebuffers on `dev`. */
  liveServerFbs(dev: number): readonly FlipFb[];
  /** `ret` must be one of `want` (or an allocation failure's errno). */
  expect(what: string, ret: number, want: readonly number[], m: number): void;
  /** A client file's live framebuffers (ids) and their heights. */
  clientFbs(f: KmsFile): {
    readonly live: readonly number[];
    readonly heights: Map<number, number>;
  };
  /** Records a framebuffer a client's ADDFB2 made (kms.ts's recordNewFb()). */
  recordNewFb(what: string, f: KmsFile, id: number, own: boolean, height: number): void;
}

/** The compositor's flips of one fuzz run (file comment). */
export class KmsFlip<C> {
  private readonly devs: (FlipDev | null)[];
  /** The next flip's user_data (unique in the run). */
  private nextUserData = 0x100;

  constructor(
    private readonly h: KmsHooks<C>,
    private readonly host: FlipHost,
  ) {
    this.devs = h.devs.map((d) =>
      d.driver === "qxl" && (d.crtcs ?? 0) > 0 ? { crtcs: null, unread: new Map(), page: 0 } : null,
    );
  }

  /** Whether device `dev` is one the flips run on (qxl with CRTCs). */
  flipDev(dev: number): boolean {
    return this.devs[dev] !== null && this.devs[dev] !== undefined;
  }

  /**
   * The server's RMFB of `fb` returned 0: a plane that showed it is off (atomic_remove_fb()).
   * `allocFailed`: an allocation may have failed meanwhile, maybe atomic_remove_fb()'s in the
   * rmfb worker: the kernel then leaves the plane showing `fb` (drm_framebuffer_remove() only
   * reports it: the WARN of the known window gem.remove-fb-enomem-warn, drm_err() with its fix
   * switch), so the plane shows it or nothing.
   */
  removed(dev: number, fb: FlipFb, allocFailed: boolean): void {
    for (const c of this.devs[dev]?.crtcs ?? []) {
      if (c.shown !== fb) continue;
      c.shown = null;
      if (allocFailed) c.sure = false;
    }
  }

  /** A client's turn: its own SETCRTC/PAGE_FLIP (-EACCES), then its framebuffer shown. */
  async client(ctx: C): Promise<"ok"> {
    const pk = this.h.pickDrm(ctx);
    if (!pk) return "ok";
    const { e, own } = pk;
    const f = e.file!;
    // A file that surely is not the current master: DRM_MASTER refuses it before anything.
    if (!f.primary || this.h.underServer(f)) await this.clientMasterOnly(ctx, e);
    if (!f.primary || !this.flipDev(f.dev) || e.closed) return "ok";
    const s = this.host.clientFbs(f);
    let id: number;
    let height: number;
    if (s.live.length > 0 && choose(2, "fuzz flip client fb") === 0) {
      id = s.live[choose(s.live.length, "fuzz flip client fb")]!;
      height = s.heights.get(id) ?? 0;
    } else {
      const { h, never } = this.h.lookupHandle(f, "fuzz flip handle");
      if (never) return "ok";
      height = 1 + choose(4, "fuzz kms height");
      const cmd = flipFbCmd(h, height);
      const what = `ADDFB2(${h}) of a framebuffer to show`;
      const r = await this.h.ioctl(ctx, e, DRM_IOCTL_MODE_ADDFB2, cmd, what);
      if (e.closed || r.ret !== 0) return "ok";
      this.host.recordNewFb(what, f, cmd.fb_id, own, height);
      id = cmd.fb_id;
    }
    // Its framebuffer may be gone by the time the server calls: a sibling thread of the process
    // may close the fd (by number) meanwhile, releasing the file (drm_fb_release()).
    const fb: FlipFb = { id, height, foreign: null };
    const mayBeGone = true;
    const flip = choose(2, "fuzz flip client show") === 0;
    const modeH = FLIP_MODE_HEIGHTS[choose(FLIP_MODE_HEIGHTS.length, "fuzz flip mode")]!;
    await this.h.server.request("call", f.dev, 0, async (p, fd, master) => {
      const d = await this.resources(p, fd, f.dev);
      if (!d) return;
      const c = d.crtcs![choose(d.crtcs!.length, "fuzz flip crtc")]!;
      const who = `a client's framebuffer ${id} (${FLIP_WIDTH}x${height || "?"})`;
      // (Mostly a SETCRTC where the plane surely shows nothing: a flip there is -EBUSY.)
      const off = this.off(c) && choose(4, "fuzz flip modeset first") !== 0;
      if (flip && !off) await this.pageFlip(p, fd, f.dev, d, c, fb, mayBeGone, master, who, false);
      else await this.setCrtc(p, fd, c, fb, modeH, mayBeGone, master, who, false);
    });
    return "ok";
  }

  /** A client's SETCRTC or PAGE_FLIP on a file that surely is not the current master: -EACCES. */
  private async clientMasterOnly(ctx: C, e: KmsFd): Promise<void> {
    const f = e.file!;
    const crtcs = this.devs[f.dev]?.crtcs;
    const crtc = crtcs && crtcs.length > 0 ? crtcs[0]!.id : 1;
    const flip = choose(2, "fuzz flip client ioctl") === 0;
    const what = `a client's ${flip ? "PAGE_FLIP" : "SETCRTC"} on a file that is not master`;
    const r = flip
      ? await this.h.ioctl(ctx, e, DRM_IOCTL_MODE_PAGE_FLIP, flipArg(crtc, 1, 0), what)
      : await this.h.ioctl(ctx, e, DRM_IOCTL_MODE_SETCRTC, crtcArg(crtc, 0, 0, 0), what);
    if (e.closed) return;
    this.host.expect(what, r.ret, [-EACCES], r.m);
  }

  /** The server's turn on a device with CRTCs: SETCRTC, PAGE_FLIP, a read, or a CRTC off. */
  async server(ctx: C): Promise<"ok"> {
    const pk = this.h.pickDrm(ctx);
    if (!pk || !this.flipDev(pk.e.file!.dev)) return "ok";
    const dev = pk.e.file!.dev;
    const kind = choose(6, "fuzz flip server op");
    await this.h.server.request("call", dev, 0, async (p, fd, master) => {
      const d = await this.resources(p, fd, dev);
      if (!d) return;
      const c = d.crtcs![choose(d.crtcs!.length, "fuzz flip crtc")]!;
      if (kind === 4) {
        await this.readEvents(p, fd, dev, d);
        return;
      }
      if (kind === 5) {
        await this.setCrtc(p, fd, c, null, 0, false, master, "nothing", true);
        return;
      }
      const live = this.host.liveServerFbs(dev);
      if (live.length === 0) return;
      const pick = () => live[choose(live.length, "fuzz flip server fb")]!;
      const who = (fb: FlipFb) => `its framebuffer ${fb.id} (${FLIP_WIDTH}x${fb.height})`;
      if (kind <= 1) {
        const fb = pick();
        const modeH = FLIP_MODE_HEIGHTS[choose(FLIP_MODE_HEIGHTS.length, "fuzz flip mode")]!;
        await this.setCrtc(p, fd, c, fb, modeH, false, master, who(fb), true);
        return;
      }
      // A compositor sets a mode before it flips (mostly: a flip of an off plane is -EBUSY),
      // then flips a few frames (its framebuffers in turn).
      if (this.off(c) && choose(4, "fuzz flip modeset first") !== 0) {
        const fb = pick();
        const modeH = FLIP_MODE_HEIGHTS[choose(FLIP_MODE_HEIGHTS.length, "fuzz flip mode")]!;
        await this.setCrtc(p, fd, c, fb, modeH, false, master, who(fb), true);
      }
      for (let n = 1 + choose(3, "fuzz flip frames"); n > 0; n--) {
        if (d.unread.size >= MAX_UNREAD || choose(2, "fuzz flip read first") === 0)
          await this.readEvents(p, fd, dev, d);
        const fb = pick();
        await this.pageFlip(p, fd, dev, d, c, fb, false, master, who(fb), true);
      }
    });
    return "ok";
  }

  /**
   * The server's GETRESOURCES of `dev` at its first flip work there: the CRTC and connector ids
   * (and its page for them and the events). Null if it failed (an allocation).
   */
  private async resources(p: Process, fd: number, dev: number): Promise<FlipDev | null> {
    const d = this.devs[dev]!;
    if (d.crtcs) return d;
    if (d.page === 0) {
      const prot = PROT_READ | PROT_WRITE;
      const page = await p.mmap(0, PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (page < 0) return null;
      // Touched now, so that later copies to it need no page allocation.
      if ((await p.writeMemory(page, new Uint8Array(PAGE_SIZE))) < 0) return null;
      d.page = page;
    }
    const r = {
      fb_id_ptr: 0,
      crtc_id_ptr: d.page,
      connector_id_ptr: d.page + CONN_OFFSET,
      encoder_id_ptr: 0,
      count_fbs: 0,
      count_crtcs: MAX_CRTCS,
      count_connectors: MAX_CRTCS,
      count_encoders: 0,
      min_width: 0,
      max_width: 0,
      min_height: 0,
      max_height: 0,
    };
    const m = this.h.failMark();
    const ret = await p.ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, r);
    this.host.expect("the display server's GETRESOURCES", ret, [0], m);
    if (ret !== 0) return null;
    const want = this.h.devs[dev]!.crtcs ?? 0;
    if (r.count_crtcs !== want || r.count_connectors !== want) {
      this.h.diverge(
        `the display server's GETRESOURCES: ${r.count_crtcs} CRTCs, ${r.count_connectors} connectors; the device has ${want}`,
      );
      return null;
    }
    const b = await p.readMemory(d.page, CONN_OFFSET + 4 * MAX_CRTCS);
    if (typeof b === "number") return null;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    d.crtcs = [];
    for (let i = 0; i < want; i++)
      d.crtcs.push({
        id: v.getUint32(4 * i, true),
        conn: v.getUint32(CONN_OFFSET + 4 * i, true),
        modeH: 0,
        shown: null,
        sure: true,
      });
    return d;
  }

  /**
   * The server's SETCRTC of `fb` with a FLIP_WIDTH x `modeH` mode on CRTC `c` (null: off), and
   * the model's CRTC after it. `mine`: the server's own framebuffer (then the plane's state is
   * known again); `mayBeGone`: its id may have been removed meanwhile (a client's).
   */
  private async setCrtc(
    p: Process,
    fd: number,
    c: FlipCrtc,
    fb: FlipFb | null,
    modeH: number,
    mayBeGone: boolean,
    master: boolean | null,
    who: string,
    mine: boolean,
  ): Promise<void> {
    const d = this.devFor(c);
    const conn = d.page + CONN_OFFSET + 4 * d.crtcs!.indexOf(c);
    const arg = crtcArg(c.id, fb ? fb.id : 0, fb ? modeH : 0, fb ? conn : 0);
    const m = this.h.failMark();
    const ret = await p.ioctl(fd, DRM_IOCTL_MODE_SETCRTC, arg);
    const what = `the display server's SETCRTC(CRTC ${c.id}, ${fb ? `${FLIP_WIDTH}x${modeH}` : "off"}) of ${who}`;
    const want = new Set<number>();
    if (master !== true) want.add(-EACCES);
    if (master !== false) {
      if (!fb) want.add(0);
      else {
        if (mayBeGone) want.add(-ENOENT);
        // (A height the model does not know: either.)
        if (fb.height < modeH) want.add(-ENOSPC);
        if (fb.height === 0 || fb.height >= modeH) this.showable(fb, want);
      }
    }
    this.host.expect(what, ret, [...want], m);
    if (ret !== 0) return;
    c.shown = fb;
    c.modeH = fb ? modeH : 0;
    c.sure = fb === null || mine;
  }

  /** What a commit showing `fb` may return once the arguments passed (see the file comment). */
  private showable(fb: FlipFb, want: Set<number>): void {
    if (fb.foreign !== true) want.add(0).add(-ENOMEM);
    if (fb.foreign !== false) want.add(-EINVAL);
  }

  /** The server's PAGE_FLIP of `fb` on CRTC `c` with an event, and the model after it. */
  private async pageFlip(
    p: Process,
    fd: number,
    dev: number,
    d: FlipDev,
    c: FlipCrtc,
    fb: FlipFb,
    mayBeGone: boolean,
    master: boolean | null,
    who: string,
    mine: boolean,
  ): Promise<void> {
    const userData = this.nextUserData++;
    const m = this.h.failMark();
    const ret = await p.ioctl(fd, DRM_IOCTL_MODE_PAGE_FLIP, flipArg(c.id, fb.id, userData));
    const what = `the display server's PAGE_FLIP(CRTC ${c.id}, event) of ${who} on device ${dev}`;
    const pending = [...d.unread.values()].includes(c.id);
    const want = new Set<number>();
    if (master !== true) want.add(-EACCES);
    if (master !== false) {
      // drm_mode_page_flip_ioctl(): a plane showing nothing is -EBUSY before the lookup.
      if (c.shown === null && c.sure) want.add(-EBUSY);
      else {
        if (!c.sure || c.shown === null) want.add(-EBUSY);
        if (mayBeGone) want.add(-ENOENT);
        if (fb.height < c.modeH) want.add(-ENOSPC);
        if (fb.height === 0 || fb.height >= c.modeH) {
          this.showable(fb, want);
          // stall_checks(): the previous nonblocking commit's flip_done not completed yet.
          if (pending) want.add(-EBUSY);
        }
      }
    }
    this.host.expect(what, ret, [...want], m);
    if (ret !== 0) return;
    d.unread.set(userData, c.id);
    // The plane shows `fb` from the commit's swap_state() on (under the locks a client's
    // removal takes too): a client's framebuffer shown before is no longer on this plane.
    c.shown = fb;
    c.sure = mine;
  }

  /** The plane of `c` surely shows nothing. */
  private off(c: FlipCrtc): boolean {
    return c.shown === null && c.sure;
  }

  /** The device state `c` belongs to. */
  private devFor(c: FlipCrtc): FlipDev {
    return this.devs.find((d) => d?.crtcs?.includes(c) === true)!;
  }

  /**
   * The server's read(2) of its pending flip events (none pending: nothing to read, no call):
   * it blocks until at least one comes; each must be one it asked for and has not read.
   */
  private async readEvents(p: Process, fd: number, dev: number, d: FlipDev): Promise<void> {
    if (d.unread.size === 0) return;
    const m = this.h.failMark();
    const n = await p.read(fd, d.page + EVENTS_OFFSET, EVENTS_SIZE);
    const what = `the display server's read(2) of device ${dev}'s flip events`;
    if (n <= 0) {
      this.host.expect(what, n, [DRM_EVENT_VBLANK_SIZE], m);
      return;
    }
    const b = await p.readMemory(d.page + EVENTS_OFFSET, n);
    if (typeof b === "number") return;
    if (n % DRM_EVENT_VBLANK_SIZE !== 0) this.h.diverge(`${what} = ${n} bytes`);
    for (let off = 0; off + DRM_EVENT_VBLANK_SIZE <= n; off += DRM_EVENT_VBLANK_SIZE) {
      const ev = decodeDrmEventVblank(b, off);
      const ud = Number(ev.user_data);
      const crtc = d.unread.get(ud);
      if (ev.type !== DRM_EVENT_FLIP_COMPLETE || ev.length !== DRM_EVENT_VBLANK_SIZE)
        this.h.diverge(`${what}: an event of type ${ev.type}, length ${ev.length}`);
      else if (crtc === undefined)
        this.h.diverge(
          `${what}: a flip event (user_data ${ud}) it did not ask for or read already`,
        );
      else if (crtc !== ev.crtc_id)
        this.h.diverge(`${what}: flip ${ud}'s event names CRTC ${ev.crtc_id}, flipped ${crtc}`);
      d.unread.delete(ud);
    }
  }
}

/** ADDFB2 of an XRGB8888 FLIP_WIDTH x `height` framebuffer over `handle`. */
function flipFbCmd(handle: number, height: number) {
  return {
    fb_id: 0,
    width: FLIP_WIDTH,
    height,
    pixel_format: DRM_FORMAT_XRGB8888,
    flags: 0,
    handles: [handle, 0, 0, 0],
    pitches: [FLIP_WIDTH * 4, 0, 0, 0],
    offsets: [0, 0, 0, 0],
    modifier: [0, 0, 0, 0],
  };
}

/**
 * struct drm_mode_crtc of a SETCRTC: framebuffer `fbId` at 0,0 with a FLIP_WIDTH x `modeH` mode
 * on the connector whose id is at user address `connPtr`; `fbId` 0: the CRTC off (no mode, no
 * connector).
 */
function crtcArg(crtcId: number, fbId: number, modeH: number, connPtr: number) {
  const on = fbId !== 0;
  return {
    set_connectors_ptr: on ? connPtr : 0,
    count_connectors: on ? 1 : 0,
    crtc_id: crtcId,
    fb_id: fbId,
    x: 0,
    y: 0,
    gamma_size: 0,
    mode_valid: on ? 1 : 0,
    mode_clock: 6500,
    mode_hdisplay: FLIP_WIDTH,
    mode_hsync_start: FLIP_WIDTH + 4,
    mode_hsync_end: FLIP_WIDTH + 8,
    mode_htotal: FLIP_WIDTH + 16,
    mode_hskew: 0,
    mode_vdisplay: modeH,
    mode_vsync_start: modeH,
    mode_vsync_end: modeH,
    mode_vtotal: modeH,
    mode_vscan: 0,
    mode_vrefresh: 60,
    mode_flags: 0,
    mode_type: 0,
    mode_name: new Array<number>(32).fill(0),
  };
}

/** struct drm_mode_crtc_page_flip with DRM_MODE_PAGE_FLIP_EVENT. */
function flipArg(crtcId: number, fbId: number, userData: number) {
  return {
    crtc_id: crtcId,
    fb_id: fbId,
    flags: DRM_MODE_PAGE_FLIP_EVENT,
    sequence: 0,
    user_data: userData,
  };
}
