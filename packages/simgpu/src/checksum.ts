/**
 * The checksum the device's `checksum` command computes: CRC-32 (IEEE 802.3, the zlib/PNG one,
 * reflected polynomial 0xEDB88320), so a driver or a test can compute the expected value on the
 * CPU with the same function.
 *
 * Computed eight bytes at a time with eight tables ("slicing-by-8", as the kernel's crc32_le with
 * CRC_LE_BITS=64 and zlib's braided CRC do): the same value as the byte-at-a-time loop. A buffer
 * whose start is 4-byte aligned (every page, and most pieces of one) is read as 32-bit
 * little-endian words through an Int32Array over the same memory, one load per word instead of
 * four byte loads; anything else, and the tail, goes four and then one byte at a time. A whole
 * page of one repeated byte (what fill commands leave, and copies of it) costs a scan of its words
 * and four lookups (uniformBlock()): in the sharing scenarios most checksummed pages are such.
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

/**
 * A block of UNIFORM_BLOCK equal bytes (a page the device or the CPU filled with one value, the
 * common source of a checksum command) takes four table lookups instead of a pass over its bytes.
 * The CRC register is linear over GF(2): after n bytes, starting from register s, it is
 * Z(s) ^ R, where Z is the effect of n zero bytes on s (ZERO_SHIFT, four tables of 256 by the
 * bytes of s, built from the 32 unit vectors) and R the register the n bytes leave from 0 (one
 * pass per byte value, on first use). A block is checked word by word, and the check stops at the
 * first word that differs from the first.
 */
const UNIFORM_BLOCK = 4096;
let ZERO_SHIFT: Int32Array | null = null;
const UNIFORM_REGISTER = new Int32Array(256);
const UNIFORM_KNOWN = new Uint8Array(256);

/** The register after UNIFORM_BLOCK copies of byte v, from register `s`, byte by byte. */
function slowBlock(s: number, v: number): number {
  let c = s;
  for (let i = 0; i < UNIFORM_BLOCK; i++) c = T[(c ^ v) & 0xff]! ^ (c >>> 8);
  return c;
}

/** The register after UNIFORM_BLOCK copies of byte `v` from register `s`: Z(s) ^ R(v). */
function uniformBlock(s: number, v: number): number {
  let z = ZERO_SHIFT;
  if (z === null) {
    const unit = new Int32Array(32);
    for (let k = 0; k < 32; k++) unit[k] = slowBlock(1 << k, 0);
    z = new Int32Array(4 * 256);
    for (let k = 0; k < 4; k++)
      for (let b = 0; b < 256; b++) {
        let r = 0;
        for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) r ^= unit[k * 8 + bit]!;
        z[k * 256 + b] = r;
      }
    ZERO_SHIFT = z;
  }
  if (UNIFORM_KNOWN[v] === 0) {
    UNIFORM_REGISTER[v] = slowBlock(0, v);
    UNIFORM_KNOWN[v] = 1;
  }
  return (
    z[s & 0xff]! ^
    z[256 + ((s >>> 8) & 0xff)]! ^
    z[512 + ((s >>> 16) & 0xff)]! ^
    z[768 + (s >>> 24)]! ^
    UNIFORM_REGISTER[v]!
  );
}

/** Whether every word equals the first (so every byte does, the first word being uniform). */
function isUniform(words: Int32Array): boolean {
  const w0 = words[0]!;
  const b = w0 & 0xff;
  if (w0 !== (b | (b << 8) | (b << 16) | (b << 24))) return false;
  const n = words.length; // a multiple of 4 (UNIFORM_BLOCK / 4)
  for (let i = 0; i < n; i += 4) {
    if (
      ((words[i]! ^ w0) | (words[i + 1]! ^ w0) | (words[i + 2]! ^ w0) | (words[i + 3]! ^ w0)) !==
      0
    )
      return false;
  }
  return true;
}

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
    if (n === UNIFORM_BLOCK && isUniform(words)) return ~uniformBlock(c, bytes[0]!) >>> 0;
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
