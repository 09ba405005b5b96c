/**
 * qxl's interrupt handler (drivers/gpu/drm/qxl/qxl_irq.c, Linux v6.18): reads and clears the
 * device's pending bits; a display interrupt (commands handed back, ring room) wakes ring
 * pushers and schedules the garbage collector; an I/O command interrupt wakes its waiter.
 */

import { qxlQueueGarbageCollect } from "./qxl-cmd.js";
import { QXL_INTERRUPT_DISPLAY, QXL_INTERRUPT_ERROR, QXL_INTERRUPT_IO_CMD } from "./qxl-dev.js";
import type { QxlDevice } from "./qxl-device.js";

/** Models QXL_INTERRUPT_MASK: the interrupts the driver takes. */
export const QXL_INTERRUPT_MASK =
  QXL_INTERRUPT_DISPLAY | QXL_INTERRUPT_IO_CMD | QXL_INTERRUPT_ERROR;

/**
 * Models qxl_irq_handler(). Runs in the device's interrupt task.
 * Locking: interrupt context (takes only spinlocks; queues work). References: none.
 */
export async function qxlIrqHandler(qdev: QxlDevice): Promise<void> {
  const ram = qdev.hw.ram;
  const pending = ram.intPending;
  ram.intPending = 0;
  if (!pending) return;
  qdev.irqReceived++;
  if (pending & QXL_INTERRUPT_DISPLAY) {
    qdev.irqReceivedDisplay++;
    qdev.displayEvent.wakeAll();
    await qxlQueueGarbageCollect(qdev, false);
  }
  if (pending & QXL_INTERRUPT_IO_CMD) {
    qdev.irqReceivedIoCmd++;
    qdev.ioCmdEvent.wakeAll();
  }
  ram.intMask = QXL_INTERRUPT_MASK;
}

/**
 * Models qxl_irq_init(): unmasks the driver's interrupts and installs the handler.
 * Locking: none (device set-up). References: none.
 */
export function qxlIrqInit(qdev: QxlDevice): void {
  qdev.irqReceived = 0;
  qdev.irqReceivedDisplay = 0;
  qdev.irqReceivedIoCmd = 0;
  qdev.hw.ram.intMask = QXL_INTERRUPT_MASK;
  qdev.hw.onInterrupt(() => qxlIrqHandler(qdev));
}
