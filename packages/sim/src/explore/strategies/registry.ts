/**
 * The open strategy protocol. A strategy is one file that implements `Strategy` (the per-run
 * scheduler decisions) and exports a `StrategyDefinition`: its name and token code, how it is
 * described, how it makes one run's strategy from parameters, and how it drives a whole search
 * (which strategy and seed each run gets, and when the search is complete). `registerStrategy()`
 * makes it available by name to `explore()`, `new Simulation({ strategy: { kind } })`, replay
 * tokens and the harnesses; nothing else names strategies.
 */

import { deriveSeed } from "../../prng.js";
import type { RunResult } from "../../simulation.js";
import type { Strategy } from "../../strategy.js";
import type { ResolvedSearchOptions } from "../search-options.js";

/** Parameters of a single run's strategy (`new Simulation({ strategy: { kind, ... } })`). */
export interface StrategyParams {
  /** PCT depth. */
  depth?: number;
  /** DFS preemption bound. */
  preemptionBound?: number;
  /** PCT: the step estimate carried over from earlier runs. */
  estimatedSteps?: number;
  /** DFS, guided: the choices to follow first. */
  prefix?: readonly number[];
}

/** One run of a search: the strategy it runs under and its seed. */
export interface SearchStep {
  readonly strategy: Strategy;
  readonly seed: number;
}

/** A search in progress, as a strategy drives it. */
export interface SearchSession {
  /** The strategy and seed of run `index` (0-based), or null when the search is complete. */
  next(index: number): SearchStep | null;
  /** Run `index` ended with `result` (DFS backtracks here). */
  ended?(step: SearchStep, result: RunResult, index: number): void;
  /** True once every schedule the strategy can produce has been run (exhaustive strategies). */
  readonly complete?: boolean;
}

export interface StrategyDefinition {
  /** Registered name, as the CLI and `explore({ strategy })` take it. */
  readonly name: string;
  /** Its code in replay tokens (a small integer, unique, never reused). */
  readonly code: number;
  /** One line: what it does. */
  readonly summary: string;
  /** Whether explore() can search with it (replay and guided runs are single runs). */
  readonly searches: boolean;
  /** "pct (depth 3, seed 1)". */
  describe(o: ResolvedSearchOptions): string;
  /** The strategy of one run. */
  create(p: StrategyParams): Strategy;
  /** Drives a search (only if `searches`). */
  search(o: ResolvedSearchOptions): SearchSession;
}

const byName = new Map<string, StrategyDefinition>();
const byCode = new Map<number, StrategyDefinition>();

/** Registers a strategy. A name or token code taken by another strategy is an error. */
export function registerStrategy(def: StrategyDefinition): StrategyDefinition {
  if (!/^[a-z][a-z0-9-]*$/.test(def.name))
    throw new Error(`bad strategy name "${def.name}" (lowercase letters, digits, dashes)`);
  if (!Number.isInteger(def.code) || def.code < 0 || def.code > 127)
    throw new Error(`strategy ${def.name}: token code must be an integer in 0..127`);
  const a = byName.get(def.name);
  const b = byCode.get(def.code);
  if ((a && a !== def) || (b && b !== def))
    throw new Error(
      `strategy ${def.name} (code ${def.code}) clashes with ${(a ?? b)!.name} (code ${(a ?? b)!.code})`,
    );
  byName.set(def.name, def);
  byCode.set(def.code, def);
  return def;
}

/** The strategy registered under `name`, or undefined. */
export function findStrategy(name: string): StrategyDefinition | undefined {
  return byName.get(name);
}

/** The strategy with token code `code`, or undefined. */
export function strategyByCode(code: number): StrategyDefinition | undefined {
  return byCode.get(code);
}

/** The strategy registered under `name`; a RangeError listing the known ones otherwise. */
export function getStrategy(name: string, searching = false): StrategyDefinition {
  const def = byName.get(name);
  if (!def || (searching && !def.searches)) {
    const known = listStrategies(searching).map((d) => d.name);
    throw new RangeError(
      `unknown ${searching ? "search " : ""}strategy ${JSON.stringify(String(name).slice(0, 32))} (known: ${known.join(", ")})`,
    );
  }
  return def;
}

/** Every registered strategy (only those explore() can search with, if `searching`), by code. */
export function listStrategies(searching = false): StrategyDefinition[] {
  return [...byCode.values()]
    .filter((d) => !searching || d.searches)
    .sort((a, b) => a.code - b.code);
}

/**
 * The session of a sampling strategy: run i gets a seed derived from the base seed and `make()`
 * (called once per run, or once for the whole search when `shared`, as PCT carries its step
 * estimate from run to run). It is never complete: sampling can always draw another schedule.
 */
export function samplingSession(
  o: ResolvedSearchOptions,
  make: () => Strategy,
  shared = false,
): SearchSession {
  const one = shared ? make() : null;
  return {
    next(index) {
      return { strategy: one ?? make(), seed: deriveSeed(o.seed, index) };
    },
  };
}
