/** Runs makePreview in a worker thread, so a decode of seconds never stalls the gallery's requests; in-process if no worker can start. */
import { PreviewError } from "./preview-decode.ts";
import { makePreview, type PreviewSize } from "./preview-make.ts";

type Reply = { id: number; preview?: Uint8Array; error?: string; known?: boolean };

let worker: Worker | null = null;
let broken = false;
let nextId = 0;
const waiting = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();

function failAll(error: Error): void {
  for (const w of waiting.values()) w.reject(error);
  waiting.clear();
}

/**
 * Beside this module when run from source; in the compiled binary (package.json's build lists the worker
 * as a second entry point) modules live under /$bunfs/root/ by their path from the repository root,
 * while this code sits in a chunk at that root.
 */
function workerUrl(): string {
  if (import.meta.url.startsWith("file:///$bunfs/")) return new URL("./src/gallery/preview-worker.ts", new URL("/$bunfs/root/", import.meta.url)).href;
  return new URL("./preview-worker.ts", import.meta.url).href;
}

class WorkerStopped extends Error {}

function start(): Worker | null {
  if (worker || broken) return worker;
  try {
    worker = new Worker(workerUrl());
  } catch {
    broken = true;
    return null;
  }
  (worker as Worker & { unref?: () => void }).unref?.();
  worker.onmessage = (event: MessageEvent<Reply>) => {
    const { id, preview, error, known } = event.data;
    const w = waiting.get(id);
    waiting.delete(id);
    if (!w) return;
    if (preview) w.resolve(preview);
    else w.reject(known ? new PreviewError(error ?? "no preview") : new Error(error ?? "no preview"));
  };
  worker.onerror = (event) => {
    // A worker that cannot load or dies: the jobs waiting on it fail, the next ones run in-process.
    worker?.terminate();
    worker = null;
    broken = true;
    process.stderr.write(`sis: previews are made in the gallery's own thread from now on: the preview worker stopped (${event.message})\n`);
    failAll(new WorkerStopped(event.message));
  };
  return worker;
}

export async function makePreviewOffThread(bytes: Uint8Array, type: string, size: PreviewSize): Promise<Uint8Array> {
  const w = start();
  if (!w) return makePreview(bytes, type, size);
  const id = nextId++;
  // Sent as a copy: a job the worker drops is made again here from the same bytes.
  return new Promise<Uint8Array>((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    w.postMessage({ id, bytes, type, size });
  }).catch((error: unknown) => {
    if (error instanceof WorkerStopped) return makePreview(bytes, type, size);
    throw error;
  });
}
