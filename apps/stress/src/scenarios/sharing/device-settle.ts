/**
 * Settling a device before the leak checks: what a driver's unload would wait for, done on the
 * live device so the machine's GEM counters and kmemleak see only what userspace left behind.
 *
 * - qxl: wait (virtual time) until the device is idle and has handed every release back, and the
 *   release garbage collector freed them: qxlSettle() of `@primetime/qxl/testing`, what qxl's own
 *   test machine does before its leak check;
 *   then give the device's cached release BOs back, as qxl_device_fini() does first at unload
 *   (qxl's qxlDeviceFiniReleaseBos()): they are device state (sub-allocated for later
 *   commands), not something userspace leaked.
 * - vmwgfx: wait until its GPU is idle (buffers a killed process left busy go through TTM's
 *   delayed delete once their fences signal), with a barrier for the fence interrupt task, which
 *   may still hold the last reference of a signalled fence (the kernel's free_irq() waits for
 *   running handlers): virtual time advances only once every runnable task has run, so a short
 *   sleep is that barrier (vmwgfx's own shutdownVmw() does the same).
 *   A qxl device with CRTCs (the compositor's, which scans out) settles as qxl's own descriptor
 *   does (its DriverUnderTest.settle) once the machine is quiet: drm_atomic_helper_shutdown() as
 *   qxl_pci_remove() does, the same wait and release bos, then qxl_modeset_fini()'s put of the
 *   dumb shadow bo, device state until unload like the release bos (a device without CRTCs
 *   skips both, so runs without scanout keep their steps).
 * - other drivers (vgem): nothing.
 *
 * Settling qxl and vmwgfx starts with a quiesce of the machine (deferred fputs, RCU callbacks,
 * workqueues): the machine's finish() relies on it and does not quiesce before settling.
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import type { Kernel } from "@primetime/kernel";
import { qxlDeviceFiniReleaseBos, toQxl } from "@primetime/qxl";
import { qxlSettle } from "@primetime/qxl/testing";
import { sleep } from "@primetime/sim";
import { vmwPriv } from "@primetime/vmwgfx";

/** Settles `dev` (see the file comment). */
export async function settleDevice(kernel: Kernel, dev: DeviceUnderTest): Promise<void> {
  switch (dev.driver.name) {
    case "qxl": {
      if (dev.device.modeConfig.crtcList.length > 0 && dev.driver.settle) {
        await kernel.quiesce();
        await dev.driver.settle(kernel, dev.device);
        return;
      }
      const qdev = toQxl(dev.device);
      await qxlSettle(kernel, { device: dev.device, qdev, card: dev.card, render: null });
      await qxlDeviceFiniReleaseBos(qdev);
      return;
    }
    case "vmwgfx": {
      // The GPU finishes what was submitted (a process killed mid-way leaves busy buffers to
      // TTM's delayed delete), then the interrupt task runs: the sleep is that barrier.
      const gpu = vmwPriv(dev.device).gpu;
      for (let i = 0; i < 1000; i++) {
        await kernel.quiesce();
        await sleep(i === 0 ? 1000 : 100_000, "synchronize_irq");
        if (!gpu.busy) break;
      }
      await kernel.quiesce();
      return;
    }
  }
}
