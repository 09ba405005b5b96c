/**
 * vmwgfx's historic lifetime races as scenarios (what `races.test.ts` and the stress harness
 * explore, exported as `@primetime/vmwgfx/scenarios`): each boots a kernel with one vmwgfx device
 * (test-machine.ts), runs an IGT-style process whose two threads race through the uapi, and
 * shuts the device down with a leak check. `VMWGFX_RACE_SCENARIOS` says which toggle (or known
 * upstream window) each finds, within how many PCT schedules, and how it shows.
 */

import { DMA_BUF_RELEASE_AFTER_FILE_FREE, registerSystemHeap } from "@primetime/dma-buf";
import {
  DRM_IOCTL_DROP_MASTER,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_SET_MASTER,
} from "@primetime/gem";
import {
  CAP_SYS_ADMIN,
  ENOENT,
  EPOLLIN,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_CLOEXEC,
  O_PATH,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SEEK_END,
  setFailslab,
} from "@primetime/kernel";
import type { Scenario } from "@primetime/sim";
import { TTM_WALK_PUT_RUNS_DESTROY } from "@primetime/ttm";
import { DRM_MODE_CURSOR_BO, DRM_MODE_CURSOR_MOVE } from "@primetime/uapi";
import {
  bootVmw,
  contextCreate,
  contextUnref,
  cursorIoctl,
  execbuf,
  execbufFence,
  fdToHandle,
  fenceRepPage,
  fenceSignaled,
  fenceUnref,
  fenceWait,
  firstPipe,
  handleClose,
  handleToFd,
  mobCreate,
  mobRead,
  mobWrite,
  ok,
  openNode,
  readFenceRep,
  scanoutSurfaceCreate,
  shutdownVmw,
  surfaceCreate,
  surfaceMob,
  surfaceRef,
  surfaceUnref,
  systemHeapDmabuf,
} from "./test-machine.js";
import {
  VMWGFX_ALLOC_BO_HANDLE_LEAK,
  VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK,
  VMWGFX_BO_ACCESS_AFTER_FAILED_INIT,
  VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED,
  VMWGFX_CURSOR_SURF_MAPPED_STALE,
  VMWGFX_DUMB_BUFFER_LEAK,
  VMWGFX_DUMB_PUT_BEFORE_LAST_USE,
  VMWGFX_EXECBUF_STALE_FENCE_FD,
  VMWGFX_FD_TO_HANDLE_LEAK,
  VMWGFX_FENCE_COPY_UNDER_CMDBUF_MUTEX,
  VMWGFX_FENCE_DESTROY_ALWAYS_LOCKS,
  VMWGFX_HANDLE_REF_DROPPED_TOO_SOON,
  VMWGFX_IMPORT_SG_TABLE_NULL,
  VMWGFX_INVALID_GEM_PUT,
  VMWGFX_LOOKUP_UNDER_RCU,
  VMWGFX_REEXPORT_PLAIN_GET,
  VMWGFX_SURFACE_BO_TTM_REF_ONLY,
  VMWGFX_SURFACE_DEFINE_EINVAL_LEAK,
  VMWGFX_SURFACE_MASTER_UNLOCKED,
  VMWGFX_VALIDATION_DOOMED_NODE_HASHED,
} from "./toggles.js";
import { VMWGFX_NUM_MOB } from "./ttm-object.js";
import type { VmwPrivate } from "./vmwgfx-drv.js";
import {
  DRM_IOCTL_VMW_SYNCCPU,
  DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD,
  drm_vmw_synccpu_grab,
  drm_vmw_synccpu_read,
  drm_vmw_synccpu_release,
} from "./vmwgfx-uapi.js";

function igtAssert(cond: boolean, msg: string): void {
  if (!cond) throw new Error(`igt_assert: ${msg}`);
}

/**
 * A scenario: one process with a render fd (the card's with `node` "card": MODE_CREATE_DUMB is
 * not DRM_RENDER_ALLOW) runs `setup`, then threads a and b, then `after`.
 */
function race<S>(
  setup: (p: Process, fd: number) => Promise<S>,
  a: (q: Process, fd: number, s: S) => Promise<void>,
  b: (q: Process, fd: number, s: S) => Promise<void>,
  after: (p: Process, fd: number, s: S) => Promise<void> = async () => {},
  node: "render" | "card" = "render",
): Scenario {
  return async (sim) => {
    const m = await bootVmw(sim);
    const proc = m.kernel.spawnProcess("igt", async (p) => {
      const fd = await openNode(p, node === "card" ? m.vmw.card : m.vmw.render);
      const s = await setup(p, fd);
      const ta = p.spawnThread("a", (q) => a(q, fd, s));
      const tb = p.spawnThread("b", (q) => b(q, fd, s));
      await ta.join();
      await tb.join();
      await after(p, fd, s);
      await p.close(fd);
    });
    const code = await proc.wait();
    if (code !== 0) sim.report("warn", `igt exited with ${code}`);
    await shutdownVmw(m);
  };
}

/**
 * The 2013 race at the uapi: thread a closes the only fd of a surface's dma-buf while thread b
 * exports the surface again. b must get a working fd to a live dma-buf of the surface's size.
 */
export const reexportVsClose = race(
  async (p, fd) => {
    const s = ok(await surfaceCreate(p, fd, 1024, null), "surface");
    return { s, dmabuf: ok(await handleToFd(p, fd, s.handle), "export") };
  },
  async (q, _fd, st) => {
    await q.close(st.dmabuf);
  },
  async (q, fd, st) => {
    const fd2 = await handleToFd(q, fd, st.s.handle);
    igtAssert(fd2 >= 0, `re-export returned ${fd2}`);
    igtAssert((await q.lseek(fd2, 0, SEEK_END)) === 4096, "the re-exported dma-buf's size");
    await q.close(fd2);
  },
);

/**
 * PRIME re-export against a readlink that outlives the dma-buf's file: a surface's dma-buf fd is
 * readlinked (/proc/<pid>/fd/<n>, as ls -l or lsof do) by thread "reader", closed by thread
 * "closer", and the surface exported again by thread "exporter". The readlink holds the dentry,
 * not the file (proc_fd_link()): when the close's __fput() frees the file first, the dma-buf and
 * the prime object's cached `prime->dma_buf` live on until the reader's path_put() runs
 * ->d_release (dma_buf_release() -> ttm_prime_dmabuf_release()), and a re-export in between finds
 * the dma-buf through that pointer and reads its freed file (get_dma_buf_unless_doomed()). The
 * exporter must get a working fd to a dma-buf of the surface's size; each readlink names the
 * dma-buf ("/dmabuf:") or finds the fd closed.
 */
export const primeReadlinkVsClose: Scenario = async (sim) => {
  const m = await bootVmw(sim);
  const proc = m.kernel.spawnProcess("igt", async (p) => {
    const fd = await openNode(p, m.vmw.render);
    const s = ok(await surfaceCreate(p, fd, 1024, null), "surface");
    const dmabuf = ok(await handleToFd(p, fd, s.handle), "export");
    const buf = await p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    igtAssert(buf > 0, `mmap: ${buf}`);
    const reader = p.spawnThread("reader", async (q) => {
      const n = await q.readlink(`/proc/${p.pid}/fd/${dmabuf}`, buf, 256);
      igtAssert(n === -ENOENT || n === "/dmabuf:".length, `readlink: ${n}`);
    });
    const closer = p.spawnThread("closer", async (q) => {
      await q.close(dmabuf);
    });
    const exporter = p.spawnThread("exporter", async (q) => {
      const fd2 = await handleToFd(q, fd, s.handle);
      igtAssert(fd2 >= 0, `re-export returned ${fd2}`);
      igtAssert((await q.lseek(fd2, 0, SEEK_END)) === 4096, "the re-exported dma-buf's size");
      await q.close(fd2);
    });
    await reader.join();
    await closer.join();
    await exporter.join();
    await p.close(fd);
  });
  const code = await proc.wait();
  if (code !== 0) sim.report("warn", `igt exited with ${code}`);
  await shutdownVmw(m);
};

/**
 * PRIME re-export after an O_PATH open of the dma-buf's /proc/<pid>/fd/<n>: thread "holder"
 * opens the link with O_PATH (path_openat() -> do_o_path(): the walk follows the magic link,
 * proc_fd_link()'s path_get(), and vfs_open() gives the O_PATH file its own reference on the
 * dma-buf's dentry, not on its file) while thread "closer" closes the dma-buf's only fd. Then the
 * main thread exports the surface again and only after that closes the O_PATH fd. Unlike a
 * readlink, whose path reference lasts one syscall, the O_PATH fd holds the dentry for as long as
 * the process keeps it open: when the holder's open came first, the close's __fput() frees the
 * file, the dma-buf and `prime->dma_buf` live on until the O_PATH fd's close runs ->d_release,
 * and the re-export, which races nothing, reads the freed file (get_dma_buf_unless_doomed()) on
 * every such schedule. The re-export must give a working fd to a dma-buf of the surface's size;
 * the O_PATH open succeeds or finds the fd closed.
 */
export const primeOpathVsClose: Scenario = async (sim) => {
  const m = await bootVmw(sim);
  const proc = m.kernel.spawnProcess("igt", async (p) => {
    const fd = await openNode(p, m.vmw.render);
    const s = ok(await surfaceCreate(p, fd, 1024, null), "surface");
    const dmabuf = ok(await handleToFd(p, fd, s.handle), "export");
    let opath = -1;
    const holder = p.spawnThread("holder", async (q) => {
      opath = await q.open(`/proc/${p.pid}/fd/${dmabuf}`, O_PATH | O_CLOEXEC);
      igtAssert(opath >= 0 || opath === -ENOENT, `open(O_PATH): ${opath}`);
    });
    const closer = p.spawnThread("closer", async (q) => {
      await q.close(dmabuf);
    });
    await holder.join();
    await closer.join();
    const fd2 = await handleToFd(p, fd, s.handle);
    igtAssert(fd2 >= 0, `re-export returned ${fd2}`);
    igtAssert((await p.lseek(fd2, 0, SEEK_END)) === 4096, "the re-exported dma-buf's size");
    await p.close(fd2);
    if (opath >= 0) await p.close(opath);
    await p.close(fd);
  });
  const code = await proc.wait();
  if (code !== 0) sim.report("warn", `igt exited with ${code}`);
  await shutdownVmw(m);
};

/**
 * "Do not drop the reference to the handle too soon": thread a allocates a buffer; thread b
 * closes the handle it guesses (1, the first) at once.
 */
export const allocVsCloseGuessedHandle = race(
  async () => null,
  async (q, fd) => {
    const mob = await mobCreate(q, fd, 8192);
    igtAssert(typeof mob !== "number", `ALLOC_BO failed: ${mob}`);
  },
  async (q, fd) => {
    await handleClose(q, fd, 1);
  },
);

/**
 * A surface backed by a user buffer: thread a closes the buffer's handle while thread b
 * references the surface (which hands out a new handle to the buffer) and reads its contents.
 */
export const surfaceRefVsBoClose = race(
  async (p, fd) => {
    const mob = ok(await mobCreate(p, fd, 4096), "mob");
    await mobWrite(p, fd, mob, new Uint8Array([7, 7, 7, 7]));
    const s = ok(await surfaceCreate(p, fd, 1024, mob), "surface");
    return { mob, s };
  },
  async (q, fd, st) => {
    await handleClose(q, fd, st.mob.handle);
  },
  async (q, fd, st) => {
    const r = ok(await surfaceRef(q, fd, st.s.handle), "surface ref");
    const got = await mobRead(q, fd, surfaceMob(r), 4);
    igtAssert(
      got.every((v) => v === 7),
      "the surface's contents",
    );
    await handleClose(q, fd, r.bufferHandle);
  },
  async (p, fd, st) => {
    await surfaceUnref(p, fd, st.s.handle);
    await surfaceUnref(p, fd, st.s.handle);
  },
);

/** SYNCCPU grab and release of a buffer (the lookup + unref path of the NULL-deref follow-up). */
export const synccpu = race(
  async (p, fd) => ok(await mobCreate(p, fd, 4096), "mob"),
  async (q, fd, mob) => {
    const arg = {
      op: drm_vmw_synccpu_grab,
      flags: drm_vmw_synccpu_read,
      handle: mob.handle,
      pad64: 0,
    };
    // The handle may be gone already: -ESRCH.
    const grab = await q.ioctl(fd, DRM_IOCTL_VMW_SYNCCPU, arg);
    igtAssert(grab === 0 || grab === -3, `grab: ${grab}`);
    arg.op = drm_vmw_synccpu_release;
    const rel = await q.ioctl(fd, DRM_IOCTL_VMW_SYNCCPU, arg);
    igtAssert(rel === 0 || rel === -3, `release: ${rel}`);
  },
  async (q, fd, mob) => {
    await handleClose(q, fd, mob.handle);
  },
);

/**
 * PRIME imports that go through ttm_prime_fd_to_handle()'s -ENOSYS: a vmwgfx buffer's dma-buf
 * into a second vmwgfx file (thread a) and a system-heap dma-buf (thread b), both then imported
 * by GEM PRIME; contents are shared.
 */
export const importForeign: Scenario = async (sim) => {
  const m = await bootVmw(sim);
  registerSystemHeap(m.kernel);
  const proc = m.kernel.spawnProcess("igt", async (p) => {
    const fd1 = await openNode(p, m.vmw.render);
    const fd2 = await openNode(p, m.vmw.render);
    const mob = ok(await mobCreate(p, fd1, 4096), "mob");
    await mobWrite(p, fd1, mob, new Uint8Array([1, 2, 3, 4]));
    const dmabuf = ok(await handleToFd(p, fd1, mob.handle), "export");
    const ta = p.spawnThread("a", async (q) => {
      const h = await fdToHandle(q, fd2, dmabuf);
      igtAssert(h > 0, `import of a vmwgfx buffer: ${h}`);
      igtAssert((await fdToHandle(q, fd1, dmabuf)) === mob.handle, "self-import gives the handle");
    });
    const tb = p.spawnThread("b", async (q) => {
      const { heap, dmabuf: heapBuf } = await systemHeapDmabuf(q);
      const h = await fdToHandle(q, fd2, heapBuf);
      igtAssert(h > 0, `import of a heap dma-buf: ${h}`);
      await q.close(heapBuf);
      await q.close(heap);
    });
    await ta.join();
    await tb.join();
    await p.close(dmabuf);
    await p.close(fd1);
    await p.close(fd2);
  });
  const code = await proc.wait();
  if (code !== 0) sim.report("warn", `igt exited with ${code}`);
  await shutdownVmw(m);
};

/** ALLOC_BO while every TTM resource allocation fails: -ENOMEM, nothing leaks. */
export const allocFailslab = race(
  async () => {
    setFailslab({ probability: 1, caches: ["ttm_resource"] });
    return null;
  },
  async (q, fd) => {
    const r = await mobCreate(q, fd, 4096);
    igtAssert(r === -12, `ALLOC_BO with the allocation failing: ${JSON.stringify(r)}`);
  },
  async (q, fd) => {
    await handleClose(q, fd, 1);
  },
);

/** MODE_CREATE_DUMB of `width` x 4 at 32 bpp; the handle, or -errno. */
async function dumbCreate(q: Process, fd: number, width: number): Promise<number> {
  const arg = { width, height: 4, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
  const ret = await q.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
  return ret < 0 ? ret : arg.handle;
}

/**
 * Surface-backed dumb buffers and a process exit: thread a creates one and closes its handle,
 * thread b creates one and keeps it; the process exits with the fd open. Everything goes with
 * the file (the handle holds the buffer, the buffer its surface).
 */
export const dumbCreateExit = race(
  async () => null,
  async (q, fd) => {
    const h = await dumbCreate(q, fd, 1024);
    igtAssert(h > 0, `dumb create: ${h}`);
    igtAssert((await handleClose(q, fd, h)) === 0, "close");
  },
  async (q, fd) => {
    const h = await dumbCreate(q, fd, 512);
    igtAssert(h > 0, `dumb create: ${h}`);
  },
  async () => {},
  "card",
);

/**
 * CVE-2022-22942's trigger (Mathias Krause's report): thread a submits with
 * DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD and a fence_rep in a read-only page, so the kernel's copy of
 * the fence_rep faults; thread b closes the fd the export reserves (guessed: the lowest free one)
 * meanwhile, and the process then closes it again and allocates a new fd. The fixed kernel never
 * installs the sync_file there (-EFAULT, the fd given back: both closes -EBADF, the next fd is that
 * one). With vmwgfx.execbuf-stale-fence-fd on, the fd table keeps an entry to the freed sync_file
 * file: the close reaches it (KASAN), or the next allocation finds the slot taken (VFS_BUG_ON).
 */
export const execbufExportFenceFault = race(
  async (p, fd) => {
    const mob = ok(await mobCreate(p, fd, 4096), "mob");
    const ro = await fenceRepPage(p, true);
    const probe = await p.dup(fd);
    igtAssert(probe >= 0 && (await p.close(probe)) === 0, "probe fd");
    return { mob, ro, probe };
  },
  async (q, fd, st) => {
    const flags = DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD;
    await execbufFence(q, fd, `fill ${st.mob.handle} 1`, { fenceRep: st.ro, flags });
  },
  async (q, _fd, st) => {
    await q.close(st.probe);
  },
  async (p, fd, st) => {
    const closed = await p.close(st.probe);
    const next = await p.dup(fd);
    igtAssert(closed === -9, `close of the reserved fd: ${closed}`);
    igtAssert(next === st.probe, `the next fd: ${next}`);
    await p.close(next);
    await handleClose(p, fd, st.mob.handle);
  },
);

/**
 * A dumb buffer's creation races a GEM_CLOSE of the handle it is about to return (guessed: 1,
 * the first), as IGT's gem_flink_race and prime_self_import races do: the reproducer of the known
 * window vmwgfx.dumb-put-before-last-use (found with every fix switch off, clean with it on).
 */
export const dumbCreateVsCloseGuessedHandle = race(
  async () => null,
  async (q, fd) => {
    const h = await dumbCreate(q, fd, 1024);
    igtAssert(h > 0, `dumb create: ${h}`);
  },
  async (q, fd) => {
    await handleClose(q, fd, 1);
  },
  async () => {},
  "card",
);

/**
 * ALLOC_BO while every idr allocation fails (drm_gem_handle_create()'s handle slot): both
 * threads' ALLOC_BO return -ENOMEM. The reproducer of the known window vmwgfx.alloc-bo-handle-leak:
 * with it open both buffers leak (kmemleak at shutdown), with its fix switch nothing does.
 */
export const allocBoHandleFailslab = race(
  async () => {
    setFailslab({ probability: 1, caches: ["idr_alloc"] });
    return null;
  },
  async (q, fd) => {
    const r = await mobCreate(q, fd, 4096);
    igtAssert(r === -12, `ALLOC_BO with idr_alloc failing: ${JSON.stringify(r)}`);
  },
  async (q, fd) => {
    const r = await mobCreate(q, fd, 8192);
    igtAssert(r === -12, `ALLOC_BO with idr_alloc failing: ${JSON.stringify(r)}`);
  },
  async () => {
    setFailslab(null);
  },
);

/**
 * GB_SURFACE_CREATE refused with -EINVAL for its guest memory: thread a gives a buffer too small
 * for the surface, thread b a dumb buffer's handle (on the card node: a master's file, so each
 * surface also takes a master reference). The reproducer of the known window
 * vmwgfx.surface-define-einval-leak: with it open both surfaces leak (kmemleak at shutdown), with
 * its fix switch nothing does. No race is needed.
 */
export const surfaceDefineEinval = race(
  async (p, fd) => {
    const tiny = ok(await mobCreate(p, fd, 4096), "mob");
    const dumb = await dumbCreate(p, fd, 64);
    igtAssert(dumb > 0, `dumb create: ${dumb}`);
    return { tiny, dumb };
  },
  async (q, fd, st) => {
    // 2048 texels of 4 bytes: 8 KiB of guest memory, more than the 4 KiB buffer.
    const r = await surfaceCreate(q, fd, 2048, st.tiny);
    igtAssert(r === -22, `surface over a too small buffer: ${JSON.stringify(r)}`);
  },
  async (q, fd, st) => {
    const r = await surfaceCreate(q, fd, 16, { handle: st.dumb, mapHandle: 0, size: 0 });
    igtAssert(r === -22, `surface over a dumb buffer: ${JSON.stringify(r)}`);
  },
  async (p, fd, st) => {
    await handleClose(p, fd, st.tiny.handle);
    await handleClose(p, fd, st.dumb);
  },
  "card",
);

/**
 * EXECBUF with a fence_rep (its copy to userspace under cmdbuf_mutex) while another thread
 * munmap()s the last mapping of a dumb buffer whose handle is closed (the buffer's release under
 * mmap_lock takes cmdbuf_mutex to detach its surface). The reproducer of the known window
 * vmwgfx.fence-copy-under-cmdbuf-mutex: lockdep sees both orders in every interleaving; with the
 * fix switch the fence_rep is written after cmdbuf_mutex is released.
 */
export const fenceCopyVsDumbMunmap = race(
  async (p, fd) => {
    const mob = ok(await mobCreate(p, fd, 4096), "mob");
    const dumb = await dumbCreate(p, fd, 64);
    igtAssert(dumb > 0, `dumb create: ${dumb}`);
    const map = { handle: dumb, pad: 0, offset: 0 };
    igtAssert((await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, map)) === 0, "map dumb");
    const addr = await p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, map.offset);
    igtAssert(addr >= 0, `mmap: ${addr}`);
    // The mapping holds the buffer now: its last reference goes with the munmap().
    igtAssert((await p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: dumb, pad: 0 })) === 0, "close");
    return { mob, addr, rep: await fenceRepPage(p) };
  },
  async (q, fd, st) => {
    const { ret } = await execbufFence(q, fd, `fill ${st.mob.handle} 7`, { fenceRep: st.rep });
    igtAssert(ret === 0, `execbuf: ${ret}`);
  },
  async (q, _fd, st) => {
    igtAssert((await q.munmap(st.addr, 4096)) === 0, "munmap");
  },
  async (p, fd, st) => {
    const rep = await readFenceRep(p, st.rep);
    await fenceUnref(p, fd, rep.handle);
    await handleClose(p, fd, st.mob.handle);
  },
  "card",
);

/**
 * A MOB limit of 2 pages in a guest of 8 (the soft limit grows once, to 4 pages, half the
 * guest's RAM): a 4-page buffer's validation must evict every other buffer from the MOBs.
 */
const DUMB_EVICT_MEMORY = { maxMobPages: 2, totalramPages: 8 } as const;

/**
 * A dumb buffer (surface-backed) filled by EXECBUF (validated into a MOB) and closed while its
 * fill runs, so TTM destroys it once idle (ttm_bo_release(): deleted, the delayed delete
 * queued); then EXECBUF fills a buffer as large as the MOB limit, and its validation's eviction
 * walk meets the deleted dumb buffer on the MOB manager's LRU, under cmdbuf_mutex. The walk
 * waits for the buffer's fill, cleans it up, unlocks it and puts its reference: when the delayed
 * delete (woken by the same fence, waiting for the buffer's lock) puts in between, the walk's put
 * is the last and vmw_bo_free() runs in EXECBUF's task, taking cmdbuf_mutex for the dumb
 * buffer's surface. The reproducer of the known window vmwgfx.dumb-release-in-evict-walk;
 * with its fix switch the dumb buffer's free is deferred to a work item.
 */
export const dumbReleaseInEvictWalk: Scenario = async (sim) => {
  const m = await bootVmw(sim, { memory: DUMB_EVICT_MEMORY });
  const proc = m.kernel.spawnProcess("igt", async (p) => {
    const fd = await openNode(p, m.vmw.card);
    const big = ok(await mobCreate(p, fd, 4 * 4096), "ALLOC_BO");
    const dumb = await dumbCreate(p, fd, 64);
    igtAssert(dumb > 0, `dumb create: ${dumb}`);
    igtAssert((await execbuf(p, fd, `fill ${dumb} 5`)) >= 0, "fill the dumb buffer");
    igtAssert((await p.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle: dumb, pad: 0 })) === 0, "close");
    igtAssert((await execbuf(p, fd, `fill ${big.handle} 7`)) >= 0, "fill past the MOB limit");
    await handleClose(p, fd, big.handle);
    await p.close(fd);
  });
  const code = await proc.wait();
  if (code !== 0) sim.report("warn", `igt exited with ${code}`);
  await shutdownVmw(m);
};

/**
 * PRIME_FD_TO_HANDLE of a system-heap dma-buf while every vmw_bo allocation fails: ttm prime
 * refuses the foreign dma-buf (-ENOSYS), GEM PRIME imports it through
 * ->gem_prime_import_sg_table, whose vmw_bo_create() fails. The reproducer of the known window
 * vmwgfx.import-sg-table-null: with it open, the NULL vmw_prime_import_sg_table() returns is
 * dereferenced (an oops); with its fix switch the import is -ENOMEM and nothing is left.
 */
export const importFailslab: Scenario = async (sim) => {
  const m = await bootVmw(sim);
  registerSystemHeap(m.kernel);
  const proc = m.kernel.spawnProcess("igt", async (p) => {
    const fd = await openNode(p, m.vmw.render);
    const { heap, dmabuf } = await systemHeapDmabuf(p);
    setFailslab({ probability: 1, caches: ["vmw_bo"] });
    const ta = p.spawnThread("a", async (q) => {
      const h = await fdToHandle(q, fd, dmabuf);
      igtAssert(h === -12, `import with vmw_bo allocations failing: ${h}`);
    });
    const tb = p.spawnThread("b", async (q) => {
      await q.close(heap);
    });
    await ta.join();
    await tb.join();
    setFailslab(null);
    await p.close(dmabuf);
    await p.close(fd);
  });
  const code = await proc.wait();
  if (code !== 0) sim.report("warn", `igt exited with ${code}`);
  await shutdownVmw(m);
};

/**
 * GB_SURFACE_CREATE over a given buffer (no create_buffer, so no GEM handle is made) while every
 * ttm_ref_object allocation fails: in both threads ttm_base_object_init() allocates the handle,
 * fails in ttm_ref_object_add() and removes the handle again (out_err1); both return -ENOMEM.
 * The reproducer of the known window vmwgfx.base-object-init-tfile-leak: with it open the file
 * reference each failure kept leaks the ttm_object_file (kmemleak at shutdown), with its fix
 * switch nothing does.
 */
export const surfaceTfileFailslab = race(
  async (p, fd) => {
    const mobs = [ok(await mobCreate(p, fd, 4096), "mob"), ok(await mobCreate(p, fd, 4096), "mob")];
    setFailslab({ probability: 1, caches: ["ttm_ref_object"] });
    return mobs;
  },
  async (q, fd, mobs) => {
    const r = await surfaceCreate(q, fd, 16, mobs[0]!);
    igtAssert(r === -12, `surface with ttm_ref_object failing: ${JSON.stringify(r)}`);
  },
  async (q, fd, mobs) => {
    const r = await surfaceCreate(q, fd, 16, mobs[1]!);
    igtAssert(r === -12, `surface with ttm_ref_object failing: ${JSON.stringify(r)}`);
  },
  async (p, fd, mobs) => {
    setFailslab(null);
    for (const m of mobs) await handleClose(p, fd, m.handle);
  },
);

/** A race scenario of vmwgfx and the toggle it finds (the shape of TTM's race scenarios). */
/**
 * Two threads submitting command buffers, as IGT's vmwgfx execution_buffer stress does: thread a
 * submits with a fence_rep and waits for its fence by handle (FENCE_WAIT: vmw_fence_obj_lookup(),
 * that is ttm_base_object_lookup()); thread b submits too, then unreferences the fence handle a's
 * submission gets (guessed: the device's first ttm handle, VMWGFX_NUM_MOB + 1, as no other ttm
 * object exists). The wait sees the fence (0) or its handle gone (-EINVAL), the unref 0 or
 * -EINVAL (before the handle exists, or after the wait's own unref). With vmwgfx.lookup-under-rcu
 * on, the wait's lookup can load the ref object's `obj` after b's ttm_ref_object_release()
 * cleared it: a NULL pointer dereference in ttm_base_object_lookup(), an oops.
 */
export const execbufFenceWaitVsUnref = race(
  async (p, fd) => {
    const mob = ok(await mobCreate(p, fd, 65536), "mob");
    return { mob, page: await fenceRepPage(p) };
  },
  async (q, fd, st) => {
    const r = await execbufFence(q, fd, `fill ${st.mob.handle} 1`, { fenceRep: st.page });
    igtAssert(r.ret === 0, `execbuf: ${r.ret}`);
    const { handle } = await readFenceRep(q, st.page);
    igtAssert(handle === VMWGFX_NUM_MOB + 1, `the fence handle: ${handle}`);
    for (let i = 0; i < 3; i++) {
      const sig = await fenceSignaled(q, fd, handle);
      igtAssert(sig.ret === 0 || sig.ret === -22, `fence signaled: ${sig.ret}`);
    }
    const w = await fenceWait(q, fd, handle);
    igtAssert(w.ret === 0 || w.ret === -22, `fence wait: ${w.ret}`);
  },
  async (q, fd, st) => {
    const r = await execbufFence(q, fd, `fill ${st.mob.handle} 2`);
    igtAssert(r.ret === 0, `execbuf: ${r.ret}`);
    const u = await fenceUnref(q, fd, VMWGFX_NUM_MOB + 1);
    igtAssert(u === 0 || u === -22, `fence unref: ${u}`);
  },
  async (p, fd, st) => {
    const u = await fenceUnref(p, fd, VMWGFX_NUM_MOB + 1);
    igtAssert(u === 0 || u === -22, `fence unref: ${u}`);
    await handleClose(p, fd, st.mob.handle);
  },
);

/**
 * IGT's vmwgfx execution_buffer stress reduced to its shape: thread a submits work on a surface
 * three times (EXECBUF `fill`), thread b drops the surface's only handle (UNREF_SURFACE); the
 * buffer's handle is closed after. Each submission sees the live surface (a seqno) or its handle
 * gone (-EINVAL from v6.12's lookup; -ESRCH from the reference-free lookup before a309c7194e8a).
 * With vmwgfx.lookup-under-rcu on, a submission's reference-free lookup can load the ref object's
 * `obj` after b's ttm_ref_object_release() cleared it: -ESRCH from inside the RCU read-side
 * section it never leaves, so the next submission sleeps on cmdbuf_mutex inside it (RCU lockdep:
 * illegal context switch) or the thread exits holding it (the `rcu` splat kind, which the stress
 * harness's driver races do not count: races.test.ts runs it, the harness hunts the toggle with
 * execbufFenceWaitVsUnref).
 */
export const execbufVsSurfaceUnref = race(
  async (p, fd) => {
    const mob = ok(await mobCreate(p, fd, 16 * 4096), "mob");
    const s = ok(await surfaceCreate(p, fd, 1024, mob), "surface");
    return { mob, s };
  },
  async (q, fd, st) => {
    for (let i = 0; i < 3; i++) {
      const r = await execbuf(q, fd, `fill ${st.s.handle} ${i}`);
      igtAssert(r > 0 || r === -22 || r === -3, `execbuf: ${r}`);
    }
  },
  async (q, fd, st) => {
    await surfaceUnref(q, fd, st.s.handle);
  },
  async (p, fd, st) => {
    await handleClose(p, fd, st.mob.handle);
  },
);

/**
 * A context with a surface bound as its render target (SETRENDERTARGET, committed by a first
 * submission): thread a submits to the context twice (`clear <cid>`), thread b drops the
 * surface's only handle (UNREF_SURFACE). The binding holds no reference: once b's release has the
 * surface's kref at 0 and before it kills the binding (vmw_resource_release(), binding_mutex), a
 * submission's vmw_cmd_ctx_first_setup() meets the doomed surface on the context's binding list
 * and gets -ESRCH from vmw_validation_add_resource(). Each submission sees a seqno or that -ESRCH.
 * With vmwgfx.validation-doomed-node-hashed on (6.12.19), that node stays in the device's res_ht
 * after the arena page it lives in is freed, and the second submission's
 * vmw_validation_find_res_dup() of the same surface walks it: a KASAN slab-use-after-free.
 */
export const execbufContextVsSurfaceUnref = race(
  async (p, fd) => {
    const mob = ok(await mobCreate(p, fd, 16 * 4096), "mob");
    const s = ok(await surfaceCreate(p, fd, 1024, mob), "surface");
    const cid = await contextCreate(p, fd);
    igtAssert(cid > VMWGFX_NUM_MOB, `context: ${cid}`);
    const r = await execbuf(p, fd, `setrendertarget ${cid} 2 ${s.handle}`);
    igtAssert(r > 0, `bind: ${r}`);
    return { mob, s, cid };
  },
  async (q, fd, st) => {
    for (let i = 0; i < 2; i++) {
      const r = await execbuf(q, fd, `clear ${st.cid}`);
      igtAssert(r > 0 || r === -3, `execbuf: ${r}`);
    }
  },
  async (q, fd, st) => {
    await surfaceUnref(q, fd, st.s.handle);
  },
  async (p, fd, st) => {
    await contextUnref(p, fd, st.cid);
    await handleClose(p, fd, st.mob.handle);
  },
);

/**
 * A buffer exported as a dma-buf and polled while its fence is replaced (KDE's shape in the fix's
 * message): the setup submits a fill of the buffer with a fence_rep (a user fence F1 in the
 * buffer's reservation object) and exports the buffer (PRIME_HANDLE_TO_FD); thread a polls the
 * dma-buf fd for EPOLLIN until the writers are done (dma_buf_poll() queues its callback on the first
 * unsignalled write fence, with a reference); thread b unreferences F1's handle (FENCE_UNREF) and
 * submits another fill with a fence_rep, whose fence F2, of the same fence context, replaces F1
 * in the reservation object. When a's callback went on F1 before the replacement, it holds F1's
 * last reference when __vmw_fences_update() signals F1 under fman->lock, and dma_buf_poll_cb()'s
 * dma_fence_put() releases F1 there. The fixed vmw_fence_obj_destroy() finds F1 unlisted and takes
 * no lock; with vmwgfx.fence-destroy-always-locks on it takes fman->lock again: lockdep's possible
 * recursive locking, then the signalling task never gets the lock (a deadlock).
 */
export const dmabufPollVsFenceReplace = race(
  async (p, fd) => {
    const mob = ok(await mobCreate(p, fd, 65536), "mob");
    const page = await fenceRepPage(p);
    const r = await execbufFence(p, fd, `fill ${mob.handle} 1`, { fenceRep: page });
    igtAssert(r.ret === 0, `execbuf: ${r.ret}`);
    const first = (await readFenceRep(p, page)).handle;
    const dmabuf = await handleToFd(p, fd, mob.handle);
    igtAssert(dmabuf >= 0, `export: ${dmabuf}`);
    return { mob, page, first, dmabuf };
  },
  async (q, _fd, st) => {
    const pfd = [{ fd: st.dmabuf, events: EPOLLIN, revents: 0 }];
    const n = await q.poll(pfd, -1);
    igtAssert(n === 1 && (pfd[0]!.revents & EPOLLIN) !== 0, `poll: ${n} ${pfd[0]!.revents}`);
  },
  async (q, fd, st) => {
    igtAssert((await fenceUnref(q, fd, st.first)) === 0, "fence unref");
    const r = await execbufFence(q, fd, `fill ${st.mob.handle} 2`, { fenceRep: st.page });
    igtAssert(r.ret === 0, `execbuf: ${r.ret}`);
  },
  async (p, fd, st) => {
    const second = (await readFenceRep(p, st.page)).handle;
    igtAssert((await fenceWait(p, fd, second, { unref: true })).ret === 0, "fence wait");
    await p.close(st.dmabuf);
    await handleClose(p, fd, st.mob.handle);
  },
);

/**
 * GB_SURFACE_CREATE on a card file racing a root process's SET_MASTER of that file (the shape of
 * core_master/getunique-vs-setmaster-race): a root process opens the card (file A becomes master
 * of a new master M) and opens it again (file B shares M); A drops master and closes, so B holds
 * M's last reference. Thread a creates a surface on B (a primary client: the surface takes a
 * master reference), thread b makes B master (drm_new_set_master(): B gets a master of its own,
 * M is put and freed). Both succeed; the surface is unreferenced and B closed after. Oracles:
 * KASAN and refcount (a define that loaded M before the swap and gets it after the free:
 * vmwgfx.surface-master-unlocked), kmemleak at shutdown.
 */
export const surfaceDefineVsSetmaster: Scenario = async (sim) => {
  const m = await bootVmw(sim);
  const proc = m.kernel.spawnProcess(
    "igt-root",
    async (p) => {
      const a = await openNode(p, m.vmw.card);
      const b = await openNode(p, m.vmw.card);
      igtAssert((await p.ioctl(a, DRM_IOCTL_DROP_MASTER)) === 0, "A's DROP_MASTER");
      await p.close(a);
      let sid = 0;
      const ta = p.spawnThread("surface", async (q) => {
        const srf = await surfaceCreate(q, b, 16, null, 0);
        igtAssert(typeof srf !== "number", `surface create: ${JSON.stringify(srf)}`);
        if (typeof srf !== "number") sid = srf.handle;
      });
      const tb = p.spawnThread("set_master", async (q) => {
        const r = await q.ioctl(b, DRM_IOCTL_SET_MASTER);
        igtAssert(r === 0, `B's SET_MASTER: ${r}`);
      });
      await ta.join();
      await tb.join();
      if (sid !== 0) igtAssert((await surfaceUnref(p, b, sid)) === 0, "surface unref");
      igtAssert((await p.ioctl(b, DRM_IOCTL_DROP_MASTER)) === 0, "B's DROP_MASTER");
      await p.close(b);
    },
    { caps: [CAP_SYS_ADMIN] },
  );
  const code = await proc.wait();
  if (code !== 0) sim.report("warn", `igt-root exited with ${code}`);
  await shutdownVmw(m);
};

/**
 * A compositor's cursor on a screen-target display unit (displayUnits: 1), through the legacy
 * cursor ioctls: a scanout surface as the cursor, then, while a second thread moves the cursor, a
 * buffer (ALLOC_BO) as the cursor; then the cursor hidden and the file closed. Each update is a
 * blocking commit of the cursor plane (vmwgfx-cursor.ts). With `vmwgfx.cursor-surf-mapped-stale`
 * on, the state that stops showing the surface keeps v6.8's `surf_mapped` without a surface, and
 * the next update's ->cleanup_fb oopses, whichever thread goes first.
 */
export const cursorSurfaceThenBuffer: Scenario = async (sim) => {
  const m = await bootVmw(sim, { displayUnits: 1 });
  const proc = m.kernel.spawnProcess("compositor", async (p) => {
    const fd = await openNode(p, m.vmw.card);
    const pp = await firstPipe(p, fd);
    const mob = ok(await mobCreate(p, fd, 64 * 64 * 4), "cursor buffer");
    const sid = await scanoutSurfaceCreate(p, fd, 64, 64);
    const bo = { flags: DRM_MODE_CURSOR_BO, crtc: pp.crtc };
    igtAssert((await cursorIoctl(p, fd, { ...bo, handle: sid })) === 0, "surface cursor");
    const mover = p.spawnThread("move", async (q) => {
      const r = await cursorIoctl(q, fd, {
        flags: DRM_MODE_CURSOR_MOVE,
        crtc: pp.crtc,
        x: 8,
        y: 8,
      });
      igtAssert(r === 0, `cursor move: ${r}`);
    });
    igtAssert((await cursorIoctl(p, fd, { ...bo, handle: mob.handle })) === 0, "buffer cursor");
    await mover.join();
    igtAssert((await cursorIoctl(p, fd, { ...bo, handle: 0 })) === 0, "cursor off");
    await p.close(fd);
  });
  const code = await proc.wait();
  if (code !== 0) sim.report("warn", `compositor exited with ${code}`);
  await shutdownVmw(m);
};

/**
 * The known window `vmwgfx.cursor-mob-unpin-unreserved`: two threads each show a buffer cursor on
 * their display unit (displayUnits: 2) and hide it, leaving cursor MOBs in the planes' caches;
 * the device's unload destroys them (vmw_kms_close(): vmw_du_cursor_plane_destroy()) with
 * ttm_bo_unpin() outside their reservation. Clean with the fix switch.
 */
export const cursorMobCacheUnload: Scenario = async (sim) => {
  const m = await bootVmw(sim, { displayUnits: 2 });
  const proc = m.kernel.spawnProcess("compositor", async (p) => {
    const fd = await openNode(p, m.vmw.card);
    const crtcs = (m.vmw.device.driverPrivate as VmwPrivate).stdus.map((s) => s.crtc.base.id);
    const show = async (q: Process, crtc: number) => {
      const mob = ok(await mobCreate(q, fd, 64 * 64 * 4), "cursor buffer");
      const bo = { flags: DRM_MODE_CURSOR_BO, crtc };
      igtAssert((await cursorIoctl(q, fd, { ...bo, handle: mob.handle })) === 0, "cursor on");
      igtAssert((await cursorIoctl(q, fd, { ...bo, handle: 0 })) === 0, "cursor off");
    };
    const other = p.spawnThread("second-head", (q) => show(q, crtcs[1]!));
    await show(p, crtcs[0]!);
    await other.join();
    await p.close(fd);
  });
  const code = await proc.wait();
  if (code !== 0) sim.report("warn", `compositor exited with ${code}`);
  await shutdownVmw(m);
};

export interface VmwgfxRaceScenario {
  /** `vmwgfx/<case>`. */
  readonly name: string;
  readonly description: string;
  /** With every toggle off and the known windows' fix switches on (baselineFixes()). */
  readonly expect: "clean";
  readonly scenario: Scenario;
  readonly kernelRef: string;
  /** The toggles that make it fail (none for a known window's reproducer). */
  readonly finds: readonly string[];
  /**
   * The known upstream window (listKnownWindows(), KNOWN-WINDOWS.md) it reaches with every fix
   * switch off, for a window's reproducer; `finds` is then empty.
   */
  readonly window?: string;
  /** PCT schedules within which it finds them (seed 7, depth 3, in races.test.ts: at most 300). */
  readonly schedules: number;
  /** How the bug shows. */
  readonly how: string;
}

/**
 * Every vmwgfx race scenario: one per toggle of the package, and one per known window (its
 * reproducer, clean with the window's fix switch on; the allocation-failure and -EINVAL
 * windows need no race, their two threads just both reach them).
 */
export const VMWGFX_RACE_SCENARIOS: readonly VmwgfxRaceScenario[] = [
  {
    name: "vmwgfx/reexport-vs-close",
    description: "the last close of a surface's dma-buf fd races a PRIME re-export of the surface",
    expect: "clean",
    scenario: reexportVsClose,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/ttm_object.c ttm_prime_handle_to_fd(), ttm_prime_dmabuf_release()",
    finds: [VMWGFX_REEXPORT_PLAIN_GET.name],
    schedules: 300,
    how: "refcount_t: addition on 0; use-after-free (a file count brought back from 0)",
  },
  {
    name: "vmwgfx/surface-define-vs-setmaster",
    description:
      "GB_SURFACE_CREATE on a card file races a root process's SET_MASTER of that file, which frees the master it shared",
    expect: "clean",
    scenario: surfaceDefineVsSetmaster,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_surface.c vmw_gb_surface_define_internal(); drivers/gpu/drm/drm_auth.c drm_file_get_master(), drm_new_set_master()",
    finds: [VMWGFX_SURFACE_MASTER_UNLOCKED.name],
    // PCT depth 3, seeds 1-10: first detection at 73, 31, 66, 188, 240, 10, 4, 200, 35, 79
    // (mean 92.6); the budget is ceil(ln(1000) x mean), as the harness's other budgets.
    schedules: 640,
    how: "KASAN: slab-use-after-free in kref_get (drm_master: vmw_gb_surface_define_internal()'s drm_master_get() of the master SET_MASTER freed), refcount addition on 0",
  },
  {
    name: "vmwgfx/cursor-surface-then-buffer",
    description:
      "a surface cursor, then a buffer cursor while another thread moves it, then the cursor off (legacy cursor ioctls on a screen-target display unit)",
    expect: "clean",
    scenario: cursorSurfaceThenBuffer,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_kms.c vmw_du_cursor_plane_prepare_fb(), vmw_du_cursor_plane_cleanup_fb(), vmw_du_plane_duplicate_state(); drivers/gpu/drm/drm_plane.c drm_mode_cursor_universal()",
    finds: [VMWGFX_CURSOR_SURF_MAPPED_STALE.name],
    // A sequence, not a race: every schedule with the toggle on oopses (PCT seed 7: the first).
    schedules: 300,
    how: "BUG: kernel NULL pointer dereference in vmw_du_cursor_plane_cleanup_fb() (vps->surf of a state that kept surf_mapped)",
  },
  {
    name: "vmwgfx/cursor-mob-cache-unload",
    description:
      "two threads show and hide a buffer cursor on two display units, then the device is unloaded with cursor MOBs cached",
    expect: "clean",
    scenario: cursorMobCacheUnload,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_kms.c vmw_du_cursor_plane_destroy(), vmw_du_destroy_cursor_mob(); drivers/gpu/drm/ttm/ttm_bo.c ttm_bo_unpin()",
    finds: [],
    window: VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED.name,
    // Every schedule with the switch off reaches it at unload (PCT seed 7: the first).
    schedules: 300,
    how: "lockdep assertion (dma_resv_assert_held() in ttm_bo_unpin(): a cursor MOB unpinned without its reservation)",
  },
  {
    name: "vmwgfx/prime-readlink-vs-close",
    description:
      "a readlink of a surface's dma-buf fd holds its dentry across the fd's last close while the surface is exported again",
    expect: "clean",
    scenario: primeReadlinkVsClose,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/ttm_object.c ttm_prime_handle_to_fd(), ttm_prime_dmabuf_release(); drivers/dma-buf/dma-buf.c dma_buf_release(), dma_buf_file_release(); fs/file_table.c __fput(); fs/proc/fd.c proc_fd_link()",
    finds: [],
    window: DMA_BUF_RELEASE_AFTER_FILE_FREE.name,
    // PCT depth 3, every switch off: seed 7 at schedule 5 (seeds 1, 2, 3: 59, 47, 56).
    schedules: 300,
    how: "KASAN: slab-use-after-free in get_file_unless_doomed (the dma-buf's freed file, through prime->dma_buf)",
  },
  {
    name: "vmwgfx/prime-opath-vs-close",
    description:
      "an O_PATH fd opened on a surface's dma-buf /proc/<pid>/fd/<n> holds its dentry across the fd's last close; the surface is exported again before the O_PATH fd is closed",
    expect: "clean",
    scenario: primeOpathVsClose,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/ttm_object.c ttm_prime_handle_to_fd(), ttm_prime_dmabuf_release(); drivers/dma-buf/dma-buf.c dma_buf_release(), dma_buf_file_release(); fs/namei.c do_o_path(), nd_jump_link(); fs/open.c do_dentry_open(); fs/proc/base.c proc_pid_get_link(); fs/proc/fd.c proc_fd_link(); fs/file_table.c __fput()",
    finds: [],
    window: DMA_BUF_RELEASE_AFTER_FILE_FREE.name,
    // PCT depth 3, every switch off: found at the first schedule of seeds 1, 2, 3 and 7 (every
    // schedule whose O_PATH open precedes the close).
    schedules: 300,
    how: "KASAN: slab-use-after-free in get_file_unless_doomed (the dma-buf's freed file, through prime->dma_buf; the O_PATH fd holds the dentry)",
  },
  {
    name: "vmwgfx/alloc-bo-vs-close-guessed-handle",
    description: "ALLOC_BO races a GEM_CLOSE of the handle it is about to return (guessed)",
    expect: "clean",
    scenario: allocVsCloseGuessedHandle,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_gem.c vmw_gem_object_create_with_handle(), vmwgfx_bo.c",
    finds: [VMWGFX_HANDLE_REF_DROPPED_TOO_SOON.name],
    schedules: 300,
    how: "KASAN: slab-use-after-free in drm_vma_node_offset_addr",
  },
  {
    name: "vmwgfx/surface-ref-vs-bo-close",
    description:
      "closing a surface's backing buffer handle races a surface reference that hands out a new handle to it",
    expect: "clean",
    scenario: surfaceRefVsBoClose,
    kernelRef: "drivers/gpu/drm/vmwgfx/vmwgfx_surface.c vmw_gb_surface_reference_internal()",
    finds: [VMWGFX_SURFACE_BO_TTM_REF_ONLY.name],
    schedules: 300,
    how: "refcount_t: addition on 0 or underflow; use-after-free",
  },
  {
    name: "vmwgfx/synccpu",
    description: "SYNCCPU grab and release of a buffer while its handle is closed",
    expect: "clean",
    scenario: synccpu,
    kernelRef: "drivers/gpu/drm/vmwgfx/vmwgfx_bo.c vmw_user_bo_synccpu_ioctl()",
    finds: [VMWGFX_INVALID_GEM_PUT.name],
    schedules: 300,
    how: "BUG: kernel NULL pointer dereference",
  },
  {
    name: "vmwgfx/alloc-bo-failslab",
    description: "ALLOC_BO while every TTM resource allocation fails: -ENOMEM, nothing leaks",
    expect: "clean",
    scenario: allocFailslab,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_gem.c vmw_gem_object_create_with_handle(), ttm_bo_init_reserved()",
    finds: [VMWGFX_BO_ACCESS_AFTER_FAILED_INIT.name],
    schedules: 300,
    how: "KASAN: slab-use-after-free in vmw_gem_object_create_with_handle",
  },
  {
    name: "vmwgfx/import-foreign",
    description: "PRIME imports of a second vmwgfx file's and a system heap's dma-bufs",
    expect: "clean",
    scenario: importForeign,
    kernelRef: "drivers/gpu/drm/vmwgfx/ttm_object.c ttm_prime_fd_to_handle(), vmwgfx_prime.c",
    finds: [VMWGFX_FD_TO_HANDLE_LEAK.name],
    schedules: 300,
    how: "kmemleak: an unreferenced dma_buf",
  },
  {
    name: "vmwgfx/dumb-create-exit",
    description:
      "surface-backed dumb buffers, one closed and one kept, then the process exits with the fd open",
    expect: "clean",
    scenario: dumbCreateExit,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_surface.c vmw_dumb_create(), vmw_user_surface_base_release(); vmwgfx_bo.c vmw_bo_release()",
    finds: [VMWGFX_DUMB_BUFFER_LEAK.name],
    schedules: 300,
    how: "kmemleak: an unreferenced vmw_bo and vmw_user_surface",
  },
  {
    name: "vmwgfx/execbuf-export-fence-fault",
    description:
      "EXECBUF exporting its fence as a sync_file fd with a fence_rep that faults, the reserved fd closed meanwhile and after",
    expect: "clean",
    scenario: execbufExportFenceFault,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_execbuf.c vmw_execbuf_process(), vmw_execbuf_copy_fence_user()",
    finds: [VMWGFX_EXECBUF_STALE_FENCE_FD.name],
    schedules: 300,
    how: "KASAN: slab-use-after-free in filp_close (the sync_file's file through the stale fd), or an imbalanced put on file reference count",
  },
  {
    name: "vmwgfx/execbuf-fence-wait-vs-unref",
    description:
      "two threads submit command buffers; one polls and waits for its fence by handle while the other unreferences that handle (IGT vmwgfx execution_buffer's shape)",
    expect: "clean",
    scenario: execbufFenceWaitVsUnref,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/ttm_object.c ttm_base_object_lookup(), ttm_ref_object_release(); vmwgfx_fence.c vmw_fence_obj_lookup()",
    finds: [VMWGFX_LOOKUP_UNDER_RCU.name],
    schedules: 300,
    how: "BUG: kernel NULL pointer dereference in ttm_base_object_lookup() (the ref->obj a racing release cleared)",
  },
  {
    name: "vmwgfx/execbuf-context-vs-surface-unref",
    description:
      "two submissions to a context race UNREF_SURFACE of the surface bound to it as a render target (the binding holds no reference)",
    expect: "clean",
    scenario: execbufContextVsSurfaceUnref,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_validation.c vmw_validation_add_resource(), vmw_validation_find_res_dup(); vmwgfx_execbuf.c vmw_resource_context_res_add(); vmwgfx_resource.c vmw_resource_release()",
    finds: [VMWGFX_VALIDATION_DOOMED_NODE_HASHED.name],
    // PCT depth 3, seeds 1-10: first detection at 64, 3, 36, 90, 40, 128, 177, 154, 20, 12
    // (mean 72.4, measured after EXECBUF's splice of resource_ctx_list and evstress's merge);
    // the budget is ceil(ln(1000) x mean), as the harness's other budgets.
    schedules: 501,
    how: "KASAN: slab-use-after-free in vmw_validation_find_res_dup (the res_ht node of a doomed resource, in a freed vmw_validation_page)",
  },
  {
    name: "vmwgfx/dmabuf-poll-vs-fence-replace",
    description:
      "a poll of a buffer's dma-buf races the unref of its fence's handle and a second submission that replaces the fence",
    expect: "clean",
    scenario: dmabufPollVsFenceReplace,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_fence.c vmw_fence_obj_destroy(), __vmw_fences_update(); drivers/dma-buf/dma-buf.c dma_buf_poll_cb()",
    finds: [VMWGFX_FENCE_DESTROY_ALWAYS_LOCKS.name],
    // PCT depth 3, seeds 1-10: first detection at 1, 2, 1, 1, 1, 3, 1, 1, 1, 1 (mean 1.3): the
    // poll arms on the first fence unless the second submission comes first.
    schedules: 300,
    how: "lockdep: possible recursive locking detected (vmw_fence_manager.lock, taken by the fence's release inside its signal), then a deadlock",
  },
  {
    name: "vmwgfx/dumb-create-vs-close-guessed-handle",
    description:
      "MODE_CREATE_DUMB (surface branch) races a GEM_CLOSE of the handle it is about to return (guessed)",
    expect: "clean",
    scenario: dumbCreateVsCloseGuessedHandle,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_surface.c vmw_dumb_create(); vmwgfx_bo.c vmw_bo_release()",
    finds: [],
    window: VMWGFX_DUMB_PUT_BEFORE_LAST_USE.name,
    schedules: 300,
    how: "KASAN: slab-use-after-free in vmw_dumb_create (the buffer) or of the vmw_user_surface",
  },
  {
    name: "vmwgfx/alloc-bo-handle-failslab",
    description:
      "ALLOC_BO while drm_gem_handle_create()'s idr allocation fails: -ENOMEM, nothing leaks",
    expect: "clean",
    scenario: allocBoHandleFailslab,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_gem.c vmw_gem_object_create_with_handle(), vmw_gem_object_create_ioctl()",
    finds: [],
    window: VMWGFX_ALLOC_BO_HANDLE_LEAK.name,
    schedules: 300,
    how: "kmemleak: an unreferenced vmw_bo",
  },
  {
    name: "vmwgfx/surface-define-einval",
    description:
      "GB_SURFACE_CREATE over a too small buffer and over a dumb buffer: -EINVAL, nothing leaks",
    expect: "clean",
    scenario: surfaceDefineEinval,
    kernelRef: "drivers/gpu/drm/vmwgfx/vmwgfx_surface.c vmw_gb_surface_define_internal()",
    finds: [],
    window: VMWGFX_SURFACE_DEFINE_EINVAL_LEAK.name,
    schedules: 300,
    how: "kmemleak: an unreferenced vmw_user_surface",
  },
  {
    name: "vmwgfx/fence-copy-vs-dumb-munmap",
    description:
      "EXECBUF writing its fence_rep while another thread unmaps the last mapping of a closed dumb buffer: no lock-order inversion",
    expect: "clean",
    scenario: fenceCopyVsDumbMunmap,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_execbuf.c vmw_execbuf_process(); vmwgfx_bo.c vmw_bo_release()",
    finds: [],
    window: VMWGFX_FENCE_COPY_UNDER_CMDBUF_MUTEX.name,
    schedules: 300,
    how: "lockdep: possible circular locking dependency (cmdbuf_mutex and mmap_lock)",
  },
  {
    name: "vmwgfx/dumb-release-in-evict-walk",
    description:
      "a closed busy dumb buffer in a MOB, then an EXECBUF whose validation evicts it (small MOB limit): its free does not run under EXECBUF's cmdbuf_mutex",
    expect: "clean",
    scenario: dumbReleaseInEvictWalk,
    kernelRef:
      "drivers/gpu/drm/ttm/ttm_bo_util.c ttm_bo_lru_cursor_cleanup_bo(); ttm_bo.c ttm_bo_delayed_delete(); drivers/gpu/drm/vmwgfx/vmwgfx_bo.c vmw_bo_free(); vmwgfx_execbuf.c vmw_execbuf_process()",
    finds: [],
    window: TTM_WALK_PUT_RUNS_DESTROY.name,
    schedules: 300,
    how: "lockdep: possible recursive locking detected (vmw_private.cmdbuf_mutex, taken by vmw_bo_free() under EXECBUF), then a deadlock",
  },
  {
    name: "vmwgfx/import-failslab",
    description:
      "PRIME import of a system heap's dma-buf while vmw_bo allocations fail: -ENOMEM, nothing leaks",
    expect: "clean",
    scenario: importFailslab,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/vmwgfx_gem.c vmw_prime_import_sg_table(); drivers/gpu/drm/drm_prime.c drm_gem_prime_import_dev()",
    finds: [],
    window: VMWGFX_IMPORT_SG_TABLE_NULL.name,
    schedules: 300,
    how: "BUG: kernel NULL pointer dereference in drm_gem_prime_import_dev()",
  },
  {
    name: "vmwgfx/surface-tfile-failslab",
    description:
      "GB_SURFACE_CREATE while the creator's ttm_ref_object allocation fails: -ENOMEM, nothing leaks",
    expect: "clean",
    scenario: surfaceTfileFailslab,
    kernelRef:
      "drivers/gpu/drm/vmwgfx/ttm_object.c ttm_base_object_init(); vmwgfx_surface.c vmw_gb_surface_define_internal()",
    finds: [],
    window: VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK.name,
    schedules: 300,
    how: "kmemleak: an unreferenced ttm_object_file",
  },
];
