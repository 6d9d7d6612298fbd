/** PROTOCOL.md P10a: the version a HELLO agrees on. */
import { describe, expect, test } from "bun:test";
import { agreedVersion, PROTOCOL_VERSIONS } from "../../src/protocol/index.ts";

describe("agreedVersion (P10a)", () => {
  test("the highest version both speak", () => {
    expect(PROTOCOL_VERSIONS).toEqual([1, 2, 3]);
    expect(agreedVersion(1, [1, 2])).toBe(2);
    expect(agreedVersion(1, [2, 1, 9])).toBe(2);
    expect(agreedVersion(1, [1, 4, 7])).toBe(1);
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
