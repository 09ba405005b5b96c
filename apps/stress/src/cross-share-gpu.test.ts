/**
 * cross-share checks contents through the drivers' GPU paths where they have one: qxl fills with
 * EXECBUFFER and checksums with its device's CRC draw, vmwgfx fills with its execbuf and checks
 * a GPU copy; vgem fills and checksums with the CPU. Clean on every ordered pair, and the GPU
 * paths really ran.
 */
import { describe, expect, it } from "vitest";
import { type Io, main } from "./cli.js";
import { gpuStats } from "./scenarios/sharing/cross-share.js";

describe("cross-share through the GPU paths", () => {
  it("fills and checksums on qxl's and vmwgfx's GPUs, the CPU on vgem, clean on every pair", async () => {
    gpuStats.fills = {};
    gpuStats.checksums = {};
    const out: string[] = [];
    const io: Io = { log: (t) => out.push(t), error: () => {}, color: false };
    const code = await main(
      ["run", "--scenario", "cross-share", "--seeds", "5", "--workers", "1", "--quiet"],
      io,
    );
    expect(code, out.join("\n")).toBe(0);
    // 5 schedules x 3 pairs with each exporter, 1-3 buffers each.
    expect(gpuStats.fills.qxl).toBeGreaterThanOrEqual(15);
    expect(gpuStats.fills.vmwgfx).toBeGreaterThanOrEqual(15);
    expect(gpuStats.fills.vgem).toBeUndefined();
    // qxl's GPU reaches its own buffers and imports (exporter and importer side); vmwgfx's
    // reaches its own buffers only (the exporter's read-back).
    expect(gpuStats.checksums.qxl).toBeGreaterThanOrEqual(30);
    expect(gpuStats.checksums.vmwgfx).toBeGreaterThanOrEqual(15);
    expect(gpuStats.checksums.vgem).toBeUndefined();
  }, 300_000);
});
