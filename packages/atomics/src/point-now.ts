/**
 * The fast path of a scheduling point for hot model code: `pointNow(label)` is sim's (see its doc
 * comment there), re-exported here with the settled promise a fast path returns.
 */

/**
 * RESOLVED, a promise already resolved with undefined, is what a fast path returns: sim's own,
 * the one point() returns when the running task goes on, so a point's promise and a fast path's
 * compare alike (one constant, not two).
 */
export { pointNow, RESOLVED } from "@primetime/sim";
