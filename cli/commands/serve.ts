/** sis serve: start the server with its CA; print the CA fingerprint and where it listens. */
import { resolve } from "node:path";
import { DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_MAX_IMAGE_SIZE, HANDSHAKE_TIMEOUT_MS, IDLE_TIMEOUT_MS } from "../../src/protocol/index.ts";
import { ClientError } from "../../src/client/errors.ts";
import { hostPort, isWildcard, ListenError, reachableHosts } from "../../src/server/listen-address.ts";
import { REVOCATION_CHECK_MS } from "../../src/server/revocation-watch.ts";
import { startServer } from "../../src/server/serve.ts";
import { intOption, parse, sizeOption } from "../args.ts";
import { VERSION } from "../version.ts";

export async function serve(args: string[]): Promise<number> {
  const { values } = parse(args, {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    "http-port": { type: "string" },
    "http-host": { type: "string", default: "127.0.0.1" },
    data: { type: "string", default: "./sis-data" },
    "max-image-size": { type: "string" },
    "cert-days": { type: "string" },
    "max-connections-per-address": { type: "string" },
    "idle-timeout": { type: "string" },
    "handshake-timeout": { type: "string" },
    "revocation-check": { type: "string" },
  });
  const dataDir = resolve(values.data);
  const server = await startServer({
    dataDir,
    host: values.host,
    port: intOption(values.port, "port", 1233, 0, 65535),
    httpHost: values["http-host"],
    httpPort: intOption(values["http-port"], "http-port", 8233, 0, 65535),
    limits: {
      maxImageSize: sizeOption(values["max-image-size"], "max-image-size", DEFAULT_MAX_IMAGE_SIZE),
      certLifetimeDays: intOption(values["cert-days"], "cert-days", 365, 1, 3650),
      maxConnectionsPerAddress: intOption(values["max-connections-per-address"], "max-connections-per-address", DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, 1, 1_000_000),
      idleTimeoutMs: 1000 * intOption(values["idle-timeout"], "idle-timeout", IDLE_TIMEOUT_MS / 1000, 35, 86_400),
      handshakeTimeoutMs: 1000 * intOption(values["handshake-timeout"], "handshake-timeout", HANDSHAKE_TIMEOUT_MS / 1000, 1, 300),
      revocationCheckMs: 1000 * intOption(values["revocation-check"], "revocation-check", REVOCATION_CHECK_MS / 1000, 1, 3600),
    },
    version: VERSION,
  }).catch((error: unknown) => {
    // A port in use (or not ours) is the operator's to fix: say which and how, exit 1.
    if (error instanceof ListenError) throw new ClientError(error.message);
    throw error;
  });
  if (server.created) process.stderr.write(newCaNotice(dataDir, server.caFingerprint));
  const out = process.stdout;
  const first = server.reachable[0]!;
  out.write(`sis ${VERSION} serving from ${dataDir}${server.created ? " (new CA created)" : ""}\n`);
  out.write(`CA fingerprint (SHA-256): ${server.caFingerprint}\n`);
  out.write(`protocol: tls://${hostPort(values.host, server.port)}\n`);
  if (isWildcard(values.host)) out.write(`listening on every interface; clients reach it at ${server.reachable.map((h) => hostPort(h, server.port)).join(", ")}\n`);
  if (server.httpPort !== null) out.write(`http: http://${hostPort(reachableHosts(values["http-host"])[0]!, server.httpPort)} (/ca.pem /crl.pem /healthz /metrics)\n`);
  out.write(`users register with: sis register --server ${hostPort(first, server.port)} --user NAME --ca-fingerprint ${server.caFingerprint}\n`);

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await server.stop();
  return 0;
}

/** Said loudly on stderr at the first start in a directory: a new CA means clients registered elsewhere will not trust this server. */
function newCaNotice(dataDir: string, fingerprint: string): string {
  return [
    `sis: NOTE: created a NEW certificate authority in ${dataDir} (fingerprint ${fingerprint}).`,
    `sis: Clients registered with a server that used another data directory do not trust this CA and will be refused;`,
    `sis: if you meant to run that server, stop this one and start it with --data pointing at its directory.`,
    `sis: Otherwise give users the fingerprint above; they register with it.`,
    "",
  ].join("\n");
}
