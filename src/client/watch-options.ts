/** What a watch is given and what it reports (sis watch, src/client/watch.ts). */
import type { ImageMeta } from "../protocol/index.ts";
import type { Credentials, Home } from "./home.ts";
import type { Received } from "./receive.ts";

/** A progress display for one download (the CLI draws one on a terminal). */
export interface DownloadProgress {
  update(got: number, total: number): void;
  done(): void;
}

export interface WatchOptions {
  home: Home;
  /** Replaced by the renewed credentials when the watch renews the certificate (RN6). */
  creds: Credentials;
  outDir: string;
  log: (line: string) => void;
  signal?: AbortSignal;
  onImage?: (result: Received | { image: ImageMeta; refused: string }) => void;
  /** Each NEW_IMAGE as it arrives, before it is fetched. */
  onNotice?: (image: ImageMeta) => void;
  /** A progress display per download, given its label. */
  progress?: (label: string) => DownloadProgress;
  /** Lines only a debugging run wants (SIS_DEBUG): how each image came. */
  debug?: (line: string) => void;
}

/** What a watch did, for the summary when it is stopped. */
export interface WatchSummary {
  received: number;
  alreadySaved: number;
  refused: number;
  lastSeq: number;
}
