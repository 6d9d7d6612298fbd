/** An authenticated connection for a registered user (mutual TLS with the user's certificate). */
import { Connection } from "./connection.ts";
import { ClientError } from "./errors.ts";
import type { Credentials } from "./home.ts";

export async function connectAs(creds: Credentials, timeoutMs?: number): Promise<Connection> {
  const conn = await Connection.open({
    host: creds.host,
    port: creds.port,
    caPem: creds.caPem,
    certPem: creds.certPem,
    keyPem: creds.keyPem,
    ...(timeoutMs ? { timeoutMs } : {}),
  });
  if (conn.hello.user !== creds.profile.username) {
    conn.close();
    throw new ClientError(`the server did not accept the certificate of ${creds.profile.username}; register again with 'sis register'`);
  }
  return conn;
}
