/**
 * Argument checks at libdrm's API boundary, with Node's own convention: a value of the wrong
 * JavaScript type is a programming error and throws a `TypeError` whose `code` is
 * `'ERR_INVALID_ARG_TYPE'` (as `fs.openSync(Symbol())` does), before anything enters the kernel.
 * Values of the right type go to the kernel, which answers bad ones with an errno (a SysError).
 * Messages quote at most a short prefix of the rejected value.
 */

/** Node's ERR_INVALID_ARG_TYPE: `err.code === "ERR_INVALID_ARG_TYPE"`. */
export class InvalidArgTypeError extends TypeError {
  readonly code = "ERR_INVALID_ARG_TYPE";

  constructor(name: string, expected: string, actual: unknown) {
    super(`The "${name}" argument must be ${expected}. Received ${describeValue(actual)}`);
    this.name = "TypeError";
  }
}

/**
 * How Node's messages show a received value: its type and a short, safe rendering. Never throws:
 * a value whose inspection throws (a throwing `constructor` or `name` getter, a Proxy whose traps
 * throw, a revoked Proxy) is shown by its type alone.
 */
export function describeValue(v: unknown): string {
  try {
    return describeValueUnsafe(v);
  } catch {
    return typeof v === "function" ? "function" : "an object";
  }
}

function describeValueUnsafe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (typeof v === "function") return `function ${shorten(v.name || "<anonymous>")}`;
  if (typeof v === "object") {
    const ctor = (v as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof ctor === "string" && ctor !== ""
      ? `an instance of ${shorten(ctor)}`
      : "an object";
  }
  if (typeof v === "symbol") return `type symbol (${shorten(v.toString())})`;
  if (typeof v === "string") return `type string ('${shorten(v)}')`;
  if (typeof v === "bigint") return `type bigint (${shorten(v.toString())}n)`;
  return `type ${typeof v} (${shorten(String(v))})`;
}

/** At most `max` characters: longer text keeps `max - 3` and "..." (Node's way, max 28). */
export function shorten(s: string, max = 28): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** Throws InvalidArgTypeError unless `v` is a number. */
export function checkNumber(v: unknown, name: string): asserts v is number {
  if (typeof v !== "number") throw new InvalidArgTypeError(name, "of type number", v);
}

/** Throws InvalidArgTypeError unless `v` is a string. */
export function checkString(v: unknown, name: string): asserts v is string {
  if (typeof v !== "string") throw new InvalidArgTypeError(name, "of type string", v);
}

/** Throws InvalidArgTypeError unless `v` is a Uint8Array. */
export function checkBytes(v: unknown, name: string): asserts v is Uint8Array {
  if (!isUint8Array(v)) throw new InvalidArgTypeError(name, "an instance of Uint8Array", v);
}

/** `v instanceof Uint8Array`, false where asking throws (a Proxy whose getPrototypeOf throws). */
function isUint8Array(v: unknown): boolean {
  try {
    return v instanceof Uint8Array;
  } catch {
    return false;
  }
}

/** Throws InvalidArgTypeError unless `v` is an object (not null). */
export function checkObject(v: unknown, name: string): asserts v is object {
  if (typeof v !== "object" || v === null) throw new InvalidArgTypeError(name, "of type object", v);
}

/** Throws InvalidArgTypeError unless `v` is undefined or an object. */
export function checkOptionalObject(v: unknown, name: string): void {
  if (v !== undefined) checkObject(v, name);
}
