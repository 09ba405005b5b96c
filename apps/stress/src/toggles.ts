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
  /**
   * The strategy (a `--strategy` of `run`) that hunts it, when no other finds it within a
   * practical budget: `bugs` uses it whatever its `--strategy` (for the case's baseline too),
   * `hunt` unless given `--strategy`; `schedules` is then its budget (from its distribution of
   * first finds), which `bugs` runs unless given `--seeds`.
   */
  readonly strategy?: string;
  /** False to leave it out of the demo (a hunt too slow for it, a race outside the DRM stack); `bugs` and `hunt` still run it. */
  readonly demo?: boolean;
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
  "fs.fget-no-recheck": {
    case: "fuzz-fd-reuse@vgem",
    // Only POS starves the fd lookup long enough (PCT and random never found it within 1,000 in
    // the fuzz package). Schedules to the first find under the campaign's POS, base seeds 1-10
    // (since the fuzzer's dup2(), dup3() and close_range()): 228, 157, 165, 490, 154, 448, 444,
    // 1170, 364, 271 (median 317.5, mean 389.1); the budget is ceil(ln(1000) x mean), as the
    // fuzz package's hunts are pinned.
    strategy: "pos",
    schedules: 2688,
    // About 180 schedules per CPU second: a hunt of it and its clean run would double the demo.
    demo: false,
    how: "an fd lookup racing close() returns the file a child's open() allocated in the freed file's memory: a GEM ioctl's result no file installed at that fd could give, or drm_ioctl() on a file not opened yet (BUG: kernel NULL pointer dereference)",
  },
  "unix.gc-peek-no-seqcount": {
    case: "unix-gc-peek@vgem+vgem",
    // The collector must be preempted between judging the two sockets of an SCC while the
    // compositor peeks one and closes the other: POS finds it, PCT rarely (with one client:
    // pct:3 seed 1 at schedule 1131, seeds 2-3 not within 3,000; the portfolio's seed 1 at
    // 2433). Schedules to the first find under the campaign's POS, base seeds 1-10, with 2-3
    // clients and the fix switch of unix.gc-requeued-not-in-progress on (baselineFixes()):
    // 11, 53, 330, 175, 10, 27, 1, 14, 140, 50 (median 38.5, mean 81.1); the budget is
    // ceil(ln(1000) x mean), as for fs.fget-no-recheck.
    strategy: "pos",
    schedules: 561,
    // The demo hunts the DRM stack's races (the root README counts them); this race of the
    // kernel's unix sockets is hunted by `bugs` and `hunt`.
    demo: false,
    how: "BUG: KASAN: slab-use-after-free on an skb: the collector judged a socket dead before the compositor's MSG_PEEK took a reference to it and the other socket of the cycle after the compositor closed it, and purged the queue the compositor reads (or the message is gone: recvmsg() gives no fds)",
  },
  "dma-buf.release-in-fops": {
    case: "dmabuf-readlink@vgem+vgem",
    // A reader must be between its path_get() and dmabuffs_dname()'s name_lock while the last
    // reference's __fput() runs. Schedules to the first find under PCT depth 3 (hunt), seeds
    // 1-10: 179, 17, 14, 27, 49, 248, 246, 14, 9, 114 (median 38, mean 91.7); a campaign
    // under pct:3, base seed 1, at schedule 244; the campaign's portfolio (bugs), seed 1, at 39.
    // Every pair of drivers finds it (1,000 portfolio schedules: 4-17 failing per pair).
    schedules: 300,
    // Left out of the demo, whose hunts and length the root README and the bench count (the
    // demo's cases are the conformance suite's and the drivers'): `bugs` and `hunt` run it.
    demo: false,
    how: "BUG: KASAN: slab-use-after-free in spin_lock (dmabuffs_dname()'s name_lock): a reader's readlink of the dma-buf's /proc/<pid>/fd entry took the dentry, the last close's __fput() freed the dma_buf in the file's ->release, and ->d_dname read it through d_fsdata",
  },
  "gem.syncobj-find-fence-early-put": {
    case: "syncobj-submit",
    // The teardown's destroy must come after a waiter's lookup and before it is done with the
    // semaphore: most schedules have it. Schedules to the first find under PCT depth 3 (hunt),
    // seeds 1-10: 1, 4, 1, 1, 3, 1, 8, 4, 2, 2 (mean 2.7).
    schedules: 30,
    how: "BUG: KASAN: slab-use-after-free on the drm_syncobj: the transfer dropped its lookup reference before its WAIT_FOR_SUBMIT wait, and the teardown's SYNCOBJ_DESTROY freed the semaphore while the waiter queued on it or before it unqueued itself",
  },
  "unix.gc-embryo-successor-not-listener": {
    case: "unix-gc-listen@vgem+vgem",
    // No race: every run ends with the listener's fd in flight in its own embryo's queue, which
    // only the listener redirect lets the collector judge dead; the first schedule finds it.
    schedules: 5,
    demo: false,
    how: "kmemleak: unreferenced object UNIX# (and the skbs, the scm_fp_list, the vertex): the collector never judges the listener whose fd sits in its own embryo's queue dead",
  },
  "unix.oob-consecutive-consumed": {
    case: "unix-oob@vgem+vgem",
    // No race: every run leaves the two consumed pings at the head of the compositor's queue
    // before the frame's announcement; the first schedule finds it.
    schedules: 5,
    demo: false,
    how: "BUG: KASAN: slab-use-after-free in unix_stream_read_actor: the compositor's read stepped over two consumed OOB skbs onto the frame's announcement, read it inline and freed it, and its recv(MSG_OOB) read the skb u->oob_skb still pointed at",
  },
  "unix.oob-consumed-econnreset": {
    case: "unix-oob@vgem+vgem",
    // No race either: the compositor's stream end holds only the consumed goodbye when it closes.
    schedules: 5,
    demo: false,
    how: "a client's recvmsg() after the compositor closed gives -ECONNRESET, not end of file: the consumed OOB skb left in the compositor's queue counted as unread data",
  },
};

/**
 * Toggles no scenario of the harness hunts, each with the reason (printed by `bugs`, `list` and
 * the demo). Only deliberate choices go here: a toggle without a scenario or a reason fails
 * `bugs` and the toggle-coverage test. None today.
 */
export const NOT_HUNTED: Readonly<Record<string, string>> = {};

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
  /** The strategy its hunts use whatever they are given (ToggleCase.strategy), or null. */
  readonly strategy: string | null;
  /** Whether the demo hunts it (a scenario, and not left out of the demo). */
  readonly inDemo: boolean;
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
      strategy: tc?.strategy ?? null,
      inDemo: tc !== undefined && tc.demo !== false,
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

/** The toggles the demo hunts: the huntable ones but those left out of it, sorted by name. */
export function demoToggles(): ToggleEntry[] {
  return toggleTable().filter((t) => t.inDemo);
}
