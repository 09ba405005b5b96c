/**
 * IGT's tests/vmwgfx/vmw_prime.c, the parts without KMS or 3D: a dumb buffer exported for mmap,
 * its handle destroyed, the dma-buf imported on another file of the device and drawn into by the
 * GPU, the result read through the dma-buf's mmap (draw_triangle_map_dmabuf) or the dumb map
 * (draw_triangle_map_gem); and a foreign buffer (IGT uses vgem; here the system dma-heap, the
 * exporter below the drivers) with a pattern, imported on vmwgfx and read through vmwgfx's dumb
 * map (test_vgem). The vgem pair itself runs in apps/stress (cross-driver-vmwgfx.test.ts).
 */

import {
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_SYSTEM_PATH,
  type DmaHeapAllocationData,
  registerSystemHeap,
} from "@primetime/dma-buf";
import {
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  type DrmModeCreateDumb,
  type DrmModeMapDumb,
} from "@primetime/gem";
import {
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import { describe, it } from "vitest";
import {
  execbuf,
  expectClean,
  fdToHandle,
  handleToFd,
  openNode,
  runVmw,
  synccpuRead,
  type VmwMachine,
} from "./test-machine.js";

const PATTERN = new Uint8Array(
  new Uint32Array([
    0xff000000, 0x00ff0000, 0x0000ff00, 0x000000ff, 0x000000ff, 0x0000ff00, 0x00ff0000, 0xff000000,
    0x00ffff00, 0xff0000ff, 0x00ff00ff, 0xff00ff00, 0xff0000ff, 0x00ff00ff, 0x00ffff00, 0xff00ff00,
  ]).buffer,
);

function igtAssert(cond: boolean, msg: string): void {
  if (!cond) throw new Error(`igt_assert: ${msg}`);
}

async function dumbCreate(p: Process, fd: number): Promise<DrmModeCreateDumb> {
  const arg: DrmModeCreateDumb = {
    width: 64,
    height: 64,
    bpp: 32,
    flags: 0,
    handle: 0,
    pitch: 0,
    size: 0,
  };
  igtAssert((await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, arg)) === 0, "dumb create");
  return arg;
}

/** kmstest_dumb_map_buffer() + a read of `len` bytes. */
async function dumbRead(
  p: Process,
  fd: number,
  handle: number,
  size: number,
  len: number,
): Promise<Uint8Array> {
  const arg: DrmModeMapDumb = { handle, pad: 0, offset: 0 };
  igtAssert((await p.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, arg)) === 0, "map dumb");
  const addr = await p.mmap(0, size, PROT_READ, MAP_SHARED, fd, arg.offset);
  igtAssert(addr >= 0, `mmap ${addr}`);
  const r = await p.readMemory(addr, len);
  igtAssert(typeof r !== "number", `read ${r}`);
  await p.munmap(addr, size);
  return r as Uint8Array;
}

async function fdRead(p: Process, dmabuf: number, size: number, len: number): Promise<Uint8Array> {
  const addr = await p.mmap(0, size, PROT_READ, MAP_SHARED, dmabuf, 0);
  igtAssert(addr >= 0, `mmap of the dma-buf ${addr}`);
  const r = await p.readMemory(addr, len);
  igtAssert(typeof r !== "number", `read ${r}`);
  await p.munmap(addr, size);
  return r as Uint8Array;
}

/** The GPU "draws" into the imported buffer: a fill, then waits for it. */
async function gpuDraw(p: Process, fd: number, handle: number): Promise<void> {
  igtAssert((await execbuf(p, fd, `fill ${handle} 90`)) > 0, "execbuf");
  igtAssert((await synccpuRead(p, fd, handle)) === 0, "synccpu");
}

async function drawTriangleMapGem(p: Process, m: VmwMachine): Promise<void> {
  const mfd = await openNode(p, m.vmw.card);
  const rfd = await openNode(p, m.vmw.render);
  const bo = await dumbCreate(p, mfd);
  const fd = await handleToFd(p, mfd, bo.handle);
  const imported = await fdToHandle(p, rfd, fd);
  igtAssert(imported > 0, `import ${imported}`);
  await gpuDraw(p, rfd, imported);
  const got = await dumbRead(p, mfd, bo.handle, bo.size, 16);
  igtAssert(
    got.every((b) => b === 90),
    "drawn through the import, seen through the dumb map",
  );
  await p.ioctl(mfd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: bo.handle });
  await p.close(fd);
  await p.close(rfd);
  await p.close(mfd);
}

async function drawTriangleMapDmabuf(p: Process, m: VmwMachine): Promise<void> {
  const mfd = await openNode(p, m.vmw.card);
  const rfd = await openNode(p, m.vmw.render);
  const bo = await dumbCreate(p, mfd);
  const fd = await handleToFd(p, mfd, bo.handle);
  await p.ioctl(mfd, DRM_IOCTL_MODE_DESTROY_DUMB, { handle: bo.handle });
  const imported = await fdToHandle(p, rfd, fd);
  igtAssert(imported > 0, `import ${imported}`);
  await gpuDraw(p, rfd, imported);
  const got = await fdRead(p, fd, bo.size, 16);
  igtAssert(
    got.every((b) => b === 90),
    "drawn through the import, seen through the dma-buf",
  );
  await p.close(fd);
  await p.close(rfd);
  await p.close(mfd);
}

async function testForeign(p: Process, m: VmwMachine): Promise<void> {
  registerSystemHeap(m.kernel);
  const mfd = await openNode(p, m.vmw.card);
  const heap = await p.open(DMA_HEAP_SYSTEM_PATH, O_RDWR);
  const data: DmaHeapAllocationData = {
    len: 16384,
    fd: 0,
    fdFlags: O_RDWR | O_CLOEXEC,
    heapFlags: 0,
  };
  igtAssert((await p.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, data)) === 0, "heap alloc");
  const addr = await p.mmap(0, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, data.fd, 0);
  igtAssert(addr >= 0, `mmap ${addr}`);
  igtAssert((await p.writeMemory(addr, PATTERN)) >= 0, "write pattern");
  await p.munmap(addr, 16384);
  const handle = await fdToHandle(p, mfd, data.fd);
  igtAssert(handle > 0, `import ${handle}`);
  const got = await dumbRead(p, mfd, handle, 16384, PATTERN.length);
  igtAssert(
    got.every((b, i) => b === PATTERN[i]),
    "pattern through vmwgfx's map",
  );
  await p.close(data.fd);
  await p.close(heap);
  await p.close(mfd);
}

describe("IGT vmw_prime (without KMS and 3D)", () => {
  it("draw_triangle_map_gem", async () => expectClean(await runVmw(drawTriangleMapGem)));
  it("draw_triangle_map_dmabuf", async () => expectClean(await runVmw(drawTriangleMapDmabuf)));
  it("test_vgem (a foreign buffer: the system heap)", async () =>
    expectClean(await runVmw(testForeign)));
});
