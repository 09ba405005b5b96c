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

/**
 * The clock of a simulation (simulationClock()). A class, not an object literal with a `get now()`
 * closure: V8 keeps an accessor in the object's hidden class, so a literal made per device got a
 * fresh map, allocated in the old generation, whose closure context (the simulation, hence the whole
 * run) survived every scavenge until the next full collection: about 1 MB promoted per scavenge of a
 * qxl+qxl cross-share campaign, 3.5 KB with the class.
 */
class SimulationClock implements DeviceClock {
  constructor(private readonly sim: Simulation) {}

  get now(): number {
    return this.sim.now;
  }

  addTimer(ns: number, fn: () => void): Timer {
    return this.sim.addTimer(ns, fn);
  }
}

/** The clock of a simulation: timers fire when no task can run, as the scheduler advances time. */
export function simulationClock(sim: Simulation): DeviceClock {
  return new SimulationClock(sim);
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
