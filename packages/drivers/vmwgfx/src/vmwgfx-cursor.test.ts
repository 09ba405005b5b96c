/**
 * vmwgfx's cursor plane (vmwgfx-cursor.ts) on a screen-target display unit, driven through the DRM
 * core's legacy cursor ioctls (DRM_IOCTL_MODE_CURSOR / CURSOR2 -> drm_mode_cursor_universal()):
 * buffer, surface, dumb and imported cursors shown through cursor MOBs, moved, hidden; the cursor
 * buffer pinned while shown; a cursor outliving its GEM handle and its file; the errnos of bad
 * requests, which change nothing; the historic `vmwgfx.cursor-surf-mapped-stale` (27571c64f185)
 * and the known window `vmwgfx.cursor-mob-unpin-unreserved`; the oracles clean at the end.
 */

import {
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_SYSTEM_PATH,
  type DmaHeapAllocationData,
  registerSystemHeap,
} from "@primetime/dma-buf";
import { DRM_PLANE_TYPE_CURSOR, type DrmDevice } from "@primetime/gem";
import {
  EACCES,
  EINVAL,
  ENOENT,
  ESRCH,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import {
  DRM_FORMAT_XRGB8888,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_RMFB,
  DRM_IOCTL_MODE_SETCRTC,
  DRM_MODE_CURSOR_BO,
  DRM_MODE_CURSOR_MOVE,
} from "@primetime/uapi";
import { describe, expect, it } from "vitest";
import {
  cursorIoctl,
  expectClean,
  fdToHandle,
  firstPipe,
  handleClose,
  handleToFd,
  mobCreate,
  mobWrite,
  ok,
  openNode,
  runVmw,
  scanoutSurfaceCreate,
  splatText,
  type VmwMachine,
} from "./test-machine.js";
import { VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED, VMWGFX_CURSOR_SURF_MAPPED_STALE } from "./toggles.js";
import type { VmwBo } from "./vmwgfx-bo.js";
import type { VmwCursorPlane } from "./vmwgfx-cursor.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import { VMW_PL_MOB } from "./vmwgfx-gmrid-manager.js";
import { vmwUserObjectBuffer } from "./vmwgfx-kms.js";
import type { VmwPlaneState } from "./vmwgfx-stdu.js";

/** The cursor's size (vmw_du_cursor_plane_atomic_check(): 64 x 64 only) and the mode's. */
const C = 64;
const W = 64;
const H = 64;
const device = { displayUnits: 1 };
/** The known window's fix switch: the cached cursor MOBs are destroyed at unload. */
const FIX = [VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED.name];

function userPage(p: Process): Promise<number> {
  return p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/** MODE_CREATE_DUMB of `w` x `h` at 32 bpp (a surface-backed dumb buffer): the handle. */
async function dumb(p: Process, fd: number, w = C, h = C): Promise<number> {
  const arg = { height: h, width: w, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
  const r = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
  if (r < 0) throw new Error(`CREATE_DUMB = ${r}`);
  return arg.handle;
}

/** A C x C scanout (or not) GB surface with its buffer: the sid. */
function surface(p: Process, fd: number, scanout: boolean): Promise<number> {
  return scanoutSurfaceCreate(p, fd, C, C, scanout);
}

/** The first CRTC and connector. */
const pipe = firstPipe;

/** ADDFB2 of an XRGB8888 W x H framebuffer on `handle` and SETCRTC of it: the fb id. */
async function lightUp(p: Process, fd: number, pp: { crtc: number; conn: number }) {
  const cmd = {
    fb_id: 0,
    width: W,
    height: H,
    pixel_format: DRM_FORMAT_XRGB8888,
    flags: 0,
    handles: [await dumb(p, fd, W, H), 0, 0, 0],
    pitches: [W * 4, 0, 0, 0],
    offsets: [0, 0, 0, 0],
    modifier: [0, 0, 0, 0],
  };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_ADDFB2, cmd);
  if (ret < 0) throw new Error(`ADDFB2 = ${ret}`);
  const page = await userPage(p);
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, pp.conn, true);
  await p.writeMemory(page, b);
  const set = await p.ioctl(fd, DRM_IOCTL_MODE_SETCRTC, {
    set_connectors_ptr: page,
    count_connectors: 1,
    crtc_id: pp.crtc,
    fb_id: cmd.fb_id,
    x: 0,
    y: 0,
    mode_valid: 1,
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
  if (set !== 0) throw new Error(`SETCRTC = ${set}`);
  return cmd.fb_id;
}

const cursor = cursorIoctl;

/** A C x C x 4-byte system heap dma-buf (a buffer of no GEM driver): the heap's and its fds. */
async function heapDmabuf(p: Process): Promise<{ heap: number; dmabuf: number }> {
  const heap = await p.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
  const data: DmaHeapAllocationData = {
    len: C * C * 4,
    fd: 0,
    fdFlags: O_RDWR | O_CLOEXEC,
    heapFlags: 0,
  };
  const ret = await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, data);
  if (ret !== 0) throw new Error(`DMA_HEAP_IOCTL_ALLOC = ${ret}`);
  return { heap, dmabuf: data.fd };
}

function vmwOf(m: VmwMachine): VmwPrivate {
  return m.vmw.device.driverPrivate as VmwPrivate;
}

/** The cursor plane of the first display unit and its current state. */
function cursorPlane(m: VmwMachine): { plane: VmwCursorPlane; vps: VmwPlaneState } {
  const plane = vmwOf(m).stdus[0]!.cursor;
  return { plane, vps: plane.state as VmwPlaneState };
}

/** The buffer the cursor plane shows (a buffer, or a surface's guest memory), or null. */
function shownBuffer(m: VmwMachine): VmwBo | null {
  return vmwUserObjectBuffer(cursorPlane(m).vps.uo);
}

/** A C x C ARGB image: pixel i is 0xff000000 | seed * i. */
function image(seed: number): Uint8Array {
  const b = new Uint8Array(C * C * 4);
  const v = new DataView(b.buffer);
  for (let i = 0; i < C * C; i++) v.setUint32(i * 4, (0xff000000 | (seed * i)) >>> 0, true);
  return b;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array): boolean {
  return a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
}

function numFbs(dev: DrmDevice): number {
  return dev.modeConfig.numFb;
}

describe("vmwgfx cursor plane (vmwgfx_kms.c of v6.12.19) through DRM_IOCTL_MODE_CURSOR/CURSOR2", () => {
  it("each display unit has a cursor plane: the CRTC's cursor, ARGB8888, on that CRTC only, with the hotspot properties", async () => {
    const got: Record<string, unknown> = {};
    const r = await runVmw(
      async (_p, m) => {
        const vmw = vmwOf(m);
        got.planes = m.vmw.device.modeConfig.numTotalPlane;
        got.units = vmw.stdus.map((s, i) => ({
          isCrtcCursor: s.crtc.cursor === s.cursor,
          type: s.cursor.type,
          possible: s.cursor.possibleCrtcs === 1 << i,
          formats: s.cursor.formatTypes.length,
          hotspot: s.cursor.hotspotProperties,
          primaryHotspot: s.primary.hotspotProperties,
          cache: s.cursor.cursorMobs.filter((b) => b !== null).length,
        }));
      },
      { device: { displayUnits: 2 } },
    );
    expectClean(r);
    const unit = {
      isCrtcCursor: true,
      type: DRM_PLANE_TYPE_CURSOR,
      possible: true,
      formats: 1,
      hotspot: true,
      primaryHotspot: false,
      cache: 0,
    };
    expect(got).toEqual({ planes: 4, units: [unit, unit] });
  });

  it("a buffer cursor: CURSOR2 shows its image through a pinned cursor MOB at the position plus the hotspot, a move keeps the MOB, a new image is copied, handle 0 hides it and unpins the buffer; the MOBs are cached, then freed at unload", async () => {
    const got: Record<string, unknown> = {};
    const r = await runVmw(
      async (p, m) => {
        const dev = m.vmw.device;
        const vmw = vmwOf(m);
        const hw = vmw.cursorHw;
        const fd = await openNode(p, m.vmw.card);
        const pp = await pipe(p, fd);
        await lightUp(p, fd, pp);
        const fbsBefore = numFbs(dev);
        const mob = ok(await mobCreate(p, fd, C * C * 4), "mob");
        await mobWrite(p, fd, mob, image(3));
        got.set = await cursor(p, fd, {
          flags: DRM_MODE_CURSOR_BO,
          crtc: pp.crtc,
          handle: mob.handle,
          hotX: 3,
          hotY: 4,
        });
        const bo = shownBuffer(m)!;
        const shownMob = hw.mob;
        got.shown = {
          on: hw.on,
          at: [hw.x, hw.y],
          hotspot: [hw.hotspotX, hw.hotspotY],
          image: sameBytes(hw.image, image(3)),
          mobPinned: (shownMob?.pinCount ?? 0) > 0,
          mobInMob: shownMob?.resource?.memType === VMW_PL_MOB,
          stateOwnsMob: cursorPlane(m).vps.cursor.bo === shownMob,
          bufferPinned: bo.pinCount,
          cursorFb: numFbs(dev) - fbsBefore,
          defines: hw.defines,
        };
        got.move = await cursor(p, fd, {
          flags: DRM_MODE_CURSOR_MOVE,
          crtc: pp.crtc,
          x: 10,
          y: 20,
        });
        got.moved = {
          at: [hw.x, hw.y],
          sameMob: hw.mob === shownMob,
          // v6.12.19's pin is a flag (vmw_bo_pin_reserved()): ->cleanup_fb of the old state
          // unpins the buffer the new state pinned in ->prepare_fb, so a moved cursor's buffer
          // is shown unpinned
          bufferPinned: bo.pinCount,
          // unchanged image: the states swapped MOBs, the old one shown, the new one cached
          cached: cursorPlane(m).plane.cursorMobs.filter((b) => b !== null).length,
        };
        // The same buffer with new contents: vmw_du_cursor_plane_has_changed() compares two maps
        // only when they differ ("old_image != new_image"), so v6.12.19 keeps the old image (the
        // "memcmp never worked correctly" that the v6.15 rework redid).
        await mobWrite(p, fd, mob, image(5));
        got.sameBuffer = await cursor(p, fd, {
          flags: DRM_MODE_CURSOR_BO,
          crtc: pp.crtc,
          handle: mob.handle,
          hotX: 3,
          hotY: 4,
        });
        got.kept = { image: sameBytes(hw.image, image(3)), sameMob: hw.mob === shownMob };
        // Another buffer with other contents: compared, copied into the state's MOB.
        const mob2 = ok(await mobCreate(p, fd, C * C * 4), "mob2");
        await mobWrite(p, fd, mob2, image(9));
        got.newImage = await cursor(p, fd, {
          flags: DRM_MODE_CURSOR_BO,
          crtc: pp.crtc,
          handle: mob2.handle,
          hotX: 3,
          hotY: 4,
        });
        const mob2Bo = shownBuffer(m);
        got.rewritten = {
          image: sameBytes(hw.image, image(9)),
          otherMob: hw.mob !== shownMob,
          at: [hw.x, hw.y],
          firstUnpinned: bo.pinCount,
        };
        got.hide = await cursor(p, fd, { flags: DRM_MODE_CURSOR_BO, crtc: pp.crtc, handle: 0 });
        got.hidden = {
          on: hw.on,
          uoNull: shownBuffer(m) === null,
          bufferPinned: bo.pinCount,
          secondPinned: mob2Bo!.pinCount,
          cursorFbs: numFbs(dev) - fbsBefore,
          cached: cursorPlane(m).plane.cursorMobs.filter((b) => b !== null).length,
        };
        await p.close(fd);
      },
      { device, toggles: FIX },
    );
    expectClean(r);
    expect(got).toEqual({
      set: 0,
      shown: {
        on: true,
        at: [3, 4],
        hotspot: [3, 4],
        image: true,
        mobPinned: true,
        mobInMob: true,
        stateOwnsMob: true,
        bufferPinned: 1,
        cursorFb: 1,
        defines: 0,
      },
      move: 0,
      moved: { at: [13, 24], sameMob: true, bufferPinned: 0, cached: 1 },
      sameBuffer: 0,
      kept: { image: true, sameMob: true },
      newImage: 0,
      rewritten: { image: true, otherMob: true, at: [13, 24], firstUnpinned: 0 },
      hide: 0,
      hidden: {
        on: false,
        uoNull: true,
        bufferPinned: 0,
        secondPinned: 0,
        cursorFbs: 0,
        cached: 2,
      },
    });
  });

  it("surface, dumb and imported cursors: a scanout surface and a dumb buffer show their guest memory, a system-heap dma-buf and a second file's export imported as buffers show theirs; each pinned while shown", async () => {
    const got: Record<string, unknown> = {};
    const r = await runVmw(
      async (p, m) => {
        registerSystemHeap(m.kernel);
        const hw = vmwOf(m).cursorHw;
        const fd = await openNode(p, m.vmw.card);
        const pp = await pipe(p, fd);
        await lightUp(p, fd, pp);
        const show = async (handle: number) => {
          const ret = await cursor(p, fd, { flags: DRM_MODE_CURSOR_BO, crtc: pp.crtc, handle });
          const bo = shownBuffer(m);
          return {
            ret,
            on: hw.on,
            mob: hw.mob !== null,
            pinned: bo ? bo.pinCount > 0 || bo.imported : false,
            bytes: hw.image?.length ?? 0,
          };
        };
        const shown = { ret: 0, on: true, mob: true, pinned: true, bytes: C * C * 4 };
        got.surface = await show(await surface(p, fd, true));
        got.dumb = await show(await dumb(p, fd));
        const { heap, dmabuf } = await heapDmabuf(p);
        got.heapImport = await show(await fdToHandle(p, fd, dmabuf));
        const other = await openNode(p, m.vmw.card);
        const theirs = ok(await mobCreate(p, other, C * C * 4), "their mob");
        const exported = await handleToFd(p, other, theirs.handle);
        got.selfImport = await show(await fdToHandle(p, fd, exported));
        got.hide = await cursor(p, fd, { flags: DRM_MODE_CURSOR_BO, crtc: pp.crtc, handle: 0 });
        got.off = hw.on;
        for (const x of [exported, other, dmabuf, heap, fd]) await p.close(x);
        got.expect = shown;
      },
      { device, toggles: FIX },
    );
    expectClean(r);
    const e = got.expect;
    expect(got).toEqual({
      surface: e,
      dumb: e,
      heapImport: e,
      selfImport: e,
      hide: 0,
      off: false,
      expect: e,
    });
  });

  it("the cursor outlives its GEM handle and its file: HANDLE_CLOSE and close() while shown leave it shown (the plane's framebuffer holds the buffer); RMFB of the core's cursor framebuffer is -ENOENT; the next master hides it and everything is freed", async () => {
    const got: Record<string, unknown> = {};
    const r = await runVmw(
      async (p, m) => {
        const dev = m.vmw.device;
        const hw = vmwOf(m).cursorHw;
        const fd = await openNode(p, m.vmw.card);
        const pp = await pipe(p, fd);
        const mob = ok(await mobCreate(p, fd, C * C * 4), "mob");
        await mobWrite(p, fd, mob, image(7));
        got.set = await cursor(p, fd, {
          flags: DRM_MODE_CURSOR_BO,
          crtc: pp.crtc,
          handle: mob.handle,
        });
        const bo = shownBuffer(m)!;
        const fbId = cursorPlane(m).vps.fb!.base.id;
        got.rmfb = await p.ioctl(fd, DRM_IOCTL_MODE_RMFB, { fb_id: fbId });
        got.handleClose = await handleClose(p, fd, mob.handle);
        await p.close(fd);
        got.afterClose = {
          on: hw.on,
          alive: !bo.freed,
          pinned: bo.pinCount,
          sameFb: cursorPlane(m).vps.fb?.base.id === fbId,
          image: sameBytes(hw.image, image(7)),
        };
        const next = await openNode(p, m.vmw.card);
        got.move = await cursor(p, next, {
          flags: DRM_MODE_CURSOR_MOVE,
          crtc: pp.crtc,
          x: 5,
          y: 6,
        });
        got.moved = [hw.x, hw.y, hw.on];
        got.hide = await cursor(p, next, { flags: DRM_MODE_CURSOR_BO, crtc: pp.crtc, handle: 0 });
        got.end = { on: hw.on, freed: bo.freed, fbs: numFbs(dev) };
        await p.close(next);
      },
      { device, toggles: FIX },
    );
    expectClean(r);
    expect(got).toEqual({
      set: 0,
      rmfb: -ENOENT,
      handleClose: 0,
      afterClose: { on: true, alive: true, pinned: 1, sameFb: true, image: true },
      move: 0,
      moved: [5, 6, true],
      hide: 0,
      end: { on: false, freed: true, fbs: 0 },
    });
  });

  it("bad requests get the kernel's errno and change nothing: no flag or an unknown one, an unknown CRTC, a bad handle, an oversized or empty cursor, a buffer too small, a surface not marked scanout, a non-master; a device without display units has no CRTC", async () => {
    const got: Record<string, unknown> = {};
    const r = await runVmw(
      async (p, m) => {
        const dev = m.vmw.device;
        const hw = vmwOf(m).cursorHw;
        const fd = await openNode(p, m.vmw.card);
        const pp = await pipe(p, fd);
        const big = ok(await mobCreate(p, fd, 128 * 128 * 4), "big");
        const small = ok(await mobCreate(p, fd, 4096), "small");
        const plain = await surface(p, fd, false);
        const bo = { flags: DRM_MODE_CURSOR_BO, crtc: pp.crtc };
        got.errnos = {
          noFlags: await cursor(p, fd, { flags: 0, crtc: pp.crtc }),
          unknownFlag: await cursor(p, fd, { flags: 4, crtc: pp.crtc }),
          noCrtc: await cursor(p, fd, { ...bo, crtc: 0x7777, handle: big.handle }),
          connectorId: await cursor(p, fd, { ...bo, crtc: pp.conn, handle: big.handle }),
          badHandle: await cursor(p, fd, { ...bo, handle: 0x1234 }),
          oversized: await cursor(p, fd, { ...bo, handle: big.handle, width: 128, height: 128 }),
          notSquare64: await cursor(p, fd, { ...bo, handle: big.handle, width: 64, height: 32 }),
          empty: await cursor(p, fd, { ...bo, handle: big.handle, width: 0, height: 0 }),
          tooSmall: await cursor(p, fd, { ...bo, handle: small.handle }),
          notScanout: await cursor(p, fd, { ...bo, handle: plain }),
        };
        const other = await openNode(p, m.vmw.card);
        got.nonMaster = await cursor(p, other, { ...bo, handle: big.handle });
        await p.close(other);
        // a move with no cursor shown turns the (already off) plane off: 0
        got.moveOff = await cursor(p, fd, {
          flags: DRM_MODE_CURSOR_MOVE,
          crtc: pp.crtc,
          x: 1,
          y: 1,
        });
        got.unchanged = {
          on: hw.on,
          mob: hw.mob,
          defines: hw.defines,
          fbs: numFbs(dev),
          cache: cursorPlane(m).plane.cursorMobs.filter((b) => b !== null).length,
          stateFb: cursorPlane(m).vps.fb,
        };
        await p.close(fd);
      },
      { device, toggles: FIX },
    );
    expectClean(r);
    const r2 = await runVmw(async (p, m) => {
      const fd = await openNode(p, m.vmw.card);
      got.withoutUnits = await cursor(p, fd, { flags: DRM_MODE_CURSOR_BO, crtc: 1, handle: 1 });
      await p.close(fd);
    });
    expectClean(r2);
    expect(got).toEqual({
      errnos: {
        noFlags: -EINVAL,
        unknownFlag: -EINVAL,
        noCrtc: -ENOENT,
        connectorId: -ENOENT,
        badHandle: -ESRCH,
        oversized: -EINVAL,
        notSquare64: -EINVAL,
        empty: -EINVAL,
        tooSmall: -EINVAL,
        notScanout: -EINVAL,
      },
      nonMaster: -EACCES,
      moveOff: 0,
      unchanged: { on: false, mob: null, defines: 0, fbs: 0, cache: 0, stateFb: null },
      withoutUnits: -ENOENT,
    });
  });

  it("vmwgfx.cursor-surf-mapped-stale (27571c64f185): a surface cursor, then a buffer cursor, then a move oopses in ->cleanup_fb with the toggle on; clean off", async () => {
    const sequence = async (p: Process, m: VmwMachine) => {
      const fd = await openNode(p, m.vmw.card);
      const pp = await pipe(p, fd);
      const mob = ok(await mobCreate(p, fd, C * C * 4), "mob");
      const bo = { flags: DRM_MODE_CURSOR_BO, crtc: pp.crtc };
      if ((await cursor(p, fd, { ...bo, handle: await surface(p, fd, true) })) !== 0)
        throw new Error("surface cursor");
      if ((await cursor(p, fd, { ...bo, handle: mob.handle })) !== 0)
        throw new Error("buffer cursor");
      await cursor(p, fd, { flags: DRM_MODE_CURSOR_MOVE, crtc: pp.crtc, x: 8, y: 8 });
      await cursor(p, fd, { ...bo, handle: 0 });
      await p.close(fd);
    };
    const on = await runVmw(sequence, {
      device,
      toggles: [...FIX, VMWGFX_CURSOR_SURF_MAPPED_STALE.name],
    });
    expect(on.splats[0]?.kind).toBe("bug");
    expect(splatText(on)).toMatch(
      /kernel NULL pointer dereference in vmw_du_cursor_plane_cleanup_fb\(\): vmw_bo_unmap\(vps->surf->res\.guest_memory_bo\) with vps->surf NULL/,
    );
    const off = await runVmw(sequence, { device, toggles: FIX });
    expectClean(off);
  });

  it("vmwgfx.cursor-mob-unpin-unreserved (known window): unloading a device whose cursor plane cached MOBs unpins them without their reservation (lockdep assertion in ttm_bo_unpin()); the fix switch reserves them", async () => {
    const show = async (p: Process, m: VmwMachine) => {
      const fd = await openNode(p, m.vmw.card);
      const pp = await pipe(p, fd);
      const mob = ok(await mobCreate(p, fd, C * C * 4), "mob");
      await cursor(p, fd, { flags: DRM_MODE_CURSOR_BO, crtc: pp.crtc, handle: mob.handle });
      await cursor(p, fd, { flags: DRM_MODE_CURSOR_BO, crtc: pp.crtc, handle: 0 });
      await p.close(fd);
    };
    const open = await runVmw(show, { device });
    expect(open.splats.map((s) => s.kind)).toContain("warn");
    expect(splatText(open)).toMatch(/ttm_bo_unpin|lockdep_assert_held|resv/);
    const fixed = await runVmw(show, { device, toggles: FIX });
    expectClean(fixed);
  });
});
