import { currentTask, point, type Scenario, Simulation } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import {
  decodeStat,
  newEncodeDev,
  S_IFCHR,
  S_IFLNK,
  S_IFMT,
  S_IFSOCK,
  STAT_SIZE,
  type Stat,
} from "@primetime/uapi";
import { describe, expect, it } from "vitest";
import { EBADF, EFAULT } from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import type { Process } from "../kernel/process.js";
import { MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE } from "../mm/vma.js";
import { clean, inProcess, socketPair } from "../test-support.js";
import { MKDEV } from "./chrdev.js";
import { EPOLL_CLOEXEC } from "./eventpoll.js";
import { allocFile, flushDelayedFput, fput, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR } from "./file.js";
import { emptyKstat, vfsGetattr } from "./stat.js";

/** A page of anonymous memory for struct stat buffers. */
async function userBuf(p: Process): Promise<number> {
  const addr = await p.mmap(
    0,
    PAGE_SIZE,
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS,
    -1,
    0,
  );
  if (addr < 0) throw new Error(`mmap = ${addr}`);
  return addr;
}

/** fstat(2) of `fd` into `buf`, decoded; throws on an error. */
async function fstat(p: Process, fd: number, buf: number): Promise<Stat> {
  const r = await p.fstat(fd, buf);
  if (r !== 0) throw new Error(`fstat(${fd}) = ${r}`);
  const bytes = await p.readMemory(buf, STAT_SIZE);
  if (typeof bytes === "number") throw new Error(`read = ${bytes}`);
  return decodeStat(bytes);
}

/** Registers DRM-like nodes: card0 (226:0) and renderD128 (226:128). */
function drmNodes(k: Kernel): void {
  k.registerChrdev("/dev/dri/card0", {}, { major: 226, minor: 0 });
  k.registerChrdev("/dev/dri/renderD128", {}, { major: 226, minor: 128 });
}

describe("fstat(2): vfs_fstat() -> vfs_getattr() -> generic_fillattr(), cp_new_stat()", () => {
  it("a device node: S_IFCHR|0600, st_rdev new_encode_dev(MKDEV(226, minor)), one st_ino per node", async () => {
    const run = await inProcess(drmNodes, async (p) => {
      const buf = await userBuf(p);
      const a = await p.open("/dev/dri/card0", O_RDWR);
      const b = await p.open("/dev/dri/card0", O_RDONLY);
      const r = await p.open("/dev/dri/renderD128", O_RDWR);
      const d = await p.dup(a);
      const sa = await fstat(p, a, buf);
      expect(sa.st_mode).toBe(S_IFCHR | 0o600);
      expect(sa.st_rdev).toBe(0xe200);
      expect(sa.st_rdev).toBe(newEncodeDev(MKDEV(226, 0)));
      expect(sa.st_nlink).toBe(1);
      expect(sa.st_size).toBe(0);
      expect(sa.st_blksize).toBe(PAGE_SIZE);
      // Another open of the same node, and a dup: the same inode.
      expect(await fstat(p, b, buf)).toEqual(sa);
      expect(await fstat(p, d, buf)).toEqual(sa);
      const sr = await fstat(p, r, buf);
      // renderD128: minor 128 = 0x80 -> (0x80 & 0xff) | (226 << 8).
      expect(sr.st_rdev).toBe(0xe280);
      expect(sr.st_dev).toBe(sa.st_dev);
      expect(sr.st_ino).not.toBe(sa.st_ino);
    });
    clean(run);
  });

  it("sockets (S_IFSOCK|0777, an inode each), eventpoll files (the shared anonymous inode, no file type)", async () => {
    const run = await inProcess(drmNodes, async (p) => {
      const buf = await userBuf(p);
      const node = await fstat(p, await p.open("/dev/dri/card0", O_RDWR), buf);
      const [s1, s2] = socketPair(await p.socketpair());
      const a = await fstat(p, s1, buf);
      const b = await fstat(p, s2, buf);
      expect(a.st_mode).toBe(S_IFSOCK | 0o777);
      expect(b.st_mode).toBe(S_IFSOCK | 0o777);
      expect(a.st_ino).not.toBe(b.st_ino);
      expect(a.st_dev).toBe(b.st_dev);
      expect(a.st_dev).not.toBe(node.st_dev);
      expect(a.st_rdev).toBe(0);
      const e1 = await fstat(p, await p.epollCreate1(EPOLL_CLOEXEC), buf);
      const e2 = await fstat(p, await p.epollCreate1(0), buf);
      expect(e1.st_mode & S_IFMT).toBe(0);
      expect(e1.st_mode).toBe(0o600);
      expect(e2).toEqual(e1);
      expect(e1.st_dev).not.toBe(a.st_dev);
      expect(e1.st_dev).not.toBe(node.st_dev);
    });
    clean(run);
  });

  it("an O_PATH fd is allowed (fdget_raw()): the node's inode, and procfs' symlink inode for O_NOFOLLOW", async () => {
    const run = await inProcess(drmNodes, async (p) => {
      const buf = await userBuf(p);
      const fd = await p.open("/dev/dri/card0", O_RDWR);
      const opath = await p.open("/dev/dri/card0", O_PATH);
      expect(opath).toBeGreaterThanOrEqual(0);
      // read(2) refuses the O_PATH fd (fdget()'s FMODE_PATH mask); fstat(2) does not.
      expect(await p.read(opath, buf, 8)).toBe(-EBADF);
      expect(await fstat(p, opath, buf)).toEqual(await fstat(p, fd, buf));
      const link = await p.open(`/proc/self/fd/${fd}`, O_PATH | O_NOFOLLOW);
      const sl = await fstat(p, link, buf);
      // tid_fd_update_inode(): S_IFLNK, rwx for the user of an O_RDWR file; i_size 64.
      expect(sl.st_mode).toBe(S_IFLNK | 0o700);
      expect(sl.st_size).toBe(64);
      expect(sl.st_blksize).toBe(1024);
      const ro = await p.open("/dev/dri/card0", O_RDONLY);
      const link2 = await p.open(`/proc/self/fd/${ro}`, O_PATH | O_NOFOLLOW);
      const sl2 = await fstat(p, link2, buf);
      expect(sl2.st_mode).toBe(S_IFLNK | 0o500);
      expect(sl2.st_ino).not.toBe(sl.st_ino);
    });
    clean(run);
  });

  it("errnos: -EBADF for an fd that is not open (before the buffer), -EFAULT for a bad buffer; nothing changes", async () => {
    const run = await inProcess(drmNodes, async (p) => {
      const buf = await userBuf(p);
      const fd = await p.open("/dev/dri/card0", O_RDWR);
      const marker = new Uint8Array(STAT_SIZE).fill(0xa5);
      expect(await p.writeMemory(buf, marker)).toBe(STAT_SIZE);
      for (const bad of [fd + 1, -1, 1.5, Number.NaN, 1 << 30])
        expect(await p.fstat(bad, buf)).toBe(-EBADF);
      expect(await p.fstat(fd + 1, -1)).toBe(-EBADF);
      expect(await p.close(fd)).toBe(0);
      expect(await p.fstat(fd, buf)).toBe(-EBADF);
      // The buffer was not written.
      expect(await p.readMemory(buf, STAT_SIZE)).toEqual(marker);
      const fd2 = await p.open("/dev/dri/card0", O_RDWR);
      expect(await p.fstat(fd2, -1)).toBe(-EFAULT);
      expect(await p.fstat(fd2, 1.5)).toBe(-EFAULT);
      // Unmapped, and a buffer whose end runs past the mapping.
      expect(await p.fstat(fd2, buf + 16 * PAGE_SIZE)).toBe(-EFAULT);
      expect(await p.fstat(fd2, buf + PAGE_SIZE - 8)).toBe(-EFAULT);
      // The fd is still open and fstat works.
      expect(p.files.openFdList()).toContain(fd2);
      expect((await fstat(p, fd2, buf)).st_rdev).toBe(0xe200);
    });
    clean(run);
  });
});

/**
 * fstat(2) in one thread against close(2) of the same fd in another (the fd table then has two
 * users, so fdget_raw() takes a reference, CLONED_FD). What each run saw: fstat's result and
 * st_rdev, and which thread ran the driver's ->release (the one that dropped the last reference:
 * __fput() is its task work) relative to fstat's return.
 */
interface FstatVsClose {
  fstat: number;
  rdev: number;
  log: string[];
}

function fstatVsClose(out: FstatVsClose[]): Scenario {
  return async () => {
    const k = Kernel.boot();
    const log: string[] = [];
    const release = async () => {
      log.push(currentTask()?.name.endsWith(":closer") ? "release by closer" : "release by fstat");
    };
    k.registerChrdev(
      "/dev/dri/card0",
      { release },
      {
        major: 226,
        minor: 0,
      },
    );
    const seen: FstatVsClose = { fstat: 1, rdev: -1, log };
    const p = k.spawnProcess("t", async (p) => {
      const buf = await userBuf(p);
      const fd = await p.open("/dev/dri/card0", O_RDWR);
      const closer = p.spawnThread("closer", async () => {
        await point("closer starts");
        expect(await p.close(fd)).toBe(0);
        log.push("closed");
      });
      seen.fstat = await p.fstat(fd, buf);
      log.push("fstat returned");
      if (seen.fstat === 0) {
        const bytes = await p.readMemory(buf, STAT_SIZE);
        if (typeof bytes !== "number") seen.rdev = decodeStat(bytes).st_rdev;
      }
      await closer.join();
    });
    await p.wait();
    out.push(seen);
    const leaks = await k.checkLeaks();
    if (leaks.length > 0) throw new Error(`leaks: ${leaks.join(", ")}`);
  };
}

describe("fstat(2) racing close(2): fdget_raw()'s reference keeps the file and its inode", () => {
  it("every schedule is clean; fstat gives the node's attributes or -EBADF; the close inside the window defers ->release to fdput()", async () => {
    const out: FstatVsClose[] = [];
    const res = await explore(fstatVsClose(out), {
      strategy: "pct",
      schedules: 150,
      seed: 1,
    });
    expect(res.firstFailure?.splats.map((s) => s.message) ?? []).toEqual([]);
    expect(res.firstFailure?.outcome ?? "ok").toBe("ok");
    expect(out.length).toBe(150);
    for (const s of out) {
      expect([0, -EBADF]).toContain(s.fstat);
      if (s.fstat === 0) expect(s.rdev).toBe(0xe200);
      expect(s.log.filter((l) => l.startsWith("release"))).toHaveLength(1);
    }
    // Both outcomes are reached, and so is the window: fstat succeeded and ->release ran in the
    // fstat thread, i.e. fstat's fdput() dropped the last reference after the close had dropped
    // the table's. (A -EBADF fstat may run ->release too: __fget_files_rcu()'s re-check saw the
    // slot emptied after its file_ref_get(), and its fput() was the last.)
    expect(out.some((s) => s.fstat === -EBADF)).toBe(true);
    const inWindow = out.filter((s) => s.fstat === 0 && s.log.includes("release by fstat"));
    expect(inWindow.length).toBeGreaterThan(0);
    for (const s of inWindow) {
      expect(s.rdev).toBe(0xe200);
      expect(s.log.indexOf("release by fstat")).toBeLessThan(s.log.indexOf("fstat returned"));
    }
  });

  it("outside a race the same scenario runs clean once", async () => {
    const out: FstatVsClose[] = [];
    const r = await new Simulation({ seed: 3 }).run(fstatVsClose(out));
    expect(r.splats).toEqual([]);
    expect(out).toHaveLength(1);
  });
});

describe("vfs_getattr() on a file nobody holds", () => {
  it("is a KASAN use-after-free: the reference fdget_raw() takes is what makes fstat safe", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const f = await allocFile({}, null, "pseudo");
      if (typeof f === "number") throw new Error(String(f));
      await fput(f); // a kernel task: the delayed fput
      await flushDelayedFput();
      expect(await vfsGetattr(f, emptyKstat())).toBe(0);
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["kasan"]);
    expect(r.splats[0]!.message).toContain("vfs_getattr");
  });
});
