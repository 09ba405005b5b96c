/**
 * The fast path of a scheduling point for hot model code: `pointNow(label)` is sim's (see its doc
 * comment there), re-exported here with the settled promise a fast path returns.
 */

export { pointNow } from "@primetime/sim";

/** A promise already resolved with undefined: what a fast path returns. */
export const RESOLVED: Promise<void> = Promise.resolve();
