/**
 * The simulated dmesg: structured splats reported by the oracles (ARCHITECTURE.md section 3).
 *
 * A splat is what the kernel prints when a checker fires (a refcount warning, a KASAN report, a
 * lockdep chain...). Here it is data: kind, message, the task and step where it fired, the object
 * it concerns and related sites (alloc/free sites for KASAN, the other lock holder for lockdep).
 */

/** The checkers. `livelock` and `escape` are the scheduler's own findings. */
export type SplatKind =
  | "refcount"
  | "kasan"
  | "kmemleak"
  | "lockdep"
  | "rcu"
  | "sleep"
  | "warn"
  | "bug"
  | "deadlock"
  | "livelock"
  | "escape";

/** A place in a run: which task, at which step, doing what (the label of its last point). */
export interface Site {
  readonly task: string;
  readonly taskId: number;
  readonly step: number;
  readonly label: string;
}

/** A site with the role it plays in a splat ("allocated", "freed", "holder"...). */
export interface RelatedSite extends Site {
  readonly role: string;
}

export interface Splat {
  readonly kind: SplatKind;
  readonly message: string;
  /** The task that was running when the splat fired (null in scheduler context). */
  readonly task: string | null;
  readonly taskId: number;
  readonly step: number;
  /** The object the splat concerns, e.g. "gem_object#3". */
  readonly object?: string;
  readonly sites: readonly RelatedSite[];
}

export interface ReportOptions {
  object?: string;
  sites?: readonly RelatedSite[];
}

/** One simulation's log of splats. */
export class Dmesg {
  readonly splats: Splat[] = [];
  private readonly listeners: ((s: Splat) => void)[] = [];

  push(splat: Splat): void {
    this.splats.push(splat);
    for (const l of this.listeners) l(splat);
  }

  /** Calls `fn` for every splat reported from now on. */
  subscribe(fn: (s: Splat) => void): void {
    this.listeners.push(fn);
  }

  ofKind(kind: SplatKind): Splat[] {
    return this.splats.filter((s) => s.kind === kind);
  }

  get length(): number {
    return this.splats.length;
  }

  clear(): void {
    this.splats.length = 0;
  }

  format(): string {
    return this.splats.map(formatSplat).join("\n");
  }
}

/** Renders a splat the way a kernel developer reads dmesg. */
export function formatSplat(s: Splat): string {
  const who = s.task === null ? "<scheduler>" : `${s.task}[${s.taskId}]`;
  const obj = s.object ? ` (${s.object})` : "";
  let out = `[step ${s.step}] ${s.kind}: ${s.message}${obj} in ${who}`;
  for (const site of s.sites) {
    out += `\n    ${site.role} by ${site.task}[${site.taskId}] at step ${site.step}: ${site.label}`;
  }
  return out;
}
