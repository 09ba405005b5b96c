import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { point, spawn } from "../current.js";
import { ReplayTokenError } from "../errors.js";
import { defineToggle } from "../toggles.js";
import { replay } from "./explore.js";
import {
  decodeToken,
  encodeToken,
  MAX_TOKEN_LENGTH,
  MAX_TOKEN_PAYLOAD,
  type RunToken,
} from "./token.js";

const scenario = async () => {
  await spawn("a", async () => {
    await point("x");
  }).join();
};

defineToggle({
  name: "tokentest.known",
  description: "a toggle the token tests turn on",
  fixedBy: "nothing",
  kind: "hypothetical",
  kernels: "none",
});

const base: RunToken = {
  strategy: "pct",
  param: 3,
  seed: 1,
  steps: 3,
  stepLimit: 1000,
  traceHash: 0,
  scenario: "s",
  toggles: [],
  choices: [],
};

/** What `replay()` rejects `token` with. */
async function rejection(token: string): Promise<Error> {
  try {
    await replay(token, scenario);
  } catch (e) {
    return e as Error;
  }
  throw new Error("replay accepted the token");
}

describe("replay tokens with a valid checksum but impossible content", () => {
  it("an unknown toggle is a ReplayTokenError, not a RangeError", async () => {
    const e = await rejection(encodeToken({ ...base, toggles: ["nobody.defines-this"] }));
    expect(e).toBeInstanceOf(ReplayTokenError);
    expect(e.message).toMatch(/turns on an unknown toggle "nobody.defines-this"/);
  });

  it("a toggle name that is not one is a ReplayTokenError quoting a short prefix", () => {
    const long = "X".repeat(5000);
    const t = encodeToken({ ...base, toggles: [long] });
    expect(() => decodeToken(t)).toThrow(ReplayTokenError);
    try {
      decodeToken(t);
    } catch (e) {
      expect((e as Error).message).toMatch(/bad toggle name "X{24}…" \(5000 characters\)/);
      expect((e as Error).message.length).toBeLessThan(120);
    }
  });

  it("step limit 0 is a ReplayTokenError", async () => {
    const e = await rejection(encodeToken({ ...base, steps: 0, stepLimit: 0 }));
    expect(e).toBeInstanceOf(ReplayTokenError);
    expect(e.message).toMatch(/step limit 0 is out of range/);
  });

  it("more steps than the step limit is a ReplayTokenError", () => {
    expect(() => decodeToken(encodeToken({ ...base, steps: 10, stepLimit: 5 }))).toThrow(
      /10 steps recorded past its step limit of 5/,
    );
  });

  it("a known toggle still replays (the check is on the name, not the toggle)", async () => {
    const e = await rejection(encodeToken({ ...base, toggles: ["tokentest.known"] }));
    // The token decodes and the toggle is known: what fails is the run (no choices recorded).
    expect(e).not.toBeInstanceOf(ReplayTokenError);
    expect(e.name).toBe("ReplayMismatchError");
  });
});

describe("altered tokens", () => {
  const good = encodeToken({ ...base, choices: [1, 2, 3, 2, 1] });

  it("the token itself decodes", () => {
    expect(decodeToken(good).choices).toEqual([1, 2, 3, 2, 1]);
  });

  it.each(["A", "AAAA", "xyz12345", "QQ"])("characters appended (%j) are rejected", (extra) => {
    expect(() => decodeToken(good + extra)).toThrow(ReplayTokenError);
    expect(() => decodeToken(good + extra)).toThrow(/corrupt replay token/);
  });
});

describe("oversized tokens", () => {
  it("a token longer than the limit is rejected before anything is decoded", () => {
    const huge = `pt1.${"A".repeat(MAX_TOKEN_LENGTH + 1)}`;
    expect(() => decodeToken(huge)).toThrow(/replay token too long: \d+ characters/);
  });

  it("a small token inflating past the payload limit is rejected as it inflates", () => {
    // 64 MiB of zeros deflate to about 64 KiB: a decompression bomb.
    const bomb = `pt1.${deflateRawSync(Buffer.alloc(4 * MAX_TOKEN_PAYLOAD)).toString("base64url")}`;
    expect(bomb.length).toBeLessThan(MAX_TOKEN_LENGTH);
    expect(() => decodeToken(bomb)).toThrow(/inflates past 16777216 bytes/);
  });
});

describe("error messages quote at most a short prefix of the input", () => {
  it("a long non-token", () => {
    try {
      decodeToken(`hello${"y".repeat(100_000)}`);
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(ReplayTokenError);
      expect((e as Error).message).toMatch(/got "helloy{19}…" \(100005 characters\)/);
      expect((e as Error).message.length).toBeLessThan(160);
    }
  });

  it("a huge version number", () => {
    expect(() => decodeToken(`pt${"9".repeat(5000)}.AAAA`)).toThrow(
      /^not a primetime replay token: .{0,120}$/,
    );
  });
});
