/**
 * Where a verified image lands: OUT/<owner>/<name> and OUT/<owner>/<name>.p7s.
 * Written to a hidden temporary file first, fsynced, then linked into place;
 * link() fails if the target exists, so a different file is never replaced.
 */
import { randomBytes } from "node:crypto";
import { link, lstat, mkdir, open, readFile, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { createImageDigest } from "../crypto/index.ts";
import { SaveConflictError, TrustError } from "./errors.ts";
import { readChunks } from "./file-source.ts";

export const PARTIAL_PREFIX = ".sis-partial-";

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function sameContent(path: string, digest: Uint8Array): Promise<boolean> {
  const d = createImageDigest();
  for await (const chunk of readChunks(path)) d.update(chunk);
  return Buffer.compare(d.digest(), digest) === 0;
}

export class OutputFile {
  private constructor(
    private readonly dir: string,
    private readonly target: string,
    private readonly tmp: string,
    private handle: FileHandle | null,
  ) {}

  static async create(outDir: string, owner: string, name: string): Promise<OutputFile> {
    const root = resolve(outDir);
    const dir = join(root, owner);
    const target = join(dir, name);
    // Names were checked to be single segments; this is the belt to those braces.
    if (!target.startsWith(root + sep) || resolve(target) !== target) throw new TrustError("name", `refusing to write outside ${root}`);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const st = await lstat(dir);
    if (!st.isDirectory() || st.isSymbolicLink()) throw new TrustError("name", `refusing to write into ${dir}: it is not a plain directory`);
    const tmp = join(dir, PARTIAL_PREFIX + randomBytes(8).toString("hex"));
    const handle = await open(tmp, "wx", 0o644);
    return new OutputFile(dir, target, tmp, handle);
  }

  async write(chunk: Uint8Array): Promise<void> {
    await this.handle!.write(chunk);
  }

  /** Makes the verified image visible; `written` is false if an identical file was already there. */
  async commit(signature: Uint8Array, digest: Uint8Array): Promise<{ path: string; written: boolean }> {
    const handle = this.handle!;
    await handle.sync();
    await handle.close();
    this.handle = null;
    const p7sTmp = `${this.tmp}.p7s`;
    await writeFile(p7sTmp, signature, { mode: 0o644, flush: true });
    try {
      await link(this.tmp, this.target);
    } catch (error) {
      try {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        if (await sameContent(this.target, digest)) {
          // Already saved (a repeated delivery). A crash between the two links can have
          // left the image without its signature: put the signature back if it is missing.
          const repaired = await link(p7sTmp, `${this.target}.p7s`).then(() => true, () => false);
          await unlink(this.tmp).catch(() => {});
          if (repaired) await fsyncDir(this.dir);
          return { path: this.target, written: false };
        }
        throw new SaveConflictError(`cannot save ${this.target}: a different file with that name is already there; move it away or use -o`);
      } finally {
        await unlink(p7sTmp).catch(() => {});
      }
    }
    // The signature is placed with link() too: rename() would replace whatever is called
    // NAME.p7s already, and that may be another image the user saved ("x.png.p7s" is a valid name).
    const p7sTarget = `${this.target}.p7s`;
    try {
      await link(p7sTmp, p7sTarget);
    } catch (error) {
      const same = (error as NodeJS.ErrnoException).code === "EEXIST" && Buffer.compare(await readFile(p7sTarget).catch(() => Buffer.alloc(0)), signature) === 0;
      if (!same) {
        // Take back the image linked a moment ago, so the save is all or nothing; discard() removes the rest.
        await unlink(this.target).catch(() => {});
        await unlink(p7sTmp).catch(() => {});
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        throw new SaveConflictError(`cannot save ${p7sTarget}: a different file with that name is already there; move it away or use -o`);
      }
    }
    await unlink(p7sTmp);
    await unlink(this.tmp);
    await fsyncDir(this.dir);
    return { path: this.target, written: true };
  }

  async discard(): Promise<void> {
    if (this.handle) await this.handle.close().catch(() => {});
    this.handle = null;
    await unlink(this.tmp).catch(() => {});
  }
}
