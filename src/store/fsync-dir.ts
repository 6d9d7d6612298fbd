/** fsync of a directory: makes a rename/link/unlink inside it survive power loss. */
import { open } from "node:fs/promises";

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
