import { formatSplat } from "@primetime/sim";
import { explore } from "@primetime/sim/explore";
import { it } from "vitest";
import { evictBusyVsRelease } from "./scenarios.js";
import { TTM_EVICT_BUSY_PLAIN_GET } from "./toggles.js";
it("probe", async () => {
  const r = await explore(evictBusyVsRelease, { toggles: [TTM_EVICT_BUSY_PLAIN_GET.name], schedules: 300, seed: 1 });

  console.log("failures", r.failures.length, JSON.stringify(Object.keys(r)));
  const f = r.failures[0];
  if (f) console.log((f as any).schedule ?? "", f.splats.map((s) => formatSplat(s)).join("\n").slice(0, 1500));
  const off = await explore(evictBusyVsRelease, { schedules: 150, seed: 7 });
  console.log("off failures", off.failures.length, off.failures[0]?.splats.map((s) => formatSplat(s)).join("\n").slice(0, 1500), off.failures[0]?.message);
}, 600000);
