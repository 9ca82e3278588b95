/**
 * @module ban-store
 * Bans by member id (a join token's `sub`) with an expiry, in the room's
 * SQLite. Only signed identities can be kept out: an anonymous guest can
 * always come back under a new id, which is why private rooms exist.
 */

export class BanStore {
  #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(
      "CREATE TABLE IF NOT EXISTS bans (member_id TEXT PRIMARY KEY, until INTEGER NOT NULL)",
    );
  }

  /** When the ban on `memberId` ends (ms since epoch), or null if there is none now. */
  bannedUntil(memberId: string, now: number): number | null {
    const rows = this.#sql
      .exec<{ until: number }>(
        "SELECT until FROM bans WHERE member_id = ? AND until > ?",
        memberId,
        now,
      )
      .toArray();
    return rows[0]?.until ?? null;
  }

  /** Forgets bans that have ended (the room's alarm calls this). */
  purgeExpired(now: number): void {
    this.#sql.exec("DELETE FROM bans WHERE until <= ?", now);
  }

  ban(memberId: string, until: number, now: number): void {
    this.#sql.exec("DELETE FROM bans WHERE until <= ?", now);
    this.#sql.exec("INSERT OR REPLACE INTO bans (member_id, until) VALUES (?, ?)", memberId, until);
  }
}
