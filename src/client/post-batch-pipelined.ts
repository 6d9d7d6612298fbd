/**
 * Posting several files over protocol version 2 (PROTOCOL.md P30–P37): the next file is read and
 * announced while the one before streams and the server makes the ones before durable. Results
 * are reported in the files' order, each file as it would be alone.
 */
import { basename } from "node:path";
import { PIPELINED_VERSION } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import { ClientError, RemoteError } from "./errors.ts";
import type { Credentials } from "./home.ts";
import { check, type Posted } from "./post.ts";
import { Poster, type PostHandle } from "./post-pipeline.ts";
import { SourceError } from "./post-source.ts";
import { connectAs } from "./session.ts";
import { MAX_RENAME_TRIES, renamed, type BatchEvents, type BatchResult } from "./post-batch-shared.ts";
import { RateGate } from "./rate-wait.ts";

interface Outcome {
  posted?: Posted & { takenName?: string };
  error?: unknown;
  /** Failed only because another upload's failure closed the connection, before its signature went out: nothing of it was kept, so it is tried again. */
  collateral?: boolean;
}

/**
 * One file under its base name or, with `rename`, the next free suffix (NAME_TAKEN tries the next
 * one). `used` holds the names this run has taken or has in flight, so two files of one name in
 * one run never race for it. `announced` resolves when the file no longer holds up the next.
 */
function postOne(poster: Poster, file: string, opts: { keepMetadata: boolean; rename: boolean; used: Set<string>; pending: Map<string, Promise<unknown>>; gate: RateGate; left: number; onProgress?: (sent: number, total: number) => void }): { announced: Promise<void>; outcome: Promise<Outcome> } {
  let announce!: () => void;
  const announced = new Promise<void>((resolve) => (announce = resolve));
  const outcome = (async (): Promise<Outcome> => {
    const base = basename(file);
    let handle: PostHandle | null = null;
    try {
      for (let n = 1; n <= MAX_RENAME_TRIES; n++) {
        const name = renamed(base, n);
        await opts.gate.open();
        if (opts.rename && opts.used.has(name)) continue;
        const checked = await check(poster.conn, file, n === 1 ? {} : { name });
        // The same name still in flight in this run: its outcome first, so the server answers this
        // one at its POST_IMAGE, as it would one file after the other.
        await opts.pending.get(name)?.catch(() => {});
        opts.used.add(name);
        handle = poster.post({
          path: file, name, contentType: checked.contentType, fileSize: checked.size, keepMetadata: opts.keepMetadata,
          ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        });
        void handle.announced.then(announce);
        opts.pending.set(name, handle.posted);
        try {
          const result = await handle.posted;
          return { posted: n === 1 ? result : { ...result, takenName: base } };
        } catch (error) {
          if (!(error instanceof RemoteError && error.code === "NAME_TAKEN")) opts.used.delete(name);
          // Over the server's post rate (M26): refused before UPLOAD_READY, nothing kept; the same name again after the wait.
          if (await opts.gate.waitOut(error, opts.left)) {
            n--;
            continue;
          }
          if (!(opts.rename && error instanceof RemoteError && error.code === "NAME_TAKEN")) throw error;
        }
      }
      throw new ClientError(`cannot post ${file}: the names ${JSON.stringify(base)} to ${JSON.stringify(renamed(base, MAX_RENAME_TRIES))} are all taken; pass --name`);
    } catch (error) {
      // Its own refusal, or its own file's failure (which closed the connection, P36): not collateral.
      const own = (error instanceof RemoteError && error.upload !== undefined) || error instanceof SourceError;
      return { error, collateral: !own && handle !== null && !handle.signed && poster.conn.closed };
    } finally {
      announce();
    }
  })();
  return { announced, outcome };
}

/**
 * Posts `files` over `first` (a version-2 connection) and the connections that replace it when a
 * failure closes one. A file that fails is reported and the next one is tried; one that failed
 * only because the connection went (collateral) is tried once more on the next connection.
 */
export async function postPipelined(creds: Credentials, files: string[], opts: { keepMetadata?: boolean; rename?: boolean }, events: BatchEvents, first: Connection): Promise<BatchResult> {
  const used = new Set<string>();
  const result: BatchResult = { posted: 0, failed: 0, notTried: [] };
  const keepMetadata = opts.keepMetadata ?? false;
  const rename = opts.rename ?? false;
  let conn: Connection | null = first;
  const retried = new Set<string>();
  const pending = new Map<string, Promise<unknown>>();
  const queue = [...files];
  const gate = new RateGate((wait) => events.waiting?.(wait));
  try {
    while (queue.length > 0 && conn) {
      const poster = Poster.of(conn, creds);
      const again: string[] = [];
      // Reported in the files' order as they end, while the later ones are still being sent.
      let reports = Promise.resolve();
      const report = (file: string, outcome: Promise<Outcome>) => (reports = reports.then(async () => {
        const o = await outcome;
        if (o.posted) {
          result.posted++;
          events.posted(file, o.posted);
        } else if (o.collateral && !retried.has(file)) {
          retried.add(file);
          again.push(file);
        } else {
          result.failed++;
          events.failed(file, o.error);
        }
      }));
      // Announce in order; each file starts once the one before has its POST_IMAGE out.
      while (queue.length > 0 && !conn.closed) {
        await gate.open(); // no new file while the server's rate is waited out
        if (conn.closed) break;
        const file = queue.shift()!;
        const onProgress = events.starting?.(file) ?? undefined;
        const { announced, outcome } = postOne(poster, file, { keepMetadata, rename, used, pending, gate, left: queue.length + 1, ...(onProgress ? { onProgress } : {}) });
        report(file, outcome);
        await announced;
      }
      await reports;
      queue.unshift(...again);
      if (!conn.closed || queue.length === 0) continue;
      conn.close();
      conn = await connectAs(creds).catch((error: unknown) => {
        // No connection at all: the next file says why, the rest are not tried (each would fail the same way).
        const next = queue.shift()!;
        result.failed++;
        events.failed(next, error);
        result.notTried = queue.splice(0);
        return null;
      });
      if (conn && conn.version < PIPELINED_VERSION) throw new ClientError("the server went back to protocol version 1 while posting; post the files left again");
    }
  } finally {
    conn?.close();
  }
  return result;
}
