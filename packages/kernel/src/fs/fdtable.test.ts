import { Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { EBADF, EMFILE, ENOMEM, isErr } from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import type { Process } from "../kernel/process.js";
import { allocationCount, setFailslab } from "../mm/failslab.js";
import {
  allocFd,
  closeFd,
  currentFiles,
  FilesStruct,
  fdInstall,
  fdtableCache,
  fget,
  getUnusedFdFlags,
  NR_OPEN_DEFAULT,
  putUnusedFd,
  receiveFd,
} from "./fdtable.js";
import { allocFile, type File, fileCount, fput, O_CLOEXEC, O_RDWR } from "./file.js";

/** Runs `body` in a process thread (so current->files exists) and returns splats and leaks. */
async function inThread(body: (p: Process) => Promise<void>, seed = 1) {
  let leaks = -1;
  const r = await new Simulation({ seed }).run(async () => {
    const k = Kernel.boot();
    k.registerChrdev("/dev/x", {});
    const p = k.spawnProcess("t", body);
    await p.wait();
    leaks = (await k.checkLeaks()).length;
  });
  return { r, leaks };
}

async function newFile(): Promise<File> {
  const f = await allocFile({}, null, "f");
  if (isErr(f)) throw new Error("alloc failed");
  return f;
}

describe("fd allocation", () => {
  it("reserves the lowest free fd; a reserved fd is invisible until installed", async () => {
    const { r, leaks } = await inThread(async () => {
      expect(await getUnusedFdFlags(0)).toBe(0);
      expect(await getUnusedFdFlags(O_CLOEXEC)).toBe(1);
      const files = currentFiles()!;
      expect(files.fdt.closeOnExec[1]).toBe(true);
      expect(await fget(0)).toBeNull();
      expect(await closeFd(0)).toBe(-EBADF); // reserved, not installed
      const f = await newFile();
      await fdInstall(0, f);
      const got = await fget(0);
      expect(got).toBe(f);
      expect(fileCount(f)).toBe(2);
      await fput(f);
      await putUnusedFd(1);
      expect(await getUnusedFdFlags(0)).toBe(1);
      await putUnusedFd(1);
      expect(await closeFd(0)).toBe(0);
      expect(files.openFdList()).toEqual([]);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("grows past the 64 embedded slots with an allocated table, freed after a grace period", async () => {
    let grownName = "";
    const { r, leaks } = await inThread(async (p) => {
      const files = p.files;
      for (let i = 0; i < NR_OPEN_DEFAULT; i++) expect(await p.open("/dev/x", O_RDWR)).toBe(i);
      expect(files.fdt).toBe(files.fdtab);
      expect(fdtableCache.live).toBe(0);
      expect(await p.open("/dev/x", O_RDWR)).toBe(64);
      expect(files.fdt).not.toBe(files.fdtab);
      expect(files.fdt.maxFds).toBe(128);
      expect(fdtableCache.live).toBe(1);
      grownName = files.fdt.name;
      // Every fd survived the copy.
      expect(files.openFdList().length).toBe(65);
      for (let i = 65; i < 128; i++) await p.open("/dev/x", O_RDWR);
      expect(await p.open("/dev/x", O_RDWR)).toBe(128);
      expect(files.fdt.maxFds).toBe(256);
    });
    expect(grownName).toMatch(/^fdtable#/);
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("a failed table allocation is ENOMEM and changes nothing", async () => {
    const { r, leaks } = await inThread(async (p) => {
      for (let i = 0; i < NR_OPEN_DEFAULT; i++) await p.open("/dev/x", O_RDWR);
      setFailslab({ failNth: allocationCount() + 1, caches: ["fdtable"] });
      expect(await p.open("/dev/x", O_RDWR)).toBe(-ENOMEM);
      setFailslab(null);
      expect(p.files.fdt).toBe(p.files.fdtab);
      expect(await p.open("/dev/x", O_RDWR)).toBe(64);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("allocFd honours its range", async () => {
    const { r } = await inThread(async (p) => {
      expect(await allocFd(p.files, 10, 12, 0)).toBe(10);
      expect(await allocFd(p.files, 10, 12, 0)).toBe(11);
      expect(await allocFd(p.files, 10, 12, 0)).toBe(-EMFILE);
      // next_fd was not moved by allocations that started above it.
      expect(await allocFd(p.files, 0, 12, 0)).toBe(0);
      for (const fd of [10, 11, 0]) await putUnusedFd(fd);
    });
    expect(r.splats).toEqual([]);
  });

  it("receiveFd installs a new reference at the lowest free fd", async () => {
    const { r, leaks } = await inThread(async () => {
      const f = await newFile();
      expect(await receiveFd(f, 0)).toBe(0);
      expect(await receiveFd(f, O_CLOEXEC)).toBe(1);
      expect(fileCount(f)).toBe(3);
      expect(currentFiles()!.fdt.closeOnExec[1]).toBe(true);
      await fput(f); // the caller's own reference
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("installing over a busy slot warns and drops the new file", async () => {
    const { r, leaks } = await inThread(async () => {
      const fd = await getUnusedFdFlags(0);
      await fdInstall(fd, await newFile());
      await fdInstall(fd, await newFile());
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn"]);
    expect(r.splats[0]!.message).toContain("fd_install: slot 0 not NULL");
    expect(leaks).toBe(0);
  });

  it("a task without a table gets EBADF and null", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      expect(currentFiles()).toBeNull();
      expect(await getUnusedFdFlags(0)).toBe(-EBADF);
      expect(await fget(0)).toBeNull();
      expect(await closeFd(0)).toBe(-EBADF);
      const f = await newFile();
      await fdInstall(0, f); // warns, drops the reference
      expect(f.doomed).toBe(true);
      await Kernel.boot().quiesce();
      expect(f.freed).toBe(true);
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn"]);
  });

  it("a FilesStruct starts with the embedded table and one user", () => {
    const files = new FilesStruct("x");
    expect(files.fdt).toBe(files.fdtab);
    expect(files.fdt.maxFds).toBe(NR_OPEN_DEFAULT);
    expect(files.count.data.read()).toBe(1);
    expect(files.peek(0)).toBeNull();
    expect(files.peek(-1)).toBeNull();
  });
});
