/** Re-verifies one saved image: its detached signature over the file's bytes, and the signer against the pinned CA. */
import { constants, type Stats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { MAX_SIGNATURE_SIZE, createImageDigest, extractTimeStampToken, signatureValueOf, verifyImageSignature } from "../crypto/index.ts";
import { ACCEPTED_IMAGES } from "../image/formats.ts";
import { SNIFF_BYTES, sniffImageType } from "../image/sniff.ts";
import { certInfo, tokenNotUsed, verifySignerAtTimeStamp } from "../pki/index.ts";
import type { ContentType } from "../protocol/index.ts";

const READ_CHUNK = 1024 * 1024;

/** O_NOFOLLOW: a symlink planted in place of a saved file is refused by the kernel, not followed. */
const NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

export interface CertDetails {
  subject: string;
  serial: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
}

export interface Verdict {
  verified: boolean;
  /** Why the image is not verified; null when it is. */
  reason: string | null;
  contentType: ContentType | null;
  /** SHA-256 of the verified bytes (hex): the preview cache's key. Null when not verified. */
  sha256: string | null;
  signingTime: string | null;
  cert: CertDetails | null;
  /** T6: the time-stamp's genTime (ISO 8601) the signer's certificate was judged at; absent when judged as of now. */
  stampedAt?: string;
  /** T6: why the .p7s's time-stamp was not used ("the time-stamp was not used: CODE: …"); absent when there was none or it was used. */
  timestampProblem?: string;
}

/** The identity of a file's current contents: any write changes ctime, which no user can set back. */
export function stamp(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** Opens a regular file without following a symlink in its last component; null if that is not what is there. */
export async function openPlainFile(path: string): Promise<{ handle: FileHandle; stat: Stats } | null> {
  const handle = await open(path, NOFOLLOW).catch(() => null);
  if (!handle) return null;
  const stat = await handle.stat().catch(() => null);
  if (stat?.isFile()) return { handle, stat };
  await handle.close();
  return null;
}

async function readAll(handle: FileHandle, max: number): Promise<Uint8Array | null> {
  const { size } = await handle.stat();
  if (size > max) return null;
  const buffer = new Uint8Array(size);
  const { bytesRead } = await handle.read(buffer, 0, size, 0);
  return buffer.subarray(0, bytesRead);
}

/** Streams the file through SHA-256 and keeps its first bytes for sniffing. */
async function digestFile(handle: FileHandle): Promise<{ digest: Uint8Array; head: Uint8Array }> {
  const digest = createImageDigest();
  let head = new Uint8Array(0);
  let position = 0;
  for (;;) {
    const buffer = new Uint8Array(READ_CHUNK);
    const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, position);
    if (bytesRead === 0) break;
    if (position === 0) head = buffer.slice(0, Math.min(SNIFF_BYTES, bytesRead));
    digest.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return { digest: digest.digest(), head };
}

function details(der: Uint8Array): CertDetails | null {
  try {
    const info = certInfo(der);
    return { subject: info.subject, serial: info.serial, issuer: info.issuer, notBefore: new Date(info.notBefore).toISOString(), notAfter: new Date(info.notAfter).toISOString() };
  } catch {
    return null;
  }
}

function refused(reason: string, rest: Partial<Verdict> = {}): Verdict {
  return { verified: false, reason, contentType: null, sha256: null, signingTime: null, cert: null, ...rest };
}

/**
 * Verifies the already opened image against OWNER/NAME's signature file. The digest is
 * taken over the bytes of this open file, so what is judged is what was opened.
 */
export async function verifyOpenImage(p: { image: FileHandle; p7sPath: string; owner: string; name: string; caDer: Uint8Array }): Promise<Verdict> {
  const sig = await openPlainFile(p.p7sPath);
  if (!sig) return refused("the signature file (.p7s) is missing or not a plain file");
  let cms: Uint8Array | null;
  try {
    cms = await readAll(sig.handle, MAX_SIGNATURE_SIZE);
  } finally {
    await sig.handle.close();
  }
  if (!cms) return refused("the signature file is larger than 64 KiB");

  const { digest, head } = await digestFile(p.image);
  const contentType = sniffImageType(head);
  if (!contentType) return refused(`the file is not a ${ACCEPTED_IMAGES} (judged by its content)`);

  let signer;
  try {
    signer = await verifyImageSignature({ cms, digest, owner: p.owner, name: p.name, contentType });
  } catch (error) {
    return refused(`the signature does not verify: ${(error as Error).message}`, { contentType });
  }
  const found = { contentType, signingTime: signer.signingTime.toISOString(), cert: details(signer.signerCertDer) };
  let verdict;
  try {
    // No CRL here: revocation was checked by sis watch / sis get when the image was saved.
    // T6: the same rule as theirs: judged at the .p7s's time-stamp if it verifies (V11, V12), else as of now.
    verdict = await verifySignerAtTimeStamp({ signerCertDer: signer.signerCertDer, caCertDer: p.caDer, expectedUser: p.owner, tokenDer: extractTimeStampToken(cms), signatureValue: signatureValueOf(cms) });
  } catch (error) {
    return refused(`the signer's certificate is not acceptable: ${(error as Error).message}`, found);
  }
  return {
    verified: true,
    reason: null,
    ...found,
    sha256: Buffer.from(digest).toString("hex"),
    ...(verdict.stampedAt && { stampedAt: verdict.stampedAt.toISOString() }),
    ...(verdict.tokenProblem && { timestampProblem: tokenNotUsed(verdict.tokenProblem) }),
  };
}
