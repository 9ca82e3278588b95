/**
 * @module ban-store
 * Bans with an expiry, in the room's SQLite, by kind and id: a verified
 * member by its join token's `sub`, a guest by the id its `?guest=` key
 * gives in this room. The kinds never stand for each other, so a guest whose
 * id happens to equal a member's `sub` is neither banned nor spared with it.
 * The table is created by the first ban: a room nobody was banned from has none.
 */
import { tableExists } from "../sql-tables";

export type MemberKind = "verified" | "guest";

export interface Ban {
  kind: MemberKind;
  memberId: string;
  until: number;
}

const TABLE = "member_bans";

export class BanStore {
  #sql: SqlStorage;
  #exists: boolean;
  #onCreate: () => void;

  /** `onCreate` runs when the first ban creates the table (the room then has storage to expire). */
  constructor(sql: SqlStorage, onCreate: () => void = () => {}) {
    this.#sql = sql;
    this.#onCreate = onCreate;
    this.#exists = tableExists(sql, TABLE);
    // Rooms from before bans had kinds kept verified members' bans in "bans".
    if (tableExists(sql, "bans")) {
      this.#ensureTable();
      sql.exec(
        `INSERT OR IGNORE INTO ${TABLE} (kind, member_id, until) SELECT 'verified', member_id, until FROM bans`,
      );
      sql.exec("DROP TABLE bans");
    }
  }

  /** When the ban on `memberId` of `kind` ends (ms since epoch), or null if there is none now. */
  bannedUntil(kind: MemberKind, memberId: string, now: number): number | null {
    if (!this.#exists) return null;
    const rows = this.#sql
      .exec<{ until: number }>(
        `SELECT until FROM ${TABLE} WHERE kind = ? AND member_id = ? AND until > ?`,
        kind,
        memberId,
        now,
      )
      .toArray();
    return rows[0]?.until ?? null;
  }

  /** Bans still in force at `now`: what the room keeps when retention deletes the rest. */
  inForce(now: number): Ban[] {
    if (!this.#exists) return [];
    return this.#sql
      .exec<{ kind: MemberKind; member_id: string; until: number }>(
        `SELECT kind, member_id, until FROM ${TABLE} WHERE until > ?`,
        now,
      )
      .toArray()
      .map((r) => ({ kind: r.kind, memberId: r.member_id, until: r.until }));
  }

  /** Forgets bans that have ended (the room's alarm calls this). */
  purgeExpired(now: number): void {
    if (this.#exists) this.#sql.exec(`DELETE FROM ${TABLE} WHERE until <= ?`, now);
  }

  /** Keeps `memberId` of `kind` out until `until`. */
  ban(kind: MemberKind, memberId: string, until: number, now: number): void {
    this.#ensureTable();
    this.#sql.exec(`DELETE FROM ${TABLE} WHERE until <= ?`, now);
    this.#sql.exec(
      `INSERT OR REPLACE INTO ${TABLE} (kind, member_id, until) VALUES (?, ?, ?)`,
      kind,
      memberId,
      until,
    );
  }

  #ensureTable(): void {
    if (this.#exists) return;
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      kind TEXT NOT NULL,
      member_id TEXT NOT NULL,
      until INTEGER NOT NULL,
      PRIMARY KEY (kind, member_id)
    )`);
    this.#exists = true;
    this.#onCreate();
  }
}
