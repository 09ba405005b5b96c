/**
 * fence-wait: an exporter process on the first driver shares a buffer with 1-2 importer processes
 * on the second driver and puts its GPU job on it; the importers wait for the job's fence while
 * GPU faults are injected (drawn from the seed). The job is the exporter driver's own where the
 * driver has GPU fences, a sw_sync point where it has none:
 *
 * - vmwgfx: the job is a DRM_VMW_EXECBUF filling the shared buffer, with a drm_vmw_fence_rep and
 *   DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD (vmw_execbuf_process(): a user fence object, its handle
 *   in the fence_rep, the job's fence as a sync_file fd, the buffer fenced with it, WRITE usage).
 *   The exporter passes the sync_file to the importers besides the dma-buf (SCM_RIGHTS), waits
 *   with DRM_VMW_FENCE_WAIT on its handle and drops the handle (drawn: FENCE_UNREF, FENCE_WAIT's
 *   DRM_VMW_WAIT_OPTION_UNREF, or the file's close). A fault is the SVGA device's, and vmwgfx
 *   (Linux 6.12.19) has no hangcheck and never resets the device, so no fence gets an error
 *   (drawn, injected into @primetime/simgpu before the EXECBUF):
 *   - a command error: the device refuses the job's fill (`injectCommandError()`: it writes
 *     nothing, the device stops); the command-buffer manager restarts the buffer past it
 *     (vmw_cmdbuf_work_func()), the job's fence is written and signals without an error: every
 *     waiter wakes, the sync_files read signalled (1), the buffer holds what it held before (zeros);
 *   - a stall: the device makes no progress for STALL_NS (`injectHang({ forNs })`), then goes on;
 *     the exporter's first FENCE_WAIT, with a timeout shorter than the stall, gets -EBUSY
 *     (vmw_fence_obj_wait()) and keeps its handle even with DRM_VMW_WAIT_OPTION_UNREF; its second
 *     waits for the job, which completes: signalled (1), the buffer holds the fill; an importer
 *     polling a sync_file polls it first for SHORT_POLL_NS, which times out (0).
 *   The exporter's own wait is drawn: FENCE_WAIT, or a DRM event (DRM_VMW_FENCE_EVENT on its
 *   handle, with a fence_rep and, drawn, DRM_VMW_FE_FLAG_REQ_TIME: vmw_fence_event_ioctl()
 *   answers with the same fence's handle and seqno and fd -1), which it waits for by poll(2) of
 *   its DRM fd and reads with read(2) through libdrm (drmReadEvents(): one event of type
 *   DRM_VMW_EVENT_FENCE_SIGNALED carrying its user_data, stamped with the time the fence
 *   signalled if asked, zeros if not); or, drawn, the exporter closes its DRM fd, or exits, right
 *   after asking, so the file's drm_events_release() races the fence action's seq_passed (the
 *   event sent to a file that is gone is freed) and its cleanup (vmw_fence_work_func()); the
 *   exporter that closed goes on waiting on its sync_file.
 * - qxl: the job is a QXL_DRAW_FILL through DRM_IOCTL_QXL_EXECBUFFER (gpu-paths.ts); its release's
 *   fence is in the buffer's reservation with READ usage (qxl_release_fence_buffer_objects()), so
 *   importers wait for every fence (poll POLLOUT, an exported sync_file of DMA_BUF_SYNC_WRITE).
 *   The qxl device has no reset (Linux 6.12.19's qxl has no hang recovery): a hang there is the
 *   second kind, below, on top of the draw.
 * - others (vgem): the job is a sw_sync point imported into the dma-buf as a write fence
 *   (DMA_BUF_IOCTL_IMPORT_SYNC_FILE); a hang is the exporter process dying with the job
 *   unfinished: its sw_sync timeline's release signals the fence with -ENOENT, as a reset would.
 *
 * Importers wait (drawn per importer) by poll on the dma-buf, by exporting a sync_file from it
 * and polling that, and with a vmwgfx exporter also by polling the passed sync_file or (a vmwgfx
 * importer) by an EXECBUF with DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD of it.
 *
 * What must hold: every waiter wakes (no lost wakeup: its poll is ready, or its EXECBUF returns,
 * before its virtual timeout); a hung job's fence (the dying exporter's sw_sync point) carries an
 * error where userspace sees it (SYNC_IOC_FILE_INFO of a sync_file holding it); a completed job's
 * sync_file reads signalled, a vmwgfx job's after a device fault too; the buffer is readable
 * through the dma-buf afterwards, holding the job's fill when it ran (zeros when the device
 * refused it); and everything is freed, fences and callbacks included, once every process has
 * exited (the machine's leak checks).
 */
import type { DeviceUnderTest } from "@primetime/conformance";
import {
  EBUSY,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
  type Process,
} from "@primetime/kernel";
import {
  checkRet,
  close,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_WRITE,
  type DrmFd,
  dmaBufExportSyncFile,
  dmaBufImportSyncFile,
  drmReadEvents,
  isSysError,
  Mapping,
  poll,
  readDmaBuf,
  recvFd,
  sendFd,
  swSyncCreateFence,
  swSyncCreateTimeline,
  swSyncInc,
  syncFileInfo,
} from "@primetime/libdrm";
import { choose, now } from "@primetime/sim";
import {
  DRM_IOCTL_VMW_ALLOC_BO,
  DRM_IOCTL_VMW_EXECBUF,
  DRM_IOCTL_VMW_FENCE_EVENT,
  DRM_IOCTL_VMW_FENCE_SIGNALED,
  DRM_IOCTL_VMW_FENCE_UNREF,
  DRM_IOCTL_VMW_FENCE_WAIT,
  DRM_VMW_EVENT_FENCE_SIGNALED,
  DRM_VMW_EVENT_FENCE_SIZE,
  DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD,
  DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD,
  DRM_VMW_EXECBUF_VERSION,
  DRM_VMW_FE_FLAG_REQ_TIME,
  DRM_VMW_FENCE_REP_SIZE,
  DRM_VMW_WAIT_OPTION_UNREF,
  type DrmVmwExecbufArg,
  decodeDrmVmwEventFence,
  decodeDrmVmwFenceRep,
  encodeDrmVmwFenceRep,
  vmwPriv,
} from "@primetime/vmwgfx";
import type { CampaignScenario } from "../../campaign/campaign-scenario.js";
import { gpuPathOf } from "./gpu-paths.js";
import { bootMachine, check, type Machine, openDevice, size } from "./machine.js";

const PAGE = 4096;
/** POLLIN (include/uapi/asm-generic/poll.h): a sync_file signalled; a dma-buf's write fences. */
const POLLIN = 0x001;
/** POLLOUT: on a dma-buf, every fence of its reservation has signalled. */
const POLLOUT = 0x004;
/** How long a waiter waits, in virtual ns: far beyond any work of the scenario. */
const WAIT_NS = 5_000_000_000;
/**
 * How long an importer's first poll of a sync_file lasts on a stalled vmwgfx device, in virtual
 * ns: it starts before 1 ms has passed since the stall began (the exporter's first FENCE_WAIT is
 * the only timed sleep before it), so it ends long before the stall.
 */
const SHORT_POLL_NS = 100_000;
/** How long a stalled vmwgfx device makes no progress, in virtual ns. */
const STALL_NS = 10_000_000;
/** The timeout of the vmwgfx exporter's first FENCE_WAIT on a stalled device: shorter than the stall. */
const SHORT_WAIT_US = 1000;

/** How an importer waits for the job (drawn per importer). */
const WAIT_DMABUF = 0; // poll on the dma-buf (implicit sync)
const WAIT_EXPORTED = 1; // DMA_BUF_IOCTL_EXPORT_SYNC_FILE, then poll on that sync_file
const WAIT_PASSED = 2; // poll on the sync_file the exporter passed (vmwgfx exporter)
const WAIT_EXECBUF = 3; // EXECBUF with IMPORT_FENCE_FD of the passed sync_file (vmwgfx on both sides)
const WAYS = ["dma-buf poll", "exported sync_file", "passed sync_file", "IMPORT_FENCE_FD"];

/**
 * How the vmwgfx exporter drops its fence handle (drawn): FENCE_UNREF after the wait,
 * FENCE_WAIT's DRM_VMW_WAIT_OPTION_UNREF, or nothing (the file's close releases it).
 */
const DROP_UNREF = 0;
const DROP_WAIT_OPTION = 1;

/**
 * How the vmwgfx exporter that asked for a DRM event ends it (drawn): it reads the event after
 * polling its DRM fd, it closes the DRM fd right after asking, or it exits right after asking.
 */
const EVENT_READ = 0;
const EVENT_CLOSE = 1;
const EVENT_EXIT = 2;
const EVENT_ENDS = ["read", "close", "exit"];
/**
 * The user_data of the exporter's fence event: a tag and the run's fill byte, 53 bits (the model's
 * drm_ioctl() copies a u64 field exactly up to Number.MAX_SAFE_INTEGER: @primetime/uapi's drm.ts).
 */
const EVENT_USER_DATA_TAG = 0x1f_e0ce_0000_0000n;

/** Whose GPU job the exporter runs (see the file comment). */
type JobKind = "vmwgfx" | "qxl" | "sw_sync";

/** The SVGA device's fault under a vmwgfx job (drawn; see the file comment). */
type VmwFault = "error" | "stall";
const VMW_FAULTS: readonly VmwFault[] = ["error", "stall"];

/** The job kind of an exporter on `dev`. */
function jobKindOf(dev: DeviceUnderTest): JobKind {
  const name = dev.driver.name;
  return name === "vmwgfx" || name === "qxl" ? name : "sw_sync";
}

/** What a fence-wait run drew and booted: the state its processes share. */
interface FenceWaitRun {
  readonly m: Machine;
  readonly devA: DeviceUnderTest;
  readonly devB: DeviceUnderTest;
  readonly job: JobKind;
  /** A fault is injected: the vmwgfx device's (`fault`), or the exporter dying (other jobs). */
  readonly hang: boolean;
  /** The vmwgfx device's fault when `hang` (null otherwise, and for other jobs). */
  readonly fault: VmwFault | null;
  /** How importer i waits (WAIT_*). */
  readonly how: readonly number[];
  /** The shared buffer's size (a GPU job's: 1-4 pages, drawn; a sw_sync job's: a page). */
  readonly len: number;
  /** The byte the GPU job fills the buffer with (drawn). */
  readonly value: number;
  /** How the vmwgfx exporter drops its fence handle (DROP_*, or 2: the file's close). */
  readonly drop: number;
  /** The vmwgfx exporter waits with a DRM event (DRM_VMW_FENCE_EVENT) instead of FENCE_WAIT. */
  readonly event: boolean;
  /** How the exporter ends its event (EVENT_*; EVENT_READ when it has none). */
  readonly eventEnd: number;
  /** The exporter's event asks for DRM_VMW_FE_FLAG_REQ_TIME. */
  readonly reqTime: boolean;
  readonly importers: Process[];
}

/**
 * What the runs of this process saw, for the tests (as cross-share's gpuStats): the waits that
 * completed their checks, by `<job>[/hang|/error|/stall]:<way>` ("exporter" for the vmwgfx
 * exporter's own wait); the statuses of faulted jobs' fences userspace read, by
 * `<job>[/error|/stall]:<status>`; contents checked after a GPU job, by job (and fault); how the
 * vmwgfx exporter dropped its fence handle; its FENCE_WAITs that timed out with -EBUSY and the
 * importers' polls that timed out, on a stalled device; the exporter's DRM events, by
 * `<job key>:<end>[ REQ_TIME]` (the read ones counted once their checks passed).
 */
export const fenceWaitStats: {
  waits: Record<string, number>;
  hungStatus: Record<string, number>;
  contents: Record<string, number>;
  drops: Record<string, number>;
  busy: Record<string, number>;
  events: Record<string, number>;
} = { waits: {}, hungStatus: {}, contents: {}, drops: {}, busy: {}, events: {} };

/** Adds one to `rec[key]`. */
function bump(rec: Record<string, number>, key: string): void {
  rec[key] = (rec[key] ?? 0) + 1;
}

/** The run's job and fault as the stats name them: `<job>`, `<job>/hang`, `vmwgfx/<fault>`. */
function jobKey(r: FenceWaitRun): string {
  return r.hang ? `${r.job}/${r.fault ?? "hang"}` : r.job;
}

/** Counts a wait that passed its checks (see fenceWaitStats). */
function countWait(r: FenceWaitRun, way: string): void {
  bump(fenceWaitStats.waits, `${jobKey(r)}:${way}`);
}

// ------------------------------------------------------------------------- vmwgfx userspace

/** DRM_VMW_ALLOC_BO of `len` bytes: the handle (what vmwgfx's userspace allocates with). */
async function vmwAllocBo(fd: DrmFd, len: number): Promise<number> {
  const arg = {
    size: len,
    pad64: 0,
    map_handle: 0,
    handle: 0,
    cur_gmr_id: 0,
    cur_gmr_offset: 0,
    rep_pad64: 0,
  };
  await fd.ioctl(DRM_IOCTL_VMW_ALLOC_BO, arg, "VMW_ALLOC_BO");
  return arg.handle;
}

/** DRM_VMW_EXECBUF of `commands` (version 2) with a fence_rep address, flags, an in-fence fd. */
async function vmwExecbuf(
  fd: DrmFd,
  commands: string,
  fenceRep: number,
  flags: number,
  importedFenceFd: number,
): Promise<void> {
  const arg: DrmVmwExecbufArg = {
    commands,
    version: DRM_VMW_EXECBUF_VERSION,
    flags,
    fence_seqno: 0,
    fence_rep: fenceRep,
    context_handle: 0,
    imported_fence_fd: importedFenceFd,
  };
  await fd.ioctl(DRM_IOCTL_VMW_EXECBUF, arg, "VMW_EXECBUF");
}

/**
 * A page of anonymous memory for the kernel's struct drm_vmw_fence_rep, preset as Mesa's
 * vmwgfx winsys does (`error` = -EFAULT, `fd` = -1: a copy that never happened shows).
 */
async function fenceRepPage(p: Process): Promise<Mapping> {
  const addr = checkRet(
    await p.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
    "mmap",
  );
  const page = new Mapping(p, addr, PAGE);
  const preset = { handle: 0, mask: 0, seqno: 0, passed_seqno: 0, fd: -1, error: -14 };
  await page.write(encodeDrmVmwFenceRep(preset));
  return page;
}

/**
 * DRM_VMW_FENCE_WAIT of `handle` for up to `timeoutUs` (default WAIT_NS), with
 * DRM_VMW_WAIT_OPTION_UNREF if `unref`; a fresh call (cookie_valid 0: a new deadline).
 */
async function vmwFenceWait(
  fd: DrmFd,
  handle: number,
  unref: boolean,
  timeoutUs = WAIT_NS / 1000,
): Promise<void> {
  const arg = {
    handle,
    cookie_valid: 0,
    kernel_cookie: 0,
    timeout_us: timeoutUs,
    lazy: 0,
    flags: 1, // DRM_VMW_FENCE_FLAG_EXEC
    wait_options: unref ? DRM_VMW_WAIT_OPTION_UNREF : 0,
    pad64: 0,
  };
  await fd.ioctl(DRM_IOCTL_VMW_FENCE_WAIT, arg, "VMW_FENCE_WAIT");
}

// -------------------------------------------------------------------------------- waiting

/** poll(2) of one fd for `events` until WAIT_NS; a userspace check fails if it never gets ready. */
async function waitReady(p: Process, fd: number, events: number, what: string): Promise<void> {
  const fds = [{ fd, events, revents: 0 }];
  const ready = await poll(p, fds, WAIT_NS);
  check(
    ready === 1 && (fds[0]!.revents & events) !== 0,
    `${what}: poll gave ${ready} (revents ${fds[0]!.revents}): the fence's completion was lost`,
  );
}

/**
 * poll(2) of a sync_file for SHORT_POLL_NS while the vmwgfx device is stalled: the job's fence
 * has not signalled, so the poll sleeps and times out (0); a userspace check fails otherwise.
 */
async function pollTimesOut(p: Process, fd: number, what: string): Promise<void> {
  const fds = [{ fd, events: POLLIN, revents: 0 }];
  const ready = await poll(p, fds, SHORT_POLL_NS);
  check(ready === 0, `${what}: poll on the stalled device gave ${ready}, not a timeout`);
  bump(fenceWaitStats.busy, "poll");
}

/**
 * Checks the status SYNC_IOC_FILE_INFO reports for the sync_file `syncFd` after its fence
 * signalled. Without a fault, and after a vmwgfx device fault (vmwgfx signals no fence with an
 * error: see the file comment): signalled without error (1). With the exporter dying, a sync_file
 * exported from the dma-buf holds the fences still unsignalled at the export: the dead exporter's
 * sw_sync point (alone, or with a qxl draw's in a dma_fence_array, which takes the first error of
 * its fences), which must carry an error; or only fences that complete (a qxl draw's; a signalled
 * stub when none was left), which must not.
 */
async function checkStatus(
  p: Process,
  r: FenceWaitRun,
  syncFd: number,
  what: string,
): Promise<void> {
  const info = await syncFileInfo(p, syncFd);
  if (r.fault !== null) bump(fenceWaitStats.hungStatus, `${jobKey(r)}:${info.status}`);
  const holdsDeadJob =
    r.hang && r.fault === null && (info.name === "sw_sync" || info.name === "dma_fence_array");
  if (holdsDeadJob) {
    bump(fenceWaitStats.hungStatus, `${r.job}:${info.status}`);
    check(
      info.status < 0,
      `${what}: the hung job's sync_file (${info.name}) has status ${info.status}, no error`,
    );
  } else
    check(info.status === 1, `${what}: the sync_file (${info.name}) has status ${info.status}`);
}

/**
 * Importer `i`: receives the dma-buf (and, from a vmwgfx exporter, the job's sync_file), imports
 * the buffer, waits for the job the way it drew, checks the fence's status where it has a
 * sync_file, then reads the buffer through the dma-buf. Module-level, with the run's state as an
 * argument (see Machine.process).
 */
async function fenceWaitImporter(
  p: Process,
  { r, i }: { readonly r: FenceWaitRun; readonly i: number },
): Promise<void> {
  const { m, devB, how, job } = r;
  const what = `importer${i} (${WAYS[how[i]!]})`;
  const fd = await openDevice(m, p, devB);
  const dmaBuf = await recvFd(p, { cloexec: true });
  const passed = job === "vmwgfx" ? await recvFd(p, { cloexec: true }) : -1;
  const handle = await fd.primeFdToHandle(dmaBuf);
  // qxl fences its buffers with READ usage: a reader of its draw waits for every fence.
  const readUsageJob = job === "qxl";
  switch (how[i]) {
    case WAIT_DMABUF:
      await waitReady(p, dmaBuf, readUsageJob ? POLLOUT : POLLIN, what);
      break;
    case WAIT_EXPORTED: {
      const flags = readUsageJob ? DMA_BUF_SYNC_WRITE : DMA_BUF_SYNC_READ;
      const syncFd = await dmaBufExportSyncFile(p, dmaBuf, flags);
      if (r.fault === "stall") await pollTimesOut(p, syncFd, what);
      await waitReady(p, syncFd, POLLIN, what);
      await checkStatus(p, r, syncFd, what);
      await close(p, syncFd);
      break;
    }
    case WAIT_PASSED:
      if (r.fault === "stall") await pollTimesOut(p, passed, what);
      await waitReady(p, passed, POLLIN, what);
      await checkStatus(p, r, passed, what);
      break;
    case WAIT_EXECBUF: {
      // The importer's own job waits for the exporter's (vmw_execbuf_ioctl(): dma_fence_wait()
      // of the imported fence before the submission): once the ioctl returns, it has signalled.
      const own = await vmwAllocBo(fd, PAGE);
      await vmwExecbuf(fd, `fill ${own} 0`, 0, DRM_VMW_EXECBUF_FLAG_IMPORT_FENCE_FD, passed);
      await checkStatus(p, r, passed, what);
      await fd.gemClose(own);
      break;
    }
  }
  const bytes = await readDmaBuf(p, dmaBuf, 0, r.len);
  check(bytes.length === r.len, `${what}: read ${bytes.length} bytes of ${r.len}`);
  if (job !== "sw_sync" && (!r.hang || r.fault !== null)) {
    // A fill the device refused (a command error) wrote nothing: the new buffer's zeros.
    const want = r.fault === "error" ? 0 : r.value;
    const bad = bytes.findIndex((b) => b !== want);
    check(
      bad < 0,
      `${what}: byte ${bad} is ${bytes[bad]} after the job's fence signalled, not ${want}`,
    );
    bump(fenceWaitStats.contents, jobKey(r));
  }
  countWait(r, WAYS[how[i]!]!);
  if (passed >= 0) await close(p, passed);
  await fd.gemClose(handle);
  await close(p, dmaBuf);
  await fd.close();
}

// ------------------------------------------------------------------------------- exporters

/** The exporter without GPU fences: a sw_sync job; a hang kills the process (see the file comment). */
async function swSyncExporter(p: Process, r: FenceWaitRun): Promise<void> {
  const { m, devA } = r;
  const fd = await openDevice(m, p, devA);
  const handle = await devA.createBo(fd, PAGE);
  const dmaBuf = await fd.primeHandleToFd(handle);
  const timeline = await swSyncCreateTimeline(p);
  const job = await swSyncCreateFence(p, timeline, 1);
  await dmaBufImportSyncFile(p, dmaBuf, job, DMA_BUF_SYNC_WRITE);
  await close(p, job);
  for (const imp of r.importers) await sendFd(p, imp, dmaBuf);
  await close(p, dmaBuf);
  await fd.gemClose(handle);
  // A hung GPU: the job never completes, the process dies; its timeline's release
  // signals the job's fence with an error (the reset path).
  if (r.hang) await p.exit(1);
  await swSyncInc(p, timeline, 1);
  await close(p, timeline);
  await fd.close();
}

/**
 * The qxl exporter: a fill draw of the shared buffer; a hang adds a sw_sync job that never
 * completes and kills the process (qxl has no reset).
 */
async function qxlExporter(p: Process, r: FenceWaitRun): Promise<void> {
  const { m, devA } = r;
  const fd = await openDevice(m, p, devA);
  const client = gpuPathOf(devA)!.client(devA, fd);
  const handle = await devA.createBo(fd, r.len);
  const dmaBuf = await fd.primeHandleToFd(handle);
  await client.fill(handle, r.len, r.value);
  let timeline = -1;
  if (r.hang) {
    timeline = await swSyncCreateTimeline(p);
    const job = await swSyncCreateFence(p, timeline, 1);
    await dmaBufImportSyncFile(p, dmaBuf, job, DMA_BUF_SYNC_WRITE);
    await close(p, job);
  }
  for (const imp of r.importers) await sendFd(p, imp, dmaBuf);
  await close(p, dmaBuf);
  await fd.gemClose(handle);
  if (r.hang) await p.exit(1);
  await client.close();
  await fd.close();
}

/**
 * The vmwgfx exporter: an EXECBUF fill of the shared buffer exporting its fence as a sync_file,
 * passed to the importers with the dma-buf, waited for with FENCE_WAIT; a device fault injected
 * first (a command error, or a stall, whose first FENCE_WAIT times out with -EBUSY: see the file
 * comment).
 */
async function vmwgfxExporter(p: Process, r: FenceWaitRun): Promise<void> {
  const { m, devA } = r;
  const fd = await openDevice(m, p, devA);
  const handle = await vmwAllocBo(fd, r.len);
  const dmaBuf = await fd.primeHandleToFd(handle);
  const gpu = vmwPriv(devA.device).gpu;
  // The harness's clock (virtual time; userspace's CLOCK_MONOTONIC, which the model's processes
  // cannot read): what a REQ_TIME event's stamp is checked against.
  const injected = now();
  // The fault injector: the device refuses the fill, or stops for a while, before the job.
  if (r.fault === "error") gpu.injectCommandError();
  else if (r.fault === "stall") gpu.injectHang({ forNs: STALL_NS });
  const rep = await fenceRepPage(p);
  await vmwExecbuf(
    fd,
    `fill ${handle} ${r.value}`,
    rep.addr,
    DRM_VMW_EXECBUF_FLAG_EXPORT_FENCE_FD,
    -1,
  );
  const fence = decodeDrmVmwFenceRep(await rep.read(0, DRM_VMW_FENCE_REP_SIZE));
  check(
    fence.error === 0 && fence.fd >= 0 && fence.handle !== 0,
    `exporter: EXECBUF's fence_rep has error ${fence.error}, fd ${fence.fd}, handle ${fence.handle}`,
  );
  const syncFd = fence.fd;
  for (const imp of r.importers) {
    await sendFd(p, imp, dmaBuf);
    await sendFd(p, imp, syncFd);
  }
  await close(p, dmaBuf);
  await fd.gemClose(handle);
  const unref = r.drop === DROP_WAIT_OPTION;
  if (r.fault === "stall") {
    // The device has not gone on yet (virtual time stands while the exporter runs): the wait
    // times out, -EBUSY, and a failed wait keeps the handle whatever its options.
    let ret = 0;
    try {
      await vmwFenceWait(fd, fence.handle, unref, SHORT_WAIT_US);
    } catch (e) {
      if (!isSysError(e, "EBUSY")) throw e;
      ret = -EBUSY;
    }
    check(ret === -EBUSY, `exporter: FENCE_WAIT on the stalled device returned ${ret}, not -EBUSY`);
    const sig = {
      handle: fence.handle,
      flags: 1,
      signaled: -1,
      passed_seqno: 0,
      signaled_flags: 0,
      pad64: 0,
    };
    await fd.ioctl(DRM_IOCTL_VMW_FENCE_SIGNALED, sig, "VMW_FENCE_SIGNALED");
    check(sig.signaled === 0, `exporter: FENCE_SIGNALED after the timeout says ${sig.signaled}`);
    bump(fenceWaitStats.busy, "FENCE_WAIT");
  }
  if (r.event) {
    if (!(await vmwEventWait(p, r, fd, rep, fence, injected))) {
      // The DRM fd is closed (or the process exits, which closes it) with the event pending:
      // the exporter goes on waiting on its sync_file.
      await rep.unmap();
      await waitReady(p, syncFd, POLLIN, "exporter (event dropped)");
      await checkStatus(p, r, syncFd, "exporter");
      countWait(r, "exporter event dropped");
      await close(p, syncFd);
      return;
    }
    // The handle is dropped as drawn: WAIT_OPTION_UNREF by a FENCE_WAIT of a signalled fence.
    if (unref) await vmwFenceWait(fd, fence.handle, true);
  } else await vmwFenceWait(fd, fence.handle, unref);
  await checkStatus(p, r, syncFd, "exporter");
  if (r.drop === DROP_UNREF)
    await fd.ioctl(
      DRM_IOCTL_VMW_FENCE_UNREF,
      { handle: fence.handle, pad64: 0 },
      "VMW_FENCE_UNREF",
    );
  await rep.unmap();
  bump(fenceWaitStats.drops, ["FENCE_UNREF", "WAIT_OPTION_UNREF", "close"][r.drop]!);
  countWait(r, "exporter");
  await close(p, syncFd);
  await fd.close();
}

/**
 * The vmwgfx exporter's DRM event for its job's fence: DRM_VMW_FENCE_EVENT on the handle with a
 * fence_rep (preset as for EXECBUF) and the run's user_data, REQ_TIME if drawn; the fence_rep
 * must name the same fence (its handle, its seqno) with fd -1 and error 0. Then, as drawn, the
 * event is waited for by poll(2) of the DRM fd and read (one DRM_VMW_EVENT_FENCE_SIGNALED event
 * of 24 bytes with the user_data; with REQ_TIME stamped between the fault's injection, or
 * STALL_NS after it on a stalled device, and now; without, zeros): true; or the DRM fd is closed
 * at once, or the process exits (closing it): false (the exit does not return).
 */
async function vmwEventWait(
  p: Process,
  r: FenceWaitRun,
  fd: DrmFd,
  rep: Mapping,
  fence: { readonly handle: number; readonly seqno: number },
  injected: number,
): Promise<boolean> {
  const what = "exporter (FENCE_EVENT)";
  const key = `${jobKey(r)}:${EVENT_ENDS[r.eventEnd]}${r.reqTime ? " REQ_TIME" : ""}`;
  const userData = EVENT_USER_DATA_TAG | BigInt(r.value);
  const preset = { handle: 0, mask: 0, seqno: 0, passed_seqno: 0, fd: -1, error: -14 };
  await rep.write(encodeDrmVmwFenceRep(preset));
  const arg = {
    fence_rep: rep.addr,
    user_data: userData,
    handle: fence.handle,
    flags: r.reqTime ? DRM_VMW_FE_FLAG_REQ_TIME : 0,
  };
  await fd.ioctl(DRM_IOCTL_VMW_FENCE_EVENT, arg, "VMW_FENCE_EVENT");
  const got = decodeDrmVmwFenceRep(await rep.read(0, DRM_VMW_FENCE_REP_SIZE));
  check(
    got.error === 0 && got.fd === -1 && got.handle === fence.handle && got.seqno === fence.seqno,
    `${what}: fence_rep has error ${got.error}, fd ${got.fd}, handle ${got.handle} (want ${fence.handle}), seqno ${got.seqno} (want ${fence.seqno})`,
  );
  if (r.eventEnd === EVENT_CLOSE) {
    bump(fenceWaitStats.events, key);
    await fd.close();
    return false;
  }
  if (r.eventEnd === EVENT_EXIT) {
    bump(fenceWaitStats.events, key);
    await p.exit(0);
  }
  await waitReady(p, fd.fd, POLLIN, what);
  const events = await drmReadEvents(p, fd.fd);
  check(events.length === 1, `${what}: read ${events.length} events, not 1`);
  const e = decodeDrmVmwEventFence(events[0]!.bytes);
  check(
    e.type === DRM_VMW_EVENT_FENCE_SIGNALED &&
      e.length === DRM_VMW_EVENT_FENCE_SIZE &&
      e.user_data === userData,
    `${what}: event type ${e.type}, length ${e.length}, user_data ${e.user_data} (want ${userData})`,
  );
  const stampUs = e.tv_sec * 1_000_000 + e.tv_usec;
  if (r.reqTime) {
    const from = injected + (r.fault === "stall" ? STALL_NS : 0);
    check(
      e.tv_usec < 1_000_000 && stampUs >= Math.floor(from / 1000) && stampUs <= now() / 1000,
      `${what}: REQ_TIME stamp ${e.tv_sec}.${e.tv_usec} outside [${from} ns, ${now()} ns]`,
    );
  } else check(stampUs === 0, `${what}: stamped ${e.tv_sec}.${e.tv_usec} without REQ_TIME`);
  bump(fenceWaitStats.events, key);
  return true;
}

const EXPORTERS: Readonly<Record<JobKind, (p: Process, r: FenceWaitRun) => Promise<void>>> = {
  vmwgfx: vmwgfxExporter,
  qxl: qxlExporter,
  sw_sync: swSyncExporter,
};

export const FENCE_WAIT: CampaignScenario = {
  name: "fence-wait",
  description:
    "importers wait on the exporter's job fence (vmwgfx EXECBUF's exported sync_file, qxl's draw, else sw_sync) by dma-buf poll, sync_file poll or IMPORT_FENCE_FD (a vmwgfx exporter by FENCE_WAIT or a FENCE_EVENT it reads, or drops by closing or exiting), while faults are injected (a vmwgfx device command error or stall, or the exporter dying)",
  kernelRef:
    "drivers/dma-buf/dma-buf.c (dma_buf_poll, DMA_BUF_IOCTL_EXPORT/IMPORT_SYNC_FILE), sync_file.c, sw_sync.c, dma-resv.c; drivers/gpu/drm/vmwgfx/vmwgfx_execbuf.c, vmwgfx_fence.c (DRM_VMW_FENCE_EVENT), vmwgfx_cmdbuf.c, vmwgfx_irq.c; drivers/gpu/drm/drm_file.c (drm_read, drm_poll, drm_events_release); qxl_release.c",
  expect: "clean",
  arity: 2,
  faultTolerant: false,
  build(drivers, opts) {
    return async (sim) => {
      const m = await bootMachine(sim, drivers, opts.faults);
      const [devA, devB] = m.devices as [DeviceUnderTest, DeviceUnderTest];
      const job = jobKindOf(devA);
      const waiters = size(1, 2, "importers");
      const hang = choose(2, "gpu hang") === 1;
      const fault = job === "vmwgfx" && hang ? VMW_FAULTS[choose(2, "device fault")]! : null;
      // sw_sync: the two ways of any dma-buf (the draws of the scenario before GPU jobs).
      const ways = job === "vmwgfx" ? (devB.driver.name === "vmwgfx" ? 4 : 3) : 2;
      const how: number[] = [];
      for (let i = 0; i < waiters; i++) how.push(choose(ways, `wait[${i}]`));
      const gpu = job !== "sw_sync";
      const len = gpu ? size(1, 4, "pages") * PAGE : PAGE;
      const value = gpu ? size(1, 255, "fill byte") : 0;
      const drop = job === "vmwgfx" ? choose(3, "fence handle drop") : 0;
      // Drawn after the draws the scenario had before events (their values per seed kept).
      const event = job === "vmwgfx" && choose(2, "exporter wait") === 1;
      const eventEnd = event ? choose(3, "event end") : EVENT_READ;
      const reqTime = event && choose(2, "REQ_TIME") === 1;
      const r: FenceWaitRun = {
        m,
        devA,
        devB,
        job,
        hang,
        fault,
        how,
        len,
        value,
        drop,
        event,
        eventEnd,
        reqTime,
        importers: [],
      };
      for (let i = 0; i < waiters; i++)
        r.importers.push(m.process(`importer${i}`, fenceWaitImporter, { r, i }));
      const exporter = m.process("exporter", EXPORTERS[job], r);
      await m.finish([exporter, ...r.importers]);
    };
  },
};
