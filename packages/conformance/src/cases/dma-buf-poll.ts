/**
 * Implicit fences of an exported buffer, seen from userspace: poll(2) on a dma-buf fd while its
 * write fence is replaced. Derived from IGT's sw_sync and dmabuf tests (tests/sw_sync.c,
 * tests/dmabuf_sync_file.c): the fences are sw_sync points imported into the dma-buf's
 * reservation object with DMA_BUF_IOCTL_IMPORT_SYNC_FILE (Linux 6.0), so the case runs against
 * any driver that exports buffers.
 */

import {
  close,
  DMA_BUF_SYNC_WRITE,
  dmaBufImportSyncFile,
  epollCreate1,
  epollCtl,
  epollWait,
  poll,
  swSyncCreateFence,
  swSyncCreateTimeline,
  swSyncInc,
} from "@primetime/libdrm";
import { type CaseContext, type CaseSpec, RACE_DEFAULTS } from "../harness.js";

const group = "dma_buf_poll";
const BO_SIZE = 4096;
/** POLLIN (include/uapi/asm-generic/poll.h): a dma-buf is readable once its writers are done. */
const POLLIN = 0x001;
/** How long the poll may wait, in virtual ns: far beyond the case's work (a lost wakeup). */
const POLL_TIMEOUT_NS = 1_000_000_000;

/**
 * poll-vs-fence-replace: the buffer's write fence is point 1 of a sw_sync timeline, and once its
 * sync_file is closed the reservation object holds the only reference (the timeline keeps its
 * points without one). The main thread polls the dma-buf for POLLIN; a second thread imports
 * point 2 of the same timeline as the new write fence (same context: it replaces point 1,
 * dropping the reservation's reference) and then signals the timeline past both. The poll must
 * return POLLIN, and nothing may be left. A dma_buf_poll() that queues its fence callback
 * without keeping a reference lets point 1 be released with the callback pending ("released with
 * pending signals!", then a use-after-free in the kernel).
 */
const pollVsFenceReplace: CaseSpec = {
  name: `${group}/poll-vs-fence-replace`,
  group,
  race: true,
  description:
    "poll(POLLIN) on a dma-buf racing the replacement of its sw_sync write fence: POLLIN, nothing left",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const handle = await t.createBo(fd, BO_SIZE);
    const dmabuf = await fd.primeHandleToFd(handle);
    const timeline = await swSyncCreateTimeline(t.proc);
    const first = await swSyncCreateFence(t.proc, timeline, 1);
    await dmaBufImportSyncFile(t.proc, dmabuf, first, DMA_BUF_SYNC_WRITE);
    // The reservation object now holds point 1's only reference.
    await close(t.proc, first);

    const writer = t.thread("writer", async () => {
      const second = await swSyncCreateFence(t.proc, timeline, 2);
      await dmaBufImportSyncFile(t.proc, dmabuf, second, DMA_BUF_SYNC_WRITE);
      await close(t.proc, second);
      await swSyncInc(t.proc, timeline, 2);
    });
    const fds = [{ fd: dmabuf, events: POLLIN, revents: 0 }];
    const ready = await poll(t.proc, fds, POLL_TIMEOUT_NS);
    t.check(
      ready === 1 && fds[0]!.revents === POLLIN,
      `poll gave ${ready}, revents ${fds[0]!.revents}`,
    );
    await writer.join();

    await close(t.proc, timeline);
    await close(t.proc, dmabuf);
    await fd.gemClose(handle);
    await fd.close();
    const counts = await t.stableCounts();
    const base = t.baseline();
    t.check(
      counts.objects === base.objects && counts.dmaBufs === base.dmaBufs,
      `leaked ${counts.objects - base.objects} objects and ${counts.dmaBufs - base.dmaBufs} dma-bufs`,
    );
  },
};

/** EPOLL_CTL_ADD (include/uapi/linux/eventpoll.h). */
const EPOLL_CTL_ADD = 1;

/**
 * epoll-wait-vs-close: the reproducer shape of CVE-2024-38580 (syzbot, "epoll: be better about
 * file lifetimes"). An exported buffer's handle is closed, so its dma-buf fd holds the dma-buf's
 * only reference; the fd is watched by an epoll set for POLLIN (an idle buffer is always
 * readable, so the item stays on the ready list, level-triggered). A second thread calls
 * epoll_wait() while the main thread closes the dma-buf fd: the last fput() dooms the file, whose
 * __fput() (on the closer's way back to userspace) must first remove the epoll item under the
 * set's mutex. Each epoll_wait() gives nothing or the buffer's POLLIN with its data, and nothing
 * may be left. The kernels before the fix polled the doomed file anyway: dma_buf_poll()'s
 * get_file() brought it back to life and it was released twice.
 */
const epollWaitVsClose: CaseSpec = {
  name: `${group}/epoll-wait-vs-close`,
  group,
  race: true,
  description:
    "epoll_wait() on a set watching a dma-buf fd racing the close of its last reference: POLLIN or nothing, nothing left",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const handle = await t.createBo(fd, BO_SIZE);
    const dmabuf = await fd.primeHandleToFd(handle);
    // The dma-buf fd now holds the dma-buf's only reference.
    await fd.gemClose(handle);
    const ep = await epollCreate1(t.proc);
    await epollCtl(t.proc, ep, EPOLL_CTL_ADD, dmabuf, { events: POLLIN, data: 7 });

    const waiter = t.thread("waiter", async () => {
      for (let i = 0; i < 2; i++) {
        const events = await epollWait(t.proc, ep, 1, 0);
        t.check(
          events.length === 0 || (events[0]!.events === POLLIN && events[0]!.data === 7),
          `epoll_wait gave ${JSON.stringify(events)}`,
        );
      }
    });
    await close(t.proc, dmabuf);
    await waiter.join();

    await close(t.proc, ep);
    await fd.close();
    const counts = await t.stableCounts();
    const base = t.baseline();
    t.check(
      counts.objects === base.objects && counts.dmaBufs === base.dmaBufs,
      `leaked ${counts.objects - base.objects} objects and ${counts.dmaBufs - base.dmaBufs} dma-bufs`,
    );
  },
};

export const DMA_BUF_POLL: readonly CaseSpec[] = [pollVsFenceReplace, epollWaitVsClose];
