import { WaitQueue } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { EFAULT, EINVAL, ENOENT } from "../../include/errno.js";
import type { Process } from "../../kernel/process.js";
import { taskWorkRun } from "../../kernel/task-work.js";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../mm/vma.js";
import { clean, inProcess } from "../../test-support.js";
import { type Dentry, type DentryOperations, dput, pathGet } from "../dcache.js";
import { fdInstall, getUnusedFdFlags } from "../fdtable.js";
import { allocAnonInode, allocFilePseudo, type File, fput, O_RDWR } from "../file.js";

/** A gate a thread of the simulation sleeps on until another opens it. */
function gate(): { wait(): Promise<void>; open(): void } {
  const wq = new WaitQueue("gate");
  let opened = false;
  return {
    async wait() {
      while (!opened) await wq.wait("gate");
    },
    open() {
      opened = true;
      wq.wakeAll();
    },
  };
}

/** A user buffer of one page in `p`: its address. */
async function userBuffer(p: Process): Promise<number> {
  const addr = await p.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  expect(addr).toBeGreaterThan(0);
  return addr;
}

/** The `n` bytes at `addr` of `p`'s memory as text. */
async function userText(p: Process, addr: number, n: number): Promise<string> {
  const bytes = await p.readMemory(addr, n);
  if (typeof bytes === "number") throw new Error(`read = ${bytes}`);
  return new TextDecoder().decode(bytes);
}

/** A pseudo filesystem whose dentries name themselves "/pseudo:<fsdata>" and count releases. */
function pseudoFs(): { ops: DentryOperations; released: unknown[] } {
  const released: unknown[] = [];
  const ops: DentryOperations = {
    dDname: async (d: Dentry) => `/${d.dName}:${String(d.dFsdata)}`,
    dRelease: async (d: Dentry) => {
      released.push(d.dFsdata);
    },
  };
  return { ops, released };
}

/** A pseudo file installed at a new fd of the current process: its fd and file. */
async function installPseudo(ops: DentryOperations, data: string): Promise<[number, File]> {
  const f = await allocFilePseudo(allocAnonInode("pseudo"), "pseudo", O_RDWR, {}, ops);
  if (typeof f === "number") throw new Error(`alloc = ${f}`);
  f.fPath!.dentry.dFsdata = data;
  const fd = await getUnusedFdFlags(0);
  await fdInstall(fd, f);
  return [fd, f];
}

describe("readlink(2) of /proc/<pid>/fd/<n>", () => {
  it("names a pseudo file through its dentry's ->d_dname, truncated to bufsiz without a NUL", async () => {
    const fs = pseudoFs();
    const run = await inProcess(
      () => {},
      async (p) => {
        const [fd] = await installPseudo(fs.ops, "a");
        const buf = await userBuffer(p);
        expect(await p.readlink(`/proc/${p.pid}/fd/${fd}`, buf, 100)).toBe(9);
        expect(await userText(p, buf, 9)).toBe("/pseudo:a");
        expect(await p.readlink(`/proc/self/fd/${fd}`, buf + 100, 4)).toBe(4);
        expect(await userText(p, buf + 100, 4)).toBe("/pse");
        expect(fs.released).toEqual([]);
        expect(await p.close(fd)).toBe(0);
      },
    );
    clean(run);
    expect(fs.released).toEqual(["a"]);
  });

  it("names a device file by its path", async () => {
    const run = await inProcess(
      (k) => k.registerChrdev("/dev/x", {}),
      async (p) => {
        const fd = await p.open("/dev/x", O_RDWR);
        const buf = await userBuffer(p);
        expect(await p.readlink(`/proc/${p.pid}/fd/${fd}`, buf, 64)).toBe(6);
        expect(await userText(p, buf, 6)).toBe("/dev/x");
      },
    );
    clean(run);
  });

  it("returns the kernel's errnos and changes nothing", async () => {
    const fs = pseudoFs();
    const run = await inProcess(
      (k) => k.registerChrdev("/dev/x", {}),
      async (p, k) => {
        const [fd, f] = await installPseudo(fs.ops, "b");
        const buf = await userBuffer(p);
        const path = `/proc/${p.pid}/fd/${fd}`;
        // do_readlinkat(): bufsiz <= 0 first, whatever the path.
        expect(await p.readlink(path, buf, 0)).toBe(-EINVAL);
        expect(await p.readlink("/nowhere", buf, -1)).toBe(-EINVAL);
        expect(await p.readlink(path, buf, 1.5)).toBe(-EINVAL);
        // getname() of a path userspace cannot pass.
        expect(await p.readlink(42 as unknown as string, buf, 8)).toBe(-EFAULT);
        // Not a symlink; no such file.
        expect(await p.readlink("/dev/x", buf, 8)).toBe(-EINVAL);
        expect(await p.readlink("/proc/1/fd", buf, 8)).toBe(-ENOENT);
        // A closed fd, an fd past the table, a pid that never existed.
        expect(await p.readlink(`/proc/${p.pid}/fd/${fd + 1}`, buf, 8)).toBe(-ENOENT);
        expect(await p.readlink(`/proc/${p.pid}/fd/100000`, buf, 8)).toBe(-ENOENT);
        expect(await p.readlink("/proc/999/fd/0", buf, 8)).toBe(-ENOENT);
        // A process that has exited and been reaped.
        const gone = k.spawnProcess("gone", async () => {});
        await gone.wait();
        expect(await p.readlink(`/proc/${gone.pid}/fd/0`, buf, 8)).toBe(-ENOENT);
        // copy_to_user() of an unmapped or bad buffer.
        expect(await p.readlink(path, 16, 8)).toBe(-EFAULT);
        expect(await p.readlink(path, -1, 8)).toBe(-EFAULT);
        expect(await p.readlink(path, "x" as unknown as number, 8)).toBe(-EFAULT);
        // Nothing changed: the fd still names the file, with the same count and dentry count.
        expect(f.fCount.read()).toBe(1);
        expect(f.fPath!.dentry.dCount).toBe(1);
        expect(await p.readlink(path, buf, 8)).toBe(8);
        expect(fs.released).toEqual([]);
      },
    );
    clean(run);
    expect(fs.released).toEqual(["b"]);
  });

  it("reads another live process's fds", async () => {
    const fs = pseudoFs();
    const run = await inProcess(
      () => {},
      async (p, k) => {
        let fdOf = -1;
        const installed = gate();
        const done = gate();
        const owner = k.spawnProcess("owner", async () => {
          [fdOf] = await installPseudo(fs.ops, "c");
          installed.open();
          await done.wait();
        });
        await installed.wait();
        const buf = await userBuffer(p);
        expect(await p.readlink(`/proc/${owner.pid}/fd/${fdOf}`, buf, 64)).toBe(9);
        expect(await userText(p, buf, 9)).toBe("/pseudo:c");
        done.open();
        await owner.wait();
        expect(await p.readlink(`/proc/${owner.pid}/fd/${fdOf}`, buf, 64)).toBe(-ENOENT);
      },
    );
    clean(run);
    expect(fs.released).toEqual(["c"]);
  });
});

describe("dentries of pseudo files", () => {
  it("a path reference outlives the file: ->d_release runs at its path_put(), not at __fput()", async () => {
    const fs = pseudoFs();
    const run = await inProcess(
      () => {},
      async () => {
        const f = await allocFilePseudo(allocAnonInode("pseudo"), "pseudo", O_RDWR, {}, fs.ops);
        if (typeof f === "number") throw new Error(String(f));
        f.fPath!.dentry.dFsdata = "d";
        const path = f.fPath!;
        await pathGet(path);
        expect(path.dentry.dCount).toBe(2);
        await fput(f);
        // fput() defers __fput() to the return to userspace: run it now.
        await taskWorkRun();
        expect(f.freed).toBe(true);
        expect(path.dentry.dCount).toBe(1);
        expect(fs.released).toEqual([]);
        await dput(path.dentry);
        expect(fs.released).toEqual(["d"]);
        expect(path.dentry.killed).toBe(true);
      },
    );
    clean(run);
  });
});
