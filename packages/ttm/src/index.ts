/**
 * @primetime/ttm: TTM buffer objects on the simulated GPU (see README.md): the device, buffer
 * objects and their release, placements, resource managers (SYSTEM, range for VRAM and the TT
 * aperture), ttm_tt pages, eviction, moves on the GPU's engine with ghost objects, CPU faults,
 * the GPU's fences as dma_fences, and TTM's historic races as toggles.
 */

export * from "./drm-gem-ttm-helper.js";
export * from "./simgpu-fence.js";
export * from "./simgpu-move.js";
export * from "./toggles.js";
export * from "./ttm-bo.js";
export * from "./ttm-bo-type.js";
export * from "./ttm-bo-util.js";
export * from "./ttm-bo-vm.js";
export * from "./ttm-device.js";
export * from "./ttm-placement.js";
export * from "./ttm-range-manager.js";
export * from "./ttm-resource.js";
export * from "./ttm-sys-manager.js";
export * from "./ttm-tt.js";
