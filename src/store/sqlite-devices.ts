/** SqliteStore's devices part (ports.ts DeviceStore, PROTOCOL.md M20–M26): device names, certificate use, link codes, usage. */
import type { Database } from "bun:sqlite";
import type { DeviceRecord, DeviceStore, LinkOutcome, Millis } from "../server/ports.ts";
import { canonicalSerial } from "../encoding/serial.ts";
import type { Statements } from "./sqlite-statements.ts";

/** The deletion log's half of DeviceStore stays with the image rows it logs (sqlite-store.ts). */
export class SqliteDevices implements Omit<DeviceStore, "deleteImage" | "listDeletions" | "highestDeletion"> {
  constructor(
    private readonly db: Database,
    private readonly sql: Statements,
  ) {}

  async setDeviceName(serial: string, device: string): Promise<void> {
    const normal = canonicalSerial(serial);
    if (normal !== null) this.sql.setDeviceName.run({ serial: normal, device });
  }

  async touchCert(serial: string, at: Millis): Promise<void> {
    const normal = canonicalSerial(serial);
    if (normal !== null) this.sql.touchCert.run({ serial: normal, at });
  }

  async listDevices(userId: number): Promise<DeviceRecord[]> {
    return this.sql.listDevices.all({ userId }).map((r) => ({
      serial: r.serial, device: r.device, createdAt: r.created_at, notAfter: r.not_after, revokedAt: r.revoked_at, lastSeenAt: r.last_seen_at,
    }));
  }

  async createLinkCode(userId: number, hash: Uint8Array, createdAt: Millis, expiresAt: Millis): Promise<void> {
    this.db.transaction(() => {
      // Expired codes are of no use to anyone: dropped a day after expiry, while making new ones.
      this.sql.pruneLinkCodes.run({ before: createdAt - 86_400_000 });
      if (this.sql.createLinkCode.run({ hash, userId, createdAt, expiresAt }).changes === 0) {
        throw new Error(`cannot make a link code for unknown or deleted user id ${userId}`);
      }
    }).immediate();
  }

  async consumeLinkCode(hash: Uint8Array, now: Millis): Promise<LinkOutcome> {
    return this.db.transaction((): LinkOutcome => {
      const row = this.sql.findLinkCode.get({ hash });
      if (!row) return { refused: "unknown" };
      if (row.used_at !== null) return { refused: "used" };
      if (now >= row.expires_at) return { refused: "expired" };
      if (this.sql.useLinkCode.run({ hash, now }).changes === 0) return { refused: "used" };
      return { userId: row.user_id, username: row.username };
    }).immediate();
  }

  async usageOf(userId: number): Promise<{ bytes: number; images: number }> {
    return this.sql.usageOf.get({ userId }) ?? { bytes: 0, images: 0 };
  }
}
