import { describe, expect, it } from "vitest";
import { EBADF, EEXIST, EFAULT, EINVAL, ELOOP, ENOENT, ENOTDIR, ENXIO } from "../include/errno.js";
import type { Process } from "../kernel/process.js";
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../mm/vma.js";
import { clean, inProcess } from "../test-support.js";
import type { Dentry, DentryOperations } from "./dcache.js";
import { fdInstall, getUnusedFdFlags } from "./fdtable.js";
import {
  allocAnonInode,
  allocFilePseudo,
  type File,
  FMODE_OPENED,
  FMODE_PATH,
  fileCount,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_RDWR,
  SEEK_SET,
} from "./file.js";

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

describe("open(2) with O_PATH of /proc/<pid>/fd/<n> (path_openat(), do_o_path(), nd_jump_link())", () => {
  it("follows the magic link: the O_PATH fd holds the pseudo file's dentry, not its file, until its own close", async () => {
    const fs = pseudoFs();
    const run = await inProcess(
      () => {},
      async (p) => {
        const [fd, f] = await installPseudo(fs.ops, "a");
        const dentry = f.fPath!.dentry;
        const opath = await p.open(`/proc/${p.pid}/fd/${fd}`, O_PATH);
        expect(opath).toBe(fd + 1);
        // The O_PATH file's own path reference (do_dentry_open()'s path_get()); the walk's is put.
        expect(dentry.dCount).toBe(2);
        expect(fileCount(f)).toBe(1);
        // The last close of the fd frees the file (__fput(): dput() not the last, file_free()).
        expect(await p.close(fd)).toBe(0);
        expect(f.freed).toBe(true);
        expect(fs.released).toEqual([]);
        expect(dentry.dCount).toBe(1);
        // readlink of the O_PATH fd names the dentry through ->d_dname, as of the original fd.
        const buf = await userBuffer(p);
        expect(await p.readlink(`/proc/self/fd/${opath}`, buf, 64)).toBe(9);
        expect(await userText(p, buf, 9)).toBe("/pseudo:a");
        // Its close is the dentry's last dput(): ->d_release.
        expect(await p.close(opath)).toBe(0);
        expect(fs.released).toEqual(["a"]);
        expect(dentry.killed).toBe(true);
      },
    );
    clean(run);
  });

  it("gives an FMODE_PATH file that fget() and fdget() refuse and close, dup and SCM_RIGHTS take", async () => {
    const fs = pseudoFs();
    const run = await inProcess(
      () => {},
      async (p) => {
        const [fd] = await installPseudo(fs.ops, "b");
        // build_open_how(): O_PATH drops every flag but O_PATH_FLAGS (O_RDWR, O_CREAT, O_EXCL).
        const opath = await p.open(`/proc/self/fd/${fd}`, O_PATH | O_RDWR | O_CREAT | O_EXCL);
        expect(opath).toBeGreaterThanOrEqual(0);
        const buf = await userBuffer(p);
        expect(await p.read(opath, buf, 4)).toBe(-EBADF);
        expect(await p.ioctl(opath, 0x1234)).toBe(-EBADF);
        expect(await p.lseek(opath, 0, SEEK_SET)).toBe(-EBADF);
        expect(await p.mmap(0, 4096, PROT_READ, MAP_SHARED, opath, 0)).toBe(-EBADF);
        // fget_raw(): dup(2) of an O_PATH fd is another O_PATH fd on the same file.
        const dup = await p.dup(opath);
        expect(dup).toBe(opath + 1);
        expect(await p.close(fd)).toBe(0);
        expect(await p.close(opath)).toBe(0);
        expect(fs.released).toEqual([]);
        expect(await p.close(dup)).toBe(0);
        expect(fs.released).toEqual(["b"]);
      },
    );
    clean(run);
  });

  it("with O_NOFOLLOW opens the link itself, which holds no path of the file", async () => {
    const fs = pseudoFs();
    const run = await inProcess(
      () => {},
      async (p) => {
        const [fd] = await installPseudo(fs.ops, "c");
        const link = `/proc/${p.pid}/fd/${fd}`;
        const opath = await p.open(link, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        expect(opath).toBe(fd + 1);
        const buf = await userBuffer(p);
        expect(await p.readlink(`/proc/self/fd/${opath}`, buf, 64)).toBe(link.length);
        expect(await userText(p, buf, link.length)).toBe(link);
        expect(await p.close(fd)).toBe(0);
        expect(fs.released).toEqual(["c"]);
        expect(await p.close(opath)).toBe(0);
      },
    );
    clean(run);
  });

  it("of a device node opens no device: no ->open, no ->release", async () => {
    let opens = 0;
    let releases = 0;
    const run = await inProcess(
      (k) =>
        k.registerChrdev("/dev/x", {
          open: async () => {
            opens++;
            return 0;
          },
          release: async () => {
            releases++;
          },
        }),
      async (p) => {
        const opath = await p.open("/dev/x", O_PATH);
        expect(opath).toBeGreaterThanOrEqual(0);
        expect(await p.ioctl(opath, 0x1234)).toBe(-EBADF);
        expect(await p.close(opath)).toBe(0);
        // Through the link of an fd opened without O_PATH: the same node, still no ->open.
        const fd = await p.open("/dev/x", O_RDWR);
        const viaProc = await p.open(`/proc/self/fd/${fd}`, O_PATH);
        expect(viaProc).toBe(fd + 1);
        expect(await p.close(viaProc)).toBe(0);
        expect(await p.close(fd)).toBe(0);
      },
    );
    clean(run);
    expect(opens).toBe(1);
    expect(releases).toBe(1);
  });

  it("returns the kernel's errnos and changes nothing", async () => {
    const fs = pseudoFs();
    const run = await inProcess(
      () => {},
      async (p, k) => {
        const [fd, f] = await installPseudo(fs.ops, "d");
        const dentry = f.fPath!.dentry;
        const path = `/proc/${p.pid}/fd/${fd}`;
        // getname(): a path userspace cannot pass, an empty one; flags the ABI cannot carry.
        expect(await p.open(42 as unknown as string, O_PATH)).toBe(-EFAULT);
        expect(await p.open("", O_PATH)).toBe(-ENOENT);
        expect(await p.open(path, 1.5)).toBe(-EINVAL);
        // No such name, fd, or process.
        expect(await p.open("/nowhere", O_PATH)).toBe(-ENOENT);
        expect(await p.open(`/proc/${p.pid}/fd/${fd + 7}`, O_PATH)).toBe(-ENOENT);
        expect(await p.open("/proc/4242/fd/0", O_PATH)).toBe(-ENOENT);
        expect(await p.open(`/proc/self/fd/99999999999999999999`, O_PATH)).toBe(-ENOENT);
        // O_DIRECTORY: the walk ends on a dentry that is no directory; its reference is put.
        expect(await p.open(path, O_PATH | O_DIRECTORY)).toBe(-ENOTDIR);
        expect(await p.open(path, O_PATH | O_NOFOLLOW | O_DIRECTORY)).toBe(-ENOTDIR);
        expect(dentry.dCount).toBe(1);
        expect(fileCount(f)).toBe(1);
        expect(f.fMode & (FMODE_PATH | FMODE_OPENED)).toBe(FMODE_OPENED);
        // No fd was used up: the next open gets the lowest free one.
        const opath = await p.open(path, O_PATH);
        expect(opath).toBe(fd + 1);
        expect(await p.close(opath)).toBe(0);
        expect(await p.close(fd)).toBe(0);
        expect(k.processes.size).toBe(1);
      },
    );
    clean(run);
    expect(fs.released).toEqual(["d"]);
  });
});

describe("open(2) of /proc/<pid>/fd/<n> without O_PATH (open_last_lookups(), do_open())", () => {
  it("follows the link and opens a device node anew (->open again), a pseudo file not (-ENXIO: no_open)", async () => {
    const fs = pseudoFs();
    let opens = 0;
    let releases = 0;
    const run = await inProcess(
      (k) =>
        k.registerChrdev("/dev/x", {
          open: async () => {
            opens++;
            return 0;
          },
          release: async () => {
            releases++;
          },
        }),
      async (p) => {
        const dev = await p.open("/dev/x", O_RDWR);
        const again = await p.open(`/proc/self/fd/${dev}`, O_RDWR | O_CLOEXEC);
        expect(again).toBe(dev + 1);
        expect(opens).toBe(2);
        expect(await p.close(again)).toBe(0);
        expect(releases).toBe(1);
        const [fd, f] = await installPseudo(fs.ops, "e");
        expect(await p.open(`/proc/${p.pid}/fd/${fd}`, O_RDWR)).toBe(-ENXIO);
        // The walk's path reference is put; the file and its fd are as they were.
        expect(f.fPath!.dentry.dCount).toBe(1);
        expect(fileCount(f)).toBe(1);
        expect(await p.open("/dev/x", O_RDWR)).toBe(fd + 1);
        expect(await p.close(fd + 1)).toBe(0);
        expect(await p.close(fd)).toBe(0);
        expect(await p.close(dev)).toBe(0);
      },
    );
    clean(run);
    expect(fs.released).toEqual(["e"]);
    expect(opens).toBe(3);
    expect(releases).toBe(3);
  });

  it("returns the kernel's errnos and changes nothing", async () => {
    const fs = pseudoFs();
    const run = await inProcess(
      () => {},
      async (p) => {
        const [fd, f] = await installPseudo(fs.ops, "g");
        const path = `/proc/self/fd/${fd}`;
        // The entry's lookup fails first, O_CREAT or not.
        expect(await p.open(`/proc/self/fd/${fd + 3}`, O_RDWR)).toBe(-ENOENT);
        expect(await p.open(`/proc/self/fd/${fd + 3}`, O_RDWR | O_CREAT)).toBe(-ENOENT);
        expect(await p.open("/proc/4242/fd/0", O_RDWR)).toBe(-ENOENT);
        // do_open(): O_CREAT|O_EXCL on an existing entry; O_DIRECTORY; may_open() of the symlink.
        expect(await p.open(path, O_RDWR | O_CREAT | O_EXCL)).toBe(-EEXIST);
        expect(await p.open(path, O_RDWR | O_DIRECTORY)).toBe(-ENOTDIR);
        expect(await p.open(path, O_RDWR | O_NOFOLLOW)).toBe(-ELOOP);
        expect(f.fPath!.dentry.dCount).toBe(1);
        expect(fileCount(f)).toBe(1);
        // No fd was used up.
        const opath = await p.open(path, O_PATH);
        expect(opath).toBe(fd + 1);
        expect(await p.close(opath)).toBe(0);
        expect(await p.close(fd)).toBe(0);
      },
    );
    clean(run);
    expect(fs.released).toEqual(["g"]);
  });
});
