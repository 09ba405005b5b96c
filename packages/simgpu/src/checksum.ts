/**
 * The checksum the device's `checksum` command computes: CRC-32 (IEEE 802.3, the zlib/PNG one,
 * reflected polynomial 0xEDB88320), so a driver or a test can compute the expected value on the
 * CPU with the same function.
 *
 * Computed four bytes at a time with four tables ("slicing-by-4", as zlib's braided CRC and the
 * kernel's crc32_le with CRC_LE_BITS=32 do): the same value as the byte-at-a-time loop, a third
 * of its time on the buffers the sharing scenarios checksum (several KiB per command).
 */

/** T[k][n]: the CRC of byte n followed by k zero bytes (T[0] is the classic table). */
const T = (() => {
  const t = new Int32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 4; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/**
 * Models crc32_le() as zlib's crc32() uses it: `crc32(b)` of "123456789" is 0xCBF43926.
 * Pass the previous result as `crc` to continue a checksum over several buffers.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  const n = bytes.length;
  const end4 = n & ~3;
  let i = 0;
  for (; i < end4; i += 4) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c =
      T[768 + (c & 0xff)]! ^
      T[512 + ((c >>> 8) & 0xff)]! ^
      T[256 + ((c >>> 16) & 0xff)]! ^
      T[c >>> 24]!;
  }
  for (; i < n; i++) c = T[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
