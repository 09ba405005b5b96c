/**
 * Credentials and capabilities (include/linux/cred.h, kernel/capability.c): what capable()
 * answers for the running task.
 *
 * A process's credentials are fixed when it is spawned (`Kernel.spawnProcess(name, main,
 * { caps })`: a display server or a test's root process gets `CAP_SYS_ADMIN`); its threads share
 * them (CLONE_THREAD shares the cred of the thread group here, as no thread changes its own).
 * Every process is unprivileged unless spawned with capabilities, so code that asks capable()
 * behaves for existing processes exactly as it did before credentials were modeled.
 *
 * Simplifications: a capability set is the effective set only (no permitted, inheritable, bounding
 * or ambient sets, no user namespaces: capable() is ns_capable(&init_user_ns, cap)), there is no
 * setuid/capset, and no PF_SUPERPRIV accounting. A task that is not a process thread (a kernel
 * thread, a workqueue worker, a test's bare simulation task) is unprivileged here, although the
 * kernel's kernel threads run with init_cred's full set: no modeled kernel thread asks capable(),
 * and bare tasks stand in for unprivileged user threads in the tests.
 */

import { currentProcess } from "./process.js";

/** Models CAP_SYS_ADMIN (include/uapi/linux/capability.h). */
export const CAP_SYS_ADMIN = 21;

/**
 * Models struct cred: the effective capability set of a process (cap_effective).
 * Locking: none; immutable once the process is spawned.
 * References: shared by the process's threads (not refcounted here: it lives as long as the
 * process object).
 */
export class Cred {
  readonly capEffective: ReadonlySet<number>;
  constructor(caps: Iterable<number> = []) {
    this.capEffective = new Set(caps);
  }
  /** Models cap_raised(cred->cap_effective, cap). */
  has(cap: number): boolean {
    return this.capEffective.has(cap);
  }
}

/** The credentials of an unprivileged process (every process spawned without `caps`). */
export const UNPRIVILEGED_CRED = new Cred();

/**
 * Models capable(cap): the running task's effective set has `cap` (ns_capable() in the initial
 * user namespace). False outside a process thread (see the file comment).
 * Locking: none; not a scheduling point (current's cred is the task's own).
 * References: none.
 */
export function capable(cap: number): boolean {
  return currentProcess()?.cred.has(cap) ?? false;
}
