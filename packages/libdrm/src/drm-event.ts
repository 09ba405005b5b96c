/**
 * Reading DRM events from a DRM fd (xf86drm.c's drmHandleEvent() of libdrm 2.4.120, and a plain
 * read of the events): the kernel's drm_read() hands out whole `struct drm_event`s (a u32 `type`
 * and a u32 `length`, the whole event's, then the event's own fields), oldest first, as many as
 * fit the buffer. An fd opened without O_NONBLOCK sleeps until an event arrives; with it, a read
 * finding none fails with EAGAIN (a SysError here). Poll the fd for POLLIN (`poll()` of
 * sync.ts) to wait without reading.
 */

import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "@primetime/kernel";
import { checkNumber, checkObject } from "./args.js";
import type { UserProcess } from "./libc.js";
import { checkRet } from "./sys-error.js";

/** A process that can also read(2) (@primetime/kernel's Process). */
export interface ReadProcess extends UserProcess {
  read(fd: number, buf: number, count: number): Promise<number>;
  munmap(addr: number, length: number): Promise<number>;
}

/** One DRM event as read: its header and its bytes (header included, `length` of them). */
export interface DrmEventRecord {
  /** struct drm_event.type (DRM_EVENT_VBLANK, a driver's own such as vmwgfx's 0x80000000). */
  readonly type: number;
  /** struct drm_event.length: the whole event's size in bytes. */
  readonly length: number;
  /** The event's bytes, starting with the header. */
  readonly bytes: Uint8Array;
}

/** sizeof(struct drm_event). */
export const DRM_EVENT_HEADER_SIZE = 8;

/**
 * read(2) of at most `count` bytes of `fd` into a private anonymous buffer of the process (the
 * buffer is unmapped afterwards): the bytes read. Throws SysError (EAGAIN, EBADF, EINVAL, EFAULT).
 */
export async function read(proc: ReadProcess, fd: number, count: number): Promise<Uint8Array> {
  checkNumber(fd, "fd");
  checkNumber(count, "count");
  const len = Math.max(count, 1);
  const buf = checkRet(
    await proc.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
    "mmap",
  );
  try {
    const n = checkRet(await proc.read(fd, buf, count), "read");
    if (n === 0) return new Uint8Array(0);
    const bytes = await proc.readMemory(buf, n);
    if (typeof bytes === "number") checkRet(bytes, "read");
    return bytes as Uint8Array;
  } finally {
    await proc.munmap(buf, len);
  }
}

/**
 * The events in the bytes of one read: each `struct drm_event` in turn, by its `length` (a
 * header shorter than 8 bytes or a length past the end ends the walk, as libdrm's loop would
 * read garbage there).
 */
export function parseDrmEvents(bytes: Uint8Array): DrmEventRecord[] {
  const out: DrmEventRecord[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = 0;
  while (i + DRM_EVENT_HEADER_SIZE <= bytes.length) {
    const type = v.getUint32(i, true);
    const length = v.getUint32(i + 4, true);
    if (length < DRM_EVENT_HEADER_SIZE || i + length > bytes.length) break;
    out.push({ type, length, bytes: bytes.slice(i, i + length) });
    i += length;
  }
  return out;
}

/**
 * A plain read of DRM events: one read(2) of `size` bytes (libdrm's 1024 by default) and the
 * whole events it returned (none for a read of 0 bytes). Throws SysError (EAGAIN without events
 * on an O_NONBLOCK fd, EBADF, EINVAL for a file that cannot be read).
 */
export async function drmReadEvents(
  proc: ReadProcess,
  fd: number,
  size = 1024,
): Promise<DrmEventRecord[]> {
  return parseDrmEvents(await read(proc, fd, size));
}

/**
 * Models drmEventContext as far as this model has events: libdrm's context has handlers for the
 * KMS events (vblank, page flip, CRTC sequence), which the model never sends; the driver events it
 * does send (vmwgfx's fence events) are skipped by libdrm's switch, so the context here has one
 * handler that sees every event.
 */
export interface DrmEventContext {
  handler?(event: DrmEventRecord): void;
}

/**
 * Models drmHandleEvent(): one read(2) of 1024 bytes; 0 for a read of 0 bytes, -1 for one
 * shorter than a header; else each event goes to the context's handler, and 0. A failed read
 * throws SysError (libdrm returns -1 with errno).
 */
export async function drmHandleEvent(
  proc: ReadProcess,
  fd: number,
  ctx: DrmEventContext,
): Promise<number> {
  checkObject(ctx, "ctx");
  const bytes = await read(proc, fd, 1024);
  if (bytes.length === 0) return 0;
  if (bytes.length < DRM_EVENT_HEADER_SIZE) return -1;
  for (const e of parseDrmEvents(bytes)) ctx.handler?.(e);
  return 0;
}
