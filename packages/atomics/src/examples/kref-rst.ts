/**
 * The examples of Documentation/core-api/kref.rst as scenarios for the scheduler: each right
 * pattern the document gives (expected clean under every schedule) beside the wrong pattern it
 * warns about (expected to produce the splat the kernel would print). The tests of this package
 * (`kref-races.test.ts`) check them, and the stress harness (`@primetime/stress`) runs them as
 * the first part of its demo.
 *
 * The modeled kernel code keeps the document's names: my_data_handler(), more_data_handling(),
 * get_entry(), put_entry(), release_entry(). The list `q` holds one entry, and the list owns the
 * entry's initial reference; a "remover" task drops that reference (the entry leaves the list in
 * its release function), while a "user" task looks the entry up, uses it and puts it.
 */
import { point, type Scenario, SimMutex, spawn, warnOn } from "@primetime/sim";
import { Entry } from "./entry.js";

/** One example of kref.rst, named and described as the stress harness lists it. */
export interface KrefRstExample {
  /** Unique among the examples: the harness's scenario name. */
  readonly name: string;
  /** One line: what the example does. */
  readonly description: string;
  /**
   * `clean`: no schedule produces a splat (the right pattern); `buggy`: some schedule produces
   * a `kasan` or `refcount` splat (the wrong pattern).
   */
  readonly expect: "clean" | "buggy";
  /** The body of the main task; it builds all its state afresh on every run. */
  readonly scenario: Scenario;
  /** Where the example comes from (a kernel file and the part of it). */
  readonly kernelRef: string;
}

const KREF_RST = "Documentation/core-api/kref.rst";

/**
 * The kthread hand-off of kref.rst rule 1: my_data_handler() allocates `data`, hands it to a
 * new kthread, uses it and puts its reference; the kthread uses it and puts the other one.
 * With `getBeforeHandoff` false, the kref_get() comes after kthread_run() ("BAD BAD BAD - get is
 * after the handoff"): the kthread can put the only reference and free `data` before the
 * handler's get, which then adds to 0 on freed memory.
 */
function handoff(getBeforeHandoff: boolean): Scenario {
  return async () => {
    const data = new Entry("my_data");
    /** Models data_release(): container_of + kfree(). */
    const dataRelease = () => data.kfree();

    /**
     * Models more_data_handling(): the kthread body.
     * Locking: none.
     * References: owns the reference the handler took for it, and puts it.
     */
    const moreDataHandling = async () => {
      await data.use("more_data_handling");
      await data.kref.put(dataRelease);
    };

    // Models my_data_handler(). Locking: none; rule 1 says none is needed for a kref_get() by
    // a holder of a valid reference. References: kref_init()'s, plus one for the kthread.
    if (getBeforeHandoff) await data.kref.get();
    spawn("more_data_handling", moreDataHandling); // kthread_run()
    if (!getBeforeHandoff) await data.kref.get(); // BAD BAD BAD - get is after the handoff
    await data.use("my_data_handler");
    await data.kref.put(dataRelease);
  };
}

/**
 * kref.rst's two threads over the one-entry list: a "user" that looks the entry up with
 * `getEntry`, uses it and puts it with `putEntry`, and a "remover" that drops the list's
 * reference with `putEntry`. Neither is joined: the run ends when both have exited.
 */
function userAndRemover(
  entry: Entry,
  getEntry: () => Promise<Entry | null>,
  putEntry: (e: Entry) => Promise<unknown>,
): void {
  spawn("user", async () => {
    const e = await getEntry();
    if (!e) return;
    await e.use("do_stuff");
    await putEntry(e);
  });
  // Drops the list's reference.
  spawn("remover", async () => {
    await putEntry(entry);
  });
}

/**
 * Models get_entry() of kref.rst rule 3: list_first() + kref_get().
 * Locking: takes `mutex` around both; with `mutex` null (rule 3 broken) takes nothing.
 * References: returns the first entry of `q` with a new reference, or null if `q` is empty.
 */
async function getFirstEntry(q: readonly Entry[], mutex: SimMutex | null): Promise<Entry | null> {
  if (mutex) await mutex.lock();
  await point("list_first(q)");
  const e: Entry | null = q[0] ?? null;
  if (e) await e.kref.get();
  if (mutex) await mutex.unlock();
  return e;
}

/** Where the lookup of get_entry() takes its reference. */
type LookupVariant =
  /** kref.rst's get_entry(): list_first + kref_get under the mutex; put_entry() takes it too. */
  | "locked"
  /** Rule 3 violated: the entry is found and kref_get() without holding the mutex. */
  | "unlocked";

/**
 * The get_entry()/put_entry() example of kref.rst rule 3: a lookup that finds an entry without
 * holding a reference must be serialized against the kref_put() that can free it. The clean
 * variant takes `mutex` around both the lookup and the put (release_entry() does list_del() and
 * kfree() with it held). The buggy variant looks up without the mutex: the remover's put can free
 * the entry between list_first() and kref_get().
 */
function lookupPut(variant: LookupVariant): Scenario {
  return async () => {
    const mutex = new SimMutex("mutex");
    const entry = new Entry("entry");
    const q: Entry[] = [entry];

    /**
     * Models release_entry(): list_del() + kfree().
     * Locking: called by kref_put() under `mutex` (put_entry() holds it).
     * References: the count is 0; frees the entry.
     */
    const releaseEntry = () => {
      // lockdep_assert_held(&mutex), for the scheduler-level mutex.
      warnOn(!mutex.heldByCurrent, "release_entry: lockdep_assert_held(mutex) failed");
      q.splice(q.indexOf(entry), 1); // list_del
      entry.kfree();
    };

    /** Models get_entry(); the "unlocked" variant does without `mutex`. */
    const getEntry = () => getFirstEntry(q, variant === "locked" ? mutex : null);

    /**
     * Models put_entry().
     * Locking: takes `mutex` around kref_put(), so release_entry() runs under it.
     * References: drops the caller's.
     */
    const putEntry = async (e: Entry) => {
      await mutex.lock();
      await e.kref.put(releaseEntry);
      await mutex.unlock();
    };

    userAndRemover(entry, getEntry, putEntry);
  };
}

/**
 * The kref_get_unless_zero() version of get_entry()/put_entry(): put_entry() takes no lock and
 * release_entry() takes `mutex` only around list_del(). The lookup can then find an entry whose
 * count already hit 0 (its release is waiting for the mutex), which kref_get_unless_zero()
 * refuses. It must run inside the lookup's critical section: the mutex keeps the entry's memory
 * valid (release_entry() cannot reach kfree() before the lookup drops it). Outside it (the buggy
 * variant) the entry may be freed between mutex_unlock() and kref_get_unless_zero().
 */
function getUnlessZero(insideCriticalSection: boolean): Scenario {
  return async () => {
    const mutex = new SimMutex("mutex");
    const entry = new Entry("entry");
    const q: Entry[] = [entry];

    /**
     * Models release_entry() of the kref_get_unless_zero() example.
     * Locking: takes `mutex` for list_del(); kfree() runs after mutex_unlock().
     * References: the count is 0; frees the entry.
     */
    const releaseEntry = async () => {
      await mutex.lock();
      q.splice(q.indexOf(entry), 1); // list_del
      await mutex.unlock();
      entry.kfree();
    };

    /**
     * Models get_entry() with kref_get_unless_zero().
     * Locking: takes `mutex` for the lookup; the get must be inside (buggy variant: after it).
     * References: returns the entry with a new reference, or null if it is being released.
     */
    const getEntry = async (): Promise<Entry | null> => {
      await mutex.lock();
      await point("list_first(q)");
      let e: Entry | null = q[0] ?? null;
      if (insideCriticalSection) {
        if (e && !(await e.kref.getUnlessZero())) e = null;
        await mutex.unlock();
      } else {
        await mutex.unlock();
        if (e && !(await e.kref.getUnlessZero())) e = null;
      }
      return e;
    };

    /**
     * Models put_entry(): a bare kref_put().
     * Locking: none (release_entry() takes the mutex itself).
     * References: drops the caller's.
     */
    const putEntry = (e: Entry) => e.kref.put(releaseEntry);

    userAndRemover(entry, getEntry, putEntry);
  };
}

/**
 * get_entry()/put_entry() with kref_put_mutex() (include/linux/kref.h): the lookup takes a plain
 * kref_get() under `mutex`, and only the last put takes the mutex, re-checks the count under it
 * and calls release_entry() with it held. With `putMutex` false, put_entry() is a bare kref_put()
 * whose release takes the mutex itself: between the count reaching 0 and the release's
 * mutex_lock(), the lookup finds the entry still listed and its kref_get() adds to 0.
 */
function putMutex(usePutMutex: boolean): Scenario {
  return async () => {
    const mutex = new SimMutex("mutex");
    const entry = new Entry("entry");
    const q: Entry[] = [entry];

    /**
     * Models release_entry() for kref_put_mutex(): list_del(), mutex_unlock(), kfree().
     * Locking: entered with `mutex` held by kref_put_mutex() (in the buggy variant it takes it
     * itself) and drops it.
     * References: the count is 0; frees the entry.
     */
    const releaseEntry = async () => {
      if (!usePutMutex) await mutex.lock();
      q.splice(q.indexOf(entry), 1); // list_del
      await mutex.unlock();
      entry.kfree();
    };

    /** Models get_entry(): list_first() + a plain kref_get() under `mutex`. */
    const getEntry = () => getFirstEntry(q, mutex);

    /**
     * Models put_entry() with kref_put_mutex() (buggy variant: kref_put()).
     * Locking: the last put takes `mutex`; release_entry() drops it.
     * References: drops the caller's.
     */
    const putEntry = (e: Entry) =>
      usePutMutex ? e.kref.putMutex(releaseEntry, mutex) : e.kref.put(releaseEntry);

    userAndRemover(entry, getEntry, putEntry);
  };
}

/** The kref.rst examples, each right pattern followed by the wrong one it is contrasted with. */
export const KREF_RST_EXAMPLES: readonly KrefRstExample[] = [
  {
    name: "kref-handoff",
    description: "rule 1: kref_get() before handing the pointer to a new kthread",
    expect: "clean",
    scenario: handoff(true),
    kernelRef: `${KREF_RST}, "Kref rules", rule 1: my_data_handler() / more_data_handling()`,
  },
  {
    name: "kref-handoff-get-after",
    description:
      "rule 1 broken: kref_get() after kthread_run() (BAD BAD BAD - get is after the handoff)",
    expect: "buggy",
    scenario: handoff(false),
    kernelRef: `${KREF_RST}, "Kref rules": "Note that the 'before' in rule 1 is very important"`,
  },
  {
    name: "kref-lookup-locked",
    description:
      "rule 3: get_entry() looks up + kref_get()s under the mutex that put_entry() holds",
    expect: "clean",
    scenario: lookupPut("locked"),
    kernelRef: `${KREF_RST}, "Kref rules", rule 3: get_entry() / release_entry() / put_entry()`,
  },
  {
    name: "kref-lookup-unlocked",
    description: "rule 3 broken: kref_get() on a list entry found without holding the mutex",
    expect: "buggy",
    scenario: lookupPut("unlocked"),
    kernelRef: `${KREF_RST}, "Kref rules": "You can't just pull the first item off the list and kref_get() it"`,
  },
  {
    name: "kref-get-unless-zero",
    description:
      "kref_get_unless_zero() inside the lookup's critical section; put_entry() takes no lock",
    expect: "clean",
    scenario: getUnlessZero(true),
    kernelRef: `${KREF_RST}, "Kref rules": get_entry() optimized with kref_get_unless_zero()`,
  },
  {
    name: "kref-get-unless-zero-outside",
    description: "kref_get_unless_zero() after the lookup's mutex_unlock(): it reads freed memory",
    expect: "buggy",
    scenario: getUnlessZero(false),
    kernelRef: `${KREF_RST}: "otherwise kref_get_unless_zero may reference already freed memory"`,
  },
  {
    name: "kref-put-mutex",
    description:
      "kref_put_mutex(): only the last put takes the mutex, and re-checks the count under it",
    expect: "clean",
    scenario: putMutex(true),
    kernelRef:
      "include/linux/kref.h: kref_put_mutex(); lib/refcount.c: refcount_dec_and_mutex_lock()",
  },
  {
    name: "kref-put-release-locks",
    description:
      "kref_put() whose release takes the mutex: the locked lookup's kref_get() adds to 0",
    expect: "buggy",
    scenario: putMutex(false),
    kernelRef:
      "include/linux/kref.h: kref_put_mutex() (why it exists); lib/refcount.c: refcount_dec_and_mutex_lock()",
  },
];
