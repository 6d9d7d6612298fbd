/** `sis admin rm`: deletes any image on the data directory, row then blob, also while the server runs (PROTOCOL.md M29). */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { DATA_FILES } from "../server/data-dir.ts";
import { FileBlobStore, SqliteStore } from "../store/index.ts";
import { AdminError } from "./admin.ts";

export interface DeletedImage {
  seq: number;
  owner: string;
  name: string;
  cipherSize: number;
}

/**
 * The row is deleted in a committed transaction, then the blob file: a running
 * server reads the database at every LIST and DOWNLOAD, so it stops serving the
 * image at once (its connected clients get no IMAGE_DELETED push: the server is
 * another process). A download already streaming finishes (M28). A crash
 * between the two steps leaves an orphan file that the server's start-up sweep removes.
 */
export async function deleteAnyImage(data: string, owner: string, name: string): Promise<DeletedImage> {
  const dir = resolve(data);
  const path = join(dir, DATA_FILES.database);
  if (!existsSync(path)) throw new AdminError(`no sis database in ${dir}; pass the server's --data DIR`);
  const store = SqliteStore.open(path);
  try {
    const record = await store.findImageByName(owner, name);
    if (!record || !(await store.deleteImage(record.id))) throw new AdminError(`no image ${owner}/${name}; 'sis list' shows them`);
    const blobs = await FileBlobStore.open(join(dir, DATA_FILES.blobs));
    await blobs.remove(record.id);
    return { seq: record.seq, owner: record.owner, name: record.name, cipherSize: record.cipherSize };
  } finally {
    await store.close();
  }
}
