/**
 * The fuzz run's DRM master operations (`FuzzOptions.masters`, token `fuzz +master`): one process
 * of the run is privileged (CAP_SYS_ADMIN, `spawnProcess(..., { caps })`, drawn from the seed),
 * and every thread may call SET_VERSION, GET_UNIQUE, SET_MASTER and DROP_MASTER on its DRM fds
 * (or a sibling's), with valid and invalid arguments; a privileged thread sometimes races its
 * GET_UNIQUE against a SET_MASTER of a second thread on the same fd, the shape of syzbot's
 * drm_getunique() report (b436acd1cf7f). Kernel counterpart: drivers/gpu/drm/drm_auth.c
 * (drm_master_check_perm(), drm_setmaster_ioctl(), drm_new_set_master(),
 * drm_dropmaster_ioctl()), drm_ioctl.c (drm_getunique(), drm_setversion(), drm_set_busid(),
 * drm_ioctl_permit()) and drm_file.c (drm_file_alloc(): a privileged opener is authenticated) of
 * v6.12 and v6.18.
 *
 * What the reference model knows of each result (checked through the fd model at the end of the
 * run, as every other DRM ioctl's: the fd may have named another file meanwhile), for a primary
 * file; a render file gets -EACCES for all four (none is DRM_RENDER_ALLOW), anything that is not
 * a DRM file -ENOTTY:
 * - SET_VERSION (DRM_MASTER): 0 or -EACCES (not the current master) for a valid request, -EINVAL
 *   or -EACCES for an invalid one (drm_ioctl_permit() comes first).
 * - GET_UNIQUE: always 0; the length is 0 (no SET_VERSION 1.1+ on the file's master yet) or the
 *   device's bus id's (its driver's name here), and the string is the bus id when the buffer was
 *   large enough.
 * - SET_MASTER: 0 or -EBUSY (another file is master); -EACCES too unless the caller is
 *   privileged (drm_master_check_perm(): a file that never was master); -ENOMEM only after an
 *   allocation may have failed (drm_new_set_master()'s drm_master_create()).
 * - DROP_MASTER: 0 or -EINVAL (not the current master); -EACCES too unless the caller is
 *   privileged.
 *
 * Masters change nothing else the model checks in a run without a display server: DRM_AUTH
 * ioctls (FLINK, GEM_OPEN...) are not judged there (-EACCES is always excused), so a privileged
 * opener's files being authenticated, or a file made master, cannot diverge. A display server
 * (`private`, `kms`) assumes no client is privileged (auth-model.ts, display-server.ts):
 * fuzzScenario() refuses `masters` with either.
 */

import {
  CAP_SYS_ADMIN,
  EACCES,
  EBUSY,
  EINVAL,
  ENOTTY,
  type Kernel,
  type Process,
  type ThreadFn,
} from "@primetime/kernel";
import { choose } from "@primetime/sim";
import {
  DRM_IOCTL_DROP_MASTER,
  DRM_IOCTL_GET_UNIQUE,
  DRM_IOCTL_SET_MASTER,
  DRM_IOCTL_SET_VERSION,
  type DrmSetVersion,
  type DrmUnique,
} from "@primetime/uapi";
import { drmIoctlFits, type FdObject } from "./fd-model.js";
import type { FdEntry, FuzzRun, ThreadCtx } from "./fuzz.js";
import { busy } from "./fuzz-ops-fd.js";

/** The capabilities of the run's privileged process (`FuzzOptions.masters`). */
export const MASTER_ROOT_CAPS: readonly number[] = [CAP_SYS_ADMIN];

/**
 * How the run spawns a process: with MASTER_ROOT_CAPS if `root`, else as every process is
 * (unprivileged).
 */
export function spawnerFor(
  kernel: Kernel,
  root: boolean,
): (name: string, main: ThreadFn) => Process {
  return root
    ? (name, main) => kernel.spawnProcess(name, main, { caps: MASTER_ROOT_CAPS })
    : (name, main) => kernel.spawnProcess(name, main);
}

/**
 * Which process of `nProc` is privileged (a draw, label "fuzz root process"), or -1 without
 * `masters`: no draw, so a run without the option draws as before.
 */
export function drawRootProcess(masters: boolean | undefined, nProc: number): number {
  return masters ? choose(nProc, "fuzz root process") : -1;
}

/** SET_VERSION requests: [di_major, di_minor, dd_major, dd_minor, valid]. */
const SET_VERSIONS: readonly (readonly [number, number, number, number, boolean])[] = [
  [1, 4, -1, -1, true],
  [1, 1, -1, -1, true],
  [1, 0, -1, -1, true],
  [-1, 0, -1, -1, true],
  [2, 0, -1, -1, false],
  [1, 5, -1, -1, false],
  [1, -1, -1, -1, false],
  [-1, 0, 99, 0, false],
];

/** GET_UNIQUE buffer sizes: none, too short for any bus id, large enough for every one. */
const UNIQUE_LENS = [0, 2, 64] as const;

/** The master operations, in draw order. */
type MasterOp = "set-version" | "get-unique" | "set-master" | "drop-master" | "race";

const MASTER_OPS: readonly MasterOp[] = [
  "set-version",
  "get-unique",
  "get-unique",
  "set-master",
  "drop-master",
  "race",
];

/** One master operation of `ctx`'s thread (OP_TABLE's last slot with `masters`). */
export async function opMaster(run: FuzzRun, ctx: ThreadCtx): Promise<"ok"> {
  const op = MASTER_OPS[choose(MASTER_OPS.length, "fuzz master op")]!;
  const pk = run.pickDrm(ctx);
  if (!pk) return "ok";
  const { e } = pk;
  switch (op) {
    case "set-version":
      await setVersion(run, ctx, e);
      return "ok";
    case "get-unique":
      await getUnique(run, ctx, e);
      return "ok";
    case "set-master":
    case "drop-master":
      await setDropMaster(run, ctx, e, op === "drop-master");
      return "ok";
    case "race":
      await raceGetUniqueSetMaster(run, ctx, e);
      return "ok";
  }
}

/** The result `ret` of a call through `e` fits a DRM file `o` by `judge`, else it is -ENOTTY. */
function fitsDrm(ret: number, judge: (primary: boolean) => boolean): (o: FdObject) => boolean {
  const kind = drmIoctlFits(ret, -ENOTTY);
  return (o) => {
    if (!kind(o)) return false;
    if (o.kind !== "drm") return true;
    return judge(o.file.primary);
  };
}

/** SET_VERSION through `e` with a drawn request (or 1.4, `busid`: what a new master does). */
async function setVersion(run: FuzzRun, ctx: ThreadCtx, e: FdEntry, busid = false): Promise<void> {
  const [diMajor, diMinor, ddMajor, ddMinor, valid] = busid
    ? SET_VERSIONS[0]!
    : SET_VERSIONS[choose(SET_VERSIONS.length, "fuzz set version")]!;
  const sv: DrmSetVersion = {
    drm_di_major: diMajor,
    drm_di_minor: diMinor,
    drm_dd_major: ddMajor,
    drm_dd_minor: ddMinor,
  };
  const what = `SET_VERSION(${diMajor}.${diMinor}, ${ddMajor}.${ddMinor})`;
  const t0 = run.model.tick();
  const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_SET_VERSION, sv);
  const t1 = run.model.tick();
  run.fdUse(
    ctx,
    e.fd,
    t0,
    t1,
    ret,
    `${what} = ${ret}`,
    fitsDrm(ret, (primary) =>
      !primary ? ret === -EACCES : ret === -EACCES || ret === (valid ? 0 : -EINVAL),
    ),
  );
}

/** GET_UNIQUE through `e` with a drawn buffer size: 0, the length and the bus id checked. */
async function getUnique(run: FuzzRun, ctx: ThreadCtx, e: FdEntry): Promise<void> {
  const len = UNIQUE_LENS[choose(UNIQUE_LENS.length, "fuzz unique len")]!;
  await doGetUnique(run, ctx, e, len, "GET_UNIQUE");
}

async function doGetUnique(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  len: number,
  label: string,
): Promise<void> {
  const u: DrmUnique = { unique_len: len, unique: "" };
  const t0 = run.model.tick();
  const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_GET_UNIQUE, u);
  const t1 = run.model.tick();
  const got = ret === 0 ? `${ret} (${u.unique_len}, ${JSON.stringify(u.unique)})` : `${ret}`;
  run.fdUse(ctx, e.fd, t0, t1, ret, `${label}(${len}) = ${got}`, (o) => {
    if (!drmIoctlFits(ret, -ENOTTY)(o)) return false;
    if (o.kind !== "drm") return true;
    if (!o.file.primary) return ret === -EACCES;
    if (ret !== 0) return false;
    // The file's master's bus id: none, or its device's (drm_set_busid(): the driver's name).
    const busid = run.devs[o.file.dev]!.device.driver.name;
    if (u.unique_len === 0) return u.unique === "";
    if (u.unique_len !== busid.length) return false;
    return u.unique === (len >= busid.length ? busid : "");
  });
}

/** SET_MASTER or DROP_MASTER through `e`. */
async function setDropMaster(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  drop: boolean,
): Promise<void> {
  const m = run.failMark();
  const t0 = run.model.tick();
  const ret = await ctx.p.ioctl(e.fd, drop ? DRM_IOCTL_DROP_MASTER : DRM_IOCTL_SET_MASTER);
  const t1 = run.model.tick();
  judgeMaster(run, ctx, e, drop, ret, t0, t1, m);
  // A new master ties itself to its bus id, as libdrm's drmOpenByBusid() and X do
  // (drmSetInterfaceVersion(1.4)), sometimes.
  if (!drop && ret === 0 && !e.closed && choose(2, "fuzz master busid") === 0)
    await setVersion(run, ctx, e, true);
}

/** Records what SET_MASTER (or DROP_MASTER, `drop`) through `e` may return (file comment). */
function judgeMaster(
  run: FuzzRun,
  ctx: ThreadCtx,
  e: FdEntry,
  drop: boolean,
  ret: number,
  t0: number,
  t1: number,
  m: number,
): void {
  const root = ctx.proc.root;
  const what = drop ? "DROP_MASTER" : "SET_MASTER";
  run.fdUse(
    ctx,
    e.fd,
    t0,
    t1,
    ret,
    `${what}${root ? " (CAP_SYS_ADMIN)" : ""} = ${ret}`,
    fitsDrm(ret, (primary) => {
      if (!primary) return ret === -EACCES;
      if (ret === 0 || (ret === -EACCES && !root)) return true;
      return drop ? ret === -EINVAL : ret === -EBUSY || run.allocFailed(ret, m);
    }),
  );
}

/**
 * GET_UNIQUE through `e` racing a second thread's SET_MASTER through the same fd: with the
 * caller privileged and the fd's file sharing a master it holds the last reference to, the
 * SET_MASTER gives the file a master of its own and frees the shared one under the GET_UNIQUE.
 */
async function raceGetUniqueSetMaster(run: FuzzRun, ctx: ThreadCtx, e: FdEntry): Promise<void> {
  // The fd is used by two threads at once: its file is shared, and a close or dup2() of it
  // (which the busy count keeps away) would change what the second call reaches.
  e.file!.shared = true;
  busy(run, ctx.proc, e.fd, 1);
  const setter = ctx.p.spawnThread("master-race", async () => {
    const m = run.failMark();
    const t0 = run.model.tick();
    const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_SET_MASTER);
    const t1 = run.model.tick();
    judgeMaster(run, ctx, e, false, ret, t0, t1, m);
  });
  await doGetUnique(run, ctx, e, 64, "GET_UNIQUE racing SET_MASTER");
  await setter.join();
  busy(run, ctx.proc, e.fd, -1);
}
