/**
 * `toggles`: every historic-bug toggle with what it stands for (kind, the fixing commit's title
 * and hash, the kernel versions), the layer of the model that honours it, and which scenario
 * finds it on which drivers (or why none does); `--json` prints the same as data. `cli.ts` loads
 * this module only when the command runs; it loads the models (to know their toggles) and the
 * detection matrix's plan, and no campaign machinery (runner, reports, workers).
 */
import { planBugs } from "./campaign/bugs-matrix.js";
import { findCampaignScenario } from "./campaign/registry.js";
import type { Io } from "./cli.js";
import { EXIT } from "./cli-defaults.js";
import { installedDrivers } from "./drivers.js";
import type { Colors } from "./format.js";
import { type ToggleEntry, toggleTable } from "./toggles.js";

/** The layer of the model (ARCHITECTURE.md section 4) whose code a toggle changes. */
export interface ToggleLayer {
  /** The layer, as the architecture names it. */
  readonly layer: string;
  /** The package that defines the toggle and honours it. */
  readonly package: string;
}

/**
 * Toggle name prefix (the subsystem before the dot) -> the layer and package that define it.
 * A toggle of a prefix not listed here fails the `toggles` test: add the prefix.
 */
export const TOGGLE_LAYERS: Readonly<Record<string, ToggleLayer>> = {
  epoll: { layer: "kernel (files, epoll)", package: "@primetime/kernel" },
  fs: { layer: "kernel (files, epoll)", package: "@primetime/kernel" },
  unix: { layer: "kernel (unix sockets)", package: "@primetime/kernel" },
  "dma-buf": { layer: "dma-buf", package: "@primetime/dma-buf" },
  gem: { layer: "DRM core (GEM)", package: "@primetime/gem" },
  prime: { layer: "DRM core (PRIME)", package: "@primetime/gem" },
  ttm: { layer: "TTM", package: "@primetime/ttm" },
  vgem: { layer: "driver", package: "@primetime/vgem" },
  qxl: { layer: "driver", package: "@primetime/qxl" },
  vmwgfx: { layer: "driver", package: "@primetime/vmwgfx" },
};

/** The layer of toggle `name`, or null for a prefix TOGGLE_LAYERS does not know. */
export function toggleLayer(name: string): ToggleLayer | null {
  return TOGGLE_LAYERS[name.slice(0, name.indexOf("."))] ?? null;
}

/** One toggle as `toggles --json` prints it. */
export interface ToggleRecord {
  readonly name: string;
  readonly kind: ToggleEntry["kind"];
  /** What the toggle re-introduces. */
  readonly description: string;
  /** The commit that fixed it (historic), the patch that proposes the fix, or what it models. */
  readonly fix: { readonly title: string; readonly commit: string | null };
  /** The kernel versions the buggy behaviour applies to. */
  readonly kernels: string;
  readonly layer: string;
  readonly package: string;
  /** The scenario that finds it, or null (then `unfindable` says why). */
  readonly foundBy: {
    /** A harness scenario (`list`), or a campaign unit key (`scenario@drivers`). */
    readonly scenario: string;
    /**
     * The drivers `bugs` hunts it on; [] for a scenario that boots its own machine (TTM's and
     * the drivers' own races).
     */
    readonly drivers: readonly string[];
    /** The strategy of `schedules`: pct:3, or the case's own (`fs.fget-no-recheck`: pos). */
    readonly strategy: string;
    /** Schedules (that strategy, seed 1) within which the scenario finds it. */
    readonly schedules: number;
    /** How the bug shows. */
    readonly how: string;
  } | null;
  readonly unfindable: string | null;
}

/** The `toggles --json` document. */
export interface TogglesDocument {
  readonly schema: "primetime-stress/toggles";
  readonly version: 1;
  readonly toggles: readonly ToggleRecord[];
}

/** Every toggle of the loaded packages, sorted by name, with its layer and scenario. */
export function toggleRecords(): ToggleRecord[] {
  const drivers = installedDrivers().map((d) => d.name);
  const plan = planBugs(drivers);
  return toggleTable().map((t) => {
    const layer = toggleLayer(t.name);
    const hunts = plan.hunts.filter((h) => h.toggle === t.name);
    const own = t.scenario !== null && findCampaignScenario(t.scenario)?.arity === 0;
    return {
      name: t.name,
      kind: t.kind,
      description: t.description,
      fix: { title: t.fixedBy, commit: t.commit },
      kernels: t.kernels,
      layer: layer?.layer ?? "unknown",
      package: layer?.package ?? "unknown",
      foundBy:
        t.scenario === null
          ? null
          : {
              scenario: t.scenario,
              drivers: own ? [] : [...new Set(hunts.flatMap((h) => h.drivers))].sort(),
              strategy: t.strategy ?? "pct:3",
              schedules: t.schedules ?? 0,
              how: t.how ?? "",
            },
      unfindable: t.unfindable,
    };
  });
}

/** `toggles [--json]`. */
export function togglesCommand(o: { json?: boolean }, io: Io, c: Colors): number {
  const records = toggleRecords();
  if (o.json) {
    const doc: TogglesDocument = {
      schema: "primetime-stress/toggles",
      version: 1,
      toggles: records,
    };
    io.log(JSON.stringify(doc, null, 2));
    return EXIT.clean;
  }
  const kinds = new Map<string, number>();
  for (const r of records) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
  io.log(
    `${c.bold(`${records.length} toggles`)} ${c.dim(`(${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}; run --bug <name> turns one on)`)}`,
  );
  for (const r of records) {
    const label = { historic: "fixed by", proposed: "proposed fix", hypothetical: "fix" }[r.kind];
    const fix = `${label}: ${r.fix.commit ? `${r.fix.commit} ` : ""}"${r.fix.title}"`;
    const where = r.foundBy
      ? `found by ${r.foundBy.scenario}${r.foundBy.drivers.length ? ` on ${r.foundBy.drivers.join(", ")}` : ""} (${r.foundBy.strategy} seed 1 within ${r.foundBy.schedules} schedule${r.foundBy.schedules === 1 ? "" : "s"}): ${r.foundBy.how}`
      : `not hunted: ${r.unfindable}`;
    io.log(`${c.bold(r.name)} ${c.dim(`[${r.kind}]`)}  ${r.layer} (${r.package})`);
    io.log(`  ${fix}`);
    io.log(`  kernels: ${r.kernels}`);
    io.log(`  ${r.foundBy ? where : c.yellow(where)}`);
  }
  return EXIT.clean;
}
