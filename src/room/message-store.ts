/**
 * @module message-store
 * A room's history in its own SQLite database. Ids are assigned here, one
 * past the largest ever stored, so they stay strictly increasing across
 * evictions and restarts: trimming never deletes the newest row. The
 * storage's epoch (when it was created) tells readers when ids restarted
 * because retention deleted the room.
 */
import type { ChatMessage } from "../protocol";
import { tableExists } from "../sql-tables";

type Row = {
  id: number;
  user: string;
  message: string;
  ts: number;
  verified: number;
  client_id: string | null;
  member_id: string | null;
};

const SELECT = "SELECT id, user, message, ts, verified, client_id, member_id FROM messages";

function toMessage({ verified, client_id, member_id, ...fields }: Row): ChatMessage {
  const message: ChatMessage = fields;
  if (verified) message.verified = true;
  if (client_id !== null) message.clientId = client_id;
  if (member_id !== null) message.memberId = member_id;
  return message;
}

const ADDED_COLUMNS: [string, string][] = [
  ["verified", "INTEGER NOT NULL DEFAULT 0"],
  ["client_id", "TEXT"],
  ["member_id", "TEXT"],
  // Whose clientIds a message's is unique among (see clientScope).
  ["client_scope", "TEXT NOT NULL DEFAULT ''"],
];

/**
 * The sender a clientId is unique for: a verified member's id, a keyed
 * guest's id, or the whole room ("") for a guest without a key, whose id is
 * new on every connection, so a resend after a reconnect is still found.
 */
export function clientScope(sender: { id: string; verified: boolean; keyed?: boolean }): string {
  if (sender.verified) return `m:${sender.id}`;
  return sender.keyed ? `g:${sender.id}` : "";
}

export class MessageStore {
  #sql: SqlStorage;
  #limit: number;
  #lastId = 0;
  /** The stored epoch; before the first write, the one promised to members (see promiseEpoch). */
  #epoch = 0;
  /** False until the first message: reads answer as for an empty room, without a table. */
  #exists: boolean;
  #onCreate: () => void;

  /** `onCreate` runs when the first message creates the table (the room then has storage to expire). */
  constructor(sql: SqlStorage, historyLimit: number, onCreate: () => void = () => {}) {
    this.#sql = sql;
    this.#limit = historyLimit;
    this.#onCreate = onCreate;
    this.#exists = tableExists(sql, "messages");
    if (this.#exists) this.#ensureTable();
  }

  /** Creates or upgrades the table; a room that never had a message has none. */
  #ensureTable(): void {
    const sql = this.#sql;
    const created = !this.#exists;
    sql.exec(`CREATE TABLE IF NOT EXISTS messages (
      id INTEGER PRIMARY KEY,
      user TEXT NOT NULL,
      message TEXT NOT NULL,
      ts INTEGER NOT NULL
    )`);
    // Columns added after the first version: a room created before them gets
    // them on its next start. New columns go here, never into the CREATE above.
    const columns = new Set(
      sql
        .exec<{ name: string }>("PRAGMA table_info(messages)")
        .toArray()
        .map((c) => c.name),
    );
    for (const [name, definition] of ADDED_COLUMNS)
      if (!columns.has(name)) sql.exec(`ALTER TABLE messages ADD COLUMN ${name} ${definition}`);
    // Messages kept from before scopes: a verified author's are its own. A
    // guest's stay room-wide; a keyed guest's resend still finds them (byClientId).
    if (!columns.has("client_scope"))
      sql.exec(
        "UPDATE messages SET client_scope = 'm:' || member_id WHERE verified = 1 AND member_id IS NOT NULL AND client_id IS NOT NULL",
      );
    // A resent message (same sender, same clientId) is found, not stored
    // twice; two senders may use the same clientId. Replaces the room-wide
    // index of earlier versions.
    sql.exec("DROP INDEX IF EXISTS messages_client_id");
    sql.exec(
      "CREATE UNIQUE INDEX IF NOT EXISTS messages_client_scope ON messages (client_scope, client_id) WHERE client_id IS NOT NULL",
    );
    sql.exec("CREATE TABLE IF NOT EXISTS message_epoch (epoch INTEGER NOT NULL)");
    const [row] = sql.exec<{ epoch: number }>("SELECT epoch FROM message_epoch").toArray();
    this.#epoch = row?.epoch ?? (this.#epoch || Date.now());
    if (!row) sql.exec("INSERT INTO message_epoch (epoch) VALUES (?)", this.#epoch);
    this.#exists = true;
    this.reloadLastId();
    if (created) this.#onCreate();
  }

  /**
   * When this storage was created (ms): ids are only comparable within one
   * epoch. A room deleted by retention starts a new one, with ids from 1.
   */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * The epoch for a room without storage yet: the one its members were
   * welcomed with (kept in their sockets' attachments across a wake), or a
   * new one for the first member. The first write stores it, so ids its
   * members get belong to the epoch they were told. Returns it.
   */
  promiseEpoch(promised: number | undefined): number {
    if (!this.#exists && this.#epoch === 0) this.#epoch = promised || Date.now();
    return this.#epoch;
  }

  /** Whether ids read in `epoch` are this storage's (no epoch given: assumed so). */
  sameEpoch(epoch: number | null | undefined): boolean {
    return epoch == null || epoch === this.#epoch;
  }

  /** Re-reads the last id, after a transaction that appended was rolled back. */
  reloadLastId(): void {
    // A rollback can undo the table's creation too.
    this.#exists = tableExists(this.#sql, "messages");
    if (!this.#exists) return void (this.#lastId = 0);
    this.#lastId =
      this.#sql.exec<{ last: number | null }>("SELECT MAX(id) AS last FROM messages").one().last ??
      0;
  }

  /** Id of the newest message, 0 when the room has never had one. */
  get lastId(): number {
    return this.#lastId;
  }

  /**
   * Stores a message under the next id and drops what falls out of the
   * window. With a `clientId` its sender (`scope`, see clientScope) has
   * used for a kept message, stores nothing and returns that message with
   * `duplicate` set. `memberId` is the author's member id; none for
   * messages from the API.
   */
  append(
    user: string,
    message: string,
    ts: number,
    verified: boolean,
    clientId?: string,
    memberId?: string,
    scope = "",
  ): ChatMessage & { duplicate?: true } {
    if (!this.#exists) this.#ensureTable();
    const id = this.#lastId + 1;
    const inserted = this.#sql
      .exec(
        `INSERT INTO messages (id, user, message, ts, verified, client_id, member_id, client_scope)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (client_scope, client_id) WHERE client_id IS NOT NULL DO NOTHING RETURNING id`,
        id,
        user,
        message,
        ts,
        verified ? 1 : 0,
        clientId ?? null,
        memberId ?? null,
        scope,
      )
      .toArray();
    if (inserted.length === 0) {
      const [kept] = this.#sql
        .exec<Row>(`${SELECT} WHERE client_scope = ? AND client_id = ?`, scope, clientId ?? null)
        .toArray();
      return { ...toMessage(kept!), duplicate: true };
    }
    this.#lastId = id;
    // Ids are contiguous, so the window is an id range and the delete hits the index.
    if (id > this.#limit) this.#sql.exec("DELETE FROM messages WHERE id <= ?", id - this.#limit);
    const stored: ChatMessage = { id, user, message, ts };
    if (verified) stored.verified = true;
    if (clientId !== undefined) stored.clientId = clientId;
    if (memberId !== undefined) stored.memberId = memberId;
    return stored;
  }

  /** When the newest message was stored, or null for a room without messages. */
  lastMessageAt(): number | null {
    if (!this.#exists) return null;
    const [row] = this.#sql
      .exec<{ ts: number }>("SELECT ts FROM messages WHERE id = ?", this.#lastId)
      .toArray();
    return row?.ts ?? null;
  }

  /**
   * The kept message this sender (`scope`, see clientScope; `memberId` its
   * id) sent under `clientId`, if any. A keyed guest's messages from before
   * scopes were room-wide: they are found by the guest's member id.
   */
  byClientId(scope: string, clientId: string, memberId: string): ChatMessage | null {
    if (!this.#exists) return null;
    const [row] = this.#sql
      .exec<Row>(
        `${SELECT} WHERE client_id = ? AND (client_scope = ? OR (client_scope = '' AND member_id = ?)) LIMIT 1`,
        clientId,
        scope,
        memberId,
      )
      .toArray();
    return row ? toMessage(row) : null;
  }

  /** The newest `count` messages, oldest first. */
  latest(count: number): ChatMessage[] {
    if (count <= 0) return [];
    return this.after(this.#lastId - count, count);
  }

  /** Messages with an id above `since`, oldest first, at most `limit`. */
  after(since: number, limit: number): ChatMessage[] {
    if (!this.#exists) return [];
    return this.#sql
      .exec<Row>(`${SELECT} WHERE id > ? ORDER BY id LIMIT ?`, since, limit)
      .toArray()
      .map(toMessage);
  }

  /** Id of the oldest message still kept, or null for an empty room. */
  oldestId(): number | null {
    if (!this.#exists) return null;
    return this.#sql.exec<{ first: number | null }>("SELECT MIN(id) AS first FROM messages").one()
      .first;
  }
}
