/** V11 then V12: judge an image signer's certificate at the time-stamp's genTime when the token verifies, as of now when not. */
import { PkiError, type PkiErrorCode } from "./errors.ts";
import { verifyTimeStampToken } from "./tsa-verify.ts";
import { verifyUserCert, type VerifiedUser } from "./verify.ts";

export interface SignerAtTimeOptions {
  signerCertDer: Uint8Array;
  caCertDer: Uint8Array;
  crlDer?: Uint8Array;
  expectedUser: string;
  /** The token that came with the signature (G8), or null. */
  tokenDer: Uint8Array | null;
  /** The signature value it claims to cover (signatureValueOf). */
  signatureValue: Uint8Array;
  now?: Date;
}

export interface SignerVerdict {
  user: VerifiedUser;
  /** The genTime the certificate was judged at; null when judged as of now. */
  stampedAt: Date | null;
  /** Why the token was not used (V11: its own code); null when there was none or it was used. */
  tokenProblem: { code: PkiErrorCode; message: string } | null;
}

/**
 * A token that fails V11 is refused, not the image by itself: the certificate is then judged as
 * of now, and the token's code travels with the result, or with the refusal (a PkiError of the
 * certificate's own code whose message names the token's code), so a bad token is never silent.
 */
export async function verifySignerAtTimeStamp(opts: SignerAtTimeOptions): Promise<SignerVerdict> {
  const now = opts.now ?? new Date();
  let stampedAt: Date | null = null;
  let tokenProblem: SignerVerdict["tokenProblem"] = null;
  if (opts.tokenDer !== null) {
    try {
      const stamp = await verifyTimeStampToken({ tokenDer: opts.tokenDer, signatureValue: opts.signatureValue, caCertDer: opts.caCertDer, now, ...(opts.crlDer && { crlDer: opts.crlDer }) });
      stampedAt = stamp.genTime;
    } catch (error) {
      if (!(error instanceof PkiError)) throw error;
      tokenProblem = { code: error.code, message: error.message };
    }
  }
  try {
    const user = await verifyUserCert({
      certDer: opts.signerCertDer,
      caCertDer: opts.caCertDer,
      expectedUser: opts.expectedUser,
      now,
      ...(opts.crlDer && { crlDer: opts.crlDer }),
      ...(stampedAt && { signedAt: stampedAt }),
    });
    return { user, stampedAt, tokenProblem };
  } catch (error) {
    if (!(error instanceof PkiError) || tokenProblem === null) throw error;
    throw new PkiError(error.code, `${error.message} (as of now: ${tokenNotUsed(tokenProblem)})`);
  }
}

/** "the time-stamp was not used: CODE: message", the words every receiver shows. */
export function tokenNotUsed(problem: { code: string; message: string }): string {
  return `the time-stamp was not used: ${problem.code}: ${problem.message}`;
}
