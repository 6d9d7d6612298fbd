/**
 * A cut-through delivery the server dropped BEHIND (P45), resumed on version 4 (P23a): the
 * partial holds a decrypted, hashed prefix of the image, `received` bytes of its ciphertext, so
 * the catch-up asks for the rest only (`DOWNLOAD {id, from: received}`), feeds it into the same
 * decryption and verifies the whole exactly as a download (V1–V13), saved through the same
 * SaveGroup (D1–D6). Any failure discards the partial and the image is downloaded in full: a
 * refusal is always the full download's verdict.
 */
import { RANGED_DOWNLOAD_VERSION, sameImageMeta, type ImageMeta, type ServerMessageOf } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import type { CrlSource } from "./crl.ts";
import { ClientError } from "./errors.ts";
import type { Credentials } from "./home.ts";
import type { Partial } from "./partial.ts";
import type { Received } from "./receive.ts";
import type { DirSyncs } from "./save-group.ts";

/** The IMAGE of the ranged DOWNLOAD says what the INCOMING said, the catch-up's LIST too, and starts at `from`. */
function sameImage(reply: ServerMessageOf<"IMAGE">, announced: ServerMessageOf<"INCOMING">, listed: ImageMeta, from: number): boolean {
  const m = reply.image;
  const a = announced;
  return reply.from === from && reply.dataSize === a.dataSize && reply.header === a.header
    && m.id === a.id && m.owner === a.owner && m.name === a.name && m.size === a.size && m.contentType === a.contentType
    && sameImageMeta(m, listed);
}

/**
 * The image completed from its dropped delivery and saved, or null when it cannot be resumed
 * (then it is downloaded in full; the partial is gone). A lost connection is thrown, as a
 * download's would be.
 */
export async function savedByResume(
  partial: Partial, conn: Connection, image: ImageMeta, creds: Credentials, crl: CrlSource, dirSyncs: DirSyncs, debug?: (line: string) => void,
): Promise<Received | null> {
  const label = `${image.owner}/${image.name} (#${image.seq})`;
  const a = partial.announced;
  const from = partial.received;
  // Nothing kept, or everything (a server that dropped it after its last byte): a plain download.
  if (conn.version < RANGED_DOWNLOAD_VERSION || partial.failed || from === 0 || from >= a.dataSize) {
    await partial.discard();
    return null;
  }
  let data: AsyncGenerator<Uint8Array> | null = null;
  try {
    const reply = await conn.expect({ type: "DOWNLOAD", id: image.id, from }, "IMAGE");
    // What follows IMAGE is dataSize − from bytes (P23a); a reply that cannot say so leaves the connection out of step.
    const follows = reply.dataSize - (reply.from ?? 0);
    if (follows < 0) {
      conn.close();
      throw new ClientError("the server answered a ranged DOWNLOAD with an IMAGE whose from is past its data");
    }
    // transient: the partial's decryption is done with each piece before feed() resolves.
    data = conn.receiveData(follows, { transient: true });
    if (!sameImage(reply, a, image, from)) {
      // Read past (a generator not started would not drain on return()), then the full download.
      for await (const _piece of data);
      throw new ClientError("its IMAGE does not say what its INCOMING said");
    }
    for await (const piece of data) {
      if (!(await partial.feed(piece))) throw new ClientError("its tail does not decrypt where the delivery stopped");
    }
    partial.finish();
    const result = await partial.save(conn, creds, crl, image, dirSyncs, reply.signature);
    debug?.(`${a.owner}/${a.name}: resumed its dropped delivery at byte ${from} of ${a.dataSize}`);
    return result;
  } catch (error) {
    await partial.discard();
    if (conn.closed) throw error;
    debug?.(`${label}: its dropped delivery cannot be resumed (${(error as Error).message}); downloading it`);
    return null;
  } finally {
    // Leave the connection usable: drain whatever a failed check left unread.
    await data?.return(undefined);
  }
}
