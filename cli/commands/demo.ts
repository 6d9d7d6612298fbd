/** sis demo: a server, alice and bob in a temporary directory (src/app/demo.ts); every step narrated, then cleaned up. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import samplePng from "../../assets/sample.png" with { type: "file" };
import { runDemo } from "../../src/app/demo.ts";
import { parse } from "../args.ts";
import { formatSize } from "../format.ts";
import { VERSION } from "../version.ts";

export async function demo(args: string[]): Promise<number> {
  const { values } = parse(args, { keep: { type: "boolean", default: false } });
  const dir = await mkdtemp(join(tmpdir(), "sis-demo-"));
  let step = 0;
  try {
    const same = await runDemo({
      dir,
      // The sample is embedded in the binary; Bun.file reads it from there.
      sample: Bun.file(samplePng),
      version: VERSION,
      formatSize,
      say: (who, text) => process.stdout.write(`${String(++step).padStart(2)}. ${who.padEnd(6)} ${text}\n`),
      onServerError: (message, fields) => process.stderr.write(`sis: demo server: ${message} ${JSON.stringify(fields)}\n`),
    });
    return same ? 0 : 1;
  } finally {
    if (values.keep) process.stdout.write(`kept ${dir}\n`);
    else {
      await rm(dir, { recursive: true, force: true });
      process.stdout.write(`cleaned up ${dir}\n`);
    }
  }
}
