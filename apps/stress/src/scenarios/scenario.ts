import type { Scenario } from "@primetime/sim";

/**
 * What a scenario is expected to do under the scheduler:
 * - `clean`: no schedule produces a splat (the right pattern);
 * - `buggy`: some schedule produces a lifetime splat, `kasan` or `refcount` (the wrong pattern);
 * - `deadlock`: some schedule ends with tasks blocked forever.
 */
export type Expectation = "clean" | "buggy" | "deadlock";

/** A named scenario of the harness. */
export interface StressScenario {
  /** Unique, kebab-case: the CLI's `run <name>` and the name carried in replay tokens. */
  readonly name: string;
  /** One line: what the scenario does. */
  readonly description: string;
  readonly expect: Expectation;
  /** The body of the main task; it must build all its state afresh on every run. */
  readonly scenario: Scenario;
  /** Where the modeled code comes from (a kernel file and the part of it). */
  readonly kernelRef: string;
}
