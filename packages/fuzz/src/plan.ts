/**
 * Swarm plans as text: a feedback-driven campaign chooses each process's plan outside the run
 * (feedback.ts), so the run's scenario name records it, and `fuzzReplay()` rebuilds the scenario
 * from a token alone. One process per word, `<race weight>:<op>+<op>...` (`*`: every race
 * operation), e.g. `fuzz plan=30:gem-close+flink 0:*`.
 */

import { type FuzzProcessPlan, RACE_OPS, type RaceOp } from "./fuzz.js";

const PREFIX = "fuzz plan=";
/** The scenario name's suffix of a run with socket operations (FuzzOptions.sockets). */
const SOCKETS_SUFFIX = " +unix";
/** The suffix of a run with listening sockets too (FuzzOptions.sockets "listen"). */
const LISTEN_SUFFIX = " +unix+listen";
/** The suffix of a run with the drivers' private ioctls (FuzzOptions.private), after any other. */
const PRIVATE_SUFFIX = " +priv";
/** PRIVATE_SUFFIX's form in a run with vmwgfx's memory under pressure too (FuzzOptions.vmwVram). */
const PRIVATE_VRAM_SUFFIX = " +priv+vram";
/** The suffix of a run with KMS framebuffers (FuzzOptions.kms), after any other. */
const KMS_SUFFIX = " +kms";
/** The suffix of a run with KMS framebuffers and the compositor's flips (FuzzOptions.kms "flip"). */
const KMS_FLIP_SUFFIX = " +kms+flip";
/** The suffix of a run with DRM reads, polls and fstat()s (FuzzOptions.drmRead), after any other. */
const DRM_READ_SUFFIX = " +drmread";
/** The suffix of a run with MSG_OOB socket operations (FuzzOptions.oob), after any other. */
const OOB_SUFFIX = " +oob";
/** The suffix of a run with DRM masters and a privileged process (FuzzOptions.masters). */
const MASTERS_SUFFIX = " +master";
/** The suffix of a run with DRM leases (FuzzOptions.leases), last. */
const LEASES_SUFFIX = " +lease";
/** Plans longer than this are not plans (a scenario name is quoted in messages). */
const MAX_PLAN_TEXT = 4096;

/**
 * The scenario name of a run with `plan` ("fuzz" without one), and with socket operations
 * (`sockets`: " +unix" after it, `fuzz +unix`, `fuzz plan=30:* +unix`; "listen": " +unix+listen",
 * `fuzz +unix+listen`), and with the drivers' private ioctls (`priv`: " +priv" last, `fuzz +priv`,
 * `fuzz +unix +priv`; "vram": " +priv+vram", FuzzOptions.vmwVram), and with KMS framebuffers (`kms`: " +kms" after everything, `fuzz +kms`,
 * `fuzz +priv +kms`; "flip": " +kms+flip", `fuzz +kms+flip`), and with DRM reads (`drmRead`: " +drmread" after everything, `fuzz +drmread`,
 * `fuzz +kms +drmread`), and with MSG_OOB socket operations (`oob`: " +oob" after everything,
 * `fuzz +unix +oob`), and with DRM masters (`masters`: " +master" after everything, `fuzz +master`,
 * `fuzz +unix +drmread +master`), and with DRM leases (`leases`: " +lease" last, `fuzz +lease`,
 * `fuzz +kms+flip +lease`).
 */
export function planScenarioName(
  plan: readonly FuzzProcessPlan[] | undefined,
  sockets: boolean | "listen" = false,
  priv: boolean | "vram" = false,
  kms: boolean | "flip" = false,
  drmRead = false,
  oob = false,
  masters = false,
  leases = false,
): string {
  const tail =
    (sockets === "listen" ? LISTEN_SUFFIX : sockets ? SOCKETS_SUFFIX : "") +
    (priv === "vram" ? PRIVATE_VRAM_SUFFIX : priv ? PRIVATE_SUFFIX : "") +
    (kms === "flip" ? KMS_FLIP_SUFFIX : kms ? KMS_SUFFIX : "") +
    (drmRead ? DRM_READ_SUFFIX : "") +
    (oob ? OOB_SUFFIX : "") +
    (masters ? MASTERS_SUFFIX : "") +
    (leases ? LEASES_SUFFIX : "");
  if (!plan || plan.length === 0) return `fuzz${tail}`;
  const words = plan.map((p) => `${p.races}:${p.raceOps.length === 0 ? "*" : p.raceOps.join("+")}`);
  return `${PREFIX}${words.join(" ")}${tail}`;
}

/**
 * The socket operations a scenario name records (planScenarioName()): "listen", true (socket
 * pairs only) or false.
 */
export function socketsFromScenarioName(scenario: string): boolean | "listen" {
  if (!scenario.startsWith("fuzz")) return false;
  const name = withoutPrivate(scenario);
  if (name.endsWith(LISTEN_SUFFIX)) return "listen";
  return name.endsWith(SOCKETS_SUFFIX);
}

/**
 * The plan a scenario name records: undefined for a run without one ("fuzz", or a name that is
 * not the fuzzer's); a RangeError for a plan that does not parse.
 */
export function planFromScenarioName(scenario: string): FuzzProcessPlan[] | undefined {
  const bare = withoutPrivate(scenario);
  const name = bare.endsWith(LISTEN_SUFFIX)
    ? bare.slice(0, -LISTEN_SUFFIX.length)
    : bare.endsWith(SOCKETS_SUFFIX)
      ? bare.slice(0, -SOCKETS_SUFFIX.length)
      : bare;
  if (!name.startsWith(PREFIX)) return undefined;
  if (name.length > MAX_PLAN_TEXT) throw new RangeError("fuzz plan: too long");
  const out: FuzzProcessPlan[] = [];
  for (const word of name.slice(PREFIX.length).split(" ")) {
    const m = /^(\d{1,4}):(\*|[a-z-]+(?:\+[a-z-]+)*)$/.exec(word);
    if (!m)
      throw new RangeError(`fuzz plan: bad process plan ${JSON.stringify(word.slice(0, 40))}`);
    const ops = m[2] === "*" ? [] : m[2]!.split("+");
    for (const op of ops)
      if (!(RACE_OPS as readonly string[]).includes(op))
        throw new RangeError(
          `fuzz plan: unknown race operation ${JSON.stringify(op.slice(0, 40))}`,
        );
    out.push({ races: Number(m[1]), raceOps: ops as RaceOp[] });
  }
  return out;
}

/** Whether a scenario name records the drivers' private ioctls (planScenarioName()'s " +priv"). */
export function privateFromScenarioName(name: string): boolean {
  if (!name.startsWith("fuzz")) return false;
  const s = withoutKms(name);
  return s.endsWith(PRIVATE_SUFFIX) || s.endsWith(PRIVATE_VRAM_SUFFIX);
}

/** Whether a scenario name records vmwgfx's memory under pressure (" +priv+vram"). */
export function vmwVramFromScenarioName(name: string): boolean {
  return name.startsWith("fuzz") && withoutKms(name).endsWith(PRIVATE_VRAM_SUFFIX);
}

/**
 * Whether a scenario name records KMS framebuffers (planScenarioName()'s " +kms": true), with
 * the compositor's flips (" +kms+flip": "flip"), or neither (false).
 */
export function kmsFromScenarioName(name: string): boolean | "flip" {
  if (!name.startsWith("fuzz")) return false;
  const s = withoutDrmRead(name);
  if (s.endsWith(KMS_FLIP_SUFFIX)) return "flip";
  return s.endsWith(KMS_SUFFIX);
}

/** Whether a scenario name records DRM reads (planScenarioName()'s " +drmread"). */
export function drmReadFromScenarioName(name: string): boolean {
  return name.startsWith("fuzz") && withoutOob(name).endsWith(DRM_READ_SUFFIX);
}

/** Whether a scenario name records MSG_OOB socket operations (planScenarioName()'s " +oob"). */
export function oobFromScenarioName(name: string): boolean {
  return name.startsWith("fuzz") && withoutMasters(name).endsWith(OOB_SUFFIX);
}

/** Whether a scenario name records DRM masters (planScenarioName()'s " +master"). */
export function mastersFromScenarioName(name: string): boolean {
  return name.startsWith("fuzz") && withoutLeases(name).endsWith(MASTERS_SUFFIX);
}

/** Whether a scenario name records DRM leases (planScenarioName()'s " +lease"). */
export function leasesFromScenarioName(name: string): boolean {
  return name.startsWith("fuzz") && name.endsWith(LEASES_SUFFIX);
}

/** `scenario` without its " +lease" suffix. */
function withoutLeases(scenario: string): string {
  return scenario.endsWith(LEASES_SUFFIX) ? scenario.slice(0, -LEASES_SUFFIX.length) : scenario;
}

/** `scenario` without its " +lease" and " +master" suffixes. */
function withoutMasters(scenario: string): string {
  const s = withoutLeases(scenario);
  return s.endsWith(MASTERS_SUFFIX) ? s.slice(0, -MASTERS_SUFFIX.length) : s;
}

/** `scenario` without its " +master" and " +oob" suffixes. */
function withoutOob(scenario: string): string {
  const s = withoutMasters(scenario);
  return s.endsWith(OOB_SUFFIX) ? s.slice(0, -OOB_SUFFIX.length) : s;
}

/** `scenario` without its " +oob" and " +drmread" suffixes. */
function withoutDrmRead(scenario: string): string {
  const s = withoutOob(scenario);
  return s.endsWith(DRM_READ_SUFFIX) ? s.slice(0, -DRM_READ_SUFFIX.length) : s;
}

/** `scenario` without its " +drmread" and " +kms" (or " +kms+flip") suffixes. */
function withoutKms(scenario: string): string {
  const s = withoutDrmRead(scenario);
  if (s.endsWith(KMS_FLIP_SUFFIX)) return s.slice(0, -KMS_FLIP_SUFFIX.length);
  return s.endsWith(KMS_SUFFIX) ? s.slice(0, -KMS_SUFFIX.length) : s;
}

/** `scenario` without its " +drmread", " +kms" and " +priv" (or " +priv+vram") suffixes. */
function withoutPrivate(scenario: string): string {
  const s = withoutKms(scenario);
  if (s.endsWith(PRIVATE_VRAM_SUFFIX)) return s.slice(0, -PRIVATE_VRAM_SUFFIX.length);
  return s.endsWith(PRIVATE_SUFFIX) ? s.slice(0, -PRIVATE_SUFFIX.length) : s;
}
