/** The CA's current CRL, fetched over the authenticated connection and verified before use. */
import { verifyCrl } from "../pki/index.ts";
import type { Connection } from "./connection.ts";
import { TrustError } from "./errors.ts";

/** Refetch after this long, so a revocation reaches a long-running watch within a minute (ENVELOPE.md V8). */
export const CRL_MAX_AGE_MS = 60_000;

export class CrlSource {
  private cached: { der: Uint8Array; at: number } | null = null;

  /** `now` is the clock the copy's age is read from (a test moves it past CRL_MAX_AGE_MS). */
  constructor(
    private readonly caDer: Uint8Array,
    private readonly now: () => number = Date.now,
  ) {}

  async get(conn: Connection): Promise<Uint8Array> {
    if (this.cached && this.now() - this.cached.at < CRL_MAX_AGE_MS) return this.cached.der;
    const reply = await conn.expect({ type: "GET_CRL" }, "CRL");
    const parts: Uint8Array[] = [];
    for await (const chunk of conn.receiveData(reply.dataSize)) parts.push(chunk);
    const der = new Uint8Array(Buffer.concat(parts));
    try {
      await verifyCrl(der, this.caDer);
    } catch (error) {
      throw new TrustError("crl", `the server's CRL does not verify against the pinned CA: ${(error as Error).message}`);
    }
    this.cached = { der, at: this.now() };
    return der;
  }

  invalidate(): void {
    this.cached = null;
  }
}
