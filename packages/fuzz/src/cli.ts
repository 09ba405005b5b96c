/**
 * The fuzzer's command line (`pnpm --filter @primetime/fuzz cli <command> [options]`):
 *
 *   campaign [schedules] [first-seed]   baseline campaign (every toggle off, fixes on): figures
 *   toggles [budget]                    which historic toggles the fuzzer finds, and after how many
 *   windows [budget]                    the known upstream windows, with a replay token each
 *   log <seed> | log --token <token>    one run's syscall log: each call with its arguments and
 *                                       result, the steps it started and returned at, then what
 *                                       the oracles said (a token of this package or of the stress
 *                                       app's fuzz scenarios, `fuzz@a+b` and `fuzz-fd-reuse@d`:
 *                                       their sizes, plan and, without --drivers, drivers)
 *
 * Options: `--drivers vgem|qxl|vmwgfx|a+b` (default vgem; two names: the two devices, e.g.
 * qxl+vgem), `--strategies pct,random,pos,portfolio` (cycled; default pct,random),
 * `--toggles a,b` (toggles: which to hunt; default every toggle of the packages loaded whose
 * code the drivers run: a qxl, vmwgfx or TTM toggle only with qxl or vmwgfx among them; naming
 * one the drivers do not run is a usage error),
 * `--plan "30:a+b 0:*"` (every run's swarm plan, one word per process, as plan.ts writes it;
 * default: drawn from each run's seed), `--first-seeds a,b` (toggles: hunt from each first seed, then print each toggle's distribution
 * of first finds; default 1),
 * `--sockets on|off|listen` (campaign, toggles, log: unix socket operations, socketpair(2),
 * sendmsg(2) and recvmsg(2) with SCM_RIGHTS, in every run; `listen` adds socket(2), bind(2),
 * listen(2), connect(2) and accept4(2); default off; a run's token records it in its scenario
 * name, `fuzz +unix` or `fuzz +unix+listen`, so `log --token` replays it without the option),
 * `--private on|off` (campaign, toggles, log: the drivers' private ioctls on qxl and vmwgfx
 * devices, from @primetime/uapi's qxl_drm.h and vmwgfx_drm.h; default off; recorded as
 * `fuzz +priv`, so `log --token` replays it without the option),
 * `--kms on|off|flip` (campaign, toggles, log: KMS framebuffers, ADDFB2, RMFB, CLOSEFB, GETFB and
 * GETFB2 from clients and from the display server as the compositor; default off; recorded as
 * `fuzz +kms`; `flip`: those and, on qxl devices registered with CRTCs, the compositor's
 * SETCRTC and PAGE_FLIP of its own and its clients' framebuffers with their events read back,
 * kms-flip.ts; recorded as `fuzz +kms+flip`),
 * `--drm-read on|off` (campaign, toggles, log: DRM fds opened O_NONBLOCK, read(2), polled,
 * vmwgfx's FENCE_EVENT, fstat(2) of any fd; default off; recorded as `fuzz +drmread`),
 * `--oob on|off` (campaign, toggles, log: MSG_OOB sends with and without fds, recvmsg(2) with
 * MSG_OOB and MSG_PEEK, reads of a byte count, ioctl(SIOCATMARK) on the sockets of `--sockets`;
 * default off; recorded as `fuzz +oob`),
 * `--masters on|off` (campaign, toggles, log: a privileged process and SET_VERSION, GET_UNIQUE,
 * SET_MASTER, DROP_MASTER; not with --private or --kms; default off; recorded as `fuzz +master`),
 * `--vmw-vram on|off` (campaign, toggles, log: vmwgfx devices of drawn memory, half with a small
 * MOB limit, and MOB-filling EXECBUF bursts, evictions of deleted buffers and of buffers being
 * closed; needs --private on; default off; recorded as `fuzz +priv+vram`),
 * `--leases on|off` (campaign, toggles, log: DRM leases, the display server as the lessor:
 * CREATE_LEASE over drawn object lists with the lessee fd sent to the client over a socket pair,
 * LIST_LESSEES, GET_LEASE, REVOKE_LEASE, and GETCRTC, GETPLANE and SETCRTC through the clients'
 * fds, a lessee's preferably; the devices registered drawn with CRTCs as with `--kms flip`;
 * with --masters: no display server, lookups racing the privileged process's SET_MASTER;
 * default off; recorded as `fuzz +lease`, fuzz-ops-lease.ts),
 * `--faults nth:N|p:P` (campaign, toggles, log: fault injection in every run, the stress app's
 * `run --faults` grammar: fail the N-th allocation after the boot, or each allocation with
 * probability P, from the end of the boot as the stress app's fuzz units start it; a run's
 * token records it as the stress app's unit names do, `fuzz~p:0.02`, so `log --token`
 * replays it).
 *
 * The drivers are dev dependencies of this package: the library itself takes the drivers as a
 * parameter (`fuzzCampaign({ fuzz: { drivers } })`), as the stress app does.
 */

import type { DriverUnderTest } from "@primetime/gem";
import { allocationCount, setFailslab } from "@primetime/kernel";
import { driverUnderTest as qxl } from "@primetime/qxl";
import { findToggle, listToggles } from "@primetime/sim";
import { applySearchV8Flags, decodeToken, encodeToken } from "@primetime/sim/explore";
import { driverUnderTest as vgem } from "@primetime/vgem";
import { driverUnderTest as vmwgfx } from "@primetime/vmwgfx";
import {
  type FuzzStrategy,
  fuzzCampaign,
  fuzzLog,
  huntToggles,
  stressFuzzUnit,
} from "./campaign.js";
import type { FuzzProcessPlan } from "./fuzz.js";
import { huntKnownWindows } from "./known-windows.js";
import { planFromScenarioName } from "./plan.js";
import { formatSyscallLog } from "./syscall-log.js";

// Same schedules, faster searches (see SEARCH_V8_FLAGS); V8 flags are process-wide.
applySearchV8Flags();

const DRIVERS: Record<string, DriverUnderTest> = { vgem, qxl, vmwgfx };
const STRATEGIES: readonly FuzzStrategy[] = ["pct", "random", "pos", "portfolio"];

function usage(): never {
  process.stderr.write(
    "usage: cli campaign [schedules] [first-seed] | toggles [budget] [--first-seeds a,b] | windows [budget]\n" +
      "  | log <seed> | log --token <token> (a run's syscall log; a seed runs the first strategy)\n" +
      "  [--drivers vgem|qxl|vmwgfx|a+b] [--strategies pct,random,pos,portfolio] [--toggles a,b]\n" +
      "  [--feedback on|off] (feedback-driven race pairs; default off)\n" +
      "  [--plan '30:gem-open+create-flink-close 0:*'] (every run's swarm plan; default drawn)\n" +
      "  [--faults nth:N|p:P] (campaign, toggles, log: fault injection from the end of the boot)\n" +
      "  [--sockets on|off|listen] (unix socket operations: socketpair, sendmsg, recvmsg;\n" +
      "    listen: also socket, bind, listen, connect, accept4; default off)\n" +
      "  [--private on|off] (the drivers' private ioctls: qxl's and vmwgfx's; default off)\n" +
      "  [--kms on|off|flip] (KMS framebuffers: ADDFB2, RMFB, CLOSEFB, GETFB, GETFB2; flip: also\n" +
      "    qxl devices with CRTCs, the compositor's SETCRTC and PAGE_FLIP with events; default off)\n" +
      "  [--drm-read on|off] (DRM fds read and polled, FENCE_EVENT, fstat of any fd; default off)\n" +
      "  [--oob on|off] (MSG_OOB sends and receives, SIOCATMARK on the sockets; default off)\n" +
      "  [--masters on|off] (a CAP_SYS_ADMIN process; SET_VERSION, GET_UNIQUE, SET/DROP_MASTER;\n" +
      "    not with --private or --kms; default off)\n" +
      "  [--vmw-vram on|off] (vmwgfx devices of drawn memory, MOB-filling EXECBUFs and evictions;\n" +
      "    needs --private on; default off)\n" +
      "  [--leases on|off] (DRM leases from the display server: CREATE_LEASE, LIST_LESSEES,\n" +
      "    GET_LEASE, REVOKE_LEASE, KMS lookups through lessee fds; with --masters: lookups racing\n" +
      "    SET_MASTER; default off)\n",
  );
  process.exit(2);
}

const positional: string[] = [];
const options = new Map<string, string>();
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a.startsWith("--")) {
    const v = argv[++i];
    if (v === undefined) usage();
    options.set(a.slice(2), v);
  } else positional.push(a);
}
const [cmd = "campaign", a, b] = positional;
/** The options some command takes: any other is bad usage, not silently ignored. */
const OPTIONS = [
  "drivers",
  "strategies",
  "toggles",
  "feedback",
  "plan",
  "first-seeds",
  "token",
  "faults",
  "sockets",
  "private",
  "kms",
  "drm-read",
  "oob",
  "masters",
  "vmw-vram",
  "leases",
];
for (const k of options.keys())
  if (!OPTIONS.includes(k)) {
    process.stderr.write(`unknown option: --${k.slice(0, 20)} (--${OPTIONS.join(", --")})\n`);
    usage();
  }
// Every toggle named must exist: a typo would otherwise end in an exception inside the hunt.
const toggleNames = options.get("toggles")?.split(",");
for (const t of toggleNames ?? [])
  if (!findToggle(t)) {
    process.stderr.write(
      `unknown toggle: ${t.slice(0, 64)} (${listToggles()
        .map((x) => x.name)
        .join(", ")})\n`,
    );
    process.exit(2);
  }

function num(s: string | undefined, d: number): number {
  const n = s === undefined ? d : Number(s);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`not a count: ${String(s).slice(0, 20)}\n`);
    process.exit(2);
  }
  return n;
}

/** A number of schedules (a campaign's, a hunt's budget): at least 1. */
function budgetOf(s: string | undefined, d: number): number {
  const n = num(s, d);
  if (n === 0) {
    process.stderr.write("not a budget: 0 (a positive number of schedules)\n");
    process.exit(2);
  }
  return n;
}

/**
 * `--faults`: fault injection, with the stress app's `run --faults` grammar and message
 * (apps/stress src/campaign/config.ts, parseFaults(); an app this package may not import).
 */
type FaultSpec =
  | { readonly kind: "nth"; readonly nth: number }
  | { readonly kind: "probability"; readonly p: number };

/** The spec `text` gives; a usage error (one line, exit 2) if it gives none. */
function parseFaults(text: string): FaultSpec {
  const nth = /^nth:(\d{1,9})$/.exec(text);
  if (nth && Number(nth[1]) >= 1) return { kind: "nth", nth: Number(nth[1]) };
  const p = /^p:(0(?:\.\d+)?|1(?:\.0+)?|\.\d+)$/.exec(text);
  if (p && Number(p[1]) > 0) return { kind: "probability", p: Number(p[1]) };
  process.stderr.write(
    `--faults "${text.slice(0, 20)}" is not accepted; accepted: nth:N (fail the N-th allocation of every schedule, 1 <= N <= 999999999) or p:P (fail each allocation with probability 0 < P <= 1)\n`,
  );
  process.exit(2);
}

/** "nth:3", "p:0.02": as the stress app writes a spec in its unit names. */
function formatFaults(f: FaultSpec): string {
  return f.kind === "nth" ? `nth:${f.nth}` : `p:${f.p}`;
}

/**
 * Starts fault injection in the running simulation at the end of the boot (the fuzzer's
 * `afterBoot`), as the stress app's fuzz units do (apps/stress scenarios/sharing/machine.ts,
 * startFaults()): `nth:N` fails the N-th allocation from then on, `p:P` each one with
 * probability P (setFailslab() of @primetime/kernel).
 */
function startFaults(f: FaultSpec): void {
  setFailslab(f.kind === "nth" ? { failNth: allocationCount() + f.nth } : { probability: f.p });
}

/** A token's scenario name without its fault spec (`fuzz~p:0.02`, `fuzz@vgem+vgem~nth:3`). */
function splitFaults(scenario: string): { scenario: string; faults?: string } {
  const m = /^(.*)~([^~]*)$/.exec(scenario);
  return m ? { scenario: m[1]!, faults: m[2]! } : { scenario };
}

const faultsOpt = options.get("faults");
let faults = faultsOpt === undefined ? null : parseFaults(faultsOpt);
if (faults && cmd === "windows") {
  process.stderr.write(
    "--faults is not taken by windows (accepted by campaign, toggles and log)\n",
  );
  process.exit(2);
}

// A stress token of a fuzz scenario names its unit's drivers (`fuzz-fd-reuse@vgem`): the default.
// A token of a run with fault injection names its spec (`fuzz~p:0.02`, `fuzz@vgem+vgem~p:0.05`):
// the replay injects the same faults, and runs the token without it (the scenario name is a label).
const tokenOpt = options.get("token");
let tokenDrivers: string | undefined;
let token = tokenOpt;
if (cmd === "log" && tokenOpt !== undefined) {
  try {
    const t = decodeToken(tokenOpt);
    const split = splitFaults(t.scenario);
    if (split.faults !== undefined) {
      const recorded = parseFaults(split.faults);
      if (faults && formatFaults(faults) !== formatFaults(recorded)) {
        process.stderr.write(
          `--faults ${formatFaults(faults)} is not the token's (${formatFaults(recorded)}): a token replays with the faults it recorded (accepted: no --faults, or --faults ${formatFaults(recorded)})\n`,
        );
        process.exit(2);
      }
      faults = recorded;
      token = encodeToken({ ...t, scenario: split.scenario });
    }
    tokenDrivers = stressFuzzUnit(split.scenario)?.drivers.join("+");
    const driversOpt = options.get("drivers");
    if (tokenDrivers !== undefined && driversOpt !== undefined && driversOpt !== tokenDrivers) {
      process.stderr.write(
        `--drivers ${driversOpt.slice(0, 40)} is not the token's (${tokenDrivers}, from its unit ${split.scenario}): a stress token replays on its unit's drivers in their order (accepted: no --drivers, or --drivers ${tokenDrivers})\n`,
      );
      process.exit(2);
    }
  } catch (e) {
    process.stderr.write(`${(e as Error).message.slice(0, 300)}\n`);
    process.exit(2);
  }
}
/** A run's token as this CLI prints it: with the fault spec in its scenario name. */
function withFaults(t: string): string;
function withFaults(t: string | undefined): string | undefined;
function withFaults(t: string | undefined): string | undefined {
  if (!faults || t === undefined) return t;
  const d = decodeToken(t);
  return encodeToken({ ...d, scenario: `${d.scenario}~${formatFaults(faults)}` });
}
const drivers = (options.get("drivers") ?? tokenDrivers ?? "vgem").split("+").map((n) => {
  const d = DRIVERS[n];
  if (!d) {
    process.stderr.write(`unknown driver: ${n.slice(0, 20)} (vgem, qxl, vmwgfx)\n`);
    process.exit(2);
  }
  return d;
});
const strategies = (options.get("strategies") ?? "pct,random").split(",").map((n) => {
  if (!(STRATEGIES as readonly string[]).includes(n)) {
    process.stderr.write(`unknown strategy: ${n.slice(0, 20)} (${STRATEGIES.join(", ")})\n`);
    process.exit(2);
  }
  return n as FuzzStrategy;
});
// A fixed swarm plan for every run (`--plan "30:gem-open+create-flink-close 0:*"`, as a feedback
// run's scenario name records it: plan.ts).
const planText = options.get("plan");
let plan: FuzzProcessPlan[] | undefined;
try {
  plan = planText === undefined ? undefined : planFromScenarioName(`fuzz plan=${planText}`);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}
const socketsOpt = options.get("sockets");
if (
  socketsOpt !== undefined &&
  socketsOpt !== "on" &&
  socketsOpt !== "off" &&
  socketsOpt !== "listen"
)
  usage();
const privateOpt = options.get("private");
if (privateOpt !== undefined && privateOpt !== "on" && privateOpt !== "off") usage();
const kmsOpt = options.get("kms");
if (kmsOpt !== undefined && kmsOpt !== "on" && kmsOpt !== "flip" && kmsOpt !== "off") usage();
const drmReadOpt = options.get("drm-read");
if (drmReadOpt !== undefined && drmReadOpt !== "on" && drmReadOpt !== "off") usage();
const oobOpt = options.get("oob");
if (oobOpt !== undefined && oobOpt !== "on" && oobOpt !== "off") usage();
const mastersOpt = options.get("masters");
if (mastersOpt !== undefined && mastersOpt !== "on" && mastersOpt !== "off") usage();
if (mastersOpt === "on" && (privateOpt === "on" || kmsOpt === "on" || kmsOpt === "flip")) usage();
const vmwVramOpt = options.get("vmw-vram");
if (vmwVramOpt !== undefined && vmwVramOpt !== "on" && vmwVramOpt !== "off") usage();
if (vmwVramOpt === "on" && privateOpt !== "on") usage();
const leasesOpt = options.get("leases");
if (leasesOpt !== undefined && leasesOpt !== "on" && leasesOpt !== "off") usage();
const spec = faults;
const fuzz = {
  drivers,
  plan,
  sockets: socketsOpt === "listen" ? ("listen" as const) : socketsOpt === "on",
  private: privateOpt === "on",
  kms: kmsOpt === "flip" ? ("flip" as const) : kmsOpt === "on",
  drmRead: drmReadOpt === "on",
  oob: oobOpt === "on",
  masters: mastersOpt === "on",
  vmwVram: vmwVramOpt === "on",
  leases: leasesOpt === "on",
  afterBoot: spec ? () => startFaults(spec) : undefined,
};
const feedbackOpt = options.get("feedback");
if (feedbackOpt !== undefined && feedbackOpt !== "on" && feedbackOpt !== "off") usage();

if (cmd === "campaign") {
  const schedules = budgetOf(a, 1000);
  const firstSeed = num(b, 1);
  const t0 = performance.now();
  const st = await fuzzCampaign({
    fuzz,
    schedules,
    firstSeed,
    strategies,
    feedback: feedbackOpt === "on",
    progressEvery: 1000,
    onProgress: (s) =>
      process.stdout.write(
        `${s.schedules} schedules, ${s.syscalls} syscalls, ${s.steps} steps, ${s.failedSchedules} failing (splats ${s.splats}, exceptions ${s.exceptions}, leaks ${s.leaks}, divergences ${s.divergences}, hangs ${s.hangs}), ${((performance.now() - t0) / 1000).toFixed(0)} s, CPU ${(process.cpuUsage().user / 1e6).toFixed(0)} s\n`,
      ),
  });
  const failures = st.failures.map((f) => ({ ...f, token: withFaults(f.token) }));
  process.stdout.write(
    `${JSON.stringify({ ...st, failures, seconds: (performance.now() - t0) / 1000 })}\n`,
  );
  process.exit(st.failedSchedules === 0 ? 0 : 1);
} else if (cmd === "toggles") {
  // A driver's toggle (and TTM's, which only qxl and vmwgfx use) is in code no other driver runs:
  // hunting it without its driver would spend the whole budget to report "not found".
  const driverNames = drivers.map((d) => d.name);
  const needs = (t: string): string[] | null =>
    t.startsWith("qxl.")
      ? ["qxl"]
      : t.startsWith("vmwgfx.")
        ? ["vmwgfx"]
        : t.startsWith("ttm.")
          ? ["qxl", "vmwgfx"]
          : null;
  const reachable = (t: string) => needs(t)?.some((n) => driverNames.includes(n)) ?? true;
  for (const t of toggleNames ?? [])
    if (!reachable(t)) {
      process.stderr.write(
        `${t.slice(0, 64)} is in ${needs(t)!.join(" or ")}'s code, which --drivers ${driverNames.join("+")} does not run (e.g. --drivers ${needs(t)![0]}+vgem)\n`,
      );
      process.exit(2);
    }
  const budget = budgetOf(a, 300);
  const left = toggleNames ? [] : listToggles().filter((t) => !reachable(t.name));
  if (left.length > 0)
    process.stdout.write(
      `not hunted (their driver is not among --drivers ${driverNames.join("+")}): ${left.map((t) => t.name).join(", ")}\n`,
    );
  const toggles =
    toggleNames ??
    listToggles()
      .map((t) => t.name)
      .filter(reachable);
  // Several first seeds give each toggle's distribution of first finds (a test budget should
  // cover it, not one seed's first find).
  const firstSeeds = (options.get("first-seeds") ?? "1").split(",").map((s) => num(s, 1));
  const finds = new Map<string, (number | null)[]>();
  for (const firstSeed of firstSeeds) {
    const res = await huntToggles(fuzz, {
      budget,
      toggles,
      firstSeed,
      strategies,
      feedback: feedbackOpt === "on",
    });
    for (const h of res) {
      const list = finds.get(h.toggle) ?? [];
      list.push(h.found ? h.schedules : null);
      finds.set(h.toggle, list);
      process.stdout.write(
        `${h.toggle}${firstSeeds.length > 1 ? ` (first seed ${firstSeed})` : ""}: ${h.found ? `found after ${h.schedules} schedules: ${h.first?.split("\n")[0]}\n  token ${withFaults(h.token)}` : `not found in ${h.schedules} schedules`}\n`,
      );
    }
  }
  if (firstSeeds.length > 1)
    for (const [toggle, list] of finds) {
      const found = list.filter((x): x is number => x !== null).sort((x, y) => x - y);
      const median = found.length === list.length ? found[(found.length - 1) >> 1] : undefined;
      process.stdout.write(
        `${toggle}: first finds ${list.map((x) => x ?? `>${budget}`).join(", ")}; ${found.length} of ${list.length} found${median === undefined ? "" : `, median ${median}, max ${found.at(-1)}`}\n`,
      );
    }
  process.stdout.write(`CPU ${(process.cpuUsage().user / 1e6).toFixed(1)} s\n`);
} else if (cmd === "windows") {
  for (const h of await huntKnownWindows(budgetOf(a, 200))) {
    process.stdout.write(
      `${h.window.name}: ${h.found ? `reached after ${h.schedules} schedules: ${h.found.splats[0]?.message}\n  token ${h.found.token}` : `not reached in ${h.schedules} schedules`}\n  with its fix switch: ${h.firedWithFix} failing schedules\n`,
    );
  }
} else if (cmd === "log") {
  if (token === undefined && a === undefined) usage();
  let res: Awaited<ReturnType<typeof fuzzLog>>;
  try {
    res = await fuzzLog(
      fuzz,
      token !== undefined
        ? { token }
        : { seed: num(a, 1), strategy: strategies[0], toggles: toggleNames },
    );
  } catch (e) {
    const msg = (e as Error).message.slice(0, 300);
    // This package's tokens do not name their drivers: a mismatch is most likely other drivers.
    const hint =
      token !== undefined && tokenDrivers === undefined && /does not match this scenario/.test(msg)
        ? ` (replayed on --drivers ${drivers.map((d) => d.name).join("+")}: a token replays only on the drivers, in their order, of the run that printed it)`
        : "";
    process.stderr.write(`${msg}${hint}\n`);
    process.exit(2);
  }
  const { run, cls, log } = res;
  process.stdout.write(`${formatSyscallLog(log)}\n`);
  process.stdout.write(
    `${log.length} syscalls; outcome ${run.outcome}, ${run.steps} steps, trace ${run.traceHash}; splats ${cls.splats}, exceptions ${cls.exceptions}, leaks ${cls.leaks}, divergences ${cls.divergences}\n`,
  );
  for (const sp of run.splats)
    process.stdout.write(`[step ${sp.step}] ${sp.kind}: ${sp.message}\n`);
  process.exit(run.splats.length === 0 && run.outcome === "ok" ? 0 : 1);
} else usage();
