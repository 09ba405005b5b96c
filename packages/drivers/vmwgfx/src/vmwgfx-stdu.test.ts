/**
 * vmwgfx's screen-target display unit (vmwgfx-stdu.ts, VmwgfxOptions.displayUnits): a client's
 * framebuffers over a dumb buffer, a scanout surface, a buffer and a PRIME import of a foreign
 * dma-buf (the system heap's) shown through SETCRTC and PAGE_FLIP with events; the surface shown
 * pinned (and its guest memory buffer with it) while on screen, the proxy surface of a buffer
 * framebuffer made and freed; RMFB and close of the framebuffer on screen; the oracles clean.
 */

import { registerSystemHeap } from "@primetime/dma-buf";
import { type DrmDevice, drmFramebufferReadRefcount } from "@primetime/gem";
import {
  CAP_SYS_ADMIN,
  EACCES,
  EBUSY,
  EINVAL,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { sleep } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import {
  DRM_EVENT_FLIP_COMPLETE,
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_IOCTL_MODE_RMFB,
  DRM_IOCTL_MODE_SETCRTC,
  DRM_MODE_PAGE_FLIP_EVENT,
  decodeDrmEventVblank,
} from "@primetime/uapi";
import { describe, expect, it } from "vitest";
import {
  bootVmw,
  expectClean,
  fdToHandle,
  mobCreate,
  ok,
  openNode,
  runVmw,
  shutdownVmw,
  splatText,
  systemHeapDmabuf,
  type VmwMachine,
} from "./test-machine.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import { VmwFramebufferBo, VmwFramebufferSurface, vmwUserObjectSurface } from "./vmwgfx-kms.js";
import type { VmwPlaneState } from "./vmwgfx-stdu.js";
import type { VmwUserSurface } from "./vmwgfx-surface.js";
import {
  DRM_IOCTL_VMW_GB_SURFACE_CREATE,
  type DrmVmwGbSurfaceCreateArg,
  drm_vmw_surface_flag_create_buffer,
  drm_vmw_surface_flag_scanout,
  drm_vmw_surface_flag_shareable,
} from "./vmwgfx-uapi.js";

const W = 32;
const H = 32;
const device = { displayUnits: 1 };

function userPage(p: Process): Promise<number> {
  return p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/** MODE_CREATE_DUMB of W x H at 32 bpp (a surface-backed dumb buffer): the handle. */
async function dumb(p: Process, fd: number): Promise<number> {
  const arg = { height: H, width: W, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
  const r = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
  if (r < 0) throw new Error(`CREATE_DUMB = ${r}`);
  return arg.handle;
}

/** GB_SURFACE_CREATE of a W x H A8R8G8B8 surface with its buffer, `scanout` or not: the sid. */
async function surface(p: Process, fd: number, scanout: boolean): Promise<number> {
  const arg: DrmVmwGbSurfaceCreateArg = {
    svga3d_flags: 0,
    format: 2,
    mip_levels: 1,
    drm_surface_flags:
      drm_vmw_surface_flag_shareable |
      drm_vmw_surface_flag_create_buffer |
      (scanout ? drm_vmw_surface_flag_scanout : 0),
    multisample_count: 0,
    autogen_filter: 0,
    buffer_handle: 0xffffffff,
    array_size: 0,
    width: W,
    height: H,
    depth: 1,
    handle: 0,
    backup_size: 0,
    rep_buffer_handle: 0,
    buffer_size: 0,
    buffer_map_handle: 0,
  };
  const r = await p.ioctl(fd, DRM_IOCTL_VMW_GB_SURFACE_CREATE, arg);
  if (r < 0) throw new Error(`GB_SURFACE_CREATE = ${r}`);
  return arg.handle;
}

/** ADDFB2 of an XRGB8888 framebuffer on `handle`: the fb id or -errno. */
async function addFb(p: Process, fd: number, handle: number, width = W, height = H) {
  const cmd = {
    fb_id: 0,
    width,
    height,
    pixel_format: DRM_FORMAT_XRGB8888,
    flags: 0,
    handles: [handle, 0, 0, 0],
    pitches: [width * 4, 0, 0, 0],
    offsets: [0, 0, 0, 0],
    modifier: [0, 0, 0, 0],
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, cmd);
  return ret < 0 ? ret : cmd.fb_id;
}

/** GETRESOURCES: the first CRTC's and connector's ids. */
async function pipe(p: Process, fd: number): Promise<{ crtc: number; conn: number }> {
  const page = await userPage(p);
  const r = {
    fb_id_ptr: 0,
    crtc_id_ptr: page,
    connector_id_ptr: page + 64,
    encoder_id_ptr: 0,
    count_fbs: 0,
    count_crtcs: 4,
    count_connectors: 4,
    count_encoders: 0,
    min_width: 0,
    max_width: 0,
    min_height: 0,
    max_height: 0,
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, r);
  if (ret < 0) throw new Error(`GETRESOURCES = ${ret}`);
  const b = await p.readMemory(page, 68);
  if (typeof b === "number") throw new Error(`read ${b}`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { crtc: v.getUint32(0, true), conn: v.getUint32(64, true) };
}

/** SETCRTC of `fbId` with a W x H mode (fb 0 and no connector: off). */
async function setCrtc(p: Process, fd: number, pp: { crtc: number; conn: number }, fbId: number) {
  const page = await userPage(p);
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, pp.conn, true);
  await p.writeMemory(page, b);
  const on = fbId !== 0;
  return p.ioctl(fd, DRM_IOCTL_MODE_SETCRTC, {
    set_connectors_ptr: on ? page : 0,
    count_connectors: on ? 1 : 0,
    crtc_id: pp.crtc,
    fb_id: fbId,
    x: 0,
    y: 0,
    mode_valid: on ? 1 : 0,
    mode_clock: 6500,
    mode_hdisplay: W,
    mode_hsync_start: W + 4,
    mode_hsync_end: W + 8,
    mode_htotal: W + 16,
    mode_vdisplay: H,
    mode_vsync_start: H,
    mode_vsync_end: H,
    mode_vtotal: H,
    mode_vrefresh: 60,
  });
}

function pageFlip(p: Process, fd: number, crtc: number, fbId: number, userData = 0x77) {
  return p.ioctl(fd, DRM_IOCTL_MODE_PAGE_FLIP, {
    crtc_id: crtc,
    fb_id: fbId,
    flags: DRM_MODE_PAGE_FLIP_EVENT,
    sequence: 0,
    user_data: userData,
  });
}

async function readEvent(p: Process, fd: number) {
  const buf = await userPage(p);
  const n = await p.read(fd, buf, 4096);
  const bytes = await p.readMemory(buf, 32);
  const ev = typeof bytes === "number" ? null : decodeDrmEventVblank(bytes);
  return { n, type: ev?.type, userData: ev ? Number(ev.user_data) : -1 };
}

function vmwOf(m: VmwMachine): VmwPrivate {
  return m.vmw.device.driverPrivate as VmwPrivate;
}

/** The surface framebuffer `fbId`'s surface, or the buffer framebuffer's buffer's name. */
function fbOf(dev: DrmDevice, fbId: number) {
  return [...dev.modeConfig.fbList].find((f) => f.base.id === fbId)!;
}

function fbSurface(dev: DrmDevice, fbId: number): VmwUserSurface {
  return vmwUserObjectSurface((fbOf(dev, fbId) as VmwFramebufferSurface).uo)!;
}

/** What the display unit shows: the device's screen target and the plane state's surface. */
function shown(m: VmwMachine) {
  const stdu = vmwOf(m).stdus[0]!;
  const vps = stdu.primary.state as VmwPlaneState;
  return { stdu, vps, srf: vmwUserObjectSurface(vps.uo) };
}

describe("vmwgfx screen-target display unit (vmwgfx_stdu.c of v6.12.19 / v6.18.35)", () => {
  it("is registered only with displayUnits: one CRTC, primary plane, cursor plane and connector per unit", async () => {
    const got: Record<string, unknown> = {};
    const r = await runVmw(
      async (_p, m) => {
        const c = m.vmw.device.modeConfig;
        got.with = [c.numCrtc, c.numTotalPlane, c.numConnector, vmwOf(m).stdus.length];
      },
      { device: { displayUnits: 2 } },
    );
    expectClean(r);
    const r2 = await runVmw(async (_p, m) => {
      const c = m.vmw.device.modeConfig;
      got.without = [c.numCrtc, c.numTotalPlane, c.numConnector, vmwOf(m).stdus.length];
    });
    expectClean(r2);
    // two planes per unit: the primary and the cursor plane
    expect(got).toEqual({ with: [2, 4, 2, 2], without: [0, 0, 0, 0] });
  });

  it("dumb buffers: SETCRTC shows the dumb surface itself, pinned (its buffer too); PAGE_FLIP with an event moves the pin; RMFB and close of the framebuffer on screen unpin and blank the target (the CRTC stays enabled)", async () => {
    const got: Record<string, unknown> = {};
    const r = await runVmw(
      async (p, m) => {
        const dev = m.vmw.device;
        const fd = await openNode(p, m.vmw.card);
        const pp = await pipe(p, fd);
        const fbA = await addFb(p, fd, await dumb(p, fd));
        const fbB = await addFb(p, fd, await dumb(p, fd));
        const srfA = fbSurface(dev, fbA);
        const srfB = fbSurface(dev, fbB);
        got.set = await setCrtc(p, fd, pp, fbA);
        let s = shown(m);
        got.on = {
          same: s.srf === srfA,
          type: s.vps.contentFbType,
          pinned: s.vps.pinned,
          resPins: srfA.res.pinCount,
          boPinned: srfA.res.guestMemoryBo!.pinCount,
          defined: s.stdu.hw.defined,
          size: [s.stdu.hw.width, s.stdu.hw.height],
          hwShows: s.stdu.hw.shown === srfA,
          fbRefs: drmFramebufferReadRefcount(s.vps.fb!),
        };
        got.flip = await pageFlip(p, fd, pp.crtc, fbB, 0xb);
        got.event = await readEvent(p, fd);
        await sleep(1_000_000, "client waits for the commit's cleanup");
        s = shown(m);
        got.flipped = {
          hwShows: s.stdu.hw.shown === srfB,
          pinsA: srfA.res.pinCount,
          boA: srfA.res.guestMemoryBo!.pinCount,
          pinsB: srfB.res.pinCount,
        };
        got.rmfb = await p.ioctl(fd, DRM_IOCTL_MODE_RMFB, { fb_id: fbB });
        s = shown(m);
        got.afterRmfb = {
          pinsB: srfB.res.pinCount,
          planeFb: s.vps.fb,
          srf: s.srf,
          hwShows: s.stdu.hw.shown,
        };
        got.again = await setCrtc(p, fd, pp, fbA);
        got.pinAgain = srfA.res.pinCount;
        await p.close(fd);
        s = shown(m);
        got.afterClose = {
          pinsA: srfA.res.pinCount,
          fbs: dev.modeConfig.numFb,
          srf: s.srf,
          defined: s.stdu.hw.defined,
        };
      },
      { device },
    );
    expectClean(r);
    expect(got).toEqual({
      set: 0,
      on: {
        same: true,
        type: "same_as_display",
        pinned: 1,
        resPins: 1,
        boPinned: 1,
        defined: true,
        size: [W, H],
        hwShows: true,
        fbRefs: 2,
      },
      flip: 0,
      event: { n: 32, type: DRM_EVENT_FLIP_COMPLETE, userData: 0xb },
      flipped: { hwShows: true, pinsA: 0, boA: 0, pinsB: 1 },
      rmfb: 0,
      // the plane is off, the CRTC stays enabled: its screen target blank
      afterRmfb: { pinsB: 0, planeFb: null, srf: null, hwShows: null },
      again: 0,
      pinAgain: 1,
      afterClose: { pinsA: 0, fbs: 0, srf: null, defined: true },
    });
  });

  it("surfaces and buffers: a scanout surface of the display's size is shown itself; a buffer framebuffer through a proxy surface the plane state owns, freed when the buffer is no longer shown; a surface not marked scanout is -EINVAL", async () => {
    const got: Record<string, unknown> = {};
    const r = await runVmw(
      async (p, m) => {
        const dev = m.vmw.device;
        const fd = await openNode(p, m.vmw.card);
        const pp = await pipe(p, fd);
        got.notScanout = await addFb(p, fd, await surface(p, fd, false));
        const fbS = await addFb(p, fd, await surface(p, fd, true));
        const srfS = fbSurface(dev, fbS);
        const mob = ok(await mobCreate(p, fd, W * H * 4), "mob");
        const fbBo = await addFb(p, fd, mob.handle);
        got.kinds = [
          fbOf(dev, fbS) instanceof VmwFramebufferSurface,
          fbOf(dev, fbBo) instanceof VmwFramebufferBo,
        ];
        got.setS = await setCrtc(p, fd, pp, fbS);
        let s = shown(m);
        got.surfaceOn = {
          same: s.srf === srfS,
          type: s.vps.contentFbType,
          pins: srfS.res.pinCount,
          hwShows: s.stdu.hw.shown === srfS,
        };
        got.flipBo = await pageFlip(p, fd, pp.crtc, fbBo, 1);
        got.event = (await readEvent(p, fd)).userData;
        await sleep(1_000_000, "client waits for the commit's cleanup");
        s = shown(m);
        const proxy = s.srf!;
        got.boOn = {
          proxy: proxy !== srfS && proxy.metadata.scanout,
          size: [proxy.metadata.width, proxy.metadata.height],
          type: s.vps.contentFbType,
          cpp: s.vps.cpp,
          proxyPins: proxy.res.pinCount,
          surfacePins: srfS.res.pinCount,
          hwShows: s.stdu.hw.shown === proxy,
        };
        got.flipS = await pageFlip(p, fd, pp.crtc, fbS, 2);
        got.event2 = (await readEvent(p, fd)).userData;
        await sleep(1_000_000, "client waits for the commit's cleanup");
        s = shown(m);
        got.back = { same: s.srf === srfS, proxyFreed: proxy.freed };
        await p.close(fd);
      },
      { device },
    );
    expectClean(r);
    expect(got).toEqual({
      notScanout: -EINVAL,
      kinds: [true, true],
      setS: 0,
      surfaceOn: { same: true, type: "same_as_display", pins: 1, hwShows: true },
      flipBo: 0,
      event: 1,
      boOn: {
        proxy: true,
        size: [W, H],
        type: "separate_bo",
        cpp: 4,
        proxyPins: 1,
        surfacePins: 0,
        hwShows: true,
      },
      flipS: 0,
      event2: 2,
      back: { same: true, proxyFreed: true },
    });
  });

  it("PRIME: a foreign dma-buf (the system heap's) imported as a buffer scans out through a proxy surface; one too small for the mode is -EINVAL at ADDFB2; a non-master is -EACCES", async () => {
    const got: Record<string, unknown> = {};
    const r = await runVmw(
      async (p, m) => {
        registerSystemHeap(m.kernel);
        const fd = await openNode(p, m.vmw.card);
        const pp = await pipe(p, fd);
        const { heap, dmabuf } = await systemHeapDmabuf(p);
        const h = await fdToHandle(p, fd, dmabuf);
        got.imported = h > 0;
        got.tooSmall = await addFb(p, fd, h, W * 2, H);
        const fb = await addFb(p, fd, h);
        got.isBo = fbOf(m.vmw.device, fb) instanceof VmwFramebufferBo;
        got.set = await setCrtc(p, fd, pp, fb);
        const s = shown(m);
        got.on = { type: s.vps.contentFbType, hwShows: s.stdu.hw.shown === s.srf };
        const other = await openNode(p, m.vmw.card);
        got.nonMaster = await pageFlip(p, other, pp.crtc, fb);
        await p.close(other);
        got.off = await setCrtc(p, fd, pp, 0);
        got.offSrf = shown(m).srf;
        for (const x of [dmabuf, heap, fd]) await p.close(x);
      },
      { device },
    );
    expectClean(r);
    expect(got).toEqual({
      imported: true,
      tooSmall: -EINVAL,
      isBo: true,
      set: 0,
      on: { type: "separate_bo", hwShows: true },
      nonMaster: -EACCES,
      off: 0,
      offSrf: null,
    });
  });

  it("a flip and an RMFB of the framebuffer on screen racing, then the close, are clean under pct (40 schedules)", async () => {
    const res = await explore(
      async (sim) => {
        const m = await bootVmw(sim, device);
        const proc = m.kernel.spawnProcess(
          "compositor",
          async (p) => {
            const fd = await openNode(p, m.vmw.card);
            const pp = await pipe(p, fd);
            const fbA = await addFb(p, fd, await dumb(p, fd));
            const fbB = await addFb(p, fd, await dumb(p, fd));
            if ((await setCrtc(p, fd, pp, fbA)) !== 0) throw new Error("SETCRTC");
            const flipper = p.spawnThread("flip", async (q) => {
              const f = await pageFlip(q, fd, pp.crtc, fbB, 9);
              if (f !== 0 && f !== -EBUSY) throw new Error(`PAGE_FLIP ${f}`);
            });
            const remover = p.spawnThread("rmfb", async (q) => {
              const x = await q.ioctl(fd, DRM_IOCTL_MODE_RMFB, { fb_id: fbA });
              if (x !== 0) throw new Error(`RMFB ${x}`);
            });
            await flipper.join();
            await remover.join();
            await p.close(fd);
          },
          { caps: [CAP_SYS_ADMIN] },
        );
        const code = await proc.wait();
        if (code !== 0) sim.report("warn", `compositor exited with ${code}`);
        await shutdownVmw(m);
      },
      { strategy: "pct", depth: 3, schedules: 40, seed: 3, scenario: "stdu-flip-rmfb-close" },
    );
    expect(res.firstFailure ? splatText(res.firstFailure) : "").toBe("");
    expect(res.schedules).toBe(40);
  });
});
