/**
 * BUG(): the kernel kills the task that hits it (an oops). Thrown by `bug()`; the scheduler
 * catches it at the task boundary, so it never escapes the simulation.
 */
export class KernelBug extends Error {
  override readonly name = "KernelBug";
}

/** A replay token that cannot be decoded. Nothing was run. */
export class ReplayTokenError extends Error {
  override readonly name = "ReplayTokenError";
}

/** A replay token that decodes but does not fit the scenario it was replayed against. */
export class ReplayMismatchError extends Error {
  override readonly name = "ReplayMismatchError";
}
