/** `sis admin init-cluster`: the keys every node of a cluster loads (docs/SCALING.md), made once; --renew-tls re-issues the TLS certificate only. */
import { resolve } from "node:path";
import { sanEntries } from "../pki/hosts.ts";
import { ClusterKeyError, initCluster, renewClusterTls, type ClusterInit } from "../server/cluster-keys.ts";
import { AdminError } from "./admin-place.ts";

export interface InitClusterOptions {
  out: string;
  /** "lb.example.org,10.0.0.5": the names and addresses clients reach the load balancer at; undefined with renewTls keeps the old ones. */
  names?: string;
  renewTls: boolean;
  tlsCertDays?: number;
}

/** The --name list: comma-separated host names and IP literals, each checked as the certificate will take it. */
export function parseNames(text: string): string[] {
  const names = text.split(",").map((n) => n.trim()).filter((n) => n !== "");
  if (names.length === 0) throw new AdminError("--name needs the load balancer's name, e.g. --name sis.example.org[,10.0.0.5]");
  try {
    sanEntries(names);
  } catch (error) {
    throw new AdminError(`--name: ${(error as Error).message}`);
  }
  return names;
}

export async function runInitCluster(opts: InitClusterOptions): Promise<ClusterInit & { dir: string }> {
  const dir = resolve(opts.out);
  const days = opts.tlsCertDays !== undefined ? { tlsCertDays: opts.tlsCertDays } : {};
  try {
    if (opts.renewTls) return { dir, ...(await renewClusterTls(dir, opts.names !== undefined ? parseNames(opts.names) : null, days)) };
    if (opts.names === undefined) throw new AdminError("give --name with the load balancer's name(s): the TLS certificate is made for them");
    return { dir, ...(await initCluster(dir, parseNames(opts.names), days)) };
  } catch (error) {
    throw error instanceof ClusterKeyError ? new AdminError(error.message.replace(/^cannot (start|init-cluster): /, "")) : error;
  }
}
