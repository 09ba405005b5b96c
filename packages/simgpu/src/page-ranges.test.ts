import { describe, expect, it } from "vitest";
import { PageRanges } from "./page-ranges.js";

describe("PageRanges", () => {
  it("allocates first fit, fragments, and coalesces holes on free", () => {
    const r = new PageRanges(8);
    const a = r.insert(3);
    const b = r.insert(2);
    const c = r.insert(3);
    expect({ a, b, c, used: r.used }).toEqual({ a: 0, b: 3, c: 5, used: 8 });
    expect(r.insert(1)).toBeNull();
    expect(r.remove(0)).toBe(3);
    expect(r.remove(5)).toBe(3);
    // Two holes of 3 pages: no room for 4 until the middle range goes and they coalesce.
    expect(r.insert(4)).toBeNull();
    expect(r.remove(3)).toBe(2);
    expect(r.insert(8)).toBe(0);
    expect(r.allocations()).toEqual([[0, 8]]);
  });

  it("refuses to free what is not the start of an allocation", () => {
    const r = new PageRanges(4);
    r.insert(2);
    expect(r.remove(1)).toBeUndefined();
    expect(r.remove(2)).toBeUndefined();
    expect(r.used).toBe(2);
  });
});
