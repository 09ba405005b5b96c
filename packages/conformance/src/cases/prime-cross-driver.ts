/**
 * Cross-driver PRIME (in the spirit of IGT's prime_vgem.c and prime_nv_*.c): one device exports
 * a buffer, another device (of the same driver or another) imports it. What one side writes the
 * other must read, and every order of closing the five things involved (the exporter's handle,
 * the dma-buf fd, the importer's handle, both DRM fds) must free everything: the importer holds
 * the dma-buf, the dma-buf holds the exporter's object, and nothing may hold anything once the
 * last of them is closed.
 *
 * The importer's view of the contents: through the importer's own CPU mapping of its handle when
 * its driver allows one; drivers that refuse to map imports (MODE_MAP_DUMB of an imported object
 * is EINVAL in the DRM core) are read through the dma-buf the importer re-exports for the handle,
 * which must be the original one.
 */

import { close, type DrmFd, dmaBufSize, isSysError, mmapDmaBuf } from "@primetime/libdrm";
import type { BoMapping, DeviceUnderTest } from "../driver-under-test.js";
import { type CaseContext, type CaseSpec, SEQUENTIAL_DEFAULTS } from "../harness.js";

const group = "prime_cross_driver";
const BO_SIZE = 16 * 1024;

/** The things to close, in the case's order. */
type Closable =
  | "exporter handle"
  | "dma-buf fd"
  | "importer handle"
  | "exporter fd"
  | "importer fd";
const CLOSABLES: readonly Closable[] = [
  "exporter handle",
  "dma-buf fd",
  "importer handle",
  "exporter fd",
  "importer fd",
];

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  const out: T[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)]))
      out.push([x, ...rest]);
  });
  return out;
}

/**
 * Every distinct close order: closing a handle after its DRM fd is a no-op (the fd's close
 * released it), so such orders collapse; 60 remain.
 */
export const CLOSE_ORDERS: readonly (readonly Closable[])[] = (() => {
  const seen = new Map<string, Closable[]>();
  for (const p of permutations(CLOSABLES)) {
    const done = new Set<Closable>();
    const eff: Closable[] = [];
    for (const c of p) {
      if (c === "exporter handle" && done.has("exporter fd")) continue;
      if (c === "importer handle" && done.has("importer fd")) continue;
      done.add(c);
      eff.push(c);
    }
    seen.set(eff.join(","), eff);
  }
  return [...seen.values()];
})();

/** The importer's CPU view of its handle (see the file comment), and what to close after it. */
export async function importerView(
  t: CaseContext,
  importer: DeviceUnderTest,
  fd: DrmFd,
  handle: number,
  size: number = BO_SIZE,
): Promise<{ map: BoMapping; dmaBufFd: number | null }> {
  try {
    return { map: await t.mapBo(fd, handle, size, importer), dmaBufFd: null };
  } catch (e) {
    if (!isSysError(e, "EINVAL")) throw e;
  }
  const dmaBufFd = await fd.primeHandleToFd(handle);
  return { map: await mmapDmaBuf(t.proc, dmaBufFd, size), dmaBufFd };
}

function cross(direction: "export" | "import"): CaseSpec {
  const label = direction === "export" ? "export-to-other" : "import-from-other";
  return {
    name: `${group}/${label}`,
    group,
    race: false,
    description:
      direction === "export"
        ? "a buffer exported by the driver under test is shared with another device, closed in every order"
        : "a buffer exported by another device is imported by the driver under test, closed in every order",
    defaults: SEQUENTIAL_DEFAULTS,
    variants: CLOSE_ORDERS.length,
    async body(t: CaseContext) {
      const other = t.other;
      t.check(other !== null, "a cross-driver case needs a partner device");
      const exporter = direction === "export" ? t.dev : other;
      const importer = direction === "export" ? other : t.dev;
      const fdA = await t.open(exporter);
      const fdB = await t.open(importer);
      const hA = await t.createBo(fdA, BO_SIZE, exporter);
      const mapA = await t.mapBo(fdA, hA, BO_SIZE, exporter);
      await mapA.fill(0x5a);
      const dmaBufFd = await fdA.primeHandleToFd(hA);
      t.check(
        (await dmaBufSize(t.proc, dmaBufFd)) === BO_SIZE,
        "the dma-buf's size is not the buffer's",
      );
      const hB = await fdB.primeFdToHandle(dmaBufFd);
      const again = await fdB.primeFdToHandle(dmaBufFd);
      t.check(again === hB, `re-import on the importer gave ${again}, not ${hB}`);

      // What the exporter wrote, the importer reads; and the other way round.
      const view = await importerView(t, importer, fdB, hB);
      const seen = await view.map.read();
      t.check(
        seen.every((x) => x === 0x5a),
        `${importer.driver.name} does not see what ${exporter.driver.name} wrote`,
      );
      await view.map.fill(0xa5);
      const back = await mapA.read();
      t.check(
        back.every((x) => x === 0xa5),
        `${exporter.driver.name} does not see what ${importer.driver.name} wrote`,
      );
      await view.map.unmap();
      if (view.dmaBufFd !== null) await close(t.proc, view.dmaBufFd);
      await mapA.unmap();

      const order = CLOSE_ORDERS[t.variant]!;
      for (const c of order) {
        switch (c) {
          case "exporter handle":
            await fdA.gemClose(hA);
            break;
          case "dma-buf fd":
            await close(t.proc, dmaBufFd);
            break;
          case "importer handle":
            await fdB.gemClose(hB);
            break;
          case "exporter fd":
            await fdA.close();
            break;
          case "importer fd":
            await fdB.close();
            break;
        }
      }
    },
  };
}

/** Export to the partner device, and import from it. */
export const PRIME_CROSS_DRIVER: readonly CaseSpec[] = [cross("export"), cross("import")];
