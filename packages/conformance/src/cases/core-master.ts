/**
 * drm_master lifetime under a privileged process (drivers/gpu/drm/drm_auth.c, drm_ioctl.c of
 * v6.12 and v6.18). IGT's tests/core_setmaster.c checks who may SET_MASTER and DROP_MASTER; this
 * group is primetime's own: the race syzbot found in 2021, where a CAP_SYS_ADMIN process's
 * SET_MASTER of a file that shares another file's master gives the file a master of its own
 * (drm_new_set_master()) and puts the shared one, freeing it when the file held its last
 * reference, while another thread reads `file_priv->master` (drm_getunique() before
 * b436acd1cf7f).
 */

import { CAP_SYS_ADMIN } from "@primetime/kernel";
import { DrmFd } from "@primetime/libdrm";
import {
  DRM_IOCTL_GET_UNIQUE,
  DRM_IOCTL_SET_VERSION,
  type DrmSetVersion,
  type DrmUnique,
} from "@primetime/uapi";
import { type CaseContext, type CaseSpec, RACE_DEFAULTS } from "../harness.js";

const group = "core_master";

/** GET_UNIQUE (libdrm's drmGetBusid() without its second call): the bus id's length. */
async function getUniqueLen(fd: DrmFd): Promise<number> {
  const u: DrmUnique = { unique_len: 64, unique: "" };
  await fd.ioctl(DRM_IOCTL_GET_UNIQUE, u, "DRM_IOCTL_GET_UNIQUE");
  return u.unique_len;
}

/** SET_VERSION 1.4 (libdrm's drmSetInterfaceVersion() in drmOpenByBusid()): sets the bus id. */
async function setInterfaceVersion(fd: DrmFd): Promise<void> {
  const sv: DrmSetVersion = {
    drm_di_major: 1,
    drm_di_minor: 4,
    drm_dd_major: -1,
    drm_dd_minor: -1,
  };
  await fd.ioctl(DRM_IOCTL_SET_VERSION, sv, "DRM_IOCTL_SET_VERSION");
}

/**
 * getunique-vs-setmaster-race: the harness's master drops master; a root process opens the card
 * (its file A becomes master of a new master M), gives M a bus id (SET_VERSION 1.4) and opens
 * the card again (file B shares M); A drops master and closes, so B holds M's last reference.
 * Then one thread reads B's bus id (GET_UNIQUE) while another makes B master (SET_MASTER: B gets
 * a master of its own, M is put and freed). Both calls succeed; the bus id read is M's (its
 * length) or the new master's (0). Oracles: KASAN and refcount (a GET_UNIQUE that loaded M
 * before master_mutex reads it freed), kmemleak at the end.
 */
const getuniqueVsSetmaster: CaseSpec = {
  name: `${group}/getunique-vs-setmaster-race`,
  group,
  race: true,
  description:
    "GET_UNIQUE racing a root process's SET_MASTER of the same file, which frees the master it shared",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const harnessMaster = t.masterFd();
    await harnessMaster.dropMaster();
    const root = t.kernel.spawnProcess(
      "igt-root",
      async (p) => {
        const a = await DrmFd.open(p, t.dev.card);
        await setInterfaceVersion(a);
        const busidLen = await getUniqueLen(a);
        t.check(busidLen > 0, "SET_VERSION 1.4 set no bus id");
        const b = await DrmFd.open(p, t.dev.card);
        await a.dropMaster();
        await a.close();
        let seen = -1;
        const reader = p.spawnThread("get_unique", async () => {
          seen = await getUniqueLen(b);
        });
        const setter = p.spawnThread("set_master", () => b.setMaster());
        await reader.join();
        await setter.join();
        t.check(
          seen === busidLen || seen === 0,
          `GET_UNIQUE gave a bus id of length ${seen}: neither the shared master's (${busidLen}) nor the new one's (0)`,
        );
        t.check((await getUniqueLen(b)) === 0, "B's own master has a bus id");
        await b.dropMaster();
        await b.close();
      },
      { caps: [CAP_SYS_ADMIN] },
    );
    const code = await root.wait();
    t.check(code === 0, `the root process exited with code ${code}`);
    await harnessMaster.setMaster();
  },
};

export const CORE_MASTER: readonly CaseSpec[] = [getuniqueVsSetmaster];
