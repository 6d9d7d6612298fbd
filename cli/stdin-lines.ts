/** One line reader over stdin for the whole process, so a second prompt reads on where the first stopped. */

/** A line longer than this is cut here (a password or an answer is far shorter). */
const MAX_LINE = 4096;

const decoder = new TextDecoder();
let stream: ReadableStream<Uint8Array> | null = null;
let buffered = "";
let ended = false;

/**
 * The next line of stdin without its line ending, or null at the end of input.
 * Every prompt shares the one stream: opening a new Bun.stdin.stream() per prompt
 * found the stream the first had cancelled already ended, so a second prompt
 * answered itself. The lock is released between lines (never cancelled), so an
 * idle stdin does not keep the process alive after the last prompt.
 */
export async function readStdinLine(): Promise<string | null> {
  stream ??= Bun.stdin.stream();
  const reader = stream.getReader();
  try {
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl >= 0 || buffered.length > MAX_LINE) {
        const end = nl >= 0 ? nl : MAX_LINE;
        const line = buffered.slice(0, end);
        buffered = buffered.slice(nl >= 0 ? nl + 1 : MAX_LINE);
        return line.replace(/\r$/, "");
      }
      if (ended) {
        if (buffered === "") return null;
        const rest = buffered;
        buffered = "";
        return rest.replace(/\r$/, "");
      }
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        buffered += decoder.decode();
      } else buffered += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
}
