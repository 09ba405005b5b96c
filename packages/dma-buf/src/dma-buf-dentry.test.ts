import {
  flushDelayedFput,
  isErr,
  Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  O_CLOEXEC,
  O_PATH,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
  pathGet,
  pathPut,
} from "@primetime/kernel";
import { findToggle, type Scenario, Simulation } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { dmaBufLiveList } from "./bufinfo.js";
import {
  DMA_BUF_RELEASE_AFTER_FILE_FREE,
  type DmaBuf,
  dmaBufFd,
  dmaBufGet,
  dmaBufPut,
  getDmaBufUnlessDoomed,
  RELEASE_IN_FOPS,
} from "./dma-buf.js";
import { DMA_BUF_SET_NAME_B } from "./dma-buf-ioctl.js";
import { systemHeapAllocate } from "./dma-heap.js";
import { DMA_BUF_PAGE_SIZE } from "./scatterlist.js";
import { splatLines } from "./test-support.js";

/** A new system-heap dma-buf installed at an fd of the current process. */
async function bufFd(): Promise<number> {
  const d = await systemHeapAllocate(DMA_BUF_PAGE_SIZE, O_RDWR);
  if (isErr(d)) throw new Error("alloc");
  const fd = await dmaBufFd(d, O_CLOEXEC);
  expect(fd).toBeGreaterThanOrEqual(0);
  return fd;
}

/** A user buffer of one page in `p`. */
async function userBuffer(p: Process): Promise<number> {
  return p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/** readlink(2) of `path` in `p`: the link's text, or the errno. */
async function readlink(p: Process, buf: number, path: string): Promise<string | number> {
  const n = await p.readlink(path, buf, 256);
  if (n < 0) return n;
  const bytes = await p.readMemory(buf, n);
  if (typeof bytes === "number") return bytes;
  return new TextDecoder().decode(bytes);
}

/** Runs `body` as process "t" of a fresh kernel, then checks for leaks. */
function processScenario(body: (p: Process) => Promise<void>): Scenario {
  return async (sim) => {
    const k = Kernel.boot();
    const p = k.spawnProcess("t", body);
    const code = await p.wait();
    if (code !== 0) sim.report("warn", `process exited with ${code}`);
    await k.checkLeaks();
    if (dmaBufLiveList().length) sim.report("warn", "dma-buf left on the list");
  };
}

describe("dmabuffs_dname() through readlink(2) of /proc/<pid>/fd/<n>", () => {
  it('names the dma-buf "/dmabuf:" without a name, "/dmabuf:<name>" after SET_NAME', async () => {
    const out: unknown[] = [];
    const r = await new Simulation({ seed: 1 }).run(
      processScenario(async (p) => {
        const buf = await userBuffer(p);
        const fd = await bufFd();
        const path = `/proc/${p.pid}/fd/${fd}`;
        out.push(await readlink(p, buf, path));
        expect(await p.ioctl(fd, DMA_BUF_SET_NAME_B, { name: "scanout" })).toBe(0);
        out.push(await readlink(p, buf, path));
        out.push(await readlink(p, buf, `/proc/self/fd/${fd}`));
        expect(await p.close(fd)).toBe(0);
        out.push(await readlink(p, buf, path));
      }),
    );
    expect(splatLines(r)).toEqual([]);
    expect(r.outcome).toBe("ok");
    expect(out).toEqual(["/dmabuf:", "/dmabuf:scanout", "/dmabuf:scanout", -2]);
  });
});

/**
 * One thread readlinks the dma-buf's /proc entry while another closes its fd (the fd's is the
 * dma-buf's only reference).
 */

const readlinkVsClose: Scenario = processScenario(async (p) => {
  const buf = await userBuffer(p);
  const fd = await bufFd();
  expect(await p.ioctl(fd, DMA_BUF_SET_NAME_B, { name: "scanout" })).toBe(0);
  const reader = p.spawnThread("reader", async () => {
    const got = await readlink(p, buf, `/proc/${p.pid}/fd/${fd}`);
    // Before the close: the name; after it: no such fd.
    if (got !== "/dmabuf:scanout" && got !== -2) throw new Error(`readlink gave ${got}`);
  });
  const closer = p.spawnThread("closer", async () => {
    expect(await p.close(fd)).toBe(0);
  });
  await reader.join();
  await closer.join();
});

describe("toggle dma-buf.release-in-fops", () => {
  it("is declared with its fix", () => {
    expect(findToggle("dma-buf.release-in-fops")).toBe(RELEASE_IN_FOPS);
    expect(RELEASE_IN_FOPS.kind).toBe("historic");
    expect(RELEASE_IN_FOPS.commit).toBe("4ab59c3c638c");
    expect(RELEASE_IN_FOPS.fixedBy).toBe("dma-buf: Move dma_buf_release() from fops to dentry_ops");
  });

  it("on: PCT finds dmabuffs_dname() on the dma_buf the last close freed (KASAN)", async () => {
    const res = await explore(readlinkVsClose, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      seed: 1,
      toggles: [RELEASE_IN_FOPS.name],
      scenario: "readlink-vs-close",
    });
    // PCT depth 3 finds it at schedule 31 of seed 1 (seeds 2-5: 32, 20, 150, 93).
    expect(res.firstFailure).not.toBeNull();
    expect(res.schedules).toBeLessThanOrEqual(100);
    const lines = splatLines(res.firstFailure!);
    expect(lines[0]).toMatch(
      /^\[step \d+\] kasan: BUG: KASAN: slab-use-after-free in spin_lock\nAccess to dma_buf#1 by task t:reader\/\d+\n/,
    );
    // Freed by the closer's __fput() (the file's ->release), not by the reader's path_put().
    expect(lines[0]).toMatch(/\nFreed by task t:closer\/\d+ at step \d+:\n/);
    // A race: some schedules of the same search are clean.
    const all = await explore(readlinkVsClose, {
      strategy: "pct",
      depth: 3,
      schedules: 100,
      seed: 1,
      stopOnFailure: false,
      toggles: [RELEASE_IN_FOPS.name],
    });
    expect(all.failures.length).toBeGreaterThan(0);
    expect(all.failures.length).toBeLessThan(all.schedules);
  });

  it("off: the same schedules, and more, are clean (the dentry keeps the dma-buf)", async () => {
    for (const [strategy, schedules, seed] of [
      ["pct", 100, 1],
      ["pct", 300, 7],
      ["random", 200, 11],
    ] as const) {
      const res = await explore(readlinkVsClose, {
        strategy,
        depth: 3,
        schedules,
        seed,
        stopOnFailure: false,
        scenario: "readlink-vs-close",
      });
      expect(res.failures.map((f) => splatLines(f).concat(f.outcome))).toEqual([]);
    }
  });
});

/**
 * The known window dma-buf.release-after-file-free at the dma-buf level: a path reference on the
 * dentry (what readlink(2)'s proc_fd_link() holds) outlives the file, so the file is freed while
 * the dma-buf, and a cache its exporter's ->release clears, live on. get_dma_buf_unless_doomed()
 * through such a cache then reads the freed file; with the fix switch on, dma_buf_file_release()
 * has cleared dmabuf->file and the get (get_file_active()) finds nothing.
 */
describe("known window dma-buf.release-after-file-free", () => {
  async function afterFileFree(toggles: string[]) {
    const seen: { file: unknown; got: boolean | null } = { file: undefined, got: null };
    const r = await new Simulation({ seed: 1, toggles }).run(async () => {
      const d = await systemHeapAllocate(DMA_BUF_PAGE_SIZE, O_RDWR);
      if (isErr(d)) throw new Error("alloc");
      const file = d.file!;
      const path = file.fPath!;
      await pathGet(path);
      await dmaBufPut(d);
      await flushDelayedFput();
      expect(file.freed).toBe(true);
      expect(d.freed).toBe(false);
      seen.file = d.file;
      seen.got = await getDmaBufUnlessDoomed(d);
      await pathPut(path);
      expect(d.freed).toBe(true);
    });
    return { r, seen };
  }

  it("is declared as a known window with a fix switch", () => {
    expect(findToggle(DMA_BUF_RELEASE_AFTER_FILE_FREE.name)?.fixSwitch).toBe(true);
    expect(DMA_BUF_RELEASE_AFTER_FILE_FREE.sinceCommit).toBe(RELEASE_IN_FOPS.commit);
  });

  it("open: get_dma_buf_unless_doomed() reads the freed file (KASAN)", async () => {
    const { r, seen } = await afterFileFree([]);
    expect(splatLines(r).join("\n")).toMatch(
      /KASAN: slab-use-after-free in get_file_unless_doomed/,
    );
    expect(seen.got).toBe(false);
  });

  it("fixed: dma_buf_file_release() cleared dmabuf->file, the get finds nothing, clean", async () => {
    const { r, seen } = await afterFileFree([DMA_BUF_RELEASE_AFTER_FILE_FREE.name]);
    expect(splatLines(r)).toEqual([]);
    expect(seen.file).toBeNull();
    expect(seen.got).toBe(false);
  });
});

/**
 * The window's holder kept at will: open("/proc/<pid>/fd/<n>", O_PATH) follows the magic link to
 * the dma-buf's dentry (do_o_path(), nd_jump_link()) and its file holds that dentry, not the
 * dma-buf's file, until the O_PATH fd is closed. No race is needed: the fd's close frees the file,
 * the dma-buf lives on (unlisted, still named), and get_dma_buf_unless_doomed() reads the freed file.
 */
describe("an O_PATH fd on the dma-buf's /proc/<pid>/fd/<n>", () => {
  async function opathHolder(toggles: string[]) {
    const out: unknown[] = [];
    const r = await new Simulation({ seed: 1, toggles }).run(
      processScenario(async (p) => {
        const buf = await userBuffer(p);
        const fd = await bufFd();
        const d = (await dmaBufGet(fd)) as DmaBuf;
        const file = d.file!;
        await dmaBufPut(d);
        const opath = await p.open(`/proc/${p.pid}/fd/${fd}`, O_PATH | O_CLOEXEC);
        // fget()'s FMODE_PATH mask: dma_buf_get() of the O_PATH fd finds no file.
        out.push(await dmaBufGet(opath));
        expect(await p.close(fd)).toBe(0);
        // dma_buf_file_release() unlisted it; ->d_release has not run.
        out.push(file.freed, dmaBufLiveList().includes(d), d.freed);
        out.push(await readlink(p, buf, `/proc/self/fd/${opath}`));
        out.push(await getDmaBufUnlessDoomed(d));
        expect(await p.close(opath)).toBe(0);
        out.push(d.freed);
      }),
    );
    return { r, out };
  }

  it("open: keeps the dma-buf after its file is freed, and the get reads the freed file (KASAN)", async () => {
    const { r, out } = await opathHolder([]);
    expect(splatLines(r).join("\n")).toMatch(
      /KASAN: slab-use-after-free in get_file_unless_doomed/,
    );
    expect(out).toEqual([-9, true, false, false, "/dmabuf:", false, true]);
  });

  it("fixed: the get finds dmabuf->file cleared; the O_PATH fd's close releases the dma-buf, clean", async () => {
    const { r, out } = await opathHolder([DMA_BUF_RELEASE_AFTER_FILE_FREE.name]);
    expect(splatLines(r)).toEqual([]);
    expect(r.outcome).toBe("ok");
    expect(out).toEqual([-9, true, false, false, "/dmabuf:", false, true]);
  });
});
