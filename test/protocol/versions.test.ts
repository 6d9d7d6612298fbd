/** PROTOCOL.md P10a: the version a HELLO agrees on. */
import { describe, expect, test } from "bun:test";
import { agreedVersion, decodeClientMessage, PROTOCOL_VERSIONS, type ProtocolError } from "../../src/protocol/index.ts";

describe("agreedVersion (P10a)", () => {
  test("the highest version both speak", () => {
    expect(PROTOCOL_VERSIONS).toEqual([1, 2, 3, 4, 5]);
    expect(agreedVersion(1, [1, 2])).toBe(2);
    expect(agreedVersion(1, [2, 1, 9])).toBe(2);
    expect(agreedVersion(1, [1, 6, 7])).toBe(1);
    expect(agreedVersion(1, [1, 5, 7])).toBe(5);
    expect(agreedVersion(1, [1, 2, 3, 4])).toBe(4);
    expect(agreedVersion(1, [1, 2, 3, 4, 5])).toBe(5);
    expect(agreedVersion(1, [1, 2, 3, 4, 5], [1, 2, 3, 4])).toBe(4);
    expect(agreedVersion(1, [1, 2, 3, 4], [1, 2, 3])).toBe(3);
    expect(agreedVersion(1, [1, 2, 3])).toBe(3);
    expect(agreedVersion(1, [1, 2])).toBe(2);
  });

  test("a client that offers no versions gets version 1, exactly as from a server of version 1", () => {
    expect(agreedVersion(1, undefined)).toBe(1);
    expect(agreedVersion(1, [1])).toBe(1);
  });

  test("a server of version 1 agrees on 1 whatever is offered; no common version is null", () => {
    expect(agreedVersion(1, [1, 2], [1])).toBe(1);
    expect(agreedVersion(3, [4, 5], [1, 2])).toBeNull();
  });
});

describe("DOWNLOAD.from by version (P23a)", () => {
  const encoder = new TextEncoder();
  const id = "0123456789abcdef0123456789abcdef";
  const code = (message: object, version: number): string => {
    try {
      decodeClientMessage(encoder.encode(JSON.stringify(message)), version);
      return "ok";
    } catch (error) {
      return (error as ProtocolError).code;
    }
  };

  test("version 4 takes from (any integer: the range is the handler's BAD_RANGE); versions 1–3 refuse it as an unknown field, as their servers did", () => {
    for (const from of [0, 1, -1, Number.MAX_SAFE_INTEGER]) {
      expect(code({ type: "DOWNLOAD", id, from }, 4)).toBe("ok");
      expect(code({ type: "DOWNLOAD", owner: "alice", name: "a.png", from }, 4)).toBe("ok");
      for (const v of [1, 2, 3]) expect(code({ type: "DOWNLOAD", id, from }, v)).toBe("BAD_MESSAGE");
    }
    for (const v of [1, 2, 3, 4, 5]) expect(code({ type: "DOWNLOAD", id }, v)).toBe("ok");
    for (const from of [1.5, "1", null, Number.MAX_SAFE_INTEGER + 1]) expect(code({ type: "DOWNLOAD", id, from }, 4)).toBe("BAD_MESSAGE");
  });
});
