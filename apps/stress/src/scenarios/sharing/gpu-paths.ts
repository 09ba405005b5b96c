/**
 * The drivers' GPU paths, as userspace drives them, for the contents checks of the sharing
 * scenarios: a GPU fill of a buffer and a GPU-side checksum of one, through each driver's own
 * command submission ioctl. A driver without one (vgem) has no GPU path; its buffers are filled
 * and checksummed by the CPU through a mapping.
 *
 * - qxl: DRM_IOCTL_QXL_EXECBUFFER of one drawable of the model's device (QXL_DRAW_FILL;
 *   QXL_DRAW_CHECKSUM, which writes the CRC-32 of the source into a 4-byte result in a buffer of
 *   the caller's, read back through QXL_MAP and mmap). Relocations name the buffers by handle,
 *   so an imported (foreign) buffer is reached by the device through its pages.
 * - vmwgfx: DRM_IOCTL_VMW_EXECBUF of `fill <handle> <byte>`; for a checksum, `copy <handle>
 *   <scratch>` into a buffer of the caller's, waited for with SYNCCPU grab, whose CRC-32 the CPU
 *   computes (the model's SVGA engine has no checksum command). Its execbuf reaches the device's
 *   own buffer objects only (an import of another device's dma-buf gets -EINVAL), so the client
 *   does not submit for a foreign import, as a userspace driver that knows its imports does:
 *   the caller falls back to its CPU view.
 *
 * GPU work is asynchronous: the device runs it after the ioctl returns. Userspace waits for it
 * the way a cross-driver consumer does, by implicit sync: poll(POLLOUT) on a dma-buf of the
 * buffer waits for every fence in its reservation (qxl fences with READ usage, vmwgfx with
 * WRITE). Checksums here are CRC-32 (`crc32` of @primetime/simgpu, the device's own).
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import type { BoMapping } from "@primetime/gem";
import { PROT_READ, PROT_WRITE, type Process } from "@primetime/kernel";
import { checkRet, type DrmFd, isSysError, type Mapping, mmap, poll } from "@primetime/libdrm";
import { DRM_IOCTL_QXL_MAP } from "@primetime/qxl";
import { type Draw, qxlSubmitDraw, qxlWriteDraw } from "@primetime/qxl/testing";
import { crc32 } from "@primetime/simgpu";
import {
  DRM_IOCTL_VMW_ALLOC_BO,
  DRM_IOCTL_VMW_EXECBUF,
  DRM_IOCTL_VMW_SYNCCPU,
  DRM_VMW_EXECBUF_VERSION,
  drm_vmw_synccpu_allow_cs,
  drm_vmw_synccpu_grab,
  drm_vmw_synccpu_read,
} from "@primetime/vmwgfx";
import { check } from "./machine.js";

/** POLLOUT (include/uapi/asm-generic/poll.h): on a dma-buf, every fence has signalled. */
const POLLOUT = 0x004;
/** How long (virtual ns) a consumer waits for the device before calling it hung. */
const GPU_WAIT_NS = 1_000_000_000;

/** A driver's GPU path (see the file comment). */
export interface GpuPath {
  readonly name: string;
  /**
   * The device runs the commands of one client in submission order (qxl: one command ring,
   * consumed in order, each command's batch run after the previous one on the GPU engine;
   * vmwgfx: the SVGA device's one command queue, each EXECBUF's commands run after the previous
   * submission's on the engine): a
   * checksum submitted after a fill of the same buffer through the same path sees the fill, and
   * the client need not wait for the fill first.
   */
  readonly inOrder?: boolean;
  /** The path as one process drives it on its open `fd` of `dev`. */
  client(dev: DeviceUnderTest, fd: DrmFd): GpuClient;
}

/**
 * One process's use of a GPU path. Its scratch memory (qxl: one buffer holding its commands and
 * checksum results, with its mapping; vmwgfx: the copy's scratch buffer and its mapping) is made
 * on first use and kept for the next command, as a userspace driver keeps its command and
 * staging buffers, until close().
 */
export interface GpuClient {
  /** Submits a fill of the first `len` bytes of `handle` with `value`; does not wait. */
  fill(handle: number, len: number, value: number): Promise<void>;
  /**
   * The CRC-32 of the first `len` bytes of `handle`, computed by the device; `handle` must be
   * idle (the caller waited on its dma-buf `dmaBuf`, or nothing wrote it through a GPU, or only
   * this client did through an `inOrder` path), and the device's own work on it is waited for
   * through `dmaBuf`. `foreign`: the handle is this process's PRIME import of another device's
   * buffer. Null if the device cannot reach this handle (the caller then checks through the
   * CPU).
   */
  checksum(handle: number, len: number, dmaBuf: number, foreign: boolean): Promise<number | null>;
  /**
   * A buffer of `len` bytes of the client's own driver, made the way the driver's userspace
   * makes one (vmwgfx: DRM_VMW_ALLOC_BO) and not mapped; absent when the driver's dumb buffers
   * are what its userspace uses.
   */
  create?(len: number): Promise<number>;
  /** Unmaps and closes the scratch memory. */
  close(): Promise<void>;
}

/**
 * Waits until every fence of the dma-buf's reservation has signalled (implicit sync); a
 * userspace check fails if the device does not finish in time.
 */
export async function waitIdle(p: Process, dmaBuf: number, what: string): Promise<void> {
  const fds = [{ fd: dmaBuf, events: POLLOUT, revents: 0 }];
  const n = await poll(p, fds, GPU_WAIT_NS);
  check(n === 1 && (fds[0]!.revents & POLLOUT) !== 0, `${what}: the GPU never went idle`);
}

/** The CRC-32 a buffer of `len` bytes all equal to `value` has (memoized: a pure function). */
const crcs = new Map<number, number>();
export function expectedCrc(value: number, len: number): number {
  const key = len * 256 + (value & 0xff);
  let c = crcs.get(key);
  if (c === undefined) {
    c = crc32(new Uint8Array(len).fill(value));
    crcs.set(key, c);
  }
  return c;
}

// ------------------------------------------------------------------------------------------ qxl

/** Where a qxl client's checksum result lands in its scratch buffer (after the command block). */
const QXL_RESULT_AT = 2048;

/**
 * qxl's client: one scratch buffer of the process (QXL_ALLOC of a page, mapped once with QXL_MAP
 * and mmap) holds its commands and its checksum results, as a userspace driver keeps its command
 * buffer in a buffer object: drawables of qxl's model device are written into it
 * (`qxlWriteDraw` of @primetime/qxl/testing, qxl's own client helper; EXECBUFFER copies them
 * from there) and a checksum's 4-byte CRC lands at QXL_RESULT_AT, read back after the draw. A
 * failed mmap, store or ioctl (fault injection) is a SysError, which a fault-tolerant scenario
 * counts as a failed syscall.
 */
class QxlClient implements GpuClient {
  private scratch: { handle: number; map: Mapping | null } | null = null;

  constructor(
    private readonly dev: DeviceUnderTest,
    private readonly fd: DrmFd,
  ) {}

  private get proc(): Process {
    return this.fd.proc as Process;
  }

  /** The scratch buffer, made and mapped on first use. */
  private async scratchBuffer(): Promise<{ handle: number; map: Mapping }> {
    if (!this.scratch) this.scratch = { handle: await this.dev.createBo(this.fd, 4096), map: null };
    const s = this.scratch;
    if (!s.map) {
      const arg = { offset: 0, handle: s.handle, pad: 0 };
      await this.fd.ioctl(DRM_IOCTL_QXL_MAP, arg, "QXL_MAP");
      s.map = await mmap(this.proc, this.fd.fd, arg.offset, 4096, PROT_READ | PROT_WRITE);
    }
    return { handle: s.handle, map: s.map };
  }

  private async draw(d: Draw, page: number): Promise<void> {
    const p = this.proc;
    checkRet(await qxlWriteDraw(p, page, d), "qxlWriteDraw");
    checkRet(await qxlSubmitDraw(p, this.fd.fd, page), "qxlSubmitDraw", {
      request: "DRM_IOCTL_QXL_EXECBUFFER",
    });
  }

  async fill(handle: number, len: number, value: number): Promise<void> {
    const s = await this.scratchBuffer();
    await this.draw({ op: "fill", size: len, value, dst: { handle, offset: 0 } }, s.map.addr);
  }

  async checksum(handle: number, len: number, dmaBuf: number): Promise<number | null> {
    const s = await this.scratchBuffer();
    await this.draw(
      {
        op: "checksum",
        size: len,
        value: 0,
        dst: { handle: s.handle, offset: QXL_RESULT_AT },
        src: { handle, offset: 0 },
      },
      s.map.addr,
    );
    // The draw fenced both buffers: the source's dma-buf waits for it.
    await waitIdle(this.proc, dmaBuf, "qxl checksum");
    const bytes = await s.map.read(QXL_RESULT_AT, 4);
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  }

  async close(): Promise<void> {
    const s = this.scratch;
    this.scratch = null;
    if (s?.map) await s.map.unmap();
    if (s) await this.fd.gemClose(s.handle);
  }
}

const QXL_GPU: GpuPath = {
  name: "qxl",
  inOrder: true,
  client: (dev, fd) => new QxlClient(dev, fd),
};

// --------------------------------------------------------------------------------------- vmwgfx

async function vmwExec(fd: DrmFd, commands: string): Promise<number> {
  const arg = { commands, version: DRM_VMW_EXECBUF_VERSION, flags: 0, fence_seqno: 0 };
  try {
    await fd.ioctl(DRM_IOCTL_VMW_EXECBUF, arg, "VMW_EXECBUF");
    return 0;
  } catch (e) {
    // vmw_user_bo_lookup(): not a vmwgfx buffer object (-ESRCH); an import of another
    // device's buffer, which this device cannot reach (-EINVAL).
    if (isSysError(e, "ESRCH")) return -3;
    if (isSysError(e, "EINVAL")) return -22;
    throw e;
  }
}

/** The smallest scratch buffer a vmwgfx client makes (4 pages: the largest cross-share buffer). */
const VMW_SCRATCH_MIN = 4 * 4096;

/**
 * vmwgfx's client: `fill` and `copy` command streams; a checksum copies the buffer into a scratch
 * buffer of the process (made on first use, at least VMW_SCRATCH_MIN bytes, grown when a longer
 * buffer comes, mapped once), waits for the copy with SYNCCPU grab and reads the scratch through
 * its mapping. The grab passes drm_vmw_synccpu_allow_cs: vmw_user_bo_synccpu_grab() then only
 * waits for the buffer's fences (dma_resv_wait_timeout(), READ usage) and counts no CPU writer,
 * so there is nothing to release (a release with allow_cs only looks the handle up). A foreign
 * import is not submitted: the device cannot reach it (-EINVAL), and no scratch is made for it.
 */
class VmwgfxClient implements GpuClient {
  private scratch: { handle: number; len: number; map: BoMapping } | null = null;

  constructor(private readonly fd: DrmFd) {}

  /** DRM_VMW_ALLOC_BO, unmapped (see allocBo()). */
  async create(len: number): Promise<number> {
    return (await this.allocBo(len)).handle;
  }

  /**
   * DRM_VMW_ALLOC_BO (vmw_gem_object_create_ioctl(): a buffer, its handle and its mmap offset in
   * one reply, what vmwgfx's userspace allocates with).
   */
  private async allocBo(len: number): Promise<{ handle: number; mapHandle: number }> {
    const arg = {
      size: len,
      pad64: 0,
      map_handle: 0,
      handle: 0,
      cur_gmr_id: 0,
      cur_gmr_offset: 0,
      rep_pad64: 0,
    };
    await this.fd.ioctl(DRM_IOCTL_VMW_ALLOC_BO, arg, "VMW_ALLOC_BO");
    return { handle: arg.handle, mapHandle: arg.map_handle };
  }

  /** allocBo() and mmap() of the offset its reply carries. */
  private async createMapped(len: number): Promise<{ handle: number; map: BoMapping }> {
    const { handle, mapHandle } = await this.allocBo(len);
    return { handle, map: await mmap(this.fd.proc, this.fd.fd, mapHandle, len) };
  }

  async fill(handle: number, _len: number, value: number): Promise<void> {
    const r = await vmwExec(this.fd, `fill ${handle} ${value & 0xff}`);
    check(r === 0, `vmwgfx execbuf fill of its own buffer ${handle}: ${r}`);
  }

  async checksum(
    handle: number,
    len: number,
    _dmaBuf: number,
    foreign: boolean,
  ): Promise<number | null> {
    if (foreign) return null;
    const fd = this.fd;
    if (this.scratch && this.scratch.len < len) await this.close();
    if (!this.scratch) {
      const size = Math.max(len, VMW_SCRATCH_MIN);
      this.scratch = { ...(await this.createMapped(size)), len: size };
    }
    const scratch = this.scratch;
    if ((await vmwExec(fd, `copy ${handle} ${scratch.handle}`)) !== 0) return null;
    const grab = {
      op: drm_vmw_synccpu_grab,
      flags: drm_vmw_synccpu_read | drm_vmw_synccpu_allow_cs,
      handle: scratch.handle,
      pad64: 0,
    };
    await fd.ioctl(DRM_IOCTL_VMW_SYNCCPU, grab, "VMW_SYNCCPU");
    return crc32(await scratch.map.read(0, len));
  }

  async close(): Promise<void> {
    const s = this.scratch;
    this.scratch = null;
    if (!s) return;
    await s.map.unmap();
    await this.fd.gemClose(s.handle);
  }
}

const VMWGFX_GPU: GpuPath = {
  name: "vmwgfx",
  inOrder: true,
  client: (_dev, fd) => new VmwgfxClient(fd),
};

/** The GPU paths by driver name: a driver not listed (vgem) has none. */
const GPU_PATHS: Readonly<Record<string, GpuPath>> = { qxl: QXL_GPU, vmwgfx: VMWGFX_GPU };

/** The GPU path of `dev`'s driver, or null: the caller fills and checksums with the CPU then. */
export function gpuPathOf(dev: DeviceUnderTest): GpuPath | null {
  return GPU_PATHS[dev.driver.name] ?? null;
}
