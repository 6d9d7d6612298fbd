/** Start-up tidy for `sis watch`: removes the hidden temporary files a killed download left in OUT/<owner>/. */
import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { isValidUsername } from "../protocol/index.ts";
import { PARTIAL_PREFIX } from "./output-file.ts";

/** Exactly the names OutputFile makes: the prefix, 16 hex digits, and ".p7s" for the signature beside it. */
const PARTIAL_NAME = new RegExp(`^${PARTIAL_PREFIX.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&")}[0-9a-f]{16}(\\.p7s)?$`);

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === "ENOENT";
}

/**
 * Removes OUT/<owner>/.sis-partial-* files and returns how many. Safe because
 * such a file is never a saved image: an image becomes visible only by link()
 * under its real name after every check passed. Only directories sis itself
 * would make (valid usernames, not symbolic links) and only regular files with
 * OutputFile's exact name pattern are touched. A download running at the same
 * moment into the same OUT (a second watcher, a `sis get`) would lose its
 * temporary file and fail that one image without saving anything; watch
 * retries it.
 */
export async function cleanPartials(outDir: string): Promise<number> {
  let owners;
  try {
    owners = await readdir(outDir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return 0;
    throw error;
  }
  let removed = 0;
  for (const owner of owners) {
    // A Dirent of a symbolic link is not a directory: links are never followed.
    if (!owner.isDirectory() || !isValidUsername(owner.name)) continue;
    const dir = join(outDir, owner.name);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) continue;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.isFile() || !PARTIAL_NAME.test(entry.name)) continue;
      try {
        await unlink(join(dir, entry.name));
        removed++;
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
  }
  return removed;
}
