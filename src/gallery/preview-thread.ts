/** Runs makePreview in a worker thread, so a decode of seconds never stalls the gallery's requests; in-process if no worker can start. */
import { PreviewError } from "./preview-decode.ts";
import { makePreview, type PreviewSize } from "./preview-make.ts";

type Reply = { id: number; preview?: Uint8Array; error?: string; known?: boolean };

let worker: Worker | null = null;
let broken = false;
let nextId = 0;
const waiting = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();

/**
 * A worker that answers nothing for this long while a job waits is taken as stuck: it is
 * stopped and the jobs are made in this thread. Seen in CI: under bun test, after a hundred
 * other test files in the same process, a worker's replies now and then never arrived, and
 * the grid waited for ever (no onerror fires then). The previews of test/gallery take well
 * under a second each in the worker: 20 s without any answer is a stall, not work.
 */
export const WORKER_STALL_MS = 20_000;
let watchdog: ReturnType<typeof setTimeout> | null = null;

/** Restarts the stall clock while jobs wait (each reply is progress); stops it when none does. */
function arm(): void {
  if (watchdog) clearTimeout(watchdog);
  watchdog = null;
  if (waiting.size === 0 || !worker) return;
  watchdog = setTimeout(() => stop(`no answer for ${WORKER_STALL_MS / 1000} s`), WORKER_STALL_MS);
  (watchdog as { unref?: () => void }).unref?.();
}

/** The worker is given up: the jobs waiting on it fail with WorkerStopped (made again here), and so will the next ones. */
function stop(reason: string): void {
  worker?.terminate();
  worker = null;
  broken = true;
  arm();
  process.stderr.write(`sis: previews are made in the gallery's own thread from now on: the preview worker stopped (${reason})\n`);
  failAll(new WorkerStopped(reason));
}

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
    arm();
    if (preview) w.resolve(preview);
    else w.reject(known ? new PreviewError(error ?? "no preview") : new Error(error ?? "no preview"));
  };
  // A worker that cannot load or dies: the jobs waiting on it fail, the next ones run in-process.
  worker.onerror = (event) => stop(event.message);
  return worker;
}

export async function makePreviewOffThread(bytes: Uint8Array, type: string, size: PreviewSize): Promise<Uint8Array> {
  const w = start();
  if (!w) return makePreview(bytes, type, size);
  const id = nextId++;
  // Sent as a copy: a job the worker drops is made again here from the same bytes.
  return new Promise<Uint8Array>((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    if (waiting.size === 1) arm();
    w.postMessage({ id, bytes, type, size });
  }).catch((error: unknown) => {
    if (error instanceof WorkerStopped) return makePreview(bytes, type, size);
    throw error;
  });
}
