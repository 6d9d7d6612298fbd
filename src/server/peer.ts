/** What a request handler may do with its connection: the narrow side of a Session that handlers see. */
import type { Frame, ServerMessage } from "../protocol/index.ts";
import type { Identity } from "./identify.ts";
import type { FrameSink } from "./send-blob.ts";
import type { PostPipeline } from "./post-pipeline.ts";

/** An upload under way: the session hands it every frame until the upload ends itself. */
export interface Upload {
  receive(frame: Frame): Promise<void>;
  /** Gives up: releases the upload slot and removes the temporary file. Safe more than once. */
  abort(): Promise<void>;
}

/**
 * The connection as a handler sees it. Only the session changes its own state
 * (hello / ready / closed, the upload under way, the idle deadline); a handler
 * asks through these methods. Once the connection is closed, send() and the
 * FrameSink methods drop what they are given, so a handler that resumes after
 * an await never writes to a closed connection.
 */
export interface Peer extends FrameSink {
  /** The remote address, for the login throttle and logs. */
  readonly address: string;
  /** Who the certificate presented at HELLO belongs to, or null (anonymous). */
  readonly identity: Identity | null;
  /** The connection has closed (or is closing): nothing sent now reaches the peer. */
  readonly closed: boolean;
  /** The protocol version agreed at HELLO (P10a); 1 until then. */
  readonly version: number;
  /** Version 2 (P30): the uploads in flight on this connection; null on a version-1 connection. */
  readonly pipeline: PostPipeline | null;
  send(message: ServerMessage): void;
  /** A whole encoded control frame (encodeImagesPage makes one). */
  sendControl(frame: Uint8Array): void;
  /** One DATA frame with a copy of `bytes`; moves the idle deadline. */
  sendData(bytes: Uint8Array): void;
  /** Moves the idle deadline `ms` ahead (the idle timeout by default). */
  touch(ms?: number): void;
  /**
   * Routes every later frame to `upload` until endUpload(). False when the
   * connection closed meanwhile: the session has then aborted the upload itself.
   */
  beginUpload(upload: Upload): boolean;
  /** The upload ended (committed or failed): frames are requests again. */
  endUpload(): void;
  /** Version 3 (P40): cut-through deliveries reach this connection from now on. */
  watchIncoming?(): void;
}
