/** SqliteStore's membership part (ports.ts MembershipStore, PROTOCOL.md M3–M14): invitations, disabled accounts, last seen, passwords, account deletion. */
import type { Database } from "bun:sqlite";
import {
  type InvitationRecord, type InvitationRefusal, type MembershipStore, type Millis, type NewInvitation, type UserRecord, type UserSummary,
} from "../server/ports.ts";
import { conflictOr } from "./conflict.ts";
import { toInvitation, toUser } from "./rows.ts";
import { logDeletionsOf, type Statements } from "./sqlite-statements.ts";

export class SqliteMembership implements MembershipStore {
  constructor(
    private readonly db: Database,
    private readonly sql: Statements,
  ) {}

  async createInvitation(invitation: NewInvitation): Promise<InvitationRecord> {
    try {
      const row = this.sql.createInvitation.get({
        id: invitation.id, hash: invitation.secretHash, username: invitation.username, now: Date.now(), expires: invitation.expiresAt,
      });
      return toInvitation(row!);
    } catch (err) {
      throw conflictOr(err, `invitation ${invitation.id} already exists`);
    }
  }

  async listPendingInvitations(now: Millis): Promise<InvitationRecord[]> {
    return this.sql.pendingInvitations.all({ now }).map(toInvitation);
  }

  async revokeInvitation(id: string, at: Millis): Promise<boolean> {
    return this.sql.revokeInvitation.run({ id, at }).changes > 0;
  }

  /** The check, the new user and the mark "used" commit together or not at all (M5). */
  async redeemInvitation(secretHash: Uint8Array, username: string | null, passwordHash: string, now: Millis): Promise<{ user: UserRecord } | { refused: InvitationRefusal }> {
    return this.db.transaction((): { user: UserRecord } | { refused: InvitationRefusal } => {
      const row = this.sql.findInvitationByHash.get({ hash: secretHash });
      if (!row || row.revoked_at !== null) return { refused: "INVITE_UNKNOWN" };
      if (row.used_at !== null) return { refused: "INVITE_USED" };
      if (row.expires_at <= now) return { refused: "INVITE_EXPIRED" };
      // No name asked for: the one the invitation was made for (M4).
      const name = username ?? row.username;
      if (name === null) return { refused: "NO_USERNAME" };
      if (row.username !== null && row.username !== name) return { refused: "INVITE_WRONG_USER" };
      let user: UserRecord;
      try {
        user = toUser(this.sql.createUser.get({ username: name, hash: passwordHash, now })!);
      } catch (err) {
        throw conflictOr(err, `username ${JSON.stringify(name)} is taken`);
      }
      if (this.sql.useInvitation.run({ id: row.id, at: now, userId: user.id }).changes !== 1) throw new Error(`invitation ${row.id} was used concurrently`);
      return { user };
    }).immediate();
  }

  async setUserDisabled(username: string, disabled: boolean, at: Millis): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.sql.setDisabled.run({ username, at: disabled ? at : null }).changes === 0) return false;
      // Open sessions are checked when the version moves (ST3, M10).
      this.sql.bumpRevocationVersion.run();
      return true;
    }).immediate();
  }

  /** A read first: the write (and its lock) happens at most once per `coarseMs`, not at every HELLO (M12). */
  async touchUser(userId: number, at: Millis, coarseMs: number): Promise<void> {
    const seen = this.sql.lastSeen.get({ id: userId });
    if (!seen || (seen.last_seen_at !== null && seen.last_seen_at >= at - coarseMs)) return;
    this.sql.touchUser.run({ id: userId, at, coarse: coarseMs });
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<boolean> {
    return this.sql.setPasswordHash.run({ id: userId, hash: passwordHash }).changes > 0;
  }

  async userSummaries(now: Millis): Promise<UserSummary[]> {
    return this.sql.userSummaries.all({ now }).map((r) => ({
      username: r.username, createdAt: r.created_at, disabledAt: r.disabled_at, lastSeenAt: r.last_seen_at,
      validCerts: r.valid_certs, certs: r.certs, images: r.images, bytes: r.bytes,
    }));
  }

  async deleteAccount(username: string, withImages: boolean, at: Millis): Promise<string[] | null> {
    return this.db.transaction(() => {
      const user = this.sql.findUser.get({ username });
      if (!user) return null;
      this.sql.tombstoneUser.run({ id: user.id, now: at });
      if (this.sql.revokeUserCerts.run({ id: user.id, at }).changes > 0) this.sql.bumpRevocationVersion.run();
      if (!withImages) return [];
      const ids = this.sql.imageIdsOf.all({ id: user.id }).map((r) => r.id);
      logDeletionsOf(this.sql, user.id, at);
      this.sql.deleteImagesOf.run({ id: user.id });
      return ids;
    }).immediate();
  }

  async getServerInfo(key: string): Promise<string | null> {
    return this.sql.getServerInfo.get({ key })?.value ?? null;
  }

  async setServerInfo(key: string, value: string): Promise<void> {
    this.sql.setServerInfo.run({ key, value });
  }
}
