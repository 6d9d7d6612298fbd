/** An authenticated connection for a registered user (mutual TLS with the user's certificate). */
import { Connection } from "./connection.ts";
import { ClientError, RemoteError, TrustError } from "./errors.ts";
import type { Credentials } from "./home.ts";

export async function connectAs(creds: Credentials, timeoutMs?: number): Promise<Connection> {
  let conn: Connection;
  try {
    conn = await Connection.open({
      host: creds.host,
      port: creds.port,
      caPem: creds.caPem,
      certPem: creds.certPem,
      keyPem: creds.keyPem,
      ...(timeoutMs ? { timeoutMs } : {}),
    });
  } catch (error) {
    // RN7: the server's CERT_EXPIRED, said with the date and the one way out.
    if (error instanceof RemoteError && error.code === "CERT_EXPIRED") throw expiredError(creds);
    throw error;
  }
  if (conn.hello.user !== creds.profile.username) {
    conn.close();
    throw new ClientError(`the server did not accept the certificate of ${creds.profile.username}; register again with 'sis register'`);
  }
  return conn;
}

/**
 * RN7: an expired certificate cannot post, and cannot be renewed either: only the password
 * enrols a new key. Exit 3. (The server is asked first: a server certificate that does not
 * verify is said as such, P2, and the server's clock decides.)
 */
export function expiredError(creds: Pick<Credentials, "profile" | "homeDir">): TrustError {
  const { notAfter, server, username } = creds.profile;
  // A TrustError, so that `sis watch` stops instead of reconnecting.
  return new TrustError(
    "certificate",
    `your certificate expired on ${new Date(notAfter).toISOString()} and an expired certificate cannot be renewed; ` +
      `re-enrol with your password: sis register --server ${server} --user ${username} --home ${creds.homeDir}`,
  );
}
