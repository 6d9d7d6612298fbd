/** sis watch and deletion (PROTOCOL.md M27, M28): an image deleted between the watcher's LIST and its DOWNLOAD is skipped, not refused. Real server in-process, real TLS and store. */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4).
import "../../src/pki/reflect-polyfill.ts";
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { postImage } from "../../src/client/post.ts";
import { connectAs } from "../../src/client/session.ts";
import { watch } from "../../src/client/watch.ts";
import { loadWatchState } from "../../src/client/watch-state.ts";
import type { ImageQuery, ImageRecord, Store } from "../../src/server/ports.ts";
import { SAMPLE } from "../support/share.ts";
import { sandboxForFile, until, type Sandbox, type User } from "../support/security-kit.ts";

let sb: Sandbox;
let alice: User;
let bob: User;
sandboxForFile(["alice", "bob"], (box, [alice_, bob_]) => {
  sb = box;
  alice = alice_;
  bob = bob_;
});

async function post(path: string, name: string): Promise<void> {
  const conn = await connectAs(alice.creds);
  try {
    await postImage(conn, alice.creds, path, { name });
  } finally {
    conn.close();
  }
}

test("an image deleted after the watcher listed it and before it downloads it is skipped with a line; no refusal is recorded and the next image is saved", async () => {
  await post(SAMPLE.png, "gone.png");
  await post(SAMPLE.jpg, "kept.jpg");
  // The operator deletes gone.png just after the server answered the watcher's first LIST, as 'sis admin rm' could.
  const store = sb.server.context.store as Store;
  const realList = store.listImages.bind(store);
  let deleted = false;
  (store as unknown as Record<string, unknown>).listImages = async (query: ImageQuery): Promise<ImageRecord[]> => {
    const found = await realList(query);
    const gone = found.find((i) => i.name === "gone.png");
    if (gone && !deleted) {
      deleted = true;
      await store.deleteImage(gone.id);
      await sb.server.context.blobs.remove(gone.id);
    }
    return found;
  };
  const lines: string[] = [];
  const out = join(sb.root, "bob-out");
  const stop = new AbortController();
  try {
    const running = watch({ home: bob.home, creds: bob.creds, outDir: out, log: (l) => lines.push(l), signal: stop.signal });
    await until(() => lines.some((l) => / alice\/kept\.jpg /.test(l)), "the watcher saved kept.jpg", 20_000);
    stop.abort();
    const summary = await running;
    expect(deleted).toBe(true);
    expect(lines.filter((l) => l.includes("gone.png"))).toEqual([expect.stringMatching(/^skipped alice\/gone\.png \(#\d+\): deleted on the server$/)]);
    expect(summary.refused).toBe(0);
    expect(summary.received).toBe(1);
    expect(existsSync(join(out, "alice", "gone.png"))).toBe(false);
    expect(existsSync(join(out, "alice", "kept.jpg"))).toBe(true);
    const state = await loadWatchState(bob.home, bob.creds.profile.server);
    expect(JSON.stringify(state)).not.toContain("gone.png");
  } finally {
    stop.abort();
    delete (store as unknown as Record<string, unknown>).listImages;
  }
});
