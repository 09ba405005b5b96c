/**
 * dma-buf.fence-cb-without-ref with vgem's own fences, the userspace path of the kernels that had
 * the bug (v3.17-v5.15): vgem keeps every fence it attaches in its fence idr until it signals it,
 * so the fence a poll callback is queued on never dies unsignalled and the missing reference does
 * no harm there. IGT's vgem_basic dmabuf-fence subtests stay clean with the toggle on; the
 * conformance case dma_buf_poll/poll-vs-fence-replace (sw_sync fences imported with
 * DMA_BUF_IOCTL_IMPORT_SYNC_FILE, v6.0) is what finds it.
 */

import "@primetime/dma-buf";
import { findCase, formatCaseResult } from "@primetime/conformance";
import { describe, expect, it } from "vitest";
import { driverUnderTest } from "./driver-under-test.js";

describe("dma-buf.fence-cb-without-ref through vgem's fences", () => {
  for (const name of ["vgem_basic/dmabuf-fence", "vgem_basic/dmabuf-fence-before"]) {
    it(`${name} is clean with the toggle on`, async () => {
      const r = await findCase(driverUnderTest, name).run({
        toggles: ["dma-buf.fence-cb-without-ref"],
      });
      expect(r.passed, formatCaseResult(r)).toBe(true);
    });
  }
});
