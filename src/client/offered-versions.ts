/** The protocol versions a client offers at HELLO (P10a), and the servers of this process known to speak version 1 only. */
import { PROTOCOL_VERSION, PROTOCOL_VERSIONS } from "../protocol/index.ts";

/**
 * Servers (host:port) that refused HELLO.versions with BAD_MESSAGE: a server of version 1, whose
 * HELLO schema has no such field. Later connections of this process offer it version 1 at once.
 */
const versionOneServers = new Set<string>();

/** What a client offers (P10a): every version it speaks; SIS_PROTOCOL_MAX=1 limits it (comparisons, benchmarks). */
export function offeredVersions(): readonly number[] {
  const max = Number(process.env.SIS_PROTOCOL_MAX ?? Number.POSITIVE_INFINITY);
  const offered = PROTOCOL_VERSIONS.filter((v) => v <= max);
  return offered.length > 0 ? offered : [PROTOCOL_VERSION];
}

/** The versions to offer the server at `where` (host:port): version 1 alone to one known to speak only it. */
export function versionsFor(where: string, requested: readonly number[] | undefined): readonly number[] {
  return versionOneServers.has(where) ? [PROTOCOL_VERSION] : (requested ?? offeredVersions());
}

/** `where` refused the offer: a server of version 1, offered version 1 alone from now on. */
export function rememberVersionOne(where: string): void {
  versionOneServers.add(where);
}
