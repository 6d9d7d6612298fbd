/** Builds subjectAltName entries from host names and IP literals, always including localhost and 127.0.0.1. */
import { isIP } from "node:net";
import { x509 } from "./setup.ts";

export const DEFAULT_HOSTS = ["localhost", "127.0.0.1"] as const;

const DNS_NAME = /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Throws on anything that is neither an IP literal nor a syntactically valid DNS name. */
export function sanEntries(hosts: readonly string[]): x509.JsonGeneralNames {
  const seen = new Set<string>();
  const names: x509.JsonGeneralNames = [];
  for (const raw of [...DEFAULT_HOSTS, ...hosts]) {
    const host = raw.trim().replace(/^\[(.*)\]$/, "$1").toLowerCase();
    if (seen.has(host)) continue;
    seen.add(host);
    if (isIP(host)) names.push({ type: "ip", value: host });
    else if (DNS_NAME.test(host)) names.push({ type: "dns", value: host });
    else throw new TypeError(`not a host name or IP address: ${JSON.stringify(raw)}`);
  }
  return names;
}
