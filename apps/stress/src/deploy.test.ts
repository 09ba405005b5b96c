// The shipped deployment examples (deploy/): a Kubernetes indexed Job and a GitHub Actions
// matrix. Their shard arguments must cover the seed space exactly once, and their merge steps
// must merge exactly the reports their shards write.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { parseShard } from "./campaign/config.js";
import { shardIndices } from "./campaign/runner.js";

const read = (p: string) => readFileSync(new URL(`../deploy/${p}`, import.meta.url), "utf8");

/** The command line a `sh -c` script runs, with $((...)) arithmetic expanded. */
function expand(script: string, env: Record<string, number>): string {
  return script.replace(/\$\(\(([^)]*)\)\)/g, (_, expr: string) => {
    const js = expr.replace(/[A-Z_]+/g, (v) => String(env[v] ?? Number.NaN));
    if (!/^[\d\s+*-]+$/.test(js)) throw new Error(`cannot evaluate $((${expr}))`);
    return String(Function(`return (${js})`)());
  });
}

interface ShardRun {
  shard: string;
  seeds: number;
  json: string;
}

function shardRunOf(cmd: string): ShardRun {
  const flag = (f: string) => new RegExp(`${f} (\\S+)`).exec(cmd)?.[1];
  const shard = flag("--shard");
  const seeds = flag("--seeds");
  const json = flag("--json");
  if (!shard || !seeds || !json) throw new Error(`not a shard run: ${cmd}`);
  return { shard, seeds: Number(seeds), json };
}

/** Every schedule index of [0, seeds) is run by exactly one of the shards. */
function expectExactCover(runs: readonly ShardRun[]): void {
  const seeds = runs[0]!.seeds;
  const n = parseShard(runs[0]!.shard).count;
  expect(runs).toHaveLength(n);
  const count = new Array<number>(seeds).fill(0);
  for (const r of runs) {
    expect(r.seeds).toBe(seeds);
    const s = parseShard(r.shard);
    expect(s.count).toBe(n);
    for (const i of shardIndices(s, seeds)) count[i]!++;
  }
  expect(count.every((c) => c === 1)).toBe(true);
}

describe("deploy/kubernetes: indexed Job + merge Job", () => {
  it("the shards cover the seed space exactly once and the merge merges what they write", () => {
    const docs = parseAllDocuments(read("kubernetes/stress-campaign.yaml")).map((d) => d.toJS());
    const job = docs.find((d) => d.kind === "Job");
    expect(job.spec.completionMode).toBe("Indexed");
    const n: number = job.spec.completions;
    const script: string = job.spec.template.spec.containers[0].args.join(" ");
    const runs = Array.from({ length: n }, (_, i) =>
      shardRunOf(expand(script, { JOB_COMPLETION_INDEX: i })),
    );
    expectExactCover(runs);
    const merge = parseYaml(read("kubernetes/stress-merge.yaml"));
    const mergeCmd: string = merge.spec.template.spec.containers[0].args.join(" ");
    const inputs = /stress merge ((?:\S+\.json\s*)+)/.exec(mergeCmd)![1]!.trim().split(/\s+/);
    expect([...inputs].sort()).toEqual(runs.map((r) => r.json).sort());
  });
});

describe("deploy/github-actions: matrix + merge job", () => {
  it("the matrix covers the seed space exactly once and the merge merges what it uploads", () => {
    const wf = parseYaml(read("github-actions/stress-campaign.yml"));
    const shards: number[] = wf.jobs.shard.strategy.matrix.shard;
    const step = wf.jobs.shard.steps.find((s: { run?: string }) => s.run?.includes("stress run"));
    const runs = shards.map((m) =>
      shardRunOf(
        step.run.replace(/\$\{\{\s*matrix\.shard\s*\}\}/g, String(m)).replace(/\\\n/g, " "),
      ),
    );
    expectExactCover(runs);
    const merge = wf.jobs.merge.steps.find((s: { run?: string }) =>
      s.run?.includes("stress merge"),
    );
    const inputs = /stress merge ((?:\S+\.json\s*)+)/.exec(merge.run)![1]!.trim().split(/\s+/);
    expect([...inputs].sort()).toEqual(runs.map((r) => r.json).sort());
  });
});
