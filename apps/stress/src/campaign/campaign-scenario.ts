/**
 * A campaign scenario: a concurrent program over the simulated kernel that runs on zero, one or
 * an ordered pair of drivers. The campaign runs it on every driver (or ordered pair of drivers)
 * it fits, each such combination a *unit* named `scenario@driver` or `scenario@exporter+importer`.
 */
import type { DriverUnderTest } from "../drivers.js";
import type { RunResult, Scenario } from "../engine.js";
import type { Expectation } from "../scenarios/scenario.js";

export interface CampaignScenario {
  /** Unique; `--scenario` matches it (names, globs). */
  readonly name: string;
  readonly description: string;
  /** Where the modeled behaviour comes from. */
  readonly kernelRef: string;
  /** What it does with every toggle off. `all` runs the `clean` ones. */
  readonly expect: Expectation;
  /** 0: no driver (kref.rst examples); 1: one driver; 2: an ordered pair (exporter, importer). */
  readonly arity: 0 | 1 | 2;
  /** Whether it can run on these drivers (default: yes). */
  fits?(drivers: readonly DriverUnderTest[]): boolean;
  /**
   * The body of a run on `drivers`. Workload sizes (processes, threads, operations, buffer
   * sizes) are drawn inside the run with `sim.choose()`, so they come from the schedule's seed
   * and are recorded in its replay token.
   */
  build(drivers: readonly DriverUnderTest[], opts: BuildOptions): Scenario;
  /** Toggles that make it buggy (documentation and `bugs`). */
  readonly finds?: readonly string[];
  /** Tasks of the harness itself, left out of race tables. */
  readonly harnessTasks?: readonly string[];
  /**
   * True if its userspace copes with any syscall failing (ENOMEM from fault injection): only
   * such scenarios run with `--faults`.
   */
  readonly faultTolerant?: boolean;
  /**
   * Mainline kernel behaviour the scenario provokes and accepts (reports that are not lifetime
   * bugs, e.g. qxl's reaper lockdep report): returns the run without them (a run that ends only
   * because of them counts as ok). Applied to every schedule before it is tallied.
   */
  withoutKnownReports?(run: RunResult): RunResult;
}

/** What a run is built with besides its drivers. */
export interface BuildOptions {
  /** Fault injection in every run (null: none). */
  readonly faults: FaultSpec | null;
}

/** `--faults`: fail the N-th allocation, or each with a probability. */
export type FaultSpec =
  | { readonly kind: "nth"; readonly nth: number }
  | { readonly kind: "probability"; readonly p: number };

/** "nth:3", "p:0.01". */
export function formatFaults(f: FaultSpec): string {
  return f.kind === "nth" ? `nth:${f.nth}` : `p:${f.p}`;
}
