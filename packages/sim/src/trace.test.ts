import { describe, expect, it } from "vitest";
import { point, spawn } from "./current.js";
import { formatRaceTable } from "./explore/race-table.js";
import { fmtLabel, opLabel } from "./label.js";
import { Simulation } from "./simulation.js";
import { Trace } from "./trace.js";

describe("Trace", () => {
  it("records steps, interns labels and grows past its initial capacity", () => {
    const t = new Trace();
    t.nameTask(1, "a");
    t.nameTask(2, "b");
    for (let i = 0; i < 5000; i++) t.step(1 + (i % 2), i % 3 === 0 ? "x" : `y${i % 7}`);
    expect(t.length).toBe(5000);
    expect(t.at(1)).toEqual({ step: 1, taskId: 1, task: "a", label: "x" });
    expect(t.at(5000).task).toBe("b");
    expect(t.labels.length).toBeLessThanOrEqual(8);
    expect(() => t.at(5001)).toThrow(RangeError);
  });

  it("sizes a fresh trace after the previous one, with the same content and hash", () => {
    const fill = (t: Trace, n: number) => {
      for (let i = 0; i < n; i++) {
        t.step(1 + (i % 3), `s${i % 4}`);
        if (i % 5 === 0) t.choice(i % 2);
      }
      return t;
    };
    const small = fill(new Trace(), 700);
    const smallHash = small.hash;
    fill(new Trace(), 9000); // the next fresh trace starts at this one's size
    const big = new Trace();
    const cap = (big as unknown as { tasksCol: Int32Array }).tasksCol.length;
    expect(cap).toBeGreaterThanOrEqual(9000);
    fill(big, 700);
    expect([big.length, big.choiceCount, big.hash]).toEqual([700, 140, smallHash]);
    // and a short run after a long one sizes the next trace down again
    const after = new Trace();
    expect((after as unknown as { tasksCol: Int32Array }).tasksCol.length).toBe(1024);
  });

  it("hashes incrementally: the same content gives the same hash however it is read", () => {
    const a = new Trace();
    const b = new Trace();
    for (let i = 0; i < 3000; i++) {
      a.step(i % 4, `p${i % 5}`);
      if (i % 100 === 0) void a.hash; // read midway
      b.step(i % 4, `p${i % 5}`);
      if (i % 7 === 0) {
        a.choice(i % 3);
        b.choice(i % 3);
      }
    }
    expect(a.hash).toBe(b.hash);
    b.choice(1);
    expect(b.hash).not.toBe(a.hash);
  });

  it("prints steps and a race table with one column per task", async () => {
    const r = await new Simulation({ seed: 1, strategy: { kind: "dfs", prefix: [] } }).run(
      async () => {
        spawn("cpu0", async () => {
          await point("refcount_read(obj)");
          await point("kfree(obj)");
        });
        spawn("cpu1", async () => {
          await point("kref_get(obj)");
        });
      },
    );
    const text = r.trace.format();
    expect(text).toMatch(/cpu0\[2\]\s+refcount_read\(obj\)/);
    const table = formatRaceTable(r, { columnWidth: 20, caption: false }).split("\n");
    expect(table[0]).toMatch(/^main\[1\]\s+\| cpu0\[2\]\s+\| cpu1\[3\]$/);
    expect(table.some((l) => /\| kref_get\(obj\)$/.test(l))).toBe(true);
  });

  it("hands its buffers to the next trace when recycled, and refuses to be read after", () => {
    const a = new Trace();
    for (let i = 0; i < 3000; i++) a.step(1 + (i % 2), `p${i % 3}`);
    a.choice(2);
    const hash = a.hash;
    a.step(2, "p1");
    const longer = a.hash;
    a.recycle();
    expect(a.hash).toBe(longer); // the hash is taken before the buffers go
    expect(() => a.at(1)).toThrow(/recycled/);
    expect(() => a.choices).toThrow(/recycled/);
    expect(a.length).toBe(0);
    // The next trace starts empty on those buffers and records the same content to the same hash.
    const b = new Trace();
    expect(b.length).toBe(0);
    for (let i = 0; i < 3000; i++) b.step(1 + (i % 2), `p${i % 3}`);
    b.choice(2);
    expect(b.hash).toBe(hash);
    expect(b.choices).toEqual([2]);
  });

  it("recycled with keepHash: false, skips the hash and refuses to give it", () => {
    const a = new Trace();
    for (let i = 0; i < 100; i++) a.step(1, `p${i % 3}`);
    const reference = new Trace();
    for (let i = 0; i < 100; i++) reference.step(1, `p${i % 3}`);
    const hash = reference.hash;
    reference.recycle({ keepHash: false });
    a.recycle({ keepHash: false });
    expect(() => a.hash).toThrow(/without its hash/);
    expect(() => a.at(1)).toThrow(/recycled/);
    // Its buffers went to the next trace, which records and hashes as a fresh one would.
    const b = new Trace();
    for (let i = 0; i < 100; i++) b.step(1, `p${i % 3}`);
    expect(b.length).toBe(100);
    expect(b.hash).toBe(hash);
  });
});

describe("opLabel", () => {
  it("returns one string per (op, object) pair", () => {
    const name = ["filp", "#3"].join("");
    expect(opLabel("fput", name)).toBe("fput(filp#3)");
    expect(opLabel("fput", "filp#3")).toBe(opLabel("fput", name));
    expect(opLabel("get_file", "filp#3")).toBe("get_file(filp#3)");
  });
});

describe("fmtLabel", () => {
  it("builds before + object + after, keeping the pieces apart", () => {
    const name = ["fence", "#2"].join("");
    expect(fmtLabel("test_bit(SIGNALED, ", name, ")")).toBe("test_bit(SIGNALED, fence#2)");
    expect(fmtLabel("", "gem#1", ".export_dma_buf = NULL")).toBe("gem#1.export_dma_buf = NULL");
    // The same object between other affixes is another label.
    expect(fmtLabel("READ(", "gem#1", ")")).toBe("READ(gem#1)");
    expect(fmtLabel("READ(", "gem#1", ").x")).toBe("READ(gem#1).x");
  });
});
