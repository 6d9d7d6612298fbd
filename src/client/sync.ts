/** Fetching every image the user may see into a folder (sis get --all): each verified, what is already there (same name, verified, same size) skipped. */
import { join } from "node:path";
import { LIST_PAGE_MAX, type ImageMeta } from "../protocol/index.ts";
import { openPlainFile, verifyOpenImage } from "./verify-file.ts";
import type { Connection } from "./connection.ts";
import { CrlSource } from "./crl.ts";
import { RemoteError, SaveConflictError, TrustError } from "./errors.ts";
import type { Credentials } from "./home.ts";
import { receiveImage, type Received } from "./receive.ts";

export interface SyncEvents {
  skipped(image: ImageMeta, path: string): void;
  saved(result: Received): void;
  refused(image: ImageMeta, reason: string): void;
}

export interface SyncResult {
  saved: number;
  skipped: number;
  refused: number;
}

/** Every image the server lists for this user, oldest first. */
export async function listAll(conn: Connection): Promise<ImageMeta[]> {
  const images: ImageMeta[] = [];
  let after = 0;
  for (;;) {
    const page = await conn.expect({ type: "LIST", after, limit: LIST_PAGE_MAX }, "IMAGES");
    for (const image of page.images) if (image.seq > after) images.push(image);
    if (page.next === null || page.images.length === 0) return images;
    after = Math.max(after, ...page.images.map((i) => i.seq));
  }
}

/**
 * True when OUT/OWNER/NAME is already the image: a plain file of the announced size whose
 * .p7s verifies over its bytes, for that owner and name, against the pinned CA.
 */
export async function alreadyThere(image: ImageMeta, outDir: string, caDer: Uint8Array): Promise<string | null> {
  const path = join(outDir, image.owner, image.name);
  const opened = await openPlainFile(path);
  if (!opened) return null;
  try {
    if (opened.stat.size !== image.size) return null;
    const verdict = await verifyOpenImage({ image: opened.handle, p7sPath: path + ".p7s", owner: image.owner, name: image.name, caDer });
    return verdict.verified && verdict.contentType === image.contentType ? path : null;
  } finally {
    await opened.handle.close();
  }
}

/** Fetches what is missing; a refused image is reported and the next one is tried. A lost connection ends the run (its error is thrown). */
export async function syncAll(conn: Connection, creds: Credentials, outDir: string, events: SyncEvents): Promise<SyncResult> {
  const crl = new CrlSource(creds.caDer);
  const result: SyncResult = { saved: 0, skipped: 0, refused: 0 };
  for (const image of await listAll(conn)) {
    const there = await alreadyThere(image, outDir, creds.caDer);
    if (there) {
      result.skipped++;
      events.skipped(image, there);
      continue;
    }
    try {
      const received = await receiveImage(conn, creds, crl, { id: image.id }, outDir);
      result.saved++;
      events.saved(received);
    } catch (error) {
      if (error instanceof TrustError || error instanceof SaveConflictError || (error instanceof RemoteError && error.code === "NOT_FOUND")) {
        result.refused++;
        events.refused(image, error instanceof TrustError ? `${error.check}: ${error.message}` : error.message);
        continue;
      }
      throw error;
    }
  }
  return result;
}
