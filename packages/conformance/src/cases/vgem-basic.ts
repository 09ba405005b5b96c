/**
 * IGT tests/vgem_basic.c: the subtests that fit a simulated machine. The buffer subtests (mmap,
 * dmabuf-export, dmabuf-mmap) use 32 bpp dumb buffers, so they run on every driver with
 * ->dumb_create (others skip, as igt_require() would); create checks vgem's own size rules
 * (1 bpp, 8 bpp, and IGT's 32768x32768x16 buffer of 2 GiB: shmem pages come into being on first
 * touch, so it costs no host memory) and the fence subtests (bad-flag, bad-pad, bad-handle, bad-fence, busy-fence,
 * dmabuf-fence, dmabuf-fence-before) use vgem's fence ioctls: those run on vgem only. setversion needs the master (the harness's authenticating fd) and
 * is covered by @primetime/gem's drm-ioctl tests; second-client, sysfs, debugfs and unload need
 * what the simulation does not model (module unload, sysfs, debugfs).
 */

import {
  close,
  createDumb,
  type DrmFd,
  drmIoctl,
  isSysError,
  mapDumb,
  mmap,
  poll,
} from "@primetime/libdrm";
import {
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  type DrmVgemFenceAttach,
  VGEM_FENCE_WRITE,
} from "@primetime/uapi";
import { type CaseContext, type CaseSpec, SEQUENTIAL_DEFAULTS } from "../harness.js";

const group = "vgem_basic";
/** PROT_READ / PROT_WRITE (include/uapi/asm-generic/mman-common.h). */
const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
/** DRM_CLOEXEC | DRM_RDWR: prime_handle_to_fd_for_mmap(). */
const DRM_CLOEXEC = 0o2000000;
const DRM_RDWR = 0o2;
/** POLLIN / POLLOUT. */
const POLLIN = 0x001;
const POLLOUT = 0x004;
const PAGE = 4096;

/** True on vgem (drm_open_driver(DRIVER_VGEM), vgem_has_fences()); other drivers skip. */
function isVgem(t: CaseContext): boolean {
  return t.dev.driver.name === "vgem";
}

/** vgem_create(): a dumb buffer of width x height x bpp; null when the driver has none. */
async function dumbBo(
  t: CaseContext,
  fd: DrmFd,
  width: number,
  height: number,
  bpp: number,
): Promise<{ handle: number; size: number } | null> {
  try {
    const bo = await createDumb(t.proc, fd.fd, { width, height, bpp });
    return { handle: bo.handle, size: bo.size };
  } catch (e) {
    if (isSysError(e, "ENOSYS")) return null; // igt_require(): no dumb buffers
    throw e;
  }
}

/** vgem_mmap(): maps a handle's object with `prot`. */
async function mapBo(t: CaseContext, fd: DrmFd, handle: number, size: number, prot: number) {
  const offset = await mapDumb(t.proc, fd.fd, handle);
  return fd.mmap(offset, size, prot);
}

/** A page-index pattern: page n holds n in its first 32-bit word (little endian). */
function word(n: number): Uint8Array {
  return new Uint8Array([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff]);
}

const create: CaseSpec = {
  name: `${group}/create`,
  group,
  race: false,
  description:
    "vgem dumb create: 0x0x0 is EINVAL, sizes are page-rounded width*height*bpp/8 (up to IGT's 2 GiB)",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    if (!isVgem(t)) return void (await fd.close());
    try {
      await createDumb(t.proc, fd.fd, { width: 0, height: 0, bpp: 0 });
      t.check(false, "create of 0x0x0 succeeded");
    } catch (e) {
      if (isSysError(e, "ENOSYS")) return void (await fd.close());
      t.check(isSysError(e, "EINVAL"), `create of 0x0x0: ${String(e)}`);
    }
    // IGT's test_create(): the last is 2 GiB (1 << 31), which costs nothing here until touched
    // (the object's shmem pages are allocated and charged on first touch, as the kernel's are).
    for (const [w, h, bpp, size] of [
      [1, 1, 1, 4096],
      [1024, 1024, 8, 1 << 20],
      [1 << 15, 1 << 15, 16, 2 ** 31],
    ] as const) {
      const bo = await dumbBo(t, fd, w, h, bpp);
      t.check(bo !== null && bo.size === size, `${w}x${h}x${bpp}: size ${bo?.size}, not ${size}`);
      await fd.gemClose(bo.handle);
    }
    await fd.close();
  },
};

const mmapCase: CaseSpec = {
  name: `${group}/mmap`,
  group,
  race: false,
  description:
    "a PROT_WRITE mapping outlives GEM_CLOSE; stores land and loads work (x86 lets PROT_WRITE read)",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const bo = await dumbBo(t, fd, 1024, 4, 32);
    if (bo === null) return void (await fd.close());
    const ptr = await mapBo(t, fd, bo.handle, bo.size, PROT_WRITE);
    await fd.gemClose(bo.handle);
    for (let page = 0; page < bo.size / PAGE; page++) await ptr.write(word(page), page * PAGE);
    for (let page = 0; page < bo.size / PAGE; page++) {
      const got = await ptr.read(page * PAGE, 4);
      t.check(got.join() === word(page).join(), `page ${page} reads ${got.join()}`);
    }
    await ptr.unmap();
    await fd.close();
  },
};

const dmabufExport: CaseSpec = {
  name: `${group}/dmabuf-export`,
  group,
  race: false,
  description: "a dumb buffer exported, closed, and imported on another file",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const other = await t.open();
    const bo = await dumbBo(t, fd, 1024, 1, 32);
    if (bo !== null) {
      const dmabuf = await fd.primeHandleToFd(bo.handle);
      await fd.gemClose(bo.handle);
      const handle = await other.primeFdToHandle(dmabuf);
      await close(t.proc, dmabuf);
      await other.gemClose(handle);
    }
    await other.close();
    await fd.close();
  },
};

const dmabufMmap: CaseSpec = {
  name: `${group}/dmabuf-mmap`,
  group,
  race: false,
  description: "writes through a PROT_WRITE mmap of the dma-buf are read back through GEM",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const bo = await dumbBo(t, fd, 1024, 4, 32);
    if (bo === null) return void (await fd.close());
    const exp = await fd.primeHandleToFd(bo.handle, DRM_CLOEXEC | DRM_RDWR);
    const ptr = await mmap(t.proc, exp, 0, bo.size, PROT_WRITE);
    await close(t.proc, exp);
    for (let page = 0; page < bo.size / PAGE; page++) await ptr.write(word(page), page * PAGE);
    await ptr.unmap();
    const back = await mapBo(t, fd, bo.handle, bo.size, PROT_READ);
    await fd.gemClose(bo.handle);
    for (let page = 0; page < bo.size / PAGE; page++) {
      const got = await back.read(page * PAGE, 4);
      t.check(got.join() === word(page).join(), `page ${page} reads ${got.join()}`);
    }
    await back.unmap();
    await fd.close();
  },
};

// ---- vgem's fences ------------------------------------------------------------------------------

async function fenceAttach(t: CaseContext, fd: DrmFd, handle: number, flags: number) {
  const arg: DrmVgemFenceAttach = { handle, flags, out_fence: 0, pad: 0 };
  await drmIoctl(t.proc, fd.fd, DRM_IOCTL_VGEM_FENCE_ATTACH, arg);
  return arg.out_fence;
}

async function fenceSignal(t: CaseContext, fd: DrmFd, fence: number): Promise<void> {
  await drmIoctl(t.proc, fd.fd, DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence, flags: 0 });
}

/** prime_busy(): poll(POLLOUT for a writer, POLLIN for a reader) with no timeout finds nothing. */
async function primeBusy(t: CaseContext, dmabuf: number, excl: boolean): Promise<boolean> {
  return (
    (await poll(t.proc, [{ fd: dmabuf, events: excl ? POLLOUT : POLLIN, revents: 0 }], 0)) === 0
  );
}

const badIoctls: CaseSpec = {
  name: `${group}/bad-flag-pad-handle-fence`,
  group,
  race: false,
  description: "vgem fence ioctls: bad flags and pad are EINVAL, a bad handle or fence ENOENT",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    if (isVgem(t)) {
      const attach = (a: Partial<DrmVgemFenceAttach>) =>
        drmIoctl(t.proc, fd.fd, DRM_IOCTL_VGEM_FENCE_ATTACH, { handle: 0, flags: 0, pad: 0, ...a });
      const signal = (a: { fence?: number; flags?: number }) =>
        drmIoctl(t.proc, fd.fd, DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence: 0, flags: 0, ...a });
      await t.expectErrno(attach({ flags: 0xff }), "EINVAL", "bad-flag attach");
      await t.expectErrno(signal({ flags: 0xff }), "EINVAL", "bad-flag signal");
      await t.expectErrno(attach({ pad: 1 }), "EINVAL", "bad-pad");
      await t.expectErrno(attach({ handle: 0xff }), "ENOENT", "bad-handle");
      await t.expectErrno(signal({ fence: 0xff }), "ENOENT", "bad-fence");
    }
    await fd.close();
  },
};

const busyFence: CaseSpec = {
  name: `${group}/busy-fence`,
  group,
  race: false,
  description: "a write fence cannot be attached while a read fence is pending (EBUSY)",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    if (isVgem(t)) {
      const bo = await dumbBo(t, fd, 1024, 1, 32);
      t.check(bo !== null, "vgem without dumb buffers");
      const read = await fenceAttach(t, fd, bo.handle, 0);
      await t.expectErrno(fenceAttach(t, fd, bo.handle, VGEM_FENCE_WRITE), "EBUSY", "write fence");
      await fenceSignal(t, fd, read);
      await fd.gemClose(bo.handle);
    }
    await fd.close();
  },
};

/** dmabuf-fence (fence after the export) and dmabuf-fence-before (before it). */
function dmabufFence(before: boolean): CaseSpec {
  return {
    name: `${group}/dmabuf-fence${before ? "-before" : ""}`,
    group,
    race: false,
    description: `vgem fences attached ${before ? "before" : "after"} the export show in poll() on the dma-buf`,
    defaults: SEQUENTIAL_DEFAULTS,
    async body(t: CaseContext) {
      const fd = await t.open();
      if (isVgem(t)) {
        for (const flags of [0, VGEM_FENCE_WRITE]) {
          const bo = await dumbBo(t, fd, 1024, 1, 32);
          t.check(bo !== null, "vgem without dumb buffers");
          let fence = 0;
          if (before) fence = await fenceAttach(t, fd, bo.handle, flags);
          const dmabuf = await fd.primeHandleToFd(bo.handle);
          if (!before) fence = await fenceAttach(t, fd, bo.handle, flags);
          const write = flags === VGEM_FENCE_WRITE;
          // A read fence only blocks writers; a write fence blocks everyone.
          t.check((await primeBusy(t, dmabuf, false)) === write, "reader busy state");
          t.check(await primeBusy(t, dmabuf, true), "a writer is not blocked");
          await fenceSignal(t, fd, fence);
          t.check(!(await primeBusy(t, dmabuf, false)), "reader still busy after the signal");
          t.check(!(await primeBusy(t, dmabuf, true)), "writer still busy after the signal");
          await close(t.proc, dmabuf);
          await fd.gemClose(bo.handle);
        }
      }
      await fd.close();
    },
  };
}

export const VGEM_BASIC: readonly CaseSpec[] = [
  create,
  mmapCase,
  badIoctls,
  busyFence,
  dmabufExport,
  dmabufMmap,
  dmabufFence(false),
  dmabufFence(true),
];
