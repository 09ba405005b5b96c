/**
 * compositor: client processes on the first driver each render a frame into a buffer and hand
 * its dma-buf fd to a compositor process on the second driver over fd passing (SCM_RIGHTS); the
 * compositor imports each frame, checks its checksum and releases it. Some clients (drawn from
 * the seed) exit abruptly right after handing their frame over, mid-frame from the compositor's
 * point of view: without closing anything, so their exit tears down their fd table, handles and
 * mappings while the compositor is still importing and reading the buffer. 2-3 clients, frames
 * of 1-3 pages, from the seed.
 *
 * On a second driver that scans out (SCANOUT_DRIVERS: qxl registered with CRTCs, vmwgfx with
 * screen-target display units; 1-2 of them, drawn before the boot) the compositor is the device's
 * display server, as a Wayland compositor is: it opens the primary node first (so its file is the
 * DRM master; the machine starts no display server for that device) and puts every frame on
 * screen, on every CRTC (clone mode), with the calls of a legacy-KMS compositor (kms-scanout.ts):
 * GETRESOURCES once; per frame, drawn, either direct scanout, ADDFB2 on the imported handle,
 * or composition, the frame's first MODE lines copied into one of its own two dumb buffers
 * (double buffering, each with its framebuffer, made at the first composited frame). Direct
 * scanout falls back to composition when the device cannot scan an imported buffer out (qxl's
 * primary plane refuses an object that is not a qxl bo, ScanoutDriver.showsImports: -EINVAL on
 * the first CRTC, nothing on screen changed). Each CRTC gets a SETCRTC (a blocking modeset: for the first frame, and drawn
 * one time in four afterwards, as a compositor re-applies an invalidated output state) or a
 * PAGE_FLIP with an event and a unique user_data; once every CRTC has it, the compositor reads
 * the events (read(2) of its DRM fd, blocking) until each flip's has come, then takes the
 * previous frame off: RMFB of its framebuffer, GEM_CLOSE of its handle, close of its dma-buf fd
 * (a composited frame's buffer is released as soon as it is copied). At the end, in a drawn
 * order, it turns every CRTC off (SETCRTC without framebuffer or mode) and removes the last
 * frame's framebuffer (removing it first turns the planes off in the kernel, atomic_remove_fb()),
 * then removes its own buffers and checks that no event is left (poll(2)). Pairs whose second
 * driver does not scan out (vgem) draw and run exactly as before.
 *
 * What must hold: the compositor sees every frame as its client drew it, even when the client
 * is already gone (the dma-buf keeps the exporter's object alive), and everything is freed once
 * every process has exited. With scanout: every display call returns 0 (but the direct scanout
 * of an import the device refuses), also when the frame's client exited while the frame is on
 * screen; each flip's event comes exactly once, with its user_data and CRTC; no event is left.
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import type { RegisteredDevice } from "@primetime/gem";
import type { Kernel, Process } from "@primetime/kernel";
import {
  close,
  DrmFd,
  dmaBufSize,
  isSysError,
  type Mapping,
  recvFd,
  sendFd,
} from "@primetime/libdrm";
import { createQxl, QXL_DRIVER_NAME } from "@primetime/qxl";
import { choose } from "@primetime/sim";
import {
  DRM_EVENT_FLIP_COMPLETE,
  DRM_EVENT_VBLANK_SIZE,
  DRM_FORMAT_XRGB8888,
} from "@primetime/uapi";
import { createVmwgfx, VMWGFX_DRIVER_NAME } from "@primetime/vmwgfx";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import type { DriverUnderTest } from "../../drivers.js";
import { importerView } from "./cross-share.js";
import {
  eventPending,
  getPipes,
  mapScanoutPage,
  type Pipe,
  pageFlip,
  readVblankEvents,
  setCrtc,
  unmapScanoutPage,
} from "./kms-scanout.js";
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
import { SHARING_QXL_PAGES } from "./sized-devices.js";

const PAGE = 4096;
/** Every framebuffer and mode is this wide (XRGB8888: 256 bytes a line, 16 lines a page). */
const WIDTH = 64;
const PITCH = WIDTH * 4;
/** The mode's lines: one page, so that every frame (1-3 pages) covers it. */
const MODE = { width: WIDTH, height: PAGE / PITCH } as const;
/** The most CRTCs a compositor's device is registered with. */
const MAX_SCANOUT_PIPES = 2;

/**
 * How a driver whose device scans out registers it with `pipes` CRTCs (module-level functions:
 * see Machine.process), and whether its primary planes show an import of another device's
 * dma-buf (qxl: no, qxl_primary_atomic_check() refuses it with -EINVAL, the model's extension
 * where mainline qxl cannot import it at all; vmwgfx: yes, a buffer framebuffer over the
 * imported vmw_bo, copied to the screen target's proxy surface).
 */
interface ScanoutDriver {
  register(kernel: Kernel, pipes: number): Promise<RegisteredDevice>;
  readonly showsImports: boolean;
}

/** qxl with `crtcs` CRTCs (qxl_num_crtc), at the sharing scenarios' size. */
async function registerQxlScanout(kernel: Kernel, crtcs: number): Promise<RegisteredDevice> {
  return createQxl(kernel, { ...SHARING_QXL_PAGES, crtcs });
}

/** vmwgfx with `displayUnits` screen-target display units. */
async function registerVmwgfxScanout(
  kernel: Kernel,
  displayUnits: number,
): Promise<RegisteredDevice> {
  return createVmwgfx(kernel, { displayUnits });
}

/** The drivers whose compositor scans out (see the file comment). */
export const SCANOUT_DRIVERS: Readonly<Record<string, ScanoutDriver>> = {
  [QXL_DRIVER_NAME]: { register: registerQxlScanout, showsImports: false },
  [VMWGFX_DRIVER_NAME]: { register: registerVmwgfxScanout, showsImports: true },
};

/** The descriptors of scanout devices made so far, by driver and CRTC count (made once each). */
const scanoutDescriptors = new Map<string, DriverUnderTest>();

/** `d` registering a device with `pipes` CRTCs (SCANOUT_DRIVERS), its other hooks kept. */
function withScanout(d: DriverUnderTest, pipes: number): DriverUnderTest {
  const key = `${d.name}:${pipes}`;
  let s = scanoutDescriptors.get(key);
  if (!s) {
    const how = SCANOUT_DRIVERS[d.name]!;
    s = { ...d, register: (kernel: Kernel) => how.register(kernel, pipes) };
    scanoutDescriptors.set(key, s);
  }
  return s;
}

/**
 * What the compositors that scan out did, by driver: SETCRTCs and PAGE_FLIPs that returned 0,
 * flip events read (each checked), frames shown directly and composited, direct scanouts the
 * device refused. The test checks that each path ran.
 */
export const scanoutStats = {
  modesets: {} as Record<string, number>,
  flips: {} as Record<string, number>,
  events: {} as Record<string, number>,
  direct: {} as Record<string, number>,
  composited: {} as Record<string, number>,
  refused: {} as Record<string, number>,
};

/** Counts one more for `driver` in `rec`. */
function tally(rec: Record<string, number>, driver: string): void {
  rec[driver] = (rec[driver] ?? 0) + 1;
}

/** What a compositor run drew and booted: the state its processes share. */
interface CompositorRun {
  readonly m: Machine;
  readonly devA: DeviceUnderTest;
  readonly devB: DeviceUnderTest;
  readonly clients: number;
  readonly pages: readonly number[];
  readonly crashes: readonly boolean[];
  readonly base: number;
  /** The CRTCs of the compositor's device (0: it does not scan out). */
  readonly pipes: number;
  compositor: Process | null;
}

/** The first client whose frame has `len` bytes and checksum `sum`, or -1. */
function frameOwner(r: CompositorRun, len: number, sum: number): number {
  for (let i = 0; i < r.pages.length; i++)
    if (r.pages[i]! * PAGE === len && sum === expectedChecksum(patternOf(r.base, i), len)) return i;
  return -1;
}

/**
 * The compositor: imports each frame it receives, checks it against the clients' drawings and
 * releases it. Module-level, with the run's state as an argument (see Machine.process).
 */
async function compositorMain(p: Process, r: CompositorRun): Promise<void> {
  const { m, devB, clients } = r;
  const fd = await openDevice(m, p, devB);
  for (let f = 0; f < clients; f++) {
    const dmaBuf = await recvFd(p, { cloexec: true });
    const handle = await fd.primeFdToHandle(dmaBuf);
    // Which client sent it: the frame's size says (sizes may repeat: any match will do).
    const len = await dmaBufSize(p, dmaBuf);
    const view = await importerView(devB, fd, handle, dmaBuf, len);
    const sum = checksum(await view.read());
    const from = frameOwner(r, len, sum);
    check(from >= 0, `frame ${f} (${len} bytes) matches no client's drawing`);
    await view.unmap();
    await fd.gemClose(handle);
    await close(p, dmaBuf);
  }
  await fd.close();
}

/** A frame on screen: its framebuffer, and the client's buffer it shows (null: composited). */
interface Shown {
  readonly fb: number;
  readonly client: { readonly handle: number; readonly dmaBuf: number } | null;
}

/** One of the compositor's own scanout buffers: a dumb buffer, its mapping and framebuffer. */
interface OwnBuffer {
  readonly handle: number;
  readonly map: Mapping;
  readonly fb: number;
}

/** The compositor's display state (scanoutMain()). */
interface Scanout {
  /** The device's driver (scanoutStats). */
  readonly driver: string;
  readonly p: Process;
  readonly fd: DrmFd;
  /** Its page for the ids and the events (kms-scanout.ts). */
  readonly page: number;
  readonly pipes: readonly Pipe[];
  /** Which pipes have a mode set (a SETCRTC with a framebuffer since the last one off). */
  readonly on: boolean[];
  /** Whether the device's planes show another device's buffer (SCANOUT_DRIVERS). */
  readonly showsImports: boolean;
  /** Its own two scanout buffers, made at the first composited frame. */
  own: OwnBuffer[] | null;
  /** The own buffer the next composited frame goes to (the other may be on screen). */
  back: number;
  /** What every CRTC shows (null: nothing yet). */
  shown: Shown | null;
  /** The next flip's user_data (unique in the run). */
  nextUserData: number;
}

/**
 * The compositor of a device that scans out (see the file comment): the frames' checks as
 * compositorMain()'s, each frame then shown on every CRTC until the next replaces it.
 */
async function scanoutMain(p: Process, r: CompositorRun): Promise<void> {
  const { devB, clients } = r;
  // The device's display server: the first opener of its primary node, hence its DRM master.
  const fd = await DrmFd.open(p, devB.card);
  const page = await mapScanoutPage(p);
  const pipes = await getPipes(fd, page);
  check(pipes.length === r.pipes, `GETRESOURCES: ${pipes.length} CRTCs, the device has ${r.pipes}`);
  const s: Scanout = {
    driver: devB.driver.name,
    p,
    fd,
    page,
    pipes,
    on: pipes.map(() => false),
    showsImports: SCANOUT_DRIVERS[devB.driver.name]!.showsImports,
    own: null,
    back: 0,
    shown: null,
    nextUserData: 0x100,
  };
  for (let f = 0; f < clients; f++) {
    const dmaBuf = await recvFd(p, { cloexec: true });
    const handle = await fd.primeFdToHandle(dmaBuf);
    const len = await dmaBufSize(p, dmaBuf);
    const view = await importerView(devB, fd, handle, dmaBuf, len);
    const bytes = await view.read();
    const from = frameOwner(r, len, checksum(bytes));
    check(from >= 0, `frame ${f} (${len} bytes) matches no client's drawing`);
    await view.unmap();
    await showFrame(s, f, handle, dmaBuf, len, bytes);
  }
  await scanoutEnd(s);
  await unmapScanoutPage(p, page);
  await fd.close();
}

/**
 * Frame `f` (the client's import `handle` of `dmaBuf`, `len` bytes, its contents `bytes`) on
 * every CRTC, directly or composited (drawn), then the previous frame taken off.
 */
async function showFrame(
  s: Scanout,
  f: number,
  handle: number,
  dmaBuf: number,
  len: number,
  bytes: Uint8Array,
): Promise<void> {
  const { p, fd } = s;
  let next: Shown | null = null;
  if (choose(2, `compositor direct[${f}]`) === 0) {
    const fb = await fd.modeAddFB2({
      width: WIDTH,
      height: len / PITCH,
      pixelFormat: DRM_FORMAT_XRGB8888,
      handles: [handle],
      pitches: [PITCH],
    });
    if (await present(s, fb, true)) {
      tally(scanoutStats.direct, s.driver);
      next = { fb, client: { handle, dmaBuf } };
    } else {
      tally(scanoutStats.refused, s.driver);
      await fd.modeRmFB(fb);
    }
  }
  if (!next) {
    s.own ??= [await ownBuffer(fd), await ownBuffer(fd)];
    const own = s.own[s.back]!;
    s.back ^= 1;
    await own.map.write(bytes.subarray(0, MODE.width * 4 * MODE.height));
    // Copied: the client's buffer goes back at once (wl_buffer.release).
    await fd.gemClose(handle);
    await close(p, dmaBuf);
    check(await present(s, own.fb, false), `frame ${f}: the compositor's own buffer not shown`);
    tally(scanoutStats.composited, s.driver);
    next = { fb: own.fb, client: null };
  }
  // The previous frame is on no CRTC any more.
  if (s.shown?.client) await release(s, s.shown);
  s.shown = next;
}

/**
 * `fb` on every CRTC: a SETCRTC where no mode is set (and, drawn, one time in four elsewhere),
 * else a PAGE_FLIP with an event; then the flips' events read. False, with nothing changed, when
 * `direct` (an import) and the device refuses it (-EINVAL on the first CRTC: SCANOUT_DRIVERS).
 */
async function present(s: Scanout, fb: number, direct: boolean): Promise<boolean> {
  const pending = new Map<number, number>();
  for (let i = 0; i < s.pipes.length; i++) {
    const pipe = s.pipes[i]!;
    try {
      if (!s.on[i] || choose(4, "compositor modeset") === 0) {
        await setCrtc(s.fd, pipe, fb, MODE);
        tally(scanoutStats.modesets, s.driver);
        s.on[i] = true;
      } else {
        const userData = s.nextUserData++;
        await pageFlip(s.fd, pipe, fb, userData);
        tally(scanoutStats.flips, s.driver);
        pending.set(userData, pipe.crtc);
      }
    } catch (e) {
      if (direct && i === 0 && !s.showsImports && isSysError(e, "EINVAL")) return false;
      throw e;
    }
  }
  while (pending.size > 0) await readFlips(s, pending);
  return true;
}

/**
 * One read of the compositor's events: each must be the flip-complete event of a flip in
 * `pending` (by user_data) on its CRTC, which it then leaves: every flip's event comes once.
 */
async function readFlips(s: Scanout, pending: Map<number, number>): Promise<void> {
  const events = await readVblankEvents(s.p, s.fd, s.page);
  check(events !== null, "read(2) of the DRM fd: not a whole number of vblank events");
  for (const ev of events) {
    const userData = Number(ev.user_data);
    check(
      ev.type === DRM_EVENT_FLIP_COMPLETE && ev.length === DRM_EVENT_VBLANK_SIZE,
      `an event of type ${ev.type}, length ${ev.length}: no flip-complete event`,
    );
    const crtc = pending.get(userData);
    check(crtc !== undefined, `a flip event (user_data ${userData}) not asked for, or read twice`);
    check(
      crtc === ev.crtc_id,
      `flip ${userData}'s event names CRTC ${ev.crtc_id}, flipped ${crtc}`,
    );
    pending.delete(userData);
    tally(scanoutStats.events, s.driver);
  }
}

/** A scanout buffer of the compositor: a MODE-sized dumb buffer, mapped, with a framebuffer. */
async function ownBuffer(fd: DrmFd): Promise<OwnBuffer> {
  const dumb = await fd.createDumb({ width: MODE.width, height: MODE.height, bpp: 32 });
  const map = await fd.mapBuffer(dumb.handle, dumb.size);
  const fb = await fd.modeAddFB2({
    width: MODE.width,
    height: MODE.height,
    pixelFormat: DRM_FORMAT_XRGB8888,
    handles: [dumb.handle],
    pitches: [dumb.pitch],
  });
  return { handle: dumb.handle, map, fb };
}

/** A client's frame off screen: RMFB, GEM_CLOSE of its import, close of its dma-buf fd. */
async function release(s: Scanout, shown: Shown): Promise<void> {
  await s.fd.modeRmFB(shown.fb);
  await s.fd.gemClose(shown.client!.handle);
  await close(s.p, shown.client!.dmaBuf);
}

/**
 * The end: every CRTC off and the last frame removed, in a drawn order (its RMFB first turns the
 * planes off in the kernel), the compositor's own buffers removed, and no event left unread.
 */
async function scanoutEnd(s: Scanout): Promise<void> {
  const last = s.shown;
  const rmfbFirst = last?.client != null && choose(2, "compositor rmfb first") === 1;
  if (rmfbFirst) await release(s, last!);
  for (let i = 0; i < s.pipes.length; i++) {
    if (!s.on[i]) continue;
    await setCrtc(s.fd, s.pipes[i]!, 0, null);
    s.on[i] = false;
  }
  if (last?.client && !rmfbFirst) await release(s, last);
  s.shown = null;
  for (const own of s.own ?? []) {
    await s.fd.modeRmFB(own.fb);
    await own.map.unmap();
    await s.fd.gemClose(own.handle);
  }
  check(
    !(await eventPending(s.p, s.fd)),
    "an event left on the DRM fd after every flip's was read",
  );
}

/** Client `i`: draws its frame, hands it over, then closes everything or dies mid-frame. */
async function compositorClient(
  p: Process,
  { r, i }: { readonly r: CompositorRun; readonly i: number },
): Promise<void> {
  const { m, devA } = r;
  const fd = await openDevice(m, p, devA);
  const len = r.pages[i]! * PAGE;
  const handle = await devA.createBo(fd, len);
  const map = await devA.mapBo(fd, handle, len);
  await map.fill(patternOf(r.base, i));
  const dmaBuf = await fd.primeHandleToFd(handle);
  await sendFd(p, r.compositor!, dmaBuf);
  // Mid-frame: gone with everything still open.
  if (r.crashes[i]) await p.exit(1);
  await map.unmap();
  await close(p, dmaBuf);
  await fd.gemClose(handle);
  await fd.close();
}

export const COMPOSITOR: CampaignScenario = {
  name: "compositor",
  description:
    "clients hand dma-buf frames to a compositor over fd passing; some exit abruptly mid-frame; the compositor checks every frame and, on a device that scans out, shows it on every CRTC (ADDFB2 of the import or composited, SETCRTC or PAGE_FLIP with its event read back)",
  kernelRef:
    "drivers/gpu/drm/drm_prime.c, drivers/dma-buf/dma-buf.c, kernel/exit.c (exit_files, exit_mm), drm_crtc.c (drm_mode_setcrtc()), drm_plane.c (drm_mode_page_flip_ioctl()), drm_atomic_helper.c, drm_framebuffer.c (drm_mode_rmfb()), drm_file.c (drm_read()), qxl_display.c, vmwgfx_stdu.c under a Wayland-style compositor",
  expect: "clean",
  arity: 2,
  faultTolerant: false,
  build(drivers, opts) {
    return async (sim) => {
      // A second driver that scans out: its CRTC count is drawn before the boot registers it.
      const scanout = SCANOUT_DRIVERS[drivers[1]!.name] !== undefined;
      const pipes = scanout ? size(1, MAX_SCANOUT_PIPES, "compositor crtcs") : 0;
      const m = scanout
        ? await bootMachine(sim, [drivers[0]!, withScanout(drivers[1]!, pipes)], opts.faults, {
            selfMastered: 1,
          })
        : await bootMachine(sim, drivers, opts.faults);
      const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
      const clients = size(2, 3, "clients");
      const pages: number[] = [];
      for (let i = 0; i < clients; i++) pages.push(size(1, 3, `pages[${i}]`));
      const crashes: boolean[] = [];
      for (let i = 0; i < clients; i++) crashes.push(choose(2, `crash[${i}]`) === 1);
      const base = choose(256, "pattern");
      const r: CompositorRun = {
        m,
        devA,
        devB,
        clients,
        pages,
        crashes,
        base,
        pipes,
        compositor: null,
      };
      const compositor = m.process("compositor", pipes > 0 ? scanoutMain : compositorMain, r);
      r.compositor = compositor;
      const procs: Process[] = [compositor];
      for (let i = 0; i < clients; i++)
        procs.push(m.process(`client${i}`, compositorClient, { r, i }));
      await m.finish(procs);
    };
  },
};
