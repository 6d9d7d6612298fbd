/** `sis admin rm`: deletes any image on the server's stores (admin-place.ts), row then blob, also while the server runs (PROTOCOL.md M29). */
import { AdminError, adminPlace, openAdminBlobs, openAdminStore, type Where } from "./admin-place.ts";

export interface DeletedImage {
  seq: number;
  owner: string;
  name: string;
  cipherSize: number;
}

/**
 * The row is deleted in a committed transaction, then the blob file: a running
 * server reads the database at every LIST and DOWNLOAD, so it stops serving the
 * image at once. The same transaction logs the deletion (ports.ts ST12), which
 * every server reads: on PostgreSQL at once (the transaction rings the
 * doorbell), on SQLite at the server's next 2 s poll; they push IMAGE_DELETED
 * (M29). A download already streaming finishes (M28). A crash
 * between the two steps leaves an orphan that the server's start-up sweep removes (on S3: once older than its minimum orphan age).
 */
export async function deleteAnyImage(data: Where, owner: string, name: string): Promise<DeletedImage> {
  const place = adminPlace(data);
  const store = await openAdminStore(place);
  try {
    const record = await store.findImageByName(owner, name);
    if (!record || !(await store.deleteImage(record.id))) throw new AdminError(`no image ${owner}/${name}; 'sis list' shows them`);
    const blobs = await openAdminBlobs(place);
    await blobs.remove(record.id);
    return { seq: record.seq, owner: record.owner, name: record.name, cipherSize: record.cipherSize };
  } finally {
    await store.close();
  }
}
