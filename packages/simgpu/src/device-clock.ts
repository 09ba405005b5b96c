/**
 * The time base the device runs on: the simulation's virtual clock when it belongs to one, else a
 * private virtual clock that only moves when told to (outside a simulation nothing may read real
 * time, and there is no scheduler to advance a clock when everyone sleeps).
 */

import { type Simulation, type Timer, VirtualClock } from "@primetime/sim";

export interface DeviceClock {
  /** Virtual time in ns. */
  readonly now: number;
  /** Calls `fn` after `ns` of virtual time, in scheduler context (it must not block). */
  addTimer(ns: number, fn: () => void): Timer;
}

/** The clock of a simulation: timers fire when no task can run, as the scheduler advances time. */
export function simulationClock(sim: Simulation): DeviceClock {
  return {
    get now() {
      return sim.now;
    },
    addTimer: (ns, fn) => sim.addTimer(ns, fn),
  };
}

/** A clock of the device's own, for use outside a simulation: `tick()` and `runUntilIdle()` move it. */
export class ManualClock implements DeviceClock {
  private readonly clock = new VirtualClock();

  get now(): number {
    return this.clock.now;
  }

  addTimer(ns: number, fn: () => void): Timer {
    return this.clock.add(ns, fn);
  }

  /** True if a timer is pending. */
  get pending(): boolean {
    return this.clock.pending;
  }

  /** Advances time by `ns`, firing every timer due by then (in time order). */
  tick(ns: number): void {
    if (!(ns >= 0) || !Number.isFinite(ns)) throw new RangeError(`bad tick of ${ns} ns`);
    let reached = false;
    this.clock.add(ns, () => {
      reached = true;
    });
    while (!reached && this.clock.advance()) {}
  }

  /** Advances time until no timer is pending. */
  runUntilIdle(): void {
    while (this.clock.advance()) {}
  }
}
