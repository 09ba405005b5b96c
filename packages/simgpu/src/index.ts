export { crc32 } from "./checksum.js";
export {
  CHECKSUM_RESULT_SIZE,
  type ChecksumCommand,
  type Command,
  type CommandOp,
  type CopyCommand,
  type FillCommand,
  formatAddress,
  type GpuAddress,
  type SystemAddress,
  systemAddress,
  type VramAddress,
  validateCommand,
  vramAddress,
} from "./command.js";
export { type DeviceClock, ManualClock, simulationClock } from "./device-clock.js";
export {
  type CommandEntry,
  type CommandError,
  DEFAULT_TIMING,
  Engine,
  type EngineSink,
  entryNs,
  type FenceEntry,
  type GpuFault,
  type GpuTiming,
  prepareCommand,
  type RingEntry,
} from "./engine.js";
export { EBUSY, EINVAL, ENOSPC } from "./errno.js";
export { type RingState, SimGpu, type SimGpuOptions } from "./gpu.js";
export {
  type InterruptHandler,
  InterruptLine,
  type InterruptStatus,
  type ResetReport,
} from "./irq.js";
export { type AccessFault, type FaultReason, GpuMmu, type Mapping } from "./mmu.js";
export {
  forEachPiece,
  PAGE_SHIFT,
  PAGE_SIZE,
  Page,
  readPages,
  SystemMemory,
  type SystemMemoryOptions,
  writePages,
} from "./page.js";
export { Ring } from "./ring.js";
export { Vram, VramRegion } from "./vram.js";
