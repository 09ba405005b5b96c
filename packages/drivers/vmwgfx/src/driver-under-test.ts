/**
 * vmwgfx as a driver under test (`DriverUnderTest` of @primetime/gem): its buffers are dumb
 * buffers (GEM handles), so the suite's default `createBo`/`mapBo` fit it; surfaces, which have
 * their own handles, are exercised by the driver's own tests (vmw-ref-count.test.ts).
 *
 * Its ->fb_create is its own (vmw_kms_fb_create(), vmwgfx-kms.ts), so it tells the suite's KMS
 * cases what differs from the GEM framebuffer helpers (`kms`, the conformance package's
 * KmsUnderTest, given structurally): an unknown handle is -ESRCH (vmw_user_bo_lookup()), and a
 * framebuffer over a dumb buffer of the default (3D) device is a surface framebuffer, which sets
 * no drm_framebuffer obj[] and so holds no GEM handle reference.
 *
 * Its ->prime_handle_to_fd is its own too (vmw_prime_handle_to_fd(), vmwgfx-prime.ts): a buffer
 * handle is looked up with vmw_user_bo_lookup() before GEM PRIME, so a handle the file does not
 * have is -ESRCH (`prime`, the conformance package's PrimeUnderTest, given structurally).
 */

import type { DriverUnderTest, RegisteredDevice } from "@primetime/gem";
import type { Kernel } from "@primetime/kernel";
import { sleep } from "@primetime/sim";
import {
  createVmwgfx,
  VMWGFX_DRIVER_NAME,
  type VmwgfxMemory,
  type VmwgfxOptions,
  vmwPriv,
} from "./vmwgfx-drv.js";
import { vmwFencesUpdate } from "./vmwgfx-fence.js";

/** The descriptor with vmwgfx's KMS answers for the conformance suite. */
export type VmwgfxDriverUnderTest = DriverUnderTest & {
  readonly kms: { readonly unknownHandleErrno: string; readonly fbHasObj: boolean };
  readonly prime: { readonly unknownHandleErrno: string };
};

export const driverUnderTest: VmwgfxDriverUnderTest = {
  name: VMWGFX_DRIVER_NAME,
  register: (kernel) => createVmwgfx(kernel),
  kms: { unknownHandleErrno: "ESRCH", fbHasObj: false },
  prime: { unknownHandleErrno: "ESRCH" },
  // Before a leak check of the live device: the GPU finishes what EXECBUF submitted (its
  // fences signal; a process killed mid-way leaves busy buffers to TTM's delayed delete), then
  // the interrupt task runs (the sleep is that barrier), as the stress app's settle does.
  async settle(kernel, device) {
    const gpu = vmwPriv(device).gpu;
    for (let i = 0; i < 1000; i++) {
      await kernel.quiesce();
      await sleep(i === 0 ? 1000 : 100_000, "synchronize_irq");
      if (!gpu.busy) break;
    }
    await kernel.quiesce();
    // An event fence action vmw_fence_obj_add_action() performed at once (its fence had
    // signalled) waits on the cleanup list for the next __vmw_fences_update() to schedule the
    // cleanup work: the next fence interrupt of any later submission, which a harness that stops
    // submitting never gets (the README's finding). It stands in for that interrupt. Only with
    // such an action listed: nothing else runs otherwise.
    const fman = vmwPriv(device).fman;
    if (fman.cleanupList.length > 0) {
      await vmwFencesUpdate(fman);
      await kernel.quiesce();
    }
  },
};

/** The same descriptor under a name that says which driver it is. */
export const vmwgfxUnderTest: VmwgfxDriverUnderTest = driverUnderTest;

/** How many memory configurations drawVmwgfxMemory() draws from. */
export const VMWGFX_DRAWN_MEMORY_CONFIGS = 4;

/**
 * A vmwgfx memory configuration drawn through `draw` (the fuzzer's private runs with its
 * `vmwVram` option; never the descriptor's `registerDrawn`, so other private runs draw as
 * before): the default (VMWGFX_DEFAULT_MEMORY) half the time, else a small MOB limit, 2 pages
 * that the MOB manager's soft limit grows to half a guest of 8 or 16 pages (4 or 8 pages: a
 * guest whose RAM the buffers fill, scaled down as the device is), so EXECBUF's validation
 * evicts. `null` for the default.
 */
export function drawVmwgfxMemory(
  draw: (n: number, label: string) => number,
): Partial<VmwgfxMemory> | null {
  const k = draw(VMWGFX_DRAWN_MEMORY_CONFIGS, "vmwgfx memory");
  if (k < 2) return null;
  return { maxMobPages: 2, totalramPages: k === 2 ? 8 : 16 };
}

/**
 * A vmwgfx device of a drawn memory configuration (drawVmwgfxMemory(draw)), registered on
 * `kernel`, with `scarceMemory` set when its MOB limit is the small one (RegisteredDevice). Call
 * it from a task of the simulation the kernel runs in.
 */
export async function registerDrawnVmwgfx(
  kernel: Kernel,
  draw: (n: number, label: string) => number,
  base: VmwgfxOptions = {},
): Promise<RegisteredDevice> {
  const memory = drawVmwgfxMemory(draw);
  const v = await createVmwgfx(kernel, memory ? { ...base, memory } : base);
  return { device: v.device, card: v.card, render: v.render, scarceMemory: memory !== null };
}
