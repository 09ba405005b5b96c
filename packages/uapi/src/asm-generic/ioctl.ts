/**
 * ioctl command numbers (include/uapi/asm-generic/ioctl.h): a command packs a direction, a type
 * (the driver's magic, e.g. 'd' for DRM), a number and the size of the argument struct:
 * `_IOWR("d", 0x0b, 16)`. Userspace builds its requests with these macros and drivers decode
 * them with `_IOC_NR()` and friends.
 */

/** Models _IOC_NRBITS. */
export const _IOC_NRBITS = 8;
/** Models _IOC_TYPEBITS. */
export const _IOC_TYPEBITS = 8;
/** Models _IOC_SIZEBITS (asm-generic). */
export const _IOC_SIZEBITS = 14;
/** Models _IOC_DIRBITS (asm-generic). */
export const _IOC_DIRBITS = 2;

export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
export const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;

/** No data transfer. */
export const _IOC_NONE = 0;
/** Userspace writes, the kernel reads (copy_from_user). */
export const _IOC_WRITE = 1;
/** The kernel writes, userspace reads (copy_to_user). */
export const _IOC_READ = 2;

const NR_MASK = (1 << _IOC_NRBITS) - 1;
const TYPE_MASK = (1 << _IOC_TYPEBITS) - 1;
const SIZE_MASK = (1 << _IOC_SIZEBITS) - 1;
const DIR_MASK = (1 << _IOC_DIRBITS) - 1;

function field(name: string, v: number, mask: number): number {
  if (!Number.isInteger(v) || v < 0 || v > mask)
    throw new RangeError(`ioctl ${name} ${v} out of range [0, ${mask}]`);
  return v;
}

function typeCode(type: number | string): number {
  if (typeof type === "string") {
    if (type.length !== 1) throw new RangeError(`ioctl type must be one character, got "${type}"`);
    return field("type", type.charCodeAt(0), TYPE_MASK);
  }
  return field("type", type, TYPE_MASK);
}

/**
 * Models _IOC(dir, type, nr, size): an unsigned 32-bit command number. `type` is the driver's
 * magic, a one-character string or a number. Out-of-range fields throw (in C they are a build
 * error, _IOC_TYPECHECK).
 */
export function _IOC(dir: number, type: number | string, nr: number, size: number): number {
  return (
    ((field("dir", dir, DIR_MASK) << _IOC_DIRSHIFT) |
      (typeCode(type) << _IOC_TYPESHIFT) |
      (field("nr", nr, NR_MASK) << _IOC_NRSHIFT) |
      (field("size", size, SIZE_MASK) << _IOC_SIZESHIFT)) >>>
    0
  );
}

/** Models _IO(type, nr): a command without argument data. */
export function _IO(type: number | string, nr: number): number {
  return _IOC(_IOC_NONE, type, nr, 0);
}

/** Models _IOR(type, nr, size): the kernel fills a `size`-byte struct for userspace. */
export function _IOR(type: number | string, nr: number, size: number): number {
  return _IOC(_IOC_READ, type, nr, size);
}

/** Models _IOW(type, nr, size): userspace passes a `size`-byte struct to the kernel. */
export function _IOW(type: number | string, nr: number, size: number): number {
  return _IOC(_IOC_WRITE, type, nr, size);
}

/** Models _IOWR(type, nr, size): in and out. */
export function _IOWR(type: number | string, nr: number, size: number): number {
  return _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);
}

/** Models _IOC_DIR(cmd). */
export function _IOC_DIR(cmd: number): number {
  return (cmd >>> _IOC_DIRSHIFT) & DIR_MASK;
}

/** Models _IOC_TYPE(cmd). */
export function _IOC_TYPE(cmd: number): number {
  return (cmd >>> _IOC_TYPESHIFT) & TYPE_MASK;
}

/** Models _IOC_NR(cmd). */
export function _IOC_NR(cmd: number): number {
  return (cmd >>> _IOC_NRSHIFT) & NR_MASK;
}

/** Models _IOC_SIZE(cmd). */
export function _IOC_SIZE(cmd: number): number {
  return (cmd >>> _IOC_SIZESHIFT) & SIZE_MASK;
}
