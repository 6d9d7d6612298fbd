/** fsync of a directory: makes a rename/link/unlink inside it survive power loss (the store's blobs, the client's saved images, backups). */
import { open } from "node:fs/promises";

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
