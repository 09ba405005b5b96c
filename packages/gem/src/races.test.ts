/**
 * The DRM core's historic races, one scenario per toggle (modelled on IGT's gem_flink_race and
 * prime_self_import): with the toggle on, PCT finds the bug within a bounded number of
 * schedules; with every toggle off, the same scenario is clean across many schedules.
 */

import { Kernel, O_RDWR, type Process, SEEK_END } from "@primetime/kernel";
import { explore, type RunResult, replay, type Scenario } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { drmDevCheckLeaks, drmDevCounters } from "./drm-device.js";
import {
  bootTinyDevices,
  createBo,
  fdToHandle,
  flink,
  gemClose,
  gemOpen,
  handleToFd,
  shutdownTinyDevices,
  splatText,
} from "./test-support.js";
import {
  GEM_FLINK_NO_HANDLE_COUNT_CHECK,
  GEM_HANDLE_ID_REUSED_BEFORE_RELEASE,
  GEM_HANDLE_PUBLISHED_BEFORE_OPEN,
  GEM_OPEN_DROPS_NAME_LOCK,
  GEM_TOGGLES,
  PRIME_CACHE_REMOVE_BY_DMA_BUF,
  PRIME_CACHE_WITHOUT_LOCK,
  PRIME_EXPORT_OUTSIDE_NAME_LOCK,
} from "./toggles.js";

// ---- userspace helpers (IGT style: igt_assert() failures crash the test process) ----------

function igtAssert(cond: boolean, msg: string): void {
  if (!cond) throw new Error(`igt_assert: ${msg}`);
}

/** Runs `setup` then the two racing threads of one process, then checks for leaks. */
function raceScenario(
  setup: (p: Process, fd: number) => Promise<unknown>,
  a: (p: Process, fd: number, s: never) => Promise<void>,
  b: (p: Process, fd: number, s: never) => Promise<void>,
  after?: (p: Process, fd: number, s: never) => Promise<void>,
): Scenario {
  return async () => {
    const kernel = Kernel.boot();
    const [dev] = await bootTinyDevices(kernel);
    const baseline = drmDevCounters(dev!);
    const proc = kernel.spawnProcess("igt", async (p) => {
      const fd = await p.open("/dev/dri/card0", O_RDWR);
      const s = (await setup(p, fd)) as never;
      const ta = p.spawnThread("a", (q) => a(q, fd, s));
      const tb = p.spawnThread("b", (q) => b(q, fd, s));
      await ta.join();
      await tb.join();
      if (after) await after(p, fd, s);
      await p.close(fd);
    });
    await proc.wait();
    await kernel.quiesce();
    drmDevCheckLeaks(dev!, baseline);
    await shutdownTinyDevices([dev!]);
    await kernel.checkLeaks();
  };
}

/** IGT gem_flink_race flink_close: flink racing the last close of the handle. */
const flinkClose = raceScenario(
  async (p, fd) => createBo(p, fd),
  async (p, fd, h: number) => {
    const name = await flink(p, fd, h);
    igtAssert(name > 0 || name === -2, `flink returned ${name}`);
    if (name > 0) {
      // the name must be gone with the last handle: opening it must fail
      const h2 = await gemOpen(p, fd, name);
      if (h2 > 0) await gemClose(p, fd, h2);
    }
  },
  async (p, fd, h: number) => {
    await gemClose(p, fd, h);
  },
);

/**
 * IGT gem_flink_race flink_name: GEM_OPEN of a name racing the close of its last handle while
 * the name is recycled for a new object (the main thread's create/flink/close loop).
 */
const flinkName = raceScenario(
  async (p, fd) => {
    const h = await createBo(p, fd);
    return { h, name: await flink(p, fd, h) };
  },
  async (p, fd, s: { h: number; name: number }) => {
    const h2 = await gemOpen(p, fd, s.name);
    if (h2 > 0) {
      const again = await flink(p, fd, h2);
      igtAssert(again === s.name, `flink of the opened handle gave name ${again}, not ${s.name}`);
      await gemClose(p, fd, h2);
    } else {
      igtAssert(h2 === -2, `GEM_OPEN returned ${h2}`);
    }
  },
  async (p, fd, s: { h: number; name: number }) => {
    await gemClose(p, fd, s.h);
    await flink(p, fd, await createBo(p, fd)); // takes the freed name
  },
);

/**
 * The race of v3.5-v3.11's obj->export_dma_buf: one thread exports handle 1, closes the dma-buf
 * fd and handle 1 (the last references to the dma-buf: it is doomed until its release runs);
 * the other exports handle 2 of the same object (a GEM_OPEN of its flink name) and gets
 * obj->export_dma_buf while it is doomed.
 */
const exportVsCloseOtherHandle = raceScenario(
  async (p, fd) => {
    const h1 = await createBo(p, fd);
    const h2 = await gemOpen(p, fd, await flink(p, fd, h1));
    return { h1, h2 };
  },
  async (p, fd, s: { h1: number; h2: number }) => {
    const pfd = await handleToFd(p, fd, s.h1);
    if (pfd >= 0) await p.close(pfd);
    await gemClose(p, fd, s.h1);
  },
  async (p, fd, s: { h1: number; h2: number }) => {
    const pfd = await handleToFd(p, fd, s.h2);
    if (pfd >= 0) await p.close(pfd);
  },
);

/** Two handles of one object in a file: re-import of an export racing the close of the other. */
const reimportVsCloseOther = raceScenario(
  async (p, fd) => {
    const h1 = await createBo(p, fd);
    const h2 = await gemOpen(p, fd, await flink(p, fd, h1));
    return { h1, h2 };
  },
  async (p, fd, s: { h1: number; h2: number }) => {
    const pfd = await handleToFd(p, fd, s.h2);
    const h = await fdToHandle(p, fd, pfd);
    igtAssert(h === s.h2, `re-import of handle ${s.h2}'s dma-buf gave handle ${h}`);
    await p.close(pfd);
  },
  async (p, fd, s: { h1: number; h2: number }) => {
    await gemClose(p, fd, s.h1);
  },
);

/** Closing a guessed handle while it is being created. */
const closeGuessedHandle = raceScenario(
  async () => 0,
  async (p, fd) => {
    igtAssert((await createBo(p, fd)) === 1, "first handle is 1");
  },
  async (p, fd) => {
    await gemClose(p, fd, 1);
  },
);

/** Handle reuse: a new handle's export racing the close of the old handle with the same id. */
const handleReuse = raceScenario(
  async (p, fd) => {
    const h = await createBo(p, fd, 1);
    await p.close(await handleToFd(p, fd, h));
    return h;
  },
  async (p, fd, h: number) => {
    await gemClose(p, fd, h);
  },
  async (p, fd) => {
    const h = await createBo(p, fd, 2);
    const pfd = await handleToFd(p, fd, h);
    const size = await p.lseek(pfd, 0, SEEK_END);
    igtAssert(size === 8192, `handle ${h} exported a dma-buf of ${size} bytes, not 8192`);
    igtAssert((await fdToHandle(p, fd, pfd)) === h, "re-import gives the exported handle");
    await p.close(pfd);
  },
);

/** An export on one handle racing the close of another handle of the same file. */
const exportVsCloseOther = raceScenario(
  async (p, fd) => {
    const h1 = await createBo(p, fd);
    const h2 = await createBo(p, fd);
    await p.close(await handleToFd(p, fd, h1));
    return { h1, h2 };
  },
  async (p, fd, s: { h1: number; h2: number }) => {
    await gemClose(p, fd, s.h1);
  },
  async (p, fd, s: { h1: number; h2: number }) => {
    await p.close(await handleToFd(p, fd, s.h2));
  },
);

interface Case {
  toggle: string;
  scenario: Scenario;
  name: string;
  /** What the failing run must show (the bug's signature in dmesg). */
  finds: RegExp;
}

const CASES: Case[] = [
  {
    toggle: GEM_FLINK_NO_HANDLE_COUNT_CHECK.name,
    scenario: flinkClose,
    name: "flink_close",
    finds: /KASAN: slab-use-after-free in kref_get/,
  },
  {
    toggle: GEM_OPEN_DROPS_NAME_LOCK.name,
    scenario: flinkName,
    name: "flink_name",
    finds: /flink of the opened handle gave name/,
  },
  {
    toggle: PRIME_EXPORT_OUTSIDE_NAME_LOCK.name,
    scenario: exportVsCloseOtherHandle,
    name: "export-vs-close-other-handle",
    // The resurrected dma-buf is released twice (no WARN: the v3.x get_file() had none).
    finds:
      /^(?![\s\S]*file_ref_inc)[\s\S]*KASAN: (slab-use-after-free|double-free) in (dma_buf_release|__fput|fput|kfree)/,
  },
  {
    toggle: PRIME_CACHE_REMOVE_BY_DMA_BUF.name,
    scenario: reimportVsCloseOther,
    name: "reimport-vs-close-other",
    finds: /re-import of handle 2's dma-buf gave handle/,
  },
  {
    toggle: GEM_HANDLE_PUBLISHED_BEFORE_OPEN.name,
    scenario: closeGuessedHandle,
    name: "close-guessed-handle",
    finds: /funcs->close of tiny_object#1 without funcs->open/,
  },
  {
    toggle: GEM_HANDLE_ID_REUSED_BEFORE_RELEASE.name,
    scenario: handleReuse,
    name: "handle-reuse",
    finds: /exported a dma-buf of 4096 bytes|re-import gives the exported handle/,
  },
  {
    toggle: PRIME_CACHE_WITHOUT_LOCK.name,
    scenario: exportVsCloseOther,
    name: "export-vs-close-other",
    // A lost tree update: an orphaned member left in a tree, or a freed one still in it.
    finds:
      /warn: drm_prime_destroy_file_private: dmabufs tree not empty|KASAN: slab-use-after-free in rb_entry\(prime\.(dmabufs|handles)\)/,
  },
];

function describeFailure(r: RunResult | null): string {
  return r ? `${r.outcome}\n${splatText(r.splats)}` : "none";
}

describe("historic races: each toggle is found, the fixed code is clean", () => {
  it("covers every toggle of the package", () => {
    expect(CASES.map((c) => c.toggle).sort()).toEqual(GEM_TOGGLES.map((t) => t.name).sort());
  });

  it("a found race replays exactly from its token", async () => {
    const c = CASES[0]!;
    const res = await explore(c.scenario, { seed: 7, schedules: 300, toggles: [c.toggle] });
    const first = res.firstFailure!;
    const again = await replay(first.token, c.scenario, { toggles: [c.toggle] });
    expect(again.traceHash).toBe(first.traceHash);
    expect(splatText(again.splats)).toBe(splatText(first.splats));
  });

  for (const c of CASES) {
    it(`${c.toggle}: found by ${c.name}`, async () => {
      const res = await explore(c.scenario, {
        strategy: "pct",
        depth: 3,
        schedules: 300,
        seed: 7,
        toggles: [c.toggle],
        scenario: c.name,
      });
      expect(res.firstFailure, `no failure in ${res.schedules} schedules`).not.toBeNull();
      expect(splatText(res.firstFailure!.splats)).toMatch(c.finds);
    });

    it(`${c.name} is clean with every toggle off`, async () => {
      const res = await explore(c.scenario, {
        strategy: "pct",
        depth: 3,
        schedules: 150,
        seed: 11,
        stopOnFailure: true,
        scenario: c.name,
      });
      expect(res.firstFailure, describeFailure(res.firstFailure)).toBeNull();
      expect(res.schedules).toBe(150);
    });
  }
});
