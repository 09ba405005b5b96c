import { type RunResult, Simulation, WaitQueue } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import { type File, type FileOperations, fileCount, O_RDONLY, O_RDWR } from "../fs/file.js";
import {
  EACCES,
  EBADF,
  EEXIST,
  EFAULT,
  EINVAL,
  ENODEV,
  ENOMEM,
  EOPNOTSUPP,
} from "../include/errno.js";
import { Kernel } from "../init/kernel.js";
import type { Process } from "../kernel/process.js";
import { allocationCount, setFailslab } from "./failslab.js";
import { MMAP_BASE, vmMunmap } from "./mm.js";
import { mmapReadUnlock } from "./mmap-lock.js";
import {
  FAULT_FLAG_DEFAULT,
  FAULT_FLAG_TRIED,
  FAULT_FLAG_WRITE,
  faultFlagAllowRetryFirst,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  PAGE_SIZE,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  unmapMappingRange,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  type Vma,
} from "./vma.js";

/** A device with `n` pages of memory; ->fault hands them out by file page offset. */
function bufferDevice(n: number) {
  const st = {
    pages: Array.from({ length: n }, (_, i) => new Uint8Array(PAGE_SIZE).fill(i + 1)),
    faults: [] as number[],
    opens: 0,
    closes: 0,
    mmapError: 0,
    file: null as File | null,
    insertFirst: false,
  };
  const fops: FileOperations = {
    open: async (_i, f) => {
      st.file = f;
      return 0;
    },
    mmap: async (_f, vma: Vma) => {
      if (st.mmapError) return st.mmapError;
      vma.vmPrivateData = st;
      if (st.insertFirst) expect(vma.insertPage(vma.vmStart, st.pages[vma.vmPgoff]!)).toBe(0);
      vma.vmOps = {
        open: () => {
          st.opens++;
        },
        close: () => {
          st.closes++;
        },
        fault: async (_vma, pgoff) => {
          st.faults.push(pgoff);
          return st.pages[pgoff] ?? VM_FAULT_SIGBUS;
        },
      };
      return 0;
    },
  };
  return { st, fops };
}

async function withDevice(
  n: number,
  body: (p: Process, st: ReturnType<typeof bufferDevice>["st"]) => Promise<void>,
): Promise<{ r: RunResult; leaks: number }> {
  const { st, fops } = bufferDevice(n);
  let leaks = -1;
  const r = await new Simulation({ seed: 1 }).run(async () => {
    const k = Kernel.boot();
    k.registerChrdev("/dev/buf", fops);
    const p = k.spawnProcess("t", (p) => body(p, st));
    await p.wait();
    leaks = (await k.checkLeaks()).length;
  });
  return { r, leaks };
}

function clean(x: { r: RunResult; leaks: number }): void {
  expect(x.r.splats.map((s) => s.message)).toEqual([]);
  expect(x.leaks).toBe(0);
}

const RW = PROT_READ | PROT_WRITE;

describe("mmap of a device", () => {
  it("maps top-down, faults the driver's pages in, and shares them both ways", async () => {
    const res = await withDevice(4, async (p, st) => {
      const fd = await p.open("/dev/buf", O_RDWR);
      const a = await p.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, PAGE_SIZE);
      expect(a).toBe(MMAP_BASE - 2 * PAGE_SIZE);
      const b = await p.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
      expect(b).toBe(a - PAGE_SIZE);
      expect(fileCount(st.file!)).toBe(3); // the fd and two mappings
      const bytes = await p.readMemory(a + PAGE_SIZE - 2, 4);
      expect(bytes).toEqual(new Uint8Array([2, 2, 3, 3]));
      expect(st.faults).toEqual([1, 2]);
      // Present pages do not fault again.
      await p.readMemory(a, 1);
      expect(st.faults).toEqual([1, 2]);
      // Userspace writes land in the driver's memory.
      expect(await p.writeMemory(a + 10, new Uint8Array([0xaa, 0xbb]))).toBe(2);
      expect(st.pages[1]![10]).toBe(0xaa);
      expect(st.pages[1]![11]).toBe(0xbb);
      // And the driver's writes are visible to userspace.
      st.pages[0]![0] = 0x42;
      expect(await p.readMemory(b, 1)).toEqual(new Uint8Array([0x42]));
      // A read-only mapping cannot be written.
      expect(await p.writeMemory(b, new Uint8Array([1]))).toBe(-EFAULT);
      // Unmapped memory faults.
      expect(await p.readMemory(0x1000, 1)).toBe(-EFAULT);
      expect(await p.readMemory(b - 1, 2)).toBe(-EFAULT);
      expect(await p.close(fd)).toBe(0);
      expect(fileCount(st.file!)).toBe(2); // the mappings keep the file
      expect(await p.munmap(a, 2 * PAGE_SIZE)).toBe(0);
      expect(await p.munmap(b, PAGE_SIZE)).toBe(0);
      expect(st.closes).toBe(2);
      expect(p.mm.vmas).toEqual([]);
    });
    clean(res);
  });

  it("loads through a PROT_WRITE-only mapping work (x86 access_error()); PROT_NONE faults", async () => {
    const res = await withDevice(1, async (p, st) => {
      const fd = await p.open("/dev/buf", O_RDWR);
      const w = await p.mmap(0, PAGE_SIZE, PROT_WRITE, MAP_SHARED, fd, 0);
      expect(await p.writeMemory(w, new Uint8Array([7]))).toBe(1);
      expect(await p.readMemory(w, 1)).toEqual(new Uint8Array([7]));
      expect(st.pages[0]![0]).toBe(7);
      const none = await p.mmap(0, PAGE_SIZE, PROT_NONE, MAP_SHARED, fd, 0);
      expect(await p.readMemory(none, 1)).toBe(-EFAULT);
      expect(await p.writeMemory(none, new Uint8Array([1]))).toBe(-EFAULT);
      expect(await p.munmap(w, PAGE_SIZE)).toBe(0);
      expect(await p.munmap(none, PAGE_SIZE)).toBe(0);
      expect(await p.close(fd)).toBe(0);
    });
    clean(res);
  });

  it("a fault error is EFAULT; zapping makes the next access fault again", async () => {
    const res = await withDevice(1, async (p, st) => {
      const fd = await p.open("/dev/buf", O_RDWR);
      const a = await p.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
      expect(await p.readMemory(a + PAGE_SIZE, 1)).toBe(-EFAULT); // beyond the buffer: SIGBUS
      expect(await p.readMemory(a, 1)).toEqual(new Uint8Array([1]));
      expect(st.faults).toEqual([1, 0]);
      expect(unmapMappingRange(st.file!.fMapping, 0, 0)).toBe(1);
      expect(await p.readMemory(a, 1)).toEqual(new Uint8Array([1]));
      expect(st.faults).toEqual([1, 0, 0]);
    });
    clean(res);
  });

  it("pages inserted at mmap time need no fault", async () => {
    const res = await withDevice(2, async (p, st) => {
      st.insertFirst = true;
      const fd = await p.open("/dev/buf", O_RDWR);
      const a = await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, PAGE_SIZE);
      expect(await p.readMemory(a, 1)).toEqual(new Uint8Array([2]));
      expect(st.faults).toEqual([]);
    });
    clean(res);
  });

  it("MAP_PRIVATE writes go to a private copy", async () => {
    const res = await withDevice(1, async (p, st) => {
      const fd = await p.open("/dev/buf", O_RDWR);
      const a = await p.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE, fd, 0);
      expect(await p.writeMemory(a, new Uint8Array([9]))).toBe(1);
      expect(await p.readMemory(a, 2)).toEqual(new Uint8Array([9, 1]));
      expect(st.pages[0]![0]).toBe(1);
      // Zapping the file's pages keeps the private copy.
      unmapMappingRange(st.file!.fMapping, 0, PAGE_SIZE);
      expect(await p.readMemory(a, 1)).toEqual(new Uint8Array([9]));
    });
    clean(res);
  });

  it("anonymous memory is zero-filled and private", async () => {
    const res = await withDevice(0, async (p) => {
      const a = await p.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      expect(a).toBeGreaterThan(0);
      expect(await p.readMemory(a, 3)).toEqual(new Uint8Array(3));
      expect(await p.writeMemory(a + 1, new Uint8Array([5]))).toBe(1);
      expect(await p.readMemory(a, 3)).toEqual(new Uint8Array([0, 5, 0]));
    });
    clean(res);
  });

  it("validates like the kernel", async () => {
    const res = await withDevice(1, async (p, st) => {
      const fd = await p.open("/dev/buf", O_RDWR);
      const ro = await p.open("/dev/buf", O_RDONLY);
      expect(await p.mmap(0, 0, RW, MAP_SHARED, fd, 0)).toBe(-EINVAL);
      expect(await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 100)).toBe(-EINVAL);
      expect(await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, -PAGE_SIZE)).toBe(-EINVAL);
      expect(await p.mmap(0, -1, RW, MAP_SHARED, fd, 0)).toBe(-ENOMEM);
      expect(await p.mmap(0, PAGE_SIZE, RW, 0, fd, 0)).toBe(-EINVAL);
      expect(await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, 55, 0)).toBe(-EBADF);
      expect(await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, ro, 0)).toBe(-EACCES);
      expect(await p.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, ro, 0)).toBeGreaterThan(0);
      expect(await p.mmap(0.5, PAGE_SIZE, RW, MAP_SHARED, fd, 0)).toBe(-EINVAL);
      expect(await p.mmap(0x10001, PAGE_SIZE, RW, MAP_SHARED | MAP_FIXED, fd, 0)).toBe(-EINVAL);
      st.mmapError = -ENODEV;
      const before = fileCount(st.file!);
      expect(await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0)).toBe(-ENODEV);
      expect(fileCount(st.file!)).toBe(before); // the vma's reference was dropped
      expect(await p.munmap(0x1001, PAGE_SIZE)).toBe(-EINVAL);
      expect(await p.munmap(0x1000, 0)).toBe(-EINVAL);
      expect(await p.munmap(0x1000, PAGE_SIZE)).toBe(0); // nothing mapped there
    });
    clean(res);
  });

  it("a file without ->mmap is ENODEV", async () => {
    let leaks = -1;
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      k.registerChrdev("/dev/plain", {});
      const p = k.spawnProcess("t", async (p) => {
        const fd = await p.open("/dev/plain", O_RDWR);
        expect(await p.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0)).toBe(-ENODEV);
      });
      await p.wait();
      leaks = (await k.checkLeaks()).length;
    });
    clean({ r, leaks });
  });

  it("munmap of the middle splits the vma: vm_ops->open for the new part, a file reference each", async () => {
    const res = await withDevice(4, async (p, st) => {
      const fd = await p.open("/dev/buf", O_RDWR);
      const a = await p.mmap(0, 4 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
      expect(await p.readMemory(a, 4 * PAGE_SIZE)).toBeInstanceOf(Uint8Array);
      expect(await p.munmap(a + PAGE_SIZE, 2 * PAGE_SIZE)).toBe(0);
      expect(p.mm.vmas.map((v) => [v.vmStart - a, v.vmEnd - a, v.vmPgoff])).toEqual([
        [0, PAGE_SIZE, 0],
        [3 * PAGE_SIZE, 4 * PAGE_SIZE, 3],
      ]);
      expect(st.opens).toBe(2);
      expect(st.closes).toBe(1);
      expect(fileCount(st.file!)).toBe(3);
      // The surviving parts keep their pages, the hole faults.
      const last = await p.readMemory(a + 3 * PAGE_SIZE, 1);
      expect(last).toEqual(new Uint8Array([4]));
      expect(st.faults).toEqual([0, 1, 2, 3]);
      expect(await p.readMemory(a + PAGE_SIZE, 1)).toBe(-EFAULT);
      await p.close(fd);
    });
    clean(res);
    // exit unmapped the two remaining parts
  });

  it("munmap(2) closes the vmas and puts their files under mmap_lock downgraded to read: another thread's fault goes on", async () => {
    // vm_ops->close of the unmapped vma sleeps until the other thread has faulted a page of
    // another mapping (mmap_read_lock()). __vm_munmap(..., true) downgrades before remove_vma(),
    // so the fault runs; with the write lock held through the close both threads would sleep.
    const gateWq = new WaitQueue("fault done");
    let faulted = false;
    const seen: { writeLocked: boolean; fileCount: number }[] = [];
    const fops: FileOperations = {
      mmap: async (_f, vma: Vma) => {
        vma.vmOps = {
          close: async (v: Vma) => {
            seen.push({
              writeLocked: v.vmMm.mmapLock.writeLocked,
              fileCount: fileCount(v.vmFile!),
            });
            gateWq.wakeAll();
            while (!faulted) await gateWq.wait("wait for the fault");
          },
          fault: async () => new Uint8Array(PAGE_SIZE).fill(7),
        };
        return 0;
      },
    };
    let leaks = -1;
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      k.registerChrdev("/dev/slowclose", fops);
      const p = k.spawnProcess("t", async (p) => {
        const fd = await p.open("/dev/slowclose", O_RDWR);
        const a = await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
        const b = await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
        const other = p.spawnThread("faulter", async () => {
          // Wait until the munmap is inside ->close, then fault b in.
          while (seen.length === 0) await gateWq.wait("wait for the close");
          expect(await p.readMemory(b, 1)).toEqual(new Uint8Array([7]));
          faulted = true;
          gateWq.wakeAll();
        });
        expect(await p.munmap(a, PAGE_SIZE)).toBe(0);
        await other.join();
        // The close ran under the read lock, before the vma's fput().
        expect(seen[0]).toEqual({ writeLocked: false, fileCount: 3 });
        expect(p.mm.mmapLock.holder).toBeNull();
        // Nothing mapped there any more: 0, and the lock is dropped on that path too.
        expect(await p.munmap(a, PAGE_SIZE)).toBe(0);
        expect(p.mm.mmapLock.holder).toBeNull();
        expect(await p.munmap(a + 1, PAGE_SIZE)).toBe(-EINVAL);
        expect(p.mm.mmapLock.holder).toBeNull();
        await p.close(fd);
      });
      await p.wait();
      leaks = (await k.checkLeaks()).length;
    });
    expect(r.outcome).toBe("ok");
    clean({ r, leaks });
  });

  it("splits of a vma of more than 2 GiB keep the file page offsets (no 32-bit arithmetic)", async () => {
    // A device whose every page offset faults in a fresh page: a 5 GiB mapping costs nothing.
    const faults: number[] = [];
    const fops: FileOperations = {
      mmap: async (_f, vma: Vma) => {
        vma.vmOps = {
          fault: async (_vma, pgoff) => {
            faults.push(pgoff);
            return new Uint8Array(PAGE_SIZE);
          },
        };
        return 0;
      },
    };
    const GiB = 2 ** 30;
    let leaks = -1;
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      k.registerChrdev("/dev/huge", fops);
      const p = k.spawnProcess("t", async (p) => {
        const fd = await p.open("/dev/huge", O_RDWR);
        const a = await p.mmap(0, 5 * GiB, RW, MAP_SHARED, fd, 0);
        expect(a).toBeGreaterThan(0);
        // Unmapping the first 2.5 GiB splits above (the new vma is the part kept).
        expect(await p.munmap(a, 2.5 * GiB)).toBe(0);
        // Unmapping a page 2.25 GiB further splits below (the old vma is the upper part).
        expect(await p.munmap(a + 4.75 * GiB, PAGE_SIZE)).toBe(0);
        const pg = (off: number) => off / PAGE_SIZE;
        expect(p.mm.vmas.map((v) => [v.vmStart - a, v.vmPgoff])).toEqual([
          [2.5 * GiB, pg(2.5 * GiB)],
          [4.75 * GiB + PAGE_SIZE, pg(4.75 * GiB + PAGE_SIZE)],
        ]);
        expect(await p.readMemory(a + 2.5 * GiB, 1)).toEqual(new Uint8Array(1));
        expect(await p.readMemory(a + 4.75 * GiB + PAGE_SIZE, 1)).toEqual(new Uint8Array(1));
        expect(faults).toEqual([pg(2.5 * GiB), pg(4.75 * GiB) + 1]);
        await p.close(fd);
      });
      await p.wait();
      leaks = (await k.checkLeaks()).length;
    });
    clean({ r, leaks });
  });

  it("a handler's VM_FAULT_RETRY (mmap_lock dropped): the fault retakes the lock, looks the vma up again and retries with FAULT_FLAG_TRIED (do_user_addr_fault())", async () => {
    // The first attempt of each fault drops mmap_lock and asks for a retry, as
    // ttm_bo_vm_reserve() does on a contended reservation; the retry maps the page. One fault's
    // first attempt unmaps the vma meanwhile: its retry finds nothing there (-EFAULT) and
    // touches neither the freed vma nor the lock it no longer holds.
    const seen: number[] = [];
    let unmapInFault = false;
    const fops: FileOperations = {
      mmap: async (_f, vma: Vma) => {
        vma.vmOps = {
          fault: async (v, _pgoff, flags) => {
            seen.push(flags);
            if (!faultFlagAllowRetryFirst(flags))
              return new Uint8Array(PAGE_SIZE).fill(seen.length);
            const mm = v.vmMm;
            const start = v.vmStart;
            const len = v.vmEnd - v.vmStart;
            await mmapReadUnlock(mm);
            if (unmapInFault) expect(await vmMunmap(mm, start, len)).toBe(0);
            return VM_FAULT_RETRY;
          },
        };
        return 0;
      },
    };
    let leaks = -1;
    const r = await new Simulation({ seed: 1 }).run(async () => {
      const k = Kernel.boot();
      k.registerChrdev("/dev/retry", fops);
      const p = k.spawnProcess("t", async (p) => {
        const fd = await p.open("/dev/retry", O_RDWR);
        const a = await p.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
        expect(await p.readMemory(a, 1)).toEqual(new Uint8Array([2]));
        expect(await p.writeMemory(a + PAGE_SIZE, new Uint8Array([5]))).toBe(1);
        expect(seen).toEqual([
          FAULT_FLAG_DEFAULT,
          FAULT_FLAG_DEFAULT | FAULT_FLAG_TRIED,
          FAULT_FLAG_DEFAULT | FAULT_FLAG_WRITE,
          FAULT_FLAG_DEFAULT | FAULT_FLAG_WRITE | FAULT_FLAG_TRIED,
        ]);
        expect(p.mm.mmapLock.holder).toBeNull();
        const b = await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0);
        unmapInFault = true;
        expect(await p.readMemory(b, 1)).toBe(-EFAULT);
        expect(seen).toHaveLength(5);
        expect(p.mm.vmas.map((v) => v.vmStart)).toEqual([a]);
        expect(p.mm.mmapLock.holder).toBeNull();
        await p.close(fd);
      });
      await p.wait();
      leaks = (await k.checkLeaks()).length;
    });
    expect(r.outcome).toBe("ok");
    clean({ r, leaks });
  });

  it("MAP_FIXED replaces what was there; MAP_FIXED_NOREPLACE refuses", async () => {
    const res = await withDevice(2, async (p, st) => {
      const fd = await p.open("/dev/buf", O_RDWR);
      const a = await p.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, fd, 0);
      expect(await p.mmap(a, PAGE_SIZE, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0)).toBe(-EEXIST);
      expect(await p.mmap(a, PAGE_SIZE, RW, MAP_SHARED | MAP_FIXED, fd, PAGE_SIZE)).toBe(a);
      expect(await p.readMemory(a, 1)).toEqual(new Uint8Array([2]));
      expect(p.mm.vmas.length).toBe(2);
      expect(st.closes).toBe(1);
    });
    clean(res);
  });

  it("MAP_SHARED_VALIDATE checks LEGACY_MAP_MASK: MAP_FIXED_NOREPLACE is not in it, MAP_NORESERVE is", async () => {
    // do_mmap(): flags_mask = LEGACY_MAP_MASK; MAP_SHARED_VALIDATE: if (flags & ~flags_mask)
    // return -EOPNOTSUPP. MAP_SHARED silently drops what is not in the mask.
    const res = await withDevice(2, async (p) => {
      const fd = await p.open("/dev/buf", O_RDWR);
      const hint = MMAP_BASE - 16 * PAGE_SIZE;
      const noreplace = MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE;
      expect(await p.mmap(hint, PAGE_SIZE, RW, noreplace, fd, 0)).toBe(-EOPNOTSUPP);
      expect(await p.mmap(hint, PAGE_SIZE, RW, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0)).toBe(hint);
      // -EEXIST comes first: the intersection is checked before the flags.
      expect(await p.mmap(hint, PAGE_SIZE, RW, noreplace, fd, 0)).toBe(-EEXIST);
      const a = await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED_VALIDATE | MAP_NORESERVE, fd, 0);
      expect(a).toBeGreaterThan(0);
      expect(p.mm.vmas.length).toBe(2);
    });
    clean(res);
  });

  it("a failed vma allocation is ENOMEM and leaks nothing", async () => {
    const res = await withDevice(1, async (p, st) => {
      const fd = await p.open("/dev/buf", O_RDWR);
      setFailslab({ failNth: allocationCount() + 1, caches: ["vm_area_struct"] });
      expect(await p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd, 0)).toBe(-ENOMEM);
      setFailslab(null);
      expect(fileCount(st.file!)).toBe(1);
    });
    clean(res);
  });
});
