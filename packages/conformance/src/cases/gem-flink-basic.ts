/**
 * IGT tests/gem_flink_basic.c: GEM_FLINK names an object, GEM_OPEN opens it by name, on one file
 * or across files.
 */

import { type CaseContext, type CaseSpec, SEQUENTIAL_DEFAULTS } from "../harness.js";

const BO_SIZE = 16 * 1024;
/** IGT's bad handle and bad name. */
const BAD = 0x10101010;

const group = "gem_flink_basic";

/** basic: flink a new object, then open it by name on the same file: a new, non-zero handle. */
const basic: CaseSpec = {
  name: `${group}/basic`,
  group,
  race: false,
  description: "flink gives a name; GEM_OPEN of the name gives a new non-zero handle",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const handle = await t.createBo(fd, BO_SIZE);
    const name = await fd.gemFlink(handle);
    t.check(name !== 0, "flink returned name 0");
    const opened = await fd.gemOpen(name);
    t.check(opened.handle !== 0, "GEM_OPEN returned handle 0");
    t.check(opened.handle !== handle, "GEM_OPEN on the creating file returned the same handle");
    t.check(opened.size === BO_SIZE, `GEM_OPEN size ${opened.size}, expected ${BO_SIZE}`);
    await fd.close();
  },
};

/** double-flink: flinking one handle twice gives the same name. */
const doubleFlink: CaseSpec = {
  name: `${group}/double-flink`,
  group,
  race: false,
  description: "a second flink of the same handle returns the same name",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    const handle = await t.createBo(fd, BO_SIZE);
    const name1 = await fd.gemFlink(handle);
    const name2 = await fd.gemFlink(handle);
    t.check(name2 === name1, `second flink gave name ${name2}, first ${name1}`);
    await fd.close();
  },
};

/** bad-flink: flink of a handle that does not exist is ENOENT. */
const badFlink: CaseSpec = {
  name: `${group}/bad-flink`,
  group,
  race: false,
  description: "flink of handle 0x10101010 fails with ENOENT",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    await t.expectErrno(fd.gemFlink(BAD), "ENOENT", "flink of a bad handle");
    await fd.close();
  },
};

/** bad-open: GEM_OPEN of a name that does not exist is ENOENT. */
const badOpen: CaseSpec = {
  name: `${group}/bad-open`,
  group,
  race: false,
  description: "GEM_OPEN of name 0x10101010 fails with ENOENT",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    await t.expectErrno(fd.gemOpen(BAD), "ENOENT", "GEM_OPEN of a bad name");
    await fd.close();
  },
};

/**
 * flink-lifetime: a name stays valid while another file holds a handle, after the creating
 * file is closed.
 */
const flinkLifetime: CaseSpec = {
  name: `${group}/flink-lifetime`,
  group,
  race: false,
  description: "a name outlives the creator's file while another file holds a handle",
  defaults: SEQUENTIAL_DEFAULTS,
  async body(t: CaseContext) {
    const fd = await t.open();
    let fd2 = await t.open();
    const handle = await t.createBo(fd2, BO_SIZE);
    const name = await fd2.gemFlink(handle);
    const opened = await fd.gemOpen(name);
    t.check(opened.handle !== 0, "GEM_OPEN returned handle 0");
    await fd2.close();
    fd2 = await t.open();
    const again = await fd2.gemOpen(name);
    t.check(again.handle !== 0, "GEM_OPEN after the creator's close returned handle 0");
    await fd2.close();
    await fd.close();
  },
};

export const GEM_FLINK_BASIC: readonly CaseSpec[] = [
  basic,
  doubleFlink,
  badFlink,
  badOpen,
  flinkLifetime,
];
