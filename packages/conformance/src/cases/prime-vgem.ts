/**
 * IGT tests/prime_vgem.c: a vgem buffer shared with another device through PRIME, the subtests
 * that need no i915 blitter, execbuf or KMS. IGT's roles: `vgem` exports (dumb buffers, its
 * fence ioctls), `i915` imports (reads with pread, maps through the GTT, runs batches that write
 * the buffer). Here the driver under test exports and the partner device of the cross-driver
 * run imports; the importer's CPU mapping of its handle (or of the dma-buf it re-exports, for
 * drivers that refuse to map imports) stands for pread/pwrite and the GTT mmap, and a thread
 * writing through that mapping under a vgem write fence stands for i915's batch (the "GPU").
 *
 * basic-read, basic-write, basic-gtt and coherency-gtt need dumb buffers only, so they run on
 * every driver; the fence subtests (basic-fence-read, basic-fence-mmap, sync, busy, wait,
 * fence-wait) need vgem's fence ioctls and skip elsewhere (igt_require(vgem_has_fences())).
 * i915's gem_read and gem_set_domain(GTT) wait for the buffer's fences; a CPU mapping does not,
 * so the importer waits as dma-buf userspace does: DMA_BUF_IOCTL_SYNC (prime_sync_start()) or
 * poll(). fence-read-hang and fence-write-hang need vgem's WIP_VGEM_FENCE_NOTIMEOUT, which
 * mainline vgem rejects (EINVAL): they check that and skip, as IGT does on mainline.
 *
 * IGT writes one dword per page over 1024 pages; the cases write 64 (IGT's SLOW_QUICK spirit)
 * to keep the suite cheap on every driver.
 */

import {
  close,
  type DrmFd,
  drmIoctl,
  isSysError,
  type Mapping,
  mapDumb,
  mmapDmaBuf,
  poll,
  primeSyncEnd,
  primeSyncStart,
} from "@primetime/libdrm";
import { sleep } from "@primetime/sim";
import {
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  type DrmVgemFenceAttach,
  VGEM_FENCE_WRITE,
} from "@primetime/uapi";
import type { BoMapping, DeviceUnderTest } from "../driver-under-test.js";
import { type CaseContext, type CaseSpec, SEQUENTIAL_DEFAULTS } from "../harness.js";
import { importerView } from "./prime-cross-driver.js";

const group = "prime_vgem";
/** vgem_create(): 1024 x PAGES x 32 bpp, one page per row. */
const PAGES = 64;
const PAGE = 4096;
const SIZE = PAGES * PAGE;
/** PROT_READ / PROT_WRITE. */
const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
/** POLLIN / POLLOUT. */
const POLLIN = 0x001;
const POLLOUT = 0x004;
/** IGT's WIP_VGEM_FENCE_NOTIMEOUT (lib/igt_vgem.h): never accepted by mainline vgem. */
const WIP_VGEM_FENCE_NOTIMEOUT = 0x2;
/** One second of virtual time, in ns. */
const SECOND = 1_000_000_000;

/** The dword at the start of page `n`, little endian. */
function word(n: number): Uint8Array {
  const v = n >>> 0;
  return new Uint8Array([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]);
}

function dword(bytes: Uint8Array): number {
  return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
}

/** `ptr[1024 * i] = value(i)` for every page. */
async function writePages(m: Mapping | BoMapping, value: (i: number) => number): Promise<void> {
  for (let i = 0; i < PAGES; i++) await m.write(word(value(i)), i * PAGE);
}

/** igt_assert_eq(ptr[1024 * i], value(i)) for every page. */
async function checkPages(
  t: CaseContext,
  m: Mapping | BoMapping,
  value: (i: number) => number,
  what: string,
): Promise<void> {
  for (let i = 0; i < PAGES; i++) {
    const got = dword(await m.read(i * PAGE, 4));
    t.check(got === value(i) >>> 0, `${what}: page ${i} reads ${got}, not ${value(i) >>> 0}`);
  }
}

/** The two devices and the shared buffer: vgem_create() + prime_handle_to_fd() + import. */
interface Shared {
  vgem: DrmFd;
  i915: DrmFd;
  importer: DeviceUnderTest;
  /** The exporter's handle (null once gem_close()d). */
  handle: number | null;
  dmabuf: number | null;
  /** The importer's handle. */
  prime: number;
}

async function share(t: CaseContext, keepDmabuf: boolean): Promise<Shared | null> {
  const importer = t.other;
  t.check(importer !== null, "prime_vgem needs a partner device");
  const vgem = await t.open();
  const i915 = await t.open(importer);
  let handle: number;
  try {
    handle = (await vgem.createDumb({ width: 1024, height: PAGES, bpp: 32 })).handle;
  } catch (e) {
    if (!isSysError(e, "ENOSYS")) throw e;
    await vgem.close();
    await i915.close();
    return null; // igt_require(): no dumb buffers
  }
  const dmabuf = await vgem.primeHandleToFd(handle);
  const prime = await i915.primeFdToHandle(dmabuf);
  if (!keepDmabuf) await close(t.proc, dmabuf);
  return { vgem, i915, importer, handle, dmabuf: keepDmabuf ? dmabuf : null, prime };
}

/** vgem_mmap(vgem, bo, prot). */
async function vgemMmap(t: CaseContext, s: Shared, prot: number): Promise<Mapping> {
  const offset = await mapDumb(t.proc, s.vgem.fd, s.handle!);
  return s.vgem.mmap(offset, SIZE, prot);
}

/** The importer's CPU view of its handle (pread/pwrite, the GTT mmap). */
async function i915View(t: CaseContext, s: Shared) {
  return importerView(t, s.importer, s.i915, s.prime, SIZE);
}

async function teardown(t: CaseContext, s: Shared): Promise<void> {
  if (s.dmabuf !== null) await close(t.proc, s.dmabuf);
  await s.i915.gemClose(s.prime);
  if (s.handle !== null) await s.vgem.gemClose(s.handle);
  await s.i915.close();
  await s.vgem.close();
}

async function fenceAttach(t: CaseContext, s: Shared, flags: number): Promise<number> {
  const arg: DrmVgemFenceAttach = { handle: s.handle!, flags, out_fence: 0, pad: 0 };
  await drmIoctl(t.proc, s.vgem.fd, DRM_IOCTL_VGEM_FENCE_ATTACH, arg);
  return arg.out_fence;
}

async function fenceSignal(t: CaseContext, s: Shared, fence: number): Promise<void> {
  await drmIoctl(t.proc, s.vgem.fd, DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence, flags: 0 });
}

/** prime_busy(fd, excl): poll(POLLOUT for a writer, POLLIN for a reader, 0) finds nothing. */
async function primeBusy(t: CaseContext, dmabuf: number, excl: boolean): Promise<boolean> {
  const fds = [{ fd: dmabuf, events: excl ? POLLOUT : POLLIN, revents: 0 }];
  return (await poll(t.proc, fds, 0)) === 0;
}

/** vgem_has_fences(): the driver under test is vgem (its fence ioctls). */
function hasFences(t: CaseContext): boolean {
  return t.dev.driver.name === "vgem";
}

function spec(
  name: string,
  description: string,
  body: (t: CaseContext) => Promise<void>,
): CaseSpec {
  return {
    name: `${group}/${name}`,
    group,
    race: false,
    description,
    defaults: SEQUENTIAL_DEFAULTS,
    body,
  };
}

const basicRead = spec(
  "basic-read",
  "what vgem writes through a PROT_WRITE mmap, the importer reads after vgem's handle is closed",
  async (t: CaseContext) => {
    const s = await share(t, false);
    if (!s) return;
    const ptr = await vgemMmap(t, s, PROT_WRITE);
    await writePages(ptr, (i) => i);
    await ptr.unmap();
    await s.vgem.gemClose(s.handle!);
    s.handle = null;
    const view = await i915View(t, s);
    await checkPages(t, view.map, (i) => i, "importer read");
    await view.map.unmap();
    if (view.dmaBufFd !== null) await close(t.proc, view.dmaBufFd);
    await teardown(t, s);
  },
);

const basicWrite = spec(
  "basic-write",
  "what the importer writes, vgem's PROT_READ mmap (kept past its gem_close) reads",
  async (t: CaseContext) => {
    const s = await share(t, false);
    if (!s) return;
    const ptr = await vgemMmap(t, s, PROT_READ);
    await s.vgem.gemClose(s.handle!);
    s.handle = null;
    const view = await i915View(t, s);
    await writePages(view.map, (i) => i);
    await view.map.unmap();
    if (view.dmaBufFd !== null) await close(t.proc, view.dmaBufFd);
    await s.i915.gemClose(s.prime);
    s.prime = 0;
    await checkPages(t, ptr, (i) => i, "vgem read");
    await ptr.unmap();
    await s.i915.close();
    await s.vgem.close();
  },
);

const basicGtt = spec(
  "basic-gtt",
  "importer writes i, vgem reads i and writes ~i, the importer reads ~i",
  async (t: CaseContext) => {
    const s = await share(t, false);
    if (!s) return;
    let view = await i915View(t, s);
    await writePages(view.map, (i) => i);
    await view.map.unmap();
    if (view.dmaBufFd !== null) await close(t.proc, view.dmaBufFd);
    const ptr = await vgemMmap(t, s, PROT_READ | PROT_WRITE);
    for (let i = 0; i < PAGES; i++) {
      const got = dword(await ptr.read(i * PAGE, 4));
      t.check(got === i, `vgem read: page ${i} reads ${got}`);
      await ptr.write(word(~i), i * PAGE);
    }
    await ptr.unmap();
    view = await i915View(t, s);
    await checkPages(t, view.map, (i) => ~i, "importer read");
    await view.map.unmap();
    if (view.dmaBufFd !== null) await close(t.proc, view.dmaBufFd);
    await teardown(t, s);
  },
);

const coherencyGtt = spec(
  "coherency-gtt",
  "interleaved stores through the importer's and vgem's mappings are seen at once by the other",
  async (t: CaseContext) => {
    const s = await share(t, false);
    if (!s) return;
    const ptr = await vgemMmap(t, s, PROT_WRITE);
    const view = await i915View(t, s);
    for (let i = 0; i < PAGES; i++) {
      await view.map.write(word(i), i * PAGE);
      t.check(dword(await ptr.read(i * PAGE, 4)) === i, `vgem does not see page ${i}`);
      await ptr.write(word(~i), i * PAGE);
      t.check(
        dword(await view.map.read(i * PAGE, 4)) === ~i >>> 0,
        `the importer does not see page ${i}`,
      );
    }
    await view.map.unmap();
    if (view.dmaBufFd !== null) await close(t.proc, view.dmaBufFd);
    await ptr.unmap();
    await teardown(t, s);
  },
);

/**
 * basic-fence-read / basic-fence-mmap: the importer reads zeros; vgem attaches a write fence;
 * the importer's "child" waits for it (DMA_BUF_IOCTL_SYNC for pread, poll() for the GTT mmap's
 * set_domain) while vgem writes and signals: once the wait returns, the child reads every value.
 */
function fenceRead(name: string, how: "sync" | "poll"): CaseSpec {
  return spec(
    name,
    `the importer's ${how === "sync" ? "DMA_BUF_IOCTL_SYNC" : "poll(POLLIN)"} waits for vgem's write fence, then reads what vgem wrote`,
    async (t: CaseContext) => {
      if (!hasFences(t)) return;
      const s = await share(t, true);
      if (!s) return;
      const view = await i915View(t, s);
      await checkPages(t, view.map, () => 0, "before the fence");
      const fence = await fenceAttach(t, s, VGEM_FENCE_WRITE);
      const child = t.thread("child", async () => {
        if (how === "sync") await primeSyncStart(t.proc, s.dmabuf!, false);
        else {
          const fds = [{ fd: s.dmabuf!, events: POLLIN, revents: 0 }];
          t.check((await poll(t.proc, fds, -1)) === 1, "poll on the fenced buffer failed");
        }
        await checkPages(t, view.map, (i) => i, "after the fence");
        if (how === "sync") await primeSyncEnd(t.proc, s.dmabuf!, false);
      });
      const ptr = await vgemMmap(t, s, PROT_WRITE);
      await writePages(ptr, (i) => i);
      await ptr.unmap();
      await fenceSignal(t, s, fence);
      await s.vgem.gemClose(s.handle!);
      s.handle = null;
      await child.join();
      await view.map.unmap();
      if (view.dmaBufFd !== null) await close(t.proc, view.dmaBufFd);
      await teardown(t, s);
    },
  );
}

/**
 * The stand-in for prime_vgem's work() once its batch is released: the "GPU" writes i to page i
 * of the importer's view, then signals the vgem write fence the work runs under.
 */
function gpuWork(t: CaseContext, s: Shared, view: BoMapping, fence: number) {
  return t.thread("gpu", async () => {
    await writePages(view, (i) => i);
    await fenceSignal(t, s, fence);
  });
}

/** sync, busy, wait: the subtests polling or syncing on the "GPU"'s work. */
function work(name: "sync" | "busy" | "wait"): CaseSpec {
  const what = {
    sync: "DMA_BUF_IOCTL_SYNC on the dma-buf waits for the work; a PROT_READ dma-buf mmap sees it",
    busy: "while the work runs the dma-buf is busy for readers and writers, then not, with its results",
    wait: "poll(POLLIN) on the dma-buf returns once the work is done, with its results",
  }[name];
  return spec(name, what, async (t: CaseContext) => {
    if (!hasFences(t)) return;
    const s = await share(t, true);
    if (!s) return;
    const view = await i915View(t, s);
    const fence = await fenceAttach(t, s, VGEM_FENCE_WRITE);
    // work(): both directions busy while the batch spins (before it is released).
    t.check(await primeBusy(t, s.dmabuf!, false), "not busy for readers while the work runs");
    t.check(await primeBusy(t, s.dmabuf!, true), "not busy for writers while the work runs");
    const gpu = gpuWork(t, s, view.map, fence);
    // sync reads through a PROT_READ mmap of the dma-buf itself, the others through vgem's.
    const vgemPtr =
      name === "sync" ? await mmapDmaBuf(t.proc, s.dmabuf!, SIZE) : await vgemMmap(t, s, PROT_READ);
    if (name === "busy") {
      // Calling busy in a loop should be enough to flush the rendering.
      let waited = 0;
      while (await primeBusy(t, s.dmabuf!, false)) {
        t.check(waited < 10 * SECOND, "still busy after 10 s");
        await sleep(SECOND / 100);
        waited += SECOND / 100;
      }
    } else if (name === "wait") {
      const fds = [{ fd: s.dmabuf!, events: POLLIN, revents: 0 }];
      t.check((await poll(t.proc, fds, 10 * SECOND)) === 1, "poll timed out");
    } else {
      await primeSyncStart(t.proc, s.dmabuf!, false);
    }
    await checkPages(t, vgemPtr, (i) => i, "the work's results");
    if (name === "sync") await primeSyncEnd(t.proc, s.dmabuf!, false);
    await vgemPtr.unmap();
    await gpu.join();
    await view.map.unmap();
    if (view.dmaBufFd !== null) await close(t.proc, view.dmaBufFd);
    await teardown(t, s);
  });
}

/**
 * fence-wait: vgem's write fence is attached first; the "GPU" work queued after it waits for it
 * (implicit sync: poll(POLLOUT) before it writes). A second later nothing is written and the
 * buffer is busy; vgem signals, and after DMA_BUF_IOCTL_SYNC the work's results are there.
 */
const fenceWait = spec(
  "fence-wait",
  "work queued behind vgem's write fence does not run before vgem signals it, and completes after",
  async (t: CaseContext) => {
    if (!hasFences(t)) return;
    const s = await share(t, true);
    if (!s) return;
    const fence = await fenceAttach(t, s, VGEM_FENCE_WRITE);
    t.check(await primeBusy(t, s.dmabuf!, false), "vgem's fence does not make the buffer busy");
    await s.vgem.gemClose(s.handle!);
    s.handle = null;
    const view = await i915View(t, s);
    const gpu = t.thread("gpu", async () => {
      const fds = [{ fd: s.dmabuf!, events: POLLOUT, revents: 0 }];
      t.check((await poll(t.proc, fds, -1)) === 1, "the work's wait failed");
      await writePages(view.map, (i) => i);
    });
    await sleep(SECOND);
    // Check for invalidly completing the task early.
    await checkPages(t, view.map, () => 0, "before the signal");
    t.check(await primeBusy(t, s.dmabuf!, false), "not busy before the signal");
    await drmIoctl(t.proc, s.vgem.fd, DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence, flags: 0 });
    await gpu.join();
    await primeSyncStart(t.proc, s.dmabuf!, false);
    await checkPages(t, view.map, (i) => i, "after the signal");
    await primeSyncEnd(t.proc, s.dmabuf!, false);
    await view.map.unmap();
    if (view.dmaBufFd !== null) await close(t.proc, view.dmaBufFd);
    await teardown(t, s);
  },
);

/** fence-read-hang / fence-write-hang: igt_require(vgem_fence_has_flag(NOTIMEOUT)) skips. */
function fenceHang(name: string, flags: number): CaseSpec {
  return spec(
    name,
    "mainline vgem rejects WIP_VGEM_FENCE_NOTIMEOUT (EINVAL), so the hang subtest skips",
    async (t: CaseContext) => {
      if (!hasFences(t)) return;
      const s = await share(t, false);
      if (!s) return;
      const arg: DrmVgemFenceAttach = {
        handle: s.handle!,
        flags: flags | WIP_VGEM_FENCE_NOTIMEOUT,
        out_fence: 0,
        pad: 0,
      };
      await t.expectErrno(
        drmIoctl(t.proc, s.vgem.fd, DRM_IOCTL_VGEM_FENCE_ATTACH, arg),
        "EINVAL",
        "vgem_fence_has_flag(WIP_VGEM_FENCE_NOTIMEOUT)",
      );
      await teardown(t, s);
    },
  );
}

/** The prime_vgem subtests, bound to the driver under test (vgem's role) and a partner (i915's). */
export const PRIME_VGEM: readonly CaseSpec[] = [
  basicRead,
  basicWrite,
  basicGtt,
  coherencyGtt,
  fenceRead("basic-fence-read", "sync"),
  fenceRead("basic-fence-mmap", "poll"),
  work("sync"),
  work("busy"),
  work("wait"),
  fenceWait,
  fenceHang("fence-read-hang", 0),
  fenceHang("fence-write-hang", VGEM_FENCE_WRITE),
];
