/**
 * The checksum the device's `checksum` command computes: CRC-32 (IEEE 802.3, the zlib/PNG one,
 * reflected polynomial 0xEDB88320), so a driver or a test can compute the expected value on the
 * CPU with the same function.
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * Models crc32_le() as zlib's crc32() uses it: `crc32(b)` of "123456789" is 0xCBF43926.
 * Pass the previous result as `crc` to continue a checksum over several buffers.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
