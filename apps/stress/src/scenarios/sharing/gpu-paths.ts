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
 *   computes (the model's SVGA engine has no checksum command). Its execbuf reaches vmwgfx
 *   buffer objects only: a foreign import (a plain GEM object) gets -ESRCH, and the caller falls
 *   back to its CPU view.
 *
 * GPU work is asynchronous: the device runs it after the ioctl returns. Userspace waits for it
 * the way a cross-driver consumer does, by implicit sync: poll(POLLOUT) on a dma-buf of the
 * buffer waits for every fence in its reservation (qxl fences with READ usage, vmwgfx with
 * WRITE). Checksums here are CRC-32 (`crc32` of @primetime/simgpu, the device's own).
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import { PROT_READ, type Process } from "@primetime/kernel";
import { checkRet, type DrmFd, isSysError, mmap, poll } from "@primetime/libdrm";
import { DRM_IOCTL_QXL_MAP } from "@primetime/qxl";
import { type Draw, qxlExecDraw } from "@primetime/qxl/testing";
import { crc32 } from "@primetime/simgpu";
import {
  DRM_IOCTL_VMW_EXECBUF,
  DRM_IOCTL_VMW_SYNCCPU,
  DRM_VMW_EXECBUF_VERSION,
  drm_vmw_synccpu_grab,
  drm_vmw_synccpu_read,
  drm_vmw_synccpu_release,
} from "@primetime/vmwgfx";
import { check } from "./machine.js";

/** POLLOUT (include/uapi/asm-generic/poll.h): on a dma-buf, every fence has signalled. */
const POLLOUT = 0x004;
/** How long (virtual ns) a consumer waits for the device before calling it hung. */
const GPU_WAIT_NS = 1_000_000_000;

/** A driver's GPU path (see the file comment). */
export interface GpuPath {
  readonly name: string;
  /** Submits a fill of the first `len` bytes of `handle` with `value`; does not wait. */
  fill(dev: DeviceUnderTest, fd: DrmFd, handle: number, len: number, value: number): Promise<void>;
  /**
   * The CRC-32 of the first `len` bytes of `handle`, computed by the device, once the buffer is
   * idle (`dmaBuf`: a dma-buf of it, waited on first); null if the device cannot reach this
   * handle (the caller then checks through the CPU).
   */
  checksum(
    dev: DeviceUnderTest,
    fd: DrmFd,
    handle: number,
    len: number,
    dmaBuf: number,
  ): Promise<number | null>;
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

/**
 * One drawable of qxl's model device, submitted with EXECBUFFER from an anonymous page: qxl's own
 * client helper (`qxlExecDraw` of @primetime/qxl/testing). A failed mmap, store or ioctl (fault
 * injection) is a SysError, which a fault-tolerant scenario counts as a failed syscall.
 */
async function qxlDraw(fd: DrmFd, d: Draw): Promise<void> {
  checkRet(await qxlExecDraw(fd.proc as Process, fd.fd, d), "qxlExecDraw", {
    request: "DRM_IOCTL_QXL_EXECBUFFER",
  });
}

const QXL_GPU: GpuPath = {
  name: "qxl",
  fill: (_dev, fd, handle, len, value) =>
    qxlDraw(fd, { op: "fill", size: len, value, dst: { handle, offset: 0 } }),
  async checksum(dev, fd, handle, len, dmaBuf) {
    const p = fd.proc as Process;
    await waitIdle(p, dmaBuf, "qxl checksum source");
    const result = await dev.createBo(fd, 4096);
    try {
      await qxlDraw(fd, {
        op: "checksum",
        size: len,
        value: 0,
        dst: { handle: result, offset: 0 },
        src: { handle, offset: 0 },
      });
      // The draw fenced both buffers: the source's dma-buf waits for it.
      await waitIdle(p, dmaBuf, "qxl checksum");
      const arg = { offset: 0, handle: result, pad: 0 };
      await fd.ioctl(DRM_IOCTL_QXL_MAP, arg, "QXL_MAP");
      const m = await mmap(p, fd.fd, arg.offset, 4096, PROT_READ);
      const bytes = await m.read(0, 4);
      await m.unmap();
      return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
    } finally {
      await fd.gemClose(result);
    }
  },
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

const VMWGFX_GPU: GpuPath = {
  name: "vmwgfx",
  async fill(_dev, fd, handle, _len, value) {
    const r = await vmwExec(fd, `fill ${handle} ${value & 0xff}`);
    check(r === 0, `vmwgfx execbuf fill of its own buffer ${handle}: ${r}`);
  },
  async checksum(dev, fd, handle, len, dmaBuf) {
    const p = fd.proc as Process;
    await waitIdle(p, dmaBuf, "vmwgfx copy source");
    const scratch = await dev.createBo(fd, len);
    try {
      if ((await vmwExec(fd, `copy ${handle} ${scratch}`)) !== 0) return null;
      const sync = { op: drm_vmw_synccpu_grab, flags: drm_vmw_synccpu_read, handle: scratch };
      await fd.ioctl(DRM_IOCTL_VMW_SYNCCPU, { ...sync, pad64: 0 }, "VMW_SYNCCPU");
      await fd.ioctl(
        DRM_IOCTL_VMW_SYNCCPU,
        { ...sync, op: drm_vmw_synccpu_release, pad64: 0 },
        "VMW_SYNCCPU",
      );
      const m = await dev.mapBo(fd, scratch, len);
      const bytes = await m.read();
      await m.unmap();
      return crc32(bytes);
    } finally {
      await fd.gemClose(scratch);
    }
  },
};

/** The GPU paths by driver name: a driver not listed (vgem) has none. */
const GPU_PATHS: Readonly<Record<string, GpuPath>> = { qxl: QXL_GPU, vmwgfx: VMWGFX_GPU };

/** The GPU path of `dev`'s driver, or null: the caller fills and checksums with the CPU then. */
export function gpuPathOf(dev: DeviceUnderTest): GpuPath | null {
  return GPU_PATHS[dev.driver.name] ?? null;
}
