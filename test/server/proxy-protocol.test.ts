/** The PROXY protocol parser (PX1-PX3): v2 and v1 headers, every prefix incomplete, hostile inputs refused with a reason. */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { MAX_V2_PAYLOAD, V2_SIGNATURE, encodeProxyV2, parseProxyHeader } from "../../src/server/proxy-protocol.ts";

const ascii = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.byteLength; }
  return out;
};
/** A v2 header from raw fields, to build hostile ones. */
function v2(versionCommand: number, familyTransport: number, body: Uint8Array, declared = body.byteLength): Uint8Array {
  return cat(V2_SIGNATURE, new Uint8Array([versionCommand, familyTransport, declared >> 8, declared & 0xff]), body);
}
const CLIENT_HELLO = new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);

describe("PROXY v2 (PX1)", () => {
  test("a TCP4 header gives the source and destination and the length it took", () => {
    const header = encodeProxyV2({ address: "127.0.0.2", port: 40000 }, { address: "127.0.0.1", port: 8443 });
    expect(header.byteLength).toBe(28);
    const got = parseProxyHeader(cat(header, CLIENT_HELLO));
    expect(got).toEqual({
      kind: "header", version: 2, command: "proxy", length: 28,
      source: { address: "127.0.0.2", port: 40000 }, destination: { address: "127.0.0.1", port: 8443 }, tlvs: [],
    });
  });

  test("a TCP6 header gives RFC 5952 addresses, and TLVs are returned bounded", () => {
    const header = encodeProxyV2({ address: "2001:db8:0:0:0:0:0:1", port: 1 }, { address: "::1", port: 2 }, [{ type: 0x05, value: ascii("unique") }, { type: 0x04, value: new Uint8Array(0) }]);
    const got = parseProxyHeader(header);
    expect(got).toMatchObject({ kind: "header", source: { address: "2001:db8::1", port: 1 }, destination: { address: "::1", port: 2 }, length: header.byteLength });
    if (got.kind !== "header") throw new Error("not a header");
    expect(got.tlvs).toEqual([{ type: 5, value: ascii("unique") }, { type: 4, value: new Uint8Array(0) }]);
  });

  test("PX3: LOCAL carries no address (a balancer's health check), with or without an address block", () => {
    expect(parseProxyHeader(v2(0x20, 0x00, new Uint8Array(0)))).toMatchObject({ kind: "header", command: "local", source: null, length: 16 });
    expect(parseProxyHeader(v2(0x20, 0x11, new Uint8Array(12)))).toMatchObject({ kind: "header", command: "local", source: null, length: 28 });
  });

  test("PX2: every proper prefix of a header is incomplete, never invalid", () => {
    const header = encodeProxyV2({ address: "10.0.0.1", port: 5 }, { address: "10.0.0.2", port: 6 }, [{ type: 1, value: ascii("h2") }]);
    for (let n = 0; n < header.byteLength; n++) expect(parseProxyHeader(header.subarray(0, n))).toEqual({ kind: "incomplete" });
    expect(parseProxyHeader(header).kind).toBe("header");
  });

  const hostile: [string, Uint8Array, RegExp][] = [
    ["a wrong signature byte", cat(new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]), new Uint8Array(16)), /signature/],
    ["version 1 in the binary form", v2(0x11, 0x11, new Uint8Array(12)), /version 1/],
    ["version 3", v2(0x31, 0x11, new Uint8Array(12)), /version 3/],
    ["an unknown command", v2(0x22, 0x11, new Uint8Array(12)), /command 2/],
    ["an unknown family", v2(0x21, 0x41, new Uint8Array(12)), /family 4/],
    ["an unknown transport", v2(0x21, 0x13, new Uint8Array(12)), /transport 3/],
    ["an absurd declared length", v2(0x21, 0x11, new Uint8Array(0), 0xffff), /exceeds/],
    ["one byte over the limit", v2(0x21, 0x11, new Uint8Array(0), MAX_V2_PAYLOAD + 1), /exceeds/],
    ["an INET address block too short", v2(0x21, 0x11, new Uint8Array(11)), /shorter/],
    ["an INET6 address block too short", v2(0x21, 0x21, new Uint8Array(35)), /shorter/],
    ["PROXY with an unspecified family", v2(0x21, 0x00, new Uint8Array(0)), /unspecified/],
    ["UDP", v2(0x21, 0x12, new Uint8Array(12)), /TCP/],
    ["a UNIX address", v2(0x21, 0x31, new Uint8Array(216)), /UNIX/],
    ["a truncated TLV header", v2(0x21, 0x11, cat(new Uint8Array(12), new Uint8Array([1, 0]))), /truncated TLV/],
    ["a TLV longer than the header", v2(0x21, 0x11, cat(new Uint8Array(12), new Uint8Array([1, 0, 9, 1, 2]))), /overruns/],
    ["a TLV length of 65535", v2(0x21, 0x11, cat(new Uint8Array(12), new Uint8Array([1, 0xff, 0xff]))), /overruns/],
    ["a TLS ClientHello with no header", CLIENT_HELLO, /no PROXY protocol signature/],
    ["an HTTP request", ascii("GET / HTTP/1.1\r\n\r\n"), /no PROXY protocol signature/],
  ];
  for (const [what, input, reason] of hostile) {
    test(`refuses ${what}`, () => {
      const got = parseProxyHeader(input);
      expect(got.kind).toBe("invalid");
      if (got.kind === "invalid") expect(got.reason).toMatch(reason);
    });
  }

  test("random bytes after the signature never throw and never read past the declared length", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 64 }), (tail, after) => {
      const input = cat(V2_SIGNATURE, tail);
      const got = parseProxyHeader(cat(input, after));
      if (got.kind === "header") {
        expect(got.length).toBeLessThanOrEqual(input.byteLength + after.byteLength);
        expect(got.length).toBe(16 + ((tail[2]! << 8) | tail[3]!));
      }
    }), { numRuns: 2000 });
  });
});

describe("PROXY v1 (PX1)", () => {
  test("TCP4 and TCP6 lines give the source; UNKNOWN gives none", () => {
    expect(parseProxyHeader(cat(ascii("PROXY TCP4 127.0.0.3 127.0.0.1 51000 8443\r\n"), CLIENT_HELLO))).toEqual({
      kind: "header", version: 1, command: "proxy", length: 43,
      source: { address: "127.0.0.3", port: 51000 }, destination: { address: "127.0.0.1", port: 8443 }, tlvs: [],
    });
    expect(parseProxyHeader(ascii("PROXY TCP6 2001:DB8::0:1 ::1 1 2\r\n"))).toMatchObject({ kind: "header", source: { address: "2001:db8::1", port: 1 } });
    expect(parseProxyHeader(ascii("PROXY UNKNOWN\r\n"))).toMatchObject({ kind: "header", command: "local", source: null, length: 15 });
  });

  test("PX2: a prefix of a line is incomplete", () => {
    const line = ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
    for (let n = 0; n < line.byteLength; n++) expect(parseProxyHeader(line.subarray(0, n))).toEqual({ kind: "incomplete" });
  });

  const hostile: [string, string, RegExp][] = [
    ["a line without CRLF within 107 bytes", `PROXY TCP4 ${"1".repeat(120)}`, /longer than 107/],
    ["an octet above 255", "PROXY TCP4 256.0.0.1 1.2.3.4 1 2\r\n", /malformed TCP4/],
    ["a leading-zero octet", "PROXY TCP4 01.0.0.1 1.2.3.4 1 2\r\n", /malformed TCP4/],
    ["an IPv6 address in TCP4", "PROXY TCP4 ::1 1.2.3.4 1 2\r\n", /malformed TCP4/],
    ["two '::' in TCP6", "PROXY TCP6 1::2::3 ::1 1 2\r\n", /malformed TCP6/],
    ["nine groups in TCP6", "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", /malformed TCP6/],
    ["a port of 65536", "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", /port/],
    ["a negative port", "PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n", /port/],
    ["a missing field", "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", /6 fields/],
    ["a double space", "PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n", /6 fields/],
    ["an unknown protocol", "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", /protocol/],
    ["a control byte", "PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n", /printable/],
  ];
  for (const [what, line, reason] of hostile) {
    test(`refuses ${what}`, () => {
      const got = parseProxyHeader(ascii(line));
      expect(got.kind).toBe("invalid");
      if (got.kind === "invalid") expect(got.reason).toMatch(reason);
    });
  }
});
