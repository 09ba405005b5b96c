export { AtomicT, INT_MAX, INT_MIN } from "./atomic.js";
export { Atomic } from "./kernel-atomic.js";
export { Kref, type KrefRelease } from "./kref.js";
export { pointNow, RESOLVED } from "./point-now.js";
export {
  type Lockable,
  REFCOUNT_MAX,
  REFCOUNT_SATURATED,
  REFCOUNT_WARNINGS,
  type RefcountOptions,
  RefcountSaturationType,
  RefcountT,
  type RefcountWarnHandler,
} from "./refcount.js";
