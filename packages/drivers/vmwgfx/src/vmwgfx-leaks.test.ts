/**
 * The known upstream windows of v6.12.19's (and v6.18.35's) error paths (KNOWN-WINDOWS.md), each
 * modeled as the kernel has it and reached with every toggle and fix switch off, clean with its
 * fix switch on (baselineFixes()): ALLOC_BO's leak when drm_gem_handle_create() fails
 * (`vmwgfx.alloc-bo-handle-leak`, under fail-nth), GB_SURFACE_CREATE's leaked surface on its
 * dumb and too-small -EINVAL exits (`vmwgfx.surface-define-einval-leak`), and the NULL that
 * vmw_prime_import_sg_table() returns to drm_gem_prime_import_dev() when vmw_bo_create() fails
 * (`vmwgfx.import-sg-table-null`), and the ttm_object_file reference ttm_base_object_init() keeps
 * when its idr_alloc() or its ref object's allocation fails (`vmwgfx.base-object-init-tfile-leak`).
 */

import { registerSystemHeap } from "@primetime/dma-buf";
import { DRM_IOCTL_MODE_CREATE_DUMB } from "@primetime/gem";
import {
  allocationCount,
  ENOMEM,
  injectedFailures,
  type Process,
  setFailslab,
} from "@primetime/kernel";
import { baselineFixes, listKnownWindows, type RunResult } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { TTM_WALK_PUT_RUNS_DESTROY } from "@primetime/ttm";
import { describe, expect, it } from "vitest";
import { VMWGFX_RACE_SCENARIOS } from "./scenarios.js";
import {
  fdToHandle,
  handleClose,
  mobCreate,
  ok,
  openNode,
  runVmw,
  splatText,
  surfaceCreate,
  systemHeapDmabuf,
} from "./test-machine.js";
import {
  VMWGFX_ALLOC_BO_HANDLE_LEAK,
  VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK,
  VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED,
  VMWGFX_DUMB_PUT_BEFORE_LAST_USE,
  VMWGFX_FENCE_COPY_UNDER_CMDBUF_MUTEX,
  VMWGFX_IMPORT_SG_TABLE_NULL,
  VMWGFX_KNOWN_WINDOWS,
  VMWGFX_SURFACE_DEFINE_EINVAL_LEAK,
  VMWGFX_TOGGLES,
} from "./toggles.js";
import type { VmwgfxOptions } from "./vmwgfx-drv.js";

/** The kmemleak reports of a run, by object type ("vmw_bo", "vmw_user_surface"...). */
function leaked(r: RunResult): string[] {
  return r.splats
    .filter((s) => s.kind === "kmemleak")
    .map((s) => /unreferenced object ([a-z_]+)#/.exec(s.message)?.[1] ?? s.message)
    .sort();
}

/** The splats of a run other than kmemleak's. */
function otherSplats(r: RunResult): string[] {
  return r.splats.filter((s) => s.kind !== "kmemleak").map((s) => `${s.kind}: ${s.message}`);
}

interface FailNthRun {
  nth: number;
  what: string | null;
  ret: number;
  result: RunResult;
}

/**
 * Runs `op` on a fresh machine with fail-nth armed only around it, for N = 1, 2, ... until a run
 * injects nothing; then the file is closed and the machine shut down with a leak check.
 */
async function failNthOver(
  op: (p: Process, fd: number) => Promise<number>,
  toggles: string[],
  device: VmwgfxOptions = {},
  prepare: (p: Process, fd: number) => Promise<void> = async () => {},
): Promise<FailNthRun[]> {
  const out: FailNthRun[] = [];
  for (let nth = 1; nth < 100; nth++) {
    let what: string | null = null;
    let ret = 0;
    const result = await runVmw(
      async (p, m) => {
        const fd = await openNode(p, m.vmw.card);
        await prepare(p, fd);
        setFailslab({ failNth: allocationCount() + nth });
        const before = injectedFailures().length;
        ret = await op(p, fd);
        setFailslab(null);
        what = injectedFailures()[before]?.what ?? null;
        await p.close(fd);
      },
      { toggles, device },
    );
    out.push({ nth, what, ret, result });
    if (what === null) break;
  }
  return out;
}

/** The fallible calls of drm_gem_handle_create(): the handle's idr slot, the vma node's entry. */
const IN_HANDLE_CREATE = ["drm_vma_offset_file", "idr_alloc"];
/** What a vmw_bo that nobody drops leaves (its TTM resource and tt, its reservation's list). */
const LEAKED_BO = ["dma_resv_list", "ttm_resource", "ttm_tt", "vmw_bo"];

const allocBo = async (p: Process, fd: number) => {
  const r = await mobCreate(p, fd, 8192);
  return typeof r === "number" ? r : r.handle;
};

const dumbCreate = async (p: Process, fd: number) => {
  const arg = { width: 1024, height: 2, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
  const ret = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
  return ret < 0 ? ret : arg.handle;
};

describe("known window vmwgfx.alloc-bo-handle-leak (ALLOC_BO under fail-nth)", () => {
  it("with the window open (as v6.12.19), a failed drm_gem_handle_create() leaks the buffer", async () => {
    const runs = await failNthOver(allocBo, []);
    expect(
      runs
        .filter((o) => IN_HANDLE_CREATE.includes(o.what ?? ""))
        .map((o) => o.what)
        .sort(),
    ).toEqual(IN_HANDLE_CREATE);
    for (const o of runs) {
      // vmw_gem_object_create_ioctl(): `if (ret) goto out_no_bo;` past its drm_gem_object_put().
      expect(
        { ret: o.ret, leaked: leaked(o.result), splats: otherSplats(o.result) },
        `nth ${o.nth} (${o.what})`,
      ).toEqual({
        ret: o.what === null ? 1 : -ENOMEM,
        leaked: IN_HANDLE_CREATE.includes(o.what ?? "") ? LEAKED_BO : [],
        splats: [],
      });
    }
  }, 120_000);

  it("with its fix switch on (baselineFixes()), no failure leaks anything", async () => {
    const runs = await failNthOver(allocBo, baselineFixes());
    expect(runs.filter((o) => IN_HANDLE_CREATE.includes(o.what ?? "")).length).toBe(2);
    for (const o of runs) {
      expect(
        { ret: o.ret, leaked: leaked(o.result), splats: otherSplats(o.result) },
        `nth ${o.nth} (${o.what})`,
      ).toEqual({ ret: o.what === null ? 1 : -ENOMEM, leaked: [], splats: [] });
    }
  }, 120_000);

  it("the other callers drop the buffer themselves: the raw dumb branch and GB_SURFACE_CREATE's create_buffer", async () => {
    // vmw_dumb_create() (a device without 3D): drm_gem_object_put(&vbo->tbo.base) whatever
    // vmw_gem_object_create_with_handle() returned.
    const raw = await failNthOver(dumbCreate, [], { has3d: false });
    // vmw_gb_surface_define_internal(): the buffer is res->guest_memory_bo, dropped by the
    // resource's release (vmw_resource_unreference(&res) on the error).
    const surface = await failNthOver(async (p, fd) => {
      const s = await surfaceCreate(p, fd, 2048, null);
      return typeof s === "number" ? s : s.handle;
    }, []);
    for (const runs of [raw, surface]) {
      // (The surface's own idr_alloc, ttm_prime_object_init()'s, fails too: its -ENOMEM as well.)
      expect(
        new Set(runs.map((o) => o.what).filter((w) => IN_HANDLE_CREATE.includes(w ?? ""))),
      ).toEqual(new Set(IN_HANDLE_CREATE));
      for (const o of runs) {
        // (A failure in the surface's own ttm_base_object_init() after its ttm_object_file_ref()
        // leaks that file reference: the window vmwgfx.base-object-init-tfile-leak, open here,
        // tested below. Not this window's subject.)
        expect(
          {
            leaked: leaked(o.result).filter((x) => x !== "ttm_object_file"),
            splats: otherSplats(o.result),
          },
          `nth ${o.nth} (${o.what})`,
        ).toEqual({ leaked: [], splats: [] });
        if (o.what !== null) expect(o.ret, `nth ${o.nth} (${o.what})`).toBe(-ENOMEM);
      }
    }
  }, 120_000);
});

describe("known window vmwgfx.surface-define-einval-leak (GB_SURFACE_CREATE's -EINVAL exits)", () => {
  /** GB_SURFACE_CREATE over a too small buffer, then over a dumb buffer, on the card node. */
  const refused = (toggles: string[]) => {
    const rets: number[] = [];
    return runVmw(
      async (p, m) => {
        const fd = await openNode(p, m.vmw.card);
        const tiny = ok(await mobCreate(p, fd, 4096), "mob");
        const dumb = await dumbCreate(p, fd);
        // 2048 texels of 4 bytes: 8 KiB of guest memory in a 4 KiB buffer.
        rets.push(Number(await surfaceCreate(p, fd, 2048, tiny)));
        rets.push(Number(await surfaceCreate(p, fd, 16, { handle: dumb, mapHandle: 0, size: 0 })));
        expect(await handleClose(p, fd, tiny.handle)).toBe(0);
        expect(await handleClose(p, fd, dumb)).toBe(0);
        await p.close(fd);
      },
      { toggles },
    ).then((r) => ({ rets, r }));
  };

  it("with the window open (as v6.12.19), both surfaces and the master reference leak", async () => {
    const { rets, r } = await refused([]);
    expect(rets).toEqual([-22, -22]);
    // The master's file: each surface took drm_file_get_master()'s reference.
    expect(leaked(r)).toEqual(["drm_master", "vmw_user_surface", "vmw_user_surface"]);
    expect(otherSplats(r)).toEqual([]);
  });

  it("with its fix switch on (baselineFixes()), the same requests leak nothing", async () => {
    const { rets, r } = await refused(baselineFixes());
    expect(rets).toEqual([-22, -22]);
    expect(splatText(r)).toBe("");
    expect(r.outcome).toBe("ok");
  });
});

describe("known window vmwgfx.import-sg-table-null (vmw_bo_create() failing in a PRIME import)", () => {
  /** PRIME_FD_TO_HANDLE of a system-heap dma-buf with every vmw_bo allocation failing. */
  const importFailing = (toggles: string[]) => {
    let ret = 0;
    const sim = { toggles };
    return runVmw(async (p, m) => {
      registerSystemHeap(m.kernel);
      const fd = await openNode(p, m.vmw.render);
      const { heap, dmabuf } = await systemHeapDmabuf(p);
      setFailslab({ probability: 1, caches: ["vmw_bo"] });
      ret = await fdToHandle(p, fd, dmabuf);
      setFailslab(null);
      await p.close(dmabuf);
      await p.close(heap);
      await p.close(fd);
    }, sim).then((r) => ({ ret, r }));
  };

  it("with the window open (as v6.12.19), the NULL is dereferenced: an oops", async () => {
    const { r } = await importFailing([]);
    expect(r.splats[0]?.kind).toBe("bug");
    expect(r.splats[0]?.message).toMatch(
      /^BUG: kernel NULL pointer dereference in drm_gem_prime_import_dev\(\): obj->import_attach = attach/,
    );
  });

  it("with its fix switch on (baselineFixes()), the import fails with -ENOMEM and nothing is left", async () => {
    const { ret, r } = await importFailing(baselineFixes());
    expect(ret).toBe(-ENOMEM);
    expect(splatText(r)).toBe("");
    expect(r.outcome).toBe("ok");
  });
});

describe("the known windows of the package", () => {
  it("are the seven, each with a fix switch on in baselineFixes(), none a historic toggle, each with its reproducer", () => {
    const names = [
      VMWGFX_DUMB_PUT_BEFORE_LAST_USE.name,
      VMWGFX_ALLOC_BO_HANDLE_LEAK.name,
      VMWGFX_SURFACE_DEFINE_EINVAL_LEAK.name,
      VMWGFX_IMPORT_SG_TABLE_NULL.name,
      VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK.name,
      VMWGFX_FENCE_COPY_UNDER_CMDBUF_MUTEX.name,
      VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED.name,
    ];
    expect(VMWGFX_KNOWN_WINDOWS.map((w) => w.name)).toEqual(names);
    for (const n of names) {
      expect(listKnownWindows().map((w) => w.name)).toContain(n);
      expect(baselineFixes()).toContain(n);
      expect(VMWGFX_TOGGLES.map((t) => t.name)).not.toContain(n);
      const s = VMWGFX_RACE_SCENARIOS.filter((x) => x.window === n);
      expect(s.length, n).toBe(1);
      expect(s[0]!.finds).toEqual([]);
    }
  });

  for (const [window, finds] of [
    [VMWGFX_ALLOC_BO_HANDLE_LEAK.name, /kmemleak: unreferenced object vmw_bo#/],
    [VMWGFX_SURFACE_DEFINE_EINVAL_LEAK.name, /kmemleak: unreferenced object vmw_user_surface#/],
    [
      VMWGFX_IMPORT_SG_TABLE_NULL.name,
      /bug: BUG: kernel NULL pointer dereference in drm_gem_prime_import_dev\(\)/,
    ],
    [VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK.name, /kmemleak: unreferenced object ttm_object_file#/],
    [
      VMWGFX_FENCE_COPY_UNDER_CMDBUF_MUTEX.name,
      /lockdep: WARNING: possible circular locking dependency detected[\s\S]*cmdbuf_mutex/,
    ],
    [VMWGFX_CURSOR_MOB_UNPIN_UNRESERVED.name, /warn: [\s\S]*vmw_bo#\d+\.resv/],
  ] as const) {
    it(`${window}: its reproducer finds it at the first schedule with every switch off, and is clean with baselineFixes()`, async () => {
      const s = VMWGFX_RACE_SCENARIOS.find((x) => x.window === window)!;
      const open = await explore(s.scenario, {
        strategy: "pct",
        depth: 3,
        schedules: 300,
        seed: 7,
        scenario: s.name,
      });
      expect(open.firstFailure, s.name).not.toBeNull();
      expect(open.schedules).toBe(1);
      expect(splatText(open.firstFailure!)).toMatch(finds);
      const fixed = await explore(s.scenario, {
        strategy: "pct",
        depth: 3,
        schedules: 50,
        seed: 11,
        toggles: baselineFixes(),
        scenario: s.name,
      });
      expect(fixed.firstFailure ? splatText(fixed.firstFailure) : "").toBe("");
      expect(fixed.schedules).toBe(50);
    });
  }
});

describe("known window ttm.walk-put-runs-destroy (a dumb buffer's free under EXECBUF)", () => {
  const s = VMWGFX_RACE_SCENARIOS.find((x) => x.window === TTM_WALK_PUT_RUNS_DESTROY.name)!;
  const pct = { strategy: "pct", depth: 3, seed: 7, scenario: s.name } as const;

  it("is TTM's window, not a toggle, with its fix switch in baselineFixes() and one reproducer", () => {
    expect(listKnownWindows().map((w) => w.name)).toContain(s.window);
    expect(baselineFixes()).toContain(s.window);
    expect(VMWGFX_KNOWN_WINDOWS.map((w) => w.name)).not.toContain(s.window);
    expect(s.finds).toEqual([]);
  });

  // The walk of EXECBUF's validation meets the closed dumb buffer deleted (its fill still
  // running), waits for it, cleans it up and unlocks it; the delayed delete puts before the
  // walk does, and vmw_bo_free() takes cmdbuf_mutex in EXECBUF's task. PCT seed 7 opens it at
  // the first schedule (a random walk from seed 1 at the second).
  it("with every switch off: lockdep's recursive locking of cmdbuf_mutex at PCT seed 7's first schedule, then the deadlock", async () => {
    const open = await explore(s.scenario, { ...pct, schedules: 300 });
    expect(open.schedules).toBe(1);
    expect(open.firstFailure?.outcome).toBe("deadlock");
    expect(splatText(open.firstFailure!)).toMatch(
      /WARNING: possible recursive locking detected[\s\S]*vmw_private\.cmdbuf_mutex/,
    );
  });

  it("with its fix switch on (baselineFixes()): the same seed's first 100 schedules are clean, the dumb buffer freed (the leak check)", async () => {
    const fixed = await explore(s.scenario, { ...pct, schedules: 100, toggles: baselineFixes() });
    expect(fixed.firstFailure ? splatText(fixed.firstFailure) : "").toBe("");
    expect(fixed.schedules).toBe(100);
  });
});

describe("known window vmwgfx.base-object-init-tfile-leak (GB_SURFACE_CREATE under fail-nth)", () => {
  /**
   * GB_SURFACE_CREATE of a 16-texel surface over a buffer made before fail-nth is armed (no
   * create_buffer: no GEM handle is made), so the idr_alloc that fails is the surface's handle in
   * ttm_base_object_init(). The buffer handle is closed after the file's other uses.
   */
  const surfaceOverMob = (toggles: string[]) => {
    let mob = 0;
    return failNthOver(
      async (p, fd) => {
        const s = await surfaceCreate(p, fd, 16, { handle: mob, mapHandle: 0, size: 0 });
        return typeof s === "number" ? s : s.handle;
      },
      toggles,
      {},
      async (p, fd) => {
        mob = ok(await mobCreate(p, fd, 4096), "mob").handle;
      },
    );
  };
  /** ttm_base_object_init()'s fallible calls: the handle's idr slot, the creator's ref object. */
  const IN_BASE_INIT = ["idr_alloc", "ttm_ref_object"];

  it("with the window open (as v6.12.19 and v6.18.35), both failures leak the ttm_object_file", async () => {
    const runs = await surfaceOverMob([]);
    expect(
      runs
        .filter((o) => IN_BASE_INIT.includes(o.what ?? ""))
        .map((o) => o.what)
        .sort(),
    ).toEqual(IN_BASE_INIT);
    for (const o of runs) {
      // ttm_base_object_init(): `return ret;` after idr_alloc(), `out_err1: ... idr_remove();
      // return ret;` after ttm_ref_object_add(), base->tfile's reference still held; the
      // surface is freed by its resource release, which never drops it.
      expect(
        { leaked: leaked(o.result), splats: otherSplats(o.result) },
        `nth ${o.nth} (${o.what})`,
      ).toEqual({
        leaked: IN_BASE_INIT.includes(o.what ?? "") ? ["ttm_object_file"] : [],
        splats: [],
      });
      if (o.what !== null) expect(o.ret, `nth ${o.nth} (${o.what})`).toBe(-ENOMEM);
      else expect(o.ret).toBeGreaterThan(0);
    }
  }, 120_000);

  it("with its fix switch on (baselineFixes()), no failure leaks anything", async () => {
    const runs = await surfaceOverMob(baselineFixes());
    expect(runs.filter((o) => IN_BASE_INIT.includes(o.what ?? "")).length).toBe(2);
    for (const o of runs) {
      expect(
        { leaked: leaked(o.result), splats: otherSplats(o.result) },
        `nth ${o.nth} (${o.what})`,
      ).toEqual({ leaked: [], splats: [] });
      if (o.what !== null) expect(o.ret, `nth ${o.nth} (${o.what})`).toBe(-ENOMEM);
    }
  }, 120_000);

  it("only that switch closes it: with every other fix switch on, the leak stays", async () => {
    const others = baselineFixes().filter((t) => t !== VMWGFX_BASE_OBJECT_INIT_TFILE_LEAK.name);
    const runs = await surfaceOverMob(others);
    expect(
      runs.filter((o) => leaked(o.result).includes("ttm_object_file")).map((o) => o.what),
    ).toEqual(expect.arrayContaining(IN_BASE_INIT));
  }, 120_000);
});
