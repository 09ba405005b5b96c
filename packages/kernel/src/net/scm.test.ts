import { Simulation, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { type FileOperations, O_CLOEXEC, O_RDWR } from "../fs/file.js";
import { EAGAIN, EBADF, EINVAL, EMFILE, ENOMEM, EPIPE } from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import { EXIT_KILLED, type Process } from "../kernel/process.js";
import { RLIMIT_NOFILE } from "../kernel/syscalls.js";
import { allocationCount, setFailslab } from "../mm/failslab.js";
import { scmFpListCache } from "./scm.js";

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
});
