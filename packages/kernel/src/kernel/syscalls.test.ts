import { bug, point, Simulation } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  type File,
  type FileOperations,
  fileCount,
  fixedSizeLlseek,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  SEEK_END,
  SEEK_SET,
} from "../fs/file.js";
import { _IOWR, ENOIOCTLCMD, FIOCLEX, FIONCLEX } from "../fs/ioctl.js";
import {
  EBADF,
  EEXIST,
  EFAULT,
  EINVAL,
  EMFILE,
  ENODEV,
  ENOENT,
  ENOMEM,
  ENOTTY,
  EPERM,
  ESPIPE,
  ESRCH,
} from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import { Mutex } from "../locking/mutex.js";
import { MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE } from "../mm/vma.js";
import { clean, inProcess } from "../test-support.js";
import type { Process } from "./process.js";
import { MAX_RW_COUNT, RLIMIT_NOFILE } from "./syscalls.js";

/** Boots a kernel, lets `setup` register devices, runs `body` as a process, checks leaks. */

const CMD = _IOWR("t", 1, 8);

describe("open and close", () => {
  it("open gives the lowest free fd; close frees it; release runs before close returns", async () => {
    const log: string[] = [];
    const fops: FileOperations = {
      open: async () => {
        log.push("open");
        return 0;
      },
      release: async () => {
        log.push("release");
      },
    };
    const run = await inProcess(
      (k) => k.registerChrdev("/dev/x", fops),
      async (p) => {
        expect(await p.open("/dev/x", O_RDWR)).toBe(0);
        expect(await p.open("/dev/x", O_RDONLY)).toBe(1);
        expect(await p.open("/dev/x", O_RDWR)).toBe(2);
        expect(await p.close(1)).toBe(0);
        log.push("closed");
        expect(await p.open("/dev/x", O_RDWR)).toBe(1);
        expect(p.files.openFdList()).toEqual([0, 1, 2]);
      },
    );
    clean(run);
    // close(1)'s release is task work, run on the way back to userspace.
    expect(log).toEqual([
      "open",
      "open",
      "open",
      "release",
      "closed",
      "open",
      "release",
      "release",
      "release",
    ]);
  });

  it("open validates its arguments and reports lookup and driver errors", async () => {
    let opens = 0;
    const fops: FileOperations = {
      open: async () => (++opens === 1 ? -ENODEV : 0),
    };
    const run = await inProcess(
      (k) => k.registerChrdev("/dev/x", fops),
      async (p) => {
        expect(await p.open(42 as unknown as string, O_RDWR)).toBe(-EFAULT);
        expect(await p.open("/dev/x", 1.5)).toBe(-EINVAL);
        expect(await p.open("", O_RDWR)).toBe(-ENOENT);
        expect(await p.open("/dev/nope", O_RDWR)).toBe(-ENOENT);
        expect(await p.open("/dev/x", O_RDWR | O_CREAT | O_EXCL)).toBe(-EEXIST);
        expect(await p.open("/dev/x", O_RDWR)).toBe(-ENODEV); // the driver refused
        expect(await p.open("/dev/x", O_RDWR)).toBe(0); // the fd was given back
        expect(await p.open("/dev/x", O_RDWR | O_CREAT)).toBe(1);
      },
    );
    clean(run);
  });

  it("EMFILE at RLIMIT_NOFILE comes before ENOENT; setrlimit validates", async () => {
    const run = await inProcess(
      (k) => k.registerChrdev("/dev/x", {}),
      async (p) => {
        expect(await p.setrlimit(RLIMIT_NOFILE, 2)).toBe(0);
        expect(await p.open("/dev/x", O_RDWR)).toBe(0);
        expect(await p.open("/dev/x", O_RDWR)).toBe(1);
        expect(await p.open("/dev/x", O_RDWR)).toBe(-EMFILE);
        expect(await p.open("/dev/nope", O_RDWR)).toBe(-EMFILE);
        expect(await p.dup(0)).toBe(-EMFILE);
        expect(await p.setrlimit(RLIMIT_NOFILE, 2 ** 21)).toBe(-EPERM);
        expect(await p.setrlimit(RLIMIT_NOFILE, -1)).toBe(-EINVAL);
        expect(await p.setrlimit(3, 10)).toBe(-EINVAL);
      },
    );
    clean(run);
  });

  it("close rejects bad fds", async () => {
    const run = await inProcess(
      () => {},
      async (p) => {
        for (const fd of [-1, 0, 1.5, 10_000, Number.NaN, "0" as unknown as number])
          expect(await p.close(fd)).toBe(-EBADF);
      },
    );
    clean(run);
  });

  it("mmap of a bad fd is EBADF before a negative length or address is ENOMEM (ksys_mmap_pgoff() fgets first)", async () => {
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/x", {});
      },
      async (p) => {
        const RW = PROT_READ | PROT_WRITE;
        expect(await p.mmap(0, -1, RW, MAP_PRIVATE, 42, 0)).toBe(-EBADF);
        expect(await p.mmap(-PAGE_SIZE, PAGE_SIZE, RW, MAP_PRIVATE, 42, 0)).toBe(-EBADF);
        const fd = await p.open("/dev/x", O_RDWR);
        expect(await p.mmap(0, -1, RW, MAP_PRIVATE, fd, 0)).toBe(-ENOMEM);
        expect(await p.mmap(0, -1, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)).toBe(-ENOMEM);
        await p.close(fd);
      },
    );
    clean(run);
  });

  it("dup shares the file: one release after both fds are closed", async () => {
    let file: File | null = null;
    let releases = 0;
    const fops: FileOperations = {
      open: async (_i, f) => {
        file = f;
        return 0;
      },
      release: async () => {
        releases++;
      },
    };
    const run = await inProcess(
      (k) => k.registerChrdev("/dev/x", fops),
      async (p) => {
        const fd = await p.open("/dev/x", O_RDWR);
        expect(await p.dup(fd)).toBe(1);
        expect(p.files.peek(1)).toBe(file);
        expect(fileCount(file!)).toBe(2);
        expect(await p.dup(7)).toBe(-EBADF);
        expect(await p.close(fd)).toBe(0);
        expect(releases).toBe(0);
        expect(await p.close(1)).toBe(0);
        expect(releases).toBe(1);
      },
    );
    clean(run);
  });
});

describe("ioctl", () => {
  it("copies the argument in, and back out only on success", async () => {
    const seen: unknown[] = [];
    const fops: FileOperations = {
      unlockedIoctl: async (_f, cmd, arg) => {
        const a = arg as { in: number; out?: number };
        seen.push(cmd);
        a.out = a.in * 2;
        return a.in < 0 ? -EINVAL : 0;
      },
    };
    const run = await inProcess(
      (k) => k.registerChrdev("/dev/x", fops),
      async (p) => {
        const fd = await p.open("/dev/x", O_RDWR);
        const ok: { in: number; out?: number } = { in: 21 };
        expect(await p.ioctl(fd, CMD, ok)).toBe(0);
        expect(ok).toEqual({ in: 21, out: 42 });
        const bad: { in: number; out?: number } = { in: -1 };
        expect(await p.ioctl(fd, CMD, bad)).toBe(-EINVAL);
        expect(bad).toEqual({ in: -1 });
        // The same command as a negative int32.
        expect(await p.ioctl(fd, CMD | 0, { in: 1 })).toBe(0);
      },
    );
    clean(run);
    expect(seen).toEqual([CMD, CMD, CMD]);
  });

  it("validates fd, cmd and argument; no ioctl or ENOIOCTLCMD is ENOTTY", async () => {
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/none", {});
        k.registerChrdev("/dev/x", { unlockedIoctl: async () => -ENOIOCTLCMD });
      },
      async (p) => {
        const none = await p.open("/dev/none", O_RDWR);
        const x = await p.open("/dev/x", O_RDWR);
        expect(await p.ioctl(99, CMD, {})).toBe(-EBADF);
        expect(await p.ioctl(-3, CMD, {})).toBe(-EBADF);
        expect(await p.ioctl(none, CMD, {})).toBe(-ENOTTY);
        expect(await p.ioctl(x, CMD, {})).toBe(-ENOTTY);
        expect(await p.ioctl(x, 1.5, {})).toBe(-EINVAL);
        expect(await p.ioctl(x, CMD, { f: () => 0 })).toBe(-EFAULT);
        const frozen = Object.freeze({ a: 1 });
        expect(await p.ioctl(none, FIOCLEX, frozen)).toBe(0); // nothing to write back
        expect(p.files.fdt.closeOnExec[none]).toBe(true);
        expect(await p.ioctl(none, FIONCLEX)).toBe(0);
        expect(p.files.fdt.closeOnExec[none]).toBe(false);
      },
    );
    clean(run);
  });

  it("a driver ioctl written as a plain function (returning its number) works as an async one", async () => {
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/sync", {
          unlockedIoctl: ((_f: unknown, cmd: number, arg: { out?: number }) => {
            if (cmd !== CMD) return -ENOIOCTLCMD;
            arg.out = 7;
            return 3;
          }) as unknown as FileOperations["unlockedIoctl"],
        });
      },
      async (p) => {
        const fd = await p.open("/dev/sync", O_RDWR);
        const arg = { out: 0 };
        expect(await p.ioctl(fd, CMD, arg)).toBe(3);
        expect(arg.out).toBe(7);
        expect(await p.ioctl(fd, CMD + 1, {})).toBe(-ENOTTY);
      },
    );
    clean(run);
  });

  it("a frozen user struct the driver writes to is EFAULT", async () => {
    const run = await inProcess(
      (k) =>
        k.registerChrdev("/dev/x", {
          unlockedIoctl: async (_f, _c, arg) => {
            (arg as { out: number }).out = 1;
            return 0;
          },
        }),
      async (p) => {
        const fd = await p.open("/dev/x", O_RDWR);
        expect(await p.ioctl(fd, CMD, Object.freeze({ out: 0 }))).toBe(-EFAULT);
      },
    );
    clean(run);
  });
});

describe("lseek", () => {
  it("uses ->llseek; no llseek is ESPIPE; whence and fd are validated", async () => {
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/sized", {
          llseek: (f, off, whence) => fixedSizeLlseek(f, off, whence, 4096),
        });
        k.registerChrdev("/dev/pipe", {});
      },
      async (p) => {
        const s = await p.open("/dev/sized", O_RDWR);
        const n = await p.open("/dev/pipe", O_RDWR);
        expect(await p.lseek(s, 0, SEEK_END)).toBe(4096);
        expect(await p.lseek(s, 100, SEEK_SET)).toBe(100);
        expect(await p.lseek(s, 0, 5)).toBe(-EINVAL);
        expect(await p.lseek(s, 0, -1)).toBe(-EINVAL);
        expect(await p.lseek(s, 0.5, SEEK_SET)).toBe(-EINVAL);
        expect(await p.lseek(n, 0, SEEK_SET)).toBe(-ESPIPE);
        expect(await p.lseek(77, 0, SEEK_SET)).toBe(-EBADF);
      },
    );
    clean(run);
  });
});

describe("read", () => {
  it("calls ->read with the user buffer; EBADF, EINVAL without ->read, EFAULT, O_WRONLY", async () => {
    const seen: [number, number][] = [];
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/r", {
          read: async (_f, buf, count) => {
            seen.push([buf, count]);
            return Math.min(count, 3);
          },
        });
        k.registerChrdev("/dev/none", {});
      },
      async (p) => {
        const r = await p.open("/dev/r", O_RDWR);
        const w = await p.open("/dev/r", O_WRONLY);
        const n = await p.open("/dev/none", O_RDWR);
        expect(await p.read(r, 4096, 10)).toBe(3);
        expect(await p.read(r, 4096, 0x8000_0000)).toBe(3);
        expect(seen).toEqual([
          [4096, 10],
          [4096, MAX_RW_COUNT],
        ]);
        expect(await p.read(77, 4096, 10)).toBe(-EBADF);
        expect(await p.read(w, 4096, 10)).toBe(-EBADF);
        expect(await p.read(n, 4096, 10)).toBe(-EINVAL);
        expect(await p.read(r, -1, 10)).toBe(-EFAULT);
        expect(await p.read(r, 4096, -1)).toBe(-EFAULT);
        expect(await p.read(r, 4096, 1.5)).toBe(-EFAULT);
        expect(seen.length).toBe(2);
      },
    );
    clean(run);
  });
});

describe("fdget(): ioctl and lseek borrow the fd when the table has one user (v6.18 __fget_light())", () => {
  /** The labels of the steps of the process's main thread "t" (its syscalls). */
  function mainLabels(run: Awaited<ReturnType<typeof inProcess>>): string[] {
    return run.r.trace
      .steps()
      .filter((s) => s.task === "t")
      .map((s) => s.label);
  }

  /** /dev/x: its ioctl and llseek record the file's count as they see it. */
  function counting(seen: number[]) {
    return (k: Kernel) =>
      k.registerChrdev("/dev/x", {
        unlockedIoctl: async (f) => {
          seen.push(fileCount(f));
          return 0;
        },
        llseek: async (f) => {
          seen.push(fileCount(f));
          return 0;
        },
      });
  }

  it("single-threaded: no reference for the call (BORROWED_FD), no file_ref_get or fput steps", async () => {
    const seen: number[] = [];
    const run = await inProcess(counting(seen), async (p) => {
      const fd = await p.open("/dev/x", O_RDWR);
      expect(await p.ioctl(fd, CMD, {})).toBe(0);
      expect(await p.lseek(fd, 0, SEEK_SET)).toBe(0);
      expect(await p.ioctl(fd + 1, CMD, {})).toBe(-EBADF);
      expect(await p.lseek(fd + 1, 0, SEEK_SET)).toBe(-EBADF);
    });
    clean(run);
    // Only the fd's reference: fget() would have made it 2 for the call.
    expect(seen).toEqual([1, 1]);
    const labels = mainLabels(run);
    expect(labels.filter((l) => l.startsWith("file_ref_get("))).toEqual([]);
    expect(labels.filter((l) => l === "rcu_read_lock")).toEqual([]);
    // One atomic_read(files->count) per lookup; the only fput is close's at exit.
    expect(
      labels.filter((l) => l.startsWith("atomic_read(") && l.endsWith(".count)")),
    ).toHaveLength(4);
  });

  it("with a second thread sharing the table (CLONE_FILES): a counted reference (CLONED_FD), dropped by fdput()", async () => {
    const seen: number[] = [];
    const run = await inProcess(counting(seen), async (p) => {
      const fd = await p.open("/dev/x", O_RDWR);
      let done = false;
      const t2 = p.spawnThread("t2", async () => {
        while (!done) await point("t2 waits");
      });
      expect(p.files.count.data.read()).toBe(2);
      expect(await p.ioctl(fd, CMD, {})).toBe(0);
      expect(await p.lseek(fd, 0, SEEK_SET)).toBe(0);
      done = true;
      await t2.join();
      // The thread is gone: one user again, borrowed again.
      expect(p.files.count.data.read()).toBe(1);
      expect(await p.ioctl(fd, CMD, {})).toBe(0);
    });
    clean(run);
    expect(seen).toEqual([2, 2, 1]);
    const labels = mainLabels(run);
    expect(labels.filter((l) => l.startsWith("file_ref_get("))).toHaveLength(2);
    expect(labels.filter((l) => l.startsWith("fput("))).toHaveLength(2 + 1); // + close at exit
  });
});

describe("the kernel boundary", () => {
  it("a lock held on return to userspace is a lockdep splat", async () => {
    const lock = new Mutex("leaky_lock");
    const run = await inProcess(
      (k) =>
        k.registerChrdev("/dev/x", {
          unlockedIoctl: async () => {
            await lock.lock();
            return 0;
          },
          release: async () => {
            await lock.unlock();
          },
        }),
      async (p) => {
        const fd = await p.open("/dev/x", O_RDWR);
        expect(await p.ioctl(fd, CMD, {})).toBe(0);
        await p.close(fd);
      },
    );
    const lockdep = run.r.splats.filter((s) => s.kind === "lockdep");
    expect(lockdep.length).toBe(1);
    expect(lockdep[0]!.message).toContain("lock held when returning to user space!");
    expect(lockdep[0]!.message).toContain("leaky_lock");
    expect(run.leaks).toBe(0);
  });

  it("an unexpected exception in a driver is a bug splat and EFAULT, and the syscall returns", async () => {
    const run = await inProcess(
      (k) =>
        k.registerChrdev("/dev/x", {
          unlockedIoctl: async () => {
            throw new TypeError("driver bug");
          },
        }),
      async (p) => {
        const fd = await p.open("/dev/x", O_RDWR);
        expect(await p.ioctl(fd, CMD, {})).toBe(-EFAULT);
        expect(await p.close(fd)).toBe(0);
      },
    );
    expect(run.r.splats.map((s) => [s.kind, s.message])).toEqual([
      ["bug", "unexpected exception in syscall ioctl(): driver bug"],
    ]);
    expect(run.leaks).toBe(0);
    expect(run.exitCode).toBe(0);
  });

  it("BUG() in a driver oopses the thread: it exits, and its files are released", async () => {
    let after = false;
    const run = await inProcess(
      (k) =>
        k.registerChrdev("/dev/x", {
          unlockedIoctl: async () => bug("driver BUG_ON"),
        }),
      async (p) => {
        const fd = await p.open("/dev/x", O_RDWR);
        await p.ioctl(fd, CMD, {});
        after = true;
      },
    );
    expect(after).toBe(false);
    expect(run.r.splats.map((s) => [s.kind, s.message])).toEqual([["bug", "driver BUG_ON"]]);
    expect(run.leaks).toBe(0);
    expect(run.exitCode).toBe(139);
  });

  it("a syscall from a task that is not a thread of the process is ESRCH and a warning", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      const p = k.spawnProcess("t", async () => {});
      expect(await p.open("/dev/x", O_RDWR)).toBe(-ESRCH);
      await p.wait();
      expect(await p.close(0)).toBe(-ESRCH);
    });
    expect(r.splats.map((s) => s.kind)).toEqual(["warn", "warn"]);
    expect(r.splats[0]!.message).toContain("not one of its threads");
  });
});

describe("hostile input gets an errno, not a splat, a crash or exhaustion", () => {
  it("readMemory/writeMemory of a huge or unmapped range is EFAULT before anything is allocated", async () => {
    const run = await inProcess(
      () => {},
      async (p) => {
        expect(await p.readMemory(0x10000, 2 ** 40)).toBe(-EFAULT);
        expect(await p.readMemory(0, Number.MAX_SAFE_INTEGER)).toBe(-EFAULT);
        const addr = await p.mmap(
          0,
          2 * PAGE_SIZE,
          PROT_READ | PROT_WRITE,
          MAP_PRIVATE | MAP_ANONYMOUS,
          -1,
          0,
        );
        expect(addr).toBeGreaterThan(0);
        // Mapped, but the range runs past the mapping: nothing is read.
        expect(await p.readMemory(addr, 2 ** 40)).toBe(-EFAULT);
        expect(await p.readMemory(addr, 3 * PAGE_SIZE)).toBe(-EFAULT);
        expect(await p.writeMemory(addr + PAGE_SIZE, new Uint8Array(PAGE_SIZE + 1))).toBe(-EFAULT);
        // Bytes that cannot be read (Proxies whose traps throw or that methods refuse): EFAULT.
        const throwingProto = new Proxy(new Uint8Array(1), {
          getPrototypeOf() {
            throw new Error("trap");
          },
        });
        const revoked = Proxy.revocable(new Uint8Array(1), {});
        revoked.revoke();
        for (const bytes of [throwingProto, new Proxy(new Uint8Array(2), {}), revoked.proxy, [1]]) {
          expect(await p.writeMemory(addr, bytes as Uint8Array)).toBe(-EFAULT);
        }
        expect(await p.writeMemory(addr, new Uint8Array([1, 2, 3]))).toBe(3);
        expect(await p.readMemory(addr, 4)).toEqual(new Uint8Array([1, 2, 3, 0]));
        expect(await p.munmap(addr, 2 * PAGE_SIZE)).toBe(0);
      },
    );
    clean(run);
  });

  it("recvFd with null or throwing options is EFAULT; sendFd to a non-process is EINVAL and takes no reference", async () => {
    const st = { releases: 0 };
    const run = await inProcess(
      (k) => {
        k.registerChrdev("/dev/d", {
          release: async () => {
            st.releases++;
          },
        });
      },
      async (p) => {
        expect(await p.recvFd(null as unknown as undefined)).toBe(-EFAULT);
        expect(await p.recvFd(7 as unknown as undefined)).toBe(-EFAULT);
        const throwing = {
          get nonblock(): boolean {
            throw new Error("getter");
          },
        };
        expect(await p.recvFd(throwing)).toBe(-EFAULT);
        const fd = await p.open("/dev/d", O_RDWR);
        const before = fileCount((await fdFile(p, fd))!);
        for (const to of [{ socket: 1 }, { socket: {} }, null, 5, "p"]) {
          expect(await p.sendFd(to as unknown as Process, fd)).toBe(-EINVAL);
        }
        const throwingTo = {
          get socket(): unknown {
            throw new Error("getter");
          },
        };
        expect(await p.sendFd(throwingTo as unknown as Process, fd)).toBe(-EINVAL);
        expect(fileCount((await fdFile(p, fd))!)).toBe(before);
        expect(await p.sendFd(p, fd)).toBe(0);
        expect(await p.recvFd({ nonblock: true })).toBe(fd + 1);
        expect(await p.close(fd)).toBe(0);
        expect(await p.close(fd + 1)).toBe(0);
      },
    );
    clean(run);
    expect(st.releases).toBe(1);
  });
});

async function fdFile(p: Process, fd: number): Promise<File | null> {
  return p.files.peek(fd);
}
