/**
 * `@primetime/atomics/examples`: the examples of Documentation/core-api/kref.rst as scenarios
 * for the scheduler, and the kmalloc()ed object with a `Kref` they share. Not part of the
 * package's main entry point: nothing of the kernel model uses them.
 */
export { Entry } from "./entry.js";
export { KREF_RST_EXAMPLES, type KrefRstExample } from "./kref-rst.js";
