/**
 * copy_from_user(), copy_to_user(), get_user() and put_user() of 32-bit words (include/linux/
 * uaccess.h, lib/usercopy.c): a kernel access of the current process's memory through
 * accessVm() (mm/mm.ts), which faults pages in under mmap_lock. A range that is not mapped with
 * the access's permission is -EFAULT. Not modeled: partial copies (the kernel's copy_*_user()
 * return the bytes not copied; these return all or -EFAULT, which is what every caller in the
 * model turns a short copy into).
 */

import { EFAULT } from "../include/errno.js";
import { accessVm, currentMm } from "../mm/mm.js";

/**
 * Models copy_from_user() of `count` u32 (get_user() of each, little endian) at the user
 * address `ptr`. The words, or -EFAULT.
 * Locking: may fault (takes mmap_lock); no spinlock held.
 * References: none.
 */
export async function copyU32sFromUser(ptr: number, count: number): Promise<number[] | number> {
  const mm = currentMm();
  if (!mm || !Number.isSafeInteger(ptr) || ptr <= 0) return -EFAULT;
  if (count === 0) return [];
  const bytes = await accessVm(mm, ptr, count * 4, null);
  if (typeof bytes === "number") return -EFAULT;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: count }, (_, i) => view.getUint32(i * 4, true));
}

/**
 * Models copy_to_user() (put_user() of each) of `words` as u32, little endian, at the user
 * address `ptr`. 0 or -EFAULT.
 * Locking: may fault (takes mmap_lock); no spinlock held.
 * References: none.
 */
export async function copyU32sToUser(ptr: number, words: readonly number[]): Promise<number> {
  const mm = currentMm();
  if (!mm || !Number.isSafeInteger(ptr) || ptr <= 0) return -EFAULT;
  if (words.length === 0) return 0;
  const data = new Uint8Array(words.length * 4);
  const view = new DataView(data.buffer);
  for (const [i, w] of words.entries()) view.setUint32(i * 4, w >>> 0, true);
  const ret = await accessVm(mm, ptr, data.length, data);
  return typeof ret === "number" && ret < 0 ? -EFAULT : 0;
}
