/** The stored CRL on PostgreSQL (ports.ts ST9): one row, replaced under a transaction-level advisory lock so two nodes never both sign. */
import type { SQL } from "bun";
import type { StoredCrl } from "../server/ports.ts";
import { CrlNotGrowingError } from "./crl-error.ts";
import { bytea } from "./postgres-statements.ts";

/** Key of the advisory lock held while a CRL is signed and stored ("sis-crl"). */
const CRL_LOCK = 0x7369_732d_6372_6cn;

export async function storedCrl(sql: SQL): Promise<StoredCrl | null> {
  const rows = await sql`SELECT number, revocation_version, signed_at, der FROM crl WHERE id = 1`;
  if (rows.length === 0) return null;
  const r = rows[0];
  return { number: Number(r.number), revocationVersion: Number(r.revocation_version), signedAt: Number(r.signed_at), der: new Uint8Array(r.der) };
}

/**
 * In one transaction: the lock, the stored row, `sign`, the new row. A second node waits at the
 * lock, then reads the first one's CRL (committed) and its `sign` keeps it. The lock ends with
 * the transaction, also when the connection is lost.
 */
export async function replaceCrlTx(tx: SQL, sign: (stored: StoredCrl | null) => Promise<StoredCrl | null>): Promise<StoredCrl> {
  await tx`SELECT pg_advisory_xact_lock(${CRL_LOCK.toString()}::bigint)`;
  const stored = await storedCrl(tx);
  const next = await sign(stored);
  if (next === null) {
    if (stored === null) throw new Error("no CRL is stored and none was signed");
    return stored;
  }
  if (stored !== null && next.number <= stored.number) throw new CrlNotGrowingError(`CRL number ${next.number} is not above the stored ${stored.number}; the number never goes down`);
  await tx`
    INSERT INTO crl (id, number, revocation_version, signed_at, der)
    VALUES (1, ${next.number}, ${next.revocationVersion}, ${next.signedAt}, ${bytea(next.der)})
    ON CONFLICT (id) DO UPDATE SET number = EXCLUDED.number, revocation_version = EXCLUDED.revocation_version,
      signed_at = EXCLUDED.signed_at, der = EXCLUDED.der`;
  return { ...next, der: new Uint8Array(next.der) };
}
