/** Registration: pin the CA on first contact (P27), make a key and CSR, get a certificate. */
import { createKeyAndCsr, fingerprint, fromPem, normalizeFingerprint, toPem, verifyUserCert } from "../pki/index.ts";
import { fromBase64, toBase64, type ClientMessageOf } from "../protocol/index.ts";
import { Connection } from "./connection.ts";
import { ClientError, TrustError } from "./errors.ts";
import { Home, parseServer, type Profile } from "./home.ts";

export interface RegisterOptions {
  home: Home;
  server: string;
  /** Left out only with an invitation made for a name: the server registers that name (M4). */
  username?: string;
  password: string;
  caFingerprint?: string;
  /** Membership (M4): the invitation's secret (base64url); the caller takes server and fingerprint from the same invitation. */
  invitation?: string;
  keyBits?: number;
  /** The name this device's certificate is listed under in 'sis devices'. */
  device?: string;
  /** Asked on a terminal when no fingerprint was given; returns true to trust. */
  confirmFingerprint?: (fingerprint: string) => Promise<boolean>;
  log?: (line: string) => void;
}

export interface Registration {
  profile: Profile;
  newUser: boolean;
  caFingerprint: string;
}

/** Learns the CA over an unverified connection and decides whether to pin it. */
export async function pinCa(opts: Pick<RegisterOptions, "home" | "server" | "caFingerprint" | "confirmFingerprint">): Promise<{ caPem: string; fingerprint: string }> {
  const { host, port } = parseServer(opts.server);
  const wanted = opts.caFingerprint ? normalizeFingerprint(opts.caFingerprint) : null;
  const pinned = await opts.home.readCaPem();
  if (pinned) {
    const fp = fingerprint(fromPem(pinned, "CERTIFICATE"));
    if (wanted && normalizeFingerprint(fp) !== wanted) {
      throw new TrustError("ca", `cannot register: ${opts.home.dir} already trusts a CA with fingerprint ${fp}, not the one given; use another --home`);
    }
    return { caPem: pinned, fingerprint: fp };
  }
  // First contact: the server is not authenticated yet, so nothing but the CA
  // certificate is taken from this connection, and only after its fingerprint is approved.
  const probe = await Connection.open({ host, port, caPem: null });
  probe.close();
  const caDer = fromBase64(probe.hello.caCertificate);
  const fp = fingerprint(caDer);
  if (wanted) {
    if (normalizeFingerprint(fp) !== wanted) {
      throw new TrustError("ca", `cannot trust ${opts.server}: its CA fingerprint is ${fp}, not the one you gave; someone may be intercepting the connection — check the fingerprint with the server's operator`);
    }
  } else if (!opts.confirmFingerprint || !(await opts.confirmFingerprint(fp))) {
    throw new TrustError(
      "ca",
      `cannot trust ${opts.server} without its CA fingerprint: ask the operator for it (sis serve prints it; 'openssl x509 -noout -fingerprint -sha256 -in DATA/ca.pem' shows it) and pass --ca-fingerprint ${fp}`,
    );
  }
  const caPem = toPem(caDer, "CERTIFICATE");
  await opts.home.pinCa(caPem);
  return { caPem, fingerprint: fp };
}

/**
 * A home holds one registration, and its key is never overwritten: not another user's,
 * and not the same user's while its certificate is still valid (an expired one may be
 * renewed in place). Anything else needs another home.
 */
export async function ensureHomeFree(home: Home, username: string | undefined, now = Date.now()): Promise<void> {
  const held = await home.occupant();
  if (!held) return;
  const base = home.dir.replace(/\/+$/, "");
  // The invitation's name is not known before the server answers: any occupied home is refused.
  if (username === undefined) {
    throw new ClientError(`cannot register in ${home.dir}: it already holds ${held.username === null ? "a private key" : `${held.username}'s key`}; pass another --home, e.g. --home ${base}-2`);
  }
  if (held.username === null) {
    throw new ClientError(`cannot register ${username} in ${home.dir}: it holds a private key but no readable registration; move ${home.path("key")} away or pass another --home, e.g. --home ${base}-${username}`);
  }
  if (held.username !== username) {
    throw new ClientError(`cannot register ${username} in ${home.dir}: it already holds ${held.username}'s key and certificate; pass another --home for ${username}, e.g. --home ${base}-${username}`);
  }
  if (held.notAfter === null || held.notAfter > now) {
    const until = held.notAfter === null ? "" : ` (certificate valid until ${new Date(held.notAfter).toISOString()})`;
    throw new ClientError(`cannot register ${username} in ${home.dir}: it already holds ${username}'s working key${until}; to enrol another device, pass another --home, e.g. --home ${base}-2`);
  }
}

export async function register(opts: RegisterOptions): Promise<Registration> {
  const log = opts.log ?? (() => {});
  const { host, port } = parseServer(opts.server);
  await ensureHomeFree(opts.home, opts.username);
  const { caPem, fingerprint: caFingerprint } = await pinCa(opts);
  log(`pinned CA ${caFingerprint}`);
  const { privateKeyPkcs8, csrDer } = await createKeyAndCsr({ username: opts.username ?? "invitee", bits: opts.keyBits ?? 3072 });
  // The registration itself runs over a connection verified against the pinned CA.
  const conn = await Connection.open({ host, port, caPem });
  try {
    const common = {
      type: "REGISTER" as const, password: opts.password, csr: toBase64(csrDer),
      ...(opts.device !== undefined ? { device: opts.device } : {}),
    };
    // Without a name only the invitation says who registers (M4).
    let request: ClientMessageOf<"REGISTER">;
    if (opts.username !== undefined) request = { ...common, username: opts.username, ...(opts.invitation !== undefined ? { invitation: opts.invitation } : {}) };
    else if (opts.invitation !== undefined) request = { ...common, invitation: opts.invitation };
    else throw new ClientError("cannot register: a username is required (only an invitation made for a name may leave it out)");
    const reply = await conn.expect(request, "REGISTERED");
    // Asked for a name: that one; asked by an invitation that names the user: the server's answer, checked below against the certificate.
    if (opts.username !== undefined && reply.username !== opts.username) throw new TrustError("certificate", `the server registered ${reply.username}, not ${opts.username}; refusing`);
    const certDer = fromBase64(reply.certificate);
    if (normalizeFingerprint(fingerprint(fromBase64(reply.caCertificate))) !== normalizeFingerprint(caFingerprint)) {
      throw new TrustError("ca", "the server returned a different CA certificate than the one pinned; refusing");
    }
    await verifyUserCert({ certDer, caCertDer: fromPem(caPem, "CERTIFICATE"), expectedUser: reply.username }).catch((error: Error) => {
      throw new TrustError("certificate", `the server issued a certificate that does not verify: ${error.message}`);
    });
    const profile: Profile = { server: opts.server, username: reply.username, serial: reply.serial, notAfter: reply.notAfter, caFingerprint };
    await ensureHomeFree(opts.home, reply.username); // again: another sis may have registered into it meanwhile
    await opts.home.saveRegistration({ profile, keyPem: toPem(privateKeyPkcs8, "PRIVATE KEY"), certPem: toPem(certDer, "CERTIFICATE") });
    return { profile, newUser: reply.newUser, caFingerprint };
  } finally {
    conn.close();
  }
}

export { ClientError };
