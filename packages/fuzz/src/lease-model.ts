/**
 * The reference model of DRM leases in the fuzz workload (`FuzzOptions.leases`,
 * fuzz-ops-lease.ts): what userspace can predict of CREATE_LEASE, LIST_LESSEES, GET_LEASE and
 * REVOKE_LEASE and of the KMS lookups through a lessee's file, read in
 * drivers/gpu/drm/drm_lease.c (drm_mode_create_lease_ioctl(), fill_object_idr(),
 * validate_lease(), drm_lease_create(), _drm_has_leased(), drm_mode_list_lessees_ioctl(),
 * drm_mode_get_lease_ioctl(), drm_mode_revoke_lease_ioctl(), _drm_lease_held()),
 * drm_auth.c (drm_master_release(): a lessee file's release revokes its lease), drm_ioctl.c
 * (drm_ioctl_permit(): the lease ioctls and SETCRTC are DRM_MASTER, none is DRM_RENDER_ALLOW),
 * drm_crtc.c (drm_mode_getcrtc(), drm_mode_setcrtc()) and drm_plane.c (drm_mode_getplane(),
 * drm_lease_filter_crtcs()) of v6.12.19 (v6.18.35's are the same for these paths).
 *
 * The lessor is the display server (display-server.ts): it alone creates and revokes leases,
 * one request at a time, so between its calls the model knows every lease it made. What it
 * cannot know exactly is when a lessee's file is released (a client closes its fd, dup2() or
 * close_range() replaces it, its process exits, the fd is in flight on a socket): the release
 * revokes the lease (drm_master_release() -> drm_lease_revoke()) and frees its objects. A lease
 * is "surely live" only while a client thread surely holds its fd (LesseeRecord.holder), and a
 * lessee id whose number a later CREATE_LEASE handed out again was surely destroyed
 * (drm_lease_destroy() frees the id). Where the model cannot tell, every result the kernel may
 * give is accepted; everywhere else the result is exact.
 *
 * Nothing here reads kernel state: the device's objects are what the server's GETRESOURCES,
 * GETPLANERESOURCES and GETPLANE returned (LeaseDevObjects), the leases what its CREATE_LEASE
 * calls returned.
 */

import { EACCES, EBUSY, EFAULT, EINVAL, ENOENT, ENOSPC, EOPNOTSUPP } from "@primetime/kernel";
import { O_CLOEXEC, O_NONBLOCK } from "@primetime/uapi";

/** The flags CREATE_LEASE accepts (drm_mode_create_lease_ioctl()). */
export const LEASE_FD_FLAGS = O_CLOEXEC | O_NONBLOCK;

/** The kinds of mode object a lease holds (drm_mode_object_lease_required()). */
export type LeaseObjectKind = "crtc" | "plane" | "connector";

/** One device's CRTCs, planes and connectors as the display server learned them. */
export interface LeaseDevObjects {
  /** CRTC ids, in the device's order (GETRESOURCES). */
  readonly crtcs: readonly number[];
  /** Connector ids (GETRESOURCES). */
  readonly connectors: readonly number[];
  /** Plane ids (GETPLANERESOURCES with universal planes). */
  readonly planes: readonly number[];
  /** Each plane's possible_crtcs as the owner sees it (GETPLANE), by plane id. */
  readonly possibleCrtcs: ReadonlyMap<number, number>;
  /**
   * The planes of each CRTC, by CRTC id: those whose possible_crtcs is that CRTC alone, its
   * primary plane (qxl_create_plane(1 << crtc_id, DRM_PLANE_TYPE_PRIMARY)) and, on a device with
   * cursor planes (vmwgfx's display units), its cursor plane: what fill_object_idr() adds with
   * the CRTC for a lessor without universal planes (no driver of the model has overlay planes
   * bound to one CRTC, which would be listed here too).
   */
  readonly crtcPlanes: ReadonlyMap<number, readonly number[]>;
  /** The server's file has DRM_CLIENT_CAP_UNIVERSAL_PLANES set (fill_object_idr()). */
  readonly universal: boolean;
}

/** The kind of object `id` is on the device, or null if it is none of its CRTCs, planes, connectors. */
export function objectKind(o: LeaseDevObjects, id: number): LeaseObjectKind | null {
  if (o.crtcs.includes(id)) return "crtc";
  if (o.planes.includes(id)) return "plane";
  if (o.connectors.includes(id)) return "connector";
  return null;
}

/** One lessee the display server's CREATE_LEASE made. */
export interface LesseeRecord {
  readonly dev: number;
  /** Its lessee_id (the owner's lessee_idr). */
  readonly id: number;
  /** The ids of its lease, ascending (the lease IDR's order: GET_LEASE lists them so). */
  readonly objects: readonly number[];
  /** When its CREATE_LEASE returned (a tick of the model's clock). */
  readonly created: number;
  /** When the server's REVOKE_LEASE of it started and returned (infinite: none). */
  revokeStart: number;
  revokeEnd: number;
  /**
   * Whether a client thread surely holds its file now (fuzz-ops-lease.ts: its fd entry is still
   * in the thread's list and its process is not exiting); null: no thread adopted it (yet).
   * Once false it stays false: an fd entry never comes back to a list.
   */
  holder: (() => boolean) | null;
  /** Its file may have been released (a holder let go, or it never got one). */
  gone: boolean;
  /** A later CREATE_LEASE returned its id: this lessee was destroyed before that call. */
  superseded: boolean;
}

/**
 * True if `r`'s file is surely open now (evaluated right after a server call returns: it was
 * open throughout the call, since a holder never comes back once it let go).
 */
export function surelyLive(r: LesseeRecord): boolean {
  if (r.gone || r.superseded || r.holder === null) return false;
  if (!r.holder()) {
    r.gone = true;
    return false;
  }
  return true;
}

/**
 * Whether `r`'s lease held objects throughout a server call that ran in [t0, t1] ("yes"), at
 * no time during it ("no"), or may have ("maybe"). Server calls run one at a time, so a revoke
 * of the server's is before or after the call; a release of the lessee's file may be any time
 * after it left its holder.
 */
export function leaseHolds(r: LesseeRecord, t0: number): "yes" | "no" | "maybe" {
  if (r.objects.length === 0 || r.superseded || r.revokeEnd < t0) return "no";
  return surelyLive(r) ? "yes" : "maybe";
}

/** A CREATE_LEASE request as the fuzzer draws it. */
export interface CreateLeaseRequest {
  /** The object ids, in the order given. */
  readonly ids: readonly number[];
  readonly flags: number;
  /** `object_ids` points at unmapped memory (-EFAULT when there are ids to copy). */
  readonly badPtr: boolean;
}

/** What a CREATE_LEASE may return, and the lease it makes when it returns 0. */
export interface CreateLeaseVerdict {
  readonly want: readonly number[];
  /** The lease's ids, ascending (when 0 is wanted). */
  readonly lease: readonly number[];
}

/**
 * The display server's CREATE_LEASE on device `dev` (`objects`: null when the device has no
 * DRIVER_MODESET), with its mastership `master` (true: surely the current master throughout;
 * false: surely not; null: unknown) and the leases it made before (`records`, every device's).
 * In the kernel's order: drm_ioctl_permit() (-EACCES), -EOPNOTSUPP, -EINVAL for flags, -EFAULT
 * for the ids, fill_object_idr() (-ENOENT for an id it cannot find, -EINVAL without a CRTC and a
 * connector or, with universal planes, a plane: validate_lease(); -ENOSPC for an id given twice,
 * or a CRTC's primary (or cursor) plane given besides the CRTC by a lessor without universal
 * planes: idr_alloc() in [id, id + 1)), then drm_lease_create()'s -EBUSY for an object another lessee
 * holds (_drm_has_leased()). A lessor is never a lessee here (no sub-lease). -EMFILE and the
 * allocation failures are the caller's to excuse.
 */
export function createLeaseVerdict(
  dev: number,
  objects: LeaseDevObjects | null,
  req: CreateLeaseRequest,
  master: boolean | null,
  records: readonly LesseeRecord[],
  t0: number,
): CreateLeaseVerdict {
  const none: readonly number[] = [];
  if (master === false) return { want: [-EACCES], lease: none };
  const withAcces = (w: number[]): number[] => (master === null ? [...w, -EACCES] : w);
  let err = 0;
  const lease = new Set<number>();
  if (!objects) err = -EOPNOTSUPP;
  else if (req.flags & ~LEASE_FD_FLAGS) err = -EINVAL;
  else if (req.ids.length > 0) {
    if (req.badPtr) err = -EFAULT;
    else {
      const kinds: LeaseObjectKind[] = [];
      for (const id of req.ids) {
        const k = objectKind(objects, id);
        if (k === null) {
          err = -ENOENT;
          break;
        }
        kinds.push(k);
      }
      if (err === 0) {
        const hasCrtc = kinds.includes("crtc");
        const hasConnector = kinds.includes("connector");
        const hasPlane = kinds.includes("plane");
        if (!hasCrtc || !hasConnector || (objects.universal && !hasPlane)) err = -EINVAL;
      }
      if (err === 0) {
        for (let i = 0; i < req.ids.length && err === 0; i++) {
          const id = req.ids[i]!;
          if (lease.has(id)) err = -ENOSPC;
          else lease.add(id);
          if (err === 0 && kinds[i] === "crtc" && !objects.universal)
            for (const p of objects.crtcPlanes.get(id) ?? []) {
              if (lease.has(p)) {
                err = -ENOSPC;
                break;
              }
              lease.add(p);
            }
        }
      }
    }
  }
  if (err !== 0) return { want: withAcces([err]), lease: none };
  const ids = [...lease].sort((a, b) => a - b);
  let busy: "yes" | "no" | "maybe" = "no";
  for (const r of records) {
    if (r.dev !== dev || !r.objects.some((id) => lease.has(id))) continue;
    const h = leaseHolds(r, t0);
    if (h === "yes") busy = "yes";
    else if (h === "maybe" && busy === "no") busy = "maybe";
  }
  const want = busy === "yes" ? [-EBUSY] : busy === "maybe" ? [0, -EBUSY] : [0];
  return { want: withAcces(want), lease: ids };
}

/**
 * The records that may still be lessees on `dev`: the latest record of each lessee id (an id
 * handed out again means the earlier lessee was destroyed).
 */
export function currentRecords(records: readonly LesseeRecord[], dev: number): LesseeRecord[] {
  return records.filter((r) => r.dev === dev && !r.superseded);
}

/**
 * Checks the display server's LIST_LESSEES (as owner, surely master) that ran from `t0` and
 * returned `listed` (the ids, in order): each listed id must be a lessee whose lease may be
 * non-empty, every lessee whose lease surely is non-empty must be listed, and the list follows
 * the order the lessees were created in (the lessor's `lessees` list). Returns what is wrong,
 * or null.
 */
export function checkListLessees(
  records: readonly LesseeRecord[],
  dev: number,
  t0: number,
  listed: readonly number[],
): string | null {
  const cur = currentRecords(records, dev);
  let at = 0;
  for (const id of listed) {
    const k = cur.findIndex((r, i) => i >= at && r.id === id);
    if (k < 0) {
      const r = cur.find((x) => x.id === id);
      return r
        ? `lessee ${id} listed out of creation order, or with an empty lease`
        : `lessee ${id} listed, which no CREATE_LEASE returned (or was destroyed)`;
    }
    for (let i = at; i < k; i++)
      if (leaseHolds(cur[i]!, t0) === "yes") return `lessee ${cur[i]!.id} missing`;
    if (leaseHolds(cur[k]!, t0) === "no")
      return `lessee ${id} listed, whose lease is surely empty (revoked)`;
    at = k + 1;
  }
  for (let i = at; i < cur.length; i++)
    if (leaseHolds(cur[i]!, t0) === "yes") return `lessee ${cur[i]!.id} missing`;
  return null;
}

/**
 * Whether a lookup through lessee `r`'s file that ran in [t0, t1] found its lease revoked by
 * the server: "no" (its REVOKE_LEASE started after the call returned), "yes" (it returned before
 * the call started) or "maybe". (The file's own release cannot race a call through it: the call
 * holds a reference.)
 */
export function revokedDuring(r: LesseeRecord, t0: number, t1: number): "yes" | "no" | "maybe" {
  if (r.revokeStart > t1) return "no";
  if (r.revokeEnd < t0) return "yes";
  return "maybe";
}

/**
 * drm_lease_filter_crtcs() of `mask` (a plane's possible_crtcs) for a lessee holding `lease`:
 * bit i of `mask` (the device's i-th CRTC) becomes bit j, the CRTC's index among the leased ones.
 */
export function filterCrtcs(
  objects: LeaseDevObjects,
  lease: readonly number[],
  mask: number,
): number {
  let out = 0;
  let countOut = 0;
  objects.crtcs.forEach((crtc, countIn) => {
    if (!lease.includes(crtc)) return;
    if (mask & (1 << countIn)) out |= 1 << countOut;
    countOut++;
  });
  return out >>> 0;
}
