/** Posting several files: folders expanded to their images (sub-folders with --recursive), each file tried, a failure not the end of the rest. */
import { lstat, readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { readHead } from "./file-source.ts";
import type { Credentials } from "./home.ts";
import { ACCEPTED_IMAGES } from "../image/formats.ts";
import { SNIFF_BYTES, sniffImageType } from "../image/sniff.ts";
import { postImage, type Posted, type PostOptions } from "./post.ts";
import { connectAs } from "./session.ts";
import { ClientError, RemoteError } from "./errors.ts";
import type { Connection } from "./connection.ts";
import { PIPELINED_VERSION } from "../protocol/index.ts";
import { postPipelined } from "./post-batch-pipelined.ts";
import { MAX_RENAME_TRIES, renamed, type BatchEvents, type BatchResult } from "./post-batch-shared.ts";
import { RateGate } from "./rate-wait.ts";

export { MAX_RENAME_TRIES, renamed, type BatchEvents, type BatchResult };

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
 * A folder stands for the image files in it, in name order; with `recursive`, also for those
 * in its sub-folders (depth first, each folder's entries in name order; a symbolic link to a
 * folder is not followed, so a loop cannot be entered). Entries that are not images (by
 * content), sub-folders without `recursive` and anything but regular files are skipped, each
 * with its reason. Anything else given is a file, left for postImage to judge.
 */
export async function expandPostSources(paths: string[], opts: { recursive?: boolean } = {}): Promise<PostSources> {
  const out: PostSources = { files: [], skipped: [], folders: false };
  const recursive = opts.recursive ?? false;
  const walk = async (dir: string, images: string[]) => {
    const names = (await readdir(dir).catch((error: NodeJS.ErrnoException) => {
      throw new ClientError(`cannot read the folder ${dir}: ${error.code === "EACCES" ? "permission denied" : error.message}`);
    })).sort(byName);
    for (const name of names) {
      const entry = join(dir, name);
      const link = await lstat(entry).catch(() => null);
      const kind = await stat(entry).catch(() => null);
      if (kind?.isDirectory() && link?.isSymbolicLink()) out.skipped.push({ path: entry, reason: "a symbolic link to a folder (not followed)" });
      else if (kind?.isDirectory() && recursive) await walk(entry, images);
      else if (kind?.isDirectory()) out.skipped.push({ path: entry, reason: "a folder (pass --recursive to enter sub-folders)" });
      else if (!kind?.isFile()) out.skipped.push({ path: entry, reason: "not a regular file" });
      else if (!sniffImageType(await readHead(entry, SNIFF_BYTES).catch(() => new Uint8Array(0)))) out.skipped.push({ path: entry, reason: NOT_AN_IMAGE });
      else images.push(entry);
    }
  };
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (!info?.isDirectory()) {
      out.files.push(path);
      continue;
    }
    out.folders = true;
    const images: string[] = [];
    await walk(path, images);
    if (images.length === 0) {
      const where = recursive ? "in it or its sub-folders" : "directly in it (pass --recursive to enter sub-folders)";
      throw new ClientError(`cannot post ${path}: the folder holds no ${ACCEPTED_IMAGES} ${where}`);
    }
    out.files.push(...images);
  }
  return out;
}

/**
 * Posts `file` under its base name; with `rename`, a name the server refuses as taken
 * (NAME_TAKEN) is tried again with the next suffix until the server accepts one. `used`
 * holds the names this run already took, so they are not asked for again. With `gate`, a post
 * over the server's rate (RATE_LIMITED) is tried again once the gate's wait is over (rate-wait.ts).
 */
export async function postNamed(
  conn: Connection | Promise<Connection>,
  creds: Credentials,
  file: string,
  opts: PostOptions & { rename?: boolean; used?: Set<string>; gate?: RateGate; left?: number },
): Promise<Posted & { takenName?: string }> {
  const { rename, used, gate, left, ...postOpts } = opts;
  const base = postOpts.name ?? basename(file);
  for (let n = 1; n <= MAX_RENAME_TRIES; n++) {
    const name = renamed(base, n);
    if (rename && used?.has(name)) continue;
    try {
      const posted = await postImage(conn, creds, file, n === 1 ? postOpts : { ...postOpts, name });
      used?.add(posted.image.name);
      return n === 1 ? posted : { ...posted, takenName: base };
    } catch (error) {
      if (await gate?.waitOut(error, left)) {
        n--; // the same name again: the refusal came before anything was uploaded
        continue;
      }
      if (!(rename && error instanceof RemoteError && error.code === "NAME_TAKEN")) throw error;
      used?.add(name);
    }
  }
  throw new ClientError(`cannot post ${file}: the names ${JSON.stringify(base)} to ${JSON.stringify(renamed(base, MAX_RENAME_TRIES))} are all taken; pass --name`);
}

/**
 * Posts `files` over one connection: pipelined over protocol version 2, otherwise one after
 * another. A file that fails is reported and
 * the next one is tried; a connection the failure closed is replaced by a new one. When no
 * connection can be made at all, the files left are not tried (each would fail the same way).
 */
export async function postBatch(creds: Credentials, files: string[], opts: { keepMetadata?: boolean; rename?: boolean }, events: BatchEvents): Promise<BatchResult> {
  let connecting = connectAs(creds);
  connecting.catch(() => {}); // a failure is reported where it is awaited, not as an unhandled rejection
  // Protocol version 2: pipelined (post-batch-pipelined.ts); an older server: one file after another.
  const first = await connecting.catch(() => null);
  if (first && first.version >= PIPELINED_VERSION) return postPipelined(creds, files, opts, events, first);
  const used = new Set<string>();
  const result: BatchResult = { posted: 0, failed: 0, notTried: [] };
  const gate = new RateGate((wait) => events.waiting?.(wait));
  try {
    for (const [i, file] of files.entries()) {
      const onProgress = events.starting?.(file) ?? undefined;
      try {
        // The connection itself once it is there (a failed one stays the promise, whose error is this file's).
        const conn = await connecting.then((c) => c, () => connecting);
        const posted = await postNamed(conn, creds, file, {
          ...(opts.keepMetadata !== undefined ? { keepMetadata: opts.keepMetadata } : {}),
          ...(onProgress ? { onProgress } : {}),
          rename: opts.rename ?? false,
          used,
          gate,
          left: files.length - i,
        });
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
