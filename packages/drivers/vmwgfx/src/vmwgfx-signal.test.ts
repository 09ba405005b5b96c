/**
 * vmwgfx's interruptible mutexes (v6.18, read in the 6.18.35 stable tree): vmw_execbuf_process()
 * takes cmdbuf_mutex and ttm_prime_handle_to_fd() the prime mutex with
 * mutex_lock_interruptible(), turning -EINTR into -ERESTARTSYS; a killed thread waiting there
 * unwinds (the lookup's base reference dropped) and dies.
 */
import {
  ERESTARTSYS,
  type Errno,
  EXIT_KILLED,
  isErr,
  Kernel,
  KmemCache,
  kfreeRcu,
  kmalloc,
  type Process,
} from "@primetime/kernel";
import { rcuBarrier } from "@primetime/rcu";
import { Simulation, type Task, yieldCpu } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import {
  bootVmw,
  execbuf,
  expectClean,
  mobCreate,
  ok as okVmw,
  openNode,
  shutdownVmw,
} from "./test-machine.js";
import {
  ttmObjectDeviceInit,
  ttmObjectDeviceRelease,
  ttmObjectFileInit,
  ttmObjectFileRelease,
  VMW_RES_SURFACE,
} from "./ttm-object.js";
import {
  TtmPrimeObject,
  ttmPrimeDmabufRelease,
  ttmPrimeHandleToFd,
  ttmPrimeObjectInit,
} from "./ttm-prime-object.js";
import { vmwPriv } from "./vmwgfx-drv.js";

async function untilAsleep(t: Task): Promise<void> {
  while (t.state !== "blocked") await yieldCpu();
}

const signalTestCache = new KmemCache("signal_test_prime_object");

class TestObject extends TtmPrimeObject {
  constructor() {
    super(signalTestCache);
  }
}

function ok<T>(v: T | Errno): T {
  if (isErr(v)) throw new Error(`errno ${v}`);
  return v;
}

describe("vmwgfx and fatal signals", () => {
  it("EXECBUF waiting for cmdbuf_mutex is interrupted by the kill: the process exits while the mutex is still held", async () => {
    const got: { after?: boolean; code?: number } = {};
    const sim = new Simulation({ seed: 1 });
    const r = await sim.run(async () => {
      const m = await bootVmw(sim);
      const cmdbuf = vmwPriv(m.vmw.device).cmdbufMutex;
      let ready = false;
      let submitter: Task | null = null;
      const p = m.kernel.spawnProcess("client", async (p: Process) => {
        const fd = await openNode(p, m.vmw.render);
        const a = okVmw(await mobCreate(p, fd, 4096), "a");
        ready = true;
        while (submitter === null) await yieldCpu();
        await execbuf(p, fd, `fill ${a.handle} 1`);
        got.after = true;
      });
      while (!ready) await yieldCpu();
      await cmdbuf.lock();
      submitter = p.threads[0]!;
      await untilAsleep(submitter);
      p.kill();
      got.code = await p.wait();
      await cmdbuf.unlock();
      await shutdownVmw(m);
    });
    expectClean(r);
    expect(got).toEqual({ code: EXIT_KILLED });
  });

  it("PRIME_HANDLE_TO_FD waiting for the prime mutex: ttm_prime_handle_to_fd() returns -ERESTARTSYS and drops its lookup reference", async () => {
    const got: { ret?: number } = {};
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const kernel = Kernel.boot();
      const noOps = { mapDmaBuf: () => -38 as never, unmapDmaBuf: () => {} };
      const tdev = ok(ttmObjectDeviceInit(noOps, ttmPrimeDmabufRelease));
      const f1 = ok(ttmObjectFileInit(tdev));
      const o = ok(kmalloc(signalTestCache, () => new TestObject()));
      expect(
        await ttmPrimeObjectInit(f1, 4096, o, VMW_RES_SURFACE, (b) => kfreeRcu(b as TestObject)),
      ).toBe(0);
      await o.mutex.lock();
      const p = kernel.spawnProcess("client", async (p: Process) => {
        got.ret = await ttmPrimeHandleToFd(f1, o.handle, 0);
        await p.dup(0);
      });
      await untilAsleep(p.threads[0]!);
      p.kill();
      expect(await p.wait()).toBe(EXIT_KILLED);
      await o.mutex.unlock();
      // Only the handle's reference is left: releasing the file frees the object.
      await ttmObjectFileRelease(f1);
      await kernel.quiesce();
      await rcuBarrier();
      await ttmObjectDeviceRelease(tdev);
      await kernel.checkLeaks();
    });
    expectClean(r);
    expect(got.ret).toBe(-ERESTARTSYS);
  });
});
