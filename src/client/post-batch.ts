/** Posting several files: folders expanded to the images directly in them, each file tried, a failure not the end of the rest. */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { readHead } from "./file-source.ts";
import type { Credentials } from "./home.ts";
import { ACCEPTED_IMAGES } from "../image/formats.ts";
import { SNIFF_BYTES, sniffImageType } from "../image/sniff.ts";
import { postImage, type Posted, type PostOptions } from "./post.ts";
import { connectAs } from "./session.ts";
import { ClientError } from "./errors.ts";

export interface PostSources {
  /** The files to post, in order: named files as given, a folder's images in name order. */
  files: string[];
  /** A folder's entries left out, each with the reason (one line each). */
  skipped: { path: string; reason: string }[];
  /** Whether any argument was a folder. */
  folders: boolean;
}

const NOT_AN_IMAGE = `not a ${ACCEPTED_IMAGES} (judged by its content)`;

/** Code-unit order, the same on every machine and locale. */
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A folder stands for the image files directly in it, in name order. Entries that are not
 * images (by content), sub-folders (not entered) and anything but regular files are skipped,
 * each with its reason. Anything else given is a file, left for postImage to judge.
 */
export async function expandPostSources(paths: string[]): Promise<PostSources> {
  const out: PostSources = { files: [], skipped: [], folders: false };
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (!info?.isDirectory()) {
      out.files.push(path);
      continue;
    }
    out.folders = true;
    const names = (await readdir(path).catch((error: NodeJS.ErrnoException) => {
      throw new ClientError(`cannot read the folder ${path}: ${error.code === "EACCES" ? "permission denied" : error.message}`);
    })).sort(byName);
    const images: string[] = [];
    for (const name of names) {
      const entry = join(path, name);
      const kind = await stat(entry).catch(() => null);
      if (kind?.isDirectory()) out.skipped.push({ path: entry, reason: "a folder (sub-folders are not entered)" });
      else if (!kind?.isFile()) out.skipped.push({ path: entry, reason: "not a regular file" });
      else if (!sniffImageType(await readHead(entry, SNIFF_BYTES).catch(() => new Uint8Array(0)))) out.skipped.push({ path: entry, reason: NOT_AN_IMAGE });
      else images.push(entry);
    }
    if (images.length === 0) throw new ClientError(`cannot post ${path}: the folder holds no ${ACCEPTED_IMAGES} directly in it (sub-folders are not entered)`);
    out.files.push(...images);
  }
  return out;
}

export interface BatchEvents {
  /** Called before each file is tried; may return a progress callback for it. */
  starting?(file: string): PostOptions["onProgress"] | void;
  posted(file: string, result: Posted): void;
  failed(file: string, error: unknown): void;
}

export interface BatchResult {
  posted: number;
  failed: number;
  /** Files not tried because no connection to the server could be made. */
  notTried: string[];
}

/**
 * Posts `files` one after another over one connection. A file that fails is reported and
 * the next one is tried; a connection the failure closed is replaced by a new one. When no
 * connection can be made at all, the files left are not tried (each would fail the same way).
 */
export async function postBatch(creds: Credentials, files: string[], opts: { keepMetadata?: boolean }, events: BatchEvents): Promise<BatchResult> {
  const result: BatchResult = { posted: 0, failed: 0, notTried: [] };
  let connecting = connectAs(creds);
  connecting.catch(() => {}); // a failure is reported where it is awaited, not as an unhandled rejection
  try {
    for (const [i, file] of files.entries()) {
      const onProgress = events.starting?.(file) ?? undefined;
      try {
        const posted = await postImage(connecting, creds, file, { ...(opts.keepMetadata !== undefined ? { keepMetadata: opts.keepMetadata } : {}), ...(onProgress ? { onProgress } : {}) });
        result.posted++;
        events.posted(file, posted);
      } catch (error) {
        result.failed++;
        events.failed(file, error);
        const conn = await connecting.catch(() => null);
        if (conn === null) {
          result.notTried = files.slice(i + 1);
          break;
        }
        if (conn.closed) {
          connecting = connectAs(creds);
          connecting.catch(() => {});
        }
      }
    }
  } finally {
    (await connecting.catch(() => null))?.close();
  }
  return result;
}
