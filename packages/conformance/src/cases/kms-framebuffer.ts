/**
 * KMS framebuffers over GEM buffers: IGT's kms_addfb_basic (the ADDFB2 checks that need no
 * CRTC: basic, no-handle, bad-pitch-0, too-wide, bo-too-small, unused-handle) and kms_rmfb
 * (rmfb-ioctl, close-fd), plus a derived race case on what a framebuffer keeps of its buffer.
 * A driver without DRIVER_MODESET (vgem) must refuse ADDFB2 and RMFB with EOPNOTSUPP, as the
 * kernel does; IGT skips these tests there.
 *
 * The derived case follows f6bfc9afc751 ("drm/framebuffer: Acquire internal references on GEM
 * handles", v6.16): a framebuffer holds a GEM handle reference of each plane's object, so
 * userspace's last GEM_CLOSE does not release the object's flink name (nor its obj->dma_buf)
 * while the framebuffer uses it.
 *
 * A driver whose ->fb_create is its own says what differs (`kms` of its descriptor,
 * KmsUnderTest): the errno of an unknown handle, and whether its framebuffers over the suite's
 * buffers set obj[] (the derived case needs them to).
 */

import type { DrmFd, FbRequest } from "@primetime/libdrm";
import { isSysError } from "@primetime/libdrm";
import { DRM_FORMAT_XRGB8888 } from "@primetime/uapi";
import { type CaseContext, type CaseSpec, RACE_DEFAULTS, SEQUENTIAL_DEFAULTS } from "../harness.js";

/** Rows of the test buffers (1024 x 4 pixels, 32 bpp: 16 KiB). */
const ROWS = 4;
const SIZE = 1024 * 4 * ROWS;

/** An XRGB8888 framebuffer 1024 x `height` over `handle`, pitch 4096. */
function fb(handle: number, over: Partial<FbRequest> = {}): FbRequest {
  return {
    width: 1024,
    height: ROWS,
    pixelFormat: DRM_FORMAT_XRGB8888,
    handles: [handle],
    pitches: [4096],
    ...over,
  };
}

/**
 * Whether the device does KMS: ADDFB2 of a bad request is EINVAL on a KMS driver, EOPNOTSUPP
 * without DRIVER_MODESET (where RMFB must be EOPNOTSUPP too).
 */
async function hasModeset(t: CaseContext, fd: DrmFd): Promise<boolean> {
  try {
    await fd.modeAddFB2(fb(0));
  } catch (e) {
    if (isSysError(e) && e.code === "EOPNOTSUPP") {
      await t.expectErrno(fd.modeRmFB(1), "EOPNOTSUPP", "RMFB without DRIVER_MODESET");
      return false;
    }
    if (isSysError(e) && e.code === "EINVAL") return true;
    throw e;
  }
  t.check(false, "ADDFB2 without a handle succeeded");
}

/**
 * kms_addfb_basic (basic, no-handle, bad-pitch-0, too-wide, bo-too-small, unused-handle) and
 * kms_rmfb (rmfb-ioctl, close-fd): the errno of bad requests, a framebuffer made and removed,
 * RMFB of an unknown id or another file's framebuffer ENOENT, and a framebuffer left behind
 * reaped when its fd is closed (a new fd cannot remove it, nothing leaks).
 */
const basic: CaseSpec = {
  name: "kms_addfb_basic/basic",
  group: "kms_addfb_basic",
  race: false,
  description:
    "ADDFB2/RMFB: errno of bad requests, make and remove, reaped at close; EOPNOTSUPP without KMS",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    if (!(await hasModeset(t, fd))) {
      await fd.close();
      return;
    }
    const h = await t.createBo(fd, SIZE);
    const small = await t.createBo(fd, 4096);
    await t.expectErrno(fd.modeAddFB2(fb(h, { pitches: [0] })), "EINVAL", "bad-pitch-0");
    await t.expectErrno(
      fd.modeAddFB2(fb(h, { width: 0x10000, pitches: [0x40000] })),
      "EINVAL",
      "too-wide",
    );
    await t.expectErrno(fd.modeAddFB2(fb(small)), "EINVAL", "bo-too-small");
    await t.expectErrno(
      fd.modeAddFB2(fb(h, { handles: [h, small], modifiers: [0] })),
      "EINVAL",
      "unused-handle",
    );
    // ENOENT from the GEM helpers' lookup; a driver of its own says its errno (vmwgfx: ESRCH).
    await t.expectErrno(
      fd.modeAddFB2(fb(4242)),
      t.dev.kms.unknownHandleErrno,
      "ADDFB2 of an unknown handle",
    );

    const id = await fd.modeAddFB2(fb(h));
    t.check(id > 0, `ADDFB2 gave fb id ${id}`);
    const other = await t.open();
    await t.expectErrno(other.modeRmFB(id), "ENOENT", "RMFB of another file's framebuffer");
    await fd.modeRmFB(id);
    await t.expectErrno(fd.modeRmFB(id), "ENOENT", "rmfb-ioctl: RMFB twice");

    // close-fd: a framebuffer left behind goes with its fd.
    const kept = await fd.modeAddFB2(fb(h));
    await fd.gemClose(h);
    await fd.gemClose(small);
    await fd.close();
    await t.expectErrno(other.modeRmFB(kept), "ENOENT", "close-fd: RMFB after the fd's close");
    await other.close();
  },
};

/**
 * gem_close-vs-gem_open-race (derived, f6bfc9afc751): a flinked buffer is put in a framebuffer;
 * then one thread closes the buffer's only handle while another opens its name from a second
 * file. The framebuffer still uses the object, so the name stays: GEM_OPEN must give a handle
 * to it, whichever runs first. The framebuffer is removed after both; nothing may be left.
 * Skipped (like IGT's igt_require()) without KMS, and on a driver whose framebuffers over the
 * suite's buffers set no obj[] (KmsUnderTest.fbHasObj: vmwgfx's surface framebuffers).
 */
const closeVsOpen: CaseSpec = {
  name: "kms_fb_handle/gem_close-vs-gem_open-race",
  group: "kms_fb_handle",
  race: true,
  description:
    "GEM_CLOSE of a framebuffer's last handle racing GEM_OPEN of its name: the name stays while the framebuffer lives",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    // igt_require(): KMS, and a framebuffer that sets obj[] (f6bfc9afc751's handle references
    // are taken for fb->obj[] only; vmwgfx's surface framebuffers over dumb buffers have none).
    if (!(await hasModeset(t, fd)) || !t.dev.kms.fbHasObj) {
      await fd.close();
      return;
    }
    const fd2 = await t.open();
    const h = await t.createBo(fd, SIZE);
    const name = await fd.gemFlink(h);
    const id = await fd.modeAddFB2(fb(h));
    const closer = t.thread("gem_close", async () => {
      await fd.gemClose(h);
    });
    const opener = t.thread("gem_open", async () => {
      const opened = await t.allowErrno(fd2.gemOpen(name), ["ENOENT"], "GEM_OPEN");
      t.check(opened !== null, `GEM_OPEN of name ${name}, used by framebuffer ${id}: ENOENT`);
      t.check(opened.size === SIZE, `GEM_OPEN gave an object of ${opened.size} bytes`);
      await fd2.gemClose(opened.handle);
    });
    await closer.join();
    await opener.join();
    await fd.modeRmFB(id);
    await t.expectErrno(fd2.gemOpen(name), "ENOENT", "GEM_OPEN of the name after RMFB");
    await fd2.close();
    await fd.close();
  },
};

export const KMS_FRAMEBUFFER: readonly CaseSpec[] = [basic, closeVsOpen];
