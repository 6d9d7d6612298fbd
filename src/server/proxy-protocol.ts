/**
 * A pure parser for the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a balancer sends before the client's first byte.
 *
 * PX1  Every length is checked before it is used: the v2 signature (12
 *      bytes), version 2 and command LOCAL or PROXY, a known family and
 *      transport, an address block at least as long as the family needs, a
 *      declared length of at most MAX_V2_PAYLOAD, and TLVs that each fit in
 *      what is left. v1 is one line of at most 107 bytes ending in CRLF, with
 *      strict dotted-quad / IPv6 addresses and decimal ports below 65536.
 * PX2  "incomplete" means a prefix of a valid header (wait for more bytes,
 *      up to the largest header); anything else that is not a header is
 *      "invalid" with a reason, never a guess: the caller closes the
 *      connection.
 * PX3  LOCAL (v2) and UNKNOWN (v1) carry no client address: the balancer's
 *      own health check. The caller then uses the socket's own address.
 * PX4  The header is trusted only from a configured balancer address; that
 *      check is the listener's (the parser does not know who sent the bytes).
 */

export const V2_SIGNATURE = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = new Uint8Array([0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]); // "PROXY "
/** The v1 line's maximum, CRLF included (proxy-protocol.txt, 2.1). */
export const MAX_V1_LENGTH = 107;
/** What a v2 header may declare after its 16 fixed bytes: the largest address block (UNIX, 216) and room for TLVs. */
export const MAX_V2_PAYLOAD = 2048;
export const MAX_HEADER_LENGTH = 16 + MAX_V2_PAYLOAD;

export interface ProxyAddress {
  address: string;
  port: number;
}

export interface ProxyTlv {
  type: number;
  value: Uint8Array;
}

export type ProxyParse =
  | { kind: "incomplete" }
  | { kind: "invalid"; reason: string }
  | {
      kind: "header";
      version: 1 | 2;
      /** "local": no client address (PX3). */
      command: "proxy" | "local";
      /** How many bytes the header took; what follows is the client's stream. */
      length: number;
      source: ProxyAddress | null;
      destination: ProxyAddress | null;
      tlvs: ProxyTlv[];
    };

const invalid = (reason: string): ProxyParse => ({ kind: "invalid", reason });

/** True while `data` could still become `prefix` (it is a prefix of it, or starts with it). */
function startsLike(data: Uint8Array, prefix: Uint8Array): "yes" | "maybe" | "no" {
  const n = Math.min(data.byteLength, prefix.byteLength);
  for (let i = 0; i < n; i++) if (data[i] !== prefix[i]) return "no";
  return data.byteLength >= prefix.byteLength ? "yes" : "maybe";
}

/** Parses the header at the start of `data` (the first bytes of a connection). */
export function parseProxyHeader(data: Uint8Array): ProxyParse {
  if (data.byteLength === 0) return { kind: "incomplete" };
  const v2 = startsLike(data, V2_SIGNATURE);
  if (v2 === "yes") return parseV2(data);
  const v1 = startsLike(data, V1_PREFIX);
  if (v1 === "yes") return parseV1(data);
  if (v2 === "maybe" || v1 === "maybe") return { kind: "incomplete" };
  return invalid("no PROXY protocol signature");
}

function parseV2(data: Uint8Array): ProxyParse {
  if (data.byteLength < 16) return { kind: "incomplete" };
  const versionCommand = data[12]!;
  if (versionCommand >> 4 !== 2) return invalid(`unsupported version ${versionCommand >> 4}`);
  const commandBits = versionCommand & 0x0f;
  if (commandBits > 1) return invalid(`unknown command ${commandBits}`);
  const familyTransport = data[13]!;
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (family > 3) return invalid(`unknown address family ${family}`);
  if (transport > 2) return invalid(`unknown transport ${transport}`);
  const declared = (data[14]! << 8) | data[15]!;
  if (declared > MAX_V2_PAYLOAD) return invalid(`declared length ${declared} exceeds ${MAX_V2_PAYLOAD}`);
  const length = 16 + declared;
  if (data.byteLength < length) return { kind: "incomplete" };
  const body = data.subarray(16, length);
  const local = commandBits === 0;
  let source: ProxyAddress | null = null;
  let destination: ProxyAddress | null = null;
  let used = 0;
  if (!local || family !== 0) {
    const need = [0, 12, 36, 216][family]!;
    if (body.byteLength < need) return invalid(`address block of ${body.byteLength} bytes is shorter than the family's ${need}`);
    if (!local) {
      if (family === 0) return invalid("PROXY command with an unspecified family");
      if (transport !== 1) return invalid("only TCP (STREAM) connections are proxied here");
      if (family === 3) return invalid("UNIX socket addresses are not accepted");
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (family === 1) {
        source = { address: ipv4(body.subarray(0, 4)), port: view.getUint16(8) };
        destination = { address: ipv4(body.subarray(4, 8)), port: view.getUint16(10) };
      } else {
        source = { address: ipv6(body.subarray(0, 16)), port: view.getUint16(32) };
        destination = { address: ipv6(body.subarray(16, 32)), port: view.getUint16(34) };
      }
    }
    used = need;
  }
  const tlvs: ProxyTlv[] = [];
  for (let at = used; at < body.byteLength; ) {
    if (body.byteLength - at < 3) return invalid("truncated TLV header");
    const size = (body[at + 1]! << 8) | body[at + 2]!;
    if (body.byteLength - at - 3 < size) return invalid(`TLV of ${size} bytes overruns the header`);
    tlvs.push({ type: body[at]!, value: body.slice(at + 3, at + 3 + size) });
    at += 3 + size;
  }
  return { kind: "header", version: 2, command: local ? "local" : "proxy", length, source, destination, tlvs };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PORT = /^(0|[1-9]\d{0,4})$/;

function parseV1(data: Uint8Array): ProxyParse {
  const limit = Math.min(data.byteLength, MAX_V1_LENGTH);
  let end = -1;
  for (let i = 0; i + 1 < limit; i++) {
    if (data[i] === 0x0d && data[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) return data.byteLength >= MAX_V1_LENGTH ? invalid(`v1 line longer than ${MAX_V1_LENGTH} bytes`) : { kind: "incomplete" };
  for (let i = 0; i < end; i++) if (data[i]! < 0x20 || data[i]! > 0x7e) return invalid("v1 line has a byte that is not printable ASCII");
  const line = new TextDecoder().decode(data.subarray(0, end));
  const length = end + 2;
  const parts = line.split(" ");
  if (parts[1] === "UNKNOWN") return { kind: "header", version: 1, command: "local", length, source: null, destination: null, tlvs: [] };
  if (parts.length !== 6) return invalid("v1 line must have 6 fields");
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  if (proto !== "TCP4" && proto !== "TCP6") return invalid(`unknown v1 protocol ${proto.slice(0, 8)}`);
  const parse = proto === "TCP4" ? (s: string) => (IPV4.test(s) ? s : null) : parseIpv6Text;
  const s = parse(src);
  const d = parse(dst);
  if (s === null || d === null) return invalid(`malformed ${proto} address`);
  if (!PORT.test(sport) || !PORT.test(dport) || Number(sport) > 65535 || Number(dport) > 65535) return invalid("malformed port");
  return {
    kind: "header", version: 1, command: "proxy", length,
    source: { address: s, port: Number(sport) }, destination: { address: d, port: Number(dport) }, tlvs: [],
  };
}

function ipv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text: lower-case hex, the longest run (2 or more) of zero groups as "::". */
function ipv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestAt = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}

/** Strict IPv6 text (hex groups, at most one "::", no zone, no embedded IPv4) → RFC 5952 form; null if malformed. */
function parseIpv6Text(text: string): string | null {
  if (text.length > 39 || !/^[0-9a-fA-F:]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const group = /^[0-9a-fA-F]{1,4}$/;
  const head = halves[0] === "" ? [] : halves[0]!.split(":");
  const tail = halves.length === 2 ? (halves[1] === "" ? [] : halves[1]!.split(":")) : [];
  if (![...head, ...tail].every((g) => group.test(g))) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail].map((g) => parseInt(g, 16));
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => { bytes[2 * i] = g >> 8; bytes[2 * i + 1] = g & 0xff; });
  return ipv6(bytes);
}

/** Builds a v2 PROXY header for a TCP connection (tests and tools; HAProxy's send-proxy-v2 sends the same). */
export function encodeProxyV2(source: ProxyAddress, destination: ProxyAddress, tlvs: ProxyTlv[] = []): Uint8Array {
  const v4 = IPV4.test(source.address) && IPV4.test(destination.address);
  const addr = v4 ? 12 : 36;
  const tlvBytes = tlvs.reduce((n, t) => n + 3 + t.value.byteLength, 0);
  const out = new Uint8Array(16 + addr + tlvBytes);
  out.set(V2_SIGNATURE);
  out[12] = 0x21;
  out[13] = v4 ? 0x11 : 0x21;
  new DataView(out.buffer).setUint16(14, addr + tlvBytes);
  const put = (text: string, at: number) => {
    if (v4) text.split(".").forEach((o, i) => { out[at + i] = Number(o); });
    else {
      const canonical = parseIpv6Text(text);
      if (canonical === null) throw new TypeError(`not an IP address: ${text}`);
      const full = canonical.includes("::") ? expand(canonical) : canonical.split(":");
      full.forEach((g, i) => { const n = parseInt(g, 16); out[at + 2 * i] = n >> 8; out[at + 2 * i + 1] = n & 0xff; });
    }
  };
  put(source.address, 16);
  put(destination.address, v4 ? 20 : 32);
  const view = new DataView(out.buffer);
  view.setUint16(v4 ? 24 : 48, source.port);
  view.setUint16(v4 ? 26 : 50, destination.port);
  let at = 16 + addr;
  for (const t of tlvs) {
    out[at] = t.type;
    view.setUint16(at + 1, t.value.byteLength);
    out.set(t.value, at + 3);
    at += 3 + t.value.byteLength;
  }
  return out;
}

function expand(canonical: string): string[] {
  const [a, b] = canonical.split("::") as [string, string];
  const head = a === "" ? [] : a.split(":");
  const tail = b === "" ? [] : b.split(":");
  return [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail];
}
