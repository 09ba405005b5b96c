import { Simulation, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { type FileOperations, O_CLOEXEC, O_RDWR } from "../fs/file.js";
import { EAGAIN, EBADF, EFAULT, EINVAL, EMFILE, ENOMEM, EPIPE } from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import { EXIT_KILLED, type Process } from "../kernel/process.js";
import { RLIMIT_NOFILE } from "../kernel/syscalls.js";
import { allocationCount, setFailslab } from "../mm/failslab.js";
import { MSG_CTRUNC, scmFpListCache, scmSendFds } from "./scm.js";

function device() {
  const st = { releases: 0 };
  const fops: FileOperations = {
    release: async () => {
      st.releases++;
    },
  };
  return { st, fops };
}

async function scenario(body: (k: Kernel) => Promise<void>) {
  let leaks = -1;
  const r = await new Simulation({ seed: 4 }).run(async () => {
    const k = Kernel.boot();
    await body(k);
    leaks = (await k.checkLeaks()).length;
  });
  expect(r.outcome).toBe("ok");
  return { r, leaks };
}

describe("SCM_RIGHTS", () => {
  it("a blocked receiver wakes up with a new fd for the same file", async () => {
    const { st, fops } = device();
    const got: Record<string, number> = {};
    const { r, leaks } = await scenario(async (k) => {
      k.registerChrdev("/dev/d", fops);
      const rx = k.spawnProcess("rx", async (p) => {
        await p.open("/dev/d", O_RDWR); // fd 0 taken: the received file gets fd 1
        got.received = await p.recvFd({ cloexec: true });
        expect(p.files.fdt.closeOnExec[1]).toBe(true);
        expect(p.files.peek(1)?.path).toBe("/dev/d");
        got.again = await p.recvFd({ nonblock: true });
      });
      const tx = k.spawnProcess("tx", async (p) => {
        const fd = await p.open("/dev/d", O_RDWR);
        got.sent = await p.sendFd(rx, fd);
      });
      await tx.wait();
      await rx.wait();
      expect(st.releases).toBe(2);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
    expect(got).toEqual({ received: 1, again: -EAGAIN, sent: 0 });
  });

  it("sending to an exited process is EPIPE; bad fds and targets are refused", async () => {
    const { st, fops } = device();
    const { r, leaks } = await scenario(async (k) => {
      k.registerChrdev("/dev/d", fops);
      const gone = k.spawnProcess("gone", async () => {});
      await gone.wait();
      const tx = k.spawnProcess("tx", async (p) => {
        const fd = await p.open("/dev/d", O_RDWR);
        expect(await p.sendFd(gone, fd)).toBe(-EPIPE);
        expect(await p.sendFd(gone, 9)).toBe(-EBADF);
        expect(await p.sendFd({} as Process, fd)).toBe(-EINVAL);
        expect(await p.sendFd(p, fd)).toBe(0); // to itself
        expect(p.socket.pending).toBe(1);
        setFailslab({ failNth: allocationCount() + 1, caches: ["scm_fp_list"] });
        expect(await p.sendFd(p, fd)).toBe(-ENOMEM);
        setFailslab(null);
        expect(scmFpListCache.live).toBe(1);
      });
      await tx.wait();
      // The message queued on itself was dropped at exit.
      expect(st.releases).toBe(1);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("a receiver without a free fd gets EMFILE and the file is dropped", async () => {
    const { st, fops } = device();
    const { r, leaks } = await scenario(async (k) => {
      k.registerChrdev("/dev/d", fops);
      const rx = k.spawnProcess("rx", async (p) => {
        expect(await p.setrlimit(RLIMIT_NOFILE, 1)).toBe(0);
        expect(await p.open("/dev/d", O_RDWR | O_CLOEXEC)).toBe(0);
        expect(await p.recvFd()).toBe(-EMFILE);
        expect(p.socket.pending).toBe(0);
      });
      const tx = k.spawnProcess("tx", async (p) => {
        expect(await p.sendFd(rx, await p.open("/dev/d", O_RDWR))).toBe(0);
      });
      await tx.wait();
      await rx.wait();
      expect(st.releases).toBe(2);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("killing a process blocked in recvFd ends it", async () => {
    let after = false;
    const { r, leaks } = await scenario(async (k) => {
      const rx = k.spawnProcess("rx", async (p) => {
        await p.recvFd();
        after = true;
      });
      // Let it block first.
      while (rx.socket.wait.waiting === 0) await yieldCpu();
      rx.kill();
      expect(await rx.wait()).toBe(EXIT_KILLED);
    });
    expect(after).toBe(false);
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  /** rx receives one message of three files (x, y, z) that tx sends with one scm_fp_list. */
  async function threeFiles(
    recv: (p: Process) => Promise<void>,
    flushes: Record<string, number>,
    releases: Record<string, number>,
  ) {
    return scenario(async (k) => {
      for (const path of ["/dev/x", "/dev/y", "/dev/z"])
        k.registerChrdev(path, {
          flush: async () => {
            flushes[path] = (flushes[path] ?? 0) + 1;
            return 0;
          },
          release: async () => {
            releases[path] = (releases[path] ?? 0) + 1;
          },
        });
      const rx = k.spawnProcess("rx", recv);
      const tx = k.spawnProcess("tx", async (p) => {
        for (const path of ["/dev/x", "/dev/y", "/dev/z"]) await p.open(path, O_RDWR);
        expect(await scmSendFds(rx.socket, [0, 1, 2])).toBe(0);
      });
      await tx.wait();
      await rx.wait();
    });
  }

  it("recvmsg without a free fd succeeds with MSG_CTRUNC and no fd (scm_detach_fds()); the file is dropped", async () => {
    const { st, fops } = device();
    const { r, leaks } = await scenario(async (k) => {
      k.registerChrdev("/dev/d", fops);
      const rx = k.spawnProcess("rx", async (p) => {
        expect(await p.setrlimit(RLIMIT_NOFILE, 1)).toBe(0);
        expect(await p.open("/dev/d", O_RDWR)).toBe(0);
        expect(await p.recvmsg()).toEqual({ fds: [], msgFlags: MSG_CTRUNC });
        expect(p.socket.pending).toBe(0);
        expect(p.files.openFdList()).toEqual([0]);
      });
      const tx = k.spawnProcess("tx", async (p) => {
        expect(await p.sendFd(rx, await p.open("/dev/d", O_RDWR))).toBe(0);
      });
      await tx.wait();
      await rx.wait();
      expect(st.releases).toBe(2);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("recvmsg installs the files that fit, in order, and sets MSG_CTRUNC for the rest", async () => {
    const flushes: Record<string, number> = {};
    const releases: Record<string, number> = {};
    const { r, leaks } = await threeFiles(
      async (p) => {
        // Room for two fds in the control buffer.
        const got = await p.recvmsg({ maxFds: 2 });
        expect(got).toEqual({ fds: [0, 1], msgFlags: MSG_CTRUNC });
        expect(p.files.openFdList()).toEqual([0, 1]);
      },
      flushes,
      releases,
    );
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
    // z never got an fd in rx, so rx never closed it: its one ->flush is tx's close at exit.
    expect(flushes).toEqual({ "/dev/x": 2, "/dev/y": 2, "/dev/z": 1 });
    expect(releases).toEqual({ "/dev/x": 1, "/dev/y": 1, "/dev/z": 1 });
  });

  it("recvmsg stops at the first file without a free fd: the later ones are dropped too (MSG_CTRUNC)", async () => {
    const { r, leaks } = await threeFiles(
      async (p) => {
        expect(await p.setrlimit(RLIMIT_NOFILE, 1)).toBe(0);
        expect(await p.recvmsg()).toEqual({ fds: [0], msgFlags: MSG_CTRUNC });
      },
      {},
      {},
    );
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("recvmsg with no room for fds (maxFds 0) installs none and sets MSG_CTRUNC; bad options", async () => {
    const { r, leaks } = await threeFiles(
      async (p) => {
        expect(await p.recvmsg({ maxFds: -1 })).toBe(-EINVAL);
        expect(await p.recvmsg(null as unknown as undefined)).toBe(-EFAULT);
        expect(await p.recvmsg({ maxFds: 0 })).toEqual({ fds: [], msgFlags: MSG_CTRUNC });
        expect(p.files.openFdList()).toEqual([]);
        expect(await p.recvmsg({ nonblock: true })).toBe(-EAGAIN);
      },
      {},
      {},
    );
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("recvFd (room for one fd) installs only the first file of a longer message, without installing and closing the rest", async () => {
    const flushes: Record<string, number> = {};
    const releases: Record<string, number> = {};
    const { r, leaks } = await threeFiles(
      async (p) => {
        expect(await p.recvFd()).toBe(0);
        expect(p.files.openFdList()).toEqual([0]);
      },
      flushes,
      releases,
    );
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
    // y and z were never installed in rx (no ->flush from rx: only tx's closes at exit).
    expect(flushes).toEqual({ "/dev/x": 2, "/dev/y": 1, "/dev/z": 1 });
    expect(releases).toEqual({ "/dev/x": 1, "/dev/y": 1, "/dev/z": 1 });
  });
});
