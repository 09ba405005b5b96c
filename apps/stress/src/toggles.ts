/**
 * The historic-bug toggles the harness knows: every toggle the DRM stack defines (listToggles()
 * of @primetime/sim once the packages the app depends on are loaded: every driver, through
 * drivers.ts, and gem, dma-buf, ttm here), each joined with the scenario that finds it:
 *
 * 1. the conformance case of TOGGLE_CASES (@primetime/conformance), run on every driver (a
 *    driver's own toggle on that driver; a case that names its driver, as the unit on it);
 * 2. the TTM race scenario of TTM_TOGGLE_CASES (@primetime/ttm/scenarios);
 * 3. a driver's own race scenario (DRIVER_TOGGLE_CASES: @primetime/vmwgfx/scenarios);
 * 4. a campaign unit of this app (CAMPAIGN_TOGGLE_UNITS below: a sharing scenario on a driver
 *    pair, e.g. surface-reaper on qxl for qxl.dual-refcount);
 *
 * or a deliberate reason why no scenario of the harness hunts it (UNFINDABLE_TOGGLES of
 * conformance, NOT_HUNTED below), which `bugs`, `list` and the demo print. A toggle with neither
 * is a hole: `bugs` fails on it, and a test checks that there is none.
 */
import "@primetime/dma-buf";
import "@primetime/gem";
import "./drivers.js";
import { TOGGLE_CASES, UNFINDABLE_TOGGLES } from "@primetime/conformance";
import { listToggles, type ToggleKind } from "@primetime/sim";
import { DRIVER_TOGGLE_CASES } from "./scenarios/driver-races.js";
import { TTM_TOGGLE_CASES } from "./scenarios/ttm-races.js";

/** How a scenario finds a toggle: its name (or unit key), a PCT budget and how it shows. */
export interface ToggleCase {
  /** A scenario name of the harness, or a campaign unit key (`scenario@drivers`). */
  readonly case: string;
  /** PCT schedules (seed 1) within which it finds the toggle. */
  readonly schedules: number;
  readonly how: string;
  /** A cap on the schedules of a hunt of it (a slow scenario), if any. */
  readonly maxSchedules?: number;
}

/**
 * Toggles found by a campaign scenario of this app on a given unit (driver combination): the
 * unit key names the scenario and its drivers. Used where a driver's own races are not exported
 * as scenarios, or where a sharing workload is the better finder.
 */
export const CAMPAIGN_TOGGLE_UNITS: Readonly<Record<string, ToggleCase>> = {
  "qxl.dual-refcount": {
    case: "surface-reaper@qxl+qxl",
    schedules: 100,
    // A qxl machine with surface pressure runs about 30 schedules/s: hunts stop at 200.
    maxSchedules: 200,
    how: "DEBUG_LOCKS_WARN_ON(mutex_is_locked(qxl_bo#_.resv)): the BO freed while the reaper holds its reservation",
  },
};

/**
 * Toggles no scenario of the harness hunts, each with the reason (printed by `bugs`, `list` and
 * the demo). Only deliberate choices go here: a toggle without a scenario or a reason fails
 * `bugs` and the toggle-coverage test.
 */
export const NOT_HUNTED: Readonly<Record<string, string>> = {
  "fs.fget-no-recheck":
    "a VFS race below the DRM stack (an fd lookup racing close() and another process's open() that reuses the freed file's memory); the kernel package's fdtable test hunts it under PCT",
};

/** One toggle and how the harness finds it. */
export interface ToggleEntry {
  /** `subsystem.short-name`, e.g. "gem.open-drops-name-lock". */
  readonly name: string;
  /** What the toggle re-introduces (the buggy version's behaviour). */
  readonly description: string;
  /** The title of the kernel commit that fixed it. */
  readonly fixedBy: string;
  /** Historic kernel code, a proposed patch, or hypothetical. */
  readonly kind: ToggleKind;
  /** The fixing commit's hash (historic toggles), or null. */
  readonly commit: string | null;
  /** The kernel versions the buggy behaviour applies to. */
  readonly kernels: string;
  /** The harness scenario (a scenario name or a campaign unit key) that finds it, or null. */
  readonly scenario: string | null;
  /** PCT schedules (seed 1) within which that scenario finds it, or null. */
  readonly schedules: number | null;
  /** How the bug shows in that scenario, or null. */
  readonly how: string | null;
  /** Why no scenario finds it, or null when one does (or when nothing says why: `unmapped`). */
  readonly unfindable: string | null;
  /** Neither a scenario nor a reason: a hole in the detection matrix. */
  readonly unmapped: boolean;
  /** The most schedules a hunt of it runs by default (slow scenarios), or null. */
  readonly maxSchedules: number | null;
}

/** The scenario that finds `name`, from the four sources of the file comment. */
export function toggleCase(name: string): ToggleCase | undefined {
  const tc = TOGGLE_CASES[name];
  // A conformance case that needs one driver (KMS: not vgem) is hunted as its unit on it.
  if (tc?.driver) return { ...tc, case: `${tc.case}@${tc.driver}` };
  return tc ?? TTM_TOGGLE_CASES[name] ?? DRIVER_TOGGLE_CASES[name] ?? CAMPAIGN_TOGGLE_UNITS[name];
}

/** Every toggle defined by the packages loaded, sorted by name, with its scenario. */
export function toggleTable(): ToggleEntry[] {
  return listToggles().map((t) => {
    const tc = toggleCase(t.name);
    const reason = tc ? null : (UNFINDABLE_TOGGLES[t.name] ?? NOT_HUNTED[t.name] ?? null);
    return {
      name: t.name,
      description: t.description,
      fixedBy: t.fixedBy,
      kind: t.kind,
      commit: t.commit ?? null,
      kernels: t.kernels,
      scenario: tc?.case ?? null,
      schedules: tc?.schedules ?? null,
      how: tc?.how ?? null,
      unfindable: tc ? null : (reason ?? "no scenario of the harness is mapped to it"),
      unmapped: !tc && reason === null,
      maxSchedules: tc?.maxSchedules ?? null,
    };
  });
}

/** The toggle called `name`, or undefined. */
export function findToggleEntry(name: string): ToggleEntry | undefined {
  return toggleTable().find((t) => t.name === name);
}

/** The toggles some scenario finds (what `hunt` and the demo can hunt), sorted by name. */
export function huntableToggles(): ToggleEntry[] {
  return toggleTable().filter((t) => t.scenario !== null);
}
