/**
 * Cross-driver PRIME between qxl and vgem, in both directions (a driver's own tests may not load
 * another driver, so the pair runs here, where both are installed): qxl exports to vgem and
 * imports from it, every close order, contents checked on both sides, a leak check after each.
 * qxl is not in `installedDrivers()` (the campaign's driver list), only here.
 */

import { conformanceCases, formatCaseResult } from "@primetime/conformance";
import {
  DRM_CLOEXEC,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_RDWR,
} from "@primetime/gem";
import {
  Kernel,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from "@primetime/kernel";
import {
  createQxl,
  DRM_IOCTL_QXL_ALLOC,
  DRM_IOCTL_QXL_EXECBUFFER,
  DRM_IOCTL_QXL_MAP,
  destroyQxl,
  encodeDrmQxlCommand,
  encodeDrmQxlReloc,
  QXL_CMD_DRAW,
  QXL_DRAW_CHECKSUM,
  QXL_DRAW_FILL,
  QXL_RELEASE_INFO_SIZE,
  QXL_RELOC_TYPE_BO,
  QXL_SIM_DRAW,
  QXL_SIM_DRAW_SIZE,
  driverUnderTest as qxl,
} from "@primetime/qxl";
import { Simulation, sleep } from "@primetime/sim";
import { crc32 } from "@primetime/simgpu";
import { createVgem, destroyVgem, driverUnderTest as vgem } from "@primetime/vgem";
import { describe, expect, it } from "vitest";

describe("cross-driver PRIME: qxl and vgem", () => {
  for (const [a, b] of [
    [qxl, vgem],
    [vgem, qxl],
  ] as const) {
    // IGT's prime_vgem with its real pair: vgem exporting, the other device importing.
    for (const c of conformanceCases(a, [b]).filter(
      (x) =>
        x.name.startsWith("prime_cross_driver/") ||
        (a === vgem && x.name.startsWith("prime_vgem/")),
    )) {
      it(`${a.name}: ${c.name}`, { timeout: 120_000 }, async () => {
        const r = await c.run();
        expect(r.passed, formatCaseResult(r)).toBe(true);
      });
    }
  }
});

describe("cross-driver PRIME: qxl and vgem, contents through qxl's GPU", () => {
  it("qxl's GPU fills what vgem reads; vgem's CPU writes what qxl's GPU checksums", async () => {
    const size = 16384;
    const out: { vgemSaw?: Uint8Array; qxlSum?: number } = {};
    const sim = new Simulation({ seed: 1 });
    const r = await sim.run(async () => {
      const kernel = Kernel.boot();
      const q = await createQxl(kernel);
      const v = await createVgem(kernel);
      const proc = kernel.spawnProcess("client", async (p) => {
        const fdQ = await p.open(q.card, O_RDWR); // the first opener is the master: authenticated
        const fdV = await p.open(v.card, O_RDWR);
        const u32 = async (addr: number) =>
          new DataView(((await p.readMemory(addr, 4)) as Uint8Array).buffer).getUint32(0, true);
        const draw = async (cmd: Uint8Array, relocs: Uint8Array[]) => {
          const page = await p.mmap(
            0,
            4096,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
          );
          await p.writeMemory(page, cmd);
          for (const [i, rl] of relocs.entries()) await p.writeMemory(page + 256 + i * 32, rl);
          await p.writeMemory(
            page + 1024,
            encodeDrmQxlCommand({
              command: page,
              relocs: page + 256,
              type: QXL_CMD_DRAW,
              command_size: cmd.length,
              relocs_num: relocs.length,
              pad: 0,
            }),
          );
          const ret = await p.ioctl(fdQ, DRM_IOCTL_QXL_EXECBUFFER, {
            flags: 0,
            commands_num: 1,
            commands: page + 1024,
          });
          await p.munmap(page, 4096);
          await sleep(1_000_000); // the device finishes (qxl has no implicit sync)
          return ret;
        };
        const drawable = (op: number, value: number, n: number) => {
          const b = new Uint8Array(QXL_SIM_DRAW_SIZE);
          const dv = new DataView(b.buffer);
          dv.setUint32(QXL_SIM_DRAW.op, op, true);
          dv.setUint32(QXL_SIM_DRAW.value, value, true);
          dv.setUint32(QXL_SIM_DRAW.size, n, true);
          return b;
        };
        const reloc = (field: number, handle: number) =>
          encodeDrmQxlReloc({
            src_offset: 0,
            dst_offset: QXL_RELEASE_INFO_SIZE + field,
            src_handle: handle,
            dst_handle: 0,
            reloc_type: QXL_RELOC_TYPE_BO,
            pad: 0,
          });
        // qxl exports: its GPU fills, vgem's CPU reads.
        const a = { size, handle: 0 };
        await p.ioctl(fdQ, DRM_IOCTL_QXL_ALLOC, a);
        await draw(drawable(QXL_DRAW_FILL, 0x3c, size), [reloc(QXL_SIM_DRAW.dst, a.handle)]);
        const e = { handle: a.handle, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
        await p.ioctl(fdQ, DRM_IOCTL_PRIME_HANDLE_TO_FD, e);
        const i = { handle: 0, flags: 0, fd: e.fd };
        await p.ioctl(fdV, DRM_IOCTL_PRIME_FD_TO_HANDLE, i);
        const dm = await p.mmap(0, size, PROT_READ, MAP_SHARED, e.fd, 0);
        out.vgemSaw = (await p.readMemory(dm, size)) as Uint8Array;
        await p.munmap(dm, size);
        // vgem exports: its CPU writes, qxl's GPU checksums.
        const vb = {
          width: 1024,
          height: size / 4096,
          bpp: 32,
          flags: 0,
          handle: 0,
          pitch: 0,
          size: 0,
        };
        await p.ioctl(fdV, DRM_IOCTL_MODE_CREATE_DUMB, vb);
        const mv = { handle: vb.handle, pad: 0, offset: 0 };
        await p.ioctl(fdV, DRM_IOCTL_MODE_MAP_DUMB, mv);
        const vm = await p.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fdV, mv.offset);
        await p.writeMemory(vm, new Uint8Array(size).fill(0x5a));
        const ve = { handle: vb.handle, flags: DRM_CLOEXEC | DRM_RDWR, fd: -1 };
        await p.ioctl(fdV, DRM_IOCTL_PRIME_HANDLE_TO_FD, ve);
        const qi = { handle: 0, flags: 0, fd: ve.fd };
        await p.ioctl(fdQ, DRM_IOCTL_PRIME_FD_TO_HANDLE, qi);
        const res = { size: 4096, handle: 0 };
        await p.ioctl(fdQ, DRM_IOCTL_QXL_ALLOC, res);
        await draw(drawable(QXL_DRAW_CHECKSUM, 0, size), [
          reloc(QXL_SIM_DRAW.dst, res.handle),
          reloc(QXL_SIM_DRAW.src, qi.handle),
        ]);
        const rm = { offset: 0, handle: res.handle, pad: 0 };
        await p.ioctl(fdQ, DRM_IOCTL_QXL_MAP, rm);
        const ra = await p.mmap(0, 4096, PROT_READ, MAP_SHARED, fdQ, rm.offset);
        out.qxlSum = await u32(ra);
        await p.munmap(ra, 4096);
        await p.munmap(vm, size);
        for (const fd of [e.fd, ve.fd, fdV, fdQ]) await p.close(fd);
      });
      await proc.wait();
      await sleep(10_000_000);
      await destroyQxl(q);
      await destroyVgem(v);
      await kernel.checkLeaks();
    });
    expect(r.outcome).toBe("ok");
    expect(r.splats).toEqual([]);
    expect(out.vgemSaw!.every((x) => x === 0x3c)).toBe(true);
    expect(out.qxlSum).toBe(crc32(new Uint8Array(size).fill(0x5a)));
  });
});
