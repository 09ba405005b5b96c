import {
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
} from "@primetime/kernel";
import { point, type Scenario, Simulation } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { decodeStat, STAT_SIZE, type Stat } from "@primetime/uapi";
import { describe, expect, it } from "vitest";
import { dmaBufLiveList } from "./bufinfo.js";
import { dmaBufFd } from "./dma-buf.js";
import { systemHeapAllocate } from "./dma-heap.js";
import { DMA_BUF_PAGE_SIZE } from "./scatterlist.js";

/** A new system-heap dma-buf of `pages` pages installed at an fd of the current process. */
async function bufFd(pages = 1): Promise<number> {
  const d = await systemHeapAllocate(pages * DMA_BUF_PAGE_SIZE, O_RDWR);
  if (isErr(d)) throw new Error("alloc");
  const fd = await dmaBufFd(d, O_CLOEXEC);
  expect(fd).toBeGreaterThanOrEqual(0);
  return fd;
}

/** fstat(2) of `fd`, decoded, or the errno. */
async function fstat(p: Process, fd: number, buf: number): Promise<Stat | number> {
  const r = await p.fstat(fd, buf);
  if (r !== 0) return r;
  const bytes = await p.readMemory(buf, STAT_SIZE);
  return typeof bytes === "number" ? bytes : decodeStat(bytes);
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

async function userBuffer(p: Process): Promise<number> {
  return p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

describe("fstat(2) of a dma-buf: dma_buf_getfile()'s inode", () => {
  it("one inode per dma-buf, numbered 1, 2, ... (dmabuf_inode), no file type, st_size the buffer's", async () => {
    const out: (Stat | number)[] = [];
    const r = await new Simulation({ seed: 1 }).run(
      processScenario(async (p) => {
        const buf = await userBuffer(p);
        const a = await bufFd(1);
        const b = await bufFd(3);
        out.push(await fstat(p, a, buf), await fstat(p, b, buf));
        // A dup, and an O_PATH open through /proc/self/fd/<n> (the dma-buf's dentry): the same.
        out.push(await fstat(p, await p.dup(a), buf));
        out.push(await fstat(p, await p.open(`/proc/self/fd/${a}`, O_PATH), buf));
      }),
    );
    expect(r.splats).toEqual([]);
    const [a, b, dup, opath] = out as Stat[];
    expect(a!.st_ino).toBe(1);
    expect(b!.st_ino).toBe(2);
    // alloc_anon_inode(): S_IRUSR | S_IWUSR, no S_IFMT bits.
    expect(a!.st_mode).toBe(0o600);
    expect(a!.st_size).toBe(DMA_BUF_PAGE_SIZE);
    expect(b!.st_size).toBe(3 * DMA_BUF_PAGE_SIZE);
    expect(b!.st_blocks).toBe((3 * DMA_BUF_PAGE_SIZE) / 512);
    expect(a!.st_rdev).toBe(0);
    expect(a!.st_dev).toBe(b!.st_dev);
    expect(a!.st_dev).not.toBe(0);
    expect(dup).toEqual(a);
    expect(opath).toEqual(a);
  });

  it("fstat racing the close of the dma-buf's last fd: clean, the buffer's attributes or -EBADF", async () => {
    const results = new Set<string>();
    const res = await explore(
      processScenario(async (p) => {
        const buf = await userBuffer(p);
        const fd = await bufFd(2);
        const closer = p.spawnThread("closer", async () => {
          await point("closer starts");
          await p.close(fd);
        });
        const st = await fstat(p, fd, buf);
        results.add(typeof st === "number" ? String(st) : `ino ${st.st_ino} size ${st.st_size}`);
        await closer.join();
      }),
      { strategy: "pct", schedules: 100, seed: 1 },
    );
    expect(res.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
    expect([...results].sort()).toEqual(["-9", `ino 1 size ${2 * DMA_BUF_PAGE_SIZE}`]);
  });
});
