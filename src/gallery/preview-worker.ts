/** The preview worker: makes one preview per message, off the gallery's event loop (bun build lists it as an entry point). */
import { PreviewError } from "./preview-decode.ts";
import { makePreview, type PreviewSize } from "./preview-make.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent<{ id: number; bytes: Uint8Array; type: string; size: PreviewSize }>) => {
  const { id, bytes, type, size } = event.data;
  try {
    const preview = await makePreview(bytes, type, size);
    self.postMessage({ id, preview }, [preview.buffer]);
  } catch (error) {
    self.postMessage({ id, error: (error as Error).message, known: error instanceof PreviewError });
  }
};
