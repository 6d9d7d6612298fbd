/** SECURITY.md, frames: hostile bytes on the wire against a real server on 127.0.0.1 (P6, P7, P10, P12). */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { CONTROL, DATA, encodeData, encodeMessage, MAX_CONTROL_FRAME, MAX_DATA_FRAME } from "../../src/protocol/index.ts";
import { controlFrame, helloFrame, rawFrame } from "../support/auth-kit.ts";
import { expectRefusal, expectStillServing, raw, rawHello, sandboxForFile, until, type Sandbox, type User } from "../support/security-kit.ts";

let sb: Sandbox;
let carol: User;
sandboxForFile(["carol"], (box, [carol_]) => { sb = box; carol = carol_; });

/** Sends `bytes` after the HELLO exchange and expects `code`, fatal or not; then a legitimate client is served. */
async function afterHello(bytes: Uint8Array, code: string, fatal: boolean, user?: User): Promise<void> {
  const { client } = await rawHello(sb, user);
  client.write(bytes);
  await expectRefusal(client, code, fatal);
  client.close();
  await expectStillServing(sb, carol);
}

/** Sends `bytes` as the very first thing on the connection and expects the fatal `code`. */
async function beforeHello(bytes: Uint8Array, code: string): Promise<void> {
  const client = await raw(sb);
  client.write(bytes);
  await expectRefusal(client, code, true);
  await expectStillServing(sb, carol);
}

describe("frames", () => {
  test("a control frame length over the limit", async () => {
    // Only the 5-byte header is sent: the verdict comes before any payload is awaited or allocated.
    await afterHello(rawFrame(CONTROL, MAX_CONTROL_FRAME + 1), "FRAME_TOO_LARGE", true);
  });

  test("a data frame length over the limit", async () => {
    await afterHello(rawFrame(DATA, MAX_DATA_FRAME + 1), "FRAME_TOO_LARGE", true, carol);
  });

  test("a zero-length frame", async () => {
    await afterHello(rawFrame(CONTROL, 0), "BAD_FRAME", true);
  });

  test("a negative-looking length (0xFFFFFFFF, 0x80000000)", async () => {
    await afterHello(rawFrame(CONTROL, 0xffffffff), "FRAME_TOO_LARGE", true);
    await afterHello(rawFrame(DATA, 0x80000000), "FRAME_TOO_LARGE", true);
  });

  test("an unknown frame kind", async () => {
    await afterHello(rawFrame(0x03, 4, "abcd"), "BAD_FRAME", true);
  });

  test("a frame truncated mid-frame, then the client disconnects", async () => {
    const { client } = await rawHello(sb, carol);
    const ping = encodeMessage({ type: "PING" });
    client.write(ping.subarray(0, ping.length - 3));
    client.close();
    await client.closed;
    // Nothing was answered for half a frame, and the session let go of everything it held.
    await until(() => sb.server.context.metrics.connections === 0, "every session to be released");
    expect(sb.server.context.metrics.authenticatedConnections).toBe(0);
    await expectStillServing(sb, carol);
  });

  test("garbage before the hello (an HTTP request)", async () => {
    await beforeHello(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), "BAD_FRAME");
  });

  test("garbage before the hello (a TLS ClientHello inside TLS)", async () => {
    // 0x16 0x03 0x01: what a confused client that wraps TLS twice sends first.
    await beforeHello(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1]), "BAD_FRAME");
  });

  test("garbage after the hello", async () => {
    await afterHello(new Uint8Array([0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02]), "BAD_FRAME", true, carol);
  });

  test("a data frame before the hello", async () => {
    await beforeHello(encodeData(new Uint8Array([1, 2, 3])), "HELLO_REQUIRED");
  });

  test("a request before the hello", async () => {
    await beforeHello(encodeMessage({ type: "LIST" }), "HELLO_REQUIRED");
  });

  test("a hello with the wrong protocol version", async () => {
    const client = await raw(sb);
    client.write(helloFrame(2));
    const reply = await expectRefusal(client, "UNSUPPORTED_VERSION", true);
    // The refusal lists the versions the server speaks, so a wrong peer knows why.
    expect(reply.message).toContain("1");
    expect(reply).toMatchObject({ versions: [1] });
    await expectStillServing(sb, carol);
  });

  test("a hello for another protocol", async () => {
    await beforeHello(controlFrame('{"type":"HELLO","protocol":"http","version":1,"client":"x"}'), "BAD_MESSAGE");
  });

  test("an unknown message type", async () => {
    await afterHello(controlFrame('{"type":"DELETE_ALL_IMAGES"}'), "UNKNOWN_MESSAGE", true, carol);
  });

  test("a server message sent by a client", async () => {
    await afterHello(controlFrame('{"type":"REGISTERED","username":"root"}'), "UNKNOWN_MESSAGE", true);
  });

  test("valid JSON with an extra field", async () => {
    await afterHello(controlFrame('{"type":"LIST","limit":10,"owner":"alice"}'), "BAD_MESSAGE", true, carol);
  });

  test("valid JSON with a wrong-typed field", async () => {
    await afterHello(controlFrame('{"type":"LIST","limit":"10"}'), "BAD_MESSAGE", true, carol);
    await afterHello(controlFrame('{"type":"LIST","limit":1e309}'), "BAD_MESSAGE", true, carol);
  });

  test("valid JSON without a type", async () => {
    await afterHello(controlFrame('{"kind":"LIST"}'), "BAD_MESSAGE", true);
  });

  test("JSON that is not an object", async () => {
    for (const text of ["[]", "42", '"HELLO"', "null"]) await afterHello(controlFrame(text), "BAD_MESSAGE", true);
  });

  test("a __proto__ field in a message", async () => {
    await afterHello(controlFrame('{"type":"LIST","__proto__":{"polluted":true}}'), "BAD_MESSAGE", true, carol);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("deeply nested JSON", async () => {
    await afterHello(controlFrame(`{"type":"LIST","x":${"[".repeat(9)}${"]".repeat(9)}}`), "BAD_MESSAGE", true);
    // 30,000 levels: refused by counting brackets, before JSON.parse could recurse.
    await afterHello(controlFrame(`{"type":"LIST","x":${"[".repeat(30_000)}${"]".repeat(30_000)}}`), "BAD_MESSAGE", true);
  });

  test("huge JSON (a field filling the control frame)", async () => {
    const filler = "A".repeat(MAX_CONTROL_FRAME - 64);
    const text = `{"type":"HELLO","protocol":"sis","version":1,"client":"${filler}"}`;
    expect(text.length).toBeLessThanOrEqual(MAX_CONTROL_FRAME);
    await beforeHello(controlFrame(text), "BAD_MESSAGE");
  });

  test("a control frame that is not UTF-8", async () => {
    await afterHello(rawFrame(CONTROL, 4, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), "BAD_MESSAGE", true);
  });

  test("a second hello", async () => {
    await afterHello(helloFrame(), "BAD_MESSAGE", true, carol);
  });
});
