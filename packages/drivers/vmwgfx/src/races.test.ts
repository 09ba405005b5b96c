/**
 * vmwgfx's historic lifetime races, one scenario per toggle, through the uapi: with the toggle on
 * PCT finds the bug within a bounded number of schedules and the failure replays from its token;
 * with every toggle off the same scenarios are clean over many PCT schedules and a bounded DFS,
 * and nothing leaks after quiesce.
 */

import {
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_SYSTEM_PATH,
  type DmaHeapAllocationData,
  registerSystemHeap,
} from "@primetime/dma-buf";
import { O_CLOEXEC, O_RDWR, type Process, SEEK_END, setFailslab } from "@primetime/kernel";
import type { RunResult, Scenario } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import {
  bootVmw,
  expectClean,
  fdToHandle,
  handleClose,
  handleToFd,
  mobCreate,
  mobRead,
  mobWrite,
  ok,
  openNode,
  runVmw,
  shutdownVmw,
  splatText,
  surfaceCreate,
  surfaceMob,
  surfaceRef,
  surfaceUnref,
} from "./test-machine.js";
import {
  VMWGFX_BO_ACCESS_AFTER_FAILED_INIT,
  VMWGFX_FD_TO_HANDLE_LEAK,
  VMWGFX_HANDLE_REF_DROPPED_TOO_SOON,
  VMWGFX_INVALID_GEM_PUT,
  VMWGFX_REEXPORT_PLAIN_GET,
  VMWGFX_SURFACE_BO_TTM_REF_ONLY,
  VMWGFX_TOGGLES,
} from "./toggles.js";
import {
  DRM_IOCTL_VMW_SYNCCPU,
  drm_vmw_synccpu_grab,
  drm_vmw_synccpu_read,
  drm_vmw_synccpu_release,
} from "./vmwgfx-uapi.js";

function igtAssert(cond: boolean, msg: string): void {
  if (!cond) throw new Error(`igt_assert: ${msg}`);
}

/** A scenario: one process with a render fd runs `setup`, then threads a and b, then `after`. */
function race<S>(
  setup: (p: Process, fd: number) => Promise<S>,
  a: (q: Process, fd: number, s: S) => Promise<void>,
  b: (q: Process, fd: number, s: S) => Promise<void>,
  after: (p: Process, fd: number, s: S) => Promise<void> = async () => {},
): Scenario {
  return async (sim) => {
    const m = await bootVmw(sim);
    const proc = m.kernel.spawnProcess("igt", async (p) => {
      const fd = await openNode(p, m.vmw.render);
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
const reexportVsClose = race(
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
 * "Do not drop the reference to the handle too soon": thread a allocates a buffer; thread b
 * closes the handle it guesses (1, the first) at once.
 */
const allocVsCloseGuessedHandle = race(
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
const surfaceRefVsBoClose = race(
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
const synccpu = race(
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
const importForeign: Scenario = async (sim) => {
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
      const heap = await q.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
      const data: DmaHeapAllocationData = {
        len: 4096,
        fd: 0,
        fdFlags: O_RDWR | O_CLOEXEC,
        heapFlags: 0,
      };
      igtAssert((await q.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, data)) === 0, "heap alloc");
      const h = await fdToHandle(q, fd2, data.fd);
      igtAssert(h > 0, `import of a heap dma-buf: ${h}`);
      await q.close(data.fd);
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
const allocFailslab = race(
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

interface ToggleCase {
  toggle: string;
  name: string;
  scenario: Scenario;
  finds: RegExp;
}

const CASES: ToggleCase[] = [
  {
    toggle: VMWGFX_REEXPORT_PLAIN_GET.name,
    name: "reexport-vs-close",
    scenario: reexportVsClose,
    finds:
      /file_ref_inc\(\) on a released file reference|refcount_t: addition on 0; use-after-free|KASAN: slab-use-after-free/,
  },
  {
    toggle: VMWGFX_HANDLE_REF_DROPPED_TOO_SOON.name,
    name: "alloc-bo-vs-close-guessed-handle",
    scenario: allocVsCloseGuessedHandle,
    finds: /KASAN: slab-use-after-free in drm_vma_node_offset_addr/,
  },
  {
    toggle: VMWGFX_SURFACE_BO_TTM_REF_ONLY.name,
    name: "surface-ref-vs-bo-close",
    scenario: surfaceRefVsBoClose,
    finds: /refcount_t: (addition on 0|underflow); use-after-free/,
  },
  {
    toggle: VMWGFX_INVALID_GEM_PUT.name,
    name: "synccpu",
    scenario: synccpu,
    finds: /kernel NULL pointer dereference/,
  },
  {
    toggle: VMWGFX_BO_ACCESS_AFTER_FAILED_INIT.name,
    name: "alloc-bo-failslab",
    scenario: allocFailslab,
    finds: /KASAN: slab-use-after-free in vmw_gem_object_create_with_handle/,
  },
  {
    toggle: VMWGFX_FD_TO_HANDLE_LEAK.name,
    name: "import-foreign",
    scenario: importForeign,
    finds: /kmemleak.*dma_buf/s,
  },
];

function failureText(r: RunResult | null): string {
  return r ? `${r.outcome} ${r.message ?? ""}\n${splatText(r)}` : "";
}

describe("vmwgfx historic races: each toggle is found, the fixed driver is clean", () => {
  it("covers every toggle of the package", () => {
    expect(CASES.map((c) => c.toggle).sort()).toEqual(VMWGFX_TOGGLES.map((t) => t.name).sort());
  });

  for (const c of CASES) {
    it(`${c.toggle}: found by ${c.name} under pct, replayed from its token`, async () => {
      const res = await explore(c.scenario, {
        strategy: "pct",
        depth: 3,
        schedules: 300,
        seed: 7,
        toggles: [c.toggle],
        scenario: c.name,
      });
      const f = res.firstFailure;
      expect(f, `no failure in ${res.schedules} schedules`).not.toBeNull();
      expect(splatText(f!)).toMatch(c.finds);
      const again = await replay(f!.token, c.scenario, { toggles: [c.toggle] });
      expect(again.traceHash).toBe(f!.traceHash);
      expect(splatText(again)).toBe(splatText(f!));
    });

    it(`${c.name} is clean with every toggle off (pct)`, async () => {
      const res = await explore(c.scenario, {
        strategy: "pct",
        depth: 3,
        schedules: 50,
        seed: 11,
        scenario: c.name,
      });
      expect(failureText(res.firstFailure)).toBe("");
      expect(res.schedules).toBe(50);
    });
  }

  for (const c of [CASES[0]!, CASES[2]!]) {
    it(`${c.name} is clean with every toggle off (bounded DFS)`, async () => {
      const res = await explore(c.scenario, {
        strategy: "dfs",
        preemptionBound: 1,
        schedules: 150,
        scenario: c.name,
      });
      expect(failureText(res.firstFailure)).toBe("");
    });
  }
});

describe("vmwgfx uapi errors", () => {
  it("bad handles and arguments get the kernel's errno and change nothing", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const fd = await openNode(p, m.vmw.render);
        // ALLOC_BO of size 0
        expect(await mobCreate(p, fd, 0)).toBe(-22);
        // surface with an unknown buffer handle: -ESRCH; too small a buffer: -EINVAL
        const tiny = ok(await mobCreate(p, fd, 4096), "mob");
        expect(await surfaceCreate(p, fd, 16, { handle: 77, mapHandle: 0, size: 0 })).toBe(-3);
        expect(await surfaceCreate(p, fd, 4096, tiny)).toBe(-22);
        // surface ref of an unknown sid: -EINVAL; of a buffer handle: -EINVAL
        expect(await surfaceRef(p, fd, 12345)).toBe(-22);
        expect(await surfaceRef(p, fd, tiny.handle)).toBe(-22);
        // unref of a surface never opened: -EINVAL
        expect(await surfaceUnref(p, fd, 54321)).toBe(-22);
        // PRIME export of unknown handles: GEM -ENOENT below the MOB range, ttm -ENOENT above
        expect(await handleToFd(p, fd, 999)).toBe(-2);
        expect(await handleToFd(p, fd, 60000)).toBe(-2);
        // SYNCCPU: bad flags -EINVAL, bad op -EINVAL, bad handle -ESRCH
        const sync = (op: number, flags: number, handle: number) =>
          p.ioctl(fd, DRM_IOCTL_VMW_SYNCCPU, { op, flags, handle, pad64: 0 });
        expect(await sync(drm_vmw_synccpu_grab, 0, tiny.handle)).toBe(-22);
        expect(await sync(7, drm_vmw_synccpu_read, tiny.handle)).toBe(-22);
        expect(await sync(drm_vmw_synccpu_grab, drm_vmw_synccpu_read, 4242)).toBe(-3);
        expect(await handleClose(p, fd, tiny.handle)).toBe(0);
        await p.close(fd);
      }),
    );
  });

  it("a render client may not open another file's surface by handle, only through PRIME", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const fd1 = await openNode(p, m.vmw.render);
        const fd2 = await openNode(p, m.vmw.render);
        const s = ok(await surfaceCreate(p, fd1, 1024, null), "surface");
        expect(await surfaceRef(p, fd2, s.handle)).toBe(-1); // -EPERM: require_existed
        const dmabuf = ok(await handleToFd(p, fd1, s.handle), "export");
        expect(await surfaceRef(p, fd2, dmabuf, 1)).not.toBeTypeOf("number"); // DRM_VMW_HANDLE_PRIME
        await p.close(dmabuf);
        await p.close(fd1);
        await p.close(fd2);
      }),
    );
  });
});
