/** Protocol version negotiation (PROTOCOL.md P10a): pure, so both ends and the tests agree on it. */
import { PROTOCOL_VERSIONS } from "./limits.ts";

/**
 * The version a server speaking `spoken` answers a HELLO with: the highest of the client's
 * `version` and `versions` it speaks too, or null when there is none.
 */
export function agreedVersion(version: number, versions: readonly number[] | undefined, spoken: readonly number[] = PROTOCOL_VERSIONS): number | null {
  const offered = new Set([version, ...(versions ?? [])]);
  const common = spoken.filter((v) => offered.has(v));
  return common.length > 0 ? Math.max(...common) : null;
}
