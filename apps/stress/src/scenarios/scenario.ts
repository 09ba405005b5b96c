import type { RunResult, Scenario, SplatKind } from "@primetime/sim";

/**
 * What a scenario is expected to do under the scheduler:
 * - `clean`: no schedule produces a splat (the right pattern);
 * - `buggy`: some schedule produces a lifetime splat, `kasan` or `refcount` (the wrong pattern),
 *   or one of the scenario's own `bugKinds`;
 * - `deadlock`: some schedule ends with tasks blocked forever.
 */
export type Expectation = "clean" | "buggy" | "deadlock";

/** A named scenario of the harness. */
export interface StressScenario {
  /** Unique: the CLI's `run <name>` and the name carried in replay tokens. */
  readonly name: string;
  /** One line: what the scenario does. */
  readonly description: string;
  /** What it does with every historic-bug toggle off. */
  readonly expect: Expectation;
  /** The body of the main task; it must build all its state afresh on every run. */
  readonly scenario: Scenario;
  /** Where the modeled code comes from (a kernel file and the part of it). */
  readonly kernelRef: string;
  /**
   * Historic-bug toggles (see `toggles` of @primetime/sim) that make it `buggy`: with any of
   * them on, some schedule shows its bug. Absent: none.
   */
  readonly finds?: readonly string[];
  /** The splat kinds that show its bug when `buggy` (default: `kasan` and `refcount`). */
  readonly bugKinds?: readonly SplatKind[];
  /** Tasks of the harness itself (by name), left out of race tables: they race nobody. */
  readonly harnessTasks?: readonly string[];
  /**
   * Mainline behaviour the scenario provokes and accepts (see CampaignScenario): the run without
   * those reports. Searches judge runs through it.
   */
  readonly withoutKnownReports?: (run: RunResult) => RunResult;
}
