/**
 * vmwgfx's historic lifetime races, one scenario per toggle, through the uapi: with the toggle on
 * PCT finds the bug within a bounded number of schedules and the failure replays from its token;
 * with every toggle off the same scenarios are clean over many PCT schedules and a bounded DFS,
 * and nothing leaks after quiesce.
 */

import { DMA_BUF_RELEASE_AFTER_FILE_FREE } from "@primetime/dma-buf";
import {
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  type DrmFile,
  drmGemObjectLookup,
  drmGemObjectPut,
} from "@primetime/gem";
import { ENOENT, ESRCH } from "@primetime/kernel";
import { baselineFixes, listKnownWindows, type RunResult, type Scenario } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import {
  allocFailslab,
  allocVsCloseGuessedHandle,
  cursorSurfaceThenBuffer,
  dmabufPollVsFenceReplace,
  dumbCreateExit,
  dumbCreateVsCloseGuessedHandle,
  execbufContextVsSurfaceUnref,
  execbufExportFenceFault,
  execbufFenceWaitVsUnref,
  execbufVsSurfaceUnref,
  importForeign,
  primeOpathVsClose,
  primeReadlinkVsClose,
  reexportVsClose,
  surfaceDefineVsSetmaster,
  surfaceRefVsBoClose,
  synccpu,
  VMWGFX_RACE_SCENARIOS,
} from "./scenarios.js";
import {
  bootVmw,
  contextCreate,
  contextUnref,
  execbuf,
  expectClean,
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
  surfaceRef,
  surfaceUnref,
} from "./test-machine.js";
import {
  VMWGFX_BO_ACCESS_AFTER_FAILED_INIT,
  VMWGFX_CURSOR_SURF_MAPPED_STALE,
  VMWGFX_DUMB_BUFFER_LEAK,
  VMWGFX_DUMB_PUT_BEFORE_LAST_USE,
  VMWGFX_EXECBUF_STALE_FENCE_FD,
  VMWGFX_FD_TO_HANDLE_LEAK,
  VMWGFX_FENCE_DESTROY_ALWAYS_LOCKS,
  VMWGFX_HANDLE_REF_DROPPED_TOO_SOON,
  VMWGFX_INVALID_GEM_PUT,
  VMWGFX_KNOWN_WINDOWS,
  VMWGFX_LOOKUP_UNDER_RCU,
  VMWGFX_REEXPORT_PLAIN_GET,
  VMWGFX_SURFACE_BO_TTM_REF_ONLY,
  VMWGFX_SURFACE_MASTER_UNLOCKED,
  VMWGFX_TOGGLES,
  VMWGFX_VALIDATION_DOOMED_NODE_HASHED,
} from "./toggles.js";
import type { VmwBo } from "./vmwgfx-bo.js";
import type { VmwFpriv } from "./vmwgfx-drv.js";
import { vmwDumbCreate } from "./vmwgfx-surface.js";
import {
  DRM_IOCTL_VMW_SYNCCPU,
  drm_vmw_synccpu_grab,
  drm_vmw_synccpu_read,
} from "./vmwgfx-uapi.js";

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
  {
    toggle: VMWGFX_DUMB_BUFFER_LEAK.name,
    name: "dumb-create-exit",
    scenario: dumbCreateExit,
    finds: /kmemleak.*vmw_bo.*vmw_user_surface|kmemleak.*vmw_user_surface.*vmw_bo/s,
  },
  {
    toggle: VMWGFX_EXECBUF_STALE_FENCE_FD.name,
    name: "execbuf-export-fence-fault",
    scenario: execbufExportFenceFault,
    // The stale fd's file freed under a close() (KASAN), or, when thread b closes the installed fd
    // first, the copy's error path putting a reference it no longer owns.
    finds: /KASAN: slab-use-after-free in (filp_close|fput)|imbalanced put on file reference count/,
  },
  {
    toggle: VMWGFX_LOOKUP_UNDER_RCU.name,
    name: "execbuf-fence-wait-vs-unref",
    scenario: execbufFenceWaitVsUnref,
    finds: /^\[step \d+\] bug: BUG: kernel NULL pointer dereference in ttm_base_object_lookup\(\)/,
  },
  {
    toggle: VMWGFX_FENCE_DESTROY_ALWAYS_LOCKS.name,
    name: "dmabuf-poll-vs-fence-replace",
    scenario: dmabufPollVsFenceReplace,
    // The fence interrupt's thread signals the fence under fman->lock, and the poll callback's
    // dma_fence_put() releases it there: the release takes the same lock again.
    finds:
      /^\[step \d+\] lockdep: WARNING: possible recursive locking detected\n-+\nirq\/svga\d+\/\d+ is trying to acquire lock:\n \(vmw_fence_manager\.lock\)/,
  },
  {
    toggle: VMWGFX_VALIDATION_DOOMED_NODE_HASHED.name,
    name: "execbuf-context-vs-surface-unref",
    scenario: execbufContextVsSurfaceUnref,
    finds: /KASAN: slab-use-after-free in vmw_validation_find_res_dup[\s\S]*vmw_validation_page/,
  },
  {
    toggle: VMWGFX_SURFACE_MASTER_UNLOCKED.name,
    name: "surface-define-vs-setmaster",
    scenario: surfaceDefineVsSetmaster,
    finds:
      /KASAN: slab-use-after-free in kref_get\nAccess to drm_master#\d+ by task igt-root:surface/,
  },
  {
    toggle: VMWGFX_CURSOR_SURF_MAPPED_STALE.name,
    name: "cursor-surface-then-buffer",
    scenario: cursorSurfaceThenBuffer,
    finds: /bug: BUG: kernel NULL pointer dereference in vmw_du_cursor_plane_cleanup_fb\(\)/,
  },
];

function failureText(r: RunResult | null): string {
  return r ? `${r.outcome} ${r.message ?? ""}\n${splatText(r)}` : "";
}

describe("vmwgfx historic races: each toggle is found, the fixed driver is clean", () => {
  it("covers every toggle of the package", () => {
    expect(CASES.map((c) => c.toggle).sort()).toEqual(VMWGFX_TOGGLES.map((t) => t.name).sort());
    // The exported scenarios (@primetime/vmwgfx/scenarios) are these cases, with their toggles,
    // and the known window's reproducer, which finds no toggle.
    expect(
      VMWGFX_RACE_SCENARIOS.filter((s) => s.window === undefined)
        .map((s) => [s.scenario, s.finds[0]])
        .sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
    ).toEqual(
      CASES.map((c) => [c.scenario, c.toggle]).sort((a, b) =>
        String(a[1]).localeCompare(String(b[1])),
      ),
    );
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

    it(`${c.name} is clean with every toggle off (pct, baselineFixes())`, async () => {
      const res = await explore(c.scenario, {
        strategy: "pct",
        depth: 3,
        schedules: 50,
        seed: 11,
        toggles: baselineFixes(),
        scenario: c.name,
      });
      expect(failureText(res.firstFailure)).toBe("");
      expect(res.schedules).toBe(50);
    });
  }

  for (const c of [CASES[0]!, CASES[2]!]) {
    it(`${c.name} is clean with every toggle off (bounded DFS, baselineFixes())`, async () => {
      const res = await explore(c.scenario, {
        strategy: "dfs",
        preemptionBound: 1,
        schedules: 150,
        toggles: baselineFixes(),
        scenario: c.name,
      });
      expect(failureText(res.firstFailure)).toBe("");
    });
  }
});

/**
 * vmwgfx.lookup-under-rcu beyond the table's case: EXECBUF's own reference-free surface lookup
 * racing UNREF_SURFACE (execbufVsSurfaceUnref) returns -ESRCH from inside the RCU read-side
 * section it leaks (RCU lockdep); every other ttm_base_object_lookup() caller oopses as FENCE_WAIT
 * does in the table's case, e.g. a PRIME export of a surface (ttm_prime_handle_to_fd()) racing
 * UNREF_SURFACE. With the toggle off (the lookups under the file's lock, with references) the
 * three races are clean over 300 schedules each.
 */
describe("vmwgfx.lookup-under-rcu: ttm_base_object_lookup() and EXECBUF's lookups under RCU", () => {
  const exportVsUnref: Scenario = async (sim) => {
    const m = await bootVmw(sim);
    const proc = m.kernel.spawnProcess("igt", async (p) => {
      const fd = await openNode(p, m.vmw.render);
      const s = ok(await surfaceCreate(p, fd, 1024, null), "surface");
      const ta = p.spawnThread("a", async (q) => {
        const r = await handleToFd(q, fd, s.handle);
        if (r >= 0) await q.close(r);
        else if (r !== -ENOENT) throw new Error(`export: ${r}`);
      });
      const tb = p.spawnThread("b", async (q) => {
        expect(await surfaceUnref(q, fd, s.handle)).toBe(0);
      });
      await ta.join();
      await tb.join();
      await p.close(fd);
    });
    const code = await proc.wait();
    if (code !== 0) sim.report("warn", `igt exited with ${code}`);
    await shutdownVmw(m);
  };

  it("a PRIME export racing UNREF_SURFACE loads the NULL ref->obj: an oops (pct)", async () => {
    const res = await explore(exportVsUnref, {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 7,
      toggles: [VMWGFX_LOOKUP_UNDER_RCU.name],
      scenario: "export-vs-surface-unref",
    });
    const f = res.firstFailure;
    expect(f, `no failure in ${res.schedules} schedules`).not.toBeNull();
    expect(f!.splats[0]?.kind).toBe("bug");
    expect(f!.splats[0]?.message).toMatch(
      /^BUG: kernel NULL pointer dereference in ttm_base_object_lookup\(\)/,
    );
  });

  it("EXECBUF's reference-free lookup racing UNREF_SURFACE leaks its RCU read-side section (pct)", async () => {
    const res = await explore(execbufVsSurfaceUnref, {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 7,
      toggles: [VMWGFX_LOOKUP_UNDER_RCU.name],
      scenario: "execbuf-vs-surface-unref",
    });
    const f = res.firstFailure;
    expect(f, `no failure in ${res.schedules} schedules`).not.toBeNull();
    expect(splatText(f!)).toMatch(
      /^\[step \d+\] rcu: (Illegal context switch in RCU read-side critical section|still has locks held!.*rcu_read_lock)/,
    );
  });

  it("with the toggle off the three races are clean (pct, 300 schedules each)", async () => {
    for (const [name, scenario] of [
      ["export-vs-surface-unref", exportVsUnref],
      ["execbuf-vs-surface-unref", execbufVsSurfaceUnref],
      ["execbuf-fence-wait-vs-unref", execbufFenceWaitVsUnref],
    ] as const) {
      const res = await explore(scenario, {
        strategy: "pct",
        depth: 3,
        schedules: 300,
        seed: 3,
        toggles: baselineFixes(),
        scenario: name,
      });
      expect(failureText(res.firstFailure)).toBe("");
      expect(res.schedules).toBe(300);
    }
  });
});

/**
 * The known upstream window vmwgfx.dumb-put-before-last-use (KNOWN-WINDOWS.md): modeled as the
 * kernel has it, so with every toggle and fix switch off PCT finds it; the token below is the
 * hunt's first find, replayed here and quoted in KNOWN-WINDOWS.md. With baselineFixes() (its fix
 * switch on) the same scenario is clean.
 */
const DUMB_PUT_WINDOW_TOKEN =
  "pt1.Y2Tecmj2BbY7jAdm8bTPXXmbTTmlNDdJN7koNbEkVbesWDc5J784VTe9NLW4ODVFNyMxLyUnlcGRmQBgwQZYkcAeY6fpAA";

describe("vmwgfx known upstream window: dumb-put-before-last-use", () => {
  const name = "dumb-create-vs-close-guessed-handle";
  const finds = /KASAN: slab-use-after-free in (vmw_dumb_create|kref_put)/;

  it("is a known window with a fix switch, on in baselineFixes(), not a historic toggle", () => {
    expect(VMWGFX_KNOWN_WINDOWS.map((w) => w.name)).toContain(VMWGFX_DUMB_PUT_BEFORE_LAST_USE.name);
    expect(listKnownWindows().map((w) => w.name)).toContain(VMWGFX_DUMB_PUT_BEFORE_LAST_USE.name);
    expect(baselineFixes()).toContain(VMWGFX_DUMB_PUT_BEFORE_LAST_USE.name);
    expect(VMWGFX_TOGGLES.map((t) => t.name)).not.toContain(VMWGFX_DUMB_PUT_BEFORE_LAST_USE.name);
    const s = VMWGFX_RACE_SCENARIOS.find((x) => x.window === VMWGFX_DUMB_PUT_BEFORE_LAST_USE.name);
    expect(s?.scenario).toBe(dumbCreateVsCloseGuessedHandle);
    expect(s?.finds).toEqual([]);
  });

  it("is found with every toggle off (pct), and the token is still the first find", async () => {
    const res = await explore(dumbCreateVsCloseGuessedHandle, {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 7,
      scenario: name,
    });
    const f = res.firstFailure;
    expect(f, `no failure in ${res.schedules} schedules`).not.toBeNull();
    expect(splatText(f!)).toMatch(finds);
    // PCT seed 7 reaches it at schedule 4 (seed 1: 7); 49 of 300 schedules reach it (re-pinned
    // when GB_SURFACE_CREATE's drm_file_get_master() added a spin_lock point to the card node's
    // dumb surface define).
    expect(res.schedules).toBe(4);
    expect(f!.token).toBe(DUMB_PUT_WINDOW_TOKEN);
    const again = await replay(DUMB_PUT_WINDOW_TOKEN, dumbCreateVsCloseGuessedHandle);
    expect(again.traceHash).toBe(f!.traceHash);
    expect(splatText(again)).toBe(splatText(f!));
  });

  it("is clean with its fix switch on (baselineFixes(): pct and bounded DFS)", async () => {
    const pct = await explore(dumbCreateVsCloseGuessedHandle, {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 7,
      toggles: baselineFixes(),
      scenario: name,
    });
    expect(failureText(pct.firstFailure)).toBe("");
    expect(pct.schedules).toBe(300);
    const dfs = await explore(dumbCreateVsCloseGuessedHandle, {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 150,
      toggles: baselineFixes(),
      scenario: name,
    });
    expect(failureText(dfs.firstFailure)).toBe("");
  });
});

/**
 * The known upstream window dma-buf.release-after-file-free (KNOWN-WINDOWS.md), through vmwgfx's
 * cached prime->dma_buf: a readlink(2) of the dma-buf's /proc/<pid>/fd/<n> holds the dentry
 * (proc_fd_link(): path_get(), then fput()), so the close's __fput() frees the file while the
 * dma-buf, and ttm_prime_dmabuf_release()'s clearing of prime->dma_buf, wait for the reader's
 * path_put(). A re-export in between reads the freed file in get_dma_buf_unless_doomed(). The
 * token below is the hunt's first find, quoted in KNOWN-WINDOWS.md.
 */
const PRIME_READLINK_WINDOW_TOKEN =
  "pt1.Y2S--6NjIXMv04FZPFfW3_3HL15QlJmbqluUmpiSk5mXrVtWrJuck1-cyuDLDAMsKICVaMCGBJqiWzwA";

describe("known upstream window dma-buf.release-after-file-free: vmwgfx's prime->dma_buf", () => {
  const name = "prime-readlink-vs-close";
  const window = DMA_BUF_RELEASE_AFTER_FILE_FREE.name;

  it("is a known window with a fix switch, on in baselineFixes(), reproduced by prime-readlink-vs-close", () => {
    expect(listKnownWindows().map((w) => w.name)).toContain(window);
    expect(baselineFixes()).toContain(window);
    expect(VMWGFX_TOGGLES.map((t) => t.name)).not.toContain(window);
    const s = VMWGFX_RACE_SCENARIOS.find((x) => x.window === window);
    expect(s?.scenario).toBe(primeReadlinkVsClose);
    expect(s?.finds).toEqual([]);
  });

  it("is found with every toggle and switch off (pct): KASAN on the freed file, and the token is still the first find", async () => {
    const res = await explore(primeReadlinkVsClose, {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 7,
      scenario: name,
    });
    const f = res.firstFailure;
    expect(f, `no failure in ${res.schedules} schedules`).not.toBeNull();
    // The re-export's get of the file the close freed, while the reader still holds the dentry.
    expect(splatText(f!)).toMatch(
      /KASAN: slab-use-after-free in get_file_unless_doomed\nAccess to filp#\d+ by task igt:exporter[\s\S]*Freed by task igt:closer/,
    );
    // PCT seed 7 reaches it at schedule 5 (seeds 1, 2, 3: 59, 47, 56).
    expect(res.schedules).toBe(5);
    expect(f!.token).toBe(PRIME_READLINK_WINDOW_TOKEN);
    const again = await replay(PRIME_READLINK_WINDOW_TOKEN, primeReadlinkVsClose);
    expect(again.traceHash).toBe(f!.traceHash);
    expect(splatText(again)).toBe(splatText(f!));
  });

  it("is clean with its fix switch on (baselineFixes(): pct and bounded DFS), reaching the NULL dmabuf->file", async () => {
    // Runs where the exporter read prime->dma_buf before the reader's path_put() released the
    // dma-buf and found its file pointer cleared (rcu_read_lock, then a new export at once): the
    // window, closed by the fix.
    let reached = 0;
    const count = (r: RunResult) => {
      const steps = r.trace.steps();
      const exp = steps.filter((s) => s.task === "igt:exporter").map((s) => s.label);
      const a = exp.findIndex((l) => l.startsWith("dma_buf = prime->dma_buf"));
      const readAt = steps.findIndex(
        (s) => s.task === "igt:exporter" && s.label.startsWith("dma_buf = prime->dma_buf"),
      );
      const released = steps.findIndex(
        (s) => s.task === "igt:reader" && s.label.startsWith("dma_buf_release("),
      );
      if (
        released > readAt &&
        exp[a + 1] === "rcu_read_lock" &&
        exp[a + 2]?.startsWith("file->private_data = ")
      )
        reached++;
    };
    const pct = await explore(primeReadlinkVsClose, {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 7,
      toggles: baselineFixes(),
      scenario: name,
      onRun: count,
    });
    expect(failureText(pct.firstFailure)).toBe("");
    expect(pct.schedules).toBe(300);
    const dfs = await explore(primeReadlinkVsClose, {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 300,
      toggles: baselineFixes(),
      scenario: name,
      onRun: count,
    });
    expect(failureText(dfs.firstFailure)).toBe("");
    expect(dfs.schedules).toBe(300);
    // 4 of the 300 PCT schedules (the first 300 DFS schedules, bound 2, preempt elsewhere).
    expect(reached).toBe(4);
  });
});

/**
 * The same window held open at will: an O_PATH fd opened on the dma-buf's /proc/<pid>/fd/<n>
 * (do_o_path(): the walk follows the magic link, the O_PATH file holds the dentry) keeps the
 * dma-buf, and prime->dma_buf, alive after the fd's last close until the O_PATH fd is closed. The
 * re-export runs after both threads joined: it races nothing, and every schedule whose O_PATH
 * open came before the close reads the freed file. Token: PCT seed 7's first find.
 */
const PRIME_OPATH_WINDOW_TOKEN =
  "pt1.Y2R-sunXDsYepgOzeE5tfv6NR6SgKDM3VTe_ILEkQ7esWDc5J784lUGehRkdMLEiAedoCRUA";

describe("known upstream window dma-buf.release-after-file-free: an O_PATH holder", () => {
  const name = "prime-opath-vs-close";
  const window = DMA_BUF_RELEASE_AFTER_FILE_FREE.name;

  /** Whether the main thread's re-export read prime->dma_buf and found dmabuf->file NULL. */
  const reachedCleared = (r: RunResult): boolean => {
    const exp = r.trace
      .steps()
      .filter((s) => s.task === "igt")
      .map((s) => s.label);
    return exp.some(
      (l, a) =>
        l.startsWith("dma_buf = prime->dma_buf") &&
        exp[a + 1] === "rcu_read_lock" &&
        (exp[a + 2]?.startsWith("file->private_data = ") ?? false),
    );
  };

  it("is the window's second reproducer: prime-opath-vs-close, no toggle of its own", () => {
    const s = VMWGFX_RACE_SCENARIOS.find((x) => x.name === `vmwgfx/${name}`);
    expect(s?.scenario).toBe(primeOpathVsClose);
    expect(s?.window).toBe(window);
    expect(s?.finds).toEqual([]);
  });

  it("is found with every toggle and switch off (pct): KASAN on the freed file, in 136 of 300 schedules, and replays", async () => {
    const res = await explore(primeOpathVsClose, {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 7,
      scenario: name,
    });
    const f = res.firstFailure;
    expect(f, `no failure in ${res.schedules} schedules`).not.toBeNull();
    // The main thread's re-export, after both threads joined, gets the file the closer freed.
    expect(splatText(f!)).toMatch(
      /KASAN: slab-use-after-free in get_file_unless_doomed\nAccess to filp#\d+ by task igt\/\d+[\s\S]*Freed by task igt:closer/,
    );
    // PCT seed 7 reaches it at schedule 3 (seeds 1, 2, 3: at their first).
    expect(res.schedules).toBe(3);
    expect(f!.token).toBe(PRIME_OPATH_WINDOW_TOKEN);
    const again = await replay(PRIME_OPATH_WINDOW_TOKEN, primeOpathVsClose);
    expect(again.traceHash).toBe(f!.traceHash);
    expect(splatText(again)).toBe(splatText(f!));
    // Not a race of the re-export: every schedule whose O_PATH open precedes the close finds it.
    let kasan = 0;
    await explore(primeOpathVsClose, {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 7,
      scenario: name,
      isFailure: () => false,
      onRun: (r) => {
        if (r.splats.some((x) => x.kind === "kasan")) kasan++;
      },
    });
    expect(kasan).toBe(136);
  });

  it("is clean with its fix switch on (baselineFixes(): pct and bounded DFS), reaching the NULL dmabuf->file", async () => {
    let reached = 0;
    const count = (r: RunResult) => {
      if (reachedCleared(r)) reached++;
    };
    const pct = await explore(primeOpathVsClose, {
      strategy: "pct",
      depth: 3,
      schedules: 300,
      seed: 7,
      toggles: baselineFixes(),
      scenario: name,
      onRun: count,
    });
    expect(failureText(pct.firstFailure)).toBe("");
    expect(pct.schedules).toBe(300);
    // The same 136 schedules as with the switch off: the fix's path, not a missed window.
    expect(reached).toBe(136);
    reached = 0;
    const dfs = await explore(primeOpathVsClose, {
      strategy: "dfs",
      preemptionBound: 2,
      schedules: 300,
      toggles: baselineFixes(),
      scenario: name,
      onRun: count,
    });
    expect(failureText(dfs.firstFailure)).toBe("");
    expect(dfs.schedules).toBe(300);
    // DFS's first 300 schedules all run the holder's open before the close.
    expect(reached).toBe(300);
  });
});

describe("vmwgfx uapi errors", () => {
  it("bad handles and arguments get the kernel's errno and change nothing", async () => {
    expectClean(
      await runVmw(
        async (p, m) => {
          const fd = await openNode(p, m.vmw.render);
          // ALLOC_BO of size 0: no size check in vmw_gem_object_create_ioctl() or vmw_bo_init();
          // ttm_bo_init_reserved()'s drm_vma_offset_add() of 0 pages is drm_mm's -ENOSPC.
          expect(await mobCreate(p, fd, 0)).toBe(-28);
          // surface with an unknown buffer handle: -ESRCH; too small a buffer: -EINVAL
          const tiny = ok(await mobCreate(p, fd, 4096), "mob");
          expect(await surfaceCreate(p, fd, 16, { handle: 77, mapHandle: 0, size: 0 })).toBe(-3);
          expect(await surfaceCreate(p, fd, 4096, tiny)).toBe(-22);
          // surface ref of an unknown sid: -EINVAL; of a buffer handle: -EINVAL
          expect(await surfaceRef(p, fd, 12345)).toBe(-22);
          expect(await surfaceRef(p, fd, tiny.handle)).toBe(-22);
          // unref of a surface never opened: -EINVAL
          expect(await surfaceUnref(p, fd, 54321)).toBe(-22);
          // PRIME export of unknown handles: below the MOB range vmw_prime_handle_to_fd() looks the
          // buffer up first (vmw_user_bo_lookup(): -ESRCH), ttm prime above it (-ENOENT)
          expect(await handleToFd(p, fd, 999)).toBe(-3);
          expect(await handleToFd(p, fd, 60000)).toBe(-2);
          // SYNCCPU: bad flags -EINVAL, bad op -EINVAL, bad handle -ESRCH
          const sync = (op: number, flags: number, handle: number) =>
            p.ioctl(fd, DRM_IOCTL_VMW_SYNCCPU, { op, flags, handle, pad64: 0 });
          expect(await sync(drm_vmw_synccpu_grab, 0, tiny.handle)).toBe(-22);
          expect(await sync(7, drm_vmw_synccpu_read, tiny.handle)).toBe(-22);
          expect(await sync(drm_vmw_synccpu_grab, drm_vmw_synccpu_read, 4242)).toBe(-3);
          expect(await handleClose(p, fd, tiny.handle)).toBe(0);
          await p.close(fd);
          // The too-small buffer's -EINVAL leaks the surface in v6.12.19 (the known window
          // vmwgfx.surface-define-einval-leak, vmwgfx-leaks.test.ts): closed here, as in every
          // clean baseline (baselineFixes()).
        },
        { toggles: baselineFixes() },
      ),
    );
  });

  it("a direct vmw_dumb_create() of zero height on a device without 3D (raw branch): -ENOSPC", async () => {
    expectClean(
      await runVmw(
        async (p, m) => {
          const fd = await openNode(p, m.vmw.render);
          // The core refuses it; called directly, the 0-page buffer is ttm_bo_init_reserved()'s
          // -ENOSPC (no size check in vmw_dumb_create() or vmw_bo_init()).
          const file = p.files.peek(fd)!.privateData as DrmFile;
          const dumb = { width: 64, height: 0, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 };
          expect(await vmwDumbCreate(file, m.vmw.device, dumb)).toBe(-28);
          await p.close(fd);
        },
        { device: { has3d: false } },
      ),
    );
  });

  it("MODE_CREATE_DUMB on a device without 3D (raw branch) takes cpp 1, 2 or 4 only (-EINVAL otherwise)", async () => {
    expectClean(
      await runVmw(
        async (p, m) => {
          const fd = await openNode(p, m.vmw.card); // MODE_CREATE_DUMB is not DRM_RENDER_ALLOW
          const dumb = (width: number, height: number, bpp: number) => {
            const arg = { width, height, bpp, flags: 0, handle: 0, pitch: 0, size: 0 };
            return p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg).then((ret) => ({ ret, arg }));
          };
          // cpp 3 (24 bpp, and 17 bpp rounded up), 8 (64 bpp): refused, outputs cleared, no object.
          for (const bpp of [24, 17, 64]) {
            const { ret, arg } = await dumb(100, 10, bpp);
            expect([bpp, ret, arg.handle, arg.pitch, arg.size]).toEqual([bpp, -22, 0, 0, 0]);
          }
          // A direct call returns before writing anything.
          const file = p.files.peek(fd)!.privateData as DrmFile;
          const direct = {
            width: 100,
            height: 10,
            bpp: 24,
            flags: 0,
            handle: 0,
            pitch: 0,
            size: 0,
          };
          expect(await vmwDumbCreate(file, m.vmw.device, direct)).toBe(-22);
          expect([direct.handle, direct.pitch, direct.size]).toEqual([0, 0, 0]);
          // cpp 1, 2, 4 (1 and 12 bpp round up to 1 and 2): pitch = width * cpp, size page-aligned.
          // The first handle is 1: the refused creates left nothing in the handle table.
          const got: number[][] = [];
          for (const bpp of [8, 16, 32, 1, 12]) {
            const { ret, arg } = await dumb(1000, 10, bpp);
            got.push([bpp, ret, arg.handle, arg.pitch, arg.size]);
          }
          expect(got).toEqual([
            [8, 0, 1, 1000, 12288],
            [16, 0, 2, 2000, 20480],
            [32, 0, 3, 4000, 40960],
            [1, 0, 4, 1000, 12288],
            [12, 0, 5, 2000, 20480],
          ]);
          await p.close(fd);
        },
        { device: { has3d: false } },
      ),
    );
  });

  it("MODE_CREATE_DUMB on the simulated device (MOBs and 3D): a surface-backed buffer, any bpp", async () => {
    expectClean(
      await runVmw(async (p, m) => {
        const fd = await openNode(p, m.vmw.card);
        const file = p.files.peek(fd)!.privateData as DrmFile;
        const tfile = (file.driverPriv as VmwFpriv).tfile!;
        const got: number[][] = [];
        // 8 P8, 16 R5G6B5, 32 X8R8G8B8; 24, 1 and 64 bpp: a warning and X8R8G8B8, no -EINVAL.
        for (const bpp of [8, 16, 32, 24, 1, 64]) {
          const arg = { width: 1000, height: 10, bpp, flags: 0, handle: 0, pitch: 0, size: 0 };
          const ret = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
          got.push([bpp, ret, arg.handle, arg.pitch, arg.size]);
          // The surface's handle is not left open in the file; the buffer is a dumb one whose
          // only GEM reference is the handle's, and it holds the surface.
          expect(tfile.refList.length).toBe(0);
          const bo = (await drmGemObjectLookup(file, arg.handle)) as VmwBo;
          expect([bo.isDumb, bo.dumbSurface?.res.guestMemoryBo === bo]).toEqual([true, true]);
          expect(bo.refcount.read()).toBe(2); // the handle's and the lookup's
          await drmGemObjectPut(bo);
        }
        expect(got).toEqual([
          [8, 0, 1, 1000, 12288],
          [16, 0, 2, 2000, 20480],
          [32, 0, 3, 4000, 40960],
          [24, 0, 4, 4000, 40960],
          [1, 0, 5, 4000, 40960],
          [64, 0, 6, 4000, 40960],
        ]);
        // The buffer maps and keeps its contents; closing handles frees buffers and surfaces
        // (the leak check at shutdown), the last one with the file.
        const mob = { handle: 3, mapHandle: 0, size: 40960 };
        const map = { handle: 3, pad: 0, offset: 0 };
        expect(await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, map)).toBe(0);
        mob.mapHandle = map.offset;
        await mobWrite(p, fd, mob, new Uint8Array([5, 6, 7]));
        expect([...(await mobRead(p, fd, mob, 3))]).toEqual([5, 6, 7]);
        for (const h of [1, 2, 3, 4, 5]) expect(await handleClose(p, fd, h)).toBe(0);
        await p.close(fd);
      }),
    );
  });

  it("with a toggle of a kernel before d6667f0ddf46 on, dumb buffers are raw buffers there too", async () => {
    expectClean(
      await runVmw(
        async (p, m) => {
          const fd = await openNode(p, m.vmw.card);
          const arg = { width: 100, height: 10, bpp: 24, flags: 0, handle: 0, pitch: 0, size: 0 };
          expect(await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg)).toBe(-22);
          arg.bpp = 32;
          expect(await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg)).toBe(0);
          const file = p.files.peek(fd)!.privateData as DrmFile;
          const bo = (await drmGemObjectLookup(file, arg.handle)) as VmwBo;
          expect([bo.isDumb, bo.dumbSurface]).toEqual([false, null]);
          await drmGemObjectPut(bo);
          await p.close(fd);
        },
        { toggles: [VMWGFX_HANDLE_REF_DROPPED_TOO_SOON.name] },
      ),
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

/**
 * vmwgfx.validation-doomed-node-hashed on the schedules that find it: execbufContextVsSurfaceUnref
 * with what each submission returned recorded. With the toggle on, PCT seed 7 finds the KASAN
 * report (at schedule 52 before the command-buffer manager's merge); the same schedules with the
 * fix (every toggle off) reach the doomed surface's -ESRCH too (the fix's path: hash_del_rcu()
 * before the arena is freed) and are clean.
 */
describe("vmwgfx.validation-doomed-node-hashed: the doomed surface's node in res_ht", () => {
  const rets: number[] = [];
  const recorded: Scenario = async (sim) => {
    const m = await bootVmw(sim);
    const proc = m.kernel.spawnProcess("igt", async (p) => {
      const fd = await openNode(p, m.vmw.render);
      const mob = ok(await mobCreate(p, fd, 16 * 4096), "mob");
      const s = ok(await surfaceCreate(p, fd, 1024, mob), "surface");
      const cid = await contextCreate(p, fd);
      if ((await execbuf(p, fd, `setrendertarget ${cid} 2 ${s.handle}`)) <= 0)
        throw new Error("bind");
      const ta = p.spawnThread("a", async (q) => {
        for (let i = 0; i < 2; i++) rets.push(await execbuf(q, fd, `clear ${cid}`));
      });
      const tb = p.spawnThread("b", async (q) => {
        await surfaceUnref(q, fd, s.handle);
      });
      await ta.join();
      await tb.join();
      await contextUnref(p, fd, cid);
      await handleClose(p, fd, mob.handle);
      await p.close(fd);
    });
    await proc.wait();
    await shutdownVmw(m);
  };
  const search = (toggles: string[], schedules: number) =>
    explore(recorded, {
      strategy: "pct",
      depth: 3,
      schedules,
      seed: 7,
      toggles,
      scenario: "execbuf-context-vs-surface-unref",
    });

  it("PCT seed 7 finds it (KASAN in vmw_validation_find_res_dup); its schedules with the fix reach the -ESRCH and are clean", async () => {
    const res = await search([VMWGFX_VALIDATION_DOOMED_NODE_HASHED.name], 300);
    expect(res.firstFailure, "no failure").not.toBeNull();
    expect(splatText(res.firstFailure!)).toMatch(
      /KASAN: slab-use-after-free in vmw_validation_find_res_dup[\s\S]*vmw_validation_page/,
    );
    rets.length = 0;
    const fixed = await search(baselineFixes(), res.schedules);
    expect(failureText(fixed.firstFailure)).toBe("");
    expect(fixed.schedules).toBe(res.schedules);
    expect(rets.filter((r) => r === -ESRCH).length).toBeGreaterThan(0);
    expect(rets.every((r) => r > 0 || r === -ESRCH)).toBe(true);
  });
});
