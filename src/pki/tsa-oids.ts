/** Object identifiers of the time-stamp profile (ENVELOPE.md G8..G10), dotted. */

export const OIDS = {
  signedData: "1.2.840.113549.1.7.2",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  /** id-ct-TSTInfo (RFC 3161 2.4.2). */
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  /** id-aa-signingCertificateV2 (RFC 5035, required in tokens by RFC 5816). */
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  /** id-aa-signatureTimeStampToken (RFC 3161 appendix A): the unsigned attribute of the image's SignerInfo. */
  signatureTimeStampToken: "1.2.840.113549.1.9.16.2.14",
  sha256: "2.16.840.1.101.3.4.2.1",
  rsaEncryption: "1.2.840.113549.1.1.1",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  /** ecdsa-with-SHA256 (RFC 5758 3.2): the signature of a P-256 TSA key (G10). */
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  timeStamping: "1.3.6.1.5.5.7.3.8",
} as const;

/**
 * The sis time-stamp policy (TSTInfo.policy, G9): an OID under the UUID arc 2.25 (ITU-T X.667),
 * which anyone may mint from a random UUID without registration; this one is
 * 51b3b976-d383-4dae-9620-6af9f36eb17d. It means "the sis server's clock when it stored the image".
 */
export const SIS_TSA_POLICY_OID = "2.25.108600650456415845290379336642978558333";

/** The dotted form of an OBJECT IDENTIFIER's content octets, with arcs of any size (2.25 arcs exceed 2^53). */
export function decodeOid(content: Uint8Array): string {
  const arcs: bigint[] = [];
  let value = 0n;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (value === 0n && b === 0x80) throw new RangeError("OID arc is not minimally encoded");
    value = (value << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
    } else if (i === content.length - 1) throw new RangeError("OID ends inside an arc");
  }
  const first = arcs.shift();
  if (first === undefined) throw new RangeError("empty OID");
  const top = first < 40n ? 0n : first < 80n ? 1n : 2n;
  return [top, first - top * 40n, ...arcs].join(".");
}

/** DER of an OBJECT IDENTIFIER in dotted form, with arcs of any size (the 2.25 policy arc exceeds 2^53, so der.ts's oid() cannot write it). */
export function encodeOid(dotted: string): Uint8Array {
  if (!/^[0-2](\.\d+)+$/.test(dotted)) throw new RangeError(`not a dotted OID: ${dotted}`);
  const [a, b, ...rest] = dotted.split(".").map(BigInt) as [bigint, bigint, ...bigint[]];
  const body: number[] = [];
  for (const arc of [40n * a + b, ...rest]) {
    const groups = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) groups.unshift(0x80 | Number(n & 0x7fn));
    body.push(...groups);
  }
  if (body.length > 127) throw new RangeError("OID too long");
  return new Uint8Array([0x06, body.length, ...body]);
}
