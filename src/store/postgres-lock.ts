/**
 * Cluster-wide locks on PostgreSQL (ports.ts ST11): a session-level pg_try_advisory_lock on a
 * connection reserved for the task. A session lock, not a transaction's: a sweep that lists a
 * large bucket then holds no snapshot open, which would keep VACUUM from its work meanwhile.
 * A lost connection releases the lock in PostgreSQL while the task may still run; the work it
 * guards (a sweep by age, S3-3) stays safe when two run at once, the lock only spares the work.
 */
import type { SQL } from "bun";

export async function tryExclusive<T>(sql: SQL, name: string, task: () => Promise<T>): Promise<{ value: T } | null> {
  const conn = await sql.reserve();
  try {
    // hashtextextended: the name as a 64-bit key, the same on every node.
    const key = `sis:${name}`;
    const [{ held }] = await conn`SELECT pg_try_advisory_lock(hashtextextended(${key}, 0)) AS held`;
    if (!held) return null;
    try {
      return { value: await task() };
    } finally {
      await conn`SELECT pg_advisory_unlock(hashtextextended(${key}, 0))`.catch(() => {});
    }
  } finally {
    conn.release();
  }
}
