/**
 * What the device executes: fill, copy and checksum commands over GPU addresses, as plain
 * objects a driver builds directly. Each submission also ends with an implicit fence packet that
 * writes the submission's seqno (engine.ts); it is not a command a driver writes.
 */

import { Page } from "./page.js";

/** An address in VRAM: a byte offset from the start of VRAM. */
export interface VramAddress {
  readonly space: "vram";
  readonly offset: number;
}

/**
 * An address in system memory: a byte offset into a scatter list of pages (the DMA addresses of
 * a GEM object's or an imported dma-buf's backing pages, in order). Ranges may span pages.
 */
export interface SystemAddress {
  readonly space: "system";
  readonly pages: readonly Page[];
  readonly offset: number;
}

export type GpuAddress = VramAddress | SystemAddress;

/** Sets `size` bytes at `dst` to `value` (a byte). */
export interface FillCommand {
  readonly op: "fill";
  readonly dst: GpuAddress;
  readonly size: number;
  readonly value: number;
}

/**
 * Copies `size` bytes from `src` to `dst`. Overlapping ranges behave like memmove: the whole
 * source is read before anything is written (the command applies atomically).
 */
export interface CopyCommand {
  readonly op: "copy";
  readonly src: GpuAddress;
  readonly dst: GpuAddress;
  readonly size: number;
}

/** Computes the CRC-32 (checksum.ts) of `size` bytes at `src` and writes it, 4 bytes little endian, at `result`. */
export interface ChecksumCommand {
  readonly op: "checksum";
  readonly src: GpuAddress;
  readonly size: number;
  readonly result: GpuAddress;
}

export type Command = FillCommand | CopyCommand | ChecksumCommand;
export type CommandOp = Command["op"];

/** Bytes of the checksum result. */
export const CHECKSUM_RESULT_SIZE = 4;

/** A VRAM address. */
export function vramAddress(offset: number): VramAddress {
  return { space: "vram", offset };
}

/** A system-memory address: `offset` bytes into the scatter list `pages`. */
export function systemAddress(pages: readonly Page[], offset = 0): SystemAddress {
  return { space: "system", pages, offset };
}

/** "vram+0x1000" or "system[3 pages]+0x10": for fault messages. */
export function formatAddress(a: GpuAddress): string {
  const off = `0x${a.offset.toString(16)}`;
  return a.space === "vram" ? `vram+${off}` : `system[${a.pages.length} pages]+${off}`;
}

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function addressProblem(a: unknown, what: string): string | null {
  if (typeof a !== "object" || a === null) return `${what} is not an address`;
  const addr = a as Partial<VramAddress> & Partial<Omit<SystemAddress, "space">>;
  if (!isCount(addr.offset)) return `${what}.offset must be a non-negative integer`;
  if (addr.space === "vram") return null;
  if (addr.space === "system") {
    const ok = Array.isArray(addr.pages) && addr.pages.every((p) => p instanceof Page);
    return ok ? null : `${what}.pages must be an array of pages`;
  }
  return `${what}.space must be "vram" or "system"`;
}

/**
 * What is wrong with a command's encoding, or null if it is well formed. This is the decoder's
 * view: it checks shapes and numbers, not whether the memory exists (that is found, and faulted,
 * when the command executes).
 */
export function validateCommand(cmd: unknown): string | null {
  if (typeof cmd !== "object" || cmd === null) return "not a command";
  const c = cmd as Record<string, unknown>;
  if (!isCount(c.size)) return `${String(c.op)}: size must be a non-negative integer`;
  switch (c.op) {
    case "fill":
      if (!isCount(c.value) || c.value > 255) return "fill: value must be a byte (0..255)";
      return addressProblem(c.dst, "fill: dst");
    case "copy":
      return addressProblem(c.src, "copy: src") ?? addressProblem(c.dst, "copy: dst");
    case "checksum":
      return addressProblem(c.src, "checksum: src") ?? addressProblem(c.result, "checksum: result");
    default:
      return `unknown op ${JSON.stringify(c.op)}`;
  }
}
