import { describe, expect, test } from "bun:test";
import { progressReporter } from "../../cli/progress.ts";

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream };
}

const MiB = 1024 * 1024;

describe("progressReporter()", () => {
  test("draws bytes, rate and ETA on a terminal for a transfer over a few MiB", () => {
    const { writes, stream } = fakeStream(true);
    const p = progressReporter("posting big.png", false, stream);
    p.update(8 * MiB, 16 * MiB);
    p.update(16 * MiB, 16 * MiB);
    p.done();
    const text = writes.join("");
    expect(text).toContain("posting big.png [");
    expect(text).toMatch(/8\.0 MiB\/16 MiB/);
    expect(text).toMatch(/\/s ETA \d+s/);
    expect(text.endsWith("\r\x1b[K")).toBe(true);
  });

  test("writes nothing when the output is not a terminal (no escape codes in pipes or logs)", () => {
    const { writes, stream } = fakeStream(false);
    const p = progressReporter("posting big.png", false, stream);
    p.update(8 * MiB, 16 * MiB);
    p.done();
    expect(writes).toEqual([]);
  });

  test("writes nothing with --quiet, even on a terminal", () => {
    const { writes, stream } = fakeStream(true);
    const p = progressReporter("posting big.png", true, stream);
    p.update(8 * MiB, 16 * MiB);
    p.done();
    expect(writes).toEqual([]);
  });

  test("stays silent for small images", () => {
    const { writes, stream } = fakeStream(true);
    const p = progressReporter("posting small.png", false, stream);
    p.update(100_000, 200_000);
    p.update(200_000, 200_000);
    p.done();
    expect(writes).toEqual([]);
  });
});
