/**
 * The QXL device (drivers/gpu/drm/qxl/qxl_dev.h is its ABI; QEMU's hw/display/qxl.c and
 * spice-server are the hardware): a paravirtual display adapter with a ROM (the number of
 * surface slots), a RAM header holding the command ring and the release ring, I/O ports and an
 * interrupt line, built here on the simulated GPU (`@primetime/simgpu`), whose VRAM is the
 * device's memory and whose engine executes the drawing.
 *
 * How it works (the part the driver's lifetime rules depend on):
 * - The driver pushes `{ type, data }` entries on the command ring; `data` is the physical
 *   address of the command in device memory (a release buffer object). A command starts with a
 *   `QXLReleaseInfo` (`id`, `next`, 16 bytes): the id of the driver's `qxl_release`.
 * - The device consumes the ring in order (on the NOTIFY_CMD doorbell and whenever its engine
 *   frees room), decodes each command and hands its work to the GPU engine as one batch.
 * - Surface commands: CREATE makes hardware surface slot `surface_id` live over the memory at
 *   `mem`; DESTROY frees the slot. A surface's CREATE command stays in use by the device until the
 *   surface is destroyed (spice keeps it), so its release is handed back only then, after the
 *   DESTROY's. Drawing may target a live surface by id.
 * - When a batch completes, the device hands the command back: it puts the release id on the
 *   release ring (or, when the ring is full, chains it through the `next` field of the release
 *   last handed back, as QEMU's interface_release_resource() does) and raises
 *   QXL_INTERRUPT_DISPLAY. The driver's garbage collector pops the ring and frees the releases.
 * - UPDATE_AREA_ASYNC (and the other *_ASYNC ports) completes with QXL_INTERRUPT_IO_CMD once the
 *   engine has finished everything submitted before it.
 * - A malformed command (surface id beyond the ROM's count, creating a live surface, destroying
 *   or drawing to a dead one, an address outside the memslots) is what QEMU calls a guest bug:
 *   logged in `guestBugs`, the command skipped and handed back. Tests assert none happen.
 *
 * Memory: the GPU's VRAM holds the RAM BAR (pages `[0, vramPages - surfacePages)`, the main
 * memslot, TTM's VRAM) and after it the surface BAR (the surfaces memslot, TTM's PRIV); each
 * memslot's offsets count from the start of its BAR, as QEMU's memslots map each BAR.
 *
 * Simplifications: the drawable is this model's own small command (`QxlSimDraw`: fill, copy or checksum over physical addresses or a surface), not spice's
 * QXLDrawable; no cursor ring, primary surface, monitors config or modes; commands are decoded
 * from device memory when consumed.
 */

import { fmtLabel, pointNow, type Simulation, WaitQueue } from "@primetime/sim";
import {
  type Command,
  type GpuAddress,
  type InterruptStatus,
  PAGE_SIZE,
  Page,
  SimGpu,
  type SystemMemory,
  systemAddress,
  vramAddress,
} from "@primetime/simgpu";
import { getLe64, putUnalignedLe64 } from "./unaligned.js";

/**
 * A host page the device reaches through a DMA window: another device's memory (the bytes of a
 * foreign dma-buf's page), seen by this device's IOMMU as one of its system pages while mapped.
 */
class HostPage extends Page {
  constructor(
    memory: SystemMemory,
    pfn: number,
    private readonly hostBytes: Uint8Array,
  ) {
    super(memory, pfn);
    this.generation = 1;
  }

  override get data(): Uint8Array {
    return this.hostBytes;
  }
}

// ---- qxl_dev.h constants ------------------------------------------------------------------------

/** Models QXL_COMMAND_RING_SIZE. */
export const QXL_COMMAND_RING_SIZE = 32;
/** Models QXL_RELEASE_RING_SIZE. */
export const QXL_RELEASE_RING_SIZE = 8;

/** Models enum QXLCmdType. */
export const QXL_CMD_NOP = 0;
export const QXL_CMD_DRAW = 1;
export const QXL_CMD_UPDATE = 2;
export const QXL_CMD_CURSOR = 3;
export const QXL_CMD_MESSAGE = 4;
export const QXL_CMD_SURFACE = 5;

/** Models enum QXLSurfaceCmdType. */
export const QXL_SURFACE_CMD_CREATE = 0;
export const QXL_SURFACE_CMD_DESTROY = 1;
/** Models QXL_SURF_FLAG_KEEP_DATA. */
export const QXL_SURF_FLAG_KEEP_DATA = 1 << 0;
/** Models QXL_SURF_TYPE_PRIMARY. */
export const QXL_SURF_TYPE_PRIMARY = 0;

/** Models QXL_INTERRUPT_DISPLAY: commands were handed back (release ring), ring room freed. */
export const QXL_INTERRUPT_DISPLAY = 1 << 0;
/** Models QXL_INTERRUPT_CURSOR. */
export const QXL_INTERRUPT_CURSOR = 1 << 1;
/** Models QXL_INTERRUPT_IO_CMD: an *_ASYNC I/O command completed. */
export const QXL_INTERRUPT_IO_CMD = 1 << 2;
/** Models QXL_INTERRUPT_ERROR. */
export const QXL_INTERRUPT_ERROR = 1 << 3;

/** Models enum qxl io ports (the ones modeled). */
export const QXL_IO_NOTIFY_CMD = 0;
export const QXL_IO_UPDATE_AREA = 2;
export const QXL_IO_NOTIFY_OOM = 4;
export const QXL_IO_UPDATE_AREA_ASYNC = 16;
export const QXL_IO_CREATE_PRIMARY_ASYNC = 18;
export const QXL_IO_DESTROY_PRIMARY_ASYNC = 19;
export const QXL_IO_FLUSH_SURFACES_ASYNC = 22;
export const QXL_IO_FLUSH_RELEASE = 23;

/** Memslot ids: the high bits of a QXLPHYSICAL (qdev->main_slot / surfaces_slot). */
export const QXL_MAIN_SLOT = 1;
export const QXL_SURFACES_SLOT = 2;
/**
 * Model extension: a third memslot over host pages the driver maps for the device (the pages of
 * a buffer imported from another device): `index * 2^32 + offset` in it names byte `offset` of
 * DMA window `index` (QxlHw.dmaMap()).
 */
export const QXL_DMA_SLOT = 3;
/** Bit where the memslot id starts in a physical address (kept below 2^53 for JavaScript). */
export const QXL_SLOT_SHIFT = 44;

/** sizeof(union qxl_release_info): `id` (u64) then `next` (u64). */
export const QXL_RELEASE_INFO_SIZE = 16;

/**
 * Layout of struct qxl_surface_cmd after its release info (packed, as spice's QXLSurfaceCmd):
 * surface_id u32, type u8, flags u32, then QXLSurfaceCreate: width u32, height u32, stride s32,
 * format u32, position u8, mouse_mode u8, flags u32, type u32, mem u64.
 */
export const QXL_SURFACE_CMD = {
  surfaceId: 16,
  type: 20,
  flags: 21,
  width: 25,
  height: 29,
  stride: 33,
  format: 37,
  mem: 51,
  size: 59,
} as const;

/** The drawing operations of this model's drawable (`QxlSimDraw`). */
export const QXL_DRAW_FILL = 1;
export const QXL_DRAW_COPY = 2;
export const QXL_DRAW_CHECKSUM = 3;

/**
 * Layout of this model's drawable (the command bytes userspace passes to EXECBUFFER, after the
 * release info the kernel prepends): op u32, value u32 (fill byte), size u32, surface_id u32
 * (QXL_RELOC_TYPE_SURF target: when non-zero `dst` is an offset in that surface), dst u64,
 * src u64 (QXL_RELOC_TYPE_BO targets: physical addresses; for checksum `dst` receives the
 * CRC-32, 4 bytes).
 */
export const QXL_SIM_DRAW = { op: 0, value: 4, size: 8, surfaceId: 12, dst: 16, src: 24 } as const;
/** sizeof the drawable's user part. */
export const QXL_SIM_DRAW_SIZE = 32;

/** Models struct qxl_rect. */
export interface QxlRect {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

/** Models struct qxl_ring_header plus the ring's items (device RAM shared with the driver). */
export class QxlRingHeader<T> {
  prod = 0;
  cons = 0;
  notifyOnProd = 1;
  notifyOnCons = 0;
  readonly items: (T | null)[];
  constructor(readonly numItems: number) {
    this.items = new Array<T | null>(numItems).fill(null);
  }
}

/** Models struct qxl_command: a ring entry. */
export interface QxlCommandEntry {
  /** QXL_CMD_*. */
  readonly type: number;
  /** QXLPHYSICAL of the command. */
  readonly data: number;
}

/** Models struct qxl_rom (the fields the driver reads). */
export interface QxlRom {
  /** Models n_surfaces: hardware surface slots (ids 0 .. n-1; 0 is the primary). */
  readonly nSurfaces: number;
  /** Models client_capabilities[58]. */
  readonly clientCapabilities: Uint8Array;
  /** Models mm_clock. */
  mmClock: number;
}

/** Models struct qxl_ram_header (the fields modeled). */
export interface QxlRamHeader {
  intPending: number;
  intMask: number;
  updateArea: QxlRect;
  updateSurface: number;
  /** Models create_surface: the primary surface QXL_IO_CREATE_PRIMARY_ASYNC creates. */
  createSurface: QxlPrimarySurface;
  readonly cmdRing: QxlRingHeader<QxlCommandEntry>;
  readonly releaseRing: QxlRingHeader<number>;
}

/** Models struct qxl_surface_create (the fields of the primary surface). */
export interface QxlPrimarySurface {
  format: number;
  width: number;
  height: number;
  stride: number;
  mem: number;
  flags: number;
  type: number;
}

/** A live hardware surface slot. */
export interface HwSurface {
  readonly id: number;
  /** VRAM offset of its memory. */
  readonly offset: number;
  readonly size: number;
  /** Physical address of the CREATE command, handed back at destroy. */
  readonly createCmd: number;
}

/** What the device hands back when a batch completes. */
interface Pending {
  readonly seqno: number;
  readonly releases: number[];
  readonly ioCmd: boolean;
}

export interface QxlHwOptions {
  /** Names the device (and its GPU's irq task). Default "qxl0". */
  name?: string;
  /** Device memory in pages (the GPU's VRAM): the RAM BAR, then the surface BAR. Default 512. */
  vramPages?: number;
  /**
   * Pages of the surface BAR (the surface memslot), the last ones of the device memory; the RAM
   * BAR (the main memslot) is the rest. Default 0 (no surface BAR).
   */
  surfacePages?: number;
  /** Hardware surface slots (rom->n_surfaces). Default 16. */
  nSurfaces?: number;
  /** PCI revision (CLIENTCAP needs >= 4). Default 5. */
  revision?: number;
  /** Bits of rom->client_capabilities set. Default none. */
  clientCaps?: readonly number[];
  /** The host pool the GPU reaches by DMA. */
  systemMemory?: SystemMemory;
  sim?: Simulation | null;
  /**
   * Runs the device like QEMU's spice worker thread: a task of its own ("spice/<name>", a daemon)
   * that a doorbell wakes, which consumes the command ring and executes the work on the GPU's
   * private clock (SimGpu `clock: "device"`) at its own scheduling points. Commands then complete
   * and come back on the release ring concurrently with the CPUs, at any point the scheduler
   * picks, instead of only when no task can run. Default false (the GPU on the simulation's
   * clock). Needs a running simulation.
   */
  spiceWorker?: boolean;
  /**
   * Entries of the command ring. Default (and QEMU's, fixed) QXL_COMMAND_RING_SIZE = 32. A
   * smaller ring (a power of two, as the driver's index mask needs) is for tests that need the
   * ring full with few submitters: a test device, not a QEMU setting.
   */
  cmdRingSize?: number;
}

/** The device's interrupt handler (the driver's qxl_irq_handler). */
export type QxlIrqHandler = () => Promise<void>;

/**
 * The QXL device model. All methods are synchronous register or memory accesses (no scheduling
 * point): the driver serialises them and places its own points.
 */
/** The device's handler of its GPU's interrupts, bound to the device (see the constructor). */
function qxlHwInterrupt(this: QxlHw, st: InterruptStatus): Promise<void> {
  return this.gpuInterrupt(st.seqno, st.faults.length);
}

export class QxlHw {
  readonly name: string;
  readonly gpu: SimGpu;
  readonly rom: QxlRom;
  readonly ram: QxlRamHeader;
  readonly revision: number;
  /** The surface BAR: its first page in the GPU's VRAM, and its size in pages. */
  readonly surfaceBase: number;
  readonly surfacePages: number;
  /** Hardware surface slots, indexed by id. */
  readonly surfaces: (HwSurface | null)[];
  /** QEMU's "guest bug" log: malformed commands the device refused. */
  readonly guestBugs: string[] = [];
  /** The primary surface the guest created (QEMU's QXL_MODE_NATIVE), or null (undefined mode). */
  primary: QxlPrimarySurface | null = null;
  /** Commands consumed (the device's view). */
  commandsConsumed = 0;
  /** Releases handed back. */
  releasesPushed = 0;
  private handler: QxlIrqHandler | null = null;
  /** Interrupt handlers running (free_irq() waits for them: synchronize_irq()). */
  private inIrq = 0;
  private irqIdle: WaitQueue | null = null;
  private readonly pending: Pending[] = [];
  /** Physical address of the release last handed back, for chaining (qxl->last_release). */
  private lastRelease = 0;
  private consuming = false;
  private readonly dmaWindows = new Map<number, HostPage[]>();
  private dmaNext = 0;
  /** The spice worker's doorbell (spiceWorker mode), or null. */
  private readonly worker: WaitQueue | null = null;

  constructor(opts: QxlHwOptions = {}) {
    this.name = opts.name ?? "qxl0";
    const ringSize = opts.cmdRingSize ?? QXL_COMMAND_RING_SIZE;
    if (!Number.isInteger(ringSize) || ringSize < 1 || (ringSize & (ringSize - 1)) !== 0)
      throw new Error(`${this.name}: cmdRingSize ${ringSize} is not a power of two`);
    this.gpu = new SimGpu({
      name: this.name,
      vramPages: opts.vramPages ?? 512,
      systemMemory: opts.systemMemory,
      sim: opts.sim,
      ringSize: 64,
      clock: opts.spiceWorker ? "device" : "simulation",
    });
    if (opts.spiceWorker) {
      const sim = this.gpu.sim;
      if (!sim) throw new Error(`${this.name}: spiceWorker needs a running simulation`);
      this.worker = new WaitQueue(`spice/${this.name} doorbell`);
      sim.spawn(`spice/${this.name}`, () => this.spiceWorkerMain(), { daemon: true });
    }
    const n = opts.nSurfaces ?? 16;
    const caps = new Uint8Array(58);
    for (const bit of opts.clientCaps ?? []) caps[bit >> 3]! |= 1 << (bit & 7);
    this.rom = { nSurfaces: n, clientCapabilities: caps, mmClock: 0 };
    this.ram = {
      intPending: 0,
      intMask: 0,
      updateArea: { top: 0, left: 0, bottom: 0, right: 0 },
      updateSurface: 0,
      createSurface: { format: 0, width: 0, height: 0, stride: 0, mem: 0, flags: 0, type: 0 },
      cmdRing: new QxlRingHeader<QxlCommandEntry>(ringSize),
      releaseRing: new QxlRingHeader<number>(QXL_RELEASE_RING_SIZE),
    };
    this.revision = opts.revision ?? 5;
    const vramPages = opts.vramPages ?? 512;
    const surfacePages = opts.surfacePages ?? 0;
    if (!Number.isInteger(surfacePages) || surfacePages < 0 || surfacePages > vramPages)
      throw new Error(`${this.name}: surfacePages ${surfacePages} outside ${vramPages} pages`);
    this.surfacePages = surfacePages;
    this.surfaceBase = vramPages - surfacePages;
    this.surfaces = new Array<HwSurface | null>(n).fill(null);
    // A bound module-level function, not a closure per device (V8 keeps its optimized code).
    this.gpu.onInterrupt(qxlHwInterrupt.bind(this));
  }

  /** Live hardware surfaces. */
  get liveSurfaces(): number {
    return this.surfaces.filter((s) => s !== null).length;
  }

  /**
   * Models request_irq() of the device's line: the driver's handler runs in the irq task; null
   * models free_irq() up to its synchronize_irq() (see synchronizeIrq()).
   */
  onInterrupt(handler: QxlIrqHandler | null): void {
    this.handler = handler;
  }

  /**
   * Models synchronize_irq() (the end of free_irq()): waits until no handler runs. A handler that
   * started before onInterrupt(null) finishes first; none starts after it.
   */
  async synchronizeIrq(): Promise<void> {
    while (this.inIrq > 0) {
      this.irqIdle ??= new WaitQueue(`irq/${this.name} idle`);
      await this.irqIdle.wait(`synchronize_irq(${this.name})`);
    }
  }

  /** A physical address (QXLPHYSICAL) in memslot `slot` at offset `offset` of its BAR. */
  static physical(slot: number, offset: number): number {
    return slot * 2 ** QXL_SLOT_SHIFT + offset;
  }

  /** The VRAM offset a physical address names, or null if it is not in the VRAM memslots. */
  translate(phys: number, size: number): number | null {
    const slot = Math.floor(phys / 2 ** QXL_SLOT_SHIFT);
    const off = phys - slot * 2 ** QXL_SLOT_SHIFT;
    if (slot === QXL_MAIN_SLOT) {
      if (off < 0 || off + size > this.surfaceBase * PAGE_SIZE) return null;
      return off;
    }
    if (slot !== QXL_SURFACES_SLOT) return null;
    if (off < 0 || off + size > this.surfacePages * PAGE_SIZE) return null;
    return this.surfaceBase * PAGE_SIZE + off;
  }

  /** The engine address a physical address names (VRAM or a DMA window), or null. */
  translateAddr(phys: number, size: number): GpuAddress | null {
    const v = this.translate(phys, size);
    if (v !== null) return vramAddress(v);
    const slot = Math.floor(phys / 2 ** QXL_SLOT_SHIFT);
    if (slot !== QXL_DMA_SLOT) return null;
    const off = phys - slot * 2 ** QXL_SLOT_SHIFT;
    const index = Math.floor(off / 2 ** 32);
    const at = off - index * 2 ** 32;
    const pages = this.dmaWindows.get(index);
    if (!pages || at + size > pages.length * PAGE_SIZE) return null;
    return systemAddress(pages, at);
  }

  /**
   * Maps host pages (a foreign buffer's) into the device's DMA memslot; returns the window's
   * index. The device sees the pages themselves (writes land in the exporter's memory).
   */
  dmaMap(bytes: readonly Uint8Array[]): number {
    const index = ++this.dmaNext;
    this.dmaWindows.set(
      index,
      bytes.map((b) => new HostPage(this.gpu.system, 0x4000_0000 + index * 0x1000, b)),
    );
    return index;
  }

  /** Unmaps a DMA window: commands still naming it fault ("freed"). */
  dmaUnmap(index: number): void {
    const pages = this.dmaWindows.get(index);
    if (!pages) return;
    for (const p of pages) p.generation++;
    this.dmaWindows.delete(index);
  }

  /**
   * The CPU's (or the device's) view of `len` bytes of device memory (the BARs) at VRAM offset
   * `off`: live when they lie in one page, else a copy (reads only).
   */
  private bytesAt(off: number, len: number): DataView {
    const vram = this.gpu.vram;
    if ((off % PAGE_SIZE) + len <= PAGE_SIZE) return vram.view(off, len);
    return new DataView(vram.read(off, len).buffer);
  }

  /**
   * The spice worker thread (spiceWorker mode): sleeps until a doorbell, then consumes the
   * command ring and runs the GPU until idle, each at a scheduling point of its own; the
   * completions raise the GPU's interrupt (handled in an irq task), which hands the releases
   * back.
   */
  private async spiceWorkerMain(): Promise<void> {
    for (;;) {
      // The labels are built once per device name (fmtLabel()), not at every command.
      while (!this.workPending()) await this.worker!.wait(fmtLabel("spice/", this.name, " idle"));
      // Each point skips its await when the worker goes on at once (pointNow()).
      const consume = pointNow(fmtLabel("spice/", this.name, ": consume the command ring"));
      if (consume !== null) await consume;
      this.consume();
      const execute = pointNow(fmtLabel("spice/", this.name, ": execute"));
      if (execute !== null) await execute;
      this.gpu.runUntilIdle();
    }
  }

  private workPending(): boolean {
    const ring = this.ram.cmdRing;
    return (ring.cons !== ring.prod && this.gpu.ring.space >= 2) || this.gpu.busy;
  }

  /** Models outb(val, io_base + port). */
  outb(port: number, _val = 0): void {
    if (this.worker) {
      // The doorbell wakes the worker thread; an io command is queued for it now.
      if (
        port === QXL_IO_UPDATE_AREA_ASYNC ||
        port === QXL_IO_FLUSH_SURFACES_ASYNC ||
        port === QXL_IO_CREATE_PRIMARY_ASYNC ||
        port === QXL_IO_DESTROY_PRIMARY_ASYNC
      ) {
        this.ioCmd(port);
      } else if (
        port !== QXL_IO_NOTIFY_CMD &&
        port !== QXL_IO_NOTIFY_OOM &&
        port !== QXL_IO_FLUSH_RELEASE
      ) {
        this.guestBug(`unsupported io port ${port}`);
      }
      this.worker.wakeOne();
      return;
    }
    switch (port) {
      case QXL_IO_NOTIFY_CMD:
        this.consume();
        break;
      case QXL_IO_UPDATE_AREA_ASYNC:
      case QXL_IO_FLUSH_SURFACES_ASYNC:
      case QXL_IO_CREATE_PRIMARY_ASYNC:
      case QXL_IO_DESTROY_PRIMARY_ASYNC:
        this.ioCmd(port);
        break;
      case QXL_IO_NOTIFY_OOM:
      case QXL_IO_FLUSH_RELEASE:
        // Spice flushes its pending releases; this device hands releases back as they complete.
        break;
      default:
        this.guestBug(`unsupported io port ${port}`);
    }
  }

  private guestBug(msg: string): void {
    this.guestBugs.push(msg);
  }

  private u32(phys: number, at: number): number {
    const off = this.translate(phys + at, 4);
    if (off === null) return 0;
    return this.bytesAt(off, 4).getUint32(0, true);
  }

  private u64(phys: number, at: number): number {
    const off = this.translate(phys + at, 8);
    if (off === null) return 0;
    return getLe64(this.bytesAt(off, 8), 0);
  }

  private setU64(phys: number, at: number, v: number): void {
    const off = this.translate(phys + at, 8);
    if (off === null) return;
    const b = new Uint8Array(8);
    putUnalignedLe64(v, b, 0);
    this.gpu.vram.write(off, b);
  }

  /**
   * Consumes command ring entries while the engine has room: each becomes one GPU batch, handed
   * back (released) when the batch completes.
   */
  private consume(): void {
    if (this.consuming) return;
    this.consuming = true;
    try {
      const ring = this.ram.cmdRing;
      while (ring.cons !== ring.prod && this.gpu.ring.space >= 2) {
        // SPICE_RING_CONS_ITEM: the slot `cons & mask`, whatever it holds now. The device does
        // not compare prod - cons with the ring's size: after the driver pushed one entry too
        // many (known window qxl.ring-push-no-recheck) the overwritten command is never read
        // and the slot's new one is read again at cons + num_items.
        const entry = ring.items[ring.cons & (ring.numItems - 1)] ?? null;
        ring.cons++;
        this.commandsConsumed++;
        if (entry === null) {
          this.guestBug(`command ring slot ${(ring.cons - 1) & (ring.numItems - 1)} never written`);
          continue;
        }
        this.execute(entry);
      }
      // SPICE_RING_CONS_WAIT: ask for a doorbell when the driver produces the next entry.
      if (ring.cons === ring.prod) ring.notifyOnProd = ring.cons + 1;
      if (ring.cons === ring.notifyOnCons) this.raise(QXL_INTERRUPT_DISPLAY);
    } finally {
      this.consuming = false;
    }
    // Work queued from the interrupt path or an io command: the worker thread must run it.
    if (this.worker && this.gpu.busy) this.worker.wakeOne();
  }

  private execute(entry: QxlCommandEntry): void {
    const data = entry.data;
    if (this.translate(data, QXL_RELEASE_INFO_SIZE) === null) {
      this.guestBug(`command at 0x${data.toString(16)} outside the memslots`);
      return;
    }
    const releases: number[] = [];
    const work: Command[] = [];
    switch (entry.type) {
      case QXL_CMD_SURFACE:
        this.surfaceCommand(data, releases);
        break;
      case QXL_CMD_DRAW:
        this.drawCommand(data, work);
        releases.push(data);
        break;
      default:
        this.guestBug(`unsupported command type ${entry.type}`);
        releases.push(data);
    }
    const seqno = this.gpu.submit(work);
    if (seqno < 0) {
      this.guestBug(`engine refused a batch (${seqno})`);
      for (const r of releases) this.pushRelease(r);
      return;
    }
    this.pending.push({ seqno, releases, ioCmd: false });
  }

  private surfaceCommand(data: number, releases: number[]): void {
    const id = this.u32(data, QXL_SURFACE_CMD.surfaceId);
    const off = this.translate(data + QXL_SURFACE_CMD.type, 1);
    const type = off === null ? -1 : this.bytesAt(off, 1).getUint8(0);
    if (id >= this.rom.nSurfaces) {
      this.guestBug(`surface id ${id} >= n_surfaces ${this.rom.nSurfaces}`);
      releases.push(data);
      return;
    }
    if (type === QXL_SURFACE_CMD_CREATE) {
      if (this.surfaces[id]) {
        this.guestBug(`surface ${id} created while live`);
        releases.push(data);
        return;
      }
      const height = this.u32(data, QXL_SURFACE_CMD.height);
      const stride = this.u32(data, QXL_SURFACE_CMD.stride) | 0;
      const size = Math.abs(stride) * height;
      const mem = this.translate(this.u64(data, QXL_SURFACE_CMD.mem), size);
      if (mem === null) {
        this.guestBug(`surface ${id} memory outside the memslots`);
        releases.push(data);
        return;
      }
      // Kept by the device until the surface is destroyed: no release now.
      this.surfaces[id] = { id, offset: mem, size, createCmd: data };
      return;
    }
    if (type === QXL_SURFACE_CMD_DESTROY) {
      const s = this.surfaces[id];
      releases.push(data);
      if (!s) {
        this.guestBug(`surface ${id} destroyed while not live`);
        return;
      }
      this.surfaces[id] = null;
      releases.push(s.createCmd);
      return;
    }
    this.guestBug(`unknown surface command ${type}`);
    releases.push(data);
  }

  private drawCommand(data: number, work: Command[]): void {
    const op = this.u32(data, QXL_RELEASE_INFO_SIZE + QXL_SIM_DRAW.op);
    const value = this.u32(data, QXL_RELEASE_INFO_SIZE + QXL_SIM_DRAW.value);
    const size = this.u32(data, QXL_RELEASE_INFO_SIZE + QXL_SIM_DRAW.size);
    const surfaceId = this.u32(data, QXL_RELEASE_INFO_SIZE + QXL_SIM_DRAW.surfaceId);
    const dstRaw = this.u64(data, QXL_RELEASE_INFO_SIZE + QXL_SIM_DRAW.dst);
    const srcRaw = this.u64(data, QXL_RELEASE_INFO_SIZE + QXL_SIM_DRAW.src);
    const dstSize = op === QXL_DRAW_CHECKSUM ? 4 : size;
    let dst: GpuAddress | null;
    if (surfaceId !== 0) {
      const s = surfaceId < this.rom.nSurfaces ? this.surfaces[surfaceId] : null;
      if (!s) {
        this.guestBug(`draw to surface ${surfaceId}, which is not live`);
        return;
      }
      dst = dstRaw + dstSize <= s.size ? vramAddress(s.offset + dstRaw) : null;
    } else {
      dst = this.translateAddr(dstRaw, dstSize);
    }
    if (dst === null) {
      this.guestBug(`draw destination 0x${dstRaw.toString(16)} out of range`);
      return;
    }
    switch (op) {
      case QXL_DRAW_FILL:
        work.push({ op: "fill", dst, size, value: value & 0xff });
        return;
      case QXL_DRAW_COPY:
      case QXL_DRAW_CHECKSUM: {
        const src = this.translateAddr(srcRaw, size);
        if (src === null) {
          this.guestBug(`draw source 0x${srcRaw.toString(16)} out of range`);
          return;
        }
        if (op === QXL_DRAW_COPY) work.push({ op: "copy", src, dst, size });
        else work.push({ op: "checksum", src, size, result: dst });
        return;
      }
      default:
        this.guestBug(`unknown draw op ${op}`);
    }
  }

  /**
   * QEMU's qxl_create_guest_primary(): the surface described in create_surface becomes the
   * primary; creating one while one exists, or one whose memory is not in a memslot, is a guest
   * bug.
   */
  private createPrimary(): void {
    const c = this.ram.createSurface;
    if (this.primary) {
      this.guestBug("create primary: nop since already in QXL_MODE_NATIVE");
      return;
    }
    if (c.type !== QXL_SURF_TYPE_PRIMARY) this.guestBug(`create primary: type ${c.type}`);
    if (this.translateAddr(c.mem, c.stride * c.height) === null)
      this.guestBug(`create primary: memory 0x${c.mem.toString(16)} out of range`);
    this.primary = { ...c };
  }

  /** An *_ASYNC I/O command: completes once everything submitted so far has. */
  private ioCmd(port: number): void {
    if (port === QXL_IO_UPDATE_AREA_ASYNC && this.ram.updateSurface >= this.rom.nSurfaces)
      this.guestBug(`update area of surface ${this.ram.updateSurface} >= n_surfaces`);
    if (port === QXL_IO_CREATE_PRIMARY_ASYNC) this.createPrimary();
    if (port === QXL_IO_DESTROY_PRIMARY_ASYNC) this.primary = null;
    this.consume();
    const seqno = this.gpu.submit([]);
    if (seqno < 0) {
      this.guestBug(`engine refused an io command (${seqno})`);
      this.raise(QXL_INTERRUPT_IO_CMD);
      return;
    }
    this.pending.push({ seqno, releases: [], ioCmd: true });
  }

  /**
   * Models interface_release_resource(): hands a command back through the release ring, or
   * chains it after the last one handed back when the ring is full.
   */
  private pushRelease(data: number): void {
    const id = this.u64(data, 0);
    const ring = this.ram.releaseRing;
    this.setU64(data, 8, 0);
    if (ring.prod - ring.cons < ring.numItems) {
      ring.items[ring.prod % ring.numItems] = id;
      ring.prod++;
    } else {
      this.setU64(this.lastRelease, 8, id);
    }
    this.lastRelease = data;
    this.releasesPushed++;
  }

  /** The GPU's interrupt: batches up to `seqno` completed. Runs in the GPU's irq task. */
  /** @internal */
  async gpuInterrupt(seqno: number, faults: number): Promise<void> {
    if (faults > 0) this.guestBug(`${faults} GPU fault(s) executing qxl commands`);
    let bits = 0;
    while (this.pending.length > 0 && this.pending[0]!.seqno <= seqno) {
      const p = this.pending.shift()!;
      for (const r of p.releases) this.pushRelease(r);
      if (p.releases.length > 0) bits |= QXL_INTERRUPT_DISPLAY;
      if (p.ioCmd) bits |= QXL_INTERRUPT_IO_CMD;
    }
    this.raise(bits);
    this.consume();
    const handler = this.handler;
    if (!handler || !(this.ram.intPending & this.ram.intMask)) return;
    this.inIrq++;
    try {
      await handler();
    } finally {
      if (--this.inIrq === 0) this.irqIdle?.wakeAll();
    }
  }

  private raise(bits: number): void {
    this.ram.intPending |= bits;
  }
}
