/** Linking a new device with a one-time code (PROTOCOL.md M20–M22): pin the CA, make a key, enrol it without the password. */
import { createKeyAndCsr, fingerprint, fromPem, normalizeFingerprint, toPem, verifyUserCert } from "../pki/index.ts";
import { fromBase64, toBase64 } from "../protocol/index.ts";
import { Connection } from "./connection.ts";
import { ClientError, TrustError } from "./errors.ts";
import { Home, parseServer, type Profile } from "./home.ts";
import { pinCa, type Registration } from "./register.ts";

export interface LinkOptions {
  home: Home;
  server: string;
  code: string;
  device: string;
  caFingerprint?: string;
  keyBits?: number;
  confirmFingerprint?: (fingerprint: string) => Promise<boolean>;
}

/** A home to link into holds nothing yet: the code decides the user, so no registration of any user may be there. */
async function ensureHomeEmpty(home: Home): Promise<void> {
  const held = await home.occupant();
  if (!held) return;
  const who = held.username ? `${held.username}'s key and certificate` : "a private key";
  throw new ClientError(`cannot link a device in ${home.dir}: it already holds ${who}; pass another --home, e.g. --home ${home.dir.replace(/\/+$/, "")}-2`);
}

export async function linkDevice(opts: LinkOptions): Promise<Registration> {
  const { host, port } = parseServer(opts.server);
  await ensureHomeEmpty(opts.home);
  const { caPem, fingerprint: caFingerprint } = await pinCa(opts);
  // The CN is a courtesy (the server sets the subject to the code's user).
  const { privateKeyPkcs8, csrDer } = await createKeyAndCsr({ username: "sis-device", bits: opts.keyBits ?? 3072 });
  const conn = await Connection.open({ host, port, caPem });
  try {
    const reply = await conn.expect({ type: "LINK_DEVICE", code: opts.code, csr: toBase64(csrDer), device: opts.device }, "REGISTERED");
    if (normalizeFingerprint(fingerprint(fromBase64(reply.caCertificate))) !== normalizeFingerprint(caFingerprint)) {
      throw new TrustError("ca", "the server returned a different CA certificate than the one pinned; refusing");
    }
    const certDer = fromBase64(reply.certificate);
    await verifyUserCert({ certDer, caCertDer: fromPem(caPem, "CERTIFICATE"), expectedUser: reply.username }).catch((error: Error) => {
      throw new TrustError("certificate", `the server issued a certificate that does not verify: ${error.message}`);
    });
    const profile: Profile = { server: opts.server, username: reply.username, serial: reply.serial, notAfter: reply.notAfter, caFingerprint };
    await ensureHomeEmpty(opts.home);
    await opts.home.saveRegistration({ profile, keyPem: toPem(privateKeyPkcs8, "PRIVATE KEY"), certPem: toPem(certDer, "CERTIFICATE") });
    return { profile, newUser: false, caFingerprint };
  } finally {
    conn.close();
  }
}
