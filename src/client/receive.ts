/**
 * Download, decrypt, verify, save (ENVELOPE.md section 5). Nothing reaches the
 * output directory unless every check passed: the plaintext goes to a
 * temporary file that is renamed into place only at the end.
 */
import {
  addTimeStampToken, CHUNK_SIZE, cipherSize, createImageDigest, decodeHeader, EnvelopeError, extractTimeStampToken, removeTimeStampToken, openStreamInto, signatureValueOf,
  unwrapKey, verifyImageSignature,
} from "../crypto/index.ts";
import { SNIFF_BYTES, sniffImageType } from "../image/sniff.ts";
import { verifySignerAtTimeStamp } from "../pki/index.ts";
import { fromBase64, imageNameProblem, isValidUsername, type ClientMessageOf, type ImageMeta } from "../protocol/index.ts";
import type { Connection } from "./connection.ts";
import type { CrlSource } from "./crl.ts";
import { TrustError } from "./errors.ts";
import type { Credentials } from "./home.ts";
import { OutputFile } from "./output-file.ts";
import type { DirSyncs } from "./save-group.ts";

export interface Received {
  image: ImageMeta;
  path: string;
  signer: string;
  signerSerial: string;
  /** False when an identical file was already there (a repeated delivery). */
  written: boolean;
  /** The time-stamp's genTime the signer's certificate was judged at (V12); null when judged as of now. */
  stampedAt: Date | null;
  /** Why the image's time-stamp was not used ("CODE: message", V11); null when there was none or it was used. */
  tokenProblem: string | null;
}

type Target = { id: string } | { owner: string; name: string };

/** The signature with its token as the unsigned attribute (G8); as it came if that would pass V1's bound (a hostile near-16-KiB signature). */
function withToken(cms: Uint8Array, tokenDer: Uint8Array): Uint8Array {
  try {
    return addTimeStampToken(cms, tokenDer);
  } catch {
    return cms;
  }
}

function refuse(check: string, message: string): never {
  throw new TrustError(check, message);
}

/** With `dirSyncs` the folder's fsync is left to the caller, which must sync it before it acknowledges the save (src/client/save-group.ts). */
export async function receiveImage(
  conn: Connection, creds: Credentials, crl: CrlSource, target: Target, outDir: string, onProgress?: (got: number, total: number) => void, dirSyncs?: DirSyncs,
): Promise<Received> {
  const request: ClientMessageOf<"DOWNLOAD"> = "id" in target ? { type: "DOWNLOAD", id: target.id } : { type: "DOWNLOAD", owner: target.owner, name: target.name };
  const reply = await conn.expect(request, "IMAGE");
  const { image } = reply;
  // transient: openStreamInto is done with each piece before it asks for the next (it opens
  // whole chunks in place and copies a chunk split across pieces into its own buffer).
  const data = conn.receiveData(reply.dataSize, { transient: true });
  let output: OutputFile | null = null;
  try {
    const { headerBytes, header } = checkAnnounced(image, reply.header, reply.dataSize);
    const key = await openKey(reply.wrappedKey, creds);
    output = await OutputFile.create(outDir, image.owner, image.name);
    const digest = createImageDigest();
    let head: Uint8Array | null = null;
    let got = 0;
    try {
      // Into one buffer: each piece is hashed and copied to the file before the next is opened.
      for await (const plain of openStreamInto(key, headerBytes, data, new Uint8Array(CHUNK_SIZE))) {
        digest.update(plain);
        if (!head) head = plain.slice(0, SNIFF_BYTES); // a copy: the buffer is refilled
        await output.write(plain);
        got += plain.length;
        onProgress?.(got, header.size);
      }
    } catch (error) {
      // Only the envelope's own verdict is a refusal. A lost connection or a failing disk says
      // nothing about the image: it must propagate, so watch retries instead of skipping the image.
      if (!(error instanceof EnvelopeError)) throw error;
      refuse("decrypt", `the image does not decrypt intact: ${error.message}`);
    } finally {
      key.fill(0);
    }

    const saved = await verifyAndCommit(conn, creds, crl, image, output, digest.digest(), head, reply.signature, dirSyncs);
    output = null;
    return saved;
  } finally {
    await output?.discard();
    // Leave the connection usable: drain whatever the failed check left unread.
    await data.return(undefined);
  }
}

/** The checks of an announced image before any byte is opened (ENVELOPE.md section 5): safe names, a header that says what the server said. */
export function checkAnnounced(image: Pick<ImageMeta, "owner" | "name" | "size" | "contentType">, headerB64: string, dataSize: number) {
  // The names become a path under OUT: they must be one plain segment each.
  if (!isValidUsername(image.owner) || imageNameProblem(image.name)) refuse("name", `the image's owner or name is not a safe file name (${JSON.stringify(image.owner)}/${JSON.stringify(image.name)})`);
  const headerBytes = fromBase64(headerB64);
  let header;
  try {
    header = decodeHeader(headerBytes);
  } catch (error) {
    refuse("envelope", `the envelope header is invalid: ${(error as Error).message}`);
  }
  if (header.owner !== image.owner || header.name !== image.name || header.size !== image.size || header.contentType !== image.contentType) {
    refuse("envelope", "the envelope header does not match the image the server announced");
  }
  if (dataSize !== cipherSize(header.size)) refuse("envelope", "the ciphertext size does not match the envelope header");
  return { headerBytes, header };
}

/** The content key, unwrapped with this client's key (it was wrapped for its certificate, P24). */
export async function openKey(wrappedKeyB64: string, creds: Credentials): Promise<Uint8Array> {
  try {
    return await unwrapKey(fromBase64(wrappedKeyB64), creds.keyPkcs8);
  } catch {
    refuse("key", "the image key is not wrapped for your certificate");
  }
}

/**
 * The plaintext is all in `output` and hashed to `plainDigest`: the signature (V1–V13), the
 * signer's certificate against the CRL, the content type; then the file is linked into place.
 * `output` is committed or left to the caller to discard.
 */
export async function verifyAndCommit(
  conn: Connection, creds: Credentials, crl: CrlSource, image: ImageMeta, output: OutputFile, plainDigest: Uint8Array, head: Uint8Array | null, signatureB64: string, dirSyncs?: DirSyncs,
): Promise<Received> {
  const cms = fromBase64(signatureB64);
  let signer;
  let tokenDer: Uint8Array | null;
  try {
    signer = await verifyImageSignature({ cms, digest: plainDigest, owner: image.owner, name: image.name, contentType: image.contentType });
    // T4: the server's token travels in the signature, as its unsigned attribute (G8).
    tokenDer = extractTimeStampToken(cms);
  } catch (error) {
    refuse("signature", `the signature does not verify: ${(error as Error).message}`);
  }
  // Fetched outside the verdict below: a lost connection here is not a verdict on the image.
  const crlDer = await crl.get(conn);
  let verdict;
  try {
    // V11 on the token, then V8 at the time V12 gives, with V13.
    verdict = await verifySignerAtTimeStamp({ signerCertDer: signer.signerCertDer, caCertDer: creds.caDer, crlDer, expectedUser: image.owner, tokenDer, signatureValue: signatureValueOf(cms) });
  } catch (error) {
    if (error instanceof TrustError) throw error;
    refuse("certificate", `the signer's certificate is not acceptable: ${(error as Error).message}`);
  }
  const detected = head ? sniffImageType(head) : null;
  if (detected !== image.contentType) refuse("content", `the content is not the declared ${image.contentType}`);

  // T5: the saved NAME.p7s carries the token that was used, so the gallery and OpenSSL can check it too.
  const saved = verdict.stampedAt !== null && tokenDer !== null ? withToken(cms, tokenDer) : removeTimeStampToken(cms);
  const { path, written } = await output.commit(saved, plainDigest, dirSyncs);
  // The serial the judgement read (V8): certInfo would parse the certificate again with
  // @peculiar/x509, ~2 ms an image for a display field (bench/README.md, "the album's CPU").
  const serial = verdict.user.serial;
  const tokenProblem = verdict.tokenProblem && `${verdict.tokenProblem.code}: ${verdict.tokenProblem.message}`;
  return { image, path, signer: image.owner, signerSerial: serial, written, stampedAt: verdict.stampedAt, tokenProblem };
}
