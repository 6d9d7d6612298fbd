/**
 * Posting over protocol version 2 (PROTOCOL.md P30–P37): several uploads in flight on one
 * connection, each read, stripped, hashed and sealed in one pass, its signature sent after its
 * data. Replies are matched to uploads by id; data streams go out one upload after another in
 * the order of their POST_IMAGEs (P32).
 */
import { CHUNK_SIZE, cipherSize, createImageDigest, encodeHeader, generateContentKey, newHeader, sealStreamInto, signImage, TAG_SIZE } from "../crypto/index.ts";
import { FRAME_HEADER_SIZE, MAX_UPLOADS_IN_FLIGHT, toBase64, type ContentType, type ImageMeta } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import { ClientError, RemoteError } from "./errors.ts";
import type { Credentials } from "./home.ts";
import { readPostSource, SourceError, type PostSource } from "./post-source.ts";
import { SendBuffers } from "./send-buffers.ts";
import { storageWrapOf } from "./storage-cert.ts";

/**
 * Uploads this client keeps in flight on one connection: one streaming while the server
 * makes the one before durable and the next is prepared. Measured on the album (bench/README.md,
 * "Pipelined posting"); the protocol allows MAX_UPLOADS_IN_FLIGHT.
 */
export const CLIENT_WINDOW = windowFrom(process.env.SIS_POST_WINDOW);

/** How long an upload whose own file failed waits for the POSTED of the uploads before it (stream()). */
const EARLIER_WAIT_MS = 10_000;

/** Waits until every one of `promises` settled, or `ms` passed; the timer does not outlive it (it would keep the process up). */
async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([Promise.allSettled(promises), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** SIS_POST_WINDOW (1 to MAX_UPLOADS_IN_FLIGHT) overrides the window, to measure it (bench/pipelined-posting.ts). */
function windowFrom(text: string | undefined): number {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= MAX_UPLOADS_IN_FLIGHT ? n : Math.min(3, MAX_UPLOADS_IN_FLIGHT);
}

export interface PipelinedPost {
  path: string;
  name: string;
  contentType: ContentType;
  /** Size on disk (stat), which decides one pass or two (post-source.ts). */
  fileSize: number;
  keepMetadata: boolean;
  /** The file already being read (postImage starts while it connects). */
  source?: Promise<PostSource>;
  onProgress?: (sent: number, total: number) => void;
}

export interface PipelinedResult {
  image: ImageMeta;
  removed: string[];
  kept: string[];
}

/** What happened to one post: `announced` once its POST_IMAGE is out (or it failed before), `posted` at its POSTED. */
export interface PostHandle {
  announced: Promise<void>;
  posted: Promise<PipelinedResult>;
  /** Whether its signature was sent: before that, nothing of it can have been kept (P34). */
  readonly signed: boolean;
}

/** One upload's replies: UPLOAD_READY, then POSTED; an ERROR about it rejects whichever is pending. */
interface Waiter {
  ready: Deferred<void>;
  posted: Deferred<ImageMeta>;
}

type Deferred<T> = ReturnType<typeof deferred<T>>;

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {});
  return { promise, resolve, reject };
}

const posters = new WeakMap<Connection, Poster>();

export class Poster {
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  private reading = false;
  private inFlight = 0;
  private readonly slotQueue: (() => void)[] = [];
  /** The data stream's turn, passed on in POST_IMAGE order (P32). */
  private turn: Promise<void> = Promise.resolve();

  private constructor(
    readonly conn: Connection,
    private readonly creds: Credentials,
  ) {}

  /** The first ERROR the reader took on this connection: why a later step found it closed. */
  private remoteFailure: RemoteError | null = null;

  /** One poster per connection: ids, window and the storage key are the connection's. */
  static of(conn: Connection, creds: Credentials): Poster {
    let poster = posters.get(conn);
    if (!poster) posters.set(conn, (poster = new Poster(conn, creds)));
    return poster;
  }

  post(job: PipelinedPost): PostHandle {
    const announced = deferred<void>();
    const handle = { announced: announced.promise, posted: null as unknown as Promise<PipelinedResult>, signed: false };
    // A step that finds the connection closed reports the server's ERROR the reader took, if any (P30, O3).
    handle.posted = this.run(job, announced, () => (handle.signed = true)).catch((error: unknown) => {
      throw this.remoteFailure && !(error instanceof RemoteError) && this.conn.closed ? this.remoteFailure : error;
    });
    handle.posted.catch(() => announced.resolve()); // a post that failed early is "announced" for the batch's pacing
    return handle;
  }

  private async run(job: PipelinedPost, announced: { resolve(): void }, signed: () => void): Promise<PipelinedResult> {
    await this.slot();
    const key = generateContentKey();
    try {
      const conn = this.conn;
      const source = await (job.source ?? readPostSource(job.path, job.contentType, job.keepMetadata, job.fileSize));
      const owner = this.creds.profile.username;
      const wrappedKey = await (await storageWrapOf(conn, this.creds))(key);
      const header = newHeader({ owner, name: job.name, contentType: job.contentType, size: source.size });
      const dataSize = cipherSize(source.size);
      const id = this.nextId++;
      // The uploads announced before this one, still waiting for their POSTED (see stream()).
      const earlier = [...this.waiters.values()].map((w) => w.posted.promise);
      const { ready, posted } = this.expect(id);
      // The stream's turn is taken together with the POST_IMAGE, so turns follow POST_IMAGE order (P32).
      const before = this.turn;
      const mine = deferred<void>();
      this.turn = mine.promise;
      try {
        conn.send({ type: "POST_IMAGE", upload: id, name: job.name, contentType: job.contentType, size: source.size, dataSize, header: toBase64(encodeHeader(header)), wrappedKey: toBase64(wrappedKey) });
        announced.resolve();
        // The first frame is read, stripped, hashed and sealed while UPLOAD_READY is on its way;
        // it goes out once that and the stream's turn are in (stream()).
        const turn = ready.promise.then(() => before);
        turn.catch(() => {}); // a refusal may come before the first frame is made: it is handled where stream() awaits it
        let digest: Uint8Array;
        try {
          digest = await this.stream(conn, key, header, source.chunks(), dataSize, earlier, turn, job.onProgress);
        } catch (error) {
          // A send that failed because the connection ended: the server's last word (an ERROR
          // queued before the close, SHUTTING_DOWN when it stops, O3) says why, through the reader.
          if (!(error instanceof SendFailed)) throw error;
          await posted.promise;
          throw error.cause;
        }
        mine.resolve(); // the next upload's data may follow at once; the signature is a control frame between (P33)
        const signature = await signImage({ digest, owner, name: job.name, contentType: job.contentType, certDer: this.creds.certDer, privateKeyPkcs8: this.creds.keyPkcs8 });
        conn.send({ type: "POST_SIGNATURE", upload: id, signature: toBase64(signature) });
        signed();
        return { image: await posted.promise, removed: source.removed, kept: source.kept };
      } finally {
        mine.resolve();
      }
    } finally {
      key.fill(0);
      this.release();
    }
  }

  /**
   * Hash while sealing: the one pass over the plaintext (P33). Returns its digest, to sign. The
   * first frame is made before `turn` (UPLOAD_READY, then the uploads before this one done
   * streaming) and sent after it; a refusal in `turn` ends the upload as before, the connection open.
   */
  private async stream(conn: Connection, key: Uint8Array, header: ReturnType<typeof newHeader>, chunks: AsyncIterable<Uint8Array>, dataSize: number, earlier: Promise<unknown>[], turn: Promise<void>, onProgress?: (sent: number, total: number) => void): Promise<Uint8Array> {
    const digest = createImageDigest();
    async function* hashed() {
      for await (const chunk of chunks) {
        digest.update(chunk);
        yield chunk;
      }
    }
    const buffers = new SendBuffers(FRAME_HEADER_SIZE + CHUNK_SIZE + TAG_SIZE);
    let frame: Uint8Array = new Uint8Array(0);
    const into = (length: number) => {
      frame = buffers.take().subarray(0, FRAME_HEADER_SIZE + length);
      return frame.subarray(FRAME_HEADER_SIZE);
    };
    let sent = 0;
    let waiting: Promise<void> | null = turn;
    try {
      for await (const _ of sealStreamInto(key, header, hashed(), into)) {
        if (waiting) {
          await waiting.catch((error: unknown) => {
            throw new NotReady(error);
          });
          waiting = null;
        }
        await conn.sendDataFrame(frame).catch((error: unknown) => {
          throw new SendFailed(error);
        });
        buffers.sent(frame, conn.backlog);
        sent += frame.length - FRAME_HEADER_SIZE;
        onProgress?.(sent, dataSize);
      }
    } catch (error) {
      // Refused at POST_IMAGE (or the connection ended before its turn): nothing of it was sent.
      if (error instanceof NotReady) throw error.cause;
      // Failed before its turn came: a refusal that comes too is the answer, as when the file was read only after it.
      if (waiting) await waiting;
      // The server holds a part of this upload and waits for the rest: only closing ends it (P36).
      // When this upload's own file failed (a PNG's CRC found while it is sent, a file that
      // changed), the uploads before it, whose data and signatures are out, first hear their
      // POSTED: closing at once would report them failed although the server may keep them.
      if (error instanceof SourceError) await settledWithin(earlier, EARLIER_WAIT_MS);
      conn.close();
      throw error;
    }
    return digest.digest();
  }

  /** Upload `id`'s replies, registered before its POST_IMAGE goes out. */
  private expect(id: number): Waiter {
    const waiter: Waiter = { ready: deferred<void>(), posted: deferred<ImageMeta>() };
    this.waiters.set(id, waiter);
    if (!this.reading) void this.read();
    return waiter;
  }

  /** Reads replies while some upload waits for one; an error about the connection ends every upload. */
  private async read(): Promise<void> {
    this.reading = true;
    try {
      while (this.waiters.size > 0) {
        let message;
        try {
          message = await this.conn.receive();
        } catch (error) {
          if (error instanceof RemoteError) this.remoteFailure ??= error;
          const about = error instanceof RemoteError ? error.upload : undefined;
          if (about !== undefined && this.waiters.has(about)) {
            reject(this.settle(about), error);
            // A fatal refusal of one upload closes the connection: the reader hears that next.
            continue;
          }
          for (const id of [...this.waiters.keys()]) reject(this.settle(id), error);
          return;
        }
        const id = "upload" in message ? message.upload : undefined;
        const waiter = id === undefined ? undefined : this.waiters.get(id);
        if (message.type === "UPLOAD_READY" && waiter) {
          waiter.ready.resolve();
          continue;
        }
        if (message.type === "POSTED" && waiter) {
          this.settle(id!);
          waiter.posted.resolve(message.image);
          continue;
        }
        const error = new ClientError(`the server answered ${message.type} where UPLOAD_READY or POSTED was expected`);
        for (const other of [...this.waiters.keys()]) reject(this.settle(other), error);
        this.conn.close();
        return;
      }
    } finally {
      this.reading = false;
    }
  }

  private settle(id: number): Waiter | undefined {
    const waiter = this.waiters.get(id);
    this.waiters.delete(id);
    return waiter;
  }

  private async slot(): Promise<void> {
    if (this.inFlight < CLIENT_WINDOW) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.slotQueue.push(resolve));
  }

  private release(): void {
    const next = this.slotQueue.shift();
    if (next) next(); // the slot passes on: inFlight unchanged
    else this.inFlight--;
  }
}

function reject(waiter: Waiter | undefined, error: unknown): void {
  waiter?.ready.reject(error);
  waiter?.posted.reject(error);
}

/** A data frame could not be sent: the connection ended. */
class SendFailed extends Error {
  constructor(override readonly cause: unknown) {
    super("send failed");
  }
}

/** The upload's turn to stream did not come (its POST_IMAGE refused, or the connection gone). */
class NotReady extends Error {
  constructor(override readonly cause: unknown) {
    super("not ready");
  }
}
