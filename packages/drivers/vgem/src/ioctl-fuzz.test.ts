/**
 * Bad input at the ioctl boundary (ARCHITECTURE.md section 6): every DRM ioctl of the core, fed
 * malformed argument structs, bad command numbers and bad fds, returns a number (0 or a negative
 * errno), throws nothing, fires no oracle, and leaves no GEM state or kernel object behind.
 */
import * as gem from "@primetime/gem";
import { drmDevCheckLeaks, drmDevCounters } from "@primetime/gem";
import { Kernel, O_RDWR } from "@primetime/kernel";
import { Simulation } from "@primetime/sim";
import { expect, it } from "vitest";
import { createVgem, destroyVgem } from "./vgem-drv.js";

const BAD_ARGS = (): unknown[] => [
  null,
  undefined,
  "a string",
  42,
  [],
  {},
  { handle: -1 },
  { handle: 1.5 },
  { handle: "1" },
  { handle: 2 ** 40 },
  { name: -3, handle: Number.NaN },
  { fd: -1, flags: 0xffffffff },
  { width: 1e9, height: 1e9, bpp: 32 },
  { width: -1, height: 1, bpp: 32 },
  { handle: 1, offset: -1, pad: 7 },
  Object.create(null),
  // Copied in as a Map: storing the struct's `size` back into it faults (copy_to_user).
  new Map([["handle", 1]]),
];

it("garbage at every DRM ioctl returns an errno, throws nothing and changes nothing", async () => {
  const cmds = Object.entries(gem).filter(
    ([name, v]) => name.startsWith("DRM_IOCTL_") && typeof v === "number",
  ) as [string, number][];
  expect(cmds.length).toBeGreaterThanOrEqual(12);
  const notNumbers: string[] = [];
  const errnos = new Set<number>();
  const r = await new Simulation({ seed: 1 }).run(async () => {
    const k = Kernel.boot();
    const vgem = await createVgem(k);
    const baseline = drmDevCounters(vgem.device);
    const p = k.spawnProcess("fuzz", async (proc) => {
      const fd = await proc.open(vgem.card, O_RDWR);
      expect(fd).toBeGreaterThanOrEqual(0);
      for (const [name, cmd] of cmds) {
        for (const arg of BAD_ARGS()) {
          const ret = await proc.ioctl(fd, cmd, arg as never);
          if (typeof ret !== "number" || !Number.isInteger(ret)) notNumbers.push(name);
          else if (ret < 0) errnos.add(ret);
        }
      }
      for (const cmd of [-1, 0, 2 ** 33, 1.5, Number.NaN, "x"]) {
        const ret = await proc.ioctl(fd, cmd as never, {} as never);
        expect(ret).toBeLessThan(0);
      }
      for (const bad of [-1, 999, 1.5, "0", null]) {
        expect(await proc.ioctl(bad as never, cmds[0]![1], {} as never)).toBe(-9); // EBADF
      }
      await proc.close(fd);
    });
    await p.wait();
    await k.quiesce();
    drmDevCheckLeaks(vgem.device, baseline);
    await destroyVgem(vgem);
    await k.checkLeaks();
  });
  expect(notNumbers).toEqual([]);
  expect(errnos.size).toBeGreaterThan(3); // EINVAL, ENOENT, EFAULT, ENOTTY, EOPNOTSUPP...
  expect(r.outcome).toBe("ok");
  expect(r.splats.map((s) => `${s.kind}: ${s.message.split("\n")[0]}`)).toEqual([]);
});
