/**
 * The simulated dmesg: structured splats reported by the oracles (ARCHITECTURE.md section 3).
 *
 * A splat is what the kernel prints when a checker fires (a refcount warning, a KASAN report, a
 * lockdep chain...). Here it is data: kind, message, the task and step where it fired, the object
 * it concerns and related sites (alloc/free sites for KASAN, the other lock holder for lockdep).
 */

/** The built-in checkers. `livelock` and `escape` are the scheduler's own findings. */
export type BuiltinSplatKind =
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

/**
 * A splat kind: a built-in one, or one a new oracle declared with `defineSplatKind()` (a
 * userspace-visible divergence checker, a new sanitizer). `report()` refuses kinds nobody
 * declared, so a typo is an error, not a silently new kind.
 */
export type SplatKind = BuiltinSplatKind | (string & {});

/** What a splat kind stands for. */
export interface SplatKindInfo {
  /** Lowercase, e.g. "divergence". */
  readonly name: string;
  /** The oracle that reports it, in a line. */
  readonly description: string;
}

const BUILTIN_KINDS: readonly SplatKindInfo[] = [
  {
    name: "refcount",
    description: "refcount_t saturation/underflow, addition on 0 (lib/refcount.c)",
  },
  {
    name: "kasan",
    description: "use-after-free and out-of-bounds accesses to slab objects (KASAN)",
  },
  { name: "kmemleak", description: "objects no longer referenced and never freed (kmemleak)" },
  { name: "lockdep", description: "lock order inversions, locks held wrongly (lockdep)" },
  {
    name: "rcu",
    description: "RCU misuse: sleeping in a read-side section, unprotected dereferences",
  },
  { name: "sleep", description: "sleeping in atomic context (might_sleep)" },
  { name: "warn", description: "WARN_ON() and the harnesses' checks (leaked state, divergences)" },
  { name: "bug", description: "BUG() and exceptions escaping a task (the task dies)" },
  { name: "deadlock", description: "tasks blocked forever (the scheduler's hung-task view)" },
  { name: "livelock", description: "the step limit was reached (the scheduler)" },
  { name: "escape", description: "a task awaited something the simulation does not control" },
];

const kinds = new Map<string, SplatKindInfo>(BUILTIN_KINDS.map((k) => [k.name, k]));

/**
 * Declares the splat kind of a new oracle. Declaring a built-in kind, or the same kind twice
 * with another description, is an error.
 */
export function defineSplatKind(info: SplatKindInfo): SplatKindInfo {
  if (!/^[a-z][a-z0-9-]*$/.test(info.name))
    throw new Error(`bad splat kind "${info.name}" (lowercase letters, digits, dashes)`);
  const old = kinds.get(info.name);
  if (old && old.description !== info.description)
    throw new Error(`splat kind ${info.name} is already defined: ${old.description}`);
  kinds.set(info.name, info);
  return info;
}

/** Every splat kind, built-in ones first. */
export function listSplatKinds(): SplatKindInfo[] {
  return [...kinds.values()];
}

/** True if `kind` is built in or was declared with defineSplatKind(). */
export function isSplatKind(kind: string): boolean {
  return kinds.has(kind);
}

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
