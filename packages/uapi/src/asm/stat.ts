/**
 * arch/x86/include/uapi/asm/stat.h (x86-64): struct stat as fstat(2) (newfstat) writes it, and
 * the dev_t encoding cp_new_stat() gives st_dev and st_rdev (new_encode_dev(),
 * include/linux/kdev_t.h).
 */

/** Models sizeof(struct stat) on x86-64. */
export const STAT_SIZE = 144;

/** Models struct stat (x86-64) as userspace reads it; times are not modeled (zero). */
export interface Stat {
  st_dev: number;
  st_ino: number;
  st_nlink: number;
  st_mode: number;
  st_uid: number;
  st_gid: number;
  st_rdev: number;
  st_size: number;
  st_blksize: number;
  st_blocks: number;
}

/** The byte offsets of struct stat's fields on x86-64. */
const OFF = {
  st_dev: 0,
  st_ino: 8,
  st_nlink: 16,
  st_mode: 24,
  st_uid: 28,
  st_gid: 32,
  st_rdev: 40,
  st_size: 48,
  st_blksize: 56,
  st_blocks: 64,
} as const;

/** The 32-bit fields; the others are 64-bit (__kernel_ulong_t / __kernel_long_t). */
const U32 = new Set<keyof Stat>(["st_mode", "st_uid", "st_gid"]);

/** The bytes of `st` as the kernel's copy_to_user() of struct stat lays them out (little-endian). */
export function encodeStat(st: Stat): Uint8Array {
  const bytes = new Uint8Array(STAT_SIZE);
  const view = new DataView(bytes.buffer);
  for (const k of Object.keys(OFF) as (keyof Stat)[]) {
    if (U32.has(k)) view.setUint32(OFF[k], st[k] >>> 0, true);
    else view.setBigInt64(OFF[k], BigInt(st[k]), true);
  }
  return bytes;
}

/** Decodes a struct stat (at least STAT_SIZE bytes); 64-bit fields as numbers. */
export function decodeStat(bytes: Uint8Array): Stat {
  if (bytes.length < STAT_SIZE) throw new RangeError(`struct stat needs ${STAT_SIZE} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, STAT_SIZE);
  const st = {} as Stat;
  for (const k of Object.keys(OFF) as (keyof Stat)[])
    st[k] = U32.has(k) ? view.getUint32(OFF[k], true) : Number(view.getBigInt64(OFF[k], true));
  return st;
}

/**
 * Models new_encode_dev(dev) (include/linux/kdev_t.h): the kernel's dev_t (MAJOR << 20 | MINOR)
 * as userspace's st_dev/st_rdev: (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12).
 */
export function newEncodeDev(dev: number): number {
  const major = dev >>> 20;
  const minor = dev & 0xfffff;
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** Models glibc's major(): the major number of an encoded dev_t (new_decode_dev()). */
export function devMajor(dev: number): number {
  return (dev & 0xfff00) >>> 8;
}

/** Models glibc's minor(): the minor number of an encoded dev_t. */
export function devMinor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}
