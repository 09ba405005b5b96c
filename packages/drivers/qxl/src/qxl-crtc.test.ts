/**
 * qxl scans out (qxl-display.ts with CreateQxlOptions.crtcs): SETCRTC and PAGE_FLIP of dumb
 * buffers (through the device's dumb shadow) and of PRIME buffers; the framebuffer's bo pinned
 * while on screen and unpinned after RMFB/close; the primary surface created and destroyed with
 * its reference; a pinned scanout bo never moved by eviction; the oracles clean under pct.
 */

import { type DrmDevice, drmFramebufferReadRefcount } from "@primetime/gem";
import {
  EACCES,
  EBUSY,
  EINVAL,
  ENOMEM,
  Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { baselineFixes, type RunResult, Simulation, sleep } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { TTM_PL_VRAM } from "@primetime/ttm";
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
import { type CreateQxlOptions, createQxl, destroyQxl, type QxlDeviceHandle } from "./qxl-drv.js";
import { QxlBo, qxlBoPhysicalAddress, toQxlBo } from "./qxl-object.js";
import {
  expectClean,
  primeExport,
  primeImport,
  qxlAlloc,
  qxlAllocSurf,
  qxlSettle,
} from "./test-machine.js";
import { QXL_PRIMARY_DESTROY_TWO_TAILS } from "./toggles.js";

/**
 * A machine whose first qxl device has one CRTC (the second has none: a foreign exporter);
 * `body` runs as the compositor process, which opens both cards first (their DRM master). Then
 * the devices settle, are destroyed, and the leak check runs; guest bugs are warnings.
 */
async function kmsMain(
  body: (p: Process, q: QxlDeviceHandle[]) => Promise<void>,
  device: CreateQxlOptions = {},
): Promise<void> {
  const kernel = Kernel.boot();
  const qxls = [await createQxl(kernel, { crtcs: 1, ...device }), await createQxl(kernel)];
  await kernel.spawnProcess("compositor", (p) => body(p, qxls)).wait();
  for (const q of qxls) await qxlSettle(kernel, q);
  const bugs = qxls.flatMap((q) => q.qdev.hw.guestBugs);
  for (const q of qxls) await destroyQxl(q);
  await kernel.checkLeaks();
  if (bugs.length) throw new Error(`qxl guest bugs: ${bugs.join("; ")}`);
}

function runKms(
  body: (p: Process, q: QxlDeviceHandle[]) => Promise<void>,
  device: CreateQxlOptions = {},
  toggles: readonly string[] = [],
): Promise<RunResult> {
  const sim = new Simulation({ seed: 1, toggles });
  return sim.run(() => kmsMain(body, device));
}

/** An anonymous page of user memory. */
function userPage(p: Process): Promise<number> {
  return p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/** MODE_CREATE_DUMB of `width` x `height` at 32 bpp: the handle. */
async function dumb(p: Process, fd: number, width = 256, height = 16): Promise<number> {
  const arg = { height, width, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
  const r = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
  if (r < 0) throw new Error(`CREATE_DUMB = ${r}`);
  return arg.handle;
}

/** ADDFB2 of an XRGB8888 `width` x `height` framebuffer on `handle`: the fb id or -errno. */
async function addFb(p: Process, fd: number, handle: number, width = 256, height = 16) {
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

/** GETRESOURCES: every CRTC's id with its connector's (qdev_output_init(): one per CRTC). */
async function pipes(p: Process, fd: number): Promise<{ crtc: number; conn: number }[]> {
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
  const b = await p.readMemory(page, 80);
  if (typeof b === "number") throw new Error(`read ${b}`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: Math.min(r.count_crtcs, 4) }, (_, i) => ({
    crtc: v.getUint32(4 * i, true),
    conn: v.getUint32(64 + 4 * i, true),
  }));
}

/** SETCRTC of `fbId` with a 256 x 16 mode on the pipe (fb 0 and no connector: off). */
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
    mode_hdisplay: 256,
    mode_hsync_start: 260,
    mode_hsync_end: 270,
    mode_htotal: 300,
    mode_vdisplay: 16,
    mode_vsync_start: 16,
    mode_vsync_end: 16,
    mode_vtotal: 16,
    mode_vrefresh: 60,
  });
}

/** PAGE_FLIP with an event carrying `userData`. */
function pageFlip(p: Process, fd: number, crtc: number, fbId: number, userData = 0x77) {
  return p.ioctl(fd, DRM_IOCTL_MODE_PAGE_FLIP, {
    crtc_id: crtc,
    fb_id: fbId,
    flags: DRM_MODE_PAGE_FLIP_EVENT,
    sequence: 0,
    user_data: userData,
  });
}

/** Reads one event: its type and user_data. */
async function readEvent(p: Process, fd: number) {
  const buf = await userPage(p);
  const n = await p.read(fd, buf, 4096);
  const bytes = await p.readMemory(buf, 32);
  const ev = typeof bytes === "number" ? null : decodeDrmEventVblank(bytes);
  return { n, type: ev?.type, userData: ev ? Number(ev.user_data) : -1 };
}

/** The bo behind framebuffer `fbId` of `dev`. */
function fbBo(dev: DrmDevice, fbId: number): QxlBo {
  const fb = [...dev.modeConfig.fbList].find((f) => f.base.id === fbId)!;
  return toQxlBo(fb.obj[0]);
}

describe("qxl CRTC and primary plane (qxl_display.c of v6.18.35)", () => {
  it("SETCRTC and PAGE_FLIP of dumb buffers: pinned and shown through the dumb shadow (the primary, with its reference) while on screen; RMFB and close unpin and destroy the primary", async () => {
    const got: Record<string, unknown> = {};
    const r = await runKms(async (p, [q]) => {
      const dev = q!.device;
      const qdev = q!.qdev;
      const fd = await p.open(q!.card, O_RDWR);
      const pp = await pipe(p, fd);
      const fbA = await addFb(p, fd, await dumb(p, fd));
      const fbB = await addFb(p, fd, await dumb(p, fd));
      const boA = fbBo(dev, fbA);
      const boB = fbBo(dev, fbB);
      got.set = await setCrtc(p, fd, pp, fbA);
      const shadow = qdev.primaryBo!;
      got.shown = {
        pinA: boA.pinCount,
        shadowIsA: boA.shadow === shadow,
        shadowIsDevices: shadow === qdev.dumbShadowBo,
        // qxl_bo_create(pinned) + boA's qxl_bo_pin()
        shadowPins: shadow.pinCount,
        isPrimary: shadow.isPrimary,
        hwPrimary: qdev.hw.primary?.mem === qxlBoPhysicalAddress(qdev, shadow, 0),
        fbRefs: drmFramebufferReadRefcount(dev.modeConfig.crtcList[0]!.primary.state!.fb!),
      };
      got.flip = await pageFlip(p, fd, pp.crtc, fbB, 0xb);
      got.busy = await pageFlip(p, fd, pp.crtc, fbA, 0xa);
      got.event = await readEvent(p, fd);
      // the commit tail cleans up (cleanup_fb) after it sent the event
      await sleep(1_000_000, "compositor waits for the commit's cleanup");
      got.flipped = {
        pinA: boA.pinCount,
        pinB: boB.pinCount,
        shadowA: boA.shadow,
        // max_allowed was 0 until the first commit's flush, so the first shadow was 64 x 64;
        // now the head's 256 x 16 is counted: a new 256 x 64 shadow, the primary recreated
        shadowIsB: boB.shadow === qdev.primaryBo && boB.shadow === qdev.dumbShadowBo,
        newShadow: qdev.primaryBo !== shadow,
        shadowSize: [qdev.primaryBo?.surf.width, qdev.primaryBo?.surf.height],
        // the old shadow's references (device, boA, primary) are all gone: freed
        oldShadowFreed: shadow.freed,
      };
      got.rmfb = await p.ioctl(fd, DRM_IOCTL_MODE_RMFB, { fb_id: fbB });
      got.afterRmfb = {
        pinB: boB.pinCount,
        primary: qdev.primaryBo,
        hwPrimary: qdev.hw.primary,
        // the device's own pin and reference of the shadow remain
        shadowPins: qdev.dumbShadowBo?.pinCount,
      };
      got.setAgain = await setCrtc(p, fd, pp, fbA);
      got.pinAgain = boA.pinCount;
      await p.close(fd);
      got.afterClose = { pinA: boA.pinCount, primary: qdev.primaryBo, fbs: dev.modeConfig.numFb };
    });
    expectClean(r);
    expect(got).toEqual({
      set: 0,
      shown: {
        pinA: 1,
        shadowIsA: true,
        shadowIsDevices: true,
        shadowPins: 2,
        isPrimary: true,
        hwPrimary: true,
        fbRefs: 2,
      },
      flip: 0,
      busy: -EBUSY,
      event: { n: 32, type: DRM_EVENT_FLIP_COMPLETE, userData: 0xb },
      flipped: {
        pinA: 0,
        pinB: 1,
        shadowA: null,
        shadowIsB: true,
        newShadow: true,
        shadowSize: [256, 64],
        oldShadowFreed: true,
      },
      rmfb: 0,
      afterRmfb: { pinB: 0, primary: null, hwPrimary: null, shadowPins: 1 },
      setAgain: 0,
      pinAgain: 1,
      afterClose: { pinA: 0, primary: null, fbs: 0 },
    });
  });

  it("known window qxl.disable-primary-shadow-cleared: two framebuffers of one dumb bo flipped, then removed, leave the primary (and its shadow) behind; with the fix switch (baselineFixes()) the same sequence is clean", async () => {
    const seq = async (p: Process, [q]: QxlDeviceHandle[], got: Record<string, unknown>) => {
      const qdev = q!.qdev;
      const fd = await p.open(q!.card, O_RDWR);
      const pp = await pipe(p, fd);
      const bo = await dumb(p, fd);
      const fbA = await addFb(p, fd, bo);
      const fbB = await addFb(p, fd, bo);
      got.set = await setCrtc(p, fd, pp, fbA);
      got.flip = await pageFlip(p, fd, pp.crtc, fbB, 0xb);
      got.event = (await readEvent(p, fd)).userData;
      await sleep(1_000_000, "compositor waits for the commit's cleanup");
      // cleanup_fb(fbA) compared framebuffers: the bo, still shown through fbB, lost its shadow
      got.shadowCleared = toQxlBo(fbBo(q!.device, fbB)).shadow === null;
      got.rmfb = await p.ioctl(fd, DRM_IOCTL_MODE_RMFB, { fb_id: fbB });
      got.primaryLeft = qdev.primaryBo !== null;
      await p.close(fd);
    };
    const open: Record<string, unknown> = {};
    const r = await runKms((p, q) => seq(p, q, open));
    expect(open).toEqual({
      set: 0,
      flip: 0,
      event: 0xb,
      shadowCleared: true,
      rmfb: 0,
      primaryLeft: true,
    });
    // The shadow bo is still the primary when the devices go: the leak check finds it.
    expect(r.splats.map((x) => x.kind)).toContain("kmemleak");
    const fixed: Record<string, unknown> = {};
    const f = await runKms((p, q) => seq(p, q, fixed), {}, baselineFixes());
    expectClean(f);
    expect(fixed).toMatchObject({ set: 0, flip: 0, rmfb: 0, primaryLeft: false });
  });

  it("known window qxl.primary-destroy-two-tails: PAGE_FLIPs of two QXL_ALLOC bos on qxl's two CRTCs run their commit tails at once, both destroy the one primary (pct: a NULL pointer oops in qxl_io_destroy_primary() in 19 of 40 schedules); with the fix switch (baselineFixes()) the same search is clean", async () => {
    // Both CRTCs show bo A (the primary); then each flips to a bo of its own, B and C, neither
    // primary: the two nonblocking commits' tails (system_unbound_wq) both find primary_bo set.
    const twoTails = () =>
      kmsMain(
        async (p, [q]) => {
          const fd = await p.open(q!.card, O_RDWR);
          const [p0, p1] = await pipes(p, fd);
          const size = 256 * 16 * 4;
          const fbA = await addFb(p, fd, await qxlAlloc(p, fd, size));
          const fbB = await addFb(p, fd, await qxlAlloc(p, fd, size));
          const fbC = await addFb(p, fd, await qxlAlloc(p, fd, size));
          if ((await setCrtc(p, fd, p0!, fbA)) !== 0) throw new Error("SETCRTC 0");
          if ((await setCrtc(p, fd, p1!, fbA)) !== 0) throw new Error("SETCRTC 1");
          if (q!.qdev.primaryBo !== fbBo(q!.device, fbA)) throw new Error("A is not the primary");
          if ((await pageFlip(p, fd, p0!.crtc, fbB, 0xb)) !== 0) throw new Error("PAGE_FLIP 0");
          if ((await pageFlip(p, fd, p1!.crtc, fbC, 0xc)) !== 0) throw new Error("PAGE_FLIP 1");
          await sleep(1_000_000, "compositor waits for both tails");
          // the file's framebuffers go: both planes off (qxl_primary_atomic_disable())
          await p.close(fd);
        },
        { crtcs: 2 },
      );
    const window = QXL_PRIMARY_DESTROY_TWO_TAILS.name;
    const open = await explore(twoTails, {
      strategy: "pct",
      schedules: 40,
      seed: 1,
      toggles: baselineFixes().filter((t) => t !== window),
      stopOnFailure: false,
    });
    // Measured: 19 of the 40 schedules (pct, seed 1) fail, each first with the oops of the second
    // qxl_io_destroy_primary() (then the oopsed tail's commit never completes: a later commit's
    // wait hangs). With the switch on, the tails switch the primary one after the other.
    expect(open.failures.length, "failing schedules of 40").toBeGreaterThanOrEqual(10);
    for (const f of open.failures)
      expect(f.splats[0]?.message).toBe(
        "BUG: kernel NULL pointer dereference in qxl_io_destroy_primary(): primary_bo is NULL",
      );
    const fixed = await explore(twoTails, {
      strategy: "pct",
      schedules: 40,
      seed: 1,
      toggles: baselineFixes(),
    });
    expect(fixed.schedules).toBe(40);
    expect(fixed.failures.map((f) => f.splats[0]?.message ?? f.outcome)).toEqual([]);
  });

  it("PRIME: a self-import scans out as the qxl bo itself; an import of a foreign dma-buf is -EINVAL (model extension) and changes nothing; a non-master is -EACCES", async () => {
    const got: Record<string, unknown> = {};
    const r = await runKms(async (p, [q, other]) => {
      const dev = q!.device;
      const fd = await p.open(q!.card, O_RDWR);
      const ofd = await p.open(other!.card, O_RDWR);
      const pp = await pipe(p, fd);
      // a client's buffer, shared with the compositor as a dma-buf
      const h = await qxlAlloc(p, fd, 256 * 16 * 4);
      const dmabuf = await primeExport(p, fd, h);
      const self = await primeImport(p, fd, dmabuf);
      got.selfSame = self === h;
      const fbSelf = await addFb(p, fd, self);
      const bo = fbBo(dev, fbSelf);
      got.set = await setCrtc(p, fd, pp, fbSelf);
      got.pinOn = bo.pinCount;
      got.primaryIsBo = q!.qdev.primaryBo === bo;
      // a buffer of the other device
      const oh = await qxlAlloc(p, ofd, 256 * 16 * 4);
      const odmabuf = await primeExport(p, ofd, oh);
      const imported = await primeImport(p, fd, odmabuf);
      const fbForeign = await addFb(p, fd, imported);
      got.foreignIsQxlBo = fbBo(dev, fbForeign) instanceof QxlBo;
      got.flipForeign = await pageFlip(p, fd, pp.crtc, fbForeign);
      got.setForeign = await setCrtc(p, fd, pp, fbForeign);
      got.stillShown = q!.qdev.primaryBo === bo && bo.pinCount === 1;
      const nonMaster = await p.open(q!.card, O_RDWR);
      got.nonMaster = await pageFlip(p, nonMaster, pp.crtc, fbSelf);
      await p.close(nonMaster);
      got.off = await setCrtc(p, fd, pp, 0);
      got.pinOff = bo.pinCount;
      for (const x of [dmabuf, odmabuf, ofd, fd]) await p.close(x);
    });
    expectClean(r);
    expect(got).toEqual({
      selfSame: true,
      set: 0,
      // the export is not attached (no pin of its own): the pin is the plane's
      pinOn: 1,
      primaryIsBo: true,
      foreignIsQxlBo: false,
      flipForeign: -EINVAL,
      setForeign: -EINVAL,
      stillShown: true,
      nonMaster: -EACCES,
      off: 0,
      pinOff: 0,
    });
  });

  it("qxl_primary_atomic_check(): a dumb framebuffer larger than vram_size is -ENOMEM and nothing is pinned", async () => {
    const got: Record<string, unknown> = {};
    const r = await runKms(
      async (p, [q]) => {
        const fd = await p.open(q!.card, O_RDWR);
        const pp = await pipe(p, fd);
        const fb = await addFb(p, fd, await dumb(p, fd, 256, 128), 256, 16);
        got.set = await setCrtc(p, fd, pp, fb);
        got.pin = fbBo(q!.device, fb).pinCount;
        got.primary = q!.qdev.primaryBo;
        await p.close(fd);
      },
      { vramPages: 16 },
    );
    expectClean(r);
    expect(got).toEqual({ set: -ENOMEM, pin: 0, primary: null });
  });

  it("eviction never moves a pinned scanout bo: a VRAM bo on screen stays where the device's primary surface points while allocations fill a small VRAM", async () => {
    const got: Record<string, unknown> = {};
    const r = await runKms(
      async (p, [q]) => {
        const qdev = q!.qdev;
        const fd = await p.open(q!.card, O_RDWR);
        const pp = await pipe(p, fd);
        const fb = await addFb(p, fd, await qxlAlloc(p, fd, 256 * 16 * 4));
        const bo = fbBo(q!.device, fb);
        got.set = await setCrtc(p, fd, pp, fb);
        const start = bo.resource!.start;
        const rets: number[] = [];
        for (let i = 0; i < 12; i++) rets.push(await qxlAlloc(p, fd, 4 * 4096));
        for (let i = 0; i < 4; i++) rets.push(await qxlAllocSurf(p, fd, 64, 64));
        got.someFailed = rets.some((h) => h < 0);
        got.kept = {
          memType: bo.resource!.memType === TTM_PL_VRAM,
          start: bo.resource!.start === start,
          hw: qdev.hw.primary?.mem === qxlBoPhysicalAddress(qdev, bo, 0),
          pin: bo.pinCount,
        };
        await p.close(fd);
      },
      { vramPages: 32 },
    );
    expectClean(r);
    expect(got).toMatchObject({
      set: 0,
      kept: { memType: true, start: true, hw: true, pin: 1 },
    });
  });

  it("flips, SETCRTC off, RMFB and close racing on qxl's CRTC are clean under pct", async () => {
    const res = await explore(
      () =>
        kmsMain(async (p, [q]) => {
          const fd = await p.open(q!.card, O_RDWR);
          const pp = await pipe(p, fd);
          const fbA = await addFb(p, fd, await dumb(p, fd));
          const fbB = await addFb(p, fd, await qxlAlloc(p, fd, 256 * 16 * 4));
          await setCrtc(p, fd, pp, fbA);
          const t = p.spawnThread("rmfb", async (t) => {
            await t.ioctl(fd, DRM_IOCTL_MODE_RMFB, { fb_id: fbA });
          });
          await pageFlip(p, fd, pp.crtc, fbB);
          await pageFlip(p, fd, pp.crtc, fbA);
          await t.join();
          await p.close(fd);
        }),
      { strategy: "pct", schedules: 40, seed: 2 },
    );
    expect(res.schedules).toBe(40);
    expect(res.failures.map((f) => f.splats[0]?.message ?? f.outcome)).toEqual([]);
  });
});
