/** Where the server listens and how clients reach it: port checks before anything is created, usable addresses for a wildcard host. */
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";

/** A host that binds every interface; no client can connect to it as written. */
export function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]" || host === "";
}

/**
 * The addresses a client can use: the host itself, or for a wildcard host the
 * machine's non-internal interface addresses (IPv4; IPv6 too for `::`, without
 * link-local ones, which need a zone) followed by 127.0.0.1 and localhost.
 */
export function reachableHosts(host: string, interfaces = networkInterfaces()): string[] {
  if (!isWildcard(host)) return [host];
  const v6 = host !== "0.0.0.0";
  const found: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === "IPv4") found.push(a.address);
      else if (v6 && a.family === "IPv6" && !a.address.toLowerCase().startsWith("fe80:")) found.push(a.address);
    }
  }
  return [...new Set([...found, "127.0.0.1", "localhost"])];
}

/** HOST:PORT as a client writes it (IPv6 literals in brackets). */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A port the server cannot listen on; the message names it and what to do. */
export class ListenError extends Error {
  override readonly name = "ListenError";
}

function listenReason(error: unknown, host: string, port: number, flag: string): string {
  const code = (error as { code?: string }).code;
  const where = hostPort(host, port);
  switch (code) {
    case "EADDRINUSE":
      return `cannot listen on ${where}: the port is already in use (is another 'sis serve' running?); stop that process or choose another ${flag}`;
    case "EACCES":
      return `cannot listen on ${where}: permission denied for that port; choose a port above 1023 with ${flag}`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${where}: ${host} is not an address of this machine; pass --host with one of its addresses, or 0.0.0.0`;
    default:
      return `cannot listen on ${where}: ${(error as Error).message}; check --host and ${flag}`;
  }
}

/**
 * Binds HOST:PORT for a moment and lets it go, so that a port in use is found
 * before the data directory (CA, keys, database) is made. Port 0 always binds.
 */
export function assertCanListen(host: string, port: number, flag: string): void {
  if (port === 0) return;
  try {
    Bun.listen({ hostname: host, port, socket: { data() {} } }).stop(true);
  } catch (error) {
    throw new ListenError(listenReason(error, host, port, flag));
  }
}

/** Runs a listen call, turning its error into one that names the address and the option to change. */
export function listenOrExplain<T>(host: string, port: number, flag: string, listen: () => T): T {
  try {
    return listen();
  } catch (error) {
    throw new ListenError(listenReason(error, host, port, flag));
  }
}

/** listenOrExplain for a listen that settles later (node:net reports EADDRINUSE as an event). */
export async function listenOrExplainAsync<T>(host: string, port: number, flag: string, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    throw new ListenError(listenReason(error, host, port, flag));
  }
}
