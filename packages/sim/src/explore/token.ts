import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import { ReplayTokenError } from "../errors.js";
import type { StrategyName } from "../strategy.js";
import { findStrategy, strategyByCode } from "./strategies/index.js";

/**
 * Replay tokens: a compact, versioned, checksummed encoding of one run.
 *
 * `pt1.` + base64url(deflate-raw(payload)) where payload is varints: strategy code, strategy
 * parameter, seed, step count, step limit, trace hash, the scenario name (length + UTF-8), the
 * toggles that were on (count, then length + UTF-8 each), the number of choices and the choices
 * themselves, then a CRC-32 of all that. Runs of the same choice (a PCT run keeps picking the
 * same task) compress well under deflate.
 * Decoding checks everything and throws a ReplayTokenError with a precise reason; it never
 * returns a half-decoded token.
 */
export const TOKEN_VERSION = 1;
const PREFIX = `pt${TOKEN_VERSION}.`;

/**
 * The largest token text accepted (characters), checked before anything is decoded. A run at
 * the default step limit of 200 000 steps has at most that many choices, a few hundred KiB of
 * varints before deflate: 4 MiB of text leaves a wide margin.
 */
export const MAX_TOKEN_LENGTH = 4 * 1024 * 1024;
/** The largest payload a token may inflate to (bytes): inflation stops there, it never grows. */
export const MAX_TOKEN_PAYLOAD = 16 * 1024 * 1024;
/** The longest step limit a token may carry (the simulation's own ceiling is far below it). */
const MAX_STEP_LIMIT = 2 ** 31 - 1;

/** At most `max` characters of untrusted input, JSON-quoted, for an error message. */
export function quotePrefix(s: string, max = 24): string {
  return s.length > max
    ? `${JSON.stringify(s.slice(0, max)).slice(0, -1)}…" (${s.length} characters)`
    : JSON.stringify(s);
}

export interface RunToken {
  strategy: StrategyName;
  param: number;
  seed: number;
  steps: number;
  /** The run's step limit: a replay must stop (as a livelock) exactly where the run did. */
  stepLimit: number;
  traceHash: number;
  scenario: string;
  /** Historic-bug toggles that were on: a replay turns the same ones on. */
  toggles: string[];
  choices: number[];
}

/** The form of a toggle name (see defineToggle). */
const TOGGLE_NAME = /^[a-z0-9-]+\.[a-z0-9-]+$/;

export function encodeToken(t: RunToken): string {
  const out: number[] = [];
  const put = (v: number) => {
    if (!Number.isInteger(v) || v < 0)
      throw new RangeError(`token field must be a non-negative integer, got ${v}`);
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
  };
  const def = findStrategy(t.strategy);
  if (!def) throw new RangeError(`token: unknown strategy ${JSON.stringify(t.strategy)}`);
  put(def.code);
  put(t.param);
  put(t.seed >>> 0);
  put(t.steps);
  put(t.stepLimit);
  put(t.traceHash >>> 0);
  const name = Buffer.from(t.scenario, "utf8");
  put(name.length);
  for (const b of name) out.push(b);
  put(t.toggles.length);
  for (const tg of t.toggles) {
    const bytes = Buffer.from(tg, "utf8");
    put(bytes.length);
    for (const b of bytes) out.push(b);
  }
  put(t.choices.length);
  for (const c of t.choices) put(c);
  const body = Buffer.from(out);
  const sum = Buffer.alloc(4);
  sum.writeUInt32LE(crc32(body) >>> 0);
  return PREFIX + deflateRawSync(Buffer.concat([body, sum]), { level: 6 }).toString("base64url");
}

export function decodeToken(token: unknown): RunToken {
  if (typeof token !== "string") throw new ReplayTokenError("a replay token must be a string");
  if (token.length > MAX_TOKEN_LENGTH + 64) {
    throw new ReplayTokenError(
      `replay token too long: ${token.length} characters, at most ${MAX_TOKEN_LENGTH} are accepted`,
    );
  }
  const text = token.trim();
  const m = /^pt(\d{1,9})\.(.*)$/s.exec(text);
  if (!m)
    throw new ReplayTokenError(
      `not a primetime replay token: expected it to start with "${PREFIX}", got ${quotePrefix(text)}`,
    );
  if (Number(m[1]) !== TOKEN_VERSION) {
    throw new ReplayTokenError(
      `replay token version ${m[1]} is not supported (this primetime reads version ${TOKEN_VERSION})`,
    );
  }
  const b64 = m[2]!;
  if (b64.length === 0 || !/^[A-Za-z0-9_-]+$/.test(b64)) {
    throw new ReplayTokenError("corrupt replay token: the part after the prefix is not base64url");
  }
  if (b64.length > MAX_TOKEN_LENGTH) {
    throw new ReplayTokenError(
      `replay token too long: ${b64.length} characters of payload, at most ${MAX_TOKEN_LENGTH} are accepted`,
    );
  }
  const packed = Buffer.from(b64, "base64url");
  // Buffer.from() drops what does not make a whole byte and inflate stops at the end of the
  // deflate stream: a token with characters appended must not replay as if it were intact.
  if (packed.toString("base64url") !== b64)
    throw new ReplayTokenError("corrupt replay token: its length is not that of a whole payload");
  let raw: Buffer;
  try {
    const inflated = inflateRawSync(packed, {
      maxOutputLength: MAX_TOKEN_PAYLOAD,
      info: true,
    }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    if (inflated.engine.bytesWritten !== packed.length)
      throw new ReplayTokenError(
        "corrupt replay token: bytes after the end of its compressed payload (altered?)",
      );
    raw = inflated.buffer;
  } catch (e) {
    if (e instanceof ReplayTokenError) throw e;
    if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new ReplayTokenError(
        `corrupt replay token: it inflates past ${MAX_TOKEN_PAYLOAD} bytes (no run has a payload that large)`,
      );
    }
    throw new ReplayTokenError(
      "corrupt replay token: it does not decompress (truncated or altered?)",
    );
  }
  if (raw.length < 5) throw new ReplayTokenError("corrupt replay token: too short");
  const body = raw.subarray(0, raw.length - 4);
  if (crc32(body) >>> 0 !== raw.readUInt32LE(raw.length - 4)) {
    throw new ReplayTokenError("corrupt replay token: checksum mismatch");
  }
  let pos = 0;
  const get = (what: string): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (pos >= body.length)
        throw new ReplayTokenError(`corrupt replay token: truncated in ${what}`);
      const b = body[pos++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
      if (mul > 2 ** 49) throw new ReplayTokenError(`corrupt replay token: oversized ${what}`);
    }
  };
  const code = get("strategy");
  const strategy = strategyByCode(code)?.name;
  if (!strategy) throw new ReplayTokenError(`corrupt replay token: unknown strategy code ${code}`);
  const param = get("strategy parameter");
  const seed = get("seed");
  const steps = get("step count");
  const stepLimit = get("step limit");
  if (stepLimit < 1 || stepLimit > MAX_STEP_LIMIT)
    throw new ReplayTokenError(`corrupt replay token: step limit ${stepLimit} is out of range`);
  if (steps > stepLimit)
    throw new ReplayTokenError(
      `corrupt replay token: ${steps} steps recorded past its step limit of ${stepLimit}`,
    );
  const traceHash = get("trace hash");
  const nameLen = get("scenario name length");
  if (pos + nameLen > body.length)
    throw new ReplayTokenError("corrupt replay token: truncated in scenario name");
  const scenario = body.subarray(pos, pos + nameLen).toString("utf8");
  pos += nameLen;
  const nToggles = get("toggle count");
  const toggles: string[] = [];
  for (let i = 0; i < nToggles; i++) {
    const len = get("toggle name length");
    if (pos + len > body.length)
      throw new ReplayTokenError("corrupt replay token: truncated in toggle names");
    const name = body.subarray(pos, pos + len).toString("utf8");
    if (!TOGGLE_NAME.test(name))
      throw new ReplayTokenError(`corrupt replay token: bad toggle name ${quotePrefix(name)}`);
    toggles.push(name);
    pos += len;
  }
  const n = get("choice count");
  if (n > body.length - pos)
    throw new ReplayTokenError("corrupt replay token: choice count exceeds its length");
  const choices: number[] = new Array(n);
  for (let i = 0; i < n; i++) choices[i] = get("choices");
  if (pos !== body.length) throw new ReplayTokenError("corrupt replay token: trailing bytes");
  return { strategy, param, seed, steps, stepLimit, traceHash, scenario, toggles, choices };
}
