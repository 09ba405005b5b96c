/**
 * cross-share on two qxl devices makes only the syscalls its userspace needs: each device has
 * one client, which is its DRM master (no display server process); a drawable is one store into
 * the client's command page; the exporter checks its buffers after its own fills on qxl's
 * in-order command ring without polling first (one poll per checksum), while the importer waits
 * for the exporter's fill by implicit sync before its checksum (two polls per buffer). Neither
 * side maps the shared buffers (the GPU fills and checks them): each maps only its scratch page.
 */
import { baselineFixes } from "@primetime/sim";
import { describe, expect, it } from "vitest";
import type { CampaignConfig } from "./campaign/config.js";
import { runSchedule } from "./campaign/schedule.js";

const config: CampaignConfig = {
  drivers: ["qxl"],
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

describe("cross-share@qxl+qxl", () => {
  it("no display server, one store per draw, one poll per exporter checksum, two per import, one mmap per side", async () => {
    for (let i = 0; i < 5; i++) {
      const { run } = await runSchedule(config, "cross-share@qxl+qxl", i);
      expect(run.outcome).toBe("ok");
      expect(run.splats).toEqual([]);
      const steps = [...run.trace.steps()];
      const count = (task: RegExp, label: string) =>
        steps.filter((s) => task.test(s.task) && s.label === label).length;
      const buffers = count(/^exporter/, "sys_sendmsg");
      expect(buffers).toBeGreaterThanOrEqual(1);
      expect(steps.some((s) => s.task.startsWith("drm-master"))).toBe(false);
      // A fill per buffer and a checksum per buffer on each side, each one store and one push.
      const draws = count(/./, "qxl_ring_push(command)");
      expect(draws).toBe(3 * buffers);
      expect(count(/^(exporter|importer)/, "sys_user_write")).toBe(draws);
      expect(count(/^exporter/, "sys_poll")).toBe(buffers);
      expect(count(/^importer/, "sys_poll")).toBe(2 * buffers);
      expect(count(/^exporter/, "sys_mmap")).toBe(1);
      expect(count(/^importer/, "sys_mmap")).toBe(1);
    }
  }, 120_000);
});
