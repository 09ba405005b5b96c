/**
 * The historic-bug toggles the harness knows: every toggle the DRM stack defines (listToggles()
 * of @primetime/sim once @primetime/gem, @primetime/dma-buf and @primetime/ttm are loaded),
 * joined with the conformance case that finds each (TOGGLE_CASES), the TTM scenario that finds
 * it (TTM_TOGGLE_CASES), or the reason none can (UNFINDABLE_TOGGLES).
 */
import "@primetime/dma-buf";
import "@primetime/gem";
import { TOGGLE_CASES, UNFINDABLE_TOGGLES } from "@primetime/conformance";
import { listToggles, type ToggleKind } from "@primetime/sim";
import { TTM_TOGGLE_CASES } from "./scenarios/ttm-races.js";

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
  /** The harness scenario (a conformance case name) that finds it, or null. */
  readonly scenario: string | null;
  /** PCT schedules (seed 1) within which that scenario finds it, or null. */
  readonly schedules: number | null;
  /** How the bug shows in that scenario, or null. */
  readonly how: string | null;
  /** Why no scenario finds it, or null when one does. */
  readonly unfindable: string | null;
}

/** Every toggle defined by the packages loaded, sorted by name, with its scenario. */
export function toggleTable(): ToggleEntry[] {
  return listToggles().map((t) => {
    const tc = TOGGLE_CASES[t.name] ?? TTM_TOGGLE_CASES[t.name];
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
      unfindable: tc
        ? null
        : (UNFINDABLE_TOGGLES[t.name] ?? "no scenario of the harness is mapped to it"),
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
