/**
 * The stored CRL on SQLite (ports.ts ST9): one row. The lock is this process's, one per database
 * file (every handle on it here takes turns); a SQLite file has one node, and a replacement by
 * another process is still refused unless its number is above the stored one.
 */
import type { Database } from "bun:sqlite";
import type { StoredCrl } from "../server/ports.ts";
import { CrlNotGrowingError } from "./crl-error.ts";

interface Row { number: number; revocation_version: number; signed_at: number; der: Uint8Array }

/** The tail of each database file's queue of replacements, by file name. */
const CHAINS = new Map<string, Promise<unknown>>();

export class SqliteCrl {
  readonly #file: string;
  readonly #get;
  readonly #put;

  constructor(db: Database) {
    this.#file = db.filename;
    this.#get = db.prepare<Row, []>("SELECT number, revocation_version, signed_at, der FROM crl WHERE id = 1");
    // The WHERE keeps the number growing even against another process on the same file (a test, an old node).
    this.#put = db.prepare<never, { number: number; version: number; at: number; der: Uint8Array }>(
      "INSERT INTO crl (id, number, revocation_version, signed_at, der) VALUES (1, $number, $version, $at, $der) " +
        "ON CONFLICT (id) DO UPDATE SET number = excluded.number, revocation_version = excluded.revocation_version, " +
        "signed_at = excluded.signed_at, der = excluded.der WHERE excluded.number > crl.number",
    );
  }

  async stored(): Promise<StoredCrl | null> {
    const row = this.#get.get();
    return row ? { number: row.number, revocationVersion: row.revocation_version, signedAt: row.signed_at, der: new Uint8Array(row.der) } : null;
  }

  /** One replacement at a time per file in this process; a failed one does not stop the next. */
  replace(sign: (stored: StoredCrl | null) => Promise<StoredCrl | null>): Promise<StoredCrl> {
    const run = (CHAINS.get(this.#file) ?? Promise.resolve()).then(() => this.#replace(sign));
    const tail = run.catch(() => {});
    CHAINS.set(this.#file, tail);
    // The map holds only files with a replacement under way.
    void tail.then(() => {
      if (CHAINS.get(this.#file) === tail) CHAINS.delete(this.#file);
    });
    return run;
  }

  async #replace(sign: (stored: StoredCrl | null) => Promise<StoredCrl | null>): Promise<StoredCrl> {
    const stored = await this.stored();
    const next = await sign(stored);
    if (next === null) {
      if (stored === null) throw new Error("no CRL is stored and none was signed");
      return stored;
    }
    const changes = this.#put.run({ number: next.number, version: next.revocationVersion, at: next.signedAt, der: next.der }).changes;
    if (changes !== 1) throw new CrlNotGrowingError(`CRL number ${next.number} is not above the stored one; the number never goes down`);
    return { ...next, der: new Uint8Array(next.der) };
  }
}
