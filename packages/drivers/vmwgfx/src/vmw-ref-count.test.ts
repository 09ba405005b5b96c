/**
 * IGT's tests/vmwgfx/vmw_ref_count.c on the model: surface PRIME transfers between two render
 * files with explicit and implicit mobs, fd dups, two surfaces, one surface imported several
 * times, repeated unrefs of a mob and of a surface, and a reference outliving the creator's
 * unref. Every subtest ends with a leak check of the whole machine; the subtest that found
 * "drm/vmwgfx: Keep a gem reference to user bos in surfaces" also runs with that bug put back.
 */

import { EINVAL, type Process } from "@primetime/kernel";
import { describe, expect, it } from "vitest";
import {
  expectClean,
  fdToHandle,
  handleClose,
  handleToFd,
  mobCreate,
  mobRead,
  mobWrite,
  ok,
  openNode,
  runVmw,
  splatText,
  surfaceCreate,
  surfaceMob,
  surfaceRef,
  surfaceUnref,
  type VmwMachine,
  type VmwMob,
  type VmwSurface,
} from "./test-machine.js";
import { VMWGFX_SURFACE_BO_TTM_REF_ONLY } from "./toggles.js";
import { VMWGFX_NUM_MOB } from "./ttm-object.js";

/** static uint32 data[10] = { 9, 8, ..., 0 }. */
const DATA = new Uint8Array(new Uint32Array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]).buffer);
const SIZE = DATA.length;

function igtAssert(cond: boolean, msg: string): void {
  if (!cond) throw new Error(`igt_assert: ${msg}`);
}

async function verifyMobData(p: Process, fd: number, mob: VmwMob): Promise<boolean> {
  const got = await mobRead(p, fd, mob, SIZE);
  return got.every((b, i) => b === DATA[i]);
}

async function createAndWriteShareableSurface(p: Process, fd: number): Promise<VmwSurface> {
  const s = ok(await surfaceCreate(p, fd, SIZE, null), "surface create");
  await mobWrite(p, fd, surfaceMob(s), DATA);
  return s;
}

async function refSurfaceAndCheckContents(p: Process, fd: number, sid: number): Promise<boolean> {
  const s = ok(await surfaceRef(p, fd, sid), "surface ref");
  return verifyMobData(p, fd, surfaceMob(s));
}

/** igt_fixture: two render files of the device. */
async function fixture(p: Process, m: VmwMachine): Promise<[number, number]> {
  return [await openNode(p, m.vmw.render), await openNode(p, m.vmw.render)];
}

async function surfacePrimeTransferExplicitMob(p: Process, m: VmwMachine): Promise<void> {
  const [fd1, fd2] = await fixture(p, m);
  const mob = ok(await mobCreate(p, fd1, SIZE), "mob create");
  const surface = ok(await surfaceCreate(p, fd1, SIZE, mob), "surface create");
  igtAssert(surface.handle > VMWGFX_NUM_MOB, "surface handles live above the MOB range");
  await mobWrite(p, fd1, mob, DATA);
  const surfaceFd = ok(await handleToFd(p, fd1, surface.handle), "handle to fd");
  await handleClose(p, fd1, mob.handle);
  await surfaceUnref(p, fd1, surface.handle);
  const surfaceHandle = ok(await fdToHandle(p, fd2, surfaceFd), "fd to handle");
  await p.close(surfaceFd);
  igtAssert(await refSurfaceAndCheckContents(p, fd2, surfaceHandle), "contents");
  await p.close(fd1);
  await p.close(fd2);
}

const SUBTESTS: Record<string, (p: Process, m: VmwMachine) => Promise<void>> = {
  surface_prime_transfer_explicit_mob: surfacePrimeTransferExplicitMob,

  async surface_prime_transfer_implicit_mob(p, m) {
    const [fd1, fd2] = await fixture(p, m);
    const surface = await createAndWriteShareableSurface(p, fd1);
    const surfaceFd = ok(await handleToFd(p, fd1, surface.handle), "handle to fd");
    await surfaceUnref(p, fd1, surface.handle);
    const surfaceHandle = ok(await fdToHandle(p, fd2, surfaceFd), "fd to handle");
    await p.close(surfaceFd);
    igtAssert(await refSurfaceAndCheckContents(p, fd2, surfaceHandle), "contents");
    await p.close(fd1);
    await p.close(fd2);
  },

  async surface_prime_transfer_fd_dup(p, m) {
    const [fd1, fd2] = await fixture(p, m);
    const surface = await createAndWriteShareableSurface(p, fd1);
    const surfaceFd1 = ok(await handleToFd(p, fd1, surface.handle), "handle to fd");
    await surfaceUnref(p, fd1, surface.handle);
    const surfaceFd2 = await p.dup(surfaceFd1);
    await p.close(surfaceFd1);
    const surfaceHandle = ok(await fdToHandle(p, fd2, surfaceFd2), "fd to handle");
    await p.close(surfaceFd2);
    igtAssert(await refSurfaceAndCheckContents(p, fd2, surfaceHandle), "contents");
    await p.close(fd1);
    await p.close(fd2);
  },

  async surface_prime_transfer_two_surfaces(p, m) {
    const [fd1, fd2] = await fixture(p, m);
    const surface1 = await createAndWriteShareableSurface(p, fd1);
    const surface2 = await createAndWriteShareableSurface(p, fd1);
    let surfaceFd = ok(await handleToFd(p, fd1, surface1.handle), "handle to fd");
    await surfaceUnref(p, fd1, surface1.handle);
    const surfaceHandle1 = ok(await fdToHandle(p, fd2, surfaceFd), "fd to handle");
    await p.close(surfaceFd);
    surfaceFd = ok(await handleToFd(p, fd1, surface2.handle), "handle to fd");
    await surfaceUnref(p, fd1, surface2.handle);
    const surfaceHandle2 = ok(await fdToHandle(p, fd2, surfaceFd), "fd to handle");
    await p.close(surfaceFd);
    igtAssert(await refSurfaceAndCheckContents(p, fd2, surfaceHandle1), "contents 1");
    igtAssert(await refSurfaceAndCheckContents(p, fd2, surfaceHandle2), "contents 2");
    await p.close(fd1);
    await p.close(fd2);
  },

  async surface_prime_transfer_single_surface_multiple_handle(p, m) {
    const [fd1, fd2] = await fixture(p, m);
    const surface = await createAndWriteShareableSurface(p, fd1);
    const surfaceHandleOld = surface.handle;
    const surfaceFd = ok(await handleToFd(p, fd1, surface.handle), "handle to fd");
    await surfaceUnref(p, fd1, surface.handle);
    const surfaceHandle1 = ok(await fdToHandle(p, fd1, surfaceFd), "fd to handle 1");
    const surfaceHandle2 = ok(await fdToHandle(p, fd2, surfaceFd), "fd to handle 2");
    const surfaceHandle3 = ok(await fdToHandle(p, fd2, surfaceFd), "fd to handle 3");
    await p.close(surfaceFd);
    igtAssert(surfaceHandleOld === surfaceHandle1, "same handle in the exporter");
    igtAssert(surfaceHandle2 === surfaceHandle3, "same handle on re-import");
    igtAssert(await refSurfaceAndCheckContents(p, fd1, surfaceHandle1), "contents 1");
    igtAssert(await refSurfaceAndCheckContents(p, fd2, surfaceHandle2), "contents 2");
    await p.close(fd1);
    await p.close(fd2);
  },

  async mob_repeated_unref(p, m) {
    const [fd1, fd2] = await fixture(p, m);
    const mob = ok(await mobCreate(p, fd1, SIZE), "mob create");
    await mobWrite(p, fd1, mob, DATA);
    // Shouldn't crash on multiple invocations (IGT no longer asserts the result: v6.12's
    // vmw_bo_unref_ioctl() returns drm_gem_handle_delete()'s -EINVAL after the first)
    const rets: number[] = [];
    for (let i = 0; i < 3; i++) rets.push(await handleClose(p, fd1, mob.handle));
    igtAssert(rets.join() === `0,${-EINVAL},${-EINVAL}`, `closes returned ${rets}`);
    await p.close(fd1);
    await p.close(fd2);
  },

  async surface_repeated_unref(p, m) {
    const [fd1, fd2] = await fixture(p, m);
    const surface = ok(await surfaceCreate(p, fd1, SIZE, null), "surface create");
    // Shouldn't crash on multiple invocations (the kernel answers -EINVAL after the first)
    const rets: number[] = [];
    for (let i = 0; i < 3; i++) rets.push(await surfaceUnref(p, fd1, surface.handle));
    igtAssert(rets.join() === `0,${-EINVAL},${-EINVAL}`, `unrefs returned ${rets}`);
    await p.close(fd1);
    await p.close(fd2);
  },

  async surface_alloc_ref_unref(p, m) {
    const [fd1, fd2] = await fixture(p, m);
    const surface = await createAndWriteShareableSurface(p, fd1);
    const refSurface = ok(await surfaceRef(p, fd1, surface.handle), "surface ref");
    await surfaceUnref(p, fd1, surface.handle);
    igtAssert(await verifyMobData(p, fd1, surfaceMob(refSurface)), "contents");
    await p.close(fd1);
    await p.close(fd2);
  },
};

describe("IGT vmw_ref_count", () => {
  for (const [name, body] of Object.entries(SUBTESTS)) {
    it(name, async () => {
      expectClean(await runVmw(body));
    });
  }

  it("surface_prime_transfer_explicit_mob finds vmwgfx.surface-bo-ttm-ref-only (GEM refcount misuse)", async () => {
    const r = await runVmw(surfacePrimeTransferExplicitMob, {
      toggles: [VMWGFX_SURFACE_BO_TTM_REF_ONLY.name],
    });
    expect(splatText(r)).toMatch(/refcount_t: addition on 0; use-after-free/);
  });
});
