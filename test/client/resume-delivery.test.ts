/**
 * A cut-through delivery the server dropped BEHIND (PROTOCOL.md P45), resumed on protocol version 4
 * (P23a) by the watch's own catch-up (src/client/watch-catch-up.ts): real server in-process, real
 * TLS, real uploads of 40 MiB. The watcher is made to fall behind by holding its push data
 * (the connection stops reading at PUSH_HIGH, and the server drops it past 4 MiB queued).
 * A resumed image is byte-identical and verified, and only dataSize − from bytes were downloaded;
 * a tail that does not decrypt falls back to a full download, whose verdict it gets.
 */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4).
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cipherSize } from "../../src/crypto/index.ts";
import type { Connection, IncomingListener } from "../../src/client/connection.ts";
import { CrlSource } from "../../src/client/crl.ts";
import { IncomingDeliveries } from "../../src/client/incoming.ts";
import { PARTIAL_PREFIX } from "../../src/client/output-file.ts";
import { postImage } from "../../src/client/post.ts";
import { connectAs } from "../../src/client/session.ts";
import { catchUp } from "../../src/client/watch-catch-up.ts";
import type { WatchState } from "../../src/client/watch-state.ts";
import { RANGED_DOWNLOAD_VERSION, type ServerMessageOf } from "../../src/protocol/index.ts";
import type { BlobReader, BlobStore } from "../../src/server/ports.ts";
import { FileBlobStore } from "../../src/store/index.ts";
import { pngLike, sandboxForFile, until, type Sandbox, type User } from "../support/security-kit.ts";

const MiB = 1024 * 1024;
const SIZE = 40 * MiB;
let sb: Sandbox;
let olga: User;
let walt: User;
sandboxForFile(["olga", "walt"], (box, [olga_, walt_]) => {
  sb = box;
  olga = olga_;
  walt = walt_;
}, { maxImageSize: 64 * MiB });

/**
 * Passes every push to the partials, but gives the connection its buffers back only when let
 * go: while held, the connection stops reading (PUSH_HIGH) and the server drops it (P45).
 */
class Holding implements IncomingListener {
  private held: Array<() => void> = [];
  private holding = true;
  dropped_: ServerMessageOf<"DROPPED"> | null = null;
  constructor(private readonly inner: IncomingDeliveries) {}
  incoming(m: ServerMessageOf<"INCOMING">): void {
    this.inner.incoming(m);
  }
  data(delivery: number, bytes: Uint8Array, release: () => void): void {
    this.inner.data(delivery, bytes, () => (this.holding ? this.held.push(release) : release()));
  }
  delivered(m: ServerMessageOf<"DELIVERED">): void {
    this.inner.delivered(m);
  }
  dropped(m: ServerMessageOf<"DROPPED">): void {
    this.dropped_ = m;
    this.inner.dropped(m);
  }
  letGo(): void {
    this.holding = false;
    for (const release of this.held.splice(0)) release();
  }
}

/** Hidden partial files anywhere under `dir`. */
function partials(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((p) => p.split("/").at(-1)!.startsWith(PARTIAL_PREFIX));
}

interface Run {
  lines: string[];
  out: string;
  source: string;
  name: string;
  /** What the server streamed by DOWNLOAD during the catch-up. */
  downloadBytes: number;
  rangedDownloads: number;
  /** The resume's `from` and the image's dataSize, from the debug line of a resume. */
  resumedAt: { from: number; of: number } | null;
}

/**
 * Posts a SIZE image as olga while walt's connection holds its push data, lets go once the post
 * is acknowledged, waits for DROPPED BEHIND, then runs walt's catch-up on that same connection.
 */
async function droppedThenCaughtUp(name: string, fill: number, beforeCatchUp: () => void | Promise<void> = () => {}): Promise<Run> {
  const out = join(sb.root, `out-${name}`);
  const source = join(sb.root, `${name}`);
  writeFileSync(source, pngLike(SIZE, fill));
  const lines: string[] = [];
  const conn: Connection = await connectAs(walt.creds);
  try {
    expect(conn.version).toBeGreaterThanOrEqual(RANGED_DOWNLOAD_VERSION);
    const before = await conn.expect({ type: "LIST", limit: 1 }, "IMAGES");
    const state: WatchState = { server: "resume-test", lastSeq: before.images[0]?.seq ?? 0 };
    const incoming = new IncomingDeliveries(walt.creds, out, () => {}, undefined, (l) => lines.push(`debug: ${l}`), true);
    const holding = new Holding(incoming);
    conn.onIncoming(holding);
    await conn.expect({ type: "WATCH_INCOMING" }, "INCOMING_ON");
    const poster = await connectAs(olga.creds);
    try {
      await postImage(poster, olga.creds, source, { name, keepMetadata: true });
    } finally {
      poster.close();
    }
    holding.letGo();
    await until(() => holding.dropped_ !== null, "the delivery to end", 60_000);
    expect(holding.dropped_!.reason).toBe("BEHIND");
    expect(lines).toContain(`debug: olga/${name}: the server dropped its cut-through delivery (BEHIND); it will be resumed`);
    await beforeCatchUp();
    const metrics = sb.server.context.metrics;
    const bytes0 = metrics.downloadBytes;
    const ranged0 = metrics.rangedDownloads;
    const opts = { home: walt.home, creds: walt.creds, outDir: out, log: (l: string) => lines.push(l), debug: (l: string) => lines.push(`debug: ${l}`) };
    const summary = { received: 0, alreadySaved: 0, refused: 0, lastSeq: 0 };
    await catchUp(conn, state, new CrlSource(walt.creds.caDer), opts, summary, { made: false }, incoming);
    await incoming.discardAll();
    const at = lines.map((l) => /^debug: olga\/.*: resumed its dropped delivery at byte (\d+) of (\d+)$/.exec(l)).find((m) => m);
    return {
      lines, out, source, name,
      downloadBytes: metrics.downloadBytes - bytes0, rangedDownloads: metrics.rangedDownloads - ranged0,
      resumedAt: at ? { from: Number(at[1]), of: Number(at[2]) } : null,
    };
  } finally {
    conn.onIncoming(null);
    conn.close();
  }
}

const savedLine = (name: string) => new RegExp(`^saved olga/${name.replace(".", "\\.")} \\(#\\d+\\): signature by olga \\(serial [0-9a-f]+\\) verified -> `);

describe("a delivery dropped BEHIND is resumed (P45, version 4)", () => {
  test("the catch-up downloads only dataSize − from bytes; the saved file is byte-identical and verified", async () => {
    const r = await droppedThenCaughtUp("resumed.png", 3);
    expect(r.resumedAt).not.toBeNull();
    const { from, of } = r.resumedAt!;
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThan(of);
    // Exactly the tail moved, by one ranged DOWNLOAD; nothing was downloaded from byte 0.
    expect({ bytes: r.downloadBytes, ranged: r.rangedDownloads }).toEqual({ bytes: of - from, ranged: 1 });
    expect(r.lines.filter((l) => savedLine(r.name).test(l))).toHaveLength(1);
    expect(readFileSync(join(r.out, "olga", r.name)).equals(readFileSync(r.source))).toBe(true);
    expect(existsSync(join(r.out, "olga", `${r.name}.p7s`))).toBe(true);
    expect(partials(r.out)).toEqual([]);
  }, 180_000);

  test("a resumed tail that does not decrypt (damaged only in the ranged read) falls back to a full download, which saves the right image", async () => {
    const ctx = sb.server.context;
    const files = ctx.blobs;
    // The ranged read flips one byte of what it reads; a read from 0 is the store's.
    const damagedRanges: BlobStore = {
      create: (id) => files.create(id),
      read: (id, size) => files.read(id, size),
      open: async (id, from = 0) => {
        const reader = await files.open(id, from);
        if (from === 0) return reader;
        let flipped = false;
        const damaged: BlobReader = {
          async readInto(target) {
            const n = await reader.readInto(target);
            if (!flipped && n > 0) {
              target[0]! ^= 0x01;
              flipped = true;
            }
            return n;
          },
          close: () => reader.close(),
        };
        return damaged;
      },
      remove: (id) => files.remove(id),
      sweep: (keep, olderThan) => files.sweep(keep, olderThan),
    };
    let r: Run;
    ctx.blobs = damagedRanges;
    try {
      r = await droppedThenCaughtUp("fallback.png", 4);
    } finally {
      ctx.blobs = files;
    }
    expect(r.resumedAt).toBeNull();
    expect(r.lines.some((l) => /^debug: olga\/fallback\.png \(#\d+\): its dropped delivery cannot be resumed \(.+\); downloading it$/.test(l))).toBe(true);
    expect(r.rangedDownloads).toBe(1);
    // The ranged tail (some bytes, less than the whole), then the whole image again.
    expect(r.downloadBytes).toBeGreaterThan(cipherSize(SIZE));
    expect(r.downloadBytes).toBeLessThan(2 * cipherSize(SIZE));
    expect(r.lines.filter((l) => savedLine(r.name).test(l))).toHaveLength(1);
    expect(readFileSync(join(r.out, "olga", r.name)).equals(readFileSync(r.source))).toBe(true);
    expect(partials(r.out)).toEqual([]);
  }, 180_000);

  test("a tail damaged in the store itself: the resume fails, and the full download's verdict (decrypt) is the refusal; nothing is saved", async () => {
    const blobs = sb.server.context.blobs as FileBlobStore;
    const r = await droppedThenCaughtUp("damaged.png", 5, async () => {
      // The newest blob's last byte flipped on disk: both the ranged tail and a full download read it.
      const list = await sb.server.context.store.listImages({ limit: 1 });
      const path = join(blobs.dir, list[0]!.id);
      const bytes = readFileSync(path);
      bytes[bytes.length - 1]! ^= 0x01;
      writeFileSync(path, bytes);
    });
    expect(r.resumedAt).toBeNull();
    expect(r.lines.some((l) => /^debug: olga\/damaged\.png \(#\d+\): its dropped delivery cannot be resumed \(.+\); downloading it$/.test(l))).toBe(true);
    expect(r.lines.filter((l) => l.startsWith("refused olga/damaged.png"))).toEqual([expect.stringMatching(/^refused olga\/damaged\.png \(#\d+\): decrypt: the image does not decrypt intact: /)]);
    expect(existsSync(join(r.out, "olga", r.name))).toBe(false);
    expect(partials(r.out)).toEqual([]);
  }, 180_000);
});
