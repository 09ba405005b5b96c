import { Simulation, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { type FileOperations, O_RDWR } from "../fs/file.js";
import { isErr } from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import { currentProcess, EXIT_CRASHED, EXIT_KILLED, type Process } from "./process.js";
import { ThreadExit } from "./syscalls.js";

function device() {
  const st = { releases: 0, openedBy: [] as (Process | null)[] };
  const fops: FileOperations = {
    open: async () => {
      st.openedBy.push(currentProcess());
      return 0;
    },
    release: async () => {
      st.releases++;
    },
  };
  return { st, fops };
}

async function scenario(body: (k: Kernel) => Promise<void>, seed = 2) {
  let leaks = -1;
  const r = await new Simulation({ seed }).run(async () => {
    const k = Kernel.boot();
    await body(k);
    leaks = (await k.checkLeaks()).length;
  });
  expect(r.outcome).toBe("ok");
  return { r, leaks };
}

describe("processes and threads", () => {
  it("threads share the fd table; the driver sees the calling process", async () => {
    const { st, fops } = device();
    let proc: Process | null = null;
    const { r, leaks } = await scenario(async (k) => {
      k.registerChrdev("/dev/d", fops);
      proc = k.spawnProcess("app", async (p) => {
        const t = p.spawnThread("worker", async (p) => {
          expect(await p.open("/dev/d", O_RDWR)).toBe(0);
        });
        await t.join();
        expect(p.files.openFdList()).toEqual([0]);
        expect(await p.close(0)).toBe(0);
        expect(p.threads.length).toBe(2);
        expect(p.threads[1]!.name).toBe("app:worker");
      });
      expect(await proc.wait()).toBe(0);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
    expect(st.openedBy).toEqual([proc]);
    expect(st.releases).toBe(1);
    expect(proc!.pid).toBe(1);
    expect(proc!.state).toBe("dead");
  });

  it("returning from main exits the group: other threads die at their next syscall", async () => {
    const { st, fops } = device();
    let loops = 0;
    const { r, leaks } = await scenario(async (k) => {
      k.registerChrdev("/dev/d", fops);
      const p = k.spawnProcess("app", async (p) => {
        p.spawnThread("spinner", async (p) => {
          const fd = await p.open("/dev/d", O_RDWR);
          for (;;) {
            loops++;
            await p.lseek(fd, 0, 0);
          }
        });
        while (loops < 3) await yieldCpu();
      });
      expect(await p.wait()).toBe(0);
      expect(p.liveThreads).toBe(0);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
    expect(st.releases).toBe(1);
  });

  it("exit() from a secondary thread ends the process with its code", async () => {
    let after = false;
    const { r, leaks } = await scenario(async (k) => {
      const p = k.spawnProcess("app", async (p) => {
        const t = p.spawnThread("quitter", async (p) => {
          await p.exit(0x105);
          after = true;
        });
        await t.join();
        await p.dup(0); // dies here
        after = true;
      });
      expect(await p.wait()).toBe(5);
    });
    expect(after).toBe(false);
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
  });

  it("kill() ends a process at its next syscall", async () => {
    const { st, fops } = device();
    const { r, leaks } = await scenario(async (k) => {
      k.registerChrdev("/dev/d", fops);
      const p = k.spawnProcess("victim", async (p) => {
        await p.open("/dev/d", O_RDWR);
        for (;;) await p.dup(0);
      });
      while (st.openedBy.length === 0) await yieldCpu();
      p.kill();
      expect(p.state).toBe("exiting");
      expect(await p.wait()).toBe(EXIT_KILLED);
      // A thread started now never runs.
      let ran = false;
      const t = p.spawnThread("late", () => {
        ran = true;
      });
      await t.join();
      expect(ran).toBe(false);
    });
    expect(r.splats).toEqual([]);
    expect(leaks).toBe(0);
    expect(st.releases).toBe(1);
  });

  it("an exception escaping userspace crashes the process: its files are released and the bug reported", async () => {
    const { st, fops } = device();
    const { r, leaks } = await scenario(async (k) => {
      k.registerChrdev("/dev/d", fops);
      const p = k.spawnProcess("crasher", async (p) => {
        await p.open("/dev/d", O_RDWR);
        throw new Error("segfault");
      });
      expect(await p.wait()).toBe(EXIT_CRASHED);
    });
    expect(r.splats.map((s) => [s.kind, s.message])).toEqual([
      ["bug", "unhandled exception in crasher[2]: segfault"],
    ]);
    expect(leaks).toBe(0);
    expect(st.releases).toBe(1);
  });

  it("exit() called from another task is a usage error", async () => {
    const { r } = await scenario(async (k) => {
      const p = k.spawnProcess("app", async () => {});
      await expect(p.exit(0)).rejects.toThrow(/must be called from one of its threads/);
      await p.wait();
    });
    expect(r.splats).toEqual([]);
  });

  it("spawnProcess needs a running simulation; ThreadExit carries no oops on a plain exit", () => {
    expect(() => new Kernel(null).spawnProcess("x", async () => {})).toThrow(/running simulation/);
    expect(new ThreadExit("x").oops).toBeUndefined();
  });
});

describe("Kernel", () => {
  it("boot makes the kernel current; liveProcesses and quiesce", async () => {
    const r = await new Simulation({ seed: 1 }).run(async () => {
      expect(Kernel.current()).toBeNull();
      const k = Kernel.boot();
      expect(Kernel.current()).toBe(k);
      const p = k.spawnProcess("a", async () => {});
      expect(k.liveProcesses()).toEqual([p]);
      await p.wait();
      expect(k.liveProcesses()).toEqual([]);
      expect(await k.quiesce()).toBeGreaterThanOrEqual(2);
      expect(isErr(k.registerChrdev("/dev/a", {}))).toBe(false);
      expect(k.unregisterChrdev("/dev/a")).toBe(0);
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
  });

  it("checkLeaks reports what is still allocated", async () => {
    let leaked = 0;
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      k.registerChrdev("/dev/d", {});
      const p = k.spawnProcess("holder", async (p) => {
        await p.open("/dev/d", O_RDWR);
        for (;;) await p.dup(99); // never exits on its own
      });
      while (p.files.openFdList().length === 0) await yieldCpu();
      leaked = (await k.checkLeaks()).length;
      p.kill();
    });
    expect(leaked).toBe(1);
    expect(r.splats.map((s) => s.kind)).toEqual(["kmemleak"]);
  });
});

describe("waitpid reaps only after every thread has finished exiting", () => {
  it("main opens a file and returns while a helper sleeps in recvmsg: nothing leaks (pct seeds)", async () => {
    const { fops } = device();
    let leaky = 0;
    for (let seed = 1; seed <= 300; seed++) {
      let leaks = -1;
      const r = await new Simulation({ seed, strategy: { kind: "pct" } }).run(async () => {
        const k = Kernel.boot();
        k.registerChrdev("/dev/d", fops);
        const p = k.spawnProcess("app", async (p) => {
          p.spawnThread("helper", async (p) => {
            await p.recvFd();
          });
          expect(await p.open("/dev/d", O_RDWR)).toBe(0);
        });
        expect(await p.wait()).toBe(0);
        expect(p.liveThreads).toBe(0);
        leaks = (await k.checkLeaks()).length;
      });
      expect(r.outcome).toBe("ok");
      if (leaks !== 0) leaky++;
    }
    expect(leaky).toBe(0);
  });
});
