/**
 * @primetime/vmwgfx: the vmwgfx driver (see README.md): its own ttm_object (base, ref and prime
 * objects), surfaces, buffer objects and PRIME routing, and its historic lifetime races.
 */

export {
  drawVmwgfxMemory,
  driverUnderTest,
  registerDrawnVmwgfx,
  VMWGFX_DRAWN_MEMORY_CONFIGS,
  vmwgfxUnderTest,
} from "./driver-under-test.js";
export * from "./toggles.js";
export * from "./ttm-object.js";
export * from "./ttm-prime-object.js";
export * from "./vmwgfx-binding.js";
export * from "./vmwgfx-bo.js";
export * from "./vmwgfx-cmdbuf.js";
export * from "./vmwgfx-context.js";
export * from "./vmwgfx-drv.js";
export * from "./vmwgfx-execbuf.js";
export * from "./vmwgfx-execbuf-cmd.js";
export * from "./vmwgfx-gem.js";
export * from "./vmwgfx-gmrid-manager.js";
export * from "./vmwgfx-irq.js";
export * from "./vmwgfx-kms.js";
export * from "./vmwgfx-prime.js";
export * from "./vmwgfx-resource.js";
export * from "./vmwgfx-stdu.js";
export * from "./vmwgfx-surface.js";
export * from "./vmwgfx-ttm-buffer.js";
export * from "./vmwgfx-uapi.js";
export * from "./vmwgfx-validation.js";
