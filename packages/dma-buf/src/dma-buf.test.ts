import {
  allocationCount,
  EBADF,
  EFAULT,
  EINVAL,
  ENOMEM,
  fileCount,
  getFileUnlessDoomed,
  injectedFailures,
  isErr,
  Kernel,
  lockdepDependencies,
  MAP_SHARED,
  nrFreePages,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  ramPagesUsed,
  SEEK_CUR,
  SEEK_DATA,
  SEEK_END,
  SEEK_SET,
  SpinLock,
  setFailslab,
  totalramPages,
} from "@primetime/kernel";
import { type RunResult, Simulation, type StrategySpec, spawn } from "@primetime/sim";
import { _IO, _IOW, _IOWR } from "@primetime/uapi";
import { describe, expect, it } from "vitest";
import { dmaBufDebugList, dmaBufDebugShow, dmaBufLiveList } from "./bufinfo.js";
import {
  type DmaBuf,
  type DmaBufOps,
  dmaBufExport,
  dmaBufFd,
  dmaBufGet,
  dmaBufPut,
  getDmaBuf,
  getDmaBufUnlessDoomed,
  isDmaBufFile,
} from "./dma-buf.js";
import {
  DmaDataDirection,
  dmaBufAttach,
  dmaBufDetach,
  dmaBufMapAttachment,
  dmaBufMapAttachmentUnlocked,
  dmaBufUnmapAttachmentUnlocked,
} from "./dma-buf-attachment.js";
import { dmaFenceContextAlloc, dmaFenceCreate, dmaFencePut, dmaFenceSignal } from "./dma-fence.js";
import {
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_SYSTEM_PATH,
  type DmaHeapAllocationData,
  registerSystemHeap,
  type SystemHeapBuffer,
  systemHeapAllocate,
} from "./dma-heap.js";
import {
  DmaResvUsage,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvUnlock,
} from "./dma-resv.js";
import {
  DMA_BUF_PAGE_SIZE,
  type SgTable,
  sgAllocTableFromPages,
  sgFreeTable,
  sgRead,
  sgWrite,
} from "./scatterlist.js";
import { splatLines } from "./test-support.js";

/** A minimal exporter: a few pages, counting its callbacks. */
class TestExporter {
  readonly pages: Uint8Array[];
  released = 0;
  maps = 0;
  unmaps = 0;
  attaches = 0;
  detaches = 0;

  constructor(npages: number) {
    this.pages = Array.from({ length: npages }, () => new Uint8Array(DMA_BUF_PAGE_SIZE));
  }

  ops(cacheSgtMapping = false): DmaBufOps {
    return {
      cacheSgtMapping,
      attach: () => {
        this.attaches++;
        return 0;
      },
      detach: () => {
        this.detaches++;
      },
      mapDmaBuf: () => {
        this.maps++;
        return sgAllocTableFromPages(this.pages);
      },
      unmapDmaBuf: (_a, sgt) => {
        this.unmaps++;
        sgFreeTable(sgt);
      },
      release: () => {
        this.released++;
      },
    };
  }

  async export(cacheSgtMapping = false): Promise<DmaBuf> {
    const d = await dmaBufExport({
      expName: "test_exporter",
      ops: this.ops(cacheSgtMapping),
      size: this.pages.length * DMA_BUF_PAGE_SIZE,
      flags: O_RDWR | O_CLOEXEC,
      priv: this,
    });
    if (isErr(d)) throw new Error(`dmaBufExport: ${d}`);
    return d;
  }
}

/** Boots a kernel with the system heap, runs `body`, then checks for leaks. */
async function withKernel(
  body: (k: Kernel) => Promise<void>,
  seed = 1,
  strategy: StrategySpec = { kind: "random" },
): Promise<RunResult> {
  return new Simulation({ seed, strategy }).run(async () => {
    const k = Kernel.boot();
    expect(registerSystemHeap(k)).toBe(0);
    await body(k);
    const leaks = await k.checkLeaks();
    expect(leaks.map((o) => o.name)).toEqual([]);
    expect(dmaBufLiveList()).toEqual([]);
  });
}

describe("dma-buf lifecycle", () => {
  it("export gives count 1, dma_buf_fd consumes it, get/put and dup/close count, the last close releases", async () => {
    const exp = new TestExporter(2);
    const r = await withKernel(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const d = await exp.export();
        const file = d.file!;
        expect(isDmaBufFile(file)).toBe(true);
        expect(file.path).toBe("/dmabuf");
        expect(file.fPath?.dentry.dFsdata).toBe(d);
        expect(file.privateData).toBe(d);
        expect(fileCount(file)).toBe(1);
        const fd = await dmaBufFd(d, O_CLOEXEC);
        expect(fd).toBeGreaterThanOrEqual(0);
        expect(fileCount(file)).toBe(1); // the fd owns the export's reference
        const got = await dmaBufGet(fd);
        expect(got).toBe(d);
        expect(fileCount(file)).toBe(2);
        await getDmaBuf(d);
        expect(fileCount(file)).toBe(3);
        await dmaBufPut(d);
        await dmaBufPut(d);
        expect(fileCount(file)).toBe(1);
        const fd2 = await p.dup(fd);
        expect(fileCount(file)).toBe(2);
        expect(await p.close(fd)).toBe(0);
        expect(fileCount(file)).toBe(1);
        expect(exp.released).toBe(0);
        expect(await p.close(fd2)).toBe(0);
        // The close's __fput ran as task work on the way back to userspace.
        expect(exp.released).toBe(1);
        expect(file.freed).toBe(true);
        expect(d.freed).toBe(true);
      });
      expect(await p.wait()).toBe(0);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("the last put dooms the dma-buf; the exporter's release runs only later", async () => {
    const exp = new TestExporter(1);
    const r = await withKernel(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const d = await exp.export();
        const fd = await dmaBufFd(d, 0);
        const got = await dmaBufGet(fd);
        if (isErr(got)) throw new Error("dmaBufGet");
        expect(await p.close(fd)).toBe(0);
        expect(fileCount(d.file!)).toBe(1);
        // Kernel code in this thread drops the last reference: the file is doomed...
        await dmaBufPut(got);
        expect(d.file!.doomed).toBe(true);
        expect(exp.released).toBe(0);
        // ...and still listed, with count 0, until __fput.
        const list = await dmaBufDebugList();
        expect(list.map((b) => [b.object, b.count])).toEqual([[d.name, 0]]);
        // An inc-not-zero does not resurrect it.
        expect(await getFileUnlessDoomed(d.file!)).toBe(false);
        expect(exp.released).toBe(0);
        // The next return to userspace runs the deferred __fput.
        expect(await p.lseek(0, 0, SEEK_SET)).toBe(-EBADF);
        expect(exp.released).toBe(1);
        expect(d.freed).toBe(true);
      });
      await p.wait();
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("a kernel thread's last put defers the release to the delayed-fput work", async () => {
    const exp = new TestExporter(1);
    const r = await withKernel(async (k) => {
      const d = await exp.export(); // the main task is a kernel thread here
      await dmaBufPut(d);
      expect(d.file!.doomed).toBe(true);
      expect(exp.released).toBe(0);
      expect(await getFileUnlessDoomed(d.file!)).toBe(false);
      await k.quiesce();
      expect(exp.released).toBe(1);
      expect(d.freed).toBe(true);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("get_dma_buf() on a doomed dma-buf is the v6.13+ file_ref_inc() WARN", async () => {
    const exp = new TestExporter(1);
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      const d = await exp.export();
      await dmaBufPut(d);
      await getDmaBuf(d);
      await k.quiesce();
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn"]);
    expect(r.splats[0]!.message).toBe("file_ref_inc() on a released file reference");
    expect(exp.released).toBe(1);
  });

  it("get_dma_buf_unless_doomed() takes a reference on a live dma-buf and none on a doomed one", async () => {
    const exp = new TestExporter(1);
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      const d = await exp.export();
      expect(await getDmaBufUnlessDoomed(d)).toBe(true);
      expect(fileCount(d.file!)).toBe(2);
      await dmaBufPut(d);
      await dmaBufPut(d);
      // Doomed: count 0, release deferred; the pointer is still valid memory.
      expect(d.file!.doomed).toBe(true);
      expect(await getDmaBufUnlessDoomed(d)).toBe(false);
      expect(fileCount(d.file!)).toBe(0);
      await k.quiesce();
      expect(exp.released).toBe(1);
      expect(d.freed).toBe(true);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("dma_buf_get: -EBADF for a closed fd, -EINVAL for a file that is not a dma-buf", async () => {
    const r = await withKernel(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const heap = await p.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
        expect(heap).toBeGreaterThanOrEqual(0);
        expect(await dmaBufGet(heap)).toBe(-EINVAL);
        expect(await dmaBufGet(77)).toBe(-EBADF);
        expect(await dmaBufGet(-1)).toBe(-EBADF);
        const arg: DmaHeapAllocationData = { len: 100, fd: 0, fdFlags: O_RDWR, heapFlags: 0 };
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, arg)).toBe(0);
        const fd = arg.fd;
        const d = await dmaBufGet(fd);
        if (isErr(d)) throw new Error("dmaBufGet");
        expect(d.size).toBe(DMA_BUF_PAGE_SIZE); // page aligned
        expect(d.expName).toBe("system");
        await dmaBufPut(d);
        expect(await p.close(fd)).toBe(0);
        expect(await dmaBufGet(fd)).toBe(-EBADF);
        expect(await p.close(heap)).toBe(0);
      });
      await p.wait();
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("DMA_HEAP_IOCTL_ALLOC: a BigInt or out-of-range field is EINVAL, more than RAM is ENOMEM", async () => {
    const r = await withKernel(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const heap = await p.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
        const alloc = (fields: Record<string, unknown>) =>
          p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, {
            len: DMA_BUF_PAGE_SIZE,
            fd: 0,
            fdFlags: O_RDWR,
            heapFlags: 0,
            ...fields,
          });
        expect(await alloc({ fdFlags: 2n })).toBe(-EINVAL);
        expect(await alloc({ heapFlags: 1n })).toBe(-EINVAL);
        expect(await alloc({ len: 4096n })).toBe(-EINVAL);
        expect(await alloc({ len: 1.5 })).toBe(-EINVAL);
        expect(await alloc({ len: -1 })).toBe(-EINVAL);
        expect(await alloc({ len: 2 ** 64 })).toBe(-EINVAL);
        expect(await alloc({ len: 2 ** 64 - 2048 })).toBe(-EINVAL); // PAGE_ALIGN wraps to 0
        expect(await alloc({ fd: 1.5 })).toBe(-EINVAL);
        expect(await alloc({ fdFlags: 2 ** 32 })).toBe(-EINVAL);
        // Valid sizes larger than the machine's RAM: -ENOMEM, and nothing allocated.
        expect(await alloc({ len: 2 ** 53 })).toBe(-ENOMEM);
        expect(await alloc({ len: 2 ** 40 })).toBe(-ENOMEM);
        expect(await alloc({ len: totalramPages() * DMA_BUF_PAGE_SIZE + 1 })).toBe(-ENOMEM);
        expect(ramPagesUsed()).toBe(0);
        // The whole RAM can be had once; a buffer's pages come back with its last reference.
        const arg = {
          len: totalramPages() * DMA_BUF_PAGE_SIZE,
          fd: 0,
          fdFlags: O_RDWR,
          heapFlags: 0,
        };
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, arg)).toBe(0);
        expect(nrFreePages()).toBe(0);
        expect(await alloc({})).toBe(-ENOMEM);
        expect(await p.close(arg.fd)).toBe(0);
        expect(await alloc({})).toBe(0);
        expect(await p.close(heap)).toBe(0);
      });
      await p.wait();
      await k.quiesce();
      expect(ramPagesUsed()).toBe(0);
    });
    expect(splatLines(r)).toEqual([]);
    expect(r.outcome).toBe("ok");
  });

  it("export without priv, ops, or a mandatory op is -EINVAL with a warning, and allocates nothing", async () => {
    const exp = new TestExporter(1);
    const r = await withKernel(async () => {
      const base = {
        expName: "x",
        size: DMA_BUF_PAGE_SIZE,
        flags: O_RDWR,
      };
      const full = exp.ops();
      expect(await dmaBufExport({ ...base, ops: full, priv: null })).toBe(-EINVAL);
      expect(await dmaBufExport({ ...base, ops: null, priv: exp })).toBe(-EINVAL);
      const { release: _r, ...noRelease } = full;
      expect(
        await dmaBufExport({ ...base, ops: noRelease as unknown as DmaBufOps, priv: exp }),
      ).toBe(-EINVAL);
      const { mapDmaBuf: _m, ...noMap } = full;
      expect(await dmaBufExport({ ...base, ops: noMap as unknown as DmaBufOps, priv: exp })).toBe(
        -EINVAL,
      );
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn", "warn", "warn", "warn"]);
    expect(r.splats[0]!.message).toMatch(/dma_buf_export: WARN_ON/);
  });

  it("an allocation failure during export is -ENOMEM and leaks nothing (the half-built file is put)", async () => {
    const exp = new TestExporter(1);
    const r = await withKernel(async () => {
      for (const cache of ["filp", "dma_buf"]) {
        setFailslab({ caches: [cache], probability: 1 });
        const d = await dmaBufExport({
          expName: "x",
          ops: exp.ops(),
          size: DMA_BUF_PAGE_SIZE,
          flags: O_RDWR,
          priv: exp,
        });
        setFailslab(null);
        expect(d).toBe(-ENOMEM);
      }
      expect(exp.released).toBe(0);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("dma_buf_fd without a dma-buf is -EINVAL; from a task without an fd table it fails and the caller keeps its reference", async () => {
    const exp = new TestExporter(1);
    const r = await withKernel(async () => {
      expect(await dmaBufFd(null, 0)).toBe(-EINVAL);
      const d = await exp.export();
      expect(await dmaBufFd(d, 0)).toBe(-EBADF);
      expect(fileCount(d.file!)).toBe(1);
      await dmaBufPut(d);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("release with attachments left is a warning", async () => {
    const exp = new TestExporter(1);
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      const d = await exp.export();
      const a = await dmaBufAttach(d, { name: "gpu0" });
      expect(isErr(a)).toBe(false);
      await dmaBufPut(d);
      await k.quiesce();
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn"]);
    expect(r.splats[0]!.message).toMatch(/WARN_ON\(!list_empty\(&dmabuf->attachments\)\)/);
  });
});

describe("dma-buf attachments", () => {
  it("attach takes no reference; map gives the exporter's very pages; detach frees", async () => {
    const exp = new TestExporter(2);
    const r = await withKernel(async () => {
      const d = await exp.export();
      const a = await dmaBufAttach(d, { name: "gpu0" });
      if (isErr(a)) throw new Error("attach");
      expect(exp.attaches).toBe(1);
      expect(fileCount(d.file!)).toBe(1);
      expect(d.attachments).toEqual([a]);
      const sgt = await dmaBufMapAttachmentUnlocked(a, DmaDataDirection.BIDIRECTIONAL);
      if (isErr(sgt)) throw new Error("map");
      expect(sgt.nents).toBe(2);
      expect(sgt.pages[0]).toBe(exp.pages[0]);
      // The importer writes, the exporter sees it.
      sgWrite(sgt, DMA_BUF_PAGE_SIZE - 2, new Uint8Array([1, 2, 3, 4]));
      expect([...exp.pages[0]!.slice(-2), ...exp.pages[1]!.slice(0, 2)]).toEqual([1, 2, 3, 4]);
      // The exporter writes, the importer sees it.
      exp.pages[1]![100] = 42;
      expect(sgRead(sgt, DMA_BUF_PAGE_SIZE + 100, 1)[0]).toBe(42);
      await dmaBufUnmapAttachmentUnlocked(a, sgt, DmaDataDirection.BIDIRECTIONAL);
      expect(exp.unmaps).toBe(1);
      await dmaBufDetach(d, a);
      expect(exp.detaches).toBe(1);
      expect(a.freed).toBe(true);
      expect(d.attachments).toEqual([]);
      await dmaBufPut(d);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("no mapping is cached (v6.15+): every map and unmap is the exporter's, even with cache_sgt_mapping set", async () => {
    const exp = new TestExporter(1);
    const r = await withKernel(async () => {
      const d = await exp.export(true);
      const a = await dmaBufAttach(d, { name: "gpu0" });
      if (isErr(a)) throw new Error("attach");
      const s1 = await dmaBufMapAttachmentUnlocked(a, DmaDataDirection.TO_DEVICE);
      const s2 = await dmaBufMapAttachmentUnlocked(a, DmaDataDirection.TO_DEVICE);
      if (isErr(s1) || isErr(s2)) throw new Error("map");
      expect(exp.maps).toBe(2);
      // Another direction is no longer refused with -EBUSY.
      const s3 = await dmaBufMapAttachmentUnlocked(a, DmaDataDirection.FROM_DEVICE);
      if (isErr(s3)) throw new Error("map");
      expect(exp.maps).toBe(3);
      await dmaBufUnmapAttachmentUnlocked(a, s1, DmaDataDirection.TO_DEVICE);
      expect(exp.unmaps).toBe(1);
      await dmaBufUnmapAttachmentUnlocked(a, s2, DmaDataDirection.TO_DEVICE);
      await dmaBufUnmapAttachmentUnlocked(a, s3, DmaDataDirection.FROM_DEVICE);
      expect(exp.unmaps).toBe(3);
      await dmaBufDetach(d, a);
      expect(exp.unmaps).toBe(3); // detach has nothing left to unmap
      await dmaBufPut(d);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("map without the reservation lock is a lockdep assertion; detach of a foreign attachment warns", async () => {
    const exp = new TestExporter(1);
    const other = new TestExporter(1);
    const r = await withKernel(async () => {
      const d = await exp.export();
      const d2 = await other.export();
      const a = await dmaBufAttach(d, { name: "gpu0" });
      if (isErr(a)) throw new Error("attach");
      const sgt = await dmaBufMapAttachment(a, DmaDataDirection.BIDIRECTIONAL);
      if (!isErr(sgt)) await dmaBufUnmapAttachmentUnlocked(a, sgt, DmaDataDirection.BIDIRECTIONAL);
      await dmaBufDetach(d2, a);
      expect(a.freed).toBe(false);
      await dmaBufDetach(d, a);
      await dmaBufPut(d);
      await dmaBufPut(d2);
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn", "warn"]);
    expect(r.splats[0]!.message).toMatch(/lockdep_assert_held/);
    expect(r.splats[1]!.message).toMatch(/dma_buf_detach: WARN_ON/);
  });

  it("map waits for the buffer's KERNEL fences first", async () => {
    const exp = new TestExporter(1);
    const r = await withKernel(async () => {
      const d = await exp.export();
      const lock = new SpinLock("copy_engine_lock");
      const f = dmaFenceCreate(
        { getDriverName: () => "test", getTimelineName: () => "copy" },
        lock,
        dmaFenceContextAlloc(1),
        1,
      );
      if (isErr(f)) throw new Error("fence");
      await dmaResvLock(d.resv);
      await dmaResvReserveFences(d.resv, 1);
      await dmaResvAddFence(d.resv, f, DmaResvUsage.KERNEL);
      await dmaResvUnlock(d.resv);
      const order: string[] = [];
      const mover = spawn("copy_engine", async () => {
        order.push("move done");
        await dmaFenceSignal(f);
        await dmaFencePut(f);
      });
      const a = await dmaBufAttach(d, { name: "gpu0" });
      if (isErr(a)) throw new Error("attach");
      const sgt = await dmaBufMapAttachmentUnlocked(a, DmaDataDirection.BIDIRECTIONAL);
      order.push("mapped");
      expect(order).toEqual(["move done", "mapped"]);
      await mover.join();
      await dmaBufUnmapAttachmentUnlocked(a, sgt as SgTable, DmaDataDirection.BIDIRECTIONAL);
      await dmaBufDetach(d, a);
      await dmaBufPut(d);
    });
    expect(splatLines(r)).toEqual([]);
  });
});

describe("dma-buf file operations", () => {
  it("lseek: SEEK_END/SEEK_SET with offset 0 only", async () => {
    const r = await withKernel(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const heap = await p.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
        const arg = { len: 3 * DMA_BUF_PAGE_SIZE, fd: 0, fdFlags: O_RDWR, heapFlags: 0 };
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, arg)).toBe(0);
        const fd = arg.fd;
        expect(await p.lseek(fd, 0, SEEK_END)).toBe(3 * DMA_BUF_PAGE_SIZE);
        expect(await p.lseek(fd, 0, SEEK_SET)).toBe(0);
        expect(await p.lseek(fd, 0, SEEK_CUR)).toBe(-EINVAL);
        expect(await p.lseek(fd, 1, SEEK_END)).toBe(-EINVAL);
        expect(await p.lseek(fd, -1, SEEK_END)).toBe(-EINVAL);
        expect(await p.lseek(fd, 4096, SEEK_SET)).toBe(-EINVAL);
        expect(await p.lseek(fd, 0, SEEK_DATA)).toBe(-EINVAL);
        await p.close(fd);
        await p.close(heap);
      });
      await p.wait();
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("system_heap_attach() allocates the attachment before the table copy, and frees it if the copy fails", async () => {
    for (const [nth, what] of [
      [1, "dma_buf_attachment"],
      [2, "dma_heap_attachment"],
      [3, "sg_table"],
    ] as const) {
      const r = await withKernel(async () => {
        const d = await systemHeapAllocate(DMA_BUF_PAGE_SIZE, O_RDWR);
        if (isErr(d)) throw new Error("alloc");
        // fail-nth counted from the attach on: dma_buf_dynamic_attach()'s kzalloc(attach), then
        // system_heap_attach()'s kzalloc(a), then dup_sg_table().
        setFailslab({ failNth: allocationCount() + nth });
        const a = await dmaBufAttach(d, { name: "display" });
        setFailslab(null);
        expect(a).toBe(-ENOMEM);
        expect(injectedFailures().map((f) => f.what)).toEqual([what]);
        await dmaBufPut(d);
      });
      expect(splatLines(r)).toEqual([]);
    }
  });

  it("the system heap maps an attachment's table again without refusing (system_heap_map_dma_buf())", async () => {
    const r = await withKernel(async () => {
      const d = await systemHeapAllocate(DMA_BUF_PAGE_SIZE, O_RDWR);
      if (isErr(d)) throw new Error("alloc");
      const a = await dmaBufAttach(d, { name: "display" });
      if (isErr(a)) throw new Error("attach");
      const s1 = await dmaBufMapAttachmentUnlocked(a, DmaDataDirection.TO_DEVICE);
      const s2 = await dmaBufMapAttachmentUnlocked(a, DmaDataDirection.TO_DEVICE);
      if (isErr(s1)) throw new Error("map");
      expect(s2).toBe(s1);
      await dmaBufUnmapAttachmentUnlocked(a, s1, DmaDataDirection.TO_DEVICE);
      await dmaBufUnmapAttachmentUnlocked(a, s1, DmaDataDirection.TO_DEVICE);
      await dmaBufDetach(d, a);
      await dmaBufPut(d);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("mmap of the fd maps the exporter's pages; an importer sees what userspace wrote", async () => {
    const r = await withKernel(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const heap = await p.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
        const arg = { len: 2 * DMA_BUF_PAGE_SIZE, fd: 0, fdFlags: O_RDWR, heapFlags: 0 };
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, arg)).toBe(0);
        const fd = arg.fd;
        const size = 2 * DMA_BUF_PAGE_SIZE;
        const addr = await p.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        expect(addr).toBeGreaterThan(0);
        expect(await p.writeMemory(addr + DMA_BUF_PAGE_SIZE, new Uint8Array([9, 8, 7]))).toBe(3);
        // Past the end of the buffer.
        expect(await p.mmap(0, size, PROT_READ, MAP_SHARED, fd, DMA_BUF_PAGE_SIZE)).toBe(-EINVAL);
        const d = await dmaBufGet(fd);
        if (isErr(d)) throw new Error("get");
        const buffer = d.priv as SystemHeapBuffer;
        expect([...buffer.pages[1]!.slice(0, 3)]).toEqual([9, 8, 7]);
        const a = await dmaBufAttach(d, { name: "display" });
        if (isErr(a)) throw new Error("attach");
        const sgt = await dmaBufMapAttachmentUnlocked(a, DmaDataDirection.TO_DEVICE);
        if (isErr(sgt)) throw new Error("map");
        expect([...sgRead(sgt, DMA_BUF_PAGE_SIZE, 3)]).toEqual([9, 8, 7]);
        sgWrite(sgt, 0, new Uint8Array([5]));
        expect(await p.readMemory(addr, 1)).toEqual(new Uint8Array([5]));
        await dmaBufUnmapAttachmentUnlocked(a, sgt, DmaDataDirection.TO_DEVICE);
        await dmaBufDetach(d, a);
        await dmaBufPut(d);
        // The mapping keeps the dma-buf alive after the fd is closed.
        expect(await p.close(fd)).toBe(0);
        expect(d.freed).toBe(false);
        expect(await p.munmap(addr, size)).toBe(0);
        expect(d.freed).toBe(true);
        await p.close(heap);
      });
      await p.wait();
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("mmap of a dma-buf of 2 GiB or more reaches the exporter (the page count is not 32-bit)", async () => {
    const size = 3 * 2 ** 30;
    const mapped: number[][] = [];
    const exp = new TestExporter(0);
    const ops: DmaBufOps = {
      ...exp.ops(),
      mmap: (_d, vma) => {
        mapped.push([vma.vmPgoff, vma.nrPages]);
        return 0;
      },
    };
    const r = await withKernel(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const d = await dmaBufExport({ expName: "huge", ops, size, flags: O_RDWR, priv: exp });
        if (isErr(d)) throw new Error(`dmaBufExport: ${d}`);
        const fd = await dmaBufFd(d, O_CLOEXEC);
        const addr = await p.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        expect(addr).toBeGreaterThan(0);
        const lastPage = size - DMA_BUF_PAGE_SIZE;
        expect(await p.mmap(0, 2 * DMA_BUF_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, lastPage)).toBe(
          -EINVAL,
        );
        expect(mapped).toEqual([[0, size / DMA_BUF_PAGE_SIZE]]);
        expect(await p.munmap(addr, size)).toBe(0);
        expect(await p.close(fd)).toBe(0);
      });
      await p.wait();
    });
    expect(splatLines(r)).toEqual([]);
    expect(exp.released).toBe(1);
  });

  it("the heap's ioctl validates its input", async () => {
    const r = await withKernel(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const heap = await p.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
        const ok = { len: 1, fd: 0, fdFlags: O_RDWR, heapFlags: 0 };
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, { ...ok, fd: 3 })).toBe(-EINVAL);
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, { ...ok, len: 0 })).toBe(-EINVAL);
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, { ...ok, fdFlags: 0o4000 })).toBe(-EINVAL);
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, { ...ok, heapFlags: 1 })).toBe(-EINVAL);
        // dma_heap_ioctl(): a command number past dma_heap_ioctl_cmds[] is -EINVAL, not -ENOTTY.
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC + 1, ok)).toBe(-EINVAL);
        expect(await p.ioctl(heap, _IOWR("H", 7, 24), ok)).toBe(-EINVAL);
        // An argument that cannot be copied in is -EFAULT.
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, null)).toBe(-EFAULT);
        // Number 0 is ALLOC whatever the rest: without the write direction nothing is copied
        // in (a zeroed struct: len 0, -EINVAL); without the read direction the fd is not
        // copied back.
        expect(await p.ioctl(heap, _IO("H", 0), ok)).toBe(-EINVAL);
        const wOnly = { ...ok, len: DMA_BUF_PAGE_SIZE };
        expect(await p.ioctl(heap, _IOW("H", 0, 24), wOnly)).toBe(0);
        expect(wOnly.fd).toBe(0);
        await p.close(heap);
      });
      await p.wait();
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("bufinfo lists live dma-bufs with size, exporter, count, fences and attachments", async () => {
    const a = new TestExporter(1);
    const b = new TestExporter(3);
    const r = await withKernel(async () => {
      const da = await a.export();
      const db = await b.export();
      await getDmaBuf(db);
      const att = await dmaBufAttach(db, { name: "gpu0" });
      const att2 = await dmaBufAttach(db, { name: "display" });
      if (isErr(att) || isErr(att2)) throw new Error("attach");
      const f = dmaFenceCreate(
        { getDriverName: () => "drv", getTimelineName: () => "gfx" },
        new SpinLock("gfx_lock"),
        dmaFenceContextAlloc(1),
        9,
      );
      if (isErr(f)) throw new Error("fence");
      await dmaResvLock(db.resv);
      await dmaResvReserveFences(db.resv, 1);
      await dmaResvAddFence(db.resv, f, DmaResvUsage.WRITE);
      await dmaResvUnlock(db.resv);
      const list = await dmaBufDebugList();
      expect(list.map((x) => [x.object, x.size, x.expName, x.count, x.attachments])).toEqual([
        [db.name, 3 * DMA_BUF_PAGE_SIZE, "test_exporter", 2, ["display", "gpu0"]],
        [da.name, DMA_BUF_PAGE_SIZE, "test_exporter", 1, []],
      ]);
      expect(list[0]!.fences).toEqual(["\twrite fence:drv gfx seq 9 unsignalled"]);
      const show = await dmaBufDebugShow();
      expect(show).toContain("Total 2 devices attached");
      expect(show).toContain(`Total 2 objects, ${4 * DMA_BUF_PAGE_SIZE} bytes`);
      await dmaFenceSignal(f);
      await dmaFencePut(f);
      await dmaBufDetach(db, att);
      await dmaBufDetach(db, att2);
      await dmaBufPut(db);
      await dmaBufPut(db);
      await dmaBufPut(da);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("bufinfo reads a dma-buf's name under its name_lock, inside the reservation lock (dma_buf_debug_show())", async () => {
    const exp = new TestExporter(1);
    const r = await withKernel(async () => {
      const d = await exp.export();
      d.bufName = "scanout";
      const list = await dmaBufDebugList();
      expect(list.map((x) => x.name)).toEqual(["scanout"]);
      const deps = lockdepDependencies().map((dep) => `${dep.from} -> ${dep.to}`);
      expect(deps.filter((dep) => dep.endsWith("-> dmabuf_name_lock"))).toEqual([
        "reservation_ww_class_mutex -> dmabuf_name_lock",
      ]);
      await dmaBufPut(d);
    });
    expect(splatLines(r)).toEqual([]);
  });

  it("an fd passed to another process reaches the same dma-buf", async () => {
    const r = await withKernel(async (k) => {
      let shared: DmaBuf | null = null;
      const consumer = k.spawnProcess("consumer", async (p) => {
        const fd = await p.recvFd();
        const d = await dmaBufGet(fd);
        if (isErr(d)) throw new Error("get");
        expect(d).toBe(shared);
        const att = await dmaBufAttach(d, { name: "consumer-gpu" });
        if (isErr(att)) throw new Error("attach");
        const sgt = await dmaBufMapAttachmentUnlocked(att, DmaDataDirection.FROM_DEVICE);
        if (isErr(sgt)) throw new Error("map");
        expect(sgRead(sgt, 0, 2)).toEqual(new Uint8Array([0xca, 0xfe]));
        await dmaBufUnmapAttachmentUnlocked(att, sgt, DmaDataDirection.FROM_DEVICE);
        await dmaBufDetach(d, att);
        await dmaBufPut(d);
        await p.close(fd);
      });
      const producer = k.spawnProcess("producer", async (p) => {
        const heap = await p.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
        const arg = { len: DMA_BUF_PAGE_SIZE, fd: 0, fdFlags: O_RDWR | O_CLOEXEC, heapFlags: 0 };
        expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, arg)).toBe(0);
        const d = await dmaBufGet(arg.fd);
        if (isErr(d)) throw new Error("get");
        shared = d;
        (d.priv as SystemHeapBuffer).pages[0]!.set([0xca, 0xfe]);
        await dmaBufPut(d);
        expect(await p.sendFd(consumer, arg.fd)).toBe(0);
        await p.close(arg.fd);
        await p.close(heap);
      });
      await producer.wait();
      await consumer.wait();
    });
    expect(splatLines(r)).toEqual([]);
  });
});

describe("dma-buf races", () => {
  it("close racing dma_buf_get from another thread: no use-after-free, no leak (PCT)", async () => {
    for (let seed = 1; seed <= 25; seed++) {
      const r = await withKernel(
        async (k) => {
          const p = k.spawnProcess("app", async (p) => {
            const heap = await p.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
            const arg = { len: DMA_BUF_PAGE_SIZE, fd: 0, fdFlags: O_RDWR, heapFlags: 0 };
            expect(await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, arg)).toBe(0);
            const importer = p.spawnThread("importer", async () => {
              const d = await dmaBufGet(arg.fd);
              if (isErr(d)) {
                expect(d).toBe(-EBADF);
                return;
              }
              const att = await dmaBufAttach(d, { name: "gpu" });
              if (!isErr(att)) await dmaBufDetach(d, att);
              await dmaBufPut(d);
            });
            expect(await p.close(arg.fd)).toBe(0);
            await importer.join();
            await p.close(heap);
          });
          await p.wait();
        },
        seed,
        { kind: "pct", depth: 3 },
      );
      expect({ seed, splats: splatLines(r), outcome: r.outcome }).toEqual({
        seed,
        splats: [],
        outcome: "ok",
      });
    }
  });
});
