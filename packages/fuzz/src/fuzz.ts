/**
 * The fuzz workload: several processes, each with a few threads, issue random sequences of
 * syscalls on the devices of the driver(s) under test, with valid and invalid arguments: open
 * card and render nodes, create dumb buffers, GEM_CLOSE, GEM_FLINK and GEM_OPEN, PRIME export
 * and import on the same and on the other device, dup and close, SCM_RIGHTS fd passing between
 * processes, CPU mappings, garbage ioctls and hostile syscall arguments, and exit mid-way.
 * Every choice is drawn with the simulation's `choose()`, so a run is replayed exactly by its
 * token, and the scheduler interleaves the threads at every scheduling point of the kernel.
 *
 * The oracles are all of the simulation's (refcount, KASAN, lockdep, RCU, WARN/BUG, deadlock,
 * kmemleak and the DRM device counters after the machine is quiesced) plus the userspace
 * reference model (model.ts): what the kernel returns is checked against what each process
 * should see. Nothing in here is specific to a race or a toggle.
 *
 * A thread owns the fds it opened (it alone closes them); with some probability an operation
 * uses a sibling thread's DRM fd instead, which marks that file shared: its handles may then
 * change under the owner, and only the interleaving-proof checks apply to it.
 */

import type { DriverUnderTest, RegisteredDevice } from "@primetime/gem";
import { type DrmDevice, drmDevCheckLeaks, drmDevCounters } from "@primetime/gem";
import {
  EACCES,
  EAGAIN,
  EBADF,
  EFAULT,
  EINVAL,
  EMFILE,
  ENOENT,
  ENOMEM,
  ENOSPC,
  EPIPE,
  Kernel,
  liveObjects,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  type Process,
  type SlabObject,
} from "@primetime/kernel";
import { choose, type Simulation } from "@primetime/sim";
import {
  DRM_CLOEXEC,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_RDWR,
  O_RDWR,
  SEEK_END,
} from "@primetime/uapi";
import { FuzzModel, ModelFile, readStamp, STAMP_BYTES, stampOf } from "./model.js";

/** The shape of one fuzz run. */
export interface FuzzOptions {
  /** The driver(s) to run on: two devices are registered, cycling through this list. */
  readonly drivers: readonly DriverUnderTest[];
  /** Processes (default 3). */
  readonly processes?: number;
  /** Threads per process (default 2). */
  readonly threads?: number;
  /** Operations per thread (default 10). */
  readonly ops?: number;
  /** The machine's RAM in bytes (default: the kernel's default). */
  readonly ramBytes?: number;
}

interface DeviceNodes {
  readonly device: DrmDevice;
  readonly card: string;
  readonly render: string | null;
}

interface FdEntry {
  readonly fd: number;
  readonly kind: "drm" | "dmabuf";
  /** The DRM file (kind "drm"). */
  readonly file?: ModelFile;
  /** The buffer the dma-buf is (kind "dmabuf"), from its stamp. */
  readonly buf?: number;
}

interface ThreadCtx {
  readonly p: Process;
  readonly fds: FdEntry[];
  readonly siblings: ThreadCtx[];
}

/** A handle observed to name a buffer, checked once the run is over (see model.ts). */
interface NameObservation {
  readonly dev: number;
  readonly name: number;
  readonly buf: number;
  readonly size: number;
  readonly reported: number;
}

async function registerNodes(driver: DriverUnderTest, kernel: Kernel): Promise<DeviceNodes> {
  const r = await driver.register(kernel);
  const reg: RegisteredDevice = "device" in r && !("driver" in r) ? r : { device: r as DrmDevice };
  const device = reg.device;
  const card = reg.card ?? device.primary?.path;
  if (!card) throw new Error(`${driver.name}: the registered device has no primary node`);
  return {
    device,
    card,
    render: reg.render !== undefined ? reg.render : (device.render?.path ?? null),
  };
}

const PAGE = 4096;
/** The buffer of a handle whose object carries no stamp the model can trust. */
const UNKNOWN_BUFFER = 0;
const MAX_FDS_PER_THREAD = 10;

/**
 * One fuzz run as a simulation scenario: boots a kernel, registers the devices, runs the
 * processes, waits for them, quiesces, checks the device counters and kmemleak, then checks the
 * model's deferred observations. Returns the model (its divergences are also splats).
 */
export function fuzzScenario(opts: FuzzOptions): (sim: Simulation) => Promise<void> {
  if (opts.drivers.length === 0) throw new RangeError("fuzz needs at least one driver");
  const nProc = opts.processes ?? 3;
  const nThreads = opts.threads ?? 2;
  const nOps = opts.ops ?? 10;
  return async () => {
    const kernel = Kernel.boot(undefined, opts.ramBytes ? { ramBytes: opts.ramBytes } : {});
    const devs: DeviceNodes[] = [];
    for (let i = 0; i < 2; i++)
      devs.push(await registerNodes(opts.drivers[i % opts.drivers.length]!, kernel));
    const baselines = devs.map((d) => drmDevCounters(d.device));
    const survivors = new Set<SlabObject>(liveObjects());
    const model = new FuzzModel();
    const names: NameObservation[] = [];
    let exited = false;
    const procs: Process[] = [];
    for (let i = 0; i < nProc; i++) {
      const proc = kernel.spawnProcess(`fuzz${i}`, async (p) => {
        const ctxs: ThreadCtx[] = [];
        const body = async (ctx: ThreadCtx) => {
          // Something to work on: a card fd and a buffer.
          await opOpen(ctx, true);
          await opCreate(ctx);
          for (let k = 0; k < nOps; k++) {
            const r = await step(ctx);
            if (r === "exit") {
              exited = true;
              return;
            }
          }
        };
        const mk = (tp: Process): ThreadCtx => {
          const c: ThreadCtx = { p: tp, fds: [], siblings: ctxs };
          ctxs.push(c);
          return c;
        };
        const main = mk(p);
        const others = Array.from({ length: nThreads - 1 }, (_, t) => {
          const c = mk(p);
          return p.spawnThread(`t${t + 1}`, () => body(c));
        });
        await body(main);
        for (const t of others) await t.join();
      });
      procs.push(proc);
    }

    /** One random operation of a thread; "exit" ends its process. */
    async function step(ctx: ThreadCtx): Promise<"ok" | "exit"> {
      const op = choose(20, "fuzz op");
      switch (op) {
        case 0:
        case 1:
          return opOpen(ctx);
        case 2:
        case 3:
        case 4:
          return opCreate(ctx);
        case 5:
        case 6:
          return opGemClose(ctx);
        case 7:
          return opFlink(ctx);
        case 8:
          return opGemOpen(ctx);
        case 9:
        case 10:
          return opExport(ctx);
        case 11:
          return opImport(ctx);
        case 12:
          return opDup(ctx);
        case 13:
          return opClose(ctx);
        case 14:
          return opSend(ctx);
        case 15:
          return opRecv(ctx);
        case 16:
          return opGarbageIoctl(ctx);
        case 17:
          return opHostile(ctx);
        case 18:
          return opTouch(ctx);
        default:
          // Exit mid-way, rarely: the whole process goes, its other threads at their next
          // syscall boundary.
          if (choose(8, "fuzz exit") === 0) {
            exited = true;
            await ctx.p.exit(choose(3, "fuzz exit code"));
          }
          return "ok";
      }
    }

    function pick<T>(list: readonly T[], label: string): T | undefined {
      return list.length === 0 ? undefined : list[choose(list.length, label)];
    }

    /** A DRM fd of this thread (or, sometimes, of a sibling: the file becomes shared). */
    function pickDrm(ctx: ThreadCtx, primaryOnly = false): { e: FdEntry; own: boolean } | null {
      let owner = ctx;
      if (ctx.siblings.length > 1 && choose(2, "fuzz sibling fd") === 0)
        owner = pick(ctx.siblings, "fuzz sibling") ?? ctx;
      const list = owner.fds.filter((e) => e.kind === "drm" && (!primaryOnly || e.file!.primary));
      const e = pick(list, "fuzz drm fd");
      if (!e) return null;
      const own = owner === ctx;
      if (!own) e.file!.shared = true;
      return { e, own };
    }

    function ownDmabuf(ctx: ThreadCtx): FdEntry | undefined {
      return pick(
        ctx.fds.filter((e) => e.kind === "dmabuf"),
        "fuzz dmabuf fd",
      );
    }

    /** Maps `len` bytes of `fd` at `offset`, reads the stamp, unmaps. null on any failure. */
    async function stampAt(p: Process, fd: number, offset: number, len: number) {
      const addr = await p.mmap(0, len, PROT_READ, MAP_SHARED, fd, offset);
      if (addr < 0) return null;
      const bytes = await p.readMemory(addr, STAMP_BYTES);
      await p.munmap(addr, len);
      const st = typeof bytes === "number" ? null : readStamp(bytes);
      // A stamp that may be on the wrong object names nothing for sure.
      return st && !model.ambiguous.has(st.id) ? st : null;
    }

    /** The stamp of the object `handle` names in `fd`'s file (MAP_DUMB + mmap). */
    async function stampOfHandle(p: Process, fd: number, handle: number) {
      const arg = { handle, pad: 0, offset: 0 };
      if ((await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, arg)) !== 0) return null;
      return stampAt(p, fd, arg.offset, PAGE);
    }

    async function opOpen(ctx: ThreadCtx, card = false): Promise<"ok"> {
      if (ctx.fds.length >= MAX_FDS_PER_THREAD) return "ok";
      const dev = choose(devs.length, "fuzz dev");
      const d = devs[dev]!;
      const primary = card || d.render === null || choose(3, "fuzz node") !== 0;
      const fd = await ctx.p.open(primary ? d.card : d.render!, O_RDWR);
      if (fd < 0) {
        if (fd !== -EMFILE && fd !== -ENOMEM) model.diverge(`open(${d.card}) = ${fd}`);
        return "ok";
      }
      ctx.fds.push({ fd, kind: "drm", file: new ModelFile(fd * 1000 + dev, dev, primary) });
      return "ok";
    }

    async function opCreate(ctx: ThreadCtx): Promise<"ok"> {
      const pk = pickDrm(ctx, true);
      if (!pk) return opOpen(ctx);
      const { e, own } = pk;
      const f = e.file!;
      const pages = 1 + choose(4, "fuzz pages");
      const invalid = choose(10, "fuzz create invalid") === 0;
      const arg = {
        width: invalid ? 0 : 1024,
        height: pages,
        bpp: 32,
        flags: 0,
        handle: 0,
        pitch: 0,
        size: 0,
      };
      const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_CREATE_DUMB, arg);
      if (invalid) {
        if (ret >= 0) model.diverge(`CREATE_DUMB with width 0 succeeded (${ret})`);
        return "ok";
      }
      if (ret !== 0) {
        if (ret !== -ENOMEM && ret !== -ENOSPC && own && !f.shared)
          model.diverge(`CREATE_DUMB = ${ret}`);
        return "ok";
      }
      if (!f.shared && own && f.live.has(arg.handle))
        model.diverge(`CREATE_DUMB returned handle ${arg.handle}, still live in this file`);
      const b = model.addBuffer(arg.size, f.dev);
      f.addHandle(arg.handle, b.id);
      // Stamp it before anything can share it.
      const map = { handle: arg.handle, pad: 0, offset: 0 };
      if ((await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_MAP_DUMB, map)) !== 0) {
        model.ambiguous.add(b.id);
        return "ok";
      }
      const addr = await ctx.p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, e.fd, map.offset);
      if (addr < 0) {
        if (!f.shared && own) model.diverge(`mmap of a new buffer = ${addr}`);
        model.ambiguous.add(b.id);
        return "ok";
      }
      // A sibling that started using the file may have closed the handle and got it back for
      // another object before MAP_DUMB: it marked the file shared before its close, so checking
      // here, before the store, tells whether the mapping may be of another object.
      if (f.shared || !own) {
        model.ambiguous.add(b.id);
        await ctx.p.munmap(addr, PAGE);
        return "ok";
      }
      const w = await ctx.p.writeMemory(addr, stampOf(b.id, b.size / PAGE));
      if (w !== STAMP_BYTES && !f.shared) model.diverge(`stamp store = ${w}`);
      await ctx.p.munmap(addr, PAGE);
      return "ok";
    }

    async function opGemClose(ctx: ThreadCtx): Promise<"ok"> {
      const pk = pickDrm(ctx);
      if (!pk) return "ok";
      const { e, own } = pk;
      const f = e.file!;
      const kind = choose(4, "fuzz close kind");
      let handle: number;
      let expect: number | null = null;
      if (kind === 0) {
        handle = [0, 0x7fffffff, 0xffffffff][choose(3, "fuzz bad handle")]!;
        expect = -EINVAL;
      } else if (kind === 1 && f.closed.size > 0) {
        handle = pick([...f.closed], "fuzz closed handle")!;
        expect = -EINVAL;
      } else {
        const h = pick([...f.live.keys()], "fuzz live handle");
        if (h === undefined) return "ok";
        handle = h;
        expect = 0;
      }
      const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_GEM_CLOSE, { handle, pad: 0 });
      // Evaluated after the call: a sibling that started using the file meanwhile marked it.
      const strict = own && !f.shared;
      if (expect !== null && (strict || (kind === 0 && own)) && ret !== expect && ret !== -EACCES)
        model.diverge(`GEM_CLOSE(${handle}) = ${ret}, expected ${expect}`);
      if (ret === 0 || f.live.has(handle)) {
        f.live.delete(handle);
        f.closed.add(handle);
      }
      return "ok";
    }

    async function opFlink(ctx: ThreadCtx): Promise<"ok"> {
      const pk = pickDrm(ctx, true);
      if (!pk) return "ok";
      const { e, own } = pk;
      const f = e.file!;
      const h = pick([...f.live.keys()], "fuzz flink handle");
      if (h === undefined) return "ok";
      const buf = f.live.get(h)!;
      const arg = { handle: h, name: 0 };
      const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_GEM_FLINK, arg);
      if (ret !== 0) {
        if (own && !f.shared && ret !== -EACCES && ret !== -ENOMEM && ret !== -ENOSPC)
          model.diverge(`GEM_FLINK of live handle ${h} = ${ret}`);
        return "ok";
      }
      model.addName(f.dev, arg.name, buf);
      if (!own) return "ok";
      // The name of an object this file still holds must open that very object.
      const open = { name: arg.name, handle: 0, size: 0 };
      const r2 = await ctx.p.ioctl(e.fd, DRM_IOCTL_GEM_OPEN, open);
      if (r2 !== 0) {
        if (!f.shared && r2 !== -EACCES && r2 !== -ENOMEM && r2 !== -ENOSPC)
          model.diverge(`GEM_OPEN of name ${arg.name} just made for a live handle = ${r2}`);
        return "ok";
      }
      f.addHandle(open.handle, buf);
      const st = await stampOfHandle(ctx.p, e.fd, open.handle);
      if (f.shared) return "ok";
      if (st && st.id !== buf)
        model.diverge(`GEM_OPEN(name ${arg.name} of buffer ${buf}) opened buffer ${st.id}`);
      const size = model.buffers.get(buf)?.size;
      if (size !== undefined && open.size !== size)
        model.diverge(`GEM_OPEN(name ${arg.name}) size ${open.size}, buffer ${buf} has ${size}`);
      return "ok";
    }

    async function opGemOpen(ctx: ThreadCtx): Promise<"ok"> {
      const pk = pickDrm(ctx, true);
      if (!pk) return "ok";
      const { e } = pk;
      const f = e.file!;
      const cands = model.knownNames.filter(([dev]) => dev === f.dev);
      const known = pick(cands, "fuzz name");
      const name = known && choose(6, "fuzz bad name") !== 0 ? known[1] : 0x7ffffff0;
      const arg = { name, handle: 0, size: 0 };
      const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_GEM_OPEN, arg);
      if (name === 0x7ffffff0) {
        if (pk.own && ret !== -ENOENT && ret !== -EACCES)
          model.diverge(`GEM_OPEN(unknown name) = ${ret}`);
        return "ok";
      }
      if (ret !== 0) return "ok";
      f.addHandle(arg.handle, UNKNOWN_BUFFER);
      const st = await stampOfHandle(ctx.p, e.fd, arg.handle);
      if (st && pk.own && !f.shared) {
        names.push({
          dev: f.dev,
          name,
          buf: st.id,
          size: model.buffers.get(st.id)?.size ?? -1,
          reported: arg.size,
        });
        f.addHandle(arg.handle, st.id);
      }
      return "ok";
    }

    async function opExport(ctx: ThreadCtx): Promise<"ok"> {
      if (ctx.fds.length >= MAX_FDS_PER_THREAD) return "ok";
      const pk = pickDrm(ctx);
      if (!pk) return "ok";
      const { e, own } = pk;
      const f = e.file!;
      const h = pick([...f.live.keys()], "fuzz export handle");
      if (h === undefined) return "ok";
      const arg = { handle: h, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
      const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, arg);
      if (ret !== 0) {
        if (own && !f.shared && ret !== -EMFILE && ret !== -ENOMEM)
          model.diverge(`PRIME_HANDLE_TO_FD of live handle ${h} = ${ret}`);
        return "ok";
      }
      const st = await stampAt(ctx.p, arg.fd, 0, PAGE);
      const size = await ctx.p.lseek(arg.fd, 0, SEEK_END);
      await ctx.p.lseek(arg.fd, 0, 0);
      if (st) {
        const b = model.buffers.get(st.id);
        if (own && !f.shared && !f.handleHasNamed(h, st.id))
          model.diverge(`PRIME export of handle ${h} gave buffer ${st.id}, which it never named`);
        if (b && size !== b.size)
          model.diverge(`dma-buf of buffer ${st.id} has size ${size}, the buffer ${b.size}`);
        model.exported.add(st.id);
      }
      ctx.fds.push({ fd: arg.fd, kind: "dmabuf", buf: st?.id });
      return "ok";
    }

    async function opImport(ctx: ThreadCtx): Promise<"ok"> {
      const d = ownDmabuf(ctx);
      const pk = pickDrm(ctx);
      if (!d || !pk) return "ok";
      const { e } = pk;
      const f = e.file!;
      const arg = { handle: 0, flags: 0, fd: d.fd };
      const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, arg);
      if (ret !== 0) return "ok";
      if (d.buf === undefined) {
        f.addHandle(arg.handle, UNKNOWN_BUFFER);
        return "ok";
      }
      // What does the new handle name? Natively: map it; foreign: re-export it and map that.
      let st = await stampOfHandle(ctx.p, e.fd, arg.handle);
      if (!st) {
        const re = { handle: arg.handle, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
        if ((await ctx.p.ioctl(e.fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, re)) === 0) {
          st = await stampAt(ctx.p, re.fd, 0, PAGE);
          await ctx.p.close(re.fd);
        }
      }
      if (st && st.id !== d.buf && pk.own && !f.shared)
        model.diverge(
          `PRIME import of a dma-buf of buffer ${d.buf} gave a handle to buffer ${st.id}`,
        );
      f.addHandle(arg.handle, d.buf);
      return "ok";
    }

    async function opDup(ctx: ThreadCtx): Promise<"ok"> {
      if (ctx.fds.length >= MAX_FDS_PER_THREAD) return "ok";
      const e = pick(ctx.fds, "fuzz dup fd");
      if (!e) return "ok";
      const fd = await ctx.p.dup(e.fd);
      if (fd < 0) {
        if (fd !== -EMFILE) model.diverge(`dup(${e.fd}) of an open fd = ${fd}`);
        return "ok";
      }
      ctx.fds.push({ ...e, fd });
      return "ok";
    }

    async function opClose(ctx: ThreadCtx): Promise<"ok"> {
      if (choose(6, "fuzz close bad") === 0) {
        const ret = await ctx.p.close(4000 + choose(50, "fuzz bad fd"));
        if (ret !== -EBADF) model.diverge(`close(bad fd) = ${ret}`);
        return "ok";
      }
      const e = pick(ctx.fds, "fuzz close fd");
      if (!e) return "ok";
      ctx.fds.splice(ctx.fds.indexOf(e), 1);
      const ret = await ctx.p.close(e.fd);
      if (ret !== 0) model.diverge(`close(${e.fd}) of an open fd = ${ret}`);
      return "ok";
    }

    async function opSend(ctx: ThreadCtx): Promise<"ok"> {
      const d = ownDmabuf(ctx);
      if (!d || procs.length < 2) return "ok";
      const to = pick(
        procs.filter((q) => q !== ctx.p),
        "fuzz send to",
      );
      if (!to) return "ok";
      const ret = await ctx.p.sendFd(to, d.fd);
      if (ret !== 0 && ret !== -EPIPE && ret !== -ENOMEM) model.diverge(`sendFd = ${ret}`);
      return "ok";
    }

    async function opRecv(ctx: ThreadCtx): Promise<"ok"> {
      const fd = await ctx.p.recvFd({ nonblock: true, cloexec: choose(2, "fuzz cloexec") === 0 });
      if (fd < 0) {
        if (fd !== -EAGAIN && fd !== -EMFILE) model.diverge(`recvFd = ${fd}`);
        return "ok";
      }
      const size = await ctx.p.lseek(fd, 0, SEEK_END);
      await ctx.p.lseek(fd, 0, 0);
      const st = await stampAt(ctx.p, fd, 0, PAGE);
      if (st) {
        // (An export may have happened before its buffer was stamped: membership in the model's
        // exported set proves nothing; the size does.)
        const b = model.buffers.get(st.id);
        if (!b) model.diverge(`received a dma-buf stamped ${st.id}, which is no buffer`);
        else if (size !== b.size)
          model.diverge(`received dma-buf of buffer ${st.id} has size ${size}, not ${b.size}`);
      }
      if (ctx.fds.length >= MAX_FDS_PER_THREAD) {
        await ctx.p.close(fd);
        return "ok";
      }
      ctx.fds.push({ fd, kind: "dmabuf", buf: st?.id });
      return "ok";
    }

    async function opGarbageIoctl(ctx: ThreadCtx): Promise<"ok"> {
      const pk = pickDrm(ctx);
      const fd = pk?.e.fd ?? 4095;
      // Garbage converts to some value of the C type (1.5 -> handle 1): it may close or create
      // handles of this file, so the model stops making exact claims about it.
      if (pk) pk.e.file!.shared = true;
      const cmds = [
        DRM_IOCTL_GEM_CLOSE,
        DRM_IOCTL_GEM_FLINK,
        DRM_IOCTL_GEM_OPEN,
        DRM_IOCTL_PRIME_FD_TO_HANDLE,
        DRM_IOCTL_PRIME_HANDLE_TO_FD,
        DRM_IOCTL_MODE_MAP_DUMB,
        0xdeadbeef,
        -1,
      ];
      const args: unknown[] = [
        null,
        7,
        "x",
        [],
        { handle: -1 },
        { handle: 2 ** 40, fd: 2 ** 31 },
        { handle: 1.5, flags: -1 },
        { fd: 1e9, handle: 0, flags: 0 },
        { name: -3, handle: 0 },
        { handle: 1n },
      ];
      const cmd = cmds[choose(cmds.length, "fuzz garbage cmd")]!;
      const arg = args[choose(args.length, "fuzz garbage arg")];
      const ret = await ctx.p.ioctl(fd, cmd, arg);
      if (typeof ret !== "number" || !Number.isInteger(ret) || ret > 0)
        model.diverge(`garbage ioctl returned ${String(ret)}`);
      return "ok";
    }

    async function opHostile(ctx: ThreadCtx): Promise<"ok"> {
      const p = ctx.p;
      switch (choose(5, "fuzz hostile")) {
        case 0: {
          const r = await p.readMemory(0x10000 + choose(4, "fuzz addr") * PAGE, 2 ** 40);
          if (r !== -EFAULT)
            model.diverge(`readMemory(2**40) = ${typeof r === "number" ? r : "bytes"}`);
          return "ok";
        }
        case 1: {
          const r = await p.recvFd(null as unknown as undefined);
          if (r !== -EFAULT) model.diverge(`recvFd(null) = ${r}`);
          return "ok";
        }
        case 2: {
          const e = pick(ctx.fds, "fuzz hostile fd");
          const r = await p.sendFd({ socket: 1 } as unknown as Process, e?.fd ?? 0);
          if (r !== -EINVAL) model.diverge(`sendFd({socket: 1}) = ${r}`);
          return "ok";
        }
        case 3: {
          const bad = {
            get fd(): number {
              throw new Error("pollfd getter");
            },
            events: 1,
          };
          const r = await p.poll([bad as unknown as { fd: number; events: number }], 0);
          if (r !== -EFAULT) model.diverge(`poll(throwing pollfd) = ${r}`);
          return "ok";
        }
        default: {
          const r = await p.poll([], 1.5);
          if (r !== -EINVAL) model.diverge(`poll(timeout 1.5) = ${r}`);
          return "ok";
        }
      }
    }

    async function opTouch(ctx: ThreadCtx): Promise<"ok"> {
      // CPU access past the stamp through a dma-buf mapping: exercises faults and mmap refs.
      const d = ownDmabuf(ctx);
      if (!d) return "ok";
      const addr = await ctx.p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, d.fd, 0);
      if (addr < 0) return "ok";
      await ctx.p.writeMemory(addr + STAMP_BYTES + choose(64, "fuzz off"), new Uint8Array([0x33]));
      await ctx.p.readMemory(addr, STAMP_BYTES);
      await ctx.p.munmap(addr, PAGE);
      return "ok";
    }

    for (const proc of procs) await proc.wait();
    await kernel.quiesce();
    for (const [i, d] of devs.entries()) drmDevCheckLeaks(d.device, baselines[i]!);
    await kernel.checkLeaks({ ignore: (o) => survivors.has(o) });
    // Deferred checks: every flink is recorded by now (unless a thread died inside its flink,
    // in a run with an exit: then a name may have been given without the model knowing).
    for (const o of names) {
      if (!exited && !model.nameHasNamed(o.dev, o.name, o.buf))
        model.diverge(
          `GEM_OPEN(name ${o.name}) opened buffer ${o.buf}, never flinked as ${o.name}`,
        );
      if (o.size >= 0 && o.reported !== o.size)
        model.diverge(
          `GEM_OPEN(name ${o.name}) reported size ${o.reported}, buffer ${o.buf} has ${o.size}`,
        );
    }
  };
}
