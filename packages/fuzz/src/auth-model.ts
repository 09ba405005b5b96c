/**
 * The reference model's knowledge of DRM authentication (`FuzzOptions.private`, with the display
 * server of display-server.ts as each device's master): what userspace can be sure of about
 * whether a DRM file may call DRM_AUTH ioctls, read in drivers/gpu/drm/drm_auth.c and
 * drm_ioctl.c (drm_ioctl_permit()) of v6.12 and v6.18.
 *
 * - A primary file opened while the server was surely the device's current master (from before
 *   the open started until it returned) got the server's master (drm_master_open()) and is
 *   neither master nor authenticated; it never becomes master (SET_MASTER needs was_master, and
 *   no simulated process has CAP_SYS_ADMIN), so only the server's AUTH_MAGIC of the file's magic
 *   can authenticate it, and the file has a magic only once a GET_MAGIC reached it. So until the
 *   first GET_MAGIC that may have reached it started, the file is surely not authenticated: a
 *   DRM_AUTH ioctl on it is -EACCES (`surelyUnauthenticated()`).
 * - Once the server's AUTH_MAGIC of the magic the file's own GET_MAGIC returned gave 0 (the file
 *   open throughout, the server surely master while it ran), the file is authenticated for good
 *   (nothing clears `authenticated`): no DRM_AUTH ioctl on it is -EACCES any more
 *   (`surelyAuthenticated()`).
 * - Everything else (a file opened while the server was not surely master: it may have become
 *   master itself, or got another master; a stray file) is not judged.
 *
 * The checks run through the fd model (fd-model.ts) at the end of the run: a DRM_AUTH ioctl's
 * result must fit some file its fd may have named during the call (`authFits()`), and which
 * files a GET_MAGIC may have reached is resolved from its fd's lives then (`resolve()`).
 */

import type { FdObject, FdTableModel } from "./fd-model.js";
import type { ModelFile } from "./model.js";

/** What the model knows of one DRM file's authentication. */
interface FileAuth {
  /** Opened while the server was surely the current master: it has the server's master. */
  underServer: boolean;
  /** The earliest start of a GET_MAGIC that may have reached it (resolved at the end). */
  magicFrom: number;
  /** From when (a tick) it is surely authenticated (infinite: not known to be). */
  authSure: number;
  /** The magic its GET_MAGIC returned (0: none seen yet). */
  magic: number;
  /** When the first GET_MAGIC through an fd of the thread's that named it started. */
  firstMagic: number;
}

/** A GET_MAGIC through `fd` of a process, in [start, ret]. */
interface MagicCall {
  readonly table: FdTableModel;
  readonly fd: number;
  readonly start: number;
  readonly ret: number;
}

/** How a DRM_AUTH ioctl's result is judged against the file it may have reached. */
export interface AuthIoctl {
  /** Only on files of these devices (a driver ioctl: another driver's table has no such entry). */
  readonly devs?: ReadonlySet<number>;
}

export class AuthModel {
  private readonly files = new Map<ModelFile, FileAuth>();
  private readonly magicCalls: MagicCall[] = [];
  /** From this tick on, a GET_MAGIC may have reached any file (an fd the model cannot name). */
  private anyMagicFrom = Number.POSITIVE_INFINITY;
  private resolved = false;

  private facts(f: ModelFile): FileAuth {
    let a = this.files.get(f);
    if (!a) {
      a = {
        underServer: false,
        magicFrom: Number.POSITIVE_INFINITY,
        authSure: Number.POSITIVE_INFINITY,
        magic: 0,
        firstMagic: Number.POSITIVE_INFINITY,
      };
      this.files.set(f, a);
    }
    return a;
  }

  /**
   * A primary file was opened; `underServer`: the server was surely the current master from
   * before the open started until it returned (DisplayServer.masterSince()).
   */
  opened(f: ModelFile, underServer: boolean): void {
    this.facts(f).underServer = underServer && f.primary && !f.stray;
  }

  /** A GET_MAGIC through `fd` of `table`'s process ran in [start, ret] (resolved at the end). */
  getMagic(table: FdTableModel, fd: number, start: number, ret: number): void {
    this.magicCalls.push({ table, fd, start, ret });
  }

  /** A GET_MAGIC through an fd of the fuzzer's that named `f` starts at `t`. */
  magicStarts(f: ModelFile, t: number): void {
    const a = this.facts(f);
    a.firstMagic = Math.min(a.firstMagic, t);
  }

  /**
   * When the first GET_MAGIC the fuzzer issued through an fd naming `f` started: `f`'s magic was
   * allocated no earlier (a call through a number that later named another file reaches only a
   * stray file, which the callers leave alone).
   */
  firstMagicStart(f: ModelFile): number {
    return this.files.get(f)?.firstMagic ?? Number.POSITIVE_INFINITY;
  }

  /**
   * The magic GET_MAGIC returned through an fd that surely named `f` throughout. A file keeps
   * its magic while it is open (drm_getmagic() allocates it once; drm_master_release() drops it
   * at the file's release), so a second GET_MAGIC must return the first one's: returns the
   * magic seen before if it differs (a divergence), else null.
   */
  sawMagic(f: ModelFile, magic: number): number | null {
    const a = this.facts(f);
    if (a.magic === 0) {
      a.magic = magic;
      return null;
    }
    return a.magic === magic ? null : a.magic;
  }

  /** The magic the model saw `f`'s GET_MAGIC return (0: none). */
  magicOf(f: ModelFile): number {
    return this.files.get(f)?.magic ?? 0;
  }

  /** True if `f` was opened under the server's mastership (see opened()). */
  underServer(f: ModelFile): boolean {
    return this.files.get(f)?.underServer ?? false;
  }

  /** `f` is surely authenticated from tick `t` on. */
  authenticated(f: ModelFile, t: number): void {
    const a = this.facts(f);
    a.authSure = Math.min(a.authSure, t);
  }

  /**
   * The run is over: every fd life is recorded, so each GET_MAGIC's candidates are known. A
   * GET_MAGIC whose fd may have named a file the model cannot name may have reached any file.
   */
  resolve(): void {
    if (this.resolved) return;
    this.resolved = true;
    for (const c of this.magicCalls) {
      const cands = c.table.candidates(c.fd, c.start, c.ret);
      if (cands === null) {
        this.anyMagicFrom = Math.min(this.anyMagicFrom, c.start);
        continue;
      }
      for (const o of cands)
        if (o.kind === "drm") {
          const a = this.facts(o.file);
          a.magicFrom = Math.min(a.magicFrom, c.start);
        }
    }
  }

  /**
   * True if `f` was surely not authenticated at any instant up to tick `t` (at the end of the
   * run, after resolve()): opened under the server's master, not stray, and no GET_MAGIC that
   * may have reached it started by `t`.
   */
  surelyUnauthenticated(f: ModelFile, t: number): boolean {
    const a = this.files.get(f);
    if (!a?.underServer || f.stray) return false;
    return Math.min(a.magicFrom, this.anyMagicFrom) > t;
  }

  /** True if `f` was surely authenticated by tick `t`. */
  surelyAuthenticated(f: ModelFile, t: number): boolean {
    return (this.files.get(f)?.authSure ?? Number.POSITIVE_INFINITY) <= t;
  }

  /**
   * What a DRM_AUTH ioctl's result `result` (in [start, ret]) says of the file it reached,
   * beside what `kind` (drmIoctlFits()) says: -EACCES only from a file not surely authenticated
   * when the call started (a render client: always, as these ioctls are not DRM_RENDER_ALLOW);
   * any other result only from a primary file that may have been authenticated by the time the
   * call returned (drm_ioctl_permit() comes before the handler; the fuzzer's argument structs
   * always copy in). Files of devices outside `io.devs` are not judged.
   */
  authFits(
    kind: (o: FdObject) => boolean,
    result: number,
    eacces: number,
    start: number,
    ret: number,
    io: AuthIoctl = {},
  ): (o: FdObject) => boolean {
    return (o) => {
      if (!kind(o)) return false;
      if (o.kind !== "drm" || (io.devs && !io.devs.has(o.file.dev))) return true;
      if (result === eacces) return !o.file.primary || !this.surelyAuthenticated(o.file, start);
      return o.file.primary && !this.surelyUnauthenticated(o.file, ret);
    };
  }
}
