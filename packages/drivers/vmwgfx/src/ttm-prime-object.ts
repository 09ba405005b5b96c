/**
 * struct ttm_prime_object (drivers/gpu/drm/vmwgfx/ttm_object.c): a base object that can be
 * shared as a dma-buf, the way vmwgfx shares surfaces (vmwgfx_prime.c routes surface handles
 * here).
 *
 * The prime object remembers its current export in `dma_buf` *without a reference*: a reference
 * there would keep the dma-buf alive as long as the object, and the dma-buf already holds a base
 * reference, so neither could ever be freed. Instead the dma-buf's release clears the pointer
 * under the prime mutex. Between the last fput() of the dma-buf and that release (a deferred
 * __fput()), the pointer still finds the dma-buf, whose count is 0: the dma-buf is *doomed*.
 * Re-exporting must therefore use get_dma_buf_unless_doomed() (an inc-not-zero on the file) under
 * the mutex and export a fresh dma-buf when it fails; a plain get_dma_buf() there resurrects a
 * file that is about to be freed (toggle `vmwgfx.reexport-plain-get`, the race of the 2013
 * thread that introduced the helper).
 *
 * Faithfulness: Linux v6.12. `shareable` is derived from the type (every surface is shareable
 * since 2023); the kernel's mutex_lock_interruptible() is a plain lock (no signals here).
 */

import {
  type DmaBuf,
  dmaBufExport,
  dmaBufFd,
  dmaBufGet,
  dmaBufPut,
  getDmaBuf,
  getDmaBufUnlessDoomed,
} from "@primetime/dma-buf";
import {
  ENOENT,
  ENOSYS,
  EPERM,
  ERESTARTSYS,
  isErr,
  type KmemCache,
  Mutex,
  pageAlign,
} from "@primetime/kernel";
import { bug, point, RESOLVED, toggleEnabled } from "@primetime/sim";
import { VMWGFX_FD_TO_HANDLE_LEAK, VMWGFX_REEXPORT_PLAIN_GET } from "./toggles.js";
import {
  TTM_PRIME_TYPE,
  TtmBaseObject,
  type TtmBaseRelease,
  type TtmObjectFile,
  ttmBaseObjectInit,
  ttmBaseObjectLookup,
  ttmBaseObjectUnref,
  ttmRefObjectAdd,
  VMW_RES_SURFACE,
} from "./ttm-object.js";

/**
 * Models struct ttm_prime_object. Drivers extend it (vmw_user_surface embeds one).
 *
 * Locking: `dmaBuf` under `mutex`; `size`, `realType`, `primeRefcountRelease` set at init.
 * References: `dmaBuf` holds none (see the file comment); each live export holds one base
 * reference, dropped by its release.
 */
export class TtmPrimeObject extends TtmBaseObject {
  /** Models mutex: protects dma_buf. */
  readonly mutex: Mutex;
  /** Models size: the size of the dma-bufs exported (page aligned). */
  size = 0;
  /** Models real_type: the driver's type (VMW_RES_SURFACE). */
  realType = 0;
  /** Models dma_buf: the current export, not refcounted; cleared by its release. */
  dmaBuf: DmaBuf | null = null;
  /** Models refcount_release: the embedding object's release. */
  primeRefcountRelease: TtmBaseRelease | null = null;

  constructor(cache?: KmemCache | string) {
    super(cache);
    this.mutex = new Mutex("ttm_prime_object.mutex", { owner: this });
  }
}

/**
 * Models ttm_prime_refcount_release(): the base's release for prime objects. BUG_ON if an
 * export is still recorded (an export holds a base reference, so its release must have cleared
 * the pointer before the last one can go), then the embedding object's release.
 * Locking: none. References: consumes the object.
 */
async function ttmPrimeRefcountRelease(base: TtmBaseObject): Promise<void> {
  const prime = base as TtmPrimeObject;
  await point(`ttm_prime_refcount_release(${prime.name})`);
  if (prime.dmaBuf !== null)
    bug(
      `kernel BUG at drivers/gpu/drm/vmwgfx/ttm_object.c: ttm_prime_refcount_release(${prime.name}): BUG_ON(prime->dma_buf != NULL)`,
    );
  if (prime.primeRefcountRelease) await prime.primeRefcountRelease(base);
}

/**
 * Models ttm_prime_dmabuf_release(), the ->release of every dma-buf a ttm prime object exports
 * (installed by ttm_object_device_init()): the driver's own release first, then, under the prime
 * mutex, clears `prime->dma_buf` if it still points at this dma-buf (a re-export may have
 * replaced it already), and finally drops the export's base reference.
 * Locking: runs from the dma-buf file's __fput(); takes the prime mutex.
 * References: drops the base reference the export took over.
 */
export async function ttmPrimeDmabufRelease(dmabuf: DmaBuf): Promise<void> {
  const prime = dmabuf.priv as TtmPrimeObject;
  prime.checkAccess("ttm_prime_dmabuf_release");
  const tdev = prime.tfile!.tdev;
  if (tdev.dmabufRelease) await tdev.dmabufRelease(dmabuf);
  const mutexTaken = prime.mutex.lock();
  if (mutexTaken !== RESOLVED) await mutexTaken;
  await point(`prime->dma_buf == ${dmabuf.name}?`);
  if (prime.dmaBuf === dmabuf) prime.dmaBuf = null;
  prime.mutex.unlockNow();
  await ttmBaseObjectUnref(prime);
}

/**
 * Models ttm_prime_fd_to_handle(): the handle of the object behind a dma-buf this device's ttm
 * prime code exported, opened in `tfile` (a ref object: importing into the exporting file gives
 * back the original handle). -EBADF / -EINVAL from dma_buf_get(); -ENOSYS for a dma-buf of other
 * ops (a GEM export, another driver's); -EPERM / -ENOMEM from the ref object.
 *
 * The -ENOSYS return leaked the dma_buf_get() reference from v3.14 until "drm/vmwgfx: drop
 * dma_buf reference on foreign-fd prime import" (v7.2-rc6, backported to the stable kernels),
 * v6.12 included (toggle `vmwgfx.fd-to-handle-enosys-leak`, on = that behaviour); the model's
 * default is the fixed code, whose error path goes through the same dma_buf_put().
 *
 * Locking: takes the fd table's lock, then the file's lock (ref object).
 * References: the temporary dma-buf reference is dropped; the ref object holds a base reference.
 * Returns the handle (>= 0) or a negative errno.
 */
export async function ttmPrimeFdToHandle(tfile: TtmObjectFile, fd: number): Promise<number> {
  const tdev = tfile.tdev;
  const dmaBuf = await dmaBufGet(fd);
  if (isErr(dmaBuf)) return dmaBuf;
  if (dmaBuf.ops !== tdev.ops) {
    if (!toggleEnabled(VMWGFX_FD_TO_HANDLE_LEAK.name)) await dmaBufPut(dmaBuf);
    return -ENOSYS;
  }
  const prime = dmaBuf.priv as TtmPrimeObject;
  const handle = prime.handle;
  const ret = await ttmRefObjectAdd(tfile, prime, null, false);
  const dmaBufPutDone = dmaBufPut(dmaBuf);
  if (dmaBufPutDone !== RESOLVED) await dmaBufPutDone;
  return ret < 0 ? ret : handle;
}

/**
 * Models ttm_prime_handle_to_fd(): a dma-buf fd for the prime object the file opened as
 * `handle`. -ENOENT if the file has no such handle (or it is not a prime object, or it is
 * dying), -EPERM if it is not shareable, -ERESTARTSYS if a fatal signal interrupts the wait for
 * the prime mutex (mutex_lock_interruptible(); the lookup's reference is dropped). Under the
 * prime mutex, the current export is reused
 * only if get_dma_buf_unless_doomed() revives a reference; otherwise a new dma-buf is exported
 * (it takes over the lookup's base reference) and recorded. Then dma_buf_fd(); on failure the
 * dma-buf reference is dropped.
 *
 * Locking: takes the file's lock (lookup), then the prime mutex.
 * References: the fd owns one dma-buf reference; a new export owns one base reference.
 * Returns the fd (>= 0) or a negative errno.
 */
export async function ttmPrimeHandleToFd(
  tfile: TtmObjectFile,
  handle: number,
  flags: number,
): Promise<number> {
  const tdev = tfile.tdev;
  let base: TtmBaseObject | null = await ttmBaseObjectLookup(tfile, handle);
  const exportLocked = async (): Promise<number> => {
    if (base === null || base.objectType !== TTM_PRIME_TYPE) return -ENOENT;
    const prime = base as TtmPrimeObject;
    if (!base.shareable) return -EPERM;
    // "ret = mutex_lock_interruptible(&prime->mutex); if (unlikely(ret != 0)) { ret =
    // -ERESTARTSYS; goto out_unref; }"
    if (await prime.mutex.lockInterruptible()) return -ERESTARTSYS;
    await point(`dma_buf = prime->dma_buf (${prime.name})`);
    let dmaBuf = prime.dmaBuf;
    let reuse: boolean;
    if (toggleEnabled(VMWGFX_REEXPORT_PLAIN_GET.name)) {
      // The 2013 race: the pointer holds no reference, the dma-buf may be doomed.
      reuse = dmaBuf !== null;
      if (dmaBuf) await getDmaBuf(dmaBuf);
    } else {
      reuse = dmaBuf !== null && (await getDmaBufUnlessDoomed(dmaBuf));
    }
    if (!reuse) {
      const exported = await dmaBufExport({
        expName: "vmwgfx",
        owner: "vmwgfx",
        ops: tdev.ops,
        size: prime.size,
        flags,
        priv: prime,
      });
      if (isErr(exported)) {
        prime.mutex.unlockNow();
        return exported;
      }
      // dma_buf has taken the base object reference
      base = null;
      dmaBuf = exported;
      prime.dmaBuf = exported;
    }
    prime.mutex.unlockNow();
    const fd = await dmaBufFd(dmaBuf, flags);
    if (fd < 0) await dmaBufPut(dmaBuf);
    return fd;
  };
  const ret = await exportLocked();
  if (base) await ttmBaseObjectUnref(base);
  return ret;
}

/**
 * Models ttm_prime_object_init(): a prime object of `size` bytes (page aligned) and driver type
 * `type` (shareable iff it is a surface, as since 2023), initialized as a base object of
 * `tfile` whose release is ttm_prime_refcount_release() calling `refcountRelease`.
 * Locking: see ttmBaseObjectInit(). References: see ttmBaseObjectInit().
 * Returns 0 or a negative errno.
 */
export async function ttmPrimeObjectInit(
  tfile: TtmObjectFile,
  size: number,
  prime: TtmPrimeObject,
  type: number,
  refcountRelease: TtmBaseRelease | null,
): Promise<number> {
  const shareable = type === VMW_RES_SURFACE;
  prime.size = pageAlign(size);
  prime.realType = type;
  prime.dmaBuf = null;
  prime.primeRefcountRelease = refcountRelease;
  return ttmBaseObjectInit(tfile, prime, shareable, TTM_PRIME_TYPE, ttmPrimeRefcountRelease);
}

/**
 * Models ttm_base_object_type(): the driver type of a prime object, else the object type.
 * Locking: none. References: the caller's.
 */
export function ttmBaseObjectType(base: TtmBaseObject): number {
  return base.objectType === TTM_PRIME_TYPE ? (base as TtmPrimeObject).realType : base.objectType;
}
