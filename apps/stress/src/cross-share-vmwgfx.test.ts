/**
 * cross-share on two vmwgfx devices makes only the syscalls its userspace needs: the exporter
 * makes its buffers with ALLOC_BO, fills and checksums them through EXECBUF (a copy into one
 * scratch buffer of at least 4 pages, never remade) after its own fills on the in-order device
 * without polling first; the importer, whose
 * device cannot reach another device's buffer, submits nothing and makes no scratch buffer: it
 * waits for the exporter's fill by implicit sync (one poll per buffer) and checks through its CPU
 * view.
 */
import { baselineFixes } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import type { CampaignConfig } from "./campaign/config.js";
import { runSchedule } from "./campaign/schedule.js";

const config: CampaignConfig = {
  drivers: ["vmwgfx"],
  fixes: baselineFixes(),
  timeMs: null,
  faults: null,
  shard: null,
  stepLimit: 200_000,
  scenarios: ["cross-share"],
  strategy: { strategy: "pct", depth: 3 },
  seeds: 5,
  seed: 1,
  bugs: [],
  failFast: false,
};

describe("cross-share@vmwgfx+vmwgfx", () => {
  it("GPU work on the exporter's side only, one scratch buffer, polls by the importer only", async () => {
    for (let i = 0; i < 5; i++) {
      const { run } = await runSchedule(config, "cross-share@vmwgfx+vmwgfx", i);
      expect(run.outcome).toBe("ok");
      expect(run.splats).toEqual([]);
      const steps = [...run.trace.steps()];
      const count = (task: RegExp, label: string) =>
        steps.filter((s) => task.test(s.task) && s.label === label).length;
      const buffers = count(/^exporter/, "sys_sendmsg");
      expect(buffers).toBeGreaterThanOrEqual(1);
      // A fill and a copy per buffer, all submitted by the exporter.
      expect(count(/^exporter/, "vmw_execbuf_submit_fifo")).toBe(2 * buffers);
      expect(count(/^importer/, "vmw_execbuf_submit_fifo")).toBe(0);
      // The exporter's buffers and one scratch buffer, all with ALLOC_BO (no dumb buffer); the
      // importer only imports.
      expect(count(/^exporter/, "vmw_bo_create")).toBe(buffers + 1);
      expect(count(/^exporter/, "drm_mode_create_dumb")).toBe(0);
      expect(count(/^importer/, "vmw_bo_create")).toBe(0);
      expect(count(/^importer/, "vmw_bo_create(ttm_bo_type_sg)")).toBe(buffers);
      expect(count(/^exporter/, "sys_poll")).toBe(0);
      expect(count(/^importer/, "sys_poll")).toBe(buffers);
    }
  }, 120_000);
});
