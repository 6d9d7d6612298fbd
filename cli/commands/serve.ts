/** sis serve: start the server with its CA; print the CA fingerprint and where it listens (options: src/app/options.ts). */
import { FlagError, loadConfig, parseFlags, printConfig, serveOptionsOf } from "../../src/app/config.ts";
import { SERVE_OPTIONS } from "../../src/app/options.ts";
import { ClusterKeyError, DatabaseOptionError, hostPort, isWildcard, ListenError, reachableHosts, startServer } from "../../src/app/serve.ts";
import { runService, serviceLogger } from "../../src/app/service.ts";
import { ClientError } from "../../src/client/errors.ts";
import { parse, UsageError } from "../args.ts";
import { VERSION } from "../version.ts";

const FLAGS = {
  ...Object.fromEntries(SERVE_OPTIONS.map((o) => [o.key, { type: (o.kind as string) === "flag" ? "boolean" : "string" } as const])),
  config: { type: "string" },
  "print-config": { type: "boolean", default: false },
} as const;

export async function serve(args: string[]): Promise<number> {
  const { values } = parse(args, FLAGS);
  const { config: file, "print-config": print, ...raw } = values as Record<string, string | boolean | undefined> & { config?: string; "print-config": boolean };
  let flags;
  try {
    flags = parseFlags(raw);
  } catch (error) {
    throw error instanceof FlagError ? new UsageError(error.message) : error;
  }
  const config = loadConfig({ ...(file !== undefined ? { file } : {}), flags });
  if (print) {
    process.stdout.write(printConfig(config));
    return 0;
  }
  const dataDir = config.data;
  const host = config.host;
  const log = serviceLogger(config);
  const server = await startServer({ ...serveOptionsOf(config), log, version: VERSION }).catch((error: unknown) => {
    // A port in use (or not ours) is the operator's to fix: say which and how, exit 1.
    if (error instanceof ListenError || error instanceof DatabaseOptionError || error instanceof ClusterKeyError) throw new ClientError(error.message);
    throw error;
  });
  if (server.created) {
    // A JSON log stays one object a line (O10): the notice is a log line there.
    if (log.format === "json") log.warn(newCaNotice(dataDir, server.caFingerprint).replace(/^sis: (NOTE: )?/gm, "").trim().replace(/\n/g, " "), { data: dataDir, caFingerprint: server.caFingerprint });
    else process.stderr.write(newCaNotice(dataDir, server.caFingerprint));
  }
  const out = process.stdout;
  const first = server.reachable[0]!;
  out.write(`sis ${VERSION} serving from ${dataDir}${server.created ? " (new CA created)" : ""}\n`);
  out.write(`CA fingerprint (SHA-256): ${server.caFingerprint}\n`);
  out.write(`protocol: tls://${hostPort(host, server.port)}\n`);
  if (isWildcard(host)) out.write(`listening on every interface; clients reach it at ${server.reachable.map((h) => hostPort(h, server.port)).join(", ")}\n`);
  if (server.httpPort !== null) out.write(`http: http://${hostPort(reachableHosts(config["http-host"])[0]!, server.httpPort)} (/ca.pem /crl.pem /healthz /metrics)\n`);
  // Membership (M7): the first user's invitation, next to the fingerprint; on stdout only, never in a log.
  if (server.firstInvitation) {
    out.write(`invitation: ${server.firstInvitation.text}\n`);
    out.write(`the first user registers with: sis register --invite - --user NAME   (paste the invitation line above when asked; it works once, for 7 days)\n`);
  }
  if (config["open-registration"]) out.write(`OPEN REGISTRATION: anyone who can reach this port can create an account (--open-registration)\n`);
  // The CA's folder: invite reads the fingerprint there (the keys folder in cluster mode).
  else out.write(`new users need an invitation: sis admin invite --data ${config.keys !== "" ? config.keys : dataDir}${config.database !== "sqlite" ? " --database URL" : ""}\n`);
  out.write(`users register with: sis register --server ${hostPort(first, server.port)} --user NAME --ca-fingerprint ${server.caFingerprint}\n`);

  await runService({ server, log, config, ...(file !== undefined ? { file } : {}), flags });
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
