/**
 * DRM leases in the fuzz workload (`FuzzOptions.leases`, `cli --leases on`, token `fuzz +lease`):
 * the display server (display-server.ts, each device's DRM master) is the lessor, as a Wayland
 * compositor serving wp_drm_lease_device_v1 is, and its clients ask it for leases over random
 * subsets of a device's objects. Kernel counterpart: drivers/gpu/drm/drm_lease.c, drm_auth.c
 * (drm_master_release()), drm_ioctl.c (drm_ioctl_permit()), drm_crtc.c (drm_mode_getcrtc(),
 * drm_mode_setcrtc()) and drm_plane.c (drm_mode_getplane(), drm_mode_getplane_res()) of
 * v6.12.19 and v6.18.35; lease-model.ts says what the model predicts of each call.
 *
 * The operations (one OP_TABLE slot, after every other, so a run without the option draws as
 * before; each draws one of these):
 * - **lease**: the client makes a socket pair, sends one end to the server (its SCM_RIGHTS queue,
 *   in lock step with the server's work, as kms.ts's PRIME present does), and the server runs
 *   CREATE_LEASE over a drawn object list (valid leases, duplicates, a CRTC given with its
 *   primary plane, unknown ids, a lease without a CRTC or connector, an empty lease, bad flags,
 *   a bad pointer) and sends the lessee fd back over the socket; the client keeps it as one of
 *   its DRM fds, so every other operation (GEM ioctls, dup, close, dup2, close_range, socket
 *   passing to other processes with `--sockets`, exit) may use or close it. At its first lease
 *   work on a device the server learns the device's objects (SET_CLIENT_CAP universal planes,
 *   GETPLANERESOURCES, GETPLANE, GETRESOURCES) and keeps universal planes set half the time.
 * - **list**, **get**, **revoke**: the server's LIST_LESSEES, GET_LEASE (as owner: every object)
 *   and REVOKE_LEASE of a lessee it made or of an id no lessee has.
 * - **lookup**: through one of the thread's DRM fds, a lessee's preferably: GETCRTC, GETPLANE
 *   (possible_crtcs as the lease sees them) or a SETCRTC that fails before it changes anything
 *   (no mode, one connector: -EINVAL once the CRTC is found), of a drawn object id, or
 *   GETRESOURCES's counts (the CRTCs and connectors the file may use).
 * - **lessee ioctls**: through the same fds, GET_LEASE (the lease's size), LIST_LESSEES (none),
 *   CREATE_LEASE (no sub-leases: -EINVAL) and REVOKE_LEASE of the lessee's own id (-EACCES:
 *   it is not its own lessor).
 * - **close**: close(2) of one of the thread's lessee fds.
 *
 * Calls through a client's fd are checked through the fd model (the fd may name another file
 * meanwhile), at the end of the run; the server's calls, which run one at a time on its own fd,
 * at once.
 */

import {
  AF_UNIX,
  EACCES,
  EAGAIN,
  EBUSY,
  EINVAL,
  EMFILE,
  ENOENT,
  ENOMEM,
  ENOTTY,
  EOPNOTSUPP,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MSG_CTRUNC,
  PAGE_SIZE,
  PROT_READ,
  PROT_WRITE,
  type Process,
  SOCK_STREAM,
} from "@primetime/kernel";
import { Completion, choose } from "@primetime/sim";
import {
  DRM_IOCTL_MODE_CREATE_LEASE,
  DRM_IOCTL_MODE_GET_LEASE,
  DRM_IOCTL_MODE_GETCRTC,
  DRM_IOCTL_MODE_GETPLANE,
  DRM_IOCTL_MODE_GETPLANERESOURCES,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_LIST_LESSEES,
  DRM_IOCTL_MODE_REVOKE_LEASE,
  DRM_IOCTL_MODE_SETCRTC,
  DRM_IOCTL_SET_CLIENT_CAP,
  DRM_IOCTL_SET_MASTER,
  type DrmModeCreateLease,
  type DrmModeCrtc,
  type DrmModeGetLease,
  type DrmModeGetPlane,
  type DrmModeListLessees,
  O_CLOEXEC,
  O_NONBLOCK,
} from "@primetime/uapi";
import { drmIoctlFits, type FdObject, type SockModel } from "./fd-model.js";
import { type FdEntry, type FuzzRun, MAX_FDS_PER_THREAD, type ThreadCtx } from "./fuzz.js";
import { busy, lostFd } from "./fuzz-ops-fd.js";
import {
  checkListLessees,
  createLeaseVerdict,
  currentRecords,
  filterCrtcs,
  type LeaseDevObjects,
  type LesseeRecord,
  objectKind,
  revokedDuring,
  surelyLive,
} from "./lease-model.js";
import { ModelFile } from "./model.js";

/** DRM_CLIENT_CAP_UNIVERSAL_PLANES. */
const CAP_UNIVERSAL_PLANES = 2;
/** The most CRTCs, connectors and planes the server asks for (qxl registers at most 2 heads). */
const MAX_OBJECTS = 16;
/** Where the server's page keeps what it reads and writes. */
const PLANES_AT = 0;
const CRTCS_AT = 256;
const CONNECTORS_AT = 512;
const IDS_AT = 1024;
const OBJECTS_AT = 2048;
const LESSEES_AT = 3072;
/** Ids no mode object has: the object idr hands out small ids from 1 (0 is never one). */
const NO_OBJECT_IDS = [0, 0x7fff_fff0] as const;
/** Lessee ids no lessee has: the lessee idr hands out small ids from 1. */
const NO_LESSEE_IDS = [0, 0x7fff_fff0] as const;
/** An address no process of the fuzzer maps (CREATE_LEASE's -EFAULT). */
const BAD_PTR = 0x10;
/** Flags CREATE_LEASE refuses (anything but O_CLOEXEC | O_NONBLOCK): O_WRONLY, O_RDWR, bit 31. */
const BAD_FLAGS = [0x1, 0x2, 0x8000_0000] as const;

/** What the server knows of one device. */
interface LeaseDev {
  /** Its objects (null: not learned yet, or the device has no DRIVER_MODESET). */
  objects: LeaseDevObjects | null;
  /** The server's page on this device's work (0: not mapped yet). */
  page: number;
}

/** The client operations, in draw order. */
const LEASE_OPS = [
  "lease",
  "lease",
  "list",
  "get",
  "revoke",
  "lookup",
  "lookup",
  "lookup",
  "lessee-ioctl",
  "close",
] as const;

/** The lease operations of one fuzz run (file comment). */
export class LeaseFuzz {
  /** Every lessee the server made, in creation order. */
  readonly records: LesseeRecord[] = [];
  /** The lessee of each lessee file a client received. */
  private readonly files = new Map<ModelFile, LesseeRecord>();
  private readonly devs: LeaseDev[];
  private nextFile = 0;

  constructor(private readonly run: FuzzRun) {
    this.devs = run.devs.map(() => ({ objects: null, page: 0 }));
  }

  /** Whether device `dev`'s driver has DRIVER_MODESET (the lease ioctls' -EOPNOTSUPP). */
  private modeset(dev: number): boolean {
    return this.run.kmsDev(dev);
  }

  /** One lease operation of `ctx`'s thread (OP_TABLE's slot with `leases`). */
  async op(ctx: ThreadCtx): Promise<"ok"> {
    if (!this.run.server) return this.masterOp(ctx);
    const op = LEASE_OPS[choose(LEASE_OPS.length, "fuzz lease op")]!;
    switch (op) {
      case "lease":
        return this.lease(ctx);
      case "list":
      case "get":
      case "revoke":
        return this.serverOp(op);
      case "lookup":
        return this.lookup(ctx);
      case "lessee-ioctl":
        return this.lesseeIoctl(ctx);
      case "close":
        return this.closeLessee(ctx);
    }
  }

  // ---- With `masters`: no lessor, lookups racing SET_MASTER --------------------------------

  /**
   * A lease operation of a `masters` run (no display server, so no lessor the model follows): a
   * lookup through one of the thread's fds (object ids 1-7, judged loosely: the model does not
   * learn the objects), or, in the privileged process, a lookup racing a second thread's
   * SET_MASTER of the same fd: with the fd's file sharing a master it holds the last reference
   * to (its master's own file closed), the SET_MASTER gives the file a master of its own and puts
   * the shared one under the lookup (drm_lease_held(), drm_lease_filter_crtcs() and
   * _drm_lease_held() read the file's master: 56f0729a510f's race; and the put of the lookup's
   * own reference under idr_mutex, the known window gem.lease-held-put-under-idr-mutex).
   */
  private async masterOp(ctx: ThreadCtx): Promise<"ok"> {
    const k = choose(3, "fuzz lease master op");
    if (k === 0 && ctx.proc.root) return this.raceSetMaster(ctx);
    return this.lookup(ctx);
  }

  /** A lookup through one of the thread's primary fds racing a SET_MASTER of it (masterOp()). */
  private async raceSetMaster(ctx: ThreadCtx): Promise<"ok"> {
    const pk = this.run.pickDrm(ctx, true);
    if (!pk) return "ok";
    const { e } = pk;
    const run = this.run;
    // The fd is used by two threads at once: its file is shared, and a close or dup2() of it
    // (which the busy count keeps away) would change what the second call reaches.
    e.file!.shared = true;
    busy(run, ctx.proc, e.fd, 1);
    const setter = ctx.p.spawnThread("lease-race", async () => {
      const m = run.failMark();
      const t0 = run.model.tick();
      const ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_SET_MASTER);
      const t1 = run.model.tick();
      const root = ctx.proc.root;
      // 0; -EBUSY (another file is master); -EACCES unprivileged (a file that never was master);
      // -EINVAL for a lessee's file; an allocation's errno (drm_new_set_master()).
      run.fdUse(ctx, e.fd, t0, t1, ret, `SET_MASTER racing a lookup = ${ret}`, (o) => {
        if (!drmIoctlFits(ret, -ENOTTY)(o)) return false;
        if (o.kind !== "drm") return true;
        if (!o.file.primary) return ret === -EACCES;
        return (
          [0, -EBUSY, -EINVAL].includes(ret) ||
          (ret === -EACCES && !root) ||
          run.allocFailed(ret, m)
        );
      });
    });
    await this.lookup(ctx, e);
    await setter.join();
    busy(run, ctx.proc, e.fd, -1);
    return "ok";
  }

  // ---- The server's side --------------------------------------------------------------------

  /**
   * The server's page for device `dev` and its objects, learned at its first lease work there:
   * SET_CLIENT_CAP(UNIVERSAL_PLANES, 1), GETPLANERESOURCES, GETPLANE of each plane, GETRESOURCES,
   * then universal planes kept or cleared (a draw). Null if a call failed (an allocation), or
   * the device has no DRIVER_MODESET (then only the page).
   */
  private async learn(p: Process, fd: number, dev: number): Promise<LeaseDev | null> {
    const d = this.devs[dev]!;
    if (d.page === 0) {
      const prot = PROT_READ | PROT_WRITE;
      const page = await p.mmap(0, PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (page < 0) return null;
      // Touched now, so that later copies to it need no page allocation.
      if ((await p.writeMemory(page, new Uint8Array(PAGE_SIZE))) < 0) return null;
      d.page = page;
    }
    if (d.objects || !this.modeset(dev)) return d;
    const what = (s: string) => `the display server's ${s} on device ${dev}`;
    let m = this.run.failMark();
    let ret = await p.ioctl(fd, DRM_IOCTL_SET_CLIENT_CAP, {
      capability: CAP_UNIVERSAL_PLANES,
      value: 1,
    });
    if (!this.expect(what("SET_CLIENT_CAP(UNIVERSAL_PLANES, 1)"), ret, [0], m)) return null;
    const pr = { plane_id_ptr: d.page + PLANES_AT, count_planes: MAX_OBJECTS };
    m = this.run.failMark();
    ret = await p.ioctl(fd, DRM_IOCTL_MODE_GETPLANERESOURCES, pr);
    if (!this.expect(what("GETPLANERESOURCES"), ret, [0], m)) return null;
    const planes = await this.readIds(
      p,
      d.page + PLANES_AT,
      Math.min(pr.count_planes, MAX_OBJECTS),
    );
    if (!planes) return null;
    const possibleCrtcs = new Map<number, number>();
    for (const id of planes) {
      const gp = getPlaneArg(id);
      m = this.run.failMark();
      ret = await p.ioctl(fd, DRM_IOCTL_MODE_GETPLANE, gp);
      if (!this.expect(what(`GETPLANE(${id})`), ret, [0], m)) return null;
      possibleCrtcs.set(id, gp.possible_crtcs >>> 0);
    }
    const r = {
      fb_id_ptr: 0,
      crtc_id_ptr: d.page + CRTCS_AT,
      connector_id_ptr: d.page + CONNECTORS_AT,
      encoder_id_ptr: 0,
      count_fbs: 0,
      count_crtcs: MAX_OBJECTS,
      count_connectors: MAX_OBJECTS,
      count_encoders: 0,
      min_width: 0,
      max_width: 0,
      min_height: 0,
      max_height: 0,
    };
    m = this.run.failMark();
    ret = await p.ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, r);
    if (!this.expect(what("GETRESOURCES"), ret, [0], m)) return null;
    const crtcs = await this.readIds(p, d.page + CRTCS_AT, Math.min(r.count_crtcs, MAX_OBJECTS));
    const connectors = await this.readIds(
      p,
      d.page + CONNECTORS_AT,
      Math.min(r.count_connectors, MAX_OBJECTS),
    );
    if (!crtcs || !connectors) return null;
    const crtcPlanes = new Map<number, number[]>();
    crtcs.forEach((crtc, i) => {
      crtcPlanes.set(
        crtc,
        planes.filter((pl) => possibleCrtcs.get(pl) === 1 << i),
      );
    });
    const universal = choose(2, "fuzz lease universal planes") === 0;
    if (!universal) {
      m = this.run.failMark();
      ret = await p.ioctl(fd, DRM_IOCTL_SET_CLIENT_CAP, {
        capability: CAP_UNIVERSAL_PLANES,
        value: 0,
      });
      if (!this.expect(what("SET_CLIENT_CAP(UNIVERSAL_PLANES, 0)"), ret, [0], m)) return null;
    }
    d.objects = { crtcs, connectors, planes, possibleCrtcs, crtcPlanes, universal };
    return d;
  }

  /** `n` u32 ids at `addr` of the server's memory (null if the read failed). */
  private async readIds(p: Process, addr: number, n: number): Promise<number[] | null> {
    if (n === 0) return [];
    const b = await p.readMemory(addr, 4 * n);
    if (typeof b === "number") return null;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return Array.from({ length: n }, (_, i) => v.getUint32(4 * i, true));
  }

  /** `ret` must be one of `want` (or an allocation failure's errno since `m`): else a divergence. */
  private expect(what: string, ret: number, want: readonly number[], m: number): boolean {
    if (want.includes(ret)) return ret === 0;
    if (this.run.allocFailed(ret, m)) return false;
    this.run.model.diverge(`${what} = ${ret}, expected ${want.join(" or ")}`);
    return false;
  }

  /** A drawn CREATE_LEASE request on a device with `o`'s objects (file comment). */
  private drawRequest(o: LeaseDevObjects | null): {
    ids: number[];
    flags: number;
    badPtr: boolean;
  } {
    const flagKind = choose(8, "fuzz lease flags");
    const flags =
      flagKind === 0
        ? BAD_FLAGS[choose(BAD_FLAGS.length, "fuzz lease bad flags")]!
        : [0, 0, O_CLOEXEC, O_CLOEXEC | O_NONBLOCK, O_NONBLOCK, 0, O_CLOEXEC][flagKind - 1]!;
    const badPtr = choose(16, "fuzz lease bad pointer") === 0;
    const all = o ? [...o.crtcs, ...o.planes, ...o.connectors] : [];
    const shape = choose(8, "fuzz lease shape");
    const ids: number[] = [];
    const add = (list: readonly number[], label: string) => {
      if (list.length > 0) ids.push(list[choose(list.length, label)]!);
    };
    if (shape === 0) {
      // Empty: a lease of nothing (no validate_lease()).
    } else if (shape === 1) {
      // Any objects, any number (some twice).
      for (let n = 1 + choose(4, "fuzz lease count"); n > 0; n--) add(all, "fuzz lease object");
    } else if (shape === 2) {
      // An id no object has, somewhere in a valid lease.
      add(o?.crtcs ?? [], "fuzz lease crtc");
      add(o?.connectors ?? [], "fuzz lease connector");
      ids.splice(
        choose(ids.length + 1, "fuzz lease where"),
        0,
        NO_OBJECT_IDS[choose(NO_OBJECT_IDS.length, "fuzz lease no object")]!,
      );
    } else {
      // A lease as a compositor asks for one: a CRTC, its connector, sometimes a plane.
      add(o?.crtcs ?? [], "fuzz lease crtc");
      add(o?.connectors ?? [], "fuzz lease connector");
      if (choose(2, "fuzz lease with plane") === 0) add(o?.planes ?? [], "fuzz lease plane");
      if (choose(4, "fuzz lease shuffle") === 0) ids.reverse();
    }
    return { ids, flags, badPtr };
  }

  /** The server's CREATE_LEASE of `req` on `dev`; the lessee's fd, or -1. */
  private async createLease(
    p: Process,
    fd: number,
    dev: number,
    master: boolean | null,
    req: { ids: number[]; flags: number; badPtr: boolean },
    o: LeaseDevObjects | null,
  ): Promise<{ fd: number; rec: LesseeRecord | null }> {
    const d = this.devs[dev]!;
    if (req.ids.length > 0 && !req.badPtr) {
      const b = new Uint8Array(4 * req.ids.length);
      const v = new DataView(b.buffer);
      for (const [i, id] of req.ids.entries()) v.setUint32(4 * i, id, true);
      if ((await p.writeMemory(d.page + IDS_AT, b)) < 0) return { fd: -1, rec: null };
    }
    const cl: DrmModeCreateLease = {
      object_ids: req.badPtr ? BAD_PTR : d.page + IDS_AT,
      object_count: req.ids.length,
      flags: req.flags,
      lessee_id: 0,
      fd: 0,
    };
    const m = this.run.failMark();
    const t0 = this.run.model.tick();
    const ret = await p.ioctl(fd, DRM_IOCTL_MODE_CREATE_LEASE, cl);
    const t1 = this.run.model.tick();
    const v = createLeaseVerdict(dev, o, req, master, this.records, t0);
    const what = `the display server's CREATE_LEASE([${req.ids.join(", ")}], flags ${req.flags}${req.badPtr ? ", bad pointer" : ""}) on device ${dev}`;
    // -EMFILE: the server's fd table cannot grow (an allocation, as everywhere).
    if (!this.expect(what, ret, ret === -EMFILE ? [...v.want, -EMFILE] : v.want, m))
      return { fd: -1, rec: null };
    const id = cl.lessee_id >>> 0;
    for (const r of currentRecords(this.records, dev))
      if (r.id === id) {
        if (surelyLive(r))
          this.run.model.diverge(`${what} gave lessee id ${id}, which lessee is alive`);
        r.superseded = true;
      }
    if (!(id >= 1) || !(cl.fd >= 0)) {
      this.run.model.diverge(`${what} gave lessee id ${id}, fd ${cl.fd}`);
      return { fd: -1, rec: null };
    }
    const rec: LesseeRecord = {
      dev,
      id,
      objects: v.lease,
      created: t1,
      revokeStart: Number.POSITIVE_INFINITY,
      revokeEnd: Number.POSITIVE_INFINITY,
      holder: null,
      gone: false,
      superseded: false,
    };
    this.records.push(rec);
    return { fd: cl.fd, rec };
  }

  /** The server's LIST_LESSEES, GET_LEASE or REVOKE_LEASE on a drawn device. */
  private async serverOp(op: "list" | "get" | "revoke"): Promise<"ok"> {
    const server = this.run.server!;
    const dev = choose(this.run.devs.length, "fuzz lease dev");
    if (server.devs[dev]!.fd < 0) return "ok";
    await server.request("call", dev, 0, async (p, fd, master) => {
      const d = await this.learn(p, fd, dev);
      if (!d) return;
      const o = d.objects;
      const what = (s: string) => `the display server's ${s} on device ${dev}`;
      const want = (w: number[]): number[] =>
        master === false
          ? [-EACCES]
          : !this.modeset(dev)
            ? master === null
              ? [-EOPNOTSUPP, -EACCES]
              : [-EOPNOTSUPP]
            : master === null
              ? [...w, -EACCES]
              : w;
      if (op === "revoke") {
        const cur = currentRecords(this.records, dev);
        const rec =
          cur.length > 0 && choose(4, "fuzz lease revoke garbage") !== 0
            ? cur[choose(cur.length, "fuzz lease revoke which")]!
            : null;
        const id = rec ? rec.id : NO_LESSEE_IDS[choose(NO_LESSEE_IDS.length, "fuzz lease no id")]!;
        const m = this.run.failMark();
        const t0 = this.run.model.tick();
        if (rec) rec.revokeStart = Math.min(rec.revokeStart, t0);
        const ret = await p.ioctl(fd, DRM_IOCTL_MODE_REVOKE_LEASE, { lessee_id: id });
        const t1 = this.run.model.tick();
        // A lessee surely alive is found (0); one whose file may be gone may be destroyed.
        const w = !rec ? [-ENOENT] : surelyLive(rec) ? [0] : [0, -ENOENT];
        this.expect(what(`REVOKE_LEASE(${id})`), ret, want(w), m);
        // 0: revoked by t1. -ENOENT: the lessee was destroyed (its file released). Any other
        // failure revoked nothing; its start stays recorded, so lookups that overlapped it
        // accept both answers.
        if (rec && ret === 0) rec.revokeEnd = Math.min(rec.revokeEnd, t1);
        if (rec && ret === -ENOENT) rec.superseded = true;
        return;
      }
      const buf = d.page + (op === "list" ? LESSEES_AT : OBJECTS_AT);
      const room = choose(4, "fuzz lease room") === 0 ? 0 : 64;
      const m = this.run.failMark();
      const t0 = this.run.model.tick();
      let ret: number;
      let count: number;
      if (op === "list") {
        const a: DrmModeListLessees = { count_lessees: room, pad: 0, lessees_ptr: buf };
        ret = await p.ioctl(fd, DRM_IOCTL_MODE_LIST_LESSEES, a);
        count = a.count_lessees >>> 0;
      } else {
        const a: DrmModeGetLease = { count_objects: room, pad: 0, objects_ptr: buf };
        ret = await p.ioctl(fd, DRM_IOCTL_MODE_GET_LEASE, a);
        count = a.count_objects >>> 0;
      }
      const name = op === "list" ? "LIST_LESSEES" : "GET_LEASE";
      if (!this.expect(what(`${name}(room ${room})`), ret, want([0]), m) || !o) return;
      if (op === "get") {
        // The owner may use every object of the device: its CRTCs, planes and connectors, and
        // (with KMS) framebuffers and property blobs whose ids the model does not follow.
        const stat = [...o.crtcs, ...o.planes, ...o.connectors].sort((a, b) => a - b);
        const exact = !this.run.opts.kms;
        if (exact ? count !== stat.length : count < stat.length) {
          this.run.model.diverge(
            `${what(name)} counted ${count} objects; the device has ${stat.length} CRTCs, planes and connectors`,
          );
          return;
        }
        if (room === 0) return;
        const got = await this.readIds(p, buf, Math.min(count, room));
        if (!got) return;
        const missing = stat.filter((id) => !got.includes(id));
        if (missing.length > 0 || got.some((x, i) => i > 0 && x <= got[i - 1]!))
          this.run.model.diverge(
            `${what(name)} returned [${got.join(", ")}]: not ascending, or without [${missing.join(", ")}]`,
          );
        return;
      }
      const listed = room === 0 ? null : await this.readIds(p, buf, Math.min(count, room));
      if (listed) {
        const bad = checkListLessees(this.records, dev, t0, listed);
        if (bad) this.run.model.diverge(`${what(name)} returned [${listed.join(", ")}]: ${bad}`);
      } else if (room === 0) {
        const cur = currentRecords(this.records, dev);
        const sure = cur.filter((r) => r.objects.length > 0 && r.revokeEnd >= t0 && surelyLive(r));
        const may = cur.filter(
          (r) => r.objects.length > 0 && r.revokeEnd >= t0 && !r.superseded,
        ).length;
        if (count < sure.length || count > may)
          this.run.model.diverge(
            `${what(name)} counted ${count} lessees; between ${sure.length} and ${may} expected`,
          );
      }
    });
    return "ok";
  }

  // ---- A client's lease ---------------------------------------------------------------------

  /** A client asks the server for a lease and keeps the lessee fd it gets back (file comment). */
  private async lease(ctx: ThreadCtx): Promise<"ok"> {
    const run = this.run;
    const server = run.server!;
    const to = server.process;
    const dev = choose(run.devs.length, "fuzz lease dev");
    if (!to || server.devs[dev]!.fd < 0 || ctx.fds.length >= MAX_FDS_PER_THREAD) return "ok";
    const ps = ctx.proc;
    const m0 = run.failMark();
    // The channel: a socket pair, one end for the server.
    const t0 = run.model.tick();
    const pend = ps.fdm.begin(t0);
    const pair = await ctx.p.socketpair(AF_UNIX, SOCK_STREAM, 0);
    const t1 = run.model.tick();
    if (typeof pair === "number") {
      ps.fdm.end(pend);
      if (pair !== -EMFILE && !run.allocFailed(pair, m0))
        run.model.diverge(`socketpair() for a lease = ${pair}`);
      return "ok";
    }
    const [a, b] = pair;
    const sa: SockModel = { id: run.sockIds++, peer: null };
    const sb: SockModel = { id: run.sockIds++, peer: sa };
    sa.peer = sb;
    ps.fdm.installed(a, { kind: "socket", sock: sa }, t0, t1);
    ps.fdm.installed(b, { kind: "socket", sock: sb }, t0, t1);
    ps.fdm.end(pend);
    busy(run, ps, a, 1);
    busy(run, ps, b, 1);
    // (A sibling's dup2() or close_range() that was running may have taken a number meanwhile.)
    if (lostFd(run, ps, a, t0) || lostFd(run, ps, b, t0)) {
      busy(run, ps, a, -1);
      busy(run, ps, b, -1);
      return "ok";
    }
    const go = new Completion("fuzz-xorg asks for the lease socket");
    const sent = new Completion("fuzz client sent the lease socket");
    let sendRet = -1;
    /** The server sent a lessee fd over the socket (the client must receive it). */
    let delivered: LesseeRecord | null = null;
    let lesseeFlags = 0;
    const r = server.enqueue("call", dev, 0, async (p, fd, master) => {
      go.complete();
      await sent.wait("fuzz-xorg waits for the lease socket");
      // Taken even when the client's sendmsg() did not return 0 (its thread died on the way
      // back, after the message was queued), so that no message is left for the next work; an
      // allocation that failed leaves it queued: tried again, a few times.
      let got = -EAGAIN;
      for (let tries = 0; tries < 3; tries++) {
        const mr = run.failMark();
        got = await p.recvFd({ nonblock: true, cloexec: true });
        if (got >= 0 || got === -EAGAIN) break;
        if (got !== -EMFILE && !run.allocFailed(got, mr))
          run.model.diverge(`the display server's recvmsg() of a lease socket = ${got}`);
      }
      if (got < 0) {
        if (sendRet === 0 && got === -EAGAIN)
          run.model.diverge("the display server's recvmsg() found no lease socket: -EAGAIN");
        return;
      }
      if (sendRet !== 0) {
        await p.close(got);
        return;
      }
      const d = await this.learn(p, fd, dev);
      if (d) {
        const req = this.drawRequest(d.objects);
        const made = await this.createLease(p, fd, dev, master, req, d.objects);
        if (made.fd >= 0) {
          const ms = run.failMark();
          const s = await p.sendmsgFds(got, [made.fd]);
          if (s === 0) {
            delivered = made.rec;
            lesseeFlags = req.flags;
          } else if (!run.allocFailed(s, ms) && !run.allocFailed(-ENOMEM, 0))
            // (-ENOTSOCK after an injected failure: a dma-buf kms.ts's server left queued.)
            run.model.diverge(`the display server's sendmsg() of a lessee fd = ${s}`);
          await p.close(made.fd);
        }
      }
      await p.close(got);
    });
    await go.wait("fuzz client waits for fuzz-xorg's turn");
    try {
      sendRet = await ctx.p.sendFd(to, b);
    } finally {
      // (A thread dying in sendmsg(2) unwinds through here: the server must not wait forever.)
      sent.complete();
    }
    if (sendRet !== 0 && !run.allocFailed(sendRet, m0))
      run.model.diverge(`sendmsg() of a lease socket to the display server = ${sendRet}`);
    await run.closeFd(ctx, b);
    busy(run, ps, b, -1);
    await r.done.wait("fuzz client waits for fuzz-xorg");
    // The lessee fd, if the server sent one.
    const mr = run.failMark();
    const r0 = run.model.tick();
    const rp = ps.fdm.begin(r0);
    const res = await ctx.p.recvmsgFds(a, { nonblock: true, cloexec: true });
    const r1 = run.model.tick();
    const rec = delivered as LesseeRecord | null;
    let lfd = -1;
    let file: ModelFile | null = null;
    if (typeof res === "number" || res.fds.length === 0) {
      ps.fdm.end(rp);
      const truncated = typeof res !== "number" && (res.msgFlags & MSG_CTRUNC) !== 0;
      if (rec && !truncated && !run.allocFailed(-ENOMEM, m0) && !run.allocFailed(res, mr))
        run.model.diverge(
          `recvmsg() of the lessee fd the display server sent = ${typeof res === "number" ? res : "no fd"}`,
        );
    } else {
      lfd = res.fds[0]!;
      file = new ModelFile(900_000 + 10 * this.nextFile++ + dev, dev, true);
      file.nonblock = (lesseeFlags & O_NONBLOCK) !== 0;
      if (ps.staleFds.has(lfd)) {
        file.shared = true;
        run.markStray(file);
      }
      run.fileProc.set(file, ps);
      ps.fdm.installed(lfd, { kind: "drm", file }, r0, r1);
      ps.fdm.end(rp);
      if (!rec) run.model.diverge(`received a lessee fd the display server never sent (${lfd})`);
    }
    if (typeof res !== "number" && res.fds.length > 1)
      run.model.diverge(`recvmsg() of the lease socket gave ${res.fds.length} fds`);
    await run.closeFd(ctx, a);
    busy(run, ps, a, -1);
    if (lfd < 0 || !file || !rec) {
      if (rec) rec.gone = true;
      return "ok";
    }
    this.files.set(file, rec);
    if (lostFd(run, ps, lfd, r0) || ctx.fds.length >= MAX_FDS_PER_THREAD) {
      rec.gone = true;
      if (!lostFd(run, ps, lfd, r0)) await run.closeFd(ctx, lfd);
      return "ok";
    }
    const e: FdEntry = { fd: lfd, kind: "drm", file };
    ctx.fds.push(e);
    rec.holder = () => !e.closed && ctx.fds.includes(e) && ps.endTick === Number.POSITIVE_INFINITY;
    return "ok";
  }

  // ---- Calls through a client's fds ---------------------------------------------------------

  /** One of the thread's DRM fds, a lessee's when it has one (three times in four). */
  private pickFd(ctx: ThreadCtx): FdEntry | null {
    const lessees = ctx.fds.filter((e) => e.kind === "drm" && this.files.has(e.file!));
    if (lessees.length > 0 && choose(4, "fuzz lease fd any") !== 0)
      return this.run.pick(lessees, "fuzz lease fd")!;
    return this.run.pickDrm(ctx)?.e ?? null;
  }

  /**
   * Whether the server was surely device `dev`'s current master from before `t0` until now (a
   * lessee is the current master exactly while its lessor is: drm_is_current_master_locked()).
   */
  private serverMaster(dev: number, t0: number): boolean {
    return this.run.server?.masterSince(dev, t0) ?? false;
  }

  /**
   * Records a call through `e` for the end of the run: on device `dev`'s files, `judge(f)` says
   * what a DRM file `f` of it may return (a lessee's record if it is one); any other DRM file (of
   * another device: the id means nothing there) may return any of the lookups' errnos.
   */
  private use(
    ctx: ThreadCtx,
    e: FdEntry,
    dev: number,
    t0: number,
    t1: number,
    ret: number,
    what: string,
    judge: (f: ModelFile, rec: LesseeRecord | undefined) => readonly number[],
    m: number,
  ): void {
    const kind = drmIoctlFits(ret, -ENOTTY);
    const loose = [0, -ENOENT, -EOPNOTSUPP, -EACCES, -EINVAL];
    this.run.fdUse(ctx, e.fd, t0, t1, ret, `${what} = ${ret}`, (o: FdObject) => {
      if (!kind(o)) return false;
      if (o.kind !== "drm") return true;
      if (this.run.allocFailed(ret, m)) return true;
      const f = o.file;
      if (f.dev !== dev) return loose.includes(ret);
      // A render node's file: none of these is DRM_RENDER_ALLOW.
      if (!f.primary) return ret === -EACCES;
      return judge(f, this.files.get(f)).includes(ret);
    });
  }

  /**
   * GETCRTC, GETPLANE or a SETCRTC that changes nothing, through one of the thread's fds (`fd`:
   * this one, and no SETCRTC). Without a lessor (a `masters` run) object ids 1-7, judged loosely.
   */
  private async lookup(ctx: ThreadCtx, fd?: FdEntry): Promise<"ok"> {
    const e = fd ?? this.pickFd(ctx);
    if (!e) return "ok";
    const dev = e.file!.dev;
    const o = this.devs[dev]!.objects;
    const loose = !this.run.server;
    if (!o && this.modeset(dev) && !loose) return "ok";
    const all = o ? [...o.crtcs, ...o.planes, ...o.connectors, ...NO_OBJECT_IDS] : [1];
    // (The race's lookup, `fd` given: GETPLANE, half the time of id 1, the first object a
    // device registers, qxl's first primary plane: the call that reaches drm_lease_held()'s
    // reader, drm_lease_filter_crtcs().)
    const id = loose
      ? fd && choose(2, "fuzz lease race first id") === 0
        ? 1
        : 1 + choose(7, "fuzz lease lookup id")
      : all[choose(all.length, "fuzz lease lookup id")]!;
    // 0 GETCRTC, 1 GETPLANE, 2 SETCRTC, 3 GETRESOURCES (counts only: drm_lease_held() of every
    // CRTC and connector). The race's: GETPLANE or GETRESOURCES.
    const call = fd
      ? choose(2, "fuzz lease race lookup") === 0
        ? 1
        : 3
      : choose(4, "fuzz lease lookup");
    const modeset = this.modeset(dev);
    const m = this.run.failMark();
    const t0 = this.run.model.tick();
    let ret: number;
    let possible = 0;
    let counts = [0, 0];
    let what: string;
    if (call === 0) {
      what = `GETCRTC(${id})`;
      ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_GETCRTC, crtcArg(id));
    } else if (call === 1) {
      what = `GETPLANE(${id})`;
      const gp = getPlaneArg(id);
      ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_GETPLANE, gp);
      possible = gp.possible_crtcs >>> 0;
    } else if (call === 3) {
      what = "GETRESOURCES(counts)";
      const r = {
        fb_id_ptr: 0,
        crtc_id_ptr: 0,
        connector_id_ptr: 0,
        encoder_id_ptr: 0,
        count_fbs: 0,
        count_crtcs: 0,
        count_connectors: 0,
        count_encoders: 0,
        min_width: 0,
        max_width: 0,
        min_height: 0,
        max_height: 0,
      };
      ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_GETRESOURCES, r);
      counts = [r.count_crtcs >>> 0, r.count_connectors >>> 0];
      what += ret === 0 ? ` (${counts[0]} CRTCs, ${counts[1]} connectors)` : "";
    } else {
      // No mode and one connector: -EINVAL once the CRTC is found, before any change.
      what = `SETCRTC(${id}, no mode, 1 connector)`;
      const a = crtcArg(id);
      a.count_connectors = 1;
      ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_SETCRTC, a);
    }
    const t1 = this.run.model.tick();
    const sm = this.serverMaster(dev, t0);
    const k = o ? objectKind(o, id) : null;
    const want = call === 0 ? "crtc" : call === 1 ? "plane" : "crtc";
    this.use(
      ctx,
      e,
      dev,
      t0,
      t1,
      ret,
      what,
      (f, rec) => {
        // SETCRTC is DRM_MASTER (drm_ioctl_permit() first): a lessee is the current master while
        // its lessor is; a client's own file opened under the server's mastership never is; any
        // other may be.
        const gate: "yes" | "no" | "maybe" =
          call !== 2
            ? "yes"
            : rec
              ? sm
                ? "yes"
                : "maybe"
              : this.run.auth.underServer(f)
                ? "no"
                : "maybe";
        if (gate === "no") return [-EACCES];
        const gated = (w: number[]) => (gate === "maybe" ? [...w, -EACCES] : w);
        if (!modeset) return gated([-EOPNOTSUPP]);
        if (loose) return gated(call === 2 ? [-EINVAL, -ENOENT] : [0, -ENOENT]);
        if (call === 3) {
          // The CRTCs and connectors the file may use: an owner's all, a lessee's its lease's
          // (none once revoked; a revoke that overlapped the call: either).
          if (ret !== 0 || !o) return [0];
          const all = [o.crtcs.length, o.connectors.length];
          if (!rec) return counts[0] === all[0] && counts[1] === all[1] ? [0] : [];
          const leased = [
            o.crtcs.filter((x) => rec.objects.includes(x)).length,
            o.connectors.filter((x) => rec.objects.includes(x)).length,
          ];
          const rv = revokedDuring(rec, t0, t1);
          const fits = (w: number[]) => counts[0] === w[0] && counts[1] === w[1];
          const ok = (rv !== "yes" && fits(leased)) || (rv !== "no" && fits([0, 0]));
          return ok ? [0] : [];
        }
        let held: "yes" | "no" | "maybe";
        if (k !== want) held = "no";
        else if (!rec) held = "yes";
        else if (!rec.objects.includes(id)) held = "no";
        else {
          const rv = revokedDuring(rec, t0, t1);
          held = rv === "no" ? "yes" : rv === "yes" ? "no" : "maybe";
          // The plane's possible CRTCs as the lease sees them (drm_lease_filter_crtcs()).
          if (call === 1 && ret === 0 && rv === "no" && o) {
            const exp = filterCrtcs(o, rec.objects, o.possibleCrtcs.get(id) ?? 0);
            if (possible !== exp) return [];
          }
        }
        // Found: GETCRTC and GETPLANE 0, the SETCRTC -EINVAL (no mode, one connector).
        const hit = call === 2 ? -EINVAL : 0;
        return gated(held === "yes" ? [hit] : held === "no" ? [-ENOENT] : [hit, -ENOENT]);
      },
      m,
    );
    return "ok";
  }

  /**
   * Through one of the thread's fds: GET_LEASE (count only), LIST_LESSEES (count only),
   * CREATE_LEASE of nothing (a lessee may not sub-lease) or REVOKE_LEASE of the lessee's own id
   * (it is not its own lessor).
   */
  private async lesseeIoctl(ctx: ThreadCtx): Promise<"ok"> {
    const e = this.pickFd(ctx);
    if (!e) return "ok";
    const dev = e.file!.dev;
    const call = choose(4, "fuzz lease lessee ioctl");
    const own = this.files.get(e.file!);
    const modeset = this.modeset(dev);
    const m = this.run.failMark();
    const t0 = this.run.model.tick();
    let ret: number;
    let count = 0;
    let what: string;
    if (call === 0) {
      const a: DrmModeGetLease = { count_objects: 0, pad: 0, objects_ptr: 0 };
      ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_GET_LEASE, a);
      count = a.count_objects >>> 0;
      what = "GET_LEASE(room 0)";
    } else if (call === 1) {
      const a: DrmModeListLessees = { count_lessees: 0, pad: 0, lessees_ptr: 0 };
      ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_LIST_LESSEES, a);
      count = a.count_lessees >>> 0;
      what = "LIST_LESSEES(room 0)";
    } else if (call === 2) {
      const cl: DrmModeCreateLease = {
        object_ids: 0,
        object_count: 0,
        flags: 0,
        lessee_id: 0,
        fd: 0,
      };
      // (A file that is an owner and the current master gets a lessee fd: recorded in the fd
      // model and closed at once.)
      const pend = ctx.proc.fdm.begin(t0);
      ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_CREATE_LEASE, cl);
      what = "CREATE_LEASE(nothing)";
      if (ret === 0) {
        const f = new ModelFile(900_000 + 10 * this.nextFile++ + dev, dev, true);
        ctx.proc.fdm.installed(cl.fd, { kind: "drm", file: f }, t0, this.run.model.tick());
        ctx.proc.fdm.end(pend);
        if (!lostFd(this.run, ctx.proc, cl.fd, t0)) await this.run.closeFd(ctx, cl.fd);
      } else ctx.proc.fdm.end(pend);
    } else {
      const id = own ? own.id : NO_LESSEE_IDS[1];
      ret = await ctx.p.ioctl(e.fd, DRM_IOCTL_MODE_REVOKE_LEASE, { lessee_id: id });
      what = `REVOKE_LEASE(${id})`;
    }
    const t1 = this.run.model.tick();
    const sm = this.serverMaster(dev, t0);
    const ownId = own?.id;
    this.use(
      ctx,
      e,
      dev,
      t0,
      t1,
      ret,
      `${what}${ret === 0 && call < 2 ? ` (count ${count})` : ""}`,
      (f, rec) => {
        // DRM_MASTER: a lessee while its lessor is master; a client's file opened under the server
        // never; any other file may be (then every result of an owner's is possible).
        const master: boolean | null = rec
          ? sm
            ? true
            : null
          : this.run.auth.underServer(f)
            ? false
            : null;
        if (master === false) return [-EACCES];
        const withAcces = (w: number[]) => (master === null ? [...w, -EACCES] : w);
        if (!modeset) return withAcces([-EOPNOTSUPP]);
        if (!rec) {
          // An owner (a file that became master on its own): anything the owner's calls give.
          return withAcces([0, -ENOENT, -EINVAL]);
        }
        if (call === 0) {
          if (ret !== 0) return withAcces([]);
          const rv = revokedDuring(rec, t0, t1);
          const ok =
            rv === "no"
              ? count === rec.objects.length
              : rv === "yes"
                ? count === 0
                : count === 0 || count === rec.objects.length;
          return ok ? [0] : [];
        }
        if (call === 1) return ret === 0 && count !== 0 ? [] : withAcces([0]);
        if (call === 2) return withAcces([-EINVAL]);
        // Its own id: in the owner's lessee idr while its file is open, and not its own lessor
        // (-EACCES); another lessee's: the same, or -ENOENT once destroyed; no lessee's: -ENOENT.
        if (ownId === undefined) return withAcces([-ENOENT]);
        return withAcces(ownId === rec.id ? [-EACCES] : [-EACCES, -ENOENT]);
      },
      m,
    );
    return "ok";
  }

  /** close(2) of one of the thread's lessee fds (its last close releases the lessee's file). */
  private async closeLessee(ctx: ThreadCtx): Promise<"ok"> {
    const lessees = ctx.fds.filter((e) => e.kind === "drm" && this.files.has(e.file!));
    const e = this.run.pick(lessees, "fuzz lease close");
    if (!e) return "ok";
    ctx.fds.splice(ctx.fds.indexOf(e), 1);
    e.closed = true;
    e.file!.goneAt = Math.min(e.file!.goneAt, this.run.model.tick());
    if (e.file!.shared) ctx.proc.staleFds.add(e.fd);
    const ret = await this.run.closeFd(ctx, e.fd);
    if (ret !== 0) this.run.model.diverge(`close(${e.fd}) of a lessee fd = ${ret}`);
    return "ok";
  }
}

/** A struct drm_mode_get_plane for plane `id`, asking for no format list. */
function getPlaneArg(id: number): DrmModeGetPlane {
  return {
    plane_id: id,
    crtc_id: 0,
    fb_id: 0,
    possible_crtcs: 0,
    gamma_size: 0,
    count_format_types: 0,
    format_type_ptr: 0,
  };
}

/** A struct drm_mode_crtc for CRTC `id`: no mode, no framebuffer, no connectors. */
function crtcArg(id: number): DrmModeCrtc {
  return {
    set_connectors_ptr: 0,
    count_connectors: 0,
    crtc_id: id,
    fb_id: 0,
    x: 0,
    y: 0,
    gamma_size: 0,
    mode_valid: 0,
    mode_clock: 0,
    mode_hdisplay: 0,
    mode_hsync_start: 0,
    mode_hsync_end: 0,
    mode_htotal: 0,
    mode_hskew: 0,
    mode_vdisplay: 0,
    mode_vsync_start: 0,
    mode_vsync_end: 0,
    mode_vtotal: 0,
    mode_vscan: 0,
    mode_vrefresh: 0,
    mode_flags: 0,
    mode_type: 0,
    mode_name: new Array<number>(32).fill(0),
  };
}
