/**
 * The textbook AB-BA deadlock: two tasks take the same two mutexes in opposite orders. Once each
 * holds its first lock, each sleeps on the other's: nobody can run again. This is the "lock
 * inversion deadlock" of lockdep-design.rst; here it is caught when it happens, as the hung-task
 * detector would (SimMutex has no lockdep: @primetime/kernel's Mutex reports the inversion from a
 * single run, without the deadlock).
 */
import { type Scenario, SimMutex, spawn } from "@primetime/sim";
import type { StressScenario } from "./scenario.js";

const abba: Scenario = () => {
  const a = new SimMutex("lock_a");
  const b = new SimMutex("lock_b");
  /** Takes `first` then `second`, and drops them in reverse order. */
  const nested = (first: SimMutex, second: SimMutex) => async () => {
    await first.lock();
    await second.lock();
    await second.unlock();
    await first.unlock();
  };
  spawn("thread_ab", nested(a, b));
  spawn("thread_ba", nested(b, a));
};

export const ABBA_SCENARIO: StressScenario = {
  name: "abba-deadlock",
  description: "two tasks take two mutexes in opposite orders (AB-BA): both sleep forever",
  expect: "deadlock",
  scenario: abba,
  kernelRef:
    'Documentation/locking/lockdep-design.rst, "Multi-lock dependency rules": lock inversion deadlock',
};
