/**
 * What Connection and Session rely on to keep frame payloads as views
 * (FrameDecoder `ownsChunks`): Bun's socket `data` callback hands over a fresh
 * buffer every time and never writes to it again, on the connecting side and
 * on the listening side. Held across many reads, every buffer keeps the bytes
 * it arrived with.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A throw-away self-signed server certificate (openssl), PEM. */
function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "sis-socket-"));
  try {
    const r = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem")], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`openssl req failed: ${r.stderr.toString()}`);
    return { cert: readFileSync(join(dir, "c.pem"), "utf8"), key: readFileSync(join(dir, "k.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TOTAL = 24 * 1024 * 1024;
const WRITE = 256 * 1024 + 5;
/** The byte at stream position i: changes within and across writes, so a reused buffer shows. */
const at = (i: number) => (i * 7 + (i >>> 13)) & 0xff;

type Side = "connecting" | "listening";

/** Streams TOTAL bytes to the receiving side and returns every buffer its data callback got. */
async function receiveAll(receiver: Side, tls: boolean): Promise<Uint8Array[]> {
  const out = new Uint8Array(WRITE);
  let sent = 0;
  const pump = (s: { write(b: Uint8Array): number }) => {
    while (sent < TOTAL) {
      const n = Math.min(WRITE, TOTAL - sent);
      // The sender refills one buffer over and over; only the receiver's buffers are under test.
      for (let i = 0; i < n; i++) out[i] = at(sent + i);
      const written = s.write(out.subarray(0, n));
      if (written > 0) sent += written;
      if (written < n) return;
    }
  };
  const held: Uint8Array[] = [];
  let got = 0;
  let done!: () => void;
  const received = new Promise<void>((resolve) => (done = resolve));
  const take = (_s: unknown, bytes: Uint8Array) => {
    held.push(bytes);
    got += bytes.length;
    if (got >= TOTAL) done();
  };
  // The listening side as tls-server.ts sets it up: TLS 1.3, a client certificate requested, not required.
  const serverTls = tls ? { tls: { ...selfSigned(), requestCert: true, rejectUnauthorized: false, minVersion: 0x0304 } as Bun.TLSOptions } : {};
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    ...serverTls,
    socket: receiver === "listening" ? { data: take } : { open: pump, drain: pump, data() {} },
  });
  try {
    const client = await Bun.connect({
      hostname: "127.0.0.1",
      port: server.port,
      ...(tls ? { tls: { rejectUnauthorized: false } } : {}),
      socket: receiver === "connecting" ? { data: take } : { [tls ? "handshake" : "open"]: pump, drain: pump, data() {} },
    });
    await received;
    client.end();
    return held;
  } finally {
    server.stop(true);
  }
}

describe("socket data buffers", () => {
  for (const receiver of ["connecting", "listening"] as const) {
    for (const tls of [false, true]) {
      test(`Bun gives each ${tls ? "TLS" : "TCP"} data callback on the ${receiver} side a fresh buffer and never changes it afterwards`, async () => {
        const held = await receiveAll(receiver, tls);
        expect(held.length).toBeGreaterThan(20);
        expect(new Set(held.map((b) => b.buffer)).size).toBe(held.length);
        let position = 0;
        let changed = 0;
        for (const b of held) {
          for (let i = 0; i < b.length; i++) {
            if (b[i] !== at(position + i)) {
              changed++;
              break;
            }
          }
          position += b.length;
        }
        expect(position).toBe(TOTAL);
        expect(changed).toBe(0);
      }, 30_000);
    }
  }
});
