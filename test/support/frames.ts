/** Frame makers for hostile peers (tests and bench/fuzz-*.ts): any kind, any length, any JSON, byte for byte. */
import { CONTROL, encodeMessage } from "../../src/protocol/index.ts";

/** A HELLO frame as the sis client sends it, naming `client`. */
export function helloFrame(version = 1, client = "auth-test"): Uint8Array {
  return encodeMessage({ type: "HELLO", protocol: "sis", version, client });
}

/** A frame header with any kind and length, and whatever payload (possibly none, possibly a lie). */
export function rawFrame(kind: number, length: number, payload: Uint8Array | string = new Uint8Array()): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const out = new Uint8Array(5 + body.length);
  out[0] = kind;
  new DataView(out.buffer).setUint32(1, length >>> 0, false);
  out.set(body, 5);
  return out;
}

/** A control frame carrying arbitrary JSON text (the codec refuses to encode invalid messages). */
export function controlFrame(json: string): Uint8Array {
  const body = new TextEncoder().encode(json);
  return rawFrame(CONTROL, body.length, body);
}
