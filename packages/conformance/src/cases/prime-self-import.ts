/**
 * IGT tests/prime_self_import.c: PRIME export and import on one device, across files (the
 * Wayland case) and within one, with the contents checked through CPU mappings, plus the
 * dma-buf's llseek and the export/reimport vs. GEM_CLOSE races.
 */

import { close, type DrmFd, dmaBufSize, dup, lseek } from "@primetime/libdrm";
import { type CaseContext, type CaseSpec, RACE_DEFAULTS, SEQUENTIAL_DEFAULTS } from "../harness.js";

const group = "prime_self_import";
const BO_SIZE = 16 * 1024;
/** Racing threads and their iterations (IGT: one thread per CPU for 5 s). */
const THREADS = 2;
const ITERATIONS = 3;

/** SEEK_SET, SEEK_END (include/uapi/linux/fs.h). */
const SEEK_SET = 0;
const SEEK_END = 2;
/** DRM_CLOEXEC (= O_CLOEXEC). */
const DRM_CLOEXEC = 0o2000000;

/**
 * IGT's check_bo(): both handles must show the current fill byte everywhere; then the first is
 * filled with the next byte and the second must show it (they are one buffer). `counter` is the
 * case's running fill byte.
 */
async function checkBo(
  t: CaseContext,
  counter: { value: number },
  fd1: DrmFd,
  handle1: number,
  fd2: DrmFd,
  handle2: number,
): Promise<void> {
  const ptr1 = await t.mapBo(fd1, handle1, BO_SIZE);
  const ptr2 = await t.mapBo(fd2, handle2, BO_SIZE);
  // check whether it's still our old object first.
  const a = await ptr1.read();
  const b = await ptr2.read();
  const want = counter.value & 0xff;
  t.check(
    a.every((x) => x === want) && b.every((x) => x === want),
    `buffer does not hold the fill byte ${want} (handles ${handle1}/${handle2})`,
  );
  counter.value++;
  await ptr1.fill(counter.value & 0xff);
  const c = await ptr2.read();
  t.check(
    c.every((x) => x === (counter.value & 0xff)),
    `a write through handle ${handle1} is not visible through handle ${handle2}`,
  );
  await ptr1.unmap();
  await ptr2.unmap();
}

/** basic-with_one_bo: import on a second file, reimport, self-import, and the lifetimes. */
const withOneBo: CaseSpec = {
  name: `${group}/basic-with_one_bo`,
  group,
  race: false,
  description:
    "re-import gives the same handle, import on the exporter gives the original, contents survive closes",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const counter = { value: 0 };
    const fd1 = await t.open();
    const fd2 = await t.open();
    let handle = await t.createBo(fd1, BO_SIZE);
    let dmaBufFd = await fd1.primeHandleToFd(handle);
    let handleImport1 = await fd2.primeFdToHandle(dmaBufFd);
    await checkBo(t, counter, fd1, handle, fd2, handleImport1);
    // reimport should give us the same handle so that userspace can check whether it has that
    // bo already somewhere.
    const handleImport2 = await fd2.primeFdToHandle(dmaBufFd);
    t.check(
      handleImport2 === handleImport1,
      `reimport gave ${handleImport2}, not ${handleImport1}`,
    );
    // Same for re-importing on the exporting fd.
    const handleSelfimport = await fd1.primeFdToHandle(dmaBufFd);
    t.check(handleSelfimport === handle, `self-import gave ${handleSelfimport}, not ${handle}`);
    // close dma_buf, check whether nothing disappears.
    await close(t.proc, dmaBufFd);
    await checkBo(t, counter, fd1, handle, fd2, handleImport1);
    await fd1.gemClose(handle);
    await checkBo(t, counter, fd2, handleImport1, fd2, handleImport1);
    // re-import into old exporter
    dmaBufFd = await fd2.primeHandleToFd(handleImport1);
    // but drop all references to the obj in between
    await fd2.gemClose(handleImport1);
    handle = await fd1.primeFdToHandle(dmaBufFd);
    handleImport1 = await fd2.primeFdToHandle(dmaBufFd);
    await checkBo(t, counter, fd1, handle, fd2, handleImport1);
    // Completely rip out exporting fd.
    await fd1.close();
    await checkBo(t, counter, fd2, handleImport1, fd2, handleImport1);
    await close(t.proc, dmaBufFd);
    await fd2.close();
  },
};

/** basic-with_one_bo_two_files: an flinked object exported from the opener's file. */
const withOneBoTwoFiles: CaseSpec = {
  name: `${group}/basic-with_one_bo_two_files`,
  group,
  race: false,
  description: "dma-buf self-import of an flink-opened object gives the opened handle",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd1 = await t.open();
    const fd2 = await t.open();
    const handleOrig = await t.createBo(fd1, BO_SIZE);
    const dmaBufFd1 = await fd1.primeHandleToFd(handleOrig);
    const flinkName = await fd1.gemFlink(handleOrig);
    const handleOpen = (await fd2.gemOpen(flinkName)).handle;
    const dmaBufFd2 = await fd2.primeHandleToFd(handleOpen);
    const handleImport = await fd2.primeFdToHandle(dmaBufFd2);
    // dma-buf self importing an flink bo should give the same handle
    t.check(handleImport === handleOpen, `import gave ${handleImport}, not ${handleOpen}`);
    await fd1.close();
    await fd2.close();
    await close(t.proc, dmaBufFd1);
    await close(t.proc, dmaBufFd2);
  },
};

/** basic-with_two_bos: two objects exported and imported in turn. */
const withTwoBos: CaseSpec = {
  name: `${group}/basic-with_two_bos`,
  group,
  race: false,
  description: "two objects exported one after the other import as distinct buffers",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const counter = { value: 0 };
    const fd1 = await t.open();
    const fd2 = await t.open();
    const handle1 = await t.createBo(fd1, BO_SIZE);
    const handle2 = await t.createBo(fd1, BO_SIZE);
    let dmaBufFd = await fd1.primeHandleToFd(handle1);
    let handleImport = await fd2.primeFdToHandle(dmaBufFd);
    await close(t.proc, dmaBufFd);
    await fd1.gemClose(handle1);
    dmaBufFd = await fd1.primeHandleToFd(handle2);
    handleImport = await fd2.primeFdToHandle(dmaBufFd);
    await checkBo(t, counter, fd1, handle2, fd2, handleImport);
    await fd1.gemClose(handle2);
    await close(t.proc, dmaBufFd);
    await checkBo(t, counter, fd2, handleImport, fd2, handleImport);
    await fd1.close();
    await fd2.close();
  },
};

/** basic-with_fd_dup: the import of a dup()ed dma-buf fd survives closing both fds. */
const withFdDup: CaseSpec = {
  name: `${group}/basic-with_fd_dup`,
  group,
  race: false,
  description: "importing a dup of the dma-buf fd works, and the buffer outlives both fds",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const counter = { value: 0 };
    const fd1 = await t.open();
    const fd2 = await t.open();
    const handle = await t.createBo(fd1, BO_SIZE);
    const dmaBufFd1 = await fd1.primeHandleToFd(handle);
    await fd1.gemClose(handle);
    const dmaBufFd2 = await dup(t.proc, dmaBufFd1);
    await close(t.proc, dmaBufFd1);
    const handleImport = await fd2.primeFdToHandle(dmaBufFd2);
    await checkBo(t, counter, fd2, handleImport, fd2, handleImport);
    await close(t.proc, dmaBufFd2);
    await checkBo(t, counter, fd2, handleImport, fd2, handleImport);
    await fd1.close();
    await fd2.close();
  },
};

/** basic-llseek-size: lseek(SEEK_END) of a dma-buf gives its size, for sizes 4 KiB..2 MiB. */
const llseekSize: CaseSpec = {
  name: `${group}/basic-llseek-size`,
  group,
  race: false,
  description: "lseek(dma-buf, 0, SEEK_END) is the buffer size",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    for (let i = 0; i < 10; i++) {
      const bufsz = 4096 << i;
      const handle = await t.createBo(fd, bufsz);
      const dmaBufFd = await fd.primeHandleToFd(handle);
      await fd.gemClose(handle);
      const size = await dmaBufSize(t.proc, dmaBufFd);
      t.check(size === bufsz, `dma-buf of ${bufsz} bytes reports size ${size}`);
      await close(t.proc, dmaBufFd);
    }
    await fd.close();
  },
};

/** basic-llseek-bad: every seek but (0, SEEK_END) and (0, SEEK_SET) is EINVAL. */
const llseekBad: CaseSpec = {
  name: `${group}/basic-llseek-bad`,
  group,
  race: false,
  description: "dma-buf lseek rejects any offset but 0 with EINVAL",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const handle = await t.createBo(fd, BO_SIZE);
    const dmaBufFd = await fd.primeHandleToFd(handle);
    await fd.gemClose(handle);
    const p = t.proc;
    t.check((await lseek(p, dmaBufFd, 0, SEEK_END)) >= 0, "lseek(0, SEEK_END) failed");
    const bad: [number, number][] = [
      [-1, SEEK_END],
      [1, SEEK_SET],
      [BO_SIZE, SEEK_SET],
      [BO_SIZE + 1, SEEK_SET],
      [BO_SIZE - 1, SEEK_SET],
    ];
    for (const [off, whence] of bad) {
      await t.expectErrno(lseek(p, dmaBufFd, off, whence), "EINVAL", `lseek(${off}, ${whence})`);
    }
    await close(p, dmaBufFd);
    await fd.close();
  },
};

/**
 * with_gem_open_handle (derived from basic-with_one_bo and the GEM_OPEN case of "drm/gem: Fix
 * GEM handle release errors"): a file holding two handles of one object (the creator's and one
 * from GEM_OPEN of its name) closes the GEM_OPEN one; re-importing the exported dma-buf on that
 * file must still give the creator's handle, whose PRIME cache entry must survive.
 */
const withGemOpenHandle: CaseSpec = {
  name: `${group}/with_gem_open_handle`,
  group,
  race: false,
  description:
    "closing a second (GEM_OPEN) handle of an exported object keeps the first handle's PRIME entry",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const handle = await t.createBo(fd, BO_SIZE);
    const dmaBufFd = await fd.primeHandleToFd(handle);
    const name = await fd.gemFlink(handle);
    const opened = await fd.gemOpen(name);
    t.check(opened.handle !== handle, "GEM_OPEN on the creating file returned the same handle");
    await fd.gemClose(opened.handle);
    const reimport = await fd.primeFdToHandle(dmaBufFd);
    t.check(reimport === handle, `re-import on the exporting file gave ${reimport}, not ${handle}`);
    await close(t.proc, dmaBufFd);
    await fd.close();
  },
};

/**
 * export-vs-gem_close-race: threads create objects (keeping handle 1), export handle 1 and close
 * handle 1, racing; every export either works or fails as the driver fails a closed handle
 * (ENOENT, drm_gem_prime_handle_to_fd()'s lookup; a driver whose ->prime_handle_to_fd looks the
 * handle up first says its own errno, `PrimeUnderTest`: vmwgfx's ESRCH, and still gives ENOENT
 * for a handle closed between the two lookups; IGT checks no errno here), and once the threads
 * are done nothing may be left (checked while the file is still open, then after it is closed).
 */
const exportVsGemClose: CaseSpec = {
  name: `${group}/export-vs-gem_close-race`,
  group,
  race: true,
  description: "PRIME export of handle 1 racing GEM_CLOSE of handle 1: no object or dma-buf leaks",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const closedHandle = [...new Set(["ENOENT", t.dev.prime.unknownHandleErrno])];
    const threads = Array.from({ length: THREADS }, (_, i) =>
      t.thread(`export_vs_close${i}`, async () => {
        for (let n = 0; n < ITERATIONS; n++) {
          // We want to race gem close against prime export on handle one.
          const handle = await t.createBo(fd, 4096);
          if (handle !== 1) await fd.gemClose(handle);
          // raw ioctls since we expect them to fail
          const dmaBuf = await t.allowErrno(
            fd.primeHandleToFd(1, DRM_CLOEXEC),
            closedHandle,
            "PRIME export of handle 1",
          );
          await t.allowErrno(fd.gemClose(1), ["EINVAL"], "GEM_CLOSE of handle 1");
          if (dmaBuf !== null) await close(t.proc, dmaBuf);
        }
      }),
    );
    for (const th of threads) await th.join();
    await checkNothingLeft(t, "after the export/close threads");
    await fd.close();
  },
};

/**
 * export-vs-gem_close-own-handles (derived from export-vs-gem_close-race): threads each create,
 * export and close their own objects, of a size per thread, so that each knows what its handle
 * is: the dma-buf exported for it must have its size and re-import to it on the same file. Handle
 * ids are reused across threads (the lowest free one), which is what the race needs: a handle
 * closed by one thread while another creates and exports a new handle with the same id.
 */
const exportVsGemCloseOwnHandles: CaseSpec = {
  name: `${group}/export-vs-gem_close-own-handles`,
  group,
  race: true,
  description:
    "threads export and close their own handles (ids reused across threads): each export is the thread's own buffer",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const threads = Array.from({ length: THREADS }, (_, i) =>
      t.thread(`export_own${i}`, async () => {
        const size = (i + 1) * 4096;
        for (let n = 0; n < ITERATIONS; n++) {
          const handle = await t.createBo(fd, size);
          const dmaBuf = await fd.primeHandleToFd(handle, DRM_CLOEXEC);
          const got = await dmaBufSize(t.proc, dmaBuf);
          t.check(
            got === size,
            `export of handle ${handle} (${size} bytes) gave a ${got}-byte dma-buf`,
          );
          const again = await fd.primeFdToHandle(dmaBuf);
          t.check(again === handle, `re-import of handle ${handle}'s export gave handle ${again}`);
          await fd.gemClose(handle);
          await close(t.proc, dmaBuf);
        }
      }),
    );
    for (const th of threads) await th.join();
    await checkNothingLeft(t, "after the export/close threads");
    await fd.close();
  },
};

/**
 * export-vs-gem_close-other-handle-race (derived from export-vs-gem_close-race and
 * basic-with_one_bo_two_files): an object with two handles in one file, the creator's and one
 * from GEM_OPEN of its flink name. One thread exports through the first handle and closes the
 * dma-buf fd and the handle, which drops the last references to the dma-buf; the other exports
 * through the second handle at the same time. Both exports must succeed, each fd must be a
 * dma-buf of the object's size, and nothing may be left. (Kernels before "drm/prime: proper
 * locking+refcounting for obj->dma_buf link" handed the second thread the doomed dma-buf.)
 */
const exportVsGemCloseOtherHandle: CaseSpec = {
  name: `${group}/export-vs-gem_close-other-handle-race`,
  group,
  race: true,
  description:
    "PRIME export through a GEM_OPEN handle racing the last close of the first handle's export",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    for (let n = 0; n < 2; n++) {
      const handle = await t.createBo(fd, BO_SIZE);
      const opened = (await fd.gemOpen(await fd.gemFlink(handle))).handle;
      const closer = t.thread(`export_and_close${n}`, async () => {
        const dmaBuf = await fd.primeHandleToFd(handle, DRM_CLOEXEC);
        await close(t.proc, dmaBuf);
        await fd.gemClose(handle);
      });
      const exporter = t.thread(`export_other${n}`, async () => {
        const dmaBuf = await fd.primeHandleToFd(opened, DRM_CLOEXEC);
        const size = await dmaBufSize(t.proc, dmaBuf);
        t.check(size === BO_SIZE, `export of handle ${opened} gave a ${size}-byte dma-buf`);
        await close(t.proc, dmaBuf);
      });
      await closer.join();
      await exporter.join();
      await fd.gemClose(opened);
    }
    await checkNothingLeft(t, "after the export/close threads");
    await fd.close();
  },
};

/**
 * reimport-vs-gem_close-race: threads import one dma-buf on the exporter's file and close the
 * handle they got, racing; every import must succeed, and once the threads are done the file
 * holds no handle (the dma-buf fd still holds the object).
 */
const reimportVsGemClose: CaseSpec = {
  name: `${group}/reimport-vs-gem_close-race`,
  group,
  race: true,
  description: "PRIME re-import racing GEM_CLOSE of the imported handle: no object leaks",
  defaults: RACE_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const handle = await t.createBo(fd, BO_SIZE);
    const dmaBufFd = await fd.primeHandleToFd(handle);
    const threads = Array.from({ length: THREADS }, (_, i) =>
      t.thread(`reimport_vs_close${i}`, async () => {
        for (let n = 0; n < ITERATIONS; n++) {
          const h = await fd.primeFdToHandle(dmaBufFd);
          await t.allowErrno(fd.gemClose(h), ["EINVAL"], `GEM_CLOSE of imported handle ${h}`);
        }
      }),
    );
    for (const th of threads) await th.join();
    // The dma-buf fd keeps the one object (and its dma-buf) alive; nothing else may be left.
    const counts = await t.stableCounts();
    const base = t.baseline();
    t.check(
      counts.objects === base.objects + 1 &&
        counts.dmaBufs === base.dmaBufs + 1 &&
        counts.handles === base.handles &&
        counts.primeEntries === base.primeEntries,
      `after the threads: ${describeCounts(counts)}, expected 1 object, 1 dma-buf, no handle, no PRIME entry`,
    );
    await fd.close();
    await close(t.proc, dmaBufFd);
  },
};

function describeCounts(c: {
  objects: number;
  handles: number;
  names: number;
  dmaBufs: number;
  primeEntries: number;
}): string {
  return `${c.objects} objects, ${c.handles} handles, ${c.names} names, ${c.dmaBufs} dma-bufs, ${c.primeEntries} PRIME entries`;
}

/** With the test's file still open: no object, handle, name, dma-buf or PRIME entry is left. */
async function checkNothingLeft(t: CaseContext, when: string): Promise<void> {
  const counts = await t.stableCounts();
  const base = t.baseline();
  t.check(
    counts.objects === base.objects &&
      counts.handles === base.handles &&
      counts.names === base.names &&
      counts.dmaBufs === base.dmaBufs &&
      counts.primeEntries === base.primeEntries,
    `${when}: ${describeCounts(counts)} left`,
  );
}

export const PRIME_SELF_IMPORT: readonly CaseSpec[] = [
  withOneBo,
  withOneBoTwoFiles,
  withTwoBos,
  withFdDup,
  llseekSize,
  llseekBad,
  withGemOpenHandle,
  exportVsGemClose,
  exportVsGemCloseOwnHandles,
  exportVsGemCloseOtherHandle,
  reimportVsGemClose,
];
