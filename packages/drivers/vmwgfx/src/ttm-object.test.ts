import { dmaBufLiveList } from "@primetime/dma-buf";
import {
  EINVAL,
  ENOENT,
  ENOSYS,
  EPERM,
  type Errno,
  fileCount,
  isErr,
  Kernel,
  KmemCache,
  kfreeRcu,
  kmalloc,
  type Process,
} from "@primetime/kernel";
import { rcuBarrier } from "@primetime/rcu";
import { formatSplat, type RunResult, Simulation } from "@primetime/sim";
import { explore, replay } from "@primetime/sim/explore";
import { describe, expect, it } from "vitest";
import { VMWGFX_FD_TO_HANDLE_LEAK, VMWGFX_REEXPORT_PLAIN_GET } from "./toggles.js";
import {
  type TtmObjectDevice,
  type TtmObjectFile,
  ttmBaseObjectLookup,
  ttmBaseObjectLookupForRef,
  ttmBaseObjectUnref,
  ttmObjectDeviceInit,
  ttmObjectDeviceRelease,
  ttmObjectFileInit,
  ttmObjectFileRelease,
  ttmRefObjectAdd,
  ttmRefObjectBaseUnref,
  VMW_RES_CONTEXT,
  VMW_RES_SURFACE,
  VMWGFX_NUM_MOB,
} from "./ttm-object.js";
import {
  TtmPrimeObject,
  ttmPrimeDmabufRelease,
  ttmPrimeFdToHandle,
  ttmPrimeHandleToFd,
  ttmPrimeObjectInit,
} from "./ttm-prime-object.js";

const testObjectCache = new KmemCache("test_prime_object");

/** A prime object that counts its releases and is freed after a grace period, as surfaces are. */
class TestObject extends TtmPrimeObject {
  released = 0;
  constructor() {
    super(testObjectCache);
  }
}

async function release(base: unknown): Promise<void> {
  const o = base as TestObject;
  o.released++;
  await kfreeRcu(o);
}

const noOps = {
  mapDmaBuf: () => -ENOSYS as never,
  unmapDmaBuf: () => {},
};

interface Machine {
  kernel: Kernel;
  tdev: TtmObjectDevice;
}

function ok<T>(v: T | Errno): T {
  if (isErr(v)) throw new Error(`errno ${v}`);
  return v;
}

/** Runs `body` as process "test" on a fresh kernel with an object device, then checks leaks. */
function run(
  body: (p: Process, m: Machine) => Promise<void>,
  opts: { seed?: number; toggles?: string[] } = {},
): Promise<RunResult> {
  return new Simulation({ seed: opts.seed ?? 1, toggles: opts.toggles }).run(async () => {
    const kernel = Kernel.boot();
    const tdev = ok(ttmObjectDeviceInit(noOps, ttmPrimeDmabufRelease));
    const p = kernel.spawnProcess("test", (proc) => body(proc, { kernel, tdev }));
    const code = await p.wait();
    expect(code).toBe(0);
    await kernel.quiesce();
    await rcuBarrier();
    await ttmObjectDeviceRelease(tdev);
    await kernel.checkLeaks();
  });
}

async function newObject(tfile: TtmObjectFile, type = VMW_RES_SURFACE): Promise<TestObject> {
  const o = ok(kmalloc(testObjectCache, () => new TestObject()));
  expect(await ttmPrimeObjectInit(tfile, 4096, o, type, release)).toBe(0);
  return o;
}

function splats(r: RunResult): string {
  return r.splats.map((s) => formatSplat(s)).join("\n");
}

describe("ttm_object: base and ref objects", () => {
  it("handles start above the MOB range; lookups, refs and unrefs count as the kernel's", async () => {
    const r = await run(async (_p, { tdev }) => {
      const f1 = ok(ttmObjectFileInit(tdev));
      const f2 = ok(ttmObjectFileInit(tdev));
      const o = await newObject(f1);
      expect(o.handle).toBe(VMWGFX_NUM_MOB + 1);
      // one reference: the creator's ref object
      expect(o.refcount.read()).toBe(1);
      const found = await ttmBaseObjectLookup(f1, o.handle);
      expect(found).toBe(o);
      expect(o.refcount.read()).toBe(2);
      await ttmBaseObjectUnref(found!);
      // f2 has not opened it: no lookup through its ref objects...
      expect(await ttmBaseObjectLookup(f2, o.handle)).toBeNull();
      // ...but the device-wide lookup for a reference finds it
      const forRef = await ttmBaseObjectLookupForRef(tdev, o.handle);
      expect(forRef).toBe(o);
      expect(await ttmRefObjectAdd(f2, forRef!, null, true)).toBe(-EPERM); // require_existed
      const existed = { value: true };
      expect(await ttmRefObjectAdd(f2, forRef!, existed, false)).toBe(0);
      expect(existed.value).toBe(false);
      expect(await ttmRefObjectAdd(f2, forRef!, existed, false)).toBe(0);
      expect(existed.value).toBe(true);
      await ttmBaseObjectUnref(forRef!);
      expect(o.refcount.read()).toBe(2); // f1's ref object, f2's ref object
      // f2 opened it twice: two unrefs, the third is -EINVAL
      expect(await ttmRefObjectBaseUnref(f2, o.handle)).toBe(0);
      expect(await ttmRefObjectBaseUnref(f2, o.handle)).toBe(0);
      expect(await ttmRefObjectBaseUnref(f2, o.handle)).toBe(-EINVAL);
      expect(await ttmRefObjectBaseUnref(f2, 12345)).toBe(-EINVAL);
      expect(o.released).toBe(0);
      expect(await ttmRefObjectBaseUnref(f1, o.handle)).toBe(0);
      expect(o.released).toBe(1);
      // the handle is gone from the idr at once; the memory is freed after a grace period
      expect(await ttmBaseObjectLookupForRef(tdev, o.handle)).toBeNull();
      await rcuBarrier();
      expect(o.freed).toBe(true);
      await ttmObjectFileRelease(f1);
      await ttmObjectFileRelease(f2);
    });
    expect(splats(r)).toBe("");
    expect(r.outcome).toBe("ok");
  });

  it("another file's non-shareable object is -EPERM; file release drops every ref object", async () => {
    const r = await run(async (_p, { tdev }) => {
      const f1 = ok(ttmObjectFileInit(tdev));
      const f2 = ok(ttmObjectFileInit(tdev));
      const priv = await newObject(f1, VMW_RES_CONTEXT);
      const shared = await newObject(f1);
      expect(priv.shareable).toBe(false);
      expect(shared.shareable).toBe(true);
      expect(await ttmRefObjectAdd(f2, priv, null, false)).toBe(-EPERM);
      expect(await ttmRefObjectAdd(f2, shared, null, false)).toBe(0);
      await ttmObjectFileRelease(f1);
      expect(priv.released).toBe(1);
      expect(shared.released).toBe(0); // f2 still has it open
      // f1's memory lives while the base objects it created do (they hold a reference)
      expect(f1.freed).toBe(false);
      await ttmObjectFileRelease(f2);
      expect(shared.released).toBe(1);
      expect(f1.freed).toBe(true);
    });
    expect(splats(r)).toBe("");
  });
});

describe("ttm_prime_object", () => {
  it("BUG_ON(prime->dma_buf) when the object is released with an export still recorded", async () => {
    const r = await run(async (_p, { tdev }) => {
      const f1 = ok(ttmObjectFileInit(tdev));
      const o = await newObject(f1);
      expect(await ttmPrimeHandleToFd(f1, o.handle, 0)).toBeGreaterThanOrEqual(0);
      // A broken exporter dropping the export's base reference behind the dma-buf's back:
      await ttmBaseObjectUnref(o);
      // the last unref finds prime->dma_buf set: an oops in this task
      await ttmRefObjectBaseUnref(f1, o.handle);
    });
    expect(splats(r)).toMatch(
      /kernel BUG at .*ttm_prime_refcount_release.*BUG_ON\(prime->dma_buf != NULL\)/,
    );
  });

  it("handle_to_fd: -ENOENT, -EPERM; a live export is reused; a closed one is exported anew", async () => {
    const r = await run(async (p, { tdev }) => {
      const f1 = ok(ttmObjectFileInit(tdev));
      const f2 = ok(ttmObjectFileInit(tdev));
      const o = await newObject(f1);
      const priv = await newObject(f1, VMW_RES_CONTEXT);
      expect(await ttmPrimeHandleToFd(f1, 4242, 0)).toBe(-ENOENT);
      expect(await ttmPrimeHandleToFd(f2, o.handle, 0)).toBe(-ENOENT); // not opened by f2
      expect(await ttmPrimeHandleToFd(f1, priv.handle, 0)).toBe(-EPERM);
      const fd1 = await ttmPrimeHandleToFd(f1, o.handle, 0);
      expect(fd1).toBeGreaterThanOrEqual(0);
      const first = o.dmaBuf!;
      expect(first.size).toBe(4096);
      const fd2 = await ttmPrimeHandleToFd(f1, o.handle, 0);
      expect(o.dmaBuf).toBe(first);
      expect(fileCount(first.file!)).toBe(2);
      // import: same handle in the exporter's file, a new ref object in another
      expect(await ttmPrimeFdToHandle(f1, fd1)).toBe(o.handle);
      expect(await ttmPrimeFdToHandle(f2, fd2)).toBe(o.handle);
      expect(await ttmRefObjectBaseUnref(f1, o.handle)).toBe(0);
      expect(await p.close(fd1)).toBe(0);
      expect(await p.close(fd2)).toBe(0);
      // the closes' __fput ran: the pointer was cleared by the release
      expect(first.freed).toBe(true);
      expect(o.dmaBuf).toBeNull();
      const fd3 = await ttmPrimeHandleToFd(f1, o.handle, 0);
      expect(o.dmaBuf).not.toBeNull();
      expect(o.dmaBuf).not.toBe(first);
      expect(await p.close(fd3)).toBe(0);
      expect(await p.close(4242)).toBeLessThan(0);
      expect(o.released).toBe(0);
      await ttmObjectFileRelease(f1);
      await ttmObjectFileRelease(f2);
      expect(o.released).toBe(1);
      expect(priv.released).toBe(1);
    });
    expect(splats(r)).toBe("");
    expect(dmaBufLiveList()).toEqual([]);
  });

  it("fd_to_handle of a dma-buf of other ops is -ENOSYS; v3.14-v7.1's version leaks the dma-buf", async () => {
    const foreign = async (p: Process, tdev: TtmObjectDevice) => {
      const f1 = ok(ttmObjectFileInit(tdev));
      const other = ok(ttmObjectDeviceInit(noOps, ttmPrimeDmabufRelease));
      const of = ok(ttmObjectFileInit(other));
      const o = await newObject(of);
      const fd = await ttmPrimeHandleToFd(of, o.handle, 0);
      expect(await ttmPrimeFdToHandle(f1, fd)).toBe(-ENOSYS);
      expect(await ttmPrimeFdToHandle(f1, 999)).toBeLessThan(0); // -EBADF
      expect(await p.close(fd)).toBe(0);
      await ttmObjectFileRelease(of);
      await ttmObjectFileRelease(f1);
      await rcuBarrier();
      if (other.idr.isEmpty()) await ttmObjectDeviceRelease(other);
    };
    const fixed = await run((p, { tdev }) => foreign(p, tdev));
    expect(splats(fixed)).toBe("");
    const buggy = await run((p, { tdev }) => foreign(p, tdev), {
      toggles: [VMWGFX_FD_TO_HANDLE_LEAK.name],
    });
    expect(splats(buggy)).toMatch(/kmemleak.*dma_buf/s);
  });
});

/**
 * The 2013 race: thread "close" drops the last fd of the surface's export while thread
 * "reexport" asks for an fd of the same surface. Both orders are legal; the fixed code gives the
 * re-exporter either the old dma-buf (revived before the close) or a fresh one.
 */
async function reexportVsClose(): Promise<void> {
  const kernel = Kernel.boot();
  const tdev = ok(ttmObjectDeviceInit(noOps, ttmPrimeDmabufRelease));
  const proc = kernel.spawnProcess("igt", async (p) => {
    const f1 = ok(ttmObjectFileInit(tdev));
    const o = await newObject(f1);
    const fd = await ttmPrimeHandleToFd(f1, o.handle, 0);
    let fd2 = -1;
    const a = p.spawnThread("close", async (q) => {
      await q.close(fd);
    });
    const b = p.spawnThread("reexport", async () => {
      fd2 = await ttmPrimeHandleToFd(f1, o.handle, 0);
    });
    await a.join();
    await b.join();
    if (fd2 < 0) throw new Error(`re-export failed: ${fd2}`);
    // the new fd must reach a live dma-buf of 4096 bytes
    if ((await p.lseek(fd2, 0, 2)) !== 4096)
      throw new Error("the re-exported fd is not the surface's");
    await p.close(fd2);
    await ttmObjectFileRelease(f1);
  });
  await proc.wait();
  await kernel.quiesce();
  await rcuBarrier();
  if (!isErr(tdev) && tdev.idr.isEmpty()) await ttmObjectDeviceRelease(tdev);
  await kernel.checkLeaks();
}

describe("ttm prime re-export racing the last close (vmwgfx.reexport-plain-get)", () => {
  it("with get_dma_buf_unless_doomed: clean under PCT and a bounded DFS", async () => {
    const pct = await explore(reexportVsClose, { strategy: "pct", schedules: 100, seed: 3 });
    expect(pct.firstFailure ? splats(pct.firstFailure) : "").toBe("");
    expect(pct.schedules).toBe(100);
    const dfs = await explore(reexportVsClose, {
      strategy: "dfs",
      preemptionBound: 1,
      schedules: 200,
    });
    expect(dfs.firstFailure ? splats(dfs.firstFailure) : "").toBe("");
  });

  it("with a plain get_dma_buf: found under PCT as 'addition on 0', and replayed from its token", async () => {
    const toggles = [VMWGFX_REEXPORT_PLAIN_GET.name];
    const res = await explore(reexportVsClose, {
      strategy: "pct",
      schedules: 300,
      seed: 3,
      toggles,
      scenario: "reexport-vs-close",
    });
    const f = res.firstFailure;
    expect(f, `not found in ${res.schedules} schedules`).not.toBeNull();
    expect(splats(f!)).toMatch(
      /file_ref_inc\(\) on a released file reference|addition on 0|use-after-free/,
    );
    const again = await replay(f!.token, reexportVsClose, { toggles });
    expect(again.traceHash).toBe(f!.traceHash);
    expect(splats(again)).toBe(splats(f!));
  });
});
