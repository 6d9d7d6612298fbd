/**
 * What Session relies on to keep frame payloads as views (FrameDecoder
 * `ownsChunks`): on the server's side too, Bun's `data` callback hands over a
 * fresh buffer every time and never writes to it again.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function selfSigned(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "sis-server-socket-"));
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

test("a TLS server's data callback gets a fresh buffer each time, never changed afterwards", async () => {
  const held: Uint8Array[] = [];
  let got = 0;
  let done!: () => void;
  const received = new Promise<void>((resolve) => (done = resolve));
  const { cert, key } = selfSigned();
  // As tls-server.ts listens: TLS 1.3, a client certificate requested but not required.
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert, key, requestCert: true, rejectUnauthorized: false, minVersion: 0x0304 } as Bun.TLSOptions,
    socket: {
      data(_s, bytes) {
        held.push(bytes);
        got += bytes.length;
        if (got >= TOTAL) done();
      },
    },
  });
  try {
    const out = new Uint8Array(WRITE);
    let sent = 0;
    const pump = (s: { write(b: Uint8Array): number }) => {
      while (sent < TOTAL) {
        const n = Math.min(WRITE, TOTAL - sent);
        for (let i = 0; i < n; i++) out[i] = at(sent + i);
        const written = s.write(out.subarray(0, n));
        if (written > 0) sent += written;
        if (written < n) return;
      }
    };
    const client = await Bun.connect({ hostname: "127.0.0.1", port: server.port, tls: { rejectUnauthorized: false }, socket: { handshake: pump, drain: pump, data() {} } });
    await received;
    client.end();
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
  } finally {
    server.stop(true);
  }
}, 30_000);
