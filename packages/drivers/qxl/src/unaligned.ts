/**
 * Little-endian loads and stores of 32- and 64-bit fields (include/linux/unaligned.h:
 * get_unaligned_le32(), put_unaligned_le32(), get_unaligned_le64(), put_unaligned_le64()), on a
 * byte array or on a DataView of device memory.
 *
 * A 64-bit field holds a JS number here (addresses and ids stay below 2^53). Stored as two 32-bit
 * halves, a non-negative safe integer needs no BigInt; anything else (negative, fractional,
 * unsafe) takes `setBigUint64(BigInt(x))`, which wraps or throws exactly as before. A load is the
 * value rounded once to a double, as `Number(getBigUint64())` gives it. The byte-array forms also
 * spare a small array its `.buffer` (which a DataView needs, and which moves an on-heap typed
 * array's bytes into a backing store of their own).
 */

const TWO_32 = 4294967296;

/** Models get_unaligned_le32() of `b` at `at`. */
export function getUnalignedLe32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Models put_unaligned_le32(): `x >>> 0` as DataView.setUint32(at, x >>> 0, true) stores it. */
export function putUnalignedLe32(x: number, b: Uint8Array, at: number): void {
  const v = x >>> 0;
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** Models get_unaligned_le64() of `b` at `at`, as a number. */
export function getUnalignedLe64(b: Uint8Array, at: number): number {
  return getUnalignedLe32(b, at + 4) * TWO_32 + getUnalignedLe32(b, at);
}

/** Models put_unaligned_le64() of the number `x` (BigInt(x) as a u64). */
export function putUnalignedLe64(x: number, b: Uint8Array, at: number): void {
  if (!(Number.isSafeInteger(x) && x >= 0)) {
    new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(at, BigInt(x), true);
    return;
  }
  const lo = x >>> 0;
  putUnalignedLe32(lo, b, at);
  putUnalignedLe32((x - lo) / TWO_32, b, at + 4);
}

/** `Number(v.getBigUint64(at, true))` without the BigInt. */
export function getLe64(v: DataView, at: number): number {
  return v.getUint32(at + 4, true) * TWO_32 + v.getUint32(at, true);
}

/** `v.setBigUint64(at, BigInt(x), true)`, without the BigInt for a non-negative safe integer. */
export function setLe64(v: DataView, at: number, x: number): void {
  if (!(Number.isSafeInteger(x) && x >= 0)) {
    v.setBigUint64(at, BigInt(x), true);
    return;
  }
  const lo = x >>> 0;
  v.setUint32(at, lo, true);
  v.setUint32(at + 4, (x - lo) / TWO_32, true);
}
