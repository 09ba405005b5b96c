/**
 * The checksum the device's `checksum` command computes: CRC-32 (IEEE 802.3, the zlib/PNG one,
 * reflected polynomial 0xEDB88320), so a driver or a test can compute the expected value on the
 * CPU with the same function.
 *
 * Computed eight bytes at a time with eight tables ("slicing-by-8", as the kernel's crc32_le with
 * CRC_LE_BITS=64 and zlib's braided CRC do): the same value as the byte-at-a-time loop. A buffer
 * whose start is 4-byte aligned (every page, and most pieces of one) is read as 32-bit
 * little-endian words through an Int32Array over the same memory, one load per word instead of
 * four byte loads; anything else, and the tail, goes four and then one byte at a time.
 */

/** T[k][n]: the CRC of byte n followed by k zero bytes (T[0] is the classic table). */
const T = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** Whether the host is little endian (an Int32Array load is then a little-endian word). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Below this many bytes the word view is not worth its allocation. */
const WORDS_FROM = 64;

/**
 * Models crc32_le() as zlib's crc32() uses it: `crc32(b)` of "123456789" is 0xCBF43926.
 * Pass the previous result as `crc` to continue a checksum over several buffers.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  const n = bytes.length;
  let i = 0;
  if (n >= WORDS_FROM && LITTLE_ENDIAN && (bytes.byteOffset & 3) === 0) {
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, (n >>> 3) << 1);
    const nw = words.length;
    for (let w = 0; w < nw; w += 2) {
      c ^= words[w]!;
      const d = words[w + 1]!;
      c =
        T[1792 + (c & 0xff)]! ^
        T[1536 + ((c >>> 8) & 0xff)]! ^
        T[1280 + ((c >>> 16) & 0xff)]! ^
        T[1024 + (c >>> 24)]! ^
        T[768 + (d & 0xff)]! ^
        T[512 + ((d >>> 8) & 0xff)]! ^
        T[256 + ((d >>> 16) & 0xff)]! ^
        T[d >>> 24]!;
    }
    i = nw << 2;
  }
  const end4 = i + ((n - i) & ~3);
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
