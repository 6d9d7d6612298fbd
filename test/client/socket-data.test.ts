/**
 * What Connection relies on to keep frame payloads as views (FrameDecoder
 * `ownsChunks`): Bun's socket `data` callback hands over a fresh buffer every
 * time and never writes to it again. Held across many reads, every buffer keeps
 * the bytes it arrived with.
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

async function receiveAll(tls: boolean): Promise<Uint8Array[]> {
  const out = new Uint8Array(WRITE);
  let sent = 0;
  const pump = (s: { write(b: Uint8Array): number; end(): void }) => {
    while (sent < TOTAL) {
      const n = Math.min(WRITE, TOTAL - sent);
      // The sender refills one buffer over and over; only the receiver's buffers are under test.
      for (let i = 0; i < n; i++) out[i] = at(sent + i);
      const written = s.write(out.subarray(0, n));
      if (written > 0) sent += written;
      if (written < n) return;
    }
    s.end();
  };
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    ...(tls ? { tls: selfSigned() } : {}),
    socket: { open: pump, drain: pump, data() {} },
  });
  try {
    const held: Uint8Array[] = [];
    let got = 0;
    await new Promise<void>((resolve, reject) => {
      Bun.connect({
        hostname: "127.0.0.1",
        port: server.port,
        ...(tls ? { tls: { rejectUnauthorized: false } } : {}),
        socket: {
          data(_s, bytes) {
            held.push(bytes);
            got += bytes.length;
            if (got >= TOTAL) resolve();
          },
          close: () => (got >= TOTAL ? resolve() : reject(new Error(`closed after ${got} bytes`))),
          error: (_s, e) => reject(e),
        },
      }).catch(reject);
    });
    return held;
  } finally {
    server.stop(true);
  }
}

describe("socket data buffers", () => {
  for (const tls of [false, true]) {
    test(`Bun gives each ${tls ? "TLS" : "TCP"} data callback a fresh buffer and never changes it afterwards`, async () => {
      const held = await receiveAll(tls);
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
});
