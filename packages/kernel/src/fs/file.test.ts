import { type RunResult, Simulation, spawn } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { EINVAL, ENOMEM, isErr } from "../include/errno.js";
import { setFailslab } from "../mm/failslab.js";
import { kmemleakScan } from "../mm/kmemleak.js";
import {
  allocEmptyFile,
  allocFile,
  anonInode,
  anonInodeGetfile,
  delayedFputPending,
  type File,
  type FileOperations,
  FMODE_LSEEK,
  FMODE_OPENED,
  FMODE_READ,
  FMODE_WRITE,
  fileCount,
  fileOperations,
  fixedSizeLlseek,
  flushDelayedFput,
  fput,
  getFile,
  getFileLegacy,
  getFileUnlessDoomed,
  noopLlseek,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  openFmode,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from "./file.js";

async function run(body: () => Promise<void>): Promise<RunResult> {
  const r = await new Simulation({ seed: 7 }).run(body);
  if (r.outcome !== "ok") throw new Error(`run ended ${r.outcome}: ${r.message}`);
  return r;
}

function counting(released: File[]): FileOperations {
  return {
    owner: "test",
    release: async (_inode, f) => {
      released.push(f);
    },
  };
}

describe("File references", () => {
  it("allocFile starts at 1 and opened; get_file/fput count; the last fput defers __fput", async () => {
    const released: File[] = [];
    let file!: File;
    const r = await run(async () => {
      const f = await allocFile(counting(released), { priv: 1 }, "thing");
      if (isErr(f)) throw new Error("alloc failed");
      file = f;
      expect(fileCount(f)).toBe(1);
      expect(f.fMode & FMODE_OPENED).toBeTruthy();
      expect(f.fMode & (FMODE_READ | FMODE_WRITE)).toBe(FMODE_READ | FMODE_WRITE);
      expect(f.path).toBe("thing");
      expect(f.privateData).toEqual({ priv: 1 });
      expect(f.name).toMatch(/^filp#\d+$/);
      expect(await getFile(f)).toBe(f);
      expect(fileCount(f)).toBe(2);
      await fput(f);
      expect(fileCount(f)).toBe(1);
      expect(f.doomed).toBe(false);
      // The main task is not a process thread: the last fput goes to the delayed-fput list.
      await fput(f);
      expect(fileCount(f)).toBe(0);
      expect(f.doomed).toBe(true);
      expect(f.freed).toBe(false);
      expect(released).toEqual([]);
      expect(delayedFputPending()).toBe(1);
      await flushDelayedFput();
      expect(released).toEqual([f]);
      expect(f.freed).toBe(true);
      expect(f.doomed).toBe(false);
      expect(delayedFputPending()).toBe(0);
      expect(kmemleakScan()).toEqual([]);
    });
    expect(r.splats).toEqual([]);
    expect(file.freed).toBe(true);
  });

  it("a kernel thread's final fput is released by the delayed-fput work on system_wq", async () => {
    const released: File[] = [];
    let file!: File;
    const r = await run(async () => {
      const f = await allocFile(counting(released), null, "k");
      if (isErr(f)) throw new Error("alloc failed");
      file = f;
      const t = spawn("kthread", () => fput(f), { kind: "kernel" });
      await t.join();
      expect(f.doomed || f.freed).toBe(true);
      // Nobody flushes: the workqueue worker runs delayed_fput() by itself before the run ends.
    });
    expect(file.freed).toBe(true);
    expect(released.length).toBe(1);
    expect(r.splats).toEqual([]);
    expect(
      r.trace.steps().some((s) => s.label.startsWith("queue_work(events, delayed_fput)")),
    ).toBe(true);
  });

  it("getFileUnlessDoomed takes a reference on a live file and refuses a doomed one", async () => {
    const r = await run(async () => {
      const f = await allocFile({}, null, "x");
      if (isErr(f)) throw new Error("alloc failed");
      expect(await getFileUnlessDoomed(f)).toBe(true);
      expect(fileCount(f)).toBe(2);
      await fput(f);
      await fput(f);
      expect(f.doomed).toBe(true);
      expect(await getFileUnlessDoomed(f)).toBe(false);
      expect(fileCount(f)).toBe(0);
      await flushDelayedFput();
      expect(kmemleakScan()).toEqual([]);
    });
    expect(r.splats).toEqual([]);
  });

  it("getFile on a doomed file WARNs once and stays dead (v6.13+), its put WARNs once too; using it after __fput is a KASAN UAF", async () => {
    const released: File[] = [];
    const r = await run(async () => {
      const f = await allocFile(counting(released), null, "victim");
      if (isErr(f)) throw new Error("alloc failed");
      await fput(f);
      await getFile(f); // the bug: a plain get on a doomed file
      await getFile(f); // WARN_ONCE: the second says nothing
      expect(fileCount(f)).toBe(0); // not resurrected
      await fput(f); // a put on the dead count releases nothing: WARN_ONCE "imbalanced put"
      expect(released.length).toBe(0);
      await flushDelayedFput(); // __fput runs anyway: it was queued
      expect(released.length).toBe(1);
      expect(f.freed).toBe(true);
      await fput(f); // the buggy user's put: touches freed memory
    });
    const kinds = r.splats.map((s) => s.kind);
    expect(kinds).toEqual(["warn", "warn", "kasan"]);
    expect(r.splats[0]!.message).toBe("file_ref_inc() on a released file reference");
    expect(r.splats[0]!.object).toMatch(/^filp#/);
    // __file_ref_put_badval() (fs/file.c, v6.18): the put from the dead zone.
    expect(r.splats[1]!.message).toBe("imbalanced put on file reference count");
    expect(r.splats[1]!.object).toMatch(/^filp#/);
    expect(r.splats[2]!.message).toContain("slab-use-after-free");
  });

  it("getFileLegacy (get_file() up to v6.12) resurrects a doomed file: released twice", async () => {
    const released: File[] = [];
    const r = await run(async () => {
      const f = await allocFile(counting(released), null, "victim");
      if (isErr(f)) throw new Error("alloc failed");
      await fput(f);
      await getFileLegacy(f); // atomic_long_inc(): 0 -> 1, silently
      expect(fileCount(f)).toBe(1);
      await fput(f); // 1 -> 0 again: a second __fput is queued
      await flushDelayedFput();
    });
    expect(released.length).toBe(1);
    const kasan = r.splats.filter((s) => s.kind === "kasan");
    expect(r.splats.filter((s) => s.kind !== "kasan")).toEqual([]);
    expect(kasan.length).toBeGreaterThan(0);
    expect(kasan[0]!.message).toMatch(/double-free|use-after-free/);
  });

  it("a file whose open never succeeded is freed at once by fput, without ->release", async () => {
    const released: File[] = [];
    const r = await run(async () => {
      const f = await allocEmptyFile(O_RDONLY, counting(released));
      if (isErr(f)) throw new Error("alloc failed");
      expect(f.fMode).toBe(FMODE_READ);
      await fput(f);
      expect(f.freed).toBe(true);
      expect(released).toEqual([]);
      expect(delayedFputPending()).toBe(0);
    });
    expect(r.splats).toEqual([]);
  });

  it("anonInodeGetfile names the file, keeps only the access mode and O_NONBLOCK, shares the anon mapping", async () => {
    const r = await run(async () => {
      const fops: FileOperations = { llseek: noopLlseek };
      const f = await anonInodeGetfile("dmabuf", fops, 42, O_WRONLY | O_NONBLOCK | 0o100);
      if (isErr(f)) throw new Error("alloc failed");
      expect(f.path).toBe("anon_inode:dmabuf");
      expect(f.fFlags).toBe(O_WRONLY | O_NONBLOCK);
      expect(f.fMode & (FMODE_READ | FMODE_WRITE)).toBe(FMODE_WRITE);
      expect(f.fMode & FMODE_LSEEK).toBeTruthy();
      expect(f.privateData).toBe(42);
      expect(f.fInode).toBe(anonInode());
      expect(f.fMapping).toBe(anonInode().iMapping);
      const g = await allocFile({}, null, "own");
      if (isErr(g)) throw new Error("alloc failed");
      expect(g.fMapping).not.toBe(anonInode().iMapping);
      expect(g.fMode & FMODE_LSEEK).toBe(0);
      await fput(f);
      await fput(g);
      await flushDelayedFput();
      expect(kmemleakScan()).toEqual([]);
    });
    expect(r.splats).toEqual([]);
  });

  it("allocation failure (failslab) is -ENOMEM and allocates nothing", async () => {
    const r = await run(async () => {
      setFailslab({ failNth: 1 });
      const f = await allocFile({}, null, "x");
      expect(f).toBe(-ENOMEM);
      setFailslab(null);
      expect(kmemleakScan()).toEqual([]);
    });
    expect(r.splats).toEqual([]);
  });

  it("openFmode maps the access mode", () => {
    expect(openFmode(O_RDONLY)).toBe(FMODE_READ);
    expect(openFmode(O_WRONLY)).toBe(FMODE_WRITE);
    expect(openFmode(O_RDWR)).toBe(FMODE_READ | FMODE_WRITE);
    expect(openFmode(3)).toBe(0);
  });

  it("fixedSizeLlseek and noopLlseek", async () => {
    await run(async () => {
      const f = await allocFile({}, null, "seek");
      if (isErr(f)) throw new Error("alloc failed");
      expect(await fixedSizeLlseek(f, 0, SEEK_END, 8192)).toBe(8192);
      expect(f.fPos).toBe(8192);
      expect(await fixedSizeLlseek(f, -4096, SEEK_CUR, 8192)).toBe(4096);
      expect(await fixedSizeLlseek(f, 10, SEEK_SET, 8192)).toBe(10);
      expect(await fixedSizeLlseek(f, 1, SEEK_END, 8192)).toBe(-EINVAL);
      expect(await fixedSizeLlseek(f, -11, SEEK_CUR, 8192)).toBe(-EINVAL);
      expect(await fixedSizeLlseek(f, 0, 3, 8192)).toBe(-EINVAL);
      expect(f.fPos).toBe(10);
      expect(await noopLlseek(f, 99, SEEK_SET)).toBe(10);
      await fput(f);
      await flushDelayedFput();
    });
  });
});

describe("fileOperations()", () => {
  it("makes every table one shape, members in one order, and refuses a member it has no slot for", async () => {
    const release = async () => 0;
    const a: FileOperations = fileOperations({ release });
    const b = fileOperations({ owner: "x", poll: async () => 0 });
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(a.release).toBe(release);
    expect(a.poll).toBeUndefined();
    const sub = { release, readIter: async () => 0 } as FileOperations;
    expect(() => fileOperations(sub)).toThrow(/no member readIter/);
  });
});
