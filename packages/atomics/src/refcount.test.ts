import { describe, expect, it } from "vitest";
import { AtomicT, INT_MAX, INT_MIN } from "./atomic.js";
import {
  type Lockable,
  REFCOUNT_MAX,
  REFCOUNT_SATURATED,
  REFCOUNT_WARNINGS,
  RefcountSaturationType,
  RefcountT,
} from "./refcount.js";

const {
  REFCOUNT_ADD_NOT_ZERO_OVF,
  REFCOUNT_ADD_OVF,
  REFCOUNT_ADD_UAF,
  REFCOUNT_SUB_UAF,
  REFCOUNT_DEC_LEAK,
} = RefcountSaturationType;

/** A refcount_t whose warnings are collected as [type, message]. */
function counter(init: number) {
  const warnings: [RefcountSaturationType, string][] = [];
  const r = new RefcountT(init, { onWarn: (type, message) => warnings.push([type, message]) });
  return { r, warnings };
}

const SATURATED_UNSIGNED = 0xc000_0000;

describe("refcount_t constants", () => {
  it("REFCOUNT_MAX is INT_MAX and REFCOUNT_SATURATED is INT_MIN / 2", () => {
    expect(REFCOUNT_MAX).toBe(2147483647);
    expect(REFCOUNT_SATURATED).toBe(-1073741824);
    expect(REFCOUNT_SATURATED >>> 0).toBe(SATURATED_UNSIGNED);
    expect(REFCOUNT_SATURATED).toBe(INT_MIN / 2);
  });

  it("the enum and the messages are the kernel's", () => {
    expect(RefcountSaturationType).toEqual({
      REFCOUNT_ADD_NOT_ZERO_OVF: 0,
      REFCOUNT_ADD_OVF: 1,
      REFCOUNT_ADD_UAF: 2,
      REFCOUNT_SUB_UAF: 3,
      REFCOUNT_DEC_LEAK: 4,
    });
    expect(REFCOUNT_WARNINGS).toEqual({
      0: "refcount_t: saturated; leaking memory.",
      1: "refcount_t: saturated; leaking memory.",
      2: "refcount_t: addition on 0; use-after-free.",
      3: "refcount_t: underflow; use-after-free.",
      4: "refcount_t: decrement hit 0; leaking memory.",
    });
    expect(Object.isFrozen(REFCOUNT_WARNINGS)).toBe(true);
  });
});

describe("RefcountT", () => {
  it("set and read; read is the kernel's unsigned int, refs.read() the signed value", () => {
    const { r, warnings } = counter(0);
    expect(r.read()).toBe(0);
    r.set(3);
    expect(r.read()).toBe(3);
    r.set(REFCOUNT_SATURATED);
    expect(r.read()).toBe(SATURATED_UNSIGNED);
    expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
    expect(warnings).toEqual([]);
  });

  it("defaults to 0 and to no warning handler", () => {
    const r = new RefcountT();
    expect(r.read()).toBe(0);
    r.inc();
    expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
  });

  it("works over an existing atomic_t or cell", () => {
    const cells = new Int32Array(new SharedArrayBuffer(8));
    cells[1] = 2;
    const r = RefcountT.at(cells, 1);
    expect(r.decAndTest()).toBe(false);
    expect(cells[1]).toBe(1);
    const a = new AtomicT(5);
    const s = new RefcountT(a);
    s.inc();
    expect(a.read()).toBe(6);
  });

  describe("add / inc", () => {
    it("adds to a live count without warning", () => {
      const { r, warnings } = counter(1);
      r.inc();
      r.add(3);
      expect(r.read()).toBe(5);
      expect(warnings).toEqual([]);
    });

    it("inc on 0: addition on 0; use-after-free, and the counter saturates instead of becoming 1", () => {
      const { r, warnings } = counter(0);
      r.inc();
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([[REFCOUNT_ADD_UAF, "refcount_t: addition on 0; use-after-free."]]);
    });

    it("add on 0 is the same use-after-free", () => {
      const { r, warnings } = counter(0);
      r.add(5);
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([[REFCOUNT_ADD_UAF, REFCOUNT_WARNINGS[REFCOUNT_ADD_UAF]]]);
    });

    it("inc past REFCOUNT_MAX: saturated; leaking memory", () => {
      const { r, warnings } = counter(REFCOUNT_MAX);
      r.inc();
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([[REFCOUNT_ADD_OVF, "refcount_t: saturated; leaking memory."]]);
    });

    it("add reaching exactly REFCOUNT_MAX is fine, one more overflows", () => {
      const { r, warnings } = counter(REFCOUNT_MAX - 10);
      r.add(10);
      expect(r.read()).toBe(REFCOUNT_MAX);
      expect(warnings).toEqual([]);
      r.add(1);
      expect(warnings).toEqual([[REFCOUNT_ADD_OVF, "refcount_t: saturated; leaking memory."]]);
    });

    it("inc on a negative (bad) value: saturated; leaking memory", () => {
      const { r, warnings } = counter(-5);
      r.inc();
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([[REFCOUNT_ADD_OVF, "refcount_t: saturated; leaking memory."]]);
    });

    it("inc on a saturated counter warns again and stays saturated", () => {
      const { r, warnings } = counter(REFCOUNT_SATURATED);
      r.inc();
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([[REFCOUNT_ADD_OVF, REFCOUNT_WARNINGS[REFCOUNT_ADD_OVF]]]);
    });
  });

  describe("add_not_zero / inc_not_zero", () => {
    it("takes a reference on a live count", () => {
      const { r, warnings } = counter(2);
      expect(r.incNotZero()).toBe(true);
      expect(r.addNotZero(3)).toBe(true);
      expect(r.read()).toBe(6);
      expect(warnings).toEqual([]);
    });

    it("returns false and leaves 0 alone, without a warning", () => {
      const { r, warnings } = counter(0);
      expect(r.incNotZero()).toBe(false);
      expect(r.addNotZero(4)).toBe(false);
      expect(r.read()).toBe(0);
      expect(warnings).toEqual([]);
    });

    it("overflow: saturated; leaking memory, and still returns true", () => {
      const { r, warnings } = counter(REFCOUNT_MAX);
      expect(r.incNotZero()).toBe(true);
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([
        [REFCOUNT_ADD_NOT_ZERO_OVF, "refcount_t: saturated; leaking memory."],
      ]);
    });

    it("add_not_zero overflow with a larger increment", () => {
      const { r, warnings } = counter(REFCOUNT_MAX - 1);
      expect(r.addNotZero(2)).toBe(true);
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([
        [REFCOUNT_ADD_NOT_ZERO_OVF, REFCOUNT_WARNINGS[REFCOUNT_ADD_NOT_ZERO_OVF]],
      ]);
    });

    it("on a saturated counter: warns, stays saturated, returns true", () => {
      const { r, warnings } = counter(REFCOUNT_SATURATED);
      expect(r.incNotZero()).toBe(true);
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings.map(([t]) => t)).toEqual([REFCOUNT_ADD_NOT_ZERO_OVF]);
    });
  });

  describe("sub_and_test / dec_and_test", () => {
    it("true only on the last reference", () => {
      const { r, warnings } = counter(3);
      expect(r.decAndTest()).toBe(false);
      expect(r.decAndTest()).toBe(false);
      expect(r.decAndTest()).toBe(true);
      expect(r.read()).toBe(0);
      r.set(5);
      expect(r.subAndTest(2)).toBe(false);
      expect(r.subAndTest(3)).toBe(true);
      expect(warnings).toEqual([]);
    });

    it("dec_and_test on 0: underflow; use-after-free, saturates, returns false", () => {
      const { r, warnings } = counter(0);
      expect(r.decAndTest()).toBe(false);
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([[REFCOUNT_SUB_UAF, "refcount_t: underflow; use-after-free."]]);
    });

    it("sub_and_test below 0: underflow, no free", () => {
      const { r, warnings } = counter(2);
      expect(r.subAndTest(3)).toBe(false);
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([[REFCOUNT_SUB_UAF, REFCOUNT_WARNINGS[REFCOUNT_SUB_UAF]]]);
    });

    it("a saturated counter is never freed: dec_and_test warns and returns false", () => {
      const { r, warnings } = counter(REFCOUNT_SATURATED);
      expect(r.decAndTest()).toBe(false);
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings.map(([t]) => t)).toEqual([REFCOUNT_SUB_UAF]);
    });
  });

  describe("dec", () => {
    it("drops a reference that is not the last", () => {
      const { r, warnings } = counter(3);
      r.dec();
      expect(r.read()).toBe(2);
      expect(warnings).toEqual([]);
    });

    it("dropping the last: decrement hit 0; leaking memory", () => {
      const { r, warnings } = counter(1);
      r.dec();
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([
        [REFCOUNT_DEC_LEAK, "refcount_t: decrement hit 0; leaking memory."],
      ]);
    });

    it("dec on 0 is the same leak warning", () => {
      const { r, warnings } = counter(0);
      r.dec();
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings.map(([t]) => t)).toEqual([REFCOUNT_DEC_LEAK]);
    });
  });

  describe("dec_if_one", () => {
    it("only the 1 -> 0 transition", () => {
      const { r, warnings } = counter(2);
      expect(r.decIfOne()).toBe(false);
      expect(r.read()).toBe(2);
      r.set(1);
      expect(r.decIfOne()).toBe(true);
      expect(r.read()).toBe(0);
      expect(r.decIfOne()).toBe(false);
      expect(r.read()).toBe(0);
      expect(warnings).toEqual([]);
    });
  });

  describe("dec_not_one", () => {
    it("decrements unless 1", () => {
      const { r, warnings } = counter(3);
      expect(r.decNotOne()).toBe(true);
      expect(r.decNotOne()).toBe(true);
      expect(r.read()).toBe(1);
      expect(r.decNotOne()).toBe(false);
      expect(r.read()).toBe(1);
      expect(warnings).toEqual([]);
    });

    it("a saturated counter stays put and reports success", () => {
      const { r, warnings } = counter(REFCOUNT_SATURATED);
      expect(r.decNotOne()).toBe(true);
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      expect(warnings).toEqual([]);
    });

    it("on 0: underflow; use-after-free, without saturating (the kernel's WARN_ONCE there)", () => {
      const { r, warnings } = counter(0);
      expect(r.decNotOne()).toBe(true);
      expect(r.read()).toBe(0);
      expect(warnings).toEqual([[REFCOUNT_SUB_UAF, "refcount_t: underflow; use-after-free."]]);
    });

    it("a negative value that is not REFCOUNT_SATURATED just decrements (unsigned view)", () => {
      const { r, warnings } = counter(-5);
      expect(r.decNotOne()).toBe(true);
      expect(r.refs.read()).toBe(-6);
      expect(warnings).toEqual([]);
    });
  });

  describe("dec_and_lock / dec_and_mutex_lock", () => {
    function recordingLock() {
      const events: string[] = [];
      const lock: Lockable = {
        lock: async () => {
          events.push("lock");
        },
        unlock: () => {
          events.push("unlock");
        },
      };
      return { lock, events };
    }

    it("not the last: the fast path, no lock", async () => {
      const { r } = counter(2);
      const { lock, events } = recordingLock();
      expect(await r.decAndLock(lock)).toBe(false);
      expect(r.read()).toBe(1);
      expect(events).toEqual([]);
    });

    it("the last: returns true with the lock held", async () => {
      const { r } = counter(1);
      const { lock, events } = recordingLock();
      expect(await r.decAndMutexLock(lock)).toBe(true);
      expect(r.read()).toBe(0);
      expect(events).toEqual(["lock"]);
    });

    it("someone took a reference while we waited for the lock: unlock, not last", async () => {
      const { r } = counter(1);
      const events: string[] = [];
      const lock: Lockable = {
        lock: async () => {
          events.push("lock");
          r.inc();
        },
        unlock: async () => {
          events.push("unlock");
        },
      };
      expect(await r.decAndLock(lock)).toBe(false);
      expect(r.read()).toBe(1);
      expect(events).toEqual(["lock", "unlock"]);
    });

    it("a saturated counter never takes the lock", async () => {
      const { r } = counter(REFCOUNT_SATURATED);
      const { lock, events } = recordingLock();
      expect(await r.decAndLock(lock)).toBe(false);
      expect(events).toEqual([]);
    });
  });

  describe("saturation is forever", () => {
    it("no sequence of operations brings a saturated counter back to 0", async () => {
      const { r } = counter(0);
      r.inc(); // use-after-free: saturates
      let frees = 0;
      for (let i = 0; i < 10_000; i++) {
        if (r.decAndTest()) frees++;
        r.dec();
        if (r.subAndTest(1000)) frees++;
        if (r.decIfOne()) frees++;
        r.decNotOne();
        if (await r.decAndLock({ lock: () => {}, unlock: () => {} })) frees++;
        expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
      }
      expect(frees).toBe(0);
      expect(r.incNotZero()).toBe(true);
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
    });

    it("wraps through int on the way there, as the kernel's unchecked window does", () => {
      const { r } = counter(INT_MAX);
      r.refs.inc(); // a racing CPU's unchecked increment lands first: INT_MIN
      expect(r.refs.read()).toBe(INT_MIN);
      r.inc(); // old < 0: saturate
      expect(r.refs.read()).toBe(REFCOUNT_SATURATED);
    });
  });
});
