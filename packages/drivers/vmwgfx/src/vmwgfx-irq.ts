/**
 * vmwgfx's seqno waits (drivers/gpu/drm/vmwgfx/vmwgfx_irq.c, Linux v6.12): vmw_fallback_wait(),
 * the wait for a device seqno without a fence object, which gives up at its timeout with
 * DRM_ERROR "SVGA device lockup." and returns 0 (the device is never reset: see vmwgfx-cmdbuf.ts).
 *
 * The model's device seqno is the device fence driver's fence of that seqno (`@primetime/ttm`'s,
 * signalled by the fence interrupt when the fence register passes it), so vmw_seqno_passed() is
 * that fence's signalled state and the kernel's polling loop (prepare_to_wait() on fence_queue,
 * schedule() every sixteen rounds or schedule_timeout(1) when lazy) is a wait on it with the
 * timeout. Not modeled: `fifo_idle` (the callers waiting for the command-buffer manager or FIFO to
 * go idle, vmw_cmdbuf_idle() and the FIFO rwsem, and the marker seqno written back; the model's
 * callers wait for a seqno only) and `lazy` (how the kernel sleeps between its checks).
 */

import { type DmaFence, dmaFenceWaitTimeout } from "@primetime/dma-buf";
import type { VmwPrivate } from "./vmwgfx-drv.js";

/**
 * Models vmw_fallback_wait(dev_priv, lazy, fifo_idle, seqno, interruptible, timeout) for a seqno
 * (`fifo_idle` false): waits until the device passes `seqno` (`hw`: its device fence, whose seqno
 * it is) or `timeout`
 * ns pass; at the timeout DRM_ERROR("SVGA device lockup.\n") (the device's log, vmwDrmErrors())
 * and 0, as for a passed seqno; -ERESTARTSYS if `interruptible` and a signal came.
 * Locking: none held; sleeps. References: the caller holds one on `hw`.
 */
export async function vmwFallbackWait(
  vmw: VmwPrivate,
  _lazy: boolean,
  _fifoIdle: false,
  _seqno: number,
  interruptible: boolean,
  timeout: number,
  hw: DmaFence,
): Promise<number> {
  const ret = await dmaFenceWaitTimeout(hw, interruptible, timeout);
  if (ret < 0) return ret;
  if (ret === 0) vmw.drmErrors.push("[drm:vmw_fallback_wait] *ERROR* SVGA device lockup.");
  return 0;
}
